//! A base image under our layer: its layers are copied verbatim (never recompressed) into the
//! output store, verified while they are copied, with Docker media types mapped to OCI ones;
//! and for `--prefix`, which of the prefix's directories the base already has.

use std::collections::HashSet;
use std::io;

use anyhow::{Context as _, Result};
use oci_spec::image::Descriptor;

use super::source::{Image, Selected, sha256_hex};
use super::{layer_compression, oci_layer};
use crate::compress;
use crate::digest::Sha256Sum;
use crate::error::invalid;
use crate::interrupt;
use crate::progress::NoProgress;
use crate::store::BlobStore;

/// Copy the base's layers into `store` (once per digest across calls, tracked in `done`) and
/// return their descriptors for our manifest.
pub fn copy_layers(
    image: &Image,
    base: &Selected,
    store: &BlobStore,
    done: &mut HashSet<String>,
) -> Result<Vec<Descriptor>> {
    let mut out = Vec::new();
    for layer in base.manifest.layers() {
        let hex = sha256_hex(layer)?.to_owned();
        let Some(algorithm) = layer_compression(layer.media_type()) else {
            return Err(invalid(format!(
                "base layer {} has media type {}, which imgbuild cannot carry over",
                layer.digest(),
                layer.media_type()
            )));
        };
        let mut desc = Descriptor::new(oci_layer(algorithm), layer.size(), layer.digest().clone());
        desc.set_annotations(layer.annotations().clone());
        out.push(desc);
        if done.contains(&hex) || store.blob_path(&sha(&hex)).is_file() {
            done.insert(hex);
            continue;
        }
        image
            .copy_blob_into(layer, store, &NoProgress)
            .with_context(|| format!("copying base layer {}", layer.digest()))?;
        done.insert(hex);
    }
    Ok(out)
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
                interrupt::check()?;
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
mod tests {
    use super::*;

    #[test]
    fn path_helpers() {
        assert_eq!(clean(b"./opt/app/"), b"opt/app");
        assert_eq!(clean(b"opt"), b"opt");
        assert!(is_under(b"opt/app", b"opt"));
        assert!(!is_under(b"optx", b"opt"));
        assert!(!is_under(b"opt", b"opt"));
        assert!(is_under(b"opt", b""));
    }
}
