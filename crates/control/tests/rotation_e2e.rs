//! Rotation end to end: with a 10-second certificate lifetime, workloads renew from the
//! control plane's signing service over real TLS on 127.0.0.1, and a long-lived mTLS connection
//! plus a steady stream of new connections survive several rotations with zero failed requests.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use support::*;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use verimesh_identity::tls;
use verimesh_identity::SpiffeMatcher;

const TTL: Duration = Duration::from_secs(10);
const RUN_FOR: Duration = Duration::from_secs(26);

type Conn =
    tokio::io::Lines<BufReader<tokio::io::ReadHalf<tokio_rustls::client::TlsStream<TcpStream>>>>;

async fn connect(
    connector: &tokio_rustls::TlsConnector,
    addr: std::net::SocketAddr,
) -> std::io::Result<(tokio_rustls::client::TlsStream<TcpStream>, String)> {
    let tcp = TcpStream::connect(addr).await?;
    let name =
        rustls_pki_types::ServerName::try_from("db.mesh.invalid").map_err(std::io::Error::other)?;
    let tls = connector.connect(name, tcp).await?;
    let serial = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|leaf| {
            let (_, cert) =
                x509_parser::parse_x509_certificate(leaf.as_ref()).expect("leaf parses");
            cert.raw_serial_as_string()
        })
        .unwrap_or_default();
    Ok((tls, serial))
}

async fn request(
    lines: &mut Conn,
    w: &mut tokio::io::WriteHalf<tokio_rustls::client::TlsStream<TcpStream>>,
    n: usize,
) -> Result<(), String> {
    w.write_all(format!("req {n}\n").as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    match tokio::time::timeout(Duration::from_secs(2), lines.next_line()).await {
        Ok(Ok(Some(line))) if line == format!("echo req {n}") => Ok(()),
        other => Err(format!("request {n}: {other:?}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_survive_several_rotations_with_zero_failed_requests() {
    let dir_tmp = temp_dir("rotation-e2e");
    let dir = dir_tmp.path();
    let control = verimesh_control::start(opts(dir, None, TTL))
        .await
        .expect("control plane");
    let bundle = bundle_of(dir);
    let web_id = id("default", "web");
    let db_id = id("default", "db");
    let web = workload(
        client_for(&control, dir, bundle.clone(), "default", "web"),
        web_id.clone(),
    )
    .await;
    let db = workload(
        client_for(&control, dir, bundle.clone(), "default", "db"),
        db_id.clone(),
    )
    .await;
    let first_db = db.current().expect("db has a certificate");
    let first_web = web.current().expect("web has a certificate");

    let echo = echo_server(db.source(), SpiffeMatcher::Exact(web_id.clone())).await;
    // One client config for the whole run: rotation never rebuilds it.
    let config = tls::client_config(
        web.source(),
        SpiffeMatcher::Exact(db_id.clone()),
        &[tls::ALPN_H2],
    )
    .unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));

    let started = Instant::now();
    let deadline = started + RUN_FOR;

    // The long-lived connection: a request every 50 ms on one connection.
    let long_lived = {
        let connector = connector.clone();
        let addr = echo.addr;
        tokio::spawn(async move {
            let (tls, _) = connect(&connector, addr).await.map_err(|e| e.to_string())?;
            let (r, mut w) = tokio::io::split(tls);
            let mut lines = BufReader::new(r).lines();
            let mut n = 0;
            while Instant::now() < deadline && n < 1000 {
                request(&mut lines, &mut w, n).await?;
                n += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok::<usize, String>(n)
        })
    };

    // The stream: a new connection (new handshake) every 100 ms, one request each.
    let mut failures = Vec::new();
    let mut serials = BTreeSet::new();
    let mut new_conns = 0;
    while Instant::now() < deadline && new_conns < 500 {
        match connect(&connector, echo.addr).await {
            Ok((tls, serial)) => {
                serials.insert(serial);
                let (r, mut w) = tokio::io::split(tls);
                let mut lines = BufReader::new(r).lines();
                if let Err(e) = request(&mut lines, &mut w, new_conns).await {
                    failures.push(e);
                }
            }
            Err(e) => failures.push(format!("connection {new_conns}: {e}")),
        }
        new_conns += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let long_lived = tokio::time::timeout(Duration::from_secs(10), long_lived)
        .await
        .expect("long-lived connection finishes")
        .expect("task");

    assert!(
        failures.is_empty(),
        "{} failed requests: {failures:?}",
        failures.len()
    );
    let long_lived_requests = long_lived.expect("long-lived connection survived");
    assert!(long_lived_requests > 300, "{long_lived_requests}");
    assert!(new_conns > 150, "{new_conns}");

    // Several rotations happened, on both sides, and new handshakes used the new certificates.
    let db_rotations = db.subscribe().borrow().generation - 1;
    let web_rotations = web.subscribe().borrow().generation - 1;
    assert!(db_rotations >= 3, "db rotated {db_rotations} times");
    assert!(web_rotations >= 3, "web rotated {web_rotations} times");
    assert!(
        serials.len() >= 4,
        "new connections saw {} server certificates",
        serials.len()
    );
    // The long-lived connection outlived the certificates it was opened with.
    assert!(SystemTime::now() > first_db.not_after() && SystemTime::now() > first_web.not_after());
    assert!(
        echo.served.load(std::sync::atomic::Ordering::Relaxed) >= long_lived_requests + new_conns
    );
    eprintln!(
        "{long_lived_requests} requests on one connection, {new_conns} new connections, \
         db rotated {db_rotations}x, web {web_rotations}x, {} server certificates seen, {:?}",
        serials.len(),
        started.elapsed()
    );
}
