//! The archive's bytes: each layer's uncompressed tar found or staged (and checked against
//! its diff_id), then the members, the lead layer first and the rest sorted by name.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, Write};
use std::os::unix::fs::FileExt;

use anyhow::{Context as _, Result};
use tar::EntryType;

use super::plan::{Plan, PlannedLayer};
use crate::cancel::Cancel;
use crate::compress::{self, Algorithm};
use crate::digest::{HashWriter, Sha256Sum};
use crate::error::invalid;
use crate::interrupt::TempFile;
use crate::layer::header;
use crate::layer::reader::Limits;
use crate::sink::{BLOB_BUFFER, oci_archive};
use crate::store::BlobStore;

/// Where the context layer's data starts in an archive file: after its reserved header.
pub(super) const IN_PLACE_AT: u64 = 512;

/// A layer's uncompressed tar: the blob in the store, the blob already in the output
/// (after the reserved header), or a staged file decompressed from the blob.
pub(super) enum Tar {
    Blob,
    InPlace(u64),
    Staged(TempFile),
}

/// The layer that comes first in the archive: the context layer, when it is uncompressed.
pub(super) struct Lead {
    /// Its member name, `<id>/layer.tar`.
    pub name: String,
    /// Its blob.
    pub blob: Sha256Sum,
    /// It is in the output already, after a reserved header at offset 0.
    pub in_place: bool,
}

/// Each compressed layer decompressed into a staged file (once per blob), checked against
/// its diff_id; an uncompressed layer must already be its diff_id. `in_place` is the blob
/// (and size) already in the output.
pub(super) fn stage_layers(
    store: &BlobStore,
    layers: &[PlannedLayer],
    in_place: Option<(&Sha256Sum, u64)>,
    cancel: &Cancel,
) -> Result<HashMap<Sha256Sum, Tar>> {
    let limits = Limits::from_env()?;
    let mut tars = HashMap::new();
    for (i, layer) in layers.iter().enumerate() {
        cancel.check()?;
        if tars.contains_key(&layer.blob) {
            continue;
        }
        let what = || format!("layer {i} ({})", layer.blob);
        let tar = if layer.algorithm == Algorithm::None {
            if layer.blob != layer.diff_id {
                return Err(invalid(format!(
                    "{} is uncompressed, but the config's diff_id for it is {}",
                    what(),
                    layer.diff_id
                )));
            }
            match in_place {
                Some((d, size)) if *d == layer.blob => Tar::InPlace(size),
                _ => Tar::Blob,
            }
        } else {
            Tar::Staged(decompress(store, layer, limits, cancel).with_context(what)?)
        };
        tars.insert(layer.blob.clone(), tar);
    }
    Ok(tars)
}

/// Decompress a layer into a temporary file of the store, checking its size bound and
/// that it hashes to the diff_id.
fn decompress(
    store: &BlobStore,
    layer: &PlannedLayer,
    limits: Limits,
    cancel: &Cancel,
) -> Result<TempFile> {
    let blob = store.open(&layer.blob).context("opening the blob")?;
    let mut reader = compress::decoder(layer.algorithm, blob)
        .context("starting the decompressor")?
        .take(limits.max_layer_bytes.saturating_add(1));
    let tmp = store.temp()?;
    let file = tmp.as_file().try_clone()?;
    let mut out = HashWriter::new(BufWriter::with_capacity(BLOB_BUFFER, file));
    let mut buf = vec![0u8; BLOB_BUFFER];
    loop {
        cancel.check()?;
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(invalid(format!("decompressing it: {e}"))),
        };
        out.write_all(&buf[..n])
            .context("writing the decompressed layer")?;
    }
    let (w, digest, size) = out.finish().context("writing the decompressed layer")?;
    w.into_inner()
        .map_err(|e| e.into_error())
        .context("writing the decompressed layer")?;
    if size > limits.max_layer_bytes {
        return Err(invalid(format!(
            "it decompresses to more than {} bytes (IMGBUILD_MAX_LAYER_BYTES)",
            limits.max_layer_bytes
        )));
    }
    let digest = digest.context("the decompressed layer was not hashed")?;
    if digest != layer.diff_id {
        return Err(invalid(format!(
            "it decompresses to {digest} ({size} bytes), but the config's diff_id for it is {}",
            layer.diff_id
        )));
    }
    Ok(tmp)
}

/// The bytes `[at, at + len)` of a file, read with `pread` (the file's offset, shared with
/// the writer, is left alone).
struct Region<'a> {
    file: &'a File,
    at: u64,
    left: u64,
}

impl Read for Region<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.file.read_at(&mut buf[..want], self.at)?;
        self.at += n as u64;
        self.left -= n as u64;
        Ok(n)
    }
}

/// One member of the archive.
enum Member<'a> {
    Dir,
    Bytes(&'a [u8]),
    Layer(&'a PlannedLayer),
    Config,
}

/// What `finish` writes, with where its bytes are.
pub(super) struct Archive<'a> {
    pub store: &'a BlobStore,
    pub plan: &'a Plan,
    pub tars: &'a HashMap<Sha256Sum, Tar>,
    pub mtime: u64,
}

impl Archive<'_> {
    /// Every member, sorted by name.
    fn members(&self) -> Vec<(String, Member<'_>)> {
        let mut members = Vec::new();
        for l in &self.plan.layers {
            members.push((format!("{}/", l.id), Member::Dir));
            members.push((format!("{}/VERSION", l.id), Member::Bytes(b"1.0")));
            members.push((format!("{}/json", l.id), Member::Bytes(&l.json)));
            members.push((format!("{}/layer.tar", l.id), Member::Layer(l)));
        }
        members.push((format!("{}.json", self.plan.config.hex()), Member::Config));
        members.push((
            "manifest.json".into(),
            Member::Bytes(&self.plan.manifest_json),
        ));
        if let Some(r) = &self.plan.repositories {
            members.push(("repositories".into(), Member::Bytes(r)));
        }
        members.sort_by(|a, b| a.0.cmp(&b.0));
        members.dedup_by(|a, b| a.0 == b.0);
        members
    }

    /// Write the archive into `out` (positioned at its start, or, with a lead layer in
    /// place, anywhere): the lead layer first, then the other members.
    pub fn write(&self, out: &File, lead: Option<&Lead>, cancel: &Cancel) -> Result<()> {
        let mut w = out;
        if let Some(lead) = lead {
            self.write_lead(out, lead)?;
        }
        for (name, member) in self.members() {
            cancel.check()?;
            match member {
                _ if lead.is_some_and(|l| l.name == name) => {}
                Member::Dir => self.header(out, name.trim_end_matches('/'), 0, true)?,
                Member::Bytes(bytes) => {
                    self.header(out, &name, bytes.len() as u64, false)?;
                    w.write_all(bytes)?;
                    pad(out, bytes.len() as u64)?;
                }
                Member::Layer(l) => self
                    .copy_layer(out, &name, l)
                    .with_context(|| format!("copying layer {}", l.diff_id))?,
                Member::Config => {
                    let file = self.store.open(&self.plan.config)?;
                    let size = file.metadata()?.len();
                    self.copy(out, &name, file, size)
                        .with_context(|| format!("copying config {}", self.plan.config))?;
                }
            }
        }
        w.write_all(&[0u8; 1024])?;
        w.flush()?;
        Ok(())
    }

    /// The lead layer: its reserved header filled in (in place), or the whole member.
    fn write_lead(&self, out: &File, lead: &Lead) -> Result<()> {
        let what = || format!("writing layer {}", lead.blob);
        let in_place = match self.tars.get(&lead.blob) {
            Some(Tar::InPlace(size)) if lead.in_place => Some(*size),
            _ => None,
        };
        let Some(size) = in_place else {
            let layer = self.plan.layers.iter().find(|l| l.blob == lead.blob);
            let layer = layer.context("the lead layer is not in the image")?;
            return self.copy_layer(out, &lead.name, layer).with_context(what);
        };
        let hdr = oci_archive::member_header(&lead.name, EntryType::Regular, size, self.mtime)?;
        anyhow::ensure!(
            hdr.len() as u64 == IN_PLACE_AT,
            "the header of '{}' does not fit in one block",
            lead.name
        );
        out.write_all_at(&hdr, 0).with_context(what)?;
        let mut w = out;
        w.seek(io::SeekFrom::Start(IN_PLACE_AT + size))
            .with_context(what)?;
        pad(out, size).with_context(what)?;
        Ok(())
    }

    /// A layer's uncompressed tar as member `name`; a layer written in place is read back
    /// from `out`.
    fn copy_layer(&self, out: &File, name: &str, l: &PlannedLayer) -> Result<()> {
        match self.tars.get(&l.blob) {
            Some(Tar::Staged(tmp)) => {
                let mut file = tmp.as_file().try_clone()?;
                file.rewind()?;
                let size = file.metadata()?.len();
                self.copy(out, name, file, size)
            }
            Some(Tar::InPlace(size)) => {
                let region = Region {
                    file: out,
                    at: IN_PLACE_AT,
                    left: *size,
                };
                self.copy(out, name, region, *size)
            }
            _ => {
                let file = self.store.open(&l.blob)?;
                let size = file.metadata()?.len();
                self.copy(out, name, file, size)
            }
        }
    }

    fn header(&self, out: &File, name: &str, size: u64, dir: bool) -> Result<()> {
        let ty = if dir {
            EntryType::Directory
        } else {
            EntryType::Regular
        };
        let mut w = out;
        w.write_all(&oci_archive::member_header(name, ty, size, self.mtime)?)?;
        Ok(())
    }

    /// `size` bytes of `from` as a member (`copy_file_range`/`splice` from a file when the
    /// kernel can).
    fn copy(&self, out: &File, name: &str, from: impl Read, size: u64) -> Result<()> {
        self.header(out, name, size, false)?;
        let copied = io::copy(&mut from.take(size), &mut { out })?;
        anyhow::ensure!(copied == size, "'{name}' changed size while it was copied");
        pad(out, size)?;
        Ok(())
    }
}

fn pad(mut out: &File, len: u64) -> io::Result<()> {
    out.write_all(&[0u8; 512][..header::padding(len)])
}
