//! `docker save` archives as a blob source (classic, or Docker 25+): `manifest.json` names
//! each image's config and layers by member path, so they are hashed when the archive is
//! opened and OCI manifests and an index are made for them here.

use std::collections::HashMap;
use std::io::{self, Read};

use anyhow::{Context as _, Result};
use oci_spec::image::{Descriptor, ImageConfiguration, MediaType};
use serde::Deserialize;

use super::archive::TarIndex;
use super::{BlobSource, Form, MAX_CONFIG, MAX_DOCUMENT, MAX_ENTRIES};
use crate::digest::{HashWriter, Sha256Sum};
use crate::error::{MissingFromImage, invalid};
use crate::image::{Platform, canonical, manifest, oci_layer, sniff_compression};

/// A `docker save` archive, opened: its blobs are archive members, or documents made here.
pub struct DockerArchive {
    tar: TarIndex,
    blobs: HashMap<String, DockerBlob>,
    index: Vec<u8>,
}

enum DockerBlob {
    Member(String),
    Bytes(Vec<u8>),
}

impl DockerArchive {
    /// Read the archive's `manifest.json` and hash the members it names.
    pub fn new(tar: TarIndex) -> Result<DockerArchive> {
        let (blobs, index) = docker_blobs(&tar)?;
        Ok(DockerArchive { tar, blobs, index })
    }
}

impl BlobSource for DockerArchive {
    fn form(&self) -> Form {
        Form::DockerArchive
    }

    fn index_json(&self) -> Result<Vec<u8>> {
        Ok(self.index.clone())
    }

    fn open_blob(&self, hex: &str, _desc: &Descriptor) -> Result<Box<dyn Read + '_>> {
        match self.blobs.get(hex) {
            Some(DockerBlob::Member(name)) => Ok(Box::new(self.tar.open_member(name)?)),
            Some(DockerBlob::Bytes(b)) => Ok(Box::new(io::Cursor::new(b.as_slice()))),
            None => Err(MissingFromImage(format!("the archive has no blob sha256:{hex}")).into()),
        }
    }

    fn warnings(&self) -> Vec<String> {
        self.tar.warnings()
    }
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
