//! Protocol detection on a real ClientHello, sent by the `openssl` binary.

use std::io::Read;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use verimesh_proxy::detect::{detect, Detected};

#[test]
fn sni_and_alpn_from_openssl_s_client() {
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("notice: openssl is not installed; skipped");
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let mut child = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .args(["-servername", "API.Example.com", "-alpn", "h2,http/1.1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_client");
    let (mut conn, _) = listener.accept().expect("accept");
    conn.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut buf = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    let found = loop {
        let mut chunk = [0u8; 4096];
        let n = conn.read(&mut chunk).expect("read");
        buf.extend_from_slice(&chunk[..n]);
        match detect(&buf) {
            Detected::NeedMore if n > 0 && Instant::now() < deadline => continue,
            other => break other,
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    let Detected::Tls(hello) = found else {
        panic!("not detected as TLS: {found:?}");
    };
    assert_eq!(hello.sni.as_deref(), Some("api.example.com"));
    assert_eq!(hello.alpn, ["h2", "http/1.1"]);
}
