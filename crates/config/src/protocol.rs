//! Application protocols as Istio names them, and how a Kubernetes Service port's protocol is
//! decided: `appProtocol`, else the port name's prefix (`http-web` → HTTP), else well-known ports.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    Grpc,
    GrpcWeb,
    Http,
    HttpProxy,
    Http2,
    Https,
    Tcp,
    Tls,
    Udp,
    Mongo,
    Redis,
    Mysql,
    /// No protocol could be decided; the proxy sniffs the first bytes.
    Unsupported,
}

impl Protocol {
    /// Parses a protocol name (case-insensitive), as in a ServiceEntry or Gateway port.
    pub fn parse(s: &str) -> Protocol {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            "grpc" => Protocol::Grpc,
            "grpc-web" => Protocol::GrpcWeb,
            "http" => Protocol::Http,
            "http_proxy" => Protocol::HttpProxy,
            "http2" => Protocol::Http2,
            "https" => Protocol::Https,
            "tls" => Protocol::Tls,
            "mongo" => Protocol::Mongo,
            "redis" => Protocol::Redis,
            "mysql" => Protocol::Mysql,
            _ => Protocol::Unsupported,
        }
    }

    /// The protocol of a Kubernetes Service port. `udp` is the Service port's L4 protocol.
    pub fn of_service_port(
        port: i64,
        name: &str,
        udp: bool,
        app_protocol: Option<&str>,
    ) -> Protocol {
        if udp {
            return Protocol::Udp;
        }
        let mut name = name;
        if let Some(app) = app_protocol {
            match app {
                "kubernetes.io/h2c" => return Protocol::Http2,
                "kubernetes.io/ws" => return Protocol::Http,
                "kubernetes.io/wss" => return Protocol::Https,
                _ => name = app,
            }
        }
        if name
            .get(..8)
            .is_some_and(|p| p.eq_ignore_ascii_case("grpc-web"))
        {
            return Protocol::GrpcWeb;
        }
        let prefix = name.split('-').next().unwrap_or(name);
        match Protocol::parse(prefix) {
            // Well-known ports default to TCP when the name says nothing.
            Protocol::Unsupported if matches!(port, 25 | 53 | 3306 | 27017) => Protocol::Tcp,
            p => p,
        }
    }

    pub fn is_http(self) -> bool {
        matches!(
            self,
            Protocol::Http
                | Protocol::Http2
                | Protocol::HttpProxy
                | Protocol::Grpc
                | Protocol::GrpcWeb
        )
    }

    pub fn is_tcp(self) -> bool {
        matches!(
            self,
            Protocol::Tcp
                | Protocol::Https
                | Protocol::Tls
                | Protocol::Mongo
                | Protocol::Redis
                | Protocol::Mysql
        )
    }

    pub fn is_tls(self) -> bool {
        matches!(self, Protocol::Https | Protocol::Tls)
    }

    pub fn is_unsupported(self) -> bool {
        self == Protocol::Unsupported
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Grpc => "GRPC",
            Protocol::GrpcWeb => "GRPC-Web",
            Protocol::Http => "HTTP",
            Protocol::HttpProxy => "HTTP_PROXY",
            Protocol::Http2 => "HTTP2",
            Protocol::Https => "HTTPS",
            Protocol::Tcp => "TCP",
            Protocol::Tls => "TLS",
            Protocol::Udp => "UDP",
            Protocol::Mongo => "Mongo",
            Protocol::Redis => "Redis",
            Protocol::Mysql => "MySQL",
            Protocol::Unsupported => "UnsupportedProtocol",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Protocol as P;

    #[test]
    fn service_port_protocols() {
        assert_eq!(P::of_service_port(80, "http", false, None), P::Http);
        assert_eq!(P::of_service_port(80, "http-web", false, None), P::Http);
        assert_eq!(P::of_service_port(80, "HTTP2-x", false, None), P::Http2);
        assert_eq!(
            P::of_service_port(80, "grpc-web-x", false, None),
            P::GrpcWeb
        );
        assert_eq!(P::of_service_port(80, "web", false, None), P::Unsupported);
        assert_eq!(P::of_service_port(80, "", false, None), P::Unsupported);
        assert_eq!(P::of_service_port(3306, "", false, None), P::Tcp);
        assert_eq!(P::of_service_port(80, "web", false, Some("http")), P::Http);
        assert_eq!(
            P::of_service_port(80, "web", false, Some("kubernetes.io/h2c")),
            P::Http2
        );
        assert_eq!(P::of_service_port(80, "http", true, None), P::Udp);
        // Names are user input: multi-byte characters must not split a slice.
        assert_eq!(P::of_service_port(80, "grpc-wéb", false, None), P::Grpc);
        assert_eq!(P::of_service_port(80, "ééééé", false, None), P::Unsupported);
    }
}
