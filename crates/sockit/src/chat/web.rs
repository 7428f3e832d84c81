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
    /// An HTTP request the room does not serve (another HTTP version, a proxy's request
    /// form): answered with this status and closed, never taken for a member.
    Refused(Refusal),
    /// Gone, or an HTTP request not finished in time (already answered if it could be).
    Gone,
}

/// An answer given to an HTTP request line the room does not serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub code: u16,
    pub reason: &'static str,
    pub body: &'static str,
}

const NOT_HTTP_1: Refusal =
    Refusal { code: 505, reason: "HTTP Version Not Supported", body: "the room speaks HTTP/1.0 and HTTP/1.1\n" };
const NOT_A_PROXY: Refusal =
    Refusal { code: 400, reason: "Bad Request", body: "this is a chat room, not a proxy: ask for / or /ws\n" };

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
    pub(super) fn path(&self) -> &str {
        &self.path
    }

    pub(super) fn is_get(&self) -> bool {
        self.method == "GET"
    }

    /// A browser loading a page: it may open spare sockets to this port, silent for a while.
    pub(super) fn is_browser_page_load(&self) -> bool {
        self.browser && !self.upgrade_websocket
    }
}

/// How long a silent connection that may be a browser's spare socket is given to speak: a
/// browser closes a spare it has not used after 10 s (Chromium's pool), so one still open and
/// silent after this is a person at `nc`, and is welcomed.
const SPARE_SOCKET: Duration = Duration::from_secs(12);

/// How close to a page load a connection must come to be taken for one of its spare sockets:
/// a browser opens them as it starts loading the page (just before the request, or beside it);
/// a person starts `nc` later than that.
const NEAR_PAGE_LOAD: Duration = Duration::from_secs(5);

/// When a browser last loaded the page from each address: browsers open spare sockets they may
/// send a request on seconds later, and a welcome written to one would break that request. A
/// silent connection that came within `NEAR_PAGE_LOAD` after such a load (or before it) waits
/// for its first bytes, `SPARE_SOCKET` at most, instead of being welcomed at once. At most
/// 4,096 addresses are remembered.
#[derive(Debug, Default)]
pub(super) struct Browsers(Mutex<std::collections::HashMap<std::net::IpAddr, std::time::Instant>>);

impl Browsers {
    pub(super) fn saw(&self, ip: std::net::IpAddr) {
        let mut seen = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = std::time::Instant::now();
        if seen.len() >= 4096 {
            seen.retain(|_, t| now.duration_since(*t) < SPARE_SOCKET + NEAR_PAGE_LOAD);
        }
        if seen.len() < 4096 {
            seen.insert(ip, now);
        }
    }

    /// Whether a browser at `ip` loaded the page at most `NEAR_PAGE_LOAD` before `arrived`,
    /// or since.
    pub(super) fn near(&self, ip: std::net::IpAddr, arrived: std::time::Instant) -> bool {
        let seen = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.get(&ip).is_some_and(|&t| t + NEAR_PAGE_LOAD >= arrived)
    }
}

/// Tell a connection's kind from its first bytes. `web` off: what came in `FIRST_BYTES` (an IRC client
/// speaks at once), for the caller to tell IRC from a line client.
/// Waits at most `FIRST_BYTES` for a first byte (then it is a line client, unless
/// `browser_here` says it may be a browser's spare socket: then it waits for its first bytes,
/// `SPARE_SOCKET` at most, and is a line client if it is still there, silent); an
/// HTTP-looking start must complete its head before `deadline` (slowloris), or the connection
/// is dropped.
pub(super) async fn sniff<S: AsyncRead + Unpin>(
    stream: &mut S,
    web: bool,
    deadline: tokio::time::Instant,
    browser_here: &(dyn Fn() -> bool + Sync),
) -> Arrival {
    let mut chunk = [0u8; 1024];
    if !web {
        // Without the web, only an IRC client is told apart: it speaks at once.
        return match tokio::time::timeout(FIRST_BYTES, stream.read(&mut chunk)).await {
            Err(_) => Arrival::Line(Vec::new()),
            Ok(Ok(0) | Err(_)) => Arrival::Gone,
            Ok(Ok(n)) => Arrival::Line(chunk[..n].to_vec()),
        };
    }
    let mut buf = Vec::with_capacity(512);
    let first = match tokio::time::timeout(FIRST_BYTES, stream.read(&mut chunk)).await {
        Err(_) if !browser_here() => return Arrival::Line(Vec::new()),
        Err(_) => match tokio::time::timeout(SPARE_SOCKET.saturating_sub(FIRST_BYTES), stream.read(&mut chunk)).await {
            // A browser would have closed its spare by now: a person who has not typed yet.
            Err(_) => return Arrival::Line(Vec::new()),
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
            Verdict::Refuse(r) => return Arrival::Refused(r),
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
    /// An HTTP request the room answers with an error status and never takes for a member.
    Refused(u16),
}

pub fn first_bytes(buf: &[u8]) -> FirstBytes {
    match classify(buf) {
        Verdict::Line => FirstBytes::Line,
        Verdict::More => FirstBytes::Undecided,
        Verdict::Head(h, _) => FirstBytes::Http { path: h.path, websocket: h.upgrade_websocket },
        Verdict::Refuse(r) => FirstBytes::Refused(r.code),
        Verdict::Drop => FirstBytes::BadHead,
    }
}

/// `sniff`'s decision on the bytes read so far.
enum Verdict {
    Line,
    More,
    /// A complete request head, and where the bytes after it start.
    Head(Head, usize),
    /// A request line answered with an error at once.
    Refuse(Refusal),
    Drop,
}

fn classify(buf: &[u8]) -> Verdict {
    // (An IRC client registering, whose lines may end in a CR alone, is no HTTP request.)
    if sockit_core::irc::opens(buf) {
        return Verdict::Line;
    }
    match request_line(buf) {
        Request::Not => Verdict::Line,
        Request::Unfinished => Verdict::More,
        Request::Refuse(r) => Verdict::Refuse(r),
        Request::Http1 => match head_end(buf) {
            Some(end) => parse_head(&buf[..end]).map_or(Verdict::Drop, |h| Verdict::Head(h, end)),
            None if buf.len() > MAX_HEAD => Verdict::Drop,
            None => Verdict::More,
        },
    }
}

/// What the first line of a connection is, as far as HTTP goes.
#[derive(Debug, PartialEq, Eq)]
enum Request {
    /// Not an HTTP request line: a chat line.
    Not,
    /// Not complete yet, and could still be one.
    Unfinished,
    /// `METHOD /path HTTP/1.x`: served.
    Http1,
    /// An HTTP request the room does not serve: HTTP/0.9 (`GET /path`), HTTP/2's preface or
    /// any other version, a proxy's absolute or authority form.
    Refuse(Refusal),
}

/// Whether bytes start an HTTP request line; the method is upper-case letters (as every
/// registered one is), the target a path, `*`, an absolute URL or `host:port`.
fn request_line(buf: &[u8]) -> Request {
    let line_end = buf.iter().position(|&b| b == b'\n');
    let line = &buf[..line_end.unwrap_or(buf.len())];
    let method_len = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
    if method_len == 0 || method_len > 16 || !line[..method_len].iter().all(u8::is_ascii_uppercase) {
        return Request::Not;
    }
    if line_end.is_none() {
        return if buf.len() > MAX_HEAD { Request::Not } else { Request::Unfinished };
    }
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let parts: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    let method = parts[0];
    match parts.as_slice() {
        // HTTP/0.9: a GET and a path, nothing more.
        [_, target] if method == b"GET" && target.starts_with(b"/") => Request::Refuse(NOT_HTTP_1),
        [_, target, version] if is_version(version) => {
            let origin_form = target.starts_with(b"/");
            let asterisk = *target == b"*";
            let absolute = target.windows(3).any(|w| w == b"://");
            let authority = method == b"CONNECT";
            if !version.starts_with(b"HTTP/1.") {
                Request::Refuse(NOT_HTTP_1)
            } else if absolute || authority {
                Request::Refuse(NOT_A_PROXY)
            } else if origin_form || asterisk {
                Request::Http1
            } else {
                Request::Not
            }
        }
        _ => Request::Not,
    }
}

/// `HTTP/` and a version number (`1.1`, `2.0`, `3`).
fn is_version(v: &[u8]) -> bool {
    v.strip_prefix(b"HTTP/").is_some_and(|n| {
        !n.is_empty() && n.len() <= 3 && n.iter().all(|&b| b.is_ascii_digit() || b == b'.') && n[0].is_ascii_digit()
    })
}

/// Where a request head ends: after its blank line, which may end in CRLF or a bare LF.
fn head_end(buf: &[u8]) -> Option<usize> {
    let mut at = 0;
    while let Some(i) = buf[at..].iter().position(|&b| b == b'\n') {
        let next = at + i + 1;
        match buf.get(next..) {
            Some([b'\n', ..]) => return Some(next + 1),
            Some([b'\r', b'\n', ..]) => return Some(next + 2),
            _ => at = next,
        }
    }
    None
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

/// Who may use the room from a browser. A request's Host must name the room: one of its
/// addresses (any of this machine's), `localhost`, this machine's name, or a name the operator
/// gave (`--web-host`); a page served under any other name that resolves here (DNS rebinding)
/// is refused. A page that opens the WebSocket must come from the room's own origin (its
/// scheme included: `https` for a TLS room) or one the operator allowed (`--web-origin`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// Origins allowed besides the room's own (`http://host:port` as the browser sends it).
    pub origins: Vec<String>,
    /// Host names allowed besides the room's addresses, `localhost` and this machine's name.
    pub hosts: Vec<String>,
    /// The room's own names and addresses, lower-case (filled in when the server starts).
    pub own: Vec<String>,
    /// The room speaks TLS: the origin of its own pages is `https://`.
    pub tls: bool,
    /// Pages served beside the room's (`sockit lab --web`'s diagram).
    pub pages: Vec<super::pages::Page>,
}

/// The host of a Host header or an origin's authority: without its port and an IPv6
/// address's brackets, lower-case, without a trailing dot.
fn host_part(authority: &str) -> String {
    let a = authority.trim();
    let host = match a.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => a.rsplit_once(':').filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit())).map_or(a, |(h, _)| h),
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

impl Policy {
    /// Whether a request's Host names the room. A request without one (HTTP/1.0, a script) is
    /// no browser's: browsers always send it.
    pub(super) fn admits_host(&self, host: Option<&str>) -> bool {
        let Some(host) = host else { return true };
        let name = host_part(host);
        if name == "localhost" || self.own.contains(&name) || self.hosts.iter().any(|h| h.eq_ignore_ascii_case(&name)) {
            return true;
        }
        // An address: the room's when it is one of this machine's (interfaces come and go).
        match name.parse::<std::net::IpAddr>() {
            Ok(ip) => ip.is_loopback() || crate::ifaces::links().iter().any(|l| l.addrs.iter().any(|a| a.addr == ip)),
            Err(_) => false,
        }
    }

    /// A request with no Origin is not from a browser page (websocat, scripts): nothing to
    /// protect. A page's Origin must be the room's own (scheme and the Host it was sent to,
    /// which `admits_host` has checked), or allowed.
    fn admits_origin(&self, head: &Head) -> bool {
        let Some(origin) = &head.origin else { return true };
        if self.origins.iter().any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin)) {
            return true;
        }
        let scheme = if self.tls { "https://" } else { "http://" };
        let own =
            origin.get(..scheme.len()).filter(|s| s.eq_ignore_ascii_case(scheme)).map(|_| &origin[scheme.len()..]);
        matches!((own, &head.host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
    }
}

/// The page's Content-Security-Policy: nothing but its own inline script and style (by their
/// SHA-256, not 'unsafe-inline'), WebSockets to itself, never framed.
fn content_security_policy() -> &'static str {
    static CSP: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    CSP.get_or_init(|| {
        let inline = |open: &str, close: &str| {
            let body = PAGE.split_once(open).and_then(|(_, r)| r.split_once(close)).map_or("", |(b, _)| b);
            let digest = ring::digest::digest(&ring::digest::SHA256, body.as_bytes());
            format!("'sha256-{}'", sockit_core::text::base64(digest.as_ref()))
        };
        format!(
            "default-src 'none'; style-src {}; script-src {}; connect-src 'self'; img-src data:; \
             frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
            inline("<style>", "</style>"),
            inline("<script>", "</script>")
        )
    })
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
    policy: &Policy,
) -> io::Result<Served<S>> {
    let is_get = head.method == "GET" || head.method == "HEAD";
    if !policy.admits_host(head.host.as_deref()) {
        let body = "this host name is not the room's: open the room by its address, localhost or this machine's name\n";
        return respond(&mut stream, 403, "Forbidden", body).await;
    }
    if let Some(page) = policy.pages.iter().find(|p| p.path == head.path).filter(|_| is_get) {
        super::pages::serve(&mut stream, page, head.method == "HEAD").await?;
        return Ok(Served::Done);
    }
    match head.path.as_str() {
        "/ws" if head.method == "GET" => {
            let key = match (&head.key, head.upgrade_websocket, head.version_13) {
                (Some(k), true, true) => k.clone(),
                _ => return respond(&mut stream, 400, "Bad Request", "a WebSocket upgrade is expected here\n").await,
            };
            if !policy.admits_origin(&head) {
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
                 X-Frame-Options: DENY\r\nContent-Security-Policy: {}\r\nConnection: close\r\n\r\n",
                PAGE.len(),
                content_security_policy()
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

/// Answer a request the room does not serve, and close.
pub(super) async fn refuse<S: AsyncWrite + Unpin>(stream: &mut S, r: Refusal) {
    let _ = respond::<S, ()>(stream, r.code, r.reason, r.body).await;
}

async fn respond<S: AsyncWrite + Unpin, T>(
    stream: &mut S,
    code: u16,
    reason: &str,
    body: &str,
) -> io::Result<Served<T>> {
    respond_as(stream, code, reason, PLAIN, body).await
}

/// Plain text's content type.
pub(super) const PLAIN: &str = "text/plain; charset=utf-8";
/// Prometheus's text exposition format.
pub(super) const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A short answer of `content_type`, and close.
pub(super) async fn respond_as<S: AsyncWrite + Unpin, T>(
    stream: &mut S,
    code: u16,
    reason: &str,
    content_type: &str,
    body: &str,
) -> io::Result<Served<T>> {
    let text = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
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
        assert_eq!(request_line(b"GET / HTTP/1.1\r\nHost: x\r\n"), Request::Http1);
        assert_eq!(request_line(b"GET /ws HTTP/1.0\n"), Request::Http1);
        assert_eq!(request_line(b"OPTIONS * HTTP/1.1\r\n"), Request::Http1);
        assert_eq!(request_line(b"GET / HT"), Request::Unfinished);
        assert_eq!(request_line(b"GET ready for lunch?\n"), Request::Not);
        assert_eq!(request_line(b"hello\n"), Request::Not);
        assert_eq!(request_line(b"/nick bob\n"), Request::Not);
        assert_eq!(request_line(b"\x16\x03\x01"), Request::Not);
        assert_eq!(request_line(b"GET / HTTP/1.1 extra\n"), Request::Not);
        assert_eq!(request_line(b"OK then HTTP/1.1\n"), Request::Not, "a target that is no target");
        // Requests the room answers with an error, never a member.
        assert_eq!(request_line(b"GET /\r\n"), Request::Refuse(NOT_HTTP_1), "HTTP/0.9");
        assert_eq!(request_line(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), Request::Refuse(NOT_HTTP_1));
        assert_eq!(request_line(b"GET / HTTP/3\r\n"), Request::Refuse(NOT_HTTP_1));
        assert_eq!(request_line(b"GET http://a.test/ HTTP/1.1\r\n"), Request::Refuse(NOT_A_PROXY));
        assert_eq!(request_line(b"CONNECT a.test:443 HTTP/1.1\r\n"), Request::Refuse(NOT_A_PROXY));
        // A head's end: CRLF or bare LF lines.
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nrest"), Some(27));
        assert_eq!(head_end(b"GET / HTTP/1.1\nHost: x\n\nrest"), Some(24));
        assert_eq!(head_end(b"GET / HTTP/1.1\nHost: x\n"), None);
        assert!(matches!(classify(b"GET / HTTP/1.1\nHost: x\n\n"), Verdict::Head(..)));
    }

    fn head(host: Option<&str>, origin: Option<&str>) -> Head {
        Head {
            method: "GET".into(),
            path: "/ws".into(),
            host: host.map(String::from),
            origin: origin.map(String::from),
            upgrade_websocket: true,
            key: Some("k".into()),
            version_13: true,
            browser: true,
        }
    }

    #[test]
    fn origins_are_the_rooms_own_or_allowed() {
        let at = |origin: Option<&str>| head(Some("127.0.0.1:40000"), origin);
        let none = Policy::default();
        assert!(none.admits_origin(&at(None)), "not a browser");
        assert!(none.admits_origin(&at(Some("http://127.0.0.1:40000"))));
        assert!(!none.admits_origin(&at(Some("https://127.0.0.1:40000"))), "an https page on a plain room");
        assert!(!none.admits_origin(&at(Some("http://evil.example"))));
        assert!(!none.admits_origin(&at(Some("http://127.0.0.1:40001"))));
        let tls = Policy { tls: true, ..Policy::default() };
        assert!(tls.admits_origin(&at(Some("https://127.0.0.1:40000"))));
        assert!(!tls.admits_origin(&at(Some("http://127.0.0.1:40000"))));
        let some = Policy { origins: vec!["http://class.example/".into()], ..Policy::default() };
        assert!(some.admits_origin(&at(Some("http://class.example"))));
    }

    #[test]
    fn hosts_name_the_room_or_are_refused() {
        let p = Policy { hosts: vec!["chat.example".into()], own: vec!["vm".into()], ..Policy::default() };
        for ok in ["127.0.0.1:40000", "localhost:40000", "LOCALHOST", "[::1]:40000", "vm:1", "vm.", "chat.example:8"] {
            assert!(p.admits_host(Some(ok)), "{ok}");
        }
        for bad in ["evil.test:40000", "evil.test", "localhost.evil.test", "192.0.2.1:40000", "[2001:db8::1]:1"] {
            assert!(!p.admits_host(Some(bad)), "{bad}");
        }
        assert!(p.admits_host(None), "no Host: not a browser");
        assert_eq!(host_part("[::1]:80"), "::1");
        assert_eq!(host_part("Example.TEST.:80"), "example.test");
    }

    #[test]
    fn the_page_runs_only_its_own_script() {
        let csp = content_security_policy();
        assert!(!csp.contains("unsafe-inline") && csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(csp.matches("'sha256-").count(), 2, "{csp}");
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
