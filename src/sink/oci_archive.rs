//! OCI archives: a tar of an image layout with members in a fixed order and fixed headers,
//! so the same image always gives the same archive bytes:
//!
//! `blobs/`, `blobs/sha256/`, the context layer's blob, the other blobs sorted by digest,
//! `oci-layout`, `index.json`, and Docker's `manifest.json` (what `docker save` writes since
//! Docker 25, so `docker load` and `podman load` take the same file).
//!
//! When the archive goes to a file, the context layer is compressed straight into it: its
//! tar header is reserved and filled in once the digest and size are known, so the layer's
//! bytes are written once. On stdout the layer is staged in a temporary file first.

use std::fs::{self, File};
use std::io::{self, Seek, Write};
use std::os::unix::fs::FileExt;

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

/// Where the context layer's blob starts in an archive: after two directory headers and
/// its own (reserved) header.
const LAYER_HEADER_AT: u64 = 1024;
/// Where the context layer's blob data starts in an archive: right after its header.
pub const LAYER_DATA_AT: u64 = 1536;

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

/// One member's header block(s).
fn member_header(name: &str, ty: EntryType, size: u64, mtime: u64) -> Result<Vec<u8>> {
    let mut hdr = Vec::with_capacity(1024);
    let is_dir = ty == EntryType::Directory;
    header::encode(
        &RawEntry {
            path: name.as_bytes(),
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
    Ok(hdr)
}

fn write_dirs<W: Write>(out: &mut W, mtime: u64) -> Result<()> {
    out.write_all(&member_header("blobs", EntryType::Directory, 0, mtime)?)?;
    out.write_all(&member_header(
        "blobs/sha256",
        EntryType::Directory,
        0,
        mtime,
    )?)?;
    Ok(())
}

/// Start an archive in `file` (empty, at offset 0) whose first blob is streamed in next:
/// returns a writer positioned where the layer's bytes go.
pub fn begin_in_place(file: &File, mtime: u64) -> Result<File> {
    let mut f = file.try_clone()?;
    write_dirs(&mut f, mtime)?;
    debug_assert_eq!(f.stream_position()?, LAYER_HEADER_AT);
    f.write_all(&[0u8; 512])?;
    Ok(f)
}

/// Fill in the reserved header of the blob streamed after `begin_in_place` and pad it.
/// A header in one block holds sizes up to 8 GiB in octal and larger ones in base-256.
pub fn finish_in_place(file: &File, digest: &Sha256Sum, size: u64, mtime: u64) -> Result<()> {
    let mut f = file.try_clone()?;
    f.seek(io::SeekFrom::Start(LAYER_DATA_AT + size))?;
    f.write_all(&[0u8; 512][..header::padding(size)])?;
    let mut h = tar::Header::new_ustar();
    let name = blob_member(digest);
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    h.set_entry_type(EntryType::Regular);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(mtime);
    h.set_size(size);
    h.set_cksum();
    f.write_all_at(h.as_bytes(), LAYER_HEADER_AT)?;
    Ok(())
}

/// Write the archive of the layout in `store` to `out`. `layer` is the context layer's
/// digest, if any; when `layer_written` it is already in `out` (after `begin_in_place`),
/// otherwise it is read from the store and written first. (Without a context layer, as
/// for `export`, every blob is in digest order.)
pub fn write<W: Write>(
    store: &BlobStore,
    record: &ImageRecord,
    mtime: u64,
    layer: Option<&Sha256Sum>,
    layer_written: bool,
    out: &mut W,
) -> Result<()> {
    if !layer_written {
        write_dirs(out, mtime)?;
        if let Some(layer) = layer {
            copy_blob(store, layer.hex(), mtime, out)?;
        }
    }
    let layer = layer.map(Sha256Sum::hex).unwrap_or_default();
    let mut blobs = Vec::new();
    let dir = store.root().join("blobs").join("sha256");
    for entry in fs::read_dir(&dir).with_context(|| format!("reading '{}'", dir.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        // Blobs only: temporary files in the store have other names.
        if Sha256Sum::from_hex(&name).is_some() && name != layer {
            blobs.push(name);
        }
    }
    blobs.sort_unstable();
    for hex in &blobs {
        copy_blob(store, hex, mtime, out)?;
    }
    let docs: [(&str, Vec<u8>); 3] = [
        ("oci-layout", OCI_LAYOUT.to_vec()),
        ("index.json", index_json(&[], record)?),
        ("manifest.json", docker_manifest(record)?),
    ];
    for (name, bytes) in &docs {
        out.write_all(&member_header(
            name,
            EntryType::Regular,
            bytes.len() as u64,
            mtime,
        )?)?;
        out.write_all(bytes)?;
        pad(out, bytes.len() as u64)?;
    }
    out.write_all(&[0u8; 1024])?;
    out.flush()?;
    Ok(())
}

fn copy_blob<W: Write>(store: &BlobStore, hex: &str, mtime: u64, out: &mut W) -> Result<()> {
    interrupt::check()?;
    let path = store.root().join("blobs").join("sha256").join(hex);
    let mut file = File::open(&path).with_context(|| format!("reading blob sha256:{hex}"))?;
    let size = file.metadata()?.len();
    out.write_all(&member_header(
        &format!("blobs/sha256/{hex}"),
        EntryType::Regular,
        size,
        mtime,
    )?)?;
    let copied = io::copy(&mut file, out).with_context(|| format!("copying blob sha256:{hex}"))?;
    anyhow::ensure!(
        copied == size,
        "blob sha256:{hex} changed size while it was copied"
    );
    pad(out, size)?;
    Ok(())
}

fn pad<W: Write>(out: &mut W, len: u64) -> io::Result<()> {
    out.write_all(&[0u8; 512][..header::padding(len)])
}
