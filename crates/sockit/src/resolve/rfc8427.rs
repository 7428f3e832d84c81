//! A DNS reply in JSON as RFC 8427 writes a message (kdig's `+json`): the header's fields and
//! counts, the question, and every section's records with their type and class by number and
//! name, their data in presentation form (`rdataA`, `rdataRRSIG`, ...) and in hex; EDNS as
//! the OPT record it came as.

use std::time::SystemTime;

use hickory_proto::op::{Message, MessageType};
use hickory_proto::rr::{DNSClass, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};
use serde_json::{Map, Value, json};

use super::ResolveError;
use super::types::{presentation, type_name};
use super::wire::{DnsConfig, ask, fqdn_name, no_server};

/// Ask the servers of `cfg` in turn for `rtype` records of `name`: the first reply, whatever
/// it says, as RFC 8427's message object.
pub fn ask_json(cfg: &DnsConfig, name: &str, rtype: RecordType) -> Result<Value, ResolveError> {
    let qname = fqdn_name(name)?;
    let mut last = None;
    for &server in &cfg.servers {
        match ask(cfg, server, &qname, rtype) {
            Ok((m, _)) => return Ok(message(&m, SystemTime::now())),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| no_server(name)))
}

/// `name`'s replies for each of `types`, as message objects; the first failure if a type had
/// no reply.
pub fn messages(cfg: &DnsConfig, name: &str, types: &[RecordType]) -> Result<super::Answer, ResolveError> {
    types.iter().map(|&t| ask_json(cfg, name, t)).collect::<Result<Vec<_>, _>>().map(super::Answer::Messages)
}

/// `when` as kdig writes it: `2026-12-06T09:02:06+0000`, and in seconds.
fn date(when: SystemTime) -> (String, u64) {
    let secs = when.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (y, m, d) = sockit_core::date::civil(i64::try_from(secs / 86400).unwrap_or(0));
    let s = secs % 86400;
    (format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+0000", s / 3600, s / 60 % 60, s % 60), secs)
}

/// A message's bytes as its object (the fuzz target's entry), `None` when they are not DNS.
pub fn message_from_wire(wire: &[u8]) -> Option<Value> {
    Message::from_vec(wire).ok().map(|m| message(&m, SystemTime::UNIX_EPOCH))
}

/// The message object (RFC 8427 2.1 to 2.5) of a reply received at `when`.
pub fn message(m: &Message, when: SystemTime) -> Value {
    let h = &m.metadata;
    let (date_string, date_seconds) = date(when);
    let mut o = Map::new();
    o.insert("dateString".into(), json!(date_string));
    o.insert("dateSeconds".into(), json!(date_seconds));
    let bit = |b: bool| json!(u8::from(b));
    o.insert("ID".into(), json!(h.id));
    o.insert("QR".into(), bit(h.message_type == MessageType::Response));
    o.insert("Opcode".into(), json!(u8::from(h.op_code)));
    o.insert("AA".into(), bit(h.authoritative));
    o.insert("TC".into(), bit(h.truncation));
    o.insert("RD".into(), bit(h.recursion_desired));
    o.insert("RA".into(), bit(h.recursion_available));
    o.insert("AD".into(), bit(h.authentic_data));
    o.insert("CD".into(), bit(h.checking_disabled));
    o.insert("RCODE".into(), json!(h.response_code.low()));
    let opt = m.edns.as_ref().map(Record::from);
    let counts =
        [m.queries.len(), m.answers.len(), m.authorities.len(), m.additionals.len() + usize::from(opt.is_some())];
    for (key, n) in ["QDCOUNT", "ANCOUNT", "NSCOUNT", "ARCOUNT"].iter().zip(counts) {
        o.insert((*key).into(), json!(n));
    }
    if let Some(q) = m.queries.first() {
        o.insert("QNAME".into(), json!(q.name().to_string()));
        o.insert("QTYPE".into(), json!(u16::from(q.query_type())));
        o.insert("QTYPEname".into(), json!(type_name(q.query_type())));
        o.insert("QCLASS".into(), json!(u16::from(q.query_class())));
        o.insert("QCLASSname".into(), json!(q.query_class().to_string()));
    }
    let mut additional: Vec<Value> = m.additionals.iter().map(rr).collect();
    additional.extend(opt.as_ref().map(rr));
    for (key, records) in [
        ("answerRRs", m.answers.iter().map(rr).collect::<Vec<_>>()),
        ("authorityRRs", m.authorities.iter().map(rr).collect()),
        ("additionalRRs", additional),
    ] {
        if !records.is_empty() {
            o.insert(key.into(), Value::Array(records));
        }
    }
    Value::Object(o)
}

/// The record's data as it goes on the wire, its names uncompressed.
fn data_bytes(data: &RData) -> Vec<u8> {
    if let RData::Unknown { rdata, .. } = data {
        return rdata.anything.clone();
    }
    let mut buf = Vec::new();
    let emitted = {
        let mut e = BinEncoder::new(&mut buf);
        let mut e = e.with_name_encoding(NameEncoding::Uncompressed);
        data.emit(&mut e).is_ok()
    };
    if !emitted {
        buf.clear();
    }
    buf
}

/// One resource record's object (RFC 8427 2.2). The OPT pseudo-record has no class name, its
/// class being the payload size.
fn rr(r: &Record) -> Value {
    let rtype = r.record_type();
    let mut o = Map::new();
    o.insert("NAME".into(), json!(r.name.to_string()));
    o.insert("TYPE".into(), json!(u16::from(rtype)));
    o.insert("TYPEname".into(), json!(type_name(rtype)));
    o.insert("CLASS".into(), json!(u16::from(r.dns_class)));
    if rtype != RecordType::OPT
        && let DNSClass::IN | DNSClass::CH | DNSClass::HS | DNSClass::NONE | DNSClass::ANY = r.dns_class
    {
        o.insert("CLASSname".into(), json!(r.dns_class.to_string()));
    }
    o.insert("TTL".into(), json!(r.ttl));
    let name = type_name(rtype);
    if rtype != RecordType::OPT && !name.starts_with("TYPE") {
        o.insert(format!("rdata{name}"), json!(presentation(&r.data)));
    }
    let bytes = data_bytes(&r.data);
    o.insert("RDLENGTH".into(), json!(bytes.len()));
    if !bytes.is_empty() {
        let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
        o.insert("RDATAHEX".into(), json!(hex));
    }
    Value::Object(o)
}
