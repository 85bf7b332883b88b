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

/// What [`V1Repr::emit`] writes: an SLL header for a link-layer address of
/// 6 bytes (an Ethernet MAC).
#[cfg(feature = "emit")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V1Repr {
    /// Who the packet was for (0 this host, 4 sent by it, ...).
    pub packet_type: u16,
    /// The ARPHRD type of the interface (1: Ethernet).
    pub hatype: u16,
    /// The sender's link-layer address.
    pub address: [u8; 6],
    /// The payload's ethertype.
    pub protocol: u16,
}

#[cfg(feature = "emit")]
impl V1Repr {
    /// The header, then `payload`.
    pub fn emit(&self, payload: &[u8]) -> Vec<u8> {
        let mut f = Vec::with_capacity(field::V1_PAYLOAD.start + payload.len());
        f.extend_from_slice(&self.packet_type.to_be_bytes());
        f.extend_from_slice(&self.hatype.to_be_bytes());
        f.extend_from_slice(&6u16.to_be_bytes());
        f.extend_from_slice(&self.address);
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(&self.protocol.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }
}

/// What [`V2Repr::emit`] writes: an SLL2 header for a link-layer address of
/// 6 bytes (an Ethernet MAC).
#[cfg(feature = "emit")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V2Repr {
    /// The payload's ethertype.
    pub protocol: u16,
    /// The index of the interface the packet was captured on.
    pub interface: u32,
    /// The ARPHRD type of the interface (1: Ethernet).
    pub hatype: u16,
    /// Who the packet was for (0 this host, 4 sent by it, ...).
    pub packet_type: u8,
    /// The sender's link-layer address.
    pub address: [u8; 6],
}

#[cfg(feature = "emit")]
impl V2Repr {
    /// The header, then `payload`.
    pub fn emit(&self, payload: &[u8]) -> Vec<u8> {
        let mut f = Vec::with_capacity(field::V2_PAYLOAD.start + payload.len());
        f.extend_from_slice(&self.protocol.to_be_bytes());
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(&self.interface.to_be_bytes());
        f.extend_from_slice(&self.hatype.to_be_bytes());
        f.push(self.packet_type);
        f.push(6);
        f.extend_from_slice(&self.address);
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(payload);
        f
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

    #[cfg(feature = "emit")]
    #[test]
    fn reads_what_repr_writes() {
        let v1 = V1Repr { packet_type: 4, hatype: 1, address: [2; 6], protocol: 0x0800 }.emit(&[0x45]);
        let h = V1::new_checked(&v1[..]).unwrap();
        assert_eq!((h.packet_type(), h.protocol(), h.payload()), (4, 0x0800, &[0x45][..]));
        let v2 = V2Repr { protocol: 0x86dd, interface: 2, hatype: 1, packet_type: 0, address: [2; 6] }.emit(&[0x60]);
        let h = V2::new_checked(&v2[..]).unwrap();
        assert_eq!((h.packet_type(), h.protocol(), h.payload()), (0, 0x86dd, &[0x60][..]));
    }
}
