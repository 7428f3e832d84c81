//! Authenticated denial (RFC 4035 5.4, RFC 5155 8): the signed NSEC or NSEC3 records that
//! prove a delegation has no DS (so the child is unsigned), a name does not exist, or a name
//! has no records of a type.

use hickory_proto::rr::{Name, Record};

use super::crypto::{base32hex, nsec3_hash, verify_set};
use super::records::{CNAME, DS, Dnskey, NS, NSEC, NSEC3, Nsec3, SOA, nsec, nsec3, owners, set};

/// The zone whose records prove, its trusted keys and the time.
pub(super) struct Signed<'a> {
    pub zone: &'a Name,
    pub keys: &'a [Dnskey],
    pub now: u32,
}

/// A verified NSEC: its owner, next name and types.
struct Nsec {
    owner: Name,
    next: Name,
    types: Vec<u16>,
}

/// A verified NSEC3: its owner's hash, and its data.
struct Hashed {
    hash: Vec<u8>,
    data: Nsec3,
}

/// The NSEC records of `section` whose signatures verify.
fn nsecs(section: &[Record], by: &Signed) -> Vec<Nsec> {
    owners(section, NSEC)
        .into_iter()
        .filter_map(|owner| {
            let s = set(section, &owner, NSEC)?;
            verify_set(&s, by.keys, by.zone, by.now).ok()?;
            let n = nsec(s.data.first()?)?;
            Some(Nsec { owner, next: n.next, types: n.types })
        })
        .collect()
}

/// The NSEC3 records of `section` whose signatures verify, owned by a hash under the zone.
fn nsec3s(section: &[Record], by: &Signed) -> Vec<Hashed> {
    owners(section, NSEC3)
        .into_iter()
        .filter_map(|owner| {
            if owner.base_name() != by.zone.to_lowercase() {
                return None;
            }
            let s = set(section, &owner, NSEC3)?;
            verify_set(&s, by.keys, by.zone, by.now).ok()?;
            let data = nsec3(s.data.first()?)?;
            let label = String::from_utf8_lossy(owner.iter().next()?).to_ascii_lowercase();
            let hash = decode_base32hex(&label)?;
            Some(Hashed { hash, data })
        })
        .collect()
}

fn decode_base32hex(s: &str) -> Option<Vec<u8>> {
    let (mut acc, mut bits, mut out) = (0u32, 0u32, Vec::new());
    for c in s.bytes() {
        let v = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'v' => c - b'a' + 10,
            _ => return None,
        };
        acc = (acc << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// Whether `n` lies between an NSEC's owner and next name (the last NSEC's next is the apex).
fn covers(owner: &Name, next: &Name, n: &Name) -> bool {
    if owner < next { owner < n && n < next } else { owner < n || n < next }
}

/// Whether `h` lies between an NSEC3's owner hash and next hash (wrapping at the end).
fn covers_hash(owner: &[u8], next: &[u8], h: &[u8]) -> bool {
    if owner < next { owner < h && h < next } else { owner < h || h < next }
}

/// The NSEC3 that matches `name`'s hash, among those that use the zone's parameters.
fn matching<'a>(all: &'a [Hashed], name: &Name) -> Option<&'a Hashed> {
    all.iter().find(|h| h.data.hash == 1 && nsec3_hash(name, &h.data.salt, h.data.iterations) == h.hash)
}

fn covering<'a>(all: &'a [Hashed], name: &Name) -> Option<&'a Hashed> {
    all.iter().find(|h| {
        h.data.hash == 1 && covers_hash(&h.hash, &h.data.next, &nsec3_hash(name, &h.data.salt, h.data.iterations))
    })
}

/// That `child`, delegated by the zone, has no DS: an NSEC at `child` whose types have NS but
/// neither DS nor SOA; or an NSEC3 that matches it so; or one with opt-out that covers it
/// (RFC 5155 6), beside one matching its closest encloser. How it was proved, or why not.
pub(super) fn no_ds(section: &[Record], child: &Name, by: &Signed) -> Result<String, String> {
    let no_ds = |types: &[u16]| types.contains(&NS) && !types.contains(&DS) && !types.contains(&SOA);
    if let Some(n) = nsecs(section, by).into_iter().find(|n| n.owner == child.to_lowercase()) {
        return if no_ds(&n.types) {
            Ok(format!("NSEC at {child} says it has no DS"))
        } else {
            Err(format!("the NSEC at {child} lists a DS record, which the referral did not bring"))
        };
    }
    let hashed = nsec3s(section, by);
    if let Some(h) = matching(&hashed, child) {
        return if no_ds(&h.data.types) {
            Ok(format!("NSEC3 {} says {child} has no DS", base32hex(&h.hash)))
        } else {
            Err(format!("the NSEC3 of {child} does not prove it unsigned"))
        };
    }
    if let Some((encloser, next_closer)) = closest_encloser(&hashed, child)
        && let Some(c) = covering(&hashed, &next_closer)
        && c.data.opt_out
    {
        return Ok(format!("NSEC3 opt-out covers {next_closer} under {encloser}: an unsigned delegation"));
    }
    Err(format!("no signed NSEC or NSEC3 record proves that {child} has no DS"))
}

/// RFC 5155 7.2.1: the deepest ancestor of `name` an NSEC3 matches, and the name one label
/// longer toward `name` (the next closer).
fn closest_encloser(hashed: &[Hashed], name: &Name) -> Option<(Name, Name)> {
    let labels = name.num_labels();
    (0..labels).rev().find_map(|n| {
        let ancestor = name.trim_to(usize::from(n));
        matching(hashed, &ancestor)?;
        Some((ancestor, name.trim_to(usize::from(n) + 1)))
    })
}

fn wildcard_of(encloser: &Name) -> Option<Name> {
    encloser.prepend_label("*").ok()
}

/// That `qname` does not exist in the zone: a name between it and its neighbours and no
/// wildcard that could have answered (NSEC), or the closest encloser proof (NSEC3).
pub(super) fn no_name(section: &[Record], qname: &Name, by: &Signed) -> Result<String, String> {
    let q = qname.to_lowercase();
    let all = nsecs(section, by);
    if let Some(n) = all.iter().find(|n| covers(&n.owner, &n.next, &q)) {
        // The closest encloser: the longer of the names qname shares with the NSEC's ends.
        let common = |other: &Name| {
            (0..=q.num_labels()).rev().map(|i| q.trim_to(usize::from(i))).find(|a| a.zone_of(other)).unwrap_or_default()
        };
        let (a, b) = (common(&n.owner), common(&n.next));
        let encloser = if a.num_labels() >= b.num_labels() { a } else { b };
        let wild = wildcard_of(&encloser).ok_or("no wildcard name")?;
        return if all.iter().any(|w| covers(&w.owner, &w.next, &wild)) {
            Ok(format!("NSEC {} -> {} covers it, and {wild}", n.owner, n.next))
        } else {
            Err(format!("no NSEC proves that {wild} does not exist"))
        };
    }
    let hashed = nsec3s(section, by);
    if !hashed.is_empty() {
        let (encloser, next_closer) =
            closest_encloser(&hashed, &q).ok_or_else(|| format!("no NSEC3 matches an ancestor of {q}"))?;
        covering(&hashed, &next_closer).ok_or_else(|| format!("no NSEC3 covers {next_closer}"))?;
        let wild = wildcard_of(&encloser).ok_or("no wildcard name")?;
        covering(&hashed, &wild).ok_or_else(|| format!("no NSEC3 covers {wild}"))?;
        return Ok(format!("NSEC3 closest encloser {encloser}, {next_closer} and {wild} covered"));
    }
    Err(format!("no signed NSEC or NSEC3 record proves that {q} does not exist"))
}

/// That `qname` exists without records of `qtype`: an NSEC or NSEC3 at it whose types have
/// neither that type nor CNAME.
pub(super) fn no_data(section: &[Record], qname: &Name, qtype: u16, by: &Signed) -> Result<String, String> {
    let q = qname.to_lowercase();
    let lacks = |types: &[u16]| !types.contains(&qtype) && !types.contains(&CNAME);
    if let Some(n) = nsecs(section, by).into_iter().find(|n| n.owner == q) {
        return if lacks(&n.types) {
            Ok(format!("NSEC at {q} lists no such type"))
        } else {
            Err(format!("the NSEC at {q} lists the type asked for"))
        };
    }
    let hashed = nsec3s(section, by);
    if let Some(h) = matching(&hashed, &q) {
        return if lacks(&h.data.types) {
            Ok(format!("NSEC3 {} lists no such type", base32hex(&h.hash)))
        } else {
            Err(format!("the NSEC3 of {q} lists the type asked for"))
        };
    }
    Err(format!("no signed NSEC or NSEC3 record proves that {q} has no records of the type"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::from_ascii(s).expect("name")
    }

    #[test]
    fn covering_in_canonical_order_and_at_the_wrap() {
        assert!(covers(&n("a.example."), &n("d.example."), &n("b.example.")));
        assert!(covers(&n("a.example."), &n("d.example."), &n("z.b.example.")));
        assert!(!covers(&n("a.example."), &n("d.example."), &n("d.example.")));
        // The last NSEC points back to the apex.
        assert!(covers(&n("z.example."), &n("example."), &n("zz.example.")));
        assert!(!covers(&n("z.example."), &n("example."), &n("b.example.")));
        assert!(covers_hash(&[9], &[1], &[0]) && covers_hash(&[1], &[9], &[5]) && !covers_hash(&[1], &[9], &[9]));
    }

    #[test]
    fn base32hex_both_ways() {
        let h = [0x05u8, 0x93, 0x6b, 0x3f, 0x01];
        assert_eq!(decode_base32hex(&base32hex(&h)).as_deref(), Some(&h[..]));
        assert_eq!(decode_base32hex("xyz"), None);
    }
}
