//! `lookup` and `reverse` results to text: records with the reply's header as dig's `;;`
//! lines, names as getent shows them, and what an answer says besides (for stderr).

use std::io::{self, Write};

use sockit::resolve::{Answer, ReverseAnswer};

/// One name's answer: `NAME  ADDRESS` lines from the system resolver, dig-style record lines
/// (`NAME  TTL  TYPE  DATA`) from a DNS server.
pub fn answer(out: &mut dyn Write, a: &Answer) -> io::Result<()> {
    match a {
        Answer::Addresses(s) => {
            if let Some(c) = &s.canonical
                && !c.trim_end_matches('.').eq_ignore_ascii_case(s.name.trim_end_matches('.'))
            {
                writeln!(out, "{}  alias for {}", s.name, c)?;
            }
            for ip in &s.addresses {
                writeln!(out, "{}  {}", s.name, ip)?;
            }
        }
        Answer::Compared(c) => compared(out, c)?,
        Answer::Messages(messages) => {
            for m in messages {
                serde_json::to_writer(&mut *out, m)?;
                writeln!(out)?;
            }
        }
        Answer::Records(d) => {
            if let Some(h) = &d.header {
                header(out, h)?;
            }
            for r in &d.records {
                writeln!(out, "{}  {}  {}  {}", r.name, r.ttl, r.rtype, r.data)?;
            }
        }
    }
    Ok(())
}

/// A name asked both ways: `NAME  system  ADDRESSES`, `NAME  dns  ADDRESSES  (SERVERS)` (or
/// each side's failure), then `NAME  same`, or `NAME  differs: WHY` a line a reason.
fn compared(out: &mut dyn Write, c: &sockit::resolve::compare::Comparison) -> io::Result<()> {
    let said = |s: &sockit::resolve::compare::Side| match &s.error {
        Some(e) => format!("none: {e}"),
        None => s.addresses.iter().map(ToString::to_string).collect::<Vec<_>>().join(" "),
    };
    let servers = c.servers.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
    writeln!(out, "{}  system  {}", c.name, said(&c.system))?;
    writeln!(out, "{}  dns     {}  ({servers})", c.name, said(&c.dns))?;
    if c.same {
        return writeln!(out, "{}  same", c.name);
    }
    for r in &c.reasons {
        writeln!(out, "{}  differs: {r}", c.name)?;
    }
    Ok(())
}

/// A reply's header and EDNS, as `;;` lines before its records (dig's way: a reader of the
/// records skips them as comments).
fn header(out: &mut dyn Write, h: &sockit::resolve::edns::Header) -> io::Result<()> {
    writeln!(out, ";; flags: {}; status: {}", h.flags.join(" "), h.rcode)?;
    let Some(e) = &h.edns else {
        return writeln!(out, ";; no EDNS in the reply");
    };
    writeln!(out, ";; EDNS: version {}; udp {}{}", e.version, e.udp, if e.dnssec_ok { "; do" } else { "" })?;
    if let Some(n) = &e.nsid {
        match &n.text {
            Some(t) => writeln!(out, ";; NSID: {} (\"{}\")", n.hex, t)?,
            None => writeln!(out, ";; NSID: {}", n.hex)?,
        }
    }
    if let Some(c) = &e.cookie {
        match &c.server {
            Some(s) => writeln!(out, ";; COOKIE: client {}, server {}", c.client, s)?,
            None => writeln!(out, ";; COOKIE: client {} (no server cookie)", c.client)?,
        }
    }
    if let Some(s) = &e.subnet {
        writeln!(out, ";; CLIENT-SUBNET: {s}")?;
    }
    if let Some(p) = e.padding {
        writeln!(out, ";; PADDING: {p} bytes")?;
    }
    for o in &e.other {
        writeln!(out, ";; OPTION {}: {}", o.code, o.hex)?;
    }
    Ok(())
}

/// What an answer says besides its records, for stderr.
pub trait Notes {
    fn notes(&self) -> Vec<String>;
}

impl Notes for Answer {
    /// The family that failed in an address lookup the other family answered.
    fn notes(&self) -> Vec<String> {
        match self {
            Answer::Records(d) => d
                .failed
                .iter()
                .map(|f| format!("no {} answer: {}", f.qtype, f.error))
                .chain(d.ede.iter().map(|e| format!("{}: {} says {e}", d.name, d.server)))
                .collect(),
            Answer::Addresses(_) | Answer::Compared(_) | Answer::Messages(_) => Vec::new(),
        }
    }
}

impl Notes for ReverseAnswer {
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }
}

/// One address's names: `ADDRESS  NAME [ALIAS...]`, as getent hosts shows them.
pub fn reverse(out: &mut dyn Write, r: &ReverseAnswer) -> io::Result<()> {
    for n in &r.names {
        write!(out, "{}  {}", r.address, n)?;
        for a in &r.aliases {
            write!(out, " {a}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// A trace: a `;;` line a server asked (the zone, the server, the time, what it said) with the
/// records that say it, then with DNSSEC the chain of trust as a tree and its verdict.
pub fn trace(out: &mut dyn Write, t: &sockit::resolve::trace::Trace) -> io::Result<()> {
    for s in &t.steps {
        let how = if s.tcp { ", TCP" } else { "" };
        writeln!(
            out,
            ";; {}  {} ({}#{}{how}) in {:.1} ms: {} {}: {}",
            s.zone,
            s.server_name,
            s.server.ip(),
            s.server.port(),
            s.ms,
            s.qname,
            s.qtype,
            s.said
        )?;
        for r in &s.records {
            writeln!(out, "{}  {}  {}  {}", r.name, r.ttl, r.rtype, r.data)?;
        }
    }
    if let Some(e) = &t.error {
        writeln!(out, ";; stopped: {e}")?;
    }
    if let Some(chain) = &t.dnssec {
        writeln!(out, ";; DNSSEC chain of trust")?;
        for (i, link) in chain.links.iter().enumerate() {
            let branch = if i == 0 { String::new() } else { format!("{}└─ ", "   ".repeat(i - 1)) };
            let verdict = serde_json::to_value(link.verdict).ok();
            let verdict = verdict.as_ref().and_then(|v| v.as_str()).unwrap_or("?");
            writeln!(out, ";; {branch}{}  {verdict}: {}", link.name, link.said)?;
        }
        let verdict = serde_json::to_value(chain.verdict).ok();
        let verdict = verdict.as_ref().and_then(|v| v.as_str()).unwrap_or("?");
        match &chain.reason {
            Some(r) => writeln!(out, ";; verdict: {verdict} ({r})")?,
            None => writeln!(out, ";; verdict: {verdict}")?,
        }
    }
    Ok(())
}
