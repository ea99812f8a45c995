//! The `--json` document of `build`: dedicated report types, so the schema is a contract of
//! its own and never follows internal types by accident. Documented in the README.

use serde::Serialize;

use crate::registry::dest::Pushed;

#[derive(Debug, Serialize)]
pub struct BuildReport {
    /// The image digest: of the manifest, or of the index for several platforms.
    pub digest: String,
    pub media_type: String,
    pub output: OutputReport,
    pub manifests: Vec<ManifestReport>,
    pub layer: LayerReport,
    /// Every layer written, in order, with what it holds.
    pub layers: Vec<LayersEntry>,
    pub base: Option<BaseReport>,
    pub tags: Vec<String>,
    pub files: u64,
    pub warnings: Vec<String>,
    pub stats: StatsReport,
    /// With `--push`: each reference pushed, with its digest.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pushed: Vec<crate::commands::push::PushedReport>,
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
    /// The base manifest this platform's image was built on, if any.
    pub base_digest: Option<String>,
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
pub struct LayersEntry {
    #[serde(flatten)]
    pub layer: LayerReport,
    /// The `--layer` pattern whose entries it holds; null for the rest of the context and
    /// for a platform's tree.
    pub pattern: Option<String>,
    /// The platform whose `--platform-context` tree it holds; null when shared.
    pub platform: Option<String>,
    /// Its history comment in the config.
    pub comment: String,
    /// Whether its blob came from the layer cache.
    pub cached: bool,
}

impl LayerReport {
    fn of(l: &crate::layer::LayerDescriptor) -> LayerReport {
        LayerReport {
            digest: l.digest.prefixed(),
            diff_id: l.diff_id.prefixed(),
            size: l.size,
            uncompressed_size: l.tar_size,
            media_type: l.media_type.to_string(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct BaseReport {
    /// The base image as given on the command line.
    pub reference: String,
    pub form: String,
}

#[derive(Debug, Serialize)]
pub struct StatsReport {
    pub files: u64,
    pub entries: u64,
    pub bytes_in: u64,
    pub elapsed_ms: u64,
}

/// Write `doc` as pretty JSON to `path`: a temporary file beside it, renamed over it.
pub fn write_file(path: &std::path::Path, doc: &BuildReport) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use std::io::Write as _;
    let text =
        serde_json::to_string_pretty(doc).context("encoding the --metadata-file document")?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    let shown = || format!("writing --metadata-file '{}'", path.display());
    let mut tmp =
        crate::sink::output::temp_in(dir, ".imgbuild-metadata-", 0o644).with_context(shown)?;
    tmp.write_all(text.as_bytes())
        .and_then(|()| tmp.write_all(b"\n"))
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(shown)?;
    tmp.persist(path).with_context(shown)
}

impl BuildReport {
    /// The document for what a build wrote.
    pub fn of(b: &crate::build::BuiltImage, pushed: Vec<Pushed>, to_stdout: bool) -> BuildReport {
        let pushed_only = b.path.is_none() && !to_stdout && !pushed.is_empty();
        BuildReport {
            digest: b.top.digest().to_string(),
            media_type: b.top.media_type().to_string(),
            output: OutputReport {
                format: if pushed_only {
                    "registry"
                } else {
                    b.format.name()
                }
                .to_owned(),
                path: b.path.as_ref().map(|p| p.display().to_string()),
            },
            manifests: b
                .manifests
                .iter()
                .map(|m| ManifestReport {
                    platform: m.platform.to_string(),
                    digest: m.descriptor.digest().to_string(),
                    size: m.descriptor.size(),
                    config_digest: m.config.prefixed(),
                    base_digest: m.base_digest.clone(),
                })
                .collect(),
            layer: LayerReport::of(&b.layer),
            layers: b
                .layers
                .iter()
                .map(|l| LayersEntry {
                    layer: LayerReport::of(&l.descriptor),
                    pattern: l.pattern.clone(),
                    platform: l.platform.as_ref().map(ToString::to_string),
                    comment: l.comment.clone(),
                    cached: l.cached,
                })
                .collect(),
            base: b.base.as_ref().map(|base| BaseReport {
                reference: base.reference.clone(),
                form: base.form.to_owned(),
            }),
            tags: b.tags.clone(),
            files: b.files,
            warnings: b.warnings.clone(),
            stats: StatsReport {
                files: b.files,
                entries: b.entries,
                bytes_in: b.bytes_in,
                elapsed_ms: b.timings.total_ms,
            },
            pushed: pushed.into_iter().map(Into::into).collect(),
        }
    }
}
