//! A TCP listener and the rules of who may come in (`--allow`, `--deny`): the accept loop that
//! turns away who the rules refuse and survives the errors that cost one connection.

use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use socket2::Type;
use sockit_core::addr::Cidr;

use crate::net::{self, Doing, NetError, Why};

/// Which clients a listener takes (made with `AccessRules::new`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessRules {
    /// If any, a client must be in one of these.
    allow: Vec<Cidr>,
    /// A client in any of these is turned away.
    deny: Vec<Cidr>,
}

impl AccessRules {
    /// Rules as given; both they and the peers they judge are compared in canonical form
    /// (IPv4-mapped = IPv4), so `--deny ::ffff:127.0.0.1` keeps out 127.0.0.1 and `--deny
    /// 127.0.0.1` keeps out ::ffff:127.0.0.1.
    pub fn new(allow: Vec<Cidr>, deny: Vec<Cidr>) -> AccessRules {
        let canon = |v: Vec<Cidr>| v.iter().map(|c| c.canonical().network_cidr()).collect();
        AccessRules { allow: canon(allow), deny: canon(deny) }
    }

    /// Only this host's own loopback addresses (127.0.0.0/8 and ::1).
    pub fn loopback() -> AccessRules {
        let v4 = Cidr::new(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8).unwrap_or_else(|_| unreachable!("/8 fits"));
        let v6 =
            Cidr::new(IpAddr::V6(std::net::Ipv6Addr::LOCALHOST), 128).unwrap_or_else(|_| unreachable!("/128 fits"));
        AccessRules::new(vec![v4, v6], Vec::new())
    }

    pub fn admits(&self, ip: IpAddr) -> bool {
        let ip = sockit_core::addr::canonical_ip(ip);
        (self.allow.is_empty() || self.allow.iter().any(|c| c.contains(ip)))
            && !self.deny.iter().any(|c| c.contains(ip))
    }
}

/// A TCP listener.
#[derive(Debug)]
pub struct Listener {
    inner: TcpListener,
}

impl Listener {
    /// Bind and listen on `addr` (port 0 picks a free port), or take the socket systemd passed.
    pub fn bind(addr: SocketAddr) -> Result<Listener, NetError> {
        // A socket systemd passed (socket activation) is the listener, wherever it listens.
        if let Some(inner) = crate::systemd::take_listener() {
            return Ok(Listener { inner });
        }
        let sock = net::bound_socket(addr, Type::STREAM)?;
        // As deep as the system allows (net.core.somaxconn caps it: 4,096 by default): a burst
        // of connections past the queue loses SYNs, each retried a second later.
        sock.listen(i32::MAX).map_err(|e| NetError::io(Doing::ListenOn(addr), e))?;
        Ok(Listener { inner: sock.into() })
    }

    pub fn local_addr(&self) -> Result<SocketAddr, NetError> {
        self.inner.local_addr().map_err(|e| NetError::io(Doing::LocalAddress, e))
    }

    /// The std listener, for a loop of the caller's to poll.
    pub fn as_std(&self) -> &TcpListener {
        &self.inner
    }

    /// The std listener, for an async runtime to take over.
    pub fn into_std(self) -> TcpListener {
        self.inner
    }

    /// The next client the rules admit; turned-away clients are closed at once.
    pub fn accept(&self, rules: &AccessRules) -> Result<(TcpStream, SocketAddr), NetError> {
        self.accept_unless(rules, &|| false)?.ok_or_else(|| NetError::failed(Doing::Accept, Why::ListenerStopped))
    }

    /// `accept`, asking `stop` every 200 ms: `None` once it says so.
    pub fn accept_unless(
        &self,
        rules: &AccessRules,
        stop: &dyn Fn() -> bool,
    ) -> Result<Option<(TcpStream, SocketAddr)>, NetError> {
        use rustix::event::{PollFd, PollFlags, Timespec, poll};
        loop {
            if stop() {
                return Ok(None);
            }
            let mut fds = [PollFd::new(&self.inner, PollFlags::IN)];
            match poll(&mut fds, Some(&Timespec { tv_sec: 0, tv_nsec: 200_000_000 })) {
                Ok(0) | Err(rustix::io::Errno::INTR) => continue,
                Ok(_) => {}
                Err(e) => return Err(NetError::io(Doing::Accept, e.into())),
            }
            match self.inner.accept() {
                Ok((s, peer)) if rules.admits(peer.ip()) => {
                    let _ = s.set_nodelay(true);
                    tracing::info!(%peer, "connection accepted");
                    return Ok(Some((s, peer)));
                }
                Ok((_, peer)) => tracing::info!(%peer, "connection denied by the access rules"),
                // A client that reset before accept() finished, or a transient shortage: the
                // next client is unaffected.
                Err(e) if net::accept_error_is_transient(&e) => {
                    tracing::info!(error = %e, "accept failed");
                    if net::accept_error_is_shortage(&e) {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
                Err(e) => return Err(NetError::io(Doing::Accept, e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_and_peers_meet_in_one_form() {
        let cidr = |s: &str| Cidr::parse(s).expect("cidr");
        let v4 = |s: &str| IpAddr::V4(s.parse().expect("v4"));
        let mapped = |s: &str| IpAddr::V6(s.parse::<std::net::Ipv4Addr>().expect("v4").to_ipv6_mapped());
        let deny_mapped = AccessRules::new(vec![], vec![cidr("::ffff:127.0.0.1")]);
        assert!(!deny_mapped.admits(v4("127.0.0.1")) && !deny_mapped.admits(mapped("127.0.0.1")));
        assert!(deny_mapped.admits(v4("127.0.0.2")));
        let deny_v4 = AccessRules::new(vec![], vec![cidr("127.0.0.0/8")]);
        assert!(!deny_v4.admits(mapped("127.9.9.9")) && deny_v4.admits(mapped("10.0.0.1")));
        let allow_mapped_block = AccessRules::new(vec![cidr("::ffff:10.0.0.0/104")], vec![]);
        assert!(allow_mapped_block.admits(v4("10.1.2.3")) && !allow_mapped_block.admits(v4("11.0.0.1")));
        assert!(!allow_mapped_block.admits("::1".parse().expect("v6")));
    }
}
