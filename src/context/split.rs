//! Splitting the walked context into layers (`--layer PATTERN`): each pattern's entries
//! form one layer, in the order the patterns were given, below a last layer with everything
//! else. Patterns are `.dockerignore` patterns relative to the context; a pattern that
//! matches a directory takes everything beneath it, and an entry belongs to the first
//! pattern that matches it (or one of its parent directories).
//!
//! Each layer also carries the parent directories its entries need, with their real
//! metadata, so every layer unpacks on its own and all of them together give exactly the
//! context. A hard-link group is never split: its later paths go wherever its first path
//! went, since a tar hard link can only name a file of its own layer. The order inside a
//! layer is the walk's order (an ancestor is placed just before the first descendant that
//! needs it, which is where it stands in the walk).

use std::collections::{HashMap, HashSet};

use anyhow::{Result, anyhow};

use super::dockerignore::DockerIgnore;
use super::{ContextEntry, EntryKind};
use crate::error::escape_bytes;

/// One `--layer` pattern, compiled.
#[derive(Debug, Clone)]
pub struct LayerPattern {
    /// The pattern as written.
    pub pattern: String,
    rules: DockerIgnore,
}

impl LayerPattern {
    /// Compile `pattern` (a `.dockerignore` pattern, e.g. `node_modules/**` or `**/*.so`).
    ///
    /// # Errors
    ///
    /// An empty pattern, an exception (`!…`, which means nothing for a layer), or an
    /// invalid pattern, naming it.
    pub fn parse(pattern: &str) -> Result<LayerPattern> {
        let trimmed = pattern.trim();
        if trimmed.is_empty() {
            return Err(anyhow!("the --layer pattern is empty"));
        }
        if trimmed.starts_with('!') || trimmed.contains('\n') {
            return Err(anyhow!(
                "--layer '{pattern}': a layer pattern is one pattern without '!' (an entry \
                 goes to the first pattern that matches it, so there is nothing to except)"
            ));
        }
        let rules = DockerIgnore::parse(trimmed, "--layer")?;
        if rules.is_empty() {
            return Err(anyhow!("--layer '{pattern}' matches nothing"));
        }
        Ok(LayerPattern {
            pattern: trimmed.to_owned(),
            rules,
        })
    }

    /// Whether the pattern names this path itself (not through a parent).
    fn names(&self, rel_path: &[u8]) -> bool {
        self.rules.is_excluded(rel_path)
    }
}

/// One layer of the split: indices into the walked entries, in layer order.
#[derive(Debug, Clone, Default)]
pub struct LayerGroup {
    /// The pattern whose entries these are; `None` for the last layer, everything else.
    pub pattern: Option<String>,
    /// Indices into the context's entries: the layer's own entries and the parent
    /// directories they need, in walk order.
    pub entries: Vec<usize>,
    /// How many of `entries` are the layer's own (not parents added for others).
    pub own: usize,
}

/// The context split into layers.
#[derive(Debug, Clone, Default)]
pub struct Split {
    /// The layers, bottom first: one per pattern that matched something, then the rest.
    pub groups: Vec<LayerGroup>,
    /// Patterns that matched nothing (their layers are left out).
    pub empty: Vec<String>,
    /// Hard links kept with their group in another layer than their own path's pattern
    /// chose: `(path, the layer's pattern or "the last layer")`.
    pub kept_links: Vec<(String, String)>,
}

/// Split `entries` (in walk order) by `patterns`. With no patterns: one group of all.
pub fn split(entries: &[ContextEntry], patterns: &[LayerPattern]) -> Split {
    let rest = patterns.len();
    // For each directory: the patterns that name it or one of its parents.
    let mut dir_matches: HashMap<&[u8], Vec<bool>> = HashMap::new();
    let mut owner_of: HashMap<&[u8], usize> = HashMap::new();
    let mut owners = Vec::with_capacity(entries.len());
    let mut kept_links = Vec::new();
    let none = vec![false; patterns.len()];
    for e in entries {
        let parent = parent_of(&e.rel_path);
        let inherited = parent
            .and_then(|p| dir_matches.get(p))
            .unwrap_or(&none)
            .clone();
        let matched: Vec<bool> = patterns
            .iter()
            .zip(&inherited)
            .map(|(p, &up)| up || p.names(&e.rel_path))
            .collect();
        let chosen = matched.iter().position(|&m| m).unwrap_or(rest);
        let owner = match &e.kind {
            EntryKind::HardLink(first) => match owner_of.get(first.as_slice()) {
                Some(&o) => {
                    if o != chosen {
                        let name = patterns.get(o).map_or("the last layer".to_owned(), |p| {
                            format!("--layer '{}'", p.pattern)
                        });
                        kept_links.push((e.display_path(), name));
                    }
                    o
                }
                None => chosen,
            },
            _ => chosen,
        };
        if e.kind == EntryKind::File {
            owner_of.insert(&e.rel_path, owner);
        }
        if e.kind == EntryKind::Dir {
            dir_matches.insert(&e.rel_path, matched);
        }
        owners.push(owner);
    }
    let index: HashMap<&[u8], usize> = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| e.kind == EntryKind::Dir)
        .map(|(i, e)| (e.rel_path.as_slice(), i))
        .collect();
    let mut groups: Vec<LayerGroup> = (0..=rest)
        .map(|i| LayerGroup {
            pattern: patterns.get(i).map(|p| p.pattern.clone()),
            ..LayerGroup::default()
        })
        .collect();
    let mut emitted: Vec<HashSet<&[u8]>> = vec![HashSet::new(); rest + 1];
    for (i, (e, &owner)) in entries.iter().zip(&owners).enumerate() {
        let group = &mut groups[owner];
        let seen = &mut emitted[owner];
        // The parents this layer has not got yet, outermost first.
        let mut missing = Vec::new();
        let mut p = parent_of(&e.rel_path);
        while let Some(dir) = p {
            if seen.contains(dir) {
                break;
            }
            missing.push(dir);
            p = parent_of(dir);
        }
        for dir in missing.into_iter().rev() {
            seen.insert(dir);
            if let Some(&d) = index.get(dir) {
                group.entries.push(d);
            }
        }
        if e.kind == EntryKind::Dir {
            seen.insert(&e.rel_path);
        }
        group.entries.push(i);
        group.own += 1;
    }
    let mut empty = Vec::new();
    let last = groups.pop().unwrap_or_default();
    groups.retain(|g| {
        if g.own == 0 {
            empty.push(g.pattern.clone().unwrap_or_default());
        }
        g.own > 0
    });
    // The last layer is kept when it has something, or when it is the only one.
    if last.own > 0 || groups.is_empty() {
        groups.push(last);
    }
    Split {
        groups,
        empty,
        kept_links,
    }
}

/// The parent directory of a context-relative path; `None` at the top.
fn parent_of(rel: &[u8]) -> Option<&[u8]> {
    rel.iter().rposition(|&b| b == b'/').map(|i| &rel[..i])
}

/// The warning for a pattern that matched nothing.
pub fn empty_warning(pattern: &str) -> String {
    format!(
        "--layer '{}' matched nothing in the context; no layer was made for it",
        escape_bytes(pattern.as_bytes())
    )
}

#[cfg(test)]
mod tests;
