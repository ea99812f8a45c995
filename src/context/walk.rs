//! The walk itself: a sequential, sorted, depth-first traversal of the context that applies
//! `.dockerignore` (Docker's semantics), `.gitignore` files inside the context (git's
//! semantics, deeper files first) and never includes `.git`.
//!
//! Nothing outside the context changes what is walked: no parent `.gitignore`, no global git
//! excludes, no `.git/info/exclude`, no `.ignore` files, hidden files are kept. That is why
//! this is a small walker of its own over `read_dir` with `ignore`'s gitignore *matcher*,
//! rather than `ignore::WalkBuilder`, whose defaults read all of those.
//!
//! Every error is fatal: an image silently missing a file is worse than a failed build.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use ignore::gitignore::Gitignore;

use super::dockerignore::DockerIgnore;
use super::{Context, ContextEntry, EntryKind, IgnoreReason, Ignored};
use crate::cancel::Cancel;
use crate::error::{SpecialFile, escape_bytes};

/// Which ignore rules apply.
#[derive(Debug, Default, Clone)]
pub struct IgnoreOptions {
    /// `--no-ignore`: neither `.dockerignore`, `.gitignore` nor `--ignore-file` apply
    /// (`.git` is still left out).
    pub no_ignore: bool,
    /// `--ignore-file FILE`: more patterns in `.dockerignore` syntax, after the root file's.
    pub extra: Option<DockerIgnore>,
    /// The build's own output file when it lies inside the context (`build . -o app.tar`):
    /// it and its temporary files beside it are never walked, whatever the ignore rules.
    /// Two places when `-o` names a symbolic link to a file that is also in the context.
    /// [`build::prepare`](crate::build::prepare) adds the destination's own.
    pub output: Vec<OutputInContext>,
}

/// Where the output file sits inside the context, context-relative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputInContext {
    /// The directory holding it (empty for the context root).
    pub rel_dir: Vec<u8>,
    /// Its file name.
    pub name: Vec<u8>,
}

impl OutputInContext {
    /// The output itself, or one of the temporary files written beside it
    /// (`.NAME.imgbuild-…`).
    fn covers(&self, rel_dir: &[u8], name: &[u8]) -> bool {
        if rel_dir != self.rel_dir.as_slice() {
            return false;
        }
        if name == self.name.as_slice() {
            return true;
        }
        let mut temp = b".".to_vec();
        temp.extend_from_slice(&self.name);
        temp.extend_from_slice(b".imgbuild-");
        name.starts_with(&temp)
    }
}

/// Walk the context rooted at `root` (an existing directory), until done or `cancel`led.
pub fn walk(root: &Path, options: &IgnoreOptions, cancel: &Cancel) -> Result<Context> {
    let mut docker = DockerIgnore::default();
    if !options.no_ignore {
        let path = root.join(".dockerignore");
        // Read it only when it is a regular file (or a link to one): a fifo would block.
        match fs::metadata(&path).and_then(|m| {
            if m.is_file() {
                fs::read(&path)
            } else {
                Err(not_regular())
            }
        }) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                docker = DockerIgnore::parse(&text, ".dockerignore")?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).context("reading .dockerignore"),
        }
        if let Some(extra) = &options.extra {
            docker.extend(extra.clone());
        }
    }
    let mut walker = Walker {
        root: root.to_path_buf(),
        output: options.output.clone(),
        docker,
        use_gitignore: !options.no_ignore,
        gitignores: Vec::new(),
        out: Context::default(),
        cancel: cancel.clone(),
    };
    walker.visit_dir(root, &[], false)?;
    let mut context = walker.out;
    link_hardlinks(&mut context.entries);
    Ok(context)
}

struct Walker {
    root: PathBuf,
    output: Vec<OutputInContext>,
    docker: DockerIgnore,
    use_gitignore: bool,
    /// `.gitignore` matchers of the directories being visited, outermost first.
    gitignores: Vec<Gitignore>,
    out: Context,
    /// Checked before each directory is read.
    cancel: Cancel,
}

impl Walker {
    /// Visit the children of `dir`; returns whether any entry below it was included.
    fn visit_dir(&mut self, dir: &Path, rel_dir: &[u8], dir_excluded: bool) -> Result<bool> {
        self.cancel.check()?;
        let names = sorted_names(dir, rel_dir)?;
        let pushed = self.push_gitignore(dir, rel_dir, &names)?;
        let mut any_included = false;
        for name in names {
            if self.visit_entry(dir, rel_dir, &name, dir_excluded)? {
                any_included = true;
            }
        }
        if pushed {
            self.gitignores.pop();
        }
        Ok(any_included)
    }

    /// The `.gitignore` of `dir` (its entries are `names`), when gitignore files apply and
    /// it is a regular file: its matcher is pushed and true returned.
    fn push_gitignore(&mut self, dir: &Path, rel_dir: &[u8], names: &[OsString]) -> Result<bool> {
        // A .gitignore that is not a regular file is not read (a fifo would block); the
        // entry itself is then stored, skipped or refused like any other.
        let has_gitignore = names.iter().any(|n| n == ".gitignore")
            && fs::symlink_metadata(dir.join(".gitignore")).is_ok_and(|m| m.is_file());
        let pushed = self.use_gitignore && has_gitignore && {
            let (matcher, err) = Gitignore::new(dir.join(".gitignore"));
            if let Some(err) = err {
                let file = join_rel(rel_dir, b".gitignore");
                anyhow::bail!("reading '{}': {err}", escape_bytes(&file));
            }
            self.gitignores.push(matcher);
            true
        };
        Ok(pushed)
    }

    /// Visit `name` in `dir` (`rel_dir` in the context); returns whether it, or for a
    /// directory anything below it, was included.
    fn visit_entry(
        &mut self,
        dir: &Path,
        rel_dir: &[u8],
        name: &OsStr,
        dir_excluded: bool,
    ) -> Result<bool> {
        let rel = join_rel(rel_dir, name.as_bytes());
        let full = dir.join(name);
        let meta = fs::symlink_metadata(&full)
            .with_context(|| format!("reading metadata of '{}'", escape_bytes(&rel)))?;
        let ft = meta.file_type();
        let is_dir = ft.is_dir();

        if name == ".git" {
            self.ignore(&rel, is_dir, IgnoreReason::Git);
            return Ok(false);
        }
        if self
            .output
            .iter()
            .any(|o| o.covers(rel_dir, name.as_bytes()))
        {
            self.ignore(&rel, is_dir, IgnoreReason::Output);
            return Ok(false);
        }
        let reason = self.decide(&rel, &full, is_dir, dir_excluded);
        if !is_dir && let Some(reason) = reason {
            self.ignore(&rel, false, reason);
            return Ok(false);
        }
        if is_dir {
            if let Some(reason) = &reason
                && !self.docker_may_reinclude(&rel, reason)
            {
                self.ignore(&rel, true, reason.clone());
                return Ok(false);
            }
            let index = self.out.entries.len();
            self.out
                .entries
                .push(entry_from(&rel, EntryKind::Dir, &meta));
            let below = self.visit_dir(&full, &rel, reason.is_some())?;
            if let Some(reason) = reason
                && !below
            {
                self.out.entries.truncate(index);
                self.ignore(&rel, true, reason);
                return Ok(false);
            }
            return Ok(true);
        }
        self.visit_other(rel, &full, &meta)
    }

    /// A non-directory that the rules keep: a file or symlink is stored (true), a socket
    /// set aside, anything else refused.
    fn visit_other(&mut self, rel: Vec<u8>, full: &Path, meta: &fs::Metadata) -> Result<bool> {
        let ft = meta.file_type();
        if ft.is_file() {
            self.out
                .entries
                .push(entry_from(&rel, EntryKind::File, meta));
            Ok(true)
        } else if ft.is_symlink() {
            let target = fs::read_link(full)
                .with_context(|| format!("reading symlink '{}'", escape_bytes(&rel)))?;
            let kind = EntryKind::Symlink(target.as_os_str().as_bytes().to_vec());
            self.out.entries.push(entry_from(&rel, kind, meta));
            Ok(true)
        } else if ft.is_socket() {
            self.out.sockets.push(rel);
            Ok(false)
        } else {
            let kind = if ft.is_fifo() {
                "fifo"
            } else if ft.is_char_device() {
                "character device"
            } else if ft.is_block_device() {
                "block device"
            } else {
                "file of unknown type"
            };
            Err(SpecialFile {
                path: escape_bytes(&rel),
                kind,
            }
            .into())
        }
    }

    /// The rule that excludes `rel`, or None when it is included. `.dockerignore` has the last
    /// word when one of its rules matches; otherwise the nearest `.gitignore` that has an
    /// opinion decides.
    fn decide(
        &self,
        rel: &[u8],
        full: &Path,
        is_dir: bool,
        parent_excluded: bool,
    ) -> Option<IgnoreReason> {
        if let Some(rule) = self.docker.decide(rel) {
            return (!rule.exception).then(|| IgnoreReason::IgnoreFile {
                source: rule.source.clone(),
                line: rule.line,
                pattern: rule.pattern.clone(),
            });
        }
        if parent_excluded {
            return Some(IgnoreReason::InsideExcluded);
        }
        for matcher in self.gitignores.iter().rev() {
            let m = matcher.matched(full, is_dir);
            if let Some(glob) = m.inner() {
                let file = glob
                    .from()
                    .and_then(|p| p.strip_prefix(&self.root).ok())
                    .map(|p| escape_bytes(p.as_os_str().as_bytes()))
                    .unwrap_or_else(|| ".gitignore".into());
                return m.is_ignore().then(|| IgnoreReason::Gitignore {
                    file,
                    pattern: glob.original().to_owned(),
                });
            }
        }
        None
    }

    /// An excluded directory is still walked when a `.dockerignore` exception may re-include
    /// something beneath it (but never when `.gitignore` excluded it: git prunes).
    fn docker_may_reinclude(&self, rel: &[u8], reason: &IgnoreReason) -> bool {
        match reason {
            IgnoreReason::Gitignore { .. } | IgnoreReason::Git | IgnoreReason::Output => false,
            IgnoreReason::IgnoreFile { .. } | IgnoreReason::InsideExcluded => {
                self.docker.may_reinclude_below(rel)
            }
        }
    }

    fn ignore(&mut self, rel: &[u8], is_dir: bool, reason: IgnoreReason) {
        self.out.ignored.push(Ignored {
            rel_path: rel.to_vec(),
            is_dir,
            reason,
        });
    }
}

fn not_regular() -> std::io::Error {
    std::io::Error::other("it is not a regular file")
}

/// The names in `dir` (`rel_dir` in the context), in byte order.
fn sorted_names(dir: &Path, rel_dir: &[u8]) -> Result<Vec<OsString>> {
    let mut names = Vec::new();
    let read = fs::read_dir(dir)
        .with_context(|| format!("reading directory '{}'", display_rel(rel_dir)))?;
    for entry in read {
        let entry =
            entry.with_context(|| format!("reading directory '{}'", display_rel(rel_dir)))?;
        names.push(entry.file_name());
    }
    names.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}

fn join_rel(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut rel = Vec::with_capacity(dir.len() + 1 + name.len());
    if !dir.is_empty() {
        rel.extend_from_slice(dir);
        rel.push(b'/');
    }
    rel.extend_from_slice(name);
    rel
}

fn display_rel(rel: &[u8]) -> String {
    if rel.is_empty() {
        ".".into()
    } else {
        escape_bytes(rel)
    }
}

fn entry_from(rel: &[u8], kind: EntryKind, meta: &fs::Metadata) -> ContextEntry {
    let size = if kind == EntryKind::File {
        meta.size()
    } else {
        0
    };
    ContextEntry {
        rel_path: rel.to_vec(),
        kind,
        mode: meta.mode() & 0o7777,
        size,
        mtime: meta.mtime(),
        mtime_nsec: meta.mtime_nsec(),
        ctime: meta.ctime(),
        ctime_nsec: meta.ctime_nsec(),
        dev: meta.dev(),
        ino: meta.ino(),
        nlink: meta.nlink(),
    }
}

/// Turn the second and later paths of each multiply-linked file into hard-link entries
/// pointing at the first path of the group in entry order (never at an inode number).
fn link_hardlinks(entries: &mut [ContextEntry]) {
    let mut first: HashMap<(u64, u64), usize> = HashMap::new();
    for i in 0..entries.len() {
        let e = &entries[i];
        if e.kind != EntryKind::File || e.nlink < 2 {
            continue;
        }
        match first.get(&(e.dev, e.ino)) {
            Some(&j) => {
                let target = entries[j].rel_path.clone();
                let e = &mut entries[i];
                e.kind = EntryKind::HardLink(target);
                e.size = 0;
            }
            None => {
                first.insert((e.dev, e.ino), i);
            }
        }
    }
}

/// The full host path of an entry.
pub fn host_path(root: &Path, rel: &[u8]) -> PathBuf {
    root.join(OsStr::from_bytes(rel))
}
