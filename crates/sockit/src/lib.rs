//! sockit: the OS-facing half of the toolkit. Each module is one slide of the lecture grown
//! into a tool; the pure logic it builds on lives in `sockit_core`.
//!
//! Every command is `x::run(&XConfig, io) -> Result<XReport, XError>`: the library does the
//! work, owns its runtime, threads and signals, and touches the outside world only through
//! what it is handed (`stdio::Stdio`, a callback for what it reports as it goes). It never
//! prints and never exits.

pub mod bridge;
pub mod chat;
pub mod conn;
pub mod copy;
pub mod demo;
pub mod dial;
pub mod dns_config;
pub mod exec;
pub mod hexdump;
pub mod hint;
pub mod host;
pub mod ifaces;
pub mod keep_open;
pub mod lab;
pub mod listener;
pub mod memory;
pub mod net;
pub mod peer;
pub mod port;
pub mod relay;
pub mod resolve;
pub mod scan;
pub mod scrape;
pub mod secrets;
pub mod stdio;
pub mod systemd;
pub mod tcp;
pub mod tcp_info;
pub mod tls;
pub mod udp;
pub mod unix;
