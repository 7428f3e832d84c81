//! Addresses, CIDR blocks and netmasks as a user types them, and the report built on them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockit_core::addr::report::{AddrQuery, report};
use sockit_core::addr::{Cidr, classify, parse_ip};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split(' ');
    let first = parts.next().unwrap_or("").to_string();
    if let Ok(ip) = parse_ip(&first) {
        let _ = classify(ip);
    }
    if let Ok(c) = Cidr::parse(&first) {
        assert!(c.contains(c.network()));
    }
    let others: Vec<String> = parts.take(4).map(str::to_string).collect();
    let split = others.first().and_then(|s| s.parse::<u32>().ok()).filter(|p| *p <= 128 && *p >= 96 || *p <= 32 && *p >= 20);
    let mut inputs = vec![first];
    inputs.extend(others);
    if let Ok(checked) = (AddrQuery { inputs, split, hosts: Vec::new() }).check() {
        let _ = report(&checked);
    }
});
