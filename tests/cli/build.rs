//! `imgbuild build`: what goes into the layer, the config and the output, checked by our own
//! image checker on every image built.

use std::fs;

use predicates::prelude::*;
use serde::Deserialize;

use crate::checker::{CheckedImage, LayerEntry, check_image};
use crate::util::{DIGEST_LINE, TestContext, list_dir};

fn entries(img: &CheckedImage) -> &[LayerEntry] {
    &img.manifests[0].layers[0].entries
}

fn entry<'a>(img: &'a CheckedImage, path: &str) -> &'a LayerEntry {
    entries(img)
        .iter()
        .find(|e| e.path == path)
        .unwrap_or_else(|| panic!("no entry '{path}' in {:?}", paths(img)))
}

pub fn paths(img: &CheckedImage) -> Vec<String> {
    entries(img).iter().map(|e| e.path.clone()).collect()
}

/// Build with the given flags (quietly, with an epoch) and check the image.
fn build_ok(t: &TestContext, args: &[&str]) -> (String, CheckedImage) {
    let digest = t.build_digest("img.tar", args);
    let img = check_image(&t.out("img.tar")).unwrap();
    assert_eq!(img.manifests[0].digest, digest, "stdout names the manifest");
    (digest, img)
}

#[test]
fn every_entry_kind_is_stored() {
    let t = TestContext::new();
    t.file("bin/tool", "#!/bin/sh\n")
        .mode("bin/tool", 0o4755)
        .file("etc/conf", "a=1\n")
        .mode("etc/conf", 0o640)
        .dir("tmp")
        .mode("tmp", 0o1777)
        .dir("srv")
        .mode("srv", 0o2775)
        .dir("empty/inner")
        .symlink("etc/rel", "../bin/tool")
        .symlink("etc/abs", "/etc/passwd")
        .symlink("dangling", "does/not/exist")
        .hardlink("bin/tool2", "bin/tool");
    let (_, img) = build_ok(&t, &[]);
    assert_eq!(
        paths(&img),
        [
            "bin/",
            "bin/tool",
            "bin/tool2",
            "dangling",
            "empty/",
            "empty/inner/",
            "etc/",
            "etc/abs",
            "etc/conf",
            "etc/rel",
            "srv/",
            "tmp/"
        ]
    );
    let tool = entry(&img, "bin/tool");
    assert_eq!((tool.kind, tool.mode, tool.size), ('-', 0o4755, 10));
    let link = entry(&img, "bin/tool2");
    assert_eq!((link.kind, link.link.as_deref()), ('h', Some("bin/tool")));
    assert_eq!(entry(&img, "etc/conf").mode, 0o640);
    assert_eq!(entry(&img, "tmp/").mode, 0o1777);
    assert_eq!(entry(&img, "srv/").mode, 0o2775);
    assert_eq!(entry(&img, "empty/inner/").kind, 'd');
    assert_eq!(entry(&img, "etc/rel").link.as_deref(), Some("../bin/tool"));
    assert_eq!(entry(&img, "etc/abs").link.as_deref(), Some("/etc/passwd"));
    assert_eq!(
        entry(&img, "dangling").link.as_deref(),
        Some("does/not/exist")
    );
    for e in entries(&img) {
        assert_eq!((e.uid, e.gid), (0, 0), "{}", e.path);
        assert_eq!((e.uname.as_str(), e.gname.as_str()), ("", ""), "{}", e.path);
    }
}

#[test]
fn hard_link_target_is_first_path_in_entry_order() {
    let t = TestContext::new();
    // Created in the "wrong" order: z first, then a and m link to it.
    t.file("z", "same inode")
        .hardlink("a", "z")
        .hardlink("m", "z");
    let (_, img) = build_ok(&t, &[]);
    assert_eq!(entry(&img, "a").kind, '-');
    assert!(entry(&img, "a").content_sha256.is_some());
    assert_eq!(entry(&img, "m").link.as_deref(), Some("a"));
    assert_eq!(entry(&img, "z").link.as_deref(), Some("a"));
}

#[test]
fn long_and_unicode_names_survive() {
    let t = TestContext::new();
    let long_dir = "d".repeat(120);
    let long = format!("{long_dir}/{}", "f".repeat(150));
    t.file(&long, "long")
        .file("données/é.txt", "accent")
        .file("日本/ファイル", "kana")
        .symlink("ln", "x".repeat(200));
    let (_, img) = build_ok(&t, &[]);
    assert_eq!(entry(&img, &long).size, 4);
    assert_eq!(entry(&img, "données/é.txt").size, 6);
    assert_eq!(entry(&img, "日本/ファイル").size, 4);
    assert_eq!(
        entry(&img, "ln").link.as_deref(),
        Some("x".repeat(200).as_str())
    );
}

#[test]
fn non_utf8_names_are_kept_as_bytes() {
    let t = TestContext::new();
    t.file(b"caf\xe9".as_slice(), "latin-1 name");
    let (_, img) = build_ok(&t, &[]);
    assert_eq!(entries(&img)[0].path_bytes, b"caf\xe9");
}

#[test]
fn entries_are_sorted_depth_first_by_bytes() {
    let t = TestContext::new();
    for p in ["b", "a.txt", "a/z", "a/b/c", "B", "a-b", "_"] {
        t.file(p, p);
    }
    let (_, img) = build_ok(&t, &[]);
    assert_eq!(
        paths(&img),
        ["B", "_", "a/", "a/b/", "a/b/c", "a/z", "a-b", "a.txt", "b"]
    );
}

#[test]
fn prefix_chown_and_normalized_modes() {
    let t = TestContext::new();
    t.file("run", "x")
        .mode("run", 0o4710)
        .file("data", "y")
        .mode("data", 0o600)
        .dir("d")
        .mode("d", 0o700);
    let (_, img) = build_ok(
        &t,
        &[
            "--prefix",
            "/opt/app",
            "--chown",
            "1000:2000",
            "--normalize-modes",
        ],
    );
    assert_eq!(
        paths(&img),
        [
            "opt/",
            "opt/app/",
            "opt/app/d/",
            "opt/app/data",
            "opt/app/run"
        ]
    );
    let opt = entry(&img, "opt/");
    assert_eq!(
        (opt.mode, opt.uid, opt.gid),
        (0o755, 0, 0),
        "synthesised parent"
    );
    let app = entry(&img, "opt/app/");
    assert_eq!(
        (app.mode, app.uid, app.gid),
        (0o755, 1000, 2000),
        "the context root"
    );
    assert_eq!(entry(&img, "opt/app/run").mode, 0o755);
    assert_eq!(entry(&img, "opt/app/data").mode, 0o644);
    assert_eq!(entry(&img, "opt/app/d/").mode, 0o755);
    assert_eq!(entry(&img, "opt/app/data").uid, 1000);
}

#[test]
fn mtimes_are_clamped_to_source_date_epoch_and_older_ones_kept() {
    let t = TestContext::new();
    t.file("old", "o")
        .file("new", "n")
        .mtime("old", 1_000_000_000)
        .mtime("new", 1_900_000_000);
    let (_, img) = build_ok(&t, &[]);
    assert_eq!(entry(&img, "old").mtime, 1_000_000_000);
    assert_eq!(entry(&img, "new").mtime, 1_700_000_000);
    let config = &img.manifests[0].config;
    assert_eq!(config["created"], "2023-11-14T22:13:20Z");
    assert_eq!(config["history"][0]["created"], "2023-11-14T22:13:20Z");
}

#[test]
fn config_carries_the_runtime_flags() {
    let t = TestContext::new();
    t.file("app", "x");
    let (_, img) = build_ok(
        &t,
        &[
            "--platform",
            "linux/aarch64",
            "--env",
            "A=1",
            "--env",
            "B=two words",
            "--env",
            "A=3",
            "--label",
            "org.example=yes",
            "--annotation",
            "org.opencontainers.image.source=https://example.org/repo",
            "--entrypoint",
            "/app --serve",
            "--cmd",
            r#"["--port", "8080"]"#,
            "--workdir",
            "/srv",
            "--user",
            "1000:1000",
            "--expose",
            "8080",
            "--expose",
            "53/udp",
            "-t",
            "app:1.4",
            "-t",
            "app:latest",
        ],
    );
    let m = &img.manifests[0];
    assert_eq!(
        (
            m.platform.architecture.as_str(),
            m.platform.variant.as_deref()
        ),
        ("arm64", Some("v8"))
    );
    let c = &m.config;
    assert_eq!(c["architecture"], "arm64");
    assert_eq!(c["variant"], "v8");
    assert_eq!(
        c["config"]["Env"],
        serde_json::json!(["A=3", "B=two words"])
    );
    assert_eq!(c["config"]["Labels"]["org.example"], "yes");
    assert_eq!(
        c["config"]["Entrypoint"],
        serde_json::json!(["/app", "--serve"])
    );
    assert_eq!(c["config"]["Cmd"], serde_json::json!(["--port", "8080"]));
    assert_eq!(c["config"]["WorkingDir"], "/srv");
    assert_eq!(c["config"]["User"], "1000:1000");
    assert_eq!(
        c["config"]["ExposedPorts"],
        serde_json::json!({"53/udp": {}, "8080/tcp": {}})
    );
    assert_eq!(
        m.manifest["annotations"]["org.opencontainers.image.source"],
        "https://example.org/repo"
    );
    assert_eq!(img.ref_names(), ["app:1.4", "app:latest"]);
    let docker = img.docker_manifest.as_ref().unwrap();
    assert_eq!(
        docker[0]["RepoTags"],
        serde_json::json!(["app:1.4", "app:latest"])
    );
}

#[test]
fn compression_choices_give_their_media_types() {
    for (algo, media) in [
        ("gzip", "application/vnd.oci.image.layer.v1.tar+gzip"),
        ("zstd", "application/vnd.oci.image.layer.v1.tar+zstd"),
        ("none", "application/vnd.oci.image.layer.v1.tar"),
    ] {
        let t = TestContext::new();
        t.file("f", "content ".repeat(1000));
        let (_, img) = build_ok(&t, &["--compression", algo]);
        let layer = &img.manifests[0].layers[0];
        assert_eq!(layer.media_type, media);
        assert_eq!(entry(&img, "f").size, 8000);
    }
}

#[test]
fn same_diff_id_whatever_the_compression() {
    let t = TestContext::new();
    t.file("f", "content").file("d/g", "more");
    let ids: Vec<String> = ["gzip", "zstd", "none"]
        .iter()
        .map(|c| {
            build_ok(&t, &["--compression", c]).1.manifests[0].layers[0]
                .diff_id
                .clone()
        })
        .collect();
    assert_eq!(ids[0], ids[1]);
    assert_eq!(ids[1], ids[2]);
}

#[test]
fn stdout_mode_streams_the_archive_and_digest_goes_to_stderr() {
    let t = TestContext::new();
    t.file("f", "x");
    let out = t
        .cmd()
        .args(["build", "ctx", "-o", "-", "-q"])
        .env("SOURCE_DATE_EPOCH", "1")
        .assert()
        .success()
        .stderr(predicate::str::is_match(DIGEST_LINE).unwrap())
        .get_output()
        .clone();
    let tar_path = t.out("from-stdout.tar");
    fs::write(&tar_path, &out.stdout).unwrap();
    let img = check_image(&tar_path).unwrap();
    let digest = String::from_utf8(out.stderr).unwrap();
    assert_eq!(img.manifests[0].digest, digest.trim());
    // No -o and stdout not a terminal: the same bytes.
    let again = t
        .cmd()
        .args(["build", "ctx"])
        .env("SOURCE_DATE_EPOCH", "1")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(again, out.stdout);
}

#[test]
fn oci_dir_creates_a_layout_then_adds_and_replaces_by_tag() {
    let t = TestContext::new();
    t.file("f", "one");
    let layout = t.out("layout");
    let build = |tag: &str| {
        t.cmd()
            .args(["build", "ctx", "--format", "oci-dir", "-o"])
            .arg(&layout)
            .args(["-t", tag])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone()
    };
    build("app:1");
    assert_eq!(list_dir(&layout), ["blobs", "index.json", "oci-layout"]);
    t.file("f", "two");
    build("app:2");
    let img = check_image(&layout).unwrap();
    assert_eq!(img.ref_names(), ["app:1", "app:2"]);
    t.file("f", "three");
    let d3 = build("app:1");
    // The replaced image's blobs stay (another reader may still use them), unreferenced.
    let opts = crate::checker::CheckOptions {
        allow_unreferenced_blobs: true,
        ..Default::default()
    };
    let img = crate::checker::check_image_with(&layout, &opts).unwrap();
    assert_eq!(img.ref_names(), ["app:2", "app:1"]);
    let app1 = img
        .manifests
        .iter()
        .find(|m| m.ref_name.as_deref() == Some("app:1"))
        .unwrap();
    assert_eq!(app1.digest, String::from_utf8(d3).unwrap().trim());
    // No temporary files are left in the layout.
    assert!(
        list_dir(&layout.join("blobs/sha256"))
            .iter()
            .all(|n| n.len() == 64)
    );
}

#[test]
fn oci_dir_into_an_empty_directory() {
    let t = TestContext::new();
    t.file("f", "x");
    fs::create_dir(t.out("empty")).unwrap();
    t.build("empty", &["--format", "oci-dir"])
        .assert()
        .success();
    check_image(&t.out("empty")).unwrap();
}

#[test]
fn existing_output_file_is_replaced_atomically_and_perms_are_normal() {
    let t = TestContext::new();
    t.file("f", "x");
    fs::write(t.out("img.tar"), "old").unwrap();
    build_ok(&t, &[]);
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(t.out("img.tar")).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        mode & 0o644,
        0o644,
        "readable like any created file: {mode:o}"
    );
    assert_eq!(
        list_dir(&t.root().join("out")),
        ["img.tar"],
        "no temporary files left"
    );
}

#[test]
fn status_goes_to_stderr_and_quiet_silences_it() {
    let t = TestContext::new();
    t.file("f", "x");
    t.build("img.tar", &[])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "Building linux/amd64 from ctx (1 files",
        ))
        .stderr(predicate::str::contains("Wrote"));
    t.build("img.tar", &["-q"]).assert().success().stderr("");
}

/// The `--json` document, with unknown fields denied: its schema is a contract.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Report {
    digest: String,
    media_type: String,
    output: Output,
    manifests: Vec<ManifestReport>,
    layer: LayerReport,
    layers: Vec<LayersEntry>,
    base: Option<BaseReport>,
    tags: Vec<String>,
    files: u64,
    warnings: Vec<String>,
    stats: Stats,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Output {
    format: String,
    path: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestReport {
    platform: String,
    digest: String,
    size: u64,
    config_digest: String,
    base_digest: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaseReport {
    #[allow(dead_code)]
    reference: String,
    #[allow(dead_code)]
    form: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LayerReport {
    digest: String,
    diff_id: String,
    size: u64,
    uncompressed_size: u64,
    media_type: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LayersEntry {
    digest: String,
    diff_id: String,
    size: u64,
    uncompressed_size: u64,
    media_type: String,
    pattern: Option<String>,
    platform: Option<String>,
    comment: String,
    cached: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stats {
    files: u64,
    entries: u64,
    bytes_in: u64,
    #[allow(dead_code)]
    elapsed_ms: u64,
}

#[test]
fn json_report_schema_is_locked_and_true() {
    let t = TestContext::new();
    t.file("a", "12345")
        .file("d/b", "67")
        .file(".env", "SECRET=1");
    let out = t
        .build(
            "img.tar",
            &["--json", "-t", "app:1", "--platform", "linux/arm64"],
        )
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let r: Report = serde_json::from_slice(&out).unwrap();
    let img = check_image(&t.out("img.tar")).unwrap();
    let m = &img.manifests[0];
    assert_eq!(r.digest, m.digest);
    assert_eq!(r.media_type, "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(r.output.format, "oci-archive");
    assert!(r.output.path.unwrap().ends_with("out/img.tar"));
    assert_eq!(r.manifests.len(), 1);
    assert_eq!(r.manifests[0].platform, "linux/arm64/v8");
    assert_eq!(r.manifests[0].digest, m.digest);
    assert_eq!(r.manifests[0].size, m.size);
    assert_eq!(r.manifests[0].config_digest, m.config_digest);
    assert_eq!(r.layer.digest, m.layers[0].digest);
    assert_eq!(r.layer.diff_id, m.layers[0].diff_id);
    assert_eq!(r.layer.size, m.layers[0].size);
    assert!(r.layer.uncompressed_size >= 4 * 512);
    assert_eq!(r.layer.media_type, m.layers[0].media_type);
    let [only] = r.layers.as_slice() else {
        panic!("one layer: {:?}", r.layers)
    };
    assert_eq!(
        (
            &only.digest,
            &only.diff_id,
            only.size,
            only.uncompressed_size
        ),
        (
            &r.layer.digest,
            &r.layer.diff_id,
            r.layer.size,
            r.layer.uncompressed_size
        )
    );
    assert_eq!(only.media_type, r.layer.media_type);
    assert_eq!((&only.pattern, &only.platform), (&None, &None));
    assert_eq!(only.comment, "context directory layer");
    assert!(!only.cached, "a first build reads its files");
    assert_eq!(r.tags, ["app:1"]);
    assert!(r.base.is_none());
    assert!(r.manifests[0].base_digest.is_none());
    assert_eq!(
        (r.files, r.stats.files, r.stats.entries, r.stats.bytes_in),
        (3, 3, 4, 15)
    );
    assert_eq!(r.warnings.len(), 1);
    assert!(
        r.warnings[0].contains("'.env' looks like a secret"),
        "{:?}",
        r.warnings
    );
}
