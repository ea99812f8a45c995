//! The cache key of a layer: a sha256 over everything the layer's bytes depend on, and the
//! racy-timestamp rule that says which files' fingerprints cannot be trusted alone.

use std::time::{Duration, SystemTime};

use sha2::{Digest as _, Sha256};

use crate::compress::Compression;
use crate::context::ContextEntry;
use crate::digest::Sha256Sum;

/// The version of imgbuild's layer format: raise it whenever the bytes of a layer built from
/// the same entries could change (header encoding, entry order, synthetic entries, the
/// compressor's framing), so that no older cache entry is ever reused for it.
pub const LAYER_FORMAT_VERSION: u32 = 1;

/// The bound on timestamp granularity used by [`is_racy`]: 3 seconds.
///
/// A file whose timestamps lie within this bound of the build's start may have been modified
/// after it was read without any timestamp changing. The bound must exceed how far a
/// timestamp written *after* the read can lie *before* it: the filesystem's granularity
/// (FAT truncates mtimes to 2 s; ext3 with small inodes, HFS+ and some network filesystems
/// keep whole seconds) plus the kernel's coarse clock, which stamps inodes up to a tick
/// (1-10 ms) behind the time `SystemTime::now` reads. 2 s would be exactly FAT's
/// granularity with no room for the tick, so the bound is 3 s. Racy files are re-read on
/// every lookup, so a larger bound only costs re-hashing files changed in the last seconds
/// before a build. It cannot cover a network filesystem whose server clock runs behind the
/// client's by more than that.
pub const RACY_GRANULARITY: Duration = Duration::from_secs(3);

/// Domain separation: a key can never collide with a hash of anything else.
const KEY_DOMAIN: &[u8] = b"imgbuild layer cache key\0";

/// The key of a cache entry: 64 lowercase hex characters (`Display` shows them).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey(Sha256Sum);

impl CacheKey {
    /// From 64 lowercase hex characters (an entry's file name); None for anything else.
    pub fn from_hex(hex: &str) -> Option<CacheKey> {
        Sha256Sum::from_hex(hex).map(CacheKey)
    }

    /// The 64 lowercase hex characters.
    pub fn hex(&self) -> &str {
        self.0.hex()
    }
}

impl std::fmt::Display for CacheKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.hex())
    }
}

/// Builds a [`CacheKey`]: the compression, then every tar header of the layer in order, and
/// the fingerprint of every regular file. Each item is tagged and length-prefixed, so no two
/// different sequences of items hash the same bytes.
#[derive(Clone)]
pub struct KeyBuilder {
    hasher: Sha256,
}

impl std::fmt::Debug for KeyBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyBuilder").finish_non_exhaustive()
    }
}

impl KeyBuilder {
    /// Start a key for a layer compressed with `compression`: its algorithm, level and media
    /// type, [`LAYER_FORMAT_VERSION`] and imgbuild's version go in first.
    pub fn new(compression: &Compression) -> KeyBuilder {
        let mut k = KeyBuilder {
            hasher: Sha256::new_with_prefix(KEY_DOMAIN),
        };
        k.hasher.update(LAYER_FORMAT_VERSION.to_le_bytes());
        k.field(b'V', env!("CARGO_PKG_VERSION").as_bytes());
        k.field(b'C', compression.name().as_bytes());
        k.hasher.update(compression.level.to_le_bytes());
        k.field(b'M', compression.media_type().to_string().as_bytes());
        k
    }

    fn field(&mut self, tag: u8, bytes: &[u8]) {
        self.hasher.update([tag]);
        self.hasher.update((bytes.len() as u64).to_le_bytes());
        self.hasher.update(bytes);
    }

    /// Add the exact tar header bytes of one entry (PAX records included), for every entry
    /// of the layer in order, synthetic ones too. They carry the path after `--prefix`, the
    /// type, the mode after `--normalize-modes`, the owner after `--chown`, the clamped mtime,
    /// the size and the link target.
    pub fn add_header(&mut self, tar_header_bytes: &[u8]) {
        self.field(b'H', tar_header_bytes);
    }

    /// Add the content fingerprint of a regular file: its path, device, inode, size, mtime
    /// and ctime (seconds and nanoseconds). Files that [`is_racy`] also need their content
    /// hash recorded ([`RacyFile`](super::RacyFile)).
    pub fn add_fingerprint(&mut self, entry: &ContextEntry) {
        self.field(b'F', &entry.rel_path);
        for n in [entry.dev, entry.ino, entry.size] {
            self.hasher.update(n.to_le_bytes());
        }
        for n in [entry.mtime, entry.mtime_nsec, entry.ctime, entry.ctime_nsec] {
            self.hasher.update(n.to_le_bytes());
        }
    }

    /// The key.
    pub fn finish(self) -> CacheKey {
        CacheKey(Sha256Sum::from_hasher(self.hasher))
    }
}

/// Whether a file's fingerprint cannot vouch for its content (git's racy-timestamp rule):
/// its mtime or its ctime is not strictly older than `build_start` minus
/// [`RACY_GRANULARITY`]. `build_start` must be taken before the walk.
///
/// Why that suffices: the layer reads the file after `build_start`. A write after that read
/// sets the ctime (and normally the mtime) to the clock at that moment, which is at least
/// `build_start - RACY_GRANULARITY` however coarse the clock or the filesystem's timestamps.
/// If the file's fingerprint is unchanged afterwards, its ctime was already that recent when
/// it was read, so it was racy. A file that is not racy cannot change without changing its
/// fingerprint (a file put back with `touch -d` still gets a new ctime; a file replaced by
/// another gets a new inode).
pub fn is_racy(entry: &ContextEntry, build_start: SystemTime) -> bool {
    let bound = match build_start.checked_sub(RACY_GRANULARITY) {
        Some(b) => b,
        None => return true,
    };
    let (bound_s, bound_ns) = match bound.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => (
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            i64::from(d.subsec_nanos()),
        ),
        // A build start before 1970: nothing can be shown to be older.
        Err(_) => return true,
    };
    let older = |s: i64, ns: i64| (s, ns) < (bound_s, bound_ns);
    !(older(entry.mtime, entry.mtime_nsec) && older(entry.ctime, entry.ctime_nsec))
}
