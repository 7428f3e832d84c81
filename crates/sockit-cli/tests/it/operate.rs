//! Running the servers in production: the chat port's `/metrics` (checked by Prometheus's own
//! promtool) and `/healthz`, and who may read them.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::chat::{Client, Server};
use crate::util::{DEADLINE, PipeLines, have, run};

/// One GET on a fresh connection: the status line and the body (the server closes after it).
pub(crate) fn get(port: u16, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: scraper.example:9\r\nUser-Agent: test\r\n\r\n").as_bytes())
        .expect("send");
    let mut all = String::new();
    s.read_to_string(&mut all).expect("answer");
    let (head, body) = all.split_once("\r\n\r\n").expect("a head and a body");
    (head.lines().next().unwrap_or_default().to_string(), body.to_string())
}

/// The value of one sample (`name` with its labels, as written) in a scrape.
pub(crate) fn sample(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// `/metrics` counts what happened in the room, exactly, in a form promtool accepts; `/healthz`
/// says ok; any Host is answered (a scraper names the server as it was told), while browsers'
/// paths keep their Host rule.
#[test]
fn the_chat_port_answers_metrics_and_health_to_loopback() {
    let server = Server::start(&["--max-line", "64"]);
    let mut alice = Client::join(&server, "alice");
    let mut bob = Client::join(&server, "bob");
    let before = get(server.port, "/metrics").1;
    alice.send("hello");
    assert_eq!(bob.line(), "<alice> hello");
    alice.send(&"x".repeat(100));
    alice.until(|l| l.starts_with("* line too long (over 64 bytes)"));
    let (status, text) = get(server.port, "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK", "{text}");
    let expect = [
        ("sockit_chat_members{where=\"here\"}", 2),
        ("sockit_chat_members{where=\"cluster\"}", 0),
        ("sockit_chat_connections{kind=\"line\"}", 2),
        ("sockit_chat_connections{kind=\"web\"}", 0),
        ("sockit_chat_joins_total", 2),
        ("sockit_chat_lines_received_total{from=\"here\"}", 1),
        ("sockit_chat_received_bytes_total", 5),
        ("sockit_chat_lines_dropped_total{reason=\"too_long\"}", 1),
        ("sockit_chat_lines_dropped_total{reason=\"rate\"}", 0),
        ("sockit_chat_members_cut_total", 0),
    ];
    for (name, value) in expect {
        assert_eq!(sample(&text, name), Some(value), "{name} in\n{text}");
    }
    // Since the first scrape: "<alice> hello\n" to bob, and alice's notice that her line was
    // too long.
    let grew = |name: &str| sample(&text, name).zip(sample(&before, name)).map(|(a, b)| a - b);
    let notice = "* line too long (over 64 bytes): not sent\n".len() as u64;
    assert_eq!(grew("sockit_chat_lines_sent_total"), Some(2), "{before}\n{text}");
    assert_eq!(grew("sockit_chat_sent_bytes_total"), Some(14 + notice), "{before}\n{text}");
    assert!(text.contains("# TYPE sockit_chat_joins_total counter\n"), "{text}");
    if have("promtool") {
        let mut check = Command::new("promtool");
        check.args(["check", "metrics"]).stderr(Stdio::piped());
        let out = run(check, text.as_bytes(), DEADLINE);
        assert_eq!(out.code, 0, "promtool: {}{}", out.stdout(), out.stderr);
    }
    assert_eq!(get(server.port, "/healthz"), ("HTTP/1.1 200 OK".to_string(), "ok\n".to_string()));
    // The page is still refused under a name that is not the room's.
    assert_eq!(get(server.port, "/").0, "HTTP/1.1 403 Forbidden");
}

/// `--metrics-allow` names who may read them; to others the paths do not exist. A bad block
/// is a usage error.
#[test]
fn metrics_are_only_for_the_addresses_allowed() {
    let server = Server::start(&["--metrics-allow", "10.0.0.0/8"]);
    for path in ["/metrics", "/healthz"] {
        let (status, body) = get(server.port, path);
        assert_eq!((status.as_str(), body.as_str()), ("HTTP/1.1 404 Not Found", "the room is at /\n"));
    }
    let out = crate::util::sockit(&["chat", "serve", "--port", "0", "--metrics-allow", "10.0.0.0/33"]);
    let line = out.fails(2);
    assert!(line.contains("--metrics-allow"), "{line}");
}

/// `--config FILE` gives a server's flags from TOML (keys: the long flags without --, a
/// positional argument by its name); what the command line says wins; `--print-config` shows
/// the configuration in effect, passwords left out; a key that is no flag is named with its
/// line, exit 2.
#[test]
fn a_config_file_gives_a_servers_flags_and_the_command_line_wins() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("room.toml");
    std::fs::write(&file, "# the lab's room\nname = \"from-file\"\nmax-line = 64\nno-discovery = true\n")
        .expect("write");
    let f = file.display().to_string();
    let mut cmd = crate::util::sockit_cmd(&["chat", "serve", "--config", &f, "--name", "lab", "--port", "0"]);
    cmd.args(["--bind", "127.0.0.1"]);
    let (_server, line, _err) = crate::util::started(cmd);
    assert!(line.starts_with("sockit: chat room lab on 127.0.0.1:") && line.trim_end().ends_with("(tcp)"), "{line}");
    let port: u16 =
        line.rsplit(':').next().and_then(|p| p.trim_end().strip_suffix(" (tcp)")?.parse().ok()).expect("port");
    let mut c = Client::new(TcpStream::connect(("127.0.0.1", port)).expect("connect"));
    c.send(&"x".repeat(100));
    c.until(|l| l.starts_with("* line too long (over 64 bytes)"));

    let relay = dir.path().join("relay.toml");
    std::fs::write(
        &relay,
        "from = \"tcp-listen:127.0.0.1:0\"\nto = \"tcp:127.0.0.1:9\"\nallow = [\"127.0.0.0/8\", \"::1\"]\n\
         wait = 2.5\nproxy = \"socks5://alice:S3cret@127.0.0.1:1080\"\n",
    )
    .expect("write");
    let r = relay.display().to_string();
    let out = crate::util::sockit(&["relay", "--config", &r, "--deny", "127.0.0.2", "--print-config"]);
    let text = out.ok();
    for want in [
        "# sockit relay: the configuration in effect\n",
        "from = \"tcp-listen:127.0.0.1:0\"\nto = \"tcp:127.0.0.1:9\"\n",
        "allow = [\"127.0.0.0/8\", \"::1\"]\ndeny = [\"127.0.0.2\"]\n# max-conns is not set\nwait = 2.5\n",
        "proxy = \"socks5://127.0.0.1:1080\"\n",
        "tls = false\n",
    ] {
        assert!(text.contains(want), "{want:?} in\n{text}");
    }
    assert!(!text.contains("S3cret"), "{text}");

    std::fs::write(&file, "name = \"x\"\n\nnmae = \"y\"\n").expect("write");
    let line = crate::util::sockit(&["chat", "serve", "--config", &f]).fails(2);
    assert_eq!(
        line,
        format!("sockit: {f} line 3: unknown key 'nmae' for sockit chat serve: the keys are its long flags without --")
    );
    std::fs::write(&file, "name = [\n").expect("write");
    let line = crate::util::sockit(&["chat", "serve", "--config", &f]).fails(2);
    assert!(line.starts_with(&format!("sockit: {f} line ")), "{line}");
    let line = crate::util::sockit(&["tcp", "listen", "--config", &format!("{f}.missing")]).fails(2);
    assert!(line.starts_with(&format!("sockit: cannot read {f}.missing: ")), "{line}");
}

/// The console's lines (a server's stdout), read with a deadline.
fn console(server: &mut Server) -> PipeLines {
    PipeLines::new(server.proc.0.stdout.take().expect("stdout"))
}

/// Read `lines` until one starts with `prefix`.
fn console_line(lines: &mut PipeLines, prefix: &str) -> String {
    loop {
        let mut l = String::new();
        assert!(lines.read_line(&mut l).expect("a console line") > 0, "the console ended before {prefix:?}");
        if l.starts_with(prefix) {
            return l.trim_end().to_string();
        }
    }
}

/// Send `sig` to a child.
fn signal(child: &std::process::Child, sig: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(i32::try_from(child.id()).expect("pid")).expect("pid");
    rustix::process::kill_process(pid, sig).expect("signal");
}

/// A room started with `--config FILE`, FILE holding `text`: its folder, the file, the room and
/// its console.
fn room_with_file(text: &str) -> (tempfile::TempDir, std::path::PathBuf, Server, PipeLines) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("room.toml");
    std::fs::write(&file, text).expect("write");
    let mut server = Server::start(&["--config", &file.display().to_string()]);
    let lines = console(&mut server);
    (dir, file, server, lines)
}

fn hang_up(server: &Server) {
    signal(&server.proc.0, rustix::process::Signal::HUP);
}

/// SIGHUP reads the config file again: new limits are in force for members already in the
/// room, what only a restart changes is kept and said, and a file that does not read is
/// refused in one line while the configuration in force stays. A new certificate is taken.
#[test]
fn sighup_reloads_the_configuration_and_keeps_everyone() {
    let (dir, file, mut server, mut lines) = room_with_file("max-line = 64\n");
    let f = file.display().to_string();
    let mut alice = Client::join(&server, "alice");
    let mut bob = Client::join(&server, "bob");
    let long = "y".repeat(100);
    alice.send(&long);
    alice.until(|l| l.starts_with("* line too long (over 64 bytes)"));
    std::fs::write(&file, "max-line = 200\nname = \"elsewhere\"\n").expect("write");
    hang_up(&server);
    assert_eq!(console_line(&mut lines, "* reload"), "* reloaded the configuration; --name kept until a restart");
    alice.send(&long);
    assert_eq!(bob.line(), format!("<alice> {long}"));
    std::fs::write(&file, "max-line = 10\n\nnmae = \"x\"\n").expect("write");
    hang_up(&server);
    assert_eq!(
        console_line(&mut lines, "* reload"),
        format!(
            "* reload refused, the configuration in force stays: {f} line 3: unknown key 'nmae' for sockit chat serve: the keys are its long flags without --"
        )
    );
    alice.send(&long);
    assert_eq!(bob.line(), format!("<alice> {long}"), "max-line 200 is still in force");
    assert!(server.alive());

    // TLS: the certificate files are read again.
    let (cert, key) = crate::util::openssl_cert(dir.path());
    let (c, k) = (cert.display().to_string(), key.display().to_string());
    std::fs::write(&file, "").expect("write");
    let mut tls = Server::start(&["--config", &f, "--tls", "--cert", &c, "--key", &k]);
    let mut tls_lines = console(&mut tls);
    let other = tempfile::tempdir().expect("tempdir");
    let (cert2, key2) = crate::util::openssl_cert(other.path());
    std::fs::copy(&cert2, &cert).expect("cert");
    std::fs::copy(&key2, &key).expect("key");
    hang_up(&tls);
    let said = console_line(&mut tls_lines, "* reload");
    let fp = crate::util::sh(&format!("openssl x509 -in {} -noout -fingerprint -sha256", cert2.display()));
    let want = fp.trim().rsplit('=').next().expect("fingerprint").to_string();
    assert_eq!(said, format!("* reloaded the configuration; certificate fingerprint (SHA-256) {want}"));
}

/// 10,000 members keep their connections through a reload, and all of them hear the first
/// line said after it, under the new limit.
#[test]
fn ten_thousand_members_stay_through_a_reload() {
    if !have("python3") {
        return;
    }
    let n = 10_000;
    let (_dir, file, server, mut lines) = room_with_file("max-line = 64\n");
    let word = "z".repeat(100);
    let (mut crowd, mut out) = crate::chat::crowd(server.port, n, &word);
    let mut l = String::new();
    out.read_line_within(&mut l, Duration::from_secs(90)).expect("connected");
    assert_eq!(l.trim(), "connected");
    std::fs::write(&file, "max-line = 200\n").expect("write");
    hang_up(&server);
    assert_eq!(console_line(&mut lines, "* reload"), "* reloaded the configuration");
    let mut speaker = Client::join(&server, "speaker");
    speaker.send(&word);
    // The crowd's stdin stays open until the scrape: at its end the crowd leaves.
    let mut ask = crowd.0.stdin.take().expect("stdin");
    ask.write_all(b"count\n").expect("count");
    l.clear();
    out.read_line_within(&mut l, Duration::from_secs(60)).expect("count");
    let (_, text) = get(server.port, "/metrics");
    let said = console_besides_joins(&mut lines);
    assert_eq!(l.trim(), format!("{n} 0"), "members who got the line, connections closed; the console: {said:?}");
    assert_eq!(sample(&text, "sockit_chat_leaves_total"), Some(0), "the console: {said:?}\n{text}");
    assert_eq!(sample(&text, "sockit_chat_members{where=\"here\"}"), Some(n as u64 + 1), "{text}");
    drop(ask);
}

/// What the console said that is not a join, up to a quiet moment (for a failure's message).
fn console_besides_joins(lines: &mut PipeLines) -> Vec<String> {
    let mut said = Vec::new();
    loop {
        let mut l = String::new();
        match lines.read_line_within(&mut l, Duration::from_millis(500)) {
            Ok(n) if n > 0 => {
                if !l.trim_end().ends_with(" joined") {
                    said.push(l.trim_end().to_string());
                }
            }
            _ => return said,
        }
    }
}

/// Under a systemd unit of Type=notify, a room says READY=1 once it serves, RELOADING=1 (with
/// the monotonic clock) and READY=1 again around a reload, and STOPPING=1 as it shuts down (a
/// datagram socket of the test's own stands in for systemd's).
#[test]
fn a_room_tells_systemd_of_reloads_and_its_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("notify");
    let systemd = std::os::unix::net::UnixDatagram::bind(&path).expect("bind");
    systemd.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let notice = || {
        let mut buf = [0u8; 256];
        let n = systemd.recv(&mut buf).expect("a notice");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let mut cmd = crate::util::sockit_cmd(&["chat", "serve", "--port", "0", "--bind", "127.0.0.1", "--no-discovery"]);
    cmd.env("NOTIFY_SOCKET", &path);
    let mut server = Server::start_cmd(cmd);
    assert_eq!(notice(), "READY=1");
    let before = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    hang_up(&server);
    let reloading = notice();
    let usec: i64 = reloading
        .strip_prefix("RELOADING=1\nMONOTONIC_USEC=")
        .and_then(|u| u.parse().ok())
        .unwrap_or_else(|| panic!("{reloading:?}"));
    assert!(usec >= before.tv_sec * 1_000_000, "{usec} is not the monotonic clock ({before:?})");
    assert_eq!(notice(), "READY=1");
    signal(&server.proc.0, rustix::process::Signal::TERM);
    assert_eq!(notice(), "STOPPING=1");
    assert_eq!(crate::util::wait_deadline(&mut server.proc.0, DEADLINE, "chat serve"), 0);
}

/// The port of "sockit: metrics on http://127.0.0.1:PORT/metrics", the next line on `err`.
fn metrics_port(err: &mut PipeLines) -> u16 {
    let mut line = String::new();
    err.read_line(&mut line).expect("the metrics line");
    line.trim()
        .strip_prefix("sockit: metrics on http://127.0.0.1:")
        .and_then(|l| l.strip_suffix("/metrics"))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no metrics port in {line:?}"))
}

fn promtool_accepts(text: &str) {
    if have("promtool") {
        let mut check = Command::new("promtool");
        check.args(["check", "metrics"]);
        let out = run(check, text.as_bytes(), DEADLINE);
        assert_eq!(out.code, 0, "promtool: {}{}", out.stdout(), out.stderr);
    }
}

/// `relay --metrics` counts connections (taken, turned away by the rules, ended in an error)
/// and the bytes each way, exactly; `/healthz` says ok.
#[test]
fn a_relay_answers_metrics_on_its_own_port() {
    let target = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let to = format!("tcp:127.0.0.1:{}", target.local_addr().expect("addr").port());
    std::thread::spawn(move || {
        for s in target.incoming().flatten() {
            let mut s = s;
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = s.read(&mut buf) {
                if s.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    });
    let cmd =
        crate::util::sockit_cmd(&["relay", "tcp-listen:127.0.0.1:0", &to, "--metrics", "0", "--allow", "127.0.0.1"]);
    let (_relay, line, mut err) = crate::util::started(cmd);
    let port: u16 =
        line.split(" (").next().and_then(|l| l.rsplit(':').next()).and_then(|p| p.parse().ok()).expect("port");
    let metrics = metrics_port(&mut err);
    let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let data = vec![7u8; 1000];
    c.write_all(&data).expect("send");
    let mut back = vec![0u8; 1000];
    c.read_exact(&mut back).expect("echo");
    drop(c);
    // Turned away by --allow: from 127.0.0.2.
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    sock.bind(&std::net::SocketAddr::from(([127, 0, 0, 2], 0)).into()).expect("bind 127.0.0.2");
    sock.connect(&std::net::SocketAddr::from(([127, 0, 0, 1], port)).into()).expect("connect");
    // Both connections' lines: then every count is in.
    let mut lines = String::new();
    for _ in 0..2 {
        err.read_line(&mut lines).expect("a connection's line");
    }
    let (status, text) = get(metrics, "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK", "{text}");
    for (name, value) in [
        ("sockit_relay_connections", 0),
        ("sockit_relay_accepted_total", 1),
        ("sockit_relay_refused_total{reason=\"rules\"}", 1),
        ("sockit_relay_refused_total{reason=\"cap\"}", 0),
        ("sockit_relay_failed_total", 0),
        ("sockit_relay_bytes_total{direction=\"up\"}", 1000),
        ("sockit_relay_bytes_total{direction=\"down\"}", 1000),
    ] {
        assert_eq!(sample(&text, name), Some(value), "{name} in\n{text}\n{lines}");
    }
    promtool_accepts(&text);
    assert_eq!(get(metrics, "/healthz"), ("HTTP/1.1 200 OK".to_string(), "ok\n".to_string()));
    assert_eq!(get(metrics, "/").0, "HTTP/1.1 404 Not Found");
    let line = crate::util::sockit(&["relay", "udp-listen:0", "udp:127.0.0.1:9", "--metrics", "0"]).fails(2);
    assert!(line.contains("--metrics"), "{line}");
}

/// `tcp listen --keep-open --metrics` counts its clients and the bytes each way; without
/// --keep-open the flag is a usage error.
#[test]
fn a_keep_open_listener_answers_metrics() {
    let mut cmd =
        crate::util::sockit_cmd(&["tcp", "listen", "0", "--bind", "127.0.0.1", "--keep-open", "--metrics", "0"]);
    cmd.stdin(Stdio::piped());
    let (mut srv, port, mut err) = crate::util::listening(cmd);
    let metrics = metrics_port(&mut err);
    let mut a = TcpStream::connect(("127.0.0.1", port)).expect("a");
    let mut b = TcpStream::connect(("127.0.0.1", port)).expect("b");
    for s in [&a, &b] {
        s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    }
    // Both are in once each has the input.
    let mut wait_for_both = |text: &[u8]| {
        srv.0.stdin.as_mut().expect("stdin").write_all(text).expect("input");
        for s in [&mut a, &mut b] {
            let mut got = vec![0u8; text.len()];
            s.read_exact(&mut got).expect("input to the client");
            assert_eq!(got, text);
        }
    };
    wait_for_both(b"hello\n");
    a.write_all(b"abc").expect("send");
    let mut out = PipeLines::new(srv.0.stdout.take().expect("stdout"));
    let mut got = [0u8; 3];
    out.read_exact(&mut got).expect("output");
    assert_eq!(&got, b"abc");
    let (_, text) = get(metrics, "/metrics");
    for (name, value) in [
        ("sockit_listen_clients", 2),
        ("sockit_listen_accepted_total", 2),
        ("sockit_listen_bytes_total{direction=\"from_clients\"}", 3),
        ("sockit_listen_bytes_total{direction=\"to_clients\"}", 12),
        ("sockit_listen_cut_total", 0),
    ] {
        assert_eq!(sample(&text, name), Some(value), "{name} in\n{text}");
    }
    promtool_accepts(&text);
    let line = crate::util::sockit(&["tcp", "listen", "0", "--metrics", "0"]).fails(2);
    assert!(line.starts_with("sockit: --metrics counts the clients of --keep-open"), "{line}");
}

/// A real Prometheus scrapes the room: its query API gives back the room's members as the
/// room counts them, and the target up. Prometheus listens on loopback only.
#[test]
fn prometheus_scrapes_the_room() {
    if !have("prometheus") {
        return;
    }
    let server = Server::start(&[]);
    let _alice = Client::join(&server, "alice");
    let _bob = Client::join(&server, "bob");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: sockit\n    \
             static_configs:\n      - targets: [\"127.0.0.1:{}\"]\n",
            server.port
        ),
    )
    .expect("write");
    let web = crate::util::free_port();
    let mut cmd = Command::new("prometheus");
    cmd.arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{web}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _prometheus = crate::util::Proc(cmd.spawn().expect("prometheus"));
    let query = |q: &str| -> Option<String> {
        let mut s = TcpStream::connect(("127.0.0.1", web)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let path = format!("/api/v1/query?query={q}");
        s.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes()).ok()?;
        let mut all = String::new();
        s.read_to_string(&mut all).ok()?;
        let body = all.split_once("\r\n\r\n")?.1;
        let v: serde_json::Value = serde_json::from_str(body).ok()?;
        Some(v["data"]["result"][0]["value"][1].as_str()?.to_string())
    };
    let start = std::time::Instant::now();
    let mut members = None;
    while start.elapsed() < Duration::from_secs(30) {
        members = query("sockit_chat_members%7Bwhere%3D%22here%22%7D");
        if members.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(members.as_deref(), Some("2"), "Prometheus's value of the room's members");
    assert_eq!(query("up%7Bjob%3D%22sockit%22%7D").as_deref(), Some("1"));
}

/// `--motd FILE`: each member sees its lines after the welcome, escaped for the terminal;
/// SIGHUP reads it again for those who join next. A file over 8 KiB is refused at start.
#[test]
fn the_message_of_the_day_is_shown_and_reloaded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let motd = dir.path().join("motd");
    let m = motd.display().to_string();
    std::fs::write(&motd, "Lab hours: 9-17\nbe kind \x1b[31m\n").expect("write");
    let mut server = Server::start(&["--motd", &m]);
    let mut lines = console(&mut server);
    let mut a = server.connect();
    assert!(a.line().starts_with("* welcome to sockit, you are guest-"));
    assert_eq!((a.line(), a.line()), ("* Lab hours: 9-17".to_string(), "* be kind \\x1b[31m".to_string()));
    std::fs::write(&motd, "New term\n").expect("write");
    hang_up(&server);
    assert_eq!(console_line(&mut lines, "* reload"), "* reloaded the configuration");
    let mut b = server.connect();
    assert!(b.line().starts_with("* welcome to sockit, you are guest-"));
    assert_eq!(b.line(), "* New term");
    std::fs::write(&motd, "x".repeat(9000)).expect("write");
    let line = crate::util::sockit(&["chat", "serve", "--port", "0", "--no-discovery", "--motd", &m]).fails(1);
    assert_eq!(
        line,
        format!("sockit: cannot read the message of the day from {m}: it is larger than 8 KiB, more than sockit reads")
    );
}

/// SIGHUP makes a relay read its config file again: the connections that come next go to the
/// new target under the new rules; a listener it cannot move is kept and said; a file that does
/// not read is refused in one line and the configuration in force stays.
#[test]
fn sighup_reloads_a_relay() {
    // Two targets that say who they are.
    let greeter = |word: &'static str| {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        std::thread::spawn(move || {
            for mut s in l.incoming().flatten() {
                let _ = s.write_all(word.as_bytes());
            }
        });
        port
    };
    let (a, b) = (greeter("A\n"), greeter("B\n"));
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("relay.toml");
    let f = file.display().to_string();
    std::fs::write(&file, format!("from = \"tcp-listen:127.0.0.1:0\"\nto = \"tcp:127.0.0.1:{a}\"\n")).expect("write");
    let (relay, line, mut err) = crate::util::started(crate::util::sockit_cmd(&["relay", "--config", &f]));
    let port: u16 =
        line.split(" (").next().and_then(|l| l.rsplit(':').next()).and_then(|p| p.parse().ok()).expect("port");
    let first = |port: u16| {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        let mut got = [0u8; 2];
        s.read_exact(&mut got).expect("greeting");
        got
    };
    assert_eq!(&first(port), b"A\n");
    let said = |err: &mut PipeLines| {
        loop {
            let mut l = String::new();
            assert!(err.read_line(&mut l).expect("a line") > 0, "stderr ended");
            if l.starts_with("sockit: reload") {
                return l.trim_end().to_string();
            }
        }
    };
    std::fs::write(&file, format!("from = \"tcp-listen:127.0.0.1:1\"\nto = \"tcp:127.0.0.1:{b}\"\n")).expect("write");
    signal(&relay.0, rustix::process::Signal::HUP);
    assert_eq!(said(&mut err), "sockit: reloaded the configuration; FROM kept until a restart");
    assert_eq!(&first(port), b"B\n");
    std::fs::write(&file, "to = 5\n").expect("write");
    signal(&relay.0, rustix::process::Signal::HUP);
    let refused = said(&mut err);
    assert!(refused.starts_with("sockit: reload refused, the configuration in force stays: "), "{refused}");
    assert_eq!(&first(port), b"B\n");
}

/// SIGHUP makes `tcp listen --keep-open` read its config file again: the clients that come
/// next are judged by the new rules; those connected stay.
#[test]
fn sighup_reloads_a_keep_open_listener() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("listen.toml");
    let f = file.display().to_string();
    let write = |allow: &str| {
        std::fs::write(&file, format!("port = 0\nbind = \"127.0.0.1\"\nkeep-open = true\nallow = [\"{allow}\"]\n"))
            .expect("write");
    };
    write("127.0.0.1/32");
    let mut cmd = crate::util::sockit_cmd(&["tcp", "listen", "--config", &f]);
    cmd.stdin(Stdio::piped());
    let (mut srv, port, mut err) = crate::util::listening(cmd);
    let mut early = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    early.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    // In once it has the input.
    srv.0.stdin.as_mut().expect("stdin").write_all(b"hello\n").expect("input");
    let mut got = [0u8; 6];
    early.read_exact(&mut got).expect("the early client");
    assert_eq!(&got, b"hello\n");
    write("127.0.0.2/32");
    signal(&srv.0, rustix::process::Signal::HUP);
    let mut l = String::new();
    err.read_line(&mut l).expect("a line");
    assert_eq!(l.trim_end(), "sockit: reloaded the configuration");
    // A newcomer from 127.0.0.1 is turned away now (closed at once); the early client stays.
    let mut late = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    late.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut byte = [0u8; 1];
    assert_eq!(late.read(&mut byte).expect("closed"), 0);
    srv.0.stdin.as_mut().expect("stdin").write_all(b"still here\n").expect("input");
    let mut got = [0u8; 11];
    early.read_exact(&mut got).expect("the early client");
    assert_eq!(&got, b"still here\n");
}

/// The metrics endpoint of `relay` and `tcp listen --keep-open` against hostile scrapers: a head
/// past 8 KiB is closed unanswered, silent connections do not hold up a real scrape, junk gets
/// its status.
#[test]
fn the_metrics_endpoint_takes_hostile_scrapers() {
    let mut cmd =
        crate::util::sockit_cmd(&["tcp", "listen", "0", "--bind", "127.0.0.1", "--keep-open", "--metrics", "0"]);
    cmd.stdin(Stdio::piped());
    let (_srv, _port, mut err) = crate::util::listening(cmd);
    let metrics = metrics_port(&mut err);
    let mut big = TcpStream::connect(("127.0.0.1", metrics)).expect("connect");
    big.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let _ = big.write_all(&vec![b'A'; 9 * 1024]);
    let mut got = Vec::new();
    let _ = big.read_to_end(&mut got);
    assert!(got.is_empty(), "an oversized head got an answer: {:?}", String::from_utf8_lossy(&got));
    let silent: Vec<TcpStream> =
        (0..10).map(|_| TcpStream::connect(("127.0.0.1", metrics)).expect("a silent scraper")).collect();
    let start = std::time::Instant::now();
    assert_eq!(get(metrics, "/metrics").0, "HTTP/1.1 200 OK");
    assert!(start.elapsed() < Duration::from_secs(2), "a real scrape waited {:?}", start.elapsed());
    let mut junk = TcpStream::connect(("127.0.0.1", metrics)).expect("connect");
    junk.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    junk.write_all(b"\x1b[2J\xff\xfe\r\n\r\n").expect("junk");
    let mut answer = String::new();
    let _ = junk.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"), "{answer:?}");
    drop(silent);
}

/// A room whose open-file limit holds fewer clients than --max-clients says so in one line at
/// its start (the limit is raised to the hard one first); one within the limit says nothing.
#[test]
fn a_room_says_when_its_open_file_limit_is_below_max_clients() {
    let serve = |max: &str| {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "ulimit -n 300 && exec \"$0\" \"$@\"", crate::util::sockit_bin()]);
        cmd.args(["chat", "serve", "--port", "0", "--bind", "127.0.0.1", "--no-discovery", "--max-clients", max]);
        let mut server = Server::start_cmd(cmd);
        let mut l = String::new();
        let more = server.stderr.read_line_within(&mut l, Duration::from_millis(500)).unwrap_or(0);
        (l, more)
    };
    let (l, _) = serve("1000");
    assert_eq!(
        l.trim_end(),
        "sockit: the open-file limit is 300: at most about 236 clients at once, fewer than --max-clients; raise it (ulimit -n, or LimitNOFILE= in a unit)"
    );
    let (l, more) = serve("200");
    assert_eq!((l.as_str(), more), ("", 0), "200 clients fit in 300 descriptors");
}

/// The chat port's accept queue is as deep as the system allows (net.core.somaxconn), not
/// 1,024: a burst of thousands of connections loses no SYN to a full queue (each lost one is
/// retried only a second later).
#[test]
fn the_chat_ports_accept_queue_is_as_deep_as_the_system_allows() {
    if !have("ss") {
        return;
    }
    let server = Server::start(&[]);
    let somaxconn = std::fs::read_to_string("/proc/sys/net/core/somaxconn").expect("somaxconn");
    let ss = crate::util::sh(&format!("ss -ltnH 'sport = :{}'", server.port));
    let depth = ss.split_whitespace().nth(2).unwrap_or_else(|| panic!("no listener in {ss:?}"));
    assert_eq!(depth, somaxconn.trim(), "{ss}");
}
