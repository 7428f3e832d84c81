//! The IANA special-purpose address registries (with the multicast and site-local blocks) and
//! what an address is by them: private, loopback, documentation, global, ...

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

use super::{Cidr, classful};

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
    let low = super::low32(v6.to_bits());
    (s[..6] == [0; 6] && low > 1).then(|| Ipv4Addr::from(low))
}
