//! The host's interfaces, their addresses and the default routes, read from the kernel.
//!
//! On Linux: one netlink socket and three dumps (links, addresses, routes), the way `ip`
//! reads them, and nothing else: no files under /sys, no DHCP leases. Where a packet to an
//! address goes (`ip route get`, an interface's Ethernet address, `ip neigh`): `Paths`, for
//! what sends Ethernet frames of its own. Elsewhere: the netdev crate.

use std::net::IpAddr;

/// One interface, with its addresses in the kernel's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// Administratively up (IFF_UP).
    pub up: bool,
    pub loopback: bool,
    /// The operational state, as `ip` and /sys/class/net/*/operstate name it.
    pub state: &'static str,
    pub mac: Option<[u8; 6]>,
    pub mtu: Option<u32>,
    pub addrs: Vec<IfAddr>,
}

/// An address on an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfAddr {
    pub addr: IpAddr,
    pub prefix: u8,
    /// The other end of a point-to-point link (`ip addr`'s `peer`).
    pub peer: Option<IpAddr>,
}

/// A default route of the main table: its gateway and the interface it leaves by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gateway {
    pub address: IpAddr,
    pub index: u32,
}

/// What the kernel says about the host's networking.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// In index order.
    pub links: Vec<Link>,
    /// In the kernel's order (IPv4 and IPv6 as the dump gives them).
    pub gateways: Vec<Gateway>,
}

impl Snapshot {
    /// The interface with this index.
    pub fn by_index(&self, index: u32) -> Option<&Link> {
        self.links.iter().find(|l| l.index == index)
    }
}

/// Interfaces and their addresses (no routes). Empty if the kernel cannot be asked.
pub fn links() -> Vec<Link> {
    imp::read(false).links
}

/// Interfaces, addresses and default routes. Empty if the kernel cannot be asked.
pub fn snapshot() -> Snapshot {
    imp::read(true)
}

#[cfg(target_os = "linux")]
pub(crate) use imp::Paths;

/// Where the kernel sends a packet to an address: the interface it leaves by and the next
/// hop on that interface (a gateway, or the address itself on its own link).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Route {
    pub index: u32,
    pub next: IpAddr,
}

#[cfg(target_os = "linux")]
mod imp {
    use std::net::IpAddr;
    use std::time::Duration;

    use netlink_packet_core::{NLM_F_DUMP, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload};
    use netlink_packet_route::address::{AddressAttribute, AddressMessage};
    use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkLayerType, LinkMessage, State};
    use netlink_packet_route::neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourMessage, NeighbourState};
    use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteType};
    use netlink_packet_route::{AddressFamily, RouteNetlinkMessage as Rt};
    use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

    use super::{Gateway, IfAddr, Link, Route, Snapshot};

    /// The kernel asked where packets go, one question at a time on one netlink socket.
    pub(crate) struct Paths {
        sock: Socket,
        seq: u32,
    }

    impl Paths {
        /// None when the kernel cannot be asked.
        pub fn open() -> Option<Paths> {
            Some(Paths { sock: open()?, seq: 0 })
        }

        fn ask(&mut self, request: Rt, whole: bool, each: impl FnMut(Rt)) {
            self.seq += 1;
            exchange(&mut self.sock, self.seq, request, whole, each);
        }

        /// The route the kernel takes to `to` (`ip route get`): None when it is no unicast
        /// route by an interface (a local address, a blackhole, an unreachable network) or
        /// its next hop is of the other family.
        pub fn route(&mut self, to: IpAddr) -> Option<Route> {
            let mut m = RouteMessage::default();
            m.header.address_family = if to.is_ipv4() { AddressFamily::Inet } else { AddressFamily::Inet6 };
            m.header.destination_prefix_length = if to.is_ipv4() { 32 } else { 128 };
            m.attributes.push(RouteAttribute::Destination(RouteAddress::from(to)));
            let mut found = None;
            self.ask(Rt::GetRoute(m), false, |reply| {
                if let Rt::NewRoute(r) = reply
                    && r.header.kind == RouteType::Unicast
                {
                    let (mut index, mut next) = (None, Some(to));
                    for attr in &r.attributes {
                        match attr {
                            RouteAttribute::Oif(i) => index = Some(*i),
                            RouteAttribute::Gateway(RouteAddress::Inet(v4)) => next = Some(IpAddr::V4(*v4)),
                            RouteAttribute::Gateway(RouteAddress::Inet6(v6)) => next = Some(IpAddr::V6(*v6)),
                            RouteAttribute::Gateway(_) | RouteAttribute::Via(_) => next = None,
                            _ => {}
                        }
                    }
                    found = index.zip(next).map(|(index, next)| Route { index, next });
                }
            });
            found.filter(|r| r.next.is_ipv4() == to.is_ipv4())
        }

        /// The Ethernet address of interface `index`, if it is an Ethernet interface and up.
        pub fn ethernet(&mut self, index: u32) -> Option<[u8; 6]> {
            let mut m = LinkMessage::default();
            m.header.index = index;
            let mut found = None;
            self.ask(Rt::GetLink(m), false, |reply| {
                if let Rt::NewLink(l) = reply
                    && l.header.link_layer_type == LinkLayerType::Ether
                    && l.header.flags.contains(LinkFlags::Up)
                {
                    found = l.attributes.iter().find_map(|a| match a {
                        LinkAttribute::Address(mac) => <[u8; 6]>::try_from(mac.as_slice()).ok(),
                        _ => None,
                    });
                }
            });
            found
        }

        /// The neighbours whose link-layer address the kernel knows and would send to (`ip
        /// neigh`: reachable, stale, delay, probe, permanent), by interface and address.
        pub fn neighbours(&mut self) -> std::collections::HashMap<(u32, IpAddr), [u8; 6]> {
            let mut out = std::collections::HashMap::new();
            // One family a dump: a dump of every family holds the bridges' forwarding tables.
            for family in [AddressFamily::Inet, AddressFamily::Inet6] {
                let mut m = NeighbourMessage::default();
                m.header.family = family;
                self.ask(Rt::GetNeighbour(m), true, |reply| {
                    let Rt::NewNeighbour(n) = reply else { return };
                    use NeighbourState::{Delay, Permanent, Probe, Reachable, Stale};
                    if !matches!(n.header.state, Reachable | Stale | Delay | Probe | Permanent) {
                        return;
                    }
                    let (mut ip, mut mac) = (None, None);
                    for attr in &n.attributes {
                        match attr {
                            NeighbourAttribute::Destination(NeighbourAddress::Inet(v4)) => ip = Some(IpAddr::V4(*v4)),
                            NeighbourAttribute::Destination(NeighbourAddress::Inet6(v6)) => ip = Some(IpAddr::V6(*v6)),
                            NeighbourAttribute::LinkLayerAddress(a) => mac = <[u8; 6]>::try_from(a.as_slice()).ok(),
                            _ => {}
                        }
                    }
                    if let (Some(ip), Some(mac)) = (ip, mac) {
                        out.insert((n.header.ifindex, ip), mac);
                    }
                });
            }
            out
        }
    }

    pub(super) fn read(routes: bool) -> Snapshot {
        let Some(mut sock) = open() else { return Snapshot::default() };
        let mut links = Vec::new();
        exchange(&mut sock, 1, Rt::GetLink(LinkMessage::default()), true, |m| {
            if let Rt::NewLink(l) = m {
                links.push(link(l));
            }
        });
        links.sort_by_key(|l: &Link| l.index);
        exchange(&mut sock, 2, Rt::GetAddress(AddressMessage::default()), true, |m| {
            if let Rt::NewAddress(a) = m
                && let Some(at) = links.iter_mut().find(|l| l.index == a.header.index)
                && let Some(addr) = address(&a)
            {
                at.addrs.push(addr);
            }
        });
        let mut gateways = Vec::new();
        if routes {
            exchange(&mut sock, 3, Rt::GetRoute(RouteMessage::default()), true, |m| {
                if let Rt::NewRoute(r) = m {
                    default_gateways(&r, &mut gateways);
                }
            });
        }
        Snapshot { links, gateways }
    }

    fn open() -> Option<Socket> {
        let mut sock = Socket::new(NETLINK_ROUTE).ok()?;
        sock.bind_auto().ok()?;
        socket2::SockRef::from(&sock).set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        Some(sock)
    }

    /// Ask for a dump (`whole`) or one object and hand each message of the answer to `each`
    /// until the dump ends or the one object came (or it fails, or the kernel falls silent for
    /// the read timeout).
    fn exchange(sock: &mut Socket, seq: u32, request: Rt, whole: bool, mut each: impl FnMut(Rt)) {
        let mut msg = NetlinkMessage::from(request);
        msg.header.flags = NLM_F_REQUEST | if whole { NLM_F_DUMP } else { 0 };
        msg.header.sequence_number = seq;
        msg.finalize();
        let mut buf = vec![0; msg.buffer_len()];
        msg.serialize(&mut buf);
        if sock.send_to(&buf, &SocketAddr::new(0, 0), 0).is_err() {
            return;
        }
        while let Ok((data, _)) = sock.recv_from_full() {
            let mut at = 0;
            while at < data.len() {
                let Ok(m) = NetlinkMessage::<Rt>::deserialize(&data[at..]) else { return };
                let len = m.header.length as usize;
                if m.header.sequence_number == seq {
                    match m.payload {
                        NetlinkPayload::InnerMessage(inner) => {
                            each(inner);
                            if !whole {
                                return;
                            }
                        }
                        NetlinkPayload::Done(_) | NetlinkPayload::Error(_) => return,
                        _ => {}
                    }
                }
                if len == 0 {
                    return;
                }
                at += len.next_multiple_of(4);
            }
        }
    }

    fn link(l: LinkMessage) -> Link {
        let mut out = Link {
            index: l.header.index,
            name: l.header.index.to_string(),
            up: l.header.flags.contains(LinkFlags::Up),
            loopback: l.header.flags.contains(LinkFlags::Loopback),
            state: "unknown",
            mac: None,
            mtu: None,
            addrs: Vec::new(),
        };
        for attr in l.attributes {
            match attr {
                LinkAttribute::IfName(name) => out.name = name,
                LinkAttribute::Mtu(mtu) => out.mtu = Some(mtu),
                LinkAttribute::Address(mac) => out.mac = <[u8; 6]>::try_from(mac.as_slice()).ok(),
                // The names `ip` gives the states (RFC 2863, IFLA_OPERSTATE).
                LinkAttribute::OperState(s) => {
                    out.state = match s {
                        State::NotPresent => "notpresent",
                        State::Down => "down",
                        State::LowerLayerDown => "lowerlayerdown",
                        State::Testing => "testing",
                        State::Dormant => "dormant",
                        State::Up => "up",
                        _ => "unknown",
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// IFA_LOCAL is the interface's own address; an IFA_ADDRESS that differs from it is the
    /// peer of a point-to-point link. IPv6 often gives IFA_ADDRESS alone.
    fn address(a: &AddressMessage) -> Option<IfAddr> {
        let (mut address, mut local) = (None, None);
        for attr in &a.attributes {
            match attr {
                AddressAttribute::Address(ip) => address = Some(*ip),
                AddressAttribute::Local(ip) => local = Some(*ip),
                _ => {}
            }
        }
        let addr = local.or(address)?;
        let peer = address.filter(|&p| local.is_some() && p != addr);
        Some(IfAddr { addr, prefix: a.header.prefix_len, peer })
    }

    /// The gateways of a default route of the main table (one, or one a next hop).
    fn default_gateways(r: &RouteMessage, out: &mut Vec<Gateway>) {
        let table = r
            .attributes
            .iter()
            .find_map(|a| match a {
                RouteAttribute::Table(t) => Some(*t),
                _ => None,
            })
            .unwrap_or(u32::from(r.header.table));
        if r.header.destination_prefix_length != 0 || table != u32::from(RouteHeader::RT_TABLE_MAIN) {
            return;
        }
        let ip = |a: &RouteAddress| match a {
            RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
            RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
            _ => None,
        };
        let (mut gateway, mut oif) = (None, None);
        for attr in &r.attributes {
            match attr {
                RouteAttribute::Gateway(a) => gateway = ip(a),
                RouteAttribute::Oif(i) => oif = Some(*i),
                RouteAttribute::MultiPath(hops) => {
                    for hop in hops {
                        let via = hop.attributes.iter().find_map(|a| match a {
                            RouteAttribute::Gateway(a) => ip(a),
                            _ => None,
                        });
                        if let Some(address) = via {
                            out.push(Gateway { address, index: hop.interface_index });
                        }
                    }
                }
                _ => {}
            }
        }
        if let (Some(address), Some(index)) = (gateway, oif) {
            out.push(Gateway { address, index });
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::net::IpAddr;

    use super::{Gateway, IfAddr, Link, Snapshot};

    pub(super) fn read(_routes: bool) -> Snapshot {
        let mut raw = netdev::get_interfaces();
        raw.sort_by_key(|i| i.index);
        let mut gateways = Vec::new();
        let links = raw
            .iter()
            .map(|i| {
                if let Some(gw) = &i.gateway {
                    let v4 = gw.ipv4.iter().map(|&a| IpAddr::V4(a));
                    let v6 = gw.ipv6.iter().map(|&a| IpAddr::V6(a));
                    gateways.extend(v4.chain(v6).map(|address| Gateway { address, index: i.index }));
                }
                let v4 =
                    i.ipv4.iter().map(|n| IfAddr { addr: IpAddr::V4(n.addr()), prefix: n.prefix_len(), peer: None });
                let v6 =
                    i.ipv6.iter().map(|n| IfAddr { addr: IpAddr::V6(n.addr()), prefix: n.prefix_len(), peer: None });
                Link {
                    index: i.index,
                    name: i.name.clone(),
                    up: i.is_up(),
                    loopback: i.is_loopback(),
                    state: i.oper_state.as_str(),
                    mac: i.mac_addr.map(|m| m.octets()),
                    mtu: i.mtu,
                    addrs: v4.chain(v6).collect(),
                }
            })
            .collect();
        Snapshot { links, gateways }
    }
}
