//! `scan --syn`: a SYN scan on a raw socket (CAP_NET_RAW), as masscan does it: no connection
//! and no state a probe. Each SYN's sequence number is a keyed hash of the target, its port and
//! the scan's source port (a cookie), so an answer is matched to its probe by its
//! acknowledgement alone: SYN-ACK is open, RST closed, silence after the retries filtered. One
//! thread sends every probe (paced by `--rate`), another reads every answer. IPv4; IPv6 targets
//! are left to the connect scan.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use sockit_core::scan::{Permutation, PortState};

use super::engine::{ScanConfig, UNSET, decode, encode, random_seed};

/// A raw TCP socket for IPv4, or why there is none (no CAP_NET_RAW).
pub fn raw_socket() -> io::Result<Socket> {
    Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::TCP))
}

/// The address this host sends from to reach `to` (the route's source), as the kernel picks it.
fn source_for(to: Ipv4Addr) -> io::Result<Ipv4Addr> {
    let probe = UdpSocket::bind("0.0.0.0:0")?;
    probe.connect((to, 9))?;
    match probe.local_addr()?.ip() {
        IpAddr::V4(ip) => Ok(ip),
        IpAddr::V6(_) => Err(io::Error::other("no IPv4 source address")),
    }
}

/// The scan's key and source port: what makes its cookies its own.
struct Cookies {
    key: std::collections::hash_map::RandomState,
    sport: u16,
}

impl Cookies {
    fn of(&self, ip: Ipv4Addr, port: u16) -> u32 {
        let mut h = self.key.build_hasher();
        h.write(&ip.octets());
        h.write_u16(port);
        h.write_u16(self.sport);
        (h.finish() & 0xffff_ffff) as u32
    }
}

/// The Internet checksum of `parts` (RFC 1071).
fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    for part in parts {
        for pair in part.chunks(2) {
            sum += u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]));
        }
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !u16::try_from(sum).unwrap_or(0xffff)
}

/// A SYN from `src:sport` to `dst:dport` with sequence number `seq` (a 20-byte TCP header
/// with the MSS option, as a connect's SYN carries one).
fn syn(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, seq: u32) -> [u8; 24] {
    let mut t = [0u8; 24];
    t[0..2].copy_from_slice(&sport.to_be_bytes());
    t[2..4].copy_from_slice(&dport.to_be_bytes());
    t[4..8].copy_from_slice(&seq.to_be_bytes());
    t[12] = 6 << 4; // six words of header
    t[13] = 0x02; // SYN
    t[14..16].copy_from_slice(&1024u16.to_be_bytes()); // window
    t[20..24].copy_from_slice(&[2, 4, 0x05, 0xb4]); // MSS 1460
    let len = u16::try_from(t.len()).unwrap_or(24).to_be_bytes();
    let pseudo = [&src.octets()[..], &dst.octets()[..], &[0, 6], &len[..]].concat();
    let sum = checksum(&[&pseudo, &t]);
    t[16..18].copy_from_slice(&sum.to_be_bytes());
    t
}

/// An answer read off the raw socket: the target, its port, and open or closed.
fn answer(packet: &[u8], cookies: &Cookies) -> Option<(Ipv4Addr, u16, PortState)> {
    let ihl = usize::from(*packet.first()? & 0x0f) * 4;
    if packet.first()? >> 4 != 4 || *packet.get(9)? != 6 {
        return None;
    }
    let src = Ipv4Addr::new(*packet.get(12)?, *packet.get(13)?, *packet.get(14)?, *packet.get(15)?);
    let tcp = packet.get(ihl..ihl + 20)?;
    let (sport, dport) = (u16::from_be_bytes([tcp[0], tcp[1]]), u16::from_be_bytes([tcp[2], tcp[3]]));
    let ack = u32::from_be_bytes([tcp[8], tcp[9], tcp[10], tcp[11]]);
    if dport != cookies.sport || ack != cookies.of(src, sport).wrapping_add(1) {
        return None;
    }
    let flags = tcp[13];
    let state = match (flags & 0x12 == 0x12, flags & 0x04 != 0) {
        (true, _) => PortState::Open,
        (false, true) => PortState::Closed,
        _ => return None,
    };
    Some((src, sport, state))
}

/// Every (address, port) pair, host-major, by SYN: `None` when a target is not IPv4 (the
/// caller scans those by connect).
pub(super) fn scan(addrs: &[SocketAddr], cfg: &ScanConfig, done: &AtomicU64) -> io::Result<Option<Vec<PortState>>> {
    let targets: Vec<Ipv4Addr> =
        match addrs.iter().map(|a| if let IpAddr::V4(ip) = a.ip() { Some(ip) } else { None }).collect() {
            Some(t) => t,
            None => return Ok(None),
        };
    let sock = raw_socket()?;
    let reader = sock.try_clone()?;
    reader.set_read_timeout(Some(Duration::from_millis(50)))?;
    let _ = reader.set_recv_buffer_size(8 << 20);
    let _ = sock.set_send_buffer_size(4 << 20);
    let sport = 40_000 + u16::try_from(random_seed() % 20_000).unwrap_or(0);
    let cookies = Cookies { key: std::collections::hash_map::RandomState::new(), sport };
    let sources: Vec<Ipv4Addr> = targets.iter().map(|&t| source_for(t)).collect::<io::Result<_>>()?;
    let host_of: HashMap<Ipv4Addr, usize> = targets.iter().enumerate().map(|(i, &t)| (t, i)).collect();
    let mut port_of = vec![usize::MAX; 65_536];
    for (i, &p) in cfg.ports.iter().enumerate() {
        port_of[usize::from(p)] = i;
    }
    let n = cfg.ports.len();
    let states: Vec<AtomicU8> = (0..targets.len() * n).map(|_| AtomicU8::new(UNSET)).collect();
    let answered = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    // When the latest answer came, and how long the first took (µs from the start): a round's
    // wait ends once answers stop coming for a few round trips.
    let clock = Clock { start: Instant::now(), last: AtomicU64::new(0), first: AtomicU64::new(0) };
    std::thread::scope(|s| -> io::Result<()> {
        s.spawn(|| {
            let mut reader = &reader;
            let mut buf = [0u8; 2048];
            while !stop.load(Ordering::Relaxed) {
                let Ok(len) = reader.read(&mut buf) else { continue };
                let Some((src, port, state)) = answer(&buf[..len], &cookies) else { continue };
                let (Some(&h), Some(&p)) = (host_of.get(&src), port_of.get(usize::from(port))) else { continue };
                if p == usize::MAX {
                    continue;
                }
                // The first answer stands (a SYN-ACK's retransmission, a late RST change nothing).
                if states[h * n + p]
                    .compare_exchange(UNSET, encode(state), Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
                {
                    answered.fetch_add(1, Ordering::Relaxed);
                    done.fetch_add(1, Ordering::Relaxed);
                    let now = clock.micros();
                    clock.last.store(now, Ordering::Relaxed);
                    let _ = clock.first.compare_exchange(0, now.max(1), Ordering::Relaxed, Ordering::Relaxed);
                }
            }
        });
        let result = send_rounds(&sock, &targets, &sources, &cookies, cfg, &states, (&answered, &clock));
        stop.store(true, Ordering::Relaxed);
        result
    })?;
    let states: Vec<PortState> = states
        .into_iter()
        .map(|s| match s.into_inner() {
            UNSET => {
                done.fetch_add(1, Ordering::Relaxed);
                PortState::Filtered
            }
            v => decode(v),
        })
        .collect();
    Ok(Some(states))
}

/// The scan's clock: when answers came.
struct Clock {
    start: Instant,
    last: AtomicU64,
    first: AtomicU64,
}

impl Clock {
    fn micros(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX)
    }
}

/// The least a round waits for late answers (nmap's --min-rtt-timeout is 100 ms).
const QUIET_AT_LEAST: Duration = Duration::from_millis(100);

/// Every unanswered probe sent, in a random order paced by `rate`; then the answers awaited
/// until none has come for eight first round trips (100 ms at least, `timeout` at most); again
/// for the silent, `retries` times.
fn send_rounds(
    sock: &Socket,
    targets: &[Ipv4Addr],
    sources: &[Ipv4Addr],
    cookies: &Cookies,
    cfg: &ScanConfig,
    states: &[AtomicU8],
    (answered, clock): (&AtomicU64, &Clock),
) -> io::Result<()> {
    let n = cfg.ports.len();
    let jobs = (targets.len() * n) as u64;
    let to: Vec<SockAddr> = targets.iter().map(|&t| SockAddr::from(SocketAddr::new(IpAddr::V4(t), 0))).collect();
    let gap = cfg.rate.map(|r| Duration::from_secs_f64(1.0 / r));
    // A sender a core (the kernel carries each SYN to the wire on the sending thread), each
    // its share of the order and of the rate.
    let senders = std::thread::available_parallelism().map_or(1, std::num::NonZero::get).clamp(1, 4);
    let gap = gap.map(|g| g * u32::try_from(senders).unwrap_or(1));
    for _ in 0..=cfg.retries {
        let order = Permutation::new(jobs, cfg.randomize.then(random_seed));
        std::thread::scope(|s| -> io::Result<()> {
            let each: Vec<_> = (0..senders)
                .map(|t| {
                    let (to, order) = (&to, &order);
                    s.spawn(move || -> io::Result<()> {
                        let (start, mut sent) = (Instant::now(), 0u64);
                        for j in (t as u64..order.len()).step_by(senders) {
                            let job = usize::try_from(order.at(j)).unwrap_or(0);
                            if states[job].load(Ordering::Relaxed) != UNSET {
                                continue;
                            }
                            let (h, p) = (job / n, job % n);
                            let port = cfg.ports[p];
                            let packet = syn(sources[h], targets[h], cookies.sport, port, cookies.of(targets[h], port));
                            loop {
                                match sock.send_to(&packet, &to[h]) {
                                    Ok(_) => break,
                                    // The socket's buffer is full: let the link drain it.
                                    Err(e)
                                        if e.raw_os_error() == Some(libc::ENOBUFS)
                                            || e.kind() == io::ErrorKind::WouldBlock =>
                                    {
                                        std::thread::sleep(Duration::from_micros(200));
                                    }
                                    Err(e) => return Err(e),
                                }
                            }
                            sent += 1;
                            if let Some(gap) = gap {
                                let due = start + gap.mul_f64(sent as f64);
                                std::thread::sleep(due.saturating_duration_since(Instant::now()));
                            }
                        }
                        Ok(())
                    })
                })
                .collect();
            for h in each {
                h.join().unwrap_or_else(|_| Err(io::Error::other("a SYN sender failed")))?;
            }
            Ok(())
        })?;
        let sent_at = clock.micros();
        let deadline = Instant::now() + cfg.timeout;
        while Instant::now() < deadline && answered.load(Ordering::Relaxed) < jobs {
            std::thread::sleep(Duration::from_millis(2));
            let quiet =
                Duration::from_micros(clock.first.load(Ordering::Relaxed).saturating_mul(8)).max(QUIET_AT_LEAST);
            let since =
                Duration::from_micros(clock.micros().saturating_sub(clock.last.load(Ordering::Relaxed).max(sent_at)));
            if since > quiet {
                break;
            }
        }
        if answered.load(Ordering::Relaxed) == jobs {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_syn_carries_its_cookie_and_a_right_checksum() {
        let (src, dst) = (Ipv4Addr::new(198, 18, 0, 1), Ipv4Addr::new(198, 18, 0, 2));
        let t = syn(src, dst, 40_000, 22, 0xdead_beef);
        assert_eq!(&t[4..8], &0xdead_beef_u32.to_be_bytes());
        // The checksum over the pseudo-header and the segment, its own field included, is 0.
        let pseudo = [&src.octets()[..], &dst.octets()[..], &[0, 6, 0, 24]].concat();
        assert_eq!(checksum(&[&pseudo, &t]), 0);
        // RFC 1071's example sums to ddf2; its checksum is the complement.
        assert_eq!(checksum(&[&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]]), !0xddf2);
    }

    #[test]
    fn answers_match_their_cookies_only() {
        let cookies = Cookies { key: std::collections::hash_map::RandomState::new(), sport: 40_001 };
        let target = Ipv4Addr::new(198, 18, 0, 2);
        let reply = |flags: u8, ack: u32, dport: u16| {
            let mut p = vec![0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0, 198, 18, 0, 2, 198, 18, 0, 1];
            let mut t = [0u8; 20];
            t[0..2].copy_from_slice(&22u16.to_be_bytes());
            t[2..4].copy_from_slice(&dport.to_be_bytes());
            t[8..12].copy_from_slice(&ack.to_be_bytes());
            t[13] = flags;
            p.extend(t);
            p
        };
        let good = cookies.of(target, 22).wrapping_add(1);
        assert_eq!(answer(&reply(0x12, good, 40_001), &cookies), Some((target, 22, PortState::Open)));
        assert_eq!(answer(&reply(0x14, good, 40_001), &cookies), Some((target, 22, PortState::Closed)));
        assert_eq!(answer(&reply(0x12, good ^ 1, 40_001), &cookies), None);
        assert_eq!(answer(&reply(0x12, good, 40_002), &cookies), None);
        assert_eq!(answer(&[0x45, 0, 0], &cookies), None);
    }
}
