//! `sockit hostname`, `lookup` and `reverse` against a real DNS server (dnsmasq), dig, getent
//! and Python. System-resolver lookups of names outside /etc/hosts run inside a namespace
//! whose resolv.conf points at a dnsmasq of the test's own, so no query leaves the machine.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::{DEADLINE, DNS_HOSTS, Dnsmasq, Netns, have, run, sh, sockit, sockit_bin};

/// The records of the test zone.
const RECORDS: &[&str] = &[
    "--mx-host=test,mail.test,10",
    "--txt-record=txt.test,hello world,second \"quoted\"",
    "--cname=alias.test,host1.test",
    "--srv-host=_sip._tcp.test,host1.test,5060,1,2",
    "--cname=dangle.test,nowhere.test",
];

fn dig_short(server: &Dnsmasq, args: &[&str]) -> Vec<String> {
    let mut c = Command::new("dig");
    c.args(["@127.0.0.1", "-p", &server.port.to_string(), "+short", "+time=2", "+tries=1"]).args(args);
    run(c, b"", DEADLINE).ok().lines().map(str::to_string).collect()
}

fn record_data(v: &serde_json::Value) -> Vec<String> {
    v["records"].as_array().expect("records").iter().map(|r| r["data"].as_str().expect("data").to_string()).collect()
}

#[test]
fn every_record_type_matches_dig() {
    let Some(dns) = Dnsmasq::start(DNS_HOSTS, RECORDS) else { return };
    if !have("dig") {
        return;
    }
    let server = dns.server();
    let cases = [
        ("host1.test", "A"),
        ("host1.test", "AAAA"),
        ("alias.test", "CNAME"),
        ("alias.test", "A"),
        ("test", "MX"),
        ("test", "NS"),
        ("test", "SOA"),
        ("_sip._tcp.test", "SRV"),
        ("txt.test", "TXT"),
        ("10.0.18.198.in-addr.arpa", "PTR"),
    ];
    for (name, t) in cases {
        let out = sockit(&["lookup", "--json", "--server", &server, "--type", t, name]);
        let v = out.json();
        assert_eq!(v["type"], "answer", "{name} {t}: {}", out.stderr);
        assert_eq!(record_data(&v), dig_short(&dns, &[name, t]), "{name} {t}");
        if t == "TXT" {
            // JSON also carries the strings themselves, unquoted.
            assert_eq!(v["records"][0]["strings"], serde_json::json!(["hello world", "second \"quoted\""]));
        }
        // TTLs are the server's.
        assert!(v["records"].as_array().expect("r").iter().all(|r| r["ttl"].as_u64().is_some_and(|t| t > 0)));
    }
    let human = sockit(&["lookup", "--server", &server, "--type", "MX", "test"]).ok();
    assert_eq!(human, "test.  600  MX  10 mail.test.\n");
    let human = sockit(&["lookup", "--server", &server, "host1.test"]).ok();
    assert_eq!(human, "host1.test.  600  A  198.18.0.10\nhost1.test.  600  AAAA  2001:db8::10\n");
    let v4 = sockit(&["lookup", "--server", &server, "-4", "host1.test"]).ok();
    assert_eq!(v4, "host1.test.  600  A  198.18.0.10\n");
}

#[test]
fn reverse_matches_dig_x() {
    let Some(dns) = Dnsmasq::start(DNS_HOSTS, RECORDS) else { return };
    if !have("dig") {
        return;
    }
    let out = sockit(&["reverse", "--server", &dns.server(), "198.18.0.10", "2001:db8::10"]).ok();
    assert_eq!(out, "198.18.0.10  host1.test.\n2001:db8::10  host1.test.\n");
    assert_eq!(dig_short(&dns, &["-x", "198.18.0.10"]), ["host1.test."]);
    assert_eq!(dig_short(&dns, &["-x", "2001:db8::10"]), ["host1.test."]);
    let line = sockit(&["reverse", "--server", &dns.server(), "198.18.0.99"]).fails(1);
    assert_eq!(line, "sockit: 198.18.0.99: no name is registered for this address");
    // lookup --type PTR of an address asks the server, as dig -x does (it returned the literal).
    let out = sockit(&["lookup", "--server", &dns.server(), "--type", "PTR", "198.18.0.10"]).ok();
    assert!(out.ends_with("PTR  host1.test.\n"), "{out}");
    assert!(out.starts_with("10.0.18.198.in-addr.arpa."), "{out}");
}

/// gethostbyaddr's aliases: a hosts file line with several names gives `reverse` what getent
/// and Python's socket module give (it printed only the first name).
#[test]
fn reverse_gives_the_aliases_getent_and_python_give() {
    if !have("python3") {
        return;
    }
    let Some(ns) = Netns::new("alias") else { return };
    // Nothing listens on the namespace's DNS server: only the hosts file answers.
    ns.set_resolv_conf("nameserver 127.0.0.1\n");
    ns.set_etc("hosts", "127.0.0.1 localhost\n198.18.0.77 multi.test m1  m2 # three names\n198.18.0.78 single.test\n");
    let out = run(ns.cmd(sockit_bin(), &["reverse", "198.18.0.77", "198.18.0.78"]), b"", DEADLINE).ok();
    assert_eq!(out, "198.18.0.77  multi.test m1 m2\n198.18.0.78  single.test\n");
    let getent = run(ns.cmd("getent", &["hosts", "198.18.0.77"]), b"", DEADLINE).ok();
    assert_eq!(getent.split_whitespace().collect::<Vec<_>>(), ["198.18.0.77", "multi.test", "m1", "m2"]);
    let py = "import socket; n, a, _ = socket.gethostbyaddr('198.18.0.77'); print(n, *a)";
    assert_eq!(run(ns.cmd("python3", &["-c", py]), b"", DEADLINE).ok(), "multi.test m1 m2\n");
    let v = run(ns.cmd(sockit_bin(), &["--json", "reverse", "198.18.0.77"]), b"", DEADLINE).json();
    assert_eq!((&v["names"], &v["aliases"]), (&serde_json::json!(["multi.test"]), &serde_json::json!(["m1", "m2"])));
}

#[test]
fn each_failure_has_its_own_line() {
    let Some(dns) = Dnsmasq::start(DNS_HOSTS, RECORDS) else { return };
    let server = dns.server();
    let nx = sockit(&["lookup", "--server", &server, "nope.test"]).fails(1);
    assert_eq!(nx, "sockit: nope.test: no such name (NXDOMAIN): check the spelling");
    let nodata = sockit(&["lookup", "--server", &server, "--type", "AAAA", "host2.test"]).fails(1);
    assert_eq!(nodata, "sockit: host2.test: the name exists but has no AAAA records");
    // A dangling alias is said, not hidden (dig shows the CNAME; it was "no address").
    if have("dig") {
        assert_eq!(dig_short(&dns, &["dangle.test", "A"]), ["nowhere.test."]);
    }
    let dangling = sockit(&["lookup", "--server", &server, "dangle.test"]).fails(1);
    assert_eq!(dangling, "sockit: dangle.test: an alias of nowhere.test., which has no A or AAAA records");
    let dangling = sockit(&["lookup", "--server", &server, "--type", "MX", "dangle.test"]).fails(1);
    assert_eq!(dangling, "sockit: dangle.test: an alias of nowhere.test., which has no MX records");
    let v = sockit(&["lookup", "--json", "--server", &server, "--type", "CNAME", "dangle.test"]).json();
    assert_eq!(record_data(&v), ["nowhere.test."]);
    let refused = sockit(&["lookup", "--server", &server, "other.example"]).fails(1);
    assert_eq!(
        refused,
        format!("sockit: other.example: {server} refused to answer (REFUSED): ask a server that serves this name")
    );
    // A server that never answers: a bound UDP socket nobody reads. A and AAAA are asked at
    // once, so two tries of 0.5 s take a second (they took two, a family after the other).
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let silent_addr = silent.local_addr().expect("addr").to_string();
    let start = std::time::Instant::now();
    let timeout =
        sockit(&["lookup", "--server", &silent_addr, "--timeout", "0.5", "--retries", "1", "host1.test"]).fails(1);
    let took = start.elapsed();
    assert_eq!(
        timeout,
        format!(
            "sockit: host1.test: no answer from {silent_addr} within 500ms (2 tries): is a DNS server running there?"
        )
    );
    assert!(took >= Duration::from_millis(950) && took < Duration::from_millis(1600), "took {took:?}");
    // Nothing at all on the port: refused at once.
    let port = crate::util::free_port();
    let none = sockit(&["lookup", "--server", &format!("127.0.0.1:{port}"), "host1.test"]).fails(1);
    assert!(none.contains("nothing listens on 127.0.0.1:"), "{none}");
    // JSON says which kind.
    let v = sockit(&["lookup", "--json", "--server", &server, "nope.test"]).json();
    assert_eq!(
        (v["type"].as_str(), v["kind"].as_str(), v["name"].as_str()),
        (Some("error"), Some("nxdomain"), Some("nope.test"))
    );
}

#[test]
fn tcp_and_truncation() {
    // 40 TXT strings of 100 bytes do not fit in 1232 bytes of UDP: the server truncates and
    // sockit must retry over TCP.
    let big: String = (0..40).map(|i| format!("{i:0>100}")).collect::<Vec<_>>().join(",");
    let big_opt = format!("--txt-record=big.test,{big}");
    let Some(dns) = Dnsmasq::start(DNS_HOSTS, &[&big_opt]) else { return };
    let v = sockit(&["lookup", "--json", "--tcp", "--server", &dns.server(), "host1.test"]).json();
    assert_eq!(v["tcp"], true);
    assert_eq!(record_data(&v), ["198.18.0.10", "2001:db8::10"]);
    let v = sockit(&["lookup", "--json", "--server", &dns.server(), "--type", "TXT", "big.test"]).json();
    assert_eq!(v["tcp"], true, "a truncated UDP answer is retried over TCP");
    let data = record_data(&v);
    assert_eq!(data.len(), 1);
    assert_eq!(data[0].matches('"').count(), 80, "40 quoted strings");
}

#[test]
fn bulk_in_input_order() {
    let Some(dns) = Dnsmasq::start(DNS_HOSTS, RECORDS) else { return };
    let names: Vec<String> = (0..400)
        .map(|i| if i % 50 == 7 { format!("missing{i}.test") } else { ["host1.test", "host2.test"][i % 2].to_string() })
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("names");
    std::fs::write(&file, names.join("\n") + "\n# a comment\n\n").expect("write");
    let out = sockit(&[
        "lookup",
        "--json",
        "-4",
        "--server",
        &dns.server(),
        "--concurrency",
        "32",
        "-f",
        file.to_str().expect("p"),
    ]);
    assert_eq!(out.code, 1, "some names fail");
    assert_eq!(out.stderr.lines().count(), 8);
    let lines: Vec<serde_json::Value> =
        out.stdout().lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
    assert_eq!(lines.len(), names.len());
    for (want, got) in names.iter().zip(&lines) {
        assert_eq!(got["name"].as_str(), Some(want.as_str()));
        if want.starts_with("missing") {
            assert_eq!(got["kind"], "nxdomain");
        } else {
            let ip = if want == "host1.test" { "198.18.0.10" } else { "198.18.0.11" };
            assert_eq!(record_data(got), [ip]);
        }
    }
    // The same from stdin, all good: exit 0.
    let good: String = names.iter().filter(|n| !n.starts_with("missing")).map(|n| format!("{n}\n")).collect();
    let mut c = Command::new(sockit_bin());
    c.args(["lookup", "-4", "--server", &dns.server(), "-f", "-"]);
    let out = run(c, good.as_bytes(), DEADLINE);
    assert_eq!(out.ok().lines().count(), good.lines().count());
}

/// The system resolver on the names of /etc/hosts, against getent (no DNS traffic: these
/// names are all in the file).
#[test]
fn system_resolver_matches_getent_on_etc_hosts() {
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let mut names: Vec<&str> =
        hosts.lines().map(|l| l.split('#').next().unwrap_or("")).flat_map(|l| l.split_whitespace().skip(1)).collect();
    names.sort_unstable();
    names.dedup();
    if names.is_empty() {
        eprintln!("skipping: /etc/hosts names nothing");
        return;
    }
    for name in names {
        let want: Vec<String> = {
            let mut v: Vec<String> = Vec::new();
            for l in sh(&format!("getent ahosts {name}")).lines() {
                let a = l.split_whitespace().next().expect("addr").to_string();
                if !v.contains(&a) {
                    v.push(a);
                }
            }
            v
        };
        let v = sockit(&["lookup", "--json", name]).json();
        let got: Vec<String> =
            v["addresses"].as_array().expect("addresses").iter().map(|a| a.as_str().expect("s").to_string()).collect();
        assert_eq!(got, want, "{name}");
    }
    // Reverse of the first address of /etc/hosts: the name getent gives.
    let first = hosts.lines().find_map(|l| l.split_whitespace().next().filter(|a| !a.starts_with('#'))).expect("line");
    let want = sh(&format!("getent hosts {first}"));
    let want_name = want.split_whitespace().nth(1).expect("name");
    assert_eq!(sockit(&["reverse", first]).ok(), format!("{first}  {want_name}\n"));
    // An IP literal resolves to itself.
    assert_eq!(
        sockit(&["lookup", "192.0.2.77", "2001:db8::77"]).ok(),
        "192.0.2.77  192.0.2.77\n2001:db8::77  2001:db8::77\n"
    );
}

/// In a namespace whose resolv.conf names a dnsmasq of ours: getaddrinfo goes to DNS, and
/// `--type` without `--server` asks the resolv.conf servers. Compared with getent and Python.
#[test]
fn system_resolver_through_dns_in_a_namespace() {
    if !have("dnsmasq") || !have("python3") {
        return;
    }
    let Some(ns) = Netns::new("dns") else { return };
    ns.set_resolv_conf("nameserver 127.0.0.1\noptions edns0 trust-ad no-reload\n");
    let _dns = Dnsmasq::start_in(Some(&ns), DNS_HOSTS, RECORDS);
    let in_ns = |args: &[&str]| run(ns.cmd(sockit_bin(), args), b"", DEADLINE);

    let v = in_ns(&["lookup", "--json", "host1.test"]).json();
    let got: Vec<&str> = v["addresses"].as_array().expect("a").iter().filter_map(|a| a.as_str()).collect();
    let getent = run(ns.cmd("getent", &["ahosts", "host1.test"]), b"", DEADLINE).ok();
    let mut want: Vec<&str> = Vec::new();
    for a in getent.lines().filter_map(|l| l.split_whitespace().next()) {
        if !want.contains(&a) {
            want.push(a);
        }
    }
    assert_eq!(got, want);
    let py =
        run(ns.cmd("python3", &["-c", "import socket; print(socket.gethostbyname('host2.test'))"]), b"", DEADLINE).ok();
    assert_eq!(in_ns(&["lookup", "-4", "host2.test"]).ok(), format!("host2.test  {py}"));
    // NXDOMAIN through the system resolver.
    let line = in_ns(&["lookup", "nope.test"]).fails(1);
    assert_eq!(line, "sockit: nope.test: no such name (NXDOMAIN): check the spelling");
    // --type alone uses the resolv.conf servers.
    assert_eq!(in_ns(&["lookup", "--type", "MX", "test"]).ok(), "test.  600  MX  10 mail.test.\n");
    // gethostbyaddr through DNS, as Python's socket module does it.
    let py =
        run(ns.cmd("python3", &["-c", "import socket; print(socket.gethostbyaddr('198.18.0.11')[0])"]), b"", DEADLINE)
            .ok();
    assert_eq!(in_ns(&["reverse", "198.18.0.11"]).ok(), format!("198.18.0.11  {py}"));
}

/// `--compare`: getaddrinfo's answer beside the DNS server's, in a namespace whose hosts file,
/// search list and dnsmasq make them differ; the system side is Python's, the DNS side dig's.
#[test]
fn the_system_beside_the_wire_and_why_they_differ() {
    if !have("dnsmasq") || !have("dig") || !have("python3") {
        return;
    }
    let Some(ns) = Netns::new("cmp") else { return };
    ns.set_resolv_conf("nameserver 127.0.0.1\nsearch corp.test\n");
    ns.set_etc("hosts", "127.0.0.1 localhost\n198.18.0.99 host1.test h1\n");
    let _dns = Dnsmasq::start_in(Some(&ns), &format!("{DNS_HOSTS}198.18.0.20 printer.corp.test\n"), RECORDS);
    let in_ns = |args: &[&str]| run(ns.cmd(sockit_bin(), args), b"", DEADLINE);
    // The system's side as Python's socket module sees it (getaddrinfo would skip the
    // namespace's IPv4 for want of an address beside loopback, if asked with AI_ADDRCONFIG).
    let getent = |name: &str| {
        let py = format!("import socket; print(' '.join(sorted(socket.gethostbyname_ex('{name}')[2])))");
        run(ns.cmd("python3", &["-c", &py]), b"", DEADLINE).ok().trim().to_string()
    };
    let dig = |name: &str| {
        let out = run(ns.cmd("dig", &["+short", "@127.0.0.1", name, "A"]), b"", DEADLINE).ok();
        out.trim().to_string()
    };

    // The hosts file wins over DNS.
    assert_eq!((getent("host1.test"), dig("host1.test")), ("198.18.0.99".into(), "198.18.0.10".into()));
    let out = in_ns(&["lookup", "-4", "--compare", "host1.test"]).ok();
    assert_eq!(
        out,
        "host1.test  system  198.18.0.99\nhost1.test  dns     198.18.0.10  (127.0.0.1:53)\n\
         host1.test  differs: the hosts file gives host1.test 198.18.0.99: the system answered from it, before DNS\n"
    );
    // A name without dots goes through the search list.
    assert_eq!((getent("printer"), dig("printer.corp.test")), ("198.18.0.20".into(), "198.18.0.20".into()));
    let out = in_ns(&["lookup", "-4", "--compare", "printer"]);
    let lines: Vec<&str> = out.stdout.split(|&b| b == b'\n').map(|l| std::str::from_utf8(l).expect("utf-8")).collect();
    assert_eq!(lines[0], "printer  system  198.18.0.20");
    // dnsmasq serves test. only: a bare name is refused, as dig is told.
    let status = run(ns.cmd("dig", &["@127.0.0.1", "printer", "A"]), b"", DEADLINE).ok();
    assert!(status.contains("status: REFUSED"), "{status}");
    assert!(
        lines[1].starts_with("printer  dns     none: printer: 127.0.0.1:53 refused to answer (REFUSED"),
        "{}",
        lines[1]
    );
    assert_eq!(
        lines[2],
        "printer  differs: the search list made it printer.corp.test (first, 0 dots against ndots:1), which DNS answers with 198.18.0.20"
    );
    // Where both agree; and in JSON.
    assert_eq!(
        in_ns(&["lookup", "-4", "--compare", "host2.test"]).ok(),
        "host2.test  system  198.18.0.11\nhost2.test  dns     198.18.0.11  (127.0.0.1:53)\nhost2.test  same\n"
    );
    let v = in_ns(&["lookup", "--json", "-4", "--compare", "host1.test"]).json();
    assert_eq!(v["system"]["addresses"], serde_json::json!(["198.18.0.99"]));
    assert_eq!(v["dns"]["addresses"], serde_json::json!(["198.18.0.10"]));
    assert_eq!(v["same"], false);
    assert_eq!(v["reasons"].as_array().map(Vec::len), Some(1));
    // --type does not go with it.
    assert_eq!(in_ns(&["lookup", "--compare", "--type", "MX", "test"]).code, 2);
}

#[test]
fn hostname_like_the_system_says() {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    assert_eq!(sockit(&["hostname"]).ok(), kernel);
    let v = sockit(&["hostname", "--json", "--fqdn", "--addresses"]).json();
    assert_eq!(v["hostname"].as_str(), Some(kernel.trim()));
    // The canonical name getent gives the hostname.
    let canon = sh(&format!("getent ahosts {}", kernel.trim()));
    let canon = canon.lines().next().and_then(|l| l.split_whitespace().nth(2)).unwrap_or(kernel.trim());
    assert_eq!(v["fqdn"].as_str(), Some(canon));
    if have("ip") {
        // hostname -I's rule on ip's data: global and private addresses, no loopback or fe80::.
        let ip: serde_json::Value = serde_json::from_str(&sh("ip -j addr")).expect("json");
        let want: Vec<String> = ip
            .as_array()
            .expect("a")
            .iter()
            .flat_map(|i| i["addr_info"].as_array().cloned().unwrap_or_default())
            .filter(|a| a["scope"] != "host" && a["scope"] != "link")
            .map(|a| a["local"].as_str().expect("l").to_string())
            .collect();
        let mut got: Vec<String> =
            v["addresses"].as_array().expect("a").iter().map(|a| a.as_str().expect("s").to_string()).collect();
        let mut want_sorted = want.clone();
        got.sort();
        want_sorted.sort();
        assert_eq!(got, want_sorted);
    }
}

#[test]
fn usage_errors_exit_2() {
    for (args, want) in [
        (&["lookup", "--server", "nowhere", "x.test"][..], "--server 'nowhere' is not an address"),
        (&["lookup", "--server", "127.0.0.1", "--type", "BOGUS", "x.test"], "--type BOGUS is not a record type"),
        (&["lookup", "--server", "127.0.0.1", "--timeout", "0", "x.test"], "--timeout 0 is not a time"),
        (&["reverse", "300.1.1.1"], "octet 300"),
    ] {
        let line = sockit(args).fails(2);
        assert!(line.contains(want), "{args:?}: {line}");
    }
    assert_eq!(sockit(&["lookup"]).code, 2);
}

/// A dnsmasq with no upstream answers A from its hosts file and refuses AAAA: the lookup shows
/// the A record as dig does, notes the refused family, and exits 0 (it said "refused", exit 1);
/// JSON carries each failed family.
#[test]
fn one_family_refused_the_other_answered() {
    if !have("dnsmasq") || !have("dig") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let hosts = dir.path().join("hosts");
    std::fs::write(&hosts, "198.18.0.7 a.test\n").expect("hosts");
    let port = crate::util::free_port();
    let mut cmd = Command::new("dnsmasq");
    cmd.args(["-k", "-C", "/dev/null", "--no-resolv", "--no-hosts", "--listen-address=127.0.0.1", "--bind-interfaces"])
        .args(["-u", "root", "--pid-file=", &format!("--port={port}"), &format!("--addn-hosts={}", hosts.display())])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _dns = crate::util::Proc(cmd.spawn().expect("dnsmasq"));
    let server = format!("127.0.0.1:{port}");
    let dig = |t: &str| sh(&format!("dig +tries=5 +time=1 @127.0.0.1 -p {port} a.test {t} | grep -o 'status: [A-Z]*'"));
    assert_eq!(dig("A").trim(), "status: NOERROR");
    assert_eq!(dig("AAAA").trim(), "status: REFUSED", "this dnsmasq refuses AAAA");
    let out = sockit(&["lookup", "--server", &server, "a.test"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout().starts_with("a.test.  0  A  198.18.0.7\n"), "{}", out.stdout());
    assert_eq!(
        out.stderr.trim(),
        format!(
            "sockit: note: no AAAA answer: a.test: {server} refused to answer (REFUSED, EDE 14 Not Ready): ask a server that serves this name"
        )
    );
    // The extended error is dnsmasq's, as dig reads it: it has no upstream to ask.
    let ede =
        sh(&format!("dig +tries=5 +time=1 @127.0.0.1 -p {port} a.test AAAA | grep -o 'EDE: [0-9]* ([A-Za-z ]*)'"));
    assert_eq!(ede.trim(), "EDE: 14 (Not Ready)");
    let v = sockit(&["lookup", "--json", "--server", &server, "a.test"]).json();
    assert_eq!(v["failed"][0]["qtype"], "AAAA");
    assert_eq!(v["failed"][0]["kind"], "refused");
    assert_eq!(v["records"][0]["data"], "198.18.0.7");
}

/// Types by number and by names hickory does not know, as dig shows them: `15` and `TYPE15`
/// are MX, SPF and URI are read from their RFCs' forms, a type nobody named is RFC 3597's
/// `\# LENGTH HEX` (all refused before). AXFR goes over TCP and brings the whole zone, as
/// `dig AXFR` does, and a server that does not allow it is one line, not a timeout over UDP.
#[test]
fn numeric_types_spf_uri_and_zone_transfers_match_dig() {
    if !have("dig") {
        return;
    }
    let extra = [
        RECORDS,
        &[
            "--dns-rr=spf.test,99,0b763d73706631202d616c6c",
            "--dns-rr=uri.test,256,000a00016674703a2f2f782f",
            "--dns-rr=odd.test,65280,01ff",
            "--auth-peer=127.0.0.1",
        ],
    ]
    .concat();
    let Some(dns) = Dnsmasq::start(DNS_HOSTS, &extra) else { return };
    let server = dns.server();
    for (name, ours, digs) in [
        ("test", "15", "TYPE15"),
        ("test", "type15", "TYPE15"),
        ("spf.test", "SPF", "SPF"),
        ("uri.test", "uri", "URI"),
        ("odd.test", "TYPE65280", "TYPE65280"),
    ] {
        let out = sockit(&["lookup", "--json", "--server", &server, "--type", ours, name]);
        let v = out.json();
        assert_eq!(v["type"], "answer", "{name} {ours}: {}", out.stderr);
        assert_eq!(record_data(&v), dig_short(&dns, &[name, digs]), "{name} {ours}");
    }
    let human = sockit(&["lookup", "--server", &server, "--type", "SPF", "spf.test"]).ok();
    assert_eq!(human, "spf.test.  600  SPF  \"v=spf1 -all\"\n");
    // The zone, whole, over TCP: the same records dig transfers, SOA first and last.
    let v = sockit(&["lookup", "--json", "--server", &server, "--type", "AXFR", "test"]).json();
    let mut ours = record_data(&v);
    let types: Vec<&str> =
        v["records"].as_array().expect("records").iter().map(|r| r["type"].as_str().expect("type")).collect();
    assert_eq!((types.first(), types.last(), v["tcp"].as_bool()), (Some(&"SOA"), Some(&"SOA"), Some(true)), "{v}");
    let mut digs = dig_short(&dns, &["AXFR", "test"]);
    ours.sort();
    digs.sort();
    assert!(ours.len() > 5, "{ours:?}");
    assert_eq!(ours, digs);
    // A server that allows no transfer: one line, exit 1, at once.
    let Some(closed) = Dnsmasq::start(DNS_HOSTS, RECORDS) else { return };
    let start = std::time::Instant::now();
    let line = sockit(&["lookup", "--server", &closed.server(), "--type", "AXFR", "test"]).fails(1);
    assert!(
        line.starts_with("sockit: test: 127.0.0.1:") && line.contains("refused the zone transfer (REFUSED)"),
        "{line}"
    );
    assert!(start.elapsed() < Duration::from_secs(2), "took {:?}", start.elapsed());
}

/// A server that lies about a zone transfer gets one line and exit 1 for each lie, at once: a
/// first record that is not the SOA, a transfer cut before its closing SOA, bytes that are not
/// DNS, an answer to another query.
#[test]
fn lying_zone_transfers_are_one_line_each() {
    let lies = ["no-soa-first", "cut", "garbage", "other-id"];
    let mut py = Command::new("python3");
    py.arg(format!("{}/tests/it/py/lying_axfr.py", env!("CARGO_MANIFEST_DIR"))).args(lies).stdout(Stdio::piped());
    let mut py = crate::util::Proc(py.spawn().expect("python3"));
    let port = crate::util::line_within(py.0.stdout.take().expect("stdout"), DEADLINE).expect("port");
    let server = format!("127.0.0.1:{}", port.trim());
    let wants = [
        format!("sockit: test: {server} began the transfer with a A record, not the zone's SOA"),
        format!("sockit: test: {server} ended the transfer after 2 records, before the zone's closing SOA"),
        format!("sockit: test: {server} sent a reply that is not DNS"),
        format!("sockit: test: {server} sent a message that answers another query"),
    ];
    for (lie, want) in lies.iter().zip(wants) {
        let start = std::time::Instant::now();
        let line = sockit(&["lookup", "--server", &server, "--type", "AXFR", "test"]).fails(1);
        assert_eq!(line, want, "{lie}");
        assert!(start.elapsed() < Duration::from_secs(3), "{lie} took {:?}", start.elapsed());
    }
}

/// A lossy server that answers out of turn, written in Python for the test: it drops the first
/// try of every seventh name, sends a stray datagram (an id nobody asked) and a duplicate of
/// every answer. A bulk lookup asks it all 300 names on one socket (one source port: no
/// socket or thread a name), sends the dropped ones again after the timeout, passes over the
/// strays and duplicates, and gives every right answer in input order.
#[test]
fn bulk_lookups_share_one_socket_and_survive_loss_strays_and_duplicates() {
    if !have("python3") {
        return;
    }
    let server = r#"
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
ports, seen = set(), set()
while True:
    q, peer = s.recvfrom(4096)
    if q == b"ports?":
        s.sendto(" ".join(map(str, sorted(ports))).encode(), peer); continue
    ports.add(peer[1])
    qid = q[:2]; i = 12
    while q[i]: i += 1 + q[i]
    question = q[12:i + 5]
    label = q[13:13 + q[12]].decode()
    n = int(label[1:])
    if n % 7 == 3 and n not in seen:
        seen.add(n); continue
    ip = bytes([198, 18, n // 256, n % 256])
    answer = qid + struct.pack(">HHHHH", 0x8180, 1, 1, 0, 0) + question + b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + ip
    stray = bytes([q[0] ^ 0x55, q[1]]) + answer[2:]
    for d in (stray, answer, answer):
        s.sendto(d, peer)
"#;
    let mut py = Command::new("python3");
    py.args(["-c", server]).stdout(Stdio::piped());
    let mut child = crate::util::Proc(py.spawn().expect("python3"));
    let mut lines = crate::util::PipeLines::new(child.0.stdout.take().expect("stdout"));
    let mut port = String::new();
    lines.read_line(&mut port).expect("port");
    let server = format!("127.0.0.1:{}", port.trim());
    let names: Vec<String> = (0..300).map(|i| format!("h{i}.bulk.test")).collect();
    let mut c = Command::new(sockit_bin());
    c.args(["lookup", "--server", &server, "--type", "A", "--timeout", "0.3", "--retries", "2", "-f", "-"]);
    let out = run(c, (names.join("\n") + "\n").as_bytes(), DEADLINE);
    let want: String = (0..300).map(|i| format!("h{i}.bulk.test.  60  A  198.18.{}.{}\n", i / 256, i % 256)).collect();
    assert_eq!(out.ok(), want);
    let asker = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    asker.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    asker.send_to(b"ports?", &server).expect("ask");
    let mut buf = [0u8; 4096];
    let n = asker.recv(&mut buf).expect("ports");
    let ports = String::from_utf8_lossy(&buf[..n]).split_whitespace().count();
    assert_eq!(ports, 1, "every question from one socket");
}
