//! Linux's TCP_INFO read from its bytes (`struct tcp_info`, as long as the kernel filled it):
//! the socket's state, round-trip time, window and counts, the fields `ss -ti` shows.

use serde::Serialize;

/// What TCP_INFO says of one socket. Fields a kernel too old to fill them left out are `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TcpInfo {
    /// ESTABLISHED, SYN-SENT, LISTEN, TIME-WAIT, ... as RFC 9293 names them.
    pub state: &'static str,
    /// Smoothed round-trip time and its variation, microseconds.
    pub rtt_us: u32,
    pub rttvar_us: u32,
    /// Retransmission timeout, microseconds.
    pub rto_us: u32,
    pub snd_mss: u32,
    pub rcv_mss: u32,
    /// Congestion window, segments.
    pub cwnd: u32,
    /// Slow-start threshold, segments; `None` while still "infinite".
    pub ssthresh: Option<u32>,
    /// Segments sent and not yet acknowledged; on a listening socket, connections waiting in
    /// the accept queue.
    pub unacked: u32,
    /// On a listening socket, the accept queue's length (listen's backlog).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backlog: Option<u32>,
    pub lost: u32,
    /// Retransmissions: of the segments in flight now, and over the connection's life.
    pub retrans: u32,
    pub total_retrans: u32,
    pub bytes_sent: Option<u64>,
    pub bytes_acked: Option<u64>,
    pub bytes_received: Option<u64>,
    pub bytes_retrans: Option<u64>,
    pub segs_out: Option<u32>,
    pub segs_in: Option<u32>,
    /// Bytes written by the program and not yet sent.
    pub notsent_bytes: Option<u32>,
    pub min_rtt_us: Option<u32>,
    /// The peer's advertised window, bytes.
    pub snd_wnd: Option<u32>,
}

/// A TCP state's number (`tcpi_state`) as RFC 9293 names it.
pub fn state_name(n: u8) -> &'static str {
    match n {
        1 => "ESTABLISHED",
        2 => "SYN-SENT",
        3 => "SYN-RECEIVED",
        4 => "FIN-WAIT-1",
        5 => "FIN-WAIT-2",
        6 => "TIME-WAIT",
        7 => "CLOSED",
        8 => "CLOSE-WAIT",
        9 => "LAST-ACK",
        10 => "LISTEN",
        11 => "CLOSING",
        12 => "NEW-SYN-RECV",
        _ => "UNKNOWN",
    }
}

/// `struct tcp_info` as the kernel filled `b` (its first `b.len()` bytes); `None` when not
/// even the fields every kernel since 2.6 fills are there.
pub fn decode(b: &[u8]) -> Option<TcpInfo> {
    let u32_at = |at: usize| b.get(at..at + 4).map(|s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]));
    let u64_at =
        |at: usize| b.get(at..at + 8).map(|s| u64::from_ne_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]));
    let state = *b.first()?;
    let listening = state == 10;
    let ssthresh = u32_at(76)?;
    Some(TcpInfo {
        state: state_name(state),
        rtt_us: u32_at(68)?,
        rttvar_us: u32_at(72)?,
        rto_us: u32_at(8)?,
        snd_mss: u32_at(16)?,
        rcv_mss: u32_at(20)?,
        cwnd: u32_at(80)?,
        ssthresh: (ssthresh < 0x7fff_ffff).then_some(ssthresh),
        unacked: u32_at(24)?,
        backlog: if listening { u32_at(28) } else { None },
        lost: u32_at(32)?,
        retrans: u32_at(36)?,
        total_retrans: u32_at(100)?,
        bytes_acked: u64_at(120),
        bytes_received: u64_at(128),
        segs_out: u32_at(136),
        segs_in: u32_at(140),
        notsent_bytes: u32_at(144),
        min_rtt_us: u32_at(148).filter(|&v| v != u32::MAX),
        bytes_sent: u64_at(200),
        bytes_retrans: u64_at(208),
        snd_wnd: u32_at(228),
    })
}

/// The info as `ss -ti` writes its line: `rtt:0.05/0.025 rto:201 mss:32768 cwnd:10 ...`
/// (times in milliseconds), led by the state.
pub fn ss_line(i: &TcpInfo) -> String {
    let ms = |us: u32| {
        let s = format!("{:.3}", f64::from(us) / 1000.0);
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    if let Some(b) = i.backlog {
        return format!("{} accept_queue:{}/{b}", i.state, i.unacked);
    }
    let mut s = format!("{} rtt:{}/{} rto:{}", i.state, ms(i.rtt_us), ms(i.rttvar_us), ms(i.rto_us));
    s.push_str(&format!(" mss:{} cwnd:{}", i.snd_mss, i.cwnd));
    if let Some(t) = i.ssthresh {
        s.push_str(&format!(" ssthresh:{t}"));
    }
    for (name, v) in
        [("bytes_sent", i.bytes_sent), ("bytes_acked", i.bytes_acked), ("bytes_received", i.bytes_received)]
    {
        if let Some(v) = v.filter(|&v| v > 0) {
            s.push_str(&format!(" {name}:{v}"));
        }
    }
    for (name, v) in [("segs_out", i.segs_out), ("segs_in", i.segs_in)] {
        if let Some(v) = v {
            s.push_str(&format!(" {name}:{v}"));
        }
    }
    if i.retrans > 0 || i.total_retrans > 0 {
        s.push_str(&format!(" retrans:{}/{}", i.retrans, i.total_retrans));
    }
    if i.unacked > 0 {
        s.push_str(&format!(" unacked:{}", i.unacked));
    }
    if let Some(v) = i.notsent_bytes.filter(|&v| v > 0) {
        s.push_str(&format!(" notsent:{v}"));
    }
    if let Some(v) = i.min_rtt_us {
        s.push_str(&format!(" minrtt:{}", ms(v)));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put32(b: &mut [u8], at: usize, v: u32) {
        b[at..at + 4].copy_from_slice(&v.to_ne_bytes());
    }

    #[test]
    fn the_fields_are_read_at_the_kernels_offsets() {
        let mut b = vec![0u8; 232];
        b[0] = 1;
        put32(&mut b, 68, 46);
        put32(&mut b, 72, 23);
        put32(&mut b, 8, 201_000);
        put32(&mut b, 16, 32768);
        put32(&mut b, 80, 10);
        put32(&mut b, 76, 0x7fff_ffff);
        b[120..128].copy_from_slice(&14u64.to_ne_bytes());
        b[200..208].copy_from_slice(&13u64.to_ne_bytes());
        put32(&mut b, 136, 4);
        put32(&mut b, 148, 30);
        let i = decode(&b).expect("info");
        assert_eq!((i.state, i.rtt_us, i.cwnd, i.ssthresh, i.bytes_acked), ("ESTABLISHED", 46, 10, None, Some(14)));
        assert_eq!(
            ss_line(&i),
            "ESTABLISHED rtt:0.046/0.023 rto:201 mss:32768 cwnd:10 bytes_sent:13 bytes_acked:14 segs_out:4 segs_in:0 minrtt:0.03"
        );
        // An old kernel's shorter struct: the newer fields are None, nothing panics.
        let old = decode(&b[..104]).expect("old");
        assert_eq!((old.bytes_acked, old.segs_out), (None, None));
        for n in 0..b.len() {
            let _ = decode(&b[..n]);
        }
    }

    #[test]
    fn a_listening_socket_tells_its_accept_queue() {
        let mut b = vec![0u8; 104];
        b[0] = 10;
        put32(&mut b, 24, 2);
        put32(&mut b, 28, 5);
        let i = decode(&b).expect("info");
        assert_eq!(ss_line(&i), "LISTEN accept_queue:2/5");
    }
}
