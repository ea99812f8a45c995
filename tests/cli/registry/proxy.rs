//! `FaultProxy`: an HTTP/1.1 proxy on 127.0.0.1 in front of a plain-HTTP registry, std only, a
//! thread per connection, one request per connection (`Connection: close` both ways). It reads
//! each request whole (Content-Length or chunked; forwarded with a Content-Length), injects the
//! configured faults, and rewrites absolute `Location` headers to point at itself.
//!
//! An upload request is a PUT or PATCH to a `/blobs/uploads/` URL; its session is the path
//! segment after `/blobs/uploads/`.

use super::http::{Head, read_body, read_head};
use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// Which uploads the 503 fault counts as "new".
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UploadKey {
    /// The first PUT/PATCH of each upload session (a retry in the same session passes; a
    /// client that restarts with a new POST gets one more 503 per session).
    Session,
    /// The first closing `PUT ?digest=D` per distinct digest (PATCHes pass), so a client that
    /// restarts the whole upload passes on its second try too.
    Digest,
}

/// A fault the proxy injects.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fault {
    /// 503 to the first upload request per session or digest, then pass.
    Unavailable503(UploadKey),
    /// Once, on the first upload request whose body exceeds N bytes: read N bytes of it, then
    /// reset the connection (RST, no response).
    ResetOnce { over: usize },
    /// 413 to any request whose body exceeds N bytes (the body is read and dropped first).
    TooLarge { over: usize },
    /// Gitea: a second PATCH to the same upload session gets 400 "Stream uploads after first
    /// write are not allowed".
    Gitea,
}

/// How many times each fault fired.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FaultCounts {
    pub unavailable: usize,
    pub resets: usize,
    pub too_large: usize,
    pub gitea_refused: usize,
}

/// The Gitea refusal's body.
pub const GITEA_REFUSAL: &str = "Stream uploads after first write are not allowed";

struct State {
    faults: Vec<Fault>,
    upstream: String,
    addr: String,
    counts: Mutex<FaultCounts>,
    seen_503: Mutex<HashSet<String>>,
    patched: Mutex<HashSet<String>>,
    reset_done: AtomicBool,
    requests: Mutex<Vec<(String, String, u16)>>,
}

/// A running proxy; stops accepting on Drop.
pub struct FaultProxy {
    state: Arc<State>,
    stop: Arc<AtomicBool>,
}

impl FaultProxy {
    /// A proxy on a free 127.0.0.1 port forwarding to `upstream` ("127.0.0.1:PORT", plain HTTP).
    pub fn start(upstream: &str, faults: &[Fault]) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let state = Arc::new(State {
            faults: faults.to_vec(),
            upstream: upstream.to_string(),
            addr: listener.local_addr().unwrap().to_string(),
            counts: Mutex::default(),
            seen_503: Mutex::default(),
            patched: Mutex::default(),
            reset_done: AtomicBool::new(false),
            requests: Mutex::default(),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let (st, stop2) = (state.clone(), stop.clone());
        thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let st = st.clone();
                thread::spawn(move || {
                    let _ = handle(conn, &st);
                });
            }
        });
        FaultProxy { state, stop }
    }

    /// `127.0.0.1:PORT` of the proxy.
    pub fn host(&self) -> String {
        self.state.addr.clone()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.state.addr)
    }

    /// The faults fired so far.
    pub fn counts(&self) -> FaultCounts {
        *self.state.counts.lock().unwrap()
    }

    /// Every request the proxy answered or reset: (method, target, status; 0 for a reset).
    pub fn requests(&self) -> Vec<(String, String, u16)> {
        self.state.requests.lock().unwrap().clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.state.addr);
    }
}

/// The upload session of a `/blobs/uploads/SESSION?..` target, for PUT and PATCH only.
fn upload_session(method: &str, target: &str) -> Option<String> {
    if !matches!(method, "PUT" | "PATCH") {
        return None;
    }
    let (_, after) = target.split_once("/blobs/uploads/")?;
    Some(after.split('?').next().unwrap_or("").to_string())
}

fn query_param(target: &str, name: &str) -> Option<String> {
    let (_, query) = target.split_once('?')?;
    let pairs = query.split('&').filter_map(|kv| kv.split_once('='));
    pairs
        .into_iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| super::token::percent_decode(v))
}

fn handle(mut conn: TcpStream, st: &State) -> io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(60)))?;
    let Some(head) = read_head(&mut conn)? else {
        return Ok(());
    };
    let mut words = head.start.split_whitespace();
    let method = words.next().unwrap_or("").to_string();
    let target = words.next().unwrap_or("").to_string();
    let session = upload_session(&method, &target);
    if head
        .header("expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    {
        conn.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let reset_limit = st.faults.iter().find_map(|f| match f {
        Fault::ResetOnce { over } if session.is_some() => Some(*over),
        _ => None,
    });
    let limit = reset_limit.filter(|_| !st.reset_done.load(Ordering::SeqCst));
    let (body, complete) = read_body(&mut conn, &head, limit)?;
    let log = |status: u16| {
        let entry = (method.clone(), target.clone(), status);
        st.requests.lock().unwrap().push(entry);
    };
    if !complete && !st.reset_done.swap(true, Ordering::SeqCst) {
        st.counts.lock().unwrap().resets += 1;
        log(0);
        reset(conn);
        return Ok(());
    }
    let body = if complete {
        body
    } else {
        // The reset already fired for another request meanwhile: read the rest.
        let mut all = body;
        let (more, _) = read_body(&mut conn, &rest_head(&head, all.len()), None)?;
        all.extend(more);
        all
    };
    if let Some((status, text)) = injected(st, &method, &target, session.as_deref(), &body) {
        log(status);
        return reply(&mut conn, status, text);
    }
    let status = forward(&mut conn, st, &head, &method, &target, &body)?;
    log(status);
    Ok(())
}

/// A head whose body is what remains of a Content-Length body after `done` bytes.
fn rest_head(head: &Head, done: usize) -> Head {
    let len = match head.framing() {
        super::http::Framing::Length(n) => n.saturating_sub(done),
        super::http::Framing::Chunked => 0,
    };
    Head {
        start: head.start.clone(),
        headers: vec![("Content-Length".into(), len.to_string())],
        rest: Vec::new(),
    }
}

/// The fault answer for this request, if one applies (counted).
fn injected(
    st: &State,
    method: &str,
    target: &str,
    session: Option<&str>,
    body: &[u8],
) -> Option<(u16, &'static str)> {
    let mut counts = st.counts.lock().unwrap();
    for fault in &st.faults {
        match *fault {
            Fault::TooLarge { over } if body.len() > over => {
                counts.too_large += 1;
                return Some((413, "request entity too large"));
            }
            Fault::Unavailable503(key) if session.is_some() => {
                let id = match key {
                    UploadKey::Session => session.map(str::to_string),
                    UploadKey::Digest if method == "PUT" => query_param(target, "digest"),
                    UploadKey::Digest => None,
                };
                if id.is_some_and(|id| st.seen_503.lock().unwrap().insert(id)) {
                    counts.unavailable += 1;
                    return Some((503, "service unavailable (injected)"));
                }
            }
            Fault::Gitea if method == "PATCH" && session.is_some() => {
                let fresh = st.patched.lock().unwrap().insert(session?.to_string());
                if !fresh {
                    counts.gitea_refused += 1;
                    return Some((400, GITEA_REFUSAL));
                }
            }
            _ => {}
        }
    }
    None
}

fn reply(conn: &mut TcpStream, status: u16, text: &str) -> io::Result<()> {
    let reason = match status {
        400 => "Bad Request",
        413 => "Payload Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let msg = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{text}",
        text.len()
    );
    conn.write_all(msg.as_bytes())?;
    conn.flush()
}

/// Closes with an RST: SO_LINGER on with a zero timeout, then close.
fn reset(conn: TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket fd and a correctly sized, initialized linger struct.
    unsafe {
        libc::setsockopt(
            conn.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    drop(conn);
}

const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "content-length",
    "host",
    "expect",
    "te",
    "upgrade",
];

/// Sends the request upstream and relays the response (head rewritten); returns its status.
fn forward(
    conn: &mut TcpStream,
    st: &State,
    head: &Head,
    method: &str,
    target: &str,
    body: &[u8],
) -> io::Result<u16> {
    let mut up = match TcpStream::connect(&st.upstream) {
        Ok(up) => up,
        Err(_) => {
            reply(conn, 502, "upstream unreachable")?;
            return Ok(502);
        }
    };
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: {}\r\n", st.upstream);
    for (k, v) in &head.headers {
        if !HOP_BY_HOP.contains(&k.to_ascii_lowercase().as_str()) {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    let has_body =
        head.header("content-length").is_some() || head.header("transfer-encoding").is_some();
    if has_body || !body.is_empty() {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("Connection: close\r\n\r\n");
    up.write_all(req.as_bytes())?;
    up.write_all(body)?;
    let Some(resp) = read_head(&mut up)? else {
        reply(conn, 502, "upstream closed")?;
        return Ok(502);
    };
    let status = resp
        .start
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(502);
    let mut out = format!("{}\r\n", resp.start);
    for (k, v) in &resp.headers {
        let lower = k.to_ascii_lowercase();
        if lower == "connection" || lower == "keep-alive" {
            continue;
        }
        let v = if lower == "location" {
            rewrite_location(v, st)
        } else {
            v.clone()
        };
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("Connection: close\r\n\r\n");
    conn.write_all(out.as_bytes())?;
    conn.write_all(&resp.rest)?;
    let mut buf = [0u8; 65536];
    loop {
        let n = up.read(&mut buf)?;
        if n == 0 {
            break;
        }
        conn.write_all(&buf[..n])?;
    }
    conn.flush()?;
    Ok(status)
}

/// `http://UPSTREAM/...` (or `//UPSTREAM/...`) → the same URL on the proxy; relative ones stay.
fn rewrite_location(v: &str, st: &State) -> String {
    let (up, me) = (&st.upstream, &st.addr);
    let up_localhost = up.replace("127.0.0.1", "localhost");
    let mut out = v.to_string();
    for from in [up.as_str(), up_localhost.as_str()] {
        for prefix in ["http://", "//"] {
            let pat = format!("{prefix}{from}");
            if let Some(rest) = out.strip_prefix(&pat) {
                out = format!("{prefix}{me}{rest}");
            }
        }
    }
    out
}
