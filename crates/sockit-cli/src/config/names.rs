//! `lookup` and `reverse`: names and addresses, by the system's resolver or a DNS server asked
//! directly.

use std::net::SocketAddr;
use std::time::Duration;

use sockit::resolve::{Families, NamesConfig};
use sockit_core::addr::parse_ip;

use super::shared::endpoint_addr;
use super::{Action, Result, UsageError, usage};
use crate::cli;

/// `lookup`.
pub(super) fn lookup(a: cli::LookupArgs) -> Result<Action> {
    let rtype = match &a.rtype {
        Some(t) => Some(sockit::resolve::parse_type(t).ok_or_else(|| {
            UsageError(format!("--type {t} is not a record type: give {}", sockit::resolve::TYPE_CHOICES))
        })?),
        None => None,
    };
    let families = match (a.ipv4, a.ipv6) {
        (true, _) => Families::V4,
        (_, true) => Families::V6,
        _ => Families::Both,
    };
    Ok(Action::Lookup(names(a.names, &a.dns, rtype, families)?))
}

/// `reverse`.
pub(super) fn reverse(a: cli::ReverseArgs) -> Result<Action> {
    // Addresses typed on the command line must be addresses; a file's bad lines fail
    // one by one.
    for s in &a.addresses {
        parse_ip(s).map_err(usage)?;
    }
    Ok(Action::Reverse(names(a.addresses, &a.dns, None, Families::Both)?))
}

fn names(
    items: Vec<String>,
    dns: &cli::DnsArgs,
    rtype: Option<hickory_proto::rr::RecordType>,
    families: Families,
) -> Result<NamesConfig> {
    if !(dns.timeout.is_finite() && dns.timeout > 0.0 && dns.timeout <= 3600.0) {
        return Err(UsageError(format!("--timeout {} is not a time: give seconds, like 2 or 0.5", dns.timeout)));
    }
    if dns.concurrency == 0 {
        return Err(usage("--concurrency must be at least 1"));
    }
    let server = match &dns.server {
        Some(s) => Some(endpoint_addr(s, "--server", SocketAddr::from(([0, 0, 0, 0], 53))).map_err(|_| {
            UsageError(format!(
                "--server '{s}' is not an address: write it like 192.0.2.53, 192.0.2.53:5353 or [::1]:53"
            ))
        })?),
        None => None,
    };
    Ok(NamesConfig {
        items,
        file: dns.file.clone(),
        server,
        direct: rtype.is_some() || dns.tcp,
        tcp: dns.tcp,
        timeout: Duration::from_secs_f64(dns.timeout),
        retries: dns.retries,
        concurrency: dns.concurrency,
        rtype,
        families,
    })
}
