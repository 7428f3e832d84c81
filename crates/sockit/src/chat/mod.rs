//! Slides 6 and 7: a multi-user chat server, its client, and discovery on the LAN by UDP
//! broadcast. The protocol itself (framing, commands, nicks, datagrams) is
//! `sockit_core::chat`.

pub mod client;
pub mod cluster;
pub mod discovery;
pub mod server;
pub mod web;
