//! Slide 1, "IPv4 Network Parameters", as pure functions: parse addresses, prefixes and
//! netmasks; classify addresses against the IANA special-purpose registries; subnet math
//! (network, broadcast, host range, counts); "same subnet or via the router?"; splitting a
//! network and allocating subnets by host count (VLSM).
//!
//! Both families share one implementation: an address is a `u128` plus its width in bits
//! (32 or 128), so every formula is written once.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

/// What was wrong with an address, prefix or netmask the user gave. Each message says what is
/// wrong and how to write it instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddrError {
    #[error("empty address: give an IPv4 or IPv6 address such as 192.168.1.10 or 2001:db8::1")]
    Empty,
    #[error("octet {octet} in '{input}' is over 255: each of the four octets is 0-255")]
    OctetTooLarge { input: String, octet: String },
    #[error(
        "octet '{octet}' in '{input}' has a leading zero, which some tools read as octal: write it without the zero"
    )]
    LeadingZero { input: String, octet: String },
    #[error("'{input}' is not an IPv4 or IPv6 address: write it like 192.168.1.10 or 2001:db8::1")]
    Invalid { input: String },
    #[error("'{input}' has a zone that is not one: only IPv6 addresses take one, written like fe80::1%eth0")]
    Zone { input: String },
    #[error("prefix '/{prefix}' is not a number: write a prefix length (/24) or a netmask (/255.255.255.0)")]
    BadPrefix { prefix: String },
    #[error("prefix /{prefix} is longer than the {max} bits of an {family} address: use /0 to /{max}")]
    PrefixTooLong { prefix: u32, max: u8, family: Family },
    #[error("netmask {mask} is not contiguous (its one bits must all come first): for example 255.255.255.0")]
    NonContiguousMask { mask: String },
    #[error("a dotted netmask only fits IPv4 addresses: give IPv6 prefixes as a length, like /64")]
    MaskOnIpv6,
}

/// IPv4 or IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Family {
    #[serde(rename = "ipv4")]
    V4,
    #[serde(rename = "ipv6")]
    V6,
}

impl Family {
    /// Width of an address in bits.
    pub fn bits(self) -> u8 {
        match self {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }

    /// Family of an address.
    pub fn of(ip: IpAddr) -> Family {
        match ip {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        })
    }
}

/// An address as an integer, for arithmetic.
fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

/// The low 32 bits of `v`.
pub(crate) fn low32(v: u128) -> u32 {
    u32::try_from(v & u128::from(u32::MAX)).unwrap_or(0)
}

/// The address of family `family` whose integer value is `v` (truncated to the family's width).
fn from_u128(family: Family, v: u128) -> IpAddr {
    match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::from(low32(v))),
        Family::V6 => IpAddr::V6(Ipv6Addr::from(v)),
    }
}

/// All-ones in the low `n` bits (n may be 128).
fn low_ones(n: u8) -> u128 {
    if n >= 128 { u128::MAX } else { (1u128 << n) - 1 }
}

/// The netmask of a prefix, as an integer of the family's width.
fn mask_bits(family: Family, prefix: u8) -> u128 {
    let bits = family.bits();
    low_ones(bits) & !low_ones(bits - prefix)
}

/// Parse an IP address, IPv4 strictly (four decimal octets, no leading zeros) so that mistakes
/// get a precise message, IPv6 as the standard library does.
pub fn parse_ip(input: &str) -> Result<IpAddr, AddrError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(AddrError::Empty);
    }
    if s.contains(':') {
        // Accept the bracketed form people copy from URLs: [::1].
        let inner = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')).unwrap_or(s);
        return inner.parse::<Ipv6Addr>().map(IpAddr::V6).map_err(|_| AddrError::Invalid { input: s.to_string() });
    }
    parse_ipv4(s).map(IpAddr::V4)
}

fn parse_ipv4(s: &str) -> Result<Ipv4Addr, AddrError> {
    let invalid = || AddrError::Invalid { input: s.to_string() };
    let mut octets = [0u8; 4];
    let mut parts = s.split('.');
    for slot in &mut octets {
        let part = parts.next().ok_or_else(invalid)?;
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        if part.len() > 1 && part.starts_with('0') {
            return Err(AddrError::LeadingZero { input: s.to_string(), octet: part.to_string() });
        }
        // At most three digits can be an octet; anything longer is over 255 too.
        let value: u32 = if part.len() > 3 { u32::MAX } else { part.parse().map_err(|_| invalid())? };
        *slot = u8::try_from(value)
            .map_err(|_| AddrError::OctetTooLarge { input: s.to_string(), octet: part.to_string() })?;
    }
    if parts.next().is_some() {
        return Err(invalid());
    }
    Ok(Ipv4Addr::from(octets))
}

/// An address with a prefix length: `192.168.1.10/24`. The host bits are kept, because
/// "which subnet is this host on" needs the host's own address too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    /// The address as written.
    pub addr: IpAddr,
    /// Prefix length, 0..=32 or 0..=128.
    pub prefix: u8,
    /// Whether the user wrote a prefix or netmask (otherwise it is the full width: one host).
    pub prefix_given: bool,
}

impl Cidr {
    /// `addr/prefix`, checked.
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Cidr, AddrError> {
        let family = Family::of(addr);
        if prefix > family.bits() {
            return Err(AddrError::PrefixTooLong { prefix: prefix.into(), max: family.bits(), family });
        }
        Ok(Cidr { addr, prefix, prefix_given: true })
    }

    /// Parse `ADDR`, `ADDR/PREFIX` or `ADDR/NETMASK` (dotted, IPv4 only).
    pub fn parse(input: &str) -> Result<Cidr, AddrError> {
        let s = input.trim();
        let Some((addr_s, suffix)) = s.split_once('/') else {
            let addr = parse_ip(s)?;
            let prefix = Family::of(addr).bits();
            return Ok(Cidr { addr, prefix, prefix_given: false });
        };
        let addr = parse_ip(addr_s)?;
        let family = Family::of(addr);
        let prefix = if suffix.contains('.') {
            if family == Family::V6 {
                return Err(AddrError::MaskOnIpv6);
            }
            let mask = parse_ipv4(suffix)?;
            netmask_to_prefix(mask).ok_or_else(|| AddrError::NonContiguousMask { mask: suffix.to_string() })?
        } else {
            if suffix.is_empty() || suffix.len() > 3 || !suffix.bytes().all(|b| b.is_ascii_digit()) {
                return Err(AddrError::BadPrefix { prefix: suffix.to_string() });
            }
            let p: u32 = suffix.parse().map_err(|_| AddrError::BadPrefix { prefix: suffix.to_string() })?;
            if p > u32::from(family.bits()) {
                return Err(AddrError::PrefixTooLong { prefix: p, max: family.bits(), family });
            }
            u8::try_from(p).unwrap_or(u8::MAX)
        };
        Ok(Cidr { addr, prefix, prefix_given: true })
    }

    /// IPv4 or IPv6.
    pub fn family(&self) -> Family {
        Family::of(self.addr)
    }

    /// The network address (host bits cleared).
    pub fn network(&self) -> IpAddr {
        from_u128(self.family(), to_u128(self.addr) & mask_bits(self.family(), self.prefix))
    }

    /// The same prefix anchored at its network address.
    pub fn network_cidr(&self) -> Cidr {
        Cidr { addr: self.network(), prefix: self.prefix, prefix_given: true }
    }

    /// Whether `other` lies inside this prefix.
    pub fn contains(&self, other: IpAddr) -> bool {
        Family::of(other) == self.family()
            && (to_u128(other) ^ to_u128(self.addr)) & mask_bits(self.family(), self.prefix) == 0
    }

    fn host_bits(&self) -> u8 {
        self.family().bits() - self.prefix
    }

    /// The block in the form peers are compared in: an IPv4-mapped block (`::ffff:a.b.c.d/n`,
    /// n >= 96) is the IPv4 block it maps (`a.b.c.d/(n-96)`), as a dual-stack socket's peer
    /// `::ffff:a.b.c.d` is the IPv4 address `a.b.c.d` (`canonical_ip`).
    pub fn canonical(&self) -> Cidr {
        match self.addr {
            IpAddr::V6(v6) if self.prefix >= 96 => match v6.to_ipv4_mapped() {
                Some(v4) => Cidr { addr: IpAddr::V4(v4), prefix: self.prefix - 96, prefix_given: self.prefix_given },
                None => *self,
            },
            _ => *self,
        }
    }
}

/// An address in the form peers and rules are compared in: IPv4-mapped is IPv4.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The prefix length of a contiguous netmask, or `None` for a mask like 255.0.255.0.
pub fn netmask_to_prefix(mask: Ipv4Addr) -> Option<u8> {
    let m = u32::from(mask);
    let ones = m.leading_ones();
    (m.checked_shl(ones).unwrap_or(0) == 0).then(|| u8::try_from(ones).unwrap_or(32))
}

/// The dotted netmask of an IPv4 prefix length (0..=32).
pub fn prefix_to_netmask(prefix: u8) -> Ipv4Addr {
    Ipv4Addr::from(low32(mask_bits(Family::V4, prefix.min(32))))
}

/// A count of addresses. Counts go up to 2^128 (all of IPv6), one more than `u128` holds, so
/// a count is kept as its power of two or as a plain number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count(CountRepr);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CountRepr {
    Small(u128),
    TwoTo128,
}

impl Count {
    fn pow2(n: u8) -> Count {
        if n >= 128 { Count(CountRepr::TwoTo128) } else { Count(CountRepr::Small(1u128 << n)) }
    }
    fn minus(self, k: u128) -> Count {
        match self.0 {
            CountRepr::Small(v) => Count(CountRepr::Small(v.saturating_sub(k))),
            // 2^128 - k for k >= 1 fits.
            CountRepr::TwoTo128 if k >= 1 => Count(CountRepr::Small(u128::MAX - (k - 1))),
            CountRepr::TwoTo128 => self,
        }
    }
    /// The value, when it fits in a `u128` (every count but all of IPv6).
    pub fn get(self) -> Option<u128> {
        match self.0 {
            CountRepr::Small(v) => Some(v),
            CountRepr::TwoTo128 => None,
        }
    }
}

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            CountRepr::Small(v) => write!(f, "{v}"),
            CountRepr::TwoTo128 => f.write_str("340282366920938463463374607431768211456"),
        }
    }
}

impl Serialize for Count {
    /// A JSON number; 2^128, which no JSON library reads as an integer, is written as a string.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            CountRepr::Small(v) => match u64::try_from(v) {
                Ok(v) => s.serialize_u64(v),
                Err(_) => s.serialize_u128(v),
            },
            CountRepr::TwoTo128 => s.collect_str(self),
        }
    }
}

/// Everything about one prefix: the subnet math of slide 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubnetInfo {
    /// The address as given.
    pub address: IpAddr,
    pub family: Family,
    pub prefix: u8,
    /// Dotted netmask (IPv4) or the mask written as an IPv6 address.
    pub netmask: IpAddr,
    /// The netmask inverted (Cisco ACL style).
    pub wildcard: IpAddr,
    pub network: IpAddr,
    /// The directed broadcast address: IPv4 only, and not on /31 or /32 (RFC 3021).
    pub broadcast: Option<IpAddr>,
    pub first_host: IpAddr,
    pub last_host: IpAddr,
    /// Addresses a host can use.
    pub usable_hosts: Count,
    /// All addresses in the prefix.
    pub total_addresses: Count,
}

/// The subnet math for a prefix.
///
/// Usable hosts follow the conventions Python's `ipaddress` uses: IPv4 leaves out the network
/// and broadcast addresses except on /31 (point-to-point, RFC 3021) and /32; IPv6 leaves out
/// only the Subnet-Router anycast address (the network address) except on /127 and /128.
pub fn subnet(c: &Cidr) -> SubnetInfo {
    let family = c.family();
    let mask = mask_bits(family, c.prefix);
    let host = low_ones(c.host_bits());
    let net = to_u128(c.addr) & mask;
    let last = net | host;
    let total = Count::pow2(c.host_bits());
    let (first_host, last_host, usable, broadcast) = match (family, c.host_bits()) {
        (_, 0 | 1) => (net, last, total, None),
        (Family::V4, _) => (net + 1, last - 1, total.minus(2), Some(from_u128(family, last))),
        (Family::V6, _) => (net + 1, last, total.minus(1), None),
    };
    SubnetInfo {
        address: c.addr,
        family,
        prefix: c.prefix,
        netmask: from_u128(family, mask),
        wildcard: from_u128(family, host),
        network: from_u128(family, net),
        broadcast,
        first_host: from_u128(family, first_host),
        last_host: from_u128(family, last_host),
        usable_hosts: usable,
        total_addresses: total,
    }
}

/// Whether `host` (on network `local`) speaks to `other` directly or through the router:
/// the lecture's definition of a netmask, made executable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Route {
    /// Same subnet: delivered directly on the link.
    Direct,
    /// Another subnet: handed to the router.
    ViaRouter,
}

/// Decide `Route` for `other` as seen from the host `local`.
pub fn route_to(local: &Cidr, other: IpAddr) -> Route {
    if local.contains(other) { Route::Direct } else { Route::ViaRouter }
}

/// The classful address class of an IPv4 address (A–E), as older texts teach.
pub fn classful(ip: Ipv4Addr) -> char {
    match ip.octets()[0] {
        0..=127 => 'A',
        128..=191 => 'B',
        192..=223 => 'C',
        224..=239 => 'D',
        _ => 'E',
    }
}

mod plan;
mod special;
#[cfg(test)]
mod tests;

pub use plan::{Allocation, PlanError, SPLIT_LIMIT, prefix_for_hosts, split, unallocated, vlsm};
pub use special::{Classification, SPECIAL_BLOCKS, SpecialBlock, classify, embedded_ipv4};

pub mod report;
