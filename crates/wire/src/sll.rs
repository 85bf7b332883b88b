//! Linux "cooked" capture headers (SLL v1 and v2), as written by
//! `tcpdump -i any`; both carry the protocol as an ethertype.

use crate::{DecodeError, be16};

/// A view of an SLL (16-byte) or SLL2 (20-byte) header.
pub struct Header<'a> {
    buffer: &'a [u8],
    v2: bool,
}

impl<'a> Header<'a> {
    pub fn new_checked(buffer: &'a [u8], v2: bool) -> Result<Self, DecodeError> {
        if buffer.len() < if v2 { 20 } else { 16 } {
            return Err(DecodeError::LinkTruncated);
        }
        Ok(Header { buffer, v2 })
    }

    /// The payload's ethertype (SLL: offset 14; SLL2: offset 0).
    pub fn protocol(&self) -> u16 {
        be16(self.buffer, if self.v2 { 0 } else { 14 })
    }

    pub fn payload(&self) -> &'a [u8] {
        &self.buffer[if self.v2 { 20 } else { 16 }..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_protocol_of_both_versions() {
        let mut v1 = [0u8; 17];
        v1[14] = 0x86;
        v1[15] = 0xdd;
        let h = Header::new_checked(&v1, false).unwrap();
        assert_eq!((h.protocol(), h.payload().len()), (0x86dd, 1));
        let mut v2 = [0u8; 21];
        v2[0] = 0x08;
        let h = Header::new_checked(&v2, true).unwrap();
        assert_eq!((h.protocol(), h.payload().len()), (0x0800, 1));
        assert!(Header::new_checked(&v1[..15], false).is_err());
    }
}
