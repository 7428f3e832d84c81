//! Slides 6 and 7: a multi-user chat server, its client, and discovery on the LAN by UDP
//! broadcast. The protocol itself (framing, commands, nicks, datagrams) is
//! `sockit_core::chat`.
//!
//! The server's rooms, from the door inwards: `config` (what `chat serve` is told), `server` (run, serve: binding, discovery answers,
//! shutdown), `listener` (a new connection: TLS, line client or browser), `web` (the page and
//! WebSocket members), `session` (one member's reader and writer), `queue` (a member's bounded
//! queue and the stall window), `room` (who is in it, notices, history), `events` (what the
//! console is told), `metrics` (what an operator's scraper is told), `reload` (SIGHUP's new configuration); a cluster adds `link` (the broker and the outbox), `peers` (the other
//! servers as known) and `cluster` (their messages taken into the room). IRC members come in by
//! `irc` (registration) and speak through `irc_talk`, `irc_ask` and `irc_out`; IRC's other
//! channels are `channels` (their state and rules) and `irc_chan` (their commands).

mod channels;
pub mod client;
pub mod cluster;
pub mod config;
pub mod discovery;
pub mod events;
mod irc;
mod irc_ask;
mod irc_chan;
mod irc_out;
mod irc_talk;
pub mod link;
mod listener;
mod metrics;
pub mod pages;
mod peers;
mod piece;
mod queue;
pub mod reload;
mod room;
pub mod server;
mod session;
pub mod web;
mod wire;
mod ws;
