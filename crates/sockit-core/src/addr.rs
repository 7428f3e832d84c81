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

/// The address of family `family` whose integer value is `v` (truncated to the family's width).
fn from_u128(family: Family, v: u128) -> IpAddr {
    match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::from(v as u32)),
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
            p as u8
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
    (m.checked_shl(ones).unwrap_or(0) == 0).then_some(ones as u8)
}

/// The dotted netmask of an IPv4 prefix length (0..=32).
pub fn prefix_to_netmask(prefix: u8) -> Ipv4Addr {
    Ipv4Addr::from(mask_bits(Family::V4, prefix.min(32)) as u32)
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
        (_, 0) | (_, 1) => (net, last, total, None),
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

/// One entry of the IANA special-purpose address registries (plus the multicast and
/// site-local blocks, which live in other registries but matter just as much).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SpecialBlock {
    /// The block, e.g. `10.0.0.0/8`.
    #[serde(serialize_with = "ser_block")]
    pub block: (IpAddr, u8),
    /// Short kind, stable for scripts: `private`, `loopback`, `documentation`, ...
    pub kind: &'static str,
    /// The registry's name for the block.
    pub name: &'static str,
    /// Defining document.
    pub rfc: &'static str,
    /// The registry's "globally reachable" column; `None` where it says N/A.
    pub globally_reachable: Option<bool>,
}

fn ser_block<S: serde::Serializer>(b: &(IpAddr, u8), s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!("{}/{}", b.0, b.1))
}

const fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

#[allow(clippy::too_many_arguments)]
const fn v6(a: u16, b: u16, c: u16, d: u16, e: u16, f: u16, g: u16, h: u16) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(a, b, c, d, e, f, g, h))
}

macro_rules! block {
    ($addr:expr, $prefix:expr, $kind:expr, $name:expr, $rfc:expr, $global:expr) => {
        SpecialBlock { block: ($addr, $prefix), kind: $kind, name: $name, rfc: $rfc, globally_reachable: $global }
    };
}

const T: Option<bool> = Some(true);
const F: Option<bool> = Some(false);
const NA: Option<bool> = None;

/// The IANA IPv4 and IPv6 special-purpose address registries (as of 2025), with multicast
/// and the deprecated site-local block added. Order does not matter: lookups pick every match
/// and sort by prefix length.
pub const SPECIAL_BLOCKS: &[SpecialBlock] = &[
    // IPv4 (iana-ipv4-special-registry)
    block!(v4(0, 0, 0, 0), 8, "this-network", "\"This network\"", "RFC 791", F),
    block!(v4(0, 0, 0, 0), 32, "unspecified", "\"This host on this network\"", "RFC 1122", F),
    block!(v4(10, 0, 0, 0), 8, "private", "Private-Use", "RFC 1918", F),
    block!(v4(100, 64, 0, 0), 10, "shared", "Shared Address Space (carrier-grade NAT)", "RFC 6598", F),
    block!(v4(127, 0, 0, 0), 8, "loopback", "Loopback", "RFC 1122", F),
    block!(v4(169, 254, 0, 0), 16, "link-local", "Link Local", "RFC 3927", F),
    block!(v4(172, 16, 0, 0), 12, "private", "Private-Use", "RFC 1918", F),
    block!(v4(192, 0, 0, 0), 24, "ietf-protocol", "IETF Protocol Assignments", "RFC 6890", F),
    block!(v4(192, 0, 0, 0), 29, "ietf-protocol", "IPv4 Service Continuity Prefix", "RFC 7335", F),
    block!(v4(192, 0, 0, 8), 32, "ietf-protocol", "IPv4 dummy address", "RFC 7600", F),
    block!(v4(192, 0, 0, 9), 32, "anycast", "Port Control Protocol Anycast", "RFC 7723", T),
    block!(v4(192, 0, 0, 10), 32, "anycast", "Traversal Using Relays around NAT Anycast", "RFC 8155", T),
    block!(v4(192, 0, 0, 170), 32, "ietf-protocol", "NAT64/DNS64 Discovery", "RFC 8880", F),
    block!(v4(192, 0, 0, 171), 32, "ietf-protocol", "NAT64/DNS64 Discovery", "RFC 8880", F),
    block!(v4(192, 0, 2, 0), 24, "documentation", "Documentation (TEST-NET-1)", "RFC 5737", F),
    block!(v4(192, 31, 196, 0), 24, "as112", "AS112-v4", "RFC 7535", T),
    block!(v4(192, 52, 193, 0), 24, "amt", "AMT", "RFC 7450", T),
    block!(v4(192, 88, 99, 0), 24, "deprecated", "Deprecated (6to4 Relay Anycast)", "RFC 7526", NA),
    block!(v4(192, 168, 0, 0), 16, "private", "Private-Use", "RFC 1918", F),
    block!(v4(192, 175, 48, 0), 24, "as112", "Direct Delegation AS112 Service", "RFC 7534", T),
    block!(v4(198, 18, 0, 0), 15, "benchmarking", "Benchmarking", "RFC 2544", F),
    block!(v4(198, 51, 100, 0), 24, "documentation", "Documentation (TEST-NET-2)", "RFC 5737", F),
    block!(v4(203, 0, 113, 0), 24, "documentation", "Documentation (TEST-NET-3)", "RFC 5737", F),
    block!(v4(224, 0, 0, 0), 4, "multicast", "Multicast", "RFC 5771", T),
    block!(v4(224, 0, 0, 0), 24, "multicast", "Local Network Control Block (multicast)", "RFC 5771", F),
    block!(v4(239, 0, 0, 0), 8, "multicast", "Administratively Scoped Block (multicast)", "RFC 2365", F),
    block!(v4(240, 0, 0, 0), 4, "reserved", "Reserved", "RFC 1112", F),
    block!(v4(255, 255, 255, 255), 32, "broadcast", "Limited Broadcast", "RFC 919", F),
    // IPv6 (iana-ipv6-special-registry)
    block!(v6(0, 0, 0, 0, 0, 0, 0, 1), 128, "loopback", "Loopback Address", "RFC 4291", F),
    block!(v6(0, 0, 0, 0, 0, 0, 0, 0), 128, "unspecified", "Unspecified Address", "RFC 4291", F),
    block!(v6(0, 0, 0, 0, 0, 0xffff, 0, 0), 96, "ipv4-mapped", "IPv4-mapped Address", "RFC 4291", F),
    block!(v6(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96, "translation", "IPv4-IPv6 Translation", "RFC 6052", T),
    block!(v6(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48, "translation", "IPv4-IPv6 Translation (local use)", "RFC 8215", F),
    block!(v6(0x100, 0, 0, 0, 0, 0, 0, 0), 64, "discard", "Discard-Only Address Block", "RFC 6666", F),
    block!(v6(0x100, 0, 0, 1, 0, 0, 0, 0), 64, "ietf-protocol", "Dummy IPv6 Prefix", "RFC 9780", F),
    block!(v6(0x2001, 0, 0, 0, 0, 0, 0, 0), 23, "ietf-protocol", "IETF Protocol Assignments", "RFC 2928", F),
    block!(v6(0x2001, 0, 0, 0, 0, 0, 0, 0), 32, "teredo", "TEREDO", "RFC 4380", NA),
    block!(v6(0x2001, 1, 0, 0, 0, 0, 0, 1), 128, "anycast", "Port Control Protocol Anycast", "RFC 7723", T),
    block!(v6(0x2001, 1, 0, 0, 0, 0, 0, 2), 128, "anycast", "Traversal Using Relays around NAT Anycast", "RFC 8155", T),
    block!(
        v6(0x2001, 1, 0, 0, 0, 0, 0, 3),
        128,
        "anycast",
        "DNS-SD Service Registration Protocol Anycast",
        "RFC 9665",
        T
    ),
    block!(v6(0x2001, 2, 0, 0, 0, 0, 0, 0), 48, "benchmarking", "Benchmarking", "RFC 5180", F),
    block!(v6(0x2001, 3, 0, 0, 0, 0, 0, 0), 32, "amt", "AMT", "RFC 7450", T),
    block!(v6(0x2001, 4, 0x112, 0, 0, 0, 0, 0), 48, "as112", "AS112-v6", "RFC 7535", T),
    block!(v6(0x2001, 0x10, 0, 0, 0, 0, 0, 0), 28, "deprecated", "Deprecated (previously ORCHID)", "RFC 4843", NA),
    block!(v6(0x2001, 0x20, 0, 0, 0, 0, 0, 0), 28, "orchid", "ORCHIDv2", "RFC 7343", T),
    block!(v6(0x2001, 0x30, 0, 0, 0, 0, 0, 0), 28, "drone-id", "Drone Remote ID Protocol Entity Tags", "RFC 9374", T),
    block!(v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32, "documentation", "Documentation", "RFC 3849", F),
    block!(v6(0x2002, 0, 0, 0, 0, 0, 0, 0), 16, "6to4", "6to4", "RFC 3056", NA),
    block!(v6(0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0), 48, "as112", "Direct Delegation AS112 Service", "RFC 7534", T),
    block!(v6(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20, "documentation", "Documentation", "RFC 9637", F),
    block!(v6(0x5f00, 0, 0, 0, 0, 0, 0, 0), 16, "segment-routing", "Segment Routing (SRv6) SIDs", "RFC 9602", F),
    block!(v6(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7, "unique-local", "Unique-Local", "RFC 4193", F),
    block!(v6(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10, "link-local", "Link-Local Unicast", "RFC 4291", F),
    block!(v6(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10, "site-local", "Site-Local (deprecated)", "RFC 3879", F),
    block!(v6(0xff00, 0, 0, 0, 0, 0, 0, 0), 8, "multicast", "Multicast", "RFC 4291", NA),
    // IPv6 space outside 2000::/3 that the IETF keeps in reserve (iana-ipv6-address-space).
    block!(v6(0, 0, 0, 0, 0, 0, 0, 0), 8, "reserved", "Reserved by IETF", "RFC 4291", F),
    block!(v6(0x100, 0, 0, 0, 0, 0, 0, 0), 8, "reserved", "Reserved by IETF", "RFC 4291", F),
    block!(v6(0x200, 0, 0, 0, 0, 0, 0, 0), 7, "reserved", "Reserved by IETF", "RFC 4048", F),
    block!(v6(0x400, 0, 0, 0, 0, 0, 0, 0), 6, "reserved", "Reserved by IETF", "RFC 4291", F),
    block!(v6(0x800, 0, 0, 0, 0, 0, 0, 0), 5, "reserved", "Reserved by IETF", "RFC 4291", F),
    block!(v6(0x1000, 0, 0, 0, 0, 0, 0, 0), 4, "reserved", "Reserved by IETF", "RFC 4291", F),
    block!(v6(0x4000, 0, 0, 0, 0, 0, 0, 0), 3, "reserved", "Reserved by IETF", "RFC 4291", F),
    block!(v6(0x6000, 0, 0, 0, 0, 0, 0, 0), 3, "reserved", "Reserved by IETF", "RFC 4291", F),
    block!(v6(0x8000, 0, 0, 0, 0, 0, 0, 0), 3, "reserved", "Reserved by IETF", "RFC 4291", F),
    block!(v6(0xa000, 0, 0, 0, 0, 0, 0, 0), 3, "reserved", "Reserved by IETF", "RFC 4291", F),
    block!(v6(0xc000, 0, 0, 0, 0, 0, 0, 0), 3, "reserved", "Reserved by IETF", "RFC 4291", F),
    block!(v6(0xe000, 0, 0, 0, 0, 0, 0, 0), 4, "reserved", "Reserved by IETF", "RFC 4291", F),
    block!(v6(0xf000, 0, 0, 0, 0, 0, 0, 0), 5, "reserved", "Reserved by IETF", "RFC 4291", F),
    block!(v6(0xf800, 0, 0, 0, 0, 0, 0, 0), 6, "reserved", "Reserved by IETF", "RFC 4291", F),
    block!(v6(0xfe00, 0, 0, 0, 0, 0, 0, 0), 9, "reserved", "Reserved by IETF", "RFC 4291", F),
];

/// What an address is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classification {
    /// The short kind of the most specific block, or `global` when none matches.
    pub kind: &'static str,
    /// Every matching block, most specific first.
    pub blocks: Vec<SpecialBlock>,
    /// Whether the address is globally reachable (routable on the public Internet).
    pub globally_reachable: bool,
    /// Private-use space: the lecture's three IPv4 networks (10/8, 172.16/12, 192.168/16)
    /// and IPv6's unique-local fc00::/7.
    pub private: bool,
    /// Classful A–E, IPv4 only.
    pub classful: Option<char>,
}

/// Classify an address against `SPECIAL_BLOCKS`.
pub fn classify(ip: IpAddr) -> Classification {
    let mut blocks: Vec<SpecialBlock> = SPECIAL_BLOCKS
        .iter()
        .filter(|b| Cidr { addr: b.block.0, prefix: b.block.1, prefix_given: true }.contains(ip))
        .copied()
        .collect();
    blocks.sort_by_key(|b| std::cmp::Reverse(b.block.1));
    let multicast_v6_global = match ip {
        // The scope nibble of an IPv6 multicast address: 0xe is global scope.
        IpAddr::V6(a) => a.segments()[0] & 0xff0f == 0xff0e,
        IpAddr::V4(_) => false,
    };
    // The most specific block that says yes or no decides; N/A blocks defer to wider ones.
    let globally_reachable = match blocks.iter().find_map(|b| b.globally_reachable) {
        Some(g) => g,
        None if blocks.iter().any(|b| b.kind == "multicast") => multicast_v6_global,
        None if blocks.is_empty() => true,
        None => false,
    };
    Classification {
        kind: blocks.first().map_or("global", |b| b.kind),
        private: blocks.iter().any(|b| b.rfc == "RFC 1918" || b.kind == "unique-local"),
        globally_reachable,
        classful: match ip {
            IpAddr::V4(a) => Some(classful(a)),
            IpAddr::V6(_) => None,
        },
        blocks,
    }
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`) or the deprecated IPv4-compatible
/// (`::a.b.c.d`, not `::` or `::1`) IPv6 address.
pub fn embedded_ipv4(ip: IpAddr) -> Option<Ipv4Addr> {
    let IpAddr::V6(v6) = ip else { return None };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = v6.segments();
    let low = v6.to_bits() as u32;
    (s[..6] == [0; 6] && low > 1).then(|| Ipv4Addr::from(low))
}

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

/// The most subnets `split` lists in one go.
pub const SPLIT_LIMIT: u128 = 1 << 20;

/// The subnets of `net` with prefix `new_prefix`, in address order.
pub fn split(net: &Cidr, new_prefix: u32) -> Result<impl Iterator<Item = Cidr> + use<>, PlanError> {
    let family = net.family();
    let max = family.bits();
    if new_prefix < u32::from(net.prefix) || new_prefix > u32::from(max) {
        return Err(PlanError::SplitPrefix { have: net.prefix, want: new_prefix, max });
    }
    let want = new_prefix as u8;
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
    let h = (128 - (need - 1).leading_zeros()).max(2) as u8;
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
        let info = subnet.map(|c| self::subnet(&c));
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
        while bits > 0 && next.checked_add(low_ones(bits as u8)).is_none_or(|last| last > end) {
            bits -= 1;
        }
        let last = next + low_ones(bits as u8);
        out.push(Cidr { addr: from_u128(family, next), prefix: family.bits() - bits as u8, prefix_given: true });
        if last >= end {
            return out;
        }
        next = last + 1;
    }
}

fn subnet_usable(c: &Cidr) -> Count {
    subnet(c).usable_hosts
}

#[cfg(test)]
mod tests;

pub mod report;
