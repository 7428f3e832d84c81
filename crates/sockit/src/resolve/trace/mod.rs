//! `lookup --trace`: a name resolved the way a resolver does it, from the root servers down,
//! every server asked shown with its time and what it said (a referral, the answer, no such
//! name); and with DNSSEC, the zones' keys asked too and the chain of trust from a trust
//! anchor to the answer validated at every cut (`chain`, `denial`, `crypto`; the records'
//! bytes read in `records`; the hints and anchors in `anchors`).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use serde::Serialize;

mod anchors;
mod chain;
mod crypto;
mod denial;
mod records;

pub use anchors::{Anchor, Hint, iana_root_hints, iana_trust_anchors, root_hints, trust_anchors};
pub use chain::{Chain, Link, Verdict};

use super::ResolveError;
use super::edns::QueryOptions;
use super::types::type_name;
use super::wire::{DnsConfig, DnsRecord, ask, fqdn_name};
use records::{CNAME, NS, SOA, code};

/// What to trace, from where, and what to trust.
#[derive(Debug, Clone)]
pub struct TraceConfig {
    pub name: String,
    pub rtype: RecordType,
    /// The servers to start from (the root's).
    pub roots: Vec<Hint>,
    /// Validate with these anchors (DNSSEC records asked for at every step); none: no DNSSEC.
    pub anchors: Option<Vec<Anchor>>,
    /// The wait for each try, and tries after the first, per server.
    pub timeout: Duration,
    pub retries: u32,
    /// TCP from the start.
    pub tcp: bool,
}

/// One question asked of one server on the way.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// The zone the server was asked as a server of.
    pub zone: String,
    pub qname: String,
    pub qtype: String,
    pub server: SocketAddr,
    pub server_name: String,
    pub ms: f64,
    pub tcp: bool,
    /// What the reply was: `referral to NAME`, `answer`, `no such name`, `no data`, `keys`,
    /// or why it was passed over.
    pub said: String,
    /// The records that say it (the answer, or the referral's and denial's).
    pub records: Vec<DnsRecord>,
}

/// How the trace ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Answer,
    Nxdomain,
    Nodata,
    Failed,
}

/// The whole trace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trace {
    pub name: String,
    pub qtype: String,
    pub steps: Vec<Step>,
    pub outcome: Outcome,
    /// The answer's records (empty unless the outcome is an answer).
    pub records: Vec<DnsRecord>,
    /// Why the trace stopped short (a failed outcome).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dnssec: Option<Chain>,
}

/// Steps a trace takes at most: referrals, keys and the servers passed over, together.
const MAX_STEPS: usize = 96;
/// Name servers without glue looked up by traces of their own, this deep at most.
const MAX_DEPTH: u8 = 3;

/// A zone on the way: its servers, the parent's referral to it, its DNSKEY records.
struct Zone {
    name: Name,
    servers: Vec<Hint>,
    via: Vec<Record>,
    keys: Vec<Record>,
}

/// Where a walk down the tree ended.
struct Walked {
    zones: Vec<Zone>,
    outcome: Outcome,
    last: Option<Message>,
    error: Option<String>,
}

struct Tracer {
    dns: DnsConfig,
    validating: bool,
    steps: Vec<Step>,
}

/// Trace `cfg.name` from the root servers.
pub fn trace(cfg: &TraceConfig) -> Result<Trace, ResolveError> {
    let qname = fqdn_name(&cfg.name)?.to_lowercase();
    let validating = cfg.anchors.is_some();
    let options = QueryOptions { recursion: false, dnssec_ok: validating, ..QueryOptions::default() };
    let dns = DnsConfig {
        servers: Vec::new(),
        tcp: cfg.tcp,
        tls: None,
        https: None,
        quic: false,
        timeout: cfg.timeout,
        retries: cfg.retries,
        options,
    };
    let mut t = Tracer { dns, validating, steps: Vec::new() };
    let walked = t.walk(&qname, cfg.rtype, &cfg.roots, 0);
    let answers: &[Record] = walked.last.as_ref().map_or(&[], |m| &m.answers);
    let records = match walked.outcome {
        Outcome::Answer => answers.iter().map(DnsRecord::of).collect(),
        _ => Vec::new(),
    };
    let dnssec = cfg.anchors.as_ref().map(|anchors| {
        let cuts: Vec<chain::Cut> =
            walked.zones.iter().map(|z| chain::Cut { name: &z.name, via: &z.via, keys: &z.keys }).collect();
        let authority: &[Record] = walked.last.as_ref().map_or(&[], |m| &m.authorities);
        let end = match walked.outcome {
            Outcome::Answer => chain::End::Answer { name: &qname, records: answers },
            Outcome::Nxdomain => chain::End::NoName { name: &qname, authority },
            Outcome::Nodata => chain::End::NoData { name: &qname, qtype: u16::from(cfg.rtype), authority },
            Outcome::Failed => chain::End::Failed,
        };
        chain::validate(&cuts, &end, anchors, now())
    });
    Ok(Trace {
        name: qname.to_string(),
        qtype: type_name(cfg.rtype),
        steps: t.steps,
        outcome: walked.outcome,
        records,
        error: walked.error,
        dnssec,
    })
}

/// Seconds since 1970, as RRSIG's times count them (mod 2^32).
fn now() -> u32 {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    (secs & 0xffff_ffff) as u32
}

/// What a reply to the question says for the trace.
enum Said {
    Referral(Name, Vec<Hint>, Vec<Name>),
    Answer,
    NoName,
    NoData,
    /// Passed over: a server failure, a refusal, a lame or upward referral.
    Other(String),
}

impl Tracer {
    /// Ask `rtype` of `name` of the zone's servers in turn until one gives a reply that is
    /// not passed over; each asking a step.
    fn ask_zone(&mut self, zone: &Name, servers: &[Hint], name: &Name, rtype: RecordType) -> Option<(Message, Said)> {
        for server in servers {
            if self.steps.len() >= MAX_STEPS {
                return None;
            }
            let at = SocketAddr::new(server.address, 53);
            let start = Instant::now();
            let reply = ask(&self.dns, at, name, rtype);
            let ms = start.elapsed().as_secs_f64() * 1000.0;
            let (said, shown, kept) = match reply {
                Ok((m, tcp)) => {
                    let said = if rtype == RecordType::DNSKEY && zone == name {
                        keys_said(&m)
                    } else {
                        classify(zone, name, rtype, &m)
                    };
                    let shown = shown_records(&m, &said);
                    (said, shown, Some((m, tcp)))
                }
                Err(e) => {
                    let said = e.to_string();
                    let said = said.strip_prefix(&format!("{name}: ")).unwrap_or(&said).to_string();
                    (Said::Other(said), Vec::new(), None)
                }
            };
            self.steps.push(Step {
                zone: zone.to_string(),
                qname: name.to_string(),
                qtype: type_name(rtype),
                server: at,
                server_name: server.name.clone(),
                ms,
                tcp: kept.as_ref().is_some_and(|(_, tcp)| *tcp),
                said: said_text(&said),
                records: shown,
            });
            if let (Some((m, _)), false) = (kept, matches!(said, Said::Other(_))) {
                return Some((m, said));
            }
        }
        None
    }

    /// Down from `roots` to `qname`'s answer.
    fn walk(&mut self, qname: &Name, rtype: RecordType, roots: &[Hint], depth: u8) -> Walked {
        let mut zones = vec![Zone { name: Name::root(), servers: roots.to_vec(), via: Vec::new(), keys: Vec::new() }];
        let fail = |zones, why: String| Walked { zones, outcome: Outcome::Failed, last: None, error: Some(why) };
        loop {
            let zone = zones.last_mut().expect("the root at least");
            if self.validating && depth == 0 {
                let (name, servers) = (zone.name.clone(), zone.servers.clone());
                if let Some((m, _)) = self.ask_zone(&name, &servers, &name, RecordType::DNSKEY) {
                    zone.keys = m.answers;
                }
            }
            let zone = zones.last().expect("the root at least");
            let (name, servers) = (zone.name.clone(), zone.servers.clone());
            let Some((reply, said)) = self.ask_zone(&name, &servers, qname, rtype) else {
                let why = if self.steps.len() >= MAX_STEPS {
                    format!("gave up after {MAX_STEPS} questions")
                } else {
                    format!("no server of {name} gave a usable answer")
                };
                return fail(zones, why);
            };
            let outcome = match said {
                Said::Answer => Outcome::Answer,
                Said::NoName => Outcome::Nxdomain,
                Said::NoData => Outcome::Nodata,
                Said::Other(why) => return fail(zones, why),
                Said::Referral(child, mut servers, unglued) => {
                    if depth < MAX_DEPTH {
                        // Name servers without glue are looked up only when none has any, and
                        // only until one gives an address.
                        for ns in unglued {
                            if !servers.is_empty() {
                                break;
                            }
                            let found = self.walk(&ns, RecordType::A, roots, depth + 1);
                            servers.extend(found.last.iter().flat_map(|m| addresses(&m.answers, &ns)));
                        }
                    }
                    if servers.is_empty() {
                        return fail(zones, format!("no address for any name server of {child}"));
                    }
                    zones.push(Zone { name: child, servers, via: reply.authorities, keys: Vec::new() });
                    continue;
                }
            };
            return Walked { zones, outcome, last: Some(reply), error: None };
        }
    }
}

/// A reply to the zone's DNSKEY question.
fn keys_said(m: &Message) -> Said {
    if m.metadata.response_code == ResponseCode::NoError && m.answers.iter().any(|r| code(r) == records::DNSKEY) {
        Said::Answer
    } else {
        Said::Other(format!("no DNSKEY records ({})", m.metadata.response_code))
    }
}

/// The addresses `answers` give `name` (glue or an answer), as hints.
fn addresses(section: &[Record], name: &Name) -> Vec<Hint> {
    let name = name.to_lowercase();
    section
        .iter()
        .filter(|r| r.name.to_lowercase() == name)
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        })
        .map(|address| Hint { name: name.to_string(), address })
        .collect()
}

/// What `m`, a reply from a server of `zone` to `qname`'s `rtype` question, says.
fn classify(zone: &Name, qname: &Name, rtype: RecordType, m: &Message) -> Said {
    match m.metadata.response_code {
        ResponseCode::NoError => {}
        ResponseCode::NXDomain => return Said::NoName,
        rcode => return Said::Other(format!("answered {rcode}")),
    }
    let owned = |r: &&Record| r.name.to_lowercase() == *qname;
    if m.answers.iter().filter(owned).any(|r| r.record_type() == rtype || code(r) == CNAME) {
        return Said::Answer;
    }
    // A referral: NS records for a zone below this one, on the way to the name.
    let child = m
        .authorities
        .iter()
        .filter(|r| code(r) == NS)
        .map(|r| r.name.to_lowercase())
        .find(|c| zone.zone_of(c) && c != &zone.to_lowercase() && c.zone_of(qname));
    if let Some(child) = child {
        let ns: Vec<Name> = m
            .authorities
            .iter()
            .filter(|r| code(r) == NS && r.name.to_lowercase() == child)
            .filter_map(|r| match &r.data {
                RData::NS(n) => Some(n.0.to_lowercase()),
                _ => None,
            })
            .collect();
        let mut servers = Vec::new();
        let mut unglued = Vec::new();
        for n in ns {
            let glue = addresses(&m.additionals, &n);
            if glue.is_empty() { unglued.push(n) } else { servers.extend(glue) }
        }
        servers.sort_by_key(|h| h.address.is_ipv6());
        return Said::Referral(child, servers, unglued);
    }
    if m.metadata.authoritative || m.authorities.iter().any(|r| code(r) == SOA) {
        return Said::NoData;
    }
    Said::Other("neither an answer nor a referral toward the name (a lame server)".into())
}

fn said_text(s: &Said) -> String {
    match s {
        Said::Referral(child, ..) => format!("referral to {child}"),
        Said::Answer => "answer".into(),
        Said::NoName => "no such name".into(),
        Said::NoData => "no data".into(),
        Said::Other(why) => why.clone(),
    }
}

/// The records a step shows: the answer's, or the authority section's for a referral or a
/// denial (the glue is the servers asked next).
fn shown_records(m: &Message, said: &Said) -> Vec<DnsRecord> {
    match said {
        Said::Answer => m.answers.iter().map(DnsRecord::of).collect(),
        Said::Referral(..) | Said::NoName | Said::NoData => m.authorities.iter().map(DnsRecord::of).collect(),
        Said::Other(_) => Vec::new(),
    }
}

/// One reply as a trace reads it, whatever its bytes (the fuzz target's entry): its question
/// asked of a server of the root, what it says (referral, answer, denial), and the chain of
/// trust down to what it names, the reply's own DNSKEY records trusted as the root's and its
/// DS records as the anchors. What it said, or `None` for bytes that are not a message.
pub fn read_reply(wire: &[u8]) -> Option<String> {
    let m = Message::from_vec(wire).ok()?;
    let q = m.queries.first()?;
    let (qname, rtype) = (q.name().to_lowercase(), q.query_type());
    let said = classify(&Name::root(), &qname, rtype, &m);
    let mut records: Vec<Record> = m.answers.clone();
    records.extend(m.authorities.iter().cloned());
    let anchors: Vec<Anchor> = records
        .iter()
        .filter(|r| code(r) == records::DS || code(r) == records::DNSKEY)
        .filter_map(|r| {
            let data = records::data(r)?;
            let kind = if code(r) == records::DS {
                anchors::AnchorKind::Ds(records::ds(&data)?)
            } else {
                anchors::AnchorKind::Key(records::dnskey(&data)?)
            };
            Some(Anchor { owner: r.name.to_lowercase(), kind })
        })
        .collect();
    let root = Name::root();
    let child = match &said {
        Said::Referral(child, ..) => child.clone(),
        _ => qname.clone(),
    };
    let cuts = [
        chain::Cut { name: &root, via: &[], keys: &m.answers },
        chain::Cut { name: &child, via: &m.authorities, keys: &m.answers },
    ];
    let end = match &said {
        Said::Answer => chain::End::Answer { name: &qname, records: &m.answers },
        Said::NoName => chain::End::NoName { name: &qname, authority: &m.authorities },
        Said::NoData => chain::End::NoData { name: &qname, qtype: u16::from(rtype), authority: &m.authorities },
        _ => chain::End::Failed,
    };
    let chain = chain::validate(&cuts, &end, &anchors, now());
    Some(format!("{}: {:?} {:?}", said_text(&said), chain.verdict, chain.reason))
}
