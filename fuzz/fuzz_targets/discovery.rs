//! Discovery datagrams from anyone on the LAN: a reply parses or is refused, and what a
//! server would answer to a probe of that size is never larger than the probe.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockit_core::discovery::{is_probe, parse_reply, reply};

fuzz_target!(|data: &[u8]| {
    if let Some(info) = parse_reply(data) {
        if let Some(r) = reply(&info, data.len()) {
            assert!(r.len() <= data.len());
        }
    }
    let _ = is_probe(data);
});
