//! Unit tests of the image checker: valid and broken layouts built by hand.

use super::*;
use serde_json::json;
use std::path::PathBuf;
use tar::EntryType as T;

/// What `fixture` gets wrong.
#[derive(Clone, Copy, PartialEq)]
enum Break {
    Nothing,
    FlipLayerByte,
    LayerSizePlusOne,
    WrongDiffId,
    NoManifestMediaType,
    BadLayerMediaType,
    BadCreated,
    ExtraFile(&'static str),
}

fn put(dir: &Path, data: &[u8], media_type: &str) -> Value {
    let digest = sha256(data);
    std::fs::write(dir.join(blob_path(&digest)), data).unwrap();
    json!({"mediaType": media_type, "digest": digest, "size": data.len()})
}

/// A one-layer tar: a dir, a setuid file, links, a GNU long name, a PAX non-ASCII name.
fn layer_tar() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let long = format!("app/{}", "n".repeat(120));
    for (kind, path, mode, link, data) in [
        (T::Directory, "app/", 0o755, "", &b""[..]),
        (T::Regular, "app/hello.txt", 0o644, "", b"hello\n"),
        (T::Regular, "app/tool", 0o4755, "", b"#!/bin/sh\n"),
        (T::Symlink, "app/link", 0o777, "hello.txt", b""),
        (T::Link, "app/hard", 0o644, "app/hello.txt", b""),
        (T::Regular, &long, 0o600, "", b"x"),
        (T::Regular, "placeholder", 0o644, "", b"abc"),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(data.len() as u64);
        h.set_mtime(if path == "placeholder" {
            0
        } else {
            1_700_000_000
        });
        h.set_uid(0);
        h.set_gid(0);
        if !link.is_empty() {
            h.set_link_name(link).unwrap();
        }
        if path == "placeholder" {
            b.append_pax_extensions([("path", "données/é.txt".as_bytes())])
                .unwrap();
        }
        b.append_data(&mut h, path, data).unwrap();
    }
    b.into_inner().unwrap()
}

fn fixture(compression: &str, fault: Break) -> (tempfile::TempDir, PathBuf, Value) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("layout");
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let tar = layer_tar();
    let (blob, media_type) = match compression {
        "zstd" => (zstd::encode_all(&tar[..], 3).unwrap(), MEDIA_LAYER_ZSTD),
        "none" => (tar.clone(), MEDIA_LAYER_TAR),
        _ => {
            let level = flate2::Compression::default();
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), level);
            std::io::Write::write_all(&mut gz, &tar).unwrap();
            (gz.finish().unwrap(), MEDIA_LAYER_GZIP)
        }
    };
    let bad_type = fault == Break::BadLayerMediaType;
    let mut layer = put(
        &dir,
        &blob,
        if bad_type {
            "not a media type"
        } else {
            media_type
        },
    );
    if fault == Break::LayerSizePlusOne {
        layer["size"] = json!(blob.len() + 1);
    }
    if fault == Break::FlipLayerByte {
        let mut bad = blob.clone();
        bad[blob.len() / 2] ^= 1;
        std::fs::write(dir.join(blob_path(layer["digest"].as_str().unwrap())), bad).unwrap();
    }
    let diff_id = sha256(if fault == Break::WrongDiffId {
        b"other"
    } else {
        &tar
    });
    let rootfs = json!({"type": "layers", "diff_ids": [diff_id]});
    let created = if fault == Break::BadCreated {
        "yesterday"
    } else {
        "2024-01-02T03:04:05Z"
    };
    let config =
        json!({"architecture": "amd64", "os": "linux", "created": created, "rootfs": rootfs});
    let config = put(&dir, config.to_string().as_bytes(), MEDIA_CONFIG);
    let mut manifest = json!({"schemaVersion": 2, "config": config, "layers": [layer]});
    if fault != Break::NoManifestMediaType {
        manifest["mediaType"] = json!(MEDIA_MANIFEST);
    }
    let mut desc = put(&dir, manifest.to_string().as_bytes(), MEDIA_MANIFEST);
    desc["platform"] = json!({"os": "linux", "architecture": "amd64"});
    desc["annotations"] = json!({REF_NAME: "app:1"});
    let index = json!({"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": [desc]});
    std::fs::write(dir.join("index.json"), index.to_string()).unwrap();
    if let Break::ExtraFile(name) = fault {
        std::fs::write(dir.join(name), b"garbage").unwrap();
    }
    (tmp, dir, manifest)
}

/// Tars a layout as an OCI archive, plus `manifest.json` when given.
fn archive(dir: &Path, docker: Option<Value>) -> PathBuf {
    let out = dir.with_extension("tar");
    let mut b = tar::Builder::new(std::fs::File::create(&out).unwrap());
    let docker = docker.map(|d| ("manifest.json".to_string(), Some(d.to_string().into())));
    for (name, data) in load(dir).unwrap().into_iter().chain(docker) {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(if data.is_some() {
            T::Regular
        } else {
            T::Directory
        });
        h.set_mode(0o644);
        h.set_size(data.as_ref().map_or(0, Vec::len) as u64);
        b.append_data(&mut h, name, data.as_deref().unwrap_or_default())
            .unwrap();
    }
    b.into_inner().unwrap();
    out
}

fn error_of(path: &Path) -> String {
    format!(
        "{:#}",
        check_image(path).expect_err("the checker accepted a broken image")
    )
}

#[test]
fn accepts_valid_layouts_in_every_compression() {
    for compression in ["gzip", "zstd", "none"] {
        let (_tmp, dir, manifest) = fixture(compression, Break::Nothing);
        let img = check_image(&dir).unwrap_or_else(|e| panic!("{compression}: {e:#}"));
        let m = img.single().unwrap();
        assert_eq!(
            (m.platform.to_string(), m.ref_name.as_deref()),
            ("linux/amd64".into(), Some("app:1"))
        );
        assert_eq!(
            (img.ref_names(), img.blobs.len()),
            (vec!["app:1".to_string()], 3)
        );
        assert_eq!(m.manifest, manifest);
        assert_eq!(m.layers[0].diff_id, sha256(&layer_tar()));
    }
}

#[test]
fn entries_are_read_with_pax_and_long_names_applied() {
    let (_tmp, dir, _) = fixture("gzip", Break::Nothing);
    let img = check_image(&dir).unwrap();
    let entries = &img.single().unwrap().layers[0].entries;
    let want = format!(
        "drwxr-xr-x 0/0        0 2023-11-14 22:13:20 app/\n\
         -rw-r--r-- 0/0        6 2023-11-14 22:13:20 app/hello.txt\n\
         -rwsr-xr-x 0/0       10 2023-11-14 22:13:20 app/tool\n\
         lrwxrwxrwx 0/0        0 2023-11-14 22:13:20 app/link -> hello.txt\n\
         hrw-r--r-- 0/0        0 2023-11-14 22:13:20 app/hard link to app/hello.txt\n\
         -rw------- 0/0        1 2023-11-14 22:13:20 app/{}\n\
         -rw-r--r-- 0/0        3 1970-01-01 00:00:00 données/é.txt\n",
        "n".repeat(120)
    );
    assert_eq!(listing(entries), want);
    assert_eq!(
        entries[1].content_sha256.as_deref(),
        Some(&sha256(b"hello\n")[7..])
    );
    assert_eq!(entries[6].path_bytes, "données/é.txt".as_bytes());
}

/// One test per broken layout: `name: compression, fault => [substrings of the error]`.
macro_rules! rejects {
    ($($name:ident: $compression:literal, $fault:expr => [$($want:expr),*];)*) => {$(
        #[test]
        fn $name() {
            let (_tmp, dir, _) = fixture($compression, $fault);
            let err = error_of(&dir);
            for want in [$($want),*] {
                assert!(err.contains(want), "error {err:?} lacks {want:?}");
            }
        }
    )*};
}

rejects! {
    rejects_a_flipped_layer_byte: "gzip", Break::FlipLayerByte => ["layer 0 (sha256:", "digest mismatch"];
    rejects_a_wrong_layer_size: "none", Break::LayerSizePlusOne => ["layer 0 (sha256:", "size mismatch", "blob has"];
    rejects_a_wrong_diff_id: "zstd", Break::WrongDiffId => ["layer 0 (sha256:", "diff_ids[0]", sha256(b"other").as_str()];
    rejects_a_manifest_without_media_type: "gzip", Break::NoManifestMediaType => ["manifest sha256:", "mediaType is not set"];
    rejects_schema_violations: "gzip", Break::BadLayerMediaType => ["not match the OCI schema", "/layers/0/mediaType"];
    rejects_a_created_time_that_is_no_date: "gzip", Break::BadCreated => ["config sha256:", "at '/created'", "date-time"];
    rejects_temp_files_in_blobs: "gzip", Break::ExtraFile("blobs/sha256/.tmp-1") => ["unexpected 'blobs/sha256/.tmp-1'"];
    rejects_temp_files_at_the_top: "gzip", Break::ExtraFile("index.json.tmp") => ["unexpected 'index.json.tmp'"];
}

#[test]
fn rejects_unreferenced_blobs_unless_allowed() {
    let (_tmp, dir, _) = fixture("gzip", Break::Nothing);
    let stray = put(&dir, b"left over", "x/y");
    let err = error_of(&dir);
    let hex = &stray["digest"].as_str().unwrap()[7..];
    assert!(
        err.contains(&format!("unreferenced blob blobs/sha256/{hex}")),
        "{err}"
    );
    let lenient = CheckOptions {
        allow_unreferenced_blobs: true,
        ..CheckOptions::default()
    };
    check_image_with(&dir, &lenient).unwrap();
}

#[test]
fn third_party_mode_tolerates_missing_media_types_only() {
    let (_tmp, dir, _) = fixture("gzip", Break::NoManifestMediaType);
    check_image_with(&dir, &CheckOptions::third_party()).unwrap();
    let index = std::fs::read_to_string(dir.join("index.json")).unwrap();
    std::fs::write(
        dir.join("index.json"),
        index.replace(MEDIA_INDEX, MEDIA_MANIFEST),
    )
    .unwrap();
    let err = check_image_with(&dir, &CheckOptions::third_party()).unwrap_err();
    assert!(
        format!("{err:#}").contains("index.json: mediaType is '"),
        "{err:#}"
    );
}

#[test]
fn archives_are_checked_with_their_docker_manifest() {
    let (_tmp, dir, manifest) = fixture("gzip", Break::Nothing);
    let config = blob_path(manifest["config"]["digest"].as_str().unwrap());
    let layer = blob_path(manifest["layers"][0]["digest"].as_str().unwrap());
    let good = json!([{"Config": config, "RepoTags": ["app:1"], "Layers": [layer]}]);
    let img = check_image(&archive(&dir, Some(good))).unwrap();
    assert_eq!(
        img.docker_manifest.unwrap()[0]["RepoTags"],
        json!(["app:1"])
    );
    let bad = json!([{"Config": config, "RepoTags": ["app:1"], "Layers": [config]}]);
    let err = error_of(&archive(&dir, Some(bad)));
    assert!(err.contains("manifest.json [0]: Layers are not"), "{err}");
    std::fs::write(dir.join("blobs/sha256/tmp-partial"), b"x").unwrap();
    let err = error_of(&archive(&dir, None));
    assert!(
        err.contains("unexpected 'blobs/sha256/tmp-partial'"),
        "{err}"
    );
}

#[test]
fn garbage_inputs_are_errors_not_panics() {
    let tmp = tempfile::tempdir().unwrap();
    let (junk, empty) = (tmp.path().join("junk.tar"), tmp.path().join("empty"));
    std::fs::write(&junk, vec![7u8; 2000]).unwrap();
    std::fs::create_dir(&empty).unwrap();
    assert!(error_of(&junk).contains("junk.tar"));
    assert!(error_of(&empty).contains("oci-layout is missing"));
    assert!(error_of(&tmp.path().join("absent")).contains("absent"));
}
