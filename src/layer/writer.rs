//! `LayerWriter`: the single streaming pass. File contents come from `prefetch`, which opens
//! each file once (never following a symlink, never blocking on a fifo), checks it against
//! what the walk saw and reads exactly `size` bytes; a file that shrinks, grows or is modified
//! meanwhile is an error naming it, never a corrupt layer. Digests and sizes are known only
//! after `finish`.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use anyhow::{Context as _, Result};
use oci_spec::image::MediaType;
use sha2::{Digest as _, Sha256};

use super::header::{self, HeaderOptions};
use super::prefetch::{Piece, Prefetch};
use crate::cancel::Cancel;
use crate::compress::{Algorithm, Compression, Encoder};
use crate::context::{ContextEntry, EntryKind};
use crate::digest::{HashWriter, Sha256Sum};
use crate::error::FileChanged;
use crate::progress::Progress;

const SINK_BUFFER: usize = 256 << 10;

/// What a finished layer is: known only after the last byte went through.
#[derive(Debug, Clone)]
pub struct LayerDescriptor {
    /// The media type of the blob (from its compression).
    pub media_type: MediaType,
    /// sha256 of the compressed blob.
    pub digest: Sha256Sum,
    /// Size of the compressed blob in bytes.
    pub size: u64,
    /// sha256 of the uncompressed tar.
    pub diff_id: Sha256Sum,
    /// Size of the uncompressed tar in bytes.
    pub tar_size: u64,
}

type Pipeline<W> = BufWriter<HashWriter<Encoder<HashWriter<W>>>>;

/// Writes a layer: tar entries in, compressed blob out, hashing both sides on the way.
pub struct LayerWriter<W: Write> {
    out: Pipeline<W>,
    media_type: MediaType,
    header_buf: Vec<u8>,
    /// With `record_entries`: a digest of each entry's tar bytes, to name the first entry
    /// where two builds differ (`--check-reproducible`).
    log: Option<EntryLog>,
    /// Checked before every entry and between chunks of a file.
    cancel: Cancel,
    /// After `hash_next_content`: the sha256 of the next file's content.
    content: Option<Sha256>,
}

/// One tar entry of a layer: its path and the sha256 of all its bytes in the tar (headers,
/// content and padding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryDigest {
    /// Path of the entry as written in the tar.
    pub path: Vec<u8>,
    /// sha256 of the entry's bytes in the tar.
    pub digest: Sha256Sum,
}

struct EntryLog {
    done: Vec<EntryDigest>,
    current: Option<(Vec<u8>, Sha256)>,
}

impl EntryLog {
    fn start(&mut self, path: &[u8]) {
        self.end();
        self.current = Some((path.to_vec(), Sha256::new()));
    }

    fn update(&mut self, bytes: &[u8]) {
        if let Some((_, h)) = &mut self.current {
            h.update(bytes);
        }
    }

    fn end(&mut self) {
        if let Some((path, h)) = self.current.take() {
            let digest = Sha256Sum::from_hasher(h);
            self.done.push(EntryDigest { path, digest });
        }
    }
}

impl<W: Write> LayerWriter<W> {
    /// Start a layer into `blob`; `threads` only affects compression speed, never the bytes.
    /// Once `cancel` is set, the next `append` fails with `Interrupted`.
    pub fn new(
        blob: W,
        compression: Compression,
        threads: u32,
        cancel: Cancel,
    ) -> io::Result<Self> {
        // Uncompressed, the blob is the tar: its digest is the diff_id, hashed once.
        let blob = match compression.algorithm {
            Algorithm::None => HashWriter::counting(blob),
            _ => HashWriter::new(blob),
        };
        let encoder = compression.encoder(blob, threads)?;
        Ok(LayerWriter {
            out: BufWriter::with_capacity(SINK_BUFFER, HashWriter::new(encoder)),
            media_type: compression.media_type(),
            header_buf: Vec::with_capacity(2048),
            log: None,
            cancel,
            content: None,
        })
    }

    /// Also keep a digest of every entry's tar bytes (see `entry_digests`). It costs one
    /// more hash of the layer, so only `--check-reproducible` asks for it.
    pub fn record_entries(&mut self) {
        self.log = Some(EntryLog {
            done: Vec::new(),
            current: None,
        });
    }

    /// The digests of the entries appended so far, in tar order (empty unless
    /// `record_entries` was called).
    pub fn entry_digests(&mut self) -> Vec<EntryDigest> {
        match &mut self.log {
            Some(log) => {
                log.end();
                std::mem::take(&mut log.done)
            }
            None => Vec::new(),
        }
    }

    /// Write layer bytes, and hash them into the current entry's digest when recording.
    fn emit(out: &mut Pipeline<W>, log: &mut Option<EntryLog>, bytes: &[u8]) -> Result<()> {
        if let Some(log) = log {
            log.update(bytes);
        }
        out.write_all(bytes).context("writing layer")
    }

    fn start_entry(&mut self, path: &[u8]) {
        if let Some(log) = &mut self.log {
            log.start(path);
        }
    }

    /// A directory entry that is not in the context (the parents of `--prefix`).
    pub fn append_synthetic_dir(
        &mut self,
        path: &[u8],
        mode: u32,
        mtime: u64,
        owner: (u64, u64),
    ) -> Result<()> {
        self.header_buf.clear();
        header::encode_dir(path, mode, mtime, owner, &mut self.header_buf)?;
        self.start_entry(path);
        Self::emit(&mut self.out, &mut self.log, &self.header_buf)
    }

    /// Hash the content of the next file appended, for [`LayerWriter::take_content_digest`]
    /// (the layer cache records it for files whose timestamps are too recent to trust).
    pub fn hash_next_content(&mut self) {
        self.content = Some(Sha256::new());
    }

    /// The sha256 of the content of the file appended since `hash_next_content`.
    pub fn take_content_digest(&mut self) -> Option<Sha256Sum> {
        self.content.take().map(Sha256Sum::from_hasher)
    }

    /// `append`, with a regular file's content from `source` (read ahead, and checked there
    /// as `append` checks it) instead of opened here.
    pub fn append_from(
        &mut self,
        source: &mut Prefetch,
        entry: &ContextEntry,
        opts: &HeaderOptions,
        progress: &dyn Progress,
    ) -> Result<()> {
        self.cancel.check()?;
        self.header_buf.clear();
        header::encode_entry(entry, opts, &mut self.header_buf)
            .with_context(|| format!("adding '{}' to the layer", entry.display_path()))?;
        self.start_entry(&entry.rel_path);
        Self::emit(&mut self.out, &mut self.log, &self.header_buf)?;
        if entry.kind != EntryKind::File {
            return Ok(());
        }
        let (out, log, content, cancel) = (
            &mut self.out,
            &mut self.log,
            &mut self.content,
            &self.cancel,
        );
        let mut copied = 0u64;
        while source.next(&mut |piece| {
            let Piece::Data(bytes) = piece else {
                return Ok(());
            };
            cancel.check()?;
            Self::emit(out, log, bytes)?;
            if let Some(h) = content.as_mut() {
                h.update(bytes);
            }
            copied += bytes.len() as u64;
            progress.advance(bytes.len() as u64, 0);
            Ok(())
        })? {}
        if copied != entry.size {
            return Err(changed(entry, "its size changed while it was read"));
        }
        let pad = header::padding(entry.size);
        Self::emit(&mut self.out, &mut self.log, &[0u8; 512][..pad])?;
        progress.advance(0, 1);
        Ok(())
    }

    /// Write the end-of-archive blocks, finish the compressor, and return the blob writer
    /// with the layer's digests and sizes.
    pub fn finish(mut self) -> Result<(W, LayerDescriptor)> {
        if let Some(log) = &mut self.log {
            log.end();
        }
        self.out.write_all(&[0u8; 1024]).context("writing layer")?;
        let tar_hash = self
            .out
            .into_inner()
            .map_err(|e| e.into_error())
            .context("writing layer")?;
        let (encoder, diff_id, tar_size) = tar_hash.finish().context("writing layer")?;
        let diff_id = diff_id.expect("the tar stream is always hashed");
        let blob_hash = encoder.finish().context("finishing layer compression")?;
        let (blob, digest, size) = blob_hash.finish().context("writing layer")?;
        let digest = digest.unwrap_or_else(|| diff_id.clone());
        Ok((
            blob,
            LayerDescriptor {
                media_type: self.media_type,
                digest,
                size,
                diff_id,
                tar_size,
            },
        ))
    }
}

pub(super) fn changed(entry: &ContextEntry, what: &'static str) -> anyhow::Error {
    FileChanged {
        path: entry.display_path(),
        what,
    }
    .into()
}

/// Open a regular file without following a symlink or blocking on a fifo, and make sure it
/// is still the file the walk saw.
pub(super) fn open_checked(path: &Path, entry: &ContextEntry) -> Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path);
    let file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(changed(entry, "it was removed during the build"));
        }
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(changed(entry, "it was replaced by a symlink"));
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read '{}'", entry.display_path())),
    };
    let meta = file
        .metadata()
        .with_context(|| format!("reading metadata of '{}'", entry.display_path()))?;
    if !meta.file_type().is_file() || meta.dev() != entry.dev || meta.ino() != entry.ino {
        return Err(changed(entry, "it was replaced by another file"));
    }
    if meta.size() != entry.size
        || meta.mtime() != entry.mtime
        || meta.mtime_nsec() != entry.mtime_nsec
    {
        return Err(changed(entry, "it was modified after the walk"));
    }
    Ok(file)
}
