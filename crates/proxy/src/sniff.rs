//! Peeking at a connection's first bytes (without consuming them) until detection decides
//! or a timeout passes; a client that waits for the server to speak first is opaque TCP.

use crate::detect::{detect, Detected, MAX_CLIENT_HELLO};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;

pub async fn sniff(stream: &TcpStream, timeout: Duration) -> std::io::Result<Detected> {
    let deadline = Instant::now() + timeout;
    let mut buf = vec![0u8; MAX_CLIENT_HELLO];
    let mut seen = 0;
    loop {
        let n = match tokio::time::timeout_at(deadline, stream.peek(&mut buf)).await {
            Ok(r) => r?,
            Err(_) => return Ok(Detected::Tcp),
        };
        if n == 0 {
            // Closed before saying anything.
            return Ok(Detected::Tcp);
        }
        match buf.get(..n).map(detect) {
            Some(Detected::NeedMore) if n < buf.len() => {}
            Some(Detected::NeedMore) | None => return Ok(Detected::Tcp),
            Some(d) => return Ok(d),
        }
        if n == seen {
            // No new bytes since the last peek: wait a little instead of spinning.
            if Instant::now() >= deadline {
                return Ok(Detected::Tcp);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        seen = n;
    }
}
