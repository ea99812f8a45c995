//! The layers a build writes, in one pass over the files: the context split by `--layer`
//! (one layer per pattern that matched something, then the rest), then each
//! `--platform-context` tree as one more layer for its platform. Each layer is compressed
//! and hashed on its own; every file is read once, by the layer that holds it.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

use anyhow::{Context as _, Result};

use crate::cancel::Cancel;
use crate::context::split::Split;
use crate::context::{Context, ContextEntry, EntryKind};
use crate::image::Platform;
use crate::layer::{EntryDigest, LayerDescriptor, LayerWriter};
use crate::options::BuildOptions;
use crate::progress::Progress;
use crate::sink::Destination;

/// What the layers are made of: the walked context and its split, each platform's own
/// tree, and the prefix directories to leave out.
pub(super) struct Plan<'a> {
    pub ctx: &'a Context,
    pub split: &'a Split,
    pub platform_trees: &'a [(Platform, std::path::PathBuf, Context)],
    pub skip_dirs: &'a HashSet<Vec<u8>>,
}

/// A layer written.
#[derive(Debug, Clone)]
pub(super) struct MadeLayer {
    pub desc: LayerDescriptor,
    /// A digest per tar entry, with `record` (for `--check-reproducible`).
    pub entries: Vec<EntryDigest>,
    /// The `--layer` pattern it holds; `None` for the rest of the context and for a
    /// platform's tree.
    pub pattern: Option<String>,
    /// The platform whose tree it holds (`--platform-context`); `None` when shared.
    pub platform: Option<Platform>,
}

impl MadeLayer {
    /// The history comment of the layer in the image config. The rest of the context keeps
    /// the words it had before `--layer` existed, so such images keep their digests.
    pub fn comment(&self) -> String {
        match (&self.pattern, &self.platform) {
            (Some(p), _) => format!("context directory layer: --layer '{p}'"),
            (None, Some(platform)) => format!("platform context layer for {platform}"),
            (None, None) => "context directory layer".to_owned(),
        }
    }
}

/// Write every layer of `plan` into `dest`, shared ones first, in order.
pub(super) fn put_layers(
    opts: &BuildOptions,
    plan: &Plan<'_>,
    record: bool,
    dest: &mut dyn Destination,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<Vec<MadeLayer>> {
    let mut made = Vec::new();
    for group in &plan.split.groups {
        let input = LayerInput {
            root: &opts.context,
            all: &plan.ctx.entries,
            entries: &group.entries,
            skip_dirs: plan.skip_dirs,
            record,
        };
        // Errors name the file; a cancel stays just that.
        let (desc, entries) = put_layer(opts, &input, dest, progress, cancel)?;
        made.push(MadeLayer {
            desc,
            entries,
            pattern: group.pattern.clone(),
            platform: None,
        });
    }
    for (platform, root, ctx) in plan.platform_trees {
        let all: Vec<usize> = (0..ctx.entries.len()).collect();
        let input = LayerInput {
            root,
            all: &ctx.entries,
            entries: &all,
            skip_dirs: plan.skip_dirs,
            record,
        };
        let (desc, entries) = put_layer(opts, &input, dest, progress, cancel)?;
        made.push(MadeLayer {
            desc,
            entries,
            pattern: None,
            platform: Some(platform.clone()),
        });
    }
    Ok(made)
}

/// The layers of `platform`'s image, in order: the shared ones, then its own.
pub(super) fn layers_for<'m>(made: &'m [MadeLayer], platform: &Platform) -> Vec<&'m MadeLayer> {
    made.iter()
        .filter(|l| l.platform.as_ref().is_none_or(|p| p == platform))
        .collect()
}

/// What goes into one layer and how: where its files are, which of the walked entries it
/// holds, the prefix directories to leave out, whether to keep a digest per tar entry.
struct LayerInput<'a> {
    root: &'a Path,
    all: &'a [ContextEntry],
    entries: &'a [usize],
    skip_dirs: &'a HashSet<Vec<u8>>,
    record: bool,
}

/// Stream one layer into a compressed blob in `dest`; with `input.record`, also a digest of
/// every tar entry.
fn put_layer(
    opts: &BuildOptions,
    input: &LayerInput<'_>,
    dest: &mut dyn Destination,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<(LayerDescriptor, Vec<EntryDigest>)> {
    let mut made = None;
    dest.put_layer(&mut |out| {
        let (layer, entries) = write_layer(opts, input, out, progress, cancel)?;
        let named = (layer.digest.clone(), layer.size);
        made = Some((layer, entries));
        Ok(named)
    })?;
    made.context("the layer was stored without being written")
}

fn write_layer(
    opts: &BuildOptions,
    input: &LayerInput<'_>,
    blob: &mut dyn Write,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<(LayerDescriptor, Vec<EntryDigest>)> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(1);
    let mut writer = LayerWriter::new(blob, opts.compression, threads, cancel.clone())
        .context("starting the layer compressor")?;
    if input.record {
        writer.record_entries();
    }
    let header = &opts.header;
    if !header.prefix.is_empty() {
        // Parents of the prefix are synthesised (0755, root-owned); the prefix itself is the
        // context directory, with its mode and mtime, in every layer.
        let root_meta = std::fs::metadata(&opts.context)
            .with_context(|| format!("reading '{}'", opts.context_arg.display()))?;
        let mtime = header.mtime(std::os::unix::fs::MetadataExt::mtime(&root_meta));
        let parts: Vec<&[u8]> = header.prefix.split(|&b| b == b'/').collect();
        for i in 1..=parts.len() {
            let path = parts[..i].join(&b'/');
            if input.skip_dirs.contains(&path) {
                continue;
            }
            let (mode, owner) = if i == parts.len() {
                let m = std::os::unix::fs::MetadataExt::mode(&root_meta) & 0o7777;
                (header.mode(&EntryKind::Dir, m), header.owner)
            } else {
                (0o755, (0, 0))
            };
            writer.append_synthetic_dir(&path, mode, mtime, owner)?;
        }
    }
    for &i in input.entries {
        let entry = input
            .all
            .get(i)
            .context("a layer names an entry the walk did not make")?;
        writer.append(input.root, entry, header, progress)?;
    }
    let entries = writer.entry_digests();
    let (_, layer) = writer.finish()?;
    Ok((layer, entries))
}
