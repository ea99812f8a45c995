//! From the flattened tree to the output plan: every directory (parents first), then one
//! action per output entry, keyed by the layer entry (layer, ordinal) whose reading in the
//! second pass triggers it. Content shared through hard links is written once, under the
//! original path when it survives, else the first remaining path; the others link to it.

use std::collections::BTreeMap;

use super::{Kind, Meta, NodeKind, Tree};

/// One output entry to write when `(layer, ordinal)` is read again.
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

/// The output: the root's metadata, every directory (parents first), then the actions,
/// each with the layer entry (layer, ordinal) whose reading triggers it, sorted by it.
#[derive(Debug, Default)]
pub struct Plan {
    pub root: Option<Meta>,
    pub dirs: Vec<(Vec<u8>, Meta)>,
    pub actions: Vec<(u32, u64, Action)>,
}

impl Plan {
    /// Where layer `layer`'s actions start in `actions`.
    pub fn layer_start(&self, layer: u32) -> usize {
        self.actions.partition_point(|(l, _, _)| *l < layer)
    }

    /// Whether layer `layer` has anything to give to the output.
    pub fn uses_layer(&self, layer: u32) -> bool {
        self.actions
            .get(self.layer_start(layer))
            .is_some_and(|(l, _, _)| *l == layer)
    }
}

impl Tree {
    /// The output plan (see `Plan`), moving the paths out of the tree.
    pub fn into_plan(self) -> Plan {
        let mut refs = vec![0u32; self.inodes.len()];
        let mut dirs = 0;
        for node in self.nodes.values() {
            match node.kind {
                NodeKind::File { inode } => refs[inode] += 1,
                NodeKind::Dir => dirs += 1,
                _ => {}
            }
        }
        let mut plan = Plan {
            root: self.root,
            dirs: Vec::with_capacity(dirs),
            actions: Vec::with_capacity(self.nodes.len() - dirs),
        };
        // Content shared by several paths: (path, whether it is the original) per inode.
        let mut groups: BTreeMap<usize, Vec<(Vec<u8>, bool)>> = BTreeMap::new();
        for (path, node) in self.nodes {
            match node.kind {
                NodeKind::Dir => plan.dirs.push((path, node.meta)),
                NodeKind::File { inode } => {
                    let origin = &self.inodes[inode];
                    if refs[inode] == 1 {
                        let data = Action::Data {
                            path,
                            meta: origin.meta,
                            size: origin.size,
                        };
                        plan.actions.push((origin.layer, origin.ordinal, data));
                    } else {
                        let original = (node.layer, node.ordinal) == (origin.layer, origin.ordinal);
                        groups.entry(inode).or_default().push((path, original));
                    }
                }
                NodeKind::Symlink(target) => {
                    let action = Action::Symlink {
                        path,
                        target,
                        meta: node.meta,
                    };
                    plan.actions.push((node.layer, node.ordinal, action));
                }
                NodeKind::Special { kind, dev } => {
                    let action = Action::Special {
                        path,
                        kind,
                        dev,
                        meta: node.meta,
                    };
                    plan.actions.push((node.layer, node.ordinal, action));
                }
            }
        }
        for (inode, mut paths) in groups {
            let origin = &self.inodes[inode];
            let first = paths
                .iter()
                .position(|(_, original)| *original)
                .unwrap_or(0);
            let (primary, _) = paths.remove(first);
            let at = (origin.layer, origin.ordinal);
            for (path, _) in paths {
                let link = Action::Link {
                    path,
                    target: primary.clone(),
                    meta: origin.meta,
                };
                plan.actions.push((at.0, at.1, link));
            }
            let data = Action::Data {
                path: primary,
                meta: origin.meta,
                size: origin.size,
            };
            plan.actions.push((at.0, at.1, data));
        }
        // By layer entry; for one entry, the content goes before the links to it.
        plan.actions.sort_by(|a, b| {
            (a.0, a.1, !matches!(a.2, Action::Data { .. })).cmp(&(
                b.0,
                b.1,
                !matches!(b.2, Action::Data { .. }),
            ))
        });
        plan
    }
}
