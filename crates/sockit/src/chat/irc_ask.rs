//! What an IRC member is told: the server's numerics, its capabilities, the message of the
//! day, NAMES, and the answers to what it asks of the room that change nothing (WHO, WHOIS,
//! MODE, TOPIC, ISON, USERHOST, CHATHISTORY...), each from the room as it is.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use sockit_core::irc;

use super::piece::{self, Line, Mask, What};
use super::room::{Room, Shared};

/// The capabilities sockit offers, and their bits.
pub(super) const CAPS: [(&str, u8); 7] = [
    ("message-tags", 1),
    ("server-time", 2),
    ("echo-message", 4),
    ("multi-prefix", 8),
    ("away-notify", 16),
    ("batch", 32),
    ("draft/chathistory", 64),
];
pub(super) const TIME: u8 = 2;
pub(super) const ECHO: u8 = 4;
pub(super) const MULTI: u8 = 8;
pub(super) const AWAY: u8 = 16;
pub(super) const BATCH: u8 = 32;
/// At most this many lines of history a CHATHISTORY answer holds.
pub(super) const HISTORY_MAX: usize = 100;

/// What every part of an IRC member shares: the server's and the channel's names, and the
/// capabilities it has asked for (which its writer reads too).
pub(super) struct Ctx {
    pub(super) server: Arc<str>,
    pub(super) channel: Arc<str>,
    caps: AtomicU8,
    /// The member's own modes it set (`i`, `w`: they change nothing here).
    umodes: AtomicU8,
}

impl Ctx {
    pub(super) fn new(server: &str, channel: &str) -> Arc<Ctx> {
        Arc::new(Ctx {
            server: Arc::from(server),
            channel: Arc::from(channel),
            caps: AtomicU8::new(0),
            umodes: AtomicU8::new(0),
        })
    }

    pub(super) fn has(&self, cap: u8) -> bool {
        self.caps.load(Ordering::Relaxed) & cap != 0
    }

    /// The names of the capabilities on.
    pub(super) fn enabled(&self) -> String {
        let on = self.caps.load(Ordering::Relaxed);
        CAPS.iter().filter(|(_, b)| on & b != 0).map(|(n, _)| *n).collect::<Vec<_>>().join(" ")
    }

    /// CAP REQ: all of `list` (`-name` turns one off) or, when one is unknown, none.
    pub(super) fn request(&self, list: &str) -> bool {
        let mut on = self.caps.load(Ordering::Relaxed);
        for word in list.split(' ').filter(|w| !w.is_empty()) {
            let (off, name) = word.strip_prefix('-').map_or((false, word), |n| (true, n));
            let Some((_, bit)) = CAPS.iter().find(|(n, _)| *n == name) else { return false };
            if off { on &= !bit } else { on |= bit }
        }
        self.caps.store(on, Ordering::Relaxed);
        true
    }

    /// The member's own modes, as 221 says them (`+`, `+i`, `+iw`).
    fn umodes(&self) -> String {
        let on = self.umodes.load(Ordering::Relaxed);
        let flags = [('i', 1), ('w', 2)].iter().filter(|(_, b)| on & b != 0).map(|(c, _)| *c);
        std::iter::once('+').chain(flags).collect()
    }

    /// MODE on itself (`+i`, `-w`, `+iw`...): what changed (`+i`; `+` alone: nothing), or None
    /// for a flag there is not (nothing is changed then).
    fn set_umodes(&self, change: &str) -> Option<String> {
        let mut on = self.umodes.load(Ordering::Relaxed);
        let (mut add, mut done, mut sign) = (true, String::new(), None);
        for c in change.chars() {
            let bit = match c {
                '+' | '-' => {
                    add = c == '+';
                    continue;
                }
                'i' => 1,
                'w' => 2,
                _ => return None,
            };
            if (on & bit != 0) != add {
                on ^= bit;
                let s = if add { '+' } else { '-' };
                if sign != Some(s) {
                    done.push(s);
                    sign = Some(s);
                }
                done.push(c);
            }
        }
        self.umodes.store(on, Ordering::Relaxed);
        Some(if done.is_empty() { "+".into() } else { done })
    }

    /// CAP LS, REQ, LIST and END, before registration and after: Some(true) when the client
    /// begins negotiating (LS, REQ: registration waits for END), Some(false) at END.
    pub(super) fn cap(&self, out: &mut String, me: &str, p: &[&str]) -> Option<bool> {
        let me = if me.is_empty() { "*" } else { me };
        let server = Some(&*self.server);
        match p.first().map(|c| c.to_ascii_uppercase()).as_deref() {
            Some("LS") => {
                let all = CAPS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(" ");
                irc::push(out, "", server, "CAP", &[me, "LS", &all]);
                Some(true)
            }
            Some("REQ") => {
                let list = p.get(1).copied().unwrap_or("");
                let verdict = if self.request(list) { "ACK" } else { "NAK" };
                irc::push(out, "", server, "CAP", &[me, verdict, list]);
                Some(true)
            }
            Some("LIST") => {
                irc::push(out, "", server, "CAP", &[me, "LIST", &self.enabled()]);
                None
            }
            Some("END") => Some(false),
            _ => {
                self.num(out, "410", me, &[p.first().copied().unwrap_or("*"), "Invalid CAP command"]);
                None
            }
        }
    }

    /// PING: its token back in a PONG (461 without one).
    pub(super) fn pong(&self, out: &mut String, me: &str, p: &[&str]) {
        match p.first() {
            Some(token) => irc::push(out, "", Some(&self.server), "PONG", &[&self.server, token]),
            None => self.num(out, "461", me, &["PING", "Not enough parameters"]),
        }
    }

    /// A numeric reply from the server to `me`.
    pub(super) fn num(&self, out: &mut String, code: &str, me: &str, params: &[&str]) {
        let mut all = Vec::with_capacity(params.len() + 1);
        all.push(if me.is_empty() { "*" } else { me });
        all.extend_from_slice(params);
        irc::push(out, "", Some(&self.server), code, &all);
    }

    /// The message of the day (375, 372 a line, 376), or 422 without one.
    pub(super) fn motd(&self, out: &mut String, me: &str, motd: Option<&str>) {
        match motd {
            None => self.num(out, "422", me, &["MOTD File is missing"]),
            Some(m) => {
                self.num(out, "375", me, &[&format!("- {} Message of the day -", self.server)]);
                for l in m.lines() {
                    self.num(out, "372", me, &[&format!("- {l}")]);
                }
                self.num(out, "376", me, &["End of /MOTD command."]);
            }
        }
    }

    /// NAMES for the channel: every member here and on the other servers (353, cut to fit
    /// 512 bytes), then 366; `joining`: a member about to be in the room.
    pub(super) fn names(&self, out: &mut String, me: &str, room: &Room, joining: Option<&str>) {
        let local = joining.into_iter().chain(room.members.values().map(|m| m.nick.as_str()));
        let remote = room.peers.values().flat_map(|p| p.members.values().map(|h| h.claim.nick.as_str()));
        self.name_rows(out, me, "=", &self.channel, local.chain(remote));
        self.num(out, "366", me, &[&self.channel, "End of /NAMES list."]);
    }

    /// A channel's names in 353s (`symbol`: `=` public, `@` secret), as many to a row as fit
    /// IRC's 512 bytes.
    pub(super) fn name_rows<N: AsRef<str>>(
        &self,
        out: &mut String,
        me: &str,
        symbol: &str,
        channel: &str,
        names: impl Iterator<Item = N>,
    ) {
        let room_for = irc::MAX_BODY.saturating_sub(18 + self.server.len() + me.len() + channel.len()).max(64);
        let mut row = String::new();
        for n in names {
            let n = n.as_ref();
            if !row.is_empty() && row.len() + n.len() + 1 > room_for {
                self.num(out, "353", me, &[symbol, channel, &row]);
                row.clear();
            }
            if !row.is_empty() {
                row.push(' ');
            }
            row.push_str(n);
        }
        if !row.is_empty() {
            self.num(out, "353", me, &[symbol, channel, &row]);
        }
    }
}

/// Lines of the room's history (said and acted) as a CHATHISTORY answer: in a `chathistory`
/// batch when the member has `batch`.
pub(super) fn history(ctx: &Ctx, out: &mut String, me: &str, lines: &[Line]) {
    let batch = ctx.has(BATCH).then(|| format!("h{}", super::peers::now_ms() % 1_000_000));
    if let Some(b) = &batch {
        irc::push(out, "", Some(&ctx.server), "BATCH", &[&format!("+{b}"), "chathistory", &ctx.channel]);
    }
    let view = piece::View {
        server: &ctx.server,
        channel: &ctx.channel,
        me,
        time: ctx.has(TIME),
        away: false,
        batch: batch.as_deref(),
    };
    for l in lines.iter().filter(|l| matches!(l.what, What::Said { .. } | What::Action { .. })) {
        l.irc(&view, out);
    }
    if let Some(b) = &batch {
        irc::push(out, "", Some(&ctx.server), "BATCH", &[&format!("-{b}")]);
    }
}

/// A member as WHO and WHOIS tell it.
pub(super) struct Seen {
    pub(super) mask: Mask,
    pub(super) real: Arc<str>,
    pub(super) away: Option<Arc<str>>,
    /// In the room's channel (not in the lobby).
    pub(super) in_room: bool,
    /// The other channels it is in, as WHOIS says them.
    pub(super) channels: Vec<String>,
}

/// The member called `nick`, here or on another server of the cluster.
pub(super) fn seen(room: &Room, nick: &str) -> Option<Seen> {
    let key = nick.to_ascii_lowercase();
    if let Some(&id) = room.nicks.get(&key)
        && let Some(m) = room.member(id)
    {
        let (mask, real, away) = (Mask::new(&m.nick, &m.user), Arc::clone(&m.real), m.away.clone());
        let channels = room.channels.whois(id);
        return Some(Seen { mask, real, away, in_room: room.members.contains_key(&id), channels });
    }
    room.remote_holder(&key).map(|(node, c)| Seen {
        mask: Mask::of(&c.nick),
        real: Arc::from(format!("a member on {node}")),
        away: None,
        in_room: true,
        channels: Vec::new(),
    })
}

/// Answer what an IRC member (called `me`) asks that changes nothing in the room.
pub(super) fn answer(shared: &Shared, ctx: &Ctx, out: &mut String, me: &str, command: &str, p: &[&str]) {
    let ours = |t: &str| t.eq_ignore_ascii_case(&ctx.channel);
    let first = p.first().copied().unwrap_or("");
    match command {
        "NAMES" if first.split(',').any(ours) => ctx.names(out, me, &shared.lock(), None),
        "NAMES" => ctx.num(out, "366", me, &[first, "End of /NAMES list."]),
        "TOPIC" if first.is_empty() => ctx.num(out, "461", me, &["TOPIC", "Not enough parameters"]),
        "TOPIC" if !ours(first) => ctx.num(out, "403", me, &[first, "No such channel"]),
        "TOPIC" if p.len() == 1 => ctx.num(out, "331", me, &[&ctx.channel, "No topic is set"]),
        "TOPIC" => ctx.num(out, "482", me, &[&ctx.channel, "You're not channel operator (the room has no topic)"]),
        "WHO" => who(shared, ctx, out, me, first),
        "WHOIS" => whois(shared, ctx, out, me, p.last().copied().unwrap_or("")),
        "MODE" => mode(ctx, out, me, p),
        "ISON" => {
            let room = shared.lock();
            let on: Vec<String> =
                p.iter().flat_map(|w| w.split(' ')).filter_map(|n| seen(&room, n).map(|s| s.mask.nick)).collect();
            ctx.num(out, "303", me, &[&on.join(" ")]);
        }
        "USERHOST" => {
            let room = shared.lock();
            let found: Vec<String> = p
                .iter()
                .take(5)
                .filter_map(|n| seen(&room, n))
                .map(|s| {
                    let away = if s.away.is_some() { '-' } else { '+' };
                    format!("{}={away}{}@{}", s.mask.nick, s.mask.user, ctx.server)
                })
                .collect();
            ctx.num(out, "302", me, &[&found.join(" ")]);
        }
        "MOTD" => ctx.motd(out, me, shared.cfg().motd.as_deref()),
        "LUSERS" => {
            let (here, all, servers, channels) = {
                let room = shared.lock();
                let here = room.members.len() + room.lobby.len();
                (here, here + room.remote_count(), 1 + room.peers.len(), 1 + room.channels.all().count())
            };
            ctx.num(out, "251", me, &[&format!("There are {all} users and 0 invisible on {servers} servers")]);
            ctx.num(out, "254", me, &[&channels.to_string(), "channels formed"]);
            ctx.num(out, "255", me, &[&format!("I have {here} clients and 0 servers")]);
        }
        "VERSION" => ctx.num(out, "351", me, &[concat!("sockit-", env!("CARGO_PKG_VERSION")), &ctx.server, ""]),
        "TIME" => ctx.num(out, "391", me, &[&ctx.server, &irc::server_time(super::peers::now_ms())]),
        "CHATHISTORY" => chathistory(shared, ctx, out, me, p),
        // (No nick's past is kept: every nick asked of is one that was never here.)
        "WHOWAS" if first.is_empty() => ctx.num(out, "431", me, &["No nickname given"]),
        "WHOWAS" => {
            for nick in first.split(',').filter(|n| !n.is_empty()) {
                ctx.num(out, "406", me, &[nick, "There was no such nickname"]);
            }
            ctx.num(out, "369", me, &[first, "End of WHOWAS"]);
        }
        "LINKS" => {
            let peers: Vec<String> = shared.lock().peers.keys().cloned().collect();
            ctx.num(out, "364", me, &[&ctx.server, &ctx.server, "0 sockit"]);
            for node in &peers {
                ctx.num(out, "364", me, &[node, &ctx.server, "1 sockit, a server of the room's cluster"]);
            }
            ctx.num(out, "365", me, &["*", "End of /LINKS list."]);
        }
        "KICK" => ctx.num(out, "482", me, &[first, "You're not channel operator"]),
        // (The server has no operators: no name and password makes one.)
        "OPER" if p.len() < 2 => ctx.num(out, "461", me, &["OPER", "Not enough parameters"]),
        "OPER" => ctx.num(out, "491", me, &["No O-lines for your host (this server has no operators)"]),
        "KILL" | "WALLOPS" | "REHASH" | "DIE" | "RESTART" | "SQUIT" | "CONNECT" => {
            ctx.num(out, "481", me, &["Permission Denied- You're not an IRC operator"]);
        }
        _ => ctx.num(out, "421", me, &[command, "Unknown command"]),
    }
}

/// WHO for the channel, a nick or a mask: a 352 a member, then 315.
fn who(shared: &Shared, ctx: &Ctx, out: &mut String, me: &str, target: &str) {
    let room = shared.lock();
    let mut row = |channel: &str, mask: &Mask, server: &str, real: &str, away: bool| {
        let flags = if away { "G" } else { "H" };
        let hops_real = format!("0 {real}");
        ctx.num(out, "352", me, &[channel, &mask.user, &ctx.server, server, &mask.nick, flags, &hops_real]);
    };
    // The channel: its members; a nick or a mask (`*`: everyone): anyone here it matches.
    let channel = target.is_empty() || target.eq_ignore_ascii_case(&ctx.channel);
    let wanted = |nick: &str| channel || irc::glob(target, nick);
    for m in room.members.values().filter(|m| wanted(&m.nick)) {
        row(&ctx.channel, &Mask::new(&m.nick, &m.user), &ctx.server, &m.real, m.away.is_some());
    }
    if !channel {
        for m in room.lobby.values().filter(|m| wanted(&m.nick)) {
            row("*", &Mask::new(&m.nick, &m.user), &ctx.server, &m.real, m.away.is_some());
        }
    }
    for (node, p) in &room.peers {
        for h in p.members.values().filter(|h| wanted(&h.claim.nick)) {
            row(&ctx.channel, &Mask::of(&h.claim.nick), node, &format!("a member on {node}"), false);
        }
    }
    ctx.num(out, "315", me, &[if target.is_empty() { "*" } else { target }, "End of /WHO list."]);
}

/// WHOIS: 311, 319, 312, 301 when away, then 318; 401 for nobody.
fn whois(shared: &Shared, ctx: &Ctx, out: &mut String, me: &str, nick: &str) {
    if nick.is_empty() {
        return ctx.num(out, "431", me, &["No nickname given"]);
    }
    let found = seen(&shared.lock(), nick);
    match found {
        None => ctx.num(out, "401", me, &[nick, "No such nick/channel"]),
        Some(s) => {
            let m = &s.mask;
            ctx.num(out, "311", me, &[&m.nick, &m.user, &ctx.server, "*", &s.real]);
            let room = s.in_room.then(|| ctx.channel.to_string());
            let all: Vec<String> = room.into_iter().chain(s.channels.iter().cloned()).collect();
            if !all.is_empty() {
                ctx.num(out, "319", me, &[&m.nick, &all.join(" ")]);
            }
            ctx.num(out, "312", me, &[&m.nick, &ctx.server, "sockit"]);
            if let Some(a) = &s.away {
                ctx.num(out, "301", me, &[&m.nick, a]);
            }
        }
    }
    ctx.num(out, "318", me, &[nick, "End of /WHOIS list."]);
}

/// MODE of the room's channel (+nt: only members speak, and nobody sets a topic; changes are
/// not this server's to make) and of the member itself. (Other channels' are `irc_chan`'s.)
fn mode(ctx: &Ctx, out: &mut String, me: &str, p: &[&str]) {
    match p {
        [] => ctx.num(out, "461", me, &["MODE", "Not enough parameters"]),
        [t] if t.eq_ignore_ascii_case(&ctx.channel) => ctx.num(out, "324", me, &[&ctx.channel, "+nt"]),
        [t, m, ..] if t.eq_ignore_ascii_case(&ctx.channel) && matches!(*m, "b" | "+b" | "e" | "+e" | "I" | "+I") => {
            let (code, what) = match m.trim_start_matches('+') {
                "b" => ("368", "End of channel ban list"),
                "e" => ("349", "End of channel exception list"),
                _ => ("347", "End of channel invite list"),
            };
            ctx.num(out, code, me, &[&ctx.channel, what]);
        }
        [t, ..] if t.eq_ignore_ascii_case(&ctx.channel) => {
            ctx.num(out, "482", me, &[&ctx.channel, "You're not channel operator"]);
        }
        [t] if t.eq_ignore_ascii_case(me) => ctx.num(out, "221", me, &[&ctx.umodes()]),
        [t, change, ..] if t.eq_ignore_ascii_case(me) => match ctx.set_umodes(change) {
            Some(done) if done.len() > 1 => irc::push(out, "", Some(me), "MODE", &[me, &done]),
            Some(_) => {}
            None => ctx.num(out, "501", me, &["Unknown MODE flag"]),
        },
        _ => ctx.num(out, "502", me, &["Can't change mode for other users"]),
    }
}

/// CHATHISTORY LATEST, BEFORE, AFTER, AROUND and BETWEEN for the channel, by `timestamp=`
/// (or `*`: the latest), from the room's `--history`.
fn chathistory(shared: &Shared, ctx: &Ctx, out: &mut String, me: &str, p: &[&str]) {
    let fail = |out: &mut String, code: &str, why: &str| {
        irc::push(out, "", Some(&ctx.server), "FAIL", &["CHATHISTORY", code, p.first().copied().unwrap_or("*"), why]);
    };
    let sub = p.first().map(|s| s.to_ascii_uppercase()).unwrap_or_default();
    if sub == "TARGETS" {
        return history(ctx, out, me, &[]);
    }
    let target = p.get(1).copied().unwrap_or("");
    if !target.eq_ignore_ascii_case(&ctx.channel) {
        return fail(out, "INVALID_TARGET", "only the room's channel has a history");
    }
    let when = |s: &str| -> Option<u64> {
        match s {
            "*" => Some(u64::MAX),
            _ => s.strip_prefix("timestamp=").and_then(irc::parse_time),
        }
    };
    let limit = |s: Option<&&str>| s.and_then(|n| n.parse::<usize>().ok()).map(|n| n.min(HISTORY_MAX));
    let all: Vec<Line> = shared.lock().history().cloned().collect();
    let picked: Vec<Line> = match (sub.as_str(), p.get(2).and_then(|s| when(s)), p.get(3)) {
        ("LATEST", Some(t), n) => tail(all.into_iter().filter(|l| t == u64::MAX || l.at > t), limit(n)),
        ("BEFORE", Some(t), n) => tail(all.into_iter().filter(|l| l.at < t), limit(n)),
        ("AFTER", Some(t), n) => all.into_iter().filter(|l| l.at > t).take(limit(n).unwrap_or(0)).collect(),
        ("AROUND", Some(t), n) => {
            let n = limit(n).unwrap_or(0);
            let before = tail(all.iter().filter(|l| l.at < t).cloned(), Some(n / 2));
            before.into_iter().chain(all.iter().filter(|l| l.at >= t).cloned()).take(n).collect()
        }
        ("BETWEEN", Some(a), _) => match (p.get(3).and_then(|s| when(s)), limit(p.get(4))) {
            (Some(b), Some(n)) => {
                let (lo, hi) = (a.min(b), a.max(b));
                let inside = all.into_iter().filter(|l| l.at > lo && l.at < hi);
                if a <= b { inside.take(n).collect() } else { tail(inside, Some(n)) }
            }
            _ => return fail(out, "INVALID_PARAMS", "BETWEEN needs two timestamps and a limit"),
        },
        (_, None, _) if !sub.is_empty() => return fail(out, "INVALID_PARAMS", "a reference is timestamp=... or *"),
        _ => return fail(out, "INVALID_PARAMS", "LATEST, BEFORE, AFTER, AROUND or BETWEEN"),
    };
    history(ctx, out, me, &picked);
}

/// The last `n` of `lines` (none without a limit), oldest first.
fn tail(lines: impl Iterator<Item = Line>, n: Option<usize>) -> Vec<Line> {
    let all: Vec<Line> = lines.collect();
    let n = n.unwrap_or(0).min(all.len());
    all[all.len() - n..].to_vec()
}
