//! Slide 4: a UDP receiver. Binds every address on a port (the lecture's 40000; 0 picks a
//! free one), waits for one datagram and prints it with its sender.
//!
//!     cargo run --example udp_receiver -- 40000

use std::net::UdpSocket;

fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(40000);
    let sock = UdpSocket::bind(("0.0.0.0", port))?;
    println!("listening on port {}", sock.local_addr()?.port());
    let mut buf = [0u8; 1024];
    let (n, sender) = sock.recv_from(&mut buf)?;
    println!("{sender} says {}", String::from_utf8_lossy(&buf[..n]));
    Ok(())
}
