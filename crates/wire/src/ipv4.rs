//! IPv4 headers (RFC 791), options included.

use std::net::Ipv4Addr;

use crate::{DecodeError, array, be16};

mod field {
    use crate::Field;

    /// Version (4 bits) and IHL, the header length in 32-bit words.
    pub const VER_IHL: usize = 0;
    pub const LENGTH: Field = 2..4;
    pub const IDENT: Field = 4..6;
    /// Flags (3 bits) and the fragment offset in 8-byte units.
    pub const FLAGS_FRAG: Field = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Field = 10..12;
    pub const SRC_ADDR: Field = 12..16;
    pub const DST_ADDR: Field = 16..20;
}

/// The length of an IPv4 header without options.
pub const MIN_HEADER_LEN: usize = field::DST_ADDR.end;

/// A view of an IPv4 packet.
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// A view of `buffer` as it is; the accessors panic if it is shorter
    /// than a header, and `payload` if it is shorter than its IHL says or
    /// the total length is shorter than the header.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// A view of `buffer`, once its version, header length and total length are checked.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        let b = buffer.as_ref();
        if b.len() < MIN_HEADER_LEN {
            return Err(DecodeError::Ipv4Truncated);
        }
        if b[field::VER_IHL] >> 4 != 4 {
            return Err(DecodeError::Ipv4BadHeader);
        }
        let header_len = header_len(b);
        if header_len < MIN_HEADER_LEN || total_len(b) < header_len {
            return Err(DecodeError::Ipv4BadHeader);
        }
        if b.len() < header_len {
            return Err(DecodeError::Ipv4Truncated);
        }
        Ok(Packet { buffer })
    }

    /// The buffer the view was made of.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The header's length with its options, by the IHL.
    #[inline]
    pub fn header_len(&self) -> usize {
        header_len(self.buffer.as_ref())
    }

    /// The source address.
    #[inline]
    pub fn src_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(array::<4>(self.buffer.as_ref(), field::SRC_ADDR))
    }

    /// The destination address.
    #[inline]
    pub fn dst_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(array::<4>(self.buffer.as_ref(), field::DST_ADDR))
    }

    /// The protocol of the payload (`IPPROTO_*`).
    #[inline]
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }

    /// The time to live.
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// The identification field, shared by a datagram's fragments.
    #[inline]
    pub fn ident(&self) -> u16 {
        be16(self.buffer.as_ref(), field::IDENT)
    }

    /// The header checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// The DF flag: the sender forbids fragmenting the packet.
    #[inline]
    pub fn dont_fragment(&self) -> bool {
        be16(self.buffer.as_ref(), field::FLAGS_FRAG) & 0x4000 != 0
    }

    /// The MF flag: more fragments follow this one.
    #[inline]
    pub fn more_fragments(&self) -> bool {
        be16(self.buffer.as_ref(), field::FLAGS_FRAG) & 0x2000 != 0
    }

    /// Fragment offset in bytes.
    #[inline]
    pub fn fragment_offset(&self) -> usize {
        usize::from(be16(self.buffer.as_ref(), field::FLAGS_FRAG) & 0x1fff) * 8
    }

    /// Whether this is a fragment rather than a whole datagram.
    #[inline]
    pub fn is_fragment(&self) -> bool {
        self.more_fragments() || self.fragment_offset() != 0
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// The bytes after the header, up to the total length (or the capture's
    /// end: a snap length may cut the packet, Ethernet padding extend it).
    #[allow(clippy::inline_always, reason = "on every packet's decode path; callgrind showed it left out of line")]
    #[inline(always)]
    pub fn payload(&self) -> &'a [u8] {
        let b = self.buffer.as_ref();
        &b[header_len(b)..total_len(b).min(b.len())]
    }
}

/// The header length the IHL of `b` says.
#[allow(clippy::inline_always, reason = "on every packet's decode path; callgrind showed it left out of line")]
#[inline(always)]
fn header_len(b: &[u8]) -> usize {
    usize::from(b[field::VER_IHL] & 0x0f) * 4
}

/// The total length of `b`'s packet. Zero is what a capture of TCP
/// segmentation offload shows (the NIC fills the length in later): the
/// packet is then whatever was captured.
#[allow(clippy::inline_always, reason = "on every packet's decode path; callgrind showed it left out of line")]
#[inline(always)]
fn total_len(b: &[u8]) -> usize {
    match usize::from(be16(b, field::LENGTH)) {
        0 => b.len(),
        n => n,
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
        p[field::CHECKSUM].copy_from_slice(&sum.to_be_bytes());
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

    #[cfg(feature = "emit")]
    #[test]
    fn reads_what_repr_writes() {
        let (src, dst) = (Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(198, 51, 100, 2));
        let repr = Repr { src, dst, protocol: 17, ident: 7, fragment: Some((64, true)), options: &[1, 1] };
        let p = repr.emit(b"data");
        let v = Packet::new_checked(&p[..]).unwrap();
        assert_eq!((v.src_addr(), v.dst_addr(), v.protocol(), v.ident(), v.ttl()), (src, dst, 17, 7, 64));
        assert_eq!((v.header_len(), v.fragment_offset(), v.more_fragments(), v.dont_fragment()), (24, 64, true, false));
        assert_eq!(v.payload(), b"data");
        assert_eq!(crate::checksum::checksum(&[&p[..24]]), 0, "checksum {:#06x} verifies", v.checksum());
    }
}
