//! The harness tests itself: every registry kind starts and challenges as it should, blobs go
//! up and come back directly and through the proxy in each fault mode, the request log counts,
//! `stop()` closes the port.

use super::http::{http_request, read_response};
use super::server::accepts;
use super::*;
use std::io::Write;
use std::net::TcpStream;
use std::process::Command;

const REPO: &str = "harness/blobs";

fn blob(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

/// curl's path, or None after a note (curl is optional: never required).
fn curl() -> Option<&'static str> {
    let found = Command::new("curl").arg("--version").output().is_ok();
    if !found {
        eprintln!("skipping the HTTPS half: curl not installed (optional)");
    }
    found.then_some("curl")
}

/// `curl -si` of `url` with extra args: the raw response text, or the exit code on failure.
fn curl_get(url: &str, args: &[&str]) -> Result<String, i32> {
    let out = Command::new("curl")
        .args(["-si", "--http1.1", "--max-time", "20"])
        .args(args)
        .arg(url)
        .output()
        .unwrap();
    match out.status.code() {
        Some(0) => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
        code => Err(code.unwrap_or(-1)),
    }
}

#[test]
fn registry_harness_plain_answers_v2_and_logs_requests() {
    if !require_registry() {
        return;
    }
    let reg = Registry::start(Kind::Plain);
    assert!(reg.ca_cert().is_none() && reg.creds().is_none());
    let (status, headers, _) = http_get(&format!("{}/v2/", reg.url()));
    assert_eq!(status, 200);
    let api = http::header(&headers, "docker-distribution-api-version");
    assert_eq!(api, Some("registry/2.0"));
    // The access log is written as the response goes out: give it a moment.
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(reg.count_requests("GET", "/v2/") >= 2, "{}", reg.log()); // the readiness probe too
    assert_eq!(reg.count_requests("HEAD", "/blobs/"), 0);
}

#[test]
fn registry_harness_tls_serves_the_self_signed_ca_certificate() {
    if !require_registry() {
        return;
    }
    let reg = Registry::start(Kind::Tls);
    let cert = reg.ca_cert().expect("a TLS registry has a certificate");
    assert!(
        std::fs::read_to_string(cert)
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    assert!(reg.url().starts_with("https://127.0.0.1:"));
    if require_tool_quiet("skopeo") {
        let dir = reg.cert_dir().unwrap();
        let reference = format!("{}/harness/none:1", reg.host());
        let out = skopeo_inspect_output(&reference, true, None, Some(&dir));
        let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
        assert!(!out.status.success());
        assert!(
            err.contains("manifest unknown") || err.contains("not found"),
            "{err}"
        );
        assert!(
            !err.contains("x509") && !err.contains("certificate"),
            "{err}"
        );
    }
    let Some(_) = curl() else { return };
    let url = format!("{}/v2/", reg.url());
    let trusted = curl_get(&url, &["--cacert", cert.to_str().unwrap()]).expect("curl --cacert");
    assert!(trusted.starts_with("HTTP/1.1 200"), "{trusted}");
    assert_eq!(
        curl_get(&url, &[]),
        Err(60),
        "untrusted certificate refused"
    );
}

fn require_tool_quiet(name: &str) -> bool {
    Command::new(name).arg("--version").output().is_ok()
}

#[test]
fn registry_harness_tls_basic_challenges_for_basic_auth() {
    if !require_registry() {
        return;
    }
    let reg = Registry::start(Kind::TlsBasic);
    let (user, pass) = reg.creds().expect("credentials");
    assert_eq!((user, pass), (USER, PASSWORD));
    let Some(_) = curl() else { return };
    let url = format!("{}/v2/", reg.url());
    let cacert = reg.ca_cert().unwrap().to_str().unwrap().to_string();
    let anon = curl_get(&url, &["--cacert", &cacert]).unwrap();
    assert!(anon.starts_with("HTTP/1.1 401"), "{anon}");
    assert!(
        anon.to_lowercase().contains("www-authenticate: basic"),
        "{anon}"
    );
    let userpass = format!("{user}:{pass}");
    let authed = curl_get(&url, &["--cacert", &cacert, "-u", &userpass]).unwrap();
    assert!(authed.starts_with("HTTP/1.1 200"), "{authed}");
    let wrong = curl_get(&url, &["--cacert", &cacert, "-u", "imgbuild:wrong"]).unwrap();
    assert!(wrong.starts_with("HTTP/1.1 401"), "{wrong}");
}

/// The Bearer challenge of `GET /v2/NAME/...` and the token flow against the token server.
#[test]
fn registry_harness_token_challenges_and_records_scopes() {
    if !require_registry() {
        return;
    }
    let reg = Registry::start(Kind::Token);
    let r = http_request("GET", &format!("{}/v2/", reg.url()), &[], &[]).unwrap();
    assert_eq!(r.status, 401);
    let challenge = r.header("www-authenticate").unwrap();
    let realm = reg.token_server().unwrap().realm();
    assert!(
        challenge.starts_with(&format!("Bearer realm=\"{realm}\"")),
        "{challenge}"
    );
    assert!(
        challenge.contains(&format!("service=\"{SERVICE}\"")),
        "{challenge}"
    );
    let url = format!("{}/v2/{REPO}/blobs/uploads/", reg.url());
    let r = http_request("POST", &url, &[], &[]).unwrap();
    let challenge = r.header("www-authenticate").unwrap();
    // auth.silly names each action as its own scope, space-separated.
    let scopes = "scope=\"repository:harness/blobs:pull repository:harness/blobs:push\"";
    assert!(challenge.contains(scopes), "{challenge}");

    let scope = "repository%3Aharness%2Fblobs%3Apull%2Cpush";
    let (status, _, body) = http_get(&format!("{realm}?service={SERVICE}&scope={scope}"));
    assert_eq!(status, 200);
    let json: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["token"], TOKEN);
    assert_eq!(json["access_token"], TOKEN);
    assert_eq!(reg.scopes(), ["repository:harness/blobs:pull,push"]);
    assert_eq!(reg.token_server().unwrap().services(), [SERVICE]);
    let bearer = format!("Bearer {TOKEN}");
    let auth = [("Authorization", bearer.as_str())];
    let r = http_request("GET", &format!("{}/v2/", reg.url()), &auth, &[]).unwrap();
    assert_eq!(r.status, 200);
}

#[test]
fn registry_harness_token_server_can_require_credentials() {
    if !require_registry() {
        return;
    }
    let reg = Registry::start(Kind::TokenBasic);
    let (user, pass) = reg.creds().unwrap();
    let realm = format!("{}?service={SERVICE}", reg.token_server().unwrap().realm());
    assert_eq!(http_get(&realm).0, 401);
    let basic = format!(
        "Basic {}",
        token::base64(format!("{user}:{pass}").as_bytes())
    );
    let r = http_request("GET", &realm, &[("Authorization", &basic)], &[]).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(reg.token_server().unwrap().requests(), 2);
}

#[test]
fn registry_harness_blob_round_trip_direct_and_stop() {
    if !require_registry() {
        return;
    }
    let mut reg = Registry::start(Kind::Plain);
    let data = blob(100_000);
    let digest = sha256_digest(&data);
    assert_eq!(head_blob(&reg.url(), REPO, &digest), 404);
    let r = put_blob(&reg.url(), REPO, &data).unwrap();
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.header("docker-content-digest"), Some(digest.as_str()));
    assert_eq!(head_blob(&reg.url(), REPO, &digest), 200);
    assert_eq!(get_blob(&reg.url(), REPO, &digest), data);
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(
        reg.count_requests("HEAD", "/blobs/sha256:"),
        2,
        "{}",
        reg.log()
    );
    assert_eq!(reg.count_requests("PUT", "digest=sha256"), 1);
    let statuses: Vec<u16> = reg.requests().iter().map(|r| r.2).collect();
    assert!(
        statuses.contains(&404) && statuses.contains(&201),
        "{statuses:?}"
    );

    let host = reg.host();
    assert!(accepts(&host));
    reg.stop();
    assert!(!accepts(&host), "the port still accepts after stop()");
    assert!(http_request("GET", &format!("http://{host}/v2/"), &[], &[]).is_err());
}

#[test]
fn registry_harness_proxy_passes_through_and_rewrites_location() {
    if !require_registry() {
        return;
    }
    let reg = Registry::start(Kind::Plain);
    let proxy = FaultProxy::start(&reg.host(), &[]);
    let url = format!("{}/v2/{REPO}/blobs/uploads/", proxy.url());
    let r = http_request("POST", &url, &[], &[]).unwrap();
    assert_eq!(r.status, 202);
    let location = r.header("location").unwrap();
    assert!(
        absolute(&proxy.url(), location).starts_with(&proxy.url()),
        "{location}"
    );
    let data = blob(300_000);
    let digest = sha256_digest(&data);
    assert_eq!(put_blob(&proxy.url(), REPO, &data).unwrap().status, 201);
    assert_eq!(head_blob(&proxy.url(), REPO, &digest), 200);
    assert_eq!(get_blob(&proxy.url(), REPO, &digest), data);
    assert_eq!(proxy.counts(), FaultCounts::default());
    assert!(
        proxy
            .requests()
            .iter()
            .any(|(m, _, s)| m == "PUT" && *s == 201)
    );
}

/// A chunked PATCH (no Content-Length) is forwarded whole.
#[test]
fn registry_harness_proxy_forwards_chunked_bodies() {
    if !require_registry() {
        return;
    }
    let reg = Registry::start(Kind::Plain);
    let proxy = FaultProxy::start(&reg.host(), &[]);
    let location = start_upload(&proxy.url(), REPO, &[]);
    let data = blob(50_000);
    let (_, path) = http::split_url(&location);
    let mut s = TcpStream::connect(proxy.host()).unwrap();
    let head = format!(
        "PATCH {path} HTTP/1.1\r\nHost: {}\r\nTransfer-Encoding: chunked\r\n\r\n",
        proxy.host()
    );
    s.write_all(head.as_bytes()).unwrap();
    for part in data.chunks(7000) {
        s.write_all(format!("{:x}\r\n", part.len()).as_bytes())
            .unwrap();
        s.write_all(part).unwrap();
        s.write_all(b"\r\n").unwrap();
    }
    s.write_all(b"0\r\n\r\n").unwrap();
    let r = read_response(&mut s, false).unwrap();
    assert_eq!(r.status, 202, "{r:?}");
    let next = absolute(&proxy.url(), r.header("location").unwrap());
    let digest = sha256_digest(&data);
    let put = http_request("PUT", &with_query(&next, "digest", &digest), &[], &[]).unwrap();
    assert_eq!(put.status, 201, "{put:?}");
    assert_eq!(get_blob(&reg.url(), REPO, &digest), data);
}

#[test]
fn registry_harness_proxy_503_once_per_session() {
    if !require_registry() {
        return;
    }
    let reg = Registry::start(Kind::Plain);
    let proxy = FaultProxy::start(&reg.host(), &[Fault::Unavailable503(UploadKey::Session)]);
    let data = blob(10_000);
    let digest = sha256_digest(&data);
    let location = start_upload(&proxy.url(), REPO, &[]);
    let url = with_query(&location, "digest", &digest);
    assert_eq!(http_request("PUT", &url, &[], &data).unwrap().status, 503);
    assert_eq!(http_request("PUT", &url, &[], &data).unwrap().status, 201);
    assert_eq!(proxy.counts().unavailable, 1);
    // A new session fails once again.
    assert_eq!(put_blob(&proxy.url(), REPO, &data).unwrap().status, 503);
    assert_eq!(proxy.counts().unavailable, 2);
    assert_eq!(get_blob(&proxy.url(), REPO, &digest), data);
}

#[test]
fn registry_harness_proxy_503_once_per_digest() {
    if !require_registry() {
        return;
    }
    let reg = Registry::start(Kind::Plain);
    let proxy = FaultProxy::start(&reg.host(), &[Fault::Unavailable503(UploadKey::Digest)]);
    let data = blob(10_000);
    assert_eq!(put_blob(&proxy.url(), REPO, &data).unwrap().status, 503);
    assert_eq!(put_blob(&proxy.url(), REPO, &data).unwrap().status, 201);
    let other = blob(20_000);
    assert_eq!(put_blob(&proxy.url(), REPO, &other).unwrap().status, 503);
    assert_eq!(put_blob(&proxy.url(), REPO, &other).unwrap().status, 201);
    assert_eq!(proxy.counts().unavailable, 2);
}

#[test]
fn registry_harness_proxy_resets_once_mid_body() {
    if !require_registry() {
        return;
    }
    let reg = Registry::start(Kind::Plain);
    let proxy = FaultProxy::start(&reg.host(), &[Fault::ResetOnce { over: 64 * 1024 }]);
    let small = blob(1000);
    assert_eq!(put_blob(&proxy.url(), REPO, &small).unwrap().status, 201);
    let big = blob(4 << 20);
    let err = put_blob(&proxy.url(), REPO, &big).expect_err("the connection is reset");
    eprintln!("reset as expected: {err}");
    assert_eq!(proxy.counts().resets, 1);
    assert_eq!(put_blob(&proxy.url(), REPO, &big).unwrap().status, 201);
    assert_eq!(proxy.counts().resets, 1, "only once");
    assert_eq!(get_blob(&reg.url(), REPO, &sha256_digest(&big)), big);
}

#[test]
fn registry_harness_proxy_413_over_limit() {
    if !require_registry() {
        return;
    }
    let reg = Registry::start(Kind::Plain);
    let proxy = FaultProxy::start(&reg.host(), &[Fault::TooLarge { over: 100_000 }]);
    assert_eq!(
        put_blob(&proxy.url(), REPO, &blob(100_000)).unwrap().status,
        201
    );
    let r = put_blob(&proxy.url(), REPO, &blob(100_001)).unwrap();
    assert_eq!(r.status, 413);
    assert_eq!(
        put_blob(&proxy.url(), REPO, &blob(2 << 20)).unwrap().status,
        413
    );
    assert_eq!(proxy.counts().too_large, 2);
}

#[test]
fn registry_harness_proxy_gitea_refuses_a_second_patch() {
    if !require_registry() {
        return;
    }
    let reg = Registry::start(Kind::Plain);
    let proxy = FaultProxy::start(&reg.host(), &[Fault::Gitea]);
    let data = blob(20_000);
    let location = start_upload(&proxy.url(), REPO, &[]);
    let first = http_request("PATCH", &location, &[], &data[..10_000]).unwrap();
    assert_eq!(first.status, 202, "{first:?}");
    let next = absolute(&proxy.url(), first.header("location").unwrap());
    let second = http_request("PATCH", &next, &[], &data[10_000..]).unwrap();
    assert_eq!(second.status, 400);
    assert_eq!(String::from_utf8_lossy(&second.body), GITEA_REFUSAL);
    assert_eq!(proxy.counts().gitea_refused, 1);
    // One PATCH with everything, then the closing PUT, is fine.
    let location = start_upload(&proxy.url(), REPO, &[]);
    let only = http_request("PATCH", &location, &[], &data).unwrap();
    assert_eq!(only.status, 202);
    let next = absolute(&proxy.url(), only.header("location").unwrap());
    let put = with_query(&next, "digest", &sha256_digest(&data));
    assert_eq!(http_request("PUT", &put, &[], &[]).unwrap().status, 201);
    assert_eq!(proxy.counts().gitea_refused, 1);
}

#[test]
fn registry_harness_manifest_round_trip_and_skopeo_inspect() {
    if !require_registry() {
        return;
    }
    let reg = Registry::start(Kind::Plain);
    let digest = push_tiny_image(&reg.url(), "harness/tiny", "v1", b"not really a tar");
    let r = get_manifest(&reg.url(), "harness/tiny", "v1");
    assert_eq!(r.status, 200);
    assert_eq!(sha256_digest(&r.body), digest);
    assert_eq!(r.header("docker-content-digest"), Some(digest.as_str()));
    if crate::interop::require_tool("skopeo").is_none() {
        return;
    }
    let json = skopeo_inspect(&format!("{}/harness/tiny:v1", reg.host()), false, None);
    assert_eq!(json["Digest"], digest.as_str());
    assert_eq!(json["Layers"].as_array().map(Vec::len), Some(1));
}
