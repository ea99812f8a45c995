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

use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};
use serde_json::{Map, Value};

use crate::digest::{decode_base64, encode_base64};
use crate::error::{Error, Result, UsageError, escape_bytes};

/// Files and helper answers are read up to this many bytes.
const MAX_READ: u64 = 1 << 20;

/// The key docker uses for Docker Hub in its config, and the server URL it gives helpers.
pub const DOCKER_HUB_SERVER: &str = "https://index.docker.io/v1/";

/// The names of Docker Hub (all mean the same registry).
const HUB_ALIASES: [&str; 3] = ["docker.io", "index.docker.io", "registry-1.docker.io"];

/// What a credential helper prints on stdout when it has nothing for the server.
const HELPER_NOT_FOUND: &str = "credentials not found in native keychain";

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

fn docker_config_file(env: &AuthEnv) -> Result<PathBuf> {
    env.docker_config_file().ok_or_else(|| {
        UsageError::new("cannot find the docker config: neither DOCKER_CONFIG nor HOME is set")
            .with_hint("set DOCKER_CONFIG, or pass --authfile PATH")
            .into()
    })
}

fn shown(path: &Path) -> String {
    escape_bytes(std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()))
}

/// The JSON object in `path`, or `None` when there is no such file. An empty file is an
/// empty object.
fn read_json(path: &Path) -> anyhow::Result<Option<Map<String, Value>>> {
    let reading = || format!("reading credentials from '{}'", shown(path));
    let file = match fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(reading),
    };
    if !file.metadata().with_context(reading)?.is_file() {
        bail!("'{}' is not a regular file", shown(path));
    }
    let mut raw = Vec::new();
    file.take(MAX_READ + 1)
        .read_to_end(&mut raw)
        .with_context(reading)?;
    if raw.len() as u64 > MAX_READ {
        bail!("'{}' is larger than 1 MiB", shown(path));
    }
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(Some(Map::new()));
    }
    match serde_json::from_slice::<Value>(&raw) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        Ok(_) => bail!("'{}' is not a JSON object", shown(path)),
        Err(e) => Err(e).with_context(|| format!("'{}' is not valid JSON", shown(path))),
    }
}

/// The credentials in the `auths` entry for `host`, if there is one with any.
fn from_auths(
    doc: &Map<String, Value>,
    host: &str,
    file: &Path,
) -> anyhow::Result<Option<Credentials>> {
    let Some(auths) = doc.get("auths") else {
        return Ok(None);
    };
    let Some(auths) = auths.as_object() else {
        bail!("'auths' in '{}' is not an object", shown(file));
    };
    let Some((key, entry)) = find_entry(auths, host) else {
        return Ok(None);
    };
    decode_entry(entry).with_context(|| {
        format!(
            "the entry for '{}' in '{}'",
            escape_bytes(key.as_bytes()),
            shown(file)
        )
    })
}

/// An `auths` entry: `identitytoken`, else `auth` (base64 `user:password`), else `username`
/// and `password`; `None` when it has none (docker writes `{}` beside a helper).
fn decode_entry(entry: &Value) -> anyhow::Result<Option<Credentials>> {
    let Some(entry) = entry.as_object() else {
        bail!("it is not an object");
    };
    let field = |name: &str| -> anyhow::Result<Option<&str>> {
        match entry.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => bail!("its '{name}' is not a string"),
        }
    };
    if let Some(token) = field("identitytoken")? {
        return Ok(Some(Credentials::identity_token(token)));
    }
    if let Some(auth) = field("auth")? {
        let decoded = decode_base64(auth.trim())
            .and_then(|b| String::from_utf8(b).ok())
            .context("its 'auth' is not base64 of UTF-8 text")?;
        let (user, password) = decoded
            .split_once(':')
            .context("its 'auth' is not base64 of USER:PASSWORD")?;
        return Ok(Some(Credentials::new(user, password)));
    }
    match (field("username")?, field("password")?) {
        (Some(u), Some(p)) => Ok(Some(Credentials::new(u, p))),
        _ => Ok(None),
    }
}

/// The non-empty string `doc[table][host]` (keys matched as registries are).
fn string_in(
    doc: &Map<String, Value>,
    table: &str,
    host: &str,
    file: &Path,
) -> anyhow::Result<Option<String>> {
    let Some(t) = doc.get(table) else {
        return Ok(None);
    };
    let Some(t) = t.as_object() else {
        bail!("'{table}' in '{}' is not an object", shown(file));
    };
    match find_entry(t, host) {
        None => Ok(None),
        Some((_, Value::String(s))) if s.is_empty() => Ok(None),
        Some((_, Value::String(s))) => Ok(Some(s.clone())),
        Some((k, _)) => bail!(
            "'{table}' entry '{}' in '{}' is not a string",
            escape_bytes(k.as_bytes()),
            shown(file)
        ),
    }
}

fn creds_store(doc: &Map<String, Value>, file: &Path) -> anyhow::Result<Option<String>> {
    match doc.get("credsStore") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => bail!("'credsStore' in '{}' is not a string", shown(file)),
    }
}

/// The helper that holds `host`'s credentials: `credHelpers[host]`, else `credsStore`.
fn helper_for(doc: &Map<String, Value>, host: &str, file: &Path) -> anyhow::Result<Option<String>> {
    match string_in(doc, "credHelpers", host, file)? {
        Some(name) => Ok(Some(name)),
        None => creds_store(doc, file),
    }
}

/// `docker-credential-NAME get` for `host`.
fn helper_get(name: &str, host: &str, env: &AuthEnv) -> anyhow::Result<Option<Credentials>> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Answer {
        username: String,
        secret: String,
    }
    let Some(out) = run_helper(name, "get", server_url(host).as_bytes(), env)? else {
        return Ok(None);
    };
    let answer: Answer = serde_json::from_slice(&out).map_err(|_| {
        anyhow::anyhow!(
            "credential helper 'docker-credential-{}' answered get with something other than \
             JSON with Username and Secret",
            escape_bytes(name.as_bytes())
        )
    })?;
    if answer.secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credentials::new(answer.username, answer.secret)))
}

/// Find `docker-credential-NAME` in the absolute directories of `env.path` (the process's
/// `PATH` when unset). The name comes from a file, so it must be a plain name.
fn helper_program(name: &str, env: &AuthEnv) -> anyhow::Result<PathBuf> {
    let program = format!("docker-credential-{name}");
    if name.is_empty() || name.contains(['/', '\0']) || name.starts_with('-') {
        bail!(
            "credential helper name '{}' is not a plain name",
            escape_bytes(name.as_bytes())
        );
    }
    let path = env
        .path
        .clone()
        .or_else(|| std::env::var_os("PATH"))
        .unwrap_or_default();
    std::env::split_paths(&path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(&program))
        .find(|p| fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
        .with_context(|| {
            format!(
                "credential helper '{}' was not found in PATH",
                escape_bytes(program.as_bytes())
            )
        })
}

/// Run `docker-credential-NAME ACTION` with `input` on stdin: its stdout, or `None` when it
/// says it has no credentials for the server. A failure names the helper and shows its
/// stderr, never its stdout.
fn run_helper(
    name: &str,
    action: &str,
    input: &[u8],
    env: &AuthEnv,
) -> anyhow::Result<Option<Vec<u8>>> {
    let program = helper_program(name, env)?;
    let shown_name = format!("docker-credential-{}", escape_bytes(name.as_bytes()));
    let running = || format!("running credential helper '{shown_name} {action}'");
    let mut cmd = Command::new(&program);
    cmd.arg(action)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(path) = &env.path {
        cmd.env("PATH", path);
    }
    let mut child = cmd.spawn().with_context(running)?;
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let (out, err) = std::thread::scope(|s| {
        let writer = s.spawn(move || {
            if let Some(mut w) = stdin {
                // A helper that exits without reading gives EPIPE: its status says more.
                let _ = w.write_all(input);
            }
        });
        let err = s.spawn(move || read_capped(stderr, 64 << 10));
        let out = read_capped(stdout, MAX_READ + 1);
        let _ = writer.join();
        (out, err.join().unwrap_or_default())
    });
    let status = child.wait().with_context(running)?;
    if status.success() {
        if out.len() as u64 > MAX_READ {
            bail!("credential helper '{shown_name}' printed more than 1 MiB");
        }
        return Ok(Some(out));
    }
    if String::from_utf8_lossy(&out).trim() == HELPER_NOT_FOUND {
        return Ok(None);
    }
    let stderr = String::from_utf8_lossy(&err);
    let stderr = stderr.trim();
    if stderr.is_empty() {
        bail!("credential helper '{shown_name} {action}' failed ({status})");
    }
    bail!("credential helper '{shown_name} {action}' failed ({status}): {stderr}")
}

fn read_capped(r: Option<impl Read>, cap: u64) -> Vec<u8> {
    let mut buf = Vec::new();
    if let Some(r) = r {
        let mut r = r.take(cap);
        let _ = r.read_to_end(&mut buf);
        // Drain the rest, so the helper never blocks on a full pipe.
        let _ = io::copy(&mut r.into_inner(), &mut io::sink());
    }
    buf
}

/// The `auths` object of a config, created when missing.
fn auths_mut<'a>(
    map: &'a mut Map<String, Value>,
    file: &Path,
) -> anyhow::Result<&'a mut Map<String, Value>> {
    map.entry("auths")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .with_context(|| format!("'auths' in '{}' is not an object", shown(file)))
}

/// Apply `change` to the JSON object in `path` (an empty one when the file is missing) and,
/// when it says it changed something, write it back atomically: a temporary file beside it
/// with mode 0600, fsync, rename, fsync of the directory (created 0700 when missing). A
/// symbolic link at `path` is followed and stays a link.
fn update_file(
    path: &Path,
    change: impl FnOnce(&mut Map<String, Value>) -> anyhow::Result<bool>,
) -> anyhow::Result<bool> {
    let (real, _) = crate::sink::output::resolve(path)?;
    let mut doc = read_json(&real)?.unwrap_or_default();
    if !change(&mut doc)? {
        return Ok(false);
    }
    let writing = || format!("writing '{}'", shown(path));
    let dir = match real.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("creating directory '{}'", shown(&dir)))?;
    let mut bytes = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut bytes,
        serde_json::ser::PrettyFormatter::with_indent(b"\t"),
    );
    serde::Serialize::serialize(&Value::Object(doc), &mut ser).with_context(writing)?;
    bytes.push(b'\n');
    let name = real
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config.json".into());
    let mut tmp = crate::sink::output::temp_in(&dir, &format!(".{name}.imgbuild-"), 0o600)
        .with_context(|| format!("cannot write to '{}'", shown(&dir)))?;
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(0o600))
        .with_context(writing)?;
    tmp.write_all(&bytes).with_context(writing)?;
    tmp.as_file().sync_all().with_context(writing)?;
    tmp.persist(&real).with_context(writing)?;
    crate::store::sync_dir(&dir)?;
    Ok(true)
}

#[cfg(test)]
mod tests;
