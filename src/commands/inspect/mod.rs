//! `imgbuild inspect`: open IMAGE (layout, OCI archive, docker-save archive or stdin) →
//! a human summary on stdout | `--json` | `--raw index|manifest|config` (the stored bytes)
//! | `--files [--layer N]` (a streamed listing) | `--verify` (every blob read and checked).
//! Everything shown is escaped: an image's strings never reach the terminal raw.

mod files;
mod report;

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use oci_spec::image::{Descriptor, ImageConfiguration};

use self::report::{
    BlobReport, InspectReport, LayerReport, ManifestReport, PlatformReport, VerifyReport,
};
use crate::cancel::Cancel;
use crate::cli::{InspectArgs, RawDocument};
use crate::error::{UsageError, invalid};
use crate::image::reference::ImageRef;
use crate::image::source::{Image, Remote, Selected};
use crate::image::{Platform, is_index, layer_compression, verify};
use crate::layer::reader::Limits;
use crate::ui::Printer;
use crate::ui::human_bytes;

pub fn run(args: &InspectArgs, printer: &Printer, cancel: &Cancel) -> Result<()> {
    let reference = parse_image_arg(&args.image)?;
    let want = parse_platform_arg(args.platform.as_deref())?;
    let limits = Limits::from_env()?;
    let registry = super::registry_session(&args.registry)?;
    let remote = Remote {
        registry: &registry,
        cancel,
    };
    let image = Image::open_with(&reference, Some(&remote))
        .with_context(|| format!("reading image '{reference}'"))?;
    // --verify counts them as problems; other reads go on, with a warning.
    if !args.verify {
        for w in image.warnings() {
            printer.warn(w);
        }
    }
    if let Some(doc) = args.raw {
        return raw(&image, doc, want.as_ref(), printer);
    }
    let top = image.top()?;
    if args.files {
        let (sel, _) = choose(&image, want.as_ref(), printer)?;
        return files::list(&image, &sel, args.layer, &limits, printer, cancel);
    }
    let mut checked = args
        .verify
        .then(|| verify::verify(&image, &top, &limits, cancel));
    if let Some(e) = checked.as_mut().and_then(|c| c.interrupted.take()) {
        return Err(e);
    }
    let summary = summarize(&image, &top, want.as_ref(), checked.as_ref(), printer);
    let problems = checked.as_ref().map_or(0, |c| c.problems.len());
    let report = match summary {
        Ok(r) => r,
        // With --verify, the problems found say more than the first one that stopped the
        // summary.
        Err(e) if problems > 0 => {
            printer.warn(&format!("cannot show the image: {e:#}"));
            return verify_result(&reference, checked, printer);
        }
        Err(e) => return Err(e),
    };
    if args.json {
        let text = serde_json::to_string_pretty(&report).context("encoding the --json report")?;
        printer.data_line(&text).context("writing to stdout")?;
    } else {
        report::write_human(&report, printer).context("writing to stdout")?;
    }
    verify_result(&reference, checked, printer)
}

/// After `--verify`: each problem on stderr and exit 3, or a one-line all-clear.
fn verify_result(
    reference: &ImageRef,
    checked: Option<verify::Verification>,
    printer: &Printer,
) -> Result<()> {
    let Some(v) = checked else { return Ok(()) };
    if v.problems.is_empty() {
        printer.status(
            "Verified",
            &format!(
                "{} blobs ({}): digests, sizes and diff_ids match",
                v.blobs,
                human_bytes(v.bytes)
            ),
        );
        return Ok(());
    }
    for p in &v.problems {
        printer.error(p, &[], None);
    }
    Err(invalid(format!(
        "'{reference}' failed verification: {} problem{} found",
        v.problems.len(),
        if v.problems.len() == 1 { "" } else { "s" }
    )))
}

/// The IMAGE argument of inspect and export.
pub fn parse_image_arg(arg: &str) -> Result<ImageRef> {
    ImageRef::parse(arg).map_err(|e| UsageError::new(format!("invalid IMAGE {e}")).into())
}

pub fn parse_platform_arg(arg: Option<&str>) -> Result<Option<Platform>> {
    arg.map(|p| {
        Platform::parse(p).map_err(|e| UsageError::new(format!("invalid --platform {e}")).into())
    })
    .transpose()
}

/// The image to show: `--platform`'s, or the only one, or linux/amd64, or the first (with a
/// note saying so). Also returns every platform under the reference.
pub fn choose(
    image: &Image,
    want: Option<&Platform>,
    printer: &Printer,
) -> Result<(Selected, Vec<(Descriptor, Platform)>)> {
    let candidates = image.candidates()?;
    if want.is_some() || candidates.len() <= 1 {
        return Ok((image.select(want)?, candidates));
    }
    let default = Platform::default_target();
    let (_, pick) = candidates
        .iter()
        .find(|(_, p)| *p == default)
        .or_else(|| candidates.first())
        .context("the image lists no platform")?;
    printer.status(
        "Showing",
        &format!(
            "{pick}, one of {} platforms (choose with --platform)",
            candidates.len()
        ),
    );
    let pick = pick.clone();
    Ok((image.select(Some(&pick))?, candidates))
}

/// `--raw`: the document's stored bytes, unchanged.
fn raw(image: &Image, doc: RawDocument, want: Option<&Platform>, printer: &Printer) -> Result<()> {
    let bytes = match doc {
        RawDocument::Index => {
            let top = image.top()?;
            // A platform set's index is made by imgbuild: its stored document is index.json.
            if is_index(top.media_type()) && !image.is_platform_set(&top) {
                image.read_index(&top)?.1
            } else {
                image.index_raw().to_vec()
            }
        }
        RawDocument::Manifest => {
            let (sel, _) = choose(image, want, printer)?;
            image.read_manifest(&sel.manifest_desc)?.1
        }
        RawDocument::Config => {
            let (sel, _) = choose(image, want, printer)?;
            image.read_config(sel.manifest.config())?.1
        }
    };
    printer.data_raw(&bytes).context("writing to stdout")
}

fn summarize(
    image: &Image,
    top: &Descriptor,
    want: Option<&Platform>,
    checked: Option<&verify::Verification>,
    printer: &Printer,
) -> Result<InspectReport> {
    let (sel, candidates) = choose(image, want, printer)?;
    let tags = image.tags_of(top);
    let platforms = candidates
        .iter()
        .map(|(d, p)| PlatformReport {
            platform: p.to_string(),
            digest: d.digest().to_string(),
            size: d.size(),
        })
        .collect();
    Ok(InspectReport {
        reference: image.reference.to_string(),
        format: image.form.name().to_owned(),
        digest: top.digest().to_string(),
        media_type: top.media_type().to_string(),
        size: top.size(),
        tags,
        platforms,
        manifest: manifest_report(&sel, checked),
        verify: checked.map(|c| VerifyReport {
            ok: c.problems.is_empty(),
            blobs: c.blobs,
            bytes: c.bytes,
            problems: c.problems.clone(),
        }),
    })
}

fn manifest_report(sel: &Selected, checked: Option<&verify::Verification>) -> ManifestReport {
    let c: &ImageConfiguration = &sel.config;
    let cfg = c.config().clone().unwrap_or_default();
    let diff_ids = c.rootfs().diff_ids();
    // One history entry per layer, in order, once the empty-layer entries are left out.
    let history: Vec<Option<String>> = c
        .history()
        .iter()
        .flatten()
        .filter(|h| h.empty_layer() != Some(true))
        .map(|h| h.comment().clone().or_else(|| h.created_by().clone()))
        .collect();
    let layers = sel
        .manifest
        .layers()
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let known = checked.and_then(|v| v.uncompressed.get(&l.digest().to_string()));
            let plain = layer_compression(l.media_type()) == Some(crate::compress::Algorithm::None);
            LayerReport {
                index: i,
                digest: l.digest().to_string(),
                media_type: l.media_type().to_string(),
                size: l.size(),
                diff_id: diff_ids.get(i).cloned().unwrap_or_default(),
                uncompressed_size: known.copied().or(plain.then_some(l.size())),
                history: history.get(i).cloned().flatten(),
            }
        })
        .collect();
    let sorted = |m: Option<&std::collections::HashMap<String, String>>| -> BTreeMap<_, _> {
        m.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    };
    let mut ports = cfg.exposed_ports().clone().unwrap_or_default();
    ports.sort();
    ManifestReport {
        digest: sel.manifest_desc.digest().to_string(),
        media_type: sel.manifest_desc.media_type().to_string(),
        size: sel.manifest_desc.size(),
        platform: sel.platform.to_string(),
        annotations: sorted(sel.manifest.annotations().as_ref()),
        config: BlobReport {
            digest: sel.manifest.config().digest().to_string(),
            media_type: sel.manifest.config().media_type().to_string(),
            size: sel.manifest.config().size(),
        },
        created: c.created().clone(),
        os: c.os().to_string(),
        architecture: c.architecture().to_string(),
        variant: c.variant().clone(),
        env: cfg.env().clone().unwrap_or_default(),
        entrypoint: cfg.entrypoint().clone(),
        cmd: cfg.cmd().clone(),
        workdir: cfg.working_dir().clone(),
        user: cfg.user().clone(),
        exposed_ports: ports,
        labels: sorted(cfg.labels().as_ref()),
        layers,
    }
}
