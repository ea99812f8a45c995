//! The tar parser against well-formed, bounded, mutated and truncated streams.

use super::*;
use crate::layer::header::{RawEntry, encode};

/// A tar built from raw entries (content given for files), with end blocks.
pub fn tar_of(entries: &[(RawEntry<'_>, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (e, data) in entries {
        encode(e, &mut out).unwrap();
        out.extend_from_slice(data);
        out.resize(out.len() + padding(data.len() as u64) as usize, 0);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

pub fn raw<'a>(path: &'a [u8], ty: EntryType, link: Option<&'a [u8]>, size: u64) -> RawEntry<'a> {
    RawEntry {
        path,
        is_dir: ty == EntryType::Directory,
        ty,
        link,
        size,
        mode: if ty == EntryType::Directory {
            0o755
        } else {
            0o644
        },
        mtime: 1_700_000_000,
        owner: (0, 0),
    }
}

fn all(bytes: &[u8]) -> Result<Vec<(TarEntry, Vec<u8>)>> {
    let mut s = TarStream::new(bytes);
    let mut out = Vec::new();
    while let Some(e) = s.next_entry()? {
        let mut content = Vec::new();
        let mut buf = [0u8; 7];
        loop {
            let n = s.read_content(&mut buf)?;
            if n == 0 {
                break;
            }
            content.extend_from_slice(&buf[..n]);
        }
        out.push((e, content));
    }
    Ok(out)
}

#[test]
fn reads_kinds_content_and_long_names() {
    let long = format!("{}/{}", "d".repeat(200), "é".repeat(100));
    let bytes = tar_of(&[
        (raw(b"dir", EntryType::Directory, None, 0), b""),
        (raw(b"dir/f", EntryType::Regular, None, 5), b"hello"),
        (raw(b"l", EntryType::Symlink, Some(b"dir/f"), 0), b""),
        (raw(b"h", EntryType::Link, Some(b"dir/f"), 0), b""),
        (raw(long.as_bytes(), EntryType::Regular, None, 1), b"x"),
    ]);
    let got = all(&bytes).unwrap();
    let kinds: Vec<Kind> = got.iter().map(|(e, _)| e.kind).collect();
    assert_eq!(
        kinds,
        [
            Kind::Dir,
            Kind::File,
            Kind::Symlink,
            Kind::HardLink,
            Kind::File
        ]
    );
    assert_eq!(got[0].0.path, b"dir/");
    assert_eq!(got[1].1, b"hello");
    assert_eq!(got[2].0.link.as_deref(), Some(&b"dir/f"[..]));
    assert_eq!(got[4].0.path, long.as_bytes());
    assert_eq!(got[4].1, b"x");
    assert_eq!(got[1].0.mtime, 1_700_000_000);
}

#[test]
fn skipping_content_keeps_the_framing() {
    let bytes = tar_of(&[
        (raw(b"a", EntryType::Regular, None, 600), &[7u8; 600][..]),
        (raw(b"b", EntryType::Regular, None, 1), b"z"),
    ]);
    let mut s = TarStream::new(&bytes[..]);
    assert_eq!(s.next_entry().unwrap().unwrap().path, b"a");
    assert_eq!(s.next_entry().unwrap().unwrap().path, b"b");
    assert!(s.next_entry().unwrap().is_none());
    assert_eq!(s.count(), 2);
}

fn pax_tar(records: &[u8], declared: Option<u64>) -> Vec<u8> {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(EntryType::XHeader);
    h.set_size(declared.unwrap_or(records.len() as u64));
    h.set_mode(0o644);
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    out.extend_from_slice(records);
    out.resize(out.len() + padding(records.len() as u64) as usize, 0);
    out.extend(tar_of(&[(raw(b"x", EntryType::Regular, None, 0), b"")]));
    out
}

/// One PAX record, "<len> key=value\n" with <len> counting the whole record.
fn rec(key: &str, value: &str) -> String {
    let body = format!(" {key}={value}\n");
    let mut len = body.len() + 1;
    while (len.to_string().len() + body.len()) != len {
        len += 1;
    }
    format!("{len}{body}")
}

#[test]
fn bounds_are_enforced() {
    // A PAX header declaring more than 1 MiB is refused before anything is allocated.
    let e = all(&pax_tar(b"", Some(u64::MAX / 2))).unwrap_err();
    assert!(e.to_string().contains("larger than"), "{e}");
    let path = rec("path", &"p".repeat(4100));
    let e = all(&pax_tar(path.as_bytes(), None)).unwrap_err();
    assert!(e.to_string().contains("longer than 4096"), "{e}");
    let comp = rec("path", &format!("a/{}", "c".repeat(256)));
    let e = all(&pax_tar(comp.as_bytes(), None)).unwrap_err();
    assert!(e.to_string().contains("longer than 255"), "{e}");
    let sparse = rec("GNU.sparse.major", "1");
    let e = all(&pax_tar(sparse.as_bytes(), None)).unwrap_err();
    assert!(e.to_string().contains("sparse"), "{e}");
    let nul = rec("path", "a\0b");
    let e = all(&pax_tar(nul.as_bytes(), None)).unwrap_err();
    assert!(e.to_string().contains("NUL"), "{e}");
}

#[test]
fn pax_records_override_the_header() {
    let recs = [
        rec("path", "renamed/x"),
        rec("mtime", "12345.678"),
        rec("uid", "42"),
    ]
    .concat();
    let got = all(&pax_tar(recs.as_bytes(), None)).unwrap();
    assert_eq!(got[0].0.path, b"renamed/x");
    assert_eq!(got[0].0.mtime, 12345);
    assert_eq!(got[0].0.uid, 42);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

    /// Mutated or cut tars (headers re-checksummed, so the mutations reach the fields)
    /// give entries or an error, never a panic.
    #[test]
    fn mutated_tars_never_panic(
        flips in proptest::collection::vec((0usize..3584, proptest::prelude::any::<u8>()), 0..6),
        cut in 0usize..4096,
    ) {
        let long = "l".repeat(150);
        let mut bytes = tar_of(&[
            (raw(long.as_bytes(), EntryType::Regular, None, 700), &[1u8; 700][..]),
            (raw(b"d", EntryType::Directory, None, 0), b""),
            (raw(b"s", EntryType::Symlink, Some(long.as_bytes()), 0), b""),
        ]);
        let headers: Vec<usize> = (0..bytes.len() / 512)
            .filter(|b| {
                let block = &bytes[b * 512..(b + 1) * 512];
                block[257..262] == *b"ustar"
            })
            .collect();
        for (i, v) in flips {
            if i < bytes.len() {
                bytes[i] = v;
                let block = i / 512;
                if headers.contains(&block) {
                    let mut h = tar::Header::new_old();
                    h.as_mut_bytes().copy_from_slice(&bytes[block * 512..(block + 1) * 512]);
                    h.set_cksum();
                    bytes[block * 512..(block + 1) * 512].copy_from_slice(h.as_bytes());
                }
            }
        }
        bytes.truncate(cut);
        let _ = all(&bytes);
    }
}

#[test]
fn garbage_truncation_and_bad_checksums_are_errors() {
    assert!(all(&[0x55u8; 1024]).is_err());
    let bytes = tar_of(&[(raw(b"a", EntryType::Regular, None, 600), &[7u8; 600][..])]);
    assert!(all(&bytes[..700]).is_err());
    assert!(all(&bytes[..300]).is_err());
    let mut bad = bytes.clone();
    bad[0] = b'b';
    let e = all(&bad).unwrap_err();
    assert!(e.to_string().contains("checksum"), "{e}");
    // No end blocks at all is accepted (some writers omit them).
    assert_eq!(all(&bytes[..1536]).unwrap().len(), 1);
    // An extended header with no entry after it is not.
    let mut only_pax = pax_tar(rec("uid", "42").as_bytes(), None);
    only_pax.truncate(1024);
    assert!(all(&only_pax).is_err());
}
