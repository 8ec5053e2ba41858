//! One config stream: connect, hello (naming the resources held), then receive responses and
//! answer each until the stream ends.

use super::delta::{self, Versions};
use super::{ClientStatus, ConfigClientOptions, Update};
use crate::config::v1::config_request::Kind;
use crate::config::v1::config_service_client::ConfigServiceClient;
use crate::config::v1::{Ack, ConfigRequest, ConfigResponse, Hello, Nack, ResourceVersion};
use crate::connect::{self, ChannelOptions};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use verimesh_model::ProxyConfig;

/// What one stream needs; shared by every reconnection.
pub(super) struct Context {
    pub(super) opts: ConfigClientOptions,
    pub(super) tls: Arc<rustls::ClientConfig>,
    pub(super) config: watch::Sender<Option<Arc<ProxyConfig>>>,
    pub(super) status: watch::Sender<ClientStatus>,
    /// The resources the config in force was assembled from (empty for a config booted from
    /// a file): the basis of the next delta, and what a new stream's hello reports. Written
    /// only by the stream task, together with `config`.
    pub(super) held: Mutex<Versions>,
}

/// Why a stream ended.
#[derive(Debug, thiserror::Error)]
pub(super) enum StreamEnded {
    #[error("cannot connect: {0}")]
    Connect(#[from] tonic::transport::Error),
    #[error("the control plane refused the stream: {} ({:?})", .0.message(), .0.code())]
    Refused(Box<tonic::Status>),
    #[error("the stream failed: {} ({:?})", .0.message(), .0.code())]
    Failed(Box<tonic::Status>),
    #[error("the control plane closed the stream")]
    Closed,
}

/// Runs one stream until it ends; sets `received` once a config has arrived.
pub(super) async fn run_once(ctx: &Context, received: &mut bool) -> StreamEnded {
    match stream(ctx, received).await {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

async fn stream(
    ctx: &Context,
    received: &mut bool,
) -> Result<std::convert::Infallible, StreamEnded> {
    let opts = &ctx.opts;
    let channel = connect::channel(
        opts.addr,
        ctx.tls.clone(),
        ChannelOptions {
            connect_timeout: opts.connect_timeout,
            request_timeout: None,
            keepalive: Some(opts.keepalive),
        },
    )
    .await?;
    let mut client =
        ConfigServiceClient::new(channel).max_decoding_message_size(opts.max_config_bytes);
    // Answers go out through this channel; a few slots are plenty, one answer per config.
    let (answers, outgoing) = mpsc::channel(4);
    let running_version = running_version(ctx);
    let resources = ctx
        .held
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(name, version)| ResourceVersion {
            name: name.clone(),
            version: version.clone(),
        })
        .collect();
    let hello = ConfigRequest {
        kind: Some(Kind::Hello(Hello {
            name: opts.name.clone(),
            namespace: opts.namespace.clone(),
            running_version,
            resources,
        })),
    };
    answers.send(hello).await.map_err(|_| StreamEnded::Closed)?;
    let mut incoming = client
        .stream(ReceiverStream::new(outgoing))
        .await
        .map_err(|s| StreamEnded::Refused(Box::new(s)))?
        .into_inner();
    ctx.status.send_modify(|s| {
        s.connected = true;
        s.streams += 1;
    });
    tracing::info!(control = %opts.addr, proxy = %format!("{}/{}", opts.namespace, opts.name), "config stream open");
    loop {
        let response = incoming
            .message()
            .await
            .map_err(|s| StreamEnded::Failed(Box::new(s)))?
            .ok_or(StreamEnded::Closed)?;
        *received = true;
        let answer = apply(ctx, response);
        answers
            .send(answer)
            .await
            .map_err(|_| StreamEnded::Closed)?;
    }
}

fn running_version(ctx: &Context) -> String {
    ctx.config
        .borrow()
        .as_ref()
        .map(|c| c.version.clone())
        .unwrap_or_default()
}

/// Applies a response to the config in force and, if the result is good (to the client's
/// checks, then to the proxy's own), puts it in force; returns the ACK or NACK.
fn apply(ctx: &Context, response: ConfigResponse) -> ConfigRequest {
    let current = ctx.config.borrow().clone();
    let mut held = ctx.held.lock().unwrap_or_else(|e| e.into_inner());
    let update = Update::of(&response);
    let applied = delta::apply(current.as_deref(), &held, &response);
    ctx.status.send_modify(|s| s.last_update = Some(update));
    let applied = match applied {
        Ok(applied) => applied,
        Err(refusal) => return nack(ctx, &response, current.as_deref(), refusal.to_string()),
    };
    // A delta with nothing in it (a reconnect to a control plane with the same config)
    // changes nothing; a whole config equal to the one in force neither. A delta with
    // something in it is a change: comparing a large config whole costs more than waking
    // the receivers.
    let unchanged = if response.full {
        current.as_deref() == Some(&applied.config)
    } else {
        response.resources.is_empty() && response.removed.is_empty()
    };
    if !unchanged {
        if let Some(check) = &ctx.opts.check {
            if let Err(error) = check.run(&applied.config) {
                return nack(ctx, &response, current.as_deref(), error);
            }
        }
    }
    let version = applied.config.version.clone();
    if !unchanged {
        ctx.config.send_replace(Some(Arc::new(applied.config)));
    }
    applied.versions.commit(&mut held);
    ctx.status.send_modify(|s| s.accepted += 1);
    tracing::debug!(%version, full = response.full, resources = response.resources.len(),
        removed = response.removed.len(), "config accepted");
    ConfigRequest {
        kind: Some(Kind::Ack(Ack {
            version,
            nonce: response.nonce,
        })),
    }
}

/// Refuses a response: the config in force stays, and the control plane hears why.
fn nack(
    ctx: &Context,
    response: &ConfigResponse,
    current: Option<&ProxyConfig>,
    error: String,
) -> ConfigRequest {
    tracing::warn!(version = %response.version, full = response.full, %error,
        "config refused; keeping the last good one");
    ctx.status
        .send_modify(|s| s.last_nack = Some(error.clone()));
    ConfigRequest {
        kind: Some(Kind::Nack(Nack {
            nonce: response.nonce.clone(),
            error,
            running_version: current.map(|c| c.version.clone()).unwrap_or_default(),
        })),
    }
}
