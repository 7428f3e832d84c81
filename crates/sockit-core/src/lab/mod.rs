//! `sockit lab`: a lecture slide's socket calls beside the packets they caused. The model of
//! a run (steps, each a Python line, the call sockit made, the frames it caused and the
//! sockets' kernel state after it), the frames read (frame.rs) and written as pcapng
//! (pcapng.rs), and the words a ladder diagram labels its arrows with.

pub mod dns;
pub mod frame;
pub mod pcapng;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use serde::Serialize;

use crate::tcp_info::TcpInfo;
use frame::{ACK, Frame, SYN, Tcp, What};

/// The slides the lab plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Slide {
    /// socket, bind, listen, connect, accept, send, recv, shutdown, close; a refused connect.
    Tcp,
    /// A receiver on 40000, a datagram, a broadcast without and with SO_BROADCAST, a port
    /// nobody holds.
    Udp,
    /// A server with several clients, select() waking on whichever is ready.
    Select,
    /// gethostbyname and gethostbyaddr asking the lab's own resolver.
    Names,
    /// The user's own program.
    Run,
}

impl Slide {
    pub fn name(self) -> &'static str {
        match self {
            Slide::Tcp => "tcp",
            Slide::Udp => "udp",
            Slide::Select => "select",
            Slide::Names => "names",
            Slide::Run => "run",
        }
    }
}

/// Someone in the diagram: a name for a socket address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Party {
    pub name: String,
    pub addr: SocketAddr,
}

/// A socket's kernel state after a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SocketState {
    /// Whose socket: `server`, `client`, `conn` ...
    pub socket: String,
    pub tcp: TcpInfo,
    /// Bytes received and not yet read by the program (FIONREAD); none on a listening socket.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recv_queue: Option<u64>,
}

/// One call and what it caused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// Who made the call: `server`, `client`, `sender`, ...
    pub who: String,
    /// The lecture's Python line.
    pub python: String,
    /// The system call sockit made, with its result: `connect(4, 127.0.0.1:40000) = 0`.
    pub call: String,
    pub frames: Vec<Frame>,
    pub states: Vec<SocketState>,
    /// What the step shows, in a sentence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A bridge port of the lab's LAN, and the host behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    pub iface: String,
    pub host: String,
}

/// A whole run of the lab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabReport {
    pub slide: Slide,
    /// Whether the frames were captured (the lab had a network namespace of its own).
    pub captured: bool,
    /// Why not, when it had not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why_not: Option<String>,
    pub parties: Vec<Party>,
    /// The LAN's bridge ports (the udp slide), each to one host.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    pub steps: Vec<Step>,
    /// `--run`: the program's exit code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
}

impl LabReport {
    /// The name of the party at `ip:port`, or the address itself.
    pub fn name_of(&self, ip: IpAddr, port: Option<u16>) -> String {
        // A party bound to the wildcard address is every address's, at its port (one bound to
        // the address itself comes first); one named with port 0 is every port's, at its
        // address.
        let at_port = |p: &&Party| port.is_none_or(|port| p.addr.port() == port || p.addr.port() == 0);
        let found = (self.parties.iter().filter(at_port).find(|p| p.addr.ip() == ip))
            .or_else(|| self.parties.iter().filter(at_port).find(|p| p.addr.ip().is_unspecified()));
        match (found, port) {
            (Some(p), _) => p.name.clone(),
            (None, Some(port)) => SocketAddr::new(ip, port).to_string(),
            (None, None) => ip.to_string(),
        }
    }
}

impl LabReport {
    /// The names of a frame's two ends. A frame seen on a LAN port went to (or came from) the
    /// host behind it, whatever address it was sent to (a broadcast, an ARP question).
    pub fn named_ends(&self, f: &Frame) -> (String, String) {
        let Some(((sip, sport), (dip, dport))) = ends(f) else { return ("?".into(), "?".into()) };
        let (from, to) = (self.name_of(sip, sport), self.name_of(dip, dport));
        match self.links.iter().find(|l| f.iface.as_deref() == Some(l.iface.as_str())) {
            Some(l) if from != l.host => (from, l.host.clone()),
            _ => (from, to),
        }
    }
}

/// Sequence numbers relative to each direction's first (as Wireshark shows them).
#[derive(Debug, Default)]
pub struct Relative {
    isn: HashMap<(IpAddr, u16, IpAddr, u16), u32>,
}

impl Relative {
    /// `t`'s sequence and acknowledgement numbers relative to its connection's ISNs.
    pub fn of(&mut self, t: &Tcp) -> (u32, u32) {
        let dir = (t.src, t.sport, t.dst, t.dport);
        if t.flags & SYN != 0 {
            self.isn.insert(dir, t.seq);
        }
        let mine = *self.isn.entry(dir).or_insert(t.seq);
        let theirs = self.isn.get(&(t.dst, t.dport, t.src, t.sport)).copied();
        let ack = match theirs {
            Some(i) if t.flags & ACK != 0 => t.ack.wrapping_sub(i),
            _ => t.ack,
        };
        (t.seq.wrapping_sub(mine), ack)
    }
}

/// The words on a frame's arrow: `SYN seq=0 win=65495 mss=65495`, `PSH,ACK seq=1 ack=1
/// len=13`, `UDP len=11 "Hello there"`, `ICMP port unreachable`.
pub fn label(f: &Frame, rel: &mut Relative) -> String {
    match &f.what {
        What::Tcp(t) => {
            let (seq, ack) = rel.of(t);
            let mut s = format!("{} seq={seq}", frame::flag_names(t.flags));
            if t.flags & ACK != 0 {
                s.push_str(&format!(" ack={ack}"));
            }
            s.push_str(&format!(" win={}", t.win));
            if t.len > 0 {
                s.push_str(&format!(" len={}", t.len));
            }
            if let Some(m) = t.mss {
                s.push_str(&format!(" mss={m}"));
            }
            s
        }
        What::Udp(u) if (u.sport == 53 || u.dport == 53) && u.head.len() == u.len => {
            dns::summary(&u.head).unwrap_or_else(|| format!("UDP len={} (not DNS)", u.len))
        }
        What::Udp(u) => {
            let mut s = format!("UDP len={}", u.len);
            if !u.head.is_empty() {
                let shown = &u.head[..u.head.len().min(64)];
                let more = if shown.len() < u.len { "..." } else { "" };
                s.push_str(&format!(" \"{}{more}\"", crate::text::escape(shown)));
            }
            s
        }
        What::Icmp(i) => format!("{} {}", if i.v6 { "ICMPv6" } else { "ICMP" }, icmp_name(i.v6, i.kind, i.code)),
        What::Arp(a) if a.op == 1 => format!("ARP who-has {} tell {}", a.target, a.sender),
        What::Arp(a) if a.op == 2 => format!("ARP {} is-at {}", a.sender, a.sender_mac),
        What::Arp(a) => format!("ARP op {} from {}", a.op, a.sender),
        What::Igmp(g) => match g.kind {
            0x11 => "IGMP membership query".into(),
            0x12 | 0x16 | 0x22 => "IGMP membership report (joins multicast groups)".into(),
            0x17 => "IGMP leave group".into(),
            k => format!("IGMP type 0x{k:02x}"),
        },
        What::Other { ethertype, ip_proto, note } => match ip_proto {
            Some(p) => format!("IP protocol {p} ({note})"),
            None => format!("ethertype 0x{ethertype:04x} ({note})"),
        },
    }
}

fn icmp_name(v6: bool, kind: u8, code: u8) -> String {
    match (v6, kind, code) {
        (false, 3, 3) | (true, 1, 4) => "port unreachable".into(),
        (false, 3, 1) | (true, 1, 3) => "host unreachable".into(),
        (false, 3, 0) | (true, 1, 0) => "network unreachable".into(),
        (false, 3, 13) | (true, 1, 1) => "administratively prohibited".into(),
        (false, 8, _) | (true, 128, _) => "echo request".into(),
        (false, 0, _) | (true, 129, _) => "echo reply".into(),
        _ => format!("type {kind} code {code}"),
    }
}

/// One end of a frame: an address, with a port where the protocol has one.
pub type End = (IpAddr, Option<u16>);

/// The frame's two ends: (source, destination).
pub fn ends(f: &Frame) -> Option<(End, End)> {
    match &f.what {
        What::Tcp(t) => Some(((t.src, Some(t.sport)), (t.dst, Some(t.dport)))),
        What::Udp(u) => Some(((u.src, Some(u.sport)), (u.dst, Some(u.dport)))),
        // An error about a datagram goes from where it was sent to back where it came from.
        What::Icmp(i) => Some(((i.src, i.about.map(|a| a.1)), (i.dst, i.about.map(|a| a.0)))),
        What::Arp(a) => Some(((IpAddr::V4(a.sender), None), (IpAddr::V4(a.target), None))),
        What::Igmp(g) => Some(((IpAddr::V4(g.src), None), (IpAddr::V4(g.dst), None))),
        What::Other { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn seg(sport: u16, dport: u16, seq: u32, ack: u32, flags: u8, len: usize) -> Frame {
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let t = Tcp { src: ip, dst: ip, sport, dport, seq, ack, flags, win: 100, len, mss: None, wscale: None };
        Frame { t_us: 0, wire_len: 66, iface: None, what: What::Tcp(t) }
    }

    #[test]
    fn a_handshake_is_labelled_relative_to_each_sides_first_number() {
        let mut rel = Relative::default();
        let frames = [
            seg(5000, 40000, 1000, 0, SYN, 0),
            seg(40000, 5000, 9000, 1001, SYN | ACK, 0),
            seg(5000, 40000, 1001, 9001, ACK, 0),
            seg(5000, 40000, 1001, 9001, frame::PSH | ACK, 13),
        ];
        let labels: Vec<String> = frames.iter().map(|f| label(f, &mut rel)).collect();
        assert_eq!(
            labels,
            [
                "SYN seq=0 win=100",
                "SYN,ACK seq=0 ack=1 win=100",
                "ACK seq=1 ack=1 win=100",
                "PSH,ACK seq=1 ack=1 win=100 len=13"
            ]
        );
    }
}
