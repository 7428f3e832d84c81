//! chat-load: a load generator for chat servers: line servers (`sockit chat serve`, `ncat
//! --chat`) and, with `--irc`, IRC servers (sockit's chat port, ngircd, inspircd).
//!
//! N receivers connect (spread over the given ports), then M senders on the first port; each
//! sender says L lines of 64 bytes, paced (`--rate` lines a second each) or flat out, a line a
//! write or pasted in writes of `--paste` bytes. Every line carries its sender, its number and
//! when it was sent, so each receiver finds the lines in whatever it reads (ncat forwards
//! reads, not lines) and the send-to-receipt latency of each. The receivers are read by
//! `--threads` threads (1 by default) on epoll, the senders write from a thread each: the
//! generator costs the machine as little as it can, since it shares it with the server.
//! Prints one line of `key=value`:
//!
//! `rate=` deliveries a second, `delivered=`/`expected=`, `lost=`, `p50=`/`p99=`/`max=` in
//! milliseconds (and `p50_same=`/`p99_same=`/`p50_other=`/`p99_other=` for receivers on the
//! first port and on the others when there are several ports), `line_bytes=` a delivery's
//! size on the wire (the server's framing of a line included).
//!
//! Traffic goes to 127.0.0.1 only.

// A load generator, not sockit: its counts and times are bounded by its own flags, and the
// casts are its arithmetic's.
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rustix::event::epoll;

mod hold;

/// `L` + sender (4 hex) + number (8 hex) + microseconds since the start (12 hex).
const MARK: usize = 25;
const LINE: usize = 64;

#[derive(Debug, Clone)]
struct Args {
    ports: Vec<u16>,
    receivers: usize,
    senders: usize,
    lines: usize,
    /// Lines a second per sender; 0: flat out.
    rate: f64,
    /// Pasted writes of this many bytes (0: a write a line).
    paste: usize,
    /// Receivers are WebSocket members (GET /ws).
    ws: bool,
    /// Receivers and senders speak IRC: they register, join this channel, and senders' lines
    /// are PRIVMSGs to it.
    irc: Option<String>,
    /// Give up this long after the last delivery, once the sending is done.
    timeout: Duration,
    threads: usize,
    /// `--hold N`: hold N idle clients instead (see `hold`), from `sources` addresses.
    hold: usize,
    sources: usize,
    pid: Option<u32>,
    linger: Duration,
}

fn usage() -> ! {
    eprintln!(
        "usage: chat-load --port P [--port P2 ...] [--receivers N] [--senders M] [--lines L] [--rate R] [--paste BYTES] [--ws] [--irc CHANNEL] [--timeout SECS] [--threads T]\n       chat-load --port P [--port P2 ...] --hold N [--sources K] [--pid SERVER_PID] [--linger SECS]"
    );
    std::process::exit(2)
}

fn args() -> Args {
    let mut a = Args {
        ports: Vec::new(),
        receivers: 500,
        senders: 1,
        lines: 2000,
        rate: 0.0,
        paste: 0,
        ws: false,
        irc: None,
        timeout: Duration::from_secs(10),
        threads: 1,
        hold: 0,
        sources: 64,
        pid: None,
        linger: Duration::ZERO,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--port" => a.ports.push(value().parse().unwrap_or_else(|_| usage())),
            "--receivers" => a.receivers = value().parse().unwrap_or_else(|_| usage()),
            "--senders" => a.senders = value().parse().unwrap_or_else(|_| usage()),
            "--lines" => a.lines = value().parse().unwrap_or_else(|_| usage()),
            "--rate" => a.rate = value().parse().unwrap_or_else(|_| usage()),
            "--paste" => a.paste = value().parse().unwrap_or_else(|_| usage()),
            "--timeout" => a.timeout = Duration::from_secs_f64(value().parse().unwrap_or_else(|_| usage())),
            "--threads" => a.threads = value().parse().unwrap_or_else(|_| usage()),
            "--hold" => a.hold = value().parse().unwrap_or_else(|_| usage()),
            "--sources" => a.sources = value().parse().unwrap_or_else(|_| usage()),
            "--linger" => a.linger = Duration::from_secs_f64(value().parse().unwrap_or_else(|_| usage())),
            "--pid" => a.pid = Some(value().parse().unwrap_or_else(|_| usage())),
            "--ws" => a.ws = true,
            "--irc" => a.irc = Some(value()),
            _ => usage(),
        }
    }
    if a.ports.is_empty() || a.senders == 0 || a.senders > 0xffff || a.threads == 0 || a.sources == 0 {
        usage();
    }
    a
}

/// Hex digits' values; 0xff: not a digit. (A table: the receivers parse millions a second.)
const HEX: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

fn number(bytes: &[u8]) -> Option<u64> {
    let mut n = 0u64;
    let mut bad = 0u8;
    for &b in bytes {
        let d = HEX[b as usize];
        bad |= d & 0xf0;
        n = n << 4 | u64::from(d & 0x0f);
    }
    (bad == 0).then_some(n)
}

/// Find the marks in `buf` (a receiver's bytes, whatever their framing): deliveries counted
/// and latencies (µs) pushed; `stride` learns the bytes from one mark to the next (a
/// delivery's whole size on the wire, framing included) the first time two are in one buffer.
/// Returns where the unscanned tail starts.
fn scan(buf: &[u8], now: u64, delivered: &mut u64, latencies: &mut Vec<u32>, stride: &mut Option<usize>) -> usize {
    let mut i = 0;
    let mut last = None;
    while i + MARK <= buf.len() {
        let Some(at) = memchr::memchr(b'L', &buf[i..=(buf.len() - MARK)]) else {
            i = buf.len() - MARK + 1;
            break;
        };
        i += at;
        if let Some(t) = number(&buf[i + 13..i + MARK])
            && number(&buf[i + 1..i + 13]).is_some()
        {
            *delivered += 1;
            if let (None, Some(l)) = (*stride, last) {
                *stride = Some(i - l);
            }
            last = Some(i);
            latencies.push(now.saturating_sub(t).min(u64::from(u32::MAX)) as u32);
            i += MARK;
            continue;
        }
        i += 1;
    }
    i.min(buf.len())
}

/// How a connection opens: a line client says nothing, a WebSocket asks for /ws, an IRC client
/// registers as `nick` and joins the channel.
#[derive(Clone, Copy)]
enum Hello<'a> {
    Line,
    Ws,
    Irc { channel: &'a str, nick: usize },
}

/// Connect, reading what the others are sent meanwhile (`wait`, called while a connection is
/// not yet accepted): a server that blocks on its writes (ncat) stops accepting otherwise.
fn connect(port: u16, hello: Hello, wait: &mut dyn FnMut()) -> std::io::Result<TcpStream> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut s = loop {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
            Ok(s) => break s,
            Err(e) if e.kind() == ErrorKind::TimedOut && Instant::now() < deadline => wait(),
            Err(e) => return Err(e),
        }
    };
    s.set_nodelay(true)?;
    match hello {
        Hello::Line => {}
        Hello::Ws => s.write_all(
            b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        )?,
        Hello::Irc { channel, nick } => {
            // (JOIN comes once everyone is connected: a server may finish a registration
            // later than it reads it.)
            let _ = channel;
            s.write_all(format!("NICK load{nick}\r\nUSER load 0 * :load\r\n").as_bytes())?;
        }
    }
    s.set_nonblocking(true)?;
    Ok(s)
}

/// One receiving thread's sockets and what they heard.
struct Receivers {
    socks: Vec<TcpStream>,
    /// Whether each is on the senders' port.
    same: Vec<bool>,
    /// Counted (receivers) or only drained (the senders' own sockets).
    counted: Vec<bool>,
}

#[derive(Default)]
struct Heard {
    delivered: u64,
    /// A delivery's bytes on the wire (see `scan`).
    stride: Option<usize>,
    same: Vec<u32>,
    other: Vec<u32>,
}

fn receive(r: Receivers, start: Instant, total: &AtomicU64, last: &AtomicU64, stop: &AtomicBool) -> Heard {
    let ep = epoll::create(epoll::CreateFlags::CLOEXEC).expect("epoll");
    for (i, s) in r.socks.iter().enumerate() {
        epoll::add(&ep, s.as_fd(), epoll::EventData::new_u64(i as u64), epoll::EventFlags::IN).expect("epoll add");
    }
    let mut tails: Vec<([u8; MARK], u8)> = vec![([0; MARK], 0); r.socks.len()];
    let mut heard = Heard::default();
    let mut buf = vec![0u8; 64 * 1024 + MARK];
    let mut events: Vec<epoll::Event> = Vec::with_capacity(1024);
    let tick = rustix::event::Timespec { tv_sec: 0, tv_nsec: 20_000_000 };
    while !stop.load(Ordering::Relaxed) {
        events.clear();
        match epoll::wait(&ep, rustix::buffer::spare_capacity(&mut events), Some(&tick)) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => panic!("epoll: {e}"),
        }
        for ev in &events {
            let i = ev.data.u64() as usize;
            let mut s = &r.socks[i];
            loop {
                let (tail, kept) = &mut tails[i];
                let kept_n = *kept as usize;
                buf[..kept_n].copy_from_slice(&tail[..kept_n]);
                let n = match s.read(&mut buf[kept_n..]) {
                    Ok(0) => {
                        let _ = epoll::delete(&ep, s.as_fd());
                        break;
                    }
                    Ok(n) => n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(_) => {
                        let _ = epoll::delete(&ep, s.as_fd());
                        break;
                    }
                };
                if !r.counted[i] {
                    continue;
                }
                let end = kept_n + n;
                let now = start.elapsed().as_micros() as u64;
                let before = heard.delivered;
                let lat = if r.same[i] { &mut heard.same } else { &mut heard.other };
                let used = scan(&buf[..end], now, &mut heard.delivered, lat, &mut heard.stride);
                if heard.delivered > before {
                    total.fetch_add(heard.delivered - before, Ordering::Relaxed);
                    last.fetch_max(now, Ordering::Relaxed);
                }
                let keep = (end - used).min(MARK);
                tail[..keep].copy_from_slice(&buf[end - keep..end]);
                *kept = keep as u8;
                if n < buf.len() - kept_n {
                    break;
                }
            }
        }
    }
    heard
}

/// The receivers connected so far, read and their bytes dropped while the others connect.
struct Connecting {
    ep: rustix::fd::OwnedFd,
    all: Vec<TcpStream>,
    events: Vec<epoll::Event>,
    sink: Vec<u8>,
}

impl Connecting {
    fn new() -> Connecting {
        let ep = epoll::create(epoll::CreateFlags::CLOEXEC).expect("epoll");
        Connecting { ep, all: Vec::new(), events: Vec::with_capacity(1024), sink: vec![0; 64 * 1024] }
    }

    fn add(&mut self, s: TcpStream) {
        let i = self.all.len() as u64;
        epoll::add(&self.ep, s.as_fd(), epoll::EventData::new_u64(i), epoll::EventFlags::IN).expect("epoll add");
        self.all.push(s);
    }

    fn drain(&mut self) {
        self.events.clear();
        let now = rustix::event::Timespec { tv_sec: 0, tv_nsec: 0 };
        let _ = epoll::wait(&self.ep, rustix::buffer::spare_capacity(&mut self.events), Some(&now));
        for ev in &self.events {
            let mut s = &self.all[ev.data.u64() as usize];
            while matches!(s.read(&mut self.sink), Ok(n) if n > 0) {}
        }
    }
}

/// A line to send: `irc` (a channel) makes it a PRIVMSG to it.
fn line(sender: usize, seq: usize, start: Instant, irc: Option<&str>, out: &mut Vec<u8>) {
    if let Some(channel) = irc {
        out.extend_from_slice(format!("PRIVMSG {channel} :").as_bytes());
        let l = mark(sender, seq, start);
        out.extend_from_slice(&l[..LINE - 1]);
        out.extend_from_slice(b"\r\n");
    } else {
        out.extend_from_slice(&mark(sender, seq, start));
    }
}

fn mark(sender: usize, seq: usize, start: Instant) -> [u8; LINE] {
    let mut l = [b'x'; LINE];
    let t = start.elapsed().as_micros() as u64;
    let head = format!("L{sender:04x}{seq:08x}{t:012x}");
    l[..MARK].copy_from_slice(head.as_bytes());
    l[LINE - 1] = b'\n';
    l
}

/// Write all of `bytes` to a non-blocking socket (its reading side is another thread's),
/// waiting for room with poll.
fn write_all(mut s: &TcpStream, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        match s.write(bytes) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                let mut fds = [rustix::event::PollFd::new(s, rustix::event::PollFlags::OUT)];
                let wait = rustix::event::Timespec { tv_sec: 0, tv_nsec: 100_000_000 };
                let _ = rustix::event::poll(&mut fds, Some(&wait));
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// One sender's lines, paced or flat out.
fn send(s: &TcpStream, me: usize, a: &Args, start: Instant, go: Instant) -> std::io::Result<()> {
    if let Some(wait) = go.checked_duration_since(Instant::now()) {
        std::thread::sleep(wait);
    }
    let mut out = Vec::with_capacity(a.paste.max(LINE));
    for seq in 0..a.lines {
        if a.rate > 0.0 {
            let due = go + Duration::from_secs_f64(seq as f64 / a.rate);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        line(me, seq, start, a.irc.as_deref(), &mut out);
        if a.paste == 0 || out.len() + LINE > a.paste || seq + 1 == a.lines {
            write_all(s, &out)?;
            out.clear();
        }
    }
    Ok(())
}

fn percentile(sorted: &[u32], q: f64) -> String {
    match sorted.len() {
        0 => "-".into(),
        n => format!("{:.2}", f64::from(sorted[((n as f64 * q) as usize).min(n - 1)]) / 1000.0),
    }
}

fn main() {
    let a = args();
    // A receiver a descriptor: the soft limit up to the hard one.
    let l = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    let _ = rustix::process::setrlimit(
        rustix::process::Resource::Nofile,
        rustix::process::Rlimit { current: l.maximum, maximum: l.maximum },
    );
    if a.hold > 0 {
        hold::run(&hold::Hold { clients: a.hold, ports: a.ports, sources: a.sources, pid: a.pid, linger: a.linger });
        return;
    }
    let start = Instant::now();
    // While connecting, what the server sends (welcomes, join notices) is read and dropped.
    let mut conn = Connecting::new();
    for i in 0..a.receivers {
        let port = a.ports[i % a.ports.len()];
        let hello = match &a.irc {
            Some(channel) => Hello::Irc { channel, nick: i },
            None if a.ws => Hello::Ws,
            None => Hello::Line,
        };
        let s = connect(port, hello, &mut || conn.drain()).unwrap_or_else(|e| {
            println!("error=connect-receiver-{i} {e}");
            std::process::exit(1)
        });
        conn.add(s);
        conn.drain();
    }
    let senders: Vec<TcpStream> = (0..a.senders)
        .map(|i| {
            let hello = match &a.irc {
                Some(channel) => Hello::Irc { channel, nick: a.receivers + i },
                None => Hello::Line,
            };
            connect(a.ports[0], hello, &mut || conn.drain()).unwrap_or_else(|e| {
                println!("error=connect-sender {e}");
                std::process::exit(1)
            })
        })
        .collect();
    let mut groups: Vec<Receivers> =
        (0..a.threads).map(|_| Receivers { socks: Vec::new(), same: Vec::new(), counted: Vec::new() }).collect();
    for (i, s) in std::mem::take(&mut conn.all).into_iter().enumerate() {
        let g = &mut groups[i % a.threads];
        g.same.push(a.ports[i % a.ports.len()] == a.ports[0]);
        g.socks.push(s);
        g.counted.push(true);
    }
    drop(conn);
    for s in &senders {
        groups[0].socks.push(s.try_clone().expect("clone"));
        groups[0].same.push(true);
        groups[0].counted.push(false);
    }
    // (IRC clients are told to JOIN once the readers run: a descriptor more each until then,
    // and none for other loads, whose 10,000 receivers already hold two each.)
    let groups_joined: Vec<TcpStream> = if a.irc.is_some() {
        groups.iter().flat_map(|g| g.socks.iter().map(|s| s.try_clone().expect("clone"))).collect()
    } else {
        Vec::new()
    };
    let (total, last, stop) =
        (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(false)));
    let readers: Vec<_> = groups
        .into_iter()
        .map(|g| {
            let (total, last, stop) = (Arc::clone(&total), Arc::clone(&last), Arc::clone(&stop));
            std::thread::spawn(move || receive(g, start, &total, &last, &stop))
        })
        .collect();
    if let Some(channel) = &a.irc {
        // A server may finish a registration a while after it reads it (inspircd completes
        // them once a second) and refuses a JOIN before (451): the last ones get time.
        std::thread::sleep(Duration::from_millis(1500));
        let join = format!("JOIN {channel}\r\n");
        for g in &groups_joined {
            let _ = write_all(g, join.as_bytes());
        }
    }
    drop(groups_joined);
    // The welcomes and join notices settle.
    std::thread::sleep(Duration::from_millis(500 + a.receivers as u64 / 20));
    let go = Instant::now() + Duration::from_millis(50);
    let t_go = go.duration_since(start).as_micros() as u64;
    let writers: Vec<_> = senders
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let a = a.clone();
            std::thread::spawn(move || {
                let r = send(&s, i, &a, start, go);
                // Stay a member until the receivers are done.
                (r, s)
            })
        })
        .collect();
    let expected = (a.receivers * a.senders * a.lines) as u64;
    let sending_for = if a.rate > 0.0 { Duration::from_secs_f64(a.lines as f64 / a.rate) } else { Duration::ZERO };
    let (mut seen, mut still) = (0, Instant::now());
    loop {
        std::thread::sleep(Duration::from_millis(20));
        let now = total.load(Ordering::Relaxed);
        if now >= expected {
            break;
        }
        if now != seen {
            seen = now;
            still = Instant::now();
        } else if Instant::now() > go + sending_for && still.elapsed() > a.timeout {
            break;
        }
    }
    let elapsed_us = last.load(Ordering::Relaxed).saturating_sub(t_go).max(1);
    stop.store(true, Ordering::Relaxed);
    let mut heard = Heard::default();
    for r in readers {
        let h = r.join().expect("reader");
        heard.delivered += h.delivered;
        heard.stride = heard.stride.or(h.stride);
        heard.same.extend(h.same);
        heard.other.extend(h.other);
    }
    for w in writers {
        if let Ok((Err(e), _)) = w.join() {
            println!("error=send {e}");
        }
    }
    let several = a.ports.len() > 1;
    let mut all: Vec<u32> = heard.same.iter().chain(&heard.other).copied().collect();
    all.sort_unstable();
    heard.same.sort_unstable();
    heard.other.sort_unstable();
    let rate = heard.delivered as f64 / (elapsed_us as f64 / 1e6);
    let mut out = format!(
        "rate={rate:.0} delivered={} expected={expected} lost={} p50={} p99={} max={}",
        heard.delivered,
        expected.saturating_sub(heard.delivered),
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        percentile(&all, 1.0),
    );
    if let Some(bytes) = heard.stride {
        out += &format!(" line_bytes={bytes}");
    }
    if several {
        out += &format!(
            " p50_same={} p99_same={} p50_other={} p99_other={}",
            percentile(&heard.same, 0.5),
            percentile(&heard.same, 0.99),
            percentile(&heard.other, 0.5),
            percentile(&heard.other, 0.99)
        );
    }
    println!("{out}");
}
