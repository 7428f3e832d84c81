//! Record types as a user names them (`MX`, `spf`, `TYPE15`, `15`) and as dig shows them, and
//! record data in presentation form: for the types hickory decodes, as it writes them; for
//! SPF and URI, as their RFCs write them; DNSSEC's types as dig writes them (`dnssec_text`);
//! for any other, RFC 3597's `\# LENGTH HEX`.

use std::str::FromStr;

use hickory_proto::rr::{RData, RecordType};

/// Types hickory has no name for, by their numbers (IANA's registry).
const MORE: &[(&str, u16)] = &[
    ("RP", 17),
    ("AFSDB", 18),
    ("LOC", 29),
    ("KX", 36),
    ("DHCID", 49),
    ("HIP", 55),
    ("ZONEMD", 63),
    ("SPF", 99),
    ("EUI48", 108),
    ("EUI64", 109),
    ("URI", 256),
];

/// What `--type` takes, for an error that names the choices.
pub const TYPE_CHOICES: &str = "a type name (A, AAAA, CAA, CNAME, DNSKEY, DS, HTTPS, MX, NAPTR, NS, PTR, SOA, SPF, SRV, \
                                SSHFP, SVCB, TLSA, TXT, URI, AXFR ...), TYPEnnn or a number from 1 to 65535";

/// Parse a record type, case-insensitively: a name, `TYPEnnn` (RFC 3597) or a number. Type 0
/// and the EDNS and TSIG pseudo-types are not questions.
pub fn parse_type(s: &str) -> Option<RecordType> {
    let upper = s.trim().to_ascii_uppercase();
    let t = match RecordType::from_str(&upper) {
        Ok(t) => t,
        Err(_) => {
            let number = match MORE.iter().find(|(name, _)| *name == upper) {
                Some(&(_, n)) => n,
                None => upper.strip_prefix("TYPE").unwrap_or(&upper).parse::<u16>().ok()?,
            };
            RecordType::from(number)
        }
    };
    (!matches!(t, RecordType::ZERO | RecordType::OPT | RecordType::TSIG)).then_some(t)
}

/// A type as dig shows it: its name, or `TYPEnnn` for one without a name.
pub fn type_name(t: RecordType) -> String {
    match t {
        RecordType::Unknown(n) => match MORE.iter().find(|&&(_, code)| code == n) {
            Some((name, _)) => (*name).to_string(),
            None => format!("TYPE{n}"),
        },
        t => t.to_string(),
    }
}

/// Record data as zone files and dig show it. TXT (and SPF) strings are quoted one by one
/// (hickory joins them), with `"` and `\` escaped and other bytes outside printable ASCII as
/// `\DDD`.
pub fn presentation(data: &RData) -> String {
    match data {
        RData::TXT(txt) => txt.txt_data.iter().map(|chunk| quoted(chunk)).collect::<Vec<_>>().join(" "),
        RData::Unknown { code, rdata } => unknown(*code, &rdata.anything),
        other => other.to_string(),
    }
}

/// The TXT strings of a record's data, as text (bytes that are not UTF-8 replaced).
pub fn strings(data: &RData) -> Option<Vec<String>> {
    match data {
        RData::TXT(txt) => Some(txt.txt_data.iter().map(|c| String::from_utf8_lossy(c).into_owned()).collect()),
        RData::Unknown { code: RecordType::Unknown(99), rdata } => character_strings(&rdata.anything)
            .map(|v| v.iter().map(|c| String::from_utf8_lossy(c).into_owned()).collect()),
        _ => None,
    }
}

/// Data of a type hickory does not decode: SPF as TXT (RFC 7208), URI as `PRIORITY WEIGHT
/// "TARGET"` (RFC 7553), anything else (or either, malformed) as `\# LENGTH HEX` (RFC 3597).
fn unknown(code: RecordType, data: &[u8]) -> String {
    let generic = || {
        let hex: String = data.iter().map(|b| format!("{b:02X}")).collect();
        if data.is_empty() { "\\# 0".to_string() } else { format!("\\# {} {hex}", data.len()) }
    };
    match u16::from(code) {
        99 => {
            character_strings(data).map_or_else(generic, |v| v.iter().map(|c| quoted(c)).collect::<Vec<_>>().join(" "))
        }
        256 if data.len() >= 4 => {
            let priority = u16::from_be_bytes([data[0], data[1]]);
            let weight = u16::from_be_bytes([data[2], data[3]]);
            format!("{priority} {weight} {}", quoted(&data[4..]))
        }
        n => super::dnssec_text::present(n, data, type_name).unwrap_or_else(generic),
    }
}

/// `data` as a run of `<character-string>`s (a length byte, then that many bytes); `None` if
/// it is not one.
fn character_strings(mut data: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    while let Some((&len, rest)) = data.split_first() {
        let len = usize::from(len);
        if rest.len() < len {
            return None;
        }
        out.push(&rest[..len]);
        data = &rest[len..];
    }
    Some(out)
}

/// One string in double quotes, `"` and `\` escaped, bytes outside printable ASCII as `\DDD`.
fn quoted(chunk: &[u8]) -> String {
    let mut s = String::from("\"");
    for &b in chunk {
        match b {
            b'"' | b'\\' => {
                s.push('\\');
                s.push(char::from(b));
            }
            0x20..=0x7e => s.push(char::from(b)),
            _ => s.push_str(&format!("\\{b:03}")),
        }
    }
    s.push('"');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_by_name_number_and_rfc_3597() {
        assert_eq!(parse_type("mx"), Some(RecordType::MX));
        assert_eq!(parse_type("AAAA"), Some(RecordType::AAAA));
        assert_eq!(parse_type("TYPE15"), Some(RecordType::MX));
        assert_eq!(parse_type("15"), Some(RecordType::MX));
        assert_eq!(parse_type("type65280"), Some(RecordType::Unknown(65280)));
        assert_eq!(parse_type("spf").map(type_name).as_deref(), Some("SPF"));
        assert_eq!(parse_type("URI").map(type_name).as_deref(), Some("URI"));
        assert_eq!(type_name(RecordType::Unknown(65280)), "TYPE65280");
        for bad in ["BOGUS", "0", "TYPE0", "65536", "TYPE", "41", "OPT", "-1", ""] {
            assert_eq!(parse_type(bad), None, "{bad}");
        }
    }

    #[test]
    fn data_of_types_hickory_does_not_decode() {
        assert_eq!(unknown(RecordType::Unknown(99), b"\x0bv=spf1 -all\x02a\""), "\"v=spf1 -all\" \"a\\\"\"");
        assert_eq!(unknown(RecordType::Unknown(256), b"\x00\x0a\x00\x01ftp://x/"), "10 1 \"ftp://x/\"");
        assert_eq!(unknown(RecordType::Unknown(65280), b"\x01\xff"), "\\# 2 01FF");
        assert_eq!(unknown(RecordType::Unknown(65280), b""), "\\# 0");
        // A malformed SPF (a length past the end) is shown as its bytes.
        assert_eq!(unknown(RecordType::Unknown(99), b"\x09ab"), "\\# 3 096162");
    }
}
