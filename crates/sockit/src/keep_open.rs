//! `tcp listen --keep-open`: many clients at once, their data to the output, the input to all
//! of them, each behind a bounded outbox so one slow client never holds up the others.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::conn::{Conn, Stream, connection_dead};
use crate::exec::{Children, exec_for};
use crate::listener::{AccessRules, Listener};
use crate::net::NetError;
use crate::stdio::Stdio;
use crate::tls;

/// Options for a listener that serves many clients at once.
#[derive(Debug, Clone, Default)]
pub struct ManyOptions {
    /// At most this many clients at once; more are closed on arrival.
    pub max_conns: Option<usize>,
    pub rules: AccessRules,
    /// Give each client its own `sh -c CMD`; otherwise clients' data goes to the output and
    /// the input goes to every client.
    pub exec: Option<String>,
    /// Speak TLS with each client (the handshake in the client's own thread).
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// How long a client may stay behind the others (its outbox over `OUTBOX`), or make no
/// progress at all, before it is disconnected.
pub const STALL: Duration = Duration::from_secs(5);

/// How much of the input may wait for one client before it counts as behind.
const OUTBOX: usize = 4 << 20;

/// How far behind a client may fall while `STALL` runs; past it, it is disconnected at once.
const BEHIND_AT_MOST: usize = 4 * OUTBOX;

/// What waits to be written to one client: chunks of the input, shared among all clients.
#[derive(Debug, Default)]
struct Outbox {
    state: Mutex<OutboxState>,
    changed: std::sync::Condvar,
}

#[derive(Debug)]
struct OutboxState {
    chunks: std::collections::VecDeque<Arc<[u8]>>,
    bytes: usize,
    /// No more chunks will come (the input ended, or the client is gone).
    closed: bool,
    /// Since when the outbox has held more than `OUTBOX`.
    behind_since: Option<std::time::Instant>,
    /// When the writer last took a chunk (its last write was done).
    progress: std::time::Instant,
}

impl Default for OutboxState {
    fn default() -> Self {
        OutboxState {
            chunks: Default::default(),
            bytes: 0,
            closed: false,
            behind_since: None,
            progress: std::time::Instant::now(),
        }
    }
}

/// What the input makes of one client after a chunk.
#[derive(Debug, PartialEq, Eq)]
enum Standing {
    /// Keeping up.
    Fine,
    /// Behind the limit, since then.
    Behind(std::time::Instant),
    /// Too far behind, or closed: to be let go.
    Gone,
}

impl Outbox {
    fn lock(&self) -> std::sync::MutexGuard<'_, OutboxState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Add a chunk without waiting.
    fn push(&self, chunk: &Arc<[u8]>) -> Standing {
        let mut st = self.lock();
        if st.closed || st.bytes + chunk.len() > BEHIND_AT_MOST {
            return Standing::Gone;
        }
        if st.bytes == 0 {
            // The writer's clock starts when there is something to write.
            st.progress = std::time::Instant::now();
        }
        st.bytes += chunk.len();
        st.chunks.push_back(Arc::clone(chunk));
        self.changed.notify_all();
        if st.bytes <= OUTBOX {
            return Standing::Fine;
        }
        Standing::Behind(*st.behind_since.get_or_insert_with(std::time::Instant::now))
    }

    /// Whether it holds more than `OUTBOX`, and whether its writer has made no progress for
    /// `STALL`.
    fn behind(&self) -> (bool, bool) {
        let st = self.lock();
        (st.bytes > OUTBOX, st.bytes > 0 && st.progress.elapsed() > STALL)
    }

    /// The next chunk to write; `None` once closed and empty.
    fn pop(&self) -> Option<Arc<[u8]>> {
        let mut st = self.lock();
        st.progress = std::time::Instant::now();
        loop {
            if let Some(c) = st.chunks.pop_front() {
                st.bytes -= c.len();
                if st.bytes <= OUTBOX {
                    st.behind_since = None;
                }
                return Some(c);
            }
            if st.closed {
                return None;
            }
            st = self.changed.wait(st).unwrap_or_else(|p| p.into_inner());
            st.progress = std::time::Instant::now();
        }
    }

    fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }
}

/// What the clients of `serve_many` share: who is there, and whether the input and the
/// output are still there.
#[derive(Debug, Default)]
struct Fanout {
    clients: Mutex<Vec<(u64, Arc<Outbox>, Stream)>>,
    input_done: AtomicBool,
    output_gone: AtomicBool,
    /// A terminal: a client that closes is let go at once (nobody knows when typing ends).
    input_is_terminal: bool,
}

impl Fanout {
    fn clients(&self) -> std::sync::MutexGuard<'_, Vec<(u64, Arc<Outbox>, Stream)>> {
        self.clients.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn outboxes(&self) -> Vec<(u64, Arc<Outbox>)> {
        self.clients().iter().map(|(i, o, _)| (*i, Arc::clone(o))).collect()
    }

    /// The input, chunk by chunk, to every client's outbox; the input is never held up by
    /// one client for the others. A client more than `OUTBOX` behind while another keeps up
    /// has `STALL` to catch up, and is let go past it (or past `BEHIND_AT_MOST`). When every
    /// client is behind, the input waits for the fastest (back-pressure, as with one
    /// client); a client whose writer made no progress for `STALL` is let go then too. At the
    /// end of the input every client gets FIN once its outbox is written.
    fn send_input(&self, mut input: std::fs::File) {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // Back-pressure while nobody keeps up.
            loop {
                let list = self.outboxes();
                let states: Vec<(u64, (bool, bool))> = list.iter().map(|(i, o)| (*i, o.behind())).collect();
                for (id, (_, stuck)) in &states {
                    if *stuck {
                        self.drop_client(*id, Some("it took none of the input for the stall window"));
                    }
                }
                if states.is_empty() || states.iter().any(|(_, (behind, stuck))| !behind && !stuck) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            let n = match input.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let chunk: Arc<[u8]> = Arc::from(&buf[..n]);
            let list = self.outboxes();
            let standings: Vec<(u64, Standing)> = list.iter().map(|(i, o)| (*i, o.push(&chunk))).collect();
            let someone_keeps_up = standings.iter().any(|(_, s)| *s == Standing::Fine);
            for (id, standing) in standings {
                match standing {
                    Standing::Gone => self.drop_client(id, Some("it fell too far behind the input")),
                    Standing::Behind(since) if someone_keeps_up && since.elapsed() > STALL => {
                        self.drop_client(id, Some("it stayed behind the others for the stall window"))
                    }
                    _ => {}
                }
            }
        }
        self.input_done.store(true, Ordering::Relaxed);
        for (_, outbox, _) in self.clients().iter() {
            outbox.close();
        }
    }

    /// Take a client off the list; with `why`, it is cut off (both ways shut down).
    fn drop_client(&self, id: u64, why: Option<&str>) {
        let mut list = self.clients();
        if let Some(pos) = list.iter().position(|(i, _, _)| *i == id) {
            let (_, outbox, stream) = list.remove(pos);
            outbox.close();
            if let Some(why) = why {
                tracing::warn!(why, "client disconnected");
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }
}

/// Serve clients until the process is stopped, or the output is gone. One thread per client
/// (and one writing to it); a thread the system refuses costs that client, not the server.
pub fn serve_many(listener: Listener, opts: &ManyOptions, stdio: Stdio) -> Result<ManyEnd, NetError> {
    let active = Arc::new(AtomicUsize::new(0));
    let fanout = Arc::new(Fanout { input_is_terminal: stdio.input_is_terminal, ..Fanout::default() });
    let children = Arc::new(Children::default());
    // With commands running, a signal that stops the server ends them first.
    let signal = Arc::new(std::sync::atomic::AtomicI32::new(0));
    if opts.exec.is_some() {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let mut s = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
            .map_err(|e| NetError::io("signal handlers", e))?;
        let signal = Arc::clone(&signal);
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                if let Some(sig) = s.forever().next() {
                    signal.store(sig, Ordering::Relaxed);
                }
            })
            .map_err(|e| NetError::io("cannot start a thread", e))?;
    }
    let (input, output) = stdio.into_files();
    let output = Arc::new(Mutex::new(output));
    if opts.exec.is_none() {
        let fanout = Arc::clone(&fanout);
        std::thread::Builder::new()
            .name("input".into())
            .spawn(move || fanout.send_input(input))
            .map_err(|e| NetError::io("cannot start a thread", e))?;
    }
    let mut next_id = 0u64;
    let stop = || signal.load(Ordering::Relaxed) != 0 || fanout.output_gone.load(Ordering::Relaxed);
    while let Some((stream, peer)) = listener.accept_unless(&opts.rules, &stop)? {
        if opts.max_conns.is_some_and(|m| active.load(Ordering::Relaxed) >= m) {
            tracing::info!(%peer, "connection closed: --max-conns reached");
            continue;
        }
        active.fetch_add(1, Ordering::Relaxed);
        next_id += 1;
        let id = next_id;
        let (active2, fanout, exec, tls, output, children) = (
            Arc::clone(&active),
            Arc::clone(&fanout),
            opts.exec.clone(),
            opts.tls.clone(),
            Arc::clone(&output),
            Arc::clone(&children),
        );
        // Keepalive probes find a client that vanished while it owed nothing (a half-closed
        // client is kept for the rest of the input; one that is gone must not be).
        let keepalive = socket2::TcpKeepalive::new()
            .with_time(Duration::from_secs(10))
            .with_interval(Duration::from_secs(5))
            .with_retries(3);
        let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&keepalive);
        let spawned = std::thread::Builder::new().name("client".into()).spawn(move || {
            let conn = match tls {
                Some(config) => tls::server(stream, config),
                None => Conn::plain(stream),
            };
            match conn {
                Err(e) => tracing::warn!(%peer, error = %e, "connection dropped"),
                Ok(conn) => match exec {
                    Some(cmd) => match exec_for(conn, &cmd, &children) {
                        Ok(status) => tracing::info!(%peer, %status, "command finished"),
                        Err(e) => tracing::warn!(%peer, error = %e, "command failed"),
                    },
                    None => serve_one(conn, id, &fanout, &output),
                },
            }
            active2.fetch_sub(1, Ordering::Relaxed);
        });
        if let Err(e) = spawned {
            // The closure, and with it the connection, is dropped: that client is closed.
            active.fetch_sub(1, Ordering::Relaxed);
            tracing::warn!(%peer, error = %e, "connection closed: no thread for it");
        }
    }
    children.end_all();
    match signal.load(Ordering::Relaxed) {
        0 => {
            tracing::warn!("the output is closed: no more clients are taken");
            Err(NetError::io("output", io::ErrorKind::BrokenPipe.into()))
        }
        sig => Ok(ManyEnd::Signal(sig)),
    }
}

/// Why `serve_many` stopped, when it was asked to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManyEnd {
    /// This signal (SIGINT, SIGTERM or SIGHUP) arrived; every command was ended first.
    Signal(i32),
}

/// One client of `serve_many`: its outbox written by a thread of its own, its data to the
/// output in whole chunks (the output's lock keeps clients apart). A client that shuts down
/// its side still gets the rest of the input, as in single-client mode.
fn serve_one(conn: Conn, id: u64, fanout: &Fanout, output: &Mutex<std::fs::File>) {
    let peer = conn.peer.clone();
    let outbox = Arc::new(Outbox::default());
    let writer = conn.stream.try_clone().ok().and_then(|w| {
        let (outbox, stream) = (Arc::clone(&outbox), w.try_clone().ok()?);
        if fanout.input_done.load(Ordering::Relaxed) {
            outbox.close();
        }
        fanout.clients().push((id, Arc::clone(&outbox), w));
        std::thread::Builder::new()
            .name("client-writer".into())
            .spawn(move || {
                while let Some(chunk) = outbox.pop() {
                    if (&stream).write_all(&chunk).is_err() {
                        outbox.close();
                        return;
                    }
                }
                // The input ended and all of it is written: FIN.
                let _ = stream.shutdown(Shutdown::Write);
            })
            .ok()
    });
    let mut buf = vec![0u8; 64 * 1024];
    let mut reader = &conn.stream;
    if writer.is_some() {
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            let mut out = output.lock().unwrap_or_else(|p| p.into_inner());
            if out.write_all(&buf[..n]).is_err() {
                // Nobody reads what clients send any more: stop taking clients.
                fanout.output_gone.store(true, Ordering::Relaxed);
                break;
            }
        }
    }
    // The client is done sending; what the input still owes it is written before it closes,
    // unless the connection dies first (a reset, or keepalive probes unanswered).
    if let Some(w) = writer {
        if fanout.output_gone.load(Ordering::Relaxed) || fanout.input_is_terminal {
            outbox.close();
        }
        while !w.is_finished() {
            if connection_dead(&conn.stream) {
                fanout.drop_client(id, Some("the connection is gone"));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = w.join();
    }
    fanout.drop_client(id, None);
    if let Err(e) = conn.finish() {
        tracing::info!(%peer, error = %e, "connection ended");
    }
    tracing::info!(%peer, "connection closed");
}
