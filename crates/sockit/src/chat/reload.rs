//! SIGHUP: a running room takes a new configuration without letting anyone go. Certificates
//! and keys are read again, and the limits, the browsers' and scrapers' rules and the history
//! are put in force for every member, connected or not; what only a restart can change (the
//! address, discovery, the room's name, the cluster) is kept and said. A configuration that
//! cannot be read or used is refused whole, and the one in force stays.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use super::config::ServeConfig;
use super::events::Kept;
use super::room::Settings;
use crate::net::{Doing, NetError};

/// The message of the day in `path`, as a member is shown it: each line a notice (`* `),
/// escaped for the terminal. At most 8 KiB.
pub(super) fn motd(path: &Path) -> Result<Arc<str>, NetError> {
    let doing = || Doing::ReadFile { what: "the message of the day", path: path.to_path_buf() };
    let text = crate::stdio::read_file_text(path, crate::stdio::limits::MOTD).map_err(|e| NetError::io(doing(), e))?;
    Ok(text.lines().map(|l| format!("* {}\n", sockit_core::text::escape(l.as_bytes()))).collect::<String>().into())
}

/// A new configuration made ready to put in force.
pub struct Change {
    tls: Option<Arc<rustls::ServerConfig>>,
    /// The new certificate's fingerprint, when the room speaks TLS.
    pub fingerprint: Option<String>,
    max_clients: usize,
    max_line: usize,
    rate: f64,
    web: bool,
    origins: Vec<String>,
    hosts: Vec<String>,
    metrics: crate::listener::AccessRules,
    history: usize,
    motd: Option<Arc<str>>,
    irc_name: Option<String>,
    /// What the new configuration asks for that only a restart gives.
    pub kept: Vec<Kept>,
}

impl std::fmt::Debug for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Change").field("fingerprint", &self.fingerprint).field("kept", &self.kept).finish()
    }
}

impl Change {
    /// `new` made ready for a room started with `first` and listening on `local`: its
    /// certificate read (or a self-signed one made), what it cannot change listed.
    pub fn prepare(first: &ServeConfig, new: &ServeConfig, local: SocketAddr) -> Result<Change, NetError> {
        let (tls, fingerprint) = match &new.tls {
            Some(t) => {
                let (config, fp) = crate::tls::server_config_for(t, local)?;
                (Some(config), Some(fp))
            }
            None => (None, None),
        };
        let kept = [
            (first.bind != new.bind, Kept::Address),
            (first.discovery_port != new.discovery_port, Kept::Discovery),
            (first.room != new.room, Kept::Name),
            (first.cluster != new.cluster, Kept::Cluster),
        ]
        .into_iter()
        .filter_map(|(changed, what)| changed.then_some(what))
        .collect();
        Ok(Change {
            tls,
            fingerprint,
            max_clients: new.max_clients,
            max_line: new.max_line,
            rate: new.rate,
            web: new.web,
            origins: new.web_origins.clone(),
            hosts: new.web_hosts.clone(),
            metrics: new.metrics_allow.clone(),
            history: new.history,
            motd: new.motd.as_deref().map(motd).transpose()?,
            irc_name: new.irc_name.clone(),
            kept,
        })
    }

    /// The settings in force with this change made (the cluster's link and the room's own
    /// names stay).
    pub(super) fn apply(&self, old: &Settings) -> Settings {
        Settings {
            tls: self.tls.clone(),
            max_clients: self.max_clients,
            max_line: self.max_line,
            rate: self.rate,
            web: self.web,
            browsers: super::web::Policy {
                origins: self.origins.clone(),
                hosts: self.hosts.clone(),
                own: old.browsers.own.clone(),
                tls: self.tls.is_some(),
                pages: old.browsers.pages.clone(),
            },
            metrics: self.metrics.clone(),
            history: self.history,
            motd: self.motd.clone(),
            irc_name: self.irc_name.clone(),
            ..old.clone()
        }
    }
}
