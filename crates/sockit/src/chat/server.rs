//! The chat server, in mini-redis's shape: `run(config, console, started, stop)` owns its
//! runtime and binds; `serve(listener, config, events, discovery, shutdown)` is the server
//! itself, which `run` and the demo both use.
//!
//! Each client has a reader task and a writer task. Lines go out through a bounded queue per
//! client: broadcasting never waits, and a client whose queue is full (it stopped reading) is
//! disconnected with a reason while everyone else carries on. Memory is bounded by the number
//! of clients times (queue length x line length). Accept errors (EMFILE, resets) cost one
//! connection, never the server.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sockit_core::chat::{self, Command, Frame, LineFramer, ServerInfo};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::net::NetError;
use crate::tls::ServerTls;

/// How the server behaves.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The room's name, shown on joining and in discovery replies.
    pub room: String,
    /// At most this many clients; more are told the room is full.
    pub max_clients: usize,
    /// The longest line, in bytes.
    pub max_line: usize,
    /// Lines a second a client may send (0: no limit).
    pub rate: f64,
    /// Lines waiting for one client before the speaker has to wait for it.
    pub queue: usize,
    /// How long a full queue may stay full before its client is disconnected.
    pub stall: Duration,
    /// Speak TLS on the chat port.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            room: "sockit".into(),
            max_clients: 100_000,
            max_line: 4096,
            rate: 0.0,
            queue: 4096,
            stall: Duration::from_secs(2),
            tls: None,
        }
    }
}

/// What happened, for the server's console.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Event {
    Joined { nick: String, peer: SocketAddr },
    Left { nick: String, reason: String },
    Said { nick: String, text: String },
    Action { nick: String, text: String },
    Renamed { old: String, new: String },
    Private { from: String, to: String },
    Refused { peer: SocketAddr, reason: String },
    ShuttingDown { clients: usize },
}

/// Where events go; a full console drops events rather than slowing the room.
pub type Events = mpsc::Sender<Event>;

/// One connected client, as the room sees it.
struct Member {
    nick: String,
    out: Recipient,
}

/// A client's way in: its queue, its disconnect switch, and why it was disconnected.
#[derive(Clone)]
struct Recipient {
    tx: mpsc::Sender<Arc<str>>,
    kick: CancellationToken,
    reason: Arc<Mutex<Option<String>>>,
}

#[derive(Default)]
struct Room {
    members: HashMap<u64, Member>,
    /// Lower-case nick -> member id.
    nicks: HashMap<String, u64>,
    next_guest: u64,
    /// Joins not announced yet: a burst of joins is announced in one notice per window.
    joins: Vec<(u64, String)>,
    /// When the last join notice went out.
    last_join_notice: Option<Instant>,
}

/// A burst of joins is announced at most once per this window (the first join after a quiet
/// spell at once). Without it, N clients joining cost N² notices: 10,000 clients, 50 million.
const JOIN_WINDOW: Duration = Duration::from_millis(250);

impl Room {
    /// Queue the notice for the joins gathered so far to everyone but a lone joiner; returns
    /// the notice and the recipients whose queues were full.
    fn announce_joins(&mut self) -> Option<(Arc<str>, Vec<Recipient>)> {
        if self.joins.is_empty() {
            return None;
        }
        self.last_join_notice = Some(Instant::now());
        let joins = std::mem::take(&mut self.joins);
        let notice: Arc<str> = {
            let nicks: Vec<&str> = joins.iter().map(|(_, n)| n.as_str()).collect();
            Arc::from(format!("{}\n", chat::join_notice(&nicks)))
        };
        let full = queue_all(self, &notice, (joins.len() == 1).then(|| joins[0].0));
        Some((notice, full))
    }
}

/// The server's shared state.
struct Shared {
    cfg: ServerConfig,
    room: Mutex<Room>,
    events: Events,
    next_id: AtomicU64,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Room> {
        self.room.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn event(&self, e: Event) {
        let _ = self.events.try_send(e);
    }

    /// Whether any member's queue still holds lines for it.
    fn output_pending(&self) -> bool {
        self.lock().members.values().any(|m| m.out.tx.capacity() < m.out.tx.max_capacity())
    }

    /// Queue `line` for every member but `except`. A full queue makes the speaker wait (up to
    /// `stall`) rather than the room; a queue still full after that disconnects its client.
    /// Queues with room are served under the lock, without waiting; only the full ones are
    /// waited for, after the lock is released. Joins still waiting for their notice are
    /// announced first, so nobody hears a member speak or leave before hearing it joined.
    async fn broadcast(&self, line: &str, except: Option<u64>) {
        let line: Arc<str> = Arc::from(format!("{line}\n"));
        let (joins, full) = {
            let mut room = self.lock();
            (room.announce_joins(), queue_all(&room, &line, except))
        };
        if let Some((notice, full)) = joins {
            self.wait_for(&full, &notice).await;
        }
        self.wait_for(&full, &line).await;
    }

    /// Announce that member `id` joined as `nick`: at once after a quiet spell; during a burst,
    /// with the rest of the burst when the window closes.
    async fn announce_join(self: &Arc<Self>, id: u64, nick: &str) {
        let line: Arc<str> = Arc::from(format!("{}\n", chat::join_notice(&[nick])));
        let full = {
            let mut room = self.lock();
            let now = Instant::now();
            if room.joins.is_empty() && room.last_join_notice.is_none_or(|t| now - t >= JOIN_WINDOW) {
                room.last_join_notice = Some(now);
                queue_all(&room, &line, Some(id))
            } else {
                room.joins.push((id, nick.to_string()));
                if room.joins.len() == 1 {
                    // The first of a burst schedules the notice for the whole burst.
                    let due = room.last_join_notice.map_or(now, |t| t + JOIN_WINDOW);
                    let shared = Arc::clone(self);
                    tokio::spawn(async move {
                        tokio::time::sleep_until(due.into()).await;
                        shared.flush_joins().await;
                    });
                }
                Vec::new()
            }
        };
        self.wait_for(&full, &line).await;
    }

    /// Announce the joins gathered so far, if any.
    async fn flush_joins(&self) {
        let joins = self.lock().announce_joins();
        if let Some((notice, full)) = joins {
            self.wait_for(&full, &notice).await;
        }
    }

    /// Deliver `line` to the recipients whose queues were full, waiting up to `stall` each.
    async fn wait_for(&self, full: &[Recipient], line: &Arc<str>) {
        for r in full {
            deliver(r, line, self.cfg.stall).await;
        }
    }

    /// Queue `line` for everyone without waiting for anybody (for the goodbye).
    fn broadcast_now(&self, line: &str) {
        let line: Arc<str> = Arc::from(format!("{line}\n"));
        for m in self.lock().members.values() {
            let _ = m.out.tx.try_send(Arc::clone(&line));
        }
    }

    fn users(&self) -> u64 {
        self.lock().members.len() as u64
    }
}

/// Queue `line` for every member but `except` without waiting; returns those whose queues
/// were full.
fn queue_all(room: &Room, line: &Arc<str>, except: Option<u64>) -> Vec<Recipient> {
    room.members
        .iter()
        .filter(|&(&id, m)| {
            Some(id) != except && matches!(m.out.tx.try_send(Arc::clone(line)), Err(mpsc::error::TrySendError::Full(_)))
        })
        .map(|(_, m)| m.out.clone())
        .collect()
}

async fn deliver(r: &Recipient, line: &Arc<str>, stall: Duration) {
    match r.tx.try_send(Arc::clone(line)) {
        Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
        Err(mpsc::error::TrySendError::Full(l)) => {
            if r.kick.is_cancelled() {
                return;
            }
            if !matches!(tokio::time::timeout(stall, r.tx.send(l)).await, Ok(Ok(()))) {
                let mut reason = r.reason.lock().unwrap_or_else(|p| p.into_inner());
                if reason.is_none() {
                    *reason =
                        Some(format!("not reading: its outgoing queue stayed full for {} s", stall.as_secs_f64()));
                }
                r.kick.cancel();
            }
        }
    }
}

/// `chat serve`: where, the room's rules, discovery, TLS.
#[derive(Debug, Clone, PartialEq)]
pub struct ServeConfig {
    pub bind: SocketAddr,
    /// The UDP port to answer discovery probes on; `None`: no discovery.
    pub discovery_port: Option<u16>,
    pub tls: Option<ServerTls>,
    pub room: String,
    pub max_clients: usize,
    pub max_line: usize,
    pub rate: f64,
}

/// What a starting server says, for the user to see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    pub room: String,
    pub address: SocketAddr,
    pub discovery: Option<SocketAddr>,
    /// The SHA-256 fingerprint of a TLS room's certificate.
    pub fingerprint: Option<String>,
}

/// What ends `run`.
#[derive(Debug)]
pub enum Stop {
    /// SIGINT or SIGTERM.
    Signals,
    /// The token is cancelled (the demo, tests).
    Token(CancellationToken),
}

/// Why the server stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    Interrupted,
    Terminated,
    Asked,
}

/// Run a chat server on a runtime of its own until `stop`: bind, say so through `started`,
/// hand every console event to `console` (from a task of its own), then tell everyone
/// goodbye and close.
pub fn run(
    cfg: &ServeConfig,
    mut console: impl FnMut(&Event) + Send + 'static,
    started: &mut dyn FnMut(&Started),
    stop: Stop,
) -> Result<Stopped, NetError> {
    crate::net::raise_fd_limit();
    let listener = crate::tcp::Listener::bind(cfg.bind)?.into_std();
    let local = listener.local_addr().map_err(|e| NetError::io("local address", e))?;
    let udp = match cfg.discovery_port {
        // Every address: a socket bound to one address never hears broadcasts.
        Some(p) => {
            let any = SocketAddr::from(([0, 0, 0, 0], p));
            let sock: std::net::UdpSocket = crate::net::bound_socket(any, socket2::Type::DGRAM)?.into();
            Some(sock)
        }
        None => None,
    };
    let (tls, fingerprint) = match &cfg.tls {
        Some(t) => {
            let (config, fp) = crate::tls::server_config_for(t, local)?;
            (Some(config), Some(fp))
        }
        None => (None, None),
    };
    started(&Started {
        room: cfg.room.clone(),
        address: local,
        discovery: udp.as_ref().and_then(|u| u.local_addr().ok()),
        fingerprint,
    });
    let server_cfg = ServerConfig {
        tls,
        room: cfg.room.clone(),
        max_clients: cfg.max_clients,
        max_line: cfg.max_line,
        rate: cfg.rate,
        ..Default::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| NetError::io("cannot start the runtime", e))?;
    let io = |e: std::io::Error| NetError::io("chat server", e);
    rt.block_on(async move {
        listener.set_nonblocking(true).map_err(io)?;
        let listener = TcpListener::from_std(listener).map_err(io)?;
        let udp = match udp {
            Some(u) => {
                u.set_nonblocking(true).map_err(io)?;
                Some(UdpSocket::from_std(u).map_err(io)?)
            }
            None => None,
        };
        let (tx, mut rx) = mpsc::channel::<Event>(65_536);
        let console = tokio::spawn(async move {
            while let Some(e) = rx.recv().await {
                console(&e);
            }
        });
        let (stopped_tx, stopped_rx) = std::sync::mpsc::channel();
        let shutdown = async move {
            let why = match stop {
                Stop::Token(t) => {
                    t.cancelled().await;
                    Stopped::Asked
                }
                Stop::Signals => {
                    use tokio::signal::unix::{SignalKind, signal};
                    let mut term = signal(SignalKind::terminate()).ok();
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => Stopped::Interrupted,
                        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => Stopped::Terminated,
                    }
                }
            };
            let _ = stopped_tx.send(why);
        };
        serve(listener, server_cfg, tx, udp, shutdown).await;
        let _ = console.await;
        Ok(stopped_rx.try_recv().unwrap_or(Stopped::Asked))
    })
}

/// Serve until `shutdown` completes; then tell everyone and close, waiting for every client's
/// task to end. With `discovery`, also answer discovery probes on that socket.
pub async fn serve(
    listener: TcpListener,
    cfg: ServerConfig,
    events: Events,
    discovery_sock: Option<UdpSocket>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let port = listener.local_addr().map_or(0, |a| a.port());
    let shared = Arc::new(Shared { cfg, room: Mutex::new(Room::default()), events, next_id: AtomicU64::new(1) });
    let stop = CancellationToken::new();
    let tasks = TaskTracker::new();
    if let Some(sock) = discovery_sock {
        let (stop, counter) = (stop.clone(), Arc::clone(&shared));
        let (room, tls) = (shared.cfg.room.clone(), shared.cfg.tls.is_some());
        let info = move || ServerInfo {
            room: room.clone(),
            port,
            users: counter.users(),
            version: env!("CARGO_PKG_VERSION").into(),
            tls,
        };
        tasks.spawn(async move { super::discovery::respond(sock, info, stop).await });
    }
    let accept = {
        let (shared, stop, tasks) = (Arc::clone(&shared), stop.clone(), tasks.clone());
        async move {
            loop {
                match listener.accept().await {
                    Ok((stream, peer)) => {
                        let (shared, stop) = (Arc::clone(&shared), stop.clone());
                        tasks.spawn(async move { connected(shared, stream, peer, stop).await });
                    }
                    Err(e) => {
                        // Per connection, never fatal; out of descriptors: let some close.
                        tracing::info!(error = %e, "accept failed");
                        if crate::net::accept_error_is_shortage(&e) {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
            }
        }
    };
    tokio::select! {
        () = accept => {}
        () = shutdown => {}
    }
    let clients = shared.users() as usize;
    shared.event(Event::ShuttingDown { clients });
    shared.broadcast_now("* the server is shutting down: goodbye");
    // The goodbye goes out before the connections close: wait (a second at most) until every
    // queue is empty, then stop every task and wait for them to end.
    let drained = async {
        while shared.output_pending() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), drained).await;
    stop.cancel();
    tasks.close();
    let _ = tokio::time::timeout(Duration::from_secs(3), tasks.wait()).await;
}

/// Add a member under a fresh guest nick and queue its welcome; returns the nick.
fn register(room: &mut Room, cfg: &ServerConfig, id: u64, out: &Recipient) -> String {
    let nick = loop {
        room.next_guest += 1;
        let n = format!("guest-{}", room.next_guest);
        if !room.nicks.contains_key(&n) {
            break n;
        }
    };
    let online = room.members.len();
    let mut names: Vec<&str> = room.members.values().map(|m| m.nick.as_str()).take(20).collect();
    names.sort_unstable();
    let more = if online > names.len() { format!(" and {} more", online - names.len()) } else { String::new() };
    let welcome = format!(
        "* welcome to {}, you are {nick}; {online} other{} online{}{}{} (/help for commands)\n",
        cfg.room,
        if online == 1 { "" } else { "s" },
        if names.is_empty() { "" } else { ": " },
        names.join(", "),
        more
    );
    let _ = out.tx.try_send(Arc::from(welcome));
    room.nicks.insert(nick.clone(), id);
    room.members.insert(id, Member { nick: nick.clone(), out: out.clone() });
    nick
}

fn help() -> &'static str {
    "* commands: /nick NAME, /who, /me ACTION, /msg NICK TEXT, /quit, /help"
}

/// A new connection: socket options, the TLS handshake when the room speaks TLS, then the
/// client's life in the room.
async fn connected(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr, stop: CancellationToken) {
    let _ = stream.set_nodelay(true);
    // A small kernel send buffer: memory per client stays bounded in the kernel too, and a
    // client that stops reading fills its queue soon enough to be noticed.
    let _ = socket2::SockRef::from(&stream).set_send_buffer_size(64 * 1024);
    match shared.cfg.tls.clone() {
        None => {
            let (reader, writer) = stream.into_split();
            client(shared, reader, writer, peer, stop).await;
        }
        Some(config) => {
            let accept = tokio_rustls::TlsAcceptor::from(config).accept(stream);
            match tokio::time::timeout(Duration::from_secs(10), accept).await {
                Ok(Ok(tls)) => {
                    let (reader, writer) = tokio::io::split(tls);
                    client(shared, reader, writer, peer, stop).await;
                }
                Ok(Err(e)) => shared.event(Event::Refused { peer, reason: format!("TLS handshake failed: {e}") }),
                Err(_) => shared.event(Event::Refused { peer, reason: "TLS handshake took over 10 s".into() }),
            }
        }
    }
}

/// Where a client's bytes come from.
trait Source: Send + 'static {
    /// Wait for bytes and feed them to `framer`; false at the end of the stream or on an error.
    fn fill(&mut self, framer: &mut LineFramer, frames: &mut Vec<Frame>) -> impl Future<Output = bool> + Send;
}

/// A plain socket is read only once it has data, into a buffer on the stack: an idle client
/// holds no read buffer.
impl Source for OwnedReadHalf {
    async fn fill(&mut self, framer: &mut LineFramer, frames: &mut Vec<Frame>) -> bool {
        loop {
            if self.readable().await.is_err() {
                return false;
            }
            let mut buf = [0u8; 4 * 1024];
            match self.try_read(&mut buf) {
                Ok(0) => return false,
                Ok(n) => {
                    framer.feed(&buf[..n], frames);
                    return true;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => return false,
            }
        }
    }
}

/// A TLS stream decrypts into its own buffers anyway.
impl<S: AsyncRead + Send + 'static> Source for tokio::io::ReadHalf<S> {
    async fn fill(&mut self, framer: &mut LineFramer, frames: &mut Vec<Frame>) -> bool {
        let mut buf = [0u8; 4 * 1024];
        match self.read(&mut buf).await {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                framer.feed(&buf[..n], frames);
                true
            }
        }
    }
}

async fn client(
    shared: Arc<Shared>,
    mut reader: impl Source,
    mut writer: impl AsyncWrite + Unpin + Send + 'static,
    peer: SocketAddr,
    stop: CancellationToken,
) {
    let cfg = shared.cfg.clone();
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let (tx, mut rx) = mpsc::channel::<Arc<str>>(cfg.queue.max(1));
    let kick = stop.child_token();
    let reason: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let me = Recipient { tx: tx.clone(), kick: kick.clone(), reason: Arc::clone(&reason) };
    // Join: a guest nick, the welcome (to the joiner only), a notice to the others.
    let joined = {
        let mut room = shared.lock();
        (room.members.len() < cfg.max_clients).then(|| register(&mut room, &cfg, id, &me))
    };
    let Some(nick) = joined else {
        let msg = format!("* the room is full ({} clients): try again later\n", cfg.max_clients);
        let say = async {
            writer.write_all(msg.as_bytes()).await?;
            writer.flush().await
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), say).await;
        shared.event(Event::Refused { peer, reason: "room full".into() });
        return;
    };
    shared.event(Event::Joined { nick: nick.clone(), peer });
    shared.announce_join(id, &nick).await;

    // Writer: the queue to the socket; stops when kicked, or when the queue closes.
    let writer_kick = kick.clone();
    let writer_task = tokio::spawn(async move {
        let mut batch = Vec::new();
        loop {
            let first = tokio::select! {
                () = writer_kick.cancelled() => break,
                m = rx.recv() => match m { Some(m) => m, None => break },
            };
            // One line goes out as it is; a backlog goes out in batches of up to 64 KiB.
            let mut bytes = first.as_bytes();
            if !rx.is_empty() {
                batch.clear();
                batch.extend_from_slice(bytes);
                while batch.len() < 64 * 1024 {
                    match rx.try_recv() {
                        Ok(m) => batch.extend_from_slice(m.as_bytes()),
                        Err(_) => break,
                    }
                }
                bytes = &batch;
            }
            tokio::select! {
                () = writer_kick.cancelled() => break,
                // (flush: TLS holds records back until asked; a plain socket has nothing held.)
                r = async { writer.write_all(bytes).await?; writer.flush().await } => if r.is_err() { writer_kick.cancel(); break },
            }
            // The backlog is gone: give the memory back, idle clients should cost little.
            if rx.is_empty() && batch.capacity() > 0 {
                batch = Vec::new();
            }
        }
        let _ = writer.shutdown().await;
    });

    // Reader: lines in, commands out.
    let mut nick = nick;
    let mut framer = LineFramer::new(cfg.max_line);
    let mut frames = Vec::new();
    let mut bucket = cfg.rate;
    let mut last = Instant::now();
    let mut warned = Instant::now() - Duration::from_secs(10);
    let mut leave_reason = "left".to_string();
    'read: loop {
        frames.clear();
        let more = tokio::select! {
            () = kick.cancelled() => break,
            more = reader.fill(&mut framer, &mut frames) => more,
        };
        if !more {
            break;
        }
        for f in frames.drain(..) {
            let line = match f {
                Frame::TooLong => {
                    let _ =
                        tx.try_send(Arc::from(format!("* line too long (over {} bytes): not sent\n", cfg.max_line)));
                    continue;
                }
                Frame::Line(l) => l,
            };
            if cfg.rate > 0.0 {
                let now = Instant::now();
                bucket = (bucket + (now - last).as_secs_f64() * cfg.rate).min(cfg.rate.max(1.0));
                last = now;
                if bucket < 1.0 {
                    if now - warned > Duration::from_secs(1) {
                        warned = now;
                        let _ = tx.try_send(Arc::from(format!("* slow down: at most {} lines a second\n", cfg.rate)));
                    }
                    continue;
                }
                bucket -= 1.0;
            }
            let text = chat::sanitize(&line);
            match chat::parse_command(&text) {
                Command::Say(t) => {
                    if t.is_empty() {
                        continue;
                    }
                    shared.event(Event::Said { nick: nick.clone(), text: t.clone() });
                    shared.broadcast(&format!("<{nick}> {t}"), Some(id)).await;
                }
                Command::Me(t) => {
                    shared.event(Event::Action { nick: nick.clone(), text: t.clone() });
                    shared.broadcast(&format!("* {nick} {t}"), Some(id)).await;
                }
                Command::Nick(new) => match chat::validate_nick(&new) {
                    Err(e) => {
                        let _ = tx.try_send(Arc::from(format!("* {e}\n")));
                    }
                    Ok(()) => {
                        let taken = {
                            let mut room = shared.lock();
                            let key = new.to_ascii_lowercase();
                            match room.nicks.get(&key) {
                                Some(&other) if other != id => true,
                                _ => {
                                    room.nicks.remove(&nick.to_ascii_lowercase());
                                    room.nicks.insert(key, id);
                                    if let Some(m) = room.members.get_mut(&id) {
                                        m.nick = new.clone();
                                    }
                                    false
                                }
                            }
                        };
                        if taken {
                            let _ = tx.try_send(Arc::from(format!("* the nick {new} is taken: choose another\n")));
                        } else {
                            shared.event(Event::Renamed { old: nick.clone(), new: new.clone() });
                            shared.broadcast(&format!("* {nick} is now known as {new}"), None).await;
                            nick = new;
                        }
                    }
                },
                Command::Who => {
                    let (count, mut names) = {
                        let room = shared.lock();
                        (
                            room.members.len(),
                            room.members.values().map(|m| m.nick.clone()).take(200).collect::<Vec<_>>(),
                        )
                    };
                    names.sort();
                    let more =
                        if count > names.len() { format!(" and {} more", count - names.len()) } else { String::new() };
                    let _ = tx.try_send(Arc::from(format!("* online ({count}): {}{more}\n", names.join(", "))));
                }
                Command::Msg { to, text } => {
                    let target = {
                        let room = shared.lock();
                        room.nicks
                            .get(&to.to_ascii_lowercase())
                            .and_then(|t| room.members.get(t))
                            .map(|m| (m.out.clone(), m.nick.clone()))
                    };
                    match target {
                        Some((r, t)) => {
                            deliver(&r, &Arc::from(format!("<{nick}> (private) {text}\n")), cfg.stall).await;
                            shared.event(Event::Private { from: nick.clone(), to: t });
                        }
                        None => {
                            let _ =
                                tx.try_send(Arc::from(format!("* no one called {to} is here (/who lists everyone)\n")));
                        }
                    }
                }
                Command::Quit => {
                    let _ = tx.try_send(Arc::from("* bye\n"));
                    break 'read;
                }
                Command::Help => {
                    let _ = tx.try_send(Arc::from(format!("{}\n", help())));
                }
                Command::Unknown(c) => {
                    let _ = tx.try_send(Arc::from(format!("* unknown command /{c}: try /help\n")));
                }
            }
        }
    }
    if let Some(r) = reason.lock().unwrap_or_else(|p| p.into_inner()).clone() {
        leave_reason = format!("disconnected: {r}");
    } else if stop.is_cancelled() {
        leave_reason = "server shut down".into();
    }
    {
        let mut room = shared.lock();
        room.members.remove(&id);
        room.nicks.remove(&nick.to_ascii_lowercase());
    }
    shared.event(Event::Left { nick: nick.clone(), reason: leave_reason.clone() });
    let notice =
        if leave_reason == "left" { format!("* {nick} left") } else { format!("* {nick} left ({leave_reason})") };
    shared.broadcast(&notice, None).await;
    // Let the writer send what is queued (the "bye"), then close.
    drop((tx, me));
    let _ = tokio::time::timeout(Duration::from_secs(2), writer_task).await;
}
