//! PPPoE session frames (RFC 2516) and the PPP protocol field after them.

use crate::{DecodeError, be16};

/// The ethertype of PPPoE session frames (discovery is 0x8863).
pub const ETHERTYPE_SESSION: u16 = 0x8864;
/// The PPP protocol number of IPv4.
pub const PPP_IPV4: u16 = 0x0021;
/// The PPP protocol number of IPv6.
pub const PPP_IPV6: u16 = 0x0057;

mod field {
    use crate::{Field, Rest};

    /// Version and type, 4 bits each.
    pub const VER_TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const SESSION_ID: Field = 2..4;
    /// The length of what follows the PPPoE header, PPP protocol included.
    pub const LENGTH: Field = 4..6;
    pub const PPP_PROTOCOL: Field = 6..8;
    pub const PAYLOAD: Rest = 8..;
}

/// The PPPoE header (6 bytes) plus the 2-byte PPP protocol.
pub const HEADER_LEN: usize = field::PAYLOAD.start;
/// What the length field counts from.
const LENGTH_FROM: usize = field::PPP_PROTOCOL.start;

/// A view of a PPPoE session frame.
#[derive(Debug, Clone, Copy)]
pub struct Session<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Session<T> {
    /// A view of `buffer` as it is; the accessors panic if it is shorter
    /// than a header, and `payload` if its length field is below 2.
    pub const fn new_unchecked(buffer: T) -> Self {
        Session { buffer }
    }

    /// A view of `buffer`, once it holds a header of version 1, type 1 and
    /// code 0 (session data) whose length counts the PPP protocol field.
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(DecodeError::PppoeTruncated);
        }
        if b[field::VER_TYPE] != 0x11 || b[field::CODE] != 0 || be16(b, field::LENGTH) < 2 {
            return Err(DecodeError::PppoeBadHeader);
        }
        Ok(Session { buffer })
    }

    /// The buffer the view was made of.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The session the frame belongs to.
    pub fn session_id(&self) -> u16 {
        be16(self.buffer.as_ref(), field::SESSION_ID)
    }

    /// The PPP protocol: [`PPP_IPV4`], [`PPP_IPV6`], or link control.
    pub fn protocol(&self) -> u16 {
        be16(self.buffer.as_ref(), field::PPP_PROTOCOL)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Session<&'a T> {
    /// The PPP payload, up to the PPPoE length (trusted only as far as it
    /// was captured, and ending before any Ethernet padding).
    pub fn payload(&self) -> &'a [u8] {
        let b = self.buffer.as_ref();
        &b[HEADER_LEN..(LENGTH_FROM + usize::from(be16(b, field::LENGTH))).min(b.len())]
    }
}

/// What [`Repr::emit`] writes: a PPPoE session header and the PPP
/// protocol (IPv4 or IPv6, from the packet's version).
#[cfg(feature = "emit")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// The session id.
    pub session: u16,
}

#[cfg(feature = "emit")]
impl Repr {
    /// The header, then `ip`.
    pub fn emit(&self, ip: &[u8]) -> Vec<u8> {
        let protocol = if ip.first().is_some_and(|b| b >> 4 == 6) { PPP_IPV6 } else { PPP_IPV4 };
        let mut s = vec![0x11, 0x00];
        s.extend_from_slice(&self.session.to_be_bytes());
        s.extend_from_slice(&crate::len16(ip.len() + 2).to_be_bytes());
        s.extend_from_slice(&protocol.to_be_bytes());
        s.extend_from_slice(ip);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_session_and_trims_padding() {
        let f = [0x11, 0x00, 0x12, 0x34, 0x00, 0x03, 0x00, 0x21, 0x45, 0, 0];
        let s = Session::new_checked(&f).unwrap();
        assert_eq!((s.session_id(), s.protocol(), s.payload()), (0x1234, PPP_IPV4, &[0x45][..]));
        assert_eq!(Session::new_checked(&f[..7]).err(), Some(DecodeError::PppoeTruncated));
        let mut discovery = f;
        discovery[1] = 0x09; // PADI
        assert_eq!(Session::new_checked(&discovery).err(), Some(DecodeError::PppoeBadHeader));
        let mut short = f;
        short[5] = 1;
        assert_eq!(Session::new_checked(&short).err(), Some(DecodeError::PppoeBadHeader));
    }

    #[cfg(feature = "emit")]
    #[test]
    fn reads_what_repr_writes() {
        let f = Repr { session: 7 }.emit(&[0x60, 0]);
        let s = Session::new_checked(&f[..]).unwrap();
        assert_eq!((s.session_id(), s.protocol(), s.payload()), (7, PPP_IPV6, &[0x60, 0][..]));
    }
}
