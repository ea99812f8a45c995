//! `imgbuild cache info` and `imgbuild cache prune`: the layer cache's state and its
//! cleaning, as text on stdout or one `--json` object. A cache that does not exist yet is
//! empty, and is not created by looking at it.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context as _, Result};
use serde::Serialize;

use crate::cache::{self, CacheInfo, LayerCache, PruneOptions, PruneReport};
use crate::cli::{CacheArgs, CacheCommand, CacheDirArg, CacheInfoArgs, CachePruneArgs};
use crate::image::config::rfc3339;
use crate::options::registry::RegistryEnv;
use crate::registry::RegistryOptions;
use crate::ui::{Printer, human_bytes};

pub fn run(args: &CacheArgs, printer: &Printer) -> Result<()> {
    match &args.command {
        CacheCommand::Info(a) => info(a, printer),
        CacheCommand::Prune(a) => prune(a, printer),
    }
}

/// `<--cache-dir or $XDG_CACHE_HOME/imgbuild or ~/.cache/imgbuild>/layers`.
fn layers_dir(arg: &CacheDirArg) -> PathBuf {
    let root = arg.cache_dir.clone().unwrap_or_else(|| {
        let env = RegistryEnv::from_process();
        RegistryOptions::default_cache_dir(env.xdg_cache_home, env.home)
    });
    cache::layers_dir(&root)
}

/// The cache, or None when its directory does not exist (yet).
fn existing(dir: &Path) -> Result<Option<LayerCache>> {
    match dir.symlink_metadata() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        _ => LayerCache::open(dir, cache::DEFAULT_MAX_SIZE).map(Some),
    }
}

/// `cache info --json`.
#[derive(Serialize)]
struct InfoReport {
    dir: String,
    entries: u64,
    blobs: u64,
    total_bytes: u64,
    max_size: u64,
    oldest_use: Option<String>,
    newest_use: Option<String>,
}

/// `cache prune --json`.
#[derive(Serialize)]
struct PruneJson {
    dir: String,
    removed_entries: u64,
    removed_blobs: u64,
    freed_bytes: u64,
    entries: u64,
    blobs: u64,
    total_bytes: u64,
}

fn time(t: Option<SystemTime>) -> Option<String> {
    let secs = t?.duration_since(SystemTime::UNIX_EPOCH).ok()?.as_secs();
    Some(rfc3339(i64::try_from(secs).ok()?))
}

fn shown(dir: &Path) -> String {
    dir.to_string_lossy().into_owned()
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn info(args: &CacheInfoArgs, printer: &Printer) -> Result<()> {
    let dir = layers_dir(&args.dir);
    let info = match existing(&dir)? {
        Some(c) => c.info()?,
        None => CacheInfo {
            dir: dir.clone(),
            entries: 0,
            blobs: 0,
            total_bytes: 0,
            max_size: cache::DEFAULT_MAX_SIZE,
            oldest_use: None,
            newest_use: None,
        },
    };
    let report = InfoReport {
        dir: shown(&info.dir),
        entries: info.entries,
        blobs: info.blobs,
        total_bytes: info.total_bytes,
        max_size: info.max_size,
        oldest_use: time(info.oldest_use),
        newest_use: time(info.newest_use),
    };
    if args.json {
        let text = serde_json::to_string_pretty(&report).context("encoding the --json report")?;
        return printer.data_line(&text).context("writing to stdout");
    }
    let mut out = printer.text_out();
    let mut lines = vec![
        format!("Directory:  {}", report.dir),
        format!("Layers:     {}", report.entries),
        format!(
            "Blobs:      {} ({})",
            report.blobs,
            human_bytes(report.total_bytes)
        ),
        format!(
            "Bound:      {} (the default; a build evicts down to its own bound)",
            human_bytes(report.max_size)
        ),
    ];
    if let (Some(old), Some(new)) = (&report.oldest_use, &report.newest_use) {
        lines.push(format!("Last used:  {new} (least recently: {old})"));
    }
    for l in &lines {
        out.line(l).context("writing to stdout")?;
    }
    out.finish().context("writing to stdout")
}

fn prune(args: &CachePruneArgs, printer: &Printer) -> Result<()> {
    let dir = layers_dir(&args.dir);
    let report = match existing(&dir)? {
        Some(c) => c.prune(PruneOptions {
            all: args.all,
            max_size: args.max_size,
            older_than: args.older_than,
        })?,
        None => PruneReport::default(),
    };
    if args.json {
        let json = PruneJson {
            dir: shown(&dir),
            removed_entries: report.removed_entries,
            removed_blobs: report.removed_blobs,
            freed_bytes: report.freed_bytes,
            entries: report.entries,
            blobs: report.blobs,
            total_bytes: report.total_bytes,
        };
        let text = serde_json::to_string_pretty(&json).context("encoding the --json report")?;
        return printer.data_line(&text).context("writing to stdout");
    }
    let mut out = printer.text_out();
    out.line(&format!(
        "Removed {} and {} ({}) from {}",
        plural(report.removed_entries, "layer", "layers"),
        plural(report.removed_blobs, "blob", "blobs"),
        human_bytes(report.freed_bytes),
        shown(&dir)
    ))
    .context("writing to stdout")?;
    out.line(&format!(
        "Left: {} ({})",
        plural(report.entries, "layer", "layers"),
        human_bytes(report.total_bytes)
    ))
    .context("writing to stdout")?;
    out.finish().context("writing to stdout")
}
