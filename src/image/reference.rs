//! The IMAGE argument of `--base`, `inspect` and `export`: where an image on disk is and
//! in which form, which tag, and an optional pinned digest.
//!
//! `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`, `docker-archive:FILE[:TAG]`, a plain path
//! (a directory is a layout; a file is sniffed), or `-` for an archive on stdin; any of
//! them may end in `@sha256:<64 hex>`. As in skopeo, the first `:` after the path ends it.

use std::fmt;
use std::path::PathBuf;

use oci_client::Reference;

/// In which form an IMAGE argument names its image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// An OCI image-layout directory.
    Layout,
    /// A tar of an OCI image layout.
    OciArchive,
    /// A `docker save` archive (manifest.json; classic or Docker 25+).
    DockerArchive,
    /// A plain path: a directory is a layout, a file is sniffed when opened; when nothing
    /// is at the path, it may be a registry reference (`busybox:1.36`).
    Sniff,
    /// `docker://HOST/REPO[:TAG|@DIGEST]`: an image in an OCI registry.
    Registry,
}

/// A parsed IMAGE argument: where the image is, in which form, and which of its images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// The form named by the prefix (`oci:`, `oci-archive:`, `docker-archive:`), or sniffed.
    pub transport: Transport,
    /// `None` for stdin.
    pub path: Option<PathBuf>,
    /// The tag after the path (`oci:DIR:TAG`), if any.
    pub tag: Option<String>,
    /// `sha256:<hex>` of the manifest or index to use.
    pub pinned: Option<String>,
    /// The argument as given, for messages and the base-name annotation.
    pub original: String,
    /// The registry reference, normalized as Docker does (`busybox` is
    /// `docker.io/library/busybox:latest`), for `docker://`.
    pub registry: Option<Reference>,
}

impl ImageRef {
    /// Parse an IMAGE argument; the error says what is wrong with it.
    pub fn parse(arg: &str) -> Result<ImageRef, String> {
        if arg.is_empty() {
            return Err("an empty image reference".into());
        }
        if let Some(name) = arg.strip_prefix("docker://") {
            return ImageRef::registry(arg, name);
        }
        let (rest, pinned) = match arg.rsplit_once('@') {
            Some((rest, digest)) if digest.starts_with("sha256:") => {
                let hex = &digest[7..];
                if crate::digest::Sha256Sum::from_hex(hex).is_none() {
                    return Err(format!(
                        "'{arg}': a pinned digest is @sha256: followed by 64 lowercase hex characters"
                    ));
                }
                (rest, Some(digest.to_owned()))
            }
            Some((_, digest)) if digest.contains(':') => {
                return Err(format!("'{arg}': only sha256 digests can be pinned"));
            }
            _ => (arg, None),
        };
        let (transport, body) = if let Some(b) = rest.strip_prefix("oci:") {
            (Transport::Layout, b)
        } else if let Some(b) = rest.strip_prefix("oci-archive:") {
            (Transport::OciArchive, b)
        } else if let Some(b) = rest.strip_prefix("docker-archive:") {
            (Transport::DockerArchive, b)
        } else if rest.starts_with("containers-storage:") {
            return Err(format!(
                "'{arg}': container storage is not supported; save the image to a file first (skopeo copy ... oci-archive:FILE)"
            ));
        } else {
            return Ok(ImageRef {
                transport: Transport::Sniff,
                path: (rest != "-").then(|| PathBuf::from(rest)),
                tag: None,
                pinned,
                original: arg.to_owned(),
                registry: None,
            });
        };
        let (path, tag) = match body.split_once(':') {
            Some((p, t)) => (p, Some(t)),
            None => (body, None),
        };
        if path.is_empty() {
            return Err(format!("'{arg}': the path is missing"));
        }
        if let Some(t) = tag
            && (t.is_empty() || t.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            return Err(format!("'{arg}': the tag after ':' is empty or has spaces"));
        }
        Ok(ImageRef {
            transport,
            path: (path != "-").then(|| PathBuf::from(path)),
            tag: tag.map(str::to_owned),
            pinned,
            original: arg.to_owned(),
            registry: None,
        })
    }

    /// `name` (what follows `docker://` in `arg`, or a bare `arg`) as a registry reference.
    pub fn registry(arg: &str, name: &str) -> Result<ImageRef, String> {
        let reference = Reference::try_from(name)
            .map_err(|e| format!("'{arg}' is not a valid registry reference: {e}"))?;
        if let Some(d) = reference.digest()
            && !d.starts_with("sha256:")
        {
            return Err(format!("'{arg}': only sha256 digests can be pinned"));
        }
        Ok(ImageRef {
            transport: Transport::Registry,
            path: None,
            tag: reference.tag().map(str::to_owned),
            pinned: reference.digest().map(str::to_owned),
            original: arg.to_owned(),
            registry: Some(reference),
        })
    }

    /// A plain path with nothing at it, read as a bare registry reference, if it is one
    /// (`busybox:1.36`, `ghcr.io/org/app@sha256:…`).
    pub fn as_bare_registry(&self) -> Option<ImageRef> {
        if self.transport != Transport::Sniff {
            return None;
        }
        let path = self.path.as_ref()?;
        if path.symlink_metadata().is_ok() || self.original.starts_with(['/', '.', '~']) {
            return None;
        }
        ImageRef::registry(&self.original, &self.original).ok()
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

/// Check a `-t/--tag` value against the reference grammar that registries, Docker and
/// podman use: `[HOST[:PORT]/]PATH[:TAG]`. PATH is one or more `/`-separated components of
/// lowercase letters and digits, joined inside a component by `.`, `_`, `__` or runs of
/// `-`; TAG is `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`; HOST is a first component that contains
/// `.` or `:`, is `localhost`, or has an uppercase letter (Docker's rule), made of DNS labels
/// (or a bracketed IPv6 address) with an optional numeric port. Returns what is wrong.
pub fn check_tag_reference(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("it is empty".into());
    }
    if value.len() > 255 {
        return Err(format!(
            "it is {} bytes long; at most 255 are allowed",
            value.len()
        ));
    }
    if value.contains('@') {
        return Err("a digest ('@…') cannot be given to a tag; name and tag only".into());
    }
    let (host, rest) = match value.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (Some(first), rest)
        }
        _ => (None, value),
    };
    if let Some(host) = host {
        check_host(host)?;
    }
    // The tag is what follows the first ':' (the path itself never holds one).
    let (path, tag) = match rest.split_once(':') {
        Some((path, tag)) => (path, Some(tag)),
        None => (rest, None),
    };
    if path.is_empty() {
        return Err("the repository name is missing".into());
    }
    for component in path.split('/') {
        check_path_component(component)?;
    }
    if let Some(tag) = tag {
        check_tag_part(tag)?;
    }
    Ok(())
}

fn check_host(host: &str) -> Result<(), String> {
    let (name, port) = if let Some(v6) = host.strip_prefix('[') {
        let Some((addr, after)) = v6.split_once(']') else {
            return Err(format!("registry host '{host}' has an unclosed '['"));
        };
        if addr.is_empty() || !addr.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
            return Err(format!("registry host '{host}' is not an IPv6 address"));
        }
        match after {
            "" => return Ok(()),
            p => (
                None,
                Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| format!("registry host '{host}' has text after ']'"))?,
                ),
            ),
        }
    } else {
        match host.split_once(':') {
            Some((n, p)) => (Some(n), Some(p)),
            None => (Some(host), None),
        }
    };
    if let Some(port) = port
        && (port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!("registry port in '{host}' must be a number"));
    }
    if let Some(name) = name {
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if !name.split('.').all(label_ok) {
            return Err(format!(
                "registry host '{host}' is not a host name (letters, digits, '-' and '.')"
            ));
        }
    }
    Ok(())
}

fn check_path_component(c: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("repository component '{c}' {why}"));
    if c.is_empty() {
        return bad("is empty (two '/' in a row, or one at an end)");
    }
    if c.bytes().any(|b| b.is_ascii_uppercase()) {
        return bad("has uppercase letters; repository names are lowercase");
    }
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = c.as_bytes();
    if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return bad("must start and end with a lowercase letter or digit");
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if alnum(b) {
            i += 1;
            continue;
        }
        // A separator: '.', '_', '__', or a run of '-', each followed by an alphanumeric.
        let start = i;
        match b {
            b'.' => i += 1,
            b'_' => {
                i += if bytes.get(i + 1) == Some(&b'_') {
                    2
                } else {
                    1
                }
            }
            b'-' => {
                while bytes.get(i) == Some(&b'-') {
                    i += 1;
                }
            }
            _ => return bad("may hold only lowercase letters, digits, '.', '_' and '-'"),
        }
        if !bytes.get(i).copied().is_some_and(alnum) {
            let sep = &c[start..i.min(c.len())];
            return bad(&format!("has '{sep}' where a letter or digit must follow"));
        }
    }
    Ok(())
}

fn check_tag_part(tag: &str) -> Result<(), String> {
    let mut chars = tag.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    if tag.is_empty() {
        return Err("the tag after ':' is empty".into());
    }
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) {
        return Err(format!(
            "tag '{tag}' may hold only letters, digits, '_', '.' and '-', and must not start with '.' or '-'"
        ));
    }
    if tag.len() > 128 {
        return Err(format!("tag '{tag}' is longer than 128 characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
