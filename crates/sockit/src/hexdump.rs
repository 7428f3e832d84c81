//! `-x`: both directions of a connection, or each datagram, in hex, as `ncat -x` and `socat -x`
//! show them.

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::net::{Doing, NetError};

/// Where a hex dump goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HexdumpTo {
    Stderr,
    File(std::path::PathBuf),
}

/// Both directions of a connection in hex, as `ncat -x` and `socat -x` show them, each with
/// its own offset (`sockit_core::text::hexdump`). A dump that cannot be written stops dumping;
/// the relay goes on.
pub struct Hexdump {
    out: Arc<std::sync::Mutex<Option<Box<dyn Write + Send>>>>,
    sent: AtomicU64,
    received: AtomicU64,
}

impl std::fmt::Debug for Hexdump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hexdump").field("sent", &self.sent).field("received", &self.received).finish()
    }
}

impl Hexdump {
    /// Open the dump (a file is created, or emptied).
    pub fn open(to: &HexdumpTo) -> Result<Hexdump, NetError> {
        let out: Box<dyn Write + Send> = match to {
            HexdumpTo::Stderr => Box::new(io::stderr()),
            HexdumpTo::File(p) => Box::new(io::BufWriter::new(
                std::fs::File::create(p).map_err(|e| NetError::io(Doing::Write(p.clone()), e))?,
            )),
        };
        Ok(Hexdump {
            out: Arc::new(std::sync::Mutex::new(Some(out))),
            sent: AtomicU64::new(0),
            received: AtomicU64::new(0),
        })
    }

    /// Another connection's dump into the same place, its offsets from 0, under a line naming it.
    pub fn another(&self, title: &str) -> Hexdump {
        let next = Hexdump { out: Arc::clone(&self.out), sent: AtomicU64::new(0), received: AtomicU64::new(0) };
        next.write(&format!("= {title}\n"));
        next
    }

    /// Bytes sent to the peer (`>`).
    pub fn sent(&self, bytes: &[u8]) {
        self.record('>', &self.sent, bytes);
    }

    /// Bytes received from the peer (`<`).
    pub fn received(&self, bytes: &[u8]) {
        self.record('<', &self.received, bytes);
    }

    /// One datagram, sent (`>`) or received (`<`): a line naming the peer and the size, then
    /// its bytes from offset 0.
    pub fn datagram(&self, sent: bool, peer: &dyn std::fmt::Display, bytes: &[u8]) {
        let mark = if sent { '>' } else { '<' };
        let text = format!("{mark} {peer} ({} bytes)\n{}", bytes.len(), sockit_core::text::hexdump(mark, 0, bytes));
        self.write(&text);
    }

    fn record(&self, mark: char, offset: &AtomicU64, bytes: &[u8]) {
        let at = offset.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        self.write(&sockit_core::text::hexdump(mark, at, bytes));
    }

    fn write(&self, text: &str) {
        let mut out = self.out.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(w) = out.as_mut()
            && w.write_all(text.as_bytes()).and_then(|()| w.flush()).is_err()
        {
            *out = None;
        }
    }
}
