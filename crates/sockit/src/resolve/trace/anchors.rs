//! Where a trace starts and what it trusts: root hints (the root servers' names and
//! addresses, as a `named.root` file writes them) and trust anchors (DS or DNSKEY records, as
//! unbound's trust-anchor-file and `ldns-keygen`'s .ds files write them), read from text or
//! IANA's own.

use std::net::IpAddr;

use hickory_proto::rr::Name;

use super::records::{Dnskey, Ds, dnskey, ds};

/// A server to start from: its name and one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    pub name: String,
    pub address: IpAddr,
}

/// A key trusted without proof: a DS record or a DNSKEY of a zone.
#[derive(Debug, Clone)]
pub struct Anchor {
    pub(super) owner: Name,
    pub(super) kind: AnchorKind,
}

#[derive(Debug, Clone)]
pub(super) enum AnchorKind {
    Ds(Ds),
    Key(Dnskey),
}

impl Anchor {
    /// The zone the anchor is for.
    pub fn zone(&self) -> String {
        self.owner.to_string()
    }
}

/// A zone file's records as (owner, type, data words): comments cut at `;`, records spread
/// over lines by parentheses joined, the TTL and class left out.
fn records(text: &str) -> Vec<(String, String, Vec<String>)> {
    let mut joined = Vec::new();
    let mut open = String::new();
    let mut depth = 0usize;
    for line in text.lines() {
        let line = line.split(';').next().unwrap_or("");
        depth += line.matches('(').count();
        depth = depth.saturating_sub(line.matches(')').count());
        open.push(' ');
        open.push_str(&line.replace(['(', ')'], " "));
        if depth == 0 {
            joined.push(std::mem::take(&mut open));
        }
    }
    joined.push(open);
    joined
        .iter()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let owner = words.next()?.to_string();
            let mut rest: Vec<&str> = words.collect();
            while rest.first().is_some_and(|w| w.bytes().all(|b| b.is_ascii_digit()) || w.eq_ignore_ascii_case("IN")) {
                rest.remove(0);
            }
            let (rtype, data) = rest.split_first()?;
            Some((owner, rtype.to_ascii_uppercase(), data.iter().map(|w| (*w).to_string()).collect()))
        })
        .collect()
}

/// Root hints from a `named.root`-style file: every A and AAAA record's owner and address.
pub fn root_hints(text: &str) -> Result<Vec<Hint>, String> {
    let mut hints = Vec::new();
    for (owner, rtype, data) in records(text) {
        if rtype == "A" || rtype == "AAAA" {
            let word = data.first().map_or("", String::as_str);
            let address = word.parse().map_err(|_| format!("'{word}' for {owner} is not an address"))?;
            hints.push(Hint { name: owner, address });
        }
    }
    if hints.is_empty() {
        return Err("no A or AAAA record of a root server in it".into());
    }
    // IPv4 first: a host without IPv6 loses no time on the addresses it cannot reach.
    hints.sort_by_key(|h| h.address.is_ipv6());
    Ok(hints)
}

fn hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// Trust anchors from zone-file DS and DNSKEY records.
pub fn trust_anchors(text: &str) -> Result<Vec<Anchor>, String> {
    let mut anchors = Vec::new();
    for (owner, rtype, data) in records(text) {
        let bad = || format!("the {rtype} record of {owner} is malformed");
        let mut name = Name::from_ascii(&owner).map_err(|_| format!("'{owner}' is not a name"))?;
        name.set_fqdn(true);
        let num = |i: usize| data.get(i).and_then(|w| w.parse::<u16>().ok());
        let kind = match rtype.as_str() {
            "DS" => {
                let (Some(tag), Some(alg), Some(dt)) = (num(0), num(1), num(2)) else { return Err(bad()) };
                let digest = hex(&data[3..].concat()).filter(|d| !d.is_empty()).ok_or_else(bad)?;
                let mut wire = tag.to_be_bytes().to_vec();
                wire.extend([u8::try_from(alg).map_err(|_| bad())?, u8::try_from(dt).map_err(|_| bad())?]);
                wire.extend(digest);
                AnchorKind::Ds(ds(&wire).ok_or_else(bad)?)
            }
            "DNSKEY" => {
                let (Some(flags), Some(proto), Some(alg)) = (num(0), num(1), num(2)) else { return Err(bad()) };
                let key = sockit_core::text::base64_decode(&data[3..].concat()).ok_or_else(bad)?;
                let mut wire = flags.to_be_bytes().to_vec();
                wire.extend([u8::try_from(proto).map_err(|_| bad())?, u8::try_from(alg).map_err(|_| bad())?]);
                wire.extend(key);
                AnchorKind::Key(dnskey(&wire).ok_or_else(bad)?)
            }
            _ => continue,
        };
        anchors.push(Anchor { owner: name.to_lowercase(), kind });
    }
    if anchors.is_empty() {
        return Err("no DS or DNSKEY record in it".into());
    }
    Ok(anchors)
}

/// The root servers (IANA's root hints).
pub fn iana_root_hints() -> Vec<Hint> {
    const ROOTS: &str = "a 198.41.0.4 2001:503:ba3e::2:30\nb 170.247.170.2 2801:1b8:10::b\n\
        c 192.33.4.12 2001:500:2::c\nd 199.7.91.13 2001:500:2d::d\ne 192.203.230.10 2001:500:a8::e\n\
        f 192.5.5.241 2001:500:2f::f\ng 192.112.36.4 2001:500:12::d0d\nh 198.97.190.53 2001:500:1::53\n\
        i 192.36.148.17 2001:7fe::53\nj 192.58.128.30 2001:503:c27::2:30\nk 193.0.14.129 2001:7fd::1\n\
        l 199.7.83.42 2001:500:9f::42\nm 202.12.27.33 2001:dc3::35\n";
    let text: String = ROOTS
        .lines()
        .flat_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            [
                format!("{0}.root-servers.net. A {1}\n", w[0], w[1]),
                format!("{0}.root-servers.net. AAAA {1}\n", w[0], w[2]),
            ]
        })
        .collect();
    root_hints(&text).unwrap_or_default()
}

/// The root zone's key-signing keys as IANA publishes their DS records (KSK-2017, KSK-2024).
pub fn iana_trust_anchors() -> Vec<Anchor> {
    trust_anchors(
        ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n\
         . IN DS 38696 8 2 683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16\n",
    )
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_and_anchors_read_as_zone_files_write_them() {
        let hints = root_hints(
            ";  a comment\n.  3600000  NS  a.root.test.\na.root.test. 3600000 IN AAAA fd00::1\na.root.test. 3600000 A 198.18.0.1\n",
        )
        .expect("hints");
        assert_eq!(hints.len(), 2);
        assert_eq!(hints[0], Hint { name: "a.root.test.".into(), address: "198.18.0.1".parse().expect("ip") });
        let anchors = trust_anchors(
            ".\t3600\tIN\tDNSKEY\t257 3 13 ( mdsswUyr3DPW132mOi8V9xESWE8jTo0d\n xbjjmGqSE0I3aTdnG2ANAgGfV6L0fIyk7ZPT52aQ5BIyJKOdowBdEA== ) ; KSK\n",
        )
        .expect("anchors");
        let AnchorKind::Key(k) = &anchors[0].kind else { panic!("a key") };
        assert_eq!((k.flags, k.algorithm, k.key.len()), (257, 13, 64));
        assert_eq!(iana_trust_anchors().len(), 2);
        assert_eq!(iana_root_hints().len(), 26);
        assert!(trust_anchors(". DS 1 2").is_err() && root_hints("x A nope").is_err());
    }
}
