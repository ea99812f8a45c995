//! `imgbuild login` and `imgbuild logout`: the docker config written (0600, other keys kept)
//! and cleaned, usage errors, and no password in any output (#11).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

use crate::util::imgbuild_cmd;

const SECRET: &str = "s3cr3t-Pa55";

/// The binary with HOME and DOCKER_CONFIG in `dir`.
fn cmd(dir: &Path) -> Command {
    let mut c = imgbuild_cmd(dir);
    c.env("HOME", dir.join("home"))
        .env("DOCKER_CONFIG", dir.join("docker"));
    c
}

fn config(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(dir.join("docker/config.json")).unwrap()).unwrap()
}

/// Neither stream holds the secret, or its base64 form.
fn no_secret(out: &std::process::Output) {
    for stream in [&out.stdout, &out.stderr] {
        let text = String::from_utf8_lossy(stream);
        assert!(!text.contains(SECRET), "{text}");
        assert!(!text.contains("czNjcjN0"), "{text}");
    }
}

#[test]
fn login_password_stdin_writes_the_docker_config_0600() {
    let d = tempfile::tempdir().unwrap();
    let out = cmd(d.path())
        .args(["login", "localhost:5000", "-u", "alice", "--password-stdin"])
        .write_stdin(format!("{SECRET}\n"))
        .assert()
        .success()
        .stdout("")
        .stderr(predicate::str::contains(
            "Stored credentials for localhost:5000 in ",
        ))
        .get_output()
        .clone();
    no_secret(&out);
    let file = d.path().join("docker/config.json");
    assert_eq!(
        fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        fs::metadata(d.path().join("docker"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    let auth = config(d.path())["auths"]["localhost:5000"]["auth"].clone();
    let decoded = imgbuild::digest::decode_base64(auth.as_str().unwrap()).unwrap();
    assert_eq!(decoded, format!("alice:{SECRET}").as_bytes());
}

#[test]
fn login_keeps_other_keys_then_logout_removes_the_entry() {
    let d = tempfile::tempdir().unwrap();
    fs::create_dir(d.path().join("docker")).unwrap();
    fs::write(
        d.path().join("docker/config.json"),
        r#"{"auths":{"quay.io":{"auth":"cTp3"}},"detachKeys":"ctrl-e"}"#,
    )
    .unwrap();
    cmd(d.path())
        .args([
            "login",
            "https://ghcr.io/v2/",
            "-u",
            "bob",
            "--password-stdin",
        ])
        .write_stdin(SECRET)
        .assert()
        .success();
    let doc = config(d.path());
    assert!(doc["auths"]["ghcr.io"]["auth"].is_string(), "{doc}");
    assert_eq!(doc["auths"]["quay.io"]["auth"], "cTp3");
    assert_eq!(doc["detachKeys"], "ctrl-e");

    let out = cmd(d.path())
        .args(["logout", "ghcr.io"])
        .assert()
        .success()
        .stdout("")
        .stderr(predicate::str::contains("Removed credentials for ghcr.io"))
        .get_output()
        .clone();
    no_secret(&out);
    let doc = config(d.path());
    assert_eq!(
        doc,
        serde_json::json!({"auths":{"quay.io":{"auth":"cTp3"}},"detachKeys":"ctrl-e"})
    );
    cmd(d.path())
        .args(["logout", "ghcr.io"])
        .assert()
        .success()
        .stderr(predicate::str::contains("no credentials were stored"));
}

#[test]
fn authfile_is_written_instead_of_the_docker_config() {
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("auth.json");
    cmd(d.path())
        .args([
            "login",
            "quay.io",
            "-u",
            "q",
            "--password-stdin",
            "--authfile",
        ])
        .arg(&file)
        .write_stdin(SECRET)
        .assert()
        .success();
    assert!(file.is_file());
    assert!(!d.path().join("docker").exists());
    cmd(d.path())
        .args(["logout", "quay.io", "--authfile"])
        .arg(&file)
        .assert()
        .success();
    let doc: serde_json::Value = serde_json::from_slice(&fs::read(&file).unwrap()).unwrap();
    assert_eq!(doc, serde_json::json!({"auths":{}}));
}

#[test]
fn password_flag_warns_and_never_echoes() {
    let d = tempfile::tempdir().unwrap();
    let out = cmd(d.path())
        .args(["login", "example.com", "-u", "u", "-p", SECRET])
        .assert()
        .success()
        .stderr(predicate::str::contains("--password-stdin"))
        .get_output()
        .clone();
    no_secret(&out);
}

#[test]
fn wrong_usage_exits_2_without_the_password() {
    let d = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str, &str); 6] = [
        // No terminal to ask on.
        (&["login", "example.com", "-u", "u"], "", "--password-stdin"),
        (&["login", "example.com"], "", "--username"),
        (
            &["login", "example.com", "--password-stdin"],
            SECRET,
            "--username",
        ),
        (
            &["login", "example.com", "-u", "u", "--password-stdin"],
            "\n",
            "empty",
        ),
        (
            &[
                "login",
                "example.com",
                "-u",
                "u",
                "-p",
                SECRET,
                "--password-stdin",
            ],
            "",
            "cannot be used",
        ),
        (
            &["login", "a b", "-u", "u", "--password-stdin"],
            SECRET,
            "not a registry host",
        ),
    ];
    for (args, stdin, want) in cases {
        let out = cmd(d.path())
            .args(args)
            .write_stdin(stdin)
            .assert()
            .failure()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains(want))
            .get_output()
            .clone();
        no_secret(&out);
    }
    assert!(!d.path().join("docker").exists());
    cmd(d.path()).args(["logout"]).assert().failure().code(2);
}

#[test]
fn a_broken_config_is_an_error_naming_it() {
    let d = tempfile::tempdir().unwrap();
    fs::create_dir(d.path().join("docker")).unwrap();
    fs::write(d.path().join("docker/config.json"), "{not json").unwrap();
    let out = cmd(d.path())
        .args(["login", "example.com", "-u", "u", "--password-stdin"])
        .write_stdin(SECRET)
        .assert()
        .failure()
        .code(1)
        .stderr(
            predicate::str::contains("config.json").and(predicate::str::contains("not valid JSON")),
        )
        .get_output()
        .clone();
    no_secret(&out);
    assert_eq!(
        fs::read_to_string(d.path().join("docker/config.json")).unwrap(),
        "{not json"
    );
}
