//! The command line, as clap sees it. Everything here is raw flags; `config.rs` turns them
//! into the typed, validated configuration the library takes.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const AFTER_HELP: &str = "\
Exit status: 0 success; 1 runtime failure, or nothing found; 2 usage error (bad arguments).
Output: human text on stdout, logs on stderr; --json gives one JSON document
(streaming commands: JSON Lines, one object per event).";

/// sockit: a network toolkit that turns each slide of a classic socket-programming lecture
/// into a fast, exact tool.
#[derive(Debug, Parser)]
#[command(name = "sockit", version, about, long_about = None, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// More logging on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parse the arguments. A one-shot command named first whose arguments parse is read
    /// against its own branch alone, so clap builds one subcommand rather than all of them (a
    /// tenth of `sockit port 22`'s time); anything else (help, version, a mistake, the other
    /// commands) is parsed against the whole tree, which also words the errors.
    pub fn parse_args(args: &[String]) -> Result<Cli, clap::Error> {
        one_branch(args).map_or_else(|| Cli::try_parse_from(args), Ok)
    }
}

/// `args` parsed against the one-shot command they name, with the global flags; `None` when
/// they name another command or do not parse so.
fn one_branch(args: &[String]) -> Option<Cli> {
    use clap::{Arg, ArgAction, FromArgMatches};
    type Augment = fn(clap::Command) -> clap::Command;
    // The first word that is not a flag names the command (the global flags take no value).
    let named = args.iter().skip(1).find(|a| !a.starts_with('-'))?;
    let (name, augment): (&'static str, Augment) = match named.as_str() {
        "info" => ("info", InfoArgs::augment_args),
        "addr" => ("addr", AddrArgs::augment_args),
        "port" => ("port", PortArgs::augment_args),
        "hostname" => ("hostname", HostnameArgs::augment_args),
        "lookup" => ("lookup", LookupArgs::augment_args),
        "reverse" => ("reverse", ReverseArgs::augment_args),
        _ => return None,
    };
    let bare = |c: clap::Command| c.disable_help_flag(true).disable_version_flag(true);
    let root = bare(clap::Command::new("sockit"))
        .disable_help_subcommand(true)
        .arg(Arg::new("json").long("json").action(ArgAction::SetTrue).global(true))
        .arg(Arg::new("verbose").short('v').long("verbose").action(ArgAction::Count).global(true))
        .subcommand(augment(bare(clap::Command::new(name))));
    Cli::from_arg_matches(&root.try_get_matches_from(args).ok()?).ok()
}

#[derive(Debug, Subcommand)]
// The arguments of a subcommand are built only when it is the one named: one call builds
// one branch of the tree, not every command's flags.
#[command(defer = true)]
pub enum Command {
    /// This computer's network parameters: hostname, interfaces, netmasks, routers, DNS.
    Info(InfoArgs),
    /// Classify addresses and do subnet math; compare hosts; split and allocate subnets.
    #[command(after_help = ADDR_HELP)]
    Addr(AddrArgs),
    /// Service names and port numbers, both ways: `port 22`, `port ssh`, `port 137-139`.
    #[command(after_help = PORT_HELP)]
    Port(PortArgs),
    /// This host's name (gethostname), its canonical name, its addresses.
    Hostname(HostnameArgs),
    /// Names to addresses (gethostbyname done properly), or any record type from a DNS server.
    #[command(after_help = LOOKUP_HELP)]
    Lookup(LookupArgs),
    /// Addresses to names (gethostbyaddr): plain IPv4 or IPv6, no in-addr.arpa needed.
    Reverse(ReverseArgs),
    /// UDP datagrams: a receiver that takes any number of senders, and a sender that can broadcast.
    #[command(subcommand)]
    Udp(UdpCommand),
    /// TCP streams: relay stdin/stdout to a connection, as client or server.
    #[command(subcommand, after_help = TCP_HELP)]
    Tcp(TcpCommand),
    /// The client/server demo: a multi-user chat that finds its server by UDP broadcast.
    #[command(subcommand)]
    Chat(ChatCommand),
    /// The whole lecture, live on this machine (loopback only), in a few seconds.
    Demo,
    /// TCP connect scan: which ports answer, and what usually runs there.
    #[command(after_help = SCAN_HELP)]
    Scan(ScanArgs),
    /// Port forwarding: every connection to FROM joined to a new one to TO, many at once.
    #[command(after_help = RELAY_HELP)]
    Relay(RelayArgs),
    /// Print a shell completion script.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout, or with --dir write one page per command there
    /// (sockit.1, sockit-tcp-connect.1, ...): `man -l DIR/sockit-tcp.1`, or copy them to
    /// /usr/local/share/man/man1.
    Manpage {
        /// Write every page into DIR.
        #[arg(long, value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Read DNS settings from FILE instead of /etc/resolv.conf.
    #[arg(long, value_name = "FILE")]
    pub resolv_conf: Option<PathBuf>,
}

const ADDR_HELP: &str = "\
Examples:
  sockit addr 192.168.1.10/24                      subnet math for a host
  sockit addr 10.1.2.3/255.255.252.0               netmask instead of a prefix
  sockit addr 192.168.1.10/24 192.168.1.77 8.8.8.8 same subnet, or via the router?
  sockit addr 100.64.0.1 2001:db8::1               classify several addresses
  sockit addr 10.0.0.0/24 --split 26               list the /26 subnets
  sockit addr 10.0.0.0/24 --hosts 100 50 20        smallest subnets for those hosts (VLSM)";

#[derive(Debug, Args)]
pub struct AddrArgs {
    /// An address, ADDR/PREFIX or ADDR/NETMASK (IPv4 or IPv6).
    #[arg(value_name = "ADDR[/PREFIX]")]
    pub address: String,
    /// More addresses. With a prefix on the first address, each is checked against its
    /// subnet (spoken to directly, or through the router); without, each is described.
    #[arg(value_name = "OTHER")]
    pub others: Vec<String>,
    /// List the subnets of the network with this prefix length (e.g. 26 or /26).
    #[arg(long, value_name = "PREFIX", value_parser = parse_prefix_arg)]
    pub split: Option<u32>,
    /// Give each host count the smallest subnet that holds it, largest first (VLSM).
    #[arg(long, value_name = "N", num_args = 1.., conflicts_with = "split")]
    pub hosts: Vec<u128>,
}

fn parse_prefix_arg(s: &str) -> Result<u32, String> {
    s.strip_prefix('/')
        .unwrap_or(s)
        .parse()
        .map_err(|_| format!("'{s}' is not a prefix length: write it like 26 or /26"))
}

const PORT_HELP: &str = "\
Classes: system (0-1023, well-known: binding needs privileges), registered (1024-49151),
dynamic (49152-65535). The table is IANA's registry, built in, with /etc/services laid over it.
Exit status 1 when an argument matches nothing, 2 when it cannot be a port or a name.";

#[derive(Debug, Args)]
pub struct PortArgs {
    /// Port numbers (0-65535), ranges (137-139) or service names (ssh); PORT/PROTO as getent
    /// takes them (53/udp).
    #[arg(value_name = "PORT|RANGE|NAME", required_unless_present = "common", allow_negative_numbers = true)]
    pub queries: Vec<String>,
    /// Only TCP.
    #[arg(long, conflicts_with = "udp")]
    pub tcp: bool,
    /// Only UDP.
    #[arg(long)]
    pub udp: bool,
    /// The lecture's table of common services.
    #[arg(long)]
    pub common: bool,
}

#[derive(Debug, Args)]
pub struct HostnameArgs {
    /// The fully qualified (canonical) name.
    #[arg(long)]
    pub fqdn: bool,
    /// This host's addresses (like hostname -I: all but loopback and link-local).
    #[arg(long, short = 'I')]
    pub addresses: bool,
}

const LOOKUP_HELP: &str = "\
Without --server or --type the system resolver answers (/etc/hosts and nsswitch apply, as for
getent ahosts). With --server the named DNS server is asked directly; with only --type, the
servers in resolv.conf are. Several names, or -f FILE, are resolved concurrently and printed in
input order; --json prints JSON Lines, one object per name. Exit status 1 if any name failed.";

/// How to ask DNS servers directly.
#[derive(Debug, Args)]
pub struct DnsArgs {
    /// Ask this DNS server directly (IP, IP:PORT or [IPv6]:PORT).
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

const SCAN_HELP: &str = "\
States: open (the connection was accepted), closed (refused), filtered (no answer within the
timeout after the retries, or unreachable). Self-connects on loopback are never reported open.
Scan only hosts you are allowed to scan.

Examples:
  sockit scan 127.0.0.1                     ports 1-1024
  sockit scan localhost -p all --open       every port, only the open ones
  sockit scan 198.18.0.0/28 -p common       the lecture's services on 16 hosts";

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Host names, addresses, CIDR blocks (10.0.0.0/24) or ranges (10.0.0.1-20).
    #[arg(value_name = "TARGET", required_unless_present = "file")]
    pub targets: Vec<String>,
    /// Targets from a file too (whitespace or commas between them, # comments; - for stdin),
    /// as nmap's -iL.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Show what each open port's service says first (SSH, SMTP, FTP greet first), waiting
    /// this long for it (default 2 s); nothing is sent.
    #[arg(long, value_name = "SECS", num_args = 0..=1, default_missing_value = "2", value_parser = secs_arg)]
    pub banner: Option<f64>,
    /// Leave these out: addresses, ranges or CIDR blocks, comma-separated; repeatable.
    #[arg(long, value_name = "TARGETS")]
    pub exclude: Vec<String>,
    #[command(flatten)]
    pub proxy: ProxyArgs,
    /// Ports: 22,80,8000-8100, all (1-65535), common (the lecture's table), well-known (1-1023).
    #[arg(short = 'p', long = "ports", value_name = "PORTS", default_value = "1-1024")]
    pub ports: String,
    /// Show only open ports.
    #[arg(long)]
    pub open: bool,
    /// Probes in flight at once (capped by the open-file limit).
    #[arg(long, value_name = "N", default_value_t = 4096)]
    pub concurrency: usize,
    /// Seconds to wait for an answer to one probe.
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    pub timeout: f64,
    /// Probes after the first for a port that stays silent.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub retries: u32,
    /// At most N new connections a second (polite scans).
    #[arg(long, value_name = "N")]
    pub rate: Option<f64>,
    /// Probe ports in order instead of a random order.
    #[arg(long)]
    pub ordered: bool,
    /// Allow scans of more than 65,536 addresses.
    #[arg(long)]
    pub yes: bool,
}

/// A port number 0-65535, with sockit's message when it is not.
fn port_arg(s: &str) -> Result<u16, String> {
    sockit_core::services::parse_port(s).map_err(|e| e.to_string())
}

/// Seconds, positive and finite.
fn secs_arg(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 31_536_000.0 => Ok(v),
        _ => Err(format!("'{s}' is not a time: give seconds, like 2 or 0.5")),
    }
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum UdpCommand {
    /// Receive datagrams and print each with its sender (`SENDER:PORT  text`).
    Listen(UdpListenArgs),
    /// Send MESSAGE, or each line of stdin, as a datagram.
    Send(UdpSendArgs),
}

#[derive(Debug, Args)]
pub struct UdpListenArgs {
    /// Port to receive on (0 picks a free one; the bound port is printed on stderr).
    #[arg(value_name = "PORT", default_value_t = 40000, value_parser = port_arg)]
    pub port: u16,
    /// Address to bind (default: every IPv4 address, which also hears broadcasts).
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,
    /// Write payloads to stdout byte for byte, nothing else.
    #[arg(long)]
    pub raw: bool,
    /// Stop after N datagrams.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Stop after SECS without a datagram.
    #[arg(long, value_name = "SECS", value_parser = secs_arg)]
    pub timeout: Option<f64>,
    /// Send each datagram back to its sender (a UDP echo server).
    #[arg(long)]
    pub echo: bool,
    /// Receive on a Unix datagram socket instead: a path, or @NAME (abstract, Linux). Senders
    /// are shown by their socket's path, `-` when it has none.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["bind", "join", "echo"])]
    pub unix: Option<String>,
    /// Dump each datagram in hex (> sent, < received, with the peer) on stderr, or into FILE.
    #[arg(short = 'x', long = "hexdump", value_name = "FILE", num_args = 0..=1, default_missing_value = "-")]
    pub hexdump: Option<PathBuf>,
    /// Join this multicast group (IPv4 224.0.0.0/4 or IPv6 ff00::/8); repeatable.
    #[arg(long, value_name = "GROUP")]
    pub join: Vec<String>,
    /// The interface to join the groups on (by default the one the kernel routes them to).
    #[arg(long, value_name = "NAME", requires = "join")]
    pub iface: Option<String>,
}

#[derive(Debug, Args)]
pub struct UdpSendArgs {
    /// Host: a name, an address, or `broadcast` (255.255.255.255). With --unix, the one
    /// positional is the MESSAGE.
    #[arg(value_name = "HOST", required_unless_present = "unix")]
    pub host: Option<String>,
    /// Port to send to: a number or a service name (domain).
    #[arg(value_name = "PORT", default_value = "40000")]
    pub port: String,
    /// The datagram; without it, each line of stdin is one.
    #[arg(value_name = "MESSAGE")]
    pub message: Option<String>,
    /// Allow sending to a broadcast address (SO_BROADCAST).
    #[arg(long)]
    pub broadcast: bool,
    /// Send from this local [ADDR:]PORT.
    #[arg(long, value_name = "[ADDR:]PORT")]
    pub bind: Option<String>,
    /// Send stdin as is, in datagrams as large as UDP allows, instead of line by line.
    #[arg(long)]
    pub raw: bool,
    /// After sending, print the replies that arrive within SECS.
    #[arg(long, value_name = "SECS", value_parser = secs_arg)]
    pub wait_reply: Option<f64>,
    /// Dump each datagram in hex (> sent, < received, with the peer) on stderr, or into FILE.
    #[arg(short = 'x', long = "hexdump", value_name = "FILE", num_args = 0..=1, default_missing_value = "-")]
    pub hexdump: Option<PathBuf>,
    /// Send to a Unix datagram socket instead: a path, or @NAME (abstract, Linux):
    /// `udp send --unix PATH [MESSAGE]`.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["broadcast", "bind", "wait_reply"])]
    pub unix: Option<String>,
    /// Multicast: hops a datagram may take (TTL; the kernel's default is 1, this link only).
    #[arg(long, value_name = "N")]
    pub ttl: Option<u32>,
    /// Multicast: the interface to send on.
    #[arg(long, value_name = "NAME")]
    pub iface: Option<String>,
    /// Multicast: deliver to this host's own members of the group too.
    #[arg(long = "loop")]
    pub looped: bool,
}

const TCP_HELP: &str = "\
End of input: when stdin ends, sockit sends FIN (shuts down its write side) and keeps reading
until the peer closes; --no-shutdown keeps the write side open; -q SECS quits SECS after stdin
ends. sockit exits once the peer has closed and everything it sent is written to stdout.";

/// What both ends of a TCP relay share.
#[derive(Debug, Args)]
pub struct BridgeArgs {
    /// Keep the write side open when stdin ends (send no FIN).
    #[arg(long)]
    pub no_shutdown: bool,
    /// Quit SECS after stdin ends, whatever the peer does.
    #[arg(short = 'q', value_name = "SECS", value_parser = secs_arg)]
    pub quit_after: Option<f64>,
    /// Close after SECS with no data either way.
    #[arg(long, value_name = "SECS", value_parser = secs_arg)]
    pub idle_timeout: Option<f64>,
    /// Probe a silent peer with TCP keepalives after SECS, every SECS, three times: a peer that
    /// vanished ends the connection (exit 1) instead of holding it for ever.
    #[arg(long, value_name = "SECS", value_parser = secs_arg)]
    pub keepalive: Option<f64>,
    /// Dump both directions in hex (> sent, < received, with offsets) on stderr, or into FILE.
    #[arg(short = 'x', long = "hexdump", value_name = "FILE", num_args = 0..=1, default_missing_value = "-")]
    pub hexdump: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum TcpCommand {
    /// Connect to HOST PORT and relay stdin/stdout.
    #[command(after_help = TCP_HELP)]
    Connect(TcpConnectArgs),
    /// Listen on PORT, accept a client and relay stdin/stdout (--keep-open: many clients).
    #[command(after_help = TCP_HELP)]
    Listen(TcpListenArgs),
}

#[derive(Debug, Args)]
pub struct TcpConnectArgs {
    /// Host: a name or an address (IPv6 as ::1 or [::1]).
    #[arg(value_name = "HOST", required_unless_present = "unix")]
    pub host: Option<String>,
    /// A port number or a service name (http).
    #[arg(value_name = "PORT", required_unless_present = "unix")]
    pub port: Option<String>,
    /// Connect to a Unix socket instead: a path, or @NAME for an abstract one (Linux).
    #[arg(long, value_name = "PATH", conflicts_with_all = ["host", "port", "proxy", "tls"])]
    pub unix: Option<String>,
    /// Give up connecting after SECS.
    #[arg(short = 'w', long = "wait", value_name = "SECS", value_parser = secs_arg)]
    pub connect_timeout: Option<f64>,
    #[command(flatten)]
    pub tls: TlsClientArgs,
    #[command(flatten)]
    pub proxy: ProxyArgs,
    #[command(flatten)]
    pub bridge: BridgeArgs,
}

const RELAY_HELP: &str = "\
FROM: tcp-listen:[ADDR:]PORT, tls-listen:[ADDR:]PORT or unix-listen:PATH.
TO: tcp:HOST:PORT, tls:HOST:PORT or unix:PATH.
Each connection gets a line on stderr when it ends (who, how long, bytes each way; --json: a
JSON line on stdout). An end of data one way is passed on as a shut-down write side; the other
way goes on, as in sockit tcp.";

#[derive(Debug, Args)]
pub struct RelayArgs {
    /// Where to accept connections: tcp-listen:[ADDR:]PORT or unix-listen:PATH.
    #[arg(value_name = "FROM")]
    pub from: String,
    /// Where to take each one: tcp:HOST:PORT or unix:PATH.
    #[arg(value_name = "TO")]
    pub to: String,
    /// Only clients in this block (repeatable).
    #[arg(long, value_name = "CIDR")]
    pub allow: Vec<String>,
    /// Never clients in this block (repeatable; wins over --allow).
    #[arg(long, value_name = "CIDR")]
    pub deny: Vec<String>,
    /// At most N connections at once; more are closed at once.
    #[arg(long, value_name = "N")]
    pub max_conns: Option<usize>,
    /// Give up connecting to TO after SECS (default 10).
    #[arg(short = 'w', long = "wait", value_name = "SECS", value_parser = secs_arg, default_value_t = 10.0)]
    pub connect_timeout: f64,
    #[command(flatten)]
    pub proxy: ProxyArgs,
    /// tls-listen: the certificate chain (PEM); without it, a self-signed one.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// tls-listen: the private key (PEM).
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// tls: targets are trusted as `tcp connect --tls` trusts its server (--ca, --insecure,
    /// --fingerprint).
    #[command(flatten)]
    pub tls_to: TlsClientArgs,
    /// TCP keepalive probes on both sides after SECS of silence, every SECS, three times: a side
    /// that vanished ends its connection.
    #[arg(long, value_name = "SECS", value_parser = secs_arg)]
    pub keepalive: Option<f64>,
    /// Dump every connection in hex (> client to target, < back) on stderr, or into FILE.
    #[arg(short = 'x', long = "hexdump", value_name = "FILE", num_args = 0..=1, default_missing_value = "-")]
    pub hexdump: Option<PathBuf>,
}

/// A proxy on the way out (declared once, for `tcp connect` and `chat join`).
#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// Go through a proxy: socks5://[USER:PASS@]HOST:PORT or http://[USER:PASS@]HOST:PORT
    /// (HTTP CONNECT).
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,
    /// Where names are resolved with a SOCKS5 proxy: remote (at the proxy, as socks5h) or local.
    #[arg(long, value_name = "WHERE", value_parser = ["remote", "local"], default_value = "remote", requires = "proxy")]
    pub proxy_dns: String,
}

#[derive(Debug, Args)]
pub struct TcpListenArgs {
    /// Port to listen on (0 picks a free one; the bound port is printed on stderr).
    #[arg(value_name = "PORT", default_value_t = 40000, value_parser = port_arg)]
    pub port: u16,
    /// Address to bind (default: every IPv4 address; :: for IPv6 and IPv4).
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,
    /// Listen on a Unix socket instead: a path, or @NAME for an abstract one (Linux); one
    /// client. A socket file nothing listens on is replaced; the file goes when sockit does.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["bind", "keep_open", "exec", "tls"])]
    pub unix: Option<String>,
    /// Serve many clients at once: their data to stdout, stdin to all of them.
    #[arg(short = 'k', long)]
    pub keep_open: bool,
    /// With --keep-open, at most N clients at once.
    #[arg(long, value_name = "N", requires = "keep_open")]
    pub max_conns: Option<usize>,
    /// Only clients in CIDR (repeatable).
    #[arg(long, value_name = "CIDR")]
    pub allow: Vec<String>,
    /// No clients in CIDR (repeatable).
    #[arg(long, value_name = "CIDR")]
    pub deny: Vec<String>,
    /// Connect each client to its own `sh -c CMD` (an echo server: --exec cat).
    #[arg(long, value_name = "CMD")]
    pub exec: Option<String>,
    #[command(flatten)]
    pub tls: TlsServerArgs,
    #[command(flatten)]
    pub bridge: BridgeArgs,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum ChatCommand {
    /// Run a chat server (and answer discovery probes).
    #[command(after_help = CHAT_HELP)]
    Serve(ChatServeArgs),
    /// Join a chat: HOST[:PORT], or the one server discovery finds.
    Join(ChatJoinArgs),
    /// List the chat servers that answer a broadcast probe.
    Discover(ChatDiscoverArgs),
}

const CHAT_HELP: &str = "\
Any line client can join (nc, socat, telnet, Python): UTF-8 lines ending in \\n. Commands:
/nick NAME, /who, /me ACTION, /msg NICK TEXT, /quit, /help. The console shows the
conversation; --json prints it as JSON Lines. SIGINT or SIGTERM tells the clients and exits 0.";

#[derive(Debug, Args)]
pub struct ChatServeArgs {
    /// TCP port for clients (0 picks a free one).
    #[arg(long, value_name = "PORT", default_value_t = 40000, value_parser = port_arg)]
    pub port: u16,
    /// Address to bind.
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,
    /// The room's name.
    #[arg(long = "name", value_name = "ROOM", default_value = "sockit")]
    pub room: String,
    /// At most N clients at once.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub max_clients: usize,
    /// The longest line, in bytes; longer lines are refused with a notice.
    #[arg(long, value_name = "BYTES", default_value_t = 4096)]
    pub max_line: usize,
    /// Lines a second each client may send (0: no limit).
    #[arg(long, value_name = "LINES_PER_SEC", default_value_t = 0.0)]
    pub rate: f64,
    /// UDP port for discovery probes (0 picks a free one).
    #[arg(long, value_name = "PORT", default_value_t = 40000, value_parser = port_arg)]
    pub discovery_port: u16,
    /// Do not answer discovery probes.
    #[arg(long)]
    pub no_discovery: bool,
    /// Do not serve the page and WebSockets on the chat port (browsers join at http://HOST:PORT/).
    #[arg(long)]
    pub no_web: bool,
    /// Let pages of this origin (like http://class.example:8080) open the room's WebSocket too;
    /// repeatable. The room's own origin always may.
    #[arg(long, value_name = "ORIGIN")]
    pub web_origin: Vec<String>,
    /// Replay the last N lines said in the room to each member who joins (at most 1000).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub history: usize,
    /// One room with every server of the same cluster and room name, through a NATS broker:
    /// nats://[USER:PASS@]HOST:PORT (tls:// for a TLS broker); several, comma-separated.
    #[arg(long, value_name = "URLS")]
    pub cluster: Option<String>,
    /// Keeps several clusters apart on one broker.
    #[arg(long, value_name = "NAME", default_value = "sockit", requires = "cluster")]
    pub cluster_name: String,
    /// This server's name in the cluster (default: HOSTNAME:PORT).
    #[arg(long, value_name = "NAME", requires = "cluster")]
    pub node: Option<String>,
    /// Trust the CA certificate in FILE (PEM) for a tls:// broker.
    #[arg(long, value_name = "FILE", requires = "cluster")]
    pub cluster_ca: Option<PathBuf>,
    #[command(flatten)]
    pub tls: TlsServerArgs,
}

/// TLS for a server (declared once, for `tcp listen` and `chat serve`).
#[derive(Debug, Args)]
pub struct TlsServerArgs {
    /// Speak TLS, with --cert/--key or a self-signed certificate (its SHA-256 fingerprint is
    /// printed on stderr).
    #[arg(long)]
    pub tls: bool,
    /// Certificate chain (PEM) for --tls.
    #[arg(long, value_name = "FILE", requires_all = ["tls", "key"])]
    pub cert: Option<PathBuf>,
    /// Private key (PEM) for --tls.
    #[arg(long, value_name = "FILE", requires_all = ["tls", "cert"])]
    pub key: Option<PathBuf>,
}

/// TLS for a client (declared once, for `tcp connect` and `chat join`). --ca and --insecure
/// imply --tls.
#[derive(Debug, Args)]
pub struct TlsClientArgs {
    /// Speak TLS; the server's certificate is checked against the system's roots or --ca.
    #[arg(long)]
    pub tls: bool,
    /// Trust the CA certificates in FILE (PEM) instead of the system's (implies --tls).
    #[arg(long, value_name = "FILE", conflicts_with = "insecure")]
    pub ca: Option<PathBuf>,
    /// Do not check the server's certificate; handshake signatures are still checked
    /// (implies --tls).
    #[arg(long)]
    pub insecure: bool,
    /// Take only the certificate with this SHA-256 fingerprint (64 hex digits, colons
    /// allowed), as a self-signed server prints it (implies --tls).
    #[arg(long, value_name = "SHA256", conflicts_with_all = ["ca", "insecure"])]
    pub fingerprint: Option<String>,
}

#[derive(Debug, Args)]
pub struct DiscoveryArgs {
    /// Where to send the probe (repeatable): a broadcast or unicast ADDR[:PORT]. Without it:
    /// 255.255.255.255, every interface's broadcast address and 127.255.255.255.
    #[arg(long = "broadcast", value_name = "ADDR")]
    pub broadcast: Vec<String>,
    /// The servers' discovery port.
    #[arg(long, value_name = "PORT", default_value_t = 40000, value_parser = port_arg)]
    pub discovery_port: u16,
    /// Seconds to wait for replies.
    #[arg(long, value_name = "SECS", default_value_t = 1.0, value_parser = secs_arg)]
    pub timeout: f64,
}

#[derive(Debug, Args)]
pub struct ChatJoinArgs {
    /// HOST[:PORT] of the server (port 40000 by default); without it, discover one.
    #[arg(value_name = "HOST[:PORT]")]
    pub target: Option<String>,
    /// Your nick.
    #[arg(long, value_name = "NAME")]
    pub nick: Option<String>,
    /// When several servers answer, join the one with this room name (on a terminal, without
    /// it, sockit lists them and asks).
    #[arg(long, value_name = "ROOM")]
    pub room: Option<String>,
    #[command(flatten)]
    pub tls: TlsClientArgs,
    #[command(flatten)]
    pub proxy: ProxyArgs,
    #[command(flatten)]
    pub discovery: DiscoveryArgs,
}

#[derive(Debug, Args)]
pub struct ChatDiscoverArgs {
    #[command(flatten)]
    pub discovery: DiscoveryArgs,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(line: &str) -> Vec<String> {
        std::iter::once("sockit").chain(line.split_whitespace()).map(str::to_string).collect()
    }

    /// What the one branch makes of an argument vector is what the whole tree makes of it;
    /// what it cannot take (help, version, mistakes, other commands) it leaves to the tree.
    #[test]
    fn one_branch_parses_as_the_whole_tree_does() {
        let taken = [
            "info",
            "info --json",
            "-v info --resolv-conf /tmp/r",
            "--json port 22",
            "port 22 80 ssh 137-139 --udp",
            "port --common",
            "port -v -v 53/udp --tcp",
            "port -1",
            "addr 192.168.1.10/24",
            "addr 10.0.0.0/24 --hosts 100 50 20",
            "addr 10.0.0.0/16 --split /20 --json",
            "addr 192.168.1.10/24 192.168.1.99 10.0.0.1",
            "hostname",
            "hostname -I",
            "hostname --fqdn --json",
            "lookup localhost",
            "lookup -4 localhost --json",
            "reverse 127.0.0.1",
        ];
        for line in taken {
            let args = argv(line);
            let whole = Cli::try_parse_from(&args).unwrap_or_else(|e| panic!("{line}: {e}"));
            let one = one_branch(&args).unwrap_or_else(|| panic!("{line}: not taken by the one branch"));
            assert_eq!(format!("{one:?}"), format!("{whole:?}"), "{line}");
        }
        let left = [
            "",
            "--help",
            "--version",
            "port --help",
            "port -h",
            "port -V",
            "port --version",
            "info --bogus",
            "addr",
            "addr 10.0.0.0/24 --split 26 --hosts 5",
            "port --tcp --udp 22",
            "help port",
            "udp listen 9999",
            "scan 127.0.0.1",
            "Port 22",
        ];
        for line in left {
            assert!(one_branch(&argv(line)).is_none(), "{line}");
        }
    }
}
