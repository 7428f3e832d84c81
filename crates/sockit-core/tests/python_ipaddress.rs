//! Property test: sockit's subnet math against an independent reference, Python 3's
//! `ipaddress` module, over thousands of random IPv4 and IPv6 prefixes. The cases come from
//! proptest's generator (seeded, so a failure reproduces) and go to one Python process in a
//! batch, which keeps thousands of comparisons under a second.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::{Command, Stdio};

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use sockit_core::addr::{Cidr, Route, route_to, subnet};

const PY: &str = r#"
import ipaddress, sys
for line in sys.stdin:
    net_s, other_s = line.split()
    iface = ipaddress.ip_interface(net_s)
    n = iface.network
    if n.num_addresses <= 2 or (n.version == 6 and n.prefixlen == 127):
        first, last = n.network_address, n.broadcast_address
    elif n.version == 4:
        first, last = n.network_address + 1, n.broadcast_address - 1
    else:
        first, last = n.network_address + 1, n.broadcast_address
    if n.version == 4 and n.prefixlen < 31:
        usable = n.num_addresses - 2
    elif n.version == 6 and n.prefixlen < 127:
        usable = n.num_addresses - 1
    else:
        usable = n.num_addresses
    bcast = n.broadcast_address if n.version == 4 and n.prefixlen < 31 else "-"
    same = ipaddress.ip_address(other_s) in n
    print(n.network_address, n.netmask, n.hostmask, bcast, first, last, usable, n.num_addresses,
          "direct" if same else "router")
"#;

fn python() -> Option<String> {
    let ok = Command::new("python3").arg("-c").arg("import ipaddress").status().is_ok_and(|s| s.success());
    if ok {
        return Some("python3".into());
    }
    assert!(std::env::var("CI").is_err(), "python3 with ipaddress is required under CI");
    eprintln!("skipping: python3 not found");
    None
}

fn case() -> impl Strategy<Value = (String, String)> {
    let v4 = (any::<u32>(), 0u8..=32, any::<u32>(), any::<bool>()).prop_map(|(a, p, o, near)| {
        // Half the time the other address shares the prefix's top bits, so both answers occur.
        let other = if near { (a & !(u32::MAX.checked_shr(p.into()).unwrap_or(0))) | (o >> p.min(31)) } else { o };
        (format!("{}/{}", Ipv4Addr::from(a), p), Ipv4Addr::from(other).to_string())
    });
    let v6 = (any::<u128>(), 0u8..=128, any::<u128>(), any::<bool>()).prop_map(|(a, p, o, near)| {
        let other = if near { (a & !(u128::MAX.checked_shr(p.into()).unwrap_or(0))) | (o >> p.min(127)) } else { o };
        (format!("{}/{}", Ipv6Addr::from(a), p), Ipv6Addr::from(other).to_string())
    });
    prop_oneof![v4, v6]
}

fn render(net: &str, other: &str) -> String {
    let c = Cidr::parse(net).expect("generated prefix parses");
    let s = subnet(&c);
    let other: IpAddr = other.parse().expect("generated address parses");
    let route = match route_to(&c, other) {
        Route::Direct => "direct",
        Route::ViaRouter => "router",
    };
    let bcast = s.broadcast.map_or("-".to_string(), |b| b.to_string());
    format!(
        "{} {} {} {} {} {} {} {} {}",
        s.network, s.netmask, s.wildcard, bcast, s.first_host, s.last_host, s.usable_hosts, s.total_addresses, route
    )
}

/// Addresses compared as values: Rust writes `::ffff:255.255.255.255` where Python writes
/// `::ffff:ffff:ffff`, both correct text for one address.
fn normalize(line: &str) -> Vec<String> {
    line.split_whitespace()
        .map(|w| w.parse::<IpAddr>().map_or_else(|_| w.to_string(), |ip| format!("{ip:?}")))
        .collect()
}

#[test]
fn subnet_math_matches_python_ipaddress() {
    let Some(py) = python() else { return };
    let mut runner = TestRunner::new_with_rng(Config::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]));
    let strategy = case();
    let mut cases: Vec<(String, String)> =
        (0..5000).map(|_| strategy.new_tree(&mut runner).expect("generate").current()).collect();
    // The edges, always.
    for fixed in ["0.0.0.0/0", "255.255.255.255/32", "10.0.0.1/31", "::/0", "::/1", "ffff::1/127", "::1/128"] {
        cases.push((fixed.to_string(), "10.0.0.1".to_string()));
    }
    let mut child =
        Command::new(py).arg("-c").arg(PY).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("start python3");
    let input: String = cases.iter().map(|(n, o)| format!("{n} {o}\n")).collect();
    // Write from a thread: Python answers while it reads, and both pipes are finite.
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("python3 output");
    writer.join().expect("writer thread").expect("write cases");
    assert!(out.status.success(), "python3 failed");
    let expected = String::from_utf8(out.stdout).expect("utf-8");
    let expected: Vec<&str> = expected.lines().collect();
    assert_eq!(expected.len(), cases.len());
    for ((net, other), want) in cases.iter().zip(expected) {
        assert_eq!(normalize(&render(net, other)), normalize(want), "case {net} {other}");
    }
}
