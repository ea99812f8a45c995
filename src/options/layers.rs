//! `--layer PATTERN` and `--platform-context PLATFORM=DIR`: how the context is split into
//! layers, and the extra tree each platform gets on top.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::{resolve_context, usage, usage_hint};
use crate::context::split::LayerPattern;
use crate::image::Platform;

/// One `--platform-context PLATFORM=DIR`: DIR's tree is one more layer, on top, in that
/// platform's image only.
#[derive(Debug, Clone)]
pub struct PlatformContext {
    /// The platform whose image gets the layer.
    pub platform: Platform,
    /// The directory, resolved.
    pub dir: PathBuf,
    /// The directory as the user wrote it, for messages.
    pub dir_arg: PathBuf,
}

/// The `--layer` values, compiled, in order.
pub fn parse_layer_patterns(values: &[String]) -> Result<Vec<LayerPattern>> {
    values
        .iter()
        .map(|v| {
            LayerPattern::parse(v).map_err(|e| {
                usage_hint(
                    format!("invalid --layer: {e:#}"),
                    "give a .dockerignore-style pattern relative to the context, e.g. --layer 'node_modules/**'",
                )
            })
        })
        .collect()
}

/// The `--platform-context` values; each platform must be one of `platforms` when those were
/// given explicitly (otherwise the check waits until the base has decided them), and at
/// most once.
pub fn parse_platform_contexts(
    values: &[String],
    platforms: &[Platform],
    explicit: bool,
) -> Result<Vec<PlatformContext>> {
    let mut out: Vec<PlatformContext> = Vec::new();
    for v in values {
        let Some((p, dir)) = v.split_once('=') else {
            return Err(usage_hint(
                format!("invalid --platform-context '{v}': expected PLATFORM=DIR"),
                "for example --platform-context linux/arm64=out/arm64",
            ));
        };
        let platform = Platform::parse(p)
            .map_err(|e| usage(format!("invalid --platform-context '{v}': {e}")))?;
        if dir.is_empty() {
            return Err(usage(format!(
                "invalid --platform-context '{v}': the directory is empty"
            )));
        }
        if out.iter().any(|c| c.platform == platform) {
            return Err(usage(format!(
                "--platform-context names {platform} twice; give one directory per platform"
            )));
        }
        let dir_arg = PathBuf::from(dir);
        let resolved = resolve_context(Path::new(dir)).map_err(|e| {
            usage_hint(
                format!("--platform-context {platform}: {e:#}"),
                "name a directory whose tree goes on top of that platform's image",
            )
        })?;
        out.push(PlatformContext {
            platform,
            dir: resolved,
            dir_arg,
        });
    }
    if explicit {
        check_platforms(&out, platforms)?;
    }
    Ok(out)
}

/// Every `--platform-context` platform must be one that is built.
pub fn check_platforms(contexts: &[PlatformContext], built: &[Platform]) -> Result<()> {
    for c in contexts {
        if !built.contains(&c.platform) {
            let list: Vec<String> = built.iter().map(ToString::to_string).collect();
            return Err(usage_hint(
                format!(
                    "--platform-context names {}, which is not built (platforms: {})",
                    c.platform,
                    list.join(", ")
                ),
                format!(
                    "add it to --platform, e.g. --platform {},{}",
                    list.join(","),
                    c.platform
                ),
            ));
        }
    }
    Ok(())
}
