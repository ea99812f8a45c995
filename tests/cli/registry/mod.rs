//! Test harness for registry pushes and pulls against real registries, no mocks: Debian's
//! `docker-registry` (distribution 2.8) in four auth/TLS kinds ([`Registry`], [`Kind`]), a token
//! endpoint ([`TokenServer`]), a fault-injecting proxy ([`FaultProxy`]), and small helpers (raw
//! HTTP, blob upload by hand, `skopeo inspect`). A missing `docker-registry` skips a test with a
//! note ([`require_registry`]), unless `IMGBUILD_REQUIRE_INTEROP=1`, where it fails.
#![allow(dead_code)] // shared test support: not every test uses every helper
#![allow(unused_imports)]

pub mod certs;
pub mod http;
pub mod proxy;
pub mod server;
pub mod token;

mod selftest;

pub use http::{Response, http_get, http_request};
pub use proxy::{Fault, FaultCounts, FaultProxy, GITEA_REFUSAL, UploadKey};
pub use server::{Kind, PASSWORD, Registry, SERVICE, USER};
pub use token::{TOKEN, TokenServer};

use crate::interop::require_tool;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// True when `docker-registry`, `openssl` and `htpasswd` (the TLS and htpasswd kinds run
/// them) are installed; false after a skip note (a panic under `IMGBUILD_REQUIRE_INTEROP=1`).
pub fn require_registry() -> bool {
    ["docker-registry", "openssl", "htpasswd"]
        .iter()
        .all(|t| require_tool(t).is_some())
}

/// The registry binary (`docker-registry` on PATH or in /usr/bin).
pub fn registry_binary() -> PathBuf {
    let usr = PathBuf::from("/usr/bin/docker-registry");
    if usr.exists() {
        usr
    } else {
        "docker-registry".into()
    }
}

/// A port that was free a moment ago on 127.0.0.1 (bind port 0, read it, release it).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// `sha256:HEX` of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    let hash = Sha256::digest(data);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Resolves a `Location` header against `base` (`http://HOST:PORT`).
pub fn absolute(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        location.to_string()
    } else {
        format!("{base}{location}")
    }
}

/// Appends `name=value` to a URL's query.
pub fn with_query(url: &str, name: &str, value: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{name}={value}")
}

/// `POST /v2/REPO/blobs/uploads/` on `base` (plain HTTP): the absolute upload URL.
pub fn start_upload(base: &str, repo: &str, auth: &[(&str, &str)]) -> String {
    let url = format!("{base}/v2/{repo}/blobs/uploads/");
    let r = http_request("POST", &url, auth, &[]).unwrap();
    assert_eq!(r.status, 202, "POST {url}: {r:?}");
    absolute(base, r.header("location").expect("Location on 202"))
}

/// Monolithic upload: POST, then `PUT ?digest=` with the whole blob; returns the PUT's
/// response (201 on success). Errors are returned as the I/O error.
pub fn put_blob(base: &str, repo: &str, data: &[u8]) -> std::io::Result<Response> {
    let location = start_upload(base, repo, &[]);
    let url = with_query(&location, "digest", &sha256_digest(data));
    let ty = [("Content-Type", "application/octet-stream")];
    http_request("PUT", &url, &ty, data)
}

/// `GET /v2/REPO/blobs/DIGEST` on `base`: the bytes (panics unless 200).
pub fn get_blob(base: &str, repo: &str, digest: &str) -> Vec<u8> {
    let (status, _, body) = http_get(&format!("{base}/v2/{repo}/blobs/{digest}"));
    assert_eq!(status, 200, "GET blob {digest}");
    body
}

/// `HEAD /v2/REPO/blobs/DIGEST` on `base`: the status.
pub fn head_blob(base: &str, repo: &str, digest: &str) -> u16 {
    let url = format!("{base}/v2/{repo}/blobs/{digest}");
    http_request("HEAD", &url, &[], &[]).unwrap().status
}

/// `skopeo inspect` of `docker://REFERENCE` as JSON; `tls_verify` false passes
/// `--tls-verify=false`, `creds` passes `--creds user:pass`. Panics (with skopeo's stderr) if
/// it fails; check `require_tool("skopeo")` first.
pub fn skopeo_inspect(reference: &str, tls_verify: bool, creds: Option<(&str, &str)>) -> Value {
    let out = skopeo_inspect_output(reference, tls_verify, creds, None);
    assert!(
        out.status.success(),
        "skopeo inspect {reference}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("skopeo inspect prints JSON")
}

/// `skopeo inspect` with an optional `--cert-dir`, output as is (for expected failures).
pub fn skopeo_inspect_output(
    reference: &str,
    tls_verify: bool,
    creds: Option<(&str, &str)>,
    cert_dir: Option<&std::path::Path>,
) -> std::process::Output {
    let mut cmd = Command::new("skopeo");
    cmd.arg("inspect").arg(format!("--tls-verify={tls_verify}"));
    if let Some((u, p)) = creds {
        cmd.arg(format!("--creds={u}:{p}"));
    }
    if let Some(dir) = cert_dir {
        cmd.arg("--cert-dir").arg(dir);
    }
    let reference = reference.strip_prefix("docker://").unwrap_or(reference);
    cmd.arg(format!("docker://{reference}"));
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("skopeo: {e}"))
}

/// The manifest and index media types a pull asks for.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
    application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json, \
    application/vnd.docker.distribution.manifest.list.v2+json";

/// `PUT /v2/REPO/manifests/REFERENCE` with `body` as `media_type` (201 on success).
pub fn put_manifest(
    base: &str,
    repo: &str,
    reference: &str,
    media_type: &str,
    body: &[u8],
) -> Response {
    let url = format!("{base}/v2/{repo}/manifests/{reference}");
    http_request("PUT", &url, &[("Content-Type", media_type)], body).unwrap()
}

/// `GET /v2/REPO/manifests/REFERENCE` with [`MANIFEST_ACCEPT`].
pub fn get_manifest(base: &str, repo: &str, reference: &str) -> Response {
    let url = format!("{base}/v2/{repo}/manifests/{reference}");
    http_request("GET", &url, &[("Accept", MANIFEST_ACCEPT)], &[]).unwrap()
}

/// Pushes a minimal OCI image (an empty-ish config, one layer of `layer` bytes) as
/// `REPO:TAG` over plain HTTP with raw requests; returns the manifest's digest.
pub fn push_tiny_image(base: &str, repo: &str, tag: &str, layer: &[u8]) -> String {
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    for blob in [&config[..], layer] {
        assert_eq!(put_blob(base, repo, blob).unwrap().status, 201);
    }
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha256_digest(config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": sha256_digest(layer), "size": layer.len()}],
    });
    let body = serde_json::to_vec(&manifest).unwrap();
    let ty = "application/vnd.oci.image.manifest.v1+json";
    let r = put_manifest(base, repo, tag, ty, &body);
    assert_eq!(r.status, 201, "{r:?}");
    sha256_digest(&body)
}
