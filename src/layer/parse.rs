//! Reading the tar stream of a layer from an image, which is untrusted: a streaming parser
//! that uses the `tar` crate only to decode header fields. The framing (blocks, padding,
//! extended headers) is done here so that every size is bounded before anything is
//! allocated: PAX and GNU long-name records at most 1 MiB, paths and link targets at most
//! 4096 bytes, at most a million entries per layer. Sparse files and unknown entry types
//! are refused; PAX `path`, `linkpath`, `size`, `uid`, `gid` and `mtime` are honoured.

use std::fmt;
use std::io::{self, Read};

use anyhow::Result;
use tar::EntryType;

use crate::error::invalid;

const BLOCK: u64 = 512;
/// Largest PAX or GNU extended header accepted.
pub const MAX_EXTENDED_HEADER: u64 = 1 << 20;
/// Longest path or link target accepted.
pub const MAX_PATH: usize = 4096;
/// Longest path component accepted.
pub const MAX_COMPONENT: usize = 255;
/// Most entries accepted in one layer.
pub const MAX_ENTRIES: u64 = 1_000_000;

/// What a tar entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A hard link to an earlier entry.
    HardLink,
    /// A character device.
    Char,
    /// A block device.
    Block,
    /// A fifo.
    Fifo,
}

impl Kind {
    /// The `ls -l` type letter (`h` for a hard link).
    pub fn letter(self) -> char {
        match self {
            Kind::File => '-',
            Kind::Dir => 'd',
            Kind::Symlink => 'l',
            Kind::HardLink => 'h',
            Kind::Char => 'c',
            Kind::Block => 'b',
            Kind::Fifo => 'p',
        }
    }
}

/// One entry of a layer, after its extended headers were applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TarEntry {
    /// The name as stored (raw bytes; may start with `./` or `/`, may end in `/`).
    pub path: Vec<u8>,
    /// What the entry is.
    pub kind: Kind,
    /// Symlink or hard-link target, as stored.
    pub link: Option<Vec<u8>>,
    /// Content bytes that follow the header (0 for everything but regular files, in
    /// practice).
    pub size: u64,
    /// Permission bits, including setuid, setgid and sticky.
    pub mode: u32,
    /// Owner user id.
    pub uid: u64,
    /// Owner group id.
    pub gid: u64,
    /// Modification time in seconds since the epoch.
    pub mtime: i64,
    /// Device numbers of character and block devices.
    pub dev: (u32, u32),
}

/// A read error from below the tar parser: the blob could not be read (I/O, exit 1).
#[derive(Debug)]
pub struct SourceIo(pub io::Error);

impl fmt::Display for SourceIo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SourceIo {}

/// The decompressed layer is larger than allowed (a decompression bomb, exit 3).
#[derive(Debug)]
pub struct TooLarge(pub u64);

impl fmt::Display for TooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the layer decompresses to more than {} bytes (IMGBUILD_MAX_LAYER_BYTES)",
            self.0
        )
    }
}

impl std::error::Error for TooLarge {}

/// Turn an error read from a layer's decompressed stream into the right class: a blob that
/// fails verification stays a `VerifyError` (exit 3), a source I/O error stays I/O (exit 1),
/// a decompression bomb or data the decompressor refuses is an invalid image (exit 3).
pub fn stream_error(e: io::Error) -> anyhow::Error {
    if e.get_ref()
        .is_some_and(|i| i.is::<crate::digest::VerifyError>())
    {
        return anyhow::Error::new(e);
    }
    if e.get_ref().is_some_and(|i| i.is::<SourceIo>()) {
        let inner = e
            .into_inner()
            .and_then(|b| b.downcast::<SourceIo>().ok())
            .map(|s| s.0)
            .unwrap_or_else(|| io::Error::other("reading the layer"));
        return anyhow::Error::new(inner);
    }
    if e.get_ref()
        .is_some_and(|i| i.is::<crate::error::Interrupted>())
    {
        if let Some(i) = e
            .into_inner()
            .and_then(|b| b.downcast::<crate::error::Interrupted>().ok())
        {
            return anyhow::Error::new(*i);
        }
        return io::Error::other("interrupted").into();
    }
    if let Some(big) = e.get_ref().and_then(|i| i.downcast_ref::<TooLarge>()) {
        return invalid(big.to_string());
    }
    invalid(format!("the layer's data is corrupt: {e}"))
}

/// A tar stream being read entry by entry.
pub struct TarStream<R> {
    inner: R,
    /// Content bytes of the current entry not yet read.
    left: u64,
    /// Padding after the current entry's content.
    pad: u64,
    entries: u64,
    ended: bool,
}

impl<R: Read> TarStream<R> {
    /// A parser reading tar blocks from `inner`.
    pub fn new(inner: R) -> Self {
        TarStream {
            inner,
            left: 0,
            pad: 0,
            entries: 0,
            ended: false,
        }
    }

    /// Entries returned so far.
    pub fn count(&self) -> u64 {
        self.entries
    }

    /// The stream under the parser (to read what follows the end-of-archive blocks).
    pub fn inner_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The stream under the parser.
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// The next entry, skipping whatever is left of the current one; None at the end.
    pub fn next_entry(&mut self) -> Result<Option<TarEntry>> {
        self.skip(self.left.saturating_add(self.pad))?;
        self.left = 0;
        self.pad = 0;
        if self.ended {
            return Ok(None);
        }
        let mut pax: Option<Vec<u8>> = None;
        let mut long_name: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        loop {
            let mut block = [0u8; BLOCK as usize];
            let pending = pax.is_some() || long_name.is_some() || long_link.is_some();
            if !self.read_block(&mut block)? || block.iter().all(|&b| b == 0) {
                if pending {
                    return Err(invalid(
                        "the tar stream ends after an extended header, without its entry",
                    ));
                }
                self.ended = true;
                return Ok(None);
            }
            let header = tar::Header::from_byte_slice(&block);
            check_checksum(header)?;
            let size = header
                .entry_size()
                .map_err(|e| invalid(format!("a tar header has a bad size field: {e}")))?;
            let ty = header.entry_type();
            match ty {
                EntryType::XHeader => {
                    if pax.is_some() {
                        return Err(invalid("two PAX headers describe the same tar entry"));
                    }
                    pax = Some(self.read_extension(size, MAX_EXTENDED_HEADER, "PAX header")?);
                    continue;
                }
                EntryType::XGlobalHeader => {
                    // Global records (comments, mostly) change nothing imgbuild relies on.
                    self.read_extension(size, MAX_EXTENDED_HEADER, "PAX global header")?;
                    continue;
                }
                EntryType::GNULongName => {
                    if long_name.is_some() {
                        return Err(invalid("two GNU long names describe the same tar entry"));
                    }
                    let v = self.read_extension(size, MAX_PATH as u64 + 1, "GNU long name")?;
                    long_name = Some(trim_nul(v));
                    continue;
                }
                EntryType::GNULongLink => {
                    if long_link.is_some() {
                        return Err(invalid("two GNU long links describe the same tar entry"));
                    }
                    let v = self.read_extension(size, MAX_PATH as u64 + 1, "GNU long link")?;
                    long_link = Some(trim_nul(v));
                    continue;
                }
                _ => {}
            }
            self.entries += 1;
            if self.entries > MAX_ENTRIES {
                return Err(invalid(format!(
                    "the layer has more than {MAX_ENTRIES} entries"
                )));
            }
            let mut entry = decode(header, size, long_name, long_link)?;
            let mut stream_size = size;
            if let Some(records) = &pax {
                apply_pax(&mut entry, &mut stream_size, records)?;
            }
            check_names(&entry)?;
            if entry.kind != Kind::File {
                entry.size = 0;
            }
            self.left = stream_size;
            self.pad = padding(stream_size);
            return Ok(Some(entry));
        }
    }

    /// Read the current entry's content (0 at its end).
    pub fn read_content(&mut self, buf: &mut [u8]) -> Result<usize> {
        if self.left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = loop {
            match self.inner.read(&mut buf[..want]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other.map_err(stream_error)?,
            }
        };
        if n == 0 {
            return Err(invalid("the tar stream ends in the middle of a file"));
        }
        self.left -= n as u64;
        Ok(n)
    }

    fn read_block(&mut self, block: &mut [u8]) -> Result<bool> {
        let mut got = 0;
        while got < block.len() {
            let n = match self.inner.read(&mut block[got..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => other.map_err(stream_error)?,
            };
            if n == 0 {
                if got == 0 {
                    // A clean end without end-of-archive blocks (some writers omit them).
                    return Ok(false);
                }
                return Err(invalid("the tar stream ends in the middle of a header"));
            }
            got += n;
        }
        Ok(true)
    }

    fn read_extension(&mut self, size: u64, cap: u64, what: &str) -> Result<Vec<u8>> {
        if size > cap {
            return Err(invalid(format!(
                "a {what} of {size} bytes is larger than the {cap} allowed"
            )));
        }
        let mut data = vec![0u8; size as usize];
        let mut got = 0;
        while got < data.len() {
            let n = match self.inner.read(&mut data[got..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => other.map_err(stream_error)?,
            };
            if n == 0 {
                return Err(invalid(format!("the tar stream ends inside a {what}")));
            }
            got += n;
        }
        self.skip(padding(size))?;
        Ok(data)
    }

    fn skip(&mut self, mut n: u64) -> Result<()> {
        let mut buf = [0u8; 8192];
        while n > 0 {
            let want = buf.len().min(usize::try_from(n).unwrap_or(usize::MAX));
            let got = match self.inner.read(&mut buf[..want]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => other.map_err(stream_error)?,
            };
            if got == 0 {
                return Err(invalid("the tar stream ends in the middle of an entry"));
            }
            n -= got as u64;
        }
        Ok(())
    }
}

mod header;

use self::header::{apply_pax, check_checksum, check_names, decode, padding, trim_nul};

#[cfg(test)]
mod tests;
