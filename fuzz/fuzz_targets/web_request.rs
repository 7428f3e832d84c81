//! The first bytes of a chat connection, as a browser, a line client or an attacker sends
//! them: told apart without a panic, an HTTP verdict only for a complete head (its blank line
//! in CRLF or bare LF), a refusal only for a complete request line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockit::chat::web::{FirstBytes, first_bytes};

fuzz_target!(|data: &[u8]| {
    match first_bytes(data) {
        FirstBytes::Http { path, .. } => {
            assert!(data.windows(2).any(|w| w == b"\n\n") || data.windows(3).any(|w| w == b"\n\r\n"));
            assert!(path.starts_with('/') || path == "*");
        }
        FirstBytes::Refused(code) => {
            assert!(code == 400 || code == 505);
            assert!(data.contains(&b'\n'));
        }
        FirstBytes::Line if data.len() <= 8 * 1024 => {
            // More bytes never turn a line client into a browser (past 8 KiB without a
            // newline sniffing has stopped reading).
            let mut more = data.to_vec();
            more.extend_from_slice(b" HTTP/1.1\r\n\r\n");
            assert_eq!(first_bytes(&more), FirstBytes::Line);
        }
        FirstBytes::Line | FirstBytes::Undecided | FirstBytes::BadHead => {}
    }
});
