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
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use sockit_core::chat::Notice;
use sockit_core::cluster::{self as wire, Body, Claim, Message, Order, Sequence};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::events::Event;
use super::link::Link;
use super::peers::{Held, MAX_REMOTE_MEMBERS, Peer, Refused, make_room, now_ms};
use super::piece::{Line, Mask, notice};
use super::room::{Queued, Room, Shared, queue_all};

/// How often a server announces its whole member list.
pub const PERIOD: Duration = Duration::from_secs(3);
/// A server not heard from for this many periods is gone.
pub const EXPIRY_PERIODS: u32 = 3;

/// A local member renamed because another server's claim to its nick came first.
struct Lost {
    id: u64,
    old: String,
    new: String,
    node: String,
}

impl Room {
    /// Take `claims` of `node` into its list, each by the claim rules (`peers`): of two claims
    /// to one nick (a local member's, or another server's), the one made first holds it, a
    /// claim counting as made no further back than a race allows before it was heard here; the
    /// other is contested (a local member loses its nick and is renamed). Claims past the
    /// memory budget are refused. Claims already known (`before`) keep when they were first
    /// heard. Returns the local members who lost their nicks, and the nicks `node` came to
    /// hold that it did not before.
    fn claim(
        &mut self,
        node: &str,
        claims: &[Claim],
        before: &HashMap<String, Held>,
        (me, tag, refused, outage): (&str, &str, &Refused, Option<(u64, u64)>),
    ) -> (Vec<Lost>, Vec<String>) {
        let (mut lost, mut taken) = (Vec::new(), Vec::new());
        let now = now_ms();
        for c in claims {
            let key = c.nick.to_ascii_lowercase();
            let known = before
                .get(&key)
                .or_else(|| self.peers.get(node).and_then(|p| p.members.get(&key).or_else(|| p.contested.get(&key))));
            let held = match known {
                Some(k) => Held { claim: c.clone(), floor: k.floor },
                None => Held::heard(c.clone(), now, outage),
            };
            if self.peers.get(node).is_none_or(|p| !p.claims(&key)) {
                for gone in make_room(&mut self.peers, node, wire::MAX_PEERS, 1) {
                    tracing::debug!(node = %gone, "let go for room");
                    Refused::count(&refused.over_budget);
                }
                if self.peers.values().map(Peer::weight).sum::<usize>() >= MAX_REMOTE_MEMBERS {
                    Refused::count(&refused.over_budget);
                    continue;
                }
            }
            // Who holds it now, here or on another server, and since when.
            let local = self.nicks.get(&key).and_then(|id| self.member(*id).map(|m| (*id, m.since)));
            let remote = self
                .peers
                .iter()
                .filter(|(n, _)| n.as_str() != node)
                .find_map(|(n, p)| p.members.get(&key).map(|h| (n.clone(), h.since())));
            let first = match (local, &remote) {
                (Some((_, since)), _) => wire::earlier((held.since(), node), (since, me)),
                (None, Some((other, since))) => wire::earlier((held.since(), node), (*since, other)),
                (None, None) => true,
            };
            let Some(p) = self.peers.get_mut(node) else { continue };
            if !first {
                Refused::count(&refused.stale_claims);
                p.members.remove(&key);
                p.contested.insert(key, held);
                continue;
            }
            let new_here = !before.contains_key(&key) && !p.holds(&key);
            p.contested.remove(&key);
            p.members.insert(key.clone(), held);
            if new_here {
                taken.push(c.nick.clone());
            }
            if let Some((other, _)) = remote
                && let Some(o) = self.peers.get_mut(&other)
                && let Some(h) = o.members.remove(&key)
            {
                o.contested.insert(key.clone(), h);
            }
            if let Some((id, _)) = local {
                let old = self.member(id).map(|m| m.nick.clone()).unwrap_or_default();
                let new = self.fresh_guest(tag);
                self.nicks.remove(&key);
                self.nicks.insert(new.to_ascii_lowercase(), id);
                if let Some(m) = self.member_mut(id) {
                    m.nick = new.clone();
                    m.since = now;
                }
                lost.push(Lost { id, old, new, node: node.to_string() });
            }
        }
        (lost, taken)
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
        let (publisher, halt) = (link.clone(), stop.clone());
        tasks.spawn(async move {
            loop {
                let bytes = tokio::select! {
                    () = halt.cancelled() => break,
                    b = outgoing.recv() => match b { Some(b) => b, None => break },
                };
                if let Err(e) = publisher.publish(bytes).await {
                    tracing::info!(error = %e, "publish to the cluster");
                }
            }
            // Stopping: what is still queued (the members leaving) goes out, a second at most.
            let last = async {
                while let Ok(bytes) = outgoing.try_recv() {
                    let _ = publisher.publish(bytes).await;
                }
                let _ = publisher.client.flush().await;
            };
            let _ = tokio::time::timeout(Duration::from_secs(1), last).await;
        });
        let (shared, halt, keyed) = (Arc::clone(self), stop.clone(), link.clone());
        let taken = link.subscription.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        tasks.spawn(async move {
            let Some(mut sub) = taken else { return tracing::warn!("the cluster's subscription was taken already") };
            loop {
                let m = tokio::select! {
                    () = halt.cancelled() => break,
                    m = sub.next() => match m { Some(m) => m, None => break },
                };
                // Refused messages are counted, and said at most once a period (-v).
                let refused = &shared.refused;
                if !keyed.signed_by_the_key(&m) {
                    Refused::count(&refused.unsigned);
                    continue;
                }
                match Message::parse(&m.payload) {
                    Ok(m) if m.node == shared.node_name() => Refused::count(&refused.own_name),
                    Ok(m) => {
                        shared.link_back().await;
                        shared.remote(m).await;
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "a message on the cluster's subject was not taken");
                        Refused::count(&refused.malformed);
                    }
                }
            }
        });
        let (shared, mut up, pinged) = (Arc::clone(self), link.up.clone(), link.clone());
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(PERIOD);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut dropped = 0;
            let mut refused_before = [0; 6];
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
                        let refused = shared.refused.totals();
                        if let Some(what) = Refused::describe(refused, refused_before) {
                            tracing::info!(refused = %what, "messages from the cluster refused");
                            refused_before = refused;
                        }
                    }
                    changed = up.changed() => {
                        if changed.is_err() { break }
                        let connected = *up.borrow_and_update();
                        if connected {
                            // The client says it is connected before the broker has its
                            // subscription again: after a round trip (or the first word from
                            // another server, whichever is first), what the other servers say
                            // from now on is heard here, and the link is said to be back.
                            pinged.round_trip().await;
                            shared.link_back().await;
                        } else {
                            *shared.outage.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some((now_ms(), u64::MAX));
                            shared.event(Event::LinkDown);
                            shared.tell_all(notice(Notice::LinkDown)).await;
                        }
                    }
                }
            }
        });
    }

    /// The link is back after an outage (once: whichever of its signs comes first): everyone
    /// gets a fresh spell to be heard from and hears of us, and the members are told.
    async fn link_back(&self) {
        {
            let mut outage = self.outage.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            match outage.as_mut() {
                Some((_, ended)) if *ended == u64::MAX => *ended = now_ms(),
                _ => return,
            }
        }
        for p in self.lock().peers.values_mut() {
            p.seen = Instant::now();
        }
        self.announce_presence();
        self.event(Event::LinkUp);
        self.tell_all(notice(Notice::LinkBack)).await;
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
        self.queue_presence(&self.lock());
    }

    /// This server's member list, queued under the room's lock: the list takes its place among
    /// the room's numbered messages as they stand, so no rename queued before it is undone by
    /// it, and none after it is missed.
    fn queue_presence(&self, room: &Room) {
        let Some(outbox) = self.outbox() else { return };
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
            self.tell_all(notice(Notice::ServerGone { node, secs: limit.as_secs(), nicks })).await;
        }
    }

    /// Queue a line (a notice, or a line said elsewhere) for every local member.
    async fn tell_all(&self, text: Line) {
        let queued: Queued = {
            let room = self.lock();
            vec![(Arc::clone(&text), queue_all(&room, &text, None))]
        };
        self.wait_for(queued, None).await;
    }

    /// A message from another server of the cluster. A server speaks only for the nicks it
    /// holds (as this server knows them, and never one of this server's members); its claims go
    /// by the claim rules.
    async fn remote(&self, m: Message) {
        let ctx = (self.node_name().to_string(), self.guest_tag.clone());
        let refused = &self.refused;
        let mut notices: Vec<Notice> = Vec::new();
        let mut said: Option<Line> = None;
        let mut private: Option<(super::queue::Recipient, String, String, String)> = None;
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
            // started), rather than at our next presence: below, before its claims are taken.
            let hello = !room.peers.contains_key(&m.node);
            if hello {
                // Memory stays bounded whatever names a program on the broker makes up: the
                // least recently heard server makes room.
                for gone in make_room(&mut room.peers, &m.node, wire::MAX_PEERS, 0) {
                    tracing::debug!(node = %gone, "let go for room");
                    Refused::count(&refused.over_budget);
                }
            }
            let peer = room.peers.entry(m.node.clone()).or_insert_with(|| Peer::new(m.run));
            peer.seen = Instant::now();
            if m.seq > 0 {
                match peer.seq.as_mut().map(|s| s.take(m.run, m.seq)) {
                    None => peer.seq = Some(Sequence::first(m.run, m.seq)),
                    Some(Order::Next | Order::Restarted) => {}
                    Some(Order::Duplicate) => {
                        super::metrics::COUNTERS.cluster_duplicates.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    Some(Order::Gap(count)) => {
                        self.event(Event::Lost { server: m.node.clone(), messages: count });
                        notices.push(Notice::Lost { node: m.node.clone(), count });
                    }
                }
            }
            // The first word from a server since the link was last down: it may have missed
            // this server's list (each came back on its own time, and what either said
            // meanwhile may be lost), so it hears it again. So does a server heard of for the
            // first time. Either hears it before this message can rename a member here, so
            // each such rename follows the claim it undoes (told a rename of a nick it never
            // knew was claimed here, it would refuse it, and its members would never hear of
            // it). Until its own whole list is heard, its claims may date from the outage,
            // however late they come.
            let outage = *self.outage.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let (answer, outage) = match outage {
                Some((began, _)) if peer.listed < began => {
                    let answer = peer.answered < began;
                    peer.answered = peer.answered.max(now_ms());
                    (answer, Some((began, u64::MAX)))
                }
                other => (false, other),
            };
            if answer || hello {
                self.queue_presence(&room);
            }
            let node = m.node.clone();
            // Whether `node` holds `nick` (and no member here does).
            let theirs = |room: &Room, nick: &str| {
                let key = nick.to_ascii_lowercase();
                let ok = room.peers.get(&node).is_some_and(|p| p.holds(&key)) && !room.nicks.contains_key(&key);
                if !ok {
                    Refused::count(&refused.not_theirs);
                }
                ok
            };
            let rules = (ctx.0.as_str(), ctx.1.as_str(), refused, outage);
            let lost = match m.body {
                Body::Said { nick, text } if theirs(&room, &nick) => {
                    self.event(Event::Said { nick: nick.clone(), text: text.clone(), server: Some(node) });
                    said = Some(super::piece::said(&Mask::of(&nick), vec![text]));
                    Vec::new()
                }
                Body::Action { nick, text } if theirs(&room, &nick) => {
                    self.event(Event::Action { nick: nick.clone(), text: text.clone(), server: Some(node) });
                    said = Some(super::piece::action(&Mask::of(&nick), text));
                    Vec::new()
                }
                Body::Said { .. } | Body::Action { .. } => Vec::new(),
                Body::Joined { members } => {
                    let (lost, taken) = room.claim(&node, &members, &HashMap::new(), rules);
                    if !taken.is_empty() {
                        notices.push(Notice::Joined { nicks: taken });
                    }
                    lost
                }
                Body::Left { nicks, reason } => {
                    // Only those it had (a server shutting down says all of them at once, and
                    // may say some again as their connections close).
                    let gone: Vec<String> = match room.peers.get_mut(&node) {
                        Some(p) => nicks.into_iter().filter(|n| p.drop_claim(&n.to_ascii_lowercase())).collect(),
                        None => Vec::new(),
                    };
                    if !gone.is_empty() {
                        notices.push(Notice::Left { nicks: gone, reason });
                    }
                    Vec::new()
                }
                // A rename of a nick it claims (held or contested: a member that lost a race is
                // renamed by its own server).
                Body::Renamed { old, new }
                    if room.peers.get(&node).is_some_and(|p| p.claims(&old.to_ascii_lowercase())) =>
                {
                    if let Some(p) = room.peers.get_mut(&node) {
                        p.drop_claim(&old.to_ascii_lowercase());
                    }
                    let (lost, taken) = room.claim(&node, std::slice::from_ref(&new), &HashMap::new(), rules);
                    if !taken.is_empty() {
                        notices.push(Notice::Renamed { old, new: new.nick.clone() });
                    }
                    lost
                }
                Body::Renamed { .. } => {
                    Refused::count(&refused.not_theirs);
                    Vec::new()
                }
                Body::Private { from, to, text } if theirs(&room, &from) => {
                    let target = room.by_nick(&to.to_ascii_lowercase());
                    if let Some(t) = target {
                        private = Some((t.out.clone(), from, t.nick.clone(), text));
                    }
                    Vec::new()
                }
                Body::Private { .. } => Vec::new(),
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
                        if room.peers.values().map(Peer::weight).sum::<usize>() > MAX_REMOTE_MEMBERS {
                            // A list past the budget is not gathered on.
                            if let Some(p) = room.peers.get_mut(&node) {
                                p.gathering = None;
                            }
                            Refused::count(&refused.over_budget);
                        }
                        return;
                    }
                    // The whole list: it replaces what was known. Members first heard of here
                    // (a server just heard from, or joins missed) are announced.
                    peer.listed = now_ms();
                    let mut before = std::mem::take(&mut peer.members);
                    before.extend(std::mem::take(&mut peer.contested));
                    let (lost, taken) = room.claim(&node, &all, &before, rules);
                    if !taken.is_empty() {
                        notices.push(Notice::Joined { nicks: taken });
                    }
                    lost
                }
            };
            // Each rename goes out under the lock it was made under: no member list sent
            // between can show the new nick before the rename that explains it.
            if let Some(o) = self.outbox() {
                for l in &lost {
                    let since = room.member(l.id).map_or(0, |m| m.since);
                    o.publish(Body::Renamed { old: l.old.clone(), new: Claim { nick: l.new.clone(), since } });
                }
            }
            lost
        };
        // (A loss is told before the line after it.)
        for n in notices {
            self.tell_all(notice(n)).await;
        }
        if let Some(text) = said {
            self.remember(&text);
            self.tell_all(text).await;
        }
        if let Some((r, from, to, text)) = private {
            self.event(Event::Private { from: from.clone(), to });
            self.wait_for(vec![(super::piece::private(&Mask::of(&from), text), vec![r])], None).await;
        }
        for l in lost {
            self.lost_nick(l).await;
        }
    }

    /// A local member lost its nick to an earlier claim elsewhere: it is told why, everyone
    /// hears of the rename.
    async fn lost_nick(&self, l: Lost) {
        let me = self.lock().member(l.id).map(|m| m.out.clone());
        let Some(out) = me else { return };
        self.wait_for(
            vec![(notice(Notice::NickLost { nick: l.old.clone(), node: l.node, now: l.new.clone() }), vec![out])],
            None,
        )
        .await;
        self.event(Event::Renamed { old: l.old.clone(), new: l.new.clone() });
        self.tell_all(notice(Notice::Renamed { old: l.old, new: l.new })).await;
    }
}
