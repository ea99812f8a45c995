//! What went wrong talking to a registry, in one line that names the host, repository and
//! step, with a hint for what the user can do; and which failures are worth a retry.

use std::error::Error as _;

use oci_client::errors::{OciDistributionError, OciErrorCode};

/// One step of talking to a registry, for messages.
#[derive(Debug, Clone)]
pub struct Step {
    /// `resolve`, `auth`, `blob upload of sha256:…`, `manifest`…
    pub what: String,
    /// `HOST`.
    pub host: String,
    /// The repository.
    pub repository: String,
}

impl Step {
    fn place(&self) -> String {
        format!("{}/{}", self.host, self.repository)
    }
}

/// The message and hint for `err` during `step`. `insecure_ok`: plain HTTP is allowed for
/// this host (so a hint to allow it makes no sense).
pub fn explain(
    err: &OciDistributionError,
    step: &Step,
    insecure_ok: bool,
) -> (String, Option<String>) {
    let place = step.place();
    let what = &step.what;
    let login = format!(
        "check the credentials: imgbuild login {}, or --creds USER:PASS",
        step.host
    );
    match err {
        OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_) => (
            format!("{place}: {what}: not authorized (401)"),
            Some(login),
        ),
        OciDistributionError::ServerError { code, message, .. } => {
            let (text, hint) = status_text(*code, &step.host);
            let detail = short(message);
            let msg = if detail.is_empty() {
                format!("{place}: {what}: {text}")
            } else {
                format!("{place}: {what}: {text}: {detail}")
            };
            (msg, hint)
        }
        OciDistributionError::RegistryError { envelope, .. } => {
            let codes: Vec<String> = envelope
                .errors
                .iter()
                .map(|e| format!("{} ({})", short(&e.message), code_name(&e.code)))
                .collect();
            let hint = envelope.errors.iter().find_map(|e| match e.code {
                OciErrorCode::Unauthorized | OciErrorCode::Denied => Some(login.clone()),
                OciErrorCode::ManifestUnknown
                | OciErrorCode::NameUnknown
                | OciErrorCode::NotFound => Some("check the repository and tag".to_owned()),
                _ => None,
            });
            (format!("{place}: {what}: {}", codes.join("; ")), hint)
        }
        OciDistributionError::ImageManifestNotFoundError(_) => (
            format!("{place}: {what}: not found"),
            Some("check the repository and tag".into()),
        ),
        OciDistributionError::RequestError(e) => {
            request_error(e, &place, what, &step.host, insecure_ok)
        }
        other => (format!("{place}: {what}: {other}"), None),
    }
}

fn status_text(code: u16, host: &str) -> (String, Option<String>) {
    match code {
        401 => (
            "not authorized (401)".into(),
            Some(format!(
                "check the credentials: imgbuild login {host}, or --creds USER:PASS"
            )),
        ),
        403 => (
            "denied (403)".into(),
            Some("the credentials lack the permission (push needs write access)".into()),
        ),
        404 => (
            "not found (404)".into(),
            Some("check the repository and tag".into()),
        ),
        413 => (
            "the request is too large for the registry (413)".into(),
            None,
        ),
        429 => (
            "too many requests (429)".into(),
            Some("try again later".into()),
        ),
        c => (format!("the registry answered {c}"), None),
    }
}

fn request_error(
    e: &reqwest::Error,
    place: &str,
    what: &str,
    host: &str,
    insecure_ok: bool,
) -> (String, Option<String>) {
    if let Some(status) = e.status() {
        let (text, hint) = status_text(status.as_u16(), host);
        return (format!("{place}: {what}: {text}"), hint);
    }
    let chain = chain_text(e);
    let lower = chain.to_lowercase();
    if lower.contains("certificate") || lower.contains("ssl") || lower.contains("tls") {
        let hint = if lower.contains("wrong version number") || lower.contains("http response") {
            if insecure_ok {
                None
            } else {
                Some(format!(
                    "the registry speaks plain HTTP: allow it with --insecure-registry {host}"
                ))
            }
        } else {
            Some(format!(
                "trust its CA with --ca-cert FILE (or /etc/containers/certs.d/{host}/ca.crt), or skip verification with --tls-verify=false"
            ))
        };
        return (format!("{place}: {what}: TLS failed: {chain}"), hint);
    }
    if e.is_connect() {
        let hint = if lower.contains("dns") || lower.contains("resolve") || lower.contains("name") {
            Some(format!("check the host name '{host}'"))
        } else {
            Some(format!("is the registry running at {host}?"))
        };
        let cause = root_cause(e);
        return (format!("{place}: {what}: cannot connect: {cause}"), hint);
    }
    if e.is_timeout() {
        return (format!("{place}: {what}: timed out"), None);
    }
    (format!("{place}: {what}: {chain}"), None)
}

/// Whether a failed request may succeed when tried again: 408, 429, 5xx, a reset or closed
/// connection, a timeout.
pub fn retryable(err: &OciDistributionError) -> bool {
    match err {
        OciDistributionError::ServerError { code, .. } => {
            *code == 408 || *code == 429 || (500..600).contains(code)
        }
        OciDistributionError::RegistryError { envelope, .. } => envelope
            .errors
            .iter()
            .any(|e| matches!(e.code, OciErrorCode::Toomanyrequests)),
        OciDistributionError::RequestError(e) => {
            if let Some(status) = e.status() {
                let code = status.as_u16();
                return code == 408 || code == 429 || (500..600).contains(&code);
            }
            if e.is_timeout() {
                return true;
            }
            let lower = chain_text(e).to_lowercase();
            !lower.contains("certificate")
                && (e.is_request()
                    || e.is_body()
                    || lower.contains("reset")
                    || lower.contains("closed"))
                && !lower.contains("connection refused")
        }
        OciDistributionError::IoError(_) => true,
        _ => false,
    }
}

/// The innermost cause: "Connection refused (os error 111)".
fn root_cause(e: &reqwest::Error) -> String {
    let mut last = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        last = c.to_string();
        cur = c.source();
    }
    last
}

fn chain_text(e: &reqwest::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(c) = cur {
        let s = c.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = c.source();
    }
    parts.join(": ")
}

fn code_name(c: &OciErrorCode) -> String {
    format!("{c:?}").to_uppercase()
}

/// A registry's error text, trimmed to one short line.
fn short(s: &str) -> String {
    let line = s.lines().next().unwrap_or("").trim();
    let mut out: String = line.chars().take(200).collect();
    if line.chars().count() > 200 {
        out.push('…');
    }
    out
}
