//! IPv4 headers (RFC 791), options included.

use std::net::Ipv4Addr;

use crate::{DecodeError, be16};

const MIN_HEADER_LEN: usize = 20;

/// A view of an IPv4 packet whose header length fields were checked.
pub struct Packet<'a> {
    buffer: &'a [u8],
    header_len: usize,
    /// End of the IP payload: the total length, cut to what was captured.
    end: usize,
}

impl<'a> Packet<'a> {
    /// A view of `buffer`, once its version, header length and total length are checked.
    pub fn new_checked(buffer: &'a [u8]) -> Result<Self, DecodeError> {
        if buffer.len() < MIN_HEADER_LEN {
            return Err(DecodeError::Ipv4Truncated);
        }
        if buffer[0] >> 4 != 4 {
            return Err(DecodeError::Ipv4BadHeader);
        }
        let header_len = usize::from(buffer[0] & 0x0f) * 4;
        // Zero is what a capture of TCP segmentation offload shows (the NIC
        // fills the length in later): the packet is whatever was captured.
        let total_len = match usize::from(be16(buffer, 2)) {
            0 => buffer.len(),
            n => n,
        };
        if header_len < MIN_HEADER_LEN || total_len < header_len {
            return Err(DecodeError::Ipv4BadHeader);
        }
        if buffer.len() < header_len {
            return Err(DecodeError::Ipv4Truncated);
        }
        // A snap length may cut the packet; Ethernet padding may extend it.
        Ok(Packet { buffer, header_len, end: total_len.min(buffer.len()) })
    }

    /// The source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        Ipv4Addr::new(self.buffer[12], self.buffer[13], self.buffer[14], self.buffer[15])
    }

    /// The destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        Ipv4Addr::new(self.buffer[16], self.buffer[17], self.buffer[18], self.buffer[19])
    }

    /// The protocol of the payload (`IPPROTO_*`).
    pub fn protocol(&self) -> u8 {
        self.buffer[9]
    }

    /// The time to live.
    pub fn ttl(&self) -> u8 {
        self.buffer[8]
    }

    /// The identification field, shared by a datagram's fragments.
    pub fn ident(&self) -> u16 {
        be16(self.buffer, 4)
    }

    /// The MF flag: more fragments follow this one.
    pub fn more_fragments(&self) -> bool {
        self.buffer[6] & 0x20 != 0
    }

    /// Fragment offset in bytes.
    pub fn fragment_offset(&self) -> usize {
        usize::from(be16(self.buffer, 6) & 0x1fff) * 8
    }

    /// Whether this is a fragment rather than a whole datagram.
    pub fn is_fragment(&self) -> bool {
        self.more_fragments() || self.fragment_offset() != 0
    }

    /// The bytes after the header, up to the total length (or the capture's end).
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer[self.header_len..self.end]
    }
}

/// What [`Repr::emit`] writes: an IPv4 header (TTL 64, checksum filled in).
#[cfg(feature = "emit")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr<'a> {
    /// The source address.
    pub src: Ipv4Addr,
    /// The destination address.
    pub dst: Ipv4Addr,
    /// The protocol of the payload.
    pub protocol: u8,
    /// The identification field.
    pub ident: u16,
    /// (offset in bytes, more fragments); `None` sets Don't Fragment.
    pub fragment: Option<(u16, bool)>,
    /// Options, padded with End-of-Option-List to a multiple of 4.
    pub options: &'a [u8],
}

#[cfg(feature = "emit")]
impl Repr<'_> {
    /// The header, then `payload`.
    pub fn emit(&self, payload: &[u8]) -> Vec<u8> {
        let mut options = self.options.to_vec();
        options.resize(options.len().next_multiple_of(4), 0);
        let header_len = MIN_HEADER_LEN + options.len();
        let total = header_len + payload.len();
        let mut p = Vec::with_capacity(total);
        p.push(0x40 | crate::len8(header_len / 4));
        p.push(0);
        p.extend_from_slice(&crate::len16(total).to_be_bytes());
        p.extend_from_slice(&self.ident.to_be_bytes());
        let frag = match self.fragment {
            Some((offset, more)) => (offset / 8) | if more { 0x2000 } else { 0 },
            None => 0x4000, // don't fragment
        };
        p.extend_from_slice(&frag.to_be_bytes());
        p.push(64);
        p.push(self.protocol);
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(&self.src.octets());
        p.extend_from_slice(&self.dst.octets());
        p.extend_from_slice(&options);
        let sum = crate::checksum::checksum(&[&p[..header_len]]);
        p[10..12].copy_from_slice(&sum.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WITH_OPTIONS: [u8; 28] = [
        0x46, 0, 0, 28, 0x12, 0x34, 0x20, 0x00, 64, 17, 0, 0, 10, 0, 0, 1, 17, 1, 2, 3, //
        1, 1, 1, 0, // NOP, NOP, NOP, EOL
        0xaa, 0xbb, 0xcc, 0xdd,
    ];

    #[test]
    fn skips_options_and_reads_fields() {
        let p = Packet::new_checked(&WITH_OPTIONS).unwrap();
        assert_eq!(p.src_addr(), Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(p.dst_addr(), Ipv4Addr::new(17, 1, 2, 3));
        assert_eq!(p.protocol(), 17);
        assert_eq!(p.payload(), &[0xaa, 0xbb, 0xcc, 0xdd]);
        assert!(p.more_fragments() && p.is_fragment());
        assert_eq!(p.ident(), 0x1234);
    }

    #[test]
    fn rejects_bad_lengths() {
        let mut bad = WITH_OPTIONS;
        bad[0] = 0x44;
        assert_eq!(Packet::new_checked(&bad).err(), Some(DecodeError::Ipv4BadHeader));
        assert_eq!(Packet::new_checked(&WITH_OPTIONS[..22]).err(), Some(DecodeError::Ipv4Truncated));
        let mut offloaded = WITH_OPTIONS;
        offloaded[2..4].copy_from_slice(&[0, 0]);
        assert_eq!(Packet::new_checked(&offloaded).unwrap().payload(), &[0xaa, 0xbb, 0xcc, 0xdd], "TSO: length 0");
        let mut short_total = WITH_OPTIONS;
        short_total[3] = 10;
        assert_eq!(Packet::new_checked(&short_total).err(), Some(DecodeError::Ipv4BadHeader));
    }
}
