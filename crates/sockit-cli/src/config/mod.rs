//! Raw flags (`cli`) to the typed configuration the library takes. Every usage error (exit 2)
//! is decided here, once; nothing here touches the network or the file system.

use sockit::chat::client::JoinConfig;
use sockit::chat::discovery::DiscoveryConfig;
use sockit::chat::server::ServeConfig;
use sockit::host::InfoOptions;
use sockit::resolve::NamesConfig;
use sockit::tcp::{ConnectConfig, ListenConfig};
use sockit::udp::SendConfig;
use sockit_core::addr::report::CheckedQuery;

use crate::cli::{self, Cli, Command};

mod chat;
mod host;
mod names;
mod scan;
mod shared;
mod tcp;
#[cfg(test)]
mod tests;
mod udp;

pub use scan::ScanJob;

/// What the command line asks for, validated.
#[derive(Debug)]
pub struct Config {
    pub json: bool,
    pub verbose: u8,
    pub action: Action,
}

/// One command, ready to run.
#[derive(Debug)]
pub enum Action {
    Info(InfoOptions),
    Addr(CheckedQuery),
    Port(sockit::port::PortConfig),
    Hostname(sockit::host::HostnameConfig),
    Lookup(NamesConfig),
    Trace(Vec<sockit::resolve::trace::TraceConfig>),
    Reverse(NamesConfig),
    UdpListen { config: sockit::udp::ListenConfig, raw: bool },
    UdpSend(SendConfig),
    TcpConnect(ConnectConfig),
    TcpListen(ListenConfig),
    ChatServe(ServeConfig),
    ChatJoin(JoinConfig),
    ChatDiscover(DiscoveryConfig),
    Scan(ScanJob),
    Relay(sockit::relay::RelayConfig),
    Demo,
    Lab(LabJob),
    Completions(clap_complete::Shell),
    Manpage(Option<std::path::PathBuf>),
}

/// `sockit lab`: what to play, how to print it, and where to serve it (`--web`).
#[derive(Debug)]
pub struct LabJob {
    pub config: sockit::lab::LabConfig,
    pub form: LabForm,
    /// `--web`: the chat server the diagram is served on, and the arguments that play the
    /// slide in a process of its own (the lab's network is not the browser's).
    pub web: Option<(ServeConfig, Vec<String>)>,
}

/// How the lab's report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabForm {
    Ladder,
    Mermaid,
    Html,
}

/// A usage error: one line saying what is wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

type Result<T> = std::result::Result<T, UsageError>;

fn usage(e: impl std::fmt::Display) -> UsageError {
    UsageError(e.to_string())
}

/// The lecture's port for the UDP and TCP demos.
const DEFAULT_PORT: u16 = sockit::net::DEFAULT_PORT;

pub fn from_cli(cli: Cli) -> Result<Config> {
    // Where the output is the bytes or the conversation themselves, JSON has nothing to wrap.
    let bytes_out = match &cli.command {
        Command::Demo => Some("demo (it narrates the lecture)"),
        Command::Chat(cli::ChatCommand::Join(_)) => Some("chat join (its output is the conversation)"),
        Command::Tcp(_) => Some("tcp (its output is the peer's bytes)"),
        _ => None,
    };
    if let (true, Some(what)) = (cli.json, bytes_out) {
        return Err(UsageError(format!("--json has no form for {what}: leave it out")));
    }
    let action = match cli.command {
        Command::Info(a) => host::info(a)?,
        Command::Addr(a) => host::addr(a)?,
        Command::Port(a) => host::port(a)?,
        Command::Hostname(a) => host::hostname(a)?,
        Command::Lookup(a) => names::lookup(a)?,
        Command::Reverse(a) => names::reverse(a)?,
        Command::Udp(c) => udp::udp(c)?,
        Command::Tcp(c) => tcp::tcp(c)?,
        Command::Chat(cli::ChatCommand::Serve(a)) => chat::serve(a)?,
        Command::Chat(cli::ChatCommand::Join(a)) => chat::join(a)?,
        Command::Chat(cli::ChatCommand::Discover(a)) => Action::ChatDiscover(chat::discovery(&a.discovery)?),
        Command::Scan(a) => Action::Scan(scan::scan(a)?),
        Command::Relay(a) => Action::Relay(tcp::relay(&a)?),
        Command::Demo => Action::Demo,
        Command::Lab(a) => lab(a, cli.json)?,
        Command::Completions { shell } => Action::Completions(shell),
        Command::Manpage { dir } => Action::Manpage(dir),
    };
    if let (true, Action::Lookup(c)) = (cli.json, &action)
        && c.rfc8427
    {
        return Err(UsageError("--rfc8427 writes JSON of its own: leave out --json".into()));
    }
    Ok(Config { json: cli.json, verbose: cli.verbose, action })
}

/// `lab`.
fn lab(a: cli::LabArgs, json: bool) -> Result<Action> {
    use sockit::lab::{LabConfig, Slide};
    if (a.mermaid || a.html) && json {
        return Err(UsageError("--mermaid, --html and --json are forms of the lab's output: give one".into()));
    }
    let slide = match (a.slide, &a.run) {
        (_, Some(line)) if line.trim().is_empty() => {
            return Err(UsageError("--run needs a command, like --run 'python3 prog.py'".into()));
        }
        (_, Some(_)) => Slide::Run,
        (Some(cli::LabSlide::Tcp), None) => Slide::Tcp,
        (Some(cli::LabSlide::Udp), None) => Slide::Udp,
        (Some(cli::LabSlide::Select), None) => Slide::Select,
        (Some(cli::LabSlide::Names), None) => Slide::Names,
        (None, None) => return Err(UsageError("name a slide (tcp, udp, select, names) or give --run CMD".into())),
    };
    let form = match (a.mermaid, a.html) {
        (true, _) => LabForm::Mermaid,
        (_, true) => LabForm::Html,
        _ => LabForm::Ladder,
    };
    let web = match &a.web {
        None => None,
        Some(_) if json => return Err(UsageError("--web serves the diagram as a page: leave out --json".into())),
        Some(at) => {
            let bind = match at.parse::<u16>() {
                Ok(port) => std::net::SocketAddr::from(([127, 0, 0, 1], port)),
                Err(_) => at.parse().map_err(|_| {
                    UsageError(format!("--web '{at}' is not PORT or HOST:PORT, like 8080 or 127.0.0.1:8080"))
                })?,
            };
            let mut play = vec!["lab".to_string()];
            match &a.run {
                Some(line) => play.extend(["--run".to_string(), line.clone()]),
                None => play.push(slide.name().to_string()),
            }
            play.push("--html".into());
            Some((chat::lab_room(bind), play))
        }
    };
    Ok(Action::Lab(LabJob { config: LabConfig { slide, program: a.run, pcap: a.pcap }, form, web }))
}

/// Warnings for passwords given in the command line, where every local user can read them
/// (`ps`): one line for each flag that holds one, naming where else it may go.
pub fn secrets_in_argv(args: &[String]) -> Vec<String> {
    let mut warnings = Vec::new();
    for (flag, env, file) in
        [("--proxy", "SOCKIT_PROXY", "--proxy-credentials"), ("--cluster", "SOCKIT_CLUSTER", "--cluster-credentials")]
    {
        let given = args.iter().enumerate().filter_map(|(i, a)| match a.strip_prefix(flag) {
            Some("") => args.get(i + 1).map(String::as_str),
            Some(rest) => rest.strip_prefix('='),
            None => None,
        });
        let has_password = |v: &str| {
            v.split(',').any(|url| {
                let rest = url.split_once("://").map_or(url, |(_, r)| r);
                rest.rsplit_once('@').is_some_and(|(userinfo, _)| userinfo.contains(':'))
            })
        };
        if given.into_iter().any(has_password) {
            warnings.push(format!(
                "warning: the password in {flag} can be read by every user of this machine (ps): \
                 give the URL in {env}, or the password in {file} FILE"
            ));
        }
    }
    warnings
}
