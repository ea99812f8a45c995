//! Issue #9 tests: issue9_output_text.
//!
//! Text from an image (tags, platforms, media types, config strings, tar names and header
//! bytes, digests that fail to parse) never reaches stdout or stderr raw: the Printer escapes
//! everything it writes as text. `--json` (serde escapes) and `--raw` (stored bytes) are the
//! exceptions by contract. And no width or length from an image reaches a format width: a
//! 70,000-character media type does not panic.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::hostile::{GZIP, gzip, header, sha256};
use crate::util::{TestContext, imgbuild_cmd};

/// Every terminal-driving byte the tests look for: OSC title set with BEL, CR, clear screen,
/// CSI as the C1 control U+009B (UTF-8 `c2 9b`), and a newline that would forge a line.
const EVIL: &str = "\x1b]0;pwned\x07\r\x1b[2J\u{9b}31m\nerror: forged";

/// How EVIL is shown.
const SHOWN: &str = "\\u{1b}]0;pwned\\u{7}\\r\\u{1b}[2J\\u{9b}31m\\nerror: forged";

/// Bytes that must never appear in human output: ESC, BEL, CR and 0x9b (which also catches
/// the UTF-8 form of U+009B, `c2 9b`, and a raw 0x9b byte).
const FORBIDDEN: [u8; 4] = [0x1b, 0x07, 0x0d, 0x9b];

struct Run {
    code: i32,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Run {
    /// For failure messages: the exit code and both streams, each cut to 3000 bytes.
    fn text(&self) -> String {
        let cut = |b: &[u8]| String::from_utf8_lossy(&b[..b.len().min(3000)]).into_owned();
        format!(
            "exit {}\n--- stdout\n{:?}\n--- stderr\n{:?}",
            self.code,
            cut(&self.stdout),
            cut(&self.stderr)
        )
    }
}

fn run(dir: &Path, args: &[&str]) -> Run {
    let out = imgbuild_cmd(dir).args(args).output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: out.stderr,
    }
}

/// The first forbidden byte of `bytes` and where it is, if any.
fn find_forbidden(bytes: &[u8]) -> Option<(usize, u8)> {
    bytes
        .iter()
        .position(|b| FORBIDDEN.contains(b))
        .map(|i| (i, bytes[i]))
}

/// Assert `stream` of `r` (run as `what`) holds no forbidden byte.
fn assert_clean(what: &str, stream: &str, bytes: &[u8], r: &Run) {
    if let Some((at, b)) = find_forbidden(bytes) {
        panic!("{what}: byte {b:#04x} at {at} of {stream}:\n{}", r.text());
    }
}

/// Run `args` and assert that neither stdout nor stderr holds a forbidden byte and that it
/// did not panic.
fn clean_run(dir: &Path, args: &[&str]) -> Run {
    let r = run(dir, args);
    let what = args.join(" ");
    assert_clean(&what, "stdout", &r.stdout, &r);
    assert_clean(&what, "stderr", &r.stderr, &r);
    assert_no_forged_line(&what, &r.stdout, &r);
    assert_no_forged_line(&what, &r.stderr, &r);
    assert_no_panic(&what, &r);
    r
}

/// No newline from an image started a line of its own.
fn assert_no_forged_line(what: &str, bytes: &[u8], r: &Run) {
    let text = String::from_utf8_lossy(bytes);
    assert!(
        !text.lines().any(|l| l.starts_with("error: forged")),
        "{what}: a forged line:\n{}",
        r.text()
    );
}

/// Run `args` with `--json`: stderr clean, no panic, and stdout (when it succeeded) a JSON
/// document, where serde's escapes are the contract (it leaves C1 controls as they are).
fn json_run(dir: &Path, args: &[&str]) -> (Run, Option<Value>) {
    let r = run(dir, args);
    let what = args.join(" ");
    assert_clean(&what, "stderr", &r.stderr, &r);
    assert_no_panic(&what, &r);
    let v = (r.code == 0).then(|| {
        serde_json::from_slice(&r.stdout).unwrap_or_else(|e| panic!("{what}: {e}: {}", r.text()))
    });
    (r, v)
}

fn assert_no_panic(what: &str, r: &Run) {
    assert_ne!(r.code, 101, "{what} panicked:\n{}", r.text());
    assert!(
        !String::from_utf8_lossy(&r.stderr).contains("panicked"),
        "{what} panicked:\n{}",
        r.text()
    );
}

/// One tar entry given as raw bytes: name, type, link target, content.
struct Entry {
    name: Vec<u8>,
    ty: tar::EntryType,
    link: Vec<u8>,
    data: Vec<u8>,
}

fn entry(name: &[u8], ty: tar::EntryType, link: &[u8], data: &[u8]) -> Entry {
    Entry {
        name: name.to_vec(),
        ty,
        link: link.to_vec(),
        data: data.to_vec(),
    }
}

/// A complete tar of `entries`, names and links put into the header fields as given.
fn raw_tar(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let mode = if e.ty == tar::EntryType::Directory {
            0o755
        } else {
            0o644
        };
        out.extend(header(&e.name, e.ty, &e.link, e.data.len() as u64, mode));
        out.extend_from_slice(&e.data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

/// The tar entries of the hostile image: control bytes in names and link targets, as valid
/// UTF-8 and as invalid bytes.
fn hostile_entries() -> Vec<Entry> {
    let file_name = format!("f{EVIL}");
    vec![
        entry(
            format!("d{EVIL}/").as_bytes(),
            tar::EntryType::Directory,
            b"",
            b"",
        ),
        entry(file_name.as_bytes(), tar::EntryType::Regular, b"", b"hello"),
        entry(b"raw\x9b\xff\x1b\x07\r", tar::EntryType::Regular, b"", b"x"),
        entry(
            b"l\x07",
            tar::EntryType::Symlink,
            format!("/t{EVIL}").as_bytes(),
            b"",
        ),
        entry(
            b"h\r\x1b[2J",
            tar::EntryType::Link,
            file_name.as_bytes(),
            b"",
        ),
    ]
}

/// How a test image is laid out; the default is the hostile image that every command
/// accepts, with control bytes in every string field.
struct Spec {
    layer: Vec<u8>,
    diff_id: String,
    layer_media_type: String,
    os: String,
    arch: String,
    variant: Option<String>,
    tag: String,
    /// Replaces the manifest's digest in index.json (a digest that fails to parse).
    index_digest: Option<String>,
    /// index.json names an index blob listing the manifest for its platform and again for
    /// linux/arm64 (so the summary shows its table of platforms).
    nested: bool,
}

impl Spec {
    fn hostile() -> Spec {
        let t = raw_tar(&hostile_entries());
        Spec {
            layer: gzip(&t),
            diff_id: sha256(&t),
            layer_media_type: GZIP.to_owned(),
            os: format!("linux{EVIL}"),
            arch: format!("amd64{EVIL}"),
            variant: Some(format!("v{EVIL}")),
            tag: format!("tag{EVIL}"),
            index_digest: None,
            nested: false,
        }
    }

    /// A plain linux/amd64 image whose layer is `tar` (strings elsewhere still hostile).
    fn linux_with(tar: Vec<u8>) -> Spec {
        Spec {
            layer: gzip(&tar),
            diff_id: sha256(&tar),
            os: "linux".into(),
            arch: "amd64".into(),
            variant: None,
            ..Spec::hostile()
        }
    }

    fn config(&self) -> Value {
        let mut c = json!({
            "architecture": self.arch,
            "os": self.os,
            "rootfs": {"type": "layers", "diff_ids": [self.diff_id]},
            "config": {
                "Env": ["PATH=/usr/bin:/bin", format!("A={EVIL}"), format!("{EVIL}=x")],
                "Labels": {format!("k{EVIL}"): format!("v{EVIL}")},
                "Cmd": [format!("cmd{EVIL}")],
                "Entrypoint": [format!("/ep{EVIL}")],
                "User": format!("u{EVIL}"),
                "WorkingDir": format!("/w{EVIL}"),
                "ExposedPorts": {format!("80/tcp{EVIL}"): {}},
            },
            "history": [{"created_by": format!("by{EVIL}")}],
        });
        if let Some(v) = &self.variant {
            c["variant"] = json!(v);
        }
        c
    }

    /// Write the image as an OCI layout at `dir`.
    fn layout(&self, dir: &Path) -> PathBuf {
        let blobs = dir.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap();
        let put = |data: &[u8]| -> String {
            let digest = sha256(data);
            std::fs::write(blobs.join(&digest[7..]), data).unwrap();
            digest
        };
        let config = serde_json::to_vec(&self.config()).unwrap();
        let config_digest = put(&config);
        let layer_digest = put(&self.layer);
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": config.len(),
            },
            "layers": [{
                "mediaType": self.layer_media_type,
                "digest": layer_digest,
                "size": self.layer.len(),
                "annotations": {format!("la{EVIL}"): format!("lv{EVIL}")},
            }],
            "annotations": {format!("a{EVIL}"): format!("b{EVIL}")},
        }))
        .unwrap();
        let manifest_digest = put(&manifest);
        let mut platform = json!({"os": self.os, "architecture": self.arch});
        if let Some(v) = &self.variant {
            platform["variant"] = json!(v);
        }
        let mut top = json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": self.index_digest.clone().unwrap_or(manifest_digest),
            "size": manifest.len(),
            "platform": platform,
        });
        if self.nested {
            let mut arm = top.clone();
            arm["platform"] = json!({"os": "linux", "architecture": "arm64", "variant": "v8"});
            let inner = serde_json::to_vec(&json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": [top, arm],
            }))
            .unwrap();
            top = json!({
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "digest": put(&inner),
                "size": inner.len(),
            });
        }
        top["annotations"] = json!({"org.opencontainers.image.ref.name": self.tag});
        let index = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [top],
        });
        std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
        std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        dir.to_path_buf()
    }
}

fn arg(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

// See: issue #9
#[test]
fn issue_9_hostile_strings_never_reach_the_terminal_raw() {
    let t = TestContext::new();
    let img = arg(&Spec::hostile().layout(&t.root().join("evil")));

    // The summary, the listing, --verify: all succeed, and show the strings escaped.
    let summary = clean_run(t.root(), &["inspect", &img]);
    assert_eq!(summary.code, 0, "{}", summary.text());
    let shown = String::from_utf8(summary.stdout.clone()).unwrap();
    for want in [
        format!("Tags:        tag{SHOWN}"),
        "Env:         PATH=/usr/bin:/bin".to_owned(),
        format!("             A={SHOWN}"),
        format!("User:        u{SHOWN}"),
        format!("Workdir:     /w{SHOWN}"),
        format!("Labels:      k{SHOWN}=v{SHOWN}"),
        // The JSON of cmd: serde's escapes, then the Printer's for the C1 control.
        "Cmd:         [\"cmd\\u001b]0;pwned\\u0007\\r\\u001b[2J\\u{9b}31m\\nerror: forged\"]"
            .to_owned(),
        format!("Platform:    linux{SHOWN}/amd64{SHOWN}/v{SHOWN}"),
    ] {
        assert!(
            shown.lines().any(|l| l == want),
            "{want:?} not in:\n{shown}"
        );
    }

    let files = clean_run(t.root(), &["inspect", "--files", &img]);
    assert_eq!(files.code, 0, "{}", files.text());
    let listing = String::from_utf8(files.stdout.clone()).unwrap();
    for want in [
        format!(" d{SHOWN}/"),
        format!(" f{SHOWN}"),
        " raw\\x9b\\xff\\u{1b}\\u{7}\\r".to_owned(),
        format!(" l\\u{{7}} -> /t{SHOWN}"),
        format!(" h\\r\\u{{1b}}[2J link to f{SHOWN}"),
    ] {
        assert!(
            listing.lines().any(|l| l.ends_with(&want)),
            "{want:?} not in:\n{listing}"
        );
    }
    // One line per entry (5) plus the layer header: no name broke a line.
    assert_eq!(listing.lines().count(), 6, "{listing}");

    let verify = clean_run(t.root(), &["inspect", "--verify", &img]);
    assert_eq!(verify.code, 0, "{}", verify.text());
    assert!(
        String::from_utf8_lossy(&verify.stderr).contains("Verified"),
        "{}",
        verify.text()
    );

    // Export to every format: the status lines name tags and platforms.
    for (format, out) in [
        ("oci-archive", "out.tar"),
        ("oci-dir", "out-dir"),
        ("docker-archive", "docker.tar"),
        ("rootfs-tar", "rootfs.tar"),
        ("rootfs-dir", "rootfs"),
    ] {
        let out = arg(&t.out(out));
        clean_run(t.root(), &["export", &img, "-o", &out, "--format", format]);
        clean_run(
            t.root(),
            &[
                "export",
                &img,
                "-o",
                &format!("{out}.v"),
                "--format",
                format,
                "-v",
                "--progress",
                "plain",
            ],
        );
    }

    // build --base: the base's platform is named in the "Building" status line.
    t.file("app.txt", "hi");
    t.file(format!("ctx-name{EVIL}"), "x");
    for extra in [&[][..], &["-v", "--progress", "plain"][..]] {
        let out = arg(&t.out(&format!("built{}.tar", extra.len())));
        let mut args = vec!["build", "ctx", "-o", &out, "--base", &img];
        args.extend_from_slice(extra);
        let r = clean_run(t.root(), &args);
        assert!(
            !r.stderr.is_empty(),
            "build says something on stderr:\n{}",
            r.text()
        );
    }
    let out = arg(&t.out("plat.tar"));
    clean_run(
        t.root(),
        &[
            "build",
            "ctx",
            "-o",
            &out,
            "--base",
            &img,
            "--platform",
            "linux/amd64",
        ],
    );
}

// See: issue #9
#[test]
fn issue_9_error_messages_quote_image_text_escaped() {
    let t = TestContext::new();
    // A layer media type full of control bytes: shown by the summary, refused (and quoted)
    // by --files, --verify and export.
    let mut spec = Spec::linux_with(raw_tar(&hostile_entries()));
    spec.layer_media_type = format!("application/vnd.oci.image.layer.v1.tar+{EVIL}");
    let bad_type = arg(&spec.layout(&t.root().join("bad-type")));
    // A digest in index.json that fails to parse.
    let mut spec = Spec::hostile();
    spec.index_digest = Some(format!("sha256:{EVIL}"));
    let bad_digest = arg(&spec.layout(&t.root().join("bad-digest")));
    // A tar header whose type byte is ESC, and one whose name holds CSI and a newline: the
    // parser's errors quote header bytes.
    let bad_tar = arg(&Spec::linux_with(raw_tar(&[entry(
        format!("x{EVIL}\nerror: forged").as_bytes(),
        tar::EntryType::new(0x1b),
        b"",
        b"",
    )]))
    .layout(&t.root().join("bad-tar")));

    let mut failures = 0;
    for img in [&bad_type, &bad_digest, &bad_tar] {
        for args in [
            vec!["inspect", img.as_str()],
            vec!["inspect", "--files", img],
            vec!["inspect", "--verify", img],
        ] {
            let r = clean_run(t.root(), &args);
            failures += usize::from(r.code != 0);
        }
        json_run(t.root(), &["inspect", "--json", img]);
        let out = arg(&t.out("x.tar"));
        let r = clean_run(t.root(), &["export", img, "-o", &out]);
        failures += usize::from(r.code != 0);
        let out = arg(&t.out("rootfs"));
        clean_run(
            t.root(),
            &["export", img, "-o", &out, "--format", "rootfs-dir"],
        );
        t.file("a", "a");
        let out = arg(&t.out("b.tar"));
        let r = clean_run(t.root(), &["build", "ctx", "-o", &out, "--base", img]);
        failures += usize::from(r.code != 0);
    }
    // The runs above reached the error paths (each image is refused somewhere).
    assert!(failures >= 6, "only {failures} runs failed");

    // The forged line stays part of the one error line it came in.
    let r = clean_run(t.root(), &["inspect", "--files", &bad_tar]);
    assert_eq!(r.code, 3, "{}", r.text());
    let err = String::from_utf8(r.stderr.clone()).unwrap();
    assert!(
        err.lines().all(|l| !l.starts_with("error: forged")),
        "{}",
        r.text()
    );
    assert!(err.contains("\\nerror: forged"), "{}", r.text());
    assert!(err.contains("\\u{1b}"), "{}", r.text());

    // The unparsable digest is quoted escaped.
    let r = clean_run(t.root(), &["inspect", &bad_digest]);
    assert_eq!(r.code, 3, "{}", r.text());
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("\\u{1b}]0;pwned\\u{7}\\r"),
        "{}",
        r.text()
    );

    // With colors, the only escape sequences are the Printer's own.
    let r = run(
        t.root(),
        &["inspect", "--files", "--color", "always", &bad_tar],
    );
    let mut err = String::from_utf8(r.stderr.clone()).unwrap();
    for code in [
        "\x1b[1;31m",
        "\x1b[1;36m",
        "\x1b[1;33m",
        "\x1b[1;32m",
        "\x1b[0m",
    ] {
        err = err.replace(code, "");
    }
    assert!(
        r.stderr.starts_with(b"\x1b[1;31merror\x1b[0m: "),
        "{}",
        r.text()
    );
    assert_eq!(find_forbidden(err.as_bytes()), None, "{}", r.text());
}

// See: issue #9
#[test]
fn issue_9_json_and_raw_keep_the_original_strings() {
    let t = TestContext::new();
    let img = arg(&Spec::hostile().layout(&t.root().join("evil")));
    let (r, v) = json_run(t.root(), &["inspect", "--json", &img]);
    let v = v.unwrap_or_else(|| panic!("{}", r.text()));
    // serde escapes C0 controls; a C1 control is valid JSON as it is.
    assert!(!r.stdout.iter().any(|b| [0x1b, 0x07, 0x0d].contains(b)));
    assert_eq!(v["tags"][0], format!("tag{EVIL}"));
    let m = &v["manifest"];
    assert_eq!(m["os"], format!("linux{EVIL}"));
    assert_eq!(m["architecture"], format!("amd64{EVIL}"));
    assert_eq!(m["variant"], format!("v{EVIL}"));
    assert_eq!(m["user"], format!("u{EVIL}"));
    assert_eq!(m["workdir"], format!("/w{EVIL}"));
    assert_eq!(m["cmd"][0], format!("cmd{EVIL}"));
    assert_eq!(m["entrypoint"][0], format!("/ep{EVIL}"));
    assert_eq!(m["env"][1], format!("A={EVIL}"));
    assert_eq!(m["labels"][format!("k{EVIL}")], format!("v{EVIL}"));
    assert_eq!(m["annotations"][format!("a{EVIL}")], format!("b{EVIL}"));
    assert_eq!(m["exposed_ports"][0], format!("80/tcp{EVIL}"));

    // --raw is the stored bytes, verbatim.
    let r = run(t.root(), &["inspect", "--raw", "index", &img]);
    assert_eq!(r.code, 0, "{}", r.text());
    assert_eq!(
        r.stdout,
        std::fs::read(t.root().join("evil/index.json")).unwrap()
    );
}

// See: issue #9
#[test]
fn issue_9_huge_media_type_does_not_panic() {
    let t = TestContext::new();
    let entries = [entry(b"a", tar::EntryType::Regular, b"", b"a")];
    let mut spec = Spec::linux_with(raw_tar(&entries));
    spec.layer_media_type = format!(
        "application/vnd.oci.image.layer.v1.tar+{}",
        "z".repeat(70_000)
    );
    let img = arg(&spec.layout(&t.root().join("huge")));
    let out = arg(&t.out("x.tar"));
    let dir = arg(&t.out("rootfs"));
    let summary = clean_run(t.root(), &["inspect", &img]);
    assert_eq!(summary.code, 0, "{}", summary.text());
    let (r, json) = json_run(t.root(), &["inspect", "--json", &img]);
    let json = json.unwrap_or_else(|| panic!("{}", r.text()));
    assert_eq!(
        json["manifest"]["layers"][0]["media_type"],
        spec.layer_media_type
    );
    for args in [
        vec!["inspect", "--files", img.as_str()],
        vec!["inspect", "--verify", &img],
        vec!["export", &img, "-o", &out],
        vec!["export", &img, "-o", &dir, "--format", "rootfs-dir"],
    ] {
        clean_run(t.root(), &args);
    }
    // The summary shows it in the layer table, whole.
    let shown = String::from_utf8(summary.stdout.clone()).unwrap();
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("   0  ") && l.contains(&"z".repeat(70_000))),
        "{}",
        summary.text()
    );
    // And a platform just as long, in a table of platforms, does not panic either.
    let mut spec = Spec::linux_with(raw_tar(&entries));
    spec.arch = "y".repeat(70_000);
    spec.nested = true;
    let img = arg(&spec.layout(&t.root().join("huge-platform")));
    let r = clean_run(t.root(), &["inspect", &img]);
    assert_eq!(r.code, 0, "{}", r.text());
    let shown = String::from_utf8(r.stdout.clone()).unwrap();
    let table = format!("Platforms:   linux/{}  sha256:", spec.arch);
    assert!(shown.contains(&table), "{}", r.text());
    assert!(shown.contains("linux/arm64/v8"), "{}", r.text());
    let r = clean_run(t.root(), &["inspect", "--files", img.as_str()]);
    assert_eq!(r.code, 0, "{}", r.text());
    // The index lists the one manifest for two platforms: --verify checks each listing
    // against the config, and says so without a panic.
    let r = clean_run(t.root(), &["inspect", "--verify", &img]);
    assert_eq!(r.code, 3, "{}", r.text());
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("is listed for linux/arm64/v8 but its config says linux/yyy"),
        "{}",
        r.text()
    );
    assert!(!err.contains("panicked"));
}
