//! Stages 2 and 3: tar headers (`header`) and the one-pass layer writer (`writer`) that
//! streams tar → sha256 (diff_id) → compressor → sha256 (digest) + byte count → blob file.

pub mod header;
pub mod writer;

pub use header::HeaderOptions;
pub use writer::{LayerDescriptor, LayerWriter};
