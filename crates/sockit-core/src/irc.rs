//! IRC as the chat room's IRC members speak it (RFC 1459/2812 as the "Modern" IRC documents
//! describe them, with IRCv3 message tags): a message parsed within its bounds, messages
//! written, text made plain for the room (IRC's formatting codes left out, CTCP ACTION told
//! apart), long text split to IRC's 512 bytes, channel names checked, and `server-time`'s
//! timestamps written and read.

/// The longest message without its tags, CR LF included (RFC 1459).
pub const MAX_BODY: usize = 512;
/// The longest tags part, its `@` and the space after it included (IRCv3 message tags).
pub const MAX_TAGS: usize = 8191;
/// The longest line a member may send: both parts.
pub const MAX_LINE: usize = MAX_TAGS + MAX_BODY;
/// The longest channel name (`CHANNELLEN`).
pub const MAX_CHANNEL: usize = 50;
/// Parameters a message may have (RFC 1459: 14, then the rest is one).
const MAX_PARAMS: usize = 15;

/// One message from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    /// The tags, without their `@` ("" when none).
    pub tags: &'a str,
    /// The source a client gave (servers ignore it).
    pub source: Option<&'a str>,
    /// The command, upper-cased, or a three-digit numeric.
    pub command: String,
    pub params: Vec<&'a str>,
}

/// Why a line is no message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("empty line")]
    Empty,
    #[error("tags over {MAX_TAGS} bytes")]
    TagsTooLong,
    #[error("message over {MAX_BODY} bytes")]
    TooLong,
    #[error("no command")]
    NoCommand,
    #[error("a NUL byte")]
    Nul,
}

/// Read one line (without its CR LF) as a message. Spaces between parameters may be many;
/// after 14 parameters the rest of the line is the 15th. A NUL anywhere makes no message.
pub fn parse(line: &str) -> Result<Message<'_>, Malformed> {
    if line.contains('\0') {
        return Err(Malformed::Nul);
    }
    let mut rest = line.trim_start_matches(' ');
    let mut tags = "";
    if let Some(after) = rest.strip_prefix('@') {
        let (t, r) = after.split_once(' ').unwrap_or((after, ""));
        if t.len() + 2 > MAX_TAGS {
            return Err(Malformed::TagsTooLong);
        }
        tags = t;
        rest = r.trim_start_matches(' ');
    }
    // (The CR LF the line came with counts.)
    if rest.len() + 2 > MAX_BODY {
        return Err(Malformed::TooLong);
    }
    if rest.is_empty() {
        return Err(if tags.is_empty() { Malformed::Empty } else { Malformed::NoCommand });
    }
    let mut source = None;
    if let Some(after) = rest.strip_prefix(':') {
        let (s, r) = after.split_once(' ').unwrap_or((after, ""));
        source = Some(s);
        rest = r.trim_start_matches(' ');
    }
    let (command, mut rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let numeric = command.len() == 3 && command.bytes().all(|b| b.is_ascii_digit());
    if command.is_empty() || !(numeric || command.bytes().all(|b| b.is_ascii_alphabetic())) {
        return Err(Malformed::NoCommand);
    }
    let mut params = Vec::new();
    loop {
        rest = rest.trim_start_matches(' ');
        if rest.is_empty() {
            break;
        }
        if let Some(last) = rest.strip_prefix(':') {
            params.push(last);
            break;
        }
        if params.len() == MAX_PARAMS - 1 {
            params.push(rest);
            break;
        }
        let (p, r) = rest.split_once(' ').unwrap_or((rest, ""));
        params.push(p);
        rest = r;
    }
    Ok(Message { tags, source, command: command.to_ascii_uppercase(), params })
}

/// Whether a connection's first bytes are an IRC client registering: its first line (after
/// any tags) is `CAP`, `NICK`, `USER` or `PASS` in capitals, as clients send them (a person at
/// nc types `/nick`).
pub fn opens(first: &[u8]) -> bool {
    let mut rest = first;
    if rest.first() == Some(&b'@') {
        match rest.iter().position(|&b| b == b' ') {
            Some(i) => rest = &rest[i + 1..],
            None => return false,
        }
    }
    [&b"CAP"[..], b"NICK", b"USER", b"PASS"]
        .iter()
        .any(|w| rest.starts_with(w) && matches!(rest.get(w.len()), Some(b' ' | b'\r' | b'\n')))
}

/// Append one message to `out`: `[@tags ][:source ]COMMAND params\r\n`. The last parameter is
/// written as a trailing one (`:`) when it must be (empty, holding a space, starting with
/// `:`); the others hold no space (nicks, channels, numbers). Nothing given may hold CR, LF or
/// NUL: those are replaced by a space, so no message can carry another.
pub fn push(out: &mut String, tags: &str, source: Option<&str>, command: &str, params: &[&str]) {
    if !tags.is_empty() {
        out.push('@');
        push_clean(out, tags);
        out.push(' ');
    }
    if let Some(s) = source {
        out.push(':');
        push_clean(out, s);
        out.push(' ');
    }
    out.push_str(command);
    if let Some((last, middle)) = params.split_last() {
        for p in middle {
            out.push(' ');
            push_clean(out, p);
        }
        out.push(' ');
        if last.is_empty() || last.contains([' ', '\r', '\n', '\0']) || last.starts_with(':') {
            out.push(':');
        }
        push_clean(out, last);
    }
    out.push_str("\r\n");
}

fn push_clean(out: &mut String, s: &str) {
    if s.contains(['\r', '\n', '\0']) {
        out.extend(s.chars().map(|c| if matches!(c, '\r' | '\n' | '\0') { ' ' } else { c }));
    } else {
        out.push_str(s);
    }
}

/// The tags of a message as (key, value) pairs, values unescaped (`\:` `;`, `\s` space, `\\`,
/// `\r`, `\n`; a lone `\` at the end dropped).
pub fn tags(raw: &str) -> impl Iterator<Item = (&str, String)> {
    raw.split(';').filter(|t| !t.is_empty()).map(|t| {
        let (key, value) = t.split_once('=').unwrap_or((t, ""));
        let mut v = String::with_capacity(value.len());
        let mut chars = value.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                v.push(c);
                continue;
            }
            match chars.next() {
                Some(':') => v.push(';'),
                Some('s') => v.push(' '),
                Some('r') => v.push('\r'),
                Some('n') => v.push('\n'),
                Some(other) => v.push(other),
                None => {}
            }
        }
        (key, v)
    })
}

/// A CTCP message (`\x01VERB args\x01`; the closing `\x01` may be missing): its verb,
/// upper-cased, and its arguments.
pub fn ctcp(text: &str) -> Option<(String, &str)> {
    let inner = text.strip_prefix('\x01')?;
    let inner = inner.strip_suffix('\x01').unwrap_or(inner);
    let (verb, args) = inner.split_once(' ').unwrap_or((inner, ""));
    Some((verb.to_ascii_uppercase(), args))
}

/// Text as the room keeps it: IRC's formatting (bold, colours, italics, underline, reverse,
/// monospace, strike-through, reset) left out, as a bridge to plain text does. What else is
/// a control character the room's own rule escapes.
pub fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x02' | '\x0f' | '\x11' | '\x16' | '\x1d' | '\x1e' | '\x1f' => {}
            '\x03' => skip_colours(&mut chars, |c| c.is_ascii_digit(), 2),
            '\x04' => skip_colours(&mut chars, |c| c.is_ascii_hexdigit(), 6),
            c => out.push(c),
        }
    }
    out
}

/// After a colour code: up to `n` digits, and a `,` with up to `n` more when digits follow it.
fn skip_colours(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, digit: impl Fn(char) -> bool, n: usize) {
    let mut taken = 0;
    while taken < n && chars.peek().is_some_and(|&c| digit(c)) {
        chars.next();
        taken += 1;
    }
    if taken > 0 && chars.peek() == Some(&',') {
        let mut ahead = chars.clone();
        ahead.next();
        if ahead.peek().is_some_and(|&c| digit(c)) {
            chars.next();
            let mut more = 0;
            while more < n && chars.peek().is_some_and(|&c| digit(c)) {
                chars.next();
                more += 1;
            }
        }
    }
}

/// `text` in pieces of at most `room` bytes (at least 4), cut between characters, for
/// messages that must fit IRC's 512 bytes. Empty text is one empty piece.
pub fn split(text: &str, room: usize) -> Vec<&str> {
    let room = room.max(4);
    let mut pieces = Vec::new();
    let mut rest = text;
    while rest.len() > room {
        let mut cut = room;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (head, tail) = rest.split_at(cut);
        pieces.push(head);
        rest = tail;
    }
    pieces.push(rest);
    pieces
}

/// A channel name a server may have: `#` and up to 49 more bytes, none a space, comma, BEL,
/// colon or control character.
pub fn channel_ok(name: &str) -> bool {
    name.len() <= MAX_CHANNEL
        && name.len() > 1
        && name.starts_with('#')
        && !name.chars().any(|c| c == ' ' || c == ',' || c == ':' || c.is_control())
}

/// The channel a room is on IRC: `#` and its name, with what a channel name may not hold
/// (spaces, commas, colons, control characters) made `-`, cut to 50 bytes.
pub fn channel_for(room: &str) -> String {
    let mut name = String::from("#");
    for c in room.chars() {
        let c = if c == ' ' || c == ',' || c == ':' || c.is_control() { '-' } else { c };
        if name.len() + c.len_utf8() > MAX_CHANNEL {
            break;
        }
        name.push(c);
    }
    if name.len() == 1 {
        name.push_str("room");
    }
    name
}

/// Whether `name` matches an IRC mask (`*` any run, `?` any one character), ignoring ASCII
/// case.
pub fn glob(mask: &str, name: &str) -> bool {
    let (m, n): (Vec<char>, Vec<char>) =
        (mask.to_ascii_lowercase().chars().collect(), name.to_ascii_lowercase().chars().collect());
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < n.len() {
        if i < m.len() && (m[i] == '?' || m[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < m.len() && m[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    m[i..].iter().all(|&c| c == '*')
}

/// `server-time`'s form of a time: `2026-12-05T20:20:01.123Z`, from milliseconds since the
/// epoch.
pub fn server_time(ms: u64) -> String {
    let (days, ms_of_day) = (ms / 86_400_000, ms % 86_400_000);
    let (y, m, d) = crate::date::civil(i64::try_from(days).unwrap_or(i64::MAX / 2));
    let s = ms_of_day / 1000;
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z", s / 3600, s / 60 % 60, s % 60, ms_of_day % 1000)
}

/// A `server-time` timestamp read back (`YYYY-MM-DDThh:mm:ss[.fff]Z`), in milliseconds since
/// the epoch; None for any other form or a time before 1970.
pub fn parse_time(t: &str) -> Option<u64> {
    let t = t.strip_suffix('Z')?;
    let (date, time) = t.split_once('T')?;
    let num = |s: &str, len: usize| {
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse::<u64>().ok())?
    };
    let mut d = date.split('-');
    let (y, m, day) = (num(d.next()?, 4)?, num(d.next()?, 2)?, num(d.next()?, 2)?);
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut h = hms.split(':');
    let (hh, mm, ss) = (num(h.next()?, 2)?, num(h.next()?, 2)?, num(h.next()?, 2)?);
    if d.next().is_some() || h.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    if hh > 23 || mm > 59 || ss > 60 || y < 1970 || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let ms: u64 = format!("{frac:0<3}")[..3].parse().ok()?;
    let days = u64::try_from(crate::date::days_from_civil(i64::try_from(y).ok()?, m, day)).ok()?;
    Some(((days * 86_400 + hh * 3600 + mm * 60 + ss) * 1000) + ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_its_tags_source_command_and_parameters() {
        let m = parse("@label=a;+x=y :nick!u@h privmsg #room :hello there").expect("a message");
        assert_eq!((m.tags, m.source, m.command.as_str()), ("label=a;+x=y", Some("nick!u@h"), "PRIVMSG"));
        assert_eq!(m.params, ["#room", "hello there"]);
        let m = parse("NICK   alice").expect("a message");
        assert_eq!((m.command.as_str(), m.params), ("NICK", vec!["alice"]));
        assert_eq!(parse("USER u 0 * :Real Name").expect("a message").params, ["u", "0", "*", "Real Name"]);
        assert_eq!(parse("PRIVMSG #a ::-)").expect("a message").params, ["#a", ":-)"]);
        assert_eq!(parse("PING :").expect("a message").params, [""]);
        assert_eq!(parse("001 x").expect("a message").command, "001");
        let many = parse("X 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16").expect("a message");
        assert_eq!((many.params.len(), many.params[14]), (15, "15 16"));
    }

    #[test]
    fn what_is_no_message_says_why() {
        assert_eq!(parse(""), Err(Malformed::Empty));
        assert_eq!(parse("   "), Err(Malformed::Empty));
        assert_eq!(parse("@a=b"), Err(Malformed::NoCommand));
        assert_eq!(parse(":src"), Err(Malformed::NoCommand));
        assert_eq!(parse("PRIV-MSG x"), Err(Malformed::NoCommand));
        assert_eq!(parse("12 x"), Err(Malformed::NoCommand));
        assert_eq!(parse("PRIVMSG #a :x\0QUIT"), Err(Malformed::Nul));
        assert_eq!(parse(&format!("PRIVMSG #a :{}", "x".repeat(500))), Err(Malformed::TooLong));
        assert!(parse(&format!("PRIVMSG #a :{}", "x".repeat(497))).is_ok(), "510 bytes and CR LF");
        assert_eq!(parse(&format!("@{} PING x", "a".repeat(8190))), Err(Malformed::TagsTooLong));
        assert!(parse(&format!("@{} PING x", "a".repeat(8189))).is_ok());
    }

    #[test]
    fn a_registering_client_is_told_from_a_person_typing() {
        for yes in
            [&b"CAP LS 302\r\nNICK a\r\n"[..], b"NICK alice\r\n", b"USER u 0 * :r\n", b"PASS x\r", b"@a=b CAP LS\r\n"]
        {
            assert!(opens(yes), "{}", String::from_utf8_lossy(yes));
        }
        for no in [&b"hello\n"[..], b"/nick bob\n", b"nick bob\n", b"NICKEL\n", b"CAP", b"@a=b", b"GET / HTTP/1.1\r\n"]
        {
            assert!(!opens(no), "{}", String::from_utf8_lossy(no));
        }
    }

    #[test]
    fn messages_are_written_with_a_trailing_parameter_only_where_needed() {
        let mut out = String::new();
        push(&mut out, "", Some("srv"), "001", &["alice", "Welcome to IRC"]);
        push(&mut out, "time=x", Some("a!u@h"), "JOIN", &["#room"]);
        push(&mut out, "", None, "PONG", &["srv", ""]);
        push(&mut out, "", None, "PRIVMSG", &["#a", ":-)"]);
        push(&mut out, "", None, "NOTICE", &["#a", "one\r\nQUIT"]);
        assert_eq!(
            out,
            ":srv 001 alice :Welcome to IRC\r\n@time=x :a!u@h JOIN #room\r\nPONG srv :\r\nPRIVMSG #a ::-)\r\nNOTICE #a :one  QUIT\r\n"
        );
    }

    #[test]
    fn tag_values_are_unescaped() {
        let t: Vec<_> = tags("a=1;b=x\\sy\\:z\\\\;c;;+d=\\").collect();
        assert_eq!(t, [("a", "1".into()), ("b", "x y;z\\".into()), ("c", String::new()), ("+d", String::new())]);
    }

    #[test]
    fn formatting_is_left_out_and_actions_told_apart() {
        assert_eq!(
            plain("\x02bold\x02 \x0304,12red\x03 \x031,x \x1ditalic\x0f \x04ff00ffhex"),
            "bold red ,x italic hex"
        );
        assert_eq!(plain("\x0399 \x03,5"), " ,5");
        assert_eq!(ctcp("\x01ACTION waves\x01"), Some(("ACTION".into(), "waves")));
        assert_eq!(ctcp("\x01version"), Some(("VERSION".into(), "")));
        assert_eq!(ctcp("hello"), None);
    }

    #[test]
    fn long_text_is_cut_between_characters() {
        assert_eq!(split("abcdef", 4), ["abcd", "ef"]);
        assert_eq!(split("ééé", 5), ["éé", "é"]);
        assert_eq!(split("", 10), [""]);
        let long = "ü".repeat(1000);
        assert!(split(&long, 401).iter().all(|p| p.len() <= 401 && !p.is_empty()));
        assert_eq!(split(&long, 401).concat(), long);
    }

    #[test]
    fn rooms_become_channels_and_masks_match() {
        assert_eq!(channel_for("sockit"), "#sockit");
        assert_eq!(channel_for("the lab, 2"), "#the-lab--2");
        assert_eq!(channel_for(""), "#room");
        assert_eq!(channel_for(&"é".repeat(40)).len(), 49);
        assert!(channel_ok(&channel_for(&"x".repeat(99))));
        assert!(glob("*", "") && glob("a*", "ALICE") && glob("?l*e", "alice") && glob("*i*e", "alice"));
        assert!(!glob("a?", "alice") && !glob("b*", "alice") && !glob("", "a"));
    }

    #[test]
    fn channel_names_and_times() {
        assert!(channel_ok("#sockit") && channel_ok("#a-b.c"));
        assert!(!channel_ok("#") && !channel_ok("sockit") && !channel_ok("#a,b") && !channel_ok("#a\x07"));
        assert!(!channel_ok(&format!("#{}", "a".repeat(50))));
        assert_eq!(server_time(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(server_time(1_796_502_001_123), "2026-12-05T20:20:01.123Z");
        assert_eq!(server_time(951_782_400_000), "2000-02-29T00:00:00.000Z");
        for ms in [0, 1_796_502_001_123, 951_782_400_000, 4_102_444_799_999] {
            assert_eq!(parse_time(&server_time(ms)), Some(ms));
        }
        assert_eq!(parse_time("2026-12-05T20:20:01Z"), Some(1_796_502_001_000));
        assert_eq!(parse_time("2026-12-05T20:20:01.5Z"), Some(1_796_502_001_500));
        for bad in ["", "2026-12-05", "2026-13-05T00:00:00Z", "1969-12-31T23:59:59Z", "2026-12-05T20:20:01"] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }
}
