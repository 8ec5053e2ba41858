//! Rotation with an in-process CA: renewal at about half the lifetime, the current certificate
//! kept while the CA is down, failing closed at expiry, and recovery when the CA returns.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::temp_dir;
use verimesh_identity::ca::Ca;
use verimesh_identity::rotate::{SignError, Signed, Signer};
use verimesh_identity::{CertificateWatcher, RotationOptions, SpiffeId, TrustDomain};

const WEB: &str = "spiffe://cluster.local/ns/default/sa/web";

/// A CA that can be switched off, counting requests.
#[derive(Clone)]
struct FlakyCa {
    ca: Arc<Ca>,
    up: Arc<AtomicBool>,
    requests: Arc<AtomicUsize>,
    ttl: Duration,
}

impl Signer for FlakyCa {
    async fn sign(&self, csr: String) -> Result<Signed, SignError> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        if !self.up.load(Ordering::SeqCst) {
            return Err("connection refused".into());
        }
        let caller = SpiffeId::parse(WEB)?;
        let issued = self.ca.sign_csr(&csr, &caller, Some(self.ttl))?;
        Ok(Signed {
            chain: issued.chain,
            roots: issued.roots,
        })
    }
}

fn flaky(name: &str, ttl: Duration) -> FlakyCa {
    let dir_tmp = temp_dir(name);
    let dir = dir_tmp.path();
    let (ca, _) = Ca::load_or_create(dir, TrustDomain::new("cluster.local").expect("test setup"))
        .expect("test setup");
    FlakyCa {
        ca: Arc::new(ca),
        up: Arc::new(AtomicBool::new(true)),
        requests: Arc::new(AtomicUsize::new(0)),
        ttl,
    }
}

fn opts() -> RotationOptions {
    RotationOptions {
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(400),
        request_timeout: Duration::from_secs(2),
        start_timeout: Duration::from_secs(5),
        ..RotationOptions::default()
    }
}

#[tokio::test]
async fn renews_at_about_half_the_lifetime() {
    let ca = flaky("rotation-half", Duration::from_secs(4));
    let id = SpiffeId::parse(WEB).unwrap();
    let started = Instant::now();
    let w = CertificateWatcher::start(id.clone(), ca.clone(), opts())
        .await
        .unwrap();
    let first = w.current().unwrap();
    assert_eq!(first.identity(), &id);
    let mut rx = w.subscribe();
    tokio::time::timeout(Duration::from_secs(5), rx.changed())
        .await
        .unwrap()
        .unwrap();
    let renewed_after = started.elapsed();
    // 50 % ± 10 % of the remaining lifetime, which is 3 to 4 s (X.509 times are whole seconds).
    assert!(
        renewed_after >= Duration::from_millis(1100)
            && renewed_after <= Duration::from_millis(3000),
        "{renewed_after:?}"
    );
    let second = w.current().unwrap();
    assert_ne!(first.serial(), second.serial());
    assert_eq!(rx.borrow().generation, 2);
}

#[tokio::test]
async fn keeps_the_certificate_while_the_ca_is_down_then_fails_closed_then_recovers() {
    let ca = flaky("rotation-down", Duration::from_secs(3));
    let id = SpiffeId::parse(WEB).unwrap();
    let w = CertificateWatcher::start(id, ca.clone(), opts())
        .await
        .unwrap();
    let first = w.current().unwrap();
    ca.up.store(false, Ordering::SeqCst);
    let source = w.source();

    // Until expiry: still the first certificate, while requests are retried.
    let until = first.not_after();
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::time::SystemTime::now() + Duration::from_millis(300) < until
        && Instant::now() < deadline
    {
        let cur = source
            .credentials()
            .expect("certificate kept until it expires");
        assert_eq!(cur.serial(), first.serial());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        ca.requests.load(Ordering::SeqCst) >= 3,
        "renewals were retried"
    );

    // After expiry: nothing to present.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(source.credentials().is_none(), "fails closed once expired");
    assert!(w.subscribe().borrow().credentials.is_none());

    // The CA comes back: a new certificate is published.
    ca.up.store(true, Ordering::SeqCst);
    let mut rx = w.subscribe();
    tokio::time::timeout(
        Duration::from_secs(3),
        rx.wait_for(|s| s.credentials.is_some()),
    )
    .await
    .unwrap()
    .unwrap();
    assert_ne!(source.credentials().unwrap().serial(), first.serial());
}

#[tokio::test]
async fn start_gives_up_after_its_timeout_when_the_ca_never_answers() {
    let ca = flaky("rotation-never", Duration::from_secs(60));
    ca.up.store(false, Ordering::SeqCst);
    let o = RotationOptions {
        start_timeout: Duration::from_millis(500),
        ..opts()
    };
    let t = Instant::now();
    let err = CertificateWatcher::start(SpiffeId::parse(WEB).unwrap(), ca.clone(), o)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("connection refused"), "{err}");
    assert!(t.elapsed() < Duration::from_secs(2));
    assert!(ca.requests.load(Ordering::SeqCst) >= 2);
}

#[test]
fn renewal_is_spread_around_half_the_remaining_lifetime() {
    let o = RotationOptions::default();
    let not_after = std::time::SystemTime::now() + Duration::from_secs(1000);
    let delays: Vec<Duration> = (0..200)
        .map(|_| verimesh_identity::rotate::renewal_delay(not_after, &o))
        .collect();
    let (min, max) = (delays.iter().min().unwrap(), delays.iter().max().unwrap());
    assert!(
        *min >= Duration::from_secs(399) && *max <= Duration::from_secs(600),
        "{min:?}..{max:?}"
    );
    // Jittered: not all the same, and spread over most of the window.
    assert!(*max - *min > Duration::from_secs(100), "{min:?}..{max:?}");
    // Already expired: retry soon, but never spin.
    let past = std::time::SystemTime::now() - Duration::from_secs(5);
    assert_eq!(
        verimesh_identity::rotate::renewal_delay(past, &o),
        Duration::from_millis(100)
    );
}
