//! The destination a redirected connection was originally addressed to (SO_ORIGINAL_DST, and
//! IP6T_SO_ORIGINAL_DST for IPv6), read through socket2 so no unsafe code is needed here.

use socket2::SockRef;
use std::net::SocketAddr;
use std::os::fd::AsFd;

fn not_ip() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        "the socket address is not an IP address",
    )
}

/// The original destination of a connection accepted on a REDIRECT target (a tokio or std
/// `TcpStream`). For a connection that was not redirected, the kernel answers with an error.
pub fn original_destination<S: AsFd>(stream: &S) -> std::io::Result<SocketAddr> {
    let sock = SockRef::from(stream);
    let local = sock.local_addr()?.as_socket().ok_or_else(not_ip)?;
    let addr = if local.is_ipv4() {
        sock.original_dst_v4()?
    } else {
        sock.original_dst_v6()?
    };
    addr.as_socket().ok_or_else(not_ip)
}
