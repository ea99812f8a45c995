//! `--layer PATTERN` and `--platform-context PLATFORM=DIR` (#13): the layers each gets, that
//! unpacking all of them gives exactly the context (our export, umoci), hard-link groups kept
//! whole, empty patterns skipped with a warning, history and `--json` naming each pattern,
//! each platform's own top layer (and a container that runs the amd64 one).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use predicates::prelude::*;
use serde_json::Value;

use crate::checker::{CheckedManifest, check_image};
use crate::interop::{Podman, require_root, require_tool, run, s};
use crate::snapshot::{DiffOptions, diff_snapshots_with, snapshot};
use crate::util::{TestContext, list_dir};

/// A context with dependencies, vendored code, images and the app itself, hard links and
/// symlinks; everything older than the epoch, so mtimes are kept as they are.
fn app(t: &TestContext) {
    crate::interop::rich_context(&t.ctx());
    t.file("node_modules/left-pad/index.js", "module.exports = 1;\n")
        .file("node_modules/left-pad/package.json", "{}\n")
        .file("node_modules/.bin/README", "bins\n")
        .file("web/node_modules/x/x.js", "x\n")
        .file("vendor/lib/a.so", vec![1u8; 100_000])
        .file("assets/logo.png", vec![2u8; 5000])
        .file("assets/deep/icon.png", vec![3u8; 300])
        .file("src/main.js", "console.log(1)\n")
        .symlink("node_modules/.bin/pad", "../left-pad/index.js")
        .hardlink("vendor/lib/a-copy.so", "vendor/lib/a.so")
        .mtime_all(1_600_000_000);
}

const THREE: &[&str] = &[
    "--layer",
    "**/node_modules",
    "--layer",
    "vendor/**",
    "--layer",
    "**/*.png",
];

/// The paths of a layer's non-directory entries.
fn files_of(m: &CheckedManifest, layer: usize) -> BTreeSet<String> {
    m.layers[layer]
        .entries
        .iter()
        .filter(|e| e.kind != 'd')
        .map(|e| e.path.trim_end_matches('/').to_owned())
        .collect()
}

fn export_rootfs(t: &TestContext, image: &Path, out: &Path, extra: &[&str]) {
    t.cmd()
        .arg("export")
        .arg(image)
        .args(["--format", "rootfs-dir", "-o"])
        .arg(out)
        .args(extra)
        .assert()
        .success();
}

fn same_tree(a: &Path, b: &Path, what: &str) {
    let opts = DiffOptions {
        mtimes: true,
        ..DiffOptions::default()
    };
    let diff = diff_snapshots_with(&snapshot(a), &snapshot(b), &opts);
    assert!(diff.is_empty(), "{what} differs:\n{}", diff.join("\n"));
}

#[test]
fn three_layers_and_the_rest_hold_what_their_patterns_match() {
    let t = TestContext::new();
    app(&t);
    t.build_digest("img.tar", THREE);
    let img = check_image(&t.out("img.tar")).unwrap();
    let m = img.single().unwrap();
    assert_eq!(m.layers.len(), 4, "three pattern layers and the rest");
    let deps = files_of(m, 0);
    assert!(deps.contains("node_modules/left-pad/index.js"), "{deps:?}");
    assert!(deps.contains("web/node_modules/x/x.js"), "{deps:?}");
    assert!(deps.contains("node_modules/.bin/pad"), "{deps:?}");
    assert!(deps.iter().all(|p| p.contains("node_modules/")), "{deps:?}");
    let vendor = files_of(m, 1);
    assert_eq!(
        vendor,
        BTreeSet::from(["vendor/lib/a.so".into(), "vendor/lib/a-copy.so".into()])
    );
    assert_eq!(
        files_of(m, 2),
        BTreeSet::from(["assets/deep/icon.png".into(), "assets/logo.png".into()])
    );
    let rest = files_of(m, 3);
    assert!(rest.contains("src/main.js"), "{rest:?}");
    // No file is in two layers.
    let mut all = Vec::new();
    for i in 0..4 {
        all.extend(files_of(m, i));
    }
    let unique: BTreeSet<_> = all.iter().cloned().collect();
    assert_eq!(unique.len(), all.len(), "a file in two layers: {all:?}");
    // Parent directories come with their real metadata in every layer that needs them.
    let dir = |layer: usize, path: &str| {
        m.layers[layer]
            .entries
            .iter()
            .find(|e| e.kind == 'd' && e.path.trim_end_matches('/') == path)
            .map(|e| (e.mode, e.mtime))
    };
    assert_eq!(dir(0, "web"), dir(3, "web"));
    assert_eq!(dir(1, "vendor").map(|d| d.1), Some(1_600_000_000));
}

#[test]
fn unpacking_the_layers_gives_exactly_the_context() {
    let t = TestContext::new();
    app(&t);
    for compression in ["gzip", "none"] {
        let name = format!("{compression}.tar");
        t.build_digest(&name, &[THREE, &["--compression", compression]].concat());
        let rootfs = t.out(&format!("rootfs-{compression}"));
        export_rootfs(&t, &t.out(&name), &rootfs, &[]);
        same_tree(
            &t.ctx(),
            &rootfs,
            &format!("export of the {compression} layers"),
        );
    }
    // umoci applies the layers one by one, as a runtime does.
    let Some(umoci) = require_tool("umoci").filter(|_| require_root()) else {
        return;
    };
    let layout = t.out("layout");
    t.build_digest(
        "layout",
        &[THREE, &["--format", "oci-dir", "-t", "app:1"]].concat(),
    );
    let bundle = t.out("bundle");
    run(Command::new(umoci).args([
        "unpack",
        "--image",
        &format!("{}:app:1", s(&layout)),
        s(&bundle),
    ]));
    same_tree(&t.ctx(), &bundle.join("rootfs"), "umoci unpack");
}

#[test]
fn a_hard_link_group_goes_whole_to_the_layer_of_its_first_path() {
    let t = TestContext::new();
    t.file("bin/tool", "#!/bin/sh\necho tool\n")
        .dir("node_modules/.bin")
        .hardlink("node_modules/.bin/tool", "bin/tool")
        .file("node_modules/dep.js", "1\n")
        .mtime_all(1_600_000_000);
    t.build_digest("img.tar", &["--layer", "node_modules", "-v"]);
    let img = check_image(&t.out("img.tar")).unwrap();
    let m = img.single().unwrap();
    assert_eq!(
        files_of(m, 0),
        BTreeSet::from(["node_modules/dep.js".into()])
    );
    let rest = &m.layers[1].entries;
    let link = rest
        .iter()
        .find(|e| e.path == "node_modules/.bin/tool")
        .expect("the link is in the layer of bin/tool");
    assert_eq!(link.kind, 'h');
    // The group unpacks as one file with two names.
    let rootfs = t.out("rootfs");
    export_rootfs(&t, &t.out("img.tar"), &rootfs, &[]);
    same_tree(&t.ctx(), &rootfs, "export");
    // -v says where the link went and why.
    t.build("img2.tar", &["--layer", "node_modules", "-v"])
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "node_modules/.bin/tool is a hard link of a file in the last layer",
        ));
}

#[test]
fn a_pattern_that_matches_nothing_makes_no_layer_and_says_so() {
    let t = TestContext::new();
    t.file("a.txt", "a").file("lib/x", "x");
    t.build("img.tar", &["--layer", "nothing/**", "--layer", "lib"])
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "warning: --layer 'nothing/**' matched nothing in the context; no layer was made for it",
        ));
    let img = check_image(&t.out("img.tar")).unwrap();
    assert_eq!(img.single().unwrap().layers.len(), 2);
    for bad in ["", "!lib", "a["] {
        t.build("bad.tar", &["--layer", bad])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("--layer"));
    }
    assert_eq!(list_dir(&t.root().join("out")), ["img.tar"]);
}

#[test]
fn history_json_and_inspect_name_each_layers_pattern() {
    let t = TestContext::new();
    app(&t);
    let out = t
        .build("img.tar", &[THREE, &["--json"]].concat())
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let r: Value = serde_json::from_slice(&out).unwrap();
    let layers = r["layers"].as_array().unwrap();
    let patterns: Vec<Value> = layers.iter().map(|l| l["pattern"].clone()).collect();
    assert_eq!(
        patterns,
        [
            Value::from("**/node_modules"),
            Value::from("vendor/**"),
            Value::from("**/*.png"),
            Value::Null
        ]
    );
    assert_eq!(
        r["layer"]["digest"], layers[3]["digest"],
        "layer is the rest"
    );
    let img = check_image(&t.out("img.tar")).unwrap();
    let m = img.single().unwrap();
    for (l, want) in layers.iter().zip(&m.layers) {
        assert_eq!(l["digest"], want.digest.as_str());
    }
    let history: Vec<&str> = m.config["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["comment"].as_str().unwrap())
        .collect();
    assert_eq!(
        history,
        [
            "context directory layer: --layer '**/node_modules'",
            "context directory layer: --layer 'vendor/**'",
            "context directory layer: --layer '**/*.png'",
            "context directory layer"
        ]
    );
    t.cmd()
        .args(["inspect", "out/img.tar"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "context directory layer: --layer 'vendor/**'",
        ));
    // Reproducible with layers too: the second build compares every layer.
    t.build("again.tar", &[THREE, &["--check-reproducible"]].concat())
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .assert()
        .success();
}

/// `--platform-context` for two platforms: the shared layers are one blob each, and each
/// platform's image has its own tree on top.
#[test]
fn each_platform_gets_its_own_top_layer_over_shared_ones() {
    let t = TestContext::new();
    t.file("app/index.html", "hi\n")
        .file("node_modules/m.js", "m\n");
    t.file("../amd/bin/app", "amd64 binary\n");
    t.file("../arm/bin/app", "arm64 binary\n");
    t.build_digest(
        "img.tar",
        &[
            "--layer",
            "node_modules",
            "--platform",
            "linux/amd64,linux/arm64",
            "--platform-context",
            "linux/amd64=amd",
            "--platform-context",
            "arm64=arm",
        ],
    );
    let img = check_image(&t.out("img.tar")).unwrap();
    assert_eq!(img.manifests.len(), 2);
    let (amd, arm) = (&img.manifests[0], &img.manifests[1]);
    assert_eq!(amd.platform.architecture, "amd64");
    assert_eq!(arm.platform.architecture, "arm64");
    assert_eq!(amd.layers.len(), 3);
    assert_eq!(arm.layers.len(), 3);
    for i in 0..2 {
        assert_eq!(
            amd.layers[i].digest, arm.layers[i].digest,
            "layer {i} shared"
        );
    }
    assert_ne!(amd.layers[2].digest, arm.layers[2].digest);
    let content = |m: &CheckedManifest| {
        let dir = tempfile::tempdir().unwrap();
        let rootfs = dir.path().join("rootfs");
        let arch = m.platform.architecture.clone();
        export_rootfs(
            &t,
            &t.out("img.tar"),
            &rootfs,
            &["--platform", &format!("linux/{arch}")],
        );
        std::fs::read_to_string(rootfs.join("bin/app")).unwrap()
    };
    assert_eq!(content(amd), "amd64 binary\n");
    assert_eq!(content(arm), "arm64 binary\n");
    let comment = amd.config["history"][2]["comment"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(comment, "platform context layer for linux/amd64");
}

#[test]
fn a_platform_context_for_a_platform_not_built_is_refused() {
    let t = TestContext::new();
    t.file("a", "a");
    t.file("../arm/x", "x");
    t.build(
        "img.tar",
        &[
            "--platform",
            "linux/amd64",
            "--platform-context",
            "linux/arm64=arm",
        ],
    )
    .assert()
    .code(2)
    .stderr(predicate::str::contains(
        "--platform-context names linux/arm64/v8, which is not built (platforms: linux/amd64)",
    ));
    for bad in [
        "linux/arm64",
        "linux/arm64=",
        "linux/arm64=missing",
        "nope=arm",
    ] {
        t.build(
            "img.tar",
            &["--platform", "linux/arm64", "--platform-context", bad],
        )
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--platform-context"));
    }
    assert!(list_dir(&t.root().join("out")).is_empty());
}

/// The strongest proof: podman loads the two-platform archive and runs the amd64 image,
/// whose busybox comes from its own platform layer.
#[test]
fn podman_runs_the_amd64_image_with_its_platform_layer() {
    let (Some(podman), Some(busybox)) = (Podman::new(), require_tool("busybox")) else {
        return;
    };
    if std::env::consts::ARCH != "x86_64" {
        eprintln!("skipped: this machine cannot run the amd64 image");
        return;
    }
    let t = TestContext::new();
    t.file("hello.txt", "hello from the shared layer\n");
    t.file("../amd/platform.txt", "amd64\n");
    t.file("../arm/platform.txt", "arm64\n");
    let bin = t.root().join("amd/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(&busybox, bin.join("busybox")).unwrap();
    t.build_digest(
        "img.tar",
        &[
            "-t",
            "layered:1",
            "--platform",
            "linux/amd64,linux/arm64",
            "--platform-context",
            "linux/amd64=amd",
            "--platform-context",
            "linux/arm64=arm",
            "--cmd",
            r#"["/bin/busybox", "cat", "/platform.txt", "/hello.txt"]"#,
        ],
    );
    podman.run(&["load", "-q", "-i", s(&t.out("img.tar"))]);
    assert_eq!(
        podman.run_container("layered:1"),
        "amd64\nhello from the shared layer\n"
    );
}
