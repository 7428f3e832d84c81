//! The kernel kept from answering a SYN scan's SYN-ACKs with resets: an nftables table of the
//! scan's own (`nft add table inet NAME`), owned by the scan's netlink socket, with one rule in
//! the output hook dropping TCP resets from the scan's source port. The kernel deletes an owned
//! table when its socket closes, so the rule is gone when the scan ends, however it ends.
//! Needs CAP_NET_ADMIN and nf_tables; without them the scan goes on and the kernel resets, as
//! it does for nmap -sS.

use std::io;
use std::time::Duration;

/// nfnetlink's batch messages and nftables' subsystem.
const BATCH_BEGIN: u16 = 0x10;
const BATCH_END: u16 = 0x11;
const SUBSYS_NFTABLES: u16 = 10;
const NEWTABLE: u16 = 0;
const NEWCHAIN: u16 = 3;
const NEWRULE: u16 = 6;
const NFPROTO_INET: u8 = 1;
/// NFT_TABLE_F_OWNER: the table lives as long as the socket that made it.
const TABLE_OWNER: u32 = 2;
const NLA_F_NESTED: u16 = 0x8000;
const NLMSG_ERROR: u16 = 2;

/// The rule, held while the scan runs: dropping it (closing the socket) lets the kernel delete
/// the table.
pub(super) struct Quiet {
    _sock: netlink_sys::Socket,
}

/// An attribute: its type and payload, padded to four bytes.
fn attr(out: &mut Vec<u8>, kind: u16, payload: &[u8]) {
    let len = u16::try_from(4 + payload.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(payload);
    out.resize(out.len().next_multiple_of(4), 0);
}

fn nested(out: &mut Vec<u8>, kind: u16, inner: impl FnOnce(&mut Vec<u8>)) {
    let mut body = Vec::new();
    inner(&mut body);
    attr(out, kind | NLA_F_NESTED, &body);
}

fn string(out: &mut Vec<u8>, kind: u16, s: &str) {
    attr(out, kind, &[s.as_bytes(), &[0]].concat());
}

/// nftables' integers are big-endian.
fn be32(out: &mut Vec<u8>, kind: u16, v: u32) {
    attr(out, kind, &v.to_be_bytes());
}

/// One expression of a rule: `name` with its attributes.
fn expr(out: &mut Vec<u8>, name: &str, data: impl FnOnce(&mut Vec<u8>)) {
    nested(out, 1, |e| {
        string(e, 1, name);
        nested(e, 2, data);
    });
}

/// `cmp` of register 1 against `value` (op 0 equal, 1 not equal).
fn cmp(out: &mut Vec<u8>, op: u32, value: &[u8]) {
    expr(out, "cmp", |d| {
        be32(d, 1, 1);
        be32(d, 2, op);
        nested(d, 3, |v| attr(v, 1, value));
    });
}

/// `payload` of the transport header, `len` bytes at `offset`, into register 1.
fn payload(out: &mut Vec<u8>, offset: u32, len: u32) {
    expr(out, "payload", |d| {
        be32(d, 1, 1);
        be32(d, 2, 2);
        be32(d, 3, offset);
        be32(d, 4, len);
    });
}

/// A netlink message of nftables' command `cmd` (or a batch's bound) with `body`.
fn message(out: &mut Vec<u8>, kind: u16, flags: u16, seq: u32, family: u8, res_id: u16, body: &[u8]) {
    let len = u32::try_from(16 + 4 + body.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes());
    out.extend_from_slice(&[family, 0]);
    out.extend_from_slice(&res_id.to_be_bytes());
    out.extend_from_slice(body);
}

/// The batch that makes the table `name`, its output chain and the rule dropping resets from
/// `sport`: `table inet NAME { chain out { type filter hook output priority 0;
/// tcp sport SPORT tcp flags & rst != 0 drop } }`.
fn batch(name: &str, sport: u16) -> Vec<u8> {
    const REQUEST: u16 = 0x1;
    const ACK: u16 = 0x4;
    const CREATE: u16 = 0x400;
    const APPEND: u16 = 0x800;
    let kind = |cmd: u16| SUBSYS_NFTABLES << 8 | cmd;
    let mut out = Vec::new();
    message(&mut out, BATCH_BEGIN, REQUEST, 0, 0, SUBSYS_NFTABLES, &[]);
    let mut table = Vec::new();
    string(&mut table, 1, name);
    be32(&mut table, 2, TABLE_OWNER);
    message(&mut out, kind(NEWTABLE), REQUEST | ACK | CREATE, 1, NFPROTO_INET, 0, &table);
    let mut chain = Vec::new();
    string(&mut chain, 1, name);
    string(&mut chain, 3, "out");
    nested(&mut chain, 4, |h| {
        be32(h, 1, 3); // NF_INET_LOCAL_OUT
        be32(h, 2, 0); // priority
    });
    string(&mut chain, 7, "filter");
    message(&mut out, kind(NEWCHAIN), REQUEST | ACK | CREATE, 2, NFPROTO_INET, 0, &chain);
    let mut rule = Vec::new();
    string(&mut rule, 1, name);
    string(&mut rule, 2, "out");
    nested(&mut rule, 4, |e| {
        // meta l4proto tcp
        expr(e, "meta", |d| {
            be32(d, 1, 1);
            be32(d, 2, 16);
        });
        cmp(e, 0, &[6]);
        // tcp sport SPORT
        payload(e, 0, 2);
        cmp(e, 0, &sport.to_be_bytes());
        // tcp flags & rst != 0
        payload(e, 13, 1);
        expr(e, "bitwise", |d| {
            be32(d, 1, 1);
            be32(d, 2, 1);
            be32(d, 3, 1);
            nested(d, 4, |v| attr(v, 1, &[0x04]));
            nested(d, 5, |v| attr(v, 1, &[0]));
        });
        cmp(e, 1, &[0]);
        // drop
        expr(e, "immediate", |d| {
            be32(d, 1, 0);
            nested(d, 2, |v| nested(v, 2, |verdict| be32(verdict, 1, 0)));
        });
    });
    message(&mut out, kind(NEWRULE), REQUEST | ACK | CREATE | APPEND, 3, NFPROTO_INET, 0, &rule);
    message(&mut out, BATCH_END, REQUEST, 4, 0, SUBSYS_NFTABLES, &[]);
    out
}

impl Quiet {
    /// The rule for the scan's source port `sport`, or why there is none.
    pub(super) fn hold(sport: u16) -> io::Result<Quiet> {
        let mut sock = netlink_sys::Socket::new(netlink_sys::protocols::NETLINK_NETFILTER)?;
        sock.bind_auto()?;
        socket2::SockRef::from(&sock).set_read_timeout(Some(Duration::from_secs(2)))?;
        let name = format!("sockit_scan_{}_{sport}", std::process::id());
        sock.send_to(&batch(&name, sport), &netlink_sys::SocketAddr::new(0, 0), 0)?;
        // An acknowledgement (an error message with code 0) for each of the three, or the
        // first error.
        let mut acked = 0;
        while acked < 3 {
            let (data, _) = sock.recv_from_full()?;
            let mut at = 0;
            while at + 20 <= data.len() {
                let len = u32::from_ne_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]) as usize;
                let kind = u16::from_ne_bytes([data[at + 4], data[at + 5]]);
                if kind == NLMSG_ERROR {
                    let code = i32::from_ne_bytes([data[at + 16], data[at + 17], data[at + 18], data[at + 19]]);
                    if code != 0 {
                        return Err(io::Error::from_raw_os_error(-code));
                    }
                    acked += 1;
                }
                if len < 16 {
                    break;
                }
                at += len.next_multiple_of(4);
            }
        }
        Ok(Quiet { _sock: sock })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_padded_and_nested() {
        let mut out = Vec::new();
        string(&mut out, 1, "abc");
        assert_eq!(out, [8, 0, 1, 0, b'a', b'b', b'c', 0].map(u8::from));
        let mut out = Vec::new();
        nested(&mut out, 4, |h| be32(h, 1, 3));
        assert_eq!(out.len(), 12);
        assert_eq!(u16::from_ne_bytes([out[2], out[3]]), 4 | NLA_F_NESTED);
        assert_eq!(&out[8..], &[0, 0, 0, 3]);
        // A batch: begin, three commands, end, each message's length its own.
        let b = batch("t", 40_001);
        let (mut at, mut kinds) = (0, Vec::new());
        while at < b.len() {
            let len = u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize;
            kinds.push(u16::from_ne_bytes([b[at + 4], b[at + 5]]));
            at += len;
        }
        assert_eq!(at, b.len());
        assert_eq!(kinds, [BATCH_BEGIN, 10 << 8, 10 << 8 | 3, 10 << 8 | 6, BATCH_END]);
    }
}
