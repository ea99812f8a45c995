//! Manifests (one per platform) and the image index: descriptors with their media types
//! always set, annotations for tags and creation time.

use std::collections::HashMap;

use anyhow::{Context as _, Result};
use oci_spec::image::{
    Descriptor, ImageIndex, ImageIndexBuilder, ImageManifest, ImageManifestBuilder, MediaType,
};

/// Annotation naming the tag of an index entry.
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// Annotation holding the creation time (RFC 3339).
pub const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";
/// Annotation naming the base image reference.
pub const ANNOTATION_BASE_NAME: &str = "org.opencontainers.image.base.name";
/// Annotation holding the base image manifest digest.
pub const ANNOTATION_BASE_DIGEST: &str = "org.opencontainers.image.base.digest";

/// A descriptor for a blob we wrote.
pub fn descriptor(
    media_type: MediaType,
    digest: &crate::digest::Sha256Sum,
    size: u64,
) -> Descriptor {
    Descriptor::new(media_type, size, digest.to_oci())
}

/// An OCI image manifest for a config and layers, with annotations if any.
pub fn build_manifest(
    config: Descriptor,
    layers: Vec<Descriptor>,
    annotations: &[(String, String)],
) -> Result<ImageManifest> {
    let mut b = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(config)
        .layers(layers);
    if !annotations.is_empty() {
        b = b.annotations(annotations.iter().cloned().collect::<HashMap<_, _>>());
    }
    b.build().context("building the image manifest")
}

/// An OCI image index over manifest descriptors, with annotations if any.
pub fn build_index(
    manifests: Vec<Descriptor>,
    annotations: &[(String, String)],
) -> Result<ImageIndex> {
    let mut b = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(manifests);
    if !annotations.is_empty() {
        b = b.annotations(annotations.iter().cloned().collect::<HashMap<_, _>>());
    }
    b.build().context("building the image index")
}

/// The descriptor as it goes into `index.json` for one tag (or none).
pub fn tagged(desc: &Descriptor, tag: Option<&str>) -> Descriptor {
    let mut d = desc.clone();
    if let Some(tag) = tag {
        let mut ann = d.annotations().clone().unwrap_or_default();
        ann.insert(ANNOTATION_REF_NAME.to_owned(), tag.to_owned());
        d.set_annotations(Some(ann));
    }
    d
}

/// The tag recorded on an `index.json` entry, if any.
pub fn ref_name(desc: &Descriptor) -> Option<&str> {
    desc.annotations()
        .as_ref()
        .and_then(|a| a.get(ANNOTATION_REF_NAME))
        .map(String::as_str)
}

/// The fully qualified form of a Docker-style reference, as `docker save` records RepoTags:
/// `busybox` → `docker.io/library/busybox:latest`, `me/app:1` → `docker.io/me/app:1`.
/// References with a registry host (a first component with `.` or `:`, or `localhost`) only
/// get `:latest` added when they have no tag.
pub fn normalize_docker_ref(r: &str) -> String {
    let (name, digest) = match r.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (r, None),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    let mut full = if last.contains(':') || digest.is_some() {
        name.to_owned()
    } else {
        format!("{name}:latest")
    };
    let first = name.split('/').next().unwrap_or(name);
    let has_host =
        name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    if !has_host {
        full = if name.contains('/') {
            format!("docker.io/{full}")
        } else {
            format!("docker.io/library/{full}")
        };
    }
    match digest {
        Some(d) => format!("{full}@{d}"),
        None => full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_refs_normalise() {
        assert_eq!(
            normalize_docker_ref("busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(normalize_docker_ref("base:1"), "docker.io/library/base:1");
        assert_eq!(normalize_docker_ref("me/app:2"), "docker.io/me/app:2");
        assert_eq!(
            normalize_docker_ref("docker.io/library/base:1"),
            "docker.io/library/base:1"
        );
        assert_eq!(
            normalize_docker_ref("localhost/app"),
            "localhost/app:latest"
        );
        assert_eq!(normalize_docker_ref("ghcr.io/o/app:3"), "ghcr.io/o/app:3");
        assert_eq!(normalize_docker_ref("reg:5000/app"), "reg:5000/app:latest");
    }
}
