//! The connection's clocks: keepalive PINGs, which find a peer that went away without a word
//! (a host lost, a path cut: nothing resets the TCP connection, and requests sent on it would
//! wait for their timeouts), the idle close of a connection without streams, and a client
//! connection's maximum age.
//!
//! All run from the task that drives the connection, once per period rather than per
//! frame: what a read or a finished stream leaves behind is a flag or an instant, read here.

use crate::conn::Inner;
use crate::error::{Error, Initiator, Reason};
use crate::frame;
use std::future::Future;
use std::pin::Pin;
use std::task::Context;
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// HTTP/2 keepalive: a PING once nothing has been read for `interval`; the connection fails
/// when nothing (the PING's ACK or anything else) has been read `timeout` after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Keepalive {
    pub interval: Duration,
    pub timeout: Duration,
}

/// What the PINGs carry; the ACK is not matched against it, since any byte from the peer
/// proves it is there.
const PING_PAYLOAD: [u8; 8] = *b"verimesh";

pub(crate) struct Timers {
    keepalive: Option<(Keepalive, Pin<Box<Sleep>>)>,
    /// A PING is out and nothing has been read since.
    awaiting_ack: bool,
    idle: Option<(Duration, Pin<Box<Sleep>>)>,
    /// When a client connection stops taking streams; fires once.
    age: Option<(Duration, Pin<Box<Sleep>>)>,
}

impl Timers {
    pub fn new(
        keepalive: Option<Keepalive>,
        idle_timeout: Option<Duration>,
        max_age: Option<Duration>,
    ) -> Timers {
        let now = Instant::now();
        let clock = |d: Duration| (d, Box::pin(tokio::time::sleep_until(now + d)));
        Timers {
            keepalive: keepalive.map(|k| (k, Box::pin(tokio::time::sleep_until(now + k.interval)))),
            awaiting_ack: false,
            idle: idle_timeout.map(clock),
            age: max_age.map(clock),
        }
    }

    /// Acts on the clocks that have run out: a PING queued (the driver writes it), or the
    /// connection failed for a silent peer or ended for idleness. Registers `cx` for the
    /// next one.
    pub fn poll(&mut self, inner: &mut Inner, cx: &mut Context<'_>) {
        if inner.error.is_some() {
            return;
        }
        if let Some(error) = self.poll_keepalive(inner, cx) {
            inner.fail(error);
            return;
        }
        self.poll_age(inner, cx);
        self.poll_idle(inner, cx);
    }

    /// At its maximum age the connection drains: GOAWAY (no push was ever allowed, so no
    /// stream of the peer's is cut), no new stream, and an end when the last one is done.
    fn poll_age(&mut self, inner: &mut Inner, cx: &mut Context<'_>) {
        let Some((limit, sleep)) = self.age.as_mut() else {
            return;
        };
        if sleep.as_mut().poll(cx).is_pending() {
            return;
        }
        tracing::debug!("HTTP/2 connection {limit:?} old: draining");
        frame::put_goaway(
            &mut inner.out,
            inner.last_peer_id,
            Reason::NO_ERROR,
            b"max connection duration",
        );
        inner.draining = true;
        self.age = None;
    }

    fn poll_keepalive(&mut self, inner: &mut Inner, cx: &mut Context<'_>) -> Option<Error> {
        let (k, sleep) = self.keepalive.as_mut()?;
        while sleep.as_mut().poll(cx).is_ready() {
            let now = Instant::now();
            if std::mem::take(&mut inner.heard) {
                self.awaiting_ack = false;
                sleep.as_mut().reset(now + k.interval);
            } else if self.awaiting_ack {
                tracing::debug!("HTTP/2 peer silent for {:?} after a PING", k.timeout);
                return Some(Error::KeepaliveTimeout(k.timeout));
            } else {
                frame::put_ping(&mut inner.out, PING_PAYLOAD, false);
                self.awaiting_ack = true;
                sleep.as_mut().reset(now + k.timeout);
            }
        }
        None
    }

    fn poll_idle(&mut self, inner: &mut Inner, cx: &mut Context<'_>) {
        let Some((limit, sleep)) = self.idle.as_mut() else {
            return;
        };
        while sleep.as_mut().poll(cx).is_ready() {
            let now = Instant::now();
            let deadline = match inner.idle_since {
                Some(since) if inner.streams.is_empty() => since + *limit,
                _ => now + *limit,
            };
            if deadline > now {
                sleep.as_mut().reset(deadline);
                continue;
            }
            // Nothing in flight, so nothing is lost: say so and end.
            frame::put_goaway(
                &mut inner.out,
                inner.last_peer_id,
                Reason::NO_ERROR,
                b"idle",
            );
            inner.fail(Error::GoAway {
                reason: Reason::NO_ERROR,
                initiator: Initiator::Local,
                detail: format!("idle for {limit:?}"),
            });
            let _ = inner.flush(cx);
            return;
        }
    }
}
