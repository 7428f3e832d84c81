//! What an untrusted proxy answers (SOCKS5 method, password and CONNECT replies; an HTTP
//! CONNECT reply head) and what a user types as --proxy: read without a panic, lengths within
//! bounds, and no password in an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockit_core::proxy::{self, Proxy, ReplyLen};

fuzz_target!(|data: &[u8]| {
    if data.len() >= 2 {
        let two = [data[0], data[1]];
        let _ = proxy::socks5_method(&two, data.len() % 2 == 0);
        let _ = proxy::socks5_auth_reply(&two);
    }
    if data.len() >= 5 {
        let head = [data[0], data[1], data[2], data[3], data[4]];
        if let Ok(ReplyLen::Total(n)) = proxy::socks5_reply_head(&head) {
            assert!((4 + 1 + 1 + 2..=4 + 1 + 255 + 2).contains(&n));
        }
    }
    let _ = proxy::http_reply(&data[..data.len().min(proxy::HTTP_HEAD_MAX)]);
    let text = String::from_utf8_lossy(data);
    let _ = Proxy::parse(&text);
    // A password is never shown: a URL with credentials and any host part, refused or not,
    // names no password in its error.
    let host: String = text.chars().filter(|c| *c != '@').collect();
    let url = format!("socks5://user:Secret4242@{host}");
    if let Err(e) = Proxy::parse(&url) {
        assert!(!e.to_string().contains("Secret4242") || host.contains("Secret4242"), "{e}");
    }
});
