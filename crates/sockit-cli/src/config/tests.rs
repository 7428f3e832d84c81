//! The configuration as tables: every usage error with its message, and the defaults and
//! conversions of each command family.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use sockit::bridge::BridgeOptions;
use sockit::resolve::Families;
use sockit::tcp::ConnectConfig;
use sockit::tls::{ClientTls, ServerTls};
use sockit_core::endpoint::Host;
use sockit_core::services::{PortQuery, Proto};

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
            "--type BOGUS is not a record type: give a type name (A, AAAA, CAA, CNAME, DNSKEY, DS, HTTPS, MX, NAPTR, NS, PTR, SOA, SPF, SRV, SSHFP, SVCB, TLSA, TXT, URI, AXFR ...), TYPEnnn or a number from 1 to 65535",
        ),
        (
            "lookup a.test --server nope",
            "--server 'nope' is not an address: write it like 192.0.2.53, 192.0.2.53:5353, [::1]:53, tls://192.0.2.53, quic://192.0.2.53, https://192.0.2.53/dns-query or h3://192.0.2.53/dns-query",
        ),
        ("lookup a.test --concurrency 0", "--concurrency must be at least 1"),
        ("chat serve --rate=-1", "--rate must be 0 (off) or a positive number of lines a second"),
        ("chat serve --max-line 0", "--max-line and --max-clients must be at least 1"),
        ("chat serve --history 1001", "--history keeps at most 1000 lines"),
        ("chat serve --irc-name a:b", "--irc-name is 1 to 64 letters, digits, '.', '-' or '_', like irc.example.org"),
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
        ("addr 10.0.0.1 --split 26", "--split needs a network: give the address a prefix, like 10.0.0.1/24"),
        ("addr 10.0.0.1 --hosts 5", "--hosts needs a network: give the address a prefix, like 10.0.0.1/24"),
        ("addr 10.0.0.0/24 --split 20", "cannot split a /24 into /20: the new prefix must be at least /24"),
        ("addr 10.0.0.0/8 --split 30", "splitting 10.0.0.0/8 into /30 makes 4194304 subnets"),
        ("addr 10.0.0.0/24 --hosts 0", "a host count of 0 asks for nothing"),
        ("addr 10.0.0.0/24 --hosts 5000000000", "5000000000 hosts do not fit in any IPv4 subnet"),
        ("addr 10.0.0.0/24 10.0.0.0/25", "'10.0.0.0/25'"),
        ("addr 192.168.300.1", "octet 300 in '192.168.300.1' is over 255"),
        ("addr 10.0.0.1%eth0", "'10.0.0.1%eth0'"),
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
    assert_eq!(c.dial.tls, Some(ClientTls { ca: Some("x.pem".into()), ..ClientTls::default() }), "--ca implies --tls");
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
    assert_eq!(sockit_core::text::redact_url(&c.urls[0]), "nats://h:4222");
    let Action::ChatJoin(j) = config("chat join [::1]:5000").expect("ok").action else { panic!() };
    assert_eq!(j.server, Some((Host::Ip("::1".parse().expect("ip")), 5000)));
    assert_eq!((j.discovery.targets.len(), j.discovery.port), (0, 40000), "every broadcast address by default");
    let Action::ChatJoin(j) = config("chat join example.test").expect("ok").action else { panic!() };
    assert_eq!(j.server, Some((Host::Name("example.test".into()), 40000)));
    let Action::Lookup(n) = config("lookup a.test --server 127.0.0.1:5353 -4").expect("ok").action else { panic!() };
    assert_eq!((n.server, n.families, n.direct), (Some("127.0.0.1:5353".parse().expect("sa")), Families::V4, false));
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
    let Action::Port(sockit::port::PortConfig { queries, flag }) = config("port 53/udp 143").expect("ok").action else {
        panic!()
    };
    assert_eq!((queries, flag), (vec![(PortQuery::Port(53), Some(Proto::Udp)), (PortQuery::Port(143), None)], None));
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
    assert_eq!(p.jobs(None), 1 << 32);
    let Action::Scan(ScanJob { plan: p, .. }) = config("scan ::/0 10.0.0.0/8 --yes -p 1-2").expect("ok").action else {
        panic!()
    };
    assert_eq!(p.jobs(None), u128::MAX);
}

/// Whole configurations, field by field: a flag that lands in the wrong field, or a default
/// that moves, shows here.
#[test]
fn whole_configs_as_a_table() {
    use sockit::dial::{Dialer, Source};
    use sockit::relay::{ConnectTo, ListenOn, RelayConfig};
    use sockit::udp::{Multicast, SendConfig};
    let Action::UdpSend(u) =
        config("udp send 239.1.2.3 domain --ttl 4 --iface eth0 --loop --wait-reply 1.5 -x").expect("ok").action
    else {
        panic!()
    };
    assert_eq!(
        u,
        SendConfig {
            host: Host::Ip("239.1.2.3".parse().expect("ip")),
            port: 53,
            broadcast: false,
            bind: None,
            message: None,
            raw: false,
            wait_reply: Some(Duration::from_millis(1500)),
            hexdump: Some(sockit::hexdump::HexdumpTo::Stderr),
            multicast: Multicast { ttl: Some(4), iface: Some("eth0".into()), looped: true },
            unix: None,
        }
    );
    let Action::TcpConnect(c) =
        config("tcp connect -s 127.0.0.2 -p 5000 -C --send-only -w 2 --server-name example.test ::1 https")
            .expect("ok")
            .action
    else {
        panic!()
    };
    assert_eq!(
        c,
        ConnectConfig {
            host: Host::Ip("::1".parse().expect("ip")),
            port: 443,
            dial: Dialer {
                proxy: None,
                timeout: Some(Duration::from_secs(2)),
                keepalive: None,
                tls: Some(ClientTls { server_name: Some("example.test".into()), ..ClientTls::default() }),
                source: Source { ip: Some("127.0.0.2".parse().expect("ip")), port: 5000 },
            },
            bridge: BridgeOptions { crlf: true, send_only: true, ..BridgeOptions::default() },
            unix: None,
        }
    );
    let Action::Relay(r) =
        config("relay udp-listen:127.0.0.1:5353 udp:[::1]:53 --udp-idle 5 --max-conns 9 --deny 10.0.0.0/8")
            .expect("ok")
            .action
    else {
        panic!()
    };
    assert_eq!(
        r,
        RelayConfig {
            from: ListenOn::Udp(SocketAddr::from(([127, 0, 0, 1], 5353))),
            to: ConnectTo::Udp(Host::Ip("::1".parse().expect("ip")), 53),
            rules: sockit::listener::AccessRules::new(
                Vec::new(),
                vec![sockit_core::addr::Cidr::parse("10.0.0.0/8").expect("cidr")]
            ),
            max_conns: Some(9),
            proxy: None,
            connect_timeout: Duration::from_secs(10),
            hexdump: None,
            keepalive: None,
            half_close_idle: Some(Duration::from_secs(60)),
            udp_idle: Duration::from_secs(5),
            metrics: None,
        }
    );
}

#[test]
fn passwords_in_the_command_line_are_warned_of() {
    let args = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
    assert_eq!(secrets_in_argv(&args("sockit tcp connect h 80 --proxy socks5://h:1080")), Vec::<String>::new());
    assert_eq!(secrets_in_argv(&args("sockit tcp connect h 80 --proxy socks5://u@h:1080")), Vec::<String>::new());
    let one = secrets_in_argv(&args("sockit tcp connect h 80 --proxy socks5://u:p@h:1080"));
    assert_eq!(one.len(), 1);
    assert!(one[0].starts_with("warning: the password in --proxy") && !one[0].contains("u:p"), "{one:?}");
    assert_eq!(secrets_in_argv(&args("sockit scan h --proxy=http://u:p@h")).len(), 1);
    let cluster = secrets_in_argv(&args("sockit chat serve --cluster nats://h:1,nats://u:p@h:2"));
    assert!(cluster.len() == 1 && cluster[0].contains("SOCKIT_CLUSTER"), "{cluster:?}");
}
