//! `--hold N`: N idle line clients held as cheaply as one process can (a descriptor and a
//! byte of state each, one epoll, no thread a client), spread over source addresses of
//! 127.0.0.0/8 (`--sources K`, from 127.1.0.1 on: each address has its own ephemeral ports)
//! and the given server ports. Then one line said by another client must reach all of them;
//! then they all leave.
//!
//! Prints `key=value` lines as it goes: `held=` (clients welcomed: they read the server's
//! first bytes) with `connect_secs=` and `stopped=` (why it held fewer than asked, if it
//! did); `reached=` with `reach_secs=`; `left=`. With `--pid`, `rss_kib=` of that process
//! at each step, and `slab_kib=` (the kernel's slab: where its sockets live) for its part.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use rustix::event::epoll;
use socket2::{Domain, Socket, Type};

/// What a client has read.
const WELCOMED: u8 = 1;
const REACHED: u8 = 2;
const CLOSED: u8 = 4;

/// Connections not yet welcomed at once (a silent client is welcomed once the server has
/// waited 200 ms for it to speak).
const IN_FLIGHT: usize = 32 * 1024;
/// The line said to everyone.
const PING: &[u8] = b"a line for a million";

pub struct Hold {
    pub clients: usize,
    pub ports: Vec<u16>,
    pub sources: usize,
    pub pid: Option<u32>,
    /// Hold them this long once all are in, before the line (to look at the server).
    pub linger: Duration,
}

struct Held {
    ep: rustix::fd::OwnedFd,
    socks: Vec<Socket>,
    state: Vec<u8>,
    welcomed: usize,
    reached: usize,
    closed: usize,
    buf: Vec<u8>,
    events: Vec<epoll::Event>,
}

impl Held {
    /// Read what has come, up to `wait`.
    fn poll(&mut self, wait: Duration) {
        self.events.clear();
        let t = rustix::event::Timespec { tv_sec: 0, tv_nsec: i64::from(wait.subsec_nanos()) };
        match epoll::wait(&self.ep, rustix::buffer::spare_capacity(&mut self.events), Some(&t)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => panic!("epoll: {e}"),
        }
        let events = std::mem::take(&mut self.events);
        for ev in &events {
            let i = ev.data.u64() as usize;
            loop {
                match (&self.socks[i]).read(&mut self.buf) {
                    Ok(0) => {
                        self.close(i);
                        break;
                    }
                    Ok(n) => {
                        if self.state[i] & WELCOMED == 0 {
                            self.state[i] |= WELCOMED;
                            self.welcomed += 1;
                        }
                        if self.state[i] & REACHED == 0 && memchr::memmem::find(&self.buf[..n], PING).is_some() {
                            self.state[i] |= REACHED;
                            self.reached += 1;
                        }
                        if n < self.buf.len() {
                            break;
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => {
                        self.close(i);
                        break;
                    }
                }
            }
        }
        self.events = events;
    }

    fn close(&mut self, i: usize) {
        if self.state[i] & CLOSED == 0 {
            let _ = epoll::delete(&self.ep, self.socks[i].as_fd());
            self.state[i] |= CLOSED;
            self.closed += 1;
        }
    }
}

fn rss_kib(pid: u32) -> u64 {
    status_kib(&format!("/proc/{pid}/status"), "VmRSS:")
}

fn slab_kib() -> u64 {
    status_kib("/proc/meminfo", "Slab:")
}

fn status_kib(path: &str, key: &str) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(key)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

fn memory(pid: Option<u32>) -> String {
    let rss = pid.map_or(String::new(), |p| format!(" rss_kib={}", rss_kib(p)));
    format!("{rss} slab_kib={}", slab_kib())
}

/// The `i`th client's source address: 127.1.0.1 on, `sources` of them.
fn source(i: usize, sources: usize) -> SocketAddr {
    let j = (i % sources) as u32;
    let ip = Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 1, 0, 1)) + j / 250 * 256 + j % 250);
    SocketAddr::from((ip, 0))
}

pub fn run(h: &Hold) {
    println!("start=1{}", memory(h.pid));
    let ep = epoll::create(epoll::CreateFlags::CLOEXEC).expect("epoll");
    let mut held = Held {
        ep,
        socks: Vec::with_capacity(h.clients),
        state: Vec::with_capacity(h.clients),
        welcomed: 0,
        reached: 0,
        closed: 0,
        buf: vec![0; 16 * 1024],
        events: Vec::with_capacity(4096),
    };
    let t0 = Instant::now();
    let mut stopped = None;
    for i in 0..h.clients {
        while held.socks.len() - held.welcomed - held.closed >= IN_FLIGHT {
            held.poll(Duration::from_millis(10));
        }
        let port = h.ports[i % h.ports.len()];
        let to = SocketAddr::from(([127, 0, 0, 1], port));
        let s = match Socket::new(Domain::IPV4, Type::STREAM, None) {
            Ok(s) => s,
            Err(e) => {
                stopped = Some(format!("socket: {e}"));
                break;
            }
        };
        let bound = s.set_nonblocking(true).and_then(|()| s.bind(&source(i, h.sources).into()));
        if let Err(e) = bound {
            stopped = Some(format!("bind {}: {e}", source(i, h.sources)));
            break;
        }
        match s.connect(&to.into()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::INPROGRESS.raw_os_error()) => {}
            Err(e) => {
                stopped = Some(format!("connect: {e}"));
                break;
            }
        }
        let flags = epoll::EventFlags::IN | epoll::EventFlags::RDHUP;
        epoll::add(&held.ep, s.as_fd(), epoll::EventData::new_u64(held.socks.len() as u64), flags).expect("epoll add");
        held.socks.push(s);
        held.state.push(0);
        // (A breath every 256, for the server to accept them: a SYN that finds its accept
        // queue full is retried only a second later.)
        if i % 256 == 255 {
            held.poll(Duration::from_millis(1));
        }
    }
    // The last welcomes; a stall of 30 s ends the wait.
    let (mut seen, mut still) = (held.welcomed, Instant::now());
    while held.welcomed + held.closed < held.socks.len() && still.elapsed() < Duration::from_secs(30) {
        held.poll(Duration::from_millis(50));
        if held.welcomed != seen {
            (seen, still) = (held.welcomed, Instant::now());
        }
    }
    let connect_secs = t0.elapsed().as_secs_f64();
    // The join notices settle before the memory is read.
    let settle = Instant::now();
    while settle.elapsed() < Duration::from_secs(2) {
        held.poll(Duration::from_millis(50));
    }
    let why = stopped.map_or(String::new(), |s| format!(" stopped={}", s.replace(' ', "_")));
    println!(
        "held={} asked={} closed={} connect_secs={connect_secs:.1}{}{why}",
        held.welcomed,
        h.clients,
        held.closed,
        memory(h.pid)
    );
    let lingering = Instant::now();
    while lingering.elapsed() < h.linger {
        held.poll(Duration::from_millis(50));
    }
    // One line to all of them.
    let mut speaker = TcpStream::connect(("127.0.0.1", h.ports[0])).expect("speaker");
    let mut said = Vec::from(&b"/nick speaker\n"[..]);
    said.extend_from_slice(PING);
    said.push(b'\n');
    let t1 = Instant::now();
    speaker.write_all(&said).expect("say");
    let want = held.welcomed;
    while held.reached < want && t1.elapsed() < Duration::from_secs(60) {
        held.poll(Duration::from_millis(20));
    }
    println!("reached={} of={want} reach_secs={:.2}", held.reached, t1.elapsed().as_secs_f64());
    // Everyone leaves.
    let t2 = Instant::now();
    drop(speaker);
    held.socks = Vec::new();
    println!("left={} close_secs={:.1}", want, t2.elapsed().as_secs_f64());
}
