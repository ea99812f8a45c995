//! Decoding one tar header block and its extended records, with every bound of the parser:
//! checksum, entry type, numeric fields, PAX records and name rules.

use std::io;

use anyhow::Result;
use tar::EntryType;

use super::{BLOCK, Kind, MAX_COMPONENT, MAX_PATH, TarEntry};
use crate::error::{escape_bytes, invalid};

pub(super) fn padding(size: u64) -> u64 {
    (BLOCK - size % BLOCK) % BLOCK
}

pub(super) fn trim_nul(mut v: Vec<u8>) -> Vec<u8> {
    while v.last() == Some(&0) {
        v.pop();
    }
    v
}

pub(super) fn check_checksum(h: &tar::Header) -> Result<()> {
    let bytes = h.as_bytes();
    let unsigned: u32 = bytes[..148]
        .iter()
        .chain(&bytes[156..])
        .map(|&b| u32::from(b))
        .sum::<u32>()
        + 8 * u32::from(b' ');
    let signed: i64 = bytes[..148]
        .iter()
        .chain(&bytes[156..])
        .map(|&b| i64::from(b as i8))
        .sum::<i64>()
        + 8 * i64::from(b' ');
    let stored = h
        .cksum()
        .map_err(|_| invalid("not a tar stream (a header's checksum field is not a number)"))?;
    if stored == unsigned || i64::from(stored) == signed {
        Ok(())
    } else {
        Err(invalid(
            "not a tar stream (a header checksum does not match)",
        ))
    }
}

pub(super) fn decode(
    h: &tar::Header,
    size: u64,
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
) -> Result<TarEntry> {
    let path = long_name.unwrap_or_else(|| h.path_bytes().into_owned());
    let shown = || escape_bytes(&path);
    let kind = match h.entry_type() {
        EntryType::Regular | EntryType::Continuous if path.ends_with(b"/") => Kind::Dir,
        EntryType::Regular | EntryType::Continuous => Kind::File,
        EntryType::Directory => Kind::Dir,
        EntryType::Symlink => Kind::Symlink,
        EntryType::Link => Kind::HardLink,
        EntryType::Char => Kind::Char,
        EntryType::Block => Kind::Block,
        EntryType::Fifo => Kind::Fifo,
        EntryType::GNUSparse => {
            return Err(invalid(format!(
                "tar entry '{}' is a sparse file, which imgbuild does not read",
                shown()
            )));
        }
        other => {
            return Err(invalid(format!(
                "tar entry '{}' has the unsupported type '{}'",
                shown(),
                escape_bytes(&[other.as_byte()])
            )));
        }
    };
    let field = |name: &str, r: io::Result<u64>| {
        r.map_err(|e| invalid(format!("tar entry '{}': bad {name} field: {e}", shown())))
    };
    let mode = h
        .mode()
        .map_err(|e| invalid(format!("tar entry '{}': bad mode field: {e}", shown())))?;
    let uid = field("uid", h.uid())?;
    let gid = field("gid", h.gid())?;
    let mtime = field("mtime", h.mtime())?;
    let link = match kind {
        Kind::Symlink | Kind::HardLink => Some(
            long_link
                .or_else(|| h.link_name_bytes().map(|l| l.into_owned()))
                .unwrap_or_default(),
        ),
        _ => None,
    };
    let dev = match kind {
        Kind::Char | Kind::Block => {
            let major = h.device_major().ok().flatten().unwrap_or(0);
            let minor = h.device_minor().ok().flatten().unwrap_or(0);
            (major, minor)
        }
        _ => (0, 0),
    };
    Ok(TarEntry {
        path,
        kind,
        link,
        size,
        mode: mode & 0o7777,
        uid,
        gid,
        mtime: i64::try_from(mtime).unwrap_or(i64::MAX),
        dev,
    })
}

pub(super) fn apply_pax(entry: &mut TarEntry, stream_size: &mut u64, records: &[u8]) -> Result<()> {
    for rec in tar::PaxExtensions::new(records) {
        let rec = rec.map_err(|e| invalid(format!("a PAX header is malformed: {e}")))?;
        let key = rec
            .key()
            .map_err(|_| invalid("a PAX header has a key that is not UTF-8"))?;
        let value = rec.value_bytes();
        let number = || -> Result<i64> {
            let text = std::str::from_utf8(value).unwrap_or("");
            let int = text.split('.').next().unwrap_or("");
            int.parse::<i64>().map_err(|_| {
                invalid(format!(
                    "PAX record {key}={} is not a number",
                    escape_bytes(value)
                ))
            })
        };
        match key {
            "path" => entry.path = value.to_vec(),
            "linkpath" if entry.link.is_some() => entry.link = Some(value.to_vec()),
            "size" => {
                let n = number()?;
                let n = u64::try_from(n).map_err(|_| invalid("PAX record size is negative"))?;
                *stream_size = n;
                entry.size = n;
            }
            "uid" => entry.uid = u64::try_from(number()?).unwrap_or(0),
            "gid" => entry.gid = u64::try_from(number()?).unwrap_or(0),
            "mtime" => entry.mtime = number()?,
            k if k.starts_with("GNU.sparse.") => {
                return Err(invalid(format!(
                    "tar entry '{}' is a sparse file, which imgbuild does not read",
                    escape_bytes(&entry.path)
                )));
            }
            _ => {}
        }
    }
    if entry.kind == Kind::File && entry.path.ends_with(b"/") {
        entry.kind = Kind::Dir;
    }
    Ok(())
}

pub(super) fn check_names(e: &TarEntry) -> Result<()> {
    let check = |what: &str, bytes: &[u8]| -> Result<()> {
        if bytes.len() > MAX_PATH {
            return Err(invalid(format!(
                "tar entry {what} '{}…' is longer than {MAX_PATH} bytes",
                escape_bytes(&bytes[..64])
            )));
        }
        if bytes.contains(&0) {
            return Err(invalid(format!(
                "tar entry {what} '{}' contains a NUL byte",
                escape_bytes(bytes)
            )));
        }
        if let Some(c) = bytes
            .split(|&b| b == b'/')
            .find(|c| c.len() > MAX_COMPONENT)
        {
            return Err(invalid(format!(
                "tar entry {what} has a component '{}…' longer than {MAX_COMPONENT} bytes",
                escape_bytes(&c[..32])
            )));
        }
        Ok(())
    };
    if e.path.is_empty() {
        return Err(invalid("a tar entry has an empty name"));
    }
    check("name", &e.path)?;
    if let Some(l) = &e.link {
        if l.is_empty() {
            return Err(invalid(format!(
                "link '{}' has an empty target",
                escape_bytes(&e.path)
            )));
        }
        check("link target", l)?;
    }
    Ok(())
}
