//! The chat's discovery datagrams: a client's probe, a server's reply (never longer than the
//! probe), and the rate limit on replies to one source.

use crate::chat::sanitize;

/// The first bytes of a discovery probe.
pub const PROBE_MAGIC: &[u8] = b"SOCKIT-CHAT? 1\n";
/// The first bytes of a discovery reply.
pub const REPLY_MAGIC: &str = "SOCKIT-CHAT! 1";
/// How long a client makes its probe, so that replies (never longer) have room.
pub const PROBE_SIZE: usize = 512;

/// How many discovery replies one source address gets: a burst of `BURST`, then `RATE` a
/// second. Replies are never larger than probes, and this keeps a server from being used as
/// a reflector against an address that spoofed probes come "from".
#[derive(Debug, Default)]
pub struct ReplyLimit {
    /// Source -> (tokens, when last counted).
    sources: std::collections::HashMap<std::net::IpAddr, (f64, std::time::Instant)>,
}

impl ReplyLimit {
    pub const BURST: f64 = 10.0;
    pub const RATE: f64 = 5.0;
    /// Sources remembered at once; past it the table is cleared of full buckets.
    const SOURCES: usize = 4096;

    /// Whether a probe from `from` at `now` gets a reply.
    pub fn allow(&mut self, from: std::net::IpAddr, now: std::time::Instant) -> bool {
        if self.sources.len() >= Self::SOURCES {
            // Sources whose buckets have refilled need no memory.
            self.sources.retain(|_, (t, at)| *t + now.duration_since(*at).as_secs_f64() * Self::RATE < Self::BURST);
            if self.sources.len() >= Self::SOURCES {
                return false;
            }
        }
        let (tokens, at) = self.sources.entry(from).or_insert((Self::BURST, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * Self::RATE).min(Self::BURST);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// A probe padded to `PROBE_SIZE` bytes.
pub fn probe() -> Vec<u8> {
    let mut p = PROBE_MAGIC.to_vec();
    p.resize(PROBE_SIZE, b' ');
    p
}

/// Whether a datagram is a probe.
pub fn is_probe(datagram: &[u8]) -> bool {
    datagram.starts_with(PROBE_MAGIC)
}

/// What a server says about itself in a discovery reply.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ServerInfo {
    pub room: String,
    pub port: u16,
    pub users: u64,
    pub version: String,
    /// The chat port speaks TLS.
    pub tls: bool,
    /// The address the chat port is bound to, when it is one address (not every one): the
    /// client joins there rather than where the reply came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addr: Option<std::net::IpAddr>,
    /// The server's identity for this run: one server heard over IPv4 and IPv6 (or on two
    /// interfaces) is one server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The cluster the server is part of (`--cluster-name`), if it is in one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
}

/// The reply to a probe of `probe_len` bytes: never longer than the probe, so a spoofed
/// probe cannot be used to amplify traffic. `None` when even the shortest reply does not fit.
pub fn reply(info: &ServerInfo, probe_len: usize) -> Option<Vec<u8>> {
    let tls = if info.tls { " tls=1" } else { "" };
    let addr = info.addr.map_or(String::new(), |a| format!(" addr={a}"));
    let id = info.id.as_ref().map_or(String::new(), |i| format!(" id={i}"));
    let cluster = info.cluster.as_ref().map_or(String::new(), |c| format!(" cluster={c}"));
    let head = format!(
        "{REPLY_MAGIC} port={} users={} version={}{tls}{addr}{id}{cluster} room=",
        info.port, info.users, info.version
    );
    if head.len() + 1 > probe_len {
        return None;
    }
    let mut out = head.into_bytes();
    // The room name is cut (at a character boundary) to what fits.
    let room = sanitize(info.room.as_bytes());
    for c in room.chars() {
        if out.len() + c.len_utf8() + 1 > probe_len {
            break;
        }
        let mut b = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
    }
    out.push(b'\n');
    Some(out)
}

/// Read a discovery reply.
pub fn parse_reply(datagram: &[u8]) -> Option<ServerInfo> {
    let text = std::str::from_utf8(datagram).ok()?.trim_end_matches('\n');
    let rest = text.strip_prefix(REPLY_MAGIC)?.strip_prefix(' ')?;
    let (fields, room) = rest.split_once("room=")?;
    let mut info = ServerInfo {
        room: room.to_string(),
        port: 0,
        users: 0,
        version: String::new(),
        tls: false,
        addr: None,
        id: None,
        cluster: None,
    };
    for kv in fields.split_whitespace() {
        match kv.split_once('=')? {
            ("port", v) => info.port = v.parse().ok()?,
            ("users", v) => info.users = v.parse().ok()?,
            ("version", v) => info.version = v.to_string(),
            ("tls", v) => info.tls = v == "1",
            ("addr", v) => info.addr = Some(v.parse().ok()?),
            ("id", v) if v.len() <= 32 && v.bytes().all(|b| b.is_ascii_hexdigit()) => info.id = Some(v.to_string()),
            ("cluster", v) if crate::names::cluster_name_ok(v) => info.cluster = Some(v.to_string()),
            _ => {}
        }
    }
    (info.port != 0).then_some(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_to_one_source_are_limited_and_others_still_answered() {
        let mut limit = ReplyLimit::default();
        let t0 = std::time::Instant::now();
        let a: std::net::IpAddr = [198, 18, 0, 1].into();
        let b: std::net::IpAddr = [198, 18, 0, 2].into();
        let burst = (0..100).filter(|_| limit.allow(a, t0)).count();
        assert_eq!(burst, 10);
        assert!(limit.allow(b, t0), "another source is answered");
        let later = t0 + std::time::Duration::from_secs(1);
        assert_eq!((0..100).filter(|_| limit.allow(a, later)).count(), 5, "five a second after the burst");
    }

    #[test]
    fn discovery_replies_never_outgrow_the_probe() {
        let info = ServerInfo {
            room: "lobby ✓".into(),
            port: 40000,
            users: 3,
            version: "0.1.0".into(),
            tls: false,
            addr: None,
            id: Some("0123456789abcdef".into()),
            cluster: None,
        };
        let r = reply(&info, PROBE_SIZE).expect("fits");
        assert!(String::from_utf8_lossy(&r).contains(" id=0123456789abcdef room="));
        assert!(r.len() <= PROBE_SIZE);
        assert_eq!(parse_reply(&r), Some(info.clone()));
        let long = ServerInfo { room: "r".repeat(2000), ..info.clone() };
        for len in [60, 64, 100, 512] {
            if let Some(r) = reply(&long, len) {
                assert!(r.len() <= len, "{len}: {}", r.len());
                assert!(parse_reply(&r).is_some());
            }
        }
        assert_eq!(reply(&info, 10), None);
        assert!(is_probe(&probe()) && probe().len() == PROBE_SIZE);
        assert!(!is_probe(b"hello"));
        assert_eq!(parse_reply(b"SOCKIT-CHAT! 1 port=x users=1 version=1 room=a"), None);
        let bound = ServerInfo { addr: Some("::1".parse().expect("ip")), ..info.clone() };
        let r = reply(&bound, PROBE_SIZE).expect("fits");
        assert!(String::from_utf8_lossy(&r).contains(" addr=::1 id=0123456789abcdef room="));
        assert_eq!(parse_reply(&r), Some(bound));
        let tls = ServerInfo { tls: true, ..info.clone() };
        let r = reply(&tls, PROBE_SIZE).expect("fits");
        assert!(String::from_utf8_lossy(&r).contains(" tls=1 id=0123456789abcdef room="));
        assert_eq!(parse_reply(&r), Some(tls));
        let clustered = ServerInfo { cluster: Some("lab-2".into()), ..info };
        let r = reply(&clustered, PROBE_SIZE).expect("fits");
        assert!(String::from_utf8_lossy(&r).contains(" id=0123456789abcdef cluster=lab-2 room="));
        assert_eq!(parse_reply(&r), Some(clustered));
        let odd = b"SOCKIT-CHAT! 1 port=9 users=1 version=1 cluster=a\x1b room=r";
        assert_eq!(parse_reply(odd).map(|i| i.cluster), Some(None), "a cluster name that is no name is left out");
    }
}
