//! `build --check-reproducible`: the image is built a second time — the context walked
//! again, every file read again, the layer compressed again, configs and manifests made
//! again — into a scratch store, and every blob is compared with the first build's before
//! the output is committed. A difference fails the build (exit 1) naming the first blob
//! that differs and, for the layer, the first tar entry whose bytes differ.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{Context as _, Result, anyhow};
use oci_spec::image::Descriptor;

use super::layers::{MadeLayer, Plan, layers_for, put_layers};
use super::pipeline::{BuildTarget, Built, record_for, write_image};
use crate::cancel::Cancel;
use crate::context::{self, split};
use crate::error::escape_bytes;
use crate::image::base;
use crate::image::source::Image;
use crate::layer::reader::Limits;
use crate::options::BuildOptions;
use crate::progress::NoProgress;
use crate::sink::{Format, Scratch};
use crate::store::BlobStore;

/// What one build made: its layers (each with a digest per tar entry), each platform's
/// image, and the top descriptor (the manifest, or the index of several).
pub(super) struct Pass {
    pub layers: Vec<MadeLayer>,
    pub built: Vec<Built>,
    pub top: Descriptor,
}

/// What the second build starts from that the first one worked out: the base, the
/// targets, the prefix directories the bases have, where the output is.
pub(super) struct Again<'a> {
    pub base: Option<&'a Image>,
    pub targets: &'a [BuildTarget],
    pub skip_dirs: &'a HashSet<Vec<u8>>,
    pub out: Option<(&'a Path, Format)>,
}

/// Build everything again into a scratch store and compare it with `first`.
pub(super) fn check(
    opts: &BuildOptions,
    again: &Again<'_>,
    first: &Pass,
    cancel: &Cancel,
) -> Result<()> {
    // Tracked, so that even a third Ctrl-C removes it.
    let scratch = crate::interrupt::TempDir::create(
        tempfile::Builder::new().prefix(".imgbuild-check-"),
        None,
    )
    .context("creating a scratch directory for the second build")?;
    let mut dest = Scratch(BlobStore::create(scratch.path())?);
    let ctx = context::walk(&opts.context, &opts.ignore, cancel).with_context(|| {
        format!(
            "walking build context '{}' again",
            opts.context_arg.display()
        )
    })?;
    let split = split::split(&ctx.entries, &opts.layers);
    let trees =
        super::walk_platform_trees(opts, again.targets, again.out, &mut Vec::new(), cancel)?;
    let plan = Plan {
        ctx: &ctx,
        split: &split,
        platform_trees: &trees,
        skip_dirs: again.skip_dirs,
        cache: None,
        build_start: std::time::SystemTime::now(),
    };
    let (layers, _) = put_layers(opts, &plan, true, &mut dest, &NoProgress, cancel)
        .context("building the layers a second time")?;
    // Base layers are copied and verified again too: the second build is a whole build.
    let mut copied = base::Verified::new(Limits::from_env()?);
    let mut built = Vec::new();
    for t in again.targets {
        built.push(write_image(
            opts,
            again.base,
            t,
            &layers_for(&layers, &t.platform),
            &mut dest,
            &mut copied,
            cancel,
        )?);
    }
    let record = record_for(opts, &built, &mut dest)?;
    let second = Pass {
        layers,
        built,
        top: record.top,
    };
    compare(first, &second)
}

/// The first difference between two builds, as an error; Ok when every blob is the same.
pub(super) fn compare(a: &Pass, b: &Pass) -> Result<()> {
    if a.layers.len() != b.layers.len() {
        return Err(not_reproducible(format!(
            "the first build made {} layers, the second {}",
            a.layers.len(),
            b.layers.len()
        )));
    }
    for (x, y) in a.layers.iter().zip(&b.layers) {
        if x.desc.digest != y.desc.digest {
            return Err(layer_difference(x, y));
        }
    }
    for (x, y) in a.built.iter().zip(&b.built) {
        let what = |kind: &str, d1: &dyn std::fmt::Display, d2: &dyn std::fmt::Display| {
            not_reproducible(format!(
                "the {kind} for {} differs between two builds: {d1}, then {d2}",
                x.platform
            ))
        };
        if x.config != y.config {
            return Err(what("config", &x.config.prefixed(), &y.config.prefixed()));
        }
        if x.desc.digest() != y.desc.digest() {
            return Err(what("manifest", x.desc.digest(), y.desc.digest()));
        }
    }
    if a.built.len() != b.built.len() || a.top.digest() != b.top.digest() {
        return Err(not_reproducible(format!(
            "the image index differs between two builds: {}, then {}",
            a.top.digest(),
            b.top.digest()
        )));
    }
    Ok(())
}

fn layer_difference(a: &MadeLayer, b: &MadeLayer) -> anyhow::Error {
    let which = a.comment().replacen("context directory layer", "layer", 1);
    let head = format!(
        "the {which} blob differs between two builds: {}, then {}",
        a.desc.digest.prefixed(),
        b.desc.digest.prefixed()
    );
    if a.desc.diff_id == b.desc.diff_id {
        return not_reproducible(format!(
            "{head}; its uncompressed tar is the same ({}), so the compressor gave other bytes \
             for the same input",
            a.desc.diff_id.prefixed()
        ));
    }
    let first = a
        .entries
        .iter()
        .zip(&b.entries)
        .find(|(x, y)| x != y)
        .map(|(x, y)| {
            if x.path == y.path {
                format!(
                    "first differing tar entry: '{}' (its header or content changed)",
                    escape_bytes(&x.path)
                )
            } else {
                format!(
                    "first differing tar entry: '{}', then '{}' at the same place",
                    escape_bytes(&x.path),
                    escape_bytes(&y.path)
                )
            }
        })
        .or_else(|| {
            let (longer, which) = if a.entries.len() > b.entries.len() {
                (&a.entries, "first")
            } else {
                (&b.entries, "second")
            };
            let shorter = a.entries.len().min(b.entries.len());
            longer.get(shorter).map(|e| {
                format!(
                    "first differing tar entry: '{}', only in the {which} build",
                    escape_bytes(&e.path)
                )
            })
        })
        .unwrap_or_else(|| "every tar entry is the same".into());
    not_reproducible(format!("{head}; {first}"))
}

fn not_reproducible(message: String) -> anyhow::Error {
    anyhow!("{message}").context("the build is not reproducible; nothing was written")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Sha256Sum;
    use crate::layer::{EntryDigest, LayerDescriptor};
    use oci_spec::image::MediaType;

    fn entry(path: &str, content: &str) -> EntryDigest {
        EntryDigest {
            path: path.as_bytes().to_vec(),
            digest: Sha256Sum::of(content.as_bytes()),
        }
    }

    fn pass(digest: &str, diff_id: &str, entries: Vec<EntryDigest>) -> Pass {
        let top = Descriptor::new(MediaType::ImageManifest, 2, Sha256Sum::of(b"top").to_oci());
        Pass {
            layers: vec![MadeLayer {
                desc: LayerDescriptor {
                    media_type: MediaType::ImageLayerGzip,
                    digest: Sha256Sum::of(digest.as_bytes()),
                    size: 1,
                    diff_id: Sha256Sum::of(diff_id.as_bytes()),
                    tar_size: 1,
                },
                entries,
                pattern: None,
                platform: None,
                cached: false,
            }],
            built: Vec::new(),
            top,
        }
    }

    fn message(e: anyhow::Error) -> String {
        format!("{e:#}")
    }

    #[test]
    fn names_the_first_differing_entry() {
        let a = pass(
            "x",
            "t1",
            vec![entry("a", "1"), entry("b", "2"), entry("c", "3")],
        );
        let b = pass(
            "y",
            "t2",
            vec![entry("a", "1"), entry("b", "X"), entry("c", "Y")],
        );
        let m = message(compare(&a, &b).unwrap_err());
        assert!(m.contains("first differing tar entry: 'b'"), "{m}");
        assert!(m.contains("not reproducible"), "{m}");
    }

    #[test]
    fn names_an_entry_present_in_one_build_only() {
        let a = pass("x", "t1", vec![entry("a", "1")]);
        let b = pass("y", "t2", vec![entry("a", "1"), entry("new", "2")]);
        let m = message(compare(&a, &b).unwrap_err());
        assert!(m.contains("'new', only in the second build"), "{m}");
        let m = message(compare(&b, &a).unwrap_err());
        assert!(m.contains("'new', only in the first build"), "{m}");
        let c = pass("x", "t1", vec![entry("a", "1"), entry("z", "2")]);
        let m = message(compare(&c, &b).unwrap_err());
        assert!(m.contains("'z', then 'new'"), "{m}");
    }

    #[test]
    fn same_tar_other_blob_blames_the_compressor() {
        let a = pass("x", "t", vec![entry("a", "1")]);
        let b = pass("y", "t", vec![entry("a", "1")]);
        let m = message(compare(&a, &b).unwrap_err());
        assert!(m.contains("compressor gave other bytes"), "{m}");
    }

    #[test]
    fn identical_builds_pass() {
        let a = pass("x", "t", vec![entry("a", "1")]);
        let b = pass("x", "t", vec![entry("a", "1")]);
        compare(&a, &b).unwrap();
    }
}
