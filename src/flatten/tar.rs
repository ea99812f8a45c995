//! The flattened filesystem as one tar stream (`export --format rootfs-tar`, like
//! `crane export`): headers built by `layer::header` (USTAR, PAX for long or non-ASCII names
//! and large numbers), names relative without `./`, directories first, numeric owners only,
//! no whiteouts, every hard link pointing at a file earlier in the stream.

use std::io::Write;

use anyhow::{Context as _, Result};
use tar::EntryType;

use super::tree::Meta;
use super::{Content, Counts, Emitter, copy_content};
use crate::layer::header::{RawEntry, encode, padding};
use crate::layer::parse::Kind;

/// An emitter that writes the flattened filesystem as one tar stream.
pub struct TarEmitter<W: Write> {
    out: W,
    header: Vec<u8>,
    chunk: Vec<u8>,
    /// What has been written so far.
    pub counts: Counts,
}

impl<W: Write> TarEmitter<W> {
    /// An emitter writing to `out`.
    pub fn new(out: W) -> Self {
        TarEmitter {
            out,
            header: Vec::with_capacity(2048),
            chunk: vec![0u8; 1 << 20],
            counts: Counts::default(),
        }
    }

    /// Write the end-of-archive blocks and flush.
    pub fn finish(mut self) -> Result<(W, Counts)> {
        self.out
            .write_all(&[0u8; 1024])
            .and_then(|()| self.out.flush())
            .context("writing the root filesystem tar")?;
        Ok((self.out, self.counts))
    }

    fn header(
        &mut self,
        path: &[u8],
        ty: EntryType,
        link: Option<&[u8]>,
        size: u64,
        meta: &Meta,
        dev: Option<(u32, u32)>,
    ) -> Result<()> {
        self.header.clear();
        encode(
            &RawEntry {
                path,
                is_dir: ty == EntryType::Directory,
                ty,
                link,
                size,
                mode: meta.mode & 0o7777,
                mtime: u64::try_from(meta.mtime).unwrap_or(0),
                owner: (meta.uid, meta.gid),
            },
            &mut self.header,
        )?;
        if let Some((major, minor)) = dev {
            // The device numbers go into the last (main) header block.
            let at = self.header.len() - 512;
            let mut h = tar::Header::new_old();
            h.as_mut_bytes().copy_from_slice(&self.header[at..]);
            h.set_device_major(major)
                .and_then(|()| h.set_device_minor(minor))
                .context("encoding device numbers")?;
            h.set_cksum();
            self.header[at..].copy_from_slice(h.as_bytes());
        }
        self.out
            .write_all(&self.header)
            .context("writing the root filesystem tar")
    }
}

impl<W: Write> Emitter for TarEmitter<W> {
    fn root(&mut self, _meta: &Meta) -> Result<()> {
        // The root is the extraction directory: its metadata is the extractor's business.
        Ok(())
    }

    fn dir(&mut self, path: &[u8], meta: &Meta) -> Result<()> {
        self.counts.dirs += 1;
        self.header(path, EntryType::Directory, None, 0, meta, None)
    }

    fn file(
        &mut self,
        path: &[u8],
        meta: &Meta,
        size: u64,
        content: &mut dyn Content,
    ) -> Result<()> {
        self.header(path, EntryType::Regular, None, size, meta, None)?;
        let out = &mut self.out;
        copy_content(content, size, &mut self.chunk, |b| {
            out.write_all(b).context("writing the root filesystem tar")
        })?;
        self.out
            .write_all(&[0u8; 512][..padding(size)])
            .context("writing the root filesystem tar")?;
        self.counts.files += 1;
        self.counts.bytes += size;
        Ok(())
    }

    fn hardlink(&mut self, path: &[u8], target: &[u8], meta: &Meta) -> Result<()> {
        self.counts.hardlinks += 1;
        self.header(path, EntryType::Link, Some(target), 0, meta, None)
    }

    fn symlink(&mut self, path: &[u8], target: &[u8], meta: &Meta) -> Result<()> {
        self.counts.symlinks += 1;
        self.header(path, EntryType::Symlink, Some(target), 0, meta, None)
    }

    fn special(&mut self, path: &[u8], kind: Kind, dev: (u32, u32), meta: &Meta) -> Result<()> {
        self.counts.specials += 1;
        let (ty, dev) = match kind {
            Kind::Char => (EntryType::Char, Some(dev)),
            Kind::Block => (EntryType::Block, Some(dev)),
            _ => (EntryType::Fifo, None),
        };
        self.header(path, ty, None, 0, meta, dev)
    }
}
