//! Images made by hand, for inspect and export, hostile ones included. Layers are tar streams
//! written header by header with the names put into the header fields as given (so `..`,
//! absolute names and bad whiteouts can be expressed, which `tar::Builder` refuses), then
//! compressed (gzip, possibly as many members; zstd; or not at all). Images are written as
//! OCI layouts or archives, optionally with lies in their descriptors.
#![allow(dead_code)] // shared test support: not every test module uses every helper

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

pub fn sha256(data: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(data))
}

/// One tar entry, as a reader will see it.
#[derive(Clone, Debug)]
pub enum E {
    File(&'static str, &'static [u8], u32),
    Dir(&'static str, u32),
    Symlink(&'static str, String),
    Hardlink(&'static str, String),
    /// A regular file whose header says `size` bytes, with only the header written: the
    /// content (zeros) is produced by the caller (used for bombs).
    Header(&'static str, u64),
}

pub fn file(name: &'static str, data: &'static [u8]) -> E {
    E::File(name, data, 0o644)
}
pub fn dir(name: &'static str) -> E {
    E::Dir(name, 0o755)
}
pub fn symlink(name: &'static str, target: impl Into<String>) -> E {
    E::Symlink(name, target.into())
}
pub fn hardlink(name: &'static str, target: impl Into<String>) -> E {
    E::Hardlink(name, target.into())
}

const MTIME: u64 = 1_650_000_000;

/// The header block(s) of one entry: a PAX header first when the name or link is long.
pub fn header(name: &[u8], ty: tar::EntryType, link: &[u8], size: u64, mode: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut pax = Vec::new();
    for (key, value) in [("path", name), ("linkpath", link)] {
        if value.len() > 100 {
            let body = format!(" {key}={}\n", String::from_utf8_lossy(value));
            let mut len = body.len() + 1;
            while len.to_string().len() + body.len() != len {
                len += 1;
            }
            pax.extend_from_slice(format!("{len}{body}").as_bytes());
        }
    }
    if !pax.is_empty() {
        let mut h = tar::Header::new_ustar();
        h.as_old_mut().name[..9].copy_from_slice(b"PaxHeader");
        h.set_entry_type(tar::EntryType::XHeader);
        h.set_size(pax.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(MTIME);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(&pax);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    let mut h = tar::Header::new_ustar();
    let n = name.len().min(100);
    h.as_old_mut().name[..n].copy_from_slice(&name[..n]);
    let l = link.len().min(100);
    h.as_old_mut().linkname[..l].copy_from_slice(&link[..l]);
    h.set_entry_type(ty);
    h.set_size(size);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(MTIME);
    h.set_cksum();
    out.extend_from_slice(h.as_bytes());
    out
}

/// A tar stream of `entries`, without the end-of-archive blocks.
pub fn tar_body(entries: &[E]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        match e {
            E::File(name, data, mode) => {
                out.extend(header(
                    name.as_bytes(),
                    tar::EntryType::Regular,
                    b"",
                    data.len() as u64,
                    *mode,
                ));
                out.extend_from_slice(data);
                out.resize(out.len().div_ceil(512) * 512, 0);
            }
            E::Dir(name, mode) => out.extend(header(
                name.as_bytes(),
                tar::EntryType::Directory,
                b"",
                0,
                *mode,
            )),
            E::Symlink(name, target) => out.extend(header(
                name.as_bytes(),
                tar::EntryType::Symlink,
                target.as_bytes(),
                0,
                0o777,
            )),
            E::Hardlink(name, target) => out.extend(header(
                name.as_bytes(),
                tar::EntryType::Link,
                target.as_bytes(),
                0,
                0o644,
            )),
            E::Header(name, size) => out.extend(header(
                name.as_bytes(),
                tar::EntryType::Regular,
                b"",
                *size,
                0o644,
            )),
        }
    }
    out
}

/// A complete tar stream of `entries`.
pub fn tar(entries: &[E]) -> Vec<u8> {
    let mut out = tar_body(entries);
    out.extend_from_slice(&[0u8; 1024]);
    out
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

pub const GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const TAR: &str = "application/vnd.oci.image.layer.v1.tar";

/// A layer blob with its media type and the diff_id its config will state.
#[derive(Clone, Debug)]
pub struct Layer {
    pub blob: Vec<u8>,
    pub media_type: &'static str,
    pub diff_id: String,
    /// Stored under this digest instead of the blob's own (a digest lie).
    pub declared_digest: Option<String>,
    /// Described with this size instead of the blob's (a size lie).
    pub declared_size: Option<u64>,
}

impl Layer {
    pub fn gzip(entries: &[E]) -> Layer {
        let t = tar(entries);
        Layer {
            blob: gzip(&t),
            media_type: GZIP,
            diff_id: sha256(&t),
            declared_digest: None,
            declared_size: None,
        }
    }

    pub fn plain(entries: &[E]) -> Layer {
        let t = tar(entries);
        Layer {
            diff_id: sha256(&t),
            blob: t,
            media_type: TAR,
            declared_digest: None,
            declared_size: None,
        }
    }

    pub fn zstd(entries: &[E]) -> Layer {
        let t = tar(entries);
        Layer {
            blob: zstd::encode_all(&t[..], 3).unwrap(),
            media_type: ZSTD,
            diff_id: sha256(&t),
            declared_digest: None,
            declared_size: None,
        }
    }

    /// Raw bytes as a layer of `media_type` (garbage, truncated streams...).
    pub fn raw(blob: Vec<u8>, media_type: &'static str) -> Layer {
        Layer {
            diff_id: sha256(b"not the content"),
            blob,
            media_type,
            declared_digest: None,
            declared_size: None,
        }
    }

    /// A gzip of `gib` GiB (a file of zeros in a tar), made of many small gzip members:
    /// about 1 KiB per MiB, so a few MiB of blob.
    pub fn gzip_bomb(gib: u64) -> Layer {
        let size = gib << 30;
        let mut blob = gzip(&tar_body(&[E::Header("bomb", size)]));
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&vec![0u8; 1 << 20]).unwrap();
        let mib = enc.finish().unwrap();
        for _ in 0..(size >> 20) {
            blob.extend_from_slice(&mib);
        }
        blob.extend(gzip(&[0u8; 1024]));
        Layer::raw(blob, GZIP)
    }
}

/// An image: layers, a config (extra fields merged in), a platform and an optional tag.
#[derive(Clone, Debug)]
pub struct Img {
    pub layers: Vec<Layer>,
    pub config_extra: Value,
    pub os: &'static str,
    pub arch: &'static str,
    pub tag: Option<&'static str>,
    /// Pad the config with a label of this many bytes (huge JSON).
    pub config_padding: usize,
    /// Pad the manifest with an annotation of this many bytes.
    pub manifest_padding: usize,
}

/// Digests of what was written.
#[derive(Clone, Debug)]
pub struct Written {
    pub path: PathBuf,
    pub manifest: String,
    pub config: String,
    pub layers: Vec<String>,
}

impl Img {
    pub fn new(layers: Vec<Layer>) -> Img {
        Img {
            layers,
            config_extra: json!({}),
            os: "linux",
            arch: "amd64",
            tag: Some("test:1"),
            config_padding: 0,
            manifest_padding: 0,
        }
    }

    pub fn config(&self) -> Vec<u8> {
        let mut c = json!({
            "architecture": self.arch,
            "os": self.os,
            "rootfs": {"type": "layers", "diff_ids": self.layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>()},
            "config": {"Env": ["PATH=/usr/bin:/bin"]},
        });
        if let (Some(obj), Some(extra)) = (c.as_object_mut(), self.config_extra.as_object()) {
            for (k, v) in extra {
                obj.insert(k.clone(), v.clone());
            }
        }
        if self.config_padding > 0 {
            c["config"]["Labels"] = json!({"pad": "p".repeat(self.config_padding)});
        }
        serde_json::to_vec(&c).unwrap()
    }

    /// Write an OCI image layout at `dir`.
    pub fn layout(&self, dir: &Path) -> Written {
        let blobs = dir.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap();
        let put = |data: &[u8], name: &str| {
            std::fs::write(blobs.join(name.trim_start_matches("sha256:")), data).unwrap();
        };
        let config = self.config();
        let config_digest = sha256(&config);
        put(&config, &config_digest);
        let mut descs = Vec::new();
        let mut layer_digests = Vec::new();
        for l in &self.layers {
            let digest = l.declared_digest.clone().unwrap_or_else(|| sha256(&l.blob));
            put(&l.blob, &digest);
            let size = l.declared_size.unwrap_or(l.blob.len() as u64);
            descs.push(json!({"mediaType": l.media_type, "digest": digest, "size": size}));
            layer_digests.push(digest);
        }
        let mut manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
            "layers": descs,
        });
        if self.manifest_padding > 0 {
            manifest["annotations"] = json!({"pad": "p".repeat(self.manifest_padding)});
        }
        let manifest = serde_json::to_vec(&manifest).unwrap();
        let manifest_digest = sha256(&manifest);
        put(&manifest, &manifest_digest);
        let mut desc = json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest.len(),
            "platform": {"os": self.os, "architecture": self.arch},
        });
        if let Some(tag) = self.tag {
            desc["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
        }
        let index = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [desc],
        });
        std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
        std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        Written {
            path: dir.to_path_buf(),
            manifest: manifest_digest,
            config: config_digest,
            layers: layer_digests,
        }
    }

    /// Write an OCI archive at `path` (a layout, tarred).
    pub fn archive(&self, path: &Path) -> Written {
        let tmp = tempfile::tempdir().unwrap();
        let mut w = self.layout(tmp.path());
        tar_dir(tmp.path(), path);
        w.path = path.to_path_buf();
        w
    }
}

/// Tar the files of `dir` (flat names relative to it) into `out`.
pub fn tar_dir(dir: &Path, out: &Path) {
    let mut b = tar::Builder::new(std::fs::File::create(out).unwrap());
    b.mode(tar::HeaderMode::Deterministic);
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let mut names: Vec<_> = std::fs::read_dir(dir.join(&rel))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        for n in names {
            let r = rel.join(&n);
            let full = dir.join(&r);
            if full.is_dir() {
                b.append_dir(&r, &full).unwrap();
                stack.push(r);
            } else {
                b.append_path_with_name(&full, &r).unwrap();
            }
        }
    }
    b.finish().unwrap();
}

/// What a run of the binary gave, with its peak memory.
pub struct Measured {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
    /// Peak resident set size of the process, in KiB.
    pub max_rss_kib: u64,
}

/// `VmHWM` (the peak RSS of the process's current image) from /proc, in KiB.
fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Run the binary with `args` in `dir` (a clean environment plus `envs`) and measure its
/// peak RSS by polling `VmHWM`, a high-water mark of the process after `exec` only
/// (`wait4`'s `ru_maxrss` would include the test binary's memory inherited at fork).
pub fn run_measured(dir: &Path, args: &[&std::ffi::OsStr], envs: &[(&str, &str)]) -> Measured {
    let out = tempfile::tempfile().unwrap();
    let err = tempfile::tempfile().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_imgbuild"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(envs.iter().copied())
        .current_dir(dir)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(err.try_clone().unwrap())
        .spawn()
        .unwrap();
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_imgbuild")).unwrap();
    let mut peak = 0;
    let status = loop {
        // Only once the child runs imgbuild (not the forked test binary before exec).
        let running =
            std::fs::read_link(format!("/proc/{}/exe", child.id())).is_ok_and(|p| p == exe);
        if running && let Some(kib) = vm_hwm(child.id()) {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    };
    let read = |mut f: std::fs::File| {
        use std::io::{Read, Seek};
        f.seek(std::io::SeekFrom::Start(0)).unwrap();
        let mut v = Vec::new();
        f.read_to_end(&mut v).unwrap();
        v
    };
    Measured {
        code: status.code().unwrap_or(-1),
        stdout: read(out),
        stderr: String::from_utf8_lossy(&read(err)).into_owned(),
        max_rss_kib: peak,
    }
}
