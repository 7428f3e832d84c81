//! Bytes from the network, made safe to show: control characters and invalid UTF-8 escaped,
//! and base64 for JSON when the bytes are not text.

/// Escape bytes for a terminal: valid UTF-8 passes through, except control characters
/// (`\n`, `\r`, `\t`, `\0`, `\xNN`, `\u{NNNN}`) and the backslash (`\\`); bytes that are not
/// UTF-8 become `\xNN`. The result never moves the cursor or changes the terminal's state.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\0' => out.push_str("\\0"),
                c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
                c if is_hidden(c) => out.push_str(&format!("\\u{{{:04x}}}", c as u32)),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// The one rule for what a terminal must not be shown raw: control characters (C0, DEL, C1),
/// bidi overrides and isolates, zero-width and other invisible format characters, the BOM.
pub fn is_hidden(c: char) -> bool {
    c.is_control() || matches!(c as u32, 0x200b..=0x200f | 0x202a..=0x202e | 0x2066..=0x2069 | 0xfeff)
}

/// A URL as it may be shown: never its password. What precedes the last '@' after the scheme
/// (a user and password) is dropped; without an '@', what follows a ':' and is not a port
/// number is masked, and what follows it dropped (`socks5://alice:S3cret` is a user and a
/// password that lost their host, not a host and a port).
pub fn redact_url(url: &str) -> String {
    let (prefix, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), url),
    };
    if let Some((_, host)) = rest.rsplit_once('@') {
        return format!("{prefix}{host}");
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host_end = match authority.strip_prefix('[') {
        Some(inner) => inner.find(']').map_or(authority.len(), |i| i + 2),
        None => authority.find(':').unwrap_or(authority.len()),
    };
    let (host, port) = authority.split_at(host_end);
    match port.strip_prefix(':') {
        Some(p) if !p.bytes().all(|b| b.is_ascii_digit()) => format!("{prefix}{host}:***"),
        _ => format!("{prefix}{rest}"),
    }
}

/// Standard base64 with padding (RFC 4648).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64 (RFC 4648, padding required) back to bytes; `None` for anything else.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let b = text.as_bytes();
    if !b.len().is_multiple_of(4) {
        return None;
    }
    let value = |c: u8| -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    };
    let mut out = Vec::with_capacity(b.len() / 4 * 3);
    for (i, quad) in b.chunks(4).enumerate() {
        let last = i + 1 == b.len() / 4;
        let pad = quad.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &quad[..4 - pad] {
            n = n << 6 | value(c)?;
        }
        n <<= 6 * u32::try_from(pad).unwrap_or(0);
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..4 - pad]);
    }
    Some(out)
}

/// A hex dump of `bytes` as `ncat -x` and `socat -x` users read them, 16 bytes a line: a
/// direction mark (`>` sent, `<` received), the offset in that direction, the bytes in hex in
/// two groups of eight, and the printable ASCII among them (others as `.`).
pub fn hexdump(mark: char, offset: u64, bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(16) * 80);
    for (i, row) in bytes.chunks(16).enumerate() {
        out.push_str(&format!("{mark} {:08x}  ", offset + 16 * i as u64));
        for j in 0..16 {
            match row.get(j) {
                Some(b) => out.push_str(&format!("{b:02x} ")),
                None => out.push_str("   "),
            }
            if j == 7 {
                out.push(' ');
            }
        }
        out.push_str(" |");
        out.extend(row.iter().map(|&b| if b.is_ascii_graphic() || b == b' ' { b as char } else { '.' }));
        out.push_str("|\n");
    }
    out
}

#[cfg(test)]
mod tests {

    #[test]
    fn hexdump_rows_as_ncat_users_read_them() {
        assert_eq!(
            hexdump('>', 0, b"Hello, world!\n\x1b[2J"),
            "> 00000000  48 65 6c 6c 6f 2c 20 77  6f 72 6c 64 21 0a 1b 5b  |Hello, world!..[|\n\
             > 00000010  32 4a                                             |2J|\n"
        );
        assert_eq!(
            hexdump('<', 32, b"ab").lines().next(),
            Some("< 00000020  61 62                                             |ab|")
        );
        assert_eq!(hexdump('<', 0, b""), "");
    }

    use super::*;

    #[test]
    fn base64_both_ways() {
        for bytes in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar", &[0, 255, 128, 7]] {
            assert_eq!(base64_decode(&base64(bytes)).as_deref(), Some(bytes), "{bytes:?}");
        }
        for bad in ["Zm9", "Zm9v!", "Z===", "Zg==Zg==", "Zg=a"] {
            assert_eq!(base64_decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn urls_are_shown_without_their_passwords() {
        for (url, shown) in [
            ("nats://u:p%40ss@h:4222", "nats://h:4222"),
            ("nats://u:pa/ss@h:4222", "nats://h:4222"),
            ("socks5://alice:S3cret@127.0.0.1:1080", "socks5://127.0.0.1:1080"),
            ("socks5://alice:S3cret", "socks5://alice:***"),
            ("socks5://alice:S3/cr:et", "socks5://alice:***"),
            ("http://proxy.example:8080", "http://proxy.example:8080"),
            ("tls://[::1]:4222", "tls://[::1]:4222"),
            ("[::1]:x", "[::1]:***"),
            ("h:4222", "h:4222"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }

    #[test]
    fn escapes_what_a_terminal_would_act_on() {
        assert_eq!(escape(b"Hello there"), "Hello there");
        assert_eq!(escape(b"a\nb\r\tc\0"), "a\\nb\\r\\tc\\0");
        assert_eq!(escape(b"\x1b[2J\x7f"), "\\x1b[2J\\x7f");
        assert_eq!(escape(b"back\\slash"), "back\\\\slash");
        assert_eq!(escape("héllo ✓".as_bytes()), "héllo ✓");
        assert_eq!(escape(b"\xff\xfeok\xc3"), "\\xff\\xfeok\\xc3");
        assert_eq!(escape("\u{202e}evil\u{85}".as_bytes()), "\\u{202e}evil\\u{0085}");
    }

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
        assert_eq!(base64(&[0xff, 0x00, 0xfe]), "/wD+");
    }
}
