//! The `--json` document of `inspect`: dedicated report types, so the schema is a contract
//! of its own and never follows internal types by accident. Documented in the README.
//! Also the human summary drawn from the same report, written through the Printer's
//! escaping `TextOut`.

use std::collections::BTreeMap;
use std::io;

use serde::Serialize;

use crate::ui::Printer;
use crate::ui::human_bytes;

#[derive(Debug, Serialize)]
pub struct InspectReport {
    /// The IMAGE argument as given.
    pub reference: String,
    /// `oci-dir`, `oci-archive` or `docker-archive`.
    pub format: String,
    /// What the reference names: an index or a manifest.
    pub digest: String,
    pub media_type: String,
    pub size: u64,
    /// The `org.opencontainers.image.ref.name` of index.json entries with this digest.
    pub tags: Vec<String>,
    /// Every image manifest under the digest (just the one for a manifest).
    pub platforms: Vec<PlatformReport>,
    /// The manifest shown (`--platform`, or the only one, or linux/amd64, or the first).
    pub manifest: ManifestReport,
    /// With `--verify`: what was checked and the problems found.
    pub verify: Option<VerifyReport>,
}

#[derive(Debug, Serialize)]
pub struct PlatformReport {
    pub platform: String,
    pub digest: String,
    pub size: u64,
}

#[derive(Debug, Serialize)]
pub struct ManifestReport {
    pub digest: String,
    pub media_type: String,
    pub size: u64,
    pub platform: String,
    pub annotations: BTreeMap<String, String>,
    pub config: BlobReport,
    pub created: Option<String>,
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
    pub env: Vec<String>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub exposed_ports: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub layers: Vec<LayerReport>,
}

#[derive(Debug, Serialize)]
pub struct BlobReport {
    pub digest: String,
    pub media_type: String,
    pub size: u64,
}

#[derive(Debug, Serialize)]
pub struct LayerReport {
    /// 0 is the bottom layer.
    pub index: usize,
    pub digest: String,
    pub media_type: String,
    /// Compressed size (the blob's).
    pub size: u64,
    pub diff_id: String,
    /// Size of the uncompressed tar: known for uncompressed layers, or after `--verify`.
    pub uncompressed_size: Option<u64>,
    /// The layer's history entry in the config: its comment, else its created_by.
    pub history: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct VerifyReport {
    pub ok: bool,
    /// Blobs read and checked against their descriptors.
    pub blobs: u64,
    /// Bytes of those blobs.
    pub bytes: u64,
    pub problems: Vec<String>,
}

/// Label width of the human summary.
const W: usize = 13;

/// The widest a computed column gets. Widths come from image strings (a platform, a media
/// type), and a format width past `u16::MAX` panics; a longer value just overflows its
/// column.
const MAX_COLUMN: usize = 64;

/// The width of a column holding `values`: their widest, at least `min`, at most
/// [`MAX_COLUMN`]. Counted in chars, as `format!` pads.
fn column_width<'a>(values: impl Iterator<Item = &'a str>, min: usize) -> usize {
    values
        .map(|v| v.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(min, MAX_COLUMN)
}

/// Write the human summary on stdout, each line escaped by the Printer.
pub fn write_human(r: &InspectReport, printer: &Printer) -> io::Result<()> {
    let mut out = printer.text_out();
    for line in human(r) {
        out.line(&line)?;
    }
    out.finish()
}

/// The human summary: aligned `Label: value` lines, raw (the Printer escapes each line, so
/// an image string with a newline stays on its line).
fn human(r: &InspectReport) -> Vec<String> {
    let mut out = Vec::new();
    let mut line = |label: &str, values: &[String]| push_line(&mut out, label, values);
    let one = |s: &str| vec![s.to_owned()];
    let opt = |s: &Option<String>| s.iter().cloned().collect::<Vec<_>>();
    let m = &r.manifest;
    line("Reference", &one(&r.reference));
    line("Format", &one(&r.format));
    line("Digest", &one(&r.digest));
    line("Media type", &one(&r.media_type));
    line("Tags", &r.tags);
    if r.platforms.len() > 1 || r.digest != m.digest {
        let width = column_width(r.platforms.iter().map(|p| p.platform.as_str()), 0);
        let list: Vec<String> = r
            .platforms
            .iter()
            .map(|p| format!("{:<width$}  {}", p.platform, p.digest))
            .collect();
        line("Platforms", &list);
        line("Manifest", &one(&m.digest));
    }
    line("Platform", &one(&m.platform));
    line(
        "Config",
        &[format!(
            "{} ({})",
            m.config.digest,
            human_bytes(m.config.size)
        )],
    );
    line("Created", &opt(&m.created));
    line("Env", &m.env);
    let json = |v: &Option<Vec<String>>| {
        v.as_ref()
            .and_then(|v| serde_json::to_string(v).ok())
            .into_iter()
            .collect::<Vec<_>>()
    };
    line("Entrypoint", &json(&m.entrypoint));
    line("Cmd", &json(&m.cmd));
    line("Workdir", &opt(&m.workdir));
    line("User", &opt(&m.user));
    line("Ports", &m.exposed_ports);
    let pairs = |m: &BTreeMap<String, String>| {
        m.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
    };
    line("Labels", &pairs(&m.labels));
    line("Annotations", &pairs(&m.annotations));
    layer_lines(m, &mut out);
    if let Some(v) = &r.verify {
        let state = if v.ok {
            "ok".to_owned()
        } else {
            format!("{} problem(s), listed on stderr", v.problems.len())
        };
        out.push(format!(
            "{:<W$}{state} ({} blobs, {})",
            "Verified:",
            v.blobs,
            human_bytes(v.bytes)
        ));
    }
    out
}

/// One label's aligned lines: `Label:  value`, further values below it, `-` for none.
fn push_line(out: &mut Vec<String>, label: &str, values: &[String]) {
    let label = format!("{label}:");
    if values.is_empty() {
        out.push(format!("{label:<W$}-"));
    }
    for (i, v) in values.iter().enumerate() {
        let l = if i == 0 { label.as_str() } else { "" };
        out.push(format!("{l:<W$}{v}"));
    }
}

/// The `Layers:` line (count and total sizes) and the table of layers below it.
fn layer_lines(m: &ManifestReport, out: &mut Vec<String>) {
    // Sizes come from the image: add them without overflowing.
    let total = m.layers.iter().fold(0u64, |a, l| a.saturating_add(l.size));
    let unpacked = m.layers.iter().try_fold(0u64, |a, l| {
        l.uncompressed_size.map(|u| a.saturating_add(u))
    });
    let sizes = match unpacked {
        Some(u) => format!("{}, {} uncompressed", human_bytes(total), human_bytes(u)),
        None => human_bytes(total),
    };
    push_line(out, "Layers", &[format!("{} ({sizes})", m.layers.len())]);
    let kind_w = column_width(m.layers.iter().map(|l| short_type(&l.media_type)), 4);
    if !m.layers.is_empty() {
        out.push(format!(
            "  {:>2}  {:<kind_w$}  {:>10}  {:>12}  {:<71}  {}",
            "#", "TYPE", "SIZE", "UNCOMPRESSED", "DIGEST", "HISTORY"
        ));
    }
    for l in &m.layers {
        let unpacked = l
            .uncompressed_size
            .map_or_else(|| "-".to_owned(), human_bytes);
        let history = l.history.as_deref().unwrap_or("-");
        out.push(format!(
            "  {:>2}  {:<kind_w$}  {:>10}  {:>12}  {:<71}  {history}",
            l.index,
            short_type(&l.media_type),
            human_bytes(l.size),
            unpacked,
            l.digest
        ));
    }
}

/// `tar+gzip` for an OCI layer type, the whole type otherwise.
fn short_type(mt: &str) -> &str {
    mt.strip_prefix("application/vnd.oci.image.layer.v1.")
        .unwrap_or(mt)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(layer_type: &str, platform: &str) -> InspectReport {
        let layer = |index| LayerReport {
            index,
            digest: format!("sha256:{}", "a".repeat(64)),
            media_type: layer_type.to_owned(),
            size: 10,
            diff_id: String::new(),
            uncompressed_size: None,
            history: (index == 0).then(|| "context directory layer".to_owned()),
        };
        InspectReport {
            reference: "img.tar".into(),
            format: "oci-archive".into(),
            digest: format!("sha256:{}", "b".repeat(64)),
            media_type: "application/vnd.oci.image.index.v1+json".into(),
            size: 1,
            tags: vec!["t\n1".into()],
            platforms: vec![
                PlatformReport {
                    platform: platform.to_owned(),
                    digest: format!("sha256:{}", "c".repeat(64)),
                    size: 1,
                },
                PlatformReport {
                    platform: "linux/arm64/v8".into(),
                    digest: format!("sha256:{}", "d".repeat(64)),
                    size: 1,
                },
            ],
            manifest: ManifestReport {
                digest: format!("sha256:{}", "c".repeat(64)),
                media_type: "application/vnd.oci.image.manifest.v1+json".into(),
                size: 1,
                platform: platform.to_owned(),
                annotations: BTreeMap::new(),
                config: BlobReport {
                    digest: format!("sha256:{}", "e".repeat(64)),
                    media_type: "application/vnd.oci.image.config.v1+json".into(),
                    size: 1,
                },
                created: None,
                os: "linux".into(),
                architecture: "amd64".into(),
                variant: None,
                env: vec![],
                entrypoint: None,
                cmd: Some(vec!["sh".into()]),
                workdir: None,
                user: None,
                exposed_ports: vec![],
                labels: BTreeMap::new(),
                layers: vec![layer(0), layer(1)],
            },
            verify: None,
        }
    }

    // See: issue #9
    #[test]
    fn issue_9_huge_widths_do_not_panic() {
        // A 70,000-character media type and platform: a format width past u16::MAX used to
        // panic ("Formatting argument out of range").
        let long = "x".repeat(70_000);
        let lines = human(&report(&long, &long));
        let layer = lines.iter().find(|l| l.starts_with("   0  ")).unwrap();
        assert!(layer.contains(&long));
        assert!(
            lines
                .iter()
                .any(|l| l.contains(&format!("{long}  sha256:cccc")))
        );
    }

    #[test]
    fn columns_stay_aligned_for_normal_text() {
        let lines = human(&report(
            "application/vnd.oci.image.layer.v1.tar+gzip",
            "linux/amd64",
        ));
        let at = lines.iter().position(|l| l.starts_with("   #")).unwrap();
        let table = &lines[at..];
        assert_eq!(
            table[0],
            format!(
                "   #  TYPE            SIZE  UNCOMPRESSED  DIGEST{}  HISTORY",
                " ".repeat(65)
            ),
            "{lines:#?}"
        );
        assert!(
            table[1].ends_with(&format!("{}  context directory layer", "a".repeat(64))),
            "{lines:#?}"
        );
        assert!(
            table[1].starts_with("   0  tar+gzip        10 B"),
            "{lines:#?}"
        );
        assert!(
            lines.contains(&format!(
                "Platforms:   linux/amd64     sha256:{}",
                "c".repeat(64)
            )),
            "{lines:#?}"
        );
        assert!(
            lines.contains(&"Cmd:         [\"sh\"]".to_owned()),
            "{lines:#?}"
        );
    }

    #[test]
    fn column_width_is_bounded() {
        assert_eq!(column_width(["ab", "abcdef"].into_iter(), 4), 6);
        assert_eq!(column_width(std::iter::empty(), 4), 4);
        assert_eq!(column_width(["é".repeat(10).as_str()].into_iter(), 0), 10);
        assert_eq!(
            column_width([&*"y".repeat(100_000)].into_iter(), 0),
            MAX_COLUMN
        );
    }
}
