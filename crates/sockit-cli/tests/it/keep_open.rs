//! `tcp listen --keep-open` against clients that leave, reset and crowd in: a client that has
//! gone is freed at once whatever the input does, what a client sent before it reset is never
//! lost, and low descriptor and memory limits cost connections, never the server.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::util::{Collected, Proc, listening, sockit_bin, sockit_cmd};

fn count_in(dir: String) -> usize {
    std::fs::read_dir(dir).map_or(0, std::iter::Iterator::count)
}

/// (descriptors, threads) of a process.
fn held(pid: u32) -> (usize, usize) {
    (count_in(format!("/proc/{pid}/fd")), count_in(format!("/proc/{pid}/task")))
}

/// Wait (up to `within`) until the process holds no more than `limit`; what it holds then.
fn settles(pid: u32, limit: (usize, usize), within: Duration) -> (usize, usize) {
    let start = Instant::now();
    loop {
        let now = held(pid);
        if (now.0 <= limit.0 && now.1 <= limit.1) || start.elapsed() > within {
            return now;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Clients that connect (most saying a line) and close, while stdin stays open and silent:
/// every one is freed within a second, descriptors and threads back where they started, and
/// every line reaches stdout. (Each client used to hold two descriptors and two threads for
/// good: 300 such clients left ~600 of each.)
#[test]
fn clients_that_leave_are_freed_while_stdin_is_silent() {
    let (mut srv, port, _err) = listening(sockit_cmd(&["tcp", "listen", "0", "--bind", "127.0.0.1", "--keep-open"]));
    let _silent_stdin = srv.0.stdin.take().expect("stdin");
    let out = Collected::from(srv.0.stdout.take().expect("stdout"));
    let pid = srv.0.id();
    // One client first, so that everything the server starts once is started.
    TcpStream::connect(("127.0.0.1", port)).expect("connect").write_all(b"first\n").expect("send");
    let base = settles(pid, (0, 0), Duration::from_millis(500));
    for i in 0..1000 {
        let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        if i % 2 == 0 {
            c.write_all(format!("client {i}\n").as_bytes()).expect("send");
        }
    }
    let after = settles(pid, base, Duration::from_secs(1));
    assert!(after.0 <= base.0 && after.1 <= base.1, "held {after:?} after 1000 clients left, {base:?} before");
    let lines = out.lines(501, Duration::from_secs(10));
    assert_eq!(lines.len(), 501, "every line reaches stdout");
}

/// With stdin at its end, clients that come and go give their --max-conns slots back: the
/// fourth client after three is served.
#[test]
fn max_conns_slots_come_back_when_stdin_has_ended() {
    let mut cmd = sockit_cmd(&["tcp", "listen", "0", "--bind", "127.0.0.1", "--keep-open", "--max-conns", "3"]);
    cmd.stdin(std::fs::File::open("/dev/null").expect("null"));
    let (mut srv, port, _err) = listening(cmd);
    let out = Collected::from(srv.0.stdout.take().expect("stdout"));
    for round in 0..4 {
        for i in 0..3 {
            let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
            c.write_all(format!("round {round} client {i}\n").as_bytes()).expect("send");
            c.shutdown(Shutdown::Write).expect("fin");
            c.set_read_timeout(Some(Duration::from_secs(5))).expect("t");
            // Served: stdin's end comes as FIN, and the connection is let go.
            assert_eq!(c.read(&mut [0u8; 16]).expect("FIN"), 0);
        }
    }
    assert_eq!(out.lines(12, Duration::from_secs(10)).len(), 12);
}

/// Each client says a line and resets at once: every line is written (ncat -lk writes all of
/// them; the server used to drop the client whose address it could no longer ask for).
#[test]
fn a_line_said_just_before_a_reset_is_written() {
    let (mut srv, port, _err) = listening(sockit_cmd(&["tcp", "listen", "0", "--bind", "127.0.0.1", "--keep-open"]));
    let _silent_stdin = srv.0.stdin.take().expect("stdin");
    let out = Collected::from(srv.0.stdout.take().expect("stdout"));
    for i in 0..100 {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
        s.connect(&std::net::SocketAddr::from(([127, 0, 0, 1], port)).into()).expect("connect");
        s.send(format!("line {i:03}\n").as_bytes()).expect("send");
        s.set_linger(Some(Duration::ZERO)).expect("linger");
        drop(s);
    }
    let lines = out.lines(100, Duration::from_secs(10));
    let want: Vec<String> = (0..100).map(|i| format!("line {i:03}")).collect();
    assert_eq!(lines, want);
}

/// Under a low descriptor limit, 200 clients that come and go leave a listener that still
/// serves: the next client's line reaches stdout and it gets stdin's end.
#[test]
fn a_low_descriptor_limit_costs_no_service() {
    let mut sh = Command::new("bash");
    sh.arg("-c")
        .arg(format!("ulimit -n 256; exec {} tcp listen 0 --bind 127.0.0.1 --keep-open < <(sleep 60)", sockit_bin()));
    let (mut srv, port, _err) = listening(sh);
    let out = Collected::from(srv.0.stdout.take().expect("stdout"));
    for _ in 0..200 {
        let c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        drop(c);
    }
    let mut last = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    last.write_all(b"still served\n").expect("send");
    assert_eq!(out.lines(1, Duration::from_secs(5)), ["still served"]);
    let _: &Proc = &srv;
}

/// Under a memory limit (300 MB of address space), 400 clients held open at once, each saying a
/// line, are all served and the server lives on (it used to abort when it could not allocate
/// for them).
#[test]
fn four_hundred_clients_under_a_memory_limit() {
    let mut sh = Command::new("bash");
    sh.arg("-c").arg(format!(
        "ulimit -v 300000; exec {} tcp listen 0 --bind 127.0.0.1 --keep-open < <(sleep 60)",
        sockit_bin()
    ));
    let (mut srv, port, _err) = listening(sh);
    let out = Collected::from(srv.0.stdout.take().expect("stdout"));
    let mut held = Vec::new();
    for i in 0..400 {
        let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        c.write_all(format!("client {i:03}\n").as_bytes()).expect("send");
        held.push(c);
    }
    assert_eq!(out.lines(400, Duration::from_secs(10)).len(), 400, "every client was served");
    assert!(srv.0.try_wait().expect("wait").is_none(), "the server is alive");
    drop(held);
    let mut next = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    next.write_all(b"one more\n").expect("send");
    assert_eq!(out.lines(401, Duration::from_secs(5)).len(), 401);
}
