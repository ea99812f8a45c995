//! Stages 2 and 3: tar headers (`header`) and the one-pass layer writer (`writer`) that
//! streams tar → sha256 (diff_id) → compressor → sha256 (digest) + byte count → blob file.
//! The way back, for layers of existing images: `reader` (verified blob → bounded
//! decompressor → diff_id) and `parse` (a bounded tar stream parser).

pub mod header;
pub mod parse;
pub mod prefetch;
pub mod reader;
pub mod writer;

pub use header::HeaderOptions;
pub use writer::{EntryDigest, LayerDescriptor, LayerWriter};
