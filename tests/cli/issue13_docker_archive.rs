//! `build --format docker-archive`: a classic `docker save` archive (one directory per layer
//! with an uncompressed `layer.tar`, `json` and `VERSION`; the config; `manifest.json`;
//! `repositories`), its base layers decompressed and checked, reproducible, refused for
//! several platforms, compression flags and `--push`, read back by `inspect`, skopeo and
//! podman (#13).

mod check;

use std::fs;

use predicates::prelude::*;
use serde_json::{Value, json};

use self::check::{EPOCH, check_docker_save, check_save, member, members, tar_names};
use crate::interop::{Podman, require_tool, run, s};
use crate::util::{DIGEST_LINE, TestContext, list_dir};

#[test]
fn archive_holds_layer_dirs_config_manifest_and_repositories() {
    let t = TestContext::new();
    t.file("hello.txt", "hi\n")
        .file("bin/app", "#!/bin/sh\n")
        .mode("bin/app", 0o755);
    let out = t
        .build(
            "d.tar",
            &[
                "--format",
                "docker-archive",
                "-t",
                "app:1",
                "-t",
                "localhost:5000/team/app",
            ],
        )
        .args(["--env", "A=b", "--json"])
        .env("SOURCE_DATE_EPOCH", EPOCH.to_string())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let report: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(report["output"]["format"], "docker-archive");
    assert_eq!(
        report["layer"]["media_type"],
        "application/vnd.oci.image.layer.v1.tar"
    );
    assert_eq!(report["layer"]["digest"], report["layer"]["diff_id"]);
    let (entry, config) = check_docker_save(&t.out("d.tar"), 1);
    assert_eq!(
        entry["RepoTags"],
        json!(["app:1", "localhost:5000/team/app:latest"])
    );
    let config_hex = entry["Config"]
        .as_str()
        .unwrap()
        .strip_suffix(".json")
        .unwrap();
    assert_eq!(
        report["manifests"][0]["config_digest"],
        json!(format!("sha256:{config_hex}"))
    );
    assert_eq!(config["config"]["Env"], json!(["A=b"]));
    let all = members(&t.out("d.tar"));
    let layer = entry["Layers"][0].as_str().unwrap();
    let names = tar_names(member(&all, layer));
    assert_eq!(names, ["bin/", "bin/app", "hello.txt"]);
    let top_id = layer.strip_suffix("/layer.tar").unwrap();
    let repos: Value = serde_json::from_slice(member(&all, "repositories")).unwrap();
    assert_eq!(
        repos,
        json!({"app": {"1": top_id}, "localhost:5000/team/app": {"latest": top_id}})
    );
    assert_eq!(list_dir(&t.root().join("out")), ["d.tar"], "no leftovers");
}

/// A base image in `out/NAME`, built from `base/` with `--compression COMPRESSION`.
fn make_base(t: &TestContext, name: &str, compression: &str) {
    let base = t.root().join("base");
    fs::create_dir_all(base.join("etc")).unwrap();
    fs::write(base.join("etc/os-release"), "NAME=testbase\n").unwrap();
    t.cmd()
        .args(["build", "base", "-o"])
        .arg(t.out(name))
        .args([
            "-t",
            "base:1",
            "--compression",
            compression,
            "--env",
            "PATH=/bin",
        ])
        .env("SOURCE_DATE_EPOCH", EPOCH.to_string())
        .assert()
        .success();
}

#[test]
fn gzip_and_zstd_base_layers_are_decompressed_into_layer_tar() {
    for compression in ["gzip", "zstd"] {
        let t = TestContext::new();
        make_base(&t, "base.tar", compression);
        t.file("app.txt", "on top\n");
        let base = format!("oci-archive:{}:base:1", s(&t.out("base.tar")));
        t.build_digest("d.tar", &["--format", "docker-archive", "--base", &base]);
        let (entry, config) = check_docker_save(&t.out("d.tar"), 2);
        assert_eq!(
            config["config"]["Env"],
            json!(["PATH=/bin"]),
            "{compression}"
        );
        let all = members(&t.out("d.tar"));
        let bottom = tar_names(member(&all, entry["Layers"][0].as_str().unwrap()));
        assert_eq!(bottom, ["etc/", "etc/os-release"], "{compression}");
        let top = tar_names(member(&all, entry["Layers"][1].as_str().unwrap()));
        assert_eq!(top, ["app.txt"], "{compression}");
        assert_eq!(entry["RepoTags"], json!([]), "untagged");
        assert!(!all.iter().any(|m| m.name == "repositories"), "untagged");
    }
}

#[test]
fn two_builds_from_two_paths_give_the_same_bytes_and_stdout_the_same_stream() {
    let (a, b) = (TestContext::new(), TestContext::new());
    for t in [&a, &b] {
        t.file("z.txt", "z")
            .file("a/b.txt", "b")
            .mtime_all(1_800_000_000);
    }
    let args = ["--format", "docker-archive", "-t", "app:1"];
    let da = a.build_digest("d.tar", &args);
    let db = b.build_digest("d.tar", &args);
    assert_eq!(da, db);
    let bytes = fs::read(a.out("d.tar")).unwrap();
    assert_eq!(bytes, fs::read(b.out("d.tar")).unwrap(), "byte-identical");
    let streamed = a
        .cmd()
        .args([
            "build",
            "ctx",
            "-o",
            "-",
            "--format",
            "docker-archive",
            "-t",
            "app:1",
        ])
        .env("SOURCE_DATE_EPOCH", EPOCH.to_string())
        .assert()
        .success()
        .stderr(predicate::str::contains(&da))
        .get_output()
        .stdout
        .clone();
    assert!(streamed == bytes, "-o - streams the same archive");
}

#[test]
fn several_platforms_are_refused_naming_them() {
    let t = TestContext::new();
    t.file("a", "a");
    t.build(
        "d.tar",
        &[
            "--format",
            "docker-archive",
            "--platform",
            "linux/amd64,linux/arm64",
        ],
    )
    .assert()
    .failure()
    .code(2)
    .stderr(predicate::str::contains("linux/amd64, linux/arm64"))
    .stderr(predicate::str::contains("hint:"))
    .stderr(predicate::str::contains("--format oci-archive"));
    assert!(list_dir(&t.root().join("out")).is_empty());
}

#[test]
fn compression_flags_and_push_are_refused_with_a_hint() {
    let t = TestContext::new();
    t.file("a", "a");
    let cases: [(&[&str], &str); 4] = [
        (&["--compression", "gzip"], "--compression gzip"),
        (&["--compression", "zstd"], "--compression zstd"),
        (&["--compression-level", "3"], "--compression-level"),
        (&["--push", "-t", "localhost:5000/a:1"], "--push"),
    ];
    for (args, needle) in cases {
        t.build("d.tar", &[&["--format", "docker-archive"], args].concat())
            .assert()
            .failure()
            .code(2)
            .stderr(predicate::str::contains(needle))
            .stderr(predicate::str::contains("docker-archive"))
            .stderr(predicate::str::contains("hint:"));
    }
    assert!(list_dir(&t.root().join("out")).is_empty());
    t.build_digest(
        "d.tar",
        &["--format", "docker-archive", "--compression", "none"],
    );
    check_docker_save(&t.out("d.tar"), 1);
}

#[test]
fn a_failed_build_leaves_nothing_and_keeps_the_old_archive() {
    let t = TestContext::new();
    t.file("a", "a");
    t.build_digest("d.tar", &["--format", "docker-archive"]);
    let before = fs::read(t.out("d.tar")).unwrap();
    t.fifo("pipe");
    t.build("d.tar", &["--format", "docker-archive"])
        .assert()
        .failure()
        .code(3)
        .stderr(predicate::str::contains("pipe"));
    assert_eq!(
        list_dir(&t.root().join("out")),
        ["d.tar"],
        "no temporary files"
    );
    assert_eq!(
        fs::read(t.out("d.tar")).unwrap(),
        before,
        "the old archive is kept"
    );
}

#[test]
fn inspect_reads_the_archive_back_and_verifies_it() {
    let t = TestContext::new();
    t.file("a.txt", "a");
    make_base(&t, "base.tar", "gzip");
    let base = format!("oci-archive:{}:base:1", s(&t.out("base.tar")));
    t.build_digest(
        "d.tar",
        &["--format", "docker-archive", "--base", &base, "-t", "app:1"],
    );
    let (entry, config) = check_docker_save(&t.out("d.tar"), 2);
    let out = t
        .cmd()
        .args(["inspect", "--verify", "--json"])
        .arg(format!("docker-archive:{}", s(&t.out("d.tar"))))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let report: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(report["format"], "docker-archive");
    assert_eq!(report["verify"]["ok"], true, "{report}");
    assert_eq!(report["tags"], json!(["app:1"]));
    let config_hex = entry["Config"]
        .as_str()
        .unwrap()
        .strip_suffix(".json")
        .unwrap();
    assert_eq!(
        report["manifest"]["config"]["digest"],
        format!("sha256:{config_hex}")
    );
    let diff_ids: Vec<&Value> = report["manifest"]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| &l["diff_id"])
        .collect();
    let want: Vec<&Value> = config["rootfs"]["diff_ids"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(diff_ids, want);
}

#[test]
fn skopeo_inspects_the_archive() {
    let Some(skopeo) = require_tool("skopeo") else {
        return;
    };
    let t = TestContext::new();
    t.file("a.txt", "a");
    t.build_digest("d.tar", &["--format", "docker-archive", "-t", "app:1"]);
    let (_, config) = check_docker_save(&t.out("d.tar"), 1);
    let image = format!("docker-archive:{}", s(&t.out("d.tar")));
    let out = run(std::process::Command::new(&skopeo).args(["inspect", &image]));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["Layers"], config["rootfs"]["diff_ids"], "{v}");
    assert_eq!(v["Architecture"], "amd64");
    let raw =
        run(std::process::Command::new(&skopeo).args(["inspect", "--config", "--raw", &image]));
    assert_eq!(serde_json::from_str::<Value>(&raw).unwrap(), config);
}

#[test]
fn podman_loads_the_archive_and_runs_it_on_a_busybox_base() {
    let (Some(podman), Some(busybox)) = (Podman::new(), require_tool("busybox")) else {
        return;
    };
    let t = TestContext::new();
    let base = t.root().join("base");
    fs::create_dir_all(base.join("bin")).unwrap();
    fs::copy(&busybox, base.join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", base.join("bin/sh")).unwrap();
    t.cmd()
        .args(["build", "base", "-o", "bb.tar", "-t", "bb:1"])
        .assert()
        .success();
    t.file("msg.txt", "hello from a docker-save archive\n");
    t.build(
        "d.tar",
        &[
            "--format",
            "docker-archive",
            "--base",
            "oci-archive:bb.tar:bb:1",
        ],
    )
    .args([
        "--cmd",
        r#"["/bin/sh","-c","cat /srv/msg.txt"]"#,
        "--prefix",
        "/srv",
    ])
    .args(["-t", "app:3"])
    .env("SOURCE_DATE_EPOCH", EPOCH.to_string())
    .assert()
    .success()
    .stdout(predicate::str::is_match(DIGEST_LINE).unwrap());
    check_docker_save(&t.out("d.tar"), 2);
    let loaded = podman.run(&["load", "-i", s(&t.out("d.tar"))]);
    assert!(loaded.contains("localhost/app:3"), "podman load: {loaded}");
    assert_eq!(
        podman.run_container("app:3"),
        "hello from a docker-save archive\n"
    );
}

#[test]
fn a_gzip_layer_from_the_library_is_decompressed_into_the_docker_archive() {
    use imgbuild::sink::{self, Format, Target};
    use imgbuild::{Cancel, build, options::BuildOptions, progress::NoProgress};
    let t = TestContext::new();
    t.file("a.txt", "from the library\n");
    let cancel = Cancel::new();
    let mut opts = BuildOptions::new(&t.ctx(), EPOCH as i64).unwrap();
    opts.tags.push("lib:1".into());
    let target = Target::Path(t.out("d.tar"));
    let dest = sink::open(Format::DockerSave, &target, EPOCH, &cancel).unwrap();
    let built = build::build(&opts, dest, &NoProgress, &cancel).unwrap();
    assert_eq!(
        built.layer.media_type.to_string(),
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    // Compressed, it could not stay in place: moved out, and the members all sorted.
    let (entry, _) = check_save(&t.out("d.tar"), 1, None);
    let all = members(&t.out("d.tar"));
    assert_eq!(
        tar_names(member(&all, entry["Layers"][0].as_str().unwrap())),
        ["a.txt"]
    );
    assert_eq!(list_dir(&t.root().join("out")), ["d.tar"], "no leftovers");
}

#[test]
fn layer_patterns_give_one_layer_dir_each_the_first_written_first() {
    let t = TestContext::new();
    t.file("vendor/lib.txt", "lib\n")
        .file("src/main.txt", "main\n");
    let args = [
        "--format",
        "docker-archive",
        "--layer",
        "vendor/**",
        "-t",
        "l:1",
    ];
    t.build_digest("d.tar", &args);
    let (entry, _) = check_save(&t.out("d.tar"), 2, Some(0));
    let all = members(&t.out("d.tar"));
    let layer = |i: usize| tar_names(member(&all, entry["Layers"][i].as_str().unwrap()));
    assert_eq!(layer(0), ["vendor/", "vendor/lib.txt"]);
    let top = layer(1);
    assert!(top.contains(&"src/main.txt".to_owned()), "{top:?}");
    assert!(!top.contains(&"vendor/lib.txt".to_owned()), "{top:?}");
}
