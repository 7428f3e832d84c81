//! `sockit tcp`: 1 GiB through sockit both ways, byte for byte, against socat, OpenBSD nc,
//! Python and itself; the lecture's server and client; the EOF rules; many clients, --exec,
//! access rules; errors.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{DEADLINE, PipeLines, Proc, free_port, have, listening, run, sockit, sockit_bin};

/// 1 GiB of pseudo-random bytes (seeded xorshift) in a file in `dir`, and its sha256 as
/// `sha256sum` prints it.
fn big_file(dir: &std::path::Path) -> (PathBuf, String) {
    let path = dir.join("random.bin");
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path).expect("create"));
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut block = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        for chunk in block.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes());
        }
        f.write_all(&block).expect("write");
    }
    f.flush().expect("flush");
    drop(f);
    let sum = sha256_of_file(&path);
    (path, sum)
}

fn sha256_of_file(path: &std::path::Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().expect("sha256sum");
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().expect("sum").to_string()
}

/// Run a receiver shell pipeline that ends in `| sha256sum`, then the sender, and return the
/// receiver's sum.
fn transfer(receiver: &str, port: u16, sender: &str) -> String {
    let mut rx = Command::new("bash");
    rx.arg("-c").arg(format!("set -o pipefail; {receiver} | sha256sum")).stdout(Stdio::piped()).stderr(Stdio::piped());
    let rx = Proc(rx.spawn().expect("receiver"));
    crate::util::wait_listening(port);
    let out = Command::new("bash").arg("-c").arg(sender).output().expect("sender");
    assert!(out.status.success(), "sender `{sender}` failed: {}", String::from_utf8_lossy(&out.stderr));
    let mut rx = rx;
    let mut sum = String::new();
    sum.push_str(&crate::util::all_within(rx.0.stdout.take().expect("stdout"), crate::util::DEADLINE).expect("sum"));
    let code = crate::util::wait_deadline(&mut rx.0, Duration::from_secs(120), "receiver");
    assert_eq!(code, 0, "receiver `{receiver}` failed");
    sum.split_whitespace().next().unwrap_or("").to_string()
}

const PY_RECV: &str = "import socket,sys\ns=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(1); c,_=s.accept()\n\
while True:\n    b=c.recv(1<<20)\n    if not b: break\n    sys.stdout.buffer.write(b)\n";
const PY_SEND: &str = "import socket,sys\nc=socket.create_connection(('127.0.0.1', int(sys.argv[1])))\n\
c.sendfile(open(sys.argv[2],'rb')); c.shutdown(socket.SHUT_WR)\nwhile c.recv(1<<16): pass\n";

#[test]
fn one_gib_each_way_byte_for_byte() {
    for peer in ["socat", "nc.openbsd", "python3", "sha256sum"] {
        if !have(peer) {
            return;
        }
    }
    // Removed when the test ends, pass or fail.
    let dir = tempfile::tempdir().expect("tempdir");
    let (file, want) = big_file(dir.path());
    let want = &want;
    let file = file.display();
    let s = sockit_bin();
    // sockit sends to each peer.
    let receivers = [
        ("sockit", format!("{s} tcp listen {{port}} --bind 127.0.0.1 </dev/null 2>/dev/null")),
        ("socat", "socat -u TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr STDOUT".to_string()),
        ("nc.openbsd", "nc.openbsd -l 127.0.0.1 {port} </dev/null".to_string()),
        ("python3", format!("python3 -c \"{}\" {{port}}", PY_RECV.replace('"', "\\\""))),
    ];
    for (name, rx) in &receivers {
        let port = free_port();
        let sum = transfer(
            &rx.replace("{port}", &port.to_string()),
            port,
            &format!("{s} tcp connect 127.0.0.1 {port} < {file}"),
        );
        assert_eq!(&sum, want, "sockit -> {name}");
    }
    // Each peer sends to sockit.
    let senders = [
        ("socat", "socat -u OPEN:{file} TCP:127.0.0.1:{port}".to_string()),
        ("nc.openbsd", "nc.openbsd -N 127.0.0.1 {port} < {file}".to_string()),
        ("python3", format!("python3 -c \"{}\" {{port}} {{file}}", PY_SEND.replace('"', "\\\""))),
    ];
    for (name, tx) in &senders {
        let port = free_port();
        let sum = transfer(
            &format!("{s} tcp listen {port} --bind 127.0.0.1 </dev/null 2>/dev/null"),
            port,
            &tx.replace("{port}", &port.to_string()).replace("{file}", &file.to_string()),
        );
        assert_eq!(&sum, want, "{name} -> sockit");
    }
}

/// The lecture's TCP server and client, in Python 3.
const LECTURE_SERVER: &str = "from socket import *\nimport sys\ns = socket(AF_INET, SOCK_STREAM)\n\
s.bind(('127.0.0.1', 0))\ns.listen(5)\nprint(s.getsockname()[1], flush=True)\nc, a = s.accept()\n\
data = c.recv(1024)\nprint('Received:', data.decode(), flush=True)\nc.close()\n";
const LECTURE_CLIENT: &str = "from socket import *\nimport sys\ns = socket(AF_INET, SOCK_STREAM)\n\
s.connect(('127.0.0.1', int(sys.argv[1])))\ns.send(b'Hello there')\ns.close()\n";

/// What a listener receives lands whole wherever stdout goes: a file (spliced through a pipe
/// of sockit's own), a file opened for appending (where splice is refused mid-stream and each
/// chunk is copied instead), and a terminal-less pipe.
#[test]
fn received_bytes_land_whole_in_a_file_an_appended_file_and_a_pipe() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let data: Vec<u8> = (0..(24 << 20) / 8)
        .flat_map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()
        })
        .collect();
    let out = dir.path().join("out.bin");
    for (redirect, before) in [(">", &b""[..]), (">>", &b"what was there\n"[..]), ("| cat >", &b""[..])] {
        std::fs::write(&out, before).expect("write");
        let line = format!("exec {} tcp listen 0 --bind 127.0.0.1 {redirect} {}", sockit_bin(), out.display());
        let line = if redirect.starts_with('|') { line.replacen("exec ", "", 1) } else { line };
        let mut sh = Command::new("bash");
        sh.args(["-c", &line]);
        let (mut srv, port, _err) = listening(sh);
        drop(srv.0.stdin.take()); // nothing to send back
        let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        c.write_all(&data).expect("send");
        c.shutdown(Shutdown::Write).expect("fin");
        let _ = c.read(&mut [0u8; 1]);
        assert_eq!(crate::util::wait_deadline(&mut srv.0, DEADLINE, "tcp listen"), 0, "{redirect}");
        let got = std::fs::read(&out).expect("read");
        assert_eq!(got.len(), before.len() + data.len(), "{redirect}");
        assert!(got[..before.len()] == *before && got[before.len()..] == data[..], "{redirect}: bytes differ");
    }
}

#[test]
fn the_lecture_server_and_client() {
    if !have("python3") {
        return;
    }
    // Python server <- sockit client.
    let mut server = Proc(
        Command::new("python3").args(["-c", LECTURE_SERVER]).stdout(Stdio::piped()).spawn().expect("python server"),
    );
    let mut lines = PipeLines::new(server.0.stdout.take().expect("stdout")).lines();
    let port = lines.next().expect("port line").expect("port");
    let out = run(crate::util::sockit_cmd(&["tcp", "connect", "127.0.0.1", &port]), b"Hello there", DEADLINE);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(lines.next().expect("line").expect("received"), "Received: Hello there");

    // sockit server <- Python client.
    let (mut l, port, _err) = listening(crate::util::sockit_cmd(&["tcp", "listen", "0", "--bind", "127.0.0.1"]));
    drop(l.0.stdin.take());
    let out = Command::new("python3").args(["-c", LECTURE_CLIENT, &port.to_string()]).output().expect("client");
    assert!(out.status.success());
    let mut got = String::new();
    got.push_str(&crate::util::all_within(l.0.stdout.take().expect("stdout"), crate::util::DEADLINE).expect("read"));
    assert_eq!(got, "Hello there");
    assert_eq!(crate::util::wait_deadline(&mut l.0, DEADLINE, "listener"), 0);
}

/// A one-connection server in a thread: runs `f` on the accepted stream. Join the handle:
/// an assertion in `f` fails the test there.
fn serve_once(f: impl FnOnce(TcpStream) + Send + 'static) -> (u16, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let h = std::thread::spawn(move || {
        let (s, _) = l.accept().expect("accept");
        f(s);
    });
    (port, h)
}

#[test]
fn eof_sends_fin_and_reads_until_the_peer_closes() {
    // The peer reads to EOF, which only comes if sockit sent FIN, then answers and closes.
    let (port, peer) = serve_once(|mut s| {
        let mut got = Vec::new();
        s.read_to_end(&mut got).expect("read");
        s.write_all(format!("got {} bytes, bye\n", got.len()).as_bytes()).expect("write");
    });
    let out = run(crate::util::sockit_cmd(&["tcp", "connect", "127.0.0.1", &port.to_string()]), &[7u8; 5000], DEADLINE);
    assert_eq!((out.code, out.stdout()), (0, "got 5000 bytes, bye\n".to_string()), "{}", out.stderr);
    peer.join().expect("peer");
}

#[test]
fn no_shutdown_keeps_the_write_side_open() {
    let (port, peer) = serve_once(|mut s| {
        s.set_read_timeout(Some(Duration::from_millis(700))).expect("timeout");
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).expect("data");
        // Without FIN the next read times out instead of returning 0.
        let verdict = match s.read(&mut buf) {
            Ok(0) => "fin",
            Ok(_) => "more",
            Err(_) => "no-fin",
        };
        s.write_all(format!("{n} {verdict}\n").as_bytes()).expect("write");
    });
    let out = run(
        crate::util::sockit_cmd(&["tcp", "connect", "--no-shutdown", "127.0.0.1", &port.to_string()]),
        b"ping",
        DEADLINE,
    );
    assert_eq!(out.stdout(), "4 no-fin\n", "{}", out.stderr);
    peer.join().expect("peer");
}

#[test]
fn quit_after_eof() {
    // A peer that never answers and never closes, until the test is done with it.
    let silent = || {
        let (done, wait) = std::sync::mpsc::channel::<()>();
        let (port, peer) = serve_once(move |s| {
            let _ = wait.recv();
            drop(s);
        });
        (port, peer, done)
    };
    let (port, peer, done) = silent();
    let start = Instant::now();
    let out =
        run(crate::util::sockit_cmd(&["tcp", "connect", "-q", "0.3", "127.0.0.1", &port.to_string()]), b"x", DEADLINE);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());
    drop(done);
    peer.join().expect("peer");
    // And --idle-timeout: silence both ways is an error exit.
    let (port, peer, done) = silent();
    let out = run(
        crate::util::sockit_cmd(&["tcp", "connect", "--idle-timeout", "0.3", "127.0.0.1", &port.to_string()]),
        b"",
        DEADLINE,
    );
    assert_eq!(out.fails(1), "sockit: no data either way for 0.3 s (--idle-timeout): closed");
    drop(done);
    peer.join().expect("peer");
}

#[test]
fn a_half_closed_peer_still_gets_everything() {
    // The peer says hello and shuts down its side at once, but reads all we send.
    let (port, peer) = serve_once(|mut s| {
        s.write_all(b"hello\n").expect("hello");
        s.shutdown(Shutdown::Write).expect("shutdown");
        s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        let mut got = Vec::new();
        s.read_to_end(&mut got).expect("read");
        assert_eq!(got.len(), 3_000_000, "the peer got everything");
    });
    let data = vec![42u8; 3_000_000];
    let out = run(crate::util::sockit_cmd(&["tcp", "connect", "127.0.0.1", &port.to_string()]), &data, DEADLINE);
    assert_eq!((out.code, out.stdout()), (0, "hello\n".to_string()), "{}", out.stderr);
    peer.join().expect("peer");
}

#[test]
fn keep_open_many_clients_both_ways() {
    if !have("socat") || !have("nc.openbsd") {
        return;
    }
    let (mut srv, port, _err) =
        listening(crate::util::sockit_cmd(&["tcp", "listen", "0", "--bind", "127.0.0.1", "--keep-open"]));
    let mut clients: Vec<TcpStream> =
        (0..3).map(|_| TcpStream::connect(("127.0.0.1", port)).expect("connect")).collect();
    std::thread::sleep(Duration::from_millis(200));
    // stdin goes to every client.
    let mut stdin = srv.0.stdin.take().expect("stdin");
    stdin.write_all(b"to everyone\n").expect("write");
    stdin.flush().expect("flush");
    for c in &mut clients {
        c.set_read_timeout(Some(Duration::from_secs(5))).expect("t");
        let mut buf = [0u8; 12];
        c.read_exact(&mut buf).expect("broadcast");
        assert_eq!(&buf, b"to everyone\n");
    }
    // Clients' data, from real peers too, comes out on stdout.
    for (i, c) in clients.iter_mut().enumerate() {
        c.write_all(format!("line from client {i}\n").as_bytes()).expect("send");
    }
    let p = port.to_string();
    let socat = Command::new("bash")
        .arg("-c")
        .arg(format!("echo line from socat | socat -u STDIN TCP:127.0.0.1:{p}"))
        .status()
        .expect("socat");
    assert!(socat.success());
    let nc = Command::new("bash")
        .arg("-c")
        // -w 1: nc leaves after a second of silence (the server, whose stdin is still open,
        // owes a half-closed client the rest of it and keeps the connection).
        .arg(format!("echo line from nc | nc.openbsd -N -w 1 127.0.0.1 {p}"))
        .status()
        .expect("nc");
    assert!(nc.success());
    let mut out = PipeLines::new(srv.0.stdout.take().expect("stdout"));
    let mut lines = Vec::new();
    for _ in 0..5 {
        let mut l = String::new();
        out.read_line(&mut l).expect("line");
        lines.push(l.trim().to_string());
    }
    lines.sort();
    assert_eq!(
        lines,
        ["line from client 0", "line from client 1", "line from client 2", "line from nc", "line from socat"]
    );
}

/// --keep-open: a client that never reads is disconnected after a few seconds; the others get
/// every byte of stdin.
#[test]
fn keep_open_drops_a_client_that_never_reads() {
    let (mut srv, port, _err) =
        listening(crate::util::sockit_cmd(&["tcp", "listen", "0", "--bind", "127.0.0.1", "--keep-open"]));
    let stalled = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let reader = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    std::thread::sleep(Duration::from_millis(200));
    const TOTAL: usize = 64 << 20;
    let counter = std::thread::spawn(move || {
        let mut r = reader;
        r.set_read_timeout(Some(Duration::from_secs(30))).expect("t");
        let (mut got, mut buf) = (0usize, vec![0u8; 1 << 16]);
        while got < TOTAL {
            match r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
        }
        got
    });
    let mut stdin = srv.0.stdin.take().expect("stdin");
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..TOTAL >> 20 {
        stdin.write_all(&chunk).expect("stdin");
    }
    assert_eq!(counter.join().expect("reader"), TOTAL, "the reading client got all of stdin");
    // The stalled one was cut off: what it can still read ends, rather than waiting forever.
    stalled.set_read_timeout(Some(Duration::from_secs(10))).expect("t");
    let mut sink = Vec::new();
    let end = (&stalled).read_to_end(&mut sink);
    assert!(end.is_ok() || end.as_ref().is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset), "{end:?}");
    assert!(sink.len() < TOTAL, "the stalled client was disconnected before it got everything");
    assert!(srv.0.try_wait().expect("wait").is_none(), "the server is still running");
}

#[test]
fn exec_cat_is_an_echo_server_for_many() {
    let (_srv, port, _err) = listening(crate::util::sockit_cmd(&[
        "tcp",
        "listen",
        "0",
        "--bind",
        "127.0.0.1",
        "--keep-open",
        "--exec",
        "cat",
    ]));
    let handles: Vec<_> = (0..4u8)
        .map(|i| {
            std::thread::spawn(move || {
                let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
                let data: Vec<u8> =
                    (0..2_000_000u32).map(|x| x.to_le_bytes()[0].wrapping_mul(31).wrapping_add(i)).collect();
                let mut w = c.try_clone().expect("clone");
                let d2 = data.clone();
                let writer = std::thread::spawn(move || {
                    w.write_all(&d2).expect("write");
                    w.shutdown(Shutdown::Write).expect("fin");
                });
                let mut back = Vec::new();
                c.read_to_end(&mut back).expect("read");
                writer.join().expect("writer");
                assert!(back == data, "client {i}: echo differs ({} bytes back)", back.len());
            })
        })
        .collect();
    for h in handles {
        h.join().expect("client");
    }
}

#[test]
fn allow_deny_and_max_conns() {
    // Denied: the connection is closed at once and nothing reaches stdout.
    let (_srv, port, _err) = listening(crate::util::sockit_cmd(&[
        "tcp",
        "listen",
        "0",
        "--bind",
        "127.0.0.1",
        "--keep-open",
        "--deny",
        "127.0.0.0/8",
    ]));
    let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(5))).expect("t");
    assert_closed(&mut c, "a denied client");

    // An IPv4-mapped rule on a dual-stack listener keeps out the IPv4 client it maps.
    if std::net::TcpListener::bind("[::]:0").is_ok() && have("nc.openbsd") {
        let (_srv, port, _err) = listening(crate::util::sockit_cmd(&[
            "tcp",
            "listen",
            "0",
            "--bind",
            "::",
            "--keep-open",
            "--deny",
            "::ffff:127.0.0.1",
        ]));
        let out =
            run(crate::util::sockit_cmd(&["tcp", "connect", "127.0.0.1", &port.to_string(), "-q", "3"]), b"", DEADLINE);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let nc = Command::new("nc.openbsd")
            .args(["-w", "3", "127.0.0.1", &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("nc");
        let t = Instant::now();
        let got = nc.wait_with_output().expect("nc output");
        assert!(got.stdout.is_empty() && t.elapsed() < Duration::from_secs(3), "nc.openbsd got in: {got:?}");
        let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(5))).expect("t");
        assert_closed(&mut c, "an IPv4 client under a --deny for its mapped address");
    }

    // Allowed only from 127.0.0.2: a client from 127.0.0.1 is closed, one from .2 is served.
    let (mut srv, port, _err) = listening(crate::util::sockit_cmd(&[
        "tcp",
        "listen",
        "0",
        "--bind",
        "0.0.0.0",
        "--keep-open",
        "--allow",
        "127.0.0.2/32",
    ]));
    let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(5))).expect("t");
    assert_closed(&mut c, "a client outside --allow");
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    sock.bind(&std::net::SocketAddr::from(([127, 0, 0, 2], 0)).into()).expect("bind .2");
    sock.connect(&std::net::SocketAddr::from(([127, 0, 0, 1], port)).into()).expect("connect from .2");
    let mut ok: TcpStream = sock.into();
    ok.write_all(b"allowed\n").expect("write");
    let mut line = String::new();
    line.push_str(
        &crate::util::line_within(srv.0.stdout.take().expect("stdout"), crate::util::DEADLINE).expect("line"),
    );
    assert_eq!(line, "allowed\n");

    // --max-conns 1: a second client is closed while the first stays.
    let (_srv, port, _err) = listening(crate::util::sockit_cmd(&[
        "tcp",
        "listen",
        "0",
        "--bind",
        "127.0.0.1",
        "--keep-open",
        "--max-conns",
        "1",
    ]));
    let _first = TcpStream::connect(("127.0.0.1", port)).expect("first");
    std::thread::sleep(Duration::from_millis(200));
    let mut second = TcpStream::connect(("127.0.0.1", port)).expect("second");
    second.set_read_timeout(Some(Duration::from_secs(5))).expect("t");
    assert_closed(&mut second, "a client past --max-conns");
}

/// The server closed `c`: its read ends (EOF or reset), and not by the read timeout.
#[track_caller]
fn assert_closed(c: &mut TcpStream, who: &str) {
    match c.read(&mut [0u8; 1]) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("{who} was not closed: {other:?}"),
    }
}

#[test]
fn ipv6_both_ends() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        assert!(!crate::util::under_ci(), "IPv6 loopback is required under CI");
        eprintln!("skipping: no IPv6 loopback");
        return;
    }
    let (mut l, port, _err) = listening(crate::util::sockit_cmd(&["tcp", "listen", "0", "--bind", "::1"]));
    drop(l.0.stdin.take());
    let out = run(crate::util::sockit_cmd(&["tcp", "connect", "[::1]", &port.to_string()]), b"over IPv6\n", DEADLINE);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut got = String::new();
    got.push_str(&crate::util::all_within(l.0.stdout.take().expect("stdout"), crate::util::DEADLINE).expect("read"));
    assert_eq!(got, "over IPv6\n");
}

/// Zone ids (`fe80::a%z0`), as nc.openbsd takes them: a link-local listener bound in its zone,
/// reached by `tcp connect`, nc and `scan`; without the zone, one line saying what is missing.
/// A namespace of the test's own holds the link.
#[test]
fn zone_ids_name_the_interface() {
    let Some(ns) = crate::util::Netns::new("zone") else { return };
    ns.exec_ok(
        "ip link add z0 type veth peer name z1 && ip link set z1 up && ip link set z0 up && \
         ip -6 addr add fe80::a/64 dev z0 nodad",
    );
    let (mut l, port, _err) = listening(ns.cmd(sockit_bin(), &["tcp", "listen", "0", "--bind", "fe80::a%z0"]));
    drop(l.0.stdin.take());
    let port = port.to_string();
    let out = run(ns.cmd(sockit_bin(), &["tcp", "connect", "fe80::a%z0", &port]), b"through the zone\n", DEADLINE);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut got = String::new();
    got.push_str(&crate::util::all_within(l.0.stdout.take().expect("stdout"), crate::util::DEADLINE).expect("read"));
    assert_eq!(got, "through the zone\n");

    // A Python listener in the zone: nc.openbsd and sockit's scan find it by the same name.
    let code = "import socket, sys\ns = socket.socket(socket.AF_INET6)\n\
                s.bind(('fe80::a', 0, 0, socket.if_nametoindex('z0'))); s.listen(8)\n\
                print(s.getsockname()[1], flush=True)\nwhile True:\n    c, _ = s.accept(); c.sendall(b'hi\\n'); c.close()\n";
    let mut py = Proc(ns.cmd("python3", &["-c", code]).stdout(Stdio::piped()).spawn().expect("python3"));
    let mut p = String::new();
    p.push_str(&crate::util::line_within(py.0.stdout.take().expect("stdout"), crate::util::DEADLINE).expect("port"));
    let p = p.trim().to_string();
    if have("nc.openbsd") {
        let out = run(ns.cmd("nc.openbsd", &["-d", "fe80::a%z0", &p]), b"", DEADLINE);
        assert_eq!(out.stdout(), "hi\n", "{}", out.stderr);
    }
    let out = run(ns.cmd(sockit_bin(), &["tcp", "connect", "[fe80::a%z0]", &p]), b"", DEADLINE);
    assert_eq!(out.stdout(), "hi\n", "{}", out.stderr);
    let v = run(ns.cmd(sockit_bin(), &["--json", "scan", "fe80::a%z0", "-p", &p]), b"", DEADLINE).json();
    assert_eq!((v["hosts"][0]["name"].as_str(), v["hosts"][0]["open"].as_u64()), (Some("fe80::a%z0"), Some(1)));
    let out = run(ns.cmd(sockit_bin(), &["tcp", "connect", "fe80::a", &p]), b"", DEADLINE);
    assert_eq!(
        out.fails(2),
        format!("sockit: [fe80::a]:{p} is a link-local address, which needs its interface: write it like fe80::1%eth0")
    );
    let out = run(ns.cmd(sockit_bin(), &["tcp", "connect", "fe80::a%z9", &p]), b"", DEADLINE);
    assert_eq!(
        out.fails(2),
        "sockit: no interface 'z9' on this host: the zone after % is an interface name (ip link lists them) or index"
    );
    let line = sockit(&["addr", "fe80::a%z0/64"]).ok();
    assert!(line.starts_with("Address       fe80::a\nZone          z0 (the interface this address is on)\n"), "{line}");
}

/// The bytes of a hex dump's lines with `mark`, in order.
fn undump(dump: &str, mark: char) -> Vec<u8> {
    dump.lines()
        .filter(|l| l.starts_with(mark) && !l.contains(" bytes)"))
        .flat_map(|l| {
            let hex = l[2..].split_once("  ").map_or("", |(_, rest)| rest);
            let hex = hex.split('|').next().unwrap_or("");
            hex.split_whitespace().map(|h| u8::from_str_radix(h, 16).expect("hex")).collect::<Vec<_>>()
        })
        .collect()
}

/// `-x FILE`: both directions of a connection in hex, as ncat -x and socat -x users read them,
/// the bytes exactly those that passed (nc.openbsd on the other end); a datagram's dump names
/// its peer; `-x` with --keep-open is refused.
#[test]
fn hexdump_shows_both_directions_exactly() {
    if !have("nc.openbsd") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let dump = dir.path().join("dump.txt");
    let dump_s = dump.display().to_string();
    let (mut l, port, _err) =
        listening(crate::util::sockit_cmd(&["tcp", "listen", "0", "--bind", "127.0.0.1", "-x", &dump_s]));
    l.0.stdin.take().expect("stdin").write_all(b"the listener's reply\n").expect("reply");
    let sent: Vec<u8> = b"Hello, hex dump!\n\x1b[2J\x00\xff".iter().copied().chain(0..=255u8).collect();
    let out = run(
        {
            let mut c = Command::new("nc.openbsd");
            c.args(["-N", "127.0.0.1", &port.to_string()]);
            c
        },
        &sent,
        DEADLINE,
    );
    assert_eq!(out.stdout(), "the listener's reply\n", "{}", out.stderr);
    let _ = l.0.wait();
    let text = std::fs::read_to_string(&dump).expect("dump");
    assert_eq!(undump(&text, '<'), sent, "{text}");
    assert_eq!(undump(&text, '>'), b"the listener's reply\n", "{text}");
    assert!(
        text.contains("< 00000000  48 65 6c 6c 6f 2c 20 68  65 78 20 64 75 6d 70 21  |Hello, hex dump!|\n"),
        "{text}"
    );
    assert!(
        text.contains("< 00000010  0a 1b 5b 32 4a 00 ff 00  01 02 03 04 05 06 07 08  |..[2J...........|\n"),
        "{text}"
    );
    assert!(!text.contains('\x1b'), "nothing raw reaches the terminal");
    // A datagram: the peer and the size, then its bytes.
    let rx = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let to = rx.local_addr().expect("addr").port().to_string();
    let out = sockit(&["udp", "send", "127.0.0.1", &to, "ping!", "-x"]);
    assert_eq!(out.code, 0);
    assert_eq!(
        out.stderr,
        format!("> 127.0.0.1:{to} (5 bytes)\n> 00000000  70 69 6e 67 21                                    |ping!|\n")
    );
    let line = sockit(&["tcp", "listen", "0", "--keep-open", "-x"]).fails(2);
    assert_eq!(line, "sockit: -x dumps one connection: leave out --keep-open and --exec, or run one listener a client");
}

/// `--keepalive SECS`: a peer that vanishes without a word (its link cut) is noticed by the
/// probes, and `tcp connect` ends with one line and exit 1 instead of waiting for ever.
#[test]
fn keepalive_notices_a_peer_that_vanished() {
    if !have("python3") {
        return;
    }
    let Some(lan) = crate::util::Lan::new("ka", 2) else { return };
    let (_peer, port) = crate::util::holder(&lan.hosts[1], "198.18.0.2");
    let port = port.to_string();
    let mut client = Proc(
        lan.hosts[0]
            .cmd(sockit_bin(), &["tcp", "connect", "198.18.0.2", port.trim(), "--keepalive", "1"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sockit"),
    );
    std::thread::sleep(Duration::from_millis(500));
    // The peer's host drops off the LAN: no FIN, no reset, nothing.
    lan.hosts[1].exec_ok("ip link set eth0 down");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = client.0.try_wait().expect("wait") {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "still waiting for a peer that is gone");
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut err = String::new();
    err.push_str(
        &crate::util::all_within(client.0.stderr.take().expect("stderr"), crate::util::DEADLINE).expect("stderr"),
    );
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("sockit: connection with 198.18.0.2:")
            && err.contains("the peer stopped answering (it is gone)"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    drop(client.0.stdin.take());
}

/// Unix stream sockets, the socket module's other family: sockit to socat's UNIX-LISTEN, nc.openbsd
/// -U and Python's AF_UNIX to sockit's listener, an abstract name, a stale socket file replaced,
/// a live one and a file that is not a socket left alone with one line each.
#[test]
fn unix_sockets_with_socat_nc_and_python() {
    for p in ["socat", "nc.openbsd", "python3"] {
        if !have(p) {
            return;
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = |name: &str| dir.path().join(name).display().to_string();
    // sockit -> socat.
    let a = path("socat.sock");
    let socat = crate::util::socat_unix_greeter(&a);
    assert_eq!(sockit(&["tcp", "connect", "--unix", &a]).ok(), "from socat\n");
    drop(socat);
    // nc.openbsd -U and Python -> sockit, on a path and on an abstract name.
    for (listen_at, client) in [(path("sockit.sock"), "nc"), (format!("@sockit-test-{}", std::process::id()), "python")]
    {
        let (mut l, _err) = unix_listening(&listen_at);
        l.0.stdin.take().expect("stdin").write_all(b"from sockit\n").expect("say");
        let mut cmd = match client {
            "nc" => {
                let mut c = Command::new("nc.openbsd");
                c.args(["-N", "-U", &listen_at]);
                c
            }
            _ => {
                let mut c = Command::new("python3");
                let code = "import socket, sys\ns = socket.socket(socket.AF_UNIX)\ns.connect('\\0' + sys.argv[1][1:])\n\
                            s.sendall(b'from python\\n'); s.shutdown(socket.SHUT_WR)\nd = b''\nwhile True:\n    \
                            b = s.recv(4096)\n    if not b: break\n    d += b\nsys.stdout.write(d.decode())\n";
                c.args(["-c", code, &listen_at]);
                c
            }
        };
        cmd.stdin(Stdio::piped());
        let out = run(cmd, format!("from {client}\n").as_bytes(), DEADLINE);
        assert_eq!(out.stdout(), "from sockit\n", "{client}: {}", out.stderr);
        let mut got = String::new();
        got.push_str(
            &crate::util::all_within(l.0.stdout.take().expect("stdout"), crate::util::DEADLINE).expect("read"),
        );
        assert_eq!(got, if client == "nc" { "from nc\n" } else { "from python\n" });
        assert_eq!(l.0.wait().expect("wait").code(), Some(0));
        assert!(!std::path::Path::new(&listen_at).exists(), "the socket file goes with its listener");
    }
    // A socket file left behind by a listener that died is replaced; a live one is not.
    let stale = path("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).expect("bind"));
    let (mut l, _err) = unix_listening(&stale);
    let line = sockit(&["tcp", "listen", "--unix", &stale]).fails(1);
    assert_eq!(line, format!("sockit: cannot listen on {stale}: a program listens on it already"));
    drop(l.0.stdin.take());
    let _ = run(
        {
            let mut c = Command::new("nc.openbsd");
            c.args(["-N", "-U", &stale]);
            c
        },
        b"",
        DEADLINE,
    );
    let _ = l.0.wait();
    let plain = path("plain.txt");
    std::fs::write(&plain, "not a socket").expect("write");
    assert_eq!(
        sockit(&["tcp", "listen", "--unix", &plain]).fails(1),
        format!("sockit: cannot listen on {plain}: it exists and is not a socket: remove it or pick another path")
    );
    assert_eq!(
        sockit(&["tcp", "connect", "--unix", &plain]).fails(1),
        format!("sockit: cannot connect to {plain}: it is not a socket")
    );
    let gone = path("gone.sock");
    assert_eq!(
        sockit(&["tcp", "connect", "--unix", &gone]).fails(1),
        format!("sockit: cannot connect to {gone}: no such socket")
    );
    assert_eq!(std::fs::read_to_string(&plain).expect("read"), "not a socket", "left alone");
}

/// `tcp listen --unix PATH`, once it says it listens.
fn unix_listening(path: &str) -> (Proc, PipeLines) {
    let (child, line, err) = crate::util::started(crate::util::sockit_cmd(&["tcp", "listen", "--unix", path]));
    assert_eq!(line, format!("sockit: listening on {path} (unix)\n"));
    (child, err)
}

#[test]
fn errors_are_one_line() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let p = taken.local_addr().expect("a").port().to_string();
    let line = sockit(&["tcp", "listen", &p, "--bind", "127.0.0.1"]).fails(1);
    assert_eq!(
        line,
        format!(
            "sockit: cannot listen on 127.0.0.1:{p}: the port is in use; pick another port (0 picks a free one) or stop the program using it"
        )
    );
    drop(taken);
    let closed = free_port().to_string();
    let line = sockit(&["tcp", "connect", "127.0.0.1", &closed]).fails(1);
    assert_eq!(line, format!("sockit: connection to 127.0.0.1:{closed} refused: nothing listens on that port"));
    let line = sockit(&["tcp", "connect", "127.0.0.1", "70000"]).fails(2);
    assert!(line.contains("port 70000 is out of range"), "{line}");
    let line = sockit(&["tcp", "connect", "-w", "0", "127.0.0.1", "80"]).fails(2);
    assert!(line.contains("'0' is not a time"), "{line}");
    let line = sockit(&["tcp", "listen", "0", "--allow", "10.0.0.0/33"]).fails(2);
    assert!(line.contains("--allow 10.0.0.0/33: prefix /33"), "{line}");
}

/// A privileged port without the rights: run as nobody (the test runs as root, so it drops its
/// rights with setpriv), one line and exit 1, for tcp, udp and chat alike.
#[test]
fn privileged_port_without_rights() {
    let unprivileged_start: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1024);
    if !rustix::process::geteuid().is_root() || !have("setpriv") || unprivileged_start <= 80 {
        assert!(!crate::util::under_ci(), "under CI this test needs root, setpriv and port 80 privileged");
        eprintln!("skipping: needs root, setpriv and port 80 privileged");
        return;
    }
    // A copy of the binary anyone may run, wherever the checkout is.
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = dir.path().join("sockit");
    std::fs::copy(sockit_bin(), &bin).expect("copy");
    for p in [dir.path(), bin.as_path()] {
        std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    }
    let expected = "sockit: cannot bind 127.0.0.1:80: ports below 1024 need root or CAP_NET_BIND_SERVICE; use a port of 1024 or more";
    for args in [
        &["tcp", "listen", "80", "--bind", "127.0.0.1"][..],
        &["udp", "listen", "80", "--bind", "127.0.0.1"],
        &["chat", "serve", "--port", "80", "--bind", "127.0.0.1", "--no-discovery"],
    ] {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"]).arg(&bin).args(args);
        let out = run(cmd, b"", DEADLINE);
        assert_eq!((out.code, out.stderr.trim()), (1, expected), "{args:?}");
    }
}

/// `tcp connect -s ADDR -p PORT` connects from that address and port, as nc -s -p does (a
/// Python listener sees them); an address this host does not have is one line, exit 1.
#[test]
fn connect_from_a_source_address_and_port() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port().to_string();
    let from_port = crate::util::free_port().to_string();
    let seen = std::thread::spawn(move || {
        let (mut s, peer) = l.accept().expect("accept");
        let mut got = String::new();
        let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(5)));
        let _ = s.read_to_string(&mut got);
        (peer, got)
    });
    let out = run(
        crate::util::sockit_cmd(&["tcp", "connect", "-s", "127.0.0.2", "-p", &from_port, "127.0.0.1", &port]),
        b"from afar\n",
        DEADLINE,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let (peer, got) = seen.join().expect("listener");
    assert_eq!((peer.to_string(), got.as_str()), (format!("127.0.0.2:{from_port}"), "from afar\n"));
    let line = sockit(&["tcp", "connect", "--source", "198.51.100.7", "127.0.0.1", &port, "-w", "1"]).fails(1);
    assert!(line.starts_with("sockit: cannot bind 198.51.100.7:0"), "{line}");
    let line = sockit(&["tcp", "connect", "-s", "nope", "127.0.0.1", &port]).fails(2);
    assert!(line.starts_with("sockit: --source 'nope' is not an address"), "{line}");
}

/// ncat's stdio modes: `--crlf` sends each line end as CRLF (a CRLF stays one), `--recv-only`
/// never reads stdin (the peer gets nothing, not even its end), `--send-only` drops what the
/// peer says and quits when stdin ends though the peer stays open.
#[test]
fn crlf_send_only_and_recv_only() {
    use std::time::Duration;
    // A peer that says `greeting`, then reads what comes for `wait` (or to its end).
    let peer = |greeting: &'static [u8], wait: Duration| {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port().to_string();
        let t = std::thread::spawn(move || {
            let (mut s, _) = l.accept().expect("accept");
            let _ = s.write_all(greeting);
            let _ = s.set_read_timeout(Some(wait));
            let mut got = Vec::new();
            let _ = s.read_to_end(&mut got);
            got
        });
        (port, t)
    };
    let (port, got) = peer(b"", Duration::from_secs(5));
    let out = run(
        crate::util::sockit_cmd(&["tcp", "connect", "--crlf", "127.0.0.1", &port]),
        b"HELO a\nMAIL b\r\nend",
        DEADLINE,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(got.join().expect("peer"), b"HELO a\r\nMAIL b\r\nend");
    // --recv-only: the greeting is printed; stdin is not sent, and no FIN either: the peer
    // waits out its read and closes.
    let (port, got) = peer(b"hello\n", Duration::from_millis(500));
    let out =
        run(crate::util::sockit_cmd(&["tcp", "connect", "--recv-only", "127.0.0.1", &port]), b"never sent\n", DEADLINE);
    assert_eq!((out.code, out.stdout()), (0, "hello\n".to_string()), "{}", out.stderr);
    assert_eq!(got.join().expect("peer"), b"");
    // --send-only: stdin is sent, the peer's greeting is not printed, and sockit quits at
    // stdin's end though the peer keeps its side open (it would wait 20 s: it reads to sockit's
    // FIN, and only a sockit that waited for the peer's end would take that long).
    let (port, got) = peer(b"noise\n", Duration::from_secs(20));
    let start = std::time::Instant::now();
    let out = run(crate::util::sockit_cmd(&["tcp", "connect", "--send-only", "127.0.0.1", &port]), b"data\n", DEADLINE);
    assert_eq!((out.code, out.stdout()), (0, String::new()), "{}", out.stderr);
    assert!(start.elapsed() < Duration::from_secs(10), "took {:?}", start.elapsed());
    assert_eq!(got.join().expect("peer"), b"data\n");
    let line = sockit(&["tcp", "listen", "0", "--keep-open", "--crlf"]).fails(2);
    assert!(line.starts_with("sockit: --crlf, --send-only and --recv-only shape one connection's stdio"), "{line}");
}

/// A server under a systemd unit of Type=notify says READY=1 on NOTIFY_SOCKET once it listens
/// (a datagram socket the test binds stands in for systemd's).
#[test]
fn a_server_tells_systemd_it_is_ready() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("notify");
    let systemd = std::os::unix::net::UnixDatagram::bind(&path).expect("bind");
    systemd.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut cmd = crate::util::sockit_cmd(&["tcp", "listen", "0", "--bind", "127.0.0.1", "--keep-open"]);
    cmd.env("NOTIFY_SOCKET", &path);
    let (_srv, _port, _err) = listening(cmd);
    let mut buf = [0u8; 64];
    let n = systemd.recv(&mut buf).expect("a notice");
    assert_eq!(&buf[..n], b"READY=1");
}

/// rustls logs through the `log` crate: with -vv its records are lines of sockit's log like
/// tracing's own, their target a field (nothing listened to them: they were lost).
#[test]
fn tls_library_log_reaches_the_log() {
    let (_srv, port, _err) =
        listening(crate::util::sockit_cmd(&["tcp", "listen", "0", "--bind", "127.0.0.1", "--tls", "--keep-open"]));
    let p = port.to_string();
    let mut cmd =
        crate::util::sockit_cmd(&["-vv", "tcp", "connect", "--tls", "--insecure", "127.0.0.1", &p, "-q", "0.2"]);
    cmd.env("NO_COLOR", "1");
    let out = run(cmd, b"", DEADLINE);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let rustls: Vec<&str> = out.stderr.lines().filter(|l| l.contains(" target=rustls::")).collect();
    assert!(rustls.iter().any(|l| l.contains(" DEBUG ") && l.contains("Using ciphersuite TLS13_")), "{}", out.stderr);
    // Without -v, DEBUG records are not written.
    let out = run(
        crate::util::sockit_cmd(&["tcp", "connect", "--tls", "--insecure", "127.0.0.1", &p, "-q", "0.2"]),
        b"",
        DEADLINE,
    );
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
}

/// A client certificate and a server name of the client's choosing, against Python's ssl
/// server that requires one and records the SNI: `--client-cert/--client-key` are shown,
/// `--server-name localhost` is asked for (and checked) while connecting to 127.0.0.1; the
/// same server turns away a client without a certificate.
#[test]
fn tls_client_certificate_and_server_name() {
    if !have("openssl") {
        return;
    }
    let (server_dir, client_dir) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    let (server_cert, server_key) = crate::util::openssl_cert(server_dir.path());
    let (client_cert, client_key) = crate::util::openssl_cert(client_dir.path());
    let path = |p: &std::path::Path| p.to_str().expect("utf-8").to_string();
    let mut py = Command::new("python3");
    py.arg(format!("{}/tests/it/py/tls_client_auth.py", env!("CARGO_MANIFEST_DIR")))
        .args([path(&server_cert), path(&server_key), path(&client_cert)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut py = Proc(py.spawn().expect("python3"));
    let said = crate::util::Collected::from(py.0.stdout.take().expect("stdout"));
    let py_err = crate::util::Collected::from(py.0.stderr.take().expect("stderr"));
    let port = said.lines(1, Duration::from_secs(5)).first().cloned().expect("port");
    let ca = path(&server_cert);
    let connect = |extra: &[&str]| {
        let args = [&["tcp", "connect", "127.0.0.1", &port, "--ca", &ca, "-q", "1"], extra].concat();
        run(crate::util::sockit_cmd(&args), b"bye\n", DEADLINE)
    };
    let out = connect(&[
        "--server-name",
        "localhost",
        "--client-cert",
        &path(&client_cert),
        "--client-key",
        &path(&client_key),
    ]);
    assert_eq!(
        (out.code, out.stdout()),
        (0, "hello\n".to_string()),
        "{} {:?} {:?}",
        out.stderr,
        said.lines(0, Duration::ZERO),
        py_err.lines(0, Duration::ZERO)
    );
    let out = connect(&["--server-name", "localhost"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let lines = said.lines(3, Duration::from_secs(5));
    assert!(lines.contains(&"sni=localhost client=localhost".to_string()), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("refused ")), "{lines:?}");
    // The name is checked too: without it, 127.0.0.1 is not the certificate's name.
    let line = sockit(&["tcp", "connect", "127.0.0.1", &port, "--ca", &path(&server_cert)]).fails(1);
    assert!(line.contains("the server's certificate is for another name"), "{line}");
}

/// `tcp listen --tls --keep-open` on 127.0.0.1 with a certificate for localhost that openssl
/// makes in `dir` (basicConstraints CA:TRUE if `ca`): the server, its port, its stderr, the
/// certificate.
fn tls_listener(dir: &std::path::Path, ca: bool) -> (Proc, u16, PipeLines, String) {
    let (cert, key) = crate::util::openssl_cert_as(dir, ca);
    let (c, k) = (cert.to_str().expect("utf-8"), key.to_str().expect("utf-8"));
    let args = ["tcp", "listen", "0", "--bind", "127.0.0.1", "--tls", "--cert", c, "--key", k, "--keep-open"];
    let (srv, port, err) = listening(crate::util::sockit_cmd(&args));
    (srv, port, err, c.to_string())
}

/// A server that presents a CA certificate as its own (openssl's default self-signed one has
/// basicConstraints CA:TRUE) is named for what it is, not "check that the other side speaks
/// TLS": the verifier's error is told by its type, and the hint's way out (its fingerprint
/// pinned) connects.
#[test]
fn a_ca_certificate_presented_as_the_servers_own_is_named() {
    if !have("openssl") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (_srv, port, _err, cert) = tls_listener(dir.path(), true);
    let c = cert.as_str();
    // Trusted (--ca) or not, it is refused as what it is; the hint's way out, its fingerprint
    // pinned, connects.
    let named = "the server presents a CA certificate as its own (as openssl's default self-signed one is; one with \
                 basicConstraints CA:FALSE would be taken): pin it with --fingerprint SHA256 if it is the one you expect";
    let line = sockit(&["tcp", "connect", "--ca", c, "localhost", &port.to_string()]).fails(1);
    assert!(line.ends_with(named), "{line}");
    let line = sockit(&["tcp", "connect", "--tls", "localhost", &port.to_string()]).fails(1);
    assert!(line.ends_with(named), "{line}");
    let mut x509 = Command::new("openssl");
    x509.args(["x509", "-in", c, "-noout", "-fingerprint", "-sha256"]);
    let said = run(x509, b"", DEADLINE);
    let fingerprint = said.ok().trim().rsplit('=').next().expect("fingerprint").to_string();
    let out = run(
        crate::util::sockit_cmd(&["tcp", "connect", "--fingerprint", &fingerprint, "localhost", &port.to_string()]),
        b"pinned\n",
        DEADLINE,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
}

/// A trusted certificate of the issuer's name but with another kind of key (as Debian's
/// snakeoil certificate, named for the host, can be) did not sign the server's: said as an
/// untrusted issuer, not "check that the other side speaks TLS".
#[test]
fn a_trusted_name_with_another_key_is_not_the_issuer() {
    if !have("openssl") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (_srv, port, _err, _cert) = tls_listener(dir.path(), false);
    // An RSA CA named as the server's EC certificate (issuer CN=localhost).
    let (ca, ca_key) = (dir.path().join("rsa-ca.pem"), dir.path().join("rsa-ca-key.pem"));
    let mut req = Command::new("openssl");
    req.args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args(["-addext", "basicConstraints=critical,CA:TRUE", "-keyout"])
        .arg(&ca_key)
        .arg("-out")
        .arg(&ca);
    assert_eq!(run(req, b"", DEADLINE).code, 0);
    let line =
        sockit(&["tcp", "connect", "--ca", ca.to_str().expect("utf-8"), "localhost", &port.to_string()]).fails(1);
    assert!(line.contains("UnsupportedSignatureAlgorithmForPublicKeyContext"), "{line}");
    assert!(
        line.ends_with("the server's certificate is not signed by a trusted CA: pass --ca FILE, or --insecure"),
        "{line}"
    );
}

/// TLS: sockit on both ends (self-signed, then with a CA the test makes with openssl), and
/// OpenSSL's s_client and ncat --ssl as peers.
#[test]
fn tls_both_ways_and_with_real_peers() {
    if !have("openssl") || !have("ncat") {
        return;
    }
    let s = sockit_bin();
    // Self-signed: the fingerprint is printed; --insecure connects; verification refuses.
    let (mut srv, port, mut err) =
        listening(crate::util::sockit_cmd(&["tcp", "listen", "0", "--bind", "127.0.0.1", "--tls"]));
    let mut fp = String::new();
    err.read_line(&mut fp).expect("fingerprint line");
    assert!(fp.starts_with("sockit: TLS certificate SHA-256 fingerprint ") && fp.trim().len() == 44 + 95, "{fp}");
    let mut stdin = srv.0.stdin.take().expect("stdin");
    stdin.write_all(b"from the server\n").expect("write");
    drop(stdin);
    let out = run(
        crate::util::sockit_cmd(&["tcp", "connect", "--tls", "--insecure", "127.0.0.1", &port.to_string()]),
        b"from the client\n",
        DEADLINE,
    );
    assert_eq!((out.code, out.stdout()), (0, "from the server\n".to_string()), "{}", out.stderr);
    let mut got = String::new();
    got.push_str(&crate::util::all_within(srv.0.stdout.take().expect("stdout"), crate::util::DEADLINE).expect("read"));
    assert_eq!(got, "from the client\n");

    let (_srv, port, _err) =
        listening(crate::util::sockit_cmd(&["tcp", "listen", "0", "--bind", "127.0.0.1", "--tls"]));
    let line = sockit(&["tcp", "connect", "--tls", "127.0.0.1", &port.to_string()]).fails(1);
    assert!(line.contains("not signed by a trusted CA: pass --ca FILE, or --insecure"), "{line}");
    assert_eq!(line.matches("--insecure").count(), 1, "said once: {line}");

    // A certificate for localhost from openssl, trusted with --ca.
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = crate::util::openssl_cert(dir.path());
    let (c, k) = (cert.to_str().expect("p"), key.to_str().expect("p"));
    let (mut srv, port, _err) = listening(crate::util::sockit_cmd(&[
        "tcp",
        "listen",
        "0",
        "--bind",
        "127.0.0.1",
        "--tls",
        "--cert",
        c,
        "--key",
        k,
    ]));
    drop(srv.0.stdin.take());
    let out = run(
        crate::util::sockit_cmd(&["tcp", "connect", "--tls", "--ca", c, "localhost", &port.to_string()]),
        b"verified\n",
        DEADLINE,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut got = String::new();
    got.push_str(&crate::util::all_within(srv.0.stdout.take().expect("stdout"), crate::util::DEADLINE).expect("read"));
    assert_eq!(got, "verified\n");

    // openssl s_client talks to sockit's listener (the server's stdin stays open a moment so
    // s_client has sent its line before the server closes).
    let port = free_port();
    let server = format!(
        "(echo from sockit; sleep 1) | {s} tcp listen {port} --bind 127.0.0.1 --tls --cert {c} --key {k} 2>/dev/null"
    );
    let mut srv = Proc(Command::new("bash").arg("-c").arg(&server).stdout(Stdio::piped()).spawn().expect("server"));
    crate::util::wait_listening(port);
    let client = format!(
        "echo from openssl | openssl s_client -quiet -verify_return_error -CAfile {c} -servername localhost -connect 127.0.0.1:{port} 2>/dev/null"
    );
    let out = Command::new("bash").arg("-c").arg(&client).output().expect("s_client");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "from sockit\n");
    let mut got = String::new();
    got.push_str(&crate::util::all_within(srv.0.stdout.take().expect("stdout"), crate::util::DEADLINE).expect("read"));
    assert_eq!(got, "from openssl\n");

    // ncat --ssl as the server, sockit as the client.
    let port = free_port();
    let mut ncat = Proc(
        Command::new("bash")
            .arg("-c")
            .arg(format!("(echo from ncat; sleep 1) | ncat --ssl -l 127.0.0.1 {port}"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("ncat"),
    );
    crate::util::wait_listening(port);
    let out = run(
        crate::util::sockit_cmd(&["tcp", "connect", "--tls", "--insecure", "127.0.0.1", &port.to_string()]),
        b"from sockit\n",
        DEADLINE,
    );
    assert_eq!((out.code, out.stdout()), (0, "from ncat\n".to_string()), "{}", out.stderr);
    let mut got = String::new();
    got.push_str(&crate::util::all_within(ncat.0.stdout.take().expect("stdout"), crate::util::DEADLINE).expect("read"));
    assert_eq!(got, "from sockit\n");
}

/// `tcp listen --tls --keep-open` serves many TLS clients at once (OpenSSL's s_client,
/// `ncat --ssl` and sockit's own client side by side, each sending its line and closing at
/// once), and `--tls --exec cat` echoes each; a client that never starts its handshake holds
/// nobody up.
#[test]
fn tls_keep_open_and_exec_serve_many() {
    if !have("openssl") || !have("ncat") {
        return;
    }
    let (mut srv, port, _err) =
        listening(crate::util::sockit_cmd(&["tcp", "listen", "0", "--bind", "127.0.0.1", "--tls", "--keep-open"]));
    // A client that connects and says nothing: the handshakes below must not wait for it.
    let _silent = TcpStream::connect(("127.0.0.1", port)).expect("silent client");
    let p = port.to_string();
    let peers: Vec<std::thread::JoinHandle<()>> = (0..9)
        .map(|i| {
            let p = p.clone();
            std::thread::spawn(move || {
                let line = format!("client {i} over TLS\n");
                let cmd = match i % 3 {
                    0 => {
                        let mut c = Command::new("openssl");
                        // -no_ign_eof: s_client ends at the end of its input.
                        c.args(["s_client", "-quiet", "-no_ign_eof", "-connect", &format!("127.0.0.1:{p}")]);
                        c
                    }
                    1 => {
                        let mut c = Command::new("ncat");
                        c.args(["--ssl", "--send-only", "127.0.0.1", &p]);
                        c
                    }
                    // -q: the server owes a half-closed client the rest of its (open) stdin.
                    _ => crate::util::sockit_cmd(&["tcp", "connect", "--insecure", "-q", "0.5", "127.0.0.1", &p]),
                };
                let out = run(cmd, line.as_bytes(), DEADLINE);
                assert_eq!(out.code, 0, "peer {i}: {}", out.stderr);
            })
        })
        .collect();
    for h in peers {
        h.join().expect("peer");
    }
    let mut got = Vec::new();
    let mut lines = PipeLines::new(srv.0.stdout.take().expect("stdout")).lines();
    while got.len() < 9 {
        got.push(lines.next().expect("a line").expect("line"));
    }
    got.sort();
    let want: Vec<String> = (0..9).map(|i| format!("client {i} over TLS")).collect();
    assert_eq!(got, want);

    let (_srv, port, _err) = listening(crate::util::sockit_cmd(&[
        "tcp",
        "listen",
        "0",
        "--bind",
        "127.0.0.1",
        "--tls",
        "--keep-open",
        "--exec",
        "cat",
    ]));
    let echoes: Vec<_> = (0..3)
        .map(|i| {
            let p = port.to_string();
            std::thread::spawn(move || {
                let line = format!("echo {i}\n");
                let out = run(
                    crate::util::sockit_cmd(&["tcp", "connect", "--insecure", "127.0.0.1", &p]),
                    line.as_bytes(),
                    DEADLINE,
                );
                assert_eq!((out.code, out.stdout()), (0, line), "{}", out.stderr);
            })
        })
        .collect();
    for h in echoes {
        h.join().expect("echo client");
    }
}

/// `tcp listen --keep-open` where the system refuses more threads: the clients it cannot
/// serve are closed, the server lives on (it panicked, exit 101) and serves the next client
/// once threads are free again.
#[test]
fn keep_open_survives_a_thread_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(mut cmd) =
        crate::util::as_nobody(dir.path(), "ulimit -u 12; exec sockit tcp listen 0 --bind 127.0.0.1 --keep-open")
    else {
        return;
    };
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let (mut srv, port, _err) = listening(cmd);
    // No input: a client that closes is let go at once, and frees its thread.
    drop(srv.0.stdin.take());
    // 150 clients that stay: most of them find no thread.
    let crowd: Vec<TcpStream> = (0..150).filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok()).collect();
    std::thread::sleep(Duration::from_millis(300));
    assert!(srv.0.try_wait().expect("wait").is_none(), "the server died");
    drop(crowd);
    std::thread::sleep(Duration::from_millis(300));
    let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    c.write_all(b"after the crowd\n").expect("send");
    let mut line = String::new();
    line.push_str(
        &crate::util::line_within(srv.0.stdout.take().expect("stdout"), crate::util::DEADLINE).expect("line"),
    );
    assert_eq!(line, "after the crowd\n");
}

/// `tcp listen --keep-open`: a client that never reads and one that reads 256 KiB every
/// 4.5 s cost the others one stall window (5 s) between them, then are cut off (the never-
/// reader held everyone up 15 s, the slow reader throttled everyone for good); a client that
/// shuts down its side is let go once it is written what it was owed, as ncat does (it was
/// kept for the rest of stdin, and a client that left held its descriptors and threads for
/// good); and when stdout is gone, the server says so and stops instead of dropping what later
/// clients send.
#[test]
fn keep_open_bounds_slow_readers_lets_ended_clients_go_and_stops_without_output() {
    let (mut srv, port, _err) =
        listening(crate::util::sockit_cmd(&["tcp", "listen", "0", "--bind", "127.0.0.1", "--keep-open"]));
    let never = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let slow = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let half = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    half.shutdown(Shutdown::Write).expect("half-close");
    let good = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    std::thread::sleep(Duration::from_millis(200));
    const TOTAL: usize = 64 << 20;
    let count = |mut r: TcpStream| {
        std::thread::spawn(move || {
            r.set_read_timeout(Some(Duration::from_secs(30))).expect("t");
            let (mut got, mut buf) = (0usize, vec![0u8; 1 << 16]);
            while let Ok(n) = r.read(&mut buf) {
                if n == 0 {
                    break;
                }
                got += n;
            }
            got
        })
    };
    let slow_reader = std::thread::spawn(move || {
        let mut r = slow;
        let mut buf = vec![0u8; 256 << 10];
        let mut got = 0;
        for _ in 0..4 {
            match r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
            std::thread::sleep(Duration::from_millis(4500));
        }
        got
    });
    let (good, half) = (count(good), count(half));
    let start = Instant::now();
    let mut stdin = srv.0.stdin.take().expect("stdin");
    let chunk = vec![b'k'; 1 << 20];
    for _ in 0..TOTAL >> 20 {
        stdin.write_all(&chunk).expect("stdin");
    }
    drop(stdin);
    assert_eq!(good.join().expect("good"), TOTAL, "the reading client got all of stdin, then FIN");
    let took = start.elapsed();
    assert!(took < Duration::from_secs(9), "64 MiB past two slow clients took {took:?}");
    assert_eq!(half.join().expect("half"), 0, "the half-closed client owed nothing was let go at once");
    assert!(slow_reader.join().expect("slow") < TOTAL, "the slow reader was cut off");
    never.set_read_timeout(Some(Duration::from_secs(10))).expect("t");
    let mut sink = Vec::new();
    let end = (&never).read_to_end(&mut sink);
    assert!(end.is_ok() || end.as_ref().is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset), "{end:?}");
    assert!(sink.len() < TOTAL, "the never-reader was cut off");

    // stdout closed after 5 bytes: the next client's data finds it gone and the server stops.
    let mut sh = Command::new("bash");
    sh.arg("-c").arg(format!(
        "sleep 30 | {} tcp listen 0 --bind 127.0.0.1 --keep-open | head -c 5 >/dev/null",
        crate::util::sockit_bin()
    ));
    let (mut srv, port, _err) = listening(sh);
    let mut first = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    first.write_all(b"hello world\n").expect("send");
    std::thread::sleep(Duration::from_millis(300));
    let mut second = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let _ = second.write_all(b"lost?\n");
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(10)
        && TcpStream::connect(("127.0.0.1", port)).is_ok_and(|mut c| c.write_all(b"x\n").is_ok())
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "the server still takes clients without a stdout");
    let _ = srv.0.kill();
}

/// TLS handshakes have a deadline on both sides (10 s): a client that connects and says
/// nothing no longer holds `tcp listen --tls` for good, and `tcp connect --tls` to a server
/// that accepts and never answers no longer waits for ever.
#[test]
fn tls_handshakes_have_a_deadline() {
    let (mut srv, port, mut stderr) =
        listening(crate::util::sockit_cmd(&["tcp", "listen", "0", "--bind", "127.0.0.1", "--tls"]));
    let _silent = TcpStream::connect(("127.0.0.1", port)).expect("silent client");
    let mute = TcpListener::bind("127.0.0.1:0").expect("bind");
    let mute_port = mute.local_addr().expect("addr").port().to_string();
    let start = Instant::now();
    let client = std::thread::spawn(move || {
        run(crate::util::sockit_cmd(&["tcp", "connect", "--tls", "--insecure", "127.0.0.1", &mute_port]), b"", DEADLINE)
    });
    let code = crate::util::wait_deadline(&mut srv.0, Duration::from_secs(20), "tcp listen --tls");
    assert_eq!(code, 1, "the listener gave up on the silent client");
    let mut err = String::new();
    stderr.read_to_string(&mut err).expect("stderr");
    assert!(err.contains("no handshake within 10 s"), "{err}");
    let out = client.join().expect("client");
    assert!(out.fails(1).contains("no handshake within 10 s"), "{}", out.stderr);
    let took = start.elapsed();
    assert!(took >= Duration::from_secs(9) && took < Duration::from_secs(15), "{took:?}");
    drop(mute);
}

/// A process known by its pid and its start time, so that another process given the same
/// pid later (a busy machine goes through 32,768 of them quickly) is not taken for it.
struct Known(String, Option<String>);

impl Known {
    fn stat(pid: &str) -> Option<(String, String)> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // After "PID (COMM) ": the state is the first field, the start time the 20th.
        let rest: Vec<&str> = stat.rsplit_once(") ")?.1.split_whitespace().collect();
        Some((rest.first()?.to_string(), rest.get(19)?.to_string()))
    }

    fn new(pid: &str) -> Known {
        Known(pid.to_string(), Known::stat(pid).map(|(_, start)| start))
    }

    fn alive(&self) -> bool {
        Known::stat(&self.0).is_some_and(|(state, start)| state != "Z" && Some(start) == self.1)
    }
}

/// `--exec`: the command learns its peer (SOCKIT_PEER_ADDR, SOCKIT_PEER_PORT); a command still
/// running after its client left is ended and frees its --max-conns slot; and when the server
/// is stopped (SIGTERM) its commands are ended too (they outlived both before).
#[test]
fn exec_children_know_their_peer_and_end_with_their_client_and_the_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().display().to_string();
    let cmd = format!("echo $$ > {d}/pid.$SOCKIT_PEER_PORT; echo $SOCKIT_PEER_ADDR $SOCKIT_PEER_PORT; exec sleep 100");
    let (mut srv, port, _err) = listening(crate::util::sockit_cmd(&[
        "tcp",
        "listen",
        "0",
        "--bind",
        "127.0.0.1",
        "--keep-open",
        "--max-conns",
        "1",
        "--exec",
        &cmd,
    ]));
    let first = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    first.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let me = first.local_addr().expect("addr");
    let mut line = String::new();
    BufReader::new(&first).read_line(&mut line).expect("peer line");
    assert_eq!(line, format!("127.0.0.1 {}\n", me.port()));
    let pid = Known::new(std::fs::read_to_string(format!("{d}/pid.{}", me.port())).expect("pid").trim());
    assert!(pid.alive());
    drop(first);
    let t = Instant::now();
    while pid.alive() && t.elapsed() < Duration::from_secs(12) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!pid.alive(), "the command outlived its client by {:?}", t.elapsed());
    // Its slot is free again: the next client is served.
    std::thread::sleep(Duration::from_millis(200));
    let second = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    second.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut line = String::new();
    BufReader::new(&second).read_line(&mut line).expect("served");
    let pid2 = Known::new(
        std::fs::read_to_string(format!("{d}/pid.{}", second.local_addr().expect("a").port())).expect("pid").trim(),
    );
    assert!(pid2.alive());
    // SIGTERM: the server ends the command, then itself.
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(i32::try_from(srv.0.id()).expect("pid")).expect("pid"),
        rustix::process::Signal::TERM,
    )
    .expect("kill");
    assert_eq!(crate::util::wait_deadline(&mut srv.0, Duration::from_secs(10), "tcp listen"), 0);
    // (Its end may lag the server's by a scheduling delay on a loaded machine: polled.)
    let t = Instant::now();
    while pid2.alive() && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!pid2.alive(), "the command outlived the server");
}

/// The self-signed flow: the client pins the fingerprint the server printed and connects; a
/// wrong pin fails with the fingerprint the server showed, in one line; the certificate names
/// the loopback addresses and localhost, not 0.0.0.0 (openssl reads it).
#[test]
fn tls_pinned_by_the_printed_fingerprint() {
    let (mut srv, port, mut err) =
        listening(crate::util::sockit_cmd(&["tcp", "listen", "0", "--bind", "127.0.0.1", "--tls", "--keep-open"]));
    let mut fp = String::new();
    err.read_line(&mut fp).expect("fingerprint line");
    let fp = fp.trim().strip_prefix("sockit: TLS certificate SHA-256 fingerprint ").expect("fingerprint").to_string();
    let p = port.to_string();
    let out = run(
        crate::util::sockit_cmd(&["tcp", "connect", "--fingerprint", &fp, "127.0.0.1", &p, "-q", "0.5"]),
        b"pinned\n",
        DEADLINE,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut line = String::new();
    line.push_str(
        &crate::util::line_within(srv.0.stdout.take().expect("stdout"), crate::util::DEADLINE).expect("line"),
    );
    assert_eq!(line, "pinned\n");
    let wrong = "00".repeat(32);
    let line =
        run(crate::util::sockit_cmd(&["tcp", "connect", "--fingerprint", &wrong, "127.0.0.1", &p]), b"", DEADLINE)
            .fails(1);
    assert!(
        line.ends_with(&format!(
            "the server's certificate has SHA-256 fingerprint {fp}, not the one pinned: check --fingerprint against the one the server printed"
        )),
        "{line}"
    );
    if have("openssl") {
        let text = crate::util::sh(&format!(
            "echo | openssl s_client -connect 127.0.0.1:{p} 2>/dev/null | openssl x509 -noout -ext subjectAltName"
        ));
        for name in ["DNS:localhost", "IP Address:127.0.0.1", "IP Address:0:0:0:0:0:0:0:1"] {
            assert!(text.contains(name), "{name} missing: {text}");
        }
        assert!(!text.contains("IP Address:0.0.0.0"), "{text}");
    }
}

/// A half-closed client is kept for the rest of stdin, but one whose connection then dies
/// (a reset) is let go at once and frees its --max-conns slot, while stdin stays open.
#[test]
fn keep_open_lets_a_dead_half_closed_client_go() {
    let (mut srv, port, _err) = listening(crate::util::sockit_cmd(&[
        "tcp",
        "listen",
        "0",
        "--bind",
        "127.0.0.1",
        "--keep-open",
        "--max-conns",
        "1",
    ]));
    let _stdin = srv.0.stdin.take().expect("stdin"); // open, and silent
    let first = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    first.connect(&std::net::SocketAddr::from(([127, 0, 0, 1], port)).into()).expect("connect");
    first.send(b"first\n").expect("send");
    first.shutdown(Shutdown::Write).expect("half-close");
    let mut out = PipeLines::new(srv.0.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line).expect("line");
    assert_eq!(line, "first\n");
    // Close with a reset.
    first.set_linger(Some(Duration::ZERO)).expect("linger");
    drop(first);
    let t = Instant::now();
    let second = loop {
        let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        c.write_all(b"second\n").expect("send");
        std::thread::sleep(Duration::from_millis(300));
        c.set_read_timeout(Some(Duration::from_millis(100))).expect("t");
        // A client past --max-conns is closed at once; one taken stays open.
        match c.read(&mut [0u8; 1]) {
            // Closed, or reset for the line it had not read.
            Ok(0) => assert!(t.elapsed() < Duration::from_secs(5), "the dead client still holds the slot"),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                assert!(t.elapsed() < Duration::from_secs(5), "the dead client still holds the slot");
            }
            _ => break c,
        }
    };
    line.clear();
    out.read_line(&mut line).expect("line");
    assert_eq!(line, "second\n");
    second.shutdown(Shutdown::Both).expect("close");
}

/// `--stats`: at the end, one line of the kernel's TCP_INFO for the connection, its byte
/// counts those of the transfer (a Python peer sends 100,000 bytes and reads 5,000), as `ss
/// -ti` names them; with many clients it is a usage error.
#[test]
fn stats_tell_the_kernels_view_of_the_connection_at_its_end() {
    if !have("python3") {
        return;
    }
    let code = "import socket, sys\ns = socket.create_server(('127.0.0.1', 0)); print(s.getsockname()[1], flush=True)\n\
                c, _ = s.accept(); c.sendall(b'x' * 100000); got = 0\nwhile True:\n    b = c.recv(65536)\n    \
                if not b: break\n    got += len(b)\nprint(got, flush=True); c.close()\n";
    let mut peer = Proc(Command::new("python3").args(["-c", code]).stdout(Stdio::piped()).spawn().expect("python3"));
    let mut lines = PipeLines::new(peer.0.stdout.take().expect("stdout")).lines();
    let port = lines.next().expect("port line").expect("port");
    let out = run(crate::util::sockit_cmd(&["tcp", "connect", "127.0.0.1", &port, "--stats"]), &[7u8; 5000], DEADLINE);
    assert_eq!((out.code, out.stdout.len()), (0, 100_000), "{}", out.stderr);
    assert_eq!(lines.next().expect("count").expect("count"), "5000");
    let line =
        out.stderr.lines().find(|l| l.starts_with("sockit: tcp_info: ")).unwrap_or_else(|| panic!("{}", out.stderr));
    let field = |name: &str| -> Option<u64> {
        line.split(' ').find_map(|w| w.strip_prefix(&format!("{name}:"))).and_then(|v| v.parse().ok())
    };
    // As the kernel counts: bytes_sent is data only; bytes_acked and bytes_received are
    // sequence space, where a SYN (acked) and a FIN are a byte each.
    assert_eq!(field("bytes_sent"), Some(5000), "{line}");
    assert_eq!(field("bytes_acked"), Some(5002), "{line}");
    assert_eq!(field("bytes_received"), Some(100_001), "{line}");
    assert!(field("segs_in").is_some_and(|n| n > 0) && line.contains(" rtt:") && line.contains(" cwnd:"), "{line}");
    let state = line.trim_start_matches("sockit: tcp_info: ").split(' ').next().unwrap_or_default();
    assert!(["CLOSED", "CLOSE-WAIT", "LAST-ACK", "FIN-WAIT-2", "TIME-WAIT"].contains(&state), "{line}");
    assert_eq!(
        sockit(&["tcp", "listen", "0", "--keep-open", "--stats"]).fails(2),
        "sockit: --stats tells of one connection: leave out --keep-open and --exec (--metrics counts many)"
    );
}
