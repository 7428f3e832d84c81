//! The `sockit` binary: parse the command line, call the library, render the result.

mod cli;
mod render;

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use cli::{Cli, Command};
use sockit::exit;
use sockit::host::{self, InfoOptions};
use sockit_core::addr::report::{self, AddrQuery};
use sockit_core::services::{self, PortQuery, Proto};

/// How a command failed: the user's mistake (exit 2) or the world's (exit 1).
#[derive(Debug)]
enum Fail {
    Usage(String),
    Runtime(anyhow::Error),
}

impl<E: Into<anyhow::Error>> From<E> for Fail {
    fn from(e: E) -> Self {
        Fail::Runtime(e.into())
    }
}

type Outcome = Result<u8, Fail>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let result = run(cli, &mut out).and_then(|code| out.flush().map(|_| code).map_err(Fail::from));
    ExitCode::from(match result {
        Ok(code) => code,
        Err(Fail::Usage(msg)) => {
            eprintln!("sockit: {msg}");
            exit::USAGE
        }
        // A reader that went away (`sockit ... | head`) is not a failure.
        Err(Fail::Runtime(e)) if is_broken_pipe(&e) => exit::OK,
        Err(Fail::Runtime(e)) => {
            eprintln!("sockit: {e:#}");
            exit::FAILURE
        }
    })
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe))
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => tracing::Level::WARN,
        1 => tracing::Level::INFO,
        2 => tracing::Level::DEBUG,
        _ => tracing::Level::TRACE,
    };
    let color = std::env::var_os("NO_COLOR").is_none() && io::IsTerminal::is_terminal(&io::stderr());
    tracing_subscriber::fmt().with_max_level(level).with_writer(io::stderr).with_ansi(color).with_target(false).init();
}

fn run(cli: Cli, out: &mut impl Write) -> Outcome {
    let json = cli.json;
    match cli.command {
        Command::Info(a) => {
            let mut opts = InfoOptions::default();
            if let Some(path) = a.resolv_conf {
                opts.resolv_conf = path;
            }
            let info = host::host_info(&opts)?;
            if json {
                render::json(out, &info)?
            } else {
                render::info(out, &info)?
            }
            Ok(exit::OK)
        }
        Command::Addr(a) => {
            let mut inputs = vec![a.address];
            inputs.extend(a.others);
            let query = AddrQuery { inputs, split: a.split, hosts: a.hosts };
            let r = report::report(&query).map_err(|e| Fail::Usage(e.to_string()))?;
            if json {
                render::json(out, &r)?
            } else {
                render::addr(out, &r)?
            }
            match &r.plan {
                Some(plan) if plan.unallocated > 0 => {
                    out.flush()?;
                    Err(Fail::Runtime(anyhow::anyhow!(
                        "{} of {} subnets do not fit in {}: use a larger network or fewer hosts",
                        plan.unallocated,
                        plan.allocations.len(),
                        plan.network
                    )))
                }
                _ => Ok(exit::OK),
            }
        }
        Command::Port(a) => port(a, json, out),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "sockit", out);
            Ok(exit::OK)
        }
        Command::Manpage => {
            clap_mangen::Man::new(Cli::command()).render(out)?;
            Ok(exit::OK)
        }
    }
}

fn port(a: cli::PortArgs, json: bool, out: &mut impl Write) -> Outcome {
    let mut queries = if a.common { services::common_queries() } else { Vec::new() };
    for q in &a.queries {
        queries.push(PortQuery::parse(q).map_err(|e| Fail::Usage(e.to_string()))?);
    }
    let proto = match (a.tcp, a.udp) {
        (true, _) => Some(Proto::Tcp),
        (_, true) => Some(Proto::Udp),
        _ => None,
    };
    let r = services::report(&host::service_registry(), &queries, proto, host::ephemeral_port_range());
    if json {
        render::json(out, &r)?
    } else {
        render::ports(out, &r)?
    }
    if r.not_found.is_empty() {
        return Ok(exit::OK);
    }
    out.flush()?;
    let what = r.not_found.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ");
    let proto = proto.map_or(String::new(), |p| format!(" for {p}"));
    Err(Fail::Runtime(anyhow::anyhow!(
        "no registered service{proto} matches {what}: check the spelling, or try without --tcp/--udp"
    )))
}
