//! What carries a bulk run's questions to one server and its replies back, one thread and no
//! blocking: a connected UDP socket (a datagram a message), or one TLS connection (DNS over
//! TLS, RFC 7858: every question framed and written as it comes, replies read as they come in
//! whatever order the server sends them, RFC 7766's pipelining); DNS over HTTPS has its own
//! (`https::Streams`: a stream a question on one HTTP/2 connection).

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec};

use super::stream::{Transport, io_transport};

/// What came back.
pub(super) enum Got {
    /// A whole message, this many bytes at the front of the buffer.
    Message(usize),
    /// The question with this id failed on its own (an HTTP status), said whole.
    Failed(u16, String),
}

/// A way to one server for `pipeline`.
pub(super) trait Carrier {
    /// The server.
    fn server(&self) -> SocketAddr;
    /// Send one message, or `WouldBlock` if it cannot take one now (try again later).
    fn send(&mut self, wire: &[u8]) -> std::io::Result<()>;
    /// The next whole message into `buf`, or `WouldBlock` if none has come.
    fn recv(&mut self, buf: &mut [u8]) -> std::io::Result<Got>;
    /// Wait up to `wait` for something to read (or to write, if writes are waiting).
    fn wait(&mut self, wait: Duration);
}

fn poll(fd: impl AsFd, flags: PollFlags, wait: Duration) {
    let mut fds = [PollFd::new(&fd, flags)];
    let wait = Timespec::try_from(wait).unwrap_or(Timespec { tv_sec: 1, tv_nsec: 0 });
    let _ = rustix::event::poll(&mut fds, Some(&wait));
}

/// A connected, non-blocking UDP socket.
pub(super) struct Udp(pub(super) UdpSocket);

impl Udp {
    pub(super) fn new(server: SocketAddr) -> std::io::Result<Udp> {
        let sock = UdpSocket::bind(crate::net::any_of_family(server))?;
        sock.connect(server)?;
        sock.set_nonblocking(true)?;
        Ok(Udp(sock))
    }
}

impl Carrier for Udp {
    fn server(&self) -> SocketAddr {
        self.0.peer_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    fn send(&mut self, wire: &[u8]) -> std::io::Result<()> {
        self.0.send(wire).map(drop)
    }

    fn recv(&mut self, buf: &mut [u8]) -> std::io::Result<Got> {
        self.0.recv(buf).map(Got::Message)
    }

    fn wait(&mut self, wait: Duration) {
        poll(&self.0, PollFlags::IN, wait);
    }
}

/// One TLS connection, driven here: rustls's records in and out of a non-blocking socket.
pub(super) struct Tls {
    server: SocketAddr,
    sock: TcpStream,
    conn: rustls::ClientConnection,
    /// Plaintext read and not yet a whole message.
    plain: Vec<u8>,
}

impl Tls {
    /// Connect and shake hands (within `timeout` each step).
    pub(super) fn new(server: SocketAddr, tls: &crate::tls::ClientTls, timeout: Duration) -> Result<Tls, Transport> {
        let host = sockit_core::endpoint::Host::Ip(server.ip());
        let failed = |e: crate::net::NetError| Transport::Failed(e.to_string());
        let connector = tls.connector(&host).map_err(failed)?;
        let mut sock = TcpStream::connect_timeout(&server, timeout).map_err(io_transport)?;
        sock.set_read_timeout(Some(timeout)).map_err(Transport::Io)?;
        sock.set_write_timeout(Some(timeout)).map_err(Transport::Io)?;
        let _ = sock.set_nodelay(true);
        let mut conn = connector.handshake_blocking(&mut sock, &server.to_string()).map_err(failed)?;
        // Questions are queued in rustls as they come; the socket takes them as it can.
        conn.set_buffer_limit(None);
        sock.set_nonblocking(true).map_err(Transport::Io)?;
        Ok(Tls { server, sock, conn, plain: Vec::new() })
    }

    /// Write what rustls holds, as far as the socket takes it now.
    fn flush(&mut self) -> std::io::Result<()> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.sock) {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// A whole message at the front of `plain`, moved to `buf`.
    fn take(&mut self, buf: &mut [u8]) -> Option<usize> {
        let len = usize::from(u16::from_be_bytes([*self.plain.first()?, *self.plain.get(1)?]));
        if self.plain.len() < 2 + len {
            return None;
        }
        let n = len.min(buf.len());
        buf[..n].copy_from_slice(&self.plain[2..2 + n]);
        self.plain.drain(..2 + len);
        Some(n)
    }
}

impl Carrier for Tls {
    fn server(&self) -> SocketAddr {
        self.server
    }

    fn send(&mut self, wire: &[u8]) -> std::io::Result<()> {
        let len = u16::try_from(wire.len()).map_err(|_| std::io::Error::from(ErrorKind::InvalidInput))?;
        let mut framed = Vec::with_capacity(wire.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(wire);
        self.conn.writer().write_all(&framed)?;
        self.flush()
    }

    fn recv(&mut self, buf: &mut [u8]) -> std::io::Result<Got> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if let Some(n) = self.take(buf) {
                return Ok(Got::Message(n));
            }
            match self.conn.reader().read(&mut chunk) {
                Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    self.plain.extend_from_slice(&chunk[..n]);
                    continue;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            match self.conn.read_tls(&mut self.sock) {
                Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
                Ok(_) => {
                    self.conn.process_new_packets().map_err(|e| std::io::Error::new(ErrorKind::InvalidData, e))?;
                    // Alerts and key updates may want an answer.
                    self.flush()?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn wait(&mut self, wait: Duration) {
        let flags = if self.conn.wants_write() { PollFlags::IN | PollFlags::OUT } else { PollFlags::IN };
        poll(&self.sock, flags, wait);
        let _ = self.flush();
    }
}
