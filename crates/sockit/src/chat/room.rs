//! The room: who is in it, the joins and leaves waiting for their notice, the history, the
//! other servers of a cluster as far as they are known, and the shared state every member's
//! task and the cluster link work on.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sockit_core::chat::Notice;
use sockit_core::cluster::{Body, Claim};

use super::events::{Event, Events};
use super::piece::{Line, Mask, joined, notice};
use super::queue::{Queue, Recipient, Window, deliver, places_for};

/// The room as the server runs it: `server::ServeConfig` made ready (its certificate read and
/// TLS built, the browsers' policy drawn up, the cluster's link connected), not a second
/// configuration.
#[derive(Debug, Clone)]
pub struct Settings {
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
    /// Which hosts and pages may use the room from a browser.
    pub browsers: super::web::Policy,
    /// Who may read `/metrics` and `/healthz`.
    pub metrics: crate::listener::AccessRules,
    /// Lines replayed to a member who joins (0: none).
    pub history: usize,
    /// The message of the day, as lines for a member (each a notice), after the welcome.
    pub motd: Option<Arc<str>>,
    /// The server's name to IRC clients (None: the cluster's node name, or `sockit`).
    pub irc_name: Option<String>,
    /// The link to the other servers of a cluster.
    pub cluster: Option<super::link::Link>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            room: "sockit".into(),
            max_clients: 100_000,
            max_line: 4096,
            rate: 0.0,
            queue: 4096,
            stall: Duration::from_secs(2),
            tls: None,
            web: true,
            browsers: super::web::Policy::default(),
            metrics: crate::listener::AccessRules::loopback(),
            history: 0,
            motd: None,
            irc_name: None,
            cluster: None,
        }
    }
}

/// One connected client, as the room sees it.
pub(super) struct Member {
    pub(super) nick: String,
    /// The user part of its IRC mask (`~` and a name).
    pub(super) user: Arc<str>,
    /// Its real name, as IRC's WHO and WHOIS say it.
    pub(super) real: Arc<str>,
    /// Why it is away (IRC's AWAY), if it is.
    pub(super) away: Option<Arc<str>>,
    /// When the nick was taken (ms since the epoch): the earlier claim keeps a nick.
    pub(super) since: u64,
    pub(super) out: Recipient,
}

/// Joins or leaves not announced yet: a burst is announced in one notice per window. Without
/// it, N clients joining cost N² notices (10,000 clients: 50 million); leaving, the same.
#[derive(Default)]
struct Burst {
    /// (member id, who, reason) in arrival order.
    pending: Vec<(u64, Mask, Option<String>)>,
    /// When the last notice of this kind went out.
    last: Option<Instant>,
}

/// A burst is announced at most once per this window (the first after a quiet spell at once).
const BURST_WINDOW: Duration = Duration::from_millis(250);

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Join,
    Leave,
}

#[derive(Default)]
pub(super) struct Room {
    /// Members in the room: every line said reaches them.
    pub(super) members: HashMap<u64, Member>,
    /// IRC members registered and holding their nick, not in the room's channel (before
    /// JOIN, after PART): private messages reach them, the room's lines do not.
    pub(super) lobby: HashMap<u64, Member>,
    /// Lower-case nick -> member id.
    pub(super) nicks: HashMap<String, u64>,
    /// Nicks IRC clients finished registering with, held while they are welcomed (until they
    /// are in the lobby): lower-case nick -> the hold's number (`irc::Hold`).
    pub(super) held: HashMap<String, u64>,
    next_guest: u64,
    joins: Burst,
    leaves: Burst,
    /// The other servers of the cluster, by node name.
    pub(super) peers: HashMap<String, super::peers::Peer>,
    /// The last lines said, for those who join (`--history`).
    history: VecDeque<Line>,
    /// IRC's other channels, this server's alone.
    pub(super) channels: super::channels::Channels,
}

/// Lines queued for everyone, and the recipients whose queues were full for each.
pub(super) type Queued = Vec<(Line, Vec<Recipient>)>;

impl Room {
    /// The server of the cluster holding `key` (a lower-case nick), if another does.
    pub(super) fn remote_holder(&self, key: &str) -> Option<(&str, &Claim)> {
        self.peers.iter().find_map(|(node, p)| p.members.get(key).map(|h| (node.as_str(), &h.claim)))
    }

    /// A member here, in the room or in the lobby.
    pub(super) fn member(&self, id: u64) -> Option<&Member> {
        self.members.get(&id).or_else(|| self.lobby.get(&id))
    }

    pub(super) fn member_mut(&mut self, id: u64) -> Option<&mut Member> {
        match self.members.get_mut(&id) {
            Some(m) => Some(m),
            None => self.lobby.get_mut(&id),
        }
    }

    /// The member here holding `key` (a lower-case nick), in the room or in the lobby.
    pub(super) fn by_nick(&self, key: &str) -> Option<&Member> {
        self.nicks.get(key).and_then(|&id| self.member(id))
    }

    /// Members here, in the room and in the lobby.
    pub(super) fn everyone(&self) -> impl Iterator<Item = &Member> {
        self.members.values().chain(self.lobby.values())
    }

    /// The lines kept for those who join, oldest first.
    pub(super) fn history(&self) -> impl Iterator<Item = &Line> {
        self.history.iter()
    }

    /// Members on the other servers.
    pub(super) fn remote_count(&self) -> usize {
        self.peers.values().map(|p| p.members.len()).sum()
    }

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
    fn announce_pending(&mut self, outbox: Option<&super::link::Outbox>) -> Queued {
        [Kind::Join, Kind::Leave].into_iter().filter_map(|k| self.announce(k, outbox)).collect()
    }

    fn announce(&mut self, kind: Kind, outbox: Option<&super::link::Outbox>) -> Option<(Line, Vec<Recipient>)> {
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
                            self.members.get(id).map(|m| Claim { nick: n.nick.clone(), since: m.since })
                        })
                        .collect();
                    o.publish(Body::Joined { members });
                }
                joined(pending.drain(..).map(|(_, n, _)| n).collect())
            }
            Kind::Leave => {
                let reason = if pending.len() == 1 { pending[0].2.take() } else { None };
                let nicks: Vec<String> = pending.drain(..).map(|(_, n, _)| n.nick).collect();
                if let Some(o) = outbox {
                    o.publish(Body::Left { nicks: nicks.clone(), reason: reason.clone() });
                }
                notice(Notice::Left { nicks, reason })
            }
        };
        let full = queue_all(self, &notice, except);
        Some((notice, full))
    }
}

/// The server's shared state.
pub(super) struct Shared {
    /// The settings in force (a reload puts new ones in; see `cfg`).
    pub(super) settings: std::sync::RwLock<Arc<Settings>>,
    /// Bumped by each reload: a member's reader takes the new limits when it sees it change.
    pub(super) generation: AtomicU64,
    /// Woken by each reload: readers waiting for a line take the new limits first.
    pub(super) reloaded: tokio::sync::Notify,
    /// Messages for the other servers of a cluster.
    pub(super) outbox: Option<super::link::Outbox>,
    /// The tag of this server's guest nicks in a cluster ("" alone).
    pub(super) guest_tag: String,
    /// This server's name in its cluster ("" alone; the cluster is not reloaded).
    pub(super) node: String,
    /// When the server started (the clock of `Blocked`).
    pub(super) epoch: Instant,
    pub(super) room: Mutex<Room>,
    pub(super) events: Events,
    pub(super) next_id: AtomicU64,
    /// Addresses that made HTTP requests lately (browsers), and when.
    pub(super) browsers: super::web::Browsers,
    /// Messages from the cluster refused, counted.
    pub(super) refused: super::peers::Refused,
    /// The last time the link to the cluster's broker was down (ms, from and to; `u64::MAX`
    /// while it is): claims heard as it came back may date from then.
    pub(super) outage: Mutex<Option<(u64, u64)>>,
    /// The server is shutting down: members' readers stop, nothing more is said.
    pub(super) quiet: tokio_util::sync::CancellationToken,
    /// The server is shutting down and cannot wait for backlogs: writers pass over what they
    /// hold, up to the goodbye.
    pub(super) hurry: tokio_util::sync::CancellationToken,
}

impl Shared {
    /// The settings in force now.
    pub(super) fn cfg(&self) -> Arc<Settings> {
        Arc::clone(&self.settings.read().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Put new settings in force, made from those in force.
    pub(super) fn reconfigure(&self, change: impl FnOnce(&Settings) -> Settings) {
        let mut s = self.settings.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        *s = Arc::new(change(&s));
        self.generation.fetch_add(1, std::sync::atomic::Ordering::Release);
        drop(s);
        self.reloaded.notify_waiters();
    }
    /// This server's name in its cluster ("" alone).
    pub(super) fn node_name(&self) -> &str {
        &self.node
    }

    pub(super) fn outbox(&self) -> Option<&super::link::Outbox> {
        self.outbox.as_ref()
    }

    /// Keep a line said in the room for those who join later (`--history`).
    pub(super) fn remember(&self, text: &Line) {
        if self.cfg().history > 0 {
            self.remember_all(std::iter::once(Arc::clone(text)));
        }
    }

    /// `remember` for several lines at once.
    pub(super) fn remember_all(&self, lines: impl Iterator<Item = Line>) {
        let keep = self.cfg().history;
        if keep > 0 {
            let mut room = self.lock();
            for l in lines {
                while room.history.len() >= keep {
                    room.history.pop_front();
                }
                room.history.push_back(l);
            }
        }
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Room> {
        self.room.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn event(&self, e: Event) {
        super::metrics::count(&e);
        let _ = self.events.try_send(e);
    }

    /// Queue `text` for every member but `except`, after the joins and leaves still waiting
    /// for their notice. Queues with room are served under the lock, without waiting; the
    /// full ones are waited for after it is released, all within one stall window.
    /// `publish`: what the other servers of a cluster are told of it, after the joins and
    /// leaves (so a joiner is announced before its first words, everywhere).
    pub(super) async fn broadcast(&self, text: Line, except: Option<u64>, window: &mut Window, publish: Vec<Body>) {
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
    pub(super) async fn announce(self: &Arc<Self>, kind: Kind, id: u64, who: Mask, reason: Option<String>) {
        let queued = {
            let mut room = self.lock();
            let now = Instant::now();
            let quiet = {
                let b = room.burst(kind);
                b.pending.is_empty() && b.last.is_none_or(|t| now - t >= BURST_WINDOW)
            };
            let burst = room.burst(kind);
            burst.pending.push((id, who, reason));
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
        let stall = self.cfg().stall;
        for (text, full) in &queued {
            let mut got = 0;
            for r in full {
                got += usize::from(deliver(r, text, stall, window.as_deref_mut()).await);
            }
            super::metrics::delivered(got, text);
        }
    }

    /// Queue `text` as everyone's last lines (the goodbye): after all that is queued for them,
    /// with nothing after, whatever room their queues have.
    pub(super) fn say_last(&self, text: Notice) {
        let text = notice(text);
        for m in self.lock().everyone() {
            m.out.tx.push_last(&text);
        }
    }

    pub(super) fn users(&self) -> u64 {
        self.lock().members.len() as u64
    }
}

/// Queue `text` for every member but `except` without waiting; returns those whose queues
/// were full.
pub(super) fn queue_all(room: &Room, text: &Line, except: Option<u64>) -> Vec<Recipient> {
    let n = places_for(text);
    let mut queued = 0;
    let full = room
        .members
        .iter()
        .filter(|&(&id, _)| Some(id) != except)
        .filter(|(_, m)| match m.out.tx.try_push(text, n) {
            Queue::Done => {
                queued += 1;
                false
            }
            Queue::Full => true,
            Queue::Closed => false,
        })
        .map(|(_, m)| m.out.clone())
        .collect();
    // Counted once for the room, not once a member: the fan-out stays free of shared writes.
    super::metrics::delivered(queued, text);
    full
}

/// A member's greeting in its own terms, made under the room's lock from its nick and the
/// room it comes into.
pub(super) type Greet = dyn Fn(&str, &Room) -> Line + Sync;

/// How a member comes into the room.
pub(super) struct Joining<'a> {
    /// The nick it asked for (IRC's NICK), if free; a fresh guest nick otherwise.
    pub(super) nick: Option<String>,
    /// The user part of its IRC mask.
    pub(super) user: Arc<str>,
    /// Its real name.
    pub(super) real: Arc<str>,
    /// Its greeting in its own terms (IRC's JOIN and NAMES), given its nick and the room it
    /// comes into; the room's welcome and message of the day when none.
    pub(super) greet: Option<&'a Greet>,
    /// It waits in the lobby (an IRC client, until it joins the channel).
    pub(super) lobby: bool,
}

/// Add a member under the nick it asked for if it is free (or a fresh guest nick), its
/// greeting queued (its own, or the room's welcome): into the lobby (an IRC client), or into
/// the room after the room's history; returns the nick.
pub(super) fn register(room: &mut Room, cfg: &Settings, tag: &str, id: u64, out: &Recipient, how: &Joining) -> String {
    let free = |key: &str| !room.nicks.contains_key(key) && room.remote_holder(key).is_none();
    let nick = match &how.nick {
        Some(n) if free(&n.to_ascii_lowercase()) => n.clone(),
        _ => room.fresh_guest(tag),
    };
    room.held.remove(&nick.to_ascii_lowercase());
    room.nicks.insert(nick.to_ascii_lowercase(), id);
    let since = super::peers::now_ms();
    let (user, real) = (Arc::clone(&how.user), Arc::clone(&how.real));
    let member = Member { nick: nick.clone(), user, real, away: None, since, out: out.clone() };
    match how.greet {
        Some(greet) => {
            let hello = greet(&nick, room);
            let _ = out.tx.try_push(&hello, places_for(&hello));
        }
        None => {
            let remote = room.peers.values().flat_map(|p| p.members.values().map(|h| h.claim.nick.clone()));
            let mut names: Vec<String> = room.members.values().map(|m| m.nick.clone()).chain(remote).take(20).collect();
            names.sort_unstable();
            let online = room.members.len() + room.remote_count();
            let welcome = Notice::Welcome { room: cfg.room.clone(), nick: nick.clone(), online, names };
            let _ = out.tx.try_push(&notice(welcome), 1);
            if let Some(motd) = &cfg.motd {
                let motd = super::piece::text(&**motd);
                let _ = out.tx.try_push(&motd, places_for(&motd));
            }
        }
    }
    if how.lobby {
        room.lobby.insert(id, member);
    } else {
        room.replay_history(out);
        room.members.insert(id, member);
    }
    nick
}

impl Room {
    /// Queue the room's history for a member coming in: its heading, then the lines.
    pub(super) fn replay_history(&self, out: &Recipient) {
        if !self.history.is_empty() {
            let _ = out.tx.try_push(&notice(Notice::History { count: self.history.len() }), 1);
            for l in &self.history {
                let _ = out.tx.try_push(l, 1);
            }
        }
    }

    /// A member of the lobby comes into the room: `greet` (its JOIN and NAMES) and the
    /// history queued for it first, under this lock, so nothing said after reaches it before.
    /// False if it was not in the lobby.
    pub(super) fn enter(&mut self, id: u64, greet: &Line) -> bool {
        let Some(m) = self.lobby.remove(&id) else { return false };
        let _ = m.out.tx.try_push(greet, places_for(greet));
        self.replay_history(&m.out);
        self.members.insert(id, m);
        true
    }

    /// A member of the room steps out into the lobby; false if it was not in the room.
    pub(super) fn step_out(&mut self, id: u64) -> bool {
        match self.members.remove(&id) {
            Some(m) => {
                self.lobby.insert(id, m);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::piece::text;
    use crate::chat::queue::{Blocked, Lines, Out, Taken};

    /// A member's way in with room for `max` lines, and what its writer would take.
    fn recipient(max: usize) -> (Recipient, Taken) {
        let (tx, rx) = Lines::new(max);
        let r = Recipient {
            tx,
            kick: tokio_util::sync::CancellationToken::new(),
            reason: Arc::default(),
            blocked: Blocked::new(Instant::now()),
        };
        (r, rx)
    }

    /// How a line member comes in.
    fn plain() -> Joining<'static> {
        Joining { nick: None, user: Arc::from("~line"), real: Arc::from("line"), greet: None, lobby: false }
    }

    /// Every line queued so far, in order.
    fn taken(rx: &mut Taken) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(o) = rx.try_recv() {
            match o {
                Out::Lines(text, _) | Out::Last(text) => out.push(text.trim_end().to_string()),
            }
        }
        out
    }

    #[test]
    fn guests_skip_the_nicks_held_here_and_carry_the_servers_tag() {
        let mut room = Room::default();
        room.nicks.insert("guest-1".into(), 7);
        assert_eq!(room.fresh_guest(""), "guest-2");
        assert_eq!(room.fresh_guest("k3f"), "guest-3-k3f");
    }

    #[test]
    fn a_member_hears_its_welcome_then_the_history() {
        let cfg = Settings { room: "lab".into(), ..Settings::default() };
        let mut room = Room::default();
        let (first, mut first_rx) = recipient(16);
        assert_eq!(register(&mut room, &cfg, "", 1, &first, &plain()), "guest-1");
        assert_eq!(taken(&mut first_rx), ["* welcome to lab, you are guest-1; 0 others online (/help for commands)"]);
        room.history.extend([text("<guest-1> one"), text("<guest-1> two")]);
        let (second, mut second_rx) = recipient(16);
        assert_eq!(register(&mut room, &cfg, "", 2, &second, &plain()), "guest-2");
        assert_eq!(
            taken(&mut second_rx),
            [
                "* welcome to lab, you are guest-2; 1 other online: guest-1 (/help for commands)",
                "* the last 2 lines said here:",
                "<guest-1> one",
                "<guest-1> two",
            ]
        );
        assert_eq!((room.members.len(), room.nicks.get("guest-2")), (2, Some(&2)));
    }

    #[test]
    fn a_burst_of_joins_is_one_notice_and_a_lone_joiner_is_not_told_of_itself() {
        let cfg = Settings::default();
        let mut room = Room::default();
        let mut queues = Vec::new();
        for id in 1..=3 {
            let (r, rx) = recipient(16);
            let nick = register(&mut room, &cfg, "", id, &r, &plain());
            queues.push(rx);
            room.joins.pending.push((id, Mask::of(&nick), None));
        }
        for rx in &mut queues {
            taken(rx);
        }
        let (notice, full) = room.announce(Kind::Join, None).expect("a notice");
        assert_eq!((&**notice, full.len()), ("* guest-1, guest-2 and guest-3 joined\n", 0));
        for rx in &mut queues {
            assert_eq!(taken(rx), ["* guest-1, guest-2 and guest-3 joined"]);
        }
        assert!(room.announce(Kind::Join, None).is_none(), "nothing pending");
        room.joins.pending.push((3, Mask::of("guest-3"), None));
        room.announce(Kind::Join, None).expect("a notice");
        assert_eq!(taken(&mut queues[2]), Vec::<String>::new(), "a lone joiner has its welcome");
        assert_eq!(taken(&mut queues[0]), ["* guest-3 joined"]);
    }

    #[test]
    fn a_leave_keeps_its_reason_only_alone() {
        let cfg = Settings::default();
        let mut room = Room::default();
        let (r, mut rx) = recipient(16);
        register(&mut room, &cfg, "", 1, &r, &plain());
        taken(&mut rx);
        room.leaves.pending.push((2, Mask::of("ann"), Some("lunch".into())));
        room.announce(Kind::Leave, None).expect("a notice");
        room.leaves.pending.push((3, Mask::of("ben"), Some("bus".into())));
        room.leaves.pending.push((4, Mask::of("cy"), Some("rain".into())));
        room.announce(Kind::Leave, None).expect("a notice");
        assert_eq!(taken(&mut rx), ["* ann left (lunch)", "* ben and cy left"]);
    }

    #[test]
    fn queueing_for_everyone_never_waits_and_names_the_full() {
        let cfg = Settings::default();
        let mut room = Room::default();
        let (roomy, mut roomy_rx) = recipient(16);
        let (full, _full_rx) = recipient(1);
        register(&mut room, &cfg, "", 1, &roomy, &plain());
        register(&mut room, &cfg, "", 2, &full, &plain());
        taken(&mut roomy_rx);
        let said = text("<guest-1> hello");
        let left_out = queue_all(&room, &said, None);
        assert_eq!(left_out.len(), 1, "the member whose one place holds its welcome");
        assert_eq!(taken(&mut roomy_rx), ["<guest-1> hello"]);
        assert!(queue_all(&room, &said, Some(2)).is_empty(), "the speaker is left out");
    }
}
