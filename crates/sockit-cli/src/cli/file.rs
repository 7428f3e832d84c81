//! `--config FILE`: a server's flags in a TOML file (`chat serve`, `relay`, `tcp listen`), each
//! key a long flag without its `--` (a positional argument by its name: `from`, `to`,
//! `port`). The file's values go in as if they were typed, before clap parses; what the
//! command line or the environment says wins over the file. `--print-config` prints the
//! configuration in effect, in the same form.

use clap::parser::ValueSource;
use clap::{ArgAction, CommandFactory};

use super::Cli;

/// The commands that take `--config`, as the words that name them.
const SERVERS: [&[&str]; 3] = [&["chat", "serve"], &["relay"], &["tcp", "listen"]];

/// `args` with the values of `--config FILE` added (none: `args` as they are). An error is one
/// line: the file, the line of the key, and what is wrong.
pub fn with_file(args: &[String]) -> Result<Vec<String>, String> {
    let Some(path) = config_path(args) else { return Ok(args.to_vec()) };
    let Some(words) = server_named(args) else { return Ok(args.to_vec()) };
    // What the command line and the environment give already, read leniently (a positional
    // argument the file is to give may be missing yet).
    let mut root = Cli::command().ignore_errors(true);
    let lenient = root.try_get_matches_from_mut(args);
    root.build();
    let leaf = leaf(&root, words);
    let given: Vec<String> = match lenient {
        Ok(m) => {
            let m = leaf_matches(&m, words);
            leaf.get_arguments()
                .map(|a| a.get_id().as_str())
                .filter(|id| {
                    m.is_some_and(|m| {
                        matches!(m.value_source(id), Some(ValueSource::CommandLine | ValueSource::EnvVariable))
                    })
                })
                .map(str::to_string)
                .collect()
        }
        Err(_) => Vec::new(),
    };
    let text = read(&path)?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| {
        let at = e.span().map_or(String::new(), |s| format!(" line {}", line_of(&text, s.start)));
        format!("{path}{at}: {} (it is TOML: key = value)", e.message().trim_end())
    })?;
    let spans = key_lines(&text);
    let mut extra = Vec::new();
    let mut positional = Vec::new();
    for (key, value) in &table {
        let line = spans.iter().find(|(k, _)| k == key).map_or(0, |(_, l)| *l);
        let at = format!("{path} line {line}");
        let arg = leaf
            .get_arguments()
            .filter(|a| {
                !a.is_global_set() && !matches!(a.get_id().as_str(), "config" | "print_config" | "help" | "version")
            })
            .find(|a| a.get_long() == Some(key.as_str()) || (a.is_positional() && a.get_id() == key.as_str()))
            .ok_or_else(|| {
                format!(
                    "{at}: unknown key '{key}' for sockit {}: the keys are its long flags without --",
                    words.join(" ")
                )
            })?;
        if given.iter().any(|g| g == arg.get_id().as_str()) {
            continue;
        }
        let values: Vec<String> = match value {
            toml::Value::Array(items) => {
                items.iter().map(|v| scalar(v).ok_or_else(|| not_scalar(&at, key))).collect::<Result<_, _>>()?
            }
            v => vec![scalar(v).ok_or_else(|| not_scalar(&at, key))?],
        };
        if arg.is_positional() {
            positional.push((arg.get_index().unwrap_or(0), values));
            continue;
        }
        let long = format!("--{key}");
        match arg.get_action() {
            ArgAction::SetTrue | ArgAction::SetFalse => match value {
                toml::Value::Boolean(true) => extra.push(long),
                toml::Value::Boolean(false) => {}
                _ => return Err(format!("{at}: '{key}' is true or false")),
            },
            _ => extra.extend(values.into_iter().map(|v| format!("{long}={v}"))),
        }
    }
    positional.sort_by_key(|(i, _)| *i);
    let mut out = args.to_vec();
    out.extend(extra);
    out.extend(positional.into_iter().flat_map(|(_, v)| v));
    Ok(out)
}

/// The configuration in effect for the server `args` name (flags, environment, file,
/// defaults), as a config file: each key in the order of `--help`; one not set as a comment.
/// A URL's password is left out.
pub fn effective(args: &[String]) -> Option<String> {
    let words = server_named(args)?;
    let mut root = Cli::command();
    let matches = root.try_get_matches_from_mut(args).ok()?;
    root.build();
    let leaf = leaf(&root, words);
    let m = leaf_matches(&matches, words)?;
    let mut out = format!("# sockit {}: the configuration in effect\n", words.join(" "));
    for arg in leaf.get_arguments() {
        let id = arg.get_id().as_str();
        if arg.is_global_set() || matches!(id, "config" | "print_config" | "help" | "version") {
            continue;
        }
        let key = if arg.is_positional() { id.to_string() } else { arg.get_long().unwrap_or(id).to_string() };
        let raw: Vec<String> =
            m.get_raw(id).map(|v| v.map(|s| without_passwords(&s.to_string_lossy())).collect()).unwrap_or_default();
        let line = match arg.get_action() {
            ArgAction::SetTrue => format!("{key} = {}", m.get_flag(id)),
            ArgAction::Append if !raw.is_empty() => {
                format!("{key} = [{}]", raw.iter().map(|v| toml_value(v)).collect::<Vec<_>>().join(", "))
            }
            ArgAction::Append => format!("{key} = []"),
            _ if raw.is_empty() => format!("# {key} is not set"),
            _ => format!("{key} = {}", toml_value(&raw[0])),
        };
        out.push_str(&line);
        out.push('\n');
    }
    Some(out)
}

/// A value with the password of each URL in it left out (a broker's list is comma-separated).
fn without_passwords(v: &str) -> String {
    v.split(',')
        .map(|p| if p.contains("://") { sockit_core::text::redact_url(p) } else { p.to_string() })
        .collect::<Vec<_>>()
        .join(",")
}

/// A value as TOML writes it: a number as a number, anything else as a string.
fn toml_value(v: &str) -> String {
    if v.parse::<i64>().is_ok() || (v.parse::<f64>().is_ok_and(f64::is_finite) && v.contains('.')) {
        return v.to_string();
    }
    toml::Value::String(v.to_string()).to_string()
}

fn scalar(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn not_scalar(at: &str, key: &str) -> String {
    format!("{at}: '{key}' takes a value or a list of values, not a table")
}

/// The file named by `--config FILE` or `--config=FILE`.
fn config_path(args: &[String]) -> Option<String> {
    let mut words = args.iter().skip(1);
    while let Some(w) = words.next() {
        if w == "--" {
            return None;
        }
        if w == "--config" {
            return words.next().cloned();
        }
        if let Some(p) = w.strip_prefix("--config=") {
            return Some(p.to_string());
        }
    }
    None
}

/// Which server the first words name (the global flags take no value, so the first words
/// that are not flags name the command).
pub fn server_named(args: &[String]) -> Option<&'static [&'static str]> {
    let words: Vec<&str> = args.iter().skip(1).filter(|a| !a.starts_with('-')).map(String::as_str).collect();
    SERVERS.into_iter().find(|s| words.starts_with(s))
}

fn leaf<'a>(root: &'a clap::Command, words: &[&str]) -> &'a clap::Command {
    words.iter().fold(root, |c, w| c.find_subcommand(w).unwrap_or(c))
}

fn leaf_matches<'a>(m: &'a clap::ArgMatches, words: &[&str]) -> Option<&'a clap::ArgMatches> {
    words.iter().try_fold(m, |m, w| m.subcommand_matches(w))
}

fn read(path: &str) -> Result<String, String> {
    sockit::stdio::read_file_text(std::path::Path::new(path), sockit::stdio::limits::CONFIG)
        .map_err(|e| format!("cannot read {path}: {e}"))
}

/// The line (from 1) of byte `at` of `text`.
fn line_of(text: &str, at: usize) -> usize {
    text[..at.min(text.len())].lines().count().max(1) + usize::from(text[..at.min(text.len())].ends_with('\n'))
}

/// Each top-level key of `text` and the line it is on.
fn key_lines(text: &str) -> Vec<(String, usize)> {
    toml::de::DeTable::parse(text).map_or_else(
        |_| Vec::new(),
        |t| t.get_ref().iter().map(|(k, _)| (k.get_ref().to_string(), line_of(text, k.span().start))).collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &str) -> Vec<String> {
        words.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn keys_are_found_on_their_lines() {
        let text = "# a room\nname = \"x\"\nallow = [\n  \"10.0.0.0/8\",\n]\n\"max-line\" = 5\n";
        let mut lines: Vec<(String, usize)> = key_lines(text);
        lines.sort_by_key(|(_, l)| *l);
        assert_eq!(lines, [("name".to_string(), 2), ("allow".to_string(), 3), ("max-line".to_string(), 6)]);
        assert_eq!(line_of(text, text.find("max").unwrap_or(0)), 6);
    }

    #[test]
    fn only_servers_take_a_file() {
        assert_eq!(server_named(&args("sockit -v chat serve --port 1")), Some(&["chat", "serve"][..]));
        assert_eq!(server_named(&args("sockit relay tcp-listen:1 tcp:h:2")), Some(&["relay"][..]));
        assert_eq!(server_named(&args("sockit chat join h")), None);
        assert_eq!(config_path(&args("sockit relay --config=a.toml")), Some("a.toml".into()));
        assert_eq!(config_path(&args("sockit relay -- --config a.toml")), None);
        assert_eq!(with_file(&args("sockit chat join --config f")), Ok(args("sockit chat join --config f")));
    }

    #[test]
    fn values_are_written_as_toml() {
        assert_eq!(toml_value("40000"), "40000");
        assert_eq!(toml_value("0.5"), "0.5");
        assert_eq!(toml_value("lobby"), "\"lobby\"");
        assert_eq!(toml_value("say \"hi\""), "'say \"hi\"'");
        assert_eq!(toml_value("inf"), "\"inf\"");
        assert_eq!(without_passwords("nats://u:pw@h:4222,nats://h2:4222"), "nats://h:4222,nats://h2:4222");
        assert_eq!(without_passwords("tcp-listen:127.0.0.1:0"), "tcp-listen:127.0.0.1:0");
    }
}
