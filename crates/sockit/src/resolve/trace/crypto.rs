//! DNSSEC's arithmetic, done with ring: a DS record's digest of a key (RFC 4034 5.1.4), an
//! RRSIG's signature over a record set (RFC 4034 3.1.8.1 and 6, RFC 4035 5.3) for the
//! algorithms validators must know (RSA with SHA-1, SHA-256 and SHA-512, ECDSA P-256 and P-384,
//! Ed25519), and its validity period in serial-number arithmetic.

use hickory_proto::rr::Name;
use ring::{digest, signature};

use super::records::{Dnskey, Ds, RrSet, Rrsig, wire_name};

/// Why a signature does not make a record set secure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fault {
    /// No signature over the set at all.
    Unsigned,
    /// Signatures, but none by a key of the zone's trusted set (tag and algorithm).
    NoKey,
    Expired,
    NotYetValid,
    /// The signature does not verify with the key it names.
    Bad,
    /// An algorithm this validator does not implement.
    Unsupported,
}

impl Fault {
    pub(super) fn said(self) -> &'static str {
        match self {
            Fault::Unsigned => "no signature (RRSIG)",
            Fault::NoKey => "signed by no key of the zone's key set",
            Fault::Expired => "the signature has expired",
            Fault::NotYetValid => "the signature is not valid yet",
            Fault::Bad => "the signature does not verify",
            Fault::Unsupported => "signed with an algorithm sockit does not implement",
        }
    }

    /// Which of two faults says more about why a set is not secure.
    fn rank(self) -> u8 {
        match self {
            Fault::Unsigned => 0,
            Fault::NoKey => 1,
            Fault::Unsupported => 2,
            Fault::Bad => 3,
            Fault::NotYetValid => 4,
            Fault::Expired => 5,
        }
    }
}

/// An algorithm's mnemonic (RFC 8624's table).
pub(super) fn algorithm_name(algorithm: u8) -> String {
    match algorithm {
        5 => "RSASHA1".into(),
        7 => "RSASHA1-NSEC3-SHA1".into(),
        8 => "RSASHA256".into(),
        10 => "RSASHA512".into(),
        13 => "ECDSAP256SHA256".into(),
        14 => "ECDSAP384SHA384".into(),
        15 => "ED25519".into(),
        16 => "ED448".into(),
        n => format!("algorithm {n}"),
    }
}

/// Whether sockit verifies signatures of this algorithm.
pub(super) fn supported(algorithm: u8) -> bool {
    matches!(algorithm, 5 | 7 | 8 | 10 | 13 | 14 | 15)
}

/// Whether `key`, owned by `owner`, is the key `ds` names: tag, algorithm and digest.
/// `None` when the digest type is one sockit does not compute.
pub(super) fn ds_matches(ds: &Ds, owner: &Name, key: &Dnskey) -> Option<bool> {
    let alg = match ds.digest_type {
        1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        2 => &digest::SHA256,
        4 => &digest::SHA384,
        _ => return None,
    };
    if ds.key_tag != key.tag || ds.algorithm != key.algorithm {
        return Some(false);
    }
    let mut ctx = digest::Context::new(alg);
    ctx.update(&wire_name(owner));
    ctx.update(&key.rdata);
    Some(ctx.finish().as_ref() == ds.digest.as_slice())
}

/// The bytes an RRSIG signs over `set` (RFC 4034 3.1.8.1): its own data without the
/// signature, then each record in canonical order, its owner as the signature names it (a
/// wildcard's `*` where the owner has more labels), the original TTL.
fn signed_bytes(set: &RrSet, sig: &Rrsig) -> Vec<u8> {
    let mut out = sig.head.clone();
    let labels = usize::from(set.name.num_labels());
    let owner = if usize::from(sig.labels) < labels {
        let mut w = b"\x01*".to_vec();
        w.extend(wire_name(&set.name.trim_to(usize::from(sig.labels))));
        w
    } else {
        wire_name(&set.name)
    };
    for d in &set.data {
        out.extend(&owner);
        out.extend(set.rtype.to_be_bytes());
        out.extend(1u16.to_be_bytes());
        out.extend(sig.original_ttl.to_be_bytes());
        out.extend(u16::try_from(d.len()).unwrap_or(u16::MAX).to_be_bytes());
        out.extend(d);
    }
    out
}

/// Whether `sig` over `set` verifies with `key` at `now` (seconds since 1970, mod 2^32).
pub(super) fn verify(set: &RrSet, sig: &Rrsig, key: &Dnskey, now: u32) -> Result<(), Fault> {
    // RFC 4034 3.1.5: serial number arithmetic (RFC 1982), so the times wrap in 2106.
    let before = |a: u32, b: u32| b.wrapping_sub(a).cast_signed() > 0;
    if before(sig.expiration, now) {
        return Err(Fault::Expired);
    }
    if before(now, sig.inception) {
        return Err(Fault::NotYetValid);
    }
    let msg = signed_bytes(set, sig);
    let ok = match key.algorithm {
        5 | 7 => rsa(&signature::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY, key, &msg, &sig.signature),
        8 => rsa(&signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY, key, &msg, &sig.signature),
        10 => rsa(&signature::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY, key, &msg, &sig.signature),
        13 => ecdsa(&signature::ECDSA_P256_SHA256_FIXED, key, &msg, &sig.signature),
        14 => ecdsa(&signature::ECDSA_P384_SHA384_FIXED, key, &msg, &sig.signature),
        15 => signature::UnparsedPublicKey::new(&signature::ED25519, &key.key).verify(&msg, &sig.signature).is_ok(),
        _ => return Err(Fault::Unsupported),
    };
    if ok { Ok(()) } else { Err(Fault::Bad) }
}

/// RSA (RFC 3110): the exponent's length in one byte (or, after a zero, two), the exponent,
/// the modulus.
fn rsa(params: &'static signature::RsaParameters, key: &Dnskey, msg: &[u8], sig: &[u8]) -> bool {
    let k = &key.key;
    let (len, at) = match k.first() {
        Some(0) if k.len() > 3 => (usize::from(u16::from_be_bytes([k[1], k[2]])), 3),
        Some(&n) => (usize::from(n), 1),
        None => return false,
    };
    let (Some(e), Some(n)) = (k.get(at..at + len), k.get(at + len..)) else { return false };
    signature::RsaPublicKeyComponents { n, e }.verify(params, msg, sig).is_ok()
}

/// ECDSA (RFC 6605): the key is the point's two coordinates, ring wants them after a 4.
fn ecdsa(alg: &'static signature::EcdsaVerificationAlgorithm, key: &Dnskey, msg: &[u8], sig: &[u8]) -> bool {
    let mut point = vec![4];
    point.extend(&key.key);
    signature::UnparsedPublicKey::new(alg, point).verify(msg, sig).is_ok()
}

/// A set made secure by `keys` (the zone's trusted keys, `zone` their owner): the tag of the
/// key whose signature verifies, or the fault that says most about why none does.
pub(super) fn verify_set(set: &RrSet, keys: &[Dnskey], zone: &Name, now: u32) -> Result<u16, Fault> {
    let mut worst: Option<Fault> = None;
    let mut note = |f: Fault| {
        if worst.is_none_or(|w| f.rank() > w.rank()) {
            worst = Some(f);
        }
    };
    if set.sigs.is_empty() {
        return Err(Fault::Unsigned);
    }
    for sig in &set.sigs {
        // A signature's signer is the zone; its labels no more than the owner's.
        if sig.signer != zone.to_lowercase() || sig.labels > set.name.num_labels() {
            note(Fault::NoKey);
            continue;
        }
        let named = keys.iter().filter(|k| k.tag == sig.key_tag && k.algorithm == sig.algorithm && k.usable());
        let mut any = false;
        for key in named {
            any = true;
            match verify(set, sig, key, now) {
                Ok(()) => return Ok(key.tag),
                Err(f) => note(f),
            }
        }
        if !any {
            note(if supported(sig.algorithm) { Fault::NoKey } else { Fault::Unsupported });
        }
    }
    Err(worst.unwrap_or(Fault::Unsigned))
}

/// NSEC3's hash of a name (RFC 5155 5): SHA-1 over the name and salt, again `iterations`
/// times over the hash and salt.
pub(super) fn nsec3_hash(name: &Name, salt: &[u8], iterations: u16) -> Vec<u8> {
    let round = |data: &[u8]| {
        let mut ctx = digest::Context::new(&digest::SHA1_FOR_LEGACY_USE_ONLY);
        ctx.update(data);
        ctx.update(salt);
        ctx.finish().as_ref().to_vec()
    };
    let mut h = round(&wire_name(name));
    for _ in 0..iterations {
        h = round(&h);
    }
    h
}

/// Base32 with the extended hex alphabet (RFC 4648 7), lower case, no padding: how NSEC3
/// owners spell a hash (their labels, which DNS compares without case).
pub(super) fn base32hex(bytes: &[u8]) -> String {
    crate::resolve::dnssec_text::base32hex(bytes).to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nsec3_hash_of_rfc_5155_appendix_a() {
        // RFC 5155 appendix A: salt aabbccdd, 12 iterations; example's hash is 0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.
        let name = Name::from_ascii("example.").expect("name");
        let h = nsec3_hash(&name, &[0xaa, 0xbb, 0xcc, 0xdd], 12);
        assert_eq!(base32hex(&h), "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom");
        let a = Name::from_ascii("a.example.").expect("name");
        assert_eq!(base32hex(&nsec3_hash(&a, &[0xaa, 0xbb, 0xcc, 0xdd], 12)), "35mthgpgcu1qg68fab165klnsnk3dpvl");
    }

    #[test]
    fn serial_arithmetic_wraps() {
        let set = RrSet { name: Name::root(), rtype: 1, data: vec![vec![127, 0, 0, 1]], sigs: Vec::new() };
        let key = Dnskey { flags: 257, algorithm: 13, key: vec![0; 64], rdata: Vec::new(), tag: 1 };
        let mut sig = Rrsig {
            covered: 1,
            algorithm: 13,
            labels: 0,
            original_ttl: 0,
            expiration: 10,
            inception: u32::MAX - 10,
            key_tag: 1,
            signer: Name::root(),
            signature: vec![0; 64],
            head: Vec::new(),
        };
        // Valid across the wrap: only the signature itself is wrong.
        assert_eq!(verify(&set, &sig, &key, 2), Err(Fault::Bad));
        assert_eq!(verify(&set, &sig, &key, 20), Err(Fault::Expired));
        sig.inception = 5;
        assert_eq!(verify(&set, &sig, &key, 2), Err(Fault::NotYetValid));
    }
}
