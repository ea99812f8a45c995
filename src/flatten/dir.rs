//! The flattened filesystem extracted into a new directory (`export --format rootfs-dir`),
//! safely. Everything happens under a staging directory `DEST.imgbuild-partial-<random>`
//! (mode 0700, a sibling of DEST) that is renamed to DEST only at the end; an error or
//! Ctrl-C removes it. No path from the image reaches a host path operation: every operation
//! is relative to a directory fd opened from the staging root one component at a time with
//! `O_NOFOLLOW`. A symlink met on the way is followed inside the root (chroot semantics:
//! absolute targets restart at the root), at most 40 hops; a `..` that would climb above the
//! root is refused; the last component is never followed (files are created with
//! `O_CREAT|O_EXCL|O_NOFOLLOW`, links with `linkat` without `AT_SYMLINK_FOLLOW`). Hard links
//! are resolved the same way, so they can only name files inside the root.
//!
//! Modes (setuid, setgid, sticky included), symlink targets and mtimes are restored; owners
//! only when running as root; device files only as root (skipped otherwise, with a count).
//! Directories are created 0700 and get their modes and mtimes at the end, deepest first, so
//! that read-only directories of the image can still be filled.
//!
//! DEST itself gets the image's root directory metadata (its `./` entry, else 0755), except
//! that it is **0700 when the image holds a setuid or setgid file**, whoever extracts it (as
//! runc bundles and umoci's unpack are): extracted by a user, such a file would run as that
//! user for anyone; extracted by root, as root (or the image's owner) for any local user.
//!
//! Driven by a `Plan`, the emitter keeps no list of paths: directories are handed back by
//! the plan at the end, and directory fds are reused through a chain of open directories
//! (the last path's), so each entry costs a few system calls whatever its depth.

use crate::cancel::Cancel;
use std::ffi::CStr;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use super::sys::{cstr, cvt, errno, kind_of, lstat_at, openat, times};
use super::tree::Meta;
use super::{Content, Counts, Emitter, Plan, copy_content};
use crate::error::{UsageError, escape_bytes, invalid};
use crate::layer::parse::Kind;

/// Directories kept open along the last path used (deeper ones are opened each time).
const MAX_OPEN: usize = 128;

/// An emitter that extracts the flattened filesystem into a new directory, through a staging directory renamed into place at the end.
pub struct DirEmitter {
    dest: PathBuf,
    staging: PathBuf,
    root: OwnedFd,
    as_root: bool,
    /// Directories to give their final metadata at the end: all of them without a plan,
    /// with one only those made on the way (never, for a plan's paths).
    dirs: Vec<(Vec<u8>, Meta)>,
    /// A plan hands the directories back at the end.
    planned: bool,
    root_meta: Option<Meta>,
    /// Open real directories from the root along the last path used: (name, fd).
    open: Vec<(Vec<u8>, OwnedFd)>,
    /// A setuid or setgid file was written: DEST will be 0700.
    setid: bool,
    chunk: Vec<u8>,
    /// What has been written so far.
    pub counts: Counts,
    done: bool,
    /// Unregistered after `Drop` removed the staging tree.
    _tracked: crate::interrupt::Tracked,
    /// Checked while the directories are finished.
    cancel: Cancel,
}

/// `a/b/c` → (`a/b`, `c`), refusing an empty, `.` or `..` last component.
fn check_name(path: &[u8]) -> Result<(&[u8], &[u8])> {
    if path.is_empty() {
        return Err(invalid("an entry with an empty path"));
    }
    let (dir, name) = split(path);
    if name.is_empty() || name == b"." || name == b".." {
        return Err(invalid(format!(
            "'{}' is not a valid name",
            escape_bytes(path)
        )));
    }
    Ok((dir, name))
}

/// `a/b/c` → (`a/b`, `c`).
fn split(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&b""[..], path),
    }
}

impl DirEmitter {
    /// Check DEST (it must not exist, or be an empty directory, in an existing directory)
    /// and create the staging directory beside it.
    pub fn prepare(dest: &Path, cancel: &Cancel) -> Result<DirEmitter> {
        let parent = crate::sink::existing_parent(dest)?;
        match std::fs::symlink_metadata(dest) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("reading '{}'", dest.display())),
            Ok(m)
                if m.is_dir() && std::fs::read_dir(dest).is_ok_and(|mut d| d.next().is_none()) => {}
            Ok(_) => {
                return Err(UsageError::new(format!(
                    "output '{}' already exists",
                    dest.display()
                ))
                .with_hint("rootfs-dir extracts into a new (or empty) directory; choose another -o")
                .into());
            }
        }
        // Registered, so that a third signal (which exits at once) removes it too.
        let (staging, tracked) = crate::interrupt::Tracked::dir(|| {
            tempfile::Builder::new()
                .prefix(&format!(
                    "{}.imgbuild-partial-",
                    crate::sink::file_name(dest)
                ))
                .tempdir_in(&parent)
                .map(tempfile::TempDir::keep)
        })
        .with_context(|| format!("cannot write to '{}'", parent.display()))?;
        let root = File::open(&staging)
            .map(OwnedFd::from)
            .with_context(|| format!("opening '{}'", staging.display()));
        let root = match root {
            Ok(r) => r,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&staging);
                return Err(e);
            }
        };
        // SAFETY: geteuid has no preconditions and cannot fail.
        let as_root = unsafe { libc::geteuid() } == 0;
        Ok(DirEmitter {
            dest: dest.to_path_buf(),
            staging,
            root,
            as_root,
            dirs: Vec::new(),
            planned: false,
            root_meta: None,
            open: Vec::new(),
            setid: false,
            chunk: vec![0u8; 1 << 20],
            counts: Counts::default(),
            done: false,
            _tracked: tracked,
            cancel: cancel.clone(),
        })
    }

    /// The staging directory (for tests and messages).
    pub fn staging(&self) -> &Path {
        &self.staging
    }

    /// Give directories their final metadata (deepest first), the root its own, make the
    /// tree durable and rename it into place (done already when a plan drove it: `end`).
    pub fn finish(mut self) -> Result<Counts> {
        if !self.done {
            self.commit(None)?;
        }
        crate::store::sync_dir(&crate::sink::existing_parent(&self.dest)?)?;
        Ok(self.counts)
    }

    /// The final metadata and the rename; on failure, directories are made writable again
    /// so that `drop` can remove the staging tree.
    fn commit(&mut self, plan: Option<&Plan>) -> Result<()> {
        let done = self.apply_final(plan);
        if done.is_err() {
            self.unlock(plan);
        }
        done
    }

    fn apply_final(&mut self, plan: Option<&Plan>) -> Result<()> {
        if let Some(plan) = plan {
            let cancel = self.cancel.clone();
            plan.for_each_dir_deepest_first(|path, meta| {
                cancel.check()?;
                let fd = self
                    .open_path(path)
                    .with_context(|| format!("finishing directory '{}'", escape_bytes(path)))?;
                self.set_meta(fd.as_raw_fd(), meta)
                    .with_context(|| format!("setting the mode of '{}'", escape_bytes(path)))
            })?;
        }
        let mut dirs = std::mem::take(&mut self.dirs);
        dirs.sort_by_key(|(p, _)| std::cmp::Reverse(p.iter().filter(|&&b| b == b'/').count()));
        let applied = self.apply_dirs(&dirs);
        self.dirs = dirs;
        applied?;
        let root = self.root.as_raw_fd();
        // No `./` entry: a new directory's usual mode, owner and time.
        let mut meta = self.root_meta.unwrap_or(Meta {
            mode: 0o755,
            uid: 0,
            gid: 0,
            mtime: -1,
        });
        if self.setid {
            meta.mode = 0o700;
        }
        match self.root_meta {
            Some(_) => self.set_meta(root, &meta),
            // SAFETY: a valid fd.
            None => cvt(unsafe { libc::fchmod(root, meta.mode as libc::mode_t) }),
        }
        .context("setting the mode of the output directory")?;
        // SAFETY: a valid open fd.
        cvt(unsafe { libc::syncfs(root) }).context("syncing the extracted files")?;
        std::fs::rename(&self.staging, &self.dest).with_context(|| {
            format!(
                "moving the root filesystem into place at '{}'",
                self.dest.display()
            )
        })?;
        self.done = true;
        Ok(())
    }

    fn apply_dirs(&mut self, dirs: &[(Vec<u8>, Meta)]) -> Result<()> {
        for (path, meta) in dirs {
            self.cancel.check()?;
            let comps: Vec<&[u8]> = path.split(|&b| b == b'/').collect();
            let fd = self
                .walk(&comps)
                .with_context(|| format!("finishing directory '{}'", escape_bytes(path)))?;
            self.set_meta(fd.as_raw_fd(), meta)
                .with_context(|| format!("setting the mode of '{}'", escape_bytes(path)))?;
        }
        Ok(())
    }

    /// Make the root and every directory writable again (parents first), errors ignored.
    fn unlock(&mut self, plan: Option<&Plan>) {
        // SAFETY: a valid fd.
        let _ = unsafe { libc::fchmod(self.root.as_raw_fd(), 0o700) };
        if let Some(plan) = plan {
            let _ = plan.for_each_dir(|path, _| {
                if let Ok(fd) = self.open_path(path) {
                    // SAFETY: a valid fd.
                    let _ = unsafe { libc::fchmod(fd.as_raw_fd(), 0o700) };
                }
                Ok(())
            });
        }
        let mut dirs = std::mem::take(&mut self.dirs);
        dirs.sort_by_key(|(p, _)| p.iter().filter(|&&b| b == b'/').count());
        for (path, _) in &dirs {
            let comps: Vec<&[u8]> = path.split(|&b| b == b'/').collect();
            if let Ok(fd) = self.walk(&comps) {
                // SAFETY: a valid fd.
                let _ = unsafe { libc::fchmod(fd.as_raw_fd(), 0o700) };
            }
        }
        self.dirs = dirs;
    }

    /// chown (as root), chmod, then mtime, on an open fd.
    fn set_meta(&self, fd: RawFd, meta: &Meta) -> io::Result<()> {
        if self.as_root {
            // SAFETY: a valid fd; ids are plain numbers.
            cvt(unsafe { libc::fchown(fd, meta.uid as libc::uid_t, meta.gid as libc::gid_t) })?;
        }
        // SAFETY: a valid fd.
        cvt(unsafe { libc::fchmod(fd, (meta.mode & 0o7777) as libc::mode_t) })?;
        let t = times(meta.mtime);
        // SAFETY: a valid fd and two timespecs.
        cvt(unsafe { libc::futimens(fd, t.as_ptr()) })
    }

    /// Make room for a new non-directory at `name`: an existing file or link is replaced, a
    /// directory is an error.
    fn clear(&mut self, dir: RawFd, name: &CStr, path: &[u8]) -> Result<()> {
        match lstat_at(dir, name) {
            Err(e) if errno(&e) == libc::ENOENT => Ok(()),
            Err(e) => Err(e).with_context(|| format!("reading '{}'", escape_bytes(path))),
            Ok(st) if kind_of(&st) == libc::S_IFDIR => Err(invalid(format!(
                "'{}' is already a directory",
                escape_bytes(path)
            ))),
            Ok(_) => {
                // What was resolved through it may change: forget the open directories.
                self.open.clear();
                // SAFETY: valid fd and name.
                cvt(unsafe { libc::unlinkat(dir, name.as_ptr(), 0) })
                    .with_context(|| format!("replacing '{}'", escape_bytes(path)))
            }
        }
    }

    /// Owner (as root) and mtime of something that cannot be opened (a link, a node).
    fn set_meta_at(&self, dir: RawFd, name: &CStr, meta: &Meta, mode: bool) -> io::Result<()> {
        if self.as_root {
            // SAFETY: valid fd and name; plain ids.
            cvt(unsafe {
                libc::fchownat(
                    dir,
                    name.as_ptr(),
                    meta.uid as libc::uid_t,
                    meta.gid as libc::gid_t,
                    libc::AT_SYMLINK_NOFOLLOW,
                )
            })?;
        }
        if mode {
            // SAFETY: valid fd and name; the node was just made by us in our 0700 tree.
            cvt(unsafe {
                libc::fchmodat(dir, name.as_ptr(), (meta.mode & 0o7777) as libc::mode_t, 0)
            })?;
        }
        let t = times(meta.mtime);
        // SAFETY: valid fd, name and two timespecs.
        cvt(unsafe { libc::utimensat(dir, name.as_ptr(), t.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) })
    }
}

impl Emitter for DirEmitter {
    fn begin(&mut self, _plan: &Plan) {
        self.planned = true;
    }

    fn end(&mut self, plan: &Plan) -> Result<()> {
        self.commit(Some(plan))
    }

    fn root(&mut self, meta: &Meta) -> Result<()> {
        self.root_meta = Some(*meta);
        Ok(())
    }

    fn dir(&mut self, path: &[u8], meta: &Meta) -> Result<()> {
        let (dirfd, name, parent) = if self.planned {
            let (fd, name) = self.parent(path)?;
            (fd, name, Vec::new())
        } else {
            // Without a plan the directory is recorded by the path it resolved to.
            let (dir, name) = check_name(path)?;
            let (fd, resolved) = self.open_dir(dir, path)?;
            (fd, cstr(name)?, resolved)
        };
        let dir = dirfd.as_raw_fd();
        // SAFETY: valid fd and name.
        match cvt(unsafe { libc::mkdirat(dir, name.as_ptr(), 0o700) }) {
            Ok(()) => {}
            Err(e) if errno(&e) == libc::EEXIST => {
                let st = lstat_at(dir, &name)?;
                if kind_of(&st) != libc::S_IFDIR {
                    self.clear(dir, &name, path)?;
                    // SAFETY: valid fd and name.
                    cvt(unsafe { libc::mkdirat(dir, name.as_ptr(), 0o700) })
                        .with_context(|| format!("creating '{}'", escape_bytes(path)))?;
                }
            }
            Err(e) => return Err(e).with_context(|| format!("creating '{}'", escape_bytes(path))),
        }
        if !self.planned {
            let mut real = parent;
            if !real.is_empty() {
                real.push(b'/');
            }
            real.extend_from_slice(name.as_bytes());
            self.dirs.push((real, *meta));
        }
        self.counts.dirs += 1;
        Ok(())
    }

    fn file(
        &mut self,
        path: &[u8],
        meta: &Meta,
        size: u64,
        content: &mut dyn Content,
    ) -> Result<()> {
        let (dirfd, name) = self.parent(path)?;
        let dir = dirfd.as_raw_fd();
        self.clear(dir, &name, path)?;
        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW;
        let fd = openat(dir, &name, flags, 0o600)
            .with_context(|| format!("creating '{}'", escape_bytes(path)))?;
        let mut file = File::from(fd);
        let mut chunk = std::mem::take(&mut self.chunk);
        let copied = copy_content(content, size, &mut chunk, |b| {
            file.write_all(b)
                .with_context(|| format!("writing '{}'", escape_bytes(path)))
        });
        self.chunk = chunk;
        copied?;
        self.set_meta(file.as_raw_fd(), meta)
            .with_context(|| format!("setting the mode of '{}'", escape_bytes(path)))?;
        self.setid |= meta.mode & 0o6000 != 0;
        self.counts.files += 1;
        self.counts.bytes += size;
        Ok(())
    }

    fn hardlink(&mut self, path: &[u8], target: &[u8], _meta: &Meta) -> Result<()> {
        let (tdir, tname) = split(target);
        let tfd = match self.open_real(tdir)? {
            Some(fd) => fd,
            None => self.open_dir(tdir, target)?.0,
        };
        let tname = cstr(tname)?;
        let st = lstat_at(tfd.as_raw_fd(), &tname).with_context(|| {
            format!(
                "hard link '{}': reading its target '{}'",
                escape_bytes(path),
                escape_bytes(target)
            )
        })?;
        if kind_of(&st) != libc::S_IFREG {
            return Err(invalid(format!(
                "hard link '{}': its target '{}' is not a regular file",
                escape_bytes(path),
                escape_bytes(target)
            )));
        }
        let (dirfd, name) = self.parent(path)?;
        let dir = dirfd.as_raw_fd();
        self.clear(dir, &name, path)?;
        // SAFETY: valid fds and names; flags 0 never follows a symlink.
        cvt(unsafe { libc::linkat(tfd.as_raw_fd(), tname.as_ptr(), dir, name.as_ptr(), 0) })
            .with_context(|| {
                format!(
                    "linking '{}' to '{}'",
                    escape_bytes(path),
                    escape_bytes(target)
                )
            })?;
        self.setid |= st.st_mode & 0o6000 != 0;
        self.counts.hardlinks += 1;
        Ok(())
    }

    fn symlink(&mut self, path: &[u8], target: &[u8], meta: &Meta) -> Result<()> {
        let (dirfd, name) = self.parent(path)?;
        let dir = dirfd.as_raw_fd();
        self.clear(dir, &name, path)?;
        let t = cstr(target)?;
        // SAFETY: valid fd and names; the target is stored, never followed.
        cvt(unsafe { libc::symlinkat(t.as_ptr(), dir, name.as_ptr()) })
            .with_context(|| format!("creating symlink '{}'", escape_bytes(path)))?;
        self.set_meta_at(dir, &name, meta, false)
            .with_context(|| format!("setting the owner and mtime of '{}'", escape_bytes(path)))?;
        self.counts.symlinks += 1;
        Ok(())
    }

    fn special(&mut self, path: &[u8], kind: Kind, dev: (u32, u32), meta: &Meta) -> Result<()> {
        let node = match kind {
            Kind::Char => libc::S_IFCHR,
            Kind::Block => libc::S_IFBLK,
            _ => libc::S_IFIFO,
        };
        if node != libc::S_IFIFO && !self.as_root {
            self.counts.skipped_devices += 1;
            return Ok(());
        }
        let (dirfd, name) = self.parent(path)?;
        let dir = dirfd.as_raw_fd();
        self.clear(dir, &name, path)?;
        let rdev = libc::makedev(dev.0, dev.1);
        // SAFETY: valid fd and name.
        cvt(unsafe { libc::mknodat(dir, name.as_ptr(), node | 0o600, rdev) })
            .with_context(|| format!("creating '{}'", escape_bytes(path)))?;
        self.set_meta_at(dir, &name, meta, true)
            .with_context(|| format!("setting the mode of '{}'", escape_bytes(path)))?;
        self.counts.specials += 1;
        Ok(())
    }
}

impl Drop for DirEmitter {
    /// Not finished: remove the staging tree. Directories that already got a read-only mode
    /// are made writable again first (fd-based, never following a link).
    fn drop(&mut self) {
        if self.done {
            return;
        }
        self.open.clear();
        self.unlock(None);
        let _ = std::fs::remove_dir_all(&self.staging);
    }
}

mod open;

#[cfg(test)]
mod tests;
