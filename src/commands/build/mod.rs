//! `imgbuild build`: flags → checked options → [`crate::build::prepare`] (output claimed,
//! base opened, context walked) → what is about to be built, on stderr →
//! [`crate::build::Prepared::build`] → the result: the digest on stdout, or `--json`.

mod report;

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result};

use self::report::BuildReport;
use std::sync::Arc;

use crate::build::{self, BuiltImage};
use crate::cancel::Cancel;
use crate::cli::BuildArgs;
use crate::commands::{push_target, registry_session};
use crate::error::{Error, escape_bytes};
use crate::options::{BuildOptions, CacheOptions, Output};
use crate::progress::Progress;
use crate::registry::Registry;
use crate::registry::dest::{PushLog, Pushed, RegistryDest};
use crate::sink;
use crate::sink::tee::Tee;
use crate::sink::{Destination, Format, Target};
use crate::ui::Printer;
use crate::ui::human_bytes;

pub fn run(
    args: &BuildArgs,
    printer: &Printer,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<()> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (mut opts, output) = BuildOptions::from_args(
        args,
        std::env::var_os("SOURCE_DATE_EPOCH").map(|v| v.to_string_lossy().into_owned()),
        now,
    )?;
    let registry = registry_session(&args.registry)?;
    opts.registry = Some(registry.options().clone());
    if !args.no_cache {
        let max_size = crate::cache::parse_size(&args.cache_max_size).map_err(|e| {
            crate::error::UsageError::new(format!(
                "invalid --cache-max-size '{}': {e}",
                args.cache_max_size
            ))
            .with_hint("give a size such as 10GiB, 500M or 0 (keep nothing)")
        })?;
        opts.cache = Some(CacheOptions {
            dir: crate::cache::layers_dir(&registry.options().cache_dir),
            max_size,
        });
    }
    let to_stdout = matches!(&output, Some(o) if o.target == Target::Stdout);
    let (dest, log) = destination(args, &opts, output, &registry, progress, cancel)?;
    let prepared = build::prepare(&opts, dest, progress, cancel).map_err(Error::into_anyhow)?;
    for i in prepared.ignored() {
        let slash = if i.is_dir { "/" } else { "" };
        printer.detail(&format!(
            "ignored {}{slash} ({})",
            escape_bytes(&i.rel_path),
            i.reason
        ));
    }
    for note in prepared.layer_notes() {
        printer.detail(&note);
    }
    for w in prepared.warnings() {
        printer.warn(w);
    }
    let names: Vec<String> = prepared.platforms().iter().map(|p| p.to_string()).collect();
    let on = match &opts.base {
        Some(r) => format!(" on {r}"),
        None => String::new(),
    };
    printer.status(
        "Building",
        &format!(
            "{}{on} from {} ({} files, {})",
            names.join(", "),
            opts.context_arg.display(),
            prepared.files(),
            human_bytes(prepared.bytes_in())
        ),
    );
    if let Some(summary) = crate::context::ignored_summary(prepared.ignored()) {
        printer.status("Ignored", &summary);
    }
    if opts.check_reproducible {
        printer.status("Checking", "reproducibility: the image is built twice");
    }
    let warned = prepared.warnings().len();
    let built = prepared.build(progress).map_err(Error::into_anyhow)?;
    // Warnings from the build itself (the layer cache's) come after those of prepare.
    for w in built.warnings.iter().skip(warned) {
        printer.warn(w);
    }
    progress.finish();
    let pushed = log.map(|l| l.pushed()).unwrap_or_default();
    if let Some(path) = &args.metadata_file {
        let doc = BuildReport::of(&built, pushed.clone(), to_stdout);
        report::write_file(path, &doc)?;
    }
    present(&built, &opts, args.json, to_stdout, pushed, printer)
}

/// Where the image goes: the `-o` output, the registries of `-t` with `--push`, or both.
fn destination<'a>(
    args: &BuildArgs,
    opts: &BuildOptions,
    output: Option<Output>,
    registry: &Arc<Registry>,
    progress: &'a dyn Progress,
    cancel: &Cancel,
) -> Result<(Box<dyn Destination + 'a>, Option<PushLog>)> {
    let mtime = opts.settings.created.max(0) as u64;
    let file = output
        .map(|o| sink::open(o.format, &o.target, mtime, cancel))
        .transpose()
        .map_err(Error::into_anyhow)?;
    let file = match (file, args.push) {
        (Some(file), false) => return Ok((file, None)),
        (None, false) => anyhow::bail!("no output and no --push"),
        (file, true) => file,
    };
    let targets = args
        .tags
        .iter()
        .map(|t| push_target(t, "-t"))
        .collect::<Result<Vec<_>>>()?;
    let (mut push, log) = RegistryDest::new(Arc::clone(registry), targets, progress)?;
    let base = opts.base.as_ref().and_then(|b| match &b.registry {
        Some(r) => Some(r.clone()),
        None => b.as_bare_registry().and_then(|bare| bare.registry),
    });
    if let Some(base) = base {
        push.mount_from(base);
    }
    let dest: Box<dyn Destination + 'a> = match file {
        Some(file) => Box::new(Tee::new(Box::new(push), file)),
        None => Box::new(push),
    };
    Ok((dest, Some(log)))
}

/// Tell what was written: details with `-v`, the status lines, then the result.
fn present(
    built: &BuiltImage,
    opts: &BuildOptions,
    json: bool,
    to_stdout: bool,
    pushed: Vec<Pushed>,
    printer: &Printer,
) -> Result<()> {
    for line in &built.verified_base_layers {
        printer.detail(line);
    }
    let t = built.timings;
    printer.detail(&format!(
        "timings: walk {} ms, layer {} ms, image {} ms, total {} ms",
        t.walk_ms, t.layer_ms, t.image_ms, t.total_ms
    ));
    if built.checked_reproducible {
        printer.status(
            "Reproducible",
            "a second build gave the same bytes for every blob",
        );
    }
    let top_digest = built.top.digest().to_string();
    if to_stdout || built.path.is_some() {
        let path = built.path.as_ref().map(|p| p.display().to_string());
        printer.status(
            "Wrote",
            &format!(
                "{} ({}, {}) {top_digest}",
                path.as_deref().unwrap_or("stdout"),
                built.format.name(),
                layers_summary(built, opts)
            ),
        );
    }
    super::push::report(printer, &pushed);
    let one_image_per_tag = built.format != Format::DockerSave;
    if let (Some(path), [first, _, ..], true) =
        (&built.path, built.tags.as_slice(), one_image_per_tag)
    {
        // index.json lists the image once per tag: `skopeo inspect oci-archive:FILE` then
        // refuses "more than one image", and needs one named. (A docker-save archive has
        // no index.json: its one image carries every tag.)
        let transport = match built.format {
            Format::OciDir => "oci",
            _ => "oci-archive",
        };
        printer.status(
            "Tagged",
            &format!(
                "{} tags in index.json; tools that read one image need one named: {transport}:{}:{first}",
                built.tags.len(),
                path.display()
            ),
        );
    }
    if json {
        let text = serde_json::to_string_pretty(&BuildReport::of(built, pushed, to_stdout))
            .context("encoding the --json report")?;
        if to_stdout {
            printer.data_to_stderr(&text).context("writing to stderr")?;
        } else {
            printer.data_line(&text).context("writing to stdout")?;
        }
    } else if to_stdout {
        if printer.quiet {
            printer
                .data_to_stderr(&top_digest)
                .context("writing to stderr")?;
        }
    } else {
        printer
            .data_line(&top_digest)
            .context("writing to stdout")?;
    }
    Ok(())
}

/// `layer gzip 1.2 MiB`, or `3 layers gzip 1.2 MiB` when `--layer` or `--platform-context`
/// made more than one.
fn layers_summary(built: &BuiltImage, opts: &BuildOptions) -> String {
    let total: u64 = built.layers.iter().map(|l| l.descriptor.size).sum();
    let count = match built.layers.len() {
        0 | 1 => "layer".to_owned(),
        n => format!("{n} layers"),
    };
    let cached = built.layers.iter().filter(|l| l.cached).count();
    let from_cache = match (cached, built.layers.len()) {
        (0, _) => String::new(),
        (1, 1) => ", from the cache".to_owned(),
        (n, _) => format!(", {n} from the cache"),
    };
    format!(
        "{count} {} {}{from_cache}",
        opts.compression.name(),
        human_bytes(total)
    )
}
