//! The interactive client: keyboard and network at once. Lines typed go to the server; lines
//! from the server go to stdout. At the end of stdin the client says /quit and waits for the
//! server to close, so it leaves cleanly in a pipe too.

use std::io::{self, BufRead, Read, Write};
use std::net::{Shutdown, SocketAddr};

use crate::net::NetError;

/// TLS for the client: what to trust, and the name to check the server's certificate for.
pub type Tls = (std::sync::Arc<rustls::ClientConfig>, rustls::pki_types::ServerName<'static>);

/// Join the chat at `addr`, optionally as `nick`, relaying stdin and stdout; over TLS with
/// `tls`.
pub fn join(
    addr: SocketAddr,
    nick: Option<&str>,
    timeout: Option<std::time::Duration>,
    tls: Option<Tls>,
) -> Result<(), NetError> {
    let stream = crate::tcp::connect(&[addr], timeout)?;
    if let Some((config, name)) = tls {
        // The TLS relay moves stdin as it comes (the server frames lines); its end of input
        // is close_notify and FIN, which the server takes as leaving.
        let mut conn =
            rustls::ClientConnection::new(config, name).map_err(|e| NetError::io("TLS", io::Error::other(e)))?;
        if let Some(n) = nick {
            conn.writer().write_all(format!("/nick {n}\n").as_bytes()).map_err(|e| NetError::io("TLS", e))?;
        }
        crate::tls::relay(conn.into(), stream, &crate::tcp::RelayOptions::default())?;
        return Ok(());
    }
    let mut out = stream.try_clone().map_err(|e| NetError::io("socket", e))?;
    if let Some(n) = nick {
        out.write_all(format!("/nick {n}\n").as_bytes()).map_err(|e| NetError::io("send", e))?;
    }
    // stdin -> server, in its own thread: the network side below never waits for the keyboard.
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        for line in stdin.lock().split(b'\n') {
            let Ok(mut line) = line else { break };
            line.push(b'\n');
            if out.write_all(&line).is_err() {
                return;
            }
        }
        let _ = out.write_all(b"/quit\n");
        let _ = out.shutdown(Shutdown::Write);
    });
    let mut reader = &stream;
    let mut buf = vec![0u8; 64 * 1024];
    let stdout = std::io::stdout();
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(NetError::io(format!("connection with {addr}"), e)),
        };
        let mut lock = stdout.lock();
        lock.write_all(&buf[..n]).and_then(|_| lock.flush()).map_err(|e| NetError::io("stdout", e))?;
    }
}
