//! Credential helpers: the `docker-credential-NAME` programs a docker config names, run with
//! a capped, never-shown stdout.

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};
use serde_json::{Map, Value};

use super::file::{MAX_READ, shown, string_in};
use super::{AuthEnv, Credentials, server_url};
use crate::error::escape_bytes;

/// What a credential helper prints on stdout when it has nothing for the server.
const HELPER_NOT_FOUND: &str = "credentials not found in native keychain";

pub(super) fn creds_store(doc: &Map<String, Value>, file: &Path) -> anyhow::Result<Option<String>> {
    match doc.get("credsStore") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => bail!("'credsStore' in '{}' is not a string", shown(file)),
    }
}

/// The helper that holds `host`'s credentials: `credHelpers[host]`, else `credsStore`.
pub(super) fn helper_for(
    doc: &Map<String, Value>,
    host: &str,
    file: &Path,
) -> anyhow::Result<Option<String>> {
    match string_in(doc, "credHelpers", host, file)? {
        Some(name) => Ok(Some(name)),
        None => creds_store(doc, file),
    }
}

/// `docker-credential-NAME get` for `host`.
pub(super) fn helper_get(
    name: &str,
    host: &str,
    env: &AuthEnv,
) -> anyhow::Result<Option<Credentials>> {
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
pub(super) fn run_helper(
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
