//! Finding chat servers: a probe to broadcast addresses, and the replies that come back.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use sockit_core::chat::{self, ServerInfo};

use crate::net::NetError;

/// A server that answered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Found {
    /// Where its chat listens: the replying address and the advertised port.
    pub address: SocketAddr,
    #[serde(flatten)]
    pub info: ServerInfo,
}

/// Probe each of `targets` (broadcast or unicast addresses, on their ports) and collect the
/// replies that arrive within `wait`, one per server.
pub fn discover(targets: &[SocketAddr], wait: Duration) -> Result<Vec<Found>, NetError> {
    let sock = UdpSocket::bind("0.0.0.0:0").map_err(|e| NetError::io("discovery socket", e))?;
    sock.set_broadcast(true).map_err(|e| NetError::io("SO_BROADCAST", e))?;
    let probe = chat::probe();
    for t in targets {
        sock.send_to(&probe, t).map_err(|e| NetError::io(format!("probe to {t}"), e))?;
    }
    let deadline = Instant::now() + wait;
    let mut found: Vec<Found> = Vec::new();
    let mut buf = [0u8; 2048];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        sock.set_read_timeout(Some(left)).map_err(|e| NetError::io("timeout", e))?;
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => {
                if let Some(info) = chat::parse_reply(&buf[..n]) {
                    let address = SocketAddr::new(from.ip(), info.port);
                    if !found.iter().any(|f| f.address == address) {
                        found.push(Found { address, info });
                    }
                }
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => break,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
            Err(e) => return Err(NetError::io("discovery", e)),
        }
    }
    found.sort_by_key(|f| f.address);
    Ok(found)
}

/// `ADDR` or `ADDR:PORT` for --broadcast (the discovery port by default).
pub fn parse_target(s: &str, default_port: u16) -> Option<SocketAddr> {
    s.parse::<SocketAddr>().ok().or_else(|| s.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, default_port)))
}
