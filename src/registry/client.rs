//! The registry session: one tokio runtime and one `oci-client` client per host, made on
//! first use; every call blocking, cancellable, retried (three tries with backoff on 408,
//! 429, 5xx, resets and timeouts) and its failure explained with the host, repository and
//! step.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow};
use futures_util::{StreamExt as _, TryStreamExt as _};
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};

use super::errors::{Step, explain, retryable};
use super::probe::{allows_plain_http, speaks_plain_http};
use super::transfer::{Fetch, download, push_one, report_progress};
use super::{RegistryOptions, auth, tls};
use crate::cancel::Cancel;
use crate::digest::Sha256Sum;
use crate::error::{RemoteError, invalid};
use crate::progress::Progress;
use crate::store::BlobStore;
use crate::ui::human_bytes;

/// Manifests and indexes are read up to this size.
const MAX_MANIFEST: usize = 4 << 20;
/// Tries per request.
pub(super) const TRIES: u32 = 3;
/// Blobs pushed at once.
pub const PARALLEL_UPLOADS: usize = 4;
/// What a manifest request accepts.
const ACCEPT: [&str; 4] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

/// A connection to one host: its client, credentials, and whether plain HTTP is allowed.
pub(super) struct Host {
    pub(super) client: Client,
    /// The same with chunked uploads, for a registry that refuses one large request (413).
    chunked: OnceLock<Client>,
    config: fn() -> ClientConfig,
    protocol: ClientProtocol,
    certs: Vec<oci_client::client::Certificate>,
    tls_verify: bool,
    auth: RegistryAuth,
    pub(super) insecure_ok: bool,
}

/// A registry session. Cheap to make: nothing runs until the first request. Its calls
/// block (it runs its own runtime): from async code, call them in `spawn_blocking`.
pub struct Registry {
    opts: RegistryOptions,
    runtime: OnceLock<tokio::runtime::Runtime>,
    hosts: Mutex<HashMap<String, Arc<Host>>>,
    warnings: Mutex<Vec<String>>,
}

impl Registry {
    /// A session with these options.
    pub fn new(opts: RegistryOptions) -> Registry {
        Registry {
            opts,
            runtime: OnceLock::new(),
            hosts: Mutex::new(HashMap::new()),
            warnings: Mutex::new(Vec::new()),
        }
    }

    /// The options it was made with.
    pub fn options(&self) -> &RegistryOptions {
        &self.opts
    }

    /// The cache of pulled blobs.
    pub fn cache(&self) -> Result<BlobStore> {
        BlobStore::create(&self.opts.cache_dir)
            .with_context(|| format!("opening the blob cache '{}'", self.opts.cache_dir.display()))
    }

    /// Warnings so far (verification off, client certificates not used), each once.
    pub fn warnings(&self) -> Vec<String> {
        lock(&self.warnings).clone()
    }

    fn warn(&self, w: String) {
        let mut ws = lock(&self.warnings);
        if !ws.contains(&w) {
            ws.push(w);
        }
    }

    fn runtime(&self) -> Result<&tokio::runtime::Runtime> {
        if let Some(rt) = self.runtime.get() {
            return Ok(rt);
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("imgbuild-net")
            .enable_all()
            .build()
            .context("starting the network runtime")?;
        Ok(self.runtime.get_or_init(|| rt))
    }

    /// Run `fut` to its end, or until `cancel` is set.
    pub(super) fn block_on<T>(
        &self,
        cancel: &Cancel,
        fut: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let rt = self.runtime()?;
        rt.block_on(async {
            let watch = async {
                while !cancel.is_cancelled() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            };
            futures_util::pin_mut!(fut, watch);
            match futures_util::future::select(fut, watch).await {
                futures_util::future::Either::Left((r, _)) => r,
                futures_util::future::Either::Right(_) => match cancel.check() {
                    Err(i) => Err(i.into()),
                    Ok(()) => Err(anyhow!("cancelled")),
                },
            }
        })
    }

    fn host(&self, reference: &Reference) -> Result<Arc<Host>> {
        let name = reference.registry().to_owned();
        if let Some(h) = lock(&self.hosts).get(&name) {
            return Ok(Arc::clone(h));
        }
        let host = Arc::new(self.connect(&name)?);
        lock(&self.hosts).insert(name, Arc::clone(&host));
        Ok(host)
    }

    fn connect(&self, name: &str) -> Result<Host> {
        let insecure_ok = allows_plain_http(name, &self.opts.insecure);
        let protocol = if insecure_ok && speaks_plain_http(name) {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        };
        let (certs, client_certs) =
            tls::trust_for(name, &self.opts.ca_certs, &self.opts.certs_dirs)?;
        if !client_certs.is_empty() {
            self.warn(format!(
                "client certificates for {name} ({}) are not used: imgbuild does not support TLS client authentication yet",
                client_certs[0].display()
            ));
        }
        if !self.opts.tls_verify {
            self.warn(format!(
                "TLS certificates of {name} are not verified (--tls-verify=false)"
            ));
        }
        let auth = match auth::lookup(name, &self.opts.auth)? {
            Some(c) => RegistryAuth::Basic(c.username, c.password),
            None => RegistryAuth::Anonymous,
        };
        let mk = || ClientConfig::default();
        let host = Host {
            client: Client::new(client_config(
                mk,
                &protocol,
                &certs,
                self.opts.tls_verify,
                true,
            )),
            chunked: OnceLock::new(),
            config: mk,
            protocol,
            certs,
            tls_verify: self.opts.tls_verify,
            auth,
            insecure_ok,
        };
        Ok(host)
    }

    /// The manifest or index `reference` names, verified: its bytes and digest. With a
    /// digest in the reference, the bytes must have it.
    pub fn resolve(&self, reference: &Reference, cancel: &Cancel) -> Result<(Vec<u8>, Sha256Sum)> {
        let host = self.host(reference)?;
        let step = step(reference, "resolve");
        let (bytes, _) = self.block_on(cancel, async {
            authenticate(&host, reference, RegistryOperation::Pull, &step).await?;
            retry(&host, &step, || {
                host.client
                    .pull_manifest_raw(reference, &host.auth, &ACCEPT)
            })
            .await
        })?;
        let bytes = check_manifest(&bytes, reference.digest(), &step)?;
        let sum = Sha256Sum::of(&bytes);
        Ok((bytes, sum))
    }

    /// The digest `reference` (a tag) names now: one HEAD request where the registry
    /// answers it with `Docker-Content-Digest`, else a GET.
    pub fn head_digest(&self, reference: &Reference, cancel: &Cancel) -> Result<Sha256Sum> {
        let host = self.host(reference)?;
        let step = step(reference, "resolve");
        let digest = self.block_on(cancel, async {
            authenticate(&host, reference, RegistryOperation::Pull, &step).await?;
            retry(&host, &step, || {
                host.client.fetch_manifest_digest(reference, &host.auth)
            })
            .await
        })?;
        digest
            .strip_prefix("sha256:")
            .and_then(Sha256Sum::from_hex)
            .ok_or_else(|| {
                invalid(format!(
                    "{}/{}: the registry named the manifest '{digest}', not a sha256 digest",
                    reference.registry(),
                    reference.repository()
                ))
            })
    }

    /// Fetch blob `digest` of `repo` into `store`, verified. Manifests and indexes come from
    /// the manifests endpoint, everything else from the blobs one.
    pub fn fetch(
        &self,
        repo: &Reference,
        digest: &Sha256Sum,
        manifest: bool,
        store: &BlobStore,
        cancel: &Cancel,
    ) -> Result<()> {
        let host = self.host(repo)?;
        let by_digest = repo.clone_with_digest(digest.prefixed());
        if manifest {
            let (bytes, _) = self.resolve(&by_digest, cancel)?;
            store.put_bytes(&bytes)?;
            return Ok(());
        }
        let step = step(repo, &format!("blob download of {digest}"));
        let tmp = self.block_on(cancel, async {
            authenticate(&host, repo, RegistryOperation::Pull, &step).await?;
            let mut attempt = 0;
            loop {
                attempt += 1;
                match download(&host, &by_digest, digest, store).await {
                    Ok(tmp) => return Ok(tmp),
                    Err(Fetch::Oci(e)) if attempt < TRIES && retryable(&e) => {
                        backoff(attempt).await
                    }
                    Err(Fetch::Oci(e)) => return Err(remote(&e, &step, host.insecure_ok)),
                    Err(Fetch::Other(e)) => return Err(e),
                }
            }
        })?;
        store.commit(tmp, digest)
    }

    /// Push the blobs at `files` (digest, size, path) to `repo`: each one checked first and
    /// skipped when there, mounted from `mount_from` when given, else streamed from its file
    /// (one read, flat memory), at most [`PARALLEL_UPLOADS`] at once. Returns how many were
    /// uploaded and how many skipped.
    pub fn push_blobs(
        &self,
        repo: &Reference,
        files: &[(Sha256Sum, u64, std::path::PathBuf)],
        mount_from: Option<&Reference>,
        progress: &dyn Progress,
        cancel: &Cancel,
    ) -> Result<(u64, u64)> {
        let host = self.host(repo)?;
        let sent = Arc::new(AtomicU64::new(0));
        let auth_step = step(repo, "auth");
        let result = self.block_on(cancel, async {
            authenticate(&host, repo, RegistryOperation::Push, &auth_step).await?;
            let counts = futures_util::stream::iter(files.iter().map(|(d, size, path)| {
                let one = push_one(&host, repo, d, *size, path, mount_from, Arc::clone(&sent));
                async move { one.await.map(|up| (d, *size, up)) }
            }))
            .buffer_unordered(PARALLEL_UPLOADS);
            let reported = report_progress(&sent, progress);
            futures_util::pin_mut!(counts, reported);
            let mut uploaded = (0, 0);
            loop {
                match futures_util::future::select(counts.try_next(), &mut reported).await {
                    futures_util::future::Either::Left((Ok(Some((d, size, up))), _)) => {
                        let how = if up { "uploaded" } else { "there already" };
                        progress.item(&format!("blob {d} ({}, {how})", human_bytes(size)));
                        if up { uploaded.0 += 1 } else { uploaded.1 += 1 }
                    }
                    futures_util::future::Either::Left((Ok(None), _)) => break,
                    futures_util::future::Either::Left((Err(e), _)) => return Err(e),
                    futures_util::future::Either::Right(_) => {
                        unreachable!("the progress loop never ends")
                    }
                }
            }
            Ok(uploaded)
        });
        progress.advance(sent.swap(0, Ordering::SeqCst), 0);
        result
    }

    /// Push a manifest or index under `reference` (a tag or a digest), and check that the
    /// registry stored exactly these bytes.
    pub fn push_manifest(
        &self,
        reference: &Reference,
        bytes: &[u8],
        media_type: &str,
        cancel: &Cancel,
    ) -> Result<()> {
        let host = self.host(reference)?;
        let at = reference.tag().unwrap_or("digest");
        let step = step(reference, &format!("manifest upload ({at})"));
        let content_type = media_type
            .parse::<reqwest::header::HeaderValue>()
            .map_err(|_| invalid(format!("the media type '{media_type}' cannot be sent")))?;
        let ours = Sha256Sum::of(bytes).prefixed();
        let theirs = self.block_on(cancel, async {
            authenticate(&host, reference, RegistryOperation::Push, &step).await?;
            retry(&host, &step, || {
                host.client
                    .push_manifest_raw(reference, bytes.to_vec(), content_type.clone())
            })
            .await?;
            retry(&host, &step, || {
                host.client.fetch_manifest_digest(reference, &host.auth)
            })
            .await
        })?;
        if theirs != ours {
            return Err(anyhow::Error::new(RemoteError {
                message: format!(
                    "{}/{}: the registry stored the manifest as {theirs}, not {ours}",
                    reference.registry(),
                    reference.repository()
                ),
                hint: None,
            }));
        }
        Ok(())
    }
}

fn client_config(
    mk: fn() -> ClientConfig,
    protocol: &ClientProtocol,
    certs: &[oci_client::client::Certificate],
    tls_verify: bool,
    monolithic: bool,
) -> ClientConfig {
    let mut c = mk();
    c.protocol = protocol.clone();
    c.extra_root_certificates = certs.to_vec();
    c.accept_invalid_certificates = !tls_verify;
    c.use_monolithic_push = monolithic;
    c.max_concurrent_upload = PARALLEL_UPLOADS;
    c.connect_timeout = Some(Duration::from_secs(30));
    c.platform_resolver = None;
    c.user_agent = concat!("imgbuild/", env!("CARGO_PKG_VERSION"));
    c
}

impl Host {
    pub(super) fn chunked(&self) -> &Client {
        self.chunked.get_or_init(|| {
            Client::new(client_config(
                self.config,
                &self.protocol,
                &self.certs,
                self.tls_verify,
                false,
            ))
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(super) fn step(reference: &Reference, what: &str) -> Step {
    Step {
        what: what.to_owned(),
        host: reference.registry().to_owned(),
        repository: reference.repository().to_owned(),
    }
}

/// The error for a failed request: one line naming the place and step, with a hint.
pub(super) fn remote(err: &OciDistributionError, step: &Step, insecure_ok: bool) -> anyhow::Error {
    let (message, hint) = explain(err, step, insecure_ok);
    anyhow::Error::new(RemoteError { message, hint })
}

pub(super) async fn backoff(attempt: u32) {
    tokio::time::sleep(Duration::from_millis(250 * 4u64.pow(attempt - 1))).await;
}

pub(super) async fn retry<T, F, Fut>(host: &Host, step: &Step, mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, OciDistributionError>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if attempt < TRIES && retryable(&e) => backoff(attempt).await,
            Err(e) => return Err(remote(&e, step, host.insecure_ok)),
        }
    }
}

/// Authenticate for `op` on the repository of `reference` (a bearer token is fetched when
/// the registry asks for one). Called before each step, so a token that expired during a
/// long push is renewed.
pub(super) async fn authenticate(
    host: &Host,
    reference: &Reference,
    op: RegistryOperation,
    step: &Step,
) -> Result<()> {
    let push = matches!(op, RegistryOperation::Push);
    let auth_step = Step {
        what: format!(
            "{} (auth for {})",
            step.what,
            if push { "push" } else { "pull" }
        ),
        ..step.clone()
    };
    retry(host, &auth_step, || {
        host.client.auth(reference, &host.auth, op)
    })
    .await?;
    Ok(())
}

/// A manifest as received: bounded, and with the pinned digest when there is one.
fn check_manifest(bytes: &[u8], pinned: Option<&str>, step: &Step) -> Result<Vec<u8>> {
    if bytes.len() > MAX_MANIFEST {
        return Err(invalid(format!(
            "{}/{}: the manifest is larger than 4 MiB",
            step.host, step.repository
        )));
    }
    if let Some(pin) = pinned {
        let got = Sha256Sum::of(bytes).prefixed();
        if got != pin {
            return Err(invalid(format!(
                "{}/{}: the registry sent a manifest with digest {got} for {pin}",
                step.host, step.repository
            )));
        }
    }
    Ok(bytes.to_vec())
}
