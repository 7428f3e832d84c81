//! `sockit scan --udp` across a LAN of the test's own (loopback sends ICMP errors without a
//! limit; a neighbour does not): a target running socat's echo, dnsmasq, chrony's NTP server,
//! Samba's NetBIOS name server (nmbd), net-snmp's agent, miniupnpd's SSDP and avahi's mDNS
//! responder (each answering only a question of its protocol), thirty closed ports, one an nft
//! rule drops and one it rejects as administratively prohibited, the target's ICMP rate limit
//! left as Linux sets it. sockit runs as an unprivileged user and must find every closed port
//! closed; nmap -sU (as root, from a host of its own) must agree on what is open and filtered.

use std::collections::BTreeMap;
use std::process::Stdio;

use crate::util::{DEADLINE, Lan, Proc, have, run};

const PORTS: &str = "7,53,123,137,161,1900,5353,2000-2029,3000,3001";

/// The ports whose services answer.
const ANSWERING: [u64; 7] = [7, 53, 123, 137, 161, 1900, 5353];

#[test]
fn a_udp_scan_without_root_finds_every_closed_port_and_nmaps_open_ones() {
    let peers = ["socat", "dnsmasq", "chronyd", "snmpd", "nmbd", "miniupnpd", "avahi-daemon", "nft", "nmap", "setpriv"];
    if !peers.iter().all(|p| have(p)) {
        return;
    }
    // 198.18.0.1 scans with sockit, .2 is the target, .3 scans with nmap.
    let Some(lan) = Lan::new("udps", 3) else { return };
    let target = &lan.hosts[1];
    let mut c = target.cmd("socat", &["UDP4-RECVFROM:7,bind=198.18.0.2,fork", "PIPE"]);
    let _echo = Proc(c.stdin(Stdio::null()).spawn().expect("socat"));
    let mut c = target.cmd(
        "dnsmasq",
        &["-k", "--port=53", "--listen-address=198.18.0.2", "--bind-interfaces", "--no-resolv", "--no-hosts"],
    );
    let _dns = Proc(
        c.args(["--pid-file=", "--user=root"]).stdin(Stdio::null()).stderr(Stdio::null()).spawn().expect("dnsmasq"),
    );
    // chronyd serving its own clock (never setting the machine's: -x), snmpd with the community
    // `public`, both in the foreground, their files in a directory of the test's own.
    let files = tempfile::tempdir().expect("tempdir");
    let f = |name: &str| files.path().join(name).display().to_string();
    let chrony = format!(
        "allow all\nlocal stratum 10\nbindaddress 198.18.0.2\nport 123\ncmdport 0\npidfile {}\n",
        f("chronyd.pid")
    );
    std::fs::write(f("chrony.conf"), chrony).expect("chrony.conf");
    std::fs::write(f("snmpd.conf"), "agentaddress udp:198.18.0.2:161\nrocommunity public default\n")
        .expect("snmpd.conf");
    let quiet =
        |c: &mut std::process::Command| c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn();
    let _ntp =
        Proc(quiet(&mut target.cmd("chronyd", &["-d", "-x", "-u", "root", "-f", &f("chrony.conf")])).expect("chronyd"));
    let snmpd = ["-f", "-Lo", "-C", "-c", &f("snmpd.conf"), "-p", &f("snmpd.pid")];
    let _snmp = Proc(quiet(&mut target.cmd("snmpd", &snmpd)).expect("snmpd"));
    // nmbd with every file of its own in the test's directory.
    let mut smb =
        "[global]\ninterfaces = 198.18.0.2/24\nbind interfaces only = yes\nnetbios name = SOCKITTEST\n".to_string();
    for (key, dir) in [("lock", "lock"), ("state", "state"), ("cache", "cache"), ("pid", "pid"), ("ncalrpc", "rpc")] {
        std::fs::create_dir_all(f(dir)).expect("a directory of nmbd's");
        smb += &format!("{key} directory = {}\n", f(dir));
    }
    smb += &format!("private dir = {}\nlog file = {}\n", f("state"), f("nmbd.log"));
    std::fs::write(f("smb.conf"), smb).expect("smb.conf");
    let _netbios =
        Proc(quiet(&mut target.cmd("nmbd", &["-F", "--no-process-group", "-s", &f("smb.conf")])).expect("nmbd"));
    // miniupnpd answering SSDP on the LAN (its port mappings are not asked for).
    let upnp = "ext_ifname=eth0\nlistening_ip=eth0\nenable_natpmp=no\nenable_upnp=yes\n\
                uuid=3c0f1a7e-5b2a-4d9e-8c1f-5a0e6f4d2b11\nserial=1\nmodel_number=1\n";
    std::fs::write(f("miniupnpd.conf"), upnp).expect("miniupnpd.conf");
    let _ssdp = Proc(
        quiet(&mut target.cmd("miniupnpd", &["-d", "-f", &f("miniupnpd.conf"), "-P", &f("miniupnpd.pid")]))
            .expect("miniupnpd"),
    );
    // avahi without D-Bus, publishing the workstation (so a browse for services has an
    // answer); its run directory is a tmpfs of the namespace's own mounts, never the host's.
    let avahi = "[server]\nhost-name=sockit-target\nuse-ipv6=no\nallow-interfaces=eth0\nenable-dbus=no\n\
                 [wide-area]\nenable-wide-area=no\n[publish]\npublish-workstation=yes\n";
    std::fs::write(f("avahi.conf"), avahi).expect("avahi.conf");
    let start_avahi = format!(
        "mount -t tmpfs tmpfs /run && exec avahi-daemon --no-drop-root --no-chroot --no-rlimits --no-proc-title -f {}",
        f("avahi.conf")
    );
    let _mdns = Proc(quiet(&mut target.cmd("sh", &["-c", &start_avahi])).expect("avahi-daemon"));
    let rules = "table inet f {\n chain in { type filter hook input priority 0;\n  udp dport 3000 drop\n  \
                 udp dport 3001 reject with icmp type admin-prohibited\n }\n}\n";
    let nft = run(target.cmd("nft", &["-f", "-"]), rules.as_bytes(), DEADLINE);
    assert_eq!(nft.code, 0, "nft: {}", nft.stderr);
    // Every service bound before anything is asked of them.
    let start = std::time::Instant::now();
    let bound = [
        "198.18.0.2:53 ",
        "198.18.0.2:7 ",
        "198.18.0.2:123 ",
        "198.18.0.2:137 ",
        "198.18.0.2:161 ",
        "0.0.0.0%eth0:1900 ",
        "0.0.0.0:5353 ",
    ];
    while !bound.iter().all(|a| target.exec_ok("ss -Hlun").contains(a)) {
        assert!(start.elapsed() < std::time::Duration::from_secs(10), "the services did not bind within 10 s");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // sockit as a user without privileges: a copy of the binary anyone may run.
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = crate::util::runnable_copy(dir.path());
    let bin = bin.as_str();
    let ours = std::thread::scope(|s| {
        let nmap = s.spawn(|| {
            let args = ["-sU", "-n", "-Pn", "-oG", "-", "-p", PORTS, "198.18.0.2"];
            run(lan.hosts[2].cmd("nmap", &args), b"", std::time::Duration::from_secs(120)).ok()
        });
        let args = ["--reuid=64999", "--regid=64999", "--clear-groups", bin, "--json", "scan", "--udp", "-p", PORTS];
        let ours = run(
            lan.hosts[0].cmd("setpriv", &[&args[..], &["198.18.0.2"]].concat()),
            b"",
            std::time::Duration::from_secs(120),
        );
        (ours, nmap.join().expect("nmap"))
    });
    let (ours, nmap) = ours;
    let v = ours.json();
    let host = &v["hosts"][0];
    let found: BTreeMap<u64, (String, String)> = host["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .map(|p| {
            let state = p["state"].as_str().expect("state").to_string();
            (p["port"].as_u64().expect("port"), (state, p["reason"].as_str().expect("reason").to_string()))
        })
        .collect();
    let want = |port: u64| -> (&str, &str) {
        match port {
            p if ANSWERING.contains(&p) => ("open", "udp-response"),
            3000 => ("open|filtered", "no-response"),
            3001 => ("filtered", "admin-prohibited"),
            _ => ("closed", "port-unreach"),
        }
    };
    assert_eq!(found.len(), 39);
    for (port, (state, reason)) in &found {
        assert_eq!((state.as_str(), reason.as_str()), want(*port), "port {port}");
    }
    assert_eq!(
        (host["open"].as_u64(), host["closed"].as_u64(), host["filtered"].as_u64()),
        (Some(7), Some(30), Some(1))
    );
    assert_eq!(host["open_filtered"].as_u64(), Some(1));
    // nmap's greppable line: `Ports: 7/open/udp//echo///, ...`; what it calls open and
    // filtered is what sockit calls so.
    let line = nmap.lines().find_map(|l| l.split("Ports: ").nth(1)).expect("nmap's ports");
    let theirs: BTreeMap<u64, String> = line
        .split(", ")
        .filter_map(|p| {
            let f: Vec<&str> = p.split('/').collect();
            Some((f.first()?.trim().parse().ok()?, (*f.get(1)?).to_string()))
        })
        .collect();
    for (port, state) in &theirs {
        if state == "open" || state == "filtered" {
            assert_eq!(&found[port].0, state, "nmap on port {port}: {line}");
        }
    }
    for port in ANSWERING {
        assert_eq!(theirs.get(&port).map(String::as_str), Some("open"), "port {port}: {line}");
    }
}
