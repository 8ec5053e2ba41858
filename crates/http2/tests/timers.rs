//! Keepalive PINGs and the idle close, over in-memory pipes in real (short) time: a silent
//! peer is found and the connection fails; a peer that answers (the `h2` crate) keeps it;
//! a connection with no stream for the idle timeout ends with GOAWAY, and one with a stream
//! open does not.

use bytes::Bytes;
use http::{Request, Response};
use std::future::poll_fn;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use verimesh_http2 as vh2;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const HEADERS: u8 = 0x1;
const GOAWAY: u8 = 0x7;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const LIMIT: Duration = Duration::from_secs(5);

fn keepalive(ms: u64) -> Option<vh2::Keepalive> {
    Some(vh2::Keepalive {
        interval: Duration::from_millis(ms),
        timeout: Duration::from_millis(ms),
    })
}

/// Frame heads `(type, flags, payload)` read from a raw peer's end until it closes or
/// `until` passes.
async fn frames_until(
    io: &mut DuplexStream,
    skip: usize,
    until: Instant,
) -> Vec<(u8, u8, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, io.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => break,
        }
    }
    let mut at = skip;
    let mut out = Vec::new();
    while buf.len() >= at + 9 {
        let len =
            usize::from(buf[at]) << 16 | usize::from(buf[at + 1]) << 8 | usize::from(buf[at + 2]);
        if buf.len() < at + 9 + len {
            break;
        }
        out.push((buf[at + 3], buf[at + 4], buf[at + 9..at + 9 + len].to_vec()));
        at += 9 + len;
    }
    out
}

/// A GET without a body; the response future once the stream is open.
async fn get(client: &vh2::Client) -> Result<vh2::ResponseFuture, vh2::Error> {
    let request = Request::get("http://svc.test/").body(()).expect("request");
    Ok(client.send_request(request, true).await?.0)
}

/// An `h2`-crate server that answers the first request's head at once and its body
/// ("done") when the returned sender fires; it ends at the client's GOAWAY and reports
/// whether any other stream was opened.
fn server_holding_one_response(
    far: DuplexStream,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Vec<bool>>,
) {
    let (release, held) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let mut conn = h2::server::handshake(far).await.expect("h2 handshake");
        let Some(Ok((_req, mut respond))) = conn.accept().await else {
            return Vec::new();
        };
        let mut body = respond
            .send_response(Response::new(()), false)
            .expect("head");
        tokio::spawn(async move {
            let _ = held.await;
            let _ = body.send_data(Bytes::from_static(b"done"), true);
        });
        let mut rest = Vec::new();
        while let Some(r) = conn.accept().await {
            rest.push(r.is_ok());
        }
        let _ = poll_fn(|cx| conn.poll_closed(cx)).await;
        rest
    });
    (release, server)
}

fn empty_settings() -> [u8; 9] {
    [0, 0, 0, SETTINGS, 0, 0, 0, 0, 0]
}

#[tokio::test]
async fn a_client_pings_a_silent_server_and_fails_after_the_timeout() {
    let (near, mut far) = tokio::io::duplex(1 << 16);
    let config = vh2::Config {
        keepalive: keepalive(100),
        ..vh2::Config::default()
    };
    let (client, connection) = vh2::client_handshake(near, config);
    let started = Instant::now();
    let ended = tokio::spawn(async move { (connection.await, started.elapsed()) });
    // The server's settings, then nothing: a peer that went away without a word.
    far.write_all(&empty_settings()).await.expect("write");
    let frames = frames_until(
        &mut far,
        PREFACE.len(),
        Instant::now() + Duration::from_millis(600),
    )
    .await;
    let pings: Vec<_> = frames.iter().filter(|f| f.0 == PING).collect();
    assert_eq!(
        pings.len(),
        1,
        "one PING, then the wait for its answer: {frames:?}"
    );
    assert_eq!(
        (pings[0].1, pings[0].2.len()),
        (0, 8),
        "a PING, not an ACK, 8 bytes"
    );
    let (result, after) = tokio::time::timeout(LIMIT, ended)
        .await
        .expect("the connection ends")
        .expect("task");
    let err = result.expect_err("a silent peer fails the connection");
    assert!(matches!(err, vh2::Error::KeepaliveTimeout(_)), "{err}");
    assert!(err.is_connection_error());
    assert!(
        after >= Duration::from_millis(200) && after < Duration::from_secs(2),
        "the interval and the timeout, not sooner: {after:?}"
    );
    assert!(client.is_closed(), "the pool sees it and opens another");
}

#[tokio::test]
async fn a_server_that_answers_keeps_the_connection() {
    let (near, far) = tokio::io::duplex(1 << 16);
    let server = tokio::spawn(async move {
        let mut conn = h2::server::handshake(far).await.expect("h2 handshake");
        while let Some(Ok((_req, mut respond))) = conn.accept().await {
            let _ = respond.send_response(Response::new(()), true);
        }
    });
    let config = vh2::Config {
        keepalive: keepalive(50),
        ..vh2::Config::default()
    };
    let (client, connection) = vh2::client_handshake(near, config);
    let driver = tokio::spawn(connection);
    // Ten intervals of silence from the application: only PINGs and their ACKs cross.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!client.is_closed(), "answered PINGs keep the connection");
    let response = get(&client).await.expect("send");
    let response = tokio::time::timeout(LIMIT, response)
        .await
        .expect("in time")
        .expect("response");
    assert_eq!(response.status(), 200);
    drop(client);
    drop(response);
    let _ = tokio::time::timeout(LIMIT, driver).await;
    server.abort();
}

#[tokio::test]
async fn a_server_pings_a_silent_client_and_closes() {
    let (mut near, far) = tokio::io::duplex(1 << 16);
    let config = vh2::Config {
        keepalive: keepalive(100),
        ..vh2::Config::default()
    };
    let served = tokio::spawn(async move {
        let mut server = vh2::server_handshake(far, config);
        let accepted = poll_fn(|cx| server.poll_accept(cx)).await;
        accepted.map(|r| r.map(|_| ()))
    });
    near.write_all(PREFACE).await.expect("write");
    near.write_all(&empty_settings()).await.expect("write");
    let frames = frames_until(&mut near, 0, Instant::now() + LIMIT).await;
    let kinds: Vec<u8> = frames.iter().map(|f| f.0).collect();
    assert!(kinds.contains(&PING), "the server pinged: {kinds:?}");
    let outcome = tokio::time::timeout(LIMIT, served)
        .await
        .expect("ends")
        .expect("task");
    match outcome {
        Some(Err(vh2::Error::KeepaliveTimeout(_))) => {}
        other => panic!("expected a keepalive failure, got {other:?}"),
    }
}

#[tokio::test]
async fn an_idle_connection_ends_with_goaway_but_not_while_a_stream_is_open() {
    let (near, far) = tokio::io::duplex(1 << 16);
    let (release, server) = server_holding_one_response(far);
    let config = vh2::Config {
        idle_timeout: Some(Duration::from_millis(150)),
        ..vh2::Config::default()
    };
    let (client, connection) = vh2::client_handshake(near, config);
    let started = Instant::now();
    let driver = tokio::spawn(async move { (connection.await, started.elapsed()) });
    let response = get(&client).await.expect("send");
    let response = tokio::time::timeout(LIMIT, response)
        .await
        .expect("in time")
        .expect("response");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        !client.is_closed(),
        "a stream still open keeps the connection past the idle timeout"
    );
    release.send(()).expect("release");
    let mut body = response.into_body();
    while let Some(chunk) = poll_fn(|cx| body.poll_data(cx)).await {
        chunk.expect("body");
    }
    drop(body);
    let idle_from = started.elapsed();
    let (result, ended_at) = tokio::time::timeout(LIMIT, driver)
        .await
        .expect("ends")
        .expect("task");
    let err = result.expect_err("ended by this end");
    assert_eq!(err.reason(), Some(vh2::Reason::NO_ERROR), "{err}");
    let idle = ended_at - idle_from;
    assert!(
        idle >= Duration::from_millis(140) && idle < Duration::from_secs(1),
        "closed an idle timeout after the last stream: {idle:?}"
    );
    assert!(client.is_closed());
    let served = tokio::time::timeout(LIMIT, server)
        .await
        .expect("server ends")
        .expect("task");
    assert!(served.is_empty(), "no other stream was opened: {served:?}");
}

#[tokio::test]
async fn at_its_maximum_age_a_client_connection_drains_and_ends() {
    let (near, far) = tokio::io::duplex(1 << 16);
    let (release, server) = server_holding_one_response(far);
    let config = vh2::Config {
        max_age: Some(Duration::from_millis(150)),
        ..vh2::Config::default()
    };
    let (client, connection) = vh2::client_handshake(near, config);
    let driver = tokio::spawn(connection);
    let response = get(&client).await.expect("send");
    let response = tokio::time::timeout(LIMIT, response)
        .await
        .expect("in time")
        .expect("response");
    assert!(!client.is_closed(), "young, it takes streams");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(client.is_closed(), "past its age it reads as closed");
    let refused = get(&client)
        .await
        .err()
        .expect("no new stream on a draining connection");
    assert_eq!(refused.reason(), Some(vh2::Reason::NO_ERROR), "{refused}");
    assert!(!driver.is_finished(), "the stream in flight keeps it open");
    release.send(()).expect("release");
    let mut body = response.into_body();
    let mut got = Vec::new();
    while let Some(chunk) = poll_fn(|cx| body.poll_data(cx)).await {
        got.extend_from_slice(&chunk.expect("the stream in flight finishes"));
    }
    assert_eq!(got, b"done");
    drop(body);
    let ended = tokio::time::timeout(Duration::from_secs(1), driver)
        .await
        .expect("ends once its last stream is done, with the client still held")
        .expect("task");
    assert!(ended.is_ok(), "an orderly end: {ended:?}");
    let served = tokio::time::timeout(LIMIT, server)
        .await
        .expect("server ends")
        .expect("task");
    assert!(
        served.is_empty(),
        "no other stream reached the server: {served:?}"
    );
    drop(client);
}

#[tokio::test]
async fn a_draining_connection_ends_by_itself_when_its_last_stream_is_done() {
    // A raw peer that never closes: the end must come from this side.
    let (near, mut far) = tokio::io::duplex(1 << 16);
    let config = vh2::Config {
        max_age: Some(Duration::from_millis(150)),
        ..vh2::Config::default()
    };
    let (client, connection) = vh2::client_handshake(near, config);
    let driver = tokio::spawn(connection);
    far.write_all(&empty_settings()).await.expect("write");
    let response = get(&client).await.expect("send");
    let frames = frames_until(
        &mut far,
        PREFACE.len(),
        Instant::now() + Duration::from_millis(400),
    )
    .await;
    let goaway: Vec<_> = frames.iter().filter(|f| f.0 == GOAWAY).collect();
    assert_eq!(goaway.len(), 1, "GOAWAY at the age: {frames:?}");
    assert_eq!(&goaway[0].2[4..8], &[0, 0, 0, 0], "NO_ERROR");
    assert!(
        !driver.is_finished(),
        "stream 1 is still waiting for its answer"
    );
    // `:status: 200` (static table entry 8), ending stream 1.
    far.write_all(&[0, 0, 1, HEADERS, END_STREAM | END_HEADERS, 0, 0, 0, 1, 0x88])
        .await
        .expect("write");
    let response = tokio::time::timeout(LIMIT, response)
        .await
        .expect("in time")
        .expect("response");
    assert_eq!(response.status(), 200);
    drop(response);
    let ended = tokio::time::timeout(Duration::from_secs(1), driver)
        .await
        .expect("ends once its last stream is done, with the peer still there")
        .expect("task");
    assert!(ended.is_ok(), "an orderly end: {ended:?}");
    drop(client);
}
