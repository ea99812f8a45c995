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
//!
//! Memory: the tree is a vector of fixed 48-byte nodes (parent, sibling and first-child
//! indexes, one component's name as an offset into an `Arena`), an open-addressing index
//! of `u32` from (parent, name) to node, and nothing per path. A path is rebuilt from its
//! parent chain when it is needed. Freed nodes are reused and the arena is compacted when
//! it is mostly garbage, so memory follows the live tree, not the number of entries read:
//! at the `MAX_NODES` cap, about 48 + 5 bytes per node (plus about 9 per hard link and 4
//! per output entry once planned) and at most `arena::MEM_CAP` bytes of names (the rest
//! spills to a temporary file). Owner ids that do not fit 32 bits go to a table of at most
//! `MAX_BIG_OWNERS` distinct pairs.

use std::collections::HashMap;
use std::hash::RandomState;

use anyhow::Result;

use super::arena::Arena;
use crate::error::{escape_bytes, invalid};
use crate::layer::parse::{Kind, MAX_PATH, TarEntry};

/// Symlinks followed while resolving one path (Linux's MAXSYMLINKS).
pub const MAX_HOPS: usize = 40;
/// Paths in the flattened tree, all layers together (three layers of 1,000,000 distinct
/// paths): 144 MiB of nodes and 16 MiB of index at the cap, plus at most
/// `arena::MEM_CAP` of names in memory.
pub const MAX_NODES: usize = 3_000_000;
const _: () = assert!(MAX_NODES + 1 < ID_MASK as usize);

const OPAQUE: &[u8] = b".wh..wh..opq";
const WHITEOUT: &[u8] = b".wh.";
const AUFS_META: &[u8] = b".wh..wh.";

/// Arena bytes from which garbage is worth compacting away.
const COMPACT_AT: u64 = 16 << 20;

/// Index slots hold a node id in the low 22 bits (`MAX_NODES` + 1 < 2^22 - 1) and 10
/// bits of its hash above, so that most probes never touch a node.
pub(super) const ID_BITS: u32 = 22;
pub(super) const ID_MASK: u32 = (1 << ID_BITS) - 1;

/// A node's `gid` when its owner ids are in `Tree::owners` (ids of 2^32 - 1 and more:
/// `(uid_t)-1` is no owner on Linux, larger ones exist only in tar headers).
pub(super) const BIG_OWNER: u32 = u32::MAX;
/// Distinct such owner pairs an image may use.
pub(super) const MAX_BIG_OWNERS: usize = 65_536;

/// No node (an empty slot, the end of a list).
pub(super) const NONE: u32 = u32::MAX;
/// Node 0 is the image's root directory.
pub(super) const ROOT: u32 = 0;

// Node kinds, in the top 4 bits of `Node::bits` (the low 12 are the permission bits).
pub(super) const FREE: u16 = 0;
pub(super) const DIR: u16 = 1;
pub(super) const FILE: u16 = 2;
pub(super) const SYMLINK: u16 = 3;
pub(super) const CHAR: u16 = 4;
pub(super) const BLOCK: u16 = 5;
const FIFO: u16 = 6;
/// Set when the node has an entry in `Tree::side` (a hard link's origin).
pub(super) const SIDE: u16 = 8;

/// The metadata of a path in the flattened filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// Permission bits, including setuid, setgid and sticky.
    pub mode: u32,
    /// Owner user id.
    pub uid: u64,
    /// Owner group id.
    pub gid: u64,
    /// Modification time in seconds since the epoch.
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

/// What a path is (the public view of a node).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    /// A directory.
    Dir,
    /// A regular file of `size` bytes, whose content is that of entry `origin` (the global
    /// entry number of the file entry; a hard link shares its target's).
    File {
        /// The global entry number of the entry holding the content.
        origin: u32,
        /// Content size in bytes.
        size: u64,
    },
    /// A symbolic link, with its target as stored.
    Symlink(Vec<u8>),
    /// Character or block device, or fifo.
    Special {
        /// Which of the three it is.
        kind: Kind,
        /// Device numbers (major, minor).
        dev: (u32, u32),
    },
}

/// One path of the tree: 48 bytes, whatever the path's length.
#[derive(Debug, Clone, Copy)]
pub(super) struct Node {
    /// Dir: first child; file: size; symlink: target offset << 16 | length; special:
    /// major << 32 | minor.
    pub(super) data: u64,
    pub(super) mtime: i64,
    pub(super) parent: u32,
    pub(super) prev: u32,
    pub(super) next: u32,
    /// The last component, in the arena.
    pub(super) name: u32,
    /// The global entry number (see `Tree::seq`) that last wrote this path.
    pub(super) seq: u32,
    pub(super) uid: u32,
    pub(super) gid: u32,
    pub(super) name_len: u16,
    /// Kind << 12 | permission bits.
    pub(super) bits: u16,
}

impl Node {
    pub(super) fn kind(&self) -> u16 {
        (self.bits >> 12) & !SIDE
    }
    pub(super) fn has_side(&self) -> bool {
        (self.bits >> 12) & SIDE != 0
    }
    pub(super) fn is_dir(&self) -> bool {
        self.kind() == DIR
    }
    pub(super) fn first_child(&self) -> u32 {
        if self.is_dir() {
            self.data as u32
        } else {
            NONE
        }
    }
}

/// Counts of the layer metadata entries met while flattening.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// `.wh.NAME` entries read.
    pub whiteouts: u64,
    /// `.wh..wh..opq` entries read.
    pub opaque: u64,
    /// aufs metadata entries skipped.
    pub skipped: u64,
}

/// Where an entry is being applied: (layer, global entry number, mtime, name as stored).
type At<'a> = (u32, u32, i64, &'a [u8]);

/// The flattened filesystem so far.
#[derive(Debug)]
pub struct Tree {
    pub(super) nodes: Vec<Node>,
    /// Freed nodes, linked through `next`.
    pub(super) free: u32,
    /// Nodes in use, the root excluded.
    pub(super) live: usize,
    pub(super) names: Arena,
    /// Arena bytes referenced by live nodes (names and symlink targets).
    pub(super) live_bytes: u64,
    /// The arena is compacted from this size on, when it is mostly garbage.
    pub(super) compact_at: u64,
    /// Open addressing (linear probing) from (parent, name) to node; NONE is empty.
    pub(super) slots: Vec<u32>,
    pub(super) hasher: RandomState,
    /// Hard links: node → the entry whose content it shares (4 + 4 bytes per link).
    pub(super) side: HashMap<u32, u32>,
    /// Owner id pairs that do not fit a node (`gid` = BIG_OWNER, `uid` = index here).
    pub(super) owners: Vec<(u64, u64)>,
    pub(super) owner_index: HashMap<(u64, u64), u32>,
    /// Bumped whenever a resolution may change (see `resolve_parent`).
    pub(super) generation: u64,
    /// The last parent resolved: its components joined, the directory, its path's length,
    /// the generation.
    last_parent: Option<(Vec<u8>, u32, usize, u64)>,
    /// The global entry number of each layer's first entry.
    layer_start: Vec<u32>,
    next_seq: u64,
    pub(super) root: Option<Meta>,
    /// Counts of whiteout and metadata entries met so far.
    pub stats: Stats,
}

impl Default for Tree {
    fn default() -> Tree {
        Tree::with_arena(Arena::default())
    }
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

fn kind_bits(kind: Kind) -> u16 {
    match kind {
        Kind::Dir => DIR,
        Kind::File | Kind::HardLink => FILE,
        Kind::Symlink => SYMLINK,
        Kind::Char => CHAR,
        Kind::Block => BLOCK,
        Kind::Fifo => FIFO,
    }
}

/// A new node's content: kind, data word, metadata, hard-link origin.
#[derive(Debug, Clone, Copy)]
pub(super) struct Content {
    pub(super) kind: u16,
    pub(super) data: u64,
    pub(super) meta: Meta,
    pub(super) origin: Option<u32>,
}

impl Tree {
    /// An empty tree (only the root directory).
    pub fn new() -> Tree {
        Tree::default()
    }

    fn with_arena(names: Arena) -> Tree {
        let root = Node {
            data: u64::from(NONE),
            mtime: 0,
            parent: NONE,
            prev: NONE,
            next: NONE,
            name: 0,
            seq: 0,
            uid: 0,
            gid: 0,
            name_len: 0,
            bits: (DIR << 12) | 0o755,
        };
        Tree {
            nodes: vec![root],
            free: NONE,
            live: 0,
            names,
            live_bytes: 0,
            compact_at: COMPACT_AT,
            slots: vec![NONE; 16],
            hasher: RandomState::new(),
            side: HashMap::new(),
            owners: Vec::new(),
            owner_index: HashMap::new(),
            generation: 0,
            last_parent: None,
            layer_start: Vec::new(),
            next_seq: 0,
            root: None,
            stats: Stats::default(),
        }
    }

    /// Paths in the tree.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether the tree holds no path besides the root.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The global entry number of entry `ordinal` of layer `layer` (layers come in order).
    fn seq(&mut self, layer: u32, ordinal: u64) -> Result<u32> {
        while self.layer_start.len() <= layer as usize {
            let start = u32::try_from(self.next_seq)
                .map_err(|_| invalid("the image's layers have more than 4294967295 entries"))?;
            self.layer_start.push(start);
        }
        let start = u64::from(self.layer_start[layer as usize]);
        let seq = start + ordinal;
        let s = u32::try_from(seq)
            .ok()
            .filter(|&s| s != NONE)
            .ok_or_else(|| invalid("the image's layers have more than 4294967294 entries"))?;
        self.next_seq = self.next_seq.max(seq + 1);
        Ok(s)
    }

    /// The first global entry number of `layer` (the end when it has no entry).
    pub fn layer_start(&self, layer: u32) -> u64 {
        self.layer_start
            .get(layer as usize)
            .map_or(self.next_seq, |&s| u64::from(s))
    }

    /// The layer and ordinal of global entry `seq`.
    pub fn entry_of(&self, seq: u32) -> (u32, u64) {
        let layer = self.layer_start.partition_point(|&s| s <= seq).max(1) - 1;
        let start = self.layer_start.get(layer).copied().unwrap_or(0);
        (layer as u32, u64::from(seq - start.min(seq)))
    }

    /// Apply entry `ordinal` of layer `layer`.
    pub fn apply(&mut self, layer: u32, ordinal: u64, e: &TarEntry) -> Result<()> {
        let seq = self.seq(layer, ordinal)?;
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
        let at = (layer, seq, e.mtime, &e.path[..]);
        if self.apply_whiteout(name, parents, at)? {
            return Ok(());
        }
        let (dir, dir_len) = self.resolve_parent(parents, at)?;
        if dir_len + usize::from(dir_len > 0) + name.len() > MAX_PATH {
            return Err(invalid(format!(
                "tar entry '{}' resolves to a path longer than {MAX_PATH} bytes",
                escape_bytes(&e.path)
            )));
        }
        let Some(content) = self.content_of(e, dir, name, meta, at)? else {
            return Ok(());
        };
        self.insert(dir, name, content, seq)?;
        self.maybe_compact()
    }

    /// What entry `e` (`name` in `dir`) puts in the tree, or None when it is already done
    /// (a directory over a directory takes the new metadata; a hard link to itself).
    fn content_of(
        &mut self,
        e: &TarEntry,
        dir: u32,
        name: &[u8],
        meta: Meta,
        at: At,
    ) -> Result<Option<Content>> {
        let seq = at.1;
        let mut content = Content {
            kind: kind_bits(e.kind),
            data: 0,
            meta,
            origin: None,
        };
        match e.kind {
            Kind::Dir => {
                if let Some(id) = self.find(dir, name)?
                    && self.nodes[id as usize].is_dir()
                {
                    self.set_meta(id, meta, seq)?;
                    return Ok(None);
                }
                content.data = u64::from(NONE);
            }
            Kind::File => content.data = e.size,
            Kind::Symlink => {
                let target = e.link.as_deref().unwrap_or_default();
                let off = self.names.push(target)?;
                self.live_bytes += target.len() as u64;
                content.data = (u64::from(off) << 16) | target.len() as u64;
            }
            Kind::HardLink => {
                let target = self.link_target(e, at)?;
                if self.find(dir, name)? == Some(target) {
                    return Ok(None);
                }
                let t = self.nodes[target as usize];
                if t.is_dir() {
                    return Err(invalid(format!(
                        "tar entry '{}' is a hard link to directory '{}'",
                        escape_bytes(&e.path),
                        escape_bytes(&self.path_of(target))
                    )));
                }
                content = Content {
                    kind: t.kind(),
                    data: t.data,
                    meta: self.meta_of(target),
                    origin: (t.kind() == FILE).then(|| self.origin_of(target)),
                };
                if t.kind() == SYMLINK {
                    // The copy counts as a reference of its own (see `maybe_compact`).
                    self.live_bytes += t.data & 0xffff;
                }
            }
            Kind::Char | Kind::Block | Kind::Fifo => {
                content.data = (u64::from(e.dev.0) << 32) | u64::from(e.dev.1);
            }
        }
        Ok(Some(content))
    }
}

mod resolve;
mod whiteout;

pub use super::plan::{Action, Plan, Step};

#[cfg(test)]
mod tests;
