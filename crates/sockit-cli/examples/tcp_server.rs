//! Slide 5: a TCP server. bind, listen, accept one client, receive what it sends until it
//! closes, print it.
//!
//!     cargo run --example tcp_server -- 40000

use std::io::Read;
use std::net::TcpListener;

fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(40000);
    let listener = TcpListener::bind(("0.0.0.0", port))?;
    println!("listening on port {}", listener.local_addr()?.port());
    let (mut client, addr) = listener.accept()?;
    let mut data = Vec::new();
    client.read_to_end(&mut data)?;
    println!("{addr} sent {}", String::from_utf8_lossy(&data));
    Ok(())
}
