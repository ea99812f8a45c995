//! A tar file as a read-only store of members: one pass over the headers records where each
//! regular file's bytes are, and later reads seek straight to them. Used for OCI archives
//! and `docker save` archives. Member names are untrusted: they are normalised (`./` dropped),
//! names with `..`, absolute names, duplicates and absurd counts are refused, and symlinks
//! (docker save uses them for repeated layers) are followed inside the archive only.
//! A member whose header claims more bytes than the file holds (a truncated archive) is
//! recorded: opening it is an error, and `warnings` names it for the reads that don't.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use oci_spec::image::Descriptor;

use super::documents::check_layout_version;
use super::layout::LayoutDir;
use super::{BlobSource, Form, MAX_DOCUMENT};
use crate::error::{MissingFromImage, escape_bytes, image_io, invalid};

const MAX_MEMBERS: usize = 100_000;
const MAX_NAME: usize = 4096;
const MAX_LINK_HOPS: usize = 8;

#[derive(Debug, Clone)]
enum Member {
    /// `available` is less than `size` when the file ends inside the member's data.
    File {
        offset: u64,
        size: u64,
        available: u64,
    },
    Symlink(String),
}

/// The members of a tar file, by normalised name.
pub struct TarIndex {
    path: PathBuf,
    members: HashMap<String, Member>,
    /// Truncated members, in archive order: (name, claimed size, bytes present).
    truncated: Vec<(String, u64, u64)>,
    /// Keeps a temporary copy of stdin alive.
    _temp: Option<tempfile::NamedTempFile>,
}

impl TarIndex {
    /// Index the tar at `path`.
    pub fn open(path: &Path) -> Result<TarIndex> {
        // Not blocking on a fifo: it is refused below, as any non-regular file.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| image_io(e, path))?;
        let meta = file.metadata().map_err(|e| image_io(e, path))?;
        if !meta.is_file() {
            return Err(invalid(format!(
                "'{}' is not a regular file",
                path.display()
            )));
        }
        let members = index(file, meta.len())
            .with_context(|| format!("reading archive '{}'", path.display()))?;
        let mut truncated: Vec<(u64, String, u64, u64)> = members
            .iter()
            .filter_map(|(name, m)| match *m {
                Member::File {
                    offset,
                    size,
                    available,
                } if available < size => Some((offset, name.clone(), size, available)),
                _ => None,
            })
            .collect();
        truncated.sort();
        let truncated = truncated
            .into_iter()
            .map(|(_, name, size, available)| (name, size, available))
            .collect();
        Ok(TarIndex {
            path: path.to_path_buf(),
            members,
            truncated,
            _temp: None,
        })
    }

    /// Copy standard input to a temporary file (archives need random access) and index it.
    pub fn from_stdin() -> Result<TarIndex> {
        let mut temp = tempfile::Builder::new()
            .prefix("imgbuild-stdin-")
            .tempfile()
            .context("creating a temporary file for stdin")?;
        io::copy(&mut io::stdin().lock(), temp.as_file_mut())
            .context("reading the image from stdin")?;
        let mut idx =
            TarIndex::open(temp.path()).map_err(|e| e.context("reading the image from stdin"))?;
        idx._temp = Some(temp);
        Ok(idx)
    }

    /// What is wrong with the archive but does not stop reading it: each truncated member
    /// (reading that member fails).
    pub fn warnings(&self) -> Vec<String> {
        self.truncated
            .iter()
            .map(|(name, size, available)| {
                format!(
                    "the archive is truncated: member '{}' claims {size} bytes but the file ends after {available} of them",
                    escape_bytes(name.as_bytes())
                )
            })
            .collect()
    }

    /// Whether the archive has a member of that name.
    pub fn contains(&self, name: &str) -> bool {
        self.members.contains_key(name)
    }

    /// The names of its members.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.members.keys().map(String::as_str)
    }

    /// The size of a member (following symlinks), if it is there.
    pub fn size(&self, name: &str) -> Option<u64> {
        match self.resolve(name).ok()? {
            Member::File { size, .. } => Some(size),
            Member::Symlink(_) => None,
        }
    }

    /// Open a member's bytes.
    pub fn open_member(&self, name: &str) -> Result<io::Take<File>> {
        let Member::File {
            offset,
            size,
            available,
        } = self.resolve(name)?
        else {
            return Err(invalid(format!("archive member '{name}' is not a file")));
        };
        if available < size {
            return Err(invalid(format!(
                "archive member '{}' is truncated: its header claims {size} bytes but the file ends after {available} of them",
                escape_bytes(name.as_bytes())
            )));
        }
        let mut f = File::open(&self.path).map_err(|e| image_io(e, &self.path))?;
        f.seek(SeekFrom::Start(offset))
            .map_err(|e| image_io(e, &self.path))?;
        Ok(f.take(size))
    }

    /// Read a small member whole, refusing one larger than `cap`.
    pub fn read_member(&self, name: &str, cap: u64) -> Result<Vec<u8>> {
        let size = self.size(name).ok_or_else(|| no_member(name))?;
        if size > cap {
            return Err(invalid(format!(
                "'{name}' is {size} bytes, more than the {cap} allowed"
            )));
        }
        let mut out = Vec::with_capacity(size as usize);
        self.open_member(name)?.read_to_end(&mut out)?;
        Ok(out)
    }

    fn resolve(&self, name: &str) -> Result<Member> {
        let mut name = name.to_owned();
        for _ in 0..MAX_LINK_HOPS {
            match self.members.get(&name) {
                Some(Member::Symlink(target)) => {
                    name = join_link(&name, target).ok_or_else(|| {
                        invalid(format!("archive member '{name}' links outside the archive"))
                    })?;
                }
                Some(m) => return Ok(m.clone()),
                None => return Err(no_member(&name)),
            }
        }
        Err(invalid(format!(
            "too many symlinks resolving archive member '{name}'"
        )))
    }
}

/// The members of the tar `file`, which is `len` bytes long.
fn index(file: File, len: u64) -> Result<HashMap<String, Member>> {
    let mut archive = tar::Archive::new(file);
    let mut members = HashMap::new();
    for entry in archive.entries_with_seek()? {
        let entry = entry.map_err(|e| invalid(format!("the archive is not a valid tar: {e}")))?;
        if members.len() >= MAX_MEMBERS {
            return Err(invalid(format!(
                "the archive has more than {MAX_MEMBERS} members"
            )));
        }
        let raw = entry.path_bytes();
        if raw.len() > MAX_NAME {
            return Err(invalid("an archive member name is longer than 4096 bytes"));
        }
        let Some(name) = normalise(&raw) else {
            return Err(invalid(format!(
                "archive member '{}' has an unsafe name",
                escape_bytes(&raw)
            )));
        };
        let member = match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let offset = entry.raw_file_position();
                let size = entry.size();
                Member::File {
                    offset,
                    size,
                    available: size.min(len.saturating_sub(offset)),
                }
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|t| String::from_utf8_lossy(&t).into_owned())
                    .unwrap_or_default();
                Member::Symlink(target)
            }
            _ => continue,
        };
        if name.is_empty() {
            continue;
        }
        if members.insert(name.clone(), member).is_some() {
            return Err(invalid(format!("archive member '{name}' appears twice")));
        }
    }
    Ok(members)
}

/// `./a//b/` → `a/b`; `None` for absolute names or names with `..`.
/// The error for a member the archive does not hold: typed, so that a caller can turn it
/// into a better message ("blob ... is missing") without reading its text.
fn no_member(name: &str) -> anyhow::Error {
    MissingFromImage(format!("the archive has no '{name}'")).into()
}

fn normalise(raw: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(raw).ok()?;
    if text.starts_with('/') {
        return None;
    }
    let mut parts = Vec::new();
    for c in text.split('/') {
        match c {
            "" | "." => {}
            ".." => return None,
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

/// A symlink target relative to its member's directory, kept inside the archive.
fn join_link(member: &str, target: &str) -> Option<String> {
    let base = match member.rsplit_once('/') {
        Some((dir, _)) => dir.to_owned(),
        None => String::new(),
    };
    let joined = if target.starts_with('/') || base.is_empty() {
        target.to_owned()
    } else {
        format!("{base}/{target}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for c in joined.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

/// A tar of an OCI image layout as a blob source.
pub struct OciArchive {
    tar: TarIndex,
}

impl OciArchive {
    /// Check the archive's `oci-layout` version and that it has an `index.json`.
    pub fn new(tar: TarIndex) -> Result<OciArchive> {
        check_layout_version(&tar.read_member("oci-layout", MAX_DOCUMENT)?)?;
        if !tar.contains("index.json") {
            return Err(MissingFromImage("the archive has no 'index.json'".into()).into());
        }
        Ok(OciArchive { tar })
    }
}

impl BlobSource for OciArchive {
    fn form(&self) -> Form {
        Form::OciArchive
    }

    fn index_json(&self) -> Result<Vec<u8>> {
        self.tar.read_member("index.json", MAX_DOCUMENT)
    }

    fn open_blob(&self, hex: &str, _desc: &Descriptor) -> Result<Box<dyn Read + '_>> {
        Ok(Box::new(self.tar.open_member(&LayoutDir::blob_rel(hex))?))
    }

    fn warnings(&self) -> Vec<String> {
        self.tar.warnings()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalised_or_refused() {
        assert_eq!(
            normalise(b"./blobs//sha256/x").as_deref(),
            Some("blobs/sha256/x")
        );
        assert_eq!(normalise(b"index.json").as_deref(), Some("index.json"));
        assert_eq!(normalise(b"/etc/passwd"), None);
        assert_eq!(normalise(b"a/../../b"), None);
        assert_eq!(normalise(b"\xff"), None);
    }

    #[test]
    fn links_stay_inside() {
        assert_eq!(
            join_link("a/layer.tar", "../b/layer.tar").as_deref(),
            Some("b/layer.tar")
        );
        assert_eq!(join_link("layer.tar", "x").as_deref(), Some("x"));
        assert_eq!(join_link("a/layer.tar", "../../etc/passwd"), None);
    }

    fn tar_of(members: &[(&str, &[u8])]) -> tempfile::NamedTempFile {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in members {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, *data).unwrap();
        }
        let bytes = b.into_inner().unwrap();
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, &bytes).unwrap();
        f
    }

    #[test]
    fn reads_members_and_refuses_duplicates() {
        let f = tar_of(&[("./a", b"one"), ("dir/b", b"two")]);
        let idx = TarIndex::open(f.path()).unwrap();
        assert_eq!(idx.read_member("a", 10).unwrap(), b"one");
        assert_eq!(idx.read_member("dir/b", 10).unwrap(), b"two");
        assert!(idx.read_member("dir/b", 2).is_err());
        assert!(idx.read_member("missing", 10).is_err());
        let f = tar_of(&[("a", b"one"), ("./a", b"two")]);
        let e = TarIndex::open(f.path()).err().unwrap();
        assert!(format!("{e:#}").contains("appears twice"), "{e:#}");
    }

    #[test]
    fn truncated_members_are_recorded_and_refused() {
        let f = tar_of(&[("a", b"one"), ("b", &[7u8; 2000])]);
        let mut bytes = std::fs::read(f.path()).unwrap();
        // Headers of a and b, a's data block, then 100 of b's 2000 bytes.
        bytes.truncate(512 * 3 + 100);
        std::fs::write(f.path(), &bytes).unwrap();
        let idx = TarIndex::open(f.path()).unwrap();
        assert_eq!(idx.read_member("a", 10).unwrap(), b"one");
        let warnings = idx.warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("member 'b' claims 2000 bytes but the file ends after 100"),
            "{warnings:?}"
        );
        let e = idx.open_member("b").err().unwrap();
        assert!(e.is::<crate::error::InvalidImage>(), "{e:#}");
        assert!(format!("{e:#}").contains("'b' is truncated"), "{e:#}");
        let whole = tar_of(&[("a", b"one")]);
        assert!(TarIndex::open(whole.path()).unwrap().warnings().is_empty());
    }

    #[test]
    fn an_absent_member_is_typed_as_missing() {
        let f = tar_of(&[("a", b"one")]);
        let idx = TarIndex::open(f.path()).unwrap();
        for e in [
            idx.open_member("b").err().unwrap(),
            idx.read_member("b", 10).unwrap_err(),
        ] {
            assert!(e.is::<MissingFromImage>(), "{e:#}");
            assert_eq!(e.to_string(), "the archive has no 'b'");
        }
    }

    #[test]
    fn garbage_is_an_error() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, &[0x55u8; 3000]).unwrap();
        assert!(TarIndex::open(f.path()).is_err());
    }
}
