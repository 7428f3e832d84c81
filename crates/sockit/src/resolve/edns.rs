//! What a direct query asks beyond its question (header flags and EDNS: DNSSEC OK, a buffer
//! size, NSID, a client subnet, a cookie, padding), and what the reply's header and EDNS say
//! back (flags, response code, the server's NSID and cookie, extended errors), as dig, kdig and
//! q show them.

use std::net::IpAddr;

use hickory_proto::op::{Edns, Message};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption};
use serde::Serialize;

/// The queries' flags and EDNS options. `Default` is what every query had before: recursion
/// desired, EDNS with a 1,232-byte payload, nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryOptions {
    /// Recursion desired (RD).
    pub recursion: bool,
    /// Checking disabled (CD): a validating resolver answers without validating.
    pub checking_disabled: bool,
    /// Authentic data (AD) asked for: a validating resolver says whether it validated the
    /// answer (RFC 6840 5.7), as dig asks by default.
    pub authentic_data: bool,
    /// Send an OPT record at all (EDNS); without it, none of the options below.
    pub edns: bool,
    /// The largest UDP reply the client takes.
    pub bufsize: u16,
    /// DNSSEC OK (DO): signatures wanted.
    pub dnssec_ok: bool,
    /// Ask for the server's identifier (RFC 5001).
    pub nsid: bool,
    /// The client's subnet (RFC 7871): address and source prefix length.
    pub subnet: Option<(IpAddr, u8)>,
    /// Send a client cookie (RFC 7873), these 8 bytes.
    pub cookie: Option<[u8; 8]>,
    /// Pad the query to a multiple of 128 bytes (RFC 7830, RFC 8467).
    pub padding: bool,
    /// Report the reply's header and EDNS with its records.
    pub show: bool,
}

impl Default for QueryOptions {
    fn default() -> QueryOptions {
        QueryOptions {
            recursion: true,
            checking_disabled: false,
            authentic_data: false,
            edns: true,
            bufsize: 1232,
            dnssec_ok: false,
            nsid: false,
            subnet: None,
            cookie: None,
            padding: false,
            show: false,
        }
    }
}

/// Padding blocks for queries (RFC 8467's recommendation).
const PAD_BLOCK: usize = 128;

impl QueryOptions {
    /// Whether queries are the plain ones the hand-written reader and writer serve (bulk
    /// lookups' fast path): nothing asked beyond the default.
    pub fn is_default(&self) -> bool {
        *self == QueryOptions::default()
    }

    /// Set the header flags and the OPT record of `msg`, a query with its question.
    pub(super) fn apply(&self, msg: &mut Message) {
        msg.metadata.recursion_desired = self.recursion;
        msg.metadata.checking_disabled = self.checking_disabled;
        msg.metadata.authentic_data = self.authentic_data;
        if !self.edns {
            return;
        }
        let mut edns = Edns::new();
        edns.set_max_payload(self.bufsize);
        edns.set_dnssec_ok(self.dnssec_ok);
        let opt = edns.options_mut();
        if self.nsid {
            opt.insert(EdnsOption::Unknown(u16::from(EdnsCode::NSID), Vec::new()));
        }
        if let Some((ip, prefix)) = self.subnet {
            opt.insert(EdnsOption::Subnet(ClientSubnet::new(ip, prefix, 0)));
        }
        if let Some(c) = self.cookie {
            opt.insert(EdnsOption::Unknown(u16::from(EdnsCode::Cookie), c.to_vec()));
        }
        msg.set_edns(edns);
    }

    /// `wire`, the query `apply` made into bytes, padded if asked: `msg` made into bytes again
    /// once its padding option is sized.
    pub(super) fn pad(&self, msg: &mut Message, wire: Vec<u8>) -> Option<Vec<u8>> {
        if !(self.padding && self.edns) {
            return Some(wire);
        }
        // The option's own four bytes, then as many zeros as fill the last block.
        let bare = wire.len() + 4;
        let fill = (PAD_BLOCK - bare % PAD_BLOCK) % PAD_BLOCK;
        if let Some(e) = msg.edns.as_mut() {
            e.options_mut().insert(EdnsOption::Unknown(u16::from(EdnsCode::Padding), vec![0; fill]));
        }
        msg.to_vec().ok()
    }
}

/// A fresh client cookie: 8 bytes from the system's random source.
pub fn client_cookie() -> [u8; 8] {
    let mut c = [0u8; 8];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| std::io::Read::read_exact(&mut f, &mut c));
    if read.is_err() {
        // No random device: the clock and the process, which differ from run to run.
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        c = (u64::try_from(t & u128::from(u64::MAX)).unwrap_or(0) ^ u64::from(std::process::id()).rotate_left(32))
            .to_be_bytes();
    }
    c
}

/// A reply's header and EDNS, as shown beside its records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Header {
    /// The flags set, in dig's order: qr aa tc rd ra ad cd.
    pub flags: Vec<&'static str>,
    pub rcode: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edns: Option<EdnsReport>,
}

/// What the reply's OPT record says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EdnsReport {
    pub version: u8,
    /// The largest UDP reply the server takes.
    pub udp: u16,
    /// DNSSEC OK set in the reply.
    #[serde(rename = "do")]
    pub dnssec_ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nsid: Option<Nsid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cookie: Option<Cookie>,
    /// The client subnet the server answered for: address/source/scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet: Option<String>,
    /// Bytes of padding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub padding: Option<usize>,
    /// Options sockit does not read, by code, in hex.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub other: Vec<OtherOption>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Nsid {
    pub hex: String,
    /// The identifier as text, where it is printable ASCII.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cookie {
    pub client: String,
    /// The server's part, if it sent one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OtherOption {
    pub code: u16,
    pub hex: String,
}

/// An extended DNS error (RFC 8914): its code, the code's name, and the server's text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ede {
    pub code: u16,
    pub name: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl std::fmt::Display for Ede {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EDE {} {}", self.code, self.name)?;
        match &self.text {
            Some(t) => write!(f, ": {t}"),
            None => Ok(()),
        }
    }
}

/// RFC 8914's and IANA's names for extended error codes.
fn ede_name(code: u16) -> &'static str {
    const NAMES: [&str; 31] = [
        "Other Error",
        "Unsupported DNSKEY Algorithm",
        "Unsupported DS Digest Type",
        "Stale Answer",
        "Forged Answer",
        "DNSSEC Indeterminate",
        "DNSSEC Bogus",
        "Signature Expired",
        "Signature Not Yet Valid",
        "DNSKEY Missing",
        "RRSIGs Missing",
        "No Zone Key Bit Set",
        "NSEC Missing",
        "Cached Error",
        "Not Ready",
        "Blocked",
        "Censored",
        "Filtered",
        "Prohibited",
        "Stale NXDomain Answer",
        "Not Authoritative",
        "Not Supported",
        "No Reachable Authority",
        "Network Error",
        "Invalid Data",
        "Signature Expired before Valid",
        "Too Early",
        "Unsupported NSEC3 Iterations Value",
        "Unable to conform to policy",
        "Synthesized",
        "Invalid Query Type",
    ];
    NAMES.get(usize::from(code)).copied().unwrap_or("Unassigned")
}

/// The extended errors as said after a response code: `, EDE 18 Prohibited: text` for each.
pub fn ede_suffix(ede: &[Ede]) -> String {
    ede.iter().map(|e| format!(", {e}")).collect()
}

/// The extended errors of a reply, in the order sent.
pub(super) fn extended_errors(reply: &Message) -> Vec<Ede> {
    let Some(edns) = reply.edns.as_ref() else { return Vec::new() };
    edns.options()
        .options
        .iter()
        .filter_map(|(_, o)| match o {
            EdnsOption::Unknown(15, data) if data.len() >= 2 => {
                let code = u16::from_be_bytes([data[0], data[1]]);
                // Some servers end the text with a NUL; the rest is shown escaped.
                let raw = &data[2..];
                let text = sockit_core::text::escape(raw.strip_suffix(b"\0").unwrap_or(raw));
                Some(Ede { code, name: ede_name(code), text: (!text.is_empty()).then_some(text) })
            }
            _ => None,
        })
        .collect()
}

/// The header and EDNS of a reply's bytes, if they are a DNS message (the fuzz target's entry).
pub fn header_of(wire: &[u8]) -> Option<Header> {
    Message::from_vec(wire).ok().map(|m| header(&m))
}

/// The header and EDNS of `reply`.
pub(super) fn header(reply: &Message) -> Header {
    let m = &reply.metadata;
    let flags = [
        (m.message_type == hickory_proto::op::MessageType::Response, "qr"),
        (m.authoritative, "aa"),
        (m.truncation, "tc"),
        (m.recursion_desired, "rd"),
        (m.recursion_available, "ra"),
        (m.authentic_data, "ad"),
        (m.checking_disabled, "cd"),
    ]
    .into_iter()
    .filter_map(|(set, name)| set.then_some(name))
    .collect();
    Header { flags, rcode: rcode_name(u16::from(m.response_code)), edns: reply.edns.as_ref().map(edns_report) }
}

/// A response code as dig names it.
fn rcode_name(code: u16) -> String {
    const NAMES: [&str; 11] = [
        "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH",
        "NOTZONE",
    ];
    const EXTENDED: [&str; 8] =
        ["BADVERS", "BADKEY", "BADTIME", "BADMODE", "BADNAME", "BADALG", "BADTRUNC", "BADCOOKIE"];
    match code {
        0..=10 => NAMES[usize::from(code)].to_string(),
        16..=23 => EXTENDED[usize::from(code - 16)].to_string(),
        n => format!("RCODE{n}"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn edns_report(e: &Edns) -> EdnsReport {
    let mut r = EdnsReport {
        version: e.version(),
        udp: e.max_payload(),
        dnssec_ok: e.flags().dnssec_ok,
        nsid: None,
        cookie: None,
        subnet: None,
        padding: None,
        other: Vec::new(),
    };
    for (code, o) in &e.options().options {
        match (code, o) {
            (_, EdnsOption::NSID(p)) => r.nsid = Some(nsid_bytes(p.as_ref())),
            (_, EdnsOption::Subnet(s)) => {
                r.subnet = Some(format!("{}/{}/{}", s.addr(), s.source_prefix(), s.scope_prefix()));
            }
            (_, EdnsOption::Unknown(3, data)) => r.nsid = Some(nsid_bytes(data)),
            (_, EdnsOption::Unknown(10, data)) if data.len() >= 8 => {
                r.cookie = Some(Cookie { client: hex(&data[..8]), server: (data.len() > 8).then(|| hex(&data[8..])) });
            }
            (_, EdnsOption::Unknown(12, data)) => r.padding = Some(data.len()),
            // Extended errors are reported with the answer, whatever was asked.
            (_, EdnsOption::Unknown(15, _)) => {}
            (c, o) => r.other.push(OtherOption {
                code: u16::from(*c),
                hex: Vec::<u8>::try_from(o).map(|b| hex(&b)).unwrap_or_default(),
            }),
        }
    }
    r
}

fn nsid_bytes(b: &[u8]) -> Nsid {
    let printable = !b.is_empty() && b.iter().all(|c| c.is_ascii_graphic() || *c == b' ');
    Nsid { hex: hex(b), text: printable.then(|| String::from_utf8_lossy(b).into_owned()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::Query;
    use hickory_proto::rr::{Name, RecordType};
    use std::str::FromStr;

    fn built(o: &QueryOptions) -> Vec<u8> {
        let mut msg = Message::query();
        msg.add_query(Query::query(Name::from_str("host1.test.").expect("name"), RecordType::A));
        o.apply(&mut msg);
        let wire = msg.to_vec().expect("wire");
        o.pad(&mut msg, wire).expect("padded")
    }

    #[test]
    fn padding_fills_the_query_to_a_block_of_128() {
        let plain = built(&QueryOptions::default());
        assert_eq!(plain.len(), 12 + 16 + 11, "header, question, OPT");
        for o in [
            QueryOptions { padding: true, ..QueryOptions::default() },
            QueryOptions { padding: true, nsid: true, cookie: Some([7; 8]), ..QueryOptions::default() },
        ] {
            let wire = built(&o);
            assert_eq!(wire.len() % 128, 0, "{} bytes", wire.len());
            let m = Message::from_vec(&wire).expect("read back");
            let e = m.edns.as_ref().expect("OPT");
            assert_eq!(edns_report(e).padding, Some(wire.len() - 39 - 4 - if o.nsid { 16 } else { 0 }));
        }
    }

    #[test]
    fn the_flags_and_options_asked_are_on_the_wire() {
        let o = QueryOptions {
            recursion: false,
            checking_disabled: true,
            bufsize: 4096,
            dnssec_ok: true,
            nsid: true,
            subnet: Some(("198.18.7.0".parse().expect("ip"), 24)),
            cookie: Some([1, 2, 3, 4, 5, 6, 7, 8]),
            ..QueryOptions::default()
        };
        let wire = built(&o);
        // Header flags: RD off, CD on.
        assert_eq!(wire[2] & 0x01, 0, "RD");
        assert_eq!(wire[3] & 0x10, 0x10, "CD");
        let m = Message::from_vec(&wire).expect("read back");
        let r = edns_report(m.edns.as_ref().expect("OPT"));
        assert_eq!((r.udp, r.dnssec_ok), (4096, true));
        assert_eq!(r.subnet.as_deref(), Some("198.18.7.0/24/0"));
        assert_eq!(r.cookie, Some(Cookie { client: "0102030405060708".into(), server: None }));
        // The subnet option carries three address bytes for a /24 (RFC 7871).
        let ecs = [0u8, 8, 0, 7, 0, 1, 24, 0, 198, 18, 7];
        assert!(wire.windows(ecs.len()).any(|w| w == ecs), "ECS option on the wire");
        let nsid = [0u8, 3, 0, 0];
        assert!(wire.windows(4).any(|w| w == nsid), "empty NSID option");
        let none = built(&QueryOptions { edns: false, ..QueryOptions::default() });
        assert_eq!(none.len(), 12 + 16, "no OPT record");
    }

    #[test]
    fn extended_errors_are_named_and_their_text_made_printable() {
        let mut msg = Message::query();
        let mut edns = Edns::new();
        edns.options_mut().insert(EdnsOption::Unknown(15, b"\x00\x12blocked by \x1b[31mpolicy".to_vec()));
        msg.set_edns(edns);
        let wire = msg.to_vec().expect("wire");
        let m = Message::from_vec(&wire).expect("read");
        let e = extended_errors(&m);
        assert_eq!(e.len(), 1);
        assert_eq!((e[0].code, e[0].name), (18, "Prohibited"));
        assert!(!e[0].to_string().contains('\x1b'), "{}", e[0]);
        assert!(e[0].to_string().starts_with("EDE 18 Prohibited: blocked by "));
        assert_eq!(ede_name(31), "Unassigned");
        assert_eq!(
            [rcode_name(0), rcode_name(2), rcode_name(23), rcode_name(11)],
            ["NOERROR", "SERVFAIL", "BADCOOKIE", "RCODE11"]
        );
    }
}
