//! What the UDP and TCP tools share: turning HOST and PORT into socket addresses, binding
//! and connecting, and saying in one line what went wrong and what to do about it.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use socket2::{Domain, Protocol, Socket, Type};

use crate::resolve::{self, Families, ResolveError};

/// The lecture's port for the UDP and TCP demos.
pub const DEFAULT_PORT: u16 = 40000;

/// A network operation that failed, with the address it concerned.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error(
        "cannot listen on {addr}: the port is in use; pick another port (0 picks a free one) or stop the program using it"
    )]
    InUse { addr: SocketAddr },
    #[error("cannot bind {addr}: ports below 1024 need root or CAP_NET_BIND_SERVICE; use a port of 1024 or more")]
    Privileged { addr: SocketAddr },
    #[error("cannot bind {addr}: {cause}; is that address on this host?")]
    Bind { addr: SocketAddr, cause: io::Error },
    #[error("connection to {addr} refused: nothing listens on that port")]
    Refused { addr: SocketAddr },
    #[error("cannot reach {addr}: {cause}; check the address and the route to it")]
    Unreachable { addr: SocketAddr, cause: io::Error },
    #[error("no answer from {addr} within {secs} s: is the host up and the port open?")]
    ConnectTimeout { addr: SocketAddr, secs: f64 },
    #[error("sending to {addr}, a broadcast address, needs --broadcast (SO_BROADCAST)")]
    NeedsBroadcast { addr: SocketAddr },
    #[error("a datagram of {size} bytes is over the UDP limit of {limit} bytes: send less at a time")]
    TooLarge { size: usize, limit: usize },
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    // The cause is part of the one line, not a separate `source` (which would print twice).
    #[error("{what}: {cause}")]
    Io { what: String, cause: io::Error },
}

impl NetError {
    /// Wrap an I/O error with what was being done.
    pub fn io(what: impl Into<String>, cause: io::Error) -> NetError {
        NetError::Io { what: what.into(), cause }
    }
}

/// The largest UDP payload for an address family.
pub fn max_datagram(addr: &SocketAddr) -> usize {
    if addr.is_ipv4() { 65_507 } else { 65_527 }
}

/// HOST to an address: an IP literal, `broadcast` (255.255.255.255), or a name the system
/// resolver knows (its first address).
pub fn resolve_host(host: &str) -> Result<IpAddr, NetError> {
    if host.eq_ignore_ascii_case("broadcast") {
        return Ok(IpAddr::V4(Ipv4Addr::BROADCAST));
    }
    if let Ok(ip) = sockit_core::addr::parse_ip(host) {
        return Ok(ip);
    }
    Ok(resolve::system_lookup(host, Families::Both)?.addresses[0])
}

/// Parse `PORT`, `ADDR:PORT` or `[IPv6]:PORT` (a bare port binds every IPv4 address).
pub fn parse_bind(s: &str) -> Option<SocketAddr> {
    if let Ok(p) = s.parse::<u16>() {
        return Some(SocketAddr::from(([0, 0, 0, 0], p)));
    }
    s.parse().ok()
}

/// The error for a failed bind, with the fix.
pub fn bind_error(addr: SocketAddr, e: io::Error) -> NetError {
    match e.kind() {
        io::ErrorKind::AddrInUse => NetError::InUse { addr },
        io::ErrorKind::PermissionDenied => NetError::Privileged { addr },
        _ => NetError::Bind { addr, cause: e },
    }
}

/// The error for a failed connect.
pub fn connect_error(addr: SocketAddr, e: io::Error, timeout: Option<std::time::Duration>) -> NetError {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => NetError::Refused { addr },
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
            NetError::ConnectTimeout { addr, secs: timeout.map_or(0.0, |t| t.as_secs_f64()) }
        }
        _ => match e.raw_os_error() {
            Some(libc::ENETUNREACH | libc::EHOSTUNREACH | libc::EADDRNOTAVAIL) => {
                NetError::Unreachable { addr, cause: e }
            }
            _ => NetError::io(format!("cannot connect to {addr}"), e),
        },
    }
}

/// A socket bound to `addr`, with SO_REUSEADDR for TCP listeners (a restarted server can
/// bind while old connections linger in TIME_WAIT) and IPv6 sockets dual-stack.
pub fn bound_socket(addr: SocketAddr, ty: Type) -> Result<Socket, NetError> {
    let proto = if ty == Type::STREAM { Protocol::TCP } else { Protocol::UDP };
    let sock = Socket::new(Domain::for_address(addr), ty, Some(proto)).map_err(|e| NetError::io("socket", e))?;
    if ty == Type::STREAM {
        sock.set_reuse_address(true).map_err(|e| NetError::io("SO_REUSEADDR", e))?;
    }
    if addr.is_ipv6() {
        // [::] also takes IPv4 clients, as people expect of "listen on every address".
        let _ = sock.set_only_v6(false);
    }
    sock.bind(&addr.into()).map_err(|e| bind_error(addr, e))?;
    Ok(sock)
}

/// Raise the soft open-file limit to the hard one; returns the soft limit now in force.
pub fn raise_fd_limit() -> u64 {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut lim = getrlimit(Resource::Nofile);
    if lim.current != lim.maximum {
        lim.current = lim.maximum;
        if let Err(e) = setrlimit(Resource::Nofile, lim) {
            tracing::debug!(error = %e, "could not raise the open-file limit");
        }
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}
