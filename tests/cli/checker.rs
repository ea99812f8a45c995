//! Our own OCI image validator, in the spirit of go-containerregistry's `validate.Image`.
//!
//! `check_image` opens an OCI archive (a tar of an image layout) or a layout directory, checks
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
const MAX_JSON: usize = 4 << 20;
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
        Self {
            require_media_type: true,
            allow_unreferenced_blobs: false,
        }
    }
}

impl CheckOptions {
    /// For images written by other tools: a missing `mediaType` is fine (a wrong one is not).
    pub fn third_party() -> Self {
        Self {
            require_media_type: false,
            ..Self::default()
        }
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
        let list = self.index["manifests"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        let name = |m: &Value| m["annotations"][REF_NAME].as_str().map(String::from);
        list.iter().filter_map(name).collect()
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
                if ent.file_type()?.is_dir() {
                    todo.push(format!("{name}/"));
                    members.insert(format!("{name}/"), None);
                } else {
                    ensure!(ent.file_type()?.is_file(), "'{name}' is not a regular file");
                    let data =
                        std::fs::read(ent.path()).with_context(|| format!("reading {name}"))?;
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
                entry
                    .read_to_end(&mut data)
                    .with_context(|| format!("reading member {name}"))?;
                Some(data)
            }
            other => bail!("archive member '{name}' is a {other:?}, not a file or directory"),
        };
        ensure!(
            members.insert(name.clone(), data).is_none(),
            "archive member '{name}' repeats"
        );
    }
    Ok(members)
}

fn check_members(members: &Members, opts: &CheckOptions) -> Result<CheckedImage> {
    for (name, data) in members {
        let ok = match (name.as_str(), data.is_none()) {
            ("blobs/" | "blobs/sha256/", dir) => dir,
            ("oci-layout" | "index.json" | "manifest.json", dir) => !dir,
            (_, dir) => !dir && name.strip_prefix("blobs/sha256/").is_some_and(is_hex64),
        };
        ensure!(
            ok,
            "unexpected '{name}' in the layout (a temp file or foreign content?)"
        );
    }
    let schemas = schemas()?;
    let json_file = |name: &str| -> Result<Value> {
        let data = members.get(name).and_then(Option::as_ref);
        let data = data.ok_or_else(|| anyhow!("{name} is missing"))?;
        ensure!(
            data.len() <= MAX_JSON,
            "{name} is larger than {MAX_JSON} bytes"
        );
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
    let (blobs, layers, out) = (BTreeSet::new(), BTreeMap::new(), vec![]);
    let mut walker = Walker {
        members,
        schemas,
        opts,
        blobs,
        layers,
        out,
    };
    walker.walk_index("index.json", &index, 0)?;
    for name in members.keys() {
        if let Some(hex) = name.strip_prefix("blobs/sha256/").filter(|h| !h.is_empty()) {
            let known = walker.blobs.contains(&format!("sha256:{hex}"));
            ensure!(
                known || opts.allow_unreferenced_blobs,
                "unreferenced blob {name}"
            );
        }
    }
    let docker_manifest = match members.contains_key("manifest.json") {
        true => Some(check_docker_manifest(
            members,
            json_file("manifest.json")?,
            &walker.out,
        )?),
        false => None,
    };
    let (manifests, blobs) = (walker.out, walker.blobs);
    Ok(CheckedImage {
        index,
        manifests,
        docker_manifest,
        blobs,
    })
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
        let d = Desc::deserialize(v).with_context(|| format!("{what}: malformed descriptor"))?;
        let ok = d.digest.strip_prefix("sha256:").is_some_and(is_hex64);
        ensure!(
            ok,
            "{what}: digest '{}' is not sha256:<64 lowercase hex>",
            d.digest
        );
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
        ensure!(
            depth <= MAX_DEPTH,
            "{what}: indexes nested deeper than {MAX_DEPTH}"
        );
        let list = index["manifests"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        for (i, v) in list.iter().enumerate() {
            let what = format!("{what} manifests[{i}]");
            let d = Desc::parse(v, &what)?;
            match d.media_type.as_str() {
                MEDIA_INDEX => {
                    let (nested, name) = self.json_blob(&d, "index", &self.schemas.index)?;
                    self.walk_index(&name, &nested, depth + 1)?;
                }
                MEDIA_MANIFEST => self.check_manifest(&d).context(what)?,
                other => bail!("{what} ({}): unsupported media type '{other}'", d.digest),
            }
        }
        Ok(())
    }

    /// The blob's bytes after checking its size and digest; remembers it as referenced.
    fn blob(&mut self, d: &Desc, what: &str) -> Result<&'a [u8]> {
        let data = self
            .members
            .get(&blob_path(&d.digest))
            .and_then(Option::as_deref);
        let data = data.ok_or_else(|| anyhow!("{what} {}: blob is missing", d.digest))?;
        let (want, len) = (d.size, data.len());
        ensure!(
            len as u64 == want,
            "{what} {}: size mismatch: descriptor says {want} bytes, blob has {len}",
            d.digest
        );
        let got = sha256(data);
        ensure!(
            got == d.digest,
            "{what} {}: digest mismatch: content hashes to {got}",
            d.digest
        );
        self.blobs.insert(d.digest.clone());
        Ok(data)
    }

    /// A JSON blob, schema-checked; index and manifest `mediaType` must match the descriptor.
    fn json_blob(
        &mut self,
        d: &Desc,
        what: &str,
        schema: &jsonschema::Validator,
    ) -> Result<(Value, String)> {
        let name = format!("{what} {}", d.digest);
        ensure!(
            d.size <= MAX_JSON as u64,
            "{name}: size {} is over {MAX_JSON} bytes",
            d.size
        );
        let doc: Value =
            serde_json::from_slice(self.blob(d, what)?).context(format!("{name} is not JSON"))?;
        validate(schema, &doc, &name)?;
        match doc.get("mediaType").and_then(Value::as_str) {
            _ if what == "config" => {}
            Some(m) if m == d.media_type => {}
            Some(m) => bail!(
                "{name}: mediaType is '{m}' but its descriptor says '{}'",
                d.media_type
            ),
            None if !self.opts.require_media_type => {}
            None => bail!(
                "{name}: mediaType is not set (its descriptor says '{}')",
                d.media_type
            ),
        }
        Ok((doc, name))
    }

    fn check_manifest(&mut self, d: &Desc) -> Result<()> {
        let (manifest, name) = self.json_blob(d, "manifest", &self.schemas.manifest)?;
        let cd = Desc::parse(&manifest["config"], &format!("{name} config"))?;
        let cmt = &cd.media_type;
        ensure!(
            cmt == MEDIA_CONFIG,
            "{name}: config media type is '{cmt}', not '{MEDIA_CONFIG}'"
        );
        let (config, cname) = self.json_blob(&cd, "config", &self.schemas.config)?;
        let platform = Platform::deserialize(&config).context(format!("{cname}: platform"))?;
        if let Some(p) = d.platform.as_ref().filter(|p| **p != platform) {
            bail!("{name}: index says platform {p} but {cname} says {platform}");
        }
        let diff_ids = config["rootfs"]["diff_ids"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let descs = manifest["layers"].as_array().cloned().unwrap_or_default();
        let (n, m) = (descs.len(), diff_ids.len());
        ensure!(n == m, "{name}: {n} layers but {cname} lists {m} diff_ids");
        let (mut layers, mut seen) = (vec![], BTreeSet::new());
        for (i, (lv, want)) in descs.iter().zip(diff_ids).enumerate() {
            let ld = Desc::parse(lv, &format!("{name} layers[{i}]"))?;
            let what = format!("{name}: layer {i} ({})", ld.digest);
            let (diff_id, entries) = self.layer(&ld).context(what.clone())?;
            let ok = want.as_str() == Some(&diff_id);
            ensure!(
                ok,
                "{what}: tar hashes to {diff_id} but {cname} has diff_ids[{i}] = {want}"
            );
            for e in &entries {
                if let (Some(target), 'h') = (&e.link, e.kind) {
                    let ok = seen.contains(&clean(target));
                    ensure!(
                        ok,
                        "{what}: hard link '{}' -> '{target}': no such earlier member",
                        e.path
                    );
                }
                seen.insert(clean(&e.path));
            }
            let (digest, size, media_type) = (ld.digest, ld.size, ld.media_type);
            layers.push(CheckedLayer {
                digest,
                size,
                media_type,
                diff_id,
                entries,
            });
        }
        self.out.push(CheckedManifest {
            digest: d.digest.clone(),
            size: d.size,
            platform: d.platform.clone().unwrap_or(platform),
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
            MEDIA_LAYER_TAR if magic => {
                bail!("media type says plain tar but the blob is compressed")
            }
            MEDIA_LAYER_TAR => Box::new(data),
            MEDIA_LAYER_GZIP => Box::new(flate2::read::MultiGzDecoder::new(data)),
            MEDIA_LAYER_ZSTD => Box::new(zstd::Decoder::new(data)?),
            other => bail!("unsupported layer media type '{other}'"),
        };
        let mut tar = Vec::new();
        decoder
            .read_to_end(&mut tar)
            .context(format!("decompressing as {}", d.media_type))?;
        let hit = (sha256(&tar), read_entries(&tar)?);
        self.layers.insert(d.digest.clone(), hit.clone());
        Ok(hit)
    }
}

/// A tar path as a key: no `./` or `/` prefix, no trailing `/`.
fn clean(path: &str) -> String {
    let path = path.trim_start_matches("./").trim_start_matches('/');
    path.trim_end_matches('/').to_string()
}

fn read_entries(tar: &[u8]) -> Result<Vec<LayerEntry>> {
    let mut archive = tar::Archive::new(tar);
    let mut out: Vec<LayerEntry> = vec![];
    for entry in archive.entries().context("reading tar headers")? {
        let after = out
            .last()
            .map_or("first".into(), |e| format!("after '{}'", e.path));
        let mut entry = entry.with_context(|| format!("tar member #{} ({after})", out.len()))?;
        let e = layer_entry(&mut entry);
        let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        out.push(e.with_context(|| format!("tar member #{} '{path}'", out.len()))?);
    }
    Ok(out)
}

fn layer_entry<R: Read>(entry: &mut tar::Entry<'_, R>) -> Result<LayerEntry> {
    use tar::EntryType as T;
    let h = entry.header().clone();
    let kind = match h.entry_type() {
        T::Regular | T::Continuous => '-',
        T::Directory => 'd',
        T::Symlink => 'l',
        T::Link => 'h',
        T::Char => 'c',
        T::Block => 'b',
        T::Fifo => 'p',
        other => bail!("unsupported tar entry type {other:?}"),
    };
    let path_bytes = entry.path_bytes().into_owned();
    let path = String::from_utf8_lossy(&path_bytes).into_owned();
    ensure!(
        !path.is_empty() && !path.split('/').any(|c| c == ".."),
        "empty path or '..'"
    );
    let link_bytes = entry.link_name_bytes().map(|l| l.into_owned());
    ensure!(
        link_bytes.is_some() || !matches!(kind, 'l' | 'h'),
        "link without a target"
    );
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
    for rec in entry
        .pax_extensions()
        .context("PAX records")?
        .into_iter()
        .flatten()
    {
        let rec = rec.context("PAX record")?;
        let (key, value) = (rec.key().unwrap_or_default(), text(Some(rec.value_bytes())));
        let int = value.split('.').next().unwrap_or_default().parse::<u64>();
        let num = || int.clone().with_context(|| format!("PAX {key}={value}"));
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
        let (n, want) = (content.len() as u64, e.size);
        ensure!(n == want, "content is {n} bytes, header says {want}");
        e.content_sha256 = Some(sha256(&content)["sha256:".len()..].to_string());
    }
    Ok(e)
}

/// One image of Docker's `manifest.json` (`docker save` since Docker 25).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerImage {
    config: String,
    #[serde(rename = "RepoTags")]
    _repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// `manifest.json` must point at existing blobs, each entry at exactly one image's config and
/// layers.
fn check_docker_manifest(
    members: &Members,
    doc: Value,
    images: &[CheckedManifest],
) -> Result<Value> {
    let list = Vec::<DockerImage>::deserialize(&doc)
        .context("manifest.json: not a docker-save manifest")?;
    for (i, item) in list.iter().enumerate() {
        let what = format!("manifest.json [{i}]");
        for path in std::iter::once(&item.config).chain(&item.layers) {
            let ok = path.strip_prefix("blobs/sha256/").is_some_and(is_hex64);
            ensure!(
                ok && members.contains_key(path),
                "{what}: '{path}' is not an existing blob"
            );
        }
        // Each entry must be exactly one of the images: its config and its layers.
        let m = images
            .iter()
            .find(|m| item.config == blob_path(&m.config_digest))
            .ok_or_else(|| anyhow!("{what}: Config {} is no image's config", item.config))?;
        let layers: Vec<String> = m.layers.iter().map(|l| blob_path(&l.digest)).collect();
        ensure!(
            item.layers == layers,
            "{what}: Layers are not {}'s layers {layers:?}",
            m.digest
        );
    }
    ensure!(!list.is_empty(), "manifest.json: lists no image");
    Ok(doc)
}

/// A `tar tv`-style listing: type+mode, uid/gid (with names in parentheses when set), size,
/// mtime (UTC), path, then `-> target` for symlinks or `link to target` for hard links.
pub fn listing(entries: &[LayerEntry]) -> String {
    let id = |id: u64, name: &str| match name {
        "" => id.to_string(),
        _ => format!("{id}({name})"),
    };
    let mut out = String::new();
    for e in entries {
        let owner = format!("{}/{}", id(e.uid, &e.uname), id(e.gid, &e.gname));
        let (kind, mode, size, mtime) = (e.kind, perms(e.mode), e.size, utc(e.mtime));
        let _ = write!(out, "{kind}{mode} {owner} {size:>8} {mtime} {}", e.path);
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
    let bit = |i: usize, c: u8| if mode & (0o400 >> i) != 0 { c } else { b'-' };
    let mut s: Vec<u8> = b"rwxrwxrwx"
        .iter()
        .enumerate()
        .map(|(i, c)| bit(i, *c))
        .collect();
    for (flag, at, set) in [(0o4000, 2, b's'), (0o2000, 5, b's'), (0o1000, 8, b't')] {
        if mode & flag != 0 {
            s[at] = if s[at] == b'x' {
                set
            } else {
                set.to_ascii_uppercase()
            };
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
    let (d, m) = (
        doy - (153 * mp + 2) / 5 + 1,
        if mp < 10 { mp + 3 } else { mp - 9 },
    );
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (hh, mm, ss) = (rem / 3600, rem / 60 % 60, rem % 60);
    format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02}")
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

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl jsonschema::Retrieve for BundledSchemas {
    fn retrieve(&self, uri: &jsonschema::Uri<String>) -> Result<Value, BoxError> {
        let name = uri.path().as_str().rsplit('/').next().unwrap_or_default();
        let found = SCHEMA_FILES.iter().find(|(n, _)| *n == name);
        let (_, text) = found.ok_or_else(|| format!("no bundled OCI schema for '{uri}'"))?;
        Ok(serde_json::from_str(text)?)
    }
}

fn schemas() -> Result<&'static Schemas> {
    static SCHEMAS: OnceLock<Result<Schemas, String>> = OnceLock::new();
    let build = |file: &str| -> Result<jsonschema::Validator, String> {
        let text = SCHEMA_FILES
            .iter()
            .find(|(n, _)| *n == file)
            .map_or("", |(_, t)| *t);
        let schema: Value = serde_json::from_str(text).map_err(|e| format!("{file}: {e}"))?;
        let opts = jsonschema::draft4::options().with_retriever(BundledSchemas);
        let opts = opts.should_validate_formats(true);
        opts.build(&schema)
            .map_err(|e| format!("compiling {file}: {e}"))
    };
    let built = SCHEMAS.get_or_init(|| {
        Ok(Schemas {
            layout: build("image-layout-schema.json")?,
            index: build("image-index-schema.json")?,
            manifest: build("image-manifest-schema.json")?,
            config: build("config-schema.json")?,
        })
    });
    built
        .as_ref()
        .map_err(|e| anyhow!("loading the OCI schemas: {e}"))
}

fn validate(schema: &jsonschema::Validator, doc: &Value, what: &str) -> Result<()> {
    let error = |e: jsonschema::ValidationError| format!("at '{}': {e}", e.instance_path);
    let errors: Vec<String> = schema.iter_errors(doc).take(5).map(error).collect();
    ensure!(
        errors.is_empty(),
        "{what} does not match the OCI schema: {}",
        errors.join("; ")
    );
    Ok(())
}

mod tests;
