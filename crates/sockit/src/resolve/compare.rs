//! What the system says beside what the wire says: a name's addresses from getaddrinfo (the
//! hosts file, nsswitch, the search list, any cache) and from the DNS servers asked directly,
//! side by side, and what makes them differ, named: the hosts file, a search domain, or
//! another of nsswitch's sources or a cache when neither of those explains it.

use std::net::{IpAddr, SocketAddr};

use serde::Serialize;

use super::wire::{DnsConfig, dns_addresses};
use super::{Families, system::system_lookup};

/// What `--compare` reads besides the servers: the hosts file, resolv.conf's search list and
/// ndots, and nsswitch.conf's hosts line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SystemFiles {
    pub hosts: String,
    pub search: Vec<String>,
    pub ndots: usize,
    /// The sources after `hosts:` in nsswitch.conf (`files dns`), if the file says.
    pub nsswitch: Option<String>,
}

impl SystemFiles {
    /// This host's files (missing or unreadable ones read as empty, as glibc reads them).
    pub fn read() -> SystemFiles {
        let path = std::path::Path::new(crate::dns_config::RESOLV_CONF);
        let (search, options) = crate::dns_config::read(path).map(|d| (d.search, d.options)).unwrap_or_default();
        let ndots = options.iter().find_map(|o| o.strip_prefix("ndots:")?.parse().ok()).unwrap_or(1);
        let nsswitch =
            crate::stdio::read_file_text(std::path::Path::new("/etc/nsswitch.conf"), crate::stdio::limits::CONFIG)
                .unwrap_or_default()
                .lines()
                .find_map(|l| l.split('#').next()?.trim().strip_prefix("hosts:").map(|s| s.trim().to_string()));
        SystemFiles { hosts: super::hosts_file().to_string(), search, ndots, nsswitch }
    }
}

/// One side's answer: its addresses (sorted), or why it has none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Side {
    pub addresses: Vec<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A name asked both ways.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Comparison {
    pub name: String,
    /// getaddrinfo's answer.
    pub system: Side,
    /// The DNS servers' answer, and the servers asked.
    pub dns: Side,
    pub servers: Vec<SocketAddr>,
    pub same: bool,
    /// What makes them differ, each a sentence; none when they agree (the same addresses, or
    /// none on either side).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
}

fn side(r: Result<Vec<IpAddr>, super::ResolveError>) -> Side {
    match r {
        Ok(mut a) => {
            a.sort();
            a.dedup();
            Side { addresses: a, error: None }
        }
        Err(e) => Side { addresses: Vec::new(), error: Some(e.to_string()) },
    }
}

fn list(a: &[IpAddr]) -> String {
    a.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ")
}

/// Ask for `name`'s addresses both ways and name what makes the answers differ.
pub fn compare(name: &str, families: Families, cfg: &DnsConfig, files: &SystemFiles) -> Comparison {
    let system = side(system_lookup(name, families).map(|a| a.addresses));
    let wire = |n: &str| {
        side(dns_addresses(cfg, n, families).map(|a| a.records.iter().filter_map(|r| r.data.parse().ok()).collect()))
    };
    let dns = wire(name);
    // The same addresses, or none on either side (each side's words for why may differ).
    let same = system.addresses == dns.addresses && system.error.is_some() == dns.error.is_some();
    let mut reasons = Vec::new();
    if !same {
        let hosts: Vec<IpAddr> = {
            let mut h = sockit_core::hosts_file::addresses(&files.hosts, name);
            h.retain(|&ip| families.admits(ip));
            h.sort();
            h
        };
        if !hosts.is_empty() {
            let read = if hosts == system.addresses { ": the system answered from it, before DNS" } else { "" };
            reasons.push(format!("the hosts file gives {name} {}{read}", list(&hosts)));
        }
        // getaddrinfo tries the search list for a name with fewer dots than ndots (first) or
        // any other name without a final dot (after the name itself).
        if !name.ends_with('.') && system.error.is_none() && hosts != system.addresses {
            for domain in &files.search {
                let full = format!("{name}.{domain}");
                let got = wire(&full);
                if got.error.is_none() && got.addresses == system.addresses {
                    let dots = name.matches('.').count();
                    let first = if dots < files.ndots { "first, " } else { "" };
                    reasons.push(format!(
                        "the search list made it {full} ({first}{dots} dots against ndots:{}), which DNS answers with {}",
                        files.ndots,
                        list(&got.addresses)
                    ));
                    break;
                }
            }
        }
        if reasons.is_empty() {
            let sources = files.nsswitch.as_deref().unwrap_or("files dns");
            reasons.push(format!(
                "neither the hosts file nor the search list explains it: another of nsswitch's sources \
                 (hosts: {sources}) answered, or a cache (nscd, systemd-resolved) holds another answer"
            ));
        }
    }
    Comparison { name: name.to_string(), system, dns, servers: cfg.servers.clone(), same, reasons }
}
