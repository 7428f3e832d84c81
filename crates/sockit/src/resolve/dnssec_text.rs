//! DNSSEC's record data in presentation form, as dig writes it (RFC 4034, RFC 5155): RRSIG,
//! DNSKEY, DS, NSEC, NSEC3 and NSEC3PARAM (and CDS, CDNSKEY), read from their bytes. Base64
//! and hex are written whole, where dig breaks them with spaces.

use hickory_proto::rr::RecordType;

/// How a type is named (`types::type_name`, handed in: that module reads data through this one).
pub(super) type Namer = fn(RecordType) -> String;

/// `data` of type `code` in presentation form, or `None` when it is not a DNSSEC type or is
/// malformed (then shown as RFC 3597's bytes).
pub(super) fn present(code: u16, data: &[u8], type_name: Namer) -> Option<String> {
    match code {
        46 => rrsig(data, type_name),
        48 | 60 => dnskey(data),
        43 | 59 => ds(data),
        47 => nsec(data, type_name),
        50 => nsec3(data, type_name),
        51 => nsec3param(data).map(|(s, _)| s),
        _ => None,
    }
}

fn u16_at(d: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*d.get(i)?, *d.get(i + 1)?]))
}

fn u32_at(d: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_be_bytes([*d.get(i)?, *d.get(i + 1)?, *d.get(i + 2)?, *d.get(i + 3)?]))
}

/// An uncompressed name at `at` (as these records carry them), and where it ends.
fn name_at(d: &[u8], mut at: usize) -> Option<(String, usize)> {
    let mut out = String::new();
    loop {
        let len = usize::from(*d.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        // A pointer (compression) has no place here; nor a name past 255 bytes.
        if len > 63 || out.len() > 1024 {
            return None;
        }
        for &b in d.get(at..at + len)? {
            match b {
                b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => {
                    out.push('\\');
                    out.push(char::from(b));
                }
                0x21..=0x7e => out.push(char::from(b)),
                _ => out.push_str(&format!("\\{b:03}")),
            }
        }
        out.push('.');
        at += len;
    }
    if out.is_empty() {
        out.push('.');
    }
    Some((out, at))
}

/// A type bitmap (RFC 4034 4.1.2): the types it names, by name.
fn type_bitmap(mut d: &[u8], type_name: Namer) -> Option<Vec<String>> {
    let mut types = Vec::new();
    while !d.is_empty() {
        let window = u16::from(*d.first()?);
        let len = usize::from(*d.get(1)?);
        if !(1..=32).contains(&len) {
            return None;
        }
        let bits = d.get(2..2 + len)?;
        for (i, &byte) in bits.iter().enumerate() {
            for bit in 0..8u16 {
                if byte & (0x80 >> bit) != 0 {
                    let t = window * 256 + u16::try_from(i).ok()? * 8 + bit;
                    types.push(type_name(RecordType::from(t)));
                }
            }
        }
        d = &d[2 + len..];
    }
    Some(types)
}

fn with_types(head: String, bitmap: &[u8], type_name: Namer) -> Option<String> {
    let types = type_bitmap(bitmap, type_name)?;
    Some(if types.is_empty() { head } else { format!("{head} {}", types.join(" ")) })
}

fn hex_upper(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02X}")).collect()
}

/// Seconds since 1970 as `YYYYMMDDHHmmSS` (UTC), as RRSIG's times are written.
fn timestamp(t: u32) -> String {
    let (year, month, day) = sockit_core::date::civil(i64::from(t / 86_400));
    let secs = t % 86_400;
    format!("{year:04}{month:02}{day:02}{:02}{:02}{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

fn rrsig(d: &[u8], type_name: Namer) -> Option<String> {
    let covered = type_name(RecordType::from(u16_at(d, 0)?));
    let (alg, labels) = (*d.get(2)?, *d.get(3)?);
    let (ttl, expires, incepted, tag) = (u32_at(d, 4)?, u32_at(d, 8)?, u32_at(d, 12)?, u16_at(d, 16)?);
    let (signer, end) = name_at(d, 18)?;
    let sig = sockit_core::text::base64(&d[end..]);
    Some(format!("{covered} {alg} {labels} {ttl} {} {} {tag} {signer} {sig}", timestamp(expires), timestamp(incepted)))
}

fn dnskey(d: &[u8]) -> Option<String> {
    let (flags, protocol, alg) = (u16_at(d, 0)?, *d.get(2)?, *d.get(3)?);
    Some(format!("{flags} {protocol} {alg} {}", sockit_core::text::base64(&d[4..])))
}

fn ds(d: &[u8]) -> Option<String> {
    let (tag, alg, digest) = (u16_at(d, 0)?, *d.get(2)?, *d.get(3)?);
    Some(format!("{tag} {alg} {digest} {}", hex_upper(&d[4..])))
}

fn nsec(d: &[u8], type_name: Namer) -> Option<String> {
    let (next, end) = name_at(d, 0)?;
    with_types(next, &d[end..], type_name)
}

/// NSEC3PARAM's fields (NSEC3 begins with the same), and where they end.
fn nsec3param(d: &[u8]) -> Option<(String, usize)> {
    let (alg, flags, iterations) = (*d.first()?, *d.get(1)?, u16_at(d, 2)?);
    let salt_len = usize::from(*d.get(4)?);
    let salt = d.get(5..5 + salt_len)?;
    let salt = if salt.is_empty() { "-".to_string() } else { hex_upper(salt) };
    Some((format!("{alg} {flags} {iterations} {salt}"), 5 + salt_len))
}

fn nsec3(d: &[u8], type_name: Namer) -> Option<String> {
    let (head, at) = nsec3param(d)?;
    let len = usize::from(*d.get(at)?);
    let next = d.get(at + 1..at + 1 + len)?;
    with_types(format!("{head} {}", base32hex(next)), &d[at + 1 + len..], type_name)
}

/// RFC 4648's base32hex, upper case and unpadded, as NSEC3 writes hashed names.
pub(super) fn base32hex(d: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHIJKLMNOPQRSTUV";
    let mut out = String::with_capacity(d.len().div_ceil(5) * 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in d {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((acc >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((acc << (5 - bits)) & 31) as usize]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn present(code: u16, data: &[u8]) -> Option<String> {
        super::present(code, data, super::super::types::type_name)
    }

    #[test]
    fn times_are_utc_civil_dates() {
        assert_eq!(timestamp(0), "19700101000000");
        assert_eq!(timestamp(951_782_400), "20000229000000");
        assert_eq!(timestamp(1_798_868_740), "20270102054540");
        assert_eq!(timestamp(u32::MAX), "21060207062815");
    }

    #[test]
    fn records_read_as_dig_writes_them() {
        // RRSIG over A, ECDSA P-256, 3 labels, signed by edns.test.
        let mut r = vec![0, 1, 13, 3, 0, 0, 0x0e, 0x10];
        r.extend(1_798_868_740u32.to_be_bytes());
        r.extend(1_796_276_740u32.to_be_bytes());
        r.extend(18168u16.to_be_bytes());
        r.extend(b"\x04edns\x04test\x00");
        r.extend([0xfb, 0xff]);
        assert_eq!(present(46, &r).as_deref(), Some("A 13 3 3600 20270102054540 20261203054540 18168 edns.test. +/8="));
        assert_eq!(present(48, b"\x01\x01\x03\x0d\xff").as_deref(), Some("257 3 13 /w=="));
        assert_eq!(present(43, b"\xe6\x74\x0d\x02\x28\xdf").as_deref(), Some("58996 13 2 28DF"));
        // NSEC to host1.edns.test. with A (1), RRSIG (46), NSEC (47).
        let mut n = b"\x05host1\x04edns\x04test\x00".to_vec();
        n.extend([0, 6, 0x40, 0, 0, 0, 0, 3]);
        assert_eq!(present(47, &n).as_deref(), Some("host1.edns.test. A RRSIG NSEC"));
        // NSEC3: SHA-1, opt-out, 10 iterations, salt AABB, a hash of 20 bytes of zeros, A only.
        let mut h = vec![1, 1, 0, 10, 2, 0xaa, 0xbb, 20];
        h.extend([0u8; 20]);
        h.extend([0, 1, 0x40]);
        assert_eq!(present(50, &h).as_deref(), Some("1 1 10 AABB 00000000000000000000000000000000 A"));
        assert_eq!(present(51, b"\x01\x00\x00\x00\x00").as_deref(), Some("1 0 0 -"));
        assert_eq!(base32hex(b"\xff"), "VS");
    }

    #[test]
    fn any_bytes_are_read_or_refused_never_a_panic() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let len = usize::try_from(next() % 64).expect("small");
            let data: Vec<u8> = (0..len).map(|_| next().to_le_bytes()[0]).collect();
            for code in [43, 46, 47, 48, 50, 51] {
                if let Some(text) = present(code, &data) {
                    assert!(!text.chars().any(char::is_control), "{text:?}");
                }
            }
        }
    }

    #[test]
    fn malformed_data_is_none() {
        assert_eq!(present(46, b"\x00\x01\x0d"), None);
        // A compression pointer in the signer's name.
        let mut r = vec![0u8; 18];
        r.extend([0xc0, 0x0c]);
        assert_eq!(present(46, &r), None);
        // A bitmap window longer than 32 bytes.
        assert_eq!(present(47, b"\x00\x00\x21"), None);
        assert_eq!(present(50, b"\x01\x00\x00\x0a\x05\xaa"), None);
        assert_eq!(present(1, b"\x7f\x00\x00\x01"), None, "not a DNSSEC type");
    }
}
