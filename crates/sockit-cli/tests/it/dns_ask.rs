//! `lookup`'s questions beyond the question (DNSSEC OK, checking disabled, no recursion, NSID,
//! a cookie, a client subnet, padding, the buffer size, no EDNS at all) and what it shows of
//! the reply's header, against real servers in a namespace of the test's own: nsd
//! (authoritative, with an NSID and cookies, serving a zone signed by ldns-signzone with one
//! signature broken) and unbound validating that zone, beside dig's reading of the same
//! replies; and the queries' bytes beside dig's own, caught by a Python socket.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{DEADLINE, Netns, PipeLines, Proc, have, run, sockit, sockit_bin};

const NSD: &str = "127.0.0.1:5301";
const UNBOUND: &str = "127.0.0.1:5302";

/// nsd and unbound in a namespace, the zone `edns.test.` signed, `bogus.edns.test`'s
/// signature over its address broken.
struct Rig {
    ns: Netns,
    dir: tempfile::TempDir,
    _servers: Vec<Proc>,
}

impl Rig {
    fn new() -> Option<Rig> {
        if !["nsd", "unbound", "ldns-keygen", "ldns-signzone", "dig"].iter().all(|p| have(p)) {
            return None;
        }
        let ns = Netns::new("edns")?;
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().to_str().expect("path").to_string();
        std::fs::write(
            dir.path().join("edns.zone"),
            "$ORIGIN edns.test.\n$TTL 3600\n@ IN SOA ns1 hostmaster 1 3600 900 604800 300\n@ IN NS ns1\n\
             ns1 IN A 127.0.0.1\nhost1 IN A 198.18.0.10\nbogus IN A 198.18.0.66\n",
        )
        .expect("zone");
        let keygen = |ksk: bool| {
            let mut c = Command::new("ldns-keygen");
            c.current_dir(dir.path()).args(["-a", "ECDSAP256SHA256"]);
            if ksk {
                c.arg("-k");
            }
            c.arg("edns.test");
            run(c, b"", DEADLINE).ok().trim().to_string()
        };
        let (ksk, zsk) = (keygen(true), keygen(false));
        let mut sign = Command::new("ldns-signzone");
        sign.current_dir(dir.path()).args(["edns.zone", &zsk, &ksk]);
        run(sign, b"", DEADLINE).ok();
        // Break the signature over bogus.edns.test's address: its first base64 letter changed.
        let signed = std::fs::read_to_string(dir.path().join("edns.zone.signed")).expect("signed zone");
        let broken: Vec<String> = signed
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                if f.len() > 4 && f[0] == "bogus.edns.test." && f[3] == "RRSIG" && f[4].starts_with("A ") {
                    let (head, sig) = l.rsplit_once(' ').expect("signature");
                    let first = if sig.starts_with('A') { 'B' } else { 'A' };
                    format!("{head} {first}{}", &sig[1..])
                } else {
                    l.to_string()
                }
            })
            .collect();
        assert_ne!(broken.join("\n"), signed.trim_end(), "a signature was broken");
        std::fs::write(dir.path().join("edns.zone.signed"), broken.join("\n") + "\n").expect("write");
        std::fs::write(
            dir.path().join("nsd.conf"),
            format!(
                "server:\n  ip-address: {NSD_AT}\n  port: 5301\n  username: \"\"\n  chroot: \"\"\n  zonesdir: \"{d}\"\n  \
                 database: \"\"\n  zonelistfile: \"{d}/zone.list\"\n  xfrdfile: \"{d}/xfrd.state\"\n  \
                 pidfile: \"{d}/nsd.pid\"\n  logfile: \"{d}/nsd.log\"\n  server-count: 1\n  \
                 nsid: \"ascii_sockit-nsd\"\n  answer-cookie: yes\nremote-control:\n  control-enable: no\n\
                 zone:\n  name: edns.test\n  zonefile: edns.zone.signed\n",
                NSD_AT = NSD.replace(':', "@")
            ),
        )
        .expect("nsd.conf");
        // unbound also speaks DNS over TLS on 853, with a certificate for localhost.
        let (cert, key) = crate::util::openssl_cert(dir.path());
        let (cert, key) = (cert.display(), key.display());
        std::fs::write(
            dir.path().join("unbound.conf"),
            format!(
                "server:\n  interface: {UB_AT}\n  interface: 127.0.0.1@853\n  tls-port: 853\n  interface: 127.0.0.1@443\n  \
                 https-port: 443\n  http-endpoint: \"/dns-query\"\n  \
                 tls-service-key: \"{key}\"\n  tls-service-pem: \"{cert}\"\n  port: 5302\n  do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n  \
                 directory: \"{d}\"\n  pidfile: \"\"\n  use-syslog: no\n  logfile: \"{d}/unbound.log\"\n  \
                 do-not-query-localhost: no\n  do-ip6: no\n  module-config: \"validator iterator\"\n  ede: yes\n  \
                 val-log-level: 2\n  trust-anchor-file: \"{d}/{ksk}.ds\"\n  access-control: 127.0.0.0/8 allow\n  \
                 local-zone: \"test.\" nodefault\nstub-zone:\n  name: \"edns.test\"\n  stub-addr: {NSD_AT}\n\
                 remote-control:\n  control-enable: no\n",
                UB_AT = UNBOUND.replace(':', "@"),
                NSD_AT = NSD.replace(':', "@")
            ),
        )
        .expect("unbound.conf");
        let spawn = |program: &str, conf: &str| {
            let mut c = ns.cmd(program, &["-d", "-c", &format!("{d}/{conf}")]);
            Proc(c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect(program))
        };
        let servers = vec![spawn("nsd", "nsd.conf"), spawn("unbound", "unbound.conf")];
        let rig = Rig { ns, dir, _servers: servers };
        // Both answer (unbound through nsd) before the test asks.
        let start = Instant::now();
        while rig.sockit(&["--server", UNBOUND, "--type", "A", "host1.edns.test"]).code != 0 {
            assert!(start.elapsed() < Duration::from_secs(15), "nsd and unbound did not answer within 15 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(rig)
    }

    /// `sockit lookup ARGS` in the namespace.
    fn sockit(&self, args: &[&str]) -> crate::util::Output {
        let mut all = vec!["lookup"];
        all.extend_from_slice(args);
        run(self.ns.cmd(sockit_bin(), &all), b"", DEADLINE)
    }

    /// A validated answer over `server` (tls://... or https://..., unbound's certificate
    /// trusted by name), its records those dig reads over the same transport (`transport`, at
    /// `dig_at`); the CA file's path.
    fn same_records_as_dig(&self, server: &str, dig_at: &str, transport: &str) -> String {
        let ca = self.dir.path().join("cert.pem").to_str().expect("path").to_string();
        let args = ["--server", server, "--ca", &ca, "--server-name", "localhost", "--type", "A", "--dnssec"];
        let ours = self.sockit(&[&args[..], &["host1.edns.test"]].concat()).ok();
        assert_eq!(ours.lines().next(), Some(";; flags: qr rd ra ad; status: NOERROR"));
        let tls_ca = format!("+tls-ca={ca}");
        let dig = self.dig(
            dig_at,
            &[transport, &tls_ca, "+tls-hostname=localhost", "+dnssec", "+noall", "+answer", "host1.edns.test"],
        );
        assert_eq!(records_of_sockit(&ours), records_of_dig(&dig));
        ca
    }

    /// `dig ARGS` in the namespace, asking `server`.
    fn dig(&self, server: &str, args: &[&str]) -> String {
        let (ip, port) = server.split_once(':').expect("ip:port");
        let at = format!("@{ip}");
        let mut all = vec![at.as_str(), "-p", port, "+time=2", "+tries=1"];
        all.extend_from_slice(args);
        run(self.ns.cmd("dig", &all), b"", DEADLINE).ok()
    }
}

/// dig's flags: `;; flags: qr aa rd; QUERY: ...` gives `qr aa rd`.
fn dig_flags(out: &str) -> String {
    let line = out.lines().find(|l| l.starts_with(";; flags:")).expect("dig's flags line");
    line.trim_start_matches(";; flags:").split(';').next().expect("flags").trim().to_string()
}

/// Records as `TYPE DATA` with the data's blanks taken out (dig breaks base64 into words).
fn records_of_sockit(out: &str) -> Vec<String> {
    let mut v: Vec<String> = out
        .lines()
        .filter(|l| !l.starts_with(";;"))
        .map(|l| {
            let f: Vec<&str> = l.splitn(4, "  ").collect();
            format!("{} {}", f[2], f[3].replace(' ', ""))
        })
        .collect();
    v.sort();
    v
}

fn records_of_dig(out: &str) -> Vec<String> {
    let mut v: Vec<String> = out
        .lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            format!("{} {}", f[3], f[4..].concat())
        })
        .collect();
    v.sort();
    v
}

#[test]
fn nsid_cookie_and_flags_from_nsd_as_dig_reads_them() {
    let Some(rig) = Rig::new() else { return };
    let out = rig.sockit(&["--server", NSD, "--type", "A", "host1.edns.test", "--nsid", "--cookie", "--no-rd"]).ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    assert_eq!(lines[0], ";; flags: qr aa; status: NOERROR");
    assert_eq!(lines[1], ";; EDNS: version 0; udp 1232");
    assert_eq!(lines[2], ";; NSID: 736f636b69742d6e7364 (\"sockit-nsd\")");
    // A client cookie of 8 bytes, and nsd's server cookie (RFC 9018: version 1, 16 bytes).
    let cookie = lines[3].strip_prefix(";; COOKIE: client ").expect("cookie line");
    let (client, server) = cookie.split_once(", server ").expect("a server cookie");
    assert!(client.len() == 16 && client.bytes().all(|b| b.is_ascii_hexdigit()), "{client}");
    assert!(server.len() == 32 && server.starts_with("01"), "{server}");
    assert_eq!(lines[4], "host1.edns.test.  3600  A  198.18.0.10");
    let dig = rig.dig(NSD, &["+norec", "+nsid", "+cookie", "host1.edns.test", "A"]);
    assert_eq!(dig_flags(&dig), "qr aa");
    let nsid = dig.lines().find_map(|l| l.strip_prefix("; NSID: ")).expect("dig's NSID");
    let dig_hex: String = nsid.split(" (").next().expect("hex").split_whitespace().collect();
    assert_eq!(format!(";; NSID: {dig_hex} (\"sockit-nsd\")"), lines[2]);
    assert!(dig.lines().any(|l| l.starts_with("; COOKIE: ") && l.ends_with("(good)")), "{dig}");

    // Recursion desired (the default), the header asked for alone; in JSON.
    let out = rig.sockit(&["--server", NSD, "--type", "A", "host1.edns.test", "--flags"]).ok();
    assert_eq!(out.lines().next(), Some(";; flags: qr aa rd; status: NOERROR"));
    let v = rig.sockit(&["--json", "--server", NSD, "--type", "A", "host1.edns.test", "--nsid"]).json();
    assert_eq!(v["header"]["flags"], serde_json::json!(["qr", "aa", "rd"]));
    assert_eq!(v["header"]["rcode"], "NOERROR");
    assert_eq!(v["header"]["edns"]["nsid"], serde_json::json!({"hex": "736f636b69742d6e7364", "text": "sockit-nsd"}));
    // Without any of them, the records alone, as before.
    let plain = rig.sockit(&["--server", NSD, "--type", "A", "host1.edns.test"]).ok();
    assert_eq!(plain, "host1.edns.test.  3600  A  198.18.0.10\n");
}

#[test]
fn dns_over_tls_to_unbound_as_dig_asks_it() {
    let Some(rig) = Rig::new() else { return };
    let ca = rig.same_records_as_dig("tls://127.0.0.1", "127.0.0.1:853", "+tls");
    let ca = ca.as_str();
    // --tls with a port is the same; a failure travels as over UDP.
    let line = rig
        .sockit(&["--server", "127.0.0.1:853", "--tls", "--ca", ca, "--server-name", "localhost", "nope.edns.test"])
        .fails(1);
    assert_eq!(line, "sockit: nope.edns.test: no such name (NXDOMAIN): check the spelling");
    // The certificate is checked: another name is refused, in one line.
    let line = rig
        .sockit(&["--server", "tls://127.0.0.1", "--ca", ca, "--server-name", "other.test", "host1.edns.test"])
        .fails(1);
    assert!(
        line.starts_with("sockit: host1.edns.test: TLS handshake with 127.0.0.1:853 failed")
            && line.contains("for another name"),
        "{line}"
    );
    // A bulk list over TLS: every answer, in order, every question in flight on one
    // connection (the kernel's count of connects, through strace).
    if !have("strace") {
        return;
    }
    let names: String = (0..60).map(|i| if i % 3 == 0 { "nope.edns.test\n" } else { "host1.edns.test\n" }).collect();
    let dir = rig.dir.path();
    std::fs::write(dir.join("names"), &names).expect("names");
    let trace = dir.join("trace");
    let mut c = rig.ns.cmd("strace", &["-f", "-e", "trace=connect", "-o", trace.to_str().expect("path"), sockit_bin()]);
    c.args(["lookup", "--server", "tls://127.0.0.1", "--insecure", "--type", "A", "--concurrency", "4", "-f"]);
    c.arg(dir.join("names"));
    let out = run(c, b"", DEADLINE);
    assert_eq!(out.code, 1, "20 names fail: {}", out.stderr);
    let want: String = (0..60).filter(|i| i % 3 != 0).map(|_| "host1.edns.test.  3600  A  198.18.0.10\n").collect();
    // (unbound's cache counts the TTL down: compare all but it.)
    let got: String = out
        .stdout()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split("  ").collect();
            format!("{}  3600  {}  {}\n", f[0], f[2], f[3])
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(out.stderr.lines().count(), 20);
    let connects = std::fs::read_to_string(&trace).expect("trace").lines().filter(|l| l.contains("htons(853)")).count();
    assert_eq!(connects, 1, "one connection for 60 names");
}

#[test]
fn dns_over_https_to_unbound_as_dig_asks_it() {
    let Some(rig) = Rig::new() else { return };
    rig.same_records_as_dig("https://127.0.0.1/dns-query", "127.0.0.1:443", "+https");
    // GET, the path by default; a failure travels as over UDP.
    let get = ["--server", "https://127.0.0.1", "--get", "--insecure", "--type", "A"];
    let out = rig.sockit(&[&get[..], &["host1.edns.test"]].concat()).ok();
    assert!(out.ends_with("  A  198.18.0.10\n") && out.lines().count() == 1, "{out}");
    let line = rig.sockit(&[&get[..], &["nope.edns.test"]].concat()).fails(1);
    assert_eq!(line, "sockit: nope.edns.test: no such name (NXDOMAIN): check the spelling");
    // A path the server does not serve: its HTTP status, in one line.
    let line = rig.sockit(&["--server", "https://127.0.0.1/other", "--insecure", "host1.edns.test"]).fails(1);
    assert_eq!(
        line,
        "sockit: host1.edns.test: https://127.0.0.1/other answered HTTP 404 Not Found: is that the server's DNS path?"
    );
    // --get is for HTTPS only.
    assert_eq!(rig.sockit(&["--server", "127.0.0.1", "--get", "host1.edns.test"]).code, 2);
    // A bulk list over HTTPS: every answer, in order, every question a stream of one
    // connection.
    if !have("strace") {
        return;
    }
    let names: String = (0..40).map(|_| "host1.edns.test\n").collect();
    std::fs::write(rig.dir.path().join("names"), &names).expect("names");
    let trace = rig.dir.path().join("trace-https");
    let mut c = rig.ns.cmd("strace", &["-f", "-e", "trace=connect", "-o", trace.to_str().expect("path"), sockit_bin()]);
    c.args(["lookup", "--server", "https://127.0.0.1/dns-query", "--insecure", "--type", "A", "--concurrency", "4"]);
    c.arg("-f").arg(rig.dir.path().join("names"));
    let out = run(c, b"", DEADLINE);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout().lines().filter(|l| l.ends_with("  A  198.18.0.10")).count(), 40);
    let connects = std::fs::read_to_string(&trace).expect("trace").lines().filter(|l| l.contains("htons(443)")).count();
    assert_eq!(connects, 1, "one connection for 40 names");
}

#[test]
fn dns_over_quic_and_http3_as_dnspython_asks_them() {
    let Some(rig) = Rig::new() else { return };
    let Some(python) = crate::util::venv("python") else { return };
    // aioquic's DNS over QUIC and DNS over HTTP/3 in front of unbound, the ids checked to be 0.
    let dir = rig.dir.path();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let (cert, key) = (cert.to_str().expect("path"), key.to_str().expect("path"));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/py/quic_dns.py");
    let mut c = rig.ns.cmd(&python, &[script, "127.0.0.1", "8853", cert, key, "127.0.0.1", "5302"]);
    let mut server = Proc(c.stdin(Stdio::null()).stdout(Stdio::piped()).spawn().expect("python"));
    let mut said = PipeLines::new(server.0.stdout.take().expect("stdout"));
    let mut line = String::new();
    said.read_line_within(&mut line, DEADLINE).expect("the server starts");
    assert_eq!(line, "ready\n");
    // The connections the server has seen since last asked, by application protocol.
    let mut connections = |alpn: &str| {
        let (mut n, mut l) = (0, String::new());
        while said.read_line_within(&mut l, Duration::from_millis(300)).is_ok_and(|r| r > 0) {
            n += usize::from(l == format!("connection {alpn}\n"));
            l.clear();
        }
        n
    };
    for (server, alpn, theirs, failing) in [
        (
            "quic://127.0.0.1:8853",
            "doq",
            "dns.query.quic(q, '127.0.0.1', port=8853, verify=sys.argv[1], server_hostname='localhost', timeout=5)",
            "DNS over QUIC to 127.0.0.1:8853: ",
        ),
        (
            "h3://127.0.0.1:8853/dns-query",
            "h3",
            "dns.query.https(q, 'https://localhost:8853/dns-query', bootstrap_address='127.0.0.1', verify=sys.argv[1], \
             http_version=dns.query.HTTPVersion.H3, timeout=5)",
            "HTTP/3 to 127.0.0.1:8853: ",
        ),
    ] {
        let over = ["--server", server, "--ca", cert, "--server-name", "localhost"];
        let ours = rig.sockit(&[&over[..], &["--dnssec", "--type", "A", "host1.edns.test"]].concat()).ok();
        assert_eq!(ours.lines().next(), Some(";; flags: qr rd ra ad; status: NOERROR"), "{ours}");
        // dnspython's own client, asking the same server the same way.
        let ask = format!(
            "import dns.flags, dns.message, dns.query, dns.rdatatype, sys\n\
             q = dns.message.make_query('host1.edns.test', 'A', want_dnssec=True)\n\
             r = {theirs}\n\
             print('ad' if r.flags & dns.flags.AD else 'no ad')\n\
             for rrset in r.answer:\n    for rd in rrset:\n        print(dns.rdatatype.to_text(rrset.rdtype), rd.to_text())\n"
        );
        let theirs = run(rig.ns.cmd(&python, &["-c", &ask, cert]), b"", DEADLINE).ok();
        let mut theirs: Vec<String> = theirs
            .lines()
            .map(|l| match l.split_once(' ') {
                Some((t, data)) if t != "no" => format!("{t} {}", data.replace(' ', "")),
                _ => l.to_string(),
            })
            .collect();
        assert_eq!(theirs.remove(0), "ad", "{server}");
        theirs.sort();
        assert_eq!(records_of_sockit(&ours), theirs, "{server}");
        // A failure travels as over UDP; another name than the certificate's is refused.
        let line = rig.sockit(&[&over[..], &["nope.edns.test"]].concat()).fails(1);
        assert_eq!(line, "sockit: nope.edns.test: no such name (NXDOMAIN): check the spelling");
        let line = rig.sockit(&["--server", server, "--ca", cert, "host1.edns.test"]).fails(1);
        assert!(
            line.starts_with(&format!("sockit: host1.edns.test: {failing}")) && line.contains("not valid for name"),
            "{line}"
        );
        // (sockit's two lookups and dnspython's; the handshake sockit refused never completed.)
        assert_eq!(connections(alpn), 3, "{server}");
        // A bulk list: every answer in order, every question a stream of one connection.
        let names: String =
            (0..40).map(|i| if i % 4 == 0 { "nope.edns.test\n" } else { "host1.edns.test\n" }).collect();
        let path = dir.join(format!("{alpn}-names"));
        std::fs::write(&path, &names).expect("names");
        let path = path.to_str().expect("path");
        let out = rig.sockit(&[&over[..], &["--type", "A", "--concurrency", "4", "-f", path]].concat());
        assert_eq!(out.code, 1, "10 names fail: {}", out.stderr);
        let got: Vec<String> = out.stdout().lines().map(|l| l.split("  ").last().expect("data").to_string()).collect();
        assert_eq!(got, vec!["198.18.0.10".to_string(); 30], "{server}");
        assert_eq!(out.stderr.lines().count(), 10);
        assert_eq!(connections(alpn), 1, "one connection for 40 names over {server}");
    }
    // HTTP/3 with GET, and a path the server does not serve.
    let h3 = ["--server", "h3://127.0.0.1:8853", "--ca", cert, "--server-name", "localhost", "--type", "A"];
    let out = rig.sockit(&[&h3[..], &["--get", "host1.edns.test"]].concat()).ok();
    assert!(out.ends_with("  A  198.18.0.10\n") && out.lines().count() == 1, "{out}");
    let line = rig
        .sockit(&[
            "--server",
            "h3://127.0.0.1:8853/other",
            "--ca",
            cert,
            "--server-name",
            "localhost",
            "host1.edns.test",
        ])
        .fails(1);
    assert_eq!(
        line,
        "sockit: host1.edns.test: https://localhost:8853/other answered HTTP 404 Not Found: is that the server's DNS path?"
    );
}

#[test]
fn dnssec_records_as_dig_writes_them_and_validation_through_unbound() {
    let Some(rig) = Rig::new() else { return };
    // Signatures only when asked for (DO), each record's data as dig writes it.
    for (name, t) in [("host1.edns.test", "A"), ("edns.test", "DNSKEY"), ("edns.test", "NSEC")] {
        let ours = rig.sockit(&["--server", NSD, "--type", t, name, "--dnssec"]).ok();
        assert_eq!(ours.lines().nth(1), Some(";; EDNS: version 0; udp 1232; do"));
        let got = records_of_sockit(&ours);
        assert!(got.iter().any(|r| r.starts_with("RRSIG ")), "{ours}");
        let dig = rig.dig(NSD, &["+dnssec", "+noall", "+answer", name, t]);
        assert_eq!(got, records_of_dig(&dig), "{name} {t}");
    }
    let no_do = rig.sockit(&["--server", NSD, "--type", "A", "host1.edns.test"]).ok();
    assert_eq!(no_do, "host1.edns.test.  3600  A  198.18.0.10\n", "no signatures without --dnssec");

    // Through unbound: validated (AD), as dig sees it.
    let out = rig.sockit(&["--server", UNBOUND, "--type", "A", "host1.edns.test", "--dnssec"]).ok();
    assert_eq!(out.lines().next(), Some(";; flags: qr rd ra ad; status: NOERROR"));
    assert_eq!(dig_flags(&rig.dig(UNBOUND, &["+dnssec", "host1.edns.test", "A"])), "qr rd ra ad");
    // AD asked for without DO: validated, as dig (which asks it by default) is told; not
    // asked, not told.
    let out = rig.sockit(&["--server", UNBOUND, "--type", "A", "host1.edns.test", "--ad"]).ok();
    assert_eq!(out.lines().next(), Some(";; flags: qr rd ra ad; status: NOERROR"));
    assert_eq!(dig_flags(&rig.dig(UNBOUND, &["host1.edns.test", "A"])), "qr rd ra ad");
    let out = rig.sockit(&["--server", UNBOUND, "--type", "A", "host1.edns.test", "--flags"]).ok();
    assert_eq!(out.lines().next(), Some(";; flags: qr rd ra; status: NOERROR"));
    // The broken signature: SERVFAIL with unbound's extended error, the code dig reads.
    let dig = rig.dig(UNBOUND, &["bogus.edns.test", "A"]);
    let ede = dig.lines().find_map(|l| l.strip_prefix("; EDE: ")).expect("dig reads an EDE");
    assert!(ede.starts_with("6 (DNSSEC Bogus)"), "{ede}");
    let line = rig.sockit(&["--server", UNBOUND, "--type", "A", "bogus.edns.test"]).fails(1);
    assert!(
        line.starts_with(&format!("sockit: bogus.edns.test: {UNBOUND} answered Server Failure, EDE 6 DNSSEC Bogus"))
            && line.ends_with(": the server could not resolve it"),
        "{line}"
    );
    let v = rig.sockit(&["--json", "--server", UNBOUND, "--type", "A", "bogus.edns.test"]);
    assert_eq!(v.code, 1);
    assert_eq!(v.json()["kind"], "servfail");
    // Checking disabled: the answer, unvalidated (CD, no AD).
    let out = rig.sockit(&["--server", UNBOUND, "--type", "A", "bogus.edns.test", "--cd"]).ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], ";; flags: qr rd ra cd; status: NOERROR");
    assert!(lines.last().is_some_and(|l| l.ends_with("  A  198.18.0.66")), "{out}");
}

/// A UDP socket of Python's that prints each query it gets in hex and answers REFUSED.
const CATCHER: &str = r#"
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
while True:
    q, peer = s.recvfrom(65535)
    print(q.hex(), flush=True)
    if len(q) >= 12:
        r = bytearray(q)
        r[2] |= 0x80
        r[3] = (r[3] & 0xF0) | 5
        s.sendto(bytes(r), peer)
"#;

/// The next query the catcher got, as bytes.
fn caught(lines: &mut PipeLines) -> Vec<u8> {
    let mut l = String::new();
    lines.read_line(&mut l).expect("a query");
    (0..l.trim().len()).step_by(2).map(|i| u8::from_str_radix(&l.trim()[i..i + 2], 16).expect("hex")).collect()
}

#[test]
fn queries_carry_the_options_asked_as_dig_writes_them() {
    if !have("dig") || !have("python3") {
        return;
    }
    let mut child = Command::new("python3")
        .args(["-c", CATCHER])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3");
    let mut lines = PipeLines::new(child.stdout.take().expect("stdout"));
    let _catcher = Proc(child);
    let mut port = String::new();
    lines.read_line(&mut port).expect("port");
    let server = format!("127.0.0.1:{}", port.trim());
    let ask = |ours: &[&str], dig: &[&str], lines: &mut PipeLines| {
        let mut args = vec!["lookup", "--server", &server, "--type", "A", "x.test", "--retries", "0"];
        args.extend_from_slice(ours);
        let out = sockit(&args);
        assert_eq!(out.code, 1, "REFUSED: {}", out.stderr);
        let a = caught(lines);
        let mut c = Command::new("dig");
        c.args(["@127.0.0.1".to_string(), "-p".into(), port.trim().into(), "+time=2".into(), "+tries=1".into()]);
        c.args(dig).args(["x.test", "A"]);
        run(c, b"", DEADLINE);
        (a, caught(lines))
    };
    // Flags, buffer size, DO, NSID and a client subnet: the same bytes as dig's but the id.
    let (ours, digs) = ask(
        &["--subnet", "198.18.3.7/24", "--bufsize", "4096", "--nsid", "--dnssec", "--cd", "--no-rd"],
        &["+subnet=198.18.3.7/24", "+bufsize=4096", "+nsid", "+dnssec", "+cdflag", "+norec", "+noadflag", "+nocookie"],
        &mut lines,
    );
    assert_eq!(ours[2..], digs[2..], "ours {ours:02x?}\ndig's {digs:02x?}");
    // The subnet option itself: family 1, /24, scope 0, three bytes of address.
    let ecs = [0u8, 8, 0, 7, 0, 1, 24, 0, 198, 18, 3];
    assert!(ours.windows(ecs.len()).any(|w| w == ecs));
    // No EDNS: no additional record, as dig +noedns; AD asked for, as dig asks by default.
    let (ours, digs) = ask(&["--no-edns", "--ad"], &["+noedns"], &mut lines);
    assert_eq!(ours[2..], digs[2..]);
    assert_eq!(ours[10..12], [0, 0], "ARCOUNT 0");
    // A cookie and padding: 8 bytes of cookie, the query padded to 128 bytes, like dig's.
    let (ours, digs) = ask(&["--cookie", "--padding"], &["+cookie", "+padding=128", "+noadflag"], &mut lines);
    assert_eq!((ours.len(), digs.len()), (128, 128));
    let cookie_at = |q: &[u8]| q.windows(4).position(|w| w == [0, 10, 0, 8]).expect("an 8-byte cookie option");
    let (a, b) = (cookie_at(&ours), cookie_at(&digs));
    assert_eq!(a, b);
    assert_ne!(ours[a + 4..a + 12], digs[b + 4..b + 12], "each client makes its own cookie");
    assert_eq!((&ours[2..a], &ours[a + 12..]), (&digs[2..b], &digs[b + 12..]));
}

#[test]
fn bad_query_options_are_usage_errors() {
    for (args, want) in [
        (
            &["--bufsize", "100"][..],
            "sockit: --bufsize 100 is out of range: give 512 to 65535 bytes (1232 is the usual size)",
        ),
        (
            &["--subnet", "198.18.0.0/33"][..],
            "sockit: --subnet '198.18.0.0/33' is not a subnet: write it like 198.51.100.0/24, 2001:db8::/56 or 0.0.0.0/0",
        ),
        (
            &["--subnet", "nonsense"][..],
            "sockit: --subnet 'nonsense' is not a subnet: write it like 198.51.100.0/24, 2001:db8::/56 or 0.0.0.0/0",
        ),
    ] {
        let mut all = vec!["lookup", "--server", "127.0.0.1:9", "x.test"];
        all.extend_from_slice(args);
        assert_eq!(sockit(&all).fails(2), want);
    }
    let out = sockit(&["lookup", "--server", "127.0.0.1:9", "x.test", "--no-edns", "--nsid"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--no-edns") && out.stderr.contains("--nsid"), "{}", out.stderr);
}

/// A DNS-over-TLS server of Python's ssl module that lies: on its first connection it answers
/// each question first with another id, then rightly (no records); on its next, it sends the
/// head of a message longer than it sends, and hangs up.
const LIAR: &str = r#"
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
print(s.getsockname()[1], flush=True)
def read(c, n):
    b = b""
    while len(b) < n:
        more = c.recv(n - len(b))
        if not more:
            raise EOFError
        b += more
    return b
for turn in range(2):
    conn, _ = s.accept()
    c = ctx.wrap_socket(conn, server_side=True)
    try:
        q = read(c, int.from_bytes(read(c, 2), "big"))
        if turn == 0:
            r = bytearray(q)
            r[2] |= 0x80
            r[10:12] = b"\x00\x00"
            r = bytes(r[:q.index(b"\x00\x00\x29")])  # the question alone: no records, no OPT
            stray = bytes([(q[0] + 1) % 256]) + r[1:]
            for m in (stray, r):
                c.sendall(len(m).to_bytes(2, "big") + m)
            read(c, 2)
        else:
            c.sendall(b"\xff\xff" + q[:3])
    except EOFError:
        pass
    c.close()
"#;

#[test]
fn a_lying_tls_server_is_read_right_or_told_in_one_line() {
    if !have("python3") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = crate::util::openssl_cert(dir.path());
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(LIAR)
        .arg(&cert)
        .arg(&key)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3");
    let mut lines = PipeLines::new(child.stdout.take().expect("stdout"));
    let _liar = Proc(child);
    let mut port = String::new();
    lines.read_line(&mut port).expect("port");
    let server = format!("tls://127.0.0.1:{}", port.trim());
    let ask = || sockit(&["lookup", "--server", &server, "--insecure", "--type", "A", "--timeout", "5", "x.test"]);
    // A reply with another id is passed over; the right one read.
    assert_eq!(ask().fails(1), "sockit: x.test: the name exists but has no A records");
    // A message cut short by a hang-up: one line, at once, not a wait.
    let start = Instant::now();
    let line = ask().fails(1);
    assert!(line.starts_with(&format!("sockit: x.test: talking to 127.0.0.1:{}: ", port.trim())), "{line}");
    assert!(start.elapsed() < Duration::from_secs(4), "{:?}", start.elapsed());
}
