//! Just enough HTTP/1.1 for the harness, std only: read a request or response head, read a body
//! framed by Content-Length or chunked encoding, and a one-shot client for plain HTTP
//! (`Connection: close`, so a response ends at EOF).

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A parsed head: the start line, the headers in order, and the bytes read past the head.
pub struct Head {
    pub start: String,
    pub headers: Vec<(String, String)>,
    pub rest: Vec<u8>,
}

impl Head {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The body's framing: chunked, a Content-Length, or none.
    pub fn framing(&self) -> Framing {
        let chunked = self
            .header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        if chunked {
            return Framing::Chunked;
        }
        match self.header("content-length") {
            Some(n) => Framing::Length(n.trim().parse().unwrap_or(0)),
            None => Framing::Length(0),
        }
    }
}

/// How a request body is delimited.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Framing {
    Length(usize),
    Chunked,
}

/// The first header named `name` (case-insensitive) in `headers`.
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Reads up to and including the blank line that ends a head. `None` on EOF before any byte.
pub fn read_head(stream: &mut impl Read) -> io::Result<Option<Head>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            if buf.is_empty() {
                return Ok(None);
            }
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "EOF in head"));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let text = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = text.split("\r\n");
    let start = lines.next().unwrap_or_default().to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let rest = buf[end + 4..].to_vec();
    Ok(Some(Head {
        start,
        headers,
        rest,
    }))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Reads a body after `head`. Stops early (returning what it has, `complete == false`) as soon
/// as more than `limit` bytes of body arrived, so a fault can act mid-body.
pub fn read_body(
    stream: &mut impl Read,
    head: &Head,
    limit: Option<usize>,
) -> io::Result<(Vec<u8>, bool)> {
    let mut src = Prefixed {
        prefix: head.rest.clone(),
        pos: 0,
        inner: stream,
    };
    let over = |n: usize| limit.is_some_and(|l| n > l);
    match head.framing() {
        Framing::Length(len) => {
            let mut body = Vec::with_capacity(len.min(1 << 20));
            let mut chunk = [0u8; 65536];
            while body.len() < len {
                let want = (len - body.len()).min(chunk.len());
                let n = src.read(&mut chunk[..want])?;
                if n == 0 {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "short body"));
                }
                body.extend_from_slice(&chunk[..n]);
                if over(body.len()) && body.len() < len {
                    return Ok((body, false));
                }
            }
            Ok((body, true))
        }
        Framing::Chunked => read_chunked(&mut src, over),
    }
}

fn read_chunked(src: &mut impl Read, over: impl Fn(usize) -> bool) -> io::Result<(Vec<u8>, bool)> {
    let mut body = Vec::new();
    loop {
        let line = read_line(src)?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
        if size == 0 {
            // Trailers, if any, end with an empty line.
            while !read_line(src)?.is_empty() {}
            return Ok((body, true));
        }
        let start = body.len();
        body.resize(start + size, 0);
        src.read_exact(&mut body[start..])?;
        read_line(src)?;
        if over(body.len()) {
            return Ok((body, false));
        }
    }
}

fn read_line(src: &mut impl Read) -> io::Result<String> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    loop {
        src.read_exact(&mut b)?;
        if b[0] == b'\n' {
            break;
        }
        line.push(b[0]);
    }
    Ok(String::from_utf8_lossy(&line)
        .trim_end_matches('\r')
        .to_string())
}

/// Bytes already read past a head, then the stream.
struct Prefixed<'a, R> {
    prefix: Vec<u8>,
    pos: usize,
    inner: &'a mut R,
}

impl<R: Read> Read for Prefixed<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos < self.prefix.len() {
            let n = (self.prefix.len() - self.pos).min(out.len());
            out[..n].copy_from_slice(&self.prefix[self.pos..self.pos + n]);
            self.pos += n;
            return Ok(n);
        }
        self.inner.read(out)
    }
}

/// A response from [`http_request`].
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// Every value of the headers named `name` (registries may repeat `WWW-Authenticate`).
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        let named = self
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name));
        named.map(|(_, v)| v.as_str()).collect()
    }
}

/// Splits `http://HOST:PORT/PATH` into ("HOST:PORT", "/PATH"). Panics on anything else.
pub fn split_url(url: &str) -> (&str, &str) {
    let rest = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("only plain http:// URLs are supported here: {url}"));
    match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    }
}

/// One plain-HTTP request with `Connection: close`; a body is sent with a Content-Length.
/// An I/O error (refused, reset) is returned, not panicked on.
pub fn http_request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<Response> {
    let (host, path) = split_url(url);
    let mut stream = TcpStream::connect(host)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || matches!(method, "PUT" | "POST" | "PATCH") {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes())?;
    stream.write_all(body)?;
    read_response(&mut stream, method == "HEAD")
}

/// Reads a whole response from a stream that the server closes after it.
pub fn read_response(stream: &mut TcpStream, head_only: bool) -> io::Result<Response> {
    let head = read_head(stream)?
        .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "no response"))?;
    let status = head
        .start
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, head.start.clone()))?;
    let body = if head_only {
        Vec::new()
    } else if head.framing() == Framing::Chunked || head.header("content-length").is_some() {
        read_body(stream, &head, None)?.0
    } else {
        let mut body = head.rest.clone();
        stream.read_to_end(&mut body)?;
        body
    };
    Ok(Response {
        status,
        headers: head.headers,
        body,
    })
}

/// `GET url` over plain HTTP: (status, headers, body). Panics on an I/O error.
pub fn http_get(url: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let r = http_request("GET", url, &[], &[]).unwrap_or_else(|e| panic!("GET {url}: {e}"));
    (r.status, r.headers, r.body)
}
