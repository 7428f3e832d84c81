//! Hostile argument vectors: a bounded, seeded property test over every subcommand. Whatever
//! the arguments, sockit never panics; a run that ends exits 0, 1 or 2; a usage error (2)
//! comes at once as exactly one line, with every control character escaped. It runs inside a
//! network namespace of its own (loopback only, resolv.conf pointing at nothing), so whatever
//! the arguments name, no packet leaves this test.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::util::{Netns, sockit_bin};

/// The subcommands, with their own flags.
const COMMANDS: &[(&[&str], &[&str], usize)] = &[
    (&["info"], &["--resolv-conf"], 40),
    (&["addr"], &["--split", "--hosts"], 60),
    (&["port"], &["--tcp", "--udp", "--common"], 60),
    (&["hostname"], &["--fqdn", "-I"], 20),
    (
        &["lookup"],
        &["--server", "--type", "-t", "-4", "-6", "--tcp", "--timeout", "--retries", "--concurrency", "-f"],
        60,
    ),
    (&["reverse"], &["--server", "--tcp", "--timeout", "--retries", "--concurrency", "-f"], 40),
    (&["scan"], &["-p", "--open", "--concurrency", "--timeout", "--retries", "--rate", "--ordered"], 60),
    (&["udp", "send"], &["--broadcast", "--bind", "--raw", "--wait-reply"], 40),
    (&["udp", "listen"], &["--bind", "--raw", "--count", "--timeout", "--echo"], 20),
    (&["tcp", "connect"], &["-w", "--tls", "--ca", "--insecure", "--no-shutdown", "-q", "--idle-timeout"], 40),
    (
        &["tcp", "listen"],
        &["--bind", "-k", "--max-conns", "--allow", "--deny", "--exec", "--tls", "--cert", "--key"],
        30,
    ),
    (
        &["chat", "serve"],
        &[
            "--port",
            "--bind",
            "--name",
            "--max-clients",
            "--max-line",
            "--rate",
            "--discovery-port",
            "--no-discovery",
            "--tls",
        ],
        20,
    ),
    (
        &["chat", "join"],
        &["--nick", "--room", "--tls", "--ca", "--insecure", "--broadcast", "--discovery-port", "--timeout"],
        20,
    ),
    (&["chat", "discover"], &["--broadcast", "--discovery-port", "--timeout"], 30),
    (&["completions"], &[], 20),
    (&[], &["--version", "--bogus", "-vvv"], 20),
];

/// Values and garbage, all loopback or nonsense: nothing here names a host off this machine.
const TOKENS: &[&str] = &[
    "0",
    "1",
    "80",
    "40000",
    "65535",
    "65536",
    "-1",
    "1e-20",
    "NaN",
    "inf",
    "0.5",
    "99999999999999999999",
    "127.0.0.1",
    "::1",
    "[::1]",
    "[::1]:80",
    "127.0.0.1:0",
    "127.255.255.255",
    "localhost",
    "::",
    "127.0.0.0/30",
    "127.0.0.1-3",
    "fe80::1%lo",
    "::ffff:127.0.0.1",
    "127.0.0.1/255.255.255.0",
    "",
    " ",
    "a\nb",
    "\x1b[2J",
    "\x1b]0;title\x07",
    "ü",
    "\u{202e}x",
    "/dev/zero",
    "/nonexistent",
    "-",
    "%",
    "[",
    "]:",
    "a:b:c",
    "--",
    "-x",
    "--json",
    "-v",
    "ssh",
    "22,80",
    "all",
    "bash",
    "MX",
    "TXT",
    "10",
    "/26",
];

/// xorshift64*: the same vectors every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[usize::try_from(self.next() % from.len() as u64).expect("index")]
    }
}

fn vectors() -> Vec<Vec<String>> {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut all = Vec::new();
    for (path, flags, count) in COMMANDS {
        for _ in 0..*count {
            let mut v: Vec<String> = path.iter().map(std::string::ToString::to_string).collect();
            let long = "A".repeat(300);
            for _ in 0..rng.next() % 5 {
                let token = match rng.next() % 3 {
                    0 if !flags.is_empty() => rng.pick(flags).to_string(),
                    1 if rng.next().is_multiple_of(20) => long.clone(),
                    _ => rng.pick(TOKENS).to_string(),
                };
                v.push(token);
            }
            all.push(v);
        }
    }
    all
}

/// What one run did, if it ended within its time.
struct Ended {
    code: Option<i32>,
    stderr: String,
    took: Duration,
}

fn run_in(ns: &Netns, args: &[String], budget: Duration) -> Option<Ended> {
    let mut cmd = ns.cmd(sockit_bin(), &args.iter().map(String::as_str).collect::<Vec<_>>());
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().expect("spawn");
    let mut err = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = std::io::Read::read_to_end(&mut err, &mut buf);
        buf
    });
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let stderr = String::from_utf8_lossy(&reader.join().expect("stderr")).into_owned();
            return Some(Ended { code: status.code(), stderr, took: start.elapsed() });
        }
        if start.elapsed() > budget {
            // Still at work (a server, a wait it was asked for): not judged here.
            let _ = child.kill();
            let _ = child.wait();
            let _ = reader.join();
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn hostile_argument_vectors_never_panic_and_usage_errors_are_one_escaped_line() {
    let Some(ns) = Netns::new("argv") else { return };
    ns.set_resolv_conf("nameserver 127.0.0.1\n");
    let all = vectors();
    let failures = std::sync::Mutex::new(Vec::new());
    // Exit 0, 1, 2, and runs still at work when their time was up.
    let tally = std::sync::Mutex::new([0usize; 4]);
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(args) = all.get(i) else { break };
                    let Some(r) = run_in(&ns, args, Duration::from_secs(3)) else {
                        tally.lock().expect("lock")[3] += 1;
                        continue;
                    };
                    if let Some(c @ 0..=2) = r.code {
                        tally.lock().expect("lock")[usize::try_from(c).expect("exit code")] += 1;
                    }
                    let mut bad = Vec::new();
                    if r.stderr.contains("panicked") || r.stderr.contains("RUST_BACKTRACE") {
                        bad.push("panicked".to_string());
                    }
                    match r.code {
                        Some(0 | 1) => {}
                        Some(2) => {
                            let lines: Vec<&str> = r.stderr.lines().collect();
                            if lines.len() != 1 || !r.stderr.ends_with('\n') {
                                bad.push(format!("usage error on {} lines", lines.len()));
                            }
                            if r.stderr.trim_end_matches('\n').chars().any(char::is_control) {
                                bad.push("a control character in the usage error".into());
                            }
                            if r.stderr.contains("were not provided: (see") {
                                bad.push("a missing argument not named".into());
                            }
                            if r.took > Duration::from_secs(1) {
                                bad.push(format!("a usage error after {:?}", r.took));
                            }
                        }
                        other => bad.push(format!("exit {other:?}")),
                    }
                    if !bad.is_empty() {
                        failures.lock().expect("lock").push(format!("{args:?}: {} ({:?})", bad.join(", "), r.stderr));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().expect("failures");
    let [ok, failed, usage, running] = tally.into_inner().expect("tally");
    eprintln!("{} vectors: {ok} exit 0, {failed} exit 1, {usage} exit 2, {running} still at work", all.len());
    // Every kind of outcome happened: the vectors reach past the argument parser.
    assert!(ok > 0 && failed > 0 && usage > 0 && running > 0, "{ok} {failed} {usage} {running}");
    assert!(failures.is_empty(), "{} of {} vectors:\n{}", failures.len(), all.len(), failures.join("\n"));
}
