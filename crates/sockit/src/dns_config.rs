//! The system's DNS settings: resolv.conf as the C library reads it, and the servers
//! systemd-resolved forwards to behind its local stub. `info` shows them; direct queries ask
//! them.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sockit_core::resolv_conf::{Nameserver, ResolvConf};

/// Where resolv.conf lives unless told otherwise.
pub const RESOLV_CONF: &str = "/etc/resolv.conf";
/// systemd-resolved's view of the real upstream servers, behind its 127.0.0.53 stub.
const RESOLVED_UPSTREAM: &str = "/run/systemd/resolve/resolv.conf";

/// resolv.conf could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {path}: {cause}")]
pub struct ResolvConfError {
    pub path: PathBuf,
    pub cause: std::io::Error,
}

impl ResolvConfError {
    pub fn hint(&self) -> Option<crate::hint::Hint> {
        Some(crate::hint::Hint::OtherResolvConf)
    }
}

/// DNS configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Dns {
    /// The file read.
    pub source: PathBuf,
    pub nameservers: Vec<Nameserver>,
    pub search: Vec<String>,
    pub options: Vec<String>,
    /// When resolv.conf points at a local stub (127.0.0.53), the servers the stub forwards to,
    /// if the system exposes them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<Vec<Nameserver>>,
}

/// Read the DNS settings from `path` (the default path may be missing: no servers then).
pub fn read(path: &Path) -> Result<Dns, ResolvConfError> {
    let text = match crate::stdio::read_file_text(path, crate::stdio::limits::CONFIG) {
        Ok(t) => t,
        // No resolv.conf means no configured servers (glibc then tries 127.0.0.1): not an error
        // for the default path; a file the user named must exist.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && path == Path::new(RESOLV_CONF) => String::new(),
        Err(cause) => return Err(ResolvConfError { path: path.to_path_buf(), cause }),
    };
    let rc = ResolvConf::parse(&text);
    for line in &rc.ignored {
        tracing::debug!(file = %path.display(), line, "resolv.conf line not used");
    }
    let upstream = rc
        .is_local_stub()
        .then(|| crate::stdio::read_file_text(Path::new(RESOLVED_UPSTREAM), crate::stdio::limits::CONFIG).ok())
        .flatten()
        .map(|t| ResolvConf::parse(&t).nameservers)
        .filter(|n| !n.is_empty());
    Ok(Dns {
        source: path.to_path_buf(),
        nameservers: rc.nameservers,
        search: rc.search,
        options: rc.options,
        upstream,
    })
}

/// The DNS servers of resolv.conf, as socket addresses on port 53 (IPv6 zones kept).
pub fn servers(path: &Path) -> Result<Vec<std::net::SocketAddr>, ResolvConfError> {
    let d = read(path)?;
    Ok(d.nameservers
        .iter()
        .map(|n| {
            let scope = n.zone.as_deref().and_then(|z| z.parse::<u32>().ok()).unwrap_or(0);
            match n.address {
                IpAddr::V6(a) => std::net::SocketAddr::V6(std::net::SocketAddrV6::new(a, 53, 0, scope)),
                IpAddr::V4(a) => std::net::SocketAddr::from((a, 53)),
            }
        })
        .collect())
}
