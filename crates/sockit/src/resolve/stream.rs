//! DNS over a byte stream (TCP, RFC 7766), each message after its length in two bytes; and the
//! transports' failures (UDP, TCP, TLS, HTTPS) before they become a `ResolveError`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use hickory_proto::op::Message;

/// A transport failure, before it becomes a `ResolveError`.
#[derive(Debug)]
pub(super) enum Transport {
    TimedOut,
    Refused,
    Io(std::io::Error),
    Malformed,
    /// TLS or HTTP could not carry the question: what went wrong and what to do, said whole.
    Failed(String),
}

pub(super) fn io_transport(e: std::io::Error) -> Transport {
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => Transport::TimedOut,
        std::io::ErrorKind::ConnectionRefused => Transport::Refused,
        _ => Transport::Io(e),
    }
}

pub(super) fn clone_io(e: &std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), e.to_string())
}

impl Transport {
    /// The same failure again, for another question that met it.
    pub(super) fn again(&self) -> Transport {
        match self {
            Transport::TimedOut => Transport::TimedOut,
            Transport::Refused => Transport::Refused,
            Transport::Io(e) => Transport::Io(clone_io(e)),
            Transport::Malformed => Transport::Malformed,
            Transport::Failed(why) => Transport::Failed(why.clone()),
        }
    }
}

pub(super) fn exchange_tcp(server: SocketAddr, wire: &[u8], timeout: Duration) -> Result<Message, Transport> {
    let mut s = TcpStream::connect_timeout(&server, timeout).map_err(io_transport)?;
    s.set_read_timeout(Some(timeout)).map_err(Transport::Io)?;
    s.set_write_timeout(Some(timeout)).map_err(Transport::Io)?;
    send_framed(&mut s, wire)?;
    let body = read_framed(&mut s).map_err(io_transport)?;
    Message::from_vec(&body).map_err(|_| Transport::Malformed)
}

/// A DNS message over a stream: its length in two bytes, then the message.
pub(super) fn send_framed(mut s: impl Write, wire: &[u8]) -> Result<(), Transport> {
    let len = u16::try_from(wire.len()).map_err(|_| Transport::Malformed)?;
    let mut framed = Vec::with_capacity(wire.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(wire);
    s.write_all(&framed).map_err(io_transport)
}

/// The next DNS message over a stream (its two length bytes read first).
pub(super) fn read_framed(s: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len)?;
    let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut body)?;
    Ok(body)
}
