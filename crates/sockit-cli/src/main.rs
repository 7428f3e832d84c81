//! The `sockit` binary: parse the flags (`cli`), validate them into a configuration
//! (`config`), run the library's entry for the command (`commands`), render what it reports
//! (`render`), and exit with the code `exit` names.

mod cli;
mod commands;
mod config;
mod editor;
mod exit;
mod log;
mod render;
mod render_lab;
mod render_names;

use std::process::ExitCode;

use config::Action;
use exit::Fail;

/// A server's configuration read again from the same command line and its config file
/// (SIGHUP): an error is one line.
fn reread(typed: &[String]) -> Result<Action, String> {
    let args = cli::file::with_file(typed)?;
    let path =
        cli::file::server_named(&args).map_or_else(|| "sockit".to_string(), |w| format!("sockit {}", w.join(" ")));
    let cli = cli::Cli::parse_args(&args).map_err(|e| exit::clap_line(&e, &path))?;
    Ok(config::from_cli(cli).map_err(|e| e.0)?.action)
}

/// A server's reread: `reread`, with `pick` taking the server's own configuration out.
fn rereader<T: 'static>(
    typed: Vec<String>,
    pick: fn(Action) -> Option<T>,
) -> Box<dyn FnMut() -> Result<T, String> + Send> {
    Box::new(move || pick(reread(&typed)?).ok_or_else(|| "the command line names another command".to_string()))
}

fn main() -> ExitCode {
    let typed: Vec<String> = std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect();
    // A server's --config FILE: its values go in as if typed; what was typed wins.
    let args = match cli::file::with_file(&typed) {
        Ok(args) => args,
        Err(e) => return ExitCode::from(exit::report(Err(Fail::Usage(e)))),
    };
    let cli = match cli::Cli::parse_args(&args) {
        Ok(cli) => cli,
        Err(e) => return ExitCode::from(exit::clap_error(&e, &<cli::Cli as clap::CommandFactory>::command(), &args)),
    };
    let cfg = match config::from_cli(cli) {
        Ok(cfg) => cfg,
        Err(e) => return ExitCode::from(exit::report(Err(Fail::Usage(e.0)))),
    };
    if let Some(text) = args.iter().any(|a| a == "--print-config").then(|| cli::file::effective(&args)).flatten() {
        return ExitCode::from(exit::report(commands::print_config(&text)));
    }
    log::init(cfg.verbose);
    for warning in config::secrets_in_argv(&typed) {
        eprintln!("sockit: {warning}");
    }
    let json = cfg.json;
    ExitCode::from(exit::report(match cfg.action {
        Action::Info(o) => commands::info(&o, json),
        Action::Addr(q) => commands::addr(&q, json),
        Action::Port(c) => commands::port(&c, json),
        Action::Hostname(c) => commands::hostname(c, json),
        Action::Lookup(c) => commands::lookup(&c, json),
        Action::Trace(c) => commands::trace(&c, json),
        Action::Reverse(c) => commands::reverse(&c, json),
        Action::UdpListen { config, raw } => commands::udp_listen(&config, raw, json),
        Action::UdpSend(c) => commands::udp_send(&c, json),
        Action::TcpConnect(c) => commands::tcp_connect(&c),
        Action::TcpListen(c) => {
            commands::tcp_listen(&c, rereader(typed, |a| if let Action::TcpListen(c) = a { Some(c) } else { None }))
        }
        Action::ChatServe(c) => commands::chat_serve(
            &c,
            json,
            rereader(typed, |a| if let Action::ChatServe(c) = a { Some(c) } else { None }),
        ),
        Action::ChatJoin(c) => commands::chat_join(&c),
        Action::ChatDiscover(c) => commands::chat_discover(&c, json),
        Action::Scan(job) => commands::scan(job, json),
        Action::Relay(cfg) => {
            commands::relay(&cfg, json, rereader(typed, |a| if let Action::Relay(c) = a { Some(c) } else { None }))
        }
        Action::Demo => commands::demo(),
        Action::Lab(job) => commands::lab(job, json),
        Action::Completions(shell) => commands::completions(shell),
        Action::Manpage(dir) => commands::manpage(dir.as_deref()),
    }))
}
