//! Planning a network: splitting it into subnets of one size, and giving each host count the
//! smallest subnet that holds it, largest first (VLSM).

use serde::Serialize;

use std::net::IpAddr;

use super::{Cidr, Count, Family, from_u128, low_ones, subnet, to_u128};

/// Why a split or an allocation could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("cannot split a /{have} into /{want}: the new prefix must be at least /{have} and at most /{max}")]
    SplitPrefix { have: u8, want: u32, max: u8 },
    #[error(
        "splitting {network} into /{want} makes {count} subnets; the most listed is {limit}: choose a shorter prefix"
    )]
    TooManySubnets { network: Cidr, want: u8, count: Count, limit: u128 },
    #[error("a host count of 0 asks for nothing: give each subnet at least one host")]
    ZeroHosts,
    #[error("{hosts} hosts do not fit in any {family} subnet")]
    HostsTooLarge { hosts: u128, family: Family },
}

/// A count of bits (at most 128) as a prefix length's type.
fn bits8(bits: u32) -> u8 {
    u8::try_from(bits).unwrap_or(u8::MAX)
}

/// The most subnets `split` lists in one go.
pub const SPLIT_LIMIT: u128 = 1 << 20;

/// The subnets of `net` with prefix `new_prefix`, in address order.
pub fn split(net: &Cidr, new_prefix: u32) -> Result<impl Iterator<Item = Cidr> + use<>, PlanError> {
    let family = net.family();
    let max = family.bits();
    if new_prefix < u32::from(net.prefix) || new_prefix > u32::from(max) {
        return Err(PlanError::SplitPrefix { have: net.prefix, want: new_prefix, max });
    }
    let want = bits8(new_prefix);
    let count = Count::pow2(want - net.prefix);
    if count.get().is_none_or(|c| c > SPLIT_LIMIT) {
        return Err(PlanError::TooManySubnets { network: net.network_cidr(), want, count, limit: SPLIT_LIMIT });
    }
    let n = count.get().unwrap_or(0);
    let base = to_u128(net.network());
    let step_bits = max - want;
    Ok((0..n).map(move |i| Cidr { addr: from_u128(family, base + (i << step_bits)), prefix: want, prefix_given: true }))
}

/// One request of a VLSM plan and what it got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Allocation {
    /// Position of the request in the order given (0-based).
    pub index: usize,
    /// Hosts asked for.
    pub hosts: u128,
    /// The subnet given, or `None` when it did not fit.
    #[serde(serialize_with = "ser_opt_cidr")]
    pub subnet: Option<Cidr>,
    /// Usable hosts of that subnet.
    pub usable: Option<Count>,
    /// Its first and last usable addresses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_host: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_host: Option<IpAddr>,
}

fn ser_opt_cidr<S: serde::Serializer>(c: &Option<Cidr>, s: S) -> Result<S::Ok, S::Error> {
    match c {
        Some(c) => s.collect_str(c),
        None => s.serialize_none(),
    }
}

/// The smallest prefix whose usable hosts (as `subnet` counts them, on a LAN: /31 and /127
/// point-to-point links are not offered) hold `hosts`.
pub fn prefix_for_hosts(family: Family, hosts: u128) -> Result<u8, PlanError> {
    if hosts == 0 {
        return Err(PlanError::ZeroHosts);
    }
    // IPv4 loses two addresses (network, broadcast), IPv6 one (Subnet-Router anycast).
    let overhead: u128 = if family == Family::V4 { 2 } else { 1 };
    let need = hosts.checked_add(overhead).ok_or(PlanError::HostsTooLarge { hosts, family })?;
    // Smallest h with 2^h >= need; h >= 2 so that the subnet has room for hosts.
    let h = bits8((128 - (need - 1).leading_zeros()).max(2));
    if h > family.bits() {
        return Err(PlanError::HostsTooLarge { hosts, family });
    }
    Ok(family.bits() - h)
}

/// Variable-length subnetting: give each request the smallest subnet that holds its hosts,
/// largest first, packed from the start of `net`. Requests that do not fit get `None`; the
/// result is in the order subnets were allocated (largest first, ties in the order given).
pub fn vlsm(net: &Cidr, hosts: &[u128]) -> Result<Vec<Allocation>, PlanError> {
    let family = net.family();
    let mut wanted = hosts
        .iter()
        .enumerate()
        .map(|(i, &h)| prefix_for_hosts(family, h).map(|p| (i, h, p)))
        .collect::<Result<Vec<_>, _>>()?;
    // Shortest prefix (largest block) first keeps every block aligned when packed in order.
    wanted.sort_by_key(|&(i, _, p)| (p, i));
    let start = to_u128(net.network());
    let end = start | low_ones(net.host_bits()); // last address, inclusive
    let mut next = Some(start);
    let mut out = Vec::with_capacity(wanted.len());
    for (index, h, p) in wanted {
        let size_minus_1 = low_ones(family.bits() - p);
        let fits = p >= net.prefix && next.is_some_and(|n| n.checked_add(size_minus_1).is_some_and(|l| l <= end));
        let subnet = match (fits, next) {
            (true, Some(n)) => {
                let c = Cidr { addr: from_u128(family, n), prefix: p, prefix_given: true };
                // Past the last address of the network there is no next block.
                next = (n + size_minus_1).checked_add(1).filter(|&x| x <= end);
                Some(c)
            }
            _ => None,
        };
        let info = subnet.map(|c| super::subnet(&c));
        out.push(Allocation {
            index,
            hosts: h,
            usable: subnet.map(|c| subnet_usable(&c)),
            first_host: info.as_ref().map(|i| i.first_host),
            last_host: info.as_ref().map(|i| i.last_host),
            subnet,
        });
    }
    Ok(out)
}

/// What a VLSM plan leaves of `net`, as the fewest aligned blocks, in address order (ipcalc
/// lists it too). Allocations are packed from the start, so the rest is one run at the end.
pub fn unallocated(net: &Cidr, allocations: &[Allocation]) -> Vec<Cidr> {
    let family = net.family();
    let end = to_u128(net.network()) | low_ones(net.host_bits());
    let used_end =
        allocations.iter().filter_map(|a| a.subnet).map(|c| to_u128(c.network()) | low_ones(c.host_bits())).max();
    let mut next = match used_end {
        Some(e) if e == end => return Vec::new(),
        Some(e) => e + 1,
        None => to_u128(net.network()),
    };
    let mut out = Vec::new();
    loop {
        // The largest block aligned at `next` that ends within the network.
        let mut bits = u32::from(family.bits()).min(next.trailing_zeros());
        while bits > 0 && next.checked_add(low_ones(bits8(bits))).is_none_or(|last| last > end) {
            bits -= 1;
        }
        let last = next + low_ones(bits8(bits));
        out.push(Cidr { addr: from_u128(family, next), prefix: family.bits() - bits8(bits), prefix_given: true });
        if last >= end {
            return out;
        }
        next = last + 1;
    }
}

fn subnet_usable(c: &Cidr) -> Count {
    subnet(c).usable_hosts
}
