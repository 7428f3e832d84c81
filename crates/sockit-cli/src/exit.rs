//! Exit codes, in one place (documented in `sockit --help` and README), and how each way of
//! failing maps onto them.

/// Success.
pub const OK: u8 = 0;
/// A runtime failure, or a lookup that found nothing.
pub const FAILURE: u8 = 1;
/// A usage error: bad arguments or input the user must fix.
pub const USAGE: u8 = 2;
/// Interrupted by Ctrl-C (128 + SIGINT).
pub const INTERRUPTED: u8 = 130;

/// How a command failed: the user's mistake (exit 2) or the world's (exit 1).
#[derive(Debug)]
pub enum Fail {
    Usage(String),
    Runtime(String),
}

/// What a command came to: an exit code, or a failure to report.
pub type Outcome = Result<u8, Fail>;

/// Say what failed (one line on stderr, escaped) and give the exit code.
pub fn report(outcome: Outcome) -> u8 {
    match outcome {
        Ok(code) => code,
        Err(Fail::Usage(msg)) => {
            eprintln!("sockit: {}", one_line(&msg));
            USAGE
        }
        Err(Fail::Runtime(msg)) => {
            eprintln!("sockit: {}", one_line(&msg));
            FAILURE
        }
    }
}

/// A message as one line a terminal only shows: arguments and file lines echoed in it are
/// escaped.
fn one_line(msg: &str) -> String {
    sockit_core::text::escape(msg.as_bytes())
}

/// clap's verdict: help and version are success; an error is its first line, with the
/// arguments it names, and a pointer to the help of the command in question; a command that
/// needs a subcommand names them.
pub fn clap_error(e: &clap::Error, root: &clap::Command, args: &[String]) -> u8 {
    if !e.use_stderr() {
        let _ = e.print();
        return OK;
    }
    // The deepest command the arguments name.
    let mut path = vec!["sockit".to_string()];
    let mut cmd = root;
    for a in args.iter().skip(1) {
        match cmd.find_subcommand(a) {
            Some(sub) => {
                path.push(a.clone());
                cmd = sub;
            }
            None => break,
        }
    }
    let path = path.join(" ");
    use clap::error::ErrorKind as K;
    if matches!(e.kind(), K::MissingSubcommand | K::DisplayHelpOnMissingArgumentOrSubcommand) {
        let subs: Vec<&str> = cmd.get_subcommands().map(clap::Command::get_name).filter(|n| *n != "help").collect();
        let list = match subs.as_slice() {
            [most @ .., last] if !most.is_empty() => format!("{} or {last}", most.join(", ")),
            _ => subs.join(""),
        };
        return report(Err(Fail::Usage(format!("a command is needed after '{path}': {list} (see {path} --help)"))));
    }
    report(Err(Fail::Usage(clap_line(e, &path))))
}

/// A clap error in one line: what is wrong, the nearest right word, and where to look
/// (`path --help`).
pub fn clap_line(e: &clap::Error, path: &str) -> String {
    let text = e.render().to_string();
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("error").trim_start_matches("error: ").trim_end_matches(':');
    // "the following required arguments were not provided:" lists them on the lines after.
    let named: Vec<&str> = lines.take_while(|l| l.starts_with("  ")).map(str::trim).collect();
    let mut msg = if named.is_empty() { first.to_string() } else { format!("{first}: {}", named.join(" ")) };
    if let Some(like) = suggestion(e) {
        msg = format!("{msg}: did you mean '{like}'?");
    }
    format!("{msg} (see {path} --help)")
}

/// The command, flag or value clap finds closest to a mistyped one (`scna`: scan).
fn suggestion(e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue};
    [ContextKind::SuggestedSubcommand, ContextKind::SuggestedArg, ContextKind::SuggestedValue].into_iter().find_map(
        |kind| match e.get(kind)? {
            ContextValue::String(s) => Some(s.clone()),
            // Least like it first: the last is the nearest.
            ContextValue::Strings(v) => v.last().cloned(),
            _ => None,
        },
    )
}
