//! What one server knows of the other servers of its cluster: each one's run, its numbering,
//! its members and when it was last heard from.

use std::collections::HashMap;
use std::time::Instant;

use sockit_core::cluster::{Claim, Sequence};

/// What this server knows of another server of the cluster.
pub(super) struct Peer {
    pub(super) run: u64,
    pub(super) seq: Option<Sequence>,
    /// Lower-case nick -> claim.
    pub(super) members: HashMap<String, Claim>,
    pub(super) seen: Instant,
    /// A presence list being put together: its generation and the parts so far.
    pub(super) gathering: Option<(u64, u32, Vec<Claim>)>,
}

impl Peer {
    pub(super) fn new(run: u64) -> Peer {
        Peer { run, seq: None, members: HashMap::new(), seen: Instant::now(), gathering: None }
    }

    pub(super) fn nicks(&self) -> Vec<String> {
        let mut n: Vec<String> = self.members.values().map(|c| c.nick.clone()).collect();
        n.sort_unstable();
        n
    }
}

/// Milliseconds since the Unix epoch: when a nick was claimed.
pub(super) fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}
