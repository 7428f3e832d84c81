//! Flags of `scan`.

use std::path::PathBuf;

use clap::Args;

use super::ProxyArgs;
use super::secs_arg;

pub(super) const SCAN_HELP: &str = "\
States: open (the connection was accepted), closed (refused), filtered (no answer within the
timeout after the retries, or unreachable). Self-connects on loopback are never reported open.
Where the process may open a raw socket (root, CAP_NET_RAW) a target beyond loopback is scanned
by SYN, as nmap -sS (--connect for a connect scan); the last line names the method that ran.
With --udp (no root needed): open (a reply came), closed (ICMP port unreachable), filtered
(another ICMP unreachable), open|filtered (nothing came back); a host that limits its ICMP
errors (Linux: one a second) is asked a port a second once it shows it.
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
    /// Scan UDP ports: a question the usual service answers (DNS, NTP, SNMP, NetBIOS, SSDP,
    /// mDNS, echo; an empty datagram elsewhere), the ICMP errors read back, each port's reason
    /// given.
    #[arg(long, conflicts_with_all = ["banner", "proxy"])]
    pub udp: bool,
    /// A SYN scan (a raw socket: root or CAP_NET_RAW), as nmap -sS: no connection is made,
    /// each answer matched to its probe by a cookie in the SYN. The default where the process
    /// may open a raw socket and a target is not loopback.
    #[arg(long, conflicts_with_all = ["udp", "proxy"])]
    pub syn: bool,
    /// A SYN scan's SYNs through this host's IP layer (its routes, firewall rules and queues
    /// see each), as nmap --send-ip; by default a target on an Ethernet link is sent frames
    /// of sockit's own, past this host's output rules, as masscan sends.
    #[arg(long, conflicts_with_all = ["udp", "proxy", "connect"])]
    pub send_ip: bool,
    /// A connect scan (a connect() a probe), as nmap -sT, even where a SYN scan could run.
    #[arg(long, conflicts_with_all = ["udp", "proxy", "syn"])]
    pub connect: bool,
    /// Name what runs on each open port (product and version), with nmap's service probes
    /// (nmap-service-probes, from nmap's package) as nmap -sV does; without the file, from
    /// what each service says first (--banner).
    #[arg(long, conflicts_with_all = ["udp", "proxy"])]
    pub service: bool,
    /// The service probes file --service reads (/usr/share/nmap/nmap-service-probes unless
    /// given).
    #[arg(long, value_name = "FILE", requires = "service")]
    pub service_probes: Option<PathBuf>,
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
