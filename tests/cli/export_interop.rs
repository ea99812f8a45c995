//! inspect and export against images other tools made and tools that read what we export:
//! umoci (whiteouts from `umoci repack`, an opaque directory through `umoci raw add-layer`),
//! skopeo (classic docker-save archives), podman (`podman load` of a docker-archive
//! export). Skipped with a note when a tool is missing, unless IMGBUILD_REQUIRE_INTEROP=1.
//! See: issue #5.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::checker::{CheckOptions, check_image, check_image_with};
use crate::hostile::{self, dir, file};
use crate::interop::{require_tool, rich_context};
use crate::snapshot::{diff_snapshots, snapshot};

fn root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        let required = std::env::var("IMGBUILD_REQUIRE_INTEROP").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "this interop test needs root, and IMGBUILD_REQUIRE_INTEROP=1 forbids skipping"
        );
        eprintln!("skipping: this interop test needs root");
    }
    root
}

/// Run and return stdout; panic with both streams on failure.
fn run(cmd: &mut Command) -> String {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn imgbuild(args: &[&str]) -> String {
    run(Command::new(env!("CARGO_BIN_EXE_imgbuild")).args(args))
}

fn s(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// A layout made by umoci: a rich base layer, then a layer deleting a file and a directory
/// (umoci writes whiteouts), then an opaque directory (`umoci raw add-layer`).
fn umoci_image(umoci: &Path, tmp: &Path) -> (PathBuf, PathBuf) {
    let layout = tmp.join("layout");
    let image = format!("{}:app", s(&layout));
    let bundle = tmp.join("bundle");
    run(Command::new(umoci).args(["init", "--layout", s(&layout)]));
    run(Command::new(umoci).args(["new", "--image", &image]));
    run(Command::new(umoci).args(["unpack", "--image", &image, s(&bundle)]));
    let rootfs = bundle.join("rootfs");
    rich_context(&rootfs);
    fs::create_dir_all(rootfs.join("opq/sub")).unwrap();
    fs::write(rootfs.join("opq/old"), "old\n").unwrap();
    fs::write(rootfs.join("opq/sub/deep"), "deep\n").unwrap();
    run(Command::new(umoci).args(["repack", "--image", &image, s(&bundle)]));
    fs::remove_dir_all(&bundle).unwrap();
    run(Command::new(umoci).args(["unpack", "--image", &image, s(&bundle)]));
    fs::remove_file(rootfs.join("hello.txt")).unwrap();
    fs::remove_dir_all(rootfs.join("nested")).unwrap();
    run(Command::new(umoci).args(["repack", "--image", &image, s(&bundle)]));
    let opaque = tmp.join("opaque.tar");
    fs::write(
        &opaque,
        hostile::tar(&[
            dir("opq/"),
            file("opq/.wh..wh..opq", b""),
            file("opq/new", b"new\n"),
        ]),
    )
    .unwrap();
    run(Command::new(umoci).args(["raw", "add-layer", "--image", &image, s(&opaque)]));
    run(Command::new(umoci).args(["gc", "--layout", s(&layout)]));
    let unpacked = tmp.join("unpacked");
    run(Command::new(umoci).args(["unpack", "--image", &image, s(&unpacked)]));
    (layout, unpacked.join("rootfs"))
}

#[test]
fn umoci_whiteouts_and_opaque_dirs_flatten_as_umoci_unpacks_them() {
    let Some(umoci) = require_tool("umoci").filter(|_| root()) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (layout, reference) = umoci_image(&umoci, tmp.path());
    let src = format!("oci:{}:app", s(&layout));
    let listing = imgbuild(&["inspect", "--files", &src]);
    for want in [
        "[whiteout: deletes hello.txt]",
        "[whiteout: deletes nested]",
        "opq/.wh..wh..opq  [opaque: hides what lower layers have in opq/]",
    ] {
        assert!(listing.contains(want), "{want:?} not in:\n{listing}");
    }
    let out = tmp.path().join("rootfs");
    imgbuild(&["export", &src, "--format", "rootfs-dir", "-o", s(&out)]);
    let diff = diff_snapshots(&snapshot(&reference), &snapshot(&out));
    assert!(
        diff.is_empty(),
        "export differs from umoci unpack:\n{}",
        diff.join("\n")
    );
    assert!(out.join("opq/new").is_file() && !out.join("opq/old").exists());
    assert!(!out.join("hello.txt").exists() && !out.join("nested").exists());
    // The tar form extracts to the same tree.
    let tar_path = tmp.path().join("rootfs.tar");
    imgbuild(&["export", &src, "--format", "rootfs-tar", "-o", s(&tar_path)]);
    let extracted = tmp.path().join("extracted");
    fs::create_dir(&extracted).unwrap();
    run(Command::new("tar").args(["-xpf", s(&tar_path), "-C", s(&extracted)]));
    let diff = diff_snapshots(&snapshot(&reference), &snapshot(&extracted));
    assert!(
        diff.is_empty(),
        "rootfs-tar differs from umoci unpack:\n{}",
        diff.join("\n")
    );
}

#[test]
fn skopeo_docker_archives_are_inspected_and_exported() {
    let (Some(umoci), Some(skopeo)) = (require_tool("umoci"), require_tool("skopeo")) else {
        return;
    };
    if !root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (layout, reference) = umoci_image(&umoci, tmp.path());
    let classic = tmp.path().join("classic.tar");
    run(Command::new(&skopeo).args([
        "copy",
        "-q",
        &format!("oci:{}:app", s(&layout)),
        &format!("docker-archive:{}:app:1", s(&classic)),
    ]));
    let report: Value =
        serde_json::from_str(&imgbuild(&["inspect", "--json", "--verify", s(&classic)])).unwrap();
    assert_eq!(report["format"], "docker-archive");
    assert_eq!(
        report["tags"],
        serde_json::json!(["docker.io/library/app:1"])
    );
    assert_eq!(report["verify"]["ok"], true);
    assert_eq!(report["manifest"]["layers"].as_array().unwrap().len(), 3);
    let out = tmp.path().join("rootfs");
    imgbuild(&[
        "export",
        s(&classic),
        "--format",
        "rootfs-dir",
        "-o",
        s(&out),
    ]);
    let diff = diff_snapshots(&snapshot(&reference), &snapshot(&out));
    assert!(diff.is_empty(), "{}", diff.join("\n"));
    // Converted to an OCI archive: skopeo reads it and our checker accepts it.
    let oci = tmp.path().join("oci.tar");
    let digest = imgbuild(&["export", s(&classic), "-o", s(&oci)]);
    let img = check_image_with(&oci, &CheckOptions::default()).unwrap();
    assert_eq!(img.single().unwrap().digest, digest.trim());
    let inspected: Value = serde_json::from_str(&run(
        Command::new(&skopeo).args(["inspect", &format!("oci-archive:{}", s(&oci))])
    ))
    .unwrap();
    assert_eq!(inspected["Digest"], digest.trim());
}

#[test]
fn podman_loads_a_docker_archive_export() {
    let Some(podman) = require_tool("podman").filter(|_| root()) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let ctx = tmp.path().join("ctx");
    fs::create_dir(&ctx).unwrap();
    rich_context(&ctx);
    let multi = tmp.path().join("multi.tar");
    imgbuild(&[
        "build",
        s(&ctx),
        "-o",
        s(&multi),
        "--platform",
        "linux/amd64,linux/arm64",
        "-t",
        "app:1",
    ]);
    let docker = tmp.path().join("docker.tar");
    let digest = imgbuild(&[
        "export",
        s(&multi),
        "--format",
        "docker-archive",
        "--platform",
        "linux/amd64",
        "-t",
        "loaded:2",
        "-o",
        s(&docker),
    ]);
    let digest = digest.trim();
    assert_eq!(
        check_image(&docker).unwrap().single().unwrap().digest,
        digest
    );
    let state = tempfile::tempdir().unwrap();
    let p = |args: &[&str]| {
        let d = |n: &str| state.path().join(n);
        run(Command::new(&podman)
            .arg("--root")
            .arg(d("root"))
            .arg("--runroot")
            .arg(d("runroot"))
            .arg("--tmpdir")
            .arg(d("tmp"))
            .args([
                "--storage-driver",
                "vfs",
                "--events-backend",
                "none",
                "--cgroup-manager",
                "cgroupfs",
            ])
            .args(args))
    };
    let out = p(&["load", "-i", s(&docker)]);
    assert!(out.contains("localhost/loaded:2"), "{out}");
    let images = p(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.Digest}}"]);
    let want = format!("localhost/loaded:2 {digest}");
    assert!(
        images.lines().any(|l| l == want),
        "podman images lacks {want:?}:\n{images}"
    );
}

/// As an unprivileged user (through `setpriv`): read-only and 0000 directories of the image
/// are filled anyway (modes are applied last), setuid bits are kept, devices are left out
/// with a warning.
#[test]
fn rootfs_dir_as_an_unprivileged_user() {
    let Some(setpriv) = require_tool("setpriv").filter(|_| root()) else {
        return;
    };
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let img = hostile::Img::new(vec![hostile::Layer::gzip(&[
        hostile::E::Dir("ro/", 0o500),
        hostile::E::File("ro/f", b"secret", 0o400),
        hostile::E::Dir("none/", 0o000),
        hostile::E::File("none/x", b"x", 0o644),
        hostile::E::File("suid", b"#!", 0o4755),
    ])])
    .archive(&tmp.path().join("img.tar"));
    fs::set_permissions(&img.path, fs::Permissions::from_mode(0o644)).unwrap();
    let out = tmp.path().join("rootfs");
    let status = Command::new(setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_imgbuild"))
        .args([
            "export",
            s(&img.path),
            "--format",
            "rootfs-dir",
            "-o",
            s(&out),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let mode = |p: &str| {
        fs::symlink_metadata(out.join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(
        (mode("ro"), mode("none"), mode("suid")),
        (0o500, 0o000, 0o4755)
    );
    assert_eq!(fs::read_to_string(out.join("ro/f")).unwrap(), "secret");
    assert_eq!(fs::read_to_string(out.join("none/x")).unwrap(), "x");
}
