//! The CA checked by the real `openssl` binary: a self-signed root kept in the state directory,
//! and a plugged-in CA in Istio's `cacerts` layout made with openssl itself.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use support::temp_dir;
use verimesh_identity::ca::{self, Ca};
use verimesh_identity::{pem, SpiffeId, SpiffeMatcher, TrustDomain, Usage};

fn td() -> TrustDomain {
    TrustDomain::new("cluster.local").expect("test setup")
}

fn openssl(args: &[&str], dir: &Path) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl binary is installed (scripts/setup.sh installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .expect("test setup")
        .permissions()
        .mode()
        & 0o777
}

/// Writes leaf.pem, chain.pem (the rest of the chain) and root.pem for an issued certificate.
fn write_issued(dir: &Path, issued: &verimesh_identity::IssuedCertificate) {
    std::fs::write(dir.join("leaf.pem"), pem::encode_certs(&issued.chain[..1]))
        .expect("test setup");
    std::fs::write(dir.join("chain.pem"), pem::encode_certs(&issued.chain[1..]))
        .expect("test setup");
    std::fs::write(dir.join("root.pem"), issued.roots_pem()).expect("test setup");
}

#[test]
fn self_signed_root_is_persisted_privately_and_openssl_verifies_its_certificates() {
    let dir_tmp = temp_dir("openssl-self-signed");
    let dir = dir_tmp.path();
    let (ca, created) = Ca::load_or_create(dir, td()).unwrap();
    assert!(created);
    let ca_dir = dir.join(ca::STATE_SUBDIR);
    assert_eq!(mode(&ca_dir), 0o700);
    assert_eq!(mode(&ca_dir.join(ca::CA_KEY)), 0o600);
    assert_eq!(mode(&ca_dir.join(ca::ROOT_CERT)), 0o644);

    // A restart loads the same root rather than making a new one.
    let (again, created) = Ca::load_or_create(dir, td()).unwrap();
    assert!(!created);
    assert_eq!(again.trust_bundle().roots(), ca.trust_bundle().roots());

    let id = SpiffeId::parse("spiffe://cluster.local/ns/default/sa/web").unwrap();
    let (issued, _key) = ca.issue(&id, Some(Duration::from_secs(3600))).unwrap();
    write_issued(dir, &issued);

    let (ok, text) = openssl(
        &[
            "verify",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "chain.pem",
            "leaf.pem",
        ],
        dir,
    );
    assert!(ok && text.contains("leaf.pem: OK"), "{text}");
    for purpose in ["sslserver", "sslclient"] {
        let (ok, text) = openssl(
            &[
                "verify",
                "-purpose",
                purpose,
                "-CAfile",
                "root.pem",
                "-untrusted",
                "chain.pem",
                "leaf.pem",
            ],
            dir,
        );
        assert!(ok, "{purpose}: {text}");
    }

    let (ok, text) = openssl(&["x509", "-in", "leaf.pem", "-noout", "-text"], dir);
    assert!(ok, "{text}");
    assert!(
        text.contains("URI:spiffe://cluster.local/ns/default/sa/web"),
        "{text}"
    );
    assert!(
        text.contains("TLS Web Server Authentication, TLS Web Client Authentication"),
        "{text}"
    );
    assert!(text.contains("CA:FALSE"), "{text}");
    assert!(!text.contains("DNS:"), "only the SPIFFE URI SAN: {text}");

    let (ok, text) = openssl(&["x509", "-in", "root.pem", "-noout", "-text"], dir);
    assert!(
        ok && text.contains("ASN1 OID: prime256v1") && text.contains("CA:TRUE"),
        "{text}"
    );

    // Not vacuous: openssl refuses the same leaf against another root.
    let other_tmp = temp_dir("openssl-other-root");
    let other = other_tmp.path();
    let (stranger, _) = Ca::load_or_create(other, td()).unwrap();
    std::fs::write(dir.join("other-root.pem"), stranger.trust_bundle().to_pem()).unwrap();
    let (ok, text) = openssl(&["verify", "-CAfile", "other-root.pem", "leaf.pem"], dir);
    assert!(!ok, "{text}");
}

/// Makes an Istio-style `cacerts` directory with openssl: an ECDSA root and an RSA
/// intermediate (PKCS#1 key, as in Istio's samples) that signs workloads.
fn make_cacerts(dir: &Path) {
    std::fs::write(
        dir.join("ext.cnf"),
        "[v3_ca]\nbasicConstraints=critical,CA:TRUE,pathlen:0\n\
         keyUsage=critical,keyCertSign,cRLSign,digitalSignature\n\
         subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n",
    )
    .expect("test setup");
    let steps: &[&[&str]] = &[
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "root-key.pem",
        ],
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "root-key.pem",
            "-sha256",
            "-days",
            "3650",
            "-subj",
            "/O=Istio/CN=Root CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
            "-out",
            "root-cert.pem",
        ],
        &["genrsa", "-traditional", "-out", "ca-key.pem", "2048"],
        &[
            "req",
            "-new",
            "-key",
            "ca-key.pem",
            "-subj",
            "/O=Istio/CN=Intermediate CA/L=cluster1",
            "-out",
            "ca.csr",
        ],
        &[
            "x509",
            "-req",
            "-in",
            "ca.csr",
            "-CA",
            "root-cert.pem",
            "-CAkey",
            "root-key.pem",
            "-CAcreateserial",
            "-days",
            "730",
            "-sha256",
            "-extfile",
            "ext.cnf",
            "-extensions",
            "v3_ca",
            "-out",
            "ca-cert.pem",
        ],
    ];
    for step in steps {
        let (ok, text) = openssl(step, dir);
        assert!(ok, "openssl {step:?}: {text}");
    }
    let chain = std::fs::read_to_string(dir.join("ca-cert.pem")).expect("test setup")
        + &std::fs::read_to_string(dir.join("root-cert.pem")).expect("test setup");
    std::fs::write(dir.join("cert-chain.pem"), chain).expect("test setup");
}

#[test]
fn plugged_in_cacerts_from_openssl_issue_verifiable_certificates() {
    let dir_tmp = temp_dir("openssl-cacerts");
    let dir = dir_tmp.path();
    make_cacerts(dir);
    assert!(std::fs::read_to_string(dir.join("ca-key.pem"))
        .unwrap()
        .contains("BEGIN RSA PRIVATE KEY"));
    let ca = Ca::load_cacerts(dir, td()).unwrap();
    let id = SpiffeId::parse("spiffe://cluster.local/ns/shop/sa/cart").unwrap();
    let (issued, _key) = ca.issue(&id, None).unwrap();
    assert_eq!(issued.chain.len(), 3, "leaf, intermediate, root");
    write_issued(dir, &issued);
    let (ok, text) = openssl(
        &[
            "verify",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "chain.pem",
            "leaf.pem",
        ],
        dir,
    );
    assert!(ok && text.contains("leaf.pem: OK"), "{text}");
    let (ok, text) = openssl(
        &["x509", "-in", "leaf.pem", "-noout", "-issuer", "-enddate"],
        dir,
    );
    assert!(ok && text.contains("CN = Intermediate CA"), "{text}");

    // The mesh's own verifier agrees, for both uses.
    for usage in [Usage::Server, Usage::Client] {
        verimesh_identity::verify::verify_peer(
            &issued.chain[0],
            &issued.chain[1..],
            &issued.roots,
            usage,
            &SpiffeMatcher::Exact(id.clone()),
            rustls_pki_types::UnixTime::now(),
            &verimesh_identity::tls::provider().signature_verification_algorithms,
        )
        .unwrap();
    }
}

#[test]
fn inconsistent_cacerts_are_refused() {
    let dir_tmp = temp_dir("openssl-bad-cacerts");
    let dir = dir_tmp.path();
    make_cacerts(dir);
    // A key that is not the CA certificate's.
    let (ok, text) = openssl(
        &["genrsa", "-traditional", "-out", "other-key.pem", "2048"],
        dir,
    );
    assert!(ok, "{text}");
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    let err = Ca::from_pem(
        td(),
        &read("ca-cert.pem"),
        &read("other-key.pem"),
        &read("cert-chain.pem"),
        &read("root-cert.pem"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("does not match"), "{err}");
    // A trust bundle that does not contain the CA's root.
    let stranger_tmp = temp_dir("openssl-bad-cacerts-stranger");
    let stranger = stranger_tmp.path();
    let (other, _) = Ca::load_or_create(stranger, td()).unwrap();
    let err = Ca::from_pem(
        td(),
        &read("ca-cert.pem"),
        &read("ca-key.pem"),
        &read("cert-chain.pem"),
        &other.trust_bundle().to_pem(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("would not verify"), "{err}");
    // A CA certificate that is not a CA: the root's own leaf.
    let id = SpiffeId::parse("spiffe://cluster.local/ns/a/sa/b").unwrap();
    let ca = Ca::load_cacerts(dir, td()).unwrap();
    let (issued, key) = ca.issue(&id, None).unwrap();
    let leaf = pem::encode_certs(&issued.chain[..1]);
    let err = Ca::from_pem(td(), &leaf, &key, &leaf, &read("root-cert.pem")).unwrap_err();
    assert!(err.to_string().contains("not a CA"), "{err}");
    // Missing files name the file.
    std::fs::remove_file(dir.join("cert-chain.pem")).unwrap();
    let err = Ca::load_cacerts(dir, td()).unwrap_err();
    assert!(err.to_string().contains("cert-chain.pem"), "{err}");
}
