//! The last stage: where the image goes. `Sink::prepare` checks and claims the target before
//! any heavy work (through `output`: a temporary file or staging directory beside it, or a
//! stream into stdout, a character device or a fifo); `Sink::finish` writes the layout's
//! top-level documents and moves the result into place in one rename, so an error or Ctrl-C
//! leaves no partial output and an existing target untouched.

pub mod docker_archive;
pub mod layout_dir;
pub mod oci_archive;
pub mod output;

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use oci_spec::image::Descriptor;

use self::output::{AtomicFile, FileOutput, Stream};
use crate::digest::Sha256Sum;
use crate::error::UsageError;
use crate::interrupt::{TempDir, TempFile};
use crate::store::{BlobStore, sync_dir};

/// The kind of image an output holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A tar archive of an OCI image layout.
    OciArchive,
    /// An OCI image layout directory.
    OciDir,
    /// An OCI archive holding exactly one image, for `docker load` (see `docker_archive`).
    DockerArchive,
}

impl Format {
    /// The format's name as the `--format` flag spells it.
    pub fn name(self) -> &'static str {
        match self {
            Format::OciArchive => "oci-archive",
            Format::OciDir => "oci-dir",
            Format::DockerArchive => "docker-archive",
        }
    }
}

/// Where an output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A file, device or directory at this path.
    Path(PathBuf),
    /// Standard output.
    Stdout,
}

/// What goes into `index.json` (and the archive's Docker `manifest.json`).
#[derive(Debug, Clone)]
pub struct ImageRecord {
    /// The manifest (or index) descriptor, with its platform when it is a manifest.
    pub top: Descriptor,
    /// Tags, exactly as given; each becomes one `index.json` entry.
    pub tags: Vec<String>,
    /// Config and layer digests of the image that Docker's `manifest.json` names.
    pub docker_config: Sha256Sum,
    /// The layer digests, in order, for Docker's `manifest.json`.
    pub docker_layers: Vec<Sha256Sum>,
}

/// Where the context layer's compressed bytes are written.
pub enum LayerOut {
    /// A temporary blob in the store, committed under its digest.
    Store(BufWriter<TempFile>),
    /// Straight into the archive file, after its reserved tar header.
    Archive(BufWriter<File>),
}

impl Write for LayerOut {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            LayerOut::Store(w) => w.write(buf),
            LayerOut::Archive(w) => w.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            LayerOut::Store(w) => w.write_all(buf),
            LayerOut::Archive(w) => w.write_all(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            LayerOut::Store(w) => w.flush(),
            LayerOut::Archive(w) => w.flush(),
        }
    }
}

const LAYER_BUFFER: usize = 1 << 20;

/// A claimed output, ready to take blobs and be finished with the index.
pub enum Sink {
    /// A regular archive file, written to a temporary file beside it and renamed into place.
    ArchiveFile {
        /// The blob store the archive is assembled from.
        staging: TempDir,
        /// The temporary archive file.
        out: AtomicFile,
        /// The context layer is already in `out`.
        layer_written: bool,
    },
    /// stdout, or a character device or fifo named by `-o`; blobs are staged in the
    /// system's temporary directory first.
    ArchiveStream {
        /// The blob store the archive is assembled from.
        staging: TempDir,
        /// The stream the archive goes to.
        out: Stream,
    },
    /// A new layout directory (missing or empty before), staged beside it and renamed into place.
    NewLayout {
        /// The staged layout.
        staging: TempDir,
        /// The layout's final path.
        path: PathBuf,
    },
    /// An existing layout: blobs are added in place and its `index.json` gains the new entries.
    ExistingLayout {
        /// The layout's path.
        path: PathBuf,
    },
}

impl Sink {
    /// Check the target and claim temporary space beside it; nothing is read from the
    /// context yet, so a bad `-o` fails fast.
    pub fn prepare(format: Format, target: &Target) -> Result<Sink> {
        match (format, target) {
            (Format::OciDir, Target::Stdout) => Err(UsageError::new(
                "an oci-dir image cannot be written to stdout",
            )
            .with_hint("pass -o DIR, or use --format oci-archive with -o -")
            .into()),
            (Format::OciArchive | Format::DockerArchive, target) => {
                let hint =
                    "use --format oci-dir to write an image layout directory, or name a file";
                match FileOutput::open(target, hint)? {
                    FileOutput::Stream(out) => Ok(Sink::ArchiveStream {
                        staging: output::stream_staging()?,
                        out,
                    }),
                    FileOutput::Atomic(out) => {
                        let staging = out.staging_dir()?;
                        Ok(Sink::ArchiveFile {
                            staging,
                            out,
                            layer_written: false,
                        })
                    }
                }
            }
            (Format::OciDir, Target::Path(path)) => {
                let parent = existing_parent(path)?;
                output::check_dir_output(path)?;
                match layout_dir::classify(path)? {
                    layout_dir::Existing::Layout => Ok(Sink::ExistingLayout { path: path.clone() }),
                    layout_dir::Existing::Missing | layout_dir::Existing::EmptyDir => {
                        Ok(Sink::NewLayout {
                            staging: output::staging_beside(path, &parent)?,
                            path: path.clone(),
                        })
                    }
                }
            }
        }
    }

    /// The blob store that the layer, configs and manifests are written into.
    pub fn store(&self) -> Result<BlobStore> {
        match self {
            Sink::ArchiveFile { staging, .. }
            | Sink::ArchiveStream { staging, .. }
            | Sink::NewLayout { staging, .. } => BlobStore::create(staging.path()),
            Sink::ExistingLayout { path } => BlobStore::create(path),
        }
    }

    /// Where to write the context layer's compressed bytes: straight into an archive file,
    /// or a temporary blob in `store`. `mtime` is used for archive members.
    pub fn layer_out(&mut self, store: &BlobStore, mtime: u64) -> Result<LayerOut> {
        match self {
            Sink::ArchiveFile { out, .. } => {
                let file = oci_archive::begin_in_place(out.file(), mtime)
                    .with_context(|| format!("writing '{}'", out.shown().display()))?;
                Ok(LayerOut::Archive(BufWriter::with_capacity(
                    LAYER_BUFFER,
                    file,
                )))
            }
            _ => Ok(LayerOut::Store(BufWriter::with_capacity(
                LAYER_BUFFER,
                store.temp()?,
            ))),
        }
    }

    /// The layer written to `layer` is complete: give it its name.
    pub fn commit_layer(
        &mut self,
        store: &BlobStore,
        layer: LayerOut,
        digest: &Sha256Sum,
        size: u64,
        mtime: u64,
    ) -> Result<()> {
        match (self, layer) {
            (_, LayerOut::Store(w)) => {
                let tmp = w
                    .into_inner()
                    .map_err(|e| e.into_error())
                    .context("writing layer")?;
                store.commit(tmp, digest)
            }
            (
                Sink::ArchiveFile {
                    out, layer_written, ..
                },
                LayerOut::Archive(w),
            ) => {
                drop(
                    w.into_inner()
                        .map_err(|e| e.into_error())
                        .context("writing layer")?,
                );
                oci_archive::finish_in_place(out.file(), digest, size, mtime)
                    .with_context(|| format!("writing '{}'", out.shown().display()))?;
                *layer_written = true;
                Ok(())
            }
            (_, LayerOut::Archive(_)) => {
                anyhow::bail!("a layer was written into an archive that does not exist")
            }
        }
    }

    /// Write `oci-layout` and `index.json` (and for archives, the tar around them) and move
    /// the result into place. `mtime` is used for archive members; `layer` is the context
    /// layer's digest (written first in an archive), if there is one.
    pub fn finish(self, record: &ImageRecord, mtime: u64, layer: Option<&Sha256Sum>) -> Result<()> {
        match self {
            Sink::ArchiveFile {
                staging,
                mut out,
                layer_written,
            } => {
                let store = BlobStore::create(staging.path())?;
                let shown = out.shown().display().to_string();
                oci_archive::write(&store, record, mtime, layer, layer_written, out.file_mut())
                    .with_context(|| format!("writing '{shown}'"))?;
                out.commit()?;
                drop(staging);
                Ok(())
            }
            Sink::ArchiveStream { staging, out } => {
                let store = BlobStore::create(staging.path())?;
                let what = || format!("writing the image to {}", out.name());
                let mut file = out.file().try_clone().with_context(what)?;
                oci_archive::write(&store, record, mtime, layer, false, &mut file)
                    .with_context(what)
                    .map_err(|e| out.explain(e))
            }
            Sink::NewLayout { staging, path } => {
                layout_dir::write_top(staging.path(), &[], record)?;
                let parent = existing_parent(&path)?;
                let mut perms = fs::metadata(staging.path())
                    .with_context(|| format!("reading '{}'", staging.path().display()))?
                    .permissions();
                std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
                fs::set_permissions(staging.path(), perms)
                    .with_context(|| format!("reading '{}'", staging.path().display()))?;
                crate::interrupt::check()?;
                staging.rename_to(&path).with_context(|| {
                    format!("moving the image layout into place at '{}'", path.display())
                })?;
                sync_dir(&parent)
            }
            Sink::ExistingLayout { path } => {
                let existing = layout_dir::read_index(&path)?;
                layout_dir::write_top(&path, &existing, record)
            }
        }
    }
}

/// Standard output as a `File` (a duplicate descriptor): unbuffered, and `io::copy` from a
/// file into it can use `copy_file_range`/`splice`.
pub fn stdout_file() -> std::io::Result<File> {
    let stdout = std::io::stdout();
    Ok(File::from(
        std::os::fd::AsFd::as_fd(&stdout).try_clone_to_owned()?,
    ))
}

/// The directory an output path will be created in; it must exist.
pub(crate) fn existing_parent(path: &Path) -> Result<PathBuf> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !parent.is_dir() {
        return Err(UsageError::new(format!(
            "output directory '{}' does not exist",
            parent.display()
        ))
        .with_hint("create it first, or choose another -o path")
        .into());
    }
    Ok(parent)
}

pub(crate) fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".into())
}
