//! The flattened root filesystem of one image: `export --format rootfs-tar|rootfs-dir`.
//!
//! Two passes over the layers. Pass 1 reads every layer to its end (blob digest and size,
//! diff_id and tar structure checked, see `layer::reader`) and applies its entries to the
//! in-memory `tree` (metadata only). Only then does pass 2 start: it reads again the layers
//! whose entries survive and hands the output entries to an `Emitter`, directories first,
//! then everything else in layer order: `tar` writes one tar stream, `dir` extracts safely
//! into a new directory. So nothing of a layer reaches the output before every layer has
//! been verified, and a layer that changes between the passes is an error.

mod arena;
pub mod dir;
mod nodes;
pub mod output;
mod plan;
mod sys;
pub mod tar;
pub mod tree;

use std::io::Read;

use anyhow::Result;
use serde::Serialize;

use self::tree::{Meta, Plan, Step, Tree};
use crate::cancel::Cancel;
use crate::error::{escape_bytes, invalid};
use crate::image::source::{Image, Selected};
use crate::layer::parse::{Kind, TarEntry, TarStream};
use crate::layer::reader::{Limits, read_layer};
use crate::progress::Progress;

/// Where a file's content comes from during pass 2.
pub trait Content {
    /// Bytes of the current entry (0 at its end).
    fn read(&mut self, buf: &mut [u8]) -> Result<usize>;
}

impl<R: Read> Content for TarStream<R> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        self.read_content(buf)
    }
}

/// What receives the flattened filesystem. Paths are relative, clean (`a/b`), never empty.
pub trait Emitter {
    /// The root directory's own metadata, when an image sets it (a `./` entry).
    fn root(&mut self, meta: &Meta) -> Result<()>;
    /// A directory.
    fn dir(&mut self, path: &[u8], meta: &Meta) -> Result<()>;
    /// A regular file of `size` bytes read from `content`.
    fn file(
        &mut self,
        path: &[u8],
        meta: &Meta,
        size: u64,
        content: &mut dyn Content,
    ) -> Result<()>;
    /// A hard link to `target`, a file emitted earlier.
    fn hardlink(&mut self, path: &[u8], target: &[u8], meta: &Meta) -> Result<()>;
    /// A symbolic link to `target`, as stored.
    fn symlink(&mut self, path: &[u8], target: &[u8], meta: &Meta) -> Result<()>;
    /// A character or block device or a fifo.
    fn special(&mut self, path: &[u8], kind: Kind, dev: (u32, u32), meta: &Meta) -> Result<()>;
    /// Before anything else: the plan that drives this emitter (it hands the directories
    /// back to `end`, so the emitter need not remember them).
    fn begin(&mut self, _plan: &Plan) {}
    /// After the last entry.
    fn end(&mut self, _plan: &Plan) -> Result<()> {
        Ok(())
    }
}

/// What the output holds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Counts {
    /// Directories written.
    pub dirs: u64,
    /// Regular files written.
    pub files: u64,
    /// Hard links written.
    pub hardlinks: u64,
    /// Symbolic links written.
    pub symlinks: u64,
    /// Devices and fifos written.
    pub specials: u64,
    /// Device files left out (creating them needs root).
    pub skipped_devices: u64,
    /// Content bytes of the regular files.
    pub bytes: u64,
}

/// Pass 1: every layer of `sel`, in order, verified and applied.
pub fn flatten(
    image: &Image,
    sel: &Selected,
    limits: &Limits,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<Tree> {
    let diff_ids = sel.config.rootfs().diff_ids();
    let mut tree = Tree::new();
    for (i, layer) in sel.manifest.layers().iter().enumerate() {
        let index = u32::try_from(i).map_err(|_| invalid("too many layers"))?;
        let diff_id = diff_ids.get(i).map(String::as_str);
        read_layer(
            image,
            layer,
            diff_id,
            limits,
            &format!("layer {i}"),
            cancel,
            |tar| {
                let mut ordinal = 0u64;
                while let Some(e) = tar.next_entry()? {
                    cancel.check()?;
                    tree.apply(index, ordinal, &e)?;
                    ordinal += 1;
                }
                Ok(())
            },
        )?;
        progress.advance(layer.size(), 0);
    }
    Ok(tree)
}

/// Pass 2: the plan's output, handed to `out`.
pub fn emit(
    image: &Image,
    sel: &Selected,
    limits: &Limits,
    plan: &Plan,
    out: &mut dyn Emitter,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<()> {
    plan.check()?;
    out.begin(plan);
    if let Some(root) = &plan.root {
        out.root(root)?;
    }
    plan.for_each_dir(|path, meta| {
        cancel.check()?;
        out.dir(path, meta)
    })?;
    let diff_ids = sel.config.rootfs().diff_ids();
    let (mut path, mut target) = (Vec::new(), Vec::new());
    for (i, layer) in sel.manifest.layers().iter().enumerate() {
        let index = u32::try_from(i).map_err(|_| invalid("too many layers"))?;
        if !plan.uses_layer(index) {
            continue;
        }
        let diff_id = diff_ids.get(i).map(String::as_str);
        let mut next = plan.layer_start(index);
        let (first, end) = (plan.seq(index, 0), plan.seq(index + 1, 0));
        read_layer(
            image,
            layer,
            diff_id,
            limits,
            &format!("layer {i}"),
            cancel,
            |tar| {
                let mut seq = first;
                while let Some(e) = tar.next_entry()? {
                    cancel.check()?;
                    // Entries beyond what the first read found trigger nothing.
                    while seq < end && plan.trigger(next) == seq {
                        let step = plan.step(next, &mut path, &mut target)?;
                        next += 1;
                        apply(step, &path, &target, &e, tar, out)?;
                        if matches!(step, Step::Data { .. }) {
                            progress.advance(0, 1);
                        }
                    }
                    seq += 1;
                }
                Ok(())
            },
        )?;
        progress.advance(layer.size(), 0);
        if plan.trigger(next) < end {
            return Err(invalid(format!(
                "layer {i} has fewer entries than its first read found (the image changed while it was read)"
            )));
        }
    }
    out.end(plan)
}

/// One planned step, on reading entry `e` of a layer.
fn apply(
    step: Step,
    path: &[u8],
    target: &[u8],
    e: &TarEntry,
    tar: &mut dyn Content,
    out: &mut dyn Emitter,
) -> Result<()> {
    match step {
        Step::Data { meta, size } => {
            if e.kind != Kind::File || e.size != size {
                return Err(invalid(format!(
                    "entry '{}' is not what the first read of the layer found (the image changed while it was read)",
                    escape_bytes(&e.path)
                )));
            }
            out.file(path, &meta, size, tar)
        }
        Step::Link { meta } => out.hardlink(path, target, &meta),
        Step::Symlink { meta } => out.symlink(path, target, &meta),
        Step::Special { kind, dev, meta } => out.special(path, kind, dev, &meta),
    }
}

/// Copy exactly `size` bytes of `content` into `write`; `chunk` is the copy buffer.
pub fn copy_content(
    content: &mut dyn Content,
    size: u64,
    chunk: &mut [u8],
    mut write: impl FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    let mut left = size;
    // Content comes through the layer reader, which checks the cancellation on every read.
    while left > 0 {
        let want = chunk.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = content.read(&mut chunk[..want])?;
        if n == 0 {
            return Err(invalid("a file of the layer ends before its stated size"));
        }
        write(&chunk[..n])?;
        left -= n as u64;
    }
    Ok(())
}
