//! The library's servers and relays in-process, on port 0, with pipes for stdio.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use sockit::bridge::{BridgeEnd, BridgeOptions};
use sockit::conn::Conn;
use sockit::stdio::Stdio;

/// A pipe: (read end, write end) as files.
fn pipe() -> (std::fs::File, std::fs::File) {
    let (r, w) = rustix::pipe::pipe().expect("pipe");
    (r.into(), w.into())
}

/// What `work` gives, from a thread of its own, within `secs`: a test fails instead of
/// hanging on a read that never ends.
fn within<T: Send + 'static>(secs: u64, what: &str, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(work());
    });
    rx.recv_timeout(Duration::from_secs(secs)).unwrap_or_else(|_| panic!("{what}: nothing within {secs} s"))
}

#[test]
fn relay_moves_both_ways_and_ends_when_the_peer_closes() {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    let peer = std::thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept");
        s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        let mut got = Vec::new();
        s.read_to_end(&mut got).expect("read");
        s.write_all(&got.iter().rev().copied().collect::<Vec<u8>>()).expect("write");
    });
    let (in_r, mut in_w) = pipe();
    let (out_r, out_w) = pipe();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let feeder = {
        let data = data.clone();
        std::thread::spawn(move || in_w.write_all(&data).expect("feed"))
    };
    let (done, reader) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut got = Vec::new();
        BufReader::new(out_r).read_to_end(&mut got).expect("output");
        let _ = done.send(got);
    });
    let conn = Conn::plain(TcpStream::connect(addr).expect("connect")).expect("conn");
    let stats = sockit::bridge::bridge(conn, Stdio::new(in_r, out_w), &BridgeOptions::default()).expect("relay");
    feeder.join().expect("feeder");
    peer.join().expect("peer");
    assert_eq!((stats.sent, stats.received, stats.end), (3_000_000, 3_000_000, BridgeEnd::PeerClosed));
    let got = reader.recv_timeout(Duration::from_secs(30)).expect("the output, whole");
    assert!(got.iter().eq(data.iter().rev()), "the peer's answer, byte for byte");
}

#[test]
fn keep_open_takes_many_clients_and_sends_the_input_to_each() {
    let cfg = sockit::tcp::ListenConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        rules: sockit::listener::AccessRules::default(),
        keep_open: true,
        max_conns: None,
        exec: None,
        tls: None,
        bridge: BridgeOptions::default(),
        unix: None,
        metrics: None,
    };
    let (in_r, mut in_w) = pipe();
    let (out_r, out_w) = pipe();
    let (tx, rx) = std::sync::mpsc::channel();
    // The server runs until the process ends.
    std::thread::spawn(move || {
        let _ = sockit::tcp::listen_run(
            &cfg,
            Stdio::new(in_r, out_w),
            &mut |s| {
                if let sockit::tcp::Started::Listening(a) = s {
                    let _ = tx.send(a);
                }
            },
            None,
        );
    });
    let addr = rx.recv_timeout(Duration::from_secs(5)).expect("listening");
    let mut clients: Vec<TcpStream> = (0..5).map(|_| TcpStream::connect(addr).expect("connect")).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        c.write_all(format!("line {i}\n").as_bytes()).expect("send");
    }
    let mut got: Vec<String> = within(10, "the clients' lines", move || {
        let mut lines = BufReader::new(out_r).lines();
        (0..5).map(|_| lines.next().expect("line").expect("utf-8")).collect()
    });
    got.sort();
    assert_eq!(got, (0..5).map(|i| format!("line {i}")).collect::<Vec<_>>());
    in_w.write_all(b"to all\n").expect("input");
    for c in &mut clients {
        c.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        let mut line = String::new();
        BufReader::new(&*c).read_line(&mut line).expect("broadcast");
        assert_eq!(line, "to all\n");
    }
}

#[test]
fn chat_server_in_process_relays_a_line_and_says_goodbye() {
    use sockit::chat::server::{ServeConfig, Stop, Stopped};
    let stop = tokio_util::sync::CancellationToken::new();
    let cfg = ServeConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        discovery_port: None,
        tls: None,
        room: "test".into(),
        max_clients: 10,
        max_line: 100,
        rate: 0.0,
        web: true,
        web_origins: Vec::new(),
        web_hosts: Vec::new(),
        metrics_allow: sockit::listener::AccessRules::loopback(),
        motd: None,
        irc_name: None,
        history: 0,
        cluster: None,
        pages: Vec::new(),
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let server = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            sockit::chat::server::run(&cfg, |_| {}, &mut |s| tx.send(s.address).expect("started"), Stop::Token(stop))
        })
    };
    let addr = rx.recv_timeout(Duration::from_secs(5)).expect("started");
    let connect = || {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        let mut r = BufReader::new(s.try_clone().expect("clone"));
        let mut welcome = String::new();
        r.read_line(&mut welcome).expect("welcome");
        assert!(welcome.starts_with("* welcome to test, you are guest-"), "{welcome}");
        (s, r)
    };
    let (mut a, _ra) = connect();
    let (_b, mut rb) = connect();
    a.write_all(b"/nick alice\nhello\n").expect("say");
    let mut line = String::new();
    while !line.starts_with("<alice>") {
        line.clear();
        // A server that closes ends the test (reads here have a 5 s timeout too).
        assert!(rb.read_line(&mut line).expect("line") > 0, "the server closed before alice spoke");
    }
    assert_eq!(line, "<alice> hello\n");
    stop.cancel();
    let mut rest = String::new();
    rb.read_to_string(&mut rest).expect("until closed");
    assert!(rest.ends_with("* the server is shutting down: goodbye\n"), "{rest:?}");
    assert_eq!(server.join().expect("server").expect("ran"), Stopped::Asked);
}
