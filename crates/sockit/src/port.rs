//! Slide 2, the common services: port numbers and service names both ways, from IANA's
//! registry (built in) with /etc/services laid over it, and the kernel's ephemeral range.

use sockit_core::services::{PortQuery, PortReport, Proto, Registry};

/// `port`: what to look up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortConfig {
    /// Each query with its protocol.
    pub queries: Vec<(PortQuery, Option<Proto>)>,
    /// `--tcp` or `--udp`, if given.
    pub flag: Option<Proto>,
}

/// Answer every query from this host's registry and ephemeral range.
pub fn run(cfg: &PortConfig) -> PortReport {
    sockit_core::services::report(&service_registry(), &cfg.queries, ephemeral_port_range())
}

/// Where the local services database lives.
pub const ETC_SERVICES: &str = "/etc/services";

/// The built-in service registry with /etc/services laid over it when it can be read; a
/// missing or unreadable file leaves the built-in table alone.
pub fn service_registry() -> Registry {
    match crate::stdio::read_file_text(std::path::Path::new(ETC_SERVICES), crate::stdio::limits::CONFIG) {
        Ok(text) => Registry::overlay(&text),
        Err(e) => {
            tracing::debug!(file = ETC_SERVICES, error = %e, "using the built-in registry alone");
            Registry::builtin()
        }
    }
}

/// The kernel's ephemeral (local) port range, or Linux's default when it cannot be read.
pub fn ephemeral_port_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|t| {
            let mut w = t.split_whitespace().map(str::parse::<u16>);
            Some((w.next()?.ok()?, w.next()?.ok()?))
        })
        .unwrap_or((32768, 60999))
}
