//! Slide 4, UDP: a receiver (on port 40000 in the lecture) that takes datagrams from any
//! number of senders, and a sender that can broadcast ("Hello there").

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use socket2::Type;

use crate::net::{self, Doing, NetError, Why};

/// One datagram received.
#[derive(Debug, Clone, Copy)]
pub struct Datagram<'a> {
    pub from: &'a crate::conn::Peer,
    pub data: &'a [u8],
}

/// How long and how much to receive.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReceiveOptions {
    /// Stop after this many datagrams.
    pub count: Option<u64>,
    /// Stop after this long without a datagram.
    pub idle_timeout: Option<Duration>,
    /// Send each datagram back to its sender (a UDP echo server).
    pub echo: bool,
}

/// Why receiving stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// `count` datagrams arrived.
    Count,
    /// Nothing arrived for `idle_timeout`.
    Idle,
}

/// A bound UDP socket that receives.
#[derive(Debug)]
pub struct Receiver {
    sock: UdpSocket,
}

impl Receiver {
    /// Bind `addr` (port 0 picks a free port).
    pub fn bind(addr: SocketAddr) -> Result<Receiver, NetError> {
        let sock = net::bound_socket(addr, Type::DGRAM)?;
        // Room for bursts from many senders.
        let _ = sock.set_recv_buffer_size(4 << 20);
        Ok(Receiver { sock: sock.into() })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> Result<SocketAddr, NetError> {
        self.sock.local_addr().map_err(|e| NetError::io(Doing::LocalAddress, e))
    }

    /// Receive until `opts` says stop, handing each datagram to `on`.
    pub fn run(
        &self,
        opts: &ReceiveOptions,
        mut on: impl FnMut(Datagram<'_>) -> io::Result<()>,
    ) -> Result<(u64, Stopped), NetError> {
        let mut buf = vec![0u8; 65_536];
        let mut n = 0u64;
        self.sock.set_read_timeout(opts.idle_timeout).map_err(|e| NetError::io(Doing::SetTimeout, e))?;
        loop {
            if opts.count.is_some_and(|c| n >= c) {
                return Ok((n, Stopped::Count));
            }
            let (len, from) = match self.sock.recv_from(&mut buf) {
                Ok(r) => r,
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    return Ok((n, Stopped::Idle));
                }
                // An ICMP error for an earlier echo: not this socket's problem.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(NetError::io(Doing::Receive, e)),
            };
            n += 1;
            let data = &buf[..len];
            on(Datagram { from: &crate::conn::Peer::Inet(from), data }).map_err(|e| NetError::io(Doing::Output, e))?;
            if opts.echo {
                // A sender that went away is the sender's business.
                if let Err(e) = self.sock.send_to(data, from) {
                    tracing::info!(%from, error = %e, "echo not sent");
                }
            }
        }
    }
}

/// Where and how to send.
#[derive(Debug, Clone)]
pub struct SendOptions {
    pub target: SocketAddr,
    /// Set SO_BROADCAST.
    pub broadcast: bool,
    /// Local address to send from (the lecture's sender binds port 40000).
    pub bind: Option<SocketAddr>,
}

/// A UDP socket that sends to one target and hears replies from anyone.
#[derive(Debug)]
pub struct Sender {
    sock: UdpSocket,
    target: SocketAddr,
}

impl Sender {
    pub fn new(opts: &SendOptions) -> Result<Sender, NetError> {
        let local = opts.bind.unwrap_or_else(|| net::any_of_family(opts.target));
        let sock = net::bound_socket(local, Type::DGRAM)?;
        if opts.broadcast {
            sock.set_broadcast(true).map_err(|e| NetError::io(Doing::SetOption("SO_BROADCAST"), e))?;
        }
        Ok(Sender { sock: sock.into(), target: opts.target })
    }

    /// The largest datagram this sender may send.
    pub fn limit(&self) -> usize {
        net::max_datagram(&self.target)
    }

    /// Send one datagram.
    pub fn send(&self, data: &[u8]) -> Result<(), NetError> {
        if data.len() > self.limit() {
            return Err(NetError::TooLarge { size: data.len(), limit: self.limit() });
        }
        match self.sock.send_to(data, self.target) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                Err(NetError::NeedsBroadcast { addr: self.target })
            }
            Err(e) if e.raw_os_error() == Some(libc::EMSGSIZE) => {
                Err(NetError::TooLarge { size: data.len(), limit: self.limit() })
            }
            Err(e) if e.raw_os_error() == Some(libc::ENETUNREACH) && self.target.ip().is_multicast() => {
                Err(no_route(self.target.ip(), "send to"))
            }
            Err(e) => Err(net::connect_error(self.target, e, None)),
        }
    }

    /// Hand every datagram that arrives within `wait` to `on`.
    pub fn replies(&self, wait: Duration, on: impl FnMut(Datagram<'_>) -> io::Result<()>) -> Result<u64, NetError> {
        let until = Instant::now() + wait;
        self.replies_until(&|| Some(until), on)
    }

    /// Hand every datagram to `on` until `deadline` says (`None`: not yet known).
    pub fn replies_until(
        &self,
        deadline: &dyn Fn() -> Option<Instant>,
        mut on: impl FnMut(Datagram<'_>) -> io::Result<()>,
    ) -> Result<u64, NetError> {
        net::recv_until_known(&self.sock, deadline, |data, from| {
            on(Datagram { from: &crate::conn::Peer::Inet(from), data })
        })
    }
}

/// What a starting `udp listen` says: where it listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    Udp(SocketAddr),
    /// A Unix datagram socket, by its path.
    UnixDatagram(String),
}

/// `udp listen`: where, and when to stop.
#[derive(Debug, Clone, PartialEq)]
pub struct ListenConfig {
    pub bind: SocketAddr,
    pub receive: ReceiveOptions,
    /// Dump each datagram in hex (`-x`), here.
    pub hexdump: Option<crate::hexdump::HexdumpTo>,
    /// Multicast groups to join, and the interface to join each on (by name; `None`: the
    /// one the kernel picks for the group).
    pub join: Vec<(std::net::IpAddr, Option<String>)>,
    /// Receive on this Unix datagram socket instead (a path, or `@name`).
    pub unix: Option<String>,
}

/// Multicast: how far datagrams go, on which interface, and whether this host hears its own.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Multicast {
    /// Hops a datagram may take (IPv4 TTL, IPv6 hop limit); the kernel's 1 when `None`.
    pub ttl: Option<u32>,
    /// The interface to send on, by name.
    pub iface: Option<String>,
    /// Deliver the datagrams to this host's own members of the group too.
    pub looped: bool,
}

/// Join `group` on `sock` (on `iface`, by name, if given).
fn join(sock: &UdpSocket, group: std::net::IpAddr, iface: Option<&str>) -> Result<(), NetError> {
    let s = socket2::SockRef::from(sock);
    let index = iface.map(net::zone_index).transpose()?.unwrap_or(0);
    let r = match group {
        std::net::IpAddr::V4(g) => s.join_multicast_v4_n(&g, &socket2::InterfaceIndexOrAddress::Index(index)),
        std::net::IpAddr::V6(g) => s.join_multicast_v6(&g, index),
    };
    r.map_err(|e| match e.raw_os_error() {
        Some(libc::ENODEV | libc::ENETUNREACH) if iface.is_none() => no_route(group, "join"),
        _ => NetError::io(Doing::JoinGroup(group), e),
    })
}

/// A multicast group no route leads to (a host with no default route): the interface must be
/// named.
fn no_route(group: std::net::IpAddr, what: &str) -> NetError {
    NetError::Advice {
        text: format!("cannot {what} the multicast group {group}: no route says which interface it is on"),
        hint: crate::hint::Hint::ChooseInterface,
    }
}

/// Set a sending socket's multicast options for `target`.
fn multicast(sock: &UdpSocket, target: SocketAddr, m: &Multicast) -> Result<(), NetError> {
    let s = socket2::SockRef::from(sock);
    let io = |what: &'static str| move |e| NetError::io(Doing::SetOption(what), e);
    let index = m.iface.as_deref().map(net::zone_index).transpose()?;
    if target.is_ipv4() {
        if let Some(ttl) = m.ttl {
            s.set_multicast_ttl_v4(ttl).map_err(io("IP_MULTICAST_TTL"))?;
        }
        if let Some(index) = index {
            let addr = interface_ipv4(index)
                .ok_or_else(|| NetError::failed(Doing::Interface(m.iface.clone().unwrap_or_default()), Why::NoIpv4))?;
            s.set_multicast_if_v4(&addr).map_err(io("IP_MULTICAST_IF"))?;
        }
        s.set_multicast_loop_v4(m.looped).map_err(io("IP_MULTICAST_LOOP"))?;
    } else {
        if let Some(ttl) = m.ttl {
            s.set_multicast_hops_v6(ttl).map_err(io("IPV6_MULTICAST_HOPS"))?;
        }
        if let Some(index) = index {
            s.set_multicast_if_v6(index).map_err(io("IPV6_MULTICAST_IF"))?;
        }
        s.set_multicast_loop_v6(m.looped).map_err(io("IPV6_MULTICAST_LOOP"))?;
    }
    Ok(())
}

/// The first IPv4 address of the interface with this index.
fn interface_ipv4(index: u32) -> Option<std::net::Ipv4Addr> {
    crate::ifaces::links().into_iter().find(|l| l.index == index)?.addrs.iter().find_map(|a| match a.addr {
        std::net::IpAddr::V4(v4) => Some(v4),
        std::net::IpAddr::V6(_) => None,
    })
}

/// What `udp listen` received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    pub count: u64,
    pub stopped: Stopped,
}

/// `udp listen`: bind, say where through `started` (the address and its kind), and hand each
/// datagram to `on`.
pub fn listen_run(
    cfg: &ListenConfig,
    started: &mut dyn FnMut(Started),
    on: impl FnMut(Datagram<'_>) -> io::Result<()>,
) -> Result<Received, NetError> {
    if let Some(path) = &cfg.unix {
        return unix_listen(cfg, path, started, on);
    }
    let receiver = Receiver::bind(cfg.bind)?;
    for (group, iface) in &cfg.join {
        join(&receiver.sock, *group, iface.as_deref())?;
    }
    let dump = cfg.hexdump.as_ref().map(crate::hexdump::Hexdump::open).transpose()?;
    started(Started::Udp(receiver.local_addr()?));
    let mut on = on;
    let (count, stopped) = receiver.run(&cfg.receive, |d| {
        if let Some(dump) = &dump {
            dump.datagram(false, d.from, d.data);
        }
        on(d)
    })?;
    Ok(Received { count, stopped })
}

/// `udp listen --unix`: datagrams on a Unix socket, each with its sender's path (`-` when the
/// sender's socket has none), until `count` or `idle_timeout`; the socket file goes after.
fn unix_listen(
    cfg: &ListenConfig,
    path: &str,
    started: &mut dyn FnMut(Started),
    mut on: impl FnMut(Datagram<'_>) -> io::Result<()>,
) -> Result<Received, NetError> {
    let (sock, file) = crate::unix::unix_bound(path, std::os::unix::net::UnixDatagram::bind_addr)?;
    let dump = cfg.hexdump.as_ref().map(crate::hexdump::Hexdump::open).transpose()?;
    started(Started::UnixDatagram(path.to_string()));
    let r = (|| -> Result<Received, NetError> {
        sock.set_read_timeout(cfg.receive.idle_timeout).map_err(|e| NetError::io(Doing::SetTimeout, e))?;
        let mut buf = vec![0u8; 65_536];
        let mut n = 0u64;
        loop {
            if cfg.receive.count.is_some_and(|c| n >= c) {
                return Ok(Received { count: n, stopped: Stopped::Count });
            }
            let (len, from) = match sock.recv_from(&mut buf) {
                Ok(r) => r,
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    return Ok(Received { count: n, stopped: Stopped::Idle });
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(NetError::io(Doing::Receive, e)),
            };
            n += 1;
            let sender = crate::conn::Peer::Unix(from.as_pathname().map_or("-".into(), |p| p.display().to_string()));
            if let Some(dump) = &dump {
                dump.datagram(false, &sender, &buf[..len]);
            }
            on(Datagram { from: &sender, data: &buf[..len] }).map_err(|e| NetError::io(Doing::Output, e))?;
        }
    })();
    // The socket file goes with the socket.
    drop((sock, file));
    r
}

/// Send what `cfg` says (the message, or the input a line a datagram, or raw in datagrams of
/// up to `limit` bytes) through `send`; how many went.
fn each_datagram(
    cfg: &SendConfig,
    input: impl io::Read,
    limit: usize,
    send: impl Fn(&[u8]) -> Result<(), NetError>,
) -> Result<u64, NetError> {
    let mut sent = 0u64;
    let read = |e| NetError::io(Doing::Input, e);
    match &cfg.message {
        Some(m) => {
            send(m.as_bytes())?;
            sent += 1;
        }
        None if cfg.raw => {
            // The input in datagram-sized chunks, each filled as far as the input allows.
            let mut input = input;
            let mut buf = vec![0u8; limit];
            loop {
                let mut len = 0;
                while len < buf.len() {
                    match input.read(&mut buf[len..]).map_err(read)? {
                        0 => break,
                        n => len += n,
                    }
                }
                if len == 0 {
                    break;
                }
                send(&buf[..len])?;
                sent += 1;
            }
        }
        None => {
            for line in io::BufRead::split(io::BufReader::new(input), b'\n') {
                let mut line = line.map_err(read)?;
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                send(&line)?;
                sent += 1;
            }
        }
    }
    Ok(sent)
}

/// `udp send`: where, what (a message, or the input line by line or raw), and replies.
#[derive(Debug, Clone, PartialEq)]
pub struct SendConfig {
    pub host: sockit_core::endpoint::Host,
    pub port: u16,
    pub broadcast: bool,
    pub bind: Option<SocketAddr>,
    /// One datagram; without it, the input is sent.
    pub message: Option<String>,
    /// The input in datagrams as large as UDP allows, instead of a datagram a line.
    pub raw: bool,
    /// After sending, hand the replies that arrive within this long to `on_reply`.
    pub wait_reply: Option<Duration>,
    /// Dump each datagram sent and received in hex (`-x`), here.
    pub hexdump: Option<crate::hexdump::HexdumpTo>,
    /// For a multicast group: TTL, interface, loop.
    pub multicast: Multicast,
    /// Send to this Unix datagram socket instead (a path, or `@name`), from an unnamed one.
    pub unix: Option<String>,
}

/// `udp send`: send, then wait for replies if asked; returns how many datagrams went out.
pub fn send_run(
    cfg: &SendConfig,
    input: impl io::Read,
    on_reply: impl FnMut(Datagram<'_>) -> io::Result<()> + Send,
) -> Result<u64, NetError> {
    if let Some(path) = &cfg.unix {
        let sock = std::os::unix::net::UnixDatagram::unbound().map_err(|e| NetError::io(Doing::OpenSocket, e))?;
        let to = crate::unix::unix_addr(path)?;
        let dump = cfg.hexdump.as_ref().map(crate::hexdump::Hexdump::open).transpose()?;
        return each_datagram(cfg, input, 65_507, |data| {
            sock.send_to_addr(data, &to).map_err(|e| crate::unix::unix_error(path, e))?;
            if let Some(dump) = &dump {
                dump.datagram(true, &path, data);
            }
            Ok(())
        });
    }
    let target = crate::dial::resolve_one(&cfg.host, cfg.port)?;
    let sender = Sender::new(&SendOptions { target, broadcast: cfg.broadcast, bind: cfg.bind })?;
    if target.ip().is_multicast() {
        multicast(&sender.sock, target, &cfg.multicast)?;
    }
    let dump = cfg.hexdump.as_ref().map(crate::hexdump::Hexdump::open).transpose()?;
    let send = |data: &[u8]| -> Result<(), NetError> {
        sender.send(data)?;
        if let Some(dump) = &dump {
            dump.datagram(true, &target, data);
        }
        Ok(())
    };
    let Some(wait) = cfg.wait_reply else {
        let sent = each_datagram(cfg, input, sender.limit(), send)?;
        tracing::info!(sent, %target, "datagrams sent");
        return Ok(sent);
    };
    // Replies are shown as they come, while the input is still sent (as ncat -u shows them),
    // and for `wait` after its end.
    let ended = std::sync::Mutex::new(None::<Instant>);
    let deadline = || *ended.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut on_reply = on_reply;
    let (sent, heard) = std::thread::scope(|s| {
        let listener = s.spawn(|| {
            sender.replies_until(&deadline, |d| {
                if let Some(dump) = &dump {
                    dump.datagram(false, d.from, d.data);
                }
                on_reply(d)
            })
        });
        let sent = each_datagram(cfg, input, sender.limit(), send);
        // A failed send ends the listening at once.
        *ended.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some(Instant::now() + if sent.is_ok() { wait } else { Duration::ZERO });
        let heard = listener.join().unwrap_or_else(|_| Err(NetError::failed(Doing::Replies, Why::ListenerFailed)));
        (sent, heard)
    });
    let sent = sent?;
    heard?;
    tracing::info!(sent, %target, "datagrams sent");
    Ok(sent)
}
