//! Our own OCI image validator, in the spirit of go-containerregistry's `validate.Image`.
//!
//! `check_image` opens an OCI archive (a tar of an image layout) or a layout directory, validates
//! every JSON document against the OCI schemas in `testdata/oci-schemas`, follows every
//! descriptor (index → nested indexes → manifests → config + layers), re-hashes every blob
//! against its descriptor, recomputes each layer's `diff_id` from its uncompressed bytes, parses
//! every tar member, and refuses stray files (unreferenced blobs, temp files, unknown members).
//! Errors name the document, blob or member at fault; nothing here panics on bad input.
//! Images under test are small, so the whole layout is read into memory.
#![allow(dead_code)] // shared test support: not every test module uses every helper

use anyhow::{Context, Result, anyhow, bail, ensure};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};
use std::io::Read;
use std::path::Path;
use std::sync::OnceLock;

pub const MEDIA_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MEDIA_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MEDIA_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const MEDIA_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const MEDIA_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const MEDIA_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Largest JSON document (oci-layout, index.json, manifest, config) we agree to parse.
const MAX_JSON: u64 = 4 << 20;
/// Deepest chain of nested indexes we follow.
const MAX_DEPTH: usize = 8;

/// What counts as an error beyond the spec. `default()` is the bar for imgbuild's own output.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// index.json, indexes and manifests must carry `mediaType` (imgbuild writes it; umoci
    /// 0.4.7 and skopeo 1.9 leave it out of index.json, umoci also out of manifests).
    pub require_media_type: bool,
    /// Blobs no descriptor reaches are tolerated (umoci leaves them until `umoci gc`).
    pub allow_unreferenced_blobs: bool,
}

impl Default for CheckOptions {
    fn default() -> Self {
        Self { require_media_type: true, allow_unreferenced_blobs: false }
    }
}

impl CheckOptions {
    /// For images written by other tools: a missing `mediaType` is fine (a wrong one is not).
    pub fn third_party() -> Self {
        Self { require_media_type: false, ..Self::default() }
    }
}

#[derive(Clone, Debug)]
pub struct CheckedImage {
    pub index: Value,
    /// Every image manifest reached from index.json, depth first, in descriptor order.
    pub manifests: Vec<CheckedManifest>,
    /// Docker's `manifest.json` when the archive (or layout) carries one.
    pub docker_manifest: Option<Value>,
    /// Every referenced blob (`sha256:<hex>`).
    pub blobs: BTreeSet<String>,
}

impl CheckedImage {
    /// The `org.opencontainers.image.ref.name` annotations of index.json, in order.
    pub fn ref_names(&self) -> Vec<String> {
        let list = self.index["manifests"].as_array().map(Vec::as_slice).unwrap_or_default();
        list.iter().filter_map(|m| m["annotations"][REF_NAME].as_str().map(String::from)).collect()
    }

    /// The one manifest of a single-platform image.
    pub fn single(&self) -> Result<&CheckedManifest> {
        match self.manifests.as_slice() {
            [one] => Ok(one),
            many => bail!("expected exactly one manifest, found {}", many.len()),
        }
    }
}

#[derive(Clone, Debug)]
pub struct CheckedManifest {
    pub digest: String,
    pub size: u64,
    /// From the index descriptor when it has one, else from the config.
    pub platform: Platform,
    /// The descriptor's `org.opencontainers.image.ref.name`, if any.
    pub ref_name: Option<String>,
    pub manifest: Value,
    pub config_digest: String,
    pub config: Value,
    pub layers: Vec<CheckedLayer>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        self.variant.as_ref().map_or(Ok(()), |v| write!(f, "/{v}"))
    }
}

#[derive(Clone, Debug)]
pub struct CheckedLayer {
    pub digest: String,
    pub size: u64,
    pub media_type: String,
    pub diff_id: String,
    pub entries: Vec<LayerEntry>,
}

/// One tar member as a reader sees it, after PAX and GNU long-name records are applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerEntry {
    pub path: String,
    pub path_bytes: Vec<u8>,
    /// `-` file, `d` dir, `l` symlink, `h` hard link, `c`/`b` devices, `p` fifo.
    pub kind: char,
    /// Permission bits including setuid, setgid and sticky (`& 0o7777`).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub uname: String,
    pub gname: String,
    pub size: u64,
    pub mtime: u64,
    pub link: Option<String>,
    pub link_bytes: Option<Vec<u8>>,
    /// Hex sha256 of a regular file's content.
    pub content_sha256: Option<String>,
}

pub fn check_image(path: &Path) -> Result<CheckedImage> {
    check_image_with(path, &CheckOptions::default())
}

pub fn check_image_with(path: &Path, opts: &CheckOptions) -> Result<CheckedImage> {
    let check = || check_members(&load(path)?, opts);
    check().with_context(|| format!("checking image '{}'", path.display()))
}

/// Layout names → content (`None` for directories, whose names end in `/`).
type Members = BTreeMap<String, Option<Vec<u8>>>;

fn load(path: &Path) -> Result<Members> {
    let mut members = Members::new();
    if std::fs::metadata(path)?.is_dir() {
        let mut todo = vec![String::new()];
        while let Some(rel) = todo.pop() {
            for ent in std::fs::read_dir(path.join(&rel))? {
                let ent = ent?;
                let name = format!("{rel}{}", ent.file_name().to_string_lossy());
                let ft = ent.file_type()?;
                if ft.is_dir() {
                    todo.push(format!("{name}/"));
                    members.insert(format!("{name}/"), None);
                } else {
                    ensure!(ft.is_file(), "'{name}' in the layout is not a regular file");
                    let data = std::fs::read(ent.path()).with_context(|| format!("reading '{name}'"))?;
                    members.insert(name, Some(data));
                }
            }
        }
        return Ok(members);
    }
    let mut archive = tar::Archive::new(std::fs::File::open(path)?);
    for entry in archive.entries().context("reading the archive")? {
        let mut entry = entry.context("reading an archive member header")?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let data = match entry.header().entry_type() {
            tar::EntryType::Directory => None,
            tar::EntryType::Regular => {
                let mut data = Vec::new();
                entry.read_to_end(&mut data).with_context(|| format!("reading archive member '{name}'"))?;
                Some(data)
            }
            other => bail!("archive member '{name}' has type {other:?}; an OCI archive holds only files and directories"),
        };
        ensure!(members.insert(name.clone(), data).is_none(), "archive member '{name}' appears twice");
    }
    Ok(members)
}

fn check_members(members: &Members, opts: &CheckOptions) -> Result<CheckedImage> {
    for (name, data) in members {
        let is_dir = data.is_none();
        let ok = match name.as_str() {
            "blobs/" | "blobs/sha256/" => is_dir,
            "oci-layout" | "index.json" | "manifest.json" => !is_dir,
            _ => !is_dir && name.strip_prefix("blobs/sha256/").is_some_and(is_hex64),
        };
        ensure!(ok, "unexpected {} '{name}' in the layout (a temp file or foreign content?)", if is_dir { "directory" } else { "file" });
    }
    let schemas = schemas()?;
    let json_file = |name: &str| -> Result<Value> {
        let data = members.get(name).and_then(Option::as_ref).ok_or_else(|| anyhow!("{name} is missing"))?;
        ensure!(data.len() as u64 <= MAX_JSON, "{name} is larger than {MAX_JSON} bytes");
        serde_json::from_slice(data).with_context(|| format!("{name} is not valid JSON"))
    };
    validate(&schemas.layout, &json_file("oci-layout")?, "oci-layout")?;
    let index = json_file("index.json")?;
    validate(&schemas.index, &index, "index.json")?;
    match index.get("mediaType").and_then(Value::as_str) {
        Some(MEDIA_INDEX) => {}
        Some(other) => bail!("index.json: mediaType is '{other}', expected '{MEDIA_INDEX}'"),
        None if opts.require_media_type => bail!("index.json: mediaType is not set"),
        None => {}
    }
    let mut walker = Walker { members, schemas, opts, blobs: BTreeSet::new(), layers: BTreeMap::new(), out: vec![] };
    walker.walk_index("index.json", &index, 0)?;
    for name in members.keys() {
        if let Some(hex) = name.strip_prefix("blobs/sha256/").filter(|h| !h.is_empty()) {
            let known = walker.blobs.contains(&format!("sha256:{hex}"));
            ensure!(known || opts.allow_unreferenced_blobs, "unreferenced blob {name}: no descriptor reaches it");
        }
    }
    let docker_manifest = match members.contains_key("manifest.json") {
        true => Some(check_docker_manifest(members, &json_file("manifest.json")?, &walker.out)?),
        false => None,
    };
    Ok(CheckedImage { index, manifests: walker.out, docker_manifest, blobs: walker.blobs })
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn sha256(data: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(data))
}

fn blob_path(digest: &str) -> String {
    format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"))
}

/// A descriptor as found in an index or manifest.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Desc {
    media_type: String,
    digest: String,
    size: u64,
    platform: Option<Platform>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

impl Desc {
    fn parse(v: &Value, what: &str) -> Result<Desc> {
        let d: Desc = Desc::deserialize(v).with_context(|| format!("{what}: malformed descriptor"))?;
        let ok = d.digest.strip_prefix("sha256:").is_some_and(is_hex64);
        ensure!(ok, "{what}: digest '{}' is not sha256:<64 lowercase hex>", d.digest);
        Ok(d)
    }
}

struct Walker<'a> {
    members: &'a Members,
    schemas: &'a Schemas,
    opts: &'a CheckOptions,
    blobs: BTreeSet<String>,
    layers: BTreeMap<String, (String, Vec<LayerEntry>)>,
    out: Vec<CheckedManifest>,
}

impl<'a> Walker<'a> {
    fn walk_index(&mut self, what: &str, index: &Value, depth: usize) -> Result<()> {
        ensure!(depth <= MAX_DEPTH, "{what}: indexes nested deeper than {MAX_DEPTH}");
        let list = index["manifests"].as_array().map(Vec::as_slice).unwrap_or_default();
        for (i, v) in list.iter().enumerate() {
            let d = Desc::parse(v, &format!("{what} manifests[{i}]"))?;
            match d.media_type.as_str() {
                MEDIA_INDEX => {
                    let (nested, name) = self.json_blob(&d, "index", &self.schemas.index)?;
                    self.walk_index(&name, &nested, depth + 1)?;
                }
                MEDIA_MANIFEST => self.check_manifest(&d).with_context(|| format!("{what} manifests[{i}]"))?,
                other => bail!("{what} manifests[{i}] ({}): unsupported media type '{other}'", d.digest),
            }
        }
        Ok(())
    }

    /// The blob's bytes after checking its size and digest; remembers it as referenced.
    fn blob(&mut self, d: &Desc, what: &str) -> Result<&'a [u8]> {
        let data = self.members.get(&blob_path(&d.digest)).and_then(Option::as_deref);
        let data = data.ok_or_else(|| anyhow!("{what} {}: blob is missing from blobs/sha256", d.digest))?;
        let len = data.len() as u64;
        ensure!(len == d.size, "{what} {}: size mismatch: descriptor says {} bytes, blob has {len}", d.digest, d.size);
        let got = sha256(data);
        ensure!(got == d.digest, "{what} {}: digest mismatch: blob content hashes to {got}", d.digest);
        self.blobs.insert(d.digest.clone());
        Ok(data)
    }

    /// A JSON blob, schema-checked; index and manifest `mediaType` must match the descriptor.
    fn json_blob(&mut self, d: &Desc, what: &str, schema: &jsonschema::Validator) -> Result<(Value, String)> {
        let name = format!("{what} {}", d.digest);
        ensure!(d.size <= MAX_JSON, "{name}: descriptor size {} is larger than {MAX_JSON} bytes", d.size);
        let doc: Value = serde_json::from_slice(self.blob(d, what)?).with_context(|| format!("{name} is not valid JSON"))?;
        validate(schema, &doc, &name)?;
        match doc.get("mediaType").and_then(Value::as_str) {
            _ if what == "config" => {}
            Some(m) if m == d.media_type => {}
            Some(m) => bail!("{name}: mediaType is '{m}' but its descriptor says '{}'", d.media_type),
            None if !self.opts.require_media_type => {}
            None => bail!("{name}: mediaType is not set (its descriptor says '{}')", d.media_type),
        }
        Ok((doc, name))
    }

    fn check_manifest(&mut self, d: &Desc) -> Result<()> {
        let (manifest, name) = self.json_blob(d, "manifest", &self.schemas.manifest)?;
        let cd = Desc::parse(&manifest["config"], &format!("{name} config"))?;
        ensure!(cd.media_type == MEDIA_CONFIG, "{name}: config media type is '{}', expected '{MEDIA_CONFIG}'", cd.media_type);
        let (config, cname) = self.json_blob(&cd, "config", &self.schemas.config)?;
        let config_platform = Platform::deserialize(&config).with_context(|| format!("{cname}: platform"))?;
        if let Some(p) = &d.platform {
            ensure!(*p == config_platform, "{name}: index says platform {p} but {cname} says {config_platform}");
        }
        let diff_ids = config["rootfs"]["diff_ids"].as_array().map(Vec::as_slice).unwrap_or_default();
        let descs = manifest["layers"].as_array().map(Vec::as_slice).unwrap_or_default();
        ensure!(descs.len() == diff_ids.len(), "{name}: {} layers but {cname} lists {} diff_ids", descs.len(), diff_ids.len());
        let (mut layers, mut seen) = (vec![], BTreeSet::new());
        for (i, (lv, want)) in descs.iter().zip(diff_ids).enumerate() {
            let ld = Desc::parse(lv, &format!("{name} layers[{i}]"))?;
            let what = format!("{name}: layer {i} ({})", ld.digest);
            let (diff_id, entries) = self.layer(&ld).with_context(|| what.clone())?;
            ensure!(want.as_str() == Some(diff_id.as_str()), "{what}: uncompressed content hashes to {diff_id} but {cname} has diff_ids[{i}] = {want}");
            for e in &entries {
                if let (Some(target), 'h') = (&e.link, e.kind) {
                    ensure!(seen.contains(&clean(target)), "{what}: hard link '{}' points to '{target}', which no earlier member provides", e.path);
                }
                seen.insert(clean(&e.path));
            }
            layers.push(CheckedLayer { digest: ld.digest, size: ld.size, media_type: ld.media_type, diff_id, entries });
        }
        self.out.push(CheckedManifest {
            digest: d.digest.clone(),
            size: d.size,
            platform: d.platform.clone().unwrap_or(config_platform),
            ref_name: d.annotations.get(REF_NAME).cloned(),
            manifest,
            config_digest: cd.digest,
            config,
            layers,
        });
        Ok(())
    }

    /// Verifies a layer blob; returns its diff_id and members (cached by digest).
    fn layer(&mut self, d: &Desc) -> Result<(String, Vec<LayerEntry>)> {
        if let Some(hit) = self.layers.get(&d.digest) {
            return Ok(hit.clone());
        }
        let data = self.blob(d, "layer")?;
        let magic = data.starts_with(&[0x1f, 0x8b]) || data.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]);
        let mut decoder: Box<dyn Read> = match d.media_type.as_str() {
            MEDIA_LAYER_TAR if magic => bail!("media type says uncompressed tar but the blob starts with a gzip/zstd magic number"),
            MEDIA_LAYER_TAR => Box::new(data),
            MEDIA_LAYER_GZIP => Box::new(flate2::read::MultiGzDecoder::new(data)),
            MEDIA_LAYER_ZSTD => Box::new(zstd::Decoder::new(data).context("starting the zstd decoder")?),
            other => bail!("unsupported layer media type '{other}'"),
        };
        let mut tar_bytes = Vec::new();
        decoder.read_to_end(&mut tar_bytes).with_context(|| format!("decompressing the layer as {}", d.media_type))?;
        let entries = read_entries(&tar_bytes)?;
        let hit = (sha256(&tar_bytes), entries);
        self.layers.insert(d.digest.clone(), hit.clone());
        Ok(hit)
    }
}

/// A tar path as a key: no `./` or `/` prefix, no trailing `/`.
fn clean(path: &str) -> String {
    path.trim_start_matches("./").trim_start_matches('/').trim_end_matches('/').to_string()
}

fn read_entries(tar_bytes: &[u8]) -> Result<Vec<LayerEntry>> {
    let mut archive = tar::Archive::new(tar_bytes);
    let mut out: Vec<LayerEntry> = vec![];
    for entry in archive.entries().context("reading tar headers")? {
        let after = out.last().map_or("at the start".into(), |e| format!("after '{}'", e.path));
        let mut entry = entry.with_context(|| format!("tar member #{} ({after})", out.len()))?;
        let e = layer_entry(&mut entry);
        out.push(e.with_context(|| format!("tar member #{} '{}'", out.len(), String::from_utf8_lossy(&entry.path_bytes())))?);
    }
    Ok(out)
}

fn layer_entry<R: Read>(entry: &mut tar::Entry<'_, R>) -> Result<LayerEntry> {
    let h = entry.header().clone();
    let kind = match h.entry_type() {
        tar::EntryType::Regular | tar::EntryType::Continuous => '-',
        tar::EntryType::Directory => 'd',
        tar::EntryType::Symlink => 'l',
        tar::EntryType::Link => 'h',
        tar::EntryType::Char => 'c',
        tar::EntryType::Block => 'b',
        tar::EntryType::Fifo => 'p',
        other => bail!("unsupported tar entry type {other:?}"),
    };
    let path_bytes = entry.path_bytes().into_owned();
    let path = String::from_utf8_lossy(&path_bytes).into_owned();
    ensure!(!path.is_empty() && !path.split('/').any(|c| c == ".."), "path is empty or contains '..'");
    let link_bytes = entry.link_name_bytes().map(|l| l.into_owned());
    ensure!(link_bytes.is_some() || !matches!(kind, 'l' | 'h'), "link without a target");
    let text = |b: Option<&[u8]>| String::from_utf8_lossy(b.unwrap_or_default()).into_owned();
    let mut e = LayerEntry {
        kind,
        mode: h.mode().context("mode field")? & 0o7777,
        uid: h.uid().context("uid field")?,
        gid: h.gid().context("gid field")?,
        uname: text(h.username_bytes()),
        gname: text(h.groupname_bytes()),
        size: entry.size(),
        mtime: h.mtime().context("mtime field")?,
        link: link_bytes.as_deref().map(|l| text(Some(l))),
        link_bytes,
        content_sha256: None,
        path,
        path_bytes,
    };
    for rec in entry.pax_extensions().context("PAX records")?.into_iter().flatten() {
        let rec = rec.context("PAX record")?;
        let (key, value) = (rec.key().unwrap_or_default(), text(Some(rec.value_bytes())));
        let num = || value.split('.').next().unwrap_or_default().parse::<u64>().with_context(|| format!("PAX {key}={value}"));
        match key {
            "uid" => e.uid = num()?,
            "gid" => e.gid = num()?,
            "mtime" => e.mtime = num()?,
            "uname" => e.uname.clone_from(&value),
            "gname" => e.gname.clone_from(&value),
            _ => {}
        }
    }
    if kind == '-' {
        let mut content = Vec::new();
        entry.read_to_end(&mut content).context("reading content")?;
        ensure!(content.len() as u64 == e.size, "content is {} bytes, header says {}", content.len(), e.size);
        e.content_sha256 = Some(sha256(&content)["sha256:".len()..].to_string());
    }
    Ok(e)
}

/// Docker's `manifest.json` (`docker save` since Docker 25) must point at existing blobs and,
/// for its first entry, at exactly the first image's config and layers.
fn check_docker_manifest(members: &Members, doc: &Value, manifests: &[CheckedManifest]) -> Result<Value> {
    let list = doc.as_array().filter(|a| !a.is_empty()).ok_or_else(|| anyhow!("manifest.json: expected a non-empty array"))?;
    for (i, item) in list.iter().enumerate() {
        let what = format!("manifest.json [{i}]");
        let config = item["Config"].as_str().ok_or_else(|| anyhow!("{what}: Config is not a string"))?;
        let layers = item["Layers"].as_array().ok_or_else(|| anyhow!("{what}: Layers is not an array"))?;
        let layers: Vec<&str> = layers.iter().filter_map(Value::as_str).collect();
        ensure!(layers.len() == item["Layers"].as_array().map_or(0, Vec::len), "{what}: Layers holds a non-string");
        let tags_ok = item["RepoTags"].is_null() || item["RepoTags"].as_array().is_some_and(|t| t.iter().all(Value::is_string));
        ensure!(tags_ok, "{what}: RepoTags is not an array of strings");
        for path in std::iter::once(config).chain(layers.iter().copied()) {
            ensure!(path.strip_prefix("blobs/sha256/").is_some_and(is_hex64), "{what}: '{path}' is not a blobs/sha256/<hex> path");
            ensure!(members.contains_key(path), "{what}: '{path}' does not exist");
        }
        if i == 0 {
            let m = manifests.first().ok_or_else(|| anyhow!("{what}: the index has no image manifest"))?;
            let want = blob_path(&m.config_digest);
            ensure!(config == want, "{what}: Config is '{config}' but manifest {} uses {want}", m.digest);
            let want: Vec<String> = m.layers.iter().map(|l| blob_path(&l.digest)).collect();
            ensure!(layers == want, "{what}: Layers {layers:?} differ from manifest {}'s layers {want:?}", m.digest);
        }
    }
    Ok(doc.clone())
}

/// A `tar tv`-style listing: type+mode, uid/gid (with names in parentheses when set), size,
/// mtime (UTC), path, then `-> target` for symlinks or `link to target` for hard links.
pub fn listing(entries: &[LayerEntry]) -> String {
    let named = |id: u64, name: &str| if name.is_empty() { id.to_string() } else { format!("{id}({name})") };
    let mut out = String::new();
    for e in entries {
        let owner = format!("{}/{}", named(e.uid, &e.uname), named(e.gid, &e.gname));
        let _ = write!(out, "{}{} {owner} {:>8} {} {}", e.kind, perms(e.mode), e.size, utc(e.mtime), e.path);
        match (&e.link, e.kind) {
            (Some(t), 'h') => _ = write!(out, " link to {t}"),
            (Some(t), _) => _ = write!(out, " -> {t}"),
            _ => {}
        }
        out.push('\n');
    }
    out
}

fn perms(mode: u32) -> String {
    let mut s: Vec<u8> = b"rwxrwxrwx".iter().enumerate().map(|(i, c)| if mode & (0o400 >> i) != 0 { *c } else { b'-' }).collect();
    for (bit, at, set) in [(0o4000, 2, b's'), (0o2000, 5, b's'), (0o1000, 8, b't')] {
        if mode & bit != 0 {
            s[at] = if s[at] == b'x' { set } else { set.to_ascii_uppercase() };
        }
    }
    String::from_utf8_lossy(&s).into_owned()
}

/// Seconds since the epoch as `YYYY-MM-DD HH:MM:SS` UTC (Howard Hinnant's civil_from_days).
fn utc(secs: u64) -> String {
    let (z, rem) = ((secs / 86400) as i64 + 719_468, secs % 86400);
    let (era, doe) = (z.div_euclid(146_097), z.rem_euclid(146_097));
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let (d, m) = (doy - (153 * mp + 2) / 5 + 1, if mp < 10 { mp + 3 } else { mp - 9 });
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", rem / 3600, rem / 60 % 60, rem % 60)
}

macro_rules! schema_files {
    ($($name:literal),*) => {
        [$(($name, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/oci-schemas/", $name)))),*]
    };
}

const SCHEMA_FILES: [(&str, &str); 7] = schema_files!(
    "config-schema.json",
    "content-descriptor.json",
    "defs-descriptor.json",
    "defs.json",
    "image-index-schema.json",
    "image-layout-schema.json",
    "image-manifest-schema.json"
);

struct Schemas {
    layout: jsonschema::Validator,
    index: jsonschema::Validator,
    manifest: jsonschema::Validator,
    config: jsonschema::Validator,
}

/// Resolves every `$ref` offline. The relative refs resolve against several `id` bases
/// (…/schema/image/, …/schema/descriptor/, …), so a file is found by its name alone.
struct BundledSchemas;

impl jsonschema::Retrieve for BundledSchemas {
    fn retrieve(&self, uri: &jsonschema::Uri<String>) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let name = uri.path().as_str().rsplit('/').next().unwrap_or_default();
        let found = SCHEMA_FILES.iter().find(|(n, _)| *n == name);
        let (_, text) = found.ok_or_else(|| format!("no bundled OCI schema for '{uri}'"))?;
        Ok(serde_json::from_str(text)?)
    }
}

fn schemas() -> Result<&'static Schemas> {
    static SCHEMAS: OnceLock<Result<Schemas, String>> = OnceLock::new();
    let build = |file: &str| -> Result<jsonschema::Validator, String> {
        let text = SCHEMA_FILES.iter().find(|(n, _)| *n == file).map_or("", |(_, t)| *t);
        let schema: Value = serde_json::from_str(text).map_err(|e| format!("{file}: {e}"))?;
        let opts = jsonschema::draft4::options().with_retriever(BundledSchemas).should_validate_formats(true);
        opts.build(&schema).map_err(|e| format!("compiling {file}: {e}"))
    };
    let built = SCHEMAS.get_or_init(|| {
        Ok(Schemas {
            layout: build("image-layout-schema.json")?,
            index: build("image-index-schema.json")?,
            manifest: build("image-manifest-schema.json")?,
            config: build("config-schema.json")?,
        })
    });
    built.as_ref().map_err(|e| anyhow!("loading the OCI schemas: {e}"))
}

fn validate(schema: &jsonschema::Validator, doc: &Value, what: &str) -> Result<()> {
    let errors: Vec<String> = schema.iter_errors(doc).take(5).map(|e| format!("at '{}': {e}", e.instance_path)).collect();
    ensure!(errors.is_empty(), "{what} does not match the OCI schema: {}", errors.join("; "));
    Ok(())
}

mod tests {
    use super::*;
    use serde_json::json;
    use std::path::PathBuf;

    /// What `fixture` should get wrong; `Knobs::default()` builds a valid gzip image.
    #[derive(Default)]
    struct Knobs {
        compression: &'static str,
        flip_layer_byte: bool,
        layer_size_delta: u64,
        wrong_diff_id: bool,
        no_manifest_media_type: bool,
        bad_layer_media_type: bool,
        extra_file: Option<&'static str>,
    }

    fn put(dir: &Path, data: &[u8]) -> Value {
        let digest = sha256(data);
        std::fs::write(dir.join(blob_path(&digest)), data).unwrap();
        json!({"digest": digest, "size": data.len()})
    }

    fn with_type(mut desc: Value, media_type: &str) -> Value {
        desc["mediaType"] = json!(media_type);
        desc
    }

    /// A one-layer tar: a dir, a setuid file, a PAX non-ASCII name, a GNU long name, links.
    fn layer_tar() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut add = |kind, path: &str, mode, link: Option<&str>, data: &[u8]| {
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(kind);
            (h.set_mode(mode), h.set_size(data.len() as u64), h.set_mtime(1_700_000_000));
            (h.set_uid(0), h.set_gid(0));
            if let Some(l) = link {
                h.set_link_name(l).unwrap();
            }
            b.append_data(&mut h, path, data).unwrap();
        };
        add(tar::EntryType::Directory, "app/", 0o755, None, b"");
        add(tar::EntryType::Regular, "app/hello.txt", 0o644, None, b"hello\n");
        add(tar::EntryType::Regular, "app/tool", 0o4755, None, b"#!/bin/sh\n");
        add(tar::EntryType::Symlink, "app/link", 0o777, Some("hello.txt"), b"");
        add(tar::EntryType::Link, "app/hard", 0o644, Some("app/hello.txt"), b"");
        add(tar::EntryType::Regular, &format!("app/{}", "n".repeat(120)), 0o600, None, b"x");
        let mut h = tar::Header::new_ustar();
        (h.set_mode(0o644), h.set_size(3), h.set_uid(0), h.set_gid(0));
        b.append_pax_extensions([("path", "données/é.txt".as_bytes())]).unwrap();
        b.append_data(&mut h, "placeholder", &b"abc"[..]).unwrap();
        b.into_inner().unwrap()
    }

    fn fixture(k: &Knobs) -> (tempfile::TempDir, PathBuf, Value) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("layout");
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        let tar = layer_tar();
        let (blob, media_type) = match k.compression {
            "zstd" => (zstd::encode_all(&tar[..], 3).unwrap(), MEDIA_LAYER_ZSTD),
            "none" => (tar.clone(), MEDIA_LAYER_TAR),
            _ => {
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                std::io::Write::write_all(&mut gz, &tar).unwrap();
                (gz.finish().unwrap(), MEDIA_LAYER_GZIP)
            }
        };
        let mut layer = with_type(put(&dir, &blob), if k.bad_layer_media_type { "not a media type" } else { media_type });
        layer["size"] = json!(blob.len() as u64 + k.layer_size_delta);
        if k.flip_layer_byte {
            let mut bad = blob.clone();
            bad[blob.len() / 2] ^= 1;
            std::fs::write(dir.join(blob_path(layer["digest"].as_str().unwrap())), bad).unwrap();
        }
        let diff_id = if k.wrong_diff_id { sha256(b"other") } else { sha256(&tar) };
        let rootfs = json!({"type": "layers", "diff_ids": [diff_id]});
        let config = json!({"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z", "rootfs": rootfs});
        let config = with_type(put(&dir, config.to_string().as_bytes()), MEDIA_CONFIG);
        let mut manifest = json!({"schemaVersion": 2, "mediaType": MEDIA_MANIFEST, "config": config, "layers": [layer]});
        if k.no_manifest_media_type {
            manifest.as_object_mut().unwrap().remove("mediaType");
        }
        let mut desc = with_type(put(&dir, manifest.to_string().as_bytes()), MEDIA_MANIFEST);
        desc["platform"] = json!({"os": "linux", "architecture": "amd64"});
        desc["annotations"] = json!({REF_NAME: "app:1"});
        let index = json!({"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": [desc]});
        std::fs::write(dir.join("index.json"), index.to_string()).unwrap();
        if let Some(name) = k.extra_file {
            std::fs::write(dir.join(name), b"garbage").unwrap();
        }
        (tmp, dir, manifest)
    }

    /// Tars `dir` as an OCI archive, plus `manifest.json` when given.
    fn archive(dir: &Path, docker: Option<Value>) -> PathBuf {
        let out = dir.with_extension("tar");
        let mut b = tar::Builder::new(std::fs::File::create(&out).unwrap());
        let mut add = |name: &str, data: Option<Vec<u8>>| {
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(if data.is_some() { tar::EntryType::Regular } else { tar::EntryType::Directory });
            (h.set_mode(0o644), h.set_size(data.as_ref().map_or(0, Vec::len) as u64));
            b.append_data(&mut h, name, data.as_deref().unwrap_or_default()).unwrap();
        };
        for (name, data) in load(dir).unwrap() {
            add(&name, data);
        }
        if let Some(doc) = docker {
            add("manifest.json", Some(doc.to_string().into_bytes()));
        }
        b.into_inner().unwrap();
        out
    }

    fn error_of(path: &Path) -> String {
        format!("{:#}", check_image(path).expect_err("the checker accepted a broken image"))
    }

    #[test]
    fn accepts_valid_layouts_in_every_compression() {
        for compression in ["gzip", "zstd", "none"] {
            let (_tmp, dir, manifest) = fixture(&Knobs { compression, ..Knobs::default() });
            let img = check_image(&dir).unwrap_or_else(|e| panic!("{compression}: {e:#}"));
            let m = img.single().unwrap();
            assert_eq!((m.platform.to_string(), m.ref_name.as_deref()), ("linux/amd64".into(), Some("app:1")));
            assert_eq!(img.ref_names(), ["app:1"]);
            assert_eq!(m.manifest, manifest);
            assert_eq!(m.layers[0].diff_id, sha256(&layer_tar()));
            assert_eq!(img.blobs.len(), 3);
        }
    }

    #[test]
    fn entries_are_read_with_pax_and_long_names_applied() {
        let (_tmp, dir, _) = fixture(&Knobs::default());
        let img = check_image(&dir).unwrap();
        let entries = &img.single().unwrap().layers[0].entries;
        let want = format!(
            "drwxr-xr-x 0/0        0 2023-11-14 22:13:20 app/\n\
             -rw-r--r-- 0/0        6 2023-11-14 22:13:20 app/hello.txt\n\
             -rwsr-xr-x 0/0       10 2023-11-14 22:13:20 app/tool\n\
             lrwxrwxrwx 0/0        0 2023-11-14 22:13:20 app/link -> hello.txt\n\
             hrw-r--r-- 0/0        0 2023-11-14 22:13:20 app/hard link to app/hello.txt\n\
             -rw------- 0/0        1 2023-11-14 22:13:20 app/{}\n\
             -rw-r--r-- 0/0        3 1970-01-01 00:00:00 données/é.txt\n",
            "n".repeat(120)
        );
        assert_eq!(listing(entries), want);
        assert_eq!(entries[1].content_sha256.as_deref(), Some(&sha256(b"hello\n")[7..]));
        assert_eq!(entries[6].path_bytes, "données/é.txt".as_bytes());
    }

    #[test]
    fn rejects_broken_layouts_naming_the_problem() {
        let cases: [(Knobs, &[&str]); 7] = [
            (Knobs { flip_layer_byte: true, ..Knobs::default() }, &["layer 0 (sha256:", "digest mismatch"]),
            (Knobs { layer_size_delta: 1, ..Knobs::default() }, &["layer 0 (sha256:", "size mismatch", "blob has"]),
            (Knobs { wrong_diff_id: true, compression: "zstd", ..Knobs::default() }, &["layer 0", "diff_ids[0]", &sha256(b"other")]),
            (Knobs { no_manifest_media_type: true, ..Knobs::default() }, &["manifest sha256:", "mediaType is not set"]),
            (Knobs { bad_layer_media_type: true, ..Knobs::default() }, &["does not match the OCI schema", "/layers/0/mediaType"]),
            (Knobs { extra_file: Some("blobs/sha256/.tmp-upload"), ..Knobs::default() }, &["unexpected file 'blobs/sha256/.tmp-upload'"]),
            (Knobs { extra_file: Some("index.json.tmp"), ..Knobs::default() }, &["unexpected file 'index.json.tmp'"]),
        ];
        for (knobs, wanted) in cases {
            let (_tmp, dir, _) = fixture(&knobs);
            let err = error_of(&dir);
            for want in wanted {
                assert!(err.contains(want), "error {err:?} lacks {want:?}");
            }
        }
    }

    #[test]
    fn rejects_unreferenced_blobs_unless_allowed() {
        let (_tmp, dir, _) = fixture(&Knobs::default());
        let stray = put(&dir, b"left over");
        let err = error_of(&dir);
        let hex = &stray["digest"].as_str().unwrap()[7..];
        assert!(err.contains(&format!("unreferenced blob blobs/sha256/{hex}")), "{err}");
        let lenient = CheckOptions { allow_unreferenced_blobs: true, ..CheckOptions::default() };
        check_image_with(&dir, &lenient).unwrap();
    }

    #[test]
    fn third_party_mode_tolerates_missing_media_types_only() {
        let (_tmp, dir, _) = fixture(&Knobs { no_manifest_media_type: true, ..Knobs::default() });
        check_image_with(&dir, &CheckOptions::third_party()).unwrap();
        let index = std::fs::read_to_string(dir.join("index.json")).unwrap();
        std::fs::write(dir.join("index.json"), index.replace(MEDIA_INDEX, MEDIA_MANIFEST)).unwrap();
        let err = format!("{:#}", check_image_with(&dir, &CheckOptions::third_party()).unwrap_err());
        assert!(err.contains("index.json: mediaType is '"), "{err}");
    }

    #[test]
    fn archives_are_checked_with_their_docker_manifest() {
        let (_tmp, dir, manifest) = fixture(&Knobs::default());
        let config = blob_path(manifest["config"]["digest"].as_str().unwrap());
        let layer = blob_path(manifest["layers"][0]["digest"].as_str().unwrap());
        let good = json!([{"Config": config, "RepoTags": ["app:1"], "Layers": [layer]}]);
        let img = check_image(&archive(&dir, Some(good))).unwrap();
        assert_eq!(img.docker_manifest.unwrap()[0]["RepoTags"], json!(["app:1"]));
        let bad = json!([{"Config": config, "RepoTags": ["app:1"], "Layers": [config]}]);
        let err = error_of(&archive(&dir, Some(bad)));
        assert!(err.contains("manifest.json [0]: Layers"), "{err}");
        std::fs::write(dir.join("blobs/sha256/tmp-partial"), b"x").unwrap();
        let err = error_of(&archive(&dir, None));
        assert!(err.contains("unexpected file 'blobs/sha256/tmp-partial'"), "{err}");
    }

    #[test]
    fn garbage_inputs_are_errors_not_panics() {
        let tmp = tempfile::tempdir().unwrap();
        let (junk, empty) = (tmp.path().join("junk.tar"), tmp.path().join("empty"));
        std::fs::write(&junk, vec![7u8; 2000]).unwrap();
        std::fs::create_dir(&empty).unwrap();
        assert!(error_of(&junk).contains("junk.tar"));
        assert!(error_of(&empty).contains("oci-layout is missing"));
        assert!(error_of(&tmp.path().join("absent")).contains("absent"));
    }
}
