//! `sockit lab`: a slide's socket calls made one at a time in a network of the lab's own (a
//! user and network namespace, no root needed: sandbox.rs), every frame they cause captured
//! (capture.rs) and put beside the call, with the sockets' TCP state after it. The slides are
//! in slides.rs, select.rs and names.rs (with the lab's resolver); a user's own program runs
//! in the same network (program.rs).

mod capture;
mod lan;
mod names;
mod netlink;
mod program;
mod sandbox;
mod select;
mod slides;

use std::io;
use std::net::SocketAddr;
use std::os::fd::BorrowedFd;
use std::path::PathBuf;
use std::time::Duration;

pub use sockit_core::lab::{LabReport, Party, Slide, SocketState, Step};

use capture::{Capture, Captured};

/// What `sockit lab` is asked to do.
#[derive(Debug, Clone)]
pub struct LabConfig {
    pub slide: Slide,
    /// `Slide::Run`: the shell line to run in the lab's network.
    pub program: Option<String>,
    /// Write every frame captured here, as pcapng.
    pub pcap: Option<PathBuf>,
}

/// Why the lab stopped.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("{call} failed: {error}")]
    Call { call: String, error: io::Error },
    #[error("this needs a network of the lab's own, and there is none: {0}")]
    NoNamespace(String),
    #[error("could not run the program: {0}")]
    Program(io::Error),
    #[error("could not write {path}: {error}")]
    Pcap { path: String, error: io::Error },
}

/// A call that should not fail, failing: what it was, and why.
pub(crate) fn failed(call: &str) -> impl FnOnce(io::Error) -> LabError + '_ {
    move |error| LabError::Call { call: call.to_string(), error }
}

/// Bytes as a Python bytes literal shows them, escaped for a terminal.
pub(crate) fn shown(b: &[u8]) -> String {
    sockit_core::text::escape(b)
}

/// An errno as strace writes a failed call's result: `-1 ECONNREFUSED (Connection refused)`.
pub(crate) fn errno(e: &io::Error) -> String {
    let name = match e.raw_os_error() {
        Some(libc::ECONNREFUSED) => "ECONNREFUSED",
        Some(libc::EACCES) => "EACCES",
        Some(libc::ENETUNREACH) => "ENETUNREACH",
        Some(libc::EHOSTUNREACH) => "EHOSTUNREACH",
        Some(libc::EAGAIN) => "EAGAIN",
        Some(libc::EADDRINUSE) => "EADDRINUSE",
        Some(libc::ECONNRESET) => "ECONNRESET",
        Some(libc::EPIPE) => "EPIPE",
        Some(libc::ETIMEDOUT) => "ETIMEDOUT",
        _ => "E?",
    };
    let text = e.to_string();
    let text = text.split(" (os error").next().unwrap_or(&text);
    format!("-1 {name} ({text})")
}

/// A run in progress: the capture (when the lab has its own network), the steps so far, every
/// frame for the pcap.
#[derive(Debug)]
pub(crate) struct Lab {
    capture: Option<Capture>,
    report: LabReport,
    raw: Vec<Captured>,
    /// The port the slides listen on: the lecture's 40000 in the lab's own network, any free
    /// one on the host's loopback.
    pub(crate) port: u16,
    initiators: usize,
    /// When each step ended (microseconds since 1970, the kernel's clock for frames).
    ends: Vec<u64>,
}

/// How long the network must be quiet before a step's frames are all in, and the longest a
/// step waits for them.
const QUIET: Duration = Duration::from_millis(40);
const MOST: Duration = Duration::from_secs(1);

impl Lab {
    /// The lab's own network, or the host's loopback without a capture.
    pub(crate) fn own_network(&self) -> bool {
        self.capture.is_some()
    }

    /// Frames seen and not kept (past the capture's bound).
    pub(crate) fn dropped(&self) -> u64 {
        self.capture.as_ref().map_or(0, |c| c.dropped.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Name a socket address in the diagram: one that answers (a server, a receiver), drawn
    /// on the right.
    pub(crate) fn party(&mut self, name: &str, addr: SocketAddr) {
        self.report.parties.push(Party { name: name.to_string(), addr });
    }

    /// Name one that starts things (a client, a sender), drawn on the left, in the order named.
    pub(crate) fn initiator(&mut self, name: &str, addr: SocketAddr) {
        self.report.parties.insert(self.initiators, Party { name: name.to_string(), addr });
        self.initiators += 1;
    }

    /// A step done: the network left to settle, then the sockets' TCP state read. Its frames
    /// are those the kernel stamped before the step ended (given to it at the end).
    pub(crate) fn record(
        &mut self,
        who: &str,
        python: impl Into<String>,
        call: impl Into<String>,
        sockets: &[(&str, BorrowedFd<'_>)],
        note: Option<&str>,
    ) {
        self.settle();
        let states = sockets
            .iter()
            .filter_map(|(name, fd)| {
                crate::tcp_info::of(*fd).map(|tcp| SocketState {
                    socket: (*name).to_string(),
                    tcp,
                    recv_queue: (tcp.state != "LISTEN").then(|| rustix::io::ioctl_fionread(fd).ok()).flatten(),
                })
            })
            .collect();
        self.report.steps.push(Step {
            who: who.to_string(),
            python: python.into(),
            call: call.into(),
            frames: Vec::new(),
            states,
            note: note.map(str::to_string),
        });
        self.ends.push(capture::unix_us_now());
    }

    /// Wait until the network is quiet: the frames the step caused, and what they caused in
    /// turn, all captured.
    fn settle(&mut self) {
        if let Some(capture) = &self.capture {
            self.raw.extend(capture.settle(QUIET, MOST));
        }
    }

    /// The capture stopped, and each frame given to the step it came in: the first that
    /// ended after the kernel stamped it.
    fn finish(&mut self) {
        if let Some(capture) = self.capture.take() {
            self.raw.extend(capture.finish());
        }
        self.raw.sort_by_key(|c| c.unix_us);
        let last = self.report.steps.len().saturating_sub(1);
        for c in &self.raw {
            let k = self.ends.partition_point(|&end| end <= c.unix_us).min(last);
            let mut f = sockit_core::lab::frame::parse(c.t_us, &c.bytes, c.wire_len);
            f.iface = (c.iface != "lo").then(|| c.iface.clone());
            if let Some(step) = self.report.steps.get_mut(k) {
                step.frames.push(f);
            }
        }
    }
}

/// Play the slide (or run the program) and report every step.
pub fn run(cfg: &LabConfig) -> Result<LabReport, LabError> {
    let (capture, why_not) = match sandbox::enter() {
        Ok(()) => match Capture::start() {
            Ok(c) => (Some(c), None),
            Err(e) => (None, Some(format!("could not capture in the lab's network: {e}"))),
        },
        Err(sandbox::Refused(why)) => (None, Some(why)),
    };
    if let (Slide::Run | Slide::Names, Some(why)) = (cfg.slide, &why_not) {
        return Err(LabError::NoNamespace(why.clone()));
    }
    let port = if capture.is_some() { crate::net::DEFAULT_PORT } else { 0 };
    let report = LabReport {
        slide: cfg.slide,
        captured: capture.is_some(),
        why_not,
        parties: Vec::new(),
        links: Vec::new(),
        steps: Vec::new(),
        exit_code: None,
    };
    let mut lab = Lab { capture, report, raw: Vec::new(), port, initiators: 0, ends: Vec::new() };
    match cfg.slide {
        Slide::Tcp => slides::tcp(&mut lab)?,
        Slide::Udp => slides::udp(&mut lab)?,
        Slide::Select => select::many_clients(&mut lab)?,
        Slide::Names => names::names(&mut lab)?,
        Slide::Run => {
            // The program may ask for names too: the lab's resolver answers (www.lab.test).
            let _resolver = names::Resolver::start().map_err(failed("bind 127.0.0.53:53"))?;
            program::run(&mut lab, cfg.program.as_deref().unwrap_or("true"))?;
        }
    }
    lab.finish();
    if let Some(path) = &cfg.pcap {
        // An interface description for each interface frames were seen on, loopback first.
        let mut names: Vec<&str> = vec!["lo"];
        for c in &lab.raw {
            if !names.contains(&c.iface.as_str()) {
                names.push(&c.iface);
            }
        }
        let mut out = sockit_core::lab::pcapng::header(&names);
        for c in &lab.raw {
            let id = names.iter().position(|n| *n == c.iface).and_then(|i| u32::try_from(i).ok()).unwrap_or(0);
            out.extend(sockit_core::lab::pcapng::packet(id, c.unix_us, &c.bytes, c.wire_len));
        }
        std::fs::write(path, out).map_err(|error| LabError::Pcap { path: path.display().to_string(), error })?;
    }
    Ok(lab.report)
}
