//! Whether a registry may be, and is, reached over plain HTTP.

use std::io::{Read as _, Write as _};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::is_loopback;

/// Whether `name` may be reached over plain HTTP at all: a loopback host, or one the user
/// named with `--insecure-registry`. Any other host is HTTPS only, whatever it answers.
pub(super) fn allows_plain_http(name: &str, insecure: &[String]) -> bool {
    is_loopback(name) || insecure.iter().any(|h| h == name)
}

/// Whether `host` answers plain HTTP (a loopback or `--insecure-registry` host is asked
/// before it is used; anything that is not a plain HTTP answer means HTTPS).
pub(super) fn speaks_plain_http(host: &str) -> bool {
    let addr = match host.rsplit_once(':') {
        Some((_, port)) if port.parse::<u16>().is_ok() && !host.ends_with(']') => host.to_owned(),
        _ => format!("{host}:80"),
    };
    // `localhost` may resolve to ::1 first while the registry listens on 127.0.0.1 only.
    let Some(mut s) = addr.to_socket_addrs().ok().and_then(|mut addrs| {
        addrs.find_map(|a| TcpStream::connect_timeout(&a, Duration::from_secs(5)).ok())
    }) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let req = format!("GET /v2/ HTTP/1.0\r\nHost: {host}\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut buf = [0u8; 512];
    let mut n = 0;
    while n < buf.len() {
        match s.read(&mut buf[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    let text = String::from_utf8_lossy(&buf[..n]);
    // Go's TLS servers answer a plain request in plain HTTP, with this text.
    text.starts_with("HTTP/") && !text.contains("HTTPS server")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_for_loopback_or_named_hosts() {
        let named = vec!["registry.local:5000".to_owned()];
        assert!(allows_plain_http("localhost:5000", &[]));
        assert!(allows_plain_http("127.0.0.1:5000", &[]));
        assert!(allows_plain_http("registry.local:5000", &named));
        assert!(!allows_plain_http("registry.local:5001", &named));
        assert!(!allows_plain_http("registry.local", &named));
        assert!(!allows_plain_http("gitea.cnoe.localtest.me:8443", &[]));
    }

    #[test]
    fn a_plain_http_server_is_told_from_a_tls_one() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            for answer in [
                "HTTP/1.0 200 OK\r\n\r\n{}",
                "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n",
                "\x15\x03\x01\x00\x02\x02\x46",
            ] {
                let (mut c, _) = l.accept().unwrap();
                let mut b = [0u8; 256];
                let _ = c.read(&mut b);
                c.write_all(answer.as_bytes()).unwrap();
            }
        });
        let host = format!("127.0.0.1:{}", addr.port());
        assert!(speaks_plain_http(&host));
        assert!(!speaks_plain_http(&host));
        assert!(!speaks_plain_http(&host));
        t.join().unwrap();
        // Nothing listening: not plain HTTP (the HTTPS attempt then says what is wrong).
        drop(std::net::TcpListener::bind("127.0.0.1:0"));
        assert!(!speaks_plain_http("127.0.0.1:1"));
    }
}
