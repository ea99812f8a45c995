//! An OCI image-layout directory as a blob source. Blob paths are built only from a parsed
//! digest, and blobs are opened without following symlinks and checked to be regular files.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Result;
use oci_spec::image::Descriptor;

use super::documents::check_layout_version;
use super::{BlobSource, Form, MAX_DOCUMENT};
use crate::error::{escape_bytes, image_io, invalid};

/// An OCI image-layout directory opened for reading: its files are opened relative to it,
/// never following a symbolic link.
pub struct LayoutDir {
    root: PathBuf,
}

fn shown(p: &Path) -> String {
    escape_bytes(std::os::unix::ffi::OsStrExt::as_bytes(p.as_os_str()))
}

/// The error for a file of the layout that is a symbolic link.
fn symlink_error(path: &Path) -> anyhow::Error {
    invalid(format!(
        "'{}' is a symbolic link; blobs in an image layout must be regular files",
        shown(path)
    ))
}

impl LayoutDir {
    /// Open the layout at `root`: it must be a directory with `oci-layout` and `index.json`
    /// as regular files (exit 3 otherwise).
    pub fn open(root: &Path) -> Result<LayoutDir> {
        let meta = std::fs::metadata(root).map_err(|e| image_io(e, root))?;
        if !meta.is_dir() {
            return Err(invalid(format!(
                "'{}' is not an OCI image layout (not a directory)",
                shown(root)
            )));
        }
        for (name, what) in [
            ("index.json", "index.json"),
            ("oci-layout", "oci-layout file"),
        ] {
            let path = root.join(name);
            match std::fs::symlink_metadata(&path) {
                Ok(m) if m.file_type().is_symlink() => return Err(symlink_error(&path)),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(invalid(format!(
                        "'{}' is not an OCI image layout (no {what})",
                        shown(root)
                    )));
                }
                Err(e) => return Err(image_io(e, &path)),
            }
        }
        let dir = LayoutDir {
            root: root.to_path_buf(),
        };
        check_layout_version(&dir.read_file("oci-layout", MAX_DOCUMENT)?)?;
        Ok(dir)
    }

    /// Open a file of the layout without following a symlink or blocking on a fifo.
    pub fn open_file(&self, rel: &str) -> Result<File> {
        let path = self.root.join(rel);
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(&path)
            .map_err(|e| {
                // O_NOFOLLOW gives ELOOP for a symlink as the last component.
                let is_link = e.raw_os_error() == Some(libc::ELOOP)
                    && std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink());
                if is_link {
                    symlink_error(&path)
                } else {
                    image_io(e, &path)
                }
            })?;
        let meta = file.metadata().map_err(|e| image_io(e, &path))?;
        if !meta.is_file() {
            return Err(invalid(format!("'{}' is not a regular file", shown(&path))));
        }
        Ok(file)
    }

    /// Read a small file whole, refusing one larger than `cap`.
    pub fn read_file(&self, rel: &str, cap: u64) -> Result<Vec<u8>> {
        let file = self.open_file(rel)?;
        let mut out = Vec::new();
        file.take(cap + 1)
            .read_to_end(&mut out)
            .map_err(|e| image_io(e, &self.root.join(rel)))?;
        if out.len() as u64 > cap {
            return Err(invalid(format!(
                "'{rel}' is larger than the {cap} bytes allowed"
            )));
        }
        Ok(out)
    }

    /// The path of the blob with sha256 `hex`, relative to the layout.
    pub fn blob_rel(hex: &str) -> String {
        format!("blobs/sha256/{hex}")
    }
}

impl BlobSource for LayoutDir {
    fn form(&self) -> Form {
        Form::Layout
    }

    fn index_json(&self) -> Result<Vec<u8>> {
        self.read_file("index.json", MAX_DOCUMENT)
    }

    fn open_blob(&self, hex: &str, _desc: &Descriptor) -> Result<Box<dyn Read + '_>> {
        Ok(Box::new(self.open_file(&LayoutDir::blob_rel(hex))?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("oci-layout"),
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .unwrap();
        std::fs::write(d.path().join("index.json"), b"{}").unwrap();
        std::fs::create_dir_all(d.path().join("blobs/sha256")).unwrap();
        d
    }

    fn rejected(e: &anyhow::Error) -> bool {
        e.chain().any(|c| c.is::<crate::error::InvalidImage>())
    }

    #[test]
    fn symlinked_files_are_rejected_as_invalid() {
        let d = layout();
        std::fs::write(d.path().join("real"), b"data").unwrap();
        std::os::unix::fs::symlink("../../real", d.path().join("blobs/sha256/ab")).unwrap();
        let dir = LayoutDir::open(d.path()).unwrap();
        let e = dir.open_file("blobs/sha256/ab").unwrap_err();
        assert!(rejected(&e), "{e:#}");
        assert!(format!("{e:#}").contains("is a symbolic link"), "{e:#}");
        std::fs::remove_file(d.path().join("index.json")).unwrap();
        std::os::unix::fs::symlink("real", d.path().join("index.json")).unwrap();
        let e = LayoutDir::open(d.path()).err().unwrap();
        assert!(
            rejected(&e) && format!("{e:#}").contains("is a symbolic link"),
            "{e:#}"
        );
    }

    #[test]
    fn missing_index_json_is_not_a_layout() {
        let d = layout();
        std::fs::remove_file(d.path().join("index.json")).unwrap();
        let e = LayoutDir::open(d.path()).err().unwrap();
        assert!(rejected(&e), "{e:#}");
        assert!(format!("{e:#}").contains("is not an OCI image layout (no index.json)"));
    }
}
