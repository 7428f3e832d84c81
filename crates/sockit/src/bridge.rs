//! The bridge between a `Stdio` and a stream (`tcp connect`, `tcp listen`), with one set of
//! end-of-input rules for every kind of stream: a TCP or Unix socket, or the plaintext side of
//! a TLS tunnel (`tls::tunnel`), so TLS needs no rules of its own.
//!
//! EOF rules, the same on both sides of a connection:
//! - input reaches EOF: send FIN (shut down the write side) and keep reading until the peer
//!   closes; with `no_shutdown` the write side stays open; with `quit_after_eof` the bridge
//!   ends that long after input's EOF whatever the peer does.
//! - the peer closes: everything it sent is written to the output, then the bridge ends. A
//!   piped input is still sent to its end (a peer that only shut down its write side may still
//!   be reading: nothing is dropped); a terminal on input ends the bridge at once.
//!
//! Memory stays flat whatever the volume: input is read ahead by a thread into three 1 MiB
//! buffers going round (`copy::pump_ahead`; why not splice: see `copy::pump`), and what the
//! stream receives is spliced to the output, never passing through sockit's memory
//! (`copy::pump_out`).

use std::io;
use std::net::Shutdown;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::conn::{Conn, Peer, Stream, join_tunnel};
use crate::copy::{pump, pump_ahead, pump_crlf, pump_out};
use crate::hexdump::{Hexdump, HexdumpTo};
use crate::net::{Doing, NetError};
use crate::stdio::Stdio;

/// How a bridge behaves at the end.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BridgeOptions {
    /// Keep the write side open after input's EOF (no FIN).
    pub no_shutdown: bool,
    /// End the bridge this long after input's EOF.
    pub quit_after_eof: Option<Duration>,
    /// End the bridge after this long with no data in either direction.
    pub idle_timeout: Option<Duration>,
    /// Dump both directions in hex (`-x`), here.
    pub hexdump: Option<HexdumpTo>,
    /// TCP keepalive: probe a silent peer after this long, every this long, three times; a
    /// peer that answers none is gone and the bridge ends with an error.
    pub keepalive: Option<Duration>,
    /// Send each line end of the input as CRLF.
    pub crlf: bool,
    /// Only send: what the peer sends is read and dropped, and the bridge ends at input's EOF.
    pub send_only: bool,
    /// Only receive: the input is never read (and no FIN is sent for it).
    pub recv_only: bool,
    /// Read the connection's TCP_INFO at the end, into the stats.
    pub stats: bool,
}

/// What a bridge moved, and why it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct BridgeStats {
    pub sent: u64,
    pub received: u64,
    pub end: BridgeEnd,
    /// With `stats`: the kernel's TCP_INFO as the bridge ended (`None`: not a TCP socket).
    pub tcp: Option<crate::tcp_info::TcpInfo>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BridgeEnd {
    /// The peer closed its side and everything it sent was written.
    PeerClosed,
    /// `quit_after_eof` passed.
    Quit,
    /// `idle_timeout` passed.
    Idle,
}

/// Bridge `stdio` and `conn` until the EOF rules say stop; then wait for the TLS tunnel, if
/// any, whose failure is reported in place of the stream's.
pub fn bridge(conn: Conn, stdio: Stdio, opts: &BridgeOptions) -> Result<BridgeStats, NetError> {
    let Conn { stream, peer, tunnel } = conn;
    let stream = Arc::new(stream);
    let mut r = bridge_stream(&stream, peer, stdio, opts);
    if let (true, Ok(stats)) = (opts.stats, r.as_mut()) {
        stats.tcp = crate::tcp_info::of(stream.as_fd());
    }
    // Both ways closed: the input thread may still hold the stream (a terminal that is never
    // read to its end), and a tunnel behind it must see the bridge is gone.
    let _ = stream.shutdown(Shutdown::Both);
    drop(stream);
    match join_tunnel(tunnel) {
        Ok(()) => r,
        Err(e) => Err(e),
    }
}

fn bridge_stream(
    stream: &Arc<Stream>,
    peer: Peer,
    stdio: Stdio,
    opts: &BridgeOptions,
) -> Result<BridgeStats, NetError> {
    let Stdio { input, output, input_is_terminal } = stdio;
    // --send-only: the peer's bytes go nowhere, and input's EOF is the end.
    let mut opts = opts.clone();
    let discard = if opts.send_only {
        opts.quit_after_eof.get_or_insert(Duration::ZERO);
        Some(
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/null")
                .map_err(|e| NetError::io(Doing::Open("/dev/null".into()), e))?,
        )
    } else {
        None
    };
    let output = match &discard {
        Some(null) => null.as_fd(),
        None => output.as_fd(),
    };
    let activity = Arc::new(AtomicU64::new(0));
    let quit = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let (done_tx, done_rx) = std::sync::mpsc::channel::<io::Result<u64>>();
    let dump = opts.hexdump.as_ref().map(Hexdump::open).transpose()?.map(Arc::new);
    if opts.recv_only {
        // Nothing is sent: the input is not read, and its end is nobody's business.
        drop((input, done_tx));
    } else {
        let (stream, opts, activity, quit, sent) =
            (Arc::clone(stream), opts.clone(), Arc::clone(&activity), Arc::clone(&quit), Arc::clone(&sent));
        let dump = dump.clone();
        std::thread::Builder::new()
            .name("relay-input".into())
            .spawn(move || {
                let tap = dump.as_ref().map(|d| move |b: &[u8]| d.sent(b));
                let tap = tap.as_ref().map(|t| t as &dyn Fn(&[u8]));
                let count = |n| {
                    sent.fetch_add(n, Ordering::Relaxed);
                    activity.fetch_add(1, Ordering::Relaxed);
                };
                let r = if opts.crlf {
                    pump_crlf(input, stream.as_fd(), &count, tap)
                } else {
                    pump_ahead(input, stream.as_fd(), &count, tap)
                };
                if r.is_ok() && !opts.no_shutdown {
                    let _ = stream.shutdown(Shutdown::Write);
                }
                let _ = done_tx.send(r);
                if let Some(q) = opts.quit_after_eof {
                    std::thread::sleep(q);
                    quit.store(true, Ordering::Relaxed);
                    // Wakes the reader: its next read returns 0.
                    let _ = stream.shutdown(Shutdown::Read);
                }
            })
            .map_err(|e| NetError::io(Doing::StartThread, e))?;
    }
    if let Some(idle) = opts.idle_timeout {
        stream.set_read_timeout(Some(idle)).map_err(|e| NetError::io(Doing::SetTimeout, e))?;
    }
    let received = std::cell::Cell::new(0u64);
    let mut seen = activity.load(Ordering::Relaxed);
    // The idle timeout and -q lean on a timed-out read and on shutdown() waking a blocked
    // read: proven for read(2) on every kernel sockit runs on, so those bridges keep it.
    // A hex dump needs the bytes: no splice then either.
    let splice = opts.idle_timeout.is_none() && opts.quit_after_eof.is_none() && dump.is_none();
    let tap = dump.as_ref().map(|d| move |b: &[u8]| d.received(b));
    let tap = tap.as_ref().map(|t| t as &dyn Fn(&[u8]));
    let end = loop {
        let count = |n| received.set(received.get() + n);
        let r =
            if splice { pump_out(stream.as_fd(), output, &count) } else { pump(stream.as_fd(), output, &count, tap) };
        match r {
            Ok(_) if quit.load(Ordering::Relaxed) => break BridgeEnd::Quit,
            Ok(_) => break BridgeEnd::PeerClosed,
            // The kernel gave up on the peer: keepalive probes (or retransmissions) unanswered.
            Err(e) if e.raw_os_error() == Some(libc::ETIMEDOUT) => {
                return Err(NetError::io(Doing::PeerGone(peer.clone()), e));
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                // Idle only if input was idle too.
                let now = activity.load(Ordering::Relaxed);
                if now == seen {
                    break BridgeEnd::Idle;
                }
                seen = now;
            }
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Err(NetError::io(Doing::Output, e)),
            // Quitting was asked for (-q, --send-only): a peer that resets as the connection
            // is let go ends it all the same.
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset && quit.load(Ordering::Relaxed) => {
                break BridgeEnd::Quit;
            }
            Err(e) => return Err(NetError::io(Doing::Connection(peer.clone()), e)),
        }
    };
    if end == BridgeEnd::PeerClosed && !input_is_terminal {
        // Finish sending input; a peer that is really gone makes the write fail.
        match done_rx.recv() {
            Ok(Ok(_)) | Err(_) => {}
            Ok(Err(e)) => {
                return Err(NetError::io(
                    Doing::FinishInput { peer: peer.clone(), sent: sent.load(Ordering::Relaxed) },
                    e,
                ));
            }
        }
    }
    Ok(BridgeStats { sent: sent.load(Ordering::Relaxed), received: received.get(), end, tcp: None })
}
