//! `sockit relay FROM TO`: many clients at once through it, byte for byte (Python's threads
//! against a Python echo server), access rules and the cap, Unix sockets on either side (socat,
//! nc.openbsd -U), a log line per connection, and 10,000 short connections in a row that leave
//! no descriptor and no memory behind.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{DEADLINE, PipeLines, Proc, have, run, sockit, sockit_cmd};

/// A Python echo server on loopback, a thread a client; its port.
fn echo_server() -> (Proc, u16) {
    let code = "import socket, sys, threading\ns = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(256)\n\
                print(s.getsockname()[1], flush=True)\n\
                def serve(c):\n    while True:\n        d = c.recv(65536)\n        if not d: break\n        c.sendall(d)\n    \
                c.close()\nwhile True:\n    c, _ = s.accept()\n    threading.Thread(target=serve, args=(c,), daemon=True).start()\n";
    let mut p = Proc(Command::new("python3").args(["-c", code]).stdout(Stdio::piped()).spawn().expect("python3"));
    let mut port = String::new();
    port.push_str(&crate::util::line_within(p.0.stdout.take().expect("stdout"), crate::util::DEADLINE).expect("port"));
    (p, port.trim().parse().expect("port"))
}

/// `sockit relay FROM TO EXTRA...`, once it says where it listens; the process, the port (for
/// tcp-listen) and its stderr.
fn relay(from: &str, to: &str, extra: &[&str]) -> (Proc, u16, PipeLines) {
    let (child, line, err) = crate::util::started(sockit_cmd(&[&["relay", from, to], extra].concat()));
    assert!(line.starts_with("sockit: relaying "), "{line}");
    // "sockit: relaying 127.0.0.1:PORT (tcp) -> ..." (or "(tls, ...)", or a Unix path).
    let port = line.split(" (").next().and_then(|l| l.rsplit(':').next()).and_then(|p| p.parse().ok()).unwrap_or(0);
    (child, port, err)
}

#[test]
fn many_clients_at_once_byte_for_byte_and_a_line_each() {
    if !have("python3") {
        return;
    }
    let (_echo, target) = echo_server();
    let (_r, port, mut log) = relay("tcp-listen:127.0.0.1:0", &format!("tcp:127.0.0.1:{target}"), &[]);
    let code = "import os, socket, sys, threading\nport = int(sys.argv[1])\nok = []\n\
                def one(i):\n    data = os.urandom(262144)\n    s = socket.create_connection(('127.0.0.1', port), timeout=20)\n    \
                t = threading.Thread(target=s.sendall, args=(data,)); t.start()\n    got = b''\n    \
                while len(got) < len(data):\n        b = s.recv(65536)\n        if not b: break\n        got += b\n    \
                t.join(); s.shutdown(socket.SHUT_WR)\n    rest = s.recv(1)\n    ok.append(got == data and rest == b'')\n    s.close()\n\
                ts = [threading.Thread(target=one, args=(i,)) for i in range(50)]\n[t.start() for t in ts]\n[t.join() for t in ts]\n\
                print(sum(ok))\n";
    let out = run(
        {
            let mut c = Command::new("python3");
            c.args(["-c", code, &port.to_string()]);
            c
        },
        b"",
        DEADLINE,
    );
    assert_eq!(out.ok(), "50\n", "every client got its 256 KiB back exactly");
    let mut lines = Vec::new();
    let start = Instant::now();
    while lines.len() < 50 && start.elapsed() < Duration::from_secs(10) {
        let mut l = String::new();
        if log.read_line(&mut l).expect("log") == 0 {
            break;
        }
        lines.push(l);
    }
    assert_eq!(lines.len(), 50);
    for l in &lines {
        assert!(l.starts_with("sockit: 127.0.0.1:") && l.contains(&format!(" -> 127.0.0.1:{target}: ")), "{l}");
        assert!(l.ends_with(" s, 262144 bytes up, 262144 bytes down\n"), "{l}");
    }
}

#[test]
fn rules_the_cap_and_unix_sockets() {
    for p in ["python3", "socat", "nc.openbsd"] {
        if !have(p) {
            return;
        }
    }
    let (_echo, target) = echo_server();
    // --deny: closed at once, nothing relayed.
    let (_r, port, _log) =
        relay("tcp-listen:127.0.0.1:0", &format!("tcp:127.0.0.1:{target}"), &["--deny", "127.0.0.0/8"]);
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let _ = s.write_all(b"hello\n");
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    assert!(got.is_empty(), "a denied client gets nothing: {got:?}");
    // --max-conns 1: a second client while the first is connected is closed, and said.
    let (_r, port, mut log) =
        relay("tcp-listen:127.0.0.1:0", &format!("tcp:127.0.0.1:{target}"), &["--max-conns", "1"]);
    let first = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    std::thread::sleep(Duration::from_millis(200));
    let mut second = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    second.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let mut got = Vec::new();
    let _ = second.read_to_end(&mut got);
    assert!(got.is_empty());
    let mut l = String::new();
    log.read_line(&mut l).expect("log");
    assert!(l.contains("refused: 1 connections already (the cap)"), "{l}");
    drop(first);
    // unix-listen -> tcp, with nc.openbsd -U as the client.
    let dir = tempfile::tempdir().expect("tempdir");
    let sock = dir.path().join("in.sock").display().to_string();
    let (_r, _, _log) = relay(&format!("unix-listen:{sock}"), &format!("tcp:127.0.0.1:{target}"), &[]);
    let out = run(
        {
            let mut c = Command::new("nc.openbsd");
            c.args(["-N", "-U", &sock]);
            c
        },
        b"through a unix socket\n",
        DEADLINE,
    );
    assert_eq!(out.stdout(), "through a unix socket\n");
    // tcp-listen -> unix, with socat's UNIX-LISTEN as the target.
    let back = dir.path().join("out.sock").display().to_string();
    let _socat = crate::util::socat_unix_greeter(&back);
    let (_r, port, _log) = relay("tcp-listen:127.0.0.1:0", &format!("unix:{back}"), &[]);
    assert_eq!(sockit(&["tcp", "connect", "127.0.0.1", &port.to_string()]).ok(), "from socat\n");
    for (args, want) in [
        (["relay", "8080", "tcp:127.0.0.1:80"], "FROM '8080' is not a place to listen"),
        (["relay", "tcp-listen:8080", "127.0.0.1:80"], "TO '127.0.0.1:80' is not a place to connect"),
        (["relay", "tcp-listen:8080", "tcp:127.0.0.1"], "TO 'tcp:127.0.0.1' needs HOST:PORT"),
    ] {
        let line = sockit(&args).fails(2);
        assert!(line.contains(want), "{line}");
    }
}

/// 10,000 short connections one after another, with a log nobody reads: the relay holds as
/// many descriptors after as before, and its memory does not grow with them (a connection's
/// thread once waited on the full log pipe: 12 MB grew to 144 MB).
#[test]
fn ten_thousand_short_connections_leave_nothing_behind() {
    if !have("python3") {
        return;
    }
    let (_echo, target) = echo_server();
    // Its log is never read: once the pipe is full the log waits, and the connections must not.
    let (r, port, _unread) = relay("tcp-listen:127.0.0.1:0", &format!("tcp:127.0.0.1:{target}"), &[]);
    let pid = r.0.id();
    let fds = || std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, std::iter::Iterator::count);
    let rss = || {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:").and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok()))
            .unwrap_or(0)
    };
    let code = "import socket, sys\nport, n = int(sys.argv[1]), int(sys.argv[2])\nok = 0\nfor i in range(n):\n    \
                s = socket.create_connection(('127.0.0.1', port))\n    s.sendall(b'x'); s.shutdown(socket.SHUT_WR)\n    \
                d = b''\n    while True:\n        b = s.recv(16)\n        if not b: break\n        d += b\n    ok += d == b'x'\n    s.close()\nprint(ok)\n";
    let warm = |n: &str| {
        let mut c = Command::new("python3");
        c.args(["-c", code, &port.to_string(), n]);
        run(c, b"", Duration::from_secs(120)).ok()
    };
    assert_eq!(warm("200"), "200\n");
    std::thread::sleep(Duration::from_millis(300));
    let (fds_before, rss_before) = (fds(), rss());
    assert_eq!(warm("10000"), "10000\n");
    std::thread::sleep(Duration::from_millis(500));
    let (fds_after, rss_after) = (fds(), rss());
    assert_eq!(fds_after, fds_before, "descriptors before and after 10,000 connections");
    assert!(rss_after < rss_before + 4096, "RSS {rss_before} KiB -> {rss_after} KiB");
}

/// TLS on either side: Python's ssl client to `tls-listen` (the relay ends TLS, self-signed),
/// and `tls:` to openssl s_server (the relay speaks TLS, `--insecure`); `-x` dumps each
/// connection in hex under a line naming it.
#[test]
fn tls_on_either_side_and_a_hex_dump() {
    for p in ["python3", "openssl"] {
        if !have(p) {
            return;
        }
    }
    let (_echo, target) = echo_server();
    let dir = tempfile::tempdir().expect("tempdir");
    let dump = dir.path().join("dump.txt").display().to_string();
    let (_r, port, _log) = relay("tls-listen:127.0.0.1:0", &format!("tcp:127.0.0.1:{target}"), &["-x", &dump]);
    let code = "import socket, ssl, sys\nctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n\
                s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=10))\n\
                s.sendall(b'secret over tls\\n')\nprint(s.recv(100).decode(), end='')\n";
    let out = run(
        {
            let mut c = Command::new("python3");
            c.args(["-c", code, &port.to_string()]);
            c
        },
        b"",
        DEADLINE,
    );
    assert_eq!(out.ok(), "secret over tls\n");
    std::thread::sleep(Duration::from_millis(300));
    let text = std::fs::read_to_string(&dump).expect("dump");
    assert!(text.starts_with("= 127.0.0.1:") && text.contains(&format!(" -> 127.0.0.1:{target}\n")), "{text}");
    assert!(
        text.contains("> 00000000  73 65 63 72 65 74 20 6f  76 65 72 20 74 6c 73 0a  |secret over tls.|"),
        "{text}"
    );
    assert!(text.contains("< 00000000  73 65 63 72 65 74"), "the echo, back: {text}");
    // tcp-listen -> tls: openssl s_server with a key and certificate of its own.
    let (cert, key) = crate::util::openssl_cert(dir.path());
    let tls_port = crate::util::free_port();
    let mut server = Proc(
        Command::new("openssl")
            .args(["s_server", "-quiet", "-naccept", "1", "-accept", &format!("127.0.0.1:{tls_port}")])
            .arg("-key")
            .arg(&key)
            .arg("-cert")
            .arg(&cert)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("s_server"),
    );
    crate::util::wait_listening(tls_port);
    // Its input stays open: s_server ends the connection when its input ends.
    let mut server_in = server.0.stdin.take().expect("stdin");
    server_in.write_all(b"hello from s_server\n").expect("say");
    let (_r2, port2, _log2) = relay("tcp-listen:127.0.0.1:0", &format!("tls:127.0.0.1:{tls_port}"), &["--insecure"]);
    let out = run(
        sockit_cmd(&["tcp", "connect", "127.0.0.1", &port2.to_string(), "-q", "1"]),
        b"plain to the relay\n",
        DEADLINE,
    );
    assert_eq!(out.stdout(), "hello from s_server\n", "{}", out.stderr);
    let mut got = String::new();
    got.push_str(
        &crate::util::line_within(server.0.stdout.take().expect("stdout"), crate::util::DEADLINE).expect("line"),
    );
    assert_eq!(got, "plain to the relay\n");
    drop(server_in);
}

/// `--keepalive`: a target that vanishes (its link cut) is noticed, the connection ends with a
/// line saying so, and the client is told by the end of its connection.
#[test]
fn keepalive_ends_a_connection_whose_target_vanished() {
    if !have("python3") {
        return;
    }
    let Some(lan) = crate::util::Lan::new("fwka", 2) else { return };
    let (_target, tport) = crate::util::holder(&lan.hosts[1], "198.18.0.2");
    let tport = tport.to_string();
    let mut cmd = lan.hosts[0].cmd(
        crate::util::sockit_bin(),
        &["relay", "tcp-listen:127.0.0.1:0", &format!("tcp:198.18.0.2:{}", tport.trim()), "--keepalive", "1"],
    );
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    let mut r = Proc(cmd.spawn().expect("relay"));
    let mut log = PipeLines::new(r.0.stderr.take().expect("stderr"));
    let mut first = String::new();
    log.read_line(&mut first).expect("started");
    let port: u16 =
        first.split(" (").next().and_then(|l| l.rsplit(':').next()).and_then(|p| p.parse().ok()).expect("port");
    let mut client = Proc(
        lan.hosts[0]
            .cmd(crate::util::sockit_bin(), &["tcp", "connect", "127.0.0.1", &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("client"),
    );
    std::thread::sleep(Duration::from_millis(500));
    lan.hosts[1].exec_ok("ip link set eth0 down");
    // Read in a thread of its own, so a relay that never notices fails the test, not hangs it.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = log.read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(20)).expect("a line for the connection within 20 s");
    assert!(line.contains(" -> 198.18.0.2:") && line.contains("timed out"), "{line}");
    drop(client.0.stdin.take());
    let _ = client.0.wait();
}

/// A silent target that accepts and never speaks.
fn silent_target() -> (std::net::TcpListener, u16, std::thread::JoinHandle<()>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let held = l.try_clone().expect("clone");
    let t = std::thread::spawn(move || {
        let mut kept = Vec::new();
        for c in held.incoming().take(100).flatten() {
            kept.push(c);
        }
        std::thread::sleep(Duration::from_secs(8));
    });
    (l, port, t)
}

fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, std::iter::Iterator::count)
}

/// Clients that half-close to a target that never answers are let go once nothing has moved
/// for --half-close-idle (they were kept for as long as the target stayed silent: 200 such
/// held 1,210 descriptors), with a line saying so.
#[test]
fn a_half_closed_connection_to_a_silent_target_is_let_go() {
    let (_l, target, _t) = silent_target();
    let (r, port, log) =
        relay("tcp-listen:127.0.0.1:0", &format!("tcp:127.0.0.1:{target}"), &["--half-close-idle", "1"]);
    let pid = r.0.id();
    std::thread::sleep(Duration::from_millis(200));
    let base = fds(pid);
    let clients: Vec<std::net::TcpStream> = (0..100)
        .map(|_| {
            let c = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
            c.shutdown(std::net::Shutdown::Write).expect("half-close");
            c
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    assert!(fds(pid) > base + 100, "the connections are there");
    let start = Instant::now();
    while fds(pid) > base && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(fds(pid) <= base, "{} descriptors held, {base} before", fds(pid));
    let line = crate::util::line_within(log, Duration::from_secs(2)).expect("a line");
    assert!(line.contains("closed: nothing moved for 1 s after one side ended"), "{line}");
    drop(clients);
}

/// A connection that ends in a reset is logged with the bytes that got through (it was logged
/// as 0 both ways), and a client the rules turn away gets its line (it got none).
#[test]
fn a_reset_keeps_its_count_and_a_refusal_is_said() {
    let (_echo, target) = echo_server();
    let mut cmd = sockit_cmd(&["--json", "relay", "tcp-listen:127.0.0.1:0", &format!("tcp:127.0.0.1:{target}")]);
    cmd.stdout(Stdio::piped());
    let (mut r, line, _err) = crate::util::started(cmd);
    let port: u16 =
        line.split(" (").next().and_then(|l| l.rsplit(':').next()).and_then(|p| p.parse().ok()).expect("port");
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    s.write_all(&[b'r'; 5000]).expect("send");
    let mut back = vec![0u8; 5000];
    s.read_exact(&mut back).expect("echoed");
    socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO)).expect("linger");
    drop(s);
    let line = crate::util::line_within(r.0.stdout.take().expect("stdout"), Duration::from_secs(5)).expect("a line");
    let v: serde_json::Value = serde_json::from_str(&line).expect("json");
    assert_eq!((v["up"].as_u64(), v["down"].as_u64()), (Some(5000), Some(5000)), "{line}");
    // Denied: a line for it.
    let (_d, dport, dlog) =
        relay("tcp-listen:127.0.0.1:0", &format!("tcp:127.0.0.1:{target}"), &["--deny", "127.0.0.0/8"]);
    drop(std::net::TcpStream::connect(("127.0.0.1", dport)).expect("connect"));
    let line = crate::util::line_within(dlog, Duration::from_secs(5)).expect("a line");
    assert!(line.contains("refused: the access rules do not admit it"), "{line}");
}

/// `relay udp-listen: udp:` forwards datagrams as socat's UDP-LISTEN,fork does: each client gets
/// its own session, so Python's UDP server's replies go back to the client that asked, byte
/// for byte; a silent session ends after --udp-idle with its line (bytes each way); the rules
/// turn a client away with a line; datagrams and streams do not mix.
#[test]
fn udp_datagrams_each_client_its_own_session() {
    let code = "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(('127.0.0.1', 0))\n\
                print(s.getsockname()[1], flush=True)\nwhile True:\n    d, a = s.recvfrom(65535)\n    \
                s.sendto(b'from ' + str(a[1]).encode() + b': ' + d.upper(), a)\n";
    let mut py = Proc(Command::new("python3").args(["-c", code]).stdout(Stdio::piped()).spawn().expect("python3"));
    let target = crate::util::line_within(py.0.stdout.take().expect("stdout"), Duration::from_secs(5)).expect("port");
    let target = target.trim().to_string();
    let (_r, port, log) = relay("udp-listen:127.0.0.1:0", &format!("udp:127.0.0.1:{target}"), &["--udp-idle", "1"]);
    let log = crate::util::Collected::from(log);
    let clients: Vec<std::net::UdpSocket> =
        (0..2).map(|_| std::net::UdpSocket::bind("127.0.0.1:0").expect("bind")).collect();
    let mut seen_ports = Vec::new();
    for (i, c) in clients.iter().enumerate() {
        c.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        let said = format!("hello {i}");
        c.send_to(said.as_bytes(), ("127.0.0.1", port)).expect("send");
        let mut buf = [0u8; 100];
        let (n, from) = c.recv_from(&mut buf).expect("the reply");
        assert_eq!(from.port(), port, "the reply comes from the relay");
        let reply = String::from_utf8_lossy(&buf[..n]).to_string();
        let (session, text) = reply.split_once(": ").expect("reply");
        assert_eq!(text, format!("HELLO {i}"));
        seen_ports.push(session.to_string());
    }
    assert_ne!(seen_ports[0], seen_ports[1], "each client has its own session: {seen_ports:?}");
    // A second datagram of the first client goes through its session again.
    clients[0].send_to(b"again", ("127.0.0.1", port)).expect("send");
    let mut buf = [0u8; 100];
    let n = clients[0].recv(&mut buf).expect("again");
    assert_eq!(&buf[..n], format!("{}: AGAIN", seen_ports[0]).as_bytes());
    // Both sessions fall silent: a line each, with the bytes each way.
    let lines = log.lines(2, Duration::from_secs(5));
    let first =
        format!("sockit: 127.0.0.1:{} -> 127.0.0.1:{target} (udp): ", clients[0].local_addr().expect("a").port());
    let line = lines.iter().find(|l| l.starts_with(&first)).unwrap_or_else(|| panic!("{lines:?}"));
    assert!(line.ends_with(&format!(", 12 bytes up, {} bytes down", 2 * seen_ports[0].len() + 16)), "{line}");
    // The rules: a client they refuse gets no reply and a line.
    let (_r, port, log) =
        relay("udp-listen:127.0.0.1:0", &format!("udp:127.0.0.1:{target}"), &["--deny", "127.0.0.0/8"]);
    let log = crate::util::Collected::from(log);
    clients[0].send_to(b"denied", ("127.0.0.1", port)).expect("send");
    clients[0].set_read_timeout(Some(Duration::from_millis(500))).expect("timeout");
    assert!(clients[0].recv(&mut buf).is_err(), "a refused client got a reply");
    let lines = log.lines(1, Duration::from_secs(5));
    assert!(lines.iter().any(|l| l.ends_with("refused: the access rules do not admit it)")), "{lines:?}");
    // The cap: one session at a time; a second client is turned away with its line while the
    // first is heard, and an oversized datagram (UDP's largest) goes through whole.
    let (_r, port, log) = relay("udp-listen:127.0.0.1:0", &format!("udp:127.0.0.1:{target}"), &["--max-conns", "1"]);
    let log = crate::util::Collected::from(log);
    let big = vec![b'x'; 60_000];
    clients[0].set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    clients[0].send_to(&big, ("127.0.0.1", port)).expect("send");
    let mut whole = vec![0u8; 65_536];
    let n = clients[0].recv(&mut whole).expect("the big reply");
    assert!(whole[..n].starts_with(b"from ") && whole[..n].ends_with(&[b'X'; 60_000]), "the whole datagram came back");
    clients[1].send_to(b"one too many", ("127.0.0.1", port)).expect("send");
    let lines = log.lines(1, Duration::from_secs(5));
    assert!(lines.iter().any(|l| l.ends_with("refused: 1 sessions already (the cap))")), "{lines:?}");
    let line = sockit(&["relay", "udp-listen:0", "tcp:127.0.0.1:9"]).fails(2);
    assert!(line.contains("a relay forwards datagrams from udp-listen: to udp: only"), "{line}");
}
