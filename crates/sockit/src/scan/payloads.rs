//! What a UDP scan sends each port: a question its usual service answers (DNS, NTP, SNMP,
//! NetBIOS, SSDP, mDNS, echo ...), so that an open port says so; an empty datagram elsewhere,
//! as nmap sends.

/// A DNS query for the root's NS records (the id fixed: a reply of any kind is an answer).
const DNS: &[u8] = b"\x53\x4b\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x01";

/// An NTP version 4 client request (RFC 5905): mode 3, the rest zero.
const NTP: &[u8] = &[
    0xe3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// SNMPv1 get-request of sysDescr.0 with the community `public` (RFC 1157, BER).
const SNMP: &[u8] = &[
    0x30, 0x26, 0x02, 0x01, 0x00, 0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c', 0xa0, 0x19, 0x02, 0x01, 0x01, 0x02,
    0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x0e, 0x30, 0x0c, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x01, 0x00,
    0x05, 0x00,
];

/// A NetBIOS node status request for `*` (RFC 1002 4.2.17).
const NETBIOS: &[u8] =
    b"\x80\xf0\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x20CKAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\x00\x00\x21\x00\x01";

/// SSDP's search for every device (UPnP 1.1).
const SSDP: &[u8] =
    b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n";

/// An mDNS question for the services browsed (RFC 6763 9), a unicast reply asked for.
const MDNS: &[u8] =
    b"\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x09_services\x07_dns-sd\x04_udp\x05local\x00\x00\x0c\x80\x01";

/// Anything comes back from echo: a line of it.
const ECHO: &[u8] = b"sockit\r\n";

/// The datagram for `port`.
pub(super) fn payload(port: u16) -> &'static [u8] {
    match port {
        7 => ECHO,
        53 => DNS,
        123 => NTP,
        137 => NETBIOS,
        161 => SNMP,
        1900 => SSDP,
        5353 => MDNS,
        _ => b"",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn questions_are_well_formed() {
        assert_eq!(super::NTP.len(), 48);
        // BER lengths: the message's, and the PDU's, hold what follows them.
        assert_eq!(usize::from(super::SNMP[1]), super::SNMP.len() - 2);
        assert_eq!(usize::from(super::SNMP[14]), super::SNMP.len() - 15);
        // DNS-shaped: a header of 12 bytes and one question, ending in its type and class.
        for q in [super::DNS, super::NETBIOS, super::MDNS] {
            assert_eq!(&q[4..6], &[0, 1]);
            assert!(q.len() > 16);
        }
        assert_eq!(super::payload(5353), super::MDNS);
        assert_eq!(super::payload(9999), b"");
    }
}
