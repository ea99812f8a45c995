use super::*;
use crate::cancel::Cancel;
use crate::image::reference::ImageRef;
use crate::sink::Scratch;
use crate::store::BlobStore;
use std::path::Path;

#[test]
fn path_helpers() {
    assert_eq!(clean(b"./opt/app/"), b"opt/app");
    assert_eq!(clean(b"opt"), b"opt");
    assert!(is_under(b"opt/app", b"opt"));
    assert!(!is_under(b"optx", b"opt"));
    assert!(!is_under(b"opt", b"opt"));
    assert!(is_under(b"opt", b""));
}

fn tar_of(name: &str, data: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_cksum();
    b.append_data(&mut h, name, data).unwrap();
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

const GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// A one-image layout at `dir` whose one layer is `blob` with `diff_id`.
fn layout(dir: &Path, blob: &[u8], diff_id: &str) -> Image {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |data: &[u8]| {
        let sum = Sha256Sum::of(data);
        std::fs::write(blobs.join(sum.hex()), data).unwrap();
        (sum.prefixed(), data.len())
    };
    let (config, config_size) = put(serde_json::json!({"architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [diff_id]}})
    .to_string()
    .as_bytes());
    let (layer, layer_size) = put(blob);
    let (manifest, manifest_size) = put(serde_json::json!({"schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config, "size": config_size},
            "layers": [{"mediaType": GZIP, "digest": layer, "size": layer_size}]})
    .to_string()
    .as_bytes());
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json",
         "digest": manifest, "size": manifest_size}]});
    std::fs::write(dir.join("index.json"), index.to_string()).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let r = ImageRef::parse(&format!("oci:{}", dir.display())).unwrap();
    Image::open(&r).unwrap()
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn a_layer_is_verified_once_per_digest_size_and_media_type() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tar_of("a", &[b'a'; 3000]);
    let image = layout(
        &tmp.path().join("base"),
        &gzip(&t),
        &Sha256Sum::of(&t).prefixed(),
    );
    let base = image.select(None).unwrap();
    let store = BlobStore::create(&tmp.path().join("out")).unwrap();
    let mut verified = Verified::new(Limits::default());
    for _ in 0..3 {
        let descs = copy_layers(
            &image,
            &base,
            &mut Scratch(store.clone()),
            &mut verified,
            &Cancel::never(),
        )
        .unwrap();
        assert_eq!(descs[0].digest(), base.manifest.layers()[0].digest());
    }
    assert_eq!(verified.report().len(), 1, "{:?}", verified.report());
    assert!(verified.report()[0].contains("copied"));
    assert_eq!(names(&tmp.path().join("out")).len(), 1);

    // The same digest as an uncompressed layer is another layer: checked on its own
    // (and refused, since gzip bytes are not a tar).
    let mut other = base.clone();
    let mut layers = other.manifest.layers().clone();
    layers[0].set_media_type(oci_spec::image::MediaType::ImageLayer);
    other.manifest.set_layers(layers);
    let e = copy_layers(
        &image,
        &other,
        &mut Scratch(store.clone()),
        &mut verified,
        &Cancel::never(),
    )
    .unwrap_err();
    assert!(
        e.chain().any(|c| c.is::<crate::error::InvalidImage>()),
        "{e:#}"
    );
    assert_eq!(verified.report().len(), 1);

    // Another size under the same digest is checked too, and fails on the size.
    let mut other = base.clone();
    let mut layers = other.manifest.layers().clone();
    let size = layers[0].size();
    layers[0].set_size(size + 1);
    other.manifest.set_layers(layers);
    let e = copy_layers(
        &image,
        &other,
        &mut Scratch(store.clone()),
        &mut verified,
        &Cancel::never(),
    )
    .unwrap_err();
    assert!(
        format!("{e:#}").contains("does not match its descriptor"),
        "{e:#}"
    );
}

#[test]
fn a_second_config_claiming_another_diff_id_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tar_of("a", b"a");
    let image = layout(
        &tmp.path().join("base"),
        &gzip(&t),
        &Sha256Sum::of(&t).prefixed(),
    );
    let base = image.select(None).unwrap();
    let store = BlobStore::create(&tmp.path().join("out")).unwrap();
    let mut verified = Verified::new(Limits::default());
    copy_layers(
        &image,
        &base,
        &mut Scratch(store.clone()),
        &mut verified,
        &Cancel::never(),
    )
    .unwrap();
    let mut other = base.clone();
    let wrong = Sha256Sum::of(b"other").prefixed();
    let mut rootfs = other.config.rootfs().clone();
    rootfs.set_diff_ids(vec![wrong.clone()]);
    other.config.set_rootfs(rootfs);
    let e = copy_layers(
        &image,
        &other,
        &mut Scratch(store.clone()),
        &mut verified,
        &Cancel::never(),
    )
    .unwrap_err();
    let msg = format!("{e:#}");
    assert!(
        msg.contains(&wrong) && msg.contains(&Sha256Sum::of(&t).prefixed()),
        "{msg}"
    );
}

#[test]
fn wrong_diff_id_or_corrupt_stream_leaves_nothing_in_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tar_of("a", &[b'x'; 100_000]);
    let out = tmp.path().join("out");
    let store = BlobStore::create(&out).unwrap();
    // Right digest, wrong diff_id.
    let image = layout(
        &tmp.path().join("b1"),
        &gzip(&t),
        &Sha256Sum::of(b"x").prefixed(),
    );
    let base = image.select(None).unwrap();
    let e = copy_layers(
        &image,
        &base,
        &mut Scratch(store.clone()),
        &mut Verified::new(Limits::default()),
        &Cancel::never(),
    )
    .unwrap_err();
    let msg = format!("{e:#}");
    assert!(msg.contains("uncompresses to content with sha256"), "{msg}");
    assert!(msg.contains(&Sha256Sum::of(&t).prefixed()), "{msg}");
    // A gzip stream cut in the middle.
    let mut cut = gzip(&t);
    cut.truncate(cut.len() / 2);
    let image = layout(&tmp.path().join("b2"), &cut, &Sha256Sum::of(&t).prefixed());
    let base = image.select(None).unwrap();
    let e = copy_layers(
        &image,
        &base,
        &mut Scratch(store.clone()),
        &mut Verified::new(Limits::default()),
        &Cancel::never(),
    )
    .unwrap_err();
    assert!(
        e.chain().any(|c| c.is::<crate::error::InvalidImage>()),
        "{e:#}"
    );
    assert_eq!(names(&out), Vec::<String>::new());
}

#[test]
fn a_blob_already_in_the_store_is_checked_not_trusted() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tar_of("a", b"a");
    let blob = gzip(&t);
    let image = layout(
        &tmp.path().join("base"),
        &blob,
        &Sha256Sum::of(&t).prefixed(),
    );
    let base = image.select(None).unwrap();
    let out = tmp.path().join("out");
    let store = BlobStore::create(&out).unwrap();
    let path = store.blob_path(&Sha256Sum::of(&blob));
    std::fs::write(&path, b"not the layer").unwrap();
    let e = copy_layers(
        &image,
        &base,
        &mut Scratch(store.clone()),
        &mut Verified::new(Limits::default()),
        &Cancel::never(),
    )
    .unwrap_err();
    assert!(format!("{e:#}").contains("already in the output"), "{e:#}");
    // The good blob is checked in place and counted as verified.
    std::fs::write(&path, &blob).unwrap();
    let mut verified = Verified::new(Limits::default());
    copy_layers(
        &image,
        &base,
        &mut Scratch(store.clone()),
        &mut verified,
        &Cancel::never(),
    )
    .unwrap();
    assert!(verified.report()[0].contains("already in the output"));
    // A symlink where the blob belongs is refused.
    std::fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink(image_blob(&tmp.path().join("base"), &blob), &path).unwrap();
    let e = copy_layers(
        &image,
        &base,
        &mut Scratch(store.clone()),
        &mut Verified::new(Limits::default()),
        &Cancel::never(),
    )
    .unwrap_err();
    assert!(format!("{e:#}").contains("symbolic link"), "{e:#}");
}

fn image_blob(dir: &Path, blob: &[u8]) -> std::path::PathBuf {
    dir.join("blobs/sha256").join(Sha256Sum::of(blob).hex())
}

#[test]
fn chunks_end_only_on_the_end_message() {
    let (tx, rx) = sync_channel(2);
    let (free_tx, free_rx) = sync_channel(2);
    let mut c = Chunks::new(rx, free_tx);
    tx.send(Msg::Data(b"hello!!".to_vec(), 5)).unwrap();
    tx.send(Msg::End).unwrap();
    let mut got = Vec::new();
    c.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"hello");
    assert_eq!(free_rx.try_recv().unwrap().len(), 7, "the buffer went back");
    let (tx, rx) = sync_channel(2);
    let (free_tx, _free_rx) = sync_channel(2);
    let mut c = Chunks::new(rx, free_tx);
    tx.send(Msg::Data(b"abc".to_vec(), 3)).unwrap();
    drop(tx);
    let e = c.read_to_end(&mut Vec::new()).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
}
