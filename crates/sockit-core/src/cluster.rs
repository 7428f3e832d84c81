//! What chat servers of one cluster tell each other through the broker: the messages, their
//! checks, the order of a node's messages and the rule for a nick claimed twice.
//!
//! Every server publishes on one subject per cluster and room. What it says about its room
//! (lines, joins, leaves, renames, private lines) is numbered: a receiver drops what it has
//! seen and counts what it missed. Its member list (presence) goes out unnumbered, every few
//! seconds and in parts when it is long. Everything here comes from the network: a message is
//! checked and made safe to show before anyone acts on it.

use serde::{Deserialize, Serialize};

use crate::chat::sanitize;
use crate::names::{MAX_NODE, name_ok, nick_form_ok};

/// The longest message taken from the broker.
pub const MAX_MESSAGE: usize = 1024 * 1024;
/// The most members one presence part carries.
pub const PRESENCE_PART: usize = 4_000;
/// The most parts of one presence list (so at most `PRESENCE_PART * MAX_PARTS` members a
/// server).
pub const MAX_PARTS: u32 = 50;
/// The most members one server is believed to have.
pub const MAX_MEMBERS: usize = PRESENCE_PART * MAX_PARTS as usize;
/// The most other servers one server keeps track of.
pub const MAX_PEERS: usize = 256;
/// The longest text of a line taken from another server.
pub const MAX_TEXT: usize = 64 * 1024;

/// A nick and when its holder took it (milliseconds since the Unix epoch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub nick: String,
    pub since: u64,
}

/// What one server says to the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Body {
    Said {
        nick: String,
        text: String,
    },
    Action {
        nick: String,
        text: String,
    },
    /// Members who joined (a burst in one message).
    Joined {
        members: Vec<Claim>,
    },
    /// Members who left; the reason of a lone leaver.
    Left {
        nicks: Vec<String>,
        reason: Option<String>,
    },
    Renamed {
        old: String,
        new: Claim,
    },
    /// A `/msg` for a member of another server.
    Private {
        from: String,
        to: String,
        text: String,
    },
    /// Part `part` of `parts` of the whole member list, as of generation `generation`.
    Presence {
        generation: u64,
        part: u32,
        parts: u32,
        members: Vec<Claim>,
    },
}

/// One message on the cluster's subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The server that sent it (`--node`).
    pub node: String,
    /// That server's run: a restarted server numbers afresh.
    pub run: u64,
    /// Its number among the server's room messages (1, 2, ...); 0: presence, not numbered.
    pub seq: u64,
    pub body: Body,
}

/// Why a message from the broker was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("over {MAX_MESSAGE} bytes")]
    TooLong,
    #[error("not a cluster message: {0}")]
    Syntax(String),
    #[error("bad node name")]
    Node,
    #[error("bad nick")]
    Nick,
    #[error("a presence list with more than {PRESENCE_PART} members or a bad part number")]
    Presence,
    #[error("presence must not be numbered, room messages must be")]
    Numbering,
}

/// A text from another server, made safe to show and cut (at a character) to `max` bytes.
fn clean(text: &str, max: usize) -> String {
    let mut t = sanitize(text.as_bytes());
    if t.len() > max {
        let mut end = max;
        while !t.is_char_boundary(end) {
            end -= 1;
        }
        t.truncate(end);
    }
    t
}

impl Message {
    /// Read and check a message from the broker. Nicks must have a nick's form, texts are
    /// made safe to show (control characters escaped), presence parts are bounded.
    pub fn parse(bytes: &[u8]) -> Result<Message, Malformed> {
        if bytes.len() > MAX_MESSAGE {
            return Err(Malformed::TooLong);
        }
        let mut m: Message = serde_json::from_slice(bytes).map_err(|e| Malformed::Syntax(e.to_string()))?;
        if !name_ok(&m.node, MAX_NODE) {
            return Err(Malformed::Node);
        }
        let nicks_ok = |claims: &[Claim]| claims.iter().all(|c| nick_form_ok(&c.nick));
        let ok = match &mut m.body {
            Body::Said { nick, text } | Body::Action { nick, text } => {
                *text = clean(text, MAX_TEXT);
                nick_form_ok(nick)
            }
            Body::Joined { members } => nicks_ok(members),
            Body::Left { nicks, reason } => {
                if let Some(r) = reason {
                    *r = clean(r, 512);
                }
                nicks.iter().all(|n| nick_form_ok(n))
            }
            Body::Renamed { old, new } => nick_form_ok(old) && nick_form_ok(&new.nick),
            Body::Private { from, to, text } => {
                *text = clean(text, MAX_TEXT);
                nick_form_ok(from) && nick_form_ok(to)
            }
            Body::Presence { members, part, parts, .. } => {
                if members.len() > PRESENCE_PART || *part >= *parts || *parts > MAX_PARTS {
                    return Err(Malformed::Presence);
                }
                nicks_ok(members)
            }
        };
        if !ok {
            return Err(Malformed::Nick);
        }
        if matches!(m.body, Body::Presence { .. }) != (m.seq == 0) {
            return Err(Malformed::Numbering);
        }
        Ok(m)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// The subject a cluster's room is spoken on: `sockit.chat.CLUSTER.ROOM`, each name as a
/// subject token (letters, digits, '-' and '_' as they are; any other byte as `~XX`).
pub fn subject(cluster: &str, room: &str) -> String {
    fn token(s: &str) -> String {
        let mut t = String::new();
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                t.push(b as char);
            } else {
                t.push_str(&format!("~{b:02X}"));
            }
        }
        if t.is_empty() { "~".into() } else { t }
    }
    format!("sockit.chat.{}.{}", token(cluster), token(room))
}

/// What the order of a node's numbered messages says about the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// The next one (or the first heard from this run).
    Next,
    /// Seen already: drop it.
    Duplicate,
    /// This many were missed before it.
    Gap(u64),
    /// The node started again (a new run): its numbering starts afresh.
    Restarted,
}

/// The furthest a node's numbering may move from where it stands before it is taken for a new
/// run (a restart): a message numbered far ahead, or far behind, cannot silence the node's next
/// messages as "seen already".
pub const MAX_JUMP: u64 = 100_000;

/// Where a node's numbering stands, as one receiver has heard it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sequence {
    pub run: u64,
    pub last: u64,
}

impl Sequence {
    /// The first numbered message heard from a node.
    pub fn first(run: u64, seq: u64) -> Sequence {
        Sequence { run, last: seq }
    }

    /// Take message `seq` of run `run`. A number more than `MAX_JUMP` away from the last is a
    /// new run's.
    pub fn take(&mut self, run: u64, seq: u64) -> Order {
        if run != self.run || seq.abs_diff(self.last) > MAX_JUMP {
            *self = Sequence::first(run, seq);
            return Order::Restarted;
        }
        if seq <= self.last {
            return Order::Duplicate;
        }
        let missed = seq - self.last - 1;
        self.last = seq;
        if missed == 0 { Order::Next } else { Order::Gap(missed) }
    }
}

/// Whether claim `a` (since, node) comes before claim `b`: the earlier claim keeps a nick two
/// servers granted at once; at the same millisecond, the node whose name sorts first.
pub fn earlier(a: (u64, &str), b: (u64, &str)) -> bool {
    a < b
}

/// A short tag of a node's name for its guest nicks (`guest-12-k3f`): guests of different
/// servers are told apart without asking anyone. Three base-36 digits of the name's FNV-1a.
pub fn guest_tag(node: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in node.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    (0..3).map(|i| digits[((h >> (i * 12)) % 36) as usize] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(seq: u64, body: Body) -> Message {
        Message { node: "node-b".into(), run: 7, seq, body }
    }

    #[test]
    fn messages_round_trip_and_are_checked() {
        let m = msg(3, Body::Said { nick: "alice".into(), text: "hi".into() });
        assert_eq!(Message::parse(&m.to_bytes()), Ok(m));
        let bad_nick = msg(1, Body::Said { nick: "a b".into(), text: "x".into() });
        assert_eq!(Message::parse(&bad_nick.to_bytes()), Err(Malformed::Nick));
        let escape = msg(1, Body::Action { nick: "a".into(), text: "\x1b[2Jgone".into() });
        match Message::parse(&escape.to_bytes()).map(|m| m.body) {
            Ok(Body::Action { text, .. }) => assert_eq!(text, "\\u{1b}[2Jgone"),
            other => panic!("{other:?}"),
        }
        let unnumbered = msg(0, Body::Said { nick: "a".into(), text: "x".into() });
        assert_eq!(Message::parse(&unnumbered.to_bytes()), Err(Malformed::Numbering));
        let numbered = msg(4, Body::Presence { generation: 1, part: 0, parts: 1, members: vec![] });
        assert_eq!(Message::parse(&numbered.to_bytes()), Err(Malformed::Numbering));
        let part = msg(0, Body::Presence { generation: 1, part: 1, parts: 1, members: vec![] });
        assert_eq!(Message::parse(&part.to_bytes()), Err(Malformed::Presence));
        let mut node = msg(1, Body::Said { nick: "a".into(), text: "x".into() });
        node.node = "node b".into();
        assert_eq!(Message::parse(&node.to_bytes()), Err(Malformed::Node));
        assert!(matches!(Message::parse(b"{\"node\":"), Err(Malformed::Syntax(_))));
        assert_eq!(Message::parse(&vec![b' '; MAX_MESSAGE + 1]), Err(Malformed::TooLong));
        let long = msg(1, Body::Said { nick: "a".into(), text: "é".repeat(MAX_TEXT) });
        match Message::parse(&long.to_bytes()).map(|m| m.body) {
            Ok(Body::Said { text, .. }) => assert_eq!(text.len(), MAX_TEXT),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn order_of_a_nodes_messages() {
        let mut s = Sequence::first(7, 1);
        assert_eq!(s.take(7, 2), Order::Next);
        assert_eq!(s.take(7, 2), Order::Duplicate);
        assert_eq!(s.take(7, 1), Order::Duplicate);
        assert_eq!(s.take(7, 6), Order::Gap(3));
        assert_eq!(s.take(7, 7), Order::Next);
        assert_eq!(s.take(8, 1), Order::Restarted);
        assert_eq!(s.take(8, 2), Order::Next);
        // A number from far away cannot make the next ones "seen already".
        assert_eq!(s.take(8, 1 << 63), Order::Restarted);
        assert_eq!(s.take(8, 3), Order::Restarted);
        assert_eq!(s.take(8, 4), Order::Next);
        assert_eq!(s.take(8, 4 + MAX_JUMP), Order::Gap(MAX_JUMP - 1));
    }

    #[test]
    fn the_earlier_claim_keeps_a_nick() {
        assert!(earlier((5, "node-b"), (6, "node-a")));
        assert!(earlier((5, "node-a"), (5, "node-b")));
        assert!(!earlier((5, "node-b"), (5, "node-a")));
    }

    #[test]
    fn subjects_and_tags() {
        assert_eq!(subject("sockit", "my room.x"), "sockit.chat.sockit.my~20room~2Ex");
        assert_eq!(subject("", "*"), "sockit.chat.~.~2A");
        assert_eq!(guest_tag("h:1").len(), 3);
        assert_ne!(guest_tag("h:1"), guest_tag("h:2"));
    }
}
