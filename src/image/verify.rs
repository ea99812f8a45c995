//! Whole-image verification (`inspect --verify`): read every blob under what the reference names (indexes, manifests,
//! configs, layers) to its end, check each against its descriptor (digest and size), each
//! layer's uncompressed sha256 against its config's diff_id and its tar structure against
//! the parser's bounds, and collect every problem instead of stopping at the first.

use std::collections::{HashMap, HashSet};

use oci_spec::image::Descriptor;

use crate::cancel::Cancel;
use crate::image::source::{Image, MAX_CONFIG, MAX_DEPTH};
use crate::image::{Platform, is_index, is_manifest};
use crate::layer::reader::{Limits, read_layer};

/// What a whole-image verification found.
#[derive(Debug, Default)]
pub struct Verification {
    /// Blobs read to their end and checked.
    pub blobs: u64,
    /// Their bytes, as stored.
    pub bytes: u64,
    /// Every problem found, one message each; empty when the image is sound.
    pub problems: Vec<String>,
    /// Uncompressed size of each layer read, by digest.
    pub uncompressed: HashMap<String, u64>,
    /// Set when cancelled: verification stopped early.
    pub interrupted: Option<anyhow::Error>,
}

/// What a descriptor is used as: each role has its own checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Role {
    Index,
    Manifest,
    Config,
    Layer,
    Other,
}

/// One check: a blob is checked once per digest, size, media type and role, never once per
/// digest (a layer that names the config's digest, or another layer's with another media
/// type or size, is checked as what it claims to be).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    digest: String,
    size: u64,
    media_type: String,
    role: Role,
}

impl Key {
    fn of(desc: &Descriptor, role: Role) -> Key {
        Key {
            digest: desc.digest().to_string(),
            size: desc.size(),
            media_type: desc.media_type().to_string(),
            role,
        }
    }
}

struct Verifier<'a> {
    image: &'a Image,
    limits: &'a Limits,
    cancel: &'a Cancel,
    seen: HashSet<Key>,
    /// The platform each manifest's config states (None when it could not be read).
    manifests: HashMap<Key, Option<Platform>>,
    /// diff_id of each layer read.
    diff_ids: HashMap<Key, String>,
    out: Verification,
}

/// Verify everything under `top`, until done or `cancel`led (see
/// [`Verification::interrupted`]).
pub fn verify(image: &Image, top: &Descriptor, limits: &Limits, cancel: &Cancel) -> Verification {
    let mut v = Verifier {
        image,
        limits,
        cancel,
        seen: HashSet::new(),
        manifests: HashMap::new(),
        diff_ids: HashMap::new(),
        out: Verification::default(),
    };
    for w in image.warnings() {
        v.problem(crate::error::invalid(w.clone()));
    }
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
        self.out.interrupted.is_some() || self.cancel.is_cancelled()
    }

    /// Count a check once; false when this descriptor was already checked in this role.
    /// The index made for a platform set is checked but not counted: it is not stored.
    fn first_time(&mut self, desc: &Descriptor, role: Role) -> bool {
        let new = self.seen.insert(Key::of(desc, role));
        if new && !self.image.is_platform_set(desc) {
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
            if self.first_time(desc, Role::Other)
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
        if !self.first_time(desc, Role::Index) {
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

    /// A listed platform must be the one the manifest's config states.
    fn check_listed(&mut self, desc: &Descriptor, listed: Option<Platform>, actual: &Platform) {
        if let Some(listed) = listed
            && listed != *actual
        {
            self.problem(crate::error::invalid(format!(
                "manifest {} is listed for {listed} but its config says {actual}",
                desc.digest()
            )));
        }
    }

    fn manifest(&mut self, desc: &Descriptor, listed: Option<Platform>) {
        let mkey = Key::of(desc, Role::Manifest);
        if let Some(known) = self.manifests.get(&mkey).cloned() {
            // Read and checked before; only this listing's platform is new.
            if let Some(actual) = known {
                self.check_listed(desc, listed, &actual);
            }
            return;
        }
        self.first_time(desc, Role::Manifest);
        self.manifests.insert(mkey.clone(), None);
        let manifest = match self.image.read_manifest(desc) {
            Ok((m, _)) => m,
            Err(e) => return self.problem(e),
        };
        let config_first = self.first_time(manifest.config(), Role::Config);
        let config = match self.image.read_config(manifest.config()) {
            Ok((c, _)) => c,
            Err(e) if config_first => return self.problem(e),
            // Already reported for the manifest that checked this config first.
            Err(_) => return,
        };
        let platform = Platform::from_image(
            &config.os().to_string(),
            &config.architecture().to_string(),
            config.variant().as_deref(),
        );
        self.manifests.insert(mkey, Some(platform.clone()));
        self.check_listed(desc, listed, &platform);
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
            let key = Key::of(layer, Role::Layer);
            if self.first_time(layer, Role::Layer) {
                let what = format!("layer {i} of manifest {}", desc.digest());
                let cancel = self.cancel;
                let read = read_layer(self.image, layer, None, self.limits, &what, cancel, |tar| {
                    while tar.next_entry()?.is_some() {
                        cancel.check()?;
                    }
                    Ok(())
                });
                match read {
                    Ok(((), info)) => {
                        self.out.uncompressed.insert(key.digest.clone(), info.size);
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
                    "layer {i} ({}) of manifest {} uncompresses to content with sha256 {got}, but the config's diff_id is {want}",
                    key.digest,
                    desc.digest()
                );
                self.problem(crate::error::invalid(msg));
            }
        }
    }
}
