//! The one way out: every outbound connection (`tcp connect`, `relay`, `chat join`, `scan
//! --proxy`) is dialed here, in the same steps, which `-v` narrates: the target resolved to its
//! addresses, a proxy hop if one is asked for, a socket connected within the deadline, its
//! options (no delay, keepalive), then TLS if asked for.

pub mod proxy;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

use sockit_core::endpoint::Host;
use sockit_core::proxy::Proxy;

use crate::conn::Conn;
use crate::net::{self, Doing, NetError, Why};
use crate::resolve::{self, Families};
use crate::tls::ClientTls;

/// How to reach a target: through a proxy or not, within a deadline, with keepalive probes,
/// over TLS.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dialer {
    /// Go through this proxy (it resolves names itself when it can: socks5h, HTTP).
    pub proxy: Option<Proxy>,
    /// How long connecting (and a proxy's handshake) may take; `None`: the system's limit.
    pub timeout: Option<Duration>,
    /// Probe a silent peer after this long, every this long, three times.
    pub keepalive: Option<Duration>,
    /// Speak TLS, trusting what this says.
    pub tls: Option<ClientTls>,
    /// Connect from this local address and port (`-s`, `-p`, as nc's).
    pub source: Source,
}

/// Where an outgoing connection comes from: an address of this host and a port; none of
/// either: the kernel picks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Source {
    pub ip: Option<IpAddr>,
    pub port: u16,
}

/// Dial `host:port` all the way: a connection ready for bytes (the plaintext side of TLS when
/// TLS is asked for). What to trust is read before connecting: a bad CA file costs no
/// connection.
pub fn dial(host: &Host, port: u16, how: &Dialer) -> Result<Conn, NetError> {
    let connector = how.tls.as_ref().map(|t| t.connector(host)).transpose()?;
    let stream = socket(host, port, how)?;
    match connector {
        Some(c) => {
            tracing::info!("TLS handshake");
            crate::tls::client(stream, c)
        }
        None => Conn::plain(stream),
    }
}

/// Dial `host:port` up to the socket: resolved (or handed to the proxy), connected, its
/// options set; no TLS.
pub fn socket(host: &Host, port: u16, how: &Dialer) -> Result<TcpStream, NetError> {
    let stream = match &how.proxy {
        Some(p) => proxy::connect(p, host, port, how.timeout, how.source)?,
        None => {
            let addrs = resolve(host, port)?;
            tracing::info!(%host, addresses = ?addrs, "resolved");
            connect_from(&addrs, how.timeout, how.source)?
        }
    };
    let _ = stream.set_nodelay(true);
    if let Some(every) = how.keepalive {
        net::keepalive(&stream, every)?;
    }
    tracing::info!(local = ?stream.local_addr().ok(), peer = ?stream.peer_addr().ok(), "connected");
    Ok(stream)
}

/// Step one, the one resolver entry for a host: an address is itself; `broadcast` is 255.255.255.255;
/// a name gets every address the system resolver gives, in its order of preference.
pub fn resolve(host: &Host, port: u16) -> Result<Vec<SocketAddr>, NetError> {
    match host {
        Host::Ip(ip) => Ok(vec![SocketAddr::new(*ip, port)]),
        Host::Scoped(ip, zone) => Ok(vec![net::scoped(*ip, zone, port)?]),
        Host::Name(n) if n.eq_ignore_ascii_case("broadcast") => {
            Ok(vec![SocketAddr::new(IpAddr::V4(Ipv4Addr::BROADCAST), port)])
        }
        Host::Name(n) => Ok(resolve::system_lookup(n, Families::Both)?
            .addresses
            .into_iter()
            .map(|ip| SocketAddr::new(ip, port))
            .collect()),
    }
}

/// The first address `resolve` gives (for a datagram, which has one destination).
pub fn resolve_one(host: &Host, port: u16) -> Result<SocketAddr, NetError> {
    resolve(host, port)?
        .into_iter()
        .next()
        .ok_or_else(|| NetError::failed(Doing::Name(host.to_string()), Why::NoAddress))
}

/// Step two: connect to the first address of `addrs` that answers, each with the whole
/// deadline.
pub fn connect(addrs: &[SocketAddr], timeout: Option<Duration>) -> Result<TcpStream, NetError> {
    connect_from(addrs, timeout, Source::default())
}

/// `connect`, from `source`: a target of the other family than the source address is passed
/// over.
pub fn connect_from(addrs: &[SocketAddr], timeout: Option<Duration>, source: Source) -> Result<TcpStream, NetError> {
    let mut last = None;
    for &addr in addrs {
        let r = match (source, timeout) {
            (Source { ip: None, port: 0 }, Some(t)) => TcpStream::connect_timeout(&addr, t),
            (Source { ip: None, port: 0 }, None) => TcpStream::connect(addr),
            (Source { ip: Some(ip), .. }, _) if ip.is_ipv4() != addr.is_ipv4() => {
                last = Some(NetError::failed(Doing::ConnectFrom { to: addr, from: ip }, Why::OtherFamily));
                continue;
            }
            (Source { ip, port }, _) => {
                let local = SocketAddr::new(ip.unwrap_or(net::any_of_family(addr).ip()), port);
                let sock = net::bound_socket(local, socket2::Type::STREAM)?;
                tracing::info!(%local, "bound");
                match timeout {
                    Some(t) => sock.connect_timeout(&addr.into(), t),
                    None => sock.connect(&addr.into()),
                }
                .map(|()| TcpStream::from(sock))
            }
        };
        match r {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => {
                tracing::debug!(%addr, error = %e, "no connection");
                last = Some(net::connect_error(addr, e, timeout));
            }
        }
    }
    Err(last.unwrap_or_else(|| NetError::failed(Doing::ConnectAny, Why::NoAddressToConnect)))
}
