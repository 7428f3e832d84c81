//! `scan --syn`: a SYN scan on a raw socket (CAP_NET_RAW), as masscan does it: no connection
//! and no state a probe. Each SYN's sequence number is a keyed hash of the target, its port and
//! the scan's source port (a cookie), so an answer is matched to its probe by its
//! acknowledgement alone: SYN-ACK is open, RST closed, silence after the retries filtered. A
//! sender a core sends the probes (paced by `--rate`), one thread reads every answer; IPv4 and IPv6.
//! The kernel's resets to the SYN-ACKs are dropped by a rule of the scan's own (`quiet`). A
//! target on an Ethernet link gets its SYNs as frames on an AF_PACKET socket (`wire`), any
//! other on a raw IP socket.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};
use sockit_core::scan::{Permutation, PortState};

use super::batch::{BATCH, Batches, Received, SYN_MAX};
use super::engine::{ScanConfig, UNSET, decode, encode, random_seed};
use super::wire::{PacketSocket, Wire};

/// A raw socket that reads TCP segments of `domain`'s family (IPv4 ones with their IP header,
/// IPv6 ones without), or why there is none (no CAP_NET_RAW).
fn reading_socket(domain: Domain) -> io::Result<Socket> {
    Socket::new(domain, Type::RAW, Some(Protocol::TCP))
}

/// Whether this process may scan by SYN (it may open a raw socket).
pub fn raw_socket_allowed() -> io::Result<()> {
    reading_socket(Domain::IPV4).map(drop)
}

/// The address this host sends from to reach `to` (the route's source), as the kernel picks it.
fn source_for(mut to: SocketAddr) -> io::Result<IpAddr> {
    let probe = UdpSocket::bind(crate::net::any_of_family(to))?;
    to.set_port(9);
    probe.connect(to)?;
    Ok(probe.local_addr()?.ip())
}

/// The scan's key and source port: what makes its cookies its own.
struct Cookies {
    key: std::collections::hash_map::RandomState,
    sport: u16,
}

impl Cookies {
    fn of(&self, ip: IpAddr, port: u16) -> u32 {
        let mut h = self.key.build_hasher();
        match ip {
            IpAddr::V4(ip) => h.write(&ip.octets()),
            IpAddr::V6(ip) => h.write(&ip.octets()),
        }
        h.write_u16(port);
        h.write_u16(self.sport);
        (h.finish() & 0xffff_ffff) as u32
    }
}

/// The Internet checksum of `parts` (RFC 1071), each part of even length but the last.
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

/// The TCP segment's length in a SYN: a 20-byte header with the MSS option, as a connect's
/// SYN carries one.
const SYN_LEN: usize = 24;

// The longest SYN `syn` writes, IPv6's header and the segment, fits a batch's packet.
const _: () = assert!(40 + SYN_LEN <= SYN_MAX);

/// A SYN from `src:sport` to `dst:dport` with sequence number `seq`, its IP header first
/// (IPv4's 20 bytes or IPv6's 40, as the families of `src` and `dst` are): the whole packet, in
/// `out`, whose length it returns.
fn syn(src: IpAddr, dst: IpAddr, sport: u16, dport: u16, seq: u32, out: &mut [u8; SYN_MAX]) -> usize {
    let mut t = [0u8; SYN_LEN];
    t[0..2].copy_from_slice(&sport.to_be_bytes());
    t[2..4].copy_from_slice(&dport.to_be_bytes());
    t[4..8].copy_from_slice(&seq.to_be_bytes());
    t[12] = 6 << 4; // six words of header
    t[13] = 0x02; // SYN
    t[14..16].copy_from_slice(&1024u16.to_be_bytes()); // window
    t[20..24].copy_from_slice(&[2, 4, 0x05, 0xb4]); // MSS 1460
    let len = u16::try_from(SYN_LEN).unwrap_or(24).to_be_bytes();
    let ip_len = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let sum = checksum(&[&s.octets(), &d.octets(), &[0, 6], &len, &t]);
            t[16..18].copy_from_slice(&sum.to_be_bytes());
            let total = u16::try_from(20 + SYN_LEN).unwrap_or(44).to_be_bytes();
            // Version 4, five words, an identification of the cookie's, don't fragment (as
            // the kernel's own SYNs), 64 hops, TCP, and the header's checksum: the whole
            // header, for a frame no kernel fills in.
            let id = seq.to_be_bytes();
            let id = [id[0] ^ id[2], id[1] ^ id[3]];
            out[..12].copy_from_slice(&[0x45, 0, total[0], total[1], id[0], id[1], 0x40, 0, 64, 6, 0, 0]);
            out[12..16].copy_from_slice(&s.octets());
            out[16..20].copy_from_slice(&d.octets());
            let sum = checksum(&[&out[..20]]);
            out[10..12].copy_from_slice(&sum.to_be_bytes());
            20
        }
        (s, d) => {
            let (s, d) = (v6_of(s), v6_of(d));
            let sum = checksum(&[&s.octets(), &d.octets(), &[0, 0], &len, &[0, 0, 0, 6], &t]);
            t[16..18].copy_from_slice(&sum.to_be_bytes());
            // Version 6, no class or flow label, the payload's length, TCP, 64 hops.
            out[..8].copy_from_slice(&[0x60, 0, 0, 0, len[0], len[1], 6, 64]);
            out[8..24].copy_from_slice(&s.octets());
            out[24..40].copy_from_slice(&d.octets());
            40
        }
    };
    out[ip_len..ip_len + SYN_LEN].copy_from_slice(&t);
    ip_len + SYN_LEN
}

/// An IPv6 address as it is, an IPv4 one mapped.
fn v6_of(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(ip) => ip.to_ipv6_mapped(),
        IpAddr::V6(ip) => ip,
    }
}

/// An answer read off a raw socket, `segment` the TCP segment `src` sent: its port, and open
/// or closed, if it answers one of the scan's SYNs.
fn answer(src: IpAddr, segment: &[u8], cookies: &Cookies) -> Option<(u16, PortState)> {
    let tcp = segment.get(..20)?;
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
    Some((sport, state))
}

/// The source and the TCP segment of an IPv4 packet as a raw socket reads it (its header
/// first).
fn ipv4_segment(packet: &[u8]) -> Option<(IpAddr, &[u8])> {
    let ihl = usize::from(*packet.first()? & 0x0f) * 4;
    if packet.first()? >> 4 != 4 || *packet.get(9)? != 6 || ihl < 20 {
        return None;
    }
    let src = Ipv4Addr::new(*packet.get(12)?, *packet.get(13)?, *packet.get(14)?, *packet.get(15)?);
    Some((IpAddr::V4(src), packet.get(ihl..)?))
}

/// What a packet read off a raw socket answers, for a scan from source port `sport`: an IPv4
/// packet with its header, or (`from` given) an IPv6 packet's TCP segment from `from` (for
/// fuzzing: the scan's own key is random, so only a packet of its own is matched).
pub fn read_answer(packet: &[u8], from: Option<IpAddr>, sport: u16) -> Option<(u16, PortState)> {
    let cookies = Cookies { key: std::collections::hash_map::RandomState::new(), sport };
    let (src, segment) = match from {
        Some(src) => (src, packet),
        None => ipv4_segment(packet)?,
    };
    answer(src, segment, &cookies)
}

/// Every (address, port) pair, host-major, by SYN, IPv4 and IPv6 alike.
pub(super) fn scan(addrs: &[SocketAddr], cfg: &ScanConfig, done: &AtomicU64) -> io::Result<Vec<PortState>> {
    // An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is reached over IPv4, as a connect reaches it.
    let addrs: Vec<SocketAddr> = addrs
        .iter()
        .map(|&a| match a {
            SocketAddr::V6(v6) => v6.ip().to_ipv4_mapped().map_or(a, |v4| SocketAddr::new(IpAddr::V4(v4), v6.port())),
            v4 => v4,
        })
        .collect();
    let addrs = &addrs[..];
    let targets: Vec<IpAddr> = addrs.iter().map(SocketAddr::ip).collect();
    let mut readers = Vec::new();
    for (domain, wanted) in families(addrs) {
        if wanted {
            let r = reading_socket(domain)?;
            r.set_nonblocking(true)?;
            // Room for answers while the reader sleeps: past net.core.rmem_max where the
            // process may (CAP_NET_ADMIN).
            if rustix::net::sockopt::set_socket_recv_buffer_size_force(&r, 8 << 20).is_err() {
                let _ = r.set_recv_buffer_size(8 << 20);
            }
            readers.push((domain, r));
        }
    }
    let sport = 40_000 + u16::try_from(random_seed() % 20_000).unwrap_or(0);
    let cookies = Cookies { key: std::collections::hash_map::RandomState::new(), sport };
    // The kernel would answer each SYN-ACK with a reset (the connection is none of its own):
    // a rule of the scan's own drops them while it runs, where the process may make one.
    let quiet = super::quiet::Quiet::hold(sport)
        .map_err(|e| tracing::info!(error = %e, "no firewall rule for the scan: the kernel resets each SYN-ACK"))
        .ok();
    // No route to a target, no source: its SYNs are refused by the kernel when sent (filtered).
    let sources: Vec<IpAddr> =
        addrs.iter().map(|&t| source_for(t).unwrap_or_else(|_| crate::net::any_of_family(t).ip())).collect();
    // The targets reached by Ethernet (unless every SYN is to go through the IP layer): a
    // neighbour the kernel does not know yet is asked for by the first port's SYN, sent the
    // usual way (its answer counts as any other).
    let wires = match cfg.ports.first().filter(|_| !cfg.send_ip) {
        Some(&port) => {
            let mut learners = Batches::new(families(addrs), 1, &[], None)?;
            let wires = super::wire::wires(addrs, |h| {
                let mut to = addrs[h];
                to.set_port(0);
                let dst = to.ip();
                let _ = learners.push(usize::MAX, h, &to, |packet| {
                    syn(sources[h], dst, cookies.sport, port, cookies.of(dst, port), packet)
                });
            });
            tracing::debug!(targets = wires.len(), by_ethernet = wires.iter().flatten().count(), "SYN paths");
            wires
        }
        None => Vec::new(),
    };
    let host_of: HashMap<IpAddr, usize> = targets.iter().enumerate().map(|(i, &t)| (t, i)).collect();
    let mut port_of = vec![usize::MAX; 65_536];
    for (i, &p) in cfg.ports.iter().enumerate() {
        port_of[usize::from(p)] = i;
    }
    let n = cfg.ports.len();
    let tally = Tally {
        states: (0..targets.len() * n).map(|_| AtomicU8::new(UNSET)).collect(),
        answered: AtomicU64::new(0),
        done,
    };
    let stop = AtomicBool::new(false);
    // When the latest answer came, how long the first took, and when the reader last found
    // nothing queued (µs from the start): a round's wait ends once answers stop coming for a
    // few round trips and the reader has read all the kernel holds.
    let clock =
        Clock { start: Instant::now(), last: AtomicU64::new(0), first: AtomicU64::new(0), drained: AtomicU64::new(0) };
    std::thread::scope(|s| -> io::Result<()> {
        s.spawn(|| {
            let mut batch = Received::new();
            // Read what has come, a batch a call, then sleep a little when nothing has: a
            // wake-up an answer would cost the kernel more than the answers themselves.
            while !stop.load(Ordering::Relaxed) {
                let mut got = false;
                for (domain, reader) in &readers {
                    while batch.read(reader) > 0 {
                        got = true;
                        for (packet, from) in batch.packets() {
                            let found =
                                if *domain == Domain::IPV4 { ipv4_segment(packet) } else { from.map(|f| (f, packet)) };
                            let Some((src, segment)) = found else { continue };
                            let Some((port, state)) = answer(src, segment, &cookies) else { continue };
                            let (Some(&h), Some(&p)) = (host_of.get(&src), port_of.get(usize::from(port))) else {
                                continue;
                            };
                            if p == usize::MAX {
                                continue;
                            }
                            if tally.settle(h * n + p, state) {
                                let now = clock.micros();
                                clock.last.store(now, Ordering::Relaxed);
                                let _ =
                                    clock.first.compare_exchange(0, now.max(1), Ordering::Relaxed, Ordering::Relaxed);
                            }
                        }
                    }
                }
                if !got {
                    // Every answer the kernel had queued has been read.
                    clock.drained.store(clock.micros(), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_micros(250));
                }
            }
        });
        let result = send_rounds(addrs, &sources, &wires, &cookies, cfg, &tally, &clock);
        stop.store(true, Ordering::Relaxed);
        result
    })?;
    close_later(quiet);
    let states: Vec<PortState> = tally
        .states
        .into_iter()
        .map(|s| match s.into_inner() {
            UNSET => {
                done.fetch_add(1, Ordering::Relaxed);
                PortState::Filtered
            }
            v => decode(v),
        })
        .collect();
    Ok(states)
}

/// The families `addrs` hold: IPv4's and IPv6's, each with whether any address is of it.
fn families(addrs: &[SocketAddr]) -> [(Domain, bool); 2] {
    [(Domain::IPV4, addrs.iter().any(SocketAddr::is_ipv4)), (Domain::IPV6, addrs.iter().any(SocketAddr::is_ipv6))]
}

/// Each probe's state as it is settled (`UNSET` until then), and how many are.
struct Tally<'a> {
    states: Vec<AtomicU8>,
    answered: AtomicU64,
    /// Finished probes, for a progress display.
    done: &'a AtomicU64,
}

impl Tally<'_> {
    /// Settle `job` as `state`, unless it is settled already (the first answer stands: a
    /// SYN-ACK's retransmission, a late RST change nothing); whether this settled it.
    fn settle(&self, job: usize, state: PortState) -> bool {
        let settled =
            self.states[job].compare_exchange(UNSET, encode(state), Ordering::Relaxed, Ordering::Relaxed).is_ok();
        if settled {
            self.answered.fetch_add(1, Ordering::Relaxed);
            self.done.fetch_add(1, Ordering::Relaxed);
        }
        settled
    }
}

/// The scan's clock: when answers came.
struct Clock {
    start: Instant,
    last: AtomicU64,
    first: AtomicU64,
    drained: AtomicU64,
}

impl Clock {
    fn micros(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX)
    }
}

/// The least a round waits for late answers. nmap waits 100 ms at least (--min-rtt-timeout)
/// because its reader may lag; this wait also ends only once the reader has found the
/// kernel's queue empty after the quiet began, so an answer already come is never missed.
const QUIET_AT_LEAST: Duration = Duration::from_millis(20);

/// Every unanswered probe sent, in a random order paced by `rate`; then the answers awaited
/// until none has come for eight first round trips (20 ms at least, `timeout` at most) and
/// the reader has read all that came; again for the silent, `retries` times.
fn send_rounds(
    targets: &[SocketAddr],
    sources: &[IpAddr],
    wires: &[Option<Wire>],
    cookies: &Cookies,
    cfg: &ScanConfig,
    tally: &Tally<'_>,
    clock: &Clock,
) -> io::Result<()> {
    let (states, answered) = (&tally.states, &tally.answered);
    let n = cfg.ports.len();
    let jobs = (targets.len() * n) as u64;
    // The port of a raw socket's destination must be 0 (or its protocol's number).
    let to: Vec<SocketAddr> = targets
        .iter()
        .map(|&t| {
            let mut t = t;
            t.set_port(0);
            t
        })
        .collect();
    let mut rate = cfg.rate;
    // A sender a core (the kernel carries each SYN to the wire on the sending thread), each
    // with its own socket, its share of the order and of the rate.
    let senders = std::thread::available_parallelism().map_or(1, std::num::NonZero::get).clamp(1, 4);
    let families = families(targets);
    // Each sender's sockets, for every round, and one packet socket they share: its close
    // waits for the kernel's network to quiesce (synchronize_net), some milliseconds.
    let frames = if wires.iter().any(Option::is_some) { Some(PacketSocket::open()?) } else { None };
    let mut outs = (0..senders)
        .map(|_| Batches::new(families, BATCH, wires, frames.as_ref()))
        .collect::<io::Result<Vec<Batches<'_>>>>()?;
    for round in 0..=cfg.retries {
        let order = Permutation::new(jobs, cfg.randomize.then(random_seed));
        let (began, answered_before) = (clock.micros(), answered.load(Ordering::Relaxed));
        let gap = rate.map(|r| Duration::from_secs_f64(1.0 / r) * u32::try_from(senders).unwrap_or(1));
        std::thread::scope(|s| -> io::Result<()> {
            let each: Vec<_> = outs
                .iter_mut()
                .enumerate()
                .map(|(t, out)| {
                    let (to, order) = (&to, &order);
                    s.spawn(move || -> io::Result<()> {
                        out.size = if gap.is_some() { 1 } else { BATCH };
                        let (start, mut sent) = (Instant::now(), 0u64);
                        for j in (t as u64..order.len()).step_by(senders) {
                            let job = usize::try_from(order.at(j)).unwrap_or(0);
                            if states[job].load(Ordering::Relaxed) != UNSET {
                                continue;
                            }
                            let (h, p) = (job / n, job % n);
                            let port = cfg.ports[p];
                            let dst = to[h].ip();
                            out.push(job, h, &to[h], |packet| {
                                syn(sources[h], dst, cookies.sport, port, cookies.of(dst, port), packet)
                            })?;
                            sent += 1;
                            if let Some(gap) = gap {
                                let due = start + gap.mul_f64(sent as f64);
                                std::thread::sleep(due.saturating_duration_since(Instant::now()));
                            }
                        }
                        out.flush_all()?;
                        for job in out.unreachable.drain(..) {
                            tally.settle(job, PortState::Filtered);
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
            let from = clock.last.load(Ordering::Relaxed).max(sent_at);
            let since = Duration::from_micros(clock.micros().saturating_sub(from));
            let quiet_us = u64::try_from(quiet.as_micros()).unwrap_or(u64::MAX);
            if since > quiet && clock.drained.load(Ordering::Relaxed) > from.saturating_add(quiet_us) {
                break;
            }
        }
        tracing::debug!(
            round,
            sending_ms = (sent_at - began) / 1000,
            waiting_ms = (clock.micros() - sent_at) / 1000,
            answered = answered.load(Ordering::Relaxed),
            "SYN round"
        );
        let (now_answered, took) = (answered.load(Ordering::Relaxed), clock.micros().saturating_sub(began).max(1));
        if now_answered == jobs {
            break;
        }
        // Many answers missing: the reader (or the path back) may have dropped them under the
        // load. The next round goes no faster than answers came in this one.
        let came = now_answered - answered_before;
        if jobs - now_answered > 64 && came > 0 {
            let came_rate = came as f64 * 1e6 / took as f64;
            rate = Some(rate.map_or(came_rate, |r| r.min(came_rate)));
        }
    }
    drop(outs);
    close_later(frames);
    Ok(())
}

/// Drop `held` (a packet socket, the scan's firewall rule) on a thread of its own: closing it
/// waits for the kernel (a packet socket's and an nftables table's end wait for a grace
/// period), which need not hold up the scan's report, nor the other's close.
fn close_later(held: impl Send + 'static) {
    // Without a thread, the closure and `held` with it are dropped here.
    let _ = std::thread::Builder::new().name("closer".into()).spawn(move || drop(held));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_syn_carries_its_cookie_and_a_right_checksum() {
        let (src, dst) = (Ipv4Addr::new(198, 18, 0, 1), Ipv4Addr::new(198, 18, 0, 2));
        let mut p = [0u8; SYN_MAX];
        assert_eq!(syn(src.into(), dst.into(), 40_000, 22, 0xdead_beef, &mut p), 44);
        assert_eq!(&p[..4], &[0x45, 0, 0, 44]);
        // The IP header whole: don't fragment, and a checksum that sums it to 0.
        assert_eq!((p[6], checksum(&[&p[..20]])), (0x40, 0));
        assert_eq!((&p[12..16], &p[16..20]), (&src.octets()[..], &dst.octets()[..]));
        let t = &p[20..44];
        assert_eq!(&t[4..8], &0xdead_beef_u32.to_be_bytes());
        // The checksum over the pseudo-header and the segment, its own field included, is 0.
        let pseudo = [&src.octets()[..], &dst.octets()[..], &[0, 6, 0, 24]].concat();
        assert_eq!(checksum(&[&pseudo, t]), 0);
        // RFC 1071's example sums to ddf2; its checksum is the complement.
        assert_eq!(checksum(&[&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]]), !0xddf2);
    }

    #[test]
    fn an_ipv6_syn_has_its_header_and_a_right_checksum() {
        let (src, dst): (Ipv6Addr, Ipv6Addr) = ("fd00::1".parse().expect("v6"), "fd00::2".parse().expect("v6"));
        let mut p = [0u8; SYN_MAX];
        assert_eq!(syn(src.into(), dst.into(), 40_000, 443, 7, &mut p), 64);
        assert_eq!(&p[..8], &[0x60, 0, 0, 0, 0, 24, 6, 64]);
        assert_eq!((&p[8..24], &p[24..40]), (&src.octets()[..], &dst.octets()[..]));
        let t = &p[40..64];
        assert_eq!(&t[2..4], &443u16.to_be_bytes());
        let pseudo = [&src.octets()[..], &dst.octets()[..], &[0, 0, 0, 24, 0, 0, 0, 6]].concat();
        assert_eq!(checksum(&[&pseudo, t]), 0);
    }

    #[test]
    fn answers_match_their_cookies_only() {
        let cookies = Cookies { key: std::collections::hash_map::RandomState::new(), sport: 40_001 };
        let target = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2));
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
        let read = |p: &[u8]| ipv4_segment(p).and_then(|(src, seg)| answer(src, seg, &cookies));
        let good = cookies.of(target, 22).wrapping_add(1);
        assert_eq!(read(&reply(0x12, good, 40_001)), Some((22, PortState::Open)));
        assert_eq!(read(&reply(0x14, good, 40_001)), Some((22, PortState::Closed)));
        assert_eq!(read(&reply(0x12, good ^ 1, 40_001)), None);
        assert_eq!(read(&reply(0x12, good, 40_002)), None);
        assert_eq!(read(&[0x45, 0, 0]), None);
        // The same segment from another address answers nothing of ours.
        let other = IpAddr::V6("fd00::2".parse().expect("v6"));
        assert_eq!(answer(other, &reply(0x12, good, 40_001)[20..], &cookies), None);
        let good6 = cookies.of(other, 22).wrapping_add(1);
        assert_eq!(answer(other, &reply(0x14, good6, 40_001)[20..], &cookies), Some((22, PortState::Closed)));
    }
}
