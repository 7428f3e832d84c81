//! The SYN scan's packets a batch a system call: SYNs sent 32 at a time (sendmmsg) on raw IP
//! sockets, one a family, and on the packet socket that carries frames (`wire`); answers read
//! 64 at a time (recvmmsg) off a raw socket.

use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use super::wire::{HEADER, PacketSocket, Wire};

/// The longest IP packet a batch holds: an IPv6 header and a SYN's 24-byte segment.
pub(super) const SYN_MAX: usize = 64;

/// A raw socket that only sends, whole IP packets (IPPROTO_RAW: the header is the caller's, and
/// the kernel queues no received segment on it).
fn sending_socket(domain: Domain) -> io::Result<Socket> {
    Socket::new(domain, Type::RAW, Some(Protocol::from(libc::IPPROTO_RAW)))
}

/// SYNs sent a batch at a time: one system call (sendmmsg) carries this many.
pub(super) const BATCH: usize = 32;

/// A SYN written and not yet sent: its bytes (a frame's header first when it goes by
/// Ethernet), where to, its target and its job.
struct Pending {
    packet: [u8; HEADER + SYN_MAX],
    len: usize,
    to: Option<rustix::net::SocketAddrAny>,
    host: usize,
    job: usize,
}

/// Where a sender's packets wait: IPv4's, IPv6's, and the frames.
const FRAMES: usize = 2;

/// A sender's raw sockets (one a family it sends to, and a packet socket when a target is
/// reached by Ethernet) and the packets waiting for each.
pub(super) struct Batches<'a> {
    socks: [Option<Socket>; 2],
    frames: Option<&'a PacketSocket>,
    wires: &'a [Option<Wire>],
    waiting: [Vec<Pending>; 3],
    pub(super) size: usize,
    /// Jobs whose SYN the kernel would not send: no route, a route that refuses, a firewall
    /// here (nmap's "unreachable": filtered).
    pub(super) unreachable: Vec<usize>,
}

impl<'a> Batches<'a> {
    pub(super) fn new(
        families: [(Domain, bool); 2],
        size: usize,
        wires: &'a [Option<Wire>],
        frames: Option<&'a PacketSocket>,
    ) -> io::Result<Batches<'a>> {
        let mut socks = [None, None];
        for (k, (domain, wanted)) in families.iter().enumerate() {
            if *wanted {
                let sock = sending_socket(*domain)?;
                let _ = sock.set_send_buffer_size(4 << 20);
                socks[k] = Some(sock);
            }
        }
        let waiting = [Vec::with_capacity(size), Vec::with_capacity(size), Vec::with_capacity(size)];
        Ok(Batches { socks, frames, wires, waiting, size, unreachable: Vec::new() })
    }

    /// Job `job`'s packet to target `host` at `to`, written by `write` (which returns its
    /// length); sent once its batch is full.
    pub(super) fn push(
        &mut self,
        job: usize,
        host: usize,
        to: &SocketAddr,
        write: impl FnOnce(&mut [u8; SYN_MAX]) -> usize,
    ) -> io::Result<()> {
        let mut packet = [0u8; HEADER + SYN_MAX];
        // A frame's header first, the IP packet written after it (or at the start).
        let (k, at, to) = match self.wires.get(host) {
            Some(Some(wire)) => {
                packet[..HEADER].copy_from_slice(wire.header());
                (FRAMES, HEADER, None)
            }
            _ => (usize::from(to.is_ipv6()), 0, Some(rustix::net::addr::SocketAddrArg::as_any(to))),
        };
        let ip: &mut [u8; SYN_MAX] = (&mut packet[at..at + SYN_MAX]).try_into().unwrap_or_else(|_| unreachable!());
        let len = at + write(ip);
        self.waiting[k].push(Pending { packet, len, to, host, job });
        if self.waiting[k].len() >= self.size { self.flush(k) } else { Ok(()) }
    }

    pub(super) fn flush_all(&mut self) -> io::Result<()> {
        (0..self.waiting.len()).try_for_each(|k| self.flush(k))
    }

    /// Send the packets waiting in `k`.
    fn flush(&mut self, k: usize) -> io::Result<()> {
        if k == FRAMES {
            let (Some(sock), wires) = (self.frames, self.wires) else { return Ok(()) };
            // The interface went down or away: as a route that refuses.
            let refused = [libc::ENETDOWN, libc::ENXIO, libc::ENODEV];
            return drain(&mut self.waiting[FRAMES], &mut self.unreachable, &refused, |batch| {
                let frames: Vec<(&[u8], &Wire)> =
                    batch.iter().filter_map(|p| Some((&p.packet[..p.len], wires.get(p.host)?.as_ref()?))).collect();
                sock.send(&frames)
            });
        }
        let Some(sock) = &self.socks[k] else { return Ok(()) };
        let refused = [libc::EHOSTUNREACH, libc::ENETUNREACH, libc::EACCES, libc::EPERM];
        drain(&mut self.waiting[k], &mut self.unreachable, &refused, |batch| {
            let iovs: Vec<[std::io::IoSlice<'_>; 1]> =
                batch.iter().map(|p| [std::io::IoSlice::new(&p.packet[..p.len])]).collect();
            let mut controls: Vec<rustix::net::SendAncillaryBuffer<'_, '_, '_>> =
                batch.iter().map(|_| rustix::net::SendAncillaryBuffer::default()).collect();
            let mut msgs: Vec<rustix::net::MMsgHdr<'_>> = batch
                .iter()
                .zip(&iovs)
                .zip(controls.iter_mut())
                .filter_map(|((p, iov), control)| {
                    Some(rustix::net::MMsgHdr::new_with_addr(p.to.as_ref()?, iov, control))
                })
                .collect();
            rustix::net::sendmmsg(sock, &mut msgs, rustix::net::SendFlags::empty()).map_err(io::Error::from)
        })
    }
}

/// Send `waiting` a batch a call (`send` says how many of its packets went: a batch stops at
/// its first failure), sleeping a little while the socket's buffer is full; a packet the kernel
/// refuses with an error of `refused` (no route, a route that refuses, a firewall here: nmap's
/// "unreachable") has its job put in `unreachable`, and the rest go on.
fn drain(
    waiting: &mut Vec<Pending>,
    unreachable: &mut Vec<usize>,
    refused: &[i32],
    mut send: impl FnMut(&[Pending]) -> io::Result<usize>,
) -> io::Result<()> {
    let mut from = 0;
    while from < waiting.len() {
        match send(&waiting[from..]) {
            Ok(sent) => from += sent,
            // The socket's buffer is full: let the link drain it.
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOBUFS | libc::EAGAIN)) => {
                std::thread::sleep(Duration::from_micros(200));
            }
            Err(e) if e.raw_os_error().is_some_and(|code| refused.contains(&code)) => {
                unreachable.push(waiting[from].job);
                from += 1;
            }
            Err(e) => return Err(e),
        }
    }
    waiting.clear();
    Ok(())
}

/// Packets a raw socket reads in one call.
const READ_BATCH: usize = 64;

/// The bytes of a packet the reader looks at: an IPv4 header at its longest and a TCP header.
const READ_LEN: usize = 128;

/// Packets read off a raw socket a batch at a time (recvmmsg), each cut to its first
/// `READ_LEN` bytes, with its source.
pub(super) struct Received {
    bufs: Box<[[u8; READ_LEN]; READ_BATCH]>,
    lens: [usize; READ_BATCH],
    names: [libc::sockaddr_in6; READ_BATCH],
    count: usize,
}

impl Received {
    #[allow(unsafe_code)]
    pub(super) fn new() -> Received {
        // SAFETY: an all-zero sockaddr_in6 is a valid one (of family 0).
        let name: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
        Received {
            bufs: Box::new([[0; READ_LEN]; READ_BATCH]),
            lens: [0; READ_BATCH],
            names: [name; READ_BATCH],
            count: 0,
        }
    }

    /// Read what `sock` holds, up to a batch, without waiting: how many packets.
    #[allow(unsafe_code)]
    pub(super) fn read(&mut self, sock: &Socket) -> usize {
        let mut iovs: Vec<libc::iovec> =
            self.bufs.iter_mut().map(|b| libc::iovec { iov_base: b.as_mut_ptr().cast(), iov_len: READ_LEN }).collect();
        let mut msgs: Vec<libc::mmsghdr> = iovs
            .iter_mut()
            .zip(self.names.iter_mut())
            .map(|(iov, name)| {
                // SAFETY: all-zero is a valid mmsghdr (null pointers, zero lengths).
                let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
                m.msg_hdr.msg_name = (&raw mut *name).cast();
                m.msg_hdr.msg_namelen = u32::try_from(size_of::<libc::sockaddr_in6>()).unwrap_or(0);
                m.msg_hdr.msg_iov = iov;
                m.msg_hdr.msg_iovlen = 1;
                m
            })
            .collect();
        let count = u32::try_from(msgs.len()).unwrap_or(0);
        // SAFETY: each message points at a buffer and an address of `self` and an iovec of
        // this frame, all of which outlive the call and are as long as the message says.
        let got = unsafe {
            libc::recvmmsg(
                std::os::fd::AsRawFd::as_raw_fd(sock),
                msgs.as_mut_ptr(),
                count,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        self.count = usize::try_from(got).unwrap_or(0);
        for (len, m) in self.lens.iter_mut().zip(&msgs).take(self.count) {
            *len = usize::try_from(m.msg_len).unwrap_or(0).min(READ_LEN);
        }
        self.count
    }

    /// The packets the last read gave: their bytes, and the source of an IPv6 one (an IPv6
    /// raw socket gives no header).
    pub(super) fn packets(&self) -> impl Iterator<Item = (&[u8], Option<IpAddr>)> {
        (0..self.count).map(|i| {
            let name = &self.names[i];
            let from = (i32::from(name.sin6_family) == libc::AF_INET6)
                .then(|| IpAddr::V6(Ipv6Addr::from(name.sin6_addr.s6_addr)));
            (&self.bufs[i][..self.lens[i]], from)
        })
    }
}
