//! Flags of `lab`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

pub(super) const LAB_HELP: &str = "\
The lab makes a network of its own (a user and network namespace: no root needed) with only a
loopback in it, makes the slide's calls there one at a time, and captures every frame they
cause. Where user namespaces are turned off it says so and shows the calls and the sockets'
TCP state only.

Examples:
  sockit lab tcp                          the handshake, data, a half-close, a refused connect
  sockit lab udp --pcap udp.pcapng        a datagram, a broadcast, ICMP; open it in Wireshark
  sockit lab --run 'python3 server.py'    your own program's packets
  sockit lab select --mermaid             a sequence diagram for a slide
  sockit lab names                        a DNS question and answer, from the lab's resolver
  sockit lab tcp --web                    the diagram in a browser: http://127.0.0.1:40000/lab";

/// A slide of the lecture that moves packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LabSlide {
    /// socket, bind, listen, connect, accept, send, recv, shutdown, close; a refused connect.
    Tcp,
    /// A receiver on 40000, a datagram, a broadcast without and with SO_BROADCAST, ICMP.
    Udp,
    /// One server, several clients, select() waking on whichever is ready.
    #[value(alias = "threads", alias = "chat")]
    Select,
    /// gethostbyname and gethostbyaddr asking a resolver inside the lab (www.lab.test).
    Names,
}

#[derive(Debug, Args)]
pub struct LabArgs {
    /// The slide to play.
    #[arg(value_name = "SLIDE", required_unless_present = "run")]
    pub slide: Option<LabSlide>,
    /// Run this shell line in the lab's network instead, and show every frame it causes.
    #[arg(long, value_name = "CMD", conflicts_with = "slide")]
    pub run: Option<String>,
    /// Write every captured frame to FILE as pcapng (Wireshark, tshark, tcpdump -r).
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,
    /// Print a Mermaid sequence diagram instead of the ladder.
    #[arg(long, conflicts_with = "html")]
    pub mermaid: bool,
    /// Print the diagram as one HTML page (no script, nothing fetched) instead of the ladder.
    #[arg(long)]
    pub html: bool,
    /// Serve the diagram at /lab on a chat server (the room at /), for a projector: on
    /// 127.0.0.1:40000, or on ADDR (PORT or HOST:PORT) — until Ctrl-C.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:40000", conflicts_with_all = ["html", "mermaid", "pcap"])]
    pub web: Option<String>,
}
