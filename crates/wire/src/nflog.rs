//! Linux netfilter NFLOG frames (`LINKTYPE_NFLOG`): a 4-byte header (address
//! family, version, resource id) and then type-length-value attributes, one
//! of which (`NFULA_PAYLOAD`) holds the logged IP packet.
//!
//! The attributes' length and type are in the logging host's byte order,
//! which the file does not record; attribute types are small numbers, so
//! the order in which the first type reads small is the host's.

use std::ops::Range;

use crate::{DecodeError, be16};

pub const AF_INET: u8 = 2;
pub const AF_INET6: u8 = 10;
/// The attribute holding the packet, from its network header on.
pub const NFULA_PAYLOAD: u16 = 9;
/// The attribute holding the hardware protocol and netfilter hook.
pub const NFULA_PACKET_HDR: u16 = 1;
/// The log prefix an iptables/nftables rule gave.
pub const NFULA_PREFIX: u16 = 10;

const HEADER_LEN: usize = 4;
const TLV_HEADER_LEN: usize = 4;
/// Netlink's nested and network-byte-order flags in the type field.
const TYPE_FLAGS: u16 = 0xc000;

/// A view of an NFLOG frame whose attributes were walked and checked.
pub struct Packet<'a> {
    buffer: &'a [u8],
    payload: Option<Range<usize>>,
}

impl<'a> Packet<'a> {
    pub fn new_checked(buffer: &'a [u8]) -> Result<Self, DecodeError> {
        if buffer.len() < HEADER_LEN {
            return Err(DecodeError::NflogTruncated);
        }
        if buffer[1] != 0 {
            return Err(DecodeError::NflogBadHeader);
        }
        let little_endian = match buffer.get(HEADER_LEN..HEADER_LEN + TLV_HEADER_LEN) {
            Some(tlv) => u16::from_le_bytes([tlv[2], tlv[3]]) & !TYPE_FLAGS <= 0xff,
            None => true,
        };
        let u16_at = |at: usize| {
            let b = [buffer[at], buffer[at + 1]];
            if little_endian { u16::from_le_bytes(b) } else { u16::from_be_bytes(b) }
        };
        let mut at = HEADER_LEN;
        let mut payload = None;
        while at < buffer.len() {
            if buffer.len() - at < TLV_HEADER_LEN {
                return Err(DecodeError::NflogTruncated);
            }
            let len = usize::from(u16_at(at));
            let kind = u16_at(at + 2) & !TYPE_FLAGS;
            if len < TLV_HEADER_LEN {
                return Err(DecodeError::NflogBadHeader);
            }
            if kind == NFULA_PAYLOAD {
                // A snap length may have cut the packet: keep what is there.
                payload = Some(at + TLV_HEADER_LEN..(at + len).min(buffer.len()));
                break;
            }
            if at + len > buffer.len() {
                return Err(DecodeError::NflogTruncated);
            }
            // Attributes start on 4-byte boundaries.
            at += (len + 3) & !3;
        }
        Ok(Packet { buffer, payload })
    }

    /// [`AF_INET`] or [`AF_INET6`] for IP packets.
    pub fn family(&self) -> u8 {
        self.buffer[0]
    }

    /// The NFLOG group the rule logged to (network byte order).
    pub fn resource_id(&self) -> u16 {
        be16(self.buffer, 2)
    }

    /// The logged packet; `None` when the rule logged no payload.
    pub fn payload(&self) -> Option<&'a [u8]> {
        self.payload.clone().map(|r| &self.buffer[r])
    }
}

/// An NFLOG frame for group `group` as a little-endian host logs `ip` (its
/// family from the packet's version): the packet header attribute, the
/// rule's `prefix`, then the payload.
#[cfg(feature = "emit")]
pub fn emit(group: u16, prefix: &str, ip: &[u8]) -> Vec<u8> {
    let v6 = ip.first().is_some_and(|b| b >> 4 == 6);
    let mut f = vec![if v6 { AF_INET6 } else { AF_INET }, 0];
    f.extend_from_slice(&group.to_be_bytes());
    let ethertype: u16 = if v6 { 0x86dd } else { 0x0800 };
    // Hardware protocol, netfilter hook (1: NF_INET_LOCAL_IN), padding.
    let packet_hdr = [&ethertype.to_be_bytes()[..], &[1, 0]].concat();
    let prefix = [prefix.as_bytes(), &[0]].concat();
    for (kind, value) in [(NFULA_PACKET_HDR, &packet_hdr[..]), (NFULA_PREFIX, &prefix[..]), (NFULA_PAYLOAD, ip)] {
        f.extend_from_slice(&crate::len16(TLV_HEADER_LEN + value.len()).to_le_bytes());
        f.extend_from_slice(&kind.to_le_bytes());
        f.extend_from_slice(value);
        f.resize((f.len() + 3) & !3, 0);
    }
    f
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
        let f = emit(7, "vw", &[0x60, 0, 0]);
        let p = Packet::new_checked(&f).unwrap();
        assert_eq!((p.family(), p.resource_id(), p.payload()), (AF_INET6, 7, Some(&[0x60, 0, 0][..])));
    }
}
