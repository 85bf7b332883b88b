//! PPP frames (RFC 1661), with or without the HDLC-like address and control
//! bytes of RFC 1662 and with either width of protocol field (protocol field
//! compression), as PPP links, L2TP sessions and capture files carry them.

use crate::{DecodeError, be16};

pub use crate::pppoe::{PPP_IPV4 as PROTO_IPV4, PPP_IPV6 as PROTO_IPV6};

/// RFC 1662's all-stations address and unnumbered-information control.
pub const ADDRESS_CONTROL: [u8; 2] = [0xff, 0x03];

/// A view of a PPP frame whose protocol field was checked.
pub struct Frame<'a> {
    buffer: &'a [u8],
    protocol: u16,
    payload_at: usize,
}

impl<'a> Frame<'a> {
    /// Skips the address and control bytes when they are there: no protocol
    /// starts with 0xff, so their presence is unambiguous.
    pub fn new_checked(buffer: &'a [u8]) -> Result<Self, DecodeError> {
        let at = if buffer.starts_with(&ADDRESS_CONTROL) { 2 } else { 0 };
        let first = *buffer.get(at).ok_or(DecodeError::PppTruncated)?;
        // Protocol numbers have the low bit of their high byte clear and of
        // their low byte set (RFC 1661 section 2): an odd first byte is a
        // whole, compressed one-byte protocol.
        if first & 1 == 1 {
            return Ok(Frame { buffer, protocol: u16::from(first), payload_at: at + 1 });
        }
        if buffer.len() < at + 2 {
            return Err(DecodeError::PppTruncated);
        }
        let protocol = be16(buffer, at);
        if protocol & 1 == 0 {
            return Err(DecodeError::PppBadHeader);
        }
        Ok(Frame { buffer, protocol, payload_at: at + 2 })
    }

    /// [`PROTO_IPV4`], [`PROTO_IPV6`], or a control protocol (LCP, IPCP, ...).
    pub fn protocol(&self) -> u16 {
        self.protocol
    }

    pub fn payload(&self) -> &'a [u8] {
        &self.buffer[self.payload_at..]
    }
}

/// A PPP frame in HDLC-like framing (address and control, then a
/// two-byte protocol: IPv4 or IPv6, from the packet's version) around `ip`.
#[cfg(feature = "emit")]
pub fn emit(ip: &[u8]) -> Vec<u8> {
    let protocol = if ip.first().is_some_and(|b| b >> 4 == 6) { PROTO_IPV6 } else { PROTO_IPV4 };
    let mut f = ADDRESS_CONTROL.to_vec();
    f.extend_from_slice(&protocol.to_be_bytes());
    f.extend_from_slice(ip);
    f
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
        let f = emit(&[0x60, 1]);
        let p = Frame::new_checked(&f).unwrap();
        assert_eq!((p.protocol(), p.payload()), (PROTO_IPV6, &[0x60, 1][..]));
    }
}
