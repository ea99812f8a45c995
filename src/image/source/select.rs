//! Choosing what a reference names: the entry of `index.json` (by tag, by pinned digest, or
//! the only one there is), then one platform's image under it.

use anyhow::Result;
use oci_spec::image::Descriptor;

use super::{Image, Selected};
use crate::error::{UsageError, invalid};
use crate::image::{Platform, is_index, manifest};

impl Image {
    /// The entry of index.json that the reference names (by tag, by pinned digest, or the
    /// only one there is).
    pub fn top(&self) -> Result<Descriptor> {
        let entries = self.index.manifests();
        let what = &self.reference;
        if let Some(pin) = &self.reference.pinned {
            if let Some(d) = entries.iter().find(|d| d.digest().to_string() == *pin) {
                return Ok(d.clone());
            }
            for d in entries.iter().filter(|d| is_index(d.media_type())) {
                if let Some(found) = self
                    .children(d, 1)?
                    .into_iter()
                    .find(|c| c.digest().to_string() == *pin)
                {
                    return Ok(found);
                }
            }
            return Err(UsageError::new(format!("'{what}' has no manifest or index {pin}")).into());
        }
        let tags: Vec<&str> = entries.iter().filter_map(manifest::ref_name).collect();
        if let Some(tag) = &self.reference.tag {
            // An exact ref.name first; then, as Docker does, `base:1` for a RepoTag recorded
            // as `docker.io/library/base:1`.
            let wanted = manifest::normalize_docker_ref(tag);
            return entries
                .iter()
                .find(|d| manifest::ref_name(d) == Some(tag.as_str()))
                .or_else(|| {
                    entries.iter().find(|d| {
                        manifest::ref_name(d)
                            .is_some_and(|n| manifest::normalize_docker_ref(n) == wanted)
                    })
                })
                .cloned()
                .ok_or_else(|| {
                    UsageError::new(format!("tag '{tag}' is not in '{}'", self.path_text()))
                        .with_hint(tag_hint(&tags))
                        .into()
                });
        }
        let mut distinct: Vec<&Descriptor> = Vec::new();
        for d in entries {
            if !distinct.iter().any(|x| x.digest() == d.digest()) {
                distinct.push(d);
            }
        }
        match distinct.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(invalid(format!("'{what}' holds no image"))),
            _ => Err(UsageError::new(format!(
                "'{what}' holds {} images; name one with a tag",
                distinct.len()
            ))
            .with_hint(tag_hint(&tags))
            .into()),
        }
    }

    fn path_text(&self) -> String {
        self.reference
            .path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "stdin".into())
    }

    /// Every platform manifest the reference names, with its platform.
    pub fn candidates(&self) -> Result<Vec<(Descriptor, Platform)>> {
        let top = self.top()?;
        let mut out = Vec::new();
        for d in self.children(&top, 0)? {
            let platform = match d.platform() {
                Some(p) => Platform::from_oci(p),
                None => self.select_desc(&d)?.platform,
            };
            out.push((d, platform));
        }
        if let Some(tag) = self.sets.get(&top.digest().to_string()) {
            // index.json lists these under one tag: two for one platform leave no way to
            // choose.
            for (i, (d, p)) in out.iter().enumerate() {
                if let Some((other, _)) = out[..i]
                    .iter()
                    .find(|(o, op)| op == p && o.digest() != d.digest())
                {
                    return Err(invalid(format!(
                        "'{}' lists two images for {p} under tag '{}': {} and {} \
                         (name one by its digest: IMAGE@sha256:...)",
                        self.path_text(),
                        crate::error::escape_bytes(tag.as_bytes()),
                        other.digest(),
                        d.digest()
                    )));
                }
            }
        }
        Ok(out)
    }

    /// The image for `want` (or, when None, the only one there is).
    pub fn select(&self, want: Option<&Platform>) -> Result<Selected> {
        let candidates = self.candidates()?;
        let chosen = match want {
            Some(p) => candidates.iter().find(|(_, cp)| cp == p),
            None if candidates.len() == 1 => candidates.first(),
            None => {
                let default = Platform::default_target();
                candidates.iter().find(|(_, cp)| *cp == default)
            }
        };
        let Some((desc, _)) = chosen else {
            let have: Vec<String> = candidates.iter().map(|(_, p)| p.to_string()).collect();
            let asked = want.map_or_else(
                || Platform::default_target().to_string(),
                ToString::to_string,
            );
            return Err(
                UsageError::new(format!("'{}' has no image for {asked}", self.reference))
                    .with_hint(format!("it has: {}", have.join(", ")))
                    .into(),
            );
        };
        let selected = self.select_desc(desc)?;
        if let Some(p) = want
            && &selected.platform != p
        {
            return Err(invalid(format!(
                "manifest {} is listed for {p} but its config says {}",
                desc.digest(),
                selected.platform
            )));
        }
        Ok(selected)
    }

    fn select_desc(&self, desc: &Descriptor) -> Result<Selected> {
        let (manifest, _) = self.read_manifest(desc)?;
        let (config, _) = self.read_config(manifest.config())?;
        let platform = Platform::from_image(
            &config.os().to_string(),
            &config.architecture().to_string(),
            config.variant().as_deref(),
        );
        if config.rootfs().diff_ids().len() != manifest.layers().len() {
            return Err(invalid(format!(
                "manifest {} has {} layers but its config lists {} diff_ids",
                desc.digest(),
                manifest.layers().len(),
                config.rootfs().diff_ids().len()
            )));
        }
        Ok(Selected {
            manifest_desc: desc.clone(),
            manifest,
            config,
            platform,
        })
    }
}

fn tag_hint(tags: &[&str]) -> String {
    if tags.is_empty() {
        "the image has no tags; pin one with @sha256:DIGEST".into()
    } else {
        format!("tags in the image: {}", tags.join(", "))
    }
}
