//! `scan --service`: what each open TCP port runs, found as nmap -sV finds it: the NULL probe
//! first (connect and listen: SSH, SMTP, FTP, NATS speak first), then the probes meant for the
//! port, then the others as rare as `INTENSITY` allows, a connection each; what comes back is
//! matched as it comes (a hard match ends the port's probing, a soft one narrows the rest to
//! its service), the probe's fallbacks' lines tried too. A port found to speak TLS is probed
//! again inside TLS (nmap's `ssl/http`), any certificate taken: the scan names the service, it
//! does not trust it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rustls::{ClientConfig, ClientConnection};

pub use super::probes::Found;
use super::probes::{Probe, parse};

/// How rare a probe may be and still be sent (nmap's default intensity).
const INTENSITY: u8 = 7;
/// Ports probed at once.
const AT_ONCE: usize = 16;
/// The most read from one probe's connection.
const MOST: usize = 64 << 10;
/// Once something has come, how long a quiet connection is waited on for more.
const QUIET: Duration = Duration::from_millis(500);

/// nmap's probes, read from its file.
pub struct ServiceProbes {
    probes: Vec<Probe>,
    /// The TLS client, made when a port first turns out to speak TLS (`None`: it could not be).
    tls: OnceLock<Option<Arc<ClientConfig>>>,
}

/// Where Debian's nmap-common puts the file.
pub const SYSTEM_PROBES: &str = "/usr/share/nmap/nmap-service-probes";

impl std::fmt::Debug for ServiceProbes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceProbes").field("probes", &self.probes.len()).finish()
    }
}

impl ServiceProbes {
    /// The probes of `path`'s file.
    pub fn load(path: &std::path::Path) -> std::io::Result<ServiceProbes> {
        ServiceProbes::of_text(&crate::stdio::read_file_text(path, crate::stdio::limits::LIST)?)
    }

    /// The probes of a file's text.
    pub fn of_text(text: &str) -> std::io::Result<ServiceProbes> {
        // UDP probes are kept for their match lines: a TCP probe may fall back to them.
        let probes: Vec<Probe> = parse(text);
        if !probes.iter().any(|p| p.tcp) {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "it holds no TCP probe"));
        }
        Ok(ServiceProbes { probes, tls: OnceLock::new() })
    }

    /// What runs at each of `open`, in their order (`None`: nothing matched).
    pub fn identify_all(&self, open: &[SocketAddr]) -> Vec<Option<Found>> {
        let found: Vec<std::sync::OnceLock<Option<Found>>> = open.iter().map(|_| std::sync::OnceLock::new()).collect();
        let next = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..open.len().min(AT_ONCE) {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(&at) = open.get(i) else { return };
                        let _ = found[i].set(self.identify(at));
                    }
                });
            }
        });
        found.into_iter().map(|f| f.into_inner().flatten()).collect()
    }

    /// What runs at `at`: what its plain bytes say, or, when they say TLS, what runs inside it
    /// (TLS alone when nothing inside matches).
    fn identify(&self, at: SocketAddr) -> Option<Found> {
        let found = self.identify_over(at, None)?;
        if found.service != "ssl" {
            return Some(found);
        }
        let Some(tls) = self.tls.get_or_init(|| crate::tls::client_config(None, true).ok()) else {
            return Some(found);
        };
        match self.identify_over(at, Some(tls)) {
            Some(inside) => Some(Found { tls: true, ..inside }),
            None => Some(found),
        }
    }

    /// What runs at `at`, probed in plain bytes or inside TLS.
    fn identify_over(&self, at: SocketAddr, tls: Option<&Arc<ClientConfig>>) -> Option<Found> {
        let port = at.port();
        let tcp = || self.probes.iter().filter(|p| p.tcp);
        let null = tcp().filter(|p| p.name == "NULL");
        let meant = tcp().filter(|p| p.name != "NULL" && p.for_port(port, tls.is_some()));
        let others = tcp().filter(|p| p.name != "NULL" && !p.for_port(port, tls.is_some()) && p.rarity <= INTENSITY);
        let mut soft: Option<Found> = None;
        for probe in null.chain(meant).chain(others) {
            let service = soft.as_ref().map(|s| s.service.clone());
            // A soft match narrows the rest to probes that can say more of its service.
            if let Some(s) = &service
                && !self.lines(probe).any(|m| m.service == *s)
            {
                continue;
            }
            let Some(found) = self.exchange(at, tls, probe, service.as_deref()) else { continue };
            if !found.soft {
                return Some(found);
            }
            soft.get_or_insert(found);
        }
        soft
    }

    /// The match lines a probe's reply is held to: its own, then its fallbacks' (NULL's last,
    /// as nmap does for every probe).
    fn lines<'a>(&'a self, probe: &'a Probe) -> impl Iterator<Item = &'a super::probes::Match> + 'a {
        let fallbacks = probe
            .fallback
            .iter()
            .filter_map(|name| self.probes.iter().find(|p| p.name == *name))
            .chain(self.probes.iter().filter(|p| p.tcp && p.name == "NULL" && probe.name != "NULL"));
        probe.matches.iter().chain(fallbacks.flat_map(|p| p.matches.iter()))
    }

    /// `probe` sent on a connection of its own (inside TLS if `tls`); what came back matched
    /// as it comes, until a hard match, the end of the stream, the probe's wait, or a quiet
    /// spell after a reply.
    fn exchange(
        &self,
        at: SocketAddr,
        tls: Option<&Arc<ClientConfig>>,
        probe: &Probe,
        only: Option<&str>,
    ) -> Option<Found> {
        let wait = Duration::from_millis(probe.wait_ms);
        let deadline = Instant::now() + wait;
        // Connected, and the TLS handshake made, within the probe's wait.
        let mut s = Link::connect(at, tls, deadline)?;
        if !probe.send.is_empty() {
            s.write_all(&probe.send).ok()?;
        }
        let (mut got, mut buf) = (Vec::new(), [0u8; 4096]);
        let mut soft = None;
        loop {
            let now = Instant::now();
            if now >= deadline || got.len() >= MOST {
                break;
            }
            s.by = if got.is_empty() { deadline } else { deadline.min(now + QUIET) };
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
            match self.reply(probe, &got, only) {
                Some(f) if !f.soft => return Some(f),
                Some(f) => {
                    soft.get_or_insert(f);
                }
                None => {}
            }
        }
        soft
    }

    /// What `got` (a reply to `probe`, all of it so far) says, held to the probe's lines (of
    /// service `only`, if given): the first hard match, else the first soft one.
    fn reply(&self, probe: &Probe, got: &[u8], only: Option<&str>) -> Option<Found> {
        let mut soft = None;
        for m in self.lines(probe).filter(|m| only.is_none_or(|s| m.service == s)) {
            if let Some(f) = m.find(got) {
                if !f.soft {
                    return Some(f);
                }
                soft.get_or_insert(f);
            }
        }
        soft
    }

    /// How many probes there are, TCP and UDP.
    pub fn len(&self) -> usize {
        self.probes.len()
    }

    /// Whether there are none (never, once loaded).
    pub fn is_empty(&self) -> bool {
        self.probes.is_empty()
    }

    /// What `got` says as a reply to the `probe`th probe (for fuzzing the matching).
    pub fn reply_to(&self, probe: usize, got: &[u8]) -> Option<Found> {
        self.reply(self.probes.get(probe)?, got, None)
    }
}

/// A probe's connection: plain, or TLS over it; every read ends by `by`, however slowly the
/// service sends (a TLS record dripped a byte at a time included).
struct Link {
    sock: TcpStream,
    tls: Option<Box<ClientConnection>>,
    by: Instant,
}

impl Link {
    fn connect(at: SocketAddr, tls: Option<&Arc<ClientConfig>>, by: Instant) -> Option<Link> {
        let sock = TcpStream::connect_timeout(&at, by.saturating_duration_since(Instant::now())).ok()?;
        // A write waits no longer than the probe (a probe is small: the kernel takes it).
        sock.set_write_timeout(Some(by.saturating_duration_since(Instant::now()).max(Duration::from_millis(1))))
            .ok()?;
        // An address for a name: no SNI is sent, as nmap sends none to an address.
        let tls = match tls {
            Some(config) => Some(Box::new(ClientConnection::new(Arc::clone(config), at.ip().into()).ok()?)),
            None => None,
        };
        let mut link = Link { sock, tls, by };
        link.handshake().then_some(link)
    }

    /// The TLS handshake, if any, by `by`.
    fn handshake(&mut self) -> bool {
        let Some(conn) = self.tls.as_deref_mut() else { return true };
        loop {
            while conn.wants_write() {
                if conn.write_tls(&mut self.sock).is_err() {
                    return false;
                }
            }
            if !conn.is_handshaking() {
                return true;
            }
            if !Link::read_tls(conn, &mut self.sock, self.by) {
                return false;
            }
        }
    }

    /// More of the service's TLS bytes read and taken in; false at the end, an error, a
    /// malformed record, or `by`.
    fn read_tls(conn: &mut ClientConnection, sock: &mut TcpStream, by: Instant) -> bool {
        let left = by.saturating_duration_since(Instant::now());
        if left.is_zero() || sock.set_read_timeout(Some(left)).is_err() {
            return false;
        }
        matches!(conn.read_tls(sock), Ok(n) if n > 0) && conn.process_new_packets().is_ok()
    }
}

impl Read for Link {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // Past `by`, or (inside TLS) the end or a broken record: nothing more comes.
        let timed_out = || std::io::Error::from(std::io::ErrorKind::TimedOut);
        let Some(conn) = self.tls.as_deref_mut() else {
            let left = self.by.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(timed_out());
            }
            self.sock.set_read_timeout(Some(left))?;
            return self.sock.read(buf);
        };
        loop {
            match conn.reader().read(buf) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                done => return done,
            }
            if !Link::read_tls(conn, &mut self.sock, self.by) {
                return Err(timed_out());
            }
        }
    }
}

impl Write for Link {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let Some(conn) = self.tls.as_deref_mut() else { return self.sock.write(buf) };
        let n = conn.writer().write(buf)?;
        while conn.wants_write() {
            conn.write_tls(&mut self.sock)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.sock.flush()
    }
}
