//! What an operator asks of a running room: `GET /metrics` (Prometheus's text format: members,
//! lines and bytes in and out, drops by reason, members cut, refusals, the cluster's
//! messages) and `GET /healthz`, on the chat port, to the addresses `--metrics-allow` admits.
//! Counters are the process's own (one room a process), bumped where things happen.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

use super::events::Event;

/// The room's counters since the process started.
#[derive(Debug)]
pub(super) struct Counters {
    pub(super) lines_in: AtomicU64,
    pub(super) bytes_in: AtomicU64,
    pub(super) lines_from_cluster: AtomicU64,
    pub(super) lines_out: AtomicU64,
    pub(super) bytes_out: AtomicU64,
    pub(super) dropped_rate: AtomicU64,
    pub(super) dropped_too_long: AtomicU64,
    pub(super) cut_stalled: AtomicU64,
    pub(super) joins: AtomicU64,
    pub(super) leaves: AtomicU64,
    pub(super) refused: AtomicU64,
    pub(super) accept_errors: AtomicU64,
    pub(super) cluster_lost: AtomicU64,
    pub(super) cluster_dropped: AtomicU64,
    pub(super) cluster_duplicates: AtomicU64,
    pub(super) line_connections: AtomicI64,
    pub(super) web_connections: AtomicI64,
    pub(super) irc_connections: AtomicI64,
}

pub(super) static COUNTERS: Counters = Counters {
    lines_in: AtomicU64::new(0),
    bytes_in: AtomicU64::new(0),
    lines_from_cluster: AtomicU64::new(0),
    lines_out: AtomicU64::new(0),
    bytes_out: AtomicU64::new(0),
    dropped_rate: AtomicU64::new(0),
    dropped_too_long: AtomicU64::new(0),
    cut_stalled: AtomicU64::new(0),
    joins: AtomicU64::new(0),
    leaves: AtomicU64::new(0),
    refused: AtomicU64::new(0),
    accept_errors: AtomicU64::new(0),
    cluster_lost: AtomicU64::new(0),
    cluster_dropped: AtomicU64::new(0),
    cluster_duplicates: AtomicU64::new(0),
    line_connections: AtomicI64::new(0),
    web_connections: AtomicI64::new(0),
    irc_connections: AtomicI64::new(0),
};

/// Count what an event for the console tells.
pub(super) fn count(e: &Event) {
    let c = &COUNTERS;
    match e {
        Event::Said { text, server: None, .. } | Event::Action { text, server: None, .. } => {
            c.lines_in.fetch_add(1, Relaxed);
            c.bytes_in.fetch_add(text.len() as u64, Relaxed);
        }
        Event::Said { server: Some(_), .. } | Event::Action { server: Some(_), .. } => {
            c.lines_from_cluster.fetch_add(1, Relaxed);
        }
        Event::Joined { .. } => _ = c.joins.fetch_add(1, Relaxed),
        Event::Left { .. } => _ = c.leaves.fetch_add(1, Relaxed),
        Event::Refused { .. } => _ = c.refused.fetch_add(1, Relaxed),
        Event::Lost { messages, .. } => _ = c.cluster_lost.fetch_add(*messages, Relaxed),
        Event::ClusterDropped { messages } => _ = c.cluster_dropped.fetch_add(*messages, Relaxed),
        _ => {}
    }
}

/// Lines and bytes queued for members, counted by whoever queued them.
pub(super) fn delivered_lines(lines: usize, bytes: usize) {
    COUNTERS.lines_out.fetch_add(lines as u64, Relaxed);
    COUNTERS.bytes_out.fetch_add(bytes as u64, Relaxed);
}

/// `text` (one line or several) queued for `members` members.
pub(super) fn delivered(members: usize, text: &str) {
    let lines = text.bytes().filter(|&b| b == b'\n').count().max(1);
    COUNTERS.lines_out.fetch_add((members * lines) as u64, Relaxed);
    COUNTERS.bytes_out.fetch_add((members * text.len()) as u64, Relaxed);
}

/// Which kind of connection a `Connected` counts.
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    Line,
    Web,
    Irc,
}

/// A connection counted while it lasts.
pub(super) struct Connected(Kind);

impl Connected {
    pub(super) fn new(kind: Kind) -> Connected {
        Connected::gauge(kind).fetch_add(1, Relaxed);
        Connected(kind)
    }

    fn gauge(kind: Kind) -> &'static AtomicI64 {
        match kind {
            Kind::Line => &COUNTERS.line_connections,
            Kind::Web => &COUNTERS.web_connections,
            Kind::Irc => &COUNTERS.irc_connections,
        }
    }
}

impl Drop for Connected {
    fn drop(&mut self) {
        Connected::gauge(self.0).fetch_sub(1, Relaxed);
    }
}

/// What the room holds now, for a scrape.
pub(super) struct Now<'a> {
    pub(super) members: usize,
    /// Members on the other servers of the cluster, and those servers.
    pub(super) remote: usize,
    pub(super) servers: usize,
    pub(super) refused: &'a super::peers::Refused,
}

/// The metrics in Prometheus's text exposition format (version 0.0.4).
pub(super) fn render(now: &Now<'_>) -> String {
    let c = &COUNTERS;
    let Now { members, remote, servers, refused: r } = *now;
    use crate::scrape::Kind::{Counter, Gauge};
    let mut t = crate::scrape::Text::default();
    let mut family = |name: &str, kind, help: &str, samples: &[(&str, u64)]| t.family(name, kind, help, samples);
    let n = |a: &AtomicU64| a.load(Relaxed);
    let g = |a: &AtomicI64| u64::try_from(a.load(Relaxed)).unwrap_or(0);
    family(
        "sockit_chat_members",
        Gauge,
        "Members in the room, by where they are connected.",
        &[("{where=\"here\"}", members as u64), ("{where=\"cluster\"}", remote as u64)],
    );
    family(
        "sockit_chat_connections",
        Gauge,
        "Open connections on the chat port, by kind.",
        &[
            ("{kind=\"line\"}", g(&c.line_connections)),
            ("{kind=\"web\"}", g(&c.web_connections)),
            ("{kind=\"irc\"}", g(&c.irc_connections)),
        ],
    );
    family("sockit_chat_joins_total", Counter, "Members who joined here.", &[("", n(&c.joins))]);
    family("sockit_chat_leaves_total", Counter, "Members who left here.", &[("", n(&c.leaves))]);
    family(
        "sockit_chat_lines_received_total",
        Counter,
        "Lines said in the room, by where they were said.",
        &[("{from=\"here\"}", n(&c.lines_in)), ("{from=\"cluster\"}", n(&c.lines_from_cluster))],
    );
    family("sockit_chat_received_bytes_total", Counter, "Bytes of the lines said here.", &[("", n(&c.bytes_in))]);
    family(
        "sockit_chat_lines_sent_total",
        Counter,
        "Lines queued for members: what was said, notices and replies (a line to N members: N).",
        &[("", n(&c.lines_out))],
    );
    family("sockit_chat_sent_bytes_total", Counter, "Bytes of the lines queued for members.", &[("", n(&c.bytes_out))]);
    family(
        "sockit_chat_lines_dropped_total",
        Counter,
        "Lines not taken from members, by reason.",
        &[("{reason=\"rate\"}", n(&c.dropped_rate)), ("{reason=\"too_long\"}", n(&c.dropped_too_long))],
    );
    family(
        "sockit_chat_members_cut_total",
        Counter,
        "Members disconnected for not reading (their queue full for the stall window).",
        &[("", n(&c.cut_stalled))],
    );
    family(
        "sockit_chat_connections_refused_total",
        Counter,
        "Connections refused (full room, TLS, HTTP).",
        &[("", n(&c.refused))],
    );
    family("sockit_chat_accept_errors_total", Counter, "Errors accepting connections.", &[("", n(&c.accept_errors))]);
    family("sockit_chat_cluster_servers", Gauge, "Other servers of the cluster heard from.", &[("", servers as u64)]);
    family(
        "sockit_chat_cluster_messages_lost_total",
        Counter,
        "Numbered messages of other servers that never came.",
        &[("", n(&c.cluster_lost))],
    );
    family(
        "sockit_chat_cluster_messages_duplicated_total",
        Counter,
        "Messages of other servers heard twice (passed over).",
        &[("", n(&c.cluster_duplicates))],
    );
    family(
        "sockit_chat_cluster_messages_dropped_total",
        Counter,
        "Messages for the cluster that did not fit in the outbox.",
        &[("", n(&c.cluster_dropped))],
    );
    family(
        "sockit_chat_cluster_messages_rejected_total",
        Counter,
        "Messages from the cluster refused, by reason.",
        &[
            ("{reason=\"unsigned\"}", n(&r.unsigned)),
            ("{reason=\"malformed\"}", n(&r.malformed)),
            ("{reason=\"not_theirs\"}", n(&r.not_theirs)),
            ("{reason=\"stale_claim\"}", n(&r.stale_claims)),
            ("{reason=\"over_budget\"}", n(&r.over_budget)),
            ("{reason=\"own_name\"}", n(&r.own_name)),
        ],
    );
    t.build_info();
    t.into_string()
}

/// What `/healthz` says: serving, or shutting down (503, so a balancer stops sending).
pub(super) fn health(shutting_down: bool) -> (u16, &'static str, &'static str) {
    if shutting_down { (503, "Service Unavailable", "shutting down\n") } else { (200, "OK", "ok\n") }
}
