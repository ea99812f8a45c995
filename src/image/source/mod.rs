//! Reading images from disk, whatever their form: an OCI layout directory, an OCI archive,
//! or a `docker save` archive (classic, or Docker 25+), through one model. Everything read
//! is untrusted: JSON documents are size-capped and parsed strictly, blob paths come only
//! from parsed digests, and every blob is verified against its descriptor (digest and size)
//! as it is read.

pub mod archive;
pub mod docker;
mod documents;
pub mod layout;
mod select;

use std::collections::HashMap;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest};

use self::archive::{OciArchive, TarIndex};
use self::docker::DockerArchive;
use self::documents::{check_declared, check_embedded, platform_sets};
pub use self::documents::{parse_index, parse_manifest, sha256_hex};
use self::layout::LayoutDir;
use super::reference::{ImageRef, Transport};
use super::{Platform, is_config, is_index, is_manifest};
use crate::cancel::Cancel;
use crate::digest::{Sha256Sum, VerifyingReader};
use crate::error::{MissingFromImage, UsageError, invalid};
use crate::progress::Progress;
use crate::registry::Registry;
use crate::registry::source::RegistrySource;
use crate::sink::Destination;

/// index.json, indexes and manifests are read up to this size.
pub const MAX_DOCUMENT: u64 = 4 << 20;
/// Image configs are read up to this size.
pub const MAX_CONFIG: u64 = 16 << 20;
/// Indexes nest at most this deep: the one bound for every reader of an image (the reader
/// here, `export`'s copy, `inspect --verify`).
pub const MAX_DEPTH: usize = 8;
/// At most this many manifests in an index and layers in a manifest.
pub(crate) const MAX_ENTRIES: usize = 1000;

/// What an opened image was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// An OCI image-layout directory.
    Layout,
    /// A tar of an OCI image layout.
    OciArchive,
    /// A `docker save` archive (classic or Docker 25+).
    DockerArchive,
    /// An OCI registry (pulled into the blob cache).
    Registry,
}

impl Form {
    /// Its name in messages and `--json`: `oci-dir`, `oci-archive`, `docker-archive` or
    /// `registry`.
    pub fn name(self) -> &'static str {
        match self {
            Form::Layout => "oci-dir",
            Form::OciArchive => "oci-archive",
            Form::DockerArchive => "docker-archive",
            Form::Registry => "registry",
        }
    }
}

/// Where an image's bytes come from: a layout directory ([`LayoutDir`]), an OCI archive
/// ([`archive::OciArchive`]), a `docker save` archive ([`docker::DockerArchive`]); a registry
/// is the next. A source only finds bytes: [`Image`] bounds, parses and verifies everything
/// read through it, so a source need not be trusted.
pub trait BlobSource {
    /// What the source is read as.
    fn form(&self) -> Form;

    /// The bytes of its top-level `index.json` (made from `manifest.json` for a docker
    /// archive), at most [`MAX_DOCUMENT`].
    fn index_json(&self) -> Result<Vec<u8>>;

    /// The stored bytes of the blob `desc` names, whose sha256 is `hex` (64 lowercase hex
    /// digits, checked by the caller), unverified (a registry fetches a manifest from
    /// another endpoint than a layer: the descriptor's media type says which). A blob the
    /// source does not hold is an error carrying [`MissingFromImage`] or an `io::Error` of
    /// kind `NotFound`.
    fn open_blob(&self, hex: &str, desc: &Descriptor) -> Result<Box<dyn Read + '_>>;

    /// Problems found that do not stop reading (a truncated archive member nothing needs).
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
}

/// One platform's image, chosen and verified.
#[derive(Debug, Clone)]
pub struct Selected {
    /// The descriptor of its manifest, as the index lists it.
    pub manifest_desc: Descriptor,
    /// Its manifest, parsed and verified.
    pub manifest: ImageManifest,
    /// Its config, parsed and verified.
    pub config: ImageConfiguration,
    /// Its platform.
    pub platform: Platform,
}

/// An image on disk, opened.
pub struct Image {
    /// The argument it was opened from.
    pub reference: ImageRef,
    /// What it was read as.
    pub form: Form,
    source: Box<dyn BlobSource>,
    index: ImageIndex,
    index_raw: Vec<u8>,
    /// Indexes made here for platform sets (several manifests of index.json under one tag),
    /// by hex digest: their bytes, served like blobs.
    made: HashMap<String, Vec<u8>>,
    /// The tag of each platform set, by the digest of its made index.
    sets: HashMap<String, String>,
    /// Problems that do not stop reading (a truncated archive member nothing needs).
    warnings: Vec<String>,
}

impl Image {
    /// Open the image `reference` names: its index is read and checked; blobs are read,
    /// and verified, when asked for.
    pub fn open(reference: &ImageRef) -> Result<Image> {
        Image::open_with(reference, None)
    }

    /// Open the image `reference` names, which may be in a registry (`docker://`, or a
    /// bare reference such as `busybox:1.36` when no file of that name exists) when
    /// `remote` is given.
    pub fn open_with(reference: &ImageRef, remote: Option<&Remote<'_>>) -> Result<Image> {
        Image::from_source(reference.clone(), open_source(reference, remote)?)
    }

    /// Read the image in `source`, which `reference` names (its tag or pinned digest
    /// choose the image; its text is used in messages).
    pub fn from_source(reference: ImageRef, source: Box<dyn BlobSource>) -> Result<Image> {
        let what = reference.to_string();
        let index_raw = source.index_json()?;
        let index: ImageIndex =
            parse_index(&index_raw).with_context(|| format!("reading index.json of '{what}'"))?;
        if index.manifests().len() > MAX_ENTRIES {
            return Err(invalid(format!(
                "index.json of '{what}' lists more than {MAX_ENTRIES} manifests"
            )));
        }
        check_embedded(index.manifests().iter())
            .with_context(|| format!("reading index.json of '{what}'"))?;
        let warnings = source
            .warnings()
            .into_iter()
            .map(|w| format!("'{what}': {w}"))
            .collect();
        let (index, made, sets) = platform_sets(index)?;
        Ok(Image {
            reference,
            form: source.form(),
            source,
            index,
            index_raw,
            made,
            sets,
            warnings,
        })
    }

    /// The top-level `index.json` (made from manifest.json for docker archives), with each
    /// platform set (several manifests under one tag) as one entry naming an index made for
    /// it (see `is_platform_set`).
    pub fn index(&self) -> &ImageIndex {
        &self.index
    }

    /// True when `desc` is an index made for a platform set of index.json: manifests that
    /// index.json lists under one tag, one per platform, as several tools write a
    /// multi-platform layout. Its bytes are not stored in the image.
    pub fn is_platform_set(&self, desc: &Descriptor) -> bool {
        self.sets.contains_key(&desc.digest().to_string())
    }

    /// Problems found while opening that do not stop reading (a truncated archive member
    /// that nothing read so far needs). The commands print them as warnings; `inspect
    /// --verify` counts them as problems.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The tags `index.json` gives the entry `desc` (by digest), in order.
    pub fn tags_of(&self, desc: &Descriptor) -> Vec<String> {
        self.index
            .manifests()
            .iter()
            .filter(|d| d.digest() == desc.digest())
            .filter_map(super::manifest::ref_name)
            .map(str::to_owned)
            .collect()
    }

    /// The bytes of `index.json` as stored.
    pub fn index_raw(&self) -> &[u8] {
        &self.index_raw
    }

    /// A blob's bytes, verified as they are read (call `drain` when stopping early).
    pub fn open_blob(&self, desc: &Descriptor) -> Result<VerifyingReader<Box<dyn Read + '_>>> {
        let hex = sha256_hex(desc)?;
        if let Some(bytes) = self.made.get(hex) {
            let raw: Box<dyn Read + '_> = Box::new(io::Cursor::new(bytes.as_slice()));
            return Ok(VerifyingReader::new(
                raw,
                hex,
                desc.size(),
                format!("blob sha256:{hex}"),
            ));
        }
        let raw = self
            .source
            .open_blob(hex, desc)
            .map_err(|e| missing(e, hex))?;
        Ok(VerifyingReader::new(
            raw,
            hex,
            desc.size(),
            format!("blob sha256:{hex}"),
        ))
    }

    /// Copy a blob into `dest` under its digest, verified while it is copied (a blob that
    /// does not match never gets its name). Reports the bytes to `progress`.
    pub fn copy_blob_into(
        &self,
        desc: &Descriptor,
        dest: &mut dyn Destination,
        progress: &dyn Progress,
        cancel: &Cancel,
    ) -> Result<()> {
        let hex = sha256_hex(desc)?;
        let digest =
            Sha256Sum::from_hex(hex).expect("sha256_hex returned 64 lowercase hex characters");
        let mut reader = self.open_blob(desc)?;
        let mut buf = vec![0u8; 1 << 20];
        dest.put_blob(&digest, &mut |out| {
            loop {
                cancel.check()?;
                let n = reader
                    .read(&mut buf)
                    .with_context(|| format!("copying blob {}", desc.digest()))?;
                if n == 0 {
                    return Ok(());
                }
                out.write_all(&buf[..n])
                    .with_context(|| format!("writing blob {}", desc.digest()))?;
                progress.advance(n as u64, 0);
            }
        })
    }

    /// A small blob whole, verified; refused when its descriptor says more than `cap`.
    pub fn read_blob(&self, desc: &Descriptor, cap: u64) -> Result<Vec<u8>> {
        if desc.size() > cap {
            return Err(invalid(format!(
                "{} is {} bytes, more than the {cap} allowed for a {}",
                desc.digest(),
                desc.size(),
                desc.media_type()
            )));
        }
        let mut out = Vec::with_capacity(desc.size() as usize);
        self.open_blob(desc)?.read_to_end(&mut out)?;
        Ok(out)
    }
    /// Read and check an index blob.
    pub fn read_index(&self, desc: &Descriptor) -> Result<(ImageIndex, Vec<u8>)> {
        let raw = self.read_blob(desc, MAX_DOCUMENT)?;
        let index =
            parse_index(&raw).with_context(|| format!("reading index {}", desc.digest()))?;
        if index.manifests().len() > MAX_ENTRIES {
            return Err(invalid(format!(
                "index {} lists more than {MAX_ENTRIES} manifests",
                desc.digest()
            )));
        }
        check_declared(desc, index.media_type().as_ref())?;
        check_embedded(index.manifests().iter())
            .with_context(|| format!("reading index {}", desc.digest()))?;
        Ok((index, raw))
    }

    /// Read and check a manifest blob.
    pub fn read_manifest(&self, desc: &Descriptor) -> Result<(ImageManifest, Vec<u8>)> {
        let raw = self.read_blob(desc, MAX_DOCUMENT)?;
        let m =
            parse_manifest(&raw).with_context(|| format!("reading manifest {}", desc.digest()))?;
        if m.layers().len() > MAX_ENTRIES {
            return Err(invalid(format!(
                "manifest {} has more than {MAX_ENTRIES} layers",
                desc.digest()
            )));
        }
        check_declared(desc, m.media_type().as_ref())?;
        check_embedded(
            std::iter::once(m.config())
                .chain(m.layers())
                .chain(m.subject().as_ref()),
        )
        .with_context(|| format!("reading manifest {}", desc.digest()))?;
        if !is_config(m.config().media_type()) {
            return Err(invalid(format!(
                "manifest {} has a config of type {}, not an image config",
                desc.digest(),
                m.config().media_type()
            )));
        }
        Ok((m, raw))
    }

    /// Read a config blob.
    pub fn read_config(&self, desc: &Descriptor) -> Result<(ImageConfiguration, Vec<u8>)> {
        let raw = self.read_blob(desc, MAX_CONFIG)?;
        let c: ImageConfiguration = serde_json::from_slice(&raw).map_err(|e| {
            invalid(format!(
                "config {} is not a valid image config: {e}",
                desc.digest()
            ))
        })?;
        Ok((c, raw))
    }

    /// The manifests under a descriptor: itself when it is a manifest, the manifests of an
    /// index (depth first) otherwise.
    pub fn children(&self, desc: &Descriptor, depth: usize) -> Result<Vec<Descriptor>> {
        if depth > MAX_DEPTH {
            return Err(invalid(format!("indexes nest more than {MAX_DEPTH} deep")));
        }
        if is_manifest(desc.media_type()) {
            return Ok(vec![desc.clone()]);
        }
        if !is_index(desc.media_type()) {
            return Err(invalid(format!(
                "{} has media type {}, neither a manifest nor an index",
                desc.digest(),
                desc.media_type()
            )));
        }
        let (index, _) = self.read_index(desc)?;
        let mut out = Vec::new();
        for d in index.manifests() {
            if is_index(d.media_type()) {
                out.extend(self.children(d, depth + 1)?);
            } else if is_manifest(d.media_type()) {
                out.push(d.clone());
            }
            // Other entries (attestations, artifacts) are not images: skip them.
        }
        Ok(out)
    }
}

/// A blob the image does not hold (a layout's file not found, an archive's member absent)
/// becomes "blob ... is missing"; any other error is kept. Decided by the errors' types.
fn missing(e: anyhow::Error, hex: &str) -> anyhow::Error {
    let not_found = e.chain().any(|c| {
        c.is::<MissingFromImage>()
            || c.downcast_ref::<io::Error>()
                .is_some_and(|io| io.kind() == io::ErrorKind::NotFound)
    });
    if not_found {
        invalid(format!("blob sha256:{hex} is missing from the image"))
    } else {
        e
    }
}

/// What reading an image from a registry needs: the session, and what cancels its
/// requests.
pub struct Remote<'a> {
    /// The registry session.
    pub registry: &'a Arc<Registry>,
    /// Stops any request.
    pub cancel: &'a Cancel,
}

/// The source behind a reference: what its transport says, or what the path holds.
fn open_source(r: &ImageRef, remote: Option<&Remote<'_>>) -> Result<Box<dyn BlobSource>> {
    if let (Transport::Registry, Some(reference)) = (&r.transport, &r.registry) {
        return registry_source(r, reference, remote);
    }
    if let (Some(bare), Some(remote)) = (r.as_bare_registry(), remote)
        && let Some(reference) = &bare.registry
    {
        return registry_source(r, reference, Some(remote)).with_context(|| {
            format!(
                "'{r}' is no file or directory here, so it was read as the registry reference {}",
                reference.whole()
            )
        });
    }
    let form = match (&r.transport, &r.path) {
        (Transport::Registry, _) => {
            return Err(invalid(format!("'{r}' has no registry reference")));
        }
        (Transport::Layout, _) => Form::Layout,
        (Transport::OciArchive, _) => Form::OciArchive,
        (Transport::DockerArchive, _) => Form::DockerArchive,
        (Transport::Sniff, Some(p)) if p.is_dir() => Form::Layout,
        (Transport::Sniff, _) => {
            let tar = tar_of(r.path.as_deref())?;
            return if tar.contains("oci-layout") && tar.contains("index.json") {
                Ok(Box::new(OciArchive::new(tar)?))
            } else if tar.contains("manifest.json") {
                Ok(Box::new(DockerArchive::new(tar)?))
            } else {
                Err(invalid(
                    "not an image archive: it has neither oci-layout nor manifest.json",
                ))
            };
        }
    };
    Ok(match form {
        Form::Layout => {
            let path = r.path.as_deref().ok_or_else(|| {
                anyhow::Error::new(UsageError::new("an oci: layout cannot be read from stdin"))
            })?;
            Box::new(LayoutDir::open(path)?)
        }
        Form::OciArchive => Box::new(OciArchive::new(tar_of(r.path.as_deref())?)?),
        Form::DockerArchive => Box::new(DockerArchive::new(tar_of(r.path.as_deref())?)?),
        Form::Registry => return Err(invalid(format!("'{r}' is not in a registry"))),
    })
}

fn registry_source(
    r: &ImageRef,
    reference: &crate::registry::Reference,
    remote: Option<&Remote<'_>>,
) -> Result<Box<dyn BlobSource>> {
    let Some(remote) = remote else {
        return Err(
            UsageError::new(format!("'{r}' names an image in a registry"))
                .with_hint(
                    "this reads images on disk only: save it first, or use a command that pulls",
                )
                .into(),
        );
    };
    let source = RegistrySource::open(Arc::clone(remote.registry), reference, remote.cancel)?;
    Ok(Box::new(source))
}

fn tar_of(path: Option<&Path>) -> Result<TarIndex> {
    match path {
        Some(p) => TarIndex::open(p),
        None => TarIndex::from_stdin(),
    }
}

#[cfg(test)]
mod tests;
