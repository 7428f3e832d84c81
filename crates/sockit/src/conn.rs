//! A connection as the relays and servers hold it: a byte stream (a TCP or Unix socket, or the
//! plaintext end of a TLS tunnel), who is at the other end, and the tunnel behind it.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use crate::net::{Doing, NetError, Why};
pub use crate::peer::Peer;

/// A full-duplex byte stream the relay and the servers work on.
#[derive(Debug)]
pub enum Stream {
    Tcp(TcpStream),
    /// The plaintext end of a TLS tunnel.
    Unix(UnixStream),
}

impl Stream {
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown(how),
            Stream::Unix(s) => s.shutdown(how),
        }
    }

    pub fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
        })
    }

    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(t),
            Stream::Unix(s) => s.set_read_timeout(t),
        }
    }

    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_nonblocking(on),
            Stream::Unix(s) => s.set_nonblocking(on),
        }
    }

    pub fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_write_timeout(t),
            Stream::Unix(s) => s.set_write_timeout(t),
        }
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Tcp(s) => s.as_fd(),
            Stream::Unix(s) => s.as_fd(),
        }
    }
}

impl Read for &Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => (&*s).read(buf),
            Stream::Unix(s) => (&*s).read(buf),
        }
    }
}

impl Write for &Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => (&*s).write(buf),
            Stream::Unix(s) => (&*s).write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A connection to relay: its stream, who is at the other end, and the TLS tunnel behind the
/// stream, if any (whose error, if it failed, says more than the stream's end does).
#[derive(Debug)]
pub struct Conn {
    pub stream: Stream,
    pub peer: Peer,
    pub(crate) tunnel: Option<std::thread::JoinHandle<Result<(), NetError>>>,
}

impl Conn {
    /// A plain TCP connection.
    pub fn plain(stream: TcpStream) -> Result<Conn, NetError> {
        let peer = stream.peer_addr().map_err(|e| NetError::io(Doing::PeerAddress, e))?;
        Ok(Conn { stream: Stream::Tcp(stream), peer: Peer::Inet(peer), tunnel: None })
    }

    /// A TCP connection just accepted from `peer` (which the client may have reset since:
    /// what it sent before is still read).
    pub fn accepted(stream: TcpStream, peer: SocketAddr) -> Conn {
        Conn { stream: Stream::Tcp(stream), peer: Peer::Inet(peer), tunnel: None }
    }

    /// A Unix stream socket, known by its path.
    pub fn unix(stream: UnixStream, path: &str) -> Conn {
        Conn { stream: Stream::Unix(stream), peer: Peer::Unix(path.to_string()), tunnel: None }
    }

    /// Close the stream and wait for the TLS tunnel behind it to end; its error, if any.
    pub fn finish(self) -> Result<(), NetError> {
        let _ = self.stream.shutdown(Shutdown::Both);
        drop(self.stream);
        join_tunnel(self.tunnel)
    }
}

pub(crate) fn join_tunnel(tunnel: Option<std::thread::JoinHandle<Result<(), NetError>>>) -> Result<(), NetError> {
    match tunnel {
        Some(t) => t.join().unwrap_or_else(|_| Err(NetError::failed(Doing::Tls, Why::TunnelFailed))),
        None => Ok(()),
    }
}

/// Whether the peer has closed its side (FIN or reset), without taking any of its data.
pub(crate) fn peer_closed(stream: &Stream) -> bool {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let mut fds = [PollFd::new(stream, PollFlags::RDHUP)];
    poll(&mut fds, Some(&Timespec { tv_sec: 0, tv_nsec: 0 })).is_ok()
        && fds[0].revents().intersects(PollFlags::RDHUP | PollFlags::HUP | PollFlags::ERR)
}
