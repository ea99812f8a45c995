//! Whiteouts (`.wh.NAME`) and opaque markers (`.wh..wh..opq`): what lower layers put
//! there is removed, what the whiteout's own layer put there stays.

use anyhow::Result;

use super::{AUFS_META, At, Meta, NONE, OPAQUE, ROOT, Tree, WHITEOUT};
use crate::error::{escape_bytes, invalid};

impl Tree {
    /// The `.wh.` names of an entry (`name` under `parents`): a whiteout or opaque marker is
    /// applied, aufs metadata skipped, a whiteout on the way refused. True when the entry
    /// is done with, false when it is an ordinary entry.
    pub(super) fn apply_whiteout(
        &mut self,
        name: &[u8],
        parents: &[&[u8]],
        at: At,
    ) -> Result<bool> {
        let (layer, _, _, path) = at;
        if let Some(p) = parents.iter().find(|c| c.starts_with(WHITEOUT)) {
            if p.starts_with(AUFS_META) && *p != OPAQUE {
                self.stats.skipped += 1;
                return Ok(true);
            }
            return Err(invalid(format!(
                "tar entry '{}' is inside a whiteout ('{}')",
                escape_bytes(path),
                escape_bytes(p)
            )));
        }
        if name == OPAQUE {
            self.stats.opaque += 1;
            let (dir, _) = self.resolve_dir(parents, true, at)?.unwrap_or((ROOT, 0));
            self.remove_lower(dir, layer, false, at)?;
            return Ok(true);
        }
        if name.starts_with(AUFS_META) {
            self.stats.skipped += 1;
            return Ok(true);
        }
        if let Some(target) = name.strip_prefix(WHITEOUT) {
            if target.is_empty() || target == b"." || target == b".." {
                return Err(invalid(format!(
                    "tar entry '{}' is a whiteout of '{}', which is refused",
                    escape_bytes(path),
                    escape_bytes(target)
                )));
            }
            self.stats.whiteouts += 1;
            if let Some((dir, _)) = self.resolve_dir(parents, false, at)?
                && let Some(id) = self.find(dir, target)?
                && u64::from(self.nodes[id as usize].seq) < self.layer_start(layer)
            {
                self.remove_lower(id, layer, true, at)?;
            }
            return Ok(true);
        }
        Ok(false)
    }

    /// What lower layers (< `layer`) put below `top` (and `top` itself when `itself`) goes;
    /// what `layer` itself put there stays, with its parents (implicit directories of
    /// `layer` when they came from lower layers).
    fn remove_lower(&mut self, top: u32, layer: u32, itself: bool, at: At) -> Result<()> {
        let start = self.layer_start(layer);
        let lower = |t: &Tree, id: u32| u64::from(t.nodes[id as usize].seq) < start;
        // Post-order over the directories below `top`: a child is decided before its parent.
        let mut cur = self.nodes[top as usize].first_child();
        let mut stack: Vec<u32> = Vec::new();
        while cur != NONE {
            let n = self.nodes[cur as usize];
            if n.is_dir() && n.first_child() != NONE {
                stack.push(cur);
                cur = n.first_child();
                continue;
            }
            // A leaf (a non-directory or an empty directory).
            let mut next = n.next;
            if lower(self, cur) {
                self.unlink_child(cur);
                self.free_node(cur)?;
            }
            while next == NONE {
                let Some(dir) = stack.pop() else { break };
                next = self.nodes[dir as usize].next;
                if lower(self, dir) {
                    if self.nodes[dir as usize].first_child() == NONE {
                        self.unlink_child(dir);
                        self.free_node(dir)?;
                    } else {
                        self.make_implicit(dir, at)?;
                    }
                }
            }
            cur = next;
        }
        if itself {
            if !self.nodes[top as usize].is_dir() || self.nodes[top as usize].first_child() == NONE
            {
                self.remove_subtree(top)?;
            } else {
                self.make_implicit(top, at)?;
            }
        }
        Ok(())
    }

    /// A directory of a lower layer that keeps children of `at`'s layer: an implicit one.
    fn make_implicit(&mut self, id: u32, at: At) -> Result<()> {
        let start = self.layer_start(at.0) as u32;
        self.set_meta(id, Meta::implicit(at.2), start)
    }
}
