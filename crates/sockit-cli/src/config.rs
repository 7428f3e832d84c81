//! Raw flags (`cli`) to the typed configuration the library takes. Every usage error (exit 2)
//! is decided here, once; nothing here touches the network or the file system.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use sockit::bridge::BridgeOptions;
use sockit::chat::client::JoinConfig;
use sockit::chat::discovery::DiscoveryConfig;
use sockit::chat::server::ServeConfig;
use sockit::host::InfoOptions;
use sockit::listener::AccessRules;
use sockit::resolve::{Families, NamesConfig};
use sockit::scan::{ScanConfig, ScanPlan};
use sockit::tcp::{ConnectConfig, ListenConfig};
use sockit::tls::{ClientTls, ServerTls};
use sockit::udp::{ReceiveOptions, SendConfig};
use sockit_core::addr::report::AddrQuery;
use sockit_core::addr::{Cidr, parse_ip};
use sockit_core::endpoint::{Endpoint, Host};
use sockit_core::services::{PortQuery, Proto};

use crate::cli::{self, Cli, Command};

/// What the command line asks for, validated.
#[derive(Debug)]
pub struct Config {
    pub json: bool,
    pub verbose: u8,
    pub action: Action,
}

/// One command, ready to run.
#[derive(Debug)]
pub enum Action {
    Info(InfoOptions),
    Addr(AddrQuery),
    Port(sockit::port::PortConfig),
    Hostname(sockit::host::HostnameConfig),
    Lookup(NamesConfig),
    Reverse(NamesConfig),
    UdpListen { config: sockit::udp::ListenConfig, raw: bool },
    UdpSend(SendConfig),
    TcpConnect(ConnectConfig),
    TcpListen(ListenConfig),
    ChatServe(ServeConfig),
    ChatJoin(JoinConfig),
    ChatDiscover(DiscoveryConfig),
    Scan(ScanJob),
    Relay(sockit::relay::RelayConfig),
    Demo,
    Completions(clap_complete::Shell),
    Manpage(Option<std::path::PathBuf>),
}

/// A usage error: one line saying what is wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

type Result<T> = std::result::Result<T, UsageError>;

fn usage(e: impl std::fmt::Display) -> UsageError {
    UsageError(e.to_string())
}

/// The lecture's port for the UDP and TCP demos.
const DEFAULT_PORT: u16 = sockit::net::DEFAULT_PORT;

pub fn from_cli(cli: Cli) -> Result<Config> {
    // Where the output is the bytes or the conversation themselves, JSON has nothing to wrap.
    let bytes_out = match &cli.command {
        Command::Demo => Some("demo (it narrates the lecture)"),
        Command::Chat(cli::ChatCommand::Join(_)) => Some("chat join (its output is the conversation)"),
        Command::Tcp(_) => Some("tcp (its output is the peer's bytes)"),
        _ => None,
    };
    if let (true, Some(what)) = (cli.json, bytes_out) {
        return Err(UsageError(format!("--json has no form for {what}: leave it out")));
    }
    let action = match cli.command {
        Command::Info(a) => {
            let mut opts = InfoOptions::default();
            if let Some(p) = a.resolv_conf {
                opts.resolv_conf = p;
            }
            Action::Info(opts)
        }
        Command::Addr(a) => {
            let mut inputs = vec![a.address];
            inputs.extend(a.others);
            Action::Addr(AddrQuery { inputs, split: a.split, hosts: a.hosts })
        }
        Command::Port(a) => {
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
                        return Err(UsageError(format!(
                            "'{q}' asks for {s} where --{f} asks for {f}: drop one of them"
                        )));
                    }
                    (f, s) => s.or(f),
                };
                queries.push((query, proto));
            }
            Action::Port(sockit::port::PortConfig { queries, flag })
        }
        Command::Hostname(a) => Action::Hostname(sockit::host::HostnameConfig { fqdn: a.fqdn, addresses: a.addresses }),
        Command::Lookup(a) => {
            let rtype = match &a.rtype {
                Some(t) => Some(sockit::resolve::parse_type(t).ok_or_else(|| {
                    UsageError(format!(
                        "--type {t} is not a record type: use A, AAAA, CNAME, MX, NS, PTR, SOA, SRV or TXT"
                    ))
                })?),
                None => None,
            };
            let families = match (a.ipv4, a.ipv6) {
                (true, _) => Families::V4,
                (_, true) => Families::V6,
                _ => Families::Both,
            };
            Action::Lookup(names(a.names, &a.dns, rtype, families)?)
        }
        Command::Reverse(a) => {
            // Addresses typed on the command line must be addresses; a file's bad lines fail
            // one by one.
            for s in &a.addresses {
                parse_ip(s).map_err(usage)?;
            }
            Action::Reverse(names(a.addresses, &a.dns, None, Families::Both)?)
        }
        Command::Udp(cli::UdpCommand::Listen(a)) => {
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
        Command::Udp(cli::UdpCommand::Send(a)) if a.unix.is_some() => {
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
        Command::Udp(cli::UdpCommand::Send(a)) => Action::UdpSend(SendConfig {
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
        Command::Tcp(cli::TcpCommand::Connect(a)) => Action::TcpConnect(ConnectConfig {
            host: host(a.host.as_deref().unwrap_or("localhost"), "HOST")?,
            port: service_port(a.port.as_deref().unwrap_or("0"), Proto::Tcp)?,
            unix: a.unix.clone(),
            dial: sockit::dial::Dialer {
                proxy: proxy(&a.proxy)?,
                timeout: a.connect_timeout.map(Duration::from_secs_f64),
                keepalive: bridge(&a.bridge).keepalive,
                tls: client_tls(&a.tls)?,
            },
            bridge: bridge(&a.bridge),
        }),
        Command::Tcp(cli::TcpCommand::Listen(a)) if a.bridge.hexdump.is_some() && (a.keep_open || a.exec.is_some()) => {
            return Err(usage(
                "-x dumps one connection: leave out --keep-open and --exec, or run one listener a client",
            ));
        }
        Command::Tcp(cli::TcpCommand::Listen(a)) => Action::TcpListen(ListenConfig {
            bind: bind_addr(a.bind.as_deref(), a.port)?,
            rules: AccessRules::new(cidrs(&a.allow, "--allow")?, cidrs(&a.deny, "--deny")?),
            keep_open: a.keep_open,
            max_conns: a.max_conns,
            exec: a.exec,
            tls: server_tls(&a.tls),
            bridge: bridge(&a.bridge),
            unix: a.unix.clone(),
        }),
        Command::Chat(cli::ChatCommand::Serve(a)) => {
            if !(a.rate.is_finite() && a.rate >= 0.0) {
                return Err(usage("--rate must be 0 (off) or a positive number of lines a second"));
            }
            if a.max_line == 0 || a.max_clients == 0 {
                return Err(usage("--max-line and --max-clients must be at least 1"));
            }
            let cluster = cluster(&a)?;
            Action::ChatServe(ServeConfig {
                bind: bind_addr(a.bind.as_deref(), a.port)?,
                discovery_port: (!a.no_discovery).then_some(a.discovery_port),
                tls: server_tls(&a.tls),
                room: a.room,
                max_clients: a.max_clients,
                max_line: a.max_line,
                rate: a.rate,
                web: !a.no_web,
                web_origins: a.web_origin.iter().map(|o| web_origin(o)).collect::<Result<_>>()?,
                history: match a.history {
                    n @ 0..=1000 => n,
                    _ => return Err(usage("--history keeps at most 1000 lines")),
                },
                cluster,
            })
        }
        Command::Chat(cli::ChatCommand::Join(a)) => Action::ChatJoin(JoinConfig {
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
        }),
        Command::Chat(cli::ChatCommand::Discover(a)) => Action::ChatDiscover(discovery(&a.discovery)?),
        Command::Scan(a) => Action::Scan(scan(a)?),
        Command::Relay(a) => Action::Relay(relay(&a)?),
        Command::Demo => Action::Demo,
        Command::Completions { shell } => Action::Completions(shell),
        Command::Manpage { dir } => Action::Manpage(dir),
    };
    Ok(Config { json: cli.json, verbose: cli.verbose, action })
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

/// A scan as asked: the plan, and a file of more targets for the command to read first.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanJob {
    pub plan: ScanPlan,
    pub file: Option<std::path::PathBuf>,
    /// `--yes`: more than 65,536 addresses (the file's included) may be scanned.
    pub yes: bool,
}

fn scan(a: cli::ScanArgs) -> Result<ScanJob> {
    use sockit_core::scan::{Target, parse_ports};
    let ports = parse_ports(&a.ports).map_err(usage)?;
    let targets =
        a.targets.iter().map(|t| Target::parse(t)).collect::<std::result::Result<Vec<_>, _>>().map_err(usage)?;
    let total = targets.iter().fold(0u128, |n, t| n.saturating_add(t.count()));
    if total > sockit_core::scan::LISTED_AT_MOST && !a.yes {
        return Err(UsageError(format!("that is {total} addresses: pass --yes to scan more than 65,536")));
    }
    if !(a.timeout.is_finite() && a.timeout > 0.0 && a.timeout <= 3600.0) {
        return Err(UsageError(format!("--timeout {} is not a time: give seconds, like 1 or 0.25", a.timeout)));
    }
    if a.rate.is_some_and(|r| !(r.is_finite() && (0.001..=100_000_000.0).contains(&r))) {
        return Err(usage("--rate must be a number of connections a second from 0.001 to 100000000"));
    }
    if a.concurrency == 0 {
        return Err(usage("--concurrency must be at least 1"));
    }
    let exclude = a
        .exclude
        .iter()
        .flat_map(|list| list.split(',').map(str::trim).filter(|t| !t.is_empty()))
        .map(|t| match Target::parse(t) {
            Ok(b @ Target::Block { .. }) => Ok(b),
            Ok(_) => Err(UsageError(format!("--exclude {t}: give addresses, ranges or CIDR blocks, not names"))),
            Err(e) => Err(UsageError(format!("--exclude {t}: {e}"))),
        })
        .collect::<Result<Vec<_>>>()?;
    let (file, yes) = (a.file, a.yes);
    let plan = ScanPlan {
        targets,
        specs: a.targets,
        exclude,
        probes: ScanConfig {
            ports,
            concurrency: a.concurrency,
            timeout: Duration::from_secs_f64(a.timeout),
            retries: a.retries,
            rate: a.rate,
            randomize: !a.ordered,
            // Set by the scan from the cores it has.
            workers: 0,
        },
        only_open: a.open,
        banner: a.banner.map(Duration::from_secs_f64),
        proxy: proxy(&a.proxy)?,
    };
    Ok(ScanJob { plan, file, yes })
}

fn bridge(r: &cli::BridgeArgs) -> BridgeOptions {
    BridgeOptions {
        no_shutdown: r.no_shutdown,
        quit_after_eof: r.quit_after.map(Duration::from_secs_f64),
        idle_timeout: r.idle_timeout.map(Duration::from_secs_f64),
        hexdump: hexdump_to(r.hexdump.as_ref()),
        keepalive: r.keepalive.map(|s| Duration::from_secs_f64(s.max(1.0))),
    }
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

/// `--proxy URL` and where names are resolved.
fn proxy(p: &cli::ProxyArgs) -> Result<Option<sockit_core::proxy::Proxy>> {
    p.proxy
        .as_deref()
        .map(|url| {
            let mut proxy = sockit_core::proxy::Proxy::parse(url).map_err(usage)?;
            proxy.remote_dns = !url.to_ascii_lowercase().starts_with("socks5://") || p.proxy_dns == "remote";
            Ok(proxy)
        })
        .transpose()
}

/// `-x` alone dumps on stderr; `-x FILE` into FILE.
fn hexdump_to(x: Option<&std::path::PathBuf>) -> Option<sockit::hexdump::HexdumpTo> {
    x.map(|p| {
        if p.as_os_str() == "-" {
            sockit::hexdump::HexdumpTo::Stderr
        } else {
            sockit::hexdump::HexdumpTo::File(p.clone())
        }
    })
}

/// --tls, or --ca / --insecure / --fingerprint, which imply it.
fn client_tls(t: &cli::TlsClientArgs) -> Result<Option<ClientTls>> {
    let fingerprint = match &t.fingerprint {
        Some(f) => Some(sockit::tls::parse_fingerprint(f).ok_or_else(|| {
            UsageError(format!("--fingerprint '{f}' is not a SHA-256 fingerprint: give 64 hex digits, colons allowed"))
        })?),
        None => None,
    };
    Ok((t.tls || t.ca.is_some() || t.insecure || fingerprint.is_some()).then(|| ClientTls {
        ca: t.ca.clone(),
        insecure: t.insecure,
        fingerprint,
    }))
}

fn server_tls(t: &cli::TlsServerArgs) -> Option<ServerTls> {
    t.tls.then(|| ServerTls { cert: t.cert.clone(), key: t.key.clone() })
}

fn discovery(d: &cli::DiscoveryArgs) -> Result<DiscoveryConfig> {
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

/// PORT as a number or a service name of `proto` (IANA's registry, as `scan -p` takes them).
fn service_port(s: &str, proto: Proto) -> Result<u16> {
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
fn host(s: &str, what: &str) -> Result<Host> {
    match Endpoint::parse(s) {
        Ok(Endpoint { host: Some(h), port: None }) => Ok(h),
        _ => Err(UsageError(format!("{what} '{s}' is not a host: give a name or an address (IPv6 as ::1 or [::1])"))),
    }
}

/// ADDR for --bind, or every IPv4 address, with `port`.
fn bind_addr(bind: Option<&str>, port: u16) -> Result<SocketAddr> {
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
fn endpoint_addr(s: &str, flag: &str, default: SocketAddr) -> Result<SocketAddr> {
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
        name: a.cluster_name.clone(),
        node: a.node.clone(),
        ca: a.cluster_ca.clone(),
    }))
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

/// An address, or an IPv6 address in a zone (whose interface must exist), with its port.
fn address(host: &Host, port: u16) -> Result<SocketAddr> {
    match host {
        Host::Ip(ip) => Ok(SocketAddr::new(*ip, port)),
        Host::Scoped(ip, zone) => sockit::net::scoped(*ip, zone, port).map_err(usage),
        Host::Name(n) => Err(UsageError(format!("'{n}' is not an address"))),
    }
}

/// `relay FROM TO`.
fn relay(a: &cli::RelayArgs) -> Result<sockit::relay::RelayConfig> {
    use sockit::relay::{ConnectTo, ListenOn};
    let from = match a.from.split_once(':') {
        Some(("unix-listen", path)) if !path.is_empty() => ListenOn::Unix(path.to_string()),
        Some((kind @ ("tcp-listen" | "tls-listen"), rest)) => {
            let at = match Endpoint::parse(rest) {
                Ok(Endpoint { host: None, port: Some(p) }) => SocketAddr::from(([0, 0, 0, 0], p)),
                Ok(Endpoint { host: Some(h @ (Host::Ip(_) | Host::Scoped(..))), port: Some(p) }) => address(&h, p)?,
                _ => {
                    return Err(UsageError(format!(
                        "FROM '{kind}:{rest}' needs [ADDR:]PORT, like {kind}:8080 or {kind}:127.0.0.1:8080"
                    )));
                }
            };
            if kind == "tls-listen" {
                ListenOn::Tls(at, ServerTls { cert: a.cert.clone(), key: a.key.clone() })
            } else {
                ListenOn::Tcp(at)
            }
        }
        _ => {
            return Err(UsageError(format!(
                "FROM '{}' is not a place to listen: write tcp-listen:[ADDR:]PORT, tls-listen:[ADDR:]PORT or unix-listen:PATH",
                a.from
            )));
        }
    };
    let to = match a.to.split_once(':') {
        Some(("unix", path)) if !path.is_empty() => ConnectTo::Unix(path.to_string()),
        Some((kind @ ("tcp" | "tls"), rest)) => match Endpoint::parse(rest) {
            Ok(Endpoint { host: Some(h), port: Some(p) }) if kind == "tcp" => ConnectTo::Tcp(h, p),
            Ok(Endpoint { host: Some(h), port: Some(p) }) => {
                ConnectTo::Tls(h, p, client_tls(&a.tls_to)?.unwrap_or_default())
            }
            _ => return Err(UsageError(format!("TO '{kind}:{rest}' needs HOST:PORT, like {kind}:127.0.0.1:80"))),
        },
        _ => {
            return Err(UsageError(format!(
                "TO '{}' is not a place to connect: write tcp:HOST:PORT, tls:HOST:PORT or unix:PATH",
                a.to
            )));
        }
    };
    if a.max_conns == Some(0) {
        return Err(usage("--max-conns must be at least 1"));
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
    })
}

fn cidrs(list: &[String], flag: &str) -> Result<Vec<Cidr>> {
    list.iter().map(|c| Cidr::parse(c).map_err(|e| UsageError(format!("{flag} {c}: {e}")))).collect()
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn config(args: &str) -> Result<Config> {
        let argv = std::iter::once("sockit").chain(args.split_whitespace());
        from_cli(Cli::try_parse_from(argv).map_err(|e| UsageError(e.to_string()))?)
    }

    #[test]
    fn usage_errors_as_a_table() {
        let cases: &[(&str, &str)] = &[
            ("scan 127.0.0.1 --rate 0", "--rate must be a number of connections a second from 0.001 to 100000000"),
            ("scan 127.0.0.1 --rate 1e-20", "--rate must be a number of connections a second from 0.001"),
            ("scan 127.0.0.1 --rate NaN", "--rate must be a number of connections a second from 0.001"),
            ("scan 127.0.0.1 --concurrency 0", "--concurrency must be at least 1"),
            ("scan 127.0.0.1 --timeout 0", "--timeout 0 is not a time: give seconds, like 1 or 0.25"),
            ("scan 0.0.0.0/8", "that is 16777216 addresses: pass --yes to scan more than 65,536"),
            ("scan ::/0", "that is 340282366920938463463374607431768211455 addresses: pass --yes"),
            (
                "lookup a.test --type BOGUS",
                "--type BOGUS is not a record type: use A, AAAA, CNAME, MX, NS, PTR, SOA, SRV or TXT",
            ),
            (
                "lookup a.test --server nope",
                "--server 'nope' is not an address: write it like 192.0.2.53, 192.0.2.53:5353 or [::1]:53",
            ),
            ("lookup a.test --concurrency 0", "--concurrency must be at least 1"),
            ("chat serve --rate=-1", "--rate must be 0 (off) or a positive number of lines a second"),
            ("chat serve --max-line 0", "--max-line and --max-clients must be at least 1"),
            ("chat serve --history 1001", "--history keeps at most 1000 lines"),
            ("chat serve --cluster ,", "--cluster needs a broker URL, like nats://127.0.0.1:4222"),
            (
                "chat serve --cluster ws://u:pw@h:1",
                "--cluster: ws://h:1: the scheme ws:// is not one sockit speaks (nats:// or tls://)",
            ),
            ("chat serve --cluster nats://u:pw@[::1", "--cluster: not a broker URL: nats://[::1"),
            ("chat serve --cluster h:1 --cluster-name a=b", "--cluster-name is 1 to 64 letters, digits"),
            ("chat serve --node x", "error: the following required arguments were not provided"),
            ("chat discover --broadcast x", "--broadcast 'x' is not an address: write it like 192.168.1.255"),
            ("tcp listen --deny 10.0.0.0/33", "--deny 10.0.0.0/33: "),
            ("udp send 127.0.0.1 --bind x:y", "--bind 'x:y' is not a port or an address"),
            ("tcp connect a:b 80", "HOST 'a:b' is not a host"),
            ("chat join 127.0.0.1:", "'127.0.0.1:' has no port after ':'"),
            ("tcp connect ::1 80 --fingerprint AB:CD", "--fingerprint 'AB:CD' is not a SHA-256 fingerprint"),
            ("--json demo", "--json has no form for demo (it narrates the lecture): leave it out"),
            ("chat join --json", "--json has no form for chat join (its output is the conversation)"),
            ("tcp connect 127.0.0.1 80 --json", "--json has no form for tcp (its output is the peer's bytes)"),
            ("tcp connect 127.0.0.1 nosuchservice", "'nosuchservice' is no tcp service: give a port number"),
            ("tcp connect 127.0.0.1 99999", "port 99999 is out of range: ports are 0-65535"),
            ("tcp connect 127.0.0.1 a;b", "'a;b' is not a port or a service name: write 80 or http"),
            ("port 53/udp --tcp", "'53/udp' asks for udp where --tcp asks for tcp: drop one of them"),
        ];
        for (args, want) in cases {
            match config(args) {
                Err(UsageError(got)) => assert!(got.starts_with(want), "{args}: {got}"),
                Ok(c) => panic!("{args}: accepted as {c:?}"),
            }
        }
    }

    #[test]
    fn defaults_and_conversions_as_a_table() {
        let Action::TcpConnect(c) = config("tcp connect ::1 80 --ca x.pem").expect("ok").action else { panic!() };
        assert_eq!(c.host, Host::Ip("::1".parse().expect("ip")));
        assert_eq!(
            c.dial.tls,
            Some(ClientTls { ca: Some("x.pem".into()), insecure: false, fingerprint: None }),
            "--ca implies --tls"
        );
        assert_eq!(c.bridge, BridgeOptions::default());
        let Action::TcpListen(l) = config("tcp listen --tls --keep-open --deny ::ffff:127.0.0.1").expect("ok").action
        else {
            panic!()
        };
        assert_eq!(l.bind, SocketAddr::from(([0, 0, 0, 0], 40000)));
        assert!(l.keep_open && l.tls == Some(ServerTls::default()));
        let Action::ChatServe(s) = config("chat serve --port 0 --no-discovery").expect("ok").action else { panic!() };
        assert_eq!((s.bind.port(), s.discovery_port, s.room.as_str(), s.max_line), (0, None, "sockit", 4096));
        assert_eq!((s.history, s.cluster.as_ref()), (0, None));
        let Action::ChatServe(s) =
            config("chat serve --cluster nats://u:p%40ss@h:4222,tls://h2 --history 5").expect("ok").action
        else {
            panic!()
        };
        let c = s.cluster.expect("cluster");
        assert_eq!((c.urls.len(), c.name.as_str(), c.node, s.history), (2, "sockit", None, 5));
        assert_eq!(sockit::chat::link::without_credentials(&c.urls[0]), "nats://h:4222");
        let Action::ChatJoin(j) = config("chat join [::1]:5000").expect("ok").action else { panic!() };
        assert_eq!(j.server, Some((Host::Ip("::1".parse().expect("ip")), 5000)));
        assert_eq!((j.discovery.targets.len(), j.discovery.port), (0, 40000), "every broadcast address by default");
        let Action::ChatJoin(j) = config("chat join example.test").expect("ok").action else { panic!() };
        assert_eq!(j.server, Some((Host::Name("example.test".into()), 40000)));
        let Action::Lookup(n) = config("lookup a.test --server 127.0.0.1:5353 -4").expect("ok").action else {
            panic!()
        };
        assert_eq!(
            (n.server, n.families, n.direct),
            (Some("127.0.0.1:5353".parse().expect("sa")), Families::V4, false)
        );
        assert_eq!((n.timeout, n.retries, n.concurrency), (Duration::from_secs(2), 2, 64));
        for (server, want) in
            [("127.0.0.1", "127.0.0.1:53"), ("::1", "[::1]:53"), ("[::1]", "[::1]:53"), ("[::1]:5353", "[::1]:5353")]
        {
            let Action::Lookup(n) = config(&format!("lookup a.test --server {server}")).expect("ok").action else {
                panic!()
            };
            assert_eq!(n.server, Some(want.parse().expect("sa")), "{server}");
        }
        let Action::Lookup(n) = config("lookup a.test --type mx").expect("ok").action else { panic!() };
        assert!(n.direct && n.server.is_none(), "--type alone asks resolv.conf's servers");
        let Action::UdpSend(u) = config("udp send 127.0.0.1 --bind 5000").expect("ok").action else { panic!() };
        assert_eq!((u.port, u.bind), (40000, Some(SocketAddr::from(([0, 0, 0, 0], 5000)))));
        let Action::TcpConnect(c) = config("tcp connect 127.0.0.1 http").expect("ok").action else { panic!() };
        assert_eq!(c.port, 80);
        let Action::UdpSend(u) = config("udp send 127.0.0.1 domain x").expect("ok").action else { panic!() };
        assert_eq!(u.port, 53);
        let Action::Port(sockit::port::PortConfig { queries, flag }) = config("port 53/udp 143").expect("ok").action
        else {
            panic!()
        };
        assert_eq!(
            (queries, flag),
            (vec![(PortQuery::Port(53), Some(Proto::Udp)), (PortQuery::Port(143), None)], None)
        );
        let Action::Scan(ScanJob { plan: p, .. }) = config("scan 127.0.0.1 -p ssh,http").expect("ok").action else {
            panic!()
        };
        assert_eq!(p.probes.ports, vec![22, 80]);
        let Action::Scan(ScanJob { plan: p, .. }) = config("scan 127.0.0.1 -p 22,80 --open").expect("ok").action else {
            panic!()
        };
        assert_eq!((p.probes.ports, p.probes.randomize, p.only_open, p.probes.retries), (vec![22, 80], true, true, 1));
        // Any size streams (nothing here scans it): the whole IPv4 and IPv6 spaces are plans.
        let Action::Scan(ScanJob { plan: p, .. }) = config("scan 0.0.0.0/0 --yes -p 80").expect("ok").action else {
            panic!()
        };
        assert_eq!(p.jobs(), 1 << 32);
        let Action::Scan(ScanJob { plan: p, .. }) = config("scan ::/0 10.0.0.0/8 --yes -p 1-2").expect("ok").action
        else {
            panic!()
        };
        assert_eq!(p.jobs(), u128::MAX);
    }
}
