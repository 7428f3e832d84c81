//! The chat server, in mini-redis's shape: `run(config, console, started, stop)` owns its
//! runtime and binds; `serve(listener, config, events, discovery, shutdown)` is the server
//! itself, which `run` and the demo both use.
//!
//! Each client has a reader task and a writer task. Lines go out through a bounded queue per
//! client: broadcasting never waits, and a client whose queue is full (it stopped reading) is
//! disconnected with a reason while everyone else carries on. Memory is bounded by the number
//! of clients times (queue length x line length). Accept errors (EMFILE, resets) cost one
//! connection, never the server.

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sockit_core::chat::Notice;
use sockit_core::discovery::ServerInfo;
use tokio::net::{TcpListener, UdpSocket};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use super::config::ServeConfig;
use super::events::{Event, Events};
use super::listener::connected;
use super::reload::Change;
use super::room::{Room, Settings, Shared};
use crate::net::{Doing, NetError};

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
    /// The open-file limit, when it holds fewer clients than `--max-clients` (raised as far as
    /// the hard limit allows first): (the limit, the clients it holds).
    pub files: Option<(u64, u64)>,
}

/// Descriptors a server keeps besides its clients' (listeners, discovery, the broker, files).
const SPARE_FILES: u64 = 64;

/// How a running room gets its new configuration on SIGHUP: the command line and its config
/// file read again; an error is one line.
pub type Reread = Box<dyn FnMut() -> Result<ServeConfig, String> + Send>;

/// What ends `run`.
pub enum Stop {
    /// SIGINT or SIGTERM. SIGHUP reloads the configuration through `Reread` (without one,
    /// SIGHUP ends the process as it does by default).
    Signals(Option<Reread>),
    /// The token is cancelled (the demo, tests).
    Token(CancellationToken),
}

impl std::fmt::Debug for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Signals(r) => write!(f, "Signals(reload: {})", r.is_some()),
            Stop::Token(t) => f.debug_tuple("Token").field(t).finish(),
        }
    }
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
    let files = crate::net::raise_fd_limit();
    let listener = crate::listener::Listener::bind(cfg.bind)?.into_std();
    let local = listener.local_addr().map_err(|e| NetError::io(Doing::LocalAddress, e))?;
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
    // Files are read before the room is announced: a bad one is the only line.
    let motd = cfg.motd.as_deref().map(super::reload::motd).transpose()?;
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
        .map_err(|e| NetError::io(Doing::StartRuntime, e))?;
    // The broker first: a server that cannot reach it says so and does not start.
    let link = match &cfg.cluster {
        Some(c) => {
            let node = c.node.clone().unwrap_or_else(|| {
                let host = crate::host::hostname();
                format!("{host}:{}", local.port())
            });
            Some(rt.block_on(super::link::connect(c, &cfg.room, node))?)
        }
        None => None,
    };
    // SIGINT and SIGTERM are taken before the server says it started: a signal that comes
    // as soon as it is up ends it with its goodbye, not by the signal's default action.
    let (mut int, mut term, mut hup) = match &stop {
        Stop::Signals(reread) => {
            use tokio::signal::unix::{SignalKind, signal};
            let _rt = rt.enter();
            let hup = reread.as_ref().and_then(|_| signal(SignalKind::hangup()).ok());
            (signal(SignalKind::interrupt()).ok(), signal(SignalKind::terminate()).ok(), hup)
        }
        Stop::Token(_) => (None, None, None),
    };
    started(&Started {
        room: cfg.room.clone(),
        address: local,
        discovery: udp.as_ref().and_then(|u| u.local_addr().ok()),
        fingerprint,
        cluster: link.as_ref().zip(cfg.cluster.as_ref()).map(|(l, c)| {
            let shown = c.urls.iter().map(|u| sockit_core::text::redact_url(u)).collect::<Vec<_>>().join(",");
            (l.cluster.clone(), l.node.clone(), shown)
        }),
        files: (files < cfg.max_clients as u64 + SPARE_FILES).then(|| (files, files.saturating_sub(SPARE_FILES))),
    });
    crate::systemd::notify("READY=1");
    let server_cfg = Settings {
        tls,
        room: cfg.room.clone(),
        max_clients: cfg.max_clients,
        max_line: cfg.max_line,
        rate: cfg.rate,
        web: cfg.web,
        browsers: super::web::Policy {
            origins: cfg.web_origins.clone(),
            hosts: cfg.web_hosts.clone(),
            own: [crate::host::hostname(), local.ip().to_string()]
                .into_iter()
                .map(|n| n.to_ascii_lowercase())
                .collect(),
            tls: cfg.tls.is_some(),
            pages: cfg.pages.clone(),
        },
        history: cfg.history,
        motd,
        irc_name: cfg.irc_name.clone(),
        metrics: cfg.metrics_allow.clone(),
        cluster: link,
        ..Default::default()
    };
    let io = |e: std::io::Error| NetError::io(Doing::ChatServer, e);
    rt.block_on(async move {
        listener.set_nonblocking(true).map_err(io)?;
        let listener = TcpListener::from_std(listener).map_err(io)?;
        let mut discovery = Vec::new();
        for u in udp.into_iter().chain(udp6) {
            u.set_nonblocking(true).map_err(io)?;
            discovery.push(UdpSocket::from_std(u).map_err(io)?);
        }
        let (tx, rx) = std::sync::mpsc::sync_channel::<Event>(65_536);
        let (console_done, console_ended) = std::sync::mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("console".into())
            .spawn(move || {
                for e in rx {
                    console(&e);
                }
                let _ = console_done.send(());
            })
            .map_err(|e| NetError::io(Doing::StartThread, e))?;
        let (stopped_tx, stopped_rx) = std::sync::mpsc::channel();
        let (changes, changed) = tokio::sync::mpsc::unbounded_channel::<Change>();
        let (told, first) = (tx.clone(), cfg.clone());
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
                Stop::Signals(mut reread) => loop {
                    tokio::select! {
                        () = next(&mut int) => break Stopped::Interrupted,
                        () = next(&mut term) => break Stopped::Terminated,
                        () = next(&mut hup) => {
                            let ready = crate::systemd::reload(|| reread.as_mut().map(|read| {
                                read().and_then(|new| Change::prepare(&first, &new, local).map_err(|e| e.to_string()))
                            }));
                            match ready {
                                Some(Ok(change)) => _ = changes.send(change),
                                Some(Err(reason)) => _ = told.try_send(Event::ReloadRefused { reason }),
                                None => {}
                            }
                        }
                    }
                },
            };
            crate::systemd::notify("STOPPING=1");
            let _ = stopped_tx.send(why);
        };
        serve(listener, server_cfg, tx, discovery, shutdown, changed).await;
        // The console's last events are written, unless it cannot write (then it is left).
        let _ = tokio::task::spawn_blocking(move || console_ended.recv_timeout(Duration::from_secs(2))).await;
        Ok(stopped_rx.try_recv().unwrap_or(Stopped::Asked))
    })
}

/// Serve until `shutdown` completes; then tell everyone and close, waiting for every client's
/// task to end. Also answer discovery probes on each `discovery` socket.
pub async fn serve(
    listener: TcpListener,
    cfg: Settings,
    events: Events,
    discovery: Vec<UdpSocket>,
    shutdown: impl std::future::Future<Output = ()>,
    mut changes: tokio::sync::mpsc::UnboundedReceiver<Change>,
) {
    let local = listener.local_addr().ok();
    let port = local.map_or(0, |a| a.port());
    // A chat port bound to one address is advertised at that address.
    let bound = local.map(|a| a.ip()).filter(|ip| !ip.is_unspecified());
    let (outbox, outgoing) = match &cfg.cluster {
        Some(link) => {
            let (o, rx) = super::link::Outbox::new(link);
            (Some(o), Some(rx))
        }
        None => (None, None),
    };
    let guest_tag = cfg.cluster.as_ref().map_or(String::new(), |l| sockit_core::cluster::guest_tag(&l.node));
    let node = cfg.cluster.as_ref().map_or(String::new(), |l| l.node.clone());
    let shared = Arc::new(Shared {
        settings: std::sync::RwLock::new(Arc::new(cfg)),
        generation: AtomicU64::new(0),
        reloaded: tokio::sync::Notify::new(),
        node,
        outbox,
        guest_tag,
        epoch: Instant::now(),
        room: Mutex::new(Room::default()),
        events,
        next_id: AtomicU64::new(1),
        browsers: super::web::Browsers::default(),
        refused: super::peers::Refused::default(),
        outage: Mutex::new(None),
        quiet: CancellationToken::new(),
        hurry: CancellationToken::new(),
    });
    let stop = CancellationToken::new();
    let tasks = TaskTracker::new();
    // The members' tasks, apart: at shutdown they are given time to say goodbye.
    let members = TaskTracker::new();
    if let (Some(link), Some(outgoing)) = (shared.cfg().cluster.clone(), outgoing) {
        shared.start_cluster(link, outgoing, &tasks, stop.clone());
    }
    // This run's identity in discovery replies: the clock and the process, as the scan's seed.
    let id = format!(
        "{:016x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            ^ u64::from(std::process::id()).rotate_left(32)
            ^ u64::from(port)
    );
    for sock in discovery {
        let (stop, counter) = (stop.clone(), Arc::clone(&shared));
        let (room, id) = (shared.cfg().room.clone(), id.clone());
        let cluster = shared.cfg().cluster.as_ref().map(|l| l.cluster.clone());
        let info = move || ServerInfo {
            room: room.clone(),
            port,
            users: counter.users(),
            version: env!("CARGO_PKG_VERSION").into(),
            // A reload may turn TLS on or off.
            tls: counter.cfg().tls.is_some(),
            addr: bound,
            id: Some(id.clone()),
            cluster: cluster.clone(),
        };
        tasks.spawn(async move { super::discovery::respond(sock, info, bound, stop).await });
    }
    tasks.spawn(give_back_when_members_leave(Arc::clone(&shared), stop.clone()));
    // Reloads: each new configuration put in force as it comes, and said.
    let reloading = Arc::clone(&shared);
    tasks.spawn(async move {
        while let Some(change) = changes.recv().await {
            reloading.reconfigure(|old| change.apply(old));
            reloading.event(Event::Reloaded { fingerprint: change.fingerprint.clone(), kept: change.kept.clone() });
        }
    });
    let accept = {
        let (shared, stop, members) = (Arc::clone(&shared), stop.clone(), members.clone());
        async move {
            loop {
                match listener.accept().await {
                    Ok((stream, peer)) => {
                        let (shared, stop) = (Arc::clone(&shared), stop.clone());
                        members.spawn(connected(shared, stream, peer, stop));
                    }
                    Err(e) => {
                        // Per connection, never fatal; out of descriptors: let some close.
                        tracing::info!(error = %e, "accept failed");
                        super::metrics::COUNTERS.accept_errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
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
    let clients = usize::try_from(shared.users()).unwrap_or(usize::MAX);
    shared.event(Event::ShuttingDown { clients });
    // Nothing more is read; what is queued is written, each member's goodbye last (a writer
    // is never cut mid-line here), then each connection closes. Backlogs not written within a
    // second are passed over for the goodbye; a member that does not take even that within
    // a stall window is cut off then.
    shared.leave_cluster();
    shared.say_last(Notice::Goodbye);
    shared.quiet.cancel();
    members.close();
    // A second for the backlogs; then only the goodbye; then, a stall window later, the cut.
    if tokio::time::timeout(Duration::from_secs(1), members.wait()).await.is_err() {
        shared.hurry.cancel();
        let _ = tokio::time::timeout(shared.cfg().stall, members.wait()).await;
    }
    stop.cancel();
    tasks.close();
    let _ = tokio::time::timeout(Duration::from_secs(3), async { tokio::join!(members.wait(), tasks.wait()) }).await;
}

/// How many members must have left since the last time memory was given back before it is
/// given back again.
const LEFT_FOR_TRIM: u64 = 32;

/// Every 2 s: once `LEFT_FOR_TRIM` members have left (or the room emptied), what they held is
/// given back to the system (the allocator would keep it for good), off the runtime's threads;
/// and once more a tick later, for what their tasks still held when they were counted gone.
async fn give_back_when_members_leave(shared: Arc<Shared>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    let (mut high, mut again) = (0u64, false);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = shared.users();
        high = high.max(now);
        let left = high >= now + LEFT_FOR_TRIM || (now == 0 && high > 0);
        if left || std::mem::take(&mut again) {
            again = left;
            high = now;
            let _ = tokio::task::spawn_blocking(crate::memory::give_back).await;
        }
    }
}
