//! Signing CSRs: a workload gets exactly its own identity, and nothing else.

mod support;

use std::process::Command;
use std::time::{Duration, SystemTime};
use support::temp_dir;
use verimesh_identity::ca::{Ca, CaError};
use verimesh_identity::csr::{csr_for, KeyAndCsr};
use verimesh_identity::{Credentials, SpiffeId, TrustDomain};

fn ca() -> Ca {
    // Each call gets a fresh directory (tests run in parallel); the CA is kept in memory.
    let dir_tmp = temp_dir("csr");
    Ca::load_or_create(
        dir_tmp.path(),
        TrustDomain::new("cluster.local").expect("test setup"),
    )
    .expect("test setup")
    .0
}

fn id(s: &str) -> SpiffeId {
    SpiffeId::parse(s).expect("test setup")
}

const WEB: &str = "spiffe://cluster.local/ns/default/sa/web";
const DB: &str = "spiffe://cluster.local/ns/default/sa/db";

#[test]
fn a_csr_for_the_callers_own_identity_is_signed_with_the_requested_ttl() {
    let ca = ca();
    let kc = KeyAndCsr::generate(&id(WEB)).unwrap();
    let issued = ca
        .sign_csr(&kc.csr_pem, &id(WEB), Some(Duration::from_secs(600)))
        .unwrap();
    let creds = Credentials::new(issued.chain.clone(), kc.private_key()).unwrap();
    assert_eq!(creds.identity(), &id(WEB));
    let left = creds.not_after().duration_since(SystemTime::now()).unwrap();
    assert!(
        left <= Duration::from_secs(600) && left > Duration::from_secs(590),
        "{left:?}"
    );
    // Default lifetime: 24 hours.
    let issued = ca.sign_csr(&kc.csr_pem, &id(WEB), None).unwrap();
    let left = issued.not_after.duration_since(SystemTime::now()).unwrap();
    assert!(
        left > Duration::from_secs(24 * 3600 - 10) && left <= Duration::from_secs(24 * 3600),
        "{left:?}"
    );
}

#[test]
fn a_csr_for_a_foreign_identity_is_refused() {
    let ca = ca();
    // The caller is web; the CSR asks for db (CVE-2022-39388's shape).
    let kc = KeyAndCsr::generate(&id(DB)).unwrap();
    match ca.sign_csr(&kc.csr_pem, &id(WEB), None) {
        Err(CaError::IdentityMismatch { requested, caller }) => {
            assert_eq!(requested, DB);
            assert_eq!(caller, id(WEB));
        }
        other => panic!("expected IdentityMismatch, got {other:?}"),
    }
}

#[test]
fn extra_or_missing_sans_are_refused() {
    let ca = ca();
    let key = rcgen::KeyPair::generate().unwrap();
    // Own identity plus a DNS name.
    let mut p = rcgen::CertificateParams::new(vec!["db.default.svc".to_string()]).unwrap();
    p.subject_alt_names
        .push(rcgen::SanType::URI(WEB.try_into().unwrap()));
    let csr = p.serialize_request(&key).unwrap().pem().unwrap();
    let err = ca.sign_csr(&csr, &id(WEB), None).unwrap_err();
    assert!(matches!(err, CaError::IdentityMismatch { .. }), "{err}");
    // Own identity twice is still not exactly one SAN.
    let mut p = rcgen::CertificateParams::default();
    p.subject_alt_names = vec![rcgen::SanType::URI(WEB.try_into().unwrap()); 2];
    let csr = p.serialize_request(&key).unwrap().pem().unwrap();
    assert!(matches!(
        ca.sign_csr(&csr, &id(WEB), None),
        Err(CaError::IdentityMismatch { .. })
    ));
    // No SAN at all.
    let csr = rcgen::CertificateParams::default()
        .serialize_request(&key)
        .unwrap()
        .pem()
        .unwrap();
    assert!(matches!(
        ca.sign_csr(&csr, &id(WEB), None),
        Err(CaError::IdentityMismatch { .. })
    ));
}

#[test]
fn a_tampered_csr_is_refused() {
    let ca = ca();
    let kc = KeyAndCsr::generate(&id(WEB)).unwrap();
    let mut der = rustls_pki_types::pem::PemObject::from_pem_slice(kc.csr_pem.as_bytes())
        .map(|d: rustls_pki_types::CertificateSigningRequestDer<'_>| d.as_ref().to_vec())
        .unwrap();
    let last = der.len() - 1;
    der[last] ^= 0x01; // flip a bit of the signature
    let tampered = verimesh_identity::pem::encode("CERTIFICATE REQUEST", &der);
    let err = ca.sign_csr(&tampered, &id(WEB), None).unwrap_err();
    assert!(matches!(err, CaError::BadCsr(_)), "{err}");
    assert!(matches!(
        ca.sign_csr("garbage", &id(WEB), None),
        Err(CaError::BadCsr(_))
    ));
}

#[test]
fn other_trust_domains_and_overlong_lifetimes_are_refused() {
    let ca = ca();
    let foreign = id("spiffe://evil.local/ns/default/sa/web");
    let key = rcgen::KeyPair::generate().unwrap();
    let csr = csr_for(&foreign, &key).unwrap();
    assert!(matches!(
        ca.sign_csr(&csr, &foreign, None),
        Err(CaError::WrongTrustDomain { .. })
    ));
    let kc = KeyAndCsr::generate(&id(WEB)).unwrap();
    let err = ca
        .sign_csr(
            &kc.csr_pem,
            &id(WEB),
            Some(Duration::from_secs(365 * 24 * 3600)),
        )
        .unwrap_err();
    assert!(matches!(err, CaError::TtlTooLong { .. }), "{err}");
}

#[test]
fn a_csr_made_by_openssl_is_signed_and_its_key_fits() {
    let ca = ca();
    let dir_tmp = temp_dir("csr-openssl");
    let dir = dir_tmp.path();
    let out = Command::new("openssl")
        .args([
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "key.pem",
            "-subj",
            "/O=verimesh",
            "-addext",
            &format!("subjectAltName=URI:{WEB}"),
            "-out",
            "req.pem",
        ])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csr = std::fs::read_to_string(dir.join("req.pem")).unwrap();
    let issued = ca.sign_csr(&csr, &id(WEB), None).unwrap();
    let key = std::fs::read_to_string(dir.join("key.pem")).unwrap();
    let creds = Credentials::from_pem(&issued.chain_pem(), &key).unwrap();
    assert_eq!(creds.identity(), &id(WEB));
}

#[test]
fn weak_or_unusual_keys_are_refused() {
    let ca = ca();
    let dir_tmp = temp_dir("csr-weak");
    let dir = dir_tmp.path();
    let subject_alt = format!("subjectAltName=URI:{WEB}");
    for (newkey, accepted) in [
        (&["-newkey", "rsa:1024"][..], false),
        (&["-newkey", "rsa:2048"][..], true),
        (
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp521r1"][..],
            false,
        ),
        (
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"][..],
            true,
        ),
        (&["-newkey", "ed25519"][..], true),
    ] {
        let out = Command::new("openssl")
            .arg("req")
            .arg("-new")
            .args(newkey)
            .args([
                "-nodes",
                "-keyout",
                "k.pem",
                "-subj",
                "/O=verimesh",
                "-addext",
                &subject_alt,
                "-out",
                "r.pem",
            ])
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let csr = std::fs::read_to_string(dir.join("r.pem")).unwrap();
        let result = ca.sign_csr(&csr, &id(WEB), None);
        assert_eq!(result.is_ok(), accepted, "{newkey:?}: {result:?}");
        if !accepted {
            let err = result.unwrap_err().to_string();
            assert!(err.contains("key not accepted"), "{newkey:?}: {err}");
        }
    }
}
