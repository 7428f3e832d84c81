//! `sockit scan --syn` across a LAN of the test's own: 4,099 ports of a neighbour's IPv4 and
//! IPv6 addresses in one scan (Python listeners open, an nft rule dropping one, the rest
//! closed), held to nmap -sS on the same rig, each family, the kernel's resets to the SYN-ACKs
//! dropped while sockit scans (counted by nft), its SYNs sent as Ethernet frames past the
//! scanner's IP layer (counted by nft: none, but one a neighbour the kernel had to find; every
//! one with --send-ip); and
//! without the right to a raw socket, one line that says so. (All 65,535 ports, and
//! nmap beside them, are bench/scan_syn.sh's: two full SYN scans here kept both cores in the
//! kernel for seconds, and tests beside them timed out.)

use std::collections::BTreeSet;
use std::process::Stdio;

use crate::util::{DEADLINE, Lan, Proc, have, run, sockit_bin};

/// Every port below 4,096, and the listeners and the dropped port above it.
const PORTS: &str = "1-4096,8080,9999,31337";

#[test]
fn a_syn_scan_is_nmaps() {
    if !["nmap", "nft", "python3", "setpriv"].iter().all(|p| have(p)) {
        return;
    }
    let Some(lan) = Lan::new("syn", 2) else { return };
    let target = &lan.hosts[1];
    lan.hosts[0].exec_ok("ip addr add fd00::1/64 dev eth0 nodad");
    target.exec_ok("ip addr add fd00::2/64 dev eth0 nodad");
    // IPv4 listens on four ports, IPv6 on two of them and one of its own.
    let code = "import socket, sys\nls = []\nfor f, a, ps in ((socket.AF_INET, '198.18.0.2', (22, 80, 8080, 31337)), \
                (socket.AF_INET6, 'fd00::2', (22, 443, 8080))):\n  for p in ps:\n    s = socket.socket(f)\n    \
                s.bind((a, p))\n    s.listen(4096)\n    ls.append(s)\nprint('ready', flush=True)\nsys.stdin.read()\n";
    let mut c = target.cmd("python3", &["-c", code]);
    let mut listeners = Proc(c.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("python3"));
    let mut ready = String::new();
    crate::util::PipeLines::new(listeners.0.stdout.take().expect("stdout"))
        .read_line_within(&mut ready, DEADLINE)
        .expect("listening");
    let rules = "table inet f {\n chain in { type filter hook input priority 0;\n  tcp dport 9999 drop\n }\n}\n";
    assert_eq!(run(target.cmd("nft", &["-f", "-"]), rules.as_bytes(), DEADLINE).code, 0);
    let scanner = &lan.hosts[0];
    // The resets the scanner's kernel sends, counted after any chain that may drop them (the
    // scan's own runs at priority 0); the target sends each SYN-ACK once (no retransmission
    // after the scan has gone to be reset then).
    target.exec_ok("sysctl -qw net.ipv4.tcp_synack_retries=0");
    // Beside them, the SYNs that pass the scanner's IP layer (a frame on a packet socket does not).
    let counter = "table inet count {\n chain out { type filter hook output priority 10;\n  tcp flags & rst != 0 counter\n  \
                   tcp flags & (syn | ack) == syn counter\n }\n}\n";
    assert_eq!(run(scanner.cmd("nft", &["-f", "-"]), counter.as_bytes(), DEADLINE).code, 0);
    let counted = |rule: usize| -> u64 {
        let listed = scanner.exec_ok("nft list chain inet count out");
        let n =
            listed.split("counter packets ").nth(rule).and_then(|r| r.split(' ').next()).and_then(|n| n.parse().ok());
        n.unwrap_or_else(|| panic!("no counter in {listed}"))
    };
    let resets = || counted(1);
    let syns = || counted(2);
    // Both scans held to 20,000 SYNs a second: at full speed they fill the kernel's per-CPU
    // backlog, which every namespace shares, and other tests running beside lose packets.
    let args = ["--json", "scan", "--syn", "198.18.0.2", "fd00::2", "-p", PORTS, "--rate", "20000"];
    let v = run(scanner.cmd(sockit_bin(), &args), b"", DEADLINE).json();
    // Seven SYN-ACKs came, and the kernel reset none of them: the scan's rule dropped the
    // resets, and went with the scan (its table with it).
    assert_eq!(resets(), 0);
    assert_eq!(scanner.exec_ok("nft list tables"), "table inet count\n");
    // Of 8,198 SYNs, none went through the IP layer but one a target whose neighbour the
    // kernel did not know yet (its first port's), to find it.
    let through_ip = syns();
    assert!(through_ip <= 2, "{through_ip} SYNs through the IP layer");
    let ports = |h: usize, state: &str| -> BTreeSet<u64> {
        v["hosts"][h]["ports"]
            .as_array()
            .expect("ports")
            .iter()
            .filter(|p| p["state"] == state)
            .map(|p| p["port"].as_u64().expect("port"))
            .collect()
    };
    assert_eq!(v["method"], "syn", "{v}");
    assert_eq!(v["hosts"][0]["address"], "198.18.0.2", "{v}");
    assert_eq!(ports(0, "open"), BTreeSet::from([22, 80, 8080, 31337]), "{v}");
    assert_eq!(ports(0, "filtered"), BTreeSet::from([9999]));
    assert_eq!(v["hosts"][0]["closed"].as_u64(), Some(4_094));
    assert_eq!(v["hosts"][1]["address"], "fd00::2", "{v}");
    assert_eq!(ports(1, "open"), BTreeSet::from([22, 443, 8080]), "{v}");
    assert_eq!(ports(1, "filtered"), BTreeSet::from([9999]));
    assert_eq!(v["hosts"][1]["closed"].as_u64(), Some(4_095));
    // Now the kernel knows both: every SYN goes as a frame.
    let v = run(
        scanner.cmd(sockit_bin(), &["--json", "scan", "--syn", "198.18.0.2", "fd00::2", "-p", "22,81"]),
        b"",
        DEADLINE,
    )
    .json();
    assert_eq!((v["open"].as_u64(), v["closed"].as_u64()), (Some(2), Some(2)), "{v}");
    assert_eq!(syns(), through_ip);
    // --send-ip: each of the four SYNs through the IP layer (its rules see them), the same
    // answers.
    let args = ["--json", "scan", "--syn", "--send-ip", "198.18.0.2", "fd00::2", "-p", "22,81"];
    let v = run(scanner.cmd(sockit_bin(), &args), b"", DEADLINE).json();
    assert_eq!((v["open"].as_u64(), v["closed"].as_u64()), (Some(2), Some(2)), "{v}");
    assert_eq!(syns(), through_ip + 4);
    let through_ip = syns();
    // An address of the LAN nobody holds: its neighbour is never found, its SYNs go through
    // the IP layer (where the kernel queues them for the address it never learns), filtered.
    let args = ["--json", "scan", "--syn", "198.18.0.77", "-p", "22,81", "--timeout", "0.3"];
    let v = run(scanner.cmd(sockit_bin(), &args), b"", DEADLINE).json();
    assert_eq!((v["filtered"].as_u64(), v["method"].as_str()), (Some(2), Some("syn")), "{v}");
    assert!(syns() > through_ip, "{}", syns());
    // nmap -sS on the same neighbour, each family: the same open and filtered ports, the rest
    // closed.
    for (h, (family, target, closed)) in [("-4", "198.18.0.2", 4_094), ("-6", "fd00::2", 4_095)].into_iter().enumerate()
    {
        let args = ["-sS", family, "-n", "-Pn", "-p", PORTS, "--max-rate", "20000", "-oG", "-", target];
        let nmap = run(scanner.cmd("nmap", &args), b"", DEADLINE).ok();
        let line = nmap.lines().find_map(|l| l.split("Ports: ").nth(1)).expect("nmap's ports");
        let theirs = |state: &str| -> BTreeSet<u64> {
            line.split(", ")
                .filter_map(|p| {
                    let f: Vec<&str> = p.split('/').collect();
                    (f.get(1) == Some(&state)).then(|| f[0].trim().parse().ok()).flatten()
                })
                .collect()
        };
        assert_eq!(theirs("open"), ports(h, "open"), "{nmap}");
        assert_eq!(theirs("filtered"), ports(h, "filtered"), "{nmap}");
        assert!(nmap.contains(&format!("Ignored State: closed ({closed})")), "{nmap}");
    }
    // nmap -sS leaves the kernel to reset the SYN-ACKs: the counter counts.
    assert!(resets() >= 7, "{}", resets());
    // Without --syn: by SYN where a raw socket may be opened and a target is not loopback (one
    // word in the last line says which ran), by connect with --connect, on loopback, or
    // without the right; the same states each way.
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = crate::util::runnable_copy(dir.path());
    let bin = bin.as_str();
    let few = ["scan", "198.18.0.2", "fd00::2", "-p", "22,81,9999", "--timeout", "0.3", "--ordered"];
    let as_nobody = ["--reuid=64999", "--regid=64999", "--clear-groups", bin];
    for (program, pre, post, method) in [
        (sockit_bin(), &[][..], &[][..], "SYN scan"),
        (sockit_bin(), &[], &["--connect"][..], "connect scan"),
        ("setpriv", &as_nobody[..], &[], "connect scan"),
    ] {
        let args = [pre, &few[..], post].concat();
        let text = run(scanner.cmd(program, &args), b"", DEADLINE).ok();
        let want = "Scan of 198.18.0.2\nPORT       STATE     SERVICE\n22/tcp     open      ssh\n81/tcp     closed\n\
                    9999/tcp   filtered  distinct\n\nScan of fd00::2\nPORT       STATE     SERVICE\n22/tcp     open      ssh\n\
                    81/tcp     closed\n9999/tcp   filtered  distinct\n\n2 hosts, 3 ports each: 2 open, 2 closed, 2 filtered in ";
        assert!(text.starts_with(want), "{args:?}: {text}");
        assert!(text.ends_with(&format!(" s ({method})\n")), "{args:?}: {text}");
    }
    // An IPv4-mapped address is scanned over IPv4, as a connect reaches it.
    let v =
        run(scanner.cmd(sockit_bin(), &["--json", "scan", "::ffff:198.18.0.2", "-p", "22,81"]), b"", DEADLINE).json();
    assert_eq!(
        (v["method"].as_str(), v["open"].as_u64(), v["closed"].as_u64()),
        (Some("syn"), Some(1), Some(1)),
        "{v}"
    );
    let v = run(scanner.cmd(sockit_bin(), &["--json", "scan", "127.0.0.1", "-p", "22"]), b"", DEADLINE).json();
    assert_eq!(v["method"], "connect", "{v}");
    drop(listeners);
    // --syn without CAP_NET_RAW: there is no raw socket, one line, exit 1.
    let args = ["--reuid=64999", "--regid=64999", "--clear-groups", bin, "scan", "--syn", "198.18.0.2", "-p", "22"];
    let line = run(scanner.cmd("setpriv", &args), b"", DEADLINE).fails(1);
    assert!(line.starts_with("sockit: scan: a SYN scan needs a raw socket"), "{line}");
}
