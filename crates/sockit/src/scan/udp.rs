//! `scan --udp`: a UDP scan that needs no root. Each probe is a connected UDP socket with
//! IP_RECVERR (IPV6_RECVERR) set, so the kernel hands back the ICMP error the port caused:
//! port unreachable is closed, any other unreachable filtered (its code the reason); a reply is
//! open; silence is open|filtered. A host sends ICMP errors only so fast (Linux: a burst of six,
//! then one a second, `net.ipv4.icmp_ratelimit`): once it has answered some ports with them and
//! left others silent, the rest are asked one at a time, a second apart, so that silence means
//! what it says.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use sockit_core::scan::PortState;

use super::engine::ScanConfig;
use super::payloads::payload;

/// What became of one port, and why.
pub(super) type Found = (PortState, &'static str);

/// Sockets in flight at once for one host.
const CHUNK: usize = 512;
/// Hosts scanned at once.
const HOSTS_AT_ONCE: usize = 64;
/// ICMP errors a host sends at most in one go when it limits them: Linux lets six through,
/// then one a second. A host that sent more is not pacing them, and its silent ports are
/// silent.
const LIMITED_BURST: usize = 10;
/// The time between two paced probes of a rate-limited host: just over Linux's one ICMP
/// error a second.
const PACE: Duration = Duration::from_millis(1050);

/// Every (host, port) of `addrs`, host-major (`found[h * ports + p]`), each host on a thread
/// of its own, `HOSTS_AT_ONCE` at a time.
pub(super) fn scan(addrs: &[SocketAddr], cfg: &ScanConfig, done: &AtomicU64) -> io::Result<Vec<Found>> {
    let per_host: Vec<std::sync::Mutex<Option<io::Result<Vec<Found>>>>> =
        addrs.iter().map(|_| std::sync::Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..addrs.len().min(HOSTS_AT_ONCE) {
            s.spawn(|| {
                loop {
                    let h = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&addr) = addrs.get(h) else { return };
                    let r = host(addr, cfg, done);
                    if let Ok(mut slot) = per_host[h].lock() {
                        *slot = Some(r);
                    }
                }
            });
        }
    });
    let mut found = Vec::with_capacity(addrs.len() * cfg.ports.len());
    for slot in per_host {
        let r = slot.into_inner().map_err(|_| io::Error::other("a UDP scan thread failed"))?;
        found.extend(r.unwrap_or_else(|| Err(io::Error::other("a host was not scanned")))?);
    }
    Ok(found)
}

/// One host's ports: every silent one asked at once (again, `retries` times), then, if the
/// host sent only a burst of ICMP errors and left other ports silent, the silent ones paced.
fn host(addr: SocketAddr, cfg: &ScanConfig, done: &AtomicU64) -> io::Result<Vec<Found>> {
    let ports = &cfg.ports;
    let mut found: Vec<Option<Found>> = vec![None; ports.len()];
    let silent = |found: &[Option<Found>]| (0..found.len()).filter(|&i| found[i].is_none()).collect::<Vec<_>>();
    let limited = |found: &[Option<Found>]| {
        let icmp = found.iter().flatten().filter(|&&(_, why)| why != "udp-response").count();
        (1..=LIMITED_BURST).contains(&icmp)
    };
    for _ in 0..=cfg.retries {
        for chunk in silent(&found).chunks(CHUNK) {
            let targets: Vec<SocketAddr> = chunk.iter().map(|&i| SocketAddr::new(addr.ip(), ports[i])).collect();
            for (i, f) in chunk.iter().zip(probe_all(&targets, cfg.timeout)?) {
                found[*i] = f;
            }
        }
        if silent(&found).is_empty() || limited(&found) {
            break;
        }
    }
    // The progress shown: the ports settled so far, then each paced one as it settles.
    let settled = found.iter().flatten().count();
    done.fetch_add(settled as u64, Ordering::Relaxed);
    if limited(&found) {
        // Rate-limited: one probe a token, each given the whole interval (and a second try).
        for i in silent(&found) {
            for _ in 0..2 {
                let started = Instant::now();
                let target = SocketAddr::new(addr.ip(), ports[i]);
                found[i] = probe_all(&[target], PACE)?.pop().flatten();
                std::thread::sleep(PACE.saturating_sub(started.elapsed()));
                if found[i].is_some() {
                    break;
                }
            }
            done.fetch_add(1, Ordering::Relaxed);
        }
    } else {
        done.fetch_add((found.len() - settled) as u64, Ordering::Relaxed);
    }
    Ok(found.into_iter().map(|f| f.unwrap_or((PortState::OpenFiltered, "no-response"))).collect())
}

/// A connected UDP socket to `to`, told to queue the ICMP errors it causes.
fn socket(to: SocketAddr) -> io::Result<UdpSocket> {
    let s = UdpSocket::bind(crate::net::any_of_family(to))?;
    s.connect(to)?;
    s.set_nonblocking(true)?;
    let (level, name) =
        if to.is_ipv4() { (libc::SOL_IP, libc::IP_RECVERR) } else { (libc::SOL_IPV6, libc::IPV6_RECVERR) };
    crate::net::set_int_option(&s, level, name, 1)?;
    Ok(s)
}

/// Each target's payload sent from a socket of its own, then what comes back within `wait`:
/// a finding for each, or `None` for silence.
fn probe_all(targets: &[SocketAddr], wait: Duration) -> io::Result<Vec<Option<Found>>> {
    let mut socks = Vec::with_capacity(targets.len());
    let mut found: Vec<Option<Found>> = vec![None; targets.len()];
    for (i, &t) in targets.iter().enumerate() {
        let s = socket(t)?;
        match s.send(payload(t.port())) {
            Ok(_) => {}
            // An error already queued (a route that refuses at once): read it below.
            Err(e) if e.raw_os_error().is_some() => found[i] = Some(from_errno(&e)),
            Err(e) => return Err(e),
        }
        socks.push(s);
    }
    let deadline = Instant::now() + wait;
    let mut buf = [0u8; 1500];
    while found.iter().any(Option::is_none) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let open: Vec<usize> = (0..targets.len()).filter(|&i| found[i].is_none()).collect();
        let mut fds: Vec<PollFd> = open.iter().map(|&i| PollFd::new(&socks[i], PollFlags::IN)).collect();
        let timeout = Timespec::try_from(left).unwrap_or(Timespec { tv_sec: 1, tv_nsec: 0 });
        if rustix::event::poll(&mut fds, Some(&timeout)).unwrap_or(0) == 0 {
            continue;
        }
        let ready: Vec<(usize, PollFlags)> =
            open.iter().zip(&fds).map(|(&i, fd)| (i, fd.revents())).filter(|(_, r)| !r.is_empty()).collect();
        for (i, revents) in ready {
            if revents.contains(PollFlags::ERR) {
                found[i] = icmp_error(socks[i].as_fd());
            }
            if found[i].is_none() {
                found[i] = match socks[i].recv(&mut buf) {
                    Ok(_) => Some((PortState::Open, "udp-response")),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
                    Err(e) => Some(from_errno(&e)),
                };
            }
        }
    }
    Ok(found)
}

/// The state an ICMP error's errno gives, when the error queue could not say more.
fn from_errno(e: &io::Error) -> Found {
    match e.raw_os_error() {
        Some(libc::ECONNREFUSED) => (PortState::Closed, "port-unreach"),
        Some(libc::EHOSTUNREACH) => (PortState::Filtered, "host-unreach"),
        Some(libc::ENETUNREACH) => (PortState::Filtered, "net-unreach"),
        Some(libc::ENOPROTOOPT) => (PortState::Filtered, "proto-unreach"),
        _ => (PortState::Filtered, "icmp-error"),
    }
}

/// The ICMP error at the head of the socket's error queue (IP_RECVERR), read whole: its type
/// and code say which unreachable it was.
#[allow(unsafe_code)]
fn icmp_error(fd: std::os::fd::BorrowedFd<'_>) -> Option<Found> {
    let mut data = [0u8; 512];
    let mut control = [0u64; 64];
    let mut iov = libc::iovec { iov_base: data.as_mut_ptr().cast(), iov_len: data.len() };
    // SAFETY: a zeroed msghdr is valid; its pointers are set to buffers that outlive the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control);
    // SAFETY: recvmsg on a descriptor we hold, with the buffers above.
    let n = unsafe { libc::recvmsg(fd.as_raw_fd(), &raw mut msg, libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT) };
    if n < 0 {
        return None;
    }
    // SAFETY: the control buffer was filled by the kernel; CMSG_* walk it within its length.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&raw const msg);
        while !c.is_null() {
            let (level, kind) = ((*c).cmsg_level, (*c).cmsg_type);
            if (level == libc::SOL_IP && kind == libc::IP_RECVERR)
                || (level == libc::SOL_IPV6 && kind == libc::IPV6_RECVERR)
            {
                let e: libc::sock_extended_err = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                return Some(classify(e.ee_origin, e.ee_type, e.ee_code, e.ee_errno));
            }
            c = libc::CMSG_NXTHDR(&raw const msg, c);
        }
    }
    None
}

/// nmap's reading of an ICMP (or ICMPv6) error about a UDP probe.
fn classify(origin: u8, icmp_type: u8, code: u8, errno: u32) -> Found {
    const ICMP: u8 = 2;
    const ICMP6: u8 = 3;
    match (origin, icmp_type, code) {
        (ICMP, 3, 3) | (ICMP6, 1, 4) => (PortState::Closed, "port-unreach"),
        (ICMP, 3, 0) | (ICMP6, 1, 0) => (PortState::Filtered, "net-unreach"),
        (ICMP, 3, 1) | (ICMP6, 1, 3) => (PortState::Filtered, "host-unreach"),
        (ICMP, 3, 2) => (PortState::Filtered, "proto-unreach"),
        (ICMP, 3, 9 | 10 | 13) | (ICMP6, 1, 1) => (PortState::Filtered, "admin-prohibited"),
        _ => from_errno(&io::Error::from_raw_os_error(i32::try_from(errno).unwrap_or(0))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icmp_errors_read_as_nmap_reads_them() {
        assert_eq!(classify(2, 3, 3, 111), (PortState::Closed, "port-unreach"));
        assert_eq!(classify(2, 3, 13, 113), (PortState::Filtered, "admin-prohibited"));
        assert_eq!(classify(3, 1, 4, 111), (PortState::Closed, "port-unreach"));
        assert_eq!(classify(3, 1, 1, 13), (PortState::Filtered, "admin-prohibited"));
        assert_eq!(classify(1, 0, 0, libc::EHOSTUNREACH as u32), (PortState::Filtered, "host-unreach"));
    }

    #[test]
    fn a_closed_loopback_port_is_closed_and_an_echo_open() {
        let echo = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let open = echo.local_addr().expect("addr");
        let t = std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            if let Ok((n, from)) = echo.recv_from(&mut buf) {
                let _ = echo.send_to(&buf[..n], from);
            }
        });
        let shut = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let closed = shut.local_addr().expect("addr");
        drop(shut);
        let found = probe_all(&[open, closed], Duration::from_secs(2)).expect("probe");
        assert_eq!(found, [Some((PortState::Open, "udp-response")), Some((PortState::Closed, "port-unreach"))]);
        t.join().expect("echo");
    }
}
