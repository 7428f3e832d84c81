//! `sockit scan`: a port scanner (slide 2's services table plus slide 3's connect()):
//! the plan (targets, ports, exclusions) walked host group by host group through the engine
//! (`engine`: one epoll loop per core), or through a proxy a probe at a time, with banners
//! read from the open ports; or a SYN scan on raw sockets (`syn`, the default where the process
//! may open one and a target is not loopback), or a UDP scan without root
//! (`udp`, with `payloads` for the services that answer); and what runs on the open ports
//! named by nmap's service probes (`service`, the probes file read by `probes`).

mod batch;
mod engine;
mod list;
mod payloads;
mod probes;
mod quiet;
pub mod service;
pub mod syn;
mod udp;
mod wire;

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sockit_core::scan::{Permutation, PortState, ScanMethod};

pub use engine::{ScanConfig, ScanOutcome, scan};
use engine::{UNSET, decode, encode, is_resource_shortage, random_seed};
pub use list::{ListError, TargetList};

/// `scan`: what to probe and how.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanPlan {
    pub targets: Vec<sockit_core::scan::Target>,
    /// The targets as written, for names in the report.
    pub specs: Vec<String>,
    /// Addresses left out (blocks only).
    pub exclude: Vec<sockit_core::scan::Target>,
    /// How to probe; `run` caps the concurrency by the open-file limit and sets the workers.
    pub probes: ScanConfig,
    /// Report only open ports.
    pub only_open: bool,
    /// `--banner`: how long to wait for what each open port's service says first.
    pub banner: Option<Duration>,
    /// Probe through this proxy: a connect a probe, open when the proxy connects.
    pub proxy: Option<sockit_core::proxy::Proxy>,
    /// Scan UDP ports (connected sockets reading ICMP errors), not TCP.
    pub udp: bool,
    /// SYN or connect, for a TCP scan without a proxy.
    pub tcp: TcpScan,
    /// Name what runs on each open TCP port with the service probes of this file
    /// (nmap-service-probes).
    pub service: Option<std::path::PathBuf>,
}

/// How a TCP scan without a proxy probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpScan {
    /// By SYN when the process may open a raw socket and a target is not loopback (where a
    /// connect is answered as fast as a SYN, and needs no wait for late answers); by connect
    /// otherwise.
    Auto,
    Connect,
    /// By SYN, or an error without a raw socket.
    Syn,
}

/// Why a scan did not run.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(transparent)]
    Resolve(#[from] crate::resolve::ResolveError),
    #[error(transparent)]
    Net(#[from] crate::net::NetError),
    #[error("scan: {0}")]
    Io(#[from] io::Error),
    #[error(transparent)]
    List(#[from] ListError),
    #[error(
        "scan: a SYN scan needs a raw socket, which this process may not open ({0}): run it as root or with CAP_NET_RAW, or scan without it"
    )]
    NoRawSocket(io::Error),
    #[error("scan: cannot read the service probes {path}: {cause}")]
    Probes { path: String, cause: io::Error },
    #[error(
        "scan: no socket or local port to be had for a probe (the open-file limit is {limit}): raise it with ulimit -n"
    )]
    Starved { limit: String },
}

impl ScanError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<crate::hint::Hint> {
        match self {
            ScanError::Starved { .. } => Some(crate::hint::Hint::FewerProbes),
            ScanError::List(ListError::TooMany(_)) => Some(crate::hint::Hint::ConfirmMany),
            _ => None,
        }
    }
}

impl ScanPlan {
    /// How many addresses the plan scans, once names are resolved (one address each), with
    /// those of `list`.
    pub fn addresses(&self, list: Option<&TargetList>) -> u128 {
        let listed = list.map_or(0, |l| l.addresses);
        self.targets.iter().fold(listed, |n, t| n.saturating_add(t.count()))
    }

    /// How many probes the plan makes, with the targets of `list`.
    pub fn jobs(&self, list: Option<&TargetList>) -> u128 {
        self.addresses(list).saturating_mul(self.probes.ports.len() as u128)
    }
}

/// Probes scanned as one group of hosts: a target set of any size streams through groups of
/// this many (address, port) pairs, so memory stays bounded (a few tens of MB).
const GROUP_JOBS: usize = 1 << 16;

/// Probes scanned as one group of hosts by SYN.
const SYN_GROUP_JOBS: usize = 1 << 20;

/// Probes through a proxy at once, at most: each holds a thread and a connection to the proxy.
const PROXY_PROBES: usize = 64;

/// What a scan through a proxy found: each probe's state and, when banners are asked for,
/// what each open port said first (both host-major, as the probes are numbered).
struct ViaProxy {
    states: Vec<PortState>,
    banners: Vec<Option<String>>,
}

/// Every (address, port) through `proxy`, a blocking connect a probe on a few threads, held
/// to `--rate` starts a second across them, a silent port asked again `--retries` times, an
/// open port's banner read on the connection the proxy made; the first failure of the proxy
/// itself ends the scan.
fn scan_via(
    proxy: &sockit_core::proxy::Proxy,
    addrs: &[SocketAddr],
    cfg: &ScanConfig,
    banner: Option<Duration>,
    done: &AtomicU64,
) -> Result<ViaProxy, ScanError> {
    let jobs = addrs.len() * cfg.ports.len();
    let states: Vec<AtomicU8> = (0..jobs).map(|_| AtomicU8::new(UNSET)).collect();
    let banners: Vec<std::sync::OnceLock<String>> = (0..jobs).map(|_| std::sync::OnceLock::new()).collect();
    let next = AtomicU64::new(0);
    let failed = std::sync::Mutex::new(None);
    let order = Permutation::new(jobs as u64, cfg.randomize.then(random_seed));
    let pace = Pace::new(cfg.rate);
    std::thread::scope(|s| {
        for _ in 0..cfg.concurrency.clamp(1, PROXY_PROBES).min(jobs.max(1)) {
            s.spawn(|| {
                loop {
                    let j = next.fetch_add(1, Ordering::Relaxed);
                    if j >= order.len() || failed.lock().map_or(true, |f| f.is_some()) {
                        return;
                    }
                    let job = usize::try_from(order.at(j)).unwrap_or(usize::MAX);
                    let (addr, port) = (addrs[job / cfg.ports.len()], cfg.ports[job % cfg.ports.len()]);
                    let mut tries = 0;
                    let probed = loop {
                        pace.start();
                        match crate::dial::proxy::probe(proxy, addr.ip(), port, cfg.timeout) {
                            Ok((PortState::Filtered, _)) if tries < cfg.retries => tries += 1,
                            other => break other,
                        }
                    };
                    match probed {
                        Ok((state, stream)) => {
                            if let (Some(wait), Some(stream)) = (banner, stream)
                                && let Some(said) = read_banner(stream, wait)
                            {
                                let _ = banners[job].set(said);
                            }
                            states[job].store(encode(state), Ordering::Relaxed);
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            if let Ok(mut f) = failed.lock() {
                                f.get_or_insert(e);
                            }
                            return;
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = failed.into_inner().ok().flatten() {
        return Err(ScanError::Net(e));
    }
    Ok(ViaProxy {
        states: states.iter().map(|s| decode(s.load(Ordering::Relaxed))).collect(),
        banners: banners.into_iter().map(std::sync::OnceLock::into_inner).collect(),
    })
}

/// `--rate` for probes on several threads: each start takes the next slot, 1/rate apart.
struct Pace {
    every: Option<Duration>,
    next: std::sync::Mutex<Instant>,
}

impl Pace {
    fn new(rate: Option<f64>) -> Pace {
        let every = rate.filter(|r| r.is_finite() && *r > 0.0).map(|r| Duration::from_secs_f64(1.0 / r));
        Pace { every, next: std::sync::Mutex::new(Instant::now()) }
    }

    /// Wait for this start's slot.
    fn start(&self) {
        let Some(every) = self.every else { return };
        let at = {
            let mut next = self.next.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let at = (*next).max(Instant::now());
            *next = at + every;
            at
        };
        std::thread::sleep(at.saturating_duration_since(Instant::now()));
    }
}

/// The longest banner read, in bytes.
const BANNER_MAX: usize = 1024;

/// What each open port's service says first, read within `wait` (a new connection a port, at
/// most `concurrency` at once; nothing is sent): its first line, escaped for a terminal.
fn banners(reports: &mut [sockit_core::scan::HostReport], addrs: &[SocketAddr], wait: Duration, concurrency: usize) {
    let mut open: Vec<(&mut sockit_core::scan::PortResult, SocketAddr)> = Vec::new();
    for (report, addr) in reports.iter_mut().zip(addrs) {
        for p in report.ports.iter_mut().filter(|p| p.state == PortState::Open) {
            let mut at = *addr;
            at.set_port(p.port);
            open.push((p, at));
        }
    }
    for batch in open.chunks_mut(concurrency.clamp(1, 256)) {
        std::thread::scope(|s| {
            for (port, at) in batch.iter_mut() {
                let at = *at;
                s.spawn(move || port.banner = banner(at, wait));
            }
        });
    }
}

/// Connect, and read the banner.
fn banner(at: SocketAddr, wait: Duration) -> Option<String> {
    read_banner(std::net::TcpStream::connect_timeout(&at, wait).ok()?, wait)
}

/// Read until a newline, `BANNER_MAX` bytes, the peer's close or `wait`: the first line.
fn read_banner(mut sock: std::net::TcpStream, wait: Duration) -> Option<String> {
    use std::io::Read;
    let deadline = Instant::now() + wait;
    let mut got = Vec::new();
    let mut buf = [0u8; BANNER_MAX];
    while got.len() < BANNER_MAX && !got.contains(&b'\n') {
        let left = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())?;
        sock.set_read_timeout(Some(left)).ok()?;
        match sock.read(&mut buf[..BANNER_MAX - got.len()]) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let line = got.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    (!line.is_empty()).then(|| sockit_core::text::escape(line))
}

/// Each open TCP port of `reports` named by what its service answers to nmap's probes.
fn name_services(probes: &service::ServiceProbes, reports: &mut [sockit_core::scan::HostReport], addrs: &[SocketAddr]) {
    let mut open = Vec::new();
    let mut at = Vec::new();
    for (h, r) in reports.iter().enumerate() {
        for (k, p) in r.ports.iter().enumerate() {
            if p.state == PortState::Open && !p.udp() {
                let mut a = addrs[h];
                a.set_port(p.port);
                open.push(a);
                at.push((h, k));
            }
        }
    }
    for ((h, k), found) in at.into_iter().zip(probes.identify_all(&open)) {
        if let Some(f) = found {
            let p = &mut reports[h].ports[k];
            p.service = Some(f.service);
            let more = p.more_mut();
            (more.product, more.version, more.info) = (f.product, f.version, f.info);
            more.tunnel = f.tls.then_some("ssl");
        }
    }
}

/// Resolve the plan's names and those of `list` (the first address the resolver prefers, as
/// nmap does), then scan the hosts a group at a time, the command line's targets first and the
/// list's as it is read, handing each host's report to `host` as its group ends (in target
/// order). `host` returns false to stop the scan early (its reader has gone); the totals then
/// count what was scanned. `done` counts finished probes for a progress display.
pub fn run(
    plan: &ScanPlan,
    mut list: Option<&mut TargetList>,
    done: &AtomicU64,
    host: &mut dyn FnMut(sockit_core::scan::HostReport) -> bool,
) -> Result<sockit_core::scan::ScanTotals, ScanError> {
    use sockit_core::scan::{HostReport, ScannedHost, Target};
    // Names and zones, looked up before a probe is sent, in the order they are met.
    let mut resolved = std::collections::VecDeque::new();
    let mut look_up = |t: &Target| -> Result<(), ScanError> {
        match t {
            Target::Name(n) => {
                resolved.push_back((crate::resolve::system_lookup(n, crate::resolve::Families::Both)?.addresses[0], 0));
            }
            Target::Scoped(ip, zone) => resolved.push_back((IpAddr::V6(*ip), crate::net::zone_index(zone)?)),
            Target::Block { .. } => {}
        }
        Ok(())
    };
    for t in &plan.targets {
        look_up(t)?;
    }
    if let Some(list) = list.as_deref_mut().filter(|l| l.lookups > 0) {
        let mut failed = None;
        list.each(|_, t| look_up(&t).map_err(|e| failed = Some(e)).is_ok()).map_err(|e| list.changed(e))?;
        if let Some(e) = failed {
            return Err(e);
        }
    }
    let probes = match &plan.service {
        Some(path) => Some(
            service::ServiceProbes::load(path)
                .map_err(|cause| ScanError::Probes { path: path.display().to_string(), cause })?,
        ),
        None => None,
    };
    let method = match (&plan.proxy, plan.udp, plan.tcp) {
        (Some(_), _, _) => ScanMethod::Proxy,
        (None, true, _) => ScanMethod::Udp,
        (None, false, TcpScan::Connect) => ScanMethod::Connect,
        (None, false, TcpScan::Syn) => {
            syn::raw_socket_allowed().map_err(ScanError::NoRawSocket)?;
            ScanMethod::Syn
        }
        (None, false, TcpScan::Auto) => {
            let beyond = list.is_some()
                || resolved.iter().any(|(a, _)| !a.is_loopback())
                || plan.targets.iter().any(|t| matches!(t, Target::Block { .. }) && !t.is_loopback());
            if beyond && syn::raw_socket_allowed().is_ok() { ScanMethod::Syn } else { ScanMethod::Connect }
        }
    };
    let limit = crate::net::raise_fd_limit();
    // Leave room for stdio, the epoll descriptors and whatever else the process holds.
    let cfg = ScanConfig {
        concurrency: plan
            .probes
            .concurrency
            .min(usize::try_from(limit.saturating_sub(64).max(1)).unwrap_or(usize::MAX)),
        workers: std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
        ..plan.probes.clone()
    };
    let registry = crate::port::service_registry();
    let proto = if plan.udp { sockit_core::services::Proto::Udp } else { sockit_core::services::Proto::Tcp };
    let service = |port| registry.first_name(port, Some(proto)).map(str::to_string);
    // A SYN scan's probe costs a byte while it runs, and each group ends with a wait for late
    // answers: its groups are larger.
    let group_jobs = if method == ScanMethod::Syn { SYN_GROUP_JOBS } else { GROUP_JOBS };
    // A host costs more than its probes (its address, its source, its report): a group holds
    // at most as many hosts as a connect scan's.
    let per_group = (group_jobs / cfg.ports.len().max(1)).clamp(1, GROUP_JOBS);
    let mut totals = sockit_core::scan::ScanTotals { method, ports_per_host: cfg.ports.len(), ..Default::default() };
    let start = Instant::now();
    let addresses = plan.addresses(list.as_deref());
    // Each port's place in the probes' order, for what the probes said of it (UDP's reasons,
    // a proxy's banners): made once, and not for a scan that needs none.
    let said_of = plan.udp || (plan.banner.is_some() && plan.proxy.is_some());
    let index: std::collections::HashMap<u16, usize> =
        cfg.ports.iter().enumerate().filter(|_| said_of).map(|(i, &p)| (p, i)).collect();
    // Scan the group and hand on its hosts; false when the reader has gone.
    let mut flush =
        |group: &mut Vec<ScannedHost>, totals: &mut sockit_core::scan::ScanTotals| -> Result<bool, ScanError> {
            let addrs: Vec<SocketAddr> = group
                .iter()
                .map(|h| match h.address {
                    IpAddr::V6(ip) => SocketAddr::V6(std::net::SocketAddrV6::new(ip, 0, 0, h.scope_id)),
                    v4 => SocketAddr::new(v4, 0),
                })
                .collect();
            let mut said = Vec::new();
            let mut reasons = Vec::new();
            let states = match &plan.proxy {
                None if method == ScanMethod::Syn => syn::scan(&addrs, &cfg, done)?,
                _ if plan.udp => {
                    let found = udp::scan(&addrs, &cfg, done)?;
                    reasons = found.iter().map(|f| f.1).collect();
                    found.into_iter().map(|f| f.0).collect()
                }
                Some(proxy) => {
                    let via = scan_via(proxy, &addrs, &cfg, plan.banner, done)?;
                    said = via.banners;
                    via.states
                }
                None => {
                    let outcome = scan(&addrs, &cfg, done).map_err(|e| {
                        if is_resource_shortage(&e) {
                            let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
                            ScanError::Starved { limit: limit.map_or("unlimited".to_string(), |l| l.to_string()) }
                        } else {
                            ScanError::Io(e)
                        }
                    })?;
                    totals.self_connects += outcome.self_connects;
                    outcome.states
                }
            };
            let mut reports = HostReport::of_hosts(group, &cfg.ports, &states, service, plan.only_open);
            if plan.udp {
                for (h, report) in reports.iter_mut().enumerate() {
                    for p in &mut report.ports {
                        let reason = index.get(&p.port).map(|i| reasons[h * cfg.ports.len() + i]);
                        let more = p.more_mut();
                        (more.udp, more.reason) = (true, reason);
                    }
                }
            }
            if let Some(probes) = &probes {
                name_services(probes, &mut reports, &addrs);
            }
            match (plan.banner, &plan.proxy) {
                (Some(wait), None) => banners(&mut reports, &addrs, wait, cfg.concurrency),
                // Read by the probes, on the connections the proxy made.
                (Some(_), Some(_)) => {
                    for (h, report) in reports.iter_mut().enumerate() {
                        for p in &mut report.ports {
                            p.banner = index.get(&p.port).and_then(|i| said[h * cfg.ports.len() + i].take());
                        }
                    }
                }
                (None, _) => {}
            }
            group.clear();
            for h in reports {
                totals.add(&h);
                if !host(h) {
                    return Ok(false);
                }
            }
            Ok(true)
        };
    // The targets are walked into groups of hosts on a thread of their own (a list is read as
    // it goes), a group ahead of the scan; the scan stops the walk by hanging up.
    let (groups, ready) = std::sync::mpsc::sync_channel::<Vec<ScannedHost>>(1);
    let walk = move || -> Result<(), ScanError> {
        let mut group: Vec<ScannedHost> = Vec::with_capacity(per_group.min(addresses.min(1 << 20) as usize));
        // Each target's hosts into the group, handed on whenever it is full; false once the
        // scan has hung up.
        let mut take = |spec: &str, t: &Target| -> bool {
            let hosts: Box<dyn Iterator<Item = ScannedHost>> = match t {
                Target::Name(_) | Target::Scoped(..) => Box::new(
                    resolved
                        .pop_front()
                        .map(|(address, scope_id)| ScannedHost { name: Some(spec.to_string()), address, scope_id })
                        .into_iter(),
                ),
                block => Box::new(
                    block
                        .addresses()
                        .filter(|a| !plan.exclude.iter().any(|x| x.contains(*a)))
                        .map(|address| ScannedHost { name: None, address, scope_id: 0 }),
                ),
            };
            for h in hosts {
                group.push(h);
                if group.len() == per_group
                    && groups.send(std::mem::replace(&mut group, Vec::with_capacity(per_group))).is_err()
                {
                    return false;
                }
            }
            true
        };
        let mut going = plan.specs.iter().zip(&plan.targets).all(|(spec, t)| take(spec, t));
        if let (true, Some(list)) = (going, list) {
            list.each(|spec, t| {
                going = take(spec, &t);
                going
            })
            .map_err(|e| list.changed(e))?;
        }
        if going && !group.is_empty() {
            let _ = groups.send(group);
        }
        Ok(())
    };
    std::thread::scope(|s| {
        let walker = s.spawn(walk);
        let mut scanned = Ok(());
        for mut group in &ready {
            match flush(&mut group, &mut totals) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    scanned = Err(e);
                    break;
                }
            }
        }
        drop(ready);
        let walked = walker.join().unwrap_or_else(|_| Err(ScanError::Io(io::Error::other("the target walk failed"))));
        scanned.and(walked)
    })?;
    totals.elapsed_ms = start.elapsed().as_millis();
    Ok(totals)
}
