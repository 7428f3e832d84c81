//! What a chat client sends: framed into lines in arbitrary chunks, sanitised, read as a
//! command. Memory stays under the limit; no line is longer than it; sanitised text holds no
//! control characters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockit_core::chat::{Frame, LineFramer, parse_command, sanitize};

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else { return };
    let max = 1 + usize::from(split) % 64;
    let mut framer = LineFramer::new(max);
    let mut frames = Vec::new();
    for chunk in rest.chunks(1 + usize::from(split) % 7) {
        framer.feed(chunk, &mut frames);
        assert!(framer.pending() <= max + 1);
    }
    for f in frames {
        if let Frame::Line(l) = f {
            assert!(l.len() <= max && !l.contains(&b'\n'));
            let text = sanitize(&l);
            assert!(!text.chars().any(char::is_control), "{text:?}");
            let _ = parse_command(&text);
        }
    }
});
