//! Where a flattened root filesystem goes, and the whole export of one: claim the output
//! first ([`RootfsOut::claim`]), then [`write()`] runs both passes into it and commits.

use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context as _, Result};

use super::dir::DirEmitter;
use super::tar::TarEmitter;
use super::tree::Stats;
use super::{Counts, emit, flatten};
use crate::cancel::Cancel;
use crate::image::source::{Image, Selected};
use crate::layer::reader::Limits;
use crate::progress::{Progress, Stage};
use crate::sink::Target;
use crate::sink::output::{self, AtomicFile, FileOutput, Stream};

/// A claimed output for a root filesystem.
pub enum RootfsOut {
    /// One tar file, written beside its path and renamed into place.
    TarFile(AtomicFile),
    /// One tar stream into stdout, a character device or a fifo.
    TarStream(Stream),
    /// A new directory, extracted safely and renamed into place.
    Dir(DirEmitter),
}

impl RootfsOut {
    /// Claim `target` for a tar (or, with `dir`, a new directory); a fifo's reader is
    /// waited for until `cancel` is set.
    pub fn claim(target: &Target, dir: bool, cancel: &Cancel) -> Result<RootfsOut> {
        match (target, dir) {
            (Target::Path(p), true) => claim_dir(p, cancel),
            (target, _) => Ok(
                match FileOutput::open(
                    target,
                    "use --format rootfs-dir to extract into a directory, or name a file",
                    cancel,
                )? {
                    FileOutput::Atomic(f) => RootfsOut::TarFile(f),
                    FileOutput::Stream(s) => RootfsOut::TarStream(s),
                },
            ),
        }
    }
}

fn claim_dir(path: &Path, cancel: &Cancel) -> Result<RootfsOut> {
    output::check_dir_output(path)?;
    Ok(RootfsOut::Dir(DirEmitter::prepare(path, cancel)?))
}

/// What [`write()`] wrote.
#[derive(Debug, Clone, Copy)]
pub struct Written {
    /// The entries of the output.
    pub counts: Counts,
    /// What the layers held that the output does not: whiteouts, opaque directories,
    /// skipped aufs metadata.
    pub stats: Stats,
}

/// Flatten the layers of `sel` into `out` (pass 1 reads and verifies every layer, pass 2
/// writes) and commit the output.
pub fn write(
    image: &Image,
    sel: &Selected,
    limits: &Limits,
    out: RootfsOut,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<Written> {
    let layer_bytes = sel
        .manifest
        .layers()
        .iter()
        .fold(0u64, |a, l| a.saturating_add(l.size()));
    progress.stage(Stage::ReadingLayers, Some(layer_bytes));
    let tree = flatten(image, sel, limits, progress, cancel)?;
    let stats = tree.stats;
    let plan = tree.into_plan();
    progress.stage_files(Stage::WritingRootfs, Some(layer_bytes), plan.data_count());
    let pass2 = |emitter: &mut dyn super::Emitter| {
        emit(image, sel, limits, &plan, emitter, progress, cancel)
    };
    let counts = match out {
        RootfsOut::TarFile(out) => {
            let what = || format!("writing '{}'", out.shown().display());
            let file = out.file().try_clone().with_context(what)?;
            let mut tar = TarEmitter::new(BufWriter::with_capacity(1 << 20, file));
            pass2(&mut tar)?;
            let (w, counts) = tar.finish()?;
            w.into_inner()
                .map_err(|e| e.into_error())
                .with_context(what)?;
            out.commit(cancel)?;
            counts
        }
        RootfsOut::TarStream(out) => {
            let what = || format!("writing to {}", out.name());
            let file = out.file().try_clone().with_context(what)?;
            let mut tar = TarEmitter::new(BufWriter::with_capacity(1 << 20, file));
            let written = pass2(&mut tar)
                .and_then(|()| tar.finish())
                .and_then(|(mut w, counts)| w.flush().with_context(what).map(|()| counts));
            written.map_err(|e| out.explain(e))?
        }
        RootfsOut::Dir(mut dir) => {
            pass2(&mut dir)?;
            dir.finish()?
        }
    };
    Ok(Written { counts, stats })
}
