//! Reading file contents one step ahead of the layer writer, on a thread of its own: while
//! the writer hashes, compresses and writes one chunk, the next is being read. Uncompressed,
//! a layer costs a read, a hash and a write per byte; done in turn on one core they take
//! their sum, and this overlaps the read with the other two.
//!
//! The reader makes exactly the checks the writer made itself: each file is opened without
//! following a symlink or blocking on a fifo, must still be the file the walk saw, is read to
//! exactly its size, and must not have been modified meanwhile; a file that fails is an error
//! naming it, delivered in the file's turn. Chunks travel in a small pool of buffers, so
//! memory stays at `POOL × CHUNK` whatever the layer's size.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::Scope;

use anyhow::{Context as _, Result};

use super::writer::{changed, open_checked};
use crate::cancel::Cancel;
use crate::context::{ContextEntry, walk::host_path};

/// Bytes a chunk holds at most.
pub const CHUNK: usize = 1 << 20;
/// Buffers in flight between the reader and the writer.
const POOL: usize = 4;

/// What the reader sends for a file, in order: its chunks, then how it ended.
enum Msg {
    /// `len` bytes of the current file at the start of the buffer.
    Chunk(Vec<u8>, usize),
    /// The current file was read whole and checked.
    Done,
    /// The current file could not be read as the walk saw it; nothing follows.
    Failed(anyhow::Error),
}

/// The writer's end: file contents in entry order.
pub struct Prefetch {
    rx: Receiver<Msg>,
    back: SyncSender<Vec<u8>>,
}

/// One chunk of a file's content, or its end.
pub enum Piece<'a> {
    /// Bytes of the file, in order.
    Data(&'a [u8]),
    /// The file was read to its end and checked.
    End,
}

impl Prefetch {
    /// Start reading the regular files among `files`, in order, from under `root`, on a
    /// thread of `scope`. The thread stops when the last file is read, when the writer drops
    /// its end, or when `cancel` is set.
    pub fn spawn<'scope, 'env>(
        scope: &'scope Scope<'scope, 'env>,
        root: &'env Path,
        files: Vec<&'env ContextEntry>,
        cancel: Cancel,
    ) -> Prefetch {
        let (tx, rx) = sync_channel(POOL);
        let (back, pool) = sync_channel(POOL + 1);
        for _ in 0..POOL {
            // The pool has room for all of them.
            let _ = back.send(vec![0u8; CHUNK]);
        }
        scope.spawn(move || read_all(root, &files, &tx, &pool, &cancel));
        Prefetch { rx, back }
    }

    /// The next piece of the current file, and `f` run on its bytes; the buffer goes back to
    /// the reader afterwards.
    pub fn next(&mut self, f: &mut dyn FnMut(Piece<'_>) -> Result<()>) -> Result<bool> {
        match self.rx.recv() {
            Ok(Msg::Chunk(buf, len)) => {
                let done = f(Piece::Data(&buf[..len]));
                let _ = self.back.send(buf);
                done.map(|()| true)
            }
            Ok(Msg::Done) => f(Piece::End).map(|()| false),
            Ok(Msg::Failed(e)) => Err(e),
            Err(_) => anyhow::bail!("the file reader stopped before the layer was complete"),
        }
    }
}

fn read_all(
    root: &Path,
    files: &[&ContextEntry],
    tx: &SyncSender<Msg>,
    pool: &Receiver<Vec<u8>>,
    cancel: &Cancel,
) {
    for entry in files {
        match read_one(root, entry, tx, pool, cancel) {
            Ok(true) => {}
            // The writer is gone (it failed or is done): stop quietly.
            Ok(false) => return,
            Err(e) => {
                let _ = tx.send(Msg::Failed(e));
                return;
            }
        }
    }
}

/// Read one file into chunks; `Ok(false)` when the writer has gone away.
fn read_one(
    root: &Path,
    entry: &ContextEntry,
    tx: &SyncSender<Msg>,
    pool: &Receiver<Vec<u8>>,
    cancel: &Cancel,
) -> Result<bool> {
    let mut file = open_checked(&host_path(root, &entry.rel_path), entry)?;
    let mut left = entry.size;
    while left > 0 {
        cancel.check()?;
        let Ok(mut buf) = pool.recv() else {
            return Ok(false);
        };
        let want = left.min(buf.len() as u64) as usize;
        let n = fill(&mut file, &mut buf[..want], entry)?;
        left -= n as u64;
        if tx.send(Msg::Chunk(buf, n)).is_err() {
            return Ok(false);
        }
    }
    let mut probe = [0u8; 1];
    loop {
        match file.read(&mut probe) {
            Ok(0) => break,
            Ok(_) => return Err(changed(entry, "it grew")),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(e).with_context(|| format!("reading '{}'", entry.display_path()));
            }
        }
    }
    let after = file
        .metadata()
        .with_context(|| format!("reading metadata of '{}'", entry.display_path()))?;
    if after.size() != entry.size
        || after.mtime() != entry.mtime
        || after.mtime_nsec() != entry.mtime_nsec
        || after.ctime() != entry.ctime
        || after.ctime_nsec() != entry.ctime_nsec
    {
        return Err(changed(entry, "modified while it was read"));
    }
    Ok(tx.send(Msg::Done).is_ok())
}

/// Read until `buf` is full; a file that ends first has shrunk.
fn fill(file: &mut File, buf: &mut [u8], entry: &ContextEntry) -> Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..]) {
            Ok(0) => return Err(changed(entry, "it shrank")),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(e).with_context(|| format!("reading '{}'", entry.display_path()));
            }
        }
    }
    Ok(got)
}
