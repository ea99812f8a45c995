//! The extractor on its own, fed hostile sequences directly (the engine never produces
//! them): nothing may land outside the staging directory.

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

use super::*;

struct Bytes<'a>(&'a [u8]);

impl Content for Bytes<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let n = buf.len().min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

fn meta(mode: u32) -> Meta {
    Meta {
        mode,
        uid: 0,
        gid: 0,
        mtime: 1_600_000_000,
    }
}

fn file(d: &mut DirEmitter, path: &str, data: &str) -> Result<()> {
    d.file(
        path.as_bytes(),
        &meta(0o644),
        data.len() as u64,
        &mut Bytes(data.as_bytes()),
    )
}

fn new_dest() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("rootfs");
    (tmp, dest)
}

fn unique() -> String {
    format!("imgbuild-test-{}-{}", std::process::id(), rand_suffix())
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

#[test]
fn writes_through_an_absolute_symlink_stay_inside() {
    let (_tmp, dest) = new_dest();
    let name = unique();
    let mut d = DirEmitter::prepare(&dest, &crate::cancel::Cancel::never()).unwrap();
    d.symlink(b"a", b"/", &meta(0o777)).unwrap();
    file(&mut d, &format!("a/{name}"), "inside").unwrap();
    d.symlink(b"etc-link", b"/etc", &meta(0o777)).unwrap();
    file(&mut d, "etc-link/imgbuild-probe", "x").unwrap();
    let staging = d.staging().to_path_buf();
    d.finish().unwrap();
    assert!(!staging.exists());
    assert_eq!(std::fs::read_to_string(dest.join(&name)).unwrap(), "inside");
    assert!(!Path::new("/").join(&name).exists());
    assert!(dest.join("etc/imgbuild-probe").is_file());
    assert!(!Path::new("/etc/imgbuild-probe").exists());
    assert_eq!(std::fs::read_link(dest.join("a")).unwrap(), Path::new("/"));
}

#[test]
fn a_directory_made_through_a_symlink_gets_its_mode() {
    let (_tmp, dest) = new_dest();
    let mut d = DirEmitter::prepare(&dest, &crate::cancel::Cancel::never()).unwrap();
    d.dir(b"real", &meta(0o755)).unwrap();
    d.symlink(b"via", b"/real", &meta(0o777)).unwrap();
    d.dir(b"via/sub", &meta(0o700)).unwrap();
    d.finish().unwrap();
    let m = std::fs::symlink_metadata(dest.join("real/sub")).unwrap();
    assert_eq!(m.permissions().mode() & 0o7777, 0o700);
    assert_eq!(m.mtime(), 1_600_000_000);
}

#[test]
fn escapes_and_loops_are_refused() {
    let (tmp, dest) = new_dest();
    let mut d = DirEmitter::prepare(&dest, &crate::cancel::Cancel::never()).unwrap();
    d.symlink(b"up", b"../..", &meta(0o777)).unwrap();
    let e = file(&mut d, "up/x", "no").unwrap_err();
    assert!(
        e.to_string().contains("outside the output directory"),
        "{e:#}"
    );
    d.symlink(b"l1", b"l2", &meta(0o777)).unwrap();
    d.symlink(b"l2", b"l1", &meta(0o777)).unwrap();
    let e = file(&mut d, "l1/x", "no").unwrap_err();
    assert!(e.to_string().contains("symlinks on the way"), "{e:#}");
    file(&mut d, "plain", "f").unwrap();
    let e = file(&mut d, "plain/x", "no").unwrap_err();
    assert!(e.to_string().contains("not a directory"), "{e:#}");
    // A hard link to a symlink that points outside is not a link to the outside file.
    d.symlink(b"pw", b"/etc/passwd", &meta(0o777)).unwrap();
    let e = d.hardlink(b"h", b"pw", &meta(0o644)).unwrap_err();
    assert!(e.to_string().contains("not a regular file"), "{e:#}");
    // An absolute hard-link target is the root's, which has no etc/passwd.
    assert!(d.hardlink(b"h2", b"/etc/passwd", &meta(0o644)).is_err());
    // Dropped unfinished: no staging directory, no output.
    drop(d);
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

#[test]
fn modes_links_and_times_are_restored_and_dirs_set_last() {
    let (_tmp, dest) = new_dest();
    let mut d = DirEmitter::prepare(&dest, &crate::cancel::Cancel::never()).unwrap();
    d.dir(b"ro", &meta(0o555)).unwrap();
    d.dir(b"ro/deeper", &meta(0o500)).unwrap();
    d.dir(b"sticky", &meta(0o1777)).unwrap();
    file(&mut d, "ro/deeper/f", "data").unwrap();
    d.file(b"suid", &meta(0o4755), 1, &mut Bytes(b"#")).unwrap();
    d.hardlink(b"ro/hard", b"ro/deeper/f", &meta(0o644))
        .unwrap();
    d.symlink(b"link", b"ro/deeper/f", &meta(0o777)).unwrap();
    d.special(b"fifo", Kind::Fifo, (0, 0), &meta(0o640))
        .unwrap();
    d.finish().unwrap();
    let m = |p: &str| std::fs::symlink_metadata(dest.join(p)).unwrap();
    assert_eq!(m("ro").permissions().mode() & 0o7777, 0o555);
    assert_eq!(m("ro/deeper").permissions().mode() & 0o7777, 0o500);
    assert_eq!(m("sticky").permissions().mode() & 0o7777, 0o1777);
    assert_eq!(m("suid").permissions().mode() & 0o7777, 0o4755);
    assert_eq!(m("fifo").permissions().mode() & 0o7777, 0o640);
    assert_eq!(m("ro/deeper").mtime(), 1_600_000_000);
    assert_eq!(m("link").mtime(), 1_600_000_000);
    assert_eq!(m("ro/hard").ino(), m("ro/deeper/f").ino());
    assert_eq!(
        std::fs::read_to_string(dest.join("ro/hard")).unwrap(),
        "data"
    );
    assert!(m("fifo").file_type().is_fifo());
}

#[test]
fn a_failure_after_read_only_dirs_still_cleans_up() {
    let (tmp, dest) = new_dest();
    let mut d = DirEmitter::prepare(&dest, &crate::cancel::Cancel::never()).unwrap();
    d.dir(b"ro", &meta(0o500)).unwrap();
    file(&mut d, "ro/f", "x").unwrap();
    // Make the rename fail: DEST appears meanwhile, not empty.
    std::fs::create_dir(&dest).unwrap();
    std::fs::write(dest.join("other"), "x").unwrap();
    assert!(d.finish().is_err());
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, [std::ffi::OsString::from("rootfs")]);
}

#[test]
fn destination_must_be_new_or_empty() {
    let (_tmp, dest) = new_dest();
    std::fs::create_dir(&dest).unwrap();
    let d = DirEmitter::prepare(&dest, &crate::cancel::Cancel::never()).unwrap();
    d.finish().unwrap();
    assert!(dest.is_dir());
    std::fs::write(dest.join("x"), "x").unwrap();
    let e = DirEmitter::prepare(&dest, &crate::cancel::Cancel::never())
        .err()
        .unwrap();
    assert!(e.to_string().contains("already exists"), "{e:#}");
    let e = DirEmitter::prepare(
        &dest.join("missing/deeper"),
        &crate::cancel::Cancel::never(),
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("does not exist"), "{e:#}");
}
