//! `--base` and several platforms: bases made by imgbuild, umoci and skopeo (layout, OCI
//! archive, docker archive), config merging, verbatim base blobs, the index, and corrupted
//! or ambiguous bases that must fail without writing anything.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use predicates::prelude::*;
use serde_json::json;

use crate::checker::{CheckOptions, CheckedImage, check_image, check_image_with};
use crate::interop::{Podman, require_tool, run, s};
use crate::util::{TestContext, imgbuild_cmd, list_dir};

const EPOCH: &str = "1700000000";

/// A base image built by imgbuild from `base/` in the test root: two platforms, tagged.
fn make_base(t: &TestContext, name: &str, platforms: &str, extra: &[&str]) -> PathBuf {
    let base_ctx = t.root().join("base");
    fs::create_dir_all(base_ctx.join("etc")).unwrap();
    fs::create_dir_all(base_ctx.join("opt")).unwrap();
    fs::set_permissions(
        base_ctx.join("opt"),
        std::os::unix::fs::PermissionsExt::from_mode(0o750),
    )
    .unwrap();
    fs::write(base_ctx.join("etc/os-release"), "NAME=testbase\n").unwrap();
    let out = t.root().join(name);
    imgbuild_cmd(t.root())
        .args(["build", "base", "-o"])
        .arg(&out)
        .args([
            "-t",
            "base:1",
            "--platform",
            platforms,
            "--env",
            "PATH=/bin",
            "--env",
            "LANG=C",
        ])
        .args([
            "--label",
            "from=base",
            "--cmd",
            "base-cmd",
            "--workdir",
            "/base",
        ])
        .args(extra)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .assert()
        .success();
    out
}

fn build_on(t: &TestContext, base: &str, args: &[&str]) -> (String, CheckedImage) {
    let digest = t.build_digest("img.tar", &[&["--base", base][..], args].concat());
    (digest, check_image(&t.out("img.tar")).unwrap())
}

fn paths(img: &CheckedImage, manifest: usize, layer: usize) -> Vec<String> {
    img.manifests[manifest].layers[layer]
        .entries
        .iter()
        .map(|e| e.path.clone())
        .collect()
}

#[test]
fn two_platform_build_on_a_two_platform_base() {
    let t = TestContext::new();
    t.file("app/run", "#!/bin/sh\n");
    let base = make_base(&t, "base.tar", "linux/amd64,linux/arm64", &[]);
    let base_img = check_image(&base).unwrap();
    let base_ref = format!("oci-archive:{}:base:1", base.display());
    let (digest, img) = build_on(
        &t,
        &base_ref,
        &[
            "--platform",
            "linux/amd64,linux/arm64",
            "--env",
            "LANG=C.UTF-8",
            "--entrypoint",
            "/app/run",
            "-t",
            "app:1",
        ],
    );
    assert_eq!(
        img.index["manifests"][0]["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    assert_eq!(img.index["manifests"][0]["digest"], digest.as_str());
    assert_eq!(img.manifests.len(), 2);
    let our_layer = img.manifests[0].layers[1].digest.clone();
    for (m, base_m) in img.manifests.iter().zip(&base_img.manifests) {
        assert_eq!(m.platform.to_string(), base_m.platform.to_string());
        assert_eq!(m.layers.len(), 2);
        assert_eq!(
            m.layers[0].digest, base_m.layers[0].digest,
            "base layer copied verbatim"
        );
        assert_eq!(
            m.layers[1].digest, our_layer,
            "one context layer shared by all platforms"
        );
        let c = &m.config["config"];
        assert_eq!(c["Env"], json!(["PATH=/bin", "LANG=C.UTF-8"]));
        assert_eq!(c["Labels"], json!({"from": "base"}));
        assert_eq!(c["Entrypoint"], json!(["/app/run"]));
        assert!(
            c.get("Cmd").is_none(),
            "--entrypoint clears the inherited cmd"
        );
        assert_eq!(c["WorkingDir"], "/base");
        assert_eq!(m.config["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
        assert_eq!(m.config["history"].as_array().unwrap().len(), 2);
        let ann = &m.manifest["annotations"];
        assert_eq!(ann["org.opencontainers.image.base.name"], "base:1");
        assert_eq!(
            ann["org.opencontainers.image.base.digest"],
            base_m.digest.as_str()
        );
    }
    // The base blob bytes in our archive are the base's bytes (the checker re-hashed them).
    assert!(img.blobs.contains(&base_img.manifests[1].layers[0].digest));
    // Docker's manifest.json names one image: the host's platform (amd64 here) or the first.
    let docker = img.docker_manifest.as_ref().unwrap();
    assert_eq!(docker[0]["RepoTags"], json!(["app:1"]));
}

#[test]
fn base_platform_is_used_when_none_is_given_and_mismatch_is_refused() {
    let t = TestContext::new();
    t.file("f", "x");
    let base = make_base(&t, "arm.tar", "linux/arm64", &[]);
    let (_, img) = build_on(&t, &base.display().to_string(), &[]);
    assert_eq!(img.manifests[0].platform.to_string(), "linux/arm64/v8");
    t.build(
        "img2.tar",
        &[
            "--base",
            &base.display().to_string(),
            "--platform",
            "linux/amd64",
        ],
    )
    .assert()
    .code(2)
    .stderr(predicate::str::contains("has no image for linux/amd64"))
    .stderr(predicate::str::contains("it has: linux/arm64/v8"));
    assert!(!t.out("img2.tar").exists());
}

#[test]
fn platform_missing_from_a_multi_platform_base_lists_what_it_has() {
    let t = TestContext::new();
    t.file("f", "x");
    let base = make_base(&t, "base.tar", "linux/amd64,linux/arm64", &[]);
    t.build(
        "img.tar",
        &[
            "--base",
            &base.display().to_string(),
            "--platform",
            "linux/amd64,linux/s390x",
        ],
    )
    .assert()
    .code(2)
    .stderr(predicate::str::contains("no image for linux/s390x"))
    .stderr(predicate::str::contains("linux/amd64, linux/arm64/v8"));
    assert_eq!(list_dir(&t.root().join("out")), Vec::<String>::new());
}

#[test]
fn prefix_directories_that_the_base_has_are_not_emitted() {
    let t = TestContext::new();
    t.file("hello.txt", "hi");
    let base = make_base(&t, "base.tar", "linux/amd64", &[]);
    let (_, img) = build_on(&t, &base.display().to_string(), &["--prefix", "/opt/app"]);
    assert_eq!(
        paths(&img, 0, 1),
        ["opt/app/", "opt/app/hello.txt"],
        "opt/ comes from the base"
    );
    // Without a base, the parents are synthesised.
    t.build("plain.tar", &["--prefix", "/opt/app"])
        .assert()
        .success();
    let plain = check_image(&t.out("plain.tar")).unwrap();
    assert_eq!(
        paths(&plain, 0, 0),
        ["opt/", "opt/app/", "opt/app/hello.txt"]
    );
}

#[test]
fn same_base_same_tree_same_epoch_same_bytes() {
    let t = TestContext::new();
    t.file("a", "1").file("d/b", "2");
    let base = make_base(&t, "base.tar", "linux/amd64,linux/arm64", &[]);
    let args = ["--platform", "linux/arm64,linux/amd64", "-t", "x:1"];
    let (d1, _) = build_on(&t, &base.display().to_string(), &args);
    let first = fs::read(t.out("img.tar")).unwrap();
    let (d2, _) = build_on(&t, &base.display().to_string(), &args);
    assert_eq!(d1, d2);
    assert!(first == fs::read(t.out("img.tar")).unwrap());
}

#[test]
fn layout_with_several_images_needs_a_tag_and_tags_and_pins_select() {
    let t = TestContext::new();
    t.file("f", "x");
    let layout = t.root().join("layout");
    for tag in ["one:1", "two:2"] {
        imgbuild_cmd(t.root())
            .args(["build", "ctx", "--format", "oci-dir", "-o"])
            .arg(&layout)
            .args(["-t", tag, "--label", &format!("which={tag}")])
            .assert()
            .success();
    }
    let l = layout.display().to_string();
    t.build("img.tar", &["--base", &l])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("holds 2 images"))
        .stderr(predicate::str::contains("one:1, two:2"));
    t.build("img.tar", &["--base", &format!("oci:{l}:three")])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("tag 'three' is not in"));
    let (_, img) = build_on(&t, &format!("oci:{l}:two:2"), &[]);
    assert_eq!(
        img.manifests[0].config["config"]["Labels"]["which"],
        "two:2"
    );
    let one = check_image(&layout).unwrap();
    let one_digest = one
        .manifests
        .iter()
        .find(|m| m.ref_name.as_deref() == Some("one:1"))
        .unwrap()
        .digest
        .clone();
    let (_, img) = build_on(&t, &format!("{l}@{one_digest}"), &[]);
    assert_eq!(
        img.manifests[0].config["config"]["Labels"]["which"],
        "one:1"
    );
}

/// Corrupt a copy of a layout in a given way and check the build refuses it, writes nothing.
fn refuses(t: &TestContext, layout: &Path, needle: &str, code: i32) {
    t.build("bad.tar", &["--base", &format!("oci:{}", layout.display())])
        .assert()
        .code(code)
        .stderr(predicate::str::contains(needle));
    assert!(!t.out("bad.tar").exists());
    assert!(
        list_dir(&t.root().join("out"))
            .iter()
            .all(|n| n != "bad.tar" && !n.contains("imgbuild"))
    );
}

fn fresh_layout(t: &TestContext, name: &str) -> (PathBuf, CheckedImage) {
    let layout = t.root().join(name);
    imgbuild_cmd(t.root())
        .args([
            "build",
            "base",
            "--format",
            "oci-dir",
            "--compression",
            "none",
            "-o",
        ])
        .arg(&layout)
        .assert()
        .success();
    let img = check_image(&layout).unwrap();
    (layout, img)
}

#[test]
fn corrupted_bases_are_refused_naming_the_problem() {
    let t = TestContext::new();
    t.file("f", "x");
    fs::create_dir_all(t.root().join("base")).unwrap();
    fs::write(t.root().join("base/file"), "base content").unwrap();

    // A flipped byte in the layer blob.
    let (l, img) = fresh_layout(&t, "flip");
    let blob = l
        .join("blobs/sha256")
        .join(&img.manifests[0].layers[0].digest[7..]);
    let mut bytes = fs::read(&blob).unwrap();
    bytes[600] ^= 1;
    fs::write(&blob, bytes).unwrap();
    refuses(&t, &l, "does not match its descriptor", 3);

    // A missing blob.
    let (l, img) = fresh_layout(&t, "missing");
    fs::remove_file(
        l.join("blobs/sha256")
            .join(&img.manifests[0].layers[0].digest[7..]),
    )
    .unwrap();
    refuses(&t, &l, "is missing from the image", 3);

    // A wrong size in the manifest's layer descriptor (manifest rewritten, index fixed up).
    let (l, img) = fresh_layout(&t, "size");
    let m = &img.manifests[0];
    let mut manifest = m.manifest.clone();
    manifest["layers"][0]["size"] = json!(m.layers[0].size + 1);
    let raw = serde_json::to_vec(&manifest).unwrap();
    let hex = sha256_hex(&raw);
    fs::write(l.join("blobs/sha256").join(&hex), &raw).unwrap();
    let mut index = img.index.clone();
    index["manifests"][0]["digest"] = json!(format!("sha256:{hex}"));
    index["manifests"][0]["size"] = json!(raw.len());
    fs::write(l.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    refuses(&t, &l, "does not match its descriptor", 3);

    // A digest that is not a digest (path traversal attempt).
    let (l, img) = fresh_layout(&t, "traversal");
    let mut index = img.index.clone();
    index["manifests"][0]["digest"] = json!("sha256:../../../../etc/passwd");
    fs::write(l.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    refuses(&t, &l, "index.json", 3);

    // Not JSON at all.
    let (l, _) = fresh_layout(&t, "garbage");
    fs::write(l.join("index.json"), b"\x00\x01 not json").unwrap();
    refuses(&t, &l, "not valid JSON", 3);
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A tiny rootfs for bases made by other tools.
fn tool_base_tree(t: &TestContext) -> PathBuf {
    let tree = t.root().join("tooltree");
    fs::create_dir_all(tree.join("etc")).unwrap();
    fs::write(tree.join("etc/motd"), "from the base\n").unwrap();
    tree
}

/// Build on `base_ref`, unpack with umoci and check both the base's and our files are there.
fn unpacked_has_base_and_ours(t: &TestContext, base_ref: &str) {
    let Some(umoci) = require_tool("umoci") else {
        return;
    };
    t.file("app/hello.txt", "ours\n");
    let layout = t.out("built");
    let _ = fs::remove_dir_all(&layout);
    t.cmd()
        .args([
            "build", "ctx", "--format", "oci-dir", "-t", "app:1", "--env", "X=1", "--base",
            base_ref, "-o",
        ])
        .arg(&layout)
        .assert()
        .success();
    check_image(&layout).unwrap();
    let bundle = t.root().join("bundle");
    let _ = fs::remove_dir_all(&bundle);
    run(Command::new(umoci).args([
        "unpack",
        "--image",
        &format!("{}:app:1", s(&layout)),
        s(&bundle),
    ]));
    assert_eq!(
        fs::read_to_string(bundle.join("rootfs/etc/motd")).unwrap(),
        "from the base\n"
    );
    assert_eq!(
        fs::read_to_string(bundle.join("rootfs/app/hello.txt")).unwrap(),
        "ours\n"
    );
}

#[test]
fn base_made_by_umoci() {
    let Some(umoci) = require_tool("umoci") else {
        return;
    };
    let t = TestContext::new();
    let tree = tool_base_tree(&t);
    let layout = t.root().join("umoci-layout");
    let bundle = t.root().join("umoci-bundle");
    run(Command::new(&umoci).args(["init", "--layout", s(&layout)]));
    run(Command::new(&umoci).args(["new", "--image", &format!("{}:base", s(&layout))]));
    run(Command::new(&umoci).args([
        "unpack",
        "--image",
        &format!("{}:base", s(&layout)),
        s(&bundle),
    ]));
    fs::create_dir_all(bundle.join("rootfs/etc")).unwrap();
    fs::copy(tree.join("etc/motd"), bundle.join("rootfs/etc/motd")).unwrap();
    run(Command::new(&umoci).args([
        "repack",
        "--image",
        &format!("{}:base", s(&layout)),
        s(&bundle),
    ]));
    run(Command::new(&umoci).args([
        "config",
        "--image",
        &format!("{}:base", s(&layout)),
        "--config.env",
        "FROM_UMOCI=yes",
    ]));
    unpacked_has_base_and_ours(&t, &format!("oci:{}:base", s(&layout)));
    let img = check_image_with(&t.out("built"), &CheckOptions::default()).unwrap();
    let env = &img.manifests[0].config["config"]["Env"];
    assert!(
        env.as_array()
            .unwrap()
            .iter()
            .any(|e| e == "FROM_UMOCI=yes"),
        "{env}"
    );
    assert!(env.as_array().unwrap().iter().any(|e| e == "X=1"), "{env}");
}

/// A base archive made by skopeo from an imgbuild layout, in `transport` (oci-archive or
/// docker-archive).
fn skopeo_base(t: &TestContext, transport: &str) -> Option<String> {
    let skopeo = require_tool("skopeo")?;
    let tree = tool_base_tree(t);
    let layout = t.root().join("src-layout");
    let _ = fs::remove_dir_all(&layout);
    imgbuild_cmd(t.root())
        .arg("build")
        .arg(&tree)
        .args(["--format", "oci-dir", "-t", "base:1", "-o"])
        .arg(&layout)
        .assert()
        .success();
    let archive = t.root().join(format!("{transport}.tar"));
    let dest = if transport == "docker-archive" {
        format!("docker-archive:{}:base:1", s(&archive))
    } else {
        format!("{transport}:{}:base:1", s(&archive))
    };
    run(Command::new(skopeo).args(["copy", &format!("oci:{}:base:1", s(&layout)), &dest]));
    Some(format!("{transport}:{}:base:1", s(&archive)))
}

#[test]
fn base_made_by_skopeo_as_oci_archive() {
    let t = TestContext::new();
    let Some(base) = skopeo_base(&t, "oci-archive") else {
        return;
    };
    unpacked_has_base_and_ours(&t, &base);
}

#[test]
fn base_made_by_skopeo_as_docker_archive() {
    let t = TestContext::new();
    let Some(base) = skopeo_base(&t, "docker-archive") else {
        return;
    };
    unpacked_has_base_and_ours(&t, &base);
    // Docker layer media types become OCI ones; the blob is carried over unchanged.
    let img = check_image(&t.out("built")).unwrap();
    let base_layer = &img.manifests[0].layers[0];
    assert!(
        base_layer
            .media_type
            .starts_with("application/vnd.oci.image.layer.v1.tar"),
        "{}",
        base_layer.media_type
    );
    // Plain-path sniffing finds the docker archive too.
    let plain = base
        .trim_start_matches("docker-archive:")
        .trim_end_matches(":base:1")
        .to_owned();
    t.build("sniffed.tar", &["--base", &plain])
        .assert()
        .success();
}

#[test]
fn multi_platform_image_on_a_base_runs_in_podman() {
    let (Some(podman), Some(busybox)) = (Podman::new(), require_tool("busybox")) else {
        return;
    };
    let t = TestContext::new();
    let base_ctx = t.root().join("base");
    fs::create_dir_all(base_ctx.join("bin")).unwrap();
    fs::copy(&busybox, base_ctx.join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", base_ctx.join("bin/sh")).unwrap();
    imgbuild_cmd(t.root())
        .args([
            "build",
            "base",
            "-o",
            "bb.tar",
            "-t",
            "bb:1",
            "--platform",
            "linux/amd64,linux/arm64",
        ])
        .assert()
        .success();
    t.file("msg.txt", "hello from the top layer\n");
    t.build(
        "app.tar",
        &[
            "--base",
            "oci-archive:bb.tar:bb:1",
            "--platform",
            "linux/amd64,linux/arm64",
        ],
    )
    .args([
        "--prefix",
        "/srv",
        "--cmd",
        r#"["/bin/sh","-c","cat /srv/msg.txt"]"#,
        "-t",
        "app:2",
    ])
    .assert()
    .success();
    podman.run(&["load", "-q", "-i", s(&t.out("app.tar"))]);
    let out = podman.run_container("app:2");
    assert_eq!(out, "hello from the top layer\n");
}
