//! The lab's own network: a new user namespace (where an unprivileged user is root), a new
//! network namespace inside it with nothing but its loopback, brought up, and a mount
//! namespace where the system's name files are the lab's (its resolver on 127.0.0.53, no
//! name service but files and DNS: a name asked in the lab never leaves it). Entered once, by
//! a process with a single thread (the kernel refuses a new user namespace to any other).

use std::io;

/// Why the lab could not have a network of its own, in one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

/// Enter a new user, network and mount namespace, map this user to root in it, bring `lo`
/// up, and put the lab's name files in place.
pub fn enter() -> Result<(), Refused> {
    let threads = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Threads:").map(|v| v.trim().parse::<u32>().ok())))
        .flatten();
    if threads.is_some_and(|n| n > 1) {
        return Err(Refused("a new user namespace needs a process with one thread".into()));
    }
    let (uid, gid) = (rustix::process::getuid().as_raw(), rustix::process::getgid().as_raw());
    unshare().map_err(|e| {
        Refused(format!(
            "user namespaces are not open to this user here ({e}: see sysctl user.max_user_namespaces, \
             kernel.unprivileged_userns_clone, or AppArmor's kernel.apparmor_restrict_unprivileged_userns)"
        ))
    })?;
    let write = |path: &str, text: String| {
        std::fs::write(path, text).map_err(|e| Refused(format!("could not write {path} in the lab's namespace: {e}")))
    };
    write("/proc/self/setgroups", "deny".into())?;
    write("/proc/self/uid_map", format!("0 {uid} 1"))?;
    write("/proc/self/gid_map", format!("0 {gid} 1"))?;
    loopback_up().map_err(|e| Refused(format!("could not bring up the lab's loopback: {e}")))?;
    own_names().map_err(|e| Refused(format!("could not give the lab its own name files: {e}")))
}

/// The name files the lab's programs read, bind-mounted over the system's in the lab's
/// mount namespace only.
pub const RESOLV_CONF: &str = "nameserver 127.0.0.53\noptions timeout:1 attempts:1\n";
const NSSWITCH: &str = "hosts: files dns\nnetworks: files\n";
const HOSTS: &str = "127.0.0.1 localhost\n::1 localhost\n";

/// /etc/resolv.conf, /etc/nsswitch.conf and /etc/hosts replaced by the lab's, in its mount
/// namespace (made private first, so nothing reaches the system's).
fn own_names() -> io::Result<()> {
    mount(None, "/", libc::MS_REC | libc::MS_PRIVATE)?;
    for (target, text) in [("/etc/resolv.conf", RESOLV_CONF), ("/etc/nsswitch.conf", NSSWITCH), ("/etc/hosts", HOSTS)] {
        // A file of the lab's own, made new (never one an attacker placed), mounted, then
        // unlinked: the mount holds it.
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().subsec_nanos();
        let source = std::env::temp_dir().join(format!(
            "sockit-lab-{}-{nanos}-{}",
            std::process::id(),
            target.rsplit('/').next().unwrap_or("file")
        ));
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(&source)?;
        std::io::Write::write_all(&mut f, text.as_bytes())?;
        drop(f);
        // A file the system lacks is not read by its libc either (musl has no nsswitch.conf).
        let r =
            if std::path::Path::new(target).exists() { mount(Some(&source), target, libc::MS_BIND) } else { Ok(()) };
        let _ = std::fs::remove_file(&source);
        r?;
    }
    // glibc asks nscd before any of those files: its socket hidden under an empty tmpfs.
    for dir in ["/run/nscd", "/var/run/nscd"] {
        if std::path::Path::new(dir).is_dir() {
            mount_tmpfs(dir)?;
        }
    }
    Ok(())
}

/// An empty tmpfs over `dir`.
#[allow(unsafe_code)]
fn mount_tmpfs(dir: &str) -> io::Result<()> {
    let target = std::ffi::CString::new(dir).map_err(|_| io::Error::other("a path with a NUL byte"))?;
    let fs = c"tmpfs";
    // SAFETY: NUL-terminated strings that outlive the call; no data.
    let r = unsafe { libc::mount(fs.as_ptr(), target.as_ptr(), fs.as_ptr(), 0, std::ptr::null()) };
    if r == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// mount(2): `source` (or none) on `target` with `flags`, no file system type or data.
#[allow(unsafe_code)]
fn mount(source: Option<&std::path::Path>, target: &str, flags: libc::c_ulong) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = |b: &[u8]| std::ffi::CString::new(b).map_err(|_| io::Error::other("a path with a NUL byte"));
    let target = c(target.as_bytes())?;
    let source = source.map(|s| c(s.as_os_str().as_bytes())).transpose()?;
    let src = source.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
    // SAFETY: both paths are NUL-terminated strings that outlive the call; no type or data.
    let r = unsafe { libc::mount(src, target.as_ptr(), std::ptr::null(), flags, std::ptr::null()) };
    if r == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS).
#[allow(unsafe_code)]
fn unshare() -> io::Result<()> {
    // SAFETY: unshare takes flags only; the process has one thread (checked by the caller), so
    // no other thread sees its credentials change under it.
    let r = unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET | libc::CLONE_NEWNS) };
    if r == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// A network namespace of its own for the calling thread (a host of the lab's LAN): sockets
/// it makes from now on are that network's.
#[allow(unsafe_code)]
pub fn own_network_for_this_thread() -> io::Result<()> {
    // SAFETY: unshare with CLONE_NEWNET alone changes only the calling thread's namespace.
    let r = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    if r == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// `ip link set lo up`, by SIOCGIFFLAGS and SIOCSIFFLAGS on a datagram socket.
#[allow(unsafe_code)]
fn loopback_up() -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let sock = std::net::UdpSocket::bind("0.0.0.0:0")?;
    // SAFETY: an all-zero ifreq is valid; the name is copied within its 16 bytes.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *d = libc::c_char::from_ne_bytes([*s]);
    }
    // SAFETY: both ioctls read and write the ifreq above, which outlives them; the socket is ours.
    unsafe {
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &raw mut req) != 0 {
            return Err(io::Error::last_os_error());
        }
        req.ifr_ifru.ifru_flags |= libc::c_short::try_from(libc::IFF_UP).unwrap_or(1);
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &raw const req) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
