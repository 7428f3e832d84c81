//! A zone transfer (AXFR, RFC 5936): always over TCP (a transfer is never a datagram), the
//! answer read message by message until the zone's SOA comes round again, each message within
//! the timeout and the whole bounded in records.

use std::net::{SocketAddr, TcpStream};

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::RecordType;

use super::ResolveError;
use super::types::type_name;
use super::wire::{
    DnsAnswer, DnsConfig, DnsRecord, Transport, fqdn_name, io_transport, read_framed, send_framed, transport_error,
};

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
                return Ok(DnsAnswer {
                    name: zone.to_string(),
                    qtype: "AXFR".into(),
                    server,
                    tcp: true,
                    records,
                    failed: Vec::new(),
                });
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
    let answer = |message: String| Failed::Answer(ResolveError::Other { name: zone.to_string(), message });
    let mut s = TcpStream::connect_timeout(&server, cfg.timeout).map_err(t)?;
    s.set_read_timeout(Some(cfg.timeout)).map_err(t)?;
    s.set_write_timeout(Some(cfg.timeout)).map_err(t)?;
    send_framed(&mut s, wire).map_err(Failed::Transport)?;
    let mut records = Vec::new();
    let mut soas = 0;
    loop {
        let body = match read_framed(&mut s) {
            Ok(body) => body,
            // Closed before the closing SOA: the zone did not come whole.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !records.is_empty() => {
                return Err(answer(format!(
                    "{server} ended the transfer after {} records, before the zone's closing SOA",
                    records.len()
                )));
            }
            Err(e) => return Err(t(e)),
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
            ResponseCode::NXDomain => return Err(Failed::Answer(ResolveError::NoSuchName { name: zone.to_string() })),
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
