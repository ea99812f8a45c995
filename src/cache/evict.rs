//! Keeping the cache bounded: least-recently-used eviction after each commit, and what
//! `imgbuild cache info` and `imgbuild cache prune` report and do.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, Result};

use super::key::CacheKey;
use super::{LayerCache, entry};
use crate::store::TEMP_PREFIX;

/// Temporary files older than this are left over from a killed process and removed.
const STALE_TEMP: Duration = Duration::from_secs(24 * 3600);

/// The state of a cache (`imgbuild cache info`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheInfo {
    /// The cache's directory.
    pub dir: PathBuf,
    /// Usable entries (cached layers).
    pub entries: u64,
    /// Blob files.
    pub blobs: u64,
    /// Their total size in bytes.
    pub total_bytes: u64,
    /// The bound the cache was opened with.
    pub max_size: u64,
    /// The last use of the least recently used entry.
    pub oldest_use: Option<SystemTime>,
    /// The last use of the most recently used entry.
    pub newest_use: Option<SystemTime>,
}

/// What `imgbuild cache prune` removes, besides what is garbage (damaged records, blobs no
/// record names, temporary files left by killed processes), which it always removes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneOptions {
    /// Remove every entry and blob.
    pub all: bool,
    /// Evict least recently used entries until the blobs total at most this many bytes.
    pub max_size: Option<u64>,
    /// Remove entries not used for this long.
    pub older_than: Option<Duration>,
}

/// What a prune (or an eviction) removed and what is left.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Entries removed.
    pub removed_entries: u64,
    /// Blob files removed.
    pub removed_blobs: u64,
    /// Bytes of blobs removed.
    pub freed_bytes: u64,
    /// Entries left.
    pub entries: u64,
    /// Blob files left.
    pub blobs: u64,
    /// Bytes of blobs left.
    pub total_bytes: u64,
}

/// What to remove, resolved to instants.
#[derive(Debug, Clone)]
pub(super) struct Plan {
    all: bool,
    max_size: Option<u64>,
    unused_since: Option<SystemTime>,
}

impl Plan {
    /// Evict down to `max_size`.
    pub(super) fn bound(max_size: u64) -> Plan {
        Plan {
            all: false,
            max_size: Some(max_size),
            unused_since: None,
        }
    }
}

struct Found {
    key: CacheKey,
    path: PathBuf,
    last_use: SystemTime,
    blob: String,
}

#[derive(Default)]
struct Scan {
    entries: Vec<Found>,
    /// Blob hex name → size.
    blobs: BTreeMap<String, u64>,
}

fn mtime(meta: &fs::Metadata) -> SystemTime {
    meta.modified().unwrap_or(SystemTime::UNIX_EPOCH)
}

fn is_stale_temp(name: &str, meta: &fs::Metadata, now: SystemTime) -> bool {
    name.starts_with(TEMP_PREFIX)
        && now
            .duration_since(mtime(meta))
            .is_ok_and(|age| age > STALE_TEMP)
}

fn read_dir(dir: &Path) -> Result<Vec<(String, fs::Metadata)>> {
    let mut out = Vec::new();
    let iter = match fs::read_dir(dir) {
        Ok(i) => i,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(anyhow::Error::new(e).context(format!("reading '{}'", dir.display()))),
    };
    for item in iter {
        let item = item.with_context(|| format!("reading '{}'", dir.display()))?;
        // Not following links: the metadata of the name itself.
        let meta = match item.metadata() {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(
                    anyhow::Error::new(e).context(format!("reading '{}'", item.path().display()))
                );
            }
        };
        // Names that are not UTF-8 are not ours; they are left alone.
        if let Ok(name) = item.file_name().into_string() {
            out.push((name, meta));
        }
    }
    Ok(out)
}

/// Read the cache's directories. With `fix`, remove what is garbage on the way: records
/// that cannot be used, links or other non-files under a blob's name, stale temporaries.
fn scan(cache: &LayerCache, fix: bool, now: SystemTime) -> Result<Scan> {
    let mut scan = Scan::default();
    for (name, meta) in read_dir(&cache.entries)? {
        let path = cache.entries.join(&name);
        let Some(key) = entry::key_of_name(name.as_ref()) else {
            if fix && is_stale_temp(&name, &meta, now) {
                entry::remove(&path).with_context(|| format!("removing '{}'", path.display()))?;
            }
            continue;
        };
        match entry::read(&path, &key) {
            Ok((_, e)) => scan.entries.push(Found {
                key,
                path,
                last_use: mtime(&meta),
                blob: e.layer.digest.hex().to_owned(),
            }),
            Err(entry::ReadError::Missing) => {}
            Err(entry::ReadError::Garbage) if !meta.is_dir() => {
                if fix {
                    entry::remove(&path)
                        .with_context(|| format!("removing '{}'", path.display()))?;
                }
            }
            Err(entry::ReadError::Garbage) => {}
            Err(entry::ReadError::Io(e)) => {
                return Err(anyhow::Error::new(e).context(format!("reading '{}'", path.display())));
            }
        }
    }
    let blob_dir = cache.dir.join("blobs").join("sha256");
    for (name, meta) in read_dir(&blob_dir)? {
        let path = blob_dir.join(&name);
        if crate::digest::Sha256Sum::from_hex(&name).is_none() {
            if fix && is_stale_temp(&name, &meta, now) {
                entry::remove(&path).with_context(|| format!("removing '{}'", path.display()))?;
            }
        } else if meta.is_file() {
            scan.blobs.insert(name, meta.len());
        } else if fix && !meta.is_dir() {
            entry::remove(&path).with_context(|| format!("removing '{}'", path.display()))?;
        }
    }
    Ok(scan)
}

/// The cache's state, read without changing anything.
pub(super) fn info(cache: &LayerCache) -> Result<CacheInfo> {
    let scan = scan(cache, false, SystemTime::now())?;
    Ok(CacheInfo {
        dir: cache.dir.clone(),
        entries: scan.entries.len() as u64,
        blobs: scan.blobs.len() as u64,
        total_bytes: scan.blobs.values().sum(),
        max_size: cache.max_size,
        oldest_use: scan.entries.iter().map(|f| f.last_use).min(),
        newest_use: scan.entries.iter().map(|f| f.last_use).max(),
    })
}

/// Remove what `plan` says, with the cache's lock held by the caller: garbage first, then
/// entries unused since `unused_since` (or all), then least recently used entries until the
/// blobs fit in `max_size`. A record goes before its blob, and a blob only once no record
/// left names it; blobs that no record names are removed.
pub(super) fn evict_locked(cache: &LayerCache, plan: &Plan) -> Result<PruneReport> {
    let now = SystemTime::now();
    let mut scan = scan(cache, true, now)?;
    let mut report = PruneReport::default();
    let mut refs: BTreeMap<String, u64> = BTreeMap::new();
    // Records whose blob is gone are misses anyway.
    let mut live = Vec::new();
    for f in scan.entries.drain(..) {
        if scan.blobs.contains_key(&f.blob) {
            *refs.entry(f.blob.clone()).or_default() += 1;
            live.push(f);
        } else {
            remove_entry(&f, &mut report)?;
        }
    }
    let orphans: Vec<String> = scan
        .blobs
        .keys()
        .filter(|b| !refs.contains_key(*b))
        .cloned()
        .collect();
    for hex in orphans {
        remove_blob(cache, &hex, &mut scan.blobs, &mut report)?;
    }
    // Oldest first; equal times in key order, so the result does not depend on the listing.
    live.sort_by(|a, b| {
        a.last_use
            .cmp(&b.last_use)
            .then_with(|| a.key.hex().cmp(b.key.hex()))
    });
    let mut total: u64 = scan.blobs.values().sum();
    let mut kept = Vec::new();
    for f in live {
        let unused = plan.unused_since.is_some_and(|t| f.last_use < t);
        let over = plan.max_size.is_some_and(|m| total > m);
        if !(plan.all || unused || over) {
            kept.push(f);
            continue;
        }
        remove_entry(&f, &mut report)?;
        let n = refs.get_mut(&f.blob).map(|n| {
            *n -= 1;
            *n
        });
        if n == Some(0) {
            total -= scan.blobs.get(&f.blob).copied().unwrap_or(0);
            remove_blob(cache, &f.blob, &mut scan.blobs, &mut report)?;
        }
    }
    report.entries = kept.len() as u64;
    report.blobs = scan.blobs.len() as u64;
    report.total_bytes = scan.blobs.values().sum();
    Ok(report)
}

fn remove_entry(f: &Found, report: &mut PruneReport) -> Result<()> {
    entry::remove(&f.path).with_context(|| format!("removing cache entry {}", f.key))?;
    report.removed_entries += 1;
    Ok(())
}

fn remove_blob(
    cache: &LayerCache,
    hex: &str,
    blobs: &mut BTreeMap<String, u64>,
    report: &mut PruneReport,
) -> Result<()> {
    let Some(digest) = crate::digest::Sha256Sum::from_hex(hex) else {
        return Ok(());
    };
    let path = cache.blobs.blob_path(&digest);
    entry::remove(&path).with_context(|| format!("removing '{}'", path.display()))?;
    if let Some(size) = blobs.remove(hex) {
        report.removed_blobs += 1;
        report.freed_bytes += size;
    }
    Ok(())
}

impl LayerCache {
    /// How many entries and blobs the cache holds, their size, and when entries were used.
    pub fn info(&self) -> Result<CacheInfo> {
        info(self)
    }

    /// Remove what `opts` says and everything that is garbage, holding the lock (so it is
    /// safe while builds use the cache).
    pub fn prune(&self, opts: PruneOptions) -> Result<PruneReport> {
        let now = SystemTime::now();
        let plan = Plan {
            all: opts.all,
            max_size: opts.max_size,
            unused_since: opts.older_than.and_then(|d| now.checked_sub(d)),
        };
        let _lock = self.lock()?;
        evict_locked(self, &plan)
    }
}
