//! `sockit scan --syn` across a LAN of the test's own: 4,099 ports of a neighbour (Python
//! listeners open, an nft rule dropping one, the rest closed), held to nmap -sS on the same
//! rig; and without the right to a raw socket, one line that says so. (All 65,535 ports, and
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
    let code = "import socket, sys\nls = []\nfor p in (22, 80, 8080, 31337):\n    s = socket.socket()\n    \
                s.bind(('198.18.0.2', p))\n    s.listen(4096)\n    ls.append(s)\nprint('ready', flush=True)\nsys.stdin.read()\n";
    let mut c = target.cmd("python3", &["-c", code]);
    let mut listeners = Proc(c.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("python3"));
    let mut ready = String::new();
    crate::util::PipeLines::new(listeners.0.stdout.take().expect("stdout"))
        .read_line_within(&mut ready, DEADLINE)
        .expect("listening");
    let rules = "table inet f {\n chain in { type filter hook input priority 0;\n  tcp dport 9999 drop\n }\n}\n";
    assert_eq!(run(target.cmd("nft", &["-f", "-"]), rules.as_bytes(), DEADLINE).code, 0);
    let scanner = &lan.hosts[0];
    // Both scans held to 20,000 SYNs a second: at full speed they fill the kernel's per-CPU
    // backlog, which every namespace shares, and other tests running beside lose packets.
    let args = ["--json", "scan", "--syn", "198.18.0.2", "-p", PORTS, "--rate", "20000"];
    let v = run(scanner.cmd(sockit_bin(), &args), b"", DEADLINE).json();
    let host = &v["hosts"][0];
    let ports = |state: &str| -> BTreeSet<u64> {
        host["ports"]
            .as_array()
            .expect("ports")
            .iter()
            .filter(|p| p["state"] == state)
            .map(|p| p["port"].as_u64().expect("port"))
            .collect()
    };
    assert_eq!(ports("open"), BTreeSet::from([22, 80, 8080, 31337]), "{v}");
    assert_eq!(ports("filtered"), BTreeSet::from([9999]));
    assert_eq!(host["closed"].as_u64(), Some(4_094));
    // nmap -sS on the same neighbour: the same open and filtered ports, the rest closed.
    let args = ["-sS", "-n", "-Pn", "-p", PORTS, "--max-rate", "20000", "-oG", "-", "198.18.0.2"];
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
    assert_eq!(theirs("open"), ports("open"), "{nmap}");
    assert_eq!(theirs("filtered"), ports("filtered"), "{nmap}");
    assert!(nmap.contains("Ignored State: closed (4094)"), "{nmap}");
    drop(listeners);
    // Without CAP_NET_RAW there is no raw socket: one line, exit 1.
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = crate::util::runnable_copy(dir.path());
    let bin = bin.as_str();
    let args = ["--reuid=64999", "--regid=64999", "--clear-groups", bin, "scan", "--syn", "198.18.0.2", "-p", "22"];
    let line = run(scanner.cmd("setpriv", &args), b"", DEADLINE).fails(1);
    assert!(line.starts_with("sockit: scan: a SYN scan needs a raw socket"), "{line}");
}
