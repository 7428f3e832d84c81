//! WebSocket members of the room: tungstenite reads their frames (and answers pings and
//! closes through the member's writer); sockit writes a text frame a line, a batch of them in
//! one write.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use sockit_core::chat::{Frame, LineFramer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// Small buffers (an idle member costs little), and a message limit past which the member is
/// closed with 1009: lines longer than `max_line` but within a KiB of it are refused with a
/// notice, as a line client's are. The limit bounds what an unfinished (fragmented) message
/// holds, as `max_line` bounds a line client's unfinished line.
fn config(max_line: usize) -> WebSocketConfig {
    let limit = max_line.saturating_add(1024);
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
    /// The WebSocket layer's answer to the client's close: the connection's last frame, unless
    /// the server closes for a reason of its own (a close code the client may not send).
    close_reply: Option<Vec<u8>>,
    /// The client closed: no more lines go to it.
    closed: bool,
}

impl Control {
    /// Take the frames waiting (pongs); whether the client has closed.
    fn take(&self, into: &mut Vec<u8>) -> bool {
        let mut q = self.queued.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        into.append(&mut q.bytes);
        q.closed
    }

    fn take_close_reply(&self) -> Option<Vec<u8>> {
        self.queued.lock().unwrap_or_else(std::sync::PoisonError::into_inner).close_reply.take()
    }
}

/// Whether a close code may be sent on the wire (RFC 6455 7.4): 1004-1006 and 1015 are reserved
/// for endpoints' own use, codes below 1000 and unassigned ones are invalid.
fn close_code_ok(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
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
        // The answer to a close is kept apart: the writer decides what the last frame is.
        let (before, close) = frames.split_at(close_at(frames).unwrap_or(frames.len()));
        q.bytes.extend_from_slice(before);
        if !close.is_empty() {
            q.closed = true;
            q.close_reply = Some(close.to_vec());
        }
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
#[cfg(test)]
fn has_close(frames: &[u8]) -> bool {
    close_at(frames).is_some()
}

/// Where the first close frame of unmasked frames starts.
fn close_at(frames: &[u8]) -> Option<usize> {
    let mut at = 0;
    while let [first, second, rest @ ..] = &frames[at..] {
        if first & 0x0f == 0x8 {
            return Some(at);
        }
        let (head, len) = match second & 0x7f {
            126 if rest.len() >= 2 => (4, usize::from(u16::from_be_bytes([rest[0], rest[1]]))),
            127 if rest.len() >= 8 => {
                let mut n = [0; 8];
                n.copy_from_slice(&rest[..8]);
                (10, usize::try_from(u64::from_be_bytes(n)).unwrap_or(usize::MAX))
            }
            126 | 127 => return None,
            n => (2, usize::from(n)),
        };
        at = at.checked_add(head)?.checked_add(len)?;
        if at > frames.len() {
            return None;
        }
    }
    None
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
        n @ 0..=125 => out.push(u8::try_from(n).unwrap_or(125)),
        n @ 126..=0xffff => {
            out.push(126);
            out.extend_from_slice(&u16::try_from(n).unwrap_or(u16::MAX).to_be_bytes());
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
                // A close code the client may not send: the WebSocket layer hands it over as
                // 1002 (and would answer so, but its answer is written only by a later poll
                // that never comes); the server answers 1002 itself.
                Some(Ok(Message::Close(Some(f))))
                    if f.code == CloseCode::Protocol || !close_code_ok(u16::from(f.code)) =>
                {
                    (CloseCode::Protocol, "that close code may not be sent")
                }
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
    pub(super) async fn send_lines(&mut self, pieces: &[super::piece::Line]) -> io::Result<()> {
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
        let ours = self.close.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        let mut out = Vec::new();
        self.control.take(&mut out);
        match (ours, self.control.take_close_reply()) {
            // The client closed and nothing went wrong: the WebSocket layer's answer.
            (None, Some(reply)) => out.extend_from_slice(&reply),
            (ours, _) => {
                let (code, reason) = ours.unwrap_or((CloseCode::Normal, "bye"));
                let mut payload = u16::from(code).to_be_bytes().to_vec();
                payload.extend_from_slice(reason.as_bytes());
                frame(&mut out, 0x8, &payload);
            }
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
        let mut pong_then_close = Vec::new();
        frame(&mut pong_then_close, 0xA, b"p");
        frame(&mut pong_then_close, 0x8, b"\x03\xe8");
        assert_eq!(close_at(&pong_then_close), Some(3));
        assert_eq!(close_at(&out), None);
        assert!(close_code_ok(1000) && close_code_ok(4000) && !close_code_ok(1005) && !close_code_ok(999));
        assert!(!close_code_ok(1006) && !close_code_ok(1015) && !close_code_ok(2999) && !close_code_ok(5000));
        assert_eq!(one_frame(&out[4..]), Some(0xA));
        assert_eq!(one_frame(&out), None);
        // Cut short or garbage: no frame, no panic.
        assert_eq!(one_frame(&out[4..100]), None);
        assert_eq!(one_frame(&[0x8A]), None);
        assert!(!has_close(&[0x81, 127, 0xff]));
        assert!(!has_close(&[0x81, 127, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x88, 0]));
    }
}
