//! `scan`: targets, ports, exclusions and the pace of the probes.

use std::time::Duration;

use sockit::scan::{ScanConfig, ScanPlan};

use super::shared::proxy;
use super::{Result, UsageError, usage};
use crate::cli;

/// A scan as asked: the plan, and a file that lists more targets (read as the scan runs).
#[derive(Debug, Clone, PartialEq)]
pub struct ScanJob {
    pub plan: ScanPlan,
    pub file: Option<std::path::PathBuf>,
    /// `--yes`: more than 65,536 addresses in all (the file's with the plan's) may be scanned.
    pub yes: bool,
    /// Said on stderr before the scan: how `--service` names services without nmap's file.
    pub note: Option<String>,
}

pub(super) fn scan(a: cli::ScanArgs) -> Result<ScanJob> {
    use sockit_core::scan::{Target, parse_ports};
    let ports = parse_ports(&a.ports).map_err(usage)?;
    let targets =
        a.targets.iter().map(|t| Target::parse(t)).collect::<std::result::Result<Vec<_>, _>>().map_err(usage)?;
    let total = targets.iter().fold(0u128, |n, t| n.saturating_add(t.count()));
    sockit_core::scan::allowed(total, a.yes)
        .map_err(|e| UsageError(crate::render::advised(e, Some(sockit::hint::Hint::ConfirmMany))))?;
    if !(a.timeout.is_finite() && a.timeout > 0.0 && a.timeout <= 3600.0) {
        return Err(UsageError(format!("--timeout {} is not a time: give seconds, like 1 or 0.25", a.timeout)));
    }
    if a.rate.is_some_and(|r| !(r.is_finite() && (0.001..=100_000_000.0).contains(&r))) {
        return Err(usage("--rate must be a number of connections a second from 0.001 to 100000000"));
    }
    if a.concurrency == 0 {
        return Err(usage("--concurrency must be at least 1"));
    }
    let exclude = a
        .exclude
        .iter()
        .flat_map(|list| list.split(',').map(str::trim).filter(|t| !t.is_empty()))
        .map(|t| match Target::parse(t) {
            Ok(b @ Target::Block { .. }) => Ok(b),
            Ok(_) => Err(UsageError(format!("--exclude {t}: give addresses, ranges or CIDR blocks, not names"))),
            Err(e) => Err(UsageError(format!("--exclude {t}: {e}"))),
        })
        .collect::<Result<Vec<_>>>()?;
    let (file, yes) = (a.file, a.yes);
    // --service reads nmap's probes; without them (nmap not installed), the banners.
    let system = std::path::Path::new(sockit::scan::service::SYSTEM_PROBES);
    let (service, note) = match (a.service, a.service_probes) {
        (false, _) => (None, None),
        (true, Some(path)) => (Some(path), None),
        (true, None) if system.exists() => (Some(system.to_path_buf()), None),
        (true, None) => (
            None,
            Some(format!("no {} (nmap's package has it): services named by what they say first", system.display())),
        ),
    };
    let banner = a.banner.or((a.service && service.is_none()).then_some(2.0));
    let plan = ScanPlan {
        targets,
        specs: a.targets,
        exclude,
        probes: ScanConfig {
            ports,
            concurrency: a.concurrency,
            timeout: Duration::from_secs_f64(a.timeout),
            retries: a.retries,
            rate: a.rate,
            randomize: !a.ordered,
            send_ip: a.send_ip,
            // Set by the scan from the cores it has.
            workers: 0,
        },
        only_open: a.open,
        banner: banner.map(Duration::from_secs_f64),
        proxy: proxy(&a.proxy)?,
        udp: a.udp,
        tcp: match (a.syn, a.connect) {
            (true, _) => sockit::scan::TcpScan::Syn,
            (false, true) => sockit::scan::TcpScan::Connect,
            (false, false) => sockit::scan::TcpScan::Auto,
        },
        service,
    };
    Ok(ScanJob { plan, file, yes, note })
}
