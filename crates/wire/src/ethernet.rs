//! Ethernet II frames and their 802.1Q / 802.1ad VLAN tags.

use crate::{DecodeError, array, be16};

/// IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// 802.1Q customer tag.
pub const TPID_8021Q: u16 = 0x8100;
/// 802.1ad service tag (the outer tag of QinQ).
pub const TPID_8021AD: u16 = 0x88a8;
/// The pre-standard QinQ tag.
pub const TPID_QINQ: u16 = 0x9100;
/// 802.1Q customer tag, 802.1ad service tag, and the pre-standard QinQ tag.
pub const VLAN_TPIDS: [u16; 3] = [TPID_8021Q, TPID_8021AD, TPID_QINQ];

mod field {
    use crate::{Field, Rest};

    pub const DST: Field = 0..6;
    pub const SRC: Field = 6..12;
    pub const ETHERTYPE: Field = 12..14;
    pub const PAYLOAD: Rest = 14..;

    /// A VLAN tag: TCI (priority, DEI, VLAN id), then the next ethertype.
    pub const TAG_TCI: Field = 0..2;
    pub const TAG_ETHERTYPE: Field = 2..4;
    pub const TAG_PAYLOAD: Rest = 4..;
}

/// The length of an Ethernet II header.
pub const HEADER_LEN: usize = field::PAYLOAD.start;
/// The length of a VLAN tag.
pub const TAG_LEN: usize = field::TAG_PAYLOAD.start;

/// A view of an Ethernet II header.
#[derive(Debug, Clone, Copy)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// A view of `buffer` as it is; the accessors panic if it is shorter
    /// than a header.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        Frame { buffer }
    }

    /// A view of `buffer`, once it holds a whole header.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(DecodeError::EthernetTruncated);
        }
        Ok(Frame { buffer })
    }

    /// The buffer the view was made of.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The destination MAC address.
    #[inline]
    pub fn dst(&self) -> [u8; 6] {
        array(self.buffer.as_ref(), field::DST)
    }

    /// The source MAC address.
    #[inline]
    pub fn src(&self) -> [u8; 6] {
        array(self.buffer.as_ref(), field::SRC)
    }

    /// The ethertype, or an 802.3 length (values up to 1500).
    #[inline]
    pub fn ethertype(&self) -> u16 {
        be16(self.buffer.as_ref(), field::ETHERTYPE)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Frame<&'a T> {
    /// The bytes after the header, borrowed for as long as the frame is.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::PAYLOAD]
    }
}

/// One VLAN tag: TCI (priority, DEI, VLAN id) and the next ethertype.
#[derive(Debug, Clone, Copy)]
pub struct Tag<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Tag<T> {
    /// A view of `buffer` as it is; the accessors panic if it is shorter
    /// than a tag.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        Tag { buffer }
    }

    /// A view of `buffer`, once it holds a whole tag.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        if buffer.as_ref().len() < TAG_LEN {
            return Err(DecodeError::VlanTruncated);
        }
        Ok(Tag { buffer })
    }

    /// The buffer the view was made of.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The VLAN id (the TCI's low 12 bits).
    #[inline]
    pub fn vlan_id(&self) -> u16 {
        be16(self.buffer.as_ref(), field::TAG_TCI) & 0x0fff
    }

    /// The ethertype of what follows the tag.
    #[inline]
    pub fn ethertype(&self) -> u16 {
        be16(self.buffer.as_ref(), field::TAG_ETHERTYPE)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Tag<&'a T> {
    /// The bytes after the tag, borrowed for as long as the tag is.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::TAG_PAYLOAD]
    }
}

/// What [`Repr::emit`] writes: an Ethernet II header with its VLAN tags.
#[cfg(feature = "emit")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr<'a> {
    /// The destination MAC address.
    pub dst: [u8; 6],
    /// The source MAC address.
    pub src: [u8; 6],
    /// (TPID, VLAN id), outermost first.
    pub tags: &'a [(u16, u16)],
    /// The ethertype of the payload.
    pub ethertype: u16,
}

#[cfg(feature = "emit")]
impl Repr<'_> {
    /// The header, then `payload`.
    pub fn emit(&self, payload: &[u8]) -> Vec<u8> {
        let mut f = Vec::with_capacity(HEADER_LEN + TAG_LEN * self.tags.len() + payload.len());
        f.extend_from_slice(&self.dst);
        f.extend_from_slice(&self.src);
        for &(tpid, id) in self.tags {
            f.extend_from_slice(&tpid.to_be_bytes());
            f.extend_from_slice(&(id & 0x0fff).to_be_bytes());
        }
        f.extend_from_slice(&self.ethertype.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ethertype_and_tag() {
        let frame = [0u8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x81, 0x00, 0x20, 0x1e, 0x08, 0x00, 0x45];
        let f = Frame::new_checked(&frame).unwrap();
        assert_eq!(f.ethertype(), 0x8100);
        let t = Tag::new_checked(f.payload()).unwrap();
        assert_eq!(t.vlan_id(), 30);
        assert_eq!(t.ethertype(), ETHERTYPE_IPV4);
        assert_eq!(t.payload(), &[0x45]);
        assert_eq!(Frame::new_checked(&frame[..13]).err(), Some(DecodeError::EthernetTruncated));
        assert_eq!(Tag::new_checked(&[0x20]).err(), Some(DecodeError::VlanTruncated));
        assert_eq!(Frame::new_checked(frame.to_vec()).unwrap().into_inner(), frame);
    }

    #[cfg(feature = "emit")]
    #[test]
    fn reads_what_repr_writes() {
        let tags = [(TPID_8021AD, 100), (TPID_8021Q, 30)];
        let f = Repr { dst: [1; 6], src: [2; 6], tags: &tags, ethertype: ETHERTYPE_IPV6 }.emit(&[0x60]);
        let frame = Frame::new_checked(&f[..]).unwrap();
        assert_eq!((frame.dst(), frame.src(), frame.ethertype()), ([1; 6], [2; 6], TPID_8021AD));
        let outer = Tag::new_checked(frame.payload()).unwrap();
        let inner = Tag::new_checked(outer.payload()).unwrap();
        assert_eq!((outer.vlan_id(), outer.ethertype(), inner.vlan_id()), (100, TPID_8021Q, 30));
        assert_eq!((inner.ethertype(), inner.payload()), (ETHERTYPE_IPV6, &[0x60][..]));
    }
}
