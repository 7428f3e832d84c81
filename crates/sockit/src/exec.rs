//! `--exec CMD`: a client's connection given to a command of its own (`sh -c CMD`), as ncat
//! and socat do, and every command ended when its client has gone or the server stops.

use std::os::fd::OwnedFd;
use std::process::{Command, Stdio as ChildStdio};
use std::sync::Mutex;
use std::time::Duration;

use crate::conn::{Conn, Stream, peer_closed};
use crate::net::NetError;

/// How long a command may go on after its client has closed its side, before it is ended.
pub const EXEC_GRACE: Duration = Duration::from_secs(5);

/// The commands `--exec` started and that still run, by process group: all of them are ended
/// when the server stops.
#[derive(Debug, Default)]
pub struct Children(Mutex<Vec<u32>>);

impl Children {
    fn list(&self) -> std::sync::MutexGuard<'_, Vec<u32>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// SIGTERM to every command's process group, then SIGKILL to those still there a second
    /// later.
    pub fn end_all(&self) {
        let groups = self.list().clone();
        for &g in &groups {
            signal_group(g, rustix::process::Signal::TERM);
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        while !self.list().is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        for g in self.list().iter() {
            signal_group(*g, rustix::process::Signal::KILL);
        }
    }
}

fn signal_group(group: u32, sig: rustix::process::Signal) {
    if let Some(pid) = rustix::process::Pid::from_raw(group as i32) {
        let _ = rustix::process::kill_process_group(pid, sig);
    }
}

/// Run `sh -c CMD` with the connection as its stdin and stdout, and the peer's address in
/// `SOCKIT_PEER_ADDR` and `SOCKIT_PEER_PORT` (as ncat and socat export it); wait for it. A
/// command still running `EXEC_GRACE` after its client closed its side is ended (SIGTERM,
/// then SIGKILL), so it holds no `--max-conns` slot for good.
pub fn exec_for(conn: Conn, cmd: &str, children: &Children) -> Result<std::process::ExitStatus, NetError> {
    use std::os::unix::process::CommandExt;
    let fd: OwnedFd = match conn.stream.try_clone().map_err(|e| NetError::io("dup", e))? {
        Stream::Tcp(s) => s.into(),
        Stream::Unix(s) => s.into(),
    };
    let out = fd.try_clone().map_err(|e| NetError::io("dup", e))?;
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
        .map_err(|e| NetError::io(format!("cannot run {cmd}"), e))?;
    let group = child.id();
    children.list().push(group);
    let mut closed_at: Option<std::time::Instant> = None;
    let mut termed = false;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| NetError::io("wait", e))? {
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
    children.list().retain(|&g| g != group);
    // The child's copies are closed with it; ours goes now, and a TLS tunnel ends after it.
    conn.finish()?;
    Ok(status)
}
