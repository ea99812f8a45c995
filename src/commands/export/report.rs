//! The `--json` document of `export`: dedicated report types, documented in the README.

use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct ExportReport {
    /// Image formats: the exported image (index or manifest). Rootfs formats: the manifest
    /// that was flattened.
    pub digest: String,
    pub media_type: String,
    pub source: SourceReport,
    pub output: OutputReport,
    /// The one platform kept or flattened; null when every platform was kept.
    pub platform: Option<String>,
    /// True when `index.json` now names one manifest of a multi-platform source.
    pub new_index: bool,
    /// Tags written (`--tag`, or the source's); empty for rootfs formats.
    pub tags: Vec<String>,
    /// Image formats: the blobs copied, verbatim.
    pub blobs: Option<BlobsReport>,
    /// Rootfs formats: what the flattened filesystem holds.
    pub rootfs: Option<RootfsReport>,
    pub warnings: Vec<String>,
    pub elapsed_ms: u64,
}

#[derive(Debug, Serialize)]
pub struct SourceReport {
    /// The IMAGE argument as given.
    pub reference: String,
    /// `oci-dir`, `oci-archive` or `docker-archive`.
    pub form: String,
    /// What the reference names.
    pub digest: String,
}

#[derive(Debug, Serialize)]
pub struct OutputReport {
    pub format: String,
    /// The output path, or null for stdout.
    pub path: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct BlobsReport {
    pub count: u64,
    pub bytes: u64,
}

#[derive(Debug, Serialize)]
pub struct RootfsReport {
    /// Layers applied.
    pub layers: u64,
    pub dirs: u64,
    pub files: u64,
    pub hardlinks: u64,
    pub symlinks: u64,
    /// Devices and fifos written.
    pub specials: u64,
    /// Device files left out (rootfs-dir when not running as root).
    pub skipped_devices: u64,
    /// Content bytes of the regular files.
    pub bytes: u64,
    /// Whiteout entries (`.wh.NAME`) applied.
    pub whiteouts: u64,
    /// Opaque-directory markers (`.wh..wh..opq`) applied.
    pub opaque_dirs: u64,
}
