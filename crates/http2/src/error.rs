//! Error codes (RFC 9113 section 7) and the errors the connection reports to its users.

use std::fmt;
use std::sync::Arc;

/// An HTTP/2 error code, as carried by RST_STREAM and GOAWAY.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Reason(pub u32);

impl Reason {
    pub const NO_ERROR: Reason = Reason(0x0);
    pub const PROTOCOL_ERROR: Reason = Reason(0x1);
    pub const INTERNAL_ERROR: Reason = Reason(0x2);
    pub const FLOW_CONTROL_ERROR: Reason = Reason(0x3);
    pub const SETTINGS_TIMEOUT: Reason = Reason(0x4);
    pub const STREAM_CLOSED: Reason = Reason(0x5);
    pub const FRAME_SIZE_ERROR: Reason = Reason(0x6);
    pub const REFUSED_STREAM: Reason = Reason(0x7);
    pub const CANCEL: Reason = Reason(0x8);
    pub const COMPRESSION_ERROR: Reason = Reason(0x9);
    pub const CONNECT_ERROR: Reason = Reason(0xa);
    pub const ENHANCE_YOUR_CALM: Reason = Reason(0xb);
    pub const INADEQUATE_SECURITY: Reason = Reason(0xc);
    pub const HTTP_1_1_REQUIRED: Reason = Reason(0xd);

    fn name(self) -> Option<&'static str> {
        const NAMES: [&str; 14] = [
            "NO_ERROR",
            "PROTOCOL_ERROR",
            "INTERNAL_ERROR",
            "FLOW_CONTROL_ERROR",
            "SETTINGS_TIMEOUT",
            "STREAM_CLOSED",
            "FRAME_SIZE_ERROR",
            "REFUSED_STREAM",
            "CANCEL",
            "COMPRESSION_ERROR",
            "CONNECT_ERROR",
            "ENHANCE_YOUR_CALM",
            "INADEQUATE_SECURITY",
            "HTTP_1_1_REQUIRED",
        ];
        NAMES.get(self.0 as usize).copied()
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "error code {:#x}", self.0),
        }
    }
}

impl fmt::Debug for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Which end of the connection decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Initiator {
    Local,
    Remote,
}

/// What failed a stream or a whole connection.
#[derive(Clone, Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing the transport failed, or the peer closed it.
    #[error("HTTP/2 connection I/O: {0}")]
    Io(Arc<std::io::Error>),
    /// The connection ended with a GOAWAY: sent by the peer, or by this end after the peer
    /// broke the protocol (`detail` says how).
    #[error("HTTP/2 connection ended ({reason}, by the {initiator}): {detail}")]
    GoAway {
        reason: Reason,
        initiator: Initiator,
        detail: String,
    },
    /// The stream was reset (RST_STREAM).
    #[error("HTTP/2 stream reset ({reason}, by the {initiator})")]
    Reset {
        reason: Reason,
        initiator: Initiator,
    },
    /// The peer's message on this stream broke HTTP semantics (RFC 9113 section 8.1.1); the
    /// stream was reset with PROTOCOL_ERROR.
    #[error("malformed HTTP/2 message: {0}")]
    Malformed(&'static str),
    /// Keepalive: the peer sent nothing, not even the ACK of a PING, for this long after it.
    #[error("HTTP/2 peer silent: nothing received for {0:?} after a PING")]
    KeepaliveTimeout(std::time::Duration),
    /// The caller asked for something HTTP/2 cannot carry.
    #[error("cannot send over HTTP/2: {0}")]
    User(&'static str),
}

impl fmt::Display for Initiator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Initiator::Local => "local end",
            Initiator::Remote => "peer",
        })
    }
}

impl Error {
    pub(crate) fn io(e: std::io::Error) -> Error {
        Error::Io(Arc::new(e))
    }

    pub fn is_io(&self) -> bool {
        matches!(self, Error::Io(_))
    }

    pub fn is_go_away(&self) -> bool {
        matches!(self, Error::GoAway { .. })
    }

    pub fn is_reset(&self) -> bool {
        matches!(self, Error::Reset { .. })
    }

    /// The error code on the wire, when there was one.
    pub fn reason(&self) -> Option<Reason> {
        match self {
            Error::GoAway { reason, .. } | Error::Reset { reason, .. } => Some(*reason),
            Error::Malformed(_) => Some(Reason::PROTOCOL_ERROR),
            Error::Io(_) | Error::User(_) | Error::KeepaliveTimeout(_) => None,
        }
    }

    /// True when the whole connection is gone, not just one stream.
    pub fn is_connection_error(&self) -> bool {
        self.is_io() || self.is_go_away() || matches!(self, Error::KeepaliveTimeout(_))
    }
}
