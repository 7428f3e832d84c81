//! Slide 5, TCP: a server (bind, listen, accept, recv) and a client (connect, send), grown
//! into `tcp connect` and `tcp listen`: a relay between stdio and a connection (`relay`), many
//! clients at once, a command per client, TLS (`tls`) on either side.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::process::{Command, Stdio as ChildStdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use socket2::Type;
use sockit_core::addr::Cidr;
use sockit_core::endpoint::Host;

use crate::net::{self, NetError};
use crate::relay::{self, Conn, RelayOptions, RelayStats, Stream};
use crate::stdio::Stdio;
use crate::tls::{self, ClientTls, ServerTls};

/// `tcp connect`: where, how long to try, TLS, and the relay's end rules.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectConfig {
    pub host: Host,
    pub port: u16,
    pub connect_timeout: Option<Duration>,
    pub tls: Option<ClientTls>,
    pub relay: RelayOptions,
}

/// `tcp listen`: where, which clients, one or many, a command per client, TLS.
#[derive(Debug, Clone, PartialEq)]
pub struct ListenConfig {
    pub bind: SocketAddr,
    pub rules: AccessRules,
    /// Serve many clients at once (their data to the output, the input to all of them).
    pub keep_open: bool,
    pub max_conns: Option<usize>,
    /// Give each client its own `sh -c CMD` on its connection.
    pub exec: Option<String>,
    pub tls: Option<ServerTls>,
    pub relay: RelayOptions,
}

/// What a listener says as it starts, for the user to see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    Listening(SocketAddr),
    /// The SHA-256 fingerprint of the certificate a TLS listener presents.
    Fingerprint(String),
}

/// How a `tcp` command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpReport {
    Relayed(RelayStats),
    /// `--exec` with one client: whether its command succeeded.
    Command {
        success: bool,
    },
}

/// `tcp connect`: connect, then relay `stdio` until the end rules say stop.
pub fn connect_run(cfg: &ConnectConfig, stdio: Stdio) -> Result<TcpReport, NetError> {
    // What to trust is read before connecting: a bad --ca costs no connection.
    let tls = cfg.tls.as_ref().map(|t| t.connector(&cfg.host)).transpose()?;
    let addrs = net::resolve_all(&cfg.host, cfg.port)?;
    let stream = connect(&addrs, cfg.connect_timeout)?;
    tracing::info!(peer = ?stream.peer_addr().ok(), "connected");
    let conn = match tls {
        Some(connector) => tls::client(stream, connector)?,
        None => Conn::plain(stream)?,
    };
    Ok(TcpReport::Relayed(relay::relay(conn, stdio, &cfg.relay)?))
}

/// `tcp listen`: bind, say so through `started`, then serve one client or, with `keep_open`,
/// many until the process is stopped.
pub fn listen_run(cfg: &ListenConfig, stdio: Stdio, started: &mut dyn FnMut(Started)) -> Result<TcpReport, NetError> {
    let listener = Listener::bind(cfg.bind)?;
    let local = listener.local_addr()?;
    // The certificate is ready before the listener is announced: a bad one is the only line.
    let tls = cfg.tls.as_ref().map(|t| tls::server_config_for(t, local)).transpose()?;
    started(Started::Listening(local));
    let tls = tls.map(|(config, fp)| {
        started(Started::Fingerprint(fp));
        config
    });
    if cfg.keep_open {
        let opts = ManyOptions { max_conns: cfg.max_conns, rules: cfg.rules.clone(), exec: cfg.exec.clone(), tls };
        serve_many(listener, &opts, stdio)?;
        unreachable_end()
    } else {
        let (stream, _peer) = listener.accept(&cfg.rules)?;
        drop(listener);
        let conn = match tls {
            Some(config) => tls::server(stream, config)?,
            None => Conn::plain(stream)?,
        };
        match &cfg.exec {
            Some(cmd) => Ok(TcpReport::Command { success: exec_for(conn, cmd)?.success() }),
            None => Ok(TcpReport::Relayed(relay::relay(conn, stdio, &cfg.relay)?)),
        }
    }
}

/// `serve_many` returns only with an error.
fn unreachable_end() -> Result<TcpReport, NetError> {
    Err(NetError::io("accept", io::Error::other("the listener stopped")))
}

/// Connect to the first address of `addrs` that answers.
pub fn connect(addrs: &[SocketAddr], timeout: Option<Duration>) -> Result<TcpStream, NetError> {
    let mut last = None;
    for &addr in addrs {
        let r = match timeout {
            Some(t) => TcpStream::connect_timeout(&addr, t),
            None => TcpStream::connect(addr),
        };
        match r {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = Some(net::connect_error(addr, e, timeout)),
        }
    }
    Err(last.unwrap_or_else(|| NetError::io("connect", io::Error::other("no address to connect to"))))
}

/// Which clients a listener takes (made with `AccessRules::new`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessRules {
    /// If any, a client must be in one of these.
    allow: Vec<Cidr>,
    /// A client in any of these is turned away.
    deny: Vec<Cidr>,
}

impl AccessRules {
    /// Rules as given; both they and the peers they judge are compared in canonical form
    /// (IPv4-mapped = IPv4), so `--deny ::ffff:127.0.0.1` keeps out 127.0.0.1 and `--deny
    /// 127.0.0.1` keeps out ::ffff:127.0.0.1.
    pub fn new(allow: Vec<Cidr>, deny: Vec<Cidr>) -> AccessRules {
        let canon = |v: Vec<Cidr>| v.iter().map(|c| c.canonical().network_cidr()).collect();
        AccessRules { allow: canon(allow), deny: canon(deny) }
    }

    pub fn admits(&self, ip: IpAddr) -> bool {
        let ip = sockit_core::addr::canonical_ip(ip);
        (self.allow.is_empty() || self.allow.iter().any(|c| c.contains(ip)))
            && !self.deny.iter().any(|c| c.contains(ip))
    }
}

/// A TCP listener.
#[derive(Debug)]
pub struct Listener {
    inner: TcpListener,
}

impl Listener {
    /// Bind and listen on `addr` (port 0 picks a free port).
    pub fn bind(addr: SocketAddr) -> Result<Listener, NetError> {
        let sock = net::bound_socket(addr, Type::STREAM)?;
        sock.listen(1024).map_err(|e| NetError::io(format!("listen on {addr}"), e))?;
        Ok(Listener { inner: sock.into() })
    }

    pub fn local_addr(&self) -> Result<SocketAddr, NetError> {
        self.inner.local_addr().map_err(|e| NetError::io("local address", e))
    }

    /// The std listener, for an async runtime to take over.
    pub fn into_std(self) -> TcpListener {
        self.inner
    }

    /// The next client the rules admit; turned-away clients are closed at once.
    pub fn accept(&self, rules: &AccessRules) -> Result<(TcpStream, SocketAddr), NetError> {
        loop {
            match self.inner.accept() {
                Ok((s, peer)) if rules.admits(peer.ip()) => {
                    let _ = s.set_nodelay(true);
                    tracing::info!(%peer, "connection accepted");
                    return Ok((s, peer));
                }
                Ok((_, peer)) => tracing::info!(%peer, "connection denied by --allow/--deny"),
                // A client that reset before accept() finished, or a transient shortage: the
                // next client is unaffected.
                Err(e) if net::accept_error_is_transient(&e) => {
                    tracing::info!(error = %e, "accept failed");
                    if net::accept_error_is_shortage(&e) {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
                Err(e) => return Err(NetError::io("accept", e)),
            }
        }
    }
}

/// Run `sh -c CMD` with the connection as its stdin and stdout; wait for it.
pub fn exec_for(conn: Conn, cmd: &str) -> Result<std::process::ExitStatus, NetError> {
    let fd: OwnedFd = match conn.stream.try_clone().map_err(|e| NetError::io("dup", e))? {
        Stream::Tcp(s) => s.into(),
        Stream::Unix(s) => s.into(),
    };
    let out = fd.try_clone().map_err(|e| NetError::io("dup", e))?;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(ChildStdio::from(fd))
        .stdout(ChildStdio::from(out))
        .spawn()
        .map_err(|e| NetError::io(format!("cannot run {cmd}"), e))?;
    let status = child.wait().map_err(|e| NetError::io("wait", e))?;
    // The child's copies are closed with it; ours goes now, and a TLS tunnel ends after it.
    conn.finish()?;
    Ok(status)
}

/// Options for a listener that serves many clients at once.
#[derive(Debug, Clone, Default)]
pub struct ManyOptions {
    /// At most this many clients at once; more are closed on arrival.
    pub max_conns: Option<usize>,
    pub rules: AccessRules,
    /// Give each client its own `sh -c CMD`; otherwise clients' data goes to the output and
    /// the input goes to every client.
    pub exec: Option<String>,
    /// Speak TLS with each client (the handshake in the client's own thread).
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// How long `serve_many` waits for a client that takes none of the input's data.
pub const STALL: Duration = Duration::from_secs(5);

/// Serve clients until the process is stopped. One thread per client; a thread the system
/// refuses costs that client, not the server.
pub fn serve_many(listener: Listener, opts: &ManyOptions, stdio: Stdio) -> Result<(), NetError> {
    let active = Arc::new(AtomicUsize::new(0));
    let clients: Arc<Mutex<Vec<(u64, Stream)>>> = Arc::new(Mutex::new(Vec::new()));
    let (mut input, output) = stdio.into_files();
    let output = Arc::new(Mutex::new(output));
    if opts.exec.is_none() {
        // The input to every client, as it comes.
        let clients = Arc::clone(&clients);
        std::thread::Builder::new()
            .name("input".into())
            .spawn(move || {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n) = input.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let mut list = clients.lock().unwrap_or_else(|p| p.into_inner());
                    // A client that takes nothing for STALL (its write times out) is
                    // disconnected: the others wait for it that long at most, once.
                    list.retain_mut(|(_, s)| match (&*s).write_all(&buf[..n]) {
                        Ok(()) => true,
                        Err(e) => {
                            tracing::warn!(error = %e, "client disconnected: it stopped taking data");
                            let _ = s.shutdown(Shutdown::Both);
                            false
                        }
                    });
                }
            })
            .map_err(|e| NetError::io("cannot start a thread", e))?;
    }
    let mut next_id = 0u64;
    loop {
        let (stream, peer) = listener.accept(&opts.rules)?;
        if opts.max_conns.is_some_and(|m| active.load(Ordering::Relaxed) >= m) {
            tracing::info!(%peer, "connection closed: --max-conns reached");
            continue;
        }
        active.fetch_add(1, Ordering::Relaxed);
        next_id += 1;
        let id = next_id;
        let (active2, clients, exec, tls, output) =
            (Arc::clone(&active), Arc::clone(&clients), opts.exec.clone(), opts.tls.clone(), Arc::clone(&output));
        let spawned = std::thread::Builder::new().name("client".into()).spawn(move || {
            let conn = match tls {
                Some(config) => tls::server(stream, config),
                None => Conn::plain(stream),
            };
            match conn {
                Err(e) => tracing::warn!(%peer, error = %e, "connection dropped"),
                Ok(conn) => match exec {
                    Some(cmd) => match exec_for(conn, &cmd) {
                        Ok(status) => tracing::info!(%peer, %status, "command finished"),
                        Err(e) => tracing::warn!(%peer, error = %e, "command failed"),
                    },
                    None => serve_one(conn, id, &clients, &output),
                },
            }
            active2.fetch_sub(1, Ordering::Relaxed);
        });
        if let Err(e) = spawned {
            // The closure, and with it the connection, is dropped: that client is closed.
            active.fetch_sub(1, Ordering::Relaxed);
            tracing::warn!(%peer, error = %e, "connection closed: no thread for it");
        }
    }
}

/// One client of `serve_many`: registered for the input, its data to the output in whole
/// chunks (the output's lock keeps clients apart).
fn serve_one(conn: Conn, id: u64, clients: &Mutex<Vec<(u64, Stream)>>, output: &Mutex<std::fs::File>) {
    let peer = conn.peer;
    if let Ok(w) = conn.stream.try_clone() {
        let _ = w.set_write_timeout(Some(STALL));
        clients.lock().unwrap_or_else(|p| p.into_inner()).push((id, w));
    }
    let mut buf = vec![0u8; 64 * 1024];
    let mut reader = &conn.stream;
    while let Ok(n) = reader.read(&mut buf) {
        if n == 0 {
            break;
        }
        let mut out = output.lock().unwrap_or_else(|p| p.into_inner());
        if out.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    clients.lock().unwrap_or_else(|p| p.into_inner()).retain(|(i, _)| *i != id);
    if let Err(e) = conn.finish() {
        tracing::info!(%peer, error = %e, "connection ended");
    }
    tracing::info!(%peer, "connection closed");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_and_peers_meet_in_one_form() {
        let cidr = |s: &str| Cidr::parse(s).expect("cidr");
        let v4 = |s: &str| IpAddr::V4(s.parse().expect("v4"));
        let mapped = |s: &str| IpAddr::V6(s.parse::<std::net::Ipv4Addr>().expect("v4").to_ipv6_mapped());
        let deny_mapped = AccessRules::new(vec![], vec![cidr("::ffff:127.0.0.1")]);
        assert!(!deny_mapped.admits(v4("127.0.0.1")) && !deny_mapped.admits(mapped("127.0.0.1")));
        assert!(deny_mapped.admits(v4("127.0.0.2")));
        let deny_v4 = AccessRules::new(vec![], vec![cidr("127.0.0.0/8")]);
        assert!(!deny_v4.admits(mapped("127.9.9.9")) && deny_v4.admits(mapped("10.0.0.1")));
        let allow_mapped_block = AccessRules::new(vec![cidr("::ffff:10.0.0.0/104")], vec![]);
        assert!(allow_mapped_block.admits(v4("10.1.2.3")) && !allow_mapped_block.admits(v4("11.0.0.1")));
        assert!(!allow_mapped_block.admits("::1".parse().expect("v6")));
    }
}
