//! GTP-U (3GPP TS 29.281): how a mobile core carries subscribers' IP
//! packets between base stations and gateways, on UDP port 2152. A mirror
//! of an S1-U/N3 link shows every phone's traffic inside it.

use crate::{DecodeError, be16, be32};

/// The IANA port of GTP-U, source and destination alike.
pub const PORT: u16 = 2152;
/// Message type of a G-PDU: a user packet (the others are signalling).
const G_PDU: u8 = 0xff;
/// Flags that add the 4-byte sequence/N-PDU/next-extension block.
const OPTIONAL_FIELDS: u8 = 0x07;
const EXTENSION: u8 = 0x04;
/// Extension headers in a row before we stop believing the header.
const MAX_EXTENSIONS: usize = 8;

mod field {
    use crate::Field;

    /// Version (3 bits), protocol type, a reserved bit, and the E, S and PN
    /// flags.
    pub const FLAGS: usize = 0;
    pub const MESSAGE_TYPE: usize = 1;
    /// The length of what follows the mandatory header.
    pub const LENGTH: Field = 2..4;
    pub const TEID: Field = 4..8;
    pub const SEQUENCE: Field = 8..10;
    /// The last byte of the optional block: the first extension's type.
    pub const NEXT_EXTENSION: usize = 11;
    pub const OPTIONAL_END: usize = 12;
}

/// The length of the mandatory GTP-U header.
pub const MIN_HEADER_LEN: usize = field::TEID.end;

/// Whether `buffer` starts with a GTPv1-U G-PDU: version 1, protocol type 1
/// (GTP, not GTP'), reserved bit clear, message type G-PDU. Echo requests
/// and the like, and other traffic on port 2152, are ordinary UDP.
pub fn probe(buffer: &[u8]) -> bool {
    match buffer {
        [flags, kind, ..] => flags & 0xf8 == 0x30 && *kind == G_PDU,
        _ => false,
    }
}

/// A view of a GTP-U header with its extension headers walked: it keeps
/// where the payload starts, so it has no `new_unchecked`.
#[derive(Debug, Clone, Copy)]
pub struct Header<T: AsRef<[u8]>> {
    buffer: T,
    payload_at: usize,
}

impl<T: AsRef<[u8]>> Header<T> {
    /// A view of `buffer`, once its header, optional fields and extension
    /// headers are all there.
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        let payload_at = walk(buffer.as_ref())?;
        Ok(Header { buffer, payload_at })
    }

    /// The buffer the view was made of.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The message type (0xff for a G-PDU).
    pub fn message_type(&self) -> u8 {
        self.buffer.as_ref()[field::MESSAGE_TYPE]
    }

    /// The tunnel endpoint identifier: which bearer (subscriber session).
    pub fn teid(&self) -> u32 {
        be32(self.buffer.as_ref(), field::TEID)
    }

    /// The sequence number, when the S flag says there is one.
    pub fn sequence(&self) -> Option<u16> {
        let b = self.buffer.as_ref();
        (b[field::FLAGS] & 0x02 != 0).then(|| be16(b, field::SEQUENCE))
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Header<&'a T> {
    /// The subscriber's packet: up to the length field, trusted only as far
    /// as it was captured (a snap length may cut it).
    pub fn payload(&self) -> &'a [u8] {
        let b = self.buffer.as_ref();
        &b[self.payload_at..end(b).max(self.payload_at)]
    }
}

/// Where the message ends by its length field, cut to what was captured.
fn end(b: &[u8]) -> usize {
    (MIN_HEADER_LEN + usize::from(be16(b, field::LENGTH))).min(b.len())
}

/// Checks the header and walks its extension headers to the payload.
fn walk(b: &[u8]) -> Result<usize, DecodeError> {
    if b.len() < MIN_HEADER_LEN {
        return Err(DecodeError::GtpTruncated);
    }
    let flags = b[field::FLAGS];
    if flags & OPTIONAL_FIELDS == 0 {
        return Ok(MIN_HEADER_LEN);
    }
    let mut at = field::OPTIONAL_END;
    let mut next = match b.get(field::NEXT_EXTENSION) {
        Some(&next) if flags & EXTENSION != 0 => next,
        Some(_) => 0,
        None => return Err(DecodeError::GtpTruncated),
    };
    let mut extensions = 0;
    while next != 0 {
        extensions += 1;
        // Each extension's first byte is its length in 4-byte units, its
        // last the next extension's type.
        let units = usize::from(*b.get(at).ok_or(DecodeError::GtpTruncated)?);
        if units == 0 || extensions > MAX_EXTENSIONS {
            return Err(DecodeError::GtpBadHeader);
        }
        at += units * 4;
        next = *b.get(at - 1).ok_or(DecodeError::GtpTruncated)?;
    }
    Ok(at)
}

/// What [`Repr::emit`] writes: a GTP-U G-PDU header; with `pdu_session`, a
/// sequence number and one PDU Session Container extension header (TS
/// 38.415).
#[cfg(feature = "emit")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// The bearer.
    pub teid: u32,
    /// The sequence number, written only with `pdu_session`.
    pub sequence: u16,
    /// (uplink, QoS flow id) of a PDU Session Container.
    pub pdu_session: Option<(bool, u8)>,
}

#[cfg(feature = "emit")]
impl Repr {
    /// The header, then `ip`.
    pub fn emit(&self, ip: &[u8]) -> Vec<u8> {
        let mut optional = Vec::new();
        if let Some((uplink, qfi)) = self.pdu_session {
            optional.extend_from_slice(&self.sequence.to_be_bytes());
            optional.push(0); // N-PDU number
            optional.push(0x85); // next extension: PDU Session Container
            optional.extend_from_slice(&[1, if uplink { 0x10 } else { 0x00 }, qfi & 0x3f, 0]);
        }
        // Version 1, protocol type GTP, E and S when the extension is there.
        let flags = if self.pdu_session.is_some() { 0x36 } else { 0x30 };
        let mut g = vec![flags, G_PDU];
        g.extend_from_slice(&crate::len16(optional.len() + ip.len()).to_be_bytes());
        g.extend_from_slice(&self.teid.to_be_bytes());
        g.extend_from_slice(&optional);
        g.extend_from_slice(ip);
        g
    }
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
        assert!(probe(&plain));
        let h = Header::new_checked(&plain).unwrap();
        assert_eq!((h.message_type(), h.teid(), h.sequence(), h.payload()), (G_PDU, 0x0102_0304, None, &INNER[..]));
        // Sequence number present, then a PDU session container (type 0x85,
        // one 4-byte unit) as 5G N3 links carry.
        let ext = gpdu(0x36, &[0, 7, 0, 0x85, 1, 0x10, 0x05, 0], &INNER);
        let h = Header::new_checked(&ext).unwrap();
        assert_eq!((h.sequence(), h.payload()), (Some(7), &INNER[..]));
    }

    #[test]
    fn a_length_past_the_capture_keeps_what_was_captured() {
        let mut long = gpdu(0x30, &[], &INNER);
        long[3] = 40;
        assert_eq!(Header::new_checked(&long).unwrap().payload(), &INNER[..]);
        let mut short = gpdu(0x30, &[], &INNER);
        short[3] = 2;
        assert_eq!(Header::new_checked(&short).unwrap().payload(), &INNER[..2], "the length ends the message");
    }

    #[test]
    fn other_messages_are_not_probed_and_broken_headers_are_errors() {
        let mut echo = gpdu(0x32, &[0, 1, 0, 0], &[]);
        echo[1] = 1; // Echo Request
        assert!(!probe(&echo));
        let mut gtp_prime = gpdu(0x30, &[], &INNER);
        gtp_prime[0] = 0x20;
        assert!(!probe(&gtp_prime) && !probe(&[0x30]));
        let zero_unit = gpdu(0x34, &[0, 0, 0, 0x85, 0, 0, 0, 0], &INNER);
        assert_eq!(Header::new_checked(&zero_unit).err(), Some(DecodeError::GtpBadHeader));
        let whole = gpdu(0x34, &[0, 7, 0, 0x85, 1, 0x10, 0x05, 0], &INNER);
        for cut in [0, 7, 8, 11, 12, 15] {
            assert_eq!(Header::new_checked(&whole[..cut]).err(), Some(DecodeError::GtpTruncated), "cut at {cut}");
        }
    }

    #[cfg(feature = "emit")]
    #[test]
    fn reads_what_repr_writes() {
        let g = Repr { teid: 9, sequence: 3, pdu_session: Some((true, 5)) }.emit(&INNER);
        assert!(probe(&g));
        let h = Header::new_checked(&g[..]).unwrap();
        assert_eq!((h.teid(), h.sequence(), h.payload()), (9, Some(3), &INNER[..]));
    }
}
