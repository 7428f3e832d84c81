//! resolv.conf(5), read leniently: nameservers, search domains and options. Nothing in the
//! file is fatal: unknown keywords and options are kept or skipped, never an error, because
//! a resolver that refuses `options trust-ad` or `no-aaaa` breaks hosts for no reason.

use std::net::IpAddr;

use serde::Serialize;

/// The parts of resolv.conf sockit reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ResolvConf {
    /// `nameserver` lines, in order. An IPv6 zone (`fe80::1%eth0`) is kept in `zone`.
    pub nameservers: Vec<Nameserver>,
    /// Search list: the last `search` or `domain` line wins, as in glibc.
    pub search: Vec<String>,
    /// `options` words exactly as written (`ndots:2`, `edns0`, `trust-ad`, ...).
    pub options: Vec<String>,
    /// Lines that were not understood, for `-v` diagnostics.
    #[serde(skip)]
    pub ignored: Vec<String>,
}

/// One `nameserver` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Nameserver {
    pub address: IpAddr,
    /// The IPv6 scope (interface) after `%`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
}

impl ResolvConf {
    /// Parse the text of a resolv.conf file.
    pub fn parse(text: &str) -> ResolvConf {
        let mut rc = ResolvConf::default();
        for raw in text.lines() {
            // Comments start with # or ; at the start of a line (and, in practice, anywhere).
            let line = raw.split(['#', ';']).next().unwrap_or("").trim();
            let mut words = line.split_whitespace();
            let Some(keyword) = words.next() else { continue };
            match keyword {
                "nameserver" => match words.next().and_then(parse_nameserver) {
                    Some(ns) => rc.nameservers.push(ns),
                    None => rc.ignored.push(raw.to_string()),
                },
                "search" | "domain" => rc.search = words.map(|w| w.trim_end_matches('.').to_string()).collect(),
                "options" => rc.options.extend(words.map(str::to_string)),
                _ => rc.ignored.push(raw.to_string()),
            }
        }
        rc
    }

    /// Whether every nameserver is a local stub (127.0.0.53 for systemd-resolved,
    /// other loopback addresses for dnsmasq and friends): then the real upstream servers
    /// are elsewhere.
    pub fn is_local_stub(&self) -> bool {
        !self.nameservers.is_empty() && self.nameservers.iter().all(|n| n.address.is_loopback())
    }
}

fn parse_nameserver(word: &str) -> Option<Nameserver> {
    let (addr, zone) = match word.split_once('%') {
        Some((a, z)) => (a, Some(z.to_string())),
        None => (word, None),
    };
    Some(Nameserver { address: addr.parse().ok()?, zone })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_servers_search_and_any_option() {
        let rc = ResolvConf::parse(
            "# generated\nnameserver 192.0.2.53\nnameserver 2001:db8::53 ; second\n\
             nameserver fe80::1%eth0\nnameserver not-an-ip\ndomain old.example\n\
             search a.example b.example.\noptions edns0 trust-ad no-aaaa ndots:2\n\
             options rotate\nsortlist 130.155.160.0/255.255.240.0\n",
        );
        let addrs: Vec<String> = rc.nameservers.iter().map(|n| n.address.to_string()).collect();
        assert_eq!(addrs, ["192.0.2.53", "2001:db8::53", "fe80::1"]);
        assert_eq!(rc.nameservers[2].zone.as_deref(), Some("eth0"));
        assert_eq!(rc.search, ["a.example", "b.example"]);
        assert_eq!(rc.options, ["edns0", "trust-ad", "no-aaaa", "ndots:2", "rotate"]);
        assert_eq!(rc.ignored.len(), 2);
        assert!(!rc.is_local_stub());
    }

    #[test]
    fn empty_and_stub() {
        assert_eq!(ResolvConf::parse(""), ResolvConf::default());
        assert!(ResolvConf::parse("nameserver 127.0.0.53\noptions edns0 trust-ad\n").is_local_stub());
        assert!(!ResolvConf::parse("").is_local_stub());
    }
}
