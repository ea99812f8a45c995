//! Digests computed while streaming: `HashWriter` hashes and counts every byte that passes
//! through it on the way to the next stage. Used twice per layer: over the uncompressed tar
//! (the diff_id) and over the compressed stream (the blob digest and size).

use std::io::{self, Write};

use sha2::{Digest as _, Sha256};

/// A finished sha256 digest with the number of bytes it covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sha256Sum {
    hex: String,
}

impl Sha256Sum {
    /// The sha256 of `bytes`.
    pub fn of(bytes: &[u8]) -> Sha256Sum {
        Sha256Sum::from_hasher(Sha256::new_with_prefix(bytes))
    }

    /// The digest of everything fed to `hasher`.
    pub fn from_hasher(hasher: Sha256) -> Sha256Sum {
        let bytes = hasher.finalize();
        let mut hex = String::with_capacity(64);
        for b in bytes {
            hex.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            hex.push(char::from(b"0123456789abcdef"[usize::from(b & 0xf)]));
        }
        Sha256Sum { hex }
    }

    /// From 64 lowercase hex characters; None for anything else.
    pub fn from_hex(hex: &str) -> Option<Sha256Sum> {
        let ok = hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| Sha256Sum {
            hex: hex.to_owned(),
        })
    }

    /// The 64 lowercase hex characters.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// `sha256:<hex>`, the OCI digest string.
    pub fn prefixed(&self) -> String {
        format!("sha256:{}", self.hex)
    }

    /// The same digest as an `oci_spec` value.
    pub fn to_oci(&self) -> oci_spec::image::Digest {
        let sha: oci_spec::image::Sha256Digest = self
            .hex
            .parse()
            .expect("a Sha256Sum always holds 64 lowercase hex characters");
        sha.into()
    }
}

impl std::fmt::Display for Sha256Sum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

/// Hashes and counts the bytes written through it (or only counts them).
pub struct HashWriter<W> {
    inner: W,
    hasher: Option<Sha256>,
    count: u64,
}

impl<W: Write> HashWriter<W> {
    /// Hash and count everything written through to `inner`.
    pub fn new(inner: W) -> Self {
        HashWriter {
            inner,
            hasher: Some(Sha256::new()),
            count: 0,
        }
    }

    /// Count without hashing, for a stream whose digest is known otherwise.
    pub fn counting(inner: W) -> Self {
        HashWriter {
            inner,
            hasher: None,
            count: 0,
        }
    }

    /// The writer underneath (bytes written to it directly are neither hashed nor counted).
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// Flush, then hand back the inner writer with the digest (None when only counting)
    /// and the byte count.
    pub fn finish(mut self) -> io::Result<(W, Option<Sha256Sum>, u64)> {
        self.inner.flush()?;
        Ok((
            self.inner,
            self.hasher.map(Sha256Sum::from_hasher),
            self.count,
        ))
    }
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        self.count += n as u64;
        Ok(n)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.inner.write_all(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(buf);
        }
        self.count += buf.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        assert_eq!(
            Sha256Sum::of(b"").prefixed(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let mut w = HashWriter::new(Vec::new());
        w.write_all(b"{}").unwrap();
        let (inner, sum, n) = w.finish().unwrap();
        let sum = sum.unwrap();
        assert_eq!(inner, b"{}");
        assert_eq!(n, 2);
        assert_eq!(
            sum.hex(),
            "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        assert_eq!(sum.to_oci().to_string(), sum.prefixed());
        let mut w = HashWriter::counting(Vec::new());
        w.write_all(b"abc").unwrap();
        let (_, sum, n) = w.finish().unwrap();
        assert_eq!((sum, n), (None, 3));
    }
}

/// A blob whose digest or size is not what its descriptor says.
#[derive(Debug)]
pub struct VerifyError {
    /// What the blob is, for the message (`layer 0 of manifest sha256:…`).
    pub what: String,
    /// The digest its descriptor names.
    pub expected_digest: String,
    /// The size its descriptor names, in bytes.
    pub expected_size: u64,
    /// The digest of what was read; `None` when reading stopped at the size limit.
    pub got_digest: Option<String>,
    /// How many bytes were read.
    pub got_size: u64,
}

impl std::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.got_digest {
            // The content is right, its descriptor's size is not.
            Some(got) if *got == self.expected_digest => write!(
                f,
                "{} does not match its descriptor: expected {} bytes, got {}",
                self.what, self.expected_size, self.got_size
            ),
            Some(got) => write!(
                f,
                "{} does not match its descriptor: expected {}, got {} ({} bytes read)",
                self.what, self.expected_digest, got, self.got_size
            ),
            None => write!(
                f,
                "{} does not match its descriptor: expected {} bytes, got {} or more",
                self.what, self.expected_size, self.got_size
            ),
        }
    }
}

impl std::error::Error for VerifyError {}

/// Reads at most `size` bytes (one more is an error) and checks the sha256 and size when
/// the end is reached: a reader that stops early must call `drain` to get the check.
pub struct VerifyingReader<R> {
    inner: R,
    hasher: Sha256,
    expected_hex: String,
    expected_size: u64,
    read: u64,
    what: String,
    verified: bool,
}

impl<R: io::Read> VerifyingReader<R> {
    /// `expected_hex` is the 64 hex characters of the expected sha256.
    pub fn new(inner: R, expected_hex: &str, expected_size: u64, what: impl Into<String>) -> Self {
        VerifyingReader {
            inner,
            hasher: Sha256::new(),
            expected_hex: expected_hex.to_owned(),
            expected_size,
            read: 0,
            what: what.into(),
            verified: false,
        }
    }

    fn fail(&self, got_digest: Option<String>, got_size: u64) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            VerifyError {
                what: self.what.clone(),
                expected_digest: format!("sha256:{}", self.expected_hex),
                expected_size: self.expected_size,
                got_digest,
                got_size,
            },
        )
    }

    /// Read to the end, so that the digest is checked.
    pub fn drain(&mut self) -> io::Result<()> {
        let mut buf = vec![0u8; 64 << 10];
        while io::Read::read(self, &mut buf)? > 0 {}
        Ok(())
    }
}

impl<R: io::Read> io::Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.verified || buf.is_empty() {
            return Ok(0);
        }
        // Never ask for more than one byte past the declared size.
        let room =
            (self.expected_size.saturating_add(1) - self.read).min(buf.len() as u64) as usize;
        let n = loop {
            match self.inner.read(&mut buf[..room]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        self.read += n as u64;
        if self.read > self.expected_size {
            return Err(self.fail(None, self.read));
        }
        self.hasher.update(&buf[..n]);
        if n == 0 {
            let got = Sha256Sum::from_hasher(std::mem::take(&mut self.hasher));
            if self.read != self.expected_size || got.hex() != self.expected_hex {
                return Err(self.fail(Some(got.prefixed()), self.read));
            }
            self.verified = true;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod verify_tests {
    use super::*;
    use std::io::Read;

    fn reader(data: &'static [u8], of: &[u8], size: u64) -> VerifyingReader<&'static [u8]> {
        VerifyingReader::new(data, Sha256Sum::of(of).hex(), size, "blob x")
    }

    #[test]
    fn accepts_exact_content() {
        let mut out = Vec::new();
        reader(b"hello", b"hello", 5).read_to_end(&mut out).unwrap();
        assert_eq!(out, b"hello");
    }

    #[test]
    fn rejects_wrong_digest_short_and_long_content() {
        let e = reader(b"hellO", b"hello", 5)
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert!(e.to_string().contains("expected sha256:"), "{e}");
        let e = reader(b"hell", b"hello", 5)
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert!(e.to_string().contains("4 bytes read"), "{e}");
        let e = reader(b"hello!", b"hello", 5)
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert!(e.to_string().contains("expected 5 bytes"), "{e}");
    }

    #[test]
    fn drain_checks_what_was_not_read() {
        let mut r = reader(b"hello", b"hellx", 5);
        let mut two = [0u8; 2];
        r.read_exact(&mut two).unwrap();
        assert!(r.drain().is_err());
    }
}

/// Whether `bytes` have the digest `algorithm:hex` (sha256 or sha512, lowercase hex); None for
/// another algorithm, which cannot be checked.
pub fn has_digest(algorithm: &str, hex: &str, bytes: &[u8]) -> Option<bool> {
    fn lower_hex(d: &[u8]) -> String {
        d.iter().map(|b| format!("{b:02x}")).collect()
    }
    match algorithm {
        "sha256" => Some(lower_hex(&Sha256::digest(bytes)) == hex),
        "sha512" => Some(lower_hex(&sha2::Sha512::digest(bytes)) == hex),
        _ => None,
    }
}

/// Decode standard base64 (RFC 4648 §4, with `=` padding), as OCI descriptors' `data` field
/// holds it. Strict: None for any other character, missing or misplaced padding, or non-zero
/// bits left over in the last character.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if bytes.len() % 4 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    let quads = bytes.len() / 4;
    for (q, quad) in bytes.chunks_exact(4).enumerate() {
        let last = q + 1 == quads;
        let pad = quad.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &quad[..4 - pad] {
            n = (n << 6) | value(c)?;
        }
        n <<= 6 * pad as u32;
        let three = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        // Bits not covered by the output bytes must be zero (canonical encoding).
        match pad {
            0 => out.extend_from_slice(&three),
            1 if n & 0xff == 0 => out.extend_from_slice(&three[..2]),
            2 if n & 0xffff == 0 => out.push(three[0]),
            _ => return None,
        }
    }
    Some(out)
}

/// Encode bytes as standard base64 (RFC 4648 §4, with `=` padding): the inverse of
/// [`decode_base64`], as docker config files hold `user:password` in `auths.*.auth`.
pub fn encode_base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod base64_tests {
    use super::decode_base64;

    macro_rules! decodes {
        ($text:expr, $bytes:expr) => {
            assert_eq!(
                decode_base64($text).as_deref(),
                Some(&$bytes[..]),
                "{}",
                $text
            )
        };
    }
    macro_rules! refused {
        ($text:expr) => {
            assert_eq!(decode_base64($text), None, "{}", $text)
        };
    }

    #[test]
    fn digests_of_both_algorithms() {
        use super::has_digest;
        let empty256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(has_digest("sha256", empty256, b""), Some(true));
        assert_eq!(has_digest("sha256", empty256, b"x"), Some(false));
        let empty512 = "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce\
                        47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";
        assert_eq!(has_digest("sha512", empty512, b""), Some(true));
        assert_eq!(
            has_digest("md5", "d41d8cd98f00b204e9800998ecf8427e", b""),
            None
        );
    }

    #[test]
    fn standard_base64_with_padding() {
        decodes!("", b"");
        decodes!("Zg==", b"f");
        decodes!("Zm8=", b"fo");
        decodes!("Zm9v", b"foo");
        decodes!("Zm9vYmFy", b"foobar");
        decodes!("e30=", b"{}");
        decodes!("+/+/", [0xfb, 0xff, 0xbf]);
        refused!("Zg");
        refused!("Zg=");
        refused!("Z===");
        refused!("Zg==Zg==");
        refused!("Zh==");
        refused!("Zm9\n");
        refused!("Zm-_");
        refused!("=Zm9");
    }

    #[test]
    fn encodes_standard_base64_with_padding() {
        use super::encode_base64;
        for (bytes, text) in [
            (&b""[..], ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foobar", "Zm9vYmFy"),
            (b"user:pass", "dXNlcjpwYXNz"),
            (&[0xfb, 0xff, 0xbf], "+/+/"),
        ] {
            assert_eq!(encode_base64(bytes), text);
        }
        let all: Vec<u8> = (0..=255).collect();
        for len in 0..all.len() {
            let text = encode_base64(&all[..len]);
            assert_eq!(decode_base64(&text).as_deref(), Some(&all[..len]), "{len}");
        }
    }
}
