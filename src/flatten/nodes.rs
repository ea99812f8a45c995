//! The tree's storage: nodes (allocation, free list, child lists), the (parent, name)
//! index, paths rebuilt from parent chains, and compaction of the name arena.

use std::hash::{BuildHasher, Hasher};

use anyhow::Result;

use super::tree::{
    BIG_OWNER, BLOCK, CHAR, Content, DIR, FILE, FREE, ID_BITS, ID_MASK, MAX_BIG_OWNERS, MAX_NODES,
    Meta, NONE, Node, NodeKind, ROOT, SIDE, SYMLINK, Tree,
};
use crate::error::invalid;
use crate::layer::parse::Kind;

/// The tag bits of a slot for hash `h`.
fn tag_of(h: u64) -> u32 {
    ((h >> 54) as u32) << ID_BITS
}

impl Tree {
    pub(super) fn hash(&self, parent: u32, name: &[u8]) -> u64 {
        let mut h = self.hasher.build_hasher();
        h.write_u32(parent);
        h.write(name);
        h.finish()
    }

    pub(super) fn node_hash(&self, id: u32) -> Result<u64> {
        let n = &self.nodes[id as usize];
        self.names
            .with(n.name, n.name_len.into(), |b| self.hash(n.parent, b))
    }

    /// The child `name` of directory `parent`.
    pub(super) fn find(&self, parent: u32, name: &[u8]) -> Result<Option<u32>> {
        if self.slots.is_empty() {
            return Ok(None);
        }
        let mask = self.slots.len() - 1;
        let h = self.hash(parent, name);
        let tag = tag_of(h);
        let mut i = h as usize & mask;
        loop {
            let slot = self.slots[i];
            if slot == NONE {
                return Ok(None);
            }
            if slot & !ID_MASK == tag {
                let id = slot & ID_MASK;
                let n = &self.nodes[id as usize];
                if n.parent == parent
                    && usize::from(n.name_len) == name.len()
                    && self.names.with(n.name, name.len(), |b| b == name)?
                {
                    return Ok(Some(id));
                }
            }
            i = (i + 1) & mask;
        }
    }

    pub(super) fn index_insert(&mut self, id: u32) -> Result<()> {
        if (self.live + 1) * 8 > self.slots.len() * 7 {
            let bigger = vec![NONE; (self.slots.len() * 2).max(16)];
            let old = std::mem::replace(&mut self.slots, bigger);
            for slot in old.into_iter().filter(|&s| s != NONE) {
                self.place(slot & ID_MASK)?;
            }
        }
        self.place(id)
    }

    pub(super) fn place(&mut self, id: u32) -> Result<()> {
        let mask = self.slots.len() - 1;
        let h = self.node_hash(id)?;
        let mut i = h as usize & mask;
        while self.slots[i] != NONE {
            i = (i + 1) & mask;
        }
        self.slots[i] = id | tag_of(h);
        Ok(())
    }

    /// Remove `id` from the index (backward-shift deletion, no tombstones).
    pub(super) fn index_remove(&mut self, id: u32) -> Result<()> {
        if self.slots.is_empty() {
            return Ok(());
        }
        let mask = self.slots.len() - 1;
        let mut hole = self.node_hash(id)? as usize & mask;
        while self.slots[hole] & ID_MASK != id {
            if self.slots[hole] == NONE {
                return Err(invalid(
                    "a path missing from the tree's index (internal error)",
                ));
            }
            hole = (hole + 1) & mask;
        }
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let other = self.slots[j];
            if other == NONE {
                break;
            }
            let home = self.node_hash(other & ID_MASK)? as usize & mask;
            // `other` may fill the hole unless its home lies in (hole, j].
            let (dh, dj) = (home.wrapping_sub(hole) & mask, j.wrapping_sub(hole) & mask);
            if dh == 0 || dh > dj {
                self.slots[hole] = other;
                hole = j;
            }
        }
        self.slots[hole] = NONE;
        Ok(())
    }

    pub(super) fn meta_of(&self, id: u32) -> Meta {
        let n = &self.nodes[id as usize];
        let (uid, gid) = if n.gid == BIG_OWNER {
            self.owners.get(n.uid as usize).copied().unwrap_or_default()
        } else {
            (n.uid.into(), n.gid.into())
        };
        Meta {
            mode: u32::from(n.bits & 0o7777),
            uid,
            gid,
            mtime: n.mtime,
        }
    }

    /// The entry whose content a file has (its own entry unless it is a hard link).
    pub(super) fn origin_of(&self, id: u32) -> u32 {
        let n = &self.nodes[id as usize];
        if n.has_side()
            && let Some(&o) = self.side.get(&id)
        {
            return o;
        }
        n.seq
    }

    pub(super) fn symlink_target(&self, n: &Node) -> Result<Vec<u8>> {
        let mut t = Vec::new();
        self.names
            .read_into((n.data >> 16) as u32, (n.data & 0xffff) as usize, &mut t)?;
        Ok(t)
    }

    /// The public view of node `id`.
    pub(super) fn kind_of(&self, id: u32) -> Result<NodeKind> {
        let n = self.nodes[id as usize];
        Ok(match n.kind() {
            DIR => NodeKind::Dir,
            FILE => NodeKind::File {
                origin: self.origin_of(id),
                size: n.data,
            },
            SYMLINK => NodeKind::Symlink(self.symlink_target(&n)?),
            k => NodeKind::Special {
                kind: match k {
                    CHAR => Kind::Char,
                    BLOCK => Kind::Block,
                    _ => Kind::Fifo,
                },
                dev: ((n.data >> 32) as u32, n.data as u32),
            },
        })
    }

    /// The path of node `id` (`a/b/c`), written into `out` (cleared first).
    pub(super) fn path_into(&self, id: u32, out: &mut Vec<u8>) -> Result<()> {
        out.clear();
        let mut len = 0usize;
        let mut cur = id;
        while cur != ROOT && cur != NONE {
            let n = &self.nodes[cur as usize];
            len += usize::from(n.name_len) + usize::from(len > 0);
            cur = n.parent;
        }
        out.resize(len, 0);
        let mut end = len;
        let mut cur = id;
        while cur != ROOT && cur != NONE {
            let n = &self.nodes[cur as usize];
            let l = usize::from(n.name_len);
            let start = end - l;
            self.names
                .with(n.name, l, |b| out[start..end].copy_from_slice(b))?;
            end = start;
            if end > 0 {
                end -= 1;
                out[end] = b'/';
            }
            cur = n.parent;
        }
        Ok(())
    }

    pub(super) fn path_of(&self, id: u32) -> Vec<u8> {
        let mut p = Vec::new();
        let _ = self.path_into(id, &mut p);
        p
    }

    /// The node of a clean path (`a/b`), without following anything.
    #[cfg(test)]
    pub(super) fn lookup(&self, path: &[u8]) -> Result<Option<u32>> {
        let mut cur = ROOT;
        for c in path.split(|&b| b == b'/').filter(|c| !c.is_empty()) {
            match self.find(cur, c)? {
                Some(id) => cur = id,
                None => return Ok(None),
            }
        }
        Ok(Some(cur).filter(|&id| id != ROOT))
    }

    /// Set `id`'s metadata and writer, keeping its kind.
    pub(super) fn set_meta(&mut self, id: u32, meta: Meta, seq: u32) -> Result<()> {
        let (uid, gid) = match (u32::try_from(meta.uid), u32::try_from(meta.gid)) {
            (Ok(u), Ok(g)) if u != BIG_OWNER && g != BIG_OWNER => (u, g),
            _ => (self.big_owner(meta.uid, meta.gid)?, BIG_OWNER),
        };
        let n = &mut self.nodes[id as usize];
        n.mtime = meta.mtime;
        n.seq = seq;
        n.bits = (n.bits & 0xf000) | (meta.mode & 0o7777) as u16;
        n.uid = uid;
        n.gid = gid;
        Ok(())
    }

    /// The index of owner ids that do not fit a node, in a table of distinct pairs.
    fn big_owner(&mut self, uid: u64, gid: u64) -> Result<u32> {
        if let Some(&i) = self.owner_index.get(&(uid, gid)) {
            return Ok(i);
        }
        if self.owners.len() >= MAX_BIG_OWNERS {
            return Err(invalid(format!(
                "the image has more than {MAX_BIG_OWNERS} distinct owners with ids of {BIG_OWNER} or more"
            )));
        }
        let i = self.owners.len() as u32;
        self.owners.push((uid, gid));
        self.owner_index.insert((uid, gid), i);
        Ok(i)
    }

    /// Record that `id`'s content is that of entry `origin` (None: its own).
    pub(super) fn set_origin(&mut self, id: u32, origin: Option<u32>) {
        let n = &mut self.nodes[id as usize];
        match origin {
            None => {
                if n.has_side() {
                    n.bits &= !(SIDE << 12);
                    self.side.remove(&id);
                }
            }
            Some(o) => {
                n.bits |= SIDE << 12;
                self.side.insert(id, o);
            }
        }
    }

    /// Put `content` at `name` in `dir`: a new node, or the existing one replaced (its
    /// subtree removed).
    pub(super) fn insert(
        &mut self,
        dir: u32,
        name: &[u8],
        content: Content,
        seq: u32,
    ) -> Result<u32> {
        let id = match self.find(dir, name)? {
            Some(id) => {
                if matches!(self.nodes[id as usize].kind(), DIR | SYMLINK) {
                    // What resolved through it may resolve differently now.
                    self.generation += 1;
                }
                self.free_children(id)?;
                self.release_data(id);
                id
            }
            None => {
                if self.live >= MAX_NODES {
                    return Err(invalid(format!(
                        "the image's filesystem has more than {MAX_NODES} paths"
                    )));
                }
                let off = self.names.push(name)?;
                self.live_bytes += name.len() as u64;
                let node = Node {
                    data: 0,
                    mtime: 0,
                    parent: dir,
                    prev: NONE,
                    next: NONE,
                    name: off,
                    seq,
                    uid: 0,
                    gid: 0,
                    // At most MAX_PATH (checked by the arena).
                    name_len: name.len() as u16,
                    bits: 0,
                };
                let id = if self.free != NONE {
                    let id = self.free;
                    self.free = self.nodes[id as usize].next;
                    self.nodes[id as usize] = node;
                    id
                } else {
                    let id = u32::try_from(self.nodes.len())
                        .ok()
                        .filter(|&id| id < ID_MASK)
                        .ok_or_else(|| invalid("too many paths"))?;
                    self.nodes.push(node);
                    id
                };
                self.link_child(dir, id);
                self.live += 1;
                self.index_insert(id)?;
                id
            }
        };
        let n = &mut self.nodes[id as usize];
        n.data = content.data;
        n.bits = content.kind << 12;
        self.set_meta(id, content.meta, seq)?;
        self.set_origin(id, content.origin.filter(|&o| o != seq));
        Ok(id)
    }

    /// Forget what node `id` references besides its name (a symlink's target bytes).
    pub(super) fn release_data(&mut self, id: u32) {
        let n = self.nodes[id as usize];
        if n.kind() == SYMLINK {
            self.live_bytes -= (n.data & 0xffff).min(self.live_bytes);
        }
        if n.has_side() {
            self.side.remove(&id);
        }
    }

    pub(super) fn link_child(&mut self, dir: u32, id: u32) {
        let first = self.nodes[dir as usize].first_child();
        self.nodes[id as usize].next = first;
        self.nodes[id as usize].prev = NONE;
        if first != NONE {
            self.nodes[first as usize].prev = id;
        }
        self.nodes[dir as usize].data = u64::from(id);
    }

    pub(super) fn unlink_child(&mut self, id: u32) {
        let Node {
            parent, prev, next, ..
        } = self.nodes[id as usize];
        if prev != NONE {
            self.nodes[prev as usize].next = next;
        } else if parent != NONE {
            self.nodes[parent as usize].data = u64::from(next);
        }
        if next != NONE {
            self.nodes[next as usize].prev = prev;
        }
    }

    /// Return a node (already unlinked from its parent or part of a freed subtree).
    pub(super) fn free_node(&mut self, id: u32) -> Result<()> {
        self.generation += 1;
        self.index_remove(id)?;
        self.release_data(id);
        let n = &mut self.nodes[id as usize];
        self.live_bytes -= u64::from(n.name_len).min(self.live_bytes);
        n.bits = FREE << 12;
        n.next = self.free;
        self.free = id;
        self.live -= 1;
        Ok(())
    }

    /// Free everything below `id` (post-order, without a stack).
    pub(super) fn free_children(&mut self, id: u32) -> Result<()> {
        let mut cur = self.nodes[id as usize].first_child();
        if cur == NONE {
            return Ok(());
        }
        self.nodes[id as usize].data = u64::from(NONE);
        while cur != NONE {
            loop {
                let c = self.nodes[cur as usize].first_child();
                if c == NONE {
                    break;
                }
                cur = c;
            }
            let Node { next, parent, .. } = self.nodes[cur as usize];
            self.free_node(cur)?;
            if next != NONE {
                cur = next;
            } else if parent == id {
                cur = NONE;
            } else {
                // Its children are all freed: the parent is a leaf now.
                self.nodes[parent as usize].data = u64::from(NONE);
                cur = parent;
            }
        }
        Ok(())
    }

    /// Remove `id` and everything below it.
    pub(super) fn remove_subtree(&mut self, id: u32) -> Result<()> {
        self.free_children(id)?;
        self.unlink_child(id);
        self.free_node(id)
    }

    /// When most of the arena is garbage (names of removed paths), copy the live bytes to
    /// a new arena: amortised linear, and bounded by the live tree.
    pub(super) fn maybe_compact(&mut self) -> Result<()> {
        if self.names.bytes() < self.compact_at || self.names.bytes() < 2 * self.live_bytes {
            return Ok(());
        }
        let mut fresh = self.names.fresh();
        let mut buf = Vec::new();
        for i in 1..self.nodes.len() {
            let n = self.nodes[i];
            if n.kind() == FREE {
                continue;
            }
            buf.clear();
            self.names.read_into(n.name, n.name_len.into(), &mut buf)?;
            self.nodes[i].name = fresh.push(&buf)?;
            if n.kind() == SYMLINK {
                buf.clear();
                self.names.read_into(
                    (n.data >> 16) as u32,
                    (n.data & 0xffff) as usize,
                    &mut buf,
                )?;
                let off = fresh.push(&buf)?;
                self.nodes[i].data = (u64::from(off) << 16) | (n.data & 0xffff);
            }
        }
        self.names = fresh;
        self.live_bytes = self.names.bytes();
        Ok(())
    }
}
