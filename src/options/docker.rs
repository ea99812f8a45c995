//! `build --format docker-archive`: a classic `docker save` archive holds one image whose
//! layers are uncompressed tars, so several platforms, a compression and `--push` (which
//! would send the uncompressed layers) are refused before anything is touched.

use anyhow::Result;

use super::usage_hint;
use crate::cli::{BuildArgs, CompressionChoice};
use crate::image::Platform;

/// Refuse what a docker-archive build cannot do; `platforms` are the parsed `--platform`s.
pub(super) fn check(args: &BuildArgs, platforms: &[Platform]) -> Result<()> {
    if let [_, _, ..] = platforms {
        let names: Vec<String> = platforms.iter().map(Platform::to_string).collect();
        return Err(usage_hint(
            format!(
                "--format docker-archive holds one platform's image, but --platform gave {}: {}",
                names.len(),
                names.join(", ")
            ),
            format!(
                "build one archive per platform (--platform {}), or use --format oci-archive for \
                 an image index of them all",
                names[0]
            ),
        ));
    }
    let compressed = match args.compression {
        Some(CompressionChoice::Gzip) => Some("--compression gzip"),
        Some(CompressionChoice::Zstd) => Some("--compression zstd"),
        Some(CompressionChoice::None) | None => None,
    };
    if let Some(flag) = compressed.or(args.compression_level.map(|_| "--compression-level")) {
        return Err(usage_hint(
            format!(
                "{flag} cannot be used with --format docker-archive: its layers are uncompressed \
                 layer.tar files"
            ),
            "leave the compression flags out (or pass --compression none), or use --format \
             oci-archive for compressed layers",
        ));
    }
    if args.push {
        return Err(usage_hint(
            "--push cannot be used with --format docker-archive: registries would get its \
             uncompressed layers",
            "push from a build with the default --format oci-archive (compressed layers), and \
             write the docker archive in a second build",
        ));
    }
    Ok(())
}
