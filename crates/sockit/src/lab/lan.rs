//! The udp slide's LAN: three more hosts (B, C, D), each a network namespace of its own held by
//! a thread, joined to the lab's host (A) by veth pairs on one bridge, `lan0`, 198.18.0.0/24
//! (a range set aside for tests). Made with netlink as `ip link add` makes it; IPv6 kept off
//! its interfaces so only the slide's frames cross it.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Duration;

use netlink_packet_route::link::{InfoBridge, InfoData, InfoKind, InfoVeth, LinkAttribute, LinkMessage};

use super::netlink::{add_address, add_link, index, set_up};

/// The LAN's network, and A's address on it.
pub(super) const PREFIX: u8 = 24;
pub(super) const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub(super) const BROADCAST: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 255);

/// New interfaces of this thread's network get no IPv6 (no router or neighbour solicitations
/// crossing the LAN beside the slide's frames).
fn no_ipv6_on_new_links() {
    let _ = std::fs::write("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
}

/// What a host's thread is asked to do.
enum Ask {
    /// Bring up lo and eth0 with this address.
    Configure(Ipv4Addr),
    /// Bind a UDP socket to 0.0.0.0:PORT.
    Bind(u16),
    /// Receive one datagram on the bound socket, waiting at most this long.
    Recv(Duration),
}

/// What it answers.
pub(super) enum Told {
    /// Its network, to put the veth's far end in.
    Network(OwnedFd),
    Done(Result<String, String>),
}

/// A host of the LAN: a thread in a network of its own.
pub(super) struct Host {
    pub(super) name: &'static str,
    pub(super) addr: Ipv4Addr,
    /// Its bridge port in A's network.
    pub(super) port: String,
    ask: Sender<Ask>,
    told: Receiver<Told>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host").field("name", &self.name).field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl Host {
    fn ask(&self, a: Ask) -> Result<String, String> {
        self.ask.send(a).map_err(|_| format!("host {} is gone", self.name))?;
        match self.told.recv_timeout(Duration::from_secs(5)) {
            Ok(Told::Done(r)) => r,
            _ => Err(format!("host {} did not answer", self.name)),
        }
    }

    /// `s = socket.socket(AF_INET, SOCK_DGRAM); s.bind(('', port))` on the host: the calls.
    pub(super) fn bind(&self, port: u16) -> Result<String, String> {
        self.ask(Ask::Bind(port))
    }

    /// `s.recvfrom(1024)` on the host: the call and what it gave, or that nothing came.
    pub(super) fn recv(&self, wait: Duration) -> Result<String, String> {
        self.ask(Ask::Recv(wait))
    }
}

/// A host's thread: a network of its own, then what it is asked.
fn host_thread(ask: &Receiver<Ask>, told: &Sender<Told>) {
    if let Err(e) = super::sandbox::own_network_for_this_thread() {
        let _ = told.send(Told::Done(Err(format!("a network for the host: {e}"))));
        return;
    }
    no_ipv6_on_new_links();
    match std::fs::File::open("/proc/thread-self/ns/net") {
        Ok(f) => {
            let _ = told.send(Told::Network(f.into()));
        }
        Err(e) => {
            let _ = told.send(Told::Done(Err(format!("the host's network: {e}"))));
            return;
        }
    }
    let mut sock: Option<UdpSocket> = None;
    while let Ok(a) = ask.recv() {
        let r = match a {
            Ask::Configure(addr) => (|| {
                set_up("lo", None)?;
                set_up("eth0", None)?;
                add_address("eth0", addr, PREFIX, BROADCAST)
            })()
            .map(|()| String::new())
            .map_err(|e| format!("eth0 {addr}/{PREFIX}: {e}")),
            Ask::Bind(port) => match UdpSocket::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port))) {
                Ok(s) => {
                    let fd = s.as_raw_fd();
                    sock = Some(s);
                    Ok(format!(
                        "socket(AF_INET, SOCK_DGRAM, IPPROTO_IP) = {fd}; bind({fd}, {{AF_INET, 0.0.0.0:{port}}}, 16) = 0"
                    ))
                }
                Err(e) => Err(e.to_string()),
            },
            Ask::Recv(wait) => match &sock {
                None => Err("no socket".into()),
                Some(s) => {
                    let _ = s.set_read_timeout(Some(wait));
                    let mut buf = [0u8; 1024];
                    let fd = s.as_raw_fd();
                    Ok(match s.recv_from(&mut buf) {
                        Ok((n, from)) => format!(
                            "recvfrom({fd}, 1024, 0, {{AF_INET, {from}}}, [16]) = {n}  \"{}\"",
                            sockit_core::text::escape(&buf[..n])
                        ),
                        Err(e) => format!("recvfrom({fd}, 1024, 0, ...) = {}", super::errno(&e)),
                    })
                }
            },
        };
        if told.send(Told::Done(r)).is_err() {
            break;
        }
    }
}

/// Build the LAN: the bridge with A's address, and `hosts` (name, address) each behind a
/// veth pair. The hosts live while the returned values do.
pub(super) fn build(hosts: &[(&'static str, Ipv4Addr)]) -> Result<Vec<Host>, String> {
    no_ipv6_on_new_links();
    let bridge = super::capture::BRIDGE;
    // No multicast snooping: the bridge would join the all-snoopers group and report it now
    // and then (IGMP) beside the slide's frames.
    let plain = InfoData::Bridge(vec![InfoBridge::MulticastSnooping(false)]);
    add_link(bridge, InfoKind::Bridge, Some(plain)).map_err(|e| format!("the bridge {bridge}: {e}"))?;
    let lan = index(bridge).map_err(|e| e.to_string())?;
    let mut made = Vec::new();
    for &(name, addr) in hosts {
        let (ask_tx, ask_rx) = channel();
        let (told_tx, told_rx) = channel();
        std::thread::Builder::new()
            .name(format!("lab-host-{name}"))
            .spawn(move || host_thread(&ask_rx, &told_tx))
            .map_err(|e| e.to_string())?;
        let netns = match told_rx.recv_timeout(Duration::from_secs(5)) {
            Ok(Told::Network(fd)) => fd,
            Ok(Told::Done(Err(e))) => return Err(e),
            _ => return Err(format!("host {name} did not start")),
        };
        let port = format!("veth-{}", name.to_ascii_lowercase());
        let mut peer = LinkMessage::default();
        peer.attributes.push(LinkAttribute::IfName("eth0".into()));
        peer.attributes.push(LinkAttribute::NetNsFd(netns.as_raw_fd()));
        add_link(&port, InfoKind::Veth, Some(InfoData::Veth(InfoVeth::Peer(peer))))
            .map_err(|e| format!("the veth pair {port}: {e}"))?;
        drop(netns);
        set_up(&port, Some(lan)).map_err(|e| format!("{port} up on {bridge}: {e}"))?;
        let host = Host { name, addr, port, ask: ask_tx, told: told_rx };
        host.ask(Ask::Configure(addr))?;
        made.push(host);
    }
    set_up(bridge, None).map_err(|e| format!("{bridge} up: {e}"))?;
    add_address(bridge, A, PREFIX, BROADCAST).map_err(|e| format!("{bridge} {A}/{PREFIX}: {e}"))?;
    Ok(made)
}

/// The LAN's part of the udp slide: B and C listen on the lecture's port, D does not; A
/// broadcasts (all three get the frame, two a datagram), then sends to B alone (ARP first).
pub(super) fn slide(lab: &mut super::Lab, port: u16) -> Result<(), super::LabError> {
    let fail = |e: String| super::LabError::Call { call: "the LAN".into(), error: io::Error::other(e) };
    let hosts = build(&[
        ("B", Ipv4Addr::new(198, 18, 0, 2)),
        ("C", Ipv4Addr::new(198, 18, 0, 3)),
        ("D", Ipv4Addr::new(198, 18, 0, 4)),
    ])
    .map_err(fail)?;
    lab.initiator("A", SocketAddr::new(IpAddr::V4(A), 0));
    for h in &hosts {
        lab.party(h.name, SocketAddr::new(IpAddr::V4(h.addr), 0));
        lab.report.links.push(sockit_core::lab::Link { iface: h.port.clone(), host: h.name.into() });
    }
    let wiring: Vec<String> =
        hosts.iter().map(|h| format!("{} <-> {}'s eth0 {}/{PREFIX}", h.port, h.name, h.addr)).collect();
    lab.record(
        "A",
        "# a LAN: this host (A) and B, C, D on one switch, 198.18.0.0/24",
        format!("bridge {} {A}/{PREFIX}; {}", super::capture::BRIDGE, wiring.join("; ")),
        &[],
        Some("each host a network namespace of its own, joined by veth pairs to a bridge: a switch in software"),
    );
    for h in &hosts[..2] {
        let call = h.bind(port).map_err(fail)?;
        lab.record(
            h.name,
            format!("s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('', {port}))"),
            call,
            &[],
            None,
        );
    }
    lab.record(
        "D",
        "# nothing bound to the port",
        "(no call)",
        &[],
        Some("D runs no receiver: what comes to the port finds no socket"),
    );
    let c = UdpSocket::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))).map_err(super::failed("bind"))?;
    c.set_broadcast(true).map_err(super::failed("setsockopt"))?;
    let cfd = c.as_raw_fd();
    let hello = b"Hello there";
    let send = |lab: &mut super::Lab, to: Ipv4Addr, note: &str| {
        let r = c.send_to(hello, SocketAddr::from((to, port)));
        lab.record(
            "A",
            format!("c.sendto(b'Hello there', ('{to}', {port}))"),
            format!(
                "sendto({cfd}, \"Hello there\", 11, 0, {{AF_INET, {to}:{port}}}, 16) = {}",
                r.as_ref().map_or_else(super::errno, ToString::to_string)
            ),
            &[],
            Some(note),
        );
    };
    send(
        lab,
        BROADCAST,
        "the LAN's broadcast address (SO_BROADCAST is set): the switch floods the frame to every host",
    );
    let wait = Duration::from_secs(1);
    for h in &hosts[..2] {
        let call = h.recv(wait).map_err(fail)?;
        lab.record(h.name, "data, addr = s.recvfrom(1024)", call, &[], Some("bound to the port: the broadcast is its"));
    }
    lab.record(
        "D",
        "# D's kernel",
        "(no socket on the port: the datagram is dropped)",
        &[],
        Some("the frame reached D too, but no socket holds the port, and a broadcast gets no ICMP error back"),
    );
    send(
        lab,
        hosts[0].addr,
        "to B alone: A asks first who has 198.18.0.2 (ARP, to everyone), B answers, then the datagram goes to B only",
    );
    let call = hosts[0].recv(wait).map_err(fail)?;
    lab.record("B", "data, addr = s.recvfrom(1024)", call, &[], None);
    Ok(())
}
