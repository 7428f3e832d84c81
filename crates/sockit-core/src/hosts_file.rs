//! The hosts file (`/etc/hosts`): `ADDRESS NAME [ALIAS...]` lines, `#` comments; a name's
//! addresses and an address's aliases, as glibc's files backend reads them.

use std::net::IpAddr;

/// The aliases a hosts file gives `name` at `ip`: the names after it on the first line for
/// that address that starts with it, as gethostbyaddr's files backend returns them.
pub fn aliases(text: &str, ip: IpAddr, name: &str) -> Vec<String> {
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut fields = line.split_whitespace();
        let Some(Ok(addr)) = fields.next().map(str::parse::<IpAddr>) else { continue };
        if addr != ip {
            continue;
        }
        match fields.next() {
            Some(first) if first.eq_ignore_ascii_case(name) => return fields.map(str::to_string).collect(),
            _ => {}
        }
    }
    Vec::new()
}

/// The addresses a hosts file gives `name` (as a line's name or one of its aliases), in the
/// file's order, as gethostbyname's files backend finds them.
pub fn addresses(text: &str, name: &str) -> Vec<IpAddr> {
    let name = name.trim_end_matches('.');
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut fields = line.split_whitespace();
        let Some(Ok(addr)) = fields.next().map(str::parse::<IpAddr>) else { continue };
        if fields.any(|n| n.eq_ignore_ascii_case(name)) && !out.contains(&addr) {
            out.push(addr);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_of_the_line_that_names_the_address() {
        let text = "# comment\n127.0.0.1 localhost\n198.18.0.77\tmulti.test m1  m2 # more\n\
                    198.18.0.77 other.test o1\n::1 ip6-localhost ip6-loopback\nbogus line here\n";
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert_eq!(aliases(text, ip("198.18.0.77"), "multi.test"), ["m1", "m2"]);
        assert_eq!(aliases(text, ip("198.18.0.77"), "MULTI.test"), ["m1", "m2"]);
        assert_eq!(aliases(text, ip("198.18.0.77"), "other.test"), ["o1"]);
        assert_eq!(aliases(text, ip("::1"), "ip6-localhost"), ["ip6-loopback"]);
        assert!(aliases(text, ip("127.0.0.1"), "localhost").is_empty());
        assert!(aliases(text, ip("198.18.0.1"), "multi.test").is_empty());
        assert!(aliases("", ip("::1"), "x").is_empty());
    }

    #[test]
    fn addresses_of_a_name_or_an_alias() {
        let text = "198.18.0.77 multi.test m1 # m9\n198.18.0.78 M1\n::1 localhost\nnot-an-address m1\n";
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert_eq!(addresses(text, "m1"), [ip("198.18.0.77"), ip("198.18.0.78")]);
        assert_eq!(addresses(text, "multi.test."), [ip("198.18.0.77")]);
        assert!(addresses(text, "m9").is_empty(), "a comment names nothing");
    }
}
