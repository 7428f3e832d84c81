//! An IRC member in the room: what its messages ask (PRIVMSG and NOTICE are the room's lines,
//! NICK its rename, JOIN and PART its coming into the room and out to the lobby, QUIT its
//! leaving, AWAY its absence; WHO, WHOIS, NAMES, MODE and CHATHISTORY are answered from the
//! room by `irc_ask`, and what is about other channels is `irc_chan`'s), the room's notices to
//! it as IRC's numerics, and the capabilities it asks for after registration.

use std::sync::Arc;

use sockit_core::chat::{self, Command, Notice};
use sockit_core::irc;

use super::irc_ask::{Ctx, ECHO, TIME};
use super::irc_chan;
use super::piece::{self, Line, Mask};
use super::queue::Recipient;
use super::room::{Kind, Room};
use super::session::{Change, Session, Speech};

/// How an IRC member speaks in the room.
pub(super) struct Irc {
    pub(super) ctx: Arc<Ctx>,
}

/// Text from IRC as the room keeps it: formatting left out, then the room's one rule.
fn room_text(text: &str) -> String {
    chat::sanitize(irc::plain(text).as_bytes())
}

// (The session boxes a line's handling where it awaits it: its state, the channels'
// commands' with it, is on the heap while it runs, not in every idle member's task.)
impl Speech for Irc {
    fn read(&self, s: &mut Session<Self>, line: Vec<u8>) -> impl Future<Output = Option<Command>> + Send {
        self.message(s, line)
    }

    fn reply(&self, n: Notice, me: &str) -> Option<Line> {
        let mut out = String::new();
        let ctx = &self.ctx;
        match n {
            Notice::NickTaken { nick } => ctx.num(&mut out, "433", me, &[&nick, "Nickname is already in use"]),
            Notice::Nick(e) => ctx.num(&mut out, "432", me, &["*", &format!("Erroneous nickname: {e}")]),
            Notice::NoSuchNick { nick } => ctx.num(&mut out, "401", me, &[&nick, "No such nick/channel"]),
            Notice::NoText { .. } => ctx.num(&mut out, "412", me, &["No text to send"]),
            Notice::TooLong { .. } => ctx.num(&mut out, "417", me, &["Input line was too long"]),
            Notice::PrivateSent { .. } => return None,
            Notice::Bye { reason } => {
                let why =
                    reason.map_or_else(|| "Closing Link: quit".to_string(), |r| format!("Closing Link: quit ({r})"));
                irc::push(&mut out, "", None, "ERROR", &[&why]);
            }
            Notice::RoomFull { .. } => {
                irc::push(
                    &mut out,
                    "",
                    None,
                    "ERROR",
                    &[&format!("Closing Link: {}", n.to_string().trim_start_matches("* "))],
                );
            }
            other => {
                let text = other.to_string();
                irc::push(&mut out, "", Some(&ctx.server), "NOTICE", &[me, text.trim_start_matches("* ")]);
            }
        }
        Some(piece::irc(out))
    }

    fn echoes(&self) -> bool {
        self.ctx.has(ECHO)
    }

    fn names_reader(&self) -> bool {
        true
    }

    fn framing(&self, _: usize) -> (usize, bool) {
        (irc::MAX_LINE, true)
    }

    fn every_line_rated(&self) -> bool {
        false
    }

    fn elsewhere(&self, room: &mut Room, id: u64, was: &Mask, change: &Change) -> Option<(Line, Vec<Recipient>)> {
        irc_chan::elsewhere(&self.ctx, room, id, was, change)
    }
}

impl Irc {
    /// What one line asks (`Speech::read`, boxed there).
    async fn message(&self, s: &mut Session<Self>, line: Vec<u8>) -> Option<Command> {
        let line = String::from_utf8_lossy(&line);
        let me = s.nick();
        let mut out = String::new();
        let m = match irc::parse(&line) {
            Ok(m) => m,
            Err(irc::Malformed::TooLong | irc::Malformed::TagsTooLong) => {
                self.ctx.num(&mut out, "417", &me, &["Input line was too long"]);
                s.tell(&piece::irc(out)).await;
                return None;
            }
            Err(_) => return None,
        };
        let p = &m.params;
        let ctx = &self.ctx;
        let ours = |t: &str| t.eq_ignore_ascii_case(&ctx.channel);
        // What others are told of counts against the rate as a line said does (a message is
        // counted below, once its text is known to be one).
        let told =
            matches!(m.command.as_str(), "NICK" | "JOIN" | "PART" | "KICK" | "INVITE" | "TOPIC" | "MODE" | "AWAY");
        if told && !p.is_empty() && !s.rated().await {
            return None;
        }
        let command = match m.command.as_str() {
            "PING" => {
                ctx.pong(&mut out, &me, p);
                None
            }
            "PONG" | "TAGMSG" => None,
            c @ ("PRIVMSG" | "NOTICE") => {
                let quiet = c == "NOTICE";
                match (p.first(), p.get(1)) {
                    (None, _) if !quiet => ctx.num(&mut out, "411", &me, &[&format!("No recipient given ({c})")]),
                    (Some(_), None | Some(&"")) if !quiet => ctx.num(&mut out, "412", &me, &["No text to send"]),
                    (Some(targets), Some(text)) if !text.is_empty() => {
                        if !s.rated().await {
                            return None;
                        }
                        // The room's longest line holds for IRC's text too.
                        let max = s.shared.cfg().max_line;
                        if text.len() > max {
                            super::metrics::COUNTERS
                                .dropped_too_long
                                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            s.reply(Notice::TooLong { max }).await;
                            return None;
                        }
                        let mut said = None;
                        for t in targets.split(',').filter(|t| !t.is_empty()).take(4) {
                            if ours(t) && !s.shared.lock().members.contains_key(&s.id) {
                                if !quiet {
                                    ctx.num(
                                        &mut out,
                                        "404",
                                        &me,
                                        &[t, &format!("Cannot send to channel (JOIN {t} first)")],
                                    );
                                }
                            } else if ours(t) {
                                said = Some(match irc::ctcp(text) {
                                    Some((verb, args)) if verb == "ACTION" => Command::Me(room_text(args)),
                                    Some(_) => continue,
                                    None => Command::Say(room_text(text)),
                                });
                            } else if t.starts_with('#') {
                                irc_chan::say(s, ctx, &mut out, &me, t, text, quiet).await;
                            } else {
                                self.private(s, &mut out, &me, t, text, quiet).await;
                            }
                        }
                        if !out.is_empty() {
                            s.tell(&piece::irc(std::mem::take(&mut out))).await;
                        }
                        return said;
                    }
                    _ => {}
                }
                None
            }
            "NICK" => match p.first() {
                None => {
                    ctx.num(&mut out, "431", &me, &["No nickname given"]);
                    None
                }
                Some(n) if *n == me => None,
                Some(n) if sockit_core::names::validate_nick(n).is_err() => {
                    ctx.num(&mut out, "432", &me, &[n, "Erroneous nickname"]);
                    None
                }
                Some(n) => Some(Command::Nick((*n).to_string())),
            },
            "JOIN" => {
                if p.is_empty() {
                    ctx.num(&mut out, "461", &me, &["JOIN", "Not enough parameters"]);
                }
                let mut keys = p.get(1).copied().unwrap_or("").split(',');
                for t in p.first().copied().unwrap_or("").split(',').filter(|t| !t.is_empty()).take(20) {
                    let key = keys.next().filter(|k| !k.is_empty());
                    if ours(t) {
                        self.enter(s, &me).await;
                    } else if t == "0" {
                        self.part(s, &mut out, "left").await;
                        let mine: Vec<String> = s.shared.lock().channels.of(s.id).map(|c| c.name.clone()).collect();
                        for c in mine {
                            irc_chan::part(s, ctx, &mut out, &me, &c, None).await;
                        }
                    } else {
                        irc_chan::join(s, ctx, &mut out, &me, t, key).await;
                    }
                }
                None
            }
            "PART" => {
                match p.first() {
                    None => ctx.num(&mut out, "461", &me, &["PART", "Not enough parameters"]),
                    Some(targets) => {
                        for t in targets.split(',').filter(|t| !t.is_empty()).take(20) {
                            if !ours(t) {
                                irc_chan::part(s, ctx, &mut out, &me, t, p.get(1).copied()).await;
                            } else if !self.part(s, &mut out, p.get(1).copied().unwrap_or("left")).await {
                                ctx.num(&mut out, "442", &me, &[t, "You're not on that channel"]);
                            }
                        }
                    }
                }
                None
            }
            "QUIT" => return Some(Command::Quit(p.first().map(|r| room_text(r)).filter(|r| !r.is_empty()))),
            "CAP" => {
                ctx.cap(&mut out, &me, p);
                None
            }
            "USER" | "PASS" => {
                ctx.num(&mut out, "462", &me, &["You may not reregister"]);
                None
            }
            "AWAY" => {
                self.away(s, &mut out, &me, p.first().copied().filter(|r| !r.is_empty())).await;
                None
            }
            command => {
                if !irc_chan::command(s, ctx, &mut out, &me, command, p).await {
                    super::irc_ask::answer(&s.shared, ctx, &mut out, &me, command, p);
                }
                None
            }
        };
        if !out.is_empty() {
            s.tell(&piece::irc(out)).await;
        }
        command
    }

    /// A private message to `to`: 401 if nobody is called so; 301 if it is away; the message
    /// back with `echo-message`.
    async fn private(&self, s: &mut Session<Self>, out: &mut String, me: &str, to: &str, text: &str, quiet: bool) {
        if irc::ctcp(text).is_some() {
            return;
        }
        match s.msg(to, room_text(text)).await {
            None if !quiet => self.ctx.num(out, "401", me, &[to, "No such nick/channel"]),
            None => {}
            Some(t) => {
                let away = {
                    let room = s.shared.lock();
                    room.by_nick(&t.to_ascii_lowercase()).and_then(|m| m.away.clone())
                };
                if let (Some(a), false) = (away, quiet) {
                    self.ctx.num(out, "301", me, &[&t, &a]);
                }
                if self.echoes() {
                    let tags = if self.ctx.has(TIME) {
                        format!("time={}", irc::server_time(super::peers::now_ms()))
                    } else {
                        String::new()
                    };
                    let source = s.mask().render(&self.ctx.server);
                    irc::push(
                        out,
                        &tags,
                        Some(&source),
                        if quiet { "NOTICE" } else { "PRIVMSG" },
                        &[&t, &room_text(text)],
                    );
                }
            }
        }
    }

    /// JOIN of the room's channel: from the lobby into the room (its JOIN and NAMES, then the
    /// history, before anything said after), and the others told. Already in: nothing.
    async fn enter(&self, s: &mut Session<Self>, me: &str) {
        let mask = s.mask();
        let entered = {
            let mut room = s.shared.lock();
            let mut hello = String::new();
            irc::push(&mut hello, "", Some(&mask.render(&self.ctx.server)), "JOIN", &[&self.ctx.channel]);
            let joining = (!room.members.contains_key(&s.id)).then_some(me);
            self.ctx.names(&mut hello, me, &room, joining);
            room.enter(s.id, &piece::irc(hello))
        };
        if entered {
            let shared = Arc::clone(&s.shared);
            shared.announce(Kind::Join, s.id, mask, None).await;
        }
    }

    /// PART of the room's channel: out of the room into the lobby (the nick kept), its PART
    /// said to it, the others told. False if it was not in the room.
    async fn part(&self, s: &mut Session<Self>, out: &mut String, reason: &str) -> bool {
        let mask = s.mask();
        if !s.shared.lock().step_out(s.id) {
            return false;
        }
        irc::push(out, "", Some(&mask.render(&self.ctx.server)), "PART", &[&self.ctx.channel, reason]);
        let shared = Arc::clone(&s.shared);
        shared.announce(Kind::Leave, s.id, mask, Some(room_text(reason))).await;
        true
    }

    /// AWAY: set (306) or cleared (305); members who asked for `away-notify` are told.
    async fn away(&self, s: &mut Session<Self>, out: &mut String, me: &str, reason: Option<&str>) {
        let reason = reason.map(room_text);
        if let Some(m) = s.shared.lock().member_mut(s.id) {
            m.away = reason.as_deref().map(Arc::from);
        }
        match reason {
            Some(_) => self.ctx.num(out, "306", me, &["You have been marked as being away"]),
            None => self.ctx.num(out, "305", me, &["You are no longer marked as being away"]),
        }
        let notice = piece::away(&s.mask(), reason);
        let shared = Arc::clone(&s.shared);
        shared.broadcast(notice, Some(s.id), &mut s.window, Vec::new()).await;
    }
}
