//! A captured frame, whatever its bytes: read as Ethernet, IPv4 or IPv6, TCP, UDP or ICMP (an
//! ICMP error's quoted header too), labelled for the lab's ladder and written as pcapng,
//! never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockit_core::lab::{Relative, ends, frame, label, pcapng};

fuzz_target!(|data: &[u8]| {
    let wire = data.len() + usize::from(data.first().copied().unwrap_or(0));
    let f = frame::parse(0, data, wire);
    let _ = ends(&f);
    let mut rel = Relative::default();
    let _ = label(&f, &mut rel);
    let _ = label(&f, &mut rel);
    let _ = pcapng::packet(0, 1, data, wire);
});
