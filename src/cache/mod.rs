//! The local layer cache: `<cache-dir>/layers/`, where a built layer's compressed blob is kept
//! under a key of everything its bytes depend on, so a build of an unchanged context reuses
//! it without reading file contents.
//!
//! ```text
//! layers/
//!   lock                     flock(2): commits, evictions and removals take it; lookups do not
//!   entries/<key>.json       one record per cached layer; its mtime is the last use (LRU)
//!   blobs/sha256/<hex>       the compressed blobs (a BlobStore), shared by equal layers
//! ```
//!
//! A key ([`KeyBuilder`]) hashes the compression, [`LAYER_FORMAT_VERSION`], every tar header
//! of the layer and, for each regular file, a fingerprint (device, inode, size, mtime and
//! ctime in nanoseconds). Files whose timestamps are too recent to vouch for their content
//! ([`is_racy`]) are recorded with their content hash, and the caller re-hashes them on a
//! hit ([`Hit::racy_files_unchanged`]). A hit's blob is opened at lookup and checked with
//! [`Hit::verify`] before it is used.
//!
//! Concurrency: a commit writes the blob and the record to temporary files, then, holding
//! the lock, renames the blob into place, then the record (so a record never names a blob
//! that was not there when it appeared), then evicts. Evictions remove a record before its
//! blob; a lookup that finds a record whose blob is gone is a miss. Everything read from the
//! directory is untrusted: a damaged, oversized or symlinked record is a miss and is removed.

mod entry;
mod evict;
mod key;
mod pending;
mod racy;
mod size;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Seek as _, SeekFrom};
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::os::unix::io::AsRawFd as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context as _, Result, bail};
use sha2::{Digest as _, Sha256};

pub use entry::{MAX_RECORD, RacyFile};
pub use evict::{CacheInfo, PruneOptions, PruneReport};
pub use key::{CacheKey, KeyBuilder, LAYER_FORMAT_VERSION, RACY_GRANULARITY, is_racy};
pub use pending::Pending;
pub use size::{parse_duration, parse_size};

use crate::cancel::Cancel;
use crate::digest::Sha256Sum;
use crate::layer::writer::LayerDescriptor;
use crate::store::BlobStore;

/// The default bound of the cache (`--cache-max-size`): 10 GiB.
pub const DEFAULT_MAX_SIZE: u64 = 10 << 30;

/// The layer cache's directory under imgbuild's cache directory (`--cache-dir`).
pub fn layers_dir(cache_dir: &Path) -> PathBuf {
    cache_dir.join("layers")
}

/// An open layer cache. Cheap to clone (paths only); every operation works on the directory,
/// so several processes may use one cache at once.
#[derive(Debug, Clone)]
pub struct LayerCache {
    dir: PathBuf,
    entries: PathBuf,
    blobs: BlobStore,
    max_size: u64,
}

/// A cache hit: the layer as it was built, the racy files to re-check, and its blob, opened
/// at lookup so that an eviction by another process cannot pull it away.
#[derive(Debug)]
pub struct Hit {
    /// The cached layer's descriptor (media type, digests, sizes).
    pub layer: LayerDescriptor,
    /// Files whose content must still be as recorded for the hit to hold.
    pub racy: Vec<RacyFile>,
    /// The compressed blob, positioned at its start.
    pub blob: File,
    cache: LayerCache,
    key: CacheKey,
}

/// An exclusive lock on the cache directory, released when dropped.
pub(crate) struct Lock(#[allow(dead_code)] File);

impl LayerCache {
    /// Open the cache at `dir` (`<cache-dir>/layers`), creating it (mode 0700: blobs hold
    /// the contents of built contexts) if needed, bounded to `max_size` bytes of blobs.
    pub fn open(dir: &Path, max_size: u64) -> Result<LayerCache> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating the layer cache '{}'", dir.display()))?;
        let entries = dir.join("entries");
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&entries)
            .with_context(|| format!("creating '{}'", entries.display()))?;
        let blobs = BlobStore::create(dir)?;
        for sub in [entries.clone(), dir.join("blobs"), dir.join("blobs/sha256")] {
            let meta = fs::symlink_metadata(&sub)
                .with_context(|| format!("reading '{}'", sub.display()))?;
            if !meta.is_dir() {
                bail!(
                    "'{}' is not a directory (a symbolic link?); remove it to use the layer cache",
                    sub.display()
                );
            }
        }
        Ok(LayerCache {
            dir: dir.to_path_buf(),
            entries,
            blobs,
            max_size,
        })
    }

    /// The cache's directory (`<cache-dir>/layers`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The bound on the blobs' total size that commits evict down to.
    pub fn max_size(&self) -> u64 {
        self.max_size
    }

    /// Look `key` up. A hit is marked used. A missing, damaged or unparseable record, or one
    /// whose blob is missing or of the wrong size, is a miss (and the record is removed).
    /// `Err` only when the cache cannot be read at all (permissions, I/O): a caller should
    /// warn and build without the cache.
    pub fn get(&self, key: &CacheKey) -> Result<Option<Hit>> {
        let path = entry::path(&self.entries, key);
        let (record, e) = match entry::read(&path, key) {
            Ok(found) => found,
            Err(entry::ReadError::Missing) => return Ok(None),
            Err(entry::ReadError::Garbage) => {
                let _ = entry::remove(&path);
                return Ok(None);
            }
            Err(entry::ReadError::Io(err)) => {
                return Err(anyhow::Error::new(err)
                    .context(format!("reading cache entry '{}'", path.display())));
            }
        };
        let blob = match self.blobs.open_existing(&e.layer.digest) {
            Ok(Some(f)) if f.metadata().is_ok_and(|m| m.len() == e.layer.size) => f,
            _ => {
                let _ = entry::remove(&path);
                return Ok(None);
            }
        };
        // Least recently used: the record's mtime is its last use. A cache shared with
        // another user may refuse; the entry then just ages.
        let _ = record.set_modified(SystemTime::now());
        Ok(Some(Hit {
            layer: e.layer,
            racy: e.racy,
            blob,
            cache: self.clone(),
            key: key.clone(),
        }))
    }

    /// Start storing a layer: write its compressed bytes into the [`Pending`], then
    /// [`Pending::commit`] it under its key.
    pub fn begin(&self) -> Result<Pending> {
        Pending::new(self.clone(), self.blobs.temp()?)
    }

    /// Take the cache's lock (blocking until other commits and evictions are done).
    pub(crate) fn lock(&self) -> Result<Lock> {
        let path = self.dir.join("lock");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(&path)
            .with_context(|| format!("opening '{}'", path.display()))?;
        loop {
            // SAFETY: flock on a file descriptor we own; no memory is involved.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
                return Ok(Lock(file));
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(
                    anyhow::Error::new(err).context(format!("locking '{}'", path.display()))
                );
            }
        }
    }

    /// Remove the record of `key`, and the blob too when `blob` is still the file under the
    /// blob's name (it is damaged); under the lock, so a blob a concurrent commit just put in
    /// place is never removed.
    fn discard(&self, key: &CacheKey, layer: &LayerDescriptor, blob: Option<&File>) -> Result<()> {
        let _lock = self.lock()?;
        entry::remove(&entry::path(&self.entries, key))
            .with_context(|| format!("removing cache entry {key}"))?;
        if let Some(f) = blob {
            let path = self.blobs.blob_path(&layer.digest);
            let ours = f.metadata()?;
            let same = fs::symlink_metadata(&path)
                .is_ok_and(|there| (there.dev(), there.ino()) == (ours.dev(), ours.ino()));
            if same {
                entry::remove(&path).with_context(|| format!("removing '{}'", path.display()))?;
            }
        }
        Ok(())
    }
}

impl Hit {
    /// Read the blob to its end and check its sha256 and size against the layer's, then
    /// rewind it. On a mismatch the entry and the damaged blob are removed and the result is
    /// `false`: build the layer instead. `Err` when the blob cannot be read (I/O) or `cancel`
    /// is set ([`Interrupted`](crate::error::Interrupted)).
    pub fn verify(&mut self, cancel: &Cancel) -> Result<bool> {
        self.blob
            .seek(SeekFrom::Start(0))
            .context("reading a cached blob")?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut total: u64 = 0;
        let mut reader = (&self.blob).take(self.layer.size.saturating_add(1));
        loop {
            cancel.check()?;
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(anyhow::Error::new(e)
                        .context(format!("reading cached blob {}", self.layer.digest)));
                }
            };
            hasher.update(&buf[..n]);
            total += n as u64;
        }
        self.blob
            .seek(SeekFrom::Start(0))
            .context("reading a cached blob")?;
        let ok = total == self.layer.size && Sha256Sum::from_hasher(hasher) == self.layer.digest;
        if !ok {
            // Best effort: if it cannot be removed now, the next lookup fails again and a
            // commit of the rebuilt layer replaces it.
            let _ = self.cache.discard(&self.key, &self.layer, Some(&self.blob));
        }
        Ok(ok)
    }

    /// Drop the entry: a racy file's content no longer matches, so it can never hit again
    /// (a commit of the rebuilt layer under the same key replaces it anyway).
    pub fn discard(self) -> Result<()> {
        self.cache.discard(&self.key, &self.layer, None)
    }

    /// The key this hit was found under.
    pub fn key(&self) -> &CacheKey {
        &self.key
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod store_tests;
