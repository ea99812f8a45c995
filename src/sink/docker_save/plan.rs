//! What a classic `docker save` archive holds, worked out from the image's manifest and
//! config before a byte of it is written: each layer's v1 id, its `json`, its compression
//! and the diff_id it must decompress to; the config's member name; `manifest.json` and
//! `repositories`.
//!
//! Layer ids follow Docker's scheme (`image/v1.CreateID`): the sha256 of the layer's v1
//! JSON without its id, plus its chain ID (`layer_id`) and its parent's id. They depend on
//! nothing but the image, so the same image always gives the same archive.

use std::collections::BTreeMap;
use std::io::Read;

use anyhow::{Context as _, Result};
use oci_spec::image::{ImageManifest, MediaType};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::compress::Algorithm;
use crate::digest::Sha256Sum;
use crate::error::invalid;
use crate::image::canonical;
use crate::image::layer_compression;
use crate::image::source::{MAX_CONFIG, MAX_DOCUMENT};
use crate::sink::ImageRecord;
use crate::store::BlobStore;

/// The `created` of every layer but the top one, as `docker save` writes it.
const V1_EPOCH: &str = "1970-01-01T00:00:00Z";

/// One layer of the archive.
#[derive(Debug, Clone)]
pub(super) struct PlannedLayer {
    /// The blob in the store.
    pub blob: Sha256Sum,
    /// How the blob is compressed.
    pub algorithm: Algorithm,
    /// What the uncompressed tar must hash to (the config's `rootfs.diff_ids` entry).
    pub diff_id: Sha256Sum,
    /// The v1 layer id: the member directory's name.
    pub id: String,
    /// The `<id>/json` member.
    pub json: Vec<u8>,
}

/// Everything in the archive but the layers' bytes.
#[derive(Debug)]
pub(super) struct Plan {
    /// The config's hex digest (the member is `<hex>.json`).
    pub config: Sha256Sum,
    /// The layers, bottom first.
    pub layers: Vec<PlannedLayer>,
    /// `manifest.json`.
    pub manifest_json: Vec<u8>,
    /// `repositories`, when the image has tags.
    pub repositories: Option<Vec<u8>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SaveManifest {
    config: String,
    repo_tags: Vec<String>,
    layers: Vec<String>,
}

/// Read the record's manifest and config from `store` and plan the archive.
pub(super) fn plan(store: &BlobStore, record: &ImageRecord) -> Result<Plan> {
    let top = Sha256Sum::from_hex(record.top.digest().digest())
        .context("the image's manifest digest is not a sha256 digest")?;
    let manifest: ImageManifest = serde_json::from_slice(&read_doc(store, &top, MAX_DOCUMENT)?)
        .with_context(|| format!("parsing manifest {top}"))?;
    let config_desc = manifest.config();
    let config = Sha256Sum::from_hex(config_desc.digest().digest())
        .with_context(|| format!("manifest {top}: the config digest is not sha256"))?;
    let config_doc: Value = serde_json::from_slice(&read_doc(store, &config, MAX_CONFIG)?)
        .with_context(|| format!("parsing config {config}"))?;
    let diff_ids = diff_ids(&config_doc).with_context(|| format!("reading config {config}"))?;
    let descs = manifest.layers();
    if descs.len() != diff_ids.len() {
        return Err(invalid(format!(
            "manifest {top} has {} layers but its config lists {} diff_ids",
            descs.len(),
            diff_ids.len()
        )));
    }
    let mut layers = Vec::with_capacity(descs.len());
    let mut chain: Option<Sha256Sum> = None;
    for (i, (desc, diff_id)) in descs.iter().zip(diff_ids).enumerate() {
        let blob = Sha256Sum::from_hex(desc.digest().digest())
            .with_context(|| format!("manifest {top}: layer {i} is not a sha256 digest"))?;
        let algorithm = compression_of(desc.media_type(), i, &blob)?;
        let chain_id = match &chain {
            None => diff_id.clone(),
            Some(c) => Sha256Sum::of(format!("{c} {diff_id}").as_bytes()),
        };
        let parent = layers.last().map(|l: &PlannedLayer| l.id.clone());
        let top_layer = (i + 1 == descs.len()).then_some(&config_doc);
        let (id, json) = v1_layer(top_layer, &chain_id, parent.as_deref())?;
        layers.push(PlannedLayer {
            blob,
            algorithm,
            diff_id,
            id,
            json,
        });
        chain = Some(chain_id);
    }
    if record.docker_layers != layers.iter().map(|l| l.blob.clone()).collect::<Vec<_>>() {
        anyhow::bail!("manifest {top} does not list the layers of the image being written");
    }
    let tags: Vec<String> = record.tags.iter().map(|t| with_tag(t)).collect();
    let top_id = layers.last().map(|l| l.id.clone()).unwrap_or_default();
    let manifest_json = canonical::to_vec(
        &[SaveManifest {
            config: format!("{}.json", config.hex()),
            repo_tags: tags.clone(),
            layers: layers
                .iter()
                .map(|l| format!("{}/layer.tar", l.id))
                .collect(),
        }],
        "manifest.json",
    )?;
    Ok(Plan {
        config,
        layers,
        manifest_json,
        repositories: repositories(&tags, &top_id)?,
    })
}

/// A small document from the store, at most `max` bytes.
fn read_doc(store: &BlobStore, digest: &Sha256Sum, max: u64) -> Result<Vec<u8>> {
    let file = store
        .open(digest)
        .with_context(|| format!("reading blob {digest}"))?;
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading blob {digest}"))?;
    if bytes.len() as u64 > max {
        return Err(invalid(format!("blob {digest} is over {max} bytes")));
    }
    Ok(bytes)
}

/// The config's `rootfs.diff_ids`.
fn diff_ids(config: &Value) -> Result<Vec<Sha256Sum>> {
    let ids = config
        .pointer("/rootfs/diff_ids")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("the config has no rootfs.diff_ids"))?;
    ids.iter()
        .map(|v| {
            v.as_str()
                .and_then(|s| s.strip_prefix("sha256:"))
                .and_then(Sha256Sum::from_hex)
                .ok_or_else(|| invalid(format!("rootfs.diff_ids holds {v}, not a sha256 digest")))
        })
        .collect()
}

fn compression_of(mt: &MediaType, index: usize, blob: &Sha256Sum) -> Result<Algorithm> {
    layer_compression(mt).ok_or_else(|| {
        invalid(format!(
            "layer {index} ({blob}) has media type '{}', which is not a tar layer",
            crate::error::escape_bytes(mt.to_string().as_bytes())
        ))
    })
}

/// A layer's v1 id and `json`: the top layer (`config` given) carries the image's
/// created time, platform and container config, as `docker save` writes it; the others
/// only the fixed epoch.
fn v1_layer(
    config: Option<&Value>,
    chain_id: &Sha256Sum,
    parent: Option<&str>,
) -> Result<(String, Vec<u8>)> {
    let mut v1 = Map::new();
    v1.insert("container_config".into(), empty_container_config());
    v1.insert("created".into(), json!(V1_EPOCH));
    if let Some(config) = config {
        for key in ["created", "architecture", "os", "variant", "config"] {
            if let Some(v) = config.get(key).filter(|v| !v.is_null()) {
                v1.insert(key.into(), v.clone());
            }
        }
    }
    // What the id is computed over: the json without its id, with the chain ID and the
    // parent's digest.
    let mut for_id = v1.clone();
    for_id.insert("layer_id".into(), json!(chain_id.prefixed()));
    if let Some(p) = parent {
        for_id.insert("parent".into(), json!(format!("sha256:{p}")));
        v1.insert("parent".into(), json!(p));
    }
    let id = Sha256Sum::of(&canonical::to_vec(&for_id, "a layer's v1 json")?)
        .hex()
        .to_owned();
    v1.insert("id".into(), json!(id));
    let json = canonical::to_vec(&v1, "a layer's v1 json")?;
    Ok((id, json))
}

/// The `container_config` `docker save` writes for layers: every field empty.
fn empty_container_config() -> Value {
    json!({
        "Hostname": "", "Domainname": "", "User": "",
        "AttachStdin": false, "AttachStdout": false, "AttachStderr": false,
        "Tty": false, "OpenStdin": false, "StdinOnce": false,
        "Env": null, "Cmd": null, "Image": "", "Volumes": null,
        "WorkingDir": "", "Entrypoint": null, "OnBuild": null, "Labels": null
    })
}

/// A tag as `RepoTags` needs it: `NAME:TAG`, `:latest` added when there is none.
fn with_tag(tag: &str) -> String {
    match split_tag(tag) {
        (_, Some(_)) => tag.to_owned(),
        (name, None) => format!("{name}:latest"),
    }
}

/// `NAME[:TAG]` split at the tag's colon (one after the last `/`, so a registry port is
/// part of the name).
fn split_tag(tag: &str) -> (&str, Option<&str>) {
    let from = tag.rfind('/').map_or(0, |i| i + 1);
    match tag[from..].find(':') {
        Some(i) => (&tag[..from + i], Some(&tag[from + i + 1..])),
        None => (tag, None),
    }
}

/// `repositories`: `{"NAME": {"TAG": "<top layer id>"}}`, or nothing without tags (as
/// `docker save` leaves it out).
fn repositories(tags: &[String], top_id: &str) -> Result<Option<Vec<u8>>> {
    if tags.is_empty() {
        return Ok(None);
    }
    let mut repos: BTreeMap<&str, BTreeMap<&str, &str>> = BTreeMap::new();
    for tag in tags {
        if let (name, Some(t)) = split_tag(tag) {
            repos.entry(name).or_default().insert(t, top_id);
        }
    }
    Ok(Some(canonical::to_vec(&repos, "repositories")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_get_latest_and_split_after_the_port() {
        assert_eq!(with_tag("app"), "app:latest");
        assert_eq!(with_tag("app:1"), "app:1");
        assert_eq!(with_tag("localhost:5000/app"), "localhost:5000/app:latest");
        assert_eq!(
            split_tag("localhost:5000/a/b:2"),
            ("localhost:5000/a/b", Some("2"))
        );
    }

    #[test]
    fn repositories_name_the_top_layer_per_tag() {
        let tags = vec!["a:1".to_owned(), "a:2".to_owned(), "h:5/b:x".to_owned()];
        let got = repositories(&tags, "ff").unwrap().unwrap();
        assert_eq!(
            String::from_utf8(got).unwrap(),
            r#"{"a":{"1":"ff","2":"ff"},"h:5/b":{"x":"ff"}}"#
        );
        assert!(repositories(&[], "ff").unwrap().is_none());
    }

    #[test]
    fn layer_ids_depend_on_the_chain_and_the_parent() {
        let d = Sha256Sum::of(b"x");
        let (a, _) = v1_layer(None, &d, None).unwrap();
        let (b, json) = v1_layer(None, &d, Some(&a)).unwrap();
        assert_ne!(a, b);
        assert_eq!(v1_layer(None, &d, None).unwrap().0, a);
        let v: Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["parent"], json!(a));
        assert_eq!(v["id"], json!(b));
        assert_eq!(v["created"], json!(V1_EPOCH));
    }
}
