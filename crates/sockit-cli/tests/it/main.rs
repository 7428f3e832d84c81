//! sockit's integration tests: one binary, a module per command. Every test runs the real
//! `sockit` binary and, where the brief asks, a real peer next to it.

mod util;

mod addr;
mod argv;
mod chat;
mod cli;
mod cluster;
mod dns_ask;
mod dns_trace;
mod examples;
mod federation;
mod forward;
mod info;
mod irc;
mod keep_open;
mod lab;
mod names;
mod operate;
mod port;
mod proxy;
mod readme;
mod scan;
mod scan_service;
mod scan_syn;
mod scan_udp;
mod tcp;
mod udp;
mod unix;
mod web;
