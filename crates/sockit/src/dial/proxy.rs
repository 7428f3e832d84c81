//! The proxy hop of a dial: SOCKS5 (with user/password) or HTTP CONNECT (with Basic auth), the
//! requests and the checks of the replies from `sockit_core::proxy`. The whole handshake has
//! one deadline: a proxy that answers slowly, a byte at a time, or never, is one line, not a
//! hang.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use sockit_core::endpoint::Host;
use sockit_core::proxy::{Dest, Kind, Method, Proxy, ReplyLen};

use crate::net::{Doing, NetError, Why};

/// How long a proxy has for its whole handshake when no connect timeout is given.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// Why a connection through a proxy failed: the proxy itself (unreachable, refused our login,
/// does not speak the protocol), or the target, as the proxy reports it.
enum Failure {
    Proxy(NetError),
    TargetRefused(NetError),
    TargetUnreachable(NetError),
}

impl From<NetError> for Failure {
    fn from(e: NetError) -> Failure {
        Failure::Proxy(e)
    }
}

/// A connection to `host:port` through `proxy`: connected to the proxy, told where to go,
/// and ready for the relay.
pub fn connect(
    proxy: &Proxy,
    host: &Host,
    port: u16,
    timeout: Option<Duration>,
    source: super::Source,
) -> Result<TcpStream, NetError> {
    handshake(proxy, host, port, timeout, source).map_err(|f| match f {
        Failure::Proxy(e) | Failure::TargetRefused(e) | Failure::TargetUnreachable(e) => e,
    })
}

/// What a connect scan through `proxy` finds at `ip:port`: open when the proxy connects, closed
/// when it says the target refused, filtered when it could not reach it (or took `timeout`);
/// a proxy that fails us (down, refusing our login, not a proxy) is an error for the scan. An
/// open port comes with its connection, for a banner to be read from it.
pub fn probe(
    proxy: &Proxy,
    ip: std::net::IpAddr,
    port: u16,
    timeout: Duration,
) -> Result<(sockit_core::scan::PortState, Option<TcpStream>), NetError> {
    use sockit_core::scan::PortState;
    match handshake(proxy, &Host::Ip(ip), port, Some(timeout), super::Source::default()) {
        Ok(stream) => Ok((PortState::Open, Some(stream))),
        Err(Failure::TargetRefused(_)) => Ok((PortState::Closed, None)),
        Err(Failure::TargetUnreachable(_)) => Ok((PortState::Filtered, None)),
        Err(Failure::Proxy(e)) => Err(e),
    }
}

fn handshake(
    proxy: &Proxy,
    host: &Host,
    port: u16,
    timeout: Option<Duration>,
    source: super::Source,
) -> Result<TcpStream, Failure> {
    let at = format!("{}:{}", proxy.host, proxy.port);
    let doing = || Doing::Proxy(at.clone());
    let proxy_host = match sockit_core::endpoint::Endpoint::parse(&proxy.host) {
        Ok(sockit_core::endpoint::Endpoint { host: Some(h), .. }) => h,
        _ => Host::Name(proxy.host.clone()),
    };
    let limit = timeout.unwrap_or(HANDSHAKE);
    // One deadline for connecting to the proxy and the whole handshake after it.
    let deadline = Instant::now() + limit;
    let addrs = super::resolve(&proxy_host, proxy.port)?;
    let stream = super::connect_from(&addrs, Some(limit), source)
        .map_err(|e| NetError::failed(doing(), Why::Net(Box::new(e))))?;
    let dest = match host {
        Host::Ip(ip) => Dest::Ip(*ip),
        Host::Scoped(ip, _) => Dest::Ip(std::net::IpAddr::V6(*ip)),
        // socks5h and HTTP: the proxy resolves the name (this host may not be able to).
        Host::Name(n) if proxy.remote_dns || proxy.kind == Kind::Http => Dest::Name(n.clone()),
        Host::Name(_) => Dest::Ip(super::resolve_one(host, port)?.ip()),
    };
    let io = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            NetError::failed(doing(), Why::NoAnswer { secs: limit.as_secs_f64() })
        }
        std::io::ErrorKind::UnexpectedEof => NetError::failed(doing(), Why::ClosedMidAnswer),
        _ => NetError::io(doing(), e),
    };
    let said = |why: Why| NetError::failed(doing(), why);
    let auth = crate::secrets::user_password(proxy.auth.as_ref(), proxy.credentials.as_deref())?;
    let mut s = Timed { stream: &stream, deadline };
    match proxy.kind {
        Kind::Socks5 => {
            let with_auth = auth.is_some();
            s.write_all(&sockit_core::proxy::socks5_greeting(with_auth)).map_err(io)?;
            let mut two = [0u8; 2];
            s.read_exact(&mut two).map_err(io)?;
            if sockit_core::proxy::socks5_method(&two, with_auth).map_err(|e| said(e.into()))? == Method::UserPass {
                let (u, p) = auth.as_ref().map(|(u, p)| (u.as_str(), p.as_str())).unwrap_or_default();
                s.write_all(&sockit_core::proxy::socks5_auth(u, p)).map_err(io)?;
                s.read_exact(&mut two).map_err(io)?;
                sockit_core::proxy::socks5_auth_reply(&two).map_err(|e| said(e.into()))?;
            }
            let request = sockit_core::proxy::socks5_connect(&dest, port).map_err(|e| said(e.into()))?;
            s.write_all(&request).map_err(io)?;
            let mut head = [0u8; 5];
            // The proxy is connecting now: a wait here is the target's (filtered), not the proxy's.
            s.read_exact(&mut head).map_err(|e| Failure::TargetUnreachable(io(e)))?;
            let ReplyLen::Total(total) = sockit_core::proxy::socks5_reply_head(&head).map_err(|e| match e {
                e if e.target_refused() => Failure::TargetRefused(NetError::failed(
                    Doing::ProxyTarget { proxy: at.clone(), target: format!("{dest}:{port}") },
                    Why::TargetRefused,
                )),
                sockit_core::proxy::SocksError::Refused(1 | 3 | 4 | 6) => Failure::TargetUnreachable(said(e.into())),
                e => Failure::Proxy(said(e.into())),
            })?;
            let mut rest = vec![0u8; total - head.len()];
            s.read_exact(&mut rest).map_err(io)?;
        }
        Kind::Http => {
            s.write_all(sockit_core::proxy::http_connect(&dest, port, auth.as_ref()).as_bytes()).map_err(io)?;
            // A byte at a time: what follows the blank line is the tunnel's, not the proxy's.
            let mut head = Vec::with_capacity(256);
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && !head.ends_with(b"\n\n") {
                if head.len() >= sockit_core::proxy::HTTP_HEAD_MAX {
                    return Err(said(sockit_core::proxy::HttpError::TooLong.into()).into());
                }
                match s.read(&mut byte).map_err(io)? {
                    0 => return Err(io(std::io::ErrorKind::UnexpectedEof.into()).into()),
                    _ => head.push(byte[0]),
                }
            }
            sockit_core::proxy::http_reply(&head).map_err(|e| match e {
                sockit_core::proxy::HttpError::Refused(_) => Failure::TargetUnreachable(said(e.into())),
                e => Failure::Proxy(said(e.into())),
            })?;
        }
    }
    stream.set_read_timeout(None).map_err(io)?;
    stream.set_write_timeout(None).map_err(io)?;
    tracing::info!(%at, %dest, port, "connected through the proxy");
    Ok(stream)
}

/// The proxy's socket with every read and write held to one deadline: each waits only for what
/// is left of it, so a proxy dripping a byte at a time cannot stretch the handshake.
struct Timed<'a> {
    stream: &'a TcpStream,
    deadline: Instant,
}

impl Timed<'_> {
    /// What is left of the deadline, set on the socket; none left is a timeout.
    fn left(&self) -> std::io::Result<()> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        self.stream.set_read_timeout(Some(left))?;
        self.stream.set_write_timeout(Some(left))
    }
}

impl Read for Timed<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.left()?;
        (&*self.stream).read(buf)
    }
}

impl Write for Timed<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.left()?;
        (&*self.stream).write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
