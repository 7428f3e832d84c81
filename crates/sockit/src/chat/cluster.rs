//! Chat servers federated through a NATS broker: every server started with the same cluster
//! and room name serves one room.
//!
//! Each server publishes what happens in its room on the cluster's subject
//! (`sockit_core::cluster`): numbered, so receivers drop duplicates by (node, seq) and turn a
//! gap into a notice. Publishing goes through a bounded outbox: the room never waits for the
//! broker, and what does not fit is counted as dropped (receivers see the gap). Every server
//! also announces its member list every `PERIOD`; a server not heard from for
//! `EXPIRY_PERIODS` periods is gone, with its members. The broker going away is told to the
//! members; async-nats reconnects and subscribes again by itself, and the server then
//! announces its members again.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use sockit_core::chat::{self, Notice};
use sockit_core::cluster::{self as wire, Body, Claim, Message, Order, Sequence};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::server::{Event, Queued, Room, Shared, line, queue_all};
use crate::net::NetError;

/// How often a server announces its whole member list.
pub const PERIOD: Duration = Duration::from_secs(3);
/// A server not heard from for this many periods is gone.
pub const EXPIRY_PERIODS: u32 = 3;
/// Messages waiting for the broker; more are dropped (and counted), never waited for.
const OUTBOX: usize = 16_384;

/// `chat serve --cluster`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterConfig {
    /// The broker's URLs, credentials included: printed only through `without_credentials`.
    pub urls: Vec<String>,
    /// `--cluster-name`: servers of one cluster and room serve one room.
    pub name: String,
    /// `--node`; `None`: this host's name and the chat port.
    pub node: Option<String>,
    /// A CA certificate (PEM) for a TLS broker that the system's roots do not vouch for.
    pub ca: Option<PathBuf>,
}

/// A URL as it may be shown: without its user and password.
pub fn without_credentials(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").map_or(("", url), |(s, r)| (s, r));
    let end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if scheme.is_empty() { format!("{host}{path}") } else { format!("{scheme}://{host}{path}") }
}

/// Whether `url` is a broker URL sockit can use: `nats://` or `tls://` (no scheme: nats).
pub fn check_url(url: &str) -> Result<(), String> {
    let shown = without_credentials(url);
    let addr: async_nats::ServerAddr = url.parse().map_err(|_| format!("not a broker URL: {shown}"))?;
    match addr.into_inner().scheme() {
        "nats" | "tls" => Ok(()),
        other => Err(format!("{shown}: the scheme {other}:// is not one sockit speaks (nats:// or tls://)")),
    }
}

/// A URL's user or password as it was meant (`%40` is `@`).
fn percent_decoded(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (b[i], b.get(i + 1).copied().and_then(hex), b.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A server's link to the broker.
#[derive(Debug, Clone)]
pub struct Link {
    client: async_nats::Client,
    subject: String,
    /// The cluster's name.
    pub cluster: String,
    /// This server's name in the cluster.
    pub node: String,
    /// Whether the broker is connected.
    up: watch::Receiver<bool>,
    /// The subscription to the cluster's subject, made before the server says it started (so
    /// it hears everything from then on); taken by the server's receiving task.
    subscription: Arc<std::sync::Mutex<Option<async_nats::Subscriber>>>,
}

/// Connect to the broker: one clear error, soon, when it cannot be had.
pub async fn connect(cfg: &ClusterConfig, room: &str, node: String) -> Result<Link, NetError> {
    let shown = cfg.urls.iter().map(|u| without_credentials(u)).collect::<Vec<_>>().join(",");
    let mut addrs = Vec::new();
    for u in &cfg.urls {
        check_url(u).map_err(NetError::Cluster)?;
        addrs.push(
            u.parse::<async_nats::ServerAddr>()
                .map_err(|_| NetError::Cluster(format!("not a broker URL: {}", without_credentials(u))))?,
        );
    }
    let (tx, up) = watch::channel(true);
    let mut options = async_nats::ConnectOptions::new()
        .no_echo()
        .name(format!("sockit chat {node}"))
        .connection_timeout(Duration::from_secs(3))
        .max_reconnects(None)
        .reconnect_delay_callback(|n| Duration::from_millis((250 * n as u64).clamp(100, 2_000)))
        .event_callback(move |e| {
            let tx = tx.clone();
            async move {
                let now = match e {
                    async_nats::Event::Connected => true,
                    async_nats::Event::Disconnected => false,
                    _ => return,
                };
                tx.send_if_modified(|v| std::mem::replace(v, now) != now);
            }
        });
    // The URL's user and password (the first URL that has them) authenticate.
    if let Some(a) = addrs.iter().find(|a| a.has_user_pass()) {
        let user = percent_decoded(a.username().unwrap_or_default());
        options = options.user_and_password(user, percent_decoded(a.password().unwrap_or_default()));
    }
    if let Some(ca) = &cfg.ca {
        options = options.add_root_certificates(ca.clone());
    }
    let connected = tokio::time::timeout(Duration::from_secs(10), options.connect(addrs)).await;
    let client = match connected {
        Err(_) => return Err(NetError::Cluster(format!("no answer from the broker at {shown} within 10 s"))),
        Ok(Err(e)) => {
            use async_nats::ConnectErrorKind as K;
            // A certificate refused shows as an I/O error with rustls' reason inside.
            let mut tls = None;
            let mut cause: Option<&dyn std::error::Error> = Some(&e);
            while let Some(c) = cause {
                let inner =
                    c.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()).map(|i| i as &dyn std::error::Error);
                if let Some(r) = inner.unwrap_or(c).downcast_ref::<async_nats::rustls::Error>() {
                    tls = Some(r.to_string());
                }
                cause = c.source();
            }
            let text = match e.kind() {
                K::AuthorizationViolation | K::Authentication => {
                    format!("the broker at {shown} refused the user and password: check those in --cluster")
                }
                K::Tls | K::Io if tls.is_some() || e.kind() == K::Tls => format!(
                    "no TLS with the broker at {shown} ({}): a tls:// broker needs a certificate sockit trusts (--cluster-ca FILE)",
                    tls.as_deref().unwrap_or("handshake failed")
                ),
                K::TimedOut => format!("no answer from the broker at {shown} within 3 s"),
                K::ServerParse => format!("not a broker URL: {shown}"),
                _ => format!("cannot reach the broker at {shown}: is nats-server running there?"),
            };
            return Err(NetError::Cluster(text));
        }
        Ok(Ok(c)) => c,
    };
    let subject = wire::subject(&cfg.name, room);
    let subscription = client
        .subscribe(subject.clone())
        .await
        .map_err(|e| NetError::Cluster(format!("cannot subscribe to the cluster's subject on {shown}: {e}")))?;
    // The subscription is on the broker before the server says it started.
    let _ = client.flush().await;
    let subscription = Arc::new(std::sync::Mutex::new(Some(subscription)));
    Ok(Link { client, subject, cluster: cfg.name.clone(), node, up, subscription })
}

/// Where a server's messages to the cluster wait for the broker.
pub(super) struct Outbox {
    node: String,
    run: u64,
    seq: AtomicU64,
    tx: mpsc::Sender<Vec<u8>>,
    /// Messages that did not fit.
    dropped: AtomicU64,
    generation: AtomicU64,
}

impl Outbox {
    pub(super) fn new(link: &Link) -> (Outbox, mpsc::Receiver<Vec<u8>>) {
        let (tx, rx) = mpsc::channel(OUTBOX);
        let run = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id());
        let outbox = Outbox {
            node: link.node.clone(),
            run,
            seq: AtomicU64::new(0),
            tx,
            dropped: AtomicU64::new(0),
            generation: AtomicU64::new(0),
        };
        (outbox, rx)
    }

    /// Number `body` and queue it for the broker; a full outbox drops it (receivers see a gap).
    pub(super) fn publish(&self, body: Body) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let m = Message { node: self.node.clone(), run: self.run, seq, body };
        if self.tx.try_send(m.to_bytes()).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Queue the whole member list, in parts (not numbered: a lost one is made up for by the
    /// next).
    fn presence(&self, members: Vec<Claim>) {
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let parts: Vec<&[Claim]> =
            if members.is_empty() { vec![&[]] } else { members.chunks(wire::PRESENCE_PART).collect() };
        let n = parts.len() as u32;
        for (i, part) in parts.into_iter().enumerate() {
            let body = Body::Presence { generation, part: i as u32, parts: n, members: part.to_vec() };
            let m = Message { node: self.node.clone(), run: self.run, seq: 0, body };
            let _ = self.tx.try_send(m.to_bytes());
        }
    }
}

/// What this server knows of another server of the cluster.
pub(super) struct Peer {
    run: u64,
    seq: Option<Sequence>,
    /// Lower-case nick -> claim.
    pub(super) members: HashMap<String, Claim>,
    seen: Instant,
    /// A presence list being put together: its generation and the parts so far.
    gathering: Option<(u64, u32, Vec<Claim>)>,
}

impl Peer {
    fn new(run: u64) -> Peer {
        Peer { run, seq: None, members: HashMap::new(), seen: Instant::now(), gathering: None }
    }

    fn nicks(&self) -> Vec<String> {
        let mut n: Vec<String> = self.members.values().map(|c| c.nick.clone()).collect();
        n.sort_unstable();
        n
    }
}

/// Milliseconds since the Unix epoch: when a nick was claimed.
pub(super) fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// A local member renamed because another server's claim to its nick came first.
struct Lost {
    id: u64,
    old: String,
    new: String,
    node: String,
}

impl Room {
    /// The server of the cluster holding `key` (a lower-case nick), if another does.
    pub(super) fn remote_holder(&self, key: &str) -> Option<(&str, &Claim)> {
        self.peers.iter().find_map(|(node, p)| p.members.get(key).map(|c| (node.as_str(), c)))
    }

    /// Members on the other servers.
    pub(super) fn remote_count(&self) -> usize {
        self.peers.values().map(|p| p.members.len()).sum()
    }

    /// Take `claims` of `node` into its list; local members whose claims came later lose
    /// their nicks.
    fn claim(&mut self, node: &str, claims: &[Claim], me: &str, tag: &str) -> Vec<Lost> {
        let mut lost = Vec::new();
        if let Some(p) = self.peers.get_mut(node) {
            for c in claims {
                if p.members.len() < wire::MAX_MEMBERS {
                    p.members.insert(c.nick.to_ascii_lowercase(), c.clone());
                }
            }
        }
        for c in claims {
            let key = c.nick.to_ascii_lowercase();
            let Some(&id) = self.nicks.get(&key) else { continue };
            let Some((since, old)) = self.members.get(&id).map(|m| (m.since, m.nick.clone())) else { continue };
            if wire::earlier((c.since, node), (since, me)) {
                let new = self.fresh_guest(tag);
                self.nicks.remove(&key);
                self.nicks.insert(new.to_ascii_lowercase(), id);
                if let Some(m) = self.members.get_mut(&id) {
                    m.nick = new.clone();
                    m.since = now_ms();
                }
                lost.push(Lost { id, old, new, node: node.to_string() });
            }
        }
        lost
    }
}

impl Shared {
    /// The link's tasks: the outbox to the broker, the broker to the room, and the presence
    /// and link-state ticker.
    pub(super) fn start_cluster(
        self: &Arc<Self>,
        link: Link,
        mut outgoing: mpsc::Receiver<Vec<u8>>,
        tasks: &TaskTracker,
        stop: CancellationToken,
    ) {
        let (client, subject) = (link.client.clone(), link.subject.clone());
        let halt = stop.clone();
        tasks.spawn(async move {
            loop {
                let bytes = tokio::select! {
                    () = halt.cancelled() => break,
                    b = outgoing.recv() => match b { Some(b) => b, None => break },
                };
                if let Err(e) = client.publish(subject.clone(), bytes.into()).await {
                    tracing::info!(error = %e, "publish to the cluster");
                }
            }
            // Stopping: what is still queued (the members leaving) goes out, a second at most.
            let last = async {
                while let Ok(bytes) = outgoing.try_recv() {
                    let _ = client.publish(subject.clone(), bytes.into()).await;
                }
                let _ = client.flush().await;
            };
            let _ = tokio::time::timeout(Duration::from_secs(1), last).await;
        });
        let (shared, halt) = (Arc::clone(self), stop.clone());
        let taken = link.subscription.lock().unwrap_or_else(|p| p.into_inner()).take();
        tasks.spawn(async move {
            let Some(mut sub) = taken else { return tracing::warn!("the cluster's subscription was taken already") };
            loop {
                let m = tokio::select! {
                    () = halt.cancelled() => break,
                    m = sub.next() => match m { Some(m) => m, None => break },
                };
                match Message::parse(&m.payload) {
                    Ok(m) if m.node == shared.node_name() => {
                        tracing::warn!(node = %m.node, "another server of the cluster calls itself by this server's name")
                    }
                    Ok(m) => shared.remote(m).await,
                    Err(e) => tracing::info!(error = %e, "a message on the cluster's subject was not taken"),
                }
            }
        });
        let (shared, mut up) = (Arc::clone(self), link.up.clone());
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(PERIOD);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut dropped = 0;
            loop {
                tokio::select! {
                    () = stop.cancelled() => break,
                    _ = tick.tick() => {
                        let connected = *up.borrow();
                        if connected {
                            shared.announce_presence();
                            shared.expire().await;
                        }
                        let now = shared.outbox().map_or(0, |o| o.dropped.load(Ordering::Relaxed));
                        if now > dropped {
                            shared.event(Event::ClusterDropped { messages: now - dropped });
                            dropped = now;
                        }
                    }
                    changed = up.changed() => {
                        if changed.is_err() { break }
                        let connected = *up.borrow_and_update();
                        if connected {
                            // Everyone gets a fresh spell to be heard from, and hears of us.
                            for p in shared.lock().peers.values_mut() {
                                p.seen = Instant::now();
                            }
                            shared.announce_presence();
                            shared.event(Event::LinkUp);
                            shared.tell_all(line(Notice::LinkBack)).await;
                        } else {
                            shared.event(Event::LinkDown);
                            shared.tell_all(line(Notice::LinkDown)).await;
                        }
                    }
                }
            }
        });
    }

    /// The server is shutting down: its members leave the other servers' rooms at once.
    pub(super) fn leave_cluster(&self) {
        let Some(outbox) = self.outbox() else { return };
        let room = self.lock();
        let nicks: Vec<String> = room.members.values().map(|m| m.nick.clone()).collect();
        if !nicks.is_empty() {
            outbox.publish(Body::Left { nicks, reason: Some("server shut down".into()) });
        }
    }

    fn announce_presence(&self) {
        let Some(outbox) = self.outbox() else { return };
        // Queued under the lock: the list takes its place among the room's numbered messages
        // as they stand, so no rename queued before it is undone by it.
        let room = self.lock();
        outbox.presence(room.members.values().map(|m| Claim { nick: m.nick.clone(), since: m.since }).collect());
    }

    /// Servers not heard from for `EXPIRY_PERIODS` periods are gone, with their members.
    async fn expire(&self) {
        let limit = PERIOD * EXPIRY_PERIODS;
        let gone: Vec<(String, Vec<String>)> = {
            let mut room = self.lock();
            let old: Vec<String> =
                room.peers.iter().filter(|(_, p)| p.seen.elapsed() >= limit).map(|(n, _)| n.clone()).collect();
            old.into_iter().filter_map(|n| room.peers.remove(&n).map(|p| (n, p.nicks()))).collect()
        };
        for (node, nicks) in gone {
            self.event(Event::ServerGone { server: node.clone(), members: nicks.len() });
            self.tell_all(line(Notice::ServerGone { node, secs: limit.as_secs(), nicks })).await;
        }
    }

    /// Queue a line (a notice, or a line said elsewhere) for every local member.
    async fn tell_all(&self, text: Arc<str>) {
        let queued: Queued = {
            let room = self.lock();
            vec![(Arc::clone(&text), queue_all(&room, &text, None))]
        };
        self.wait_for(queued, None).await;
    }

    /// A message from another server of the cluster.
    async fn remote(&self, m: Message) {
        let me = self.node_name().to_string();
        let tag = self.guest_tag.clone();
        let mut notices: Vec<Notice> = Vec::new();
        let mut said: Option<Arc<str>> = None;
        let mut private: Option<(super::server::Recipient, String, String, String)> = None;
        let hello;
        let lost = {
            let mut room = self.lock();
            let restarted = room.peers.get(&m.node).is_some_and(|p| p.run != m.run);
            if restarted {
                let nicks = room.peers.remove(&m.node).map(|p| p.nicks()).unwrap_or_default();
                if !nicks.is_empty() {
                    notices.push(Notice::ServerRestarted { node: m.node.clone(), nicks });
                }
            }
            // A server heard of for the first time hears of us at once (it may have just
            // started), rather than at our next presence.
            hello = !room.peers.contains_key(&m.node);
            if hello && room.peers.len() >= wire::MAX_PEERS {
                // Memory stays bounded whatever names a program on the broker makes up.
                tracing::warn!(node = %m.node, "more than {} other servers: ignored", wire::MAX_PEERS);
                return;
            }
            let peer = room.peers.entry(m.node.clone()).or_insert_with(|| Peer::new(m.run));
            peer.seen = Instant::now();
            if m.seq > 0 {
                match peer.seq.as_mut().map(|s| s.take(m.run, m.seq)) {
                    None => peer.seq = Some(Sequence::first(m.run, m.seq)),
                    Some(Order::Next | Order::Restarted) => {}
                    Some(Order::Duplicate) => return,
                    Some(Order::Gap(count)) => {
                        self.event(Event::Lost { server: m.node.clone(), messages: count });
                        notices.push(Notice::Lost { node: m.node.clone(), count });
                    }
                }
            }
            let node = m.node.clone();
            match m.body {
                Body::Said { nick, text } => {
                    self.event(Event::Said { nick: nick.clone(), text: text.clone(), server: Some(node) });
                    said = Some(line(chat::said(&nick, &text)));
                    Vec::new()
                }
                Body::Action { nick, text } => {
                    self.event(Event::Action { nick: nick.clone(), text: text.clone(), server: Some(node) });
                    said = Some(line(chat::action(&nick, &text)));
                    Vec::new()
                }
                Body::Joined { members } => {
                    notices.push(Notice::Joined { nicks: members.iter().map(|c| c.nick.clone()).collect() });
                    room.claim(&node, &members, &me, &tag)
                }
                Body::Left { nicks, reason } => {
                    // Only those it had (a server shutting down says all of them at once, and
                    // may say some again as their connections close).
                    let gone: Vec<String> = match room.peers.get_mut(&node) {
                        Some(p) => {
                            nicks.into_iter().filter(|n| p.members.remove(&n.to_ascii_lowercase()).is_some()).collect()
                        }
                        None => Vec::new(),
                    };
                    if !gone.is_empty() {
                        notices.push(Notice::Left { nicks: gone, reason });
                    }
                    Vec::new()
                }
                Body::Renamed { old, new } => {
                    if let Some(p) = room.peers.get_mut(&node) {
                        p.members.remove(&old.to_ascii_lowercase());
                    }
                    notices.push(Notice::Renamed { old, new: new.nick.clone() });
                    room.claim(&node, &[new], &me, &tag)
                }
                Body::Private { from, to, text } => {
                    let target = room.nicks.get(&to.to_ascii_lowercase()).and_then(|id| room.members.get(id));
                    if let Some(t) = target {
                        private = Some((t.out.clone(), from, t.nick.clone(), text));
                    }
                    Vec::new()
                }
                Body::Presence { generation, part, parts, members } => {
                    let Some(peer) = room.peers.get_mut(&node) else { return };
                    let gathering = match peer.gathering.take() {
                        Some(g) if g.0 == generation && g.1 == part => Some(g),
                        _ if part == 0 => Some((generation, 0, Vec::new())),
                        _ => None,
                    };
                    let Some((g, _, mut all)) = gathering else { return };
                    all.extend(members);
                    if part + 1 < parts {
                        peer.gathering = Some((g, part + 1, all));
                        return;
                    }
                    // The whole list: it replaces what was known. Members first heard of here
                    // (a server just heard from, or joins missed) are announced.
                    let before = std::mem::take(&mut peer.members);
                    let new: Vec<String> = all
                        .iter()
                        .filter(|c| !before.contains_key(&c.nick.to_ascii_lowercase()))
                        .map(|c| c.nick.clone())
                        .collect();
                    if !new.is_empty() {
                        notices.push(Notice::Joined { nicks: new });
                    }
                    room.claim(&node, &all, &me, &tag)
                }
            }
        };
        if hello {
            self.announce_presence();
        }
        // (A loss is told before the line after it.)
        for n in notices {
            self.tell_all(line(n)).await;
        }
        if let Some(text) = said {
            self.remember(&text);
            self.tell_all(text).await;
        }
        if let Some((r, from, to, text)) = private {
            self.event(Event::Private { from: from.clone(), to });
            self.wait_for(vec![(line(chat::private(&from, &text)), vec![r])], None).await;
        }
        for l in lost {
            self.lost_nick(l).await;
        }
    }

    /// A local member lost its nick to an earlier claim elsewhere: it is told why, everyone
    /// hears of the rename.
    async fn lost_nick(&self, l: Lost) {
        let me = self.lock().members.get(&l.id).map(|m| (m.out.clone(), m.since));
        let Some((out, since)) = me else { return };
        self.wait_for(
            vec![(line(Notice::NickLost { nick: l.old.clone(), node: l.node, now: l.new.clone() }), vec![out])],
            None,
        )
        .await;
        self.event(Event::Renamed { old: l.old.clone(), new: l.new.clone() });
        if let Some(o) = self.outbox() {
            o.publish(Body::Renamed { old: l.old.clone(), new: Claim { nick: l.new.clone(), since } });
        }
        self.tell_all(line(Notice::Renamed { old: l.old, new: l.new })).await;
    }
}
