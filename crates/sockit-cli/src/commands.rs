//! Each command: the library's entry with the process's stdio, then its report rendered. What
//! to print is `render`'s; what it means for the exit code is decided here.

use std::io::{self, BufWriter, Write};
use std::sync::atomic::AtomicU64;

use sockit::bridge::BridgeEnd;
use sockit::chat::client::{ChatIo, JoinConfig, JoinError, Pick};
use sockit::chat::discovery::DiscoveryConfig;
use sockit::chat::server::{ServeConfig, Stop, Stopped};
use sockit::host::{self, InfoOptions};
use sockit::net::NetError;
use sockit::resolve::{self, NamesConfig};
use sockit::stdio::Stdio;
use sockit::tcp::{ConnectConfig, ListenConfig, TcpReport};
use sockit::udp::{SendConfig, Stopped as UdpStopped};
use sockit_core::addr::report::CheckedQuery;

use crate::exit::{self, Fail, Outcome};
use crate::{render, render_names};

impl From<io::Error> for Fail {
    fn from(e: io::Error) -> Fail {
        Fail::Runtime(e.to_string())
    }
}

/// A library failure: the output gone is success (`sockit ... | head`); a usage error is 2.
fn net_fail(e: NetError) -> Outcome {
    let message = render::advised(&e, e.hint());
    if e.is_broken_pipe() {
        Ok(exit::OK)
    } else if e.is_usage() {
        Err(Fail::Usage(message))
    } else {
        Err(Fail::Runtime(message))
    }
}

/// Write with `write`, then flush; a closed stdout is success.
fn printed(write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<(), Fail> {
    let mut out = BufWriter::new(io::stdout().lock());
    match write(&mut out).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// `--print-config`: the configuration in effect, as a config file.
pub fn print_config(text: &str) -> Outcome {
    printed(|out| out.write_all(text.as_bytes()))?;
    Ok(exit::OK)
}

fn process_stdio() -> Result<Stdio, Fail> {
    Ok(Stdio::process()?)
}

pub fn info(opts: &InfoOptions, json: bool) -> Outcome {
    let info = host::host_info(opts).map_err(|e| Fail::Runtime(render::advised(&e, e.hint())))?;
    printed(|out| if json { render::json(out, &info) } else { render::info(out, &info) })?;
    Ok(exit::OK)
}

pub fn addr(q: &CheckedQuery, json: bool) -> Outcome {
    let r = sockit_core::addr::report::report(q);
    printed(|out| if json { render::json(out, &r) } else { render::addr(out, &r) })?;
    match &r.plan {
        Some(plan) if plan.unallocated > 0 => Err(Fail::Runtime(format!(
            "{} of {} subnets do not fit in {}: use a larger network or fewer hosts",
            plan.unallocated,
            plan.allocations.len(),
            plan.network
        ))),
        _ => Ok(exit::OK),
    }
}

pub fn port(cfg: &sockit::port::PortConfig, json: bool) -> Outcome {
    let r = sockit::port::run(cfg);
    let flag = cfg.flag;
    printed(|out| if json { render::json(out, &r) } else { render::ports(out, &r) })?;
    if r.not_found.is_empty() {
        return Ok(exit::OK);
    }
    let what = r.not_found.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ");
    let proto = flag.map_or(String::new(), |p| format!(" for {p}"));
    let hint = if flag.is_some() { "check the spelling, or try without --tcp/--udp" } else { "check the spelling" };
    Err(Fail::Runtime(format!("no registered service{proto} matches {what}: {hint}")))
}

pub fn hostname(cfg: host::HostnameConfig, json: bool) -> Outcome {
    let r = host::hostname_run(&cfg).map_err(|e| Fail::Runtime(e.to_string()))?;
    printed(|out| if json { render::json(out, &r) } else { render::hostname(out, &r) })?;
    Ok(exit::OK)
}

/// A progress bar on stderr for bulk work (of `len` steps, if known), only when stderr is a
/// terminal.
fn progress(len: Option<u64>) -> indicatif::ProgressBar {
    if !io::IsTerminal::is_terminal(&io::stderr()) {
        return indicatif::ProgressBar::hidden();
    }
    let (pb, template) = match len {
        Some(n) => (indicatif::ProgressBar::new(n), "{bar:40} {pos}/{len} {rate} eta {eta}"),
        None => (indicatif::ProgressBar::no_length(), "{pos} done {rate}"),
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        // A whole number a second: indicatif's own per_sec shows four decimals.
        let rate = |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.0}/s", s.per_sec());
        };
        pb.set_style(style.with_key("rate", rate));
    }
    pb
}

/// Names or addresses, each answer printed in input order, each failure one line on stderr
/// (and an error event in JSON); exit 1 if any failed.
fn names<T: serde::Serialize + render_names::Notes>(
    cfg: &NamesConfig,
    json: bool,
    run: impl FnOnce(
        &NamesConfig,
        io::Stdin,
        &mut resolve::Done<'_, T>,
    ) -> Result<resolve::NamesReport, resolve::NamesError>,
    human: impl Fn(&mut dyn Write, &T) -> io::Result<()>,
) -> Outcome {
    let pb = if cfg.file.is_some() { progress(None) } else { indicatif::ProgressBar::hidden() };
    let mut out = BufWriter::new(io::stdout().lock());
    let r = run(cfg, io::stdin(), &mut |name, r| {
        pb.inc(1);
        match r {
            Ok(answer) if json => render::json_event(&mut out, "answer", &answer),
            Ok(answer) => {
                human(&mut out, &answer)?;
                for note in render_names::Notes::notes(&answer) {
                    pb.suspend(|| eprintln!("sockit: note: {}", sockit_core::text::escape(note.as_bytes())));
                }
                Ok(())
            }
            Err(e) => {
                if json {
                    render::json_event(
                        &mut out,
                        "error",
                        &render::NameError { name, kind: e.kind(), error: e.to_string() },
                    )?;
                }
                pb.suspend(|| eprintln!("sockit: {}", sockit_core::text::escape(e.to_string().as_bytes())));
                Ok(())
            }
        }
    });
    pb.finish_and_clear();
    let flushed = out.flush();
    match r {
        Err(resolve::NamesError::Output(e) | resolve::NamesError::Read { cause: e, .. })
            if e.kind() == io::ErrorKind::BrokenPipe =>
        {
            Ok(exit::OK)
        }
        Err(e) => Err(Fail::Runtime(render::advised(&e, e.hint()))),
        Ok(_) if flushed.as_ref().is_err_and(|e| e.kind() == io::ErrorKind::BrokenPipe) => Ok(exit::OK),
        Ok(r) => {
            flushed?;
            Ok(if r.failed == 0 { exit::OK } else { exit::FAILURE })
        }
    }
}

pub fn lookup(cfg: &NamesConfig, json: bool) -> Outcome {
    names(cfg, json, |c, i, d| resolve::lookup_run(c, i, d), |w, a| render_names::answer(w, a))
}

/// `lookup --trace`: each name traced from the root in turn; exit 1 if any ended without an
/// answer or its chain of trust is bogus.
pub fn trace(cfgs: &[resolve::trace::TraceConfig], json: bool) -> Outcome {
    let mut failed = false;
    for cfg in cfgs {
        match resolve::trace::trace(cfg) {
            Ok(t) => {
                let bogus = t.dnssec.as_ref().is_some_and(|c| c.verdict == resolve::trace::Verdict::Bogus);
                failed |= bogus || t.outcome != resolve::trace::Outcome::Answer;
                printed(|out| if json { render::json_event(out, "trace", &t) } else { render_names::trace(out, &t) })?;
            }
            Err(e) => {
                failed = true;
                eprintln!("sockit: {}", sockit_core::text::escape(e.to_string().as_bytes()));
            }
        }
    }
    Ok(if failed { exit::FAILURE } else { exit::OK })
}

pub fn reverse(cfg: &NamesConfig, json: bool) -> Outcome {
    names(cfg, json, |c, i, d| resolve::reverse_run(c, i, d), |w, a| render_names::reverse(w, a))
}

pub fn udp_listen(cfg: &sockit::udp::ListenConfig, raw: bool, json: bool) -> Outcome {
    let mut out = io::stdout().lock();
    let started = &mut |s: sockit::udp::Started| eprintln!("sockit: {}", render::udp_started(&s));
    match sockit::udp::listen_run(cfg, started, |d| render::datagram(&mut out, d, raw, json)) {
        Ok(r) => match (r.stopped, cfg.receive.count) {
            (UdpStopped::Idle, Some(want)) if r.count < want => {
                Err(Fail::Runtime(format!("received {} of {want} datagrams before --timeout", r.count)))
            }
            _ => Ok(exit::OK),
        },
        Err(e) => net_fail(e),
    }
}

pub fn udp_send(cfg: &SendConfig, json: bool) -> Outcome {
    // Replies are printed by a thread of their own while stdin is sent: stdout locked a reply
    // at a time.
    match sockit::udp::send_run(cfg, io::stdin().lock(), |d| render::datagram(&mut io::stdout().lock(), d, false, json))
    {
        Ok(_) => Ok(exit::OK),
        Err(e) => net_fail(e),
    }
}

fn relayed(r: Result<TcpReport, NetError>, bridge: &sockit::bridge::BridgeOptions) -> Outcome {
    let idle = bridge.idle_timeout;
    match r {
        Ok(TcpReport::Relayed(stats)) => {
            tracing::info!(sent = stats.sent, received = stats.received, end = ?stats.end, "relay finished");
            if bridge.stats {
                match &stats.tcp {
                    Some(info) => eprintln!("sockit: tcp_info: {}", sockit::tcp_info::ss_line(info)),
                    None => eprintln!("sockit: tcp_info: none (not a TCP socket: a Unix socket, or TLS's inner side)"),
                }
            }
            match stats.end {
                BridgeEnd::Idle => Err(Fail::Runtime(format!(
                    "no data either way for {} s (--idle-timeout): closed",
                    idle.map_or(0.0, |d| d.as_secs_f64())
                ))),
                _ => Ok(exit::OK),
            }
        }
        Ok(TcpReport::Command { success }) => Ok(if success { exit::OK } else { exit::FAILURE }),
        Ok(TcpReport::Stopped { interrupted }) => Ok(if interrupted { exit::INTERRUPTED } else { exit::OK }),
        Err(e) => net_fail(e),
    }
}

/// `relay`: forward until stopped; a line a connection (stderr, or JSON Lines on stdout).
/// `relay`; `reread` reads the command line and its config file again on SIGHUP.
pub fn relay(cfg: &sockit::relay::RelayConfig, json: bool, reread: sockit::relay::Reread) -> Outcome {
    let to = sockit::relay::target_name(&cfg.to);
    let log = std::sync::Arc::new(move |f: &sockit::relay::Forwarded| {
        if json {
            let mut out = io::stdout().lock();
            let _ = render::json_event(&mut out, "connection", f).and_then(|()| out.flush());
        } else {
            eprintln!("sockit: {}", render::forwarded(f));
        }
    });
    let started = &mut |s: sockit::relay::Started| eprintln!("sockit: {}", render::relay_started(&s, &to));
    match sockit::relay::run(cfg, started, log, Some(reread)) {
        Ok(()) => Ok(exit::OK),
        Err(e) => net_fail(e),
    }
}

pub fn tcp_connect(cfg: &ConnectConfig) -> Outcome {
    relayed(sockit::tcp::connect_run(cfg, process_stdio()?), &cfg.bridge)
}

/// `tcp listen`; `reread` reads the command line and its config file again on SIGHUP (many
/// clients over TCP).
pub fn tcp_listen(cfg: &ListenConfig, reread: sockit::tcp::Reread) -> Outcome {
    let started = &mut |s| eprintln!("sockit: {}", render::tcp_started(&s));
    relayed(sockit::tcp::listen_run(cfg, process_stdio()?, started, Some(reread)), &cfg.bridge)
}

/// `chat serve`; `reread` reads the command line and its config file again on SIGHUP.
pub fn chat_serve(cfg: &ServeConfig, json: bool, reread: sockit::chat::server::Reread) -> Outcome {
    // The console: one line per event, flushed as it comes; a closed stdout stops it.
    let mut out = io::stdout();
    let mut open = true;
    let console = move |e: &sockit::chat::events::Event| {
        if open {
            let line = if json { serde_json::to_string(e).unwrap_or_default() } else { render::chat_event(e) };
            open = writeln!(out, "{line}").and_then(|()| out.flush()).is_ok();
        }
    };
    let started = &mut |s: &sockit::chat::server::Started| {
        for line in render::chat_started(s) {
            eprintln!("sockit: {line}");
        }
    };
    match sockit::chat::server::run(cfg, console, started, Stop::Signals(Some(reread))) {
        Ok(Stopped::Interrupted) => Ok(exit::INTERRUPTED),
        Ok(_) => Ok(exit::OK),
        Err(e) => net_fail(e),
    }
}

pub fn chat_join(cfg: &JoinConfig) -> Outcome {
    let stdio = process_stdio()?;
    let terminal = stdio.input_is_terminal;
    let pick = &mut |several: &[&sockit::chat::discovery::Found]| {
        if !terminal {
            return Pick::CannotAsk;
        }
        match sockit::chat::discovery::ask(several, &mut io::stdin().lock(), &mut io::stderr()) {
            Some(i) => Pick::Chosen(i),
            None => Pick::NoAnswer,
        }
    };
    let joining = &mut |f: &sockit::chat::discovery::Found| {
        eprintln!("sockit: joining {} at {}", sockit_core::text::escape(f.info.room.as_bytes()), f.address);
    };
    // On a terminal, a line editor keeps what is being typed below the conversation; in a
    // pipe, lines pass as they are.
    let editing = terminal && io::IsTerminal::is_terminal(&io::stdout());
    let saved = editing.then(|| rustix::termios::tcgetattr(io::stdin()).ok()).flatten();
    let chat_io = match editing.then(line_editor).flatten() {
        Some(editor) => editor,
        None => ChatIo::Stdio(stdio),
    };
    let r = sockit::chat::client::run(cfg, chat_io, pick, joining);
    // The editor may still be waiting for a line when the server closes: give the terminal back
    // as it was, not in raw mode.
    if let Some(t) = saved {
        let _ = rustix::termios::tcsetattr(io::stdin(), rustix::termios::OptionalActions::Now, &t);
        // ... and bracketed paste off, which the editor turns on while it reads.
        let _ = io::stdout().write_all(b"\x1b[?2004l").and_then(|()| io::stdout().flush());
    }
    match r {
        Ok(()) => Ok(exit::OK),
        Err(JoinError::Net(e)) => net_fail(e),
        Err(e) if e.is_usage() => Err(Fail::Usage(render::advised(&e, e.hint()))),
        Err(e) => Err(Fail::Runtime(e.to_string())),
    }
}

/// A line editor on the terminal (history, cursor keys, Ctrl-A/E/K/U/W), which shows the
/// server's lines above the line being typed. `None` if the terminal cannot have one.
fn line_editor() -> Option<ChatIo> {
    let crate::editor::Editor { typed, show } = crate::editor::start()?;
    Some(ChatIo::Editor { typed, show })
}

pub fn chat_discover(cfg: &DiscoveryConfig, json: bool) -> Outcome {
    let sockit::chat::discovery::Discovery { found, probed } = match sockit::chat::discovery::discover(cfg) {
        Ok(d) => d,
        Err(e) => return net_fail(e),
    };
    printed(|out| render::discovered(out, &found, json))?;
    if found.is_empty() {
        let to = probed.iter().map(std::string::ToString::to_string).collect::<Vec<_>>().join(", ");
        return Err(Fail::Runtime(format!("no chat server answered at {to} within {} s", cfg.wait.as_secs_f64())));
    }
    Ok(exit::OK)
}

/// A scan: the whole report at the end, or, for a target set too large to hold, each host with
/// an open port as its group of hosts is done (JSON Lines under `--json`) and the totals last.
pub fn scan(job: crate::config::ScanJob, json: bool) -> Outcome {
    let crate::config::ScanJob { plan, file, yes, note } = job;
    if let Some(note) = note {
        eprintln!("sockit: note: {note}");
    }
    let mut list = match &file {
        Some(path) => match sockit::scan::TargetList::open(path, plan.addresses(None), yes) {
            Ok(list) => Some(list),
            Err(e) => return scan_failed(sockit::scan::ScanError::List(e)),
        },
        None => None,
    };
    let plan = &plan;
    let done = AtomicU64::new(0);
    let pb = progress(Some(u64::try_from(plan.jobs(list.as_ref())).unwrap_or(u64::MAX)));
    let streams = plan.addresses(list.as_ref()) > sockit_core::scan::LISTED_AT_MOST;
    let mut out = BufWriter::new(io::stdout().lock());
    let (mut hosts, mut failed, mut first) = (Vec::new(), None, true);
    let mut host = |h: sockit_core::scan::HostReport| {
        // --open: a host with nothing open is left out, as nmap --open leaves it (the totals
        // count it).
        if plan.only_open && h.open == 0 {
            return true;
        }
        if !streams {
            hosts.push(h);
            return true;
        }
        if h.open == 0 {
            return true;
        }
        let written = pb.suspend(|| {
            if json { render::json_event(&mut out, "host", &h) } else { render::scan_host(&mut out, &h, first) }
                .and_then(|()| out.flush())
        });
        first = false;
        written.map_err(|e| failed = Some(e)).is_ok()
    };
    let totals = std::thread::scope(|s| {
        // The ticker wakes every 100 ms, and at once when the scan ends (its sender is
        // dropped): the scan's end is never held up by a ticker asleep.
        let (finished, wake) = std::sync::mpsc::channel::<()>();
        let (pb, done) = (&pb, &done);
        let ticker = s.spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                wake.recv_timeout(std::time::Duration::from_millis(100))
            {
                pb.set_position(done.load(std::sync::atomic::Ordering::Relaxed));
            }
        });
        let r = sockit::scan::run(plan, list.as_mut(), done, &mut host);
        drop(finished);
        let _ = ticker.join();
        pb.finish_and_clear();
        r
    });
    let totals = match totals {
        Ok(t) => t,
        Err(e) => return scan_failed(e),
    };
    let written = match (failed, streams, json) {
        (Some(e), ..) => Err(e),
        (None, true, true) => render::json_event(&mut out, "totals", &totals),
        (None, true, false) => render::scan_totals(&mut out, &totals),
        (None, false, _) => {
            let report = sockit_core::scan::ScanReport { hosts, totals };
            if json { render::json(&mut out, &report) } else { render::scan(&mut out, &report) }
        }
    };
    match written.and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(exit::OK),
    }
}

fn scan_failed(e: sockit::scan::ScanError) -> Outcome {
    match e {
        sockit::scan::ScanError::Net(e) => net_fail(e),
        e => Err(Fail::Runtime(render::advised(&e, e.hint()))),
    }
}

pub fn demo() -> Outcome {
    let mut out = io::stdout().lock();
    let mut failed = None;
    let r = sockit::demo::run(&mut |line| {
        if failed.is_none() {
            failed = writeln!(out, "{line}").and_then(|()| out.flush()).err();
        }
    });
    match failed {
        Some(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(exit::OK),
        Some(e) => return Err(e.into()),
        None => {}
    }
    r.map_err(|e| Fail::Runtime(format!("the demo stopped: {e}")))?;
    Ok(exit::OK)
}

pub fn lab(job: crate::config::LabJob, json: bool) -> Outcome {
    use crate::config::LabForm;
    if let Some((room, play)) = job.web {
        return lab_web(room, &play);
    }
    let r = sockit::lab::run(&job.config).map_err(|e| Fail::Runtime(e.to_string()))?;
    if let Some(why) = &r.why_not {
        eprintln!("sockit: note: no packets shown: {why}; the calls and the sockets' TCP state only");
    }
    printed(|out| match (json, job.form) {
        (true, _) => render::json(out, &r),
        (_, LabForm::Mermaid) => crate::render_lab::mermaid(out, &r),
        (_, LabForm::Html) => crate::render_lab::html(out, &r),
        (_, LabForm::Ladder) => crate::render_lab::ladder(out, &r),
    })?;
    match r.exit_code {
        Some(0) | None => Ok(exit::OK),
        Some(code) => Err(Fail::Runtime(format!("the program exited with status {code}"))),
    }
}

/// `lab --web`: the slide played by a process of its own (the lab's network is its own, the
/// browser's is this one), its page served at /lab beside a chat room until stopped.
fn lab_web(mut room: ServeConfig, play: &[String]) -> Outcome {
    let me = std::env::current_exe().map_err(|e| Fail::Runtime(format!("cannot find sockit's own binary: {e}")))?;
    let out = std::process::Command::new(me)
        .args(play)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| Fail::Runtime(format!("cannot play the slide: {e}")))?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        let why = why.lines().last().unwrap_or("the slide failed").trim_start_matches("sockit: ").to_string();
        return Err(Fail::Runtime(why));
    }
    // Notes the slide printed (no capture) are said here too.
    for line in String::from_utf8_lossy(&out.stderr).lines() {
        eprintln!("{line}");
    }
    let html = String::from_utf8(out.stdout).map_err(|_| Fail::Runtime("the slide's page is not UTF-8".into()))?;
    room.pages.push(sockit::chat::pages::Page { path: "/lab".into(), html });
    let mut first = true;
    let console = |_: &sockit::chat::events::Event| {};
    let started = &mut |s: &sockit::chat::server::Started| {
        for line in render::chat_started(s) {
            eprintln!("sockit: {line}");
        }
        if std::mem::take(&mut first) {
            eprintln!("sockit: the lab's diagram: http://{}/lab", s.address);
        }
    };
    match sockit::chat::server::run(&room, console, started, Stop::Signals(None)) {
        Ok(Stopped::Interrupted) => Ok(exit::INTERRUPTED),
        Ok(_) => Ok(exit::OK),
        Err(e) => net_fail(e),
    }
}

pub fn completions(shell: clap_complete::Shell) -> Outcome {
    printed(|out| {
        clap_complete::generate(shell, &mut <crate::cli::Cli as clap::CommandFactory>::command(), "sockit", out);
        Ok(())
    })?;
    Ok(exit::OK)
}

pub fn manpage(dir: Option<&std::path::Path>) -> Outcome {
    let cmd = <crate::cli::Cli as clap::CommandFactory>::command();
    match dir {
        None => printed(|out| clap_mangen::Man::new(cmd).render(out))?,
        Some(dir) => clap_mangen::generate_to(cmd, dir)
            .map_err(|e| Fail::Runtime(format!("cannot write the man pages into {}: {e}", dir.display())))?,
    }
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    /// Usage errors are the configuration's, found before anything runs (exit 2); a command
    /// raises one only when the library, running, finds the mistake the user's (a name that
    /// resolved to a broadcast address, several rooms answering a join): every `Fail::Usage`
    /// here is a library error's `is_usage()`, none of its own.
    #[test]
    fn commands_raise_no_usage_error_of_their_own() {
        let source = include_str!("commands.rs");
        let code = source.split("#[cfg(test)]").next().unwrap_or(source);
        let lines: Vec<&str> = code.lines().collect();
        let raised: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].contains("Fail::Usage(")).collect();
        assert!(!raised.is_empty(), "the library's usage errors are still passed on");
        for i in raised {
            let near = &lines[i.saturating_sub(1)..=i];
            assert!(near.iter().any(|l| l.contains("is_usage()")), "commands.rs:{}: {}", i + 1, lines[i].trim());
        }
    }
}
