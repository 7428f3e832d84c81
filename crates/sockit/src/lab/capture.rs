//! Every frame on the lab's interfaces, as tcpdump would see it: an AF_PACKET socket (allowed
//! to the lab's namespace root), outgoing copies left out (on loopback each frame is seen
//! going and coming), read by a thread of its own and stamped as it arrives.

use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// One frame as captured.
#[derive(Debug, Clone)]
pub struct Captured {
    /// Microseconds since the capture started, and since 1970.
    pub t_us: u64,
    pub unix_us: u64,
    /// The frame's first `SNAP` bytes, and its whole length.
    pub bytes: Vec<u8>,
    pub wire_len: usize,
}

/// The most of a frame kept (headers and the start of the data), and the most frames kept:
/// a program that moves gigabytes leaves the lab's memory bounded.
pub const SNAP: usize = 4096;
pub const MOST_FRAMES: u64 = 50_000;

/// A running capture; stopped when dropped.
#[derive(Debug)]
pub struct Capture {
    rx: Receiver<Captured>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Frames seen past `MOST_FRAMES`, not kept.
    pub dropped: Arc<AtomicU64>,
}

impl Capture {
    /// Open the packet socket in this network namespace and start reading.
    pub fn start() -> io::Result<Capture> {
        let proto = u16::try_from(libc::ETH_P_ALL).unwrap_or(3).to_be();
        let sock = socket2::Socket::new(socket2::Domain::PACKET, socket2::Type::RAW, Some(i32::from(proto).into()))?;
        ignore_outgoing(&sock)?;
        sock.set_read_timeout(Some(Duration::from_millis(50)))?;
        let (tx, rx) = channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let dropped = Arc::new(AtomicU64::new(0));
        let over = Arc::clone(&dropped);
        let start = Instant::now();
        let unix0 = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let thread = std::thread::Builder::new().name("lab-capture".into()).spawn(move || {
            let mut buf = vec![0u8; SNAP];
            let mut kept = 0u64;
            while !stopped.load(Ordering::Relaxed) {
                // MSG_TRUNC: the frame's whole length, though only SNAP bytes are copied.
                match rustix::net::recv(sock.as_fd(), &mut buf[..], rustix::net::RecvFlags::TRUNC) {
                    Ok((n, wire_len)) => {
                        if kept == MOST_FRAMES {
                            over.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                        kept += 1;
                        let since = start.elapsed();
                        let t_us = u64::try_from(since.as_micros()).unwrap_or(u64::MAX);
                        let unix_us = u64::try_from((unix0 + since).as_micros()).unwrap_or(u64::MAX);
                        let bytes = buf[..n.min(SNAP)].to_vec();
                        if tx.send(Captured { t_us, unix_us, bytes, wire_len }).is_err() {
                            break;
                        }
                    }
                    Err(e) if e == rustix::io::Errno::AGAIN || e == rustix::io::Errno::INTR => {}
                    Err(_) => break,
                }
            }
        })?;
        Ok(Capture { rx, stop, thread: Some(thread), dropped })
    }

    /// The frames captured so far and those still coming: read until none has come for
    /// `quiet`, or `most` has passed.
    pub fn settle(&self, quiet: Duration, most: Duration) -> Vec<Captured> {
        let end = Instant::now() + most;
        let mut got = Vec::new();
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(quiet.min(left)) {
                Ok(c) => got.push(c),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
            if left.is_zero() {
                break;
            }
        }
        got
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// PACKET_IGNORE_OUTGOING (Linux 4.20): each frame once, as it is received.
#[allow(unsafe_code)]
fn ignore_outgoing(sock: &socket2::Socket) -> io::Result<()> {
    const PACKET_IGNORE_OUTGOING: libc::c_int = 23;
    let one: libc::c_int = 1;
    // SAFETY: setsockopt on a socket we own, with an int the size it is given as.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_PACKET,
            PACKET_IGNORE_OUTGOING,
            (&raw const one).cast(),
            libc::socklen_t::try_from(std::mem::size_of::<libc::c_int>()).unwrap_or(4),
        )
    };
    if r == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}
