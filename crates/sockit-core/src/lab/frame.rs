//! A captured Ethernet frame read as far as the lab shows it: IPv4 or IPv6, then TCP, UDP or
//! ICMP, with the fields a ladder diagram and tcpdump print. Any bytes are taken: what is too
//! short or unknown is said so, never a panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

/// One frame as the lab shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Frame {
    /// Microseconds since the lab started.
    pub t_us: u64,
    /// The frame's length on the wire (bytes, with its link header).
    pub wire_len: usize,
    /// The interface it was seen on, when not the loopback.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iface: Option<String>,
    #[serde(flatten)]
    pub what: What,
}

/// What a frame carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "proto", rename_all = "lowercase")]
pub enum What {
    Tcp(Tcp),
    Udp(Udp),
    Icmp(Icmp),
    Arp(Arp),
    Igmp(Igmp),
    /// Anything else, or a packet cut short: the ethertype (and the IP protocol when read).
    Other {
        ethertype: u16,
        ip_proto: Option<u8>,
        note: &'static str,
    },
}

/// A TCP segment's header fields (sequence numbers as on the wire).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tcp {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    /// The flag bits (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20, ECE, CWR).
    pub flags: u8,
    pub win: u16,
    /// Payload bytes.
    pub len: usize,
    /// The MSS option, when the segment carries one (SYNs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mss: Option<u16>,
    /// The window scale option, when carried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wscale: Option<u8>,
}

/// A UDP datagram's header fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Udp {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    /// Payload bytes.
    pub len: usize,
    /// The payload's first bytes (at most 512: a DNS message whole), for the ladder's label.
    #[serde(skip)]
    pub head: Vec<u8>,
}

/// An ICMP or ICMPv6 message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Icmp {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub v6: bool,
    #[serde(rename = "type")]
    pub kind: u8,
    pub code: u8,
    /// For an error about a TCP or UDP packet: that packet's source and destination ports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub about: Option<(u16, u16)>,
}

/// An IGMP message: a host telling its multicast groups (it sends one as an interface
/// comes up).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Igmp {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    #[serde(rename = "type")]
    pub kind: u8,
}

/// An ARP request or reply (Ethernet and IPv4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Arp {
    /// 1 a request, 2 a reply.
    pub op: u16,
    pub sender: Ipv4Addr,
    /// The sender's MAC address, as `5a:0e:..`.
    pub sender_mac: String,
    pub target: Ipv4Addr,
}

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;

/// A frame's bytes (Ethernet II, as AF_PACKET gives them on loopback and veth) read; `bytes`
/// may be its first part only (a snap length), `wire_len` is its whole length.
pub fn parse(t_us: u64, bytes: &[u8], wire_len: usize) -> Frame {
    Frame { t_us, wire_len, iface: None, what: what(bytes) }
}

/// The big-endian u16 at `at`, if `b` holds it.
pub(super) fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn what(b: &[u8]) -> What {
    let Some(ethertype) = be16(b, 12) else {
        return What::Other { ethertype: 0, ip_proto: None, note: "shorter than an Ethernet header" };
    };
    let ip = &b[14..];
    let other = |ip_proto, note| What::Other { ethertype, ip_proto, note };
    // `claimed`: the transport's length as the IP header gives it (the bytes may be cut short).
    let (src, dst, proto, body, claimed) = match ethertype {
        0x0800 => {
            let Some(&vihl) = ip.first() else { return other(None, "no IPv4 header") };
            let ihl = usize::from(vihl & 0x0f) * 4;
            let total = be16(ip, 2).map_or(0, usize::from);
            if vihl >> 4 != 4 || ihl < 20 || ip.len() < ihl || total < ihl {
                return other(None, "a broken IPv4 header");
            }
            let (Some(s), Some(d)) = (be32(ip, 12), be32(ip, 16)) else { return other(None, "a broken IPv4 header") };
            // A fragment after the first carries no transport header.
            if be16(ip, 6).is_some_and(|f| f & 0x1fff != 0) {
                return other(Some(ip[9]), "an IPv4 fragment");
            }
            let end = total.min(ip.len());
            (IpAddr::V4(Ipv4Addr::from(s)), IpAddr::V4(Ipv4Addr::from(d)), ip[9], &ip[ihl..end], total - ihl)
        }
        0x86dd => {
            if ip.len() < 40 || ip[0] >> 4 != 6 {
                return other(None, "a broken IPv6 header");
            }
            let plen = be16(ip, 4).map_or(0, usize::from);
            let addr = |at: usize| {
                let mut a = [0u8; 16];
                a.copy_from_slice(&ip[at..at + 16]);
                IpAddr::V6(Ipv6Addr::from(a))
            };
            (addr(8), addr(24), ip[6], &ip[40..(40 + plen).min(ip.len())], plen)
        }
        0x0806 => return arp(ip).map_or_else(|| other(None, "a broken ARP message"), What::Arp),
        _ => return other(None, "not IP"),
    };
    match proto {
        6 => tcp(src, dst, body, claimed).map_or_else(|| other(Some(6), "a TCP header cut short"), What::Tcp),
        17 => {
            let (Some(sport), Some(dport), Some(ulen)) = (be16(body, 0), be16(body, 2), be16(body, 4)) else {
                return other(Some(17), "a UDP header cut short");
            };
            let len = usize::from(ulen).saturating_sub(8).min(claimed.saturating_sub(8));
            let head = body.get(8..).map_or(&[][..], |b| &b[..len.min(512).min(b.len())]).to_vec();
            What::Udp(Udp { src, dst, sport, dport, len, head })
        }
        2 => match (src, dst, body.first()) {
            (IpAddr::V4(src), IpAddr::V4(dst), Some(&kind)) => What::Igmp(Igmp { src, dst, kind }),
            _ => other(Some(2), "an IGMP message cut short"),
        },
        1 | 58 if body.len() >= 2 => {
            let v6 = proto == 58;
            What::Icmp(Icmp { src, dst, v6, kind: body[0], code: body[1], about: quoted_ports(v6, body) })
        }
        p => other(Some(p), "not TCP, UDP or ICMP"),
    }
}

/// ARP for IPv4 over Ethernet: operation, sender, target.
fn arp(b: &[u8]) -> Option<Arp> {
    if be16(b, 0)? != 1 || be16(b, 2)? != 0x0800 || b.get(4..6)? != [6, 4] {
        return None;
    }
    let ip = |at: usize| Some(Ipv4Addr::from(be32(b, at)?));
    let mac = b.get(8..14)?.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(":");
    Some(Arp { op: be16(b, 6)?, sender: ip(14)?, sender_mac: mac, target: ip(24)? })
}

/// An ICMP error's quoted packet's ports (it carries the offending header and 8 bytes more).
fn quoted_ports(v6: bool, body: &[u8]) -> Option<(u16, u16)> {
    let error = if v6 { body[0] < 128 } else { matches!(body[0], 3 | 4 | 5 | 11 | 12) };
    if !error {
        return None;
    }
    let inner = body.get(8..)?;
    let (proto, at) = if v6 { (*inner.get(6)?, 40) } else { (*inner.get(9)?, usize::from(inner.first()? & 0x0f) * 4) };
    matches!(proto, 6 | 17).then_some(())?;
    Some((be16(inner, at)?, be16(inner, at + 2)?))
}

fn tcp(src: IpAddr, dst: IpAddr, b: &[u8], claimed: usize) -> Option<Tcp> {
    let off = usize::from(*b.get(12)? >> 4) * 4;
    if off < 20 || b.len() < off {
        return None;
    }
    let (mut mss, mut wscale) = (None, None);
    let mut opts = &b[20..off];
    while let Some(&kind) = opts.first() {
        match kind {
            0 => break,
            1 => opts = &opts[1..],
            _ => {
                let len = usize::from(*opts.get(1)?);
                if len < 2 || opts.len() < len {
                    break;
                }
                match (kind, len) {
                    (2, 4) => mss = be16(opts, 2),
                    (3, 3) => wscale = Some(opts[2]),
                    _ => {}
                }
                opts = &opts[len..];
            }
        }
    }
    Some(Tcp {
        src,
        dst,
        sport: be16(b, 0)?,
        dport: be16(b, 2)?,
        seq: be32(b, 4)?,
        ack: be32(b, 8)?,
        flags: b[13],
        win: be16(b, 14)?,
        len: claimed.saturating_sub(off),
        mss,
        wscale,
    })
}

/// TCP flags as tcpdump writes them: `S`, `S.`, `.`, `P.`, `F.`, `R.`, ...
pub fn tcpdump_flags(flags: u8) -> String {
    let mut s = String::new();
    for (bit, c) in [(FIN, 'F'), (SYN, 'S'), (RST, 'R'), (PSH, 'P'), (0x20, 'U'), (0x40, 'E'), (0x80, 'W')] {
        if flags & bit != 0 {
            s.push(c);
        }
    }
    if flags & ACK != 0 {
        s.push('.');
    }
    if s.is_empty() { "none".into() } else { s }
}

/// TCP flags as a lecture names them: `SYN`, `SYN,ACK`, `ACK`, `PSH,ACK`, `FIN,ACK`, `RST,ACK`.
pub fn flag_names(flags: u8) -> String {
    let names = [(SYN, "SYN"), (RST, "RST"), (FIN, "FIN"), (PSH, "PSH"), (0x20, "URG"), (ACK, "ACK")];
    let v: Vec<&str> = names.iter().filter(|(b, _)| flags & b != 0).map(|&(_, n)| n).collect();
    if v.is_empty() { "none".into() } else { v.join(",") }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame of loopback's shape: zero MACs, IPv4, TCP with options.
    fn syn() -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        let tcp_len = 20 + 8;
        let total = u16::try_from(20 + tcp_len).unwrap_or(0);
        f.extend_from_slice(&[0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 6, 0, 0, 127, 0, 0, 1, 127, 0, 0, 2]);
        f[16..18].copy_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&[0xa0, 0x00, 0x9c, 0x40]); // 40960 -> 40000
        f.extend_from_slice(&7u32.to_be_bytes());
        f.extend_from_slice(&0u32.to_be_bytes());
        f.extend_from_slice(&[0x70, SYN, 0xff, 0xd7, 0, 0, 0, 0]);
        f.extend_from_slice(&[2, 4, 0xff, 0xd7, 1, 3, 3, 7]);
        f
    }

    #[test]
    fn a_syn_is_read_field_for_field() {
        let f = parse(5, &syn(), 62);
        assert_eq!(f.wire_len, 62);
        let What::Tcp(t) = f.what else { panic!("{f:?}") };
        assert_eq!((t.sport, t.dport, t.seq, t.ack, t.flags, t.win, t.len), (40960, 40000, 7, 0, SYN, 65495, 0));
        assert_eq!((t.mss, t.wscale), (Some(65495), Some(7)));
        assert_eq!(t.dst, IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
    }

    #[test]
    fn every_cut_of_a_frame_is_read_without_a_panic() {
        let f = syn();
        for n in 0..f.len() {
            let _ = parse(0, &f[..n], f.len());
        }
        assert!(matches!(parse(0, &f[..40], f.len()).what, What::Other { ip_proto: Some(6), .. }));
    }

    #[test]
    fn an_arp_request_is_read() {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1]);
        f.extend_from_slice(&[198, 18, 0, 1, 0, 0, 0, 0, 0, 0, 198, 18, 0, 2]);
        let What::Arp(a) = parse(0, &f, 42).what else { panic!("not ARP") };
        assert_eq!((a.op, a.sender, a.target), (1, Ipv4Addr::new(198, 18, 0, 1), Ipv4Addr::new(198, 18, 0, 2)));
        assert_eq!(a.sender_mac, "02:00:00:00:00:01");
        for n in 0..f.len() {
            let _ = parse(0, &f[..n], 42);
        }
    }

    #[test]
    fn flags_are_written_as_tcpdump_and_the_lecture_write_them() {
        assert_eq!(tcpdump_flags(SYN | ACK), "S.");
        assert_eq!(tcpdump_flags(PSH | ACK), "P.");
        assert_eq!(tcpdump_flags(RST | ACK), "R.");
        assert_eq!(tcpdump_flags(ACK), ".");
        assert_eq!(flag_names(SYN | ACK), "SYN,ACK");
        assert_eq!(flag_names(FIN | ACK), "FIN,ACK");
    }
}
