//! The layer cache in a build. A layer's key hashes every tar header it will hold (path,
//! type, mode, owner, mtime after clamping, size, link target: all its bytes but the file
//! contents), each regular file's fingerprint (device, inode, size, mtime and ctime in
//! nanoseconds), the compression, its level and the layer format's version (see
//! [`crate::cache::KeyBuilder`]).
//!
//! - A hit whose racy files (modified too close to the build that stored it to be trusted by
//!   their timestamps) still hash as recorded is copied into the output from the cache, no
//!   file of the layer read. The copy is hashed as it goes; if the stored blob is not the
//!   digest it claims, the copy is given up before anything is committed, the entry removed,
//!   and the layer built from the files instead.
//! - A miss builds the layer; its compressed bytes also go to the cache as they are written
//!   (no second pass), with the content digests of its racy files, and are stored once the
//!   layer is complete.
//!
//! A cache that cannot be read or written never fails a build: it is a warning, and the
//! layer is built as without a cache.

use std::io::{Read, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::SystemTime;

use anyhow::{Context as _, Result, anyhow};
use sha2::{Digest as _, Sha256};

use super::layers::{Keep, LayerInput, prefix_dirs, put_layer};
use crate::cache::{self, CacheKey, Hit, KeyBuilder, LayerCache};
use crate::cancel::Cancel;
use crate::context::{ContextEntry, EntryKind};
use crate::digest::Sha256Sum;
use crate::layer::{EntryDigest, LayerDescriptor, header};
use crate::options::BuildOptions;
use crate::progress::Progress;
use crate::sink::Destination;

/// The cache and when the build started (the racy rule measures from it).
pub(super) struct Cached<'a> {
    pub cache: &'a LayerCache,
    pub build_start: SystemTime,
}

/// A cached blob that is not what its entry says: the copy is given up.
#[derive(Debug)]
struct StaleBlob(Sha256Sum);

impl std::fmt::Display for StaleBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the cached blob of layer {} is damaged",
            self.0.prefixed()
        )
    }
}

impl std::error::Error for StaleBlob {}

impl Cached<'_> {
    /// One layer through the cache: reused when it holds it, else built and stored.
    /// Returns the layer, its entry digests (with `input.record`, when built) and whether
    /// it came from the cache.
    pub fn layer(
        &self,
        opts: &BuildOptions,
        input: &LayerInput<'_>,
        dest: &mut dyn Destination,
        progress: &dyn Progress,
        cancel: &Cancel,
        warnings: &mut Vec<String>,
    ) -> Result<(LayerDescriptor, Vec<EntryDigest>, bool)> {
        let key = key_of(opts, input)?;
        match self.cache.get(&key) {
            Ok(Some(hit)) => {
                if let Some(layer) = reuse(hit, input, dest, progress, cancel, warnings)? {
                    return Ok((layer, Vec::new(), true));
                }
            }
            Ok(None) => {}
            Err(e) => warnings.push(format!(
                "the layer cache could not be read ({e:#}); building the layer without it"
            )),
        }
        let (layer, entries) =
            self.build_and_store(opts, input, &key, dest, progress, cancel, warnings)?;
        Ok((layer, entries, false))
    }

    #[allow(clippy::too_many_arguments)]
    fn build_and_store(
        &self,
        opts: &BuildOptions,
        input: &LayerInput<'_>,
        key: &CacheKey,
        dest: &mut dyn Destination,
        progress: &dyn Progress,
        cancel: &Cancel,
        warnings: &mut Vec<String>,
    ) -> Result<(LayerDescriptor, Vec<EntryDigest>)> {
        let mut pending = match self.cache.begin() {
            Ok(p) => Some(p),
            Err(e) => {
                warnings.push(format!("the layer cache cannot store layers ({e:#})"));
                None
            }
        };
        let mut failed = None;
        let start = self.build_start;
        let racy = move |e: &ContextEntry| cache::is_racy(e, start);
        let mut copy = |bytes: &[u8]| {
            if let Some(p) = &mut pending
                && let Err(e) = p.write_all(bytes)
            {
                failed = Some(e);
                pending = None;
            }
        };
        let keep = Keep {
            racy: &racy,
            copy: &mut copy,
        };
        let (layer, entries, racy_files) =
            put_layer(opts, input, Some(keep), dest, progress, cancel)?;
        if let Some(e) = failed {
            warnings.push(format!(
                "the layer cache could not store layer {} ({e})",
                layer.digest.prefixed()
            ));
        }
        if let Some(p) = pending
            && let Err(e) = p.commit(key, &layer, racy_files)
        {
            warnings.push(format!(
                "the layer cache could not store layer {} ({e:#})",
                layer.digest.prefixed()
            ));
        }
        Ok((layer, entries))
    }
}

/// The cache key of the layer `input` makes: the headers it will write, in order, and each
/// regular file's fingerprint.
fn key_of(opts: &BuildOptions, input: &LayerInput<'_>) -> Result<CacheKey> {
    let mut key = KeyBuilder::new(&opts.compression);
    let mut buf = Vec::with_capacity(1024);
    for d in prefix_dirs(opts, input.skip_dirs)? {
        buf.clear();
        header::encode_dir(&d.path, d.mode, d.mtime, d.owner, &mut buf)?;
        key.add_header(&buf);
    }
    for entry in input.iter() {
        let entry = entry?;
        buf.clear();
        header::encode_entry(entry, &opts.header, &mut buf)
            .with_context(|| format!("adding '{}' to the layer", entry.display_path()))?;
        key.add_header(&buf);
        if entry.kind == EntryKind::File {
            key.add_fingerprint(entry);
        }
    }
    Ok(key.finish())
}

/// Copy a hit into `dest` when its racy files are unchanged and its blob is what it claims;
/// `None` when the layer must be built instead (the entry is then removed).
fn reuse(
    mut hit: Hit,
    input: &LayerInput<'_>,
    dest: &mut dyn Destination,
    progress: &dyn Progress,
    cancel: &Cancel,
    warnings: &mut Vec<String>,
) -> Result<Option<LayerDescriptor>> {
    if !hit.racy_files_unchanged(input.root, cancel)? {
        discard(hit, warnings);
        return Ok(None);
    }
    let layer = hit.layer.clone();
    let blob = &mut hit.blob;
    let copied = dest.put_layer(&mut |out| {
        let (digest, size) = copy_hashed(blob, out, cancel)?;
        if digest != layer.digest || size != layer.size {
            return Err(anyhow!(StaleBlob(layer.digest.clone())));
        }
        Ok((digest, size))
    });
    match copied {
        Ok(()) => {}
        Err(e) if e.downcast_ref::<StaleBlob>().is_some() => {
            warnings.push(format!("{e:#}; it was removed and the layer built again"));
            discard(hit, warnings);
            return Ok(None);
        }
        Err(e) => return Err(e),
    }
    // The files were not read, but they are in the layer: count them as done.
    let (mut bytes, mut files) = (0, 0);
    for entry in input.iter() {
        let entry = entry?;
        if entry.kind == EntryKind::File {
            bytes += entry.size;
            files += 1;
        }
    }
    progress.advance(bytes, files);
    Ok(Some(layer))
}

fn discard(hit: Hit, warnings: &mut Vec<String>) {
    let key = hit.key().clone();
    if let Err(e) = hit.discard() {
        warnings.push(format!(
            "the layer cache could not remove entry {key} ({e:#})"
        ));
    }
}

/// Copy `from` to its end into `out`, hashing it; its digest and size. The read and the
/// hash run on a thread of their own while the previous chunk is written, so a hit costs
/// about the larger of the two, not their sum.
fn copy_hashed(
    from: &mut std::fs::File,
    out: &mut dyn Write,
    cancel: &Cancel,
) -> Result<(Sha256Sum, u64)> {
    const POOL: usize = 4;
    std::thread::scope(|scope| {
        let (tx, rx) = sync_channel::<(Vec<u8>, usize)>(POOL);
        let (back, pool) = sync_channel::<Vec<u8>>(POOL + 1);
        for _ in 0..POOL {
            let _ = back.send(vec![0u8; 1 << 20]);
        }
        let reader = scope.spawn(move || read_hashed(from, &tx, &pool, cancel));
        let written = (|| -> Result<()> {
            while let Ok((buf, n)) = rx.recv() {
                out.write_all(&buf[..n]).context("writing layer")?;
                let _ = back.send(buf);
            }
            Ok(())
        })();
        // Dropping our ends stops the reader if the write failed.
        drop((rx, back));
        let read = reader
            .join()
            .map_err(|_| anyhow!("the cached layer's reader panicked"))?;
        written?;
        read
    })
}

/// Read `from` to its end in chunks from `pool`, hashing each, and send them on.
fn read_hashed(
    from: &mut std::fs::File,
    tx: &SyncSender<(Vec<u8>, usize)>,
    pool: &Receiver<Vec<u8>>,
    cancel: &Cancel,
) -> Result<(Sha256Sum, u64)> {
    let mut hash = Sha256::new();
    let mut size = 0u64;
    loop {
        cancel.check()?;
        let Ok(mut buf) = pool.recv() else {
            anyhow::bail!("the copy of a cached layer stopped");
        };
        let n = loop {
            match from.read(&mut buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e).context("reading a cached layer"),
            }
        };
        if n == 0 {
            return Ok((Sha256Sum::from_hasher(hash), size));
        }
        hash.update(&buf[..n]);
        size += n as u64;
        if tx.send((buf, n)).is_err() {
            anyhow::bail!("the copy of a cached layer stopped");
        }
    }
}
