//! sockit's log on stderr: the `tracing` events at or above the level asked for, and the `log`
//! records of the libraries that use that instead (rustls, tungstenite), one line each (time,
//! level, message, fields, as tracing-subscriber's default lays them out), every value escaped
//! so that nothing a peer sent reaches the terminal raw. sockit opens no spans, so none are
//! kept.

use std::fmt::{self, Write as _};
use std::io::Write as _;

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber, span};

/// Log at WARN, or more with each -v (INFO, DEBUG, TRACE); colours on a terminal unless
/// NO_COLOR is set.
pub fn init(verbose: u8) {
    let level = match verbose {
        0 => Level::WARN,
        1 => Level::INFO,
        2 => Level::DEBUG,
        _ => Level::TRACE,
    };
    let color = std::env::var_os("NO_COLOR").is_none() && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing::subscriber::set_global_default(Stderr { level, color });
    if log::set_boxed_logger(Box::new(Stderr { level, color })).is_ok() {
        log::set_max_level(match level {
            Level::ERROR => log::LevelFilter::Error,
            Level::WARN => log::LevelFilter::Warn,
            Level::INFO => log::LevelFilter::Info,
            Level::DEBUG => log::LevelFilter::Debug,
            Level::TRACE => log::LevelFilter::Trace,
        });
    }
}

#[derive(Debug)]
struct Stderr {
    level: Level,
    color: bool,
}

impl Subscriber for Stderr {
    fn register_callsite(&self, m: &'static Metadata<'static>) -> Interest {
        if self.enabled(m) { Interest::always() } else { Interest::never() }
    }

    /// The broker client's own log stays out: its lines can carry a broker URL with its
    /// password, and sockit says what matters about the link itself.
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        *m.level() <= self.level && !m.target().starts_with("async_nats")
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::from_level(self.level))
    }

    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }

    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}

    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields { color: self.color, message: String::new(), rest: String::new() };
        event.record(&mut fields);
        self.write(*event.metadata().level(), &fields.message, &fields.rest);
    }

    fn enter(&self, _: &span::Id) {}

    fn exit(&self, _: &span::Id) {}
}

/// A library's `log` record, as a line like any other, its target (`rustls::conn`) a field.
impl log::Log for Stderr {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        level_of(m.level()) <= self.level && !m.target().starts_with("async_nats")
    }

    fn log(&self, record: &log::Record<'_>) {
        if !log::Log::enabled(self, record.metadata()) {
            return;
        }
        let mut fields = Fields { color: self.color, message: String::new(), rest: String::new() };
        fields.message = clean(&record.args().to_string());
        fields.field("target", record.target());
        self.write(level_of(record.level()), &fields.message, &fields.rest);
    }

    fn flush(&self) {}
}

fn level_of(l: log::Level) -> Level {
    match l {
        log::Level::Error => Level::ERROR,
        log::Level::Warn => Level::WARN,
        log::Level::Info => Level::INFO,
        log::Level::Debug => Level::DEBUG,
        log::Level::Trace => Level::TRACE,
    }
}

impl Stderr {
    fn paint(&self, out: &mut String, code: &str, text: fmt::Arguments<'_>) {
        if self.color {
            let _ = write!(out, "\x1b[{code}m{text}\x1b[0m");
        } else {
            let _ = out.write_fmt(text);
        }
    }

    /// One line on stderr: the time, the level, the message, the other fields.
    fn write(&self, level: Level, message: &str, rest: &str) {
        let mut line = String::with_capacity(128);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        self.paint(&mut line, "2", format_args!("{}", Timestamp(now.as_secs(), now.subsec_micros())));
        let color = match level {
            Level::TRACE => "35",
            Level::DEBUG => "34",
            Level::INFO => "32",
            Level::WARN => "33",
            Level::ERROR => "31",
        };
        line.push(' ');
        self.paint(&mut line, color, format_args!("{:>5}", level.as_str()));
        line.push(' ');
        line.push_str(message);
        line.push_str(rest);
        line.push('\n');
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

/// An event's message, then its other fields as ` name=value`, each escaped.
struct Fields {
    color: bool,
    message: String,
    rest: String,
}

impl Fields {
    /// ` name=value`, the value escaped.
    fn field(&mut self, name: &str, value: &str) {
        let text = clean(value);
        if self.color {
            let _ = write!(self.rest, " \x1b[3m{name}\x1b[0m\x1b[2m=\x1b[0m{text}");
        } else {
            let _ = write!(self.rest, " {name}={text}");
        }
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.message = clean(&format!("{value:?}"));
        } else {
            self.field(field.name(), &format!("{value:?}"));
        }
    }
}

/// `text` with what a terminal must not be shown raw (control characters, bidi overrides,
/// invisible characters) written as escapes; the rest as it is.
fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if sockit_core::text::is_hidden(c) => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Seconds and microseconds since the epoch as an RFC 3339 time in UTC.
struct Timestamp(u64, u32);

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (days, secs) = (self.0 / 86_400, self.0 % 86_400);
        let (year, month, day) = sockit_core::date::civil(i64::try_from(days).unwrap_or(i64::MAX / 2));
        let (h, m, s) = (secs / 3_600, secs / 60 % 60, secs % 60);
        write!(f, "{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{:06}Z", self.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(Timestamp(0, 0).to_string(), "1970-01-01T00:00:00.000000Z");
        assert_eq!(Timestamp(951_782_400, 7).to_string(), "2000-02-29T00:00:00.000007Z");
        assert_eq!(Timestamp(1_795_700_096, 123_456).to_string(), "2026-11-26T13:34:56.123456Z");
        assert_eq!(Timestamp(4_107_542_399, 999_999).to_string(), "2100-02-28T23:59:59.999999Z");
    }

    #[test]
    fn what_a_terminal_must_not_see_is_escaped() {
        assert_eq!(clean("bye\x1b[2J"), "bye\\x1b[2J");
        assert_eq!(clean("a\nb\r\u{202e}c\u{9b}"), "a\\nb\\r\\u{202e}c\\u{009b}");
        assert_eq!(clean("plain C:\\dir \u{e9}t\u{e9}"), "plain C:\\dir \u{e9}t\u{e9}");
    }
}
