//! Cisco HDLC frames: an address byte, a control byte and an ethertype, as
//! Cisco routers' serial and POS links (and captures of them) carry them.

use crate::{DecodeError, be16};

pub const ADDRESS_UNICAST: u8 = 0x0f;
pub const ADDRESS_BROADCAST: u8 = 0x8f;
/// Serial Line ARP: keepalives and address discovery, not IP.
pub const PROTO_SLARP: u16 = 0x8035;

const HEADER_LEN: usize = 4;

/// A view of a Cisco HDLC header, checked once at construction.
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(DecodeError::ChdlcTruncated);
        }
        if !matches!(b[0], ADDRESS_UNICAST | ADDRESS_BROADCAST) || b[1] != 0 {
            return Err(DecodeError::ChdlcBadHeader);
        }
        Ok(Frame { buffer })
    }

    pub fn is_broadcast(&self) -> bool {
        self.buffer.as_ref()[0] == ADDRESS_BROADCAST
    }

    /// The payload's ethertype.
    pub fn protocol(&self) -> u16 {
        be16(self.buffer.as_ref(), 2)
    }
}

impl Frame<&[u8]> {
    /// Whether the first byte could start a Cisco HDLC frame: how a
    /// `PPP_HDLC` link tells one from PPP, whose frames start with 0xff.
    pub fn starts(buffer: &[u8]) -> bool {
        matches!(buffer.first(), Some(&(ADDRESS_UNICAST | ADDRESS_BROADCAST)))
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Frame<&'a T> {
    /// The bytes after the header, borrowed for as long as the frame is.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

/// A unicast Cisco HDLC frame carrying `protocol`.
#[cfg(feature = "emit")]
pub fn emit(protocol: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![ADDRESS_UNICAST, 0];
    f.extend_from_slice(&protocol.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_address_and_protocol() {
        let f = Frame::new_checked(&[0x8f, 0x00, 0x80, 0x35, 0, 0, 0, 2]).unwrap();
        assert_eq!((f.is_broadcast(), f.protocol(), f.payload().len()), (true, PROTO_SLARP, 4));
        let f = Frame::new_checked(&[0x0f, 0x00, 0x86, 0xdd, 0x60]).unwrap();
        assert_eq!((f.is_broadcast(), f.protocol(), f.payload()), (false, 0x86dd, &[0x60][..]));
        assert!(Frame::starts(&[0x0f]) && !Frame::starts(&[0xff, 0x03]));
    }

    #[test]
    fn rejects_cut_and_foreign_headers() {
        assert_eq!(Frame::new_checked(&[0x0f, 0x00, 0x08]).err(), Some(DecodeError::ChdlcTruncated));
        assert_eq!(Frame::new_checked(&[0xff, 0x03, 0x00, 0x21]).err(), Some(DecodeError::ChdlcBadHeader));
        assert_eq!(Frame::new_checked(&[0x0f, 0x03, 0x08, 0x00]).err(), Some(DecodeError::ChdlcBadHeader));
    }
}
