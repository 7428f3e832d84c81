//! The lab's links made and set as `ip link` and `ip addr` make them, by netlink in the
//! calling thread's network: the loopback brought up, the LAN's bridge and veth pairs.

use std::io;
use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::time::Duration;

use netlink_packet_core::{NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{InfoData, InfoKind, LinkAttribute, LinkFlags, LinkInfo, LinkMessage};

/// One netlink request, acknowledged (or its error).
fn request(message: RouteNetlinkMessage, create: bool) -> io::Result<()> {
    let mut sock = netlink_sys::Socket::new(netlink_sys::protocols::NETLINK_ROUTE)?;
    sock.bind_auto()?;
    socket2::SockRef::from(&sock).set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut msg = NetlinkMessage::from(message);
    msg.header.flags = NLM_F_REQUEST | NLM_F_ACK | if create { NLM_F_CREATE | NLM_F_EXCL } else { 0 };
    msg.header.sequence_number = 1;
    msg.finalize();
    let mut buf = vec![0; msg.buffer_len()];
    msg.serialize(&mut buf);
    sock.send_to(&buf, &netlink_sys::SocketAddr::new(0, 0), 0)?;
    loop {
        let (data, _) = sock.recv_from_full()?;
        let m = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&data)
            .map_err(|e| io::Error::other(format!("netlink: {e}")))?;
        if let NetlinkPayload::Error(e) = m.payload {
            return match e.code {
                None => Ok(()),
                Some(code) => Err(io::Error::from_raw_os_error(-code.get())),
            };
        }
    }
}

/// A link named `name` of `kind`, with `data` for its kind (a veth's peer).
pub(super) fn add_link(name: &str, kind: InfoKind, data: Option<InfoData>) -> io::Result<()> {
    let mut m = LinkMessage::default();
    m.attributes.push(LinkAttribute::IfName(name.into()));
    let mut info = vec![LinkInfo::Kind(kind)];
    info.extend(data.map(LinkInfo::Data));
    m.attributes.push(LinkAttribute::LinkInfo(info));
    request(RouteNetlinkMessage::NewLink(m), true)
}

/// The index of the link named `name` in this thread's network.
pub(super) fn index(name: &str) -> io::Result<u32> {
    let probe = UdpSocket::bind("0.0.0.0:0")?;
    Ok(rustix::net::netdevice::name_to_index(&probe, name)?)
}

/// `ip link set NAME up multicast off [master CONTROLLER]`: broadcast only (no IGMP reports
/// crossing the LAN, at times of their own, beside the slide's frames).
pub(super) fn set_up(name: &str, controller: Option<u32>) -> io::Result<()> {
    let mut m = LinkMessage::default();
    m.header.index = index(name)?;
    m.header.flags = LinkFlags::Up;
    m.header.change_mask = LinkFlags::Up | LinkFlags::Multicast;
    m.attributes.extend(controller.map(LinkAttribute::Controller));
    request(RouteNetlinkMessage::SetLink(m), false)
}

/// `ip addr add ADDR/PREFIX brd BROADCAST dev NAME`.
pub(super) fn add_address(name: &str, addr: Ipv4Addr, prefix: u8, broadcast: Ipv4Addr) -> io::Result<()> {
    let mut m = AddressMessage::default();
    m.header.family = netlink_packet_route::AddressFamily::Inet;
    m.header.prefix_len = prefix;
    m.header.index = index(name)?;
    m.attributes.push(AddressAttribute::Local(IpAddr::V4(addr)));
    m.attributes.push(AddressAttribute::Address(IpAddr::V4(addr)));
    m.attributes.push(AddressAttribute::Broadcast(broadcast));
    request(RouteNetlinkMessage::NewAddress(m), true)
}
