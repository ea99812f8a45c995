//! Tar headers built by hand from a `ContextEntry`: USTAR fields, plus a PAX extended header
//! when a name or link target is longer than the USTAR fields or not plain ASCII, or a number
//! does not fit its octal field. Owner 0:0 (or `--chown`), no user or group names, mtime
//! clamped, modes kept (setuid/setgid/sticky included) or normalised.

use anyhow::{Result, bail};
use tar::{EntryType, Header};

use crate::context::{ContextEntry, EntryKind};

const BLOCK: usize = 512;
/// Largest value an 8-byte octal USTAR field (uid, gid) holds.
const MAX_OCTAL_ID: u64 = 0o7_777_777;
/// Largest value the 12-byte octal size field holds.
const MAX_OCTAL_SIZE: u64 = 0o77_777_777_777;

/// Everything about the layer's headers that does not come from the file itself.
#[derive(Debug, Clone, Default)]
pub struct HeaderOptions {
    /// Path under which the context is placed, without leading or trailing `/`
    /// (`--prefix /app` gives `app`); empty for the root.
    pub prefix: Vec<u8>,
    /// `--chown UID:GID`; 0:0 otherwise.
    pub owner: (u64, u64),
    /// `--normalize-modes`: 0755 for directories and executables, 0644 for the rest.
    pub normalize_modes: bool,
    /// `SOURCE_DATE_EPOCH`: later mtimes are clamped to it.
    pub clamp_mtime: Option<i64>,
}

impl HeaderOptions {
    /// The path of a context entry inside the layer.
    pub fn layer_path(&self, rel: &[u8]) -> Vec<u8> {
        let mut p = Vec::with_capacity(self.prefix.len() + 1 + rel.len());
        p.extend_from_slice(&self.prefix);
        if !self.prefix.is_empty() && !rel.is_empty() {
            p.push(b'/');
        }
        p.extend_from_slice(rel);
        p
    }

    /// The header mtime for a file mtime: clamped to `clamp_mtime` if set, and never below 0.
    pub fn mtime(&self, mtime: i64) -> u64 {
        let t = match self.clamp_mtime {
            Some(max) => mtime.min(max),
            None => mtime,
        };
        t.max(0) as u64
    }

    /// The header mode: with `normalize_modes` 0755 for directories and executables, 0777 for symlinks, 0644 otherwise; else the permission bits as they are.
    pub fn mode(&self, kind: &EntryKind, mode: u32) -> u32 {
        if !self.normalize_modes {
            return mode & 0o7777;
        }
        match kind {
            EntryKind::Dir => 0o755,
            EntryKind::Symlink(_) => 0o777,
            _ if mode & 0o111 != 0 => 0o755,
            _ => 0o644,
        }
    }
}

/// The header block(s) for one context entry, appended to `out`.
pub fn encode_entry(entry: &ContextEntry, opts: &HeaderOptions, out: &mut Vec<u8>) -> Result<()> {
    let path = opts.layer_path(&entry.rel_path);
    let (ty, link, size) = match &entry.kind {
        EntryKind::File => (EntryType::Regular, None, entry.size),
        EntryKind::Dir => (EntryType::Directory, None, 0),
        EntryKind::Symlink(target) => (EntryType::Symlink, Some(target.clone()), 0),
        EntryKind::HardLink(target) => (EntryType::Link, Some(opts.layer_path(target)), 0),
    };
    let raw = RawEntry {
        path: &path,
        is_dir: ty == EntryType::Directory,
        ty,
        link: link.as_deref(),
        size,
        mode: opts.mode(&entry.kind, entry.mode),
        mtime: opts.mtime(entry.mtime),
        owner: opts.owner,
    };
    encode(&raw, out)
}

/// The header of a directory that is not in the context (the parents of `--prefix`).
pub fn encode_dir(
    path: &[u8],
    mode: u32,
    mtime: u64,
    owner: (u64, u64),
    out: &mut Vec<u8>,
) -> Result<()> {
    encode(
        &RawEntry {
            path,
            is_dir: true,
            ty: EntryType::Directory,
            link: None,
            size: 0,
            mode,
            mtime,
            owner,
        },
        out,
    )
}

/// A header's fields, before encoding.
#[derive(Debug, Clone)]
pub struct RawEntry<'a> {
    /// Path without the trailing `/` of directories (added here).
    pub path: &'a [u8],
    /// Whether the entry is a directory (its path gets a trailing `/`).
    pub is_dir: bool,
    /// The tar entry type.
    pub ty: EntryType,
    /// Symlink or hard-link target.
    pub link: Option<&'a [u8]>,
    /// Content size in bytes.
    pub size: u64,
    /// Permission bits.
    pub mode: u32,
    /// Modification time in seconds since the epoch.
    pub mtime: u64,
    /// Owner as (uid, gid).
    pub owner: (u64, u64),
}

/// Encode one entry's header (with a PAX header before it when needed) into `out`.
pub fn encode(e: &RawEntry<'_>, out: &mut Vec<u8>) -> Result<()> {
    let mut name = e.path.to_vec();
    if name.is_empty() {
        bail!("an entry with an empty path cannot be stored");
    }
    if e.is_dir {
        name.push(b'/');
    }
    let mut pax: Vec<(&str, Vec<u8>)> = Vec::new();
    if !fits_ustar(&name, 100) {
        pax.push(("path", name.clone()));
    }
    if let Some(link) = e.link
        && !fits_ustar(link, 100)
    {
        pax.push(("linkpath", link.to_vec()));
    }
    if e.size > MAX_OCTAL_SIZE {
        pax.push(("size", e.size.to_string().into_bytes()));
    }
    if e.owner.0 > MAX_OCTAL_ID {
        pax.push(("uid", e.owner.0.to_string().into_bytes()));
    }
    if e.owner.1 > MAX_OCTAL_ID {
        pax.push(("gid", e.owner.1.to_string().into_bytes()));
    }
    if !pax.is_empty() {
        let records = pax_records(&pax);
        let mut h = Header::new_ustar();
        set_name(&mut h, &pax_header_name(&name));
        h.set_entry_type(EntryType::XHeader);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(e.mtime);
        h.set_size(records.len() as u64);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(&records);
        pad(out, records.len() as u64);
    }
    let mut h = Header::new_ustar();
    set_name(&mut h, &truncate_ascii(&name, 100));
    if let Some(link) = e.link {
        let field = truncate_ascii(link, 100);
        h.as_old_mut().linkname[..field.len()].copy_from_slice(&field);
    }
    h.set_entry_type(e.ty);
    h.set_mode(e.mode);
    h.set_uid(e.owner.0.min(MAX_OCTAL_ID));
    h.set_gid(e.owner.1.min(MAX_OCTAL_ID));
    h.set_mtime(e.mtime);
    h.set_size(e.size.min(MAX_OCTAL_SIZE));
    h.set_cksum();
    out.extend_from_slice(h.as_bytes());
    Ok(())
}

/// Zero bytes that complete a data area of `len` bytes to a whole block.
pub fn padding(len: u64) -> usize {
    let rem = (len % BLOCK as u64) as usize;
    if rem == 0 { 0 } else { BLOCK - rem }
}

fn pad(out: &mut Vec<u8>, len: u64) {
    out.resize(out.len() + padding(len), 0);
}

/// Can these bytes go into a USTAR field of `max` bytes as they are?
fn fits_ustar(bytes: &[u8], max: usize) -> bool {
    bytes.len() <= max && bytes.iter().all(|&b| b.is_ascii() && b != 0)
}

/// A stand-in for readers that ignore PAX: at most `max` bytes, non-ASCII replaced by `_`.
fn truncate_ascii(bytes: &[u8], max: usize) -> Vec<u8> {
    bytes
        .iter()
        .take(max)
        .map(|&b| if b.is_ascii() && b != 0 { b } else { b'_' })
        .collect()
}

fn set_name(h: &mut Header, name: &[u8]) {
    let field = &mut h.as_old_mut().name;
    let n = name.len().min(field.len());
    field[..n].copy_from_slice(&name[..n]);
}

/// `PaxHeaders/<last component>`, deterministic and ASCII.
fn pax_header_name(name: &[u8]) -> Vec<u8> {
    let trimmed = name.strip_suffix(b"/").unwrap_or(name);
    let base = trimmed.rsplit(|&b| b == b'/').next().unwrap_or(trimmed);
    let mut out = b"PaxHeaders/".to_vec();
    out.extend(truncate_ascii(base, 100 - out.len()));
    out
}

/// PAX records: each is "<len> <key>=<value>\n" where <len> counts the whole record.
fn pax_records(records: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, value) in records {
        let body = key.len() + value.len() + 3; // ' ', '=', '\n'
        let mut len = body + 1;
        while len != body + len.to_string().len() {
            len = body + len.to_string().len();
        }
        out.extend_from_slice(len.to_string().as_bytes());
        out.push(b' ');
        out.extend_from_slice(key.as_bytes());
        out.push(b'=');
        out.extend_from_slice(value);
        out.push(b'\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn entry(path: &str, kind: EntryKind, mode: u32, size: u64) -> ContextEntry {
        ContextEntry {
            rel_path: path.as_bytes().to_vec(),
            kind,
            mode,
            size,
            mtime: 1_700_000_000,
            mtime_nsec: 0,
            ctime: 0,
            ctime_nsec: 0,
            dev: 1,
            ino: 1,
            nlink: 1,
        }
    }

    #[derive(Debug)]
    struct Got {
        path: String,
        ty: char,
        mode: u32,
        uid: u64,
        gid: u64,
        mtime: u64,
        size: u64,
        link: Option<String>,
        names: Vec<u8>,
    }

    /// Encode entries (with filler data) and read them back with the tar crate.
    fn roundtrip(entries: &[ContextEntry], opts: &HeaderOptions) -> Vec<Got> {
        let mut buf = Vec::new();
        for e in entries {
            encode_entry(e, opts, &mut buf).unwrap();
            if e.kind == EntryKind::File {
                buf.resize(buf.len() + e.size as usize, b'x');
                pad(&mut buf, e.size);
            }
        }
        buf.resize(buf.len() + 1024, 0);
        let mut ar = tar::Archive::new(&buf[..]);
        ar.entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let h = e.header().clone();
                let path = e.path().unwrap().to_string_lossy().into_owned();
                let link = e
                    .link_name()
                    .unwrap()
                    .map(|l| l.to_string_lossy().into_owned());
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                Got {
                    path,
                    ty: h.entry_type().as_byte() as char,
                    mode: h.mode().unwrap(),
                    uid: e.header().uid().unwrap().max(pax_num(&mut e, "uid")),
                    gid: h.gid().unwrap().max(pax_num(&mut e, "gid")),
                    mtime: h.mtime().unwrap(),
                    size: data.len() as u64,
                    link,
                    names: [
                        h.username_bytes().unwrap_or_default(),
                        h.groupname_bytes().unwrap_or_default(),
                    ]
                    .concat(),
                }
            })
            .collect()
    }

    /// A numeric PAX record of the entry, 0 when absent.
    fn pax_num<R: Read>(e: &mut tar::Entry<'_, R>, key: &str) -> u64 {
        let Ok(Some(exts)) = e.pax_extensions() else {
            return 0;
        };
        exts.filter_map(Result::ok)
            .find(|x| x.key() == Ok(key))
            .and_then(|x| x.value().ok().and_then(|v| v.parse().ok()))
            .unwrap_or(0)
    }

    #[test]
    fn kinds_modes_and_owner() {
        let entries = [
            entry("bin", EntryKind::Dir, 0o1777, 0),
            entry("bin/tool", EntryKind::File, 0o4755, 3),
            entry(
                "bin/link",
                EntryKind::Symlink(b"../etc/x".to_vec()),
                0o777,
                0,
            ),
            entry(
                "bin/hard",
                EntryKind::HardLink(b"bin/tool".to_vec()),
                0o4755,
                0,
            ),
        ];
        let got = roundtrip(&entries, &HeaderOptions::default());
        assert_eq!(got[0].path, "bin/");
        assert_eq!((got[0].ty, got[0].mode), ('5', 0o1777));
        assert_eq!((got[1].ty, got[1].mode, got[1].size), ('0', 0o4755, 3));
        assert_eq!((got[2].ty, got[2].link.as_deref()), ('2', Some("../etc/x")));
        assert_eq!((got[3].ty, got[3].link.as_deref()), ('1', Some("bin/tool")));
        for g in &got {
            assert_eq!((g.uid, g.gid), (0, 0));
            assert!(g.names.is_empty(), "no user or group names");
            assert_eq!(g.mtime, 1_700_000_000);
        }
    }

    #[test]
    fn prefix_chown_clamp_normalize() {
        let opts = HeaderOptions {
            prefix: b"app".to_vec(),
            owner: (1000, 10_000_000),
            normalize_modes: true,
            clamp_mtime: Some(100),
        };
        let entries = [
            entry("d", EntryKind::Dir, 0o700, 0),
            entry("d/x", EntryKind::File, 0o4711, 0),
            entry("d/y", EntryKind::File, 0o600, 0),
            entry("d/h", EntryKind::HardLink(b"d/x".to_vec()), 0o4711, 0),
        ];
        let got = roundtrip(&entries, &opts);
        assert_eq!(got[0].path, "app/d/");
        assert_eq!(got[0].mode, 0o755);
        assert_eq!(got[1].mode, 0o755);
        assert_eq!(got[2].mode, 0o644);
        assert_eq!(got[3].link.as_deref(), Some("app/d/x"));
        assert_eq!(got[1].uid, 1000);
        assert_eq!(got[1].gid, 10_000_000, "large gid carried by PAX");
        assert_eq!(got[1].mtime, 100, "mtime clamped");
    }

    #[test]
    fn long_and_unicode_names_use_pax() {
        let long = format!("{}/{}", "d".repeat(150), "f".repeat(120));
        let entries = [
            entry(&long, EntryKind::File, 0o644, 1),
            entry("données/é.txt", EntryKind::File, 0o644, 0),
            entry(
                "l",
                EntryKind::Symlink("ü".repeat(80).into_bytes()),
                0o777,
                0,
            ),
        ];
        let got = roundtrip(&entries, &HeaderOptions::default());
        assert_eq!(got[0].path, long);
        assert_eq!(got[0].size, 1);
        assert_eq!(got[1].path, "données/é.txt");
        assert_eq!(got[2].link.as_deref(), Some("ü".repeat(80).as_str()));
    }

    #[test]
    fn pax_record_lengths_count_themselves() {
        for n in [0usize, 1, 5, 90, 95, 96, 97, 990, 995, 1000] {
            let recs = pax_records(&[("path", vec![b'a'; n])]);
            let text = String::from_utf8(recs.clone()).unwrap();
            let (len, _) = text.split_once(' ').unwrap();
            assert_eq!(
                len.parse::<usize>().unwrap(),
                recs.len(),
                "value of {n} bytes"
            );
        }
    }

    #[test]
    fn negative_mtime_is_zero() {
        assert_eq!(HeaderOptions::default().mtime(-5), 0);
    }
}
