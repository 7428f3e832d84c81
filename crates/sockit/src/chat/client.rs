//! The interactive client: keyboard and network at once. Lines typed go to the server; lines
//! from the server go to the output. At the end of input the client says /quit and waits for
//! the server to close, so it leaves cleanly in a pipe too. Plain and TLS connections take the
//! same path (TLS is a tunnel behind a plain stream).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::Duration;

use sockit_core::endpoint::Host;

use super::discovery::{self, DiscoveryConfig, Found};
use crate::conn::Conn;
use crate::net::{Doing, NetError};
use crate::stdio::Stdio;
use crate::tls::ClientTls;

/// `chat join`: a server, or discovery to find one; a nick; TLS.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinConfig {
    /// HOST and PORT of the server; `None` discovers one.
    pub server: Option<(Host, u16)>,
    pub nick: Option<String>,
    /// Among discovered servers, the one with this room.
    pub room: Option<String>,
    /// TLS always; a discovered server that speaks TLS is joined with TLS whatever this says.
    pub tls: Option<ClientTls>,
    pub discovery: DiscoveryConfig,
    /// Reach the server through this proxy (a server given by HOST only).
    pub proxy: Option<sockit_core::proxy::Proxy>,
}

/// Shows text from the server on a terminal, above the line being typed.
pub type Show = Box<dyn FnMut(&str) -> std::io::Result<()> + Send>;

/// Where a chat's lines come from and where the server's go.
pub enum ChatIo {
    /// Standard input and output as they are: a pipe, a file, or a terminal without an editor.
    Stdio(Stdio),
    /// A line editor on a terminal: typed lines arrive from `typed`, which ends when the user
    /// does; the server's lines, escaped, go to `show`, which keeps the line being typed intact
    /// below them.
    Editor { typed: Box<dyn Iterator<Item = String> + Send>, show: Show },
}

impl std::fmt::Debug for ChatIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChatIo::Stdio(s) => f.debug_tuple("Stdio").field(s).finish(),
            ChatIo::Editor { .. } => f.write_str("Editor"),
        }
    }
}

/// How long a join waits for the server to accept the connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Which of several discovered servers to join, as the caller decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    Chosen(usize),
    /// The caller cannot ask (input is not a terminal).
    CannotAsk,
    /// Asked, and no answer named a server.
    NoAnswer,
}

/// Why a join did not happen.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("no chat server{} answered the discovery probe (sent to {}): give HOST[:PORT]", .room.as_ref().map_or(String::new(), |r| format!(" with room {r}")), .probed.iter().map(std::string::ToString::to_string).collect::<Vec<_>>().join(", "))]
    NoServer { room: Option<String>, probed: Vec<SocketAddr> },
    #[error("several chat servers answered: {}", .0.join(", "))]
    Several(Vec<String>),
    #[error("no chat server chosen")]
    NotChosen,
}

impl JoinError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<crate::hint::Hint> {
        match self {
            JoinError::Net(e) => e.hint(),
            JoinError::Several(_) | JoinError::NotChosen => Some(crate::hint::Hint::PickRoom),
            JoinError::NoServer { .. } => None,
        }
    }

    /// Whether the user must say more (exit 2).
    pub fn is_usage(&self) -> bool {
        matches!(self, JoinError::Several(_) | JoinError::NotChosen)
    }
}

/// Join: find the server (asking `pick` when several answer, telling `joining` which one was
/// found), connect, and relay `io` until the server closes.
pub fn run(
    cfg: &JoinConfig,
    io: ChatIo,
    pick: &mut dyn FnMut(&[&Found]) -> Pick,
    joining: &mut dyn FnMut(&Found),
) -> Result<(), JoinError> {
    let (host, port, discovered_tls) = match &cfg.server {
        // Every address the name has is tried, in order (or the proxy resolves it).
        Some((host, port)) => (host.clone(), *port, false),
        None => {
            let discovery::Discovery { found, probed } = discovery::discover(&cfg.discovery)?;
            let chosen: Vec<&Found> =
                found.iter().filter(|f| cfg.room.as_ref().is_none_or(|r| &f.info.room == r)).collect();
            // Servers of one cluster serve one room: the least busy one, without asking.
            let fewest = discovery::fewest_of_one_cluster(&chosen);
            let f = match (chosen.as_slice(), fewest) {
                ([], _) => return Err(JoinError::NoServer { room: cfg.room.clone(), probed }),
                ([one], _) => {
                    joining(one);
                    *one
                }
                (several, Some(i)) => {
                    joining(several[i]);
                    several[i]
                }
                (several, None) => match pick(several) {
                    Pick::Chosen(i) if i < several.len() => several[i],
                    Pick::CannotAsk => {
                        return Err(JoinError::Several(
                            several.iter().map(|f| format!("{} ({})", f.info.room, f.address)).collect(),
                        ));
                    }
                    _ => return Err(JoinError::NotChosen),
                },
            };
            let host = match f.address {
                SocketAddr::V6(a) if a.scope_id() != 0 => Host::Scoped(*a.ip(), a.scope_id().to_string()),
                a => Host::Ip(a.ip()),
            };
            (host, f.address.port(), f.info.tls)
        }
    };
    let tls = match (&cfg.tls, discovered_tls) {
        (Some(t), _) => Some(t.clone()),
        (None, true) => Some(ClientTls::default()),
        (None, false) => None,
    };
    let dialer = crate::dial::Dialer {
        proxy: cfg.proxy.clone(),
        timeout: Some(CONNECT_TIMEOUT),
        keepalive: None,
        tls: tls.clone(),
        ..Default::default()
    };
    let conn = crate::dial::dial(&host, port, &dialer)?;
    let shown = match (&conn.peer, &cfg.proxy) {
        (crate::conn::Peer::Inet(a), None) => a.to_string(),
        _ => format!("{host}:{port}"),
    };
    join(conn, shown, cfg.nick.as_deref(), tls.is_none(), io)?;
    Ok(())
}

/// Join the chat on `conn` (to `addr`, as shown), optionally as `nick`, relaying `io`; `plain`:
/// no TLS was asked for (a TLS answer is then told as such).
pub fn join(conn: Conn, addr: String, nick: Option<&str>, plain: bool, io: ChatIo) -> Result<(), NetError> {
    let peer = conn.peer.clone();
    type Typed = Box<dyn Iterator<Item = Vec<u8>> + Send>;
    type Output = Box<dyn FnMut(&[u8]) -> std::io::Result<()> + Send>;
    let (typed, mut show): (Typed, Output) = match io {
        ChatIo::Stdio(stdio) => {
            let (input, mut output) = stdio.into_files();
            (Box::new(BufReader::new(input).split(b'\n').map_while(Result::ok)), Box::new(move |b| output.write_all(b)))
        }
        ChatIo::Editor { typed, mut show } => {
            (Box::new(typed.map(String::into_bytes)), Box::new(move |b| show(&String::from_utf8_lossy(b))))
        }
    };
    let out = conn.stream.try_clone().map_err(|e| NetError::io(Doing::OpenSocket, e))?;
    if let Some(n) = nick {
        (&out).write_all(format!("/nick {n}\n").as_bytes()).map_err(|e| NetError::io(Doing::Send, e))?;
    }
    // Input -> server, in its own thread: the network side below never waits for the keyboard.
    std::thread::Builder::new()
        .name("chat-input".into())
        .spawn(move || {
            for mut line in typed {
                line.push(b'\n');
                if (&out).write_all(&line).is_err() {
                    return;
                }
            }
            let _ = (&out).write_all(b"/quit\n");
            let _ = out.shutdown(Shutdown::Write);
        })
        .map_err(|e| NetError::io(Doing::StartThread, e))?;
    // What the server sends reaches the output a line at a time, escaped: a hostile server
    // cannot move the cursor, clear the screen or set the title or the clipboard.
    let mut reader = &conn.stream;
    let mut buf = vec![0u8; 64 * 1024];
    let mut partial: Vec<u8> = Vec::new();
    let mut first = true;
    let mut write = |text: &[u8]| -> Result<(), NetError> { show(text).map_err(|e| NetError::io(Doing::Output, e)) };
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(NetError::io(Doing::Connection(peer.clone()), e)),
        };
        if first && plain && looks_like_tls(&buf[..n]) {
            return Err(NetError::Advice {
                text: format!("{addr} answered with TLS: this room speaks TLS"),
                hint: crate::hint::Hint::AddTls,
            });
        }
        first = false;
        partial.extend_from_slice(&buf[..n]);
        let mut shown = String::new();
        while let Some(i) = partial.iter().position(|&b| b == b'\n') {
            shown.push_str(&escape_line(&partial[..i]));
            shown.push('\n');
            partial.drain(..=i);
        }
        // A line longer than the buffer is shown in pieces rather than held without bound.
        if partial.len() > buf.len() {
            shown.push_str(&escape_line(&partial));
            partial.clear();
        }
        if !shown.is_empty() {
            write(shown.as_bytes())?;
        }
    }
    if !partial.is_empty() {
        write(escape_line(&partial).as_bytes())?;
    }
    conn.finish()
}

/// Whether bytes begin a TLS record (an alert or a handshake, TLS 1.0-1.3): what a TLS room
/// answers a plain client with.
fn looks_like_tls(bytes: &[u8]) -> bool {
    matches!(bytes, [0x15 | 0x16, 0x03, 0x00..=0x04, ..])
}

/// One line from the server as the terminal may show it, in the form the server gives
/// members' lines (`chat::sanitize`), a `\r` before the newline dropped.
fn escape_line(line: &[u8]) -> String {
    sockit_core::chat::sanitize(line.strip_suffix(b"\r").unwrap_or(line))
}
