//! Keys and the racy rule: every input changes the key, nothing else does; the scenarios
//! the issue names (a rewrite put back with `touch -d`, an inode swap, a change within the
//! same second) never give a wrong hit.

use std::collections::HashSet;
use std::fs;
use std::io::{Read as _, Write as _};
use std::path::Path;
use std::time::{Duration, SystemTime};

use oci_spec::image::MediaType;

use super::*;
use crate::compress::{Algorithm, Compression};
use crate::context::{ContextEntry, EntryKind, IgnoreOptions, walk};
use crate::layer::header::{HeaderOptions, encode_entry};

fn file(path: &str) -> ContextEntry {
    ContextEntry {
        rel_path: path.as_bytes().to_vec(),
        kind: EntryKind::File,
        mode: 0o644,
        size: 5,
        mtime: 1_600_000_000,
        mtime_nsec: 1,
        ctime: 1_600_000_000,
        ctime_nsec: 2,
        dev: 10,
        ino: 20,
        nlink: 1,
    }
}

fn gzip() -> Compression {
    Compression::new(Algorithm::Gzip, None).unwrap()
}

/// The key as the pipeline computes it: every header in order, fingerprints of files.
fn key_of(entries: &[ContextEntry], opts: &HeaderOptions, comp: &Compression) -> CacheKey {
    let mut k = KeyBuilder::new(comp);
    for e in entries {
        let mut h = Vec::new();
        encode_entry(e, opts, &mut h).unwrap();
        k.add_header(&h);
        if e.kind == EntryKind::File {
            k.add_fingerprint(e);
        }
    }
    k.finish()
}

#[test]
fn the_key_is_stable_and_hex() {
    let entries = [file("a"), file("b")];
    let a = key_of(&entries, &HeaderOptions::default(), &gzip());
    let b = key_of(&entries, &HeaderOptions::default(), &gzip());
    assert_eq!(a, b);
    assert_eq!(a.to_string().len(), 64);
    assert_eq!(CacheKey::from_hex(a.hex()), Some(a.clone()));
    assert_eq!(CacheKey::from_hex("ABC"), None);
}

#[test]
fn the_key_changes_with_every_input() {
    type Change = fn(&mut Vec<ContextEntry>, &mut HeaderOptions, &mut Compression);
    let changes: &[(&str, Change)] = &[
        ("nothing", |_, _, _| {}),
        ("mode", |e, _, _| e[0].mode = 0o600),
        ("size", |e, _, _| e[0].size = 6),
        ("mtime", |e, _, _| e[0].mtime += 1),
        ("mtime ns", |e, _, _| e[0].mtime_nsec += 1),
        ("ctime", |e, _, _| e[0].ctime += 1),
        ("ctime ns", |e, _, _| e[0].ctime_nsec += 1),
        ("dev", |e, _, _| e[0].dev += 1),
        ("ino", |e, _, _| e[0].ino += 1),
        ("path", |e, _, _| e[0].rel_path = b"c".to_vec()),
        ("a directory", |e, _, _| e[0].kind = EntryKind::Dir),
        ("a symlink", |e, _, _| {
            e[0].kind = EntryKind::Symlink(b"x".to_vec())
        }),
        ("another target", |e, _, _| {
            e[0].kind = EntryKind::Symlink(b"y".to_vec())
        }),
        ("a hard link", |e, _, _| {
            e[1].kind = EntryKind::HardLink(b"a".to_vec())
        }),
        ("order", |e, _, _| e.swap(0, 1)),
        ("one more entry", |e, _, _| e.push(file("d"))),
        ("one entry less", |e, _, _| drop(e.pop())),
        ("--chown uid", |_, o, _| o.owner = (1000, 0)),
        ("--chown gid", |_, o, _| o.owner = (0, 1000)),
        ("--prefix", |_, o, _| o.prefix = b"app".to_vec()),
        ("--normalize-modes", |e, o, _| {
            e[0].mode = 0o700;
            o.normalize_modes = true
        }),
        ("clamped mtime", |_, o, _| {
            o.clamp_mtime = Some(1_500_000_000)
        }),
        ("level", |_, _, c| {
            *c = Compression::new(Algorithm::Gzip, Some(9)).unwrap()
        }),
        ("zstd", |_, _, c| {
            *c = Compression::new(Algorithm::Zstd, None).unwrap()
        }),
        ("none", |_, _, c| {
            *c = Compression::new(Algorithm::None, None).unwrap()
        }),
    ];
    let mut seen = HashSet::new();
    for (what, change) in changes {
        let mut entries = vec![file("a"), file("b")];
        let (mut opts, mut comp) = (HeaderOptions::default(), gzip());
        change(&mut entries, &mut opts, &mut comp);
        let key = key_of(&entries, &opts, &comp);
        assert!(seen.insert(key), "changing {what} gave a key seen before");
    }
}

#[test]
fn a_clamp_or_normalization_that_changes_no_header_keeps_the_key() {
    let entries = [file("a")];
    let unclamped = key_of(&entries, &HeaderOptions::default(), &gzip());
    let opts = HeaderOptions {
        clamp_mtime: Some(1_700_000_000),
        ..HeaderOptions::default()
    };
    assert_eq!(key_of(&entries, &opts, &gzip()), unclamped);
    // --normalize-modes gives 0600 and 0644 the same header, so the same layer bytes.
    let opts = HeaderOptions {
        normalize_modes: true,
        ..HeaderOptions::default()
    };
    let private = [ContextEntry {
        mode: 0o600,
        ..file("a")
    }];
    assert_eq!(
        key_of(&private, &opts, &gzip()),
        key_of(&entries, &opts, &gzip())
    );
}

#[test]
fn items_are_framed() {
    let key = |parts: &[&[u8]]| {
        let mut k = KeyBuilder::new(&gzip());
        parts.iter().for_each(|p| k.add_header(p));
        k.finish()
    };
    assert_ne!(key(&[b"ab", b"c"]), key(&[b"a", b"bc"]));
    assert_ne!(key(&[b"abc"]), key(&[b"abc", b""]));
}

const START: u64 = 1_700_000_100;

fn at(secs: i64, nsec: i64) -> ContextEntry {
    ContextEntry {
        mtime: secs,
        mtime_nsec: nsec,
        ctime: secs,
        ctime_nsec: nsec,
        ..file("a")
    }
}

#[test]
fn racy_rule_boundaries() {
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(START);
    let s = START as i64;
    let g = RACY_GRANULARITY.as_secs() as i64;
    // Strictly older than start - G: trusted.
    assert!(!is_racy(&at(s - g - 1, 0), start));
    assert!(!is_racy(&at(s - g - 1, 999_999_999), start));
    // Exactly start - G, or later: racy.
    assert!(is_racy(&at(s - g, 0), start));
    assert!(is_racy(&at(s - 1, 0), start));
    assert!(is_racy(&at(s, 0), start));
    assert!(is_racy(&at(s + 3600, 0), start), "a file from the future");
    // Either timestamp alone makes it racy (touch -d puts an old mtime, the ctime is new).
    let touched = ContextEntry {
        ctime: s,
        ..at(s - 1000, 0)
    };
    assert!(is_racy(&touched, start));
    let odd = ContextEntry {
        mtime: s,
        ..at(s - 1000, 0)
    };
    assert!(is_racy(&odd, start));
    // Nanoseconds count at the boundary.
    let start_ns = start + Duration::from_nanos(500);
    assert!(is_racy(&at(s - g, 500), start_ns));
    assert!(!is_racy(&at(s - g, 499), start_ns));
    // A build that starts before the epoch + G trusts nothing.
    assert!(is_racy(
        &at(-5, 0),
        SystemTime::UNIX_EPOCH + Duration::from_secs(1)
    ));
}

/// A stand-in for the pipeline: walk `root`, key it, and either look it up (verifying the
/// blob and re-hashing racy files) or store a blob made of the file contents.
struct Pipeline<'a> {
    cache: &'a LayerCache,
    root: &'a Path,
}

impl Pipeline<'_> {
    fn walk(&self) -> (CacheKey, Vec<ContextEntry>) {
        let ctx = walk(
            self.root,
            &IgnoreOptions::default(),
            &crate::Cancel::never(),
        )
        .unwrap();
        let key = key_of(&ctx.entries, &HeaderOptions::default(), &gzip());
        (key, ctx.entries)
    }

    fn content(&self, rel: &[u8]) -> Vec<u8> {
        let p = self.root.join(std::str::from_utf8(rel).unwrap());
        let mut v = Vec::new();
        fs::File::open(p).unwrap().read_to_end(&mut v).unwrap();
        v
    }

    /// A miss builds the layer: the blob is the concatenated contents.
    fn store(&self) -> usize {
        let start = SystemTime::now();
        let (key, entries) = self.walk();
        let mut blob = Vec::new();
        let mut racy = Vec::new();
        for e in entries.iter().filter(|e| e.kind == EntryKind::File) {
            let content = self.content(&e.rel_path);
            if is_racy(e, start) {
                racy.push(RacyFile {
                    rel_path: e.rel_path.clone(),
                    size: content.len() as u64,
                    content: crate::digest::Sha256Sum::of(&content),
                });
            }
            blob.extend_from_slice(&content);
        }
        let layer = layer_of(&blob);
        let mut p = self.cache.begin().unwrap();
        p.write_all(&blob).unwrap();
        let n = racy.len();
        p.commit(&key, &layer, racy).unwrap();
        n
    }

    /// Whether the cache would be used, and the blob's bytes then.
    fn lookup(&self) -> Option<Vec<u8>> {
        let (key, _) = self.walk();
        let mut hit = self.cache.get(&key).unwrap()?;
        if !hit.verify(&crate::Cancel::never()).unwrap() {
            return None;
        }
        if !hit
            .racy_files_unchanged(self.root, &crate::Cancel::never())
            .unwrap()
        {
            return None;
        }
        let mut v = Vec::new();
        hit.blob.read_to_end(&mut v).unwrap();
        Some(v)
    }
}

pub(super) fn layer_of(blob: &[u8]) -> LayerDescriptor {
    LayerDescriptor {
        media_type: MediaType::ImageLayerGzip,
        digest: crate::digest::Sha256Sum::of(blob),
        size: blob.len() as u64,
        diff_id: crate::digest::Sha256Sum::of(b"tar"),
        tar_size: 3,
    }
}

fn set_mtime(p: &Path, t: SystemTime) {
    fs::File::options()
        .write(true)
        .open(p)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

/// Each scenario: a context of one file, stored, then changed so that size and mtime (and
/// for the swap, content size and mtime) stay the same.
fn scenarios(settle: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let cache = LayerCache::open(&tmp.path().join("layers"), DEFAULT_MAX_SIZE).unwrap();
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    let second = SystemTime::UNIX_EPOCH
        + Duration::from_secs(
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
        );
    let names = ["touched", "swapped", "same-second", "unchanged"];
    let roots: Vec<_> = names.iter().map(|n| tmp.path().join(n)).collect();
    for (root, n) in roots.iter().zip(names) {
        fs::create_dir(root).unwrap();
        fs::write(root.join("f"), "hello").unwrap();
        set_mtime(
            &root.join("f"),
            if n == "same-second" { second } else { old },
        );
    }
    if settle {
        // Older than the racy bound: the fingerprint alone must catch every change.
        std::thread::sleep(RACY_GRANULARITY + Duration::from_millis(200));
    }
    for root in &roots {
        let p = Pipeline {
            cache: &cache,
            root,
        };
        let racy = p.store();
        assert_eq!(racy, usize::from(!settle), "{}", root.display());
        assert_eq!(
            p.lookup().as_deref(),
            Some(&b"hello"[..]),
            "an unchanged context hits"
        );
    }
    // Rewritten in place, same size, mtime put back (touch -d).
    fs::write(roots[0].join("f"), "jello").unwrap();
    set_mtime(&roots[0].join("f"), old);
    // Another file with the same size and mtime renamed over it (a new inode).
    fs::write(roots[1].join("g"), "jello").unwrap();
    set_mtime(&roots[1].join("g"), old);
    fs::rename(roots[1].join("g"), roots[1].join("f")).unwrap();
    // Changed within the same second as it was stored, mtime to the whole second.
    fs::write(roots[2].join("f"), "jello").unwrap();
    set_mtime(&roots[2].join("f"), second);
    for root in &roots[..3] {
        let p = Pipeline {
            cache: &cache,
            root,
        };
        assert_eq!(p.lookup(), None, "a wrong hit for {}", root.display());
    }
    let p = Pipeline {
        cache: &cache,
        root: &roots[3],
    };
    assert_eq!(p.lookup().as_deref(), Some(&b"hello"[..]));
}

#[test]
fn no_wrong_hit_when_files_change_right_after_the_build() {
    scenarios(false);
}

#[test]
fn no_wrong_hit_when_settled_files_change() {
    scenarios(true);
}

#[test]
fn racy_files_are_rechecked_without_following_links() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = LayerCache::open(&tmp.path().join("layers"), DEFAULT_MAX_SIZE).unwrap();
    let root = tmp.path().join("ctx");
    fs::create_dir(&root).unwrap();
    fs::write(root.join("f"), "hello").unwrap();
    let racy = |name: &str, content: &[u8]| RacyFile {
        rel_path: name.as_bytes().to_vec(),
        size: content.len() as u64,
        content: crate::digest::Sha256Sum::of(content),
    };
    let k = KeyBuilder::new(&gzip()).finish();
    let check = |files: Vec<RacyFile>| {
        let mut p = cache.begin().unwrap();
        p.write_all(b"blob").unwrap();
        p.commit(&k, &layer_of(b"blob"), files).unwrap();
        let hit = cache.get(&k).unwrap().unwrap();
        hit.racy_files_unchanged(&root, &crate::Cancel::never())
            .unwrap()
    };
    assert!(check(vec![racy("f", b"hello")]));
    assert!(!check(vec![racy("f", b"jello")]), "other content");
    assert!(!check(vec![racy("f", b"hello!")]), "other size");
    assert!(!check(vec![racy("gone", b"hello")]), "removed");
    symlink_to(&root.join("f"), &root.join("link"));
    assert!(
        !check(vec![racy("link", b"hello")]),
        "a link is not followed"
    );
    let c =
        std::ffi::CString::new(root.join("fifo").into_os_string().into_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    assert!(!check(vec![racy("fifo", b"")]), "a fifo is never read");
    assert!(check(Vec::new()));
}

fn symlink_to(target: &Path, link: &Path) {
    std::os::unix::fs::symlink(target, link).unwrap();
}
