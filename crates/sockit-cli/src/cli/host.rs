//! Flags of the one-shot commands that read this host: info, addr, port, hostname.

use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Read DNS settings from FILE instead of /etc/resolv.conf.
    #[arg(long, value_name = "FILE")]
    pub resolv_conf: Option<PathBuf>,
}

pub(super) const ADDR_HELP: &str = "\
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

pub(super) fn parse_prefix_arg(s: &str) -> Result<u32, String> {
    s.strip_prefix('/')
        .unwrap_or(s)
        .parse()
        .map_err(|_| format!("'{s}' is not a prefix length: write it like 26 or /26"))
}

pub(super) const PORT_HELP: &str = "\
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
