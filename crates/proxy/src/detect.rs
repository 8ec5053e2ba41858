//! Protocol detection from a connection's first bytes, for ports whose protocol the
//! configuration does not declare: HTTP/1 (a request method), HTTP/2 (the client preface), TLS
//! (a ClientHello, whose SNI and ALPN are read for routing), else opaque TCP.

/// What the first bytes say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Detected {
    Http1,
    Http2,
    Tls(ClientHello),
    Tcp,
    /// Not enough bytes yet to decide.
    NeedMore,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientHello {
    pub sni: Option<String>,
    pub alpn: Vec<String>,
}

pub const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

const METHODS: &[&[u8]] = &[
    b"GET ",
    b"POST ",
    b"PUT ",
    b"DELETE ",
    b"HEAD ",
    b"OPTIONS ",
    b"PATCH ",
    b"CONNECT ",
    b"TRACE ",
];

/// Largest ClientHello we buffer to find the SNI; real ones are well under this, and a larger
/// one is routed as plain TLS without SNI rather than buffered without bound.
pub const MAX_CLIENT_HELLO: usize = 16 * 1024;

pub fn detect(buf: &[u8]) -> Detected {
    if buf.is_empty() {
        return Detected::NeedMore;
    }
    if buf[0] == 0x16 {
        return detect_tls(buf);
    }
    let n = buf.len().min(H2_PREFACE.len());
    if buf[..n] == H2_PREFACE[..n] {
        return if n == H2_PREFACE.len() {
            Detected::Http2
        } else {
            Detected::NeedMore
        };
    }
    let mut could_be_method = false;
    for m in METHODS {
        let k = buf.len().min(m.len());
        if buf[..k] == m[..k] {
            if k == m.len() {
                return Detected::Http1;
            }
            could_be_method = true;
        }
    }
    if could_be_method {
        Detected::NeedMore
    } else {
        Detected::Tcp
    }
}

/// A cursor over a byte slice that fails instead of panicking.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn u8(&mut self) -> Option<u8> {
        let v = *self.buf.get(self.pos)?;
        self.pos += 1;
        Some(v)
    }
    fn u16(&mut self) -> Option<usize> {
        Some(usize::from(self.u8()?) << 8 | usize::from(self.u8()?))
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
}

fn detect_tls(buf: &[u8]) -> Detected {
    // Record header: type, version (3,x), length.
    if buf.len() >= 2 && buf[1] != 0x03 {
        return Detected::Tcp;
    }
    if buf.len() < 5 {
        return Detected::NeedMore;
    }
    let record_len = usize::from(buf[3]) << 8 | usize::from(buf[4]);
    // Handshake header: type 1 (ClientHello) and a 24-bit length.
    if buf.len() >= 6 && buf[5] != 0x01 {
        return Detected::Tcp;
    }
    if buf.len() < 9 {
        return Detected::NeedMore;
    }
    let hello_len = usize::from(buf[6]) << 16 | usize::from(buf[7]) << 8 | usize::from(buf[8]);
    let wanted = 9 + hello_len;
    if wanted > MAX_CLIENT_HELLO {
        return Detected::Tls(ClientHello::default());
    }
    if buf.len() < wanted {
        // A ClientHello larger than one record is possible but rare; read what one record has.
        if buf.len() >= 5 + record_len {
            return Detected::Tls(parse_hello(&buf[9..]).unwrap_or_default());
        }
        return Detected::NeedMore;
    }
    Detected::Tls(parse_hello(&buf[9..wanted]).unwrap_or_default())
}

fn parse_hello(body: &[u8]) -> Option<ClientHello> {
    let mut r = Reader { buf: body, pos: 0 };
    r.take(2 + 32)?; // version, random
    let sid = usize::from(r.u8()?);
    r.take(sid)?;
    let suites = r.u16()?;
    r.take(suites)?;
    let comp = usize::from(r.u8()?);
    r.take(comp)?;
    let ext_len = r.u16()?;
    let mut ext = Reader {
        buf: r.take(ext_len)?,
        pos: 0,
    };
    let mut hello = ClientHello::default();
    while ext.pos < ext.buf.len() {
        let ty = ext.u16()?;
        let len = ext.u16()?;
        let data = ext.take(len)?;
        let mut d = Reader { buf: data, pos: 0 };
        match ty {
            0x0000 => {
                let list = d.u16()?;
                let mut names = Reader {
                    buf: d.take(list)?,
                    pos: 0,
                };
                while names.pos < names.buf.len() {
                    let kind = names.u8()?;
                    let n = names.u16()?;
                    let name = names.take(n)?;
                    if kind == 0 {
                        // Host names are ASCII; anything else is not a name we can route by.
                        hello.sni = std::str::from_utf8(name)
                            .ok()
                            .filter(|s| s.is_ascii() && !s.is_empty())
                            .map(str::to_ascii_lowercase);
                    }
                }
            }
            0x0010 => {
                let list = d.u16()?;
                let mut protos = Reader {
                    buf: d.take(list)?,
                    pos: 0,
                };
                while protos.pos < protos.buf.len() {
                    let n = usize::from(protos.u8()?);
                    let p = protos.take(n)?;
                    hello.alpn.push(String::from_utf8_lossy(p).into_owned());
                }
            }
            _ => {}
        }
    }
    Some(hello)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_versions_and_tcp() {
        assert_eq!(detect(b"GET / HTTP/1.1\r\n"), Detected::Http1);
        assert_eq!(detect(b"OPTIONS * HTTP/1.1\r\n"), Detected::Http1);
        assert_eq!(detect(b"GE"), Detected::NeedMore);
        assert_eq!(detect(b"PRI * HTTP/2"), Detected::NeedMore);
        assert_eq!(detect(H2_PREFACE), Detected::Http2);
        assert_eq!(detect(b"hello world\n"), Detected::Tcp);
        assert_eq!(
            detect(b"get / HTTP/1.1"),
            Detected::Tcp,
            "methods are case-sensitive"
        );
        assert_eq!(detect(b"\x16\x99"), Detected::Tcp);
        assert_eq!(detect(b""), Detected::NeedMore);
    }

    #[test]
    fn truncated_and_hostile_client_hellos_never_panic() {
        let mut rng = 0x1234_5678_u64;
        for len in 0..300 {
            let mut b = vec![0x16, 0x03, 0x01, 0x01, 0x00, 0x01, 0x00, 0x00, 0xfc];
            for _ in 0..len {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                b.push((rng & 0xff) as u8);
            }
            for cut in 0..b.len() {
                let _ = detect(&b[..cut]);
            }
        }
    }
}
