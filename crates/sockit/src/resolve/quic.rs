//! DNS over QUIC (RFC 9250): one QUIC connection to the server (ALPN `doq`, quinn on a tokio
//! runtime of its own, one worker), a stream a question: the message with id 0 after its
//! length, the stream finished, the reply read to the stream's end. A carrier like the others,
//! so a lookup keeps its connection and a bulk run puts every question in flight on one.

use std::collections::VecDeque;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Duration;

use super::carrier::{Carrier, Got};
use super::stream::{Transport, io_transport};

/// What a question's stream ended with.
enum Done {
    /// A reply, its id put back to the question's.
    Reply(Vec<u8>),
    Failed(u16, String),
}

pub(super) struct Quic {
    server: SocketAddr,
    conn: quinn::Connection,
    _endpoint: quinn::Endpoint,
    done: (Sender<Done>, Receiver<Done>),
    ready: VecDeque<Done>,
    // Last, so the connection and endpoint go before the runtime that drives them.
    rt: tokio::runtime::Runtime,
}

/// The largest reply read from a stream: a DNS message and its length.
const MAX_REPLY: usize = 2 + 65_535;

impl Quic {
    /// Connect and shake hands within `timeout`.
    pub(super) fn new(server: SocketAddr, tls: &crate::tls::ClientTls, timeout: Duration) -> Result<Quic, Transport> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(Transport::Io)?;
        let (endpoint, conn) = rt.block_on(connect(server, tls, b"doq", timeout))?;
        Ok(Quic { server, conn, _endpoint: endpoint, done: channel(), ready: VecDeque::new(), rt })
    }
}

/// A QUIC connection to `server` offering the application protocol `alpn` (`doq`, or `h3` for
/// DNS over HTTP/3), the certificate checked as `tls` says, within `timeout`; on a runtime.
pub(super) async fn connect(
    server: SocketAddr,
    tls: &crate::tls::ClientTls,
    alpn: &[u8],
    timeout: Duration,
) -> Result<(quinn::Endpoint, quinn::Connection), Transport> {
    let over = if alpn == b"h3" { "HTTP/3" } else { "DNS over QUIC" };
    let failed = |e: &dyn std::fmt::Display| Transport::Failed(format!("{over} to {server}: {e}"));
    let connector = tls
        .connector(&sockit_core::endpoint::Host::Ip(server.ip()))
        .map_err(|e| Transport::Failed(e.to_string()))?
        .with_alpn(&[alpn]);
    let crypto =
        quinn::crypto::rustls::QuicClientConfig::try_from(connector.rustls_config()).map_err(|e| failed(&e))?;
    let mut endpoint = quinn::Endpoint::client(crate::net::any_of_family(server)).map_err(io_transport)?;
    endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(crypto)));
    let connecting = endpoint.connect(server, &connector.name()).map_err(|e| failed(&e))?;
    match tokio::time::timeout(timeout, connecting).await {
        Err(_) | Ok(Err(quinn::ConnectionError::TimedOut)) => Err(Transport::TimedOut),
        Ok(Err(quinn::ConnectionError::TransportError(t))) if t.to_string().contains("no application protocol") => {
            Err(Transport::Failed(format!("{server} does not speak {over} (ALPN {})", String::from_utf8_lossy(alpn))))
        }
        Ok(Err(e)) => Err(failed(&e)),
        Ok(Ok(conn)) => Ok((endpoint, conn)),
    }
}

/// One question on its own stream: the reply, its id put back.
async fn ask(conn: quinn::Connection, server: SocketAddr, framed: Vec<u8>, id: u16) -> Done {
    let said = |e: &dyn std::fmt::Display| Done::Failed(id, format!("DNS over QUIC to {server}: {e}"));
    let (mut send, mut recv) = match conn.open_bi().await {
        Ok(s) => s,
        Err(e) => return said(&e),
    };
    if let Err(e) = send.write_all(&framed).await {
        return said(&e);
    }
    if let Err(e) = send.finish() {
        return said(&e);
    }
    let data = match recv.read_to_end(MAX_REPLY).await {
        Ok(d) => d,
        Err(e) => return said(&e),
    };
    // The stream holds one message after its length, and nothing more (RFC 9250 4.2).
    match data.get(..2).map(|l| usize::from(u16::from_be_bytes([l[0], l[1]]))) {
        Some(len) if len == data.len() - 2 && len >= 12 => {
            let mut reply = data[2..].to_vec();
            reply[..2].copy_from_slice(&id.to_be_bytes());
            Done::Reply(reply)
        }
        _ => Done::Failed(id, format!("{server} sent a reply over QUIC that is not one DNS message")),
    }
}

impl Carrier for Quic {
    fn server(&self) -> SocketAddr {
        self.server
    }

    fn send(&mut self, wire: &[u8]) -> std::io::Result<()> {
        // A connection the server has closed (idle, going away) is said as a reset: a kept
        // carrier is then made again.
        if self.conn.close_reason().is_some() {
            return Err(ErrorKind::ConnectionReset.into());
        }
        let len = u16::try_from(wire.len()).map_err(|_| std::io::Error::from(ErrorKind::InvalidInput))?;
        let id = u16::from_be_bytes([*wire.first().unwrap_or(&0), *wire.get(1).unwrap_or(&0)]);
        let mut framed = Vec::with_capacity(wire.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(wire);
        // DNS over QUIC asks with id 0 (RFC 9250 4.2.1): the stream tells the replies apart.
        if framed.len() >= 4 {
            framed[2..4].fill(0);
        }
        let (conn, tx, server) = (self.conn.clone(), self.done.0.clone(), self.server);
        self.rt.spawn(async move {
            let _ = tx.send(ask(conn, server, framed, id).await);
        });
        Ok(())
    }

    fn recv(&mut self, buf: &mut [u8]) -> std::io::Result<Got> {
        let next = match self.ready.pop_front() {
            Some(d) => d,
            None => self.done.1.try_recv().map_err(|_| std::io::Error::from(ErrorKind::WouldBlock))?,
        };
        Ok(match next {
            Done::Reply(m) => {
                let n = m.len().min(buf.len());
                buf[..n].copy_from_slice(&m[..n]);
                Got::Message(n)
            }
            Done::Failed(id, why) => Got::Failed(id, why),
        })
    }

    fn wait(&mut self, wait: Duration) {
        if self.ready.is_empty()
            && let Ok(d) = self.done.1.recv_timeout(wait)
        {
            self.ready.push_back(d);
        }
    }
}

impl Drop for Quic {
    fn drop(&mut self) {
        // Said to the server, not left to its idle timer.
        self.conn.close(0u32.into(), b"");
    }
}
