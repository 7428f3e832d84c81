//! Who is at the other end of a connection, or where a datagram came from: an address or a
//! Unix socket's path.

use std::net::SocketAddr;

/// The other end of a connection, or where a datagram came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    Inet(SocketAddr),
    /// A Unix socket, by its path (`@name` for an abstract one).
    Unix(String),
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Peer::Inet(a) => write!(f, "{a}"),
            Peer::Unix(p) => f.write_str(p),
        }
    }
}

impl serde::Serialize for Peer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
