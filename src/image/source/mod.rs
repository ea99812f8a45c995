//! Reading images from disk, whatever their form: an OCI layout directory, an OCI archive,
//! or a `docker save` archive (classic, or Docker 25+), through one model. Everything read
//! is untrusted: JSON documents are size-capped and parsed strictly, blob paths come only
//! from parsed digests, and every blob is verified against its descriptor (digest and size)
//! as it is read.

pub mod archive;
pub mod layout;

use std::collections::HashMap;
use std::io::{self, Read};
use std::path::Path;

use anyhow::{Context as _, Result};
use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest, MediaType};
use serde::Deserialize;
use serde_json::Value;

use self::archive::TarIndex;
use self::layout::LayoutDir;
use super::reference::{ImageRef, Transport};
use super::{
    Platform, canonical, is_config, is_index, is_manifest, manifest, oci_layer, sniff_compression,
};
use crate::cancel::Cancel;
use crate::digest::{HashWriter, Sha256Sum, VerifyingReader};
use crate::error::{MissingFromImage, UsageError, invalid};
use crate::progress::Progress;
use crate::sink::Destination;

/// index.json, indexes and manifests are read up to this size.
pub const MAX_DOCUMENT: u64 = 4 << 20;
/// Image configs are read up to this size.
pub const MAX_CONFIG: u64 = 16 << 20;
/// Indexes nest at most this deep: the one bound for every reader of an image (the reader
/// here, `export`'s copy, `inspect --verify`).
pub const MAX_DEPTH: usize = 8;
/// At most this many manifests in an index and layers in a manifest.
const MAX_ENTRIES: usize = 1000;

/// What an opened image was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// An OCI image-layout directory.
    Layout,
    /// A tar of an OCI image layout.
    OciArchive,
    /// A `docker save` archive (classic or Docker 25+).
    DockerArchive,
}

impl Form {
    /// Its name in messages and `--json`: `oci-dir`, `oci-archive` or `docker-archive`.
    pub fn name(self) -> &'static str {
        match self {
            Form::Layout => "oci-dir",
            Form::OciArchive => "oci-archive",
            Form::DockerArchive => "docker-archive",
        }
    }
}

enum Store {
    Layout(LayoutDir),
    Archive(TarIndex),
    /// A docker-save archive: blobs are archive members or documents made from manifest.json.
    Docker {
        tar: TarIndex,
        blobs: HashMap<String, DockerBlob>,
    },
}

enum DockerBlob {
    Member(String),
    Bytes(Vec<u8>),
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
    store: Store,
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
        let what = reference.to_string();
        let (form, store, index_raw) = open_store(reference)?;
        let index: ImageIndex =
            parse_index(&index_raw).with_context(|| format!("reading index.json of '{what}'"))?;
        if index.manifests().len() > MAX_ENTRIES {
            return Err(invalid(format!(
                "index.json of '{what}' lists more than {MAX_ENTRIES} manifests"
            )));
        }
        check_embedded(index.manifests().iter())
            .with_context(|| format!("reading index.json of '{what}'"))?;
        let warnings = match &store {
            Store::Layout(_) => Vec::new(),
            Store::Archive(tar) | Store::Docker { tar, .. } => tar
                .warnings()
                .into_iter()
                .map(|w| format!("'{what}': {w}"))
                .collect(),
        };
        let (index, made, sets) = platform_sets(index)?;
        Ok(Image {
            reference: reference.clone(),
            form,
            store,
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
        let raw: Box<dyn Read + '_> = match &self.store {
            Store::Layout(dir) => Box::new(
                dir.open_file(&LayoutDir::blob_rel(hex))
                    .map_err(|e| missing(e, hex))?,
            ),
            Store::Archive(tar) => Box::new(
                tar.open_member(&LayoutDir::blob_rel(hex))
                    .map_err(|e| missing(e, hex))?,
            ),
            Store::Docker { tar, blobs } => match blobs.get(hex) {
                Some(DockerBlob::Member(name)) => Box::new(tar.open_member(name)?),
                Some(DockerBlob::Bytes(b)) => Box::new(io::Cursor::new(b.as_slice())),
                None => {
                    return Err(invalid(format!(
                        "blob sha256:{hex} is missing from the image"
                    )));
                }
            },
        };
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

    /// The entry of index.json that the reference names (by tag, by pinned digest, or the
    /// only one there is).
    pub fn top(&self) -> Result<Descriptor> {
        let entries = self.index.manifests();
        let what = &self.reference;
        if let Some(pin) = &self.reference.pinned {
            if let Some(d) = entries.iter().find(|d| d.digest().to_string() == *pin) {
                return Ok(d.clone());
            }
            for d in entries.iter().filter(|d| is_index(d.media_type())) {
                if let Some(found) = self
                    .children(d, 1)?
                    .into_iter()
                    .find(|c| c.digest().to_string() == *pin)
                {
                    return Ok(found);
                }
            }
            return Err(UsageError::new(format!("'{what}' has no manifest or index {pin}")).into());
        }
        let tags: Vec<&str> = entries.iter().filter_map(manifest::ref_name).collect();
        if let Some(tag) = &self.reference.tag {
            // An exact ref.name first; then, as Docker does, `base:1` for a RepoTag recorded
            // as `docker.io/library/base:1`.
            let wanted = manifest::normalize_docker_ref(tag);
            return entries
                .iter()
                .find(|d| manifest::ref_name(d) == Some(tag.as_str()))
                .or_else(|| {
                    entries.iter().find(|d| {
                        manifest::ref_name(d)
                            .is_some_and(|n| manifest::normalize_docker_ref(n) == wanted)
                    })
                })
                .cloned()
                .ok_or_else(|| {
                    UsageError::new(format!("tag '{tag}' is not in '{}'", self.path_text()))
                        .with_hint(tag_hint(&tags))
                        .into()
                });
        }
        let mut distinct: Vec<&Descriptor> = Vec::new();
        for d in entries {
            if !distinct.iter().any(|x| x.digest() == d.digest()) {
                distinct.push(d);
            }
        }
        match distinct.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(invalid(format!("'{what}' holds no image"))),
            _ => Err(UsageError::new(format!(
                "'{what}' holds {} images; name one with a tag",
                distinct.len()
            ))
            .with_hint(tag_hint(&tags))
            .into()),
        }
    }

    fn path_text(&self) -> String {
        self.reference
            .path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "stdin".into())
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

    /// Every platform manifest the reference names, with its platform.
    pub fn candidates(&self) -> Result<Vec<(Descriptor, Platform)>> {
        let top = self.top()?;
        let mut out = Vec::new();
        for d in self.children(&top, 0)? {
            let platform = match d.platform() {
                Some(p) => Platform::from_oci(p),
                None => self.select_desc(&d)?.platform,
            };
            out.push((d, platform));
        }
        if let Some(tag) = self.sets.get(&top.digest().to_string()) {
            // index.json lists these under one tag: two for one platform leave no way to
            // choose.
            for (i, (d, p)) in out.iter().enumerate() {
                if let Some((other, _)) = out[..i]
                    .iter()
                    .find(|(o, op)| op == p && o.digest() != d.digest())
                {
                    return Err(invalid(format!(
                        "'{}' lists two images for {p} under tag '{}': {} and {} \
                         (name one by its digest: IMAGE@sha256:...)",
                        self.path_text(),
                        crate::error::escape_bytes(tag.as_bytes()),
                        other.digest(),
                        d.digest()
                    )));
                }
            }
        }
        Ok(out)
    }

    /// The image for `want` (or, when None, the only one there is).
    pub fn select(&self, want: Option<&Platform>) -> Result<Selected> {
        let candidates = self.candidates()?;
        let chosen = match want {
            Some(p) => candidates.iter().find(|(_, cp)| cp == p),
            None if candidates.len() == 1 => candidates.first(),
            None => {
                let default = Platform::default_target();
                candidates.iter().find(|(_, cp)| *cp == default)
            }
        };
        let Some((desc, _)) = chosen else {
            let have: Vec<String> = candidates.iter().map(|(_, p)| p.to_string()).collect();
            let asked = want.map_or_else(
                || Platform::default_target().to_string(),
                ToString::to_string,
            );
            return Err(
                UsageError::new(format!("'{}' has no image for {asked}", self.reference))
                    .with_hint(format!("it has: {}", have.join(", ")))
                    .into(),
            );
        };
        let selected = self.select_desc(desc)?;
        if let Some(p) = want
            && &selected.platform != p
        {
            return Err(invalid(format!(
                "manifest {} is listed for {p} but its config says {}",
                desc.digest(),
                selected.platform
            )));
        }
        Ok(selected)
    }

    fn select_desc(&self, desc: &Descriptor) -> Result<Selected> {
        let (manifest, _) = self.read_manifest(desc)?;
        let (config, _) = self.read_config(manifest.config())?;
        let platform = Platform::from_image(
            &config.os().to_string(),
            &config.architecture().to_string(),
            config.variant().as_deref(),
        );
        if config.rootfs().diff_ids().len() != manifest.layers().len() {
            return Err(invalid(format!(
                "manifest {} has {} layers but its config lists {} diff_ids",
                desc.digest(),
                manifest.layers().len(),
                config.rootfs().diff_ids().len()
            )));
        }
        Ok(Selected {
            manifest_desc: desc.clone(),
            manifest,
            config,
            platform,
        })
    }
}

fn tag_hint(tags: &[&str]) -> String {
    if tags.is_empty() {
        "the image has no tags; pin one with @sha256:DIGEST".into()
    } else {
        format!("tags in the image: {}", tags.join(", "))
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

/// Descriptors' embedded `data` (OCI 1.1, base64) must be exactly the content they describe:
/// its size and its digest.
fn check_embedded<'a>(descs: impl Iterator<Item = &'a Descriptor>) -> Result<()> {
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
fn platform_sets(
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
fn check_declared(desc: &Descriptor, own: Option<&MediaType>) -> Result<()> {
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

/// Open the store behind a reference and read (or make) its index.json.
fn open_store(r: &ImageRef) -> Result<(Form, Store, Vec<u8>)> {
    let form = match (&r.transport, &r.path) {
        (Transport::Layout, _) => Form::Layout,
        (Transport::OciArchive, _) => Form::OciArchive,
        (Transport::DockerArchive, _) => Form::DockerArchive,
        (Transport::Sniff, Some(p)) if p.is_dir() => Form::Layout,
        (Transport::Sniff, _) => {
            let tar = tar_of(r.path.as_deref())?;
            let form = if tar.contains("oci-layout") && tar.contains("index.json") {
                Form::OciArchive
            } else if tar.contains("manifest.json") {
                Form::DockerArchive
            } else {
                return Err(invalid(
                    "not an image archive: it has neither oci-layout nor manifest.json",
                ));
            };
            return finish_archive(form, tar);
        }
    };
    match form {
        Form::Layout => {
            let path = r.path.as_deref().ok_or_else(|| {
                anyhow::Error::new(UsageError::new("an oci: layout cannot be read from stdin"))
            })?;
            let dir = LayoutDir::open(path)?;
            check_layout_version(&dir.read_file("oci-layout", MAX_DOCUMENT)?)?;
            let index = dir.read_file("index.json", MAX_DOCUMENT)?;
            Ok((form, Store::Layout(dir), index))
        }
        _ => finish_archive(form, tar_of(r.path.as_deref())?),
    }
}

fn tar_of(path: Option<&Path>) -> Result<TarIndex> {
    match path {
        Some(p) => TarIndex::open(p),
        None => TarIndex::from_stdin(),
    }
}

fn finish_archive(form: Form, tar: TarIndex) -> Result<(Form, Store, Vec<u8>)> {
    if form == Form::DockerArchive {
        let (blobs, index) = docker_blobs(&tar)?;
        return Ok((form, Store::Docker { tar, blobs }, index));
    }
    check_layout_version(&tar.read_member("oci-layout", MAX_DOCUMENT)?)?;
    let index = tar.read_member("index.json", MAX_DOCUMENT)?;
    Ok((form, Store::Archive(tar), index))
}

fn check_layout_version(raw: &[u8]) -> Result<()> {
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

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// Make OCI documents from a docker-save archive's manifest.json: the config and layers are
/// hashed here (docker save names them by path, not by digest), manifests are made, and an
/// index lists them with their tags.
fn docker_blobs(tar: &TarIndex) -> Result<(HashMap<String, DockerBlob>, Vec<u8>)> {
    let raw = tar.read_member("manifest.json", MAX_DOCUMENT)?;
    let entries: Vec<DockerEntry> = serde_json::from_slice(&raw)
        .map_err(|e| invalid(format!("manifest.json is not valid: {e}")))?;
    if entries.len() > MAX_ENTRIES {
        return Err(invalid("manifest.json lists too many images"));
    }
    let mut blobs = HashMap::new();
    let mut index_entries = Vec::new();
    for entry in &entries {
        if entry.layers.len() > MAX_ENTRIES {
            return Err(invalid(format!(
                "manifest.json lists more than {MAX_ENTRIES} layers"
            )));
        }
        let config = tar.read_member(&entry.config, MAX_CONFIG)?;
        let config_sum = Sha256Sum::of(&config);
        let parsed: ImageConfiguration = serde_json::from_slice(&config).map_err(|e| {
            invalid(format!(
                "'{}' is not a valid image config: {e}",
                entry.config
            ))
        })?;
        blobs.insert(
            config_sum.hex().to_owned(),
            DockerBlob::Member(entry.config.clone()),
        );
        let mut layers = Vec::new();
        for name in &entry.layers {
            let (sum, size, algorithm) = hash_member(tar, name)?;
            blobs.insert(sum.hex().to_owned(), DockerBlob::Member(name.clone()));
            layers.push(manifest::descriptor(oci_layer(algorithm), &sum, size));
        }
        let m = manifest::build_manifest(
            manifest::descriptor(MediaType::ImageConfig, &config_sum, config.len() as u64),
            layers,
            &[],
        )?;
        let m_raw = canonical::to_vec(&m, "a manifest")?;
        let m_sum = Sha256Sum::of(&m_raw);
        let mut desc = manifest::descriptor(MediaType::ImageManifest, &m_sum, m_raw.len() as u64);
        let platform = Platform::from_image(
            &parsed.os().to_string(),
            &parsed.architecture().to_string(),
            parsed.variant().as_deref(),
        );
        desc.set_platform(Some(platform.to_oci()));
        blobs.insert(m_sum.hex().to_owned(), DockerBlob::Bytes(m_raw));
        match entry.repo_tags.as_deref() {
            Some(tags) if !tags.is_empty() => {
                index_entries.extend(tags.iter().map(|t| manifest::tagged(&desc, Some(t))));
            }
            _ => index_entries.push(desc),
        }
    }
    let index = manifest::build_index(index_entries, &[])?;
    Ok((blobs, canonical::to_vec(&index, "index.json")?))
}

/// sha256, size and compression of an archive member, in one read.
fn hash_member(tar: &TarIndex, name: &str) -> Result<(Sha256Sum, u64, crate::compress::Algorithm)> {
    let mut member = tar.open_member(name)?;
    let mut head = [0u8; 4];
    let n = read_up_to(&mut member, &mut head)?;
    let algorithm = sniff_compression(&head[..n]);
    let mut w = HashWriter::new(io::sink());
    io::Write::write_all(&mut w, &head[..n])?;
    io::copy(&mut member, &mut w).with_context(|| format!("reading '{name}'"))?;
    let (_, sum, size) = w.finish()?;
    Ok((sum.expect("HashWriter::new always hashes"), size, algorithm))
}

fn read_up_to<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
