//! `udp listen` and `udp send`: datagrams, broadcast, multicast, Unix datagram sockets.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use sockit::udp::{ReceiveOptions, SendConfig};
use sockit_core::addr::parse_ip;
use sockit_core::endpoint::Host;
use sockit_core::services::Proto;

use super::shared::{bind_addr, endpoint_addr, hexdump_to, host, service_port};
use super::{Action, Result, UsageError, usage};
use crate::cli;

/// `udp listen` or `udp send`.
pub(super) fn udp(cmd: cli::UdpCommand) -> Result<Action> {
    Ok(match cmd {
        cli::UdpCommand::Listen(a) => {
            let join = groups(&a.join, a.iface.as_deref())?;
            let v6_group = join.iter().any(|(g, _)| g.is_ipv6());
            Action::UdpListen {
                config: sockit::udp::ListenConfig {
                    bind: match (a.bind.as_deref(), v6_group) {
                        // An IPv6 group is heard on an IPv6 socket.
                        (None, true) => SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, a.port)),
                        (b, _) => bind_addr(b, a.port)?,
                    },
                    receive: ReceiveOptions {
                        count: a.count,
                        idle_timeout: a.timeout.map(Duration::from_secs_f64),
                        echo: a.echo,
                    },
                    hexdump: hexdump_to(a.hexdump.as_ref()),
                    unix: a.unix.clone(),
                    join,
                },
                raw: a.raw,
            }
        }
        cli::UdpCommand::Send(a) if a.unix.is_some() => {
            // `udp send --unix PATH [MESSAGE]`: the one positional is the message.
            if a.message.is_some() || a.port != "40000" {
                return Err(usage("with --unix, give at most one MESSAGE: udp send --unix PATH [MESSAGE]"));
            }
            Action::UdpSend(SendConfig {
                host: Host::Name("localhost".into()),
                port: 0,
                broadcast: false,
                bind: None,
                message: a.host.clone(),
                raw: a.raw,
                wait_reply: None,
                hexdump: hexdump_to(a.hexdump.as_ref()),
                multicast: sockit::udp::Multicast::default(),
                unix: a.unix.clone(),
            })
        }
        cli::UdpCommand::Send(a) => Action::UdpSend(SendConfig {
            host: host(a.host.as_deref().unwrap_or_default(), "HOST")?,
            port: service_port(&a.port, Proto::Udp)?,
            broadcast: a.broadcast,
            bind: match &a.bind {
                Some(b) => Some(endpoint_addr(b, "--bind", SocketAddr::from(([0, 0, 0, 0], 0)))?),
                None => None,
            },
            message: a.message,
            raw: a.raw,
            wait_reply: a.wait_reply.map(Duration::from_secs_f64),
            hexdump: hexdump_to(a.hexdump.as_ref()),
            multicast: sockit::udp::Multicast { ttl: a.ttl, iface: a.iface, looped: a.looped },
            unix: None,
        }),
    })
}

/// `--join GROUP`s: multicast addresses, each to be joined on `iface`.
fn groups(list: &[String], iface: Option<&str>) -> Result<Vec<(IpAddr, Option<String>)>> {
    list.iter()
        .map(|g| match parse_ip(g) {
            Ok(ip) if ip.is_multicast() => Ok((ip, iface.map(str::to_string))),
            _ => Err(UsageError(format!(
                "--join {g}: not a multicast group: IPv4 groups are 224.0.0.0/4 (239.1.2.3), IPv6 ff00::/8 (ff12::1234)"
            ))),
        })
        .collect()
}
