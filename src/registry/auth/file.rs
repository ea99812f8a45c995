//! The config files: docker's `config.json` and podman-style `auth.json`, read as untrusted
//! input and written atomically.

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde_json::{Map, Value};

use super::{AuthEnv, Credentials, find_entry};
use crate::digest::decode_base64;
use crate::error::{Result, UsageError, escape_bytes};

/// Files and helper answers are read up to this many bytes.
pub(super) const MAX_READ: u64 = 1 << 20;

pub(super) fn docker_config_file(env: &AuthEnv) -> Result<PathBuf> {
    env.docker_config_file().ok_or_else(|| {
        UsageError::new("cannot find the docker config: neither DOCKER_CONFIG nor HOME is set")
            .with_hint("set DOCKER_CONFIG, or pass --authfile PATH")
            .into()
    })
}

pub(super) fn shown(path: &Path) -> String {
    escape_bytes(std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()))
}

/// The JSON object in `path`, or `None` when there is no such file. An empty file is an
/// empty object.
pub(super) fn read_json(path: &Path) -> anyhow::Result<Option<Map<String, Value>>> {
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
pub(super) fn from_auths(
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
pub(super) fn string_in(
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

/// The `auths` object of a config, created when missing.
pub(super) fn auths_mut<'a>(
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
pub(super) fn update_file(
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
