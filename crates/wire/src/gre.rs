//! GRE headers: RFC 2784, with the key and sequence number of RFC 2890.
//! Version 1 (PPTP's enhanced GRE, RFC 2637) is parsed for its length only:
//! its PPP payload is usually compressed or encrypted, so it is not opened.

use crate::{DecodeError, be16, be32};

/// Transparent Ethernet bridging: an Ethernet frame follows (NVGRE too).
pub const PROTO_TEB: u16 = 0x6558;
/// ERSPAN type I (no ERSPAN header) and type II (an 8-byte header).
pub const PROTO_ERSPAN_II: u16 = 0x88be;
/// ERSPAN type III (a 12-byte header and an optional subheader).
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

mod field {
    use crate::Field;

    /// The C, R, K, S, s and A flags, Reserved0 and the version.
    pub const FLAGS: Field = 0..2;
    /// The version's 3 bits, in the low bits of the second byte.
    pub const VERSION: usize = 1;
    pub const PROTOCOL: Field = 2..4;
    /// Checksum, key, sequence and acknowledgement words follow, in that
    /// order, each when its flag says.
    pub const OPTIONAL: usize = 4;
}

/// The length of a GRE header without optional words.
pub const MIN_HEADER_LEN: usize = field::OPTIONAL;

/// A view of a GRE header.
#[derive(Debug, Clone, Copy)]
pub struct Header<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Header<T> {
    /// A view of `buffer` as it is; the accessors panic if it is shorter
    /// than the words its flags announce.
    pub const fn new_unchecked(buffer: T) -> Self {
        Header { buffer }
    }

    /// A view of `buffer`, once its version is 0 (with no reserved bits
    /// set) or 1, and it holds the optional words its flags announce.
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        let b = buffer.as_ref();
        if b.len() < MIN_HEADER_LEN {
            return Err(DecodeError::GreTruncated);
        }
        let flags = be16(b, field::FLAGS);
        match flags & 0x7 {
            0 if flags & RESERVED0 != 0 => return Err(DecodeError::GreBadHeader),
            0 | 1 => {}
            _ => return Err(DecodeError::GreBadHeader),
        }
        if b.len() < header_len(flags) {
            return Err(DecodeError::GreTruncated);
        }
        Ok(Header { buffer })
    }

    /// The buffer the view was made of.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// 0 for GRE proper, 1 for PPTP.
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VERSION] & 0x7
    }

    /// The payload's ethertype.
    pub fn protocol(&self) -> u16 {
        be16(self.buffer.as_ref(), field::PROTOCOL)
    }

    fn flags(&self) -> u16 {
        be16(self.buffer.as_ref(), field::FLAGS)
    }

    /// The key (RFC 2890), after the checksum word when there is one.
    pub fn key(&self) -> Option<u32> {
        let flags = self.flags();
        let at = field::OPTIONAL + 4 * usize::from(flags & CHECKSUM != 0);
        (flags & KEY != 0).then(|| be32(self.buffer.as_ref(), at..at + 4))
    }

    /// The sequence number (RFC 2890), after the checksum and key words.
    pub fn sequence(&self) -> Option<u32> {
        let flags = self.flags();
        let at = field::OPTIONAL + 4 * usize::from(flags & CHECKSUM != 0) + 4 * usize::from(flags & KEY != 0);
        (flags & SEQUENCE != 0).then(|| be32(self.buffer.as_ref(), at..at + 4))
    }

    /// The header's length with its optional words.
    pub fn header_len(&self) -> usize {
        header_len(self.flags())
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Header<&'a T> {
    /// The bytes after the header: what [`protocol`](Header::protocol) names.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[header_len(self.flags())..]
    }
}

/// The header length `flags` announce: a word for each of the checksum,
/// key and sequence number, and (version 1) the acknowledgement number.
fn header_len(flags: u16) -> usize {
    let ack = flags & 0x7 == 1 && flags & ACK != 0;
    let words = [flags & CHECKSUM != 0, flags & KEY != 0, flags & SEQUENCE != 0, ack];
    MIN_HEADER_LEN + 4 * words.iter().filter(|&&present| present).count()
}

/// What [`Repr::emit`] writes: a GRE header (version 0) with the optional
/// fields of RFC 2784 and RFC 2890.
#[cfg(feature = "emit")]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Repr {
    /// Computes and sends the checksum word (C).
    pub checksum: bool,
    /// The key word (K).
    pub key: Option<u32>,
    /// The sequence number word (S).
    pub sequence: Option<u32>,
    /// The payload's ethertype.
    pub protocol: u16,
}

#[cfg(feature = "emit")]
impl Repr {
    /// The header, then `payload`.
    pub fn emit(&self, payload: &[u8]) -> Vec<u8> {
        let mut flags = 0u16;
        if self.checksum {
            flags |= CHECKSUM;
        }
        if self.key.is_some() {
            flags |= KEY;
        }
        if self.sequence.is_some() {
            flags |= SEQUENCE;
        }
        let mut g = Vec::with_capacity(16 + payload.len());
        g.extend_from_slice(&flags.to_be_bytes());
        g.extend_from_slice(&self.protocol.to_be_bytes());
        if self.checksum {
            g.extend_from_slice(&[0, 0, 0, 0]); // checksum, reserved1
        }
        for word in [self.key, self.sequence].into_iter().flatten() {
            g.extend_from_slice(&word.to_be_bytes());
        }
        g.extend_from_slice(payload);
        if self.checksum {
            let sum = crate::checksum::checksum(&[&g]);
            g[4..6].copy_from_slice(&sum.to_be_bytes());
        }
        g
    }
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

    #[cfg(feature = "emit")]
    #[test]
    fn reads_what_repr_writes() {
        let g = Repr { checksum: true, key: Some(5), sequence: Some(6), protocol: PROTO_TEB }.emit(&[0xee]);
        let h = Header::new_checked(&g[..]).unwrap();
        assert_eq!((h.version(), h.protocol(), h.key(), h.sequence()), (0, PROTO_TEB, Some(5), Some(6)));
        assert_eq!((h.header_len(), h.payload()), (16, &[0xee][..]));
        assert_eq!(crate::checksum::checksum(&[&g]), 0);
    }
}
