//! A DNS server's reply, whatever bytes it sends: an answer or a typed error (its records,
//! DNSSEC's among them, in presentation form; its extended errors), its header and EDNS
//! options as shown, and the whole message in RFC 8427's JSON, never a panic; and a reply a
//! bulk lookup reads by hand is the very answer hickory reads from it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = sockit::resolve::edns::header_of(data);
    let _ = sockit::resolve::rfc8427::message_from_wire(data);
    let slow = sockit::resolve::answer_from_wire("example.test", "A", data);
    if let Some(by_hand) = sockit::resolve::answer_by_hand("example.test", "A", data) {
        assert_eq!(Ok(by_hand), slow, "a plain reply read two ways");
    }
});
