use super::*;
use crate::upstream::recorded_io::{Fed, Recorded};
use crate::upstream::UpstreamKind;
use http_body_util::BodyExt;
use std::net::SocketAddr;
use std::sync::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::mpsc;
use verimesh_model::ConnectionOptions;

type Writes = Arc<Mutex<Vec<Vec<u8>>>>;

fn pool() -> Arc<EndpointPool> {
    pool_with(&ConnectionOptions::default())
}

fn pool_with(options: &ConnectionOptions) -> Arc<EndpointPool> {
    Arc::new(EndpointPool::new(
        SocketAddr::from(([127, 0, 0, 1], 1)),
        UpstreamKind::Plain,
        options,
        1,
    ))
}

/// A client connection over a recorded in-memory pipe, and the server's end of it.
fn pair() -> (H1Conn, Writes, DuplexStream) {
    let (client, server) = tokio::io::duplex(1 << 20);
    let writes = Arc::new(Mutex::new(Vec::new()));
    let io = Recorded {
        inner: client,
        writes: writes.clone(),
    };
    (H1Conn::new(Box::pin(io)), writes, server)
}

/// Reads one request off the server's end: its head and, by Content-Length or chunked
/// framing, its body.
async fn read_request(server: &mut DuplexStream) -> (String, Vec<u8>) {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        read_more(server, &mut buf, "head").await;
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).expect("ascii head");
    let mut rest = buf[head_end..].to_vec();
    let lower = head.to_ascii_lowercase();
    let body = if let Some(len) = lower
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .and_then(|v| v.trim().parse::<usize>().ok())
    {
        while rest.len() < len {
            read_more(server, &mut rest, "body").await;
        }
        rest
    } else if lower.contains("transfer-encoding: chunked") {
        while !rest.ends_with(b"0\r\n\r\n") {
            read_more(server, &mut rest, "body").await;
        }
        rest
    } else {
        Vec::new()
    };
    (head, body)
}

/// Appends what the server's end reads next to `buf`; the client must not close mid-`part`.
async fn read_more(server: &mut DuplexStream, buf: &mut Vec<u8>, part: &str) {
    let mut chunk = [0u8; 4096];
    let n = server.read(&mut chunk).await.expect("read");
    assert!(n > 0, "client closed mid-{part}");
    buf.extend_from_slice(&chunk[..n]);
}

/// A server that reads one request, writes `chunks` one by one, and closes.
fn answer_and_close(
    mut server: DuplexStream,
    chunks: &'static [&'static [u8]],
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        read_request(&mut server).await;
        for chunk in chunks {
            server.write_all(chunk).await.expect("respond");
        }
    })
}

fn get() -> Request<Body> {
    Request::get("/")
        .header("host", "a")
        .body(crate::body::empty())
        .expect("request")
}

fn post(body: Body) -> Request<Body> {
    Request::post("/echo")
        .header("host", "app.test")
        .body(body)
        .expect("request")
}

async fn body_text(resp: Response<Body>) -> String {
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

#[tokio::test(flavor = "current_thread")]
async fn head_and_body_at_hand_leave_in_one_write_and_the_connection_is_pooled() {
    let (conn, writes, mut server) = pair();
    let pool = pool();
    let served = tokio::spawn(async move {
        let (head, body) = read_request(&mut server).await;
        server
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-app: yes\r\n\r\nok")
            .await
            .expect("respond");
        (head, body, server)
    });
    let resp = conn
        .send(post(crate::body::full(vec![b'x'; 1024])), &pool)
        .await
        .expect("response");
    let (head, body, _server) = served.await.expect("server");
    assert!(head.starts_with("POST /echo HTTP/1.1\r\n"), "{head}");
    assert!(head.contains("content-length: 1024\r\n"), "{head}");
    assert_eq!(body.len(), 1024);
    assert_eq!(
        writes.lock().expect("writes").len(),
        1,
        "head and body in one write"
    );
    assert_eq!(resp.headers()["x-app"], "yes");
    assert_eq!(body_text(resp).await, "ok");
    assert!(
        pool.take_idle().is_some(),
        "the connection went back to its pool"
    );
}

/// One exchange on `conn`: the server answers `ok`, and the response is read whole.
async fn exchange(conn: H1Conn, server: &mut DuplexStream, pool: &Arc<EndpointPool>) {
    let (resp, _) = tokio::join!(conn.send(get(), pool), async {
        read_request(server).await;
        server
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            .await
            .expect("respond");
    });
    assert_eq!(body_text(resp.expect("response")).await, "ok");
}

#[tokio::test(flavor = "current_thread")]
async fn max_requests_per_connection_retires_it_after_its_count() {
    let (conn, _writes, mut server) = pair();
    let pool = pool_with(&ConnectionOptions {
        max_requests_per_connection: Some(2),
        ..ConnectionOptions::default()
    });
    exchange(conn, &mut server, &pool).await;
    let again = pool.take_idle().expect("pooled after its first request");
    exchange(again, &mut server, &pool).await;
    assert!(
        pool.take_idle().is_none(),
        "two requests carried: closed, not pooled"
    );
    let mut rest = Vec::new();
    let n = server.read_to_end(&mut rest).await.expect("read");
    assert_eq!(n, 0, "the server sees the connection close");
}

#[tokio::test(flavor = "current_thread")]
async fn an_idle_or_aged_connection_is_not_reused() {
    let idle = pool_with(&ConnectionOptions {
        http_idle_timeout_ms: Some(50),
        ..ConnectionOptions::default()
    });
    let (conn, _writes, mut server) = pair();
    exchange(conn, &mut server, &idle).await;
    tokio::time::sleep(std::time::Duration::from_millis(80)).await;
    assert!(idle.take_idle().is_none(), "idle past http.idleTimeout");

    let aged = pool_with(&ConnectionOptions {
        max_connection_duration_ms: Some(100),
        ..ConnectionOptions::default()
    });
    let (conn, _writes, mut server) = pair();
    exchange(conn, &mut server, &aged).await;
    let young = aged.take_idle().expect("reused while young");
    tokio::time::sleep(std::time::Duration::from_millis(120)).await;
    exchange(young, &mut server, &aged).await;
    assert!(
        aged.take_idle().is_none(),
        "past tcp.maxConnectionDuration: closed after its exchange"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_chunked_response_streams_with_its_trailers_then_pools_the_connection() {
    let (conn, _writes, mut server) = pair();
    let pool = pool();
    let (step_tx, mut step_rx) = mpsc::unbounded_channel::<()>();
    let served = tokio::spawn(async move {
        read_request(&mut server).await;
        server
            .write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhel")
            .await
            .expect("respond");
        step_rx.recv().await;
        server
            .write_all(b"lo\r\n6\r\n world\r\n0\r\ngrpc-status: 0\r\n\r\n")
            .await
            .expect("respond");
        server
    });
    let resp = conn.send(get(), &pool).await.expect("response");
    let mut body = resp.into_body();
    let first = body.frame().await.expect("frame").expect("ok");
    assert_eq!(first.into_data().expect("data"), "hel");
    assert!(
        pool.take_idle().is_none(),
        "not pooled while the body is read"
    );
    step_tx.send(()).expect("step");
    let mut data = Vec::new();
    let mut trailers = None;
    while let Some(frame) = body.frame().await {
        match frame.expect("ok").into_data() {
            Ok(d) => data.extend_from_slice(&d),
            Err(f) => trailers = f.into_trailers().ok(),
        }
    }
    assert_eq!(data, b"lo world");
    assert_eq!(trailers.expect("trailers")["grpc-status"], "0");
    let _server = served.await.expect("server");
    assert!(pool.take_idle().is_some());
}

#[tokio::test(flavor = "current_thread")]
async fn a_request_body_still_streaming_keeps_flowing_while_the_response_is_read() {
    let (conn, _writes, mut server) = pair();
    let pool = pool();
    let (feed, fed) = mpsc::unbounded_channel();
    feed.send(Bytes::from_static(b"ping-1")).expect("feed");
    // The server answers as soon as it has the head, then echoes each chunk it reads.
    let served = tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        let mut seen = Vec::new();
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = server.read(&mut buf).await.expect("read");
            seen.extend_from_slice(&buf[..n]);
        }
        let head = String::from_utf8_lossy(&seen).to_string();
        server
            .write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
            .await
            .expect("respond");
        let mut chunked =
            seen[seen.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0) + 4..].to_vec();
        loop {
            // Each read of the client's chunked bytes comes back as one chunk's content.
            let echo = std::mem::take(&mut chunked);
            if !echo.is_empty() {
                let mut framed = format!("{:x}\r\n", echo.len()).into_bytes();
                framed.extend_from_slice(&echo);
                framed.extend_from_slice(b"\r\n");
                server.write_all(&framed).await.expect("echo");
            }
            if echo.ends_with(b"0\r\n\r\n") {
                server.write_all(b"0\r\n\r\n").await.expect("end");
                break;
            }
            let n = server.read(&mut buf).await.expect("read");
            if n == 0 {
                break;
            }
            chunked.extend_from_slice(&buf[..n]);
        }
        // The server's end stays open: the connection is reusable.
        (head, server)
    });
    let resp = conn
        .send(post(Fed(fed).boxed()), &pool)
        .await
        .expect("response");
    let mut body = resp.into_body();
    feed.send(Bytes::from_static(b"ping-2")).expect("feed");
    drop(feed);
    let mut echoed = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(d) = frame.expect("ok").into_data() {
            echoed.extend_from_slice(&d);
        }
    }
    let (head, _server) = served.await.expect("server");
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    let echoed = String::from_utf8_lossy(&echoed);
    assert!(
        echoed.contains("ping-1") && echoed.contains("ping-2"),
        "{echoed}"
    );
    assert!(
        pool.take_idle().is_some(),
        "request and response both complete: pooled"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_connection_the_server_closed_is_not_reused() {
    let (conn, _writes, server) = pair();
    let pool = pool();
    // The server answers, then its keep-alive timeout closes the connection.
    let served = answer_and_close(server, &[b"HTTP/1.1 204 No Content\r\n\r\n"]);
    let resp = conn.send(get(), &pool).await.expect("response");
    assert_eq!(resp.status(), 204);
    served.await.expect("server");
    assert!(
        pool.take_idle().is_none(),
        "closed by the server while idle: dropped, not handed out"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn closed_before_responding_is_stale_and_a_body_until_close_is_not_pooled() {
    let (conn, _writes, server) = pair();
    let pool = pool();
    let served = answer_and_close(server, &[]);
    let err = conn.send(get(), &pool).await.expect_err("no response");
    served.await.expect("server");
    assert!(
        err.stale,
        "nothing of a response came: the request may be replayed"
    );
    assert_eq!(
        err.error.flag(),
        crate::flags::ResponseFlag::UpstreamConnectionTermination
    );

    let (conn, _writes, server) = pair();
    let served = answer_and_close(server, &[b"HTTP/1.1 200 OK\r\n\r\nuntil ", b"close"]);
    let resp = conn.send(get(), &pool).await.expect("response");
    assert_eq!(body_text(resp).await, "until close");
    served.await.expect("server");
    assert!(pool.take_idle().is_none());
}

#[tokio::test(flavor = "current_thread")]
async fn a_body_cut_short_is_an_error_not_a_shorter_body() {
    let (conn, _writes, server) = pair();
    let pool = pool();
    let served = answer_and_close(
        server,
        &[b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc"],
    );
    let resp = conn.send(get(), &pool).await.expect("response");
    served.await.expect("server");
    assert!(resp.into_body().collect().await.is_err());
    assert!(pool.take_idle().is_none());
}

#[tokio::test(flavor = "current_thread")]
async fn an_early_answer_to_an_unfinished_upload_is_passed_on_and_the_connection_dropped() {
    let (conn, _writes, mut server) = pair();
    let pool = pool();
    let (feed, fed) = mpsc::unbounded_channel();
    feed.send(Bytes::from_static(b"part")).expect("feed");
    let served = tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        let _ = server.read(&mut buf).await.expect("read");
        server
            .write_all(
                b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            )
            .await
            .expect("respond");
        drop(server);
    });
    let resp = conn
        .send(post(Fed(fed).boxed()), &pool)
        .await
        .expect("response");
    assert_eq!(resp.status(), 413);
    served.await.expect("server");
    drop(feed);
    assert!(pool.take_idle().is_none());
}
