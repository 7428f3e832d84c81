//! A lookup's own questions over TLS, HTTPS or QUIC, on the same carriers a bulk run uses
//! (`carrier::Tls`, `https::Streams`, `quic::Quic`): one a server a thread, kept for the thread's later questions, made
//! again (once) when the server has closed it since.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hickory_proto::op::Message;

use super::carrier::{self, Carrier, Got};
use super::https::{Doh, Streams};
use super::stream::{Transport, io_transport};
use crate::tls::ClientTls;

thread_local! {
    /// This thread's carriers, by server.
    static KEPT: RefCell<Vec<(SocketAddr, Box<dyn Carrier>)>> = RefCell::new(Vec::new());
}

/// How a question goes: TLS with these checks, and over it HTTPS to this path, or QUIC.
pub(super) struct Secure<'a> {
    pub tls: &'a ClientTls,
    pub https: Option<&'a Doh>,
    pub quic: bool,
    pub timeout: Duration,
}

/// Ask `server` as `over` says; the reply whose id is `id`.
pub(super) fn exchange(server: SocketAddr, over: &Secure, wire: &[u8], id: u16) -> Result<Message, Transport> {
    let (tls, https, quic, timeout) = (over.tls, over.https, over.quic, over.timeout);
    let kept = KEPT.with_borrow_mut(|k| k.iter().position(|(s, _)| *s == server).map(|i| k.remove(i).1));
    let reused = kept.is_some();
    let mut c = match kept {
        Some(c) => c,
        None => open(server, tls, https, quic, timeout)?,
    };
    let mut result = ask(c.as_mut(), wire, id, timeout);
    if reused && matches!(result, Err(Transport::Io(_) | Transport::Malformed)) {
        c = open(server, tls, https, quic, timeout)?;
        result = ask(c.as_mut(), wire, id, timeout);
    }
    if result.is_ok() {
        KEPT.with_borrow_mut(|k| k.push((server, c)));
    }
    result
}

fn open(
    server: SocketAddr,
    tls: &ClientTls,
    https: Option<&Doh>,
    quic: bool,
    timeout: Duration,
) -> Result<Box<dyn Carrier>, Transport> {
    Ok(match https {
        _ if quic => Box::new(super::quic::Quic::new(server, tls, timeout)?),
        Some(doh) => Box::new(Streams::new(server, tls, doh, timeout)?),
        None => Box::new(carrier::Tls::new(server, tls, timeout)?),
    })
}

/// One question on `c`, and its reply within `timeout` (replies to earlier questions passed
/// over).
fn ask(c: &mut dyn Carrier, wire: &[u8], id: u16, timeout: Duration) -> Result<Message, Transport> {
    c.send(wire).map_err(io_transport)?;
    let deadline = Instant::now() + timeout;
    let mut buf = vec![0u8; 65_535];
    loop {
        match c.recv(&mut buf) {
            Ok(Got::Message(n)) if n >= 2 && u16::from_be_bytes([buf[0], buf[1]]) == id => {
                return Message::from_vec(&buf[..n]).map_err(|_| Transport::Malformed);
            }
            Ok(Got::Failed(failed, why)) if failed == id => return Err(Transport::Failed(why)),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Transport::TimedOut);
                }
                c.wait(left);
            }
            Err(e) => return Err(io_transport(e)),
        }
    }
}
