//! Slide 2, "Common Services": port numbers and service names, both ways.
//!
//! The built-in table is the IANA registry, generated into `data/services.rs` (see
//! `data/gen_services.py`) and compiled in, so a lookup costs a binary search and nothing is
//! parsed at start-up. At run time `/etc/services` may be laid over it (`Registry::overlay`):
//! its names come first for a port, its aliases are honoured, and its local additions count.

use std::fmt;

use serde::Serialize;

/// A transport protocol of the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
    Sctp,
    Dccp,
}

use Proto::{Dccp as D, Sctp as S, Tcp as T, Udp as U};

/// One row of the built-in registry: a service name (kept in `IANA_NAMES`), a port or port
/// range, and a transport protocol. Rows hold offsets rather than `&str`s, so the table has no
/// pointers for the loader to relocate at every start.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Row {
    at: u32,
    len: u8,
    lo: u16,
    hi: u16,
    proto: Proto,
}

const fn r(at: u32, len: u8, lo: u16, hi: u16, proto: Proto) -> Row {
    Row { at, len, lo, hi, proto }
}

impl Row {
    fn name(&self) -> &'static str {
        let at = self.at as usize;
        // The generator checks every name is ASCII, so any offsets fall on char boundaries.
        IANA_NAMES.get(at..at + usize::from(self.len)).unwrap_or_default()
    }
}

include!("../data/services.rs");

impl Proto {
    /// The lower-case name used in /etc/services and the registry.
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Sctp => "sctp",
            Proto::Dccp => "dccp",
        }
    }

    pub fn parse(s: &str) -> Option<Proto> {
        [T, U, S, D].into_iter().find(|p| p.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The date of the newest entry in the built-in registry.
pub fn registry_date() -> &'static str {
    IANA_DATE
}

/// The three port ranges of RFC 6335.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PortClass {
    /// 0–1023, "well-known": binding needs privileges on most systems.
    System,
    /// 1024–49151, assigned by IANA on request.
    Registered,
    /// 49152–65535, never assigned: private and ephemeral use.
    Dynamic,
}

impl PortClass {
    pub fn of(port: u16) -> PortClass {
        match port {
            0..=1023 => PortClass::System,
            1024..=49151 => PortClass::Registered,
            _ => PortClass::Dynamic,
        }
    }

    /// A short description for people.
    pub fn describe(self) -> &'static str {
        match self {
            PortClass::System => "system (well-known, 0-1023: binding needs privileges)",
            PortClass::Registered => "registered (1024-49151)",
            PortClass::Dynamic => "dynamic (49152-65535)",
        }
    }
}

/// The lecture's "Common Services" slide, with its own words where it has them.
pub const COMMON: &[(u16, u16, &str, &str)] = &[
    (21, 21, "ftp", "file transfer"),
    (22, 22, "ssh", "secure shell"),
    (23, 23, "telnet", "remote terminal"),
    (25, 25, "smtp", "mail"),
    (79, 79, "finger", "user information"),
    (80, 80, "http", "web"),
    (110, 110, "pop3", "email retrieval"),
    (123, 123, "ntp", "network time"),
    (137, 139, "netbios", "Windows file sharing"),
    (143, 143, "imap", "email access"),
    (443, 443, "https", "secure web"),
];

/// The lecture's label for a port, if the slide names it.
pub fn lecture_label(port: u16) -> Option<&'static str> {
    COMMON.iter().find(|c| (c.0..=c.1).contains(&port)).map(|c| c.3)
}

/// A service name on a port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceName {
    pub name: String,
    /// The protocols this name is registered for on this port.
    pub protocols: Vec<Proto>,
    /// Other names for it (from /etc/services).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Where it was found: `iana` or `etc-services` (a local addition or override).
    pub source: &'static str,
}

/// One row of /etc/services, as places (start, end) in the file's text: its name, and the
/// rest of the row after the port (the aliases, separated by blanks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LocalEntry {
    name: (u32, u32),
    port: u16,
    proto: Proto,
    aliases: (u32, u32),
}

/// The service registry: the built-in IANA table, optionally overlaid with /etc/services.
/// The file's text is kept whole and its rows point into it: reading it costs two
/// allocations, not one a word.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    text: String,
    local: Vec<LocalEntry>,
    /// `local`'s rows in order of port (the file's order within a port): a port's rows found
    /// by a binary search, not a walk of the file (a scan of every port asks 65,535 times).
    on_port: Vec<usize>,
}

impl Registry {
    /// The built-in registry alone.
    pub fn builtin() -> Registry {
        Registry::default()
    }

    /// The built-in registry with the text of an /etc/services file laid over it. Lines that
    /// do not parse are skipped: a broken file is never an error.
    pub fn overlay(etc_services: &str) -> Registry {
        let text = etc_services.to_string();
        let base = text.as_ptr() as usize;
        // Where a word (a slice of `text`) starts and ends in it.
        let span = |w: &str| {
            let at = w.as_ptr() as usize - base;
            (u32::try_from(at).unwrap_or(u32::MAX), u32::try_from(at + w.len()).unwrap_or(u32::MAX))
        };
        // (Byte by byte and ASCII whitespace, as the C library reads the file: a one-shot
        // command reads all of it before it answers.)
        let local = text
            .lines()
            .filter_map(|line| {
                let line = line.get(..line.bytes().position(|b| b == b'#').unwrap_or(line.len()))?;
                let mut words = line.split_ascii_whitespace();
                let name = words.next()?;
                let port_proto = words.next()?;
                let (port, proto) = port_proto.split_once('/')?;
                let end = span(port_proto).1;
                Some(LocalEntry {
                    name: span(name),
                    port: port.parse().ok()?,
                    proto: Proto::parse(proto)?,
                    aliases: (end, span(line).1),
                })
            })
            .collect::<Vec<LocalEntry>>();
        let mut on_port: Vec<usize> = (0..local.len()).collect();
        on_port.sort_by_key(|&i| local[i].port);
        Registry { text, local, on_port }
    }

    fn word(&self, (start, end): (u32, u32)) -> &str {
        self.text.get(start as usize..end as usize).unwrap_or_default()
    }

    fn aliases(&self, e: &LocalEntry) -> impl Iterator<Item = &str> {
        self.word(e.aliases).split_ascii_whitespace()
    }

    /// A row's name, then its aliases.
    fn names_of(&self, e: &LocalEntry) -> impl Iterator<Item = &str> {
        std::iter::once(self.word(e.name)).chain(self.aliases(e))
    }

    /// Whether a row is `name` or has it for an alias (case aside).
    fn row_names(&self, e: &LocalEntry, name: &str) -> bool {
        self.names_of(e).any(|n| n.eq_ignore_ascii_case(name))
    }

    /// Every service name on `port`, filtered by protocol: the registry's names first, with
    /// /etc/services' names as aliases of the one they share a name with (Debian's `imap2
    /// 143/tcp imap` is an alias of IANA's imap), and its other names after them.
    pub fn by_port(&self, port: u16, proto: Option<Proto>) -> Vec<ServiceName> {
        let want = |p: Proto| proto.is_none_or(|w| w == p);
        let mut out: Vec<ServiceName> = Vec::new();
        for row in iana_on_port(port) {
            if want(row.proto) {
                add_service(&mut out, row.name(), row.proto, &[], "iana");
            }
        }
        for e in self.local_on_port(port).filter(|e| want(e.proto)) {
            match out.iter_mut().find(|s| s.source == "iana" && self.row_names(e, &s.name)) {
                Some(s) => {
                    if !s.protocols.contains(&e.proto) {
                        s.protocols.push(e.proto);
                    }
                    for n in self.names_of(e) {
                        if !n.eq_ignore_ascii_case(&s.name) && !s.aliases.iter().any(|a| a.eq_ignore_ascii_case(n)) {
                            s.aliases.push(n.to_string());
                        }
                    }
                }
                None => {
                    let aliases: Vec<String> = self.aliases(e).map(str::to_string).collect();
                    add_service(&mut out, self.word(e.name), e.proto, &aliases, "etc-services");
                }
            }
        }
        for s in &mut out {
            s.protocols.sort();
        }
        out
    }

    /// The first name `by_port` gives, without the rest: what a scan's report names each of
    /// its ports by.
    pub fn first_name(&self, port: u16, proto: Option<Proto>) -> Option<&str> {
        let want = |p: Proto| proto.is_none_or(|w| w == p);
        if let Some(row) = iana_on_port(port).find(|r| want(r.proto)) {
            return Some(row.name());
        }
        self.local_on_port(port).find(|e| want(e.proto)).map(|e| self.word(e.name))
    }

    /// The /etc/services rows on `port`, in the file's order.
    fn local_on_port(&self, port: u16) -> impl Iterator<Item = &LocalEntry> {
        let first = self.on_port.partition_point(|&i| self.local[i].port < port);
        self.on_port[first..].iter().map(|&i| &self.local[i]).take_while(move |e| e.port == port)
    }

    /// The ports, ascending, where `name` or an alias of it is registered (each port of a
    /// registered range), filtered by protocol. Names compare case-insensitively, as IANA's do.
    pub fn by_name(&self, name: &str, proto: Option<Proto>) -> Vec<u16> {
        let want = |p: Proto| proto.is_none_or(|w| w == p);
        let mut ports: Vec<u16> =
            self.local.iter().filter(|e| want(e.proto) && self.row_names(e, name)).map(|e| e.port).collect();
        let lower = name.to_ascii_lowercase();
        let start = IANA_BY_NAME.partition_point(|&i| IANA[usize::from(i)].name().to_ascii_lowercase() < lower);
        for &i in &IANA_BY_NAME[start..] {
            let row = IANA[usize::from(i)];
            if !row.name().eq_ignore_ascii_case(name) {
                break;
            }
            if want(row.proto) {
                ports.extend(row.lo..=row.hi);
            }
        }
        ports.sort_unstable();
        ports.dedup();
        ports
    }

    /// `name` and every name /etc/services gives as its alias or primary name.
    pub fn names_for(&self, name: &str) -> Vec<String> {
        let mut names = vec![name.to_string()];
        for e in self.local.iter().filter(|e| self.row_names(e, name)) {
            for n in self.names_of(e) {
                if !names.iter().any(|x| x.eq_ignore_ascii_case(n)) {
                    names.push(n.to_string());
                }
            }
        }
        names
    }
}

/// Add `name` on protocol `p` to `out`, or its protocol and aliases to the entry of that name.
fn add_service(out: &mut Vec<ServiceName>, name: &str, p: Proto, aliases: &[String], source: &'static str) {
    match out.iter_mut().find(|s| s.name.eq_ignore_ascii_case(name)) {
        Some(s) => {
            if !s.protocols.contains(&p) {
                s.protocols.push(p);
            }
            for a in aliases {
                if !s.aliases.contains(a) {
                    s.aliases.push(a.clone());
                }
            }
        }
        None => out.push(ServiceName { name: name.to_string(), protocols: vec![p], aliases: aliases.to_vec(), source }),
    }
}

/// The IANA rows that cover `port`, in registry order.
fn iana_on_port(port: u16) -> impl Iterator<Item = &'static Row> {
    let start = IANA.partition_point(|r| r.lo < port);
    let end = IANA.partition_point(|r| r.lo <= port);
    let ranges = IANA_RANGES.iter().map(|&i| &IANA[usize::from(i)]).filter(move |r| r.lo < port && port <= r.hi);
    IANA[start..end].iter().chain(ranges)
}

/// What one `sockit port` argument asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortQuery {
    Port(u16),
    /// Inclusive.
    Range(u16, u16),
    Name(String),
}

/// A port argument that cannot be right.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    #[error("empty port: give a number 0-65535, a range like 137-139, or a service name like ssh")]
    Empty,
    #[error("port {0} is out of range: ports are 0-65535")]
    OutOfRange(String),
    #[error("range {0} runs backwards: write the lower port first, like 137-139")]
    Backwards(String),
    #[error("'{0}' is not a port, a range or a service name: write 22, 137-139 or ssh")]
    Invalid(String),
}

/// Parse a port number (0–65535) alone.
pub fn parse_port(s: &str) -> Result<u16, PortError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(PortError::Empty);
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PortError::Invalid(s.to_string()));
    }
    // Any digit string too long or too large for u16 is out of range.
    s.parse::<u16>().map_err(|_| PortError::OutOfRange(s.to_string()))
}

impl PortQuery {
    /// `22/udp`, `ssh/tcp` (getent's form): the query and its protocol; without a suffix,
    /// `parse` and no protocol.
    pub fn parse_with_proto(s: &str) -> Result<(PortQuery, Option<Proto>), PortError> {
        let s = s.trim();
        if let Some((q, p)) = s.rsplit_once('/')
            && let Some(proto) = Proto::parse(p)
        {
            return Ok((PortQuery::parse(q)?, Some(proto)));
        }
        Ok((PortQuery::parse(s)?, None))
    }

    /// `22`, `137-139` or `ssh`.
    pub fn parse(s: &str) -> Result<PortQuery, PortError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(PortError::Empty);
        }
        if s.bytes().all(|b| b.is_ascii_digit()) {
            return parse_port(s).map(PortQuery::Port);
        }
        if let Some((a, b)) = s.split_once('-')
            && !a.is_empty()
            && a.bytes().all(|c| c.is_ascii_digit())
            && b.bytes().all(|c| c.is_ascii_digit())
        {
            let (lo, hi) = (parse_port(a)?, parse_port(b)?);
            if lo > hi {
                return Err(PortError::Backwards(s.to_string()));
            }
            return Ok(PortQuery::Range(lo, hi));
        }
        // Service names have a letter and no spaces; they may start with a digit (9pfs).
        let name_like = s.bytes().any(|b| b.is_ascii_alphabetic())
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.+*/".contains(&b))
            && !s.starts_with('-');
        if name_like { Ok(PortQuery::Name(s.to_string())) } else { Err(PortError::Invalid(s.to_string())) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_names_a_service_within_the_names() {
        assert!(IANA.iter().all(|r| !r.name().is_empty()
            && !r.name().starts_with(' ')
            && !r.name().bytes().any(|b| b.is_ascii_control())));
        let end = IANA.iter().map(|r| r.at as usize + usize::from(r.len)).max();
        assert_eq!(end, Some(IANA_NAMES.len()));
        assert_eq!(IANA.len(), 11700);
    }

    #[test]
    fn the_first_name_is_by_ports_first() {
        let text = "imap2 143/tcp imap\nfoo 4/tcp bar\nsockit-only 65000/udp alias\nsecond 65000/udp\n";
        for r in [Registry::builtin(), Registry::overlay(text)] {
            for port in 0..=u16::MAX {
                for p in [None, Some(Proto::Tcp), Some(Proto::Udp)] {
                    assert_eq!(r.first_name(port, p), r.by_port(port, p).first().map(|s| s.name.as_str()), "{port}");
                }
            }
        }
    }

    fn names(r: &Registry, port: u16, p: Option<Proto>) -> Vec<String> {
        r.by_port(port, p).into_iter().map(|s| s.name).collect()
    }

    #[test]
    fn the_lecture_table_is_in_the_registry() {
        let r = Registry::builtin();
        for &(lo, hi, name, _) in COMMON {
            if name == "netbios" {
                assert_eq!(names(&r, 137, Some(T)), ["netbios-ns"]);
                assert_eq!(names(&r, 138, Some(U)), ["netbios-dgm"]);
                assert_eq!(names(&r, 139, Some(T)), ["netbios-ssn"]);
                continue;
            }
            assert_eq!(lo, hi);
            assert_eq!(names(&r, lo, Some(T)).first().map(String::as_str), Some(name), "port {lo}");
            assert_eq!(r.by_name(name, Some(T)), [lo], "{name}");
        }
    }

    #[test]
    fn both_ways_and_protocols() {
        let r = Registry::builtin();
        let ssh = r.by_port(22, None);
        assert_eq!(ssh.len(), 1);
        assert_eq!(ssh[0].protocols, [T, U, S]);
        assert_eq!(names(&r, 80, Some(T)), ["http", "www", "www-http"]);
        assert_eq!(r.by_name("HTTPS", None), [443]);
        assert_eq!(r.by_name("x11", Some(T)).len(), 64, "a range gives each of its ports");
        assert_eq!(names(&r, 6010, Some(U)), ["x11"]);
        assert!(r.by_port(4, None).is_empty(), "4 is unassigned");
        assert!(r.by_name("no-such-service", None).is_empty());
        assert_eq!(registry_date(), "2024-04-30");
    }

    #[test]
    fn etc_services_overlays() {
        let r = Registry::overlay(
            "# local\nhttp 80/tcp www # WorldWideWeb\nmyapp 40000/tcp myalias\nbroken line\nbad 99999/tcp\nx 1/zzz\n",
        );
        assert_eq!(r.by_name("myapp", None), [40000]);
        assert_eq!(r.by_name("MYALIAS", Some(T)), [40000]);
        assert!(r.by_name("myapp", Some(U)).is_empty());
        let at80 = r.by_port(80, Some(T));
        assert_eq!(at80[0].name, "http");
        assert_eq!(at80[0].aliases, ["www"]);
        assert_eq!(at80[0].source, "iana");
        let local = r.by_port(40000, None).into_iter().find(|s| s.name == "myapp").expect("myapp");
        assert_eq!((local.source, local.aliases), ("etc-services", vec!["myalias".to_string()]));
        assert_eq!(r.names_for("www"), ["www", "http"]);
    }

    #[test]
    fn the_registry_name_comes_first_and_getent_form_parses() {
        let r = Registry::overlay("imap2 143/tcp imap\nimap2 143/udp imap\n");
        let at143 = r.by_port(143, None);
        assert_eq!(at143[0].name, "imap");
        assert_eq!(at143[0].aliases, ["imap2"]);
        assert_eq!(at143.len(), 1);
        assert_eq!(PortQuery::parse_with_proto("53/udp"), Ok((PortQuery::Port(53), Some(U))));
        assert_eq!(PortQuery::parse_with_proto("ssh/tcp"), Ok((PortQuery::Name("ssh".into()), Some(T))));
        assert_eq!(PortQuery::parse_with_proto("22"), Ok((PortQuery::Port(22), None)));
    }

    #[test]
    fn queries_parse_or_say_why_not() {
        assert_eq!(PortQuery::parse("22"), Ok(PortQuery::Port(22)));
        assert_eq!(PortQuery::parse("0"), Ok(PortQuery::Port(0)));
        assert_eq!(PortQuery::parse("65535"), Ok(PortQuery::Port(65535)));
        assert_eq!(PortQuery::parse("137-139"), Ok(PortQuery::Range(137, 139)));
        assert_eq!(PortQuery::parse("ssh"), Ok(PortQuery::Name("ssh".into())));
        assert_eq!(PortQuery::parse("9pfs"), Ok(PortQuery::Name("9pfs".into())));
        assert_eq!(PortQuery::parse("sql*net"), Ok(PortQuery::Name("sql*net".into())));
        assert_eq!(PortQuery::parse("70000"), Err(PortError::OutOfRange("70000".into())));
        assert_eq!(PortQuery::parse("99999999999999999999"), Err(PortError::OutOfRange("99999999999999999999".into())));
        assert_eq!(PortQuery::parse("10-5"), Err(PortError::Backwards("10-5".into())));
        assert_eq!(PortQuery::parse("1-70000"), Err(PortError::OutOfRange("70000".into())));
        assert_eq!(PortQuery::parse("-1"), Err(PortError::Invalid("-1".into())));
        assert_eq!(PortQuery::parse(""), Err(PortError::Empty));
        assert_eq!(PortQuery::parse("a b"), Err(PortError::Invalid("a b".into())));
        assert_eq!(PortClass::of(1023), PortClass::System);
        assert_eq!(PortClass::of(1024), PortClass::Registered);
        assert_eq!(PortClass::of(49152), PortClass::Dynamic);
    }
}

/// One port, described.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortAnswer {
    pub port: u16,
    pub class: PortClass,
    /// Inside this host's ephemeral (local) port range.
    pub ephemeral: bool,
    /// The lecture's label for the port, when the slide names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lecture: Option<&'static str>,
    /// Names registered on the port; empty when none is.
    pub services: Vec<ServiceName>,
}

/// The answer to a `sockit port` command.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PortReport {
    pub ports: Vec<PortAnswer>,
    /// Arguments that matched nothing (names not registered, ports with no service).
    pub not_found: Vec<String>,
}

/// The lecture's table as queries.
pub fn common_queries() -> Vec<PortQuery> {
    COMMON.iter().map(|&(lo, hi, ..)| if lo == hi { PortQuery::Port(lo) } else { PortQuery::Range(lo, hi) }).collect()
}

/// Answer queries against a registry, each for its protocol (`None`: every protocol).
/// `ephemeral` is the host's local port range.
pub fn report(reg: &Registry, queries: &[(PortQuery, Option<Proto>)], ephemeral: (u16, u16)) -> PortReport {
    let answer = |port: u16, services: Vec<ServiceName>| PortAnswer {
        port,
        class: PortClass::of(port),
        ephemeral: (ephemeral.0..=ephemeral.1).contains(&port),
        lecture: lecture_label(port),
        services,
    };
    let mut out = PortReport::default();
    for (q, proto) in queries {
        let proto = *proto;
        let shown = |what: String| match proto {
            Some(p) => format!("{what}/{p}"),
            None => what,
        };
        match q {
            PortQuery::Port(p) => {
                let services = reg.by_port(*p, proto);
                if services.is_empty() {
                    out.not_found.push(shown(p.to_string()));
                }
                out.ports.push(answer(*p, services));
            }
            PortQuery::Range(lo, hi) => {
                let before = out.ports.len();
                for p in *lo..=*hi {
                    let services = reg.by_port(p, proto);
                    if !services.is_empty() {
                        out.ports.push(answer(p, services));
                    }
                }
                if out.ports.len() == before {
                    out.not_found.push(shown(format!("{lo}-{hi}")));
                }
            }
            PortQuery::Name(n) => {
                let ports = reg.by_name(n, proto);
                if ports.is_empty() {
                    out.not_found.push(shown(n.clone()));
                }
                let names = reg.names_for(n);
                for p in ports {
                    let services = reg
                        .by_port(p, proto)
                        .into_iter()
                        .filter(|s| {
                            names.iter().any(|x| x.eq_ignore_ascii_case(&s.name))
                                || s.aliases.iter().any(|a| a.eq_ignore_ascii_case(n))
                        })
                        .collect();
                    out.ports.push(answer(p, services));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod report_tests {
    use super::*;

    #[test]
    fn names_ports_ranges_and_misses() {
        let reg = Registry::builtin();
        let qs: Vec<PortQuery> =
            ["ssh", "137-139", "4", "nosuch", "1-3"].iter().map(|s| PortQuery::parse(s).expect("q")).collect();
        let qs: Vec<(PortQuery, Option<Proto>)> = qs.into_iter().map(|q| (q, None)).collect();
        let r = report(&reg, &qs, (32768, 60999));
        let got: Vec<(u16, Vec<String>)> =
            r.ports.iter().map(|a| (a.port, a.services.iter().map(|s| s.name.clone()).collect())).collect();
        assert_eq!(got[0], (22, vec!["ssh".to_string()]));
        assert_eq!(got[1].0, 137);
        assert_eq!(r.ports[1].lecture, Some("Windows file sharing"));
        assert_eq!(got[4], (4, vec![]));
        assert_eq!(r.not_found, ["4", "nosuch"]);
        let r = report(&reg, &[(PortQuery::Port(40000), Some(Proto::Tcp))], (32768, 60999));
        assert!(r.ports[0].ephemeral);
        assert_eq!(r.ports[0].class, PortClass::Registered);
    }
}
