//! GRE headers: RFC 2784, with the key and sequence number of RFC 2890.
//! Version 1 (PPTP's enhanced GRE, RFC 2637) is parsed for its length only:
//! its PPP payload is usually compressed or encrypted, so it is not opened.

use crate::{DecodeError, be16, be32};

/// Transparent Ethernet bridging: an Ethernet frame follows (NVGRE too).
pub const PROTO_TEB: u16 = 0x6558;
/// ERSPAN type I (no ERSPAN header) and type II (an 8-byte header).
pub const PROTO_ERSPAN_II: u16 = 0x88be;
pub const PROTO_ERSPAN_III: u16 = 0x22eb;
/// GRE-in-UDP (RFC 8086): a GRE header, then its payload, in a datagram to
/// this port (the source port carries the inner flow's entropy).
pub const UDP_PORT: u16 = 4754;

const CHECKSUM: u16 = 0x8000;
const KEY: u16 = 0x2000;
const SEQUENCE: u16 = 0x1000;
/// PPTP's acknowledgement-number-present flag (version 1 only).
const ACK: u16 = 0x0080;
/// RFC 1701's routing, strict source route and recursion bits and the rest
/// of Reserved0: RFC 2784 tells receivers to discard version 0 packets with
/// any of them set.
const RESERVED0: u16 = 0x4ff8;

/// A view of a GRE header whose optional fields were length-checked.
pub struct Header<'a> {
    buffer: &'a [u8],
    header_len: usize,
}

impl<'a> Header<'a> {
    pub fn new_checked(buffer: &'a [u8]) -> Result<Self, DecodeError> {
        if buffer.len() < 4 {
            return Err(DecodeError::GreTruncated);
        }
        let flags = be16(buffer, 0);
        let ack = match flags & 0x7 {
            0 if flags & RESERVED0 != 0 => return Err(DecodeError::GreBadHeader),
            0 => false,
            1 => flags & ACK != 0,
            _ => return Err(DecodeError::GreBadHeader),
        };
        let words = [flags & CHECKSUM != 0, flags & KEY != 0, flags & SEQUENCE != 0, ack];
        let header_len = 4 + 4 * words.iter().filter(|&&present| present).count();
        if buffer.len() < header_len {
            return Err(DecodeError::GreTruncated);
        }
        Ok(Header { buffer, header_len })
    }

    /// 0 for GRE proper, 1 for PPTP.
    pub fn version(&self) -> u8 {
        self.buffer[1] & 0x7
    }

    /// The payload's ethertype.
    pub fn protocol(&self) -> u16 {
        be16(self.buffer, 2)
    }

    fn flag(&self, bit: u16) -> bool {
        be16(self.buffer, 0) & bit != 0
    }

    /// The key (RFC 2890), after the checksum word when there is one.
    pub fn key(&self) -> Option<u32> {
        let at = if self.flag(CHECKSUM) { 8 } else { 4 };
        self.flag(KEY).then(|| be32(self.buffer, at))
    }

    /// The sequence number (RFC 2890), after the checksum and key words.
    pub fn sequence(&self) -> Option<u32> {
        let at = 4 + 4 * usize::from(self.flag(CHECKSUM)) + 4 * usize::from(self.flag(KEY));
        self.flag(SEQUENCE).then(|| be32(self.buffer, at))
    }

    pub fn payload(&self) -> &'a [u8] {
        &self.buffer[self.header_len..]
    }
}

/// A GRE header (version 0) carrying `protocol`, then `payload`.
#[cfg(feature = "emit")]
pub fn emit(fields: GreFields, protocol: u16, payload: &[u8]) -> Vec<u8> {
    let mut flags = 0u16;
    if fields.checksum {
        flags |= 0x8000;
    }
    if fields.key.is_some() {
        flags |= 0x2000;
    }
    if fields.sequence.is_some() {
        flags |= 0x1000;
    }
    let mut g = Vec::with_capacity(16 + payload.len());
    g.extend_from_slice(&flags.to_be_bytes());
    g.extend_from_slice(&protocol.to_be_bytes());
    if fields.checksum {
        g.extend_from_slice(&[0, 0, 0, 0]); // checksum, reserved1
    }
    for word in [fields.key, fields.sequence].into_iter().flatten() {
        g.extend_from_slice(&word.to_be_bytes());
    }
    g.extend_from_slice(payload);
    if fields.checksum {
        let sum = crate::checksum::checksum(&[&g]);
        g[4..6].copy_from_slice(&sum.to_be_bytes());
    }
    g
}

/// The optional fields of a GRE header (RFC 2784, RFC 2890).
#[cfg(feature = "emit")]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GreFields {
    /// Computes and sends the checksum word (C).
    pub checksum: bool,
    pub key: Option<u32>,
    pub sequence: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_words_move_the_payload() {
        let plain = [0x00, 0x00, 0x08, 0x00, 0x45];
        let h = Header::new_checked(&plain).unwrap();
        assert_eq!(
            (h.version(), h.protocol(), h.key(), h.sequence(), h.payload()),
            (0, 0x0800, None, None, &[0x45][..])
        );

        // C, K and S: checksum word, key 0x01020304, sequence 9.
        let all = [0xb0, 0x00, 0x65, 0x58, 0xaa, 0xbb, 0, 0, 1, 2, 3, 4, 0, 0, 0, 9, 0xee];
        let h = Header::new_checked(&all).unwrap();
        assert_eq!(
            (h.protocol(), h.key(), h.sequence(), h.payload()),
            (PROTO_TEB, Some(0x0102_0304), Some(9), &[0xee][..])
        );

        // S alone: the sequence number directly after the first word.
        let seq = [0x10, 0x00, 0x88, 0xbe, 0, 0, 0, 7];
        let h = Header::new_checked(&seq).unwrap();
        assert_eq!((h.key(), h.sequence(), h.payload().len()), (None, Some(7), 0));
    }

    #[test]
    fn pptp_acknowledgement_is_part_of_the_header() {
        // Version 1, K, S and A: key, sequence and acknowledgement words.
        let pptp = [0x30, 0x81, 0x88, 0x0b, 0, 4, 0, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0xff, 0x03];
        let h = Header::new_checked(&pptp).unwrap();
        assert_eq!((h.version(), h.payload()), (1, &[0xff, 0x03][..]));
    }

    #[test]
    fn rejects_reserved_bits_versions_and_truncation() {
        assert_eq!(Header::new_checked(&[0x00, 0x00, 0x08]).err(), Some(DecodeError::GreTruncated));
        assert_eq!(Header::new_checked(&[0x20, 0x00, 0x08, 0x00, 0, 0, 0]).err(), Some(DecodeError::GreTruncated));
        assert_eq!(
            Header::new_checked(&[0x40, 0x00, 0x08, 0x00]).err(),
            Some(DecodeError::GreBadHeader),
            "RFC 1701 routing"
        );
        assert_eq!(Header::new_checked(&[0x00, 0x02, 0x08, 0x00]).err(), Some(DecodeError::GreBadHeader), "version 2");
        assert_eq!(Header::new_checked(&[0x00, 0x08, 0x08, 0x00]).err(), Some(DecodeError::GreBadHeader), "reserved0");
    }
}
