//! The flattening engine, pure: layers are applied in order to an in-memory tree of paths
//! (metadata only, never content), the way a container runtime applies them to a root
//! filesystem, then turned into a `Plan` that says which entry of which layer becomes which
//! output entry.
//!
//! - Names are relative to the image root: absolute names and `..` components are refused;
//!   `./` prefixes and `.` entries are fine. The parent of every entry is resolved **in the
//!   tree**, with chroot semantics: a symlink met on the way is followed inside the image
//!   (absolute targets restart at the image root), at most 40 hops, and a `..` that would
//!   climb above the root is refused. The final component is never followed.
//! - Later entries replace earlier ones; a non-directory replacing a directory removes the
//!   directory's whole subtree; a directory over a directory keeps the children.
//! - `.wh.NAME` deletes NAME and what is under it, `.wh..wh..opq` hides everything a
//!   directory held, both only for what lower layers put there (OCI image-spec
//!   "whiteouts"). `.wh.` with an empty name or one of `.`/`..` is refused. Other
//!   `.wh..wh.*` names are aufs metadata and are skipped. No `.wh.*` entry ever reaches the
//!   output.
//! - A hard link shares its target's content (its "inode"), as the target was when the link
//!   was made: the content is stored once in the output, under the first surviving path of
//!   the group (the original path when it survives, else the first in byte order), and the
//!   other paths become hard links to it. So every hard link in the output points at a path
//!   that is in the output, even when a later layer deleted or replaced the original.
//!   A hard link to a missing path or to a directory is refused.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;

use anyhow::Result;

use crate::error::{escape_bytes, invalid};
use crate::layer::parse::{Kind, MAX_PATH, TarEntry};

/// Symlinks followed while resolving one path (Linux's MAXSYMLINKS).
pub const MAX_HOPS: usize = 40;
/// Paths in the flattened tree, all layers together.
pub const MAX_NODES: usize = 4_000_000;

const OPAQUE: &[u8] = b".wh..wh..opq";
const WHITEOUT: &[u8] = b".wh.";
const AUFS_META: &[u8] = b".wh..wh.";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// Permission bits, including setuid, setgid and sticky.
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: i64,
}

impl Meta {
    fn of(e: &TarEntry) -> Meta {
        Meta {
            mode: e.mode & 0o7777,
            uid: e.uid,
            gid: e.gid,
            mtime: e.mtime,
        }
    }

    /// A directory that no entry declared (a parent that was missing).
    fn implicit(mtime: i64) -> Meta {
        Meta {
            mode: 0o755,
            uid: 0,
            gid: 0,
            mtime,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    Dir,
    /// A regular file: its content is that of inode `inode`.
    File {
        inode: usize,
    },
    Symlink(Vec<u8>),
    /// Character or block device, or fifo.
    Special {
        kind: Kind,
        dev: (u32, u32),
    },
}

#[derive(Debug, Clone)]
pub struct Node {
    pub kind: NodeKind,
    pub meta: Meta,
    /// The layer (0 = bottom) and entry (0 = first) that last wrote this path.
    pub layer: u32,
    pub ordinal: u64,
}

/// Where a regular file's content comes from.
#[derive(Debug, Clone)]
pub struct Inode {
    pub layer: u32,
    pub ordinal: u64,
    pub size: u64,
    pub meta: Meta,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// `.wh.NAME` entries read.
    pub whiteouts: u64,
    /// `.wh..wh..opq` entries read.
    pub opaque: u64,
    /// aufs metadata entries skipped.
    pub skipped: u64,
}

/// The flattened filesystem so far.
#[derive(Debug, Default)]
pub struct Tree {
    nodes: BTreeMap<Vec<u8>, Node>,
    inodes: Vec<Inode>,
    root: Option<Meta>,
    pub stats: Stats,
}

fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(dir.len() + 1 + name.len());
    p.extend_from_slice(dir);
    if !dir.is_empty() {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

/// The components of an entry's name: `./a//b/` → `[a, b]`; absolute names and `..` refused.
fn components(raw: &[u8]) -> Result<Vec<&[u8]>> {
    if raw.starts_with(b"/") {
        return Err(invalid(format!(
            "tar entry '{}' has an absolute name",
            escape_bytes(raw)
        )));
    }
    let mut out = Vec::new();
    for c in raw.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                return Err(invalid(format!(
                    "tar entry '{}' has a '..' component",
                    escape_bytes(raw)
                )));
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

impl Tree {
    pub fn new() -> Tree {
        Tree::default()
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn get(&self, path: &[u8]) -> Option<&Node> {
        self.nodes.get(path)
    }

    /// Apply entry `ordinal` of layer `layer`.
    pub fn apply(&mut self, layer: u32, ordinal: u64, e: &TarEntry) -> Result<()> {
        let comps = components(&e.path)?;
        let meta = Meta::of(e);
        let Some((&name, parents)) = comps.split_last() else {
            if e.kind == Kind::Dir {
                self.root = Some(meta);
                return Ok(());
            }
            return Err(invalid(format!(
                "tar entry '{}' would replace the image's root directory",
                escape_bytes(&e.path)
            )));
        };
        if let Some(p) = parents.iter().find(|c| c.starts_with(WHITEOUT)) {
            if p.starts_with(AUFS_META) && *p != OPAQUE {
                self.stats.skipped += 1;
                return Ok(());
            }
            return Err(invalid(format!(
                "tar entry '{}' is inside a whiteout ('{}')",
                escape_bytes(&e.path),
                escape_bytes(p)
            )));
        }
        let at = (layer, ordinal, e.mtime, &e.path[..]);
        if name == OPAQUE {
            self.stats.opaque += 1;
            let dir = self.resolve_dir(parents, true, at)?.unwrap_or_default();
            self.remove_lower(&dir, layer, false, at.2);
            return Ok(());
        }
        if name.starts_with(AUFS_META) {
            self.stats.skipped += 1;
            return Ok(());
        }
        if let Some(target) = name.strip_prefix(WHITEOUT) {
            if target.is_empty() || target == b"." || target == b".." {
                return Err(invalid(format!(
                    "tar entry '{}' is a whiteout of '{}', which is refused",
                    escape_bytes(&e.path),
                    escape_bytes(target)
                )));
            }
            self.stats.whiteouts += 1;
            if let Some(dir) = self.resolve_dir(parents, false, at)? {
                let path = join(&dir, target);
                if self.nodes.get(&path).is_some_and(|n| n.layer < layer) {
                    self.remove_lower(&path, layer, true, at.2);
                }
            }
            return Ok(());
        }
        let dir = self.resolve_dir(parents, true, at)?.unwrap_or_default();
        let path = join(&dir, name);
        if path.len() > MAX_PATH {
            return Err(invalid(format!(
                "tar entry '{}' resolves to a path longer than {MAX_PATH} bytes",
                escape_bytes(&e.path)
            )));
        }
        let kind = match e.kind {
            Kind::Dir => {
                if let Some(n) = self.nodes.get_mut(&path)
                    && n.kind == NodeKind::Dir
                {
                    n.meta = meta;
                    n.layer = layer;
                    n.ordinal = ordinal;
                    return Ok(());
                }
                NodeKind::Dir
            }
            Kind::File => {
                self.inodes.push(Inode {
                    layer,
                    ordinal,
                    size: e.size,
                    meta,
                });
                NodeKind::File {
                    inode: self.inodes.len() - 1,
                }
            }
            Kind::Symlink => NodeKind::Symlink(e.link.clone().unwrap_or_default()),
            Kind::HardLink => {
                let target = self.link_target(e, at)?;
                if target == path {
                    return Ok(());
                }
                match self.nodes.get(&target) {
                    Some(Node {
                        kind: NodeKind::Dir,
                        ..
                    }) => {
                        return Err(invalid(format!(
                            "tar entry '{}' is a hard link to directory '{}'",
                            escape_bytes(&e.path),
                            escape_bytes(&target)
                        )));
                    }
                    Some(n) => {
                        let (kind, meta) = (n.kind.clone(), n.meta);
                        return self.insert(&path, kind, meta, layer, ordinal);
                    }
                    None => {
                        return Err(invalid(format!(
                            "tar entry '{}' is a hard link to a missing path",
                            escape_bytes(&e.path)
                        )));
                    }
                }
            }
            k @ (Kind::Char | Kind::Block | Kind::Fifo) => NodeKind::Special {
                kind: k,
                dev: e.dev,
            },
        };
        self.insert(&path, kind, meta, layer, ordinal)
    }

    fn insert(
        &mut self,
        path: &[u8],
        kind: NodeKind,
        meta: Meta,
        layer: u32,
        ordinal: u64,
    ) -> Result<()> {
        self.remove_subtree(path);
        if self.nodes.len() >= MAX_NODES {
            return Err(invalid(format!(
                "the image's filesystem has more than {MAX_NODES} paths"
            )));
        }
        self.nodes.insert(
            path.to_vec(),
            Node {
                kind,
                meta,
                layer,
                ordinal,
            },
        );
        Ok(())
    }

    /// The existing path a hard link names: in-root (a leading `/` is the image root), its
    /// parent resolved like any entry's, its last component not followed.
    fn link_target(&mut self, e: &TarEntry, at: (u32, u64, i64, &[u8])) -> Result<Vec<u8>> {
        let raw = e.link.as_deref().unwrap_or_default();
        let shown = || {
            format!(
                "hard link '{}' -> '{}'",
                escape_bytes(&e.path),
                escape_bytes(raw)
            )
        };
        let stripped = raw.strip_prefix(b"/").unwrap_or(raw);
        let comps = components(stripped)
            .map_err(|_| invalid(format!("{}: the target has a '..' component", shown())))?;
        let missing = || {
            invalid(format!(
                "{}: the target is not in the image (a link must point at a file of the image)",
                shown()
            ))
        };
        let Some((&name, parents)) = comps.split_last() else {
            return Err(invalid(format!("{}: the target is the root", shown())));
        };
        let dir = self.resolve_dir(parents, false, at)?.ok_or_else(missing)?;
        let target = join(&dir, name);
        if !self.nodes.contains_key(&target) {
            return Err(missing());
        }
        Ok(target)
    }

    /// Resolve directory components in the tree (chroot semantics). Missing directories are
    /// created (implicit, 0755) when `create`, else the result is None.
    fn resolve_dir(
        &mut self,
        comps: &[&[u8]],
        create: bool,
        at: (u32, u64, i64, &[u8]),
    ) -> Result<Option<Vec<u8>>> {
        let (layer, ordinal, mtime, entry) = at;
        let mut queue: VecDeque<Vec<u8>> = comps.iter().map(|c| c.to_vec()).collect();
        let mut cur: Vec<u8> = Vec::new();
        let mut hops = 0;
        let mut last_link: Option<(Vec<u8>, Vec<u8>)> = None;
        while let Some(c) = queue.pop_front() {
            if c.is_empty() || c == b"." {
                continue;
            }
            if c == b".." {
                if cur.is_empty() {
                    let (l, t) = last_link.unwrap_or_default();
                    return Err(invalid(format!(
                        "tar entry '{}' goes through symlink '{}' -> '{}', which leads outside the image's root",
                        escape_bytes(entry),
                        escape_bytes(&l),
                        escape_bytes(&t)
                    )));
                }
                let cut = cur.iter().rposition(|&b| b == b'/').unwrap_or(0);
                cur.truncate(cut);
                continue;
            }
            let next = join(&cur, &c);
            if next.len() > MAX_PATH {
                return Err(invalid(format!(
                    "tar entry '{}' resolves to a path longer than {MAX_PATH} bytes",
                    escape_bytes(entry)
                )));
            }
            match self.nodes.get(&next).map(|n| &n.kind) {
                Some(NodeKind::Dir) => cur = next,
                Some(NodeKind::Symlink(target)) => {
                    hops += 1;
                    if hops > MAX_HOPS {
                        return Err(invalid(format!(
                            "tar entry '{}': more than {MAX_HOPS} symlinks on the way (a loop?)",
                            escape_bytes(entry)
                        )));
                    }
                    let target = target.clone();
                    if target.starts_with(b"/") {
                        cur.clear();
                    }
                    for part in target.split(|&b| b == b'/').rev() {
                        queue.push_front(part.to_vec());
                    }
                    last_link = Some((next, target));
                }
                Some(_) => {
                    return Err(invalid(format!(
                        "tar entry '{}': '{}' on its way is not a directory",
                        escape_bytes(entry),
                        escape_bytes(&next)
                    )));
                }
                None if create => {
                    self.insert(&next, NodeKind::Dir, Meta::implicit(mtime), layer, ordinal)?;
                    cur = next;
                }
                None => return Ok(None),
            }
        }
        Ok(Some(cur))
    }

    /// Keys strictly below `dir` ("" is the root).
    fn below(&self, dir: &[u8]) -> impl Iterator<Item = (&Vec<u8>, &Node)> {
        let (start, end) = if dir.is_empty() {
            (Bound::Unbounded, Bound::Unbounded)
        } else {
            let mut s = dir.to_vec();
            s.push(b'/');
            let mut e = dir.to_vec();
            e.push(b'/' + 1);
            (Bound::Included(s), Bound::Excluded(e))
        };
        self.nodes.range::<Vec<u8>, _>((start, end))
    }

    /// Remove `path` and everything below it.
    fn remove_subtree(&mut self, path: &[u8]) {
        let below: Vec<Vec<u8>> = self.below(path).map(|(k, _)| k.clone()).collect();
        for k in below {
            self.nodes.remove(&k);
        }
        self.nodes.remove(path);
    }

    /// What lower layers (< `layer`) put below `dir` (and `dir` itself when `itself`) goes;
    /// what `layer` itself put there stays, with its parents.
    fn remove_lower(&mut self, dir: &[u8], layer: u32, itself: bool, mtime: i64) {
        let mut gone: Vec<Vec<u8>> = self
            .below(dir)
            .filter(|(_, n)| n.layer < layer)
            .map(|(k, _)| k.clone())
            .collect();
        if itself {
            gone.push(dir.to_vec());
        }
        for k in &gone {
            self.nodes.remove(k);
        }
        let kept: Vec<Vec<u8>> = self.below(dir).map(|(k, _)| k.clone()).collect();
        for k in kept {
            let mut cut = 0;
            while let Some(i) = k[cut..].iter().position(|&b| b == b'/') {
                cut += i;
                let parent = &k[..cut];
                if !self.nodes.contains_key(parent) {
                    let node = Node {
                        kind: NodeKind::Dir,
                        meta: Meta::implicit(mtime),
                        layer,
                        ordinal: 0,
                    };
                    self.nodes.insert(parent.to_vec(), node);
                }
                cut += 1;
            }
        }
    }
}

#[path = "plan.rs"]
mod plan;
pub use plan::{Action, Plan};

#[cfg(test)]
#[path = "tree_tests.rs"]
mod tests;
