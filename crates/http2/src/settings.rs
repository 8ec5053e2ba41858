//! SETTINGS (RFC 9113 section 6.5): what this end advertises, and what the peer's say.

use crate::error::Reason;
use crate::frame::{self, DEFAULT_MAX_FRAME_SIZE, DEFAULT_WINDOW, MAX_MAX_FRAME_SIZE, MAX_WINDOW};
use crate::timers::Keepalive;
use bytes::{BufMut, BytesMut};
use std::time::Duration;

const HEADER_TABLE_SIZE: u16 = 0x1;
const ENABLE_PUSH: u16 = 0x2;
const MAX_CONCURRENT_STREAMS: u16 = 0x3;
const INITIAL_WINDOW_SIZE: u16 = 0x4;
const MAX_FRAME_SIZE: u16 = 0x5;
const MAX_HEADER_LIST_SIZE: u16 = 0x6;

/// How this end of a connection is set up.
#[derive(Clone, Debug)]
pub struct Config {
    /// Each stream's receive window (SETTINGS_INITIAL_WINDOW_SIZE).
    pub stream_window: u32,
    /// The connection's receive window, raised from 65,535 by a WINDOW_UPDATE at the start.
    pub connection_window: u32,
    /// Streams the peer may open at once (servers; clients advertise it too, but push is off).
    pub max_concurrent_streams: u32,
    /// The largest header list accepted (SETTINGS_MAX_HEADER_LIST_SIZE).
    pub max_header_list_size: u32,
    /// PINGs that find a peer gone silent; none by default.
    pub keepalive: Option<Keepalive>,
    /// The connection ends (GOAWAY, NO_ERROR) once it has had no stream for this long.
    pub idle_timeout: Option<Duration>,
    /// Client connections: once this old, the connection takes no new stream (it reads as
    /// closed, so a pool opens another), says GOAWAY, and ends when its streams are done.
    /// A server connection ignores it.
    pub max_age: Option<Duration>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            stream_window: DEFAULT_WINDOW,
            connection_window: DEFAULT_WINDOW,
            max_concurrent_streams: 256,
            max_header_list_size: 16 << 10,
            keepalive: None,
            idle_timeout: None,
            max_age: None,
        }
    }
}

impl Config {
    /// The SETTINGS frame advertising this config. Push is always refused: no mesh peer
    /// needs it, and a client that never accepts pushes has no reserved streams to track.
    pub(crate) fn put_settings(&self, dst: &mut BytesMut, is_client: bool) {
        let mut entries: Vec<(u16, u32)> = vec![
            (MAX_CONCURRENT_STREAMS, self.max_concurrent_streams),
            (INITIAL_WINDOW_SIZE, self.stream_window),
            (MAX_HEADER_LIST_SIZE, self.max_header_list_size),
        ];
        if is_client {
            entries.insert(0, (ENABLE_PUSH, 0));
        }
        frame::put_head(dst, entries.len() * 6, frame::kind::SETTINGS, 0, 0);
        for (id, value) in entries {
            dst.put_u16(id);
            dst.put_u32(value);
        }
    }
}

/// The peer's settings, as they apply to what this end sends.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PeerSettings {
    pub header_table_size: u32,
    pub max_concurrent_streams: u32,
    pub initial_window_size: u32,
    pub max_frame_size: u32,
}

impl Default for PeerSettings {
    fn default() -> Self {
        PeerSettings {
            header_table_size: 4096,
            // Unlimited until the peer says otherwise (section 6.5.2).
            max_concurrent_streams: u32::MAX,
            initial_window_size: DEFAULT_WINDOW,
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
        }
    }
}

/// One parsed SETTINGS payload's effect.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Changes {
    pub header_table_size: Option<u32>,
    pub max_concurrent_streams: Option<u32>,
    pub initial_window_size: Option<u32>,
    pub max_frame_size: Option<u32>,
}

/// Parses a SETTINGS payload (its length already checked to be a multiple of 6). Unknown
/// settings are ignored, as the RFC requires.
pub(crate) fn parse(payload: &[u8]) -> Result<Changes, (Reason, &'static str)> {
    let mut changes = Changes::default();
    for entry in payload.chunks_exact(6) {
        let id = u16::from_be_bytes([entry[0], entry[1]]);
        let value = u32::from_be_bytes([entry[2], entry[3], entry[4], entry[5]]);
        match id {
            HEADER_TABLE_SIZE => changes.header_table_size = Some(value),
            ENABLE_PUSH if value > 1 => {
                return Err((
                    Reason::PROTOCOL_ERROR,
                    "SETTINGS_ENABLE_PUSH other than 0 or 1",
                ))
            }
            MAX_CONCURRENT_STREAMS => changes.max_concurrent_streams = Some(value),
            INITIAL_WINDOW_SIZE if i64::from(value) > MAX_WINDOW => {
                return Err((
                    Reason::FLOW_CONTROL_ERROR,
                    "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1",
                ))
            }
            INITIAL_WINDOW_SIZE => changes.initial_window_size = Some(value),
            MAX_FRAME_SIZE if !(DEFAULT_MAX_FRAME_SIZE..=MAX_MAX_FRAME_SIZE).contains(&value) => {
                return Err((
                    Reason::PROTOCOL_ERROR,
                    "SETTINGS_MAX_FRAME_SIZE outside 16384..=16777215",
                ))
            }
            MAX_FRAME_SIZE => changes.max_frame_size = Some(value),
            _ => {}
        }
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u16, value: u32) -> Vec<u8> {
        let mut v = id.to_be_bytes().to_vec();
        v.extend_from_slice(&value.to_be_bytes());
        v
    }

    #[test]
    fn known_settings_are_read_and_unknown_ones_ignored() {
        let mut payload = entry(INITIAL_WINDOW_SIZE, 1 << 20);
        payload.extend(entry(0x99, 5));
        payload.extend(entry(MAX_FRAME_SIZE, 32_768));
        let changes = parse(&payload).expect("valid");
        assert_eq!(changes.initial_window_size, Some(1 << 20));
        assert_eq!(changes.max_frame_size, Some(32_768));
        assert_eq!(changes.max_concurrent_streams, None);
    }

    #[test]
    fn out_of_range_settings_are_connection_errors() {
        let too_big_window = entry(INITIAL_WINDOW_SIZE, 1 << 31);
        assert_eq!(
            parse(&too_big_window).map_err(|e| e.0),
            Err(Reason::FLOW_CONTROL_ERROR)
        );
        let small_frame = entry(MAX_FRAME_SIZE, 1000);
        assert_eq!(
            parse(&small_frame).map_err(|e| e.0),
            Err(Reason::PROTOCOL_ERROR)
        );
        let push = entry(ENABLE_PUSH, 2);
        assert_eq!(parse(&push).map_err(|e| e.0), Err(Reason::PROTOCOL_ERROR));
    }
}
