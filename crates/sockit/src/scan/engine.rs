//! The connect scan's engine.
//!
//! One worker per core, each an epoll loop over non-blocking sockets. A probe is a socket and
//! a connect(): accepted is open, refused is closed, silence until the timeout (after the
//! retries) or "unreachable" is filtered. Results that connect() gives at once skip epoll, and
//! a refused socket is connected again for the next probe instead of being closed (on Linux
//! that halves a loopback scan: socket() and close() were most of its cost).
//! Ports are probed in a random order that costs no memory (an affine permutation of the
//! job numbers). Running out of descriptors (EMFILE) or ephemeral ports shrinks the window and
//! retries the probe: nothing is lost and nothing panics.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rustix::event::epoll;
use socket2::{Domain, Socket, Type};
use sockit_core::scan::{Permutation, PortState};

/// Probes started before their answers are looked at.
const ROUND: usize = 64;

/// How to scan.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanConfig {
    pub ports: Vec<u16>,
    /// Probes in flight at once, across all workers (capped by the open-file limit).
    pub concurrency: usize,
    /// How long to wait for an answer to one probe.
    pub timeout: Duration,
    /// Probes after the first for a port that stays silent.
    pub retries: u32,
    /// At most this many new connections a second, if set.
    pub rate: Option<f64>,
    /// Probe in a random order (otherwise in order).
    pub randomize: bool,
    /// A SYN scan sends every SYN through the IP layer, none as an Ethernet frame of its own.
    pub send_ip: bool,
    /// Worker threads.
    pub workers: usize,
}

/// The state of every (address, port) pair: `states[a * ports.len() + p]`.
#[derive(Debug)]
pub struct ScanOutcome {
    pub states: Vec<PortState>,
    pub elapsed: Duration,
    /// Self-connects seen (and reported closed).
    pub self_connects: u64,
}

pub(super) const UNSET: u8 = 0;

pub(super) fn encode(s: PortState) -> u8 {
    match s {
        PortState::Open => 1,
        PortState::Closed => 2,
        PortState::Filtered => 3,
        PortState::OpenFiltered => 4,
    }
}

pub(super) fn decode(v: u8) -> PortState {
    match v {
        1 => PortState::Open,
        2 => PortState::Closed,
        4 => PortState::OpenFiltered,
        _ => PortState::Filtered,
    }
}

/// Shared by the workers.
struct Shared<'a> {
    addrs: &'a [SocketAddr],
    cfg: &'a ScanConfig,
    order: Permutation,
    next: AtomicU64,
    states: Vec<AtomicU8>,
    done: &'a AtomicU64,
    self_connects: AtomicU64,
}

/// A job number as an index (jobs are counted in memory: they fit).
fn index(job: u64) -> usize {
    usize::try_from(job).unwrap_or(usize::MAX)
}

impl Shared<'_> {
    fn target(&self, job: u64) -> SocketAddr {
        let ports = self.cfg.ports.len() as u64;
        let mut target = self.addrs[index(job / ports)];
        target.set_port(self.cfg.ports[index(job % ports)]);
        target
    }

    fn record(&self, job: u64, state: PortState) {
        self.states[index(job)].store(encode(state), Ordering::Relaxed);
        self.done.fetch_add(1, Ordering::Relaxed);
    }

    /// Claim the next job number, in permuted order.
    fn claim(&self) -> Option<u64> {
        let j = self.next.fetch_add(1, Ordering::Relaxed);
        (j < self.order.len()).then(|| self.order.at(j))
    }
}

/// Scan every port of `cfg.ports` on every address (whose ports are ignored). `done` counts finished probes, for a
/// progress display.
pub fn scan(addrs: &[SocketAddr], cfg: &ScanConfig, done: &AtomicU64) -> io::Result<ScanOutcome> {
    let start = Instant::now();
    let jobs = addrs.len() as u64 * cfg.ports.len() as u64;
    let shared = Shared {
        addrs,
        cfg,
        order: Permutation::new(jobs, cfg.randomize.then(random_seed)),
        next: AtomicU64::new(0),
        states: (0..jobs).map(|_| AtomicU8::new(UNSET)).collect(),
        done,
        self_connects: AtomicU64::new(0),
    };
    let workers = cfg.workers.clamp(1, 64).min(usize::try_from(jobs.max(1)).unwrap_or(64));
    let window = (cfg.concurrency / workers).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers).map(|_| s.spawn(|| Worker::new(&shared, window)?.run())).collect();
        handles.into_iter().try_for_each(|h| h.join().unwrap_or_else(|_| Err(io::Error::other("scan worker panicked"))))
    })?;
    Ok(ScanOutcome {
        states: shared.states.iter().map(|s| decode(s.load(Ordering::Relaxed))).collect(),
        elapsed: start.elapsed(),
        self_connects: shared.self_connects.load(Ordering::Relaxed),
    })
}

/// A probe waiting for its answer.
struct InFlight {
    sock: Socket,
    job: u64,
    attempt: u32,
    generation: u32,
}

struct Worker<'a> {
    shared: &'a Shared<'a>,
    epoll: std::os::fd::OwnedFd,
    slots: Vec<Option<InFlight>>,
    free: Vec<usize>,
    /// (deadline, slot, generation), in start order: every probe has the same timeout.
    deadlines: VecDeque<(Instant, usize, u32)>,
    retry: Vec<(u64, u32)>,
    /// Slots started in this round and not yet checked or registered with epoll.
    fresh: Vec<usize>,
    /// Probes allowed in flight now (shrinks on EMFILE).
    window: usize,
    in_flight: usize,
    generation: u32,
    next_start: Instant,
    interval: Option<Duration>,
    /// Sockets whose connect was refused, ready for the next probe: a refused TCP socket is
    /// back in its initial state, and connecting it again saves a socket() and a close() a
    /// probe, most of a loopback scan's cost. Off for good once a kernel refuses a reconnect.
    spare: Vec<(Domain, Socket)>,
    reuse: bool,
    /// Since when no probe could start with none in flight (out of descriptors or ports).
    starved: Option<Instant>,
}

/// How long a worker may find no socket for a probe, with none in flight, before the scan
/// gives up with an error.
const STARVED: Duration = Duration::from_secs(3);

enum Start {
    Started,
    Finished,
    /// Out of descriptors or local ports: try again later.
    Later,
}

impl<'a> Worker<'a> {
    fn new(shared: &'a Shared<'a>, window: usize) -> io::Result<Worker<'a>> {
        let workers = shared.cfg.workers.max(1) as f64;
        Ok(Worker {
            shared,
            epoll: epoll::create(epoll::CreateFlags::CLOEXEC)?,
            slots: (0..window).map(|_| None).collect(),
            free: (0..window).rev().collect(),
            deadlines: VecDeque::with_capacity(window),
            retry: Vec::new(),
            fresh: Vec::with_capacity(window),
            window,
            in_flight: 0,
            generation: 0,
            next_start: Instant::now(),
            spare: Vec::new(),
            reuse: true,
            starved: None,
            interval: shared.cfg.rate.filter(|r| *r > 0.0).map(|r| Duration::from_secs_f64(workers / r)),
        })
    }

    fn run(mut self) -> io::Result<()> {
        let mut events: Vec<epoll::Event> = Vec::with_capacity(1024);
        let mut exhausted = false;
        loop {
            // Start probes while the window and the rate allow, a round at a time: a round's
            // refusals are settled (and their sockets closed) before the next round opens
            // more, so a fast target never has thousands of sockets and ephemeral ports held
            // at once (on loopback that alone made a full scan a quarter slower).
            let mut backoff = false;
            let mut started = 0;
            while self.in_flight < self.window && !self.free.is_empty() && started < ROUND {
                started += 1;
                if let Some(iv) = self.interval {
                    let now = Instant::now();
                    if now < self.next_start {
                        break;
                    }
                    self.next_start = self.next_start.max(now.checked_sub(iv).unwrap_or(now)) + iv;
                }
                let (job, attempt) = match self.retry.pop() {
                    Some(r) => r,
                    None => match self.shared.claim() {
                        Some(j) => (j, 0),
                        None => {
                            exhausted = true;
                            break;
                        }
                    },
                };
                match self.start(job, attempt)? {
                    Start::Started | Start::Finished => {}
                    Start::Later => {
                        self.retry.push((job, attempt));
                        backoff = true;
                        break;
                    }
                }
            }
            self.settle_fresh()?;
            if exhausted && self.retry.is_empty() && self.in_flight == 0 {
                return Ok(());
            }
            // Wait for answers, the next deadline, or the next start the rate allows; only
            // look, without waiting, when the round ended with room for more.
            let now = Instant::now();
            let mut wait =
                self.deadlines.front().map_or(Duration::from_millis(50), |d| d.0.saturating_duration_since(now));
            if started == ROUND && self.in_flight < self.window && !exhausted {
                wait = Duration::ZERO;
            }
            if self.interval.is_some() && self.in_flight < self.window {
                wait = wait.min(self.next_start.saturating_duration_since(now));
            }
            if backoff && self.in_flight == 0 {
                // Nothing in flight to free a descriptor: let others (or TIME_WAIT) drain, but
                // not for ever: a process with no descriptor to spare will not get one.
                let since = *self.starved.get_or_insert_with(Instant::now);
                if since.elapsed() > STARVED {
                    // Out of descriptors as far as this scan can tell: `run` says so.
                    return Err(io::Error::from_raw_os_error(libc::EMFILE));
                }
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            if started > 0 && !backoff {
                self.starved = None;
            }
            if self.in_flight > 0 {
                let ts = rustix::event::Timespec {
                    tv_sec: i64::try_from(wait.as_secs()).unwrap_or(i64::MAX),
                    tv_nsec: wait.subsec_nanos().into(),
                };
                events.clear();
                match epoll::wait(&self.epoll, rustix::buffer::spare_capacity(&mut events), Some(&ts)) {
                    Ok(_) => {}
                    Err(rustix::io::Errno::INTR) => continue,
                    Err(e) => return Err(e.into()),
                }
                for ev in &events {
                    let data = ev.data.u64();
                    self.answer((data & 0xffff_ffff) as usize, (data >> 32) as u32);
                }
            }
            self.expire(Instant::now());
        }
    }

    /// Open a socket and connect; record at once what is known at once.
    fn start(&mut self, job: u64, attempt: u32) -> io::Result<Start> {
        let target = self.shared.target(job);
        let domain = Domain::for_address(target);
        let spare = match self.spare.pop() {
            Some((d, s)) if d == domain => Some(s),
            _ => None,
        };
        let reused = spare.is_some();
        let sock = match spare.map_or_else(|| Socket::new(domain, Type::STREAM.nonblocking().cloexec(), None), Ok) {
            Ok(s) => s,
            Err(e) if is_resource_shortage(&e) => {
                self.shrink();
                return Ok(Start::Later);
            }
            Err(e) => return Err(e),
        };
        let to = target.into();
        let mut result = sock.connect(&to);
        if reused && result.as_ref().is_err_and(|e| e.raw_os_error() == Some(libc::ECONNABORTED)) {
            // Linux answers the first connect after a refusal with ECONNABORTED (the last
            // attempt's end), and connects afresh on the next.
            result = sock.connect(&to);
        }
        match result {
            // A kernel that will not connect a refused socket again: fresh sockets from now on.
            Err(e) if reused && !matches!(e.raw_os_error(), Some(libc::EINPROGRESS | libc::ECONNREFUSED)) => {
                tracing::debug!(error = %e, "reconnecting a refused socket failed: one socket a probe from now on");
                self.reuse = false;
                self.spare.clear();
                self.start(job, attempt)
            }
            Ok(()) => {
                let state = self.connected(&sock, target);
                self.shared.record(job, state);
                Ok(Start::Finished)
            }
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {
                let slot = self.free.pop().ok_or_else(|| io::Error::other("no free slot"))?;
                self.generation = self.generation.wrapping_add(1);
                self.fresh.push(slot);
                self.slots[slot] = Some(InFlight { sock, job, attempt, generation: self.generation });
                self.deadlines.push_back((Instant::now() + self.shared.cfg.timeout, slot, self.generation));
                self.in_flight += 1;
                Ok(Start::Started)
            }
            Err(e) if is_resource_shortage(&e) => {
                self.shrink();
                Ok(Start::Later)
            }
            Err(e) => {
                self.shared.record(job, state_of_error(&e));
                Ok(Start::Finished)
            }
        }
    }

    /// Look at the probes just started before paying for epoll: by the time a round of
    /// connects is issued, most refusals (and acceptances) on a fast network are in, and
    /// SO_ERROR says so in one call. Only the probes still pending join the epoll set.
    fn settle_fresh(&mut self) -> io::Result<()> {
        let mut fresh = std::mem::take(&mut self.fresh);
        for slot in fresh.drain(..) {
            let Some(probe) = &self.slots[slot] else { continue };
            let generation = probe.generation;
            match probe.sock.take_error() {
                Ok(Some(e)) | Err(e) => {
                    if let Some(probe) = self.take(slot, generation) {
                        let state = state_of_error(&e);
                        self.shared.record(probe.job, state);
                        // Refused, never registered with epoll: fit to connect again.
                        if state == PortState::Closed && self.reuse && self.spare.len() < ROUND {
                            self.spare.push((Domain::for_address(self.shared.target(probe.job)), probe.sock));
                        }
                    }
                }
                Ok(None) => {
                    // Pending or connected: epoll tells which (a ready socket reports at once).
                    let data = epoll::EventData::new_u64(slot as u64 | u64::from(generation) << 32);
                    epoll::add(&self.epoll, probe.sock.as_fd(), data, epoll::EventFlags::OUT)?;
                }
            }
        }
        self.fresh = fresh;
        Ok(())
    }

    fn shrink(&mut self) {
        self.window = (self.window * 3 / 4).max(1);
        tracing::debug!(window = self.window, "out of descriptors or ports: fewer probes in flight");
    }

    /// A connected socket: open, unless it connected to itself.
    fn connected(&self, sock: &Socket, target: SocketAddr) -> PortState {
        // Close with a reset: no FIN handshake, no TIME_WAIT left behind.
        let _ = sock.set_linger(Some(Duration::ZERO));
        let local = sock.local_addr().ok().and_then(|a| a.as_socket());
        if local == Some(target) {
            // A loopback connect whose ephemeral port was the target port: TCP's
            // simultaneous open joined the socket to itself. Nothing listens there.
            self.shared.self_connects.fetch_add(1, Ordering::Relaxed);
            return PortState::Closed;
        }
        PortState::Open
    }

    fn answer(&mut self, slot: usize, generation: u32) {
        let Some(probe) = self.take(slot, generation) else { return };
        let state = match probe.sock.take_error() {
            Ok(None) => self.connected(&probe.sock, self.shared.target(probe.job)),
            Ok(Some(e)) | Err(e) => state_of_error(&e),
        };
        self.shared.record(probe.job, state);
    }

    fn expire(&mut self, now: Instant) {
        while let Some(&(deadline, slot, generation)) = self.deadlines.front() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_front();
            let Some(probe) = self.take(slot, generation) else { continue };
            if probe.attempt < self.shared.cfg.retries {
                self.retry.push((probe.job, probe.attempt + 1));
            } else {
                self.shared.record(probe.job, PortState::Filtered);
            }
        }
    }

    fn take(&mut self, slot: usize, generation: u32) -> Option<InFlight> {
        match self.slots.get(slot) {
            Some(Some(p)) if p.generation == generation => {}
            _ => return None,
        }
        let probe = self.slots[slot].take()?;
        // Closing the socket (on drop) also removes it from the epoll set.
        self.free.push(slot);
        self.in_flight -= 1;
        Some(probe)
    }
}

pub(super) fn is_resource_shortage(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM | libc::EADDRNOTAVAIL | libc::EAGAIN)
    )
}

fn state_of_error(e: &io::Error) -> PortState {
    match e.raw_os_error() {
        Some(libc::ECONNREFUSED) => PortState::Closed,
        // Unreachable, timed out by the kernel, or anything else: no answer from a listener.
        _ => PortState::Filtered,
    }
}

/// A seed for the probe order: the clock and the process id, different every run.
pub(super) fn random_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0x9e37_79b9, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        ^ u64::from(std::process::id()) << 32
}
