//! `verimesh ca` and `verimesh control` as a user runs them, checked with the openssl binary
//! and a real signing request to a running control plane.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn verimesh(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_verimesh"))
        .args(args)
        .output()
        .expect("run verimesh")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn openssl(args: &[&str], dir: &Path) -> Output {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl binary is installed")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

#[test]
fn issue_writes_a_chain_key_and_root_that_openssl_accepts() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let (state, out) = (dir.join("state"), dir.join("out"));
    let id = "spiffe://cluster.local/ns/default/sa/web";
    let run = verimesh(&[
        "ca",
        "issue",
        "--state-dir",
        s(&state),
        "--spiffe-id",
        id,
        "--ttl",
        "1h",
        "--out",
        s(&out),
    ]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert!(
        text(&run).contains("created a new self-signed root CA"),
        "{}",
        text(&run)
    );
    let mode = std::fs::metadata(out.join("key.pem"))
        .expect("key.pem")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);

    // openssl: the chain verifies against the root; the leaf has the URI SAN and both EKUs.
    std::fs::copy(out.join("cert-chain.pem"), out.join("leaf.pem")).expect("copy");
    let v = openssl(
        &[
            "verify",
            "-CAfile",
            "root-cert.pem",
            "-untrusted",
            "cert-chain.pem",
            "leaf.pem",
        ],
        &out,
    );
    assert!(v.status.success(), "{}", text(&v));
    let x = openssl(&["x509", "-in", "cert-chain.pem", "-noout", "-text"], &out);
    let x = text(&x);
    assert!(x.contains(&format!("URI:{id}")), "{x}");
    assert!(
        x.contains("TLS Web Server Authentication, TLS Web Client Authentication"),
        "{x}"
    );
    // --ttl 1h: valid in 58 minutes, not in 62.
    assert!(openssl(
        &[
            "x509",
            "-in",
            "cert-chain.pem",
            "-noout",
            "-checkend",
            "3480"
        ],
        &out
    )
    .status
    .success());
    assert!(!openssl(
        &[
            "x509",
            "-in",
            "cert-chain.pem",
            "-noout",
            "-checkend",
            "3720"
        ],
        &out
    )
    .status
    .success());
    // The key belongs to the certificate.
    let k = openssl(&["pkey", "-in", "key.pem", "-pubout"], &out);
    let c = openssl(
        &["x509", "-in", "cert-chain.pem", "-noout", "-pubkey"],
        &out,
    );
    assert_eq!(k.stdout, c.stdout);

    // A second issue reuses the CA: same root.
    let out2 = dir.join("out2");
    let run = verimesh(&[
        "ca",
        "issue",
        "--state-dir",
        s(&state),
        "--spiffe-id",
        id,
        "--out",
        s(&out2),
    ]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert_eq!(
        std::fs::read(out.join("root-cert.pem")).expect("root"),
        std::fs::read(out2.join("root-cert.pem")).expect("root")
    );

    // inspect: subject, SPIFFE ID, validity, EKUs and the chain.
    let i = verimesh(&["ca", "inspect", s(&out.join("cert-chain.pem"))]);
    let t = text(&i);
    assert_eq!(i.status.code(), Some(0), "{t}");
    for want in [
        "Certificate 0 (leaf)",
        "Subject:    (empty)",
        &format!("SPIFFE ID:  {id}"),
        "EKUs:       serverAuth, clientAuth",
        "Not after:",
        "Certificate 1 (root)",
        "Subject:    O=cluster.local, CN=verimesh root CA",
        "0 -> 1: issued by the next certificate",
    ] {
        assert!(t.contains(want), "missing {want:?} in:\n{t}");
    }
}

#[test]
fn bad_input_exits_two_with_a_reason() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let run = verimesh(&[
        "ca",
        "issue",
        "--state-dir",
        s(dir),
        "--spiffe-id",
        "spiffe://Cluster/x",
        "--out",
        s(dir),
    ]);
    assert_eq!(run.status.code(), Some(2));
    assert!(
        text(&run).contains("--spiffe-id") && text(&run).contains("trust domain"),
        "{}",
        text(&run)
    );
    let run = verimesh(&[
        "ca",
        "issue",
        "--state-dir",
        s(dir),
        "--spiffe-id",
        "spiffe://cluster.local/ns/a/sa/b",
        "--ttl",
        "soon",
        "--out",
        s(dir),
    ]);
    assert_eq!(run.status.code(), Some(2), "{}", text(&run));
    std::fs::write(dir.join("junk.pem"), "not a certificate").expect("write");
    let run = verimesh(&["ca", "inspect", s(&dir.join("junk.pem"))]);
    assert_eq!(run.status.code(), Some(2));
    assert!(text(&run).contains("no PEM CERTIFICATE"), "{}", text(&run));
    let run = verimesh(&["ca", "inspect", s(&dir.join("missing.pem"))]);
    assert_eq!(run.status.code(), Some(2));
}

#[test]
fn every_command_has_help() {
    for (args, want) in [
        (&["ca", "--help"][..], "issue"),
        (&["ca", "issue", "--help"][..], "--spiffe-id"),
        (&["ca", "inspect", "--help"][..], "FILE"),
        (&["ca", "token", "--help"][..], "--service-account"),
        (&["control", "--help"][..], "--placement"),
    ] {
        let out = verimesh(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(text(&out).contains(want), "{args:?}: {}", text(&out));
    }
}

/// Kills the control plane process when the test ends, however it ends.
struct Child(std::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn control_serves_certificates_to_a_token_holder() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let state = dir.join("state");
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_verimesh"))
            .args([
                "control",
                "--state-dir",
                s(&state),
                "--listen",
                "127.0.0.1:0",
            ])
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn control"),
    );
    // Wait (bounded) for the line that names the address.
    let stderr = child.0.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let addr = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("control plane starts");
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().expect("address").to_string();
        }
    };
    let token = verimesh(&[
        "ca",
        "token",
        "--state-dir",
        s(&state),
        "--namespace",
        "default",
        "--service-account",
        "web",
    ]);
    assert_eq!(token.status.code(), Some(0), "{}", text(&token));
    let token = String::from_utf8_lossy(&token.stdout).trim().to_string();
    assert_eq!(token.len(), 64);

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let bundle = verimesh_identity::TrustBundle::from_pem(
            &std::fs::read_to_string(state.join("ca/root-cert.pem")).expect("root"),
        )
        .expect("bundle");
        let td = verimesh_identity::TrustDomain::new("cluster.local").expect("td");
        let control = verimesh_identity::SpiffeMatcher::Exact(
            verimesh_control::control_identity(&td).expect("id"),
        );
        let client = verimesh_api::CaClient::new(addr.parse().expect("addr"), control, bundle)
            .with_bootstrap_token(token);
        let web = verimesh_identity::SpiffeId::parse("spiffe://cluster.local/ns/default/sa/web")
            .expect("id");
        let kc = verimesh_identity::csr::KeyAndCsr::generate(&web).expect("csr");
        let signed = client
            .create_certificate(kc.csr_pem.clone())
            .await
            .expect("signed");
        let creds =
            verimesh_identity::Credentials::new(signed.chain, kc.private_key()).expect("creds");
        assert_eq!(creds.identity(), &web);
        // Another identity with web's token is refused, and the refusal is logged.
        let db = verimesh_identity::SpiffeId::parse("spiffe://cluster.local/ns/default/sa/db")
            .expect("id");
        let kc = verimesh_identity::csr::KeyAndCsr::generate(&db).expect("csr");
        assert!(client.create_certificate(kc.csr_pem).await.is_err());
    });
    let logged = (0..50).find_map(|_| {
        let line = rx.recv_timeout(Duration::from_millis(200)).ok()?;
        line.contains("CSR for another identity").then_some(line)
    });
    assert!(logged.is_some(), "refusal not logged");
}
