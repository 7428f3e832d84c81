//! `tcp listen --keep-open`: many clients at once, their data to the output, the input to all
//! of them. One thread polls every client (epoll): no thread and no buffer a client, so a client
//! that leaves is freed at once whatever the input does, and thousands cost little. Each client
//! has a bounded outbox of the input's chunks, so one slow client never holds up the others.
//!
//! A client's end is ncat's: once it ends its side (or its connection fails), what it sent is
//! written to the output, what the input already gave it is written to it, and it is closed;
//! later input goes to the others. Input is read only while some client is there to take it
//! (none is dropped for want of a client); at the input's end each client gets FIN once its
//! outbox is written.

mod metrics;
mod pipes;
pub use metrics::Counters;
use pipes::{Wake, read_input, write_output};

use std::collections::{HashMap, VecDeque};
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::time::{Duration, Instant};

use rustix::event::epoll;

use crate::conn::Conn;
use crate::listener::{AccessRules, Listener};
use crate::net::{self, Doing, NetError};
use crate::stdio::Stdio;

/// Who a listener serving many clients at once admits, and how: how many at once, from where,
/// and through TLS (built from `tcp::ListenConfig`, not a second configuration).
#[derive(Debug, Clone, Default)]
pub struct Admission {
    /// At most this many clients at once; more are closed on arrival.
    pub max_conns: Option<usize>,
    pub rules: AccessRules,
    /// Speak TLS with each client (the handshake in a thread of its own).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// What is counted, for `GET /metrics`.
    pub counters: Arc<metrics::Counters>,
}

/// How long a client may stay behind the others (its outbox over `OUTBOX`), or make no
/// progress at all, before it is disconnected.
pub const STALL: Duration = Duration::from_secs(5);

/// How much of the input may wait for one client before it counts as behind.
const OUTBOX: usize = 4 << 20;

/// How far behind a client may fall while `STALL` runs; past it, it is disconnected at once.
const BEHIND_AT_MOST: usize = 4 * OUTBOX;

/// Chunks of clients' data waiting for the output; past it, clients are not read.
const OUTPUT_QUEUE: usize = 64;

/// How often the loop wakes, at least, to judge stalls.
const TICK: Duration = Duration::from_millis(100);

/// Where the clients come from: a TCP listener (the rules and TLS apply), or a Unix socket.
#[derive(Debug)]
pub enum Accepting {
    Tcp(Listener),
    /// The listener, its path (each client is known by it), and the socket file it made
    /// (removed when it goes).
    Unix(std::os::unix::net::UnixListener, String, Option<crate::unix::SocketFile>),
}

impl Accepting {
    fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match self {
            Accepting::Tcp(l) => l.as_std().as_fd(),
            Accepting::Unix(l, ..) => l.as_fd(),
        }
    }

    fn set_nonblocking(&self) -> io::Result<()> {
        match self {
            Accepting::Tcp(l) => l.as_std().set_nonblocking(true),
            Accepting::Unix(l, ..) => l.set_nonblocking(true),
        }
    }
}

/// A client just accepted: a TCP one with its address (for the rules), or a Unix one, ready.
enum Arrived {
    Tcp(TcpStream, SocketAddr),
    Unix(Conn),
}

/// How the loop takes a new admission (SIGHUP): `hup` is set by the signal, `refresh` then
/// gives the admission to put in force (`None`: the one in force stays).
pub struct Reload<'a> {
    pub hup: Arc<AtomicBool>,
    pub refresh: &'a mut dyn FnMut() -> Option<Admission>,
}

impl std::fmt::Debug for Reload<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reload").field("hup", &self.hup).finish_non_exhaustive()
    }
}

/// Serve clients until the process is stopped, or the output is gone.
pub fn serve_many(
    listener: Accepting,
    opts: &Admission,
    stdio: Stdio,
    reload: Option<Reload<'_>>,
) -> Result<std::convert::Infallible, NetError> {
    FanOut::new(listener, opts.clone(), stdio)?.run(reload)
}

// Event keys of what the loop polls besides clients (client keys count up from 0).
const LISTENER: u64 = u64::MAX;
const INPUT: u64 = u64::MAX - 1;
const OUTPUT_ROOM: u64 = u64::MAX - 2;
const HANDSHAKES: u64 = u64::MAX - 3;

/// One client, as the loop holds it.
struct Client {
    conn: Conn,
    /// Chunks of the input not written yet, the first from `offset`.
    queue: VecDeque<Arc<[u8]>>,
    offset: usize,
    bytes: usize,
    /// Since when it has held more than `OUTBOX`.
    behind_since: Option<Instant>,
    /// When its last write made progress (or its queue last became non-empty).
    progress: Instant,
    /// It ended its side: it is let go once its queue is written.
    leaving: bool,
    /// FIN sent (the input ended and all of it is written).
    fin: bool,
}

impl Client {
    fn owes(&self) -> bool {
        self.bytes > 0
    }
}

struct FanOut {
    listener: Accepting,
    opts: Admission,
    epoll: OwnedFd,
    clients: HashMap<u64, Client>,
    next_id: u64,
    /// The input's chunks, from its reading thread (bounded: a full channel holds it back).
    input: Receiver<Arc<[u8]>>,
    input_wake: Wake,
    input_done: bool,
    /// Clients' data to the output's writing thread.
    output: SyncSender<Vec<u8>>,
    output_room: Wake,
    output_waiting: Arc<AtomicBool>,
    output_gone: Arc<AtomicBool>,
    /// A chunk the output had no room for: no client is read until it is taken.
    held: Option<Vec<u8>>,
    /// TLS clients whose handshake is done, from their handshake threads.
    handshaken: Receiver<Conn>,
    handshaken_tx: SyncSender<Conn>,
    handshake_wake: Wake,
    handshaking: Arc<std::sync::atomic::AtomicUsize>,
    /// Accepting paused (out of descriptors) until then.
    accept_paused: Option<Instant>,
    buf: Vec<u8>,
}

impl FanOut {
    fn new(listener: Accepting, opts: Admission, stdio: Stdio) -> Result<FanOut, NetError> {
        let setup = |e: io::Error| NetError::io(Doing::KeepOpen, e);
        let (input_file, output_file) = stdio.into_files();
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC).map_err(|e| setup(e.into()))?;
        let input_wake = Wake::new().map_err(setup)?;
        let output_room = Wake::new().map_err(setup)?;
        let handshake_wake = Wake::new().map_err(setup)?;
        // The input: read ahead a chunk or two, then held back until the loop takes them.
        let (input_tx, input) = mpsc::sync_channel::<Arc<[u8]>>(2);
        {
            let wake = input_wake.clone();
            std::thread::Builder::new()
                .name("input".into())
                .spawn(move || read_input(input_file, input_tx, &wake))
                .map_err(|e| NetError::io(Doing::StartThread, e))?;
        }
        let (output, output_rx) = mpsc::sync_channel::<Vec<u8>>(OUTPUT_QUEUE);
        let output_waiting = Arc::new(AtomicBool::new(false));
        let output_gone = Arc::new(AtomicBool::new(false));
        {
            let (wake, waiting, gone) = (output_room.clone(), Arc::clone(&output_waiting), Arc::clone(&output_gone));
            std::thread::Builder::new()
                .name("output".into())
                .spawn(move || write_output(output_file, &output_rx, &wake, &waiting, &gone))
                .map_err(|e| NetError::io(Doing::StartThread, e))?;
        }
        let (handshaken_tx, handshaken) = mpsc::sync_channel::<Conn>(64);
        listener.set_nonblocking().map_err(setup)?;
        let add = |fd: &dyn AsFd, key: u64| {
            epoll::add(&epoll, fd.as_fd(), epoll::EventData::new_u64(key), epoll::EventFlags::IN)
                .map_err(|e| setup(e.into()))
        };
        add(&listener.fd(), LISTENER)?;
        add(&*input_wake.0, INPUT)?;
        add(&*output_room.0, OUTPUT_ROOM)?;
        add(&*handshake_wake.0, HANDSHAKES)?;
        Ok(FanOut {
            listener,
            opts,
            epoll,
            clients: HashMap::new(),
            next_id: 0,
            input,
            input_wake,
            input_done: false,
            output,
            output_room,
            output_waiting,
            output_gone,
            held: None,
            handshaken,
            handshaken_tx,
            handshake_wake,
            handshaking: Arc::default(),
            accept_paused: None,
            buf: vec![0u8; 64 * 1024],
        })
    }

    fn run(mut self, mut reload: Option<Reload<'_>>) -> Result<std::convert::Infallible, NetError> {
        let mut events: Vec<epoll::Event> = Vec::with_capacity(256);
        loop {
            if self.output_gone.load(Ordering::Relaxed) {
                tracing::warn!("the output is closed: no more clients are taken");
                return Err(NetError::io(Doing::Output, io::ErrorKind::BrokenPipe.into()));
            }
            events.clear();
            let ts = rustix::event::Timespec { tv_sec: 0, tv_nsec: TICK.subsec_nanos().into() };
            match epoll::wait(&self.epoll, rustix::buffer::spare_capacity(&mut events), Some(&ts)) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(NetError::io(Doing::KeepOpen, e.into())),
            }
            for ev in &events {
                match ev.data.u64() {
                    LISTENER => self.accept_all(),
                    INPUT => self.input_wake.clear(),
                    OUTPUT_ROOM => {
                        self.output_room.clear();
                        self.flush_held();
                    }
                    HANDSHAKES => {
                        self.handshake_wake.clear();
                        while let Ok(conn) = self.handshaken.try_recv() {
                            self.handshaking.fetch_sub(1, Ordering::Relaxed);
                            self.admit(conn);
                        }
                    }
                    id => self.client_event(id, ev.flags),
                }
            }
            self.take_input();
            self.judge_stalls();
            self.opts.counters.clients.store(self.count(), Ordering::Relaxed);
            // New rules, cap and certificate, for the clients that come next.
            if let Some(r) = reload.as_mut().filter(|r| r.hup.swap(false, Ordering::AcqRel))
                && let Some(new) = (r.refresh)()
            {
                self.opts = Admission { counters: Arc::clone(&self.opts.counters), ..new };
            }
            if self.accept_paused.is_some_and(|t| t.elapsed() > Duration::from_millis(50)) {
                self.accept_paused = None;
                let _ = epoll::add(
                    &self.epoll,
                    self.listener.fd(),
                    epoll::EventData::new_u64(LISTENER),
                    epoll::EventFlags::IN,
                );
            }
        }
    }

    /// Clients now, counting those still in their TLS handshake.
    fn count(&self) -> usize {
        self.clients.len() + self.handshaking.load(Ordering::Relaxed)
    }

    fn accept_all(&mut self) {
        for _ in 0..256 {
            let accepted = match &self.listener {
                Accepting::Tcp(l) => l.as_std().accept().map(|(s, peer)| Arrived::Tcp(s, peer)),
                Accepting::Unix(l, path, _) => l.accept().map(|(s, _)| Arrived::Unix(Conn::unix(s, path))),
            };
            let arrived = match accepted {
                Ok(a) => a,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if net::accept_error_is_transient(&e) => {
                    tracing::info!(error = %e, "accept failed");
                    if net::accept_error_is_shortage(&e) {
                        // Out of descriptors: let some close before trying again.
                        let _ = epoll::delete(&self.epoll, self.listener.fd());
                        self.accept_paused = Some(Instant::now());
                        return;
                    }
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    return;
                }
            };
            let peer = match &arrived {
                Arrived::Tcp(_, peer) if !self.opts.rules.admits(peer.ip()) => {
                    self.opts.counters.denied.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(%peer, "connection denied by the access rules");
                    continue;
                }
                Arrived::Tcp(_, peer) => peer.to_string(),
                Arrived::Unix(conn) => conn.peer.to_string(),
            };
            if self.opts.max_conns.is_some_and(|m| self.count() >= m) {
                self.opts.counters.over_cap.fetch_add(1, Ordering::Relaxed);
                tracing::info!(%peer, "connection closed: the cap on clients at once is reached");
                continue;
            }
            self.opts.counters.accepted.fetch_add(1, Ordering::Relaxed);
            tracing::info!(%peer, "connection accepted");
            let (stream, peer) = match arrived {
                Arrived::Unix(conn) => {
                    self.admit(conn);
                    continue;
                }
                Arrived::Tcp(stream, peer) => (stream, peer),
            };
            let _ = stream.set_nodelay(true);
            // Keepalive probes find a client that vanished while it owed nothing.
            let keepalive = socket2::TcpKeepalive::new()
                .with_time(Duration::from_secs(10))
                .with_interval(Duration::from_secs(5))
                .with_retries(3);
            let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&keepalive);
            match self.opts.tls.clone() {
                Some(config) => self.handshake(stream, peer, config),
                None => self.admit(Conn::accepted(stream, peer)),
            }
        }
    }

    /// A TLS client's handshake, in a thread of its own (it may take up to its deadline); the
    /// loop takes the client when it is done.
    fn handshake(&mut self, stream: TcpStream, peer: SocketAddr, config: Arc<rustls::ServerConfig>) {
        let _ = stream.set_nonblocking(false);
        let (tx, wake, count) =
            (self.handshaken_tx.clone(), self.handshake_wake.clone(), Arc::clone(&self.handshaking));
        count.fetch_add(1, Ordering::Relaxed);
        let spawned = std::thread::Builder::new().name("tls-handshake".into()).stack_size(256 << 10).spawn(move || {
            match crate::tls::server(stream, config) {
                Ok(conn) => {
                    if tx.send(conn).is_ok() {
                        wake.ring();
                        return;
                    }
                }
                Err(e) => tracing::warn!(%peer, error = %e, "connection dropped"),
            }
            count.fetch_sub(1, Ordering::Relaxed);
        });
        if let Err(e) = spawned {
            self.handshaking.fetch_sub(1, Ordering::Relaxed);
            tracing::warn!(%peer, error = %e, "connection closed: no thread for its handshake");
        }
    }

    /// A client joins: polled for what it sends; the input's end already told, if it came.
    fn admit(&mut self, conn: Conn) {
        if conn.stream.set_nonblocking(true).is_err() {
            return;
        }
        let id = self.next_id;
        self.next_id += 1;
        // Edge-triggered: told once of what is new. Every read goes on until the socket would
        // block (or the output is full: then every client is read again once it has room),
        // every write until the socket would block or nothing is owed.
        let interest =
            epoll::EventFlags::IN | epoll::EventFlags::OUT | epoll::EventFlags::RDHUP | epoll::EventFlags::ET;
        if let Err(e) = epoll::add(&self.epoll, conn.stream.as_fd(), epoll::EventData::new_u64(id), interest) {
            tracing::warn!(peer = %conn.peer, error = %e, "connection closed");
            return;
        }
        let client = Client {
            conn,
            queue: VecDeque::new(),
            offset: 0,
            bytes: 0,
            behind_since: None,
            progress: Instant::now(),
            leaving: false,
            fin: false,
        };
        self.clients.insert(id, client);
        if self.input_done {
            self.finish_or_fin(id);
        }
    }

    fn client_event(&mut self, id: u64, flags: epoll::EventFlags) {
        use epoll::EventFlags as F;
        // (While the output is full no client is read: all are once it has room.)
        if flags.intersects(F::IN | F::RDHUP | F::HUP | F::ERR) && self.held.is_none() {
            self.read_client(id);
        }
        if flags.contains(F::OUT) {
            self.write_client(id);
        }
    }

    /// Read what the client sent, to the output, until it would block; its end (EOF, or a
    /// failure once what came before is read) lets it go.
    fn read_client(&mut self, id: u64) {
        loop {
            let Some(c) = self.clients.get(&id) else { return };
            let r = (&c.conn.stream).read(&mut self.buf);
            match r {
                Ok(0) => return self.leave(id, None),
                Ok(n) => {
                    metrics::Counters::add(&self.opts.counters.from_clients, n);
                    let chunk = self.buf[..n].to_vec();
                    match self.output.try_send(chunk) {
                        Ok(()) => {}
                        Err(TrySendError::Full(chunk)) => {
                            self.held = Some(chunk);
                            self.output_waiting.store(true, Ordering::Release);
                            // The output may have made room before it was told to say so.
                            self.flush_held();
                            return;
                        }
                        Err(TrySendError::Disconnected(_)) => return,
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.drop_client(id, Some(&format!("the connection failed: {e}"))),
            }
        }
    }

    fn flush_held(&mut self) {
        let Some(chunk) = self.held.take() else { return };
        match self.output.try_send(chunk) {
            Ok(()) => {
                self.output_waiting.store(false, Ordering::Release);
                // What arrived while no client was read is read now.
                let ids: Vec<u64> = self.clients.keys().copied().collect();
                for id in ids {
                    if self.held.is_none() {
                        self.read_client(id);
                    }
                }
            }
            Err(TrySendError::Full(chunk)) => self.held = Some(chunk),
            Err(TrySendError::Disconnected(_)) => {}
        }
    }

    /// The client ended its side: what the input gave it is written, then it is let go.
    fn leave(&mut self, id: u64, why: Option<&str>) {
        let Some(c) = self.clients.get_mut(&id) else { return };
        c.leaving = true;
        if !c.owes() {
            self.drop_client(id, why);
        }
    }

    /// Take the input's chunks while some client keeps up (none: it waits, back-pressure) and
    /// there is a client to take them.
    fn take_input(&mut self) {
        while !self.input_done && !self.clients.is_empty() && self.someone_keeps_up() {
            match self.input.try_recv() {
                Ok(chunk) => self.distribute(&chunk),
                Err(TryRecvError::Empty) => return,
                Err(TryRecvError::Disconnected) => {
                    self.input_done = true;
                    let ids: Vec<u64> = self.clients.keys().copied().collect();
                    for id in ids {
                        self.finish_or_fin(id);
                    }
                }
            }
        }
    }

    fn someone_keeps_up(&self) -> bool {
        self.clients.values().any(|c| !c.leaving && c.bytes <= OUTBOX)
    }

    fn distribute(&mut self, chunk: &Arc<[u8]>) {
        let now = Instant::now();
        let ids: Vec<u64> = self.clients.keys().copied().collect();
        for id in ids {
            let Some(c) = self.clients.get_mut(&id) else { continue };
            if c.leaving {
                continue;
            }
            if c.bytes + chunk.len() > BEHIND_AT_MOST {
                self.drop_client(id, Some("it fell too far behind the input"));
                continue;
            }
            if c.bytes == 0 {
                // Its writing clock starts when there is something to write.
                c.progress = now;
            }
            c.bytes += chunk.len();
            c.queue.push_back(Arc::clone(chunk));
            if c.bytes > OUTBOX {
                c.behind_since.get_or_insert(now);
            }
            self.write_client(id);
        }
    }

    /// Write what the client is owed until the socket would block (then wait for room).
    fn write_client(&mut self, id: u64) {
        loop {
            let Some(c) = self.clients.get_mut(&id) else { return };
            if c.queue.is_empty() {
                break;
            }
            let slices: Vec<IoSlice<'_>> = c
                .queue
                .iter()
                .take(64)
                .enumerate()
                .map(|(i, b)| IoSlice::new(if i == 0 { &b[c.offset..] } else { b }))
                .collect();
            let r = (&c.conn.stream).write_vectored(&slices);
            drop(slices);
            match r {
                Ok(0) => return self.drop_client(id, Some("it stopped taking data")),
                Ok(mut n) => {
                    c.progress = Instant::now();
                    c.bytes -= n;
                    metrics::Counters::add(&self.opts.counters.to_clients, n);
                    while n > 0 {
                        let left = c.queue[0].len() - c.offset;
                        if n >= left {
                            n -= left;
                            c.queue.pop_front();
                            c.offset = 0;
                        } else {
                            c.offset += n;
                            n = 0;
                        }
                    }
                    if c.bytes <= OUTBOX {
                        c.behind_since = None;
                    }
                }
                // The socket tells (edge-triggered) when it takes more.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // A client that closed altogether answers a write with a reset: gone.
                Err(e) => return self.drop_client(id, Some(&format!("the connection failed: {e}"))),
            }
        }
        self.finish_or_fin(id);
    }

    /// With nothing left to write: a leaving client goes; at the input's end, FIN.
    fn finish_or_fin(&mut self, id: u64) {
        let Some(c) = self.clients.get_mut(&id) else { return };
        if c.owes() {
            return;
        }
        if c.leaving {
            return self.drop_client(id, None);
        }
        if self.input_done && !c.fin {
            c.fin = true;
            let _ = c.conn.stream.shutdown(Shutdown::Write);
        }
    }

    /// Clients that make no progress for the stall window, or stay behind the others for it,
    /// are let go.
    fn judge_stalls(&mut self) {
        let keeps_up = self.someone_keeps_up();
        let mut gone = Vec::new();
        for (&id, c) in &self.clients {
            if c.owes() && c.progress.elapsed() > STALL {
                gone.push((id, "it took none of the input for the stall window"));
            } else if keeps_up && c.behind_since.is_some_and(|t| t.elapsed() > STALL) {
                gone.push((id, "it stayed behind the others for the stall window"));
            }
        }
        metrics::Counters::add(&self.opts.counters.cut, gone.len());
        for (id, why) in gone {
            self.drop_client(id, Some(why));
        }
    }

    /// Let a client go; with `why`, it is cut off (and said to be).
    fn drop_client(&mut self, id: u64, why: Option<&str>) {
        let Some(c) = self.clients.remove(&id) else { return };
        let _ = epoll::delete(&self.epoll, c.conn.stream.as_fd());
        let peer = c.conn.peer.clone();
        match why {
            Some(why) => tracing::warn!(%peer, why, "client disconnected"),
            None => tracing::info!(%peer, "connection closed"),
        }
        // A TLS tunnel behind the stream ends on its own once the stream is closed: it is not
        // waited for here, where every other client is served.
        let _ = c.conn.stream.shutdown(Shutdown::Both);
        drop(c.conn);
    }
}
