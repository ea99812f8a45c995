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
use std::io::{self, BufWriter, Seek, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use anyhow::{Context as _, Result};
use serde::Serialize;
use tar::EntryType;

use super::layout_dir::{OCI_LAYOUT, index_json};
use super::output::{self, AtomicFile, Stream};
use super::{BLOB_BUFFER, Destination, Format, ImageRecord, WriteBlob, WriteLayer, docker_archive};
use crate::cancel::Cancel;
use crate::digest::Sha256Sum;
use crate::image::canonical;
use crate::interrupt::TempDir;
use crate::layer::header::{self, RawEntry};
use crate::store::BlobStore;

/// An archive file (OCI, or docker when `docker`; made by [`open`](super::open)), written to
/// a temporary file beside its path and renamed into place by `finish`. Blobs are staged in a directory beside it, but
/// the first layer is compressed straight into the archive after a reserved header.
pub struct ArchiveFile {
    staging: TempDir,
    store: BlobStore,
    out: AtomicFile,
    docker: bool,
    mtime: u64,
    /// The layer already in `out`, if any.
    in_place: Option<Sha256Sum>,
}

impl ArchiveFile {
    pub(super) fn new(out: AtomicFile, docker: bool, mtime: u64) -> Result<ArchiveFile> {
        let staging = out.staging_dir()?;
        let store = BlobStore::create(staging.path())?;
        Ok(ArchiveFile {
            staging,
            store,
            out,
            docker,
            mtime,
            in_place: None,
        })
    }
}

impl Destination for ArchiveFile {
    fn format(&self) -> Format {
        archive_format(self.docker)
    }

    fn path(&self) -> Option<&Path> {
        Some(self.out.shown())
    }

    fn has_blob(&self, digest: &Sha256Sum) -> bool {
        self.in_place.as_ref() == Some(digest) || self.store.has(digest)
    }

    fn open_blob(&self, digest: &Sha256Sum) -> Result<Option<File>> {
        if self.in_place.as_ref() == Some(digest) {
            // Not kept apart from the archive: a layer of ours, verified as it was made.
            return Ok(None);
        }
        self.store.open_existing(digest)
    }

    fn put_blob(&mut self, digest: &Sha256Sum, write: &mut WriteBlob<'_>) -> Result<()> {
        super::put_in_store(&self.store, digest, write)
    }

    fn put_layer(&mut self, write: &mut WriteLayer<'_>) -> Result<()> {
        if self.in_place.is_some() {
            super::put_layer_in_store(&self.store, write)?;
            return Ok(());
        }
        let shown = self.out.shown().display().to_string();
        let file = begin_in_place(self.out.file(), self.mtime)
            .with_context(|| format!("writing '{shown}'"))?;
        let mut w = BufWriter::with_capacity(BLOB_BUFFER, file);
        let (digest, size) = write(&mut w)?;
        drop(
            w.into_inner()
                .map_err(|e| e.into_error())
                .context("writing layer")?,
        );
        finish_in_place(self.out.file(), &digest, size, self.mtime)
            .with_context(|| format!("writing '{shown}'"))?;
        self.in_place = Some(digest);
        Ok(())
    }

    fn finish(mut self: Box<Self>, record: &ImageRecord, cancel: &Cancel) -> Result<()> {
        if self.docker {
            docker_archive::check_record(record)?;
        }
        let shown = self.out.shown().display().to_string();
        let layer = Layer {
            first: self.in_place.as_ref(),
            written: true,
        };
        write(
            &self.store,
            record,
            self.mtime,
            layer,
            self.out.file_mut(),
            cancel,
        )
        .with_context(|| format!("writing '{shown}'"))?;
        let ArchiveFile { staging, out, .. } = *self;
        out.commit(cancel)?;
        drop(staging);
        Ok(())
    }
}

/// An archive written into a stream (OCI, or docker when `docker`): blobs are staged in the
/// system's temporary directory, and the archive is written out by `finish`, the first
/// layer first (the same bytes as an [`ArchiveFile`] of the same image).
pub struct ArchiveStream<W: Write> {
    staging: TempDir,
    store: BlobStore,
    out: W,
    docker: bool,
    mtime: u64,
    first: Option<Sha256Sum>,
    /// Turns an error of the stream into the one to report.
    explain: Box<dyn Fn(anyhow::Error) -> anyhow::Error>,
    name: String,
}

impl<W: Write> ArchiveStream<W> {
    /// An archive into `out`, whose members carry `mtime`.
    pub fn new(out: W, docker: bool, mtime: u64) -> Result<ArchiveStream<W>> {
        let staging = output::stream_staging()?;
        let store = BlobStore::create(staging.path())?;
        Ok(ArchiveStream {
            staging,
            store,
            out,
            docker,
            mtime,
            first: None,
            explain: Box::new(|e| e),
            name: "the output stream".into(),
        })
    }
}

impl ArchiveStream<File> {
    /// Into stdout, a character device or a fifo, as `-o` named it.
    pub(super) fn of_output(out: Stream, docker: bool, mtime: u64) -> Result<ArchiveStream<File>> {
        let name = format!("writing the image to {}", out.name());
        let file = out.file().try_clone().with_context(|| name.clone())?;
        let mut stream = ArchiveStream::new(file, docker, mtime)?;
        stream.name = name;
        stream.explain = Box::new(move |e| out.explain(e));
        Ok(stream)
    }
}

impl<W: Write> Destination for ArchiveStream<W> {
    crate::sink::staged_blobs!(store);

    fn format(&self) -> Format {
        archive_format(self.docker)
    }

    fn path(&self) -> Option<&Path> {
        None
    }

    fn put_layer(&mut self, write: &mut WriteLayer<'_>) -> Result<()> {
        let digest = super::put_layer_in_store(&self.store, write)?;
        self.first.get_or_insert(digest);
        Ok(())
    }

    fn finish(mut self: Box<Self>, record: &ImageRecord, cancel: &Cancel) -> Result<()> {
        if self.docker {
            docker_archive::check_record(record)?;
        }
        let layer = Layer {
            first: self.first.as_ref(),
            written: false,
        };
        let written = write(
            &self.store,
            record,
            self.mtime,
            layer,
            &mut self.out,
            cancel,
        )
        .with_context(|| self.name.clone());
        written.map_err(|e| (self.explain)(e))?;
        drop(self.staging);
        Ok(())
    }
}

fn archive_format(docker: bool) -> Format {
    if docker {
        Format::DockerArchive
    } else {
        Format::OciArchive
    }
}

/// The layer that comes first in an archive, and whether it is in the output already.
#[derive(Clone, Copy)]
pub struct Layer<'a> {
    /// Its digest; without one (as for `export`) every blob is in digest order.
    pub first: Option<&'a Sha256Sum>,
    /// It is in the output already, after `begin_in_place`.
    pub written: bool,
}

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

/// One member's header block(s): mode 0755 for directories, else 0644; owner 0:0.
pub(super) fn member_header(name: &str, ty: EntryType, size: u64, mtime: u64) -> Result<Vec<u8>> {
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
fn begin_in_place(file: &File, mtime: u64) -> Result<File> {
    let mut f = file.try_clone()?;
    // From the start, whatever an earlier attempt left (a stale cached layer is given up
    // half-way and the layer built instead).
    f.seek(io::SeekFrom::Start(0))?;
    f.set_len(0)?;
    write_dirs(&mut f, mtime)?;
    debug_assert_eq!(f.stream_position()?, LAYER_HEADER_AT);
    f.write_all(&[0u8; 512])?;
    Ok(f)
}

/// Fill in the reserved header of the blob streamed after `begin_in_place` and pad it.
/// A header in one block holds sizes up to 8 GiB in octal and larger ones in base-256.
fn finish_in_place(file: &File, digest: &Sha256Sum, size: u64, mtime: u64) -> Result<()> {
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

/// Write the archive of the layout in `store` to `out`: the `layer` first (already in `out`
/// when written in place), then the other blobs in digest order, then the documents.
fn write<W: Write>(
    store: &BlobStore,
    record: &ImageRecord,
    mtime: u64,
    layer: Layer<'_>,
    out: &mut W,
    cancel: &Cancel,
) -> Result<()> {
    if !(layer.written && layer.first.is_some()) {
        write_dirs(out, mtime)?;
        if let Some(first) = layer.first {
            copy_blob(store, first.hex(), mtime, out, cancel)?;
        }
    }
    let layer = layer.first.map(Sha256Sum::hex).unwrap_or_default();
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
        copy_blob(store, hex, mtime, out, cancel)?;
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

fn copy_blob<W: Write>(
    store: &BlobStore,
    hex: &str,
    mtime: u64,
    out: &mut W,
    cancel: &Cancel,
) -> Result<()> {
    cancel.check()?;
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
