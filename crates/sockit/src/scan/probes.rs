//! nmap's service probes (`nmap-service-probes`, read from the system; never bundled: nmap's
//! licence): each probe's bytes, the ports it is for, its rarity and wait, and its match lines,
//! their PCRE patterns matched against what a service sent, the product, version and info they
//! name filled in from the pattern's groups (`$1`, `$P(1)`, `$SUBST(1,"_",".")`).

use pcre2::bytes::{Regex, RegexBuilder};

/// One `match` or `softmatch` line.
pub(super) struct Match {
    pub service: String,
    pub soft: bool,
    pattern: String,
    caseless: bool,
    dotall: bool,
    regex: std::sync::OnceLock<Option<Regex>>,
    /// `p/`, `v/`, `i/` templates.
    product: Option<String>,
    version: Option<String>,
    info: Option<String>,
}

/// One `Probe` with what follows it.
pub(super) struct Probe {
    pub tcp: bool,
    pub name: String,
    pub send: Vec<u8>,
    pub ports: Vec<(u16, u16)>,
    /// The ports it is meant for when the service is wrapped in TLS.
    pub sslports: Vec<(u16, u16)>,
    pub rarity: u8,
    pub wait_ms: u64,
    pub fallback: Vec<String>,
    pub matches: Vec<Match>,
}

/// What a match found: the service and what the templates made of the groups.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Found {
    pub service: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<String>,
    /// A soft match: the service, but not what it is.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub soft: bool,
    /// Found inside TLS (nmap's `ssl/` tunnel).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls: bool,
}

impl Probe {
    /// Whether the probe is meant for `port`, of a plain service or (`tls`) of one wrapped in
    /// TLS.
    pub(super) fn for_port(&self, port: u16, tls: bool) -> bool {
        let ports = if tls { &self.sslports } else { &self.ports };
        ports.iter().any(|&(a, b)| (a..=b).contains(&port))
    }
}

/// A C-style escaped string (`\r`, `\n`, `\0`, `\xHH`, `\\`) as bytes.
fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' || i + 1 == b.len() {
            out.push(b[i]);
            i += 1;
            continue;
        }
        i += 1;
        match b[i] {
            b'r' => out.push(b'\r'),
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'0' => out.push(0),
            b'a' => out.push(7),
            b'f' => out.push(12),
            b'v' => out.push(11),
            b'x' if i + 2 < b.len() + 1 => {
                if let Some(v) = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    out.push(v);
                    i += 2;
                } else {
                    out.push(b'x');
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    out
}

/// `X<d>text<d>` at the front of `s` (X one or more letters, `<d>` any delimiter): the text
/// and what follows.
fn delimited<'a>(s: &'a str, lead: &str) -> Option<(&'a str, &'a str)> {
    let rest = s.strip_prefix(lead)?;
    let d = rest.chars().next()?;
    let body = &rest[d.len_utf8()..];
    let end = body.find(d)?;
    Some((&body[..end], &body[end + d.len_utf8()..]))
}

fn ports(list: &str) -> Vec<(u16, u16)> {
    list.split(',')
        .filter_map(|p| match p.trim().split_once('-') {
            Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
            None => p.trim().parse().ok().map(|n| (n, n)),
        })
        .collect()
}

/// A `match` line's body (after `match ` or `softmatch `).
fn match_line(body: &str, soft: bool) -> Option<Match> {
    let (service, rest) = body.split_once(' ')?;
    let (pattern, rest) = delimited(rest, "m")?;
    let flags: String = rest.chars().take_while(char::is_ascii_alphabetic).collect();
    let mut rest = rest[flags.len()..].trim_start();
    let (mut product, mut version, mut info) = (None, None, None);
    while !rest.is_empty() {
        let lead: String = rest.chars().take_while(|c| c.is_ascii_alphabetic() || *c == ':').collect();
        let Some((text, after)) = delimited(rest, &lead) else { break };
        match lead.as_str() {
            "p" => product = Some(text.to_string()),
            "v" => version = Some(text.to_string()),
            "i" => info = Some(text.to_string()),
            _ => {}
        }
        // `cpe:/.../a`: the `a` after the closing delimiter.
        rest = after.trim_start_matches(|c: char| c.is_ascii_alphabetic()).trim_start();
    }
    Some(Match {
        service: service.to_string(),
        soft,
        pattern: pattern.to_string(),
        caseless: flags.contains('i'),
        dotall: flags.contains('s'),
        regex: std::sync::OnceLock::new(),
        product,
        version,
        info,
    })
}

/// Every probe of the file's text, in the file's order. Lines sockit does not read (Exclude,
/// tcpwrappedms) are passed over.
pub(super) fn parse(text: &str) -> Vec<Probe> {
    let mut probes: Vec<Probe> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (word, body) = line.split_once(' ').unwrap_or((line, ""));
        if word == "Probe" {
            let mut f = body.splitn(3, ' ');
            let (Some(proto), Some(name), Some(q)) = (f.next(), f.next(), f.next()) else { continue };
            let Some((send, _)) = delimited(q, "q") else { continue };
            probes.push(Probe {
                tcp: proto == "TCP",
                name: name.to_string(),
                send: unescape(send),
                ports: Vec::new(),
                sslports: Vec::new(),
                rarity: 1,
                wait_ms: 5000,
                fallback: Vec::new(),
                matches: Vec::new(),
            });
            continue;
        }
        let Some(p) = probes.last_mut() else { continue };
        match word {
            "ports" => p.ports = ports(body),
            "sslports" => p.sslports = ports(body),
            "rarity" => p.rarity = body.trim().parse().unwrap_or(9),
            "totalwaitms" => p.wait_ms = body.trim().parse().unwrap_or(5000),
            "fallback" => p.fallback = body.split(',').map(|s| s.trim().to_string()).collect(),
            "match" | "softmatch" => p.matches.extend(match_line(body, word == "softmatch")),
            _ => {}
        }
    }
    probes
}

impl Match {
    /// The pattern, compiled the first time it is needed (JIT where PCRE2 has it); `None` when
    /// PCRE2 will not take it.
    fn regex(&self) -> Option<&Regex> {
        self.regex
            .get_or_init(|| {
                let mut b = RegexBuilder::new();
                b.caseless(self.caseless).dotall(self.dotall).jit_if_available(true);
                b.build(&self.pattern).ok()
            })
            .as_ref()
    }

    /// What this line finds in `data`, if it matches.
    pub(super) fn find(&self, data: &[u8]) -> Option<Found> {
        let caps = self.regex()?.captures(data).ok()??;
        let group = |n: usize| caps.get(n).map(|m| m.as_bytes().to_vec()).unwrap_or_default();
        let fill = |t: &Option<String>| t.as_deref().map(|t| template(t, &group)).filter(|s| !s.is_empty());
        Some(Found {
            service: self.service.clone(),
            product: fill(&self.product),
            version: fill(&self.version),
            info: fill(&self.info),
            soft: self.soft,
            tls: false,
        })
    }
}

/// A template with `$N`, `$P(N)` (the group's printable bytes) and `$SUBST(N,"a","b")` filled
/// from the groups, their control characters and bytes that are not UTF-8 escaped.
fn template(t: &str, group: &dyn Fn(usize) -> Vec<u8>) -> String {
    // A group holds the service's own bytes: escaped, so a hostile service cannot move a
    // terminal's cursor through its version.
    let text = |b: Vec<u8>| sockit_core::text::escape(&b);
    let mut out = String::new();
    let mut rest = t;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        let digit = |s: &str| s.chars().next().and_then(|c| c.to_digit(10)).map(|d| d as usize);
        if let Some(n) = digit(rest) {
            out.push_str(&text(group(n)));
            rest = &rest[1..];
        } else if let Some(args) = rest.strip_prefix("P(") {
            let n = digit(args).unwrap_or(0);
            let printable: Vec<u8> = group(n).into_iter().filter(|b| (0x20..0x7f).contains(b)).collect();
            out.push_str(&text(printable));
            rest = args.split_once(')').map_or("", |(_, r)| r);
        } else if let Some(args) = rest.strip_prefix("SUBST(") {
            let (inside, after) = args.split_once(')').unwrap_or((args, ""));
            let parts: Vec<&str> = inside.splitn(3, ',').collect();
            let n = parts.first().and_then(|p| digit(p)).unwrap_or(0);
            let unquote = |s: Option<&&str>| s.map(|s| s.trim().trim_matches('"').to_string()).unwrap_or_default();
            let (from, to) = (unquote(parts.get(1)), unquote(parts.get(2)));
            let value = text(group(n));
            out.push_str(&if from.is_empty() { value } else { value.replace(&from, &to) });
            rest = after;
        } else {
            out.push('$');
        }
    }
    out.push_str(rest);
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# a comment\nProbe TCP NULL q||\ntotalwaitms 6000\n\
        match ssh m|^SSH-([\\d.]+)-OpenSSH_([\\w._-]+) Debian-(\\S+)\\r?\\n| p/OpenSSH/ v/$2 Debian $3/ i/protocol $1/ cpe:/a:openbsd:openssh:$2/a\n\
        softmatch ftp m|^220 |i\n\
        Probe TCP GetRequest q|GET / HTTP/1.0\\r\\n\\r\\n|\nrarity 1\nports 80-85,8000\nsslports 443,8443\nfallback NULL\n\
        match http m=^HTTP/1\\.[01] \\d\\d\\d .*\\r\\nServer: SimpleHTTP/([\\d.]+) Python/([\\d.]+)\\r\\n=s p/SimpleHTTPServer/ v/$1/ i/Python $2/\n\
        match x m|^(a_b)| p/$SUBST(1,\"_\",\".\")/ v/$P(1)/\n\
        match evil m|^Evil/(.*)|s p/Evil/ v/$1/\n";

    #[test]
    fn probes_and_matches_read_and_filled() {
        let probes = parse(FILE);
        assert_eq!(probes.len(), 2);
        assert_eq!((probes[0].name.as_str(), probes[0].wait_ms, probes[0].send.len()), ("NULL", 6000, 0));
        assert_eq!(probes[1].send, b"GET / HTTP/1.0\r\n\r\n");
        assert!(probes[1].for_port(8000, false) && probes[1].for_port(82, false) && !probes[1].for_port(86, false));
        assert!(probes[1].for_port(8443, true) && !probes[1].for_port(8000, true) && !probes[1].for_port(8443, false));
        assert_eq!(probes[1].fallback, ["NULL"]);
        let ssh = probes[0].matches[0].find(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n").expect("ssh");
        assert_eq!(ssh.product.as_deref(), Some("OpenSSH"));
        assert_eq!(ssh.version.as_deref(), Some("9.2p1 Debian 2+deb12u3"));
        assert_eq!(ssh.info.as_deref(), Some("protocol 2.0"));
        assert!(probes[0].matches[1].find(b"220 hi").is_some_and(|f| f.soft && f.service == "ftp"));
        let http = b"HTTP/1.0 200 OK\r\nServer: SimpleHTTP/0.6 Python/3.11.2\r\nDate: x\r\n\r\n";
        let found = probes[1].matches[0].find(http).expect("http");
        assert_eq!((found.version.as_deref(), found.info.as_deref()), (Some("0.6"), Some("Python 3.11.2")));
        let x = probes[1].matches[1].find(b"a_b").expect("x");
        assert_eq!((x.product.as_deref(), x.version.as_deref()), (Some("a.b"), Some("a_b")));
        assert_eq!(unescape("\\x41\\0\\r\\\\"), b"A\0\r\\");
        // A service's bytes never reach a terminal raw.
        let hostile = probes[1].matches[2].find(b"Evil/\x1b[2J\xff\r").expect("hostile");
        assert_eq!(hostile.version.as_deref(), Some("\\x1b[2J\\xff\\r"));
    }
}
