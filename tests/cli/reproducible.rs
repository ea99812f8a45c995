//! Reproducibility spans processes: the same tree built from two paths, created in a
//! different order, with different mtimes (after the epoch) and modes under another umask,
//! gives byte-identical archives with SOURCE_DATE_EPOCH set.

use std::fs;

use crate::util::{TestContext, imgbuild_cmd};

/// Build a tree whose content is fixed but whose creation order and mtimes vary with `seed`.
fn make_tree(t: &TestContext, seed: u64) {
    let mut files: Vec<(String, String)> = (0..40)
        .map(|i| {
            (
                format!("d{}/sub{}/f{i}.txt", i % 4, i % 3),
                format!("content {i}\n").repeat(i + 1),
            )
        })
        .collect();
    if seed % 2 == 1 {
        files.reverse();
    }
    for (p, c) in &files {
        t.file(p, c);
    }
    t.dir("empty")
        .symlink("link", "d0/sub0/f0.txt")
        .hardlink("hard", "d1/sub1/f1.txt");
    t.file("bin/run", "#!/bin/sh\n").mode("bin/run", 0o755);
    // Every mtime is after the epoch, differently per build.
    t.mtime_all(1_800_000_000 + seed as i64 * 1000);
}

fn build_bytes(t: &TestContext, extra: &[&str]) -> (Vec<u8>, String) {
    let out = imgbuild_cmd(t.root())
        .args(["build", "ctx", "-o", "out/img.tar", "-q"])
        .args(extra)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    (
        fs::read(t.out("img.tar")).unwrap(),
        String::from_utf8(out).unwrap(),
    )
}

#[test]
fn two_builds_in_two_processes_are_byte_identical() {
    for compression in ["gzip", "zstd", "none"] {
        let a = TestContext::new();
        let b = TestContext::new();
        make_tree(&a, 1);
        make_tree(&b, 2);
        let args = ["--compression", compression, "-t", "app:1"];
        let (bytes_a, digest_a) = build_bytes(&a, &args);
        let (bytes_b, digest_b) = build_bytes(&b, &args);
        assert_ne!(a.root(), b.root());
        assert_eq!(digest_a, digest_b, "{compression}");
        assert!(bytes_a == bytes_b, "{compression}: archives differ");
    }
}

#[test]
fn normalize_modes_removes_the_umask_from_the_bytes() {
    let a = TestContext::new();
    let b = TestContext::new();
    make_tree(&a, 3);
    make_tree(&b, 3);
    // Simulate a umask of 077 on one machine and 022 on the other.
    for t in [&a, &b] {
        let wide = std::ptr::eq(t, &a);
        let mut stack = vec![t.ctx()];
        while let Some(p) = stack.pop() {
            for e in fs::read_dir(&p).unwrap() {
                let e = e.unwrap();
                let ft = e.file_type().unwrap();
                if ft.is_symlink() {
                    continue;
                }
                let mode = match (ft.is_dir(), wide) {
                    (true, true) => 0o755,
                    (true, false) => 0o700,
                    (false, true) => 0o644,
                    (false, false) => 0o600,
                };
                let exec = fs::metadata(e.path()).unwrap().permissions();
                let exec = std::os::unix::fs::PermissionsExt::mode(&exec) & 0o100 != 0;
                let mode = if exec && !ft.is_dir() {
                    mode | 0o100 | if wide { 0o011 } else { 0 }
                } else {
                    mode
                };
                fs::set_permissions(e.path(), std::os::unix::fs::PermissionsExt::from_mode(mode))
                    .unwrap();
                if ft.is_dir() {
                    stack.push(e.path());
                }
            }
        }
    }
    let (plain_a, _) = build_bytes(&a, &[]);
    let (plain_b, _) = build_bytes(&b, &[]);
    assert!(plain_a != plain_b, "modes differ, so plain builds differ");
    let (norm_a, da) = build_bytes(&a, &["--normalize-modes"]);
    let (norm_b, db) = build_bytes(&b, &["--normalize-modes"]);
    assert_eq!(da, db);
    assert!(norm_a == norm_b, "normalised builds are identical");
}

#[test]
fn without_epoch_created_is_now_and_mtimes_are_kept() {
    let t = TestContext::new();
    t.file("f", "x").mtime("f", 1_900_000_000);
    t.cmd()
        .args(["build", "ctx", "-o", "out/img.tar", "-q"])
        .assert()
        .success();
    let img = crate::checker::check_image(&t.out("img.tar")).unwrap();
    let f = &img.manifests[0].layers[0].entries[0];
    assert_eq!(f.mtime, 1_900_000_000);
    let created = img.manifests[0].config["created"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        created.starts_with("20") && created.ends_with('Z'),
        "{created}"
    );
    assert_ne!(created, "2023-11-14T22:13:20Z");
}

#[test]
fn bytes_are_the_same_on_one_cpu_and_on_all() {
    let Some(taskset) = crate::interop::require_tool("taskset") else {
        return;
    };
    let t = TestContext::new();
    // Several compression blocks of mixed data, so the workers really split the work.
    let mut x: u64 = 42;
    let mut data = Vec::new();
    for i in 0..(5 << 20) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.push(if (i / 50_000) % 2 == 0 {
            x as u8
        } else {
            b"layer "[i % 6]
        });
    }
    t.file("mixed.bin", &data)
        .file("text.txt", "words and more words\n".repeat(100_000));
    for compression in ["gzip", "zstd"] {
        let all = build_bytes(&t, &["--compression", compression]).0;
        let out = std::process::Command::new(&taskset)
            .args([
                "-c",
                "0",
                env!("CARGO_BIN_EXE_imgbuild"),
                "build",
                "ctx",
                "-o",
                "out/one.tar",
                "-q",
            ])
            .args(["--compression", compression])
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .current_dir(t.root())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let one = fs::read(t.out("one.tar")).unwrap();
        assert!(
            one == all,
            "{compression}: one CPU and all CPUs give different bytes"
        );
    }
}
