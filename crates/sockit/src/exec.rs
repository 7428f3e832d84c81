//! `--exec CMD`: a client's connection given to a command of its own (`sh -c CMD`), as ncat
//! and socat do, and every command ended when its client has gone or the server stops.

use std::os::fd::OwnedFd;
use std::process::{Command, Stdio as ChildStdio};
use std::sync::Mutex;
use std::time::Duration;

use crate::conn::{Conn, Stream, peer_closed};
use crate::net::{Doing, NetError, Why};

/// How long a command may go on after its client has closed its side, before it is ended.
pub const EXEC_GRACE: Duration = Duration::from_secs(5);

/// The commands `--exec` started and that still run, by process group: all of them are ended
/// when the server stops, and none is started after that.
#[derive(Debug, Default)]
pub struct Children(Mutex<Groups>);

#[derive(Debug, Default)]
struct Groups {
    running: Vec<u32>,
    /// `end_all` has begun: a client whose handshake ends now gets no command.
    ended: bool,
}

impl Children {
    fn list(&self) -> std::sync::MutexGuard<'_, Groups> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// SIGTERM to every command's process group, then SIGKILL to those still there a second
    /// later. A command being started meanwhile is waited for and ended with the others; none
    /// is started after.
    pub fn end_all(&self) {
        let groups = {
            let mut list = self.list();
            list.ended = true;
            list.running.clone()
        };
        for &g in &groups {
            signal_group(g, rustix::process::Signal::TERM);
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        while !self.list().running.is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        for g in &self.list().running {
            signal_group(*g, rustix::process::Signal::KILL);
        }
    }
}

fn signal_group(group: u32, sig: rustix::process::Signal) {
    if let Some(pid) = i32::try_from(group).ok().and_then(rustix::process::Pid::from_raw) {
        let _ = rustix::process::kill_process_group(pid, sig);
    }
}

/// Run `sh -c CMD` with the connection as its stdin and stdout, and the peer's address in
/// `SOCKIT_PEER_ADDR` and `SOCKIT_PEER_PORT` (as ncat and socat export it); wait for it. A
/// command still running `EXEC_GRACE` after its client closed its side is ended (SIGTERM,
/// then SIGKILL), so it holds no `--max-conns` slot for good.
pub fn exec_for(conn: Conn, cmd: &str, children: &Children) -> Result<std::process::ExitStatus, NetError> {
    use std::os::unix::process::CommandExt;
    let fd: OwnedFd = match conn.stream.try_clone().map_err(|e| NetError::io(Doing::Duplicate, e))? {
        Stream::Tcp(s) => s.into(),
        Stream::Unix(s) => s.into(),
    };
    let out = fd.try_clone().map_err(|e| NetError::io(Doing::Duplicate, e))?;
    // Started and listed under one lock, so that `end_all` sees every command there is.
    let mut list = children.list();
    if list.ended {
        return Err(NetError::failed(Doing::Run(cmd.to_string()), Why::ServerStopping));
    }
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .envs(match &conn.peer {
            crate::conn::Peer::Inet(a) => {
                vec![("SOCKIT_PEER_ADDR", a.ip().to_string()), ("SOCKIT_PEER_PORT", a.port().to_string())]
            }
            crate::conn::Peer::Unix(p) => vec![("SOCKIT_PEER_ADDR", p.clone())],
        })
        .stdin(ChildStdio::from(fd))
        .stdout(ChildStdio::from(out))
        // A group of its own: what the command starts is ended with it.
        .process_group(0)
        .spawn()
        .map_err(|e| NetError::io(Doing::Run(cmd.to_string()), e))?;
    let group = child.id();
    list.running.push(group);
    drop(list);
    let mut closed_at: Option<std::time::Instant> = None;
    let mut termed = false;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| NetError::io(Doing::Wait, e))? {
            break status;
        }
        if closed_at.is_none() && peer_closed(&conn.stream) {
            closed_at = Some(std::time::Instant::now());
        }
        match closed_at.map(|t| t.elapsed()) {
            Some(e) if e > EXEC_GRACE + Duration::from_secs(1) => signal_group(group, rustix::process::Signal::KILL),
            Some(e) if e > EXEC_GRACE && !termed => {
                tracing::info!(peer = %conn.peer, "the client left: ending its command");
                signal_group(group, rustix::process::Signal::TERM);
                termed = true;
            }
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    children.list().running.retain(|&g| g != group);
    // The child's copies are closed with it; ours goes now, and a TLS tunnel ends after it.
    conn.finish()?;
    Ok(status)
}

/// `tcp listen --keep-open --exec CMD`: every client gets its command, in a thread of its own
/// (a thread the system refuses costs that client, not the server), until a signal stops the
/// server (the signal is returned); the commands still running are ended first.
pub fn serve_commands(
    listener: crate::listener::Listener,
    rules: &crate::listener::AccessRules,
    max_conns: Option<usize>,
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    cmd: &str,
) -> Result<i32, NetError> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
    let active = Arc::new(AtomicUsize::new(0));
    let children = Arc::new(Children::default());
    let signal = Arc::new(AtomicI32::new(0));
    {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let mut s = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
            .map_err(|e| NetError::io(Doing::SignalHandlers, e))?;
        let signal = Arc::clone(&signal);
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                if let Some(sig) = s.forever().next() {
                    signal.store(sig, Ordering::Relaxed);
                }
            })
            .map_err(|e| NetError::io(Doing::StartThread, e))?;
    }
    let stop = || signal.load(Ordering::Relaxed) != 0;
    while let Some((stream, peer)) = listener.accept_unless(rules, &stop)? {
        if max_conns.is_some_and(|m| active.load(Ordering::Relaxed) >= m) {
            tracing::info!(%peer, "connection closed: the cap on clients at once is reached");
            continue;
        }
        active.fetch_add(1, Ordering::Relaxed);
        let (active2, tls, children, cmd) = (Arc::clone(&active), tls.clone(), Arc::clone(&children), cmd.to_string());
        let spawned = std::thread::Builder::new().name("client".into()).spawn(move || {
            let conn = match tls {
                Some(config) => crate::tls::server(stream, config),
                None => Ok(Conn::accepted(stream, peer)),
            };
            match conn.and_then(|conn| exec_for(conn, &cmd, &children)) {
                Ok(status) => tracing::info!(%peer, %status, "command finished"),
                Err(e) => tracing::warn!(%peer, error = %e, "command failed"),
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
    Ok(signal.load(Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client whose connection is ready once the server has begun to stop gets no command
    /// (one started then was left running after the server had gone).
    #[test]
    fn no_command_starts_once_the_server_stops() {
        let dir = tempfile::tempdir().expect("tempdir");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let _client = std::net::TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (stream, peer) = listener.accept().expect("accept");
        let children = Children::default();
        children.end_all();
        let marker = dir.path().join("started");
        let err = exec_for(Conn::accepted(stream, peer), &format!("touch '{}'", marker.display()), &children)
            .expect_err("a command after end_all");
        assert!(err.to_string().ends_with("the server is stopping"), "{err}");
        std::thread::sleep(Duration::from_millis(200));
        assert!(!marker.exists(), "the command ran");
        assert!(children.list().running.is_empty());
    }
}
