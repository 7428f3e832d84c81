//! What a SYN scan's raw sockets read, whatever bytes come: an IPv4 packet with its header, or
//! an IPv6 TCP segment, read without a panic.
#![no_main]

use std::net::{IpAddr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let sport = data.first().map_or(40_000, |&b| 40_000 + u16::from(b));
    let _ = sockit::scan::syn::read_answer(data, None, sport);
    let _ = sockit::scan::syn::read_answer(data, Some(IpAddr::V6(Ipv6Addr::LOCALHOST)), sport);
});
