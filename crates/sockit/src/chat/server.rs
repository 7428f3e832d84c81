//! The chat server, in mini-redis's shape: `run(config, console, started, stop)` owns its
//! runtime and binds; `serve(listener, config, events, discovery, shutdown)` is the server
//! itself, which `run` and the demo both use.
//!
//! Each client has a reader task and a writer task. Lines go out through a bounded queue per
//! client: broadcasting never waits, and a client whose queue is full (it stopped reading) is
//! disconnected with a reason while everyone else carries on. Memory is bounded by the number
//! of clients times (queue length x line length). Accept errors (EMFILE, resets) cost one
//! connection, never the server.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sockit_core::chat::{self, Command, Frame, LineFramer, Notice};
use sockit_core::cluster::{Body, Claim};
use sockit_core::discovery::ServerInfo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError, mpsc};
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
    /// Serve the page and WebSocket members on the chat port.
    pub web: bool,
    /// Pages of other origins that may open the room's WebSocket.
    pub origins: super::web::Origins,
    /// Lines replayed to a member who joins (0: none).
    pub history: usize,
    /// The link to the other servers of a cluster.
    pub cluster: Option<super::cluster::Link>,
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
            web: true,
            origins: super::web::Origins::default(),
            history: 0,
            cluster: None,
        }
    }
}

/// What happened, for the server's console.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Event {
    Joined {
        nick: String,
        peer: SocketAddr,
    },
    Left {
        nick: String,
        reason: String,
    },
    /// `server`: the server of the cluster it was said on, when not this one.
    Said {
        nick: String,
        text: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        server: Option<String>,
    },
    Action {
        nick: String,
        text: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        server: Option<String>,
    },
    Renamed {
        old: String,
        new: String,
    },
    Private {
        from: String,
        to: String,
    },
    Refused {
        peer: SocketAddr,
        reason: String,
    },
    ShuttingDown {
        clients: usize,
    },
    /// The link to the cluster's broker is down / back.
    LinkDown,
    LinkUp,
    /// Numbered messages of another server that never arrived.
    Lost {
        server: String,
        messages: u64,
    },
    /// Another server fell silent and its members are gone.
    ServerGone {
        server: String,
        members: usize,
    },
    /// Messages for the cluster that did not fit in the outbox.
    ClusterDropped {
        messages: u64,
    },
}

/// Where events go; a full console drops events rather than slowing the room.
pub type Events = mpsc::Sender<Event>;

/// One connected client, as the room sees it.
pub(super) struct Member {
    pub(super) nick: String,
    /// When the nick was taken (ms since the epoch): the earlier claim keeps a nick.
    pub(super) since: u64,
    pub(super) out: Recipient,
}

/// A client's way in: its queue, its disconnect switch, why it was disconnected, and since
/// when its writer has been blocked.
#[derive(Clone)]
pub(super) struct Recipient {
    tx: Lines,
    kick: CancellationToken,
    reason: Arc<Mutex<Option<String>>>,
    blocked: Blocked,
}

/// Since when a client's writer has been waiting for its socket to take a write, if it is:
/// milliseconds after the server's start, plus one (0: not waiting). A client that stopped
/// reading stops its writer; anyone who finds its queue full waits only until this time plus
/// the stall window, so ten such clients cost a speaker one window between them, not ten.
#[derive(Clone)]
struct Blocked {
    since: Arc<AtomicU64>,
    epoch: Instant,
}

impl Blocked {
    fn new(epoch: Instant) -> Blocked {
        Blocked { since: Arc::new(AtomicU64::new(0)), epoch }
    }

    fn start(&self) {
        self.since.store(self.epoch.elapsed().as_millis() as u64 + 1, Ordering::Relaxed);
    }

    fn end(&self) {
        self.since.store(0, Ordering::Relaxed);
    }

    /// When a wait for this client's queue gives up: the stall window after its writer
    /// blocked, or after now if it is not blocked.
    fn deadline(&self, stall: Duration) -> tokio::time::Instant {
        match self.since.load(Ordering::Relaxed) {
            0 => tokio::time::Instant::now() + stall,
            ms => tokio::time::Instant::from_std(self.epoch + Duration::from_millis(ms - 1) + stall),
        }
    }
}

/// A member's outgoing queue, bounded in lines rather than entries: the lines of one paste
/// travel as one entry, and take as many places as they are lines. A place is given back when
/// its line has been written to the socket.
#[derive(Clone)]
pub(super) struct Lines {
    tx: mpsc::UnboundedSender<(Arc<str>, OwnedSemaphorePermit)>,
    places: Arc<Semaphore>,
    max: u32,
}

/// What became of a try to queue.
enum Queue {
    Done,
    Full,
    Closed,
}

/// How many lines `text` holds (at least one: one place a piece).
pub(super) fn lines_in(text: &str) -> u32 {
    (text.bytes().filter(|&b| b == b'\n').count() as u32).max(1)
}

impl Lines {
    fn new(max: usize) -> (Lines, mpsc::UnboundedReceiver<(Arc<str>, OwnedSemaphorePermit)>) {
        let max = max.clamp(1, Semaphore::MAX_PERMITS) as u32;
        let (tx, rx) = mpsc::unbounded_channel();
        (Lines { tx, places: Arc::new(Semaphore::new(max as usize)), max }, rx)
    }

    /// Queue `text` (`n` lines) if there is room for it now. A piece longer than the whole
    /// queue takes the whole queue.
    fn try_push(&self, text: &Arc<str>, n: u32) -> Queue {
        match Arc::clone(&self.places).try_acquire_many_owned(n.min(self.max)) {
            Ok(p) => match self.tx.send((Arc::clone(text), p)) {
                Ok(()) => Queue::Done,
                Err(_) => Queue::Closed,
            },
            Err(TryAcquireError::Closed) => Queue::Closed,
            Err(TryAcquireError::NoPermits) => Queue::Full,
        }
    }

    /// Queue `text` once there is room for it; false if the member is gone.
    async fn push(&self, text: &Arc<str>, n: u32) -> bool {
        match Arc::clone(&self.places).acquire_many_owned(n.min(self.max)).await {
            Ok(p) => self.tx.send((Arc::clone(text), p)).is_ok(),
            Err(_) => false,
        }
    }

    /// Whether lines wait to be written.
    fn pending(&self) -> bool {
        self.places.available_permits() < self.max as usize
    }
}

impl Recipient {
    /// Disconnect, saying why (the first reason given stands).
    fn kick(&self, why: String) {
        let mut reason = self.reason.lock().unwrap_or_else(|p| p.into_inner());
        if reason.is_none() {
            *reason = Some(why);
        }
        self.kick.cancel();
    }
}

/// Joins or leaves not announced yet: a burst is announced in one notice per window. Without
/// it, N clients joining cost N² notices (10,000 clients: 50 million); leaving, the same.
#[derive(Default)]
struct Burst {
    /// (member id, nick, reason) in arrival order.
    pending: Vec<(u64, String, Option<String>)>,
    /// When the last notice of this kind went out.
    last: Option<Instant>,
}

/// A burst is announced at most once per this window (the first after a quiet spell at once).
const BURST_WINDOW: Duration = Duration::from_millis(250);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Join,
    Leave,
}

#[derive(Default)]
pub(super) struct Room {
    pub(super) members: HashMap<u64, Member>,
    /// Lower-case nick -> member id.
    pub(super) nicks: HashMap<String, u64>,
    next_guest: u64,
    joins: Burst,
    leaves: Burst,
    /// The other servers of the cluster, by node name.
    pub(super) peers: HashMap<String, super::cluster::Peer>,
    /// The last lines said, for those who join (`--history`).
    history: VecDeque<Arc<str>>,
}

/// Lines queued for everyone, and the recipients whose queues were full for each.
pub(super) type Queued = Vec<(Arc<str>, Vec<Recipient>)>;

pub(super) fn line(text: impl std::fmt::Display) -> Arc<str> {
    Arc::from(format!("{text}\n"))
}

impl Room {
    /// A guest nick nobody holds here or (as far as is known) elsewhere in the cluster; in a
    /// cluster it carries the server's tag (`guest-7-k3f`).
    pub(super) fn fresh_guest(&mut self, tag: &str) -> String {
        loop {
            self.next_guest += 1;
            let n = if tag.is_empty() {
                format!("guest-{}", self.next_guest)
            } else {
                format!("guest-{}-{tag}", self.next_guest)
            };
            let key = n.to_ascii_lowercase();
            if !self.nicks.contains_key(&key) && self.remote_holder(&key).is_none() {
                return n;
            }
        }
    }

    fn burst(&mut self, kind: Kind) -> &mut Burst {
        match kind {
            Kind::Join => &mut self.joins,
            Kind::Leave => &mut self.leaves,
        }
    }

    /// Queue the notice for the pending joins, then the pending leaves (nobody hears of a
    /// member leaving before hearing it joined).
    fn announce_pending(&mut self, outbox: Option<&super::cluster::Outbox>) -> Queued {
        [Kind::Join, Kind::Leave].into_iter().filter_map(|k| self.announce(k, outbox)).collect()
    }

    fn announce(&mut self, kind: Kind, outbox: Option<&super::cluster::Outbox>) -> Option<(Arc<str>, Vec<Recipient>)> {
        let burst = self.burst(kind);
        if burst.pending.is_empty() {
            return None;
        }
        burst.last = Some(Instant::now());
        let mut pending = std::mem::take(&mut burst.pending);
        // (A pending joiner who has left since is announced here all the same, then as gone.)
        // A lone joiner has its welcome and needs no notice of itself.
        let except = (kind == Kind::Join && pending.len() == 1).then(|| pending[0].0);
        let notice = match kind {
            Kind::Join => {
                if let Some(o) = outbox {
                    let members = pending
                        .iter()
                        .filter_map(|(id, n, _)| {
                            self.members.get(id).map(|m| Claim { nick: n.clone(), since: m.since })
                        })
                        .collect();
                    o.publish(Body::Joined { members });
                }
                Notice::Joined { nicks: pending.drain(..).map(|(_, n, _)| n).collect() }
            }
            Kind::Leave => {
                let reason = if pending.len() == 1 { pending[0].2.take() } else { None };
                let nicks: Vec<String> = pending.drain(..).map(|(_, n, _)| n).collect();
                if let Some(o) = outbox {
                    o.publish(Body::Left { nicks: nicks.clone(), reason: reason.clone() });
                }
                Notice::Left { nicks, reason }
            }
        };
        let notice = line(notice);
        let full = queue_all(self, &notice, except);
        Some((notice, full))
    }
}

/// The server's shared state.
pub(super) struct Shared {
    cfg: ServerConfig,
    /// Messages for the other servers of a cluster.
    outbox: Option<super::cluster::Outbox>,
    /// The tag of this server's guest nicks in a cluster ("" alone).
    pub(super) guest_tag: String,
    /// When the server started (the clock of `Blocked`).
    epoch: Instant,
    room: Mutex<Room>,
    events: Events,
    next_id: AtomicU64,
    /// Addresses that made HTTP requests lately (browsers), and when.
    browsers: super::web::Browsers,
}

impl Shared {
    /// This server's name in its cluster ("" alone).
    pub(super) fn node_name(&self) -> &str {
        self.cfg.cluster.as_ref().map_or("", |l| l.node.as_str())
    }

    pub(super) fn outbox(&self) -> Option<&super::cluster::Outbox> {
        self.outbox.as_ref()
    }

    /// Keep a line said in the room for those who join later (`--history`).
    pub(super) fn remember(&self, text: &Arc<str>) {
        if self.cfg.history > 0 {
            self.remember_all(std::iter::once(Arc::clone(text)));
        }
    }

    /// `remember` for several lines at once.
    fn remember_all(&self, lines: impl Iterator<Item = Arc<str>>) {
        let keep = self.cfg.history;
        if keep > 0 {
            let mut room = self.lock();
            for l in lines {
                if room.history.len() >= keep {
                    room.history.pop_front();
                }
                room.history.push_back(l);
            }
        }
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Room> {
        self.room.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn event(&self, e: Event) {
        let _ = self.events.try_send(e);
    }

    /// Whether any member's queue still holds lines for it.
    fn output_pending(&self) -> bool {
        self.lock().members.values().any(|m| m.out.tx.pending())
    }

    /// Queue `text` for every member but `except`, after the joins and leaves still waiting
    /// for their notice. Queues with room are served under the lock, without waiting; the
    /// full ones are waited for after it is released, all within one stall window.
    /// `publish`: what the other servers of a cluster are told of it, after the joins and
    /// leaves (so a joiner is announced before its first words, everywhere).
    async fn broadcast(&self, text: Arc<str>, except: Option<u64>, window: &mut Window, publish: Vec<Body>) {
        let mut queued = {
            let mut room = self.lock();
            let mut queued = room.announce_pending(self.outbox.as_ref());
            if let Some(o) = self.outbox.as_ref() {
                for body in publish {
                    o.publish(body);
                }
            }
            let full = queue_all(&room, &text, except);
            queued.push((text, full));
            queued
        };
        queued.retain(|(_, full)| !full.is_empty());
        self.wait_for(queued, Some(window)).await;
    }

    /// Announce that member `id` (`nick`) joined or left: at once after a quiet spell; during
    /// a burst, with the rest of the burst when the window closes.
    async fn announce(self: &Arc<Self>, kind: Kind, id: u64, nick: &str, reason: Option<String>) {
        let queued = {
            let mut room = self.lock();
            let now = Instant::now();
            let quiet = {
                let b = room.burst(kind);
                b.pending.is_empty() && b.last.is_none_or(|t| now - t >= BURST_WINDOW)
            };
            let burst = room.burst(kind);
            burst.pending.push((id, nick.to_string(), reason));
            if quiet {
                room.announce_pending(self.outbox.as_ref())
            } else {
                if burst.pending.len() == 1 {
                    // The first of a burst schedules the notice for the whole burst.
                    let due = burst.last.map_or(now, |t| t + BURST_WINDOW);
                    let shared = Arc::clone(self);
                    tokio::spawn(async move {
                        tokio::time::sleep_until(due.into()).await;
                        let queued = shared.lock().announce_pending(shared.outbox.as_ref());
                        shared.wait_for(queued, None).await;
                    });
                }
                Vec::new()
            }
        };
        self.wait_for(queued, None).await;
    }

    /// Deliver each line to the recipients whose queues were full, each waited for until the
    /// end of its own stall window (`Blocked`); a queue still full then disconnects its client.
    pub(super) async fn wait_for(&self, queued: Queued, mut window: Option<&mut Window>) {
        for (text, full) in &queued {
            for r in full {
                deliver(r, text, self.cfg.stall, window.as_deref_mut()).await;
            }
        }
    }

    /// Queue `text` for everyone without waiting for anybody (for the goodbye).
    fn broadcast_now(&self, text: impl std::fmt::Display) {
        let text = line(text);
        for m in self.lock().members.values() {
            let _ = m.out.tx.try_push(&text, 1);
        }
    }

    fn users(&self) -> u64 {
        self.lock().members.len() as u64
    }
}

/// Queue `text` for every member but `except` without waiting; returns those whose queues
/// were full.
pub(super) fn queue_all(room: &Room, text: &Arc<str>, except: Option<u64>) -> Vec<Recipient> {
    let n = lines_in(text);
    room.members
        .iter()
        .filter(|&(&id, m)| Some(id) != except && matches!(m.out.tx.try_push(text, n), Queue::Full))
        .map(|(_, m)| m.out.clone())
        .collect()
}

/// A speaker's stall window: once it has waited for a full queue, every queue it finds full
/// until the window ends shares that wait, so a speaker waits at most once per window however
/// many members stopped reading.
#[derive(Debug, Default)]
pub(super) struct Window {
    start: Option<tokio::time::Instant>,
}

impl Window {
    fn end(&mut self, stall: Duration) -> tokio::time::Instant {
        let now = tokio::time::Instant::now();
        match self.start {
            Some(s) if now < s + stall => s + stall,
            _ => {
                self.start = Some(now);
                now + stall
            }
        }
    }
}

/// Queue `text` for `r`, waiting for room until the end of its stall window (and of the
/// speaker's, if one speaks); still full then: disconnected.
async fn deliver(r: &Recipient, text: &Arc<str>, stall: Duration, window: Option<&mut Window>) {
    let n = lines_in(text);
    match r.tx.try_push(text, n) {
        Queue::Done | Queue::Closed => {}
        Queue::Full => {
            if r.kick.is_cancelled() {
                return;
            }
            let deadline = match window {
                Some(w) => r.blocked.deadline(stall).min(w.end(stall)),
                None => r.blocked.deadline(stall),
            };
            if !matches!(tokio::time::timeout_at(deadline, r.tx.push(text, n)).await, Ok(true)) {
                r.kick(format!("not reading: its outgoing queue stayed full for {} s", stall.as_secs_f64()));
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
    /// Serve the page and WebSockets on the chat port.
    pub web: bool,
    /// Other origins whose pages may open the room's WebSocket.
    pub web_origins: Vec<String>,
    /// Lines replayed to a member who joins (0: none).
    pub history: usize,
    /// One room with the other servers of a cluster, through a NATS broker.
    pub cluster: Option<super::cluster::ClusterConfig>,
}

/// What a starting server says, for the user to see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    pub room: String,
    pub address: SocketAddr,
    pub discovery: Option<SocketAddr>,
    /// The SHA-256 fingerprint of a TLS room's certificate.
    pub fingerprint: Option<String>,
    /// The cluster: its name, this server's name in it, and the broker (without credentials).
    pub cluster: Option<(String, String, String)>,
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

/// An IPv6-only UDP socket on `port` of every IPv6 address, sharing the port as the IPv4 one
/// does; `None` (and a note in the log) where the host has no IPv6.
fn discovery_socket_v6(port: u16) -> Option<std::net::UdpSocket> {
    let make = || -> std::io::Result<socket2::Socket> {
        let s = socket2::Socket::new(socket2::Domain::IPV6, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
        s.set_only_v6(true)?;
        s.set_reuse_address(true)?;
        s.bind(&SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, port)).into())?;
        Ok(s)
    };
    make().map(Into::into).map_err(|e| tracing::info!(error = %e, "no IPv6 discovery")).ok()
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
            let sock: std::net::UdpSocket = crate::net::bound_socket(any, socket2::Type::DGRAM)
                .map_err(|e| match e {
                    NetError::InUse { addr } => NetError::Advice {
                        text: format!(
                            "cannot answer discovery on {addr} (udp): a program that does not share the port holds it"
                        ),
                        hint: crate::hint::Hint::OtherDiscoveryPort,
                    },
                    other => other,
                })?
                .into();
            Some(sock)
        }
        None => None,
    };
    // IPv6 has no broadcast: for a room that takes IPv6 clients (bound to :: or an IPv6
    // address), an IPv6-only socket on the same port hears probes sent to the all-nodes group
    // (ff02::1) and to ::1. A room on IPv4 alone answers over IPv4 alone.
    let udp6 = udp
        .as_ref()
        .and_then(|u| u.local_addr().ok())
        .filter(|_| local.is_ipv6())
        .and_then(|a| discovery_socket_v6(a.port()));
    let (tls, fingerprint) = match &cfg.tls {
        Some(t) => {
            let (config, fp) = crate::tls::server_config_for(t, local)?;
            (Some(config), Some(fp))
        }
        None => (None, None),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| NetError::io("cannot start the runtime", e))?;
    // The broker first: a server that cannot reach it says so and does not start.
    let link = match &cfg.cluster {
        Some(c) => {
            let node = c.node.clone().unwrap_or_else(|| {
                let host = crate::host::hostname();
                format!("{host}:{}", local.port())
            });
            Some(rt.block_on(super::cluster::connect(c, &cfg.room, node))?)
        }
        None => None,
    };
    // SIGINT and SIGTERM are taken before the server says it started: a signal that comes
    // as soon as it is up ends it with its goodbye, not by the signal's default action.
    let (mut int, mut term) = match stop {
        Stop::Signals => {
            use tokio::signal::unix::{SignalKind, signal};
            let _rt = rt.enter();
            (signal(SignalKind::interrupt()).ok(), signal(SignalKind::terminate()).ok())
        }
        Stop::Token(_) => (None, None),
    };
    started(&Started {
        room: cfg.room.clone(),
        address: local,
        discovery: udp.as_ref().and_then(|u| u.local_addr().ok()),
        fingerprint,
        cluster: link.as_ref().zip(cfg.cluster.as_ref()).map(|(l, c)| {
            let shown = c.urls.iter().map(|u| super::cluster::without_credentials(u)).collect::<Vec<_>>().join(",");
            (l.cluster.clone(), l.node.clone(), shown)
        }),
    });
    let server_cfg = ServerConfig {
        tls,
        room: cfg.room.clone(),
        max_clients: cfg.max_clients,
        max_line: cfg.max_line,
        rate: cfg.rate,
        web: cfg.web,
        origins: super::web::Origins { allowed: cfg.web_origins.clone() },
        history: cfg.history,
        cluster: link,
        ..Default::default()
    };
    let io = |e: std::io::Error| NetError::io("chat server", e);
    rt.block_on(async move {
        listener.set_nonblocking(true).map_err(io)?;
        let listener = TcpListener::from_std(listener).map_err(io)?;
        let mut discovery = Vec::new();
        for u in udp.into_iter().chain(udp6) {
            u.set_nonblocking(true).map_err(io)?;
            discovery.push(UdpSocket::from_std(u).map_err(io)?);
        }
        let (tx, mut rx) = mpsc::channel::<Event>(65_536);
        let console = tokio::spawn(async move {
            while let Some(e) = rx.recv().await {
                console(&e);
            }
        });
        let (stopped_tx, stopped_rx) = std::sync::mpsc::channel();
        let shutdown = async move {
            async fn next(s: &mut Option<tokio::signal::unix::Signal>) {
                match s.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            let why = match stop {
                Stop::Token(t) => {
                    t.cancelled().await;
                    Stopped::Asked
                }
                Stop::Signals => tokio::select! {
                    () = next(&mut int) => Stopped::Interrupted,
                    () = next(&mut term) => Stopped::Terminated,
                },
            };
            let _ = stopped_tx.send(why);
        };
        serve(listener, server_cfg, tx, discovery, shutdown).await;
        let _ = console.await;
        Ok(stopped_rx.try_recv().unwrap_or(Stopped::Asked))
    })
}

/// Serve until `shutdown` completes; then tell everyone and close, waiting for every client's
/// task to end. Also answer discovery probes on each `discovery` socket.
pub async fn serve(
    listener: TcpListener,
    cfg: ServerConfig,
    events: Events,
    discovery: Vec<UdpSocket>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let local = listener.local_addr().ok();
    let port = local.map_or(0, |a| a.port());
    // A chat port bound to one address is advertised at that address.
    let bound = local.map(|a| a.ip()).filter(|ip| !ip.is_unspecified());
    let (outbox, outgoing) = match &cfg.cluster {
        Some(link) => {
            let (o, rx) = super::cluster::Outbox::new(link);
            (Some(o), Some(rx))
        }
        None => (None, None),
    };
    let guest_tag = cfg.cluster.as_ref().map_or(String::new(), |l| sockit_core::cluster::guest_tag(&l.node));
    let shared = Arc::new(Shared {
        cfg,
        outbox,
        guest_tag,
        epoch: Instant::now(),
        room: Mutex::new(Room::default()),
        events,
        next_id: AtomicU64::new(1),
        browsers: super::web::Browsers::default(),
    });
    let stop = CancellationToken::new();
    let tasks = TaskTracker::new();
    if let (Some(link), Some(outgoing)) = (shared.cfg.cluster.clone(), outgoing) {
        shared.start_cluster(link, outgoing, &tasks, stop.clone());
    }
    // This run's identity in discovery replies: the clock and the process, as the scan's seed.
    let id = format!(
        "{:016x}",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id()).rotate_left(32)
            ^ u64::from(port)
    );
    for sock in discovery {
        let (stop, counter) = (stop.clone(), Arc::clone(&shared));
        let (room, tls, id) = (shared.cfg.room.clone(), shared.cfg.tls.is_some(), id.clone());
        let cluster = shared.cfg.cluster.as_ref().map(|l| l.cluster.clone());
        let info = move || ServerInfo {
            room: room.clone(),
            port,
            users: counter.users(),
            version: env!("CARGO_PKG_VERSION").into(),
            tls,
            addr: bound,
            id: Some(id.clone()),
            cluster: cluster.clone(),
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
    shared.leave_cluster();
    shared.broadcast_now(Notice::Goodbye);
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

/// Add a member under a fresh guest nick and queue its welcome, then the room's history;
/// returns the nick.
fn register(room: &mut Room, cfg: &ServerConfig, tag: &str, id: u64, out: &Recipient) -> String {
    let nick = room.fresh_guest(tag);
    let remote = room.peers.values().flat_map(|p| p.members.values().map(|c| c.nick.clone()));
    let mut names: Vec<String> = room.members.values().map(|m| m.nick.clone()).chain(remote).take(20).collect();
    names.sort_unstable();
    let online = room.members.len() + room.remote_count();
    let welcome = Notice::Welcome { room: cfg.room.clone(), nick: nick.clone(), online, names };
    let _ = out.tx.try_push(&line(welcome), 1);
    if !room.history.is_empty() {
        let _ = out.tx.try_push(&line(Notice::History { count: room.history.len() }), 1);
        for l in &room.history {
            let _ = out.tx.try_push(l, 1);
        }
    }
    room.nicks.insert(nick.clone(), id);
    let since = super::cluster::now_ms();
    room.members.insert(id, Member { nick: nick.clone(), since, out: out.clone() });
    nick
}

/// A new connection: socket options, the TLS handshake when the room speaks TLS, what kind of
/// client it is (a line client, or a browser: the page or a WebSocket), then the client's life
/// in the room. A handshake or an HTTP request must be done within 10 s (slowloris).
async fn connected(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr, stop: CancellationToken) {
    use super::web::{Arrival, sniff};
    let _ = stream.set_nodelay(true);
    // A small kernel send buffer: memory per client stays bounded in the kernel too, and a
    // client that stops reading fills its queue soon enough to be noticed.
    let _ = socket2::SockRef::from(&stream).set_send_buffer_size(64 * 1024);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let web = shared.cfg.web;
    // A silent connection from an address that has just loaded the page is a browser's spare
    // socket, not a person at nc: it must speak first.
    let seen = Arc::clone(&shared);
    let browser_here = move || seen.browsers.seen(peer.ip());
    match shared.cfg.tls.clone() {
        None => {
            let mut stream = stream;
            // A spare socket may wait a minute: the server's end does not wait for it.
            let arrival = tokio::select! {
                () = stop.cancelled() => return,
                a = Box::pin(sniff(&mut stream, web, deadline, &browser_here)) => a,
            };
            match arrival {
                Arrival::Line(read) => {
                    let (reader, writer) = stream.into_split();
                    client(shared, reader, Plain(writer), read, peer, stop).await;
                }
                // Boxed: a line client's task does not carry a browser's state.
                Arrival::Http(head, rest) => Box::pin(browser(shared, stream, head, rest, peer, stop, deadline)).await,
                Arrival::Gone => {}
            }
        }
        Some(config) => {
            Box::pin(async move {
                let accept = tokio_rustls::TlsAcceptor::from(config).accept(stream);
                match tokio::time::timeout_at(deadline, accept).await {
                    Ok(Ok(mut tls)) => match tokio::select! {
                        () = stop.cancelled() => return,
                        a = sniff(&mut tls, web, deadline, &browser_here) => a,
                    } {
                        Arrival::Line(read) => {
                            let (reader, writer) = tokio::io::split(tls);
                            client(shared, reader, Plain(writer), read, peer, stop).await;
                        }
                        Arrival::Http(head, rest) => {
                            Box::pin(browser(shared, tls, head, rest, peer, stop, deadline)).await
                        }
                        Arrival::Gone => {}
                    },
                    Ok(Err(e)) => shared.event(Event::Refused { peer, reason: format!("TLS handshake failed: {e}") }),
                    Err(_) => shared.event(Event::Refused { peer, reason: "TLS handshake took over 10 s".into() }),
                }
            })
            .await
        }
    }
}

/// A browser's request: the page, an error, or a WebSocket member of the room.
async fn browser<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    shared: Arc<Shared>,
    stream: S,
    head: super::web::Head,
    rest: Vec<u8>,
    peer: SocketAddr,
    stop: CancellationToken,
    deadline: tokio::time::Instant,
) {
    if head.is_browser_page_load() {
        shared.browsers.saw(peer.ip());
    }
    let served = super::web::serve_http(stream, head, rest, &shared.cfg.origins);
    match tokio::time::timeout_at(deadline, served).await {
        Ok(Ok(super::web::Served::Member(stream, rest))) => {
            let (reader, writer) = super::web::member(stream, rest, shared.cfg.max_line).await;
            client(shared, reader, writer, Vec::new(), peer, stop).await;
        }
        Ok(Ok(super::web::Served::Done)) => {}
        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "HTTP request"),
        Err(_) => shared.event(Event::Refused { peer, reason: "HTTP request took over 10 s".into() }),
    }
}

/// Where a client's lines go.
trait Outlet: Send + 'static {
    /// Send whole lines, and flush them out.
    fn send(&mut self, pieces: &[Arc<str>]) -> impl Future<Output = std::io::Result<()>> + Send;
    /// The end: close the way the client's kind is closed.
    fn close(&mut self) -> impl Future<Output = ()> + Send;
    /// Resolves when the outlet has bytes of its own to send (a WebSocket's pongs); a byte
    /// stream never has.
    fn wants(&self) -> impl Future<Output = ()> + Send + 'static {
        std::future::pending()
    }
}

/// A byte stream (a socket, TLS) takes the lines as they are.
struct Plain<W>(W);

impl<W: AsyncWrite + Unpin + Send + 'static> Outlet for Plain<W> {
    /// The pieces as they are, in one gathered write where the stream takes one (a socket):
    /// nothing is copied to put them together.
    async fn send(&mut self, pieces: &[Arc<str>]) -> std::io::Result<()> {
        let mut slices: Vec<std::io::IoSlice> = pieces.iter().map(|p| std::io::IoSlice::new(p.as_bytes())).collect();
        let mut left = &mut slices[..];
        while !left.is_empty() {
            match self.0.write_vectored(left).await? {
                0 => return Err(std::io::ErrorKind::WriteZero.into()),
                n => std::io::IoSlice::advance_slices(&mut left, n),
            }
        }
        // (flush: TLS holds records back until asked; a plain socket has nothing held.)
        self.0.flush().await
    }

    async fn close(&mut self) {
        let _ = self.0.shutdown().await;
    }
}

/// A WebSocket member gets a text frame a line.
impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Outlet for super::web::WsOut<S> {
    async fn send(&mut self, pieces: &[Arc<str>]) -> std::io::Result<()> {
        self.send_lines(pieces).await
    }

    async fn close(&mut self) {
        super::web::WsOut::close(self).await;
    }

    fn wants(&self) -> impl Future<Output = ()> + Send + 'static {
        super::web::WsOut::wants(self)
    }
}

/// A WebSocket member's text frames are its lines.
impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Source for super::web::WsIn<S> {
    async fn fill(&mut self, framer: &mut LineFramer, frames: &mut Vec<Frame>) -> bool {
        self.next_lines(framer, frames).await
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
            // (On the stack, and only while reading: an idle client holds no buffer.)
            let mut buf = [0u8; 64 * 1024];
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

/// Lines a second a member may send: a token bucket, and a warning at most once a second.
#[derive(Debug)]
struct RateLimit {
    rate: f64,
    bucket: f64,
    last: Instant,
    warned: Option<Instant>,
}

/// What the rate limit makes of a line.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Pass,
    /// Dropped; `warn`: tell the member (not more than once a second).
    Drop {
        warn: bool,
    },
}

impl RateLimit {
    fn new(rate: f64) -> RateLimit {
        RateLimit { rate, bucket: rate, last: Instant::now(), warned: None }
    }

    fn check(&mut self, now: Instant) -> Verdict {
        if self.rate <= 0.0 {
            return Verdict::Pass;
        }
        self.bucket = (self.bucket + (now - self.last).as_secs_f64() * self.rate).min(self.rate.max(1.0));
        self.last = now;
        if self.bucket >= 1.0 {
            self.bucket -= 1.0;
            return Verdict::Pass;
        }
        let warn = self.warned.is_none_or(|w| now - w > Duration::from_secs(1));
        if warn {
            self.warned = Some(now);
        }
        Verdict::Drop { warn }
    }
}

/// What the reader does after a command.
enum Flow {
    Go,
    Quit(Option<String>),
}

/// One member's side of the room: who it is, its own queue, its rate limit.
struct Session {
    shared: Arc<Shared>,
    id: u64,
    me: Recipient,
    rate: RateLimit,
    window: Window,
}

impl Session {
    /// The member's nick now (in a cluster, another server's earlier claim may take it).
    fn nick(&self) -> String {
        self.shared.lock().members.get(&self.id).map(|m| m.nick.clone()).unwrap_or_default()
    }

    /// Say `notice` to this member alone. Its replies count against its own bounded queue: a
    /// member that asks and never reads waits here (its reading stops), and is disconnected
    /// when the queue stays full for the stall window; the room never waits for it.
    async fn reply(&self, notice: Notice) {
        deliver(&self.me, &line(notice), self.shared.cfg.stall, None).await;
    }

    /// Say lines (one, or the lines of one read that are all text): queued for everyone as
    /// one piece, each line framed on its own (`<nick> text`).
    async fn say(&mut self, texts: Vec<String>) {
        let shared = Arc::clone(&self.shared);
        let nick = self.nick();
        let mut all = String::with_capacity(texts.iter().map(|t| t.len() + nick.len() + 4).sum());
        for t in &texts {
            shared.event(Event::Said { nick: nick.clone(), text: t.clone(), server: None });
            all.push_str(&chat::said(&nick, t));
            all.push('\n');
        }
        if shared.cfg.history > 0 {
            shared.remember_all(texts.iter().map(|t| line(chat::said(&nick, t))));
        }
        let bodies = match shared.outbox() {
            Some(_) => texts.into_iter().map(|text| Body::Said { nick: nick.clone(), text }).collect(),
            None => Vec::new(),
        };
        shared.broadcast(Arc::from(all), Some(self.id), &mut self.window, bodies).await;
    }

    /// Do what one line from the member asks.
    async fn apply(&mut self, command: Command) -> Flow {
        let shared = Arc::clone(&self.shared);
        match command {
            Command::Say(t) if t.is_empty() => {}
            Command::Say(t) => self.say(vec![t]).await,
            Command::Me(t) if t.is_empty() => self.reply(Notice::NoText { command: "me" }).await,
            Command::Me(t) => {
                let nick = self.nick();
                shared.event(Event::Action { nick: nick.clone(), text: t.clone(), server: None });
                let action = line(chat::action(&nick, &t));
                shared.remember(&action);
                let body = Body::Action { nick, text: t };
                shared.broadcast(action, Some(self.id), &mut self.window, vec![body]).await;
            }
            Command::Nick(new) => self.rename(new).await,
            Command::Who => {
                let (count, names) = {
                    let room = shared.lock();
                    let node = shared.node_name();
                    // In a cluster, each name says its server.
                    let mut all: Vec<(&str, &str)> = room.members.values().map(|m| (m.nick.as_str(), node)).collect();
                    for (n, p) in &room.peers {
                        all.extend(p.members.values().map(|c| (c.nick.as_str(), n.as_str())));
                    }
                    all.sort_unstable();
                    let shown = all.iter().take(200).map(|&(nick, node)| match node {
                        "" => nick.to_string(),
                        n => format!("{nick} ({n})"),
                    });
                    (all.len(), shown.collect())
                };
                self.reply(Notice::Who { count, names }).await;
            }
            Command::Msg { to, text } if text.is_empty() => {
                let _ = to;
                self.reply(Notice::NoText { command: "msg" }).await;
            }
            Command::Msg { to, text } => {
                let nick = self.nick();
                let (target, elsewhere) = {
                    let room = shared.lock();
                    let key = to.to_ascii_lowercase();
                    let here =
                        room.nicks.get(&key).and_then(|t| room.members.get(t)).map(|m| (m.out.clone(), m.nick.clone()));
                    (here, room.remote_holder(&key).map(|(_, c)| c.nick.clone()))
                };
                match (target, elsewhere, shared.outbox()) {
                    (Some((r, t)), _, _) => {
                        deliver(&r, &line(chat::private(&nick, &text)), shared.cfg.stall, Some(&mut self.window)).await;
                        shared.event(Event::Private { from: nick, to: t.clone() });
                        self.reply(Notice::PrivateSent { to: t }).await;
                    }
                    // On another server of the cluster: its server delivers it.
                    (None, Some(t), Some(o)) => {
                        o.publish(Body::Private { from: nick.clone(), to: t.clone(), text });
                        shared.event(Event::Private { from: nick, to: t.clone() });
                        self.reply(Notice::PrivateSent { to: t }).await;
                    }
                    _ => self.reply(Notice::NoSuchNick { nick: to }).await,
                }
            }
            Command::Quit(reason) => {
                self.reply(Notice::Bye { reason: reason.clone() }).await;
                return Flow::Quit(reason);
            }
            Command::Help => self.reply(Notice::Help).await,
            Command::Unknown(c) => self.reply(Notice::Unknown { command: c }).await,
        }
        Flow::Go
    }

    async fn rename(&mut self, new: String) {
        if let Err(e) = sockit_core::names::validate_nick(&new) {
            return self.reply(Notice::Nick(e)).await;
        }
        let renamed = {
            let mut room = self.shared.lock();
            let key = new.to_ascii_lowercase();
            let elsewhere = room.remote_holder(&key).is_some();
            match room.nicks.get(&key) {
                Some(&other) if other != self.id => None,
                _ if elsewhere => None,
                _ => room.members.get(&self.id).map(|m| m.nick.clone()).map(|old| {
                    let since = super::cluster::now_ms();
                    room.nicks.remove(&old.to_ascii_lowercase());
                    room.nicks.insert(key, self.id);
                    if let Some(m) = room.members.get_mut(&self.id) {
                        m.nick = new.clone();
                        m.since = since;
                    }
                    (old, since)
                }),
            }
        };
        let Some((old, since)) = renamed else {
            return self.reply(Notice::NickTaken { nick: new }).await;
        };
        self.shared.event(Event::Renamed { old: old.clone(), new: new.clone() });
        let body = Body::Renamed { old: old.clone(), new: Claim { nick: new.clone(), since } };
        self.shared.broadcast(line(Notice::Renamed { old, new }), None, &mut self.window, vec![body]).await;
    }
}

async fn client(
    shared: Arc<Shared>,
    mut reader: impl Source,
    mut writer: impl Outlet,
    read: Vec<u8>,
    peer: SocketAddr,
    stop: CancellationToken,
) {
    let cfg = shared.cfg.clone();
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let (tx, mut rx) = Lines::new(cfg.queue);
    let kick = stop.child_token();
    let reason: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let blocked = Blocked::new(shared.epoch);
    let me = Recipient { tx, kick: kick.clone(), reason: Arc::clone(&reason), blocked: blocked.clone() };
    // Join: a guest nick, the welcome (to the joiner only), a notice to the others.
    let joined = {
        let mut room = shared.lock();
        (room.members.len() < cfg.max_clients).then(|| register(&mut room, &cfg, &shared.guest_tag, id, &me))
    };
    let Some(nick) = joined else {
        let msg = line(Notice::RoomFull { max: cfg.max_clients });
        let _ = tokio::time::timeout(Duration::from_secs(1), writer.send(&[msg])).await;
        writer.close().await;
        shared.event(Event::Refused { peer, reason: "room full".into() });
        return;
    };
    shared.event(Event::Joined { nick: nick.clone(), peer });

    shared.announce(Kind::Join, id, &nick, None).await;

    // Writer: the queue to the socket; stops when kicked, or when the queue closes.
    let writer_kick = kick.clone();
    let writer_task = tokio::spawn(async move {
        // What goes out in one write, and the places it holds (given back once written).
        let mut pieces: Vec<Arc<str>> = Vec::new();
        let mut held = Vec::new();
        // One wait for the kick for the writer's whole life, not a new one a line.
        let kicked = writer_kick.clone().cancelled_owned();
        tokio::pin!(kicked);
        loop {
            // Lines to send, or (a WebSocket's pongs) only the outlet's own bytes.
            let next = tokio::select! {
                () = &mut kicked => break,
                () = writer.wants() => None,
                m = rx.recv() => match m { Some(m) => Some(m), None => break },
            };
            if let Some((first, place)) = next {
                // A backlog goes out together: up to 256 KiB in up to 512 pieces.
                let mut size = first.len();
                pieces.push(first);
                held.push(place);
                while size < 256 * 1024 && pieces.len() < 512 {
                    match rx.try_recv() {
                        Ok((m, p)) => {
                            size += m.len();
                            pieces.push(m);
                            held.push(p);
                        }
                        Err(_) => break,
                    }
                }
            }
            tokio::select! {
                () = &mut kicked => break,
                r = async {
                    blocked.start();
                    writer.send(&pieces).await
                } => {
                    blocked.end();
                    if r.is_err() { writer_kick.cancel(); break }
                }
            }
            pieces.clear();
            held.clear();
            // The backlog is gone: give the memory back, idle clients should cost little.
            if rx.is_empty() && pieces.capacity() > 8 {
                pieces = Vec::new();
                held = Vec::new();
            }
        }
        writer.close().await;
    });

    // Reader: lines in, commands applied.
    let mut session =
        Session { shared: Arc::clone(&shared), id, me, rate: RateLimit::new(cfg.rate), window: Window::default() };
    let mut framer = LineFramer::new(cfg.max_line);
    let mut frames = Vec::new();
    let mut quit_reason = None;
    let (mut saying, mut said, batch) = (Vec::new(), 0, 64 * 1024);
    // What was read while telling the client's kind comes first.
    let mut read = Some(read).filter(|r| !r.is_empty());
    'read: loop {
        frames.clear();
        let more = match read.take() {
            Some(bytes) => {
                framer.feed(&bytes, &mut frames);
                true
            }
            None => tokio::select! {
                () = kick.cancelled() => break,
                more = reader.fill(&mut framer, &mut frames) => more,
            },
        };
        if !more {
            break;
        }
        for f in frames.drain(..) {
            let line = match f {
                Frame::TooLong => {
                    session.reply(Notice::TooLong { max: cfg.max_line }).await;
                    continue;
                }
                Frame::Line(l) => l,
            };
            match session.rate.check(Instant::now()) {
                Verdict::Pass => {}
                Verdict::Drop { warn: true } => {
                    session.reply(Notice::SlowDown { rate: cfg.rate }).await;
                    continue;
                }
                Verdict::Drop { warn: false } => continue,
            }
            match chat::parse_command(&chat::sanitize(&line)) {
                // Text lines of one read go out together (a paste: one queue entry a member for
                // many lines, each taking its place in the queue), up to 64 KiB.
                Command::Say(t) if !t.is_empty() => {
                    said += t.len() + 16;
                    saying.push(t);
                    if said >= batch {
                        session.say(std::mem::take(&mut saying)).await;
                        said = 0;
                    }
                }
                command => {
                    if !saying.is_empty() {
                        session.say(std::mem::take(&mut saying)).await;
                        said = 0;
                    }
                    if let Flow::Quit(r) = session.apply(command).await {
                        quit_reason = Some(r.map_or_else(|| "left".to_string(), |r| format!("quit: {r}")));
                        break 'read;
                    }
                }
            }
        }
        if !saying.is_empty() {
            session.say(std::mem::take(&mut saying)).await;
            said = 0;
        }
    }
    let nick = session.nick();
    let kicked = reason.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let (console_reason, notice_reason) = match (kicked, quit_reason) {
        (Some(r), _) => (format!("disconnected: {r}"), Some(format!("disconnected: {r}"))),
        (None, _) if stop.is_cancelled() => ("server shut down".to_string(), Some("server shut down".to_string())),
        (None, Some(q)) if q != "left" => (q.clone(), Some(q)),
        _ => ("left".to_string(), None),
    };
    {
        let mut room = shared.lock();
        room.members.remove(&id);
        room.nicks.remove(&nick.to_ascii_lowercase());
    }
    shared.event(Event::Left { nick: nick.clone(), reason: console_reason });
    shared.announce(Kind::Leave, id, &nick, notice_reason).await;
    // Let the writer send what is queued (the "bye"), then close.
    drop(session);
    let _ = tokio::time::timeout(Duration::from_secs(2), writer_task).await;
}
