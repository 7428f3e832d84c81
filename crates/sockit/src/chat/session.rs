//! One member's life in the room: its reader (lines in, commands applied, its rate limit) and
//! its writer (its queue out through its outlet), whatever way it speaks (`Speech`).

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sockit_core::chat::{self, Command, Frame, LineFramer, Notice};
use sockit_core::cluster::{Body, Claim};
use tokio_util::sync::CancellationToken;

use super::events::Event;
use super::piece::{Line, Mask, notice};
use super::queue::{Blocked, Lines, Out, Recipient, Window, deliver};
use super::room::{Joining, Kind, Room, Shared, register};
use super::wire::{Outlet, Source};

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
pub(super) enum Flow {
    Go,
    Quit(Option<String>),
}

/// How a member speaks: what its lines ask of the room, and how it is answered. A line client
/// types commands (`/nick`); an IRC client sends IRC.
pub(super) trait Speech: Send + Sync + Sized + 'static {
    /// What one line asks of the room (text said there is batched with the lines after it);
    /// None when it was done or answered here.
    fn read(&self, s: &mut Session<Self>, line: Vec<u8>) -> impl Future<Output = Option<Command>> + Send;
    /// A notice to this member alone, in its terms (None: nothing to say); `me`: its nick, when
    /// `names_reader` says the speech needs it.
    fn reply(&self, n: Notice, me: &str) -> Option<Line>;
    /// Whether a reply names its reader (IRC's numerics do): the nick is asked of the room
    /// only then.
    fn names_reader(&self) -> bool {
        false
    }
    /// Whether the member hears its own words back (IRC's `echo-message`).
    fn echoes(&self) -> bool {
        false
    }
    /// How lines are framed: the longest (given the room's), and whether a CR alone ends one.
    fn framing(&self, max_line: usize) -> (usize, bool) {
        (max_line, false)
    }
    /// Whether every line counts against the rate limit (else `Session::rated` is asked for
    /// what the speech says counts).
    fn every_line_rated(&self) -> bool {
        true
    }
    /// Who, besides the room, is to be told of the member's new nick or of its leaving (IRC
    /// members' other channels): the line and their queues, taken under the room's lock.
    fn elsewhere(&self, _: &mut Room, _: u64, _: &Mask, _: &Change) -> Option<(Line, Vec<Recipient>)> {
        None
    }
}

/// What the others are told of: a member's new nick, or its leaving (and why).
pub(super) enum Change {
    Nick(String),
    Gone(String),
}

/// A line client: a line is text for the room or a `/command`.
pub(super) struct Typed;

impl Speech for Typed {
    async fn read(&self, _: &mut Session<Self>, line: Vec<u8>) -> Option<Command> {
        Some(chat::parse_command(&chat::sanitize(&line)))
    }

    /// (Its replies are for it alone, and never in IRC's terms: the words are all they keep.)
    fn reply(&self, n: Notice, _: &str) -> Option<Line> {
        Some(super::piece::text(n.to_string()))
    }
}

/// One member's side of the room: who it is, its own queue, its rate limit.
pub(super) struct Session<S> {
    pub(super) shared: Arc<Shared>,
    pub(super) id: u64,
    pub(super) me: Recipient,
    /// The user part of its IRC mask.
    user: Arc<str>,
    pub(super) speech: Arc<S>,
    rate: RateLimit,
    pub(super) window: Window,
    /// The stall window in force (a reload may change it).
    pub(super) stall: Duration,
    /// Lines and bytes this member's replies and private messages queued, not yet added to
    /// the room's counts (added a read at a time: a flood of commands costs no shared writes).
    sent: (usize, usize),
}

impl<S: Speech> Session<S> {
    /// The member's nick now (in a cluster, another server's earlier claim may take it).
    pub(super) fn nick(&self) -> String {
        self.shared.lock().member(self.id).map(|m| m.nick.clone()).unwrap_or_default()
    }

    /// The member as IRC names it.
    pub(super) fn mask(&self) -> Mask {
        Mask { nick: self.nick(), user: Arc::clone(&self.user) }
    }

    /// Say `notice` to this member alone, in its terms.
    pub(super) async fn reply(&mut self, notice: Notice) {
        let me = if self.speech.names_reader() { self.nick() } else { String::new() };
        if let Some(text) = self.speech.reply(notice, &me) {
            self.tell(&text).await;
        }
    }

    /// Queue `text` for this member alone. Its replies count against its own bounded queue: a
    /// member that asks and never reads waits here (its reading stops), and is disconnected
    /// when the queue stays full for the stall window; the room never waits for it.
    pub(super) async fn tell(&mut self, text: &Line) {
        if deliver(&self.me, text, self.stall, None).await {
            self.count(text);
        }
    }

    /// Whether a line passes the rate limit (a member told to slow down at most once a second).
    pub(super) async fn rated(&mut self) -> bool {
        let verdict = self.rate.check(Instant::now());
        if verdict != Verdict::Pass {
            super::metrics::COUNTERS.dropped_rate.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        match verdict {
            Verdict::Pass => true,
            Verdict::Drop { warn } => {
                if warn {
                    let rate = self.rate.rate;
                    self.reply(Notice::SlowDown { rate }).await;
                }
                false
            }
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
        let from = self.mask();
        for t in &texts {
            shared.event(Event::Said { nick: from.nick.clone(), text: t.clone(), server: None });
        }
        if shared.cfg().history > 0 {
            shared.remember_all(texts.iter().map(|t| super::piece::said(&from, vec![t.clone()])));
        }
        let bodies = match shared.outbox() {
            Some(_) => texts.iter().map(|text| Body::Said { nick: from.nick.clone(), text: text.clone() }).collect(),
            None => Vec::new(),
        };
        let all = super::piece::said(&from, texts);
        if self.speech.echoes() {
            self.tell(&all).await;
        }
        shared.broadcast(all, Some(self.id), &mut self.window, bodies).await;
    }

    /// A `/me`.
    pub(super) async fn act(&mut self, t: String) {
        let from = self.mask();
        self.shared.event(Event::Action { nick: from.nick.clone(), text: t.clone(), server: None });
        let action = super::piece::action(&from, t.clone());
        self.shared.remember(&action);
        if self.speech.echoes() {
            self.tell(&action).await;
        }
        let body = Body::Action { nick: from.nick, text: t };
        let shared = Arc::clone(&self.shared);
        shared.broadcast(action, Some(self.id), &mut self.window, vec![body]).await;
    }

    /// A private message to `to`, here or on another server of the cluster: the nick it
    /// reached, if it did.
    pub(super) async fn msg(&mut self, to: &str, text: String) -> Option<String> {
        let shared = Arc::clone(&self.shared);
        let from = self.mask();
        let (target, elsewhere) = {
            let room = shared.lock();
            let key = to.to_ascii_lowercase();
            let here = room.by_nick(&key).map(|m| (m.out.clone(), m.nick.clone()));
            (here, room.remote_holder(&key).map(|(_, c)| c.nick.clone()))
        };
        match (target, elsewhere, shared.outbox()) {
            (Some((r, t)), _, _) => {
                let private = super::piece::private(&from, text);
                if deliver(&r, &private, self.stall, Some(&mut self.window)).await {
                    self.count(&private);
                }
                shared.event(Event::Private { from: from.nick, to: t.clone() });
                Some(t)
            }
            // On another server of the cluster: its server delivers it.
            (None, Some(t), Some(o)) => {
                o.publish(Body::Private { from: from.nick.clone(), to: t.clone(), text });
                shared.event(Event::Private { from: from.nick, to: t.clone() });
                Some(t)
            }
            _ => None,
        }
    }

    /// Do what one line from the member asks.
    pub(super) async fn apply(&mut self, command: Command) -> Flow {
        let shared = Arc::clone(&self.shared);
        match command {
            Command::Say(t) if t.is_empty() => {}
            Command::Say(t) => self.say(vec![t]).await,
            Command::Me(t) if t.is_empty() => self.reply(Notice::NoText { command: "me" }).await,
            Command::Me(t) => self.act(t).await,
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
            Command::Msg { to, text } => match self.msg(&to, text).await {
                Some(t) => self.reply(Notice::PrivateSent { to: t }).await,
                None => self.reply(Notice::NoSuchNick { nick: to }).await,
            },
            Command::Quit(reason) => {
                self.reply(Notice::Bye { reason: reason.clone() }).await;
                return Flow::Quit(reason);
            }
            Command::Help => self.reply(Notice::Help).await,
            Command::Unknown(c) => self.reply(Notice::Unknown { command: c }).await,
        }
        Flow::Go
    }

    pub(super) async fn rename(&mut self, new: String) {
        if let Err(e) = sockit_core::names::validate_nick(&new) {
            return self.reply(Notice::Nick(e)).await;
        }
        let renamed = {
            let mut room = self.shared.lock();
            let key = new.to_ascii_lowercase();
            let elsewhere = room.remote_holder(&key).is_some() || room.held.contains_key(&key);
            match room.nicks.get(&key) {
                Some(&other) if other != self.id => None,
                _ if elsewhere => None,
                _ => room.member(self.id).map(|m| m.nick.clone()).map(|old| {
                    let since = super::peers::now_ms();
                    room.nicks.remove(&old.to_ascii_lowercase());
                    room.nicks.insert(key, self.id);
                    if let Some(m) = room.member_mut(self.id) {
                        m.nick = new.clone();
                        m.since = since;
                    }
                    let was = Mask { nick: old.clone(), user: Arc::clone(&self.user) };
                    let elsewhere = self.speech.elsewhere(&mut room, self.id, &was, &Change::Nick(new.clone()));
                    (old, since, elsewhere)
                }),
            }
        };
        let Some((old, since, elsewhere)) = renamed else {
            return self.reply(Notice::NickTaken { nick: new }).await;
        };
        if let Some((text, to)) = elsewhere {
            Box::pin(tell_all(&to, &text, self.stall, Some(&mut self.window))).await;
        }
        self.shared.event(Event::Renamed { old: old.clone(), new: new.clone() });
        let body = Body::Renamed { old: old.clone(), new: Claim { nick: new.clone(), since } };
        let shared = Arc::clone(&self.shared);
        let renamed = notice(Notice::Renamed { old, new });
        // (A member in the lobby is not in the room: it alone is told, and neither the room
        // nor the cluster, which know only the room's members.)
        if shared.lock().lobby.contains_key(&self.id) {
            return self.tell(&renamed).await;
        }
        shared.broadcast(renamed, None, &mut self.window, vec![body]).await;
    }
}

/// `text` to each of `to`, each waited for within the stall window. (Boxed where it is
/// awaited: an idle member's task holds none of its state.)
async fn tell_all(to: &[Recipient], text: &Line, stall: Duration, mut window: Option<&mut Window>) {
    for r in to {
        deliver(r, text, stall, window.as_deref_mut()).await;
    }
}

/// How a member came: its nick and mask, its way of speaking.
pub(super) struct Arrival<'a, S> {
    pub(super) joining: Joining<'a>,
    pub(super) speech: S,
}

pub(super) async fn client<S: Speech>(
    shared: Arc<Shared>,
    mut reader: impl Source,
    mut writer: impl Outlet,
    read: Vec<u8>,
    peer: SocketAddr,
    stop: CancellationToken,
    arrival: Arrival<'_, S>,
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
        (room.members.len() + room.lobby.len() < cfg.max_clients)
            .then(|| register(&mut room, &cfg, &shared.guest_tag, id, &me, &arrival.joining))
    };
    let Some(nick) = joined else {
        let full = Notice::RoomFull { max: cfg.max_clients };
        if let Some(msg) = arrival.speech.reply(full, "*") {
            let _ = tokio::time::timeout(Duration::from_secs(1), writer.send(&[msg])).await;
        }
        writer.close().await;
        shared.event(Event::Refused { peer, reason: "room full".into() });
        return;
    };
    shared.event(Event::Joined { nick: nick.clone(), peer });
    writer.admitted(id);

    let user = Arc::clone(&arrival.joining.user);
    if !arrival.joining.lobby {
        Box::pin(shared.announce(Kind::Join, id, Mask { nick: nick.clone(), user: Arc::clone(&user) }, None)).await;
    }

    // Writer: the queue to the socket; stops when kicked, or when the queue closes.
    let writer_kick = kick.clone();
    let hurry = shared.hurry.clone();
    let writer_task = tokio::spawn(async move {
        // What goes out in one write, and the places it holds (given back once written).
        let mut pieces: Vec<Line> = Vec::new();
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
                while let Some(m) = rx.try_recv() {
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
                        Some(next) => m = next,
                        None => break,
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
        user: Arc::clone(&user),
        speech: Arc::new(arrival.speech),
        rate: RateLimit::new(cfg.rate),
        window: Window::default(),
        stall: cfg.stall,
        sent: (0, 0),
    };
    let speech = Arc::clone(&session.speech);
    let (limit, cr) = speech.framing(cfg.max_line);
    let mut framer = if cr { LineFramer::ending_at_cr(limit) } else { LineFramer::new(limit) };
    let mut frames = Vec::new();
    let mut quit_reason = None;
    let (mut saying, mut said, batch) = (Vec::new(), 0, 64 * 1024);
    // What was read while telling the client's kind comes first.
    let mut read = Some(read).filter(|r| !r.is_empty());
    // The limits in force, from the settings' generation this reader has seen: a reload
    // changes them, for the next line read.
    let mut max_line = cfg.max_line;
    let mut generation = shared.generation.load(Ordering::Acquire);
    'read: loop {
        frames.clear();
        session.flush();
        let reloaded = shared.reloaded.notified();
        let now = shared.generation.load(Ordering::Acquire);
        if now != generation {
            generation = now;
            let cfg = shared.cfg();
            max_line = cfg.max_line;
            session.rate = RateLimit::new(cfg.rate);
            session.stall = cfg.stall;
            framer.set_max(speech.framing(max_line).0);
        }
        let more = match read.take() {
            Some(bytes) => {
                framer.feed(&bytes, &mut frames);
                true
            }
            // Biased: new limits come before bytes that are already waiting, so a line sent
            // after a reload is said is read under them however late this task is run.
            None => tokio::select! {
                biased;
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
                    Box::pin(session.reply(Notice::TooLong { max: max_line })).await;
                    continue;
                }
                Frame::Line(l) => l,
            };
            if speech.every_line_rated() && !Box::pin(session.rated()).await {
                continue;
            }
            let Some(command) = Box::pin(speech.read(&mut session, line)).await else { continue };
            match command {
                // Text lines of one read go out together (a paste: one queue entry a member for
                // many lines, each taking its place in the queue), up to 64 KiB.
                Command::Say(t) if !t.is_empty() => {
                    said += t.len() + 16;
                    saying.push(t);
                    if said >= batch {
                        Box::pin(session.say(std::mem::take(&mut saying))).await;
                        said = 0;
                    }
                }
                command => {
                    if !saying.is_empty() {
                        Box::pin(session.say(std::mem::take(&mut saying))).await;
                        said = 0;
                    }
                    if let Flow::Quit(r) = Box::pin(session.apply(command)).await {
                        quit_reason = Some(r.map_or_else(|| "left".to_string(), |r| format!("quit: {r}")));
                        break 'read;
                    }
                }
            }
        }
        if !saying.is_empty() {
            Box::pin(session.say(std::mem::take(&mut saying))).await;
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
    let (was_in, elsewhere) = {
        let mut room = shared.lock();
        let was = Mask { nick: nick.clone(), user: Arc::clone(&user) };
        let why = notice_reason.clone().unwrap_or_else(|| "Quit".to_string());
        let elsewhere = session.speech.elsewhere(&mut room, id, &was, &Change::Gone(why));
        room.nicks.remove(&nick.to_ascii_lowercase());
        room.lobby.remove(&id);
        (room.members.remove(&id).is_some(), elsewhere)
    };
    if let Some((text, to)) = elsewhere {
        Box::pin(tell_all(&to, &text, session.stall, None)).await;
    }
    shared.event(Event::Left { nick: nick.clone(), reason: console_reason });
    // (At shutdown everyone has had the goodbye: nobody is told of anyone leaving. A member
    // who was in the lobby was not in the room to leave it.)
    if was_in && !shared.quiet.is_cancelled() {
        Box::pin(shared.announce(Kind::Leave, id, Mask { nick, user }, notice_reason)).await;
    }
    // Let the writer send what is queued (the "bye"), then close.
    drop(session);
    let _ = tokio::time::timeout(Duration::from_secs(2), writer_task).await;
}
