//! Proxies on the way out: `--proxy socks5://[user:pass@]HOST:PORT` (RFC 1928 with RFC 1929
//! user/password) and `--proxy http://[user:pass@]HOST:PORT` (HTTP CONNECT, Basic auth). The
//! requests are built here and the replies, which come from a machine that may lie, are read
//! here: every length is checked, nothing is trusted, the fuzz target drives these.

use std::net::IpAddr;

/// Which proxy protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Socks5,
    Http,
}

/// A proxy as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    pub kind: Kind,
    pub host: String,
    pub port: u16,
    /// User name and password.
    pub auth: Option<(String, String)>,
    /// Resolve target names at the proxy (socks5h, and always for HTTP); `false`: here.
    pub remote_dns: bool,
    /// A file holding `USER:PASSWORD`, read when connecting, for a URL that has none.
    pub credentials: Option<std::path::PathBuf>,
}

/// Why a proxy URL is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a proxy: write socks5://HOST:PORT, socks5://USER:PASS@HOST:PORT or http://HOST:PORT")]
pub struct BadProxy(pub String);

impl Proxy {
    /// Parse `socks5://`, `socks5h://` or `http://`, with `user:pass@` if any, and a port
    /// (1080 for SOCKS, 8080 for HTTP when none is given).
    pub fn parse(url: &str) -> Result<Proxy, BadProxy> {
        // Never echo a password.
        let shown = crate::text::redact_url(url);
        let bad = || BadProxy(shown.clone());
        let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
        let (kind, default_port) = match scheme.to_ascii_lowercase().as_str() {
            "socks5" | "socks5h" => (Kind::Socks5, 1080),
            "http" => (Kind::Http, 8080),
            _ => return Err(bad()),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (auth, hostport) = match rest.rsplit_once('@') {
            Some((creds, hp)) => {
                let (u, p) = creds.split_once(':').ok_or_else(bad)?;
                if u.is_empty() || u.len() > 255 || p.len() > 255 {
                    return Err(bad());
                }
                (Some((u.to_string(), p.to_string())), hp)
            }
            None => (None, rest),
        };
        let e = crate::endpoint::Endpoint::parse(hostport).map_err(|_| bad())?;
        let host = match e.host {
            Some(crate::endpoint::Host::Ip(ip)) => ip.to_string(),
            Some(crate::endpoint::Host::Name(n)) => n,
            _ => return Err(bad()),
        };
        Ok(Proxy { kind, host, port: e.port.unwrap_or(default_port), auth, remote_dns: true, credentials: None })
    }
}

/// Where the proxy is to connect: an address, or a name the proxy resolves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dest {
    Ip(IpAddr),
    Name(String),
}

impl std::fmt::Display for Dest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dest::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Dest::Ip(ip) => write!(f, "{ip}"),
            Dest::Name(n) => f.write_str(n),
        }
    }
}

/// The SOCKS5 greeting: version 5 and the methods offered (none, and user/password when we
/// have credentials).
pub fn socks5_greeting(with_auth: bool) -> Vec<u8> {
    if with_auth { vec![5, 2, 0, 2] } else { vec![5, 1, 0] }
}

/// The method the server chose, from its two-byte answer to the greeting.
pub fn socks5_method(reply: &[u8; 2], with_auth: bool) -> Result<Method, SocksError> {
    match *reply {
        [5, 0] => Ok(Method::NoAuth),
        [5, 2] if with_auth => Ok(Method::UserPass),
        [5, 2] => Err(SocksError::NeedsAuth),
        [5, 0xff] => Err(SocksError::NoMethod { offered_auth: with_auth }),
        [5, _] => Err(SocksError::Lied("a method that was not offered")),
        _ => Err(SocksError::NotSocks),
    }
}

/// How the SOCKS5 server wants us to authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    NoAuth,
    UserPass,
}

/// The RFC 1929 user/password request (each at most 255 bytes: `Proxy::parse` checked).
pub fn socks5_auth(user: &str, pass: &str) -> Vec<u8> {
    let mut v = vec![1, u8::try_from(user.len()).unwrap_or(u8::MAX)];
    v.extend_from_slice(user.as_bytes());
    v.push(u8::try_from(pass.len()).unwrap_or(u8::MAX));
    v.extend_from_slice(pass.as_bytes());
    v
}

/// The answer to the user/password request.
pub fn socks5_auth_reply(reply: &[u8; 2]) -> Result<(), SocksError> {
    match reply {
        [1, 0] => Ok(()),
        [1, _] => Err(SocksError::AuthRefused),
        _ => Err(SocksError::Lied("an answer to the password that is not RFC 1929")),
    }
}

/// The CONNECT request for `dest:port`. A name longer than 255 bytes cannot be sent.
pub fn socks5_connect(dest: &Dest, port: u16) -> Result<Vec<u8>, SocksError> {
    let mut v = vec![5, 1, 0];
    match dest {
        Dest::Ip(IpAddr::V4(ip)) => {
            v.push(1);
            v.extend_from_slice(&ip.octets());
        }
        Dest::Ip(IpAddr::V6(ip)) => {
            v.push(4);
            v.extend_from_slice(&ip.octets());
        }
        Dest::Name(n) => {
            let len = u8::try_from(n.len()).map_err(|_| SocksError::NameTooLong)?;
            v.push(3);
            v.push(len);
            v.extend_from_slice(n.as_bytes());
        }
    }
    v.extend_from_slice(&port.to_be_bytes());
    Ok(v)
}

/// Reading the CONNECT reply: how many bytes it has in all once its first five are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyLen {
    /// Read this many bytes in all (the reply's length, from its address type).
    Total(usize),
}

/// From the first five bytes of a CONNECT reply (VER REP RSV ATYP and one more): the request's
/// fate, and the reply's whole length to read off the wire.
pub fn socks5_reply_head(head: &[u8; 5]) -> Result<ReplyLen, SocksError> {
    let [ver, rep, rsv, atyp, first] = *head;
    if ver != 5 {
        return Err(SocksError::NotSocks);
    }
    if rep != 0 {
        return Err(SocksError::Refused(rep));
    }
    if rsv != 0 {
        return Err(SocksError::Lied("a reserved byte that is not zero"));
    }
    let total = match atyp {
        1 => 4 + 4 + 2,
        4 => 4 + 16 + 2,
        3 if first > 0 => 4 + 1 + usize::from(first) + 2,
        3 => return Err(SocksError::Lied("an empty bound name")),
        _ => return Err(SocksError::Lied("an unknown address type")),
    };
    Ok(ReplyLen::Total(total))
}

/// What went wrong with a SOCKS5 proxy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SocksError {
    #[error("it does not speak SOCKS5")]
    NotSocks,
    #[error("it asks for a user and password: give them as socks5://USER:PASS@HOST:PORT")]
    NeedsAuth,
    #[error("it takes none of the ways to log in offered{}", if *.offered_auth { " (no login, user/password)" } else { ": it may need a user and password" })]
    NoMethod { offered_auth: bool },
    #[error("it refused the user name and password")]
    AuthRefused,
    #[error("{}", refusal(*.0))]
    Refused(u8),
    #[error("the target name is longer than SOCKS5 allows (255 bytes)")]
    NameTooLong,
    #[error("it answered with {0}")]
    Lied(&'static str),
}

impl SocksError {
    /// Whether the proxy said the target refused the connection (a closed port).
    pub fn target_refused(&self) -> bool {
        matches!(self, SocksError::Refused(5))
    }
}

fn refusal(rep: u8) -> String {
    let why = match rep {
        1 => "general failure",
        2 => "not allowed by its rules",
        3 => "network unreachable",
        4 => "host unreachable",
        5 => "connection refused by the target",
        6 => "TTL expired",
        7 => "command not supported",
        8 => "address type not supported",
        _ => "an unknown refusal",
    };
    format!("it could not connect: {why} (SOCKS reply {rep})")
}

/// The HTTP CONNECT request for `dest:port`, with Basic credentials if any.
pub fn http_connect(dest: &Dest, port: u16, auth: Option<&(String, String)>) -> String {
    let target = format!("{dest}:{port}");
    let mut req = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some((u, p)) = auth {
        req.push_str(&format!("Proxy-Authorization: Basic {}\r\n", crate::text::base64(format!("{u}:{p}").as_bytes())));
    }
    req.push_str("\r\n");
    req
}

/// The longest HTTP proxy reply head read.
pub const HTTP_HEAD_MAX: usize = 8 * 1024;

/// What an HTTP proxy's reply head (through its blank line) says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    #[error("it does not speak HTTP")]
    NotHttp,
    #[error("it wants a user and password (407): give them as http://USER:PASS@HOST:PORT")]
    NeedsAuth,
    #[error("it could not connect: {0}")]
    Refused(String),
    #[error("its answer is longer than 8 KiB")]
    TooLong,
}

/// Read a complete reply head (`HTTP/1.x CODE REASON`, headers, blank line): Ok for a 2xx.
pub fn http_reply(head: &[u8]) -> Result<(), HttpError> {
    let line_end = head.iter().position(|&b| b == b'\n').ok_or(HttpError::NotHttp)?;
    let line = String::from_utf8_lossy(&head[..line_end]);
    let line = line.trim_end_matches('\r');
    let mut parts = line.splitn(3, ' ');
    let (version, code, reason) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if !version.starts_with("HTTP/1.") || code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HttpError::NotHttp);
    }
    match code.as_bytes()[0] {
        b'2' => Ok(()),
        _ if code == "407" => Err(HttpError::NeedsAuth),
        _ => Err(HttpError::Refused(crate::text::escape(format!("{code} {reason}").trim().as_bytes()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let p = Proxy::parse("socks5://bob:s3cret@127.0.0.1:1080").expect("socks");
        assert_eq!((p.kind, p.host.as_str(), p.port), (Kind::Socks5, "127.0.0.1", 1080));
        assert_eq!(p.auth, Some(("bob".into(), "s3cret".into())));
        let p = Proxy::parse("http://proxy.test").expect("http");
        assert_eq!((p.kind, p.port, p.auth), (Kind::Http, 8080, None));
        assert_eq!(Proxy::parse("socks5h://[::1]:9050/").expect("v6").host, "::1");
        for bad in ["", "127.0.0.1:1080", "ftp://x:1", "socks5://", "socks5://u@h:1", "http://h:99999"] {
            assert!(Proxy::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn socks5_replies_are_checked() {
        assert_eq!(socks5_method(&[5, 0], false), Ok(Method::NoAuth));
        assert_eq!(socks5_method(&[5, 2], false), Err(SocksError::NeedsAuth));
        assert_eq!(socks5_method(&[4, 0], false), Err(SocksError::NotSocks));
        assert_eq!(socks5_reply_head(&[5, 0, 0, 1, 127]), Ok(ReplyLen::Total(10)));
        assert_eq!(socks5_reply_head(&[5, 0, 0, 3, 9]), Ok(ReplyLen::Total(16)));
        assert_eq!(socks5_reply_head(&[5, 5, 0, 1, 0]), Err(SocksError::Refused(5)));
        assert!(socks5_reply_head(&[5, 5, 0, 1, 0]).expect_err("refused").target_refused());
        assert!(matches!(socks5_reply_head(&[5, 0, 0, 9, 0]), Err(SocksError::Lied(_))));
        assert_eq!(
            socks5_connect(&Dest::Name("a.test".into()), 80).expect("req"),
            [5, 1, 0, 3, 6, b'a', b'.', b't', b'e', b's', b't', 0, 80]
        );
        assert_eq!(socks5_connect(&Dest::Name("x".repeat(256)), 1), Err(SocksError::NameTooLong));
    }

    #[test]
    fn http_replies_are_checked() {
        assert_eq!(http_reply(b"HTTP/1.1 200 Connection established\r\n\r\n"), Ok(()));
        assert_eq!(http_reply(b"HTTP/1.0 407 Proxy Authentication Required\r\n\r\n"), Err(HttpError::NeedsAuth));
        assert_eq!(
            http_reply(b"HTTP/1.0 504 Gateway Timeout\r\n\r\n"),
            Err(HttpError::Refused("504 Gateway Timeout".into()))
        );
        assert_eq!(http_reply(b"SSH-2.0-x\r\n\r\n"), Err(HttpError::NotHttp));
        assert_eq!(
            http_connect(&Dest::Ip("::1".parse().expect("ip")), 22, Some(&("u".into(), "p".into()))),
            "CONNECT [::1]:22 HTTP/1.1\r\nHost: [::1]:22\r\nProxy-Authorization: Basic dTpw\r\n\r\n"
        );
    }
}
