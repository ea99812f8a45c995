//! Entry records: `entries/<key>.json`, one small JSON document per cached layer, naming its
//! blob and the racy files whose contents must be re-checked. The cache directory is
//! untrusted input: records are size-capped, parsed strictly and validated, and opened
//! without following symbolic links or blocking on fifos.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use oci_spec::image::MediaType;
use serde::{Deserialize, Serialize};

use super::key::CacheKey;
use crate::digest::Sha256Sum;
use crate::layer::writer::LayerDescriptor;

/// Entry records larger than this are garbage (and never written).
pub const MAX_RECORD: u64 = 16 << 20;
/// The version of the record format.
const RECORD_VERSION: u32 = 1;
/// File-name suffix of entry records.
pub(super) const SUFFIX: &str = ".json";

/// A file of a cached layer whose timestamps were too recent to vouch for its content: a
/// hit holds only if the file still has this size and content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RacyFile {
    /// Path relative to the context root, as in [`ContextEntry::rel_path`](crate::context::ContextEntry::rel_path).
    pub rel_path: Vec<u8>,
    /// Its size in bytes.
    pub size: u64,
    /// sha256 of its content.
    pub content: Sha256Sum,
}

/// What an entry record holds once read and validated.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub layer: LayerDescriptor,
    pub racy: Vec<RacyFile>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    version: u32,
    key: String,
    media_type: String,
    digest: String,
    size: u64,
    diff_id: String,
    tar_size: u64,
    racy: Vec<RacyRecord>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RacyRecord {
    /// The path's bytes in lowercase hex (paths need not be UTF-8).
    path: String,
    size: u64,
    content: String,
}

/// The layer media types an entry may name.
fn layer_media_type(s: &str) -> Option<MediaType> {
    [
        MediaType::ImageLayerGzip,
        MediaType::ImageLayerZstd,
        MediaType::ImageLayer,
    ]
    .into_iter()
    .find(|m| m.to_string() == s)
}

fn digest(s: &str) -> Option<Sha256Sum> {
    Sha256Sum::from_hex(s.strip_prefix("sha256:")?)
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        s.push(char::from(b"0123456789abcdef"[usize::from(b & 0xf)]));
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let b = s.as_bytes();
    if b.len() % 2 != 0 {
        return None;
    }
    b.chunks(2)
        .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?))
        .collect()
}

/// The record's bytes for an entry.
pub(super) fn encode(key: &CacheKey, layer: &LayerDescriptor, racy: &[RacyFile]) -> Vec<u8> {
    let record = Record {
        version: RECORD_VERSION,
        key: key.hex().to_owned(),
        media_type: layer.media_type.to_string(),
        digest: layer.digest.prefixed(),
        size: layer.size,
        diff_id: layer.diff_id.prefixed(),
        tar_size: layer.tar_size,
        racy: racy
            .iter()
            .map(|r| RacyRecord {
                path: hex(&r.rel_path),
                size: r.size,
                content: r.content.prefixed(),
            })
            .collect(),
    };
    // Serializing plain strings and integers cannot fail.
    serde_json::to_vec(&record).unwrap_or_default()
}

/// Parse and validate a record found under `key`'s name; None for anything wrong.
pub(super) fn decode(key: &CacheKey, bytes: &[u8]) -> Option<Entry> {
    let r: Record = serde_json::from_slice(bytes).ok()?;
    if r.version != RECORD_VERSION || r.key != key.hex() {
        return None;
    }
    let layer = LayerDescriptor {
        media_type: layer_media_type(&r.media_type)?,
        digest: digest(&r.digest)?,
        size: r.size,
        diff_id: digest(&r.diff_id)?,
        tar_size: r.tar_size,
    };
    let racy = r
        .racy
        .iter()
        .map(|f| {
            Some(RacyFile {
                rel_path: unhex(&f.path).filter(|p| !p.is_empty())?,
                size: f.size,
                content: digest(&f.content)?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Entry { layer, racy })
}

/// Where the record of `key` lives in `entries`.
pub(super) fn path(entries: &Path, key: &CacheKey) -> PathBuf {
    entries.join(format!("{}{SUFFIX}", key.hex()))
}

/// The key an entry file name stands for; None for temporary files and strangers.
pub(super) fn key_of_name(name: &std::ffi::OsStr) -> Option<CacheKey> {
    CacheKey::from_hex(name.to_str()?.strip_suffix(SUFFIX)?)
}

/// Why a record could not be used.
pub(super) enum ReadError {
    /// There is none.
    Missing,
    /// Something is there, but not a usable record (remove it).
    Garbage,
    /// The cache could not be read.
    Io(io::Error),
}

/// Open and read a record without following a symbolic link or blocking on a fifo: the
/// open file (to mark it used) and the entry.
pub(super) fn read(path: &Path, key: &CacheKey) -> Result<(File, Entry), ReadError> {
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(ReadError::Missing),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Err(ReadError::Garbage),
        Err(e) => return Err(ReadError::Io(e)),
    };
    let meta = file.metadata().map_err(ReadError::Io)?;
    if !meta.is_file() || meta.len() > MAX_RECORD {
        return Err(ReadError::Garbage);
    }
    let mut bytes = Vec::new();
    (&file)
        .take(MAX_RECORD + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > MAX_RECORD {
        return Err(ReadError::Garbage);
    }
    match decode(key, &bytes) {
        Some(e) => Ok((file, e)),
        None => Err(ReadError::Garbage),
    }
}

/// Remove a path that is not a directory (a record, a blob, a stray link), ignoring one
/// that is already gone. Never follows a symbolic link: `unlink` removes the link itself.
pub(super) fn remove(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}
