//! `imgbuild build`: options → sink (claimed first) → base (opened and verified) → walk →
//! layer (one pass) → per platform: base layers, config, manifest → index (several
//! platforms) → index.json → result on stdout (the digest, or `--json`).

mod check;
mod report;

use std::collections::HashSet;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result};
use oci_spec::image::{Descriptor, MediaType};

use self::report::{
    BaseReport, BuildReport, LayerReport, ManifestReport, OutputReport, StatsReport,
};
use crate::cli::BuildArgs;
use crate::context::{self, Context, EntryKind};
use crate::digest::Sha256Sum;
use crate::error::escape_bytes;
use crate::image::config::{build_config, rfc3339};
use crate::image::source::{Image, Selected};
use crate::image::{Platform, base, canonical, manifest};
use crate::layer::{EntryDigest, LayerDescriptor, LayerWriter};
use crate::options::BuildOptions;
use crate::progress::{Progress, Stage};
use crate::sink::{ImageRecord, Sink, Target};
use crate::store::BlobStore;
use crate::ui::Printer;

/// One image of the build: its platform and the base image under it, if any.
struct BuildTarget {
    platform: Platform,
    base: Option<Selected>,
}

/// What was written for one platform.
struct Built {
    platform: Platform,
    desc: Descriptor,
    config: Sha256Sum,
    layers: Vec<Sha256Sum>,
    base_digest: Option<String>,
}

pub fn run(args: &BuildArgs, printer: &Printer, progress: &dyn Progress) -> Result<()> {
    let started = Instant::now();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let opts = BuildOptions::from_args(
        args,
        std::env::var_os("SOURCE_DATE_EPOCH").map(|v| v.to_string_lossy().into_owned()),
        now,
    )?;
    let mut sink = Sink::prepare(opts.format, &opts.target)?;
    let store = sink.store()?;

    let base = match &opts.base {
        Some(r) => Some(Image::open(r).with_context(|| format!("reading base image '{r}'"))?),
        None => None,
    };
    let base_warnings: Vec<String> = base.iter().flat_map(|b| b.warnings().to_vec()).collect();
    for w in &base_warnings {
        printer.warn(w);
    }
    let targets = targets(&opts, base.as_ref())?;
    let mut copied = base::Verified::new(crate::layer::reader::Limits::from_env()?);

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
    let names: Vec<String> = targets.iter().map(|t| t.platform.to_string()).collect();
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
            files,
            human_bytes(bytes_in)
        ),
    );

    // Directories of --prefix that every base already has are not emitted again, so the
    // base's owner and mode for them survive.
    let skip_dirs = match &base {
        Some(image) if !opts.header.prefix.is_empty() => {
            prefix_dirs_in_bases(image, &targets, &opts.header.prefix)?
        }
        _ => HashSet::new(),
    };

    progress.stage(Stage::WritingLayer, Some(bytes_in));
    let layer_started = Instant::now();
    let mtime = opts.settings.created.max(0) as u64;
    let blob = sink.layer_out(&store, mtime)?;
    let check = opts.check_reproducible;
    let (blob, layer, entries) = write_layer(&opts, &ctx, blob, &skip_dirs, check, progress)?;
    sink.commit_layer(&store, blob, &layer.digest, layer.size, mtime)?;
    let layer_ms = layer_started.elapsed().as_millis();

    progress.stage(Stage::WritingImage, None);
    let image_started = Instant::now();
    let mut built = Vec::new();
    for t in &targets {
        built.push(write_image(
            &opts,
            base.as_ref(),
            t,
            &layer,
            &store,
            &mut copied,
        )?);
    }
    for line in copied.report() {
        printer.detail(line);
    }
    let record = record_for(&opts, &built, &store)?;
    let top_digest = record.top.digest().to_string();
    if check {
        printer.status("Checking", "reproducibility: building a second time");
        let first = check::Pass {
            layer: layer.clone(),
            entries,
            built,
            top: record.top.clone(),
        };
        check::check(&opts, base.as_ref(), &targets, &skip_dirs, &first)?;
        built = first.built;
        printer.status(
            "Reproducible",
            "a second build gave the same bytes for every blob",
        );
    }
    sink.finish(&record, mtime, Some(&layer.digest))?;
    let image_ms = image_started.elapsed().as_millis();
    progress.finish();

    printer.detail(&format!(
        "timings: walk {walk_ms} ms, layer {layer_ms} ms, image {image_ms} ms, total {} ms",
        started.elapsed().as_millis()
    ));
    let path = match &opts.target {
        Target::Path(p) => Some(p.display().to_string()),
        Target::Stdout => None,
    };
    let format = opts.format.name();
    printer.status(
        "Wrote",
        &format!(
            "{} ({format}, layer {} {}) {top_digest}",
            path.as_deref().unwrap_or("stdout"),
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
            manifests: built
                .iter()
                .map(|b| ManifestReport {
                    platform: b.platform.to_string(),
                    digest: b.desc.digest().to_string(),
                    size: b.desc.size(),
                    config_digest: b.config.prefixed(),
                    base_digest: b.base_digest.clone(),
                })
                .collect(),
            layer: LayerReport {
                digest: layer.digest.prefixed(),
                diff_id: layer.diff_id.prefixed(),
                size: layer.size,
                uncompressed_size: layer.tar_size,
                media_type: layer.media_type.to_string(),
            },
            base: base.as_ref().map(|b| BaseReport {
                reference: b.reference.to_string(),
                form: b.form.name().to_owned(),
            }),
            tags: opts.tags.clone(),
            files,
            warnings: [base_warnings, warnings].concat(),
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

/// The platforms to build and the base image of each. Without `--platform`, a base with
/// one image gives its platform; otherwise linux/amd64 is the default.
fn targets(opts: &BuildOptions, base: Option<&Image>) -> Result<Vec<BuildTarget>> {
    let Some(image) = base else {
        return Ok(opts
            .platforms
            .iter()
            .map(|p| BuildTarget {
                platform: p.clone(),
                base: None,
            })
            .collect());
    };
    if !opts.platforms_explicit {
        let selected = image.select(None)?;
        return Ok(vec![BuildTarget {
            platform: selected.platform.clone(),
            base: Some(selected),
        }]);
    }
    opts.platforms
        .iter()
        .map(|p| {
            Ok(BuildTarget {
                platform: p.clone(),
                base: Some(image.select(Some(p))?),
            })
        })
        .collect()
}

/// The directories of the prefix (and the prefix itself) that every base already has.
fn prefix_dirs_in_bases(
    image: &Image,
    targets: &[BuildTarget],
    prefix: &[u8],
) -> Result<HashSet<Vec<u8>>> {
    let parts: Vec<&[u8]> = prefix.split(|&b| b == b'/').collect();
    let wanted: Vec<Vec<u8>> = (1..=parts.len()).map(|i| parts[..i].join(&b'/')).collect();
    let mut common: Option<HashSet<Vec<u8>>> = None;
    let mut seen = HashSet::new();
    for t in targets {
        let Some(sel) = &t.base else { continue };
        if !seen.insert(sel.manifest_desc.digest().to_string()) {
            continue;
        }
        let have = base::existing_dirs(image, sel, &wanted)
            .with_context(|| format!("reading the base image for {}", t.platform))?;
        common = Some(match common {
            None => have,
            Some(c) => c.intersection(&have).cloned().collect(),
        });
    }
    Ok(common.unwrap_or_default())
}

/// Stream the context into one compressed layer blob; with `record`, also a digest of every
/// tar entry (for `--check-reproducible`).
fn write_layer<W: std::io::Write>(
    opts: &BuildOptions,
    ctx: &Context,
    blob: W,
    skip_dirs: &HashSet<Vec<u8>>,
    record: bool,
    progress: &dyn Progress,
) -> Result<(W, LayerDescriptor, Vec<EntryDigest>)> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(1);
    let mut writer = LayerWriter::new(blob, opts.compression, threads)
        .context("starting the layer compressor")?;
    if record {
        writer.record_entries();
    }
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
            if skip_dirs.contains(&path) {
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
    for entry in &ctx.entries {
        writer.append(&opts.context, entry, header, progress)?;
    }
    let entries = writer.entry_digests();
    let (blob, layer) = writer.finish()?;
    Ok((blob, layer, entries))
}

/// Config and manifest of one platform's image (after its base layers), stored.
fn write_image(
    opts: &BuildOptions,
    image: Option<&Image>,
    t: &BuildTarget,
    layer: &LayerDescriptor,
    store: &BlobStore,
    copied: &mut base::Verified,
) -> Result<Built> {
    let mut layers = Vec::new();
    let mut annotations = vec![(
        manifest::ANNOTATION_CREATED.to_owned(),
        rfc3339(opts.settings.created),
    )];
    if let (Some(image), Some(sel)) = (image, &t.base) {
        layers = base::copy_layers(image, sel, store, copied)
            .with_context(|| format!("copying the base image's layers for {}", t.platform))?;
        if let Some(name) = base_name(image) {
            annotations.push((manifest::ANNOTATION_BASE_NAME.to_owned(), name));
        }
        annotations.push((
            manifest::ANNOTATION_BASE_DIGEST.to_owned(),
            sel.manifest_desc.digest().to_string(),
        ));
    }
    let mut layer_digests: Vec<Sha256Sum> = layers
        .iter()
        .map(|d| {
            Sha256Sum::from_hex(d.digest().digest())
                .expect("base layer digests were checked when read")
        })
        .collect();
    layers.push(manifest::descriptor(
        layer.media_type.clone(),
        &layer.digest,
        layer.size,
    ));
    layer_digests.push(layer.digest.clone());
    annotations.extend(opts.settings.annotations.iter().cloned());

    let config = build_config(
        &opts.settings,
        &t.platform,
        t.base.as_ref().map(|b| &b.config),
        &layer.diff_id,
    )?;
    let config_bytes = canonical::to_vec(&config, "the image config")?;
    let (config_digest, config_size) = store.put_bytes(&config_bytes)?;
    let m = manifest::build_manifest(
        manifest::descriptor(MediaType::ImageConfig, &config_digest, config_size),
        layers,
        &annotations,
    )?;
    let m_bytes = canonical::to_vec(&m, "the image manifest")?;
    let (m_digest, m_size) = store.put_bytes(&m_bytes)?;
    let mut desc = manifest::descriptor(MediaType::ImageManifest, &m_digest, m_size);
    desc.set_platform(Some(t.platform.to_oci()));
    Ok(Built {
        platform: t.platform.clone(),
        desc,
        config: config_digest,
        layers: layer_digests,
        base_digest: t
            .base
            .as_ref()
            .map(|b| b.manifest_desc.digest().to_string()),
    })
}

/// The base's name for the annotation: its tag, never a host path.
fn base_name(image: &Image) -> Option<String> {
    if let Some(tag) = &image.reference.tag {
        return Some(tag.clone());
    }
    image
        .top()
        .ok()
        .as_ref()
        .and_then(manifest::ref_name)
        .map(str::to_owned)
}

/// What index.json names: the one manifest, or an index of all of them. Docker's
/// manifest.json can name one image per tag: the host's platform if built, else the first.
fn record_for(opts: &BuildOptions, built: &[Built], store: &BlobStore) -> Result<ImageRecord> {
    let docker = Platform::host()
        .and_then(|h| built.iter().find(|b| b.platform == h))
        .or_else(|| built.first())
        .context("no platform to build for")?;
    let top = if let [one] = built {
        one.desc.clone()
    } else {
        let mut annotations = vec![(
            manifest::ANNOTATION_CREATED.to_owned(),
            rfc3339(opts.settings.created),
        )];
        annotations.extend(opts.settings.annotations.iter().cloned());
        let index =
            manifest::build_index(built.iter().map(|b| b.desc.clone()).collect(), &annotations)?;
        let bytes = canonical::to_vec(&index, "the image index")?;
        let (digest, size) = store.put_bytes(&bytes)?;
        manifest::descriptor(MediaType::ImageIndex, &digest, size)
    };
    Ok(ImageRecord {
        top,
        tags: opts.tags.clone(),
        docker_config: docker.config.clone(),
        docker_layers: docker.layers.clone(),
    })
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
        let secret = if e.kind == EntryKind::Dir {
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
