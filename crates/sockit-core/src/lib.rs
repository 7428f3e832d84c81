//! sockit-core: the pure logic behind sockit. No sockets, no async runtime, no system calls:
//! everything here is a function of its inputs, so it builds fast, tests fast and fuzzes.

pub mod addr;
pub mod chat;
pub mod cluster;
pub mod date;
pub mod discovery;
pub mod endpoint;
pub mod hosts_file;
pub mod irc;
pub mod lab;
pub mod names;
pub mod proxy;
pub mod resolv_conf;
pub mod scan;
pub mod services;
pub mod tcp_info;
pub mod text;
