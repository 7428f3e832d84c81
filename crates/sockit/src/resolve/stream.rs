//! DNS over a byte stream: TCP (RFC 7766) and TLS (RFC 7858), each message after its length
//! in two bytes; the transports' failures before they become a `ResolveError`. A TLS server's
//! certificate is checked as `tcp connect --tls` checks it, and its connection is kept, one a
//! server a thread, for every later question that thread asks it (a bulk list's names share
//! it, as kdig and dnsperf keep theirs).

use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use hickory_proto::op::Message;

use crate::conn::Conn;
use crate::tls::ClientTls;

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

thread_local! {
    /// This thread's TLS connections, by server.
    static TLS: RefCell<Vec<(SocketAddr, Conn)>> = const { RefCell::new(Vec::new()) };
}

/// Replies read past before the one asked for (answers to questions that timed out earlier on
/// a kept connection), at most.
const STALE: usize = 64;

/// Ask `server` over TLS: on this thread's connection to it if it has one (a connection the
/// server has closed since is made again, once), or a new one; the reply whose id is `id`.
pub(super) fn exchange_tls(
    server: SocketAddr,
    tls: &ClientTls,
    wire: &[u8],
    id: u16,
    timeout: Duration,
) -> Result<Message, Transport> {
    let kept = TLS.with_borrow_mut(|conns| conns.iter().position(|(s, _)| *s == server).map(|i| conns.remove(i).1));
    let reused = kept.is_some();
    let mut conn = match kept {
        Some(c) => c,
        None => connect_tls(server, tls, timeout)?,
    };
    let mut result = ask(&conn, wire, id);
    if reused && matches!(result, Err(Transport::Io(_) | Transport::Malformed)) {
        conn = connect_tls(server, tls, timeout)?;
        result = ask(&conn, wire, id);
    }
    if result.is_ok() {
        TLS.with_borrow_mut(|conns| conns.push((server, conn)));
    }
    result
}

fn connect_tls(server: SocketAddr, tls: &ClientTls, timeout: Duration) -> Result<Conn, Transport> {
    let host = sockit_core::endpoint::Host::Ip(server.ip());
    let connector = tls.connector(&host).map_err(|e| Transport::Failed(e.to_string()))?;
    let stream = TcpStream::connect_timeout(&server, timeout).map_err(io_transport)?;
    let _ = stream.set_nodelay(true);
    let conn = crate::tls::client(stream, connector).map_err(|e| Transport::Failed(e.to_string()))?;
    conn.stream.set_read_timeout(Some(timeout)).map_err(Transport::Io)?;
    conn.stream.set_write_timeout(Some(timeout)).map_err(Transport::Io)?;
    Ok(conn)
}

/// One question on `conn`, and its reply (replies to earlier questions passed over).
fn ask(conn: &Conn, wire: &[u8], id: u16) -> Result<Message, Transport> {
    let mut s = &conn.stream;
    send_framed(&mut s, wire)?;
    for _ in 0..=STALE {
        let body = match read_framed(&mut s) {
            Ok(b) => b,
            // The server closed the connection: the handshake may say why.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(Transport::Io(e)),
            Err(e) => return Err(io_transport(e)),
        };
        if body.len() >= 2 && u16::from_be_bytes([body[0], body[1]]) == id {
            return Message::from_vec(&body).map_err(|_| Transport::Malformed);
        }
    }
    Err(Transport::Malformed)
}
