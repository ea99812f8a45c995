//! The layer cache in builds (#13): rebuilds reuse unchanged layers byte for byte, and a
//! wrong hit is impossible — a file rewritten with its size and mtime restored, an inode
//! swap, a change within the same second, a damaged cached blob; concurrent builds sharing
//! one cache; eviction to `--cache-max-size`; `--no-cache`; a cache that cannot be used.

use std::path::{Path, PathBuf};

use predicates::prelude::*;
use serde_json::Value;

use crate::util::{TestContext, list_dir, set_mtime};

/// A context with a dependency tree and an app, all older than the epoch.
fn app(t: &TestContext) {
    for i in 0..40 {
        t.file(
            format!("node_modules/dep{i}/index.js"),
            format!("module.exports = {i};\n").repeat(50),
        );
    }
    t.file("src/main.js", "console.log('v1');\n")
        .file("src/util.js", "exports.x = 1;\n")
        .mtime_all(1_600_000_000);
}

const LAYERS: &[&str] = &["--layer", "node_modules"];

struct Cache {
    dir: tempfile::TempDir,
}

impl Cache {
    fn new() -> Cache {
        Cache {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn blobs(&self) -> PathBuf {
        self.path().join("layers/blobs/sha256")
    }

    /// `build ... --json --cache-dir DIR`, which must succeed: the report and stderr.
    fn build(&self, t: &TestContext, name: &str, args: &[&str]) -> (Value, String) {
        let out = t
            .build(
                name,
                &[
                    args,
                    &["--json", "--cache-dir", self.path().to_str().unwrap()],
                ]
                .concat(),
            )
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .assert()
            .success()
            .get_output()
            .clone();
        (
            serde_json::from_slice(&out.stdout).unwrap(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

fn cached(r: &Value) -> Vec<bool> {
    r["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["cached"].as_bool().unwrap())
        .collect()
}

/// The same build without any cache: the bytes every cached build must give.
fn fresh(t: &TestContext, name: &str, args: &[&str]) -> Vec<u8> {
    t.build(name, &[args, &["--no-cache", "-q"]].concat())
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .assert()
        .success();
    std::fs::read(t.out(name)).unwrap()
}

fn read(t: &TestContext, name: &str) -> Vec<u8> {
    std::fs::read(t.out(name)).unwrap()
}

#[test]
fn a_rebuild_reuses_unchanged_layers_and_gives_the_same_bytes() {
    let t = TestContext::new();
    app(&t);
    let c = Cache::new();
    let (r, _) = c.build(&t, "1.tar", LAYERS);
    assert_eq!(cached(&r), [false, false]);
    let (r, err) = c.build(&t, "2.tar", LAYERS);
    assert_eq!(cached(&r), [true, true]);
    assert!(
        err.contains("2 layers gzip") && err.contains("2 from the cache"),
        "{err}"
    );
    assert_eq!(read(&t, "1.tar"), read(&t, "2.tar"));
    // One app file changed: only the app layer is built again.
    t.file("src/main.js", "console.log('v2');\n");
    set_mtime(&t.ctx().join("src/main.js"), 1_600_000_000);
    let (r, _) = c.build(&t, "3.tar", LAYERS);
    assert_eq!(cached(&r), [true, false]);
    assert_eq!(read(&t, "3.tar"), fresh(&t, "3-fresh.tar", LAYERS));
    // Other forms and compressions are cached on their own keys.
    let (r, _) = c.build(&t, "4.tar", &[LAYERS, &["--compression", "zstd"]].concat());
    assert_eq!(cached(&r), [false, false]);
    let (r, _) = c.build(&t, "layout", &[LAYERS, &["--format", "oci-dir"]].concat());
    assert_eq!(cached(&r), [true, true]);
    // --no-cache neither reads nor writes the cache.
    let before = list_dir(&c.blobs());
    fresh(&t, "5.tar", &["--layer", "src"]);
    assert_eq!(list_dir(&c.blobs()), before);
}

/// Rebuild after `change`: the build must not reuse the app layer, and must give the bytes
/// of a build without a cache.
fn no_wrong_hit(change: impl Fn(&TestContext)) {
    let t = TestContext::new();
    app(&t);
    // Past the racy window (3 s), so the first build trusts the files' fingerprints and
    // records no content digests: only the fingerprint can tell the change.
    std::thread::sleep(std::time::Duration::from_millis(3300));
    let c = Cache::new();
    c.build(&t, "1.tar", LAYERS);
    change(&t);
    let (r, _) = c.build(&t, "2.tar", LAYERS);
    assert_eq!(cached(&r), [true, false], "the changed layer was reused");
    assert_eq!(read(&t, "2.tar"), fresh(&t, "fresh.tar", LAYERS));
}

#[test]
fn a_file_rewritten_with_its_size_and_mtime_restored_is_read_again() {
    no_wrong_hit(|t| {
        // The same length, then `touch -d` puts the old mtime back.
        t.file("src/main.js", "console.log('v9');\n");
        let status = std::process::Command::new("touch")
            .args(["-d", "@1600000000"])
            .arg(t.ctx().join("src/main.js"))
            .status()
            .unwrap();
        assert!(status.success());
    });
}

#[test]
fn an_inode_swap_is_read_again() {
    no_wrong_hit(|t| {
        // Another file with the same size and mtime moved over the old one.
        let other = t.root().join("swap.js");
        std::fs::write(&other, "console.log('vX');\n").unwrap();
        set_mtime(&other, 1_600_000_000);
        std::fs::rename(&other, t.ctx().join("src/main.js")).unwrap();
    });
}

#[test]
fn a_change_within_the_same_second_is_read_again() {
    let t = TestContext::new();
    app(&t);
    // Files written just now: the cache entry records them as racy.
    t.file("src/main.js", "console.log('n1');\n");
    let c = Cache::new();
    c.build(&t, "1.tar", LAYERS);
    let path = t.ctx().join("src/main.js");
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    t.file("src/main.js", "console.log('n2');\n");
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let (r, _) = c.build(&t, "2.tar", LAYERS);
    assert_eq!(cached(&r), [true, false]);
    assert_eq!(read(&t, "2.tar"), fresh(&t, "fresh.tar", LAYERS));
}

#[test]
fn a_damaged_cached_blob_is_never_copied_and_is_built_again() {
    let t = TestContext::new();
    app(&t);
    let c = Cache::new();
    c.build(&t, "1.tar", &[]);
    for name in list_dir(&c.blobs()) {
        let p = c.blobs().join(name);
        let mut bytes = std::fs::read(&p).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x40;
        std::fs::write(&p, bytes).unwrap();
    }
    let (r, err) = c.build(&t, "2.tar", &[]);
    assert_eq!(cached(&r), [false]);
    assert!(
        err.contains("is damaged; it was removed and the layer built again"),
        "{err}"
    );
    assert_eq!(read(&t, "2.tar"), read(&t, "1.tar"));
    // The entry was stored again, whole: the next build reuses it.
    let (r, _) = c.build(&t, "3.tar", &[]);
    assert_eq!(cached(&r), [true]);
    assert_eq!(read(&t, "3.tar"), read(&t, "1.tar"));
    // A stream to stdout from a damaged entry is as good.
    for name in list_dir(&c.blobs()) {
        std::fs::write(c.blobs().join(name), b"garbage").unwrap();
    }
    let out = t
        .cmd()
        .args(["build", "ctx", "-o", "-", "-q", "--cache-dir"])
        .arg(c.path())
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(out, read(&t, "1.tar"));
}

#[test]
fn concurrent_builds_share_one_cache() {
    let t = TestContext::new();
    app(&t);
    for i in 0..6 {
        t.file(
            format!("../ctx{i}/file"),
            format!("context {i}\n").repeat(1000 * (i + 1)),
        );
    }
    let c = Cache::new();
    let bin = env!("CARGO_BIN_EXE_imgbuild");
    let mut children = Vec::new();
    for round in 0..2 {
        for i in 0..6 {
            let ctx = t.root().join(if i % 2 == 0 {
                "ctx".to_owned()
            } else {
                format!("ctx{i}")
            });
            let out = t.out(&format!("c{round}-{i}.tar"));
            let child = std::process::Command::new(bin)
                .arg("build")
                .arg(&ctx)
                .arg("-o")
                .arg(&out)
                .args(["-q", "--layer", "node_modules", "--cache-max-size", "40K"])
                .arg("--cache-dir")
                .arg(c.path())
                .env("SOURCE_DATE_EPOCH", "1700000000")
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap();
            children.push(child);
        }
    }
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let same = read(&t, "c0-0.tar");
    assert_eq!(read(&t, "c1-2.tar"), same);
    assert_eq!(same, fresh(&t, "f.tar", LAYERS));
    let info = t
        .cmd()
        .args(["cache", "info", "--json", "--cache-dir"])
        .arg(c.path())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let info: Value = serde_json::from_slice(&info).unwrap();
    assert!(info["total_bytes"].as_u64().unwrap() <= 40 << 10, "{info}");
    // Every blob left verifies: its name is its digest.
    for name in list_dir(&c.blobs()) {
        if name.starts_with('.') {
            continue;
        }
        let bytes = std::fs::read(c.blobs().join(&name)).unwrap();
        let digest = crate::registry::sha256_digest(&bytes);
        assert_eq!(digest, format!("sha256:{name}"));
    }
}

#[test]
fn the_cache_is_bounded_and_a_broken_one_is_only_a_warning() {
    let t = TestContext::new();
    app(&t);
    let c = Cache::new();
    let (_, _) = c.build(&t, "1.tar", &[LAYERS, &["--cache-max-size", "0"]].concat());
    assert!(
        list_dir(&c.blobs()).iter().all(|n| n.starts_with('.')),
        "{:?}",
        list_dir(&c.blobs())
    );
    t.build("2.tar", &["--cache-max-size", "lots"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid --cache-max-size 'lots'"));
    // A cache directory that is a file: the build goes on and says why it did not cache.
    let file = t.root().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    t.build("3.tar", &["--cache-dir", file.to_str().unwrap()])
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "warning: the layer cache is not used",
        ));
    assert_eq!(read(&t, "3.tar"), fresh(&t, "4.tar", &[]));
}
