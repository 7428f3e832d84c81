//! `chat serve`, `chat join` and `chat discover`: the room, its browsers and cluster, and how
//! a client finds it.

use std::time::Duration;

use sockit::chat::client::JoinConfig;
use sockit::chat::discovery::DiscoveryConfig;
use sockit::chat::server::ServeConfig;
use sockit_core::endpoint::{Endpoint, Host};

use super::DEFAULT_PORT;
use super::shared::{address, bind_addr, cidrs, client_tls, proxy, server_tls};
use super::{Action, Result, UsageError, usage};
use crate::cli;
use sockit::listener::AccessRules;

/// `chat serve`.
pub(super) fn serve(a: cli::ChatServeArgs) -> Result<Action> {
    if !(a.rate.is_finite() && a.rate >= 0.0) {
        return Err(usage("--rate must be 0 (off) or a positive number of lines a second"));
    }
    if a.max_line == 0 || a.max_clients == 0 {
        return Err(usage("--max-line and --max-clients must be at least 1"));
    }
    let cluster = cluster(&a)?;
    Ok(Action::ChatServe(ServeConfig {
        bind: bind_addr(a.bind.as_deref(), a.port)?,
        discovery_port: (!a.no_discovery).then_some(a.discovery_port),
        tls: server_tls(&a.tls),
        room: a.room,
        max_clients: a.max_clients,
        max_line: a.max_line,
        rate: a.rate,
        web: !a.no_web,
        web_origins: a.web_origin.iter().map(|o| web_origin(o)).collect::<Result<_>>()?,
        web_hosts: a.web_host.iter().map(|h| web_host(h)).collect::<Result<_>>()?,
        motd: a.motd,
        irc_name: match a.irc_name {
            Some(n) if !sockit_core::names::cluster_name_ok(&n) => {
                return Err(usage("--irc-name is 1 to 64 letters, digits, '.', '-' or '_', like irc.example.org"));
            }
            n => n,
        },
        metrics_allow: match &a.metrics_allow[..] {
            [] => AccessRules::loopback(),
            given => AccessRules::new(cidrs(given, "--metrics-allow")?, Vec::new()),
        },
        history: match a.history {
            n @ 0..=1000 => n,
            _ => return Err(usage("--history keeps at most 1000 lines")),
        },
        cluster,
        pages: Vec::new(),
    }))
}

/// The room `sockit lab --web` serves its diagram beside: on `bind`, with the page, no
/// discovery, the defaults of `chat serve`.
pub(super) fn lab_room(bind: std::net::SocketAddr) -> ServeConfig {
    ServeConfig {
        bind,
        discovery_port: None,
        tls: None,
        room: "lab".into(),
        max_clients: 100,
        max_line: 4096,
        rate: 0.0,
        web: true,
        web_origins: Vec::new(),
        web_hosts: Vec::new(),
        motd: None,
        irc_name: None,
        metrics_allow: AccessRules::loopback(),
        history: 0,
        cluster: None,
        pages: Vec::new(),
    }
}

/// `chat join`.
pub(super) fn join(a: cli::ChatJoinArgs) -> Result<Action> {
    Ok(Action::ChatJoin(JoinConfig {
        server: match &a.target {
            Some(t) => {
                let e = Endpoint::parse(t).map_err(usage)?;
                match e.host {
                    Some(h) => Some((h, e.port.unwrap_or(DEFAULT_PORT))),
                    None => return Err(UsageError(format!("'{t}' names no host: write HOST or HOST:PORT"))),
                }
            }
            None => None,
        },
        nick: a.nick,
        room: a.room,
        tls: client_tls(&a.tls)?,
        discovery: discovery(&a.discovery)?,
        proxy: match (proxy(&a.proxy)?, &a.target) {
            (Some(_), None) => {
                return Err(usage("--proxy needs the server's HOST: discovery does not go through proxies"));
            }
            (p, _) => p,
        },
    }))
}

pub(super) fn discovery(d: &cli::DiscoveryArgs) -> Result<DiscoveryConfig> {
    let targets = d
        .broadcast
        .iter()
        .map(|b| match Endpoint::parse(b) {
            Ok(Endpoint { host: Some(h @ (Host::Ip(_) | Host::Scoped(..))), port }) => {
                address(&h, port.unwrap_or(d.discovery_port))
            }
            _ => Err(UsageError(format!("--broadcast '{b}' is not an address: write it like 192.168.1.255"))),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(DiscoveryConfig { targets, port: d.discovery_port, wait: Duration::from_secs_f64(d.timeout) })
}

/// `--cluster URLS` and its companions; the URLs are checked here, the broker is asked at
/// start. Messages show a URL without its credentials.
fn cluster(a: &cli::ChatServeArgs) -> Result<Option<sockit::chat::link::ClusterConfig>> {
    use sockit_core::names::{MAX_CLUSTER, MAX_NODE, cluster_name_ok, name_ok};
    let Some(list) = &a.cluster else { return Ok(None) };
    let urls: Vec<String> = list.split(',').map(str::trim).filter(|u| !u.is_empty()).map(String::from).collect();
    if urls.is_empty() {
        return Err(usage("--cluster needs a broker URL, like nats://127.0.0.1:4222"));
    }
    for u in &urls {
        sockit::chat::link::check_url(u).map_err(|e| UsageError(format!("--cluster: {e}")))?;
    }
    if !cluster_name_ok(&a.cluster_name) {
        return Err(UsageError(format!(
            "--cluster-name is 1 to {MAX_CLUSTER} letters, digits, '.', '-' or '_': {}",
            sockit_core::text::escape(a.cluster_name.as_bytes())
        )));
    }
    if let Some(n) = &a.node
        && !name_ok(n, MAX_NODE)
    {
        return Err(UsageError(format!("--node is 1 to {MAX_NODE} printable characters without spaces")));
    }
    Ok(Some(sockit::chat::link::ClusterConfig {
        urls,
        credentials: a.cluster_credentials.clone(),
        key: a.cluster_key.clone(),
        name: a.cluster_name.clone(),
        node: a.node.clone(),
        ca: a.cluster_ca.clone(),
    }))
}

/// `--web-host`: a host name as a Host header gives it (letters, digits, '-', '.').
fn web_host(h: &str) -> Result<String> {
    let name = h.trim_end_matches('.').to_ascii_lowercase();
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .split('.')
            .all(|l| !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    if ok {
        Ok(name)
    } else {
        Err(UsageError(format!("--web-host '{h}' is not a host name: write it like chat.example.org")))
    }
}

/// `--web-origin`: a scheme (http or https) and a host with an optional port, as browsers send
/// it in Origin (a trailing `/` is dropped).
fn web_origin(o: &str) -> Result<String> {
    let trimmed = o.strip_suffix('/').unwrap_or(o);
    match trimmed.split_once("://") {
        Some(("http" | "https", host))
            if !host.is_empty() && host.bytes().all(|b| b.is_ascii_graphic() && b != b'/') =>
        {
            Ok(trimmed.to_string())
        }
        _ => Err(UsageError(format!("--web-origin '{o}' is not an origin: write it like http://class.example:8080"))),
    }
}
