//! The registry flags (`--insecure-registry`, `--tls-verify`, `--ca-cert`, `--creds`,
//! `--authfile`, `--cache-dir`) and the environment (`SSL_CERT_FILE`, `SSL_CERT_DIR`,
//! `IMGBUILD_REGISTRY_PASSWORD`, `XDG_CACHE_HOME`, `HOME`, and the credential files'
//! variables) turned into [`RegistryOptions`].

use std::path::PathBuf;

use anyhow::Result;

use crate::cli::RegistryArgs;
use crate::error::UsageError;
use crate::registry::auth::{self, AuthEnv, AuthOptions};
use crate::registry::{RegistryOptions, tls};

/// What the registry options read from the environment; [`RegistryEnv::from_process`]
/// reads it, tests make their own.
#[derive(Debug, Clone, Default)]
pub struct RegistryEnv {
    /// `SSL_CERT_FILE`.
    pub ssl_cert_file: Option<PathBuf>,
    /// `SSL_CERT_DIR`.
    pub ssl_cert_dir: Option<PathBuf>,
    /// `IMGBUILD_REGISTRY_PASSWORD`, the password for `--creds USER`.
    pub password: Option<String>,
    /// `XDG_CACHE_HOME`.
    pub xdg_cache_home: Option<PathBuf>,
    /// `HOME`.
    pub home: Option<PathBuf>,
    /// Where credential files are looked for.
    pub auth: AuthEnv,
}

impl RegistryEnv {
    /// The process's environment.
    pub fn from_process() -> RegistryEnv {
        let path = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        RegistryEnv {
            ssl_cert_file: path("SSL_CERT_FILE"),
            ssl_cert_dir: path("SSL_CERT_DIR"),
            password: std::env::var("IMGBUILD_REGISTRY_PASSWORD").ok(),
            xdg_cache_home: path("XDG_CACHE_HOME"),
            home: path("HOME"),
            auth: AuthEnv::from_process_env(),
        }
    }
}

/// Check the registry flags and fill [`RegistryOptions`].
pub fn registry_options(args: &RegistryArgs, env: RegistryEnv) -> Result<RegistryOptions> {
    for host in &args.insecure_registry {
        if host.is_empty() || host.contains('/') || host.contains("://") {
            return Err(UsageError::new(format!(
                "invalid --insecure-registry '{host}': expected HOST or HOST:PORT"
            ))
            .with_hint("for example --insecure-registry registry.local:5000")
            .into());
        }
    }
    let creds = match &args.creds {
        Some(v) => Some(auth::parse_creds(v, env.password.clone())?),
        None => None,
    };
    let cache_dir = args.cache_dir.clone().unwrap_or_else(|| {
        RegistryOptions::default_cache_dir(env.xdg_cache_home.clone(), env.home.clone())
    });
    let auth = AuthOptions {
        creds,
        auth_file: args.authfile.clone(),
        env: env.auth,
    };
    let mut opts = RegistryOptions::new(auth, cache_dir);
    opts.insecure = args.insecure_registry.clone();
    opts.tls_verify = args.tls_verify;
    opts.ca_certs = args.ca_cert.clone();
    opts.ca_certs.extend(env.ssl_cert_file);
    if let Some(dir) = &env.ssl_cert_dir {
        opts.ca_certs.extend(tls::files_of_dir(dir));
    }
    Ok(opts)
}
