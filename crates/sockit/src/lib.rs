//! sockit: the OS-facing half of the toolkit. Each module is one slide of the lecture grown
//! into a tool; the pure logic it builds on lives in `sockit_core`.
//!
//! Library functions return typed results and errors; they never print and never exit.

pub mod chat;
pub mod demo;
pub mod exit;
pub mod host;
pub mod net;
pub mod resolve;
pub mod scan;
pub mod tcp;
pub mod tls;
pub mod udp;
