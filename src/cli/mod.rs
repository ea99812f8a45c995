//! The command line, as clap derive types only: no I/O and no checks beyond clap's own.
//! `options.rs` turns these into checked options.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod registry;

use self::registry::PUSH_EXAMPLES;
pub use self::registry::{PushArgs, RegistryArgs};

const BUILD_EXAMPLES: &str = "\
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

  # An image layout directory (created, or added to when it already is one)
  imgbuild build ./dist --format oci-dir -o ./layout -t app:1.4

  # Reproducible in CI: same tree + same epoch = same bytes, on any machine
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) imgbuild build ./dist -o app.tar --normalize-modes

  # Metadata for scripts
  digest=$(imgbuild build ./dist -o app.tar -q)
  imgbuild build ./dist -o app.tar --json | jq -r .layer.diff_id";

const EXIT_STATUS: &str = "\
Exit status:
  0    success
  1    failure: I/O error, disk full, unreadable file, file changed while read
  2    usage: a bad flag or argument (missing context, unknown platform, tag not found)
  3    input rejected: an invalid or unsafe image, a fifo or device in the context
  130  interrupted (143 for SIGTERM); temporary files are removed";

/// The command line: global flags and one subcommand.
#[derive(Debug, Parser)]
#[command(
    name = "imgbuild",
    version,
    about = "Build OCI container images from a directory: no daemon, no root, reproducible",
    propagate_version = true,
    help_expected = true,
    after_help = EXIT_STATUS
)]
pub struct Cli {
    /// Flags that apply to every subcommand.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The flags every subcommand accepts.
#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Print nothing but errors and the result on stdout
    #[arg(
        short,
        long,
        global = true,
        help_heading = "Global",
        conflicts_with = "verbose"
    )]
    pub quiet: bool,
    /// List ignored paths and why, and per-stage timings
    #[arg(short, long, global = true, help_heading = "Global")]
    pub verbose: bool,
    /// When to use colors on stderr
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true, help_heading = "Global", value_name = "WHEN")]
    pub color: ColorChoice,
    /// How to show progress on stderr
    #[arg(long, value_enum, default_value_t = ProgressChoice::Auto, global = true, help_heading = "Global", value_name = "MODE")]
    pub progress: ProgressChoice,
}

/// The values of `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Color when stderr is a terminal and NO_COLOR is unset
    Auto,
    /// Always color
    Always,
    /// Never color
    Never,
}

/// The values of `--progress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressChoice {
    /// A progress bar when stderr is a terminal
    Auto,
    /// One line per stage, for CI logs
    Plain,
    /// No progress output
    Never,
}

// Parsed once per process: the size difference between variants does not matter.
/// The subcommands.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build an image from a directory
    #[command(after_help = BUILD_EXAMPLES, override_usage = "imgbuild build [OPTIONS] <CONTEXT>")]
    Build(BuildArgs),
    /// Show what is inside an image on disk
    #[command(after_help = INSPECT_EXAMPLES, override_usage = "imgbuild inspect [OPTIONS] <IMAGE>")]
    Inspect(InspectArgs),
    /// Convert an image to another format, or flatten it into a root filesystem
    #[command(after_help = EXPORT_EXAMPLES, override_usage = "imgbuild export [OPTIONS] -o <PATH> <IMAGE>")]
    Export(ExportArgs),
    /// Push an image on disk to registries, unchanged (same digests)
    #[command(after_help = PUSH_EXAMPLES, override_usage = "imgbuild push [OPTIONS] <IMAGE> <REF>...")]
    Push(PushArgs),
    /// Print a shell completion script
    Completions(CompletionsArgs),
    /// Store credentials for a registry (they are checked on first use, not now)
    #[command(after_help = LOGIN_HELP)]
    Login(LoginArgs),
    /// Remove the stored credentials for a registry
    #[command(after_help = LOGOUT_HELP)]
    Logout(LogoutArgs),
}

const LOGIN_HELP: &str = "\
login stores credentials; they are checked on first use. The registry is not contacted.

Where: --authfile PATH if given; else the docker config ($DOCKER_CONFIG/config.json, or
~/.docker/config.json), through its credential helper for the host or its credsStore when it
names one (docker-credential-NAME store), else in its auths (base64, mode 0600).

Examples:
  # In CI: the password or token from a secret, never on the command line
  echo \"$REGISTRY_TOKEN\" | imgbuild login ghcr.io -u ci-bot --password-stdin

  # At a terminal: asked for, without echo
  imgbuild login -u alice localhost:5000";

const LOGOUT_HELP: &str = "\
Removes every entry for the host from --authfile PATH, or from the docker config and its
credential helper (docker-credential-NAME erase).

Examples:
  imgbuild logout ghcr.io";

const INSPECT_EXAMPLES: &str = "\
Examples:
  imgbuild inspect app.tar
  imgbuild inspect oci:layout:app:1.4 --platform linux/arm64 --json
  imgbuild inspect --raw config app.tar | jq .config.Env
  imgbuild inspect --files --layer 1 docker-archive:saved.tar
  imgbuild inspect --verify app.tar && echo intact";

const EXPORT_EXAMPLES: &str = "\
Examples:
  # Flatten the image's filesystem into a tar stream (like crane export)
  imgbuild export app.tar --format rootfs-tar -o - | tar -t

  # Extract it into a new directory
  imgbuild export app.tar --format rootfs-dir -o ./rootfs

  # Convert an OCI archive for docker load, or into a layout directory
  imgbuild export app.tar --format docker-archive -o app-docker.tar
  imgbuild export app.tar --format oci-dir -o ./layout --tag app:1.4

  # Keep one platform of a multi-platform image
  imgbuild export multi.tar --platform linux/arm64 -o arm64.tar";

/// The values of `inspect --raw`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RawDocument {
    /// The image index the reference names, or index.json when it names a single manifest
    Index,
    /// The chosen platform's manifest
    Manifest,
    /// The chosen platform's config
    Config,
}

/// The arguments of `imgbuild inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The image: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:TAG], a path,
    /// - (stdin), or docker://HOST/REPO[:TAG] (a bare reference when no such file exists)
    #[arg(value_name = "IMAGE", value_hint = clap::ValueHint::AnyPath)]
    pub image: String,

    /// Which platform's manifest to show for a multi-platform image
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,

    /// Print one JSON document instead of the human-readable summary
    #[arg(long, conflicts_with_all = ["raw", "files"])]
    pub json: bool,

    /// Print the exact stored bytes of a document
    #[arg(long, value_enum, value_name = "DOCUMENT", conflicts_with = "files")]
    pub raw: Option<RawDocument>,

    /// List the files of every layer (or of --layer N), like tar tv
    #[arg(long)]
    pub files: bool,

    /// With --files: only this layer (0 is the bottom layer)
    #[arg(long, value_name = "N", requires = "files")]
    pub layer: Option<usize>,

    /// Read every blob and check digests, sizes and diff_ids; exit 3 if anything is wrong
    #[arg(long, conflicts_with_all = ["raw", "files"])]
    pub verify: bool,

    /// How registries are reached.
    #[command(flatten, next_help_heading = "Registry")]
    pub registry: RegistryArgs,
}

/// The values of `export --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// A tar of an OCI image layout, with Docker's manifest.json
    OciArchive,
    /// An OCI image layout directory
    OciDir,
    /// A docker save archive (for docker load)
    DockerArchive,
    /// The flattened filesystem of one platform as a tar stream
    RootfsTar,
    /// The flattened filesystem of one platform, extracted into a new directory
    RootfsDir,
}

/// The arguments of `imgbuild export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The image: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:TAG], a path,
    /// - (stdin), or docker://HOST/REPO[:TAG] (a bare reference when no such file exists)
    #[arg(value_name = "IMAGE", value_hint = clap::ValueHint::AnyPath)]
    pub image: String,

    /// Where to write: a file, a directory (oci-dir, rootfs-dir), or - for stdout
    #[arg(short, long, value_name = "PATH")]
    pub output: PathBuf,

    /// Output format
    #[arg(long, value_enum, default_value_t = ExportFormat::OciArchive, value_name = "FORMAT")]
    pub format: ExportFormat,

    /// Keep only this platform of a multi-platform image (required for rootfs formats when
    /// the image has several)
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,

    /// Name the exported image NAME[:TAG] (repeatable) instead of keeping its tags
    #[arg(short, long = "tag", value_name = "NAME[:TAG]")]
    pub tags: Vec<String>,

    /// Print a JSON document describing what was written
    #[arg(long)]
    pub json: bool,

    /// How registries are reached.
    #[command(flatten, next_help_heading = "Registry")]
    pub registry: RegistryArgs,
}

/// The arguments of `imgbuild completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// A password given as an argument: `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(pub String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

fn password(value: &str) -> Result<Password, std::convert::Infallible> {
    Ok(Password(value.to_owned()))
}

/// The arguments of `imgbuild login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The registry: HOST or HOST:PORT (ghcr.io, localhost:5000, docker.io)
    #[arg(value_name = "HOST")]
    pub host: String,

    /// The user name (asked for on a terminal when not given)
    #[arg(short, long, value_name = "USER")]
    pub username: Option<String>,

    /// The password or token; discouraged: it lands in the shell's history and the process
    /// list (use --password-stdin)
    #[arg(short, long, value_name = "PASSWORD", value_parser = password, conflicts_with = "password_stdin")]
    pub password: Option<Password>,

    /// Read the password or token from the first line of stdin
    #[arg(long)]
    pub password_stdin: bool,

    /// Store them in this file (podman's auth.json format) instead of the docker config
    #[arg(long, value_name = "PATH")]
    pub authfile: Option<PathBuf>,
}

/// The arguments of `imgbuild logout`.
#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// The registry: HOST or HOST:PORT
    #[arg(value_name = "HOST")]
    pub host: String,

    /// Remove them from this file (podman's auth.json format) instead of the docker config
    #[arg(long, value_name = "PATH")]
    pub authfile: Option<PathBuf>,
}

/// The values of `build --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// A tar of an OCI image layout, with Docker's manifest.json (docker/podman load)
    OciArchive,
    /// An OCI image layout directory
    OciDir,
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
        value_delimiter = ','
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

    /// Layer compression
    #[arg(help_heading = "Layer content", long, value_enum, default_value_t = CompressionChoice::Gzip, value_name = "ALGO")]
    pub compression: CompressionChoice,

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

    /// Push the image to every -t HOST/REPO:TAG (with -o, also write the file)
    #[arg(help_heading = "Output", long, requires = "tags")]
    pub push: bool,

    /// How registries are reached.
    #[command(flatten, next_help_heading = "Registry")]
    pub registry: RegistryArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }
}
