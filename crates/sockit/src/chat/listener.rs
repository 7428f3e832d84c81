//! A new connection on the chat port: socket options, the TLS handshake when the room speaks
//! TLS, and what kind of member it is, told from its first bytes (a line client, an IRC client
//! registering, or a browser asking for the page or a WebSocket), before its life in the room begins.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::events::Event;
use super::room::Joining;
use super::room::Shared;
use super::session::{Arrival, Typed, client};
use super::wire::Plain;

/// A new connection: socket options, the TLS handshake when the room speaks TLS, what kind of
/// client it is (a line client, or a browser: the page or a WebSocket), then the client's life
/// in the room. A handshake or an HTTP request must be done within 10 s (slowloris).
pub(super) async fn connected(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr, stop: CancellationToken) {
    use super::web::{Arrival, sniff};
    let _ = stream.set_nodelay(true);
    // A small kernel send buffer: memory per client stays bounded in the kernel too, and a
    // client that stops reading fills its queue soon enough to be noticed.
    let _ = socket2::SockRef::from(&stream).set_send_buffer_size(64 * 1024);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let web = shared.cfg().web;
    // A silent connection that comes as its address loads the page may be a browser's spare
    // socket, not a person at nc: it is given time to speak first.
    let seen = Arc::clone(&shared);
    let arrived = std::time::Instant::now();
    let browser_here = move || seen.browsers.near(peer.ip(), arrived);
    match shared.cfg().tls.clone() {
        None => {
            let mut stream = stream;
            // A spare socket may wait a while: the server's end does not wait for it.
            let arrival = tokio::select! {
                () = stop.cancelled() => return,
                a = Box::pin(sniff(&mut stream, web, deadline, &browser_here)) => a,
            };
            match arrival {
                Arrival::Line(read) if sockit_core::irc::opens(&read) => {
                    let _counted = super::metrics::Connected::new(super::metrics::Kind::Irc);
                    let (reader, writer) = stream.into_split();
                    Box::pin(super::irc::member(shared, reader, writer, read, peer, stop)).await;
                }
                Arrival::Line(read) => {
                    let _counted = super::metrics::Connected::new(super::metrics::Kind::Line);
                    let (reader, writer) = stream.into_split();
                    // Boxed, as every member's life is: awaited in place, a member's task would
                    // hold its future's state twice (some 4.9 KB where boxed it is 2.9).
                    Box::pin(client(shared, reader, Plain(writer), read, peer, stop, typed("line"))).await;
                }
                // Boxed: a line client's task does not carry a browser's state.
                Arrival::Http(head, rest) => Box::pin(browser(shared, stream, head, rest, peer, stop, deadline)).await,
                Arrival::Refused(r) => super::web::refuse(&mut stream, r).await,
                Arrival::Gone => {}
            }
        }
        Some(config) => {
            Box::pin(async move {
                let accept = tokio_rustls::TlsAcceptor::from(config).accept(stream);
                match tokio::time::timeout_at(deadline, accept).await {
                    Ok(Ok(mut tls)) => match tokio::select! {
                        () = stop.cancelled() => return,
                        a = sniff(&mut tls, web, deadline, &browser_here) => a,
                    } {
                        Arrival::Line(read) if sockit_core::irc::opens(&read) => {
                            let _counted = super::metrics::Connected::new(super::metrics::Kind::Irc);
                            let (reader, writer) = tokio::io::split(tls);
                            Box::pin(super::irc::member(shared, reader, writer, read, peer, stop)).await;
                        }
                        Arrival::Line(read) => {
                            let _counted = super::metrics::Connected::new(super::metrics::Kind::Line);
                            let (reader, writer) = tokio::io::split(tls);
                            Box::pin(client(shared, reader, Plain(writer), read, peer, stop, typed("line"))).await;
                        }
                        Arrival::Http(head, rest) => {
                            Box::pin(browser(shared, tls, head, rest, peer, stop, deadline)).await;
                        }
                        Arrival::Refused(r) => super::web::refuse(&mut tls, r).await,
                        Arrival::Gone => {}
                    },
                    Ok(Err(e)) => shared.event(Event::Refused { peer, reason: format!("TLS handshake failed: {e}") }),
                    Err(_) => shared.event(Event::Refused { peer, reason: "TLS handshake took over 10 s".into() }),
                }
            })
            .await;
        }
    }
}

/// A browser's request: the page, an error, or a WebSocket member of the room.
async fn browser<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    shared: Arc<Shared>,
    stream: S,
    head: super::web::Head,
    rest: Vec<u8>,
    peer: SocketAddr,
    stop: CancellationToken,
    deadline: tokio::time::Instant,
) {
    if head.is_browser_page_load() {
        shared.browsers.saw(peer.ip());
    }
    // An operator's scraper: answered to the addresses allowed, whatever Host it names (a
    // scraper knows the server by the name it was given); to others the paths do not exist.
    if head.is_get() && matches!(head.path(), "/metrics" | "/healthz") {
        let mut stream = stream;
        let (code, reason, body) = match head.path() {
            _ if !shared.cfg().metrics.admits(peer.ip()) => (404, "Not Found", "the room is at /\n".to_string()),
            "/metrics" => {
                let (members, remote, servers) = {
                    let room = shared.lock();
                    (room.members.len(), room.remote_count(), room.peers.len())
                };
                let now = super::metrics::Now { members, remote, servers, refused: &shared.refused };
                (200, "OK", super::metrics::render(&now))
            }
            _ => {
                let (code, reason, body) = super::metrics::health(shared.quiet.is_cancelled());
                (code, reason, body.to_string())
            }
        };
        let kind = if head.path() == "/metrics" && code == 200 { super::web::PROMETHEUS } else { super::web::PLAIN };
        let _ =
            tokio::time::timeout_at(deadline, super::web::respond_as::<S, ()>(&mut stream, code, reason, kind, &body))
                .await;
        return;
    }
    let cfg = shared.cfg();
    let served = super::web::serve_http(stream, head, rest, &cfg.browsers);
    match tokio::time::timeout_at(deadline, served).await {
        Ok(Ok(super::web::Served::Member(stream, rest))) => {
            let _counted = super::metrics::Connected::new(super::metrics::Kind::Web);
            let (reader, writer) = super::ws::member(stream, rest, shared.cfg().max_line).await;
            Box::pin(client(shared, reader, writer, Vec::new(), peer, stop, typed("web"))).await;
        }
        Ok(Ok(super::web::Served::Done)) => {}
        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "HTTP request"),
        Err(_) => shared.event(Event::Refused { peer, reason: "HTTP request took over 10 s".into() }),
    }
}

/// A member who types lines (at nc, `sockit chat join`, or a browser's page).
fn typed(kind: &str) -> Arrival<'static, Typed> {
    let (user, real) = (Arc::from(format!("~{kind}")), Arc::from(format!("a {kind} member")));
    Arrival { joining: Joining { nick: None, user, real, greet: None, lobby: false }, speech: Typed }
}
