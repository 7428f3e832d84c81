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
    super::netlink::set_up("lo", None).map_err(|e| Refused(format!("could not bring up the lab's loopback: {e}")))?;
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
    mount(None, "/", None, libc::MS_REC | libc::MS_PRIVATE)?;
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
        let r = if std::path::Path::new(target).exists() {
            mount(Some(&source), target, None, libc::MS_BIND)
        } else {
            Ok(())
        };
        let _ = std::fs::remove_file(&source);
        r?;
    }
    // glibc asks nscd before any of those files: its socket hidden under an empty tmpfs.
    for dir in ["/run/nscd", "/var/run/nscd"] {
        if std::path::Path::new(dir).is_dir() {
            mount(Some(std::path::Path::new("tmpfs")), dir, Some(c"tmpfs"), 0)?;
        }
    }
    Ok(())
}

/// mount(2): `source` (or none) on `target`, of file system type `fs` (or none) with
/// `flags`, no data.
#[allow(unsafe_code)]
fn mount(
    source: Option<&std::path::Path>,
    target: &str,
    fs: Option<&std::ffi::CStr>,
    flags: libc::c_ulong,
) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = |b: &[u8]| std::ffi::CString::new(b).map_err(|_| io::Error::other("a path with a NUL byte"));
    let target = c(target.as_bytes())?;
    let source = source.map(|s| c(s.as_os_str().as_bytes())).transpose()?;
    let src = source.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
    let fs = fs.map_or(std::ptr::null(), std::ffi::CStr::as_ptr);
    // SAFETY: every string is NUL-terminated and outlives the call (or null); no data.
    let r = unsafe { libc::mount(src, target.as_ptr(), fs, flags, std::ptr::null()) };
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
