//! Flags of `tcp connect`, `tcp listen` and `relay`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{ConfigFileArgs, MetricsArgs, ProxyArgs, TlsClientArgs, TlsServerArgs, port_arg, secs_arg};

pub(super) const TCP_HELP: &str = "\
End of input: when stdin ends, sockit sends FIN (shuts down its write side) and keeps reading
until the peer closes; --no-shutdown keeps the write side open; -q SECS quits SECS after stdin
ends. sockit exits once the peer has closed and everything it sent is written to stdout.";

// What both ends of a TCP bridge share (a plain comment: see `shared`).
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
    /// Send each line end of stdin as CRLF (ncat -C): for SMTP, HTTP and other CRLF protocols.
    #[arg(short = 'C', long)]
    pub crlf: bool,
    /// Only send: what the peer sends is dropped, and sockit quits when stdin ends.
    #[arg(long, conflicts_with = "recv_only")]
    pub send_only: bool,
    /// Only receive: stdin is never read.
    #[arg(long, conflicts_with = "crlf")]
    pub recv_only: bool,
    /// At the end, print what the kernel knows of the connection on stderr (TCP_INFO: state,
    /// rtt, retransmits, cwnd, bytes), the fields `ss -ti` shows.
    #[arg(long)]
    pub stats: bool,
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
    #[arg(long, value_name = "PATH", conflicts_with_all = ["host", "port", "proxy", "tls", "source", "source_port"])]
    pub unix: Option<String>,
    /// Give up connecting after SECS.
    #[arg(short = 'w', long = "wait", value_name = "SECS", value_parser = secs_arg)]
    pub connect_timeout: Option<f64>,
    /// Connect from this address of this host (nc -s).
    #[arg(short = 's', long = "source", value_name = "ADDR")]
    pub source: Option<String>,
    /// Connect from this local port (nc -p).
    #[arg(short = 'p', long = "source-port", value_name = "PORT", value_parser = port_arg)]
    pub source_port: Option<u16>,
    #[command(flatten)]
    pub tls: TlsClientArgs,
    #[command(flatten)]
    pub proxy: ProxyArgs,
    #[command(flatten)]
    pub bridge: BridgeArgs,
}

pub(super) const RELAY_HELP: &str = "\
FROM: tcp-listen:[ADDR:]PORT, tls-listen:[ADDR:]PORT, udp-listen:[ADDR:]PORT or unix-listen:PATH.
TO: tcp:HOST:PORT, tls:HOST:PORT, udp:HOST:PORT (from udp-listen: only) or unix:PATH.
Each connection gets a line on stderr when it ends (who, how long, bytes each way; --json: a
JSON line on stdout). An end of data one way is passed on as a shut-down write side; the other
way goes on, as in sockit tcp.";

#[derive(Debug, Args)]
pub struct RelayArgs {
    /// Where to accept connections: tcp-listen:[ADDR:]PORT, tls-listen:[ADDR:]PORT,
    /// udp-listen:[ADDR:]PORT or unix-listen:PATH.
    #[arg(value_name = "FROM")]
    pub from: String,
    /// Where to take each one: tcp:HOST:PORT, tls:HOST:PORT, udp:HOST:PORT or unix:PATH.
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
    /// Once one side of a connection has ended its sending (half-closed), close the connection
    /// after SECS with nothing moving the other way (socat's -t); 0: never.
    #[arg(long, value_name = "SECS", default_value_t = 60.0)]
    pub half_close_idle: f64,
    /// udp-listen: a client's session (its own socket to the target) ends after SECS with no
    /// datagram either way.
    #[arg(long, value_name = "SECS", value_parser = secs_arg, default_value_t = 60.0)]
    pub udp_idle: f64,
    /// Dump every connection in hex (> client to target, < back) on stderr, or into FILE.
    #[arg(short = 'x', long = "hexdump", value_name = "FILE", num_args = 0..=1, default_missing_value = "-")]
    pub hexdump: Option<PathBuf>,
    #[command(flatten)]
    pub endpoint: MetricsArgs,
    #[command(flatten)]
    pub file: ConfigFileArgs,
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
    /// client, or many with --keep-open. A socket file nothing listens on is replaced; the
    /// file goes when sockit does.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["bind", "exec", "tls", "allow", "deny"])]
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
    #[command(flatten)]
    pub endpoint: MetricsArgs,
    #[command(flatten)]
    pub file: ConfigFileArgs,
}
