//! `imgbuild push IMAGE REF...`: an image on disk (any form `inspect` reads) pushed to each
//! reference unchanged — its blobs byte for byte, so the manifest or index digest in the
//! registry is the one on disk — then the digest on stdout, or `--json`.

use anyhow::{Context as _, Result};
use serde::Serialize;

use super::inspect::parse_image_arg;
use super::{push_target, registry_session};
use crate::cancel::Cancel;
use crate::cli::PushArgs;
use crate::error::Error;
use crate::image::copy;
use crate::image::is_index;
use crate::image::source::{Image, Remote};
use crate::progress::Progress;
use crate::registry::dest::{Pushed, RegistryDest};
use crate::ui::Printer;

#[derive(Serialize)]
struct PushReport {
    digest: String,
    media_type: String,
    source: String,
    pushed: Vec<PushedReport>,
    warnings: Vec<String>,
}

/// One pushed reference in `--json` (of `push`, and of `build --push`).
#[derive(Debug, Serialize)]
pub struct PushedReport {
    reference: String,
    digest: String,
    blobs_uploaded: u64,
    blobs_skipped: u64,
}

impl From<Pushed> for PushedReport {
    fn from(p: Pushed) -> PushedReport {
        PushedReport {
            reference: p.reference,
            digest: p.digest,
            blobs_uploaded: p.uploaded,
            blobs_skipped: p.skipped,
        }
    }
}

/// One status line per reference pushed.
pub fn report(printer: &Printer, pushed: &[Pushed]) {
    for p in pushed {
        printer.status(
            "Pushed",
            &format!(
                "{}@{} ({} blobs uploaded, {} there already)",
                p.reference, p.digest, p.uploaded, p.skipped
            ),
        );
    }
}

pub fn run(
    args: &PushArgs,
    printer: &Printer,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<()> {
    let reference = parse_image_arg(&args.image)?;
    let targets = args
        .refs
        .iter()
        .map(|r| push_target(r, "REF"))
        .collect::<Result<Vec<_>>>()?;
    let registry = registry_session(&args.registry)?;
    let remote = Remote {
        registry: &registry,
        cancel,
    };
    let image = Image::open_with(&reference, Some(&remote))
        .with_context(|| format!("reading image '{reference}'"))?;
    for w in image.warnings() {
        printer.warn(w);
    }
    let top = image.top()?;
    let docker = if is_index(top.media_type()) {
        copy::docker_image(&image)?
    } else {
        image.select(None)?
    };
    let names: Vec<String> = targets.iter().map(|t| t.whole()).collect();
    printer.status(
        "Pushing",
        &format!("{} ({}) to {}", reference, top.digest(), names.join(", ")),
    );
    let (dest, log) = RegistryDest::new(std::sync::Arc::clone(&registry), targets, progress)?;
    let tags = image.tags_of(&top);
    copy::export(
        &image,
        &top,
        &docker,
        &tags,
        Box::new(dest),
        progress,
        cancel,
    )
    .map_err(Error::into_anyhow)?;
    progress.finish();
    let pushed = log.pushed();
    report(printer, &pushed);
    let digest = top.digest().to_string();
    if args.json {
        let report = PushReport {
            digest,
            media_type: top.media_type().to_string(),
            source: reference.to_string(),
            pushed: pushed.into_iter().map(PushedReport::from).collect(),
            warnings: registry.warnings(),
        };
        let text = serde_json::to_string_pretty(&report).context("encoding the --json report")?;
        printer.data_line(&text).context("writing to stdout")
    } else {
        printer.data_line(&digest).context("writing to stdout")
    }
}
