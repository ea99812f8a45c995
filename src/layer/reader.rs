//! Reading one layer of an image: blob (verified against its descriptor: digest and size)
//! → decompressor (bounded: a per-layer cap on decompressed bytes) → sha256 of the
//! uncompressed stream (checked against the config's diff_id) → the bounded tar parser.
//! The blob is always read to its end, past the tar's end-of-archive blocks, so that its
//! digest is checked; a layer is trusted only once `read_layer` has returned.

use std::io::{self, Read};

use anyhow::{Context as _, Result};
use oci_spec::image::Descriptor;

use super::parse::{SourceIo, TarStream, TooLarge, stream_error};
use crate::cancel::Cancel;
use crate::compress::{self, Algorithm};
use crate::digest::{HashWriter, Sha256Sum, VerifyError};
use crate::error::{UsageError, invalid};
use crate::image::layer_compression;
use crate::image::source::Image;

/// The default cap on one layer's decompressed size.
pub const DEFAULT_MAX_LAYER_BYTES: u64 = 32 << 30;
/// The environment variable that overrides it (a number of bytes).
pub const MAX_LAYER_BYTES_ENV: &str = "IMGBUILD_MAX_LAYER_BYTES";

/// Bounds applied while reading layers.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The most decompressed bytes a layer may have; reading more is an error.
    pub max_layer_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_layer_bytes: DEFAULT_MAX_LAYER_BYTES,
        }
    }
}

impl Limits {
    /// The default limits, or `IMGBUILD_MAX_LAYER_BYTES` when it is set.
    pub fn from_env() -> Result<Limits> {
        match std::env::var(MAX_LAYER_BYTES_ENV) {
            Ok(v) if !v.trim().is_empty() => {
                let n = v.trim().parse::<u64>().ok().filter(|&n| n > 0).ok_or_else(|| {
                    UsageError::new(format!(
                        "invalid {MAX_LAYER_BYTES_ENV} '{v}': expected a positive number of bytes"
                    ))
                })?;
                Ok(Limits { max_layer_bytes: n })
            }
            _ => Ok(Limits::default()),
        }
    }
}

/// What reading a whole layer established.
#[derive(Debug, Clone)]
pub struct LayerInfo {
    /// sha256 of the uncompressed tar.
    pub diff_id: Sha256Sum,
    /// Size of the uncompressed tar.
    pub size: u64,
    /// Entries in the tar.
    pub entries: u64,
}

/// Marks errors of the blob reader so that they can be told from decompressor errors.
pub(crate) struct Source<R>(pub(crate) R);

impl<R: Read> Read for Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|e| {
            if e.get_ref().is_some_and(|i| i.is::<VerifyError>()) {
                e
            } else {
                io::Error::new(e.kind(), SourceIo(e))
            }
        })
    }
}

/// Hashes and counts the decompressed bytes, refusing more than `limit`.
pub struct Decoded<R> {
    pub(crate) inner: R,
    pub(crate) hash: HashWriter<io::Sink>,
    pub(crate) count: u64,
    pub(crate) limit: u64,
    /// Checked before every read.
    pub(crate) cancel: Cancel,
}

impl<R: Read> Read for Decoded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.cancel.check_io()?;
        let n = self.inner.read(buf)?;
        io::Write::write_all(&mut self.hash, &buf[..n])?;
        self.count += n as u64;
        if self.count > self.limit {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                TooLarge(self.limit),
            ));
        }
        Ok(n)
    }
}

/// The tar stream of a layer, as handed to `read_layer`'s callback.
pub type LayerTar<'a> = TarStream<Decoded<Box<dyn Read + 'a>>>;

/// Read layer `desc` of `image` through `f`, then to the end: the blob's digest and size
/// are checked, and its uncompressed sha256 against `diff_id` when given. `what` names the
/// layer in messages ("layer 2"). Once `cancel` is set, the next read fails with
/// `Interrupted`.
pub fn read_layer<T>(
    image: &Image,
    desc: &Descriptor,
    diff_id: Option<&str>,
    limits: &Limits,
    what: &str,
    cancel: &Cancel,
    f: impl FnOnce(&mut LayerTar<'_>) -> Result<T>,
) -> Result<(T, LayerInfo)> {
    let context = || format!("reading {what} ({})", desc.digest());
    let algorithm = algorithm_of(desc).with_context(context)?;
    let mut blob = image.open_blob(desc).with_context(context)?;
    let (value, info) = {
        let decoder = compress::decoder(algorithm, Source(&mut blob))
            .map_err(|e| invalid(format!("not a valid compressed stream: {e}")))
            .with_context(context)?;
        let decoded = Decoded {
            inner: decoder,
            hash: HashWriter::new(io::sink()),
            count: 0,
            limit: limits.max_layer_bytes,
            cancel: cancel.clone(),
        };
        let mut tar = TarStream::new(decoded);
        let value = f(&mut tar).with_context(context)?;
        let entries = tar.count();
        // The rest of the stream (end-of-archive blocks, padding) counts for the diff_id.
        drain(tar.inner_mut()).with_context(context)?;
        let decoded = tar.into_inner();
        let (_, sum, size) = decoded.hash.finish().with_context(context)?;
        let diff_id = sum.expect("HashWriter::new always hashes");
        (
            value,
            LayerInfo {
                diff_id,
                size,
                entries,
            },
        )
    };
    blob.drain()
        .map_err(anyhow::Error::new)
        .with_context(context)?;
    if let Some(want) = diff_id
        && want != info.diff_id.prefixed()
    {
        return Err(invalid(format!(
            "{what} ({}) uncompresses to content with sha256 {}, but the config's diff_id is {want}",
            desc.digest(),
            info.diff_id
        )));
    }
    Ok((value, info))
}

pub(crate) fn drain<R: Read>(r: &mut R) -> Result<()> {
    let mut buf = vec![0u8; 64 << 10];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(stream_error(e)),
        }
    }
}

/// The compression of a layer from its media type; other media types are refused.
pub fn algorithm_of(desc: &Descriptor) -> Result<Algorithm> {
    layer_compression(desc.media_type()).ok_or_else(|| {
        invalid(format!(
            "layer {} has media type {}, which is not a layer imgbuild can read",
            desc.digest(),
            desc.media_type()
        ))
    })
}
