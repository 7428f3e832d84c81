//! An IRC member's writer: the room's lines in IRC's terms (a line said is a PRIVMSG to the
//! channel, made once and written as it is by every IRC member's writer; what names its
//! reader is made for it), with the tags it asked for.

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
    /// The pieces every IRC member shares as they are (one gathered write, nothing copied),
    /// the others made for this reader.
    async fn send(&mut self, pieces: &[Line]) -> std::io::Result<()> {
        // The reader's nick, asked of the room only for a piece that names it.
        let mut me: Option<String> = None;
        let mut own: Vec<String> = Vec::new();
        let mut shared: Vec<Option<&str>> = Vec::with_capacity(pieces.len());
        let (time, away) = (self.ctx.has(TIME), self.ctx.has(AWAY));
        for p in pieces {
            let names_reader =
                !matches!(p.what, What::Said { .. } | What::Action { .. } | What::Irc | What::Relayed | What::Text);
            if names_reader && me.is_none() {
                let room = self.shared.lock();
                me = Some(self.id.and_then(|id| room.member(id)).map(|m| m.nick.clone()).unwrap_or_default());
            }
            let view = View {
                server: &self.ctx.server,
                channel: &self.ctx.channel,
                me: me.as_deref().unwrap_or("*"),
                time,
                away,
                batch: None,
            };
            match p.irc_shared(&view) {
                Some(s) => shared.push(Some(s)),
                None => {
                    let mut s = String::new();
                    p.irc(&view, &mut s);
                    own.push(s);
                    shared.push(None);
                }
            }
        }
        let mut own = own.iter();
        let parts = shared.iter().filter_map(|s| match s {
            Some(s) => Some(s.as_bytes()),
            None => own.next().map(String::as_bytes),
        });
        super::wire::write_gathered(&mut self.w, parts).await
    }

    async fn close(&mut self) {
        let _ = self.w.shutdown().await;
    }

    fn admitted(&mut self, id: u64) {
        self.id = Some(id);
    }
}
