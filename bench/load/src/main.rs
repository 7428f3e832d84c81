//! chat-load: a load generator for line chat servers (`sockit chat serve`, `ncat --chat`).
//!
//! N receivers connect (spread over the given ports), then M senders; each sender says L lines
//! of 64 bytes, paced (`--rate` lines a second each) or flat out, a line a write or pasted in
//! writes of `--paste` bytes. Every line carries its sender, its number and when it was sent,
//! so each receiver finds the lines in whatever it reads (ncat forwards reads, not lines) and
//! the send-to-receipt latency of each. Prints one line of `key=value`:
//!
//! `rate=` deliveries a second, `delivered=`/`expected=`, `lost=`, `p50=`/`p99=`/`max=` in
//! milliseconds (and `p99_same=`/`p99_other=` for receivers on the first port and on the
//! others when there are several ports).
//!
//! Traffic goes to 127.0.0.1 only.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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
    /// Give up this long after the last send.
    timeout: Duration,
}

fn usage() -> ! {
    eprintln!(
        "usage: chat-load --port P [--port P2 ...] [--receivers N] [--senders M] [--lines L] [--rate R] [--paste BYTES] [--ws] [--timeout SECS]"
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
        timeout: Duration::from_secs(30),
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
            "--ws" => a.ws = true,
            _ => usage(),
        }
    }
    if a.ports.is_empty() || a.senders == 0 || a.senders > 0xffff {
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

/// What one receiver heard.
#[derive(Default)]
struct Heard {
    delivered: u64,
    /// Microseconds from send to receipt.
    latencies: Vec<u32>,
}

/// Find the marks in `buf` (a receiver's bytes, whatever their framing).
fn scan(buf: &[u8], start: Instant, heard: &mut Heard) -> usize {
    let now = start.elapsed().as_micros() as u64;
    let mut i = 0;
    while i + MARK <= buf.len() {
        // (memchr: the receivers read hundreds of MB a second, the scan must keep up.)
        let Some(at) = memchr::memchr(b'L', &buf[i..buf.len() - MARK + 1]) else {
            i = buf.len() - MARK + 1;
            break;
        };
        i += at;
        if let Some(t) = number(&buf[i + 13..i + MARK])
            && number(&buf[i + 1..i + 13]).is_some()
        {
            heard.delivered += 1;
            heard.latencies.push(now.saturating_sub(t).min(u64::from(u32::MAX)) as u32);
            i += MARK;
            continue;
        }
        i += 1;
    }
    // What may be the start of a mark cut by the read.
    buf.len().saturating_sub(MARK - 1).max(i.min(buf.len()))
}

async fn connect(port: u16, ws: bool) -> std::io::Result<TcpStream> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await?;
    s.set_nodelay(true)?;
    if ws {
        s.write_all(
            b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        )
        .await?;
    }
    Ok(s)
}

/// Read until the end or `stop`, finding marks; the last receipt's time goes to `last`.
async fn receive(
    mut s: TcpStream,
    start: Instant,
    last: Arc<AtomicU64>,
    total: Arc<AtomicU64>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Heard {
    let mut heard = Heard::default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut kept = 0;
    loop {
        let read = tokio::select! {
            r = s.read(&mut buf[kept..]) => r,
            _ = stop.changed() => break,
        };
        let n = match read {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let before = heard.delivered;
        let end = kept + n;
        let used = scan(&buf[..end], start, &mut heard);
        if heard.delivered > before {
            total.fetch_add(heard.delivered - before, Ordering::Relaxed);
            last.fetch_max(start.elapsed().as_micros() as u64, Ordering::Relaxed);
        }
        buf.copy_within(used..end, 0);
        kept = end - used;
    }
    heard
}

fn line(sender: usize, seq: usize, start: Instant) -> [u8; LINE] {
    let mut l = [b'x'; LINE];
    let t = start.elapsed().as_micros() as u64;
    let head = format!("L{sender:04x}{seq:08x}{t:012x}");
    l[..MARK].copy_from_slice(head.as_bytes());
    l[LINE - 1] = b'\n';
    l
}

async fn send(mut s: TcpStream, me: usize, a: Args, start: Instant, go: Instant) -> std::io::Result<()> {
    tokio::time::sleep_until(go.into()).await;
    let mut out = Vec::with_capacity(a.paste.max(LINE));
    for seq in 0..a.lines {
        if a.rate > 0.0 {
            let due = go + Duration::from_secs_f64(seq as f64 / a.rate);
            tokio::time::sleep_until(due.into()).await;
        }
        out.extend_from_slice(&line(me, seq, start));
        if a.paste == 0 || out.len() + LINE > a.paste || seq + 1 == a.lines {
            s.write_all(&out).await?;
            out.clear();
        }
    }
    // Stay a member (and keep reading) until the receivers are done.
    let mut sink = vec![0u8; 64 * 1024];
    while s.read(&mut sink).await.unwrap_or(0) > 0 {}
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
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(run(a));
}

async fn run(a: Args) {
    let start = Instant::now();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let last = Arc::new(AtomicU64::new(0));
    let total = Arc::new(AtomicU64::new(0));
    let mut receivers = Vec::new();
    for i in 0..a.receivers {
        let port = a.ports[i % a.ports.len()];
        let s = match connect(port, a.ws).await {
            Ok(s) => s,
            Err(e) => {
                println!("error=connect-receiver-{i} {e}");
                std::process::exit(1);
            }
        };
        let same = port == a.ports[0];
        let (last, total) = (Arc::clone(&last), Arc::clone(&total));
        receivers.push((same, tokio::spawn(receive(s, start, last, total, stop.clone()))));
    }
    // The welcomes and join notices settle.
    tokio::time::sleep(Duration::from_millis(500 + a.receivers as u64 / 20)).await;
    let mut senders = Vec::new();
    for _ in 0..a.senders {
        senders.push(connect(a.ports[0], false).await.expect("sender"));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let go = Instant::now() + Duration::from_millis(50);
    let t_go = go.duration_since(start).as_micros() as u64;
    let mut tasks = Vec::new();
    for (i, s) in senders.into_iter().enumerate() {
        tasks.push(tokio::spawn(send(s, i, a.clone(), start, go)));
    }
    let expected = (a.receivers * a.senders * a.lines) as u64;
    // Until everything arrived, or nothing more for a while after the sending is done.
    let mut seen = 0;
    let mut still = Instant::now();
    let sending_for = if a.rate > 0.0 { Duration::from_secs_f64(a.lines as f64 / a.rate) } else { Duration::ZERO };
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
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
    for t in &tasks {
        t.abort();
    }
    let _ = stop_tx.send(true);
    let (mut same, mut other) = (Vec::new(), Vec::new());
    let mut delivered = 0;
    for (is_same, r) in receivers {
        let Ok(h) = r.await else { continue };
        delivered += h.delivered;
        if is_same { same.extend(h.latencies) } else { other.extend(h.latencies) }
    }
    let several = a.ports.len() > 1;
    let mut all: Vec<u32> = same.iter().chain(&other).copied().collect();
    all.sort_unstable();
    same.sort_unstable();
    other.sort_unstable();
    let rate = delivered as f64 / (elapsed_us as f64 / 1e6);
    let mut out = format!(
        "rate={rate:.0} delivered={delivered} expected={expected} lost={} p50={} p99={} max={}",
        expected.saturating_sub(delivered),
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        percentile(&all, 1.0),
    );
    if several {
        out += &format!(
            " p50_same={} p99_same={} p50_other={} p99_other={}",
            percentile(&same, 0.5),
            percentile(&same, 0.99),
            percentile(&other, 0.5),
            percentile(&other, 0.99)
        );
    }
    println!("{out}");
}
