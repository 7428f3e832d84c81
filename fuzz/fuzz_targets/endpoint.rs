//! HOST, HOST:PORT, [v6]:PORT, v6%ZONE, PORT as a user types them: parsed or refused with a reason;
//! a parsed address is the one written.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockit_core::endpoint::{Endpoint, Host};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(e) = Endpoint::parse(&text) {
        if let Some(Host::Name(n)) = &e.host {
            assert!(sockit_core::endpoint::is_host_name(n));
        }
        if let Some(Host::Scoped(ip, zone)) = &e.host {
            assert_eq!(sockit_core::endpoint::parse_scoped(&format!("{ip}%{zone}")), Some((*ip, zone.clone())));
        }
        if let Some(a) = e.socket_addr(1) {
            assert_eq!(Some(a.port()), Some(e.port.unwrap_or(1)));
        }
    }
});
