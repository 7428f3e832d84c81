//! The one-shot commands of slides 1 to 3 that read this host: info, addr, port, hostname.

use sockit::host::InfoOptions;
use sockit_core::addr::report::{AddrQuery, Asked, QueryError};
use sockit_core::services::{PortQuery, Proto};

use super::{Action, Result, UsageError, usage};
use crate::cli;

/// `info`.
pub(super) fn info(a: cli::InfoArgs) -> Result<Action> {
    let mut opts = InfoOptions::default();
    if let Some(p) = a.resolv_conf {
        opts.resolv_conf = p;
    }
    Ok(Action::Info(opts))
}

/// `addr`.
pub(super) fn addr(a: cli::AddrArgs) -> Result<Action> {
    let mut inputs = vec![a.address];
    inputs.extend(a.others);
    let checked = AddrQuery { inputs, split: a.split, hosts: a.hosts }.check().map_err(|e| match e {
        QueryError::NeedsPrefix { asked, example } => {
            let flag = if asked == Asked::Split { "--split" } else { "--hosts" };
            UsageError(format!("{flag} needs a network: give the address a prefix, like {example}"))
        }
        e => usage(e),
    })?;
    Ok(Action::Addr(checked))
}

/// `port`: each query with its protocol.
pub(super) fn port(a: cli::PortArgs) -> Result<Action> {
    let flag = match (a.tcp, a.udp) {
        (true, _) => Some(Proto::Tcp),
        (_, true) => Some(Proto::Udp),
        _ => None,
    };
    let mut queries: Vec<(PortQuery, Option<Proto>)> = if a.common {
        sockit_core::services::common_queries().into_iter().map(|q| (q, flag)).collect()
    } else {
        Vec::new()
    };
    for q in &a.queries {
        let (query, suffix) = PortQuery::parse_with_proto(q).map_err(usage)?;
        let proto = match (flag, suffix) {
            (Some(f), Some(s)) if f != s => {
                return Err(UsageError(format!("'{q}' asks for {s} where --{f} asks for {f}: drop one of them")));
            }
            (f, s) => s.or(f),
        };
        queries.push((query, proto));
    }
    Ok(Action::Port(sockit::port::PortConfig { queries, flag }))
}

/// `hostname`.
pub(super) fn hostname(a: cli::HostnameArgs) -> Result<Action> {
    Ok(Action::Hostname(sockit::host::HostnameConfig { fqdn: a.fqdn, addresses: a.addresses }))
}
