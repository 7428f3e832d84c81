//! `sockit info` against what `ip` and resolv.conf say, on this machine and in a namespace
//! built with known values.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::util::{DEADLINE, Netns, have, run, sh, sockit};

/// (interface, address, prefix) for every address, from `ip -j addr` or `sockit info --json`.
type AddrSet = BTreeSet<(String, String, u64)>;

fn sockit_addrs(info: &Value) -> AddrSet {
    let mut set = AddrSet::new();
    for i in info["interfaces"].as_array().expect("interfaces") {
        let name = i["name"].as_str().expect("name").to_string();
        for fam in ["ipv4", "ipv6"] {
            for a in i[fam].as_array().expect("addresses") {
                let addr = a["address"].as_str().expect("address").to_string();
                set.insert((name.clone(), addr, a["prefix"].as_u64().expect("prefix")));
            }
        }
    }
    set
}

fn ip_addrs(ip_json: &Value) -> AddrSet {
    let mut set = AddrSet::new();
    for i in ip_json.as_array().expect("ip -j addr") {
        let name = i["ifname"].as_str().expect("ifname").to_string();
        for a in i["addr_info"].as_array().into_iter().flatten() {
            let addr = a["local"].as_str().expect("local").to_string();
            set.insert((name.clone(), addr, a["prefixlen"].as_u64().expect("prefixlen")));
        }
    }
    set
}

fn ip_routers(route_json: &str) -> BTreeSet<(String, String)> {
    let v: Value = serde_json::from_str(route_json).expect("ip -j route");
    v.as_array()
        .expect("routes")
        .iter()
        .filter_map(|r| Some((r["gateway"].as_str()?.to_string(), r["dev"].as_str()?.to_string())))
        .collect()
}

fn sockit_routers(info: &Value) -> BTreeSet<(String, String)> {
    info["routers"]
        .as_array()
        .expect("routers")
        .iter()
        .map(|r| (r["address"].as_str().expect("a").to_string(), r["interface"].as_str().expect("i").to_string()))
        .collect()
}

#[test]
fn interfaces_match_ip_addr() {
    if !have("ip") {
        return;
    }
    let info = sockit(&["info", "--json"]).json();
    let ip: Value = serde_json::from_str(&sh("ip -j addr")).expect("ip json");
    assert_eq!(sockit_addrs(&info), ip_addrs(&ip));
    // Interface names, in index order.
    let names: Vec<&str> =
        info["interfaces"].as_array().expect("i").iter().filter_map(|i| i["name"].as_str()).collect();
    let ip_names: Vec<&str> = ip.as_array().expect("i").iter().filter_map(|i| i["ifname"].as_str()).collect();
    assert_eq!(names, ip_names);
    // Where the kernel has a broadcast address, ours is the same.
    for i in ip.as_array().expect("i") {
        for a in i["addr_info"].as_array().into_iter().flatten() {
            let Some(brd) = a["broadcast"].as_str() else { continue };
            let ours = info["interfaces"]
                .as_array()
                .expect("i")
                .iter()
                .flat_map(|j| j["ipv4"].as_array().into_iter().flatten())
                .find(|e| e["address"] == a["local"])
                .expect("same address in sockit");
            assert_eq!(ours["broadcast"], brd);
        }
    }
    let kernel = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    assert_eq!(info["hostname"].as_str(), Some(kernel.trim()));
}

#[test]
fn routers_match_ip_route() {
    if !have("ip") {
        return;
    }
    let info = sockit(&["info", "--json"]).json();
    let mut want = ip_routers(&sh("ip -j -4 route show default"));
    want.extend(ip_routers(&sh("ip -j -6 route show default")));
    assert_eq!(sockit_routers(&info), want);
}

#[test]
fn dns_matches_resolv_conf() {
    let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let want: Vec<String> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(|a| a.split('%').next().unwrap_or(a).to_string())
        .collect();
    let info = sockit(&["info", "--json"]).json();
    let got: Vec<&str> =
        info["dns"]["nameservers"].as_array().expect("ns").iter().filter_map(|n| n["address"].as_str()).collect();
    assert_eq!(got, want);
}

#[test]
fn resolv_conf_option_and_unknown_options() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("resolv.conf");
    std::fs::write(
        &path,
        "nameserver 198.18.0.53\nnameserver 2001:db8::53\nsearch corp.example lab.example\n\
         options trust-ad no-aaaa edns0 some-future-option:3\n",
    )
    .expect("write");
    let p = path.to_str().expect("utf-8 path");
    let v = sockit(&["info", "--json", "--resolv-conf", p]).json();
    assert_eq!(v["dns"]["nameservers"][0]["address"], "198.18.0.53");
    assert_eq!(v["dns"]["nameservers"][1]["address"], "2001:db8::53");
    assert_eq!(v["dns"]["search"], serde_json::json!(["corp.example", "lab.example"]));
    assert_eq!(v["dns"]["options"][3], "some-future-option:3");
    let text = sockit(&["info", "--resolv-conf", p]).ok();
    assert!(text.contains(&format!("DNS servers   198.18.0.53, 2001:db8::53 (from {p})\n")), "{text}");
    assert!(text.contains("Search        corp.example lab.example\n"), "{text}");

    let missing = dir.path().join("nope");
    let line = sockit(&["info", "--resolv-conf", missing.to_str().expect("p")]).fails(1);
    assert!(line.contains("cannot read") && line.contains("nope"), "{line}");
}

/// A namespace with known addresses, a default route and its own resolv.conf: every value
/// `sockit info` prints is checked exactly.
#[test]
fn exact_values_in_a_namespace() {
    let Some(ns) = Netns::new("info") else { return };
    ns.exec_ok(
        "ip link add d0 type veth peer name d1 && ip link set d1 up && ip link set d0 up && ip addr add 198.18.0.10/24 dev d0 && \
         ip addr add 198.18.0.200/30 dev d0 && ip -6 addr add 2001:db8:18::10/64 dev d0 nodad && \
         ip route add default via 198.18.0.1 dev d0 && ip -6 route add default via 2001:db8:18::1 dev d0 && \
         ip addr add 198.18.0.5 peer 198.18.0.6/32 dev d1 && ip -6 addr add 2001:db8:19::1 peer 2001:db8:19::2/128 dev d1 nodad",
    );
    ns.set_resolv_conf("nameserver 198.18.0.53\nsearch lan.example\noptions trust-ad edns0 no-aaaa\n");

    let out = run(ns.cmd(crate::util::sockit_bin(), &["info", "--json"]), b"", DEADLINE);
    let v = out.json();
    let d0 = v["interfaces"].as_array().expect("i").iter().find(|i| i["name"] == "d0").expect("d0").clone();
    assert_eq!(d0["up"], true);
    let v4 = &d0["ipv4"][0];
    assert_eq!(v4["address"], "198.18.0.10");
    assert_eq!(v4["prefix"], 24);
    assert_eq!(v4["netmask"], "255.255.255.0");
    assert_eq!(v4["network"], "198.18.0.0");
    assert_eq!(v4["broadcast"], "198.18.0.255");
    assert_eq!(v4["kind"], "benchmarking");
    assert_eq!(v4["class"], "C");
    let v4b = &d0["ipv4"][1];
    assert_eq!((v4b["network"].as_str(), v4b["broadcast"].as_str()), (Some("198.18.0.200"), Some("198.18.0.203")));
    assert!(d0["ipv6"].as_array().expect("v6").iter().any(|a| a["address"] == "2001:db8:18::10" && a["prefix"] == 64));
    assert_eq!(
        sockit_routers(&v),
        BTreeSet::from([
            ("198.18.0.1".to_string(), "d0".to_string()),
            ("2001:db8:18::1".to_string(), "d0".to_string())
        ])
    );
    assert_eq!(v["dns"]["nameservers"][0]["address"], "198.18.0.53");
    assert_eq!(v["dns"]["search"][0], "lan.example");

    let text = run(ns.cmd(crate::util::sockit_bin(), &["info"]), b"", DEADLINE).ok();
    let d0_block: String = text.split("\n\n").find(|b| b.starts_with("Interface d0 ")).expect("d0 block").to_string();
    let lines: Vec<&str> = d0_block.lines().skip(1).take(11).collect();
    assert_eq!(
        lines,
        [
            "  IP address    198.18.0.10/24",
            "  Netmask       255.255.255.0",
            "  Network       198.18.0.0/24",
            "  Broadcast     198.18.0.255",
            "  Kind          benchmarking (class C)",
            "  IP address    198.18.0.200/30",
            "  Netmask       255.255.255.252",
            "  Network       198.18.0.200/30",
            "  Broadcast     198.18.0.203",
            "  Kind          benchmarking (class C)",
            "  IPv6 address  2001:db8:18::10/64 (documentation)",
        ],
        "{text}"
    );
    assert!(text.contains("Router        198.18.0.1 via d0\nRouter        2001:db8:18::1 via d0\n"), "{text}");
    // Point-to-point peers, as `ip addr` shows them (they were left out).
    let ip: Value =
        serde_json::from_str(&run(ns.cmd("ip", &["-j", "addr", "show", "d1"]), b"", DEADLINE).ok()).expect("ip json");
    let kernel: Vec<(String, String)> = ip[0]["addr_info"]
        .as_array()
        .expect("addr_info")
        .iter()
        .filter(|a| a["address"].is_string())
        .map(|a| (a["local"].as_str().expect("local").to_string(), a["address"].as_str().expect("peer").to_string()))
        .collect();
    assert_eq!(kernel.len(), 2, "{ip}");
    let d1 = v["interfaces"].as_array().expect("i").iter().find(|i| i["name"] == "d1").expect("d1").clone();
    let ours: Vec<(String, String)> = ["ipv4", "ipv6"]
        .iter()
        .flat_map(|f| d1[f].as_array().expect("family").clone())
        .filter(|a| a["peer"].is_string())
        .map(|a| (a["address"].as_str().expect("a").to_string(), a["peer"].as_str().expect("p").to_string()))
        .collect();
    assert_eq!(ours, kernel);
    assert!(text.contains("  IP address    198.18.0.5/32\n  Peer          198.18.0.6 (point-to-point)\n"), "{text}");
    assert!(text.contains("  IPv6 address  2001:db8:19::1/128 (documentation), peer 2001:db8:19::2\n"), "{text}");
    assert!(text.contains("DNS servers   198.18.0.53 (from /etc/resolv.conf)\nSearch        lan.example\n"), "{text}");
}

/// A default route with two next hops lists both routers (as `ip route show default` does);
/// a default route of another table is not the host's default (nor is it in `ip route`'s
/// list); an interface that is down says so, with the kernel's operational state.
#[test]
fn multipath_routers_other_tables_and_states_in_a_namespace() {
    let Some(ns) = Netns::new("info-mp") else { return };
    ns.exec_ok(
        "ip link add m0 type veth peer name m1 && ip link set m0 up && ip link set m1 up && \
         ip addr add 198.18.0.10/25 dev m0 && ip addr add 198.18.0.130/25 dev m1 && \
         ip route add default nexthop via 198.18.0.1 dev m0 nexthop via 198.18.0.129 dev m1 && \
         ip route add default via 198.18.0.2 dev m0 table 100 && \
         ip link add dn0 type veth peer name dn1 && ip link set dn0 mtu 1280",
    );
    let v = run(ns.cmd(crate::util::sockit_bin(), &["info", "--json"]), b"", DEADLINE).json();
    assert_eq!(
        sockit_routers(&v),
        BTreeSet::from([("198.18.0.1".to_string(), "m0".to_string()), ("198.18.0.129".to_string(), "m1".to_string())])
    );
    let ip = run(ns.cmd("ip", &["route", "show", "default"]), b"", DEADLINE).ok();
    assert!(ip.contains("via 198.18.0.1 dev m0") && ip.contains("via 198.18.0.129 dev m1"), "{ip}");
    let dn0 = v["interfaces"].as_array().expect("i").iter().find(|i| i["name"] == "dn0").expect("dn0").clone();
    assert_eq!(
        (&dn0["up"], &dn0["state"], &dn0["mtu"]),
        (&Value::Bool(false), &Value::from("down"), &Value::from(1280))
    );
    assert_eq!(dn0["loopback"], false);
    let lo = v["interfaces"].as_array().expect("i").iter().find(|i| i["name"] == "lo").expect("lo").clone();
    assert_eq!((&lo["loopback"], lo.get("mac")), (&Value::Bool(true), None));
}
