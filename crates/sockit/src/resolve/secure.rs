//! A lookup's own questions over TLS or HTTPS, on the same carriers a bulk run uses (`carrier::
//! Tls`, `https::Streams`): one a server a thread, kept for the thread's later questions, made
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

/// Ask `server` over TLS, or over HTTPS when `https` says where; the reply whose id is `id`.
pub(super) fn exchange(
    server: SocketAddr,
    tls: &ClientTls,
    https: Option<&Doh>,
    wire: &[u8],
    id: u16,
    timeout: Duration,
) -> Result<Message, Transport> {
    let kept = KEPT.with_borrow_mut(|k| k.iter().position(|(s, _)| *s == server).map(|i| k.remove(i).1));
    let reused = kept.is_some();
    let mut c = match kept {
        Some(c) => c,
        None => open(server, tls, https, timeout)?,
    };
    let mut result = ask(c.as_mut(), wire, id, timeout);
    if reused && matches!(result, Err(Transport::Io(_) | Transport::Malformed)) {
        c = open(server, tls, https, timeout)?;
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
    timeout: Duration,
) -> Result<Box<dyn Carrier>, Transport> {
    Ok(match https {
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
