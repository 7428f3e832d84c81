//! `lookup --trace`: a name resolved from a private root down, in a namespace of the test's
//! own: three nsd servers (the root on 198.18.0.1, `test.` on .2, the leaf zones on .3) serving
//! zones signed by ldns-signzone, some broken as chains of trust break (`sh/trace_zones.sh`),
//! and unbound validating them with the same root hints and trust anchor. Every verdict is
//! held to unbound's and delv's; the servers asked, to dig +trace's; lying root servers
//! (Python) are passed over.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{DEADLINE, Netns, PipeLines, Proc, have, run, sockit, sockit_bin};

struct Rig {
    ns: Netns,
    dir: tempfile::TempDir,
    _servers: Vec<Proc>,
}

impl Rig {
    fn new() -> Option<Rig> {
        let peers = ["nsd", "unbound", "ldns-keygen", "ldns-signzone", "ldns-key2ds", "dig", "delv", "python3"];
        if !peers.iter().all(|p| have(p)) {
            return None;
        }
        let ns = Netns::new("trace")?;
        for i in [1, 2, 3, 9] {
            ns.exec_ok(&format!("ip addr add 198.18.0.{i}/32 dev lo"));
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().to_str().expect("path").to_string();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/sh/trace_zones.sh");
        let mut zones = Command::new("bash");
        zones.args([script, &d]);
        run(zones, b"", DEADLINE).ok();
        let nsd = |name: &str, ip: &str, zones: &[&str]| {
            let mut conf = format!(
                "server:\n  ip-address: {ip}\n  port: 53\n  username: \"\"\n  chroot: \"\"\n  zonesdir: \"{d}\"\n  \
                 database: \"\"\n  zonelistfile: \"{d}/{name}.list\"\n  xfrdfile: \"{d}/{name}.xfrd\"\n  \
                 pidfile: \"{d}/{name}.pid\"\n  logfile: \"{d}/{name}.log\"\n  server-count: 1\n\
                 remote-control:\n  control-enable: no\n"
            );
            for z in zones {
                let file = if *z == "." { "root" } else { z.split('.').next().expect("label") };
                conf.push_str(&format!("zone:\n  name: \"{z}\"\n  zonefile: \"{file}.zone.signed\"\n"));
            }
            std::fs::write(dir.path().join(format!("{name}.conf")), conf).expect("nsd.conf");
        };
        nsd("root", "198.18.0.1", &["."]);
        nsd("tld", "198.18.0.2", &["test"]);
        let leaves =
            ["good", "ed", "badksk", "baddigest", "nokeysig", "expired", "future", "unsigned", "elsewhere", "lost"];
        let mut leaf_zones: Vec<String> = leaves.iter().map(|z| format!("{z}.test")).collect();
        leaf_zones.push("noproof.".into());
        nsd("leaves", "198.18.0.3", &leaf_zones.iter().map(String::as_str).collect::<Vec<_>>());
        std::fs::write(
            dir.path().join("unbound.conf"),
            format!(
                "server:\n  interface: 127.0.0.1@53\n  do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n  \
                 directory: \"{d}\"\n  pidfile: \"\"\n  use-syslog: no\n  logfile: \"{d}/unbound.log\"\n  do-ip6: no\n  \
                 module-config: \"validator iterator\"\n  root-hints: \"{d}/hints\"\n  \
                 trust-anchor-file: \"{d}/root.ds\"\n  access-control: 127.0.0.0/8 allow\n  \
                 local-zone: \"test.\" nodefault\n  qname-minimisation: no\nremote-control:\n  control-enable: no\n"
            ),
        )
        .expect("unbound.conf");
        let spawn = |program: &str, conf: &str| {
            let mut c = ns.cmd(program, &["-d", "-c", &format!("{d}/{conf}")]);
            Proc(c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect(program))
        };
        let servers = ["root", "tld", "leaves"].iter().map(|n| spawn("nsd", &format!("{n}.conf"))).collect::<Vec<_>>();
        let mut servers = servers;
        servers.push(spawn("unbound", "unbound.conf"));
        // dig +trace finds the root servers' addresses through the system's resolver: unbound.
        ns.set_resolv_conf("nameserver 127.0.0.1\n");
        let rig = Rig { ns, dir, _servers: servers };
        let start = Instant::now();
        while !rig.dig(&["host.good.test"]).contains("198.18.0.10") {
            assert!(start.elapsed() < Duration::from_secs(15), "nsd and unbound did not answer within 15 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(rig)
    }

    fn path(&self, file: &str) -> String {
        self.dir.path().join(file).to_str().expect("path").to_string()
    }

    /// `sockit lookup --trace --root-hints HINTS ARGS` in the namespace.
    fn trace(&self, args: &[&str]) -> crate::util::Output {
        let hints = self.path("hints");
        let mut all = vec!["lookup", "--trace", "--root-hints", &hints];
        all.extend_from_slice(args);
        run(self.ns.cmd(sockit_bin(), &all), b"", DEADLINE)
    }

    /// sockit's verdict on `name`'s `rtype`, validated from the root's DS.
    fn verdict(&self, name: &str, rtype: &str) -> (String, serde_json::Value) {
        let anchor = self.path("root.ds");
        let out = self.trace(&["--dnssec", "--trust-anchor", &anchor, "--json", "--type", rtype, name]);
        let v = out.json();
        let verdict = v["dnssec"]["verdict"].as_str().expect("a verdict").to_string();
        let bad = verdict == "bogus" || v["outcome"] != "answer";
        assert_eq!(out.code, i32::from(bad), "{name}: {}", out.stdout());
        (verdict, v)
    }

    /// `dig @127.0.0.1 ARGS` (unbound) in the namespace.
    fn dig(&self, args: &[&str]) -> String {
        let mut all = vec!["@127.0.0.1", "+time=2", "+tries=1"];
        all.extend_from_slice(args);
        run(self.ns.cmd("dig", &all), b"", DEADLINE).stdout()
    }

    /// unbound's verdict: SERVFAIL is bogus, AD secure, else insecure.
    fn unbound(&self, name: &str, rtype: &str) -> &'static str {
        let out = self.dig(&["+dnssec", name, rtype]);
        let flags = out.lines().find_map(|l| l.strip_prefix(";; flags:")).expect("flags");
        if out.contains("status: SERVFAIL") {
            "bogus"
        } else if flags.split(';').next().expect("flags").split_whitespace().any(|f| f == "ad") {
            "secure"
        } else {
            "insecure"
        }
    }

    /// delv's verdict through unbound, validated from the same anchor.
    fn delv(&self, name: &str, rtype: &str) -> &'static str {
        let conf = self.path("delv.conf");
        let o = run(self.ns.cmd("delv", &["@127.0.0.1", "-a", &conf, name, rtype]), b"", DEADLINE);
        let all = format!("{}{}", o.stdout(), o.stderr);
        if all.contains("; fully validated") || all.contains("negative response, fully validated") {
            "secure"
        } else if all.contains("; unsigned answer") || all.contains("negative response, unsigned answer") {
            "insecure"
        } else if all.contains("resolution failed") || all.contains("broken trust chain") {
            "bogus"
        } else {
            panic!("delv said: {all}")
        }
    }
}

fn every_verdict_is_unbounds_and_delvs(rig: &Rig) {
    // (name, type, verdict, what the reason names)
    let cases = [
        ("host.good.test", "A", "secure", ""),
        ("www.good.test", "A", "secure", ""),
        ("host.ed.test", "A", "secure", ""),
        ("nope.good.test", "A", "secure", ""),
        ("host.good.test", "AAAA", "secure", ""),
        ("nope.test", "A", "secure", ""),
        ("ns.test", "AAAA", "secure", ""),
        ("host.unsigned.test", "A", "insecure", ""),
        ("host.elsewhere.test", "A", "insecure", ""),
        ("host.badksk.test", "A", "bogus", "badksk.test.: no DNSKEY matches its DS"),
        ("host.baddigest.test", "A", "bogus", "baddigest.test.: no DNSKEY matches its DS"),
        ("host.nokeysig.test", "A", "bogus", "nokeysig.test.: the DNSKEY set is not signed by key"),
        ("host.expired.test", "A", "bogus", "the signature has expired"),
        ("host.future.test", "A", "bogus", "the signature is not valid yet"),
        ("host.noproof", "A", "bogus", "noproof.: no signed NSEC or NSEC3 record proves that noproof. has no DS"),
        ("host.lost.test", "A", "bogus", "lost.test.: no signed NSEC or NSEC3 record proves that lost.test. has no DS"),
    ];
    for (name, rtype, want, reason) in cases {
        let (ours, v) = rig.verdict(name, rtype);
        assert_eq!(ours, want, "{name} {rtype}: {v}");
        assert_eq!(rig.unbound(name, rtype), want, "unbound on {name} {rtype}");
        assert_eq!(rig.delv(name, rtype), want, "delv on {name} {rtype}");
        let said = v["dnssec"]["reason"].as_str().unwrap_or("");
        assert!(said.contains(reason), "{name}: {said}");
    }
}

fn a_secure_chain_as_a_tree_and_every_server_asked(rig: &Rig) {
    let anchor = rig.path("root.ds");
    let out = rig.trace(&["--dnssec", "--trust-anchor", &anchor, "host.good.test"]).ok();
    let steps: Vec<String> = out
        .lines()
        .filter(|l| l.starts_with(";; ") && l.contains(" ms: "))
        .map(|l| {
            // `;; ZONE  SERVER (IP#53) in T ms: QUESTION: SAID`, the time left out.
            let (head, rest) = l.split_once(" in ").expect("time");
            format!("{head}{}", &rest[rest.find(" ms").expect("ms") + 3..])
        })
        .collect();
    assert_eq!(
        steps,
        [
            ";; .  a.root.test. (198.18.0.1#53): . DNSKEY: answer",
            ";; .  a.root.test. (198.18.0.1#53): host.good.test. A: referral to test.",
            ";; test.  ns.test. (198.18.0.2#53): test. DNSKEY: answer",
            ";; test.  ns.test. (198.18.0.2#53): host.good.test. A: referral to good.test.",
            ";; good.test.  ns.leaves.test. (198.18.0.3#53): good.test. DNSKEY: answer",
            ";; good.test.  ns.leaves.test. (198.18.0.3#53): host.good.test. A: answer",
        ],
        "{out}"
    );
    let key_tag = |zone: &str, ksk: bool| {
        let key = std::fs::read_dir(rig.dir.path())
            .expect("dir")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|f| f.starts_with(&format!("K{zone}+")) && f.rsplit('.').next() == Some("key"))
            .find(|f| {
                std::fs::read_to_string(rig.dir.path().join(f)).expect("key").contains(if ksk {
                    "257 3"
                } else {
                    "256 3"
                })
            })
            .expect("a key file");
        key.trim_end_matches(".key").rsplit('+').next().expect("tag").trim_start_matches('0').to_string()
    };
    // The key tags are ldns-keygen's (its file names), the chain a tree, the verdict secure.
    let tree: Vec<&str> = out.lines().skip_while(|l| *l != ";; DNSSEC chain of trust").collect();
    assert_eq!(
        tree,
        [
            ";; DNSSEC chain of trust".to_string(),
            format!(";; .  secure: trust anchor's key {} (RSASHA256) signs the key set", key_tag(".", true)),
            format!(
                ";; └─ test.  secure: DS signed by .'s key {} names key {}, which signs the key set",
                key_tag(".", false),
                key_tag("test.", true)
            ),
            format!(
                ";;    └─ good.test.  secure: DS signed by test.'s key {} names key {}, which signs the key set",
                key_tag("test.", false),
                key_tag("good.test.", true)
            ),
            format!(";;       └─ host.good.test.  secure: signed by good.test.'s key {}", key_tag("good.test.", false)),
            ";; verdict: secure".to_string(),
        ]
    );
}

fn the_servers_asked_are_those_dig_trace_asks(rig: &Rig) {
    // ns.good.test has no glue in test.: sockit looks its address up from the root, as dig does.
    let ours = rig.trace(&["host.elsewhere.test"]).ok();
    let dig = rig.dig(&["+trace", "host.elsewhere.test"]);
    let dig_from: Vec<String> = dig
        .lines()
        .filter_map(|l| l.strip_prefix(";; Received "))
        .filter_map(|l| l.split(" from ").nth(1)?.split('#').next().map(str::to_string))
        .filter(|ip| ip != "127.0.0.1")
        .collect();
    let ours_from: Vec<String> = ours
        .lines()
        .filter(|l| l.starts_with(";; ") && l.contains("host.elsewhere.test. A: "))
        .map(|l| l.split(" (").nth(1).expect("server").split('#').next().expect("ip").to_string())
        .collect();
    assert_eq!(ours_from, dig_from, "ours:\n{ours}\ndig:\n{dig}");
    assert_eq!(ours_from, ["198.18.0.1", "198.18.0.2", "198.18.0.3"]);
    assert!(ours.contains(": ns.good.test. A: answer\n"), "{ours}");
    fn answer(text: &str) -> Option<Vec<&str>> {
        text.lines()
            .filter(|l| l.starts_with("host.elsewhere.test."))
            .map(|l| l.split_whitespace().collect())
            .next_back()
    }
    let (a, b) = (answer(&ours).expect("our answer"), answer(&dig).expect("dig's"));
    assert_eq!((a[0], a[1], a[2], a[3]), (b[0], b[1], b[3], b[4]));
    // Without --dnssec there is no chain, and the answer is the exit status's.
    assert!(!ours.contains("DNSSEC"));
    let missing = rig.trace(&["nope.good.test"]);
    assert_eq!(missing.code, 1);
    let text = missing.stdout();
    assert!(
        text.ends_with(": nope.good.test. A: no such name\ngood.test.  300  SOA  ns.leaves.test. hostmaster.test. 1 3600 900 604800 300\n"),
        "{text}"
    );
}

fn lying_root_servers_are_passed_over(rig: &Rig) {
    let anchor = rig.path("root.ds");
    std::fs::write(rig.dir.path().join("liars"), "a.liar. A 198.18.0.9\na.root.test. A 198.18.0.1\n").expect("hints");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/py/lying_root.py");
    for (lie, said) in [
        ("sideways", "neither an answer nor a referral toward the name (a lame server)"),
        ("upward", "neither an answer nor a referral toward the name (a lame server)"),
        ("garbage", "no answer from 198.18.0.9:53 within 300ms (1 try): is a DNS server running there?"),
        ("wrongid", "no answer from 198.18.0.9:53 within 300ms (1 try): is a DNS server running there?"),
    ] {
        let mut c = rig.ns.cmd("python3", &[script, lie, "198.18.0.9", "53"]);
        let mut liar = Proc(c.stdin(Stdio::null()).stdout(Stdio::piped()).spawn().expect("python3"));
        let mut lines = PipeLines::new(liar.0.stdout.take().expect("stdout"));
        let mut ready = String::new();
        lines.read_line_within(&mut ready, DEADLINE).expect("the liar starts");
        assert_eq!(ready, "ready\n");
        let liars = rig.path("liars");
        let args =
            ["--root-hints", &liars, "--dnssec", "--trust-anchor", &anchor, "--timeout", "0.3", "--retries", "0"];
        let mut all = vec!["lookup", "--trace"];
        all.extend_from_slice(&args);
        all.push("host.good.test");
        let out = run(rig.ns.cmd(sockit_bin(), &all), b"", DEADLINE).ok();
        let first = out.lines().find(|l| l.contains("host.good.test. A: ")).expect("a question");
        assert!(first.starts_with(";; .  a.liar. (198.18.0.9#53) in "), "{lie}: {first}");
        assert!(first.ends_with(&format!("host.good.test. A: {said}")), "{lie}: {first}");
        assert!(out.ends_with(";; verdict: secure\n"), "{lie}: {out}");
    }
}

fn replies_in_rfc_8427_json_are_kdigs(rig: &Rig) {
    if !have("kdig") {
        return;
    }
    for (server, rtype, name) in [
        ("198.18.0.3", "A", "host.good.test"),
        ("198.18.0.3", "DNSKEY", "good.test"),
        ("198.18.0.3", "A", "nope.good.test"),
        ("198.18.0.2", "AAAA", "ns.test"),
        ("198.18.0.2", "A", "host.good.test"),
        ("127.0.0.1", "A", "host.good.test"),
        ("127.0.0.1", "TXT", "host.badksk.test"),
    ] {
        let ours = run(
            rig.ns.cmd(sockit_bin(), &["lookup", "--server", server, "--type", rtype, "--dnssec", "--rfc8427", name]),
            b"",
            DEADLINE,
        );
        // A reply is printed whatever it says (kdig's exit status too).
        let ours = ours.ok();
        assert_eq!(ours.lines().count(), 1, "one object a reply: {ours}");
        let at = format!("@{server}");
        let kdig = run(rig.ns.cmd("kdig", &[&at, "+json", "+dnssec", "-t", rtype, name]), b"", DEADLINE).ok();
        let mut ours: serde_json::Value = serde_json::from_str(&ours).expect("JSON");
        let mut kdig: serde_json::Value = serde_json::from_str(&kdig).expect("kdig's JSON");
        // The time, the id and kdig's own message length differ; NSEC3's hashes are in dig's
        // upper case in sockit and in lower case in kdig.
        for v in [&mut ours, &mut kdig] {
            let o = v.as_object_mut().expect("an object");
            assert!(o.remove("dateSeconds").is_some() && o.remove("dateString").is_some() && o.remove("ID").is_some());
            o.remove("msgLength");
            for rr in o.values_mut().filter_map(|s| s.as_array_mut()).flatten() {
                if let Some(s) = rr.get_mut("rdataNSEC3") {
                    *s = s.as_str().expect("text").to_ascii_lowercase().into();
                }
            }
        }
        assert_eq!(ours, kdig, "{server} {rtype} {name}");
    }
    let both = sockit(&["--json", "lookup", "--server", "127.0.0.1", "--rfc8427", "example.test"]);
    assert_eq!(both.fails(2), "sockit: --rfc8427 writes JSON of its own: leave out --json");
}

/// One rig for every check of it: making one (three nsd, unbound, some twenty keys made and
/// zones signed) is the most work these tests do, and five at once starve the tests beside them.
#[test]
fn a_private_root_traced_validated_and_asked() {
    let Some(rig) = Rig::new() else { return };
    every_verdict_is_unbounds_and_delvs(&rig);
    a_secure_chain_as_a_tree_and_every_server_asked(&rig);
    the_servers_asked_are_those_dig_trace_asks(&rig);
    lying_root_servers_are_passed_over(&rig);
    replies_in_rfc_8427_json_are_kdigs(&rig);
}

#[test]
fn bad_trace_arguments_are_usage_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "; nothing\n").expect("write");
    let empty = empty.to_str().expect("path");
    for (args, says) in [
        (vec!["--trace", "--root-hints", empty, "example.test"], "--root-hints "),
        (vec!["--trace", "--trust-anchor", empty, "example.test"], "--trust-anchor is for validating: add --dnssec"),
        (vec!["--trace", "--dnssec", "--trust-anchor", empty, "example.test"], "no DS or DNSKEY record in it"),
        (vec!["--trace", "--cd", "example.test"], "of the query flags it takes only --dnssec"),
        (vec!["--trace", "--server", "127.0.0.1", "example.test"], "cannot be used with"),
        (vec!["--root-hints", empty, "example.test"], "--trace"),
    ] {
        let mut all = vec!["lookup"];
        all.extend(args.iter().copied());
        let o = sockit(&all);
        assert_eq!(o.code, 2, "{args:?}: {}", o.stderr);
        assert!(o.stderr.contains(says), "{args:?}: {}", o.stderr);
        assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
    }
}
