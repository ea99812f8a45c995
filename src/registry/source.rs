//! A registry as an image source: the reference is resolved to its manifest or index (one
//! request; none when it is pinned by a digest the cache holds), and every blob an
//! [`Image`](crate::image::source::Image) asks for is fetched into the content-addressed
//! cache first (temporary file, verified, renamed), then read from there. So only what is
//! read is fetched (the layers of the selected platform), and a pinned base builds with
//! the network gone.

use std::io::Read;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use oci_spec::image::{Descriptor, MediaType};
use serde::Deserialize;

use super::{Reference, Registry};
use crate::cancel::Cancel;
use crate::digest::Sha256Sum;
use crate::error::{MissingFromImage, invalid};
use crate::image::source::{BlobSource, Form};
use crate::image::{canonical, is_index, is_manifest, manifest};
use crate::store::BlobStore;

/// A reference in a registry, opened: its top manifest or index is known and cached.
pub struct RegistrySource {
    registry: Arc<Registry>,
    reference: Reference,
    cache: BlobStore,
    index: Vec<u8>,
    cancel: Cancel,
}

impl RegistrySource {
    /// Resolve `reference` (from the cache when it is pinned by a digest the cache holds);
    /// blobs are fetched later, when read. `cancel` stops any request.
    pub fn open(
        registry: Arc<Registry>,
        reference: &Reference,
        cancel: &Cancel,
    ) -> Result<RegistrySource> {
        let cache = registry.cache()?;
        // Pinned: no request at all when the cache has it. A tag: one HEAD, and the body
        // only when the cache lacks it.
        let digest = match reference.digest() {
            Some(d) => d
                .strip_prefix("sha256:")
                .and_then(Sha256Sum::from_hex)
                .ok_or_else(|| invalid(format!("'{d}' is not a sha256 digest")))?,
            None => registry.head_digest(reference, cancel)?,
        };
        let bytes = if cache.has(&digest) {
            read_cached(&cache, &digest)?
        } else {
            let by_digest = reference.clone_with_digest(digest.prefixed());
            let (bytes, _) = registry.resolve(&by_digest, cancel)?;
            cache.put_bytes(&bytes)?;
            bytes
        };
        let media_type = media_type_of(&bytes).with_context(|| {
            format!(
                "reading the manifest of {}/{}",
                reference.registry(),
                reference.repository()
            )
        })?;
        let top = manifest::tagged(
            &manifest::descriptor(media_type, &digest, bytes.len() as u64),
            reference.tag(),
        );
        let index = manifest::build_index(vec![top], &[])?;
        Ok(RegistrySource {
            registry,
            reference: reference.clone(),
            cache,
            index: canonical::to_vec(&index, "index.json")?,
            cancel: cancel.clone(),
        })
    }
}

impl BlobSource for RegistrySource {
    fn form(&self) -> Form {
        Form::Registry
    }

    fn index_json(&self) -> Result<Vec<u8>> {
        Ok(self.index.clone())
    }

    fn open_blob(&self, hex: &str, desc: &Descriptor) -> Result<Box<dyn Read + '_>> {
        let sum = Sha256Sum::from_hex(hex).ok_or_else(|| invalid(format!("bad digest {hex}")))?;
        if !self.cache.has(&sum) {
            let document = is_manifest(desc.media_type()) || is_index(desc.media_type());
            self.registry
                .fetch(&self.reference, &sum, document, &self.cache, &self.cancel)?;
        }
        match self.cache.open_existing(&sum)? {
            Some(f) => Ok(Box::new(f)),
            None => Err(MissingFromImage(format!("the cache has no blob {sum}")).into()),
        }
    }

    fn warnings(&self) -> Vec<String> {
        self.registry.warnings()
    }
}

fn read_cached(cache: &BlobStore, sum: &Sha256Sum) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let Some(f) = cache.open_existing(sum)? else {
        return Err(MissingFromImage(format!("the cache has no blob {sum}")).into());
    };
    f.take(4 << 20).read_to_end(&mut bytes)?;
    if Sha256Sum::of(&bytes) != *sum {
        return Err(invalid(format!(
            "the cached manifest {sum} does not match its digest (remove it from the cache)"
        )));
    }
    Ok(bytes)
}

/// A manifest's or index's media type, from its own `mediaType` field, or from its shape
/// when it has none (an OCI index has `manifests`, a manifest `config`).
fn media_type_of(bytes: &[u8]) -> Result<MediaType> {
    #[derive(Deserialize)]
    struct Shape {
        #[serde(rename = "mediaType")]
        media_type: Option<String>,
        manifests: Option<serde_json::Value>,
        config: Option<serde_json::Value>,
    }
    let shape: Shape = serde_json::from_slice(bytes)
        .map_err(|e| invalid(format!("the manifest is not valid JSON: {e}")))?;
    let mt = match (shape.media_type, shape.manifests, shape.config) {
        (Some(mt), _, _) => MediaType::from(mt.as_str()),
        (None, Some(_), None) => MediaType::ImageIndex,
        (None, None, Some(_)) => MediaType::ImageManifest,
        _ => return Err(invalid("neither a manifest nor an index")),
    };
    if !(is_manifest(&mt) || is_index(&mt)) {
        return Err(invalid(format!(
            "{mt} is neither an image manifest nor an index"
        )));
    }
    Ok(mt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_come_from_the_document() {
        let docker = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[]}"#;
        assert!(is_index(&media_type_of(docker).unwrap()));
        let oci = br#"{"schemaVersion":2,"config":{},"layers":[]}"#;
        assert_eq!(media_type_of(oci).unwrap(), MediaType::ImageManifest);
        let index = br#"{"schemaVersion":2,"manifests":[]}"#;
        assert_eq!(media_type_of(index).unwrap(), MediaType::ImageIndex);
        assert!(media_type_of(br#"{"mediaType":"text/plain"}"#).is_err());
        assert!(media_type_of(b"nope").is_err());
    }
}
