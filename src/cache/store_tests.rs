//! The cache on disk: round trips, verification, garbage and links in the directory,
//! least-recently-used eviction, prune and info, concurrent commits.

use std::fs;
use std::io::{Read as _, Write as _};
use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::tests::layer_of;
use super::*;
use crate::compress::{Algorithm, Compression};

fn key(seed: &str) -> CacheKey {
    let mut k = KeyBuilder::new(&Compression::new(Algorithm::Gzip, None).unwrap());
    k.add_header(seed.as_bytes());
    k.finish()
}

fn open(dir: &Path, max: u64) -> LayerCache {
    LayerCache::open(&dir.join("layers"), max).unwrap()
}

fn put(cache: &LayerCache, seed: &str, blob: &[u8]) -> CacheKey {
    let k = key(seed);
    let mut p = cache.begin().unwrap();
    p.write_all(blob).unwrap();
    p.commit(&k, &layer_of(blob), Vec::new()).unwrap();
    k
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

fn entry_path(cache: &LayerCache, k: &CacheKey) -> std::path::PathBuf {
    cache.dir().join("entries").join(format!("{k}.json"))
}

fn blob_path(cache: &LayerCache, blob: &[u8]) -> std::path::PathBuf {
    cache
        .dir()
        .join("blobs/sha256")
        .join(crate::digest::Sha256Sum::of(blob).hex())
}

fn set_use(path: &Path, secs_ago: u64) {
    let t = SystemTime::now() - Duration::from_secs(secs_ago);
    fs::File::open(path).unwrap().set_modified(t).unwrap();
}

#[test]
fn commit_then_get_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = open(tmp.path(), DEFAULT_MAX_SIZE);
    assert_eq!(cache.dir(), tmp.path().join("layers"));
    let k = key("a");
    assert!(cache.get(&k).unwrap().is_none());
    let racy = vec![RacyFile {
        rel_path: b"dir/\xffodd name".to_vec(),
        size: 3,
        content: crate::digest::Sha256Sum::of(b"abc"),
    }];
    let mut p = cache.begin().unwrap();
    p.write_all(b"the blob").unwrap();
    p.commit(&k, &layer_of(b"the blob"), racy.clone()).unwrap();
    let mut hit = cache.get(&k).unwrap().unwrap();
    assert_eq!(hit.key(), &k);
    assert_eq!(hit.layer.digest, layer_of(b"the blob").digest);
    assert_eq!(hit.layer.diff_id, layer_of(b"the blob").diff_id);
    assert_eq!((hit.layer.size, hit.layer.tar_size), (8, 3));
    assert_eq!(
        hit.layer.media_type,
        oci_spec::image::MediaType::ImageLayerGzip
    );
    assert_eq!(hit.racy, racy);
    assert!(hit.verify(&Cancel::never()).unwrap());
    let mut bytes = Vec::new();
    hit.blob.read_to_end(&mut bytes).unwrap();
    assert_eq!(bytes, b"the blob", "verify rewinds");
    assert!(cache.get(&key("b")).unwrap().is_none());
    // Nothing temporary is left.
    assert_eq!(
        names(&cache.dir().join("entries")),
        vec![format!("{k}.json")]
    );
    assert_eq!(names(&cache.dir().join("blobs/sha256")).len(), 1);
}

#[test]
fn wrong_bytes_are_not_committed_and_dropped_pendings_leave_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = open(tmp.path(), DEFAULT_MAX_SIZE);
    let mut p = cache.begin().unwrap();
    p.write_all(b"other bytes").unwrap();
    let err = p
        .commit(&key("a"), &layer_of(b"the blob"), Vec::new())
        .unwrap_err();
    assert!(err.to_string().contains("not blob sha256:"), "{err}");
    let mut p = cache.begin().unwrap();
    p.write_all(b"half").unwrap();
    drop(p);
    assert!(names(&cache.dir().join("entries")).is_empty());
    assert!(names(&cache.dir().join("blobs/sha256")).is_empty());
    assert!(cache.get(&key("a")).unwrap().is_none());
}

#[test]
fn verify_catches_a_flipped_byte_and_removes_the_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = open(tmp.path(), DEFAULT_MAX_SIZE);
    let k = put(&cache, "a", b"the blob");
    let path = blob_path(&cache, b"the blob");
    let mut bytes = fs::read(&path).unwrap();
    bytes[3] ^= 1;
    fs::write(&path, &bytes).unwrap();
    let mut hit = cache.get(&k).unwrap().unwrap();
    assert!(!hit.verify(&Cancel::never()).unwrap());
    assert!(!entry_path(&cache, &k).exists());
    assert!(!path.exists());
    assert!(cache.get(&k).unwrap().is_none());
}

#[test]
fn a_truncated_or_missing_blob_is_a_miss() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = open(tmp.path(), DEFAULT_MAX_SIZE);
    let k = put(&cache, "a", b"the blob");
    fs::write(blob_path(&cache, b"the blob"), b"the").unwrap();
    assert!(cache.get(&k).unwrap().is_none());
    assert!(!entry_path(&cache, &k).exists(), "the record is removed");
    let k = put(&cache, "b", b"another");
    fs::remove_file(blob_path(&cache, b"another")).unwrap();
    assert!(cache.get(&k).unwrap().is_none());
    // A blob replaced by a link to an outside file with the same bytes is not used either.
    let k = put(&cache, "c", b"third");
    let outside = tmp.path().join("outside");
    fs::write(&outside, b"third").unwrap();
    fs::remove_file(blob_path(&cache, b"third")).unwrap();
    symlink(&outside, blob_path(&cache, b"third")).unwrap();
    assert!(cache.get(&k).unwrap().is_none());
    assert_eq!(fs::read(&outside).unwrap(), b"third");
}

#[test]
fn garbage_records_are_misses_and_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = open(tmp.path(), DEFAULT_MAX_SIZE);
    let good = put(&cache, "good", b"the blob");
    let record = String::from_utf8(fs::read(entry_path(&cache, &good)).unwrap()).unwrap();
    let k = key("bad");
    let with_key = record.replace(good.hex(), k.hex());
    let garbage: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"{".to_vec(),
        b"\xff\xfe".to_vec(),
        b"[]".to_vec(),
        b"null".to_vec(),
        record.clone().into_bytes(), // names another key
        with_key
            .replace("\"version\":1", "\"version\":2")
            .into_bytes(),
        with_key
            .replace("{\"version\"", "{\"extra\":1,\"version\"")
            .into_bytes(),
        with_key.replace("sha256:", "sha512:").into_bytes(),
        with_key.replace("tar+gzip", "tar+evil").into_bytes(),
        with_key.replace("\"size\":8", "\"size\":-8").into_bytes(),
        with_key
            .replace(
                "\"racy\":[]",
                "\"racy\":[{\"path\":\"zz\",\"size\":1,\"content\":\"sha256:0\"}]",
            )
            .into_bytes(),
        with_key
            .replace(
                "\"racy\":[]",
                "\"racy\":[{\"path\":\"\",\"size\":1,\"content\":\"sha256:0\"}]",
            )
            .into_bytes(),
        format!("{with_key} trailing").into_bytes(),
    ];
    for (i, bytes) in garbage.iter().enumerate() {
        fs::write(entry_path(&cache, &k), bytes).unwrap();
        assert!(cache.get(&k).unwrap().is_none(), "garbage #{i} was a hit");
        assert!(!entry_path(&cache, &k).exists(), "garbage #{i} was kept");
    }
    // The record with the right key is a hit (the garbage above differs only as shown).
    fs::write(entry_path(&cache, &k), &with_key).unwrap();
    assert!(cache.get(&k).unwrap().is_some());
    // Oversized: never read past the cap.
    let big = fs::File::create(entry_path(&cache, &k)).unwrap();
    big.set_len(MAX_RECORD + 1).unwrap();
    assert!(cache.get(&k).unwrap().is_none());
    // A fifo is never waited on; a directory is a miss too.
    let c = std::ffi::CString::new(entry_path(&cache, &k).into_os_string().into_encoded_bytes())
        .unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    assert!(cache.get(&k).unwrap().is_none());
    fs::create_dir(entry_path(&cache, &k)).unwrap();
    assert!(cache.get(&k).unwrap().is_none());
    // info and prune cope with all of it.
    assert_eq!(cache.info().unwrap().entries, 1);
    cache.prune(PruneOptions::default()).unwrap();
    assert!(cache.get(&good).unwrap().is_some());
}

#[test]
fn symlinked_records_and_directories_are_not_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = open(tmp.path(), DEFAULT_MAX_SIZE);
    let good = put(&cache, "good", b"the blob");
    let outside = tmp.path().join("record.json");
    fs::copy(entry_path(&cache, &good), &outside).unwrap();
    fs::remove_file(entry_path(&cache, &good)).unwrap();
    symlink(&outside, entry_path(&cache, &good)).unwrap();
    assert!(cache.get(&good).unwrap().is_none());
    assert!(
        entry_path(&cache, &good).symlink_metadata().is_err(),
        "the link is removed"
    );
    assert!(outside.exists(), "what it pointed to is not");
    // An entries directory that is a link: the cache is refused, not used.
    let other = tmp.path().join("other");
    fs::create_dir_all(&other).unwrap();
    let dir = tmp.path().join("linked");
    fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    symlink(&other, dir.join("entries")).unwrap();
    let err = LayerCache::open(&dir, DEFAULT_MAX_SIZE).unwrap_err();
    assert!(err.to_string().contains("not a directory"), "{err}");
}

#[test]
fn eviction_is_least_recently_used() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = open(tmp.path(), 300);
    let blob = |c: u8| vec![c; 100];
    let a = put(&cache, "a", &blob(b'a'));
    let b = put(&cache, "b", &blob(b'b'));
    let c = put(&cache, "c", &blob(b'c'));
    set_use(&entry_path(&cache, &a), 30);
    set_use(&entry_path(&cache, &b), 20);
    set_use(&entry_path(&cache, &c), 10);
    // Using a makes it the most recent; b is now the least recently used.
    assert!(cache.get(&a).unwrap().is_some());
    let d = put(&cache, "d", &blob(b'd'));
    assert!(cache.get(&b).unwrap().is_none(), "b was evicted");
    assert!(!blob_path(&cache, &blob(b'b')).exists());
    for k in [&a, &c, &d] {
        assert!(cache.get(k).unwrap().is_some());
    }
    let info = cache.info().unwrap();
    assert_eq!((info.entries, info.blobs, info.total_bytes), (3, 3, 300));
}

#[test]
fn a_shared_blob_stays_while_an_entry_names_it() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = open(tmp.path(), 250);
    let a = put(&cache, "a", &[1; 100]);
    let b = put(&cache, "b", &[1; 100]);
    set_use(&entry_path(&cache, &a), 20);
    set_use(&entry_path(&cache, &b), 10);
    let c = put(&cache, "c", &[2; 100]);
    assert!(cache.get(&b).unwrap().is_some() && cache.get(&c).unwrap().is_some());
    // 200 bytes of blobs fit in 250, so a stays too: one blob for two entries.
    assert!(cache.get(&a).unwrap().is_some());
    let d = put(&cache, "d", &[3; 100]);
    assert!(cache.get(&d).unwrap().is_some());
    let info = cache.info().unwrap();
    assert!(info.total_bytes <= 250, "{info:?}");
    // A layer larger than the whole bound is stored and evicted at once, without error.
    let big = put(&cache, "big", &[4; 300]);
    assert!(cache.get(&big).unwrap().is_none());
}

#[test]
fn prune_all_older_than_and_max_size() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = open(tmp.path(), DEFAULT_MAX_SIZE);
    let old = put(&cache, "old", &[1; 10]);
    let mid = put(&cache, "mid", &[2; 10]);
    let new = put(&cache, "new", &[3; 10]);
    set_use(&entry_path(&cache, &old), 10 * 86_400);
    set_use(&entry_path(&cache, &mid), 3600);
    let r = cache
        .prune(PruneOptions {
            older_than: Some(Duration::from_secs(7 * 86_400)),
            ..PruneOptions::default()
        })
        .unwrap();
    assert_eq!(
        (r.removed_entries, r.removed_blobs, r.freed_bytes),
        (1, 1, 10)
    );
    assert_eq!((r.entries, r.blobs, r.total_bytes), (2, 2, 20));
    assert!(cache.get(&old).unwrap().is_none());
    let r = cache
        .prune(PruneOptions {
            max_size: Some(15),
            ..PruneOptions::default()
        })
        .unwrap();
    assert_eq!((r.removed_entries, r.entries), (1, 1));
    assert!(cache.get(&mid).unwrap().is_none() && cache.get(&new).unwrap().is_some());
    let r = cache
        .prune(PruneOptions {
            all: true,
            ..PruneOptions::default()
        })
        .unwrap();
    assert_eq!((r.removed_entries, r.entries, r.total_bytes), (1, 0, 0));
    assert!(names(&cache.dir().join("entries")).is_empty());
    assert!(names(&cache.dir().join("blobs/sha256")).is_empty());
    let info = cache.info().unwrap();
    assert_eq!((info.entries, info.blobs, info.oldest_use), (0, 0, None));
}

#[test]
fn prune_removes_orphans_and_stale_temporaries_only() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = open(tmp.path(), DEFAULT_MAX_SIZE);
    let k = put(&cache, "a", b"kept");
    let blobs = cache.dir().join("blobs/sha256");
    let orphan = crate::digest::Sha256Sum::of(b"orphan");
    fs::write(blobs.join(orphan.hex()), b"orphan").unwrap();
    for (dir, name, age) in [
        (&blobs, ".imgbuild-stale.tmp", 2 * 86_400),
        (&blobs, ".imgbuild-live.tmp", 0),
        (
            &cache.dir().join("entries"),
            ".imgbuild-stale.tmp",
            2 * 86_400,
        ),
    ] {
        fs::write(dir.join(name), b"x").unwrap();
        set_use(&dir.join(name), age);
    }
    fs::write(blobs.join("stranger"), b"x").unwrap();
    let info = cache.info().unwrap();
    assert_eq!((info.entries, info.blobs, info.total_bytes), (1, 2, 10));
    let r = cache.prune(PruneOptions::default()).unwrap();
    assert_eq!(
        (r.removed_entries, r.removed_blobs, r.freed_bytes),
        (0, 1, 6)
    );
    let kept = crate::digest::Sha256Sum::of(b"kept").hex().to_owned();
    assert_eq!(
        names(&blobs),
        vec![".imgbuild-live.tmp".to_owned(), kept, "stranger".to_owned()]
    );
    assert_eq!(
        names(&cache.dir().join("entries")),
        vec![format!("{k}.json")]
    );
}

#[test]
fn info_counts_and_times() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = open(tmp.path(), 12345);
    let info = cache.info().unwrap();
    assert_eq!((info.entries, info.blobs, info.total_bytes), (0, 0, 0));
    assert_eq!((info.max_size, info.newest_use), (12345, None));
    let a = put(&cache, "a", &[1; 7]);
    put(&cache, "b", &[1; 7]);
    put(&cache, "c", &[2; 5]);
    set_use(&entry_path(&cache, &a), 3600);
    let info = cache.info().unwrap();
    assert_eq!((info.entries, info.blobs, info.total_bytes), (3, 2, 12));
    let (oldest, newest) = (info.oldest_use.unwrap(), info.newest_use.unwrap());
    assert!(newest.duration_since(oldest).unwrap() >= Duration::from_secs(3500));
}

/// Every record names a blob that exists and verifies; nothing temporary is left.
fn assert_consistent(cache: &LayerCache) {
    for name in names(&cache.dir().join("entries")) {
        assert!(!name.starts_with('.'), "a temporary record is left: {name}");
        let k = CacheKey::from_hex(name.strip_suffix(".json").unwrap()).unwrap();
        let mut hit = cache.get(&k).unwrap().expect("every record is a hit");
        assert!(hit.verify(&Cancel::never()).unwrap());
    }
    for name in names(&cache.dir().join("blobs/sha256")) {
        assert!(!name.starts_with('.'), "a temporary blob is left: {name}");
    }
}

#[test]
fn concurrent_commits_and_lookups_keep_the_cache_consistent() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("layers");
    let blob = |i: usize| vec![u8::try_from(i % 251).unwrap(); 1000 + i];
    // Room for about four blobs: most commits evict.
    let max: u64 = 4 * 1100;
    let caches: Vec<_> = (0..2)
        .map(|_| LayerCache::open(&dir, max).unwrap())
        .collect();
    let caches = Arc::new(caches);
    let threads: Vec<_> = (0..6)
        .map(|t| {
            let caches = Arc::clone(&caches);
            std::thread::spawn(move || {
                let cache = &caches[t % 2];
                for i in 0..12 {
                    // Even rounds: every thread commits the same key; odd ones: its own.
                    let (seed, n) = if i % 2 == 0 {
                        (format!("shared-{i}"), i)
                    } else {
                        (format!("own-{t}-{i}"), 100 + t * 12 + i)
                    };
                    put(cache, &seed, &blob(n));
                    // A lookup meanwhile either misses or gives a blob that verifies.
                    if let Some(mut hit) = cache.get(&key(&seed)).unwrap() {
                        assert!(hit.verify(&Cancel::never()).unwrap(), "{seed}");
                        let mut bytes = Vec::new();
                        hit.blob.read_to_end(&mut bytes).unwrap();
                        assert_eq!(bytes, blob(n));
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let cache = &caches[0];
    assert_consistent(cache);
    let info = cache.info().unwrap();
    assert!(info.total_bytes <= max, "{info:?}");
    assert!(info.entries >= 1, "{info:?}");
    assert_eq!(info.blobs, info.entries, "{info:?}");
}

#[test]
fn verify_stops_when_cancelled() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = open(tmp.path(), DEFAULT_MAX_SIZE);
    let k = put(&cache, "a", b"the blob");
    let cancel = Cancel::new();
    cancel.cancel();
    let mut hit = cache.get(&k).unwrap().unwrap();
    let err = hit.verify(&cancel).unwrap_err();
    assert!(
        err.downcast_ref::<crate::error::Interrupted>().is_some(),
        "{err:?}"
    );
    // Nothing was removed: the entry is still good.
    assert!(
        cache
            .get(&k)
            .unwrap()
            .unwrap()
            .verify(&Cancel::never())
            .unwrap()
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Whatever bytes sit in a record, a lookup is a miss or a hit that verifies; never a
    /// panic or an error.
    #[test]
    fn any_record_bytes_are_a_miss_or_a_verified_hit(
        bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
        splice in proptest::prelude::any::<bool>(),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let cache = open(tmp.path(), DEFAULT_MAX_SIZE);
        let k = put(&cache, "a", b"the blob");
        let path = entry_path(&cache, &k);
        let mut record = if splice { fs::read(&path).unwrap() } else { Vec::new() };
        let at = record.len() / 2;
        record.splice(at..at, bytes);
        fs::write(&path, &record).unwrap();
        if let Some(mut hit) = cache.get(&k).unwrap() {
            proptest::prop_assert!(hit.verify(&Cancel::never()).unwrap());
        }
    }
}
