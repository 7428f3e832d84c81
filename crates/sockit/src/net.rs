//! Socket basics every tool shares: binding, the errors of bind and connect said in one line
//! with what to do about them, zones of link-local addresses, socket options, the open-file
//! limit, and the one receive-until-deadline loop.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use socket2::{Domain, Protocol, Socket, Type};

use crate::hint::Hint;
use crate::peer::Peer;
use crate::resolve::ResolveError;

/// The lecture's port for the UDP and TCP demos.
pub const DEFAULT_PORT: u16 = 40000;

/// A network operation that failed, with the address it concerned: what was being done
/// ([`Doing`]) and why it failed ([`Why`], or the OS's error), as types.
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
    #[error("{doing}: {cause}")]
    Io { doing: Doing, cause: io::Error },
    #[error("{doing}: {why}")]
    Failed { doing: Doing, why: Why },
    /// A TLS handshake the other side or its certificate ended, with what to do about it.
    #[error("TLS handshake with {peer} failed ({cause}): {hint}")]
    Handshake { peer: String, cause: rustls::Error, hint: &'static str },
    /// The broker of a chat cluster (never with its credentials).
    #[error("{0}")]
    Cluster(String),
    /// A failure the user can do something about.
    #[error("{text}")]
    Advice { text: String, hint: Hint },
}

impl NetError {
    /// Wrap an I/O error with what was being done.
    pub fn io(doing: Doing, cause: io::Error) -> NetError {
        NetError::Io { doing, cause }
    }

    /// What was being done, and why it failed where the OS gave no error.
    pub fn failed(doing: Doing, why: Why) -> NetError {
        NetError::Failed { doing, why }
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

/// What sockit was doing when it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Doing {
    Accept,
    AcceptOn(String),
    Receive,
    Send,
    /// Writing what was received to the output.
    Output,
    /// Reading what to send from the input.
    Input,
    SetTimeout,
    /// Setting a socket option, by its C name.
    SetOption(&'static str),
    OpenSocket,
    SocketPair,
    Duplicate,
    Wait,
    SignalHandlers,
    StartThread,
    StartRuntime,
    LocalAddress,
    PeerAddress,
    /// Serving many clients at once (`tcp listen --keep-open`).
    KeepOpen,
    ChatServer,
    Relay,
    RelayOn(SocketAddr),
    Discovery,
    DiscoverySocket,
    ProbeTo(SocketAddr),
    /// Waiting for replies while sending.
    Replies,
    Tls,
    TlsWith(String),
    TlsHandshake(String),
    /// A TLS handshake that ended without a connection.
    TlsHandshakeFailed(String),
    MakeCertificate,
    MakeKey,
    TlsVersions,
    /// A certificate and key of one side that do not make a pair (`client` for a client's).
    PairKey {
        client: bool,
    },
    ReadKey(PathBuf),
    ReadPem {
        what: &'static str,
        path: PathBuf,
    },
    ReadCertificates(PathBuf),
    /// Reading a file of sockit's (`what` it holds).
    ReadFile {
        what: &'static str,
        path: PathBuf,
    },
    /// A file that was read but holds no certificate.
    CertificateFile(PathBuf),
    ServerName(String),
    Open(PathBuf),
    Write(PathBuf),
    Run(String),
    ListenOn(SocketAddr),
    ListenUnix(String),
    Connect(Peer),
    ConnectFrom {
        to: SocketAddr,
        from: IpAddr,
    },
    /// Any address to connect to.
    ConnectAny,
    UnixAddress(String),
    Name(String),
    Connection(Peer),
    /// A connection whose peer stopped answering keepalive probes or retransmissions.
    PeerGone(Peer),
    /// Sending the rest of the input to a peer that closed, with how much was sent.
    FinishInput {
        peer: Peer,
        sent: u64,
    },
    JoinGroup(IpAddr),
    Interface(String),
    ReadClusterKey(PathBuf),
    ReadCredentials(PathBuf),
    UseCredentials(PathBuf),
    /// Talking to a proxy (`host:port`).
    Proxy(String),
    /// Reaching a target through a proxy.
    ProxyTarget {
        proxy: String,
        target: String,
    },
}

impl std::fmt::Display for Doing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Doing::Accept => f.write_str("accept"),
            Doing::AcceptOn(path) => write!(f, "accept on {path}"),
            Doing::Receive => f.write_str("receive"),
            Doing::Send => f.write_str("send"),
            Doing::Output => f.write_str("output"),
            Doing::Input => f.write_str("input"),
            Doing::SetTimeout => f.write_str("timeout"),
            Doing::SetOption(name) => f.write_str(name),
            Doing::OpenSocket => f.write_str("socket"),
            Doing::SocketPair => f.write_str("socketpair"),
            Doing::Duplicate => f.write_str("dup"),
            Doing::Wait => f.write_str("wait"),
            Doing::SignalHandlers => f.write_str("signal handlers"),
            Doing::StartThread => f.write_str("cannot start a thread"),
            Doing::StartRuntime => f.write_str("cannot start the runtime"),
            Doing::LocalAddress => f.write_str("local address"),
            Doing::PeerAddress => f.write_str("peer address"),
            Doing::KeepOpen => f.write_str("keep-open"),
            Doing::ChatServer => f.write_str("chat server"),
            Doing::Relay => f.write_str("relay"),
            Doing::RelayOn(local) => write!(f, "relay on {local}"),
            Doing::Discovery => f.write_str("discovery"),
            Doing::DiscoverySocket => f.write_str("discovery socket"),
            Doing::ProbeTo(to) => write!(f, "probe to {to}"),
            Doing::Replies => f.write_str("replies"),
            Doing::Tls => f.write_str("TLS"),
            Doing::TlsWith(peer) => write!(f, "TLS with {peer}"),
            Doing::TlsHandshake(peer) => write!(f, "TLS handshake with {peer}"),
            Doing::TlsHandshakeFailed(peer) => write!(f, "TLS handshake with {peer} failed"),
            Doing::MakeCertificate => f.write_str("cannot make a self-signed certificate"),
            Doing::MakeKey => f.write_str("self-signed key"),
            Doing::TlsVersions => f.write_str("TLS versions"),
            Doing::PairKey { client: false } => f.write_str("the certificate and key do not go together"),
            Doing::PairKey { client: true } => f.write_str("the client certificate and key do not go together"),
            Doing::ReadKey(path) => write!(f, "cannot read a private key from {}", path.display()),
            Doing::ReadPem { what, path } => write!(f, "cannot read {what} from {}", path.display()),
            Doing::ReadCertificates(path) => write!(f, "cannot read certificates from {}", path.display()),
            Doing::ReadFile { what, path } => write!(f, "cannot read {what} from {}", path.display()),
            Doing::CertificateFile(path) | Doing::Open(path) => write!(f, "{}", path.display()),
            Doing::ServerName(host) => write!(f, "'{host}' as a TLS server name"),
            Doing::Write(path) => write!(f, "cannot write {}", path.display()),
            Doing::Run(cmd) => write!(f, "cannot run {cmd}"),
            Doing::ListenOn(addr) => write!(f, "listen on {addr}"),
            Doing::ListenUnix(path) => write!(f, "cannot listen on {path}"),
            Doing::Connect(to) => write!(f, "cannot connect to {to}"),
            Doing::ConnectFrom { to, from } => write!(f, "cannot connect to {to} from {from}"),
            Doing::ConnectAny => f.write_str("connect"),
            Doing::UnixAddress(path) => write!(f, "{path} is not a Unix socket address"),
            Doing::Name(name) => f.write_str(name),
            Doing::Connection(peer) => write!(f, "connection with {peer}"),
            Doing::PeerGone(peer) => write!(f, "connection with {peer}: the peer stopped answering (it is gone)"),
            Doing::FinishInput { peer, sent } => {
                write!(f, "connection with {peer} closed before all of the input was sent ({sent} bytes sent)")
            }
            Doing::JoinGroup(group) => write!(f, "cannot join the multicast group {group}"),
            Doing::Interface(name) => write!(f, "interface {name}"),
            Doing::ReadClusterKey(path) => write!(f, "cannot read the cluster key from {}", path.display()),
            Doing::ReadCredentials(path) => write!(f, "cannot read credentials from {}", path.display()),
            Doing::UseCredentials(path) => write!(f, "cannot use credentials from {}", path.display()),
            Doing::Proxy(at) => write!(f, "proxy {at}"),
            Doing::ProxyTarget { proxy, target } => write!(f, "proxy {proxy}: {target}"),
        }
    }
}

/// Why an operation failed, where the reason is sockit's or a library's rather than the OS's.
#[derive(Debug, thiserror::Error)]
pub enum Why {
    #[error("no IPv6 on this host")]
    NoIpv6,
    #[error("nowhere to probe")]
    NowhereToProbe,
    #[error("no address")]
    NoAddress,
    #[error("no address to connect to")]
    NoAddressToConnect,
    #[error("the source address is of the other family")]
    OtherFamily,
    #[error("it has no IPv4 address to send multicast from")]
    NoIpv4,
    #[error("the listener stopped")]
    ListenerStopped,
    #[error("the server is stopping")]
    ServerStopping,
    #[error("the listener failed")]
    ListenerFailed,
    #[error("the tunnel failed")]
    TunnelFailed,
    #[error("a UDP relay forwards to udp:HOST:PORT")]
    UdpRelayTarget,
    #[error("udp: targets take datagrams from udp-listen: only")]
    UdpTargetAlone,
    #[error("the peer closed the connection")]
    PeerClosed,
    #[error("no handshake within {secs} s")]
    NoHandshake { secs: u64 },
    #[error("no answer within {secs} s")]
    NoAnswer { secs: f64 },
    #[error("it closed the connection mid-answer")]
    ClosedMidAnswer,
    #[error("refused: nothing listens on that port")]
    TargetRefused,
    #[error("no PEM certificate in the file")]
    NoPemCertificate,
    #[error("its first line is not USER:PASSWORD (nor is it NATS credentials)")]
    NotUserPassword,
    #[error("NATS credentials are for a broker, not a proxy: give USER:PASSWORD")]
    NatsForProxy,
    #[error("it names a directory, not a socket file")]
    NamesDirectory,
    #[error("it exists and is not a socket: remove it or pick another path")]
    NotASocket,
    #[error("it is not a socket")]
    IsNotASocket,
    #[error("no such socket")]
    NoSuchSocket,
    #[error("nothing listens on it (a socket file left behind)")]
    StaleSocket,
    #[error("permission denied: the socket or its directory is not yours to use")]
    SocketNotYours,
    #[error("permission denied: its directory is not yours to write")]
    DirectoryNotYours,
    #[error("a program listens on it already")]
    Listening,
    #[error("its directory: {0}")]
    Directory(std::io::Error),
    #[error("it changed while sockit looked at it: {0}")]
    Changed(std::io::Error),
    #[error("it changed while sockit looked at it: try again")]
    ChangedTryAgain,
    #[error("a stale socket file that cannot be removed: {0}")]
    CannotRemove(std::io::Error),
    /// A TLS failure, with what to do about it.
    #[error("{detail}")]
    Handshake { detail: &'static str },
    /// A SOCKS5 proxy's answer.
    #[error(transparent)]
    Socks(#[from] sockit_core::proxy::SocksError),
    /// An HTTP proxy's answer.
    #[error(transparent)]
    Http(#[from] sockit_core::proxy::HttpError),
    /// Reaching the proxy itself.
    #[error(transparent)]
    Net(Box<NetError>),
    /// What a library said (TLS, certificates).
    #[error(transparent)]
    Library(Box<dyn std::error::Error + Send + Sync>),
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
            _ => NetError::io(Doing::Connect(Peer::Inet(addr)), e),
        },
    }
}

/// A socket bound to `addr`, with SO_REUSEADDR (a restarted TCP server can bind while old
/// connections linger in TIME_WAIT; UDP receivers that all set it share a port, and each hears
/// every broadcast: two chat rooms on one host are both discoverable) and IPv6 sockets
/// dual-stack.
pub fn bound_socket(addr: SocketAddr, ty: Type) -> Result<Socket, NetError> {
    let proto = if ty == Type::STREAM { Protocol::TCP } else { Protocol::UDP };
    let sock =
        Socket::new(Domain::for_address(addr), ty, Some(proto)).map_err(|e| NetError::io(Doing::OpenSocket, e))?;
    sock.set_reuse_address(true).map_err(|e| NetError::io(Doing::SetOption("SO_REUSEADDR"), e))?;
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

/// An integer socket option (`setsockopt`) that socket2 and rustix do not name.
#[allow(unsafe_code)]
pub(crate) fn set_int_option(
    sock: impl std::os::fd::AsFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let len = libc::socklen_t::try_from(std::mem::size_of::<libc::c_int>()).unwrap_or(4);
    // SAFETY: setsockopt on a descriptor the caller holds, with an int the size it is given as.
    let r = unsafe { libc::setsockopt(sock.as_fd().as_raw_fd(), level, name, (&raw const value).cast(), len) };
    if r == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
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
        sock.set_read_timeout(Some(left.min(SLICE))).map_err(|e| NetError::io(Doing::SetTimeout, e))?;
        match sock.recv_from(&mut buf) {
            Ok((len, from)) => {
                n += 1;
                on(&buf[..len], from).map_err(|e| NetError::io(Doing::Output, e))?;
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::ConnectionRefused | io::ErrorKind::Interrupted) => {}
            Err(e) => return Err(NetError::io(Doing::Receive, e)),
        }
    }
}

/// Turn on keepalive probes: a silent peer is probed after `every`, every `every`, three
/// times; one that answers none is gone.
pub fn keepalive(stream: &std::net::TcpStream, every: std::time::Duration) -> Result<(), NetError> {
    let probes = socket2::TcpKeepalive::new().with_time(every).with_interval(every).with_retries(3);
    socket2::SockRef::from(stream)
        .set_tcp_keepalive(&probes)
        .map_err(|e| NetError::io(Doing::SetOption("SO_KEEPALIVE"), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_is_matched_by_type_and_said_in_one_line() {
        let e = crate::unix::unix_error("/nonexistent/sockit.sock", io::ErrorKind::NotFound.into());
        assert!(
            matches!(&e, NetError::Failed { doing: Doing::Connect(Peer::Unix(p)), why: Why::NoSuchSocket } if p == "/nonexistent/sockit.sock"),
            "{e:?}"
        );
        assert_eq!(e.to_string(), "cannot connect to /nonexistent/sockit.sock: no such socket");
        let addr: SocketAddr = "[::1]:5".parse().expect("address");
        assert_eq!(
            NetError::failed(Doing::ProbeTo(addr), Why::NoIpv6).to_string(),
            "probe to [::1]:5: no IPv6 on this host"
        );
        let e = NetError::io(Doing::Output, io::ErrorKind::BrokenPipe.into());
        assert!(e.is_broken_pipe());
        assert_eq!(e.to_string(), "output: broken pipe");
        let proxy =
            NetError::failed(Doing::Proxy("127.0.0.1:1080".into()), sockit_core::proxy::SocksError::Refused(5).into());
        assert!(proxy.to_string().starts_with("proxy 127.0.0.1:1080: "), "{proxy}");
    }
}
