//! Filesystem tree snapshots for comparing trees: a build context against `umoci unpack`'s
//! rootfs or our own export. Everything is `lstat`-based; symlinks are never followed.
#![allow(dead_code)] // shared test support: not every test module uses every helper

use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    /// Devices, fifos, sockets.
    Other,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub kind: Kind,
    /// Permission bits including setuid, setgid and sticky (`& 0o7777`).
    pub mode: u32,
    /// Content length for files, target length for symlinks, 0 otherwise.
    pub size: u64,
    /// Hex sha256 of a file's content.
    pub sha256: Option<String>,
    pub link_target: Option<Vec<u8>>,
    /// Non-directories sharing a `(dev, ino)` with another path of the tree get the same group
    /// id; ids are handed out in sorted path order, so equal structures get equal ids.
    pub hardlink_group: Option<usize>,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
}

/// Every path below `root` (relative, as raw bytes, `/`-separated; `root` itself excluded).
/// Panics with the path on I/O errors: it is meant for trees the test itself controls.
pub fn snapshot(root: &Path) -> BTreeMap<Vec<u8>, Node> {
    let mut nodes = BTreeMap::new();
    let mut inodes = BTreeMap::new();
    walk(root, Vec::new(), &mut nodes, &mut inodes);
    let mut count: HashMap<(u64, u64), usize> = HashMap::new();
    for key in inodes.values() {
        *count.entry(*key).or_default() += 1;
    }
    let mut groups: HashMap<(u64, u64), usize> = HashMap::new();
    for (path, key) in &inodes {
        if count[key] > 1 {
            let next = groups.len();
            let group = *groups.entry(*key).or_insert(next);
            nodes
                .get_mut(path)
                .expect("inodes only holds walked paths")
                .hardlink_group = Some(group);
        }
    }
    nodes
}

fn walk(
    dir: &Path,
    rel: Vec<u8>,
    nodes: &mut BTreeMap<Vec<u8>, Node>,
    inodes: &mut BTreeMap<Vec<u8>, (u64, u64)>,
) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
            .path();
        let meta = std::fs::symlink_metadata(&path)
            .unwrap_or_else(|e| panic!("lstat {}: {e}", path.display()));
        let mut key = rel.clone();
        if !key.is_empty() {
            key.push(b'/');
        }
        key.extend_from_slice(
            path.file_name()
                .expect("read_dir yields named entries")
                .as_bytes(),
        );
        let ft = meta.file_type();
        let mut node = Node {
            kind: Kind::Other,
            mode: meta.mode() & 0o7777,
            size: 0,
            sha256: None,
            link_target: None,
            hardlink_group: None,
            uid: meta.uid(),
            gid: meta.gid(),
            mtime: meta.mtime(),
        };
        if ft.is_dir() {
            node.kind = Kind::Dir;
            walk(&path, key.clone(), nodes, inodes);
        } else if ft.is_symlink() {
            let target = std::fs::read_link(&path)
                .unwrap_or_else(|e| panic!("readlink {}: {e}", path.display()));
            node.kind = Kind::Symlink;
            node.size = target.as_os_str().len() as u64;
            node.link_target = Some(target.as_os_str().as_bytes().to_vec());
        } else if ft.is_file() {
            let data =
                std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            node.kind = Kind::File;
            node.size = data.len() as u64;
            node.sha256 = Some(format!("{:x}", Sha256::digest(&data)));
        }
        if !ft.is_dir() && meta.nlink() > 1 {
            inodes.insert(key.clone(), (meta.dev(), meta.ino()));
        }
        nodes.insert(key, node);
    }
}

/// What `diff_snapshots_with` compares beyond kind, content, file modes, link targets and
/// hard-link groups (always compared; symlink modes never are).
#[derive(Clone, Debug)]
pub struct DiffOptions {
    pub mtimes: bool,
    pub dir_modes: bool,
    pub owners: bool,
}

impl Default for DiffOptions {
    fn default() -> Self {
        Self {
            mtimes: false,
            dir_modes: true,
            owners: false,
        }
    }
}

/// Readable differences between two snapshots (empty when equal), ignoring mtimes and owners.
pub fn diff_snapshots(a: &BTreeMap<Vec<u8>, Node>, b: &BTreeMap<Vec<u8>, Node>) -> Vec<String> {
    diff_snapshots_with(a, b, &DiffOptions::default())
}

pub fn diff_snapshots_with(
    a: &BTreeMap<Vec<u8>, Node>,
    b: &BTreeMap<Vec<u8>, Node>,
    opts: &DiffOptions,
) -> Vec<String> {
    let mut out = vec![];
    let show = |p: &[u8]| String::from_utf8_lossy(p).into_owned();
    for (path, x) in a {
        let p = show(path);
        let Some(y) = b.get(path) else {
            out.push(format!("{p}: only in the first tree ({:?})", x.kind));
            continue;
        };
        if x.kind != y.kind {
            out.push(format!("{p}: kind {:?} != {:?}", x.kind, y.kind));
            continue;
        }
        let mode_matters = match x.kind {
            Kind::Symlink => false,
            Kind::Dir => opts.dir_modes,
            _ => true,
        };
        if mode_matters && x.mode != y.mode {
            out.push(format!("{p}: mode {:04o} != {:04o}", x.mode, y.mode));
        }
        if x.kind == Kind::File && (x.size, &x.sha256) != (y.size, &y.sha256) {
            out.push(format!(
                "{p}: content differs ({} bytes, sha256 {:?} != {} bytes, sha256 {:?})",
                x.size, x.sha256, y.size, y.sha256
            ));
        }
        if x.link_target != y.link_target {
            let t = |n: &Node| n.link_target.as_deref().map(show).unwrap_or_default();
            out.push(format!("{p}: symlink target '{}' != '{}'", t(x), t(y)));
        }
        if x.hardlink_group != y.hardlink_group {
            out.push(format!(
                "{p}: hard-link group {:?} != {:?}",
                x.hardlink_group, y.hardlink_group
            ));
        }
        if opts.owners && (x.uid, x.gid) != (y.uid, y.gid) {
            out.push(format!(
                "{p}: owner {}:{} != {}:{}",
                x.uid, x.gid, y.uid, y.gid
            ));
        }
        if opts.mtimes && x.mtime != y.mtime && x.kind != Kind::Symlink {
            out.push(format!("{p}: mtime {} != {}", x.mtime, y.mtime));
        }
    }
    for (path, y) in b {
        if !a.contains_key(path) {
            out.push(format!(
                "{}: only in the second tree ({:?})",
                show(path),
                y.kind
            ));
        }
    }
    out
}

mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    fn tree(root: &Path, variant: bool) {
        let mk = |p: &str, data: &str, mode: u32| {
            let path = root.join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, data).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        mk("a/one", "1", 0o644);
        mk("b/suid", "s", if variant { 0o755 } else { 0o4755 });
        mk("z", if variant { "changed" } else { "z" }, 0o600);
        std::fs::hard_link(root.join("a/one"), root.join("c-hard")).unwrap();
        std::fs::hard_link(root.join("b/suid"), root.join("b/suid2")).unwrap();
        symlink(if variant { "../z" } else { "one" }, root.join("a/link")).unwrap();
        std::fs::create_dir(root.join("sticky")).unwrap();
        std::fs::set_permissions(root.join("sticky"), std::fs::Permissions::from_mode(0o1777))
            .unwrap();
        if variant {
            std::fs::create_dir(root.join("extra")).unwrap();
        }
    }

    #[test]
    fn snapshot_records_kinds_modes_links_and_hardlink_groups() {
        let tmp = tempfile::tempdir().unwrap();
        tree(tmp.path(), false);
        let snap = snapshot(tmp.path());
        let keys: Vec<String> = snap
            .keys()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .collect();
        assert_eq!(
            keys,
            [
                "a", "a/link", "a/one", "b", "b/suid", "b/suid2", "c-hard", "sticky", "z"
            ]
        );
        let n = |k: &str| &snap[k.as_bytes()];
        assert_eq!(
            (n("a").kind, n("a/link").kind, n("z").kind),
            (Kind::Dir, Kind::Symlink, Kind::File)
        );
        assert_eq!(
            (n("b/suid").mode, n("sticky").mode, n("z").mode),
            (0o4755, 0o1777, 0o600)
        );
        assert_eq!(n("a/link").link_target.as_deref(), Some(&b"one"[..]));
        let groups: Vec<_> = ["a/one", "b/suid", "b/suid2", "c-hard", "z"]
            .map(|k| n(k).hardlink_group)
            .into();
        assert_eq!(groups, [Some(0), Some(1), Some(1), Some(0), None]);
        assert_eq!(
            n("z").sha256.as_deref(),
            Some(&format!("{:x}", Sha256::digest(b"z"))[..])
        );
    }

    #[test]
    fn diff_lists_every_difference_and_nothing_for_equal_trees() {
        let (t1, t2, t3) = (
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
        );
        tree(t1.path(), false);
        tree(t2.path(), false);
        tree(t3.path(), true);
        let (a, b, c) = (
            snapshot(t1.path()),
            snapshot(t2.path()),
            snapshot(t3.path()),
        );
        assert_eq!(diff_snapshots(&a, &b), Vec::<String>::new());
        let diff = diff_snapshots(&a, &c);
        assert_eq!(diff.len(), 5, "{diff:#?}");
        let want = [
            "a/link: symlink target 'one' != '../z'",
            "b/suid: mode 4755 != 0755",
            "b/suid2: mode 4755 != 0755",
            "z: content differs",
            "extra: only in the second tree (Dir)",
        ];
        for (line, want) in diff.iter().zip(want) {
            assert!(
                line.starts_with(want),
                "{line:?} should start with {want:?}"
            );
        }
        std::fs::set_permissions(
            t2.path().join("sticky"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        let b = snapshot(t2.path());
        assert_eq!(diff_snapshots(&a, &b), ["sticky: mode 1777 != 0755"]);
        let lenient = DiffOptions {
            dir_modes: false,
            ..DiffOptions::default()
        };
        assert!(diff_snapshots_with(&a, &b, &lenient).is_empty());
    }

    #[test]
    fn hard_link_groups_are_compared() {
        let (t1, t2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        for t in [&t1, &t2] {
            std::fs::write(t.path().join("x"), "same").unwrap();
        }
        std::fs::hard_link(t1.path().join("x"), t1.path().join("y")).unwrap();
        std::fs::write(t2.path().join("y"), "same").unwrap();
        let diff = diff_snapshots(&snapshot(t1.path()), &snapshot(t2.path()));
        assert_eq!(
            diff,
            [
                "x: hard-link group Some(0) != None",
                "y: hard-link group Some(0) != None"
            ]
        );
    }
}
