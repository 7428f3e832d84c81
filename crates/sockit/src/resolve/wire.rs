//! sockit's own DNS client: a query built with hickory-proto's codec, asked of one server after
//! another over UDP (TCP when the answer is truncated, or from the start; or TLS), every reply
//! matched to its question and every failure given its own error.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use serde::Serialize;

use super::edns::{Ede, Header, QueryOptions, ede_suffix, extended_errors};
use super::stream::{Transport, clone_io, exchange_tcp, io_transport};
use super::types::{parse_type, presentation, strings, type_name};
use super::{Families, ResolveError, no_address};

/// How to ask a DNS server directly.
#[derive(Debug, Clone)]
pub struct DnsConfig {
    /// Servers to try, in order, each after the previous did not answer.
    pub servers: Vec<SocketAddr>,
    /// TCP from the start (otherwise UDP, with TCP only for truncated answers).
    pub tcp: bool,
    /// TLS (DNS over TLS), the server's certificate checked as this says; over it every
    /// question, whatever `tcp` says.
    pub tls: Option<crate::tls::ClientTls>,
    /// HTTPS (DNS over HTTPS, with `tls`'s checks): the server's path, GET or POST.
    pub https: Option<super::https::Doh>,
    /// QUIC (DNS over QUIC, with `tls`'s checks).
    pub quic: bool,
    /// How long to wait for each try.
    pub timeout: Duration,
    /// Tries after the first, per server.
    pub retries: u32,
    /// The queries' flags and EDNS options.
    pub options: QueryOptions,
}

/// One resource record of an answer, in presentation form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsRecord {
    pub name: String,
    pub ttl: u32,
    #[serde(rename = "type")]
    pub rtype: String,
    pub data: String,
    /// A TXT record's strings, each as text (bytes that are not UTF-8 replaced); `data` has
    /// them quoted and escaped as dig shows them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strings: Option<Vec<String>>,
}

impl DnsRecord {
    /// A record of a reply in presentation form, as dig shows it.
    pub(super) fn of(r: &hickory_proto::rr::Record) -> DnsRecord {
        DnsRecord {
            name: r.name.to_string(),
            ttl: r.ttl,
            rtype: type_name(r.record_type()),
            data: presentation(&r.data),
            strings: strings(&r.data),
        }
    }
}

/// A server's answer to one question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsAnswer {
    pub name: String,
    #[serde(rename = "qtype")]
    pub qtype: String,
    pub server: SocketAddr,
    /// Whether the answer came over TCP.
    pub tcp: bool,
    pub records: Vec<DnsRecord>,
    /// For an address lookup (A and AAAA), the family whose query failed while the other
    /// answered: shown as a note, as getaddrinfo answers with what it has.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<FamilyFailure>,
    /// The reply's header and EDNS, when asked for (`QueryOptions::show`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<Box<Header>>,
    /// The server's extended errors (RFC 8914), whatever was asked.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ede: Vec<Ede>,
}

/// One family's query that failed in an address lookup the other family answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FamilyFailure {
    pub qtype: String,
    pub kind: &'static str,
    pub error: String,
}

pub(super) fn fqdn_name(name: &str) -> Result<Name, ResolveError> {
    let mut n =
        Name::from_utf8(name).map_err(|e| ResolveError::BadName { name: name.to_string(), reason: e.to_string() })?;
    // A name given on the command line is absolute: no search domains are tried.
    n.set_fqdn(true);
    Ok(n)
}

/// Ask the configured servers for `rtype` records of `name`.
pub fn dns_query(cfg: &DnsConfig, name: &str, rtype: RecordType) -> Result<DnsAnswer, ResolveError> {
    query_name(cfg, name, fqdn_name(name)?, rtype)
}

fn query_name(cfg: &DnsConfig, shown: &str, name: Name, rtype: RecordType) -> Result<DnsAnswer, ResolveError> {
    let mut answers = query_types(cfg, shown, &name, &[rtype])?;
    answers.pop().unwrap_or_else(|| Err(no_server(shown)))
}

/// The error for a name with no server to ask.
pub(super) fn no_server(name: &str) -> ResolveError {
    ResolveError::Other {
        name: name.to_string(),
        message: "no DNS server to ask: add a nameserver to resolv.conf".into(),
    }
}

/// Ask for the PTR record of an address.
pub fn dns_reverse(cfg: &DnsConfig, ip: IpAddr) -> Result<DnsAnswer, ResolveError> {
    query_name(cfg, &ip.to_string(), Name::from(ip), RecordType::PTR).map_err(|e| match e {
        ResolveError::NoSuchName { .. } | ResolveError::NoData { .. } => ResolveError::NoReverse { address: ip },
        other => other,
    })
}

/// Every address of `name` from the configured servers: A and AAAA asked at once, as glibc
/// asks them, so a lookup takes the time of one query, and a server that does not answer
/// costs `timeout` a try, not that for each family.
pub fn dns_addresses(cfg: &DnsConfig, name: &str, families: Families) -> Result<DnsAnswer, ResolveError> {
    let types = family_types(families);
    merge_families(name, families, query_types(cfg, name, &fqdn_name(name)?, types)?)
}

/// The record types that hold the addresses of `families`.
pub(super) fn family_types(families: Families) -> &'static [RecordType] {
    match families {
        Families::Both => &[RecordType::A, RecordType::AAAA],
        Families::V4 => &[RecordType::A],
        Families::V6 => &[RecordType::AAAA],
    }
}

/// One answer of `name`'s addresses from the answers for each of `family_types(families)`.
pub(super) fn merge_families(
    name: &str,
    families: Families,
    answers: Vec<Result<DnsAnswer, ResolveError>>,
) -> Result<DnsAnswer, ResolveError> {
    let types = family_types(families);
    let mut merged: Option<DnsAnswer> = None;
    let mut failed: Vec<(RecordType, ResolveError)> = Vec::new();
    let mut dangling = None;
    for (&t, answer) in types.iter().zip(answers) {
        match answer {
            Ok(a) => match &mut merged {
                Some(m) => {
                    m.records.extend(a.records.into_iter().filter(|r| r.rtype != "CNAME"));
                    m.ede.extend(a.ede);
                }
                None => merged = Some(a),
            },
            // "No records of this type": the other family may still have some.
            Err(ResolveError::NoData { .. }) => {}
            // An alias to a name with no address of this family: said if no family answers.
            Err(e @ ResolveError::DanglingAlias { .. }) => dangling = dangling.or(Some(e)),
            // No such name is no such name for every type.
            Err(e @ ResolveError::NoSuchName { .. }) => return Err(e),
            // Refused, a server failure, no answer: what the other family says still counts.
            Err(e) => failed.push((t, e)),
        }
    }
    match merged {
        Some(mut a) => {
            a.qtype = types.iter().map(|&t| type_name(t)).collect::<Vec<_>>().join("+");
            a.failed = failed
                .into_iter()
                .map(|(t, e)| FamilyFailure { qtype: type_name(t), kind: e.kind(), error: e.to_string() })
                .collect();
            Ok(a)
        }
        None => match failed.into_iter().next() {
            Some((_, e)) => Err(e),
            None => Err(match dangling {
                Some(ResolveError::DanglingAlias { name, target, rtype: Some(_) }) => {
                    let rtype = types.iter().map(|&t| type_name(t)).collect::<Vec<_>>().join(" or ");
                    ResolveError::DanglingAlias { name, target, rtype: Some(rtype) }
                }
                Some(e) => e,
                None => no_address(name, families),
            }),
        },
    }
}

/// A query for `rtype` records of `name` with `options`' flags and EDNS (by default: recursion
/// desired, EDNS with a 1,232-byte payload), on the wire, and its id.
pub(super) fn query(
    shown: &str,
    name: &Name,
    rtype: RecordType,
    options: &QueryOptions,
) -> Result<(Vec<u8>, u16), ResolveError> {
    let mut msg = Message::query();
    msg.add_query(Query::query(name.clone(), rtype));
    options.apply(&mut msg);
    let id = msg.metadata.id;
    let bad = |e: hickory_proto::ProtoError| ResolveError::BadName { name: shown.to_string(), reason: e.to_string() };
    let wire = msg.to_vec().map_err(bad)?;
    let wire = options.pad(&mut msg, wire).ok_or_else(|| ResolveError::BadName {
        name: shown.to_string(),
        reason: "the padded query does not fit a message".into(),
    })?;
    Ok((wire, id))
}

/// Ask for each of `types` of `name`, all at once: each server in turn is asked the questions
/// no server has answered yet (over UDP, every question in flight together, TCP for an answer
/// that came truncated, or TCP from the start, one question after another); an answer for
/// each type, in their order.
fn query_types(
    cfg: &DnsConfig,
    shown: &str,
    name: &Name,
    types: &[RecordType],
) -> Result<Vec<Result<DnsAnswer, ResolveError>>, ResolveError> {
    let queries =
        types.iter().map(|&rtype| query(shown, name, rtype, &cfg.options)).collect::<Result<Vec<_>, ResolveError>>()?;
    let mut answers: Vec<Option<Result<DnsAnswer, ResolveError>>> = types.iter().map(|_| None).collect();
    // A server's reply settles its question, whatever it says (NXDOMAIN, REFUSED...); only a
    // server that could not be heard leaves it to the next.
    let mut settled = vec![false; types.len()];
    for &server in &cfg.servers {
        let open: Vec<usize> = (0..types.len()).filter(|&i| !settled[i]).collect();
        if open.is_empty() {
            break;
        }
        let replies: Vec<Result<(Message, bool), Transport>> = if let Some(tls) = &cfg.tls {
            let over = secure(tls, cfg);
            open.iter()
                .map(|&i| super::secure::exchange(server, &over, &queries[i].0, queries[i].1).map(|m| (m, true)))
                .collect()
        } else if cfg.tcp {
            open.iter().map(|&i| exchange_tcp(server, &queries[i].0, cfg.timeout).map(|m| (m, true))).collect()
        } else {
            let asked: Vec<(&[u8], u16)> = open.iter().map(|&i| (queries[i].0.as_slice(), queries[i].1)).collect();
            exchange_udp(server, &asked, cfg)
                .into_iter()
                .zip(&open)
                .map(|(r, &i)| match r {
                    Ok(m) if m.metadata.truncation => {
                        exchange_tcp(server, &queries[i].0, cfg.timeout).map(|m| (m, true))
                    }
                    other => other.map(|m| (m, false)),
                })
                .collect()
        };
        for (reply, &i) in replies.into_iter().zip(&open) {
            answers[i] = Some(match reply {
                Ok((reply, tcp)) => {
                    settled[i] = true;
                    interpret_for(cfg, shown, types[i], server, reply, tcp)
                }
                Err(e) => Err(transport_error(shown, server, cfg, e)),
            });
        }
    }
    Ok(answers.into_iter().map(|a| a.unwrap_or_else(|| Err(no_server(shown)))).collect())
}

/// How `cfg` asks over TLS, HTTPS or QUIC.
fn secure<'a>(tls: &'a crate::tls::ClientTls, cfg: &'a DnsConfig) -> super::secure::Secure<'a> {
    super::secure::Secure { tls, https: cfg.https.as_ref(), quic: cfg.quic, timeout: cfg.timeout }
}

/// One question of one server, its reply whole for a reader of every section (a trace, RFC
/// 8427's JSON): over UDP, TCP if the reply came truncated, or TCP from the start, or TLS or
/// HTTPS; and whether a stream carried it.
pub(super) fn ask(
    cfg: &DnsConfig,
    server: SocketAddr,
    name: &Name,
    rtype: RecordType,
) -> Result<(Message, bool), ResolveError> {
    let shown = name.to_string();
    let (wire, id) = query(&shown, name, rtype, &cfg.options)?;
    let reply = if let Some(tls) = &cfg.tls {
        super::secure::exchange(server, &secure(tls, cfg), &wire, id).map(|m| (m, true))
    } else if cfg.tcp {
        exchange_tcp(server, &wire, cfg.timeout).map(|m| (m, true))
    } else {
        match exchange_udp(server, &[(wire.as_slice(), id)], cfg).pop().unwrap_or(Err(Transport::TimedOut)) {
            Ok(m) if m.metadata.truncation => exchange_tcp(server, &wire, cfg.timeout).map(|m| (m, true)),
            other => other.map(|m| (m, false)),
        }
    };
    reply.map_err(|e| transport_error(&shown, server, cfg, e))
}

/// A reply as bytes off the wire, read as the answer to `name`'s `rtype` query: what the
/// transport does with every reply, apart from the socket (the fuzz target's entry).
pub fn answer_from_wire(name: &str, rtype: &str, wire: &[u8]) -> Result<DnsAnswer, ResolveError> {
    let rtype = parse_type(rtype).unwrap_or(RecordType::A);
    let reply = Message::from_vec(wire)
        .map_err(|e| ResolveError::Other { name: name.to_string(), message: format!("malformed reply: {e}") })?;
    interpret(name, rtype, SocketAddr::from(([127, 0, 0, 1], 53)), reply, false)
}

/// `interpret`, with the reply's header kept when `cfg` asks to show it.
pub(super) fn interpret_for(
    cfg: &DnsConfig,
    name: &str,
    rtype: RecordType,
    server: SocketAddr,
    reply: Message,
    tcp: bool,
) -> Result<DnsAnswer, ResolveError> {
    let header = cfg.options.show.then(|| Box::new(super::edns::header(&reply)));
    interpret(name, rtype, server, reply, tcp).map(|a| DnsAnswer { header, ..a })
}

pub(super) fn interpret(
    name: &str,
    rtype: RecordType,
    server: SocketAddr,
    reply: Message,
    tcp: bool,
) -> Result<DnsAnswer, ResolveError> {
    // The end of the alias chain the answer holds, if any.
    let alias_target = || {
        reply.answers.iter().rev().find_map(|r| match &r.data {
            hickory_proto::rr::RData::CNAME(t) => Some(t.0.to_string()),
            _ => None,
        })
    };
    let ede = extended_errors(&reply);
    match reply.metadata.response_code {
        ResponseCode::NoError => {}
        // An alias whose target does not exist: the alias is there, its target is not.
        ResponseCode::NXDomain if rtype != RecordType::CNAME && alias_target().is_some() => {
            let target = alias_target().unwrap_or_default();
            return Err(ResolveError::DanglingAlias { name: name.to_string(), target, rtype: None });
        }
        ResponseCode::NXDomain => {
            return Err(ResolveError::NoSuchName { name: name.to_string(), ede: ede_suffix(&ede) });
        }
        ResponseCode::Refused => {
            return Err(ResolveError::Refused {
                name: name.to_string(),
                server: server.to_string(),
                ede: ede_suffix(&ede),
            });
        }
        rcode => {
            return Err(ResolveError::ServerFailure {
                name: name.to_string(),
                server: server.to_string(),
                rcode: rcode.to_string(),
                ede: ede_suffix(&ede),
            });
        }
    }
    let records: Vec<DnsRecord> = reply.answers.iter().map(DnsRecord::of).collect();
    if !holds_asked(rtype, &records) {
        // An alias to a name with none of the asked type: say so, as dig shows the alias.
        if let Some(target) = alias_target() {
            return Err(ResolveError::DanglingAlias { name: name.to_string(), target, rtype: Some(type_name(rtype)) });
        }
        return Err(ResolveError::NoData { name: name.to_string(), rtype: type_name(rtype) });
    }
    Ok(DnsAnswer { ede, ..answered(name, rtype, server, tcp, records) })
}

/// Whether a NOERROR answer's records answer `rtype`: records of that type (a lone CNAME
/// counts when CNAME was asked; ANY is answered by records of any type).
pub(super) fn holds_asked(rtype: RecordType, records: &[DnsRecord]) -> bool {
    let any = !records.is_empty();
    (any && matches!(rtype, RecordType::ANY | RecordType::CNAME)) || {
        let asked = type_name(rtype);
        records.iter().any(|r| r.rtype == asked)
    }
}

/// The answer to `name`'s `rtype` question that these records are.
pub(super) fn answered(
    name: &str,
    rtype: RecordType,
    server: SocketAddr,
    tcp: bool,
    records: Vec<DnsRecord>,
) -> DnsAnswer {
    DnsAnswer {
        name: name.to_string(),
        qtype: type_name(rtype),
        server,
        tcp,
        records,
        failed: Vec::new(),
        header: None,
        ede: Vec::new(),
    }
}

pub(super) fn transport_error(name: &str, server: SocketAddr, cfg: &DnsConfig, e: Transport) -> ResolveError {
    let (name, server_s) = (name.to_string(), server.to_string());
    match e {
        Transport::TimedOut => {
            ResolveError::Timeout { name, server: server_s, timeout: cfg.timeout, tries: cfg.retries + 1 }
        }
        Transport::Refused => ResolveError::NoServer { name, server: server_s },
        Transport::Io(e) => ResolveError::Other { name, message: format!("talking to {server_s}: {e}") },
        Transport::Malformed => {
            ResolveError::Other { name, message: format!("{server_s} sent a reply that is not DNS") }
        }
        Transport::Failed(why) => ResolveError::Other { name, message: why },
    }
}

/// Connected UDP sockets by server, and a receive buffer.
type UdpCache = (Vec<(SocketAddr, UdpSocket)>, Vec<u8>);

thread_local! {
    /// One connected UDP socket per server and a receive buffer, per thread: bulk lookups
    /// reuse them instead of paying for a socket and a 64 KiB buffer on every query.
    static UDP: std::cell::RefCell<UdpCache> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// Ask `server` every question in `asked` (wire, id) on this thread's socket for it: a reply
/// or a failure for each, in their order.
fn exchange_udp(server: SocketAddr, asked: &[(&[u8], u16)], cfg: &DnsConfig) -> Vec<Result<Message, Transport>> {
    UDP.with_borrow_mut(|(sockets, buf)| {
        if buf.is_empty() {
            buf.resize(65535, 0);
        }
        let sock = match sockets.iter().position(|(s, _)| *s == server) {
            Some(i) => &sockets[i].1,
            None => {
                let local = crate::net::any_of_family(server);
                let made = UdpSocket::bind(local).and_then(|sock| sock.connect(server).map(|()| sock));
                match made {
                    Ok(sock) => {
                        sockets.push((server, sock));
                        &sockets[sockets.len() - 1].1
                    }
                    Err(e) => return asked.iter().map(|_| Err(Transport::Io(clone_io(&e)))).collect(),
                }
            }
        };
        let results = match udp_round_trips(sock, asked, cfg, buf) {
            Ok(results) => results,
            Err(e) => asked.iter().map(|_| Err(e.again())).collect(),
        };
        if results.iter().any(Result::is_err) {
            // A socket that saw an error (or may still get a late reply) is not reused.
            sockets.retain(|(s, _)| *s != server);
        }
        results
    })
}

/// Every question of `asked` sent on `sock`, then replies taken as they come until each has
/// one or the try's `timeout` is up; the unanswered are sent again, `retries` times. A reply is
/// matched to its question by id and question (a late reply to an earlier query is passed
/// over); a socket error ends them all.
fn udp_round_trips(
    sock: &UdpSocket,
    asked: &[(&[u8], u16)],
    cfg: &DnsConfig,
    buf: &mut [u8],
) -> Result<Vec<Result<Message, Transport>>, Transport> {
    let mut got: Vec<Option<Result<Message, Transport>>> = asked.iter().map(|_| None).collect();
    for _ in 0..=cfg.retries {
        for ((wire, _), g) in asked.iter().zip(&got) {
            if g.is_none() {
                sock.send(wire).map_err(io_transport)?;
            }
        }
        let deadline = Instant::now() + cfg.timeout;
        while got.iter().any(Option::is_none) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            sock.set_read_timeout(Some(left)).map_err(Transport::Io)?;
            match sock.recv(buf) {
                Ok(n) => {
                    let reply = &buf[..n];
                    if reply.len() < 12 {
                        continue;
                    }
                    let id = u16::from_be_bytes([reply[0], reply[1]]);
                    // A stray or late datagram matches no open question: keep waiting.
                    let mine = asked.iter().zip(&got).position(|((wire, want), g)| {
                        g.is_none()
                            && *want == id
                            && reply[12..].starts_with(question_part(wire.get(12..).unwrap_or(&[])))
                    });
                    if let Some(i) = mine {
                        got[i] = Some(Message::from_vec(reply).map_err(|_| Transport::Malformed));
                    }
                }
                Err(e) => match io_transport(e) {
                    Transport::TimedOut => break,
                    other => return Err(other),
                },
            }
        }
        if got.iter().all(Option::is_some) {
            break;
        }
    }
    Ok(got.into_iter().map(|g| g.unwrap_or(Err(Transport::TimedOut))).collect())
}

/// The question section of a query we built: everything after the header up to the EDNS
/// record we append (name, type and class).
pub(super) fn question_part(after_header: &[u8]) -> &[u8] {
    // Walk the uncompressed name we wrote, then 4 bytes of type and class.
    let mut i = 0;
    while let Some(&len) = after_header.get(i) {
        i += 1 + usize::from(len);
        if len == 0 {
            break;
        }
    }
    &after_header[..(i + 4).min(after_header.len())]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn an_alias_to_a_missing_name_is_said() {
        use hickory_proto::rr::{RData, Record, rdata};
        let name = Name::from_str("dangle.test.").expect("name");
        let mut reply = Message::query();
        reply.metadata.message_type = hickory_proto::op::MessageType::Response;
        reply.metadata.response_code = ResponseCode::NXDomain;
        reply.add_query(Query::query(name.clone(), RecordType::A));
        let target = Name::from_str("nowhere.test.").expect("name");
        reply.add_answer(Record::from_rdata(name, 600, RData::CNAME(rdata::CNAME(target))));
        let wire = reply.to_vec().expect("wire");
        let e = answer_from_wire("dangle.test", "A", &wire).expect_err("no address");
        assert_eq!(e.to_string(), "dangle.test: an alias of nowhere.test., which does not exist (NXDOMAIN)");
        assert_eq!(e.kind(), "dangling-alias");
    }

    #[test]
    fn any_is_answered_by_records_of_any_type() {
        use hickory_proto::rr::{RData, Record, rdata};
        let name = Name::from_str("host1.test.").expect("name");
        let mut reply = Message::query();
        reply.metadata.message_type = hickory_proto::op::MessageType::Response;
        reply.add_query(Query::query(name.clone(), RecordType::ANY));
        reply.add_answer(Record::from_rdata(name.clone(), 600, RData::A(rdata::A::new(198, 18, 0, 10))));
        reply.add_answer(Record::from_rdata(name, 600, RData::TXT(rdata::TXT::new(vec!["hello".into()]))));
        let wire = reply.to_vec().expect("wire");
        let a = answer_from_wire("host1.test", "ANY", &wire).expect("an answer");
        let types: Vec<&str> = a.records.iter().map(|r| r.rtype.as_str()).collect();
        assert_eq!(types, ["A", "TXT"]);
        let empty = {
            let mut m = Message::query();
            m.metadata.message_type = hickory_proto::op::MessageType::Response;
            m.add_query(Query::query(Name::from_str("host1.test.").expect("name"), RecordType::ANY));
            m.to_vec().expect("wire")
        };
        assert!(matches!(answer_from_wire("host1.test", "ANY", &empty), Err(ResolveError::NoData { .. })));
    }
}
