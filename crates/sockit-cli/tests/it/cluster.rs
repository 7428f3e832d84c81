//! `chat serve --cluster`: servers joined through a real NATS broker (nats-server, on
//! 127.0.0.1 at a port it picks) serve one room. Line clients of every kind (our own raw
//! sockets, nc.openbsd, Python's socket module, `sockit chat join`) on different servers see
//! each other's lines once and in order; /who, /msg, nick collisions, history, discovery; the
//! broker and a server killed with SIGKILL mid-conversation; crowds joining at once.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use crate::chat::{Client, Server, lines_of, next_until, piped, rustix_kill};
use crate::util::{DEADLINE, Proc, have, run, sockit, sockit_cmd};

/// A nats-server of the test's own on 127.0.0.1.
pub(crate) struct Broker {
    proc: Proc,
    pub(crate) port: u16,
    args: Vec<String>,
}

impl Broker {
    /// A broker at a port it picks (None, and the test skipped, where nats-server is missing
    /// outside CI).
    pub(crate) fn start(extra: &[&str]) -> Option<Broker> {
        if !have("nats-server") {
            return None;
        }
        let args: Vec<String> = extra.iter().map(std::string::ToString::to_string).collect();
        let (proc, port) = Broker::spawn(-1, &args);
        Some(Broker { proc, port: u16::try_from(port).expect("port"), args })
    }

    /// Start nats-server on `port` (-1: one it picks) and wait until it listens.
    fn spawn(port: i32, args: &[String]) -> (Proc, i32) {
        let mut child = Proc(
            Command::new("nats-server")
                .args(["-a", "127.0.0.1", "-p", &port.to_string()])
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("nats-server"),
        );
        let lines = lines_of(child.0.stderr.take().expect("stderr"));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let l = lines.recv_timeout(left).expect("nats-server listening within 10 s");
            // "[INF] Listening for client connections on 127.0.0.1:PORT"
            if let Some(at) = l.find("Listening for client connections on ") {
                let p = l[at..].rsplit(':').next().and_then(|p| p.trim().parse().ok()).expect("port");
                // The rest of its log is read and dropped.
                std::thread::spawn(move || for _ in lines {});
                return (child, p);
            }
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn kill(&mut self) {
        rustix_kill(self.proc.0.id(), "KILL");
        let _ = self.proc.0.wait();
    }

    /// Start again on the same port, with the same options.
    fn restart(&mut self) {
        let (proc, _) = Broker::spawn(i32::from(self.port), &self.args);
        self.proc = proc;
    }
}

/// A chat server of the cluster, named `node`, its console (JSON Lines) read by a thread.
pub(crate) fn member_server(broker: &str, node: &str, extra: &[&str]) -> (Server, Receiver<String>) {
    let base = ["chat", "serve", "--port", "0", "--bind", "127.0.0.1", "--no-discovery", "--json"];
    let mut s = Server::start_cmd(sockit_cmd(&[&base[..], &["--cluster", broker, "--node", node], extra].concat()));
    let console = lines_of(s.proc.0.stdout.take().expect("stdout"));
    (s, console)
}

/// Ask `/who` until it lists `want` (within 15 s); the last answer.
pub(crate) fn who_until(c: &mut Client, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        c.send("/who");
        let l = c.until(|l| l.starts_with("* online ("));
        if l == want || Instant::now() > deadline {
            return l;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Lines of `prefix-0` .. `prefix-(n-1)`.
fn numbered(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

/// Read from `next` until every line of every sender in `expected` has arrived; fail on a
/// line seen twice or out of its sender's order. `next` gives None at the end.
fn collect_in_order(mut next: impl FnMut() -> Option<String>, expected: &[(&str, Vec<String>)]) {
    let mut at: HashMap<&str, usize> = expected.iter().map(|(n, _)| (*n, 0)).collect();
    let total: usize = expected.iter().map(|(_, l)| l.len()).sum();
    let mut got = 0;
    while got < total {
        let Some(line) = next() else { panic!("ended after {got} of {total} lines: {at:?}") };
        for (nick, lines) in expected {
            let Some(text) = line.strip_prefix(&format!("<{nick}> ")) else { continue };
            let i = at.get_mut(nick).expect("sender");
            assert!(*i < lines.len(), "{nick}: more than {} lines: {text}", lines.len());
            assert_eq!(text, lines[*i], "{nick}'s lines out of order or twice");
            *i += 1;
            got += 1;
        }
    }
}

#[test]
fn three_servers_are_one_room_for_every_kind_of_client() {
    let Some(broker) = Broker::start(&[]) else { return };
    if !have("nc.openbsd") || !have("python3") {
        return;
    }
    let url = broker.url();
    let (a, console_a) = member_server(&url, "a", &["--history", "3"]);
    let (b, _cb) = member_server(&url, "b", &["--history", "3"]);
    let (c, _cc) = member_server(&url, "c", &["--history", "3"]);
    let mut alice = Client::join(&a, "alice");
    let mut bob = Client::join(&b, "bob");
    // carol: sockit's own client on c; dave: nc.openbsd on a; erin: Python's socket on b.
    let (_carol_p, mut carol, carol_rx) =
        piped(sockit_cmd(&["chat", "join", &format!("127.0.0.1:{}", c.port), "--nick", "carol"]));
    let (_dave_p, mut dave, dave_rx) = piped({
        let mut cmd = Command::new("nc.openbsd");
        cmd.args(["127.0.0.1", &a.port.to_string()]);
        cmd
    });
    writeln!(dave, "/nick dave").expect("dave");
    let python = r#"
import socket, sys, threading
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
def out():
    f = s.makefile("rb")
    for line in f:
        sys.stdout.buffer.write(line); sys.stdout.flush()
threading.Thread(target=out, daemon=True).start()
for line in sys.stdin.buffer:
    s.sendall(line)
s.shutdown(socket.SHUT_WR)
threading.Event().wait(2)
"#;
    let (_erin_p, mut erin, erin_rx) = piped({
        let mut cmd = Command::new("python3");
        cmd.args(["-c", python, &b.port.to_string()]);
        cmd
    });
    writeln!(erin, "/nick erin").expect("erin");
    // wendy: a WebSocket member (websocat) on c.
    let Some(websocat) = crate::util::venv("websocat") else { return };
    let (_wendy_p, mut wendy, wendy_rx) = piped({
        let mut cmd = Command::new(websocat);
        cmd.args(["-t", &format!("ws://127.0.0.1:{}/ws", c.port)]).stderr(Stdio::null());
        cmd
    });
    writeln!(wendy, "/nick wendy").expect("wendy");
    let want = "* online (6): alice (a), bob (b), carol (c), dave (a), erin (b), wendy (c)";
    assert_eq!(who_until(&mut alice, want), want);
    assert_eq!(who_until(&mut bob, want), want);

    // Everyone speaks at once; everyone hears everyone else's lines once, in order.
    let lines: Vec<(&str, Vec<String>)> =
        ["alice", "bob", "carol", "dave", "erin", "wendy"].iter().map(|n| (*n, numbered(n, 30))).collect();
    let say = |w: &mut dyn Write, l: &[String]| {
        for x in l {
            writeln!(w, "{x}").expect("say");
        }
    };
    say(&mut alice.w, &lines[0].1);
    say(&mut bob.w, &lines[1].1);
    say(&mut carol, &lines[2].1);
    say(&mut dave, &lines[3].1);
    say(&mut erin, &lines[4].1);
    say(&mut wendy, &lines[5].1);
    let others = |me: &str| lines.iter().filter(|(n, _)| *n != me).cloned().collect::<Vec<_>>();
    collect_in_order(|| Some(alice.line()).filter(|l| !l.is_empty()), &others("alice"));
    collect_in_order(|| Some(bob.line()).filter(|l| !l.is_empty()), &others("bob"));
    let from = |rx: &Receiver<String>| rx.recv_timeout(Duration::from_secs(10)).ok();
    collect_in_order(|| from(&carol_rx), &others("carol"));
    collect_in_order(|| from(&dave_rx), &others("dave"));
    collect_in_order(|| from(&erin_rx), &others("erin"));
    collect_in_order(|| from(&wendy_rx), &others("wendy"));

    // /msg across servers reaches its one reader; /me crosses too.
    alice.send("/msg carol for carol only");
    assert_eq!(alice.until(|l| l.starts_with("* sent")), "* sent to carol only");
    assert_eq!(next_until(&carol_rx, |l| l.contains("for carol only")), "*alice* for carol only");
    bob.send("/me waves");
    assert_eq!(alice.until(|l| l.starts_with("** ")), "** bob waves");
    assert_eq!(next_until(&dave_rx, |l| l.starts_with("** ")), "** bob waves");
    assert_eq!(next_until(&wendy_rx, |l| l.starts_with("** ")), "** bob waves");
    // Nobody else saw the private line.
    erin.write_all(b"/who\n").expect("erin");
    let upto_who = |rx: &Receiver<String>| {
        let mut seen = Vec::new();
        loop {
            let l = rx.recv_timeout(Duration::from_secs(10)).expect("line");
            if l.starts_with("* online (") {
                return seen;
            }
            seen.push(l);
        }
    };
    assert!(upto_who(&erin_rx).iter().all(|l| !l.contains("for carol only")));
    // A nick held on another server is taken here too.
    bob.send("/nick alice");
    assert_eq!(bob.until(|l| l.starts_with("* the nick")), "* the nick alice is taken: choose another");
    // /msg to nobody.
    bob.send("/msg nobody x");
    assert_eq!(bob.until(|l| l.starts_with("* no one")), "* no one called nobody is here (/who lists everyone)");

    // A newcomer on c gets the last three lines said in the room.
    let mut late = c.connect();
    late.send("/nick late");
    let welcome = late.line();
    assert!(welcome.starts_with("* welcome to sockit, you are guest-3-"), "{welcome}");
    assert!(welcome.contains("; 6 others online: alice, bob, carol, dave, erin, wendy"), "{welcome}");
    assert_eq!(late.line(), "* the last 3 lines said here:");
    let history: Vec<String> = (0..3).map(|_| late.line()).collect();
    assert!(history.contains(&"** bob waves".to_string()), "{history:?}");
    assert!(history.iter().all(|l| l.starts_with('<') || l.starts_with("** ")), "{history:?}");
    assert!(history.iter().all(|l| !l.starts_with("*alice*")), "{history:?}");

    // a's console says where a remote line came from, and not for its own.
    let (mut remote, mut own) = (None, None);
    while remote.is_none() || own.is_none() {
        let l = console_a.recv_timeout(Duration::from_secs(10)).expect("console line");
        if l.contains("\"text\":\"bob-0\"") {
            remote = Some(l);
        } else if l.contains("\"text\":\"alice-0\"") {
            own = Some(l);
        }
    }
    let v: serde_json::Value = serde_json::from_str(&remote.expect("bob-0")).expect("json");
    assert_eq!(v, serde_json::json!({"type": "said", "nick": "bob", "text": "bob-0", "server": "b"}));
    let own = own.expect("alice-0");
    assert!(!own.contains("\"server\""), "{own}");
}

#[test]
fn nicks_granted_twice_at_once_go_to_the_earlier_claim() {
    let Some(mut broker) = Broker::start(&[]) else { return };
    let url = broker.url();
    let (a, _ca) = member_server(&url, "a", &[]);
    let (b, _cb) = member_server(&url, "b", &[]);
    let mut x = Client::join(&a, "x1");
    let mut y = Client::join(&b, "y1");
    let want = "* online (2): x1 (a), y1 (b)";
    assert_eq!(who_until(&mut x, want), want);
    // With the broker gone, each server grants "sam" on its own: a's member first.
    broker.kill();
    x.until(|l| l.starts_with("* the link to the other servers is down"));
    y.until(|l| l.starts_with("* the link to the other servers is down"));
    x.send("/nick sam");
    x.until(|l| l == "* x1 is now known as sam");
    std::thread::sleep(Duration::from_millis(20));
    y.send("/nick Sam");
    y.until(|l| l == "* y1 is now known as Sam");
    broker.restart();
    x.until(|l| l == "* the link to the other servers is back");
    // The later claim (b's) gives way: its member is told why and renamed; everyone hears it.
    let told = y.until(|l| l.contains("granted the nick"));
    let now = told.rsplit("you are now ").next().expect("new nick").to_string();
    assert_eq!(told, format!("* a granted the nick Sam at the same time, and its claim came first: you are now {now}"));
    assert!(now.starts_with("guest-") && now.len() > "guest-1-".len(), "{now}");
    assert_eq!(x.until(|l| l.starts_with("* Sam is now known as")), format!("* Sam is now known as {now}"));
    let want = format!("* online (2): {now} (b), sam (a)");
    assert_eq!(who_until(&mut x, &want), want);
    assert_eq!(who_until(&mut y, &want), want);
}

#[test]
fn the_broker_killed_and_back_loses_no_room_and_duplicates_nothing() {
    let Some(mut broker) = Broker::start(&[]) else { return };
    let url = broker.url();
    let (a, _ca) = member_server(&url, "a", &[]);
    let (b, _cb) = member_server(&url, "b", &[]);
    let mut alice = Client::join(&a, "alice");
    let mut ann = Client::join(&a, "ann");
    let mut bob = Client::join(&b, "bob");
    let want = "* online (3): alice (a), ann (a), bob (b)";
    assert_eq!(who_until(&mut bob, want), want);
    alice.send("before");
    assert_eq!(bob.until(|l| l.starts_with("<alice>")), "<alice> before");
    broker.kill();
    for c in [&mut alice, &mut ann, &mut bob] {
        c.until(|l| {
            l == "* the link to the other servers is down: this server's room carries on, members elsewhere are out of reach"
        });
    }
    // The local room carries on.
    alice.send("local while down");
    assert_eq!(ann.until(|l| l.starts_with("<alice>")), "<alice> local while down");
    broker.restart();
    for c in [&mut alice, &mut ann, &mut bob] {
        c.until(|l| l == "* the link to the other servers is back");
    }
    // The link carries lines again, each once.
    alice.send("after");
    bob.send("bob after");
    assert_eq!(bob.until(|l| l.starts_with("<alice> a")), "<alice> after");
    assert_eq!(alice.until(|l| l.starts_with("<bob>")), "<bob> bob after");
    // Nothing said before the outage comes again; whatever of the outage's lines did not
    // cross is told as lost, not silently.
    bob.send("/who");
    let mut rest = Vec::new();
    loop {
        let l = bob.line();
        if l.starts_with("* online (") {
            assert_eq!(l, want);
            break;
        }
        rest.push(l);
    }
    assert!(rest.iter().all(|l| l != "<alice> before" && l != "<alice> after"), "{rest:?}");
    let want = "* online (3): alice (a), ann (a), bob (b)";
    assert_eq!(who_until(&mut alice, want), want);
}

#[test]
fn a_killed_server_leaves_who_everywhere() {
    let Some(broker) = Broker::start(&[]) else { return };
    let url = broker.url();
    let (a, _ca) = member_server(&url, "a", &[]);
    let (b, _cb) = member_server(&url, "b", &[]);
    let (mut c, _cc) = member_server(&url, "c", &[]);
    let mut alice = Client::join(&a, "alice");
    let mut bob = Client::join(&b, "bob");
    let _carol = Client::join(&c, "carol");
    let want = "* online (3): alice (a), bob (b), carol (c)";
    assert_eq!(who_until(&mut alice, want), want);
    rustix_kill(c.proc.0.id(), "KILL");
    let _ = c.proc.0.wait();
    let killed = Instant::now();
    for m in [&mut alice, &mut bob] {
        m.w.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
        let gone = m.until(|l| l.starts_with("* server c is gone"));
        assert_eq!(gone, "* server c is gone (no word from it for 9 s): carol left");
    }
    assert!(killed.elapsed() < Duration::from_secs(15), "gone after {:?}", killed.elapsed());
    let want = "* online (2): alice (a), bob (b)";
    assert_eq!(who_until(&mut bob, want), want);
}

/// 3 servers x 2,000 clients join at once: each observer hears of the crowd in a few notices
/// (batched on its own server and on the others), and /who counts everyone.
#[test]
fn crowds_on_three_servers_join_without_a_notice_storm() {
    let Some(broker) = Broker::start(&[]) else { return };
    if !have("python3") {
        return;
    }
    let url = broker.url();
    let servers: Vec<(Server, Receiver<String>)> =
        ["a", "b", "c"].iter().map(|n| member_server(&url, n, &["--no-web"])).collect();
    let mut observers: Vec<Client> =
        servers.iter().zip(["oa", "ob", "oc"]).map(|((s, _), n)| Client::join(s, n)).collect();
    let want = "* online (3): oa (a), ob (b), oc (c)";
    for o in &mut observers {
        assert_eq!(who_until(o, want), want);
    }
    let crowd = r#"
import resource, socket, sys, time
resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192))
socks = []
for port in sys.argv[1:]:
    for _ in range(2000):
        socks.append(socket.create_connection(("127.0.0.1", int(port))))
print("joined", flush=True)
sys.stdin.read()
"#;
    let mut cmd = Command::new("python3");
    cmd.args(["-c", crowd]).args(servers.iter().map(|(s, _)| s.port.to_string()));
    let (_crowd_p, crowd_in, crowd_rx) = piped(cmd);
    assert_eq!(crowd_rx.recv_timeout(Duration::from_secs(60)).expect("the crowd joined"), "joined");
    // Every observer: the count reaches 6,003 and every crowd member was announced once, in
    // few notices.
    for o in &mut observers {
        let want = "* online (6003)";
        let deadline = Instant::now() + Duration::from_secs(30);
        let (mut notices, mut announced) = (0, 0);
        loop {
            o.send("/who");
            let l = o.until(|l| {
                if let Some(n) = joined_count(l) {
                    notices += 1;
                    announced += n;
                }
                l.starts_with("* online (")
            });
            if l.starts_with(want) || Instant::now() > deadline {
                assert!(l.starts_with(want), "{l}");
                break;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        assert_eq!(announced, 6000, "each of the crowd announced once");
        assert!(notices <= 90, "{notices} join notices for 6,000 joins");
    }
    drop(crowd_in);
}

/// How many joined in a `* ... joined` notice: the names, plus "N others".
fn joined_count(l: &str) -> Option<usize> {
    let names = l.strip_prefix("* ")?.strip_suffix(" joined")?;
    if names.contains(" is now known as ") {
        return None;
    }
    Some(match names.rsplit_once(" and ") {
        Some((head, tail)) => {
            let listed = head.split(", ").count();
            match tail.strip_suffix(" others").and_then(|n| n.parse::<usize>().ok()) {
                Some(n) => listed + n,
                None => listed + 1,
            }
        }
        None => 1,
    })
}

#[test]
fn brokers_that_cannot_be_had_are_one_line_and_credentials_are_never_shown() {
    let Some(broker) = Broker::start(&["--user", "sk", "--pass", "s3cret-pw"]) else { return };
    let base = ["chat", "serve", "--port", "0", "--bind", "127.0.0.1", "--no-discovery", "--cluster"];
    let nobody = crate::util::free_port();
    let out = sockit(&[&base[..], &[&format!("nats://127.0.0.1:{nobody}")]].concat());
    assert_eq!(
        out.fails(1),
        format!("sockit: cannot reach the broker at nats://127.0.0.1:{nobody}: is nats-server running there?")
    );
    // Credentials from the environment, from a file, and (with a warning) from the command line;
    // wrong ones are refused in one line that never shows them.
    let refused =
        format!("sockit: the broker at nats://127.0.0.1:{} refused the user and password: check them", broker.port);
    let plain = format!("nats://127.0.0.1:{}", broker.port);
    let wrong = format!("nats://sk:wrong-pw@127.0.0.1:{}", broker.port);
    let mut env = sockit_cmd(&base[..base.len() - 1]);
    env.env("SOCKIT_CLUSTER", &wrong);
    let out = crate::util::run(env, b"", crate::util::DEADLINE);
    assert_eq!(out.fails(1), refused);
    let dir = tempfile::tempdir().expect("tmp");
    let wrong_file = dir.path().join("wrong");
    std::fs::write(&wrong_file, "sk:wrong-pw\n").expect("write");
    let out = sockit(&[&base[..], &[&plain, "--cluster-credentials", wrong_file.to_str().expect("utf-8")]].concat());
    assert_eq!(out.fails(1), refused);
    let out = sockit(&[&base[..], &[&wrong]].concat());
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr.lines().collect::<Vec<_>>(),
        [
            "sockit: warning: the password in --cluster can be read by every user of this machine (ps): give the URL in SOCKIT_CLUSTER, or the password in --cluster-credentials FILE",
            refused.as_str()
        ]
    );
    assert!(!out.stderr.contains("pw") && !out.stdout().contains("pw"), "{}", out.stderr);
    // A password with a '/' (not a URL any more) is not shown either.
    let out = sockit(&[&base[..], &["nats://sk:pa/ss@127.0.0.1:1"]].concat());
    assert_eq!(out.code, 2);
    assert!(out.stderr.ends_with("sockit: --cluster: not a broker URL: nats://127.0.0.1:1\n"), "{}", out.stderr);
    assert!(!out.stderr.contains("pa/") && !out.stderr.contains("ss@"), "{}", out.stderr);
    for bad in ["foo://127.0.0.1:4222", "nats://[::1", ","] {
        let line = sockit(&[&base[..], &[bad]].concat()).fails(2);
        assert!(line.starts_with("sockit: --cluster"), "{bad}: {line}");
    }
    let line = sockit(&[&base[..], &[&broker.url(), "--cluster-name", "a b"]].concat()).fails(2);
    assert!(line.starts_with("sockit: --cluster-name is 1 to 64"), "{line}");
    // The right password, from a file: it serves, and says where without the password.
    let right = dir.path().join("right");
    std::fs::write(&right, "sk:s3cret-pw\n").expect("write");
    let (mut s, _console) = member_server(&plain, "a", &["--cluster-credentials", right.to_str().expect("utf-8")]);
    let mut second = String::new();
    s.stderr.read_line(&mut second).expect("second line");
    assert_eq!(
        second.trim_end(),
        format!("sockit: cluster sockit through nats://127.0.0.1:{}, this server is a", broker.port)
    );
    let mut c = Client::join(&s, "solo");
    c.send("/who");
    assert_eq!(c.until(|l| l.starts_with("* online")), "* online (1): solo (a)");
}

#[test]
fn a_tls_broker_needs_a_certificate_sockit_trusts() {
    let dir = tempfile::tempdir().expect("tmp");
    if !have("openssl") {
        return;
    }
    let (cert, key) = crate::util::openssl_cert(dir.path());
    let (cert, key) = (cert.to_str().expect("path"), key.to_str().expect("path"));
    let Some(broker) = Broker::start(&["--tls", "--tlscert", cert, "--tlskey", key]) else { return };
    let url = format!("tls://localhost:{}", broker.port);
    let base = ["chat", "serve", "--port", "0", "--bind", "127.0.0.1", "--no-discovery", "--cluster", &url];
    let line = sockit(&base).fails(1);
    assert!(
        line.starts_with(&format!("sockit: no TLS with the broker at {url} (invalid peer certificate: ")),
        "{line}"
    );
    assert!(line.ends_with("): a tls:// broker needs a certificate sockit trusts: pass --cluster-ca FILE"), "{line}");
    let (a, _ca) = member_server(&url, "a", &["--cluster-ca", cert]);
    let (b, _cb) = member_server(&url, "b", &["--cluster-ca", cert]);
    let mut x = Client::join(&a, "x");
    let mut y = Client::join(&b, "y");
    let want = "* online (2): x (a), y (b)";
    assert_eq!(who_until(&mut y, want), want);
    x.send("over tls");
    assert_eq!(y.until(|l| l.starts_with("<x>")), "<x> over tls");
}

#[test]
fn discovery_shows_clusters_and_join_picks_the_least_busy_server() {
    let Some(broker) = Broker::start(&[]) else { return };
    let url = broker.url();
    let d = crate::util::free_port().to_string();
    let start = |node: &str| {
        let args = ["chat", "serve", "--port", "0", "--bind", "127.0.0.1", "--discovery-port", &d, "--no-web"];
        let mut s = Server::start_cmd(sockit_cmd(
            &[&args[..], &["--cluster", &url, "--cluster-name", "lab", "--node", node]].concat(),
        ));
        let console = lines_of(s.proc.0.stdout.take().expect("stdout"));
        (s, console)
    };
    let ((a, _ca), (b, _cb)) = (start("a"), start("b"));
    let _busy = [Client::join(&a, "one"), Client::join(&a, "two")];
    let v = sockit(&["chat", "discover", "--json", "--broadcast", "127.255.255.255", "--discovery-port", &d]).json();
    let servers = v["servers"].as_array().expect("servers");
    assert_eq!(servers.len(), 2, "{v}");
    assert!(servers.iter().all(|s| s["cluster"] == "lab"), "{v}");
    let text = sockit(&["chat", "discover", "--broadcast", "127.255.255.255", "--discovery-port", &d]).ok();
    assert_eq!(text.lines().filter(|l| l.ends_with("  cluster lab")).count(), 2, "{text}");
    // Without a host and not on a terminal: the server with fewer users (b), without asking.
    let out = run(
        sockit_cmd(&["chat", "join", "--broadcast", "127.255.255.255", "--discovery-port", &d, "--nick", "newcomer"]),
        b"/who\n",
        DEADLINE,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stderr.lines().next(), Some(format!("sockit: joining sockit at 127.0.0.1:{}", b.port).as_str()));
    assert!(out.stdout().contains("newcomer (b)"), "{}", out.stdout());
}

/// Another "server" on the broker that lies: escapes in its lines, a number used twice, a
/// gap, garbage, bad nicks, words for a nick it does not hold, an oversized member list. The
/// room shows its lines escaped, once, tells the gap, and ignores the rest. (It speaks NATS's text protocol itself, as any
/// client of the broker may.)
#[test]
fn a_lying_server_on_the_broker_fools_nobody() {
    let Some(broker) = Broker::start(&[]) else { return };
    let (a, _ca) = member_server(&broker.url(), "a", &[]);
    let mut alice = Client::join(&a, "alice");
    let mut liar = std::net::TcpStream::connect(("127.0.0.1", broker.port)).expect("broker");
    liar.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut info = String::new();
    BufReader::new(liar.try_clone().expect("clone")).read_line(&mut info).expect("INFO");
    assert!(info.starts_with("INFO "), "{info}");
    liar.write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n").expect("CONNECT");
    let mut publish = |payload: &str| {
        let subject = "sockit.chat.sockit.sockit";
        write!(liar, "PUB {subject} {}\r\n{payload}\r\n", payload.len()).expect("PUB");
    };
    let said = |seq: u64, nick: &str, text: &str| {
        serde_json::json!({"node": "z", "run": 1, "seq": seq, "body": {"said": {"nick": nick, "text": text}}})
            .to_string()
    };
    // z holds mallory: it says so first (its words for a nick it does not hold are refused).
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis();
    publish(
        &serde_json::json!({"node": "z", "run": 1, "seq": 0, "body": {"presence": {"generation": 1, "part": 0, "parts": 1, "members": [{"nick": "mallory", "since": since}]}}})
            .to_string(),
    );
    publish(&said(1, "alice", "words for alice, whom z does not hold"));
    publish(&said(2, "mallory", "\u{1b}[2Jcleared"));
    publish(&said(2, "mallory", "the same number again"));
    publish(&said(6, "mallory", "five"));
    publish("not json at all");
    publish(&said(7, "bad nick", "x"));
    publish(&said(0, "mallory", "unnumbered"));
    let many: Vec<_> = (0..5000).map(|i| serde_json::json!({"nick": format!("n{i}"), "since": 1})).collect();
    publish(
        &serde_json::json!({"node": "z", "run": 1, "seq": 0, "body": {"presence": {"generation": 1, "part": 0, "parts": 1, "members": many}}})
            .to_string(),
    );
    publish(
        &serde_json::json!({"node": "z", "run": 1, "seq": 8, "body": {"private": {"from": "mallory", "to": "alice", "text": "psst"}}})
            .to_string(),
    );
    publish(&said(9, "mallory", "last"));
    let mut heard = Vec::new();
    while heard.last().map(String::as_str) != Some("<mallory> last") {
        heard.push(alice.line());
    }
    assert_eq!(
        heard,
        [
            "* mallory joined",
            "<mallory> \\u{1b}[2Jcleared",
            "* 3 lines from z were lost",
            "<mallory> five",
            // (the bad nick's number, refused, is missed too)
            "* 1 line from z was lost",
            "*mallory* psst",
            "<mallory> last"
        ]
    );
    alice.send("/who");
    assert_eq!(alice.until(|l| l.starts_with("* online")), "* online (2): alice (a), mallory (z)");
    // The room's metrics count what the liar did.
    let (_, text) = crate::operate::get(a.port, "/metrics");
    for (name, value) in [
        ("sockit_chat_cluster_messages_duplicated_total", 1),
        ("sockit_chat_cluster_messages_lost_total", 4),
        ("sockit_chat_cluster_messages_rejected_total{reason=\"not_theirs\"}", 1),
        ("sockit_chat_lines_received_total{from=\"cluster\"}", 3),
        ("sockit_chat_members{where=\"cluster\"}", 1),
    ] {
        assert_eq!(crate::operate::sample(&text, name), Some(value), "{name} in\n{text}");
    }
    // Made-up servers by the hundred: a bounded number is kept (256), the least recently heard
    // (z first) making room for the newest.
    for i in 0..300 {
        let members = [serde_json::json!({"nick": format!("m{i}"), "since": 1})];
        publish(
            &serde_json::json!({"node": format!("n{i}"), "run": 1, "seq": 0, "body": {"presence": {"generation": 1, "part": 0, "parts": 1, "members": members}}})
                .to_string(),
        );
    }
    liar.write_all(b"PING\r\n").expect("PING");
    let mut pong = String::new();
    BufReader::new(liar.try_clone().expect("clone")).read_line(&mut pong).expect("PONG");
    let want = "* online (257): ";
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut l = String::new();
    while !l.starts_with(want) && Instant::now() < deadline {
        alice.send("/who");
        l = alice.until(|l| l.starts_with("* online"));
    }
    assert!(l.starts_with(want) && l.ends_with(" and 57 more") && !l.contains("mallory"), "{l}");
}

/// A server heard from for the first time, whose claim to a member's nick comes first, is
/// told this server's list as it stood (the member still holding the nick) before the rename
/// that gives the nick way: told the rename first, it would refuse a rename of a nick it never
/// knew was claimed here, and its members would never hear of it.
#[test]
fn a_newcomer_hears_a_claim_before_the_rename_that_gives_it_way() {
    let Some(broker) = Broker::start(&[]) else { return };
    let (a, _ca) = member_server(&broker.url(), "a", &[]);
    let mut alice = Client::join(&a, "alice");
    // z listens before alice takes the nick, and claims it as soon as she has: a claim heard
    // counts from no further back than a race allows (2 s), and must still come first.
    let z = std::net::TcpStream::connect(("127.0.0.1", broker.port)).expect("broker");
    z.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut from_broker = BufReader::new(z.try_clone().expect("clone"));
    let mut z = z;
    let mut line = String::new();
    from_broker.read_line(&mut line).expect("INFO");
    let subject = "sockit.chat.sockit.sockit";
    write!(z, "CONNECT {{\"verbose\":false,\"pedantic\":false}}\r\nSUB {subject} 1\r\nPING\r\n").expect("SUB");
    while !line.starts_with("PONG") {
        line.clear();
        from_broker.read_line(&mut line).expect("PONG");
    }
    alice.send("/nick Sam");
    alice.until(|l| l == "* alice is now known as Sam");
    // z, never heard from before, has held "sam" since long ago.
    let hello = serde_json::json!({"node": "z", "run": 1, "seq": 0, "body": {"presence": {"generation": 1, "part": 0, "parts": 1, "members": [{"nick": "sam", "since": 1}]}}}).to_string();
    write!(z, "PUB {subject} {}\r\n{hello}\r\n", hello.len()).expect("PUB");
    // What a publishes, in order, until Sam's rename (alice's own may come first).
    let mut bodies: Vec<serde_json::Value> = Vec::new();
    while bodies.last().is_none_or(|b| b["renamed"]["old"] != "Sam") {
        line.clear();
        from_broker.read_line(&mut line).expect("a message from a");
        let Some(size) = line.strip_prefix("MSG ").and_then(|m| m.split_whitespace().last()?.parse::<usize>().ok())
        else {
            continue;
        };
        let mut payload = vec![0; size + 2];
        std::io::Read::read_exact(&mut from_broker, &mut payload).expect("payload");
        let m: serde_json::Value = serde_json::from_slice(&payload[..size]).expect("json");
        if m["node"] == "a" {
            bodies.push(m["body"].clone());
        }
    }
    let renamed = &bodies[bodies.len() - 1]["renamed"];
    let guest = renamed["new"]["nick"].as_str().expect("the new nick").to_string();
    let before = bodies.len().checked_sub(2).map(|i| &bodies[i]["presence"]["members"]);
    let listed: Vec<&str> =
        before.and_then(|m| m.as_array()).map_or(Vec::new(), |m| m.iter().filter_map(|c| c["nick"].as_str()).collect());
    assert_eq!(listed, ["Sam"], "a's list just before its rename: {bodies:?}");
    assert!(alice.until(|l| l.contains("granted the nick")).ends_with(&format!("you are now {guest}")));
}

/// A broker that stops reading (SIGSTOP) never stalls the room: a flood of 40 MB said on a is
/// heard whole on a at once, the messages that did not fit in the outbox are counted on the
/// console, and once the broker is back b is told how many lines were lost, and the lines it
/// heard plus those told lost are every line.
#[test]
fn a_stalled_broker_never_stalls_the_room() {
    let Some(broker) = Broker::start(&[]) else { return };
    let url = broker.url();
    let (a, console_a) = member_server(&url, "a", &[]);
    let (b, _cb) = member_server(&url, "b", &[]);
    let mut alice = Client::join(&a, "alice");
    let mut ann = Client::join(&a, "ann");
    let mut bob = Client::join(&b, "bob");
    let want = "* online (3): alice (a), ann (a), bob (b)";
    for c in [&mut bob, &mut ann, &mut alice] {
        assert_eq!(who_until(c, want), want);
    }
    let signal = |sig: &str| rustix_kill(broker.proc.0.id(), sig);
    signal("STOP");
    const N: usize = 40_000;
    let mut w = alice.w.try_clone().expect("clone");
    let flood = std::thread::spawn(move || {
        let pad = "x".repeat(1000);
        let mut all = String::new();
        for i in 0..N {
            all.push_str(&format!("f-{i} {pad}\n"));
        }
        w.write_all(all.as_bytes()).expect("flood");
    });
    let t0 = Instant::now();
    for i in 0..N {
        let mut l = ann.line();
        // A broker that stalls for long enough that b is not heard from (9 s, on a loaded
        // machine) has b said gone meanwhile.
        while l.starts_with("* server b is gone") {
            l = ann.line();
        }
        assert!(l.starts_with(&format!("<alice> f-{i} ")), "{i}: {l}");
    }
    assert!(t0.elapsed() < Duration::from_secs(30), "the room took {:?} with the broker stalled", t0.elapsed());
    flood.join().expect("flood");
    let dropped = next_until(&console_a, |l| l.contains("\"type\":\"cluster-dropped\""));
    let v: serde_json::Value = serde_json::from_str(&dropped).expect("json");
    assert!(v["messages"].as_u64().expect("count") > 0, "{dropped}");
    signal("CONT");
    // "end" may itself find the outbox still full: said again when nothing comes for 10 s,
    // and each one lost is told as lost too.
    alice.send("end");
    let mut ends = 1;
    bob.w.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let (mut heard, mut lost) = (0, 0);
    let mut last = None;
    loop {
        let mut l = String::new();
        if let Err(e) = bob.r.read_line(&mut l) {
            assert!(ends < 5, "{e}: heard {heard}, lost {lost}, last {last:?}");
            alice.send("end");
            ends += 1;
            continue;
        }
        let l = l.trim_end_matches('\n');
        if l == "<alice> end" {
            break;
        }
        if let Some(rest) = l.strip_prefix("<alice> f-") {
            let i: usize = rest.split(' ').next().and_then(|n| n.parse().ok()).expect("number");
            assert!(last.is_none_or(|p| i > p), "out of order: {i} after {last:?}");
            last = Some(i);
            heard += 1;
        } else if let Some(n) =
            l.strip_prefix("* ").and_then(|r| r.split(' ').next()).and_then(|n| n.parse::<usize>().ok())
        {
            assert!(l.ends_with(" from a were lost") || l.ends_with(" from a was lost"), "{l}");
            lost += n;
        }
    }
    let lost = lost - (ends - 1);
    assert!(lost > 0, "the outbox never filled");
    assert_eq!(heard + lost, N, "heard {heard}, told lost {lost}");
}

/// A server stopped with SIGTERM takes its members out of the others' rooms at once (not
/// after the expiry of a silent server).
#[test]
fn a_server_that_stops_takes_its_members_along() {
    let Some(broker) = Broker::start(&[]) else { return };
    let url = broker.url();
    let (a, _ca) = member_server(&url, "a", &[]);
    let (mut b, _cb) = member_server(&url, "b", &[]);
    let mut alice = Client::join(&a, "alice");
    let _bob = Client::join(&b, "bob");
    let want = "* online (2): alice (a), bob (b)";
    assert_eq!(who_until(&mut alice, want), want);
    rustix_kill(b.proc.0.id(), "TERM");
    let t0 = Instant::now();
    assert_eq!(alice.until(|l| l.starts_with("* bob left")), "* bob left (server shut down)");
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    assert_eq!(crate::util::wait_deadline(&mut b.proc.0, DEADLINE, "chat serve"), 0);
    let want = "* online (1): alice (a)";
    assert_eq!(who_until(&mut alice, want), want);
}
