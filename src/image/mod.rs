//! Stage 4: the OCI documents. `config` (one per platform), `manifest` (one per platform, and
//! the index), all encoded by `canonical`; `platform` parses and normalises `--platform`.
//! Reading images from disk: `reference` (the IMAGE argument) and `source` (layouts, OCI
//! archives, docker-save archives, one model, every blob verified).

pub mod base;
pub mod canonical;
pub mod config;
pub mod copy;
pub mod manifest;
pub mod platform;
pub mod reference;
pub mod source;
pub mod verify;

use oci_spec::image::MediaType;

use crate::compress::Algorithm;

pub use platform::Platform;

const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";
const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
const DOCKER_LAYER_ZSTD: &str = "application/vnd.docker.image.rootfs.diff.tar.zstd";

/// An image index (OCI) or manifest list (Docker).
pub fn is_index(mt: &MediaType) -> bool {
    matches!(mt, MediaType::ImageIndex) || mt.to_string() == DOCKER_LIST
}

/// An image manifest (OCI) or schema 2 manifest (Docker).
pub fn is_manifest(mt: &MediaType) -> bool {
    matches!(mt, MediaType::ImageManifest) || mt.to_string() == DOCKER_MANIFEST
}

/// An image config (OCI or Docker).
pub fn is_config(mt: &MediaType) -> bool {
    matches!(mt, MediaType::ImageConfig) || mt.to_string() == DOCKER_CONFIG
}

/// The compression of a layer media type, OCI or Docker; None when it is not a layer we
/// can read.
pub fn layer_compression(mt: &MediaType) -> Option<Algorithm> {
    match mt {
        MediaType::ImageLayer | MediaType::ImageLayerNonDistributable => Some(Algorithm::None),
        MediaType::ImageLayerGzip | MediaType::ImageLayerNonDistributableGzip => {
            Some(Algorithm::Gzip)
        }
        MediaType::ImageLayerZstd | MediaType::ImageLayerNonDistributableZstd => {
            Some(Algorithm::Zstd)
        }
        other => match other.to_string().as_str() {
            DOCKER_LAYER => Some(Algorithm::None),
            DOCKER_LAYER_GZIP => Some(Algorithm::Gzip),
            DOCKER_LAYER_ZSTD => Some(Algorithm::Zstd),
            _ => None,
        },
    }
}

/// The OCI media type for a layer of this compression.
pub fn oci_layer(algorithm: Algorithm) -> MediaType {
    match algorithm {
        Algorithm::None => MediaType::ImageLayer,
        Algorithm::Gzip => MediaType::ImageLayerGzip,
        Algorithm::Zstd => MediaType::ImageLayerZstd,
    }
}

/// Guess a layer's compression from its first bytes.
pub fn sniff_compression(head: &[u8]) -> Algorithm {
    if head.starts_with(&[0x1f, 0x8b]) {
        Algorithm::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Algorithm::Zstd
    } else {
        Algorithm::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        assert!(is_index(&MediaType::ImageIndex));
        assert!(is_index(&MediaType::Other(DOCKER_LIST.into())));
        assert!(is_manifest(&MediaType::Other(DOCKER_MANIFEST.into())));
        assert!(!is_manifest(&MediaType::ImageIndex));
        assert_eq!(
            layer_compression(&MediaType::Other(DOCKER_LAYER_GZIP.into())),
            Some(Algorithm::Gzip)
        );
        assert_eq!(
            layer_compression(&MediaType::ImageLayerZstd),
            Some(Algorithm::Zstd)
        );
        assert_eq!(layer_compression(&MediaType::ImageConfig), None);
        assert_eq!(sniff_compression(&[0x1f, 0x8b, 8]), Algorithm::Gzip);
        assert_eq!(sniff_compression(b"ustar"), Algorithm::None);
    }
}
