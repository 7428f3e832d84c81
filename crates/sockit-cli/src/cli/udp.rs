//! Flags of `udp listen` and `udp send`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{port_arg, secs_arg};

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
    /// Print replies as they come while stdin is sent, and for SECS after its end.
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
