//! Building an image from a directory, as a library: [`prepare`] claims the output, opens
//! and checks the base image and walks the context; [`Prepared::build`] writes the layer in
//! one pass, each platform's config and manifest, the index, and commits the output, and
//! returns a [`BuiltImage`] that says everything about what was written.
//!
//! The two steps let a caller show what is about to be built (platforms, file count, what
//! was ignored, warnings) before the long part starts, as `imgbuild build` does.
//!
//! ```text
//! prepare:  sink (claimed first) → base (opened) → walk
//! build:    layer (one pass) → per platform: base layers (verified), config, manifest
//!           → index (several platforms) → [second build and comparison] → commit
//! ```

mod cached;
mod check;
mod layers;
mod pipeline;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, Result};
use oci_spec::image::Descriptor;

use self::layers::{MadeLayer, Plan, layers_for, put_layers};
use self::pipeline::{
    BuildTarget, prefix_dirs_in_bases, record_for, targets, warnings_for, write_image,
};
use crate::cancel::Cancel;
use crate::context::split::{self, Split};
use crate::context::{self, Context, Ignored};
use crate::digest::Sha256Sum;
use crate::image::source::{Image, Remote};
use crate::image::{Platform, base};
use crate::layer::LayerDescriptor;
use crate::layer::reader::Limits;
use crate::options::BuildOptions;
use crate::progress::{Progress, Stage};
use crate::registry::Registry;
use crate::sink::{Destination, Format};

/// A build whose output is claimed, whose base is open and whose context is walked: ready to
/// write. Dropping it instead of calling [`Prepared::build`] leaves nothing behind.
pub struct Prepared<'d> {
    opts: BuildOptions,
    started: Instant,
    dest: Box<dyn Destination + 'd>,
    cancel: Cancel,
    base: Option<Image>,
    targets: Vec<BuildTarget>,
    verified: base::Verified,
    ctx: Context,
    split: Split,
    /// `--platform-context` trees, walked: platform, directory, entries.
    platform_trees: Vec<(Platform, PathBuf, Context)>,
    skip_dirs: HashSet<Vec<u8>>,
    warnings: Vec<String>,
    walk_ms: u64,
    /// Taken before the walk: the layer cache's racy-timestamp rule measures from it.
    build_start: std::time::SystemTime,
    cache: Option<crate::cache::LayerCache>,
}

/// One platform's image in a [`BuiltImage`].
#[derive(Debug, Clone)]
pub struct BuiltManifest {
    /// The platform it was built for.
    pub platform: Platform,
    /// The manifest's descriptor (digest, size, media type, platform).
    pub descriptor: Descriptor,
    /// The digest of its config.
    pub config: Sha256Sum,
    /// Its layers, the base's first, the context layer last.
    pub layers: Vec<Sha256Sum>,
    /// The base manifest it was built on, if any (`sha256:…`).
    pub base_digest: Option<String>,
}

impl From<pipeline::Built> for BuiltManifest {
    fn from(b: pipeline::Built) -> BuiltManifest {
        BuiltManifest {
            platform: b.platform,
            descriptor: b.desc,
            config: b.config,
            layers: b.layers,
            base_digest: b.base_digest,
        }
    }
}

/// One layer a build wrote.
#[derive(Debug, Clone)]
pub struct BuiltLayer {
    /// Its digests, sizes and media type.
    pub descriptor: LayerDescriptor,
    /// The `--layer` pattern whose entries it holds; `None` for the rest of the context and
    /// for a platform's tree.
    pub pattern: Option<String>,
    /// The platform whose `--platform-context` tree it holds; `None` when it is shared.
    pub platform: Option<Platform>,
    /// Its history comment in the image config.
    pub comment: String,
    /// Whether it came from the layer cache (none of its files were read).
    pub cached: bool,
}

impl From<&MadeLayer> for BuiltLayer {
    fn from(l: &MadeLayer) -> BuiltLayer {
        BuiltLayer {
            descriptor: l.desc.clone(),
            pattern: l.pattern.clone(),
            platform: l.platform.clone(),
            comment: l.comment(),
            cached: l.cached,
        }
    }
}

/// The base image a build used, as given.
#[derive(Debug, Clone)]
pub struct BaseInfo {
    /// The reference as given (`--base`).
    pub reference: String,
    /// What it was read as: `oci-dir`, `oci-archive` or `docker-archive`.
    pub form: &'static str,
}

/// How long each stage took, in milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    /// Walking the context.
    pub walk_ms: u64,
    /// Writing the context layer.
    pub layer_ms: u64,
    /// Base layers, configs, manifests, the index, a second build if asked, the commit.
    pub image_ms: u64,
    /// From [`prepare`] to the commit.
    pub total_ms: u64,
}

/// What a build wrote: everything `imgbuild build --json` prints comes from here.
#[derive(Debug, Clone)]
pub struct BuiltImage {
    /// What `index.json` names: the manifest, or the index of several platforms.
    pub top: Descriptor,
    /// One entry per platform, in the order built.
    pub manifests: Vec<BuiltManifest>,
    /// The context layer with everything no `--layer` pattern took (the last shared layer).
    pub layer: LayerDescriptor,
    /// Every layer written, in order: the `--layer` layers, the rest of the context, then
    /// each platform's own (`--platform-context`).
    pub layers: Vec<BuiltLayer>,
    /// The base image, if any.
    pub base: Option<BaseInfo>,
    /// The tags written into the output.
    pub tags: Vec<String>,
    /// The output format.
    pub format: Format,
    /// The output path, or `None` for a stream on stdout.
    pub path: Option<PathBuf>,
    /// Warnings: from opening the base, skipped sockets, likely secrets.
    pub warnings: Vec<String>,
    /// Regular files in the layer (hard links counted once).
    pub files: u64,
    /// Tar entries of the context in the layer.
    pub entries: u64,
    /// Bytes of file content read.
    pub bytes_in: u64,
    /// One line per base layer verified while copied (digest, diff_id, how).
    pub verified_base_layers: Vec<String>,
    /// Whether a second build was made and compared (`check_reproducible`).
    pub checked_reproducible: bool,
    /// How long each stage took.
    pub timings: Timings,
}

/// Build the context of `opts` into `dest` (see [`prepare`] and [`Prepared::build`]).
pub fn build<'d>(
    opts: &BuildOptions,
    dest: Box<dyn Destination + 'd>,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> crate::Result<BuiltImage> {
    prepare(opts, dest, progress, cancel)?.build(progress)
}

/// Open the base image and walk the context of `opts`, for `dest` (claimed already, see
/// [`sink::open`](crate::sink::open)). Nothing is written yet but the destination's
/// temporary files. `cancel` stops this and the build at their next check.
pub fn prepare<'d>(
    opts: &BuildOptions,
    dest: Box<dyn Destination + 'd>,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> crate::Result<Prepared<'d>> {
    prepare_inner(opts, dest, progress, cancel).map_err(crate::Error::from)
}

fn prepare_inner<'d>(
    opts: &BuildOptions,
    dest: Box<dyn Destination + 'd>,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<Prepared<'d>> {
    let started = Instant::now();
    let mut opts = opts.clone();
    if let Some(path) = dest.path() {
        // An archive inside the context (`build . -o app.tar`) is not part of the image.
        let inside = crate::options::outputs_in_context(&opts.context, path, dest.format())?;
        opts.ignore.output.extend(inside);
    }
    let opts = &opts;
    let base = match &opts.base {
        Some(r) => {
            let session = opts.registry.clone().map(|o| Arc::new(Registry::new(o)));
            let remote = session.as_ref().map(|registry| Remote { registry, cancel });
            let image = Image::open_with(r, remote.as_ref())
                .with_context(|| format!("reading base image '{r}'"))?;
            Some(image)
        }
        None => None,
    };
    let mut warnings: Vec<String> = base.iter().flat_map(|b| b.warnings().to_vec()).collect();
    let targets = targets(opts, base.as_ref())?;
    let verified = base::Verified::new(Limits::from_env()?);

    let cache = open_cache(opts, &mut warnings);
    progress.stage(Stage::Walking, None);
    let build_start = std::time::SystemTime::now();
    let walk_started = Instant::now();
    let ctx = context::walk(&opts.context, &opts.ignore, cancel)
        .with_context(|| format!("walking build context '{}'", opts.context_arg.display()))?;
    warnings.extend(warnings_for(&ctx));
    let split = split::split(&ctx.entries, &opts.layers);
    warnings.extend(split.empty.iter().map(|p| split::empty_warning(p)));
    let out = dest.path().map(|p| (p, dest.format()));
    let platform_trees = walk_platform_trees(opts, &targets, out, &mut warnings, cancel)?;
    let walk_ms = walk_started.elapsed().as_millis() as u64;
    // Directories of --prefix that every base already has are not emitted again, so the
    // base's owner and mode for them survive.
    let skip_dirs = match &base {
        Some(image) if !opts.header.prefix.is_empty() => {
            prefix_dirs_in_bases(image, &targets, &opts.header.prefix, cancel)?
        }
        _ => HashSet::new(),
    };
    Ok(Prepared {
        opts: opts.clone(),
        started,
        dest,
        cancel: cancel.clone(),
        base,
        targets,
        verified,
        ctx,
        split,
        platform_trees,
        skip_dirs,
        warnings,
        walk_ms,
        build_start,
        cache,
    })
}

/// The layer cache of `opts`, if any; one that cannot be opened is a warning, and the
/// build goes on without it. `--check-reproducible` builds every layer from the files.
fn open_cache(opts: &BuildOptions, warnings: &mut Vec<String>) -> Option<crate::cache::LayerCache> {
    let c = opts.cache.as_ref().filter(|_| !opts.check_reproducible)?;
    match crate::cache::LayerCache::open(&c.dir, c.max_size) {
        Ok(cache) => Some(cache),
        Err(e) => {
            warnings.push(format!("the layer cache is not used ({e:#})"));
            None
        }
    }
}

/// Walk each `--platform-context` directory, with the context's ignore options; each
/// platform must be one that is built.
fn walk_platform_trees(
    opts: &BuildOptions,
    targets: &[BuildTarget],
    out: Option<(&std::path::Path, Format)>,
    warnings: &mut Vec<String>,
    cancel: &Cancel,
) -> Result<Vec<(Platform, PathBuf, Context)>> {
    let built: Vec<Platform> = targets.iter().map(|t| t.platform.clone()).collect();
    crate::options::check_platform_contexts(&opts.platform_contexts, &built)?;
    let mut trees = Vec::new();
    for pc in &opts.platform_contexts {
        let mut ignore = opts.ignore.clone();
        // The output's place was worked out for the main context; work it out again here.
        ignore.output.clear();
        if let Some((path, format)) = out {
            ignore.output = crate::options::outputs_in_context(&pc.dir, path, format)?;
        }
        let ctx = context::walk(&pc.dir, &ignore, cancel).with_context(|| {
            format!(
                "walking --platform-context {}={}",
                pc.platform,
                pc.dir_arg.display()
            )
        })?;
        warnings.extend(warnings_for(&ctx));
        trees.push((pc.platform.clone(), pc.dir.clone(), ctx));
    }
    Ok(trees)
}

impl Prepared<'_> {
    /// The platforms that will be built, in order.
    pub fn platforms(&self) -> Vec<&Platform> {
        self.targets.iter().map(|t| &t.platform).collect()
    }

    /// Regular files that will be read (hard links counted once), platform trees included.
    pub fn files(&self) -> u64 {
        self.trees().map(Context::file_count).sum()
    }

    /// Bytes of file content that will be read, platform trees included.
    pub fn bytes_in(&self) -> u64 {
        self.trees().map(Context::content_bytes).sum()
    }

    /// The context and each platform's tree.
    fn trees(&self) -> impl Iterator<Item = &Context> {
        std::iter::once(&self.ctx).chain(self.platform_trees.iter().map(|(_, _, c)| c))
    }

    /// What the walk left out, and why.
    pub fn ignored(&self) -> &[Ignored] {
        &self.ctx.ignored
    }

    /// How the context is split (with `--layer`): each hard link that went to another layer
    /// than its own path's pattern chose, to stay with its group.
    pub fn layer_notes(&self) -> Vec<String> {
        self.split
            .kept_links
            .iter()
            .map(|(path, layer)| {
                format!(
                    "{path} is a hard link of a file in {layer}; it goes there too (a \
                     hard-link group is never split)"
                )
            })
            .collect()
    }

    /// Warnings so far: from opening the base, skipped sockets, likely secrets.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Write the image and commit the output.
    pub fn build(self, progress: &dyn Progress) -> crate::Result<BuiltImage> {
        self.build_inner(progress).map_err(crate::Error::from)
    }

    fn build_inner(mut self, progress: &dyn Progress) -> Result<BuiltImage> {
        let opts = &self.opts;
        let bytes_in = self.bytes_in();
        progress.stage(Stage::WritingLayer, Some(bytes_in));
        let layer_started = Instant::now();
        let check = opts.check_reproducible;
        let cancel = &self.cancel;
        let plan = Plan {
            ctx: &self.ctx,
            split: &self.split,
            platform_trees: &self.platform_trees,
            skip_dirs: &self.skip_dirs,
            cache: self.cache.as_ref(),
            build_start: self.build_start,
        };
        let (mut made, cache_warnings) =
            put_layers(opts, &plan, check, self.dest.as_mut(), progress, cancel)?;
        self.warnings.extend(cache_warnings);
        let layer_ms = layer_started.elapsed().as_millis() as u64;

        progress.stage(Stage::WritingImage, None);
        let image_started = Instant::now();
        let mut built = Vec::new();
        for t in &self.targets {
            built.push(write_image(
                opts,
                self.base.as_ref(),
                t,
                &layers_for(&made, &t.platform),
                self.dest.as_mut(),
                &mut self.verified,
                cancel,
            )?);
        }
        let record = record_for(opts, &built, self.dest.as_mut())?;
        if check {
            let first = check::Pass {
                layers: made,
                built,
                top: record.top.clone(),
            };
            let again = check::Again {
                base: self.base.as_ref(),
                targets: &self.targets,
                skip_dirs: &self.skip_dirs,
                out: self.dest.path().map(|p| (p, self.dest.format())),
            };
            check::check(opts, &again, &first, cancel)?;
            (made, built) = (first.layers, first.built);
        }
        let format = self.dest.format();
        let path = self.dest.path().map(PathBuf::from);
        let files = self.files();
        let entries = self.trees().map(|c| c.entries.len() as u64).sum();
        self.dest.finish(&record, cancel)?;
        let image_ms = image_started.elapsed().as_millis() as u64;
        Ok(BuiltImage {
            top: record.top,
            manifests: built.into_iter().map(BuiltManifest::from).collect(),
            layer: made
                .iter()
                .rfind(|l| l.platform.is_none())
                .map(|l| l.desc.clone())
                .context("a build without a context layer")?,
            layers: made.iter().map(BuiltLayer::from).collect(),
            base: self.base.as_ref().map(|b| BaseInfo {
                reference: b.reference.to_string(),
                form: b.form.name(),
            }),
            tags: opts.tags.clone(),
            format,
            path,
            warnings: self.warnings,
            files,
            entries,
            bytes_in,
            verified_base_layers: self.verified.report().to_vec(),
            checked_reproducible: check,
            timings: Timings {
                walk_ms: self.walk_ms,
                layer_ms,
                image_ms,
                total_ms: self.started.elapsed().as_millis() as u64,
            },
        })
    }
}
