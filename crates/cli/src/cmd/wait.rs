//! `verimesh wait`: blocks until the proxy beside it answers `/ready` on its admin port,
//! as Istio's `pilot-agent wait` does for `holdApplicationUntilProxyStarts`. `verimesh up`
//! runs it in a held workload's namespace and starts the application when it succeeds. The
//! proxy opens its admin port only once its first config has arrived, so a 200 means it is
//! running with its config.

use clap::Args as ClapArgs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(ClapArgs)]
pub struct Args {
    /// The proxy's admin port on localhost.
    #[arg(long, default_value_t = 15000)]
    admin_port: u16,
    /// Give up after this long (e.g. 60s, 2m).
    #[arg(long, default_value = "60s", value_parser = super::duration::parse)]
    timeout: Duration,
    /// Time between attempts.
    #[arg(long, default_value = "100ms", value_parser = super::duration::parse)]
    period: Duration,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let admin = SocketAddr::from((Ipv4Addr::LOCALHOST, args.admin_port));
    let deadline = Instant::now() + args.timeout;
    loop {
        let last = match ready_status(admin, args.period.max(Duration::from_millis(50))) {
            Ok(200) => {
                eprintln!("verimesh wait: the proxy at {admin} is ready");
                return Ok(ExitCode::SUCCESS);
            }
            Ok(code) => format!("/ready answered {code}"),
            Err(e) => e.to_string(),
        };
        if Instant::now() >= deadline {
            eprintln!(
                "verimesh wait: the proxy at {admin} was not ready within {:?}: {last}",
                args.timeout
            );
            return Ok(ExitCode::FAILURE);
        }
        std::thread::sleep(args.period);
    }
}

/// One `GET /ready`; the response's status code.
fn ready_status(admin: SocketAddr, timeout: Duration) -> std::io::Result<u16> {
    let mut conn = TcpStream::connect_timeout(&admin, timeout)?;
    conn.set_read_timeout(Some(timeout))?;
    conn.set_write_timeout(Some(timeout))?;
    conn.write_all(b"GET /ready HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut head = [0u8; 64];
    let mut len = 0;
    while len < head.len() {
        let n = conn.read(&mut head[len..])?;
        if n == 0 {
            break;
        }
        len += n;
        if head[..len].contains(&b'\n') {
            break;
        }
    }
    status_code(&head[..len]).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "not an HTTP response: {:?}",
                String::from_utf8_lossy(&head[..len])
            ),
        )
    })
}

/// The code of an `HTTP/1.x NNN ...` status line.
fn status_code(head: &[u8]) -> Option<u16> {
    let line = std::str::from_utf8(head).ok()?.lines().next()?;
    let mut parts = line.split(' ');
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    parts.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn status_lines() {
        assert_eq!(status_code(b"HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(
            status_code(b"HTTP/1.0 503 Service Unavailable\r\n"),
            Some(503)
        );
        assert_eq!(status_code(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(status_code(b""), None);
    }

    /// A server that answers each connection with `response`, for `count` connections.
    fn serve(response: &'static [u8], count: usize) -> u16 {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let port = listener.local_addr().expect("addr").port();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(count) {
                let Ok(mut s) = stream else { continue };
                let mut req = [0u8; 256];
                let _ = s.read(&mut req);
                let _ = s.write_all(response);
            }
        });
        port
    }

    #[test]
    fn succeeds_on_200_and_fails_after_the_timeout_otherwise() {
        let ok = serve(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nLIVE\n", 1);
        let args = |port, timeout| Args {
            admin_port: port,
            timeout,
            period: Duration::from_millis(50),
        };
        let code = run(&args(ok, Duration::from_secs(5))).expect("run");
        assert_eq!(code, ExitCode::SUCCESS);

        let unready = serve(b"HTTP/1.1 503 Service Unavailable\r\n\r\n", 100);
        let started = Instant::now();
        let code = run(&args(unready, Duration::from_millis(300))).expect("run");
        assert_eq!(code, ExitCode::FAILURE);
        assert!(started.elapsed() >= Duration::from_millis(300));

        // Nothing listening: refused every time until the timeout.
        let closed = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let code = run(&args(closed, Duration::from_millis(200))).expect("run");
        assert_eq!(code, ExitCode::FAILURE);
    }
}
