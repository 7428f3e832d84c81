//! The system's resolver, as every other program on the host asks it: getaddrinfo and
//! getnameinfo, so /etc/hosts, nsswitch and the system's DNS settings apply.

use std::net::{IpAddr, SocketAddr};

use serde::Serialize;

use super::{Families, ResolveError, no_address};

/// What the system resolver said about a name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SystemAnswer {
    pub name: String,
    /// The canonical name, when the resolver gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canonical: Option<String>,
    /// Every address, in the resolver's preference order (RFC 6724), without repeats.
    pub addresses: Vec<IpAddr>,
}

/// gethostbyname done properly: getaddrinfo, every address of both families.
pub fn system_lookup(name: &str, families: Families) -> Result<SystemAnswer, ResolveError> {
    let hints = dns_lookup::AddrInfoHints {
        flags: libc::AI_CANONNAME,
        address: match families {
            Families::Both => libc::AF_UNSPEC,
            Families::V4 => libc::AF_INET,
            Families::V6 => libc::AF_INET6,
        },
        // One socket type, so each address comes once instead of once per type.
        socktype: libc::SOCK_STREAM,
        protocol: 0,
    };
    let iter = dns_lookup::getaddrinfo(Some(name), None, Some(hints)).map_err(|e| gai_error(name, families, &e))?;
    let mut out = SystemAnswer { name: name.to_string(), canonical: None, addresses: Vec::new() };
    for ai in iter {
        let ai = ai.map_err(|e| ResolveError::Other { name: name.to_string(), message: e.to_string() })?;
        if out.canonical.is_none() {
            out.canonical = ai.canonname.clone().filter(|c| !c.is_empty());
        }
        let ip = ai.sockaddr.ip();
        if families.admits(ip) && !out.addresses.contains(&ip) {
            out.addresses.push(ip);
        }
    }
    if out.addresses.is_empty() {
        return Err(no_address(name, families));
    }
    Ok(out)
}

fn gai_error(name: &str, families: Families, e: &dns_lookup::LookupError) -> ResolveError {
    use dns_lookup::LookupErrorKind as K;
    match e.kind() {
        K::NoName => ResolveError::NoSuchName { name: name.to_string(), ede: String::new() },
        K::NoData | K::Family => no_address(name, families),
        K::Again => ResolveError::Temporary { name: name.to_string() },
        _ => ResolveError::Other { name: name.to_string(), message: e.to_string() },
    }
}

/// gethostbyaddr: the name the system resolver gives an address (getnameinfo, NI_NAMEREQD).
pub fn system_reverse(ip: IpAddr) -> Result<String, ResolveError> {
    let sa = SocketAddr::new(ip, 0);
    match dns_lookup::getnameinfo(&sa, libc::NI_NAMEREQD | libc::NI_NUMERICSERV) {
        Ok((host, _)) => Ok(host),
        Err(e) => Err(match e.kind() {
            dns_lookup::LookupErrorKind::Again => ResolveError::Temporary { name: ip.to_string() },
            _ => ResolveError::NoReverse { address: ip },
        }),
    }
}

/// This host's fully qualified name: the canonical name the resolver gives its hostname.
pub fn fqdn(hostname: &str) -> Result<String, ResolveError> {
    let a = system_lookup(hostname, Families::Both)?;
    Ok(a.canonical.unwrap_or_else(|| hostname.to_string()))
}
