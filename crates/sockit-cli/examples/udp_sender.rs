//! Slide 4: a UDP sender that broadcasts "Hello there". Broadcasting needs SO_BROADCAST.
//! On loopback the broadcast address is 127.255.255.255.
//!
//!     cargo run --example udp_sender -- 127.255.255.255 40000

use std::net::UdpSocket;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let host = args.next().unwrap_or_else(|| "127.255.255.255".to_string());
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(40000);
    let sock = UdpSocket::bind("0.0.0.0:0")?;
    sock.set_broadcast(true)?;
    sock.send_to(b"Hello there", (host.as_str(), port))?;
    Ok(())
}
