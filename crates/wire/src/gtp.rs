//! GTP-U (3GPP TS 29.281): how a mobile core carries subscribers' IP
//! packets between base stations and gateways, on UDP port 2152. A mirror
//! of an S1-U/N3 link shows every phone's traffic inside it.

use crate::{be16, be32};

pub const PORT: u16 = 2152;
/// Message type of a G-PDU: a user packet (the others are signalling).
const G_PDU: u8 = 0xff;
/// Flags that add the 4-byte sequence/N-PDU/next-extension block.
const OPTIONAL_FIELDS: u8 = 0x07;
const EXTENSION: u8 = 0x04;
/// Extension headers in a row before we stop believing the header.
const MAX_EXTENSIONS: usize = 8;

/// A view of a GTP-U G-PDU header whose lengths were checked.
pub struct Header<'a> {
    buffer: &'a [u8],
    payload_start: usize,
    end: usize,
}

impl<'a> Header<'a> {
    /// `None` unless `buffer` starts with a GTPv1-U G-PDU whose lengths
    /// hold and whose payload is an IP packet; anything else on port 2152
    /// (echo requests, GTP' or plain UDP) stays an ordinary UDP flow.
    pub fn new_checked(buffer: &'a [u8]) -> Option<Self> {
        let flags = *buffer.first()?;
        // Version 1, protocol type 1 (GTP, not GTP'), reserved bit clear.
        if flags & 0xf8 != 0x30 || *buffer.get(1)? != G_PDU || buffer.len() < 8 {
            return None;
        }
        let end = 8 + usize::from(be16(buffer, 2));
        if end > buffer.len() {
            return None;
        }
        let mut at = 8;
        if flags & OPTIONAL_FIELDS != 0 {
            at += 4;
            let mut next = if flags & EXTENSION != 0 { *buffer.get(at - 1)? } else { 0 };
            let mut extensions = 0;
            while next != 0 {
                extensions += 1;
                let units = usize::from(*buffer.get(at)?);
                if units == 0 || extensions > MAX_EXTENSIONS {
                    return None;
                }
                at += units * 4;
                next = *buffer.get(at.checked_sub(1)?)?;
            }
        }
        if at >= end || !matches!(buffer[at] >> 4, 4 | 6) {
            return None;
        }
        Some(Header { buffer, payload_start: at, end })
    }

    /// The tunnel endpoint identifier: which bearer (subscriber session).
    pub fn teid(&self) -> u32 {
        be32(self.buffer, 4)
    }

    /// The subscriber's IP packet.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer[self.payload_start..self.end]
    }
}

/// A GTP-U G-PDU (3GPP TS 29.281) carrying `ip` on bearer `teid`; with
/// `pdu_session`, a sequence number and one PDU Session Container
/// extension header (TS 38.415: uplink or downlink, and the QoS flow id).
#[cfg(feature = "emit")]
pub fn emit(teid: u32, sequence: u16, pdu_session: Option<(bool, u8)>, ip: &[u8]) -> Vec<u8> {
    let mut optional = Vec::new();
    if let Some((uplink, qfi)) = pdu_session {
        optional.extend_from_slice(&sequence.to_be_bytes());
        optional.push(0); // N-PDU number
        optional.push(0x85); // next extension: PDU Session Container
        optional.extend_from_slice(&[1, if uplink { 0x10 } else { 0x00 }, qfi & 0x3f, 0]);
    }
    // Version 1, protocol type GTP, E and S when the extension is there.
    let flags = if pdu_session.is_some() { 0x36 } else { 0x30 };
    let mut g = vec![flags, 0xff];
    g.extend_from_slice(&crate::len16(optional.len() + ip.len()).to_be_bytes());
    g.extend_from_slice(&teid.to_be_bytes());
    g.extend_from_slice(&optional);
    g.extend_from_slice(ip);
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    const INNER: [u8; 4] = [0x45, 0, 0, 4];

    fn gpdu(flags: u8, optional: &[u8], inner: &[u8]) -> Vec<u8> {
        let len = crate::len16(optional.len() + inner.len());
        let mut v = vec![flags, G_PDU];
        v.extend_from_slice(&len.to_be_bytes());
        v.extend_from_slice(&0x0102_0304u32.to_be_bytes());
        v.extend_from_slice(optional);
        v.extend_from_slice(inner);
        v
    }

    #[test]
    fn reads_teid_and_payload_with_and_without_extensions() {
        let plain = gpdu(0x30, &[], &INNER);
        let h = Header::new_checked(&plain).unwrap();
        assert_eq!((h.teid(), h.payload()), (0x0102_0304, &INNER[..]));
        // Sequence number present, then a PDU session container (type 0x85,
        // one 4-byte unit) as 5G N3 links carry.
        let ext = gpdu(0x34, &[0, 7, 0, 0x85, 1, 0x10, 0x05, 0], &INNER);
        assert_eq!(Header::new_checked(&ext).unwrap().payload(), &INNER[..]);
    }

    #[test]
    fn other_messages_and_broken_lengths_are_not_tunnels() {
        let mut echo = gpdu(0x32, &[0, 1, 0, 0], &[]);
        echo[1] = 1; // Echo Request
        assert!(Header::new_checked(&echo).is_none());
        let mut gtp_prime = gpdu(0x30, &[], &INNER);
        gtp_prime[0] = 0x20;
        assert!(Header::new_checked(&gtp_prime).is_none());
        let mut long = gpdu(0x30, &[], &INNER);
        long[3] = 40;
        assert!(Header::new_checked(&long).is_none());
        let zero_unit = gpdu(0x34, &[0, 0, 0, 0x85, 0, 0, 0, 0], &INNER);
        assert!(Header::new_checked(&zero_unit).is_none());
        assert!(Header::new_checked(&gpdu(0x30, &[], b"\x00junk")).is_none(), "payload is not IP");
    }

    #[test]
    fn the_length_field_says_where_the_tunnelled_packet_ends() {
        for whole in [gpdu(0x30, &[], &INNER), gpdu(0x34, &[0, 7, 0, 0x85, 1, 0x10, 0x05, 0], &INNER)] {
            for cut in 0..whole.len() {
                assert!(Header::new_checked(&whole[..cut]).is_none(), "{cut} of {} bytes", whole.len());
            }
            assert_eq!(Header::new_checked(&whole).unwrap().payload(), &INNER[..]);
            // Bytes after the G-PDU (padding of the datagram) are not the packet's.
            let padded = [&whole[..], &[0; 6]].concat();
            assert_eq!(Header::new_checked(&padded).unwrap().payload(), &INNER[..]);
        }
    }
}
