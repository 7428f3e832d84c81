//! One member's life in the room: its reader (lines in, commands applied, its rate limit) and
//! its writer (its queue out to the socket, a WebSocket's frames or a byte stream's lines).

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sockit_core::chat::{self, Command, Frame, LineFramer, Notice};
use sockit_core::cluster::{Body, Claim};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::tcp::OwnedReadHalf;
use tokio_util::sync::CancellationToken;

use super::events::Event;
use super::queue::{Blocked, Lines, Out, Recipient, Window, deliver};
use super::room::{Kind, Shared, line, register};

/// Where a client's lines go.
pub(super) trait Outlet: Send + 'static {
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
pub(super) struct Plain<W>(pub(super) W);

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
impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Outlet for super::ws::WsOut<S> {
    async fn send(&mut self, pieces: &[Arc<str>]) -> std::io::Result<()> {
        self.send_lines(pieces).await
    }

    async fn close(&mut self) {
        super::ws::WsOut::close(self).await;
    }

    fn wants(&self) -> impl Future<Output = ()> + Send + 'static {
        super::ws::WsOut::wants(self)
    }
}

/// A WebSocket member's text frames are its lines.
impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Source for super::ws::WsIn<S> {
    async fn fill(&mut self, framer: &mut LineFramer, frames: &mut Vec<Frame>) -> bool {
        self.next_lines(framer, frames).await
    }
}

/// Where a client's bytes come from.
pub(super) trait Source: Send + 'static {
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
    /// The stall window in force (a reload may change it).
    stall: Duration,
    /// Lines and bytes this member's replies and private messages queued, not yet added to
    /// the room's counts (added a read at a time: a flood of commands costs no shared writes).
    sent: (usize, usize),
}

impl Session {
    /// The member's nick now (in a cluster, another server's earlier claim may take it).
    fn nick(&self) -> String {
        self.shared.lock().members.get(&self.id).map(|m| m.nick.clone()).unwrap_or_default()
    }

    /// Say `notice` to this member alone. Its replies count against its own bounded queue: a
    /// member that asks and never reads waits here (its reading stops), and is disconnected
    /// when the queue stays full for the stall window; the room never waits for it.
    async fn reply(&mut self, notice: Notice) {
        let text = line(notice);
        if deliver(&self.me, &text, self.stall, None).await {
            self.count(&text);
        }
    }

    /// A line queued by this member's doing, counted for the room later (`flush`).
    fn count(&mut self, text: &str) {
        self.sent.0 += text.bytes().filter(|&b| b == b'\n').count().max(1);
        self.sent.1 += text.len();
    }

    /// Add what this member's doings queued to the room's counts.
    fn flush(&mut self) {
        if self.sent != (0, 0) {
            super::metrics::delivered_lines(self.sent.0, self.sent.1);
            self.sent = (0, 0);
        }
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
        if shared.cfg().history > 0 {
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
                        all.extend(p.members.values().map(|h| (h.claim.nick.as_str(), n.as_str())));
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
                        let private = line(chat::private(&nick, &text));
                        if deliver(&r, &private, self.stall, Some(&mut self.window)).await {
                            self.count(&private);
                        }
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
                    let since = super::peers::now_ms();
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

pub(super) async fn client(
    shared: Arc<Shared>,
    mut reader: impl Source,
    mut writer: impl Outlet,
    read: Vec<u8>,
    peer: SocketAddr,
    stop: CancellationToken,
) {
    let cfg = shared.cfg().clone();
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
    let hurry = shared.hurry.clone();
    let writer_task = tokio::spawn(async move {
        // What goes out in one write, and the places it holds (given back once written).
        let mut pieces: Vec<Arc<str>> = Vec::new();
        let mut held = Vec::new();
        // One wait for the kick for the writer's whole life, not a new one a line.
        let kicked = writer_kick.clone().cancelled_owned();
        tokio::pin!(kicked);
        loop {
            // The server is shutting down and could not wait for the backlog: what is left is
            // passed over, up to the goodbye, which goes next (after a whole write, never
            // inside one).
            let mut skipped = None;
            if hurry.is_cancelled() {
                while let Ok(m) = rx.try_recv() {
                    if let Out::Last(text) = m {
                        skipped = Some(Out::Last(text));
                        break;
                    }
                }
            }
            // Lines to send, or (a WebSocket's pongs) only the outlet's own bytes.
            let next = match skipped {
                Some(goodbye) => Some(goodbye),
                None => tokio::select! {
                    () = &mut kicked => break,
                    () = writer.wants() => None,
                    m = rx.recv() => match m { Some(m) => Some(m), None => break },
                },
            };
            // The goodbye was taken: it is written, and then the writer closes.
            let mut last = false;
            if let Some(first) = next {
                // A backlog goes out together: up to 256 KiB in up to 512 pieces.
                let mut size = 0;
                let mut m = first;
                loop {
                    match m {
                        Out::Lines(text, place) => {
                            size += text.len();
                            pieces.push(text);
                            held.push(place);
                        }
                        Out::Last(text) => {
                            pieces.push(text);
                            last = true;
                            break;
                        }
                    }
                    if size >= 256 * 1024 || pieces.len() >= 512 {
                        break;
                    }
                    match rx.try_recv() {
                        Ok(next) => m = next,
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
            if last {
                break;
            }
            // The backlog is gone: give the memory back, idle clients should cost little.
            if rx.is_empty() && pieces.capacity() > 8 {
                pieces = Vec::new();
                held = Vec::new();
            }
        }
        writer.close().await;
    });

    // Reader: lines in, commands applied.
    let mut session = Session {
        shared: Arc::clone(&shared),
        id,
        me,
        rate: RateLimit::new(cfg.rate),
        window: Window::default(),
        stall: cfg.stall,
        sent: (0, 0),
    };
    let mut framer = LineFramer::new(cfg.max_line);
    let mut frames = Vec::new();
    let mut quit_reason = None;
    let (mut saying, mut said, batch) = (Vec::new(), 0, 64 * 1024);
    // What was read while telling the client's kind comes first.
    let mut read = Some(read).filter(|r| !r.is_empty());
    // The limits in force, from the settings' generation this reader has seen: a reload
    // changes them, for the next line read.
    let (mut max_line, mut rate) = (cfg.max_line, cfg.rate);
    let mut generation = shared.generation.load(Ordering::Acquire);
    'read: loop {
        frames.clear();
        session.flush();
        let reloaded = shared.reloaded.notified();
        let now = shared.generation.load(Ordering::Acquire);
        if now != generation {
            generation = now;
            let cfg = shared.cfg();
            (max_line, rate) = (cfg.max_line, cfg.rate);
            session.rate = RateLimit::new(rate);
            session.stall = cfg.stall;
            framer.set_max(max_line);
        }
        let more = match read.take() {
            Some(bytes) => {
                framer.feed(&bytes, &mut frames);
                true
            }
            None => tokio::select! {
                () = kick.cancelled() => break,
                // The server is shutting down: nothing more is read.
                () = shared.quiet.cancelled() => break,
                // New limits: taken before the next line is read.
                () = reloaded => continue,
                more = reader.fill(&mut framer, &mut frames) => more,
            },
        };
        if !more {
            break;
        }
        for f in frames.drain(..) {
            let line = match f {
                Frame::TooLong => {
                    super::metrics::COUNTERS.dropped_too_long.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    session.reply(Notice::TooLong { max: max_line }).await;
                    continue;
                }
                Frame::Line(l) => l,
            };
            let verdict = session.rate.check(Instant::now());
            if verdict != Verdict::Pass {
                super::metrics::COUNTERS.dropped_rate.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            match verdict {
                Verdict::Pass => {}
                Verdict::Drop { warn: true } => {
                    session.reply(Notice::SlowDown { rate }).await;
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
    session.flush();
    let nick = session.nick();
    let kicked = reason.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
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
    // (At shutdown everyone has had the goodbye: nobody is told of anyone leaving.)
    if !shared.quiet.is_cancelled() {
        shared.announce(Kind::Leave, id, &nick, notice_reason).await;
    }
    // Let the writer send what is queued (the "bye"), then close.
    drop(session);
    let _ = tokio::time::timeout(Duration::from_secs(2), writer_task).await;
}
