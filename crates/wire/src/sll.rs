//! Linux "cooked" capture headers (SLL v1 and v2), as written by
//! `tcpdump -i any`; both carry the protocol as an ethertype.

use crate::{DecodeError, be16};

mod field {
    use crate::{Field, Rest};

    /// SLL: packet type, ARPHRD type, address length, 8 address bytes,
    /// then the protocol.
    pub const V1_PACKET_TYPE: Field = 0..2;
    pub const V1_PROTOCOL: Field = 14..16;
    pub const V1_PAYLOAD: Rest = 16..;
    /// SLL2: the protocol first, then reserved bytes, interface index,
    /// ARPHRD type, packet type, address length and 8 address bytes.
    pub const V2_PROTOCOL: Field = 0..2;
    pub const V2_PACKET_TYPE: usize = 10;
    pub const V2_PAYLOAD: Rest = 20..;
}

/// A view of an SLL (v1, 16-byte) header.
#[derive(Debug, Clone, Copy)]
pub struct V1<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> V1<T> {
    /// A view of `buffer` as it is; the accessors panic if it is shorter
    /// than a header.
    pub const fn new_unchecked(buffer: T) -> Self {
        V1 { buffer }
    }

    /// A view of `buffer`, once it holds a whole header.
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        if buffer.as_ref().len() < field::V1_PAYLOAD.start {
            return Err(DecodeError::LinkTruncated);
        }
        Ok(V1 { buffer })
    }

    /// The buffer the view was made of.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Who the packet was for: 0 this host, 1 broadcast, 4 sent by it, ...
    pub fn packet_type(&self) -> u16 {
        be16(self.buffer.as_ref(), field::V1_PACKET_TYPE)
    }

    /// The payload's ethertype, or a Linux pseudo-protocol (up to 1500).
    pub fn protocol(&self) -> u16 {
        be16(self.buffer.as_ref(), field::V1_PROTOCOL)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> V1<&'a T> {
    /// The bytes after the header.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::V1_PAYLOAD]
    }
}

/// A view of an SLL2 (20-byte) header.
#[derive(Debug, Clone, Copy)]
pub struct V2<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> V2<T> {
    /// A view of `buffer` as it is; the accessors panic if it is shorter
    /// than a header.
    pub const fn new_unchecked(buffer: T) -> Self {
        V2 { buffer }
    }

    /// A view of `buffer`, once it holds a whole header.
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        if buffer.as_ref().len() < field::V2_PAYLOAD.start {
            return Err(DecodeError::LinkTruncated);
        }
        Ok(V2 { buffer })
    }

    /// The buffer the view was made of.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Who the packet was for: 0 this host, 1 broadcast, 4 sent by it, ...
    pub fn packet_type(&self) -> u8 {
        self.buffer.as_ref()[field::V2_PACKET_TYPE]
    }

    /// The payload's ethertype, or a Linux pseudo-protocol (up to 1500).
    pub fn protocol(&self) -> u16 {
        be16(self.buffer.as_ref(), field::V2_PROTOCOL)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> V2<&'a T> {
    /// The bytes after the header.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::V2_PAYLOAD]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_protocol_of_both_versions() {
        let mut v1 = [0u8; 17];
        v1[1] = 4;
        v1[14] = 0x86;
        v1[15] = 0xdd;
        let h = V1::new_checked(&v1).unwrap();
        assert_eq!((h.packet_type(), h.protocol(), h.payload().len()), (4, 0x86dd, 1));
        let mut v2 = [0u8; 21];
        v2[0] = 0x08;
        v2[10] = 1;
        let h = V2::new_checked(&v2).unwrap();
        assert_eq!((h.packet_type(), h.protocol(), h.payload().len()), (1, 0x0800, 1));
        assert_eq!(V1::new_checked(&v1[..15]).err(), Some(DecodeError::LinkTruncated));
        assert_eq!(V2::new_checked(&v2[..19]).err(), Some(DecodeError::LinkTruncated));
    }
}
