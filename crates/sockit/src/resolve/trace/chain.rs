//! The chain of trust down a trace (RFC 4035 5): from a trust anchor to the root's keys, the
//! DS records at every cut to the child's keys (or the proof that there are none), and the
//! answer's signatures (or the proof of its absence) under the last zone's keys, each link's
//! verdict said, and the whole one's.

use hickory_proto::rr::{Name, Record};
use serde::Serialize;

use super::anchors::{Anchor, AnchorKind};
use super::crypto::{Fault, algorithm_name, ds_matches, supported, verify_set};
use super::denial::{Signed, no_data, no_ds, no_name};
use super::records::{DNSKEY, DS, Dnskey, RRSIG, code, dnskey, ds, set};

/// DNSSEC's four verdicts (RFC 4033 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Signed, and every link from the anchor verified.
    Secure,
    /// Proved unsigned: a parent said, signed, that the zone has no DS.
    Insecure,
    /// Should have been signed and is not, or a signature or digest is wrong.
    Bogus,
    /// No trust anchor over it, or the trace did not get far enough to say.
    Indeterminate,
}

/// One link of the chain: a zone, or the answer at the end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    pub name: String,
    pub verdict: Verdict,
    pub said: String,
}

/// The chain, and its verdict: its weakest link's, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Chain {
    pub verdict: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub links: Vec<Link>,
}

/// A zone the trace passed through: its name, the parent's referral to it (DS, NSEC and
/// their signatures) and its own DNSKEY records with their signatures.
pub(super) struct Cut<'a> {
    pub name: &'a Name,
    pub via: &'a [Record],
    pub keys: &'a [Record],
}

/// How the trace ended, with the records that say it.
pub(super) enum End<'a> {
    Answer { name: &'a Name, records: &'a [Record] },
    NoName { name: &'a Name, authority: &'a [Record] },
    NoData { name: &'a Name, qtype: u16, authority: &'a [Record] },
    Failed,
}

/// The zone's key set verified by `trusted` (keys that a DS or an anchor names): the zone's
/// usable keys, or why not.
fn key_set(cut: &Cut, trusted: &[Dnskey], now: u32) -> Result<(Vec<Dnskey>, u16), String> {
    let set = set(cut.keys, cut.name, DNSKEY).ok_or("no DNSKEY records")?;
    let tag = verify_set(&set, trusted, cut.name, now).map_err(|f| {
        let tags: Vec<String> = trusted.iter().map(|k| k.tag.to_string()).collect();
        format!("the DNSKEY set is not signed by key {}: {}", tags.join(" or "), f.said())
    })?;
    Ok((set.data.iter().filter_map(|d| dnskey(d)).filter(Dnskey::usable).collect(), tag))
}

/// The keys of `cut`'s DNSKEY set that any of `ds` names; `None` when no DS is of an algorithm
/// and digest sockit can check (the zone is then treated as unsigned, RFC 4035 5.2).
fn named_by(cut: &Cut, ds: &[super::records::Ds]) -> Option<Vec<Dnskey>> {
    let usable: Vec<_> = ds.iter().filter(|d| supported(d.algorithm) && matches!(d.digest_type, 1 | 2 | 4)).collect();
    if usable.is_empty() {
        return None;
    }
    let keys: Vec<Dnskey> =
        cut.keys.iter().filter(|r| code(r) == DNSKEY).filter_map(|r| dnskey(&super::records::data(r)?)).collect();
    Some(keys.into_iter().filter(|k| usable.iter().any(|d| ds_matches(d, cut.name, k) == Some(true))).collect())
}

/// Validate the trace: `cuts` from the root down, how it ended, the anchors, the time.
pub(super) fn validate(cuts: &[Cut], end: &End, anchors: &[Anchor], now: u32) -> Chain {
    let mut links = Vec::new();
    // The zone keys trusted so far (secure), none (insecure), or no anchor yet.
    let mut state: Option<Result<Vec<Dnskey>, ()>> = None;
    let mut parent: Option<&Name> = None;
    let mut bogus: Option<String> = None;
    for cut in cuts {
        let mut link = |verdict: Verdict, said: String| links.push(Link { name: cut.name.to_string(), verdict, said });
        let anchored: Vec<&Anchor> = anchors.iter().filter(|a| a.owner == cut.name.to_lowercase()).collect();
        let step: Result<(Verdict, String, Option<Vec<Dnskey>>), String> = match (&state, anchored.is_empty()) {
            (Some(Err(())), _) => Ok((Verdict::Insecure, "under an unsigned zone".into(), None)),
            (_, false) => {
                let keys: Vec<Dnskey> = cut
                    .keys
                    .iter()
                    .filter(|r| code(r) == DNSKEY)
                    .filter_map(|r| dnskey(&super::records::data(r)?))
                    .collect();
                let trusted: Vec<Dnskey> = keys
                    .into_iter()
                    .filter(|k| {
                        anchored.iter().any(|a| match &a.kind {
                            AnchorKind::Ds(d) => ds_matches(d, cut.name, k) == Some(true),
                            AnchorKind::Key(t) => t.rdata == k.rdata,
                        })
                    })
                    .collect();
                if trusted.is_empty() {
                    Err("no DNSKEY of the zone matches its trust anchor".into())
                } else {
                    key_set(cut, &trusted, now).map(|(keys, tag)| {
                        let said = format!(
                            "trust anchor's key {tag} ({}) signs the key set",
                            algorithm_name(trusted[0].algorithm)
                        );
                        (Verdict::Secure, said, Some(keys))
                    })
                }
            }
            (None, true) => Ok((Verdict::Indeterminate, "no trust anchor at or above it".into(), None)),
            (Some(Ok(keys)), true) => {
                let zone = parent.cloned().unwrap_or_default();
                let by = Signed { zone: &zone, keys, now };
                match set(cut.via, cut.name, DS) {
                    None => match no_ds(cut.via, cut.name, &by) {
                        Ok(how) => Ok((Verdict::Insecure, how, None)),
                        Err(why) => Err(why),
                    },
                    Some(dss) => {
                        match verify_set(&dss, keys, &zone, now) {
                            Err(f) => Err(format!("its DS set from {zone}: {}", f.said())),
                            Ok(ds_tag) => {
                                let records: Vec<_> = dss.data.iter().filter_map(|d| ds(d)).collect();
                                match named_by(cut, &records) {
                                None => Ok((Verdict::Insecure, "its DS records are of algorithms sockit does not check".into(), None)),
                                Some(named) if named.is_empty() => {
                                    let tags: Vec<String> = records.iter().map(|d| d.key_tag.to_string()).collect();
                                    Err(format!("no DNSKEY matches its DS (key {})", tags.join(", ")))
                                }
                                Some(named) => key_set(cut, &named, now).map(|(keys, tag)| {
                                    let said = format!("DS signed by {zone}'s key {ds_tag} names key {tag}, which signs the key set");
                                    (Verdict::Secure, said, Some(keys))
                                }),
                            }
                            }
                        }
                    }
                }
            }
        };
        match step {
            Ok((verdict, said, keys)) => {
                link(verdict, said);
                state = match (verdict, keys) {
                    (_, Some(k)) => Some(Ok(k)),
                    (Verdict::Insecure, None) => Some(Err(())),
                    _ => state,
                };
            }
            Err(why) => {
                link(Verdict::Bogus, why.clone());
                bogus = Some(format!("{}: {why}", cut.name));
                break;
            }
        }
        parent = Some(cut.name);
    }
    if let Some(reason) = bogus {
        return Chain { verdict: Verdict::Bogus, reason: Some(reason), links };
    }
    let zone = parent.cloned().unwrap_or_default();
    let (verdict, said, name) = match (&state, end) {
        (_, End::Failed) => (Verdict::Indeterminate, "the trace did not end in an answer".to_string(), String::new()),
        (None, _) => (Verdict::Indeterminate, "no trust anchor over the zone".into(), String::new()),
        (Some(Err(())), End::Answer { name, .. } | End::NoName { name, .. } | End::NoData { name, .. }) => {
            (Verdict::Insecure, "in an unsigned zone".into(), name.to_string())
        }
        (Some(Ok(keys)), end) => {
            let by = Signed { zone: &zone, keys, now };
            match end {
                End::Answer { name, records } => answer(records, &by, name),
                End::NoName { name, authority } => proved(no_name(authority, name, &by), name, "does not exist"),
                End::NoData { name, qtype, authority } => {
                    proved(no_data(authority, name, *qtype, &by), name, "has no such records")
                }
                End::Failed => unreachable!("matched above"),
            }
        }
    };
    let reason = (verdict == Verdict::Bogus).then(|| format!("{name}: {said}"));
    links.push(Link { name, verdict, said });
    Chain { verdict, reason, links }
}

fn proved(r: Result<String, String>, name: &Name, what: &str) -> (Verdict, String, String) {
    match r {
        Ok(how) => (Verdict::Secure, format!("{what}: {how}"), name.to_string()),
        Err(why) => (Verdict::Bogus, why, name.to_string()),
    }
}

/// Every record set of the answer signed by the zone's keys (sets of names outside the zone,
/// an alias's target elsewhere, are not the zone's to vouch for).
fn answer(records: &[Record], by: &Signed, asked: &Name) -> (Verdict, String, String) {
    let mut sets: Vec<(Name, u16)> = Vec::new();
    for r in records.iter().filter(|r| code(r) != RRSIG) {
        let key = (r.name.to_lowercase(), code(r));
        if by.zone.zone_of(&key.0) && !sets.contains(&key) {
            sets.push(key);
        }
    }
    let mut tags = Vec::new();
    for (name, rtype) in &sets {
        let Some(s) = set(records, name, *rtype) else { continue };
        match verify_set(&s, by.keys, by.zone, by.now) {
            Ok(tag) => tags.push(tag),
            Err(f) => {
                let f = if f == Fault::NoKey && s.sigs.is_empty() { Fault::Unsigned } else { f };
                return (
                    Verdict::Bogus,
                    format!("{name} {}: {}", crate::resolve::types::type_name((*rtype).into()), f.said()),
                    asked.to_string(),
                );
            }
        }
    }
    if sets.is_empty() {
        return (Verdict::Bogus, "no record of the zone's in the answer".into(), asked.to_string());
    }
    tags.dedup();
    let tags: Vec<String> = tags.iter().map(ToString::to_string).collect();
    (Verdict::Secure, format!("signed by {}'s key {}", by.zone, tags.join(", ")), asked.to_string())
}
