//! The `--json` document of `inspect`: dedicated report types, so the schema is a contract
//! of its own and never follows internal types by accident. Documented in the README.

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct InspectReport {
    /// The IMAGE argument as given.
    pub reference: String,
    /// `oci-dir`, `oci-archive` or `docker-archive`.
    pub format: String,
    /// What the reference names: an index or a manifest.
    pub digest: String,
    pub media_type: String,
    pub size: u64,
    /// The `org.opencontainers.image.ref.name` of index.json entries with this digest.
    pub tags: Vec<String>,
    /// Every image manifest under the digest (just the one for a manifest).
    pub platforms: Vec<PlatformReport>,
    /// The manifest shown (`--platform`, or the only one, or linux/amd64, or the first).
    pub manifest: ManifestReport,
    /// With `--verify`: what was checked and the problems found.
    pub verify: Option<VerifyReport>,
}

#[derive(Debug, Serialize)]
pub struct PlatformReport {
    pub platform: String,
    pub digest: String,
    pub size: u64,
}

#[derive(Debug, Serialize)]
pub struct ManifestReport {
    pub digest: String,
    pub media_type: String,
    pub size: u64,
    pub platform: String,
    pub annotations: BTreeMap<String, String>,
    pub config: BlobReport,
    pub created: Option<String>,
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
    pub env: Vec<String>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub exposed_ports: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub layers: Vec<LayerReport>,
}

#[derive(Debug, Serialize)]
pub struct BlobReport {
    pub digest: String,
    pub media_type: String,
    pub size: u64,
}

#[derive(Debug, Serialize)]
pub struct LayerReport {
    /// 0 is the bottom layer.
    pub index: usize,
    pub digest: String,
    pub media_type: String,
    /// Compressed size (the blob's).
    pub size: u64,
    pub diff_id: String,
    /// Size of the uncompressed tar: known for uncompressed layers, or after `--verify`.
    pub uncompressed_size: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct VerifyReport {
    pub ok: bool,
    /// Blobs read and checked against their descriptors.
    pub blobs: u64,
    /// Bytes of those blobs.
    pub bytes: u64,
    pub problems: Vec<String>,
}
