//! Flags of `lookup` and `reverse`, and of asking DNS servers directly.

use std::path::PathBuf;

use clap::Args;

pub(super) const LOOKUP_HELP: &str = "\
Without --server or --type the system resolver answers (/etc/hosts and nsswitch apply, as for
getent ahosts). With --server the named DNS server is asked directly; with only --type, the
servers in resolv.conf are. Several names, or -f FILE, are resolved concurrently and printed in
input order; --json prints JSON Lines, one object per name. Exit status 1 if any name failed.";

// How to ask DNS servers directly. (A plain comment: clap would take a doc comment on a
// flattened struct for the command's about line.)
#[derive(Debug, Args)]
pub struct DnsArgs {
    /// Ask this DNS server directly (IP, IP:PORT or [IPv6]:PORT; tls://IP for DNS over TLS,
    /// quic://IP for DNS over QUIC, https://IP[:PORT]/PATH for DNS over HTTPS, h3://IP/PATH for
    /// it on HTTP/3).
    #[arg(long, value_name = "IP[:PORT]")]
    pub server: Option<String>,
    /// Query over TCP.
    #[arg(long)]
    pub tcp: bool,
    /// Seconds to wait for each try.
    #[arg(long, value_name = "SECS", default_value_t = 2.0)]
    pub timeout: f64,
    /// Tries after the first.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub retries: u32,
    /// Names or addresses resolved at once.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub concurrency: usize,
    /// Read names or addresses from FILE, one a line ('-' for stdin).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub ask: AskArgs,
    /// With --server https://...: the query in the URL (GET), not in the body (POST).
    #[arg(long)]
    pub get: bool,
    // DNS over TLS (port 853 unless --server names one; `--server tls://IP[:PORT]` alike),
    // and the certificate checks of DNS over HTTPS (`--server https://IP[:PORT][/PATH]`).
    #[command(flatten)]
    pub tls: super::shared::TlsClientArgs,
}

// What a direct query asks beyond its question, and whether the reply's header is shown. Any
// of these makes the lookup a direct query (the servers of resolv.conf without --server).
#[derive(Debug, Args)]
pub struct AskArgs {
    /// Ask for DNSSEC records too (the DO bit): signatures come with the answer.
    #[arg(long)]
    pub dnssec: bool,
    /// Checking disabled (CD): a validating resolver answers without validating.
    #[arg(long)]
    pub cd: bool,
    /// Ask whether the answer was validated (the AD bit, as dig asks by default).
    #[arg(long)]
    pub ad: bool,
    /// No recursion (RD off): the server answers from what it holds.
    #[arg(long = "no-rd")]
    pub no_rd: bool,
    /// Ask for the server's identifier (NSID) and show it.
    #[arg(long)]
    pub nsid: bool,
    /// Send a client subnet (EDNS Client Subnet), like 198.51.100.0/24.
    #[arg(long, value_name = "ADDR[/LEN]")]
    pub subnet: Option<String>,
    /// Send a client cookie and show the server's.
    #[arg(long)]
    pub cookie: bool,
    /// Pad queries to a multiple of 128 bytes (EDNS padding).
    #[arg(long)]
    pub padding: bool,
    /// The largest UDP reply to take (EDNS buffer size, 512 to 65535; 1232 unless given).
    #[arg(long, value_name = "BYTES")]
    pub bufsize: Option<u32>,
    /// No EDNS at all: queries without an OPT record, as a server from before 1999 expects.
    #[arg(long = "no-edns", conflicts_with_all = ["dnssec", "nsid", "subnet", "cookie", "padding", "bufsize"])]
    pub no_edns: bool,
    /// Show each reply's header with its records: flags, response code and EDNS.
    #[arg(long)]
    pub flags: bool,
}

#[derive(Debug, Args)]
pub struct LookupArgs {
    /// Names to resolve.
    #[arg(value_name = "NAME", required_unless_present = "file")]
    pub names: Vec<String>,
    /// Only IPv4 addresses.
    #[arg(short = '4', conflicts_with = "ipv6")]
    pub ipv4: bool,
    /// Only IPv6 addresses.
    #[arg(short = '6')]
    pub ipv6: bool,
    /// Record type: A, AAAA, CNAME, MX, NS, PTR, SOA, SRV, TXT, ...
    #[arg(long = "type", short = 't', value_name = "TYPE")]
    pub rtype: Option<String>,
    /// The system's answer (getaddrinfo) beside the DNS servers' (--server or resolv.conf's),
    /// and what makes them differ: the hosts file, a search domain, another source or a cache.
    #[arg(long, conflicts_with = "rtype")]
    pub compare: bool,
    /// Print each reply whole, a JSON object a line in RFC 8427's shape (as kdig +json): the
    /// header, the question and every section's records, their data in text and hex.
    #[arg(long, conflicts_with_all = ["compare", "trace"])]
    pub rfc8427: bool,
    /// Resolve from the root servers down, as a resolver does, every server asked shown with
    /// its time and reply; with --dnssec, the chain of trust validated at every zone cut.
    #[arg(long, conflicts_with_all = ["compare", "file", "server", "tls", "get"])]
    pub trace: bool,
    /// With --trace: the root servers to start from, a file of A and AAAA records as
    /// named.root writes them (IANA's root servers unless given).
    #[arg(long, value_name = "FILE", requires = "trace")]
    pub root_hints: Option<PathBuf>,
    /// With --trace --dnssec: the keys to trust, a file of DS or DNSKEY records (the root
    /// zone's keys as IANA publishes them unless given).
    #[arg(long, value_name = "FILE", requires = "trace")]
    pub trust_anchor: Option<PathBuf>,
    #[command(flatten)]
    pub dns: DnsArgs,
}

#[derive(Debug, Args)]
pub struct ReverseArgs {
    /// IPv4 or IPv6 addresses.
    #[arg(value_name = "ADDR", required_unless_present = "file")]
    pub addresses: Vec<String>,
    #[command(flatten)]
    pub dns: DnsArgs,
}
