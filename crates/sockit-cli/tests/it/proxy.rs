//! Proxies on the way out: `tcp connect` and `chat join` through a real SOCKS5 server
//! (microsocks, with and without a password) and a real HTTP CONNECT proxy (ncat
//! --proxy-type http, with and without Basic auth), on loopback; and hostile proxies that
//! answer short, long, wrong or never, each one line within the deadline.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{DEADLINE, Proc, free_port, have, run, sockit, sockit_cmd, wait_listening};

/// A target that says hello and echoes one line back, as many times as it is asked.
fn target() -> (u16, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let t = std::thread::spawn(move || {
        for s in l.incoming().take(6) {
            let Ok(mut s) = s else { continue };
            let _ = s.write_all(b"hello from the target\n");
            let mut line = String::new();
            let _ = BufReader::new(&s).read_line(&mut line);
            let _ = s.write_all(format!("echo: {line}").as_bytes());
        }
    });
    (port, t)
}

/// `tcp connect` through `proxy` (given in SOCKIT_PROXY, where its password stays out of the
/// command line), saying one line. The write side stays open and the relay ends a second after
/// stdin: these proxies close both ways when one side half-closes.
fn through(proxy: &str, host: &str, port: u16) -> crate::util::Output {
    let args = ["tcp", "connect", host, &port.to_string(), "-w", "3", "--no-shutdown", "-q", "1"];
    let mut cmd = sockit_cmd(&args);
    cmd.env("SOCKIT_PROXY", proxy);
    run(cmd, b"over the proxy\n", DEADLINE)
}

#[test]
fn socks5_with_and_without_a_password() {
    if !have("microsocks") {
        return;
    }
    let (port, _t) = target();
    let open = free_port();
    let _open = Proc(
        Command::new("microsocks").args(["-i", "127.0.0.1", "-p", &open.to_string()]).spawn().expect("microsocks"),
    );
    let locked = free_port();
    let _locked = Proc(
        Command::new("microsocks")
            .args(["-i", "127.0.0.1", "-p", &locked.to_string(), "-u", "bob", "-P", "s3cret"])
            .spawn()
            .expect("microsocks"),
    );
    wait_listening(open);
    wait_listening(locked);
    let want = "hello from the target\necho: over the proxy\n";
    assert_eq!(through(&format!("socks5://127.0.0.1:{open}"), "127.0.0.1", port).ok(), want);
    // A name is resolved by the proxy (socks5h semantics by default).
    assert_eq!(through(&format!("socks5://127.0.0.1:{open}"), "localhost", port).ok(), want);
    assert_eq!(through(&format!("socks5://bob:s3cret@127.0.0.1:{locked}"), "127.0.0.1", port).ok(), want);
    let line = through(&format!("socks5://127.0.0.1:{locked}"), "127.0.0.1", port).fails(1);
    assert!(
        line.starts_with(&format!("sockit: proxy 127.0.0.1:{locked}: it takes none of the ways to log in")),
        "{line}"
    );
    let line = through(&format!("socks5://bob:wrong@127.0.0.1:{locked}"), "127.0.0.1", port).fails(1);
    assert_eq!(line, format!("sockit: proxy 127.0.0.1:{locked}: it refused the user name and password"));
    assert!(!line.contains("wrong"), "the password is never printed");
    let closed = free_port();
    let line = through(&format!("socks5://127.0.0.1:{open}"), "127.0.0.1", closed).fails(1);
    assert!(line.starts_with(&format!("sockit: proxy 127.0.0.1:{open}: 127.0.0.1:{closed}")), "{line}");
    let nothing = free_port();
    let line = through(&format!("socks5://127.0.0.1:{nothing}"), "127.0.0.1", port).fails(1);
    assert!(line.starts_with(&format!("sockit: proxy 127.0.0.1:{nothing}:")) && line.contains("refused"), "{line}");
    // The password from a file; in the command line it works too, with a warning.
    let dir = tempfile::tempdir().expect("tmp");
    let creds = dir.path().join("creds");
    std::fs::write(&creds, "bob:s3cret\n").expect("write");
    let args = ["tcp", "connect", "127.0.0.1", &port.to_string(), "-w", "3", "--no-shutdown", "-q", "1"];
    let url = format!("socks5://127.0.0.1:{locked}");
    let file_args = [&args[..], &["--proxy", &url, "--proxy-credentials", creds.to_str().expect("utf-8")]].concat();
    assert_eq!(run(sockit_cmd(&file_args), b"over the proxy\n", DEADLINE).ok(), want);
    let url = format!("socks5://bob:s3cret@127.0.0.1:{locked}");
    let out = run(sockit_cmd(&[&args[..], &["--proxy", &url]].concat()), b"over the proxy\n", DEADLINE);
    assert_eq!(out.ok(), want);
    assert_eq!(
        out.stderr,
        "sockit: warning: the password in --proxy can be read by every user of this machine (ps): give the URL in SOCKIT_PROXY, or the password in --proxy-credentials FILE\n"
    );
    // A password is never shown, however the URL is broken.
    for bad in ["socks5://bob:pw@", "socks5://alice:S3cret", "socks5://alice:S3/cret"] {
        let out = sockit(&["tcp", "connect", "127.0.0.1", "1", "--proxy", bad]);
        assert_eq!(out.code, 2);
        let line = out.stderr.lines().last().unwrap_or_default();
        assert!(
            line.contains("is not a proxy") && !out.stderr.contains("pw") && !out.stderr.contains("S3"),
            "{bad}: {}",
            out.stderr
        );
    }
}

#[test]
fn http_connect_with_and_without_basic_auth() {
    if !have("ncat") {
        return;
    }
    let (port, _t) = target();
    let open = free_port();
    let _open = Proc(
        Command::new("ncat")
            .args(["-l", "127.0.0.1", &open.to_string(), "--proxy-type", "http", "-k"])
            .stderr(Stdio::null())
            .spawn()
            .expect("ncat"),
    );
    let locked = free_port();
    let _locked = Proc(
        Command::new("ncat")
            .args(["-l", "127.0.0.1", &locked.to_string(), "--proxy-type", "http", "--proxy-auth", "bob:s3cret", "-k"])
            .stderr(Stdio::null())
            .spawn()
            .expect("ncat"),
    );
    wait_listening(open);
    wait_listening(locked);
    let want = "hello from the target\necho: over the proxy\n";
    assert_eq!(through(&format!("http://127.0.0.1:{open}"), "127.0.0.1", port).ok(), want);
    assert_eq!(through(&format!("http://bob:s3cret@127.0.0.1:{locked}"), "127.0.0.1", port).ok(), want);
    let line = through(&format!("http://127.0.0.1:{locked}"), "127.0.0.1", port).fails(1);
    assert_eq!(
        line,
        format!(
            "sockit: proxy 127.0.0.1:{locked}: it wants a user and password (407): give them as http://USER:PASS@HOST:PORT"
        )
    );
    let line = through(&format!("http://127.0.0.1:{open}"), "127.0.0.1", free_port()).fails(1);
    assert!(line.starts_with(&format!("sockit: proxy 127.0.0.1:{open}: it could not connect: ")), "{line}");
}

/// A chat server joined through the SOCKS5 proxy.
#[test]
fn chat_join_through_a_proxy() {
    if !have("microsocks") {
        return;
    }
    let server = crate::chat::Server::start(&[]);
    let p = free_port();
    let _socks =
        Proc(Command::new("microsocks").args(["-i", "127.0.0.1", "-p", &p.to_string()]).spawn().expect("microsocks"));
    wait_listening(p);
    let target = format!("127.0.0.1:{}", server.port);
    let via = format!("socks5://127.0.0.1:{p}");
    let mut join = Proc(
        sockit_cmd(&["chat", "join", &target, "--proxy", &via])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("chat join"),
    );
    let mut welcome = String::new();
    welcome.push_str(
        &crate::util::line_within(join.0.stdout.take().expect("stdout"), crate::util::DEADLINE).expect("welcome"),
    );
    assert!(welcome.starts_with("* welcome to sockit, you are guest-"), "{welcome}");
    drop(join.0.stdin.take());
    let line = sockit(&["chat", "join", "--proxy", "socks5://127.0.0.1:1"]).fails(2);
    assert_eq!(line, "sockit: --proxy needs the server's HOST: discovery does not go through proxies");
}

/// `scan --proxy` keeps `--banner` and `--rate` (they were ignored through a proxy): the banner
/// is read on the connection microsocks made, and five probes at 4 a second take at least a
/// second.
#[test]
fn scan_through_a_proxy_reads_banners_at_the_rate_asked() {
    if !have("microsocks") {
        return;
    }
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let open = l.local_addr().expect("addr").port();
    let greeter = std::thread::spawn(move || {
        if let Some(Ok(mut s)) = l.incoming().next() {
            let _ = s.write_all(b"SSH-2.0-OpenSSH_9.9 \x1b[31m\r\n");
            let _ = s.read(&mut [0u8; 16]);
        }
    });
    let closed: Vec<String> = (0..4).map(|_| free_port().to_string()).collect();
    let ports = format!("{open},{}", closed.join(","));
    let p = free_port();
    let _socks =
        Proc(Command::new("microsocks").args(["-i", "127.0.0.1", "-p", &p.to_string()]).spawn().expect("microsocks"));
    wait_listening(p);
    let start = Instant::now();
    let proxy = format!("socks5://127.0.0.1:{p}");
    let v = sockit(&["--json", "scan", "127.0.0.1", "-p", &ports, "--proxy", &proxy, "--banner", "2", "--rate", "4"])
        .json();
    let took = start.elapsed();
    let found = v["hosts"][0]["ports"].as_array().expect("ports");
    let banners: Vec<(u64, &str, &str)> = found
        .iter()
        .map(|p| {
            (p["port"].as_u64().expect("port"), p["state"].as_str().expect("state"), p["banner"].as_str().unwrap_or(""))
        })
        .filter(|(_, state, _)| *state == "open")
        .collect();
    assert_eq!(banners, [(u64::from(open), "open", "SSH-2.0-OpenSSH_9.9 \\x1b[31m")], "{v}");
    assert_eq!(found.iter().filter(|p| p["state"] == "closed").count(), 4, "{v}");
    assert!(took >= Duration::from_millis(950), "5 probes at 4 a second took {took:?}");
    let _ = greeter.join();
}

/// `scan --proxy --retries N` asks again for a port the proxy could not reach in time: a fake
/// SOCKS5 proxy that stays silent on the first connect request and grants the second shows
/// the port open with one retry and filtered with none.
#[test]
fn scan_through_a_proxy_retries_a_silent_port() {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = asked.clone();
    std::thread::spawn(move || {
        for s in l.incoming().take(8) {
            let Ok(mut s) = s else { continue };
            let asked = counter.clone();
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut greeting = [0u8; 3];
                let mut request = [0u8; 10];
                if s.read_exact(&mut greeting).is_err() || s.write_all(b"\x05\x00").is_err() {
                    return;
                }
                if s.read_exact(&mut request).is_err() {
                    return;
                }
                // Odd requests are answered, even ones never: the first of each scan is silent.
                if asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst).is_multiple_of(2) {
                    let _ = s.read(&mut [0u8; 1]);
                } else {
                    let _ = s.write_all(b"\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x50");
                    let _ = s.read(&mut [0u8; 1]);
                }
            });
        }
    });
    let state = |retries: &str| {
        let v = sockit(&[
            "--json",
            "scan",
            "127.0.0.1",
            "-p",
            "80",
            "--proxy",
            &format!("socks5://127.0.0.1:{port}"),
            "--timeout",
            "0.5",
            "--retries",
            retries,
        ])
        .json();
        v["hosts"][0]["ports"][0]["state"].as_str().expect("state").to_string()
    };
    assert_eq!(state("1"), "open");
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 2, "asked twice");
    assert_eq!(state("0"), "filtered");
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 3, "asked once more");
}

/// Proxies that lie: each answer is one line and exit 1, within the deadline, never a hang.
#[test]
fn hostile_proxies_are_one_line_each() {
    // What each fake proxy answers to anything, then: close, or say nothing more.
    let cases: &[(&str, &[u8], &str)] = &[
        ("socks5", b"\x05", "it closed the connection mid-answer"),
        ("socks5", b"\x04\x00", "it does not speak SOCKS5"),
        ("socks5", b"\x05\x07", "it answered with a method that was not offered"),
        ("socks5", b"\x05\x00\x05\x00\x00\x09xx", "it answered with an unknown address type"),
        ("socks5", b"\x05\x00\x05\x00\x00\x03\x00", "it answered with an empty bound name"),
        ("socks5", b"\x05\x00\x05\x00\x00\x03\xff", "it closed the connection mid-answer"),
        ("socks5", b"", "no answer within 1 s"),
        ("http", b"SSH-2.0-OpenSSH\r\n\r\n", "it does not speak HTTP"),
        ("http", b"HTTP/1.1 200 OK\r\n", "no answer within 1 s"),
        ("http", b"", "no answer within 1 s"),
    ];
    for (kind, answer, want) in cases {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        let reply = answer.to_vec();
        let fake = std::thread::spawn(move || {
            let answer = reply;
            let (mut s, _) = l.accept().expect("accept");
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf);
            let _ = s.write_all(&answer);
            if answer.ends_with(b"\r\n") || answer.is_empty() {
                // Then silence, the connection held open.
                std::thread::sleep(Duration::from_secs(3));
            } else {
                // Take the next request, if one comes, then close.
                let _ = s.set_read_timeout(Some(Duration::from_millis(300)));
                let _ = s.read(&mut buf);
            }
        });
        let start = Instant::now();
        let out = run(
            sockit_cmd(&[
                "tcp",
                "connect",
                "127.0.0.1",
                "9",
                "--proxy",
                &format!("{kind}://127.0.0.1:{port}"),
                "-w",
                "1",
            ]),
            b"",
            DEADLINE,
        );
        let line = out.fails(1);
        assert!(
            line.starts_with(&format!("sockit: proxy 127.0.0.1:{port}: ")) && line.contains(want),
            "{kind} {answer:?}: {line}"
        );
        assert!(start.elapsed() < Duration::from_secs(5), "{kind} {answer:?} took {:?}", start.elapsed());
        let _ = fake.join();
    }
    // An HTTP answer that never ends its head is cut at 8 KiB.
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let fake = std::thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept");
        let _ = s.read(&mut [0u8; 512]);
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\n");
        let header = format!("X-Long: {}\r\n", "a".repeat(100));
        for _ in 0..200 {
            if s.write_all(header.as_bytes()).is_err() {
                break;
            }
        }
        std::thread::sleep(Duration::from_secs(2));
    });
    let line = through(&format!("http://127.0.0.1:{port}"), "127.0.0.1", 9).fails(1);
    assert_eq!(line, format!("sockit: proxy 127.0.0.1:{port}: its answer is longer than 8 KiB"));
    let _ = fake.join();
}

/// One deadline for the whole handshake: a proxy that drips its answer a byte at a time, each
/// byte well within a read's wait, is cut off at `-w`, not kept for as long as it drips.
#[test]
fn a_dripping_proxy_is_cut_at_the_deadline() {
    // SOCKS5: the method at once, then a reply naming a 255-byte bound address, dripped.
    // HTTP: a status line and headers, dripped.
    let cases: &[(&str, &[u8], Vec<u8>)] = &[
        ("socks5", b"\x05\x00", [&b"\x05\x00\x00\x03\xff"[..], &[b'a'; 255], b"\x00\x50"].concat()),
        ("http", b"", format!("HTTP/1.1 200 OK\r\n{}\r\n", "X-Slow: yes\r\n".repeat(20)).into_bytes()),
    ];
    for (kind, first, drip) in cases {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        let (first, drip) = (first.to_vec(), drip.clone());
        let fake = std::thread::spawn(move || {
            let (mut s, _) = l.accept().expect("accept");
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf);
            if !first.is_empty() {
                let _ = s.write_all(&first);
                let _ = s.read(&mut buf);
            }
            // A byte every 200 ms, for at most 12 s; stops once sockit has gone.
            for b in drip.iter().take(60) {
                if s.write_all(&[*b]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        let start = Instant::now();
        let proxy = format!("{kind}://127.0.0.1:{port}");
        let out = run(sockit_cmd(&["tcp", "connect", "127.0.0.1", "9", "--proxy", &proxy, "-w", "1"]), b"", DEADLINE);
        let line = out.fails(1);
        assert!(line.contains("no answer within 1 s"), "{kind}: {line}");
        assert!(start.elapsed() < Duration::from_secs(3), "{kind}: took {:?}", start.elapsed());
        let _ = fake.join();
    }
}

/// `scan --proxy`: a connect through microsocks a probe; the states are those a direct scan
/// finds (open where something listens, closed where nothing does); a proxy that is not there
/// ends the scan with one line instead of calling every port filtered.
#[test]
fn scan_through_a_socks5_proxy() {
    if !have("microsocks") {
        return;
    }
    let listeners: Vec<TcpListener> = (0..3).map(|_| TcpListener::bind("127.0.0.1:0").expect("bind")).collect();
    let open: Vec<u16> = listeners.iter().map(|l| l.local_addr().expect("addr").port()).collect();
    let closed: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let ports = open.iter().chain(&closed).map(u16::to_string).collect::<Vec<_>>().join(",");
    let p = free_port();
    let _socks =
        Proc(Command::new("microsocks").args(["-i", "127.0.0.1", "-p", &p.to_string()]).spawn().expect("microsocks"));
    wait_listening(p);
    let states = |args: &[&str]| -> Vec<(u64, String)> {
        let v = sockit(&[&["--json", "scan", "127.0.0.1", "-p", &ports], args].concat()).json();
        let mut s: Vec<(u64, String)> = v["hosts"][0]["ports"]
            .as_array()
            .expect("ports")
            .iter()
            .map(|p| (p["port"].as_u64().expect("port"), p["state"].as_str().expect("state").to_string()))
            .collect();
        s.sort();
        s
    };
    let via = states(&["--proxy", &format!("socks5://127.0.0.1:{p}")]);
    assert_eq!(via, states(&[]), "through the proxy as directly");
    assert_eq!(via.iter().filter(|(_, s)| s == "open").count(), 3, "{via:?}");
    assert_eq!(via.iter().filter(|(_, s)| s == "closed").count(), 3, "{via:?}");
    let gone = free_port();
    let line = sockit(&["scan", "127.0.0.1", "-p", &ports, "--proxy", &format!("socks5://127.0.0.1:{gone}")]).fails(1);
    assert!(line.starts_with(&format!("sockit: proxy 127.0.0.1:{gone}:")), "{line}");
    drop(listeners);
}
