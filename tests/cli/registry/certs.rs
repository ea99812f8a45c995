//! Certificates and password files for the test registries, made with `openssl` and
//! `htpasswd` (apache2-utils).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A PEM certificate and its unencrypted key.
pub struct CertPair {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A self-signed certificate that is its own CA (basicConstraints CA:TRUE) for `localhost` and
/// 127.0.0.1, the kind idpbuilder and local clusters make: `DIR/server.crt`, `DIR/server.key`.
pub fn self_signed_ca_cert(dir: &Path) -> CertPair {
    let pair = CertPair {
        cert: dir.join("server.crt"),
        key: dir.join("server.key"),
    };
    let mut cmd = Command::new("openssl");
    cmd.args([
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
    ])
    .args(["-subj", "/CN=localhost"])
    .args(["-addext", "basicConstraints=critical,CA:TRUE"])
    .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
    .arg("-keyout")
    .arg(&pair.key)
    .arg("-out")
    .arg(&pair.cert);
    run_quiet(&mut cmd);
    pair
}

/// A `user:bcrypt-hash` line from `htpasswd -Bbn` (the registry accepts only bcrypt).
pub fn htpasswd_line(user: &str, password: &str) -> String {
    let out = run_quiet(Command::new("htpasswd").args(["-Bbn", user, password]));
    out.trim().to_string()
}

/// Writes an htpasswd file with one bcrypt entry at `path`.
pub fn write_htpasswd(path: &Path, user: &str, password: &str) {
    fs::write(path, format!("{}\n", htpasswd_line(user, password))).unwrap();
}

fn run_quiet(cmd: &mut Command) -> String {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
