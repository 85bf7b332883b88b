//! STUN messages (RFC 8489, formerly RFC 5389; TURN's additions in RFC
//! 8656): the 20-byte header with the magic cookie, and the attributes that
//! follow it. Zero-copy: a [`Message`] borrows the datagram.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |0 0|     STUN Message Type     |         Message Length        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                         Magic Cookie                          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                     Transaction ID (96 bits)                  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use crate::reader::Reader;

/// Field offsets of the header (the cookie follows at 4..8).
mod field {
    use std::ops::Range;
    pub const TYPE: Range<usize> = 0..2;
    pub const LENGTH: Range<usize> = 2..4;
    pub const HEADER_LEN: usize = 20;
}

/// RFC 8489 section 5: distinguishes STUN from other protocols on the port.
pub const MAGIC_COOKIE: u32 = 0x2112_a442;
/// The SOFTWARE attribute: the agent's name and version.
pub const ATTR_SOFTWARE: u16 = 0x8022;

/// The comprehension-optional attributes the IETF defined (RFC 8489, 8445,
/// 8656, 5780, 7635, 8016): anything else at 0x8000 and above is a vendor's.
const STANDARD_OPTIONAL: [u16; 10] = [0x8000, 0x8001, 0x8022, 0x8023, 0x8027, 0x8028, 0x8029, 0x802a, 0x802b, 0x802c];

/// Why bytes are not a STUN message.
pub use crate::reader::Malformed;

/// A STUN message over a byte slice, its header validated.
#[derive(Debug, Clone, Copy)]
pub struct Message<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Message<T> {
    /// Checks the header: the two zero bits, the magic cookie, and a length
    /// that is a multiple of four and fits the buffer.
    pub fn new_checked(buffer: T) -> Result<Self, Malformed> {
        let b = buffer.as_ref();
        let Some(&[t0, t1, l0, l1, c0, c1, c2, c3, ..]) = b.get(..field::HEADER_LEN) else { return Err(Malformed) };
        let message_type = u16::from_be_bytes([t0, t1]);
        let length = usize::from(u16::from_be_bytes([l0, l1]));
        let cookie = [c0, c1, c2, c3];
        if message_type & 0xc000 != 0 || u32::from_be_bytes(cookie) != MAGIC_COOKIE || length % 4 != 0 {
            return Err(Malformed);
        }
        if b.len() < field::HEADER_LEN + length {
            return Err(Malformed);
        }
        Ok(Message { buffer })
    }

    /// Header plus attributes: the bytes this message occupies.
    pub fn total_len(&self) -> usize {
        field::HEADER_LEN + usize::from(self.be16(field::LENGTH.start))
    }

    /// The method (Binding 0x001, TURN Allocate 0x003, ...), its class bits
    /// removed.
    pub fn method(&self) -> u16 {
        let t = self.be16(field::TYPE.start);
        (t & 0x000f) | ((t & 0x00e0) >> 1) | ((t & 0x3e00) >> 2)
    }

    /// The attributes, in order; stops at the first that does not fit.
    pub fn attributes(&self) -> Attributes<'_> {
        let b = self.buffer.as_ref();
        Attributes { rest: b.get(field::HEADER_LEN..self.total_len()).unwrap_or(&[]) }
    }

    fn be16(&self, at: usize) -> u16 {
        let b = self.buffer.as_ref();
        match b.get(at..at + 2) {
            Some(&[hi, lo]) => u16::from_be_bytes([hi, lo]),
            _ => 0,
        }
    }
}

/// One attribute: its type and value (without padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribute<'a> {
    pub kind: u16,
    pub value: &'a [u8],
}

impl Attribute<'_> {
    /// Whether a vendor, not the IETF, defined this attribute.
    pub fn is_vendor_specific(&self) -> bool {
        self.kind >= 0x8000 && !STANDARD_OPTIONAL.contains(&self.kind)
    }
}

/// Iterator over a message's attributes.
#[derive(Debug, Clone)]
pub struct Attributes<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Attributes<'a> {
    type Item = Attribute<'a>;

    fn next(&mut self) -> Option<Attribute<'a>> {
        let mut r = Reader::new(self.rest);
        let kind = r.be16().ok()?;
        let value = r.vec16().ok()?;
        // Values are padded to a multiple of four bytes; padding cut short
        // ends the message.
        let padding = value.len().next_multiple_of(4) - value.len();
        self.rest = if r.skip(padding).is_ok() { r.rest() } else { &[] };
        Some(Attribute { kind, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Binding request with SOFTWARE "Skype" and Microsoft's MS-VERSION
    /// (0x8008) attribute.
    fn binding() -> Vec<u8> {
        let mut attrs = Vec::new();
        attrs.extend_from_slice(&[0x80, 0x22, 0x00, 0x05]);
        attrs.extend_from_slice(b"Skype\0\0\0");
        attrs.extend_from_slice(&[0x80, 0x08, 0x00, 0x04, 0, 0, 0, 6]);
        let mut m = vec![0x00, 0x01];
        m.extend_from_slice(&u16::try_from(attrs.len()).unwrap().to_be_bytes());
        m.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        m.extend_from_slice(&[7; 12]);
        m.extend_from_slice(&attrs);
        m
    }

    #[test]
    fn reads_the_header_and_attributes() {
        let bytes = binding();
        let m = Message::new_checked(&bytes[..]).unwrap();
        assert_eq!(m.method(), 0x001);
        assert_eq!(m.total_len(), bytes.len());
        let attrs: Vec<_> = m.attributes().collect();
        assert_eq!(attrs[0], Attribute { kind: ATTR_SOFTWARE, value: b"Skype" });
        assert_eq!(attrs[1].kind, 0x8008);
        assert!(attrs[1].is_vendor_specific() && !attrs[0].is_vendor_specific());
    }

    #[test]
    fn rejects_what_is_not_stun() {
        let mut no_cookie = binding();
        no_cookie[4] = 0;
        assert_eq!(Message::new_checked(&no_cookie[..]).err(), Some(Malformed));
        let mut rtp = binding();
        rtp[0] = 0x80;
        assert_eq!(Message::new_checked(&rtp[..]).err(), Some(Malformed), "RTP's version bits are set");
        let long = binding();
        assert_eq!(Message::new_checked(&long[..long.len() - 1]).err(), Some(Malformed));
    }

    #[test]
    fn never_panics_on_any_prefix_or_mutation() {
        let bytes = binding();
        for end in 0..=bytes.len() {
            if let Ok(m) = Message::new_checked(&bytes[..end]) {
                let _ = m.attributes().count();
            }
        }
        for i in 0..bytes.len() {
            for v in [0u8, 0xff, 0x7f] {
                let mut b = bytes.clone();
                b[i] = v;
                if let Ok(m) = Message::new_checked(&b[..]) {
                    let _ = (m.method(), m.attributes().count());
                }
            }
        }
    }
}
