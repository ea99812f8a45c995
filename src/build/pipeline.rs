//! The stages of one build after the walk: which images to make (platform and base), the
//! context layer in one pass, each platform's config and manifest, and what `index.json`
//! names. `super` strings them together; `check` runs them a second time.

use std::collections::HashSet;

use anyhow::{Context as _, Result};
use oci_spec::image::{Descriptor, MediaType};

use crate::cancel::Cancel;
use crate::context::{Context, EntryKind};
use crate::digest::Sha256Sum;
use crate::error::escape_bytes;
use crate::image::config::{build_config, rfc3339};
use crate::image::source::{Image, Selected};
use crate::image::{Platform, base, canonical, manifest};
use crate::options::BuildOptions;
use crate::sink::{Destination, ImageRecord};

use super::layers::MadeLayer;

/// One image of the build: its platform and the base image under it, if any.
pub(super) struct BuildTarget {
    pub platform: Platform,
    pub base: Option<Selected>,
}

/// What was written for one platform.
pub(super) struct Built {
    pub platform: Platform,
    pub desc: Descriptor,
    pub config: Sha256Sum,
    pub layers: Vec<Sha256Sum>,
    pub base_digest: Option<String>,
}

/// The platforms to build and the base image of each. Without `--platform`, a base with
/// one image gives its platform; otherwise linux/amd64 is the default.
pub(super) fn targets(opts: &BuildOptions, base: Option<&Image>) -> Result<Vec<BuildTarget>> {
    let Some(image) = base else {
        return Ok(opts
            .platforms
            .iter()
            .map(|p| BuildTarget {
                platform: p.clone(),
                base: None,
            })
            .collect());
    };
    if !opts.platforms_explicit {
        let selected = image.select(None)?;
        return Ok(vec![BuildTarget {
            platform: selected.platform.clone(),
            base: Some(selected),
        }]);
    }
    opts.platforms
        .iter()
        .map(|p| {
            Ok(BuildTarget {
                platform: p.clone(),
                base: Some(image.select(Some(p))?),
            })
        })
        .collect()
}

/// The directories of the prefix (and the prefix itself) that every base already has.
pub(super) fn prefix_dirs_in_bases(
    image: &Image,
    targets: &[BuildTarget],
    prefix: &[u8],
    cancel: &Cancel,
) -> Result<HashSet<Vec<u8>>> {
    let parts: Vec<&[u8]> = prefix.split(|&b| b == b'/').collect();
    let wanted: Vec<Vec<u8>> = (1..=parts.len()).map(|i| parts[..i].join(&b'/')).collect();
    let mut common: Option<HashSet<Vec<u8>>> = None;
    let mut seen = HashSet::new();
    for t in targets {
        let Some(sel) = &t.base else { continue };
        if !seen.insert(sel.manifest_desc.digest().to_string()) {
            continue;
        }
        let have = base::existing_dirs(image, sel, &wanted, cancel)
            .with_context(|| format!("reading the base image for {}", t.platform))?;
        common = Some(match common {
            None => have,
            Some(c) => c.intersection(&have).cloned().collect(),
        });
    }
    Ok(common.unwrap_or_default())
}

/// Config and manifest of one platform's image (after its base layers), stored.
pub(super) fn write_image(
    opts: &BuildOptions,
    image: Option<&Image>,
    t: &BuildTarget,
    own: &[&MadeLayer],
    dest: &mut dyn Destination,
    copied: &mut base::Verified,
    cancel: &Cancel,
) -> Result<Built> {
    let mut layers = Vec::new();
    let mut annotations = vec![(
        manifest::ANNOTATION_CREATED.to_owned(),
        rfc3339(opts.settings.created),
    )];
    if let (Some(image), Some(sel)) = (image, &t.base) {
        layers = base::copy_layers(image, sel, dest, copied, cancel)
            .with_context(|| format!("copying the base image's layers for {}", t.platform))?;
        if let Some(name) = base_name(image) {
            annotations.push((manifest::ANNOTATION_BASE_NAME.to_owned(), name));
        }
        annotations.push((
            manifest::ANNOTATION_BASE_DIGEST.to_owned(),
            sel.manifest_desc.digest().to_string(),
        ));
    }
    let mut layer_digests: Vec<Sha256Sum> = layers
        .iter()
        .map(|d| {
            Sha256Sum::from_hex(d.digest().digest())
                .expect("base layer digests were checked when read")
        })
        .collect();
    for l in own {
        layers.push(manifest::descriptor(
            l.desc.media_type.clone(),
            &l.desc.digest,
            l.desc.size,
        ));
        layer_digests.push(l.desc.digest.clone());
    }
    let history: Vec<(Sha256Sum, String)> = own
        .iter()
        .map(|l| (l.desc.diff_id.clone(), l.comment()))
        .collect();
    annotations.extend(opts.settings.annotations.iter().cloned());

    let config = build_config(
        &opts.settings,
        &t.platform,
        t.base.as_ref().map(|b| &b.config),
        &history,
    )?;
    let config_bytes = canonical::to_vec(&config, "the image config")?;
    let (config_digest, config_size) = dest.put_bytes(&config_bytes)?;
    let m = manifest::build_manifest(
        manifest::descriptor(MediaType::ImageConfig, &config_digest, config_size),
        layers,
        &annotations,
    )?;
    let m_bytes = canonical::to_vec(&m, "the image manifest")?;
    let (m_digest, m_size) = dest.put_bytes(&m_bytes)?;
    let mut desc = manifest::descriptor(MediaType::ImageManifest, &m_digest, m_size);
    desc.set_platform(Some(t.platform.to_oci()));
    Ok(Built {
        platform: t.platform.clone(),
        desc,
        config: config_digest,
        layers: layer_digests,
        base_digest: t
            .base
            .as_ref()
            .map(|b| b.manifest_desc.digest().to_string()),
    })
}

/// The base's name for the annotation: its tag, never a host path.
pub(super) fn base_name(image: &Image) -> Option<String> {
    if let Some(tag) = &image.reference.tag {
        return Some(tag.clone());
    }
    image
        .top()
        .ok()
        .as_ref()
        .and_then(manifest::ref_name)
        .map(str::to_owned)
}

/// What index.json names: the one manifest, or an index of all of them. Docker's
/// manifest.json can name one image per tag: the host's platform if built, else the first.
pub(super) fn record_for(
    opts: &BuildOptions,
    built: &[Built],
    dest: &mut dyn Destination,
) -> Result<ImageRecord> {
    let docker = Platform::host()
        .and_then(|h| built.iter().find(|b| b.platform == h))
        .or_else(|| built.first())
        .context("no platform to build for")?;
    let top = if let [one] = built {
        one.desc.clone()
    } else {
        let mut annotations = vec![(
            manifest::ANNOTATION_CREATED.to_owned(),
            rfc3339(opts.settings.created),
        )];
        annotations.extend(opts.settings.annotations.iter().cloned());
        let index =
            manifest::build_index(built.iter().map(|b| b.desc.clone()).collect(), &annotations)?;
        let bytes = canonical::to_vec(&index, "the image index")?;
        let (digest, size) = dest.put_bytes(&bytes)?;
        manifest::descriptor(MediaType::ImageIndex, &digest, size)
    };
    Ok(ImageRecord {
        top,
        tags: opts.tags.clone(),
        docker_config: docker.config.clone(),
        docker_layers: docker.layers.clone(),
    })
}

/// Warnings about the walked context: skipped sockets and likely secrets.
pub(super) fn warnings_for(ctx: &Context) -> Vec<String> {
    let mut out = Vec::new();
    for s in &ctx.sockets {
        out.push(format!("skipped socket '{}'", escape_bytes(s)));
    }
    for e in &ctx.entries {
        let name = e
            .rel_path
            .rsplit(|&b| b == b'/')
            .next()
            .unwrap_or(&e.rel_path);
        let secret = if e.kind == EntryKind::Dir {
            name == b".aws" || name == b".ssh" || name == b".gnupg"
        } else {
            name.starts_with(b".env")
                || name.starts_with(b"id_rsa")
                || name.starts_with(b"id_ed25519")
                || name.ends_with(b".pem")
                || name.ends_with(b".key")
                || name == b".npmrc"
                || name == b".git-credentials"
                || name == b".netrc"
        };
        if secret {
            out.push(format!(
                "'{}' looks like a secret and will be in the image (list it in .dockerignore to leave it out)",
                escape_bytes(&e.rel_path)
            ));
        }
    }
    out
}
