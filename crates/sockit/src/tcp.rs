//! Slide 5, TCP: a server (bind, listen, accept, recv) and a client (connect, send), grown
//! into `tcp connect` and `tcp listen`: a relay between stdio and a connection (`relay`), many
//! clients at once, a command per client, TLS (`tls`) on either side.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::process::{Command, Stdio as ChildStdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use socket2::Type;
use sockit_core::addr::Cidr;
use sockit_core::endpoint::Host;

use crate::bridge::{self, BridgeOptions, BridgeStats};
use crate::conn::{Conn, Stream};
use crate::net::{self, NetError};
use crate::stdio::Stdio;
use crate::tls::{self, ServerTls};

/// `tcp connect`: where, how long to try, TLS, and the relay's end rules.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectConfig {
    pub host: Host,
    pub port: u16,
    /// How to get there: a proxy, a deadline, keepalive, TLS.
    pub dial: crate::dial::Dialer,
    pub bridge: BridgeOptions,
    /// Connect to this Unix socket instead (a path, or `@name`), HOST and PORT unused.
    pub unix: Option<String>,
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
    pub bridge: BridgeOptions,
    /// Listen on this Unix socket instead (a path, or `@name`), for one client.
    pub unix: Option<String>,
}

/// What a listener says as it starts, for the user to see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    Listening(SocketAddr),
    /// Listening on a Unix socket, by its path (`@name`: abstract).
    ListeningUnix(String),
    /// The SHA-256 fingerprint of the certificate a TLS listener presents.
    Fingerprint(String),
}

/// How a `tcp` command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpReport {
    Relayed(BridgeStats),
    /// `--exec` with one client: whether its command succeeded.
    Command {
        success: bool,
    },
    /// `--keep-open --exec` stopped by a signal, its commands ended; `interrupted`: SIGINT.
    Stopped {
        interrupted: bool,
    },
}

/// A Unix socket address: a path, or `@name` in Linux's abstract namespace.
pub(crate) fn unix_addr(path: &str) -> Result<std::os::unix::net::SocketAddr, NetError> {
    let r = match path.strip_prefix('@') {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
        }
        None => std::os::unix::net::SocketAddr::from_pathname(path),
    };
    r.map_err(|e| NetError::io(format!("{path} is not a Unix socket address"), e))
}

/// What a failed connect to a Unix socket means, in one line.
pub(crate) fn unix_error(path: &str, e: io::Error) -> NetError {
    let not_socket = !path.starts_with('@')
        && std::fs::metadata(path).is_ok_and(|m| !std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()));
    let why = match e.kind() {
        _ if not_socket => "it is not a socket".to_string(),
        io::ErrorKind::NotFound => "no such socket".to_string(),
        io::ErrorKind::ConnectionRefused => "nothing listens on it (a socket file left behind)".to_string(),
        io::ErrorKind::PermissionDenied => {
            "permission denied: the socket or its directory is not yours to use".to_string()
        }
        _ => e.to_string(),
    };
    NetError::io(format!("cannot connect to {path}"), io::Error::new(e.kind(), why))
}

/// Listen on a Unix socket. A socket file nothing listens on any more is removed first;
/// one something listens on, or a file that is not a socket, is left alone and said.
pub(crate) fn unix_listener(path: &str) -> Result<std::os::unix::net::UnixListener, NetError> {
    unix_bound(path, std::os::unix::net::UnixListener::bind_addr)
}

/// A Unix socket (stream or datagram) bound at `path` by `bind`, with the stale-file rules of
/// `unix_listener`: a socket file is tested with a connect (of the datagram kind when it is a
/// datagram socket); one nobody holds any more refuses it, and is replaced.
pub(crate) fn unix_bound<S>(
    path: &str,
    bind: impl FnOnce(&std::os::unix::net::SocketAddr) -> io::Result<S>,
) -> Result<S, NetError> {
    use std::os::unix::fs::FileTypeExt;
    let fail = |why: String| NetError::io(format!("cannot listen on {path}"), io::Error::other(why));
    if !path.starts_with('@')
        && let Ok(meta) = std::fs::symlink_metadata(path)
    {
        if !meta.file_type().is_socket() {
            return Err(fail("it exists and is not a socket: remove it or pick another path".into()));
        }
        let alive = std::os::unix::net::UnixStream::connect(path).map(|_| ()).or_else(|e| match e.raw_os_error() {
            // A datagram socket answers a stream connect with EPROTOTYPE: ask it its own way.
            Some(libc::EPROTOTYPE) => std::os::unix::net::UnixDatagram::unbound()?.connect(path),
            _ => Err(e),
        });
        match alive {
            Ok(()) => return Err(fail("a program listens on it already".into())),
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                std::fs::remove_file(path)
                    .map_err(|e| fail(format!("a stale socket file that cannot be removed: {e}")))?;
            }
            Err(e) => return Err(fail(e.to_string())),
        }
    }
    bind(&unix_addr(path)?).map_err(|e| match e.kind() {
        io::ErrorKind::PermissionDenied => fail("permission denied: its directory is not yours to write".into()),
        io::ErrorKind::AddrInUse => fail("a program listens on it already".into()),
        _ => fail(e.to_string()),
    })
}

/// `tcp connect`: connect, then relay `stdio` until the end rules say stop.
pub fn connect_run(cfg: &ConnectConfig, stdio: Stdio) -> Result<TcpReport, NetError> {
    if let Some(path) = &cfg.unix {
        let stream =
            std::os::unix::net::UnixStream::connect_addr(&unix_addr(path)?).map_err(|e| unix_error(path, e))?;
        return Ok(TcpReport::Relayed(bridge::bridge(Conn::unix(stream, path), stdio, &cfg.bridge)?));
    }
    let conn = crate::dial::dial(&cfg.host, cfg.port, &cfg.dial)?;
    Ok(TcpReport::Relayed(bridge::bridge(conn, stdio, &cfg.bridge)?))
}

/// `tcp listen`: bind, say so through `started`, then serve one client or, with `keep_open`,
/// many until the process is stopped.
pub fn listen_run(cfg: &ListenConfig, stdio: Stdio, started: &mut dyn FnMut(Started)) -> Result<TcpReport, NetError> {
    if let Some(path) = &cfg.unix {
        let listener = unix_listener(path)?;
        started(Started::ListeningUnix(path.clone()));
        let accepted = listener.accept().map_err(|e| NetError::io(format!("accept on {path}"), e));
        // The socket file is this listener's: it goes when the listener does.
        if !path.starts_with('@') {
            let _ = std::fs::remove_file(path);
        }
        let (stream, _) = accepted?;
        return Ok(TcpReport::Relayed(bridge::bridge(Conn::unix(stream, path), stdio, &cfg.bridge)?));
    }
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
        match serve_many(listener, &opts, stdio)? {
            ManyEnd::Signal(s) => Ok(TcpReport::Stopped { interrupted: s == signal_hook::consts::SIGINT }),
        }
    } else {
        let (stream, _peer) = listener.accept(&cfg.rules)?;
        drop(listener);
        if let Some(every) = cfg.bridge.keepalive {
            net::keepalive(&stream, every)?;
        }
        let conn = match tls {
            Some(config) => tls::server(stream, config)?,
            None => Conn::plain(stream)?,
        };
        match &cfg.exec {
            Some(cmd) => Ok(TcpReport::Command { success: exec_for(conn, cmd, &Children::default())?.success() }),
            None => Ok(TcpReport::Relayed(bridge::bridge(conn, stdio, &cfg.bridge)?)),
        }
    }
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
        self.accept_unless(rules, &|| false)?
            .ok_or_else(|| NetError::io("accept", io::Error::other("the listener stopped")))
    }

    /// `accept`, asking `stop` every 200 ms: `None` once it says so.
    pub fn accept_unless(
        &self,
        rules: &AccessRules,
        stop: &dyn Fn() -> bool,
    ) -> Result<Option<(TcpStream, SocketAddr)>, NetError> {
        use rustix::event::{PollFd, PollFlags, Timespec, poll};
        loop {
            if stop() {
                return Ok(None);
            }
            let mut fds = [PollFd::new(&self.inner, PollFlags::IN)];
            match poll(&mut fds, Some(&Timespec { tv_sec: 0, tv_nsec: 200_000_000 })) {
                Ok(0) | Err(rustix::io::Errno::INTR) => continue,
                Ok(_) => {}
                Err(e) => return Err(NetError::io("accept", e.into())),
            }
            match self.inner.accept() {
                Ok((s, peer)) if rules.admits(peer.ip()) => {
                    let _ = s.set_nodelay(true);
                    tracing::info!(%peer, "connection accepted");
                    return Ok(Some((s, peer)));
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

/// How long a command may go on after its client has closed its side, before it is ended.
pub const EXEC_GRACE: Duration = Duration::from_secs(5);

/// The commands `--exec` started and that still run, by process group: all of them are ended
/// when the server stops.
#[derive(Debug, Default)]
pub struct Children(Mutex<Vec<u32>>);

impl Children {
    fn list(&self) -> std::sync::MutexGuard<'_, Vec<u32>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// SIGTERM to every command's process group, then SIGKILL to those still there a second
    /// later.
    pub fn end_all(&self) {
        let groups = self.list().clone();
        for &g in &groups {
            signal_group(g, rustix::process::Signal::TERM);
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        while !self.list().is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        for g in self.list().iter() {
            signal_group(*g, rustix::process::Signal::KILL);
        }
    }
}

fn signal_group(group: u32, sig: rustix::process::Signal) {
    if let Some(pid) = rustix::process::Pid::from_raw(group as i32) {
        let _ = rustix::process::kill_process_group(pid, sig);
    }
}

/// Run `sh -c CMD` with the connection as its stdin and stdout, and the peer's address in
/// `SOCKIT_PEER_ADDR` and `SOCKIT_PEER_PORT` (as ncat and socat export it); wait for it. A
/// command still running `EXEC_GRACE` after its client closed its side is ended (SIGTERM,
/// then SIGKILL), so it holds no `--max-conns` slot for good.
pub fn exec_for(conn: Conn, cmd: &str, children: &Children) -> Result<std::process::ExitStatus, NetError> {
    use std::os::unix::process::CommandExt;
    let fd: OwnedFd = match conn.stream.try_clone().map_err(|e| NetError::io("dup", e))? {
        Stream::Tcp(s) => s.into(),
        Stream::Unix(s) => s.into(),
    };
    let out = fd.try_clone().map_err(|e| NetError::io("dup", e))?;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .envs(match &conn.peer {
            crate::conn::Peer::Inet(a) => {
                vec![("SOCKIT_PEER_ADDR", a.ip().to_string()), ("SOCKIT_PEER_PORT", a.port().to_string())]
            }
            crate::conn::Peer::Unix(p) => vec![("SOCKIT_PEER_ADDR", p.clone())],
        })
        .stdin(ChildStdio::from(fd))
        .stdout(ChildStdio::from(out))
        // A group of its own: what the command starts is ended with it.
        .process_group(0)
        .spawn()
        .map_err(|e| NetError::io(format!("cannot run {cmd}"), e))?;
    let group = child.id();
    children.list().push(group);
    let mut closed_at: Option<std::time::Instant> = None;
    let mut termed = false;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| NetError::io("wait", e))? {
            break status;
        }
        if closed_at.is_none() && peer_closed(&conn.stream) {
            closed_at = Some(std::time::Instant::now());
        }
        match closed_at.map(|t| t.elapsed()) {
            Some(e) if e > EXEC_GRACE + Duration::from_secs(1) => signal_group(group, rustix::process::Signal::KILL),
            Some(e) if e > EXEC_GRACE && !termed => {
                tracing::info!(peer = %conn.peer, "the client left: ending its command");
                signal_group(group, rustix::process::Signal::TERM);
                termed = true;
            }
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    children.list().retain(|&g| g != group);
    // The child's copies are closed with it; ours goes now, and a TLS tunnel ends after it.
    conn.finish()?;
    Ok(status)
}

/// Whether the connection has failed (a reset, keepalive probes unanswered, a TLS tunnel
/// gone), without taking any data.
fn connection_dead(stream: &Stream) -> bool {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let mut fds = [PollFd::new(stream, PollFlags::empty())];
    poll(&mut fds, Some(&Timespec { tv_sec: 0, tv_nsec: 0 })).is_ok()
        && fds[0].revents().intersects(PollFlags::HUP | PollFlags::ERR)
}

/// Whether the peer has closed its side (FIN or reset), without taking any of its data.
fn peer_closed(stream: &Stream) -> bool {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let mut fds = [PollFd::new(stream, PollFlags::RDHUP)];
    poll(&mut fds, Some(&Timespec { tv_sec: 0, tv_nsec: 0 })).is_ok()
        && fds[0].revents().intersects(PollFlags::RDHUP | PollFlags::HUP | PollFlags::ERR)
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

/// How long a client may stay behind the others (its outbox over `OUTBOX`), or make no
/// progress at all, before it is disconnected.
pub const STALL: Duration = Duration::from_secs(5);

/// How much of the input may wait for one client before it counts as behind.
const OUTBOX: usize = 4 << 20;

/// How far behind a client may fall while `STALL` runs; past it, it is disconnected at once.
const BEHIND_AT_MOST: usize = 4 * OUTBOX;

/// What waits to be written to one client: chunks of the input, shared among all clients.
#[derive(Debug, Default)]
struct Outbox {
    state: Mutex<OutboxState>,
    changed: std::sync::Condvar,
}

#[derive(Debug)]
struct OutboxState {
    chunks: std::collections::VecDeque<Arc<[u8]>>,
    bytes: usize,
    /// No more chunks will come (the input ended, or the client is gone).
    closed: bool,
    /// Since when the outbox has held more than `OUTBOX`.
    behind_since: Option<std::time::Instant>,
    /// When the writer last took a chunk (its last write was done).
    progress: std::time::Instant,
}

impl Default for OutboxState {
    fn default() -> Self {
        OutboxState {
            chunks: Default::default(),
            bytes: 0,
            closed: false,
            behind_since: None,
            progress: std::time::Instant::now(),
        }
    }
}

/// What the input makes of one client after a chunk.
#[derive(Debug, PartialEq, Eq)]
enum Standing {
    /// Keeping up.
    Fine,
    /// Behind the limit, since then.
    Behind(std::time::Instant),
    /// Too far behind, or closed: to be let go.
    Gone,
}

impl Outbox {
    fn lock(&self) -> std::sync::MutexGuard<'_, OutboxState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Add a chunk without waiting.
    fn push(&self, chunk: &Arc<[u8]>) -> Standing {
        let mut st = self.lock();
        if st.closed || st.bytes + chunk.len() > BEHIND_AT_MOST {
            return Standing::Gone;
        }
        if st.bytes == 0 {
            // The writer's clock starts when there is something to write.
            st.progress = std::time::Instant::now();
        }
        st.bytes += chunk.len();
        st.chunks.push_back(Arc::clone(chunk));
        self.changed.notify_all();
        if st.bytes <= OUTBOX {
            return Standing::Fine;
        }
        Standing::Behind(*st.behind_since.get_or_insert_with(std::time::Instant::now))
    }

    /// Whether it holds more than `OUTBOX`, and whether its writer has made no progress for
    /// `STALL`.
    fn behind(&self) -> (bool, bool) {
        let st = self.lock();
        (st.bytes > OUTBOX, st.bytes > 0 && st.progress.elapsed() > STALL)
    }

    /// The next chunk to write; `None` once closed and empty.
    fn pop(&self) -> Option<Arc<[u8]>> {
        let mut st = self.lock();
        st.progress = std::time::Instant::now();
        loop {
            if let Some(c) = st.chunks.pop_front() {
                st.bytes -= c.len();
                if st.bytes <= OUTBOX {
                    st.behind_since = None;
                }
                return Some(c);
            }
            if st.closed {
                return None;
            }
            st = self.changed.wait(st).unwrap_or_else(|p| p.into_inner());
            st.progress = std::time::Instant::now();
        }
    }

    fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }
}

/// What the clients of `serve_many` share: who is there, and whether the input and the
/// output are still there.
#[derive(Debug, Default)]
struct Fanout {
    clients: Mutex<Vec<(u64, Arc<Outbox>, Stream)>>,
    input_done: AtomicBool,
    output_gone: AtomicBool,
    /// A terminal: a client that closes is let go at once (nobody knows when typing ends).
    input_is_terminal: bool,
}

impl Fanout {
    fn clients(&self) -> std::sync::MutexGuard<'_, Vec<(u64, Arc<Outbox>, Stream)>> {
        self.clients.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn outboxes(&self) -> Vec<(u64, Arc<Outbox>)> {
        self.clients().iter().map(|(i, o, _)| (*i, Arc::clone(o))).collect()
    }

    /// The input, chunk by chunk, to every client's outbox; the input is never held up by
    /// one client for the others. A client more than `OUTBOX` behind while another keeps up
    /// has `STALL` to catch up, and is let go past it (or past `BEHIND_AT_MOST`). When every
    /// client is behind, the input waits for the fastest (back-pressure, as with one
    /// client); a client whose writer made no progress for `STALL` is let go then too. At the
    /// end of the input every client gets FIN once its outbox is written.
    fn send_input(&self, mut input: std::fs::File) {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // Back-pressure while nobody keeps up.
            loop {
                let list = self.outboxes();
                let states: Vec<(u64, (bool, bool))> = list.iter().map(|(i, o)| (*i, o.behind())).collect();
                for (id, (_, stuck)) in &states {
                    if *stuck {
                        self.drop_client(*id, Some("it took none of the input for the stall window"));
                    }
                }
                if states.is_empty() || states.iter().any(|(_, (behind, stuck))| !behind && !stuck) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            let n = match input.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let chunk: Arc<[u8]> = Arc::from(&buf[..n]);
            let list = self.outboxes();
            let standings: Vec<(u64, Standing)> = list.iter().map(|(i, o)| (*i, o.push(&chunk))).collect();
            let someone_keeps_up = standings.iter().any(|(_, s)| *s == Standing::Fine);
            for (id, standing) in standings {
                match standing {
                    Standing::Gone => self.drop_client(id, Some("it fell too far behind the input")),
                    Standing::Behind(since) if someone_keeps_up && since.elapsed() > STALL => {
                        self.drop_client(id, Some("it stayed behind the others for the stall window"))
                    }
                    _ => {}
                }
            }
        }
        self.input_done.store(true, Ordering::Relaxed);
        for (_, outbox, _) in self.clients().iter() {
            outbox.close();
        }
    }

    /// Take a client off the list; with `why`, it is cut off (both ways shut down).
    fn drop_client(&self, id: u64, why: Option<&str>) {
        let mut list = self.clients();
        if let Some(pos) = list.iter().position(|(i, _, _)| *i == id) {
            let (_, outbox, stream) = list.remove(pos);
            outbox.close();
            if let Some(why) = why {
                tracing::warn!(why, "client disconnected");
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }
}

/// Serve clients until the process is stopped, or the output is gone. One thread per client
/// (and one writing to it); a thread the system refuses costs that client, not the server.
pub fn serve_many(listener: Listener, opts: &ManyOptions, stdio: Stdio) -> Result<ManyEnd, NetError> {
    let active = Arc::new(AtomicUsize::new(0));
    let fanout = Arc::new(Fanout { input_is_terminal: stdio.input_is_terminal, ..Fanout::default() });
    let children = Arc::new(Children::default());
    // With commands running, a signal that stops the server ends them first.
    let signal = Arc::new(std::sync::atomic::AtomicI32::new(0));
    if opts.exec.is_some() {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let mut s = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
            .map_err(|e| NetError::io("signal handlers", e))?;
        let signal = Arc::clone(&signal);
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                if let Some(sig) = s.forever().next() {
                    signal.store(sig, Ordering::Relaxed);
                }
            })
            .map_err(|e| NetError::io("cannot start a thread", e))?;
    }
    let (input, output) = stdio.into_files();
    let output = Arc::new(Mutex::new(output));
    if opts.exec.is_none() {
        let fanout = Arc::clone(&fanout);
        std::thread::Builder::new()
            .name("input".into())
            .spawn(move || fanout.send_input(input))
            .map_err(|e| NetError::io("cannot start a thread", e))?;
    }
    let mut next_id = 0u64;
    let stop = || signal.load(Ordering::Relaxed) != 0 || fanout.output_gone.load(Ordering::Relaxed);
    while let Some((stream, peer)) = listener.accept_unless(&opts.rules, &stop)? {
        if opts.max_conns.is_some_and(|m| active.load(Ordering::Relaxed) >= m) {
            tracing::info!(%peer, "connection closed: --max-conns reached");
            continue;
        }
        active.fetch_add(1, Ordering::Relaxed);
        next_id += 1;
        let id = next_id;
        let (active2, fanout, exec, tls, output, children) = (
            Arc::clone(&active),
            Arc::clone(&fanout),
            opts.exec.clone(),
            opts.tls.clone(),
            Arc::clone(&output),
            Arc::clone(&children),
        );
        // Keepalive probes find a client that vanished while it owed nothing (a half-closed
        // client is kept for the rest of the input; one that is gone must not be).
        let keepalive = socket2::TcpKeepalive::new()
            .with_time(Duration::from_secs(10))
            .with_interval(Duration::from_secs(5))
            .with_retries(3);
        let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&keepalive);
        let spawned = std::thread::Builder::new().name("client".into()).spawn(move || {
            let conn = match tls {
                Some(config) => tls::server(stream, config),
                None => Conn::plain(stream),
            };
            match conn {
                Err(e) => tracing::warn!(%peer, error = %e, "connection dropped"),
                Ok(conn) => match exec {
                    Some(cmd) => match exec_for(conn, &cmd, &children) {
                        Ok(status) => tracing::info!(%peer, %status, "command finished"),
                        Err(e) => tracing::warn!(%peer, error = %e, "command failed"),
                    },
                    None => serve_one(conn, id, &fanout, &output),
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
    children.end_all();
    match signal.load(Ordering::Relaxed) {
        0 => {
            tracing::warn!("the output is closed: no more clients are taken");
            Err(NetError::io("output", io::ErrorKind::BrokenPipe.into()))
        }
        sig => Ok(ManyEnd::Signal(sig)),
    }
}

/// Why `serve_many` stopped, when it was asked to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManyEnd {
    /// This signal (SIGINT, SIGTERM or SIGHUP) arrived; every command was ended first.
    Signal(i32),
}

/// One client of `serve_many`: its outbox written by a thread of its own, its data to the
/// output in whole chunks (the output's lock keeps clients apart). A client that shuts down
/// its side still gets the rest of the input, as in single-client mode.
fn serve_one(conn: Conn, id: u64, fanout: &Fanout, output: &Mutex<std::fs::File>) {
    let peer = conn.peer.clone();
    let outbox = Arc::new(Outbox::default());
    let writer = conn.stream.try_clone().ok().and_then(|w| {
        let (outbox, stream) = (Arc::clone(&outbox), w.try_clone().ok()?);
        if fanout.input_done.load(Ordering::Relaxed) {
            outbox.close();
        }
        fanout.clients().push((id, Arc::clone(&outbox), w));
        std::thread::Builder::new()
            .name("client-writer".into())
            .spawn(move || {
                while let Some(chunk) = outbox.pop() {
                    if (&stream).write_all(&chunk).is_err() {
                        outbox.close();
                        return;
                    }
                }
                // The input ended and all of it is written: FIN.
                let _ = stream.shutdown(Shutdown::Write);
            })
            .ok()
    });
    let mut buf = vec![0u8; 64 * 1024];
    let mut reader = &conn.stream;
    if writer.is_some() {
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            let mut out = output.lock().unwrap_or_else(|p| p.into_inner());
            if out.write_all(&buf[..n]).is_err() {
                // Nobody reads what clients send any more: stop taking clients.
                fanout.output_gone.store(true, Ordering::Relaxed);
                break;
            }
        }
    }
    // The client is done sending; what the input still owes it is written before it closes,
    // unless the connection dies first (a reset, or keepalive probes unanswered).
    if let Some(w) = writer {
        if fanout.output_gone.load(Ordering::Relaxed) || fanout.input_is_terminal {
            outbox.close();
        }
        while !w.is_finished() {
            if connection_dead(&conn.stream) {
                fanout.drop_client(id, Some("the connection is gone"));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = w.join();
    }
    fanout.drop_client(id, None);
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
