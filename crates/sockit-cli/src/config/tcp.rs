//! TCP streams: `tcp connect` and `tcp listen` (stdio bridged to a connection), and `relay`
//! (port forwarding).

use std::net::SocketAddr;
use std::time::Duration;

use sockit::bridge::BridgeOptions;
use sockit::listener::AccessRules;
use sockit::tcp::{ConnectConfig, ListenConfig};
use sockit::tls::ServerTls;
use sockit_core::endpoint::{Endpoint, Host};
use sockit_core::services::Proto;

use super::shared::{
    address, bind_addr, cidrs, client_tls, endpoint_addr, hexdump_to, host, proxy, server_tls, service_port,
};
use super::{Action, Result, UsageError, usage};
use crate::cli;

/// `tcp connect` or `tcp listen`.
pub(super) fn tcp(cmd: cli::TcpCommand) -> Result<Action> {
    Ok(match cmd {
        cli::TcpCommand::Connect(a) => Action::TcpConnect(ConnectConfig {
            host: host(a.host.as_deref().unwrap_or("localhost"), "HOST")?,
            port: service_port(a.port.as_deref().unwrap_or("0"), Proto::Tcp)?,
            unix: a.unix.clone(),
            dial: sockit::dial::Dialer {
                proxy: proxy(&a.proxy)?,
                timeout: a.connect_timeout.map(Duration::from_secs_f64),
                keepalive: bridge(&a.bridge).keepalive,
                tls: client_tls(&a.tls)?,
                source: sockit::dial::Source {
                    ip: a
                        .source
                        .as_deref()
                        .map(|s| {
                            sockit_core::addr::parse_ip(s).map_err(|_| {
                                UsageError(format!(
                                    "--source '{s}' is not an address: give one of this host's, like 192.0.2.7"
                                ))
                            })
                        })
                        .transpose()?,
                    port: a.source_port.unwrap_or(0),
                },
            },
            bridge: bridge(&a.bridge),
        }),
        cli::TcpCommand::Listen(a) if a.bridge.hexdump.is_some() && (a.keep_open || a.exec.is_some()) => {
            return Err(usage(
                "-x dumps one connection: leave out --keep-open and --exec, or run one listener a client",
            ));
        }
        cli::TcpCommand::Listen(a)
            if (a.bridge.crlf || a.bridge.send_only || a.bridge.recv_only) && (a.keep_open || a.exec.is_some()) =>
        {
            return Err(usage(
                "--crlf, --send-only and --recv-only shape one connection's stdio: leave out --keep-open and --exec",
            ));
        }
        cli::TcpCommand::Listen(a) if a.bridge.stats && (a.keep_open || a.exec.is_some()) => {
            return Err(usage(
                "--stats tells of one connection: leave out --keep-open and --exec (--metrics counts many)",
            ));
        }
        cli::TcpCommand::Listen(a) if a.endpoint.metrics.is_some() && (!a.keep_open || a.exec.is_some()) => {
            return Err(usage("--metrics counts the clients of --keep-open: add it (without --exec)"));
        }
        cli::TcpCommand::Listen(a) => Action::TcpListen(ListenConfig {
            bind: bind_addr(a.bind.as_deref(), a.port)?,
            rules: AccessRules::new(cidrs(&a.allow, "--allow")?, cidrs(&a.deny, "--deny")?),
            keep_open: a.keep_open,
            max_conns: a.max_conns,
            exec: a.exec,
            tls: server_tls(&a.tls),
            bridge: bridge(&a.bridge),
            unix: a.unix.clone(),
            metrics: a.endpoint.metrics.as_deref().map(|m| endpoint_addr(m, "--metrics", LOOPBACK)).transpose()?,
        }),
    })
}

/// Where `--metrics PORT` listens: this host only.
const LOOPBACK: std::net::SocketAddr =
    std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);

fn bridge(r: &cli::BridgeArgs) -> BridgeOptions {
    BridgeOptions {
        no_shutdown: r.no_shutdown,
        quit_after_eof: r.quit_after.map(Duration::from_secs_f64),
        idle_timeout: r.idle_timeout.map(Duration::from_secs_f64),
        hexdump: hexdump_to(r.hexdump.as_ref()),
        keepalive: r.keepalive.map(|s| Duration::from_secs_f64(s.max(1.0))),
        crlf: r.crlf,
        send_only: r.send_only,
        recv_only: r.recv_only,
        stats: r.stats,
    }
}

/// `relay FROM TO`.
pub(super) fn relay(a: &cli::RelayArgs) -> Result<sockit::relay::RelayConfig> {
    use sockit::relay::{ConnectTo, ListenOn};
    let from = match a.from.split_once(':') {
        Some(("unix-listen", path)) if !path.is_empty() => ListenOn::Unix(path.to_string()),
        Some((kind @ ("tcp-listen" | "tls-listen" | "udp-listen"), rest)) => {
            let at = match Endpoint::parse(rest) {
                Ok(Endpoint { host: None, port: Some(p) }) => SocketAddr::from(([0, 0, 0, 0], p)),
                Ok(Endpoint { host: Some(h @ (Host::Ip(_) | Host::Scoped(..))), port: Some(p) }) => address(&h, p)?,
                _ => {
                    return Err(UsageError(format!(
                        "FROM '{kind}:{rest}' needs [ADDR:]PORT, like {kind}:8080 or {kind}:127.0.0.1:8080"
                    )));
                }
            };
            match kind {
                "tls-listen" => ListenOn::Tls(at, ServerTls { cert: a.cert.clone(), key: a.key.clone() }),
                "udp-listen" => ListenOn::Udp(at),
                _ => ListenOn::Tcp(at),
            }
        }
        _ => {
            return Err(UsageError(format!(
                "FROM '{}' is not a place to listen: write tcp-listen:[ADDR:]PORT, tls-listen:[ADDR:]PORT, udp-listen:[ADDR:]PORT or unix-listen:PATH",
                a.from
            )));
        }
    };
    let to = match a.to.split_once(':') {
        Some(("unix", path)) if !path.is_empty() => ConnectTo::Unix(path.to_string()),
        Some((kind @ ("tcp" | "tls" | "udp"), rest)) => match Endpoint::parse(rest) {
            Ok(Endpoint { host: Some(h), port: Some(p) }) if kind == "tcp" => ConnectTo::Tcp(h, p),
            Ok(Endpoint { host: Some(h), port: Some(p) }) if kind == "udp" => ConnectTo::Udp(h, p),
            Ok(Endpoint { host: Some(h), port: Some(p) }) => {
                ConnectTo::Tls(h, p, client_tls(&a.tls_to)?.unwrap_or_default())
            }
            _ => return Err(UsageError(format!("TO '{kind}:{rest}' needs HOST:PORT, like {kind}:127.0.0.1:80"))),
        },
        _ => {
            return Err(UsageError(format!(
                "TO '{}' is not a place to connect: write tcp:HOST:PORT, tls:HOST:PORT, udp:HOST:PORT or unix:PATH",
                a.to
            )));
        }
    };
    // Datagrams go to datagrams: udp-listen: with udp: and nothing else.
    match (&from, &to) {
        (ListenOn::Udp(_), ConnectTo::Udp(..)) if a.proxy.proxy.is_some() => {
            return Err(usage("a UDP relay goes straight to its target: leave out --proxy"));
        }
        (ListenOn::Udp(_), ConnectTo::Udp(..)) => {}
        (ListenOn::Udp(_), _) | (_, ConnectTo::Udp(..)) => {
            return Err(UsageError(format!(
                "'{}' to '{}': a relay forwards datagrams from udp-listen: to udp: only, and streams to streams",
                a.from, a.to
            )));
        }
        _ => {}
    }
    if a.max_conns == Some(0) {
        return Err(usage("--max-conns must be at least 1"));
    }
    if a.endpoint.metrics.is_some() && matches!(from, ListenOn::Udp(_)) {
        return Err(usage("--metrics counts connections: a UDP relay has none (leave it out)"));
    }
    Ok(sockit::relay::RelayConfig {
        from,
        to,
        rules: AccessRules::new(cidrs(&a.allow, "--allow")?, cidrs(&a.deny, "--deny")?),
        max_conns: a.max_conns,
        proxy: proxy(&a.proxy)?,
        connect_timeout: Duration::from_secs_f64(a.connect_timeout),
        hexdump: hexdump_to(a.hexdump.as_ref()),
        keepalive: a.keepalive.map(|s| Duration::from_secs_f64(s.max(1.0))),
        half_close_idle: match a.half_close_idle {
            0.0 => None,
            s if s.is_finite() && s > 0.0 && s <= 31_536_000.0 => Some(Duration::from_secs_f64(s)),
            _ => return Err(usage("--half-close-idle is seconds, like 60 or 0.5 (0: never)")),
        },
        udp_idle: Duration::from_secs_f64(a.udp_idle),
        metrics: a.endpoint.metrics.as_deref().map(|m| endpoint_addr(m, "--metrics", LOOPBACK)).transpose()?,
    })
}
