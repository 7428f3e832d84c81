//! IRC channels besides the room's, as IRC members use them: JOIN, PART, PRIVMSG and NOTICE,
//! TOPIC, MODE, KICK, INVITE, NAMES, WHO and LIST; and a member's new nick or leaving told to
//! those it shares one with. What a channel is and its rules are `channels`'.

use std::collections::BTreeSet;

use sockit_core::irc;

use super::channels::{self, Channel, Entry, LISTS, OP, Topic, VOICE};
use super::irc_ask::{Ctx, ECHO, MULTI};
use super::piece::{self, Line, Mask};
use super::queue::{Recipient, deliver};
use super::room::Room;
use super::session::{Change, Session, Speech};

/// Whether `target` names a channel that is not the room's.
pub(super) fn other(ctx: &Ctx, target: &str) -> bool {
    target.starts_with('#') && !target.eq_ignore_ascii_case(&ctx.channel)
}

fn now_s() -> u64 {
    super::peers::now_ms() / 1000
}

/// The queues of members `ids` (those still here).
fn queues(room: &Room, ids: impl IntoIterator<Item = u64>) -> Vec<Recipient> {
    ids.into_iter().filter_map(|id| room.member(id).map(|m| m.out.clone())).collect()
}

/// What is in `out` to the member first (its order kept), then `lines` to `to`.
async fn relay<S: Speech>(s: &mut Session<S>, out: &mut String, to: Vec<Recipient>, lines: String) {
    if !out.is_empty() {
        s.tell(&piece::irc(std::mem::take(out))).await;
    }
    let text = piece::relayed(lines);
    let stall = s.stall;
    let mut got = 0;
    for r in &to {
        got += usize::from(deliver(r, &text, stall, Some(&mut s.window)).await);
    }
    super::metrics::delivered(got, &text);
}

/// One IRC message from `source` as a line of its own.
fn line(source: &str, command: &str, params: &[&str]) -> String {
    let mut out = String::new();
    irc::push(&mut out, "", Some(source), command, params);
    out
}

/// JOIN of channel `name` (with `key`): its members told, then its topic and NAMES to the
/// joiner.
pub(super) async fn join<S: Speech>(
    s: &mut Session<S>,
    ctx: &Ctx,
    out: &mut String,
    me: &str,
    name: &str,
    key: Option<&str>,
) {
    if !irc::channel_ok(name) {
        return ctx.num(out, "403", me, &[name, "No such channel (not a channel name)"]);
    }
    let full = s.mask().render(&ctx.server);
    let (to, spelled) = {
        let mut room = s.shared.lock();
        match room.channels.join(name, s.id, &full, key, now_s()) {
            Err((code, why)) => return ctx.num(out, code, me, &[name, why]),
            Ok(false) => return,
            Ok(true) => {}
        }
        let Some(c) = room.channels.get(name) else { return };
        (queues(&room, c.members.keys().copied()), c.name.clone())
    };
    relay(s, out, to, line(&full, "JOIN", &[&spelled])).await;
    let room = s.shared.lock();
    if let Some(c) = room.channels.get(name) {
        topic(ctx, out, me, c);
        names(ctx, out, me, &room, c, true, true);
    }
}

/// 332 and 333 for a channel's topic (nothing without one).
fn topic(ctx: &Ctx, out: &mut String, me: &str, c: &Channel) {
    if let Some(t) = &c.topic {
        ctx.num(out, "332", me, &[&c.name, &t.text]);
        ctx.num(out, "333", me, &[&c.name, &t.by, &t.at.to_string()]);
    }
}

/// NAMES of a channel: 353 (cut to fit 512 bytes) and, with `end`, 366; `member`: the asker
/// is in it (a secret channel's names are told only to its members).
fn names(ctx: &Ctx, out: &mut String, me: &str, room: &Room, c: &Channel, member: bool, end: bool) {
    if member || !c.has('s') {
        let symbol = if c.has('s') { "@" } else { "=" };
        let multi = ctx.has(MULTI);
        let names = c.in_order().filter_map(|(id, status)| {
            room.member(id).map(|m| format!("{}{}", Channel::prefix(status, multi), m.nick))
        });
        ctx.name_rows(out, me, symbol, &c.name, names);
    }
    if end {
        ctx.num(out, "366", me, &[&c.name, "End of /NAMES list."]);
    }
}

/// PART of channel `name`: its members (the leaver too) told.
pub(super) async fn part<S: Speech>(
    s: &mut Session<S>,
    ctx: &Ctx,
    out: &mut String,
    me: &str,
    name: &str,
    reason: Option<&str>,
) {
    let full = s.mask().render(&ctx.server);
    let (to, spelled) = {
        let mut room = s.shared.lock();
        let Some(c) = room.channels.get(name) else {
            return ctx.num(out, "403", me, &[name, "No such channel"]);
        };
        if c.status(s.id).is_none() {
            return ctx.num(out, "442", me, &[name, "You're not on that channel"]);
        }
        let (to, spelled) = (queues(&room, c.members.keys().copied()), c.name.clone());
        room.channels.part(name, s.id);
        (to, spelled)
    };
    let mut params = vec![spelled.as_str()];
    params.extend(reason.filter(|r| !r.is_empty()));
    relay(s, out, to, line(&full, "PART", &params)).await;
}

/// PRIVMSG or NOTICE to channel `name`: to its members (and back with `echo-message`), split
/// where its source makes it longer than IRC's 512 bytes. A NOTICE is never answered.
pub(super) async fn say<S: Speech>(
    s: &mut Session<S>,
    ctx: &Ctx,
    out: &mut String,
    me: &str,
    name: &str,
    text: &str,
    notice: bool,
) {
    let full = s.mask().render(&ctx.server);
    let (to, spelled) = {
        let room = s.shared.lock();
        let Some(c) = room.channels.get(name) else {
            if !notice {
                ctx.num(out, "403", me, &[name, "No such channel"]);
            }
            return;
        };
        if !c.may_speak(s.id, &full) {
            if !notice {
                ctx.num(out, "404", me, &[&c.name, "Cannot send to channel"]);
            }
            return;
        }
        let echo = ctx.has(ECHO);
        (queues(&room, c.members.keys().copied().filter(|&id| echo || id != s.id)), c.name.clone())
    };
    let command = if notice { "NOTICE" } else { "PRIVMSG" };
    let room_for = irc::MAX_BODY.saturating_sub(2 + full.len() + command.len() + spelled.len() + 6);
    let mut lines = String::new();
    for part in irc::split(text, room_for) {
        irc::push(&mut lines, "", Some(&full), command, &[&spelled, part]);
    }
    relay(s, out, to, lines).await;
}

/// The commands about other channels (and LIST, INVITE and KICK of any); false for those
/// the room's `irc_ask` answers.
pub(super) async fn command<S: Speech>(
    s: &mut Session<S>,
    ctx: &Ctx,
    out: &mut String,
    me: &str,
    command: &str,
    p: &[&str],
) -> bool {
    let first = p.first().copied().unwrap_or("");
    match command {
        "LIST" => list(s, ctx, out, me, first),
        "INVITE" if p.is_empty() => invitations(s, ctx, out, me),
        "INVITE" if p.len() < 2 => ctx.num(out, "461", me, &["INVITE", "Not enough parameters"]),
        "INVITE" => invite(s, ctx, out, me, p[0], p[1]).await,
        "KICK" if p.len() < 2 => ctx.num(out, "461", me, &["KICK", "Not enough parameters"]),
        "KICK" if !other(ctx, first) => return false,
        "KICK" => {
            let reason = p.get(2).copied().filter(|r| !r.is_empty()).unwrap_or(me);
            for nick in p[1].split(',').filter(|n| !n.is_empty()).take(4) {
                kick(s, ctx, out, me, first, nick, reason).await;
            }
        }
        "NAMES" if other(ctx, first) => {
            let room = s.shared.lock();
            match room.channels.get(first) {
                Some(c) => names(ctx, out, me, &room, c, c.status(s.id).is_some(), true),
                None => ctx.num(out, "366", me, &[first, "End of /NAMES list."]),
            }
        }
        // NAMES alone: every channel the member may see (the room's while anyone is in it),
        // then one 366.
        "NAMES" if first.is_empty() => {
            let room = s.shared.lock();
            if !room.members.is_empty() || room.remote_count() > 0 {
                ctx.names(out, me, &room, None);
            }
            let mut all: Vec<&Channel> = room.channels.all().collect();
            all.sort_by(|a, b| a.name.cmp(&b.name));
            for c in all {
                names(ctx, out, me, &room, c, c.status(s.id).is_some(), false);
            }
            ctx.num(out, "366", me, &["*", "End of /NAMES list."]);
        }
        "WHO" if other(ctx, first) => who(s, ctx, out, me, first),
        "TOPIC" if other(ctx, first) => set_topic(s, ctx, out, me, first, p.get(1).copied()).await,
        "MODE" if other(ctx, first) => mode(s, ctx, out, me, first, &p[1..]).await,
        _ => return false,
    }
    true
}

/// LIST: the room's channel (while anyone is in it) and the others (a secret one only to its
/// members), or those named.
fn list<S: Speech>(s: &Session<S>, ctx: &Ctx, out: &mut String, me: &str, names: &str) {
    let wanted = |n: &str| names.is_empty() || names.split(',').any(|w| w.eq_ignore_ascii_case(n));
    let room = s.shared.lock();
    ctx.num(out, "321", me, &["Channel", "Users  Name"]);
    let count = room.members.len() + room.remote_count();
    if wanted(&ctx.channel) && count > 0 {
        ctx.num(out, "322", me, &[&ctx.channel, &count.to_string(), ""]);
    }
    for c in room.channels.all().filter(|c| wanted(&c.name) && (!c.has('s') || c.status(s.id).is_some())) {
        let topic = c.topic.as_ref().map_or("", |t| t.text.as_str());
        ctx.num(out, "322", me, &[&c.name, &c.members.len().to_string(), topic]);
    }
    ctx.num(out, "323", me, &["End of /LIST"]);
}

/// WHO of a channel: a 352 a member (its flags: here or gone, then its prefix), then 315.
fn who<S: Speech>(s: &Session<S>, ctx: &Ctx, out: &mut String, me: &str, name: &str) {
    let room = s.shared.lock();
    if let Some(c) = room.channels.get(name).filter(|c| !c.has('s') || c.status(s.id).is_some()) {
        for (id, status) in c.in_order() {
            let Some(m) = room.member(id) else { continue };
            let here = if m.away.is_some() { "G" } else { "H" };
            let flags = format!("{here}{}", Channel::prefix(status, ctx.has(MULTI)));
            let real = format!("0 {}", m.real);
            ctx.num(out, "352", me, &[&c.name, &m.user, &ctx.server, &ctx.server, &m.nick, &flags, &real]);
        }
    }
    ctx.num(out, "315", me, &[name, "End of /WHO list."]);
}

/// INVITE `nick` to `name`: 341 to the inviter, INVITE to the invited, who may then come in
/// past +i, a ban and the limit (not a key).
async fn invite<S: Speech>(s: &mut Session<S>, ctx: &Ctx, out: &mut String, me: &str, nick: &str, name: &str) {
    let full = s.mask().render(&ctx.server);
    let (to, nick) = {
        let mut room = s.shared.lock();
        let id = room.nicks.get(&nick.to_ascii_lowercase()).copied();
        let Some((id, nick)) = id.and_then(|id| room.member(id).map(|m| (id, m.nick.clone()))) else {
            return ctx.num(out, "401", me, &[nick, "No such nick/channel"]);
        };
        if let Some(c) = room.channels.get_mut(name) {
            if c.status(s.id).is_none() {
                return ctx.num(out, "442", me, &[&c.name.clone(), "You're not on that channel"]);
            }
            if c.has('i') && !c.is_op(s.id) {
                return ctx.num(out, "482", me, &[&c.name.clone(), "You're not channel operator"]);
            }
            if c.status(id).is_some() {
                return ctx.num(out, "443", me, &[&nick, &c.name.clone(), "is already on channel"]);
            }
            c.invited.insert(id);
        }
        ctx.num(out, "341", me, &[&nick, name]);
        (queues(&room, [id]), nick)
    };
    relay(s, out, to, line(&full, "INVITE", &[&nick, name])).await;
}

/// INVITE alone: the channels this member is invited to (336), then 337.
fn invitations<S: Speech>(s: &Session<S>, ctx: &Ctx, out: &mut String, me: &str) {
    let room = s.shared.lock();
    for c in room.channels.all().filter(|c| c.invited.contains(&s.id)) {
        ctx.num(out, "336", me, &[&c.name]);
    }
    ctx.num(out, "337", me, &["End of /INVITE list"]);
}

/// KICK `nick` out of `name` (an operator's): its members, the kicked too, told.
async fn kick<S: Speech>(
    s: &mut Session<S>,
    ctx: &Ctx,
    out: &mut String,
    me: &str,
    name: &str,
    nick: &str,
    reason: &str,
) {
    let full = s.mask().render(&ctx.server);
    let (to, spelled, nick) = {
        let mut room = s.shared.lock();
        let target = room.nicks.get(&nick.to_ascii_lowercase()).copied();
        let who = target.and_then(|id| room.member(id)).map(|m| m.nick.clone());
        let Some(c) = room.channels.get(name) else {
            return ctx.num(out, "403", me, &[name, "No such channel"]);
        };
        if c.status(s.id).is_none() {
            return ctx.num(out, "442", me, &[&c.name, "You're not on that channel"]);
        }
        if !c.is_op(s.id) {
            return ctx.num(out, "482", me, &[&c.name, "You're not channel operator"]);
        }
        let (Some(id), Some(who)) = (target.filter(|&id| c.status(id).is_some()), who) else {
            return ctx.num(out, "441", me, &[nick, &c.name, "They aren't on that channel"]);
        };
        let (to, spelled) = (queues(&room, c.members.keys().copied()), c.name.clone());
        room.channels.part(name, id);
        (to, spelled, who)
    };
    relay(s, out, to, line(&full, "KICK", &[&spelled, &nick, reason])).await;
}

/// TOPIC of channel `name`: told (332 and 333, or 331), or set by `text` (an operator's under
/// +t) and its members told; an empty text clears it.
async fn set_topic<S: Speech>(
    s: &mut Session<S>,
    ctx: &Ctx,
    out: &mut String,
    me: &str,
    name: &str,
    text: Option<&str>,
) {
    let full = s.mask().render(&ctx.server);
    let (to, spelled, text) = {
        let mut room = s.shared.lock();
        let Some(c) = room.channels.get_mut(name) else {
            return ctx.num(out, "403", me, &[name, "No such channel"]);
        };
        let member = c.status(s.id).is_some();
        let Some(text) = text else {
            if !member && c.has('s') {
                return ctx.num(out, "442", me, &[&c.name.clone(), "You're not on that channel"]);
            }
            match &c.topic {
                Some(_) => topic(ctx, out, me, c),
                None => ctx.num(out, "331", me, &[&c.name.clone(), "No topic is set"]),
            }
            return;
        };
        if !member {
            return ctx.num(out, "442", me, &[&c.name.clone(), "You're not on that channel"]);
        }
        if c.has('t') && !c.is_op(s.id) {
            return ctx.num(out, "482", me, &[&c.name.clone(), "You're not channel operator"]);
        }
        let text = irc::split(text, channels::TOPIC_LEN)[0].to_string();
        c.topic = (!text.is_empty()).then(|| Topic { text: text.clone(), by: full.clone(), at: now_s() });
        let (ids, spelled): (Vec<u64>, String) = (c.members.keys().copied().collect(), c.name.clone());
        (queues(&room, ids), spelled, text)
    };
    relay(s, out, to, line(&full, "TOPIC", &[&spelled, &text])).await;
}

/// MODE of channel `name`: told (324 and 329), a list told (bans 367/368, exceptions 348/349,
/// invite exceptions 346/347), or changed by an operator and its members told what changed.
async fn mode<S: Speech>(s: &mut Session<S>, ctx: &Ctx, out: &mut String, me: &str, name: &str, change: &[&str]) {
    let full = s.mask().render(&ctx.server);
    let (to, done) = {
        let mut guard = s.shared.lock();
        let room: &mut Room = &mut guard;
        let nicks = &room.nicks;
        let Some(c) = room.channels.get_mut(name) else {
            return ctx.num(out, "403", me, &[name, "No such channel"]);
        };
        let member = c.status(s.id).is_some();
        let Some((letters, params)) = change.split_first() else {
            let mut modes = vec![c.name.clone()];
            modes.extend(c.modes(member));
            let modes: Vec<&str> = modes.iter().map(String::as_str).collect();
            ctx.num(out, "324", me, &modes);
            return ctx.num(out, "329", me, &[&c.name.clone(), &c.created.to_string()]);
        };
        let lists_only = letters.trim_start_matches('+').chars().all(|l| LISTS.contains(&l)) && params.is_empty();
        if lists_only {
            for l in letters.trim_start_matches('+').chars() {
                tell_list(ctx, out, me, c, l);
            }
            return;
        }
        if !c.is_op(s.id) {
            return ctx.num(out, "482", me, &[&c.name.clone(), "You're not channel operator"]);
        }
        let id_of = |nick: &str| nicks.get(&nick.to_ascii_lowercase()).copied();
        let done = apply(ctx, out, me, c, &full, letters, params, &id_of);
        if done.is_empty() {
            return;
        }
        let ids: Vec<u64> = c.members.keys().copied().collect();
        let mut all = vec![c.name.clone()];
        all.extend(done);
        (queues(room, ids), all)
    };
    let params: Vec<&str> = done.iter().map(String::as_str).collect();
    relay(s, out, to, line(&full, "MODE", &params)).await;
}

/// A list mode's entries and its end.
fn tell_list(ctx: &Ctx, out: &mut String, me: &str, c: &Channel, list: char) {
    let (i, entry, end, what) = match list {
        'b' => (0, "367", "368", "End of channel ban list"),
        'e' => (1, "348", "349", "End of channel exception list"),
        _ => (2, "346", "347", "End of channel invite list"),
    };
    for e in &c.lists[i] {
        ctx.num(out, entry, me, &[&c.name, &e.mask, &e.by, &e.at.to_string()]);
    }
    ctx.num(out, end, me, &[&c.name, what]);
}

/// Apply a MODE change (`letters` and their `params`) by operator `by`; returns what changed
/// as MODE says it (`+o-k`, then the parameters), empty for nothing.
#[allow(clippy::too_many_arguments)]
fn apply(
    ctx: &Ctx,
    out: &mut String,
    me: &str,
    c: &mut Channel,
    by: &str,
    letters: &str,
    params: &[&str],
    id_of: &dyn Fn(&str) -> Option<u64>,
) -> Vec<String> {
    let mut params = params.iter().copied();
    let (mut on, mut sign, mut flags, mut args) = (true, None, String::new(), Vec::new());
    let mut changed = |flags: &mut String, on: bool, l: char| {
        let s = if on { '+' } else { '-' };
        if sign != Some(s) {
            flags.push(s);
            sign = Some(s);
        }
        flags.push(l);
    };
    for l in letters.chars() {
        match l {
            '+' | '-' => on = l == '+',
            l if Channel::is_flag(l) => {
                if c.set_flag(l, on) {
                    changed(&mut flags, on, l);
                }
            }
            'o' | 'v' => {
                let Some(nick) = params.next() else { continue };
                let bit = if l == 'o' { OP } else { VOICE };
                match id_of(nick).map(|id| (id, c.status(id).is_some())) {
                    None => ctx.num(out, "401", me, &[nick, "No such nick/channel"]),
                    Some((_, false)) => ctx.num(out, "441", me, &[nick, &c.name, "They aren't on that channel"]),
                    Some((id, true)) => {
                        if let Some(st) = c.members.get_mut(&id)
                            && (*st & bit != 0) != on
                        {
                            *st ^= bit;
                            changed(&mut flags, on, l);
                            args.push(nick.to_string());
                        }
                    }
                }
            }
            'k' if on => {
                let Some(key) = params.next() else { continue };
                if channels::key_ok(key) {
                    c.key = Some(key.to_string());
                    changed(&mut flags, on, l);
                    args.push(key.to_string());
                } else {
                    ctx.num(out, "696", me, &[&c.name, "k", "*", "Invalid key (1 to 23 characters, no spaces)"]);
                }
            }
            'k' => {
                params.next();
                if c.key.take().is_some() {
                    changed(&mut flags, on, l);
                    args.push("*".to_string());
                }
            }
            'l' if on => match params.next().map(str::parse::<usize>) {
                Some(Ok(n)) if n > 0 => {
                    c.limit = Some(n);
                    changed(&mut flags, on, l);
                    args.push(n.to_string());
                }
                Some(_) => ctx.num(out, "696", me, &[&c.name, "l", "*", "Invalid limit"]),
                None => {}
            },
            'l' => {
                if c.limit.take().is_some() {
                    changed(&mut flags, on, l);
                }
            }
            'b' | 'e' | 'I' => {
                let i = match l {
                    'b' => 0,
                    'e' => 1,
                    _ => 2,
                };
                let Some(mask) = params.next() else {
                    tell_list(ctx, out, me, c, l);
                    continue;
                };
                let mask = normal_mask(mask);
                let list = &mut c.lists[i];
                let at = list.iter().position(|e| e.mask.eq_ignore_ascii_case(&mask));
                match (on, at) {
                    (true, None) if list.len() >= channels::MAX_LIST => {
                        ctx.num(out, "478", me, &[&c.name, &mask, "Channel list is full"]);
                    }
                    (true, None) => {
                        list.push(Entry { mask: mask.clone(), by: by.to_string(), at: now_s() });
                        changed(&mut flags, on, l);
                        args.push(mask);
                    }
                    (false, Some(at)) => {
                        list.remove(at);
                        changed(&mut flags, on, l);
                        args.push(mask);
                    }
                    _ => {}
                }
            }
            other => ctx.num(out, "472", me, &[&other.to_string(), "is unknown mode char to me"]),
        }
    }
    if flags.is_empty() {
        return Vec::new();
    }
    let mut all = vec![flags];
    all.extend(args);
    all
}

/// A ban mask made whole: `nick` is `nick!*@*`, `nick!user` is `nick!user@*`.
fn normal_mask(mask: &str) -> String {
    let mask: String = mask.chars().filter(|c| !c.is_control() && *c != ' ').take(irc::MAX_BODY / 4).collect();
    match (mask.contains('!'), mask.contains('@')) {
        (false, false) => format!("{mask}!*@*"),
        (true, false) => format!("{mask}@*"),
        (false, true) => format!("*!{mask}"),
        (true, true) => mask,
    }
}

/// Those who share a channel with member `id` (the room's members aside when it is in the
/// room: the room tells them) told of its new nick, or of its leaving (it is then out of every
/// channel): the line and their queues, taken under the room's lock.
pub(super) fn elsewhere(
    ctx: &Ctx,
    room: &mut Room,
    id: u64,
    was: &Mask,
    change: &Change,
) -> Option<(Line, Vec<Recipient>)> {
    let in_room = room.members.contains_key(&id);
    let neighbours: BTreeSet<u64> = match change {
        Change::Nick(_) => room.channels.neighbours(id),
        Change::Gone(_) => room.channels.forget(id),
    };
    let ids: Vec<u64> = neighbours.into_iter().filter(|n| !(in_room && room.members.contains_key(n))).collect();
    if ids.is_empty() {
        return None;
    }
    let source = was.render(&ctx.server);
    let text = match change {
        Change::Nick(new) => line(&source, "NICK", &[new]),
        Change::Gone(reason) => line(&source, "QUIT", &[reason]),
    };
    Some((piece::relayed(text), queues(room, ids)))
}
