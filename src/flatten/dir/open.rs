//! Opening directories of the output: through the chain of open directories for real
//! paths, else resolved in root (symlinks followed inside it, `..` above it refused,
//! missing directories made), always through directory file descriptors.

use std::collections::VecDeque;
use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use anyhow::{Context as _, Result};

use super::{DirEmitter, MAX_OPEN, check_name};
use crate::error::{escape_bytes, invalid};
use crate::flatten::sys::{cstr, cvt, errno, kind_of, lstat_at, open_dir_at, readlink_at};
use crate::flatten::tree::{MAX_HOPS, Meta};

impl DirEmitter {
    /// Directory `dir` (a clean path of real directories, as a plan gives) through the
    /// chain of open directories: only the components after the part shared with the last
    /// path are opened, never following anything. None when something on the way is
    /// missing, not a directory or a symlink, or the path is not clean.
    pub(super) fn open_real(&mut self, dir: &[u8]) -> Result<Option<OwnedFd>> {
        let mut comps = dir
            .split(|&b| b == b'/')
            .filter(|c| !c.is_empty())
            .peekable();
        let mut kept = 0;
        while let (Some(c), Some((name, _))) = (comps.peek(), self.open.get(kept))
            && *c == name.as_slice()
        {
            comps.next();
            kept += 1;
        }
        self.open.truncate(kept);
        let mut deep: Option<OwnedFd> = None;
        for c in comps {
            if c == b"." || c == b".." {
                return Ok(None);
            }
            let at = match (&deep, self.open.last()) {
                (Some(fd), _) | (None, Some((_, fd))) => fd.as_raw_fd(),
                (None, None) => self.root.as_raw_fd(),
            };
            match open_dir_at(at, &cstr(c)?) {
                Ok(fd) if deep.is_none() && self.open.len() < MAX_OPEN => {
                    self.open.push((c.to_vec(), fd));
                }
                Ok(fd) => deep = Some(fd),
                Err(e) if matches!(errno(&e), libc::ENOENT | libc::ELOOP | libc::ENOTDIR) => {
                    return Ok(None);
                }
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("opening directory '{}'", escape_bytes(dir)));
                }
            }
        }
        Ok(Some(match (deep, self.open.last()) {
            (Some(fd), _) => fd,
            (None, Some((_, fd))) => fd.try_clone()?,
            (None, None) => self.root.try_clone()?,
        }))
    }

    /// An existing directory by its real path (no symlinks on the way).
    pub(super) fn open_path(&mut self, path: &[u8]) -> Result<OwnedFd> {
        if let Some(fd) = self.open_real(path)? {
            return Ok(fd);
        }
        let comps: Vec<&[u8]> = path.split(|&b| b == b'/').collect();
        self.walk(&comps)
    }

    /// Open existing directories from the root, never following anything.
    pub(super) fn walk(&self, comps: &[&[u8]]) -> Result<OwnedFd> {
        let mut cur = self.root.try_clone()?;
        for c in comps.iter().filter(|c| !c.is_empty()) {
            cur = open_dir_at(cur.as_raw_fd(), &cstr(c)?)?;
        }
        Ok(cur)
    }

    /// Open the directory `path` names, in root: symlinks on the way followed inside the
    /// root, `..` above it refused, missing directories created. Also returns the path it
    /// resolved to (real directories only).
    pub(super) fn open_dir(&mut self, path: &[u8], entry: &[u8]) -> Result<(OwnedFd, Vec<u8>)> {
        let mut names: Vec<Vec<u8>> = Vec::new();
        let mut cur = self.root.try_clone()?;
        let mut queue: VecDeque<Vec<u8>> = path.split(|&b| b == b'/').map(<[u8]>::to_vec).collect();
        let mut hops = 0;
        while let Some(c) = queue.pop_front() {
            if c.is_empty() || c == b"." {
                continue;
            }
            if c == b".." {
                if names.pop().is_none() {
                    return Err(invalid(format!(
                        "'{}' leads outside the output directory",
                        escape_bytes(entry)
                    )));
                }
                let comps: Vec<&[u8]> = names.iter().map(Vec::as_slice).collect();
                cur = self.walk(&comps)?;
                continue;
            }
            let name = cstr(&c)?;
            match open_dir_at(cur.as_raw_fd(), &name) {
                Ok(fd) => {
                    cur = fd;
                    names.push(c);
                }
                Err(e) if errno(&e) == libc::ENOENT => {
                    cur = make_dir_at(cur.as_raw_fd(), &name, entry)?;
                    names.push(c);
                    self.made_on_way(names.join(&b'/'));
                }
                Err(e) if errno(&e) == libc::ELOOP || errno(&e) == libc::ENOTDIR => {
                    let target = link_on_way(cur.as_raw_fd(), &name, &c, &mut hops, entry)?;
                    if target.starts_with(b"/") {
                        names.clear();
                        cur = self.root.try_clone()?;
                    }
                    for part in target.split(|&b| b == b'/').rev() {
                        queue.push_front(part.to_vec());
                    }
                }
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("opening the directory of '{}'", escape_bytes(entry))
                    });
                }
            }
        }
        Ok((cur, names.join(&b'/')))
    }

    /// A directory `open_dir` made on the way, to be given its metadata at the end:
    /// 0755, owned by 0:0, modified now.
    fn made_on_way(&mut self, made: Vec<u8>) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let meta = Meta {
            mode: 0o755,
            uid: 0,
            gid: 0,
            mtime: now,
        };
        self.dirs.push((made, meta));
    }

    /// The parent directory of `path` and the last component: through the chain of open
    /// directories when the parent is a real path, else resolved in root (`open_dir`).
    pub(super) fn parent(&mut self, path: &[u8]) -> Result<(OwnedFd, CString)> {
        let (dir, name) = check_name(path)?;
        let fd = match self.open_real(dir)? {
            Some(fd) => fd,
            None => {
                self.open.clear();
                self.open_dir(dir, path)?.0
            }
        };
        Ok((fd, cstr(name)?))
    }
}

/// A directory `name` in `dir` that `open_dir` found missing: made (0700; one that
/// appeared meanwhile is fine) and opened.
fn make_dir_at(dir: RawFd, name: &CStr, entry: &[u8]) -> Result<OwnedFd> {
    // SAFETY: valid fd and name.
    match cvt(unsafe { libc::mkdirat(dir, name.as_ptr(), 0o700) }) {
        Err(e) if errno(&e) != libc::EEXIST => {
            return Err(e)
                .with_context(|| format!("creating a directory for '{}'", escape_bytes(entry)));
        }
        _ => {}
    }
    Ok(open_dir_at(dir, name)?)
}

/// `name` (`c`) in `dir`, which `open_dir` could not open as a directory: a symlink counts
/// one more hop (at most `MAX_HOPS`) and its target is returned; anything else is refused.
fn link_on_way(
    dir: RawFd,
    name: &CStr,
    c: &[u8],
    hops: &mut usize,
    entry: &[u8],
) -> Result<Vec<u8>> {
    let st = lstat_at(dir, name)?;
    if kind_of(&st) != libc::S_IFLNK {
        return Err(invalid(format!(
            "'{}': '{}' on its way is not a directory",
            escape_bytes(entry),
            escape_bytes(c)
        )));
    }
    *hops += 1;
    if *hops > MAX_HOPS {
        return Err(invalid(format!(
            "'{}': more than {MAX_HOPS} symlinks on the way (a loop?)",
            escape_bytes(entry)
        )));
    }
    Ok(readlink_at(dir, name)?)
}
