//! A token endpoint for the Bearer flow: `GET /token?service=..&scope=..` answers
//! `{"token":"..","access_token":".."}`, optionally only with the right basic credentials, and
//! records every scope asked for. The registry runs `auth.silly`, which sends the Bearer
//! challenge and accepts any Bearer token (distribution's `auth.token` wants signed JWTs).

use super::http::{Head, read_head};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

/// The token handed out.
pub const TOKEN: &str = "imgbuild-test-token";

#[derive(Default)]
struct Seen {
    scopes: Vec<String>,
    services: Vec<String>,
    requests: usize,
}

/// A running token server on 127.0.0.1; stops on Drop.
pub struct TokenServer {
    addr: String,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
}

impl TokenServer {
    /// Starts a token server; with `basic`, a request without those credentials gets 401.
    pub fn start(basic: Option<(String, String)>) -> TokenServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let expected =
            basic.map(|(u, p)| format!("Basic {}", base64(format!("{u}:{p}").as_bytes())));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    let _ = serve(conn, expected.as_deref(), &seen2);
                }
            }
        });
        TokenServer { addr, seen, stop }
    }

    /// The realm: `http://127.0.0.1:PORT/token`.
    pub fn realm(&self) -> String {
        format!("http://{}/token", self.addr)
    }

    /// Every `scope` parameter seen, in order (decoded).
    pub fn scopes(&self) -> Vec<String> {
        self.seen.lock().unwrap().scopes.clone()
    }

    /// Every `service` parameter seen, in order.
    pub fn services(&self) -> Vec<String> {
        self.seen.lock().unwrap().services.clone()
    }

    /// How many requests reached the token server (refused ones included).
    pub fn requests(&self) -> usize {
        self.seen.lock().unwrap().requests
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr); // wakes the accept loop
    }
}

fn serve(mut conn: TcpStream, expected: Option<&str>, seen: &Mutex<Seen>) -> std::io::Result<()> {
    let Some(head) = read_head(&mut conn)? else {
        return Ok(());
    };
    let target = head
        .start
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_string();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    {
        let mut seen = seen.lock().unwrap();
        seen.requests += 1;
        for (k, v) in query.split('&').filter_map(|kv| kv.split_once('=')) {
            match k {
                "scope" => seen.scopes.push(percent_decode(v)),
                "service" => seen.services.push(percent_decode(v)),
                _ => {}
            }
        }
    }
    let (status, body) = answer(path, &head, expected);
    let reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\nWWW-Authenticate: Basic realm=\"token\"\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(reply.as_bytes())
}

fn answer(path: &str, head: &Head, expected: Option<&str>) -> (&'static str, String) {
    if path != "/token" {
        return ("404 Not Found", "{}".into());
    }
    if let Some(want) = expected {
        if head.header("authorization") != Some(want) {
            return ("401 Unauthorized", r#"{"error":"bad credentials"}"#.into());
        }
    }
    let body = format!(r#"{{"token":"{TOKEN}","access_token":"{TOKEN}","expires_in":300}}"#);
    ("200 OK", body)
}

/// `%XX` and `+` decoding for query values.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Standard base64 with padding (for basic credentials).
pub fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
