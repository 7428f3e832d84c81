//! A password is never shown: for URLs of every shape a user may type (a password with '/',
//! ':' or '@' in it, a host or not, a port or not, a path), the redacted form, the proxy
//! parser's error and the broker URL check never hold the password. The password carries an
//! upper-case 'Z' that no other part of the URL has, so any piece of it that leaks is seen.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&shape, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    let mut parts = text.splitn(4, '\u{0}');
    let (user, pass, host, tail) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let clean = |s: &str| s.chars().filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.').collect::<String>();
    let (user, host) = (clean(user), clean(host));
    let port = tail.bytes().filter(u8::is_ascii_digit).take(5).map(char::from).collect::<String>();
    // The password: the marker, then anything but the marker (and, with no host, no '@': what
    // follows the last '@' is taken for the host, as every URL reader takes it).
    let no_host = shape & 1 == 1;
    let pass: String = std::iter::once('Z')
        .chain(pass.chars().filter(|&c| c != 'Z' && !c.is_control() && !(no_host && c == '@')))
        .collect();
    let scheme = ["socks5", "http", "nats", "tls", "socks5h"][usize::from(shape >> 1) % 5];
    let path = if shape & 0x40 != 0 { "/some/path" } else { "" };
    let url = match (no_host, port.is_empty()) {
        (true, _) => format!("{scheme}://{user}:{pass}"),
        (false, true) => format!("{scheme}://{user}:{pass}@{host}{path}"),
        (false, false) => format!("{scheme}://{user}:{pass}@{host}:{port}{path}"),
    };
    let shown = sockit_core::text::redact_url(&url);
    assert!(!shown.contains('Z'), "{url} shown as {shown}");
    if let Err(e) = sockit_core::proxy::Proxy::parse(&url) {
        assert!(!e.to_string().contains('Z'), "{url}: {e}");
    }
    if let Err(e) = sockit::chat::link::check_url(&url) {
        assert!(!e.contains('Z'), "{url}: {e}");
    }
});
