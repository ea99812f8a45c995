//! Which certificates a registry's TLS is checked against: the system's roots (OpenSSL's,
//! through native-tls), plus the user's CA files, plus the host's own directory under each
//! `certs.d` (`HOST[:PORT]/*.crt`, as podman and skopeo read it; `ca.crt`, as Docker does).
//! A self-signed certificate that is its own CA (`CA:TRUE`, what local development
//! clusters generate) is accepted once trusted: OpenSSL allows it, rustls would not.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use oci_client::client::{Certificate, CertificateEncoding};

use crate::error::UsageError;

/// Certificate files are read up to this size.
const MAX_PEM: u64 = 4 << 20;

/// The certificates to trust for `host` (`HOST[:PORT]`) besides the system's, one per PEM
/// block of each file, and the client certificates found for it (which are not used: say
/// so).
pub fn trust_for(
    host: &str,
    ca_files: &[PathBuf],
    certs_dirs: &[PathBuf],
) -> Result<(Vec<Certificate>, Vec<PathBuf>)> {
    let mut files: Vec<PathBuf> = ca_files.to_vec();
    let mut client = Vec::new();
    for dir in certs_dirs {
        let dir = dir.join(host);
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        let mut names: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        names.sort();
        for path in names {
            match path.extension().and_then(|e| e.to_str()) {
                Some("crt") => files.push(path),
                Some("cert") | Some("key") => client.push(path),
                _ => {}
            }
        }
    }
    let mut certs = Vec::new();
    for file in &files {
        for block in pem_blocks(&read_pem(file)?) {
            certs.push(Certificate {
                encoding: CertificateEncoding::Pem,
                data: block,
            });
        }
    }
    Ok((certs, client))
}

/// The PEM files of `SSL_CERT_DIR` (`*.pem`, `*.crt`), sorted.
pub fn files_of_dir(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pem") | Some("crt")
            )
        })
        .collect();
    out.sort();
    out
}

fn read_pem(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read as _;
    let file = fs::File::open(path).map_err(|e| {
        anyhow::Error::new(
            UsageError::new(format!(
                "cannot read the CA certificate '{}': {e}",
                path.display()
            ))
            .with_hint("pass a PEM file with --ca-cert"),
        )
    })?;
    let mut bytes = Vec::new();
    file.take(MAX_PEM)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading '{}'", path.display()))?;
    if pem_blocks(&bytes).is_empty() {
        return Err(UsageError::new(format!(
            "'{}' holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        ))
        .into());
    }
    Ok(bytes)
}

/// Each `-----BEGIN CERTIFICATE-----` … `-----END CERTIFICATE-----` block, whole.
fn pem_blocks(bytes: &[u8]) -> Vec<Vec<u8>> {
    const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
    const END: &[u8] = b"-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = bytes;
    while let Some(start) = find(rest, BEGIN) {
        let after = &rest[start..];
        let Some(end) = find(after, END) else { break };
        let block = &after[..end + END.len()];
        let mut b = block.to_vec();
        b.push(b'\n');
        out.push(b);
        rest = &after[end + END.len()..];
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    #[test]
    fn bundles_split_into_blocks_and_certs_d_is_per_host() {
        let dir = tempfile::tempdir().unwrap();
        let bundle = dir.path().join("bundle.pem");
        fs::write(&bundle, format!("junk\n{PEM}{PEM}")).unwrap();
        let host = dir.path().join("certs.d/reg.local:8443");
        fs::create_dir_all(&host).unwrap();
        fs::write(host.join("ca.crt"), PEM).unwrap();
        fs::write(host.join("client.cert"), PEM).unwrap();
        fs::write(host.join("client.key"), "key").unwrap();
        let dirs = [dir.path().join("certs.d")];
        let (certs, client) =
            trust_for("reg.local:8443", std::slice::from_ref(&bundle), &dirs).unwrap();
        assert_eq!(certs.len(), 3);
        assert_eq!(client.len(), 2);
        let (certs, client) = trust_for("other:5000", &[bundle], &dirs).unwrap();
        assert_eq!((certs.len(), client.len()), (2, 0));
    }

    #[test]
    fn a_file_without_a_certificate_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x.pem");
        fs::write(&f, "nothing").unwrap();
        let e = trust_for("h", &[f], &[]).unwrap_err();
        assert!(e.chain().any(|c| c.is::<UsageError>()), "{e:#}");
        let e = trust_for("h", &[dir.path().join("missing.pem")], &[]).unwrap_err();
        assert!(format!("{e:#}").contains("missing.pem"), "{e:#}");
    }
}
