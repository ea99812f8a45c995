//! `Registry`: Debian's `docker-registry` (distribution 2.8) on 127.0.0.1, storage in a temp
//! dir, killed and reaped on Drop. Its access log (one Apache combined-format line per request)
//! goes to stdout and its application log to stderr; both land in files that `log()` reads.

use super::certs::{self, CertPair};
use super::http::http_request;
use super::token::TokenServer;
use std::fs::{self, File};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The user and password of the htpasswd and token-with-credentials kinds.
pub const USER: &str = "imgbuild";
pub const PASSWORD: &str = "s3cret-pass";
/// The `service` the token kinds announce in their Bearer challenge.
pub const SERVICE: &str = "imgbuild-test-registry";

/// What kind of registry to start.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    /// Plain HTTP, no auth.
    Plain,
    /// TLS with a self-signed certificate that is its own CA; see `ca_cert()`.
    Tls,
    /// TLS and htpasswd basic auth; see `creds()`.
    TlsBasic,
    /// Plain HTTP, Bearer challenge (`auth.silly`) pointing at a [`TokenServer`] that hands
    /// a token to anyone.
    Token,
    /// As `Token`, but the token server wants basic credentials; see `creds()`.
    TokenBasic,
}

impl Kind {
    fn tls(self) -> bool {
        matches!(self, Kind::Tls | Kind::TlsBasic)
    }
}

/// A running registry.
pub struct Registry {
    kind: Kind,
    port: u16,
    child: Option<Child>,
    dir: TempDir,
    cert: Option<CertPair>,
    token: Option<TokenServer>,
}

impl Registry {
    /// Starts a registry of `kind` and waits (up to 20 s) until it answers `GET /v2/`; panics
    /// with its log on failure. Call [`super::require_registry`] first to skip when missing.
    pub fn start(kind: Kind) -> Registry {
        Registry::start_at(kind, None).unwrap_or_else(|log| panic!("{log}"))
    }

    /// As [`Registry::start`], on `127.0.0.1:PORT`; Err(the log) when that port is taken (for
    /// documented commands naming `localhost:5000`).
    pub fn start_on(kind: Kind, port: u16) -> Result<Registry, String> {
        Registry::start_at(kind, Some(port))
    }

    fn start_at(kind: Kind, fixed: Option<u16>) -> Result<Registry, String> {
        let dir = tempfile::Builder::new()
            .prefix("imgbuild-registry-")
            .tempdir()
            .unwrap();
        let cert = kind.tls().then(|| certs::self_signed_ca_cert(dir.path()));
        let creds = (USER.to_string(), PASSWORD.to_string());
        let token = match kind {
            Kind::Token => Some(TokenServer::start(None)),
            Kind::TokenBasic => Some(TokenServer::start(Some(creds))),
            _ => None,
        };
        if kind == Kind::TlsBasic {
            certs::write_htpasswd(&dir.path().join("htpasswd"), USER, PASSWORD);
        }
        let port = fixed.unwrap_or_else(super::free_port);
        let mut reg = Registry {
            kind,
            port,
            child: None,
            dir,
            cert,
            token,
        };
        // The free port may be taken by someone else before the registry binds it: retry.
        for _ in 0..5 {
            let config = reg.dir.path().join("config.yml");
            fs::write(&config, reg.config()).unwrap();
            reg.spawn(&config);
            match reg.wait_ready(Duration::from_secs(20)) {
                Ok(()) => return Ok(reg),
                Err(log) if log.contains("address already in use") && fixed.is_none() => {
                    reg.port = super::free_port();
                }
                Err(log) => return Err(log),
            }
        }
        Err(format!(
            "docker-registry found no free port:\n{}",
            reg.log()
        ))
    }

    fn config(&self) -> String {
        let root = self.dir.path();
        let mut y = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             http:\n  addr: 127.0.0.1:{}\n  secret: imgbuild-test-secret\n",
            root.join("data").display(),
            self.port
        );
        if let Some(c) = &self.cert {
            let (cert, key) = (c.cert.display(), c.key.display());
            y.push_str(&format!(
                "  tls:\n    certificate: {cert}\n    key: {key}\n"
            ));
        }
        if self.kind == Kind::TlsBasic {
            let file = root.join("htpasswd");
            y.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: imgbuild-test\n    path: {}\n",
                file.display()
            ));
        }
        if let Some(t) = &self.token {
            let realm = t.realm();
            y.push_str(&format!(
                "auth:\n  silly:\n    realm: {realm}\n    service: {SERVICE}\n"
            ));
        }
        y
    }

    fn spawn(&mut self, config: &Path) {
        let out = File::create(self.dir.path().join("stdout.log")).unwrap();
        let err = File::create(self.dir.path().join("stderr.log")).unwrap();
        let child = Command::new(super::registry_binary())
            .arg("serve")
            .arg(config)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("starting docker-registry: {e}"));
        self.child = Some(child);
    }

    /// Ready = a plain `GET /v2/` gets any HTTP status line back. A TLS port answers a plain
    /// request too (Go's server says 400 "Client sent an HTTP request to an HTTPS server").
    /// Err(the reason and the registry's log) if it exited or did not answer in time.
    fn wait_ready(&mut self, timeout: Duration) -> Result<(), String> {
        let start = Instant::now();
        let url = format!("http://{}/v2/", self.host());
        loop {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                self.child = None;
                return Err(format!(
                    "docker-registry exited ({status}):\n{}",
                    self.log()
                ));
            }
            // "listening on" proves the answer comes from this registry, not a port thief.
            let listening = self.log().contains("listening on 127.0.0.1:");
            if listening && http_request("GET", &url, &[], &[]).is_ok() {
                return Ok(());
            }
            if start.elapsed() > timeout {
                let log = self.log();
                self.stop();
                return Err(format!(
                    "docker-registry not answering after {timeout:?}:\n{log}"
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        let scheme = if self.kind.tls() { "https" } else { "http" };
        format!("{scheme}://{}", self.host())
    }

    /// The kind this registry was started as.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The server certificate (its own CA) of the TLS kinds: trust it with `--ca-cert`.
    pub fn ca_cert(&self) -> Option<&Path> {
        self.cert.as_ref().map(|c| c.cert.as_path())
    }

    /// A directory holding only `ca.crt` (for `skopeo --cert-dir`, `certs.d` layouts).
    pub fn cert_dir(&self) -> Option<PathBuf> {
        let cert = self.ca_cert()?;
        let dir = self.dir.path().join("certs.d");
        fs::create_dir_all(&dir).unwrap();
        fs::copy(cert, dir.join("ca.crt")).unwrap();
        Some(dir)
    }

    /// (user, password) for the kinds that want them.
    pub fn creds(&self) -> Option<(&str, &str)> {
        matches!(self.kind, Kind::TlsBasic | Kind::TokenBasic).then_some((USER, PASSWORD))
    }

    /// The token server of the token kinds.
    pub fn token_server(&self) -> Option<&TokenServer> {
        self.token.as_ref()
    }

    /// Every scope the token server was asked for (empty for the other kinds).
    pub fn scopes(&self) -> Vec<String> {
        self.token.as_ref().map(|t| t.scopes()).unwrap_or_default()
    }

    /// The registry's output so far: the access log (stdout) then the application log (stderr).
    pub fn log(&self) -> String {
        let read = |name: &str| fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!("{}{}", read("stdout.log"), read("stderr.log"))
    }

    /// The access-log requests so far: (method, path with query, status), in order.
    pub fn requests(&self) -> Vec<(String, String, u16)> {
        let log = fs::read_to_string(self.dir.path().join("stdout.log")).unwrap_or_default();
        log.lines().filter_map(parse_access_line).collect()
    }

    /// How many logged requests had `method` and a path containing `path_contains`.
    pub fn count_requests(&self, method: &str, path_contains: &str) -> usize {
        let matching = |(m, p, _): &(String, String, u16)| m == method && p.contains(path_contains);
        self.requests().iter().filter(|r| matching(r)).count()
    }

    /// Kills the registry now; the port refuses connections afterwards. Idempotent.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The storage root (`rootdirectory`), e.g. to damage a stored blob.
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Parses `127.0.0.1 - - [02/Dec/2026:05:03:26 +0000] "HEAD /v2/x/blobs/sha256:.. HTTP/1.1"
/// 404 157 "" "curl/7.88.1"` into (method, path, status).
pub fn parse_access_line(line: &str) -> Option<(String, String, u16)> {
    let (_, rest) = line.split_once("] \"")?;
    let (request, rest) = rest.split_once('"')?;
    let mut parts = request.split(' ');
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    parts.next()?.strip_prefix("HTTP/")?;
    let status = rest.split_whitespace().next()?.parse().ok()?;
    Some((method, path, status))
}

/// True while something accepts TCP connections on `host`.
pub fn accepts(host: &str) -> bool {
    TcpStream::connect_timeout(&host.parse().unwrap(), Duration::from_secs(2)).is_ok()
}
