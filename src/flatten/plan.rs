//! From the flattened tree to the output plan: every directory (parents first, in byte
//! order of their paths), then one step per output entry, keyed by the layer entry whose
//! reading in the second pass triggers it. Content shared through hard links is written
//! once, under the original path when it survives, else the first remaining path; the
//! others link to it.
//!
//! The plan keeps the tree and holds 4 bytes per output entry (node indexes in output
//! order); paths are rebuilt one at a time, into the caller's buffers.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::HashMap;

use anyhow::Result;

use super::tree::{DIR, FILE, FREE, Meta, NONE, NodeKind, ROOT, Tree};
use crate::layer::parse::Kind;

/// One output entry (owned; see `Plan::step` for the allocation-free form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A regular file with the entry's content (`size` bytes).
    Data {
        /// The path.
        path: Vec<u8>,
        /// The file's metadata.
        meta: Meta,
        /// Content size in bytes.
        size: u64,
    },
    /// A hard link to a path written earlier in the output (`meta` is the content's).
    Link {
        /// The path.
        path: Vec<u8>,
        /// The path it links to.
        target: Vec<u8>,
        /// The content's metadata.
        meta: Meta,
    },
    /// A symbolic link.
    Symlink {
        /// The path.
        path: Vec<u8>,
        /// The link target, as stored.
        target: Vec<u8>,
        /// The link's metadata.
        meta: Meta,
    },
    /// A character or block device, or a fifo.
    Special {
        /// The path.
        path: Vec<u8>,
        /// Which of the three it is.
        kind: Kind,
        /// Device numbers (major, minor).
        dev: (u32, u32),
        /// Its metadata.
        meta: Meta,
    },
}

/// One output entry, its path and target in the buffers given to `Plan::step`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A regular file with the entry's content (`size` bytes).
    Data {
        /// The file's metadata.
        meta: Meta,
        /// Content size in bytes.
        size: u64,
    },
    /// A hard link to a path written earlier in the output.
    Link {
        /// The content's metadata.
        meta: Meta,
    },
    /// A symbolic link.
    Symlink {
        /// The link's metadata.
        meta: Meta,
    },
    /// A character or block device, or a fifo.
    Special {
        /// Which of the three it is.
        kind: Kind,
        /// Device numbers (major, minor).
        dev: (u32, u32),
        /// Its metadata.
        meta: Meta,
    },
}

/// The output: the root's metadata, the directories (from the tree), then the steps in
/// the order of the layer entries that trigger them.
#[derive(Debug)]
pub struct Plan {
    tree: Tree,
    /// The root directory's own metadata, when an image sets it.
    pub root: Option<Meta>,
    /// Non-directory nodes, by (triggering entry, rank in their hard-link group).
    order: Vec<u32>,
    /// Hard-link groups: origin entry → the member that holds the content.
    primary: HashMap<u32, u32>,
    /// An error met while planning (reading back spilled names), reported by `check`.
    error: RefCell<Option<anyhow::Error>>,
}

impl Tree {
    /// The output plan (see `Plan`), keeping the tree.
    pub fn into_plan(mut self) -> Plan {
        // Lookups are over: the index goes before the plan takes its memory.
        self.slots = Vec::new();
        let mut plan = Plan {
            root: self.root,
            tree: self,
            order: Vec::new(),
            primary: HashMap::new(),
            error: RefCell::new(None),
        };
        if let Err(e) = plan.build() {
            plan.error = RefCell::new(Some(e));
        }
        plan
    }
}

impl Plan {
    fn build(&mut self) -> Result<()> {
        let t = &self.tree;
        // Contents that hard links share (their origin entries) → the member that holds the
        // content: the original path when it survives, else the first in byte order.
        let mut primary: HashMap<u32, (u32, bool)> = t
            .side
            .iter()
            .filter(|(id, _)| t.nodes[**id as usize].kind() == FILE)
            .map(|(&id, &origin)| (origin, (id, false)))
            .collect();
        if !primary.is_empty() {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for id in 1..t.nodes.len() as u32 {
                if t.nodes[id as usize].kind() != FILE {
                    continue;
                }
                let origin = t.origin_of(id);
                let Some(best) = primary.get_mut(&origin) else {
                    continue;
                };
                let original = t.nodes[id as usize].seq == origin;
                if best.1 || best.0 == id {
                    continue;
                }
                if !original {
                    t.path_into(id, &mut a)?;
                    t.path_into(best.0, &mut b)?;
                }
                if original || a < b {
                    *best = (id, original);
                }
            }
        }
        self.primary = primary.into_iter().map(|(o, (id, _))| (o, id)).collect();
        let mut order: Vec<u32> = (1..t.nodes.len() as u32)
            .filter(|&id| !matches!(t.nodes[id as usize].kind(), FREE | DIR))
            .collect();
        // By triggering entry; within a hard-link group, the content first, then the links
        // in the byte order of their paths (rebuilt per comparison: no memory per member).
        let failed = RefCell::new(None);
        let bufs = RefCell::new((Vec::new(), Vec::new()));
        order.sort_unstable_by(|&x, &y| {
            let (ox, oy) = (t.origin_of(x), t.origin_of(y));
            if ox != oy || x == y {
                return ox.cmp(&oy).then(x.cmp(&y));
            }
            let first = self.primary.get(&ox).copied();
            if first == Some(x) {
                return Ordering::Less;
            }
            if first == Some(y) {
                return Ordering::Greater;
            }
            let (a, b) = &mut *bufs.borrow_mut();
            match t.path_into(x, a).and_then(|()| t.path_into(y, b)) {
                Ok(()) => a.cmp(&b),
                Err(e) => {
                    failed.borrow_mut().get_or_insert(e);
                    Ordering::Equal
                }
            }
        });
        if let Some(e) = failed.into_inner() {
            return Err(e);
        }
        self.order = order;
        Ok(())
    }

    /// Whether `id` is a hard link to the member of its group that holds the content.
    fn link_of(&self, id: u32) -> Option<u32> {
        if self.primary.is_empty() {
            return None;
        }
        self.primary
            .get(&self.tree.origin_of(id))
            .copied()
            .filter(|&p| p != id && self.tree.nodes[id as usize].kind() == FILE)
    }

    /// The error met while planning, if any.
    pub fn check(&self) -> Result<()> {
        match self.error.borrow_mut().take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// How many steps write a regular file's content (a hard link to an earlier path is not
    /// counted): the files a progress display counts while extracting.
    pub fn data_count(&self) -> u64 {
        self.order
            .iter()
            .filter(|&&id| {
                matches!(self.tree.kind_of(id), Ok(NodeKind::File { .. }))
                    && self.link_of(id).is_none()
            })
            .count() as u64
    }

    /// Output entries besides directories.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether there is no output entry besides directories.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The global entry number whose reading triggers step `i`.
    pub fn trigger(&self, i: usize) -> u64 {
        self.order
            .get(i)
            .map_or(u64::MAX, |&id| u64::from(self.tree.origin_of(id)))
    }

    /// The global entry number of entry `ordinal` of `layer`.
    pub fn seq(&self, layer: u32, ordinal: u64) -> u64 {
        self.tree.layer_start(layer) + ordinal
    }

    /// The layer and ordinal of the entry that triggers step `i`.
    pub fn entry(&self, i: usize) -> (u32, u64) {
        self.tree
            .entry_of(self.trigger(i).min(u64::from(NONE - 1)) as u32)
    }

    /// Where layer `layer`'s steps start.
    pub fn layer_start(&self, layer: u32) -> usize {
        let start = self.tree.layer_start(layer);
        self.order
            .partition_point(|&id| u64::from(self.tree.origin_of(id)) < start)
    }

    /// Whether layer `layer` has anything to give to the output.
    pub fn uses_layer(&self, layer: u32) -> bool {
        self.trigger(self.layer_start(layer)) < self.tree.layer_start(layer + 1)
    }

    /// Step `i`: its path written into `path`, a link's or symlink's target into `target`.
    pub fn step(&self, i: usize, path: &mut Vec<u8>, target: &mut Vec<u8>) -> Result<Step> {
        let t = &self.tree;
        let id = *self
            .order
            .get(i)
            .ok_or_else(|| crate::error::invalid("no such step (internal error)"))?;
        t.path_into(id, path)?;
        let meta = t.meta_of(id);
        target.clear();
        Ok(match t.kind_of(id)? {
            NodeKind::File { size, .. } => match self.link_of(id) {
                Some(primary) => {
                    t.path_into(primary, target)?;
                    Step::Link { meta }
                }
                None => Step::Data { meta, size },
            },
            NodeKind::Symlink(to) => {
                *target = to;
                Step::Symlink { meta }
            }
            NodeKind::Special { kind, dev } => Step::Special { kind, dev, meta },
            NodeKind::Dir => {
                return Err(crate::error::invalid("a directory step (internal error)"));
            }
        })
    }

    /// The child directories of `dir` as events (`id << 1` for the directory itself, `| 1`
    /// for its children), in the byte order of the paths they stand for (`name`, `name/…`).
    fn dir_events(&self, dir: u32) -> Result<Vec<u32>> {
        let t = &self.tree;
        let mut events = Vec::new();
        let mut c = t.nodes[dir as usize].first_child();
        while c != NONE {
            let n = &t.nodes[c as usize];
            if n.is_dir() {
                events.push(c << 1);
                if n.first_child() != NONE {
                    events.push((c << 1) | 1);
                }
            }
            c = n.next;
        }
        let failed = RefCell::new(None);
        events.sort_unstable_by(|&a, &b| {
            let (na, nb) = (&t.nodes[(a >> 1) as usize], &t.nodes[(b >> 1) as usize]);
            let sa: &[u8] = if a & 1 == 1 { b"/" } else { b"" };
            let sb: &[u8] = if b & 1 == 1 { b"/" } else { b"" };
            let cmp = t.names.with(na.name, na.name_len.into(), |x| {
                t.names.with(nb.name, nb.name_len.into(), |y| {
                    x.iter().chain(sa).cmp(y.iter().chain(sb))
                })
            });
            match cmp {
                Ok(Ok(o)) => o,
                Ok(Err(e)) | Err(e) => {
                    failed.borrow_mut().get_or_insert(e);
                    Ordering::Equal
                }
            }
        });
        match failed.into_inner() {
            Some(e) => Err(e),
            None => Ok(events),
        }
    }

    /// Every directory, parents first, in the byte order of their paths.
    pub fn for_each_dir(&self, mut f: impl FnMut(&[u8], &Meta) -> Result<()>) -> Result<()> {
        let mut stack: Vec<(Vec<u32>, usize)> = vec![(self.dir_events(ROOT)?, 0)];
        let mut path = Vec::new();
        while let Some((events, i)) = stack.last_mut() {
            let Some(&ev) = events.get(*i) else {
                stack.pop();
                continue;
            };
            *i += 1;
            let id = ev >> 1;
            if ev & 1 == 1 {
                let inner = self.dir_events(id)?;
                stack.push((inner, 0));
            } else {
                self.tree.path_into(id, &mut path)?;
                f(&path, &self.tree.meta_of(id))?;
            }
        }
        Ok(())
    }

    /// Every directory, children before their parent (deepest first along each branch).
    pub fn for_each_dir_deepest_first(
        &self,
        mut f: impl FnMut(&[u8], &Meta) -> Result<()>,
    ) -> Result<()> {
        let t = &self.tree;
        let next_dir = |mut c: u32| {
            while c != NONE && !t.nodes[c as usize].is_dir() {
                c = t.nodes[c as usize].next;
            }
            c
        };
        let mut path = Vec::new();
        let mut cur = next_dir(t.nodes[ROOT as usize].first_child());
        while cur != NONE {
            // Down to the first directory without subdirectories.
            loop {
                let c = next_dir(t.nodes[cur as usize].first_child());
                if c == NONE {
                    break;
                }
                cur = c;
            }
            // Visit it, then its next sibling directory, or (all of them done) its parent.
            loop {
                t.path_into(cur, &mut path)?;
                f(&path, &t.meta_of(cur))?;
                let n = &t.nodes[cur as usize];
                let sibling = next_dir(n.next);
                if sibling != NONE {
                    cur = sibling;
                    break;
                }
                if n.parent == ROOT || n.parent == NONE {
                    return Ok(());
                }
                cur = n.parent;
            }
        }
        Ok(())
    }

    /// The directories, parents first, with their paths (for tests and small plans).
    pub fn dirs(&self) -> Result<Vec<(Vec<u8>, Meta)>> {
        let mut v = Vec::new();
        self.for_each_dir(|p, m| {
            v.push((p.to_vec(), *m));
            Ok(())
        })?;
        Ok(v)
    }

    /// The steps as owned actions with their triggering (layer, ordinal) (for tests and
    /// small plans).
    pub fn actions(&self) -> Result<Vec<(u32, u64, Action)>> {
        let (mut path, mut target) = (Vec::new(), Vec::new());
        let mut v = Vec::with_capacity(self.len());
        for i in 0..self.len() {
            let step = self.step(i, &mut path, &mut target)?;
            let (path, target) = (path.clone(), target.clone());
            let action = match step {
                Step::Data { meta, size } => Action::Data { path, meta, size },
                Step::Link { meta } => Action::Link { path, target, meta },
                Step::Symlink { meta } => Action::Symlink { path, target, meta },
                Step::Special { kind, dev, meta } => Action::Special {
                    path,
                    kind,
                    dev,
                    meta,
                },
            };
            let (layer, ordinal) = self.entry(i);
            v.push((layer, ordinal, action));
        }
        Ok(v)
    }
}
