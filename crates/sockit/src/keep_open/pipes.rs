//! The keep-open loop's helpers in threads of their own: the input read into chunks, the
//! clients' data written to the output, and the eventfd they wake the loop with.

use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};

use rustix::event::EventfdFlags;

/// A wake-up the other threads give the loop (an eventfd).
#[derive(Clone)]
pub(super) struct Wake(pub(super) Arc<OwnedFd>);

impl Wake {
    pub(super) fn new() -> io::Result<Wake> {
        Ok(Wake(Arc::new(rustix::event::eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?)))
    }

    pub(super) fn ring(&self) {
        let _ = rustix::io::write(&*self.0, &1u64.to_ne_bytes());
    }

    pub(super) fn clear(&self) {
        let _ = rustix::io::read(&*self.0, &mut [0u8; 8]);
    }
}

/// The input's thread: chunks to the loop, which takes them when a client keeps up.
pub(super) fn read_input(mut input: std::fs::File, tx: SyncSender<Arc<[u8]>>, wake: &Wake) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        if tx.send(Arc::from(&buf[..n])).is_err() {
            return;
        }
        wake.ring();
    }
    // The sender goes: the loop sees the input's end.
    drop(tx);
    wake.ring();
}

/// The output's thread: clients' data, each chunk written whole; room made is told to a loop
/// that waits for it; a closed output is told too.
pub(super) fn write_output(
    mut output: std::fs::File,
    rx: &Receiver<Vec<u8>>,
    room: &Wake,
    waiting: &AtomicBool,
    gone: &AtomicBool,
) {
    for chunk in rx {
        if output.write_all(&chunk).is_err() {
            gone.store(true, Ordering::Relaxed);
            room.ring();
            return;
        }
        if waiting.load(Ordering::Acquire) {
            room.ring();
        }
    }
}
