//! OCI image-layout directories: `oci-layout`, `blobs/sha256/` (filled by the store) and
//! `index.json`, which is written last, through a temporary file and a rename: it is the
//! commit point. Adding to an existing layout replaces the entries that carry the same tag.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use oci_spec::image::{Descriptor, ImageIndex};

use super::{Destination, Format, ImageRecord, existing_parent, output};
use crate::cancel::Cancel;
use crate::error::UsageError;
use crate::image::{canonical, manifest};
use crate::interrupt::TempDir;
use crate::store::{BlobStore, TEMP_PREFIX, sync_dir};

/// An OCI image-layout directory as a destination. A new one (nothing, or an empty
/// directory, at the path) is staged beside it and renamed into place by `finish`; an
/// existing layout gets its blobs in place and its `index.json` replaced last, keeping the
/// entries of other tags.
pub struct LayoutDest {
    path: PathBuf,
    store: BlobStore,
    /// The staging directory of a new layout; `None` for an existing one.
    staging: Option<TempDir>,
}

impl LayoutDest {
    /// Claim `path`: nothing, an empty directory or an existing layout; anything else is
    /// refused.
    pub fn open(path: &Path) -> Result<LayoutDest> {
        let parent = existing_parent(path)?;
        output::check_dir_output(path)?;
        let (store, staging) = match classify(path)? {
            Existing::Layout => (BlobStore::create(path)?, None),
            Existing::Missing | Existing::EmptyDir => {
                let staging = output::staging_beside(path, &parent)?;
                (BlobStore::create(staging.path())?, Some(staging))
            }
        };
        Ok(LayoutDest {
            path: path.to_path_buf(),
            store,
            staging,
        })
    }
}

impl Destination for LayoutDest {
    crate::sink::staged_blobs!(store, layers);

    fn format(&self) -> Format {
        Format::OciDir
    }

    fn path(&self) -> Option<&Path> {
        Some(&self.path)
    }

    fn finish(self: Box<Self>, record: &ImageRecord, cancel: &Cancel) -> Result<()> {
        let LayoutDest { path, staging, .. } = *self;
        let Some(staging) = staging else {
            let existing = read_index(&path)?;
            return write_top(&path, &existing, record);
        };
        write_top(staging.path(), &[], record)?;
        let parent = existing_parent(&path)?;
        let shown = || format!("reading '{}'", staging.path().display());
        let mut perms = fs::metadata(staging.path())
            .with_context(shown)?
            .permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        fs::set_permissions(staging.path(), perms).with_context(shown)?;
        cancel.check()?;
        staging.rename_to(&path).with_context(|| {
            format!("moving the image layout into place at '{}'", path.display())
        })?;
        sync_dir(&parent)
    }
}

/// `index.json` of an existing layout is read only up to this size.
const MAX_INDEX_BYTES: u64 = 4 << 20;
/// The content of a layout's `oci-layout` file.
pub const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

/// What is at the path a layout is to be written to.
pub enum Existing {
    /// Nothing.
    Missing,
    /// An empty directory.
    EmptyDir,
    /// A directory with an `oci-layout` file.
    Layout,
}

/// What is at an `oci-dir` output path; anything but nothing, an empty directory or an
/// image layout is refused.
pub fn classify(path: &Path) -> Result<Existing> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Existing::Missing),
        Err(e) => return Err(e).with_context(|| format!("reading '{}'", path.display())),
    };
    if !meta.is_dir() {
        return Err(UsageError::new(format!(
            "output '{}' exists and is not a directory",
            path.display()
        ))
        .with_hint("choose a new path for the image layout, or remove the file")
        .into());
    }
    if path.join("oci-layout").is_file() {
        return Ok(Existing::Layout);
    }
    let mut entries =
        fs::read_dir(path).with_context(|| format!("reading '{}'", path.display()))?;
    if entries.next().is_none() {
        return Ok(Existing::EmptyDir);
    }
    Err(UsageError::new(format!(
        "output '{}' is a non-empty directory that is not an OCI image layout",
        path.display()
    ))
    .with_hint("choose a new or empty directory, or an existing layout (with an oci-layout file)")
    .into())
}

/// The manifests listed in an existing layout's `index.json`.
pub fn read_index(root: &Path) -> Result<Vec<Descriptor>> {
    let path = root.join("index.json");
    let file = fs::File::open(&path).with_context(|| format!("reading '{}'", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_INDEX_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading '{}'", path.display()))?;
    if bytes.len() as u64 > MAX_INDEX_BYTES {
        bail!("'{}' is larger than 4 MiB", path.display());
    }
    let index: ImageIndex = serde_json::from_slice(&bytes)
        .with_context(|| format!("'{}' is not a valid OCI image index", path.display()))?;
    Ok(index.manifests().clone())
}

/// The `index.json` bytes: `existing` entries minus those replaced by `record`, then ours.
pub fn index_json(existing: &[Descriptor], record: &ImageRecord) -> Result<Vec<u8>> {
    let ours: Vec<Descriptor> = if record.tags.is_empty() {
        vec![record.top.clone()]
    } else {
        record
            .tags
            .iter()
            .map(|t| manifest::tagged(&record.top, Some(t)))
            .collect()
    };
    let mut entries: Vec<Descriptor> = existing
        .iter()
        .filter(|d| match manifest::ref_name(d) {
            Some(name) => !record.tags.iter().any(|t| t == name),
            None => !ours.contains(d),
        })
        .cloned()
        .collect();
    entries.extend(ours);
    let index = manifest::build_index(entries, &[])?;
    canonical::to_vec(&index, "index.json")
}

/// Write `oci-layout` and then `index.json` into the layout at `root`.
pub fn write_top(root: &Path, existing: &[Descriptor], record: &ImageRecord) -> Result<()> {
    replace_file(root, "oci-layout", OCI_LAYOUT)?;
    sync_dir(&root.join("blobs").join("sha256"))?;
    replace_file(root, "index.json", &index_json(existing, record)?)?;
    sync_dir(root)
}

/// Atomically replace `root/name` with `bytes`.
fn replace_file(root: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let target = root.join(name);
    let mut tmp = super::output::temp_in(root, TEMP_PREFIX, 0o644)
        .with_context(|| format!("writing '{}'", target.display()))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("writing '{}'", target.display()))?;
    tmp.persist(&target)
        .with_context(|| format!("writing '{}'", target.display()))?;
    Ok(())
}
