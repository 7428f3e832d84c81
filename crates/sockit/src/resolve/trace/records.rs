//! A traced reply's records as DNSSEC reads them: record sets with their data in canonical
//! form (RFC 4034 section 6) and their signatures, and the data of RRSIG, DNSKEY, DS, NSEC and
//! NSEC3 records read from their bytes.

use hickory_proto::rr::{Name, RData, Record};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};

pub(super) const DS: u16 = 43;
pub(super) const RRSIG: u16 = 46;
pub(super) const NSEC: u16 = 47;
pub(super) const DNSKEY: u16 = 48;
pub(super) const NSEC3: u16 = 50;
pub(super) const NS: u16 = 2;
pub(super) const SOA: u16 = 6;
pub(super) const CNAME: u16 = 5;

/// A record's type number.
pub(super) fn code(r: &Record) -> u16 {
    u16::from(r.record_type())
}

/// A record's data in canonical form: names in it uncompressed and, for the types RFC 4034
/// 6.2 names, in lower case (hickory's encoder in canonical form); types hickory does not
/// read are their bytes as they came.
pub(super) fn data(r: &Record) -> Option<Vec<u8>> {
    match &r.data {
        RData::Unknown { rdata, .. } => Some(rdata.anything.clone()),
        d => {
            let mut buf = Vec::new();
            let mut e = BinEncoder::new(&mut buf);
            e.set_canonical_form(true);
            d.emit(&mut e).ok()?;
            Some(buf)
        }
    }
}

/// A name's labels in wire form, in lower case, uncompressed.
pub(super) fn wire_name(name: &Name) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    for label in name {
        out.push(u8::try_from(label.len()).unwrap_or(63));
        out.extend(label.iter().map(u8::to_ascii_lowercase));
    }
    out.push(0);
    out
}

/// An uncompressed name in `d` at `at`, and where it ends.
fn name_at(d: &[u8], mut at: usize) -> Option<(Name, usize)> {
    let mut labels: Vec<Vec<u8>> = Vec::new();
    let mut total = 1;
    loop {
        let len = usize::from(*d.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        total += len + 1;
        if len > 63 || total > 255 {
            return None;
        }
        labels.push(d.get(at..at + len)?.to_ascii_lowercase());
        at += len;
    }
    let mut name = Name::from_labels(labels).ok()?;
    name.set_fqdn(true);
    Some((name, at))
}

/// An RRSIG's fields (RFC 4034 3.1).
#[derive(Debug, Clone)]
pub(super) struct Rrsig {
    pub covered: u16,
    pub algorithm: u8,
    pub labels: u8,
    pub original_ttl: u32,
    pub expiration: u32,
    pub inception: u32,
    pub key_tag: u16,
    pub signer: Name,
    pub signature: Vec<u8>,
    /// The data before the signature, the signer's name in lower case: what the signed bytes
    /// open with.
    pub head: Vec<u8>,
}

pub(super) fn rrsig(d: &[u8]) -> Option<Rrsig> {
    let fixed = d.get(..18)?;
    let (signer, end) = name_at(d, 18)?;
    let u32_at = |i: usize| u32::from_be_bytes([fixed[i], fixed[i + 1], fixed[i + 2], fixed[i + 3]]);
    let mut head = fixed.to_vec();
    head.extend(wire_name(&signer));
    Some(Rrsig {
        covered: u16::from_be_bytes([fixed[0], fixed[1]]),
        algorithm: fixed[2],
        labels: fixed[3],
        original_ttl: u32_at(4),
        expiration: u32_at(8),
        inception: u32_at(12),
        key_tag: u16::from_be_bytes([fixed[16], fixed[17]]),
        signer,
        signature: d.get(end..)?.to_vec(),
        head,
    })
}

/// A DNSKEY (RFC 4034 2.1), with its key tag (appendix B).
#[derive(Debug, Clone)]
pub(super) struct Dnskey {
    pub flags: u16,
    pub algorithm: u8,
    pub key: Vec<u8>,
    pub rdata: Vec<u8>,
    pub tag: u16,
}

impl Dnskey {
    /// A zone key (bit 7) that is not revoked (bit 8, RFC 5011).
    pub(super) fn usable(&self) -> bool {
        self.flags & 0x0100 != 0 && self.flags & 0x0080 == 0
    }
}

pub(super) fn dnskey(d: &[u8]) -> Option<Dnskey> {
    if d.len() < 5 {
        return None;
    }
    // Appendix B: the data's 16-bit words and bytes summed, the carry folded in once.
    let mut acc: u32 = 0;
    for (i, &b) in d.iter().enumerate() {
        acc += if i % 2 == 0 { u32::from(b) << 8 } else { u32::from(b) };
    }
    acc += (acc >> 16) & 0xffff;
    Some(Dnskey {
        flags: u16::from_be_bytes([d[0], d[1]]),
        algorithm: d[3],
        key: d[4..].to_vec(),
        rdata: d.to_vec(),
        tag: (acc & 0xffff) as u16,
    })
}

/// A DS record (RFC 4034 5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Ds {
    pub key_tag: u16,
    pub algorithm: u8,
    pub digest_type: u8,
    pub digest: Vec<u8>,
}

pub(super) fn ds(d: &[u8]) -> Option<Ds> {
    Some(Ds {
        key_tag: u16::from_be_bytes([*d.first()?, *d.get(1)?]),
        algorithm: *d.get(2)?,
        digest_type: *d.get(3)?,
        digest: d.get(4..)?.to_vec(),
    })
}

/// The types a type bitmap (RFC 4034 4.1.2) holds.
fn bitmap(mut d: &[u8]) -> Option<Vec<u16>> {
    let mut types = Vec::new();
    while !d.is_empty() {
        let window = u16::from(*d.first()?);
        let len = usize::from(*d.get(1)?);
        let bits = d.get(2..2 + len)?;
        for (i, &byte) in bits.iter().enumerate() {
            for bit in 0..8u16 {
                if byte & (0x80 >> bit) != 0 {
                    types.push(window * 256 + u16::try_from(i).ok()? * 8 + bit);
                }
            }
        }
        d = &d[2 + len..];
    }
    Some(types)
}

/// An NSEC record (RFC 4034 4.1): the next name, and the types of its owner.
#[derive(Debug, Clone)]
pub(super) struct Nsec {
    pub next: Name,
    pub types: Vec<u16>,
}

pub(super) fn nsec(d: &[u8]) -> Option<Nsec> {
    let (next, end) = name_at(d, 0)?;
    Some(Nsec { next, types: bitmap(d.get(end..)?)? })
}

/// An NSEC3 record (RFC 5155 3.2): how names are hashed, the next hash, the owner's types.
#[derive(Debug, Clone)]
pub(super) struct Nsec3 {
    pub hash: u8,
    pub opt_out: bool,
    pub iterations: u16,
    pub salt: Vec<u8>,
    pub next: Vec<u8>,
    pub types: Vec<u16>,
}

pub(super) fn nsec3(d: &[u8]) -> Option<Nsec3> {
    let salt_len = usize::from(*d.get(4)?);
    let salt = d.get(5..5 + salt_len)?.to_vec();
    let at = 5 + salt_len;
    let hash_len = usize::from(*d.get(at)?);
    let next = d.get(at + 1..at + 1 + hash_len)?.to_vec();
    Some(Nsec3 {
        hash: d[0],
        opt_out: d[1] & 1 != 0,
        iterations: u16::from_be_bytes([d[2], d[3]]),
        salt,
        next,
        types: bitmap(d.get(at + 1 + hash_len..)?)?,
    })
}

/// A record set: one owner and type, each record's data in canonical form (sorted, without
/// repeats, as RFC 4034 6.3 orders them for signing), the smallest TTL, and the signatures
/// over it that came beside it.
#[derive(Debug, Clone)]
pub(super) struct RrSet {
    pub name: Name,
    pub rtype: u16,
    pub data: Vec<Vec<u8>>,
    pub sigs: Vec<Rrsig>,
}

/// The set of `rtype` records owned by `name` in `section`, with their signatures there; none
/// when the section has no such record.
pub(super) fn set(section: &[Record], name: &Name, rtype: u16) -> Option<RrSet> {
    let name = name.to_lowercase();
    let mine = |r: &&Record| r.name.to_lowercase() == name;
    let mut all: Vec<Vec<u8>> = section.iter().filter(mine).filter(|r| code(r) == rtype).filter_map(data).collect();
    if all.is_empty() {
        return None;
    }
    all.sort();
    all.dedup();
    let sigs = section
        .iter()
        .filter(mine)
        .filter(|r| code(r) == RRSIG)
        .filter_map(data)
        .filter_map(|d| rrsig(&d))
        .filter(|s| s.covered == rtype)
        .collect();
    Some(RrSet { name, rtype, data: all, sigs })
}

/// The owners of `rtype` records in `section`, each once, in the order they came.
pub(super) fn owners(section: &[Record], rtype: u16) -> Vec<Name> {
    let mut out: Vec<Name> = Vec::new();
    for r in section.iter().filter(|r| code(r) == rtype) {
        let n = r.name.to_lowercase();
        if !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_tag_of_rfc_4034_appendix_c_key() {
        // The example.com key of RFC 4034 2.3 (its key id 2642).
        let key = sockit_core::text::base64_decode(
            "AQPSKmynfzW4kyBv015MUG2DeIQ3Cbl+BBZH4b/0PY1kxkmvHjcZc8nokfzj31GajIQKY+5CptLr3buXA10hWqTkF7H6RfoRqXQeogmMHfpftf6zMv1LyBUgia7za6ZEzOJBOztyvhjL742iU/TpPSEDhm2SNKLijfUppn1UaNvv4w==",
        )
        .expect("base64");
        let mut d = vec![0x01, 0x00, 3, 5];
        d.extend(key);
        assert_eq!(dnskey(&d).expect("key").tag, 2642);
    }

    #[test]
    fn bitmaps_and_names_read_from_bytes() {
        // RFC 4034 4.3's NSEC: host.example.com. A MX RRSIG NSEC TYPE1234.
        let mut d = b"\x04host\x07example\x03com\x00".to_vec();
        d.extend([0, 6, 0x40, 0x01, 0, 0, 0, 0x03, 4, 0x1b]);
        d.extend([0; 26]);
        d.push(0x20);
        let n = nsec(&d).expect("nsec");
        assert_eq!(n.next.to_string(), "host.example.com.");
        assert_eq!(n.types, [1, 15, 46, 47, 1234]);
        assert!(nsec(&d[..5]).is_none());
    }
}
