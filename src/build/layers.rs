//! The layers a build writes, in one pass over the files: the context split by `--layer`
//! (one layer per pattern that matched something, then the rest), then each
//! `--platform-context` tree as one more layer for its platform. Each layer is compressed
//! and hashed on its own; every file is read once, by the layer that holds it — or not at
//! all when the layer cache has the layer (see `cached`).

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context as _, Result};

use super::cached;
use crate::cache::{LayerCache, RacyFile};
use crate::cancel::Cancel;
use crate::context::split::Split;
use crate::context::{Context, ContextEntry, EntryKind};
use crate::image::Platform;
use crate::layer::prefetch::Prefetch;
use crate::layer::{EntryDigest, LayerDescriptor, LayerWriter};
use crate::options::BuildOptions;
use crate::progress::Progress;
use crate::sink::Destination;

/// What the layers are made of: the walked context and its split, each platform's own
/// tree, the prefix directories to leave out, and the layer cache with the time the build
/// started (before the walk: the racy-timestamp rule measures from it).
pub(super) struct Plan<'a> {
    pub ctx: &'a Context,
    pub split: &'a Split,
    pub platform_trees: &'a [(Platform, PathBuf, Context)],
    pub skip_dirs: &'a HashSet<Vec<u8>>,
    pub cache: Option<&'a LayerCache>,
    pub build_start: SystemTime,
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
    /// Whether its blob came from the layer cache (no file was read for it).
    pub cached: bool,
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

/// Write every layer of `plan` into `dest`, shared ones first, in order. Problems with the
/// cache never fail the build: they are returned as warnings.
pub(super) fn put_layers(
    opts: &BuildOptions,
    plan: &Plan<'_>,
    record: bool,
    dest: &mut dyn Destination,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<(Vec<MadeLayer>, Vec<String>)> {
    let mut made = Vec::new();
    let mut warnings = Vec::new();
    let all: Vec<Vec<usize>> = plan
        .platform_trees
        .iter()
        .map(|(_, _, ctx)| (0..ctx.entries.len()).collect())
        .collect();
    let shared = plan.split.groups.iter().map(|g| {
        let input = LayerInput {
            root: &opts.context,
            all: &plan.ctx.entries,
            entries: &g.entries,
            skip_dirs: plan.skip_dirs,
            record,
        };
        (input, g.pattern.clone(), None)
    });
    let own = plan
        .platform_trees
        .iter()
        .zip(&all)
        .map(|((p, root, ctx), all)| {
            let input = LayerInput {
                root,
                all: &ctx.entries,
                entries: all,
                skip_dirs: plan.skip_dirs,
                record,
            };
            (input, None, Some(p.clone()))
        });
    for (input, pattern, platform) in shared.chain(own) {
        let (desc, entries, cached) = match plan.cache {
            Some(cache) => {
                let at = cached::Cached {
                    cache,
                    build_start: plan.build_start,
                };
                at.layer(opts, &input, dest, progress, cancel, &mut warnings)?
            }
            None => {
                let (desc, entries, _) = put_layer(opts, &input, None, dest, progress, cancel)?;
                (desc, entries, false)
            }
        };
        made.push(MadeLayer {
            desc,
            entries,
            pattern,
            platform,
            cached,
        });
    }
    Ok((made, warnings))
}

/// The layers of `platform`'s image, in order: the shared ones, then its own.
pub(super) fn layers_for<'m>(made: &'m [MadeLayer], platform: &Platform) -> Vec<&'m MadeLayer> {
    made.iter()
        .filter(|l| l.platform.as_ref().is_none_or(|p| p == platform))
        .collect()
}

/// What goes into one layer and how: where its files are, which of the walked entries it
/// holds, the prefix directories to leave out, whether to keep a digest per tar entry.
pub(super) struct LayerInput<'a> {
    pub root: &'a Path,
    pub all: &'a [ContextEntry],
    pub entries: &'a [usize],
    pub skip_dirs: &'a HashSet<Vec<u8>>,
    pub record: bool,
}

impl LayerInput<'_> {
    /// The layer's entries, in layer order.
    pub fn iter(&self) -> impl Iterator<Item = Result<&ContextEntry>> {
        self.entries.iter().map(|&i| {
            self.all
                .get(i)
                .context("a layer names an entry the walk did not make")
        })
    }
}

/// Which files to hash as they are read, and where their layer's bytes also go: the layer
/// cache's side of a layer that is being built.
pub(super) struct Keep<'a> {
    /// Whether an entry's content must be hashed (a racy file).
    pub racy: &'a dyn Fn(&ContextEntry) -> bool,
    /// The cache's copy of the blob; `None` once writing it failed.
    pub copy: &'a mut dyn FnMut(&[u8]),
}

/// Stream one layer into a compressed blob in `dest`; with `input.record`, also a digest of
/// every tar entry; with `keep`, the racy files' content digests.
pub(super) fn put_layer(
    opts: &BuildOptions,
    input: &LayerInput<'_>,
    mut keep: Option<Keep<'_>>,
    dest: &mut dyn Destination,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<(LayerDescriptor, Vec<EntryDigest>, Vec<RacyFile>)> {
    let mut made = None;
    dest.put_layer(&mut |out| {
        let mut racy = Vec::new();
        let (layer, entries) = match &mut keep {
            Some(keep) => {
                let mut both = Both {
                    out,
                    copy: &mut *keep.copy,
                };
                write_layer(
                    opts,
                    input,
                    &mut both,
                    Some((keep.racy, &mut racy)),
                    progress,
                    cancel,
                )?
            }
            None => write_layer(opts, input, out, None, progress, cancel)?,
        };
        let named = (layer.digest.clone(), layer.size);
        made = Some((layer, entries, racy));
        Ok(named)
    })?;
    made.context("the layer was stored without being written")
}

/// Writes into the output and hands the same bytes to the cache's copy.
struct Both<'a> {
    out: &'a mut dyn Write,
    copy: &'a mut dyn FnMut(&[u8]),
}

impl Write for Both<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        (self.copy)(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

type Racy<'a, 'b> = (&'a dyn Fn(&ContextEntry) -> bool, &'b mut Vec<RacyFile>);

fn write_layer(
    opts: &BuildOptions,
    input: &LayerInput<'_>,
    blob: &mut dyn Write,
    mut racy: Option<Racy<'_, '_>>,
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
    for d in prefix_dirs(opts, input.skip_dirs)? {
        writer.append_synthetic_dir(&d.path, d.mode, d.mtime, d.owner)?;
    }
    let entries: Vec<&ContextEntry> = input.iter().collect::<Result<_>>()?;
    let files: Vec<&ContextEntry> = entries
        .iter()
        .copied()
        .filter(|e| e.kind == EntryKind::File)
        .collect();
    std::thread::scope(|scope| -> Result<()> {
        // File contents are read one step ahead, on a thread of their own.
        let mut source = Prefetch::spawn(scope, input.root, files, cancel.clone());
        for entry in &entries {
            let hashed = match &racy {
                Some((is_racy, _)) => entry.kind == EntryKind::File && is_racy(entry),
                None => false,
            };
            if hashed {
                writer.hash_next_content();
            }
            writer.append_from(&mut source, entry, header, progress)?;
            if let (true, Some((_, found))) = (hashed, &mut racy) {
                found.push(RacyFile {
                    rel_path: entry.rel_path.clone(),
                    size: entry.size,
                    content: writer
                        .take_content_digest()
                        .context("a racy file's content was not hashed")?,
                });
            }
        }
        Ok(())
    })?;
    let entries = writer.entry_digests();
    let (_, layer) = writer.finish()?;
    Ok((layer, entries))
}

/// A directory of `--prefix` that every layer starts with.
pub(super) struct PrefixDir {
    pub path: Vec<u8>,
    pub mode: u32,
    pub mtime: u64,
    pub owner: (u64, u64),
}

/// The directories of `--prefix` each layer starts with: its parents synthesised (0755,
/// root-owned), the prefix itself with the context directory's mode and mtime; those every
/// base already has are left out.
pub(super) fn prefix_dirs(opts: &BuildOptions, skip: &HashSet<Vec<u8>>) -> Result<Vec<PrefixDir>> {
    let header = &opts.header;
    if header.prefix.is_empty() {
        return Ok(Vec::new());
    }
    let root_meta = std::fs::metadata(&opts.context)
        .with_context(|| format!("reading '{}'", opts.context_arg.display()))?;
    let mtime = header.mtime(std::os::unix::fs::MetadataExt::mtime(&root_meta));
    let parts: Vec<&[u8]> = header.prefix.split(|&b| b == b'/').collect();
    let mut dirs = Vec::new();
    for i in 1..=parts.len() {
        let path = parts[..i].join(&b'/');
        if skip.contains(&path) {
            continue;
        }
        let (mode, owner) = if i == parts.len() {
            let m = std::os::unix::fs::MetadataExt::mode(&root_meta) & 0o7777;
            (header.mode(&EntryKind::Dir, m), header.owner)
        } else {
            (0o755, (0, 0))
        };
        dirs.push(PrefixDir {
            path,
            mode,
            mtime,
            owner,
        });
    }
    Ok(dirs)
}
