//! `sockit addr` as one value: what an address is, its subnet, and the answers to the
//! questions asked of it (compare, split, allocate). Rendering lives with the binary.

use std::net::IpAddr;

use serde::Serialize;

use super::{
    AddrError, Allocation, Cidr, Classification, Family, PlanError, Route, SubnetInfo, classify, parse_ip, route_to,
    split, subnet, vlsm,
};

/// What `sockit addr` was asked.
#[derive(Debug, Clone, Default)]
pub struct AddrQuery {
    /// The addresses as typed. With a prefix on the first, the rest are compared against it;
    /// without, each is described on its own.
    pub inputs: Vec<String>,
    /// `--split PREFIX`.
    pub split: Option<u32>,
    /// `--hosts N...`.
    pub hosts: Vec<u128>,
}

/// A usage mistake in the query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Addr(#[from] AddrError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("{} needs a network: give the address a prefix, like {example}", match .asked { Asked::Split => "a split", Asked::Hosts => "a host plan" })]
    NeedsPrefix { asked: Asked, example: String },
}

/// What asked for a network (`--split`, `--hosts`): the binary names its flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    Split,
    Hosts,
}

/// One address described.
#[derive(Debug, Clone, Serialize)]
pub struct Described {
    pub input: String,
    pub address: IpAddr,
    pub family: Family,
    /// The zone written after `%` (`fe80::1%eth0`): the interface a link-local address is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    pub classification: Classification,
    /// The IPv4 address an IPv4-mapped or -compatible IPv6 address carries, described.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv4: Option<Box<Embedded>>,
    /// Present when a prefix or netmask was given.
    pub subnet: Option<SubnetInfo>,
}

/// An IPv4 address carried inside an IPv6 one.
#[derive(Debug, Clone, Serialize)]
pub struct Embedded {
    pub address: std::net::Ipv4Addr,
    pub classification: Classification,
}

/// Another address, seen from the first one's subnet.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub address: IpAddr,
    pub route: Route,
    pub classification: Classification,
}

/// The VLSM plan and whether it fit.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub network: String,
    pub allocations: Vec<Allocation>,
    /// Requests that got no subnet.
    pub unallocated: usize,
    /// What the plan leaves of the network, as the fewest aligned blocks.
    #[serde(serialize_with = "ser_cidrs")]
    pub free: Vec<Cidr>,
}

fn ser_cidrs<S: serde::Serializer>(v: &[Cidr], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(std::string::ToString::to_string))
}

/// The whole answer.
#[derive(Debug, Clone, Serialize)]
pub struct AddrReport {
    /// The first address (and, without a prefix on it, every address).
    pub addresses: Vec<Described>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub compare: Vec<Comparison>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_split")]
    pub split: Option<Vec<Cidr>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
}

/// A subnet of a split, with its CIDR string beside the subnet math.
#[derive(Serialize)]
struct SplitEntry {
    cidr: String,
    #[serde(flatten)]
    subnet: SubnetInfo,
}

fn ser_split<S: serde::Serializer>(v: &Option<Vec<Cidr>>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().flatten().map(|c| SplitEntry { cidr: c.to_string(), subnet: subnet(c) }))
}

/// An address with an IPv6 zone (`fe80::1%eth0`, `fe80::1%eth0/64`, as Python's ipaddress
/// takes them): the address (and prefix) without it, and the zone.
fn unzoned(s: &str) -> Result<(String, Option<String>), AddrError> {
    let s = s.trim();
    let (left, prefix) = match s.split_once('/') {
        Some((l, p)) => (l, Some(p)),
        None => (s, None),
    };
    if !left.contains('%') {
        return Ok((s.to_string(), None));
    }
    let (ip, zone) = crate::endpoint::parse_scoped(left).ok_or_else(|| AddrError::Zone { input: s.to_string() })?;
    Ok((prefix.map_or_else(|| ip.to_string(), |p| format!("{ip}/{p}")), Some(zone)))
}

fn describe(input: &str, c: &Cidr, zone: Option<String>) -> Described {
    Described {
        input: input.trim().to_string(),
        address: c.addr,
        family: c.family(),
        zone,
        classification: classify(c.addr),
        ipv4: super::embedded_ipv4(c.addr)
            .map(|v4| Box::new(Embedded { address: v4, classification: classify(IpAddr::V4(v4)) })),
        subnet: c.prefix_given.then(|| subnet(c)),
    }
}

/// A query checked: every address parsed, `--split` and `--hosts` known to fit the first
/// address. Made by `AddrQuery::check`; `report` answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedQuery {
    /// The first address as typed, parsed, and its zone.
    first: (String, Cidr, Option<String>),
    /// The others: compared against the first (a prefix on it), or described on their own.
    rest: Rest,
    split: Option<u32>,
    hosts: Vec<u128>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Rest {
    Compared(Vec<IpAddr>),
    Described(Vec<(String, Cidr, Option<String>)>),
}

impl AddrQuery {
    /// Parse and check the query: every error is the user's to fix (exit 2), found before any
    /// answer is made.
    pub fn check(&self) -> Result<CheckedQuery, QueryError> {
        let first_s = self.inputs.first().map_or("", String::as_str);
        let (first_unzoned, first_zone) = unzoned(first_s)?;
        let first = Cidr::parse(&first_unzoned)?;
        let needs_prefix = |asked| QueryError::NeedsPrefix { asked, example: format!("{}/24", first.addr) };
        let others = &self.inputs[1.min(self.inputs.len())..];
        let rest = if first.prefix_given {
            Rest::Compared(others.iter().map(|s| Ok(parse_ip(&unzoned(s)?.0)?)).collect::<Result<_, QueryError>>()?)
        } else {
            Rest::Described(
                others
                    .iter()
                    .map(|s| {
                        let (address, zone) = unzoned(s)?;
                        Ok((s.trim().to_string(), Cidr::parse(&address)?, zone))
                    })
                    .collect::<Result<_, QueryError>>()?,
            )
        };
        if let Some(p) = self.split {
            if !first.prefix_given {
                return Err(needs_prefix(Asked::Split));
            }
            // Only checked here: the subnets are listed by `report`.
            let _ = split(&first, p)?;
        }
        if !self.hosts.is_empty() {
            if !first.prefix_given {
                return Err(needs_prefix(Asked::Hosts));
            }
            for &h in &self.hosts {
                super::prefix_for_hosts(first.family(), h)?;
            }
        }
        Ok(CheckedQuery {
            first: (first_s.trim().to_string(), first, first_zone),
            rest,
            split: self.split,
            hosts: self.hosts.clone(),
        })
    }
}

/// Answer a checked query; a plan that does not fit is an answer, with `Plan::unallocated` > 0.
pub fn report(q: &CheckedQuery) -> AddrReport {
    let (input, first, zone) = &q.first;
    let mut out =
        AddrReport { addresses: vec![describe(input, first, zone.clone())], compare: vec![], split: None, plan: None };
    match &q.rest {
        Rest::Compared(others) => {
            out.compare = others
                .iter()
                .map(|&other| Comparison {
                    address: other,
                    route: route_to(first, other),
                    classification: classify(other),
                })
                .collect();
        }
        Rest::Described(others) => {
            out.addresses.extend(others.iter().map(|(input, c, zone)| describe(input, c, zone.clone())));
        }
    }
    // `check` made sure both fit: neither fails here.
    out.split = q.split.map(|p| split(first, p).into_iter().flatten().collect());
    if !q.hosts.is_empty() {
        let allocations = vlsm(first, &q.hosts).unwrap_or_default();
        let unallocated = allocations.iter().filter(|a| a.subnet.is_none()).count();
        let free = super::unallocated(first, &allocations);
        out.plan = Some(Plan { network: first.network_cidr().to_string(), allocations, unallocated, free });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(inputs: &[&str]) -> AddrQuery {
        AddrQuery { inputs: inputs.iter().map(std::string::ToString::to_string).collect(), ..Default::default() }
    }

    /// The query checked, then answered.
    fn answer(q: &AddrQuery) -> Result<AddrReport, QueryError> {
        q.check().map(|c| report(&c))
    }

    #[test]
    fn compares_with_a_prefix_and_describes_without() {
        let r = answer(&q(&["192.168.1.10/24", "192.168.1.77", "192.168.2.5"])).expect("answer");
        let routes: Vec<Route> = r.compare.iter().map(|c| c.route).collect();
        assert_eq!(routes, [Route::Direct, Route::ViaRouter]);
        assert_eq!(r.addresses.len(), 1);
        let r = answer(&q(&["10.0.0.1", "8.8.8.8"])).expect("answer");
        assert_eq!(r.addresses.len(), 2);
        assert!(r.addresses[0].subnet.is_none());
        assert!(r.compare.is_empty());
    }

    #[test]
    fn a_plan_lists_what_it_leaves() {
        let mut plan = q(&["10.0.0.0/24"]);
        plan.hosts = vec![100, 50];
        let p = answer(&plan).expect("answer").plan.expect("plan");
        let free: Vec<String> = p.free.iter().map(std::string::ToString::to_string).collect();
        assert_eq!(free, ["10.0.0.192/26"]);
        plan.hosts = vec![20];
        let p = answer(&plan).expect("answer").plan.expect("plan");
        let free: Vec<String> = p.free.iter().map(std::string::ToString::to_string).collect();
        assert_eq!(free, ["10.0.0.32/27", "10.0.0.64/26", "10.0.0.128/25"]);
        assert_eq!(p.allocations[0].first_host, Some("10.0.0.1".parse().expect("ip")));
        assert_eq!(p.allocations[0].last_host, Some("10.0.0.30".parse().expect("ip")));
        plan.hosts = vec![126, 126];
        assert!(answer(&plan).expect("answer").plan.expect("plan").free.is_empty());
    }

    #[test]
    fn zones_are_kept_apart_from_the_address() {
        let r = answer(&q(&["fe80::1%eth0/64", "fe80::2%eth0"])).expect("answer");
        assert_eq!(r.addresses[0].zone.as_deref(), Some("eth0"));
        assert_eq!(r.addresses[0].subnet.as_ref().map(|s| s.prefix), Some(64));
        assert_eq!(r.compare[0].route, Route::Direct);
        let r = answer(&q(&["fe80::1%2", "::1"])).expect("answer");
        assert_eq!((r.addresses[0].zone.as_deref(), r.addresses[1].zone.as_deref()), (Some("2"), None));
        for bad in ["10.0.0.1%eth0", "fe80::1%", "fe80::1%a b"] {
            assert!(answer(&q(&[bad])).is_err(), "{bad}");
        }
    }

    #[test]
    fn usage_errors() {
        assert!(matches!(answer(&q(&["192.168.1.10/24", "192.168.300.1"])), Err(QueryError::Addr(_))));
        assert!(matches!(answer(&q(&[])), Err(QueryError::Addr(AddrError::Empty))));
        let mut split = q(&["10.0.0.1"]);
        split.split = Some(26);
        let err = answer(&split).expect_err("needs prefix");
        assert_eq!(err.to_string(), "a split needs a network: give the address a prefix, like 10.0.0.1/24");
    }
}
