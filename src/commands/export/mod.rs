//! `imgbuild export`: checked options → output claimed (temporary file or staging directory
//! beside it) → IMAGE opened → either every blob copied verbatim into another form
//! (oci-archive, oci-dir, docker-archive; `--platform` keeps one image of an index), or the
//! layers flattened (two passes, see `flatten`) into one tar stream or a new
//! directory → moved into place → the digest (or `--json`) on stdout.

mod report;

use std::io::IsTerminal;
use std::time::Instant;

use anyhow::{Context as _, Result};
use oci_spec::image::Descriptor;

use self::report::{BlobsReport, ExportReport, OutputReport, RootfsReport, SourceReport};
use crate::cancel::Cancel;
use crate::cli::{ExportArgs, ExportFormat};
use crate::commands::inspect::{parse_image_arg, parse_platform_arg};
use crate::error::{Error, UsageError};
use crate::flatten;
use crate::flatten::output::{RootfsOut, Written};
use crate::image::copy;
use crate::image::reference::ImageRef;
use crate::image::source::{Image, Remote, Selected};
use crate::image::{Platform, is_index};
use crate::layer::reader::Limits;
use crate::options::{check_tag, parse_epoch};
use crate::progress::{Progress, Stage};
use crate::sink::{self, Format, Target};
use crate::ui::Printer;
use crate::ui::human_bytes;

struct ExportOptions {
    reference: ImageRef,
    platform: Option<Platform>,
    format: ExportFormat,
    target: Target,
    tags: Vec<String>,
    limits: Limits,
    /// mtime of archive members: SOURCE_DATE_EPOCH, else 0 (the output depends on the
    /// image only).
    mtime: u64,
    /// How registries are reached (IMAGE may be in one).
    registry: crate::cli::RegistryArgs,
}

impl ExportOptions {
    fn from_args(args: &ExportArgs) -> Result<ExportOptions> {
        let reference = parse_image_arg(&args.image)?;
        let platform = parse_platform_arg(args.platform.as_deref())?;
        let target = if args.output.as_os_str() == "-" {
            Target::Stdout
        } else {
            Target::Path(args.output.clone())
        };
        let rootfs = matches!(
            args.format,
            ExportFormat::RootfsTar | ExportFormat::RootfsDir
        );
        if rootfs && !args.tags.is_empty() {
            return Err(UsageError::new("--tag names an image; a root filesystem has no name")
                .with_hint("drop --tag, or export an image format (oci-archive, oci-dir, docker-archive)")
                .into());
        }
        for t in &args.tags {
            check_tag(t)?;
        }
        if target == Target::Stdout {
            match args.format {
                ExportFormat::OciDir | ExportFormat::RootfsDir => {
                    return Err(UsageError::new(format!(
                        "--format {} writes a directory, not to stdout",
                        format_name(args.format)
                    ))
                    .with_hint("pass -o DIR")
                    .into());
                }
                _ if std::io::stdout().is_terminal() => {
                    return Err(
                        UsageError::new("refusing to write an image or tar to a terminal")
                            .with_hint("pass -o FILE, or pipe stdout into another program")
                            .into(),
                    );
                }
                _ => {}
            }
        }
        let mtime = match std::env::var_os("SOURCE_DATE_EPOCH") {
            Some(v) => parse_epoch("SOURCE_DATE_EPOCH", &v.to_string_lossy())? as u64,
            None => 0,
        };
        Ok(ExportOptions {
            reference,
            platform,
            format: args.format,
            target,
            tags: args.tags.clone(),
            limits: Limits::from_env()?,
            mtime,
            registry: args.registry.clone(),
        })
    }
}

fn format_name(f: ExportFormat) -> &'static str {
    match f {
        ExportFormat::OciArchive => "oci-archive",
        ExportFormat::OciDir => "oci-dir",
        ExportFormat::DockerArchive => "docker-archive",
        ExportFormat::RootfsTar => "rootfs-tar",
        ExportFormat::RootfsDir => "rootfs-dir",
    }
}

pub fn run(
    args: &ExportArgs,
    printer: &Printer,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<()> {
    let started = Instant::now();
    let opts = ExportOptions::from_args(args)?;
    let mut report = match opts.format {
        ExportFormat::RootfsTar | ExportFormat::RootfsDir => {
            export_rootfs(&opts, printer, progress, cancel)?
        }
        _ => export_image(&opts, printer, progress, cancel)?,
    };
    progress.finish();
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    for w in &report.warnings {
        printer.warn(w);
    }
    let where_ = report
        .output
        .path
        .clone()
        .unwrap_or_else(|| "stdout".into());
    let what = match (&report.blobs, &report.rootfs) {
        (Some(b), _) => format!("{} blobs, {}", b.count, human_bytes(b.bytes)),
        (_, Some(r)) => format!(
            "{}, {}, {}",
            count(
                r.files + r.hardlinks + r.symlinks + r.specials,
                "file",
                "files"
            ),
            count(r.dirs, "directory", "directories"),
            human_bytes(r.bytes)
        ),
        _ => String::new(),
    };
    printer.status(
        "Wrote",
        &format!(
            "{where_} ({}, {what}) {}",
            report.output.format, report.digest
        ),
    );
    let to_stdout = opts.target == Target::Stdout;
    if args.json {
        let text = serde_json::to_string_pretty(&report).context("encoding the --json report")?;
        if to_stdout {
            printer.data_to_stderr(&text).context("writing to stderr")?;
        } else {
            printer.data_line(&text).context("writing to stdout")?;
        }
    } else if report.blobs.is_some() && !to_stdout {
        printer
            .data_line(&report.digest)
            .context("writing to stdout")?;
    }
    Ok(())
}

fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn source_report(image: &Image, top: &Descriptor) -> SourceReport {
    SourceReport {
        reference: image.reference.to_string(),
        form: image.form.name().to_owned(),
        digest: top.digest().to_string(),
    }
}

fn path_of(target: &Target) -> Option<String> {
    match target {
        Target::Path(p) => Some(p.display().to_string()),
        Target::Stdout => None,
    }
}

/// What an image export writes: the top descriptor, the image Docker's `manifest.json`
/// names, its platform (for a single image), and whether one image of an index was kept.
struct Chosen {
    top: Descriptor,
    docker: Selected,
    platform: Option<String>,
    one_of_index: bool,
}

/// What to export of `image` (whose `index.json` names `source_top`) as `format`: the
/// whole image, or one platform's (asked for, or a docker archive's one image).
fn choose(
    opts: &ExportOptions,
    image: &Image,
    source_top: &Descriptor,
    format: Format,
) -> Result<Chosen> {
    let index = is_index(source_top.media_type());
    let one_of_index = index && (opts.platform.is_some() || format == Format::DockerArchive);
    let (top, docker, platform) = if one_of_index || opts.platform.is_some() {
        let sel = image.select(opts.platform.as_ref())?;
        let mut desc = sel.manifest_desc.clone();
        desc.set_platform(Some(sel.platform.to_oci()));
        let platform = Some(sel.platform.to_string());
        (desc, sel, platform)
    } else if index {
        (source_top.clone(), copy::docker_image(image)?, None)
    } else {
        let sel = image.select(None)?;
        let platform = Some(sel.platform.to_string());
        (source_top.clone(), sel, platform)
    };
    Ok(Chosen {
        top,
        docker,
        platform,
        one_of_index,
    })
}

/// `--tag`, or the tags the source gives its image.
fn tags_of(opts: &ExportOptions, image: &Image, source_top: &Descriptor) -> Vec<String> {
    if !opts.tags.is_empty() {
        return opts.tags.clone();
    }
    image.tags_of(source_top)
}

/// oci-archive, oci-dir, docker-archive: blobs copied verbatim.
fn export_image(
    opts: &ExportOptions,
    printer: &Printer,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<ExportReport> {
    let format = match opts.format {
        ExportFormat::OciDir => Format::OciDir,
        ExportFormat::DockerArchive => Format::DockerArchive,
        _ => Format::OciArchive,
    };
    let dest = sink::open(format, &opts.target, opts.mtime, cancel).map_err(Error::into_anyhow)?;
    let registry = super::registry_session(&opts.registry)?;
    let remote = Remote {
        registry: &registry,
        cancel,
    };
    let image = Image::open_with(&opts.reference, Some(&remote))
        .with_context(|| format!("reading image '{}'", opts.reference))?;
    let source_top = image.top()?;
    let Chosen {
        top,
        docker,
        platform,
        one_of_index,
    } = choose(opts, &image, &source_top, format)?;
    if one_of_index {
        printer.status(
            "Keeping",
            &format!(
                "{} of index {}: index.json now names its manifest {}",
                docker.platform,
                source_top.digest(),
                top.digest()
            ),
        );
    }
    let tags = tags_of(opts, &image, &source_top);
    printer.status(
        "Exporting",
        &format!(
            "{} ({}) as {}",
            opts.reference,
            image.form.name(),
            format.name()
        ),
    );
    progress.stage(Stage::CopyingBlobs, None);
    let copied = copy::export(&image, &top, &docker, &tags, dest, progress, cancel)
        .map_err(Error::into_anyhow)?;
    Ok(ExportReport {
        digest: top.digest().to_string(),
        media_type: top.media_type().to_string(),
        source: source_report(&image, &source_top),
        output: OutputReport {
            format: format.name().to_owned(),
            path: path_of(&opts.target),
        },
        platform: if is_index(top.media_type()) {
            None
        } else {
            platform
        },
        new_index: one_of_index,
        tags,
        blobs: Some(BlobsReport {
            count: copied.blobs,
            bytes: copied.bytes,
        }),
        rootfs: None,
        warnings: image.warnings().to_vec(),
        elapsed_ms: 0,
    })
}

/// rootfs-tar, rootfs-dir: one platform's layers flattened.
fn export_rootfs(
    opts: &ExportOptions,
    printer: &Printer,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<ExportReport> {
    let dir = opts.format == ExportFormat::RootfsDir;
    let out = RootfsOut::claim(&opts.target, dir, cancel)?;
    let registry = super::registry_session(&opts.registry)?;
    let remote = Remote {
        registry: &registry,
        cancel,
    };
    let image = Image::open_with(&opts.reference, Some(&remote))
        .with_context(|| format!("reading image '{}'", opts.reference))?;
    let source_top = image.top()?;
    let sel = image.select(opts.platform.as_ref())?;
    let layers = sel.manifest.layers().len();
    printer.status(
        "Flattening",
        &format!(
            "{} of {} ({layers} layer{}, {})",
            sel.platform,
            opts.reference,
            if layers == 1 { "" } else { "s" },
            human_bytes(
                sel.manifest
                    .layers()
                    .iter()
                    .fold(0u64, |a, l| a.saturating_add(l.size()))
            )
        ),
    );
    let Written { counts, stats } =
        flatten::output::write(&image, &sel, &opts.limits, out, progress, cancel)?;
    let mut warnings = image.warnings().to_vec();
    if counts.skipped_devices > 0 {
        warnings.push(format!(
            "left out {} device file(s): creating devices needs root",
            counts.skipped_devices
        ));
    }
    if stats.skipped > 0 {
        warnings.push(format!(
            "skipped {} aufs metadata entr{} (.wh..wh.*)",
            stats.skipped,
            if stats.skipped == 1 { "y" } else { "ies" }
        ));
    }
    Ok(ExportReport {
        digest: sel.manifest_desc.digest().to_string(),
        media_type: sel.manifest_desc.media_type().to_string(),
        source: source_report(&image, &source_top),
        output: OutputReport {
            format: format_name(opts.format).to_owned(),
            path: path_of(&opts.target),
        },
        platform: Some(sel.platform.to_string()),
        new_index: false,
        tags: Vec::new(),
        blobs: None,
        rootfs: Some(RootfsReport {
            layers: layers as u64,
            dirs: counts.dirs,
            files: counts.files,
            hardlinks: counts.hardlinks,
            symlinks: counts.symlinks,
            specials: counts.specials,
            skipped_devices: counts.skipped_devices,
            bytes: counts.bytes,
            whiteouts: stats.whiteouts,
            opaque_dirs: stats.opaque,
        }),
        warnings,
        elapsed_ms: 0,
    })
}
