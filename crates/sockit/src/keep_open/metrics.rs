//! What a listener serving many clients has done since it started, for `GET /metrics`
//! (`tcp listen --keep-open --metrics`).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

/// The counts, bumped by the serving loop and read by the metrics endpoint.
#[derive(Debug, Default)]
pub struct Counters {
    /// Clients now (their TLS handshakes included).
    pub clients: AtomicUsize,
    pub accepted: AtomicU64,
    pub denied: AtomicU64,
    pub over_cap: AtomicU64,
    /// Clients let go for stalling.
    pub cut: AtomicU64,
    /// Bytes from the clients to the output, and from the input to the clients.
    pub from_clients: AtomicU64,
    pub to_clients: AtomicU64,
}

impl Counters {
    pub(super) fn add(a: &AtomicU64, n: usize) {
        a.fetch_add(n as u64, Relaxed);
    }

    /// The counts in Prometheus's text format.
    pub fn render(&self) -> String {
        use crate::scrape::Kind::{Counter, Gauge};
        let n = |a: &AtomicU64| a.load(Relaxed);
        let mut t = crate::scrape::Text::default();
        t.family("sockit_listen_clients", Gauge, "Clients connected now.", &[("", self.clients.load(Relaxed) as u64)]);
        t.family("sockit_listen_accepted_total", Counter, "Clients taken.", &[("", n(&self.accepted))]);
        t.family(
            "sockit_listen_refused_total",
            Counter,
            "Clients turned away, by reason.",
            &[("{reason=\"rules\"}", n(&self.denied)), ("{reason=\"cap\"}", n(&self.over_cap))],
        );
        t.family("sockit_listen_cut_total", Counter, "Clients let go for not keeping up.", &[("", n(&self.cut))]);
        t.family(
            "sockit_listen_bytes_total",
            Counter,
            "Bytes moved, by direction.",
            &[
                ("{direction=\"from_clients\"}", n(&self.from_clients)),
                ("{direction=\"to_clients\"}", n(&self.to_clients)),
            ],
        );
        t.build_info();
        t.into_string()
    }
}
