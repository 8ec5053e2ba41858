//! A TCP echo server, like Istio's tcp-echo sample: every line comes back with a prefix.

use crate::DemoError;
use std::net::SocketAddr;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::task::JoinHandle;

/// Longest line echoed; a longer one ends the connection.
const MAX_LINE: usize = 64 * 1024;

pub async fn serve_tcp_echo(
    addr: SocketAddr,
    prefix: String,
) -> Result<(SocketAddr, JoinHandle<()>), DemoError> {
    let (listener, bound) = crate::server::listen(addr).await?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let prefix = prefix.clone();
            tokio::spawn(async move {
                let (r, mut w) = stream.into_split();
                let mut reader = BufReader::new(r);
                let mut line = Vec::new();
                loop {
                    line.clear();
                    let mut limited = (&mut reader).take(MAX_LINE as u64);
                    let Ok(n) = limited.read_until(b'\n', &mut line).await else {
                        break;
                    };
                    if n == 0 || (n == MAX_LINE && !line.ends_with(b"\n")) {
                        break;
                    }
                    let mut out = Vec::with_capacity(prefix.len() + line.len() + 1);
                    if !prefix.is_empty() {
                        out.extend_from_slice(prefix.as_bytes());
                        out.push(b' ');
                    }
                    out.extend_from_slice(&line);
                    if w.write_all(&out).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    Ok((bound, task))
}
