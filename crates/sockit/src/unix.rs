//! Unix sockets by path or, on Linux, by abstract name: their addresses, what a failed connect
//! means, and listening where a stale socket file may be left behind.

use std::io;

use crate::net::NetError;

/// A Unix socket address: a path, or `@name` in Linux's abstract namespace.
pub(crate) fn unix_addr(path: &str) -> Result<std::os::unix::net::SocketAddr, NetError> {
    let r = match path.strip_prefix('@') {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
        }
        None => std::os::unix::net::SocketAddr::from_pathname(path),
    };
    r.map_err(|e| NetError::io(format!("{path} is not a Unix socket address"), e))
}

/// What a failed connect to a Unix socket means, in one line.
pub(crate) fn unix_error(path: &str, e: io::Error) -> NetError {
    let not_socket = !path.starts_with('@')
        && std::fs::metadata(path).is_ok_and(|m| !std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()));
    let why = match e.kind() {
        _ if not_socket => "it is not a socket".to_string(),
        io::ErrorKind::NotFound => "no such socket".to_string(),
        io::ErrorKind::ConnectionRefused => "nothing listens on it (a socket file left behind)".to_string(),
        io::ErrorKind::PermissionDenied => {
            "permission denied: the socket or its directory is not yours to use".to_string()
        }
        _ => e.to_string(),
    };
    NetError::io(format!("cannot connect to {path}"), io::Error::new(e.kind(), why))
}

/// Listen on a Unix socket. A socket file nothing listens on any more is removed first;
/// one something listens on, or a file that is not a socket, is left alone and said.
pub(crate) fn unix_listener(path: &str) -> Result<std::os::unix::net::UnixListener, NetError> {
    unix_bound(path, std::os::unix::net::UnixListener::bind_addr)
}

/// A Unix socket (stream or datagram) bound at `path` by `bind`, with the stale-file rules of
/// `unix_listener`: a socket file is tested with a connect (of the datagram kind when it is a
/// datagram socket); one nobody holds any more refuses it, and is replaced.
pub(crate) fn unix_bound<S>(
    path: &str,
    bind: impl FnOnce(&std::os::unix::net::SocketAddr) -> io::Result<S>,
) -> Result<S, NetError> {
    use std::os::unix::fs::FileTypeExt;
    let fail = |why: String| NetError::io(format!("cannot listen on {path}"), io::Error::other(why));
    if !path.starts_with('@')
        && let Ok(meta) = std::fs::symlink_metadata(path)
    {
        if !meta.file_type().is_socket() {
            return Err(fail("it exists and is not a socket: remove it or pick another path".into()));
        }
        let alive = std::os::unix::net::UnixStream::connect(path).map(|_| ()).or_else(|e| match e.raw_os_error() {
            // A datagram socket answers a stream connect with EPROTOTYPE: ask it its own way.
            Some(libc::EPROTOTYPE) => std::os::unix::net::UnixDatagram::unbound()?.connect(path),
            _ => Err(e),
        });
        match alive {
            Ok(()) => return Err(fail("a program listens on it already".into())),
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                std::fs::remove_file(path)
                    .map_err(|e| fail(format!("a stale socket file that cannot be removed: {e}")))?;
            }
            Err(e) => return Err(fail(e.to_string())),
        }
    }
    bind(&unix_addr(path)?).map_err(|e| match e.kind() {
        io::ErrorKind::PermissionDenied => fail("permission denied: its directory is not yours to write".into()),
        io::ErrorKind::AddrInUse => fail("a program listens on it already".into()),
        _ => fail(e.to_string()),
    })
}
