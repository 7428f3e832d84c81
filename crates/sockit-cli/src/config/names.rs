//! `lookup` and `reverse`: names and addresses, by the system's resolver or a DNS server asked
//! directly.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use sockit::resolve::edns::QueryOptions;
use sockit::resolve::https::Doh;
use sockit::resolve::{Families, NamesConfig};
use sockit_core::addr::{Cidr, parse_ip};

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
    if a.trace {
        return trace(&a, rtype);
    }
    let mut cfg = names(a.names, &a.dns, rtype, families)?;
    cfg.compare = a.compare;
    if a.rfc8427 {
        cfg.rfc8427 = true;
        cfg.direct = true;
    }
    Ok(Action::Lookup(cfg))
}

/// `lookup --trace`: each name from the root servers (of `--root-hints`), validated with
/// `--dnssec` against `--trust-anchor`'s keys.
fn trace(a: &cli::LookupArgs, rtype: Option<hickory_proto::rr::RecordType>) -> Result<Action> {
    use sockit::resolve::trace;
    let ask = &a.dns.ask;
    let asked_more = ask.cd || ask.ad || ask.no_rd || ask.nsid || ask.cookie || ask.padding || ask.no_edns;
    if asked_more || ask.subnet.is_some() || ask.bufsize.is_some() || a.ipv4 || a.ipv6 {
        return Err(usage("--trace asks every server its own questions: of the query flags it takes only --dnssec"));
    }
    if a.trust_anchor.is_some() && !ask.dnssec {
        return Err(usage("--trust-anchor is for validating: add --dnssec"));
    }
    let timeout = timeout(&a.dns)?;
    let read = |flag: &str, path: &std::path::Path| {
        sockit::stdio::read_file_text(path, sockit::stdio::limits::CONFIG)
            .map_err(|e| UsageError(format!("{flag} {}: {e}", path.display())))
    };
    let roots = match &a.root_hints {
        Some(p) => trace::root_hints(&read("--root-hints", p)?)
            .map_err(|e| UsageError(format!("--root-hints {}: {e}", p.display())))?,
        None => trace::iana_root_hints(),
    };
    let anchors = match (&a.trust_anchor, ask.dnssec) {
        (Some(p), _) => Some(
            trace::trust_anchors(&read("--trust-anchor", p)?)
                .map_err(|e| UsageError(format!("--trust-anchor {}: {e}", p.display())))?,
        ),
        (None, true) => Some(trace::iana_trust_anchors()),
        (None, false) => None,
    };
    let configs = a
        .names
        .iter()
        .map(|name| trace::TraceConfig {
            name: name.clone(),
            rtype: rtype.unwrap_or(hickory_proto::rr::RecordType::A),
            roots: roots.clone(),
            anchors: anchors.clone(),
            timeout,
            retries: a.dns.retries,
            tcp: a.dns.tcp,
        })
        .collect();
    Ok(Action::Trace(configs))
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
    let timeout = timeout(dns)?;
    if dns.concurrency == 0 {
        return Err(usage("--concurrency must be at least 1"));
    }
    // `tls://` before the server asks for TLS as --tls does; `quic://` for QUIC; `https://` for
    // HTTPS, its path (`/dns-query` unless given) after the address; `h3://` for HTTPS on HTTP/3.
    let mut https = None;
    let quic = dns.server.as_deref().is_some_and(|s| s.starts_with("quic://"));
    let (server, secure) = match dns.server.as_deref() {
        Some(s) => match (
            s.strip_prefix("tls://").or_else(|| s.strip_prefix("quic://")),
            s.strip_prefix("https://").or_else(|| s.strip_prefix("h3://")),
        ) {
            (Some(rest), _) => (Some(rest), true),
            (_, Some(rest)) => {
                let (host, path) = rest.find('/').map_or((rest, "/dns-query"), |i| rest.split_at(i));
                https = Some(Doh { path: path.to_string(), get: dns.get, h3: s.starts_with("h3://") });
                (Some(host), true)
            }
            _ => (Some(s), false),
        },
        None => (None, false),
    };
    if dns.get && https.is_none() {
        return Err(usage("--get asks over HTTPS: give --server https://ADDRESS/PATH"));
    }
    let mut tls = super::shared::client_tls(&dns.tls)?;
    if secure && tls.is_none() {
        tls = Some(sockit::tls::ClientTls::default());
    }
    let port = match (&https, &tls) {
        (Some(_), _) => 443,
        (None, Some(_)) => 853,
        (None, None) => 53,
    };
    let server = match server {
        Some(s) => Some(endpoint_addr(s, "--server", SocketAddr::from(([0, 0, 0, 0], port))).map_err(|_| {
            UsageError(format!(
                "--server '{s}' is not an address: write it like 192.0.2.53, 192.0.2.53:5353, [::1]:53, tls://192.0.2.53, quic://192.0.2.53, https://192.0.2.53/dns-query or h3://192.0.2.53/dns-query"
            ))
        })?),
        None => None,
    };
    let options = query_options(&dns.ask)?;
    Ok(NamesConfig {
        items,
        file: dns.file.clone(),
        server,
        direct: rtype.is_some() || dns.tcp || tls.is_some() || options != QueryOptions::default(),
        tcp: dns.tcp,
        tls,
        https,
        quic,
        timeout,
        retries: dns.retries,
        concurrency: dns.concurrency,
        rtype,
        families,
        options,
        compare: false,
        rfc8427: false,
    })
}

/// `--timeout`, a number of seconds up to an hour.
fn timeout(dns: &cli::DnsArgs) -> Result<Duration> {
    if !(dns.timeout.is_finite() && dns.timeout > 0.0 && dns.timeout <= 3600.0) {
        return Err(UsageError(format!("--timeout {} is not a time: give seconds, like 2 or 0.5", dns.timeout)));
    }
    Ok(Duration::from_secs_f64(dns.timeout))
}

/// The queries' flags and EDNS options from the command line; showing the reply's header is
/// implied by any of them (what was asked is shown with what came back).
fn query_options(a: &cli::AskArgs) -> Result<QueryOptions> {
    let bufsize = match a.bufsize {
        None => QueryOptions::default().bufsize,
        Some(n) => u16::try_from(n).ok().filter(|&n| n >= 512).ok_or_else(|| {
            UsageError(format!("--bufsize {n} is out of range: give 512 to 65535 bytes (1232 is the usual size)"))
        })?,
    };
    let subnet = a.subnet.as_deref().map(client_subnet).transpose()?;
    let mut o = QueryOptions {
        recursion: !a.no_rd,
        checking_disabled: a.cd,
        authentic_data: a.ad,
        edns: !a.no_edns,
        bufsize,
        dnssec_ok: a.dnssec,
        nsid: a.nsid,
        subnet,
        cookie: a.cookie.then(sockit::resolve::edns::client_cookie),
        padding: a.padding,
        show: false,
    };
    o.show = a.flags || o != QueryOptions::default();
    Ok(o)
}

/// `--subnet ADDR[/LEN]` (as `addr` reads a prefix): its network address, the bits past LEN
/// cleared as RFC 7871 asks, and LEN (the whole address without one).
fn client_subnet(s: &str) -> Result<(IpAddr, u8)> {
    let c = Cidr::parse(s).map_err(|_| {
        UsageError(format!("--subnet '{s}' is not a subnet: write it like 198.51.100.0/24, 2001:db8::/56 or 0.0.0.0/0"))
    })?;
    Ok((c.network(), c.prefix))
}
