//! OCI archives: a tar of an image layout, with members in a fixed order and fixed headers
//! (`oci-layout`, `index.json`, Docker's `manifest.json`, `blobs/`, `blobs/sha256/`, then the
//! blobs sorted by digest), so the same image always gives the same archive bytes.
//! `manifest.json` is what `docker save` writes since Docker 25, so `docker load` and
//! `podman load` take the same file.

use std::fs;
use std::io::{self, Write};

use anyhow::{Context as _, Result};
use serde::Serialize;
use tar::EntryType;

use super::ImageRecord;
use super::layout_dir::{OCI_LAYOUT, index_json};
use crate::digest::Sha256Sum;
use crate::image::canonical;
use crate::interrupt;
use crate::layer::header::{self, RawEntry};
use crate::store::BlobStore;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifest {
    config: String,
    repo_tags: Vec<String>,
    layers: Vec<String>,
}

fn blob_member(d: &Sha256Sum) -> String {
    format!("blobs/sha256/{}", d.hex())
}

/// Docker's `manifest.json` for the image.
pub fn docker_manifest(record: &ImageRecord) -> Result<Vec<u8>> {
    let m = DockerManifest {
        config: blob_member(&record.docker_config),
        repo_tags: record.tags.clone(),
        layers: record.docker_layers.iter().map(blob_member).collect(),
    };
    canonical::to_vec(&[m], "manifest.json")
}

/// Write the archive of the layout in `store` (whose blobs are complete) to `out`.
pub fn write<W: Write>(
    store: &BlobStore,
    record: &ImageRecord,
    mtime: u64,
    out: &mut W,
) -> Result<()> {
    let mut hdr = Vec::with_capacity(1024);
    let mut member = |out: &mut W, name: &str, ty: EntryType, size: u64| -> Result<()> {
        hdr.clear();
        let is_dir = ty == EntryType::Directory;
        header::encode(
            &RawEntry {
                path: name.trim_end_matches('/').as_bytes(),
                is_dir,
                ty,
                link: None,
                size,
                mode: if is_dir { 0o755 } else { 0o644 },
                mtime,
                owner: (0, 0),
            },
            &mut hdr,
        )?;
        out.write_all(&hdr)?;
        Ok(())
    };
    let docs: [(&str, Vec<u8>); 3] = [
        ("oci-layout", OCI_LAYOUT.to_vec()),
        ("index.json", index_json(&[], record)?),
        ("manifest.json", docker_manifest(record)?),
    ];
    for (name, bytes) in &docs {
        member(out, name, EntryType::Regular, bytes.len() as u64)?;
        out.write_all(bytes)?;
        pad(out, bytes.len() as u64)?;
    }
    member(out, "blobs", EntryType::Directory, 0)?;
    member(out, "blobs/sha256", EntryType::Directory, 0)?;
    let mut blobs = Vec::new();
    let dir = store.root().join("blobs").join("sha256");
    for entry in fs::read_dir(&dir).with_context(|| format!("reading '{}'", dir.display()))? {
        let name = entry?.file_name();
        let name = name.to_string_lossy().into_owned();
        if name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
            blobs.push(name);
        }
    }
    blobs.sort_unstable();
    for hex in blobs {
        interrupt::check()?;
        let path = dir.join(&hex);
        let mut file =
            fs::File::open(&path).with_context(|| format!("reading blob sha256:{hex}"))?;
        let size = file.metadata()?.len();
        member(
            out,
            &format!("blobs/sha256/{hex}"),
            EntryType::Regular,
            size,
        )?;
        let copied =
            io::copy(&mut file, out).with_context(|| format!("copying blob sha256:{hex}"))?;
        anyhow::ensure!(
            copied == size,
            "blob sha256:{hex} changed size while it was copied"
        );
        pad(out, size)?;
    }
    out.write_all(&[0u8; 1024])?;
    out.flush()?;
    Ok(())
}

fn pad<W: Write>(out: &mut W, len: u64) -> io::Result<()> {
    out.write_all(&[0u8; 512][..header::padding(len)])
}
