//! Slide 5: a TCP client. connect, send "Hello there", close.
//!
//!     cargo run --example tcp_client -- 127.0.0.1 40000

use std::io::Write;
use std::net::TcpStream;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let host = args.next().unwrap_or_else(|| "127.0.0.1".to_string());
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(40000);
    let mut stream = TcpStream::connect((host.as_str(), port))?;
    stream.write_all(b"Hello there")?;
    Ok(())
}
