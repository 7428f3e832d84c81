//! `sockit port`: the registry both ways, checked against getent for every entry of
//! /etc/services, the lecture's table, and exit codes.

use std::collections::BTreeMap;

use crate::util::{have, sh, sockit};

/// (port, proto) -> primary name.
type ByPort = BTreeMap<(u16, String), String>;
/// (name or alias, proto, port).
type ByName = Vec<(String, String, u16)>;

/// Both directions, as getent lists them.
fn getent_services() -> (ByPort, ByName) {
    let mut by_port = BTreeMap::new();
    let mut by_name = Vec::new();
    for line in sh("getent services").lines() {
        let mut w = line.split_whitespace();
        let (Some(name), Some(pp)) = (w.next(), w.next()) else { continue };
        let Some((port, proto)) = pp.split_once('/') else { continue };
        let port: u16 = port.parse().expect("getent port");
        by_port.entry((port, proto.to_string())).or_insert_with(|| name.to_string());
        for n in std::iter::once(name).chain(w) {
            by_name.push((n.to_string(), proto.to_string(), port));
        }
    }
    (by_port, by_name)
}

#[test]
fn agrees_with_getent_on_every_entry() {
    if !have("getent") {
        return;
    }
    if !std::path::Path::new("/etc/services").exists() {
        assert!(!crate::util::under_ci(), "/etc/services is required under CI (.ci/run installs netbase)");
        eprintln!("skipping: no /etc/services");
        return;
    }
    let (by_port, by_name) = getent_services();
    assert!(by_port.len() > 100, "getent listed too little: {}", by_port.len());
    for proto in ["tcp", "udp"] {
        // Port -> name: getent's name (from /etc/services) is among sockit's, as a name or an
        // alias (IANA's name comes first).
        let ports: Vec<String> = by_port.keys().filter(|k| k.1 == proto).map(|k| k.0.to_string()).collect();
        let mut args = vec!["port", "--json", if proto == "tcp" { "--tcp" } else { "--udp" }];
        args.extend(ports.iter().map(String::as_str));
        let v = sockit(&args).json();
        let answers = v["ports"].as_array().expect("ports");
        assert_eq!(answers.len(), ports.len());
        for a in answers {
            let port = u16::try_from(a["port"].as_u64().expect("port")).expect("port");
            let want = &by_port[&(port, proto.to_string())];
            let names: Vec<&str> = a["services"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|s| std::iter::once(&s["name"]).chain(s["aliases"].as_array().into_iter().flatten()))
                .filter_map(|n| n.as_str())
                .collect();
            assert!(names.contains(&want.as_str()), "{port}/{proto}: getent says {want}, sockit {names:?}");
        }
        // Name -> port: every name and alias getent knows finds its port.
        let names: Vec<&(String, String, u16)> = by_name.iter().filter(|n| n.1 == proto).collect();
        let mut args = vec!["port", "--json", if proto == "tcp" { "--tcp" } else { "--udp" }];
        args.extend(names.iter().map(|n| n.0.as_str()));
        let out = sockit(&args);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let v = out.json();
        let found: Vec<u64> = v["ports"].as_array().expect("ports").iter().filter_map(|a| a["port"].as_u64()).collect();
        for (name, _, port) in names {
            assert!(found.contains(&u64::from(*port)), "{name}/{proto} -> {port} missing");
        }
    }
    // And one straight from getent's own lookup.
    assert_eq!(sh("getent services 22/tcp").split_whitespace().next(), Some("ssh"));
}

#[test]
fn both_ways_exact() {
    let out = sockit(&["port", "22", "ssh", "--tcp"]).ok();
    assert_eq!(
        out,
        "PORT   SERVICE  PROTOCOLS     CLASS       NOTE\n\
         22     ssh      tcp           system      secure shell\n\
         22     ssh      tcp           system      secure shell\n"
    );
    let v = sockit(&["port", "--json", "137-139"]).json();
    let names: Vec<&str> =
        v["ports"].as_array().expect("p").iter().filter_map(|a| a["services"][0]["name"].as_str()).collect();
    assert_eq!(names, ["netbios-ns", "netbios-dgm", "netbios-ssn"]);
    assert!(v["ports"].as_array().expect("p").iter().all(|a| a["lecture"] == "Windows file sharing"));
    let v = sockit(&["port", "--json", "https"]).json();
    assert_eq!(v["ports"][0]["port"], 443);
    assert_eq!(v["ports"][0]["class"], "system");
    let v = sockit(&["port", "--json", "50000", "--udp"]).json();
    assert_eq!(v["ports"][0]["class"], "dynamic");
}

#[test]
fn lecture_table() {
    let v = sockit(&["port", "--common", "--json", "--tcp"]).json();
    let got: Vec<(u64, String)> = v["ports"]
        .as_array()
        .expect("p")
        .iter()
        .map(|a| (a["port"].as_u64().unwrap_or(0), a["lecture"].as_str().unwrap_or("").to_string()))
        .collect();
    let ports: Vec<u64> = got.iter().map(|g| g.0).collect();
    assert_eq!(ports, [21, 22, 23, 25, 79, 80, 110, 123, 137, 138, 139, 143, 443]);
    assert_eq!(got[3].1, "mail");
    assert_eq!(got[6].1, "email retrieval");
}

#[test]
fn ephemeral_range_is_this_hosts() {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").expect("range");
    let mut w = range.split_whitespace().map(|x| x.parse::<u16>().expect("n"));
    let (lo, hi) = (w.next().expect("lo"), w.next().expect("hi"));
    let (lo_s, hi_s, below) = (lo.to_string(), hi.to_string(), (lo - 1).to_string());
    let v = sockit(&["port", "--json", &lo_s, &hi_s, &below]).json();
    let eph: Vec<bool> = v["ports"].as_array().expect("p").iter().map(|a| a["ephemeral"] == true).collect();
    assert_eq!(eph, [true, true, false]);
}

#[test]
fn not_found_and_invalid() {
    let out = sockit(&["port", "4", "no-such-service"]);
    assert_eq!(out.fails(1), "sockit: no registered service matches '4', 'no-such-service': check the spelling");
    assert!(out.stdout().contains("\n4      -"), "{}", out.stdout());
    for (arg, want) in [
        ("70000", "port 70000 is out of range"),
        ("-1", "'-1' is not a port"),
        ("10-5", "range 10-5 runs backwards"),
        ("", "empty port"),
        ("1-99999", "port 99999 is out of range"),
    ] {
        let line = sockit(&["port", arg]).fails(2);
        assert!(line.contains(want), "{arg}: {line}");
    }
}

/// getent's PORT/PROTO form works, and the registry's name leads, with /etc/services' names as
/// aliases after it (Debian lists imap2 for 143; IANA's name is imap).
#[test]
fn getent_form_and_the_registry_name_first() {
    if !crate::util::have("getent") {
        return;
    }
    let getent = crate::util::sh("getent services 53/udp");
    let theirs = getent.split_whitespace().next().expect("a name").to_string();
    let v = sockit(&["port", "--json", "53/udp"]).json();
    let names: Vec<&str> = v["ports"][0]["services"]
        .as_array()
        .expect("services")
        .iter()
        .flat_map(|s| std::iter::once(&s["name"]).chain(s["aliases"].as_array().into_iter().flatten()))
        .map(|n| n.as_str().expect("name"))
        .collect();
    assert!(names.contains(&theirs.as_str()), "getent says {theirs}, sockit {names:?}");
    assert!(v["ports"][0]["services"][0]["protocols"].as_array().expect("p").iter().all(|p| p == "udp"));
    let text = sockit(&["port", "143"]).ok();
    let row = text.lines().nth(1).expect("a row");
    assert!(row.starts_with("143    imap "), "{row}");
    if std::fs::read_to_string("/etc/services").unwrap_or_default().contains("imap2") {
        assert!(row.contains("aliases imap2"), "{row}");
    }
    assert_eq!(
        sockit(&["port", "53/udp", "--tcp"]).fails(2),
        "sockit: '53/udp' asks for udp where --tcp asks for tcp: drop one of them"
    );
    // Each argument keeps its own protocol.
    let text = sockit(&["port", "53/udp", "143"]).ok();
    assert!(text.contains("\n53     domain ") && text.contains("\n143    imap "), "{text}");
}
