//! A DNS message in a captured datagram, said in a few words for the ladder: `DNS query A
//! www.lab.test`, `DNS reply A www.lab.test: 198.18.0.10`, `DNS reply NXDOMAIN ...`. Any bytes
//! are taken; what cannot be read gives `None`.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::frame::be16;

/// The name at `at` (following compression pointers, at most 16 of them) and where the
/// bytes after it start.
fn name(msg: &[u8], mut at: usize) -> Option<(String, usize)> {
    let mut labels: Vec<String> = Vec::new();
    let mut after = None;
    for _ in 0..128 {
        let len = *msg.get(at)?;
        match len {
            0 => {
                let end = after.unwrap_or(at + 1);
                let n = if labels.is_empty() { ".".to_string() } else { labels.join(".") };
                return Some((n, end));
            }
            l if l & 0xc0 == 0xc0 => {
                after.get_or_insert(at + 2);
                if labels.len() > 64 {
                    return None;
                }
                at = usize::from(be16(msg, at)? & 0x3fff);
            }
            l if l & 0xc0 == 0 => {
                let l = usize::from(l);
                let text = msg.get(at + 1..at + 1 + l)?;
                labels.push(crate::text::escape(text));
                at += 1 + l;
            }
            _ => return None,
        }
    }
    None
}

fn type_name(t: u16) -> String {
    match t {
        1 => "A".into(),
        2 => "NS".into(),
        5 => "CNAME".into(),
        6 => "SOA".into(),
        12 => "PTR".into(),
        15 => "MX".into(),
        16 => "TXT".into(),
        28 => "AAAA".into(),
        33 => "SRV".into(),
        65 => "HTTPS".into(),
        t => format!("TYPE{t}"),
    }
}

fn rcode_name(r: u16) -> String {
    match r {
        0 => "NOERROR".into(),
        1 => "FORMERR".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED".into(),
        r => format!("RCODE{r}"),
    }
}

/// The message in words, or `None` when it is not one.
pub fn summary(msg: &[u8]) -> Option<String> {
    let flags = be16(msg, 2)?;
    let (qd, an) = (be16(msg, 4)?, be16(msg, 6)?);
    if qd != 1 {
        return None;
    }
    let (qname, at) = name(msg, 12)?;
    let qtype = type_name(be16(msg, at)?);
    if flags & 0x8000 == 0 {
        return Some(format!("DNS query {qtype} {qname}"));
    }
    let rcode = flags & 0x000f;
    if rcode != 0 {
        return Some(format!("DNS reply {} {qname}", rcode_name(rcode)));
    }
    let mut at = at + 4;
    let mut data = Vec::new();
    for _ in 0..an.min(8) {
        let (_, next) = name(msg, at)?;
        let (t, len) = (be16(msg, next)?, usize::from(be16(msg, next + 8)?));
        let rdata_at = next + 10;
        let rdata = msg.get(rdata_at..rdata_at + len)?;
        data.push(match (t, rdata.len()) {
            (1, 4) => Ipv4Addr::new(rdata[0], rdata[1], rdata[2], rdata[3]).to_string(),
            (28, 16) => Ipv6Addr::from(<[u8; 16]>::try_from(rdata).ok()?).to_string(),
            (5 | 12 | 2, _) => name(msg, rdata_at)?.0,
            (t, _) => type_name(t),
        });
        at = rdata_at + len;
    }
    if data.is_empty() {
        return Some(format!("DNS reply {qtype} {qname}: no records"));
    }
    let more = if an > 8 { ", ..." } else { "" };
    Some(format!("DNS reply {qtype} {qname}: {}{more}", data.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(id: u16, flags: u16, name: &str, qtype: u16, answers: u16) -> Vec<u8> {
        let mut m = Vec::new();
        for v in [id, flags, 1, answers, 0, 0] {
            m.extend_from_slice(&v.to_be_bytes());
        }
        for l in name.split('.') {
            m.push(u8::try_from(l.len()).unwrap_or(0));
            m.extend_from_slice(l.as_bytes());
        }
        m.push(0);
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        m
    }

    #[test]
    fn queries_answers_and_errors_are_said_in_words() {
        assert_eq!(summary(&query(7, 0x0100, "www.lab.test", 1, 0)).as_deref(), Some("DNS query A www.lab.test"));
        let mut reply = query(7, 0x8180, "www.lab.test", 1, 1);
        reply.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 18, 0, 10]);
        assert_eq!(summary(&reply).as_deref(), Some("DNS reply A www.lab.test: 198.18.0.10"));
        let nx = query(7, 0x8183, "nowhere.lab.test", 1, 0);
        assert_eq!(summary(&nx).as_deref(), Some("DNS reply NXDOMAIN nowhere.lab.test"));
        let mut ptr = query(8, 0x8180, "10.0.18.198.in-addr.arpa", 12, 1);
        ptr.extend_from_slice(&[0xc0, 12, 0, 12, 0, 1, 0, 0, 0, 60, 0, 14]);
        ptr.extend_from_slice(b"\x03www\x03lab\x04test\x00");
        assert_eq!(summary(&ptr).as_deref(), Some("DNS reply PTR 10.0.18.198.in-addr.arpa: www.lab.test"));
        // A pointer loop, and every cut of a reply: no panic, no hang.
        let mut looped = query(9, 0x8180, "a", 1, 1);
        looped.extend_from_slice(&[0xc0, 29, 0xc0, 29]);
        let _ = summary(&looped);
        for n in 0..reply.len() {
            let _ = summary(&reply[..n]);
        }
    }
}
