//! Cisco HDLC frames: an address byte, a control byte and an ethertype, as
//! Cisco routers' serial and POS links (and captures of them) carry them.

use crate::{DecodeError, be16};

/// The address of a frame to one station.
pub const ADDRESS_UNICAST: u8 = 0x0f;
/// The address of a frame to every station (keepalives, ARP).
pub const ADDRESS_BROADCAST: u8 = 0x8f;
/// Serial Line ARP: keepalives and address discovery, not IP.
pub const PROTO_SLARP: u16 = 0x8035;

mod field {
    use crate::{Field, Rest};

    pub const ADDRESS: usize = 0;
    pub const CONTROL: usize = 1;
    pub const PROTOCOL: Field = 2..4;
    pub const PAYLOAD: Rest = 4..;
}

/// The length of a Cisco HDLC header.
pub const HEADER_LEN: usize = field::PAYLOAD.start;

/// Whether the first byte could start a Cisco HDLC frame: how a `PPP_HDLC`
/// link tells one from PPP, whose frames start with 0xff.
pub fn probe(buffer: &[u8]) -> bool {
    matches!(buffer.first(), Some(&(ADDRESS_UNICAST | ADDRESS_BROADCAST)))
}

/// A view of a Cisco HDLC header.
#[derive(Debug, Clone, Copy)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// A view of `buffer` as it is; the accessors panic if it is shorter
    /// than a header.
    pub const fn new_unchecked(buffer: T) -> Self {
        Frame { buffer }
    }

    /// A view of `buffer`, once it holds a header with a known address and
    /// a zero control byte.
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(DecodeError::ChdlcTruncated);
        }
        if !probe(b) || b[field::CONTROL] != 0 {
            return Err(DecodeError::ChdlcBadHeader);
        }
        Ok(Frame { buffer })
    }

    /// The buffer the view was made of.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Whether the frame was sent to every station.
    pub fn is_broadcast(&self) -> bool {
        self.buffer.as_ref()[field::ADDRESS] == ADDRESS_BROADCAST
    }

    /// The payload's ethertype.
    pub fn protocol(&self) -> u16 {
        be16(self.buffer.as_ref(), field::PROTOCOL)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Frame<&'a T> {
    /// The bytes after the header, borrowed for as long as the frame is.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::PAYLOAD]
    }
}

/// What [`Repr::emit`] writes: a unicast Cisco HDLC header.
#[cfg(feature = "emit")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// The payload's ethertype.
    pub protocol: u16,
}

#[cfg(feature = "emit")]
impl Repr {
    /// The header, then `payload`.
    pub fn emit(&self, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![ADDRESS_UNICAST, 0];
        f.extend_from_slice(&self.protocol.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }
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
        assert!(probe(&[0x0f]) && !probe(&[0xff, 0x03]) && !probe(&[]));
    }

    #[test]
    fn rejects_cut_and_foreign_headers() {
        assert_eq!(Frame::new_checked(&[0x0f, 0x00, 0x08]).err(), Some(DecodeError::ChdlcTruncated));
        assert_eq!(Frame::new_checked(&[0xff, 0x03, 0x00, 0x21]).err(), Some(DecodeError::ChdlcBadHeader));
        assert_eq!(Frame::new_checked(&[0x0f, 0x03, 0x08, 0x00]).err(), Some(DecodeError::ChdlcBadHeader));
    }

    #[cfg(feature = "emit")]
    #[test]
    fn reads_what_repr_writes() {
        let f = Repr { protocol: 0x0800 }.emit(&[0x45]);
        let frame = Frame::new_checked(&f[..]).unwrap();
        assert_eq!((frame.is_broadcast(), frame.protocol(), frame.payload()), (false, 0x0800, &[0x45][..]));
    }
}
