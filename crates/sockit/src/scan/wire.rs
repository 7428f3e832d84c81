//! `scan --syn`'s SYNs as Ethernet frames on an AF_PACKET socket, as masscan sends them: no
//! route looked up, no firewall rule and no queueing discipline a packet, so the sending costs
//! what the link's driver costs. Each target's route and neighbour are the kernel's, asked once
//! (`ifaces::Paths`, as `ip route get` and `ip neigh` ask); a neighbour the kernel has not yet
//! resolved is resolved by the kernel, by one SYN sent the usual way. A target reached
//! otherwise (loopback, a local address, a tunnel, a neighbour that does not answer) keeps the
//! raw IP socket. The frames pass none of this host's output rules, as masscan's do not.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};

use crate::ifaces::{Paths, Route};

/// How long the scan waits for the kernel to resolve the neighbours it did not know.
const RESOLVING: Duration = Duration::from_millis(50);

/// An Ethernet frame's header.
pub(super) const HEADER: usize = 14;

/// Where a target's frames go: the interface, and the header every frame to it starts with.
pub(super) struct Wire {
    to: libc::sockaddr_ll,
    header: [u8; HEADER],
}

impl Wire {
    fn new(index: u32, from: [u8; 6], to: [u8; 6], ipv6: bool) -> Wire {
        let mut header = [0u8; HEADER];
        header[..6].copy_from_slice(&to);
        header[6..12].copy_from_slice(&from);
        let kind: u16 = if ipv6 { 0x86dd } else { 0x0800 };
        header[12..].copy_from_slice(&kind.to_be_bytes());
        let mut addr = [0u8; 8];
        addr[..6].copy_from_slice(&to);
        let to = libc::sockaddr_ll {
            sll_family: u16::try_from(libc::AF_PACKET).unwrap_or(17),
            sll_protocol: kind.to_be(),
            sll_ifindex: i32::try_from(index).unwrap_or(0),
            sll_hatype: 0,
            sll_pkttype: 0,
            sll_halen: 6,
            sll_addr: addr,
        };
        Wire { to, header }
    }

    /// The frame's header, written at the start of `frame`.
    pub(super) fn header(&self) -> &[u8; HEADER] {
        &self.header
    }
}

/// Each target's wire, or None where its packets go the kernel's usual way (a link-local
/// address with its interface given, too: a route lookup by address alone may pick another
/// link). `learn(i)` sends one packet to target `i` the usual way, for the kernel to resolve
/// its neighbour.
pub(super) fn wires(targets: &[SocketAddr], mut learn: impl FnMut(usize)) -> Vec<Option<Wire>> {
    let Some(mut paths) = Paths::open() else { return targets.iter().map(|_| None).collect() };
    let mut macs: HashMap<u32, Option<[u8; 6]>> = HashMap::new();
    let hops: Vec<Option<(Route, [u8; 6])>> = targets
        .iter()
        .map(|t| {
            if let SocketAddr::V6(v6) = t
                && v6.scope_id() != 0
            {
                return None;
            }
            let route = paths.route(t.ip())?;
            let mac = match macs.get(&route.index) {
                Some(&mac) => mac,
                None => {
                    let mac = paths.ethernet(route.index);
                    macs.insert(route.index, mac);
                    mac
                }
            };
            Some((route, mac?))
        })
        .collect();
    let mut known = paths.neighbours();
    let mut asked = std::collections::HashSet::new();
    for (i, hop) in hops.iter().enumerate() {
        if let Some((route, _)) = hop
            && !known.contains_key(&(route.index, route.next))
            && asked.insert((route.index, route.next))
        {
            learn(i);
        }
    }
    let began = Instant::now();
    while !asked.iter().all(|k| known.contains_key(k)) && began.elapsed() < RESOLVING {
        std::thread::sleep(Duration::from_millis(1));
        known = paths.neighbours();
    }
    hops.iter()
        .zip(targets)
        .map(|(hop, t)| {
            let (route, from) = hop.as_ref()?;
            known.get(&(route.index, route.next)).map(|&to| Wire::new(route.index, *from, to, t.is_ipv6()))
        })
        .collect()
}

/// A socket that sends whole Ethernet frames and reads none (protocol 0), past the queueing
/// discipline straight to the driver.
pub(super) struct PacketSocket(Socket);

impl PacketSocket {
    pub(super) fn open() -> io::Result<PacketSocket> {
        let sock = Socket::new(Domain::PACKET, Type::RAW, None)?;
        let _ = sock.set_send_buffer_size(4 << 20);
        let _ = crate::net::set_int_option(&sock, libc::SOL_PACKET, libc::PACKET_QDISC_BYPASS, 1);
        Ok(PacketSocket(sock))
    }

    /// Send `frames`, each to its wire, in one system call: how many went (a batch stops at
    /// its first failure, which is the error when it is the first frame).
    #[allow(unsafe_code)]
    pub(super) fn send(&self, frames: &[(&[u8], &Wire)]) -> io::Result<usize> {
        let mut iovs: Vec<libc::iovec> = frames
            .iter()
            .map(|(f, _)| libc::iovec { iov_base: f.as_ptr().cast_mut().cast(), iov_len: f.len() })
            .collect();
        let mut msgs: Vec<libc::mmsghdr> = iovs
            .iter_mut()
            .zip(frames)
            .map(|(iov, (_, wire))| {
                // SAFETY: all-zero is a valid mmsghdr (null pointers, zero lengths).
                let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
                m.msg_hdr.msg_name = (&raw const wire.to).cast_mut().cast();
                m.msg_hdr.msg_namelen = u32::try_from(size_of::<libc::sockaddr_ll>()).unwrap_or(0);
                m.msg_hdr.msg_iov = iov;
                m.msg_hdr.msg_iovlen = 1;
                m
            })
            .collect();
        let count = u32::try_from(msgs.len()).unwrap_or(u32::MAX);
        // SAFETY: every message points at an iovec and an address that outlive the call, and
        // each iovec at bytes of `frames`, which the kernel only reads.
        let sent = unsafe { libc::sendmmsg(self.0.as_raw_fd(), msgs.as_mut_ptr(), count, 0) };
        usize::try_from(sent).map_err(|_| io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wires_header_is_its_neighbours_then_its_own_then_the_ethertype() {
        let w = Wire::new(3, [2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], false);
        assert_eq!(w.header(), &[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
        assert_eq!((w.to.sll_ifindex, w.to.sll_halen, &w.to.sll_addr[..6]), (3, 6, &[2, 0, 0, 0, 0, 2][..]));
        assert_eq!(w.to.sll_protocol, 0x0800u16.to_be());
        let w = Wire::new(3, [2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], true);
        assert_eq!(&w.header()[12..], &[0x86, 0xdd]);
    }
}
