//! The documents of an image, read strictly: index and manifest parsing, a document's own
//! media type, descriptors' embedded data, sha256 digests that become paths, platform sets
//! of `index.json`, and the `oci-layout` version.

use std::collections::HashMap;

use anyhow::Result;
use oci_spec::image::{Descriptor, ImageIndex, ImageManifest, MediaType};
use serde::Deserialize;
use serde_json::Value;

use crate::digest::Sha256Sum;
use crate::error::invalid;
use crate::image::{canonical, is_manifest, manifest};

/// Descriptors' embedded `data` (OCI 1.1, base64) must be exactly the content they describe:
/// its size and its digest.
pub(super) fn check_embedded<'a>(descs: impl Iterator<Item = &'a Descriptor>) -> Result<()> {
    for desc in descs {
        let Some(data) = desc.data() else { continue };
        let bytes = crate::digest::decode_base64(data).ok_or_else(|| {
            invalid(format!(
                "the embedded data of descriptor {} is not valid base64",
                desc.digest()
            ))
        })?;
        if bytes.len() as u64 != desc.size() {
            return Err(invalid(format!(
                "the embedded data of descriptor {} is {} bytes, but the descriptor says {}",
                desc.digest(),
                bytes.len(),
                desc.size()
            )));
        }
        let d = desc.digest();
        let algorithm = d.algorithm().to_string();
        match crate::digest::has_digest(&algorithm, d.digest(), &bytes) {
            Some(true) => {}
            Some(false) => {
                return Err(invalid(format!(
                    "the embedded data of descriptor {d} does not match its digest"
                )));
            }
            None => {
                return Err(invalid(format!(
                    "the embedded data of descriptor {d} cannot be checked: \
                     unsupported digest algorithm"
                )));
            }
        }
    }
    Ok(())
}

/// index.json's entries with each platform set replaced by one entry: several distinct
/// manifests under one tag (how several tools write a multi-platform layout) become an
/// index made here, listed under that tag, so that they are chosen from by platform
/// exactly like an image index's. Returns the new index, the made indexes' bytes by hex
/// digest, and each set's tag by digest.
#[allow(clippy::type_complexity)]
pub(super) fn platform_sets(
    index: ImageIndex,
) -> Result<(
    ImageIndex,
    HashMap<String, Vec<u8>>,
    HashMap<String, String>,
)> {
    let entries = index.manifests();
    let mut made = HashMap::new();
    let mut sets = HashMap::new();
    let mut out: Vec<Descriptor> = Vec::new();
    let mut done: Vec<&str> = Vec::new();
    for d in entries {
        let Some(tag) = manifest::ref_name(d) else {
            out.push(d.clone());
            continue;
        };
        if done.contains(&tag) {
            continue;
        }
        done.push(tag);
        let mut members: Vec<&Descriptor> = Vec::new();
        for e in entries
            .iter()
            .filter(|e| manifest::ref_name(e) == Some(tag))
        {
            if !members.iter().any(|m| m.digest() == e.digest()) {
                members.push(e);
            }
        }
        if members.len() < 2 || !members.iter().all(|m| is_manifest(m.media_type())) {
            out.extend(
                entries
                    .iter()
                    .filter(|e| manifest::ref_name(e) == Some(tag))
                    .cloned(),
            );
            continue;
        }
        let listed: Vec<Descriptor> = members
            .iter()
            .map(|m| {
                let mut m = (*m).clone();
                if let Some(mut ann) = m.annotations().clone() {
                    ann.remove(manifest::ANNOTATION_REF_NAME);
                    m.set_annotations((!ann.is_empty()).then_some(ann));
                }
                m
            })
            .collect();
        let set = manifest::build_index(listed, &[])?;
        let raw = canonical::to_vec(&set, "an index for a platform set")?;
        let sum = Sha256Sum::of(&raw);
        let desc = manifest::tagged(
            &manifest::descriptor(MediaType::ImageIndex, &sum, raw.len() as u64),
            Some(tag),
        );
        sets.insert(sum.prefixed(), tag.to_owned());
        made.insert(sum.hex().to_owned(), raw);
        out.push(desc);
    }
    if sets.is_empty() {
        return Ok((index, made, sets));
    }
    let mut index = index;
    index.set_manifests(out);
    Ok((index, made, sets))
}

/// The 64 hex characters of a descriptor's sha256 digest; anything else is refused before
/// it can become part of a path.
pub fn sha256_hex(desc: &Descriptor) -> Result<&str> {
    let d = desc.digest();
    let hex = d.digest();
    if d.algorithm().to_string() == "sha256" && Sha256Sum::from_hex(hex).is_some() {
        Ok(hex)
    } else {
        Err(invalid(format!("unsupported or malformed digest '{d}'")))
    }
}

/// A document's own mediaType, when present, must agree with its descriptor's.
pub(super) fn check_declared(desc: &Descriptor, own: Option<&MediaType>) -> Result<()> {
    if let Some(own) = own
        && own != desc.media_type()
    {
        return Err(invalid(format!(
            "{} is described as {} but says it is {own}",
            desc.digest(),
            desc.media_type()
        )));
    }
    Ok(())
}

/// Parse an index strictly: no duplicate fields, not also shaped like a manifest.
pub fn parse_index(raw: &[u8]) -> Result<ImageIndex> {
    let v: Value =
        serde_json::from_slice(raw).map_err(|e| invalid(format!("not valid JSON: {e}")))?;
    if v.get("config").is_some() || v.get("layers").is_some() {
        return Err(invalid(
            "an index that also has config or layers is ambiguous",
        ));
    }
    serde_json::from_slice(raw).map_err(|e| invalid(format!("not a valid image index: {e}")))
}

/// Parse a manifest strictly: no duplicate fields, not also shaped like an index.
pub fn parse_manifest(raw: &[u8]) -> Result<ImageManifest> {
    let v: Value =
        serde_json::from_slice(raw).map_err(|e| invalid(format!("not valid JSON: {e}")))?;
    if v.get("manifests").is_some() {
        return Err(invalid("a manifest that also has manifests is ambiguous"));
    }
    serde_json::from_slice(raw).map_err(|e| invalid(format!("not a valid image manifest: {e}")))
}

pub(super) fn check_layout_version(raw: &[u8]) -> Result<()> {
    #[derive(Deserialize)]
    struct OciLayout {
        #[serde(rename = "imageLayoutVersion")]
        version: String,
    }
    let l: OciLayout = serde_json::from_slice(raw)
        .map_err(|e| invalid(format!("oci-layout is not valid: {e}")))?;
    if l.version != "1.0.0" {
        return Err(invalid(format!(
            "unsupported image layout version {}",
            l.version
        )));
    }
    Ok(())
}
