//! `sockit addr`: exact human output, JSON, and one clear line for every bad input.

use crate::util::sockit;

#[test]
fn subnet_report_is_exact() {
    let out = sockit(&["addr", "192.168.1.10/24", "192.168.1.77", "192.168.2.5"]).ok();
    let expected = "\
Address       192.168.1.10
Kind          private (Private-Use, 192.168.0.0/16, RFC 1918), class C
Private       yes
Global        no
Prefix        /24
Netmask       255.255.255.0
Wildcard      0.0.0.255
Network       192.168.1.0/24
Broadcast     192.168.1.255
First host    192.168.1.1
Last host     192.168.1.254
Hosts         254 usable of 256 addresses

192.168.1.77  same subnet (192.168.1.0/24): spoken to directly
192.168.2.5   not on 192.168.1.0/24: sent through the router
";
    assert_eq!(out, expected);
}

#[test]
fn json_report() {
    let v = sockit(&["addr", "--json", "10.1.2.3/255.255.252.0", "10.1.1.1", "10.1.4.1"]).json();
    let a = &v["addresses"][0];
    assert_eq!(a["family"], "ipv4");
    assert_eq!(a["classification"]["kind"], "private");
    assert_eq!(a["classification"]["private"], true);
    assert_eq!(a["classification"]["globally_reachable"], false);
    assert_eq!(a["classification"]["classful"], "A");
    let s = &a["subnet"];
    assert_eq!(s["prefix"], 22);
    assert_eq!(s["netmask"], "255.255.252.0");
    assert_eq!(s["wildcard"], "0.0.3.255");
    assert_eq!(s["network"], "10.1.0.0");
    assert_eq!(s["broadcast"], "10.1.3.255");
    assert_eq!(s["first_host"], "10.1.0.1");
    assert_eq!(s["last_host"], "10.1.3.254");
    assert_eq!(s["usable_hosts"], 1022);
    assert_eq!(s["total_addresses"], 1024);
    assert_eq!(v["compare"][0]["route"], "direct");
    assert_eq!(v["compare"][1]["route"], "via-router");
}

#[test]
fn classes_the_lecture_and_iana_name() {
    let cases = [
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.0.1", "private"),
        ("100.64.1.1", "shared"),
        ("192.0.2.1", "documentation"),
        ("198.51.100.1", "documentation"),
        ("203.0.113.1", "documentation"),
        ("198.18.0.1", "benchmarking"),
        ("169.254.1.1", "link-local"),
        ("127.0.0.1", "loopback"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "broadcast"),
        ("0.1.2.3", "this-network"),
        ("192.0.0.1", "ietf-protocol"),
        ("8.8.8.8", "global"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fd00::1", "unique-local"),
        ("2001:db8::1", "documentation"),
        ("ff02::1", "multicast"),
        ("::ffff:10.0.0.1", "ipv4-mapped"),
    ];
    let args: Vec<&str> = ["addr", "--json"].into_iter().chain(cases.iter().map(|c| c.0)).collect();
    let v = sockit(&args).json();
    let kinds: Vec<&str> = v["addresses"]
        .as_array()
        .expect("array")
        .iter()
        .map(|a| a["classification"]["kind"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(kinds, cases.iter().map(|c| c.1).collect::<Vec<_>>());
}

#[test]
fn point_to_point_and_ipv6() {
    let v = sockit(&["addr", "--json", "10.0.0.0/31"]).json();
    let s = &v["addresses"][0]["subnet"];
    assert_eq!((s["first_host"].as_str(), s["last_host"].as_str()), (Some("10.0.0.0"), Some("10.0.0.1")));
    assert!(s["broadcast"].is_null());
    assert_eq!(s["usable_hosts"], 2);
    let v = sockit(&["addr", "--json", "2001:db8::/64"]).json();
    let s = &v["addresses"][0]["subnet"];
    assert_eq!(
        s["total_addresses"],
        18_446_744_073_709_551_616u128.to_string().parse::<serde_json::Value>().expect("n")
    );
    assert_eq!(s["last_host"], "2001:db8::ffff:ffff:ffff:ffff");
}

#[test]
fn split_and_vlsm() {
    let v = sockit(&["addr", "--json", "192.168.0.0/24", "--split", "/26"]).json();
    let nets: Vec<&str> =
        v["split"].as_array().expect("split").iter().map(|s| s["network"].as_str().unwrap_or("")).collect();
    assert_eq!(nets, ["192.168.0.0", "192.168.0.64", "192.168.0.128", "192.168.0.192"]);

    let out = sockit(&["addr", "192.168.0.0/24", "--hosts", "20", "100", "50", "2"]).ok();
    let table: Vec<&str> = out.lines().skip_while(|l| !l.starts_with("Allocation")).collect();
    assert_eq!(
        table,
        [
            "Allocation in 192.168.0.0/24 (largest first):",
            "     HOSTS  SUBNET                 USABLE  RANGE",
            "       100  192.168.0.0/25            126  192.168.0.1 - 192.168.0.126",
            "        50  192.168.0.128/26           62  192.168.0.129 - 192.168.0.190",
            "        20  192.168.0.192/27           30  192.168.0.193 - 192.168.0.222",
            "         2  192.168.0.224/30            2  192.168.0.225 - 192.168.0.226",
            "Unused: 192.168.0.228/30 192.168.0.232/29 192.168.0.240/28",
        ]
    );
    // Does not fit: the plan is still printed, the exit code says so.
    let out = sockit(&["addr", "--json", "10.0.0.0/24", "--hosts", "200", "100"]);
    assert_eq!(out.fails(1), "sockit: 1 of 2 subnets do not fit in 10.0.0.0/24: use a larger network or fewer hosts");
    assert_eq!(out.json()["plan"]["allocations"][1]["subnet"], serde_json::Value::Null);
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let cases: [(&[&str], &str); 9] = [
        (&["300.1.2.3"], "octet 300 in '300.1.2.3' is over 255"),
        (&["10.0.0.0/33"], "prefix /33 is longer than the 32 bits"),
        (&["10.0.0.0/255.0.255.0"], "netmask 255.0.255.0 is not contiguous"),
        (&[""], "empty address"),
        (&["10.0.0.1x"], "'10.0.0.1x' is not an IPv4 or IPv6 address"),
        (&["10.0.0.1/24abc"], "prefix '/24abc' is not a number"),
        (&["10.0.0.1/24", "10.0.0.256"], "octet 256"),
        (&["10.0.0.1", "--split", "26"], "--split needs a network"),
        (&["10.0.0.0/24", "--split", "20"], "cannot split a /24 into /20"),
    ];
    for (args, want) in cases {
        let mut full = vec!["addr"];
        full.extend_from_slice(args);
        let line = sockit(&full).fails(2);
        assert!(line.starts_with("sockit: ") && line.contains(want), "{args:?}: {line}");
    }
}

/// One of a thing is one, not "1 subnets" or "(1 hosts)"; an address of the other family is
/// not said to go "through the router" of this one.
#[test]
fn singular_counts_and_mixed_families() {
    let out = crate::util::sockit(&["addr", "10.0.0.0/32", "--split", "32"]).ok();
    assert!(out.contains("Hosts         1 usable of 1 address\n"), "{out}");
    assert!(out.contains("\n1 subnet:\n10.0.0.0/32          10.0.0.0 - 10.0.0.0  (1 host)\n"), "{out}");
    let out = crate::util::sockit(&["addr", "192.168.1.10/24", "::1", "192.168.2.5"]).ok();
    assert!(out.contains("::1          another address family than 192.168.1.0/24"), "{out}");
    assert!(out.contains("192.168.2.5  not on 192.168.1.0/24: sent through the router"), "{out}");
}

/// What ipcalc and Python's ipaddress say of the new cases: the unused remainder of a VLSM
/// plan (ipcalc's "Unused:"), host ranges and CIDR strings in JSON, IETF-reserved IPv6 space,
/// unique-local as private, the IPv4 address inside an IPv4-mapped one.
#[test]
fn vlsm_remainder_json_ranges_and_ipv6_kinds() {
    if crate::util::have("ipcalc") {
        let theirs = crate::util::sh("ipcalc -n 10.0.0.0/24 -s 100 50 20");
        let unused: Vec<&str> = theirs
            .lines()
            .skip_while(|l| !l.starts_with("Unused:"))
            .skip(1)
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let ours = crate::util::sockit(&["addr", "10.0.0.0/24", "--hosts", "100", "50", "20"]).ok();
        let line = ours.lines().find(|l| l.starts_with("Unused: ")).expect("an Unused line");
        assert_eq!(line.trim_start_matches("Unused: ").split(' ').collect::<Vec<_>>(), unused, "ipcalc: {theirs}");
    }
    let v = crate::util::sockit(&["addr", "--json", "10.0.0.0/24", "--hosts", "100", "50", "20"]).json();
    let a = &v["plan"]["allocations"][0];
    assert_eq!((a["first_host"].as_str(), a["last_host"].as_str()), (Some("10.0.0.1"), Some("10.0.0.126")));
    assert_eq!(v["plan"]["free"][0], "10.0.0.224/27");
    let v = crate::util::sockit(&["addr", "--json", "10.0.0.0/24", "--split", "26"]).json();
    let cidrs: Vec<&str> =
        v["split"].as_array().expect("split").iter().map(|s| s["cidr"].as_str().expect("cidr")).collect();
    assert_eq!(cidrs, ["10.0.0.0/26", "10.0.0.64/26", "10.0.0.128/26", "10.0.0.192/26"]);
    let v = crate::util::sockit(&["addr", "--json", "4000::1", "fe00::1", "fd00::1", "::ffff:192.168.1.1"]).json();
    let kinds: Vec<(&str, bool, bool)> = v["addresses"]
        .as_array()
        .expect("addresses")
        .iter()
        .map(|d| {
            let c = &d["classification"];
            (c["kind"].as_str().expect("kind"), c["globally_reachable"] == true, c["private"] == true)
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("reserved", false, false),
            ("reserved", false, false),
            ("unique-local", false, true),
            ("ipv4-mapped", false, false)
        ]
    );
    assert_eq!(v["addresses"][3]["ipv4"]["address"], "192.168.1.1");
    assert_eq!(v["addresses"][3]["ipv4"]["classification"]["private"], true);
    if crate::util::have("python3") {
        let py = crate::util::sh(
            "python3 -c \"import ipaddress as i; print([i.ip_address(a).is_reserved for a in ['4000::1','fe00::1','fd00::1']], i.ip_address('fd00::1').is_private, i.ip_address('::ffff:192.168.1.1').ipv4_mapped)\"",
        );
        assert_eq!(py.trim(), "[True, True, False] True 192.168.1.1");
    }
}
