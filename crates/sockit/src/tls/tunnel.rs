//! The tunnel behind a TLS connection: the handshake with its deadline, then one thread
//! moving records between the TLS socket and its end of a socket pair, whose other end is the
//! plain stream the relay and the servers use. What the tunnel may do next is decided by
//! `Ends`, the state of both directions, on its own (unit-tested here); the loop does the I/O.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::time::Instant;

use rustix::event::{PollFd, PollFlags, poll};

use super::{HANDSHAKE, handshake_error, tls_error};
use crate::conn::{Conn, Stream};
use crate::net::{Doing, NetError, Why};

/// Finish the handshake on `sock` by `HANDSHAKE` from now, then move records in a thread of
/// their own; the returned connection's stream is the plaintext.
pub(super) fn tunnel(mut conn: rustls::Connection, mut sock: TcpStream) -> Result<Conn, NetError> {
    let peer = sock.peer_addr().map_err(|e| NetError::io(Doing::PeerAddress, e))?;
    handshake(&mut conn, &mut sock, peer, Instant::now() + HANDSHAKE)?;
    let (outer, inner) = UnixStream::pair().map_err(|e| NetError::io(Doing::SocketPair, e))?;
    let t = std::thread::Builder::new()
        .name("tls".into())
        .spawn(move || move_records(conn, sock, inner, peer))
        .map_err(|e| NetError::io(Doing::StartThread, e))?;
    Ok(Conn { stream: Stream::Unix(outer), peer: crate::conn::Peer::Inet(peer), tunnel: Some(t) })
}

fn handshake(
    conn: &mut rustls::Connection,
    sock: &mut TcpStream,
    peer: SocketAddr,
    deadline: Instant,
) -> Result<(), NetError> {
    let timed_out = || {
        NetError::failed(Doing::TlsHandshakeFailed(peer.to_string()), Why::NoHandshake { secs: HANDSHAKE.as_secs() })
    };
    let io_err = |e: io::Error| NetError::io(Doing::TlsHandshake(peer.to_string()), e);
    while conn.is_handshaking() || conn.wants_write() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timed_out());
        }
        sock.set_write_timeout(Some(left)).map_err(io_err)?;
        sock.set_read_timeout(Some(left)).map_err(io_err)?;
        if conn.wants_write() {
            match conn.write_tls(sock) {
                Ok(_) => continue,
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    return Err(timed_out());
                }
                Err(e) => return Err(io_err(e)),
            }
        }
        match conn.read_tls(sock) {
            Ok(0) => {
                return Err(NetError::failed(Doing::TlsHandshakeFailed(peer.to_string()), Why::PeerClosed));
            }
            Ok(_) => {
                if let Err(e) = conn.process_new_packets() {
                    // Tell the peer why, if we can, before giving up.
                    let _ = conn.write_tls(sock);
                    return Err(handshake_error(&peer.to_string(), &e));
                }
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                return Err(timed_out());
            }
            Err(e) => return Err(io_err(e)),
        }
    }
    let none = |e: io::Error| NetError::io(Doing::OpenSocket, e);
    sock.set_write_timeout(None).map_err(none)?;
    sock.set_read_timeout(None).map_err(none)?;
    Ok(())
}

/// Where both directions of a tunnel stand: the flags the loop keeps, and what they allow it
/// to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ends {
    /// The peer may still send (no close_notify or FIN from it yet).
    peer_open: bool,
    /// The plain side may still send (no EOF from it yet).
    plain_open: bool,
    /// The plain side is closed altogether: nobody takes what the peer sends any more.
    plain_gone: bool,
    /// FIN sent to the peer (after close_notify and every record).
    fin_sent: bool,
    /// The peer's end passed on to the plain side as its EOF.
    eof_told: bool,
    /// The peer stopped taking records (a reset after its last data, say): what it sent
    /// before is still read and delivered.
    write_dead: bool,
    /// The socket failed or hung up with nothing left to read: it is left out of the poll.
    sock_gone: bool,
}

/// What to poll for on each side (`None`: leave that side out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Interest {
    sock: Option<PollFlags>,
    plain: Option<PollFlags>,
}

impl Ends {
    /// A tunnel just after its handshake: the peer open unless it ended already.
    fn new(peer_open: bool) -> Ends {
        Ends {
            peer_open,
            plain_open: true,
            plain_gone: false,
            fin_sent: false,
            eof_told: false,
            write_dead: false,
            sock_gone: false,
        }
    }

    /// FIN is due once the plain side has ended and rustls holds no record to send (`holding`).
    fn fin_due(self, holding: bool) -> bool {
        !self.plain_open && !holding && !self.fin_sent
    }

    /// The plain side's EOF is due once the peer has ended and it has taken everything.
    fn eof_due(self, pending_empty: bool) -> bool {
        !self.peer_open && pending_empty && !self.eof_told
    }

    /// Both ways are done: FIN sent, and the peer's end told (or nobody left to tell).
    fn finished(self) -> bool {
        self.fin_sent && (self.eof_told || self.plain_gone)
    }

    /// What to wait for: records in only while the plain side has taken the last ones, and
    /// plaintext in only while rustls has sent what it holds (back-pressure both ways); after
    /// its EOF the plain side is watched for its hang-up alone, and once gone not at all (its
    /// hang-up would wake every poll); a socket that is gone is not polled.
    fn interest(self, holding: bool, pending_empty: bool) -> Interest {
        let mut sock = PollFlags::empty();
        if self.peer_open && pending_empty && !self.plain_gone {
            sock |= PollFlags::IN;
        }
        if holding {
            sock |= PollFlags::OUT;
        }
        let mut plain = PollFlags::empty();
        if self.wants_plain(holding) {
            plain |= PollFlags::IN;
        }
        if !pending_empty {
            plain |= PollFlags::OUT;
        }
        let watch_plain = !self.plain_gone && (self.wants_plain(holding) || !pending_empty || !self.plain_open);
        Interest { sock: (!self.sock_gone).then_some(sock), plain: watch_plain.then_some(plain) }
    }

    /// The plain side is read while it is open and rustls has sent what it holds.
    fn wants_plain(self, holding: bool) -> bool {
        self.plain_open && !holding
    }

    /// The socket failed or hung up: nothing more moves there, and no FIN is owed.
    fn socket_ended(&mut self) {
        self.sock_gone = true;
        self.peer_open = false;
        self.write_dead = true;
        self.fin_sent = true;
    }
}

/// Move records between the TLS socket and the plaintext end of the socket pair until both
/// directions have ended, or the plain side is closed altogether (then what it wrote is
/// still sent, with close_notify and FIN after it).
fn move_records(
    mut conn: rustls::Connection,
    mut sock: TcpStream,
    mut plain: UnixStream,
    peer: SocketAddr,
) -> Result<(), NetError> {
    let io_err = |e: io::Error| NetError::io(Doing::Connection(crate::conn::Peer::Inet(peer)), e);
    sock.set_nonblocking(true).map_err(io_err)?;
    plain.set_nonblocking(true).map_err(io_err)?;
    let mut buf = vec![0u8; 64 * 1024];
    // Plaintext from the peer that the plain side has not taken yet.
    let mut pending: Vec<u8> = Vec::new();
    // The handshake may have read application data (and even close_notify) with the peer's
    // last handshake records: it waits in rustls, not in the socket.
    let mut ends = Ends::new(take_plaintext(&mut conn, &mut pending, &mut buf).map_err(io_err)?);
    loop {
        while conn.wants_write() && !ends.write_dead {
            match conn.write_tls(&mut sock) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => ends.write_dead = true,
            }
        }
        let holding = conn.wants_write() && !ends.write_dead;
        if ends.fin_due(holding) {
            let _ = sock.shutdown(Shutdown::Write);
            ends.fin_sent = true;
        }
        if ends.plain_gone {
            pending.clear();
        }
        while !pending.is_empty() {
            match plain.write(&pending) {
                Ok(n) => {
                    pending.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    // The plain side is gone: nobody wants the rest.
                    ends.plain_gone = true;
                    pending.clear();
                }
            }
        }
        if ends.eof_due(pending.is_empty()) {
            let _ = plain.shutdown(Shutdown::Write);
            ends.eof_told = true;
        }
        if ends.finished() {
            return Ok(());
        }
        let interest = ends.interest(holding, pending.is_empty());
        let mut fds = Vec::with_capacity(2);
        if let Some(flags) = interest.sock {
            fds.push(PollFd::new(&sock, flags));
        }
        if let Some(flags) = interest.plain {
            fds.push(PollFd::new(&plain, flags));
        }
        if fds.is_empty() {
            return Ok(());
        }
        match poll(&mut fds, None) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(io_err(e.into())),
        }
        let sock_ev = if interest.sock.is_some() { fds[0].revents() } else { PollFlags::empty() };
        let plain_ev = if interest.plain.is_some() { fds[fds.len() - 1].revents() } else { PollFlags::empty() };
        drop(fds);
        let reading = interest.sock.is_some_and(|f| f.contains(PollFlags::IN));
        // The connection failed (a reset, keepalive unanswered) or hung up, and nothing is to
        // be read from it: nothing more can move there. What the plain side is owed still
        // goes to it, then its EOF. (Its error would otherwise wake every poll.)
        if !reading && sock_ev.intersects(PollFlags::ERR | PollFlags::HUP) {
            // What arrived before the end is still read (plaintext rustls holds is bounded).
            while ends.peer_open {
                match conn.read_tls(&mut sock) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if conn.process_new_packets().is_err() {
                            break;
                        }
                        ends.peer_open &= take_plaintext(&mut conn, &mut pending, &mut buf).map_err(io_err)?;
                    }
                }
            }
            ends.socket_ended();
        }
        if reading && !sock_ev.is_empty() {
            match conn.read_tls(&mut sock) {
                Ok(0) => ends.peer_open = false,
                Ok(_) => {
                    conn.process_new_packets().map_err(|e| {
                        let _ = conn.write_tls(&mut sock);
                        tls_error(Doing::TlsWith(peer.to_string()), e)
                    })?;
                    ends.peer_open &= take_plaintext(&mut conn, &mut pending, &mut buf).map_err(io_err)?;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // A reset after the last data: an end, once what came before is delivered.
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => ends.peer_open = false,
                Err(e) => return Err(io_err(e)),
            }
        }
        if ends.wants_plain(holding) && plain_ev.intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR) {
            match plain.read(&mut buf) {
                Ok(n) if n > 0 => conn.writer().write_all(&buf[..n]).map_err(io_err)?,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                _ => {
                    ends.plain_open = false;
                    conn.send_close_notify();
                }
            }
        }
        if plain_ev.contains(PollFlags::HUP) && !ends.plain_open {
            ends.plain_gone = true;
        }
    }
}

/// Move the plaintext rustls holds into `pending`; false once the peer has ended (close_notify,
/// or a close without it).
fn take_plaintext(conn: &mut rustls::Connection, pending: &mut Vec<u8>, buf: &mut [u8]) -> io::Result<bool> {
    loop {
        match conn.reader().read(buf) {
            Ok(0) => return Ok(false),
            Ok(n) => pending.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(false),
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IN: PollFlags = PollFlags::IN;
    const OUT: PollFlags = PollFlags::OUT;

    #[test]
    fn fin_waits_for_the_plain_sides_end_and_every_record() {
        let mut e = Ends::new(true);
        assert!(!e.fin_due(false), "the plain side may still send");
        e.plain_open = false;
        assert!(!e.fin_due(true), "rustls still holds records: they go first");
        assert!(e.fin_due(false));
        e.fin_sent = true;
        assert!(!e.fin_due(false), "once");
    }

    #[test]
    fn the_peers_end_is_told_once_the_plain_side_has_taken_everything() {
        let mut e = Ends::new(false);
        assert!(!e.eof_due(false), "plaintext still pending");
        assert!(e.eof_due(true));
        e.eof_told = true;
        assert!(!e.eof_due(true));
        assert!(!Ends::new(true).eof_due(true), "the peer is still open");
    }

    #[test]
    fn done_when_fin_is_sent_and_the_end_told_or_nobody_is_left() {
        let mut e = Ends::new(true);
        e.fin_sent = true;
        assert!(!e.finished(), "the peer may still send");
        e.eof_told = true;
        assert!(e.finished());
        let mut gone = Ends::new(true);
        gone.fin_sent = true;
        gone.plain_gone = true;
        assert!(gone.finished(), "nobody takes what the peer would send");
    }

    #[test]
    fn back_pressure_both_ways() {
        let e = Ends::new(true);
        assert_eq!(e.interest(false, true), Interest { sock: Some(IN), plain: Some(IN) });
        // Plaintext pending for the plain side: no records in until it is taken.
        assert_eq!(e.interest(false, false), Interest { sock: Some(PollFlags::empty()), plain: Some(IN | OUT) });
        // rustls holds records: the socket's room is waited for, no plaintext is read.
        assert_eq!(e.interest(true, true), Interest { sock: Some(IN | OUT), plain: None });
    }

    #[test]
    fn an_ended_plain_side_is_watched_for_its_hang_up_then_left_out() {
        let mut e = Ends::new(true);
        e.plain_open = false;
        assert_eq!(e.interest(false, true).plain, Some(PollFlags::empty()), "its hang-up alone");
        e.plain_gone = true;
        assert_eq!(e.interest(false, true).plain, None);
        assert_eq!(e.interest(false, true).sock, Some(PollFlags::empty()), "nobody to give records to");
    }

    #[test]
    fn a_socket_that_ended_is_not_polled_and_owes_no_fin() {
        let mut e = Ends::new(true);
        e.socket_ended();
        assert_eq!(e.interest(false, true).sock, None);
        assert!(!e.fin_due(false) && e.fin_sent && !e.peer_open);
        assert!(e.eof_due(true), "the plain side still hears the end");
        e.eof_told = true;
        assert!(e.finished());
    }
}
