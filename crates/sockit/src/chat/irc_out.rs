//! An IRC member's writer: the room's lines in IRC's terms (a line said is a PRIVMSG to the
//! channel, shared by every IRC member; what names its reader is made for it), with the tags
//! it asked for.

use std::sync::Arc;

use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::irc_ask::{AWAY, Ctx, TIME};
use super::piece::{Line, View, What};
use super::room::Shared;
use super::wire::Outlet;

/// The way out to an IRC member.
pub(super) struct IrcOut<W> {
    pub(super) w: W,
    pub(super) shared: Arc<Shared>,
    pub(super) ctx: Arc<Ctx>,
    /// The member's id, once it is in the room (its nick is asked of the room by it).
    pub(super) id: Option<u64>,
}

impl<W: AsyncWrite + Unpin + Send + 'static> Outlet for IrcOut<W> {
    async fn send(&mut self, pieces: &[Line]) -> std::io::Result<()> {
        let mut buf = String::with_capacity(pieces.iter().map(|p| p.len() * 2 + 64).sum::<usize>().min(256 * 1024));
        // The reader's nick, asked of the room only for a piece that names it.
        let mut me: Option<String> = None;
        for p in pieces {
            let names_reader = !matches!(p.what, What::Said { .. } | What::Action { .. } | What::Irc | What::Text);
            if names_reader && me.is_none() {
                let room = self.shared.lock();
                me = Some(self.id.and_then(|id| room.members.get(&id)).map(|m| m.nick.clone()).unwrap_or_default());
            }
            let view = View {
                server: &self.ctx.server,
                channel: &self.ctx.channel,
                me: me.as_deref().unwrap_or("*"),
                time: self.ctx.has(TIME),
                away: self.ctx.has(AWAY),
                batch: None,
            };
            p.irc(&view, &mut buf);
        }
        self.w.write_all(buf.as_bytes()).await?;
        self.w.flush().await
    }

    async fn close(&mut self) {
        let _ = self.w.shutdown().await;
    }

    fn admitted(&mut self, id: u64) {
        self.id = Some(id);
    }
}
