//! The chat protocol of `sockit chat`, as pure functions: line framing with a length limit,
//! what a line means (text or a command), nick rules, and the discovery datagrams.
//!
//! Any line client can join: lines are UTF-8 ending in `\n` (`\r\n` accepted).

/// What the framer found in the bytes it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A complete line, without its `\n` or `\r\n`.
    Line(Vec<u8>),
    /// A line longer than the limit: it is dropped, and reading resumes after its `\n`.
    TooLong,
}

/// Splits a byte stream into lines of at most `max` bytes. Memory stays under `max` bytes
/// whatever the peer sends: an over-long line is discarded as it arrives.
#[derive(Debug, Clone)]
pub struct LineFramer {
    buf: Vec<u8>,
    max: usize,
    /// Inside an over-long line: drop bytes until the next newline.
    discarding: bool,
}

impl LineFramer {
    pub fn new(max: usize) -> LineFramer {
        LineFramer { buf: Vec::new(), max: max.max(1), discarding: false }
    }

    /// Feed bytes; complete lines (and over-long notices) are pushed to `out` in order.
    pub fn feed(&mut self, mut data: &[u8], out: &mut Vec<Frame>) {
        while !data.is_empty() {
            match data.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    let (head, rest) = (&data[..i], &data[i + 1..]);
                    if self.discarding {
                        self.discarding = false;
                    } else if self.buf.len() + head.len() > self.max + 1 {
                        // +1: a `\r` before the `\n` does not count against the limit.
                        out.push(Frame::TooLong);
                        self.buf.clear();
                    } else {
                        self.buf.extend_from_slice(head);
                        let mut line = std::mem::take(&mut self.buf);
                        if line.last() == Some(&b'\r') {
                            line.pop();
                        }
                        if line.len() > self.max {
                            out.push(Frame::TooLong);
                        } else {
                            out.push(Frame::Line(line));
                        }
                    }
                    data = rest;
                }
                None => {
                    if !self.discarding {
                        if self.buf.len() + data.len() > self.max + 1 {
                            out.push(Frame::TooLong);
                            self.buf.clear();
                            self.discarding = true;
                        } else {
                            self.buf.extend_from_slice(data);
                        }
                    }
                    data = &[];
                }
            }
        }
    }

    /// Bytes held waiting for a newline.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

/// A line made safe to show: invalid UTF-8 replaced (U+FFFD), and what `text::is_hidden` names
/// escaped, so no client can move another's cursor or clear its screen. The server applies it
/// to every member's line, and the client to every line a server sends.
pub fn sanitize(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\t' {
            out.push(' ');
        } else if crate::text::is_hidden(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// What a client's line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Plain text for everyone.
    Say(String),
    Nick(String),
    Who,
    Me(String),
    Msg {
        to: String,
        text: String,
    },
    /// `/quit [REASON]`.
    Quit(Option<String>),
    Help,
    /// `/something` the server does not know.
    Unknown(String),
}

/// Read a sanitised line: `/nick NAME`, `/who`, `/me ACTION`, `/msg NICK TEXT`, `/quit`,
/// `/help`; anything else is text (`//text` sends a line starting with `/`).
pub fn parse_command(line: &str) -> Command {
    let Some(rest) = line.strip_prefix('/') else { return Command::Say(line.to_string()) };
    if rest.starts_with('/') {
        return Command::Say(rest.to_string());
    }
    let (cmd, arg) = rest.split_once(' ').map_or((rest, ""), |(c, a)| (c, a.trim()));
    match cmd.to_ascii_lowercase().as_str() {
        "nick" => Command::Nick(arg.to_string()),
        "who" | "names" => Command::Who,
        "me" => Command::Me(arg.to_string()),
        "msg" | "tell" => {
            let (to, text) = arg.split_once(' ').map_or((arg, ""), |(t, x)| (t, x.trim()));
            Command::Msg { to: to.to_string(), text: text.to_string() }
        }
        "quit" | "exit" => Command::Quit((!arg.is_empty()).then(|| arg.to_string())),
        "help" => Command::Help,
        other => Command::Unknown(other.to_string()),
    }
}

/// Why a nick is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NickError {
    #[error("a nick is 1 to {MAX_NICK} characters: letters, digits, '-' and '_', starting with a letter")]
    Invalid,
    #[error("nicks starting with 'guest-' are given by the server: choose another")]
    Reserved,
}

/// The longest nick.
pub const MAX_NICK: usize = 24;

/// Check a nick's form (uniqueness is the server's business).
pub fn validate_nick(nick: &str) -> Result<(), NickError> {
    let ok = !nick.is_empty()
        && nick.len() <= MAX_NICK
        && nick.starts_with(|c: char| c.is_ascii_alphabetic())
        && nick.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        return Err(NickError::Invalid);
    }
    if nick.to_ascii_lowercase().starts_with("guest-") {
        return Err(NickError::Reserved);
    }
    Ok(())
}

/// The first bytes of a discovery probe.
pub const PROBE_MAGIC: &[u8] = b"SOCKIT-CHAT? 1\n";
/// The first bytes of a discovery reply.
pub const REPLY_MAGIC: &str = "SOCKIT-CHAT! 1";
/// How long a client makes its probe, so that replies (never longer) have room.
pub const PROBE_SIZE: usize = 512;

/// Every line the server says on its own, typed; rendered in one place (`Display`). Server
/// notices start with `* `; a member's words never do (`<nick> text`, and `** nick text` for
/// `/me`), so no member can forge a notice.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// To a member who has just joined.
    Welcome {
        room: String,
        nick: String,
        online: usize,
        names: Vec<String>,
    },
    Help,
    RoomFull {
        max: usize,
    },
    TooLong {
        max: usize,
    },
    SlowDown {
        rate: f64,
    },
    Nick(NickError),
    NickTaken {
        nick: String,
    },
    Renamed {
        old: String,
        new: String,
    },
    /// `/who`: everyone online, the first `names` of them by name.
    Who {
        count: usize,
        names: Vec<String>,
    },
    NoSuchNick {
        nick: String,
    },
    /// `/msg` reached its member.
    PrivateSent {
        to: String,
    },
    /// `/me` or `/msg` with no text.
    NoText {
        command: &'static str,
    },
    Unknown {
        command: String,
    },
    /// Members who joined (a burst in one notice).
    Joined {
        nicks: Vec<String>,
    },
    /// Members who left (a burst in one notice); the reason of a lone leaver.
    Left {
        nicks: Vec<String>,
        reason: Option<String>,
    },
    /// To a member who said /quit.
    Bye {
        reason: Option<String>,
    },
    Goodbye,
    /// Before the history replayed to a joiner.
    History {
        count: usize,
    },
    /// Numbered messages of another server that never arrived.
    Lost {
        node: String,
        count: u64,
    },
    /// The link to the cluster's broker is down / back.
    LinkDown,
    LinkBack,
    /// Another server of the cluster fell silent; its members are gone with it.
    ServerGone {
        node: String,
        secs: u64,
        nicks: Vec<String>,
    },
    /// Another server started again: the members it had are gone.
    ServerRestarted {
        node: String,
        nicks: Vec<String>,
    },
    /// Two servers granted one nick at once; the earlier claim keeps it.
    NickLost {
        nick: String,
        node: String,
        now: String,
    },
}

/// How many names a burst notice shows before it counts the rest.
const SHOWN: usize = 5;

/// `a`, `a and b`, `a, b, c, d and e`, `a, b, c, d, e and 95 others`.
fn name_list(nicks: &[String]) -> String {
    match nicks {
        [] => String::new(),
        [one] => one.clone(),
        [most @ .., last] if nicks.len() <= SHOWN => format!("{} and {last}", most.join(", ")),
        _ => format!("{} and {} others", nicks[..SHOWN].join(", "), nicks.len() - SHOWN),
    }
}

/// `N other`/`N others` and the like.
fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl std::fmt::Display for Notice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Notice::Welcome { room, nick, online, names } => {
                let more = online.saturating_sub(names.len());
                let list = match (names.is_empty(), more) {
                    (true, _) => String::new(),
                    (false, 0) => format!(": {}", names.join(", ")),
                    (false, m) => format!(": {} and {m} more", names.join(", ")),
                };
                let others = plural(*online, "other", "others");
                write!(f, "* welcome to {room}, you are {nick}; {others} online{list} (/help for commands)")
            }
            Notice::Help => {
                f.write_str("* commands: /nick NAME, /who, /me ACTION, /msg NICK TEXT, /quit [REASON], /help")
            }
            Notice::RoomFull { max } => write!(f, "* the room is full ({max} clients): try again later"),
            Notice::TooLong { max } => write!(f, "* line too long (over {max} bytes): not sent"),
            Notice::SlowDown { rate } => write!(f, "* slow down: at most {rate} lines a second"),
            Notice::Nick(e) => write!(f, "* {e}"),
            Notice::NickTaken { nick } => write!(f, "* the nick {nick} is taken: choose another"),
            Notice::Renamed { old, new } => write!(f, "* {old} is now known as {new}"),
            Notice::Who { count, names } => {
                let more = count.saturating_sub(names.len());
                let more = if more > 0 { format!(" and {more} more") } else { String::new() };
                write!(f, "* online ({count}): {}{more}", names.join(", "))
            }
            Notice::NoSuchNick { nick } => write!(f, "* no one called {nick} is here (/who lists everyone)"),
            Notice::PrivateSent { to } => write!(f, "* sent to {to} only"),
            Notice::NoText { command } => write!(f, "* /{command} needs some text: nothing sent"),
            Notice::Unknown { command } => write!(f, "* unknown command /{command}: try /help"),
            Notice::Joined { nicks } => write!(f, "* {} joined", name_list(nicks)),
            Notice::Left { nicks, reason: Some(r) } if nicks.len() == 1 => write!(f, "* {} left ({r})", nicks[0]),
            Notice::Left { nicks, .. } => write!(f, "* {} left", name_list(nicks)),
            Notice::Bye { reason: Some(r) } => write!(f, "* bye ({r})"),
            Notice::Bye { reason: None } => f.write_str("* bye"),
            Notice::Goodbye => f.write_str("* the server is shutting down: goodbye"),
            Notice::History { count } => write!(f, "* the last {} said here:", plural(*count, "line", "lines")),
            Notice::Lost { node, count: 1 } => write!(f, "* 1 line from {node} was lost"),
            Notice::Lost { node, count } => write!(f, "* {count} lines from {node} were lost"),
            Notice::LinkDown => f.write_str(
                "* the link to the other servers is down: this server's room carries on, members elsewhere are out of reach",
            ),
            Notice::LinkBack => f.write_str("* the link to the other servers is back"),
            Notice::ServerGone { node, secs, nicks } if nicks.is_empty() => {
                write!(f, "* server {node} is gone (no word from it for {secs} s)")
            }
            Notice::ServerGone { node, secs, nicks } => {
                write!(f, "* server {node} is gone (no word from it for {secs} s): {} left", name_list(nicks))
            }
            Notice::ServerRestarted { node, nicks } => {
                write!(f, "* server {node} started again: {} left", name_list(nicks))
            }
            Notice::NickLost { nick, node, now } => write!(
                f,
                "* {node} granted the nick {nick} at the same time, and its claim came first: you are now {now}"
            ),
        }
    }
}

/// What a member says, as the others see it.
pub fn said(nick: &str, text: &str) -> String {
    format!("<{nick}> {text}")
}

/// A member's `/me`: two stars, so it never reads as a server notice.
pub fn action(nick: &str, text: &str) -> String {
    format!("** {nick} {text}")
}

/// A `/msg` as its one reader sees it.
pub fn private(from: &str, text: &str) -> String {
    format!("<{from}> (private) {text}")
}

/// How many discovery replies one source address gets: a burst of `BURST`, then `RATE` a
/// second. Replies are never larger than probes, and this keeps a server from being used as
/// a reflector against an address that spoofed probes come "from".
#[derive(Debug, Default)]
pub struct ReplyLimit {
    /// Source -> (tokens, when last counted).
    sources: std::collections::HashMap<std::net::IpAddr, (f64, std::time::Instant)>,
}

impl ReplyLimit {
    pub const BURST: f64 = 10.0;
    pub const RATE: f64 = 5.0;
    /// Sources remembered at once; past it the table is cleared of full buckets.
    const SOURCES: usize = 4096;

    /// Whether a probe from `from` at `now` gets a reply.
    pub fn allow(&mut self, from: std::net::IpAddr, now: std::time::Instant) -> bool {
        if self.sources.len() >= Self::SOURCES {
            // Sources whose buckets have refilled need no memory.
            self.sources.retain(|_, (t, at)| *t + now.duration_since(*at).as_secs_f64() * Self::RATE < Self::BURST);
            if self.sources.len() >= Self::SOURCES {
                return false;
            }
        }
        let (tokens, at) = self.sources.entry(from).or_insert((Self::BURST, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * Self::RATE).min(Self::BURST);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// A probe padded to `PROBE_SIZE` bytes.
pub fn probe() -> Vec<u8> {
    let mut p = PROBE_MAGIC.to_vec();
    p.resize(PROBE_SIZE, b' ');
    p
}

/// Whether a datagram is a probe.
pub fn is_probe(datagram: &[u8]) -> bool {
    datagram.starts_with(PROBE_MAGIC)
}

/// What a server says about itself in a discovery reply.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ServerInfo {
    pub room: String,
    pub port: u16,
    pub users: u64,
    pub version: String,
    /// The chat port speaks TLS.
    pub tls: bool,
    /// The address the chat port is bound to, when it is one address (not every one): the
    /// client joins there rather than where the reply came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addr: Option<std::net::IpAddr>,
    /// The server's identity for this run: one server heard over IPv4 and IPv6 (or on two
    /// interfaces) is one server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The cluster the server is part of (`--cluster-name`), if it is in one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
}

/// The reply to a probe of `probe_len` bytes: never longer than the probe, so a spoofed
/// probe cannot be used to amplify traffic. `None` when even the shortest reply does not fit.
pub fn reply(info: &ServerInfo, probe_len: usize) -> Option<Vec<u8>> {
    let tls = if info.tls { " tls=1" } else { "" };
    let addr = info.addr.map_or(String::new(), |a| format!(" addr={a}"));
    let id = info.id.as_ref().map_or(String::new(), |i| format!(" id={i}"));
    let cluster = info.cluster.as_ref().map_or(String::new(), |c| format!(" cluster={c}"));
    let head = format!(
        "{REPLY_MAGIC} port={} users={} version={}{tls}{addr}{id}{cluster} room=",
        info.port, info.users, info.version
    );
    if head.len() + 1 > probe_len {
        return None;
    }
    let mut out = head.into_bytes();
    // The room name is cut (at a character boundary) to what fits.
    let room = sanitize(info.room.as_bytes());
    for c in room.chars() {
        if out.len() + c.len_utf8() + 1 > probe_len {
            break;
        }
        let mut b = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
    }
    out.push(b'\n');
    Some(out)
}

/// Read a discovery reply.
pub fn parse_reply(datagram: &[u8]) -> Option<ServerInfo> {
    let text = std::str::from_utf8(datagram).ok()?.trim_end_matches('\n');
    let rest = text.strip_prefix(REPLY_MAGIC)?.strip_prefix(' ')?;
    let (fields, room) = rest.split_once("room=")?;
    let mut info = ServerInfo {
        room: room.to_string(),
        port: 0,
        users: 0,
        version: String::new(),
        tls: false,
        addr: None,
        id: None,
        cluster: None,
    };
    for kv in fields.split_whitespace() {
        match kv.split_once('=')? {
            ("port", v) => info.port = v.parse().ok()?,
            ("users", v) => info.users = v.parse().ok()?,
            ("version", v) => info.version = v.to_string(),
            ("tls", v) => info.tls = v == "1",
            ("addr", v) => info.addr = Some(v.parse().ok()?),
            ("id", v) if v.len() <= 32 && v.bytes().all(|b| b.is_ascii_hexdigit()) => info.id = Some(v.to_string()),
            ("cluster", v) if crate::cluster::cluster_name_ok(v) => info.cluster = Some(v.to_string()),
            _ => {}
        }
    }
    (info.port != 0).then_some(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_notices_name_the_first_few() {
        let joined = |n: &[&str]| Notice::Joined { nicks: n.iter().map(|s| s.to_string()).collect() }.to_string();
        assert_eq!(joined(&["alice"]), "* alice joined");
        assert_eq!(joined(&["a", "b"]), "* a and b joined");
        assert_eq!(joined(&["a", "b", "c", "d", "e"]), "* a, b, c, d and e joined");
        assert_eq!(joined(&["a", "b", "c", "d", "e", "f", "g"]), "* a, b, c, d, e and 2 others joined");
        let left = |n: &[&str], r: Option<&str>| {
            Notice::Left { nicks: n.iter().map(|s| s.to_string()).collect(), reason: r.map(String::from) }.to_string()
        };
        assert_eq!(left(&["sk"], None), "* sk left");
        assert_eq!(left(&["sk"], Some("disconnected: x")), "* sk left (disconnected: x)");
        assert_eq!(left(&["a", "b", "c"], Some("ignored for a burst")), "* a, b and c left");
    }

    #[test]
    fn no_member_line_reads_as_a_notice() {
        // The old forgery: nick "the", `/me server is shutting down: goodbye`.
        let forged = action("the", "server is shutting down: goodbye");
        assert_ne!(forged, Notice::Goodbye.to_string());
        for member in [said("the", "x"), action("the", "x"), private("the", "x")] {
            assert!(!member.starts_with("* "), "{member}");
        }
        let welcome = Notice::Welcome { room: "r".into(), nick: "n".into(), online: 1, names: vec!["a".into()] };
        assert_eq!(welcome.to_string(), "* welcome to r, you are n; 1 other online: a (/help for commands)");
        let welcome = Notice::Welcome { room: "r".into(), nick: "n".into(), online: 0, names: vec![] };
        assert_eq!(welcome.to_string(), "* welcome to r, you are n; 0 others online (/help for commands)");
        assert_eq!(
            Notice::Who { count: 3, names: vec!["a".into(), "b".into()] }.to_string(),
            "* online (3): a, b and 1 more"
        );
    }

    fn frames(max: usize, chunks: &[&[u8]]) -> Vec<Frame> {
        let mut f = LineFramer::new(max);
        let mut out = Vec::new();
        for c in chunks {
            f.feed(c, &mut out);
        }
        out
    }

    #[test]
    fn lines_whole_whatever_the_chunks() {
        assert_eq!(
            frames(100, &[b"hel", b"lo\r\nwor", b"ld\n\ntwo\nthree"]),
            [
                Frame::Line(b"hello".to_vec()),
                Frame::Line(b"world".to_vec()),
                Frame::Line(vec![]),
                Frame::Line(b"two".to_vec())
            ]
        );
        let one_byte_at_a_time: Vec<&[u8]> = b"a\nbc\n".chunks(1).collect();
        assert_eq!(frames(10, &one_byte_at_a_time), [Frame::Line(b"a".to_vec()), Frame::Line(b"bc".to_vec())]);
    }

    #[test]
    fn over_long_lines_are_dropped_and_reading_resumes() {
        let big = vec![b'x'; 10_000];
        let out = frames(8, &[b"ok\n", &big, &big, b"tail\nnext\n"]);
        assert_eq!(out, [Frame::Line(b"ok".to_vec()), Frame::TooLong, Frame::Line(b"next".to_vec())]);
        assert_eq!(frames(4, &[b"12345\n1234\n"]), [Frame::TooLong, Frame::Line(b"1234".to_vec())]);
        assert_eq!(frames(4, &[b"1234\r\n"]), [Frame::Line(b"1234".to_vec())]);
        let mut f = LineFramer::new(8);
        f.feed(&big, &mut Vec::new());
        assert_eq!(f.pending(), 0, "memory stays bounded");
    }

    #[test]
    fn sanitize_and_commands() {
        assert_eq!(sanitize(b"hi \x1b[2J\xff\x07"), "hi \\u{1b}[2J\u{fffd}\\u{7}");
        assert_eq!(parse_command("hello"), Command::Say("hello".into()));
        assert_eq!(parse_command("//not a command"), Command::Say("/not a command".into()));
        assert_eq!(parse_command("/nick alice"), Command::Nick("alice".into()));
        assert_eq!(parse_command("/ME waves"), Command::Me("waves".into()));
        assert_eq!(parse_command("/msg bob  hi there"), Command::Msg { to: "bob".into(), text: "hi there".into() });
        assert_eq!(parse_command("/who"), Command::Who);
        assert_eq!(parse_command("/quit"), Command::Quit(None));
        assert_eq!(parse_command("/quit  see you "), Command::Quit(Some("see you".into())));
        assert_eq!(parse_command("/frob x"), Command::Unknown("frob".into()));
        assert!(validate_nick("alice_1").is_ok());
        assert_eq!(validate_nick("1abc"), Err(NickError::Invalid));
        assert_eq!(validate_nick(""), Err(NickError::Invalid));
        assert_eq!(validate_nick("a b"), Err(NickError::Invalid));
        assert_eq!(validate_nick(&"a".repeat(25)), Err(NickError::Invalid));
        assert_eq!(validate_nick("Guest-7"), Err(NickError::Reserved));
    }

    #[test]
    fn replies_to_one_source_are_limited_and_others_still_answered() {
        let mut limit = ReplyLimit::default();
        let t0 = std::time::Instant::now();
        let a: std::net::IpAddr = [198, 18, 0, 1].into();
        let b: std::net::IpAddr = [198, 18, 0, 2].into();
        let burst = (0..100).filter(|_| limit.allow(a, t0)).count();
        assert_eq!(burst, 10);
        assert!(limit.allow(b, t0), "another source is answered");
        let later = t0 + std::time::Duration::from_secs(1);
        assert_eq!((0..100).filter(|_| limit.allow(a, later)).count(), 5, "five a second after the burst");
    }

    #[test]
    fn discovery_replies_never_outgrow_the_probe() {
        let info = ServerInfo {
            room: "lobby ✓".into(),
            port: 40000,
            users: 3,
            version: "0.1.0".into(),
            tls: false,
            addr: None,
            id: Some("0123456789abcdef".into()),
            cluster: None,
        };
        let r = reply(&info, PROBE_SIZE).expect("fits");
        assert!(String::from_utf8_lossy(&r).contains(" id=0123456789abcdef room="));
        assert!(r.len() <= PROBE_SIZE);
        assert_eq!(parse_reply(&r), Some(info.clone()));
        let long = ServerInfo { room: "r".repeat(2000), ..info.clone() };
        for len in [60, 64, 100, 512] {
            if let Some(r) = reply(&long, len) {
                assert!(r.len() <= len, "{len}: {}", r.len());
                assert!(parse_reply(&r).is_some());
            }
        }
        assert_eq!(reply(&info, 10), None);
        assert!(is_probe(&probe()) && probe().len() == PROBE_SIZE);
        assert!(!is_probe(b"hello"));
        assert_eq!(parse_reply(b"SOCKIT-CHAT! 1 port=x users=1 version=1 room=a"), None);
        let bound = ServerInfo { addr: Some("::1".parse().expect("ip")), ..info.clone() };
        let r = reply(&bound, PROBE_SIZE).expect("fits");
        assert!(String::from_utf8_lossy(&r).contains(" addr=::1 id=0123456789abcdef room="));
        assert_eq!(parse_reply(&r), Some(bound));
        let tls = ServerInfo { tls: true, ..info.clone() };
        let r = reply(&tls, PROBE_SIZE).expect("fits");
        assert!(String::from_utf8_lossy(&r).contains(" tls=1 id=0123456789abcdef room="));
        assert_eq!(parse_reply(&r), Some(tls));
        let clustered = ServerInfo { cluster: Some("lab-2".into()), ..info };
        let r = reply(&clustered, PROBE_SIZE).expect("fits");
        assert!(String::from_utf8_lossy(&r).contains(" id=0123456789abcdef cluster=lab-2 room="));
        assert_eq!(parse_reply(&r), Some(clustered));
        let odd = b"SOCKIT-CHAT! 1 port=9 users=1 version=1 cluster=a\x1b room=r";
        assert_eq!(parse_reply(odd).map(|i| i.cluster), Some(None), "a cluster name that is no name is left out");
    }
}
