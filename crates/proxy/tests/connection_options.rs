//! DestinationRule connectionPool options carried out by the client proxy, observed from a
//! relay of the test's own between the two proxies (it counts connections, and can go
//! silent the way a vanished host does) and from the kernel's view of the sockets (`ss`).

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::policy::echo_server;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use verimesh_model::{
    Cluster, ConnectionOptions, Http2Keepalive, MtlsMode, Protocol, ServicePort, TcpKeepalive,
};
use verimesh_proxy::LogTarget;

/// A TCP relay to `target` that counts the connections it accepts and those that ended
/// (either side closed). `freeze` makes every
/// connection open so far stop forwarding without closing, as when the peer's host is
/// gone; connections accepted later relay normally.
struct Relay {
    addr: SocketAddr,
    accepted: Arc<AtomicU32>,
    ended: Arc<AtomicU32>,
    generation: watch::Sender<u32>,
}

impl Relay {
    async fn start(target: SocketAddr) -> Relay {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("test setup");
        let addr = l.local_addr().expect("test setup");
        let accepted = Arc::new(AtomicU32::new(0));
        let ended = Arc::new(AtomicU32::new(0));
        let (generation, _) = watch::channel(0u32);
        let (count, frozen) = (accepted.clone(), generation.clone());
        let ends = ended.clone();
        tokio::spawn(async move {
            while let Ok((mut down, _)) = l.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let mut freeze = frozen.subscribe();
                freeze.mark_unchanged();
                let ends = ends.clone();
                tokio::spawn(async move {
                    let Ok(mut up) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut down, &mut up) => {
                            ends.fetch_add(1, Ordering::SeqCst);
                        }
                        _ = freeze.changed() => {
                            // Hold both sockets open, and say nothing, until the test ends.
                            std::future::pending::<()>().await;
                        }
                    }
                });
            }
        });
        Relay {
            addr,
            accepted,
            ended,
            generation,
        }
    }

    fn accepted(&self) -> u32 {
        self.accepted.load(Ordering::SeqCst)
    }

    fn ended(&self) -> u32 {
        self.ended.load(Ordering::SeqCst)
    }

    fn freeze(&self) {
        self.generation.send_modify(|g| *g += 1);
    }
}

fn port(protocol: Protocol) -> ServicePort {
    ServicePort {
        port: 8080,
        name: "web".into(),
        protocol,
        http_routes: vec![],
        tcp_routes: vec![],
        default_cluster: "web".into(),
    }
}

fn cluster_via(relay: &Relay, connections: ConnectionOptions) -> Cluster {
    Cluster {
        connections,
        ..mesh_cluster("web", vec![endpoint(relay.addr, &[])])
    }
}

/// An HTTP client proxy to a STRICT server proxy in front of an HTTP backend, through a
/// relay; the proxies are returned to be kept alive.
async fn http_through_relay(
    mesh: &Mesh,
    connections: ConnectionOptions,
) -> (Relay, verimesh_proxy::Proxy, verimesh_proxy::Proxy) {
    let (app, _) = backend("v1").await;
    let server = server_proxy(mesh, app, Protocol::Http, MtlsMode::Strict).await;
    let relay = Relay::start(server.inbound_addr).await;
    let cfg = client_config(port(Protocol::Http), vec![cluster_via(&relay, connections)]);
    let client = client_proxy(mesh, cfg, LogTarget::Off).await;
    (relay, server, client)
}

#[tokio::test]
async fn max_requests_per_connection_spreads_requests_over_new_connections() {
    let mesh = Mesh::new();
    let (shared, _s1, plain) = http_through_relay(&mesh, ConnectionOptions::default()).await;
    let (limited, _s2, capped) = http_through_relay(
        &mesh,
        ConnectionOptions {
            max_requests_per_connection: Some(3),
            ..ConnectionOptions::default()
        },
    )
    .await;
    for _ in 0..7 {
        assert_eq!(get(plain.outbound_addr, "/", &[]).await.0, 200);
        assert_eq!(get(capped.outbound_addr, "/", &[]).await.0, 200);
    }
    assert_eq!(
        shared.accepted(),
        1,
        "by default one HTTP/2 connection carries all"
    );
    assert_eq!(
        limited.accepted(),
        3,
        "seven requests, three per connection"
    );
}

#[tokio::test]
async fn max_connection_duration_closes_the_connection_at_its_age_without_a_request() {
    let mesh = Mesh::new();
    let (aged, _s1, short) = http_through_relay(
        &mesh,
        ConnectionOptions {
            max_connection_duration_ms: Some(300),
            ..ConnectionOptions::default()
        },
    )
    .await;
    let (kept, _s2, plain) = http_through_relay(&mesh, ConnectionOptions::default()).await;
    assert_eq!(get(short.outbound_addr, "/", &[]).await.0, 200);
    assert_eq!(get(plain.outbound_addr, "/", &[]).await.0, 200);
    let deadline = Instant::now() + Duration::from_secs(3);
    while aged.ended() == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(aged.ended(), 1, "closed at its age with nothing in flight");
    assert_eq!(kept.ended(), 0, "without the option the connection stays");
    assert_eq!(get(short.outbound_addr, "/", &[]).await.0, 200);
    assert_eq!(
        aged.accepted(),
        2,
        "the next request opened a new connection"
    );
}

#[tokio::test]
async fn http2_keepalive_finds_a_peer_gone_silent_and_the_next_request_gets_a_new_connection() {
    let mesh = Mesh::new();
    let (relay, _server, client) = http_through_relay(
        &mesh,
        ConnectionOptions {
            http2_keepalive: Some(Http2Keepalive {
                interval_ms: 150,
                timeout_ms: 150,
            }),
            ..ConnectionOptions::default()
        },
    )
    .await;
    assert_eq!(get(client.outbound_addr, "/", &[]).await.0, 200);
    relay.freeze();
    // Longer than the interval and the timeout together: the PING went unanswered.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let started = Instant::now();
    let answered =
        tokio::time::timeout(Duration::from_secs(3), get(client.outbound_addr, "/", &[]))
            .await
            .expect("not sent on the dead connection, which would never answer");
    assert_eq!(answered.0, 200);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        relay.accepted(),
        2,
        "a new connection replaced the silent one"
    );
}

/// The timers of the sockets connected to `relay` (the client proxy's), as the kernel lists
/// them in /proc/net/tcp: `Some(ticks)` for a keepalive timer due in that many 1/100 s,
/// `None` for no keepalive timer.
fn keepalive_timers(relay: &Relay) -> Vec<Option<u64>> {
    let remote = format!("0100007F:{:04X}", relay.addr.port());
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    table
        .lines()
        .skip(1)
        .filter_map(|row| {
            let cols: Vec<&str> = row.split_whitespace().collect();
            // local, remote, state (01: established), ..., "timer:when".
            if cols.get(2) != Some(&remote.as_str()) || cols.get(3) != Some(&"01") {
                return None;
            }
            let (kind, when) = cols.get(5)?.split_once(':')?;
            Some((kind == "02").then(|| u64::from_str_radix(when, 16).unwrap_or(u64::MAX)))
        })
        .collect()
}

#[tokio::test]
async fn tcp_keepalive_is_set_on_upstream_sockets_with_its_timing() {
    let mesh = Mesh::new();
    let (plain_relay, _s1, plain) = http_through_relay(&mesh, ConnectionOptions::default()).await;
    let (relay, _s2, client) = http_through_relay(
        &mesh,
        ConnectionOptions {
            tcp_keepalive: Some(TcpKeepalive {
                time_ms: Some(7_000),
                interval_ms: Some(3_000),
                probes: Some(4),
            }),
            ..ConnectionOptions::default()
        },
    )
    .await;
    assert_eq!(get(plain.outbound_addr, "/", &[]).await.0, 200);
    assert_eq!(get(client.outbound_addr, "/", &[]).await.0, 200);
    let with = keepalive_timers(&relay);
    assert_eq!(with.len(), 1, "one socket to the relay: {with:?}");
    let due = with[0].expect("a keepalive timer on the socket");
    // The first probe is due `time` (7 s) after the last byte, not the kernel's 2 hours.
    assert!(due > 0 && due <= 700, "first probe within 7 s: {due} ticks");
    let without = keepalive_timers(&plain_relay);
    assert_eq!(without, vec![None], "no keepalive unless asked");
}

#[tokio::test]
async fn a_tcp_connection_idle_past_the_timeout_is_closed_and_a_busy_one_is_not() {
    let mesh = Mesh::new();
    let echo = echo_server().await;
    let server = server_proxy(&mesh, echo, Protocol::Tcp, MtlsMode::Strict).await;
    let cfg = client_config(
        port(Protocol::Tcp),
        vec![Cluster {
            connections: ConnectionOptions {
                tcp_idle_timeout_ms: Some(300),
                ..ConnectionOptions::default()
            },
            ..mesh_cluster("web", vec![endpoint(server.inbound_addr, &[])])
        }],
    );
    let client = client_proxy(&mesh, cfg, LogTarget::Off).await;
    let mut s = TcpStream::connect(client.outbound_addr)
        .await
        .expect("connect");
    let started = Instant::now();
    // A line every 150 ms for 900 ms: three timeouts' worth, never idle for one.
    for i in 0..6 {
        let line = format!("line {i}\n");
        s.write_all(line.as_bytes()).await.expect("write");
        let mut got = vec![0u8; line.len()];
        tokio::time::timeout(Duration::from_secs(2), s.read_exact(&mut got))
            .await
            .expect("echoed in time")
            .expect("still open while busy");
        assert_eq!(got, line.as_bytes());
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let mut rest = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut rest))
        .await
        .expect("closed after the idle timeout")
        .unwrap_or(0);
    assert_eq!(n, 0);
    let lasted = started.elapsed();
    assert!(
        lasted >= Duration::from_millis(1000) && lasted < Duration::from_millis(2500),
        "busy for about 900 ms, then one idle timeout: {lasted:?}"
    );
}
