//! TCP_INFO read from a socket: what the kernel knows of a connection (state, round-trip
//! time, window, counts), the fields `ss -ti` shows, for `tcp --stats` and the lab.

use std::os::fd::{AsRawFd, BorrowedFd};

pub use sockit_core::tcp_info::{TcpInfo, ss_line};

/// The socket's TCP_INFO; `None` when it is not a TCP socket.
#[allow(unsafe_code)]
pub fn of(fd: BorrowedFd<'_>) -> Option<TcpInfo> {
    let mut buf = [0u8; 256];
    let mut len = libc::socklen_t::try_from(buf.len()).unwrap_or(256);
    // SAFETY: getsockopt writes at most `len` bytes into `buf`, which outlives the call, and
    // says in `len` how many it wrote.
    let r = unsafe {
        libc::getsockopt(fd.as_raw_fd(), libc::IPPROTO_TCP, libc::TCP_INFO, buf.as_mut_ptr().cast(), &raw mut len)
    };
    if r != 0 {
        return None;
    }
    sockit_core::tcp_info::decode(&buf[..usize::try_from(len).unwrap_or(0).min(buf.len())])
}
