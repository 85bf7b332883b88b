//! PPPoE session frames (RFC 2516) and the PPP protocol field after them.

use crate::{DecodeError, be16};

pub const ETHERTYPE_SESSION: u16 = 0x8864;
pub const PPP_IPV4: u16 = 0x0021;
pub const PPP_IPV6: u16 = 0x0057;

/// PPPoE header (6 bytes) plus the 2-byte PPP protocol.
const HEADER_LEN: usize = 8;

/// A view of a PPPoE session frame.
pub struct Session<'a> {
    buffer: &'a [u8],
    /// End of the PPP payload: the PPPoE length, cut to what was captured.
    end: usize,
}

impl<'a> Session<'a> {
    pub fn new_checked(buffer: &'a [u8]) -> Result<Self, DecodeError> {
        if buffer.len() < HEADER_LEN {
            return Err(DecodeError::PppoeTruncated);
        }
        // Version 1, type 1, code 0 (session data); the length counts the
        // PPP protocol field, so it is at least 2.
        let len = usize::from(be16(buffer, 4));
        if buffer[0] != 0x11 || buffer[1] != 0 || len < 2 {
            return Err(DecodeError::PppoeBadHeader);
        }
        Ok(Session { buffer, end: (6 + len).min(buffer.len()) })
    }

    pub fn session_id(&self) -> u16 {
        be16(self.buffer, 2)
    }

    /// The PPP protocol: [`PPP_IPV4`], [`PPP_IPV6`], or link control.
    pub fn protocol(&self) -> u16 {
        be16(self.buffer, 6)
    }

    pub fn payload(&self) -> &'a [u8] {
        &self.buffer[HEADER_LEN..self.end]
    }
}

/// A PPPoE session frame's payload (RFC 2516): the PPPoE header and the PPP
/// protocol (IPv4 or IPv6, from the packet's version) before `ip`.
#[cfg(feature = "emit")]
pub fn emit(session: u16, ip: &[u8]) -> Vec<u8> {
    let protocol = if ip.first().is_some_and(|b| b >> 4 == 6) { PPP_IPV6 } else { PPP_IPV4 };
    let mut s = vec![0x11, 0x00];
    s.extend_from_slice(&session.to_be_bytes());
    s.extend_from_slice(&crate::len16(ip.len() + 2).to_be_bytes());
    s.extend_from_slice(&protocol.to_be_bytes());
    s.extend_from_slice(ip);
    s
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
}
