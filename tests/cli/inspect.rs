//! `imgbuild inspect`: the human summary, the `--json` schema, `--raw` documents whose
//! sha256 is their descriptor's digest, `--files` listings, `--verify`. See: issue #5.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::Stdio;

use predicates::prelude::*;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::checker::check_image;
use crate::hostile::{self, Img, Layer, dir, file, hardlink, symlink};
use crate::util::TestContext;

fn sha(data: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(data))
}

const RUNTIME_FLAGS: &[&str] = &[
    "--env",
    "A=1",
    "--env",
    "B=two words",
    "--label",
    "org.example=yes",
    "--annotation",
    "note=hello",
    "--entrypoint",
    "/bin/app --flag",
    "--cmd",
    r#"["--port","8080"]"#,
    "--workdir",
    "/srv",
    "--user",
    "1000:1000",
    "--expose",
    "8080",
    "-t",
    "app:1",
];

fn built(t: &TestContext, extra: &[&str]) -> String {
    t.file("bin/app", "#!/bin/sh\n")
        .mode("bin/app", 0o755)
        .file("www/index.html", "hi\n");
    t.build_digest("img.tar", &[RUNTIME_FLAGS, extra].concat())
}

fn inspect(t: &TestContext, args: &[&str]) -> assert_cmd::assert::Assert {
    t.cmd().arg("inspect").args(args).assert()
}

#[test]
fn human_summary_shows_everything_aligned() {
    let t = TestContext::new();
    let digest = built(&t, &[]);
    let img = check_image(&t.out("img.tar")).unwrap();
    let m = img.single().unwrap();
    let out = inspect(&t, &["out/img.tar"])
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    for want in [
        "Reference:   out/img.tar".to_owned(),
        "Format:      oci-archive".to_owned(),
        format!("Digest:      {digest}"),
        "Media type:  application/vnd.oci.image.manifest.v1+json".to_owned(),
        "Tags:        app:1".to_owned(),
        "Platform:    linux/amd64".to_owned(),
        format!("Config:      {}", m.config_digest),
        "Created:     2023-11-14T22:13:20Z".to_owned(),
        "Env:         A=1".to_owned(),
        "             B=two words".to_owned(),
        r#"Entrypoint:  ["/bin/app","--flag"]"#.to_owned(),
        r#"Cmd:         ["--port","8080"]"#.to_owned(),
        "Workdir:     /srv".to_owned(),
        "User:        1000:1000".to_owned(),
        "Ports:       8080/tcp".to_owned(),
        "Labels:      org.example=yes".to_owned(),
        "Annotations: note=hello".to_owned(),
        "             org.opencontainers.image.created=2023-11-14T22:13:20Z".to_owned(),
        "Layers:      1 (".to_owned(),
        m.layers[0].digest.clone(),
        "tar+gzip".to_owned(),
    ] {
        assert!(text.contains(&want), "{want:?} not in:\n{text}");
    }
    // Labels start at column 0, values at column 13.
    for line in text.lines().filter(|l| !l.starts_with(' ')) {
        let b = line.as_bytes();
        let aligned =
            b.len() > 13 && b[12] == b' ' && b[13] != b' ' && line[..13].trim_end().ends_with(':');
        assert!(aligned, "{line:?} in:\n{text}");
    }
}

#[test]
fn index_lists_platforms_and_platform_picks_the_manifest() {
    let t = TestContext::new();
    let digest = built(&t, &["--platform", "linux/amd64,linux/arm64"]);
    let img = check_image(&t.out("img.tar")).unwrap();
    let arm = img
        .manifests
        .iter()
        .find(|m| m.platform.architecture == "arm64")
        .unwrap();
    let out = inspect(&t, &["out/img.tar", "--platform", "linux/arm64"])
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains(&format!("Digest:      {digest}")), "{text}");
    assert!(
        text.contains("Media type:  application/vnd.oci.image.index.v1+json"),
        "{text}"
    );
    assert!(text.contains("Platforms:   linux/amd64"), "{text}");
    assert!(
        text.contains(&format!("             linux/arm64/v8  {}", arm.digest)),
        "{text}"
    );
    assert!(
        text.contains(&format!("Manifest:    {}", arm.digest)),
        "{text}"
    );
    // Without --platform: linux/amd64, and a note on stderr.
    inspect(&t, &["out/img.tar"])
        .success()
        .stderr(predicate::str::contains(
            "Showing linux/amd64, one of 2 platforms",
        ));
    inspect(&t, &["out/img.tar", "--platform", "linux/386"])
        .code(2)
        .stderr(predicate::str::contains("has no image for linux/386"));
}

/// The `--json` document, with unknown fields denied: its schema is a contract.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Report {
    reference: String,
    format: String,
    digest: String,
    media_type: String,
    size: u64,
    tags: Vec<String>,
    platforms: Vec<PlatformReport>,
    manifest: ManifestReport,
    verify: Option<VerifyReport>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlatformReport {
    platform: String,
    digest: String,
    size: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestReport {
    digest: String,
    media_type: String,
    size: u64,
    platform: String,
    annotations: BTreeMap<String, String>,
    config: Blob,
    created: Option<String>,
    os: String,
    architecture: String,
    variant: Option<String>,
    env: Vec<String>,
    entrypoint: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    workdir: Option<String>,
    user: Option<String>,
    exposed_ports: Vec<String>,
    labels: BTreeMap<String, String>,
    layers: Vec<LayerReport>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Blob {
    digest: String,
    media_type: String,
    size: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LayerReport {
    index: usize,
    digest: String,
    media_type: String,
    size: u64,
    diff_id: String,
    uncompressed_size: Option<u64>,
    history: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyReport {
    ok: bool,
    blobs: u64,
    bytes: u64,
    problems: Vec<String>,
}

#[test]
fn json_schema_is_locked_and_true() {
    let t = TestContext::new();
    let digest = built(&t, &["--platform", "linux/arm64"]);
    let img = check_image(&t.out("img.tar")).unwrap();
    let m = img.single().unwrap();
    let run = |args: &[&str]| -> Report {
        let out = inspect(&t, args).success().get_output().stdout.clone();
        serde_json::from_slice(&out).unwrap()
    };
    let r = run(&["out/img.tar", "--json"]);
    assert_eq!(
        (r.reference.as_str(), r.format.as_str()),
        ("out/img.tar", "oci-archive")
    );
    assert_eq!((r.digest.as_str(), r.size), (digest.as_str(), m.size));
    assert_eq!(r.media_type, "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(r.tags, ["app:1"]);
    assert_eq!(r.platforms.len(), 1);
    assert_eq!(
        (
            r.platforms[0].platform.as_str(),
            r.platforms[0].digest.as_str(),
            r.platforms[0].size
        ),
        ("linux/arm64/v8", digest.as_str(), m.size)
    );
    let mr = &r.manifest;
    assert_eq!(
        (mr.digest.as_str(), mr.size, mr.media_type.as_str()),
        (digest.as_str(), m.size, r.media_type.as_str())
    );
    assert_eq!(
        (
            mr.os.as_str(),
            mr.architecture.as_str(),
            mr.variant.as_deref(),
            mr.platform.as_str()
        ),
        ("linux", "arm64", Some("v8"), "linux/arm64/v8")
    );
    assert_eq!(mr.config.digest, m.config_digest);
    assert_eq!(
        mr.config.media_type,
        "application/vnd.oci.image.config.v1+json"
    );
    assert!(mr.config.size > 0);
    assert_eq!(mr.created.as_deref(), Some("2023-11-14T22:13:20Z"));
    assert_eq!(mr.env, ["A=1", "B=two words"]);
    assert_eq!(
        mr.entrypoint.as_deref(),
        Some(&["/bin/app".to_owned(), "--flag".to_owned()][..])
    );
    assert_eq!(
        mr.cmd.as_deref(),
        Some(&["--port".to_owned(), "8080".to_owned()][..])
    );
    assert_eq!(
        (mr.workdir.as_deref(), mr.user.as_deref()),
        (Some("/srv"), Some("1000:1000"))
    );
    assert_eq!(mr.exposed_ports, ["8080/tcp"]);
    assert_eq!(
        mr.labels.get("org.example").map(String::as_str),
        Some("yes")
    );
    assert_eq!(
        mr.annotations.get("note").map(String::as_str),
        Some("hello")
    );
    assert_eq!(mr.layers.len(), 1);
    let l = &mr.layers[0];
    assert_eq!(
        (l.index, l.digest.as_str(), l.size, l.diff_id.as_str()),
        (
            0,
            m.layers[0].digest.as_str(),
            m.layers[0].size,
            m.layers[0].diff_id.as_str()
        )
    );
    assert_eq!(l.media_type, m.layers[0].media_type);
    assert_eq!(l.history.as_deref(), Some("context directory layer"));
    assert_eq!(
        l.uncompressed_size, None,
        "unknown for gzip without --verify"
    );
    assert!(r.verify.is_none());
    let r = run(&["out/img.tar", "--json", "--verify"]);
    let v = r.verify.unwrap();
    assert!(v.ok && v.problems.is_empty());
    assert_eq!(v.blobs, 3);
    assert_eq!(v.bytes, m.size + mr.config.size + l.size);
    assert!(r.manifest.layers[0].uncompressed_size.unwrap() >= 5 * 512);
}

#[test]
fn raw_documents_hash_to_their_descriptors() {
    let t = TestContext::new();
    let digest = built(&t, &["--platform", "linux/amd64,linux/arm64"]);
    let img = check_image(&t.out("img.tar")).unwrap();
    let raw = |args: &[&str]| inspect(&t, args).success().get_output().stdout.clone();
    assert_eq!(sha(&raw(&["--raw", "index", "out/img.tar"])), digest);
    for m in &img.manifests {
        let p = m.platform.to_string();
        assert_eq!(
            sha(&raw(&[
                "--raw",
                "manifest",
                "--platform",
                &p,
                "out/img.tar"
            ])),
            m.digest
        );
        let config = raw(&["--raw", "config", "--platform", &p, "out/img.tar"]);
        assert_eq!(sha(&config), m.config_digest);
        let v: serde_json::Value = serde_json::from_slice(&config).unwrap();
        assert_eq!(
            v["config"]["Env"],
            serde_json::json!(["A=1", "B=two words"])
        );
    }
    // A single-manifest image: --raw index is index.json itself.
    let t2 = TestContext::new();
    built(&t2, &[]);
    let index = t2
        .cmd()
        .args(["inspect", "--raw", "index", "out/img.tar"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&index).unwrap();
    assert_eq!(
        v["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
        "app:1"
    );
    inspect(&t, &["--raw", "index", "--files", "out/img.tar"]).code(2);
}

#[test]
fn files_lists_layers_with_whiteouts_shown() {
    let t = TestContext::new();
    let img = Img::new(vec![
        Layer::gzip(&[
            dir("etc/"),
            file("etc/passwd", b"root\n"),
            symlink("lnk", "/etc/passwd"),
            hardlink("hard", "etc/passwd"),
            dir("var/"),
        ]),
        Layer::plain(&[
            file("etc/.wh.passwd", b""),
            file("var/.wh..wh..opq", b""),
            file("evil\x1b[31m", b""),
        ]),
    ])
    .archive(&t.root().join("img.tar"));
    let all = inspect(&t, &["--files", "img.tar"])
        .success()
        .get_output()
        .stdout
        .clone();
    let all = String::from_utf8(all).unwrap();
    let lines: Vec<&str> = all.lines().collect();
    assert!(
        lines[0].starts_with(&format!(
            "# layer 0 {} application/vnd.oci.image.layer.v1.tar+gzip",
            img.layers[0]
        )),
        "{all}"
    );
    let want = [
        "drwxr-xr-x 0/0          0 2022-04-15 05:20:00 etc/",
        "-rw-r--r-- 0/0          5 2022-04-15 05:20:00 etc/passwd",
        "lrwxrwxrwx 0/0          0 2022-04-15 05:20:00 lnk -> /etc/passwd",
        "hrw-r--r-- 0/0          0 2022-04-15 05:20:00 hard link to etc/passwd",
        "-rw-r--r-- 0/0          0 2022-04-15 05:20:00 etc/.wh.passwd  [whiteout: deletes etc/passwd]",
        "-rw-r--r-- 0/0          0 2022-04-15 05:20:00 var/.wh..wh..opq  [opaque: hides what lower layers have in var/]",
        "-rw-r--r-- 0/0          0 2022-04-15 05:20:00 evil\\u{1b}[31m",
    ];
    for w in want {
        assert!(lines.contains(&w), "{w:?} not in:\n{all}");
    }
    assert!(!all.contains('\x1b'));
    let one = inspect(&t, &["--files", "--layer", "1", "img.tar"])
        .success()
        .get_output()
        .stdout
        .clone();
    let one = String::from_utf8(one).unwrap();
    assert_eq!(one.lines().count(), 3, "{one}");
    assert!(!one.contains("# layer"));
    inspect(&t, &["--files", "--layer", "2", "img.tar"])
        .code(2)
        .stderr(predicate::str::contains(
            "invalid --layer 2: the image has 2 layers (--layer 0 to 1)",
        ));
    inspect(&t, &["--layer", "1", "img.tar"]).code(2);
}

#[test]
fn verify_reports_every_problem_and_exits_3() {
    let t = TestContext::new();
    let mut digest_lie = Layer::gzip(&[file("a", b"a")]);
    digest_lie.declared_digest = Some(hostile::sha256(b"other"));
    let mut diff_id_lie = Layer::gzip(&[file("b", b"b")]);
    diff_id_lie.diff_id = hostile::sha256(b"not it");
    let good = Layer::plain(&[file("c", b"c")]);
    let w = Img::new(vec![digest_lie, good, diff_id_lie]).layout(&t.root().join("bad"));
    let out = inspect(&t, &["--verify", "bad"])
        .code(3)
        .stderr(predicate::str::contains(
            "failed verification: 2 problems found",
        ))
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("layer 0 of manifest {}", w.manifest)),
        "{stderr}"
    );
    assert!(stderr.contains("does not match its descriptor"), "{stderr}");
    assert!(
        stderr.contains("layer 2") && stderr.contains("but the config's diff_id is"),
        "{stderr}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("Verified:    2 problem(s), listed on stderr")
    );
    // Plain inspect reads only documents: it shows the image.
    inspect(&t, &["bad"]).success();
    // --files checks each layer it lists.
    inspect(&t, &["--files", "--layer", "0", "bad"])
        .code(3)
        .stderr(predicate::str::contains("does not match its descriptor"));
    inspect(&t, &["--files", "--layer", "1", "bad"])
        .success()
        .stdout(predicate::str::contains(" c\n"));
}

#[test]
fn reads_docker_archives_and_stdin() {
    let t = TestContext::new();
    let digest = built(&t, &[]);
    t.cmd()
        .args(["inspect", "-", "--json"])
        .pipe_stdin(t.out("img.tar"))
        .unwrap()
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "\"digest\": \"{digest}\""
        )));
    // A classic docker-save archive: hashed layers, synthesized manifest.
    let img = check_image(&t.out("img.tar")).unwrap();
    let m = img.single().unwrap();
    let dir = t.root().join("classic");
    std::fs::create_dir(&dir).unwrap();
    let layer_tar = {
        let mut tar = tar::Archive::new(std::fs::File::open(t.out("img.tar")).unwrap());
        let mut found = Vec::new();
        for e in tar.entries().unwrap() {
            let mut e = e.unwrap();
            let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
            if name.ends_with(m.layers[0].digest.trim_start_matches("sha256:")) {
                std::io::Read::read_to_end(&mut e, &mut found).unwrap();
            }
        }
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&found[..]), &mut plain)
            .unwrap();
        plain
    };
    std::fs::write(dir.join("layer.tar"), &layer_tar).unwrap();
    std::fs::write(
        dir.join("config.json"),
        serde_json::to_vec(&m.config).unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.join("manifest.json"),
        br#"[{"Config":"config.json","RepoTags":["classic:1"],"Layers":["layer.tar"]}]"#,
    )
    .unwrap();
    crate::hostile::tar_dir(&dir, &t.out("classic.tar"));
    let out = inspect(
        &t,
        &["docker-archive:out/classic.tar", "--json", "--verify"],
    )
    .success()
    .get_output()
    .stdout
    .clone();
    let r: Report = serde_json::from_slice(&out).unwrap();
    assert_eq!(r.format, "docker-archive");
    assert_eq!(r.tags, ["classic:1"]);
    assert_eq!(r.manifest.layers[0].diff_id, m.layers[0].diff_id);
    assert_eq!(r.manifest.layers[0].media_type, hostile::TAR);
    assert_eq!(
        r.manifest.layers[0].uncompressed_size,
        Some(layer_tar.len() as u64)
    );
}

#[test]
fn closed_pipe_ends_quietly() {
    let t = TestContext::new();
    for i in 0..3000 {
        t.file(format!("d/file-{i:05}"), "x");
    }
    built(&t, &[]);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_imgbuild"))
        .args(["inspect", "--files", "out/img.tar"])
        .current_dir(t.root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("# layer 0"), "{first}");
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn hostile_documents_are_refused() {
    let t = TestContext::new();
    let good = || Layer::gzip(&[file("f", b"x")]);
    Img {
        config_padding: 17 << 20,
        ..Img::new(vec![good()])
    }
    .layout(&t.root().join("huge"));
    inspect(&t, &["huge"])
        .code(3)
        .stderr(predicate::str::contains("more than the 16777216 allowed"));
    std::fs::create_dir(t.root().join("notjson")).unwrap();
    Img::new(vec![good()]).layout(&t.root().join("notjson"));
    std::fs::write(
        t.root().join("notjson/index.json"),
        b"{\"schemaVersion\":2,\"manifests\":[], \"layers\":[]}",
    )
    .unwrap();
    inspect(&t, &["notjson"])
        .code(3)
        .stderr(predicate::str::contains("ambiguous"));
    inspect(&t, &["nope.tar"])
        .code(1)
        .stderr(predicate::str::contains("nope.tar"));
}
