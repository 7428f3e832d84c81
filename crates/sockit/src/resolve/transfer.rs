//! A zone transfer (AXFR, RFC 5936): always over TCP (a transfer is never a datagram), the
//! answer read message by message until the zone's SOA comes round again, each message within
//! the timeout and the whole bounded in records.

use std::io::Read;
use std::net::{SocketAddr, TcpStream};

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::RecordType;

use super::ResolveError;
use super::stream::{Transport, io_transport, read_framed, send_framed};
use super::types::type_name;
use super::wire::{DnsAnswer, DnsConfig, DnsRecord, fqdn_name, transport_error};

/// The most records a transfer may bring (a zone past this is refused, not held).
const MOST_RECORDS: usize = 1_000_000;

/// Transfer `zone` from the first configured server that answers.
pub fn dns_transfer(cfg: &DnsConfig, zone: &str) -> Result<DnsAnswer, ResolveError> {
    let mut msg = Message::query();
    msg.add_query(Query::query(fqdn_name(zone)?, RecordType::AXFR));
    let id = msg.metadata.id;
    let wire = msg.to_vec().map_err(|e| ResolveError::BadName { name: zone.to_string(), reason: e.to_string() })?;
    let mut last = None;
    for &server in &cfg.servers {
        match transfer(cfg, zone, server, &wire, id) {
            Ok(records) => {
                return Ok(super::wire::answered(zone, RecordType::AXFR, server, true, records));
            }
            Err(Failed::Transport(e)) => last = Some(transport_error(zone, server, cfg, e)),
            Err(Failed::Answer(e)) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| ResolveError::Other {
        name: zone.to_string(),
        message: "no DNS server to ask: add a nameserver to resolv.conf".into(),
    }))
}

/// Why a transfer from one server failed: it could not be reached (the next is tried), or it
/// answered, and its answer is the answer.
enum Failed {
    Transport(Transport),
    Answer(ResolveError),
}

fn transfer(cfg: &DnsConfig, zone: &str, server: SocketAddr, wire: &[u8], id: u16) -> Result<Vec<DnsRecord>, Failed> {
    let t = |e: std::io::Error| Failed::Transport(io_transport(e));
    let mut s = TcpStream::connect_timeout(&server, cfg.timeout).map_err(t)?;
    s.set_read_timeout(Some(cfg.timeout)).map_err(t)?;
    s.set_write_timeout(Some(cfg.timeout)).map_err(t)?;
    send_framed(&mut s, wire).map_err(Failed::Transport)?;
    records(&mut s, zone, &server.to_string(), id)
}

/// The records of a transfer read from `from` (framed messages, as TCP carries them) up to the
/// zone's closing SOA: what the transfer does with its socket's bytes, apart from the socket
/// (the fuzz target's entry, through `transfer_from_wire`).
fn records(from: &mut impl Read, zone: &str, server: &str, id: u16) -> Result<Vec<DnsRecord>, Failed> {
    let answer = |message: String| Failed::Answer(ResolveError::Other { name: zone.to_string(), message });
    let mut records = Vec::new();
    let mut soas = 0;
    loop {
        let body = match read_framed(from) {
            Ok(body) => body,
            // Closed before the closing SOA: the zone did not come whole.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !records.is_empty() => {
                return Err(answer(format!(
                    "{server} ended the transfer after {} records, before the zone's closing SOA",
                    records.len()
                )));
            }
            Err(e) => return Err(Failed::Transport(io_transport(e))),
        };
        let reply = Message::from_vec(&body).map_err(|_| Failed::Transport(Transport::Malformed))?;
        if reply.metadata.id != id {
            return Err(answer(format!("{server} sent a message that answers another query")));
        }
        match reply.metadata.response_code {
            ResponseCode::NoError => {}
            code @ (ResponseCode::Refused | ResponseCode::NotAuth) => {
                let code = if code == ResponseCode::Refused { "REFUSED" } else { "NOTAUTH" };
                return Err(answer(format!(
                    "{server} refused the zone transfer ({code}): ask a server that allows this host to transfer the zone"
                )));
            }
            ResponseCode::NXDomain => {
                return Err(Failed::Answer(ResolveError::NoSuchName { name: zone.to_string(), ede: String::new() }));
            }
            rcode => return Err(answer(format!("{server} answered the zone transfer with {rcode}"))),
        }
        for r in &reply.answers {
            if records.is_empty() && r.record_type() != RecordType::SOA {
                return Err(answer(format!(
                    "{server} began the transfer with a {} record, not the zone's SOA",
                    type_name(r.record_type())
                )));
            }
            if records.len() >= MOST_RECORDS {
                return Err(answer(format!("the zone has more than {MOST_RECORDS} records: not kept")));
            }
            soas += usize::from(r.record_type() == RecordType::SOA);
            records.push(DnsRecord::of(r));
            if soas == 2 {
                return Ok(records);
            }
        }
        if reply.answers.is_empty() {
            return Err(answer(format!("{server} sent an empty message mid-transfer")));
        }
    }
}

/// A transfer's bytes as a server sent them (framed messages answering query `id`), read as
/// the transfer reads them: the records, or the line a lying server gets (bytes that are not
/// DNS, or that end short, are "not a zone transfer").
pub fn transfer_from_wire(zone: &str, id: u16, wire: &[u8]) -> Result<Vec<DnsRecord>, ResolveError> {
    records(&mut std::io::Cursor::new(wire), zone, "the server", id).map_err(|f| match f {
        Failed::Answer(e) => e,
        Failed::Transport(_) => ResolveError::Other { name: zone.to_string(), message: "not a zone transfer".into() },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Framed messages of a transfer answering `id`: the zone's SOA, an A record, the SOA again.
    fn zone(id: u16) -> Vec<u8> {
        use hickory_proto::rr::{Name, RData, Record, rdata};
        let name = Name::from_ascii("test.").expect("name");
        let soa = Record::from_rdata(
            name.clone(),
            60,
            RData::SOA(rdata::SOA::new(name.clone(), name.clone(), 1, 3600, 600, 86400, 60)),
        );
        let a = Record::from_rdata(name, 60, RData::A(rdata::A::new(198, 18, 0, 10)));
        let mut out = Vec::new();
        for answers in [vec![soa.clone(), a], vec![soa]] {
            let mut m = Message::response(id, hickory_proto::op::OpCode::Query);
            m.add_answers(answers);
            let body = m.to_vec().expect("encode");
            out.extend_from_slice(&u16::try_from(body.len()).expect("len").to_be_bytes());
            out.extend_from_slice(&body);
        }
        out
    }

    #[test]
    fn a_whole_transfer_is_read_to_its_closing_soa() {
        let records = transfer_from_wire("test", 7, &zone(7)).expect("records");
        let types: Vec<&str> = records.iter().map(|r| r.rtype.as_str()).collect();
        assert_eq!(types, ["SOA", "A", "SOA"]);
        let whole = zone(7);
        let cut = transfer_from_wire("test", 7, &whole[..whole.len() - 3]).expect_err("cut short");
        assert_eq!(
            cut.to_string(),
            "test: the server ended the transfer after 2 records, before the zone's closing SOA"
        );
        let garbage = transfer_from_wire("test", 7, b"\x00\x03\xff\xff\xff").expect_err("not DNS");
        assert_eq!(garbage.to_string(), "test: not a zone transfer");
        let other = transfer_from_wire("test", 8, &whole).expect_err("another query's");
        assert!(other.to_string().ends_with("sent a message that answers another query"), "{other}");
    }
}
