//! DNS over HTTPS (RFC 8484): a query POSTed to the server's path, or with GET in the URL as
//! base64url, over HTTP/2 inside TLS (ALPN `h2`) or HTTP/3 over QUIC (ALPN `h3`), the server's
//! certificate checked as `tcp connect --tls` checks it. A bulk run puts every question in flight together on one
//! connection, a stream each (`Streams`, a carrier of the pipeline's); a lookup asked alone
//! uses one too, kept for its thread's later questions (`secure`).

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;

use super::stream::{Transport, io_transport};
use crate::tls::ClientTls;

/// Where and how to ask over HTTPS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doh {
    /// The path of the DNS endpoint (`/dns-query`).
    pub path: String,
    /// GET (the query in the URL) rather than POST.
    pub get: bool,
    /// HTTP/3 over QUIC rather than HTTP/2 over TLS.
    pub h3: bool,
}

/// The most a reply's body may hold: a DNS message's size.
const MOST: usize = 65_535;

/// Where a connection's requests go: an HTTP/2 or an HTTP/3 connection.
#[derive(Clone)]
enum Sender {
    H2(h2::client::SendRequest<Bytes>),
    H3(h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>),
}

/// A QUIC connection offering `h3`, and HTTP/3 on it (its connection driven by the runtime).
async fn connect_h3(
    server: SocketAddr,
    tls: &ClientTls,
    timeout: Duration,
) -> Result<(Sender, quinn::Endpoint), Transport> {
    let (endpoint, conn) = super::quic::connect(server, tls, b"h3", timeout).await?;
    let (mut driver, sender) = h3::client::new(h3_quinn::Connection::new(conn))
        .await
        .map_err(|e| Transport::Failed(format!("HTTP/3 to {server}: {e}")))?;
    tokio::spawn(async move {
        let _ = driver.wait_idle().await;
    });
    Ok((Sender::H3(sender), endpoint))
}

/// A TLS connection offering `h2`, and HTTP/2 on it (its connection driven by the runtime).
async fn connect(server: SocketAddr, tls: &ClientTls) -> Result<Sender, Transport> {
    let host = sockit_core::endpoint::Host::Ip(server.ip());
    let connector = tls.connector(&host).map_err(|e| Transport::Failed(e.to_string()))?.with_alpn(&[b"h2"]);
    let tcp = tokio::net::TcpStream::connect(server).await.map_err(io_transport)?;
    let _ = tcp.set_nodelay(true);
    let stream =
        connector.connect_async(tcp, &server.to_string()).await.map_err(|e| Transport::Failed(e.to_string()))?;
    if stream.get_ref().1.alpn_protocol() != Some(b"h2") {
        return Err(Transport::Failed(format!(
            "{server} does not speak HTTP/2 over TLS (ALPN h2): is it a DoH server?"
        )));
    }
    let (sender, connection) = h2::client::handshake(stream).await.map_err(h2_error)?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(Sender::H2(sender))
}

fn h2_error(e: h2::Error) -> Transport {
    match e.into_io() {
        Some(io) => io_transport(io),
        None => Transport::Malformed,
    }
}

/// RFC 4648's base64url without padding, as a GET carries the query.
fn base64url(wire: &[u8]) -> String {
    sockit_core::text::base64(wire).trim_end_matches('=').replace('+', "-").replace('/', "_")
}

/// `https://AUTHORITY/PATH` for `server`: the name asked for, or its address.
fn base(server: SocketAddr, tls: &ClientTls, doh: &Doh) -> String {
    let host = tls.server_name.clone().unwrap_or_else(|| server.ip().to_string());
    let host = if server.is_ipv6() && tls.server_name.is_none() { format!("[{host}]") } else { host };
    let authority = if server.port() == 443 { host } else { format!("{host}:{}", server.port()) };
    format!("https://{authority}{}", doh.path)
}

/// One question's exchange: the reply's body, whatever it holds.
async fn fetch(sender: Sender, base: &str, get: bool, wire: &[u8]) -> Result<Vec<u8>, Transport> {
    // RFC 8484 4.1: the id is 0, so that caches see the same question the same.
    let mut query = wire.to_vec();
    query[..2].copy_from_slice(&[0, 0]);
    let mut uri = base.to_string();
    if get {
        uri.push_str(if base.contains('?') { "&dns=" } else { "?dns=" });
        uri.push_str(&base64url(&query));
    }
    let mut request = http::Request::builder()
        .method(if get { http::Method::GET } else { http::Method::POST })
        .uri(&uri)
        .header("accept", "application/dns-message");
    if !get {
        request = request.header("content-type", "application/dns-message");
    }
    let request = request.body(()).map_err(|e| Transport::Failed(format!("a request for {uri}: {e}")))?;
    let sender = match sender {
        Sender::H2(s) => s,
        Sender::H3(s) => return fetch_h3(s, request, base, get, query).await,
    };
    let mut sender = sender.ready().await.map_err(h2_error)?;
    let (response, mut body) = sender.send_request(request, get).map_err(h2_error)?;
    if !get {
        body.send_data(Bytes::from(query), true).map_err(h2_error)?;
    }
    let response = response.await.map_err(h2_error)?;
    let status = response.status();
    let mut incoming = response.into_body();
    let mut got = Vec::new();
    while let Some(chunk) = incoming.data().await {
        let chunk = chunk.map_err(h2_error)?;
        let _ = incoming.flow_control().release_capacity(chunk.len());
        if got.len() + chunk.len() > MOST {
            return Err(Transport::Malformed);
        }
        got.extend_from_slice(&chunk);
    }
    if !status.is_success() {
        return Err(Transport::Failed(format!("{base} answered HTTP {status}: is that the server's DNS path?")));
    }
    Ok(got)
}

/// `fetch` over HTTP/3: the request on a stream of its own, the query its body for a POST.
async fn fetch_h3(
    mut sender: h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>,
    request: http::Request<()>,
    base: &str,
    get: bool,
    query: Vec<u8>,
) -> Result<Vec<u8>, Transport> {
    use bytes::Buf;
    let failed = |e: &dyn std::fmt::Display| Transport::Failed(format!("HTTP/3 to {base}: {e}"));
    let mut stream = sender.send_request(request).await.map_err(|e| failed(&e))?;
    if !get {
        stream.send_data(Bytes::from(query)).await.map_err(|e| failed(&e))?;
    }
    stream.finish().await.map_err(|e| failed(&e))?;
    let status = stream.recv_response().await.map_err(|e| failed(&e))?.status();
    let mut got = Vec::new();
    while let Some(mut chunk) = stream.recv_data().await.map_err(|e| failed(&e))? {
        if got.len() + chunk.remaining() > MOST {
            return Err(Transport::Malformed);
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            got.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
    }
    if !status.is_success() {
        return Err(Transport::Failed(format!("{base} answered HTTP {status}: is that the server's DNS path?")));
    }
    Ok(got)
}

/// One HTTP/2 or HTTP/3 connection carrying a bulk run's questions, a stream each, all in flight
/// together, driven by a runtime of its own on the run's thread; replies come back as they
/// come, their ids put back (RFC 8484 sends 0).
pub(super) struct Streams {
    server: SocketAddr,
    rt: tokio::runtime::Runtime,
    sender: Sender,
    base: String,
    get: bool,
    tx: tokio::sync::mpsc::UnboundedSender<(u16, Result<Vec<u8>, Transport>)>,
    rx: tokio::sync::mpsc::UnboundedReceiver<(u16, Result<Vec<u8>, Transport>)>,
    /// A reply taken while waiting, not yet handed out.
    held: Option<(u16, Result<Vec<u8>, Transport>)>,
    /// HTTP/3's QUIC endpoint, kept while its connection is.
    _endpoint: Option<quinn::Endpoint>,
}

impl Streams {
    /// Connect (TLS with ALPN h2, then HTTP/2; or QUIC with ALPN h3, then HTTP/3) within
    /// `timeout`.
    pub(super) fn new(server: SocketAddr, tls: &ClientTls, doh: &Doh, timeout: Duration) -> Result<Streams, Transport> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(Transport::Io)?;
        let (sender, endpoint) = if doh.h3 {
            let (sender, endpoint) = rt.block_on(connect_h3(server, tls, timeout))?;
            (sender, Some(endpoint))
        } else {
            let sender = rt
                .block_on(async { tokio::time::timeout(timeout, connect(server, tls)).await })
                .unwrap_or(Err(Transport::TimedOut))?;
            (sender, None)
        };
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let base = base(server, tls, doh);
        Ok(Streams { server, rt, sender, base, get: doh.get, tx, rx, held: None, _endpoint: endpoint })
    }
}

impl super::carrier::Carrier for Streams {
    fn server(&self) -> SocketAddr {
        self.server
    }

    fn send(&mut self, wire: &[u8]) -> std::io::Result<()> {
        if wire.len() < 12 {
            return Err(std::io::ErrorKind::InvalidInput.into());
        }
        let id = u16::from_be_bytes([wire[0], wire[1]]);
        let (sender, base, get, tx, wire) =
            (self.sender.clone(), self.base.clone(), self.get, self.tx.clone(), wire.to_vec());
        self.rt.spawn(async move {
            let _ = tx.send((id, fetch(sender, &base, get, &wire).await));
        });
        Ok(())
    }

    fn recv(&mut self, buf: &mut [u8]) -> std::io::Result<super::carrier::Got> {
        use super::carrier::Got;
        let (id, got) = match self.held.take() {
            Some(h) => h,
            None => self.rx.try_recv().map_err(|_| std::io::Error::from(std::io::ErrorKind::WouldBlock))?,
        };
        match got {
            Ok(mut body) if body.len() >= 12 => {
                body[..2].copy_from_slice(&id.to_be_bytes());
                let n = body.len().min(buf.len());
                buf[..n].copy_from_slice(&body[..n]);
                Ok(Got::Message(n))
            }
            Ok(_) | Err(Transport::Malformed) => {
                Ok(Got::Failed(id, format!("{} sent a reply that is not DNS", self.server)))
            }
            Err(Transport::Failed(why)) => Ok(Got::Failed(id, why)),
            Err(Transport::TimedOut) => Err(std::io::ErrorKind::TimedOut.into()),
            Err(Transport::Refused) => Err(std::io::ErrorKind::ConnectionRefused.into()),
            Err(Transport::Io(e)) => Err(e),
        }
    }

    fn wait(&mut self, wait: Duration) {
        if self.held.is_none() {
            let rx = &mut self.rx;
            self.held = self.rt.block_on(async { tokio::time::timeout(wait, rx.recv()).await.ok().flatten() });
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_get_carries_the_query_as_base64url_unpadded() {
        assert_eq!(super::base64url(&[0xfb, 0xff, 0x00]), "-_8A");
        assert_eq!(super::base64url(&[0xff]), "_w");
    }
}
