//! Pages the chat port serves beside the room's own (the lab's diagram, for a teacher's
//! projector): whole HTML with at most one inline style and no script, each under a
//! Content-Security-Policy that allows that style by its hash and nothing else.

use std::io;

use tokio::io::{AsyncWrite, AsyncWriteExt};

/// A page at a path of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Where it is served: `/lab`.
    pub path: String,
    pub html: String,
}

/// The page's policy: its one `<style>` by SHA-256, no script, nothing fetched, never framed.
fn content_security_policy(html: &str) -> String {
    let style = html.split_once("<style>").and_then(|(_, r)| r.split_once("</style>")).map_or("", |(b, _)| b);
    let digest = ring::digest::digest(&ring::digest::SHA256, style.as_bytes());
    format!(
        "default-src 'none'; style-src 'sha256-{}'; script-src 'none'; img-src data:; frame-ancestors 'none'; \
         base-uri 'none'; form-action 'none'",
        sockit_core::text::base64(digest.as_ref())
    )
}

/// Send `page` (its head only for HEAD) and close.
pub(super) async fn serve<S: AsyncWrite + Unpin>(stream: &mut S, page: &Page, head_only: bool) -> io::Result<()> {
    let headers = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-cache\r\n\
         X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\nX-Frame-Options: DENY\r\n\
         Content-Security-Policy: {}\r\nConnection: close\r\n\r\n",
        page.html.len(),
        content_security_policy(&page.html)
    );
    stream.write_all(headers.as_bytes()).await?;
    if !head_only {
        stream.write_all(page.html.as_bytes()).await?;
    }
    stream.flush().await?;
    let _ = stream.shutdown().await;
    Ok(())
}
