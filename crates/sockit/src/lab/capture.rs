//! Every frame on the lab's interfaces, as tcpdump would see it: an AF_PACKET socket (allowed
//! to the lab's namespace root), read by a thread of its own, each frame stamped by the kernel
//! as it was captured (SO_TIMESTAMPNS: a thread scheduled late cannot move a frame into the
//! wrong step). On loopback each frame is seen going and coming: the going copy is left out
//! (as libpcap does); the LAN's bridge itself is left out too, each frame being seen on the
//! port it crossed.

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
        kernel_timestamps(&sock)?;
        let (tx, rx) = channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let dropped = Arc::new(AtomicU64::new(0));
        let over = Arc::clone(&dropped);
        let unix0 = unix_us_now();
        let thread = std::thread::Builder::new().name("lab-capture".into()).spawn(move || {
            let mut buf = vec![0u8; SNAP];
            let mut kept = 0u64;
            let mut names: HashMap<i32, String> = HashMap::new();
            loop {
                match recv_frame(&sock, &mut buf) {
                    Ok((n, wire_len, index, kind, stamp)) => {
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
                        let unix_us = stamp.unwrap_or_else(unix_us_now);
                        let t_us = unix_us.saturating_sub(unix0);
                        let bytes = buf[..n.min(SNAP)].to_vec();
                        if tx.send(Captured { t_us, unix_us, bytes, wire_len, iface }).is_err() {
                            break;
                        }
                    }
                    // Stopped: only once the socket holds no more frames.
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock && stopped.load(Ordering::Relaxed) => break,
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

impl Capture {
    /// Stop, and every frame not taken yet, the socket's last ones included.
    pub fn finish(mut self) -> Vec<Captured> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.rx.try_iter().collect()
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

/// Now, in microseconds since 1970 (the clock the kernel stamps frames with).
pub fn unix_us_now() -> u64 {
    u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_micros()).unwrap_or(u64::MAX)
}

/// SO_TIMESTAMPNS: each frame comes with the time the kernel captured it.
fn kernel_timestamps(sock: &socket2::Socket) -> io::Result<()> {
    crate::net::set_int_option(sock, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, 1)
}

/// One frame into `buf` (its first `buf.len()` bytes): the bytes copied, the frame's whole
/// length, the interface's index, the packet's type (PACKET_HOST, PACKET_OUTGOING, ...) and
/// the kernel's time stamp (microseconds since 1970).
#[allow(unsafe_code)]
fn recv_frame(sock: &socket2::Socket, buf: &mut [u8]) -> io::Result<(usize, usize, i32, u8, Option<u64>)> {
    let mut control = [0u64; 16];
    // SAFETY: all-zero sockaddr_ll and msghdr are valid; the msghdr points at `from`, `buf`
    // and `control`, which outlive the call, with their lengths; CMSG_* walk the control
    // buffer within the length the kernel gave back.
    unsafe {
        let mut from: libc::sockaddr_ll = std::mem::zeroed();
        let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_name = (&raw mut from).cast();
        msg.msg_namelen = libc::socklen_t::try_from(std::mem::size_of::<libc::sockaddr_ll>()).unwrap_or(20);
        msg.msg_iov = &raw mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control);
        // MSG_TRUNC: the frame's whole length comes back, though only buf.len() bytes are copied.
        let n = libc::recvmsg(sock.as_raw_fd(), &raw mut msg, libc::MSG_TRUNC);
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut stamp = None;
        let mut c = libc::CMSG_FIRSTHDR(&raw const msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let t: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                let us = u64::try_from(t.tv_sec)
                    .ok()
                    .zip(u64::try_from(t.tv_nsec).ok())
                    .map(|(s, ns)| s * 1_000_000 + ns / 1000);
                stamp = us;
            }
            c = libc::CMSG_NXTHDR(&raw const msg, c);
        }
        let whole = usize::try_from(n).unwrap_or(0);
        Ok((whole.min(buf.len()), whole, from.sll_ifindex, from.sll_pkttype, stamp))
    }
}
