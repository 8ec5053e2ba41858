//! Calls from one bookinfo service to another, carrying the headers Istio's samples propagate
//! (user identity for routing rules, request id and trace context).

use bytes::Bytes;
use http::{HeaderMap, Request};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

const PROPAGATED: &[&str] = &[
    "end-user",
    "cookie",
    "user-agent",
    "x-request-id",
    "traceparent",
    "tracestate",
    "b3",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-flags",
];

/// How long a call to another service may take before it counts as failed.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct Caller {
    client: Client<HttpConnector, Empty<Bytes>>,
}

/// What a call returned: its status and JSON body, or why it failed.
pub enum Answer {
    Ok(u16, serde_json::Value),
    Failed(String),
}

impl Caller {
    pub fn new() -> Self {
        Caller {
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    pub async fn get(&self, authority: &str, path: &str, incoming: &HeaderMap) -> Answer {
        let uri = format!("http://{authority}{path}");
        let mut builder = Request::get(&uri);
        for name in PROPAGATED {
            for v in incoming.get_all(*name) {
                builder = builder.header(*name, v);
            }
        }
        let req = match builder.body(Empty::new()) {
            Ok(r) => r,
            Err(e) => return Answer::Failed(format!("bad request to {uri}: {e}")),
        };
        let call = async {
            let resp = self.client.request(req).await.map_err(|e| e.to_string())?;
            let status = resp.status().as_u16();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            let json = serde_json::from_slice(&body).unwrap_or_else(|_| {
                serde_json::Value::from(String::from_utf8_lossy(&body).into_owned())
            });
            Ok::<_, String>((status, json))
        };
        match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Ok(Ok((status, json))) => Answer::Ok(status, json),
            Ok(Err(e)) => Answer::Failed(format!("{uri}: {e}")),
            Err(_) => Answer::Failed(format!("{uri}: no answer within {CALL_TIMEOUT:?}")),
        }
    }
}
