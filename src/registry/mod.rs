//! Talking to OCI registries: references, credentials, transport, pull and push.
//!
//! A registry is one more image source ([`source::RegistrySource`]: manifests and blobs
//! pulled into a content-addressed cache, verified, then read like any image) and one more
//! destination ([`dest::RegistryDest`]: blobs staged, then pushed, manifests last). The
//! protocol is `oci-client`'s (on tokio and reqwest with native-tls); what it leaves out is
//! here: credentials from docker and podman files ([`auth`]), trust from `--ca-cert`,
//! `SSL_CERT_FILE` and `certs.d` ([`tls`]), plain HTTP only for hosts the user names or
//! loopback ones, retries, and messages that name the host, repository and step.
//!
//! Nothing here runs until a registry is used: the runtime and the HTTP clients are made on
//! first use, so a local build pays for none of it.

pub mod auth;
mod client;
pub mod dest;
mod errors;
mod probe;
pub mod source;
pub mod tls;
mod transfer;

use std::path::PathBuf;

pub use self::client::{PARALLEL_UPLOADS, Registry};
pub use oci_client::Reference;

/// How registries are reached: plain data the command line fills from its flags and the
/// environment (see [`RegistryOptions::new`] for the defaults).
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// Hosts (`HOST` or `HOST:PORT`) that may be reached over plain HTTP when they do not
    /// speak HTTPS (`--insecure-registry`). Loopback hosts (`localhost`, 127.0.0.0/8,
    /// `[::1]`) always may, as with Docker. Any other host is HTTPS only.
    pub insecure: Vec<String>,
    /// Verify TLS certificates; `false` accepts any certificate (`--tls-verify=false`).
    pub tls_verify: bool,
    /// Trusted CA certificates (PEM files) on top of the system's: `--ca-cert`,
    /// `SSL_CERT_FILE`, the files of `SSL_CERT_DIR`.
    pub ca_certs: Vec<PathBuf>,
    /// Directories of per-host trust, `DIR/HOST[:PORT]/*.crt` (podman's
    /// `/etc/containers/certs.d`, Docker's `/etc/docker/certs.d`).
    pub certs_dirs: Vec<PathBuf>,
    /// Where credentials come from.
    pub auth: auth::AuthOptions,
    /// The cache of pulled blobs (`blobs/sha256/…` under it).
    pub cache_dir: PathBuf,
}

impl RegistryOptions {
    /// HTTPS with verification, the system's roots and the standard `certs.d`
    /// directories, credentials from `auth`, blobs cached under `cache_dir`.
    pub fn new(auth: auth::AuthOptions, cache_dir: PathBuf) -> RegistryOptions {
        RegistryOptions {
            insecure: Vec::new(),
            tls_verify: true,
            ca_certs: Vec::new(),
            certs_dirs: vec![
                PathBuf::from("/etc/containers/certs.d"),
                PathBuf::from("/etc/docker/certs.d"),
            ],
            auth,
            cache_dir,
        }
    }

    /// The cache directory by the XDG rules: `$XDG_CACHE_HOME/imgbuild`, else
    /// `$HOME/.cache/imgbuild`, else a directory under the system's temporary directory.
    pub fn default_cache_dir(xdg_cache_home: Option<PathBuf>, home: Option<PathBuf>) -> PathBuf {
        match (xdg_cache_home, home) {
            (Some(x), _) if x.is_absolute() => x.join("imgbuild"),
            (_, Some(h)) if h.is_absolute() => h.join(".cache").join("imgbuild"),
            _ => std::env::temp_dir().join("imgbuild-cache"),
        }
    }
}

/// Whether `host` (`HOST` or `HOST:PORT`) is a loopback host, which may use plain HTTP.
pub fn is_loopback(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_recognised() {
        for h in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:5000",
            "127.1.2.3",
            "[::1]:80",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in [
            "example.com",
            "10.0.0.1:5000",
            "gitea.cnoe.localtest.me:8443",
            "[::2]",
        ] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn the_cache_follows_xdg() {
        let c = RegistryOptions::default_cache_dir(Some("/x".into()), Some("/h".into()));
        assert_eq!(c, PathBuf::from("/x/imgbuild"));
        let c = RegistryOptions::default_cache_dir(Some("rel".into()), Some("/h".into()));
        assert_eq!(c, PathBuf::from("/h/.cache/imgbuild"));
    }
}
