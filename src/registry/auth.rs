//! Registry credentials: where they are found, and how `login` and `logout` store and remove
//! them, following the conventions users know from docker and podman.
//!
//! [`lookup`] tries, first hit wins: the explicit [`AuthOptions::creds`] (`--creds`); the
//! `--authfile`; `$REGISTRY_AUTH_FILE`; `$XDG_RUNTIME_DIR/containers/auth.json`; then the docker
//! config (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`): its `credHelpers`
//! entry for the host (`docker-credential-NAME get`), its `auths` entry, its `credsStore`.
//!
//! Every file is untrusted input: a missing one is skipped, one larger than 1 MiB, unreadable or
//! malformed is an error naming it. A credential helper that fails is an error naming it and
//! showing its stderr, never its stdout (which may hold a secret). No password ever appears in a
//! message or in `Debug` output.
//!
//! The files are parsed here, not by the `docker_credential` crate: it reads only the process's
//! own environment, runs helpers from the process's `PATH`, cannot `store` or `erase`, and its
//! helper error shows the helper's stdout.

mod file;
mod helper;

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::digest::encode_base64;
use crate::error::{Error, Result, UsageError, escape_bytes};

use file::{auths_mut, docker_config_file, from_auths, read_json, string_in, update_file};
use helper::{creds_store, helper_for, helper_get, run_helper};

/// The key docker uses for Docker Hub in its config, and the server URL it gives helpers.
pub const DOCKER_HUB_SERVER: &str = "https://index.docker.io/v1/";

/// The names of Docker Hub (all mean the same registry).
const HUB_ALIASES: [&str; 3] = ["docker.io", "index.docker.io", "registry-1.docker.io"];

/// A user name and password (or token), for a registry.
///
/// An identity token (docker's `identitytoken`, an OAuth refresh token) is held with the user
/// name [`Credentials::TOKEN_USER`] and the token as the password, as credential helpers
/// return it. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name, or [`Credentials::TOKEN_USER`] for an identity token.
    pub username: String,
    /// The password, a personal access token, or the identity token.
    pub password: String,
}

impl Credentials {
    /// The user name that marks an identity token (docker's convention).
    pub const TOKEN_USER: &'static str = "<token>";

    /// A user name and password.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }

    /// An identity token.
    pub fn identity_token(token: impl Into<String>) -> Credentials {
        Credentials::new(Credentials::TOKEN_USER, token)
    }

    /// The identity token, when these credentials are one.
    pub fn token(&self) -> Option<&str> {
        (self.username == Credentials::TOKEN_USER).then_some(self.password.as_str())
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.token().is_some() {
            f.debug_tuple("IdentityToken").field(&"***").finish()
        } else {
            f.debug_struct("Credentials")
                .field("username", &self.username)
                .field("password", &"***")
                .finish()
        }
    }
}

/// Where to look for credentials, as plain data (the CLI fills it from flags and the
/// environment).
#[derive(Debug, Clone, Default)]
pub struct AuthOptions {
    /// Credentials given explicitly (`--creds USER:PASS`): used before anything else.
    pub creds: Option<Credentials>,
    /// A podman-style `auth.json` given explicitly (`--authfile`): read first of the files;
    /// `login` and `logout` write it instead of the docker config.
    pub auth_file: Option<PathBuf>,
    /// The environment that locates the other files and the credential helpers.
    pub env: AuthEnv,
}

/// The environment variables credential lookup depends on. [`AuthEnv::from_process_env`]
/// reads them; tests and programs can build one by hand.
#[derive(Debug, Clone, Default)]
pub struct AuthEnv {
    /// `$DOCKER_CONFIG`: the directory holding docker's `config.json`.
    pub docker_config: Option<PathBuf>,
    /// `$REGISTRY_AUTH_FILE`: podman's auth file.
    pub registry_auth_file: Option<PathBuf>,
    /// `$XDG_RUNTIME_DIR`: podman's default auth file is `containers/auth.json` in it.
    pub xdg_runtime_dir: Option<PathBuf>,
    /// `$HOME`: docker's default config is `.docker/config.json` in it.
    pub home: Option<PathBuf>,
    /// `$PATH`, searched for `docker-credential-NAME` helpers and handed to them.
    pub path: Option<OsString>,
}

impl AuthEnv {
    /// The environment of this process (variables that are unset or empty are `None`).
    pub fn from_process_env() -> AuthEnv {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        AuthEnv {
            docker_config: var("DOCKER_CONFIG").map(PathBuf::from),
            registry_auth_file: var("REGISTRY_AUTH_FILE").map(PathBuf::from),
            xdg_runtime_dir: var("XDG_RUNTIME_DIR").map(PathBuf::from),
            home: var("HOME").map(PathBuf::from),
            path: var("PATH"),
        }
    }

    /// Docker's config file: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
    pub fn docker_config_file(&self) -> Option<PathBuf> {
        match (&self.docker_config, &self.home) {
            (Some(dir), _) => Some(dir.join("config.json")),
            (None, Some(home)) => Some(home.join(".docker").join("config.json")),
            (None, None) => None,
        }
    }

    /// The podman-style auth files, in the order they are read.
    fn podman_files(&self) -> impl Iterator<Item = PathBuf> + '_ {
        self.registry_auth_file.iter().cloned().chain(
            self.xdg_runtime_dir
                .iter()
                .map(|d| d.join("containers").join("auth.json")),
        )
    }
}

/// Where [`login`] stored the credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// In this file (`auths` of a docker config or an auth.json).
    File(PathBuf),
    /// In this credential helper (`docker-credential-NAME`).
    Helper(String),
}

impl fmt::Display for Stored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stored::File(p) => write!(f, "{}", p.display()),
            Stored::Helper(name) => write!(f, "credential helper docker-credential-{name}"),
        }
    }
}

/// Parse `--creds`: `USER:PASSWORD`, or `USER` with the password in `env_password`
/// (`IMGBUILD_REGISTRY_PASSWORD`). A usage error otherwise, which never repeats the value.
pub fn parse_creds(value: &str, env_password: Option<String>) -> Result<Credentials> {
    let usage = |what: &str| {
        Error::from(
            UsageError::new(format!("--creds {what}"))
                .with_hint("pass --creds USER:PASSWORD, or --creds USER with the password in IMGBUILD_REGISTRY_PASSWORD"),
        )
    };
    let (user, password) = match value.split_once(':') {
        Some((user, password)) => (user, password.to_owned()),
        None => match env_password.filter(|p| !p.is_empty()) {
            Some(p) => (value, p),
            None => return Err(usage("has no password")),
        },
    };
    if user.is_empty() {
        return Err(usage("has an empty user name"));
    }
    if password.is_empty() {
        return Err(usage("has an empty password"));
    }
    Ok(Credentials::new(user, password))
}

/// The registry a host argument or config key names: the scheme and any path removed
/// (`https://ghcr.io/v2/` → `ghcr.io`); every name of Docker Hub becomes `docker.io`.
pub fn registry_host(name: &str) -> String {
    let rest = name
        .strip_prefix("https://")
        .or_else(|| name.strip_prefix("http://"))
        .unwrap_or(name);
    let host = rest.split('/').next().unwrap_or(rest);
    if HUB_ALIASES.contains(&host) {
        "docker.io".to_owned()
    } else {
        host.to_owned()
    }
}

/// The key `login` writes and the server URL a helper is given: docker's for Docker Hub,
/// else the host.
fn server_url(host: &str) -> String {
    if host == "docker.io" {
        DOCKER_HUB_SERVER.to_owned()
    } else {
        host.to_owned()
    }
}

/// The entry of `map` for `host` (already through [`registry_host`]): the key `login`
/// writes, the bare host, then any key that names the same registry (first in key order).
fn find_entry<'a>(map: &'a Map<String, Value>, host: &str) -> Option<(&'a String, &'a Value)> {
    [server_url(host), host.to_owned()]
        .iter()
        .find_map(|k| map.get_key_value(k.as_str()))
        .or_else(|| map.iter().find(|(k, _)| registry_host(k) == host))
}

/// The credentials for `host`, from the first source that has some (see the module doc),
/// or `None`.
pub fn lookup(host: &str, opts: &AuthOptions) -> Result<Option<Credentials>> {
    if let Some(c) = &opts.creds {
        return Ok(Some(c.clone()));
    }
    let host = registry_host(host);
    let files = opts
        .auth_file
        .iter()
        .cloned()
        .chain(opts.env.podman_files());
    for file in files {
        if let Some(doc) = read_json(&file)? {
            if let Some(c) = from_auths(&doc, &host, &file)? {
                return Ok(Some(c));
            }
        }
    }
    let Some(file) = opts.env.docker_config_file() else {
        return Ok(None);
    };
    let Some(doc) = read_json(&file)? else {
        return Ok(None);
    };
    if let Some(name) = string_in(&doc, "credHelpers", &host, &file)? {
        if let Some(c) = helper_get(&name, &host, &opts.env)? {
            return Ok(Some(c));
        }
    }
    if let Some(c) = from_auths(&doc, &host, &file)? {
        return Ok(Some(c));
    }
    if let Some(name) = creds_store(&doc, &file)? {
        return Ok(helper_get(&name, &host, &opts.env)?);
    }
    Ok(None)
}

/// Store `creds` for `host`: in the `--authfile` when one is given; else through the docker
/// config's credential helper for the host or its `credsStore` when it names one (as docker
/// does); else in the docker config's `auths` (base64 `user:password`), written atomically
/// with mode 0600, every other key kept. The registry is not contacted.
pub fn login(host: &str, creds: &Credentials, opts: &AuthOptions) -> Result<Stored> {
    let host = checked_host(host)?;
    let entry = match creds.token() {
        Some(token) => serde_json::json!({ "identitytoken": token }),
        None => serde_json::json!({
            "auth": encode_base64(format!("{}:{}", creds.username, creds.password).as_bytes())
        }),
    };
    let key = server_url(&host);
    let store_in = |file: &Path| -> Result<Stored> {
        update_file(file, |map| {
            auths_mut(map, file)?.insert(key.clone(), entry.clone());
            Ok(true)
        })?;
        Ok(Stored::File(file.to_path_buf()))
    };
    if let Some(file) = &opts.auth_file {
        return store_in(file);
    }
    let file = docker_config_file(&opts.env)?;
    if let Some(doc) = read_json(&file)? {
        if let Some(name) = helper_for(&doc, &host, &file)? {
            let input = serde_json::json!({
                "ServerURL": key,
                "Username": creds.username,
                "Secret": creds.password,
            });
            run_helper(&name, "store", input.to_string().as_bytes(), &opts.env)?;
            return Ok(Stored::Helper(name));
        }
    }
    store_in(&file)
}

/// Remove the stored credentials for `host` (every key naming it): from the `--authfile`
/// when one is given, else from the docker config and, when it names one for the host, its
/// credential helper (`erase`). True when something was removed.
pub fn logout(host: &str, opts: &AuthOptions) -> Result<bool> {
    let host = checked_host(host)?;
    let remove_from = |file: &Path| -> Result<bool> {
        Ok(update_file(file, |map| {
            let Some(auths) = map.get_mut("auths").and_then(Value::as_object_mut) else {
                return Ok(false);
            };
            let before = auths.len();
            auths.retain(|k, _| registry_host(k) != host);
            Ok(auths.len() != before)
        })?)
    };
    if let Some(file) = &opts.auth_file {
        return remove_from(file);
    }
    let file = docker_config_file(&opts.env)?;
    let Some(doc) = read_json(&file)? else {
        return Ok(false);
    };
    let mut removed = false;
    if let Some(name) = helper_for(&doc, &host, &file)? {
        removed = run_helper(&name, "erase", server_url(&host).as_bytes(), &opts.env)?.is_some();
    }
    Ok(remove_from(&file)? || removed)
}

fn checked_host(host: &str) -> Result<String> {
    let h = registry_host(host);
    if h.is_empty() || h.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(UsageError::new(format!(
            "'{}' is not a registry host",
            escape_bytes(host.as_bytes())
        ))
        .with_hint("name the registry as HOST or HOST:PORT, for example ghcr.io or localhost:5000")
        .into());
    }
    Ok(h)
}

#[cfg(test)]
mod tests;
