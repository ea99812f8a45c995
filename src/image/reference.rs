//! The IMAGE argument of `--base`, `inspect` and `export`: where an image on disk is and
//! in which form, which tag, and an optional pinned digest.
//!
//! `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`, `docker-archive:FILE[:TAG]`, a plain path
//! (a directory is a layout; a file is sniffed), or `-` for an archive on stdin; any of
//! them may end in `@sha256:<64 hex>`. As in skopeo, the first `:` after the path ends it.

use std::fmt;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// An OCI image-layout directory.
    Layout,
    /// A tar of an OCI image layout.
    OciArchive,
    /// A `docker save` archive (manifest.json; classic or Docker 25+).
    DockerArchive,
    /// A plain path: a directory is a layout, a file is sniffed when opened.
    Sniff,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub transport: Transport,
    /// `None` for stdin.
    pub path: Option<PathBuf>,
    pub tag: Option<String>,
    /// `sha256:<hex>` of the manifest or index to use.
    pub pinned: Option<String>,
    /// The argument as given, for messages and the base-name annotation.
    pub original: String,
}

impl ImageRef {
    pub fn parse(arg: &str) -> Result<ImageRef, String> {
        if arg.is_empty() {
            return Err("an empty image reference".into());
        }
        let (rest, pinned) = match arg.rsplit_once('@') {
            Some((rest, digest)) if digest.starts_with("sha256:") => {
                let hex = &digest[7..];
                if hex.len() != 64
                    || !hex
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                {
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
        } else if rest.starts_with("docker://") || rest.starts_with("containers-storage:") {
            return Err(format!(
                "'{arg}': registries and container storage are not supported; save the image to a file first (skopeo copy ... oci-archive:FILE)"
            ));
        } else {
            return Ok(ImageRef {
                transport: Transport::Sniff,
                path: (rest != "-").then(|| PathBuf::from(rest)),
                tag: None,
                pinned,
                original: arg.to_owned(),
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
        })
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! parses {
        ($arg:expr, $t:ident, $path:expr, $tag:expr, $pin:expr) => {
            let r = ImageRef::parse($arg).unwrap();
            assert_eq!(r.transport, Transport::$t, "{}", $arg);
            assert_eq!(
                r.path.as_deref().map(|p| p.to_str().unwrap()),
                $path,
                "{}",
                $arg
            );
            assert_eq!(r.tag.as_deref(), $tag, "{}", $arg);
            assert_eq!(r.pinned.as_deref(), $pin, "{}", $arg);
        };
    }

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn table() {
        parses!("oci:layout", Layout, Some("layout"), None, None);
        parses!(
            "oci:layout:app:1.4",
            Layout,
            Some("layout"),
            Some("app:1.4"),
            None
        );
        parses!(
            "oci:/abs/dir:latest",
            Layout,
            Some("/abs/dir"),
            Some("latest"),
            None
        );
        parses!(
            "oci-archive:app.tar",
            OciArchive,
            Some("app.tar"),
            None,
            None
        );
        parses!(
            "oci-archive:app.tar:v1",
            OciArchive,
            Some("app.tar"),
            Some("v1"),
            None
        );
        parses!(
            "docker-archive:save.tar:busybox:1",
            DockerArchive,
            Some("save.tar"),
            Some("busybox:1"),
            None
        );
        parses!("app.tar", Sniff, Some("app.tar"), None, None);
        parses!("./dir", Sniff, Some("./dir"), None, None);
        parses!("-", Sniff, None, None, None);
        parses!("oci-archive:-", OciArchive, None, None, None);
        let pinned = format!("oci:layout:app@{D}");
        parses!(&pinned, Layout, Some("layout"), Some("app"), Some(D));
        let plain = format!("app.tar@{D}");
        parses!(&plain, Sniff, Some("app.tar"), None, Some(D));
    }

    #[test]
    fn rejects() {
        for (arg, needle) in [
            ("", "empty"),
            ("oci:", "path is missing"),
            ("oci:dir:", "tag"),
            ("x.tar@sha256:abc", "64 lowercase hex"),
            ("x.tar@sha512:abc", "only sha256"),
            ("docker://busybox", "registries"),
        ] {
            let e = ImageRef::parse(arg).unwrap_err();
            assert!(e.contains(needle), "{arg}: {e}");
        }
    }

    #[test]
    fn display_is_the_original() {
        for arg in ["oci:layout:app:1", "x.tar", "-"] {
            assert_eq!(ImageRef::parse(arg).unwrap().to_string(), arg);
        }
    }
}
