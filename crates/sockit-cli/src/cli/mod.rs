//! The command line, as clap sees it. Everything here is raw flags; `config` turns them
//! into the typed, validated configuration the library takes.

use clap::{Args, Parser, Subcommand};

mod chat;
pub mod file;
mod host;
mod lab;
mod names;
mod scan;
mod shared;
mod tcp;
mod udp;

pub use chat::*;
pub use host::*;
pub use lab::*;
pub use names::*;
pub use scan::*;
pub use shared::*;
pub use tcp::*;
pub use udp::*;
const AFTER_HELP: &str = "\
Exit status: 0 success; 1 runtime failure, or nothing found; 2 usage error (bad arguments).
Output: human text on stdout, logs on stderr; --json gives one JSON document
(streaming commands: JSON Lines, one object per event).";

/// sockit: a network toolkit, each slide of a socket-programming lecture as a fast, exact tool.
#[derive(Debug, Parser)]
#[command(name = "sockit", version, long_about = None, after_help = AFTER_HELP, propagate_version = true)]
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
    /// TCP port scan (SYN or connect): which ports answer, and what usually runs there.
    #[command(after_help = SCAN_HELP)]
    Scan(ScanArgs),
    /// The lecture's socket calls beside the packets they cause, in a network of the lab's
    /// own (no root needed).
    #[command(after_help = LAB_HELP)]
    Lab(LabArgs),
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

/// A port number 0-65535, with sockit's message when it is not.
pub(super) fn port_arg(s: &str) -> Result<u16, String> {
    sockit_core::services::parse_port(s).map_err(|e| e.to_string())
}

/// Seconds, positive and finite.
pub(super) fn secs_arg(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 31_536_000.0 => Ok(v),
        _ => Err(format!("'{s}' is not a time: give seconds, like 2 or 0.5")),
    }
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
