//! Prometheus's side of a server: its text exposition format written (`Text`), and a small
//! HTTP endpoint answering `GET /metrics` and `GET /healthz` on an address of the operator's,
//! in threads of its own (`serve`), for the servers without HTTP of their own (`relay`,
//! `tcp listen --keep-open`). A scraper that is slow, silent or sends junk costs its own
//! connection: the request head is bounded (8 KiB) and timed (5 s), and at most 16 are served
//! at once.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::net::{Doing, NetError};

/// A sample's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
}

/// Metrics in Prometheus's text format (version 0.0.4), a family at a time.
#[derive(Debug, Default)]
pub struct Text(String);

impl Text {
    /// One family: its help, its type, and its samples (labels as written, `{a="b"}`, or "").
    pub fn family(&mut self, name: &str, kind: Kind, help: &str, samples: &[(&str, u64)]) {
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        };
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, v) in samples {
            let _ = writeln!(self.0, "{name}{labels} {v}");
        }
    }

    /// sockit's version, as `sockit_build_info`.
    pub fn build_info(&mut self) {
        let labels = format!("{{version=\"{}\"}}", env!("CARGO_PKG_VERSION"));
        self.family("sockit_build_info", Kind::Gauge, "The running sockit's version.", &[(&labels, 1)]);
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// Prometheus's content type for the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

const MAX_HEAD: usize = 8 * 1024;
const HEAD_TIME: Duration = Duration::from_secs(5);
const AT_ONCE: usize = 16;

/// Listen on `addr` and answer `GET /metrics` with what `render` gives, and `GET /healthz`
/// with `ok`, until the process ends; the address bound is returned.
pub fn serve(addr: SocketAddr, render: impl Fn() -> String + Send + Sync + 'static) -> Result<SocketAddr, NetError> {
    let listener = crate::net::bound_socket(addr, socket2::Type::STREAM)?;
    listener.listen(128).map_err(|e| NetError::io(Doing::ListenOn(addr), e))?;
    let listener: TcpListener = listener.into();
    let local = listener.local_addr().map_err(|e| NetError::io(Doing::LocalAddress, e))?;
    let render = Arc::new(render);
    let busy = Arc::new(AtomicUsize::new(0));
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                if busy.fetch_add(1, Ordering::AcqRel) >= AT_ONCE {
                    busy.fetch_sub(1, Ordering::AcqRel);
                    continue;
                }
                let (render, done) = (Arc::clone(&render), Arc::clone(&busy));
                let spawned = std::thread::Builder::new().name("scrape".into()).spawn(move || {
                    let _ = answer(stream, &*render);
                    done.fetch_sub(1, Ordering::AcqRel);
                });
                if spawned.is_err() {
                    busy.fetch_sub(1, Ordering::AcqRel);
                }
            }
        })
        .map_err(|e| NetError::io(Doing::StartThread, e))?;
    Ok(local)
}

/// One request: its head read within the bounds, then the answer, then the connection closed.
fn answer(mut s: TcpStream, render: &(dyn Fn() -> String + Send + Sync)) -> std::io::Result<()> {
    s.set_read_timeout(Some(HEAD_TIME))?;
    s.set_write_timeout(Some(HEAD_TIME))?;
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !(head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n")) {
        if head.len() > MAX_HEAD {
            return Ok(());
        }
        match s.read(&mut buf)? {
            0 => return Ok(()),
            n => head.extend_from_slice(&buf[..n]),
        }
    }
    let (code, reason, kind, body) = respond(&head, render);
    let text = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(text.as_bytes())?;
    let _ = s.shutdown(std::net::Shutdown::Write);
    Ok(())
}

/// The answer to a request head (whatever bytes came): status, reason, content type and body.
pub fn respond(head: &[u8], render: &(dyn Fn() -> String + Send + Sync)) -> (u16, &'static str, &'static str, String) {
    const PLAIN: &str = "text/plain; charset=utf-8";
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let mut words = line.split(|&b| b == b' ');
    let (method, path) = (words.next().unwrap_or_default(), words.next().unwrap_or_default());
    match (method, path) {
        (b"GET", b"/metrics") => (200, "OK", CONTENT_TYPE, render()),
        (b"GET", b"/healthz") => (200, "OK", PLAIN, "ok\n".into()),
        (b"GET", _) => (404, "Not Found", PLAIN, "metrics are at /metrics\n".into()),
        _ => (405, "Method Not Allowed", PLAIN, "only GET here\n".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_written_as_prometheus_reads_them() {
        let mut t = Text::default();
        t.family("x_total", Kind::Counter, "Things.", &[("", 3)]);
        t.family("y", Kind::Gauge, "Now.", &[("{kind=\"a\"}", 1), ("{kind=\"b\"}", 2)]);
        assert_eq!(
            t.into_string(),
            "# HELP x_total Things.\n# TYPE x_total counter\nx_total 3\n\
             # HELP y Now.\n# TYPE y gauge\ny{kind=\"a\"} 1\ny{kind=\"b\"} 2\n"
        );
    }

    #[test]
    fn requests_are_answered_by_path_and_method() {
        let render = || "m 1\n".to_string();
        assert_eq!(respond(b"GET /metrics HTTP/1.1\r\n\r\n", &render), (200, "OK", CONTENT_TYPE, "m 1\n".into()));
        assert_eq!(respond(b"GET /healthz HTTP/1.0\n\n", &render).0, 200);
        assert_eq!(respond(b"GET / HTTP/1.1\r\n\r\n", &render).0, 404);
        assert_eq!(respond(b"POST /metrics HTTP/1.1\r\n\r\n", &render).0, 405);
        assert_eq!(respond(b"\xff\xfe", &render).0, 405);
    }
}
