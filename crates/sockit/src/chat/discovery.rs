//! Finding chat servers: a probe to broadcast addresses, and the replies that come back.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use sockit_core::discovery::{self as wire, ServerInfo};

use crate::net::{Doing, NetError, Why};

/// A server that answered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Found {
    /// Where its chat listens: the replying address and the advertised port.
    pub address: SocketAddr,
    #[serde(flatten)]
    pub info: ServerInfo,
}

/// Where to probe and how long to listen for replies.
#[derive(Debug, Clone, PartialEq)]
pub struct DiscoveryConfig {
    /// Broadcast, multicast or unicast addresses, on the servers' discovery port; none: every
    /// interface's broadcast address, loopback's and 255.255.255.255, and over IPv6 the
    /// all-nodes group ff02::1 on every interface with IPv6 and ::1, on `port`.
    pub targets: Vec<SocketAddr>,
    /// The servers' discovery port, for the default targets.
    pub port: u16,
    pub wait: Duration,
}

impl DiscoveryConfig {
    /// The targets to probe: those given, or every broadcast address this host has (so a LAN
    /// without a default route, or a machine with loopback alone, still finds its rooms).
    pub fn probe_targets(&self) -> Vec<SocketAddr> {
        if !self.targets.is_empty() {
            return self.targets.clone();
        }
        let mut targets = vec![SocketAddr::from(([255, 255, 255, 255], self.port))];
        let interfaces = crate::host::host_info(&crate::host::InfoOptions::default()).map(|h| h.interfaces);
        let interfaces = interfaces.unwrap_or_default();
        for a in interfaces.iter().flat_map(|i| &i.ipv4) {
            if let Some(b) = a.broadcast {
                targets.push(SocketAddr::new(b, self.port));
            }
        }
        targets.push(SocketAddr::from(([127, 255, 255, 255], self.port)));
        // IPv6 has no broadcast: the link's all-nodes group reaches every host on it.
        for i in interfaces.iter().filter(|i| i.up && !i.loopback && !i.ipv6.is_empty()) {
            let all_nodes = std::net::Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
            targets.push(SocketAddr::V6(std::net::SocketAddrV6::new(all_nodes, self.port, 0, i.index)));
        }
        targets.push(SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, self.port)));
        let mut unique = Vec::with_capacity(targets.len());
        for t in targets {
            if !unique.contains(&t) {
                unique.push(t);
            }
        }
        unique
    }
}

/// What a discovery found, and where it asked.
#[derive(Debug, Clone)]
pub struct Discovery {
    pub found: Vec<Found>,
    /// The targets the probe reached the network for.
    pub probed: Vec<SocketAddr>,
}

/// Probe each target and collect the replies that arrive in time, one per server (a server
/// heard over IPv4 and IPv6 is listed once, at its IPv4 address), in address order. A target
/// the probe cannot be sent to (no route to it, no IPv6 here) is passed over, as long as one
/// can be reached.
pub fn discover(cfg: &DiscoveryConfig) -> Result<Discovery, NetError> {
    let v4 = UdpSocket::bind("0.0.0.0:0").map_err(|e| NetError::io(Doing::DiscoverySocket, e))?;
    v4.set_broadcast(true).map_err(|e| NetError::io(Doing::SetOption("SO_BROADCAST"), e))?;
    let v6 = UdpSocket::bind("[::]:0").ok();
    let probe = wire::probe();
    let mut probed = Vec::new();
    let mut last_err = None;
    for t in cfg.probe_targets() {
        let sock = match (t, &v6) {
            (SocketAddr::V4(_), _) => &v4,
            (SocketAddr::V6(_), Some(v6)) => v6,
            (SocketAddr::V6(_), None) => {
                last_err = Some(NetError::failed(Doing::ProbeTo(t), Why::NoIpv6));
                continue;
            }
        };
        match sock.send_to(&probe, t) {
            Ok(_) => probed.push(t),
            Err(e) => last_err = Some(NetError::io(Doing::ProbeTo(t), e)),
        }
    }
    if probed.is_empty() {
        return Err(last_err.unwrap_or_else(|| NetError::failed(Doing::Discovery, Why::NowhereToProbe)));
    }
    let deadline = Instant::now() + cfg.wait;
    let heard = std::sync::Mutex::new(Vec::new());
    let listen = |sock: &UdpSocket| {
        crate::net::recv_until(sock, deadline, |data, from| {
            if let Some(info) = wire::parse_reply(data) {
                heard
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(Found { address: joinable(&info, from), info });
            }
            Ok(())
        })
    };
    std::thread::scope(|s| {
        let other = v6.as_ref().map(|v6| s.spawn(|| listen(v6)));
        let here = listen(&v4);
        let there = other.map_or(Ok(0), |t| t.join().unwrap_or(Ok(0)));
        here.and(there)
    })?;
    let mut heard = heard.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    heard.sort_by_key(|f| f.address);
    let mut found: Vec<Found> = Vec::new();
    for f in heard {
        let same = |g: &Found| match (&g.info.id, &f.info.id) {
            (Some(a), Some(b)) => a == b,
            _ => g.address == f.address,
        };
        if !found.iter().any(same) {
            found.push(f);
        }
    }
    Ok(Discovery { found, probed })
}

/// Where to join a server that replied from `from`: the address it advertises, or the one it
/// replied from; a link-local address keeps the interface the reply came in on.
fn joinable(info: &ServerInfo, from: SocketAddr) -> SocketAddr {
    let ip = info.addr.unwrap_or(from.ip());
    match (ip, from) {
        (std::net::IpAddr::V6(ip), SocketAddr::V6(f)) if ip.segments()[0] & 0xffc0 == 0xfe80 => {
            SocketAddr::V6(std::net::SocketAddrV6::new(ip, info.port, 0, f.scope_id()))
        }
        (ip, _) => SocketAddr::new(ip, info.port),
    }
}

/// Answer discovery probes on `sock` until `stop`, with what `info` says at the time; a reply
/// is never larger than the probe that asked (no amplification), and each source gets a few
/// a second at most (`ReplyLimit`: no reflection). A room bound to a loopback address answers
/// only probes from this host: another host could not join it (it would join its own
/// loopback).
pub async fn respond(
    sock: tokio::net::UdpSocket,
    info: impl Fn() -> ServerInfo,
    bound: Option<std::net::IpAddr>,
    stop: tokio_util::sync::CancellationToken,
) {
    let reachable = |from: std::net::IpAddr| {
        !bound.is_some_and(|b| b.is_loopback()) || sockit_core::addr::canonical_ip(from).is_loopback()
    };
    let mut buf = vec![0u8; 2048];
    let mut limit = wire::ReplyLimit::default();
    loop {
        let (n, from) = tokio::select! {
            () = stop.cancelled() => return,
            r = sock.recv_from(&mut buf) => match r {
                Ok(r) => r,
                Err(_) => continue,
            },
        };
        if !wire::is_probe(&buf[..n]) || !reachable(from.ip()) || !limit.allow(from.ip(), Instant::now()) {
            continue;
        }
        if let Some(reply) = wire::reply(&info(), n) {
            let _ = sock.send_to(&reply, from).await;
        }
    }
}

/// Ask which of `found` to join: a numbered list and a prompt on `out`, an answer (a number or
/// a room name) from `input`. Asks again after a wrong answer, three times at most; `None`
/// when the answers ran out or were all wrong.
pub fn ask(found: &[&Found], input: &mut impl std::io::BufRead, out: &mut impl std::io::Write) -> Option<usize> {
    let _ = writeln!(out, "several chat servers answered:");
    for (i, f) in found.iter().enumerate() {
        let _ = writeln!(out, "  {}. {:<20} {:<22} {} users", i + 1, f.info.room, f.address.to_string(), f.info.users);
    }
    for _ in 0..3 {
        let _ = write!(out, "join which (1-{}, or a room name)? ", found.len());
        let _ = out.flush();
        let mut answer = String::new();
        if input.read_line(&mut answer).ok()? == 0 {
            return None;
        }
        let answer = answer.trim();
        let pick = match answer.parse::<usize>() {
            Ok(n) => n.checked_sub(1).filter(|&i| i < found.len()),
            Err(_) => found.iter().position(|f| f.info.room == answer),
        };
        if pick.is_some() {
            return pick;
        }
        let _ = writeln!(out, "no server is called {answer:?}");
    }
    None
}

/// When every server found is of one cluster and one room (they serve one room): the one
/// with the fewest users (the first found, of equals).
pub fn fewest_of_one_cluster(found: &[&Found]) -> Option<usize> {
    let first = found.first()?;
    let cluster = first.info.cluster.as_ref()?;
    let same = |f: &&Found| f.info.cluster.as_ref() == Some(cluster) && f.info.room == first.info.room;
    if !found.iter().all(same) {
        return None;
    }
    found.iter().enumerate().min_by_key(|(i, f)| (f.info.users, *i)).map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(room: &str, port: u16) -> Found {
        Found {
            address: SocketAddr::from(([127, 0, 0, 1], port)),
            info: ServerInfo {
                room: room.into(),
                port,
                users: 2,
                version: "1".into(),
                tls: false,
                addr: None,
                id: None,
                cluster: None,
            },
        }
    }

    #[test]
    fn one_cluster_is_joined_where_fewest_are() {
        let member = |room: &str, port, users, cluster: Option<&str>| {
            let mut f = found(room, port);
            f.info.users = users;
            f.info.cluster = cluster.map(String::from);
            f
        };
        let (a, b, c) = (member("r", 1, 9, Some("k")), member("r", 2, 3, Some("k")), member("r", 3, 3, Some("k")));
        assert_eq!(fewest_of_one_cluster(&[&a, &b, &c]), Some(1), "fewest users, the first of equals");
        let other = member("r", 4, 0, Some("other"));
        assert_eq!(fewest_of_one_cluster(&[&a, &other]), None, "two clusters: ask");
        let alone = member("r", 5, 0, None);
        assert_eq!(fewest_of_one_cluster(&[&a, &alone]), None, "a server of no cluster: ask");
        let room = member("s", 6, 0, Some("k"));
        assert_eq!(fewest_of_one_cluster(&[&a, &room]), None, "another room of the cluster: ask");
    }

    #[test]
    fn ask_takes_a_number_or_a_room_and_asks_again() {
        let (a, b) = (found("lobby", 40000), found("lab", 40001));
        let list = [&a, &b];
        let mut out = Vec::new();
        assert_eq!(ask(&list, &mut &b"2\n"[..], &mut out), Some(1));
        let shown = String::from_utf8(out).expect("utf-8");
        assert!(shown.contains("  1. lobby ") && shown.contains("  2. lab "), "{shown}");
        assert!(shown.ends_with("join which (1-2, or a room name)? "), "{shown}");
        assert_eq!(ask(&list, &mut &b"lobby\n"[..], &mut Vec::new()), Some(0));
        let mut out = Vec::new();
        assert_eq!(ask(&list, &mut &b"3\nkitchen\n1\n"[..], &mut out), Some(0));
        assert!(String::from_utf8(out).expect("utf-8").contains("no server is called \"kitchen\""));
        assert_eq!(ask(&list, &mut &b"0\n9\nx\n1\n"[..], &mut Vec::new()), None, "three wrong answers");
        assert_eq!(ask(&list, &mut &b""[..], &mut Vec::new()), None, "end of input");
    }
}
