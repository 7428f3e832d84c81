//! The lecture's snippets as Rust examples, each run: receiver with sender, server with
//! client, and the threaded server with clients talking at once.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::{DEADLINE, PipeLines, Proc, wait_deadline};

fn example(name: &str) -> Command {
    // Examples are built next to the binary cargo built for the tests, in examples/. `cargo
    // test` with no target filter builds them; a filtered run builds them here, once.
    static BUILT: std::sync::Once = std::sync::Once::new();
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_sockit"));
    let path = bin.parent().expect("target dir").join("examples").join(name);
    BUILT.call_once(|| {
        if !path.exists() {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let ok = Command::new(cargo).args(["build", "--examples", "-p", "sockit-cli"]).status();
            assert!(ok.is_ok_and(|s| s.success()), "cannot build the examples");
        }
    });
    assert!(path.exists(), "{} is not built", path.display());
    Command::new(path)
}

/// Start an example that prints "listening on port N" and return it with N.
fn start(name: &str, args: &[&str]) -> (Proc, u16, impl Iterator<Item = std::io::Result<String>>) {
    let mut child = example(name).args(args).stdout(Stdio::piped()).spawn().expect("spawn example");
    let mut lines = PipeLines::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("line").expect("line");
    let port = first.rsplit(' ').next().and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("{first}"));
    (Proc(child), port, lines)
}

#[test]
fn udp_receiver_and_sender() {
    let (mut rx, port, mut lines) = start("udp_receiver", &["0"]);
    let ok = example("udp_sender").args(["127.255.255.255", &port.to_string()]).status().expect("sender");
    assert!(ok.success());
    let line = lines.next().expect("line").expect("line");
    assert!(line.starts_with("127.0.0.1:") && line.ends_with(" says Hello there"), "{line}");
    assert_eq!(wait_deadline(&mut rx.0, DEADLINE, "udp_receiver"), 0);
}

#[test]
fn tcp_server_and_client() {
    let (mut srv, port, mut lines) = start("tcp_server", &["0"]);
    let ok = example("tcp_client").args(["127.0.0.1", &port.to_string()]).status().expect("client");
    assert!(ok.success());
    let line = lines.next().expect("line").expect("line");
    assert!(line.ends_with(" sent Hello there"), "{line}");
    assert_eq!(wait_deadline(&mut srv.0, DEADLINE, "tcp_server"), 0);
}

#[test]
fn threads_serve_clients_at_once() {
    let (mut srv, port, _lines) = start("threads", &["0", "3"]);
    // A client that says nothing holds its thread, and the others are served all the same.
    let idle = TcpStream::connect(("127.0.0.1", port)).expect("idle client");
    for word in ["first", "second"] {
        let mut c = TcpStream::connect(("127.0.0.1", port)).expect("client");
        c.set_read_timeout(Some(Duration::from_secs(5))).expect("t");
        writeln!(c, "hello {word}").expect("write");
        c.shutdown(std::net::Shutdown::Write).expect("fin");
        let mut back = String::new();
        c.read_to_string(&mut back).expect("read");
        assert_eq!(back, format!("HELLO {}\n", word.to_uppercase()));
    }
    drop(idle);
    assert_eq!(wait_deadline(&mut srv.0, DEADLINE, "threads"), 0);
}
