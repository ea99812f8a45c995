//! Reading a docker-save archive back and checking what the classic form promises.

use std::fs;
use std::io::Read;
use std::path::Path;

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// The SOURCE_DATE_EPOCH of these tests: every member's mtime.
pub const EPOCH: u64 = 1_700_000_000;

/// One member of an archive: type, mode, owner, mtime, bytes.
pub struct Member {
    pub name: String,
    dir: bool,
    mode: u32,
    owner: (u64, u64),
    mtime: u64,
    bytes: Vec<u8>,
}

pub fn members(path: &Path) -> Vec<Member> {
    let file = fs::File::open(path).unwrap();
    let mut archive = tar::Archive::new(file);
    let mut out = Vec::new();
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let h = e.header().clone();
        let mut bytes = Vec::new();
        e.read_to_end(&mut bytes).unwrap();
        out.push(Member {
            name: String::from_utf8(e.path_bytes().into_owned()).unwrap(),
            dir: h.entry_type().is_dir(),
            mode: h.mode().unwrap(),
            owner: (h.uid().unwrap(), h.gid().unwrap()),
            mtime: h.mtime().unwrap(),
            bytes,
        });
    }
    out
}

pub fn member<'a>(all: &'a [Member], name: &str) -> &'a [u8] {
    let m = all.iter().find(|m| m.name == name);
    &m.unwrap_or_else(|| panic!("no member {name}")).bytes
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// The names of the entries of a tar held in memory.
pub fn tar_names(bytes: &[u8]) -> Vec<String> {
    let mut archive = tar::Archive::new(bytes);
    let entries = archive.entries().unwrap();
    entries
        .map(|e| String::from_utf8(e.unwrap().path_bytes().into_owned()).unwrap())
        .collect()
}

/// Check everything the classic form promises and return (manifest.json entry, config).
pub fn check_docker_save(path: &Path, layers: usize) -> (Value, Value) {
    check_save(path, layers, Some(layers - 1))
}

/// As `check_docker_save`; `lead`: the layer (by index) that comes first (the context's
/// first, uncompressed, written in place), the rest sorted by name; `None`: all sorted.
pub fn check_save(path: &Path, layers: usize, lead: Option<usize>) -> (Value, Value) {
    let all = members(path);
    let names: Vec<&str> = all.iter().map(|m| m.name.as_str()).collect();
    let rest = if lead.is_some() {
        &names[1..]
    } else {
        &names[..]
    };
    let mut sorted = rest.to_vec();
    sorted.sort_unstable();
    assert_eq!(rest, sorted, "members (after the lead) are sorted by name");
    for m in &all {
        assert_eq!(m.owner, (0, 0), "{} is owned by 0:0", m.name);
        assert_eq!(m.mtime, EPOCH, "{} carries SOURCE_DATE_EPOCH", m.name);
        assert_eq!(m.mode, if m.dir { 0o755 } else { 0o644 }, "{}", m.name);
    }
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("blobs") || *n == "index.json")
    );
    let manifest: Value = serde_json::from_slice(member(&all, "manifest.json")).unwrap();
    let [entry] = manifest.as_array().unwrap().as_slice() else {
        panic!("manifest.json names one image: {manifest}")
    };
    let config_name = entry["Config"].as_str().unwrap();
    let config_bytes = member(&all, config_name);
    assert_eq!(
        format!("{}.json", &sha256(config_bytes)[7..]),
        config_name,
        "the config member is named by its digest"
    );
    let config: Value = serde_json::from_slice(config_bytes).unwrap();
    let diff_ids = config["rootfs"]["diff_ids"].as_array().unwrap();
    let layer_paths = entry["Layers"].as_array().unwrap();
    assert_eq!(layer_paths.len(), layers);
    assert_eq!(diff_ids.len(), layers);
    let mut parent: Option<String> = None;
    for (path, diff_id) in layer_paths.iter().zip(diff_ids) {
        let path = path.as_str().unwrap();
        let id = path.strip_suffix("/layer.tar").unwrap();
        assert_eq!(id.len(), 64, "{path}");
        let tar = member(&all, path);
        assert_eq!(
            &json!(sha256(tar)),
            diff_id,
            "{path} is the uncompressed layer"
        );
        assert!(names.contains(&&*format!("{id}/")), "{id}/ directory");
        assert_eq!(member(&all, &format!("{id}/VERSION")), b"1.0");
        let v1: Value = serde_json::from_slice(member(&all, &format!("{id}/json"))).unwrap();
        assert_eq!(v1["id"], json!(id));
        assert_eq!(v1.get("parent").cloned(), parent.clone().map(Value::from));
        parent = Some(id.to_owned());
    }
    if let Some(i) = lead {
        let first = layer_paths[i].as_str().unwrap();
        assert_eq!(names[0], first, "the context's first layer comes first");
    }
    let top: Value =
        serde_json::from_slice(member(&all, &format!("{}/json", parent.unwrap()))).unwrap();
    assert_eq!(top["created"], config["created"]);
    assert_eq!(top["architecture"], config["architecture"]);
    (entry.clone(), config)
}
