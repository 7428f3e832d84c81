//! The lecture's names slide in the lab: a resolver of the lab's own on 127.0.0.53 (the one
//! the lab's resolv.conf names) answering for `lab.test`, and the system resolver's calls
//! (getaddrinfo, getnameinfo: what Python's gethostbyname and gethostbyaddr make) asking it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::{Lab, LabError, failed};

/// The lab's one host with a name.
const WWW: &str = "www.lab.test.";
const WWW_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 10);
const WWW_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x10);
const RESOLVER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 53)), 53);

/// The lab's resolver, answering until dropped.
#[derive(Debug)]
pub(super) struct Resolver {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    pub(super) fd: i32,
}

impl Resolver {
    pub(super) fn start() -> std::io::Result<Resolver> {
        let sock = UdpSocket::bind(RESOLVER)?;
        sock.set_read_timeout(Some(Duration::from_millis(50)))?;
        let fd = sock.as_raw_fd();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::Builder::new().name("lab-resolver".into()).spawn(move || {
            let mut buf = [0u8; 512];
            while !stopped.load(Ordering::Relaxed) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else { continue };
                if let Some(reply) = answer(&buf[..n]) {
                    let _ = sock.send_to(&reply, from);
                }
            }
        })?;
        Ok(Resolver { stop, thread: Some(thread), fd })
    }
}

impl Drop for Resolver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The reply to `query`: www.lab.test's A and AAAA, its PTR, NXDOMAIN for any other name.
fn answer(query: &[u8]) -> Option<Vec<u8>> {
    let q = Message::from_vec(query).ok()?;
    if q.metadata.message_type != MessageType::Query || q.queries.len() != 1 {
        return None;
    }
    let question = q.queries[0].clone();
    let mut r = Message::new(q.metadata.id, MessageType::Response, q.metadata.op_code);
    r.metadata.authoritative = true;
    r.metadata.recursion_desired = q.metadata.recursion_desired;
    r.metadata.recursion_available = true;
    let name = question.name().clone();
    let www = Name::from_ascii(WWW).ok()?;
    let ptr_v4 = Name::from(IpAddr::V4(WWW_V4));
    let ptr_v6 = Name::from(IpAddr::V6(WWW_V6));
    let rdata = match question.query_type() {
        RecordType::A if name.eq_case(&www) || name == www => Some(RData::A(A(WWW_V4))),
        RecordType::AAAA if name == www => Some(RData::AAAA(AAAA(WWW_V6))),
        RecordType::PTR if name == ptr_v4 || name == ptr_v6 => Some(RData::PTR(PTR(www.clone()))),
        _ => None,
    };
    let known = name == www || name == ptr_v4 || name == ptr_v6;
    r.add_query(question);
    match rdata {
        Some(d) => {
            r.add_answer(Record::from_rdata(name, 60, d));
        }
        None if known => {}
        None => r.metadata.response_code = ResponseCode::NXDomain,
    }
    r.to_vec().ok()
}

/// gethostbyname of the lab's host and of a name nobody has, and gethostbyaddr.
pub(super) fn names(lab: &mut Lab) -> Result<(), LabError> {
    let resolver = Resolver::start().map_err(failed("bind 127.0.0.53:53"))?;
    // The system resolver asks from a new port each time.
    lab.initiator("client", SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0));
    lab.party("resolver", RESOLVER);
    lab.record(
        "resolver",
        "# the lab's resolver: /etc/resolv.conf says nameserver 127.0.0.53",
        format!(
            "socket(AF_INET, SOCK_DGRAM, IPPROTO_IP) = {0}; bind({0}, {{AF_INET, 127.0.0.53:53}}, 16) = 0",
            resolver.fd
        ),
        &[],
        Some("a resolver is a server like any other: a UDP socket on port 53"),
    );
    let v4 = dns_lookup::AddrInfoHints { address: libc::AF_INET, socktype: libc::SOCK_STREAM, ..Default::default() };
    for (host, note) in [
        ("www.lab.test", "gethostbyname asks the resolver for the name's A record: one datagram each way"),
        ("nowhere.lab.test", "a name nobody has: the resolver says NXDOMAIN, Python raises socket.gaierror"),
    ] {
        let got = dns_lookup::getaddrinfo(Some(host), None, Some(v4));
        let result = match got {
            Ok(list) => {
                let addrs: Vec<String> = list.filter_map(Result::ok).map(|a| a.sockaddr.ip().to_string()).collect();
                format!("0  {}", addrs.first().map_or("(none)", String::as_str))
            }
            Err(e) => format!("-1 ({})", gai_text(&e)),
        };
        lab.record(
            "client",
            format!("socket.gethostbyname('{host}')"),
            format!("getaddrinfo(\"{host}\", NULL, {{ai_family=AF_INET}}) = {result}"),
            &[],
            Some(note),
        );
    }
    let at = SocketAddr::new(IpAddr::V4(WWW_V4), 0);
    let name = dns_lookup::getnameinfo(&at, libc::NI_NAMEREQD | libc::NI_NUMERICSERV);
    let result = match name {
        Ok((host, _)) => format!("0  \"{host}\""),
        Err(e) => format!("-1 ({})", gai_text(&e)),
    };
    lab.record(
        "client",
        format!("socket.gethostbyaddr('{WWW_V4}')"),
        format!("getnameinfo({{AF_INET, {WWW_V4}}}, NI_NAMEREQD | NI_NUMERICSERV) = {result}"),
        &[],
        Some("a reverse lookup is a PTR question for 10.0.18.198.in-addr.arpa"),
    );
    drop(resolver);
    Ok(())
}

fn gai_text(e: &dns_lookup::LookupError) -> String {
    match e.kind() {
        dns_lookup::LookupErrorKind::NoName => "Name or service not known".into(),
        kind => format!("{kind:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resolver_answers_its_host_both_ways_and_nxdomain_else() {
        let ask = |name: &str, t: RecordType| {
            let mut q = Message::query();
            q.metadata.id = 7;
            q.add_query(hickory_proto::op::Query::query(Name::from_ascii(name).expect("name"), t));
            Message::from_vec(&answer(&q.to_vec().expect("query")).expect("reply")).expect("reply reads")
        };
        let r = ask("www.lab.test.", RecordType::A);
        assert_eq!((r.metadata.id, r.answers.len()), (7, 1));
        assert_eq!(r.answers[0].data, RData::A(A(WWW_V4)));
        let r = ask("10.0.18.198.in-addr.arpa.", RecordType::PTR);
        assert_eq!(r.answers[0].data, RData::PTR(PTR(Name::from_ascii(WWW).expect("name"))));
        let r = ask("nowhere.lab.test.", RecordType::A);
        assert_eq!((r.metadata.response_code, r.answers.len()), (ResponseCode::NXDomain, 0));
        let r = ask("www.lab.test.", RecordType::MX);
        assert_eq!((r.metadata.response_code, r.answers.len()), (ResponseCode::NoError, 0));
        assert!(answer(b"\x00\x01garbage").is_none());
    }
}
