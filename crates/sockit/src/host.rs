//! This computer's network parameters (slide 1): hostname, interfaces with their addresses,
//! netmasks, networks and broadcast addresses, default routers, DNS servers.
//!
//! The OS is read through netlink (interfaces, routes: `ifaces`), uname (hostname) and
//! resolv.conf; the arithmetic and classification come from `sockit_core::addr`.

use std::net::IpAddr;
use std::path::PathBuf;

use serde::Serialize;
use sockit_core::addr::{self, Cidr};

use crate::dns_config::{Dns, RESOLV_CONF, ResolvConfError};

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
pub fn host_info(opts: &InfoOptions) -> Result<HostInfo, ResolvConfError> {
    let snap = crate::ifaces::snapshot();
    let mut routers: Vec<Router> = Vec::new();
    for g in &snap.gateways {
        let interface = snap.by_index(g.index).map_or_else(|| g.index.to_string(), |l| l.name.clone());
        let r = Router { address: g.address, interface };
        if !routers.contains(&r) {
            routers.push(r);
        }
    }
    routers.sort_by_key(|r| r.address.is_ipv6());
    Ok(HostInfo {
        hostname: hostname(),
        interfaces: snap.links.iter().map(interface).collect(),
        routers,
        dns: crate::dns_config::read(&opts.resolv_conf)?,
    })
}

fn interface(l: &crate::ifaces::Link) -> Interface {
    let mut ipv4 = Vec::new();
    let mut ipv6 = Vec::new();
    for a in &l.addrs {
        let cidr = Cidr { addr: a.addr, prefix: a.prefix, prefix_given: true };
        match a.addr {
            IpAddr::V4(v4) => {
                let s = addr::subnet(&cidr);
                ipv4.push(Ipv4Entry {
                    address: cidr.addr,
                    prefix: cidr.prefix,
                    netmask: s.netmask,
                    network: s.network,
                    broadcast: s.broadcast,
                    kind: addr::classify(cidr.addr).kind,
                    class: addr::classful(v4),
                    peer: a.peer,
                });
            }
            IpAddr::V6(_) => ipv6.push(Ipv6Entry {
                address: cidr.addr,
                prefix: cidr.prefix,
                network: cidr.network(),
                kind: addr::classify(cidr.addr).kind,
                peer: a.peer,
            }),
        }
    }
    let mac = l.mac.filter(|m| *m != [0; 6]).map(|m| {
        let [a, b, c, d, e, f] = m;
        format!("{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{f:02x}")
    });
    Interface {
        name: l.name.clone(),
        index: l.index,
        up: l.up,
        state: l.state.to_string(),
        loopback: l.loopback,
        mac,
        mtu: l.mtu,
        ipv4,
        ipv6,
    }
}

/// `hostname`: what to say besides the name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostnameConfig {
    /// The canonical name, as the resolver gives it.
    pub fqdn: bool,
    /// This host's addresses (`hostname -I`).
    pub addresses: bool,
}

/// What `hostname` says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostnameReport {
    pub hostname: String,
    pub fqdn: Option<String>,
    pub addresses: Option<Vec<IpAddr>>,
}

/// `hostname`: the name, and what the configuration asks for besides.
pub fn hostname_run(cfg: &HostnameConfig) -> Result<HostnameReport, crate::resolve::ResolveError> {
    let name = hostname();
    let fqdn = if cfg.fqdn { Some(crate::resolve::fqdn(&name)?) } else { None };
    Ok(HostnameReport { hostname: name, fqdn, addresses: cfg.addresses.then(own_addresses) })
}

/// gethostname(), as the lecture's `socket.gethostname()`.
pub fn hostname() -> String {
    rustix::system::uname().nodename().to_string_lossy().into_owned()
}

/// This host's own addresses, as `hostname -I` lists them: every address of every interface
/// except loopback and IPv6 link-local.
pub fn own_addresses() -> Vec<IpAddr> {
    crate::ifaces::links()
        .iter()
        .flat_map(|l| l.addrs.iter().map(|a| a.addr))
        .filter(|ip| !ip.is_loopback() && !matches!(ip, IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xfe80))
        .collect()
}
