//! Resolving names in the tree with chroot semantics: the parent directories of an entry
//! (symlinks followed inside the image, at most `MAX_HOPS`, `..` never above the root,
//! missing directories created implicit) and the target of a hard link.

use anyhow::Result;

use super::{At, Content, DIR, MAX_HOPS, Meta, NONE, ROOT, SYMLINK, Tree, components};
use crate::error::{escape_bytes, invalid};
use crate::layer::parse::{MAX_PATH, TarEntry};

/// Whether `joined` is `comps` joined with `/`.
fn same_path(joined: &[u8], comps: &[&[u8]]) -> bool {
    let mut rest = joined;
    for (i, c) in comps.iter().enumerate() {
        if i > 0 {
            match rest.split_first() {
                Some((b'/', r)) => rest = r,
                _ => return false,
            }
        }
        match rest.strip_prefix(*c) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    rest.is_empty()
}

impl Tree {
    /// The existing node a hard link names: in-root (a leading `/` is the image root), its
    /// parent resolved like any entry's, its last component not followed.
    pub(super) fn link_target(&mut self, e: &TarEntry, at: At) -> Result<u32> {
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
        let (dir, _) = self.resolve_dir(parents, false, at)?.ok_or_else(missing)?;
        self.find(dir, name)?.ok_or_else(missing)
    }

    /// `resolve_dir(parents, create)`, remembered for the next entry: entries of one
    /// directory come together, and a deep path is then resolved once, not per entry.
    /// Valid while no node is freed and no directory or symlink replaced (`generation`).
    pub(super) fn resolve_parent(&mut self, parents: &[&[u8]], at: At) -> Result<(u32, usize)> {
        if let Some((key, dir, len, generation)) = &self.last_parent
            && *generation == self.generation
            && same_path(key, parents)
        {
            return Ok((*dir, *len));
        }
        let (dir, len) = self.resolve_dir(parents, true, at)?.unwrap_or((ROOT, 0));
        let mut key = self.last_parent.take().map(|l| l.0).unwrap_or_default();
        key.clear();
        for (i, c) in parents.iter().enumerate() {
            if i > 0 {
                key.push(b'/');
            }
            key.extend_from_slice(c);
        }
        self.last_parent = Some((key, dir, len, self.generation));
        Ok((dir, len))
    }

    /// Resolve directory components in the tree (chroot semantics): the directory and the
    /// length of its path. Missing directories are created (implicit, 0755) when `create`,
    /// else the result is None.
    pub(super) fn resolve_dir(
        &mut self,
        comps: &[&[u8]],
        create: bool,
        at: At,
    ) -> Result<Option<(u32, usize)>> {
        let (_, seq, mtime, entry) = at;
        let mut given = comps.iter();
        // Components from symlink targets, the next one last.
        let mut extra: Vec<Vec<u8>> = Vec::new();
        let (mut cur, mut cur_len) = (ROOT, 0usize);
        let mut hops = 0;
        let mut last_link: Option<(u32, Vec<u8>)> = None;
        loop {
            let owned;
            let c: &[u8] = if let Some(x) = extra.pop() {
                owned = x;
                &owned
            } else if let Some(c) = given.next() {
                c
            } else {
                break;
            };
            if c.is_empty() || c == b"." {
                continue;
            }
            if c == b".." {
                (cur, cur_len) = self.climb(cur, cur_len, &last_link, entry)?;
                continue;
            }
            let next_len = cur_len + usize::from(cur != ROOT) + c.len();
            if next_len > MAX_PATH {
                return Err(invalid(format!(
                    "tar entry '{}' resolves to a path longer than {MAX_PATH} bytes",
                    escape_bytes(entry)
                )));
            }
            match self.find(cur, c)? {
                Some(id) if self.nodes[id as usize].is_dir() => (cur, cur_len) = (id, next_len),
                Some(id) if self.nodes[id as usize].kind() == SYMLINK => {
                    let target = self.follow(id, &mut hops, entry)?;
                    if target.starts_with(b"/") {
                        (cur, cur_len) = (ROOT, 0);
                    }
                    extra.extend(target.split(|&b| b == b'/').rev().map(<[u8]>::to_vec));
                    last_link = Some((id, target));
                }
                Some(id) => {
                    return Err(invalid(format!(
                        "tar entry '{}': '{}' on its way is not a directory",
                        escape_bytes(entry),
                        escape_bytes(&self.path_of(id))
                    )));
                }
                None if create => {
                    cur = self.insert_implicit(cur, c, mtime, seq)?;
                    cur_len = next_len;
                }
                None => return Ok(None),
            }
        }
        Ok(Some((cur, cur_len)))
    }

    /// `..` from directory `cur` (its path `cur_len` bytes long) during `resolve_dir`: its
    /// parent, refused at the root (`last_link` is the symlink that led there, if any).
    fn climb(
        &self,
        cur: u32,
        cur_len: usize,
        last_link: &Option<(u32, Vec<u8>)>,
        entry: &[u8],
    ) -> Result<(u32, usize)> {
        if cur == ROOT {
            let (l, t) = last_link.clone().unwrap_or((NONE, Vec::new()));
            let l = if l == NONE {
                Vec::new()
            } else {
                self.path_of(l)
            };
            return Err(invalid(format!(
                "tar entry '{}' goes through symlink '{}' -> '{}', which leads outside the image's root",
                escape_bytes(entry),
                escape_bytes(&l),
                escape_bytes(&t)
            )));
        }
        let n = self.nodes[cur as usize];
        let parent = n.parent;
        let len = if parent == ROOT {
            0
        } else {
            cur_len - usize::from(n.name_len) - 1
        };
        Ok((parent, len))
    }

    /// Symlink `id` met during `resolve_dir`: one more hop (at most `MAX_HOPS`), its target.
    fn follow(&self, id: u32, hops: &mut usize, entry: &[u8]) -> Result<Vec<u8>> {
        *hops += 1;
        if *hops > MAX_HOPS {
            return Err(invalid(format!(
                "tar entry '{}': more than {MAX_HOPS} symlinks on the way (a loop?)",
                escape_bytes(entry)
            )));
        }
        self.symlink_target(&self.nodes[id as usize])
    }

    /// A missing directory `name` in `parent` created during `resolve_dir`: implicit, 0755.
    fn insert_implicit(&mut self, parent: u32, name: &[u8], mtime: i64, seq: u32) -> Result<u32> {
        let content = Content {
            kind: DIR,
            data: u64::from(NONE),
            meta: Meta::implicit(mtime),
            origin: None,
        };
        self.insert(parent, name, content, seq)
    }
}
