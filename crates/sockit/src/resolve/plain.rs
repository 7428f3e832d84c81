//! Plain names and plain replies, written and read by hand for bulk lookups: the very query
//! hickory makes for a host name of letters, digits and hyphens, and the records of a reply
//! that holds only addresses and aliases of such names (what almost every answer to a bulk
//! lookup is). Whatever is not plain is left to hickory, which reads it the same way (the tests
//! and a fuzz target hold the two to the same answer).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use hickory_proto::rr::RecordType;

use super::types::{parse_type, type_name};
use super::wire::{DnsAnswer, DnsRecord, answered, holds_asked};

/// `name` on the wire (its labels, lower case, and the root), when it is a plain host name:
/// labels of letters, digits and inner single hyphens, as `fqdn_name` would take them
/// unchanged. Anything else (an internationalized name, an underscore, `xn--`) is left to it.
pub(super) fn qname(name: &str) -> Option<Vec<u8>> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.len() > 253 {
        return None;
    }
    let mut wire = Vec::with_capacity(name.len() + 2);
    for label in name.split('.') {
        let b = label.as_bytes();
        if !plain_label(b) {
            return None;
        }
        wire.push(u8::try_from(b.len()).ok()?);
        wire.extend(b.iter().map(u8::to_ascii_lowercase));
    }
    wire.push(0);
    Some(wire)
}

/// A label of letters, digits and inner hyphens, no two together: shown as it is, by hickory
/// too (which escapes other bytes and reads `xn--` labels as Unicode).
fn plain_label(b: &[u8]) -> bool {
    (1..=63).contains(&b.len())
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
        && !b.windows(2).any(|w| w == b"--")
}

/// The query `wire::query` makes (recursion desired, EDNS with a 1,232-byte payload), built
/// here for a plain name (id 0: the caller gives each its own).
pub(super) fn query(qname: &[u8], rtype: RecordType) -> Vec<u8> {
    let mut q = Vec::with_capacity(12 + qname.len() + 4 + 11);
    q.extend_from_slice(&[0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1]);
    q.extend_from_slice(qname);
    q.extend_from_slice(&u16::from(rtype).to_be_bytes());
    q.extend_from_slice(&[0, 1]);
    // The OPT record: the root, type 41, the payload size, no extended code, flags or data.
    q.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
    q
}

const A: u16 = 1;
const NS: u16 = 2;
const CNAME: u16 = 5;
const AAAA: u16 = 28;
const OPT: u16 = 41;
const IN: u16 = 1;

/// The records answering `rtype` in `reply`, when the reply is plain: a whole message (not
/// truncated, a standard query's, no error, one question) whose answers are A, AAAA and CNAME
/// records of class IN with plain names, holding the type asked, and whose other sections hold
/// only A, AAAA, NS and CNAME records and at most one empty OPT of no extended code. `None` for
/// anything else: hickory reads it.
pub(super) fn answer(reply: &[u8], rtype: RecordType) -> Option<Vec<DnsRecord>> {
    let header = reply.get(..12)?;
    let count = |i: usize| usize::from(u16::from_be_bytes([header[i], header[i + 1]]));
    // Opcode 0 (a query), not truncated; response code 0.
    if header[2] & 0x7a != 0 || header[3] & 0x0f != 0 || count(4) != 1 {
        return None;
    }
    let mut r = Reader { msg: reply, at: 12, last_name_len: 0 };
    r.name(false)?;
    r.take(4)?;
    let mut records = Vec::with_capacity(count(6));
    for _ in 0..count(6) {
        let owner = r.name(true)?;
        if r.last_name_len == 0 {
            return None;
        }
        let (rtype, class, ttl, len) = (r.u16()?, r.u16()?, r.u32()?, usize::from(r.u16()?));
        let end = r.at.checked_add(len)?;
        if class != IN || end > reply.len() {
            return None;
        }
        let data = match rtype {
            A => Ipv4Addr::from(<[u8; 4]>::try_from(r.take(len)?).ok()?).to_string(),
            AAAA => Ipv6Addr::from(<[u8; 16]>::try_from(r.take(len)?).ok()?).to_string(),
            CNAME => r.name(true).filter(|_| r.last_name_len > 0)?,
            _ => return None,
        };
        if r.at != end {
            return None;
        }
        records.push(DnsRecord { name: owner, ttl, rtype: type_name(RecordType::from(rtype)), data, strings: None });
    }
    let mut opt = false;
    for i in 0..count(8) + count(10) {
        r.name(false)?;
        let (rtype, class, ttl, len) = (r.u16()?, r.u16()?, r.u32()?, usize::from(r.u16()?));
        let end = r.at.checked_add(len)?;
        match rtype {
            A | AAAA if class == IN && len == if rtype == A { 4 } else { 16 } => {
                r.take(len)?;
            }
            NS | CNAME if class == IN => {
                r.name(false)?;
            }
            // EDNS, in the additional section once: at the root, with no extended response
            // code, version 0 and no options.
            OPT if i >= count(8) && !opt && r.last_name_len == 0 && ttl >> 16 == 0 && len == 0 => opt = true,
            _ => return None,
        }
        if r.at != end {
            return None;
        }
    }
    (r.at == reply.len() && holds_asked(rtype, &records)).then_some(records)
}

/// A reply read by hand as the answer to `name`'s `rtype` question, as a bulk lookup reads
/// one: `None` unless it is plain. Whenever it is, `answer_from_wire` must give the same answer
/// (the fuzz target's entry).
pub fn answer_by_hand(name: &str, rtype: &str, wire: &[u8]) -> Option<DnsAnswer> {
    let rtype = parse_type(rtype).unwrap_or(RecordType::A);
    answer(wire, rtype).map(|records| answered(name, rtype, SocketAddr::from(([127, 0, 0, 1], 53)), false, records))
}

/// A cursor over a message.
struct Reader<'a> {
    msg: &'a [u8],
    at: usize,
    /// The bytes of the last name's labels (0: the root).
    last_name_len: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let s = self.msg.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A name at the cursor, compressed or not, as hickory shows it (`shown`; the root as an
    /// empty string) or only walked. `None` unless its labels are plain, each pointer points
    /// before the labels it ends and what it points at stays before them (as hickory requires),
    /// and it is short enough to be a name.
    fn name(&mut self, shown: bool) -> Option<String> {
        let mut text = String::new();
        // Where the labels being read began, and the bound a pointer set (none yet).
        let (mut at, mut start, mut limit, mut resume, mut len) = (self.at, self.at, usize::MAX, None, 0usize);
        loop {
            let b = *self.msg.get(at)?;
            match b >> 6 {
                0 if b == 0 => {
                    if at >= limit {
                        return None;
                    }
                    at += 1;
                    break;
                }
                0 => {
                    let label = self.msg.get(at + 1..at + 1 + usize::from(b))?;
                    if at + label.len() >= limit || !plain_label(label) {
                        return None;
                    }
                    len += label.len() + 1;
                    if shown {
                        text.push_str(std::str::from_utf8(label).ok()?);
                        text.push('.');
                    }
                    at += 1 + label.len();
                }
                3 => {
                    let target = usize::from(u16::from_be_bytes([b, *self.msg.get(at + 1)?]) & 0x3fff);
                    if target >= start || at + 1 >= limit {
                        return None;
                    }
                    resume.get_or_insert(at + 2);
                    (at, limit, start) = (target, start, target);
                }
                _ => return None,
            }
        }
        // hickory takes names under 255 bytes.
        if len >= 254 {
            return None;
        }
        self.at = resume.unwrap_or(at);
        self.last_name_len = len;
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::super::wire::{DnsRecord, fqdn_name, query as hickory_query};
    use super::*;
    use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
    use hickory_proto::rr::rdata::{A as ARecord, AAAA as AaaaRecord, CNAME as CnameRecord, NS as NsRecord, SOA};
    use hickory_proto::rr::{Name, RData, Record};

    /// A plain name's query is the very query `wire::query` makes through hickory.
    #[test]
    fn plain_queries_are_hickorys_queries() {
        for (name, t) in
            [("h5.bulk.test", RecordType::A), ("Host-1.Example.ORG.", RecordType::AAAA), ("a.b", RecordType::MX)]
        {
            let (mut want, _) =
                hickory_query(name, &fqdn_name(name).expect("name"), t, &super::super::edns::QueryOptions::default())
                    .expect("query");
            want[..2].copy_from_slice(&[0, 0]);
            assert_eq!(query(&qname(name).expect("plain"), t), want, "{name}");
        }
        for odd in ["_sip._tcp.test", "xn--bcher-kva.test", "a..b", "-a.test", "a-.test", "ä.test", "", "."] {
            assert!(qname(odd).is_none(), "{odd}");
        }
    }

    fn name(s: &str) -> Name {
        Name::from_ascii(s).expect("name")
    }

    fn record(owner: &str, data: RData) -> Record {
        Record::from_rdata(name(owner), 3600, data)
    }

    /// A reply to `q`'s question with these sections, as hickory writes it (names compressed).
    fn reply(q: &str, t: RecordType, answers: Vec<Record>, authority: Vec<Record>, additional: Vec<Record>) -> Vec<u8> {
        let mut m = Message::new(7, MessageType::Response, OpCode::Query);
        m.add_query(Query::query(name(q), t));
        m.add_answers(answers);
        m.add_authorities(authority);
        m.add_additionals(additional);
        m.set_edns(Edns::new());
        m.to_vec().expect("reply")
    }

    /// hickory's records for a reply, as the slow path reads them.
    fn hickory_records(wire: &[u8]) -> Option<Vec<DnsRecord>> {
        Message::from_vec(wire).ok().map(|m| m.answers.iter().map(DnsRecord::of).collect())
    }

    fn a(s: &str) -> RData {
        RData::A(ARecord(s.parse().expect("v4")))
    }

    fn ns_set() -> (Vec<Record>, Vec<Record>) {
        (
            vec![record("bulk.test.", RData::NS(NsRecord(name("ns1.bulk.test."))))],
            vec![record("ns1.bulk.test.", a("127.0.0.1"))],
        )
    }

    /// Plain replies give hickory's records, byte for byte of presentation.
    #[test]
    fn plain_replies_read_as_hickory_reads_them() {
        let (ns, glue) = ns_set();
        let cases = [
            reply(
                "h5.bulk.test.",
                RecordType::A,
                vec![record("h5.bulk.test.", a("198.18.0.5"))],
                ns.clone(),
                glue.clone(),
            ),
            reply(
                "Mixed-Case.Test.",
                RecordType::A,
                vec![record("Mixed-Case.Test.", a("10.0.0.1")), record("Mixed-Case.Test.", a("10.0.0.2"))],
                vec![],
                vec![],
            ),
            reply(
                "www.example.test.",
                RecordType::AAAA,
                vec![
                    record("www.example.test.", RData::CNAME(CnameRecord(name("edge.cdn.test.")))),
                    record("edge.cdn.test.", RData::AAAA(AaaaRecord("2001:db8::1".parse().expect("v6")))),
                ],
                ns,
                glue,
            ),
            reply(
                "alias.test.",
                RecordType::CNAME,
                vec![record("alias.test.", RData::CNAME(CnameRecord(name("target.test."))))],
                vec![],
                vec![],
            ),
        ];
        for (i, wire) in cases.iter().enumerate() {
            let asked = Message::from_vec(wire).expect("parse").queries[0].query_type();
            let by_hand = answer(wire, asked);
            assert!(by_hand.is_some(), "case {i} is plain");
            assert_eq!(by_hand, hickory_records(wire), "case {i}");
        }
    }

    /// Anything not plain is left to hickory.
    #[test]
    fn replies_that_are_not_plain_are_left_to_hickory() {
        let plain = reply("h.test.", RecordType::A, vec![record("h.test.", a("10.0.0.1"))], vec![], vec![]);
        assert!(answer(&plain, RecordType::A).is_some());
        // Not the type asked (NODATA, as the slow path says).
        assert!(answer(&plain, RecordType::AAAA).is_none());
        let with = |f: &dyn Fn(&mut Vec<u8>)| {
            let mut w = plain.clone();
            f(&mut w);
            answer(&w, RecordType::A)
        };
        assert!(with(&|w| w[2] |= 0x02).is_none(), "truncated");
        assert!(with(&|w| w[3] |= 0x03).is_none(), "NXDOMAIN");
        assert!(with(&|w| w[2] |= 0x08).is_none(), "another opcode");
        assert!(with(&|w| w.push(0)).is_none(), "a byte after the message");
        assert!(with(&|w| w.truncate(w.len() - 1)).is_none(), "cut short");
        let odd = |owner: &str| reply(owner, RecordType::A, vec![record(owner, a("10.0.0.1"))], vec![], vec![]);
        for owner in ["_srv.test.", "xn--bcher-kva.test.", "a--b.test.", "*.test."] {
            assert!(answer(&odd(owner), RecordType::A).is_none(), "{owner}");
        }
        let soa = SOA::new(name("ns.test."), name("admin.test."), 1, 2, 3, 4, 5);
        let nodata = reply("h.test.", RecordType::A, vec![], vec![record("test.", RData::SOA(soa))], vec![]);
        assert!(answer(&nodata, RecordType::A).is_none());
        let mut bad_version = Message::from_vec(&plain).expect("parse");
        bad_version.metadata.response_code = ResponseCode::BADVERS;
        assert!(answer(&bad_version.to_vec().expect("reply"), RecordType::A).is_none(), "an extended code");
    }

    /// Every byte of a plain reply changed in turn, and random changes besides: whenever the
    /// reply still reads as plain, hickory reads the very same records from it.
    #[test]
    fn a_changed_reply_read_by_hand_is_never_read_otherwise_by_hickory() {
        let (ns, glue) = ns_set();
        let base = reply(
            "www.bulk.test.",
            RecordType::A,
            vec![
                record("www.bulk.test.", RData::CNAME(CnameRecord(name("h1.bulk.test.")))),
                record("h1.bulk.test.", a("198.18.0.1")),
            ],
            ns,
            glue,
        );
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let (mut plain, mut tried) = (0, 0);
        for at in 0..base.len() {
            for v in [0u8, 1, 0x3f, 0x40, 0xc0, 0xff, base[at] ^ 0x20, base[at].wrapping_add(1)] {
                let mut w = base.clone();
                w[at] = v;
                tried += 1;
                if let Some(records) = answer(&w, RecordType::A) {
                    plain += 1;
                    assert_eq!(Some(records), hickory_records(&w), "byte {at} as {v:#04x}");
                }
            }
        }
        for _ in 0..20_000 {
            let mut w = base.clone();
            for _ in 0..=next() % 3 {
                let at = usize::try_from(next() % base.len() as u64).expect("index");
                w[at] = u8::try_from(next() & 0xff).expect("byte");
            }
            tried += 1;
            if let Some(records) = answer(&w, RecordType::A) {
                plain += 1;
                assert_eq!(Some(records), hickory_records(&w), "{w:?}");
            }
        }
        assert!(plain > 100 && plain < tried, "{plain} of {tried} read by hand");
    }
}
