//! The last stage: where the image goes, behind one trait, [`Destination`]. Making one
//! checks and claims the target before any heavy work (through `output`: a temporary file or
//! staging directory beside it, or a stream into stdout, a character device or a fifo);
//! [`Destination::finish`] writes the layout's top-level documents and moves the result into
//! place in one rename, so an error or Ctrl-C leaves no partial output and an existing
//! target untouched.

pub mod docker_archive;
pub mod docker_save;
pub mod layout_dir;
pub mod oci_archive;
pub mod output;
pub mod tee;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use oci_spec::image::Descriptor;

use self::output::FileOutput;
use crate::cancel::Cancel;
use crate::digest::Sha256Sum;
use crate::error::UsageError;
use crate::store::BlobStore;

/// The kind of image an output holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A tar archive of an OCI image layout.
    OciArchive,
    /// An OCI image layout directory.
    OciDir,
    /// An OCI archive holding exactly one image, for `docker load` (see `docker_archive`):
    /// what `export --format docker-archive` writes.
    DockerArchive,
    /// A classic `docker save` archive, uncompressed `<id>/layer.tar` layers (see
    /// `docker_save`): what `build --format docker-archive` writes.
    DockerSave,
}

impl Format {
    /// The format's name as the `--format` flag spells it.
    pub fn name(self) -> &'static str {
        match self {
            Format::OciArchive => "oci-archive",
            Format::OciDir => "oci-dir",
            Format::DockerArchive | Format::DockerSave => "docker-archive",
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

/// Where an image is written: blobs first, in any order, then the index that names them.
///
/// A destination is claimed when it is made (a bad output fails before any heavy work) and
/// commits in [`Destination::finish`]: dropped without it, it leaves nothing behind and an
/// existing target untouched. The implementations here: [`oci_archive::ArchiveFile`] (an
/// OCI or docker archive file, the context layer compressed straight into it),
/// [`oci_archive::ArchiveStream`] (an archive into any `Write`: stdout, a pipe, a buffer)
/// [`layout_dir::LayoutDest`] (a new or existing layout directory) and
/// [`docker_save::DockerSave`] (a classic `docker save` archive, file or stream). [`open`]
/// picks one for a format and a target, as the command line does.
pub trait Destination {
    /// The kind of image written.
    fn format(&self) -> Format;

    /// The output's path, or `None` for a stream.
    fn path(&self) -> Option<&Path>;

    /// Whether a blob of this digest is there already (in an existing layout, or put
    /// earlier by this build).
    fn has_blob(&self, digest: &Sha256Sum) -> bool;

    /// The bytes of a blob that is there already, to be checked before it is relied on;
    /// `None` when there is none. Never follows a symbolic link.
    fn open_blob(&self, digest: &Sha256Sum) -> Result<Option<File>>;

    /// Store the blob `digest`: `write` writes its bytes, and fails (as a verifying reader
    /// does) when they are not that blob's; the blob gets its name only when it succeeds.
    fn put_blob(&mut self, digest: &Sha256Sum, write: &mut WriteBlob<'_>) -> Result<()>;

    /// Store a layer whose digest is learnt while it is written: `write` writes its bytes
    /// and returns their digest and size. An archive file takes the first layer straight
    /// into place, so its bytes are written once.
    fn put_layer(&mut self, write: &mut WriteLayer<'_>) -> Result<()>;

    /// Store a small document; returns its digest and size.
    fn put_bytes(&mut self, bytes: &[u8]) -> Result<(Sha256Sum, u64)> {
        let digest = Sha256Sum::of(bytes);
        self.put_blob(&digest, &mut |out| Ok(out.write_all(bytes)?))?;
        Ok((digest, bytes.len() as u64))
    }

    /// Write the top-level documents (`oci-layout`, `index.json`, Docker's `manifest.json`)
    /// and commit: rename into place, or end the stream.
    fn finish(self: Box<Self>, record: &ImageRecord, cancel: &Cancel) -> Result<()>;
}

/// The part of [`Destination`] every destination that stages its blobs in a
/// [`BlobStore`] (field `$store`) shares: `has_blob`, `open_blob`, `put_blob`; with `layers`,
/// also `put_layer` into the store.
macro_rules! staged_blobs {
    ($store:tt) => {
        fn has_blob(&self, digest: &$crate::digest::Sha256Sum) -> bool {
            self.$store.has(digest)
        }

        fn open_blob(
            &self,
            digest: &$crate::digest::Sha256Sum,
        ) -> anyhow::Result<Option<std::fs::File>> {
            self.$store.open_existing(digest)
        }

        fn put_blob(
            &mut self,
            digest: &$crate::digest::Sha256Sum,
            write: &mut $crate::sink::WriteBlob<'_>,
        ) -> anyhow::Result<()> {
            $crate::sink::put_in_store(&self.$store, digest, write)
        }
    };
    ($store:tt, layers) => {
        $crate::sink::staged_blobs!($store);

        fn put_layer(&mut self, write: &mut $crate::sink::WriteLayer<'_>) -> anyhow::Result<()> {
            $crate::sink::put_layer_in_store(&self.$store, write).map(drop)
        }
    };
}
pub(crate) use staged_blobs;

/// What [`Destination::put_blob`] calls to write a blob's bytes.
pub type WriteBlob<'a> = dyn FnMut(&mut dyn Write) -> Result<()> + 'a;

/// What [`Destination::put_layer`] calls to write a layer: returns its digest and size.
pub type WriteLayer<'a> = dyn FnMut(&mut dyn Write) -> Result<(Sha256Sum, u64)> + 'a;

/// Writes into the store and into archives go through a buffer of this size.
const BLOB_BUFFER: usize = 1 << 20;

/// Claim `target` for an image of `format`, as `-o` and `--format` say: a layout
/// directory, an archive file (replaced atomically), or a stream into stdout, a character
/// device or a fifo. `mtime` is the time of archive members; `cancel` stops a wait for a
/// fifo's reader.
pub fn open(
    format: Format,
    target: &Target,
    mtime: u64,
    cancel: &Cancel,
) -> crate::Result<Box<dyn Destination>> {
    open_inner(format, target, mtime, cancel).map_err(crate::Error::from)
}

fn open_inner(
    format: Format,
    target: &Target,
    mtime: u64,
    cancel: &Cancel,
) -> Result<Box<dyn Destination>> {
    match (format, target) {
        (Format::OciDir, Target::Stdout) => Err(UsageError::new(
            "an oci-dir image cannot be written to stdout",
        )
        .with_hint("pass -o DIR, or use --format oci-archive with -o -")
        .into()),
        (Format::OciArchive | Format::DockerArchive, target) => {
            let hint = "use --format oci-dir to write an image layout directory, or name a file";
            let docker = format == Format::DockerArchive;
            Ok(match FileOutput::open(target, hint, cancel)? {
                FileOutput::Stream(out) => {
                    Box::new(oci_archive::ArchiveStream::of_output(out, docker, mtime)?)
                }
                FileOutput::Atomic(out) => {
                    Box::new(oci_archive::ArchiveFile::new(out, docker, mtime)?)
                }
            })
        }
        (Format::DockerSave, target) => {
            let hint =
                "name a file for the docker archive, or use --format oci-dir for a directory";
            let out = FileOutput::open(target, hint, cancel)?;
            Ok(Box::new(docker_save::DockerSave::new(out, mtime)?))
        }
        (Format::OciDir, Target::Path(path)) => Ok(Box::new(layout_dir::LayoutDest::open(path)?)),
    }
}

/// Store a blob through a buffer into a temporary file of `store`, committed under
/// `digest` when `write` succeeds.
pub(crate) fn put_in_store(
    store: &BlobStore,
    digest: &Sha256Sum,
    write: &mut WriteBlob<'_>,
) -> Result<()> {
    let mut out = BufWriter::with_capacity(BLOB_BUFFER, store.temp()?);
    write(&mut out)?;
    let tmp = out
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("writing blob {digest}"))?;
    store.commit(tmp, digest)
}

/// A layer through a buffer into a temporary file of `store`, committed under the digest
/// `write` returns.
pub(crate) fn put_layer_in_store(
    store: &BlobStore,
    write: &mut WriteLayer<'_>,
) -> Result<Sha256Sum> {
    let mut out = BufWriter::with_capacity(BLOB_BUFFER, store.temp()?);
    let (digest, _) = write(&mut out)?;
    let tmp = out
        .into_inner()
        .map_err(|e| e.into_error())
        .context("writing layer")?;
    store.commit(tmp, &digest)?;
    Ok(digest)
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

/// A bare blob store as a destination: blobs only, and `finish` writes nothing. The second
/// build of `--check-reproducible` goes into one; so do tests.
pub(crate) struct Scratch(pub BlobStore);

impl Destination for Scratch {
    crate::sink::staged_blobs!(0, layers);

    fn format(&self) -> Format {
        Format::OciDir
    }

    fn path(&self) -> Option<&Path> {
        Some(self.0.root())
    }

    fn finish(self: Box<Self>, _record: &ImageRecord, _cancel: &Cancel) -> Result<()> {
        Ok(())
    }
}
