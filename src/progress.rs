//! Progress events emitted by the library. The CLI decides how (and whether) to draw them;
//! nothing in the library knows about terminals.

/// The stages of a build or export, in the order they happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// build: walking the context.
    Walking,
    /// build: writing the context layer (file content read, in bytes).
    WritingLayer,
    /// build: base layers, configs, manifests, index, commit.
    WritingImage,
    /// export: reading and verifying every layer (rootfs formats).
    ReadingLayers,
    /// export: writing the flattened filesystem.
    WritingRootfs,
    /// export: copying blobs into the new image.
    CopyingBlobs,
    /// build --push, push: uploading blobs to a registry (bytes of the blobs).
    Pushing,
}

impl Stage {
    /// A short name of the stage for messages.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Walking => "walking context",
            Stage::WritingLayer => "writing layer",
            Stage::WritingImage => "writing image",
            Stage::ReadingLayers => "reading layers",
            Stage::WritingRootfs => "writing root filesystem",
            Stage::CopyingBlobs => "copying blobs",
            Stage::Pushing => "pushing",
        }
    }
}

/// What a long operation reports while it runs; every method has an empty default, and
/// [`NoProgress`] reports nothing. Implementations must be cheap: `advance` is called per
/// chunk.
pub trait Progress: Sync {
    /// A stage begins; `total_bytes` is known for some stages (the sum of file sizes, or of
    /// compressed layer sizes).
    fn stage(&self, _stage: Stage, _total_bytes: Option<u64>) {}
    /// `bytes` more of file content were read, and `files` more entries written.
    fn advance(&self, _bytes: u64, _files: u64) {}
    /// The current stage writes `files` files: a display may count them instead of bytes
    /// (export's flattening, whose bytes arrive a whole layer at a time).
    fn expect_files(&self, _files: u64) {}
    /// A new stage that writes `files` files (and `total_bytes` bytes, if known): the same as
    /// `stage` then `expect_files`, in one step, so no display shows the stage in bytes first.
    fn stage_files(&self, stage: Stage, total_bytes: Option<u64>, files: u64) {
        self.stage(stage, total_bytes);
        self.expect_files(files);
    }
    /// One item of the current stage is done (a blob pushed): a line of its own, above a
    /// bar on a terminal, in a log with `--progress plain`.
    fn item(&self, _what: &str) {}
    /// Everything is done; clear whatever was drawn and state the totals. Calling it again
    /// does nothing.
    fn finish(&self) {}
    /// The command failed: clear whatever was drawn, without totals. By default, `finish`.
    fn abandon(&self) {
        self.finish()
    }
}

/// Draws nothing.
pub struct NoProgress;

impl Progress for NoProgress {}
