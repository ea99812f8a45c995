//! Interop with real consumers of OCI images: skopeo, umoci, oci-image-tool, podman and runc
//! (Debian 12 packages). A missing tool skips its test with a note on stderr, unless
//! `IMGBUILD_REQUIRE_INTEROP=1`, where it fails the test so that a green CI means it ran.
//! Known limits of these versions: umoci 0.4.7 and oci-image-tool 1.0.0-rc1 cannot read zstd
//! layers, so zstd images reach umoci through `skopeo copy --dest-compress-format gzip` and
//! oci-image-tool validates their index, manifest and config documents one by one.
#![allow(dead_code)] // shared test support: not every test module uses every helper

use crate::checker::{self, CheckOptions, CheckedImage};
use crate::snapshot::{diff_snapshots, snapshot};
use serde_json::{Value, json};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use tempfile::TempDir;

const TAG: &str = "app:1";
const HELLO: &str = "hello from an imgbuild image\n";
const CAT_HELLO: &str = r#"["/bin/sh","-c","cat /hello.txt"]"#;

/// The tool's path, or `None` after printing `skipping: <name> not installed` (a panic instead
/// when `IMGBUILD_REQUIRE_INTEROP=1`).
pub fn require_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).chain(["/usr/sbin".into(), "/sbin".into()]);
    let executable = |p: &PathBuf| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    let found = dirs.map(|d| d.join(name)).find(executable);
    if found.is_none() {
        skip(&format!("{name} not installed"));
    }
    found
}

/// umoci unpack/repack (without --rootless), runc and podman here keep owners and setuid bits,
/// which needs root; false (after `skip`) otherwise.
pub fn require_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        skip("this interop test needs root");
    }
    root
}

/// Prints `skipping: WHY` on stderr, or panics when `IMGBUILD_REQUIRE_INTEROP=1`.
pub fn skip(why: &str) {
    let required = std::env::var("IMGBUILD_REQUIRE_INTEROP").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "{why}, and IMGBUILD_REQUIRE_INTEROP=1 forbids skipping"
    );
    eprintln!("skipping: {why}");
}

/// Runs `cmd` and returns its stdout; panics with the command, status and both streams.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    stdout.into_owned()
}

fn tool(path: &Path, args: &[&str]) -> String {
    run(Command::new(path).args(args))
}

/// A temp path as an argument (tempfile's names are ASCII).
pub fn s(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

/// `imgbuild build CTX ARGS...`; asserts success and a stdout of exactly `sha256:<hex>\n`.
fn build(ctx: &Path, args: &[&str]) -> String {
    let stdout = run(Command::new(env!("CARGO_BIN_EXE_imgbuild"))
        .arg("build")
        .arg(ctx)
        .args(args));
    let digest = stdout.strip_suffix('\n').unwrap_or_default();
    let hex = digest.strip_prefix("sha256:").unwrap_or_default();
    let ok = hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    assert!(
        ok,
        "build stdout should be one `sha256:<hex>` line, got {stdout:?}"
    );
    digest.to_string()
}

/// Builds `ctx` as an OCI archive tagged `TAG`, and runs our own checker on it.
fn build_archive(ctx: &Path, dir: &Path, compression: &str, extra: &[&str]) -> (PathBuf, String) {
    let out = dir.join(format!("{compression}.tar"));
    let args = [
        &["-o", s(&out), "-t", TAG, "--compression", compression],
        extra,
    ]
    .concat();
    let digest = build(ctx, &args);
    let img = checked(&out, &CheckOptions::default());
    assert_eq!(
        img.single().unwrap().digest,
        digest,
        "build printed another digest"
    );
    assert_eq!(img.ref_names(), [TAG]);
    (out, digest)
}

/// Builds `ctx` as an OCI layout directory tagged `TAG`, and runs our own checker on it.
fn build_layout(ctx: &Path, dir: &Path, compression: &str, extra: &[&str]) -> (PathBuf, String) {
    let out = dir.join(format!("{compression}-layout"));
    let args = [
        "--format",
        "oci-dir",
        "-o",
        s(&out),
        "-t",
        TAG,
        "--compression",
        compression,
    ];
    let digest = build(ctx, &[&args[..], extra].concat());
    assert_eq!(
        checked(&out, &CheckOptions::default())
            .single()
            .unwrap()
            .digest,
        digest
    );
    (out, digest)
}

fn checked(path: &Path, opts: &CheckOptions) -> CheckedImage {
    checker::check_image_with(path, opts).unwrap_or_else(|e| panic!("{e:#}"))
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A context with every kind of entry the builder must keep: an executable, nested and empty
/// dirs, relative and absolute symlinks, a hard-link pair, setuid/setgid/sticky modes, a path
/// longer than 100 bytes and a non-ASCII name.
pub fn rich_context(root: &Path) {
    let file = |rel: &str, data: &str, mode: u32| {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, data).unwrap();
        chmod(&path, mode);
    };
    file("hello.txt", HELLO, 0o644);
    file("bin/tool", "#!/bin/sh\necho tool\n", 0o755);
    file("nested/a/b/c/deep.txt", "deep\n", 0o640);
    file("target/file", "target\n", 0o644);
    file("hard/one", "shared inode\n", 0o644);
    file("setuid-tool", "#!/bin/sh\n", 0o4755);
    file(
        &format!("long/{}/{}.txt", "d".repeat(60), "f".repeat(70)),
        "long\n",
        0o644,
    );
    file("données/é.txt", "accents\n", 0o644);
    std::fs::hard_link(root.join("hard/one"), root.join("hard/two")).unwrap();
    symlink("target/file", root.join("link")).unwrap();
    symlink("/etc/hostname", root.join("abs-link")).unwrap();
    for (dir, mode) in [("empty", 0o755), ("tmp", 0o1777), ("shared", 0o2775)] {
        std::fs::create_dir(root.join(dir)).unwrap();
        chmod(&root.join(dir), mode);
    }
    for dir in [
        "bin",
        "nested/a/b/c",
        "nested/a/b",
        "nested/a",
        "nested",
        "target",
        "hard",
    ] {
        chmod(&root.join(dir), 0o755);
    }
    for dir in ["long", "données"] {
        chmod(&root.join(dir), 0o755);
    }
}

fn context(tmp: &TempDir) -> PathBuf {
    let ctx = tmp.path().join("ctx");
    std::fs::create_dir(&ctx).unwrap();
    rich_context(&ctx);
    ctx
}

/// A context that runs: static busybox as `/bin/busybox`, `bin/sh -> busybox`, `/hello.txt`.
fn busybox_context(tmp: &TempDir, busybox: &Path) -> PathBuf {
    let ctx = tmp.path().join("ctx");
    std::fs::create_dir_all(ctx.join("bin")).unwrap();
    std::fs::copy(busybox, ctx.join("bin/busybox")).unwrap();
    chmod(&ctx.join("bin/busybox"), 0o755);
    symlink("busybox", ctx.join("bin/sh")).unwrap();
    std::fs::write(ctx.join("hello.txt"), HELLO).unwrap();
    ctx
}

fn skopeo_digest(skopeo: &Path, image: &str) -> String {
    let out: Value = serde_json::from_str(&tool(skopeo, &["inspect", image])).unwrap();
    let digest = out["Digest"].as_str();
    digest
        .unwrap_or_else(|| panic!("no Digest in `skopeo inspect {image}`: {out}"))
        .to_string()
}

/// skopeo inspects and copies the archive and the layout; `--preserve-digests` makes skopeo
/// fail rather than rewrite our manifest.
fn skopeo_reads(compression: &str) {
    let Some(skopeo) = require_tool("skopeo") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let ctx = context(&tmp);
    let (archive, digest) = build_archive(&ctx, tmp.path(), compression, &[]);
    let (layout, layout_digest) = build_layout(&ctx, tmp.path(), compression, &[]);
    let copy = [
        "copy",
        "--preserve-digests",
        "--dest-oci-accept-uncompressed-layers",
    ];
    for (src, digest) in [
        (format!("oci-archive:{}:{TAG}", s(&archive)), &digest),
        (format!("oci:{}:{TAG}", s(&layout)), &layout_digest),
    ] {
        assert_eq!(
            &skopeo_digest(&skopeo, &src),
            digest,
            "skopeo inspect {src}"
        );
        let dest = tmp
            .path()
            .join(format!("copy-of-{}", digest.len() + src.len()));
        tool(
            &skopeo,
            &[&copy[..], &[&src, &format!("oci:{}:{TAG}", s(&dest))]].concat(),
        );
        let img = checked(&dest, &CheckOptions::third_party());
        assert_eq!(&img.single().unwrap().digest, digest, "skopeo copy {src}");
    }
}

#[test]
fn skopeo_reads_gzip_images() {
    skopeo_reads("gzip");
}

#[test]
fn skopeo_reads_zstd_images() {
    skopeo_reads("zstd");
}

#[test]
fn skopeo_reads_uncompressed_images() {
    skopeo_reads("none");
}

fn oci_image_tool_validates(compression: &str) {
    let Some(oit) = require_tool("oci-image-tool") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (layout, digest) = build_layout(&context(&tmp), tmp.path(), compression, &[]);
    if compression != "zstd" {
        let name = format!("name={TAG}");
        let out = tool(
            &oit,
            &["validate", "--type", "image", "--ref", &name, s(&layout)],
        );
        assert!(out.contains("Validation succeeded"), "{out}");
        return;
    }
    eprintln!("note: oci-image-tool cannot read zstd layers; validating the documents only");
    let img = checked(&layout, &CheckOptions::default());
    let blob = |d: &str| {
        layout
            .join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
    };
    let config = blob(&img.single().unwrap().config_digest);
    let docs = [
        ("imageIndex", layout.join("index.json")),
        ("manifest", blob(&digest)),
    ];
    for (kind, path) in docs.into_iter().chain([("config", config)]) {
        let out = tool(&oit, &["validate", "--type", kind, s(&path)]);
        assert!(out.contains("Validation succeeded"), "{kind}: {out}");
    }
}

#[test]
fn oci_image_tool_validates_gzip_layouts() {
    oci_image_tool_validates("gzip");
}

#[test]
fn oci_image_tool_validates_zstd_layouts() {
    oci_image_tool_validates("zstd");
}

#[test]
fn oci_image_tool_validates_uncompressed_layouts() {
    oci_image_tool_validates("none");
}

/// `umoci unpack` of the built image gives back exactly the context: content, modes (setuid,
/// setgid, sticky), symlink targets, hard-link groups, empty and non-ASCII directories.
fn umoci_unpacks_the_context(compression: &str) {
    let Some(umoci) = require_tool("umoci").filter(|_| require_root()) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let ctx = context(&tmp);
    let (mut layout, _) = build_layout(&ctx, tmp.path(), compression, &[]);
    if compression == "zstd" {
        eprintln!("note: umoci 0.4.7 cannot read zstd layers; recompressing with skopeo first");
        let Some(skopeo) = require_tool("skopeo") else {
            return;
        };
        let gz = tmp.path().join("recompressed");
        let (src, dest) = (
            format!("oci:{}:{TAG}", s(&layout)),
            format!("oci:{}:{TAG}", s(&gz)),
        );
        tool(
            &skopeo,
            &["copy", "--dest-compress-format", "gzip", &src, &dest],
        );
        let img = checked(&gz, &CheckOptions::third_party());
        assert_eq!(
            img.single().unwrap().layers[0].media_type,
            checker::MEDIA_LAYER_GZIP
        );
        layout = gz;
    }
    let bundle = tmp.path().join("bundle");
    tool(
        &umoci,
        &[
            "unpack",
            "--image",
            &format!("{}:{TAG}", s(&layout)),
            s(&bundle),
        ],
    );
    let diff = diff_snapshots(&snapshot(&ctx), &snapshot(&bundle.join("rootfs")));
    assert!(
        diff.is_empty(),
        "umoci unpack differs from the context:\n{}",
        diff.join("\n")
    );
}

#[test]
fn umoci_unpacks_gzip_images_to_the_context() {
    umoci_unpacks_the_context("gzip");
}

#[test]
fn umoci_unpacks_zstd_images_to_the_context() {
    umoci_unpacks_the_context("zstd");
}

#[test]
fn umoci_unpacks_uncompressed_images_to_the_context() {
    umoci_unpacks_the_context("none");
}

/// podman with all of its state in a temp dir: vfs storage, no event log, cgroupfs.
pub struct Podman {
    bin: PathBuf,
    state: TempDir,
}

impl Podman {
    pub fn new() -> Option<Podman> {
        require_root().then_some(())?;
        Some(Podman {
            bin: require_tool("podman")?,
            state: tempfile::tempdir().unwrap(),
        })
    }

    /// Run a loaded image's default command (runc, no network, the ulimits this sandbox
    /// allows) and return its stdout.
    pub fn run_container(&self, image: &str) -> String {
        self.run(&[
            "run",
            "--rm",
            "--pull",
            "never",
            "--runtime",
            "runc",
            "--network",
            "none",
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=1024:1024",
            image,
        ])
    }

    pub fn run(&self, args: &[&str]) -> String {
        let dir = |name: &str| self.state.path().join(name);
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--root")
            .arg(dir("root"))
            .arg("--runroot")
            .arg(dir("runroot"));
        cmd.arg("--tmpdir")
            .arg(dir("tmp"))
            .args(["--storage-driver", "vfs"]);
        cmd.args(["--events-backend", "none", "--cgroup-manager", "cgroupfs"]);
        run(cmd.args(args))
    }
}

#[test]
fn podman_loads_archives_and_lists_the_tag() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = context(&tmp);
    for compression in ["gzip", "zstd", "none"] {
        // A fresh store each time: the three images share a config, hence a podman image ID.
        let Some(podman) = Podman::new() else { return };
        let (archive, digest) = build_archive(&ctx, tmp.path(), compression, &[]);
        let out = podman.run(&["load", "-i", s(&archive)]);
        assert!(
            out.contains(&format!("localhost/{TAG}")),
            "podman load ({compression}): {out}"
        );
        let images = podman.run(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.Digest}}"]);
        let want = format!("localhost/{TAG} {digest}");
        assert!(
            images.lines().any(|l| l == want),
            "podman images lacks {want:?}:\n{images}"
        );
    }
}

#[test]
fn podman_runs_a_container_from_the_image() {
    let (Some(podman), Some(busybox)) = (Podman::new(), require_tool("busybox")) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let ctx = busybox_context(&tmp, &busybox);
    let (archive, _) = build_archive(&ctx, tmp.path(), "gzip", &["--cmd", CAT_HELLO]);
    podman.run(&["load", "-q", "-i", s(&archive)]);
    assert_eq!(podman.run_container(TAG), HELLO);
}

#[test]
fn runc_runs_the_umoci_unpacked_bundle() {
    let tools = (
        require_tool("umoci"),
        require_tool("runc"),
        require_tool("busybox"),
    );
    let (Some(umoci), Some(runc), Some(busybox), true) =
        (tools.0, tools.1, tools.2, require_root())
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let ctx = busybox_context(&tmp, &busybox);
    let (layout, _) = build_layout(&ctx, tmp.path(), "gzip", &["--cmd", CAT_HELLO]);
    let bundle = tmp.path().join("bundle");
    tool(
        &umoci,
        &[
            "unpack",
            "--image",
            &format!("{}:{TAG}", s(&layout)),
            s(&bundle),
        ],
    );
    // umoci writes a spec for an interactive terminal; the test has none.
    let spec_path = bundle.join("config.json");
    let mut spec: Value = serde_json::from_slice(&std::fs::read(&spec_path).unwrap()).unwrap();
    assert_eq!(
        spec["process"]["args"],
        json!(["/bin/sh", "-c", "cat /hello.txt"])
    );
    spec["process"]["terminal"] = json!(false);
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    let (state, id) = (
        tmp.path().join("runc-state"),
        format!("imgbuild-{}", std::process::id()),
    );
    let out = tool(
        &runc,
        &["--root", s(&state), "run", "--bundle", s(&bundle), &id],
    );
    assert_eq!(out, HELLO);
}

#[test]
fn archive_on_stdout_is_the_archive_written_to_a_file() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = context(&tmp);
    let epoch = ["--source-date-epoch", "1700000000"];
    let (file, digest) = build_archive(&ctx, tmp.path(), "gzip", &epoch);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_imgbuild"));
    cmd.arg("build")
        .arg(&ctx)
        .args(["-o", "-", "-t", TAG, "--compression", "gzip"])
        .args(epoch);
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    assert!(
        out.status.success(),
        "build -o -: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let piped = tmp.path().join("piped.tar");
    std::fs::write(&piped, &out.stdout).unwrap();
    assert_eq!(
        checked(&piped, &CheckOptions::default())
            .single()
            .unwrap()
            .digest,
        digest
    );
    assert!(
        out.stdout == std::fs::read(&file).unwrap(),
        "`-o -` and `-o FILE` differ"
    );
    if let Some(skopeo) = require_tool("skopeo") {
        assert_eq!(
            skopeo_digest(&skopeo, &format!("oci-archive:{}:{TAG}", s(&piped))),
            digest
        );
    }
}

/// The checker against images that umoci and skopeo write (no imgbuild involved).
#[test]
fn checker_accepts_images_written_by_umoci_and_skopeo() {
    let (Some(umoci), Some(skopeo), true) = (
        require_tool("umoci"),
        require_tool("skopeo"),
        require_root(),
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (layout, bundle) = (tmp.path().join("layout"), tmp.path().join("bundle"));
    let image = format!("{}:{TAG}", s(&layout));
    tool(&umoci, &["init", "--layout", s(&layout)]);
    tool(&umoci, &["new", "--image", &image]);
    tool(&umoci, &["unpack", "--image", &image, s(&bundle)]);
    rich_context(&bundle.join("rootfs"));
    // `umoci repack`, not `umoci insert`: 0.4.7's insert writes tars without end blocks.
    tool(&umoci, &["repack", "--image", &image, s(&bundle)]);
    tool(&umoci, &["gc", "--layout", s(&layout)]);
    let img = checked(&layout, &CheckOptions::third_party());
    let listing = checker::listing(&img.single().unwrap().layers[0].entries);
    let wanted = [
        "-rwsr-xr-x 0/0",
        "drwxrwxrwt 0/0",
        "drwxrwsr-x 0/0",
        " link -> target/file",
    ];
    for want in wanted
        .into_iter()
        .chain(["hard/two link to hard/one", "données/é.txt"])
    {
        assert!(
            listing.contains(want),
            "umoci's layer lacks {want:?}:\n{listing}"
        );
    }
    let archive = tmp.path().join("zstd.tar");
    let (src, dest) = (
        format!("oci:{image}"),
        format!("oci-archive:{}:{TAG}", s(&archive)),
    );
    tool(
        &skopeo,
        &["copy", "--dest-compress-format", "zstd", &src, &dest],
    );
    let img = checked(&archive, &CheckOptions::third_party());
    assert_eq!(
        img.single().unwrap().layers[0].media_type,
        checker::MEDIA_LAYER_ZSTD
    );
    assert_eq!(img.ref_names(), [TAG]);
}
