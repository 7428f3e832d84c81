//! Unit tests of the address math: parsing, classification, subnets, splits and VLSM.

use super::*;

fn c(s: &str) -> Cidr {
    Cidr::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

#[test]
fn parses_the_three_forms() {
    assert_eq!(c("192.168.1.10").prefix, 32);
    assert!(!c("192.168.1.10").prefix_given);
    assert_eq!(c("192.168.1.10/24").prefix, 24);
    assert_eq!(c("192.168.1.10/255.255.255.0").prefix, 24);
    assert_eq!(c("10.1.2.3/255.255.252.0").prefix, 22);
    assert_eq!(c("0.0.0.0/0.0.0.0").prefix, 0);
    assert_eq!(c("2001:db8::1/64").prefix, 64);
    assert_eq!(c("[::1]").addr, ip("::1"));
    assert_eq!(c(" 10.0.0.1/8 ").prefix, 8);
}

#[test]
fn rejects_bad_input_with_the_reason() {
    let err = |s: &str| Cidr::parse(s).expect_err(s);
    assert!(matches!(err("300.1.2.3"), AddrError::OctetTooLarge { octet, .. } if octet == "300"));
    assert!(matches!(err("1.2.3.1000"), AddrError::OctetTooLarge { .. }));
    assert!(matches!(err("10.0.0.0/33"), AddrError::PrefixTooLong { prefix: 33, max: 32, .. }));
    assert!(matches!(err("::/129"), AddrError::PrefixTooLong { prefix: 129, max: 128, .. }));
    assert!(matches!(err("10.0.0.0/255.0.255.0"), AddrError::NonContiguousMask { .. }));
    assert!(matches!(err("10.0.0.0/0.255.255.255"), AddrError::NonContiguousMask { .. }));
    assert_eq!(err(""), AddrError::Empty);
    assert_eq!(err("   "), AddrError::Empty);
    assert!(matches!(err("1.2.3.4x"), AddrError::Invalid { .. }));
    assert!(matches!(err("1.2.3.4.5"), AddrError::Invalid { .. }));
    assert!(matches!(err("1.2.3"), AddrError::Invalid { .. }));
    assert!(matches!(err("1..2.3"), AddrError::Invalid { .. }));
    assert!(matches!(err("1.2.3.-4"), AddrError::Invalid { .. }));
    assert!(matches!(err("010.1.1.1"), AddrError::LeadingZero { .. }));
    assert!(matches!(err("10.0.0.0/"), AddrError::BadPrefix { .. }));
    assert!(matches!(err("10.0.0.0/2x"), AddrError::BadPrefix { .. }));
    assert!(matches!(err("10.0.0.0/24/"), AddrError::BadPrefix { .. }));
    assert!(matches!(err("10.0.0.0/99999999999"), AddrError::BadPrefix { .. }));
    assert_eq!(err("2001:db8::/255.255.0.0"), AddrError::MaskOnIpv6);
    assert!(matches!(err("2001:db8::g"), AddrError::Invalid { .. }));
    // Messages say what to do, in one line.
    for e in [err("300.1.2.3"), err("10.0.0.0/33"), err("10.0.0.0/255.0.255.0"), err("")] {
        let m = e.to_string();
        assert!(!m.contains('\n') && m.contains(':'), "{m}");
    }
}

#[test]
fn netmask_round_trip() {
    for p in 0..=32u8 {
        assert_eq!(netmask_to_prefix(prefix_to_netmask(p)), Some(p));
    }
    assert_eq!(prefix_to_netmask(24), Ipv4Addr::new(255, 255, 255, 0));
    assert_eq!(netmask_to_prefix(Ipv4Addr::new(255, 255, 0, 255)), None);
}

#[test]
fn subnet_of_a_slash_24() {
    let s = subnet(&c("192.168.1.10/24"));
    assert_eq!(s.network, ip("192.168.1.0"));
    assert_eq!(s.broadcast, Some(ip("192.168.1.255")));
    assert_eq!(s.netmask, ip("255.255.255.0"));
    assert_eq!(s.wildcard, ip("0.0.0.255"));
    assert_eq!(s.first_host, ip("192.168.1.1"));
    assert_eq!(s.last_host, ip("192.168.1.254"));
    assert_eq!(s.usable_hosts.get(), Some(254));
    assert_eq!(s.total_addresses.get(), Some(256));
}

#[test]
fn point_to_point_and_host_routes() {
    let s = subnet(&c("10.0.0.1/31"));
    assert_eq!((s.first_host, s.last_host, s.broadcast), (ip("10.0.0.0"), ip("10.0.0.1"), None));
    assert_eq!(s.usable_hosts.get(), Some(2));
    let s = subnet(&c("10.0.0.7/32"));
    assert_eq!((s.first_host, s.last_host, s.broadcast), (ip("10.0.0.7"), ip("10.0.0.7"), None));
    assert_eq!(s.usable_hosts.get(), Some(1));
    let s = subnet(&c("0.0.0.0/0"));
    assert_eq!(s.usable_hosts.get(), Some((1 << 32) - 2));
    let s = subnet(&c("2001:db8::/127"));
    assert_eq!((s.first_host, s.last_host), (ip("2001:db8::"), ip("2001:db8::1")));
    let s = subnet(&c("2001:db8::/64"));
    assert_eq!((s.first_host, s.last_host), (ip("2001:db8::1"), ip("2001:db8::ffff:ffff:ffff:ffff")));
    assert_eq!(s.broadcast, None);
    let s = subnet(&c("::/0"));
    assert_eq!(s.total_addresses.get(), None);
    assert_eq!(s.total_addresses.to_string(), "340282366920938463463374607431768211456");
    assert_eq!(s.usable_hosts.get(), Some(u128::MAX));
    assert_eq!(
        serde_json::to_string(&s.total_addresses).ok().as_deref(),
        Some("\"340282366920938463463374607431768211456\"")
    );
    assert_eq!(
        serde_json::to_string(&subnet(&c("::/1")).total_addresses).ok().as_deref(),
        Some("170141183460469231731687303715884105728")
    );
}

#[test]
fn same_subnet_or_via_the_router() {
    let me = c("192.168.1.10/24");
    assert_eq!(route_to(&me, ip("192.168.1.77")), Route::Direct);
    assert_eq!(route_to(&me, ip("192.168.2.5")), Route::ViaRouter);
    assert_eq!(route_to(&me, ip("::1")), Route::ViaRouter);
    assert_eq!(route_to(&c("10.0.0.0/0"), ip("8.8.8.8")), Route::Direct);
    assert_eq!(route_to(&c("10.0.0.1/32"), ip("10.0.0.2")), Route::ViaRouter);
}

#[test]
fn every_class() {
    let kind = |s: &str| classify(ip(s)).kind;
    let cases = [
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("172.32.0.1", "global"),
        ("192.168.100.1", "private"),
        ("0.1.2.3", "this-network"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "shared"),
        ("100.127.255.255", "shared"),
        ("100.128.0.0", "global"),
        ("127.0.0.1", "loopback"),
        ("169.254.10.20", "link-local"),
        ("192.0.0.1", "ietf-protocol"),
        ("192.0.0.9", "anycast"),
        ("192.0.2.55", "documentation"),
        ("198.51.100.1", "documentation"),
        ("203.0.113.9", "documentation"),
        ("198.18.0.1", "benchmarking"),
        ("198.19.255.255", "benchmarking"),
        ("224.0.0.251", "multicast"),
        ("239.255.255.250", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "broadcast"),
        ("8.8.8.8", "global"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fd12:3456::1", "unique-local"),
        ("2001:db8::1", "documentation"),
        ("3fff::1", "documentation"),
        ("ff02::1", "multicast"),
        ("::ffff:192.0.2.1", "ipv4-mapped"),
        ("64:ff9b::1.2.3.4", "translation"),
        ("100::1", "discard"),
        ("2001::1", "teredo"),
        ("2001:2::1", "benchmarking"),
        ("2002::1", "6to4"),
        ("fec0::1", "site-local"),
        ("2606:4700::1111", "global"),
    ];
    for (a, k) in cases {
        assert_eq!(kind(a), k, "{a}");
    }
}

#[test]
fn global_reachability() {
    let g = |s: &str| classify(ip(s)).globally_reachable;
    assert!(g("8.8.8.8"));
    assert!(!g("10.0.0.1"));
    assert!(!g("100.64.0.1"));
    assert!(!g("192.0.2.1"));
    assert!(g("192.0.0.9"), "PCP anycast is globally reachable inside a non-global block");
    assert!(g("2606:4700::1111"));
    assert!(!g("2001:db8::1"));
    assert!(!g("2001::1"), "Teredo is N/A inside a non-global block");
    assert!(g("ff0e::1"));
    assert!(!g("ff02::1"));
    assert!(g("224.0.1.1"));
    assert!(!g("224.0.0.1"));
    assert!(classify(ip("172.20.1.1")).private);
    assert!(!classify(ip("100.64.0.1")).private);
    assert_eq!(classify(ip("192.168.1.1")).classful, Some('C'));
    assert_eq!(classify(ip("130.1.1.1")).classful, Some('B'));
    assert_eq!(classify(ip("1.1.1.1")).classful, Some('A'));
    assert_eq!(classify(ip("230.1.1.1")).classful, Some('D'));
    assert_eq!(classify(ip("250.1.1.1")).classful, Some('E'));
    // Most specific first.
    let blocks = classify(ip("192.0.0.9")).blocks;
    assert_eq!(blocks.iter().map(|b| b.block.1).collect::<Vec<_>>(), [32, 24]);
    let blocks = classify(ip("192.0.0.5")).blocks;
    assert_eq!(blocks.iter().map(|b| b.block.1).collect::<Vec<_>>(), [29, 24]);
}

#[test]
fn split_lists_subnets() {
    let subs: Vec<String> = split(&c("192.168.0.77/24"), 26).expect("split").map(|s| s.to_string()).collect();
    assert_eq!(subs, ["192.168.0.0/26", "192.168.0.64/26", "192.168.0.128/26", "192.168.0.192/26"]);
    assert_eq!(split(&c("10.0.0.0/8"), 8).expect("same").count(), 1);
    assert!(matches!(split(&c("10.0.0.0/24"), 23), Err(PlanError::SplitPrefix { .. })));
    assert!(matches!(split(&c("10.0.0.0/24"), 33), Err(PlanError::SplitPrefix { .. })));
    assert!(matches!(split(&c("::/0"), 64), Err(PlanError::TooManySubnets { .. })));
    let last = split(&c("2001:db8::/32"), 48).expect("v6").last().map(|s| s.to_string());
    assert_eq!(last.as_deref(), Some("2001:db8:ffff::/48"));
}

#[test]
fn prefix_for_hosts_is_the_smallest_that_holds() {
    let p = |h| prefix_for_hosts(Family::V4, h).expect("fits");
    assert_eq!(p(1), 30);
    assert_eq!(p(2), 30);
    assert_eq!(p(3), 29);
    assert_eq!(p(6), 29);
    assert_eq!(p(7), 28);
    assert_eq!(p(254), 24);
    assert_eq!(p(255), 23);
    assert_eq!(p((1 << 32) - 2), 0);
    assert!(prefix_for_hosts(Family::V4, (1 << 32) - 1).is_err());
    assert_eq!(prefix_for_hosts(Family::V4, 0), Err(PlanError::ZeroHosts));
    assert_eq!(prefix_for_hosts(Family::V6, 3), Ok(126));
    assert_eq!(prefix_for_hosts(Family::V6, u128::MAX - 1), Ok(0));
    assert!(prefix_for_hosts(Family::V6, u128::MAX).is_err());
}

#[test]
fn vlsm_packs_largest_first() {
    let plan = vlsm(&c("192.168.1.0/24"), &[20, 100, 50, 2]).expect("plan");
    let got: Vec<(usize, String)> =
        plan.iter().map(|a| (a.index, a.subnet.map(|s| s.to_string()).unwrap_or_default())).collect();
    assert_eq!(
        got,
        [
            (1, "192.168.1.0/25".to_string()),
            (2, "192.168.1.128/26".to_string()),
            (0, "192.168.1.192/27".to_string()),
            (3, "192.168.1.224/30".to_string()),
        ]
    );
    // 200 needs a /24 of its own; the /25 for 100 then does not fit, but 20 still does.
    let plan = vlsm(&c("10.0.0.0/24"), &[200, 100, 20]).expect("plan");
    assert_eq!(plan[0].subnet.map(|s| s.to_string()).as_deref(), Some("10.0.0.0/24"));
    assert_eq!(plan[1].subnet, None);
    assert_eq!(plan[2].subnet, None);
    // Exactly full.
    let plan = vlsm(&c("10.0.0.0/24"), &[126, 126]).expect("plan");
    assert!(plan.iter().all(|a| a.subnet.is_some()));
    // The very top of the address space.
    let plan = vlsm(&c("255.255.255.0/24"), &[120, 60, 30]).expect("plan");
    assert_eq!(plan[2].subnet.map(|s| s.to_string()).as_deref(), Some("255.255.255.192/27"));
    let plan = vlsm(&c("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00/120"), &[127, 127, 1]).expect("plan");
    assert_eq!(plan[1].subnet.map(|s| s.to_string()).as_deref(), Some("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff80/121"));
    assert_eq!(plan[2].subnet, None);
}
