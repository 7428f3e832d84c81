//! The harness: run the built `sockit` (or a real peer) with a deadline and capture what it
//! did; build network namespaces that always come down again; decide whether a test that
//! needs root or a peer program may skip (never under CI).

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Default deadline for one command.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// What a finished process left behind.
#[derive(Debug)]
pub struct Output {
    /// Exit code; a process killed by a signal has none (-1 here).
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Output {
    pub fn stdout(&self) -> String {
        String::from_utf8(self.stdout.clone()).expect("stdout is UTF-8")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout()))
    }

    /// Assert success and return stdout.
    #[track_caller]
    pub fn ok(&self) -> String {
        assert_eq!(self.code, 0, "expected exit 0; stderr: {}", self.stderr);
        self.stdout()
    }

    /// Assert exit `code` with exactly one line on stderr, and return that line.
    #[track_caller]
    pub fn fails(&self, code: i32) -> String {
        assert_eq!(self.code, code, "expected exit {code}; stdout: {} stderr: {}", self.stdout(), self.stderr);
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "expected one line on stderr, got: {:?}", self.stderr);
        assert!(!self.stderr.contains("panicked"), "panic: {}", self.stderr);
        lines[0].to_string()
    }
}

/// The `sockit` binary under test.
/// The binary under test: the one cargo built for these tests, or the one SOCKIT_BIN names
/// (to run the suite against another build of it, such as the static one).
pub fn sockit_bin() -> &'static str {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| std::env::var("SOCKIT_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_sockit").to_string()))
}

/// A command for the binary under test.
pub fn sockit_cmd(args: &[&str]) -> Command {
    let mut c = Command::new(sockit_bin());
    c.args(args);
    c
}

/// Run `sockit ARGS` to completion within the default deadline.
pub fn sockit(args: &[&str]) -> Output {
    run(sockit_cmd(args), b"", DEADLINE)
}

/// Run a command with `input` on stdin; kill it and fail the test if it outlives `deadline`.
pub fn run(mut cmd: Command, input: &[u8], deadline: Duration) -> Output {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let input = input.to_vec();
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        // A program that exits without reading its input is not an error here.
        let _ = stdin.write_all(&input);
    });
    let stdout = reader(child.stdout.take().expect("stdout"));
    let stderr = reader(child.stderr.take().expect("stderr"));
    let code = wait_deadline(&mut child, deadline, &format!("{cmd:?}"));
    let _ = writer.join();
    Output {
        code,
        stdout: stdout.join().expect("stdout reader"),
        stderr: String::from_utf8_lossy(&stderr.join().expect("stderr reader")).into_owned(),
    }
}

fn reader(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

/// Wait for `child`, killing it (and failing) past `deadline`.
pub fn wait_deadline(child: &mut Child, deadline: Duration, what: &str) -> i32 {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status.code().unwrap_or(-1);
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Whether we run under CI, where nothing may be skipped.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A program of the project's Python environment (`.venv`, made by .ci/run: selenium,
/// websocat, websockets). Outside CI a missing one skips the test; under CI it fails it.
pub fn venv(program: &str) -> Option<String> {
    let path = format!("{}/../../.venv/bin/{program}", env!("CARGO_MANIFEST_DIR"));
    if std::path::Path::new(&path).exists() {
        return Some(path);
    }
    assert!(!under_ci(), "{path} is required under CI (.ci/run makes it)");
    eprintln!("skipping: {path} is not installed");
    None
}

/// Whether a peer program is present. Outside CI a missing peer skips the test with a
/// printed reason; under CI it fails the test.
#[track_caller]
pub fn have(program: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(!under_ci(), "{program} is required under CI (.ci/run installs it)");
        eprintln!("skipping: {program} is not installed");
    }
    found
}

/// Run a shell command line that must succeed; returns stdout.
#[track_caller]
pub fn sh(line: &str) -> String {
    let out = run(
        {
            let mut c = Command::new("sh");
            c.arg("-c").arg(line);
            c
        },
        b"",
        DEADLINE,
    );
    assert_eq!(out.code, 0, "`{line}` failed: {}", out.stderr);
    out.stdout()
}

static NETNS_SEQ: AtomicU32 = AtomicU32::new(0);

/// A network namespace made by a test, removed (with its /etc/netns files) when dropped,
/// also when the test fails.
#[derive(Debug)]
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// Create a namespace with loopback up, or `None` (skip) when this process cannot: not
    /// root, or no `ip`. Under CI that is a failure.
    #[track_caller]
    pub fn new(tag: &str) -> Option<Netns> {
        if !have("ip") {
            return None;
        }
        let name = format!("sockit-{tag}-{}-{}", std::process::id(), NETNS_SEQ.fetch_add(1, Ordering::Relaxed));
        let made =
            Command::new("ip").args(["netns", "add", &name]).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
        if !made {
            assert!(!under_ci(), "creating a network namespace failed under CI (needs root)");
            eprintln!("skipping: cannot create a network namespace (needs root)");
            return None;
        }
        let ns = Netns { name };
        ns.exec_ok("ip link set lo up");
        Some(ns)
    }

    /// `ip netns exec NAME sh -c LINE`, which must succeed.
    #[track_caller]
    pub fn exec_ok(&self, line: &str) -> String {
        sh(&format!("ip netns exec {} sh -c '{}'", self.name, line.replace('\'', r"'\''")))
    }

    /// A command that runs `program ARGS` inside the namespace.
    pub fn cmd(&self, program: &str, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]).args(args);
        c
    }

    /// Give the namespace its own resolv.conf: `ip netns exec` bind-mounts
    /// /etc/netns/NAME/resolv.conf over /etc/resolv.conf.
    pub fn set_resolv_conf(&self, text: &str) {
        self.set_etc("resolv.conf", text);
    }

    /// Give the namespace its own /etc/FILE (hosts, resolv.conf), bind-mounted the same way.
    pub fn set_etc(&self, file: &str, text: &str) {
        let dir = format!("/etc/netns/{}", self.name);
        std::fs::create_dir_all(&dir).expect("create /etc/netns dir");
        std::fs::File::create(format!("{dir}/{file}")).and_then(|mut f| f.write_all(text.as_bytes())).expect("write");
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
        let _ = std::fs::remove_dir_all(format!("/etc/netns/{}", self.name));
    }
}

/// A free port on 127.0.0.1 for both UDP and TCP at the moment of asking.
pub fn free_port() -> u16 {
    loop {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind udp");
        let port = udp.local_addr().expect("addr").port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A real DNS server: dnsmasq, authoritative for `test.` and 198.18.0.0/24, with the records
/// the caller gives, on 127.0.0.1 at a port of its own. Killed when dropped.
#[derive(Debug)]
pub struct Dnsmasq {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

/// The records every test server has.
pub const DNS_HOSTS: &str = "198.18.0.10 host1.test\n198.18.0.11 host2.test\n2001:db8::10 host1.test\n";

impl Dnsmasq {
    /// Start dnsmasq with `hosts` (an /etc/hosts-style file) and extra options; `None` (skip)
    /// when dnsmasq is missing outside CI.
    #[track_caller]
    pub fn start(hosts: &str, extra: &[&str]) -> Option<Dnsmasq> {
        if !have("dnsmasq") {
            return None;
        }
        Some(Dnsmasq::start_in(None, hosts, extra))
    }

    /// The same, inside a namespace (listening on 127.0.0.1:53 there).
    pub fn start_in(ns: Option<&Netns>, hosts: &str, extra: &[&str]) -> Dnsmasq {
        let dir = tempfile::tempdir().expect("tempdir");
        let hosts_path = dir.path().join("hosts");
        std::fs::write(&hosts_path, hosts).expect("write hosts");
        for _ in 0..10 {
            let port = if ns.is_some() { 53 } else { free_port() };
            let mut args: Vec<String> = [
                "-k",
                "-C",
                "/dev/null",
                "--no-resolv",
                "--no-hosts",
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                "-u",
                "root",
                "--pid-file=",
                "--log-facility=-",
                "--auth-zone=test,198.18.0.0/24,2001:db8::/64",
                "--auth-server=ns1.test,127.0.0.1",
                "--auth-soa=2026112501,hostmaster.test,1200,180,1209600",
                "--host-record=ns1.test,198.18.0.53",
            ]
            .iter()
            .map(std::string::ToString::to_string)
            .collect();
            args.push(format!("--port={port}"));
            args.push(format!("--addn-hosts={}", hosts_path.display()));
            args.extend(extra.iter().map(std::string::ToString::to_string));
            let mut cmd = match ns {
                Some(ns) => ns.cmd("dnsmasq", &[]),
                None => Command::new("dnsmasq"),
            };
            cmd.args(&args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
            let mut child = cmd.spawn().expect("start dnsmasq");
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(5) {
                if child.try_wait().expect("wait").is_some() {
                    break; // lost a race for the port: try another
                }
                if answers(ns, port) {
                    return Dnsmasq { child, port, _dir: dir };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("dnsmasq did not start");
    }

    /// `IP:PORT` for --server.
    pub fn server(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// Whether a DNS server accepts TCP connections on 127.0.0.1:port (inside `ns` if given).
fn answers(ns: Option<&Netns>, port: u16) -> bool {
    match ns {
        None => std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        Some(ns) => Command::new("ip")
            .args(["netns", "exec", &ns.name, "bash", "-c", &format!("exec 3<>/dev/tcp/127.0.0.1/{port}")])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success()),
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A child process killed when dropped.
#[derive(Debug)]
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `cmd` with pipes, and read the first line it says on stderr (where it listens).
pub fn started(mut cmd: Command) -> (Proc, String, PipeLines) {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let mut err = PipeLines::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    err.read_line(&mut line).expect("stderr line");
    (Proc(child), line, err)
}

/// How long a test waits for a child's next line before it fails.
pub const PIPE_DEADLINE: Duration = Duration::from_secs(30);

/// A child's pipe, read by a thread of its own: each read (a line, or bytes) waits at most
/// `PIPE_DEADLINE` (then fails with `TimedOut`), so a test fails instead of hanging on a child
/// that says nothing and never exits.
pub struct PipeLines {
    chunks: std::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
    /// What has come and not been read yet.
    held: Vec<u8>,
    ended: bool,
}

impl PipeLines {
    pub fn new(mut r: impl Read + Send + 'static) -> PipeLines {
        let (tx, chunks) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            loop {
                match r.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if tx.send(Ok(buf[..n].to_vec())).is_err() {
                            break;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        break;
                    }
                }
            }
        });
        PipeLines { chunks, held: Vec::new(), ended: false }
    }

    /// Wait until `until` for more bytes: false at the pipe's end.
    fn more(&mut self, until: Instant) -> std::io::Result<bool> {
        if self.ended {
            return Ok(false);
        }
        match self.chunks.recv_timeout(until.saturating_duration_since(Instant::now())) {
            Ok(Ok(chunk)) => {
                self.held.extend_from_slice(&chunk);
                Ok(true)
            }
            Ok(Err(e)) => Err(e),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                self.ended = true;
                Ok(false)
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "nothing more on the pipe in time"))
            }
        }
    }

    /// What has come and not been read yet, without waiting (for a failure to show).
    pub fn so_far(&mut self) -> String {
        while let Ok(Ok(chunk)) = self.chunks.try_recv() {
            self.held.extend_from_slice(&chunk);
        }
        String::from_utf8_lossy(&std::mem::take(&mut self.held)).into_owned()
    }

    /// The next line (with its newline) appended to `buf`, as `BufRead::read_line`: 0 at the
    /// pipe's end.
    pub fn read_line(&mut self, buf: &mut String) -> std::io::Result<usize> {
        self.read_line_within(buf, PIPE_DEADLINE)
    }

    /// `read_line`, waiting at most `within`.
    pub fn read_line_within(&mut self, buf: &mut String, within: Duration) -> std::io::Result<usize> {
        let until = Instant::now() + within;
        loop {
            if let Some(i) = self.held.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.held.drain(..=i).collect();
                buf.push_str(&String::from_utf8_lossy(&line));
                return Ok(line.len());
            }
            if !self.more(until)? {
                let rest = std::mem::take(&mut self.held);
                buf.push_str(&String::from_utf8_lossy(&rest));
                return Ok(rest.len());
            }
        }
    }

    /// Everything to the pipe's end, appended to `buf`, within the deadline.
    pub fn read_to_string(&mut self, buf: &mut String) -> std::io::Result<usize> {
        let mut all = Vec::new();
        let n = self.read_to_end(&mut all)?;
        buf.push_str(&String::from_utf8_lossy(&all));
        Ok(n)
    }

    /// The lines to the pipe's end, without their newlines, each within the deadline (a late
    /// one is an error, which ends the iteration for `map_while(Result::ok)`).
    pub fn lines(mut self) -> impl Iterator<Item = std::io::Result<String>> {
        std::iter::from_fn(move || {
            let mut line = String::new();
            match self.read_line(&mut line) {
                Ok(0) => None,
                Ok(_) => Some(Ok(line.strip_suffix('\n').unwrap_or(&line).to_string())),
                Err(e) => Some(Err(e)),
            }
        })
    }
}

impl Read for PipeLines {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.held.is_empty() && !self.more(Instant::now() + PIPE_DEADLINE)? {
            return Ok(0);
        }
        let n = out.len().min(self.held.len());
        out[..n].copy_from_slice(&self.held[..n]);
        self.held.drain(..n);
        Ok(n)
    }
}

/// Start `sockit ARGS` (or a shell line) with pipes, and read the port it reports on stderr.
pub fn listening(cmd: Command) -> (Proc, u16, PipeLines) {
    let (child, line, err) = started(cmd);
    let port = line
        .trim()
        .strip_suffix("(tcp)")
        .or_else(|| line.trim().strip_suffix("(udp)"))
        .and_then(|l| l.trim().rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    (child, port, err)
}

/// A self-signed certificate for localhost (P-256, with its subjectAltName) made by openssl in
/// `dir`: the certificate's path and the key's.
pub fn openssl_cert(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    openssl_cert_as(dir, false)
}

/// The same, marked a CA certificate (`basicConstraints CA:TRUE`) when `ca`.
pub fn openssl_cert_as(dir: &std::path::Path, ca: bool) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let constraints = if ca { "basicConstraints=critical,CA:TRUE" } else { "basicConstraints=critical,CA:FALSE" };
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2"])
        .args(["-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost", "-addext", constraints])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl req");
    assert!(made.success(), "openssl req");
    (cert, key)
}

/// Wait (up to 10 s) until TCP `ports` are listened on in a namespace (its /proc/net/tcp).
pub fn wait_listening_in(ns: &Netns, ports: &[&str]) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        let table = run(ns.cmd("cat", &["/proc/net/tcp"]), b"", DEADLINE).stdout();
        let listening = |p: &str| {
            let needle = format!(":{:04X} ", p.parse::<u16>().expect("port"));
            table.lines().any(|l| {
                l.split_whitespace().nth(1).is_some_and(|a| a.ends_with(needle.trim_end()))
                    && l.split_whitespace().nth(3) == Some("0A")
            })
        };
        if ports.iter().all(|p| listening(p)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listens on {ports:?} after 10 s");
}

/// Wait (up to 10 s) until something listens on TCP `port`, without connecting to it: a probe
/// connection would be the listener's one client.
pub fn wait_listening(port: u16) {
    let needle = format!(":{port:04X} ");
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            let text = std::fs::read_to_string(table).unwrap_or_default();
            // Local address column, state 0A (LISTEN).
            if text.lines().any(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.len() > 3 && format!("{} ", f[1]).ends_with(&needle) && f[3] == "0A"
            }) {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("nothing listens on port {port} after 10 s");
}

/// A LAN of its own: `n` hosts in namespaces on a bridge (in a switch namespace), with
/// addresses 198.18.0.1..n/24 on eth0 and a default route, so that 255.255.255.255 has
/// somewhere to go inside them, and IPv6 link-local addresses usable at once (no DAD). Everything is removed when dropped.
#[derive(Debug)]
pub struct Lan {
    pub hosts: Vec<Netns>,
    // Dropped after the hosts: their veths go with them.
    _switch: Netns,
}

impl Lan {
    /// `None` (skip) when namespaces cannot be made outside CI.
    #[track_caller]
    pub fn new(tag: &str, n: usize) -> Option<Lan> {
        let switch = Netns::new(&format!("{tag}sw"))?;
        let hosts: Vec<Netns> = (0..n).filter_map(|_| Netns::new(tag)).collect();
        assert_eq!(hosts.len(), n, "could not create {n} namespaces");
        // No IGMP snooping: with no querier on the LAN, the bridge floods multicast to every port.
        switch.exec_ok("ip link add br0 type bridge mcast_snooping 0 && ip link set br0 up");
        static SEQ: AtomicU32 = AtomicU32::new(0);
        for (i, h) in hosts.iter().enumerate() {
            // Interface names are global while both ends are made: keep them unique and short.
            let k = SEQ.fetch_add(1, Ordering::Relaxed);
            let (a, b) =
                (format!("la{}x{k}", std::process::id() % 10000), format!("lb{}x{k}", std::process::id() % 10000));
            sh(&format!("ip link add {a} netns {} type veth peer name {b} netns {}", h.name, switch.name));
            switch.exec_ok(&format!("ip link set {b} master br0 && ip link set {b} up"));
            h.exec_ok(&format!(
                "ip link set {a} name eth0 && sysctl -qw net.ipv6.conf.eth0.accept_dad=0 && ip link set eth0 up && \
                 ip addr add 198.18.0.{}/24 dev eth0 && ip route add default via 198.18.0.254 dev eth0",
                i + 1
            ));
        }
        Some(Lan { hosts, _switch: switch })
    }
}

/// A Python peer on a LAN host at `addr` that accepts one connection and holds it (says
/// nothing, closes nothing) until its stdin ends; its port.
pub fn holder(host: &Netns, addr: &str) -> (Proc, u16) {
    let code = format!(
        "import socket, sys\ns = socket.socket(); s.bind(('{addr}', 0)); s.listen(1)\n\
         print(s.getsockname()[1], flush=True)\nc, _ = s.accept()\nsys.stdin.read()\n"
    );
    let mut p = Proc(
        host.cmd("python3", &["-c", &code]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("python3"),
    );
    let mut port = String::new();
    PipeLines::new(p.0.stdout.take().expect("stdout")).read_line(&mut port).expect("port");
    (p, port.trim().parse().expect("port"))
}

/// socat listening on the Unix socket `path` (forking a child a client) that greets each
/// client with "from socat" and reads what it sends; returned once the socket file is there.
pub fn socat_unix_greeter(path: &str) -> Proc {
    let p = Proc(
        Command::new("socat")
            .args([&format!("UNIX-LISTEN:{path},fork"), "SYSTEM:echo from socat; cat >/dev/null"])
            .spawn()
            .expect("socat"),
    );
    let start = Instant::now();
    while !std::path::Path::new(path).exists() && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    p
}

/// A copy of the binary under test in `dir` that anyone may run (the folder opened to all).
pub fn runnable_copy(dir: &std::path::Path) -> String {
    let bin = dir.join("sockit");
    std::fs::copy(sockit_bin(), &bin).expect("copy");
    for p in [dir, bin.as_path()] {
        std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    }
    bin.display().to_string()
}

/// A copy of the binary anyone may run, and a command that runs a shell line as an
/// unprivileged user (root is not held to RLIMIT_NPROC); `None` outside CI without root.
pub fn as_nobody(dir: &std::path::Path, line: &str) -> Option<Command> {
    if !rustix::process::geteuid().is_root() || !have("setpriv") {
        assert!(!under_ci(), "under CI this test needs root and setpriv");
        eprintln!("skipping: needs root and setpriv");
        return None;
    }
    let bin = runnable_copy(dir);
    let mut cmd = Command::new("setpriv");
    // A uid of its own, so other processes do not count against its thread limit.
    cmd.args(["--reuid=64999", "--regid=64999", "--clear-groups", "bash", "-c"]).arg(line.replace("sockit", &bin));
    Some(cmd)
}

/// Everything `r` gives up to its end, read by a thread of its own, if it ends within
/// `within`: a test fails instead of hanging on a pipe that never closes.
pub fn all_within(mut r: impl Read + Send + 'static, within: Duration) -> Option<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut all = String::new();
        if r.read_to_string(&mut all).is_ok() {
            let _ = tx.send(all);
        }
    });
    rx.recv_timeout(within).ok()
}

/// The first line `r` gives within `within` (a thread reads it, so a peer that never writes
/// costs the test the deadline, not a hang); `None` if none came.
pub fn line_within(r: impl Read + Send + 'static, within: Duration) -> Option<String> {
    let mut line = String::new();
    PipeLines::new(r).read_line_within(&mut line, within).ok()?;
    Some(line)
}

/// What a process writes on a pipe, gathered by a thread of its own: read with a deadline.
pub struct Collected(Arc<Mutex<Vec<u8>>>);

impl Collected {
    pub fn from(mut out: impl Read + Send + 'static) -> Collected {
        let got = Arc::new(Mutex::new(Vec::new()));
        let into = Arc::clone(&got);
        std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                into.lock().expect("lock").extend_from_slice(&buf[..n]);
            }
        });
        Collected(got)
    }

    /// Wait (up to `within`) for `n` lines; the lines there are then, sorted.
    pub fn lines(&self, n: usize, within: Duration) -> Vec<String> {
        let start = Instant::now();
        loop {
            let text = String::from_utf8_lossy(&self.0.lock().expect("lock")).into_owned();
            let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
            if lines.len() >= n || start.elapsed() > within {
                lines.sort();
                return lines;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
