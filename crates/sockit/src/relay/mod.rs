//! `sockit relay FROM TO`: port forwarding. Every connection accepted on FROM is joined to a
//! new connection to TO, many at once, with the same end-of-input rules as `tcp` (an end of
//! data one way is passed on as a shut-down write side, and the other way goes on), access
//! rules, a connection cap, and a line per connection (who, how long, bytes each way). Bytes go
//! socket to socket by splice(2) through a pipe, never through sockit's memory.

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sockit_core::endpoint::Host;

use crate::conn::{Conn, Stream};
use crate::copy::{OneWay, one_way};
use crate::hexdump::Hexdump;
use crate::listener::{AccessRules, Listener};
use crate::net::{Doing, NetError, Why};

pub mod udp;

/// Where connections come from.
#[derive(Debug, Clone, PartialEq)]
pub enum ListenOn {
    Tcp(SocketAddr),
    /// TLS clients: the relay ends their TLS.
    Tls(SocketAddr, crate::tls::ServerTls),
    Unix(String),
    /// Datagrams: a session a client address (`udp`).
    Udp(SocketAddr),
}

/// Where each one goes.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectTo {
    Tcp(Host, u16),
    /// A TLS server: the relay speaks TLS to it.
    Tls(Host, u16, crate::tls::ClientTls),
    Unix(String),
    /// Datagrams, from `ListenOn::Udp`.
    Udp(Host, u16),
}

/// `relay`: from where, to where, who may come, how many at once.
#[derive(Debug, Clone, PartialEq)]
pub struct RelayConfig {
    pub from: ListenOn,
    pub to: ConnectTo,
    pub rules: AccessRules,
    pub max_conns: Option<usize>,
    /// Reach TO through this proxy.
    pub proxy: Option<sockit_core::proxy::Proxy>,
    pub connect_timeout: Duration,
    /// Dump every connection in hex (`-x`), each under a line naming it.
    pub hexdump: Option<crate::hexdump::HexdumpTo>,
    /// TCP keepalive probes on both sides of every connection: an end that vanished ends it.
    pub keepalive: Option<Duration>,
    /// Once one way has ended (a side half-closed), the connection is closed after this long
    /// with nothing moving the other way, as socat's -t does (`None`: never).
    pub half_close_idle: Option<Duration>,
    /// A UDP client's session ends after this long with no datagram either way (socat's -T).
    pub udp_idle: Duration,
    /// Answer `GET /metrics` and `GET /healthz` here.
    pub metrics: Option<SocketAddr>,
}

/// What a starting relay says: where it listens (a TLS listener with its certificate's
/// fingerprint).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    Tcp(SocketAddr),
    Tls {
        addr: SocketAddr,
        fingerprint: String,
    },
    Unix(String),
    Udp(SocketAddr),
    /// Where `GET /metrics` is answered.
    Metrics(SocketAddr),
    /// SIGHUP put a new configuration in force (with a TLS listener's new certificate's
    /// fingerprint); what only a restart changes is kept.
    Reloaded {
        fingerprint: Option<String>,
        kept: Vec<Kept>,
    },
    /// SIGHUP's configuration could not be read or used: the one in force stays.
    ReloadRefused {
        reason: String,
    },
}

/// How a running relay gets its new configuration on SIGHUP: the command line and its config
/// file read again; an error is one line.
pub type Reread = Box<dyn FnMut() -> Result<RelayConfig, String> + Send>;

/// What only a restart changes: a reload that asks for it keeps what is in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// Where connections are accepted.
    Listener,
    /// Where connections are dumped in hex.
    Hexdump,
    /// Where metrics are answered.
    Metrics,
}

/// `new` made ready for a relay started as `old` and listening on `local`: the configuration
/// to put in force (what only a restart changes kept from `old`), a TLS listener's new
/// certificate, and what to say of it.
fn reloaded(
    old: &RelayConfig,
    new: RelayConfig,
    local: Option<SocketAddr>,
) -> Result<(RelayConfig, Option<Arc<rustls::ServerConfig>>, Started), NetError> {
    let same = match (&old.from, &new.from) {
        (ListenOn::Tcp(a), ListenOn::Tcp(b)) | (ListenOn::Tls(a, _), ListenOn::Tls(b, _)) => a == b,
        (a, b) => a == b,
    };
    let (tls, fingerprint) = match (&new.from, local) {
        (ListenOn::Tls(_, t), Some(local)) if same => {
            let (config, fp) = crate::tls::server_config_for(t, local)?;
            (Some(config), Some(fp))
        }
        _ => (None, None),
    };
    let kept = [
        (!same, Kept::Listener),
        (old.hexdump != new.hexdump, Kept::Hexdump),
        (old.metrics != new.metrics, Kept::Metrics),
    ]
    .into_iter()
    .filter_map(|(k, what)| k.then_some(what))
    .collect();
    let from = if same { new.from } else { old.from.clone() };
    let cfg = RelayConfig { from, hexdump: old.hexdump.clone(), metrics: old.metrics, ..new };
    Ok((cfg, tls, Started::Reloaded { fingerprint, kept }))
}

/// What the relay has done since it started, for its metrics.
#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    denied: AtomicU64,
    over_cap: AtomicU64,
    failed: AtomicU64,
    up: AtomicU64,
    down: AtomicU64,
}

impl Counters {
    fn render(&self, active: usize) -> String {
        use crate::scrape::Kind::{Counter, Gauge};
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut t = crate::scrape::Text::default();
        t.family("sockit_relay_connections", Gauge, "Connections being relayed now.", &[("", active as u64)]);
        t.family(
            "sockit_relay_accepted_total",
            Counter,
            "Connections taken to be relayed.",
            &[("", n(&self.accepted))],
        );
        t.family(
            "sockit_relay_refused_total",
            Counter,
            "Connections turned away, by reason.",
            &[("{reason=\"rules\"}", n(&self.denied)), ("{reason=\"cap\"}", n(&self.over_cap))],
        );
        t.family(
            "sockit_relay_failed_total",
            Counter,
            "Relayed connections that ended in an error.",
            &[("", n(&self.failed))],
        );
        t.family(
            "sockit_relay_bytes_total",
            Counter,
            "Bytes relayed, by direction.",
            &[("{direction=\"up\"}", n(&self.up)), ("{direction=\"down\"}", n(&self.down))],
        );
        t.build_info();
        t.into_string()
    }
}

/// One connection's story, told when it ends.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Forwarded {
    pub client: String,
    pub target: String,
    /// Bytes from the client to the target, and back.
    pub up: u64,
    pub down: u64,
    pub millis: u128,
    /// Why it ended early, if it did (refused by the rules, the cap, or the target).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What the relay listens on, once bound.
#[derive(Debug)]
enum Bound {
    Tcp(Listener),
    Tls(Listener, Arc<rustls::ServerConfig>),
    /// The listener, its path, and its socket file (removed when the relay ends).
    Unix {
        listener: UnixListener,
        path: String,
        _file: Option<crate::unix::SocketFile>,
    },
}

/// A connection as accepted, before its TLS (if any) is ended in its own thread.
enum Accepted {
    Plain(Conn),
    Tls(std::net::TcpStream, Arc<rustls::ServerConfig>),
}

/// Listen on `cfg.from`, say where through `started`, and forward every connection until the
/// process ends; each ended connection goes to `log`, called from one logger thread.
///
/// With `reread`, SIGHUP puts a new configuration in force for the connections that come next
/// (a TCP or TLS listener; a Unix one ends at SIGHUP, its socket file removed).
pub fn run(
    cfg: &RelayConfig,
    started: &mut dyn FnMut(Started),
    log: Arc<dyn Fn(&Forwarded) + Send + Sync>,
    mut reread: Option<Reread>,
) -> Result<(), NetError> {
    crate::net::raise_fd_limit();
    let bound = match &cfg.from {
        ListenOn::Tcp(addr) => {
            let l = Listener::bind(*addr)?;
            started(Started::Tcp(l.local_addr()?));
            Bound::Tcp(l)
        }
        ListenOn::Tls(addr, tls) => {
            let l = Listener::bind(*addr)?;
            let local = l.local_addr()?;
            let (config, fingerprint) = crate::tls::server_config_for(tls, local)?;
            started(Started::Tls { addr: local, fingerprint });
            Bound::Tls(l, config)
        }
        ListenOn::Unix(path) => {
            let (l, file) = crate::unix::unix_listener(path)?;
            started(Started::Unix(path.clone()));
            Bound::Unix { listener: l, path: path.clone(), _file: file }
        }
        ListenOn::Udp(at) => return udp::run(cfg, *at, cfg.udp_idle, started, log),
    };
    let active = Arc::new(AtomicUsize::new(0));
    let counters = Arc::new(Counters::default());
    if let Some(at) = cfg.metrics {
        let (active, counters) = (Arc::clone(&active), Arc::clone(&counters));
        started(Started::Metrics(crate::scrape::serve(at, move || counters.render(active.load(Ordering::Relaxed)))?));
    }
    let hup = Arc::new(std::sync::atomic::AtomicBool::new(false));
    if reread.is_some() && !matches!(bound, Bound::Unix { .. }) {
        signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&hup))
            .map_err(|e| NetError::io(Doing::SignalHandlers, e))?;
    }
    let (local, mut tls_now) = match &bound {
        Bound::Tcp(l) => (l.local_addr().ok(), None),
        Bound::Tls(l, config) => (l.local_addr().ok(), Some(Arc::clone(config))),
        Bound::Unix { .. } => (None, None),
    };
    crate::systemd::notify("READY=1");
    let mut cfg = Arc::new(cfg.clone());
    let dump = cfg.hexdump.as_ref().map(crate::hexdump::Hexdump::open).transpose()?.map(Arc::new);
    let log = logger(log)?;
    // The rules are judged here, not by the listener: a client turned away gets its line too.
    let everyone = AccessRules::default();
    let refused = |cfg: &RelayConfig, client: String, why: String| Forwarded {
        client,
        target: target_name(&cfg.to),
        up: 0,
        down: 0,
        millis: 0,
        error: Some(why),
    };
    loop {
        if hup.swap(false, Ordering::AcqRel)
            && let Some(read) = reread.as_mut()
        {
            match crate::systemd::reload(|| {
                read().and_then(|new| reloaded(&cfg, new, local).map_err(|e| e.to_string()))
            }) {
                Ok((new, tls, said)) => {
                    cfg = Arc::new(new);
                    tls_now = tls.or(tls_now);
                    started(said);
                }
                Err(reason) => started(Started::ReloadRefused { reason }),
            }
        }
        let (accepted, client) = match &bound {
            Bound::Tcp(l) | Bound::Tls(l, _) => {
                let Some((s, peer)) = l.accept_unless(&everyone, &|| hup.load(Ordering::Relaxed))? else { continue };
                if !cfg.rules.admits(peer.ip()) {
                    counters.denied.fetch_add(1, Ordering::Relaxed);
                    log(refused(&cfg, peer.to_string(), "refused: the access rules do not admit it".into()));
                    continue;
                }
                if keepalive(&cfg, &s).is_err() {
                    continue;
                }
                match &tls_now {
                    Some(config) => (Accepted::Tls(s, Arc::clone(config)), peer.to_string()),
                    None => (Accepted::Plain(Conn::accepted(s, peer)), peer.to_string()),
                }
            }
            Bound::Unix { listener: l, path, .. } => match l.accept() {
                Ok((s, _)) => (Accepted::Plain(Conn::unix(s, path)), path.clone()),
                Err(e) if crate::net::accept_error_is_transient(&e) => continue,
                Err(e) => return Err(NetError::io(Doing::AcceptOn(path.clone()), e)),
            },
        };
        let n = active.fetch_add(1, Ordering::AcqRel);
        if cfg.max_conns.is_some_and(|max| n >= max) {
            active.fetch_sub(1, Ordering::AcqRel);
            counters.over_cap.fetch_add(1, Ordering::Relaxed);
            drop(accepted);
            log(refused(&cfg, client, format!("refused: {n} connections already (the cap)")));
            continue;
        }
        counters.accepted.fetch_add(1, Ordering::Relaxed);
        let (job_cfg, job_active, job_log, job_dump, job_counters) =
            (Arc::clone(&cfg), Arc::clone(&active), Arc::clone(&log), dump.clone(), Arc::clone(&counters));
        let spawned = std::thread::Builder::new().name("forward".into()).stack_size(STACK).spawn(move || {
            let story = forward(&job_cfg, accepted, client, job_dump.as_deref());
            job_counters.up.fetch_add(story.up, Ordering::Relaxed);
            job_counters.down.fetch_add(story.down, Ordering::Relaxed);
            if story.error.is_some() {
                job_counters.failed.fetch_add(1, Ordering::Relaxed);
            }
            job_active.fetch_sub(1, Ordering::AcqRel);
            job_log(story);
        });
        if let Err(e) = spawned {
            // Out of threads: this connection is closed (it went with the closure).
            active.fetch_sub(1, Ordering::AcqRel);
            tracing::warn!(error = %e, "no thread for a connection");
        }
    }
}

/// One logger: a connection never waits for the log (a stderr nobody reads would hold every
/// finished connection's thread); when the log falls 4,096 lines behind, lines are dropped.
fn logger(log: Arc<dyn Fn(&Forwarded) + Send + Sync>) -> Result<Arc<dyn Fn(Forwarded) + Send + Sync>, NetError> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Forwarded>(4096);
    std::thread::Builder::new()
        .name("forward-log".into())
        .spawn(move || {
            for story in rx {
                log(&story);
            }
        })
        .map_err(|e| NetError::io(Doing::StartThread, e))?;
    Ok(Arc::new(move |story: Forwarded| {
        let _ = tx.try_send(story);
    }))
}

/// TO as shown in the log.
pub fn target_name(to: &ConnectTo) -> String {
    let hostport = |h: &Host, p: &u16| match h {
        Host::Ip(std::net::IpAddr::V6(ip)) => format!("[{ip}]:{p}"),
        h => format!("{h}:{p}"),
    };
    match to {
        ConnectTo::Tcp(h, p) => hostport(h, p),
        ConnectTo::Tls(h, p, _) => format!("{} (tls)", hostport(h, p)),
        ConnectTo::Unix(p) => p.clone(),
        ConnectTo::Udp(h, p) => format!("{} (udp)", hostport(h, p)),
    }
}

/// One client: its TLS ended if it speaks TLS, a connection to the target, then both ways at
/// once until both have ended.
fn forward(cfg: &RelayConfig, accepted: Accepted, client: String, dump: Option<&Hexdump>) -> Forwarded {
    let start = Instant::now();
    let mut story = Forwarded { client, target: target_name(&cfg.to), up: 0, down: 0, millis: 0, error: None };
    let ends = match accepted {
        Accepted::Plain(c) => Ok(c),
        Accepted::Tls(s, config) => crate::tls::server(s, config),
    }
    .and_then(|client_conn| Ok((client_conn, connect(cfg)?)));
    let (client_conn, target) = match ends {
        Ok(c) => c,
        Err(e) => {
            story.error = Some(e.to_string());
            story.millis = start.elapsed().as_millis();
            return story;
        }
    };
    let streams = client_conn.stream.try_clone().and_then(|c| Ok((c, target.stream.try_clone()?)));
    let (a, b) = match streams {
        Ok((a, b)) => (Arc::new(a), Arc::new(b)),
        Err(e) => {
            story.error = Some(e.to_string());
            return story;
        }
    };
    let dump = dump.map(|d| Arc::new(d.another(&format!("{} -> {}", story.client, story.target))));
    let (up, down, idle) = both_ways(&a, &b, dump, cfg.half_close_idle);
    drop((a, b));
    let _ = client_conn.finish();
    let _ = target.finish();
    story.up = up.bytes;
    story.down = down.bytes;
    story.error = match (idle, up.end, down.end) {
        (Some(t), ..) => Some(format!("closed: nothing moved for {} s after one side ended", t.as_secs_f64())),
        (None, Err(e), _) | (None, _, Err(e)) => Some(e.to_string()),
        _ => None,
    };
    story.millis = start.elapsed().as_millis();
    story
}

/// Which way of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    Up,
    Down,
}

/// Move both ways at once, each in a thread of its own, until both have ended; once one has,
/// the other is cut after `idle` with nothing moving (then that limit is returned). Each
/// thread tells this one of every chunk it moves: a wake-up a chunk, no polling.
fn both_ways(
    a: &Arc<Stream>,
    b: &Arc<Stream>,
    dump: Option<Arc<Hexdump>>,
    idle: Option<Duration>,
) -> (OneWay, OneWay, Option<Duration>) {
    let (tx, rx) = std::sync::mpsc::channel::<(Way, Option<OneWay>)>();
    let spawn = |way: Way, from: &Arc<Stream>, to: &Arc<Stream>| {
        let (from, to, dump, tx) = (Arc::clone(from), Arc::clone(to), dump.clone(), tx.clone());
        std::thread::Builder::new().name("forward-way".into()).stack_size(WAY_STACK).spawn(move || {
            let tap = |x: &[u8]| match (&dump, way) {
                (Some(d), Way::Up) => d.sent(x),
                (Some(d), Way::Down) => d.received(x),
                (None, _) => {}
            };
            let tap: crate::copy::Tap<'_> = if dump.is_some() { Some(&tap) } else { None };
            let done = one_way(&from, &to, tap, &|_| {
                let _ = tx.send((way, None));
            });
            let _ = tx.send((way, Some(done)));
        })
    };
    let threads = (spawn(Way::Up, a, b), spawn(Way::Down, b, a));
    drop(tx);
    if threads.0.is_err() || threads.1.is_err() {
        // Short of threads: the connection is closed (a way already started ends with it).
        let _ = a.shutdown(Shutdown::Both);
        let _ = b.shutdown(Shutdown::Both);
    }
    let (mut up, mut down) = (None, None);
    let mut cut = None;
    loop {
        let one_ended = up.is_some() || down.is_some();
        let limit = if one_ended && cut.is_none() { idle } else { None };
        let next = match limit {
            Some(t) => rx.recv_timeout(t),
            None => rx.recv().map_err(|_| std::sync::mpsc::RecvTimeoutError::Disconnected),
        };
        match next {
            Ok((Way::Up, Some(r))) => up = Some(r),
            Ok((Way::Down, Some(r))) => down = Some(r),
            Ok((_, None)) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                // Nothing moved for the limit after one side ended: the other way is cut.
                cut = limit;
                let _ = a.shutdown(Shutdown::Both);
                let _ = b.shutdown(Shutdown::Both);
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let none = || OneWay { bytes: 0, end: Err(io::Error::other("no thread to move it")) };
    (up.unwrap_or_else(none), down.unwrap_or_else(none), cut)
}

/// Keepalive probes on a TCP side, if asked.
fn keepalive(cfg: &RelayConfig, s: &std::net::TcpStream) -> Result<(), NetError> {
    match cfg.keepalive {
        Some(every) => crate::net::keepalive(s, every),
        None => Ok(()),
    }
}

fn connect(cfg: &RelayConfig) -> Result<Conn, NetError> {
    let dialer = |tls: Option<&crate::tls::ClientTls>| crate::dial::Dialer {
        proxy: cfg.proxy.clone(),
        timeout: Some(cfg.connect_timeout),
        keepalive: cfg.keepalive,
        tls: tls.cloned(),
        ..Default::default()
    };
    match &cfg.to {
        ConnectTo::Tcp(host, port) => crate::dial::dial(host, *port, &dialer(None)),
        ConnectTo::Tls(host, port, tls) => crate::dial::dial(host, *port, &dialer(Some(tls))),
        ConnectTo::Unix(path) => UnixStream::connect(path)
            .map(|s| Conn::unix(s, path))
            .map_err(|e| NetError::io(Doing::Connect(crate::conn::Peer::Unix(path.clone())), e)),
        ConnectTo::Udp(..) => Err(NetError::failed(Doing::Relay, Why::UdpTargetAlone)),
    }
}

/// A connection's thread resolves names, ends TLS and connects (1 MiB of stack: glibc's
/// resolver and a TLS handshake need room); the threads that move its bytes, a way each, need
/// little (a small stack keeps thousands of connections small).
const STACK: usize = 1 << 20;
const WAY_STACK: usize = 64 * 1024;
