//! A layer on its way into the cache: its compressed bytes are teed into a temporary blob
//! while the layer is written to the output, then committed under the layer's key.

use std::io::{self, BufWriter, Write};

use anyhow::{Context as _, Result, bail};

use super::key::CacheKey;
use super::{LayerCache, RacyFile, entry, evict};
use crate::digest::HashWriter;
use crate::interrupt::TempFile;
use crate::layer::writer::LayerDescriptor;
use crate::store::TEMP_PREFIX;

/// The compressed bytes of a layer being stored ([`LayerCache::begin`]). Write every byte of
/// the blob into it, then [`commit`](Pending::commit). Dropped without a commit (an error, an
/// interrupt), its temporary file is removed.
pub struct Pending {
    cache: LayerCache,
    out: HashWriter<BufWriter<TempFile>>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("dir", &self.cache.dir)
            .finish_non_exhaustive()
    }
}

impl Pending {
    pub(super) fn new(cache: LayerCache, tmp: TempFile) -> Result<Pending> {
        Ok(Pending {
            cache,
            out: HashWriter::new(BufWriter::with_capacity(256 << 10, tmp)),
        })
    }

    /// Store what was written as the blob of `layer` under `key`, with the racy files the
    /// layer read (see [`is_racy`](super::is_racy)), then evict down to the cache's bound.
    /// The bytes must be exactly the layer's blob (its digest and size), else nothing is
    /// stored and this is an error. The blob is renamed into place before the record, both
    /// under the lock, so no one ever sees a record whose blob was not there. A layer with so
    /// many racy files that its record would pass [`MAX_RECORD`](super::MAX_RECORD) bytes is
    /// not stored (`Ok`). An error from the eviction afterwards comes after the entry is in
    /// place.
    pub fn commit(
        self,
        key: &CacheKey,
        layer: &LayerDescriptor,
        racy: Vec<RacyFile>,
    ) -> Result<()> {
        let (buffered, digest, size) = self.out.finish().context("writing a cached blob")?;
        let tmp = buffered
            .into_inner()
            .map_err(|e| e.into_error())
            .context("writing a cached blob")?;
        if digest.as_ref() != Some(&layer.digest) || size != layer.size {
            bail!(
                "the bytes given to the layer cache are not blob {} ({} bytes): got {} bytes",
                layer.digest,
                layer.size,
                size
            );
        }
        let record = entry::encode(key, layer, &racy);
        if record.len() as u64 > entry::MAX_RECORD {
            // Too many racy files to be worth it; the layer is simply not cached.
            return Ok(());
        }
        tmp.as_file().sync_all().context("writing a cached blob")?;
        let mut rec_tmp = TempFile::create_in(
            tempfile::Builder::new().prefix(TEMP_PREFIX).suffix(".tmp"),
            &self.cache.entries,
        )
        .with_context(|| {
            format!(
                "creating a temporary file in '{}'",
                self.cache.entries.display()
            )
        })?;
        rec_tmp
            .write_all(&record)
            .and_then(|()| rec_tmp.as_file().sync_all())
            .context("writing a cache entry")?;
        let _lock = self.cache.lock()?;
        // The last use, on the clock lookups use (a write's mtime may lag it by a tick).
        let _ = rec_tmp.as_file().set_modified(std::time::SystemTime::now());
        self.cache.blobs.commit(tmp, &layer.digest)?;
        rec_tmp
            .persist(&entry::path(&self.cache.entries, key))
            .with_context(|| format!("storing cache entry {key}"))?;
        // The entry is stored now; an error here only means the cache may stay over its bound.
        evict::evict_locked(&self.cache, &evict::Plan::bound(self.cache.max_size)).with_context(
            || {
                format!(
                    "evicting from the layer cache '{}'",
                    self.cache.dir.display()
                )
            },
        )?;
        Ok(())
    }
}

impl Write for Pending {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.out.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
