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

mod check;
mod pipeline;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, Result};
use oci_spec::image::Descriptor;

use self::pipeline::{
    BuildTarget, LayerInput, prefix_dirs_in_bases, put_layer, record_for, targets, warnings_for,
    write_image,
};
use crate::cancel::Cancel;
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
    skip_dirs: HashSet<Vec<u8>>,
    warnings: Vec<String>,
    walk_ms: u64,
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
    /// The context layer, shared by every platform.
    pub layer: LayerDescriptor,
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

    progress.stage(Stage::Walking, None);
    let walk_started = Instant::now();
    let ctx = context::walk(&opts.context, &opts.ignore, cancel)
        .with_context(|| format!("walking build context '{}'", opts.context_arg.display()))?;
    let walk_ms = walk_started.elapsed().as_millis() as u64;
    warnings.extend(warnings_for(&ctx));
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
        skip_dirs,
        warnings,
        walk_ms,
    })
}

impl Prepared<'_> {
    /// The platforms that will be built, in order.
    pub fn platforms(&self) -> Vec<&Platform> {
        self.targets.iter().map(|t| &t.platform).collect()
    }

    /// Regular files that will be read (hard links counted once).
    pub fn files(&self) -> u64 {
        self.ctx.file_count()
    }

    /// Bytes of file content that will be read.
    pub fn bytes_in(&self) -> u64 {
        self.ctx.content_bytes()
    }

    /// What the walk left out, and why.
    pub fn ignored(&self) -> &[Ignored] {
        &self.ctx.ignored
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
        let bytes_in = self.ctx.content_bytes();
        progress.stage(Stage::WritingLayer, Some(bytes_in));
        let layer_started = Instant::now();
        let check = opts.check_reproducible;
        let input = LayerInput {
            ctx: &self.ctx,
            skip_dirs: &self.skip_dirs,
            record: check,
        };
        let cancel = &self.cancel;
        let (layer, entries) = put_layer(opts, &input, self.dest.as_mut(), progress, cancel)?;
        let layer_ms = layer_started.elapsed().as_millis() as u64;

        progress.stage(Stage::WritingImage, None);
        let image_started = Instant::now();
        let mut built = Vec::new();
        for t in &self.targets {
            built.push(write_image(
                opts,
                self.base.as_ref(),
                t,
                &layer,
                self.dest.as_mut(),
                &mut self.verified,
                cancel,
            )?);
        }
        let record = record_for(opts, &built, self.dest.as_mut())?;
        if check {
            let first = check::Pass {
                layer: layer.clone(),
                entries,
                built,
                top: record.top.clone(),
            };
            check::check(
                opts,
                self.base.as_ref(),
                &self.targets,
                &self.skip_dirs,
                &first,
                cancel,
            )?;
            built = first.built;
        }
        let format = self.dest.format();
        let path = self.dest.path().map(PathBuf::from);
        self.dest.finish(&record, cancel)?;
        let image_ms = image_started.elapsed().as_millis() as u64;
        Ok(BuiltImage {
            top: record.top,
            manifests: built.into_iter().map(BuiltManifest::from).collect(),
            layer,
            base: self.base.as_ref().map(|b| BaseInfo {
                reference: b.reference.to_string(),
                form: b.form.name(),
            }),
            tags: opts.tags.clone(),
            format,
            path,
            warnings: self.warnings,
            files: self.ctx.file_count(),
            entries: self.ctx.entries.len() as u64,
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
