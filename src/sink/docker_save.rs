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
//! Members are sorted by name, owned by 0:0 and dated with the archive's mtime, so the same
//! image gives the same bytes. Blobs are staged in a store beside the target (or in the
//! temporary directory for a stream); `finish` decompresses each compressed layer into a
//! staged file, checks that it hashes to its diff_id, then writes the archive. The
//! `export --format docker-archive` form (Docker 25+, an OCI archive with `manifest.json`)
//! is [`super::docker_archive`]'s.

mod plan;

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;

use anyhow::{Context as _, Result};
use tar::EntryType;

use self::plan::{Plan, PlannedLayer};
use super::output::{self, AtomicFile, FileOutput, Stream};
use super::{BLOB_BUFFER, Destination, Format, ImageRecord, docker_archive, oci_archive};
use crate::cancel::Cancel;
use crate::compress::{self, Algorithm};
use crate::digest::{HashWriter, Sha256Sum};
use crate::error::invalid;
use crate::interrupt::{TempDir, TempFile};
use crate::layer::header;
use crate::layer::reader::Limits;
use crate::store::BlobStore;

/// A classic docker-save archive, into a file (replaced atomically) or a stream.
pub struct DockerSave {
    staging: TempDir,
    store: BlobStore,
    out: Out,
    mtime: u64,
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
        })
    }
}

impl Destination for DockerSave {
    crate::sink::staged_blobs!(store, layers);

    fn format(&self) -> Format {
        Format::DockerSave
    }

    fn path(&self) -> Option<&Path> {
        match &self.out {
            Out::File(f) => Some(f.shown()),
            Out::Stream(_) => None,
        }
    }

    fn finish(self: Box<Self>, record: &ImageRecord, cancel: &Cancel) -> Result<()> {
        docker_archive::check_record(record)?;
        let plan = plan::plan(&self.store, record)?;
        let tars = stage_layers(&self.store, &plan.layers, cancel)?;
        let DockerSave {
            staging,
            store,
            out,
            mtime,
        } = *self;
        let archive = Archive {
            store: &store,
            plan: &plan,
            tars: &tars,
            mtime,
        };
        match out {
            Out::File(f) => {
                let mut w = f.file();
                archive
                    .write(&mut w, cancel)
                    .with_context(|| format!("writing '{}'", f.shown().display()))?;
                f.commit(cancel)?;
            }
            Out::Stream(s) => {
                let mut w = s.file();
                archive
                    .write(&mut w, cancel)
                    .with_context(|| format!("writing the image to {}", s.name()))
                    .map_err(|e| s.explain(e))?;
            }
        }
        drop(tars);
        drop(staging);
        Ok(())
    }
}

/// A layer's uncompressed tar: the blob itself, or a staged file decompressed from it.
enum Tar {
    Blob,
    Staged(TempFile),
}

/// Each compressed layer decompressed into a staged file (once per blob), checked against
/// its diff_id; an uncompressed layer must already be its diff_id.
fn stage_layers(
    store: &BlobStore,
    layers: &[PlannedLayer],
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
            Tar::Blob
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

/// One member of the archive.
enum Member<'a> {
    Dir,
    Bytes(&'a [u8]),
    Layer(&'a PlannedLayer),
    Config,
}

/// What `finish` writes, with where its bytes are.
struct Archive<'a> {
    store: &'a BlobStore,
    plan: &'a Plan,
    tars: &'a HashMap<Sha256Sum, Tar>,
    mtime: u64,
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

    fn write(&self, out: &mut &File, cancel: &Cancel) -> Result<()> {
        for (name, member) in self.members() {
            cancel.check()?;
            match member {
                Member::Dir => self.header(out, name.trim_end_matches('/'), 0, true)?,
                Member::Bytes(bytes) => {
                    self.header(out, &name, bytes.len() as u64, false)?;
                    out.write_all(bytes)?;
                    pad(out, bytes.len() as u64)?;
                }
                Member::Layer(l) => {
                    let file = match self.tars.get(&l.blob) {
                        Some(Tar::Staged(tmp)) => tmp.as_file().try_clone()?,
                        _ => self.store.open(&l.blob)?,
                    };
                    self.copy(out, &name, file)
                        .with_context(|| format!("copying layer {}", l.diff_id))?;
                }
                Member::Config => {
                    let file = self.store.open(&self.plan.config)?;
                    self.copy(out, &name, file)
                        .with_context(|| format!("copying config {}", self.plan.config))?;
                }
            }
        }
        out.write_all(&[0u8; 1024])?;
        out.flush()?;
        Ok(())
    }

    fn header(&self, out: &mut &File, name: &str, size: u64, dir: bool) -> Result<()> {
        let ty = if dir {
            EntryType::Directory
        } else {
            EntryType::Regular
        };
        out.write_all(&oci_archive::member_header(name, ty, size, self.mtime)?)?;
        Ok(())
    }

    /// A file's bytes as a member, from its start (`copy_file_range`/`splice` when the
    /// kernel can).
    fn copy(&self, out: &mut &File, name: &str, mut file: File) -> Result<()> {
        use std::io::Seek as _;
        file.rewind()?;
        let size = file.metadata()?.len();
        self.header(out, name, size, false)?;
        let copied = io::copy(&mut (&mut file).take(size), out)?;
        anyhow::ensure!(copied == size, "'{name}' changed size while it was copied");
        pad(out, size)?;
        Ok(())
    }
}

fn pad(out: &mut &File, len: u64) -> io::Result<()> {
    out.write_all(&[0u8; 512][..header::padding(len)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    fn layer(blob: Sha256Sum, algorithm: Algorithm, diff_id: Sha256Sum) -> PlannedLayer {
        PlannedLayer {
            blob,
            algorithm,
            diff_id,
            id: "ab".repeat(32),
            json: Vec::new(),
        }
    }

    #[test]
    fn a_layer_that_decompresses_to_another_diff_id_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::create(dir.path()).unwrap();
        let (blob, _) = store.put_bytes(&gzip(b"the real tar")).unwrap();
        let good = layer(
            blob.clone(),
            Algorithm::Gzip,
            Sha256Sum::of(b"the real tar"),
        );
        let tars = stage_layers(&store, &[good], &Cancel::new()).unwrap();
        assert!(matches!(tars.get(&blob), Some(Tar::Staged(_))));
        assert_eq!(list_temps(&store), 1, "the decompressed layer is staged");
        drop(tars);

        let bad = layer(blob.clone(), Algorithm::Gzip, Sha256Sum::of(b"another tar"));
        let err = stage_layers(&store, &[bad], &Cancel::new()).err().unwrap();
        let text = format!("{err:#}");
        assert!(text.contains(&format!("layer 0 ({blob})")), "{text}");
        assert!(
            text.contains(&Sha256Sum::of(b"another tar").to_string()),
            "{text}"
        );
        assert!(err.chain().any(|c| c.is::<crate::error::InvalidImage>()));
        assert_eq!(list_temps(&store), 0, "the staged file is removed");

        let (raw, _) = store.put_bytes(b"plain").unwrap();
        let plain = layer(raw, Algorithm::None, Sha256Sum::of(b"other"));
        let err = stage_layers(&store, &[plain], &Cancel::new())
            .err()
            .unwrap();
        assert!(format!("{err:#}").contains("is uncompressed"), "{err:#}");
    }

    #[test]
    fn a_blob_that_is_not_gzip_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::create(dir.path()).unwrap();
        let (blob, _) = store.put_bytes(b"\x1f\x8bnot really gzip").unwrap();
        let l = layer(blob, Algorithm::Gzip, Sha256Sum::of(b""));
        let err = stage_layers(&store, &[l], &Cancel::new()).err().unwrap();
        assert!(format!("{err:#}").contains("decompressing"), "{err:#}");
    }

    fn list_temps(store: &BlobStore) -> usize {
        let dir = store.root().join("blobs").join("sha256");
        std::fs::read_dir(dir)
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                name.to_string_lossy()
                    .starts_with(crate::store::TEMP_PREFIX)
            })
            .count()
    }
}
