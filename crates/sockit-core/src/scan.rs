//! What `sockit scan` is asked: port lists and targets, parsed and checked before a single
//! packet is sent.

use std::net::IpAddr;

use serde::Serialize;

use crate::addr::{self, Cidr, Family};
use crate::services::{COMMON, parse_port};

/// A mistake in a port list or a target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("empty port list: give ports like 22,80,8000-8100, or all, common, well-known")]
    EmptyPorts,
    #[error("port {0} cannot be scanned: ports are 1-65535")]
    PortZero(String),
    #[error(
        "'{0}' in the port list is not a port, a range or a TCP service: write 22,80,8000-8100, ssh,http or all, common, well-known"
    )]
    BadPort(String),
    #[error("range {0} runs backwards: write the lower port first")]
    Backwards(String),
    #[error("empty target: give a host name, an address, a CIDR block (10.0.0.0/24) or a range (10.0.0.1-20)")]
    EmptyTarget,
    #[error("'{0}' is not a target: give a host name, an address, a CIDR block or a range like 10.0.0.1-20")]
    BadTarget(String),
    #[error(transparent)]
    Addr(#[from] addr::AddrError),
}

/// Parse a port list: `22,80,8000-8100`, service names (`ssh,http`, TCP ports from IANA's
/// registry), `all` (1–65535), `common` (the lecture's table), `well-known` (1–1023), in any
/// combination. The result is sorted, without repeats.
pub fn parse_ports(spec: &str) -> Result<Vec<u16>, SpecError> {
    let mut ports: Vec<u16> = Vec::new();
    let registry = crate::services::Registry::builtin();
    for item in spec.split(',').map(str::trim) {
        match item.to_ascii_lowercase().as_str() {
            "" => continue,
            "all" | "-" => ports.extend(1..=65535),
            "common" => ports.extend(COMMON.iter().flat_map(|c| c.0..=c.1)),
            "well-known" | "system" => ports.extend(1..=1023),
            name if name.bytes().any(|b| b.is_ascii_alphabetic()) => {
                let found = registry.by_name(name, Some(crate::services::Proto::Tcp));
                if found.is_empty() {
                    return Err(SpecError::BadPort(item.to_string()));
                }
                ports.extend(found);
            }
            _ => {
                let port = |s: &str| match parse_port(s) {
                    Ok(0) => Err(SpecError::PortZero(s.to_string())),
                    Ok(p) => Ok(p),
                    Err(crate::services::PortError::OutOfRange(_)) => Err(SpecError::PortZero(s.to_string())),
                    Err(_) => Err(SpecError::BadPort(item.to_string())),
                };
                match item.split_once('-') {
                    Some((a, b)) => {
                        let (lo, hi) = (port(a)?, port(b)?);
                        if lo > hi {
                            return Err(SpecError::Backwards(item.to_string()));
                        }
                        ports.extend(lo..=hi);
                    }
                    None => ports.push(port(item)?),
                }
            }
        }
    }
    ports.sort_unstable();
    ports.dedup();
    if ports.is_empty() {
        return Err(SpecError::EmptyPorts);
    }
    Ok(ports)
}

/// One target as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A host name, resolved before the scan.
    Name(String),
    /// An IPv6 address in a zone (`fe80::1%eth0`): the interface is looked up before the scan.
    Scoped(std::net::Ipv6Addr, String),
    /// Addresses: one, a CIDR block, or a range; `first..=last` as integers of the family.
    Block { family: Family, first: u128, last: u128 },
}

impl Target {
    /// Parse `host`, `ADDR`, `ADDR/PREFIX`, `A.B.C.D-E` (last octet) or `ADDR-ADDR`.
    pub fn parse(s: &str) -> Result<Target, SpecError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(SpecError::EmptyTarget);
        }
        if s.contains('/') {
            let c = Cidr::parse(s)?;
            let s = addr::subnet(&c);
            return Ok(block(s.network, last_of(&c)));
        }
        if let Some((a, b)) = s.split_once('-')
            && let Ok(first) = addr::parse_ip(a)
        {
            let last = match (first, addr::parse_ip(b)) {
                (_, Ok(last)) => last,
                // 10.0.0.1-20: the last octet.
                (IpAddr::V4(f), Err(_)) => {
                    let octet: u8 = b.parse().map_err(|_| SpecError::BadTarget(s.to_string()))?;
                    let [x, y, z, _] = f.octets();
                    IpAddr::from([x, y, z, octet])
                }
                _ => return Err(SpecError::BadTarget(s.to_string())),
            };
            if Family::of(first) != Family::of(last) || to_u128(last) < to_u128(first) {
                return Err(SpecError::BadTarget(s.to_string()));
            }
            return Ok(block(first, last));
        }
        if let Some((ip, zone)) = crate::endpoint::parse_scoped(s) {
            return Ok(Target::Scoped(ip, zone));
        }
        match addr::parse_ip(s) {
            Ok(ip) => Ok(block(ip, ip)),
            // Looks like an address but is not one (300.1.2.3): say why.
            Err(e @ (addr::AddrError::OctetTooLarge { .. } | addr::AddrError::LeadingZero { .. })) => Err(e.into()),
            Err(_) if is_host_name(s) => Ok(Target::Name(s.to_string())),
            Err(_) => Err(SpecError::BadTarget(s.to_string())),
        }
    }

    /// How many addresses the target names (a name counts as one).
    pub fn count(&self) -> u128 {
        match self {
            Target::Name(_) | Target::Scoped(..) => 1,
            Target::Block { first, last, .. } => (last - first).saturating_add(1),
        }
    }

    /// Whether a block holds `ip` (a name or a zoned address holds nothing).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match self {
            Target::Block { family, first, last } => {
                Family::of(ip) == *family && (*first..=*last).contains(&to_u128(ip))
            }
            _ => false,
        }
    }

    /// Whether a block's every address is a loopback one (127.0.0.0/8, ::1); a name or a
    /// zoned address is not known to be.
    pub fn is_loopback(&self) -> bool {
        match self {
            Target::Block { family: Family::V4, first, last } => first >> 24 == 127 && last >> 24 == 127,
            Target::Block { family: Family::V6, first, last } => *first == 1 && *last == 1,
            _ => false,
        }
    }

    /// The addresses of a block (nothing for a name or a zoned address).
    pub fn addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        let (family, first, last) = match self {
            Target::Name(_) | Target::Scoped(..) => (Family::V4, 1, 0),
            Target::Block { family, first, last } => (*family, *first, *last),
        };
        // first > last (a name) yields nothing.
        (first..=last).map(move |v| match family {
            Family::V4 => IpAddr::from(crate::addr::low32(v).to_be_bytes()),
            Family::V6 => IpAddr::from(v.to_be_bytes()),
        })
    }
}

fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn last_of(c: &Cidr) -> IpAddr {
    let s = addr::subnet(c);
    // The last address of the block: the broadcast for IPv4, the last host otherwise.
    s.broadcast.unwrap_or(s.last_host)
}

fn block(first: IpAddr, last: IpAddr) -> Target {
    Target::Block { family: Family::of(first), first: to_u128(first), last: to_u128(last) }
}

fn is_host_name(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !label.starts_with('-')
        })
        && s.bytes().any(|b| b.is_ascii_alphabetic())
}

/// What a probe found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PortState {
    /// The connection was accepted.
    Open,
    /// Refused: a reset came back, nothing listens.
    Closed,
    /// No answer within the timeout, or the host or network was unreachable.
    Filtered,
    /// UDP: no answer at all, from a service or about one (an open port that ignores what it
    /// was sent, or a firewall that drops it).
    #[serde(rename = "open|filtered")]
    OpenFiltered,
}

impl PortState {
    pub fn as_str(self) -> &'static str {
        match self {
            PortState::Open => "open",
            PortState::Closed => "closed",
            PortState::Filtered => "filtered",
            PortState::OpenFiltered => "open|filtered",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_blocks_are_told_from_the_rest() {
        for (t, want) in [
            ("127.0.0.1", true),
            ("127.0.0.0/8", true),
            ("127.1.2.3-9", true),
            ("::1", true),
            ("126.255.255.255-127.0.0.1", false),
            ("127.255.255.255-128.0.0.0", false),
            ("198.18.0.2", false),
            ("::/127", false),
            ("localhost", false),
        ] {
            assert_eq!(Target::parse(t).expect(t).is_loopback(), want, "{t}");
        }
    }

    #[test]
    fn port_lists() {
        assert_eq!(parse_ports("22,80,8000-8002"), Ok(vec![22, 80, 8000, 8001, 8002]));
        assert_eq!(parse_ports("80,22,80"), Ok(vec![22, 80]));
        assert_eq!(parse_ports("ssh,http,HTTPS,8080"), Ok(vec![22, 80, 443, 8080]));
        assert_eq!(parse_ports("all").map(|p| p.len()), Ok(65535));
        assert_eq!(parse_ports("well-known").map(|p| (p.len(), p[0], p[1022])), Ok((1023, 1, 1023)));
        assert_eq!(parse_ports("common"), Ok(vec![21, 22, 23, 25, 79, 80, 110, 123, 137, 138, 139, 143, 443]));
        assert_eq!(parse_ports("common,8080").map(|p| p.len()), Ok(14));
        assert_eq!(parse_ports("0"), Err(SpecError::PortZero("0".into())));
        assert_eq!(parse_ports("70000"), Err(SpecError::PortZero("70000".into())));
        assert_eq!(parse_ports("10-5"), Err(SpecError::Backwards("10-5".into())));
        assert_eq!(parse_ports("nosuchservice"), Err(SpecError::BadPort("nosuchservice".into())));
        assert_eq!(parse_ports(""), Err(SpecError::EmptyPorts));
        assert_eq!(parse_ports(",,"), Err(SpecError::EmptyPorts));
    }

    #[test]
    fn targets() {
        let t = Target::parse("198.18.0.0/30").expect("cidr");
        assert_eq!(t.count(), 4);
        let addrs: Vec<String> = t.addresses().map(|a| a.to_string()).collect();
        assert_eq!(addrs, ["198.18.0.0", "198.18.0.1", "198.18.0.2", "198.18.0.3"]);
        assert_eq!(Target::parse("10.0.0.1-20").expect("range").count(), 20);
        assert_eq!(Target::parse("10.0.0.250-10.0.1.5").expect("range").count(), 12);
        assert_eq!(Target::parse("::1").expect("v6").addresses().next(), Some("::1".parse().expect("ip")));
        assert_eq!(Target::parse("2001:db8::/120").expect("v6").count(), 256);
        assert_eq!(Target::parse("10.0.0.0/8").expect("big").count(), 1 << 24);
        assert_eq!(Target::parse("localhost"), Ok(Target::Name("localhost".into())));
        assert_eq!(Target::parse("host-1.example.com"), Ok(Target::Name("host-1.example.com".into())));
        assert!(matches!(Target::parse("300.1.2.3"), Err(SpecError::Addr(_))));
        assert!(matches!(Target::parse("10.0.0.20-1"), Err(SpecError::BadTarget(_))));
        assert!(matches!(Target::parse("10.0.0.1-::1"), Err(SpecError::BadTarget(_))));
        assert!(matches!(Target::parse("bad name!"), Err(SpecError::BadTarget(_))));
        assert!(matches!(Target::parse("10.0.0.0/33"), Err(SpecError::Addr(_))));
        assert_eq!(Target::parse(""), Err(SpecError::EmptyTarget));
    }
}

/// A host as scanned: the name it was given as, if any, and the address probed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedHost {
    pub name: Option<String>,
    pub address: IpAddr,
    /// The interface index of a zoned IPv6 address (0: none).
    pub scope_id: u32,
}

/// Past this many addresses a scan needs `--yes`, and its report streams: only hosts with an
/// open port are listed, each as its group of hosts is done, and the totals count the rest.
pub const LISTED_AT_MOST: u128 = 65_536;

/// A scan of more addresses than it makes unasked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("that is {total} addresses")]
pub struct TooMany {
    pub total: u128,
}

/// Whether `total` addresses may be scanned: past `LISTED_AT_MOST` only when `confirmed`.
pub fn allowed(total: u128, confirmed: bool) -> Result<(), TooMany> {
    if total > LISTED_AT_MOST && !confirmed { Err(TooMany { total }) } else { Ok(()) }
}

/// The targets a line of a list names: whitespace- or comma-separated words, `#` to the end of
/// the line a comment (as nmap's `-iL` and RustScan's files).
pub fn list_words(line: &str) -> impl Iterator<Item = &str> {
    let line = line.split('#').next().unwrap_or("");
    line.split(|c: char| c.is_whitespace() || c == ',').filter(|w| !w.is_empty())
}

/// What a scan found, host by host: the model `scan --json` prints and the text is laid out
/// from.
#[derive(Debug, Clone, Serialize)]
pub struct ScanReport {
    pub hosts: Vec<HostReport>,
    #[serde(flatten)]
    pub totals: ScanTotals,
}

/// How a scan's probes were made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScanMethod {
    /// A connect() a probe.
    #[default]
    Connect,
    /// A SYN on a raw socket, no connection (CAP_NET_RAW).
    Syn,
    /// A datagram a probe, ICMP errors read back.
    Udp,
    /// A connect a probe through a proxy.
    Proxy,
}

impl ScanMethod {
    /// As the scan's last line says it: `SYN scan`.
    pub fn as_str(self) -> &'static str {
        match self {
            ScanMethod::Connect => "connect scan",
            ScanMethod::Syn => "SYN scan",
            ScanMethod::Udp => "UDP scan",
            ScanMethod::Proxy => "connect scan through the proxy",
        }
    }
}

/// What a whole scan counted; a scan too large to hold streams its hosts and ends with this.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScanTotals {
    /// How the probes were made.
    pub method: ScanMethod,
    pub hosts_scanned: u128,
    pub ports_per_host: usize,
    pub open: u64,
    pub closed: u64,
    pub filtered: u64,
    /// UDP ports nothing answered for.
    #[serde(skip_serializing_if = "is_zero")]
    pub open_filtered: u64,
    pub elapsed_ms: u128,
    /// Self-connects seen (and reported closed).
    pub self_connects: u64,
}

impl ScanTotals {
    /// Count one host's ports.
    pub fn add(&mut self, h: &HostReport) {
        self.hosts_scanned += 1;
        self.open += h.open as u64;
        self.closed += h.closed as u64;
        self.filtered += h.filtered as u64;
        self.open_filtered += h.open_filtered as u64;
    }
}

fn is_zero<T: Default + PartialEq>(n: &T) -> bool {
    *n == T::default()
}

#[derive(Debug, Clone, Serialize)]
pub struct HostReport {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub address: IpAddr,
    pub open: usize,
    pub closed: usize,
    pub filtered: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub open_filtered: usize,
    /// Every port scanned (only open ones when asked), in port order.
    pub ports: Vec<PortResult>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PortResult {
    pub port: u16,
    pub state: PortState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// What the service said first (`scan --banner`): its first line, escaped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub banner: Option<String>,
    /// What only some scans say (a UDP scan, `--service`), boxed: a scan of millions of
    /// addresses holds a group's ports at once.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub more: Option<Box<PortMore>>,
}

/// A port's result beyond its state, from a UDP scan or `scan --service`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PortMore {
    /// Why the state is what it is (a UDP scan's: `udp-response`, `port-unreach`,
    /// `host-unreach`, `admin-prohibited`, `no-response` ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// A UDP port (a TCP one otherwise).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub udp: bool,
    /// What `scan --service` found running, as nmap -sV names it: the product, its version,
    /// and more (`protocol 2.0`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<String>,
    /// What the service was found inside (`ssl`: TLS), as nmap -sV's XML says it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<&'static str>,
}

impl PortResult {
    /// A UDP port's.
    pub fn udp(&self) -> bool {
        self.more.as_ref().is_some_and(|m| m.udp)
    }

    /// The rest of the result, made when first written.
    pub fn more_mut(&mut self) -> &mut PortMore {
        self.more.get_or_insert_with(Box::default)
    }
}

impl HostReport {
    /// The reports of `hosts` from the states of every (host, port) pair, host-major
    /// (`states[h * ports.len() + p]`), naming each port's service (closed ones too, as nmap
    /// does).
    pub fn of_hosts(
        hosts: &[ScannedHost],
        ports: &[u16],
        states: &[PortState],
        service: impl Fn(u16) -> Option<String>,
        only_open: bool,
    ) -> Vec<HostReport> {
        hosts
            .iter()
            .zip(states.chunks(ports.len().max(1)))
            .map(|(host, states)| {
                let count = |s: PortState| states.iter().filter(|&&x| x == s).count();
                let ports = ports
                    .iter()
                    .zip(states)
                    .filter(|&(_, &s)| !only_open || s == PortState::Open)
                    .map(|(&port, &state)| PortResult { port, state, service: service(port), banner: None, more: None })
                    .collect();
                HostReport {
                    name: host.name.clone(),
                    address: host.address,
                    open: count(PortState::Open),
                    closed: count(PortState::Closed),
                    filtered: count(PortState::Filtered),
                    open_filtered: count(PortState::OpenFiltered),
                    ports,
                }
            })
            .collect()
    }
}

/// The order probes go out in: job `j` is `(a * j + c) mod n` with `a` coprime to `n`, a
/// bijection on `0..n` that needs no memory, so any number of probes can be shuffled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permutation {
    n: u64,
    a: u64,
    c: u64,
}

impl Permutation {
    /// In order without a seed; shuffled from `seed` (xorshift64*) with one.
    pub fn new(n: u64, seed: Option<u64>) -> Permutation {
        let Some(mut seed) = seed.filter(|_| n >= 2) else { return Permutation { n, a: 1, c: 0 } };
        let mut next = || {
            seed ^= seed >> 12;
            seed ^= seed << 25;
            seed ^= seed >> 27;
            seed.wrapping_mul(0x2545_f491_4f6c_dd1d)
        };
        let c = next() % n;
        let mut a = (next() % n) | 1;
        while gcd(a, n) != 1 {
            a = (a + 1) % n;
            if a == 0 {
                a = 1;
            }
        }
        Permutation { n, a, c }
    }

    /// How many jobs there are.
    pub fn len(&self) -> u64 {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The job to run `j`-th.
    pub fn at(&self, j: u64) -> u64 {
        // Below n, a u64.
        u64::try_from((u128::from(self.a) * u128::from(j) + u128::from(self.c)) % u128::from(self.n)).unwrap_or(0)
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod permutation_tests {
    use super::*;

    #[test]
    fn permutation_is_a_bijection() {
        for n in [1u64, 2, 3, 10, 1024, 65535, 65536, 100_003] {
            for seed in [1u64, 0xdead_beef, u64::MAX] {
                let p = Permutation::new(n, Some(seed));
                let mut seen = vec![false; usize::try_from(n).expect("n")];
                for j in 0..n {
                    let v = usize::try_from(p.at(j)).expect("index");
                    assert!(!seen[v], "n={n}: {v} twice");
                    seen[v] = true;
                }
            }
        }
        let p = Permutation::new(10, None);
        assert_eq!((0..10).map(|j| p.at(j)).collect::<Vec<_>>(), (0..10).collect::<Vec<_>>());
    }
}
