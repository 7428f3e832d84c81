//! pcapng, as Wireshark and tshark read it (draft-ietf-opsawg-pcapng): a section header, an
//! Ethernet interface with microsecond times for each interface frames were seen on, and an
//! enhanced packet block a frame.

/// A section header block and an interface description block for each of `if_names` (link
/// type 1, Ethernet; the default time resolution, microseconds); a frame names its interface
/// by its place in that list.
pub fn header(if_names: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    // Section header: byte-order magic, version 1.0, section length unknown (-1).
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1a2b_3c4d_u32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&u64::MAX.to_le_bytes());
    block(&mut out, 0x0a0d_0d0a, &shb);
    // Interface description: link type, reserved, snap length 0 (no limit), if_name option.
    for name in if_names {
        let mut idb = Vec::new();
        idb.extend_from_slice(&1u16.to_le_bytes());
        idb.extend_from_slice(&0u16.to_le_bytes());
        idb.extend_from_slice(&0u32.to_le_bytes());
        option(&mut idb, 2, name.as_bytes());
        option(&mut idb, 0, &[]);
        block(&mut out, 1, &idb);
    }
    out
}

/// An enhanced packet block: `frame` (the first bytes of one `wire_len` long) captured on
/// interface `if_id` at `unix_us` (microseconds since 1970).
pub fn packet(if_id: u32, unix_us: u64, frame: &[u8], wire_len: usize) -> Vec<u8> {
    let len = u32::try_from(frame.len()).unwrap_or(u32::MAX);
    let whole = u32::try_from(wire_len.max(frame.len())).unwrap_or(u32::MAX);
    let mut epb = Vec::with_capacity(frame.len() + 24);
    epb.extend_from_slice(&if_id.to_le_bytes());
    epb.extend_from_slice(&u32::try_from(unix_us >> 32).unwrap_or(0).to_le_bytes());
    epb.extend_from_slice(&u32::try_from(unix_us & 0xffff_ffff).unwrap_or(0).to_le_bytes());
    epb.extend_from_slice(&len.to_le_bytes());
    epb.extend_from_slice(&whole.to_le_bytes());
    epb.extend_from_slice(frame);
    pad(&mut epb);
    let mut out = Vec::with_capacity(epb.len() + 12);
    block(&mut out, 6, &epb);
    out
}

fn pad(v: &mut Vec<u8>) {
    while !v.len().is_multiple_of(4) {
        v.push(0);
    }
}

fn option(v: &mut Vec<u8>, code: u16, value: &[u8]) {
    v.extend_from_slice(&code.to_le_bytes());
    v.extend_from_slice(&u16::try_from(value.len()).unwrap_or(0).to_le_bytes());
    v.extend_from_slice(value);
    pad(v);
}

/// A block: type, total length, body, total length again.
fn block(out: &mut Vec<u8>, kind: u32, body: &[u8]) {
    let total = u32::try_from(body.len() + 12).unwrap_or(u32::MAX);
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&total.to_le_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(&total.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_padded_and_their_lengths_agree() {
        let h = header(&["lo"]);
        assert_eq!(&h[..4], &[0x0a, 0x0d, 0x0d, 0x0a]);
        let shb_len = u32::from_le_bytes([h[4], h[5], h[6], h[7]]) as usize;
        assert_eq!(shb_len, 28);
        let idb = &h[shb_len..];
        let idb_len = u32::from_le_bytes([idb[4], idb[5], idb[6], idb[7]]) as usize;
        assert_eq!(idb.len(), idb_len);
        assert_eq!(&idb[idb_len - 4..], &idb[4..8]);
        let p = packet(0, 1, &[1, 2, 3, 4, 5], 9);
        assert_eq!(p.len() % 4, 0);
        assert_eq!(p.len(), 12 + 20 + 8);
        assert_eq!(&p[p.len() - 4..], &p[4..8]);
    }
}
