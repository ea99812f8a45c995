//! Stage 4: the OCI documents. `config` (one per platform), `manifest` (one per platform, and
//! the index), all encoded by `canonical`; `platform` parses and normalises `--platform`.

pub mod canonical;
pub mod config;
pub mod manifest;
pub mod platform;

pub use platform::Platform;
