//! SIGINT, SIGTERM and SIGHUP, and the temporary paths they must not leave behind.
//!
//! [`install`] wires the signals to a [`Cancel`]: the handler only sets atomics (the
//! cancellation and a count) and writes to signal-hook's self-pipe, which is
//! async-signal-safe. On the first and the second signal nothing more happens: the copy loops
//! check their `Cancel` between chunks, return `Interrupted`, and unwinding removes every temporary
//! file and staging directory, after which the process exits 130 (INT), 143 (TERM) or 129
//! (HUP). Tools such as `timeout` and CI runners signal a whole process group, so two signals
//! milliseconds apart are ordinary, and the second one must still clean up.
//!
//! A third signal means "stop now": the watcher removes every path in the registry below
//! (the temporary files and staging directories that exist at that moment) and ends the
//! process with `_exit`. That is done from the watcher thread, not from a signal handler, so
//! it may take locks and allocate. Every temporary path is created while the registry lock is
//! held ([`TempFile`], [`TempDir`]), so the watcher never misses one that is half created.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::cancel::Cancel;

/// The first signal received (0: none).
static SIGNAL: AtomicI32 = AtomicI32::new(0);
/// How many signals have been received.
static COUNT: AtomicU32 = AtomicU32::new(0);
/// The temporary paths that exist now.
static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    next: 1,
    paths: Vec::new(),
});

/// The signals that interrupt a command.
pub const SIGNALS: [i32; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// Signals up to this many are cleaned up after by unwinding; the next one by the watcher.
const PATIENT_SIGNALS: u32 = 2;

struct Registry {
    next: u64,
    paths: Vec<(u64, PathBuf, Kind)>,
}

#[derive(Clone, Copy)]
enum Kind {
    File,
    Dir,
}

fn registry() -> MutexGuard<'static, Registry> {
    // A panic while the lock was held cannot leave the list inconsistent (push and retain
    // only), so a poisoned lock is still usable.
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Run `create` with the registry locked and register the path it made.
fn tracked<T>(
    kind: Kind,
    create: impl FnOnce() -> io::Result<T>,
    path: impl FnOnce(&T) -> PathBuf,
) -> io::Result<(T, u64)> {
    let mut reg = registry();
    let made = create()?;
    let id = reg.next;
    reg.next += 1;
    let p = path(&made);
    reg.paths.push((id, p, kind));
    Ok((made, id))
}

fn untrack(id: u64) {
    registry().paths.retain(|(i, _, _)| *i != id);
}

/// Install the handlers and the watcher, which cancel `cancel` on the first signal; call
/// once at start-up.
pub fn install(cancel: &Cancel) -> io::Result<()> {
    for sig in SIGNALS {
        let state = cancel.state();
        // SAFETY: the closure only touches atomics, which is async-signal-safe. It is
        // registered before the iterator's action, so it runs first: the watcher, woken by
        // that action, sees the count already raised (the iterator coalesces signals that
        // arrive together; the count does not).
        unsafe {
            signal_hook::low_level::register(sig, move || {
                let _ = SIGNAL.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
                let _ = state.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
                COUNT.fetch_add(1, Ordering::SeqCst);
            })?;
        }
    }
    let mut signals = signal_hook::iterator::Signals::new(SIGNALS)?;
    std::thread::Builder::new()
        .name("imgbuild-signals".into())
        .spawn(move || {
            for _ in signals.forever() {
                if COUNT.load(Ordering::SeqCst) > PATIENT_SIGNALS {
                    remove_all_and_exit(128 + SIGNAL.load(Ordering::SeqCst));
                }
            }
        })?;
    Ok(())
}

/// Remove every registered path and end the process at once with `code`. The registry
/// lock is kept, so no new temporary path can appear meanwhile.
fn remove_all_and_exit(code: i32) -> ! {
    let reg = registry();
    for (_, path, kind) in reg.paths.iter().rev() {
        let _ = match kind {
            Kind::File => std::fs::remove_file(path),
            Kind::Dir => std::fs::remove_dir_all(path),
        };
    }
    // Not through `eprintln!`: another thread may hold the lock of stderr.
    let msg = b"imgbuild: interrupted again; temporary files removed, exiting now\n";
    // SAFETY: writing a valid buffer to fd 2, then ending the process; `_exit` runs no
    // destructors or atexit handlers, which is the point.
    unsafe {
        libc::write(2, msg.as_ptr().cast(), msg.len());
        libc::_exit(code)
    }
}

/// A temporary file that is removed when dropped, by unwinding after a signal, or by the
/// watcher on a third signal.
pub struct TempFile {
    /// `None` only after `persist` took it.
    file: Option<tempfile::NamedTempFile>,
    id: u64,
}

impl TempFile {
    /// Create a temporary file in `dir` as `builder` says.
    pub fn create_in(builder: &tempfile::Builder, dir: &Path) -> io::Result<TempFile> {
        let (file, id) = tracked(
            Kind::File,
            || builder.tempfile_in(dir),
            |f| f.path().to_path_buf(),
        )?;
        Ok(TempFile {
            file: Some(file),
            id,
        })
    }

    fn inner(&self) -> &tempfile::NamedTempFile {
        self.file
            .as_ref()
            .expect("a TempFile holds its file until persist consumes it")
    }

    fn inner_mut(&mut self) -> &mut tempfile::NamedTempFile {
        self.file
            .as_mut()
            .expect("a TempFile holds its file until persist consumes it")
    }

    /// The temporary file's path.
    pub fn path(&self) -> &Path {
        self.inner().path()
    }

    /// The open temporary file.
    pub fn as_file(&self) -> &File {
        self.inner().as_file()
    }

    /// The open temporary file, for writing.
    pub fn as_file_mut(&mut self) -> &mut File {
        self.inner_mut().as_file_mut()
    }

    /// Rename the file to `to` (replacing what is there); on failure it is removed.
    pub fn persist(mut self, to: &Path) -> io::Result<()> {
        let file = self
            .file
            .take()
            .expect("a TempFile holds its file until persist consumes it");
        // The registry still names the temporary path until after the rename, so a third
        // signal meanwhile removes it (or finds it gone).
        file.persist(to).map(drop).map_err(|e| e.error)
    }
}

impl Write for TempFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.as_file_mut().write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.as_file_mut().write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.as_file_mut().flush()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        // Removed first, unregistered after, so there is no moment when nobody would.
        drop(self.file.take());
        untrack(self.id);
    }
}

/// A temporary directory that is removed with its contents when dropped, by unwinding after
/// a signal, or by the watcher on a third signal.
pub struct TempDir {
    /// `None` only after `rename_to` took it.
    dir: Option<tempfile::TempDir>,
    id: u64,
}

impl TempDir {
    /// Create a temporary directory in `parent` (the system's temporary directory when
    /// `None`) as `builder` says.
    pub fn create(builder: &tempfile::Builder, parent: Option<&Path>) -> io::Result<TempDir> {
        let (dir, id) = tracked(
            Kind::Dir,
            || match parent {
                Some(p) => builder.tempdir_in(p),
                None => builder.tempdir(),
            },
            |d| d.path().to_path_buf(),
        )?;
        Ok(TempDir { dir: Some(dir), id })
    }

    /// The temporary directory's path.
    pub fn path(&self) -> &Path {
        self.dir
            .as_ref()
            .expect("a TempDir holds its directory until rename_to consumes it")
            .path()
    }

    /// Rename the directory to `to`; on failure it is removed.
    pub fn rename_to(mut self, to: &Path) -> io::Result<()> {
        let mut dir = self
            .dir
            .take()
            .expect("a TempDir holds its directory until rename_to consumes it");
        std::fs::rename(dir.path(), to)?;
        dir.disable_cleanup(true);
        Ok(())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        drop(self.dir.take());
        untrack(self.id);
    }
}

/// Register a directory that the caller created (and removes itself when it is done): a
/// third signal removes it. Unregistered when the guard is dropped.
pub struct Tracked(u64);

impl Tracked {
    /// Create a directory with `create` (which returns its path) and register it.
    pub fn dir(create: impl FnOnce() -> io::Result<PathBuf>) -> io::Result<(PathBuf, Tracked)> {
        let (path, id) = tracked(Kind::Dir, create, Clone::clone)?;
        Ok((path, Tracked(id)))
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        untrack(self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registered() -> Vec<PathBuf> {
        registry().paths.iter().map(|(_, p, _)| p.clone()).collect()
    }

    #[test]
    fn temp_paths_are_registered_while_they_exist() {
        let root = tempfile::tempdir().unwrap();
        let b = tempfile::Builder::new();
        let f = TempFile::create_in(&b, root.path()).unwrap();
        let d = TempDir::create(&b, Some(root.path())).unwrap();
        let (fp, dp) = (f.path().to_path_buf(), d.path().to_path_buf());
        assert!(registered().contains(&fp) && registered().contains(&dp));
        drop(f);
        assert!(!fp.exists() && !registered().contains(&fp));
        d.rename_to(&root.path().join("kept")).unwrap();
        assert!(root.path().join("kept").is_dir() && !registered().contains(&dp));
        let f = TempFile::create_in(&b, root.path()).unwrap();
        let fp = f.path().to_path_buf();
        f.persist(&root.path().join("file")).unwrap();
        assert!(root.path().join("file").is_file() && !registered().contains(&fp));
    }
}
