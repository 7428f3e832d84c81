//! `sockit udp`: the lecture's receiver and broadcast sender in Python 3 talking to sockit
//! both ways, many senders at once, exact bytes, echo, errors, and a broadcast across a LAN
//! of three namespaces.

use std::io::Read;
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::{DEADLINE, Lan, PipeLines, Proc, have, listening, run, sh, sockit, sockit_bin, sockit_cmd};

/// The lecture's UDP receiver, in Python 3 (port 0 instead of 40000, so tests run in parallel).
const LECTURE_RECEIVER: &str = "from socket import *\ns = socket(AF_INET, SOCK_DGRAM)\ns.bind(('', 0))\n\
print(s.getsockname()[1], flush=True)\ndata, addr = s.recvfrom(1024)\nprint(data.decode(), flush=True)\n";

/// The lecture's broadcast sender, in Python 3 (to loopback's broadcast address).
const LECTURE_SENDER: &str = "from socket import *\nimport sys\ns = socket(AF_INET, SOCK_DGRAM)\n\
s.setsockopt(SOL_SOCKET, SO_BROADCAST, 1)\ns.sendto(b'Hello there', ('127.255.255.255', int(sys.argv[1])))\n";

#[test]
fn lecture_receiver_hears_sockits_broadcast() {
    if !have("python3") {
        return;
    }
    let mut rx =
        Proc(Command::new("python3").args(["-c", LECTURE_RECEIVER]).stdout(Stdio::piped()).spawn().expect("py"));
    let mut lines = PipeLines::new(rx.0.stdout.take().expect("stdout")).lines();
    let port = lines.next().expect("port").expect("port");
    sockit(&["udp", "send", "--broadcast", "127.255.255.255", &port, "Hello there"]).ok();
    assert_eq!(lines.next().expect("line").expect("data"), "Hello there");
}

#[test]
fn sockit_hears_the_lecture_sender() {
    if !have("python3") {
        return;
    }
    let (mut l, port, _err) = listening(sockit_cmd(&["udp", "listen", "0", "--count", "1"]));
    let ok = Command::new("python3").args(["-c", LECTURE_SENDER, &port.to_string()]).status().expect("py");
    assert!(ok.success());
    let mut out = String::new();
    out.push_str(&crate::util::all_within(l.0.stdout.take().expect("stdout"), crate::util::DEADLINE).expect("read"));
    let (from, text) = out.trim_end().split_once("  ").expect("two columns");
    assert!(from.starts_with("127.0.0.1:"), "{out}");
    assert_eq!(text, "Hello there");
}

#[test]
fn many_senders_all_heard() {
    if !have("socat") {
        return;
    }
    let (mut l, port, _err) = listening(sockit_cmd(&["udp", "listen", "0", "--bind", "127.0.0.1", "--count", "12"]));
    // Ten sockets of our own, then socat and sockit itself.
    let socks: Vec<UdpSocket> = (0..10).map(|_| UdpSocket::bind("127.0.0.1:0").expect("bind")).collect();
    for (i, s) in socks.iter().enumerate() {
        s.send_to(format!("from sender {i}").as_bytes(), ("127.0.0.1", port)).expect("send");
    }
    sh(&format!("printf 'from socat' | socat -u STDIN UDP-SENDTO:127.0.0.1:{port}"));
    sockit(&["udp", "send", "127.0.0.1", &port.to_string(), "from sockit"]).ok();
    let mut out = String::new();
    out.push_str(&crate::util::all_within(l.0.stdout.take().expect("stdout"), crate::util::DEADLINE).expect("read"));
    let mut texts: Vec<&str> = out.lines().map(|l| l.split_once("  ").expect("columns").1).collect();
    texts.sort_unstable();
    let mut want: Vec<String> = (0..10).map(|i| format!("from sender {i}")).collect();
    want.extend(["from socat".to_string(), "from sockit".to_string()]);
    want.sort();
    assert_eq!(texts, want);
    let senders: std::collections::BTreeSet<&str> = out.lines().map(|l| l.split_once("  ").expect("c").0).collect();
    assert_eq!(senders.len(), 12, "twelve distinct senders");
}

#[test]
fn raw_json_escaping_and_echo() {
    let all_bytes: Vec<u8> = (0..=255u8).collect();
    // --raw: byte for byte.
    let (mut l, port, _err) =
        listening(sockit_cmd(&["udp", "listen", "0", "--bind", "127.0.0.1", "--raw", "--count", "1"]));
    UdpSocket::bind("127.0.0.1:0").expect("b").send_to(&all_bytes, ("127.0.0.1", port)).expect("send");
    let mut got = Vec::new();
    PipeLines::new(l.0.stdout.take().expect("stdout")).read_to_end(&mut got).expect("read");
    assert_eq!(got, all_bytes);
    // Text mode escapes; JSON carries text or base64.
    let (mut l, port, _err) = listening(sockit_cmd(&["udp", "listen", "0", "--bind", "127.0.0.1", "--count", "1"]));
    UdpSocket::bind("127.0.0.1:0").expect("b").send_to(b"bell\x07 esc\x1b[2J\xff", ("127.0.0.1", port)).expect("send");
    let mut got = String::new();
    got.push_str(&crate::util::all_within(l.0.stdout.take().expect("stdout"), crate::util::DEADLINE).expect("read"));
    assert!(got.ends_with("  bell\\x07 esc\\x1b[2J\\xff\n"), "{got:?}");
    let (mut l, port, _err) =
        listening(sockit_cmd(&["udp", "listen", "0", "--bind", "127.0.0.1", "--count", "2", "--json"]));
    let tx = UdpSocket::bind("127.0.0.1:0").expect("b");
    tx.send_to(b"plain text", ("127.0.0.1", port)).expect("send");
    tx.send_to(&[0xff, 0x00, 0xfe], ("127.0.0.1", port)).expect("send");
    let mut got = String::new();
    got.push_str(&crate::util::all_within(l.0.stdout.take().expect("stdout"), crate::util::DEADLINE).expect("read"));
    let ev: Vec<serde_json::Value> = got.lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    assert_eq!(ev[0]["type"], "datagram");
    assert_eq!(ev[0]["text"], "plain text");
    assert_eq!(ev[0]["size"], 10);
    assert_eq!(ev[0]["from"], tx.local_addr().expect("a").to_string());
    assert_eq!(ev[1]["base64"], "/wD+");
    // --echo: each datagram comes back; --wait-reply prints it.
    let (_l, port, _err) = listening(sockit_cmd(&["udp", "listen", "0", "--bind", "127.0.0.1", "--echo"]));
    let out = sockit(&["udp", "send", "127.0.0.1", &port.to_string(), "marco", "--wait-reply", "1"]).ok();
    let (from, text) = out.trim_end().split_once("  ").expect("reply");
    assert_eq!((from, text), (format!("127.0.0.1:{port}").as_str(), "marco"));
}

/// `udp send --wait-reply` is an interactive session, as `ncat -u` is: a reply from Python's
/// echo server is printed while stdin is still open (replies came only after stdin ended),
/// and the last one after it ends, within the wait.
#[test]
fn replies_come_while_stdin_is_open() {
    use std::io::Write;
    let echo = "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(('127.0.0.1', 0))\n\
                print(s.getsockname()[1], flush=True)\nfor _ in range(2):\n    d, a = s.recvfrom(2048)\n    \
                s.sendto(d.upper(), a)\n";
    let mut py = Command::new("python3");
    py.args(["-c", echo]).stdout(Stdio::piped());
    let mut py = Proc(py.spawn().expect("python3"));
    let port = crate::util::line_within(py.0.stdout.take().expect("stdout"), Duration::from_secs(5)).expect("port");
    let port = port.trim().to_string();
    let mut cmd = sockit_cmd(&["udp", "send", "127.0.0.1", &port, "--wait-reply", "1"]);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut send = Proc(cmd.spawn().expect("sockit"));
    let out = crate::util::Collected::from(send.0.stdout.take().expect("stdout"));
    let mut stdin = send.0.stdin.take().expect("stdin");
    stdin.write_all(b"first\n").expect("first");
    assert_eq!(out.lines(1, Duration::from_secs(5)), [format!("127.0.0.1:{port}  FIRST")], "with stdin open");
    stdin.write_all(b"second\n").expect("second");
    drop(stdin);
    let code = crate::util::wait_deadline(&mut send.0, Duration::from_secs(5), "udp send");
    assert_eq!(code, 0);
    assert_eq!(
        out.lines(2, Duration::from_secs(1)),
        [format!("127.0.0.1:{port}  FIRST"), format!("127.0.0.1:{port}  SECOND")]
    );
}

#[test]
fn stdin_lines_and_raw_chunks() {
    let rx = UdpSocket::bind("127.0.0.1:0").expect("bind");
    rx.set_read_timeout(Some(Duration::from_secs(5))).expect("t");
    let port = rx.local_addr().expect("a").port().to_string();
    let out = run(sockit_cmd(&["udp", "send", "127.0.0.1", &port]), b"one\ntwo\r\nthree\n", DEADLINE);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut buf = vec![0u8; 70_000];
    for want in ["one", "two", "three"] {
        let n = rx.recv(&mut buf).expect("datagram");
        assert_eq!(&buf[..n], want.as_bytes());
    }
    // --raw: 150,000 bytes in datagrams of at most 65,507 bytes, nothing lost or changed.
    let data: Vec<u8> = (0..150_000u32).map(|i| (i % 251) as u8).collect();
    let out = run(sockit_cmd(&["udp", "send", "--raw", "127.0.0.1", &port]), &data, DEADLINE);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut got = Vec::new();
    let mut sizes = Vec::new();
    while got.len() < data.len() {
        let n = rx.recv(&mut buf).expect("datagram");
        sizes.push(n);
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(sizes, [65_507, 65_507, 150_000 - 2 * 65_507]);
    assert!(got == data);
}

#[test]
fn errors_name_the_fix() {
    let rx = UdpSocket::bind("0.0.0.0:0").expect("bind");
    let port = rx.local_addr().expect("a").port().to_string();
    let line = sockit(&["udp", "send", "127.255.255.255", &port, "hi"]).fails(2);
    assert_eq!(
        line,
        format!("sockit: sending to 127.255.255.255:{port}, a broadcast address, needs SO_BROADCAST: pass --broadcast")
    );
    let big = "x".repeat(70_000);
    let line = sockit(&["udp", "send", "127.0.0.1", &port, &big]).fails(2);
    assert_eq!(line, "sockit: a datagram of 70000 bytes is over the UDP limit of 65507 bytes: send less at a time");
    let taken = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let p = taken.local_addr().expect("a").port().to_string();
    let line = sockit(&["udp", "listen", &p, "--bind", "127.0.0.1"]).fails(1);
    assert!(line.contains("the port is in use"), "{line}");
    // After the "listening on" line, one line saying what fell short.
    let out = sockit(&["udp", "listen", "0", "--count", "2", "--timeout", "0.2"]);
    assert_eq!(out.code, 1);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stderr);
    assert!(lines[0].starts_with("sockit: listening on 0.0.0.0:"));
    assert_eq!(lines[1], "sockit: received 0 of 2 datagrams before --timeout");
    assert!(sockit(&["udp", "send", "127.0.0.1", "70000", "x"]).fails(2).contains("port 70000 is out of range"));
}

/// Three hosts on a bridge (198.18.0.1-3/24), each in its own namespace: a broadcast to
/// 255.255.255.255 from one reaches the other two.
#[test]
fn lan_broadcast_reaches_both_other_hosts() {
    let Some(lan) = Lan::new("lan", 3) else { return };
    let hosts = &lan.hosts;
    let mut listeners: Vec<(Proc, PipeLines)> = Vec::new();
    for h in &hosts[1..] {
        let (p, _port, err) = listening(h.cmd(sockit_bin(), &["udp", "listen", "--count", "1", "--timeout", "10"]));
        listeners.push((p, err));
    }
    let out = run(
        hosts[0].cmd(sockit_bin(), &["udp", "send", "--broadcast", "broadcast", "40000", "Hello there"]),
        b"",
        DEADLINE,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    for (mut p, _) in listeners {
        let mut got = String::new();
        got.push_str(
            &crate::util::all_within(p.0.stdout.take().expect("stdout"), crate::util::DEADLINE).expect("read"),
        );
        assert_eq!(got, "198.18.0.1:".to_string() + got.split_once(':').map_or("", |x| x.1), "{got}");
        assert!(got.ends_with("  Hello there\n"), "{got}");
    }
}

/// Multicast across the LAN: a host that joined 239.1.2.3 hears sockit's datagram, and so
/// does socat joined with `ip-add-membership`; a listener on a host that did not join hears
/// nothing; `--loop` lets the sender's own host hear it; an IPv6 group (ff12::1234) on eth0.
#[test]
fn multicast_reaches_the_members_of_the_group_only() {
    if !have("socat") {
        return;
    }
    let Some(lan) = Lan::new("mc", 4) else { return };
    let hosts = &lan.hosts;
    let listen = |h: &crate::util::Netns, args: &[&str]| -> Proc {
        let (p, _port, _err) = listening(h.cmd(sockit_bin(), &[&["udp", "listen"], args].concat()));
        p
    };
    let joined = listen(&hosts[1], &["5000", "--join", "239.1.2.3", "--count", "2", "--timeout", "5"]);
    // Alone on its host: a host's memberships reach every socket on the port (Linux's
    // IP_MULTICAST_ALL), so the deaf listener has a host of its own.
    let deaf = listen(&hosts[3], &["5000", "--count", "1", "--timeout", "3"]);
    let socat = Proc(
        hosts[2]
            .cmd("socat", &["-u", "-T", "3", "UDP4-RECV:5001,ip-add-membership=239.1.2.3:eth0", "STDOUT"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("socat"),
    );
    let own = listen(&hosts[0], &["5000", "--join", "239.1.2.3", "--count", "1", "--timeout", "5"]);
    let six = listen(&hosts[1], &["5002", "--join", "ff12::1234", "--iface", "eth0", "--count", "1", "--timeout", "5"]);
    std::thread::sleep(Duration::from_millis(500));
    let send = |args: &[&str]| {
        let out = run(hosts[0].cmd(sockit_bin(), &[&["udp", "send"], args].concat()), b"", DEADLINE);
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
    };
    send(&["239.1.2.3", "5000", "to the group", "--ttl", "2"]);
    send(&["239.1.2.3", "5000", "and looped", "--loop"]);
    send(&["239.1.2.3", "5001", "to socat"]);
    send(&["ff12::1234", "5002", "over IPv6", "--iface", "eth0"]);
    let text = |mut p: Proc| {
        let mut got = String::new();
        got.push_str(
            &crate::util::all_within(p.0.stdout.take().expect("stdout"), crate::util::DEADLINE).expect("read"),
        );
        let _ = p.0.wait();
        got
    };
    let got = text(joined);
    assert!(
        got.starts_with("198.18.0.1:") && got.contains("  to the group\n") && got.ends_with("  and looped\n"),
        "{got}"
    );
    assert_eq!(text(deaf), "", "a listener that did not join hears nothing");
    assert_eq!(text(socat), "to socat");
    let got = text(own);
    assert!(got.ends_with("  and looped\n") && !got.contains("to the group"), "only the looped datagram: {got}");
    let got = text(six);
    assert!(got.starts_with("[fe80::") && got.ends_with("  over IPv6\n"), "{got}");
    let line = sockit(&["udp", "listen", "--join", "10.0.0.1"]).fails(2);
    assert!(line.contains("--join 10.0.0.1: not a multicast group"), "{line}");
}

/// Multicast on a host with no default route (a namespace with only loopback): the kernel
/// cannot pick an interface, and the line says to name one (it was the bare OS error).
#[test]
fn multicast_without_a_route_asks_for_an_interface() {
    let Some(ns) = crate::util::Netns::new("nomc") else { return };
    let advice = "no route says which interface it is on: pass --iface NAME (ip link lists them)";
    let out = run(ns.cmd(sockit_bin(), &["udp", "send", "239.1.2.3", "5000", "hello"]), b"", DEADLINE);
    assert_eq!(
        (out.code, out.stderr.trim()),
        (1, format!("sockit: cannot send to the multicast group 239.1.2.3: {advice}").as_str())
    );
    let out =
        run(ns.cmd(sockit_bin(), &["udp", "listen", "5000", "--join", "239.1.2.3", "--timeout", "1"]), b"", DEADLINE);
    assert_eq!(
        (out.code, out.stderr.trim()),
        (1, format!("sockit: cannot join the multicast group 239.1.2.3: {advice}").as_str())
    );
}

/// Unix datagram sockets: socat's UNIX-SENDTO and Python's AF_UNIX datagrams reach `udp listen
/// --unix`, each shown with its sender's path (or `-`); `udp send --unix` reaches socat's
/// UNIX-RECV; an abstract name works; a stale socket file is replaced and the listener's goes.
#[test]
fn unix_datagrams_with_socat_and_python() {
    for p in ["socat", "python3"] {
        if !have(p) {
            return;
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = |n: &str| dir.path().join(n).display().to_string();
    let at = path("listen.sock");
    // A stale datagram socket file where sockit will listen.
    drop(std::os::unix::net::UnixDatagram::bind(&at).expect("bind"));
    let (mut l, _err) = listening_unix(&at, &["--count", "3", "--timeout", "5"]);
    let out = run(
        {
            let mut c = Command::new("socat");
            c.args(["-u", "STDIN", &format!("UNIX-SENDTO:{at}")]);
            c
        },
        b"from socat",
        DEADLINE,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let client = path("client.sock");
    let code = "import socket, sys\ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[2])\n\
                s.sendto(b'from python', sys.argv[1])\n";
    run(
        {
            let mut c = Command::new("python3");
            c.args(["-c", code, &at, &client]);
            c
        },
        b"",
        DEADLINE,
    )
    .ok();
    assert_eq!(sockit(&["udp", "send", "--unix", &at, "from sockit"]).code, 0);
    let mut got = String::new();
    got.push_str(&crate::util::all_within(l.0.stdout.take().expect("stdout"), crate::util::DEADLINE).expect("read"));
    assert_eq!(got, format!("-  from socat\n{client}  from python\n-  from sockit\n"));
    let _ = l.0.wait();
    assert!(!std::path::Path::new(&at).exists(), "the listener's socket file goes with it");
    // sockit to socat's UNIX-RECV, at an abstract name.
    let name = format!("sockit-dgram-{}", std::process::id());
    let mut recv = Proc(
        Command::new("socat")
            .args(["-u", &format!("ABSTRACT-RECV:{name}"), "STDOUT"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("socat"),
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(sockit(&["udp", "send", "--unix", &format!("@{name}"), "to socat"]).code, 0);
    let mut line = [0u8; 8];
    PipeLines::new(recv.0.stdout.take().expect("stdout")).read_exact(&mut line).expect("read");
    assert_eq!(&line, b"to socat");
    let line = sockit(&["udp", "send", "--unix", &path("nobody.sock"), "x"]).fails(1);
    assert!(line.ends_with("nobody.sock: no such socket"), "{line}");
}

/// `udp listen --unix PATH ARGS`, once it says it listens.
fn listening_unix(path: &str, args: &[&str]) -> (Proc, PipeLines) {
    let (child, line, err) = crate::util::started(sockit_cmd(&[&["udp", "listen", "--unix", path], args].concat()));
    assert_eq!(line, format!("sockit: listening on {path} (unix datagram)\n"));
    (child, err)
}
