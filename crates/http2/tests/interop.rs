//! verimesh-http2 against the `h2` crate (the HTTP/2 of hyper, and so of most Rust
//! clients and servers) in both roles, and against itself, over in-memory pipes.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use std::future::poll_fn;
use std::time::Duration;
use verimesh_http2 as vh2;

const LIMIT: Duration = Duration::from_secs(10);

fn big(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect::<Vec<u8>>()
        .into()
}

async fn read_all(body: &mut vh2::RecvStream) -> Result<Bytes, vh2::Error> {
    let mut out = Vec::new();
    while let Some(chunk) = poll_fn(|cx| body.poll_data(cx)).await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out.into())
}

async fn h2_read_all(body: &mut h2::RecvStream) -> Bytes {
    let mut out = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.expect("h2 body");
        let _ = body.flow_control().release_capacity(chunk.len());
        out.extend_from_slice(&chunk);
    }
    out.into()
}

/// Sends `data` on an `h2` stream as its flow control allows; with `end`, the last chunk
/// ends the stream.
async fn h2_send_all(
    send: &mut h2::SendStream<Bytes>,
    data: Bytes,
    end: bool,
) -> Result<(), h2::Error> {
    send.reserve_capacity(data.len());
    let nothing = data.is_empty();
    let mut rest = data;
    while !rest.is_empty() {
        let cap = match poll_fn(|cx| send.poll_capacity(cx)).await {
            Some(cap) => cap?,
            None => return Err(h2::Error::from(h2::Reason::STREAM_CLOSED)),
        };
        let chunk = rest.split_to(cap.min(rest.len()));
        send.send_data(chunk, end && rest.is_empty())?;
    }
    if end && nothing {
        send.send_data(Bytes::new(), true)?;
    }
    Ok(())
}

/// Waits for every spawned request task, failing the test after `LIMIT`.
async fn all_in_time(tasks: Vec<tokio::task::JoinHandle<()>>) {
    tokio::time::timeout(LIMIT, async {
        for t in tasks {
            t.await.expect("request task");
        }
    })
    .await
    .expect("all requests answered in time");
}

/// Sends `data` on a verimesh stream as flow control allows.
async fn send_all(send: &mut vh2::SendStream, data: Bytes, end: bool) -> Result<(), vh2::Error> {
    let mut rest = data;
    loop {
        poll_fn(|cx| send.poll_ready(cx)).await?;
        let chunk = rest.split_to(rest.len().min(16 << 10));
        let last = rest.is_empty();
        send.send_data(chunk, end && last)?;
        if last {
            return Ok(());
        }
    }
}

/// A verimesh client over a pipe to an `h2` server answering with `serve`.
async fn client_to_h2<F, Fut>(serve: F) -> vh2::Client
where
    F: Fn(Request<h2::RecvStream>, h2::server::SendResponse<Bytes>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (a, b) = tokio::io::duplex(64 << 10);
    tokio::spawn(async move {
        let mut conn = h2::server::handshake(b).await.expect("h2 server handshake");
        while let Some(Ok((req, respond))) = conn.accept().await {
            tokio::spawn(serve(req, respond));
        }
    });
    let (client, connection) = vh2::client_handshake(a, vh2::Config::default());
    tokio::spawn(connection);
    client
}

async fn echo_h2(req: Request<h2::RecvStream>, mut respond: h2::server::SendResponse<Bytes>) {
    let (head, mut body) = req.into_parts();
    let data = h2_read_all(&mut body).await;
    let trailers = body.trailers().await.expect("trailers");
    let mut resp = Response::new(());
    resp.headers_mut().insert(
        "x-path",
        HeaderValue::from_str(head.uri.path()).expect("path"),
    );
    let mut send = respond.send_response(resp, false).expect("respond");
    h2_send_all(&mut send, data, false).await.expect("data");
    let mut t = trailers.unwrap_or_default();
    t.insert("x-echoed", HeaderValue::from_static("yes"));
    send.send_trailers(t).expect("trailers");
}

#[tokio::test]
async fn requests_to_an_h2_server_carry_bodies_both_ways_past_the_default_windows() {
    let client = client_to_h2(echo_h2).await;
    let mut tasks = Vec::new();
    for i in 0..16u8 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let body = big(100_000 + usize::from(i) * 1000, i);
            let req = Request::post(format!("http://echo.test/item/{i}"))
                .body(())
                .expect("request");
            let (response, mut send) = client.send_request(req, false).await.expect("send");
            let sending = {
                let body = body.clone();
                async move {
                    send_all(&mut send, body, false).await.expect("body");
                    let mut t = HeaderMap::new();
                    t.insert("grpc-status", HeaderValue::from_static("0"));
                    send.send_trailers(t).expect("trailers");
                }
            };
            let receiving = async {
                let resp = response.await.expect("response");
                assert_eq!(resp.status(), StatusCode::OK);
                assert_eq!(resp.headers()["x-path"], format!("/item/{i}").as_str());
                let mut recv = resp.into_body();
                let got = read_all(&mut recv).await.expect("response body");
                let trailers = poll_fn(|cx| recv.poll_trailers(cx))
                    .await
                    .expect("trailers")
                    .expect("some trailers");
                (got, trailers)
            };
            let ((), (got, trailers)) = tokio::join!(sending, receiving);
            assert_eq!(got, body, "request {i}");
            assert_eq!(trailers["grpc-status"], "0");
            assert_eq!(trailers["x-echoed"], "yes");
        }));
    }
    all_in_time(tasks).await;
}

#[tokio::test]
async fn a_stream_reset_by_an_h2_server_fails_only_its_request() {
    let client = client_to_h2(|req, mut respond| async move {
        if req.uri().path() == "/reset" {
            respond.send_reset(h2::Reason::INTERNAL_ERROR);
        } else {
            respond
                .send_response(Response::new(()), true)
                .expect("respond");
        }
    })
    .await;
    let get = |path: &'static str| {
        let client = client.clone();
        async move {
            let req = Request::get(format!("http://x.test{path}"))
                .body(())
                .expect("request");
            let (response, _send) = client.send_request(req, true).await?;
            response.await.map(|r| r.status())
        }
    };
    let reset = tokio::time::timeout(LIMIT, get("/reset"))
        .await
        .expect("in time");
    match reset {
        Err(vh2::Error::Reset { reason, initiator }) => {
            assert_eq!(reason, vh2::Reason::INTERNAL_ERROR);
            assert_eq!(initiator, vh2::Initiator::Remote);
        }
        other => panic!("expected a reset, got {other:?}"),
    }
    let ok = tokio::time::timeout(LIMIT, get("/fine"))
        .await
        .expect("in time");
    assert_eq!(ok.expect("second request"), StatusCode::OK);
    assert!(!client.is_closed());
}

#[tokio::test]
async fn a_server_that_goes_away_closes_the_client_and_fails_what_it_did_not_take() {
    let (a, b) = tokio::io::duplex(64 << 10);
    let server = tokio::spawn(async move {
        let mut conn = h2::server::handshake(b).await.expect("handshake");
        let (_req, mut respond) = conn.accept().await.expect("a request").expect("ok");
        respond
            .send_response(Response::new(()), true)
            .expect("respond");
        conn.graceful_shutdown();
        while conn.accept().await.is_some() {}
    });
    let (client, connection) = vh2::client_handshake(a, vh2::Config::default());
    let driver = tokio::spawn(connection);
    let req = Request::get("http://x.test/").body(()).expect("request");
    let (response, _send) = client.send_request(req, true).await.expect("send");
    let resp = tokio::time::timeout(LIMIT, response)
        .await
        .expect("in time");
    assert_eq!(resp.expect("response").status(), StatusCode::OK);
    tokio::time::timeout(LIMIT, async {
        while !client.is_closed() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the client learns of the GOAWAY");
    let req = Request::get("http://x.test/").body(()).expect("request");
    assert!(client.send_request(req, true).await.is_err());
    server.await.expect("server");
    drop(client);
    let ended = tokio::time::timeout(LIMIT, driver)
        .await
        .expect("driver ends");
    assert!(ended.is_ok());
}

/// An `h2` client over a pipe to a verimesh server whose requests come out of the channel.
async fn h2_to_server(
    config: vh2::Config,
) -> (
    h2::client::SendRequest<Bytes>,
    tokio::sync::mpsc::UnboundedReceiver<(Request<vh2::RecvStream>, vh2::SendResponse)>,
) {
    let (a, b) = tokio::io::duplex(64 << 10);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut server = vh2::server_handshake(b, config);
        while let Some(Ok(exchange)) = poll_fn(|cx| server.poll_accept(cx)).await {
            if tx.send(exchange).is_err() {
                break;
            }
        }
        let _ = poll_fn(|cx| server.poll_closed(cx)).await;
    });
    let (sender, conn) = h2::client::handshake(a).await.expect("h2 client handshake");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    (sender, rx)
}

#[tokio::test]
async fn an_h2_client_is_served_with_large_bodies_and_trailers() {
    let (sender, mut requests) = h2_to_server(vh2::Config::default()).await;
    tokio::spawn(async move {
        while let Some((req, mut respond)) = requests.recv().await {
            tokio::spawn(async move {
                let (head, mut body) = req.into_parts();
                let data = read_all(&mut body).await.expect("request body");
                let trailers = poll_fn(|cx| body.poll_trailers(cx))
                    .await
                    .expect("trailers");
                let mut resp = Response::new(());
                resp.headers_mut().insert(
                    "x-len",
                    HeaderValue::from_str(&data.len().to_string()).expect("len"),
                );
                resp.headers_mut().insert(
                    "x-authority",
                    HeaderValue::from_str(head.uri.authority().map_or("", |a| a.as_str()))
                        .expect("authority"),
                );
                let mut send = respond.send_response(resp, false).expect("respond");
                send_all(&mut send, data, false)
                    .await
                    .expect("response body");
                send.send_trailers(trailers.unwrap_or_default())
                    .expect("trailers");
            });
        }
    });
    let mut tasks = Vec::new();
    for i in 0..8u8 {
        let sender = sender.clone();
        tasks.push(tokio::spawn(async move {
            let body = big(300_000, i);
            let mut ready = sender.ready().await.expect("ready");
            let req = Request::post("https://svc.test:8443/upload")
                .body(())
                .expect("request");
            let (response, mut send) = ready.send_request(req, false).expect("send");
            h2_send_all(&mut send, body.clone(), false)
                .await
                .expect("data");
            let mut t = HeaderMap::new();
            t.insert("x-checksum", HeaderValue::from_static("abc"));
            send.send_trailers(t).expect("trailers");
            let resp = response.await.expect("response");
            assert_eq!(resp.headers()["x-len"], "300000");
            assert_eq!(resp.headers()["x-authority"], "svc.test:8443");
            let mut recv = resp.into_body();
            let got = h2_read_all(&mut recv).await;
            assert_eq!(got, body);
            let trailers = recv.trailers().await.expect("trailers").expect("some");
            assert_eq!(trailers["x-checksum"], "abc");
        }));
    }
    all_in_time(tasks).await;
}

#[tokio::test]
async fn a_client_reset_reaches_the_handler_and_the_connection_goes_on() {
    let (sender, mut requests) = h2_to_server(vh2::Config::default()).await;
    let mut ready = sender.clone().ready().await.expect("ready");
    let req = Request::get("http://svc.test/slow")
        .body(())
        .expect("request");
    let (_response, mut send) = ready.send_request(req, true).expect("send");
    let (_req, mut respond) = tokio::time::timeout(LIMIT, requests.recv())
        .await
        .expect("in time")
        .expect("request");
    send.send_reset(h2::Reason::CANCEL);
    let reason = tokio::time::timeout(LIMIT, poll_fn(|cx| respond.poll_reset(cx)))
        .await
        .expect("in time")
        .expect("reset seen");
    assert_eq!(reason, vh2::Reason::CANCEL);
    let mut ready = sender.ready().await.expect("ready");
    let req = Request::get("http://svc.test/next")
        .body(())
        .expect("request");
    let (response, _send) = ready.send_request(req, true).expect("send");
    let (_req, mut respond) = requests.recv().await.expect("second request");
    respond
        .send_response(Response::new(()), true)
        .expect("respond");
    let resp = tokio::time::timeout(LIMIT, response)
        .await
        .expect("in time");
    assert_eq!(resp.expect("response").status(), StatusCode::OK);
}

#[tokio::test]
async fn the_advertised_stream_limit_holds_back_a_third_stream() {
    let config = vh2::Config {
        max_concurrent_streams: 2,
        ..vh2::Config::default()
    };
    let (sender, mut requests) = h2_to_server(config).await;
    // h2 honors the advertised limit by queuing; the third waits until one finishes.
    let mut pending = Vec::new();
    for i in 0..3 {
        let sender = sender.clone();
        pending.push(tokio::spawn(async move {
            let mut ready = sender.ready().await.expect("ready");
            let req = Request::get(format!("http://svc.test/{i}"))
                .body(())
                .expect("request");
            let (response, _send) = ready.send_request(req, true).expect("send");
            response.await.map(|r| r.status())
        }));
    }
    let first = tokio::time::timeout(LIMIT, requests.recv())
        .await
        .expect("in time")
        .expect("first");
    let second = requests.recv().await.expect("second");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(requests.try_recv().is_err(), "a third stream was let in");
    for (_req, mut respond) in [first, second] {
        respond
            .send_response(Response::new(()), true)
            .expect("respond");
    }
    let (_req, mut third) = tokio::time::timeout(LIMIT, requests.recv())
        .await
        .expect("in time")
        .expect("third");
    third
        .send_response(Response::new(()), true)
        .expect("respond");
    for p in pending {
        let status = tokio::time::timeout(LIMIT, p).await.expect("in time");
        assert_eq!(status.expect("task").expect("response"), StatusCode::OK);
    }
}

#[tokio::test]
async fn verimesh_to_verimesh_many_requests_over_one_connection() {
    let (a, b) = tokio::io::duplex(64 << 10);
    let config = vh2::Config {
        stream_window: 1 << 20,
        connection_window: 4 << 20,
        max_concurrent_streams: 1024,
        max_header_list_size: 16 << 10,
        ..vh2::Config::default()
    };
    let server_config = config.clone();
    tokio::spawn(async move {
        let mut server = vh2::server_handshake(b, server_config);
        while let Some(Ok((req, mut respond))) = poll_fn(|cx| server.poll_accept(cx)).await {
            tokio::spawn(async move {
                let (head, mut body) = req.into_parts();
                let data = read_all(&mut body).await.expect("body");
                let mut resp = Response::new(());
                resp.headers_mut().insert(
                    "x-path",
                    HeaderValue::from_str(head.uri.path()).expect("path"),
                );
                if data.is_empty() {
                    let _ = respond.send_response(resp, true);
                } else {
                    let mut send = respond.send_response(resp, false).expect("respond");
                    send_all(&mut send, data, true).await.expect("echo");
                }
            });
        }
    });
    let (client, connection) = vh2::client_handshake(a, config);
    tokio::spawn(connection);
    let mut tasks = Vec::new();
    for i in 0..200usize {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let len = (i * 7919) % 70_000;
            let body = big(len, i as u8);
            let req = Request::post(format!("http://svc.test/r/{i}"))
                .body(())
                .expect("request");
            let (response, mut send) = client
                .send_request(req, body.is_empty())
                .await
                .expect("send");
            if !body.is_empty() {
                send_all(&mut send, body.clone(), true).await.expect("body");
            }
            let resp = response.await.expect("response");
            assert_eq!(resp.headers()["x-path"], format!("/r/{i}").as_str());
            let got = read_all(&mut resp.into_body()).await.expect("echo");
            assert_eq!(got, body, "request {i}");
        }));
    }
    all_in_time(tasks).await;
}

#[tokio::test]
async fn a_whole_response_stays_readable_when_the_server_resets_the_unfinished_request() {
    // The server answers without reading the request and drops the stream, which resets
    // the rest of the request (NO_ERROR) right after the response's last frame.
    let client = client_to_h2(|_req, mut respond| async move {
        let mut send = respond
            .send_response(Response::new(()), false)
            .expect("respond");
        send.send_data(Bytes::from_static(b"the whole answer"), false)
            .expect("data");
        let mut t = HeaderMap::new();
        t.insert("grpc-status", HeaderValue::from_static("0"));
        send.send_trailers(t).expect("trailers");
    })
    .await;
    let req = Request::post("http://x.test/call")
        .body(())
        .expect("request");
    let (response, mut send) = client.send_request(req, false).await.expect("send");
    send.send_data(Bytes::from_static(b"part of a request"), false)
        .expect("data");
    let resp = tokio::time::timeout(LIMIT, response)
        .await
        .expect("in time")
        .expect("response");
    let mut body = resp.into_body();
    // Let the reset arrive before the body is read.
    let reset = tokio::time::timeout(LIMIT, poll_fn(|cx| send.poll_reset(cx)))
        .await
        .expect("in time");
    assert_eq!(reset.expect("a reset"), vh2::Reason::NO_ERROR);
    let data = read_all(&mut body).await.expect("the body");
    assert_eq!(data, "the whole answer");
    let trailers = poll_fn(|cx| body.poll_trailers(cx))
        .await
        .expect("trailers")
        .expect("some");
    assert_eq!(trailers["grpc-status"], "0");
}

#[tokio::test]
async fn a_body_nobody_reads_does_not_stall_the_connection() {
    // The first response is larger than the client's whole connection window (65,535 at
    // the default config). Its reader goes away unread; the second response on the same
    // connection must still get through.
    let client = client_to_h2(|req, mut respond| async move {
        let body = if req.uri().path() == "/big" {
            big(200_000, 7)
        } else {
            Bytes::from_static(b"small")
        };
        let mut send = respond
            .send_response(Response::new(()), false)
            .expect("respond");
        // The unread response's stream may be reset meanwhile; that ends it here.
        let _ = h2_send_all(&mut send, body, true).await;
    })
    .await;
    let req = Request::post("http://x.test/big")
        .body(())
        .expect("request");
    // The request stays open (its sender is kept), so the stream lives on without a reader.
    let (response, _still_sending) = client.send_request(req, false).await.expect("send");
    let resp = tokio::time::timeout(LIMIT, response)
        .await
        .expect("in time")
        .expect("response");
    drop(resp);
    let req = Request::get("http://x.test/small")
        .body(())
        .expect("request");
    let (response, _send) = client.send_request(req, true).await.expect("send");
    let got = tokio::time::timeout(LIMIT, async {
        let mut body = response.await.expect("response").into_body();
        read_all(&mut body).await.expect("body")
    })
    .await
    .expect("the second response is not stalled behind the unread one");
    assert_eq!(got, "small");
}
