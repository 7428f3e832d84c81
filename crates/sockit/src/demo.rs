//! `sockit demo`: the lecture, slide by slide, live on this machine. Every network step
//! stays on loopback (broadcasts go to 127.255.255.255). The narration goes to `say`, one
//! line at a time, so the binary decides where it is shown.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

use sockit_core::addr::{self, Cidr, Route};
use sockit_core::services::{COMMON, Proto};

use crate::host::{self, InfoOptions};
use crate::net::DEFAULT_PORT;
use crate::resolve::{self, Families};

/// Something went wrong mid-demo.
pub type DemoResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

const LOOPBACK_BROADCAST: Ipv4Addr = Ipv4Addr::new(127, 255, 255, 255);

/// Bind the lecture's port with `bind`, or a free one when it is taken (and say so).
fn on_lecture_port<T>(
    say: &mut dyn FnMut(&str),
    proto: &str,
    bind: impl Fn(u16) -> std::io::Result<T>,
    local: impl Fn(&T) -> std::io::Result<SocketAddr>,
) -> std::io::Result<T> {
    match bind(DEFAULT_PORT) {
        Ok(s) => Ok(s),
        Err(_) => {
            let s = bind(0)?;
            say(&format!("  ({proto} port {DEFAULT_PORT} is taken here: using {} instead)", local(&s)?.port()));
            Ok(s)
        }
    }
}

fn udp_on_lecture_port(say: &mut dyn FnMut(&str)) -> std::io::Result<UdpSocket> {
    on_lecture_port(say, "UDP", |p| UdpSocket::bind(("0.0.0.0", p)), UdpSocket::local_addr)
}

fn tcp_on_lecture_port(say: &mut dyn FnMut(&str)) -> std::io::Result<TcpListener> {
    on_lecture_port(say, "TCP", |p| TcpListener::bind(("127.0.0.1", p)), TcpListener::local_addr)
}

/// Play the whole lecture.
pub fn run(say: &mut dyn FnMut(&str)) -> DemoResult {
    slide1(say)?;
    slide2(say);
    slide3(say)?;
    slide4(say)?;
    slide5(say)?;
    slide67(say)?;
    say("");
    say("That was the whole lecture, live on this machine. Each slide is a sockit command:");
    say("  sockit info | addr | port | hostname | lookup | reverse | udp | tcp | chat | scan");
    Ok(())
}

fn title(say: &mut dyn FnMut(&str), t: &str) {
    say("");
    say(&format!("== {t} =="));
}

fn slide1(say: &mut dyn FnMut(&str)) -> DemoResult {
    title(say, "Slide 1: IPv4 network parameters");
    let info = host::host_info(&InfoOptions::default())?;
    say(&format!("This computer is {}.", info.hostname));
    for i in info.interfaces.iter().filter(|i| !i.ipv4.is_empty()) {
        for a in &i.ipv4 {
            let bcast = a.broadcast.map_or("none".to_string(), |b| b.to_string());
            say(&format!(
                "  {:<8} IP address {}  netmask {}  network {}/{}  broadcast {}  ({})",
                i.name, a.address, a.netmask, a.network, a.prefix, bcast, a.kind
            ));
        }
    }
    match info.routers.first() {
        Some(r) => say(&format!("  Router (default gateway): {} via {}", r.address, r.interface)),
        None => say("  Router: none (no default route)"),
    }
    let dns: Vec<String> = info.dns.nameservers.iter().map(|n| n.address.to_string()).collect();
    say(&format!("  DNS servers: {}", if dns.is_empty() { "none".to_string() } else { dns.join(", ") }));
    say("Ports run from 0 to 65535; 0-1023 are reserved for well-known services.");
    say("The private networks, which never appear on the Internet:");
    for a in ["10.1.2.3", "172.16.0.1", "192.168.1.1", "8.8.8.8"] {
        let c = addr::classify(addr::parse_ip(a)?);
        say(&format!("  {a:<12} {} (globally reachable: {})", c.kind, if c.globally_reachable { "yes" } else { "no" }));
    }
    let me = Cidr::parse("192.168.1.10/24")?;
    say("The netmask decides who is on my subnet. As 192.168.1.10/24:");
    for other in ["192.168.1.77", "192.168.2.5"] {
        let verdict = match addr::route_to(&me, addr::parse_ip(other)?) {
            Route::Direct => "same subnet: spoken to directly",
            Route::ViaRouter => "another subnet: through the router",
        };
        say(&format!("  {other:<13} {verdict}"));
    }
    Ok(())
}

fn slide2(say: &mut dyn FnMut(&str)) {
    title(say, "Slide 2: Common services");
    let reg = crate::port::service_registry();
    for &(lo, hi, _, label) in COMMON {
        let names: Vec<String> =
            (lo..=hi).filter_map(|p| reg.by_port(p, Some(Proto::Tcp)).into_iter().next().map(|s| s.name)).collect();
        let ports = if lo == hi { lo.to_string() } else { format!("{lo}-{hi}") };
        say(&format!("  {ports:<8} {:<36} {label}", names.join(", ")));
    }
}

fn slide3(say: &mut dyn FnMut(&str)) -> DemoResult {
    title(say, "Slide 3: The socket module");
    let name = host::hostname();
    say(&format!("  gethostname()              -> {name}"));
    match resolve::system_lookup("localhost", Families::Both) {
        Ok(a) => {
            let addrs: Vec<String> = a.addresses.iter().map(std::string::ToString::to_string).collect();
            say(&format!("  gethostbyname('localhost') -> {}", addrs.join(", ")));
        }
        Err(e) => say(&format!("  gethostbyname('localhost') -> {e}")),
    }
    match resolve::system_reverse(IpAddr::from([127, 0, 0, 1])) {
        Ok(n) => say(&format!("  gethostbyaddr('127.0.0.1') -> {n}")),
        Err(e) => say(&format!("  gethostbyaddr('127.0.0.1') -> {e}")),
    }
    Ok(())
}

fn slide4(say: &mut dyn FnMut(&str)) -> DemoResult {
    title(say, "Slide 4: UDP");
    let rx = udp_on_lecture_port(say)?;
    let port = rx.local_addr()?.port();
    rx.set_read_timeout(Some(Duration::from_secs(3)))?;
    say(&format!("A receiver binds port {port} on every address and waits."));
    let tx = UdpSocket::bind("0.0.0.0:0")?;
    tx.set_broadcast(true)?;
    say(&format!("A sender sets SO_BROADCAST and sends \"Hello there\" to {LOOPBACK_BROADCAST}:{port}."));
    tx.send_to(b"Hello there", (LOOPBACK_BROADCAST, port))?;
    let mut buf = [0u8; 1024];
    let (n, from) = rx.recv_from(&mut buf)?;
    say(&format!("The receiver got {:?} from {from}.", String::from_utf8_lossy(&buf[..n])));
    Ok(())
}

fn slide5(say: &mut dyn FnMut(&str)) -> DemoResult {
    title(say, "Slide 5: TCP connections");
    let listener = tcp_on_lecture_port(say)?;
    let addr = listener.local_addr()?;
    say(&format!("A server binds {addr}, listens and accepts."));
    let server = std::thread::spawn(move || -> std::io::Result<(SocketAddr, String)> {
        let (mut c, peer) = listener.accept()?;
        let mut got = String::new();
        c.read_to_string(&mut got)?;
        Ok((peer, got))
    });
    let mut client = TcpStream::connect(addr)?;
    say("A client connects and sends \"Hello there\".");
    client.write_all(b"Hello there")?;
    drop(client);
    let (peer, got) = server.join().map_err(|_| "the server thread failed")??;
    say(&format!("The server received {got:?} from {peer}."));
    Ok(())
}

fn slide67(say: &mut dyn FnMut(&str)) -> DemoResult {
    title(say, "Slides 6 and 7: threads, and a client/server chat");
    // The chat server runs on its own runtime threads: more than one thing at a time. It is
    // `sockit chat serve` itself, on the lecture's port if that is free.
    use crate::chat::server::{self, ServeConfig, Stop};
    let stop = tokio_util::sync::CancellationToken::new();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let server = {
        let stop = stop.clone();
        std::thread::spawn(move || -> Result<server::Stopped, crate::net::NetError> {
            let cfg = |port| ServeConfig {
                bind: SocketAddr::from(([127, 0, 0, 1], port)),
                discovery_port: Some(port),
                tls: None,
                room: "lecture".into(),
                max_clients: 100,
                max_line: 4096,
                rate: 0.0,
                // The demo's clients are line clients: no wait to tell them from browsers.
                web: false,
                web_origins: Vec::new(),
                web_hosts: Vec::new(),
                metrics_allow: crate::listener::AccessRules::loopback(),
                motd: None,
                irc_name: None,
                history: 0,
                cluster: None,
                pages: Vec::new(),
            };
            let mut started = |s: &server::Started| {
                let _ = started_tx.send(s.clone());
            };
            match server::run(&cfg(DEFAULT_PORT), |_| {}, &mut started, Stop::Token(stop.clone())) {
                Err(crate::net::NetError::InUse { .. }) => {
                    server::run(&cfg(0), |_| {}, &mut started, Stop::Token(stop))
                }
                r => r,
            }
        })
    };
    let Ok(started) = started_rx.recv_timeout(Duration::from_secs(5)) else {
        return Err(match server.join() {
            Ok(Err(e)) => e.into(),
            _ => "the chat server did not start".into(),
        });
    };
    let port = started.address.port();
    let disc_port = started.discovery.map_or(port, |d| d.port());
    if port != DEFAULT_PORT {
        say(&format!("  (TCP or UDP port {DEFAULT_PORT} is taken here: using {port} instead)"));
    }
    say(&format!("A chat server listens on TCP port {port} and answers discovery on UDP port {disc_port}."));
    let target = SocketAddr::new(IpAddr::V4(LOOPBACK_BROADCAST), disc_port);
    let probe = crate::chat::discovery::DiscoveryConfig {
        targets: vec![target],
        port: disc_port,
        wait: Duration::from_millis(500),
    };
    let found = crate::chat::discovery::discover(&probe)?.found;
    // Other rooms on this host may share the discovery port (it is shared by design): the
    // demo's own room is the one on its port.
    let Some(f) = found.iter().find(|f| f.address.port() == port && f.info.room == "lecture") else {
        return Err("the demo's chat server did not answer the discovery probe".into());
    };
    say(&format!(
        "A client broadcasts a probe to {target} and finds room '{}' at {} ({} users).",
        f.info.room, f.address, f.info.users
    ));
    let addr = f.address;
    // Two clients in two threads, talking at once.
    let talk = |nick: &'static str, other: &'static str, line: &'static str| {
        std::thread::spawn(move || -> std::io::Result<Vec<String>> {
            let mut s = TcpStream::connect(addr)?;
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            let mut r = BufReader::new(s.try_clone()?);
            let mut next = || -> std::io::Result<String> {
                let mut l = String::new();
                if r.read_line(&mut l)? == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                Ok(l.trim_end().to_string())
            };
            writeln!(s, "/nick {nick}")?;
            // Wait until both are in the room (bounded: 100 tries).
            for _ in 0..100 {
                writeln!(s, "/who")?;
                let who = loop {
                    let l = next()?;
                    if l.starts_with("* online") {
                        break l;
                    }
                };
                if who.contains(nick) && who.contains(other) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            writeln!(s, "{line}")?;
            let heard = loop {
                let l = next()?;
                if l.starts_with(&format!("<{other}>")) {
                    break l;
                }
            };
            writeln!(s, "/quit")?;
            Ok(vec![heard])
        })
    };
    let a = talk("alice", "bob", "hi bob, this came through the server");
    let b = talk("bob", "alice", "hi alice, one thread per client here");
    for (who, h) in [("alice", a), ("bob", b)] {
        for line in h.join().map_err(|_| "a client thread failed")?? {
            say(&format!("  {who} sees: {line}"));
        }
    }
    stop.cancel();
    server.join().map_err(|_| "the chat server thread failed")??;
    say("Both clients talked at once; the server relayed each line whole, then shut down.");
    Ok(())
}
