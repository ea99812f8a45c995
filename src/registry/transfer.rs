//! Moving one blob: a download hashed into a temporary file of the cache; a push checked
//! with `HEAD` first, mounted from another repository of the same registry when possible,
//! else streamed from its file in one request (in chunks after a 413), each try restarting
//! from the file.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use std::io::Write as _;

use anyhow::Result;
use futures_util::StreamExt as _;
use oci_client::Reference;
use oci_client::errors::OciDistributionError;
use tokio::io::AsyncReadExt as _;

use super::client::{Host, TRIES, authenticate, backoff, remote, retry, step};
use super::errors::retryable;
use crate::digest::Sha256Sum;
use crate::error::invalid;
use crate::progress::Progress;
use crate::store::BlobStore;

/// Push one blob: true when uploaded, false when the registry had it (or mounted it).
pub(super) async fn push_one(
    host: &Host,
    repo: &Reference,
    digest: &Sha256Sum,
    size: u64,
    path: &Path,
    mount_from: Option<&Reference>,
    sent: Arc<AtomicU64>,
) -> Result<bool> {
    let d = digest.prefixed();
    let check = step(repo, &format!("blob check of {digest}"));
    if retry(host, &check, || host.client.blob_exists(repo, &d)).await? {
        sent.fetch_add(size, Ordering::SeqCst);
        return Ok(false);
    }
    if let Some(from) = mount_from
        && from.registry() == repo.registry()
        && from.repository() != repo.repository()
        && host.client.mount_blob(repo, from, &d).await.is_ok()
        && host.client.blob_exists(repo, &d).await.unwrap_or(false)
    {
        sent.fetch_add(size, Ordering::SeqCst);
        return Ok(false);
    }
    let upload = step(repo, &format!("blob upload of {digest}"));
    authenticate(host, repo, oci_client::RegistryOperation::Push, &upload).await?;
    let mut attempt = 0;
    let mut chunked = false;
    loop {
        attempt += 1;
        let before = sent.load(Ordering::SeqCst);
        let stream = file_stream(path, Arc::clone(&sent)).await.map_err(|e| {
            anyhow::Error::new(e).context(format!("reading blob {digest} to push it"))
        })?;
        let client = if chunked {
            host.chunked()
        } else {
            &host.client
        };
        match client.push_blob_stream(repo, stream, &d, Some(size)).await {
            Ok(_) => return Ok(true),
            Err(e) => {
                // What this try sent does not count.
                let now = sent.load(Ordering::SeqCst);
                sent.fetch_sub(now.saturating_sub(before).min(now), Ordering::SeqCst);
                let too_large = matches!(&e, OciDistributionError::ServerError { code: 413, .. });
                if too_large && !chunked {
                    chunked = true;
                    attempt -= 1;
                    continue;
                }
                if attempt < TRIES && retryable(&e) {
                    backoff(attempt).await;
                    continue;
                }
                return Err(remote(&e, &upload, host.insecure_ok));
            }
        }
    }
}

/// The file at `path` as a stream of 1 MiB chunks, counting what is read into `sent`.
async fn file_stream(
    path: &Path,
    sent: Arc<AtomicU64>,
) -> std::io::Result<
    impl futures_util::Stream<Item = oci_client::errors::Result<bytes::Bytes>> + Send + 'static,
> {
    let file = tokio::fs::File::open(path).await?;
    Ok(futures_util::stream::unfold(
        (file, sent),
        |(mut file, sent)| async move {
            let mut buf = vec![0u8; 1 << 20];
            match file.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    sent.fetch_add(n as u64, Ordering::SeqCst);
                    Some((Ok(bytes::Bytes::from(buf)), (file, sent)))
                }
                Err(e) => Some((Err(OciDistributionError::IoError(e)), (file, sent))),
            }
        },
    ))
}

/// Hand what `sent` counts to `progress` every 100 ms; never ends.
pub(super) async fn report_progress(sent: &AtomicU64, progress: &dyn Progress) {
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let n = sent.swap(0, Ordering::SeqCst);
        if n > 0 {
            progress.advance(n, 0);
        }
    }
}

pub(super) enum Fetch {
    Oci(OciDistributionError),
    Other(anyhow::Error),
}

/// One try at downloading a blob into a temporary file of `store`, hashed as it comes.
pub(super) async fn download(
    host: &Host,
    by_digest: &Reference,
    digest: &Sha256Sum,
    store: &BlobStore,
) -> Result<crate::interrupt::TempFile, Fetch> {
    let hex = digest.prefixed();
    let mut stream = host
        .client
        .pull_blob_stream(by_digest, hex.as_str())
        .await
        .map_err(Fetch::Oci)?;
    let mut tmp = store.temp().map_err(Fetch::Other)?;
    let mut hash = crate::digest::HashWriter::new(std::io::sink());
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Fetch::Oci(OciDistributionError::IoError(e)))?;
        tmp.write_all(&chunk)
            .and_then(|()| hash.write_all(&chunk))
            .map_err(|e| {
                Fetch::Other(anyhow::Error::new(e).context(format!("writing blob {digest}")))
            })?;
    }
    let (_, sum, _) = hash.finish().map_err(|e| Fetch::Other(e.into()))?;
    if sum.as_ref() != Some(digest) {
        return Err(Fetch::Other(invalid(format!(
            "the registry sent other bytes for blob {digest}"
        ))));
    }
    Ok(tmp)
}
