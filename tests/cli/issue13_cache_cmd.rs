//! `imgbuild cache info` and `imgbuild cache prune`: an empty or missing cache, a cache
//! filled through the library, --json, pruning to empty, bad values refused with exit 2.
// See: issue #13

use std::io::Write as _;
use std::path::Path;

use imgbuild::cache::{DEFAULT_MAX_SIZE, KeyBuilder, LayerCache};
use imgbuild::compress::{Algorithm, Compression};
use imgbuild::digest::Sha256Sum;
use imgbuild::layer::writer::LayerDescriptor;
use oci_spec::image::MediaType;
use predicates::prelude::*;

use crate::util::{imgbuild_cmd, list_dir};

/// Store `n` layers of `size` bytes each through the library, as a build would.
fn fill(layers: &Path, n: u8, size: usize) {
    let cache = LayerCache::open(layers, DEFAULT_MAX_SIZE).unwrap();
    for i in 0..n {
        let blob = vec![i; size];
        let mut k = KeyBuilder::new(&Compression::new(Algorithm::Zstd, None).unwrap());
        k.add_header(&[i]);
        let layer = LayerDescriptor {
            media_type: MediaType::ImageLayerZstd,
            digest: Sha256Sum::of(&blob),
            size: blob.len() as u64,
            diff_id: Sha256Sum::of(b"tar"),
            tar_size: 3,
        };
        let mut p = cache.begin().unwrap();
        p.write_all(&blob).unwrap();
        p.commit(&k.finish(), &layer, Vec::new()).unwrap();
    }
}

fn json(out: &[u8]) -> serde_json::Value {
    serde_json::from_slice(out).unwrap()
}

#[test]
fn issue_13_cache_info_on_a_missing_cache_is_empty_and_creates_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("nothing-here");
    let out = imgbuild_cmd(tmp.path())
        .args(["cache", "info", "--json", "--cache-dir"])
        .arg(&dir)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v = json(&out);
    assert_eq!(v["dir"], dir.join("layers").to_str().unwrap());
    assert_eq!(
        (v["entries"].as_u64(), v["total_bytes"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(v["max_size"].as_u64(), Some(10 << 30));
    assert!(v["oldest_use"].is_null());
    assert!(!dir.exists(), "looking does not create the cache");
    // The default place: $XDG_CACHE_HOME/imgbuild/layers, then ~/.cache/imgbuild/layers.
    imgbuild_cmd(tmp.path())
        .args(["cache", "info"])
        .env("XDG_CACHE_HOME", tmp.path().join("xdg"))
        .assert()
        .success()
        .stdout(
            predicate::str::contains("xdg/imgbuild/layers")
                .and(predicate::str::contains("Layers:     0")),
        );
    imgbuild_cmd(tmp.path())
        .args(["cache", "info"])
        .env_remove("XDG_CACHE_HOME")
        .env("HOME", tmp.path().join("home"))
        .assert()
        .success()
        .stdout(predicate::str::contains("home/.cache/imgbuild/layers"));
}

#[test]
fn issue_13_cache_info_counts_and_prune_all_empties() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("cache");
    let layers = root.join("layers");
    fill(&layers, 3, 1000);
    let info = |json_flag: bool| {
        let mut c = imgbuild_cmd(tmp.path());
        c.args(["cache", "info", "--cache-dir"]).arg(&root);
        if json_flag {
            c.arg("--json");
        }
        c.assert().success().get_output().stdout.clone()
    };
    let v = json(&info(true));
    assert_eq!(
        (
            v["entries"].as_u64(),
            v["blobs"].as_u64(),
            v["total_bytes"].as_u64()
        ),
        (Some(3), Some(3), Some(3000))
    );
    let newest = v["newest_use"].as_str().unwrap();
    assert!(newest.ends_with('Z') && newest.len() == 20, "{newest}");
    let text = String::from_utf8(info(false)).unwrap();
    assert!(text.contains("Layers:     3"), "{text}");
    assert!(text.contains("2.9 KiB"), "{text}");

    // --max-size evicts the least recently used down to the bound.
    let out = imgbuild_cmd(tmp.path())
        .args([
            "cache",
            "prune",
            "--max-size",
            "2500",
            "--json",
            "--cache-dir",
        ])
        .arg(&root)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v = json(&out);
    assert_eq!(
        (v["removed_entries"].as_u64(), v["entries"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(v["freed_bytes"].as_u64(), Some(1000));

    imgbuild_cmd(tmp.path())
        .args(["cache", "prune", "--all", "--cache-dir"])
        .arg(&root)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "Removed 2 layers and 2 blobs (2.0 KiB)",
        ))
        .stdout(predicate::str::contains("Left: 0 layers (0 B)"));
    assert_eq!(list_dir(&layers), ["blobs", "entries", "lock"]);
    assert!(list_dir(&layers.join("entries")).is_empty());
    assert!(list_dir(&layers.join("blobs/sha256")).is_empty());
    let v = json(&info(true));
    assert_eq!(
        (v["entries"].as_u64(), v["blobs"].as_u64()),
        (Some(0), Some(0))
    );
}

#[test]
fn issue_13_cache_prune_older_than_keeps_recent_layers() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("cache");
    fill(&root.join("layers"), 2, 10);
    imgbuild_cmd(tmp.path())
        .args(["cache", "prune", "--older-than", "7d", "--cache-dir"])
        .arg(&root)
        .assert()
        .success()
        .stdout(
            predicate::str::contains("Removed 0 layers")
                .and(predicate::str::contains("Left: 2 layers")),
        );
}

#[test]
fn issue_13_bad_prune_values_are_usage_errors_naming_them() {
    let tmp = tempfile::tempdir().unwrap();
    for (flag, value) in [
        ("--max-size", "12parsecs"),
        ("--max-size", "1.5"),
        ("--older-than", "soon"),
        ("--older-than", "7"),
    ] {
        imgbuild_cmd(tmp.path())
            .args(["cache", "prune", flag, value, "--cache-dir", "c"])
            .assert()
            .code(2)
            .stderr(
                predicate::str::contains(format!("'{value}'")).and(predicate::str::contains(flag)),
            );
    }
    imgbuild_cmd(tmp.path())
        .args(["cache", "prune", "--all", "--max-size", "1G"])
        .assert()
        .code(2);
    assert!(!tmp.path().join("c").exists());
}

#[test]
fn issue_13_a_cache_dir_that_is_a_file_fails_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("plain"), "x").unwrap();
    for sub in ["info", "prune"] {
        imgbuild_cmd(tmp.path())
            .args(["cache", sub, "--cache-dir", "plain"])
            .assert()
            .code(1)
            .stderr(predicate::str::contains("plain/layers"));
    }
}

#[test]
fn issue_13_concurrent_prunes_and_commits_leave_a_consistent_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("cache");
    let layers = root.join("layers");
    fill(&layers, 20, 1000);
    let prunes: Vec<_> = (0..3)
        .map(|_| {
            let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_imgbuild"));
            c.args(["cache", "prune", "--max-size", "5000", "--cache-dir"])
                .arg(&root)
                .stdout(std::process::Stdio::null());
            c.spawn().unwrap()
        })
        .collect();
    // Meanwhile, more commits (other keys: fill's seeds with another size).
    let cache = LayerCache::open(&layers, DEFAULT_MAX_SIZE).unwrap();
    for i in 0..20u8 {
        let blob = vec![i; 2000];
        let mut k = KeyBuilder::new(&Compression::new(Algorithm::None, None).unwrap());
        k.add_header(&[i]);
        let layer = LayerDescriptor {
            media_type: MediaType::ImageLayer,
            digest: Sha256Sum::of(&blob),
            size: blob.len() as u64,
            diff_id: Sha256Sum::of(&blob),
            tar_size: blob.len() as u64,
        };
        let mut p = cache.begin().unwrap();
        p.write_all(&blob).unwrap();
        p.commit(&k.finish(), &layer, Vec::new()).unwrap();
    }
    for mut p in prunes {
        assert!(p.wait().unwrap().success());
    }
    // Every record left is a hit whose blob verifies; nothing temporary is left.
    let mut hits = 0;
    for name in list_dir(&layers.join("entries")) {
        let key = name.strip_suffix(".json").unwrap();
        let key = imgbuild::cache::CacheKey::from_hex(key).unwrap();
        let mut hit = cache.get(&key).unwrap().expect("a record without its blob");
        assert!(hit.verify(&imgbuild::Cancel::never()).unwrap());
        hits += 1;
    }
    // Whenever the prunes ran, the two newest layers (4000 bytes) fit in their bound.
    assert!(hits >= 2, "{hits}");
    for name in list_dir(&layers.join("blobs/sha256")) {
        assert!(!name.starts_with('.'), "{name}");
    }
}
