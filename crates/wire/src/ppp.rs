//! PPP frames (RFC 1661), with or without the HDLC-like address and control
//! bytes of RFC 1662 and with either width of protocol field (protocol field
//! compression), as PPP links, L2TP sessions and capture files carry them.

use crate::{DecodeError, be16};

pub use crate::pppoe::{PPP_IPV4 as PROTO_IPV4, PPP_IPV6 as PROTO_IPV6};

/// RFC 1662's all-stations address and unnumbered-information control.
pub const ADDRESS_CONTROL: [u8; 2] = [0xff, 0x03];

mod field {
    use crate::Field;

    /// RFC 1662's address and control bytes, when the frame has them.
    pub const ADDRESS_CONTROL: Field = 0..2;
}

/// A view of a PPP frame.
#[derive(Debug, Clone, Copy)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// A view of `buffer` as it is; the accessors panic if its protocol
    /// field is cut.
    pub const fn new_unchecked(buffer: T) -> Self {
        Frame { buffer }
    }

    /// A view of `buffer`, once its protocol field is there and one RFC
    /// 1661 allows (the low bit of its high byte clear, of its low byte
    /// set). The address and control bytes may be there or not: no protocol
    /// starts with 0xff, so their presence is unambiguous.
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        let b = buffer.as_ref();
        let at = protocol_at(b);
        let first = *b.get(at).ok_or(DecodeError::PppTruncated)?;
        // An odd first byte is a whole, compressed one-byte protocol.
        if first & 1 == 0 {
            let protocol = b.get(at..at + 2).ok_or(DecodeError::PppTruncated)?;
            if protocol[1] & 1 == 0 {
                return Err(DecodeError::PppBadHeader);
            }
        }
        Ok(Frame { buffer })
    }

    /// The buffer the view was made of.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Whether the frame starts with RFC 1662's address and control bytes.
    pub fn has_address_control(&self) -> bool {
        protocol_at(self.buffer.as_ref()) != 0
    }

    /// [`PROTO_IPV4`], [`PROTO_IPV6`], or a control protocol (LCP, IPCP, ...).
    pub fn protocol(&self) -> u16 {
        let b = self.buffer.as_ref();
        let at = protocol_at(b);
        if b[at] & 1 == 1 { u16::from(b[at]) } else { be16(b, at..at + 2) }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Frame<&'a T> {
    /// The bytes after the protocol field.
    pub fn payload(&self) -> &'a [u8] {
        let b = self.buffer.as_ref();
        let at = protocol_at(b);
        &b[at + if b[at] & 1 == 1 { 1 } else { 2 }..]
    }
}

/// Where the protocol field starts: after the address and control bytes,
/// when they are there.
fn protocol_at(b: &[u8]) -> usize {
    if b.starts_with(&ADDRESS_CONTROL) { field::ADDRESS_CONTROL.end } else { 0 }
}

/// What [`Repr::emit`] writes: a PPP frame in HDLC-like framing (address
/// and control, then a two-byte protocol).
#[cfg(feature = "emit")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// The payload's protocol ([`PROTO_IPV4`], [`PROTO_IPV6`], ...).
    pub protocol: u16,
}

#[cfg(feature = "emit")]
impl Repr {
    /// The header, then `payload`.
    pub fn emit(&self, payload: &[u8]) -> Vec<u8> {
        let mut f = ADDRESS_CONTROL.to_vec();
        f.extend_from_slice(&self.protocol.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_and_protocol_compression_are_optional() {
        for (f, protocol, payload) in [
            (&[0xff, 0x03, 0x00, 0x21, 0x45][..], PROTO_IPV4, &[0x45][..]),
            (&[0x00, 0x57, 0x60][..], PROTO_IPV6, &[0x60][..]),
            (&[0xff, 0x03, 0x21, 0x45][..], PROTO_IPV4, &[0x45][..]),
            (&[0x21, 0x45][..], PROTO_IPV4, &[0x45][..]),
            (&[0xc0, 0x21, 1, 1][..], 0xc021, &[1, 1][..]),
        ] {
            let p = Frame::new_checked(f).unwrap();
            assert_eq!((p.protocol(), p.payload()), (protocol, payload), "{f:02x?}");
            assert_eq!(p.has_address_control(), f[0] == 0xff);
        }
    }

    #[test]
    fn cut_and_impossible_protocols_are_errors() {
        assert_eq!(Frame::new_checked(&[0xff, 0x03]).err(), Some(DecodeError::PppTruncated));
        assert_eq!(Frame::new_checked(&[0x00]).err(), Some(DecodeError::PppTruncated));
        assert_eq!(Frame::new_checked(&[0x00, 0x20, 0x45]).err(), Some(DecodeError::PppBadHeader));
        assert_eq!(Frame::new_checked(&[]).err(), Some(DecodeError::PppTruncated));
    }

    #[cfg(feature = "emit")]
    #[test]
    fn emit_round_trips() {
        let f = Repr { protocol: PROTO_IPV6 }.emit(&[0x60, 1]);
        let p = Frame::new_checked(&f[..]).unwrap();
        assert_eq!((p.protocol(), p.payload()), (PROTO_IPV6, &[0x60, 1][..]));
    }
}
