//! The lecture's TCP and UDP slides, call by call, as its Python makes them: each call made
//! for real and recorded with the frames it caused.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

use socket2::{Domain, Socket, Type};

use super::{Lab, LabError, errno, failed, shown};

/// A port nobody on the host's loopback holds (the lab's own network has 40001 free).
fn unused_port(lab: &Lab, udp: bool) -> Result<u16, LabError> {
    if lab.own_network() {
        return Ok(lab.port + 1);
    }
    let any = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let port = if udp {
        UdpSocket::bind(any).and_then(|s| s.local_addr())
    } else {
        std::net::TcpListener::bind(any).and_then(|s| s.local_addr())
    };
    Ok(port.map_err(failed("bind"))?.port())
}

fn local(s: &Socket) -> Result<SocketAddr, LabError> {
    s.local_addr().map_err(failed("getsockname"))?.as_socket().ok_or_else(|| LabError::Call {
        call: "getsockname".into(),
        error: io::Error::other("not an internet address"),
    })
}

/// socket, bind, listen, connect, accept, send and recv both ways, a half-close, close, and a
/// connect to a port nobody listens on.
pub(super) fn tcp(lab: &mut Lab) -> Result<(), LabError> {
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).map_err(failed("socket"))?;
    let sfd = s.as_raw_fd();
    lab.record(
        "server",
        "s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)",
        format!("socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = {sfd}"),
        &[],
        Some("a socket is only a descriptor: nothing is sent"),
    );
    s.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, lab.port)).into()).map_err(failed("bind"))?;
    let at = local(&s)?;
    let port = at.port();
    lab.party("server", at);
    lab.record(
        "server",
        format!("s.bind(('127.0.0.1', {port}))"),
        format!("bind({sfd}, {{AF_INET, 127.0.0.1:{port}}}, 16) = 0"),
        &[],
        None,
    );
    s.listen(5).map_err(failed("listen"))?;
    lab.record(
        "server",
        "s.listen(5)",
        format!("listen({sfd}, 5) = 0"),
        &[("s", s.as_fd())],
        Some("LISTEN: from now on the kernel answers SYNs itself and queues the connections for accept()"),
    );
    let c = Socket::new(Domain::IPV4, Type::STREAM, None).map_err(failed("socket"))?;
    let cfd = c.as_raw_fd();
    lab.record(
        "client",
        "c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)",
        format!("socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = {cfd}"),
        &[],
        None,
    );
    c.connect(&at.into()).map_err(failed("connect"))?;
    lab.initiator("client", local(&c)?);
    lab.record(
        "client",
        format!("c.connect(('127.0.0.1', {port}))"),
        format!("connect({cfd}, {{AF_INET, 127.0.0.1:{port}}}, 16) = 0"),
        &[("c", c.as_fd()), ("s", s.as_fd())],
        Some("the three-way handshake, made by the two kernels: connect() returns after it, before any accept()"),
    );
    let (conn, from) = s.accept().map_err(failed("accept"))?;
    let from = from.as_socket().map_or_else(String::new, |a| a.to_string());
    let nfd = conn.as_raw_fd();
    lab.record(
        "server",
        "conn, addr = s.accept()",
        format!("accept4({sfd}, {{AF_INET, {from}}}, [16], SOCK_CLOEXEC) = {nfd}"),
        &[("conn", conn.as_fd())],
        Some("accept() takes a connection the kernel has already made: no packet"),
    );
    let mut c: TcpStream = c.into();
    let mut conn: TcpStream = conn.into();
    for sock in [&c, &conn] {
        sock.set_read_timeout(Some(Duration::from_secs(2))).map_err(failed("setsockopt"))?;
    }
    // A send, and both ends' state after it: the bytes wait in the receiver's queue.
    let said =
        |lab: &mut Lab, (who, name): (&str, &str), sock: &mut TcpStream, peer: (&str, &TcpStream), data: &[u8]| {
            sock.write_all(data).map_err(failed("send"))?;
            let fd = sock.as_raw_fd();
            lab.record(
                who,
                format!("{name}.sendall(b'{}')", shown(data)),
                format!("sendto({fd}, \"{}\", {}, 0, NULL, 0) = {}", shown(data), data.len(), data.len()),
                &[(name, sock.as_fd()), (peer.0, peer.1.as_fd())],
                None,
            );
            Ok::<(), LabError>(())
        };
    let heard = |lab: &mut Lab, who: &str, name: &str, sock: &mut TcpStream, note: Option<&str>| {
        let mut buf = [0u8; 1024];
        let n = sock.read(&mut buf).map_err(failed("recv"))?;
        let fd = sock.as_raw_fd();
        let got = if n == 0 { "b''".to_string() } else { format!("\"{}\"", shown(&buf[..n])) };
        lab.record(
            who,
            format!("data = {name}.recv(1024)"),
            format!("recvfrom({fd}, 1024, 0, NULL, NULL) = {n}  {got}"),
            &[(name, sock.as_fd())],
            note,
        );
        Ok::<(), LabError>(())
    };
    said(lab, ("client", "c"), &mut c, ("conn", &conn), b"Hello, server")?;
    heard(lab, "server", "conn", &mut conn, Some("recv() reads what the kernel already acknowledged: no packet"))?;
    said(lab, ("server", "conn"), &mut conn, ("c", &c), b"Hello, client")?;
    heard(lab, "client", "c", &mut c, None)?;
    c.shutdown(Shutdown::Write).map_err(failed("shutdown"))?;
    lab.record(
        "client",
        "c.shutdown(socket.SHUT_WR)",
        format!("shutdown({cfd}, SHUT_WR) = 0"),
        &[("c", c.as_fd()), ("conn", conn.as_fd())],
        Some("a half-close: the client's FIN says it will send no more; it can still receive"),
    );
    heard(lab, "server", "conn", &mut conn, Some("recv() returns b'' at the peer's FIN"))?;
    said(lab, ("server", "conn"), &mut conn, ("c", &c), b"Bye")?;
    heard(lab, "client", "c", &mut c, None)?;
    let conn_fd = conn.as_raw_fd();
    drop(conn);
    lab.record(
        "server",
        "conn.close()",
        format!("close({conn_fd}) = 0"),
        &[("c", c.as_fd())],
        Some(
            "the server's FIN, acknowledged: the client's kernel keeps the connection in TIME-WAIT \
             (ss -tan shows it), and the socket itself is CLOSED",
        ),
    );
    drop(c);
    lab.record("client", "c.close()", format!("close({cfd}) = 0"), &[], Some("already shut down both ways: no packet"));
    let closed = unused_port(lab, false)?;
    let c2 = Socket::new(Domain::IPV4, Type::STREAM, None).map_err(failed("socket"))?;
    let c2fd = c2.as_raw_fd();
    let result = c2.connect(&SocketAddr::from((Ipv4Addr::LOCALHOST, closed)).into());
    // A refused connect leaves the socket unbound from its address: the port is still the
    // one its SYN came from.
    if let Ok(a) = local(&c2) {
        lab.initiator("client2", SocketAddr::from((Ipv4Addr::LOCALHOST, a.port())));
    }
    lab.party("nobody", SocketAddr::from((Ipv4Addr::LOCALHOST, closed)));
    lab.record(
        "client2",
        format!("c2 = socket.socket(); c2.connect(('127.0.0.1', {closed}))"),
        format!(
            "connect({c2fd}, {{AF_INET, 127.0.0.1:{closed}}}, 16) = {}",
            result.as_ref().map_or_else(errno, |()| "0".into())
        ),
        &[],
        Some("nobody listens there: the kernel answers the SYN with RST, and Python raises ConnectionRefusedError"),
    );
    Ok(())
}

/// A receiver on the lecture's port, a datagram, a broadcast without and with SO_BROADCAST,
/// and a datagram to a port nobody holds (ICMP port unreachable).
pub(super) fn udp(lab: &mut Lab) -> Result<(), LabError> {
    let s = UdpSocket::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, lab.port))).map_err(failed("bind"))?;
    s.set_read_timeout(Some(Duration::from_secs(2))).map_err(failed("setsockopt"))?;
    let at = s.local_addr().map_err(failed("getsockname"))?;
    let port = at.port();
    let sfd = s.as_raw_fd();
    lab.party("receiver", at);
    lab.record(
        "receiver",
        format!("s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('', {port}))"),
        format!("socket(AF_INET, SOCK_DGRAM, IPPROTO_IP) = {sfd}; bind({sfd}, {{AF_INET, 0.0.0.0:{port}}}, 16) = 0"),
        &[],
        Some("'' is INADDR_ANY: every address of this host, at this port"),
    );
    let c = UdpSocket::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))).map_err(failed("bind"))?;
    c.set_read_timeout(Some(Duration::from_secs(2))).map_err(failed("setsockopt"))?;
    let cfd = c.as_raw_fd();
    lab.initiator("sender", c.local_addr().map_err(failed("getsockname"))?);
    lab.record(
        "sender",
        "c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)",
        format!("socket(AF_INET, SOCK_DGRAM, IPPROTO_IP) = {cfd}"),
        &[],
        None,
    );
    let hello = b"Hello there";
    let send_to = |lab: &mut Lab, to: Ipv4Addr, note: Option<&str>| {
        let r = c.send_to(hello, SocketAddr::from((to, port)));
        lab.record(
            "sender",
            format!("c.sendto(b'Hello there', ('{to}', {port}))"),
            format!(
                "sendto({cfd}, \"Hello there\", 11, 0, {{AF_INET, {to}:{port}}}, 16) = {}",
                r.as_ref().map_or_else(errno, ToString::to_string)
            ),
            &[],
            note,
        );
    };
    let recv = |lab: &mut Lab, note: Option<&str>| -> Result<(), LabError> {
        let mut buf = [0u8; 1024];
        let (n, from) = s.recv_from(&mut buf).map_err(failed("recvfrom"))?;
        lab.record(
            "receiver",
            "data, addr = s.recvfrom(1024)",
            format!("recvfrom({sfd}, 1024, 0, {{AF_INET, {from}}}, [16]) = {n}  \"{}\"", shown(&buf[..n])),
            &[],
            note,
        );
        Ok(())
    };
    send_to(lab, Ipv4Addr::LOCALHOST, Some("one datagram, no handshake and no acknowledgement"));
    recv(lab, None)?;
    // A broadcast only in the lab's own network: never to the host's interfaces.
    if lab.own_network() {
        let bcast = Ipv4Addr::new(127, 255, 255, 255);
        send_to(
            lab,
            bcast,
            Some("a broadcast needs SO_BROADCAST first: Python raises PermissionError, nothing is sent"),
        );
        c.set_broadcast(true).map_err(failed("setsockopt"))?;
        lab.record(
            "sender",
            "c.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)",
            format!("setsockopt({cfd}, SOL_SOCKET, SO_BROADCAST, [1], 4) = 0"),
            &[],
            None,
        );
        send_to(
            lab,
            bcast,
            Some("to every host of the link: here the lab's loopback, whose broadcast address is 127.255.255.255"),
        );
        recv(lab, Some("every socket bound to the port on the link gets a broadcast"))?;
    }
    let closed = unused_port(lab, true)?;
    c.connect(SocketAddr::from((Ipv4Addr::LOCALHOST, closed))).map_err(failed("connect"))?;
    lab.party("nobody", SocketAddr::from((Ipv4Addr::LOCALHOST, closed)));
    lab.record(
        "sender",
        format!("c.connect(('127.0.0.1', {closed}))"),
        format!("connect({cfd}, {{AF_INET, 127.0.0.1:{closed}}}, 16) = 0"),
        &[],
        Some("a UDP connect sends nothing: it fixes the peer, and lets errors about it come back"),
    );
    let sent = c.send(hello);
    lab.record(
        "sender",
        "c.send(b'Hello there')",
        format!(
            "sendto({cfd}, \"Hello there\", 11, 0, NULL, 0) = {}",
            sent.as_ref().map_or_else(errno, ToString::to_string)
        ),
        &[],
        Some("nobody holds the port: the kernel answers with ICMP port unreachable"),
    );
    let mut buf = [0u8; 64];
    let got = c.recv(&mut buf);
    lab.record(
        "sender",
        "c.recv(1024)",
        format!("recvfrom({cfd}, 1024, 0, NULL, NULL) = {}", got.as_ref().map_or_else(errno, ToString::to_string)),
        &[],
        Some("the ICMP error comes back on the connected socket's next call: ConnectionRefusedError"),
    );
    if lab.own_network() {
        super::lan::slide(lab, port)?;
    }
    Ok(())
}
