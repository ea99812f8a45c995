//! A registry as a destination: blobs are staged in a temporary store while the image is
//! made, then `finish` pushes them to every target reference (each blob checked first and
//! skipped when there, mounted from the base's repository when it is on the same host,
//! else streamed from its file), then the platform manifests by digest, then the top
//! manifest or index under each tag, last: an interrupted push leaves no tag pointing at a
//! partial image.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, Result};
use oci_spec::image::Descriptor;

use super::{Reference, Registry};
use crate::cancel::Cancel;
use crate::digest::Sha256Sum;
use crate::error::{UsageError, invalid};
use crate::image::source::{parse_index, parse_manifest, sha256_hex};
use crate::image::{is_index, is_manifest};
use crate::interrupt::TempDir;
use crate::progress::{Progress, Stage};
use crate::sink::{self, Destination, Format, ImageRecord};
use crate::store::BlobStore;

/// One reference pushed, with the digest the registry now has under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// `HOST/REPO:TAG`, normalized (`docker.io/library/app:1`).
    pub reference: String,
    /// The manifest or index digest, `sha256:…`.
    pub digest: String,
    /// Blobs uploaded (the rest were there already or mounted).
    pub uploaded: u64,
    /// Blobs the registry had already.
    pub skipped: u64,
}

/// What a push did, readable after the destination is finished.
#[derive(Debug, Clone, Default)]
pub struct PushLog(Arc<Mutex<Vec<Pushed>>>);

impl PushLog {
    /// Every reference pushed so far, in order.
    pub fn pushed(&self) -> Vec<Pushed> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Pushes the image it is given to one or more references.
pub struct RegistryDest<'p> {
    registry: Arc<Registry>,
    targets: Vec<Reference>,
    mount_from: Option<Reference>,
    staging: TempDir,
    store: BlobStore,
    progress: &'p dyn Progress,
    log: PushLog,
}

impl<'p> RegistryDest<'p> {
    /// A destination that pushes to each of `targets` (every one with a tag). Blobs are
    /// staged under the system's temporary directory meanwhile.
    pub fn new(
        registry: Arc<Registry>,
        targets: Vec<Reference>,
        progress: &'p dyn Progress,
    ) -> Result<(RegistryDest<'p>, PushLog)> {
        if targets.is_empty() {
            return Err(UsageError::new("nothing to push to")
                .with_hint("name the image with -t HOST/REPO:TAG")
                .into());
        }
        let staging = sink::output::stream_staging()?;
        let store = BlobStore::create(staging.path())?;
        let log = PushLog::default();
        Ok((
            RegistryDest {
                registry,
                targets,
                mount_from: None,
                staging,
                store,
                progress,
                log: log.clone(),
            },
            log,
        ))
    }

    /// Blobs missing from a target may be mounted from this repository (the base's) when
    /// it is on the same host, instead of uploaded.
    pub fn mount_from(&mut self, from: Reference) {
        self.mount_from = Some(from);
    }
}

impl Destination for RegistryDest<'_> {
    crate::sink::staged_blobs!(store, layers);

    fn format(&self) -> Format {
        Format::OciDir
    }

    fn path(&self) -> Option<&Path> {
        None
    }

    fn finish(self: Box<Self>, record: &ImageRecord, cancel: &Cancel) -> Result<()> {
        let plan = Plan::of(&self.store, &record.top)?;
        let total: u64 = plan.blobs.iter().map(|(_, size, _)| size).sum();
        for target in &self.targets {
            cancel.check()?;
            let tag = target.tag().map(str::to_owned).ok_or_else(|| {
                anyhow::Error::new(UsageError::new(format!("'{target}' has no tag to push to")))
            })?;
            self.progress.stage(Stage::Pushing, Some(total));
            let (uploaded, skipped) = self.registry.push_blobs(
                target,
                &plan.blobs,
                self.mount_from.as_ref(),
                self.progress,
                cancel,
            )?;
            for (digest, media_type, bytes) in &plan.children {
                let by_digest = target.clone_with_digest(digest.prefixed());
                self.registry
                    .push_manifest(&by_digest, bytes, media_type, cancel)?;
            }
            let tagged = Reference::with_tag(
                target.registry().to_owned(),
                target.repository().to_owned(),
                tag,
            );
            self.registry
                .push_manifest(&tagged, &plan.top.1, &plan.top.0, cancel)?;
            self.log
                .0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(Pushed {
                    reference: tagged.whole(),
                    digest: record.top.digest().to_string(),
                    uploaded,
                    skipped,
                });
        }
        drop(self.staging);
        Ok(())
    }
}

/// What a push sends, in order: the blobs (configs and layers), the platform manifests of
/// an index, then the top document.
struct Plan {
    blobs: Vec<(Sha256Sum, u64, PathBuf)>,
    children: Vec<(Sha256Sum, String, Vec<u8>)>,
    top: (String, Vec<u8>),
}

impl Plan {
    fn of(store: &BlobStore, top: &Descriptor) -> Result<Plan> {
        let mut plan = Plan {
            blobs: Vec::new(),
            children: Vec::new(),
            top: (top.media_type().to_string(), read(store, top)?),
        };
        if is_index(top.media_type()) {
            let index = parse_index(&plan.top.1).context("reading the index to push")?;
            for child in index.manifests() {
                if !is_manifest(child.media_type()) {
                    return Err(invalid(format!(
                        "the index lists {} of type {}, which imgbuild does not push",
                        child.digest(),
                        child.media_type()
                    )));
                }
                let bytes = read(store, child)?;
                plan.add_blobs_of(store, &bytes)?;
                plan.children
                    .push((sum_of(child)?, child.media_type().to_string(), bytes));
            }
        } else {
            let bytes = plan.top.1.clone();
            plan.add_blobs_of(store, &bytes)?;
        }
        Ok(plan)
    }

    fn add_blobs_of(&mut self, store: &BlobStore, manifest: &[u8]) -> Result<()> {
        let m = parse_manifest(manifest).context("reading a manifest to push")?;
        for d in std::iter::once(m.config()).chain(m.layers()) {
            let sum = sum_of(d)?;
            if !self.blobs.iter().any(|(s, _, _)| *s == sum) {
                self.blobs
                    .push((sum.clone(), d.size(), store.blob_path(&sum)));
            }
        }
        Ok(())
    }
}

fn sum_of(d: &Descriptor) -> Result<Sha256Sum> {
    Sha256Sum::from_hex(sha256_hex(d)?).context("a digest that is not sha256")
}

fn read(store: &BlobStore, d: &Descriptor) -> Result<Vec<u8>> {
    let sum = sum_of(d)?;
    let mut bytes = Vec::new();
    store
        .open(&sum)?
        .take(4 << 20)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {sum}"))?;
    Ok(bytes)
}
