//! Registries, against Debian's reference registry started by the test (no mocks): build
//! --push (one platform and several), push of an archive, pulls for inspect, export and
//! --base, TLS with a self-signed CA:TRUE certificate, basic and token auth.
// See: issue #11

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

use crate::registry::{Kind, Registry, require_registry, skopeo_inspect};
use crate::util::TestContext;

const EPOCH: &str = "1700000000";

/// A context of two files, and the command for it with a cache of its own.
fn context() -> TestContext {
    let t = TestContext::new();
    t.file("hello.txt", "hello\n")
        .file("bin/app", "#!/bin/sh\necho hi\n");
    t
}

fn imgbuild(t: &TestContext, args: &[&str]) -> Command {
    let mut c = t.cmd();
    c.env("SOURCE_DATE_EPOCH", EPOCH)
        .arg(args[0])
        .arg("--cache-dir")
        .arg(t.root().join("cache"))
        .args(&args[1..]);
    c
}

fn stdout_of(mut c: impl std::borrow::BorrowMut<Command>) -> String {
    let out = c
        .borrow_mut()
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out).unwrap().trim().to_owned()
}

fn start(kind: Kind) -> Option<Registry> {
    require_registry().then(|| Registry::start(kind))
}

#[test]
fn issue_11_build_push_single_and_multi_platform_and_skopeo_agrees() {
    let Some(reg) = start(Kind::Plain) else {
        return;
    };
    let t = context();
    let app = format!("{}/team/app:1", reg.host());
    let digest = stdout_of(imgbuild(&t, &["build", "ctx", "-t", &app, "--push"]).arg("-q"));
    assert!(digest.starts_with("sha256:"), "{digest}");
    assert_eq!(skopeo_inspect(&app, false, None)["Digest"], digest.as_str());
    // The same build to a file gives the same digest: the push sent our bytes.
    assert_eq!(t.build_digest("app.tar", &[]), digest);

    let multi = format!("{}/team/multi:2", reg.host());
    let out = stdout_of(imgbuild(
        &t,
        &[
            "build",
            "ctx",
            "--platform",
            "linux/amd64,linux/arm64",
            "-t",
            &multi,
            "--push",
            "--json",
        ],
    ));
    let report: Value = serde_json::from_str(&out).unwrap();
    let index = report["digest"].as_str().unwrap();
    assert_eq!(
        report["media_type"],
        "application/vnd.oci.image.index.v1+json"
    );
    assert_eq!(report["pushed"][0]["reference"], multi.as_str());
    assert_eq!(report["pushed"][0]["digest"], index);
    let raw = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{multi}"))
        .output()
        .unwrap();
    assert_eq!(crate::registry::sha256_digest(&raw.stdout), index);
    // Every platform manifest went first, by digest.
    for m in report["manifests"].as_array().unwrap() {
        let d = m["digest"].as_str().unwrap();
        let by_digest = format!("{}/team/multi@{d}", reg.host());
        assert_eq!(skopeo_inspect(&by_digest, false, None)["Digest"], d);
    }
}

#[test]
fn issue_11_push_keeps_the_digest_and_skips_what_is_there() {
    let Some(reg) = start(Kind::Plain) else {
        return;
    };
    let t = context();
    let digest = t.build_digest("app.tar", &["-t", "app:1"]);
    let target = format!("{}/copy/app:7", reg.host());
    let run = imgbuild(&t, &["push", "out/app.tar", &target, "--progress", "plain"])
        .assert()
        .success();
    let out = run.get_output();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), digest);
    // A line per blob, and the total.
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(log.matches("Pushing blob sha256:").count(), 2, "{log}");
    assert!(
        log.contains("uploaded)") && log.contains("Pushing blobs:"),
        "{log}"
    );
    assert_eq!(
        skopeo_inspect(&target, false, None)["Digest"],
        digest.as_str()
    );
    let puts = reg.count_requests("PUT", "/blobs/uploads/");
    assert_eq!(puts, 2, "config and layer uploaded once each");
    // Again: every blob is checked with HEAD and none is uploaded.
    let json = stdout_of(imgbuild(&t, &["push", "out/app.tar", &target, "--json"]));
    let report: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["pushed"][0]["blobs_uploaded"], 0);
    assert_eq!(report["pushed"][0]["blobs_skipped"], 2);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(reg.count_requests("PUT", "/blobs/uploads/"), puts);
    assert!(reg.count_requests("HEAD", "/blobs/sha256:") >= 4);
}

#[test]
fn issue_11_inspect_export_and_base_pull_from_the_registry_then_build_offline() {
    let Some(mut reg) = start(Kind::Plain) else {
        return;
    };
    let t = context();
    let base = format!("{}/lib/base:1", reg.host());
    let base_digest = stdout_of(imgbuild(&t, &["build", "ctx", "-t", &base, "--push"]));
    // inspect and export read it straight from the registry, verified.
    imgbuild(&t, &["inspect", &format!("docker://{base}"), "--verify"])
        .assert()
        .success()
        .stdout(predicate::str::contains(&base_digest));
    let exported = stdout_of(imgbuild(&t, &["export", &base, "-o", "out/base.tar"]));
    assert_eq!(exported, base_digest);
    crate::checker::check_image(&t.out("base.tar")).unwrap();
    // A build on it, pinned by digest: the blobs come through the cache.
    std::fs::create_dir(t.root().join("ctx2")).unwrap();
    std::fs::write(t.root().join("ctx2/more.txt"), "more\n").unwrap();
    let pinned = format!("docker://{}/lib/base@{base_digest}", reg.host());
    let args = ["build", "ctx2", "--base", &pinned, "-o", "out/on.tar"];
    let first = stdout_of(&mut imgbuild(&t, &args));
    let img = crate::checker::check_image(&t.out("on.tar")).unwrap();
    assert_eq!(
        img.single().unwrap().manifest["layers"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    reg.stop();
    // The registry is gone: the pinned base still builds, the same image.
    assert_eq!(stdout_of(&mut imgbuild(&t, &args)), first);
    // A tag needs the registry: a clear error naming the host and the step.
    imgbuild(
        &t,
        &[
            "build",
            "ctx2",
            "--base",
            &format!("docker://{base}"),
            "-o",
            "out/x.tar",
        ],
    )
    .assert()
    .code(1)
    .stderr(predicate::str::contains(reg.host()).and(predicate::str::contains("resolve")));
    assert!(!t.out("x.tar").exists());
}

#[test]
fn issue_11_a_bare_reference_says_what_was_tried() {
    let Some(reg) = start(Kind::Plain) else {
        return;
    };
    let t = context();
    let app = format!("{}/bare/app:1", reg.host());
    let digest = stdout_of(imgbuild(&t, &["build", "ctx", "-t", &app, "--push"]));
    imgbuild(&t, &["inspect", &app])
        .assert()
        .success()
        .stdout(predicate::str::contains(&digest));
    let missing = format!("{}/bare/nothing:1", reg.host());
    imgbuild(&t, &["inspect", &missing])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("no file or directory here")
                .and(predicate::str::contains("registry reference")),
        );
}

#[test]
fn issue_11_tls_with_a_self_signed_ca_true_certificate() {
    let Some(reg) = start(Kind::Tls) else { return };
    let t = context();
    let ca = reg.ca_cert().unwrap().to_path_buf();
    let app = format!("{}/tls/app:1", reg.host());
    // Untrusted: exit 1, the host named, a hint to trust the CA.
    imgbuild(&t, &["build", "ctx", "-t", &app, "--push"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("TLS").and(predicate::str::contains("--ca-cert")));
    let digest =
        stdout_of(imgbuild(&t, &["build", "ctx", "-t", &app, "--push", "--ca-cert"]).arg(&ca));
    let pulled = stdout_of(
        imgbuild(
            &t,
            &[
                "export",
                &format!("docker://{app}"),
                "-o",
                "out/a.tar",
                "--ca-cert",
            ],
        )
        .arg(&ca),
    );
    assert_eq!(pulled, digest);
    // Trusted through SSL_CERT_FILE, as Go tools and OpenSSL read it.
    let again =
        stdout_of(imgbuild(&t, &["inspect", &app, "--raw", "manifest"]).env("SSL_CERT_FILE", &ca));
    assert_eq!(crate::registry::sha256_digest(again.as_bytes()), digest);
    // Without verification it works too, with a warning.
    imgbuild(&t, &["inspect", &app, "--tls-verify=false"])
        .assert()
        .success()
        .stderr(predicate::str::contains("not verified"));
    // skopeo, trusting the same certificate, sees our digest.
    assert_eq!(skopeo_inspect_with(&reg, &app)["Digest"], digest.as_str());
}

#[test]
fn issue_11_basic_auth_with_creds_and_a_wrong_password() {
    let Some(reg) = start(Kind::TlsBasic) else {
        return;
    };
    let t = context();
    let ca = reg.ca_cert().unwrap().to_path_buf();
    let (user, pass) = reg.creds().unwrap();
    let app = format!("{}/auth/app:1", reg.host());
    let wrong = format!("{user}:not-{pass}");
    let out = imgbuild(
        &t,
        &[
            "build",
            "ctx",
            "-t",
            &app,
            "--push",
            "--creds",
            &wrong,
            "--ca-cert",
        ],
    )
    .arg(&ca)
    .assert()
    .code(1)
    .stderr(predicate::str::contains("not authorized").and(predicate::str::contains("login")))
    .get_output()
    .clone();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !all.contains(&format!("not-{pass}")),
        "the password was printed: {all}"
    );
    // The password from the environment, the user from --creds.
    let digest = stdout_of(
        imgbuild(
            &t,
            &[
                "build",
                "ctx",
                "-t",
                &app,
                "--push",
                "--creds",
                user,
                "--ca-cert",
            ],
        )
        .arg(&ca)
        .env("IMGBUILD_REGISTRY_PASSWORD", pass),
    );
    let v = skopeo_inspect_with(&reg, &app);
    assert_eq!(v["Digest"], digest.as_str());
}

/// `skopeo inspect` of `app`, trusting the registry's certificate, with its credentials.
fn skopeo_inspect_with(reg: &Registry, app: &str) -> Value {
    let dir = reg.cert_dir().unwrap();
    let out = crate::registry::skopeo_inspect_output(app, true, reg.creds(), Some(&dir));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn issue_11_token_auth_asks_for_push_and_pull_scopes() {
    let Some(reg) = start(Kind::TokenBasic) else {
        return;
    };
    let t = context();
    let (user, pass) = reg.creds().unwrap();
    let app = format!("{}/tok/app:1", reg.host());
    let creds = format!("{user}:{pass}");
    let digest = stdout_of(&mut imgbuild(
        &t,
        &["build", "ctx", "-t", &app, "--push", "--creds", &creds],
    ));
    let scopes = reg.scopes();
    assert!(
        scopes
            .iter()
            .any(|s| s.contains("repository:tok/app") && s.contains("push")),
        "{scopes:?}"
    );
    let pulled = stdout_of(&mut imgbuild(
        &t,
        &["export", &app, "-o", "out/t.tar", "--creds", &creds],
    ));
    assert_eq!(pulled, digest);
    // Without credentials the token server refuses: a one-line error with a hint.
    imgbuild(&t, &["inspect", &app])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(reg.host()).and(predicate::str::contains("hint")));
}

#[test]
fn issue_11_credentials_come_from_the_docker_config() {
    let Some(reg) = start(Kind::TlsBasic) else {
        return;
    };
    let t = context();
    let ca = reg.ca_cert().unwrap().to_path_buf();
    let (user, pass) = reg.creds().unwrap();
    let config = t.root().join("docker");
    // `imgbuild login` writes it as docker does; the push then needs no --creds.
    let mut login = t.cmd();
    login
        .env("DOCKER_CONFIG", &config)
        .args(["login", &reg.host(), "-u", user, "--password-stdin"])
        .write_stdin(format!("{pass}\n"))
        .assert()
        .success();
    let app = format!("{}/conf/app:1", reg.host());
    let digest = stdout_of(
        imgbuild(&t, &["build", "ctx", "-t", &app, "--push", "--ca-cert"])
            .arg(&ca)
            .env("DOCKER_CONFIG", &config),
    );
    assert_eq!(skopeo_inspect_with(&reg, &app)["Digest"], digest.as_str());
    // Without it, the registry says who is missing.
    imgbuild(&t, &["inspect", &app, "--ca-cert"])
        .arg(&ca)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not authorized"));
}

#[test]
fn issue_11_push_and_a_file_at_once_give_the_same_bytes_as_the_file_alone() {
    let Some(reg) = start(Kind::Plain) else {
        return;
    };
    let t = context();
    let app = format!("{}/both/app:1", reg.host());
    let alone = t.build_digest("alone.tar", &["-t", &app]);
    let both = stdout_of(imgbuild(
        &t,
        &["build", "ctx", "-t", &app, "--push", "-o", "out/both.tar"],
    ));
    assert_eq!(both, alone);
    assert_eq!(
        std::fs::read(t.out("both.tar")).unwrap(),
        std::fs::read(t.out("alone.tar")).unwrap(),
        "the archive written while pushing differs from the one written alone"
    );
    assert_eq!(skopeo_inspect(&app, false, None)["Digest"], both.as_str());
}
