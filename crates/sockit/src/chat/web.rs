//! The chat in a browser, on the chat port itself: a connection is told apart by its first
//! bytes (an HTTP request line, or anything else: a line client), `GET /` is the page and
//! `GET /ws` a WebSocket whose text frames are the member's lines. A WebSocket member is a
//! member like any other: the room sees its lines through the same framer, rate limit, queue
//! and stall rules as a line client's.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use sockit_core::chat::{Frame, LineFramer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

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

/// Small buffers (an idle member costs little), and a message limit past which the member is
/// closed with 1009: lines longer than `max_line` but under it are refused with a notice, as a
/// line client's are.
fn config(max_line: usize) -> WebSocketConfig {
    let limit = (max_line.saturating_mul(2)).max(64 * 1024);
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(64 * 1024)
        .max_write_buffer_size(1 << 20)
        .max_message_size(Some(limit))
        .max_frame_size(Some(limit))
}

/// Why the server closes a WebSocket member, for its close frame.
pub(super) type CloseSlot = Arc<Mutex<Option<(CloseCode, &'static str)>>>;

/// The most control-frame bytes (pongs, a close reply) the reading side may leave for the
/// writer: a client that pings and never reads is disconnected past it.
const MAX_CONTROL: usize = 64 * 1024;

/// Frames the WebSocket layer of the reading side sends (pongs, its answer to a close), left
/// for the member's writer, which sends them between its own frames: one writer per socket, so
/// frames never interleave.
#[derive(Default)]
pub(super) struct Control {
    queued: Mutex<ControlQueue>,
    ready: tokio::sync::Notify,
}

#[derive(Default)]
struct ControlQueue {
    bytes: Vec<u8>,
    /// A close frame was queued: the connection's last frame has been written.
    closed: bool,
}

impl Control {
    fn take(&self, into: &mut Vec<u8>) -> bool {
        let mut q = self.queued.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        into.append(&mut q.bytes);
        q.closed
    }
}

/// The socket as the reading side's WebSocket layer sees it: reads from the socket, writes
/// into `Control`. The layer hands over whole frames in each write.
pub(super) struct ReadSide<S> {
    rd: tokio::io::ReadHalf<S>,
    control: Arc<Control>,
}

impl<S: AsyncRead + AsyncWrite> AsyncRead for ReadSide<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut self.rd).poll_read(cx, buf)
    }
}

impl<S> AsyncWrite for ReadSide<S> {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        frames: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        let mut q = self.control.queued.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Pings answered faster than the client reads: only the newest pong is sent, as RFC
        // 6455 (5.5.3) allows, so a ping flood queues one pong, not one a ping.
        if one_frame(frames) == Some(0xA) && one_frame(&q.bytes) == Some(0xA) {
            q.bytes.clear();
        }
        if q.bytes.len() + frames.len() > MAX_CONTROL {
            return std::task::Poll::Ready(Err(io::Error::other("control frames not taken")));
        }
        q.bytes.extend_from_slice(frames);
        q.closed |= has_close(frames);
        drop(q);
        self.control.ready.notify_one();
        std::task::Poll::Ready(Ok(frames.len()))
    }

    fn poll_flush(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// The opcodes of unmasked frames (a server's), in order, until the bytes end or stop making
/// sense.
fn opcodes(mut frames: &[u8]) -> impl Iterator<Item = (u8, bool)> {
    std::iter::from_fn(move || {
        let [first, second, rest @ ..] = frames else { return None };
        let (len, rest) = match second & 0x7f {
            126 if rest.len() >= 2 => (usize::from(u16::from_be_bytes([rest[0], rest[1]])), &rest[2..]),
            127 if rest.len() >= 8 => {
                let mut n = [0; 8];
                n.copy_from_slice(&rest[..8]);
                (usize::try_from(u64::from_be_bytes(n)).unwrap_or(usize::MAX), &rest[8..])
            }
            126 | 127 => return None,
            n => (usize::from(n), rest),
        };
        let opcode = first & 0x0f;
        frames = rest.get(len..).unwrap_or_default();
        // (opcode, whether this frame ended exactly where the bytes do)
        Some((opcode, frames.is_empty() && rest.len() == len))
    })
}

/// Whether unmasked frames hold a close frame.
fn has_close(frames: &[u8]) -> bool {
    opcodes(frames).any(|(op, _)| op == 0x8)
}

/// The opcode of `frames` if they are exactly one whole frame.
fn one_frame(frames: &[u8]) -> Option<u8> {
    match opcodes(frames).next() {
        Some((op, true)) => Some(op),
        _ => None,
    }
}

/// A server's (unmasked) frame: FIN, `opcode`, `payload`.
fn frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    out.push(0x80 | opcode);
    match payload.len() {
        n @ 0..=125 => out.push(n as u8),
        n @ 126..=0xffff => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
}

/// A WebSocket member's frames, as lines for the framer.
pub(super) struct WsIn<S> {
    pub inner: WebSocketStream<ReadSide<S>>,
    pub close: CloseSlot,
}

/// Lines to a WebSocket member, a text frame each, framed here: every frame of a batch goes
/// out in one write, with the reading side's pongs ahead of them.
pub(super) struct WsOut<S> {
    wr: tokio::io::WriteHalf<S>,
    control: Arc<Control>,
    close: CloseSlot,
}

/// A member's socket after the upgrade, as its two halves: reading through the WebSocket
/// layer, writing frames of our own. They share the close reason and the control frames.
pub(super) async fn member<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    rest: Vec<u8>,
    max_line: usize,
) -> (WsIn<S>, WsOut<S>) {
    let (rd, wr) = tokio::io::split(stream);
    let control = Arc::new(Control::default());
    let read_side = ReadSide { rd, control: Arc::clone(&control) };
    let ws = WebSocketStream::from_partially_read(read_side, rest, Role::Server, Some(config(max_line))).await;
    let close: CloseSlot = Arc::default();
    (WsIn { inner: ws, close: Arc::clone(&close) }, WsOut { wr, control, close })
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> WsIn<S> {
    /// One text frame is one line (a newline inside it is a space); binary frames, invalid
    /// UTF-8, oversized messages and protocol errors end the member with the close code
    /// that says why. Pings are answered by the WebSocket layer itself.
    pub(super) async fn next_lines(&mut self, framer: &mut LineFramer, frames: &mut Vec<Frame>) -> bool {
        loop {
            let why = match self.inner.next().await {
                Some(Ok(Message::Text(t))) => {
                    // A frame is a line: the end of line some clients send (websocat) is
                    // dropped, one inside it becomes a space.
                    let text = t.as_str();
                    let text = text.strip_suffix('\n').map_or(text, |t| t.strip_suffix('\r').unwrap_or(t));
                    let mut line: Vec<u8> =
                        text.bytes().map(|b| if b == b'\n' || b == b'\r' { b' ' } else { b }).collect();
                    line.push(b'\n');
                    framer.feed(&line, frames);
                    return true;
                }
                Some(Ok(Message::Binary(_))) => (CloseCode::Unsupported, "binary frames are not chat lines"),
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                Some(Ok(Message::Close(_))) | None => return false,
                Some(Err(WsError::Utf8(_))) => (CloseCode::Invalid, "text frames must be UTF-8"),
                Some(Err(WsError::Capacity(_))) => (CloseCode::Size, "message too long"),
                Some(Err(WsError::Protocol(_))) => (CloseCode::Protocol, "protocol error"),
                Some(Err(_)) => return false,
            };
            *self.close.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(why);
            return false;
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> WsOut<S> {
    /// Whole lines, each a text frame, after any control frames waiting: written in chunks of
    /// up to 32 KiB, framed into a buffer that is given back afterwards (an idle member holds
    /// none).
    pub(super) async fn send_lines(&mut self, pieces: &[std::sync::Arc<str>]) -> io::Result<()> {
        const CHUNK: usize = 32 * 1024;
        let size: usize = pieces.iter().map(|p| p.len() + 16).sum();
        let mut buf = Vec::with_capacity(size.min(CHUNK) + 16);
        // After the answer to the client's close, nothing more may follow.
        let pieces = if self.control.take(&mut buf) { &[] } else { pieces };
        for piece in pieces {
            for line in piece.split('\n').filter(|l| !l.is_empty()) {
                frame(&mut buf, 0x1, line.as_bytes());
                if buf.len() >= CHUNK {
                    self.wr.write_all(&buf).await?;
                    buf.clear();
                }
            }
        }
        self.wr.write_all(&buf).await?;
        self.wr.flush().await
    }

    /// Resolves when the reading side has left control frames to send.
    pub(super) fn wants(&self) -> impl Future<Output = ()> + Send + 'static {
        let control = Arc::clone(&self.control);
        async move { control.ready.notified().await }
    }

    /// A close frame saying why (a normal close when nothing went wrong), unless one went
    /// already (the answer to the client's), then the end.
    pub(super) async fn close(&mut self) {
        let (code, reason) = self
            .close
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
            .unwrap_or((CloseCode::Normal, "bye"));
        let mut out = Vec::new();
        if !self.control.take(&mut out) {
            let mut payload = u16::from(code).to_be_bytes().to_vec();
            payload.extend_from_slice(reason.as_bytes());
            frame(&mut out, 0x8, &payload);
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            self.wr.write_all(&out).await?;
            self.wr.flush().await
        })
        .await;
        let _ = self.wr.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_written_and_read_back() {
        let mut out = Vec::new();
        frame(&mut out, 0x1, b"hi");
        assert_eq!(out, b"\x81\x02hi");
        let long = vec![b'x'; 300];
        frame(&mut out, 0xA, &long);
        assert_eq!(&out[4..8], &[0x8A, 126, 1, 44]);
        let huge = vec![b'y'; 70_000];
        let mut big = Vec::new();
        frame(&mut big, 0x8, &huge);
        assert_eq!(&big[..10], &[0x88, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
        assert_eq!(opcodes(&out).collect::<Vec<_>>(), [(0x1, false), (0xA, true)]);
        assert!(!has_close(&out) && has_close(&big));
        assert_eq!(one_frame(&out[4..]), Some(0xA));
        assert_eq!(one_frame(&out), None);
        // Cut short or garbage: no frame, no panic.
        assert_eq!(one_frame(&out[4..100]), None);
        assert_eq!(one_frame(&[0x8A]), None);
        assert!(!has_close(&[0x81, 127, 0xff]));
        assert!(!has_close(&[0x81, 127, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x88, 0]));
    }

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
