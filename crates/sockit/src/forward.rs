//! `sockit relay FROM TO`: port forwarding. Every connection accepted on FROM is joined to a
//! new connection to TO, many at once, with the same end-of-input rules as `tcp` (an end of
//! data one way is passed on as a shut-down write side, and the other way goes on), access
//! rules, a connection cap, and a line per connection (who, how long, bytes each way). Bytes go
//! socket to socket by splice(2) through a pipe, never through sockit's memory.

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sockit_core::endpoint::Host;

use crate::net::NetError;
use crate::relay::Stream;
use crate::tcp::{AccessRules, Listener};

/// Where connections come from.
#[derive(Debug, Clone, PartialEq)]
pub enum ListenOn {
    Tcp(SocketAddr),
    Unix(String),
}

/// Where each one goes.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectTo {
    Tcp(Host, u16),
    Unix(String),
}

/// `relay`: from where, to where, who may come, how many at once.
#[derive(Debug, Clone, PartialEq)]
pub struct ForwardConfig {
    pub from: ListenOn,
    pub to: ConnectTo,
    pub rules: AccessRules,
    pub max_conns: Option<usize>,
    /// Reach TO through this proxy.
    pub proxy: Option<sockit_core::proxy::Proxy>,
    pub connect_timeout: Duration,
}

/// One connection's story, told when it ends.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Forwarded {
    pub client: String,
    pub target: String,
    /// Bytes from the client to the target, and back.
    pub up: u64,
    pub down: u64,
    pub millis: u128,
    /// Why it ended early, if it did (refused by the rules, the cap, or the target).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What the relay listens on, once bound.
#[derive(Debug)]
enum Bound {
    Tcp(Listener),
    Unix(UnixListener, String),
}

/// Listen on `cfg.from`, say where through `started`, and forward every connection until the
/// process ends; each ended connection goes to `log` (from the connection's own thread).
pub fn run(
    cfg: &ForwardConfig,
    started: &mut dyn FnMut(String),
    log: Arc<dyn Fn(&Forwarded) + Send + Sync>,
) -> Result<(), NetError> {
    crate::net::raise_fd_limit();
    let bound = match &cfg.from {
        ListenOn::Tcp(addr) => {
            let l = Listener::bind(*addr)?;
            started(format!("{} (tcp)", l.local_addr()?));
            Bound::Tcp(l)
        }
        ListenOn::Unix(path) => {
            let l = crate::tcp::unix_listener(path)?;
            started(format!("{path} (unix)"));
            Bound::Unix(l, path.clone())
        }
    };
    let active = Arc::new(AtomicUsize::new(0));
    let cfg = Arc::new(cfg.clone());
    // One logger: a connection never waits for the log (a stderr nobody reads would hold every
    // finished connection's thread); when the log falls 4,096 lines behind, lines are dropped.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Forwarded>(4096);
    std::thread::Builder::new()
        .name("forward-log".into())
        .spawn(move || {
            for story in rx {
                log(&story);
            }
        })
        .map_err(|e| NetError::io("cannot start a thread", e))?;
    let log = move |story: Forwarded| {
        let _ = tx.try_send(story);
    };
    let log = Arc::new(log);
    loop {
        let (stream, client) = match &bound {
            Bound::Tcp(l) => match l.accept_unless(&cfg.rules, &|| false)? {
                Some((s, peer)) => (Stream::Tcp(s), peer.to_string()),
                None => continue,
            },
            Bound::Unix(l, path) => match l.accept() {
                Ok((s, _)) => (Stream::Unix(s), path.clone()),
                Err(e) if crate::net::accept_error_is_transient(&e) => continue,
                Err(e) => return Err(NetError::io(format!("accept on {path}"), e)),
            },
        };
        let n = active.fetch_add(1, Ordering::AcqRel);
        if cfg.max_conns.is_some_and(|max| n >= max) {
            active.fetch_sub(1, Ordering::AcqRel);
            let _ = stream.shutdown(Shutdown::Both);
            log(Forwarded {
                client,
                target: target_name(&cfg.to),
                up: 0,
                down: 0,
                millis: 0,
                error: Some(format!("refused: {} connections already (the cap)", n)),
            });
            continue;
        }
        let (job_cfg, job_active, job_log) = (Arc::clone(&cfg), Arc::clone(&active), Arc::clone(&log));
        let spawned = std::thread::Builder::new().name("forward".into()).stack_size(STACK).spawn(move || {
            let story = forward(&job_cfg, stream, client);
            job_active.fetch_sub(1, Ordering::AcqRel);
            job_log(story);
        });
        if let Err(e) = spawned {
            // Out of threads: this connection is closed (it went with the closure).
            active.fetch_sub(1, Ordering::AcqRel);
            tracing::warn!(error = %e, "no thread for a connection");
        }
    }
}

/// TO as shown in the log.
pub fn target_name(to: &ConnectTo) -> String {
    match to {
        ConnectTo::Tcp(h, p) => match h {
            Host::Ip(std::net::IpAddr::V6(ip)) => format!("[{ip}]:{p}"),
            h => format!("{h}:{p}"),
        },
        ConnectTo::Unix(p) => p.clone(),
    }
}

/// One client: connect to the target, then both ways at once until both have ended.
fn forward(cfg: &ForwardConfig, client_stream: Stream, client: String) -> Forwarded {
    let start = Instant::now();
    let mut story = Forwarded { client, target: target_name(&cfg.to), up: 0, down: 0, millis: 0, error: None };
    let target = match connect(cfg) {
        Ok(t) => t,
        Err(e) => {
            let _ = client_stream.shutdown(Shutdown::Both);
            story.error = Some(e.to_string());
            story.millis = start.elapsed().as_millis();
            return story;
        }
    };
    let (client_stream, target) = (Arc::new(client_stream), Arc::new(target));
    let back = {
        let (from, to) = (Arc::clone(&target), Arc::clone(&client_stream));
        std::thread::Builder::new().name("forward-back".into()).stack_size(STACK).spawn(move || one_way(&from, &to))
    };
    let up = one_way(&client_stream, &target);
    let down = match back {
        Ok(t) => t.join().unwrap_or(Ok(0)),
        // No second thread: the way back in this one, after the way there.
        Err(_) => one_way(&target, &client_stream),
    };
    story.up = *up.as_ref().unwrap_or(&0);
    story.down = *down.as_ref().unwrap_or(&0);
    story.error = up.err().or(down.err()).map(|e| e.to_string());
    story.millis = start.elapsed().as_millis();
    story
}

fn connect(cfg: &ForwardConfig) -> Result<Stream, NetError> {
    match (&cfg.to, &cfg.proxy) {
        (ConnectTo::Tcp(host, port), Some(p)) => {
            Ok(Stream::Tcp(crate::proxy::connect(p, host, *port, Some(cfg.connect_timeout))?))
        }
        (ConnectTo::Tcp(host, port), None) => {
            let s = crate::tcp::connect(&crate::net::resolve_all(host, *port)?, Some(cfg.connect_timeout))?;
            let _ = s.set_nodelay(true);
            Ok(Stream::Tcp(s))
        }
        (ConnectTo::Unix(path), _) => UnixStream::connect(path)
            .map(Stream::Unix)
            .map_err(|e| NetError::io(format!("cannot connect to {path}"), e)),
    }
}

/// Bytes from `from` to `to` until `from` ends, then `to`'s write side is shut down (the end
/// passed on); the count moved. Socket to socket through a pipe by splice(2); where the kernel
/// will not splice, read/write.
fn one_way(from: &Stream, to: &Stream) -> io::Result<u64> {
    let r = splice_through_pipe(from.as_fd(), to.as_fd());
    let _ = to.shutdown(Shutdown::Write);
    if r.is_err() {
        // A reset one way: the other way ends too.
        let _ = from.shutdown(Shutdown::Read);
    }
    r
}

/// A connection's threads move bytes by splice and need little stack: a small one keeps the
/// memory of thousands of connections (and of the stacks the allocator caches) small.
const STACK: usize = 64 * 1024;

/// Chunk splice moves at a time.
const CHUNK: usize = 1 << 20;

fn splice_through_pipe(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> io::Result<u64> {
    use rustix::io::Errno;
    use rustix::pipe::{SpliceFlags, splice};
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    let _ = rustix::pipe::fcntl_setpipe_size(&w, CHUNK);
    let mut total = 0u64;
    loop {
        let n = match splice(from, None, &w, None, CHUNK, SpliceFlags::MOVE) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(Errno::INTR) => continue,
            Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) if total == 0 => {
                return crate::relay::pump(from, to, &|_| {}, None);
            }
            Err(e) => return Err(e.into()),
        };
        let mut left = n;
        while left > 0 {
            match splice(&r, None, to, None, left, SpliceFlags::MOVE) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(m) => left -= m,
                Err(Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        total += n as u64;
    }
}
