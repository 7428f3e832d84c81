//! The `sockit` binary: parse the command line, call the library, render the result.

mod cli;
mod render;

use std::io::{self, BufWriter, Read, Write};
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use cli::{Cli, Command};
use sockit::exit;
use sockit::host::{self, InfoOptions};
use sockit::resolve::{self, DnsConfig, Families, Method};
use sockit_core::addr::report::{self, AddrQuery};
use sockit_core::services::{self, PortQuery, Proto};

/// How a command failed: the user's mistake (exit 2) or the world's (exit 1).
#[derive(Debug)]
enum Fail {
    Usage(String),
    Runtime(anyhow::Error),
}

impl<E: Into<anyhow::Error>> From<E> for Fail {
    fn from(e: E) -> Self {
        Fail::Runtime(e.into())
    }
}

type Outcome = Result<u8, Fail>;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            let _ = e.print();
            return ExitCode::from(exit::OK);
        }
        Err(e) => {
            // clap's first line says what is wrong; the rest is usage we point to instead.
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("error").trim_start_matches("error: ");
            eprintln!("sockit: {first} (see sockit --help)");
            return ExitCode::from(exit::USAGE);
        }
    };
    init_logging(cli.verbose);
    // Not stdout.lock(): servers write from other threads too, and a lock held here for the
    // whole run would block them. The buffer takes the lock for each flush.
    let mut out = BufWriter::new(io::stdout());
    let result = run(cli, &mut out).and_then(|code| out.flush().map(|_| code).map_err(Fail::from));
    ExitCode::from(match result {
        Ok(code) => code,
        Err(Fail::Usage(msg)) => {
            eprintln!("sockit: {msg}");
            exit::USAGE
        }
        // A reader that went away (`sockit ... | head`) is not a failure.
        Err(Fail::Runtime(e)) if is_broken_pipe(&e) => exit::OK,
        Err(Fail::Runtime(e)) => {
            eprintln!("sockit: {e:#}");
            exit::FAILURE
        }
    })
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe))
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => tracing::Level::WARN,
        1 => tracing::Level::INFO,
        2 => tracing::Level::DEBUG,
        _ => tracing::Level::TRACE,
    };
    let color = std::env::var_os("NO_COLOR").is_none() && io::IsTerminal::is_terminal(&io::stderr());
    tracing_subscriber::fmt().with_max_level(level).with_writer(io::stderr).with_ansi(color).with_target(false).init();
}

fn run(cli: Cli, out: &mut impl Write) -> Outcome {
    let json = cli.json;
    match cli.command {
        Command::Info(a) => {
            let mut opts = InfoOptions::default();
            if let Some(path) = a.resolv_conf {
                opts.resolv_conf = path;
            }
            let info = host::host_info(&opts)?;
            if json {
                render::json(out, &info)?
            } else {
                render::info(out, &info)?
            }
            Ok(exit::OK)
        }
        Command::Addr(a) => {
            let mut inputs = vec![a.address];
            inputs.extend(a.others);
            let query = AddrQuery { inputs, split: a.split, hosts: a.hosts };
            let r = report::report(&query).map_err(|e| Fail::Usage(e.to_string()))?;
            if json {
                render::json(out, &r)?
            } else {
                render::addr(out, &r)?
            }
            match &r.plan {
                Some(plan) if plan.unallocated > 0 => {
                    out.flush()?;
                    Err(Fail::Runtime(anyhow::anyhow!(
                        "{} of {} subnets do not fit in {}: use a larger network or fewer hosts",
                        plan.unallocated,
                        plan.allocations.len(),
                        plan.network
                    )))
                }
                _ => Ok(exit::OK),
            }
        }
        Command::Port(a) => port(a, json, out),
        Command::Hostname(a) => hostname(a, json, out),
        Command::Scan(a) => scan(a, json, out),
        Command::Demo => {
            let mut failed = None;
            let r = sockit::demo::run(&mut |line| {
                if failed.is_none() {
                    failed = writeln!(out, "{line}").and_then(|_| out.flush()).err();
                }
            });
            if let Some(e) = failed {
                return Err(e.into());
            }
            r.map_err(|e| Fail::Runtime(anyhow::anyhow!("the demo stopped: {e}")))?;
            Ok(exit::OK)
        }
        Command::Chat(cli::ChatCommand::Serve(a)) => chat_serve(a, json),
        Command::Chat(cli::ChatCommand::Join(a)) => chat_join(a),
        Command::Chat(cli::ChatCommand::Discover(a)) => chat_discover(a, json, out),
        Command::Udp(cli::UdpCommand::Listen(a)) => udp_listen(a, json, out),
        Command::Udp(cli::UdpCommand::Send(a)) => udp_send(a, json, out),
        Command::Tcp(cli::TcpCommand::Connect(a)) => tcp_connect(a),
        Command::Tcp(cli::TcpCommand::Listen(a)) => tcp_listen(a),
        Command::Lookup(a) => lookup(a, json, out),
        Command::Reverse(a) => reverse(a, json, out),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "sockit", out);
            Ok(exit::OK)
        }
        Command::Manpage => {
            clap_mangen::Man::new(Cli::command()).render(out)?;
            Ok(exit::OK)
        }
    }
}

fn port(a: cli::PortArgs, json: bool, out: &mut impl Write) -> Outcome {
    let mut queries = if a.common { services::common_queries() } else { Vec::new() };
    for q in &a.queries {
        queries.push(PortQuery::parse(q).map_err(|e| Fail::Usage(e.to_string()))?);
    }
    let proto = match (a.tcp, a.udp) {
        (true, _) => Some(Proto::Tcp),
        (_, true) => Some(Proto::Udp),
        _ => None,
    };
    let r = services::report(&host::service_registry(), &queries, proto, host::ephemeral_port_range());
    if json {
        render::json(out, &r)?
    } else {
        render::ports(out, &r)?
    }
    if r.not_found.is_empty() {
        return Ok(exit::OK);
    }
    out.flush()?;
    let what = r.not_found.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ");
    let proto = proto.map_or(String::new(), |p| format!(" for {p}"));
    Err(Fail::Runtime(anyhow::anyhow!(
        "no registered service{proto} matches {what}: check the spelling, or try without --tcp/--udp"
    )))
}

fn hostname(a: cli::HostnameArgs, json: bool, out: &mut impl Write) -> Outcome {
    let name = host::hostname();
    let fqdn = if a.fqdn { Some(resolve::fqdn(&name)?) } else { None };
    let addresses = a.addresses.then(host::own_addresses);
    if json {
        render::json(out, &serde_json::json!({ "hostname": name, "fqdn": fqdn, "addresses": addresses }))?;
    } else if let Some(addrs) = addresses {
        writeln!(out, "{}", addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(" "))?;
    } else {
        writeln!(out, "{}", fqdn.unwrap_or(name))?;
    }
    Ok(exit::OK)
}

/// The resolver the DNS options ask for.
fn method(dns: &cli::DnsArgs, rtype: Option<hickory_proto::rr::RecordType>) -> Result<Method, Fail> {
    if !(dns.timeout.is_finite() && dns.timeout > 0.0 && dns.timeout <= 3600.0) {
        return Err(Fail::Usage(format!("--timeout {} is not a time: give seconds, like 2 or 0.5", dns.timeout)));
    }
    let servers = match &dns.server {
        Some(s) => vec![resolve::parse_server(s).ok_or_else(|| {
            Fail::Usage(format!(
                "--server '{s}' is not an address: write it like 192.0.2.53, 192.0.2.53:5353 or [::1]:53"
            ))
        })?],
        None if rtype.is_some() || dns.tcp => {
            let servers = host::resolv_conf_servers(std::path::Path::new(host::RESOLV_CONF))?;
            if servers.is_empty() {
                return Err(Fail::Runtime(anyhow::anyhow!(
                    "{} lists no nameserver: give one with --server IP",
                    host::RESOLV_CONF
                )));
            }
            servers
        }
        None => return Ok(Method::System),
    };
    let config = DnsConfig {
        servers,
        tcp: dns.tcp,
        timeout: std::time::Duration::from_secs_f64(dns.timeout),
        retries: dns.retries,
    };
    Ok(Method::Direct { config, rtype })
}

/// The names or addresses to work on: the arguments, then the lines of -f FILE.
fn inputs(mut items: Vec<String>, file: Option<&std::path::Path>) -> Result<Vec<String>, Fail> {
    if let Some(path) = file {
        let text = if path == std::path::Path::new("-") {
            io::read_to_string(io::stdin())?
        } else {
            std::fs::read_to_string(path)
                .map_err(|e| Fail::Runtime(anyhow::anyhow!("cannot read {}: {e}", path.display())))?
        };
        items.extend(text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_string));
    }
    Ok(items)
}

/// A progress bar on stderr for bulk work, only when stderr is a terminal.
fn progress(len: usize, bulk: bool) -> indicatif::ProgressBar {
    if bulk && io::IsTerminal::is_terminal(&io::stderr()) {
        let pb = indicatif::ProgressBar::new(len as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {per_sec} eta {eta}") {
            pb.set_style(style);
        }
        pb
    } else {
        indicatif::ProgressBar::hidden()
    }
}

/// Run `work` over `items`, printing answers in order; failures are one line each on
/// stderr (and an error event in JSON). Exit 1 if any failed.
fn resolve_all<T: serde::Serialize + Send>(
    items: &[String],
    concurrency: usize,
    bulk: bool,
    json: bool,
    out: &mut impl Write,
    work: impl Fn(&str) -> Result<T, resolve::ResolveError> + Sync,
    human: impl Fn(&mut dyn Write, &T) -> io::Result<()>,
) -> Outcome {
    let pb = progress(items.len(), bulk);
    let mut failed = 0usize;
    resolve::for_each_ordered(
        items,
        concurrency,
        |s| work(s),
        |i, r| -> io::Result<()> {
            pb.inc(1);
            match r {
                Ok(answer) if json => render::json_event(out, "answer", &answer),
                Ok(answer) => human(out, &answer),
                Err(e) => {
                    failed += 1;
                    if json {
                        let event = serde_json::json!({ "name": items[i], "kind": e.kind(), "error": e.to_string() });
                        render::json_event(out, "error", &event)?;
                    }
                    pb.suspend(|| eprintln!("sockit: {e}"));
                    Ok(())
                }
            }
        },
    )?;
    pb.finish_and_clear();
    Ok(if failed == 0 { exit::OK } else { exit::FAILURE })
}

fn lookup(a: cli::LookupArgs, json: bool, out: &mut impl Write) -> Outcome {
    let rtype = match &a.rtype {
        Some(t) => Some(resolve::parse_type(t).ok_or_else(|| {
            Fail::Usage(format!("--type {t} is not a record type: use A, AAAA, CNAME, MX, NS, PTR, SOA, SRV or TXT"))
        })?),
        None => None,
    };
    let method = method(&a.dns, rtype)?;
    let families = match (a.ipv4, a.ipv6) {
        (true, _) => Families::V4,
        (_, true) => Families::V6,
        _ => Families::Both,
    };
    let names = inputs(a.names, a.dns.file.as_deref())?;
    resolve_all(
        &names,
        a.dns.concurrency,
        a.dns.file.is_some(),
        json,
        out,
        |n| resolve::lookup(&method, n, families),
        |w, ans| render::answer(w, ans),
    )
}

fn reverse(a: cli::ReverseArgs, json: bool, out: &mut impl Write) -> Outcome {
    let method = method(&a.dns, None)?;
    // Addresses typed on the command line must be addresses (exit 2); a file's bad lines fail
    // one by one.
    for s in &a.addresses {
        sockit_core::addr::parse_ip(s).map_err(|e| Fail::Usage(e.to_string()))?;
    }
    let items = inputs(a.addresses, a.dns.file.as_deref())?;
    let work = |s: &str| {
        let ip = sockit_core::addr::parse_ip(s)
            .map_err(|e| resolve::ResolveError::BadName { name: s.to_string(), reason: e.to_string() })?;
        resolve::reverse(&method, ip)
    };
    resolve_all(&items, a.dns.concurrency, a.dns.file.is_some(), json, out, work, |w, ans| render::reverse(w, ans))
}

fn scan(a: cli::ScanArgs, json: bool, out: &mut impl Write) -> Outcome {
    use sockit_core::scan::{Target, parse_ports};
    let usage = |e: &dyn std::fmt::Display| Fail::Usage(e.to_string());
    let ports = parse_ports(&a.ports).map_err(|e| usage(&e))?;
    let targets = a.targets.iter().map(|t| Target::parse(t)).collect::<Result<Vec<_>, _>>().map_err(|e| usage(&e))?;
    let total: u128 = targets.iter().map(Target::count).sum();
    if total > 65_536 && !a.yes {
        return Err(Fail::Usage(format!("that is {total} addresses: pass --yes to scan more than 65,536")));
    }
    if !(a.timeout.is_finite() && a.timeout > 0.0 && a.timeout <= 3600.0) {
        return Err(Fail::Usage(format!("--timeout {} is not a time: give seconds, like 1 or 0.25", a.timeout)));
    }
    if a.rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
        return Err(Fail::Usage("--rate must be a positive number of connections a second".into()));
    }
    if a.concurrency == 0 {
        return Err(Fail::Usage("--concurrency must be at least 1".into()));
    }
    // Names resolve first (the first address the resolver prefers, as nmap does).
    let mut hosts: Vec<render::ScannedHost> = Vec::new();
    for (spec, t) in a.targets.iter().zip(&targets) {
        match t {
            Target::Name(n) => {
                let ans = resolve::system_lookup(n, Families::Both)?;
                hosts.push(render::ScannedHost { name: Some(spec.clone()), address: ans.addresses[0] });
            }
            block => hosts.extend(block.addresses().map(|address| render::ScannedHost { name: None, address })),
        }
    }
    let limit = sockit::net::raise_fd_limit();
    // Leave room for stdio, the epoll descriptors and whatever else the process holds.
    let concurrency = a.concurrency.min(limit.saturating_sub(64).max(1) as usize);
    let cfg = sockit::scan::ScanConfig {
        ports,
        concurrency,
        timeout: std::time::Duration::from_secs_f64(a.timeout),
        retries: a.retries,
        rate: a.rate,
        randomize: !a.ordered,
        workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
    };
    let addrs: Vec<std::net::IpAddr> = hosts.iter().map(|h| h.address).collect();
    let done = std::sync::atomic::AtomicU64::new(0);
    let jobs = (addrs.len() * cfg.ports.len()) as u64;
    let pb = progress(jobs as usize, true);
    let outcome = std::thread::scope(|s| {
        // The ticker wakes every 100 ms, and at once when the scan ends (its sender is
        // dropped): the scan's end is never held up by a ticker asleep.
        let (finished, wake) = std::sync::mpsc::channel::<()>();
        let (pb, done) = (&pb, &done);
        let ticker = s.spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                wake.recv_timeout(std::time::Duration::from_millis(100))
            {
                pb.set_position(done.load(std::sync::atomic::Ordering::Relaxed));
            }
        });
        let r = sockit::scan::scan(&addrs, &cfg, done);
        drop(finished);
        let _ = ticker.join();
        pb.finish_and_clear();
        r
    })?;
    let registry = host::service_registry();
    let report = render::scan_report(&hosts, &cfg.ports, &outcome, &registry, a.open);
    if json {
        render::json(out, &report)?
    } else {
        render::scan(out, &report)?
    }
    Ok(exit::OK)
}

fn usage_net(e: sockit::net::NetError) -> Fail {
    use sockit::net::NetError as N;
    match e {
        N::NeedsBroadcast { .. } | N::TooLarge { .. } => Fail::Usage(e.to_string()),
        other => Fail::Runtime(other.into()),
    }
}

/// `ADDR` for --bind, or the default, with `port`.
fn bind_addr(bind: Option<&str>, port: u16) -> Result<std::net::SocketAddr, Fail> {
    let ip = match bind {
        Some(b) => sockit_core::addr::parse_ip(b).map_err(|e| Fail::Usage(format!("--bind: {e}")))?,
        None => std::net::IpAddr::from([0, 0, 0, 0]),
    };
    Ok(std::net::SocketAddr::new(ip, port))
}

/// One datagram as a line: `SENDER:PORT  text`, `--raw` bytes, or a JSON Lines event.
fn print_datagram(out: &mut impl Write, d: sockit::udp::Datagram<'_>, raw: bool, json: bool) -> io::Result<()> {
    if raw {
        out.write_all(d.data)?;
    } else if json {
        let body = match std::str::from_utf8(d.data) {
            Ok(text) => serde_json::json!({ "from": d.from, "size": d.data.len(), "text": text }),
            Err(_) => {
                serde_json::json!({ "from": d.from, "size": d.data.len(), "base64": sockit_core::text::base64(d.data) })
            }
        };
        render::json_event(out, "datagram", &body)?;
    } else {
        writeln!(out, "{}  {}", d.from, sockit_core::text::escape(d.data))?;
    }
    out.flush()
}

fn udp_listen(a: cli::UdpListenArgs, json: bool, out: &mut impl Write) -> Outcome {
    let addr = bind_addr(a.bind.as_deref(), a.port)?;
    let receiver = sockit::udp::Receiver::bind(addr)?;
    eprintln!("sockit: listening on {} (udp)", receiver.local_addr()?);
    let opts = sockit::udp::ReceiveOptions {
        count: a.count,
        idle_timeout: a.timeout.map(std::time::Duration::from_secs_f64),
        echo: a.echo,
    };
    let (n, stopped) = receiver.run(&opts, |d| print_datagram(out, d, a.raw, json))?;
    match (stopped, a.count) {
        (sockit::udp::Stopped::Idle, Some(want)) if n < want => {
            Err(Fail::Runtime(anyhow::anyhow!("received {n} of {want} datagrams before --timeout")))
        }
        _ => Ok(exit::OK),
    }
}

fn udp_send(a: cli::UdpSendArgs, json: bool, out: &mut impl Write) -> Outcome {
    let target = std::net::SocketAddr::new(sockit::net::resolve_host(&a.host)?, a.port);
    let bind = match &a.bind {
        Some(b) => Some(sockit::net::parse_bind(b).ok_or_else(|| {
            Fail::Usage(format!(
                "--bind '{b}' is not a port or an address: write 40000, 127.0.0.1:40000 or [::1]:40000"
            ))
        })?),
        None => None,
    };
    let sender = sockit::udp::Sender::new(&sockit::udp::SendOptions { target, broadcast: a.broadcast, bind })
        .map_err(usage_net)?;
    let mut sent = 0u64;
    match &a.message {
        Some(m) => {
            sender.send(m.as_bytes()).map_err(usage_net)?;
            sent += 1;
        }
        None if a.raw => {
            // stdin in datagram-sized chunks, each filled as far as stdin allows.
            let mut stdin = io::stdin().lock();
            let mut buf = vec![0u8; sender.limit()];
            loop {
                let mut len = 0;
                while len < buf.len() {
                    match stdin.read(&mut buf[len..])? {
                        0 => break,
                        n => len += n,
                    }
                }
                if len == 0 {
                    break;
                }
                sender.send(&buf[..len])?;
                sent += 1;
            }
        }
        None => {
            for line in io::BufRead::split(io::stdin().lock(), b'\n') {
                let mut line = line?;
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                sender.send(&line).map_err(usage_net)?;
                sent += 1;
            }
        }
    }
    tracing::info!(sent, %target, "datagrams sent");
    if let Some(w) = a.wait_reply {
        sender.replies(std::time::Duration::from_secs_f64(w), |d| print_datagram(out, d, false, json))?;
    }
    Ok(exit::OK)
}

fn relay_options(r: &cli::RelayArgs) -> sockit::tcp::RelayOptions {
    sockit::tcp::RelayOptions {
        no_shutdown: r.no_shutdown,
        quit_after_eof: r.quit_after.map(std::time::Duration::from_secs_f64),
        idle_timeout: r.idle_timeout.map(std::time::Duration::from_secs_f64),
    }
}

fn relay_outcome(stats: sockit::tcp::RelayStats, idle: Option<f64>) -> Outcome {
    tracing::info!(sent = stats.sent, received = stats.received, end = ?stats.end, "relay finished");
    match stats.end {
        sockit::tcp::RelayEnd::Idle => Err(Fail::Runtime(anyhow::anyhow!(
            "no data either way for {} s (--idle-timeout): closed",
            idle.unwrap_or(0.0)
        ))),
        _ => Ok(exit::OK),
    }
}

fn tcp_connect(a: cli::TcpConnectArgs) -> Outcome {
    let addrs: Vec<std::net::SocketAddr> = match sockit_core::addr::parse_ip(&a.host) {
        Ok(ip) => vec![std::net::SocketAddr::new(ip, a.port)],
        Err(_) => resolve::system_lookup(&a.host, Families::Both)?
            .addresses
            .into_iter()
            .map(|ip| std::net::SocketAddr::new(ip, a.port))
            .collect(),
    };
    let stream = sockit::tcp::connect(&addrs, a.connect_timeout.map(std::time::Duration::from_secs_f64))?;
    tracing::info!(peer = ?stream.peer_addr().ok(), "connected");
    let stats = if a.tls {
        let config = sockit::tls::client_config(a.ca.as_deref(), a.insecure)?;
        let conn = rustls::ClientConnection::new(config, sockit::tls::server_name(&a.host)?)
            .map_err(|e| anyhow::anyhow!("TLS: {e}"))?;
        sockit::tls::relay(conn.into(), stream, &relay_options(&a.relay))?
    } else {
        sockit::tcp::relay_stdio(stream, &relay_options(&a.relay))?
    };
    relay_outcome(stats, a.relay.idle_timeout)
}

fn tcp_listen(a: cli::TcpListenArgs) -> Outcome {
    let cidrs = |list: &[String], flag: &str| -> Result<Vec<sockit_core::addr::Cidr>, Fail> {
        list.iter()
            .map(|c| {
                sockit_core::addr::Cidr::parse(c)
                    .map(|c| c.network_cidr())
                    .map_err(|e| Fail::Usage(format!("{flag} {c}: {e}")))
            })
            .collect()
    };
    let rules = sockit::tcp::AccessRules { allow: cidrs(&a.allow, "--allow")?, deny: cidrs(&a.deny, "--deny")? };
    let listener = sockit::tcp::Listener::bind(bind_addr(a.bind.as_deref(), a.port)?)?;
    let local = listener.local_addr()?;
    eprintln!("sockit: listening on {local} (tcp)");
    let tls = if a.tls { Some(tls_server(a.cert.as_deref(), a.key.as_deref(), local)?) } else { None };
    if a.keep_open {
        let opts = sockit::tcp::ManyOptions { max_conns: a.max_conns, rules, exec: a.exec };
        sockit::tcp::serve_many(listener, &opts)?;
        return Ok(exit::OK);
    }
    let (stream, _peer) = listener.accept(&rules)?;
    drop(listener);
    if let Some(cmd) = &a.exec {
        let status = sockit::tcp::exec_for(stream, cmd)?;
        return Ok(if status.success() { exit::OK } else { exit::FAILURE });
    }
    let stats = match tls {
        Some(config) => {
            let conn = rustls::ServerConnection::new(config).map_err(|e| anyhow::anyhow!("TLS: {e}"))?;
            sockit::tls::relay(conn.into(), stream, &relay_options(&a.relay))?
        }
        None => sockit::tcp::relay_stdio(stream, &relay_options(&a.relay))?,
    };
    relay_outcome(stats, a.relay.idle_timeout)
}

fn discovery_targets(d: &cli::DiscoveryArgs) -> Result<Vec<std::net::SocketAddr>, Fail> {
    d.broadcast
        .iter()
        .map(|b| {
            sockit::chat::discovery::parse_target(b, d.discovery_port)
                .ok_or_else(|| Fail::Usage(format!("--broadcast '{b}' is not an address: write it like 192.168.1.255")))
        })
        .collect()
}

fn chat_discover(a: cli::ChatDiscoverArgs, json: bool, out: &mut impl Write) -> Outcome {
    let targets = discovery_targets(&a.discovery)?;
    let found = sockit::chat::discovery::discover(&targets, std::time::Duration::from_secs_f64(a.discovery.timeout))?;
    if json {
        render::json(out, &serde_json::json!({ "servers": found }))?;
    } else {
        for f in &found {
            writeln!(
                out,
                "{:<22} {:<20} {:>6} users  sockit {}",
                f.address.to_string(),
                f.info.room,
                f.info.users,
                f.info.version
            )?;
        }
    }
    if found.is_empty() {
        out.flush()?;
        let to = a.discovery.broadcast.join(", ");
        return Err(Fail::Runtime(anyhow::anyhow!(
            "no chat server answered at {to} (port {}) within {} s",
            a.discovery.discovery_port,
            a.discovery.timeout
        )));
    }
    Ok(exit::OK)
}

fn chat_join(a: cli::ChatJoinArgs) -> Outcome {
    let (addr, host, discovered_tls) = match &a.target {
        Some(t) => {
            let (host, port) = match t.rsplit_once(':') {
                // host:port, but not a bare IPv6 address.
                Some((h, p)) if !h.contains(':') || h.ends_with(']') => {
                    (h.to_string(), sockit_core::services::parse_port(p).map_err(|e| Fail::Usage(e.to_string()))?)
                }
                _ => (t.clone(), sockit::net::DEFAULT_PORT),
            };
            (std::net::SocketAddr::new(sockit::net::resolve_host(&host)?, port), host, false)
        }
        None => {
            let targets = discovery_targets(&a.discovery)?;
            let found =
                sockit::chat::discovery::discover(&targets, std::time::Duration::from_secs_f64(a.discovery.timeout))?;
            let chosen: Vec<_> = found.iter().filter(|f| a.room.as_ref().is_none_or(|r| &f.info.room == r)).collect();
            let f = match chosen.as_slice() {
                [] => {
                    return Err(Fail::Runtime(anyhow::anyhow!(
                        "no chat server{} answered the discovery probe: give HOST[:PORT]",
                        a.room.as_ref().map_or(String::new(), |r| format!(" with room {r}"))
                    )));
                }
                [one] => {
                    eprintln!("sockit: joining {} at {}", one.info.room, one.address);
                    one
                }
                several if io::IsTerminal::is_terminal(&io::stdin()) => {
                    // On a terminal, ask; in a pipe, stdin is the conversation.
                    let pick = sockit::chat::discovery::ask(several, &mut io::stdin().lock(), &mut io::stderr())
                        .ok_or_else(|| Fail::Usage("no chat server chosen: pass --room NAME or HOST[:PORT]".into()))?;
                    several[pick]
                }
                several => {
                    let list: Vec<String> =
                        several.iter().map(|f| format!("{} ({})", f.info.room, f.address)).collect();
                    return Err(Fail::Usage(format!(
                        "several chat servers answered: {}; pass --room NAME or HOST[:PORT]",
                        list.join(", ")
                    )));
                }
            };
            (f.address, f.address.ip().to_string(), f.info.tls)
        }
    };
    let tls = if a.tls || discovered_tls || a.ca.is_some() || a.insecure {
        let config = sockit::tls::client_config(a.ca.as_deref(), a.insecure)?;
        Some((config, sockit::tls::server_name(&host)?))
    } else {
        None
    };
    sockit::chat::client::join(addr, a.nick.as_deref(), Some(std::time::Duration::from_secs(5)), tls)?;
    Ok(exit::OK)
}

/// A TLS server configuration for a listener on `local`: from the PEM files, or self-signed
/// (for localhost, the address and the host name); its fingerprint is said on stderr.
fn tls_server(
    cert: Option<&std::path::Path>,
    key: Option<&std::path::Path>,
    local: std::net::SocketAddr,
) -> Result<std::sync::Arc<rustls::ServerConfig>, Fail> {
    let names = vec!["localhost".to_string(), local.ip().to_string(), host::hostname()];
    let (config, fp) = sockit::tls::server_config(cert, key, &names)?;
    eprintln!("sockit: TLS certificate SHA-256 fingerprint {fp}");
    Ok(config)
}

fn chat_serve(a: cli::ChatServeArgs, json: bool) -> Outcome {
    use sockit::chat::server::{Event, ServerConfig};
    if !(a.rate.is_finite() && a.rate >= 0.0) {
        return Err(Fail::Usage("--rate must be 0 (off) or a positive number of lines a second".into()));
    }
    if a.max_line == 0 || a.max_clients == 0 {
        return Err(Fail::Usage("--max-line and --max-clients must be at least 1".into()));
    }
    sockit::net::raise_fd_limit();
    let addr = bind_addr(a.bind.as_deref(), a.port)?;
    let listener = sockit::tcp::Listener::bind(addr)?;
    let local = listener.local_addr()?;
    let udp = if a.no_discovery {
        None
    } else {
        // Every address: a socket bound to one address never hears broadcasts.
        let any = std::net::SocketAddr::new(std::net::IpAddr::from([0, 0, 0, 0]), a.discovery_port);
        let sock = sockit::net::bound_socket(any, socket2::Type::DGRAM)?;
        let sock: std::net::UdpSocket = sock.into();
        Some(sock)
    };
    let discovery_note = match &udp {
        Some(u) => format!(", discovery on {} (udp)", u.local_addr()?),
        None => String::new(),
    };
    eprintln!("sockit: chat room {} on {local} (tcp{}){discovery_note}", a.room, if a.tls { ", TLS" } else { "" });
    let tls = if a.tls { Some(tls_server(a.cert.as_deref(), a.key.as_deref(), local)?) } else { None };
    let cfg = ServerConfig {
        tls,
        room: a.room,
        max_clients: a.max_clients,
        max_line: a.max_line,
        rate: a.rate,
        ..Default::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let std_listener = listener.into_std();
        std_listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(std_listener)?;
        let udp = match udp {
            Some(u) => {
                u.set_nonblocking(true)?;
                Some(tokio::net::UdpSocket::from_std(u)?)
            }
            None => None,
        };
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Event>(65_536);
        let console = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let mut stdout = tokio::io::stdout();
            while let Some(e) = rx.recv().await {
                let line = if json { serde_json::to_string(&e).unwrap_or_default() } else { render::chat_event(&e) };
                if stdout.write_all(format!("{line}\n").as_bytes()).await.is_err() {
                    break;
                }
                let _ = stdout.flush().await;
            }
        });
        let shutdown = async {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
            }
        };
        sockit::chat::server::run(listener, cfg, tx, udp, shutdown).await?;
        let _ = console.await;
        Ok::<(), std::io::Error>(())
    })?;
    Ok(exit::OK)
}
