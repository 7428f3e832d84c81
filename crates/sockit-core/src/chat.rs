//! The chat protocol of `sockit chat`, as pure functions: line framing with a length limit,
//! what a line means (text or a command), and every line the server says (`Notice`). Nick
//! rules are in `names`, the discovery datagrams in `discovery`.
//!
//! Any line client can join: lines are UTF-8 ending in `\n` (`\r\n` accepted).

use crate::names::NickError;

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
    /// A CR alone ends a line too (IRC: a CR LF then ends a line and an empty one).
    cr: bool,
}

impl LineFramer {
    pub fn new(max: usize) -> LineFramer {
        LineFramer { buf: Vec::new(), max: max.max(1), discarding: false, cr: false }
    }

    /// A framer for which a CR alone ends a line as well as an LF (IRC's clients end lines
    /// with either, or both: the empty lines between are for the reader to pass over).
    pub fn ending_at_cr(max: usize) -> LineFramer {
        LineFramer { cr: true, ..LineFramer::new(max) }
    }

    /// The longest line from now on (a line being read is judged by it when it ends).
    pub fn set_max(&mut self, max: usize) {
        self.max = max.max(1);
    }

    /// Feed bytes; complete lines (and over-long notices) are pushed to `out` in order.
    pub fn feed(&mut self, mut data: &[u8], out: &mut Vec<Frame>) {
        while !data.is_empty() {
            match data.iter().position(|&b| b == b'\n' || (self.cr && b == b'\r')) {
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

    /// The bytes held waiting for a newline, taken out (a reader that hands the stream on).
    pub fn take_pending(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
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

/// A `/msg` as its one reader sees it: the sender between stars, as IRC clients show one.
/// No member's line can start so (a said line starts with `<`, an action with `** `), so a
/// line typed to look private cannot.
pub fn private(from: &str, text: &str) -> String {
    format!("*{from}* {text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_notices_name_the_first_few() {
        let joined =
            |n: &[&str]| Notice::Joined { nicks: n.iter().map(std::string::ToString::to_string).collect() }.to_string();
        assert_eq!(joined(&["alice"]), "* alice joined");
        assert_eq!(joined(&["a", "b"]), "* a and b joined");
        assert_eq!(joined(&["a", "b", "c", "d", "e"]), "* a, b, c, d and e joined");
        assert_eq!(joined(&["a", "b", "c", "d", "e", "f", "g"]), "* a, b, c, d, e and 2 others joined");
        let left = |n: &[&str], r: Option<&str>| {
            Notice::Left {
                nicks: n.iter().map(std::string::ToString::to_string).collect(),
                reason: r.map(String::from),
            }
            .to_string()
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
        // Whatever a member says, and however it is named, it cannot read as a private line.
        for text in ["*bob* psst", "(private) psst", "<bob> (private) psst"] {
            for line in [said("mallory", text), action("mallory", text)] {
                assert!(
                    !(line.starts_with('*') && line.as_bytes().get(1).is_some_and(u8::is_ascii_alphabetic)),
                    "{line}"
                );
            }
        }
        assert_eq!(private("bob", "psst"), "*bob* psst");
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
    fn a_cr_alone_ends_a_line_for_irc() {
        let mut f = LineFramer::ending_at_cr(8);
        let mut out = Vec::new();
        f.feed(b"NICK a\rUSER\r\nx\n", &mut out);
        let line = |l: &[u8]| Frame::Line(l.to_vec());
        assert_eq!(out, [line(b"NICK a"), line(b"USER"), line(b""), line(b"x")]);
        out.clear();
        f.feed(b"123456789\rok\r", &mut out);
        assert_eq!(out, [Frame::TooLong, line(b"ok")]);
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
    }
}
