//! Unix socket files: a stale one is replaced without ever touching a file elsewhere, a live
//! one is told from a stale one without taking its listener's only connection, and the ones
//! sockit made are gone when a signal ends it.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::util::{Proc, line_within, sockit_bin, sockit_cmd, wait_deadline};

/// While a symlink to the socket's directory flips between a directory holding a stale socket
/// file and one holding a regular file of the same name, replacing the stale socket never
/// removes the regular file (it did, in about four tries of ten).
#[test]
fn a_swapped_directory_never_costs_a_file_elsewhere() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b, link) = (dir.path().join("a"), dir.path().join("b"), dir.path().join("now"));
    std::fs::create_dir(&a).expect("a");
    std::fs::create_dir(&b).expect("b");
    std::fs::write(b.join("s"), "precious").expect("regular file");
    std::os::unix::fs::symlink(&a, &link).expect("link");
    let stop = Arc::new(AtomicBool::new(false));
    let flipper = {
        let (a, b, link, tmp, stop) = (a.clone(), b.clone(), link.clone(), dir.path().join("tmp"), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                for target in [&a, &b] {
                    let _ = std::fs::remove_file(&tmp);
                    let _ = std::os::unix::fs::symlink(target, &tmp);
                    let _ = std::fs::rename(&tmp, &link);
                }
            }
        })
    };
    let path = link.join("s");
    for _ in 0..300 {
        // A stale socket file in a: bound, then let go without its file removed.
        let _ = std::fs::remove_file(a.join("s"));
        drop(UnixListener::bind(a.join("s")).expect("stale socket"));
        let mut c = sockit_cmd(&["udp", "listen", "--unix", path.to_str().expect("utf-8"), "--timeout", "0.01"]);
        c.stdout(Stdio::null()).stderr(Stdio::null());
        let mut child = c.spawn().expect("sockit");
        wait_deadline(&mut child, Duration::from_secs(10), "udp listen --unix");
        assert_eq!(std::fs::read_to_string(b.join("s")).ok().as_deref(), Some("precious"), "the file in b was removed");
    }
    stop.store(true, Ordering::Relaxed);
    flipper.join().expect("flipper");
}

/// A second listener on the path of a live single-client listener is refused, and the first
/// still has its one connection to give: its real client is served (the probe used to be that
/// client).
#[test]
fn a_live_single_client_listener_keeps_its_client() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("one.sock");
    let p = path.to_str().expect("utf-8");
    let mut first = sockit_cmd(&["tcp", "listen", "--unix", p]);
    first.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut first = Proc(first.spawn().expect("sockit"));
    let mut said = String::new();
    said.push_str(
        &crate::util::line_within(first.0.stderr.take().expect("stderr"), crate::util::DEADLINE).expect("started"),
    );
    let second = crate::util::sockit(&["tcp", "listen", "--unix", p]).fails(1);
    assert_eq!(second, format!("sockit: cannot listen on {p}: a program listens on it already"));
    let mut client = UnixStream::connect(&path).expect("the first still listens");
    client.write_all(b"hello first\n").expect("send");
    let got = line_within(first.0.stdout.take().expect("stdout"), Duration::from_secs(5));
    assert_eq!(got.as_deref(), Some("hello first\n"));
}

/// `udp listen --unix`, `relay unix-listen:` and `tcp listen --unix` waiting for its client
/// remove their socket files when SIGTERM or SIGINT ends them (the files stayed).
#[test]
fn socket_files_go_when_a_signal_ends_sockit() {
    let dir = tempfile::tempdir().expect("tempdir");
    use rustix::process::Signal;
    let cases: Vec<(Vec<String>, Signal)> = vec![
        (vec!["udp".into(), "listen".into(), "--unix".into(), "{}".into()], Signal::TERM),
        (vec!["relay".into(), "unix-listen:{}".into(), "tcp:127.0.0.1:9".into()], Signal::INT),
        (vec!["tcp".into(), "listen".into(), "--unix".into(), "{}".into()], Signal::TERM),
    ];
    for (i, (args, sig)) in cases.into_iter().enumerate() {
        let path = dir.path().join(format!("s{i}"));
        let args: Vec<String> = args.iter().map(|a| a.replace("{}", path.to_str().expect("utf-8"))).collect();
        let mut cmd = Command::new(sockit_bin());
        cmd.args(&args).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("sockit");
        let mut said = String::new();
        said.push_str(
            &crate::util::line_within(child.stderr.take().expect("stderr"), crate::util::DEADLINE).expect("started"),
        );
        assert!(path.exists(), "{args:?}: no socket file after {said:?}");
        let pid = rustix::process::Pid::from_raw(i32::try_from(child.id()).expect("pid")).expect("pid");
        rustix::process::kill_process(pid, sig).expect("signal");
        let start = Instant::now();
        let _ = wait_deadline(&mut child, Duration::from_secs(5), "sockit");
        assert!(!path.exists(), "{args:?}: the socket file stayed after the signal");
        assert!(start.elapsed() < Duration::from_secs(2));
    }
}

/// What a Unix client sends as soon as it connects reaches stdout (a splice from the socket
/// could wait for ever with those bytes already taken, most runs: the socket is read now).
#[test]
fn a_unix_clients_first_bytes_arrive() {
    let dir = tempfile::tempdir().expect("tempdir");
    for i in 0..10 {
        let path = dir.path().join(format!("quick{i}.sock"));
        let mut cmd = sockit_cmd(&["tcp", "listen", "--unix", path.to_str().expect("utf-8")]);
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut srv = Proc(cmd.spawn().expect("sockit"));
        assert!(line_within(srv.0.stderr.take().expect("stderr"), Duration::from_secs(5)).is_some());
        let mut client = UnixStream::connect(&path).expect("connect");
        client.write_all(b"at once\n").expect("send");
        let got = line_within(srv.0.stdout.take().expect("stdout"), Duration::from_secs(5));
        assert_eq!(got.as_deref(), Some("at once\n"), "run {i}");
    }
}

/// `tcp listen --unix --keep-open` serves many clients, as `ncat -U -k` does: what each sends
/// reaches stdout, stdin reaches all of them, `--max-conns` closes one too many, and the socket
/// file goes with SIGTERM. One client is socat.
#[test]
fn keep_open_on_a_unix_socket_serves_many() {
    use std::io::Read;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("many.sock");
    let p = path.to_str().expect("utf-8");
    let mut cmd = sockit_cmd(&["tcp", "listen", "--unix", p, "--keep-open", "--max-conns", "2"]);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut server = Proc(cmd.spawn().expect("sockit"));
    let mut said = String::new();
    said.push_str(
        &crate::util::line_within(server.0.stderr.take().expect("stderr"), crate::util::DEADLINE).expect("started"),
    );
    assert_eq!(said, format!("sockit: listening on {p} (unix)\n"));
    let out = crate::util::Collected::from(server.0.stdout.take().expect("stdout"));
    let mut a = UnixStream::connect(&path).expect("a");
    a.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    a.write_all(b"from a\n").expect("a sends");
    assert_eq!(out.lines(1, Duration::from_secs(5)), ["from a"]);
    let mut b = if crate::util::have("socat") {
        let mut c = Command::new("socat");
        c.args(["-", &format!("UNIX-CONNECT:{p}")]).stdin(Stdio::piped()).stdout(Stdio::piped());
        Some(Proc(c.spawn().expect("socat")))
    } else {
        None
    };
    if let Some(b) = &mut b {
        b.0.stdin.as_mut().expect("stdin").write_all(b"from socat\n").expect("socat sends");
        assert_eq!(out.lines(2, Duration::from_secs(5)), ["from a", "from socat"]);
        // A third is one too many: closed at once.
        let mut c = UnixStream::connect(&path).expect("c");
        c.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        assert_eq!(c.read(&mut [0u8; 16]).expect("closed"), 0, "--max-conns 2 took a third client");
    }
    server.0.stdin.as_mut().expect("stdin").write_all(b"to all\n").expect("stdin");
    let mut got = String::new();
    BufReader::new(&a).read_line(&mut got).expect("a hears");
    assert_eq!(got, "to all\n");
    if let Some(b) = &mut b {
        let heard = line_within(b.0.stdout.take().expect("stdout"), Duration::from_secs(5));
        assert_eq!(heard.as_deref(), Some("to all\n"));
    }
    let pid = rustix::process::Pid::from_raw(i32::try_from(server.0.id()).expect("pid")).expect("pid");
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("signal");
    let _ = wait_deadline(&mut server.0, Duration::from_secs(5), "sockit");
    assert!(!path.exists(), "the socket file stayed");
}
