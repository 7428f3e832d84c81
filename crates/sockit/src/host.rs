//! This computer's network parameters (slide 1): hostname, interfaces with their addresses,
//! netmasks, networks and broadcast addresses, default routers, DNS servers.
//!
//! The OS is read through netlink (interfaces, routes: `ifaces`), uname (hostname) and
//! resolv.conf; the arithmetic and classification come from `sockit_core::addr`.

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
        dns: dns(&opts.resolv_conf)?,
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
    crate::ifaces::links()
        .iter()
        .flat_map(|l| l.addrs.iter().map(|a| a.addr))
        .filter(|ip| !ip.is_loopback() && !matches!(ip, IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xfe80))
        .collect()
}
