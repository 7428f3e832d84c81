//! Unix sockets by path or, on Linux, by abstract name: their addresses, what a failed connect
//! means, and listening where a stale socket file may be left behind.

use std::io;

use crate::net::{Doing, NetError, Why};

/// A Unix socket address: a path, or `@name` in Linux's abstract namespace.
pub(crate) fn unix_addr(path: &str) -> Result<std::os::unix::net::SocketAddr, NetError> {
    let r = match path.strip_prefix('@') {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
        }
        None => std::os::unix::net::SocketAddr::from_pathname(path),
    };
    r.map_err(|e| NetError::io(Doing::UnixAddress(path.to_string()), e))
}

/// What a failed connect to a Unix socket means, in one line.
pub(crate) fn unix_error(path: &str, e: io::Error) -> NetError {
    let not_socket = !path.starts_with('@')
        && std::fs::metadata(path).is_ok_and(|m| !std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()));
    let doing = Doing::Connect(crate::conn::Peer::Unix(path.to_string()));
    let why = match e.kind() {
        _ if not_socket => Why::IsNotASocket,
        io::ErrorKind::NotFound => Why::NoSuchSocket,
        io::ErrorKind::ConnectionRefused => Why::StaleSocket,
        io::ErrorKind::PermissionDenied => Why::SocketNotYours,
        _ => return NetError::io(doing, e),
    };
    NetError::failed(doing, why)
}

/// Listen on a Unix socket. A socket file nothing listens on any more is removed first;
/// one something listens on, or a file that is not a socket, is left alone and said. The
/// socket file this makes goes when the returned `SocketFile` does.
pub(crate) fn unix_listener(path: &str) -> Result<(std::os::unix::net::UnixListener, Option<SocketFile>), NetError> {
    unix_bound(path, std::os::unix::net::UnixListener::bind_addr)
}

/// A Unix socket (stream or datagram) bound at `path` by `bind`, with the stale-file rules of
/// `unix_listener`. The directory is opened once and every look at the old file, and its
/// removal, are made in it, so a directory swapped under the path meanwhile (a symlink
/// changed) cannot make sockit remove a file elsewhere. Whether a socket file is alive is
/// asked with a datagram connect, which a stream listener refuses as the wrong type without
/// any connection being made (a stream connect would be its client: a single-client listener
/// would take it as its one client).
pub(crate) fn unix_bound<S>(
    path: &str,
    bind: impl FnOnce(&std::os::unix::net::SocketAddr) -> io::Result<S>,
) -> Result<(S, Option<SocketFile>), NetError> {
    use rustix::fs::{AtFlags, FileType};
    let fail = |why: Why| NetError::failed(Doing::ListenUnix(path.to_string()), why);
    if path.starts_with('@') {
        return Ok((bind(&unix_addr(path)?).map_err(|e| bind_failure(path, e))?, None));
    }
    let (dir_path, name) = match path.rsplit_once('/') {
        Some(("", name)) => ("/", name),
        Some((dir, name)) => (dir, name),
        None => (".", path),
    };
    if name.is_empty() {
        return Err(fail(Why::NamesDirectory));
    }
    let dir = rustix::fs::openat(
        rustix::fs::CWD,
        dir_path,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| fail(Why::Directory(e.into())))?;
    let id = |st: &rustix::fs::Stat| (st.st_dev, st.st_ino);
    if let Ok(st) = rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        if FileType::from_raw_mode(st.st_mode) != FileType::Socket {
            return Err(fail(Why::NotASocket));
        }
        // The file as found in the directory held open (not by its path again).
        let here = format!("/proc/self/fd/{}/{name}", std::os::fd::AsRawFd::as_raw_fd(&dir));
        let probe = if std::path::Path::new("/proc/self/fd").exists() { here.as_str() } else { path };
        let alive = std::os::unix::net::UnixDatagram::unbound().and_then(|d| d.connect(probe));
        match alive {
            Ok(()) => return Err(fail(Why::Listening)),
            Err(e) if e.raw_os_error() == Some(libc::EPROTOTYPE) => {
                return Err(fail(Why::Listening));
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                // Stale: removed if it is still the file that was looked at.
                let again = rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(|e| fail(Why::Changed(e.into())))?;
                if id(&again) != id(&st) {
                    return Err(fail(Why::ChangedTryAgain));
                }
                rustix::fs::unlinkat(&dir, name, AtFlags::empty()).map_err(|e| fail(Why::CannotRemove(e.into())))?;
            }
            Err(e) => return Err(NetError::io(Doing::ListenUnix(path.to_string()), e)),
        }
    }
    let sock = bind(&unix_addr(path)?).map_err(|e| bind_failure(path, e))?;
    // The file just made, as the directory held open sees it: only that one is ever removed.
    let made = rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW)
        .ok()
        .filter(|st| FileType::from_raw_mode(st.st_mode) == FileType::Socket)
        .map(|st| SocketFile::made(dir, name, id(&st)));
    Ok((sock, made))
}

fn bind_failure(path: &str, e: io::Error) -> NetError {
    let doing = Doing::ListenUnix(path.to_string());
    match e.kind() {
        io::ErrorKind::PermissionDenied => NetError::failed(doing, Why::DirectoryNotYours),
        io::ErrorKind::AddrInUse => NetError::failed(doing, Why::Listening),
        _ => NetError::io(doing, e),
    }
}

/// A socket file sockit made, removed when this is dropped, and when SIGINT, SIGTERM or SIGHUP
/// ends the process: each time only if the directory it was made in still holds that very
/// file (the same device and inode).
#[derive(Debug)]
pub struct SocketFile {
    key: u64,
}

/// Where a made socket file is: its directory (held open), its name, its device and inode.
type Made = (std::os::fd::OwnedFd, String, (u64, u64));

/// The socket files this process made and has not removed, by key.
static MADE: std::sync::Mutex<Vec<(u64, Made)>> = std::sync::Mutex::new(Vec::new());

impl SocketFile {
    fn made(dir: std::os::fd::OwnedFd, name: &str, id: (u64, u64)) -> SocketFile {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        static WATCH: std::sync::Once = std::sync::Once::new();
        WATCH.call_once(remove_at_signals);
        let key = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        made_files().push((key, (dir, name.to_string(), id)));
        SocketFile { key }
    }
}

fn made_files() -> std::sync::MutexGuard<'static, Vec<(u64, Made)>> {
    MADE.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn remove((dir, name, id): &Made) {
    use rustix::fs::AtFlags;
    let same =
        rustix::fs::statat(dir, name.as_str(), AtFlags::SYMLINK_NOFOLLOW).is_ok_and(|st| (st.st_dev, st.st_ino) == *id);
    if same {
        let _ = rustix::fs::unlinkat(dir, name.as_str(), AtFlags::empty());
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        let mut made = made_files();
        if let Some(i) = made.iter().position(|(k, _)| *k == self.key) {
            let (_, m) = made.swap_remove(i);
            remove(&m);
        }
    }
}

/// A thread that, at SIGINT, SIGTERM or SIGHUP, removes the socket files still made and then
/// lets the signal end the process as it would have.
fn remove_at_signals() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else { return };
    let _ = std::thread::Builder::new().name("socket-files".into()).spawn(move || {
        if let Some(sig) = signals.forever().next() {
            for (_, m) in made_files().drain(..) {
                remove(&m);
            }
            let _ = signal_hook::low_level::emulate_default_handler(sig);
        }
    });
}
