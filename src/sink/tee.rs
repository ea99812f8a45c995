//! Two destinations fed the same image: `build --push -o app.tar` pushes and writes a file.
//! The first keeps every blob it is given readable ([`Destination::open_blob`]), as a
//! staged push does; the second gets a copy of each as it is stored. The second is
//! finished (committed) first, then the first.

use std::fs::File;
use std::io;
use std::path::Path;

use anyhow::{Context as _, Result};

use super::{Destination, Format, ImageRecord, WriteBlob, WriteLayer};
use crate::cancel::Cancel;
use crate::digest::Sha256Sum;

/// Both of two destinations.
pub struct Tee<'a> {
    first: Box<dyn Destination + 'a>,
    second: Box<dyn Destination + 'a>,
}

impl<'a> Tee<'a> {
    /// Write to `first` (which must keep its blobs readable) and to `second`; the result
    /// reports `second`'s format and path.
    pub fn new(first: Box<dyn Destination + 'a>, second: Box<dyn Destination + 'a>) -> Tee<'a> {
        Tee { first, second }
    }

    fn copy_to_second(&mut self, digest: &Sha256Sum) -> Result<()> {
        let mut file = self
            .first
            .open_blob(digest)?
            .with_context(|| format!("blob {digest} was stored but cannot be read back"))?;
        self.second.put_blob(digest, &mut |out| {
            io::copy(&mut file, out).with_context(|| format!("copying blob {digest}"))?;
            Ok(())
        })
    }
}

impl Destination for Tee<'_> {
    fn format(&self) -> Format {
        self.second.format()
    }

    fn path(&self) -> Option<&Path> {
        self.second.path()
    }

    fn has_blob(&self, digest: &Sha256Sum) -> bool {
        self.first.has_blob(digest)
    }

    fn open_blob(&self, digest: &Sha256Sum) -> Result<Option<File>> {
        self.first.open_blob(digest)
    }

    fn put_blob(&mut self, digest: &Sha256Sum, write: &mut WriteBlob<'_>) -> Result<()> {
        self.first.put_blob(digest, write)?;
        self.copy_to_second(digest)
    }

    fn put_layer(&mut self, write: &mut WriteLayer<'_>) -> Result<()> {
        let mut named = None;
        self.first.put_layer(&mut |out| {
            let (digest, size) = write(out)?;
            named = Some(digest.clone());
            Ok((digest, size))
        })?;
        let digest = named.context("the layer was stored without a digest")?;
        // As a layer again, so an archive file takes it in place, first, as without a push.
        let mut file = self
            .first
            .open_blob(&digest)?
            .with_context(|| format!("layer {digest} was stored but cannot be read back"))?;
        self.second.put_layer(&mut |out| {
            let size =
                io::copy(&mut file, out).with_context(|| format!("copying layer {digest}"))?;
            Ok((digest.clone(), size))
        })
    }

    fn finish(self: Box<Self>, record: &ImageRecord, cancel: &Cancel) -> Result<()> {
        let Tee { first, second } = *self;
        second.finish(record, cancel)?;
        first.finish(record, cancel)
    }
}
