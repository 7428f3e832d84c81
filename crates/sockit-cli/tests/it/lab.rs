//! `sockit lab`: run as a normal user (uid 64999, no capabilities) in a network of its own;
//! the frames it shows held to tcpdump's reading of the same run (tcpdump live, as root,
//! beside a program run with --run; and of the pcapng the lab writes), the sockets' states,
//! the fallback where user namespaces are off, and its usage errors.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{DEADLINE, Proc, have, run, sockit, sockit_bin};

/// A frame as both sides can say it: addresses and ports, what it is, and the numbers
/// tcpdump prints for it (`None` where tcpdump leaves one out, compared only where given).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    from: String,
    to: String,
    what: String,
    seq: Option<u64>,
    ack: Option<u64>,
    len: u64,
}

/// `tcpdump -r FILE -nn -S -t` read back into frames.
fn tcpdump_read(file: &std::path::Path) -> Vec<Seen> {
    let out = run(
        {
            let mut c = Command::new("tcpdump");
            c.args(["-r", &file.display().to_string(), "-nn", "-S", "-t"]);
            c
        },
        b"",
        DEADLINE,
    );
    assert_eq!(out.code, 0, "tcpdump -r: {}", out.stderr);
    out.stdout().lines().map(|l| tcpdump_line(l).unwrap_or_else(|| panic!("tcpdump line not read: {l}"))).collect()
}

/// The number after `key` in `s`, up to a non-digit.
fn number_after(s: &str, key: &str) -> Option<u64> {
    let at = s.find(key)? + key.len();
    s[at..].chars().take_while(char::is_ascii_digit).collect::<String>().parse().ok()
}

/// One line of tcpdump's: `IP 127.0.0.1.5 > 127.0.0.1.40000: Flags [S], seq 7, win ..., length 0`.
fn tcpdump_line(l: &str) -> Option<Seen> {
    let l = l.strip_prefix("IP ")?;
    let (head, rest) = l.split_once(": ")?;
    let (from, to) = head.split_once(" > ")?;
    let len = number_after(rest, "length ").unwrap_or(0);
    if let Some(flags) = rest.strip_prefix("Flags [") {
        let flags = flags.split(']').next()?;
        let seq = rest.contains(", seq ").then(|| number_after(rest, ", seq ")).flatten();
        let ack = number_after(rest, ", ack ");
        return Some(Seen { from: from.into(), to: to.into(), what: format!("tcp {flags}"), seq, ack, len });
    }
    if rest.starts_with("UDP,") {
        return Some(Seen { from: from.into(), to: to.into(), what: "udp".into(), seq: None, ack: None, len });
    }
    // ICMP 127.0.0.1 udp port 40003 unreachable, length 47
    let icmp = rest.strip_prefix("ICMP ")?;
    let port = number_after(icmp, " port ")?;
    Some(Seen { from: from.into(), to: to.into(), what: format!("icmp unreachable {port}"), seq: None, ack: None, len })
}

/// tcpdump's flag letters for TCP's flag bits.
fn letters(bits: u64) -> String {
    let mut s: String = [(1, 'F'), (2, 'S'), (4, 'R'), (8, 'P'), (32, 'U')]
        .iter()
        .filter(|(b, _)| bits & b != 0)
        .map(|(_, c)| c)
        .collect();
    if bits & 16 != 0 {
        s.push('.');
    }
    s
}

/// A frame of the lab's JSON, as `Seen`, taking from `like` which numbers tcpdump printed.
fn from_lab(f: &Value, like: &Seen) -> Seen {
    let s = |k: &str| {
        f[k].as_str().map(str::to_string).or_else(|| f[k].as_u64().map(|v| v.to_string())).unwrap_or_default()
    };
    let n = |k: &str| f[k].as_u64().unwrap_or_else(|| panic!("{k} in {f}"));
    match f["proto"].as_str() {
        Some("tcp") => Seen {
            from: format!("{}.{}", s("src"), s("sport")),
            to: format!("{}.{}", s("dst"), s("dport")),
            what: format!("tcp {}", letters(n("flags"))),
            seq: like.seq.map(|_| n("seq")),
            ack: like.ack.map(|_| n("ack")),
            len: n("len"),
        },
        Some("udp") => Seen {
            from: format!("{}.{}", s("src"), s("sport")),
            to: format!("{}.{}", s("dst"), s("dport")),
            what: "udp".into(),
            seq: None,
            ack: None,
            len: n("len"),
        },
        Some("icmp") => Seen {
            from: s("src"),
            to: s("dst"),
            what: format!("icmp unreachable {}", f["about"][1]),
            seq: None,
            ack: None,
            // tcpdump's ICMP length is the ICMP message's: the frame less Ethernet and IP.
            len: n("wire_len") - 14 - 20,
        },
        p => panic!("frame of {p:?}: {f}"),
    }
}

/// Every frame of the lab's report, in order.
fn frames(v: &Value) -> Vec<Value> {
    v["steps"].as_array().expect("steps").iter().flat_map(|s| s["frames"].as_array().expect("frames").clone()).collect()
}

/// The frames the lab showed equal tcpdump's, one for one.
#[track_caller]
fn same_frames(lab: &[Value], dump: &[Seen]) {
    assert_eq!(lab.len(), dump.len(), "lab: {lab:#?}\ntcpdump: {dump:#?}");
    for (f, d) in lab.iter().zip(dump) {
        assert_eq!(&from_lab(f, d), d, "frame {f}");
    }
}

/// A folder uid 64999 may write, and a copy of the binary it may run.
fn workdir() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = crate::util::runnable_copy(dir.path());
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).expect("chmod");
    (dir, bin)
}

/// A command run as uid 64999, without any capability.
fn unprivileged(program: &str, args: &[&str]) -> Command {
    let mut c = Command::new("setpriv");
    c.args(["--reuid=64999", "--regid=64999", "--clear-groups", program]).args(args);
    c
}

fn root_and(programs: &[&str]) -> bool {
    if !rustix::process::geteuid().is_root() {
        assert!(!crate::util::under_ci(), "under CI the lab's tests run as root (setpriv, nsenter, tcpdump)");
        eprintln!("skipping: needs root to become uid 64999 and to run tcpdump beside the lab");
        return false;
    }
    programs.iter().all(|p| have(p))
}

/// The lecture's own program (`--run`) as a normal user, tcpdump capturing in the lab's
/// network beside it (entered as root with nsenter): a handshake, data both ways, a
/// half-close, a refused connect, a broadcast and an ICMP port unreachable, every frame the
/// lab printed equal to tcpdump's, in the same order.
#[test]
fn a_program_run_in_the_lab_shows_the_frames_tcpdump_captures() {
    if !root_and(&["setpriv", "nsenter", "tcpdump", "python3"]) {
        return;
    }
    let (dir, bin) = workdir();
    let d = dir.path().display().to_string();
    let prog = format!("{}/tests/it/py/lab_prog.py", env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(&prog, dir.path().join("prog.py")).expect("copy the program");
    // The program waits for tcpdump: it says where its network is, then for `go`. tcpdump
    // writes each frame as it comes (--immediate-mode: not held in the ring for a second, and
    // lost when it is stopped).
    let line = format!(
        "echo $$ > {d}/pid; i=0; while [ ! -e {d}/go ] && [ $i -lt 400 ]; do sleep 0.025; i=$((i+1)); done; \
         python3 {d}/prog.py"
    );
    let lab = unprivileged(&bin, &["--json", "lab", "--run", &line])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sockit lab");
    let mut lab = Proc(lab);
    let pid_file = dir.path().join("pid");
    let start = Instant::now();
    let pid = loop {
        if let Some(p) = std::fs::read_to_string(&pid_file).ok().filter(|p| p.ends_with('\n')) {
            break p.trim().to_string();
        }
        assert!(start.elapsed() < Duration::from_secs(10), "the program never started in the lab");
        std::thread::sleep(Duration::from_millis(10));
    };
    let cap = dir.path().join("tcpdump.pcap");
    let mut tcpdump = Proc(
        Command::new("nsenter")
            .args([
                "-t",
                &pid,
                "-n",
                "tcpdump",
                "-i",
                "lo",
                "-nn",
                "--immediate-mode",
                "-U",
                "-w",
                &cap.display().to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tcpdump"),
    );
    let listening = crate::util::line_within(tcpdump.0.stderr.take().expect("stderr"), Duration::from_secs(10));
    assert!(listening.as_deref().is_some_and(|l| l.contains("listening on lo")), "tcpdump: {listening:?}");
    std::fs::write(dir.path().join("go"), "").expect("go");
    let child = &mut lab.0;
    let out = {
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let code = crate::util::wait_deadline(child, DEADLINE, "sockit lab --run");
        let stdout = crate::util::all_within(stdout, DEADLINE).expect("stdout");
        let stderr = crate::util::all_within(stderr, DEADLINE).expect("stderr");
        assert_eq!(code, 0, "sockit lab --run: {stderr}");
        stdout
    };
    std::thread::sleep(Duration::from_millis(200));
    let _ = Command::new("kill").args(["-INT", &tcpdump.0.id().to_string()]).status();
    let _ = tcpdump.0.wait();
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(
        (v["slide"].as_str(), v["captured"].as_bool(), v["exit_code"].as_i64()),
        (Some("run"), Some(true), Some(0))
    );
    let lab_frames = frames(&v);
    let dump = tcpdump_read(&cap);
    same_frames(&lab_frames, &dump);
    // What the program did is all there: three handshakes' SYNs (two served, one refused by
    // RST), the data, both FINs, the broadcast and the ICMP error.
    let kinds: Vec<&str> = dump.iter().map(|s| s.what.as_str()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "tcp S").count(), 2, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == "tcp R.").count(), 1, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == "tcp F.").count(), 2, "{kinds:?}");
    assert!(dump.iter().any(|s| s.what == "udp" && s.to == "127.255.255.255.40002" && s.len == 11), "{dump:#?}");
    assert!(dump.iter().any(|s| s.what == "icmp unreachable 40003"), "{dump:#?}");
    let data: Vec<u64> = dump.iter().filter(|s| s.what == "tcp P.").map(|s| s.len).collect();
    assert_eq!(data, [13, 3], "{dump:#?}");
}

/// The flags of each step's frames, in order.
fn step_flags(v: &Value) -> Vec<(String, Vec<String>)> {
    v["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            let flags = s["frames"]
                .as_array()
                .expect("frames")
                .iter()
                .map(|f| match f["proto"].as_str() {
                    Some("tcp") => letters(f["flags"].as_u64().expect("flags")),
                    p => p.unwrap_or("?").to_string(),
                })
                .collect();
            (s["python"].as_str().expect("python").to_string(), flags)
        })
        .collect()
}

/// The TCP slide as a normal user: each call caused what the lecture says it does, the
/// sockets are in the states it names, and the pcapng it wrote reads in tcpdump as the
/// frames it showed.
#[test]
fn the_tcp_slide_shows_each_call_with_its_frames_and_states() {
    if !root_and(&["setpriv", "tcpdump"]) {
        return;
    }
    let (dir, bin) = workdir();
    let pcap = dir.path().join("tcp.pcapng");
    let out = run(unprivileged(&bin, &["--json", "lab", "tcp", "--pcap", &pcap.display().to_string()]), b"", DEADLINE);
    let v = out.json();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(v["captured"], Value::Bool(true), "{v}");
    let steps = step_flags(&v);
    let want: &[(&str, &[&str])] = &[
        ("s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)", &[]),
        ("s.bind(('127.0.0.1', 40000))", &[]),
        ("s.listen(5)", &[]),
        ("c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)", &[]),
        ("c.connect(('127.0.0.1', 40000))", &["S", "S.", "."]),
        ("conn, addr = s.accept()", &[]),
        ("c.sendall(b'Hello, server')", &["P.", "."]),
        ("data = conn.recv(1024)", &[]),
        ("conn.sendall(b'Hello, client')", &["P.", "."]),
        ("data = c.recv(1024)", &[]),
        ("c.shutdown(socket.SHUT_WR)", &["F."]),
    ];
    for (i, (python, flags)) in want.iter().enumerate() {
        assert_eq!(steps[i].0, *python, "step {}", i + 1);
        // The ACK of the client's FIN may come at once or be delayed into the next step.
        if *python == "c.shutdown(socket.SHUT_WR)" {
            assert_eq!(steps[i].1.first().map(String::as_str), Some("F."), "{v}");
        } else {
            assert_eq!(steps[i].1, *flags, "step {} ({python}): {v}", i + 1);
        }
    }
    let last = steps.last().expect("steps");
    assert_eq!(last.0, "c2 = socket.socket(); c2.connect(('127.0.0.1', 40001))");
    assert_eq!(last.1, ["S", "R."], "{v}");
    let refused = v["steps"].as_array().and_then(|s| s.last()).expect("last step");
    assert!(
        refused["call"].as_str().is_some_and(|c| c.ends_with("= -1 ECONNREFUSED (Connection refused)")),
        "{refused}"
    );
    // The states the lecture names, from TCP_INFO.
    let state = |python: &str, socket: &str| {
        v["steps"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["python"] == python))
            .and_then(|s| s["states"].as_array())
            .and_then(|s| s.iter().find(|s| s["socket"] == socket))
            .map(|s| s["tcp"]["state"].as_str().unwrap_or_default().to_string())
    };
    assert_eq!(state("s.listen(5)", "s").as_deref(), Some("LISTEN"));
    assert_eq!(state("c.connect(('127.0.0.1', 40000))", "c").as_deref(), Some("ESTABLISHED"));
    assert_eq!(state("c.shutdown(socket.SHUT_WR)", "conn").as_deref(), Some("CLOSE-WAIT"));
    let bytes = v["steps"][6]["states"][0]["tcp"]["bytes_sent"].as_u64();
    assert_eq!(bytes, Some(13), "{v}");
    // The 13 bytes wait in the server's queue, acknowledged, until its recv().
    assert_eq!(v["steps"][6]["states"][1]["socket"], "conn", "{v}");
    assert_eq!(v["steps"][6]["states"][1]["recv_queue"].as_u64(), Some(13), "{v}");
    // 100%: every frame of the pcapng, read by tcpdump, is the lab's.
    same_frames(&frames(&v), &tcpdump_read(&pcap));
    // Everything in the lecture's order on the text ladder too.
    let text = run(unprivileged(&bin, &["lab", "tcp"]), b"", DEADLINE).ok();
    assert!(text.contains("client --SYN seq=0 win=65495 mss=65495"), "{text}");
    assert!(text.contains("client <--SYN,ACK seq=0 ack=1"), "{text}");
    assert!(text.contains("client2 <--RST,ACK seq=0 ack=1 win=0"), "{text}");
}

/// The UDP slide: one datagram, the broadcast refused without SO_BROADCAST (nothing sent)
/// and carried with it, and the ICMP port unreachable a connected socket reads back; then a
/// LAN of four hosts on a bridge: the broadcast crosses to B, C and D, B and C (bound to the
/// port) get it and D (not bound) does not; a datagram to B alone goes after ARP's question
/// (to all three) and B's answer, to B only.
#[test]
fn the_udp_slide_shows_broadcast_needs_so_broadcast_and_icmp_comes_back() {
    if !root_and(&["setpriv", "tshark"]) {
        return;
    }
    let (dir, bin) = workdir();
    let pcap = dir.path().join("udp.pcapng").display().to_string();
    let out = run(unprivileged(&bin, &["--json", "lab", "udp", "--pcap", &pcap]), b"", DEADLINE);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = out.json();
    // tshark reads the pcapng as the lab showed it: each frame on its interface, its length,
    // its source address (IP's or ARP's).
    let fields = ["-e", "frame.interface_name", "-e", "frame.len", "-e", "ip.src", "-e", "arp.src.proto_ipv4"];
    let mut tshark = Command::new("tshark");
    // The first of each field (an ICMP error quotes another IP header).
    tshark.args(["-r", &pcap, "-T", "fields", "-E", "separator=;", "-E", "occurrence=f"]).args(fields);
    let read = run(tshark, b"", DEADLINE);
    assert_eq!(read.code, 0, "tshark: {}", read.stderr);
    let lab: Vec<String> = frames(&v)
        .iter()
        .map(|f| {
            let src = f["src"].as_str().or(f["sender"].as_str()).unwrap_or_default();
            let (ip, arp) = if f["proto"] == "arp" { ("", src) } else { (src, "") };
            format!("{};{};{ip};{arp}", f["iface"].as_str().unwrap_or("lo"), f["wire_len"])
        })
        .collect();
    assert_eq!(read.stdout().lines().collect::<Vec<_>>(), lab, "{v}");
    let steps = step_flags(&v);
    let flags = |python: &str| -> Vec<Vec<String>> {
        steps.iter().filter(|(p, _)| p == python).map(|(_, f)| f.clone()).collect()
    };
    assert_eq!(flags("c.sendto(b'Hello there', ('127.0.0.1', 40000))"), [["udp"]]);
    assert_eq!(flags("c.sendto(b'Hello there', ('127.255.255.255', 40000))"), [vec![], vec!["udp".to_string()]]);
    assert_eq!(flags("c.send(b'Hello there')"), [["udp", "icmp"]]);
    let calls: Vec<&str> = v["steps"].as_array().expect("steps").iter().filter_map(|s| s["call"].as_str()).collect();
    assert!(calls.iter().any(|c| c.ends_with("= -1 EACCES (Permission denied)")), "{calls:?}");
    assert!(calls.iter().any(|c| c.starts_with("recvfrom(") && c.ends_with("= -1 ECONNREFUSED (Connection refused)")));
    let got: Vec<&str> = calls.iter().copied().filter(|c| c.ends_with("= 11  \"Hello there\"")).collect();
    // Two on the loopback, B and C's of the LAN's broadcast, B's of the datagram to it.
    assert_eq!(got.len(), 5, "{calls:?}");
    let step = |python: &str| {
        v["steps"].as_array().and_then(|s| s.iter().find(|s| s["python"] == python)).cloned().unwrap_or(Value::Null)
    };
    let seen = |s: &Value| -> Vec<(String, String)> {
        s["frames"]
            .as_array()
            .expect("frames")
            .iter()
            .map(|f| {
                (
                    f["proto"].as_str().unwrap_or_default().to_string(),
                    f["iface"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    };
    let pair = |p: &str, i: &str| (p.to_string(), i.to_string());
    let mut flood = seen(&step("c.sendto(b'Hello there', ('198.18.0.255', 40000))"));
    flood.sort();
    assert_eq!(flood, [pair("udp", "veth-b"), pair("udp", "veth-c"), pair("udp", "veth-d")], "{v}");
    let mut to_b = seen(&step("c.sendto(b'Hello there', ('198.18.0.2', 40000))"));
    to_b.sort();
    assert_eq!(
        to_b,
        [
            pair("arp", "veth-b"),
            pair("arp", "veth-b"),
            pair("arp", "veth-c"),
            pair("arp", "veth-d"),
            pair("udp", "veth-b")
        ],
        "{v}"
    );
    let recvs: Vec<(&str, &str)> = v["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|s| s["python"] == "data, addr = s.recvfrom(1024)" && s["who"] != "receiver")
        .map(|s| (s["who"].as_str().unwrap_or_default(), s["call"].as_str().unwrap_or_default()))
        .collect();
    let whos: Vec<&str> = recvs.iter().map(|r| r.0).collect();
    assert_eq!(whos, ["B", "C", "B"], "{recvs:?}");
    assert!(
        recvs.iter().all(|r| r.1.contains("{AF_INET, 198.18.0.1:") && r.1.ends_with("\"Hello there\"")),
        "{recvs:?}"
    );
    let text = run(unprivileged(&bin, &["lab", "udp"]), b"", DEADLINE).ok();
    assert!(text.contains(" A <--ARP 198.18.0.2 is-at "), "{text}");
    assert!(text.contains(" A --ARP who-has 198.18.0.2 tell 198.18.0.1--"), "{text}");
}

/// The many-clients slide: select() wakes on bob's socket, though alice connected first, and
/// on alice's when she leaves; Mermaid gets an arrow a frame.
#[test]
fn the_select_slide_wakes_on_whichever_client_is_ready() {
    if !root_and(&["setpriv"]) {
        return;
    }
    let (_dir, bin) = workdir();
    let out = run(unprivileged(&bin, &["--json", "lab", "chat"]), b"", DEADLINE);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = out.json();
    let woke: Vec<String> = v["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|s| s["call"].as_str())
        .filter(|c| c.starts_with("poll("))
        .map(|c| c.rsplit("ready: ").next().unwrap_or_default().to_string())
        .collect();
    assert_eq!(woke, ["s", "conn_b", "conn_a"], "{v}");
    let n = frames(&v).len();
    let m = run(unprivileged(&bin, &["lab", "select", "--mermaid"]), b"", DEADLINE).ok();
    assert!(m.starts_with("sequenceDiagram\n    participant p0 as alice 127.0.0.1:"), "{m}");
    assert_eq!(m.lines().filter(|l| l.contains("->>")).count(), n, "{m}");
    assert!(m.contains(": SYN seq=0 win=65495 mss=65495\n"), "{m}");
}

/// Where user namespaces are off, one line says so and the slide runs on the host's
/// loopback (a free port), its calls and TCP states shown, no frames.
#[test]
fn without_user_namespaces_the_lab_says_so_and_shows_states() {
    if !root_and(&["setpriv", "unshare"]) {
        return;
    }
    let (_dir, bin) = workdir();
    // In a user namespace of its own that allows no more of them.
    let line = format!("echo 0 > /proc/sys/user/max_user_namespaces && exec {bin} lab tcp");
    let out = run(unprivileged("unshare", &["-Ur", "sh", "-c", &line]), b"", DEADLINE);
    let note = out.fails(0);
    assert!(
        note.starts_with("sockit: note: no packets shown: user namespaces are not open to this user here"),
        "{note}"
    );
    let text = out.stdout();
    assert!(text.starts_with("sockit lab tcp: each call, and no capture\n"), "{text}");
    assert!(!text.contains("--SYN"), "{text}");
    assert!(text.contains("c: ESTABLISHED rtt:"), "{text}");
    assert!(text.contains("= -1 ECONNREFUSED (Connection refused)"), "{text}");
}

/// Usage mistakes: one line, exit 2; a program that fails is exit 1.
#[test]
fn lab_usage_errors_are_one_line() {
    let line = sockit(&["lab"]).fails(2);
    assert!(line.contains("SLIDE") || line.contains("slide"), "{line}");
    assert!(sockit(&["lab", "ftp"]).fails(2).contains("ftp"));
    assert_eq!(
        sockit(&["--json", "lab", "tcp", "--mermaid"]).fails(2),
        "sockit: --mermaid, --html and --json are forms of the lab's output: give one"
    );
    assert!(sockit(&["lab", "tcp", "--html", "--mermaid"]).fails(2).contains("--html"));
    assert_eq!(
        sockit(&["lab", "tcp", "--web", "nowhere"]).fails(2),
        "sockit: --web 'nowhere' is not PORT or HOST:PORT, like 8080 or 127.0.0.1:8080"
    );
    assert_eq!(sockit(&["lab", "--run", " "]).fails(2), "sockit: --run needs a command, like --run 'python3 prog.py'");
    assert!(sockit(&["lab", "tcp", "--run", "true"]).fails(2).contains("--run"));
    if root_and(&["setpriv"]) {
        let (_dir, bin) = workdir();
        let out = run(unprivileged(&bin, &["lab", "--run", "exit 3"]), b"", DEADLINE);
        assert_eq!(out.fails(1), "sockit: the program exited with status 3");
    }
    let _ = sockit_bin();
}

/// The names slide as a normal user: gethostbyname and gethostbyaddr ask the lab's resolver
/// (a question and an answer each, NXDOMAIN for a name nobody has); dig and getent run with
/// --run find the same answer through the lab's resolv.conf and nsswitch.conf, and the
/// system's own files are left as they were.
#[test]
fn the_names_slide_asks_the_labs_own_resolver() {
    if !root_and(&["setpriv", "dig", "getent"]) {
        return;
    }
    let before = std::fs::read("/etc/resolv.conf").expect("resolv.conf");
    let (_dir, bin) = workdir();
    let out = run(unprivileged(&bin, &["--json", "lab", "names"]), b"", DEADLINE);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = out.json();
    let steps = v["steps"].as_array().expect("steps");
    let calls: Vec<&str> = steps.iter().filter_map(|s| s["call"].as_str()).collect();
    assert!(calls[1].ends_with("= 0  198.18.0.10"), "{calls:?}");
    assert!(calls[2].ends_with("= -1 (Name or service not known)"), "{calls:?}");
    assert!(calls[3].ends_with("= 0  \"www.lab.test\""), "{calls:?}");
    for s in &steps[1..] {
        let f = s["frames"].as_array().expect("frames");
        let ports: Vec<(u64, u64)> =
            f.iter().map(|f| (f["sport"].as_u64().unwrap_or(0), f["dport"].as_u64().unwrap_or(0))).collect();
        assert_eq!(ports.len(), 2, "{s}");
        assert_eq!((ports[0].1, ports[1].0), (53, 53), "{s}");
        assert_eq!((f[0]["dst"].as_str(), f[1]["src"].as_str()), (Some("127.0.0.53"), Some("127.0.0.53")), "{s}");
    }
    let text = run(unprivileged(&bin, &["lab", "names"]), b"", DEADLINE).ok();
    assert!(text.contains("client --DNS query A www.lab.test--"), "{text}");
    assert!(text.contains("client <--DNS reply NXDOMAIN nowhere.lab.test--"), "{text}");
    assert!(text.contains("client <--DNS reply PTR 10.0.18.198.in-addr.arpa: www.lab.test--"), "{text}");
    // The program's output goes to stderr: stdout is the lab's diagram.
    let peers = run(
        unprivileged(&bin, &["lab", "--run", "dig +short +tries=1 www.lab.test; getent hosts www.lab.test"]),
        b"",
        DEADLINE,
    );
    assert_eq!(peers.code, 0, "{}", peers.stderr);
    assert!(peers.stderr.starts_with("198.18.0.10\nfd00::10        www.lab.test\n"), "{}", peers.stderr);
    assert!(peers.stdout().starts_with("sockit lab run: "), "{}", peers.stdout());
    assert_eq!(std::fs::read("/etc/resolv.conf").expect("resolv.conf"), before);
}

/// `lab tcp --web`: the diagram served at /lab beside a chat room, as Chromium shows it: a
/// section a call, the handshake's three arrows and the refused connect's two, labelled as
/// the ladder labels them, its style allowed by the page's policy and nothing refused.
#[test]
fn the_labs_diagram_in_a_browser() {
    let Some(python) = crate::util::venv("python") else { return };
    if !root_and(&["chromium", "chromedriver"]) {
        return;
    }
    let shots = format!("{}/screenshots", env!("CARGO_TARGET_TMPDIR"));
    let mut cmd = Command::new(python);
    cmd.env("SE_OFFLINE", "true").env("SE_AVOID_STATS", "true");
    cmd.args([
        format!("{}/tests/it/py/browser_lab.py", env!("CARGO_MANIFEST_DIR")),
        sockit_bin().to_string(),
        shots.clone(),
    ]);
    let out = run(cmd, b"", Duration::from_secs(120));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = out.json();
    assert_eq!(v["title"], "sockit lab tcp", "{v}");
    let steps = v["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 17, "{v}");
    let connect = &steps[4];
    assert_eq!(connect["heading"], "5. client: c.connect(('127.0.0.1', 40000))", "{v}");
    assert_eq!(connect["arrows"], 3);
    let labels: Vec<&str> = connect["labels"].as_array().expect("labels").iter().filter_map(Value::as_str).collect();
    assert!(labels[0].starts_with("SYN seq=0 win=65495") && labels[1].starts_with("SYN,ACK seq=0 ack=1"), "{labels:?}");
    let refused = &steps[16];
    assert_eq!(refused["arrows"], 2);
    assert!(refused["labels"][1].as_str().is_some_and(|l| l.starts_with("RST,ACK seq=0 ack=1")), "{v}");
    assert!(v["font"].as_str().is_some_and(|f| f.contains("sans-serif")), "the page's style applied: {v}");
    assert_eq!(v["severe"], serde_json::json!([]), "{v}");
    let png = std::fs::read(format!("{shots}/lab.png")).expect("screenshot");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 5_000);
}
