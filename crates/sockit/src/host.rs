//! This computer's network parameters (slide 1): hostname, interfaces with their addresses,
//! netmasks, networks and broadcast addresses, default routers, DNS servers.
//!
//! The OS is read through netdev (interfaces, routes), uname (hostname) and resolv.conf; the
//! arithmetic and classification come from `sockit_core::addr`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sockit_core::addr::{self, Cidr};
use sockit_core::resolv_conf::{Nameserver, ResolvConf};

/// Where resolv.conf lives unless told otherwise.
pub const RESOLV_CONF: &str = "/etc/resolv.conf";
/// systemd-resolved's view of the real upstream servers, behind its 127.0.0.53 stub.
const RESOLVED_UPSTREAM: &str = "/run/systemd/resolve/resolv.conf";

/// Errors reading the host's parameters.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("cannot read {path}: {cause}")]
    ResolvConf { path: PathBuf, cause: std::io::Error },
}

impl HostError {
    pub fn hint(&self) -> Option<crate::net::Hint> {
        Some(crate::net::Hint::OtherResolvConf)
    }
}

/// Everything `sockit info` reports.
#[derive(Debug, Clone, Serialize)]
pub struct HostInfo {
    pub hostname: String,
    /// Interfaces in index order.
    pub interfaces: Vec<Interface>,
    /// Default routers, IPv4 first.
    pub routers: Vec<Router>,
    pub dns: Dns,
}

/// One network interface.
#[derive(Debug, Clone, Serialize)]
pub struct Interface {
    pub name: String,
    pub index: u32,
    /// Administratively up (IFF_UP).
    pub up: bool,
    /// Operational state as the kernel reports it: up, down, unknown, dormant, ...
    pub state: String,
    pub loopback: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    pub ipv4: Vec<Ipv4Entry>,
    pub ipv6: Vec<Ipv6Entry>,
}

/// An IPv4 address on an interface, with the slide's parameters worked out.
#[derive(Debug, Clone, Serialize)]
pub struct Ipv4Entry {
    pub address: IpAddr,
    pub prefix: u8,
    pub netmask: IpAddr,
    pub network: IpAddr,
    /// None on /31 and /32.
    pub broadcast: Option<IpAddr>,
    /// Special-purpose kind: private, loopback, link-local, ... or global.
    pub kind: &'static str,
    /// Classful A–E.
    pub class: char,
    /// The other end of a point-to-point link (`ip addr`'s `peer`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<IpAddr>,
}

/// An IPv6 address on an interface.
#[derive(Debug, Clone, Serialize)]
pub struct Ipv6Entry {
    pub address: IpAddr,
    pub prefix: u8,
    pub network: IpAddr,
    pub kind: &'static str,
    /// The other end of a point-to-point link (`ip addr`'s `peer`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<IpAddr>,
}

/// A default router and the interface it is reached through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Router {
    pub address: IpAddr,
    pub interface: String,
}

/// DNS configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Dns {
    /// The file read.
    pub source: PathBuf,
    pub nameservers: Vec<Nameserver>,
    pub search: Vec<String>,
    pub options: Vec<String>,
    /// When resolv.conf points at a local stub (127.0.0.53), the servers the stub forwards to,
    /// if the system exposes them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<Vec<Nameserver>>,
}

/// What to read; tests and `--resolv-conf` point it elsewhere.
#[derive(Debug, Clone)]
pub struct InfoOptions {
    pub resolv_conf: PathBuf,
}

impl Default for InfoOptions {
    fn default() -> Self {
        InfoOptions { resolv_conf: PathBuf::from(RESOLV_CONF) }
    }
}

/// Gather this host's network parameters.
pub fn host_info(opts: &InfoOptions) -> Result<HostInfo, HostError> {
    let mut raw = netdev::get_interfaces();
    raw.sort_by_key(|i| i.index);
    let mut routers = Vec::new();
    for i in &raw {
        if let Some(gw) = &i.gateway {
            let v4 = gw.ipv4.iter().map(|&a| IpAddr::V4(a));
            let v6 = gw.ipv6.iter().map(|&a| IpAddr::V6(a));
            routers.extend(v4.chain(v6).map(|address| Router { address, interface: i.name.clone() }));
        }
    }
    routers.sort_by_key(|r| r.address.is_ipv6());
    Ok(HostInfo {
        hostname: hostname(),
        interfaces: {
            let peers = peers();
            raw.iter().map(|i| interface(i, &peers)).collect()
        },
        routers,
        dns: dns(&opts.resolv_conf)?,
    })
}

/// Point-to-point peers by (interface index, local address).
type Peers = std::collections::HashMap<(u32, IpAddr), IpAddr>;

fn interface(i: &netdev::Interface, peers: &Peers) -> Interface {
    let peer = |a: IpAddr| peers.get(&(i.index, a)).copied();
    let ipv4 = i
        .ipv4
        .iter()
        .map(|net| {
            let cidr = Cidr { addr: IpAddr::V4(net.addr()), prefix: net.prefix_len(), prefix_given: true };
            let s = addr::subnet(&cidr);
            Ipv4Entry {
                address: cidr.addr,
                prefix: cidr.prefix,
                netmask: s.netmask,
                network: s.network,
                broadcast: s.broadcast,
                kind: addr::classify(cidr.addr).kind,
                class: addr::classful(net.addr()),
                peer: peer(cidr.addr),
            }
        })
        .collect();
    let ipv6 = i
        .ipv6
        .iter()
        .map(|net| {
            let cidr = Cidr { addr: IpAddr::V6(net.addr()), prefix: net.prefix_len(), prefix_given: true };
            Ipv6Entry {
                address: cidr.addr,
                prefix: cidr.prefix,
                network: cidr.network(),
                kind: addr::classify(cidr.addr).kind,
                peer: peer(cidr.addr),
            }
        })
        .collect();
    Interface {
        name: i.name.clone(),
        index: i.index,
        up: i.is_up(),
        state: i.oper_state.as_str().to_string(),
        loopback: i.is_loopback(),
        mac: i.mac_addr.filter(|m| m.octets() != [0; 6]).map(|m| m.to_string()),
        mtu: i.mtu,
        ipv4,
        ipv6,
    }
}

/// The peers of point-to-point addresses: in the kernel's address dump, an address whose
/// IFA_ADDRESS differs from its IFA_LOCAL has a peer (IFA_ADDRESS). Nothing if netlink fails.
#[cfg(target_os = "linux")]
fn peers() -> Peers {
    use netlink_packet_core::{NLM_F_DUMP, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload};
    use netlink_packet_route::RouteNetlinkMessage;
    use netlink_packet_route::address::{AddressAttribute, AddressMessage};
    let mut peers = Peers::new();
    let Ok(mut sock) = netlink_sys::Socket::new(netlink_sys::protocols::NETLINK_ROUTE) else { return peers };
    if sock.bind_auto().is_err()
        || socket2::SockRef::from(&sock).set_read_timeout(Some(std::time::Duration::from_secs(2))).is_err()
    {
        return peers;
    }
    let mut msg = NetlinkMessage::from(RouteNetlinkMessage::GetAddress(AddressMessage::default()));
    msg.header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    msg.header.sequence_number = 1;
    msg.finalize();
    let mut buf = vec![0; msg.buffer_len()];
    msg.serialize(&mut buf);
    if sock.send_to(&buf, &netlink_sys::SocketAddr::new(0, 0), 0).is_err() {
        return peers;
    }
    // Datagrams of messages until the dump's end (or an error, or the timeout).
    while let Ok((data, _)) = sock.recv_from_full() {
        let mut at = 0;
        while at < data.len() {
            let Ok(m) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&data[at..]) else { return peers };
            let len = m.header.length as usize;
            match m.payload {
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewAddress(a)) => {
                    let (mut address, mut local) = (None, None);
                    for attr in &a.attributes {
                        match attr {
                            AddressAttribute::Address(ip) => address = Some(*ip),
                            AddressAttribute::Local(ip) => local = Some(*ip),
                            _ => {}
                        }
                    }
                    if let (Some(address), Some(local)) = (address, local)
                        && address != local
                    {
                        peers.insert((a.header.index, local), address);
                    }
                }
                NetlinkPayload::Done(_) | NetlinkPayload::Error(_) => return peers,
                _ => {}
            }
            if len == 0 {
                return peers;
            }
            at += len.next_multiple_of(4);
        }
    }
    peers
}

#[cfg(not(target_os = "linux"))]
fn peers() -> Peers {
    Peers::new()
}

/// gethostname(), as the lecture's `socket.gethostname()`.
pub fn hostname() -> String {
    rustix::system::uname().nodename().to_string_lossy().into_owned()
}

fn dns(path: &Path) -> Result<Dns, HostError> {
    let text = match crate::stdio::read_file_text(path, crate::stdio::limits::CONFIG) {
        Ok(t) => t,
        // No resolv.conf means no configured servers (glibc then tries 127.0.0.1): not an error
        // for the default path; a file the user named must exist.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && path == Path::new(RESOLV_CONF) => String::new(),
        Err(cause) => return Err(HostError::ResolvConf { path: path.to_path_buf(), cause }),
    };
    let rc = ResolvConf::parse(&text);
    for line in &rc.ignored {
        tracing::debug!(file = %path.display(), line, "resolv.conf line not used");
    }
    let upstream = rc
        .is_local_stub()
        .then(|| crate::stdio::read_file_text(Path::new(RESOLVED_UPSTREAM), crate::stdio::limits::CONFIG).ok())
        .flatten()
        .map(|t| ResolvConf::parse(&t).nameservers)
        .filter(|n| !n.is_empty());
    Ok(Dns {
        source: path.to_path_buf(),
        nameservers: rc.nameservers,
        search: rc.search,
        options: rc.options,
        upstream,
    })
}

/// Where the local services database lives.
pub const ETC_SERVICES: &str = "/etc/services";

/// The built-in service registry with /etc/services laid over it when it can be read; a
/// missing or unreadable file leaves the built-in table alone.
pub fn service_registry() -> sockit_core::services::Registry {
    match std::fs::read_to_string(ETC_SERVICES) {
        Ok(text) => sockit_core::services::Registry::overlay(&text),
        Err(e) => {
            tracing::debug!(file = ETC_SERVICES, error = %e, "using the built-in registry alone");
            sockit_core::services::Registry::builtin()
        }
    }
}

/// The kernel's ephemeral (local) port range, or Linux's default when it cannot be read.
pub fn ephemeral_port_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|t| {
            let mut w = t.split_whitespace().map(|x| x.parse::<u16>());
            Some((w.next()?.ok()?, w.next()?.ok()?))
        })
        .unwrap_or((32768, 60999))
}

/// The DNS servers of resolv.conf, as socket addresses on port 53 (IPv6 zones kept).
pub fn resolv_conf_servers(path: &Path) -> Result<Vec<std::net::SocketAddr>, HostError> {
    let d = dns(path)?;
    Ok(d.nameservers
        .iter()
        .map(|n| {
            let scope = n.zone.as_deref().and_then(|z| z.parse::<u32>().ok()).unwrap_or(0);
            match n.address {
                IpAddr::V6(a) => std::net::SocketAddr::V6(std::net::SocketAddrV6::new(a, 53, 0, scope)),
                IpAddr::V4(a) => std::net::SocketAddr::from((a, 53)),
            }
        })
        .collect())
}

/// This host's own addresses, as `hostname -I` lists them: every address of every interface
/// except loopback and IPv6 link-local.
pub fn own_addresses() -> Vec<IpAddr> {
    let mut raw = netdev::get_interfaces();
    raw.sort_by_key(|i| i.index);
    raw.iter()
        .flat_map(|i| {
            let v4 = i.ipv4.iter().map(|n| IpAddr::V4(n.addr()));
            let v6 = i.ipv6.iter().map(|n| IpAddr::V6(n.addr()));
            v4.chain(v6).collect::<Vec<_>>()
        })
        .filter(|ip| !ip.is_loopback() && !matches!(ip, IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xfe80))
        .collect()
}
