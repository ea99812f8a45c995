//! Issue #9 tests: issue9_flatten — flattening stays within its memory bound for what the
//! entry limit admits, and rootfs-dir keeps other users away from setuid files.

use std::ffi::OsStr;
use std::fs;
use std::io::{BufReader, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use sha2::{Digest as _, Sha256};

use crate::hostile::{E, GZIP, Img, Layer, run_measured};
use crate::util::TestContext;

/// Entries the layer limit admits by default.
const MILLION: usize = 1_000_000;

/// A gzip layer of `dirs` directories `dNNNN/` holding `entries` entries in all (the
/// directories included): empty files `dNNNN/fNNNNNNN`. Headers are stamped from one
/// template, so that building it stays cheap.
fn many_entries(dirs: usize, entries: usize) -> Layer {
    let mut template = tar::Header::new_ustar();
    template.set_mode(0o644);
    template.set_uid(0);
    template.set_gid(0);
    template.set_mtime(1_650_000_000);
    template.set_size(0);
    let template = *template.as_bytes();
    // The checksum of the template with an empty name, type '0' and spaces for the sum.
    let mut blank = template;
    blank[148..156].fill(b' ');
    blank[156] = b'0';
    let base: u32 = blank.iter().map(|&b| u32::from(b)).sum();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut sha = Sha256::new();
    let mut chunk: Vec<u8> = Vec::with_capacity(1 << 20);
    let header = |name: &str, dir: bool, chunk: &mut Vec<u8>| {
        let mut h = template;
        h[..name.len()].copy_from_slice(name.as_bytes());
        let mut sum = base + name.bytes().map(u32::from).sum::<u32>();
        if dir {
            // Type '5' instead of '0' (+5), mode 0755 instead of 0644 (+1 per digit).
            h[156] = b'5';
            h[100..107].copy_from_slice(b"0000755");
            sum += 5 + 3;
        } else {
            h[156] = b'0';
        }
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        chunk.extend_from_slice(&h);
    };
    let per_dir = entries / dirs - 1;
    let mut flush = |chunk: &mut Vec<u8>, gz: &mut flate2::write::GzEncoder<Vec<u8>>| {
        sha.update(&chunk[..]);
        gz.write_all(chunk).unwrap();
        chunk.clear();
    };
    let mut written = 0;
    for d in 0..dirs {
        header(&format!("d{d:04}/"), true, &mut chunk);
        written += 1;
        for f in 0..per_dir {
            header(&format!("d{d:04}/f{f:07}"), false, &mut chunk);
            written += 1;
            if chunk.len() >= 1 << 20 {
                flush(&mut chunk, &mut gz);
            }
        }
    }
    while written < entries {
        header(&format!("x{written:07}"), false, &mut chunk);
        written += 1;
    }
    chunk.extend_from_slice(&[0u8; 1024]);
    flush(&mut chunk, &mut gz);
    let diff_id = format!("sha256:{:x}", sha.finalize());
    Layer {
        blob: gz.finish().unwrap(),
        media_type: GZIP,
        diff_id,
        declared_digest: None,
        declared_size: None,
    }
}

/// Entries of a tar file (PAX headers not counted), and how many are directories.
fn count_tar(path: &Path) -> (usize, usize) {
    let mut r = BufReader::with_capacity(1 << 20, fs::File::open(path).unwrap());
    let (mut entries, mut dirs) = (0, 0);
    let mut block = [0u8; 512];
    loop {
        r.read_exact(&mut block).unwrap();
        if block.iter().all(|&b| b == 0) {
            break;
        }
        let h = tar::Header::from_byte_slice(&block);
        let size = h.entry_size().unwrap();
        let ty = h.entry_type();
        if !ty.is_pax_local_extensions() && !ty.is_pax_global_extensions() {
            entries += 1;
            dirs += usize::from(ty.is_dir());
        }
        std::io::copy(
            &mut (&mut r).take(size.div_ceil(512) * 512),
            &mut std::io::sink(),
        )
        .unwrap();
    }
    (entries, dirs)
}

#[test]
fn issue_9_a_million_entries_flatten_within_256_mib() {
    // See: issue #9 — 1,000,000 entries (the default per-layer limit) peaked at 367 MiB.
    let t = TestContext::new();
    let started = std::time::Instant::now();
    let img = Img::new(vec![many_entries(1000, MILLION)]).layout(&t.root().join("img"));
    eprintln!("built the image in {:?}", started.elapsed());
    let out = t.out("rootfs.tar");
    let args: Vec<&OsStr> = vec![
        OsStr::new("export"),
        img.path.as_os_str(),
        OsStr::new("--format"),
        OsStr::new("rootfs-tar"),
        OsStr::new("-o"),
        out.as_os_str(),
        OsStr::new("-q"),
    ];
    let started = std::time::Instant::now();
    let m = run_measured(t.root(), &args, &[]);
    eprintln!(
        "1,000,000 entries, rootfs-tar: peak RSS {} KiB, {:?}",
        m.max_rss_kib,
        started.elapsed()
    );
    assert_eq!(m.code, 0, "{}", m.stderr);
    assert!(
        m.max_rss_kib > 0 && m.max_rss_kib < 256 * 1024,
        "peak RSS {} KiB",
        m.max_rss_kib
    );
    assert_eq!(count_tar(&out), (MILLION, 1000));
}

/// A layer with a setuid file, and a `./` entry of mode 0755.
fn setuid_image(dir: &Path, mode: u32) -> crate::hostile::Written {
    let img = Img::new(vec![Layer::gzip(&[
        E::Dir("./", 0o755),
        E::Dir("bin/", 0o755),
        E::File("bin/su", b"#!/bin/sh\n", mode),
        E::File("etc", b"x", 0o644),
    ])])
    .archive(&dir.join(format!("img-{mode:o}.tar")));
    fs::set_permissions(&img.path, fs::Permissions::from_mode(0o644)).unwrap();
    img
}

fn mode_of(p: &Path) -> u32 {
    fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn issue_9_rootfs_dir_with_setuid_files_is_0700_for_an_unprivileged_user() {
    // See: issue #9 — extracted by a user, a setuid file would run as that user for anyone.
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || crate::interop::require_tool("setpriv").is_none() {
        eprintln!("skipping: needs root and setpriv to run as an unprivileged user");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o777)).unwrap();
    for mode in [0o4755, 0o2755] {
        let img = setuid_image(tmp.path(), mode);
        let out = tmp.path().join(format!("rootfs-{mode:o}"));
        let status = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_imgbuild"))
            .arg("export")
            .arg(&img.path)
            .args(["--format", "rootfs-dir", "-q", "-o"])
            .arg(&out)
            .status()
            .unwrap();
        assert!(status.success());
        assert_eq!(mode_of(&out), 0o700, "{mode:o}");
        assert_eq!(mode_of(&out.join("bin/su")), mode);
        assert_eq!(fs::metadata(&out).unwrap().uid(), 65534);
    }
}

#[test]
fn issue_9_rootfs_dir_is_0700_with_setuid_files_only() {
    // See: issue #9 — whoever extracts (root too: a setuid-root file of the image would be
    // open to every local user), DEST is 0700 when the image has setuid or setgid files;
    // otherwise it keeps the image's root directory mode.
    let t = TestContext::new();
    let img = setuid_image(t.root(), 0o4755);
    let out = t.out("with-suid");
    t.cmd()
        .arg("export")
        .arg(&img.path)
        .args(["--format", "rootfs-dir", "-q", "-o"])
        .arg(&out)
        .assert()
        .success();
    assert_eq!(mode_of(&out), 0o700);
    assert_eq!(mode_of(&out.join("bin/su")), 0o4755);
    let img = setuid_image(t.root(), 0o755);
    let out = t.out("without");
    t.cmd()
        .arg("export")
        .arg(&img.path)
        .args(["--format", "rootfs-dir", "-q", "-o"])
        .arg(&out)
        .assert()
        .success();
    assert_eq!(mode_of(&out), 0o755);
}
