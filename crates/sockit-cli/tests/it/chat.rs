//! `sockit chat` and `sockit demo`: real line clients talking through the server, hostile
//! clients that must not hurt anyone else, discovery on loopback and across a LAN of
//! namespaces, clean shutdown, and the demo's transcript.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{DEADLINE, Lan, PipeLines, Proc, have, run, sh, sockit, sockit_bin, sockit_cmd};

/// A chat server of the test's own, with the ports it reports.
pub(crate) struct Server {
    pub(crate) proc: Proc,
    pub(crate) port: u16,
    pub(crate) discovery: Option<u16>,
    /// The rest of its stderr, after the line with the ports.
    pub(crate) stderr: PipeLines,
}

impl Server {
    pub(crate) fn start(extra: &[&str]) -> Server {
        Server::start_cmd(sockit_cmd(
            &[&["chat", "serve", "--port", "0", "--bind", "127.0.0.1", "--discovery-port", "0"], extra].concat(),
        ))
    }

    pub(crate) fn start_cmd(mut cmd: Command) -> Server {
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("chat serve");
        let mut err = PipeLines::new(child.stderr.take().expect("stderr"));
        let mut line = String::new();
        err.read_line(&mut line).expect("first line");
        // "sockit: chat room R on A:P (tcp), discovery on A:D (udp)"
        let port_of = |tag: &str| -> Option<u16> {
            let at = line.find(tag)?;
            line[..at].trim_end().rsplit(':').next()?.parse().ok()
        };
        let port = port_of(" (tcp").unwrap_or_else(|| panic!("no port in {line:?}"));
        let discovery = port_of(" (udp)");
        Server { proc: Proc(child), port, discovery, stderr: err }
    }

    pub(crate) fn connect(&self) -> Client {
        Client::new(TcpStream::connect(("127.0.0.1", self.port)).expect("connect"))
    }

    pub(crate) fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.proc.0.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    pub(crate) fn alive(&mut self) -> bool {
        self.proc.0.try_wait().ok().flatten().is_none()
    }
}

/// A raw line client.
pub(crate) struct Client {
    pub(crate) w: TcpStream,
    pub(crate) r: BufReader<TcpStream>,
}

impl Client {
    pub(crate) fn new(s: TcpStream) -> Client {
        s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        Client { r: BufReader::new(s.try_clone().expect("clone")), w: s }
    }

    pub(crate) fn send(&mut self, line: &str) {
        self.w.write_all(format!("{line}\n").as_bytes()).expect("send");
    }

    pub(crate) fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).expect("read line");
        l.trim_end_matches('\n').to_string()
    }

    /// Read lines until one satisfies `f`; return it.
    pub(crate) fn until(&mut self, mut f: impl FnMut(&str) -> bool) -> String {
        loop {
            let l = self.line();
            assert!(!l.is_empty() || f(&l), "connection closed while waiting");
            if f(&l) {
                return l;
            }
        }
    }

    /// Join: take a nick (speaking first, as a line client joins at once), read the welcome,
    /// wait for the rename to come back.
    pub(crate) fn join(server: &Server, nick: &str) -> Client {
        let mut c = server.connect();
        c.send(&format!("/nick {nick}"));
        let welcome = c.line();
        assert!(welcome.starts_with("* welcome to "), "{welcome}");
        c.until(|l| l.ends_with(&format!("is now known as {nick}")));
        c
    }
}

#[test]
fn real_clients_talk_through_the_server() {
    for p in ["nc.openbsd", "socat", "python3"] {
        if !have(p) {
            return;
        }
    }
    let s = Server::start(&["--name", "lobby"]);
    let mut alice = Client::join(&s, "alice");
    let mut bob = Client::join(&s, "bob");
    alice.until(|l| l == "* bob joined" || l.ends_with("is now known as bob"));
    // Two lines in one write, and one line split over two writes: each arrives whole, once.
    alice.w.write_all(b"first line\nsecond line\nthird ").expect("w");
    std::thread::sleep(Duration::from_millis(50));
    alice.w.write_all(b"line, split\r\n").expect("w");
    assert_eq!(bob.until(|l| l.starts_with('<')), "<alice> first line");
    assert_eq!(bob.line(), "<alice> second line");
    assert_eq!(bob.line(), "<alice> third line, split");
    // The sender does not get its own lines back; it sees bob's answer next.
    bob.send("hi alice");
    assert_eq!(alice.until(|l| l.starts_with('<')), "<bob> hi alice");
    // Real peers join and speak.
    let p = s.port.to_string();
    sh(&format!("printf 'from nc\\n' | timeout 5 nc.openbsd -N -q 1 127.0.0.1 {p} >/dev/null"));
    assert_eq!(alice.until(|l| l.starts_with('<')), format!("<guest-3> from nc"));
    sh(&format!("printf 'from socat\\n' | timeout 5 socat -t 1 - TCP:127.0.0.1:{p} >/dev/null"));
    assert_eq!(alice.until(|l| l.starts_with('<')), "<guest-4> from socat");
    let py = "import socket,sys\ns=socket.create_connection(('127.0.0.1',int(sys.argv[1])))\n\
              s.sendall(b'/nick py\\nfrom python\\n/quit\\n')\nwhile s.recv(4096): pass\n";
    assert!(Command::new("python3").args(["-c", py, &p]).status().expect("py").success());
    assert_eq!(alice.until(|l| l.starts_with('<')), "<py> from python");
    // sockit's own client, in a pipe: joins, says a line, leaves cleanly at EOF.
    let out = run(sockit_cmd(&["chat", "join", &format!("127.0.0.1:{p}"), "--nick", "sk"]), b"from sockit\n", DEADLINE);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout().contains("* bye"), "{}", out.stdout());
    assert_eq!(alice.until(|l| l.starts_with('<')), "<sk> from sockit");
    alice.until(|l| l == "* sk left");
    // Commands.
    bob.send("/me waves");
    assert_eq!(alice.until(|l| l.contains("waves")), "** bob waves");
    bob.send("/me");
    assert_eq!(bob.until(|l| l.contains("needs some text")), "* /me needs some text: nothing sent");
    bob.send("/msg alice psst");
    assert_eq!(alice.until(|l| l.contains("psst")), "*bob* psst");
    assert_eq!(bob.until(|l| l.contains("sent to")), "* sent to alice only");
    bob.send("/msg alice");
    assert_eq!(bob.until(|l| l.contains("needs some text")), "* /msg needs some text: nothing sent");
    bob.send("/msg nobody hello");
    assert_eq!(bob.until(|l| l.contains("nobody")), "* no one called nobody is here (/who lists everyone)");
    bob.send("/nick alice");
    assert_eq!(bob.until(|l| l.contains("taken")), "* the nick alice is taken: choose another");
    bob.send("/nick 9lives");
    assert!(bob.until(|l| l.contains("a nick is")).starts_with("* a nick is 1 to 24 characters"));
    bob.send("/who");
    assert_eq!(bob.until(|l| l.starts_with("* online")), "* online (2): alice, bob");
    bob.send("/frobnicate");
    assert_eq!(bob.until(|l| l.contains("unknown")), "* unknown command /frobnicate: try /help");
    // A member cannot forge a server notice: nick "the" and /me reads as a member's action.
    let mut the = Client::join(&s, "the");
    the.send("/me server is shutting down: goodbye");
    assert_eq!(alice.until(|l| l.contains("goodbye")), "** the server is shutting down: goodbye");
    // /quit with a reason: the member hears it, the others see it.
    the.send("/quit off to lunch");
    assert_eq!(the.until(|l| l.starts_with("* bye")), "* bye (off to lunch)");
    assert_eq!(alice.until(|l| l.starts_with("* the left")), "* the left (quit: off to lunch)");
}

#[test]
fn hostile_bytes_and_long_lines() {
    let s = Server::start(&["--max-line", "4096"]);
    let mut alice = Client::join(&s, "alice");
    let mut mallory = Client::join(&s, "mallory");
    // 10 MB without a newline: refused with a notice; the connection survives.
    let chunk = vec![b'A'; 1 << 20];
    for _ in 0..10 {
        mallory.w.write_all(&chunk).expect("flood");
    }
    mallory.w.write_all(b"\nstill here\n").expect("w");
    assert_eq!(mallory.until(|l| l.contains("too long")), "* line too long (over 4096 bytes): not sent");
    assert_eq!(alice.until(|l| l.starts_with('<')), "<mallory> still here");
    // Invalid UTF-8 and terminal escapes reach others replaced and escaped.
    mallory.w.write_all(b"bad \xff\xfe utf8 \x1b[2J\x07 end\n").expect("w");
    assert_eq!(alice.until(|l| l.starts_with('<')), "<mallory> bad \u{fffd}\u{fffd} utf8 \\u{1b}[2J\\u{7} end");
}

#[test]
fn a_client_that_never_reads_stalls_nobody() {
    let s = Server::start(&[]);
    // The stalled client joins first and then never reads.
    let stalled = Client::join(&s, "stalled").w;
    let mut readers: Vec<Client> = (0..100).map(|i| Client::join(&s, &format!("r{i}"))).collect();
    let mut sender = Client::join(&s, "sender");
    const LINES: usize = 10_000;
    let start = Instant::now();
    let counters: Vec<_> = readers
        .drain(..)
        .map(|mut c| {
            std::thread::spawn(move || {
                let mut got = 0;
                while got < LINES {
                    let l = c.line();
                    if l.starts_with("<sender> line ") {
                        got += 1;
                    }
                }
                got
            })
        })
        .collect();
    let payload = "x".repeat(40);
    let mut batch = String::new();
    for i in 0..LINES {
        batch.push_str(&format!("line {i} {payload}\n"));
    }
    sender.w.write_all(batch.as_bytes()).expect("send");
    for c in counters {
        assert_eq!(c.join().expect("reader"), LINES);
    }
    let took = start.elapsed();
    assert!(took < Duration::from_secs(60), "took {took:?}");
    drop(stalled);
}

/// A client that never reads, with a tiny receive buffer, and 10 MB said in the room: it is
/// disconnected with a reason, and the sender is not held up.
#[test]
fn a_client_that_never_reads_is_disconnected() {
    let s = Server::start(&[]);
    let stalled = small_window(&s);
    stalled.try_clone().expect("c").write_all(b"/nick stalled\n").expect("nick");
    let mut watcher = Client::join(&s, "watcher");
    let mut sender = Client::join(&s, "sender");
    let line = format!("{}\n", "y".repeat(199));
    let ten_mb: String = line.repeat(50_000);
    let start = Instant::now();
    // Sent from another thread: the watcher keeps reading meanwhile, as a real client does.
    let mut w = sender.w.try_clone().expect("clone");
    let writer = std::thread::spawn(move || w.write_all(ten_mb.as_bytes()).expect("send"));
    let left = watcher.until(|l| l.starts_with("* stalled left"));
    writer.join().expect("writer");
    assert_eq!(left, "* stalled left (disconnected: not reading: its outgoing queue stayed full for 2 s)");
    assert!(start.elapsed() < Duration::from_secs(30));
    sender.send("/who");
    let who = sender.until(|l| l.starts_with("* online"));
    assert!(!who.contains("stalled"), "{who}");
}

/// How many members a join notice announces: `* a joined`, `* a and b joined`,
/// `* a, b, c, d, e and 95 others joined`.
fn announced(notice: &str) -> usize {
    let list = notice.strip_prefix("* ").and_then(|l| l.strip_suffix(" joined")).expect("a join notice");
    match list.rsplit_once(" and ") {
        None => 1,
        Some((shown, rest)) => {
            let shown = shown.split(", ").count();
            match rest.strip_suffix(" others") {
                Some(n) => shown + n.parse::<usize>().expect("a count"),
                None => shown + 1,
            }
        }
    }
}

#[test]
fn a_crowd_joining_is_announced_in_a_few_notices_before_it_speaks() {
    let s = Server::start(&[]);
    let mut watcher = Client::join(&s, "watcher");
    // 200 clients join at once; when all are in (each has its welcome), the last one speaks.
    let mut crowd: Vec<TcpStream> =
        (0..200).map(|_| TcpStream::connect(("127.0.0.1", s.port)).expect("join")).collect();
    for c in &crowd {
        c.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        let mut welcome = String::new();
        BufReader::new(c).read_line(&mut welcome).expect("welcome");
        assert!(welcome.starts_with("* welcome to "), "{welcome}");
    }
    crowd.last_mut().expect("last").write_all(b"hello from the crowd\n").expect("say");
    let (mut notices, mut joined) = (0, 0);
    loop {
        let l = watcher.line();
        if l.starts_with('<') {
            assert!(l.ends_with("> hello from the crowd"), "{l}");
            break;
        }
        assert!(l.ends_with(" joined"), "only join notices come before the crowd speaks: {l}");
        notices += 1;
        joined += announced(&l);
    }
    assert_eq!(joined, 200, "every member of the crowd is announced once, before it speaks");
    assert!(notices <= 20, "200 joins in a burst took {notices} notices");
}

#[test]
fn resets_crowds_and_floods() {
    if !have("python3") {
        return;
    }
    let mut s = Server::start(&["--rate", "20"]);
    // 5,000 clients that connect and reset at once.
    for _ in 0..5000 {
        let c = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
        let _ = c.set_linger(Some(Duration::ZERO));
        let _ = c.connect(&std::net::SocketAddr::from(([127, 0, 0, 1], s.port)).into());
        drop(c);
    }
    assert!(s.alive(), "the server survived 5,000 resets");
    // 2,000 clients at once (past descriptor 1024 on the server), held by Python, all of
    // whom must get a line said by another client.
    let (mut crowd, mut out) = crowd(s.port, 2000, "<speaker> to the crowd");
    let mut l = String::new();
    out.read_line(&mut l).expect("connected");
    assert_eq!(l.trim(), "connected");
    let mut speaker = Client::join(&s, "speaker");
    speaker.send("to the crowd");
    crowd.0.stdin.take().expect("stdin").write_all(b"go\n").expect("go");
    l.clear();
    out.read_line(&mut l).expect("count");
    assert_eq!(l.split_whitespace().next(), Some("2000"), "every one of 2,000 clients got the line: {l}");
    drop(crowd);
    // A flooder under --rate 20: the others see about 20 lines a second, not 1,000.
    let watcher = Client::join(&s, "watcher");
    let mut flooder = Client::join(&s, "flooder");
    let flood: String = (0..1000).map(|i| format!("flood {i}\n")).collect();
    flooder.w.write_all(flood.as_bytes()).expect("flood");
    assert!(flooder.until(|l| l.contains("slow down")).starts_with("* slow down: at most 20 lines a second"));
    let start = Instant::now();
    let mut seen = 0;
    watcher.w.set_read_timeout(Some(Duration::from_millis(300))).expect("t");
    let mut r = BufReader::new(watcher.w.try_clone().expect("clone"));
    while start.elapsed() < Duration::from_secs(1) {
        let mut l = String::new();
        match r.read_line(&mut l) {
            Ok(0) => break,
            Ok(_) if l.starts_with("<flooder> flood") => seen += 1,
            _ => {}
        }
    }
    assert!(seen <= 45, "a flooder limited to 20 lines a second got {seen} lines through");
    assert!(s.alive());
    let rss = s.rss_kib();
    assert!(rss < 512 * 1024, "server memory {rss} KiB after the hostile tests");
}

/// SIGTERM and SIGINT (Ctrl-C) both say goodbye to every client; SIGTERM exits 0 and SIGINT
/// 130, as the design says (SIGINT exited 0).
#[test]
fn signals_say_goodbye_and_exit_0_or_130() {
    // A signal as soon as the server says it started is taken as one (the handlers are in
    // place before it says so), not by the signal's default action.
    for (sig, code) in [("TERM", 0), ("INT", 130)] {
        let mut s = Server::start(&[]);
        rustix_kill(s.proc.0.id(), sig);
        assert_eq!(crate::util::wait_deadline(&mut s.proc.0, DEADLINE, "chat serve"), code, "SIG{sig} at once");
    }
    for (sig, code) in [("TERM", 0), ("INT", 130)] {
        let mut s = Server::start(&[]);
        let mut c = Client::join(&s, "c");
        rustix_kill(s.proc.0.id(), sig);
        assert_eq!(c.until(|l| l.contains("shutting down")), "* the server is shutting down: goodbye");
        assert_eq!(crate::util::wait_deadline(&mut s.proc.0, DEADLINE, "chat serve"), code, "SIG{sig}");
        let mut console = String::new();
        console.push_str(
            &crate::util::all_within(s.proc.0.stdout.take().expect("stdout"), crate::util::DEADLINE).expect("console"),
        );
        assert!(console.contains("* guest-1 joined from 127.0.0.1:"), "{console}");
        assert!(console.contains("* guest-1 is now known as c\n"), "{console}");
        assert!(console.contains("* shutting down, telling 1 clients"), "{console}");
    }
}

/// SIGTERM under load (200 readers, one member saying a thousand lines a second): every reader's stream ends on a
/// line boundary, then the goodbye, always (40-53 readers got a torn last line and 1-2 no
/// goodbye: the writers were cut mid-write and a full queue had no room for it).
#[test]
fn a_signal_under_load_ends_every_stream_on_a_line_then_the_goodbye() {
    let mut s = Server::start(&[]);
    let readers: Vec<std::thread::JoinHandle<Vec<u8>>> = (0..200)
        .map(|_| {
            let mut c = TcpStream::connect(("127.0.0.1", s.port)).expect("connect");
            c.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
            std::thread::spawn(move || {
                let mut all = Vec::new();
                let _ = c.read_to_end(&mut all);
                all
            })
        })
        .collect();
    let mut flooder = TcpStream::connect(("127.0.0.1", s.port)).expect("connect");
    // As fast as 200 readers on this machine can follow (none is cut for falling behind), so
    // lines are in flight everywhere when the signal comes.
    let flood = std::thread::spawn(move || {
        let line = format!("{}\n", "flood ".repeat(20));
        let chunk = line.repeat(20);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) && flooder.write_all(chunk.as_bytes()).is_ok() {
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    std::thread::sleep(Duration::from_millis(1500));
    rustix_kill(s.proc.0.id(), "TERM");
    assert_eq!(crate::util::wait_deadline(&mut s.proc.0, DEADLINE, "chat serve"), 0);
    let (mut torn, mut no_goodbye) = (0, 0);
    for r in readers {
        let all = r.join().expect("reader");
        torn += usize::from(!all.ends_with(b"\n"));
        let last = all.strip_suffix(b"\n").unwrap_or(&all).rsplit(|&b| b == b'\n').next().unwrap_or_default();
        no_goodbye += usize::from(last != b"* the server is shutting down: goodbye");
    }
    let _ = flood.join();
    assert_eq!((torn, no_goodbye), (0, 0), "readers with a torn last line, and without the goodbye last");
}

pub(crate) fn rustix_kill(pid: u32, sig: &str) {
    assert!(Command::new("kill").args([&format!("-{sig}"), &pid.to_string()]).status().expect("kill").success());
}

#[test]
fn discovery_on_loopback_and_join_without_a_host() {
    let s = Server::start(&["--name", "loopback-room"]);
    let d = s.discovery.expect("discovery port").to_string();
    let v = sockit(&[
        "chat",
        "discover",
        "--json",
        "--broadcast",
        "127.255.255.255",
        "--discovery-port",
        &d,
        "--timeout",
        "0.5",
    ])
    .json();
    let servers = v["servers"].as_array().expect("servers");
    assert_eq!(servers.len(), 1);
    assert_eq!(servers[0]["room"], "loopback-room");
    assert_eq!(servers[0]["address"], format!("127.0.0.1:{}", s.port));
    let out = run(
        sockit_cmd(&["chat", "join", "--broadcast", "127.255.255.255", "--discovery-port", &d, "--timeout", "0.5"]),
        b"",
        DEADLINE,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout().starts_with("* welcome to loopback-room"), "{}", out.stdout());
    // Nothing there: exit 1 with one line.
    let line =
        sockit(&["chat", "discover", "--broadcast", "127.255.255.255", "--discovery-port", "9", "--timeout", "0.2"])
            .fails(1);
    assert!(line.starts_with("sockit: no chat server answered"), "{line}");
    // A spoofed tiny probe gets no reply larger than itself.
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_millis(300))).expect("t");
    let mut probe = sockit_core::discovery::PROBE_MAGIC.to_vec();
    probe.resize(40, b' ');
    sock.send_to(&probe, ("127.0.0.1", s.discovery.expect("d"))).expect("send");
    let mut buf = [0u8; 2048];
    if let Ok(n) = sock.recv(&mut buf) {
        assert!(n <= probe.len(), "reply of {n} bytes to a probe of {}", probe.len());
    }
}

/// A room's name with an escape sequence in it is shown escaped in the start line: the
/// operator's terminal is not cleared by it (it was printed raw).
#[test]
fn a_room_name_cannot_drive_the_console() {
    let started = std::process::Command::new(sockit_bin())
        .args(["chat", "serve", "--port", "0", "--bind", "127.0.0.1", "--no-discovery", "--name", "\u{1b}[2Jx"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut proc = Proc(started);
    let mut line = String::new();
    line.push_str(
        &crate::util::line_within(proc.0.stderr.take().expect("stderr"), crate::util::DEADLINE).expect("line"),
    );
    assert!(!line.contains('\u{1b}'), "{line:?}");
    assert!(line.starts_with("sockit: chat room \\x1b[2Jx on 127.0.0.1:"), "{line:?}");
}

/// `chat join NAME` tries every address of the name, as `tcp connect` does: a name whose first
/// address (::1) has no server joins the room at its second (127.0.0.1).
#[test]
fn join_tries_every_address_of_a_name() {
    let Some(ns) = crate::util::Netns::new("twohomes") else { return };
    ns.set_etc("hosts", "::1 twohomes\n127.0.0.1 twohomes\n");
    assert!(ns.exec_ok("getent ahosts twohomes").starts_with("::1 "), "::1 comes first");
    let serve = ["chat", "serve", "--port", "0", "--bind", "127.0.0.1", "--no-discovery", "--name", "two"];
    let s = Server::start_cmd(ns.cmd(sockit_bin(), &serve));
    let out = run(ns.cmd(sockit_bin(), &["chat", "join", &format!("twohomes:{}", s.port)]), b"", DEADLINE);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout().starts_with("* welcome to two, you are guest-"), "{}", out.stdout());
}

/// A server on one host of a three-host LAN; the others discover it by broadcasting to
/// 255.255.255.255 inside the namespaces, and join.
#[test]
fn join_with_several_servers_asks_on_a_terminal_and_names_them_in_a_pipe() {
    let (a, b) = (Server::start(&["--name", "lobby"]), Server::start(&["--name", "lab"]));
    let probes = [a.discovery.expect("a"), b.discovery.expect("b")].map(|p| format!("127.255.255.255:{p}"));
    let join = ["chat", "join", "--broadcast", &probes[0], "--broadcast", &probes[1], "--timeout", "0.5"];
    // In a pipe, stdin is the conversation: a clear line naming both, exit 2.
    let line = sockit(&join).fails(2);
    assert!(
        line.starts_with("sockit: several chat servers answered: ")
            && line.contains("lobby (127.0.0.1:")
            && line.contains("lab (127.0.0.1:")
            && line.ends_with("pass --room NAME or HOST[:PORT]"),
        "{line}"
    );
    // --room picks one.
    let out = run(sockit_cmd(&[&join[..], &["--room", "lab"]].concat()), b"", DEADLINE);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout().starts_with("* welcome to lab,"), "{}", out.stdout());
    // On a terminal it asks; a wrong answer, then the room's number.
    if !have("script") {
        return;
    }
    let cmd = format!("{} {}", sockit_bin(), join.join(" "));
    // The list is in address order: lab (b) is first when its port is the lower.
    let lab = if b.port < a.port { "1" } else { "2" };
    let out = run(
        {
            let mut c = Command::new("script");
            c.args(["-q", "-e", "-c", &cmd, "/dev/null"]);
            c
        },
        // The end of input (Ctrl-D on the terminal) leaves the room.
        format!("7\n{lab}\n").as_bytes(),
        DEADLINE,
    );
    let shown = out.stdout();
    assert!(shown.contains("several chat servers answered:"), "{shown}");
    assert!(shown.contains("no server is called \"7\""), "{shown}");
    assert!(shown.contains("* welcome to lab,"), "{shown}");
    assert!(shown.contains("* bye"), "{shown}");
    assert_eq!(out.code, 0, "{shown}");
}

/// Lines of a child's stdout, read by a thread, so that waiting for one can time out.
/// A crowd of `n` line clients on the room at `port` that read all the time (py/crowd.py): the
/// process and its stdout ("connected", then for each line sent it, how many got `word` and how
/// many connections the server closed).
pub(crate) fn crowd(port: u16, n: usize, word: &str) -> (Proc, PipeLines) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/py/crowd.py");
    let mut crowd = Proc(
        Command::new("python3")
            .args([script, &port.to_string(), &n.to_string(), word])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("crowd"),
    );
    let out = PipeLines::new(crowd.0.stdout.take().expect("stdout"));
    (crowd, out)
}

pub(crate) fn lines_of(out: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    rx
}

/// Start `cmd` with stdin and stdout piped: the process, its stdin, and its stdout's lines.
pub(crate) fn piped(mut cmd: Command) -> (Proc, std::process::ChildStdin, std::sync::mpsc::Receiver<String>) {
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("spawn");
    let (stdin, lines) = (child.stdin.take().expect("stdin"), lines_of(child.stdout.take().expect("stdout")));
    (Proc(child), stdin, lines)
}

pub(crate) fn next_until(rx: &std::sync::mpsc::Receiver<String>, f: impl Fn(&str) -> bool) -> String {
    loop {
        let l = rx.recv_timeout(Duration::from_secs(10)).expect("a line within 10 s");
        if f(&l) {
            return l;
        }
    }
}

#[test]
fn chat_over_tls_with_python_ncat_and_sockit() {
    if !have("python3") {
        return;
    }
    let mut s = Server::start(&["--tls", "--name", "secure"]);
    let mut fp = String::new();
    s.stderr.read_line(&mut fp).expect("fingerprint line");
    let fp = fp.trim().strip_prefix("sockit: TLS certificate SHA-256 fingerprint ").expect("fingerprint").to_string();
    // Discovery says the room speaks TLS.
    let d = s.discovery.expect("discovery").to_string();
    let v = sockit(&["chat", "discover", "--json", "--broadcast", "127.255.255.255", "--discovery-port", &d]).json();
    assert_eq!(v["servers"][0]["tls"], true, "{v}");
    let text = sockit(&["chat", "discover", "--broadcast", "127.255.255.255", "--discovery-port", &d]).ok();
    assert!(text.trim_end().ends_with("  TLS (join with --tls)"), "{text}");
    // Python's ssl module: the certificate it sees is the one whose fingerprint was printed.
    let py = r#"
import socket, ssl, sys, hashlib
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))), server_hostname="localhost")
print(":".join(f"{b:02X}" for b in hashlib.sha256(s.getpeercert(binary_form=True)).digest()), flush=True)
f = s.makefile("rb")
print(f.readline().decode().strip(), flush=True)
s.sendall(b"/nick py\n")
while b"is now known as py" not in f.readline(): pass
print("ready", flush=True)
sys.stdin.readline()
s.sendall(b"hello over tls\n")
for l in f:
    if l.startswith(b"<bob>"):
        print(l.decode().strip(), flush=True); break
s.sendall(b"/quit\n")
"#;
    let mut py_cmd = Command::new("python3");
    py_cmd.args(["-c", py, &s.port.to_string()]);
    let (_py, mut py_in, py_out) = piped(py_cmd);
    assert_eq!(next_until(&py_out, |_| true), fp, "Python sees the certificate sockit printed");
    assert!(next_until(&py_out, |_| true).starts_with("* welcome to secure, you are guest-"));
    next_until(&py_out, |l| l == "ready");
    // sockit's own client, over TLS.
    let (mut bob, mut bob_in, bob_out) =
        piped(sockit_cmd(&["chat", "join", "--tls", "--insecure", &format!("127.0.0.1:{}", s.port), "--nick", "bob"]));
    next_until(&bob_out, |l| l.ends_with("is now known as bob"));
    py_in.write_all(b"go\n").expect("go");
    assert_eq!(next_until(&bob_out, |l| l.starts_with('<')), "<py> hello over tls");
    bob_in.write_all(b"hi py\n").expect("say");
    assert_eq!(next_until(&py_out, |_| true), "<bob> hi py");
    // ncat --ssl joins too, says a line and leaves at the end of its input.
    if have("ncat") {
        let out = run(
            {
                let mut c = Command::new("ncat");
                c.args(["--ssl", "127.0.0.1", &s.port.to_string()]);
                c
            },
            b"/nick nc\nfrom ncat\n/quit\n",
            DEADLINE,
        );
        assert!(out.stdout().contains("* bye"), "{}", out.stdout());
        assert_eq!(next_until(&bob_out, |l| l.starts_with('<')), "<nc> from ncat");
    }
    // Plain text to the TLS port is refused; the room carries on.
    let mut plain = TcpStream::connect(("127.0.0.1", s.port)).expect("connect");
    plain.write_all(b"hello in clear\n").expect("write");
    plain.set_read_timeout(Some(Duration::from_secs(10))).expect("t");
    let mut got = Vec::new();
    let _ = plain.read_to_end(&mut got);
    assert!(!String::from_utf8_lossy(&got).contains("welcome"), "a plain client got in: {got:?}");
    // sockit's own client, joining without --tls, says what to do instead of printing the
    // TLS alert's bytes and exiting 0.
    let out =
        run(sockit_cmd(&["chat", "join", &format!("127.0.0.1:{}", s.port), "--nick", "plain"]), b"hi\n", DEADLINE);
    let line = out.fails(1);
    assert!(line.ends_with("answered with TLS: this room speaks TLS: add --tls"), "{line}");
    assert!(out.stdout.is_empty(), "{:?}", out.stdout);
    // bob leaves at the end of its input, cleanly.
    drop(bob_in);
    assert_eq!(crate::util::wait_deadline(&mut bob.0, DEADLINE, "chat join --tls"), 0);
    assert!(s.alive());
    // The console told of the refused handshake.
    rustix_kill(s.proc.0.id(), "TERM");
    let mut console = String::new();
    console.push_str(
        &crate::util::all_within(s.proc.0.stdout.take().expect("console"), crate::util::DEADLINE).expect("console"),
    );
    assert!(
        console.lines().any(|l| l.starts_with("* refused 127.0.0.1:") && l.contains("TLS handshake failed")),
        "{console}"
    );
}

#[test]
fn discovery_across_a_lan() {
    let Some(lan) = Lan::new("chat", 3) else { return };
    let hosts = &lan.hosts;
    // On every address of both families, so IPv6 clients can be in the room too.
    let server =
        Server::start_cmd(hosts[0].cmd(sockit_bin(), &["chat", "serve", "--name", "lan-room", "--bind", "::"]));
    assert_eq!(server.port, 40000);
    for h in &hosts[1..] {
        let out = run(h.cmd(sockit_bin(), &["chat", "discover", "--json", "--timeout", "1"]), b"", DEADLINE);
        let v = out.json();
        assert_eq!(v["servers"][0]["address"], "198.18.0.1:40000", "{}", out.stderr);
        assert_eq!(v["servers"][0]["room"], "lan-room");
        let out = run(h.cmd(sockit_bin(), &["chat", "join", "--timeout", "1"]), b"hello from the LAN\n", DEADLINE);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(out.stdout().starts_with("* welcome to lan-room"), "{}", out.stdout());
    }
    // Without a default route 255.255.255.255 has nowhere to go ("Network is unreachable"):
    // the interface's own broadcast address still finds the room.
    hosts[2].exec_ok("ip route del default");
    let out = run(hosts[2].cmd(sockit_bin(), &["chat", "discover", "--json", "--timeout", "1"]), b"", DEADLINE);
    assert_eq!(out.json()["servers"][0]["address"], "198.18.0.1:40000", "{}", out.stderr);
    let out = run(hosts[2].cmd(sockit_bin(), &["chat", "join", "--timeout", "1"]), b"hi\n", DEADLINE);
    assert!(out.stdout().starts_with("* welcome to lan-room"), "{}", out.stderr);
    // IPv6 has no broadcast: the all-nodes group of the link finds the room at its link-local
    // address, in the zone the reply came from, and joining there works (it was "os error 97").
    let out = run(
        hosts[1].cmd(sockit_bin(), &["chat", "discover", "--json", "--timeout", "1", "--broadcast", "ff02::1%eth0"]),
        b"",
        DEADLINE,
    );
    let v = out.json();
    let servers = v["servers"].as_array().expect("servers");
    assert_eq!(servers.len(), 1, "{v}");
    let address = servers[0]["address"].as_str().expect("address").to_string();
    let index = run(hosts[1].cmd("cat", &["/sys/class/net/eth0/ifindex"]), b"", DEADLINE).ok();
    assert!(address.starts_with("[fe80::") && address.ends_with(&format!("%{}]:40000", index.trim())), "{address}");
    let out = run(hosts[1].cmd(sockit_bin(), &["chat", "join", &address]), b"hello over IPv6\n", DEADLINE);
    assert!(out.stdout().starts_with("* welcome to lan-room"), "{}", out.stderr);
    // By default both families are probed, and a server heard over both is one server.
    let out = run(hosts[1].cmd(sockit_bin(), &["chat", "discover", "--json", "--timeout", "1"]), b"", DEADLINE);
    let v = out.json();
    assert_eq!(v["servers"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v["servers"][0]["address"], "198.18.0.1:40000");
    // No room at all: the error names where the probe went.
    drop(server);
    let line = run(hosts[2].cmd(sockit_bin(), &["chat", "join", "--timeout", "0.5"]), b"", DEADLINE).fails(1);
    assert!(line.contains("(sent to 127.255.255.255:40000, 198.18.0.255:40000, [ff02::1%"), "{line}");
    assert!(line.contains("]:40000, [::1]:40000)"), "{line}");
}

/// A room bound to loopback is this host's alone: probes from the LAN get no answer (it
/// answered with 127.0.0.1, and a join from another host went to that host's own loopback),
/// while a probe from the room's own host still finds it.
#[test]
fn a_loopback_room_is_not_offered_to_the_lan() {
    let Some(lan) = Lan::new("lo-room", 2) else { return };
    let hosts = &lan.hosts;
    let _server =
        Server::start_cmd(hosts[0].cmd(sockit_bin(), &["chat", "serve", "--name", "here", "--bind", "127.0.0.1"]));
    let discover = |h: &crate::util::Netns| {
        run(h.cmd(sockit_bin(), &["chat", "discover", "--json", "--timeout", "1"]), b"", DEADLINE).json()
    };
    assert_eq!(discover(&hosts[1])["servers"], serde_json::json!([]), "the LAN was offered a loopback room");
    let v = discover(&hosts[0]);
    assert_eq!(v["servers"][0]["address"], "127.0.0.1:40000", "{v}");
}

/// Another room on the host shares the discovery port (as rooms do): the demo still finds and
/// joins its own room (it joined whichever answered first, and its clients waited on a room
/// that was not theirs).
#[test]
fn the_demo_joins_its_own_room_beside_another() {
    let Some(ns) = crate::util::Netns::new("demo-other") else { return };
    let _other = Server::start_cmd(
        ns.cmd(sockit_bin(), &["chat", "serve", "--port", "39000", "--bind", "127.0.0.1", "--name", "other"]),
    );
    let out = run(ns.cmd(sockit_bin(), &["demo"]), b"", Duration::from_secs(30));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout().contains("and finds room 'lecture' at 127.0.0.1:40000"), "{}", out.stdout());
}

/// Socket activation, as systemd does it (Debian's systemd-socket-activate, no running systemd
/// needed): the socket passed in is the room's listener, whatever --port says; a client that
/// connected before sockit started is welcomed.
#[test]
fn a_room_serves_on_the_socket_systemd_passes() {
    if !have("systemd-socket-activate") {
        return;
    }
    let port = crate::util::free_port();
    let mut cmd = Command::new("systemd-socket-activate");
    cmd.args(["-l", &format!("127.0.0.1:{port}"), sockit_bin(), "chat", "serve", "--no-discovery", "--port", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut activator = Proc(cmd.spawn().expect("systemd-socket-activate"));
    crate::util::wait_listening(port);
    // The first connection starts sockit on the socket.
    let s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut welcome = String::new();
    BufReader::new(&s).read_line(&mut welcome).expect("welcome");
    assert!(welcome.starts_with("* welcome to sockit, you are guest-"), "{welcome}");
    // systemd-socket-activate says where it listens, then sockit where it serves.
    let said =
        crate::util::Collected::from(activator.0.stderr.take().expect("stderr")).lines(3, Duration::from_secs(5));
    let room = format!("sockit: chat room sockit on 127.0.0.1:{port} (tcp)");
    assert!(said.contains(&room), "{said:?}");
}

#[test]
fn demo_plays_the_lecture() {
    // Hold the lecture's port if we can: the demo must fall back and say so.
    let held_tcp = std::net::TcpListener::bind("127.0.0.1:40000").ok();
    let held_udp = std::net::UdpSocket::bind("0.0.0.0:40000").ok();
    let out = run(sockit_cmd(&["demo"]), b"", Duration::from_secs(30));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let t = out.stdout();
    for want in [
        "== Slide 1: IPv4 network parameters ==",
        "== Slide 2: Common services ==",
        "== Slide 3: The socket module ==",
        "== Slide 4: UDP ==",
        "== Slide 5: TCP connections ==",
        "== Slides 6 and 7: threads, and a client/server chat ==",
        "  192.168.1.77  same subnet: spoken to directly",
        "  22       ssh",
        "  gethostbyname('localhost') -> 127.0.0.1",
        "The receiver got \"Hello there\" from 127.0.0.1:",
        "The server received \"Hello there\" from 127.0.0.1:",
        "and finds room 'lecture' at 127.0.0.1:",
        "  alice sees: <bob> hi alice, one thread per client here",
        "  bob sees: <alice> hi bob, this came through the server",
    ] {
        assert!(t.contains(want), "missing {want:?} in:\n{t}");
    }
    if held_tcp.is_some() && held_udp.is_some() {
        assert!(t.contains("(UDP port 40000 is taken here: using "), "{t}");
        assert!(t.contains("(TCP port 40000 is taken here: using "), "{t}");
    }
}

/// A member that never reads, with a tiny receive buffer (its queue and the kernel's fill
/// soon).
fn non_reader(s: &Server, nick: &str) -> TcpStream {
    let c = small_window(s);
    (&c).write_all(format!("/nick {nick}\n").as_bytes()).expect("nick");
    c
}

/// A connection to the room with a 4 KiB receive buffer: one that never reads fills soon.
pub(crate) fn small_window(s: &Server) -> TcpStream {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    sock.set_recv_buffer_size(4096).expect("rcvbuf");
    sock.connect(&std::net::SocketAddr::from(([127, 0, 0, 1], s.port)).into()).expect("connect");
    sock.into()
}

/// Ten members that never read cost a speaker one stall window (2 s), not one each (20 s):
/// 20,000 lines reach a reading member within 8 s.
#[test]
fn many_non_readers_cost_one_stall_window() {
    let s = Server::start(&[]);
    let stuck: Vec<TcpStream> = (0..10).map(|i| non_reader(&s, &format!("stuck{i}"))).collect();
    let mut reader = Client::join(&s, "reader");
    let mut sender = Client::join(&s, "sender");
    sender.send("/who");
    assert!(sender.until(|l| l.starts_with("* online")).starts_with("* online (12)"));
    const LINES: usize = 20_000;
    let batch: String = (0..LINES).map(|i| format!("line {i} {}\n", "z".repeat(60))).collect();
    let start = Instant::now();
    let mut w = sender.w.try_clone().expect("clone");
    let writer = std::thread::spawn(move || w.write_all(batch.as_bytes()).expect("send"));
    let mut got = 0;
    while got < LINES {
        let l = reader.line();
        assert!(!l.is_empty(), "the connection closed");
        got += usize::from(l.starts_with("<sender> line "));
    }
    writer.join().expect("writer");
    let took = start.elapsed();
    assert!(took < Duration::from_secs(8), "20,000 lines past 10 non-readers took {took:?}");
    sender.send("/who");
    assert!(sender.until(|l| l.starts_with("* online")).starts_with("* online (2)"), "the ten were disconnected");
    drop(stuck);
}

/// Ten members that flood /who and never read wait on their own queues and are disconnected;
/// the room goes on meanwhile (it waits a stall window for them at most twice: a flooder whose
/// own /nick waited for the others starts flooding, and stops reading, a window later), and
/// the server's memory stays bounded. Before, the room stalled for 20 s and the server held
/// 200 MB.
#[test]
fn a_who_flood_that_never_reads_stalls_nobody() {
    let s = Server::start(&[]);
    let mut reader = Client::join(&s, "reader");
    let mut sender = Client::join(&s, "sender");
    let flooders: Vec<(TcpStream, std::thread::JoinHandle<()>)> = (0..10)
        .map(|i| {
            let c = non_reader(&s, &format!("flood{i}"));
            let mut w = c.try_clone().expect("clone");
            // Writes until the server stops reading it or cuts it off.
            let h = std::thread::spawn(move || {
                let who = "/who\n".repeat(1000);
                for _ in 0..100 {
                    if w.write_all(who.as_bytes()).is_err() {
                        break;
                    }
                }
            });
            (c, h)
        })
        .collect();
    let start = Instant::now();
    for i in 0..50 {
        sender.send(&format!("still here {i}"));
        std::thread::sleep(Duration::from_millis(20));
    }
    for i in 0..50 {
        assert_eq!(reader.until(|l| l.starts_with("<sender>")), format!("<sender> still here {i}"));
    }
    // (The 50 lines take 1 s to send; a room that waits on the flooders' full queues takes
    // stall windows of 2 s more. The whole debug suite on two cores has taken up to 6 s.)
    assert!(start.elapsed() < Duration::from_secs(8), "the room waited {:?}", start.elapsed());
    // Every flooder is cut off within a few stall windows.
    let mut cut = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    while cut < 10 && Instant::now() < deadline {
        sender.send("/who");
        let who = sender.until(|l| l.starts_with("* online"));
        cut = 10 - who.matches("flood").count();
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(cut, 10, "flooders still in the room");
    let rss = s.rss_kib();
    assert!(rss < 100 * 1024, "server RSS {rss} KiB after the flood");
    for (c, h) in flooders {
        drop(c);
        h.join().expect("flooder");
    }
}

/// Members that ask for /who (a long reply: 200 members with long nicks) and never read hold
/// a bounded queue in bytes, not only in lines (each held ~6.5 MB, 4,096 long replies), and
/// the memory goes back to the system once they and the crowd have left (~50 MB stayed).
#[test]
fn who_without_reading_holds_little_and_leaving_gives_it_back() {
    let mut s = Server::start(&[]);
    let start_rss = s.rss_kib();
    let crowd: Vec<Client> = (0..200)
        .map(|i| {
            let mut c = s.connect();
            c.send(&format!("/nick member_of_the_{i:04}"));
            c
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let base = s.rss_kib();
    let askers: Vec<TcpStream> = (0..20)
        .map(|_| {
            let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
            sock.set_recv_buffer_size(4096).expect("rcvbuf");
            sock.connect(&std::net::SocketAddr::from(([127, 0, 0, 1], s.port)).into()).expect("connect");
            let mut c: TcpStream = sock.into();
            let _ = c.write_all("/who\n".repeat(3000).as_bytes());
            c
        })
        .collect();
    let mut peak = 0;
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(3) {
        peak = peak.max(s.rss_kib());
        std::thread::sleep(Duration::from_millis(50));
    }
    let each = peak.saturating_sub(base) / 20;
    assert!(each < 1024, "{each} KiB a member that asks and never reads");
    drop(askers);
    drop(crowd);
    // Given back within a few of the server's 2 s rounds.
    let t = Instant::now();
    let mut after = s.rss_kib();
    while after >= start_rss + 16 * 1024 && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(200));
        after = s.rss_kib();
    }
    assert!(after < start_rss + 16 * 1024, "{after} KiB after everyone left, {start_rss} KiB at the start");
    assert!(s.alive());
}

/// 300 members leaving at once are announced in a few notices, not 300, and every one of them
/// is announced exactly once.
#[test]
fn a_burst_of_leaves_is_batched() {
    let s = Server::start(&[]);
    let mut watcher = Client::join(&s, "watcher");
    // All connect, then all are welcomed (a silent connection is welcomed after a moment: one
    // at a time, 300 of those moments would add up).
    let mut crowd: Vec<Client> = (0..300).map(|_| s.connect()).collect();
    for c in &mut crowd {
        assert!(c.line().starts_with("* welcome to "));
    }
    watcher.send("/who");
    assert!(watcher.until(|l| l.starts_with("* online")).starts_with("* online (301)"));
    drop(crowd);
    let (mut notices, mut announced) = (0, 0);
    while announced < 300 {
        let l = watcher.until(|l| l.ends_with(" left"));
        notices += 1;
        let list = l.strip_prefix("* ").and_then(|l| l.strip_suffix(" left")).expect("a leave notice");
        announced += match list.rsplit_once(" and ") {
            None => 1,
            Some((shown, rest)) => {
                shown.split(", ").count()
                    + rest.strip_suffix(" others").map_or(1, |n| n.parse::<usize>().expect("count"))
            }
        };
    }
    assert_eq!(announced, 300);
    assert!(notices <= 20, "{notices} leave notices for 300 leavers");
}

/// A hostile server's bytes never reach the terminal raw: `chat join` shows a server that
/// sends a screen clear, a title and an OSC 52 clipboard write with every escape escaped, and
/// `chat discover` shows a lying discovery reply the same way.
#[test]
fn a_hostile_server_cannot_drive_the_terminal() {
    if !have("python3") {
        return;
    }
    let evil = "import socket\nl=socket.socket(); l.bind(('127.0.0.1',0)); l.listen(1)\n\
                print(l.getsockname()[1], flush=True)\nc,_=l.accept()\n\
                c.sendall(b'\\x1b[2J\\x1b]0;pwned\\x07\\x1b]52;c;ZXZpbA==\\x07hello\\r\\nbye \\xc2\\x9b31m\\n')\n\
                c.shutdown(socket.SHUT_WR)\nwhile c.recv(4096): pass\nc.close()\n";
    let mut server =
        Proc(Command::new("python3").args(["-c", evil]).stdout(Stdio::piped()).spawn().expect("python server"));
    let mut port = String::new();
    port.push_str(
        &crate::util::line_within(server.0.stdout.take().expect("stdout"), crate::util::DEADLINE).expect("port"),
    );
    let out = run(sockit_cmd(&["chat", "join", &format!("127.0.0.1:{}", port.trim())]), b"", DEADLINE);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout(), "\\u{1b}[2J\\u{1b}]0;pwned\\u{7}\\u{1b}]52;c;ZXZpbA==\\u{7}hello\nbye \\u{9b}31m\n");
    assert!(!out.stdout.contains(&0x1b) && !out.stdout.contains(&0x07));

    let liar = "import socket\ns=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1',0))\n\
                print(s.getsockname()[1], flush=True)\nd,a=s.recvfrom(2048)\n\
                s.sendto(b'SOCKIT-CHAT! 1 port=4000 users=1 version=\\x1b]0;x\\x07 room=\\x1b[2Jevil\\n', a)\n";
    let mut responder =
        Proc(Command::new("python3").args(["-c", liar]).stdout(Stdio::piped()).spawn().expect("python responder"));
    let mut dport = String::new();
    dport.push_str(
        &crate::util::line_within(responder.0.stdout.take().expect("stdout"), crate::util::DEADLINE).expect("port"),
    );
    let out =
        sockit(&["chat", "discover", "--broadcast", "127.0.0.1", "--discovery-port", dport.trim(), "--timeout", "1"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stdout.contains(&0x1b) && !out.stdout.contains(&0x07), "{:?}", out.stdout());
    assert!(
        out.stdout().contains("\\x1b[2Jevil") && out.stdout().contains("sockit \\x1b]0;x\\x07"),
        "{}",
        out.stdout()
    );
}

/// Discovery answers a flood of probes from one address a few times only (it answered 10,000
/// in 5.7 s: a reflector), and still answers another address at once.
#[test]
fn discovery_is_no_reflector() {
    let s = Server::start(&[]);
    let target = std::net::SocketAddr::from(([127, 0, 0, 1], s.discovery.expect("discovery port")));
    let flood = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let probe = sockit_core::discovery::probe();
    for _ in 0..1000 {
        flood.send_to(&probe, target).expect("probe");
    }
    flood.set_read_timeout(Some(Duration::from_millis(500))).expect("timeout");
    let mut replies = 0;
    let mut buf = [0u8; 1024];
    while flood.recv_from(&mut buf).is_ok() {
        replies += 1;
    }
    assert!((1..=15).contains(&replies), "{replies} replies to 1,000 probes from one address");
    let other = std::net::UdpSocket::bind("127.0.0.2:0").expect("bind 127.0.0.2");
    other.send_to(&probe, target).expect("probe");
    other.set_read_timeout(Some(Duration::from_secs(2))).expect("timeout");
    let (n, _) = other.recv_from(&mut buf).expect("another address is answered");
    assert!(sockit_core::discovery::parse_reply(&buf[..n]).is_some());
}

/// Two rooms on one host share the discovery port and are both found; a discovery port held
/// by a program that does not share it is named as such (it blamed "0.0.0.0:40000").
#[test]
fn two_rooms_on_one_host_are_both_discoverable() {
    let d = crate::util::free_port().to_string();
    let start = |room: &str| {
        Server::start_cmd(sockit_cmd(&[
            "chat",
            "serve",
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--discovery-port",
            &d,
            "--name",
            room,
        ]))
    };
    let (_a, _b) = (start("first"), start("second"));
    let v = sockit(&["chat", "discover", "--json", "--broadcast", "127.255.255.255", "--discovery-port", &d]).json();
    let mut rooms: Vec<&str> =
        v["servers"].as_array().expect("servers").iter().map(|s| s["room"].as_str().expect("room")).collect();
    rooms.sort_unstable();
    assert_eq!(rooms, ["first", "second"]);
    let holder = std::net::UdpSocket::bind("0.0.0.0:0").expect("bind");
    let held = holder.local_addr().expect("addr").port().to_string();
    let out = sockit(&["chat", "serve", "--port", "0", "--bind", "127.0.0.1", "--discovery-port", &held]);
    assert_eq!(
        out.fails(1),
        format!(
            "sockit: cannot answer discovery on 0.0.0.0:{held} (udp): a program that does not share the port holds it: pass --discovery-port PORT, or --no-discovery"
        )
    );
}

/// A room bound to ::1 is advertised at ::1 (it advertised the IPv4 address the reply came
/// from, where nothing listened), and joining the discovered room works.
#[test]
fn a_room_bound_to_one_address_is_advertised_there() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        assert!(!crate::util::under_ci(), "IPv6 loopback is required under CI");
        return;
    }
    let s = Server::start_cmd(sockit_cmd(&[
        "chat",
        "serve",
        "--port",
        "0",
        "--bind",
        "::1",
        "--discovery-port",
        "0",
        "--name",
        "six",
    ]));
    let d = s.discovery.expect("discovery").to_string();
    let v = sockit(&["chat", "discover", "--json", "--broadcast", "127.255.255.255", "--discovery-port", &d]).json();
    assert_eq!(v["servers"][0]["address"], format!("[::1]:{}", s.port), "{v}");
    let out = run(
        sockit_cmd(&["chat", "join", "--broadcast", "127.255.255.255", "--discovery-port", &d, "--timeout", "0.5"]),
        b"",
        DEADLINE,
    );
    assert!(out.stdout().starts_with("* welcome to six,"), "{}", out.stderr);
    // Probed over IPv6 too (it failed with "os error 97"), and heard over both it is one room.
    let v = sockit(&["chat", "discover", "--json", "--broadcast", "::1", "--discovery-port", &d]).json();
    assert_eq!(v["servers"][0]["address"], format!("[::1]:{}", s.port), "{v}");
    let both = ["chat", "discover", "--json", "--broadcast", "::1", "--broadcast", "127.0.0.1", "--discovery-port", &d];
    let v = sockit(&both).json();
    assert_eq!(v["servers"].as_array().map(Vec::len), Some(1), "{v}");
}

/// On a terminal `chat join` keeps the line being typed intact below the conversation (a line
/// from someone else came out in the middle of it: `half-typed<dave> dave line 3`), with line
/// editing and history; keys that come together (a paste) are taken and drawn at once; and it
/// gives the terminal back as it found it. Driven through a pty by Python, beside a
/// plain-socket client.
#[test]
fn on_a_terminal_the_line_being_typed_stays_whole() {
    if !have("python3") {
        return;
    }
    let server = Server::start(&[]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/py/pty_chat.py");
    let mut cmd = Command::new("python3");
    cmd.args([script, sockit_bin(), &server.port.to_string()]);
    let out = run(cmd, b"", DEADLINE);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = out.json();
    let transcript = v["transcript"].as_str().expect("transcript");
    assert_eq!(
        v["from_erin"],
        serde_json::json!(["<erin> half-typed rest", "<erin> hello", "<erin> hello", "<erin> pasted at once"]),
        "{transcript:?}"
    );
    assert!(transcript.contains("<dave> dave line 3"), "{transcript:?}");
    assert!(!transcript.contains("half-typed<dave>"), "{transcript:?}");
    assert_eq!(v["code"], 0, "{transcript:?}");
    assert_eq!(v["canonical"], true, "the terminal is left in canonical mode with echo");
    assert_eq!(v["shown_at_once"], true, "keys that came together drawn at once: {transcript:?}");
}
