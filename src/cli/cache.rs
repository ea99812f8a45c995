//! `imgbuild cache info` and `imgbuild cache prune`: the local layer cache's arguments.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

pub(super) const CACHE_HELP: &str = "\
The layer cache keeps built layers under <cache-dir>/layers, keyed by everything their bytes
depend on, so a rebuild of an unchanged context reuses them. It is bounded (builds evict the
least recently used layers); prune removes more on demand. It is safe to prune while builds run.

Examples:
  imgbuild cache info
  imgbuild cache prune --older-than 7d
  imgbuild cache prune --max-size 2GiB
  imgbuild cache prune --all --json";

/// The arguments of `imgbuild cache`.
#[derive(Debug, Args)]
pub struct CacheArgs {
    /// What to do with the cache.
    #[command(subcommand)]
    pub command: CacheCommand,
}

/// The subcommands of `imgbuild cache`.
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Show the layer cache's directory, entries, size and last use
    Info(CacheInfoArgs),
    /// Remove layers from the cache (always removes damaged or unreferenced files)
    Prune(CachePruneArgs),
}

/// Where the cache is: the flag shared by `cache info` and `cache prune`.
#[derive(Debug, Args, Clone, Default)]
pub struct CacheDirArg {
    /// imgbuild's cache directory; the layer cache is its layers/ [default:
    /// $XDG_CACHE_HOME/imgbuild]
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

/// The arguments of `imgbuild cache info`.
#[derive(Debug, Args)]
pub struct CacheInfoArgs {
    /// Print a JSON object instead of text
    #[arg(long)]
    pub json: bool,

    /// Where the cache is.
    #[command(flatten)]
    pub dir: CacheDirArg,
}

/// The arguments of `imgbuild cache prune`.
#[derive(Debug, Args)]
pub struct CachePruneArgs {
    /// Remove every cached layer
    #[arg(long, conflicts_with_all = ["max_size", "older_than"])]
    pub all: bool,

    /// Remove least recently used layers until the cache holds at most SIZE (500M, 10GiB)
    #[arg(long, value_name = "SIZE", value_parser = crate::cache::parse_size)]
    pub max_size: Option<u64>,

    /// Remove layers not used for this long (30m, 12h, 7d, 2w)
    #[arg(long, value_name = "DURATION", value_parser = crate::cache::parse_duration)]
    pub older_than: Option<Duration>,

    /// Print a JSON object instead of text
    #[arg(long)]
    pub json: bool,

    /// Where the cache is.
    #[command(flatten)]
    pub dir: CacheDirArg,
}
