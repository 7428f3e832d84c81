//! What several commands' flags share: hosts, ports, bind and endpoint addresses, access rules,
//! proxies, TLS, hex dumps.

use std::net::{IpAddr, SocketAddr};

use sockit::tls::{ClientTls, ServerTls};
use sockit_core::addr::{Cidr, parse_ip};
use sockit_core::endpoint::{Endpoint, Host};
use sockit_core::services::{PortQuery, Proto};

use super::{Result, UsageError, usage};
use crate::cli;

/// `--proxy URL` and where names are resolved.
pub(super) fn proxy(p: &cli::ProxyArgs) -> Result<Option<sockit_core::proxy::Proxy>> {
    p.proxy
        .as_deref()
        .map(|url| {
            let mut proxy = sockit_core::proxy::Proxy::parse(url).map_err(|e| UsageError(format!("--proxy {e}")))?;
            proxy.remote_dns = !url.to_ascii_lowercase().starts_with("socks5://") || p.proxy_dns == "remote";
            proxy.credentials = p.proxy_credentials.clone();
            Ok(proxy)
        })
        .transpose()
}

/// `-x` alone dumps on stderr; `-x FILE` into FILE.
pub(super) fn hexdump_to(x: Option<&std::path::PathBuf>) -> Option<sockit::hexdump::HexdumpTo> {
    x.map(|p| {
        if p.as_os_str() == "-" {
            sockit::hexdump::HexdumpTo::Stderr
        } else {
            sockit::hexdump::HexdumpTo::File(p.clone())
        }
    })
}

/// --tls, or --ca / --insecure / --fingerprint, which imply it.
pub(super) fn client_tls(t: &cli::TlsClientArgs) -> Result<Option<ClientTls>> {
    let fingerprint = match &t.fingerprint {
        Some(f) => Some(sockit::tls::parse_fingerprint(f).ok_or_else(|| {
            UsageError(format!("--fingerprint '{f}' is not a SHA-256 fingerprint: give 64 hex digits, colons allowed"))
        })?),
        None => None,
    };
    if let Some(name) = &t.server_name {
        sockit::tls::server_name(name).map_err(|_| {
            UsageError(format!(
                "--server-name '{name}' is not a name a certificate can carry: give a DNS name or an address"
            ))
        })?;
    }
    let client_cert = t.client_cert.clone().zip(t.client_key.clone());
    let asked = t.tls || t.ca.is_some() || t.insecure || fingerprint.is_some();
    Ok((asked || client_cert.is_some() || t.server_name.is_some()).then(|| ClientTls {
        ca: t.ca.clone(),
        insecure: t.insecure,
        fingerprint,
        client_cert,
        server_name: t.server_name.clone(),
    }))
}

pub(super) fn server_tls(t: &cli::TlsServerArgs) -> Option<ServerTls> {
    t.tls.then(|| ServerTls { cert: t.cert.clone(), key: t.key.clone() })
}

/// PORT as a number or a service name of `proto` (IANA's registry, as `scan -p` takes them).
pub(super) fn service_port(s: &str, proto: Proto) -> Result<u16> {
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return sockit_core::services::parse_port(s).map_err(usage);
    }
    match PortQuery::parse(s) {
        Ok(PortQuery::Name(n)) => {
            sockit_core::services::Registry::builtin().by_name(&n, Some(proto)).first().copied().ok_or_else(|| {
                UsageError(format!("'{s}' is no {proto} service: give a port number, or a name like http"))
            })
        }
        _ => Err(UsageError(format!("'{s}' is not a port or a service name: write 80 or http"))),
    }
}

/// HOST for connect and send: an address, `[v6]`, or a name to resolve.
pub(super) fn host(s: &str, what: &str) -> Result<Host> {
    match Endpoint::parse(s) {
        Ok(Endpoint { host: Some(h), port: None }) => Ok(h),
        _ => Err(UsageError(format!("{what} '{s}' is not a host: give a name or an address (IPv6 as ::1 or [::1])"))),
    }
}

/// ADDR for --bind, or every IPv4 address, with `port`.
pub(super) fn bind_addr(bind: Option<&str>, port: u16) -> Result<SocketAddr> {
    let ip = match bind {
        Some(b) => match Endpoint::parse(b) {
            Ok(Endpoint { host: Some(Host::Ip(ip)), port: None }) => ip,
            Ok(Endpoint { host: Some(h @ Host::Scoped(..)), port: None }) => return address(&h, port),
            _ => {
                return Err(usage(format!(
                    "--bind: {}",
                    parse_ip(b).err().map_or_else(|| format!("'{b}' is not an address"), |e| e.to_string())
                )));
            }
        },
        None => IpAddr::from([0, 0, 0, 0]),
    };
    Ok(SocketAddr::new(ip, port))
}

/// `PORT`, `ADDR`, `ADDR:PORT` or `[IPv6]:PORT`, the missing parts from `default`.
pub(super) fn endpoint_addr(s: &str, flag: &str, default: SocketAddr) -> Result<SocketAddr> {
    let bad =
        || UsageError(format!("{flag} '{s}' is not a port or an address: write 40000, 127.0.0.1:40000 or [::1]:40000"));
    match Endpoint::parse(s).map_err(|_| bad())? {
        Endpoint { host: None, port: Some(p) } => Ok(SocketAddr::new(default.ip(), p)),
        Endpoint { host: Some(h @ (Host::Ip(_) | Host::Scoped(..))), port } => {
            address(&h, port.unwrap_or(default.port()))
        }
        _ => Err(bad()),
    }
}

/// An address, or an IPv6 address in a zone (whose interface must exist), with its port.
pub(super) fn address(host: &Host, port: u16) -> Result<SocketAddr> {
    match host {
        Host::Ip(ip) => Ok(SocketAddr::new(*ip, port)),
        Host::Scoped(ip, zone) => sockit::net::scoped(*ip, zone, port).map_err(usage),
        Host::Name(n) => Err(UsageError(format!("'{n}' is not an address"))),
    }
}

pub(super) fn cidrs(list: &[String], flag: &str) -> Result<Vec<Cidr>> {
    list.iter().map(|c| Cidr::parse(c).map_err(|e| UsageError(format!("{flag} {c}: {e}")))).collect()
}
