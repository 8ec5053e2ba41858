//! Certificate rotation: get a certificate at start, renew it at about half its remaining
//! lifetime (with jitter, so a fleet does not renew in lockstep), publish each new one on a
//! watch channel that TLS configs read per handshake (new handshakes use the new certificate;
//! open connections are untouched), retry with backoff while the CA is unreachable and keep
//! the current certificate meanwhile, and fail closed once it has expired.

use crate::bundle::TrustBundle;
use crate::creds::{CredentialSource, Credentials, CredsError};
use crate::csr::KeyAndCsr;
use crate::spiffe::SpiffeId;
use rustls_pki_types::CertificateDer;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A signer's failure, as the signer describes it.
pub type SignError = Box<dyn std::error::Error + Send + Sync>;

/// What the CA returns for a CSR.
#[derive(Debug, Clone)]
pub struct Signed {
    /// Leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The roots to trust from now on (the CA's current bundle).
    pub roots: TrustBundle,
}

/// Something that gets a CSR signed: the control plane's gRPC service, or the CA in-process.
pub trait Signer: Send + Sync + 'static {
    fn sign(&self, csr_pem: String) -> impl Future<Output = Result<Signed, SignError>> + Send;
}

/// Timing of renewals and retries.
#[derive(Debug, Clone)]
pub struct RotationOptions {
    /// Renew after this fraction of the remaining lifetime (0.5: half).
    pub renew_fraction: f64,
    /// Spread of the renewal point: ± this fraction of the remaining lifetime.
    pub jitter: f64,
    /// First retry delay after a failed request; doubles up to `max_backoff`.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Limit on one signing request.
    pub request_timeout: Duration,
    /// How long [`CertificateWatcher::start`] tries to get the first certificate.
    pub start_timeout: Duration,
}

impl Default for RotationOptions {
    fn default() -> Self {
        Self {
            renew_fraction: 0.5,
            jitter: 0.1,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
            request_timeout: Duration::from_secs(10),
            start_timeout: Duration::from_secs(60),
        }
    }
}

/// Why getting a certificate failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("cannot make a key and CSR: {0}")]
    Csr(#[from] rcgen::Error),
    #[error("signing request failed: {0}")]
    Sign(SignError),
    #[error("signing request timed out after {0:?}")]
    Timeout(Duration),
    #[error("CA returned unusable credentials: {0}")]
    Creds(#[from] CredsError),
    #[error("CA returned a certificate for {got}, not {want}")]
    WrongIdentity { got: SpiffeId, want: SpiffeId },
    #[error("CA returned a certificate that is not valid now")]
    NotValidNow,
}

/// What the watcher publishes.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// `None` once the certificate has expired without a renewal: handshakes fail closed.
    pub credentials: Option<Arc<Credentials>>,
    pub bundle: Arc<TrustBundle>,
    /// Incremented on every publication.
    pub generation: u64,
}

/// Keeps a workload's certificate fresh; see the module docs. Dropping it stops renewals.
#[derive(Debug)]
pub struct CertificateWatcher {
    rx: watch::Receiver<Snapshot>,
    task: JoinHandle<()>,
}

impl CertificateWatcher {
    /// Gets the first certificate for `identity` (retrying with backoff for up to
    /// `opts.start_timeout`), then renews it in a background task.
    pub async fn start<S: Signer>(
        identity: SpiffeId,
        signer: S,
        opts: RotationOptions,
    ) -> Result<Self, FetchError> {
        let deadline = tokio::time::Instant::now() + opts.start_timeout;
        let mut backoff = Backoff::new(&opts);
        let (creds, bundle) = loop {
            match fetch(&identity, &signer, &opts).await {
                Ok(got) => break got,
                Err(e) => {
                    let delay = backoff.next();
                    if tokio::time::Instant::now() + delay > deadline {
                        return Err(e);
                    }
                    tracing::warn!(%identity, error = %e, retry_in = ?delay, "no certificate yet");
                    tokio::time::sleep(delay).await;
                }
            }
        };
        tracing::info!(%identity, serial = creds.serial(), "certificate obtained");
        let (tx, rx) = watch::channel(Snapshot {
            credentials: Some(creds.clone()),
            bundle,
            generation: 1,
        });
        let task = tokio::spawn(renew_loop(identity, signer, opts, tx, creds));
        Ok(Self { rx, task })
    }

    /// A source for [`crate::tls`] configs that always reads the latest publication.
    pub fn source(&self) -> Arc<dyn CredentialSource> {
        Arc::new(WatchedSource(self.rx.clone()))
    }

    /// Every publication, for whoever wants to react to a rotation.
    pub fn subscribe(&self) -> watch::Receiver<Snapshot> {
        self.rx.clone()
    }

    /// The current credentials; `None` when expired (fail closed).
    pub fn current(&self) -> Option<Arc<Credentials>> {
        self.source().credentials()
    }
}

impl Drop for CertificateWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A [`CredentialSource`] over the watch channel. Expiry is checked on every read too, so a
/// certificate is never presented past `notAfter` even if the renewal task is late.
#[derive(Debug, Clone)]
pub struct WatchedSource(pub watch::Receiver<Snapshot>);

impl CredentialSource for WatchedSource {
    fn credentials(&self) -> Option<Arc<Credentials>> {
        let now = SystemTime::now();
        self.0
            .borrow()
            .credentials
            .as_ref()
            .filter(|c| c.is_valid_at(now))
            .cloned()
    }
    fn trust_bundle(&self) -> Arc<TrustBundle> {
        self.0.borrow().bundle.clone()
    }
}

async fn fetch<S: Signer>(
    identity: &SpiffeId,
    signer: &S,
    opts: &RotationOptions,
) -> Result<(Arc<Credentials>, Arc<TrustBundle>), FetchError> {
    let kc = KeyAndCsr::generate(identity)?;
    let signed = tokio::time::timeout(opts.request_timeout, signer.sign(kc.csr_pem.clone()))
        .await
        .map_err(|_| FetchError::Timeout(opts.request_timeout))?
        .map_err(FetchError::Sign)?;
    let creds = Credentials::new(signed.chain, kc.private_key())?;
    if creds.identity() != identity {
        return Err(FetchError::WrongIdentity {
            got: creds.identity().clone(),
            want: identity.clone(),
        });
    }
    if !creds.is_valid_at(SystemTime::now()) {
        return Err(FetchError::NotValidNow);
    }
    Ok((Arc::new(creds), Arc::new(signed.roots)))
}

/// How long to wait before renewing credentials that expire at `not_after`.
pub fn renewal_delay(not_after: SystemTime, opts: &RotationOptions) -> Duration {
    let remaining = not_after
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO);
    let spread = (crate::random::unit_f64() * 2.0 - 1.0) * opts.jitter;
    let fraction = (opts.renew_fraction + spread).clamp(0.05, 0.95);
    // A floor, so a CA handing out near-expired certificates cannot make this spin.
    remaining.mul_f64(fraction).max(MIN_RENEWAL_DELAY)
}

/// The shortest wait between renewals.
const MIN_RENEWAL_DELAY: Duration = Duration::from_millis(100);

async fn renew_loop<S: Signer>(
    identity: SpiffeId,
    signer: S,
    opts: RotationOptions,
    tx: watch::Sender<Snapshot>,
    mut current: Arc<Credentials>,
) {
    loop {
        tokio::time::sleep(renewal_delay(current.not_after(), &opts)).await;
        let mut backoff = Backoff::new(&opts);
        // Bounded by the watcher's lifetime; each attempt by `request_timeout`, each wait by
        // `max_backoff`.
        loop {
            match fetch(&identity, &signer, &opts).await {
                Ok((creds, bundle)) => {
                    tracing::info!(%identity, serial = creds.serial(), "certificate rotated");
                    current = creds.clone();
                    tx.send_modify(|s| {
                        s.credentials = Some(creds);
                        s.bundle = bundle;
                        s.generation += 1;
                    });
                    break;
                }
                Err(e) => {
                    let remaining = current
                        .not_after()
                        .duration_since(SystemTime::now())
                        .unwrap_or(Duration::ZERO);
                    let expired = remaining.is_zero();
                    if expired && tx.borrow().credentials.is_some() {
                        tracing::error!(%identity, "certificate expired and not renewed: failing closed");
                        tx.send_modify(|s| {
                            s.credentials = None;
                            s.generation += 1;
                        });
                    }
                    let mut delay = backoff.next();
                    if !expired {
                        // Wake at expiry at the latest, to fail closed on time.
                        delay = delay.min(remaining);
                    }
                    tracing::warn!(%identity, error = %e, retry_in = ?delay, expired, "certificate renewal failed; keeping the current one");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }
}

/// Exponential backoff with ±20 % jitter.
struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    fn new(opts: &RotationOptions) -> Self {
        Self {
            next: opts.initial_backoff,
            max: opts.max_backoff,
        }
    }

    fn next(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(self.max);
        base.mul_f64(0.8 + 0.4 * crate::random::unit_f64())
    }
}
