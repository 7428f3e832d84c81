//! `chat serve`'s configuration, as the command line (and its config file) gives it: read at
//! the start, and again by each reload.

use std::net::SocketAddr;

use crate::tls::ServerTls;

/// `chat serve`: where, the room's rules, discovery, TLS.
#[derive(Debug, Clone, PartialEq)]
pub struct ServeConfig {
    pub bind: SocketAddr,
    /// The UDP port to answer discovery probes on; `None`: no discovery.
    pub discovery_port: Option<u16>,
    pub tls: Option<ServerTls>,
    pub room: String,
    pub max_clients: usize,
    pub max_line: usize,
    pub rate: f64,
    /// Serve the page and WebSockets on the chat port.
    pub web: bool,
    /// Other origins whose pages may open the room's WebSocket.
    pub web_origins: Vec<String>,
    /// Host names browsers may reach the room by, besides its addresses, localhost and this
    /// machine's name.
    pub web_hosts: Vec<String>,
    /// Lines replayed to a member who joins (0: none).
    pub history: usize,
    /// A file whose lines each member is shown after the welcome (the message of the day).
    pub motd: Option<std::path::PathBuf>,
    /// The server's name to IRC clients (None: the cluster's node name, or `sockit`).
    pub irc_name: Option<String>,
    /// Who may read `GET /metrics` and `GET /healthz` on the chat port (loopback unless
    /// told).
    pub metrics_allow: crate::listener::AccessRules,
    /// One room with the other servers of a cluster, through a NATS broker.
    pub cluster: Option<super::link::ClusterConfig>,
    /// Pages served beside the room's own (`sockit lab --web`).
    pub pages: Vec<super::pages::Page>,
}
