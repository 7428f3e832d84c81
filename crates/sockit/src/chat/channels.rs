//! IRC channels besides the room's: one is made by the first IRC member to JOIN it (its
//! operator) and is gone with its last member. They are this server's alone (a cluster shares
//! the room, not these) and only IRC members are in them. Here is their state and its rules;
//! `irc_chan` has the commands that read and change them.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use sockit_core::irc;

/// A member's status in a channel: operator, voiced.
pub(super) const OP: u8 = 1;
pub(super) const VOICE: u8 = 2;
/// Channels a member may be in at once (the room's not counted).
pub(super) const PER_MEMBER: usize = 20;
/// Channels on the server at once: beyond them, a JOIN that would make one is refused.
pub(super) const MAX_CHANNELS: usize = 10_000;
/// Entries a ban, exception or invite-exception list holds.
pub(super) const MAX_LIST: usize = 100;
pub(super) const TOPIC_LEN: usize = 390;
pub(super) const KEY_LEN: usize = 23;
/// The flag modes, in the order MODE says them.
const FLAGS: [char; 5] = ['i', 'm', 'n', 's', 't'];
/// The list modes: bans, ban exceptions, invite exceptions.
pub(super) const LISTS: [char; 3] = ['b', 'e', 'I'];

/// A channel's topic: its text, who set it (a mask), when (seconds since the epoch).
pub(super) struct Topic {
    pub(super) text: String,
    pub(super) by: String,
    pub(super) at: u64,
}

/// An entry of a list mode: the mask, who set it, when.
pub(super) struct Entry {
    pub(super) mask: String,
    pub(super) by: String,
    pub(super) at: u64,
}

pub(super) struct Channel {
    /// Its name as its first member spelled it.
    pub(super) name: String,
    /// Member id -> status (`OP`, `VOICE`).
    pub(super) members: BTreeMap<u64, u8>,
    /// The members in the order they came in (NAMES and WHO tell them so).
    order: Vec<u64>,
    pub(super) topic: Option<Topic>,
    /// The flag modes set, of `FLAGS`.
    flags: Vec<char>,
    pub(super) key: Option<String>,
    pub(super) limit: Option<usize>,
    /// Bans, ban exceptions, invite exceptions (the order of `LISTS`).
    pub(super) lists: [Vec<Entry>; 3],
    /// Members invited (INVITE) since they were last in it.
    pub(super) invited: HashSet<u64>,
    /// When it was made (seconds since the epoch).
    pub(super) created: u64,
}

/// Why a JOIN is refused: its numeric and text.
pub(super) type Refusal = (&'static str, &'static str);

impl Channel {
    pub(super) fn has(&self, flag: char) -> bool {
        self.flags.contains(&flag)
    }

    pub(super) fn status(&self, id: u64) -> Option<u8> {
        self.members.get(&id).copied()
    }

    /// The members and their status, in the order they came in.
    pub(super) fn in_order(&self) -> impl Iterator<Item = (u64, u8)> + '_ {
        self.order.iter().filter_map(|id| self.members.get(id).map(|&s| (*id, s)))
    }

    fn remove(&mut self, id: u64) -> bool {
        self.order.retain(|&m| m != id);
        self.members.remove(&id).is_some()
    }

    pub(super) fn is_op(&self, id: u64) -> bool {
        self.status(id).is_some_and(|s| s & OP != 0)
    }

    fn listed(&self, list: usize, full: &str) -> bool {
        self.lists[list].iter().any(|e| irc::glob(&e.mask, full))
    }

    /// Whether `full` (`nick!user@host`) is banned and not excepted.
    pub(super) fn banned(&self, full: &str) -> bool {
        self.listed(0, full) && !self.listed(1, full)
    }

    /// Whether member `id` (`full`) may speak in it: +n keeps out who is not in it, +m who is
    /// neither operator nor voiced, a ban who is banned and not voiced.
    pub(super) fn may_speak(&self, id: u64, full: &str) -> bool {
        match self.status(id) {
            None => !self.has('n') && !self.has('m') && !self.banned(full),
            Some(s) if s != 0 => true,
            Some(_) => !self.has('m') && !self.banned(full),
        }
    }

    /// Its modes as MODE says them (`+nt`, `+klnt key 10`): the key shown to its members only.
    pub(super) fn modes(&self, member: bool) -> Vec<String> {
        let mut letters: Vec<char> = self.flags.clone();
        let mut params = Vec::new();
        if let Some(k) = &self.key {
            letters.push('k');
            params.push(if member { k.clone() } else { "*".to_string() });
        }
        if let Some(l) = self.limit {
            letters.push('l');
            params.push(l.to_string());
        }
        letters.sort_unstable();
        let mut all = vec![std::iter::once('+').chain(letters).collect::<String>()];
        all.extend(params);
        all
    }

    /// A member's prefix in NAMES and WHO: `@`, `+`, both with `multi-prefix`, or none.
    pub(super) fn prefix(status: u8, multi: bool) -> &'static str {
        match (status & OP != 0, status & VOICE != 0, multi) {
            (true, true, true) => "@+",
            (true, _, _) => "@",
            (false, true, _) => "+",
            _ => "",
        }
    }

    /// Whether member `id` (`full`) may come in with `key`: None if it may, else why not.
    /// An invitation lets it past +i, a ban and the limit; a key is always asked for.
    fn admits(&self, id: u64, full: &str, key: Option<&str>) -> Option<Refusal> {
        let invited = self.invited.contains(&id);
        if self.key.as_deref().is_some_and(|k| key != Some(k)) {
            return Some(("475", "Cannot join channel (+k)"));
        }
        if invited {
            return None;
        }
        if self.limit.is_some_and(|l| self.members.len() >= l) {
            return Some(("471", "Cannot join channel (+l)"));
        }
        if self.has('i') && !self.listed(2, full) {
            return Some(("473", "Cannot join channel (+i)"));
        }
        if self.banned(full) {
            return Some(("474", "Cannot join channel (+b)"));
        }
        None
    }

    /// Set or clear a flag mode; whether it changed.
    pub(super) fn set_flag(&mut self, flag: char, on: bool) -> bool {
        if self.has(flag) == on {
            return false;
        }
        if on {
            self.flags.push(flag);
        } else {
            self.flags.retain(|&f| f != flag);
        }
        true
    }

    pub(super) fn is_flag(c: char) -> bool {
        FLAGS.contains(&c)
    }
}

/// Every channel on the server, by its lower-case name.
#[derive(Default)]
pub(super) struct Channels {
    by_name: HashMap<String, Channel>,
}

impl Channels {
    pub(super) fn get(&self, name: &str) -> Option<&Channel> {
        self.by_name.get(&name.to_ascii_lowercase())
    }

    pub(super) fn get_mut(&mut self, name: &str) -> Option<&mut Channel> {
        self.by_name.get_mut(&name.to_ascii_lowercase())
    }

    pub(super) fn all(&self) -> impl Iterator<Item = &Channel> {
        self.by_name.values()
    }

    /// The channels member `id` is in.
    pub(super) fn of(&self, id: u64) -> impl Iterator<Item = &Channel> {
        self.by_name.values().filter(move |c| c.members.contains_key(&id))
    }

    /// Those who share a channel with member `id`, `id` not among them.
    pub(super) fn neighbours(&self, id: u64) -> BTreeSet<u64> {
        self.of(id).flat_map(|c| c.members.keys().copied()).filter(|&m| m != id).collect()
    }

    /// Member `id` (`full`) comes into channel `name` (made for it, as its operator, if there
    /// is none); Ok(false) if it was in already.
    pub(super) fn join(
        &mut self,
        name: &str,
        id: u64,
        full: &str,
        key: Option<&str>,
        now: u64,
    ) -> Result<bool, Refusal> {
        let lower = name.to_ascii_lowercase();
        if let Some(c) = self.by_name.get(&lower)
            && c.members.contains_key(&id)
        {
            return Ok(false);
        }
        if self.of(id).count() >= PER_MEMBER {
            return Err(("405", "You have joined too many channels"));
        }
        let full_up = self.by_name.len() >= MAX_CHANNELS;
        match self.by_name.get_mut(&lower) {
            Some(c) => {
                if let Some(why) = c.admits(id, full, key) {
                    return Err(why);
                }
                c.invited.remove(&id);
                c.members.insert(id, 0);
                c.order.push(id);
            }
            None if full_up => return Err(("403", "No such channel (the server has too many)")),
            None => {
                let c = Channel {
                    name: name.to_string(),
                    members: BTreeMap::from([(id, OP)]),
                    order: vec![id],
                    topic: None,
                    flags: vec!['n', 't'],
                    key: None,
                    limit: None,
                    lists: Default::default(),
                    invited: HashSet::new(),
                    created: now,
                };
                self.by_name.insert(lower, c);
            }
        }
        Ok(true)
    }

    /// Member `id` leaves channel `name` (PART, KICK); the channel is gone with its last.
    /// False if it was not in it.
    pub(super) fn part(&mut self, name: &str, id: u64) -> bool {
        let lower = name.to_ascii_lowercase();
        let Some(c) = self.by_name.get_mut(&lower) else { return false };
        let was = c.remove(id);
        if c.members.is_empty() {
            self.by_name.remove(&lower);
        }
        was
    }

    /// The channels member `id` is in as WHOIS's 319 says them (a secret one left out), each
    /// with its prefix.
    pub(super) fn whois(&self, id: u64) -> Vec<String> {
        self.of(id)
            .filter(|c| !c.has('s'))
            .map(|c| format!("{}{}", Channel::prefix(c.status(id).unwrap_or(0), true), c.name))
            .collect()
    }

    /// Member `id` is gone from the server: out of every channel and every invitation;
    /// returns those who shared a channel with it.
    pub(super) fn forget(&mut self, id: u64) -> BTreeSet<u64> {
        let neighbours = self.neighbours(id);
        for c in self.by_name.values_mut() {
            c.remove(id);
            c.invited.remove(&id);
        }
        self.by_name.retain(|_, c| !c.members.is_empty());
        neighbours
    }
}

/// Whether `key` may be a channel's key: 1 to 23 printable ASCII bytes, none a space, comma or
/// colon.
pub(super) fn key_ok(key: &str) -> bool {
    !key.is_empty() && key.len() <= KEY_LEN && key.bytes().all(|b| b.is_ascii_graphic() && b != b',' && b != b':')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(mask: &str) -> Entry {
        Entry { mask: mask.into(), by: "op".into(), at: 0 }
    }

    #[test]
    fn the_first_member_is_its_operator_and_the_last_takes_it_away() {
        let mut all = Channels::default();
        assert_eq!(all.join("#Chan", 1, "a!~a@h", None, 5), Ok(true));
        assert_eq!(all.join("#chan", 2, "b!~b@h", None, 6), Ok(true));
        assert_eq!(all.join("#CHAN", 2, "b!~b@h", None, 6), Ok(false));
        let c = all.get("#chan").expect("the channel");
        assert_eq!((c.name.as_str(), c.created, c.is_op(1), c.is_op(2)), ("#Chan", 5, true, false));
        assert_eq!(c.modes(true), ["+nt"]);
        assert_eq!(all.neighbours(1), BTreeSet::from([2]));
        assert!(all.part("#chan", 1));
        assert!(!all.part("#chan", 1));
        assert_eq!(all.forget(2), BTreeSet::new());
        assert!(all.get("#chan").is_none());
    }

    #[test]
    fn key_limit_invite_only_and_bans_keep_out_and_an_invitation_lets_in() {
        let mut all = Channels::default();
        all.join("#c", 1, "a!~a@h", None, 0).expect("joined");
        let c = all.get_mut("#c").expect("the channel");
        c.key = Some("beer".into());
        assert_eq!(all.join("#c", 2, "b!~b@h", None, 0), Err(("475", "Cannot join channel (+k)")));
        assert_eq!(all.join("#c", 2, "b!~b@h", Some("bees"), 0).expect_err("refused").0, "475");
        assert_eq!(all.join("#c", 2, "b!~b@h", Some("beer"), 0), Ok(true));
        let c = all.get_mut("#c").expect("the channel");
        c.key = None;
        c.limit = Some(2);
        assert_eq!(all.join("#c", 3, "c!~c@h", None, 0).expect_err("refused").0, "471");
        let c = all.get_mut("#c").expect("the channel");
        c.limit = None;
        c.set_flag('i', true);
        assert_eq!(all.join("#c", 3, "c!~c@h", None, 0).expect_err("refused").0, "473");
        all.get_mut("#c").expect("the channel").lists[2].push(entry("c!*@*"));
        assert_eq!(all.join("#c", 3, "c!~c@h", None, 0), Ok(true));
        let c = all.get_mut("#c").expect("the channel");
        c.set_flag('i', false);
        c.lists[0].push(entry("*!*@h"));
        assert_eq!(all.join("#c", 4, "d!~d@h", None, 0).expect_err("refused").0, "474");
        all.get_mut("#c").expect("the channel").invited.insert(4);
        assert_eq!(all.join("#c", 4, "d!~d@h", None, 0), Ok(true));
        assert!(all.get("#c").expect("the channel").invited.is_empty());
        all.get_mut("#c").expect("the channel").lists[1].push(entry("e!*@*"));
        assert_eq!(all.join("#c", 5, "e!~e@h", None, 0), Ok(true));
    }

    #[test]
    fn who_may_speak() {
        let mut all = Channels::default();
        all.join("#c", 1, "a!~a@h", None, 0).expect("joined");
        all.join("#c", 2, "b!~b@h", None, 0).expect("joined");
        let c = all.get_mut("#c").expect("the channel");
        assert!(!c.may_speak(9, "x!~x@h"), "+n keeps out who is not in it");
        assert!(c.may_speak(2, "b!~b@h"));
        c.set_flag('m', true);
        assert!(!c.may_speak(2, "b!~b@h") && c.may_speak(1, "a!~a@h"));
        c.members.insert(2, VOICE);
        assert!(c.may_speak(2, "b!~b@h"));
        c.set_flag('m', false);
        c.members.insert(2, 0);
        c.lists[0].push(entry("b!*@*"));
        assert!(!c.may_speak(2, "b!~b@h"));
        assert_eq!((Channel::prefix(OP | VOICE, true), Channel::prefix(OP | VOICE, false)), ("@+", "@"));
    }

    #[test]
    fn a_member_is_in_twenty_channels_at_most_and_keys_are_checked() {
        let mut all = Channels::default();
        for i in 0..PER_MEMBER {
            all.join(&format!("#c{i}"), 1, "a!~a@h", None, 0).expect("joined");
        }
        assert_eq!(all.join("#more", 1, "a!~a@h", None, 0).expect_err("refused").0, "405");
        assert_eq!(all.forget(1).len(), 0);
        assert_eq!(all.all().count(), 0);
        assert!(key_ok("beer") && !key_ok("") && !key_ok("a b") && !key_ok(&"k".repeat(24)) && !key_ok("a:b"));
    }
}
