//! IPv6 headers (RFC 8200) and the extension-header chain in front of the
//! upper-layer protocol.

use std::net::Ipv6Addr;

use crate::{DecodeError, array, be16, be32};

/// Real packets carry two or three; a longer chain is an attack or garbage.
const MAX_EXTENSION_HEADERS: usize = 8;

/// Extension header numbers (next-header values of the chain).
pub const HOP_BY_HOP: u8 = 0;
/// Routing header.
pub const ROUTING: u8 = 43;
/// Fragment header.
pub const FRAGMENT: u8 = 44;
/// Authentication header (IPsec AH).
pub const AUTH: u8 = 51;
/// Destination options header.
pub const DEST_OPTS: u8 = 60;
/// Mobility header (RFC 6275).
pub const MOBILITY: u8 = 135;

/// Fragment header fields, when the chain contains one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentInfo {
    /// The identification, shared by a packet's fragments.
    pub ident: u32,
    /// Offset in bytes.
    pub offset: usize,
    /// The M flag: more fragments follow this one.
    pub more: bool,
}

mod field {
    use crate::{Field, Rest};

    /// Version (4 bits), traffic class and flow label.
    pub const VER_TC_FLOW: usize = 0;
    pub const PAYLOAD_LEN: Field = 4..6;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC_ADDR: Field = 8..24;
    pub const DST_ADDR: Field = 24..40;
    pub const PAYLOAD: Rest = 40..;

    /// In an extension header: the next header, then its length.
    pub const EXT_NEXT_HEADER: usize = 0;
    pub const EXT_LEN: usize = 1;
    /// In a fragment header: the offset in 8-byte units and the M flag.
    pub const FRAG_OFFSET_M: Field = 2..4;
    pub const FRAG_IDENT: Field = 4..8;
    pub const FRAG_LEN: usize = 8;
}

/// The length of the fixed IPv6 header.
pub const HEADER_LEN: usize = field::PAYLOAD.start;

/// Where the walk of the extension-header chain ended.
#[derive(Debug, Clone, Copy)]
struct Layout {
    /// Upper-layer protocol after the extension headers.
    protocol: u8,
    payload_at: usize,
    /// End of the upper-layer payload: the payload length, cut to what was
    /// captured.
    end: usize,
    fragment: Option<FragmentInfo>,
}

/// A view of an IPv6 packet with its extension headers walked: it keeps
/// where the walk ended, so it has no `new_unchecked`.
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
    layout: Layout,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// A view of `buffer`, once its version and extension header chain are checked.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        let layout = walk(buffer.as_ref())?;
        Ok(Packet { buffer, layout })
    }

    /// The buffer the view was made of.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The source address.
    #[inline]
    pub fn src_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(array::<16>(self.buffer.as_ref(), field::SRC_ADDR))
    }

    /// The destination address.
    #[inline]
    pub fn dst_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(array::<16>(self.buffer.as_ref(), field::DST_ADDR))
    }

    /// The first next-header value: the first extension header's kind, or
    /// the upper-layer protocol when there is none.
    #[inline]
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NEXT_HEADER]
    }

    /// The upper-layer protocol (TCP, UDP, ICMPv6, ...), after extension
    /// headers; for a fragment, the protocol of the fragmented part.
    #[inline]
    pub fn protocol(&self) -> u8 {
        self.layout.protocol
    }

    /// The hop limit.
    #[inline]
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    /// The fragment header's fields, when the chain has one.
    pub fn fragment(&self) -> Option<FragmentInfo> {
        self.layout.fragment
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// The upper-layer payload; for a fragment, the fragment's data.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[self.layout.payload_at..self.layout.end]
    }
}

/// Checks the fixed header and walks the extension headers to the upper
/// layer (or to a fragment header that starts a piece of the datagram).
fn walk(buffer: &[u8]) -> Result<Layout, DecodeError> {
    if buffer.len() < HEADER_LEN {
        return Err(DecodeError::Ipv6Truncated);
    }
    if buffer[field::VER_TC_FLOW] >> 4 != 6 {
        return Err(DecodeError::Ipv6BadHeader);
    }
    let end = (HEADER_LEN + usize::from(be16(buffer, field::PAYLOAD_LEN))).min(buffer.len());
    let mut next = buffer[field::NEXT_HEADER];
    let mut at = HEADER_LEN;
    let mut fragment = None;
    for _ in 0..=MAX_EXTENSION_HEADERS {
        let ext_len = match next {
            HOP_BY_HOP | ROUTING | DEST_OPTS | MOBILITY => {
                let b = buffer.get(at..at + 2).ok_or(DecodeError::Ipv6Truncated)?;
                (usize::from(b[field::EXT_LEN]) + 1) * 8
            }
            AUTH => {
                let b = buffer.get(at..at + 2).ok_or(DecodeError::Ipv6Truncated)?;
                (usize::from(b[field::EXT_LEN]) + 2) * 4
            }
            FRAGMENT => {
                let b = buffer.get(at..at + field::FRAG_LEN).ok_or(DecodeError::Ipv6Truncated)?;
                let off = be16(b, field::FRAG_OFFSET_M);
                let info = FragmentInfo {
                    ident: be32(b, field::FRAG_IDENT),
                    offset: usize::from(off & 0xfff8),
                    more: off & 1 != 0,
                };
                fragment = Some(info);
                if info.more || info.offset != 0 {
                    // What follows is a piece of the fragmentable part
                    // (RFC 8200 4.5): later pieces start mid-datagram, so
                    // the walk stops here, and the payload is the piece
                    // to reassemble, typed by this header's next header.
                    let start = at + field::FRAG_LEN;
                    if start > end {
                        return Err(DecodeError::Ipv6Truncated);
                    }
                    let protocol = b[field::EXT_NEXT_HEADER];
                    return Ok(Layout { protocol, payload_at: start, end, fragment });
                }
                field::FRAG_LEN
            }
            _ => return Ok(Layout { protocol: next, payload_at: at, end: end.max(at), fragment }),
        };
        next = buffer[at + field::EXT_NEXT_HEADER];
        at += ext_len;
        if at > end {
            return Err(DecodeError::Ipv6Truncated);
        }
    }
    Err(DecodeError::Ipv6ExtensionChain)
}

/// An extension header for [`Repr::emit`]: its protocol number and body
/// after the next-header byte (and length byte, for all but the fragment
/// header).
#[cfg(feature = "emit")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    /// The header's protocol number ([`ROUTING`], [`FRAGMENT`], ...).
    pub kind: u8,
    /// The bytes after the next-header (and length) byte.
    pub body: Vec<u8>,
}

#[cfg(feature = "emit")]
impl Extension {
    /// [`HOP_BY_HOP`], for `Extension { kind: Extension::HOP_BY_HOP, .. }`.
    pub const HOP_BY_HOP: u8 = HOP_BY_HOP;
    /// [`ROUTING`].
    pub const ROUTING: u8 = ROUTING;
    /// [`FRAGMENT`].
    pub const FRAGMENT: u8 = FRAGMENT;
    /// [`DEST_OPTS`].
    pub const DEST_OPTS: u8 = DEST_OPTS;

    /// Hop-by-hop options holding a Router Alert (RFC 2711) and padding.
    pub fn hop_by_hop() -> Extension {
        Extension { kind: HOP_BY_HOP, body: vec![5, 2, 0, 0, 1, 0] }
    }

    /// Destination options holding only padding (`PadN`), `8 * units` bytes long.
    pub fn dest_opts(units: usize) -> Extension {
        let pad = units * 8 - 2;
        let mut body = vec![1, crate::len8(pad - 2)];
        body.resize(pad, 0);
        Extension { kind: DEST_OPTS, body }
    }

    /// A type 0 routing header with no segments left.
    pub fn routing() -> Extension {
        Extension { kind: ROUTING, body: vec![0, 0, 0, 0, 0, 0] }
    }

    /// A fragment header; `offset` in bytes (a multiple of 8).
    pub fn fragment(offset: u16, more: bool, ident: u32) -> Extension {
        let mut body = vec![0];
        body.extend_from_slice(&((offset & 0xfff8) | u16::from(more)).to_be_bytes());
        body.extend_from_slice(&ident.to_be_bytes());
        Extension { kind: FRAGMENT, body }
    }

    fn encode(&self, next: u8, out: &mut Vec<u8>) {
        out.push(next);
        if self.kind == FRAGMENT {
            out.extend_from_slice(&self.body);
        } else {
            // Hdr Ext Len: 8-byte units beyond the first 8 bytes.
            out.push(crate::len8((self.body.len() + 2) / 8 - 1));
            out.extend_from_slice(&self.body);
        }
    }
}

/// What [`Repr::emit`] writes: an IPv6 header (hop limit 64) and its
/// extension headers, in order, before the upper-layer `protocol`.
#[cfg(feature = "emit")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr<'a> {
    /// The source address.
    pub src: Ipv6Addr,
    /// The destination address.
    pub dst: Ipv6Addr,
    /// The upper-layer protocol after the extension headers.
    pub protocol: u8,
    /// Extension headers, in order.
    pub extensions: &'a [Extension],
}

#[cfg(feature = "emit")]
impl Repr<'_> {
    /// The headers, then `payload`.
    pub fn emit(&self, payload: &[u8]) -> Vec<u8> {
        let mut ext = Vec::new();
        let kinds: Vec<u8> = self.extensions.iter().map(|e| e.kind).chain([self.protocol]).collect();
        for (i, e) in self.extensions.iter().enumerate() {
            e.encode(kinds[i + 1], &mut ext);
        }
        let mut p = Vec::with_capacity(HEADER_LEN + ext.len() + payload.len());
        p.extend_from_slice(&[0x60, 0, 0, 0]);
        p.extend_from_slice(&crate::len16(ext.len() + payload.len()).to_be_bytes());
        p.push(kinds[0]);
        p.push(64);
        p.extend_from_slice(&self.src.octets());
        p.extend_from_slice(&self.dst.octets());
        p.extend_from_slice(&ext);
        p.extend_from_slice(payload);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(next: u8, ext: &[u8], payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0x60, 0, 0, 0];
        v.extend_from_slice(&crate::len16(ext.len() + payload.len()).to_be_bytes());
        v.extend_from_slice(&[next, 64]);
        let src: std::net::Ipv6Addr = "2001:db8::1".parse().unwrap();
        let dst: std::net::Ipv6Addr = "2620:149::2".parse().unwrap();
        v.extend_from_slice(&src.octets());
        v.extend_from_slice(&dst.octets());
        v.extend_from_slice(ext);
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn walks_hop_by_hop_and_fragment_headers() {
        // Hop-by-hop (8 bytes, next = fragment), fragment (next = UDP, offset 0, M=1).
        let ext = [44, 0, 1, 4, 0, 0, 0, 0, 17, 0, 0x00, 0x01, 0, 0, 0, 7];
        let bytes = packet(0, &ext, b"udp!");
        let p = Packet::new_checked(&bytes).unwrap();
        assert_eq!(p.protocol(), 17);
        assert_eq!(p.payload(), b"udp!");
        assert_eq!(p.fragment(), Some(FragmentInfo { ident: 7, offset: 0, more: true }));
        assert_eq!(p.dst_addr().segments()[0], 0x2620);
    }

    #[test]
    fn later_fragments_stop_the_walk_at_the_fragment_header() {
        // Fragment (next = destination options, offset 8, M=0): the data is
        // the middle of the datagram, not a destination options header.
        let ext = [60, 0, 0x00, 0x08, 0, 0, 0, 9];
        let bytes = packet(44, &ext, &[17, 200, 1, 2, 3, 4, 5, 6]);
        let p = Packet::new_checked(&bytes).unwrap();
        assert_eq!(p.protocol(), 60);
        assert_eq!(p.payload(), &[17, 200, 1, 2, 3, 4, 5, 6]);
        assert_eq!(p.fragment(), Some(FragmentInfo { ident: 9, offset: 8, more: false }));
        // An atomic fragment (offset 0, M=0) is a whole packet: walk on.
        let atomic = packet(44, &[17, 0, 0, 0, 0, 0, 0, 9], b"udp!");
        let p = Packet::new_checked(&atomic).unwrap();
        assert_eq!((p.protocol(), p.payload()), (17, &b"udp!"[..]));
    }

    #[test]
    fn rejects_truncated_and_endless_chains() {
        let ext = [17, 4, 0, 0, 0, 0, 0, 0]; // claims 40 bytes
        assert_eq!(Packet::new_checked(&packet(60, &ext, b"")).err(), Some(DecodeError::Ipv6Truncated));
        let mut chain = Vec::new();
        for _ in 0..10 {
            chain.extend_from_slice(&[60, 0, 0, 0, 0, 0, 0, 0]);
        }
        assert_eq!(Packet::new_checked(&packet(60, &chain, b"")).err(), Some(DecodeError::Ipv6ExtensionChain));
    }

    #[cfg(feature = "emit")]
    #[test]
    fn reads_what_repr_writes() {
        let (src, dst) = ("2001:db8::1".parse().unwrap(), "2001:db8::2".parse().unwrap());
        let extensions = [Extension::hop_by_hop(), Extension::dest_opts(2), Extension::fragment(0, true, 5)];
        let p = Repr { src, dst, protocol: 17, extensions: &extensions }.emit(b"udp");
        let v = Packet::new_checked(&p[..]).unwrap();
        assert_eq!((v.src_addr(), v.dst_addr(), v.next_header(), v.hop_limit()), (src, dst, HOP_BY_HOP, 64));
        assert_eq!((v.protocol(), v.payload()), (17, &b"udp"[..]));
        assert_eq!(v.fragment(), Some(FragmentInfo { ident: 5, offset: 0, more: true }));
        assert_eq!(v.into_inner().len(), 40 + 8 + 16 + 8 + 3);
    }
}
