//! The command-line conventions every command shares.

use crate::util::{DEADLINE, run, sockit};
use std::process::Command;

#[test]
fn help_and_version() {
    let help = sockit(&["--help"]).ok();
    for word in ["info", "addr", "completions", "manpage", "--json", "Exit status"] {
        assert!(help.contains(word), "--help lacks {word}: {help}");
    }
    let version = sockit(&["--version"]).ok();
    assert_eq!(version.trim(), format!("sockit {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(sockit(&["--no-such-flag"]).code, 2);
    assert_eq!(sockit(&["no-such-command"]).code, 2);
    assert_eq!(sockit(&[]).code, 2);
    assert_eq!(sockit(&["addr"]).code, 2);
    assert_eq!(sockit(&["addr", "10.0.0.0/24", "--hosts", "many"]).code, 2);
}

#[test]
fn completions_and_manpage() {
    let bash = sockit(&["completions", "bash"]).ok();
    assert!(bash.contains("_sockit()") && bash.contains("addr"), "{bash}");
    let zsh = sockit(&["completions", "zsh"]).ok();
    assert!(zsh.starts_with("#compdef sockit"), "{zsh}");
    let man = sockit(&["manpage"]).ok();
    assert!(man.contains(".TH sockit"), "{man}");
    assert_eq!(sockit(&["completions", "tcsh"]).code, 2);
    // One page per command, the ones the top page's commands name among them.
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_str().expect("path");
    sockit(&["manpage", "--dir", d]).ok();
    for page in ["sockit", "sockit-tcp", "sockit-tcp-connect", "sockit-chat-serve", "sockit-scan", "sockit-udp-send"] {
        let text = std::fs::read_to_string(dir.path().join(format!("{page}.1"))).unwrap_or_default();
        assert!(text.contains(&format!(".TH {page} 1")), "{page}.1: {}", text.lines().next().unwrap_or("missing"));
    }
    let connect = std::fs::read_to_string(dir.path().join("sockit-tcp-connect.1")).expect("page");
    assert!(connect.contains("fingerprint") && connect.contains("idle"), "the flags are on the page");
}

#[test]
fn closed_stdout_is_success() {
    // 2^16 lines, far more than a pipe holds: head closes it after one.
    let mut c = Command::new("bash");
    c.arg("-c").arg(format!(
        "{} addr 2001:db8::/32 --split 48 | head -n 1 >/dev/null; exit ${{PIPESTATUS[0]}}",
        crate::util::sockit_bin()
    ));
    let out = run(c, b"", DEADLINE);
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    assert_eq!(out.stderr, "");
}

/// Every file sockit reads whole has a bound: /dev/zero as resolv.conf, as a list of names,
/// as a CA bundle, a certificate or a key is one line and exit 1, not memory run out; and a
/// bad CA costs no connection (it is read first).
#[test]
fn endless_files_are_refused_with_one_line() {
    let cases: &[(&[&str], &str)] = &[
        (&["info", "--resolv-conf", "/dev/zero"], "sockit: cannot read /dev/zero: it is larger than 1 MiB"),
        (
            &["lookup", "-f", "/dev/zero", "--server", "127.0.0.1:9"],
            "sockit: cannot read /dev/zero: it is larger than 64 MiB",
        ),
        (
            &["tcp", "connect", "127.0.0.1", "9", "--ca", "/dev/zero"],
            "sockit: cannot read certificates from /dev/zero: it is larger than 4 MiB",
        ),
        (
            &["tcp", "listen", "0", "--tls", "--cert", "/dev/zero", "--key", "/dev/zero"],
            "sockit: cannot read certificates from /dev/zero: it is larger than 4 MiB",
        ),
    ];
    for (args, want) in cases {
        let line = sockit(args).fails(1);
        assert!(line.starts_with(want), "{args:?}: {line}");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "no certificate here\n").expect("write");
    let line = sockit(&["tcp", "connect", "127.0.0.1", "9", "--ca", empty.to_str().expect("path")]).fails(1);
    assert!(line.ends_with("empty.pem: no PEM certificate in the file"), "{line}");
}

/// More lookups at once than the system gives threads: fewer workers, every answer, exit 0
/// (it panicked with exit 101).
#[test]
fn concurrency_beyond_the_thread_limit_is_not_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let names: String = (1..=500).map(|i| format!("127.0.{}.{}\n", i / 250, i % 250)).collect();
    let list = dir.path().join("names.txt");
    std::fs::write(&list, &names).expect("write");
    std::fs::set_permissions(&list, std::os::unix::fs::PermissionsExt::from_mode(0o644)).expect("chmod");
    let Some(cmd) = crate::util::as_nobody(
        dir.path(),
        &format!("ulimit -u 8; exec sockit lookup -f {} --concurrency 5000", list.display()),
    ) else {
        return;
    };
    let out = run(cmd, b"", DEADLINE);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    assert_eq!(out.stdout().lines().count(), 500);
    assert_eq!(out.stdout().lines().next(), Some("127.0.0.1  127.0.0.1"));
}

/// A missing argument is named, a missing subcommand lists the choices, and the pointer is to
/// the help of the command in question (it named nothing, or printed the about text).
#[test]
fn missing_arguments_and_subcommands_are_named() {
    let cases: &[(&[&str], &str)] = &[
        (
            &[],
            "sockit: a command is needed after 'sockit': info, addr, port, hostname, lookup, reverse, udp, tcp, chat, demo, scan, lab, relay, completions or manpage (see sockit --help)",
        ),
        (&["tcp"], "sockit: a command is needed after 'sockit tcp': connect or listen (see sockit tcp --help)"),
        (
            &["chat"],
            "sockit: a command is needed after 'sockit chat': serve, join or discover (see sockit chat --help)",
        ),
        (
            &["tcp", "connect"],
            "sockit: the following required arguments were not provided: <HOST> <PORT> (see sockit tcp connect --help)",
        ),
        (
            &["lookup"],
            "sockit: the following required arguments were not provided: <NAME>... (see sockit lookup --help)",
        ),
        (
            &["scan", "127.0.0.1", "-p", "1\u{1b}[2J"],
            "sockit: '1\\x1b[2J' in the port list is not a port, a range or a TCP service",
        ),
    ];
    for (args, want) in cases {
        let line = sockit(args).fails(2);
        assert!(line.starts_with(want), "{args:?}: {line}");
    }
}

/// A typo gets clap's nearest match, as git and cargo give one (the suggestion was dropped).
#[test]
fn typos_get_a_did_you_mean() {
    let cases: &[(&[&str], &str)] = &[
        (&["scna"], "sockit: unrecognized subcommand 'scna': did you mean 'scan'? (see sockit --help)"),
        (&["--jsn", "info"], "sockit: unexpected argument '--jsn' found: did you mean '--json'? (see sockit --help)"),
        (
            &["scan", "127.0.0.1", "--opne"],
            "sockit: unexpected argument '--opne' found: did you mean '--open'? (see sockit scan --help)",
        ),
        (&["chat", "jion"], "sockit: unrecognized subcommand 'jion': did you mean 'join'? (see sockit chat --help)"),
        (&["qqqq"], "sockit: unrecognized subcommand 'qqqq' (see sockit --help)"),
    ];
    for (args, want) in cases {
        assert_eq!(sockit(args).fails(2), *want, "{args:?}");
    }
}

/// A reader that goes away is success for the streaming commands too: `udp listen | head -1`
/// and `tcp connect | head -c 5` exit 0 without a word (they said "Broken pipe", exit 1).
#[test]
fn closed_stdout_is_success_when_streaming() {
    let s = crate::util::sockit_bin();
    let port = crate::util::free_port();
    // The sender starts after the listener; the listener's reader leaves after one line.
    let mut c = Command::new("bash");
    c.arg("-c").arg(format!(
        "( sleep 0.3; for i in 1 2 3 4 5; do {s} udp send 127.0.0.1 {port} x; sleep 0.1; done ) & \
         {s} udp listen {port} --bind 127.0.0.1 | head -n 1 >/dev/null; code=${{PIPESTATUS[0]}}; wait; exit $code"
    ));
    let out = run(c, b"", DEADLINE);
    assert_eq!(out.code, 0, "udp listen | head -1: {}", out.stderr);
    assert!(!out.stderr.contains("Broken pipe"), "{}", out.stderr);
    // tcp connect into a closed pipe.
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let p = l.local_addr().expect("a").port();
    let server = std::thread::spawn(move || {
        let (mut c, _) = l.accept().expect("accept");
        let _ = std::io::Write::write_all(&mut c, &vec![b'z'; 8 << 20]);
    });
    let mut c = Command::new("bash");
    c.arg("-c")
        .arg(format!("{s} tcp connect 127.0.0.1 {p} </dev/null | head -c 5 >/dev/null; exit ${{PIPESTATUS[0]}}"));
    let out = run(c, b"", DEADLINE);
    assert_eq!((out.code, out.stderr.as_str()), (0, ""), "tcp connect | head -c 5");
    server.join().expect("server");
}

/// Every command's help opens with what that command is (it used to open with the text of a
/// flattened group of flags: "What both ends of a TCP relay share", "A proxy on the way
/// out..."), and the table names every command there is.
#[test]
fn every_command_says_what_it_is() {
    let table: &[(&str, &str)] = &[
        ("", "sockit: a network toolkit, each slide of a socket-programming lecture as a fast, exact tool"),
        ("info", "This computer's network parameters: hostname, interfaces, netmasks, routers, DNS"),
        ("addr", "Classify addresses and do subnet math; compare hosts; split and allocate subnets"),
        ("port", "Service names and port numbers, both ways: `port 22`, `port ssh`, `port 137-139`"),
        ("hostname", "This host's name (gethostname), its canonical name, its addresses"),
        ("lookup", "Names to addresses (gethostbyname done properly), or any record type from a DNS server"),
        ("reverse", "Addresses to names (gethostbyaddr): plain IPv4 or IPv6, no in-addr.arpa needed"),
        ("udp", "UDP datagrams: a receiver that takes any number of senders, and a sender that can broadcast"),
        ("udp listen", "Receive datagrams and print each with its sender (`SENDER:PORT  text`)"),
        ("udp send", "Send MESSAGE, or each line of stdin, as a datagram"),
        ("tcp", "TCP streams: relay stdin/stdout to a connection, as client or server"),
        ("tcp connect", "Connect to HOST PORT and relay stdin/stdout"),
        ("tcp listen", "Listen on PORT, accept a client and relay stdin/stdout (--keep-open: many clients)"),
        ("chat", "The client/server demo: a multi-user chat that finds its server by UDP broadcast"),
        ("chat serve", "Run a chat server for line clients, browsers and IRC clients (and answer discovery probes)"),
        ("chat join", "Join a chat: HOST[:PORT], or the one server discovery finds"),
        ("chat discover", "List the chat servers that answer a broadcast probe"),
        ("demo", "The whole lecture, live on this machine (loopback only), in a few seconds"),
        ("scan", "TCP port scan (SYN or connect): which ports answer, and what usually runs there"),
        ("lab", "The lecture's socket calls beside the packets they cause, in a network of the lab's own (no root"),
        ("relay", "Port forwarding: every connection to FROM joined to a new one to TO, many at once"),
        ("completions", "Print a shell completion script"),
        ("manpage", "Print the man page (roff) to stdout, or with --dir write one page per command there"),
    ];
    let mut seen = Vec::new();
    let mut todo = vec![String::new()];
    while let Some(path) = todo.pop() {
        let mut args: Vec<&str> = path.split_whitespace().collect();
        args.push("--help");
        let help = sockit(&args).ok();
        let first = help.lines().next().unwrap_or_default();
        let want = table.iter().find(|(p, _)| *p == path).map(|(_, a)| *a);
        assert!(want.is_some_and(|w| first.starts_with(w)), "sockit {path}: about line {first:?}, table {want:?}");
        // The commands it lists, to visit in turn.
        let listed = help.split("Commands:").nth(1).unwrap_or_default();
        // Names stand two spaces in; a wrapped description goes deeper.
        for line in listed.lines().skip(1).take_while(|l| !l.is_empty()) {
            let named = line.strip_prefix("  ").filter(|l| !l.starts_with(' '));
            if let Some(name) = named.and_then(|l| l.split_whitespace().next()).filter(|n| *n != "help") {
                todo.push(format!("{path} {name}").trim().to_string());
            }
        }
        seen.push(path);
    }
    seen.sort();
    let mut named: Vec<String> = table.iter().map(|(p, _)| p.to_string()).collect();
    named.sort();
    assert_eq!(seen, named, "the table names every command");
}
