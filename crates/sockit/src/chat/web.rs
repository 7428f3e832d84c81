//! The chat in a browser, on the chat port itself, HTTP side: a connection is told apart by its
//! first bytes (an HTTP request line, or anything else: a line client), `GET /` is the page and
//! `GET /ws` is upgraded to a WebSocket (its member: `ws`) when its Origin may. A WebSocket
//! member is a member like any other: the room sees its lines through the same framer, rate
//! limit, queue and stall rules as a line client's.

use std::io;
use std::sync::Mutex;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The page, whole: HTML, CSS and script written here, nothing fetched from elsewhere.
pub const PAGE: &str = include_str!("page.html");

/// How long a line client may stay silent before it is taken for one: an HTTP client sends
/// its request at once, a person at `nc` may never send first.
const FIRST_BYTES: Duration = Duration::from_millis(200);

/// The longest HTTP request head read.
const MAX_HEAD: usize = 8 * 1024;

/// What a connection turned out to be.
pub(super) enum Arrival {
    /// A line client, and the bytes already read from it.
    Line(Vec<u8>),
    /// An HTTP request: its head, and the bytes read after it.
    Http(Head, Vec<u8>),
    /// Gone, or an HTTP request not finished in time (already answered if it could be).
    Gone,
}

/// An HTTP request head, as far as the chat port cares.
#[derive(Debug)]
pub(super) struct Head {
    method: String,
    path: String,
    host: Option<String>,
    origin: Option<String>,
    upgrade_websocket: bool,
    key: Option<String>,
    version_13: bool,
    /// The User-Agent says a browser (they all start with `Mozilla/`).
    browser: bool,
}

impl Head {
    /// A browser loading a page: it may open spare sockets to this port, silent for a while.
    pub(super) fn is_browser_page_load(&self) -> bool {
        self.browser && !self.upgrade_websocket
    }
}

/// How long a browser's silent spare socket is kept before it is closed unheard.
const SPARE_SOCKET: Duration = Duration::from_secs(60);

/// Addresses a browser loaded the page from in the last minute: browsers open spare sockets they
/// may send a request on much later, and a welcome written to one would break that request.
/// A silent connection from such an address waits for its first bytes instead of being taken
/// for a line client. At most 4,096 addresses are remembered.
#[derive(Debug, Default)]
pub(super) struct Browsers(Mutex<std::collections::HashMap<std::net::IpAddr, std::time::Instant>>);

impl Browsers {
    pub(super) fn saw(&self, ip: std::net::IpAddr) {
        let mut seen = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = std::time::Instant::now();
        if seen.len() >= 4096 {
            seen.retain(|_, t| now.duration_since(*t) < SPARE_SOCKET);
        }
        if seen.len() < 4096 {
            seen.insert(ip, now);
        }
    }

    pub(super) fn seen(&self, ip: std::net::IpAddr) -> bool {
        let seen = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.get(&ip).is_some_and(|t| t.elapsed() < SPARE_SOCKET)
    }
}

/// Tell a connection's kind from its first bytes. `web` off: everything is a line client.
/// Waits at most `FIRST_BYTES` for a first byte (then it is a line client, unless
/// `browser_here` says its address is a browser's: then it waits for its first bytes, a minute
/// at most); an HTTP-looking start must complete its head before `deadline` (slowloris), or
/// the connection is dropped.
pub(super) async fn sniff<S: AsyncRead + Unpin>(
    stream: &mut S,
    web: bool,
    deadline: tokio::time::Instant,
    browser_here: &(dyn Fn() -> bool + Sync),
) -> Arrival {
    if !web {
        return Arrival::Line(Vec::new());
    }
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    let first = match tokio::time::timeout(FIRST_BYTES, stream.read(&mut chunk)).await {
        Err(_) if !browser_here() => return Arrival::Line(Vec::new()),
        Err(_) => match tokio::time::timeout(SPARE_SOCKET, stream.read(&mut chunk)).await {
            Err(_) => return Arrival::Gone,
            Ok(r) => r,
        },
        Ok(r) => r,
    };
    // The head of a request sent late on a spare socket has its own 10 s.
    let deadline = deadline.max(tokio::time::Instant::now() + Duration::from_secs(10));
    match first {
        Ok(0) | Err(_) => return Arrival::Gone,
        Ok(n) => buf.extend_from_slice(&chunk[..n]),
    }
    loop {
        match classify(&buf) {
            Verdict::Line => return Arrival::Line(buf),
            Verdict::Head(head, end) => return Arrival::Http(head, buf[end..].to_vec()),
            Verdict::Drop => return Arrival::Gone,
            Verdict::More => {}
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Err(_) | Ok(Ok(0) | Err(_)) => return Arrival::Gone,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// What the first bytes of a connection make of it, as `sniff` decides: the entry the fuzz
/// target drives with bytes from anywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirstBytes {
    /// A line client.
    Line,
    /// Not decided yet: more bytes are needed.
    Undecided,
    /// An HTTP request head, complete: its path and whether it asks for a WebSocket.
    Http { path: String, websocket: bool },
    /// An HTTP request line whose head is not HTTP, or runs past 8 KiB: the connection is
    /// dropped.
    BadHead,
}

pub fn first_bytes(buf: &[u8]) -> FirstBytes {
    match classify(buf) {
        Verdict::Line => FirstBytes::Line,
        Verdict::More => FirstBytes::Undecided,
        Verdict::Head(h, _) => FirstBytes::Http { path: h.path, websocket: h.upgrade_websocket },
        Verdict::Drop => FirstBytes::BadHead,
    }
}

/// `sniff`'s decision on the bytes read so far.
enum Verdict {
    Line,
    More,
    /// A complete request head, and where the bytes after it start.
    Head(Head, usize),
    Drop,
}

fn classify(buf: &[u8]) -> Verdict {
    match looks_like_http(buf) {
        Some(false) => Verdict::Line,
        None => Verdict::More,
        Some(true) => match find(buf, b"\r\n\r\n").map(|i| i + 4) {
            Some(end) => parse_head(&buf[..end]).map_or(Verdict::Drop, |h| Verdict::Head(h, end)),
            None if buf.len() > MAX_HEAD => Verdict::Drop,
            None => Verdict::More,
        },
    }
}

/// Whether bytes start an HTTP/1.x request line (`GET /path HTTP/1.1`); `None` while the
/// first line is not complete and could still be one.
fn looks_like_http(buf: &[u8]) -> Option<bool> {
    let line_end = buf.iter().position(|&b| b == b'\n');
    let line = &buf[..line_end.unwrap_or(buf.len())];
    let method_len = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
    if method_len == 0 || method_len > 16 || !line[..method_len].iter().all(u8::is_ascii_uppercase) {
        return Some(false);
    }
    match line_end {
        None if buf.len() > MAX_HEAD => Some(false),
        None => None,
        Some(_) => {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let mut parts = line.split(|&b| b == b' ');
            let (_, target, version) = (parts.next(), parts.next(), parts.next());
            Some(
                parts.next().is_none()
                    && target.is_some_and(|t| t.starts_with(b"/"))
                    && version.is_some_and(|v| v.starts_with(b"HTTP/1.")),
            )
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn parse_head(bytes: &[u8]) -> Option<Head> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    if !matches!(req.parse(bytes), Ok(httparse::Status::Complete(_))) {
        return None;
    }
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_string())
    };
    let has_token = |name: &str, token: &str| {
        header(name).is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    Some(Head {
        method: req.method?.to_string(),
        path: req.path?.split('?').next().unwrap_or("/").to_string(),
        host: header("host"),
        origin: header("origin"),
        upgrade_websocket: has_token("upgrade", "websocket") && has_token("connection", "upgrade"),
        key: header("sec-websocket-key"),
        version_13: header("sec-websocket-version").as_deref() == Some("13"),
        browser: header("user-agent").is_some_and(|ua| ua.starts_with("Mozilla/")),
    })
}

/// Which browser pages may open the room's WebSocket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origins {
    /// Origins allowed besides the room's own (`http://host:port` as the browser sends it).
    pub allowed: Vec<String>,
}

impl Origins {
    /// A request with no Origin is not from a browser page (websocat, scripts): nothing to
    /// protect. A page's Origin must name the host the request was sent to, or be allowed.
    fn admit(&self, head: &Head) -> bool {
        let Some(origin) = &head.origin else { return true };
        if self.allowed.iter().any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin)) {
            return true;
        }
        let own = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"));
        matches!((own, &head.host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
    }
}

/// What an HTTP request came to.
pub(super) enum Served<S> {
    /// Answered (the page, or an error) and closed.
    Done,
    /// Upgraded: a WebSocket member's socket, and the bytes read after the request.
    Member(S, Vec<u8>),
}

/// Answer one request: the page, an upgrade to a WebSocket, or a short error.
pub(super) async fn serve_http<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    head: Head,
    rest: Vec<u8>,
    origins: &Origins,
) -> io::Result<Served<S>> {
    let is_get = head.method == "GET" || head.method == "HEAD";
    match head.path.as_str() {
        "/ws" if head.method == "GET" => {
            let key = match (&head.key, head.upgrade_websocket, head.version_13) {
                (Some(k), true, true) => k.clone(),
                _ => return respond(&mut stream, 400, "Bad Request", "a WebSocket upgrade is expected here\n").await,
            };
            if !origins.admit(&head) {
                return respond(&mut stream, 403, "Forbidden", "this page's origin may not join the room\n").await;
            }
            let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
            let reply = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
            );
            stream.write_all(reply.as_bytes()).await?;
            stream.flush().await?;
            Ok(Served::Member(stream, rest))
        }
        "/" | "/index.html" if is_get => {
            let head_only = head.method == "HEAD";
            let headers = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
                 Cache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n\
                 Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; img-src data:\r\n\
                 Connection: close\r\n\r\n",
                PAGE.len()
            );
            stream.write_all(headers.as_bytes()).await?;
            if !head_only {
                stream.write_all(PAGE.as_bytes()).await?;
            }
            stream.flush().await?;
            let _ = stream.shutdown().await;
            Ok(Served::Done)
        }
        "/" | "/index.html" | "/ws" => respond(&mut stream, 405, "Method Not Allowed", "only GET here\n").await,
        _ => respond(&mut stream, 404, "Not Found", "the room is at /\n").await,
    }
}

async fn respond<S: AsyncWrite + Unpin, T>(
    stream: &mut S,
    code: u16,
    reason: &str,
    body: &str,
) -> io::Result<Served<T>> {
    let text = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(text.as_bytes()).await?;
    stream.flush().await?;
    let _ = stream.shutdown().await;
    Ok(Served::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_is_told_from_chat_lines() {
        assert_eq!(looks_like_http(b"GET / HTTP/1.1\r\nHost: x\r\n"), Some(true));
        assert_eq!(looks_like_http(b"GET /ws HTTP/1.0\n"), Some(true));
        assert_eq!(looks_like_http(b"GET / HT"), None);
        assert_eq!(looks_like_http(b"GET ready for lunch?\n"), Some(false));
        assert_eq!(looks_like_http(b"hello\n"), Some(false));
        assert_eq!(looks_like_http(b"/nick bob\n"), Some(false));
        assert_eq!(looks_like_http(b"\x16\x03\x01"), Some(false));
        assert_eq!(looks_like_http(b"GET / HTTP/1.1 extra\n"), Some(false));
    }

    #[test]
    fn origins_are_the_rooms_own_or_allowed() {
        let head = |origin: Option<&str>| Head {
            method: "GET".into(),
            path: "/ws".into(),
            host: Some("127.0.0.1:40000".into()),
            origin: origin.map(String::from),
            upgrade_websocket: true,
            key: Some("k".into()),
            version_13: true,
            browser: true,
        };
        let none = Origins::default();
        assert!(none.admit(&head(None)), "not a browser");
        assert!(none.admit(&head(Some("http://127.0.0.1:40000"))));
        assert!(none.admit(&head(Some("https://127.0.0.1:40000"))));
        assert!(!none.admit(&head(Some("http://evil.example"))));
        assert!(!none.admit(&head(Some("http://127.0.0.1:40001"))));
        let some = Origins { allowed: vec!["http://class.example/".into()] };
        assert!(some.admit(&head(Some("http://class.example"))));
    }

    #[test]
    fn heads_are_read_with_their_upgrade() {
        let h = parse_head(
            b"GET /ws?x=1 HTTP/1.1\r\nHost: h:1\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n\
              Sec-WebSocket-Key: abc\r\nSec-WebSocket-Version: 13\r\nOrigin: http://h:1\r\n\r\n",
        )
        .expect("a head");
        assert_eq!((h.path.as_str(), h.upgrade_websocket, h.version_13), ("/ws", true, true));
        assert_eq!(
            (h.key.as_deref(), h.origin.as_deref(), h.host.as_deref()),
            (Some("abc"), Some("http://h:1"), Some("h:1"))
        );
        assert!(parse_head(b"GET / HTTP/1.1\r\nBad Header\r\n\r\n").is_none());
    }
}
