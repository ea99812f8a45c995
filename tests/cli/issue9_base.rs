//! Issue #9 tests: base layers are verified while they are copied. A base whose layer has
//! the right digest and size but does not decompress, or decompresses to another diff_id,
//! or whose layer count differs from its diff_ids, is refused (exit 3) and nothing is
//! written; a layer shared by several platforms is checked once; a blob already in an
//! output layout is checked, not trusted; a truncated archive base gives warnings.

use std::fs;
use std::path::{Path, PathBuf};

use predicates::prelude::*;
use serde_json::{Value, json};

use crate::checker::check_image;
use crate::hostile::{self, E, GZIP, Img, Layer, file};
use crate::util::{TestContext, list_dir};

const EPOCH: &str = "1700000000";

fn stderr_of(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stderr).into_owned()
}

fn hex(digest: &str) -> &str {
    digest.trim_start_matches("sha256:")
}

/// A context with one file, and a base layout written from `img` at `base/`.
fn setup(img: &Img) -> (TestContext, hostile::Written) {
    let t = TestContext::new();
    t.file("app.txt", "app");
    let w = img.layout(&t.root().join("base"));
    (t, w)
}

fn base_arg(t: &TestContext) -> String {
    format!("oci:{}", t.root().join("base").display())
}

/// The build is refused with exit 3 naming `needles`, for an archive and a new layout
/// output alike, and leaves nothing in the output directory (no image, no temp file).
fn refused(t: &TestContext, needles: &[&str]) {
    for (name, format) in [("img.tar", "oci-archive"), ("img", "oci-dir")] {
        let a = t
            .build(name, &["--base", &base_arg(t), "--format", format])
            .env("SOURCE_DATE_EPOCH", EPOCH)
            .assert()
            .code(3);
        let err = stderr_of(&a);
        for n in needles {
            assert!(err.contains(n), "{format}: no '{n}' in: {err}");
        }
        assert!(!t.out(name).exists(), "{format}: the output appeared");
        assert_eq!(
            list_dir(&t.root().join("out")),
            Vec::<String>::new(),
            "{format}: something was left in the output directory"
        );
    }
}

fn inspect_verify(t: &TestContext, path: &Path) {
    t.cmd()
        .args(["inspect", "--verify"])
        .arg(path)
        .assert()
        .success();
}

fn one_layer_tar() -> Vec<E> {
    vec![E::Dir("etc", 0o755), file("etc/os-release", b"NAME=base\n")]
}

#[test]
fn issue_9_base_layer_that_is_not_valid_gzip_is_refused() {
    // See: issue #9
    let good = Layer::gzip(&one_layer_tar());
    let mut corrupt = good.blob.clone();
    // Inside the deflate data: the digest and size stay right (the layout names the blob
    // by its own digest), the stream does not decompress to what it did.
    let mid = corrupt.len() / 2;
    for b in &mut corrupt[mid..mid + 4] {
        *b ^= 0x55;
    }
    let mut layer = Layer::raw(corrupt, GZIP);
    layer.diff_id = good.diff_id.clone();
    let (t, w) = setup(&Img::new(vec![layer]));
    refused(&t, &[hex(&w.layers[0])]);
}

#[test]
fn issue_9_base_layer_that_is_not_gzip_at_all_is_refused() {
    // See: issue #9
    let mut layer = Layer::raw(b"this is not a gzip stream, only text".to_vec(), GZIP);
    layer.diff_id = hostile::sha256(b"anything");
    let (t, w) = setup(&Img::new(vec![layer]));
    refused(&t, &[hex(&w.layers[0]), "corrupt"]);
}

#[test]
fn issue_9_base_layer_with_another_diff_id_is_refused() {
    // See: issue #9
    let mut layer = Layer::gzip(&one_layer_tar());
    let actual = layer.diff_id.clone();
    let expected = hostile::sha256(b"the tar the config claims");
    layer.diff_id = expected.clone();
    let (t, w) = setup(&Img::new(vec![Layer::gzip(&[file("first", b"1")]), layer]));
    refused(&t, &[hex(&w.layers[1]), &expected, &actual, "diff_id"]);
}

#[test]
fn issue_9_zstd_and_plain_base_layers_with_another_diff_id_are_refused() {
    // See: issue #9
    for mut layer in [
        Layer::zstd(&one_layer_tar()),
        Layer::plain(&one_layer_tar()),
    ] {
        let expected = hostile::sha256(b"not this layer");
        let actual = std::mem::replace(&mut layer.diff_id, expected.clone());
        let (t, w) = setup(&Img::new(vec![layer]));
        refused(&t, &[hex(&w.layers[0]), &expected, &actual]);
    }
}

#[test]
fn issue_9_base_layer_that_is_not_a_valid_tar_is_refused() {
    // See: issue #9
    // Decompresses fine, and its sha256 is the diff_id, but it is not a tar: inspect
    // --verify would reject the image built on it.
    let junk = vec![b'j'; 2048];
    let mut layer = Layer::raw(hostile::gzip(&junk), GZIP);
    layer.diff_id = hostile::sha256(&junk);
    let (t, w) = setup(&Img::new(vec![layer]));
    refused(&t, &[hex(&w.layers[0])]);
}

#[test]
fn issue_9_base_with_more_diff_ids_than_layers_is_refused() {
    // See: issue #9
    let layer = Layer::gzip(&one_layer_tar());
    let mut img = Img::new(vec![layer.clone()]);
    img.config_extra = json!({"rootfs": {"type": "layers",
        "diff_ids": [layer.diff_id, hostile::sha256(b"a second layer")]}});
    let (t, w) = setup(&img);
    refused(&t, &[hex(&w.manifest), "1 layers", "2 diff_ids"]);
}

fn verified_lines<'a>(stderr: &'a str, digest: &str) -> Vec<&'a str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("verified base layer") && l.contains(digest))
        .collect()
}

#[test]
fn issue_9_layer_shared_by_two_platforms_is_verified_once() {
    // See: issue #9
    let shared = Layer::gzip(&one_layer_tar());
    let mut amd = Img::new(vec![shared.clone(), Layer::gzip(&[file("arch", b"amd64")])]);
    amd.tag = Some("latest");
    let mut arm = Img::new(vec![shared, Layer::zstd(&[file("arch", b"arm64")])]);
    arm.tag = Some("latest");
    arm.arch = "arm64";
    let t = TestContext::new();
    t.file("app.txt", "app");
    let w = crate::issue9_images::merged_layout(&t.root().join("base"), &[amd, arm]);
    assert_eq!(w[0].layers[0], w[1].layers[0]);
    let a = t
        .build(
            "img.tar",
            &[
                "--base",
                &base_arg(&t),
                "--platform",
                "linux/amd64,linux/arm64",
                "-v",
            ],
        )
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .assert()
        .success();
    let err = stderr_of(&a);
    assert_eq!(verified_lines(&err, &w[0].layers[0]).len(), 1, "{err}");
    assert_eq!(verified_lines(&err, &w[0].layers[1]).len(), 1, "{err}");
    assert_eq!(verified_lines(&err, &w[1].layers[1]).len(), 1, "{err}");
    assert_eq!(
        err.lines()
            .filter(|l| l.starts_with("verified base layer"))
            .count(),
        3,
        "{err}"
    );
    let img = check_image(&t.out("img.tar")).unwrap();
    assert_eq!(img.manifests.len(), 2);
    inspect_verify(&t, &t.out("img.tar"));
}

#[test]
fn issue_9_good_base_builds_and_passes_inspect_verify() {
    // See: issue #9
    let img = Img::new(vec![
        Layer::gzip(&one_layer_tar()),
        Layer::zstd(&[file("z", &[b'z'; 70_000])]),
        Layer::plain(&[file("p", b"plain")]),
    ]);
    let (t, w) = setup(&img);
    for (name, format) in [("img.tar", "oci-archive"), ("img", "oci-dir")] {
        let a = t
            .build(name, &["--base", &base_arg(&t), "--format", format, "-v"])
            .env("SOURCE_DATE_EPOCH", EPOCH)
            .assert()
            .success();
        // Each layer, whatever its compression, went through the checker.
        let err = stderr_of(&a);
        for l in &w.layers {
            assert_eq!(verified_lines(&err, l).len(), 1, "{err}");
        }
        let built = check_image(&t.out(name)).unwrap();
        let layers: Vec<&str> = built.manifests[0]
            .layers
            .iter()
            .map(|l| l.digest.as_str())
            .collect();
        assert_eq!(
            layers[..3],
            [
                w.layers[0].as_str(),
                w.layers[1].as_str(),
                w.layers[2].as_str()
            ]
        );
        inspect_verify(&t, &t.out(name));
    }
}

/// An oci-dir layout at out/layout made by imgbuild (no base).
fn existing_layout(t: &TestContext) -> PathBuf {
    let layout = t.out("layout");
    t.build("layout", &["--format", "oci-dir"])
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .assert()
        .success();
    layout
}

fn temp_names(dir: &Path) -> Vec<String> {
    list_dir(&dir.join("blobs/sha256"))
        .into_iter()
        .filter(|n| n.starts_with('.') || n.contains("imgbuild"))
        .collect()
}

#[test]
fn issue_9_existing_layout_with_a_corrupt_blob_under_the_layers_name_is_refused() {
    // See: issue #9
    let layer = Layer::gzip(&one_layer_tar());
    let (t, w) = setup(&Img::new(vec![layer.clone()]));
    let layout = existing_layout(&t);
    let index_before = fs::read(layout.join("index.json")).unwrap();
    let planted = layout.join("blobs/sha256").join(hex(&w.layers[0]));
    // Right name, wrong content (a truncated copy of the layer).
    fs::write(&planted, &layer.blob[..layer.blob.len() - 9]).unwrap();
    let a = t
        .build("layout", &["--base", &base_arg(&t), "--format", "oci-dir"])
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .assert()
        .code(3);
    let err = stderr_of(&a);
    assert!(err.contains(hex(&w.layers[0])), "{err}");
    assert!(err.contains("already in the output"), "{err}");
    assert_eq!(fs::read(layout.join("index.json")).unwrap(), index_before);
    assert_eq!(temp_names(&layout), Vec::<String>::new());

    // Once the blob is right, the same build succeeds without copying it again.
    fs::write(&planted, &layer.blob).unwrap();
    let a = t
        .build(
            "layout",
            &["--base", &base_arg(&t), "--format", "oci-dir", "-v"],
        )
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .assert()
        .success();
    let err = stderr_of(&a);
    let lines = verified_lines(&err, &w.layers[0]);
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains("already in the output"), "{err}");
    let digest = String::from_utf8(a.get_output().stdout.clone()).unwrap();
    let pinned = format!("oci:{}@{}", layout.display(), digest.trim());
    inspect_verify(&t, Path::new(&pinned));
}

#[test]
fn issue_9_existing_layout_with_a_symlink_under_the_layers_name_is_refused() {
    // See: issue #9
    let layer = Layer::gzip(&one_layer_tar());
    let (t, w) = setup(&Img::new(vec![layer]));
    let layout = existing_layout(&t);
    let planted = layout.join("blobs/sha256").join(hex(&w.layers[0]));
    let target = t.root().join("base/blobs/sha256").join(hex(&w.layers[0]));
    std::os::unix::fs::symlink(&target, &planted).unwrap();
    t.build("layout", &["--base", &base_arg(&t), "--format", "oci-dir"])
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .assert()
        .code(3)
        .stderr(predicate::str::contains("symbolic link"));
}

#[test]
fn issue_9_truncated_archive_base_gives_warnings_in_text_and_json() {
    // See: issue #9
    let (t, _) = setup(&Img::new(vec![Layer::gzip(&one_layer_tar())]));
    let cut = t.root().join("cut.tar");
    // A last member that nothing needs, cut inside its data.
    let dir = t.root().join("base");
    fs::write(dir.join("zz-notes"), vec![b'n'; 4000]).unwrap();
    crate::issue9_images::cut_archive(&dir, "zz-notes", 1000, &cut);
    let base = cut.display().to_string();
    t.build("img.tar", &["--base", &base])
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .assert()
        .success()
        .stderr(predicate::str::contains("warning"))
        .stderr(predicate::str::contains("truncated"))
        .stderr(predicate::str::contains("zz-notes"));
    let a = t
        .build("img2.tar", &["--base", &base, "--json"])
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .assert()
        .success();
    let report: Value = serde_json::from_slice(&a.get_output().stdout).unwrap();
    let warnings = report["warnings"].as_array().unwrap();
    assert!(
        warnings.iter().any(|w| {
            let w = w.as_str().unwrap_or("");
            w.contains("truncated") && w.contains("zz-notes")
        }),
        "{report}"
    );
    inspect_verify(&t, &t.out("img.tar"));
}
