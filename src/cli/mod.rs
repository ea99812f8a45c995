//! The command line, as clap derive types only: no I/O and no checks beyond clap's own.
//! `options.rs` turns these into checked options.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod build;
mod cache;
mod registry;
mod values;

use self::build::BUILD_EXAMPLES;
pub use self::build::{BuildArgs, CompressionChoice, OutputFormat};
use self::cache::CACHE_HELP;
pub use self::cache::{CacheArgs, CacheCommand, CacheDirArg, CacheInfoArgs, CachePruneArgs};
use self::registry::PUSH_EXAMPLES;
pub use self::registry::{PushArgs, RegistryArgs};

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
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions(CompletionsArgs),
    /// Store credentials for a registry (they are checked on first use, not now)
    #[command(after_help = LOGIN_HELP)]
    Login(LoginArgs),
    /// Remove the stored credentials for a registry
    #[command(after_help = LOGOUT_HELP)]
    Logout(LogoutArgs),
    /// Show or prune the local layer cache
    #[command(after_help = CACHE_HELP, disable_help_subcommand = true)]
    Cache(CacheArgs),
}

const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  # bash (with bash-completion): loaded from here on first use
  mkdir -p ~/.local/share/bash-completion/completions
  imgbuild completions bash > ~/.local/share/bash-completion/completions/imgbuild

  # zsh: a directory on $fpath (add fpath+=(~/.zfunc) before compinit in ~/.zshrc)
  mkdir -p ~/.zfunc && imgbuild completions zsh > ~/.zfunc/_imgbuild

  # fish
  mkdir -p ~/.config/fish/completions
  imgbuild completions fish > ~/.config/fish/completions/imgbuild.fish";

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
    #[arg(long, value_name = "PLATFORM", value_parser = values::PlatformValue, hide_possible_values = true)]
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
    #[arg(long, value_name = "PLATFORM", value_parser = values::PlatformValue, hide_possible_values = true)]
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }
}
