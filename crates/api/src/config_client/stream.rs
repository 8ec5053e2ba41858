//! One config stream: connect, hello, then receive configs and answer each until the stream
//! ends.

use super::{ClientStatus, ConfigClientOptions};
use crate::config::v1::config_request::Kind;
use crate::config::v1::config_service_client::ConfigServiceClient;
use crate::config::v1::{Ack, ConfigRequest, ConfigResponse, Hello, Nack};
use crate::connect::{self, ChannelOptions};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use verimesh_model::{ModelError, ProxyConfig};

/// What one stream needs; shared by every reconnection.
pub(super) struct Context {
    pub(super) opts: ConfigClientOptions,
    pub(super) tls: Arc<rustls::ClientConfig>,
    pub(super) config: watch::Sender<Option<Arc<ProxyConfig>>>,
    pub(super) status: watch::Sender<ClientStatus>,
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

/// Why a received config was refused.
#[derive(Debug, thiserror::Error)]
enum Refusal {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("the response is for version {response:?} but the config says {config:?}")]
    VersionMismatch { response: String, config: String },
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
    let hello = ConfigRequest {
        kind: Some(Kind::Hello(Hello {
            name: opts.name.clone(),
            namespace: opts.namespace.clone(),
            running_version,
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

/// Checks a received config and, if it is good, puts it in force; returns the ACK or NACK.
fn apply(ctx: &Context, response: ConfigResponse) -> ConfigRequest {
    match decode(&response) {
        Ok(config) => {
            let version = config.version.clone();
            // The same config again (a new stream after a reconnect) wakes no one.
            ctx.config.send_if_modified(|current| {
                if current.as_deref() == Some(&config) {
                    return false;
                }
                *current = Some(Arc::new(config));
                true
            });
            ctx.status.send_modify(|s| s.accepted += 1);
            tracing::debug!(%version, "config accepted");
            ConfigRequest {
                kind: Some(Kind::Ack(Ack {
                    version,
                    nonce: response.nonce,
                })),
            }
        }
        Err(refusal) => {
            let error = refusal.to_string();
            tracing::warn!(version = %response.version, %error, "config refused; keeping the last good one");
            ctx.status
                .send_modify(|s| s.last_nack = Some(error.clone()));
            ConfigRequest {
                kind: Some(Kind::Nack(Nack {
                    nonce: response.nonce,
                    error,
                    running_version: running_version(ctx),
                })),
            }
        }
    }
}

fn decode(response: &ConfigResponse) -> Result<ProxyConfig, Refusal> {
    let config: ProxyConfig = serde_json::from_slice(&response.config_json)
        .map_err(|e| ModelError::Parse(e.to_string()))?;
    if config.version != response.version {
        return Err(Refusal::VersionMismatch {
            response: response.version.clone(),
            config: config.version,
        });
    }
    config.validate()?;
    Ok(config)
}
