//! The staging of layers: decompressed and checked against their diff_ids.

use super::plan::PlannedLayer;
use super::write::Tar;
use super::*;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn layer(blob: Sha256Sum, algorithm: Algorithm, diff_id: Sha256Sum) -> PlannedLayer {
    PlannedLayer {
        blob,
        algorithm,
        diff_id,
        id: "ab".repeat(32),
        json: Vec::new(),
    }
}

#[test]
fn a_layer_that_decompresses_to_another_diff_id_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::create(dir.path()).unwrap();
    let (blob, _) = store.put_bytes(&gzip(b"the real tar")).unwrap();
    let good = layer(
        blob.clone(),
        Algorithm::Gzip,
        Sha256Sum::of(b"the real tar"),
    );
    let tars = stage_layers(&store, &[good], None, &Cancel::new()).unwrap();
    assert!(matches!(tars.get(&blob), Some(Tar::Staged(_))));
    assert_eq!(list_temps(&store), 1, "the decompressed layer is staged");
    drop(tars);

    let bad = layer(blob.clone(), Algorithm::Gzip, Sha256Sum::of(b"another tar"));
    let err = stage_layers(&store, &[bad], None, &Cancel::new())
        .err()
        .unwrap();
    let text = format!("{err:#}");
    assert!(text.contains(&format!("layer 0 ({blob})")), "{text}");
    assert!(
        text.contains(&Sha256Sum::of(b"another tar").to_string()),
        "{text}"
    );
    assert!(err.chain().any(|c| c.is::<crate::error::InvalidImage>()));
    assert_eq!(list_temps(&store), 0, "the staged file is removed");

    let (raw, _) = store.put_bytes(b"plain").unwrap();
    let plain = layer(raw, Algorithm::None, Sha256Sum::of(b"other"));
    let err = stage_layers(&store, &[plain], None, &Cancel::new())
        .err()
        .unwrap();
    assert!(format!("{err:#}").contains("is uncompressed"), "{err:#}");
}

#[test]
fn a_blob_that_is_not_gzip_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::create(dir.path()).unwrap();
    let (blob, _) = store.put_bytes(b"\x1f\x8bnot really gzip").unwrap();
    let l = layer(blob, Algorithm::Gzip, Sha256Sum::of(b""));
    let err = stage_layers(&store, &[l], None, &Cancel::new())
        .err()
        .unwrap();
    assert!(format!("{err:#}").contains("decompressing"), "{err:#}");
}

fn list_temps(store: &BlobStore) -> usize {
    let dir = store.root().join("blobs").join("sha256");
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy()
                .starts_with(crate::store::TEMP_PREFIX)
        })
        .count()
}
