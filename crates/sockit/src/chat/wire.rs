//! How a member's bytes come and go: an outlet takes its queued lines (a byte stream as they
//! are, a WebSocket a text frame a line), a source gives its bytes to the framer (a socket read
//! only once it has data, TLS, a WebSocket's text frames).

use sockit_core::chat::{Frame, LineFramer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::tcp::OwnedReadHalf;

use super::piece::Line;

/// Where a client's lines go.
pub(super) trait Outlet: Send + 'static {
    /// Send whole lines, and flush them out.
    fn send(&mut self, pieces: &[Line]) -> impl Future<Output = std::io::Result<()>> + Send;
    /// The end: close the way the client's kind is closed.
    fn close(&mut self) -> impl Future<Output = ()> + Send;
    /// The member's id in the room, once it is in (an outlet that names its reader asks the
    /// room for its nick by it).
    fn admitted(&mut self, _id: u64) {}
    /// Resolves when the outlet has bytes of its own to send (a WebSocket's pongs); a byte
    /// stream never has.
    fn wants(&self) -> impl Future<Output = ()> + Send + 'static {
        std::future::pending()
    }
}

/// Write all of `parts` in gathered writes (one, where the stream takes it whole: nothing is
/// copied to put them together), then flush (TLS holds records back until asked; a plain
/// socket has nothing held).
pub(super) async fn write_gathered<'a, W: AsyncWrite + Unpin>(
    w: &mut W,
    parts: impl Iterator<Item = &'a [u8]>,
) -> std::io::Result<()> {
    // (Room for them all at once: a filter's collect would grow the list by doubling, a
    // reallocation and a copy at each step, for every write of every member.)
    let mut slices = Vec::with_capacity(parts.size_hint().1.unwrap_or(0));
    slices.extend(parts.filter(|b| !b.is_empty()).map(std::io::IoSlice::new));
    let mut left = &mut slices[..];
    while !left.is_empty() {
        match w.write_vectored(left).await? {
            0 => return Err(std::io::ErrorKind::WriteZero.into()),
            n => std::io::IoSlice::advance_slices(&mut left, n),
        }
    }
    w.flush().await
}

/// A byte stream (a socket, TLS) takes the lines as they are.
pub(super) struct Plain<W>(pub(super) W);

impl<W: AsyncWrite + Unpin + Send + 'static> Outlet for Plain<W> {
    /// The pieces as they are, in one gathered write where the stream takes one (a socket):
    /// nothing is copied to put them together.
    async fn send(&mut self, pieces: &[Line]) -> std::io::Result<()> {
        write_gathered(&mut self.0, pieces.iter().map(|p| p.as_bytes())).await
    }

    async fn close(&mut self) {
        let _ = self.0.shutdown().await;
    }
}

/// A WebSocket member gets a text frame a line.
impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Outlet for super::ws::WsOut<S> {
    async fn send(&mut self, pieces: &[Line]) -> std::io::Result<()> {
        self.send_lines(pieces).await
    }

    async fn close(&mut self) {
        super::ws::WsOut::close(self).await;
    }

    fn wants(&self) -> impl Future<Output = ()> + Send + 'static {
        super::ws::WsOut::wants(self)
    }
}

/// A WebSocket member's text frames are its lines.
impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Source for super::ws::WsIn<S> {
    async fn fill(&mut self, framer: &mut LineFramer, frames: &mut Vec<Frame>) -> bool {
        self.next_lines(framer, frames).await
    }
}

/// Where a client's bytes come from.
pub(super) trait Source: Send + 'static {
    /// Wait for bytes and feed them to `framer`; false at the end of the stream or on an error.
    fn fill(&mut self, framer: &mut LineFramer, frames: &mut Vec<Frame>) -> impl Future<Output = bool> + Send;
}

/// A plain socket is read only once it has data, into a buffer on the stack: an idle client
/// holds no read buffer.
impl Source for OwnedReadHalf {
    async fn fill(&mut self, framer: &mut LineFramer, frames: &mut Vec<Frame>) -> bool {
        loop {
            if self.readable().await.is_err() {
                return false;
            }
            // (On the stack, and only while reading: an idle client holds no buffer.)
            let mut buf = [0u8; 64 * 1024];
            match self.try_read(&mut buf) {
                Ok(0) => return false,
                Ok(n) => {
                    framer.feed(&buf[..n], frames);
                    return true;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => return false,
            }
        }
    }
}

/// A TLS stream decrypts into its own buffers anyway.
impl<S: AsyncRead + Send + 'static> Source for tokio::io::ReadHalf<S> {
    async fn fill(&mut self, framer: &mut LineFramer, frames: &mut Vec<Frame>) -> bool {
        let mut buf = [0u8; 4 * 1024];
        match self.read(&mut buf).await {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                framer.feed(&buf[..n], frames);
                true
            }
        }
    }
}
