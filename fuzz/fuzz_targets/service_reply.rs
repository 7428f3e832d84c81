//! What a scanned service answers to nmap's probes, whatever its bytes: matched against the
//! probe's lines and its fallbacks' (the system's nmap-service-probes when it is there, a few
//! lines of the file's form otherwise) without a panic, and nothing it says reaches a terminal
//! raw. A leading 0 byte makes the rest a probes file of its own, read without a panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sockit::scan::service::{SYSTEM_PROBES, ServiceProbes};

const SMALL: &str = "Probe TCP NULL q||\n\
    match ssh m|^SSH-([\\d.]+)-OpenSSH_([\\w._-]+)\\r?\\n| p/OpenSSH/ v/$2/ i/protocol $1/\n\
    match ftp m|^220 (.*)\\r\\n|s p/$P(1)/ v/$SUBST(1,\"_\",\".\")/\n\
    softmatch ftp m|^220 |i\n\
    Probe TCP GetRequest q|GET / HTTP/1.0\\r\\n\\r\\n|\nfallback NULL\n\
    match http m|^HTTP/1\\.[01] \\d\\d\\d .*\\r\\nServer: ([^\\r\\n]*)|s p/$1/\n";

fn probes() -> &'static ServiceProbes {
    static PROBES: OnceLock<ServiceProbes> = OnceLock::new();
    PROBES.get_or_init(|| {
        ServiceProbes::load(std::path::Path::new(SYSTEM_PROBES))
            .or_else(|_| ServiceProbes::of_text(SMALL))
            .expect("the small file holds TCP probes")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else { return };
    if first == 0 {
        let _ = ServiceProbes::of_text(&String::from_utf8_lossy(rest));
        return;
    }
    let probes = probes();
    if let Some(found) = probes.reply_to(usize::from(first) % probes.len(), rest) {
        for field in [&found.product, &found.version, &found.info].into_iter().flatten() {
            assert!(!field.chars().any(char::is_control), "{field:?}");
        }
    }
});
