//! What an IRC member sends: framed at CR or LF in arbitrary chunks, read as messages. Memory
//! stays under the limit; a message read is written back and read again to the same command
//! and parameters; text made plain holds no formatting code.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockit_core::chat::{Frame, LineFramer};
use sockit_core::irc;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else { return };
    let mut framer = LineFramer::ending_at_cr(irc::MAX_LINE);
    let mut frames = Vec::new();
    for chunk in rest.chunks(1 + usize::from(split) % 13) {
        framer.feed(chunk, &mut frames);
        assert!(framer.pending() <= irc::MAX_LINE + 1);
    }
    for f in frames {
        let Frame::Line(l) = f else { continue };
        assert!(!l.contains(&b'\n') && !l.contains(&b'\r'));
        let line = String::from_utf8_lossy(&l);
        let Ok(m) = irc::parse(&line) else { continue };
        assert!(m.params.len() <= 15 && !m.command.is_empty());
        for (_key, _value) in irc::tags(m.tags) {}
        let mut out = String::new();
        irc::push(&mut out, m.tags, None, &m.command, &m.params);
        let again = out.strip_suffix("\r\n").expect("a message ends in CR LF");
        assert!(!again.contains(['\r', '\n']));
        if let Ok(back) = irc::parse(again) {
            assert_eq!((back.command.as_str(), &back.params), (m.command.as_str(), &m.params));
        }
        if let Some(text) = m.params.last() {
            let plain = irc::plain(text);
            assert!(!plain.contains(['\x02', '\x03', '\x04', '\x0f', '\x1d', '\x1f']));
            let _ = irc::ctcp(text);
            let pieces = irc::split(&plain, 400);
            assert_eq!(pieces.concat(), plain);
            let _ = irc::parse_time(text);
        }
    }
});
