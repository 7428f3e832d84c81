//! What a member's queue holds: lines as line members and browsers read them, and what they
//! say, so that a member who speaks IRC is given them in IRC's terms. The IRC form every IRC
//! member in the channel shares (a line said, an action) is made once, by the first writer
//! that needs it; what differs from one IRC member to the next (a private message, a join
//! burst that names the reader) is made by each.

use std::sync::{Arc, OnceLock};

use sockit_core::chat::{self, Notice};
use sockit_core::irc;

/// A member as IRC names it: `nick!user@host` (the host is the server's name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Mask {
    pub(super) nick: String,
    /// `~` and the name an IRC client gave, or the kind of member (`~line`, `~web`, `~remote`).
    pub(super) user: Arc<str>,
}

impl Mask {
    pub(super) fn new(nick: &str, user: &Arc<str>) -> Mask {
        Mask { nick: nick.to_string(), user: Arc::clone(user) }
    }

    /// A member of another kind, or on another server, known by its nick alone.
    pub(super) fn of(nick: &str) -> Mask {
        Mask { nick: nick.to_string(), user: Arc::from("~u") }
    }

    pub(super) fn render(&self, host: &str) -> String {
        format!("{}!{}@{host}", self.nick, self.user)
    }
}

/// What a piece says.
#[derive(Debug)]
pub(super) enum What {
    /// Lines said in the room (a paste: many).
    Said {
        from: Mask,
        texts: Vec<String>,
    },
    Action {
        from: Mask,
        text: String,
    },
    /// A private message, queued for its one reader.
    Private {
        from: Mask,
        text: String,
    },
    /// Members who joined (a burst).
    Joined(Vec<Mask>),
    /// A notice of the server's.
    Notice(Notice),
    /// A member went away or came back (IRC members who asked for `away-notify` are told;
    /// the line form is empty).
    Away {
        from: Mask,
        reason: Option<String>,
    },
    /// Lines for line members and browsers only (a welcome, the message of the day, the
    /// history's heading: IRC members are told these in IRC's terms).
    Text,
    /// Lines in IRC's form already, for the IRC member they are queued for.
    Irc,
    /// Lines in IRC's form from one IRC member to others (a channel's messages, its joins,
    /// modes...): each reader who asked for `server-time` has them with their time.
    Relayed,
}

/// Lines queued for members: their text as line members read it, what they say, and when.
#[derive(Debug)]
pub(super) struct Piece {
    text: Box<str>,
    pub(super) what: What,
    /// When (ms since the epoch): IRC's `server-time`.
    pub(super) at: u64,
    /// The IRC form every IRC member shares: without tags, and with the time tag.
    shared: [OnceLock<Box<str>>; 2],
}

/// A piece as queues hold it.
pub(super) type Line = Arc<Piece>;

impl std::ops::Deref for Piece {
    type Target = str;

    /// The lines as line members read them, each ending in `\n`.
    fn deref(&self) -> &str {
        &self.text
    }
}

fn piece(text: String, what: What) -> Line {
    Arc::new(Piece { text: text.into_boxed_str(), what, at: super::peers::now_ms(), shared: Default::default() })
}

/// A notice of the server's.
pub(super) fn notice(n: Notice) -> Line {
    piece(format!("{n}\n"), What::Notice(n))
}

/// Lines for line members and browsers only.
pub(super) fn text(t: impl Into<String>) -> Line {
    let mut text = t.into();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    piece(text, What::Text)
}

/// Lines said by `from`, each `<nick> text` for line members.
pub(super) fn said(from: &Mask, texts: Vec<String>) -> Line {
    let mut all = String::with_capacity(texts.iter().map(|t| t.len() + from.nick.len() + 4).sum());
    for t in &texts {
        all.push_str(&chat::said(&from.nick, t));
        all.push('\n');
    }
    piece(all, What::Said { from: from.clone(), texts })
}

pub(super) fn action(from: &Mask, text: String) -> Line {
    piece(format!("{}\n", chat::action(&from.nick, &text)), What::Action { from: from.clone(), text })
}

pub(super) fn private(from: &Mask, text: String) -> Line {
    piece(format!("{}\n", chat::private(&from.nick, &text)), What::Private { from: from.clone(), text })
}

pub(super) fn joined(masks: Vec<Mask>) -> Line {
    let nicks = masks.iter().map(|m| m.nick.clone()).collect();
    piece(format!("{}\n", Notice::Joined { nicks }), What::Joined(masks))
}

/// A member away (with why) or back.
pub(super) fn away(from: &Mask, reason: Option<String>) -> Line {
    piece(String::new(), What::Away { from: from.clone(), reason })
}

/// Lines already in IRC's form (CR LF each), for one IRC member.
pub(super) fn irc(lines: String) -> Line {
    piece(lines, What::Irc)
}

/// Lines in IRC's form (CR LF each, no tags) for IRC members, their time added for those
/// who asked for it.
pub(super) fn relayed(lines: String) -> Line {
    piece(lines, What::Relayed)
}

/// Who reads a piece in IRC's terms, and how.
pub(super) struct View<'a> {
    /// The server's name: the source of its notices, and every member's host.
    pub(super) server: &'a str,
    pub(super) channel: &'a str,
    /// The reader's nick now.
    pub(super) me: &'a str,
    /// The reader asked for `server-time`.
    pub(super) time: bool,
    /// The reader asked for `away-notify`.
    pub(super) away: bool,
    /// The batch the piece is part of (a history asked for), if any.
    pub(super) batch: Option<&'a str>,
}

/// Room for a message's text: 512 bytes less CR LF, the source, the command and the target.
fn room_for(source: &str, command: &str, target: &str) -> usize {
    irc::MAX_BODY.saturating_sub(2 + 1 + source.len() + 1 + command.len() + 1 + target.len() + 2)
}

/// `text` to `target` from `source` as PRIVMSGs, cut to fit IRC's 512 bytes.
fn privmsg(out: &mut String, tags: &str, source: &str, target: &str, text: &str, action: bool) {
    let room = room_for(source, "PRIVMSG", target) - if action { 9 } else { 0 };
    for part in irc::split(text, room) {
        let part = if action { format!("\x01ACTION {part}\x01") } else { part.to_string() };
        irc::push(out, tags, Some(source), "PRIVMSG", &[target, &part]);
    }
}

impl Piece {
    /// The IRC form every reader shares (a line said, an action: made once, by the first
    /// writer that asks), or None for a piece made for each reader.
    pub(super) fn irc_shared(&self, view: &View) -> Option<&str> {
        if !matches!(self.what, What::Said { .. } | What::Action { .. }) || view.batch.is_some() {
            return None;
        }
        let shared = self.shared[usize::from(view.time)].get_or_init(|| {
            let tags = if view.time { format!("time={}", irc::server_time(self.at)) } else { String::new() };
            let mut s = String::new();
            self.words(&tags, view, &mut s);
            s.into_boxed_str()
        });
        Some(shared)
    }

    /// Append the piece in IRC's terms for `view`'s reader.
    pub(super) fn irc(&self, view: &View, out: &mut String) {
        match &self.what {
            What::Text => return,
            What::Irc => return out.push_str(&self.text),
            What::Relayed => {
                let time = view.time.then(|| irc::server_time(self.at));
                for line in self.text.split_inclusive('\n') {
                    if let Some(t) = &time {
                        out.push_str("@time=");
                        out.push_str(t);
                        out.push(' ');
                    }
                    out.push_str(line);
                }
                return;
            }
            _ => {}
        }
        let mut tags = if view.time { format!("time={}", irc::server_time(self.at)) } else { String::new() };
        if let Some(b) = view.batch {
            tags = if tags.is_empty() { format!("batch={b}") } else { format!("batch={b};{tags}") };
        }
        let channel = view.channel;
        match &self.what {
            What::Said { .. } | What::Action { .. } => match self.irc_shared(view) {
                Some(shared) => out.push_str(shared),
                None => self.words(&tags, view, out),
            },
            What::Private { from, text } => privmsg(out, &tags, &from.render(view.server), view.me, text, false),
            What::Joined(masks) => {
                for m in masks.iter().filter(|m| !m.nick.eq_ignore_ascii_case(view.me)) {
                    irc::push(out, &tags, Some(&m.render(view.server)), "JOIN", &[channel]);
                }
            }
            What::Notice(n) => notice_irc(n, &tags, view, out),
            What::Away { from, reason } if view.away => {
                let source = from.render(view.server);
                match reason {
                    Some(r) => irc::push(out, &tags, Some(&source), "AWAY", &[r]),
                    None => irc::push(out, &tags, Some(&source), "AWAY", &[]),
                }
            }
            What::Away { .. } => {}
            What::Text | What::Irc | What::Relayed => {}
        }
    }
}

impl Piece {
    /// Words said or acted in the channel, as PRIVMSGs.
    fn words(&self, tags: &str, view: &View, out: &mut String) {
        match &self.what {
            What::Said { from, texts } => {
                let source = from.render(view.server);
                for t in texts {
                    privmsg(out, tags, &source, view.channel, t, false);
                }
            }
            What::Action { from, text } => privmsg(out, tags, &from.render(view.server), view.channel, text, true),
            _ => {}
        }
    }
}

/// A notice in IRC's terms: members who come and go as JOIN, PART and QUIT, a rename as NICK,
/// the rest as a NOTICE from the server.
fn notice_irc(n: &Notice, tags: &str, view: &View, out: &mut String) {
    let (server, channel) = (view.server, view.channel);
    let others = |nicks: &[String]| -> Vec<String> {
        nicks.iter().filter(|n| !n.eq_ignore_ascii_case(view.me)).map(|n| Mask::of(n).render(server)).collect()
    };
    match n {
        Notice::Joined { nicks } => {
            for m in others(nicks) {
                irc::push(out, tags, Some(&m), "JOIN", &[channel]);
            }
        }
        Notice::Left { nicks, reason } => {
            let reason = reason.as_deref().unwrap_or("left");
            for m in others(nicks) {
                irc::push(out, tags, Some(&m), "PART", &[channel, reason]);
            }
        }
        Notice::Renamed { old, new } => {
            irc::push(out, tags, Some(&Mask::of(old).render(server)), "NICK", &[new]);
        }
        Notice::ServerGone { node, nicks, .. } | Notice::ServerRestarted { node, nicks } => {
            let why = format!("{server} {node}");
            for m in others(nicks) {
                irc::push(out, tags, Some(&m), "QUIT", &[&why]);
            }
            say_notice(n, tags, view, out);
        }
        Notice::Goodbye => {
            say_notice(n, tags, view, out);
            irc::push(out, "", None, "ERROR", &["Closing Link: the server is shutting down"]);
        }
        _ => say_notice(n, tags, view, out),
    }
}

/// A notice's words as a NOTICE from the server to the reader.
fn say_notice(n: &Notice, tags: &str, view: &View, out: &mut String) {
    let text = n.to_string();
    let text = text.strip_prefix("* ").unwrap_or(&text);
    irc::push(out, tags, Some(view.server), "NOTICE", &[view.me, text]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(time: bool) -> View<'static> {
        View { server: "sockit", channel: "#lab", me: "ann", time, away: false, batch: None }
    }

    fn irc_of(p: &Line, v: &View) -> String {
        let mut out = String::new();
        p.irc(v, &mut out);
        out
    }

    #[test]
    fn lines_said_are_privmsgs_to_the_channel_made_once() {
        let bob = Mask::new("bob", &Arc::from("~bob"));
        let p = said(&bob, vec!["hi".into(), "there you".into()]);
        assert_eq!(&**p, "<bob> hi\n<bob> there you\n");
        let plain = ":bob!~bob@sockit PRIVMSG #lab hi\r\n:bob!~bob@sockit PRIVMSG #lab :there you\r\n";
        assert_eq!(irc_of(&p, &view(false)), plain);
        assert_eq!(irc_of(&p, &View { me: "cy", ..view(false) }), plain, "the same for every reader");
        let timed = irc_of(&p, &view(true));
        assert!(timed.starts_with(&format!("@time={} :bob", irc::server_time(p.at))), "{timed}");
        let me = action(&bob, "waves".into());
        assert_eq!(irc_of(&me, &view(false)), ":bob!~bob@sockit PRIVMSG #lab :\x01ACTION waves\x01\r\n");
    }

    #[test]
    fn long_text_is_cut_to_fit_512_bytes() {
        let bob = Mask::new("bob", &Arc::from("~bob"));
        let text = "ü".repeat(1000);
        let out = irc_of(&said(&bob, vec![text.clone()]), &view(true));
        let lines: Vec<&str> = out.split_terminator("\r\n").collect();
        assert!(lines.len() == 5 && lines.iter().all(|l| l.split_once(' ').unwrap_or_default().1.len() + 2 <= 512));
        let back: String = lines.iter().map(|l| irc::parse(l).expect("a message").params[1]).collect();
        assert_eq!(back, text);
    }

    #[test]
    fn members_coming_and_going_are_joins_parts_and_nick_changes() {
        let masks = vec![Mask::new("ann", &Arc::from("~ann")), Mask::of("bob")];
        assert_eq!(irc_of(&joined(masks), &view(false)), ":bob!~u@sockit JOIN #lab\r\n", "not the reader itself");
        let left = notice(Notice::Left { nicks: vec!["bob".into()], reason: Some("lunch".into()) });
        assert_eq!(irc_of(&left, &view(false)), ":bob!~u@sockit PART #lab lunch\r\n");
        let renamed = notice(Notice::Renamed { old: "ann".into(), new: "anna".into() });
        assert_eq!(irc_of(&renamed, &view(false)), ":ann!~u@sockit NICK anna\r\n");
        assert_eq!(
            irc_of(&notice(Notice::LinkBack), &view(false)),
            ":sockit NOTICE ann :the link to the other servers is back\r\n"
        );
        assert_eq!(irc_of(&text("* welcome"), &view(false)), "", "a line member's welcome");
        assert_eq!(
            irc_of(&private(&Mask::of("bob"), "psst".into()), &view(false)),
            ":bob!~u@sockit PRIVMSG ann psst\r\n"
        );
    }
}
