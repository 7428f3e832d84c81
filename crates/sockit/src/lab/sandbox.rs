//! The lab's own network: a new user namespace (where an unprivileged user is root) and a new
//! network namespace inside it, with nothing but its loopback, brought up. Entered once, by a
//! process with a single thread (the kernel refuses a new user namespace to any other).

use std::io;

/// Why the lab could not have a network of its own, in one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

/// Enter a new user and network namespace, map this user to root in it, bring `lo` up.
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
    loopback_up().map_err(|e| Refused(format!("could not bring up the lab's loopback: {e}")))
}

/// unshare(CLONE_NEWUSER | CLONE_NEWNET).
#[allow(unsafe_code)]
fn unshare() -> io::Result<()> {
    // SAFETY: unshare takes flags only; the process has one thread (checked by the caller), so
    // no other thread sees its credentials change under it.
    let r = unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) };
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
