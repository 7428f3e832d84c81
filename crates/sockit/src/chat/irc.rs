//! An IRC client on the chat port: told apart by its first line (CAP, NICK, USER or PASS), it
//! registers (capabilities negotiated, a nick the room's rules allow and nobody holds, USER),
//! is welcomed in IRC's terms (001 to 005, the message of the day, the channel to join), then
//! waits in the room's lobby holding its nick until it joins the room's channel (`#ROOM`), and
//! lives there as a member: its lines read by `irc_talk`, the room's lines written by
//! `irc_out`.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sockit_core::chat::{Frame, LineFramer};
use sockit_core::irc;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use super::channels;
use super::events::Event;
use super::irc_ask::{Ctx, HISTORY_MAX};
use super::irc_out::IrcOut;
use super::irc_talk::Irc;
use super::piece::{self, Line, Mask};
use super::room::{Joining, Room, Shared};
use super::session::{Arrival, client};
use super::wire::Source;

/// How long a client has to register.
const REGISTRATION: Duration = Duration::from_secs(60);

/// What a client has said of itself while registering.
#[derive(Default)]
struct Registering {
    nick: Option<String>,
    /// USER's name and real name.
    user: Option<(String, String)>,
    /// CAP LS or REQ came, and no CAP END yet: registration waits for it.
    negotiating: bool,
}

/// The server's name on IRC: `--irc-name`, else its node's name in a cluster, else `sockit`.
fn server_name(shared: &Shared) -> String {
    match (&shared.cfg().irc_name, shared.node_name()) {
        (Some(name), _) => name.clone(),
        (None, "") => "sockit".to_string(),
        (None, node) => node.to_string(),
    }
}

/// An IRC client from its first bytes (`read`) to the end of its life in the room.
pub(super) async fn member<R: Source, W: AsyncWrite + Unpin + Send + 'static>(
    shared: Arc<Shared>,
    mut reader: R,
    mut writer: W,
    read: Vec<u8>,
    peer: SocketAddr,
    stop: CancellationToken,
) {
    let ctx = Ctx::new(&server_name(&shared), &irc::channel_for(&shared.cfg().room));
    // (The registration's state is gone before the member's life begins: an idle member
    // holds none of it but the hold on its nick, spent once it is in the lobby.)
    let registered = Box::pin(register(&shared, &ctx, &mut reader, &mut writer, read, peer, &stop)).await;
    let Some(Registered { nick, user, real, rest, hold: _hold }) = registered else {
        return;
    };
    let user: Arc<str> = Arc::from(format!("~{user}"));
    let greet_ctx = Arc::clone(&ctx);
    let (wanted, greet_user) = (nick.clone(), Arc::clone(&user));
    // (A nick taken between its NICK and now: the client is told the nick it has instead.)
    let greet = move |nick: &str, _: &Room| -> Line {
        let mut out = String::new();
        if nick != wanted {
            let source = Mask::new(&wanted, &greet_user).render(&greet_ctx.server);
            irc::push(&mut out, "", Some(&source), "NICK", &[nick]);
        }
        piece::irc(out)
    };
    let real = Arc::from(real.as_str());
    let joining = Joining { nick: Some(nick), user, real, greet: Some(&greet), lobby: true };
    let out = IrcOut { w: writer, shared: Arc::clone(&shared), ctx: Arc::clone(&ctx), id: None };
    Box::pin(client(shared, reader, out, rest, peer, stop, Arrival { joining, speech: Irc { ctx } })).await;
}

/// A client registered: its nick (and the hold on it), USER's name and real name, and the
/// bytes it sent after.
struct Registered {
    nick: String,
    user: String,
    real: String,
    rest: Vec<u8>,
    hold: Hold,
}

/// The registration: lines read and answered until NICK, USER and (when capabilities were
/// asked for) CAP END have come, then the welcome. None: the client left, quit or took too
/// long.
async fn register<R: Source, W: AsyncWrite + Unpin + Send + 'static>(
    shared: &Arc<Shared>,
    ctx: &Ctx,
    reader: &mut R,
    writer: &mut W,
    read: Vec<u8>,
    peer: SocketAddr,
    stop: &CancellationToken,
) -> Option<Registered> {
    let motd = shared.cfg().motd.clone();
    let mut framer = LineFramer::ending_at_cr(irc::MAX_LINE);
    let mut frames = Vec::new();
    framer.feed(&read, &mut frames);
    let mut lines: VecDeque<Frame> = frames.drain(..).collect();
    let mut me = Registering::default();
    let deadline = tokio::time::Instant::now() + REGISTRATION;
    let (nick, user, real, hold) = 'register: loop {
        let mut out = String::new();
        while let Some(f) = lines.pop_front() {
            let Frame::Line(l) = f else {
                ctx.num(&mut out, "417", "*", &["Input line was too long"]);
                continue;
            };
            match step(shared, ctx, &mut me, &String::from_utf8_lossy(&l), &mut out) {
                Step::Go => {}
                Step::Quit => {
                    let _ = tokio::time::timeout(Duration::from_secs(1), writer.write_all(out.as_bytes())).await;
                    let _ = writer.shutdown().await;
                    return None;
                }
            }
            if let (Some(nick), Some((user, real)), false) = (&me.nick, &me.user, me.negotiating) {
                // Another client may have registered the nick since its NICK: the first to
                // finish holds it, the other is told 433 and registers on with another.
                let Some(hold) = Hold::take(shared, nick) else {
                    ctx.num(&mut out, "433", "*", &[nick, "Nickname is already in use"]);
                    me.nick = None;
                    continue;
                };
                welcome(ctx, &mut out, nick, motd.as_deref());
                writer.write_all(out.as_bytes()).await.ok()?;
                break 'register (nick.clone(), user.clone(), real.clone(), hold);
            }
        }
        if !out.is_empty() {
            writer.write_all(out.as_bytes()).await.ok()?;
        }
        let filled = tokio::select! {
            () = stop.cancelled() => return None,
            r = tokio::time::timeout_at(deadline, reader.fill(&mut framer, &mut frames)) => r,
        };
        match filled {
            Ok(true) => lines.extend(frames.drain(..)),
            Ok(false) => return None,
            Err(_) => {
                let mut out = String::new();
                irc::push(&mut out, "", None, "ERROR", &["Closing Link: registration timed out"]);
                let _ = tokio::time::timeout(Duration::from_secs(1), writer.write_all(out.as_bytes())).await;
                shared.event(Event::Refused { peer, reason: "IRC registration took over 60 s".into() });
                return None;
            }
        }
    };
    // What came after the registration is the member's first lines in the room.
    let mut rest = Vec::new();
    for f in lines {
        if let Frame::Line(l) = f {
            rest.extend_from_slice(&l);
            rest.push(b'\n');
        }
    }
    rest.extend(framer.take_pending());
    Some(Registered { nick, user, real, rest, hold })
}

/// A nick held by a client that finished registering, from its welcome until it is in the
/// lobby (which ends the hold) or gone: no other registration finishes with it meanwhile.
struct Hold {
    shared: Arc<Shared>,
    key: String,
    number: u64,
}

impl Hold {
    /// Hold `nick`, if nobody holds it or has it.
    fn take(shared: &Arc<Shared>, nick: &str) -> Option<Hold> {
        let key = nick.to_ascii_lowercase();
        let mut room = shared.lock();
        if taken(&room, &key) {
            return None;
        }
        let number = shared.next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        room.held.insert(key.clone(), number);
        Some(Hold { shared: Arc::clone(shared), key, number })
    }
}

/// Whether `key` (a lower-case nick) is a member's here, held by a registration finishing, or
/// a member's on another server of the cluster.
fn taken(room: &Room, key: &str) -> bool {
    room.nicks.contains_key(key) || room.held.contains_key(key) || room.remote_holder(key).is_some()
}

impl Drop for Hold {
    /// A client gone before it came into the lobby lets its nick go.
    fn drop(&mut self) {
        let mut room = self.shared.lock();
        if room.held.get(&self.key) == Some(&self.number) {
            room.held.remove(&self.key);
        }
    }
}

/// What the registration does after a line.
enum Step {
    Go,
    /// The client quit: what `out` holds is said, then the connection closes.
    Quit,
}

/// One line while registering.
fn step(shared: &Shared, ctx: &Ctx, me: &mut Registering, line: &str, out: &mut String) -> Step {
    let m = match irc::parse(line) {
        Ok(m) => m,
        Err(irc::Malformed::TooLong | irc::Malformed::TagsTooLong) => {
            ctx.num(out, "417", "*", &["Input line was too long"]);
            return Step::Go;
        }
        Err(_) => return Step::Go,
    };
    let nick = me.nick.clone().unwrap_or_default();
    let p = &m.params;
    match m.command.as_str() {
        "CAP" => {
            if let Some(negotiating) = ctx.cap(out, &nick, p) {
                me.negotiating = negotiating;
            }
        }
        "NICK" => match p.first() {
            None => ctx.num(out, "431", &nick, &["No nickname given"]),
            Some(n) if sockit_core::names::validate_nick(n).is_err() => {
                ctx.num(out, "432", &nick, &[n, "Erroneous nickname"]);
            }
            Some(n) => {
                let key = n.to_ascii_lowercase();
                if taken(&shared.lock(), &key) {
                    ctx.num(out, "433", &nick, &[n, "Nickname is already in use"]);
                } else {
                    me.nick = Some((*n).to_string());
                }
            }
        },
        "USER" if p.len() < 4 || p[0].is_empty() || p[3].is_empty() => {
            ctx.num(out, "461", &nick, &["USER", "Not enough parameters"]);
        }
        "USER" if me.user.is_some() => ctx.num(out, "462", &nick, &["You may not reregister"]),
        "USER" => {
            // (The name in the mask: letters, digits, '-', '_' and '.', at most 10.)
            let name: String =
                p[0].chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')).take(10).collect();
            let name = if name.is_empty() { "u".to_string() } else { name };
            let real = sockit_core::chat::sanitize(irc::plain(p[3]).as_bytes());
            me.user = Some((name, real));
        }
        "PASS" | "PONG" => {}
        "PING" => ctx.pong(out, &nick, p),
        "QUIT" => {
            irc::push(out, "", None, "ERROR", &["Closing Link: quit"]);
            return Step::Quit;
        }
        _ => ctx.num(out, "451", &nick, &["You have not registered"]),
    }
    Step::Go
}

/// 001 to 005 and the message of the day.
fn welcome(ctx: &Ctx, out: &mut String, nick: &str, motd: Option<&str>) {
    let version = concat!("sockit-", env!("CARGO_PKG_VERSION"));
    let server = &ctx.server;
    ctx.num(out, "001", nick, &[&format!("Welcome to the sockit IRC network, {nick}")]);
    ctx.num(out, "002", nick, &[&format!("Your host is {server}, running version {version}")]);
    ctx.num(out, "003", nick, &[&format!("This server's room is {}", ctx.channel)]);
    ctx.num(out, "004", nick, &[server, version, "iw", "beIiklmnostv", "beIklov"]);
    let tokens = [
        "AWAYLEN=390".to_string(),
        "CASEMAPPING=ascii".into(),
        format!("CHANLIMIT=#:{}", channels::PER_MEMBER + 1),
        "CHANMODES=beI,k,l,imnst".into(),
        format!("CHANNELLEN={}", irc::MAX_CHANNEL),
        "CHANTYPES=#".into(),
        format!("CHATHISTORY={HISTORY_MAX}"),
        "EXCEPTS=e".into(),
        "INVEX=I".into(),
        format!("KEYLEN={}", channels::KEY_LEN),
        format!("MAXLIST=beI:{}", channels::MAX_LIST),
        "MSGREFTYPES=timestamp".into(),
        "NETWORK=sockit".into(),
        format!("NICKLEN={}", sockit_core::names::MAX_NICK),
        "PREFIX=(ov)@+".into(),
        "TARGMAX=PRIVMSG:4,NOTICE:4,NAMES:1,WHOIS:1,JOIN:20,PART:20,KICK:4".into(),
        format!("TOPICLEN={}", channels::TOPIC_LEN),
    ];
    // (Two 005s: a message has at most 15 parameters.)
    for some in tokens.chunks(10) {
        let mut params: Vec<&str> = some.iter().map(String::as_str).collect();
        params.push("are supported by this server");
        ctx.num(out, "005", nick, &params);
    }
    ctx.motd(out, nick, motd);
    let hint = format!("this server's room is {0}: /join {0}", ctx.channel);
    irc::push(out, "", Some(server), "NOTICE", &[nick, &hint]);
}
