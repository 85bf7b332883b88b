//! Linux netfilter NFLOG frames (`LINKTYPE_NFLOG`): a 4-byte header (address
//! family, version, resource id) and then type-length-value attributes, one
//! of which (`NFULA_PAYLOAD`) holds the logged IP packet.
//!
//! The attributes' length and type are in the logging host's byte order,
//! which the file does not record; attribute types are small numbers, so
//! the order in which the first type reads small is the host's.

use std::ops::Range;

use crate::{DecodeError, Field, be16, le16};

/// The family of an IPv4 packet.
pub const AF_INET: u8 = 2;
/// The family of an IPv6 packet.
pub const AF_INET6: u8 = 10;
/// The attribute holding the packet, from its network header on.
pub const NFULA_PAYLOAD: u16 = 9;
/// The attribute holding the hardware protocol and netfilter hook.
pub const NFULA_PACKET_HDR: u16 = 1;
/// The log prefix an iptables/nftables rule gave.
pub const NFULA_PREFIX: u16 = 10;

mod field {
    use crate::Field;

    pub const FAMILY: usize = 0;
    pub const VERSION: usize = 1;
    /// The group, in network byte order.
    pub const RESOURCE_ID: Field = 2..4;
    pub const HEADER_LEN: usize = 4;
    /// An attribute's length and type, in the logging host's byte order.
    pub const TLV_LEN: Field = 0..2;
    pub const TLV_TYPE: Field = 2..4;
    pub const TLV_HEADER_LEN: usize = 4;
}

/// Netlink's nested and network-byte-order flags in the type field.
const TYPE_FLAGS: u16 = 0xc000;

/// A view of an NFLOG frame whose attributes were walked: it keeps where
/// the payload attribute is, so it has no `new_unchecked`.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
    payload: Option<Range<usize>>,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// A view of `buffer`, once its version is 0 and its attributes, up to
    /// the payload, are whole.
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        let payload = walk(buffer.as_ref())?;
        Ok(Packet { buffer, payload })
    }

    /// The buffer the view was made of.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// [`AF_INET`] or [`AF_INET6`] for IP packets.
    pub fn family(&self) -> u8 {
        self.buffer.as_ref()[field::FAMILY]
    }

    /// The NFLOG group the rule logged to (network byte order).
    pub fn resource_id(&self) -> u16 {
        be16(self.buffer.as_ref(), field::RESOURCE_ID)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// The logged packet; `None` when the rule logged no payload.
    pub fn payload(&self) -> Option<&'a [u8]> {
        let b: &'a [u8] = self.buffer.as_ref();
        self.payload.clone().map(|r| &b[r])
    }
}

/// Checks the header and walks the attributes to the payload's, the
/// range of whose value it returns.
fn walk(b: &[u8]) -> Result<Option<Range<usize>>, DecodeError> {
    if b.len() < field::HEADER_LEN {
        return Err(DecodeError::NflogTruncated);
    }
    if b[field::VERSION] != 0 {
        return Err(DecodeError::NflogBadHeader);
    }
    let little_endian = match b.get(field::HEADER_LEN..field::HEADER_LEN + field::TLV_HEADER_LEN) {
        Some(tlv) => le16(tlv, field::TLV_TYPE) & !TYPE_FLAGS <= 0xff,
        None => true,
    };
    let u16_in = |tlv: &[u8], f: Field| if little_endian { le16(tlv, f) } else { be16(tlv, f) };
    let mut at = field::HEADER_LEN;
    while at < b.len() {
        let tlv = b.get(at..at + field::TLV_HEADER_LEN).ok_or(DecodeError::NflogTruncated)?;
        let len = usize::from(u16_in(tlv, field::TLV_LEN));
        let kind = u16_in(tlv, field::TLV_TYPE) & !TYPE_FLAGS;
        if len < field::TLV_HEADER_LEN {
            return Err(DecodeError::NflogBadHeader);
        }
        if kind == NFULA_PAYLOAD {
            // A snap length may have cut the packet: keep what is there.
            return Ok(Some(at + field::TLV_HEADER_LEN..(at + len).min(b.len())));
        }
        if at + len > b.len() {
            return Err(DecodeError::NflogTruncated);
        }
        // Attributes start on 4-byte boundaries.
        at += (len + 3) & !3;
    }
    Ok(None)
}

/// What [`Repr::emit`] writes: an NFLOG frame for `group` as a
/// little-endian host logs a packet (its family from the packet's version):
/// the packet header attribute, the rule's `prefix`, then the payload.
#[cfg(feature = "emit")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr<'a> {
    /// The NFLOG group.
    pub group: u16,
    /// The rule's log prefix.
    pub prefix: &'a str,
}

#[cfg(feature = "emit")]
impl Repr<'_> {
    /// The header and attributes, `ip` the last.
    pub fn emit(&self, ip: &[u8]) -> Vec<u8> {
        let v6 = ip.first().is_some_and(|b| b >> 4 == 6);
        let mut f = vec![if v6 { AF_INET6 } else { AF_INET }, 0];
        f.extend_from_slice(&self.group.to_be_bytes());
        let ethertype: u16 = if v6 { 0x86dd } else { 0x0800 };
        // Hardware protocol, netfilter hook (1: NF_INET_LOCAL_IN), padding.
        let packet_hdr = [&ethertype.to_be_bytes()[..], &[1, 0]].concat();
        let prefix = [self.prefix.as_bytes(), &[0]].concat();
        for (kind, value) in [(NFULA_PACKET_HDR, &packet_hdr[..]), (NFULA_PREFIX, &prefix[..]), (NFULA_PAYLOAD, ip)] {
            f.extend_from_slice(&crate::len16(field::TLV_HEADER_LEN + value.len()).to_le_bytes());
            f.extend_from_slice(&kind.to_le_bytes());
            f.extend_from_slice(value);
            f.resize((f.len() + 3) & !3, 0);
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Header for `AF_INET` group 5, a packet header attribute, then the
    /// payload attribute, in the byte order `order` writes.
    fn frame(order: fn(u16) -> [u8; 2], payload: &[u8]) -> Vec<u8> {
        let mut f = vec![AF_INET, 0, 0, 5];
        f.extend_from_slice(&order(8));
        f.extend_from_slice(&order(NFULA_PACKET_HDR));
        f.extend_from_slice(&[0x08, 0x00, 1, 0]);
        f.extend_from_slice(&order(crate::len16(4 + payload.len())));
        f.extend_from_slice(&order(NFULA_PAYLOAD));
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn finds_the_payload_in_either_host_order() {
        for order in [u16::to_le_bytes, u16::to_be_bytes] {
            let f = frame(order, &[0x45, 1, 2]);
            let p = Packet::new_checked(&f).unwrap();
            assert_eq!((p.family(), p.resource_id(), p.payload()), (AF_INET, 5, Some(&[0x45, 1, 2][..])));
        }
        let bare = [AF_INET6, 0, 0, 1];
        assert_eq!(Packet::new_checked(&bare).unwrap().payload(), None);
    }

    #[test]
    fn a_cut_payload_keeps_what_was_captured_and_other_cuts_are_errors() {
        let f = frame(u16::to_le_bytes, &[0x45; 20]);
        assert_eq!(Packet::new_checked(&f[..20]).unwrap().payload(), Some(&[0x45; 4][..]));
        assert_eq!(Packet::new_checked(&f[..10]).err(), Some(DecodeError::NflogTruncated));
        assert_eq!(Packet::new_checked(&f[..6]).err(), Some(DecodeError::NflogTruncated));
        assert_eq!(Packet::new_checked(&f[..3]).err(), Some(DecodeError::NflogTruncated));
        let mut zero_len = f.clone();
        zero_len[4] = 0;
        assert_eq!(Packet::new_checked(&zero_len).err(), Some(DecodeError::NflogBadHeader));
        let mut version = f;
        version[1] = 1;
        assert_eq!(Packet::new_checked(&version).err(), Some(DecodeError::NflogBadHeader));
    }

    #[cfg(feature = "emit")]
    #[test]
    fn emit_round_trips() {
        let f = Repr { group: 7, prefix: "vw" }.emit(&[0x60, 0, 0]);
        let p = Packet::new_checked(&f[..]).unwrap();
        assert_eq!((p.family(), p.resource_id(), p.payload()), (AF_INET6, 7, Some(&[0x60, 0, 0][..])));
    }
}
