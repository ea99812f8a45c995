//! Classic `docker save` archives, as `build --format docker-archive` writes them: what a
//! Docker engine before 25 and go-containerregistry's `tarball` package read.
//!
//! ```text
//! <id>/                  one directory per layer, bottom first in manifest.json
//! <id>/VERSION           "1.0"
//! <id>/json              the layer's v1 JSON (id, parent, created; the image's config on top)
//! <id>/layer.tar         the layer, uncompressed
//! <config hex>.json      the image config, byte for byte
//! manifest.json          [{"Config": "<hex>.json", "RepoTags": [...], "Layers": ["<id>/layer.tar", ...]}]
//! repositories           {"NAME": {"TAG": "<top layer id>"}} (when the image has tags)
//! ```
//!
//! The `layer.tar` of the first layer put (the context's first layer) comes first; the other members follow sorted by name,
//! all owned by 0:0 and dated with the archive's mtime, so the same image gives the same
//! bytes. In an archive file the context layer (uncompressed) is written straight into
//! place after a reserved header, filled in by `finish` once its id is known, so its bytes
//! are written once; on a stream it is staged first. Other blobs are staged in a store
//! beside the target (or in the temporary directory for a stream); `finish` decompresses
//! each compressed layer into a staged file, checks that it hashes to its diff_id, then
//! writes the archive. The
//! `export --format docker-archive` form (Docker 25+, an OCI archive with `manifest.json`)
//! is [`super::docker_archive`]'s.

mod plan;
#[cfg(test)]
mod tests;
mod write;

use std::fs::File;
use std::io::{self, BufWriter, Seek, Write};
use std::path::Path;

use anyhow::{Context as _, Result};

use self::write::{Archive, IN_PLACE_AT, Lead, stage_layers};
use super::output::{self, AtomicFile, FileOutput, Stream};
use super::{BLOB_BUFFER, Destination, Format, ImageRecord, WriteBlob, WriteLayer, docker_archive};
use crate::cancel::Cancel;
use crate::compress::Algorithm;
use crate::digest::{HashWriter, Sha256Sum};
use crate::interrupt::TempDir;
use crate::store::BlobStore;

/// A classic docker-save archive, into a file (replaced atomically) or a stream.
pub struct DockerSave {
    staging: TempDir,
    store: BlobStore,
    out: Out,
    mtime: u64,
    /// The first layer put: its digest and size, and whether it is in the output file
    /// (after a reserved header) rather than in the store.
    first: Option<(Sha256Sum, u64, bool)>,
}

enum Out {
    File(AtomicFile),
    Stream(Stream),
}

impl DockerSave {
    /// An archive into `out` whose members carry `mtime`.
    pub(super) fn new(out: FileOutput, mtime: u64) -> Result<DockerSave> {
        let (staging, out) = match out {
            FileOutput::Atomic(f) => (f.staging_dir()?, Out::File(f)),
            FileOutput::Stream(s) => (output::stream_staging()?, Out::Stream(s)),
        };
        let store = BlobStore::create(staging.path())?;
        Ok(DockerSave {
            staging,
            store,
            out,
            mtime,
            first: None,
        })
    }

    /// The blob in the output file, if any.
    fn in_place(&self) -> Option<&Sha256Sum> {
        self.first.as_ref().filter(|f| f.2).map(|f| &f.0)
    }

    /// Move the layer written in place into the store (it turned out compressed, so it
    /// cannot stay) and empty the output file; checked against its digest on the way.
    fn evict_in_place(&mut self, file: &File) -> Result<()> {
        let Some((digest, size, true)) = self.first.clone() else {
            return Ok(());
        };
        let tmp = self.store.temp()?;
        let mut w = HashWriter::new(BufWriter::with_capacity(BLOB_BUFFER, tmp.as_file()));
        let mut from = file.try_clone()?;
        from.seek(io::SeekFrom::Start(IN_PLACE_AT))?;
        io::copy(&mut io::Read::take(from, size), &mut w)?;
        let (w, got, _) = w.finish()?;
        w.into_inner().map_err(|e| e.into_error())?;
        anyhow::ensure!(
            got.as_ref() == Some(&digest),
            "layer {digest} changed in the output"
        );
        self.store.commit(tmp, &digest)?;
        file.set_len(0)?;
        (&*file).rewind()?;
        self.first = Some((digest, size, false));
        Ok(())
    }
}

impl Destination for DockerSave {
    fn format(&self) -> Format {
        Format::DockerSave
    }

    fn path(&self) -> Option<&Path> {
        match &self.out {
            Out::File(f) => Some(f.shown()),
            Out::Stream(_) => None,
        }
    }

    fn has_blob(&self, digest: &Sha256Sum) -> bool {
        self.in_place() == Some(digest) || self.store.has(digest)
    }

    fn open_blob(&self, digest: &Sha256Sum) -> Result<Option<File>> {
        if self.in_place() == Some(digest) {
            // Not kept apart from the archive: a layer of ours, verified as it was made.
            return Ok(None);
        }
        self.store.open_existing(digest)
    }

    fn put_blob(&mut self, digest: &Sha256Sum, write: &mut WriteBlob<'_>) -> Result<()> {
        super::put_in_store(&self.store, digest, write)
    }

    fn put_layer(&mut self, write: &mut WriteLayer<'_>) -> Result<()> {
        let file = match (&self.out, &self.first) {
            (Out::File(f), None) => f.file(),
            _ => {
                let digest = super::put_layer_in_store(&self.store, write)?;
                let size = self.store.open(&digest)?.metadata()?.len();
                self.first.get_or_insert((digest, size, false));
                return Ok(());
            }
        };
        let shown = || match &self.out {
            Out::File(f) => format!("writing '{}'", f.shown().display()),
            Out::Stream(_) => "writing the archive".into(),
        };
        let mut at = file.try_clone().with_context(shown)?;
        at.write_all(&[0u8; IN_PLACE_AT as usize])
            .with_context(shown)?;
        let mut w = BufWriter::with_capacity(BLOB_BUFFER, at);
        let (digest, size) = write(&mut w)?;
        drop(
            w.into_inner()
                .map_err(|e| e.into_error())
                .with_context(shown)?,
        );
        self.first = Some((digest, size, true));
        Ok(())
    }

    fn finish(mut self: Box<Self>, record: &ImageRecord, cancel: &Cancel) -> Result<()> {
        docker_archive::check_record(record)?;
        let plan = plan::plan(&self.store, record)?;
        // The first layer leads the archive when it is an uncompressed layer of the image
        // (always, for a build); otherwise it goes where the others go.
        let lead = self.first.as_ref().and_then(|(digest, _, in_place)| {
            let layer = plan.layers.iter().rev().find(|l| l.blob == *digest)?;
            (layer.algorithm == Algorithm::None).then(|| Lead {
                name: format!("{}/layer.tar", layer.id),
                blob: digest.clone(),
                in_place: *in_place,
            })
        });
        if let (None, Out::File(f)) = (&lead, &self.out) {
            let file = f.file().try_clone()?;
            self.evict_in_place(&file)?;
        }
        let in_place = self.first.as_ref().filter(|f| f.2).map(|f| (&f.0, f.1));
        let tars = stage_layers(&self.store, &plan.layers, in_place, cancel)?;
        let archive = Archive {
            store: &self.store,
            plan: &plan,
            tars: &tars,
            mtime: self.mtime,
        };
        match &self.out {
            Out::File(f) => archive
                .write(f.file(), lead.as_ref(), cancel)
                .with_context(|| format!("writing '{}'", f.shown().display()))?,
            Out::Stream(s) => archive
                .write(s.file(), lead.as_ref(), cancel)
                .with_context(|| format!("writing the image to {}", s.name()))
                .map_err(|e| s.explain(e))?,
        }
        drop(tars);
        let DockerSave { staging, out, .. } = *self;
        if let Out::File(f) = out {
            f.commit(cancel)?;
        }
        drop(staging);
        Ok(())
    }
}
