//! An OCI image-layout directory as a blob source. Blob paths are built only from a parsed
//! digest, and blobs are opened without following symlinks and checked to be regular files.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::error::invalid;

pub struct LayoutDir {
    root: PathBuf,
}

impl LayoutDir {
    pub fn open(root: &Path) -> Result<LayoutDir> {
        let layout = root.join("oci-layout");
        if !layout.is_file() {
            return Err(invalid(format!(
                "'{}' is not an OCI image layout (no oci-layout file)",
                root.display()
            )));
        }
        Ok(LayoutDir {
            root: root.to_path_buf(),
        })
    }

    /// Open a file of the layout without following a symlink or blocking on a fifo.
    pub fn open_file(&self, rel: &str) -> Result<File> {
        let path = self.root.join(rel);
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(&path)
            .with_context(|| format!("opening '{}'", path.display()))?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(invalid(format!(
                "'{}' is not a regular file",
                path.display()
            )));
        }
        Ok(file)
    }

    /// Read a small file whole, refusing one larger than `cap`.
    pub fn read_file(&self, rel: &str, cap: u64) -> Result<Vec<u8>> {
        let file = self.open_file(rel)?;
        let mut out = Vec::new();
        file.take(cap + 1).read_to_end(&mut out)?;
        if out.len() as u64 > cap {
            return Err(invalid(format!(
                "'{rel}' is larger than the {cap} bytes allowed"
            )));
        }
        Ok(out)
    }

    pub fn blob_rel(hex: &str) -> String {
        format!("blobs/sha256/{hex}")
    }
}
