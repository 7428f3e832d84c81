//! Slide 3's name functions: gethostname, gethostbyname, gethostbyaddr, done properly.
//!
//! Two ways to resolve. The system resolver (getaddrinfo/getnameinfo) follows /etc/hosts
//! and nsswitch exactly as other programs on the host do. A direct query asks one DNS server
//! over UDP (falling back to TCP when the answer is truncated) or TCP, with the message
//! codec from hickory-proto and our own transport, so that every failure has its own error:
//! no such name, no data of that type, refused, server failure, no answer in time.
//!
//! The rooms: `system` (the C library's resolver), `wire` (sockit's own DNS client), `stream`
//! (DNS over TCP and TLS), `https` (DNS over HTTPS), `edns` (what a query asks beyond its
//! question, and what the reply's header says), `transfer` (AXFR over TCP), `types` and
//! `dnssec_text` (record types and data as dig names and shows them), `bulk`, `pipeline` and
//! `carrier` (many names at once, in input order, over UDP, TLS or HTTPS), `secure` (a lookup's
//! own questions over TLS or HTTPS, on a carrier kept per thread), `plain` (bulk lookups' plain
//! questions and replies, by hand), `compare` (the system's answer beside DNS's).

use std::net::IpAddr;
use std::time::Duration;

use hickory_proto::rr::RecordType;
use serde::Serialize;

pub mod bulk;
mod carrier;
pub mod compare;
mod dnssec_text;
pub mod edns;
pub mod https;
mod pipeline;
mod plain;
mod quic;
pub mod rfc8427;
mod secure;
mod stream;
pub mod system;
pub mod trace;
pub mod transfer;
pub mod types;
pub mod wire;

pub use bulk::{Done, NamesConfig, NamesError, NamesReport, for_each_ordered, lookup_run, reverse_run};
pub use plain::answer_by_hand;
pub use system::{SystemAnswer, fqdn, system_lookup, system_reverse};
pub use types::{TYPE_CHOICES, parse_type};
pub use wire::{
    DnsAnswer, DnsConfig, DnsRecord, FamilyFailure, answer_from_wire, dns_addresses, dns_query, dns_reverse,
};

/// Why a name or address did not resolve. Each message is one line that says what happened
/// and what to try.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("{name}: no such name (NXDOMAIN{ede}): check the spelling")]
    NoSuchName { name: String, ede: String },
    #[error("{name}: the name exists but has no {rtype} records")]
    NoData { name: String, rtype: String },
    #[error("{name}: an alias of {target}, which {}", match .rtype { Some(t) => format!("has no {t} records"), None => "does not exist (NXDOMAIN)".to_string() })]
    DanglingAlias { name: String, target: String, rtype: Option<String> },
    #[error("{name}: no address{family} for this name")]
    NoAddress { name: String, family: &'static str },
    #[error("{name}: no answer from {server} within {timeout:?} ({tries} {}): is a DNS server running there?", if *.tries == 1 { "try" } else { "tries" })]
    Timeout { name: String, server: String, timeout: Duration, tries: u32 },
    #[error("{name}: nothing listens on {server} (connection refused)")]
    NoServer { name: String, server: String },
    #[error("{name}: {server} refused to answer (REFUSED{ede}): ask a server that serves this name")]
    Refused { name: String, server: String, ede: String },
    #[error("{name}: {server} answered {rcode}{ede}: the server could not resolve it")]
    ServerFailure { name: String, server: String, rcode: String, ede: String },
    #[error("{name}: the resolver could not reach a DNS server (temporary failure): check the network and resolv.conf")]
    Temporary { name: String },
    #[error("{address}: no name is registered for this address")]
    NoReverse { address: IpAddr },
    #[error("'{name}' is not a valid DNS name: {reason}")]
    BadName { name: String, reason: String },
    #[error("{name}: {message}")]
    Other { name: String, message: String },
}

impl ResolveError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<crate::hint::Hint> {
        match self {
            ResolveError::NoServer { .. } => Some(crate::hint::Hint::NameServer),
            _ => None,
        }
    }

    /// A short, stable name for the kind of failure (JSON `kind`).
    pub fn kind(&self) -> &'static str {
        match self {
            ResolveError::NoSuchName { .. } => "nxdomain",
            ResolveError::NoData { .. } | ResolveError::NoAddress { .. } => "nodata",
            ResolveError::DanglingAlias { .. } => "dangling-alias",
            ResolveError::Timeout { .. } => "timeout",
            ResolveError::NoServer { .. } => "no-server",
            ResolveError::Refused { .. } => "refused",
            ResolveError::ServerFailure { .. } => "servfail",
            ResolveError::Temporary { .. } => "temporary",
            ResolveError::NoReverse { .. } => "no-reverse",
            ResolveError::BadName { .. } => "bad-name",
            ResolveError::Other { .. } => "other",
        }
    }
}

/// The error for a name with no address (of the families asked for).
pub(crate) fn no_address(name: &str, families: Families) -> ResolveError {
    let family = match families {
        Families::Both => "",
        Families::V4 => " (IPv4)",
        Families::V6 => " (IPv6)",
    };
    ResolveError::NoAddress { name: name.to_string(), family }
}

/// Which address families to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Families {
    #[default]
    Both,
    V4,
    V6,
}

impl Families {
    fn admits(self, ip: IpAddr) -> bool {
        match self {
            Families::Both => true,
            Families::V4 => ip.is_ipv4(),
            Families::V6 => ip.is_ipv6(),
        }
    }
}

/// Which resolver answers: the system's, or DNS servers asked directly.
#[derive(Debug, Clone)]
pub enum Method {
    /// getaddrinfo / getnameinfo: /etc/hosts, nsswitch, the system's DNS settings.
    System,
    /// Ask these servers directly, for one record type (None: addresses, A and AAAA).
    Direct { config: Box<DnsConfig>, rtype: Option<RecordType> },
    /// Both, side by side, for a name's addresses (`compare`).
    Compare { config: Box<DnsConfig>, files: Box<compare::SystemFiles> },
}

/// One name's answer, from either resolver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Answer {
    Addresses(SystemAnswer),
    Records(DnsAnswer),
    Compared(Box<compare::Comparison>),
    /// Each reply whole, as RFC 8427's message objects.
    Messages(Vec<serde_json::Value>),
}

/// Resolve one name. An IP literal resolves to itself, unless a DNS server is asked for its
/// PTR records (`--type PTR 198.18.0.1` asks for 1.0.18.198.in-addr.arpa, as dig -x does).
pub fn lookup(method: &Method, name: &str, families: Families) -> Result<Answer, ResolveError> {
    if let Ok(ip) = sockit_core::addr::parse_ip(name) {
        if let Method::Direct { config, rtype: Some(RecordType::PTR) } = method {
            return dns_reverse(config, ip).map(Answer::Records);
        }
        if !families.admits(ip) {
            return Err(no_address(name, families));
        }
        return Ok(Answer::Addresses(SystemAnswer { name: name.to_string(), canonical: None, addresses: vec![ip] }));
    }
    match method {
        Method::System => system_lookup(name, families).map(Answer::Addresses),
        Method::Compare { config, files } => {
            Ok(Answer::Compared(Box::new(compare::compare(name, families, config, files))))
        }
        Method::Direct { config, rtype: Some(RecordType::AXFR) } => {
            transfer::dns_transfer(config, name).map(Answer::Records)
        }
        Method::Direct { config, rtype: Some(t) } => dns_query(config, name, *t).map(Answer::Records),
        Method::Direct { config, rtype: None } => dns_addresses(config, name, families).map(Answer::Records),
    }
}

/// One address's name(s), from either resolver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReverseAnswer {
    pub address: IpAddr,
    pub names: Vec<String>,
    /// Other names of the address from the hosts file, as gethostbyaddr and getent give them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// TTL of the PTR records, for a direct query.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
}

/// The hosts file, read once (at most 64 MiB; unreadable is empty).
fn hosts_file() -> &'static str {
    static HOSTS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOSTS.get_or_init(|| {
        std::fs::File::open("/etc/hosts")
            .and_then(|f| crate::stdio::read_bounded(f, crate::stdio::limits::LIST))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    })
}

/// Reverse-resolve one address.
pub fn reverse(method: &Method, ip: IpAddr) -> Result<ReverseAnswer, ResolveError> {
    match method {
        Method::System => system_reverse(ip).map(|n| ReverseAnswer {
            address: ip,
            aliases: sockit_core::hosts_file::aliases(hosts_file(), ip, &n),
            names: vec![n],
            ttl: None,
        }),
        Method::Direct { config, .. } | Method::Compare { config, .. } => {
            dns_reverse(config, ip).map(|a| ReverseAnswer {
                address: ip,
                aliases: Vec::new(),
                ttl: a.records.iter().map(|r| r.ttl).min(),
                names: a.records.into_iter().filter(|r| r.rtype == "PTR").map(|r| r.data).collect(),
            })
        }
    }
}
