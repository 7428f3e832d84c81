//! What a chat server tells its console: every join, leave, line and refusal, and what its
//! cluster link does, as typed events the binary renders (text or JSON Lines).

use std::net::SocketAddr;

/// What happened, for the server's console.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Event {
    Joined {
        nick: String,
        peer: SocketAddr,
    },
    Left {
        nick: String,
        reason: String,
    },
    /// `server`: the server of the cluster it was said on, when not this one.
    Said {
        nick: String,
        text: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        server: Option<String>,
    },
    Action {
        nick: String,
        text: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        server: Option<String>,
    },
    Renamed {
        old: String,
        new: String,
    },
    Private {
        from: String,
        to: String,
    },
    Refused {
        peer: SocketAddr,
        reason: String,
    },
    ShuttingDown {
        clients: usize,
    },
    /// The link to the cluster's broker is down / back.
    LinkDown,
    LinkUp,
    /// Numbered messages of another server that never arrived.
    Lost {
        server: String,
        messages: u64,
    },
    /// Another server fell silent and its members are gone.
    ServerGone {
        server: String,
        members: usize,
    },
    /// Messages for the cluster that did not fit in the outbox.
    ClusterDropped {
        messages: u64,
    },
    /// A new configuration is in force (SIGHUP); what only a restart changes is kept.
    Reloaded {
        #[serde(skip_serializing_if = "Option::is_none")]
        fingerprint: Option<String>,
        kept: Vec<Kept>,
    },
    /// A new configuration could not be read or used: the one in force stays.
    ReloadRefused {
        reason: String,
    },
}

/// What only a restart changes: a reload that asks for it keeps what is in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kept {
    /// The address and port the room listens on.
    Address,
    /// Where discovery probes are answered.
    Discovery,
    /// The room's name (announced in discovery and to the cluster).
    Name,
    /// The cluster and its broker.
    Cluster,
}

/// Where events go: to the console's thread of its own; a full console drops events rather
/// than slowing the room, and a console that cannot write (a stdout nobody reads) never holds
/// up the server or its end.
pub type Events = std::sync::mpsc::SyncSender<Event>;
