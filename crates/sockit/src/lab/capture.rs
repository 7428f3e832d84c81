//! Every frame on the lab's interfaces, as tcpdump would see it: an AF_PACKET socket (allowed
//! to the lab's namespace root), read by a thread of its own and stamped as it arrives. On
//! loopback each frame is seen going and coming: the going copy is left out (as libpcap
//! does); the LAN's bridge itself is left out too, each frame being seen on the port it
//! crossed.

use std::collections::HashMap;
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
    /// The interface it was seen on.
    pub iface: String,
}

/// The LAN's bridge, whose frames are seen on its ports instead.
pub const BRIDGE: &str = "lan0";

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
            let mut names: HashMap<i32, String> = HashMap::new();
            while !stopped.load(Ordering::Relaxed) {
                match recv_frame(&sock, &mut buf) {
                    Ok((n, wire_len, index, kind)) => {
                        let iface = names
                            .entry(index)
                            .or_insert_with(|| {
                                u32::try_from(index)
                                    .ok()
                                    .and_then(|i| rustix::net::netdevice::index_to_name(sock.as_fd(), i).ok())
                                    .unwrap_or_else(|| format!("if{index}"))
                            })
                            .clone();
                        if (kind == libc::PACKET_OUTGOING && iface == "lo") || iface == BRIDGE {
                            continue;
                        }
                        if kept == MOST_FRAMES {
                            over.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                        kept += 1;
                        let since = start.elapsed();
                        let t_us = u64::try_from(since.as_micros()).unwrap_or(u64::MAX);
                        let unix_us = u64::try_from((unix0 + since).as_micros()).unwrap_or(u64::MAX);
                        let bytes = buf[..n.min(SNAP)].to_vec();
                        if tx.send(Captured { t_us, unix_us, bytes, wire_len, iface }).is_err() {
                            break;
                        }
                    }
                    Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => {}
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

/// One frame into `buf` (its first `buf.len()` bytes): the bytes copied, the frame's whole
/// length, the interface's index and the packet's type (PACKET_HOST, PACKET_OUTGOING, ...).
#[allow(unsafe_code)]
fn recv_frame(sock: &socket2::Socket, buf: &mut [u8]) -> io::Result<(usize, usize, i32, u8)> {
    // SAFETY: an all-zero sockaddr_ll is valid; recvfrom writes at most `len` bytes of it and
    // at most `buf.len()` bytes into `buf`, both of which outlive the call.
    unsafe {
        let mut from: libc::sockaddr_ll = std::mem::zeroed();
        let mut len = libc::socklen_t::try_from(std::mem::size_of::<libc::sockaddr_ll>()).unwrap_or(20);
        // MSG_TRUNC: the frame's whole length comes back, though only buf.len() bytes are copied.
        let n = libc::recvfrom(
            sock.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_TRUNC,
            (&raw mut from).cast(),
            &raw mut len,
        );
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let whole = usize::try_from(n).unwrap_or(0);
        Ok((whole.min(buf.len()), whole, from.sll_ifindex, from.sll_pkttype))
    }
}
