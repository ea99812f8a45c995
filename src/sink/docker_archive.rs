//! docker-save archives, as `export --format docker-archive` writes them: the form `docker
//! save` has produced since Docker 25, which is an OCI archive (`oci-layout`, `index.json`,
//! `blobs/sha256/…`) whose Docker `manifest.json` names the image's config and layers by
//! their blob paths, with `RepoTags`. `docker load` reads `manifest.json` (every version
//! does) and `podman load` reads either; the blobs are the source's, byte for byte, so every
//! digest is kept and the archive can be read back as an OCI archive.
//!
//! The classic form (one `<id>/layer.tar` per layer, uncompressed, and a `repositories`
//! file) is not written by export: it would need every layer decompressed and the manifest
//! rewritten, changing the image's digests. `build --format docker-archive` writes it
//! ([`super::docker_save`]), where the layers are made uncompressed in the first place. Because `manifest.json` describes single-platform images,
//! a docker archive holds exactly one image: the caller picks one platform of an index.

use anyhow::Result;

use super::ImageRecord;
use crate::error::UsageError;
use crate::image::is_manifest;

/// A docker archive's image must be one manifest (not an index).
pub(super) fn check_record(record: &ImageRecord) -> Result<()> {
    if is_manifest(record.top.media_type()) {
        Ok(())
    } else {
        Err(
            UsageError::new("a docker archive holds a single-platform image")
                .with_hint("choose one platform with --platform, or use --format oci-archive")
                .into(),
        )
    }
}
