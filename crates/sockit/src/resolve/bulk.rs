//! Many names at once: `lookup` and `reverse` over a list (arguments and a file), resolved
//! concurrently and handed back in input order.

use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use hickory_proto::rr::RecordType;

use super::carrier;
use super::compare::SystemFiles;
use super::pipeline::{self, Asking};
use super::{Answer, DnsConfig, Families, Method, ResolveError, ReverseAnswer, lookup, reverse};

/// Run `work` over `items` on `concurrency` threads and hand each result to `done` in input
/// order, as soon as it and everything before it are finished. `done` returning an error
/// stops the run (the remaining items are skipped).
pub fn for_each_ordered<T, R, E>(
    items: &[T],
    concurrency: usize,
    work: impl Fn(&T) -> R + Sync,
    mut done: impl FnMut(usize, R) -> Result<(), E>,
) -> Result<(), E>
where
    T: Sync,
    R: Send,
{
    let next = AtomicUsize::new(0);
    let workers = concurrency.clamp(1, items.len().max(1));
    let run = |tx: mpsc::Sender<(usize, R)>| {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else { break };
            if tx.send((i, work(item))).is_err() {
                break;
            }
        }
    };
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<(usize, R)>();
        // As many workers as the system gives: a refused thread means fewer of them, never a
        // failure; with none at all, this thread does the work before handing it out.
        let mut started = 0;
        for _ in 0..workers {
            let tx = tx.clone();
            let run = &run;
            match std::thread::Builder::new().spawn_scoped(scope, move || run(tx)) {
                Ok(_) => started += 1,
                Err(e) => {
                    tracing::info!(started, error = %e, "no more worker threads");
                    break;
                }
            }
        }
        if started == 0 {
            run(tx.clone());
        }
        drop(tx);
        let mut pending: std::collections::BTreeMap<usize, R> = std::collections::BTreeMap::new();
        let mut emit = 0usize;
        for (i, r) in rx {
            pending.insert(i, r);
            while let Some(r) = pending.remove(&emit) {
                if let Err(e) = done(emit, r) {
                    // Stop the workers: they see an index past the end.
                    next.store(items.len(), Ordering::Relaxed);
                    return Err(e);
                }
                emit += 1;
            }
        }
        Ok(())
    })
}

/// `lookup` and `reverse`: what to resolve, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct NamesConfig {
    /// Names or addresses from the command line.
    pub items: Vec<String>,
    /// More, one a line, from a file (`-`: the input handed to `run`).
    pub file: Option<std::path::PathBuf>,
    /// Ask this server directly.
    pub server: Option<SocketAddr>,
    /// Without `server`, ask resolv.conf's servers directly (not the system resolver).
    pub direct: bool,
    pub tcp: bool,
    /// DNS over TLS, trusting what this says.
    pub tls: Option<crate::tls::ClientTls>,
    /// DNS over HTTPS (with `tls`'s checks): the server's path, GET or POST.
    pub https: Option<super::https::Doh>,
    /// DNS over QUIC (with `tls`'s checks).
    pub quic: bool,
    pub timeout: Duration,
    pub retries: u32,
    pub concurrency: usize,
    /// For `lookup`: one record type (None: addresses), and which families.
    pub rtype: Option<RecordType>,
    pub families: Families,
    /// The queries' flags and EDNS options (a direct query's).
    pub options: super::edns::QueryOptions,
    /// Each name's addresses from the system and from DNS, side by side.
    pub compare: bool,
    /// Each reply whole, as RFC 8427 writes a message in JSON.
    pub rfc8427: bool,
}

/// Why `lookup` or `reverse` could not start, or could not go on.
#[derive(Debug, thiserror::Error)]
pub enum NamesError {
    #[error(transparent)]
    ResolvConf(#[from] crate::dns_config::ResolvConfError),
    #[error("{} lists no nameserver", crate::dns_config::RESOLV_CONF)]
    NoNameserver,
    #[error("cannot read {path}: {cause}")]
    Read { path: String, cause: std::io::Error },
    #[error("output: {0}")]
    Output(#[source] std::io::Error),
}

/// Where each item's result goes, in input order; an error stops the run.
pub type Done<'a, T> = dyn FnMut(&str, Result<T, ResolveError>) -> std::io::Result<()> + 'a;

impl NamesError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<crate::hint::Hint> {
        match self {
            NamesError::ResolvConf(e) => e.hint(),
            NamesError::NoNameserver => Some(crate::hint::Hint::NameServer),
            _ => None,
        }
    }
}

/// How many of the items failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamesReport {
    pub total: usize,
    pub failed: usize,
}

impl NamesConfig {
    fn method(&self) -> Result<Method, NamesError> {
        let servers = match self.server {
            Some(s) => vec![s],
            None if self.direct || self.compare => {
                let servers = crate::dns_config::servers(std::path::Path::new(crate::dns_config::RESOLV_CONF))?;
                if servers.is_empty() {
                    return Err(NamesError::NoNameserver);
                }
                servers
            }
            None => return Ok(Method::System),
        };
        // resolv.conf's servers are asked over TLS (or HTTPS, or QUIC) on its port.
        let port = if self.https.is_some() { 443 } else { 853 };
        let servers = match (&self.tls, self.server) {
            (Some(_), None) => servers.into_iter().map(|s| SocketAddr::new(s.ip(), port)).collect(),
            _ => servers,
        };
        let config = DnsConfig {
            servers,
            tcp: self.tcp,
            tls: self.tls.clone(),
            https: self.https.clone(),
            quic: self.quic,
            timeout: self.timeout,
            retries: self.retries,
            options: self.options.clone(),
        };
        if self.compare {
            return Ok(Method::Compare { config: Box::new(config), files: Box::new(SystemFiles::read()) });
        }
        Ok(Method::Direct { config: Box::new(config), rtype: self.rtype })
    }

    /// The items: the arguments, then the file's lines (blank lines and `#` comments skipped).
    fn items(&self, input: impl Read) -> Result<Vec<String>, NamesError> {
        let mut items = self.items.clone();
        if let Some(path) = &self.file {
            let read = |e| NamesError::Read { path: path.display().to_string(), cause: e };
            let limit = crate::stdio::limits::LIST;
            let text = if path == std::path::Path::new("-") {
                let bytes = crate::stdio::read_bounded(input, limit).map_err(read)?;
                String::from_utf8_lossy(&bytes).into_owned()
            } else {
                crate::stdio::read_file_text(path, limit).map_err(read)?
            };
            items.extend(
                text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_string),
            );
        }
        Ok(items)
    }
}

/// The way a bulk run reaches `server`: UDP, or TLS when asked for.
fn carrier(server: SocketAddr, config: &DnsConfig) -> Option<Box<dyn carrier::Carrier>> {
    let c: Box<dyn carrier::Carrier> = match (&config.tls, &config.https) {
        (Some(tls), _) if config.quic => Box::new(super::quic::Quic::new(server, tls, config.timeout).ok()?),
        (Some(tls), Some(doh)) => Box::new(super::https::Streams::new(server, tls, doh, config.timeout).ok()?),
        (Some(tls), None) => Box::new(carrier::Tls::new(server, tls, config.timeout).ok()?),
        _ => Box::new(carrier::Udp::new(server).ok()?),
    };
    Some(c)
}

/// Resolve every name, handing each result to `done` in input order.
pub fn lookup_run(cfg: &NamesConfig, input: impl Read, done: &mut Done<'_, Answer>) -> Result<NamesReport, NamesError> {
    let method = cfg.method()?;
    let items = cfg.items(input)?;
    if cfg.rfc8427
        && let Method::Direct { config, rtype } = &method
    {
        let types = rtype.map_or_else(|| super::wire::family_types(cfg.families).to_vec(), |t| vec![t]);
        return run_each(&items, cfg.concurrency, |n| super::rfc8427::messages(config, n, &types), done);
    }
    // One server over UDP, TLS or HTTPS: every question in flight on one socket or connection
    // (`pipeline`); otherwise (the system's resolver, several servers in turn, TCP, a zone
    // transfer) a thread a name. A TLS or HTTPS server that cannot be reached is left to the
    // threads, which say why.
    if let Method::Direct { config, rtype } = &method
        && let [server] = config.servers[..]
        && !config.tcp
        && *rtype != Some(RecordType::AXFR)
        && let Some(mut carrier) = carrier(server, config)
    {
        let asking = rtype.map_or(Asking::Addresses(cfg.families), Asking::Type);
        // An address needs no question (but for its PTR records): `lookup` answers it.
        let early = |name: &str| sockit_core::addr::parse_ip(name).is_ok().then(|| lookup(&method, name, cfg.families));
        let mut failed = 0;
        pipeline::lookup_all(config, carrier.as_mut(), &items, asking, cfg.concurrency, &early, &mut |i, r| {
            failed += usize::from(r.is_err());
            done(&items[i], r)
        })
        .map_err(NamesError::Output)?;
        return Ok(NamesReport { total: items.len(), failed });
    }
    run_each(&items, cfg.concurrency, |n| lookup(&method, n, cfg.families), done)
}

/// Reverse-resolve every address, handing each result to `done` in input order; a line that
/// is not an address fails on its own.
pub fn reverse_run(
    cfg: &NamesConfig,
    input: impl Read,
    done: &mut Done<'_, ReverseAnswer>,
) -> Result<NamesReport, NamesError> {
    let method = cfg.method()?;
    let items = cfg.items(input)?;
    let work = |s: &str| {
        let ip = sockit_core::addr::parse_ip(s)
            .map_err(|e| ResolveError::BadName { name: s.to_string(), reason: e.to_string() })?;
        reverse(&method, ip)
    };
    run_each(&items, cfg.concurrency, work, done)
}

fn run_each<T: Send>(
    items: &[String],
    concurrency: usize,
    work: impl Fn(&str) -> Result<T, ResolveError> + Sync,
    done: &mut Done<'_, T>,
) -> Result<NamesReport, NamesError> {
    let mut failed = 0;
    for_each_ordered(
        items,
        concurrency,
        |s| work(s),
        |i, r| {
            failed += usize::from(r.is_err());
            done(&items[i], r)
        },
    )
    .map_err(NamesError::Output)?;
    Ok(NamesReport { total: items.len(), failed })
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_results_whatever_the_finish_order() {
        let items: Vec<u64> = (0..200).collect();
        let mut seen = Vec::new();
        let r: Result<(), ()> = for_each_ordered(
            &items,
            16,
            |&i| {
                std::thread::sleep(Duration::from_micros((200 - i) * 20));
                i * 2
            },
            |idx, v| {
                seen.push((idx, v));
                Ok(())
            },
        );
        assert!(r.is_ok());
        assert_eq!(seen, items.iter().map(|&i| (usize::try_from(i).expect("index"), i * 2)).collect::<Vec<_>>());
        let mut n = 0;
        let r = for_each_ordered(
            &items,
            4,
            |&i| i,
            |_, _| {
                if n == 10 {
                    return Err("stop");
                }
                n += 1;
                Ok(())
            },
        );
        assert_eq!(r, Err("stop"));
    }
}
