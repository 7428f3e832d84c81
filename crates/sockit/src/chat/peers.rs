//! What one server knows of the other servers of its cluster (each one's run, its numbering,
//! its members and when it was last heard from) and the rules of what another server may
//! claim: a nick dated before this server heard of the claim, by more than a race allows,
//! takes no nick from anyone; and all other servers together hold a bounded share of memory,
//! the least recently heard giving way first.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use sockit_core::cluster::{Claim, Sequence};

/// How far back a claim may be dated before this server first heard of it. Two servers that
/// grant one nick at once hear of each other's claim within it; a claim dated further back
/// than that, heard only now, cannot take a nick from the member who holds it. (While the link
/// to the broker was down nothing could be heard: a claim heard as it came back, or in a
/// server's first presence list since, may date from as far back as the outage's start.)
pub(super) const SKEW_MS: u64 = 2_000;

/// The most members of other servers this server keeps, all of them together: memory stays
/// bounded whatever a program on the broker makes up.
pub(super) const MAX_REMOTE_MEMBERS: usize = 100_000;

/// A nick another server holds: its claim, and the earliest it may count as made from.
#[derive(Debug, Clone)]
pub(super) struct Held {
    pub(super) claim: Claim,
    pub(super) floor: u64,
}

impl Held {
    /// A claim first heard at `heard` (ms), `outage` the last time the link was down (from,
    /// to; `u64::MAX` while it is).
    pub(super) fn heard(claim: Claim, heard: u64, outage: Option<(u64, u64)>) -> Held {
        let floor = match outage {
            Some((began, ended)) if heard <= ended.saturating_add(SKEW_MS) => began,
            _ => heard,
        };
        Held { claim, floor: floor.saturating_sub(SKEW_MS) }
    }

    /// When the claim counts as made: as it says, but never before its floor.
    pub(super) fn since(&self) -> u64 {
        self.claim.since.max(self.floor)
    }
}

/// What this server knows of another server of the cluster.
pub(super) struct Peer {
    pub(super) run: u64,
    pub(super) seq: Option<Sequence>,
    /// Lower-case nick -> the claim: the nicks it holds.
    pub(super) members: HashMap<String, Held>,
    /// Its claims that another's earlier claim holds: kept (a rename or a leave may come for
    /// them), but they do not speak.
    pub(super) contested: HashMap<String, Held>,
    pub(super) seen: Instant,
    /// A presence list being put together: its generation and the parts so far.
    pub(super) gathering: Option<(u64, u32, Vec<Claim>)>,
    /// When its last whole presence list was taken (ms; when it was first heard, before one):
    /// until the first since the link was last down, its claims may date from the outage
    /// however late they are heard.
    pub(super) listed: u64,
    /// When it was last sent this server's list in answer (ms; when it was first heard,
    /// before): once after each outage.
    pub(super) answered: u64,
}

impl Peer {
    pub(super) fn new(run: u64) -> Peer {
        Peer {
            run,
            seq: None,
            members: HashMap::new(),
            contested: HashMap::new(),
            seen: Instant::now(),
            gathering: None,
            listed: now_ms(),
            answered: now_ms(),
        }
    }

    pub(super) fn nicks(&self) -> Vec<String> {
        let mut n: Vec<String> = self.members.values().map(|h| h.claim.nick.clone()).collect();
        n.sort_unstable();
        n
    }

    /// Whether this server holds `key` (a lower-case nick).
    pub(super) fn holds(&self, key: &str) -> bool {
        self.members.contains_key(key)
    }

    /// Whether this server claims `key`, holding it or not.
    pub(super) fn claims(&self, key: &str) -> bool {
        self.members.contains_key(key) || self.contested.contains_key(key)
    }

    /// Its claim to `key` taken off, held or contested; whether it held it.
    pub(super) fn drop_claim(&mut self, key: &str) -> bool {
        self.contested.remove(key);
        self.members.remove(key).is_some()
    }

    /// Claims held, contested and being gathered: what it costs.
    pub(super) fn weight(&self) -> usize {
        self.members.len() + self.contested.len() + self.gathering.as_ref().map_or(0, |g| g.2.len())
    }
}

/// Milliseconds since the Unix epoch: when a nick was claimed.
pub(super) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The other servers, the least recently heard of them let go when a new one comes and there
/// is no room, or when their members together pass `MAX_REMOTE_MEMBERS`.
pub(super) fn make_room(peers: &mut HashMap<String, Peer>, keep: &str, max_peers: usize, more: usize) -> Vec<String> {
    let mut gone = Vec::new();
    loop {
        let total: usize = peers.values().map(Peer::weight).sum();
        let too_many = peers.len() > max_peers || (peers.len() == max_peers && !peers.contains_key(keep));
        if !too_many && total + more <= MAX_REMOTE_MEMBERS {
            return gone;
        }
        let oldest =
            peers.iter().filter(|(n, _)| n.as_str() != keep).min_by_key(|(_, p)| p.seen).map(|(n, _)| n.clone());
        match oldest {
            Some(n) => {
                peers.remove(&n);
                gone.push(n);
            }
            None => return gone,
        }
    }
}

/// Messages from the cluster refused, by why: counted, and said at most once a period.
#[derive(Debug, Default)]
pub(super) struct Refused {
    /// Without the cluster key's signature, or with a wrong one.
    pub(super) unsigned: AtomicU64,
    /// Not a cluster message, or one that breaks its rules.
    pub(super) malformed: AtomicU64,
    /// Words of a nick the sending server does not hold.
    pub(super) not_theirs: AtomicU64,
    /// A claim to a nick another holds, dated before its holder's.
    pub(super) stale_claims: AtomicU64,
    /// Servers let go for room, and claims past the budget.
    pub(super) over_budget: AtomicU64,
    /// Messages from another server calling itself by this server's name.
    pub(super) own_name: AtomicU64,
}

impl Refused {
    pub(super) fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Every count, in the order `describe` names them.
    pub(super) fn totals(&self) -> [u64; 6] {
        [&self.unsigned, &self.malformed, &self.not_theirs, &self.stale_claims, &self.over_budget, &self.own_name]
            .map(|c| c.load(Ordering::Relaxed))
    }

    /// The counts since `before`, in words, if any.
    pub(super) fn describe(now: [u64; 6], before: [u64; 6]) -> Option<String> {
        let names = [
            "unsigned",
            "malformed",
            "not the sender's nick",
            "stale claim",
            "over the memory budget",
            "this server's name",
        ];
        let parts: Vec<String> = now
            .iter()
            .zip(before)
            .zip(names)
            .filter(|((n, b), _)| *n > b)
            .map(|((n, b), name)| format!("{} {name}", n - b))
            .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_dated_before_it_was_heard_counts_from_when_it_was() {
        let held = |since, heard, outage| Held::heard(Claim { nick: "bob".into(), since }, heard, outage);
        assert_eq!(held(0, 1_000_000, None).since(), 1_000_000 - SKEW_MS, "a claim from 1970");
        assert_eq!(held(999_000, 1_000_000, None).since(), 999_000, "a race: as it says");
        assert_eq!(held(2_000_000, 1_000_000, None).since(), 2_000_000);
        // Heard as the link came back: it may date from the outage, not from 1970.
        let outage = Some((900_000, 999_500));
        assert_eq!(held(950_000, 1_000_000, outage).since(), 950_000);
        assert_eq!(held(0, 1_000_000, outage).since(), 900_000 - SKEW_MS);
        assert_eq!(held(0, 1_000_000, Some((900_000, u64::MAX))).since(), 900_000 - SKEW_MS, "still down");
        assert_eq!(held(0, 1_000_000, Some((100, 200))).since(), 1_000_000 - SKEW_MS, "an outage long past");
    }

    #[test]
    fn room_is_made_by_letting_the_least_recently_heard_go() {
        let mut peers = HashMap::new();
        let now = Instant::now();
        for (ago, n) in [(10, "old"), (9, "mid"), (8, "new")] {
            let mut p = Peer::new(1);
            p.seen = now.checked_sub(std::time::Duration::from_secs(ago)).unwrap_or(now);
            peers.insert(n.to_string(), p);
        }
        assert_eq!(make_room(&mut peers, "incoming", 3, 0), ["old"]);
        assert_eq!(make_room(&mut peers, "mid", 3, 0), Vec::<String>::new(), "a known one needs no room");
        let big = peers.get_mut("new").expect("new");
        for i in 0..MAX_REMOTE_MEMBERS {
            big.members.insert(format!("m{i}"), Held { claim: Claim { nick: format!("m{i}"), since: 1 }, floor: 1 });
        }
        assert_eq!(make_room(&mut peers, "new", 3, 1), ["mid"], "the others go before the one adding");
        assert_eq!(make_room(&mut peers, "new", 3, 1), Vec::<String>::new(), "then it is alone: the caller refuses");
        assert_eq!(
            Refused::describe([0, 2, 0, 0, 0, 1], [0, 1, 0, 0, 0, 0]).as_deref(),
            Some("1 malformed, 1 this server's name")
        );
        assert_eq!(Refused::describe([1; 6], [1; 6]), None);
    }
}
