use oci_spec::image::MediaType;

use super::*;
use crate::image::manifest;

fn manifest_entry(byte: u8, tag: Option<&str>) -> Descriptor {
    let sum = Sha256Sum::of(&[byte]);
    manifest::tagged(
        &manifest::descriptor(MediaType::ImageManifest, &sum, 1),
        tag,
    )
}

#[test]
fn manifests_under_one_tag_become_one_index() {
    let entries = vec![
        manifest_entry(1, Some("latest")),
        manifest_entry(2, Some("other")),
        manifest_entry(3, Some("latest")),
        manifest_entry(1, Some("latest")),
    ];
    let index = manifest::build_index(entries, &[]).unwrap();
    let (index, made, sets) = platform_sets(index).unwrap();
    let tops = index.manifests();
    assert_eq!(tops.len(), 2, "{tops:?}");
    assert_eq!(tops[0].media_type(), &MediaType::ImageIndex);
    assert_eq!(manifest::ref_name(&tops[0]), Some("latest"));
    assert_eq!(manifest::ref_name(&tops[1]), Some("other"));
    assert_eq!(sets.get(&tops[0].digest().to_string()).unwrap(), "latest");
    let raw = made.get(sha256_hex(&tops[0]).unwrap()).unwrap();
    assert_eq!(Sha256Sum::of(raw).prefixed(), tops[0].digest().to_string());
    let set = parse_index(raw).unwrap();
    let listed: Vec<String> = set
        .manifests()
        .iter()
        .map(|d| d.digest().to_string())
        .collect();
    assert_eq!(
        listed,
        [
            Sha256Sum::of(&[1]).prefixed(),
            Sha256Sum::of(&[3]).prefixed()
        ]
    );
    assert!(
        set.manifests()
            .iter()
            .all(|d| manifest::ref_name(d).is_none())
    );
}

#[test]
fn single_images_and_indexes_are_left_alone() {
    let mut an_index = manifest_entry(4, Some("multi"));
    an_index.set_media_type(MediaType::ImageIndex);
    let entries = vec![
        manifest_entry(1, Some("a")),
        manifest_entry(2, None),
        manifest_entry(3, None),
        an_index.clone(),
        manifest_entry(5, Some("multi")),
    ];
    let index = manifest::build_index(entries.clone(), &[]).unwrap();
    let (index, made, sets) = platform_sets(index).unwrap();
    assert_eq!(index.manifests(), &entries);
    assert!(made.is_empty() && sets.is_empty());
}

#[test]
fn missing_blobs_are_recognised_by_type() {
    let hex = "ab".repeat(32);
    let expected = format!("blob sha256:{hex} is missing from the image");
    let member = MissingFromImage("the archive has no 'blobs/sha256/ab'".into());
    let gone = anyhow::Error::new(io::Error::from(io::ErrorKind::NotFound)).context("opening");
    for e in [anyhow::Error::new(member), gone] {
        let e = missing(e, &hex);
        assert!(e.is::<crate::error::InvalidImage>(), "{e:#}");
        assert_eq!(e.to_string(), expected);
    }
    // Other errors are kept, whatever their text says.
    for e in [
        anyhow::anyhow!("the archive has no 'x'"),
        anyhow::Error::new(io::Error::from(io::ErrorKind::PermissionDenied)),
    ] {
        let text = e.to_string();
        assert_eq!(missing(e, &hex).to_string(), text);
    }
}

#[test]
fn embedded_data_must_be_the_content() {
    let content = b"{}";
    let mut d = manifest::descriptor(MediaType::ImageConfig, &Sha256Sum::of(content), 2);
    assert!(check_embedded(std::iter::once(&d)).is_ok());
    d.set_data(Some("e30=".into()));
    assert!(check_embedded(std::iter::once(&d)).is_ok());
    for bad in ["e31=", "e30", "e30AAA==", "!!!!"] {
        d.set_data(Some(bad.into()));
        let e = check_embedded(std::iter::once(&d)).unwrap_err();
        assert!(e.is::<crate::error::InvalidImage>(), "{bad}: {e:#}");
    }
}
