//! Converting between image forms: every blob under the exported descriptor (indexes,
//! manifests, configs, layers, and any other blob an index lists) copied into the output
//! destination byte for byte, each verified against its descriptor while it is copied, so every
//! digest is kept. Then the `ImageRecord` for the output's `index.json` and Docker
//! `manifest.json`.

use std::collections::HashSet;

use anyhow::{Context as _, Result};
use oci_spec::image::Descriptor;

use crate::cancel::Cancel;
use crate::digest::Sha256Sum;
use crate::error::invalid;
use crate::image::source::{Image, MAX_DEPTH, MAX_DOCUMENT, Selected, parse_manifest, sha256_hex};
use crate::image::{Platform, is_index, is_manifest, manifest};
use crate::progress::Progress;
use crate::sink::{Destination, ImageRecord};

/// What a copy moved so far; one value spans several `copy_tree` calls into one destination.
#[derive(Debug, Default)]
pub struct Copied {
    /// Blobs copied.
    pub blobs: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Blobs copied or checked, by digest, size and media type: a second descriptor with
    /// the same digest but another size or media type is checked as what it claims.
    done: HashSet<(String, u64, String)>,
}

/// Export: copy the image `top` of `image` (an entry of its index, or one platform's
/// manifest) with every blob under it into `dest`, verified, and commit it there with
/// `tags`. `docker` is the one image Docker's `manifest.json` names (see [`docker_image`]).
/// Every digest is kept: the blobs are the source's, byte for byte.
pub fn export(
    image: &Image,
    top: &Descriptor,
    docker: &Selected,
    tags: &[String],
    mut dest: Box<dyn Destination + '_>,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> crate::Result<Copied> {
    let mut copied = Copied::default();
    let run = || -> Result<()> {
        copy_tree(image, top, dest.as_mut(), &mut copied, progress, cancel)
            .with_context(|| format!("copying the blobs of '{}'", image.reference))?;
        dest.finish(&record(top, tags, docker)?, cancel)
    };
    run()?;
    Ok(copied)
}

/// Copy `desc` and everything it references into `dest`.
pub fn copy_tree(
    image: &Image,
    desc: &Descriptor,
    dest: &mut dyn Destination,
    c: &mut Copied,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<()> {
    copy_under(image, desc, dest, c, progress, cancel, 0)
}

fn copy_under(
    image: &Image,
    desc: &Descriptor,
    dest: &mut dyn Destination,
    c: &mut Copied,
    progress: &dyn Progress,
    cancel: &Cancel,
    depth: usize,
) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(invalid(format!("indexes nest more than {MAX_DEPTH} deep")));
    }
    if !copy_blob(image, desc, dest, c, progress, cancel)? {
        return Ok(());
    }
    if is_index(desc.media_type()) {
        let (index, _) = image.read_index(desc)?;
        for child in index.manifests() {
            copy_under(image, child, dest, c, progress, cancel, depth + 1)?;
        }
    } else if is_manifest(desc.media_type()) {
        let raw = image.read_blob(desc, MAX_DOCUMENT)?;
        let m =
            parse_manifest(&raw).with_context(|| format!("reading manifest {}", desc.digest()))?;
        copy_blob(image, m.config(), dest, c, progress, cancel)?;
        for layer in m.layers() {
            copy_blob(image, layer, dest, c, progress, cancel)?;
        }
    }
    Ok(())
}

/// Copy one blob, verified; false when it was copied before.
fn copy_blob(
    image: &Image,
    desc: &Descriptor,
    dest: &mut dyn Destination,
    c: &mut Copied,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<bool> {
    let hex = sha256_hex(desc)?.to_owned();
    let key = (hex.clone(), desc.size(), desc.media_type().to_string());
    if !c.done.insert(key) {
        return Ok(false);
    }
    let digest =
        Sha256Sum::from_hex(&hex).expect("sha256_hex returned 64 lowercase hex characters");
    if dest.has_blob(&digest) {
        // Copied before under another descriptor: read this one through its own check.
        let mut blob = image.open_blob(desc)?;
        std::io::copy(&mut blob, &mut std::io::sink())
            .with_context(|| format!("reading blob {}", desc.digest()))?;
        return Ok(true);
    }
    c.blobs += 1;
    c.bytes = c.bytes.saturating_add(desc.size());
    image.copy_blob_into(desc, dest, progress, cancel)?;
    Ok(true)
}

/// The output's `index.json` entry (`top`, its source tags dropped) with `tags`, and the
/// image that Docker's `manifest.json` names: `docker` (one platform's image).
pub fn record(top: &Descriptor, tags: &[String], docker: &Selected) -> Result<ImageRecord> {
    let mut top = top.clone();
    if let Some(mut ann) = top.annotations().clone() {
        ann.remove(manifest::ANNOTATION_REF_NAME);
        top.set_annotations((!ann.is_empty()).then_some(ann));
    }
    let sum = |d: &Descriptor| -> Result<Sha256Sum> {
        Sha256Sum::from_hex(sha256_hex(d)?).context("a digest that is not sha256")
    };
    Ok(ImageRecord {
        top,
        tags: tags.to_vec(),
        docker_config: sum(docker.manifest.config())?,
        docker_layers: docker
            .manifest
            .layers()
            .iter()
            .map(sum)
            .collect::<Result<_>>()?,
    })
}

/// The image Docker's `manifest.json` names for an index: the host's platform, else the
/// first.
pub fn docker_image(image: &Image) -> Result<Selected> {
    let candidates = image.candidates()?;
    let host = Platform::host();
    let pick = candidates
        .iter()
        .find(|(_, p)| Some(p) == host.as_ref())
        .or_else(|| candidates.first())
        .map(|(_, p)| p.clone())
        .ok_or_else(|| invalid(format!("'{}' holds no image", image.reference)))?;
    image.select(Some(&pick))
}
