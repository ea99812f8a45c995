//! Bad input: each error names the value and what to do, exits with the documented code,
//! and leaves no output and no temporary files behind.

use std::time::Duration;

use predicates::prelude::*;

use crate::util::{TestContext, list_dir};

fn assert_no_output(t: &TestContext) {
    assert_eq!(
        list_dir(&t.root().join("out")),
        Vec::<String>::new(),
        "out/ must stay empty"
    );
}

#[test]
fn missing_context_is_a_usage_error() {
    let t = TestContext::new();
    t.cmd()
        .args(["build", "nope", "-o", "out/x.tar"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "build context 'nope' does not exist",
        ));
    assert_no_output(&t);
}

#[test]
fn context_that_is_a_file_is_a_usage_error() {
    let t = TestContext::new();
    t.file("f", "x");
    t.cmd()
        .args(["build", "ctx/f", "-o", "out/x.tar"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("'ctx/f' is not a directory"));
}

#[test]
fn flag_values_are_checked_and_named() {
    let t = TestContext::new();
    t.file("a", "x");
    let cases: &[(&[&str], &str)] = &[
        (
            &["--env", "NOEQUALS"],
            "invalid --env 'NOEQUALS': expected KEY=VALUE",
        ),
        (&["--label", "=v"], "invalid --label '=v'"),
        (
            &["--platform", "linux/sparc"],
            "invalid --platform 'linux/sparc'",
        ),
        (&["--platform", "plan9"], "invalid --platform 'plan9'"),
        (&["--chown", "root:root"], "invalid --chown 'root:root'"),
        (&["--expose", "http"], "invalid --expose 'http'"),
        (&["--workdir", "rel/dir"], "invalid --workdir 'rel/dir'"),
        (&["--prefix", "/a/../b"], "invalid --prefix '/a/../b'"),
        (&["--cmd", "[\"a\", 1]"], "invalid --cmd"),
        (&["--compression-level", "0"], "invalid --compression-level"),
        (
            &["--compression", "zstd", "--compression-level", "22"],
            "zstd levels run from 1 to 19",
        ),
        (
            &["--source-date-epoch", "yesterday"],
            "invalid --source-date-epoch 'yesterday'",
        ),
        (&["-t", "has space"], "invalid --tag 'has space'"),
    ];
    for (args, needle) in cases {
        t.build("x.tar", args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(*needle));
    }
    assert_no_output(&t);
}

#[test]
fn bad_source_date_epoch_env_is_named() {
    let t = TestContext::new();
    t.file("a", "x");
    t.build("x.tar", &[])
        .env("SOURCE_DATE_EPOCH", "soon")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid SOURCE_DATE_EPOCH 'soon'"));
}

#[test]
fn output_in_missing_directory_is_refused_before_work() {
    let t = TestContext::new();
    t.file("a", "x");
    t.cmd()
        .args(["build", "ctx", "-o", "missing/dir/x.tar"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "output directory 'missing/dir' does not exist",
        ))
        .stderr(predicate::str::contains("hint:"));
}

#[test]
fn output_directory_inside_context_is_refused() {
    let t = TestContext::new();
    t.file("a", "x");
    {
        let (args, what) = (
            vec!["--format", "oci-dir", "-o", "ctx/layout"],
            "ctx/layout",
        );
        t.cmd()
            .arg("build")
            .arg("ctx")
            .args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(format!(
                "output directory '{what}' is inside the build context"
            )));
    }
    assert_eq!(list_dir(&t.ctx()), vec!["a"]);
}

#[test]
fn output_that_is_a_directory_needs_oci_dir() {
    let t = TestContext::new();
    t.file("a", "x");
    std::fs::create_dir(t.out("d")).unwrap();
    t.build("d", &[])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is a directory"))
        .stderr(predicate::str::contains("--format oci-dir"));
}

#[test]
fn oci_dir_refuses_a_directory_that_is_not_a_layout() {
    let t = TestContext::new();
    t.file("a", "x");
    std::fs::create_dir(t.out("d")).unwrap();
    std::fs::write(t.out("d").join("precious"), "keep").unwrap();
    t.build("d", &["--format", "oci-dir"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not an OCI image layout"));
    assert_eq!(list_dir(&t.out("d")), vec!["precious"]);
}

#[test]
fn fifo_is_refused_with_exit_3_and_never_opened() {
    let t = TestContext::new();
    t.file("a", "x").dir("sub").fifo("sub/pipe");
    // A fifo that is opened for reading blocks forever: the timeout proves it is not.
    t.build("x.tar", &[])
        .timeout(Duration::from_secs(10))
        .assert()
        .code(3)
        .stderr(predicate::str::contains("'sub/pipe' is a fifo"))
        .stderr(predicate::str::contains(".dockerignore"));
    assert_no_output(&t);
}

#[test]
fn excluded_fifo_is_fine() {
    let t = TestContext::new();
    t.file("a", "x")
        .file(".dockerignore", "pipe\n")
        .fifo("pipe");
    t.build("x.tar", &[])
        .timeout(Duration::from_secs(10))
        .assert()
        .success();
}

#[test]
fn socket_is_skipped_with_a_warning() {
    let t = TestContext::new();
    t.file("a", "x");
    let _listener = std::os::unix::net::UnixListener::bind(t.ctx().join("app.sock")).unwrap();
    t.build("x.tar", &[])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "warning: skipped socket 'app.sock'",
        ));
    let img = crate::checker::check_image(&t.out("x.tar")).unwrap();
    let paths: Vec<String> = img.manifests[0].layers[0]
        .entries
        .iter()
        .map(|e| e.path.clone())
        .collect();
    assert_eq!(paths, vec!["a"]);
}

#[test]
fn file_growing_while_read_is_an_error_not_a_corrupt_layer() {
    let t = TestContext::new();
    t.file("big", vec![7u8; 8 << 20]);
    let path = t.ctx().join("big");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                f.write_all(b"more").unwrap();
            }
        })
    };
    let assert = t.build("x.tar", &[]).assert();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    assert.code(1).stderr(predicate::str::contains(
        "file changed while being read: 'big'",
    ));
    assert_no_output(&t);
}

#[test]
fn interrupt_removes_temporary_files_and_exits_130() {
    let t = TestContext::new();
    // Enough incompressible data that the build is still running when the signal arrives.
    let mut data = vec![0u8; 96 << 20];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for chunk in data.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    t.file("random", &data);
    drop(data);
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_imgbuild"))
        .current_dir(t.root())
        .args([
            "build",
            "ctx",
            "-o",
            "out/x.tar",
            "--compression-level",
            "9",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: sending a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert_no_output(&t);
    // The next run succeeds.
    t.build("x.tar", &["--compression", "none"])
        .assert()
        .success();
}

fn is_root() -> bool {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::getuid() == 0 }
}

#[test]
fn disk_full_is_exit_1_and_leaves_nothing() {
    if !is_root() || crate::interop::require_tool("unshare").is_none() {
        eprintln!("skipping: needs root and unshare to mount a tiny tmpfs");
        return;
    }
    let t = TestContext::new();
    let mut data = vec![0u8; 2 << 20];
    let mut x: u32 = 1;
    for b in data.iter_mut() {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        *b = (x >> 24) as u8;
    }
    t.file("random", &data);
    let full = t.root().join("full");
    std::fs::create_dir(&full).unwrap();
    let script = format!(
        "mount -t tmpfs -o size=256k tmpfs '{full}' && '{bin}' build ctx -o '{full}/img.tar'; rc=$?; ls -A '{full}'; exit $rc",
        full = full.display(),
        bin = env!("CARGO_BIN_EXE_imgbuild"),
    );
    let out = std::process::Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .current_dir(t.root())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(stderr.contains("hint: free some space"), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "",
        "nothing left on the full disk"
    );
}

#[test]
fn closed_pipe_on_stdout_image_is_a_quiet_failure() {
    let t = TestContext::new();
    t.file("f", vec![1u8; 4 << 20]);
    let script = format!(
        "'{}' build ctx -o - --compression none | head -c 100 >/dev/null; exit ${{PIPESTATUS[0]}}",
        env!("CARGO_BIN_EXE_imgbuild")
    );
    let out = std::process::Command::new("bash")
        .args(["-c", &script])
        .current_dir(t.root())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        !stderr.contains("error"),
        "no error chatter for a closed pipe: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn terminal_on_stdout_is_refused_without_output() {
    if crate::interop::require_tool("script").is_none() {
        return;
    }
    let t = TestContext::new();
    t.file("f", "x");
    for cmd in ["build ctx", "build ctx -o -"] {
        let out = std::process::Command::new("script")
            .args([
                "-qec",
                &format!("'{}' --color never {cmd}", env!("CARGO_BIN_EXE_imgbuild")),
                "/dev/null",
            ])
            .current_dir(t.root())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {text}");
        assert!(text.contains("terminal"), "{cmd}: {text}");
        assert!(text.contains("hint:"), "{cmd}: {text}");
    }
}

#[test]
fn unreadable_file_is_named_with_a_hint() {
    if !is_root() || crate::interop::require_tool("setpriv").is_none() {
        eprintln!("skipping: needs root and setpriv to run as an unprivileged user");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let t = TestContext::new();
    t.file("ok", "x")
        .file("secret/key", "k")
        .mode("secret/key", 0o000);
    for p in [t.root().to_path_buf(), t.ctx(), t.ctx().join("secret")] {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(t.root().join("out"), std::fs::Permissions::from_mode(0o777)).unwrap();
    let run = |extra: &[&str]| {
        let mut c = assert_cmd::Command::new("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            env!("CARGO_BIN_EXE_imgbuild"),
        ])
        .args(["build", "ctx", "-o", "out/x.tar"])
        .args(extra)
        .current_dir(t.root());
        c
    };
    run(&[])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot read 'secret/key'"))
        .stderr(predicate::str::contains("Permission denied"))
        .stderr(predicate::str::contains(".dockerignore"));
    assert_no_output(&t);
    // Excluded paths are never opened.
    std::fs::write(t.root().join("extra.ignore"), "secret\n").unwrap();
    run(&["--ignore-file", "extra.ignore"]).assert().success();
}

#[test]
fn ignore_files_that_are_fifos_are_never_read() {
    let t = TestContext::new();
    t.file("a", "x").fifo(".dockerignore");
    t.build("x.tar", &[])
        .timeout(Duration::from_secs(10))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("reading .dockerignore"))
        .stderr(predicate::str::contains("not a regular file"));
    let t = TestContext::new();
    t.file("a", "x").dir("sub").fifo("sub/.gitignore");
    t.build("x.tar", &[])
        .timeout(Duration::from_secs(10))
        .assert()
        .code(3)
        .stderr(predicate::str::contains("'sub/.gitignore' is a fifo"));
}
