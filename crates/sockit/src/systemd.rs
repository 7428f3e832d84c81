//! systemd's side of a server: a listening socket passed in (socket activation, as
//! sd_listen_fds reads it: `LISTEN_PID` is this process, `LISTEN_FDS` counts the sockets from
//! descriptor 3), and the readiness notice (sd_notify's `READY=1`) when `NOTIFY_SOCKET` asks
//! for one. Without systemd both are nothing.

use std::net::TcpListener;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

/// The first descriptor systemd passes (SD_LISTEN_FDS_START).
const FIRST: i32 = 3;

/// The TCP listening socket systemd passed, if it passed one: taken once, by the first
/// listener the process makes (a server has one).
pub fn take_listener() -> Option<TcpListener> {
    static TAKEN: AtomicBool = AtomicBool::new(false);
    let for_us = std::env::var("LISTEN_PID").ok()?.parse::<u32>().ok()? == std::process::id();
    let count = std::env::var("LISTEN_FDS").ok()?.parse::<i32>().ok()?;
    if !for_us || count < 1 || TAKEN.swap(true, Ordering::SeqCst) {
        return None;
    }
    // Descriptor 3 must be open and a socket before it is owned (an environment that lies
    // costs a line, not a descriptor that is not there).
    let link = std::fs::read_link(format!("/proc/self/fd/{FIRST}")).unwrap_or_default();
    if !link.to_string_lossy().starts_with("socket:") {
        tracing::warn!("LISTEN_FDS is set but descriptor 3 is not a socket: binding as asked");
        return None;
    }
    let fd = adopt(FIRST);
    let sock = socket2::SockRef::from(&fd);
    let listening = sock.is_listener().unwrap_or(false) && sock.r#type().is_ok_and(|t| t == socket2::Type::STREAM);
    if !listening {
        tracing::warn!("the socket systemd passed is not a listening TCP socket: binding as asked");
        // Not ours to close: it stays as systemd passed it.
        std::mem::forget(fd);
        return None;
    }
    // Commands a client runs (--exec) must not inherit it.
    let _ = rustix::io::fcntl_setfd(fd.as_fd(), rustix::io::FdFlags::CLOEXEC);
    tracing::info!("listening on the socket systemd passed");
    Some(TcpListener::from(fd))
}

/// Take ownership of descriptor `raw`, which systemd passed open to this process.
#[allow(unsafe_code)]
fn adopt(raw: i32) -> OwnedFd {
    use std::os::fd::FromRawFd;
    // SAFETY: LISTEN_PID names this process and LISTEN_FDS counts `raw` among the descriptors
    // systemd opened for it before exec; nothing else in sockit opens or owns descriptor 3
    // before this runs (it runs once, from the first listener), so it is open and unowned.
    unsafe { OwnedFd::from_raw_fd(raw) }
}

/// Do a reload's `work` with systemd told around it: `RELOADING=1` (with the monotonic clock
/// it asks of it, `MONOTONIC_USEC=`) before, `READY=1` after, whatever the work made of it.
pub fn reload<T>(work: impl FnOnce() -> T) -> T {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    let usec = u64::try_from(now.tv_sec).unwrap_or(0) * 1_000_000 + u64::try_from(now.tv_nsec).unwrap_or(0) / 1_000;
    notify(&format!("RELOADING=1\nMONOTONIC_USEC={usec}"));
    let done = work();
    notify("READY=1");
    done
}

/// Tell systemd where the service stands (`READY=1`, `STOPPING=1`), if it asked (a unit of
/// `Type=notify` sets `NOTIFY_SOCKET`: a path, or `@` and an abstract name).
pub fn notify(state: &str) {
    let Some(at) = std::env::var_os("NOTIFY_SOCKET") else { return };
    let Ok(sock) = std::os::unix::net::UnixDatagram::unbound() else { return };
    let at = at.to_string_lossy().into_owned();
    let sent = crate::unix::unix_addr(&at)
        .map_err(|e| e.to_string())
        .and_then(|addr| sock.send_to_addr(state.as_bytes(), &addr).map_err(|e| e.to_string()));
    if let Err(e) = sent {
        tracing::warn!(error = %e, "cannot tell systemd {state}");
    }
}
