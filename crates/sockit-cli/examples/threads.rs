//! Slide 6: threads, or doing more than one thing at a time. A TCP server that gives each
//! client its own thread, so a slow client never holds up the others. Each client gets its
//! lines back in capitals. Stops after serving N clients (default: never).
//!
//!     cargo run --example threads -- 40000

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

fn serve(stream: TcpStream) -> std::io::Result<()> {
    let mut out = stream.try_clone()?;
    for line in BufReader::new(stream).lines() {
        writeln!(out, "{}", line?.to_uppercase())?;
    }
    Ok(())
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(40000);
    let clients: Option<usize> = args.next().and_then(|n| n.parse().ok());
    let listener = TcpListener::bind(("0.0.0.0", port))?;
    println!("listening on port {}", listener.local_addr()?.port());
    let mut handles = Vec::new();
    for stream in listener.incoming().take(clients.unwrap_or(usize::MAX)) {
        let stream = stream?;
        handles.push(thread::spawn(move || serve(stream)));
    }
    for h in handles {
        let _ = h.join();
    }
    Ok(())
}
