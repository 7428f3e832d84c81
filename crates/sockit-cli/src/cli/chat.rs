//! Flags of `chat serve`, `chat join` and `chat discover`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{ConfigFileArgs, ProxyArgs, TlsClientArgs, TlsServerArgs, port_arg, secs_arg};

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum ChatCommand {
    /// Run a chat server for line clients, browsers and IRC clients (and answer discovery probes).
    #[command(after_help = CHAT_HELP)]
    Serve(ChatServeArgs),
    /// Join a chat: HOST[:PORT], or the one server discovery finds.
    Join(ChatJoinArgs),
    /// List the chat servers that answer a broadcast probe.
    Discover(ChatDiscoverArgs),
}

pub(super) const CHAT_HELP: &str = "\
Any line client can join (nc, socat, telnet, Python): UTF-8 lines ending in \\n. Commands:
/nick NAME, /who, /me ACTION, /msg NICK TEXT, /quit, /help. The console shows the
conversation; --json prints it as JSON Lines. SIGTERM tells the clients goodbye and exits 0;
SIGINT (Ctrl-C) does the same and exits 130.";

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
    /// Browsers may reach the room by this host name too (besides its addresses, localhost and
    /// this machine's name; any other Host is refused, against DNS rebinding); repeatable.
    #[arg(long, value_name = "NAME")]
    pub web_host: Vec<String>,
    /// Let pages of this origin (like http://class.example:8080) open the room's WebSocket too;
    /// repeatable. The room's own origin always may.
    #[arg(long, value_name = "ORIGIN")]
    pub web_origin: Vec<String>,
    /// Serve GET /metrics (Prometheus) and GET /healthz on the chat port to clients in this
    /// block (repeatable; default: loopback only). To others those paths do not exist.
    #[arg(long, value_name = "CIDR")]
    pub metrics_allow: Vec<String>,
    /// Show each member who joins the lines of FILE after the welcome (the message of the
    /// day; at most 8 KiB; read again on SIGHUP).
    #[arg(long, value_name = "FILE")]
    pub motd: Option<std::path::PathBuf>,
    /// The server's name to IRC clients (letters, digits, '.', '-' and '_'; default: --node
    /// in a cluster, else sockit).
    #[arg(long, value_name = "NAME")]
    pub irc_name: Option<String>,
    /// Replay the last N lines said in the room to each member who joins (at most 1000).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub history: usize,
    /// One room with every server of the same cluster and room name, through a NATS broker:
    /// nats://[USER:PASS@]HOST:PORT (tls:// for a TLS broker); several, comma-separated. A
    /// password is better kept out of the command line: give the URLs in SOCKIT_CLUSTER, or
    /// the credentials in --cluster-credentials FILE.
    #[arg(long, value_name = "URLS", env = "SOCKIT_CLUSTER", hide_env_values = true)]
    pub cluster: Option<String>,
    /// The broker's USER:PASSWORD (the first line of FILE), or a NATS .creds file.
    #[arg(long, value_name = "FILE", requires = "cluster")]
    pub cluster_credentials: Option<PathBuf>,
    /// The cluster's shared key (FILE holds it; 16 bytes or more): every message is signed
    /// with it, and one that is not is refused, so only servers with the key speak in the room.
    #[arg(long, value_name = "FILE", requires = "cluster")]
    pub cluster_key: Option<PathBuf>,
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
    #[command(flatten)]
    pub file: ConfigFileArgs,
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
