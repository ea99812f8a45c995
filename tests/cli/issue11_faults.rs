//! Registries when things go wrong, and the image that runs: a proxy that answers 503 once
//! per blob and resets one connection, one that refuses large requests (413), a Gitea-like
//! one that allows a single request per upload; Ctrl-C in the middle of a push; a pushed
//! image pulled and run by podman.
// See: issue #11

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use crate::interop::{Podman, require_tool};
use crate::registry::{
    Fault, FaultProxy, Kind, Registry, UploadKey, get_manifest, require_registry, skopeo_inspect,
};
use crate::util::{TestContext, imgbuild_cmd};

/// Bytes that do not compress (xorshift64), so the layer is as large as the file.
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn push_cmd(t: &TestContext, target: &str) -> assert_cmd::Command {
    let mut c = imgbuild_cmd(t.root());
    c.env("SOURCE_DATE_EPOCH", "1700000000")
        .args(["build", "ctx", "-t", target, "--push", "--cache-dir"])
        .arg(t.root().join("cache"));
    c
}

fn digest_of(c: &mut assert_cmd::Command) -> String {
    let out = c.assert().success().get_output().stdout.clone();
    String::from_utf8(out).unwrap().trim().to_owned()
}

/// Push a 5 MiB layer through `faults` in front of a fresh registry; the image must arrive
/// whole. Returns what the proxy did.
fn push_through(faults: &[Fault]) -> Option<crate::registry::FaultCounts> {
    if !require_registry() {
        return None;
    }
    let reg = Registry::start(Kind::Plain);
    let proxy = FaultProxy::start(&reg.host(), faults);
    let t = TestContext::new();
    t.file("blob.bin", noise(5 << 20, 7));
    let via = format!("{}/faults/app:1", proxy.host());
    let digest = digest_of(push_cmd(&t, &via).args(["--compression", "none"]));
    let direct = format!("{}/faults/app:1", reg.host());
    assert_eq!(
        skopeo_inspect(&direct, false, None)["Digest"],
        digest.as_str()
    );
    Some(proxy.counts())
}

#[test]
fn issue_11_a_503_per_blob_and_a_reset_connection_are_retried() {
    let faults = [
        Fault::Unavailable503(UploadKey::Digest),
        Fault::ResetOnce { over: 1 << 20 },
    ];
    let Some(counts) = push_through(&faults) else {
        return;
    };
    assert!(counts.unavailable >= 1, "{counts:?}");
    assert_eq!(counts.resets, 1, "{counts:?}");
}

#[test]
fn issue_11_a_413_switches_to_chunks() {
    let Some(counts) = push_through(&[Fault::TooLarge { over: 2 << 20 }]) else {
        return;
    };
    assert!(counts.too_large >= 1, "{counts:?}");
}

#[test]
fn issue_11_a_registry_that_allows_one_request_per_upload_gets_one() {
    let Some(counts) = push_through(&[Fault::Gitea]) else {
        return;
    };
    assert_eq!(counts.gitea_refused, 0, "{counts:?}");
}

#[test]
fn issue_11_ctrl_c_mid_push_leaves_no_tag_and_no_temporary_files() {
    if !require_registry() {
        return;
    }
    let reg = Registry::start(Kind::Plain);
    // Through the proxy, which reads each body whole before it forwards it: slow enough.
    let proxy = FaultProxy::start(&reg.host(), &[]);
    let t = TestContext::new();
    t.file("a.bin", noise(48 << 20, 1))
        .file("b.bin", noise(48 << 20, 2));
    let tmp = t.root().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let target = format!("{}/cancel/app:1", proxy.host());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_imgbuild"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .current_dir(t.root())
        .env("TMPDIR", &tmp)
        .args([
            "build",
            "ctx",
            "--compression",
            "none",
            "--progress",
            "plain",
            "-t",
            &target,
        ])
        .args(["--push", "--cache-dir"])
        .arg(t.root().join("cache"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("Pushing") {
                let _ = tx.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    rx.recv_timeout(Duration::from_secs(120))
        .expect("the push began");
    std::thread::sleep(Duration::from_millis(200));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    let stderr = reader.join().unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    let m = get_manifest(&reg.url(), "cancel/app", "1");
    assert_eq!(
        m.status,
        404,
        "a tag was pushed: {}",
        String::from_utf8_lossy(&m.body)
    );
    assert!(list(&tmp).is_empty(), "left behind: {:?}", list(&tmp));
}

fn list(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn issue_11_podman_pulls_and_runs_the_pushed_image() {
    let (Some(podman), Some(busybox)) = (Podman::new(), require_tool("busybox")) else {
        return;
    };
    if !require_registry() {
        return;
    }
    let reg = Registry::start(Kind::Plain);
    let t = TestContext::new();
    std::fs::create_dir_all(t.ctx().join("bin")).unwrap();
    std::fs::copy(&busybox, t.ctx().join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", t.ctx().join("bin/sh")).unwrap();
    t.mode("bin/busybox", 0o755)
        .file("hello.txt", "hello from the registry\n");
    let target = format!("{}/run/hello:1", reg.host());
    let cmd = r#"["/bin/sh","-c","cat /hello.txt"]"#;
    let digest = digest_of(push_cmd(&t, &target).args(["--cmd", cmd, "--platform", "linux/amd64"]));
    let pulled = podman.run(&["pull", "-q", "--tls-verify=false", &target]);
    assert!(!pulled.trim().is_empty());
    let listed = podman.run(&["images", "--digests", "--format", "{{.Digest}}"]);
    assert!(
        listed.contains(&digest),
        "podman has {listed}, we pushed {digest}"
    );
    assert_eq!(podman.run_container(&target), "hello from the registry\n");
}
