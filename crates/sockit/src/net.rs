//! Socket basics every tool shares: binding, the errors of bind and connect said in one line
//! with what to do about them, zones of link-local addresses, socket options, the open-file
//! limit, and the one receive-until-deadline loop.

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

use crate::hint::Hint;
use crate::resolve::ResolveError;

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
    #[error("sending to {addr}, a broadcast address, needs SO_BROADCAST")]
    NeedsBroadcast { addr: SocketAddr },
    #[error("a datagram of {size} bytes is over the UDP limit of {limit} bytes: send less at a time")]
    TooLarge { size: usize, limit: usize },
    #[error("no interface '{zone}' on this host: the zone after % is an interface name (ip link lists them) or index")]
    NoZone { zone: String },
    #[error("{addr} is a link-local address, which needs its interface: write it like fe80::1%eth0")]
    NeedsZone { addr: SocketAddr },
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    // The cause is part of the one line, not a separate `source` (which would print twice).
    #[error("{what}: {cause}")]
    Io { what: String, cause: io::Error },
    /// The broker of a chat cluster (never with its credentials).
    #[error("{0}")]
    Cluster(String),
    /// A failure the user can do something about.
    #[error("{text}")]
    Advice { text: String, hint: Hint },
}

impl NetError {
    /// Wrap an I/O error with what was being done.
    pub fn io(what: impl Into<String>, cause: io::Error) -> NetError {
        NetError::Io { what: what.into(), cause }
    }

    /// Whether the output went away (`sockit ... | head`): success for the user.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, NetError::Io { cause, .. } if cause.kind() == io::ErrorKind::BrokenPipe)
    }

    /// What the user can do about it, if the library knows.
    pub fn hint(&self) -> Option<Hint> {
        match self {
            NetError::NeedsBroadcast { .. } => Some(Hint::AllowBroadcast),
            NetError::Advice { hint, .. } => Some(*hint),
            NetError::Resolve(e) => e.hint(),
            _ => None,
        }
    }

    /// Whether the user must fix the command (exit 2) rather than the world (exit 1).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            NetError::NeedsBroadcast { .. }
                | NetError::TooLarge { .. }
                | NetError::NoZone { .. }
                | NetError::NeedsZone { .. }
        )
    }
}

/// The one list of accept errors that cost one connection rather than the server: a client
/// that reset before accept() finished, or a passing shortage of descriptors or memory.
pub fn accept_error_is_transient(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(
            libc::ECONNABORTED
                | libc::ECONNRESET
                | libc::EINTR
                | libc::EMFILE
                | libc::ENFILE
                | libc::ENOBUFS
                | libc::ENOMEM
                | libc::EPROTO
                | libc::EPERM
        )
    )
}

/// Whether a transient accept error is a shortage worth a short pause before the next try.
pub fn accept_error_is_shortage(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM))
}

/// The largest UDP payload for an address family.
pub fn max_datagram(addr: &SocketAddr) -> usize {
    if addr.is_ipv4() { 65_507 } else { 65_527 }
}

/// The index of the interface a zone names: a number is the index itself, a name is looked up.
pub fn zone_index(zone: &str) -> Result<u32, NetError> {
    if let Ok(index) = zone.parse::<u32>() {
        return Ok(index);
    }
    crate::ifaces::links()
        .into_iter()
        .find(|l| l.name == zone)
        .map(|l| l.index)
        .ok_or_else(|| NetError::NoZone { zone: zone.to_string() })
}

/// An IPv6 address in a zone, as a socket address.
pub fn scoped(ip: std::net::Ipv6Addr, zone: &str, port: u16) -> Result<SocketAddr, NetError> {
    Ok(SocketAddr::V6(std::net::SocketAddrV6::new(ip, port, 0, zone_index(zone)?)))
}

/// Whether `e` is the kernel refusing a link-local IPv6 address given without its zone.
fn zone_missing(addr: SocketAddr, e: &io::Error) -> bool {
    matches!(addr, SocketAddr::V6(a) if a.scope_id() == 0 && a.ip().segments()[0] & 0xffc0 == 0xfe80)
        && e.raw_os_error() == Some(libc::EINVAL)
}

/// The error for a failed bind, with the fix.
pub fn bind_error(addr: SocketAddr, e: io::Error) -> NetError {
    if zone_missing(addr, &e) {
        return NetError::NeedsZone { addr };
    }
    match e.kind() {
        io::ErrorKind::AddrInUse => NetError::InUse { addr },
        io::ErrorKind::PermissionDenied => NetError::Privileged { addr },
        _ => NetError::Bind { addr, cause: e },
    }
}

/// The error for a failed connect.
pub fn connect_error(addr: SocketAddr, e: io::Error, timeout: Option<std::time::Duration>) -> NetError {
    if zone_missing(addr, &e) {
        return NetError::NeedsZone { addr };
    }
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

/// A socket bound to `addr`, with SO_REUSEADDR (a restarted TCP server can bind while old
/// connections linger in TIME_WAIT; UDP receivers that all set it share a port, and each hears
/// every broadcast: two chat rooms on one host are both discoverable) and IPv6 sockets
/// dual-stack.
pub fn bound_socket(addr: SocketAddr, ty: Type) -> Result<Socket, NetError> {
    let proto = if ty == Type::STREAM { Protocol::TCP } else { Protocol::UDP };
    let sock = Socket::new(Domain::for_address(addr), ty, Some(proto)).map_err(|e| NetError::io("socket", e))?;
    sock.set_reuse_address(true).map_err(|e| NetError::io("SO_REUSEADDR", e))?;
    if addr.is_ipv6() {
        // [::] also takes IPv4 clients, as people expect of "listen on every address".
        let _ = sock.set_only_v6(false);
    }
    sock.bind(&addr.into()).map_err(|e| bind_error(addr, e))?;
    Ok(sock)
}

/// The unspecified address (any, port 0) of `peer`'s family: where a socket that talks to
/// `peer` is bound when nothing says where.
pub fn any_of_family(peer: SocketAddr) -> SocketAddr {
    if peer.is_ipv4() { SocketAddr::from(([0, 0, 0, 0], 0)) } else { SocketAddr::from(([0u16; 8], 0)) }
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

/// The one receive-until-deadline loop: every datagram that reaches `sock` before `deadline`
/// goes to `on`; ICMP errors for earlier sends and interruptions are passed over. Returns how
/// many arrived.
pub fn recv_until(
    sock: &std::net::UdpSocket,
    deadline: std::time::Instant,
    on: impl FnMut(&[u8], SocketAddr) -> io::Result<()>,
) -> Result<u64, NetError> {
    recv_until_known(sock, &|| Some(deadline), on)
}

/// `recv_until` a deadline that may not be known yet (`None`: listen on), asked again at
/// least every 100 ms.
pub fn recv_until_known(
    sock: &std::net::UdpSocket,
    deadline: &dyn Fn() -> Option<std::time::Instant>,
    mut on: impl FnMut(&[u8], SocketAddr) -> io::Result<()>,
) -> Result<u64, NetError> {
    const SLICE: std::time::Duration = std::time::Duration::from_millis(100);
    let mut buf = vec![0u8; 65_536];
    let mut n = 0;
    loop {
        let left = match deadline() {
            Some(d) => d.saturating_duration_since(std::time::Instant::now()),
            None => SLICE,
        };
        if left.is_zero() {
            return Ok(n);
        }
        sock.set_read_timeout(Some(left.min(SLICE))).map_err(|e| NetError::io("timeout", e))?;
        match sock.recv_from(&mut buf) {
            Ok((len, from)) => {
                n += 1;
                on(&buf[..len], from).map_err(|e| NetError::io("output", e))?;
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::ConnectionRefused | io::ErrorKind::Interrupted) => {}
            Err(e) => return Err(NetError::io("receive", e)),
        }
    }
}

/// Turn on keepalive probes: a silent peer is probed after `every`, every `every`, three
/// times; one that answers none is gone.
pub fn keepalive(stream: &std::net::TcpStream, every: std::time::Duration) -> Result<(), NetError> {
    let probes = socket2::TcpKeepalive::new().with_time(every).with_interval(every).with_retries(3);
    socket2::SockRef::from(stream).set_tcp_keepalive(&probes).map_err(|e| NetError::io("SO_KEEPALIVE", e))
}
