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
    pub fn of(bytes: &[u8]) -> Sha256Sum {
        Sha256Sum::from_hasher(Sha256::new_with_prefix(bytes))
    }

    fn from_hasher(hasher: Sha256) -> Sha256Sum {
        let bytes = hasher.finalize();
        let mut hex = String::with_capacity(64);
        for b in bytes {
            hex.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            hex.push(char::from(b"0123456789abcdef"[usize::from(b & 0xf)]));
        }
        Sha256Sum { hex }
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
