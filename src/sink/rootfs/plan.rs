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
use std::collections::{HashMap, HashSet};

use anyhow::Result;

use super::{DIR, FILE, FREE, Kind, Meta, NONE, NodeKind, ROOT, Tree};

/// One output entry (owned; see `Plan::step` for the allocation-free form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A regular file with the entry's content (`size` bytes).
    Data {
        path: Vec<u8>,
        meta: Meta,
        size: u64,
    },
    /// A hard link to a path written earlier in the output (`meta` is the content's).
    Link {
        path: Vec<u8>,
        target: Vec<u8>,
        meta: Meta,
    },
    Symlink {
        path: Vec<u8>,
        target: Vec<u8>,
        meta: Meta,
    },
    Special {
        path: Vec<u8>,
        kind: Kind,
        dev: (u32, u32),
        meta: Meta,
    },
}

/// One output entry, its path and target in the buffers given to `Plan::step`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Data {
        meta: Meta,
        size: u64,
    },
    Link {
        meta: Meta,
    },
    Symlink {
        meta: Meta,
    },
    Special {
        kind: Kind,
        dev: (u32, u32),
        meta: Meta,
    },
}

/// The output: the root's metadata, the directories (from the tree), then the steps in
/// the order of the layer entries that trigger them.
#[derive(Debug)]
pub struct Plan {
    tree: Tree,
    pub root: Option<Meta>,
    /// Non-directory nodes, by (triggering entry, rank in their hard-link group).
    order: Vec<u32>,
    /// Hard-link groups: member → (the member that holds the content, rank; 0 for it).
    links: HashMap<u32, (u32, u32)>,
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
            links: HashMap::new(),
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
        // Contents that hard links share: their origin entries.
        let linked: HashSet<u32> = t
            .side
            .iter()
            .filter(|(id, _)| t.nodes[**id as usize].kind() == FILE)
            .map(|(_, &origin)| origin)
            .collect();
        if !linked.is_empty() {
            let mut members: Vec<(u32, u32)> = (1..t.nodes.len() as u32)
                .filter(|&id| t.nodes[id as usize].kind() == FILE)
                .map(|id| (t.origin_of(id), id))
                .filter(|(o, _)| linked.contains(o))
                .collect();
            members.sort_unstable();
            for group in members.chunk_by(|a, b| a.0 == b.0) {
                let mut paths = Vec::with_capacity(group.len());
                for &(origin, id) in group {
                    let original = t.nodes[id as usize].seq == origin;
                    paths.push((t.path_of_checked(id)?, id, original));
                }
                paths.sort();
                let first = paths.iter().position(|p| p.2).unwrap_or(0);
                let primary = paths[first].1;
                self.links.insert(primary, (primary, 0));
                let others = paths.iter().enumerate().filter(|(i, _)| *i != first);
                for (rank, (_, (_, id, _))) in others.enumerate() {
                    self.links.insert(*id, (primary, rank as u32 + 1));
                }
            }
        }
        let mut order: Vec<u32> = (1..t.nodes.len() as u32)
            .filter(|&id| !matches!(t.nodes[id as usize].kind(), FREE | DIR))
            .collect();
        order.sort_unstable_by_key(|&id| self.key(id));
        self.order = order;
        Ok(())
    }

    /// (triggering entry, rank): the sort key of a non-directory.
    fn key(&self, id: u32) -> (u32, u32) {
        let rank = if self.links.is_empty() {
            0
        } else {
            self.links.get(&id).map_or(0, |l| l.1)
        };
        (self.tree.origin_of(id), rank)
    }

    /// The error met while planning, if any.
    pub fn check(&self) -> Result<()> {
        match self.error.borrow_mut().take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Output entries besides directories.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The global entry number whose reading triggers step `i`.
    pub fn trigger(&self, i: usize) -> u64 {
        self.order
            .get(i)
            .map_or(u64::MAX, |&id| u64::from(self.key(id).0))
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
            .partition_point(|&id| u64::from(self.key(id).0) < start)
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
            NodeKind::File { size, .. } => match self.links.get(&id) {
                Some(&(primary, rank)) if rank > 0 => {
                    t.path_into(primary, target)?;
                    Step::Link { meta }
                }
                _ => Step::Data { meta, size },
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

impl Tree {
    /// The path of `id`, or the error reading it back.
    fn path_of_checked(&self, id: u32) -> Result<Vec<u8>> {
        let mut p = Vec::new();
        self.path_into(id, &mut p)?;
        Ok(p)
    }
}
