//! What a person sees: the progress bar on a terminal (through `script`, a real pty), plain
//! progress lines for logs, colors and NO_COLOR, and stdout carrying nothing but data.

use predicates::prelude::*;

use crate::interop::require_tool;
use crate::util::{DIGEST_LINE, TestContext};

/// Run `cmd` under `script` so stdout/stderr are a terminal; returns the transcript.
pub(crate) fn on_a_terminal(t: &TestContext, cmd: &str, env: &[(&str, &str)]) -> Option<String> {
    require_tool("script")?;
    let mut c = std::process::Command::new("script");
    c.args(["-qec", cmd, "/dev/null"]).current_dir(t.root());
    c.env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("FORCE_COLOR");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub(crate) fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_imgbuild")
}

#[test]
fn bar_is_drawn_on_a_terminal_and_stdout_keeps_only_the_digest() {
    let t = TestContext::new();
    for i in 0..8 {
        t.file(format!("big{i}"), vec![i as u8; 4 << 20]);
    }
    let cmd = format!(
        "'{}' build ctx -o out/img.tar --compression-level 9 > out/digest.txt",
        bin()
    );
    let Some(screen) = on_a_terminal(&t, &cmd, &[]) else {
        return;
    };
    assert!(
        screen.contains("Layer"),
        "no progress bar drawn: {screen:?}"
    );
    assert!(screen.contains("MiB"), "the bar shows bytes: {screen:?}");
    assert!(
        screen.contains("Building") && screen.contains("Wrote"),
        "{screen:?}"
    );
    assert!(
        screen.contains("\u{1b}["),
        "colors on a terminal: {screen:?}"
    );
    let digest = std::fs::read_to_string(t.out("digest.txt")).unwrap();
    assert!(
        predicate::str::is_match(DIGEST_LINE).unwrap().eval(&digest),
        "{digest:?}"
    );
}

#[test]
fn no_color_and_never_keep_the_terminal_plain() {
    let t = TestContext::new();
    t.file("f", "x");
    let cmd = format!("'{}' build ctx -o out/img.tar --progress never", bin());
    let Some(screen) = on_a_terminal(&t, &cmd, &[("NO_COLOR", "1")]) else {
        return;
    };
    assert!(screen.contains("Building"), "{screen:?}");
    assert!(
        !screen.contains("\u{1b}["),
        "NO_COLOR: no escape sequences: {screen:?}"
    );
    let cmd = format!("'{}' build ctx -o out/img.tar --color never", bin());
    let screen = on_a_terminal(&t, &cmd, &[]).unwrap();
    assert!(!screen.contains("\u{1b}[1;"), "--color never: {screen:?}");
}

#[test]
fn plain_progress_prints_one_line_per_stage() {
    let t = TestContext::new();
    t.file("a", "12345").file("d/b", "678");
    t.build("img.tar", &["--progress", "plain"])
        .assert()
        .success()
        .stdout(predicate::str::is_match(DIGEST_LINE).unwrap())
        .stderr(predicate::str::contains("     Walking context\n"))
        .stderr(predicate::str::contains(
            "       Layer file content (8 B)\n",
        ))
        .stderr(predicate::str::contains(
            "       Layer file content: 2 files, 8 B in ",
        ))
        .stderr(predicate::str::contains("     Writing image: done in "))
        // One style: the status lines' (#12), no `imgbuild:` lines among them.
        .stderr(predicate::str::contains("imgbuild:").not());
    t.build("img.tar", &["--progress", "plain", "-q"])
        .assert()
        .success()
        .stderr("");
}

#[test]
fn colors_follow_the_flag_and_the_environment() {
    let t = TestContext::new();
    let red = "\u{1b}[1;31merror";
    t.cmd()
        .args(["build", "missing", "-o", "out/x.tar", "--color", "always"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(red));
    t.cmd()
        .args(["build", "missing", "-o", "out/x.tar"])
        .env("CLICOLOR_FORCE", "1")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(red));
    t.cmd()
        .args(["build", "missing", "-o", "out/x.tar"])
        .env("CLICOLOR_FORCE", "1")
        .env("NO_COLOR", "1")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "error: build context 'missing' does not exist",
        ));
}

#[test]
fn verbose_prints_stage_timings() {
    let t = TestContext::new();
    t.file("f", "x");
    t.build("img.tar", &["-v"]).assert().success().stderr(
        predicate::str::is_match(r"timings: walk \d+ ms, layer \d+ ms, image \d+ ms, total \d+ ms")
            .unwrap(),
    );
}

#[test]
fn export_reports_its_stages_too() {
    let t = TestContext::new();
    t.file("a", "12345").file("d/b", "678");
    t.build("img.tar", &["-q"]).assert().success();
    t.cmd()
        .args([
            "export",
            "out/img.tar",
            "--format",
            "rootfs-tar",
            "-o",
            "out/rootfs.tar",
            "--progress",
            "plain",
        ])
        .assert()
        .success()
        .stderr(predicate::str::contains("     Reading layers ("))
        .stderr(predicate::str::contains(
            "  Extracting root filesystem: 2 files, ",
        ));
    t.cmd()
        .args([
            "export",
            "out/img.tar",
            "--format",
            "oci-dir",
            "-o",
            "out/layout",
            "--progress",
            "plain",
        ])
        .assert()
        .success()
        .stderr(predicate::str::contains("     Copying blobs: "));
}
