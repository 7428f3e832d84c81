//! The line editor `chat join` uses on a terminal: the line being typed stays whole below the
//! conversation, with cursor keys, history and the usual Ctrl keys. Every key that has arrived
//! is taken before the line is drawn again, so a paste or fast typing shows at once, not a key
//! at a time as the next one comes.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex, PoisonError};

use unicode_width::UnicodeWidthChar;

/// How many lines the history keeps.
const HISTORY: usize = 1000;

/// A key, as the terminal sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Char(char),
    Enter,
    Backspace,
    Delete,
    Left,
    Right,
    Home,
    End,
    Up,
    Down,
    /// Ctrl-C: the user is done.
    Interrupt,
    /// Ctrl-D: the user is done on an empty line, else delete under the cursor.
    EndOfInput,
    KillToEnd,
    KillToStart,
    KillWord,
    Redraw,
    PasteStart,
    PasteEnd,
}

/// Bytes from the terminal into keys; a sequence or character cut between two reads waits for
/// the rest.
#[derive(Debug, Default)]
struct Keys {
    held: Vec<u8>,
    pasting: bool,
}

impl Keys {
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<Key>) {
        self.held.extend_from_slice(bytes);
        let mut at = 0;
        while at < self.held.len() {
            match self.key(&self.held[at..]) {
                Some((key, used)) => {
                    match key {
                        Some(Key::PasteStart) => self.pasting = true,
                        Some(Key::PasteEnd) => self.pasting = false,
                        Some(k) => out.push(k),
                        None => {}
                    }
                    at += used;
                }
                None => break,
            }
        }
        self.held.drain(..at);
    }

    /// The key at the start of `b` and its length; `None` if `b` is only its beginning.
    fn key(&self, b: &[u8]) -> Option<(Option<Key>, usize)> {
        let key = |k: Key| Some((Some(k), 1));
        match b[0] {
            // In a paste, a line break is the end of a line like Enter, and a tab a space.
            b'\r' | b'\n' => key(Key::Enter),
            b'\t' if self.pasting => key(Key::Char(' ')),
            0x1b => escape(b),
            _ if self.pasting && b[0] < 0x20 => Some((None, 1)),
            0x01 => key(Key::Home),
            0x02 => key(Key::Left),
            0x03 => key(Key::Interrupt),
            0x04 => key(Key::EndOfInput),
            0x05 => key(Key::End),
            0x06 => key(Key::Right),
            0x08 | 0x7f => key(Key::Backspace),
            0x0b => key(Key::KillToEnd),
            0x0c => key(Key::Redraw),
            0x0e => key(Key::Down),
            0x10 => key(Key::Up),
            0x15 => key(Key::KillToStart),
            0x17 => key(Key::KillWord),
            c if c < 0x20 => Some((None, 1)),
            _ => utf8(b),
        }
    }
}

/// A character at the start of `b`; an invalid byte is passed over.
fn utf8(b: &[u8]) -> Option<(Option<Key>, usize)> {
    let len = match b[0] {
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        0x00..=0x7f => 1,
        _ => return Some((None, 1)),
    };
    if b.len() < len {
        return None;
    }
    match std::str::from_utf8(&b[..len]).ok().and_then(|s| s.chars().next()) {
        // C1 controls (U+0080-U+009F) would drive the terminal as escapes do: left out.
        Some(c) if c.is_control() => Some((None, len)),
        Some(c) => Some((Some(Key::Char(c)), len)),
        None => Some((None, 1)),
    }
}

/// An escape sequence at the start of `b` (CSI `ESC [ ... final` or SS3 `ESC O x`).
fn escape(b: &[u8]) -> Option<(Option<Key>, usize)> {
    match b.get(1) {
        None => None,
        Some(b'O') => {
            let k = match b.get(2)? {
                b'A' => Some(Key::Up),
                b'B' => Some(Key::Down),
                b'C' => Some(Key::Right),
                b'D' => Some(Key::Left),
                b'H' => Some(Key::Home),
                b'F' => Some(Key::End),
                _ => None,
            };
            Some((k, 3))
        }
        Some(b'[') => {
            // Parameters and intermediates, then one final byte in 0x40..=0x7e.
            let end = b[2..].iter().position(|c| (0x40..=0x7e).contains(c))? + 2;
            let k = match (&b[2..end], b[end]) {
                (_, b'A') => Some(Key::Up),
                (_, b'B') => Some(Key::Down),
                (_, b'C') => Some(Key::Right),
                (_, b'D') => Some(Key::Left),
                (_, b'H') | (b"1" | b"7", b'~') => Some(Key::Home),
                (_, b'F') | (b"4" | b"8", b'~') => Some(Key::End),
                (b"3", b'~') => Some(Key::Delete),
                (b"200", b'~') => Some(Key::PasteStart),
                (b"201", b'~') => Some(Key::PasteEnd),
                _ => None,
            };
            Some((k, end + 1))
        }
        // ESC and another key (Alt-key): the key alone.
        Some(_) => Some((None, 1)),
    }
}

/// What a key did to the line.
#[derive(Debug, PartialEq, Eq)]
enum Done {
    Editing,
    Line(String),
    Quit,
}

/// The line being typed, its cursor, and the history.
#[derive(Debug, Default)]
struct Line {
    text: Vec<char>,
    cursor: usize,
    history: VecDeque<String>,
    /// Which history line is shown (counted from the newest), and the line typed before.
    browsing: Option<(usize, Vec<char>)>,
}

impl Line {
    fn key(&mut self, key: Key) -> Done {
        match key {
            Key::Char(c) => {
                self.text.insert(self.cursor, c);
                self.cursor += 1;
            }
            Key::Enter => {
                let line: String = self.text.drain(..).collect();
                self.cursor = 0;
                self.browsing = None;
                if !line.trim().is_empty() && self.history.back() != Some(&line) {
                    if self.history.len() == HISTORY {
                        self.history.pop_front();
                    }
                    self.history.push_back(line.clone());
                }
                return Done::Line(line);
            }
            Key::Backspace if self.cursor > 0 => {
                self.cursor -= 1;
                self.text.remove(self.cursor);
            }
            Key::Delete if self.cursor < self.text.len() => {
                self.text.remove(self.cursor);
            }
            Key::EndOfInput if self.text.is_empty() => return Done::Quit,
            Key::EndOfInput if self.cursor < self.text.len() => {
                self.text.remove(self.cursor);
            }
            Key::Interrupt => return Done::Quit,
            Key::Left => self.cursor = self.cursor.saturating_sub(1),
            Key::Right => self.cursor = (self.cursor + 1).min(self.text.len()),
            Key::Home => self.cursor = 0,
            Key::End => self.cursor = self.text.len(),
            Key::KillToEnd => self.text.truncate(self.cursor),
            Key::KillToStart => {
                self.text.drain(..self.cursor);
                self.cursor = 0;
            }
            Key::KillWord => {
                let mut from = self.cursor;
                while from > 0 && self.text[from - 1] == ' ' {
                    from -= 1;
                }
                while from > 0 && self.text[from - 1] != ' ' {
                    from -= 1;
                }
                self.text.drain(from..self.cursor);
                self.cursor = from;
            }
            Key::Up => self.browse(1),
            Key::Down => self.browse(-1),
            _ => {}
        }
        Done::Editing
    }

    /// One history line older (`1`) or newer (`-1`); past the newest is the line typed before.
    fn browse(&mut self, step: isize) {
        let at = self.browsing.as_ref().map_or(0, |(at, _)| *at);
        let Some(to) = at.checked_add_signed(step).filter(|&to| to <= self.history.len()) else {
            return;
        };
        if at == 0 {
            self.browsing = Some((0, self.text.clone()));
        }
        let Some((at, typed)) = self.browsing.as_mut() else { return };
        *at = to;
        self.text = match to {
            0 => typed.clone(),
            n => self.history[self.history.len() - n].chars().collect(),
        };
        self.cursor = self.text.len();
    }

    /// The line as drawn on a terminal `width` columns wide: from the start of the row, the
    /// part that fits with the cursor in view, then the cursor put back in place.
    fn drawn(&self, width: usize) -> Vec<u8> {
        let room = width.saturating_sub(1).max(1);
        let w = |c: &char| c.width().unwrap_or(0);
        // The first character shown: as far left as keeps the cursor within the row.
        let mut start = 0;
        while self.text[start..self.cursor].iter().map(w).sum::<usize>() >= room {
            start += 1;
        }
        let mut shown = String::new();
        let mut used = 0;
        for c in &self.text[start..] {
            if used + w(c) > room {
                break;
            }
            used += w(c);
            shown.push(*c);
        }
        let col: usize = self.text[start..self.cursor].iter().map(w).sum();
        let mut out = format!("\r\x1b[K{shown}\r").into_bytes();
        if col > 0 {
            out.extend_from_slice(format!("\x1b[{col}C").as_bytes());
        }
        out
    }
}

/// The line and the terminal it is drawn on, shared by the keyboard and the conversation.
struct Screen {
    line: Line,
    out: io::Stdout,
}

impl Screen {
    fn width() -> usize {
        rustix::termios::tcgetwinsize(io::stdout()).map_or(80, |w| usize::from(w.ws_col)).max(10)
    }

    fn draw(&mut self, before: &[u8]) -> io::Result<()> {
        let mut all = before.to_vec();
        all.extend_from_slice(&self.line.drawn(Self::width()));
        self.out.write_all(&all)?;
        self.out.flush()
    }
}

/// The editor's two ends: the lines typed, and where the conversation's lines are shown.
pub struct Editor {
    pub typed: Box<dyn Iterator<Item = String> + Send>,
    pub show: sockit::chat::client::Show,
}

/// A line editor on the terminal on stdin and stdout (put in raw mode, with bracketed paste
/// on; the caller gives the terminal back as it found it). `None` if it is not a terminal.
pub fn start() -> Option<Editor> {
    let mut mode = rustix::termios::tcgetattr(io::stdin()).ok()?;
    mode.local_modes -= rustix::termios::LocalModes::ICANON
        | rustix::termios::LocalModes::ECHO
        | rustix::termios::LocalModes::ISIG
        | rustix::termios::LocalModes::IEXTEN;
    mode.input_modes -= rustix::termios::InputModes::ICRNL | rustix::termios::InputModes::IXON;
    mode.special_codes[rustix::termios::SpecialCodeIndex::VMIN] = 1;
    mode.special_codes[rustix::termios::SpecialCodeIndex::VTIME] = 0;
    rustix::termios::tcsetattr(io::stdin(), rustix::termios::OptionalActions::Now, &mode).ok()?;
    let screen = Arc::new(Mutex::new(Screen { line: Line::default(), out: io::stdout() }));
    let _ = screen.lock().unwrap_or_else(PoisonError::into_inner).draw(b"\x1b[?2004h");
    let keyboard = Arc::clone(&screen);
    let (mut keys, mut ready, mut done) = (Keys::default(), VecDeque::new(), false);
    let mut buf = [0u8; 4096];
    let typed = std::iter::from_fn(move || {
        loop {
            if let Some(line) = ready.pop_front() {
                return Some(line);
            }
            if done {
                return None;
            }
            let n = match io::stdin().lock().read(&mut buf) {
                Ok(0) | Err(_) => return None,
                Ok(n) => n,
            };
            let mut pressed = Vec::new();
            keys.feed(&buf[..n], &mut pressed);
            let mut s = keyboard.lock().unwrap_or_else(PoisonError::into_inner);
            // Every key that came is taken, then the line drawn once.
            let mut sent = Vec::new();
            for k in pressed {
                match s.line.key(k) {
                    Done::Editing => {}
                    Done::Line(l) => {
                        sent.extend_from_slice(format!("\r\x1b[K{l}\n").as_bytes());
                        ready.push_back(l);
                    }
                    Done::Quit => {
                        done = true;
                        break;
                    }
                }
                if k == Key::Redraw {
                    sent.extend_from_slice(b"\x1b[H\x1b[2J");
                }
            }
            let _ = s.draw(&sent);
        }
    });
    let show = move |text: &str| {
        let mut s = screen.lock().unwrap_or_else(PoisonError::into_inner);
        let mut before = format!("\r\x1b[K{text}").into_bytes();
        if !text.ends_with('\n') {
            before.push(b'\n');
        }
        s.draw(&before)
    };
    Some(Editor { typed: Box::new(typed), show: Box::new(show) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(chunks: &[&[u8]]) -> Vec<Key> {
        let (mut k, mut out) = (Keys::default(), Vec::new());
        for c in chunks {
            k.feed(c, &mut out);
        }
        out
    }

    fn typed(line: &mut Line, input: &[u8]) -> Vec<Done> {
        keys(&[input]).into_iter().map(|k| line.key(k)).filter(|d| *d != Done::Editing).collect()
    }

    #[test]
    fn keys_cut_between_reads_wait_for_their_rest() {
        assert_eq!(keys(&[b"a\x1b", b"[D\xc3", b"\xa9"]), [Key::Char('a'), Key::Left, Key::Char('é')]);
        // A C1 control (CSI as U+009B) is no character to draw.
        assert_eq!(keys(&["x\u{9b}2Jy".as_bytes()]), [Key::Char('x'), Key::Char('2'), Key::Char('J'), Key::Char('y')]);
        assert_eq!(
            keys(&[b"\x1b[3~\x1bOH\x1b[1;5C\x7f\x01\x05"]),
            [Key::Delete, Key::Home, Key::Right, Key::Backspace, Key::Home, Key::End]
        );
    }

    #[test]
    fn a_paste_is_lines_and_plain_characters() {
        let got = keys(&[b"\x1b[200~a\tb\x01\r\nc\x1b[201~\x01"]);
        assert_eq!(
            got,
            [Key::Char('a'), Key::Char(' '), Key::Char('b'), Key::Enter, Key::Enter, Key::Char('c'), Key::Home]
        );
    }

    #[test]
    fn keys_that_come_together_are_all_taken() {
        let mut line = Line::default();
        assert_eq!(
            typed(&mut line, b"pasted line\rsecond\r"),
            [Done::Line("pasted line".into()), Done::Line("second".into())]
        );
        // Empty lines are sent (the room shows nothing) but not kept in the history.
        assert_eq!(typed(&mut line, b"\r"), [Done::Line(String::new())]);
        assert_eq!(line.history, ["pasted line", "second"]);
    }

    #[test]
    fn editing_keys() {
        let mut line = Line::default();
        assert_eq!(typed(&mut line, b"hllo\x1b[D\x1b[D\x1b[De\r"), [Done::Line("hello".into())]);
        assert_eq!(typed(&mut line, b"one two three\x17\x17\r"), [Done::Line("one ".into())]);
        assert_eq!(typed(&mut line, b"abcdef\x01\x06\x06\x0b\r"), [Done::Line("ab".into())]);
        assert_eq!(typed(&mut line, b"abcdef\x1b[D\x1b[D\x15\r"), [Done::Line("ef".into())]);
        assert_eq!(typed(&mut line, b"xy\x01\x04\x04\r"), [Done::Line(String::new())]);
        assert_eq!(typed(&mut line, b"\x04"), [Done::Quit]);
        assert_eq!(typed(&mut line, b"half\x03"), [Done::Quit]);
    }

    #[test]
    fn history_goes_back_and_returns_to_what_was_typed() {
        let mut line = Line::default();
        typed(&mut line, b"first\rsecond\r");
        assert_eq!(typed(&mut line, b"draft\x1b[A\x1b[A\x1b[A\r"), [Done::Line("first".into())]);
        typed(&mut line, b"draft\x1b[A\x1b[B");
        assert_eq!(line.text.iter().collect::<String>(), "draft");
        // A line sent again from the history is the newest in it.
        assert_eq!(typed(&mut line, b"\x10\x10\x10\x0e\r"), [Done::Line("second".into())]);
        assert_eq!(line.history, ["first", "second", "first", "second"]);
    }

    #[test]
    fn a_long_line_is_drawn_with_the_cursor_in_view() {
        let mut line = Line::default();
        typed(&mut line, b"0123456789abcdef");
        assert_eq!(line.drawn(11), b"\r\x1b[K789abcdef\r\x1b[9C");
        typed(&mut line, b"\x01");
        assert_eq!(line.drawn(11), b"\r\x1b[K0123456789\r");
        typed(&mut line, &[b'\x1b', b'[', b'C'].repeat(3));
        assert_eq!(line.drawn(80), b"\r\x1b[K0123456789abcdef\r\x1b[3C");
        let mut wide = Line::default();
        typed(&mut wide, "漢字".as_bytes());
        assert_eq!(wide.drawn(80), "\r\x1b[K漢字\r\x1b[4C".as_bytes());
    }
}
