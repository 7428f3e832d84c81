//! The lecture's many-clients slide: one server, two clients, and select() (poll, as sockit
//! makes it) waking on whichever socket is ready, not on whoever came first.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec};

use super::{Lab, LabError, failed, shown};

/// `select.select(socks, [], [])`: which of `socks` are readable, waited for at most 2 s.
fn readable(socks: &[BorrowedFd<'_>]) -> Result<Vec<usize>, LabError> {
    let mut fds: Vec<PollFd<'_>> = socks.iter().map(|s| PollFd::new(s, PollFlags::IN)).collect();
    let timeout = Timespec { tv_sec: 2, tv_nsec: 0 };
    rustix::event::poll(&mut fds, Some(&timeout)).map_err(|e| failed("poll")(e.into()))?;
    Ok(fds.iter().enumerate().filter(|(_, f)| !f.revents().is_empty()).map(|(i, _)| i).collect())
}

/// One select() call recorded: its Python, the poll sockit made, which were ready.
fn wait(lab: &mut Lab, names: &[&str], socks: &[BorrowedFd<'_>], note: &str) -> Result<Vec<usize>, LabError> {
    let ready = readable(socks)?;
    let fds: Vec<String> = socks.iter().map(|s| format!("{{fd={}, events=POLLIN}}", s.as_raw_fd())).collect();
    let woke: Vec<&str> = ready.iter().map(|&i| names[i]).collect();
    lab.record(
        "server",
        format!("ready, _, _ = select.select([{}], [], [])", names.join(", ")),
        format!("poll([{}], {}, 2000) = {}  ready: {}", fds.join(", "), socks.len(), ready.len(), woke.join(", ")),
        &[],
        Some(note),
    );
    Ok(ready)
}

/// A server, alice and bob: both connect, bob speaks first, alice leaves.
pub(super) fn many_clients(lab: &mut Lab) -> Result<(), LabError> {
    let s = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, lab.port))).map_err(failed("bind"))?;
    let at = s.local_addr().map_err(failed("getsockname"))?;
    let port = at.port();
    lab.party("server", at);
    let sfd = s.as_raw_fd();
    lab.record(
        "server",
        format!("s = socket.create_server(('127.0.0.1', {port}))"),
        format!("socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = {sfd}; bind({sfd}, {{AF_INET, 127.0.0.1:{port}}}, 16) = 0; listen({sfd}, 128) = 0"),
        &[("s", s.as_fd())],
        None,
    );
    let mut clients = Vec::new();
    for name in ["alice", "bob"] {
        let c = TcpStream::connect(at).map_err(failed("connect"))?;
        c.set_read_timeout(Some(Duration::from_secs(2))).map_err(failed("setsockopt"))?;
        lab.initiator(name, c.local_addr().map_err(failed("getsockname"))?);
        lab.record(
            name,
            format!("{} = socket.create_connection(('127.0.0.1', {port}))", &name[..1]),
            format!("connect({}, {{AF_INET, 127.0.0.1:{port}}}, 16) = 0", c.as_raw_fd()),
            &[("s", s.as_fd())],
            None,
        );
        clients.push(c);
    }
    wait(lab, &["s"], &[s.as_fd()], "two connections wait in the accept queue: the listening socket is readable")?;
    let mut conns = Vec::new();
    for name in ["conn_a", "conn_b"] {
        let (conn, from) = s.accept().map_err(failed("accept"))?;
        conn.set_read_timeout(Some(Duration::from_secs(2))).map_err(failed("setsockopt"))?;
        lab.record(
            "server",
            format!("{name}, addr = s.accept()"),
            format!("accept4({sfd}, {{AF_INET, {from}}}, [16], SOCK_CLOEXEC) = {}", conn.as_raw_fd()),
            &[],
            None,
        );
        conns.push(conn);
    }
    let line = b"hi, I am bob";
    clients[1].write_all(line).map_err(failed("send"))?;
    lab.record(
        "bob",
        format!("b.sendall(b'{}')", shown(line)),
        format!("sendto({}, \"{}\", {}, 0, NULL, 0) = {}", clients[1].as_raw_fd(), shown(line), line.len(), line.len()),
        &[],
        None,
    );
    let names = ["s", "conn_a", "conn_b"];
    let ready = wait(
        lab,
        &names,
        &[s.as_fd(), conns[0].as_fd(), conns[1].as_fd()],
        "select() wakes on whichever socket has data: bob's, though alice came first",
    )?;
    let mut buf = [0u8; 1024];
    if ready.contains(&2) {
        let n = conns[1].read(&mut buf).map_err(failed("recv"))?;
        lab.record(
            "server",
            "data = conn_b.recv(1024)",
            format!("recvfrom({}, 1024, 0, NULL, NULL) = {n}  \"{}\"", conns[1].as_raw_fd(), shown(&buf[..n])),
            &[],
            None,
        );
        let relayed = [b"bob: ".as_slice(), &buf[..n]].concat();
        conns[0].write_all(&relayed).map_err(failed("send"))?;
        lab.record(
            "server",
            format!("conn_a.sendall(b'{}')", shown(&relayed)),
            format!(
                "sendto({}, \"{}\", {}, 0, NULL, 0) = {}",
                conns[0].as_raw_fd(),
                shown(&relayed),
                relayed.len(),
                relayed.len()
            ),
            &[],
            Some("the chat server passes bob's line on to alice"),
        );
        let n = clients[0].read(&mut buf).map_err(failed("recv"))?;
        lab.record(
            "alice",
            "data = a.recv(1024)",
            format!("recvfrom({}, 1024, 0, NULL, NULL) = {n}  \"{}\"", clients[0].as_raw_fd(), shown(&buf[..n])),
            &[],
            None,
        );
    }
    let alice = clients.remove(0);
    let afd = alice.as_raw_fd();
    drop(alice);
    lab.record("alice", "a.close()", format!("close({afd}) = 0"), &[], None);
    let ready = wait(
        lab,
        &names,
        &[s.as_fd(), conns[0].as_fd(), conns[1].as_fd()],
        "a peer's FIN makes its socket readable too: recv() will return b''",
    )?;
    if ready.contains(&1) {
        let n = conns[0].read(&mut buf).map_err(failed("recv"))?;
        lab.record(
            "server",
            "data = conn_a.recv(1024)",
            format!("recvfrom({}, 1024, 0, NULL, NULL) = {n}  b''", conns[0].as_raw_fd()),
            &[],
            Some("alice has left: the server closes her connection and drops her from its list"),
        );
        let fd = conns[0].as_raw_fd();
        drop(conns.remove(0));
        lab.record("server", "conn_a.close()", format!("close({fd}) = 0"), &[], None);
    }
    Ok(())
}
