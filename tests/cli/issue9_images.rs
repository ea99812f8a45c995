//! Issue #9 tests: issue9_images.
//! Untrusted images: each descriptor verified in its own role, platform sets under one tag
//! in index.json, embedded descriptor data, truncated archives, layout files that are
//! symlinks or missing.

use std::fs;
use std::path::Path;

use predicates::prelude::*;
use serde_json::{Value, json};

use crate::hostile::{self, Img, Layer, Written, file};
use crate::util::TestContext;

fn inspect(t: &TestContext, args: &[&str]) -> assert_cmd::assert::Assert {
    t.cmd().arg("inspect").args(args).assert()
}

fn stderr_of(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stderr).into_owned()
}

fn blob_path(dir: &Path, digest: &str) -> std::path::PathBuf {
    dir.join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

/// Replace the manifest of a one-image layout written by `Img::layout` with `f` applied to
/// its JSON; index.json then names the new manifest. Returns its digest.
fn rewrite_manifest(w: &Written, f: impl FnOnce(&mut Value)) -> String {
    let mut m: Value =
        serde_json::from_slice(&fs::read(blob_path(&w.path, &w.manifest)).unwrap()).unwrap();
    f(&mut m);
    let raw = serde_json::to_vec(&m).unwrap();
    let digest = hostile::sha256(&raw);
    fs::write(blob_path(&w.path, &digest), &raw).unwrap();
    rewrite_index(&w.path, |index| {
        index["manifests"][0]["digest"] = json!(digest);
        index["manifests"][0]["size"] = json!(raw.len());
    });
    digest
}

fn rewrite_index(dir: &Path, f: impl FnOnce(&mut Value)) {
    let path = dir.join("index.json");
    let mut index: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    f(&mut index);
    fs::write(&path, serde_json::to_vec(&index).unwrap()).unwrap();
}

/// Several images in one layout at `dir`, index.json listing each one's manifest (with its
/// platform and tag) in order: how several tools write a multi-platform layout.
pub(crate) fn merged_layout(dir: &Path, imgs: &[Img]) -> Vec<Written> {
    let mut entries = Vec::new();
    let mut written = Vec::new();
    for img in imgs {
        written.push(img.layout(dir));
        let index: Value =
            serde_json::from_slice(&fs::read(dir.join("index.json")).unwrap()).unwrap();
        entries.push(index["manifests"][0].clone());
    }
    rewrite_index(dir, |index| index["manifests"] = json!(entries));
    written
}

fn img(arch: &'static str, content: &'static [u8]) -> Img {
    let mut i = Img::new(vec![Layer::gzip(&[file("which", content)])]);
    i.arch = arch;
    i.tag = Some("latest");
    i
}

// --- 1. inspect --verify checks every descriptor in its own role ---

#[test]
fn issue_9_verify_checks_a_layer_that_claims_the_configs_digest() {
    // See: issue #9
    let t = TestContext::new();
    // The layer descriptor names the config blob (its digest, size, a layer media type):
    // the config is checked first, and the layer was then never read as a layer.
    let mut i = Img::new(vec![Layer::raw(Vec::new(), hostile::TAR)]);
    i.layers[0].diff_id = hostile::sha256(b"some tar");
    i.layers[0].blob = i.config();
    let w = i.layout(&t.root().join("img"));
    assert_eq!(
        w.layers[0], w.config,
        "the layer claims the config's digest"
    );
    let a = inspect(&t, &["--verify", "img"]).code(3);
    let err = stderr_of(&a);
    assert!(err.contains("failed verification"), "{err}");
    assert!(
        err.contains(&format!("layer 0 of manifest {}", w.manifest)),
        "{err}"
    );
    // The other readers agree.
    inspect(&t, &["--files", "img"]).code(3);
}

#[test]
fn issue_9_verify_checks_a_layer_repeated_with_another_media_type() {
    // See: issue #9
    let t = TestContext::new();
    let good = Layer::plain(&[file("a", b"a")]);
    // The same blob again, but described as gzip: it does not decompress.
    let mut again = good.clone();
    again.media_type = hostile::GZIP;
    let w = Img::new(vec![good, again]).layout(&t.root().join("img"));
    assert_eq!(w.layers[0], w.layers[1]);
    let a = inspect(&t, &["--verify", "img"]).code(3);
    let err = stderr_of(&a);
    assert!(err.contains("1 problem found"), "{err}");
    assert!(
        err.contains(&format!("layer 1 of manifest {}", w.manifest)),
        "{err}"
    );
    inspect(&t, &["--files", "--layer", "1", "img"]).code(3);
    // And described with another size: the second descriptor's size is checked too.
    let t = TestContext::new();
    let good = Layer::plain(&[file("a", b"a")]);
    let mut longer = good.clone();
    longer.declared_size = Some(good.blob.len() as u64 + 512);
    let w = Img::new(vec![good, longer]).layout(&t.root().join("img"));
    let a = inspect(&t, &["--verify", "img"]).code(3);
    let err = stderr_of(&a);
    assert!(
        err.contains(&format!("layer 1 of manifest {}", w.manifest))
            && err.contains("does not match its descriptor"),
        "{err}"
    );
    // export copied the blob once by digest and passed the second descriptor on unchecked.
    t.cmd()
        .args(["export", "img", "-o", "out/x.tar"])
        .assert()
        .code(3);
    assert!(crate::util::list_dir(&t.root().join("out")).is_empty());
}

#[test]
fn issue_9_verify_checks_each_listing_of_a_manifest() {
    // See: issue #9
    let t = TestContext::new();
    let dir = t.root().join("img");
    let w = img("amd64", b"x").layout(&dir);
    // An image index lists the same manifest twice: once rightly, once for another platform.
    let entry = |arch: &str| {
        json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": w.manifest,
            "size": fs::metadata(blob_path(&dir, &w.manifest)).unwrap().len(),
            "platform": {"os": "linux", "architecture": arch},
        })
    };
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [entry("amd64"), entry("arm64")],
    }))
    .unwrap();
    let digest = hostile::sha256(&index);
    fs::write(blob_path(&dir, &digest), &index).unwrap();
    rewrite_index(&dir, |top| {
        top["manifests"][0]["mediaType"] = json!("application/vnd.oci.image.index.v1+json");
        top["manifests"][0]["digest"] = json!(digest);
        top["manifests"][0]["size"] = json!(index.len());
        top["manifests"][0]
            .as_object_mut()
            .unwrap()
            .remove("platform");
    });
    let a = inspect(&t, &["--verify", "img"]).code(3);
    let err = stderr_of(&a);
    assert!(
        err.contains(&format!(
            "manifest {} is listed for linux/arm64",
            w.manifest
        )) && err.contains("but its config says linux/amd64"),
        "{err}"
    );
    inspect(&t, &["--platform", "linux/arm64", "img"]).code(3);
}

// --- 2. several manifests under one tag: a platform set ---

#[test]
fn issue_9_same_tag_for_several_platforms_is_a_platform_set() {
    // See: issue #9
    let t = TestContext::new();
    let dir = t.root().join("multi");
    let w = merged_layout(&dir, &[img("amd64", b"amd"), img("arm64", b"arm")]);
    for reference in ["multi", "oci:multi", "oci:multi:latest"] {
        inspect(&t, &["--platform", "linux/arm64", "--json", reference])
            .success()
            .stdout(predicate::str::contains(&w[1].manifest))
            .stdout(predicate::str::contains(&w[0].manifest));
    }
    // The default rule picks linux/amd64.
    let a = inspect(&t, &["--json", "multi"]).success();
    let report: Value = serde_json::from_slice(&a.get_output().stdout).unwrap();
    assert_eq!(report["manifest"]["digest"], json!(w[0].manifest));
    assert_eq!(report["manifest"]["platform"], json!("linux/amd64"));
    assert_eq!(report["tags"], json!(["latest"]));
    assert_eq!(report["platforms"].as_array().unwrap().len(), 2);
    // No match: the platforms there are are listed.
    inspect(&t, &["--platform", "linux/s390x", "multi"])
        .code(2)
        .stderr(predicate::str::contains("has no image for linux/s390x"))
        .stderr(predicate::str::contains("linux/amd64, linux/arm64"));
    // Two manifests, two configs, two layers: the index made for the set is not stored.
    inspect(&t, &["--verify", "multi"])
        .success()
        .stderr(predicate::str::contains("Verified 6 blobs"));
    // --raw index shows the stored index.json.
    let a = inspect(&t, &["--raw", "index", "multi"]).success();
    assert_eq!(
        a.get_output().stdout,
        fs::read(dir.join("index.json")).unwrap()
    );
    // export chooses the same way.
    t.cmd()
        .args(["export", "multi", "--platform", "linux/arm64", "--format"])
        .args(["rootfs-tar", "-o"])
        .arg(t.out("arm.tar"))
        .assert()
        .success();
    let rootfs = fs::read(t.out("arm.tar")).unwrap();
    assert!(rootfs.windows(3).any(|w| w == b"arm"));
    assert!(!rootfs.windows(3).any(|w| w == b"amd"));
    // And build --base.
    t.file("f", "x");
    t.build(
        "on-arm.tar",
        &["--base", "oci:multi:latest", "--platform", "linux/arm64"],
    )
    .env("SOURCE_DATE_EPOCH", "1700000000")
    .assert()
    .success();
    t.build(
        "on-both.tar",
        &["--base", "multi", "--platform", "linux/amd64,linux/arm64"],
    )
    .env("SOURCE_DATE_EPOCH", "1700000000")
    .assert()
    .success();
}

#[test]
fn issue_9_same_tag_twice_for_one_platform_is_ambiguous() {
    // See: issue #9
    let t = TestContext::new();
    let dir = t.root().join("two");
    let w = merged_layout(&dir, &[img("amd64", b"one"), img("amd64", b"two")]);
    assert_ne!(w[0].manifest, w[1].manifest);
    for reference in ["two", "oci:two:latest"] {
        let a = inspect(&t, &[reference]).code(3);
        let err = stderr_of(&a);
        assert!(err.contains("two images for linux/amd64"), "{err}");
        assert!(
            err.contains(&w[0].manifest) && err.contains(&w[1].manifest),
            "{err}"
        );
    }
    // A pinned digest names one of them.
    inspect(&t, &["--json", &format!("oci:two@{}", w[1].manifest)])
        .success()
        .stdout(predicate::str::contains(&w[1].config));
    t.cmd()
        .args(["export", "oci:two:latest", "--format", "rootfs-tar", "-o"])
        .arg(t.out("r.tar"))
        .assert()
        .code(3);
    assert!(!t.out("r.tar").exists());
    t.file("f", "x");
    t.build("img.tar", &["--base", "oci:two:latest"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains(&w[1].manifest));
}

// --- 3. embedded data must match the descriptor ---

#[test]
fn issue_9_embedded_data_must_match_digest_and_size() {
    // See: issue #9
    use base64_std as b64;
    let t = TestContext::new();
    let i = Img::new(vec![Layer::gzip(&[file("a", b"a")])]);
    let config = i.config();
    // Right data is fine.
    let w = i.layout(&t.root().join("good"));
    rewrite_manifest(&w, |m| m["config"]["data"] = json!(b64(&config)));
    inspect(&t, &["--verify", "good"]).success();
    // Other bytes, of the right size.
    let w = i.layout(&t.root().join("other"));
    let mut other = config.clone();
    other[0] ^= 1;
    rewrite_manifest(&w, |m| m["config"]["data"] = json!(b64(&other)));
    inspect(&t, &["other"])
        .code(3)
        .stderr(predicate::str::contains("embedded data"));
    // The right bytes and more.
    let w = i.layout(&t.root().join("longer"));
    let mut longer = config.clone();
    longer.push(b' ');
    rewrite_manifest(&w, |m| m["config"]["data"] = json!(b64(&longer)));
    inspect(&t, &["longer"])
        .code(3)
        .stderr(predicate::str::contains("embedded data"));
    // Not base64.
    let w = i.layout(&t.root().join("garbage"));
    rewrite_manifest(&w, |m| m["layers"][0]["data"] = json!("not base64!"));
    inspect(&t, &["garbage"])
        .code(3)
        .stderr(predicate::str::contains("not valid base64"));
    // On an index.json entry.
    let dir = t.root().join("top");
    i.layout(&dir);
    rewrite_index(&dir, |index| {
        index["manifests"][0]["data"] = json!(b64(b"{}"))
    });
    inspect(&t, &["top"])
        .code(3)
        .stderr(predicate::str::contains("embedded data"));
}

/// Standard base64 with padding, for the test's own data fields.
fn base64_std(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(A[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

// --- 4. truncated archives ---

/// Tar the files of the layout `dir` into `out` with the file `last` (a relative path) as
/// the last member, cut after `keep` bytes of its data.
pub(crate) fn cut_archive(dir: &Path, last: &str, keep: usize, out: &Path) {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    files.sort();
    files.retain(|f| f != last);
    let mut b = tar::Builder::new(Vec::new());
    let append = |b: &mut tar::Builder<Vec<u8>>, name: &str| {
        let data = fs::read(dir.join(name)).unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, &data[..]).unwrap();
    };
    for f in &files {
        append(&mut b, f);
    }
    let before = b.get_ref().len();
    append(&mut b, last);
    let mut bytes = b.into_inner().unwrap();
    assert!(
        before + 512 + keep < bytes.len() - 1024,
        "keep less than the member"
    );
    bytes.truncate(before + 512 + keep);
    fs::write(out, bytes).unwrap();
}

#[test]
fn issue_9_truncated_archive_fails_verify_and_warns_otherwise() {
    // See: issue #9
    let t = TestContext::new();
    let dir = t.root().join("layout");
    Img::new(vec![Layer::gzip(&[file("a", b"a")])]).layout(&dir);
    // A last member that nothing needs, cut in its data.
    fs::write(dir.join("zz-notes"), vec![b'n'; 4000]).unwrap();
    cut_archive(&dir, "zz-notes", 1000, &t.root().join("cut.tar"));
    let a = inspect(&t, &["--verify", "cut.tar"]).code(3);
    let err = stderr_of(&a);
    assert!(err.contains("truncated"), "{err}");
    assert!(err.contains("zz-notes"), "{err}");
    // A read that does not need the member goes on, with a warning.
    inspect(&t, &["cut.tar"])
        .success()
        .stderr(predicate::str::contains("warning"))
        .stderr(predicate::str::contains("truncated"))
        .stderr(predicate::str::contains("zz-notes"));
    // export warns too, in its report and in --json.
    for format in ["oci-archive", "rootfs-tar"] {
        let out = format!("out/{format}.tar");
        t.cmd()
            .args(["export", "cut.tar", "--format", format, "-o", &out])
            .assert()
            .success()
            .stderr(predicate::str::contains("warning"))
            .stderr(predicate::str::contains("zz-notes"));
    }
    t.cmd()
        .args(["export", "cut.tar", "--json", "-o", "out/j.tar"])
        .assert()
        .success()
        .stdout(predicate::str::contains("zz-notes"));
}

#[test]
fn issue_9_truncated_blob_in_an_archive_is_named() {
    // See: issue #9
    let t = TestContext::new();
    let dir = t.root().join("layout");
    let w = Img::new(vec![Layer::plain(&[file("a", &[b'a'; 3000])])]).layout(&dir);
    let hex = w.layers[0].trim_start_matches("sha256:").to_owned();
    let last = format!("blobs/sha256/{hex}");
    cut_archive(&dir, &last, 2000, &t.root().join("cut.tar"));
    inspect(&t, &["--files", "cut.tar"])
        .code(3)
        .stderr(predicate::str::contains("is truncated"))
        .stderr(predicate::str::contains(&hex));
}

// --- 5. layouts with symlinks, without index.json, unreadable ---

#[test]
fn issue_9_layout_files_that_are_symlinks_are_rejected() {
    // See: issue #9
    for name in ["blob", "index.json", "oci-layout"] {
        let t = TestContext::new();
        let dir = t.root().join("img");
        let w = Img::new(vec![Layer::gzip(&[file("a", b"a")])]).layout(&dir);
        let target = match name {
            "blob" => blob_path(&dir, &w.config),
            other => dir.join(other),
        };
        let moved = t.root().join("elsewhere");
        fs::rename(&target, &moved).unwrap();
        std::os::unix::fs::symlink(&moved, &target).unwrap();
        let a = inspect(&t, &["img"]).code(3);
        let err = stderr_of(&a);
        assert!(
            err.contains("is a symbolic link; blobs in an image layout must be regular files"),
            "{name}: {err}"
        );
        assert!(!err.contains("Too many levels"), "{name}: {err}");
    }
}

#[test]
fn issue_9_directory_without_index_json_is_not_a_layout() {
    // See: issue #9
    let t = TestContext::new();
    let dir = t.root().join("img");
    Img::new(vec![Layer::gzip(&[file("a", b"a")])]).layout(&dir);
    fs::remove_file(dir.join("index.json")).unwrap();
    for reference in ["img", "oci:img"] {
        inspect(&t, &[reference])
            .code(3)
            .stderr(predicate::str::contains(
                "is not an OCI image layout (no index.json)",
            ));
    }
}

/// The binary run as an unprivileged user when the tests run as root (root reads anything),
/// or None when that is not possible here.
fn unprivileged(dir: &Path) -> Option<assert_cmd::Command> {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let mut c = if root {
        let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"]
            .into_iter()
            .find(|p| Path::new(p).exists())?;
        let mut c = assert_cmd::Command::new(setpriv);
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_imgbuild"));
        c
    } else {
        assert_cmd::Command::new(env!("CARGO_BIN_EXE_imgbuild"))
    };
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .current_dir(dir);
    Some(c)
}

#[test]
fn issue_9_unreadable_image_file_fails_with_an_image_hint() {
    // See: issue #9
    use std::os::unix::fs::PermissionsExt;
    let t = TestContext::new();
    fs::set_permissions(t.root(), fs::Permissions::from_mode(0o755)).unwrap();
    let dir = t.root().join("img");
    let w = Img::new(vec![Layer::gzip(&[file("a", b"a")])]).layout(&dir);
    let archive = t.root().join("img.tar");
    hostile::tar_dir(&dir, &archive);
    let Some(mut probe) = unprivileged(t.root()) else {
        eprintln!("skipped: running as root without setpriv");
        return;
    };
    probe.args(["inspect", "img"]).assert().success();
    fs::set_permissions(
        blob_path(&dir, &w.config),
        fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    fs::set_permissions(&archive, fs::Permissions::from_mode(0o000)).unwrap();
    for reference in ["img", "img.tar"] {
        let a = unprivileged(t.root())
            .unwrap()
            .args(["inspect", reference])
            .assert()
            .code(1);
        let err = stderr_of(&a);
        assert!(err.contains("cannot read image file"), "{reference}: {err}");
        assert!(err.contains("Permission denied"), "{reference}: {err}");
        assert!(
            err.contains("hint: make the image readable"),
            "{reference}: {err}"
        );
        assert!(!err.contains(".dockerignore"), "{reference}: {err}");
    }
}

#[test]
fn issue_9_fifo_named_as_image_is_refused_without_blocking() {
    // See: issue #9
    let t = TestContext::new();
    let fifo =
        std::ffi::CString::new(t.root().join("pipe").as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    t.cmd()
        .args(["inspect", "pipe"])
        .timeout(std::time::Duration::from_secs(10))
        .assert()
        .code(3)
        .stderr(predicate::str::contains("is not a regular file"));
}
