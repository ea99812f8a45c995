//! The blob store: a content-addressed `blobs/sha256/` directory and nothing else. A blob is
//! written to a temporary file inside it, fsynced, and renamed to its digest only once the
//! digest is known, so a partial blob never sits under a digest name.

use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::digest::Sha256Sum;
use crate::error::{escape_bytes, invalid};
use crate::interrupt::TempFile;

/// Prefix of temporary blob files; readers ignore them, `fsck`-like checks can spot them.
pub const TEMP_PREFIX: &str = ".imgbuild-";

/// The content-addressed blob store of an OCI layout (`blobs/sha256/<hex>`).
#[derive(Debug, Clone)]
pub struct BlobStore {
    /// The image layout directory (the store lives in its `blobs/sha256`).
    root: PathBuf,
}

impl BlobStore {
    /// Open (creating if needed) the store of the layout at `root`.
    pub fn create(root: &Path) -> Result<BlobStore> {
        let dir = root.join("blobs").join("sha256");
        fs::create_dir_all(&dir).with_context(|| format!("creating '{}'", dir.display()))?;
        Ok(BlobStore {
            root: root.to_path_buf(),
        })
    }

    /// The layout directory the store belongs to.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn dir(&self) -> PathBuf {
        self.root.join("blobs").join("sha256")
    }

    /// Where the blob with this digest lives (whether or not it exists).
    pub fn blob_path(&self, digest: &Sha256Sum) -> PathBuf {
        self.dir().join(digest.hex())
    }

    /// A temporary file in the store, to be committed under its digest (removed if it is
    /// not, on a signal too).
    pub fn temp(&self) -> Result<TempFile> {
        TempFile::create_in(
            tempfile::Builder::new()
                .prefix(TEMP_PREFIX)
                .suffix(".tmp")
                .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644)),
            &self.dir(),
        )
        .with_context(|| format!("creating a temporary blob in '{}'", self.dir().display()))
    }

    /// Make the written temporary file durable and give it its digest name.
    pub fn commit(&self, tmp: TempFile, digest: &Sha256Sum) -> Result<()> {
        tmp.as_file()
            .sync_all()
            .with_context(|| format!("writing blob {digest}"))?;
        let path = self.blob_path(digest);
        tmp.persist(&path)
            .with_context(|| format!("storing blob {digest}"))?;
        Ok(())
    }

    /// Store a small document; returns its digest and size.
    pub fn put_bytes(&self, bytes: &[u8]) -> Result<(Sha256Sum, u64)> {
        let digest = Sha256Sum::of(bytes);
        let mut tmp = self.temp()?;
        tmp.write_all(bytes)
            .with_context(|| format!("writing blob {digest}"))?;
        self.commit(tmp, &digest)?;
        Ok((digest, bytes.len() as u64))
    }

    /// Open a blob we stored ourselves.
    pub fn open(&self, digest: &Sha256Sum) -> Result<File> {
        File::open(self.blob_path(digest)).with_context(|| format!("opening blob {digest}"))
    }

    /// Whether there is anything under this digest's name (even a symbolic link).
    pub fn has(&self, digest: &Sha256Sum) -> bool {
        self.blob_path(digest).symlink_metadata().is_ok()
    }

    /// Open a blob that may have been put there by someone else (an existing layout):
    /// `None` when there is none; a symbolic link or anything but a regular file is
    /// refused as an invalid image, and a fifo is never waited on.
    pub fn open_existing(&self, digest: &Sha256Sum) -> Result<Option<File>> {
        let path = self.blob_path(digest);
        let shown = escape_bytes(std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()));
        let file = match fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                return Err(invalid(format!("'{shown}' is a symbolic link, not a blob")));
            }
            Err(e) => return Err(anyhow::Error::new(e).context(format!("opening '{shown}'"))),
        };
        let meta = file
            .metadata()
            .with_context(|| format!("reading '{shown}'"))?;
        if !meta.is_file() {
            return Err(invalid(format!("'{shown}' is not a regular file")));
        }
        Ok(Some(file))
    }
}

/// fsync a directory so that renames into it are durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing directory '{}'", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_commit_and_no_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::create(dir.path()).unwrap();
        let (d, n) = store.put_bytes(b"{}").unwrap();
        assert_eq!(n, 2);
        assert_eq!(fs::read(store.blob_path(&d)).unwrap(), b"{}");
        let names: Vec<_> = fs::read_dir(dir.path().join("blobs/sha256"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec![d.hex().to_owned()]);
        // A temp that is dropped without commit disappears.
        drop(store.temp().unwrap());
        assert_eq!(
            fs::read_dir(dir.path().join("blobs/sha256"))
                .unwrap()
                .count(),
            1
        );
    }
}
