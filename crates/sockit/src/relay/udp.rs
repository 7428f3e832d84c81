//! `sockit relay udp-listen:[ADDR:]PORT udp:HOST:PORT`: datagram forwarding, as socat's
//! `UDP-LISTEN:PORT,fork UDP:HOST:PORT` does it: each client address gets a session of its own
//! (a socket connected to the target), so the target's replies go back to the client that
//! asked; a session ends after a while with no datagram either way, and gets its line then.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

use super::{Forwarded, RelayConfig, target_name};
use crate::hexdump::Hexdump;
use crate::net::{Doing, NetError, Why};

/// The largest datagram forwarded (UDP's own limit).
const DATAGRAM: usize = 65_535;

/// Sessions at once without --max-conns: each holds a socket, and a flood of forged source
/// addresses must not take every descriptor.
const SESSIONS: usize = 16_384;

/// One client's session.
struct Session {
    /// Connected to the target: what it sends back is this client's.
    sock: Arc<UdpSocket>,
    up: AtomicU64,
    down: AtomicU64,
    /// Milliseconds since `start` of the last datagram either way.
    last: AtomicU64,
    start: Instant,
}

impl Session {
    fn touch(&self) {
        self.last.store(u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }
}

/// Listen on `at`, say where through `started`, and forward datagrams until the process ends;
/// each ended session goes to `log`.
pub fn run(
    cfg: &RelayConfig,
    at: SocketAddr,
    idle: Duration,
    started: &mut dyn FnMut(super::Started),
    log: Arc<dyn Fn(&Forwarded) + Send + Sync>,
) -> Result<(), NetError> {
    let (target_host, target_port) = match &cfg.to {
        super::ConnectTo::Udp(h, p) => (h.clone(), *p),
        _ => return Err(NetError::failed(Doing::Relay, Why::UdpRelayTarget)),
    };
    let target = crate::dial::resolve_one(&target_host, target_port)?;
    let std_sock: std::net::UdpSocket = crate::net::bound_socket(at, socket2::Type::DGRAM)?.into();
    let local = std_sock.local_addr().map_err(|e| NetError::io(Doing::LocalAddress, e))?;
    let dump = cfg.hexdump.as_ref().map(Hexdump::open).transpose()?.map(Arc::new);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| NetError::io(Doing::StartRuntime, e))?;
    // One logger, as the TCP relay has: a session never waits for the log.
    let log = super::logger(log)?;
    started(super::Started::Udp(local));
    crate::systemd::notify("READY=1");
    let io = |e: std::io::Error| NetError::io(Doing::RelayOn(local), e);
    rt.block_on(async move {
        std_sock.set_nonblocking(true).map_err(io)?;
        let listener = Arc::new(UdpSocket::from_std(std_sock).map_err(io)?);
        let sessions: Arc<Mutex<HashMap<SocketAddr, Arc<Session>>>> = Arc::default();
        let shown = target_name(&cfg.to);
        let mut buf = vec![0u8; DATAGRAM];
        loop {
            let (n, client) = match listener.recv_from(&mut buf).await {
                Ok(r) => r,
                // An ICMP error for an earlier reply, or an interruption: the next datagram.
                Err(e) if crate::net::accept_error_is_transient(&e) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => continue,
                Err(e) => return Err(io(e)),
            };
            let known = sessions.lock().unwrap_or_else(PoisonError::into_inner).get(&client).cloned();
            let session = match known {
                Some(s) => s,
                None => {
                    let refuse = |why: String| Forwarded {
                        client: client.to_string(),
                        target: shown.clone(),
                        up: 0,
                        down: 0,
                        millis: 0,
                        error: Some(why),
                    };
                    if !cfg.rules.admits(client.ip()) {
                        log(refuse("refused: the access rules do not admit it".into()));
                        continue;
                    }
                    let open = sessions.lock().unwrap_or_else(PoisonError::into_inner).len();
                    if open >= cfg.max_conns.unwrap_or(SESSIONS) {
                        log(refuse(format!("refused: {open} sessions already (the cap)")));
                        continue;
                    }
                    match open_session(target).await {
                        Ok(sock) => {
                            let s = Arc::new(Session {
                                sock: Arc::new(sock),
                                up: AtomicU64::new(0),
                                down: AtomicU64::new(0),
                                last: AtomicU64::new(0),
                                start: Instant::now(),
                            });
                            sessions.lock().unwrap_or_else(PoisonError::into_inner).insert(client, Arc::clone(&s));
                            let (listener, sessions, log, dump, shown) = (
                                Arc::clone(&listener),
                                Arc::clone(&sessions),
                                Arc::clone(&log),
                                dump.clone(),
                                shown.clone(),
                            );
                            let session = Arc::clone(&s);
                            tokio::spawn(async move {
                                let dump = dump.map(|d| d.another(&format!("{client} -> {shown}")));
                                let error = replies(&listener, client, &session, idle, dump.as_ref()).await;
                                sessions.lock().unwrap_or_else(PoisonError::into_inner).remove(&client);
                                log(Forwarded {
                                    client: client.to_string(),
                                    target: shown,
                                    up: session.up.load(Ordering::Relaxed),
                                    down: session.down.load(Ordering::Relaxed),
                                    millis: session.start.elapsed().as_millis(),
                                    error,
                                });
                            });
                            s
                        }
                        Err(e) => {
                            log(refuse(format!("cannot reach the target: {e}")));
                            continue;
                        }
                    }
                }
            };
            session.touch();
            if let Some(d) = &dump {
                d.datagram(true, &client, &buf[..n]);
            }
            // A target that refuses (nothing on its port) ends the session at its next read.
            if session.sock.send(&buf[..n]).await.is_ok() {
                session.up.fetch_add(n as u64, Ordering::Relaxed);
            }
        }
    })
}

/// A socket connected to the target, from an address of the target's family.
async fn open_session(target: SocketAddr) -> std::io::Result<UdpSocket> {
    let any = crate::net::any_of_family(target);
    let sock = UdpSocket::bind(any).await?;
    sock.connect(target).await?;
    Ok(sock)
}

/// The target's replies to `client`, until the session has been silent both ways for `idle`
/// (`None`) or the target refuses (its error).
async fn replies(
    listener: &UdpSocket,
    client: SocketAddr,
    s: &Session,
    idle: Duration,
    dump: Option<&Hexdump>,
) -> Option<String> {
    let mut buf = vec![0u8; DATAGRAM];
    loop {
        let now = u64::try_from(s.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        let since = Duration::from_millis(now.saturating_sub(s.last.load(Ordering::Relaxed)));
        // Silent both ways for `idle`: the session ends (`None`: no error).
        let left = idle.checked_sub(since).filter(|d| !d.is_zero())?;
        match tokio::time::timeout(left, s.sock.recv(&mut buf)).await {
            Err(_) => {}
            Ok(Ok(n)) => {
                s.touch();
                if let Some(d) = dump {
                    d.datagram(false, &client, &buf[..n]);
                }
                if listener.send_to(&buf[..n], client).await.is_ok() {
                    s.down.fetch_add(n as u64, Ordering::Relaxed);
                }
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                return Some("the target refused (nothing listens on its port)".into());
            }
            Ok(Err(e)) => return Some(e.to_string()),
        }
    }
}
