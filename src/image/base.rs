//! A base image under our layer: its layers are copied verbatim (never recompressed) into the
//! output store, with Docker media types mapped to OCI ones, and verified while they are
//! copied: the blob reader checks digest and size, and a second thread, fed from the same
//! single read, decompresses it, runs the bounded tar parser over it and checks its sha256
//! against the config's diff_id. A layer that fails never gets its digest name. Also, for
//! `--prefix`, which of the prefix's directories the base already has.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, Read, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use anyhow::{Context as _, Result};
use oci_spec::image::Descriptor;

use super::source::{Image, Selected, sha256_hex};
use super::{layer_compression, oci_layer};
use crate::cancel::Cancel;
use crate::compress::{self, Algorithm};
use crate::digest::{HashWriter, Sha256Sum, VerifyingReader};
use crate::error::invalid;
use crate::layer::parse::{TarStream, stream_error};
use crate::layer::reader::{self, Decoded, LayerInfo, Limits, Source};
use crate::sink::Destination;

/// Bytes per chunk handed from the copy to the checker thread.
const CHUNK: usize = 512 << 10;
/// Chunks queued between the copy and the checker. With the recycled buffers, at most
/// about `2 × DEPTH + 2` chunks (5 MiB) exist at once, whatever the layer's size.
const DEPTH: usize = 4;

/// A base layer as one descriptor names it: one check per digest, size and media type,
/// never per digest alone (a second descriptor with the same digest but another size or
/// media type is checked as what it claims to be).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct LayerKey {
    digest: String,
    size: u64,
    media_type: String,
}

impl LayerKey {
    fn of(desc: &Descriptor) -> LayerKey {
        LayerKey {
            digest: desc.digest().to_string(),
            size: desc.size(),
            media_type: desc.media_type().to_string(),
        }
    }
}

/// The base layers verified into one output store during one build, with the diff_id each
/// one decompresses to: a layer that several platforms share is read and checked once,
/// and one already in the store (an existing layout) is checked there, not copied again.
pub struct Verified {
    limits: Limits,
    diff_ids: HashMap<LayerKey, Sha256Sum>,
    lines: Vec<String>,
}

impl Verified {
    /// Nothing verified yet; `limits` bounds each layer's decompressed size.
    pub fn new(limits: Limits) -> Verified {
        Verified {
            limits,
            diff_ids: HashMap::new(),
            lines: Vec::new(),
        }
    }

    /// One line per layer read and verified, in order (for `-v`).
    pub fn report(&self) -> &[String] {
        &self.lines
    }

    /// Make sure `layer` (layer `index` of the base, `want` its config's diff_id) is in
    /// `dest` and verified: copied and checked in one read, checked in place when the
    /// destination already has a blob of that name, or found in this build's checks.
    #[allow(clippy::too_many_arguments)]
    fn ensure(
        &mut self,
        image: &Image,
        layer: &Descriptor,
        algorithm: Algorithm,
        dest: &mut dyn Destination,
        want: &str,
        index: usize,
        cancel: &Cancel,
    ) -> Result<()> {
        let key = LayerKey::of(layer);
        if let Some(got) = self.diff_ids.get(&key) {
            return check_diff_id(layer, index, got, want);
        }
        let digest = sha(sha256_hex(layer)?);
        let (info, how) = if let Some(file) = dest.open_blob(&digest)? {
            let info = check_stored(layer, algorithm, file, &self.limits, want, index, cancel)
                .with_context(|| {
                    format!(
                        "checking base layer {} already in the output (remove that blob, or \
                         write to a new layout)",
                        layer.digest()
                    )
                })?;
            (info, "already in the output")
        } else {
            let info = copy_checked(
                image,
                layer,
                algorithm,
                dest,
                &self.limits,
                want,
                index,
                cancel,
            )
            .with_context(|| format!("copying base layer {}", layer.digest()))?;
            (info, "copied")
        };
        self.lines.push(format!(
            "verified base layer {} ({how}, {} entries): diff_id {}",
            layer.digest(),
            info.entries,
            info.diff_id
        ));
        self.diff_ids.insert(key, info.diff_id);
        Ok(())
    }
}

/// Copy the base's layers into `dest`, each verified once per build (tracked in
/// `verified`), and return their descriptors for our manifest.
pub fn copy_layers(
    image: &Image,
    base: &Selected,
    dest: &mut dyn Destination,
    verified: &mut Verified,
    cancel: &Cancel,
) -> Result<Vec<Descriptor>> {
    let layers = base.manifest.layers();
    let diff_ids = base.config.rootfs().diff_ids();
    if layers.len() != diff_ids.len() {
        return Err(invalid(format!(
            "base manifest {} has {} layers but its config lists {} diff_ids",
            base.manifest_desc.digest(),
            layers.len(),
            diff_ids.len()
        )));
    }
    let mut out = Vec::new();
    for (index, (layer, want)) in layers.iter().zip(diff_ids).enumerate() {
        sha256_hex(layer)?;
        let Some(algorithm) = layer_compression(layer.media_type()) else {
            return Err(invalid(format!(
                "base layer {} has media type {}, which imgbuild cannot carry over",
                layer.digest(),
                layer.media_type()
            )));
        };
        verified.ensure(image, layer, algorithm, dest, want, index, cancel)?;
        let mut desc = Descriptor::new(oci_layer(algorithm), layer.size(), layer.digest().clone());
        desc.set_annotations(layer.annotations().clone());
        out.push(desc);
    }
    Ok(out)
}

fn check_diff_id(layer: &Descriptor, index: usize, got: &Sha256Sum, want: &str) -> Result<()> {
    if got.prefixed() == want {
        return Ok(());
    }
    Err(invalid(format!(
        "base layer {index} ({}) uncompresses to content with sha256 {got}, but the config's \
         diff_id is {}",
        layer.digest(),
        want
    )))
}

/// Copy `layer` from `image` into `dest` while a second thread checks what it decompresses
/// to; the blob gets its name only when both sides succeed.
#[allow(clippy::too_many_arguments)]
fn copy_checked(
    image: &Image,
    layer: &Descriptor,
    algorithm: Algorithm,
    dest: &mut dyn Destination,
    limits: &Limits,
    want: &str,
    index: usize,
    cancel: &Cancel,
) -> Result<LayerInfo> {
    let digest = sha(sha256_hex(layer)?);
    let mut blob = image.open_blob(layer)?;
    let limits = *limits;
    let mut info = None;
    dest.put_blob(&digest, &mut |out| {
        let (tx, rx) = sync_channel::<Msg>(DEPTH);
        let (free_tx, free_rx) = sync_channel::<Vec<u8>>(DEPTH);
        let (copied, checked) = std::thread::scope(|s| -> Result<_> {
            let checker = std::thread::Builder::new()
                .name("imgbuild-check".into())
                .spawn_scoped(s, move || -> Result<LayerInfo> {
                    let mut chunks = Chunks::new(rx, free_tx);
                    let info = check_stream(algorithm, &mut chunks, &limits, cancel)?;
                    // Compressed bytes after the stream's end: read up to the copy's end.
                    io::copy(&mut chunks, &mut io::sink()).map_err(stream_error)?;
                    Ok(info)
                })
                .context("starting the layer checker thread")?;
            let copied = pump(&mut blob, out, &tx, &free_rx, layer, cancel);
            drop(tx);
            let checked = checker
                .join()
                .map_err(|_| anyhow::anyhow!("the layer checker thread stopped unexpectedly"))?;
            Ok((copied, checked))
        })?;
        // The copy's own error first (I/O, digest or size, interrupt): the checker only saw
        // the stream end early. Otherwise the checker's.
        let checker_read_all = copied?;
        let checked = checked?;
        if !checker_read_all {
            anyhow::bail!("the layer checker stopped before the end of the blob");
        }
        check_diff_id(layer, index, &checked.diff_id, want)?;
        info = Some(checked);
        Ok(())
    })?;
    info.context("the layer was stored without being checked")
}

/// Check the blob of `layer` that the destination already holds (`file`): digest, size,
/// tar structure and diff_id, without copying it.
fn check_stored(
    layer: &Descriptor,
    algorithm: Algorithm,
    file: File,
    limits: &Limits,
    want: &str,
    index: usize,
    cancel: &Cancel,
) -> Result<LayerInfo> {
    let hex = sha256_hex(layer)?;
    let shown = layer.digest().to_string();
    let mut blob = VerifyingReader::new(file, hex, layer.size(), format!("blob '{shown}'"));
    let info = check_stream(algorithm, &mut blob, limits, cancel)?;
    blob.drain().map_err(anyhow::Error::new)?;
    check_diff_id(layer, index, &info.diff_id, want)?;
    Ok(info)
}

/// Decompress `raw`, read it through the bounded tar parser to its end and past it, and
/// return its sha256 and size (as `inspect --verify` reads a layer). `raw` is left where
/// the decompressor stopped.
fn check_stream<R: Read>(
    algorithm: Algorithm,
    raw: R,
    limits: &Limits,
    cancel: &Cancel,
) -> Result<LayerInfo> {
    let decoder = compress::decoder(algorithm, Source(raw))
        .map_err(|e| invalid(format!("not a valid compressed stream: {e}")))?;
    let mut tar = TarStream::new(Decoded {
        inner: decoder,
        hash: HashWriter::new(io::sink()),
        count: 0,
        limit: limits.max_layer_bytes,
        cancel: cancel.clone(),
    });
    while tar.next_entry()?.is_some() {
        cancel.check()?;
    }
    let entries = tar.count();
    // The rest of the stream (end-of-archive blocks, padding) counts for the diff_id.
    reader::drain(tar.inner_mut())?;
    let (_, sum, size) = tar.into_inner().hash.finish()?;
    Ok(LayerInfo {
        diff_id: sum.expect("HashWriter::new always hashes"),
        size,
        entries,
    })
}

/// What the copy hands to the checker: a buffer with its filled length, then the end
/// (sent only once the blob reader has verified digest and size).
enum Msg {
    Data(Vec<u8>, usize),
    End,
}

/// Read `blob` to its end into `out`, handing each chunk to the checker. Ok(false) when
/// the checker stopped listening (it failed; its error says why).
fn pump<R: Read>(
    blob: &mut R,
    out: &mut dyn Write,
    tx: &SyncSender<Msg>,
    free: &Receiver<Vec<u8>>,
    layer: &Descriptor,
    cancel: &Cancel,
) -> Result<bool> {
    loop {
        cancel.check()?;
        let mut buf = free.try_recv().unwrap_or_else(|_| vec![0u8; CHUNK]);
        let n = blob
            .read(&mut buf)
            .with_context(|| format!("copying blob {}", layer.digest()))?;
        if n == 0 {
            return Ok(tx.send(Msg::End).is_ok());
        }
        out.write_all(&buf[..n])
            .with_context(|| format!("writing blob {}", layer.digest()))?;
        if tx.send(Msg::Data(buf, n)).is_err() {
            return Ok(false);
        }
    }
}

/// The checker's side of the channel as a reader; used buffers go back to the copy.
struct Chunks {
    rx: Receiver<Msg>,
    free: SyncSender<Vec<u8>>,
    buf: Vec<u8>,
    len: usize,
    pos: usize,
    ended: bool,
}

impl Chunks {
    fn new(rx: Receiver<Msg>, free: SyncSender<Vec<u8>>) -> Chunks {
        Chunks {
            rx,
            free,
            buf: Vec::new(),
            len: 0,
            pos: 0,
            ended: false,
        }
    }
}

impl Read for Chunks {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.len {
            if self.ended || out.is_empty() {
                return Ok(0);
            }
            if self.buf.capacity() > 0 {
                // A full queue only means the copy has buffers enough: drop this one.
                let _ = self.free.try_send(std::mem::take(&mut self.buf));
            }
            (self.len, self.pos) = (0, 0);
            match self.rx.recv() {
                Ok(Msg::Data(buf, n)) => {
                    self.len = n.min(buf.len());
                    self.buf = buf;
                }
                Ok(Msg::End) => self.ended = true,
                Err(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the copy of the blob stopped before its end",
                    ));
                }
            }
        }
        let n = out.len().min(self.len - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn sha(hex: &str) -> Sha256Sum {
    Sha256Sum::from_hex(hex).expect("sha256_hex returned 64 lowercase hex characters")
}
/// Which of `wanted` (layer paths without a trailing `/`) are directories in the base's
/// filesystem once all its layers are applied (whiteouts and opaque directories honoured).
pub fn existing_dirs(
    image: &Image,
    base: &Selected,
    wanted: &[Vec<u8>],
    cancel: &Cancel,
) -> Result<HashSet<Vec<u8>>> {
    let mut present: HashSet<Vec<u8>> = HashSet::new();
    if wanted.is_empty() {
        return Ok(present);
    }
    for layer in base.manifest.layers() {
        let algorithm = layer_compression(layer.media_type()).ok_or_else(|| {
            invalid(format!(
                "base layer {} has media type {}",
                layer.digest(),
                layer.media_type()
            ))
        })?;
        let mut verified = image.open_blob(layer)?;
        {
            let mut archive = tar::Archive::new(compress::decoder(algorithm, &mut verified)?);
            for entry in archive.entries().map_err(|e| bad_layer(layer, e))? {
                cancel.check()?;
                let entry = entry.map_err(|e| bad_layer(layer, e))?;
                let path = clean(&entry.path_bytes());
                let (dir, name) = match path.iter().rposition(|&b| b == b'/') {
                    Some(i) => (path[..i].to_vec(), path[i + 1..].to_vec()),
                    None => (Vec::new(), path.clone()),
                };
                if name == b".wh..wh..opq" {
                    present.retain(|p| !is_under(p, &dir));
                } else if let Some(hidden) = name.strip_prefix(b".wh.") {
                    let mut gone = dir.clone();
                    if !gone.is_empty() {
                        gone.push(b'/');
                    }
                    gone.extend_from_slice(hidden);
                    present.retain(|p| p != &gone && !is_under(p, &gone));
                } else if wanted.contains(&path) {
                    if entry.header().entry_type().is_dir() {
                        present.insert(path);
                    } else {
                        present.remove(&path);
                    }
                }
            }
        }
        // The tar reader stops at the end-of-archive blocks: read the rest so the digest is
        // checked.
        io::copy(&mut verified, &mut io::sink()).map_err(|e| bad_layer(layer, e))?;
    }
    Ok(present)
}

fn bad_layer(layer: &Descriptor, e: io::Error) -> anyhow::Error {
    if e.get_ref()
        .is_some_and(|i| i.is::<crate::digest::VerifyError>())
    {
        return anyhow::Error::new(e);
    }
    invalid(format!(
        "base layer {} is not a valid tar: {e}",
        layer.digest()
    ))
}

/// `./a/b/` → `a/b`.
fn clean(raw: &[u8]) -> Vec<u8> {
    let parts: Vec<&[u8]> = raw
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .collect();
    parts.join(&b'/')
}

/// `p` is strictly below `dir` (everything is below the root, "").
fn is_under(p: &[u8], dir: &[u8]) -> bool {
    dir.is_empty() || (p.len() > dir.len() && p.starts_with(dir) && p[dir.len()] == b'/')
}

#[cfg(test)]
mod tests;
