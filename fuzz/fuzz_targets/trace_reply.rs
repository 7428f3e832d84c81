//! A reply on a trace's way down, whatever bytes a server sends: read as a referral, an
//! answer or a denial, its DNSSEC records parsed and its chain of trust checked (signatures,
//! digests, NSEC and NSEC3 proofs), never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = sockit::resolve::trace::read_reply(data);
});
