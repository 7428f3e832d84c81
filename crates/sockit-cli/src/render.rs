//! Results to text: human-readable (laid out like the lecture's slides) or JSON.
//! Every function writes to a `Write` and returns its error, so a closed pipe ends the
//! program quietly instead of panicking.

use std::io::{self, Write};

use serde::Serialize;
use sockit::host::HostInfo;
use sockit_core::addr::report::{AddrReport, Described};
use sockit_core::addr::{Classification, Count, Route, SubnetInfo, subnet};
use sockit_core::scan::{HostReport, PortResult, PortState, ScanReport, ScanTotals};
use sockit_core::services::{PortClass, PortReport};

/// Write one JSON document.
pub fn json<T: Serialize>(out: &mut (impl Write + ?Sized), value: &T) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)
}

/// Write one JSON Lines event: the value's fields with `"type"` first.
pub fn json_event<T: Serialize>(out: &mut (impl Write + ?Sized), kind: &str, value: &T) -> io::Result<()> {
    let mut obj = serde_json::Map::new();
    obj.insert("type".into(), kind.into());
    match serde_json::to_value(value)? {
        serde_json::Value::Object(fields) => obj.extend(fields),
        other => {
            obj.insert("value".into(), other);
        }
    }
    serde_json::to_writer(&mut *out, &obj)?;
    writeln!(out)
}

/// A label column wide enough for every label used.
const W: usize = 13;

pub fn info(out: &mut (impl Write + ?Sized), h: &HostInfo) -> io::Result<()> {
    writeln!(out, "{:W$} {}", "Hostname", h.hostname)?;
    for i in &h.interfaces {
        let mut notes = vec![if i.up { "up" } else { "down" }.to_string()];
        if i.state != "up" && i.state != "down" {
            notes.push(format!("state {}", i.state));
        }
        if i.loopback {
            notes.push("loopback".into());
        }
        if let Some(m) = &i.mac {
            notes.push(format!("mac {m}"));
        }
        if let Some(m) = i.mtu {
            notes.push(format!("mtu {m}"));
        }
        writeln!(out, "\nInterface {} ({})", i.name, notes.join(", "))?;
        for a in &i.ipv4 {
            writeln!(out, "  {:W$} {}/{}", "IP address", a.address, a.prefix)?;
            if let Some(p) = a.peer {
                writeln!(out, "  {:W$} {p} (point-to-point)", "Peer")?;
            }
            writeln!(out, "  {:W$} {}", "Netmask", a.netmask)?;
            writeln!(out, "  {:W$} {}/{}", "Network", a.network, a.prefix)?;
            if let Some(b) = a.broadcast {
                writeln!(out, "  {:W$} {}", "Broadcast", b)?;
            }
            writeln!(out, "  {:W$} {} (class {})", "Kind", a.kind, a.class)?;
        }
        for a in &i.ipv6 {
            write!(out, "  {:W$} {}/{} ({})", "IPv6 address", a.address, a.prefix, a.kind)?;
            match a.peer {
                Some(p) => writeln!(out, ", peer {p}")?,
                None => writeln!(out)?,
            }
        }
        if i.ipv4.is_empty() && i.ipv6.is_empty() {
            writeln!(out, "  (no addresses)")?;
        }
    }
    writeln!(out)?;
    if h.routers.is_empty() {
        writeln!(out, "{:W$} none (no default route)", "Router")?;
    }
    for r in &h.routers {
        writeln!(out, "{:W$} {} via {}", "Router", r.address, r.interface)?;
    }
    let servers = |list: &[sockit_core::resolv_conf::Nameserver]| {
        list.iter()
            .map(|n| match &n.zone {
                Some(z) => format!("{}%{z}", n.address),
                None => n.address.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let dns = &h.dns;
    let listed = if dns.nameservers.is_empty() { "none".to_string() } else { servers(&dns.nameservers) };
    writeln!(out, "{:W$} {} (from {})", "DNS servers", listed, dns.source.display())?;
    if let Some(up) = &dns.upstream {
        writeln!(out, "{:W$} {} (the local stub forwards to these)", "DNS upstream", servers(up))?;
    }
    if !dns.search.is_empty() {
        writeln!(out, "{:W$} {}", "Search", dns.search.join(" "))?;
    }
    Ok(())
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn kind_line(c: &Classification) -> String {
    let mut s = match c.blocks.first() {
        Some(b) => {
            format!("{} ({}, {}, {})", c.kind, b.name, b.block.0.to_string() + "/" + &b.block.1.to_string(), b.rfc)
        }
        None => "global unicast".to_string(),
    };
    if let Some(class) = c.classful {
        s.push_str(&format!(", class {class}"));
    }
    s
}

fn hosts_line(s: &SubnetInfo) -> String {
    let total = s.total_addresses.to_string();
    format!("{} usable of {total} address{}", s.usable_hosts, if total == "1" { "" } else { "es" })
}

fn described(out: &mut (impl Write + ?Sized), d: &Described) -> io::Result<()> {
    let c = &d.classification;
    writeln!(out, "{:W$} {}", "Address", d.address)?;
    if let Some(z) = &d.zone {
        writeln!(out, "{:W$} {z} (the interface this address is on)", "Zone")?;
    }
    writeln!(out, "{:W$} {}", "Kind", kind_line(c))?;
    writeln!(out, "{:W$} {}", "Private", yes_no(c.private))?;
    writeln!(out, "{:W$} {}", "Global", yes_no(c.globally_reachable))?;
    if let Some(v4) = &d.ipv4 {
        writeln!(out, "{:W$} {} ({})", "IPv4 inside", v4.address, kind_line(&v4.classification))?;
    }
    if let Some(s) = &d.subnet {
        writeln!(out, "{:W$} /{}", "Prefix", s.prefix)?;
        writeln!(out, "{:W$} {}", "Netmask", s.netmask)?;
        writeln!(out, "{:W$} {}", "Wildcard", s.wildcard)?;
        writeln!(out, "{:W$} {}/{}", "Network", s.network, s.prefix)?;
        match s.broadcast {
            Some(b) => writeln!(out, "{:W$} {}", "Broadcast", b)?,
            None => writeln!(out, "{:W$} none", "Broadcast")?,
        }
        writeln!(out, "{:W$} {}", "First host", s.first_host)?;
        writeln!(out, "{:W$} {}", "Last host", s.last_host)?;
        writeln!(out, "{:W$} {}", "Hosts", hosts_line(s))?;
    }
    Ok(())
}

pub fn addr(out: &mut (impl Write + ?Sized), r: &AddrReport) -> io::Result<()> {
    for (n, d) in r.addresses.iter().enumerate() {
        if n > 0 {
            writeln!(out)?;
        }
        described(out, d)?;
    }
    if !r.compare.is_empty() {
        let net = r.addresses[0].subnet.as_ref().map(|s| format!("{}/{}", s.network, s.prefix)).unwrap_or_default();
        let width = r.compare.iter().map(|c| c.address.to_string().len()).max().unwrap_or(0);
        writeln!(out)?;
        for c in &r.compare {
            let verdict = match c.route {
                Route::Direct => format!("same subnet ({net}): spoken to directly"),
                Route::ViaRouter if c.address.is_ipv4() != r.addresses[0].address.is_ipv4() => {
                    format!("another address family than {net}: reached over that family's own route")
                }
                Route::ViaRouter => format!("not on {net}: sent through the router"),
            };
            writeln!(out, "{:width$}  {verdict}", c.address.to_string())?;
        }
    }
    if let Some(subnets) = &r.split {
        writeln!(out, "\n{} subnet{}:", subnets.len(), if subnets.len() == 1 { "" } else { "s" })?;
        for c in subnets {
            let s = subnet(c);
            let hosts = s.usable_hosts.to_string();
            let unit = if hosts == "1" { "host" } else { "hosts" };
            writeln!(out, "{:<20} {} - {}  ({hosts} {unit})", c.to_string(), s.first_host, s.last_host)?;
        }
    }
    if let Some(plan) = &r.plan {
        writeln!(out, "\nAllocation in {} (largest first):", plan.network)?;
        writeln!(out, "{:>10}  {:<20} {:>8}  RANGE", "HOSTS", "SUBNET", "USABLE")?;
        for a in &plan.allocations {
            match a.subnet {
                Some(c) => {
                    let s = subnet(&c);
                    let usable = a.usable.map_or(String::new(), |u: Count| u.to_string());
                    writeln!(
                        out,
                        "{:>10}  {:<20} {:>8}  {} - {}",
                        a.hosts,
                        c.to_string(),
                        usable,
                        s.first_host,
                        s.last_host
                    )?;
                }
                None => writeln!(out, "{:>10}  does not fit", a.hosts)?,
            }
        }
        if !plan.free.is_empty() {
            let free: Vec<String> = plan.free.iter().map(std::string::ToString::to_string).collect();
            writeln!(out, "Unused: {}", free.join(" "))?;
        }
    }
    Ok(())
}

pub fn ports(out: &mut (impl Write + ?Sized), r: &PortReport) -> io::Result<()> {
    let name_w = r.ports.iter().flat_map(|a| a.services.iter().map(|s| s.name.len())).max().unwrap_or(0).max(7);
    writeln!(out, "{:<5}  {:<name_w$}  {:<13} {:<10}  NOTE", "PORT", "SERVICE", "PROTOCOLS", "CLASS")?;
    for a in &r.ports {
        let class = match a.class {
            PortClass::System => "system",
            PortClass::Registered => "registered",
            PortClass::Dynamic => "dynamic",
        };
        let mut notes: Vec<String> = Vec::new();
        if let Some(l) = a.lecture {
            notes.push(l.to_string());
        }
        if a.ephemeral {
            notes.push("in this host's ephemeral range".into());
        }
        if a.services.is_empty() {
            let line = format!("{:<5}  {:<name_w$}  {:<13} {:<10}  {}", a.port, "-", "-", class, notes.join("; "));
            writeln!(out, "{}", line.trim_end())?;
        }
        for (i, s) in a.services.iter().enumerate() {
            let protos: Vec<&str> = s.protocols.iter().map(|p| p.as_str()).collect();
            let mut row_notes = if i == 0 { notes.clone() } else { Vec::new() };
            if !s.aliases.is_empty() {
                row_notes.push(format!("aliases {}", s.aliases.join(" ")));
            }
            if s.source == "etc-services" {
                row_notes.push("from /etc/services".into());
            }
            let port = if i == 0 { a.port.to_string() } else { String::new() };
            let class = if i == 0 { class } else { "" };
            let line = format!(
                "{port:<5}  {:<name_w$}  {:<13} {class:<10}  {}",
                s.name,
                protos.join(" "),
                row_notes.join("; ")
            );
            writeln!(out, "{}", line.trim_end())?;
        }
    }
    Ok(())
}

/// States with more ports than this are summarised in one "Not shown" line, as nmap does.
const SHOW_AT_MOST: usize = 25;

pub fn scan(out: &mut (impl Write + ?Sized), r: &ScanReport) -> io::Result<()> {
    for (i, h) in r.hosts.iter().enumerate() {
        scan_host(out, h, i == 0)?;
    }
    scan_totals(out, &r.totals)
}

/// One host's block of a scan: a blank line before all but the first.
pub fn scan_host(out: &mut (impl Write + ?Sized), h: &HostReport, first: bool) -> io::Result<()> {
    if !first {
        writeln!(out)?;
    }
    match &h.name {
        Some(n) => writeln!(out, "Scan of {n} ({})", h.address)?,
        None => writeln!(out, "Scan of {}", h.address)?,
    }
    let hidden: Vec<(PortState, usize)> =
        [(PortState::Closed, h.closed), (PortState::Filtered, h.filtered), (PortState::OpenFiltered, h.open_filtered)]
            .into_iter()
            .filter(|&(_, n)| n > SHOW_AT_MOST)
            .collect();
    let shown: Vec<&PortResult> = h.ports.iter().filter(|p| !hidden.iter().any(|&(s, _)| s == p.state)).collect();
    // UDP's `open|filtered` is wider than TCP's states.
    let w = if h.ports.iter().any(PortResult::udp) { 13 } else { 9 };
    // `--service`'s findings as nmap -sV shows them: `OpenSSH 9.2p1 Debian 2 (protocol 2.0)`.
    let version = |p: &PortResult| {
        let Some(m) = &p.more else { return String::new() };
        let mut v: Vec<String> = [&m.product, &m.version].into_iter().flatten().cloned().collect();
        v.extend(m.info.as_ref().map(|i| format!("({i})")));
        v.join(" ")
    };
    let versions = shown.iter().any(|p| !version(p).is_empty());
    if !shown.is_empty() {
        let head = format!("{:<10} {:<w$} SERVICE", "PORT", "STATE");
        writeln!(out, "{}", if versions { format!("{head:<0$} VERSION", 31 + w) } else { head })?;
    }
    for p in shown {
        // A service inside TLS as nmap names it: `ssl/http`.
        let tunnel = p.more.as_ref().and_then(|m| m.tunnel).map(|t| format!("{t}/")).unwrap_or_default();
        let service = format!("{tunnel}{}", p.service.as_deref().unwrap_or(""));
        let port = format!("{}/{}", p.port, if p.udp() { "udp" } else { "tcp" });
        let line = match &p.banner {
            // What the service said, already escaped: `22/tcp open ssh  SSH-2.0-OpenSSH_9.2`.
            Some(b) => format!("{port:<10} {:<w$} {service:<14} {b}", p.state.as_str()),
            None if versions => format!("{port:<10} {:<w$} {service:<19} {}", p.state.as_str(), version(p)),
            None => format!("{port:<10} {:<w$} {service}", p.state.as_str()),
        };
        writeln!(out, "{}", line.trim_end())?;
    }
    for (s, n) in hidden {
        if h.ports.iter().any(|p| p.state == s) {
            writeln!(out, "Not shown: {n} {} ports", s.as_str())?;
        }
    }
    Ok(())
}

/// The scan's last line: what it counted.
pub fn scan_totals(out: &mut (impl Write + ?Sized), t: &ScanTotals) -> io::Result<()> {
    writeln!(
        out,
        "\n{} host{}, {} port{} each: {} open, {} closed, {} filtered{} in {:.2} s ({})",
        t.hosts_scanned,
        if t.hosts_scanned == 1 { "" } else { "s" },
        t.ports_per_host,
        if t.ports_per_host == 1 { "" } else { "s" },
        t.open,
        t.closed,
        t.filtered,
        if t.open_filtered > 0 { format!(", {} open|filtered", t.open_filtered) } else { String::new() },
        t.elapsed_ms as f64 / 1000.0,
        t.method.as_str()
    )
}

/// One relayed connection, ended: `CLIENT -> TARGET: 1.25 s, 120 bytes up, 4,096 down`.
pub fn forwarded(f: &sockit::relay::Forwarded) -> String {
    let mut line = format!(
        "{} -> {}: {:.2} s, {} bytes up, {} bytes down",
        f.client,
        f.target,
        f.millis as f64 / 1000.0,
        f.up,
        f.down
    );
    if let Some(e) = &f.error {
        line.push_str(&format!(" ({e})"));
    }
    line
}

/// One line of the chat server's console.
pub fn chat_event(e: &sockit::chat::events::Event) -> String {
    use sockit::chat::events::Event;
    match e {
        Event::Joined { nick, peer } => format!("* {nick} joined from {peer}"),
        Event::Left { nick, reason } => format!("* {nick} {reason}"),
        Event::Said { nick, text, server: None } => format!("<{nick}> {text}"),
        Event::Said { nick, text, server: Some(s) } => format!("<{nick}@{s}> {text}"),
        Event::Action { nick, text, server: None } => format!("* {nick} {text}"),
        Event::Action { nick, text, server: Some(s) } => format!("* {nick}@{s} {text}"),
        Event::Renamed { old, new } => format!("* {old} is now known as {new}"),
        Event::Private { from, to } => format!("* {from} sent {to} a private message"),
        Event::Refused { peer, reason } => format!("* refused {peer}: {reason}"),
        Event::ShuttingDown { clients } => format!("* shutting down, telling {clients} clients"),
        Event::LinkDown => "* the link to the cluster's broker is down; reconnecting".into(),
        Event::LinkUp => "* the link to the cluster's broker is back".into(),
        Event::Lost { server, messages } => format!("* {messages} messages from {server} were lost"),
        Event::ServerGone { server, members } => format!("* server {server} is gone, with {members} members"),
        Event::ClusterDropped { messages } => {
            format!("* {messages} messages for the cluster did not fit in the outbox and were dropped")
        }
        Event::Reloaded { fingerprint, kept } => {
            let kept: Vec<&str> = kept.iter().map(|k| kept_flag(*k)).collect();
            format!("* {}", reloaded(fingerprint.as_deref(), &kept))
        }
        Event::ReloadRefused { reason } => format!("* reload refused, the configuration in force stays: {reason}"),
    }
}

/// What a reload did: a new certificate's fingerprint, and the flags whose change waits for a
/// restart.
fn reloaded(fingerprint: Option<&str>, kept: &[&str]) -> String {
    let mut line = "reloaded the configuration".to_string();
    if let Some(fp) = fingerprint {
        line.push_str(&format!("; certificate fingerprint (SHA-256) {fp}"));
    }
    if !kept.is_empty() {
        line.push_str(&format!("; {} kept until a restart", kept.join(", ")));
    }
    line
}

/// The flag behind what a reload could not change.
fn kept_flag(k: sockit::chat::events::Kept) -> &'static str {
    use sockit::chat::events::Kept;
    match k {
        Kept::Address => "--bind and --port",
        Kept::Discovery => "--discovery-port",
        Kept::Name => "--name",
        Kept::Cluster => "--cluster",
    }
}

pub fn hostname(out: &mut (impl Write + ?Sized), r: &sockit::host::HostnameReport) -> io::Result<()> {
    match (&r.addresses, &r.fqdn) {
        (Some(addrs), _) => {
            writeln!(out, "{}", addrs.iter().map(std::string::ToString::to_string).collect::<Vec<_>>().join(" "))
        }
        (None, Some(f)) => writeln!(out, "{f}"),
        (None, None) => writeln!(out, "{}", r.hostname),
    }
}

/// A name or address that did not resolve, as a JSON Lines event.
#[derive(Debug, Serialize)]
pub struct NameError<'a> {
    pub name: &'a str,
    pub kind: &'static str,
    pub error: String,
}

/// A datagram as JSON: its text, or base64 when it is not UTF-8.
#[derive(Debug, Serialize)]
struct DatagramEvent<'a> {
    from: &'a sockit::conn::Peer,
    size: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    base64: Option<String>,
}

/// One datagram as a line: `SENDER:PORT  text` (escaped), `--raw` bytes, or a JSON Lines
/// event; flushed, so a reader sees it at once.
pub fn datagram(out: &mut impl Write, d: sockit::udp::Datagram<'_>, raw: bool, json: bool) -> io::Result<()> {
    if raw {
        out.write_all(d.data)?;
    } else if json {
        let text = std::str::from_utf8(d.data).ok();
        let base64 = text.is_none().then(|| sockit_core::text::base64(d.data));
        json_event(out, "datagram", &DatagramEvent { from: d.from, size: d.data.len(), text, base64 })?;
    } else {
        writeln!(out, "{}  {}", d.from, sockit_core::text::escape(d.data))?;
    }
    out.flush()
}

/// An error's message, with what to do in this command line's words.
pub fn advised(message: impl std::fmt::Display, hint: Option<sockit::hint::Hint>) -> String {
    use sockit::hint::Hint as H;
    let advice = match hint {
        None => return message.to_string(),
        Some(H::AllowBroadcast) => "pass --broadcast",
        Some(H::NameServer) => "check --server, or give one with --server IP",
        Some(H::OtherResolvConf) => "pass --resolv-conf FILE to read another file",
        Some(H::TrustCa) => "pass --ca FILE, or --insecure",
        Some(H::CertAndKey) => "give --cert and --key together, or neither for a self-signed certificate",
        Some(H::AddTls) => "add --tls",
        Some(H::PickRoom) => "pass --room NAME or HOST[:PORT]",
        Some(H::FewerProbes) => "or lower --concurrency",
        Some(H::OtherDiscoveryPort) => "pass --discovery-port PORT, or --no-discovery",
        Some(H::CheckFingerprint) => "check --fingerprint against the one the server printed",
        Some(H::PinCertificate) => "pin it with --fingerprint SHA256 if it is the one you expect",
        Some(H::ConfirmMany) => "pass --yes to scan more than 65,536",
        Some(H::ChooseInterface) => "pass --iface NAME (ip link lists them)",
        Some(H::TrustBroker) => "pass --cluster-ca FILE",
    };
    let sep = if advice.starts_with("or ") { ", " } else { ": " };
    format!("{message}{sep}{advice}")
}

/// What a starting `tcp listen` says on stderr.
pub fn tcp_started(s: &sockit::tcp::Started) -> String {
    match s {
        sockit::tcp::Started::Listening(local) => format!("listening on {local} (tcp)"),
        sockit::tcp::Started::ListeningUnix(path) => format!("listening on {path} (unix)"),
        sockit::tcp::Started::Fingerprint(fp) => format!("TLS certificate SHA-256 fingerprint {fp}"),
        sockit::tcp::Started::Metrics(at) => format!("metrics on http://{at}/metrics"),
        sockit::tcp::Started::Reloaded { fingerprint, kept } => {
            let kept: Vec<&str> = kept
                .iter()
                .map(|k| match k {
                    sockit::tcp::Kept::Listener => "PORT, --bind, --keep-open, --exec and --unix",
                    sockit::tcp::Kept::Metrics => "--metrics",
                })
                .collect();
            reloaded(fingerprint.as_deref(), &kept)
        }
        sockit::tcp::Started::ReloadRefused { reason } => {
            format!("reload refused, the configuration in force stays: {reason}")
        }
    }
}

/// What a starting `udp listen` says on stderr.
pub fn udp_started(s: &sockit::udp::Started) -> String {
    match s {
        sockit::udp::Started::Udp(local) => format!("listening on {local} (udp)"),
        sockit::udp::Started::UnixDatagram(path) => format!("listening on {path} (unix datagram)"),
    }
}

/// What a starting `relay` says on stderr: where it listens, and where it forwards to.
pub fn relay_started(s: &sockit::relay::Started, to: &str) -> String {
    use sockit::relay::Started as S;
    let from = match s {
        S::Tcp(addr) => format!("{addr} (tcp)"),
        S::Tls { addr, fingerprint } => format!("{addr} (tls, certificate SHA-256 {fingerprint})"),
        S::Unix(path) => format!("{path} (unix)"),
        S::Udp(addr) => format!("{addr} (udp)"),
        S::Metrics(at) => return format!("metrics on http://{at}/metrics"),
        S::Reloaded { fingerprint, kept } => {
            let kept: Vec<&str> = kept
                .iter()
                .map(|k| match k {
                    sockit::relay::Kept::Listener => "FROM",
                    sockit::relay::Kept::Hexdump => "--hexdump",
                    sockit::relay::Kept::Metrics => "--metrics",
                })
                .collect();
            return reloaded(fingerprint.as_deref(), &kept);
        }
        S::ReloadRefused { reason } => return format!("reload refused, the configuration in force stays: {reason}"),
    };
    format!("relaying {from} -> {to}")
}

/// What a starting `chat serve` says on stderr: a line, and the fingerprint of a TLS room.
pub fn chat_started(s: &sockit::chat::server::Started) -> Vec<String> {
    let discovery = s.discovery.map_or(String::new(), |d| format!(", discovery on {d} (udp)"));
    let tls = if s.fingerprint.is_some() { ", TLS" } else { "" };
    // The room's name is the operator's, but it is shown as any name is: escaped.
    let room = sockit_core::text::escape(s.room.as_bytes());
    let mut lines = vec![format!("chat room {room} on {} (tcp{tls}){discovery}", s.address)];
    lines.extend(s.fingerprint.as_ref().map(|fp| format!("TLS certificate SHA-256 fingerprint {fp}")));
    lines.extend(
        s.cluster
            .as_ref()
            .map(|(name, node, broker)| format!("cluster {name} through {broker}, this server is {node}")),
    );
    lines.extend(s.files.map(|(limit, clients)| {
        format!(
            "the open-file limit is {limit}: at most about {clients} clients at once, fewer than --max-clients; raise it (ulimit -n, or LimitNOFILE= in a unit)"
        )
    }));
    lines
}

/// The servers that answered a discovery probe: a line each, every field from the network
/// escaped; or one JSON document.
pub fn discovered(out: &mut dyn Write, found: &[sockit::chat::discovery::Found], json: bool) -> io::Result<()> {
    #[derive(Serialize)]
    struct Servers<'a> {
        servers: &'a [sockit::chat::discovery::Found],
    }
    if json {
        return self::json(out, &Servers { servers: found });
    }
    let esc = |s: &str| sockit_core::text::escape(s.as_bytes());
    for f in found {
        let line = format!(
            "{:<22} {:<20} {:>6} users  sockit {}{}",
            f.address.to_string(),
            esc(&f.info.room),
            f.info.users,
            esc(&f.info.version),
            if f.info.tls { "  TLS (join with --tls)" } else { "" }
        );
        let line = match &f.info.cluster {
            Some(c) => format!("{line}  cluster {}", esc(c)),
            None => line,
        };
        writeln!(out, "{line}")?;
    }
    Ok(())
}
