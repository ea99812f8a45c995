//! The flags of the commands that talk to registries, and `imgbuild push`'s arguments.

use std::path::PathBuf;

use clap::Args;

pub(super) const PUSH_EXAMPLES: &str = "\
Examples:
  # The digest of what was pushed is printed on stdout
  imgbuild push app.tar localhost:5000/team/app:1.4

  # An image of a layout directory, under two tags
  imgbuild push oci:layout:app:1.4 localhost:5000/app:1.4 localhost:5000/app:latest

  # A registry with a self-signed certificate (as local clusters make)
  imgbuild push app.tar localhost:5443/team/app:1 --ca-cert ca.crt";

/// How registries are reached: flags shared by every command that talks to one.
#[derive(Debug, Args, Clone, Default)]
pub struct RegistryArgs {
    /// Allow plain HTTP for this registry HOST[:PORT] when it does not speak HTTPS
    /// (repeatable; localhost and 127.0.0.0/8 always may)
    #[arg(long = "insecure-registry", value_name = "HOST")]
    pub insecure_registry: Vec<String>,

    /// Verify registries' TLS certificates (--tls-verify=false accepts any, with a warning)
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub tls_verify: bool,

    /// Trust this CA certificate (PEM) for registries, besides the system's (repeatable)
    #[arg(long = "ca-cert", value_name = "FILE")]
    pub ca_cert: Vec<PathBuf>,

    /// Registry credentials USER:PASS, or USER with the password in
    /// IMGBUILD_REGISTRY_PASSWORD
    #[arg(long, value_name = "USER[:PASS]")]
    pub creds: Option<String>,

    /// Read registry credentials from this auth file (docker config.json or podman auth.json)
    #[arg(long, value_name = "PATH")]
    pub authfile: Option<PathBuf>,

    /// Where pulled blobs and built layers (in layers/) are cached [default:
    /// $XDG_CACHE_HOME/imgbuild]
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

/// The arguments of `imgbuild push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// The image on disk: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:TAG],
    /// a path, or -
    #[arg(value_name = "IMAGE", value_hint = clap::ValueHint::AnyPath)]
    pub image: String,

    /// Where to push it: [docker://]HOST/REPO:TAG (one or more)
    #[arg(value_name = "REF", required = true)]
    pub refs: Vec<String>,

    /// Print a JSON document of what was pushed instead of the digest
    #[arg(long)]
    pub json: bool,

    /// How registries are reached.
    #[command(flatten, next_help_heading = "Registry")]
    pub registry: RegistryArgs,
}
