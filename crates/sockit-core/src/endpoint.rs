//! The one parser for where to connect, bind or send: `HOST`, `HOST:PORT`, `[IPv6]:PORT`,
//! `[IPv6]`, a bare IPv6 address, or `PORT` alone; an IPv6 address may carry a zone
//! (`fe80::1%eth0`, `[fe80::1%2]:80`), as nc and getaddrinfo take it. No I/O: a name stays a
//! name for the resolver, a zone a name for the interface lookup.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// A host as written: an address, an IPv6 address with a zone, or a name to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Ip(IpAddr),
    /// An IPv6 address and the interface (name or index) it is reached through.
    Scoped(Ipv6Addr, String),
    Name(String),
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Host::Ip(ip) => write!(f, "{ip}"),
            Host::Scoped(ip, zone) => write!(f, "{ip}%{zone}"),
            Host::Name(n) => f.write_str(n),
        }
    }
}

/// `ADDR%ZONE`: an IPv6 address and a zone that can name an interface (letters, digits,
/// `-_.@`, at most 15 bytes, as Linux interface names are), or its index.
pub fn parse_scoped(s: &str) -> Option<(Ipv6Addr, String)> {
    let (ip, zone) = s.split_once('%')?;
    let ip: Ipv6Addr = ip.parse().ok()?;
    let ok = !zone.is_empty()
        && zone.len() <= 15
        && zone.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'));
    ok.then(|| (ip, zone.to_string()))
}

/// What an endpoint names; either part may be left to a default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: Option<Host>,
    pub port: Option<u16>,
}

/// Why a string is not an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("'{0}' is not an address: write it like 192.0.2.1, 192.0.2.1:40000, [::1]:40000, a host name or a port")]
    Bad(String),
    #[error("'{0}' has no port after ':': write it like 192.0.2.1:40000")]
    NoPort(String),
    #[error("port '{0}' is out of range: ports are 0-65535")]
    PortRange(String),
}

impl Endpoint {
    /// Parse an endpoint. A bare number is a port; everything else has a host.
    pub fn parse(s: &str) -> Result<Endpoint, EndpointError> {
        let bad = || EndpointError::Bad(s.to_string());
        let t = s.trim();
        if t.is_empty() {
            return Err(bad());
        }
        if t.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(Endpoint { host: None, port: Some(port(t)?) });
        }
        if let Some(rest) = t.strip_prefix('[') {
            let (inner, after) = rest.split_once(']').ok_or_else(bad)?;
            let host = match inner.parse::<Ipv6Addr>() {
                Ok(ip) => Host::Ip(IpAddr::V6(ip)),
                Err(_) => parse_scoped(inner).map(|(ip, zone)| Host::Scoped(ip, zone)).ok_or_else(bad)?,
            };
            let port = match after {
                "" => None,
                p => Some(port(p.strip_prefix(':').ok_or_else(bad)?).map_err(|e| no_port(e, s))?),
            };
            return Ok(Endpoint { host: Some(host), port });
        }
        if let Ok(ip) = t.parse::<IpAddr>() {
            return Ok(Endpoint { host: Some(Host::Ip(ip)), port: None });
        }
        if let Some((ip, zone)) = parse_scoped(t) {
            return Ok(Endpoint { host: Some(Host::Scoped(ip, zone)), port: None });
        }
        let (host, port) = match t.rsplit_once(':') {
            Some((h, p)) => (h, Some(port(p).map_err(|e| no_port(e, s))?)),
            None => (t, None),
        };
        let host = match host.parse::<IpAddr>() {
            Ok(IpAddr::V6(_)) | Err(_) if host.contains(':') => return Err(bad()),
            Ok(ip) => Host::Ip(ip),
            Err(_) if is_host_name(host) => Host::Name(host.to_string()),
            Err(_) => return Err(bad()),
        };
        Ok(Endpoint { host: Some(host), port })
    }

    /// The socket address when the host is an address, with `default_port` if none was given.
    pub fn socket_addr(&self, default_port: u16) -> Option<SocketAddr> {
        match &self.host {
            Some(Host::Ip(ip)) => Some(SocketAddr::new(*ip, self.port.unwrap_or(default_port))),
            _ => None,
        }
    }
}

fn port(p: &str) -> Result<u16, EndpointError> {
    if p.is_empty() {
        return Err(EndpointError::NoPort(String::new()));
    }
    if !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(EndpointError::Bad(p.to_string()));
    }
    p.parse().map_err(|_| EndpointError::PortRange(p.to_string()))
}

fn no_port(e: EndpointError, whole: &str) -> EndpointError {
    match e {
        EndpointError::NoPort(_) => EndpointError::NoPort(whole.to_string()),
        EndpointError::Bad(_) => EndpointError::Bad(whole.to_string()),
        other => other,
    }
}

/// Letters, digits, '-', '_' and dots, as host names are written (no spaces, no controls).
pub fn is_host_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !s.starts_with('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_as_a_table() {
        let ip = |s: &str| Some(Host::Ip(s.parse().expect("ip")));
        let name = |s: &str| Some(Host::Name(s.into()));
        let cases: &[(&str, Option<Host>, Option<u16>)] = &[
            ("40000", None, Some(40000)),
            ("127.0.0.1", ip("127.0.0.1"), None),
            ("127.0.0.1:53", ip("127.0.0.1"), Some(53)),
            ("::1", ip("::1"), None),
            ("[::1]", ip("::1"), None),
            ("[::1]:5353", ip("::1"), Some(5353)),
            ("fe80::1", ip("fe80::1"), None),
            ("fe80::1%eth0", Some(Host::Scoped("fe80::1".parse().expect("ip"), "eth0".into())), None),
            ("[fe80::1%2]:80", Some(Host::Scoped("fe80::1".parse().expect("ip"), "2".into())), Some(80)),
            ("localhost", name("localhost"), None),
            ("example.test:8080", name("example.test"), Some(8080)),
        ];
        for (s, host, port) in cases {
            assert_eq!(Endpoint::parse(s), Ok(Endpoint { host: host.clone(), port: *port }), "{s}");
        }
        for bad in [
            "",
            "[::1",
            "[::1]x",
            "a b",
            "127.0.0.1:",
            "1.2.3.4:99999",
            "::1:x:",
            "host:port",
            "\x1b]0;x",
            "fe80::1%",
            "1.2.3.4%eth0",
            "fe80::1%a b",
            "[fe80::1%x/y]:1",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            Endpoint::parse("127.0.0.1:").expect_err("no port").to_string(),
            "'127.0.0.1:' has no port after ':': write it like 192.0.2.1:40000"
        );
    }
}
