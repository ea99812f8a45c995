//! Where and how to write an output file at PATH: the one decision every file output (`build
//! -o`, `export -o` in every file format) makes before any heavy work.
//!
//! * nothing there, or a regular file: a temporary file beside it, renamed over it at the end
//!   ([`AtomicFile`]), so an error or a signal leaves no partial output;
//! * a symbolic link: followed (hop by hop, at most 40), and the file it points to is
//!   replaced beside itself, so the link stays a link;
//! * a character device or a fifo: written straight into, as a stream (as `-o -` is); a
//!   device node is never renamed over (`-o /dev/null` run as root used to replace
//!   `/dev/null` with a regular file);
//! * a directory, a socket or a block device: refused (exit 2), naming the path and what it
//!   is.
//!
//! Directory outputs (`oci-dir`, `rootfs-dir`) keep their own rules; [`check_dir_output`]
//! refuses a device, fifo or socket given to them with the same words.

use std::fs::{self, File};
use std::io::{self, IsTerminal};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result};

use super::{Target, existing_parent, file_name};
use crate::cancel::Cancel;
use crate::error::UsageError;
use crate::interrupt::{TempDir, TempFile};
use crate::store::sync_dir;

/// Symbolic links followed at most (Linux's MAXSYMLINKS).
const MAX_HOPS: usize = 40;

/// What a path names, after following symbolic links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// Nothing at the path.
    Missing,
    /// A regular file.
    Regular,
    /// A directory.
    Directory,
    /// A character device.
    CharDevice,
    /// A fifo.
    Fifo,
    /// A socket.
    Socket,
    /// A block device.
    BlockDevice,
}

impl PathKind {
    /// "a character device", for messages.
    pub fn describe(self) -> &'static str {
        match self {
            PathKind::Missing => "missing",
            PathKind::Regular => "a regular file",
            PathKind::Directory => "a directory",
            PathKind::CharDevice => "a character device",
            PathKind::Fifo => "a fifo",
            PathKind::Socket => "a socket",
            PathKind::BlockDevice => "a block device",
        }
    }

    fn of(t: fs::FileType) -> PathKind {
        if t.is_file() {
            PathKind::Regular
        } else if t.is_dir() {
            PathKind::Directory
        } else if t.is_char_device() {
            PathKind::CharDevice
        } else if t.is_fifo() {
            PathKind::Fifo
        } else if t.is_block_device() {
            PathKind::BlockDevice
        } else {
            PathKind::Socket
        }
    }
}

/// Follow the symbolic links at `path` to what they end at: that path and what it is.
pub fn resolve(path: &Path) -> Result<(PathBuf, PathKind)> {
    let mut cur = path.to_path_buf();
    for _ in 0..=MAX_HOPS {
        let meta = match fs::symlink_metadata(&cur) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // A /proc magic link (`/dev/stdout` → `/proc/self/fd/1` → `pipe:[…]`) reads
                // as a name that does not exist; the kernel still follows it.
                if cur != path {
                    let kind = fs::metadata(path).map(|m| PathKind::of(m.file_type()));
                    if let Ok(
                        k @ (PathKind::Fifo
                        | PathKind::CharDevice
                        | PathKind::Socket
                        | PathKind::BlockDevice),
                    ) = kind
                    {
                        return Ok((path.to_path_buf(), k));
                    }
                }
                return Ok((cur, PathKind::Missing));
            }
            Err(e) => return Err(e).with_context(|| format!("reading '{}'", cur.display())),
        };
        if !meta.file_type().is_symlink() {
            return Ok((cur, PathKind::of(meta.file_type())));
        }
        let link = fs::read_link(&cur).with_context(|| format!("reading '{}'", cur.display()))?;
        cur = match cur.parent() {
            Some(dir) if link.is_relative() => dir.join(link),
            _ => link,
        };
    }
    Err(UsageError::new(format!(
        "output '{}' is a chain of more than {MAX_HOPS} symbolic links",
        path.display()
    ))
    .with_hint("point -o at a file, or fix the link loop")
    .into())
}

/// Where an output file goes.
pub enum FileOutput {
    /// Straight into stdout, a character device or a fifo: cannot be taken back.
    Stream(Stream),
    /// A temporary file beside the real target, renamed over it by `commit`.
    Atomic(AtomicFile),
}

impl FileOutput {
    /// Classify `target` and claim it: opens the stream or creates the temporary file.
    /// `dir_hint` is the hint when the path is a directory (which format to use instead).
    /// Waiting for a fifo's reader stops when `cancel` is set.
    pub fn open(target: &Target, dir_hint: &str, cancel: &Cancel) -> Result<FileOutput> {
        let path = match target {
            Target::Stdout => return Ok(FileOutput::Stream(Stream::stdout()?)),
            Target::Path(p) => p,
        };
        let (real, kind) = resolve(path)?;
        match kind {
            PathKind::Missing | PathKind::Regular => {
                Ok(FileOutput::Atomic(AtomicFile::beside(path, &real)?))
            }
            PathKind::CharDevice | PathKind::Fifo => {
                Ok(FileOutput::Stream(Stream::open(path, &real, kind, cancel)?))
            }
            PathKind::Directory => Err(UsageError::new(format!(
                "output '{}' is a directory",
                path.display()
            ))
            .with_hint(dir_hint.to_owned())
            .into()),
            PathKind::Socket | PathKind::BlockDevice => Err(refused(path, kind, "a file")),
        }
    }
}

fn refused(path: &Path, kind: PathKind, wanted: &str) -> anyhow::Error {
    UsageError::new(format!(
        "output '{}' is {}, where {wanted} is expected",
        path.display(),
        kind.describe()
    ))
    .with_hint(
        "imgbuild writes a new or regular file (replaced atomically), or a stream into a fifo or character device; choose another -o",
    )
    .into()
}

/// A directory output (`oci-dir`, `rootfs-dir`) at `path` must not be a device, fifo or
/// socket; the rest of its rules are the format's own.
pub fn check_dir_output(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) => match PathKind::of(m.file_type()) {
            k @ (PathKind::CharDevice
            | PathKind::Fifo
            | PathKind::Socket
            | PathKind::BlockDevice) => Err(refused(path, k, "a directory")),
            _ => Ok(()),
        },
        Err(_) => Ok(()),
    }
}

/// A stream output: stdout or a character device or fifo named by `-o`.
pub struct Stream {
    file: File,
    /// For messages: `stdout`, or the path as given.
    name: String,
    /// A named fifo or device: a closed reader is an error of its own, not a quiet exit.
    named: bool,
}

impl Stream {
    fn stdout() -> Result<Stream> {
        if io::stdout().is_terminal() {
            return Err(UsageError::new("refusing to write an image archive to a terminal")
                .with_hint("pass -o app.tar, or pipe stdout into a program that reads an archive (-o - | podman load)")
                .into());
        }
        Ok(Stream {
            file: super::stdout_file().context("writing to stdout")?,
            name: "stdout".into(),
            named: false,
        })
    }

    /// Open the device or fifo at `real` (which `shown` leads to) for writing, without
    /// truncating or replacing it. A fifo is opened without blocking and retried until a
    /// reader comes, so a signal meanwhile is noticed.
    fn open(shown: &Path, real: &Path, kind: PathKind, cancel: &Cancel) -> Result<Stream> {
        let opening = || format!("opening '{}' for writing", shown.display());
        let file = loop {
            cancel.check()?;
            match fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK)
                .open(real)
            {
                Ok(f) => break f,
                // A fifo with no reader yet.
                Err(e) if e.raw_os_error() == Some(libc::ENXIO) && kind == PathKind::Fifo => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e).with_context(opening),
            }
        };
        let now = PathKind::of(file.metadata().with_context(opening)?.file_type());
        if now != kind {
            anyhow::bail!(
                "'{}' changed from {} to {} while it was opened",
                shown.display(),
                kind.describe(),
                now.describe()
            );
        }
        if file.is_terminal() {
            return Err(UsageError::new(format!(
                "refusing to write an image archive to the terminal '{}'",
                shown.display()
            ))
            .with_hint("pass -o FILE, or a pipe")
            .into());
        }
        set_blocking(&file).with_context(opening)?;
        Ok(Stream {
            file,
            name: format!("'{}'", shown.display()),
            named: true,
        })
    }

    /// The file to write into (unbuffered; `io::copy` from a file can splice).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// For messages: `stdout` or `'PATH'`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A closed reader of a named fifo is an error of its own (exit 1): a broken pipe is
    /// what the report treats as "stdout was closed" and keeps quiet about.
    pub fn explain(&self, err: anyhow::Error) -> anyhow::Error {
        if self.named && crate::error::is_broken_pipe(&err) {
            anyhow::anyhow!(
                "the reader of {} closed it before the output was complete",
                self.name
            )
        } else {
            err
        }
    }
}

fn set_blocking(file: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a valid open fd.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above.
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A temporary file `.NAME.imgbuild-<random>.tmp` beside the file it replaces.
pub struct AtomicFile {
    tmp: TempFile,
    /// The path written at the end (a symbolic link's target, followed).
    real: PathBuf,
    /// The path as given, for messages.
    shown: PathBuf,
}

impl AtomicFile {
    /// A temporary file in `real`'s directory (which must exist), for the output `shown`.
    fn beside(shown: &Path, real: &Path) -> Result<AtomicFile> {
        let parent = existing_parent(real)?;
        let name = file_name(real);
        let tmp = temp_in(&parent, &format!(".{name}.imgbuild-"), 0o666)
            .with_context(|| format!("cannot write to '{}'", parent.display()))?;
        Ok(AtomicFile {
            tmp,
            real: real.to_path_buf(),
            shown: shown.to_path_buf(),
        })
    }

    /// The temporary file.
    pub fn file(&self) -> &File {
        self.tmp.as_file()
    }

    /// The temporary file, for writing.
    pub fn file_mut(&mut self) -> &mut File {
        self.tmp.as_file_mut()
    }

    /// The path that is replaced at the end (a symbolic link followed).
    pub fn real(&self) -> &Path {
        &self.real
    }

    /// A staging directory `.NAME.imgbuild-<random>.d` beside the target, for the blobs
    /// that go into it.
    pub fn staging_dir(&self) -> Result<TempDir> {
        let parent = existing_parent(&self.real)?;
        TempDir::create(
            tempfile::Builder::new()
                .prefix(&format!(".{}.imgbuild-", file_name(&self.real)))
                .suffix(".d"),
            Some(&parent),
        )
        .with_context(|| format!("cannot write to '{}'", parent.display()))
    }

    /// The path as given, for messages.
    pub fn shown(&self) -> &Path {
        &self.shown
    }

    /// Make the file durable and rename it over the target (unless a signal came first),
    /// then make the rename durable.
    pub fn commit(self, cancel: &Cancel) -> Result<()> {
        let shown = self.shown.display().to_string();
        self.tmp
            .as_file()
            .sync_all()
            .with_context(|| format!("writing '{shown}'"))?;
        cancel.check()?;
        self.tmp
            .persist(&self.real)
            .with_context(|| format!("moving the output into place at '{shown}'"))?;
        sync_dir(&existing_parent(&self.real)?)
    }
}

/// The staging directory `NAME.imgbuild-partial-<random>` of a new directory output at
/// `path`, in `parent` (its existing parent directory), renamed to `path` at the end.
pub fn staging_beside(path: &Path, parent: &Path) -> Result<TempDir> {
    TempDir::create(
        tempfile::Builder::new().prefix(&format!("{}.imgbuild-partial-", file_name(path))),
        Some(parent),
    )
    .with_context(|| format!("cannot write to '{}'", parent.display()))
}

/// The staging directory of a stream output, in the system's temporary directory.
pub fn stream_staging() -> Result<TempDir> {
    TempDir::create(tempfile::Builder::new().prefix("imgbuild-"), None)
        .context("creating a temporary directory for the image")
}

/// A temporary file `PREFIX<random>.tmp` in `dir` with `mode` (before the umask), removed
/// unless persisted, on a signal too.
pub fn temp_in(dir: &Path, prefix: &str, mode: u32) -> io::Result<TempFile> {
    TempFile::create_in(
        tempfile::Builder::new()
            .prefix(prefix)
            .suffix(".tmp")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(mode)),
        dir,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_are_followed_to_what_they_name() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        fs::write(p.join("file"), "x").unwrap();
        std::os::unix::fs::symlink("file", p.join("rel")).unwrap();
        std::os::unix::fs::symlink(p.join("rel"), p.join("abs")).unwrap();
        std::os::unix::fs::symlink("nowhere", p.join("dangling")).unwrap();
        std::os::unix::fs::symlink("loop", p.join("loop")).unwrap();
        assert_eq!(
            resolve(&p.join("abs")).unwrap(),
            (p.join("file"), PathKind::Regular)
        );
        assert_eq!(
            resolve(&p.join("dangling")).unwrap(),
            (p.join("nowhere"), PathKind::Missing)
        );
        assert_eq!(resolve(p).unwrap().1, PathKind::Directory);
        assert!(resolve(&p.join("loop")).is_err());
    }
}
