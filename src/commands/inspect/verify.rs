//! `inspect --verify`: read every blob under what the reference names (indexes, manifests,
//! configs, layers) to its end, check each against its descriptor (digest and size), each
//! layer's uncompressed sha256 against its config's diff_id and its tar structure against
//! the parser's bounds, and collect every problem instead of stopping at the first.

use std::collections::{HashMap, HashSet};

use oci_spec::image::Descriptor;

use crate::image::source::{Image, MAX_CONFIG};
use crate::image::{Platform, is_index, is_manifest};
use crate::interrupt;
use crate::layer::reader::{Limits, read_layer};

/// Indexes nest at most this deep (as the reader allows).
const MAX_DEPTH: usize = 8;

#[derive(Debug, Default)]
pub struct Verification {
    pub blobs: u64,
    pub bytes: u64,
    pub problems: Vec<String>,
    /// Uncompressed size of each layer read, by digest.
    pub uncompressed: HashMap<String, u64>,
    /// Set when a signal arrived: verification stopped early.
    pub interrupted: Option<anyhow::Error>,
}

struct Verifier<'a> {
    image: &'a Image,
    limits: &'a Limits,
    seen: HashSet<String>,
    /// diff_id of each layer read, by digest.
    diff_ids: HashMap<String, String>,
    out: Verification,
}

/// Verify everything under `top`.
pub fn verify(image: &Image, top: &Descriptor, limits: &Limits) -> Verification {
    let mut v = Verifier {
        image,
        limits,
        seen: HashSet::new(),
        diff_ids: HashMap::new(),
        out: Verification::default(),
    };
    v.visit(top, None, 0);
    v.out
}

impl Verifier<'_> {
    fn problem(&mut self, e: anyhow::Error) {
        if e.chain().any(|c| c.is::<crate::error::Interrupted>()) {
            self.out.interrupted.get_or_insert(e);
            return;
        }
        self.out.problems.push(format!("{e:#}"));
    }

    fn stopped(&self) -> bool {
        self.out.interrupted.is_some() || interrupt::check().is_err()
    }

    /// Count a blob once; false when it was already checked.
    fn first_time(&mut self, desc: &Descriptor) -> bool {
        let new = self.seen.insert(desc.digest().to_string());
        if new {
            self.out.blobs += 1;
            self.out.bytes = self.out.bytes.saturating_add(desc.size());
        }
        new
    }

    fn visit(&mut self, desc: &Descriptor, platform: Option<Platform>, depth: usize) {
        if self.stopped() {
            return;
        }
        if is_manifest(desc.media_type()) {
            return self.manifest(desc, platform);
        }
        if !is_index(desc.media_type()) {
            // Not an image (an artifact or attestation): check its bytes only.
            if self.first_time(desc)
                && let Err(e) = self.image.read_blob(desc, MAX_CONFIG)
            {
                self.problem(e);
            }
            return;
        }
        if depth > MAX_DEPTH {
            return self.problem(crate::error::invalid(format!(
                "indexes nest more than {MAX_DEPTH} deep"
            )));
        }
        if !self.first_time(desc) {
            return;
        }
        let index = match self.image.read_index(desc) {
            Ok((index, _)) => index,
            Err(e) => return self.problem(e),
        };
        for child in index.manifests() {
            let p = child.platform().as_ref().map(Platform::from_oci);
            self.visit(child, p, depth + 1);
        }
    }

    fn manifest(&mut self, desc: &Descriptor, listed: Option<Platform>) {
        if !self.first_time(desc) {
            return;
        }
        let manifest = match self.image.read_manifest(desc) {
            Ok((m, _)) => m,
            Err(e) => return self.problem(e),
        };
        self.first_time(manifest.config());
        let config = match self.image.read_config(manifest.config()) {
            Ok((c, _)) => c,
            Err(e) => return self.problem(e),
        };
        let platform = Platform::from_image(
            &config.os().to_string(),
            &config.architecture().to_string(),
            config.variant().as_deref(),
        );
        if let Some(listed) = listed
            && listed != platform
        {
            self.problem(crate::error::invalid(format!(
                "manifest {} is listed for {listed} but its config says {platform}",
                desc.digest()
            )));
        }
        let diff_ids = config.rootfs().diff_ids();
        if diff_ids.len() != manifest.layers().len() {
            self.problem(crate::error::invalid(format!(
                "manifest {} has {} layers but its config lists {} diff_ids",
                desc.digest(),
                manifest.layers().len(),
                diff_ids.len()
            )));
        }
        for (i, layer) in manifest.layers().iter().enumerate() {
            if self.stopped() {
                return;
            }
            let key = layer.digest().to_string();
            if self.first_time(layer) {
                let what = format!("layer {i} of manifest {}", desc.digest());
                let read = read_layer(self.image, layer, None, self.limits, &what, |tar| {
                    while tar.next_entry()?.is_some() {
                        interrupt::check()?;
                    }
                    Ok(())
                });
                match read {
                    Ok(((), info)) => {
                        self.out.uncompressed.insert(key.clone(), info.size);
                        self.diff_ids.insert(key.clone(), info.diff_id.prefixed());
                    }
                    Err(e) => {
                        self.problem(e);
                        continue;
                    }
                }
            }
            let (Some(got), Some(want)) = (self.diff_ids.get(&key), diff_ids.get(i)) else {
                continue;
            };
            if *got != *want {
                let msg = format!(
                    "layer {i} ({key}) of manifest {} uncompresses to content with sha256 {got}, but the config's diff_id is {want}",
                    desc.digest()
                );
                self.problem(crate::error::invalid(msg));
            }
        }
    }
}
