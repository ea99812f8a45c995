//! The arguments of `imgbuild build`, with its examples.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::RegistryArgs;

pub(super) const BUILD_EXAMPLES: &str = "\
Examples:
  # An OCI archive for arm64, tagged; the image digest is printed on stdout
  imgbuild build ./dist -o app.tar --platform linux/arm64 -t app:1.4

  # Stream the archive into podman (or docker) without a file in between
  imgbuild build ./site -o - -t site:1 | podman load

  # One image for two platforms (an image index sharing one layer)
  imgbuild build ./dist -o app.tar --platform linux/amd64,linux/arm64 -t app:1.4

  # On top of a base image saved as a file, under /app
  imgbuild build ./dist -o app.tar --base oci-archive:busybox.tar:busybox:1.36 --prefix /app \\
      --entrypoint /app/server

  # A classic docker save archive, for Docker before 25 and go-containerregistry's tarball
  imgbuild build ./dist --format docker-archive -o app-docker.tar -t app:1.4

  # An image layout directory (created, or added to when it already is one)
  imgbuild build ./dist --format oci-dir -o ./layout -t app:1.4

  # Reproducible in CI: same tree + same epoch = same bytes, on any machine
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) imgbuild build ./dist -o app.tar --normalize-modes

  # Metadata for scripts
  digest=$(imgbuild build ./dist -o app.tar -q)
  imgbuild build ./dist -o app.tar --json | jq -r .layer.diff_id";

/// The values of `build --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// A tar of an OCI image layout, with Docker's manifest.json (docker/podman load)
    OciArchive,
    /// An OCI image layout directory
    OciDir,
    /// A classic docker save archive (uncompressed layer.tar files; one platform)
    DockerArchive,
}

/// The values of `build --compression`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompressionChoice {
    /// gzip (the most widely supported)
    Gzip,
    /// zstd (faster, smaller; needs recent consumers)
    Zstd,
    /// No compression
    None,
}

/// The arguments of `imgbuild build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The directory whose contents become the image's layer
    #[arg(value_name = "CONTEXT", value_hint = clap::ValueHint::DirPath)]
    pub context: PathBuf,

    /// Where to write the image: a file, a directory (with --format oci-dir), or - for stdout
    #[arg(help_heading = "Output", short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,

    /// Output format
    #[arg(help_heading = "Output", long, value_enum, default_value_t = OutputFormat::OciArchive, value_name = "FORMAT")]
    pub format: OutputFormat,

    /// Target platform(s) as OS/ARCH[/VARIANT], comma-separated or repeated; several give an
    /// image index [default: linux/amd64, or the base image's platform]
    #[arg(
        help_heading = "Platforms and base",
        long,
        value_name = "PLATFORM",
        value_delimiter = ',',
        value_parser = super::values::PlatformValue,
        hide_possible_values = true
    )]
    pub platform: Vec<String>,

    /// Put the context on top of this image: oci:DIR[:TAG], oci-archive:FILE[:TAG],
    /// docker-archive:FILE[:TAG], a path, or docker://HOST/REPO[:TAG] (a bare reference when
    /// no such file exists); may end in @sha256:DIGEST
    #[arg(help_heading = "Platforms and base", long, value_name = "IMAGE", value_hint = clap::ValueHint::AnyPath)]
    pub base: Option<String>,

    /// Tag the image NAME[:TAG] (repeatable); recorded exactly as given
    #[arg(
        help_heading = "Image config",
        short,
        long = "tag",
        value_name = "NAME[:TAG]"
    )]
    pub tags: Vec<String>,

    /// Set an environment variable in the image (repeatable)
    #[arg(help_heading = "Image config", long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,

    /// Set a label in the image config (repeatable)
    #[arg(
        help_heading = "Image config",
        long = "label",
        value_name = "KEY=VALUE"
    )]
    pub labels: Vec<String>,

    /// Set an annotation on the manifest (repeatable)
    #[arg(
        help_heading = "Image config",
        long = "annotation",
        value_name = "KEY=VALUE"
    )]
    pub annotations: Vec<String>,

    /// The program to run: a JSON array, or words split as a shell would ('' clears it)
    #[arg(
        help_heading = "Image config",
        long,
        value_name = "CMD",
        allow_hyphen_values = true
    )]
    pub entrypoint: Option<String>,

    /// Default arguments (or command): a JSON array, or words split as a shell would
    #[arg(
        help_heading = "Image config",
        long,
        value_name = "CMD",
        allow_hyphen_values = true
    )]
    pub cmd: Option<String>,

    /// Working directory of the container (absolute)
    #[arg(help_heading = "Image config", long, value_name = "DIR")]
    pub workdir: Option<String>,

    /// User (and group) the container runs as
    #[arg(help_heading = "Image config", long, value_name = "USER[:GROUP]")]
    pub user: Option<String>,

    /// Read environment variables from a file of KEY=VALUE lines (# comments; repeatable);
    /// --env wins
    #[arg(help_heading = "Image config", long = "env-file", value_name = "FILE")]
    pub env_files: Vec<PathBuf>,

    /// Read labels from a file of KEY=VALUE lines (# comments; repeatable); --label wins
    #[arg(
        help_heading = "Image config",
        long = "label-file",
        value_name = "FILE"
    )]
    pub label_files: Vec<PathBuf>,

    /// The signal that stops the container (SIGTERM, SIGQUIT, or a number)
    #[arg(help_heading = "Image config", long, value_name = "SIGNAL")]
    pub stop_signal: Option<String>,

    /// Declare a volume: an absolute path in the container (repeatable)
    #[arg(help_heading = "Image config", long = "volume", value_name = "PATH")]
    pub volumes: Vec<String>,

    /// Declare a port the container listens on (repeatable)
    #[arg(
        help_heading = "Image config",
        long = "expose",
        value_name = "PORT[/PROTO]"
    )]
    pub expose: Vec<String>,

    /// Place the context under this absolute path in the image (parents are created)
    #[arg(help_heading = "Layer content", long, value_name = "DIR")]
    pub prefix: Option<String>,

    /// Owner of every entry, as numeric UID:GID [default: 0:0]
    #[arg(help_heading = "Layer content", long, value_name = "UID:GID")]
    pub chown: Option<String>,

    /// Store modes as 0755 (directories, executables) or 0644, independent of the umask
    #[arg(help_heading = "Layer content", long)]
    pub normalize_modes: bool,

    /// Layer compression [default: gzip; none with --format docker-archive]
    #[arg(help_heading = "Layer content", long, value_enum, value_name = "ALGO")]
    pub compression: Option<CompressionChoice>,

    /// Compression level (gzip 1-9, default 6; zstd 1-19, default 3)
    #[arg(help_heading = "Layer content", long, value_name = "N")]
    pub compression_level: Option<i32>,

    /// Include everything: .gitignore files apply by default (unlike Docker, so what git
    /// leaves out stays out), as do .dockerignore and --ignore-file; .git is still left out
    #[arg(help_heading = "Layer content", long)]
    pub no_ignore: bool,

    /// One more file of .dockerignore patterns, applied after the context's own
    #[arg(help_heading = "Layer content", long, value_name = "FILE")]
    pub ignore_file: Option<PathBuf>,

    /// Clamp mtimes to this Unix time and use it as the creation time [env: SOURCE_DATE_EPOCH]
    #[arg(help_heading = "Layer content", long, value_name = "SECONDS")]
    pub source_date_epoch: Option<String>,

    /// Build the image a second time (walking and reading the tree again) and fail, writing
    /// nothing, unless every blob is byte-identical; names the first blob and tar entry that
    /// differ
    #[arg(help_heading = "Layer content", long)]
    pub check_reproducible: bool,

    /// Print a JSON document describing the image instead of the digest
    #[arg(help_heading = "Output", long)]
    pub json: bool,

    /// Also write the --json document to this file (replaced atomically), whatever goes to
    /// stdout; buildx calls it --metadata-file
    #[arg(
        help_heading = "Output",
        long,
        value_name = "PATH",
        visible_alias = "json-file"
    )]
    pub metadata_file: Option<PathBuf>,

    /// Put the entries this .dockerignore-style pattern matches (e.g. 'node_modules/**') in a
    /// layer of their own (repeatable: one layer each, in order, below the rest)
    #[arg(help_heading = "Layer content", long = "layer", value_name = "PATTERN")]
    pub layers: Vec<String>,

    /// Build every layer from the files, neither reusing nor storing cached layers
    #[arg(help_heading = "Layer content", long)]
    pub no_cache: bool,

    /// Evict least recently used cached layers past this size (e.g. 10GiB, 500M)
    #[arg(
        help_heading = "Layer content",
        long,
        value_name = "SIZE",
        default_value = "10GiB"
    )]
    pub cache_max_size: String,

    /// Add DIR's tree as one more layer on top, in PLATFORM's image only (repeatable)
    #[arg(
        help_heading = "Platforms and base",
        long = "platform-context",
        value_name = "PLATFORM=DIR"
    )]
    pub platform_contexts: Vec<String>,

    /// Push the image to every -t HOST/REPO:TAG (with -o, also write the file)
    #[arg(help_heading = "Output", long, requires = "tags")]
    pub push: bool,

    /// How registries are reached.
    #[command(flatten, next_help_heading = "Registry")]
    pub registry: RegistryArgs,
}
