//! A DNS server's reply, whatever bytes it sends: an answer or a typed error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = sockit::resolve::answer_from_wire("example.test", "A", data);
});
