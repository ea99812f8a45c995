//! `imgbuild build`: options → sink (claimed first) → walk → layer (one pass) → config and
//! manifest per platform → index.json → result on stdout (the digest, or `--json`).

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result};
use oci_spec::image::MediaType;
use serde::Serialize;

use crate::cli::BuildArgs;
use crate::context::{self, Context, EntryKind};
use crate::error::escape_bytes;
use crate::image::config::build_config;
use crate::image::{canonical, manifest};
use crate::layer::{LayerDescriptor, LayerWriter};
use crate::options::BuildOptions;
use crate::progress::{Progress, Stage};
use crate::sink::{ImageRecord, LayerOut, Sink, Target};
use crate::ui::Printer;

/// The `--json` document of `build`. Field names and meanings are a stable contract.
#[derive(Debug, Serialize)]
pub struct BuildReport {
    pub digest: String,
    pub media_type: String,
    pub output: OutputReport,
    pub manifests: Vec<ManifestReport>,
    pub layer: LayerReport,
    pub tags: Vec<String>,
    pub files: u64,
    pub warnings: Vec<String>,
    pub stats: StatsReport,
}

#[derive(Debug, Serialize)]
pub struct OutputReport {
    pub format: String,
    /// The output path, or null for stdout.
    pub path: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ManifestReport {
    pub platform: String,
    pub digest: String,
    pub size: u64,
    pub config_digest: String,
}

#[derive(Debug, Serialize)]
pub struct LayerReport {
    pub digest: String,
    pub diff_id: String,
    pub size: u64,
    pub uncompressed_size: u64,
    pub media_type: String,
}

#[derive(Debug, Serialize)]
pub struct StatsReport {
    pub files: u64,
    pub entries: u64,
    pub bytes_in: u64,
    pub elapsed_ms: u64,
}

pub fn run(args: &BuildArgs, printer: &Printer, progress: &dyn Progress) -> Result<()> {
    let started = Instant::now();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let opts = BuildOptions::from_args(args, std::env::var("SOURCE_DATE_EPOCH").ok(), now)?;
    let mut sink = Sink::prepare(opts.format, &opts.target)?;
    let store = sink.store()?;

    progress.stage(Stage::Walking, None);
    let walk_started = Instant::now();
    let ctx = context::walk(&opts.context, &opts.ignore)
        .with_context(|| format!("walking build context '{}'", opts.context_arg.display()))?;
    let walk_ms = walk_started.elapsed().as_millis();
    let warnings = warnings_for(&ctx);
    for i in &ctx.ignored {
        let slash = if i.is_dir { "/" } else { "" };
        printer.detail(&format!(
            "ignored {}{slash} ({})",
            escape_bytes(&i.rel_path),
            i.reason
        ));
    }
    for w in &warnings {
        printer.warn(w);
    }
    let files = ctx.file_count();
    let bytes_in = ctx.content_bytes();
    let platforms: Vec<String> = opts.platforms.iter().map(ToString::to_string).collect();
    printer.status(
        "Building",
        &format!(
            "{} from {} ({} files, {})",
            platforms.join(", "),
            opts.context_arg.display(),
            files,
            human_bytes(bytes_in)
        ),
    );

    progress.stage(Stage::WritingLayer, Some(bytes_in));
    let layer_started = Instant::now();
    let mtime = opts.settings.created.max(0) as u64;
    let blob = sink.layer_out(&store, mtime)?;
    let (blob, layer) = write_layer(&opts, &ctx, blob, progress)?;
    sink.commit_layer(&store, blob, &layer.digest, layer.size, mtime)?;
    let layer_ms = layer_started.elapsed().as_millis();

    progress.stage(Stage::WritingImage, None);
    let mut manifests = Vec::new();
    let mut record = None;
    for platform in &opts.platforms {
        let config = build_config(
            &opts.settings,
            platform,
            std::slice::from_ref(&layer.diff_id),
        )?;
        let config_bytes = canonical::to_vec(&config, "the image config")?;
        let (config_digest, config_size) = store.put_bytes(&config_bytes)?;
        let layers = vec![manifest::descriptor(
            layer.media_type.clone(),
            &layer.digest,
            layer.size,
        )];
        let mut annotations = vec![(
            manifest::ANNOTATION_CREATED.to_owned(),
            crate::image::config::rfc3339(opts.settings.created),
        )];
        annotations.extend(opts.settings.annotations.iter().cloned());
        let m = manifest::build_manifest(
            manifest::descriptor(MediaType::ImageConfig, &config_digest, config_size),
            layers,
            &annotations,
        )?;
        let m_bytes = canonical::to_vec(&m, "the image manifest")?;
        let (m_digest, m_size) = store.put_bytes(&m_bytes)?;
        let mut desc = manifest::descriptor(MediaType::ImageManifest, &m_digest, m_size);
        desc.set_platform(Some(platform.to_oci()));
        manifests.push(ManifestReport {
            platform: platform.to_string(),
            digest: m_digest.prefixed(),
            size: m_size,
            config_digest: config_digest.prefixed(),
        });
        record = Some(ImageRecord {
            top: desc,
            tags: opts.tags.clone(),
            docker_config: config_digest,
            docker_layers: vec![layer.digest.clone()],
        });
    }
    let record = record.context("no platform to build for")?;
    let top_digest = record.top.digest().to_string();
    let image_started = Instant::now();
    sink.finish(&record, mtime, &layer.digest)?;
    let image_ms = image_started.elapsed().as_millis();
    progress.finish();

    printer.detail(&format!(
        "timings: walk {walk_ms} ms, layer {layer_ms} ms, image {image_ms} ms, total {} ms",
        started.elapsed().as_millis()
    ));
    let (format, path) = match &opts.target {
        Target::Path(p) => (opts.format.name(), Some(p.display().to_string())),
        Target::Stdout => (opts.format.name(), None),
    };
    let shown = path.clone().unwrap_or_else(|| "stdout".into());
    printer.status(
        "Wrote",
        &format!(
            "{shown} ({format}, layer {} {}) {top_digest}",
            opts.compression.name(),
            human_bytes(layer.size)
        ),
    );
    let to_stdout = opts.target == Target::Stdout;
    if opts.json {
        let report = BuildReport {
            digest: top_digest.clone(),
            media_type: record.top.media_type().to_string(),
            output: OutputReport {
                format: format.to_owned(),
                path,
            },
            manifests,
            layer: LayerReport {
                digest: layer.digest.prefixed(),
                diff_id: layer.diff_id.prefixed(),
                size: layer.size,
                uncompressed_size: layer.tar_size,
                media_type: layer.media_type.to_string(),
            },
            tags: opts.tags.clone(),
            files,
            warnings,
            stats: StatsReport {
                files,
                entries: ctx.entries.len() as u64,
                bytes_in,
                elapsed_ms: started.elapsed().as_millis() as u64,
            },
        };
        let text = serde_json::to_string_pretty(&report).context("encoding the --json report")?;
        if to_stdout {
            eprintln!("{text}");
        } else {
            printer.data_line(&text).context("writing to stdout")?;
        }
    } else if to_stdout {
        if printer.quiet {
            eprintln!("{top_digest}");
        }
    } else {
        printer
            .data_line(&top_digest)
            .context("writing to stdout")?;
    }
    Ok(())
}

/// Stream the context into one compressed layer blob.
fn write_layer(
    opts: &BuildOptions,
    ctx: &Context,
    blob: LayerOut,
    progress: &dyn Progress,
) -> Result<(LayerOut, LayerDescriptor)> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(1);
    let mut writer = LayerWriter::new(blob, opts.compression, threads)
        .context("starting the layer compressor")?;
    let header = &opts.header;
    if !header.prefix.is_empty() {
        // Parents of the prefix are synthesised (0755, root-owned); the prefix itself is the
        // context directory, with its mode and mtime.
        let root_meta = std::fs::metadata(&opts.context)
            .with_context(|| format!("reading '{}'", opts.context_arg.display()))?;
        let mtime = header.mtime(std::os::unix::fs::MetadataExt::mtime(&root_meta));
        let parts: Vec<&[u8]> = header.prefix.split(|&b| b == b'/').collect();
        for i in 1..=parts.len() {
            let path = parts[..i].join(&b'/');
            let (mode, owner) = if i == parts.len() {
                let m = std::os::unix::fs::MetadataExt::mode(&root_meta) & 0o7777;
                (header.mode(&EntryKind::Dir, m), header.owner)
            } else {
                (0o755, (0, 0))
            };
            writer.append_synthetic_dir(&path, mode, mtime, owner)?;
        }
    }
    for entry in &ctx.entries {
        writer.append(&opts.context, entry, header, progress)?;
    }
    writer.finish()
}

/// Warnings about the walked context: skipped sockets and likely secrets.
fn warnings_for(ctx: &Context) -> Vec<String> {
    let mut out = Vec::new();
    for s in &ctx.sockets {
        out.push(format!("skipped socket '{}'", escape_bytes(s)));
    }
    for e in &ctx.entries {
        let name = e
            .rel_path
            .rsplit(|&b| b == b'/')
            .next()
            .unwrap_or(&e.rel_path);
        let is_dir = e.kind == EntryKind::Dir;
        let secret = if is_dir {
            name == b".aws" || name == b".ssh" || name == b".gnupg"
        } else {
            name.starts_with(b".env")
                || name.starts_with(b"id_rsa")
                || name.starts_with(b"id_ed25519")
                || name.ends_with(b".pem")
                || name.ends_with(b".key")
                || name == b".npmrc"
                || name == b".git-credentials"
                || name == b".netrc"
        };
        if secret {
            out.push(format!(
                "'{}' looks like a secret and will be in the image (list it in .dockerignore to leave it out)",
                escape_bytes(&e.rel_path)
            ));
        }
    }
    out
}

pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}
