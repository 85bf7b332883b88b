//! L2TP: version 2 (RFC 2661) data messages in UDP, which carry PPP, and
//! version 3 (RFC 3931) sessions directly over IP, which carry a
//! pseudowire (Ethernet, the common case).

use crate::{DecodeError, be16, be32};

/// L2TP's UDP port: both ends usually send from it and to it.
pub const PORT: u16 = 1701;

const TYPE_CONTROL: u16 = 0x8000;
const LENGTH: u16 = 0x4000;
const SEQUENCE: u16 = 0x0800;
const OFFSET: u16 = 0x0200;
/// The bits RFC 2661 reserves (the x bits of the flags), which must be 0.
const RESERVED: u16 = 0x34f0;
const VERSION_MASK: u16 = 0x000f;

mod field {
    use crate::{Field, Rest};

    /// L2TPv2: the T L x x S x O P flags, reserved bits and the version.
    pub const FLAGS: Field = 0..2;
    /// L2TPv2, with the L flag: the message's length.
    pub const LENGTH: Field = 2..4;
    /// L2TPv3 over IP: the session id (0 for control messages).
    pub const SESSION_ID: Field = 0..4;
    pub const V3_PAYLOAD: Rest = 4..;
}

/// Whether `buffer` starts with an L2TPv2 data message. Control messages
/// and headers of other versions (L2TPv3 over UDP, or not L2TP at all)
/// carry no IP to open: they are ordinary UDP.
pub fn probe(buffer: &[u8]) -> bool {
    buffer.get(field::FLAGS).is_some_and(|f| {
        let flags = be16(f, 0..2);
        flags & VERSION_MASK == 2 && flags & TYPE_CONTROL == 0
    })
}

/// A view of an L2TPv2 data message.
#[derive(Debug, Clone, Copy)]
pub struct V2<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> V2<T> {
    /// A view of `buffer` as it is; the accessors panic if the fields its
    /// flags announce are cut.
    pub const fn new_unchecked(buffer: T) -> Self {
        V2 { buffer }
    }

    /// A view of `buffer`, once the fields its flags announce are there,
    /// its reserved bits are clear and its length (if given) covers them.
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        let b = buffer.as_ref();
        let flags = be16(b.get(field::FLAGS).ok_or(DecodeError::L2tpTruncated)?, 0..2);
        if flags & RESERVED != 0 {
            return Err(DecodeError::L2tpBadHeader);
        }
        let fixed = fixed_len(flags);
        if flags & OFFSET != 0 && b.len() < fixed + 2 {
            return Err(DecodeError::L2tpTruncated);
        }
        let header_len = header_len(b);
        if b.len() < header_len {
            return Err(DecodeError::L2tpTruncated);
        }
        if flags & LENGTH != 0 && usize::from(be16(b, field::LENGTH)) < header_len {
            return Err(DecodeError::L2tpBadHeader);
        }
        Ok(V2 { buffer })
    }

    /// The buffer the view was made of.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn ids_at(&self) -> usize {
        if self.flags() & LENGTH != 0 { 4 } else { 2 }
    }

    fn flags(&self) -> u16 {
        be16(self.buffer.as_ref(), field::FLAGS)
    }

    /// Whether this is a control message (the T flag).
    pub fn is_control(&self) -> bool {
        self.flags() & TYPE_CONTROL != 0
    }

    /// The version (2; 3 is L2TPv3 over UDP).
    pub fn version(&self) -> u16 {
        self.flags() & VERSION_MASK
    }

    /// The tunnel the message belongs to.
    pub fn tunnel_id(&self) -> u16 {
        let at = self.ids_at();
        be16(self.buffer.as_ref(), at..at + 2)
    }

    /// The session within the tunnel.
    pub fn session_id(&self) -> u16 {
        let at = self.ids_at() + 2;
        be16(self.buffer.as_ref(), at..at + 2)
    }

    /// The header's length with its optional fields and offset padding.
    pub fn header_len(&self) -> usize {
        header_len(self.buffer.as_ref())
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> V2<&'a T> {
    /// The PPP frame: up to the length field when there is one, trusted
    /// only as far as it was captured.
    pub fn payload(&self) -> &'a [u8] {
        let b = self.buffer.as_ref();
        let end = if self.flags() & LENGTH != 0 { usize::from(be16(b, field::LENGTH)).min(b.len()) } else { b.len() };
        &b[header_len(b)..end]
    }
}

/// The length of the flags, the length field (L), tunnel and session ids,
/// and Ns and Nr (S): everything before the offset size.
fn fixed_len(flags: u16) -> usize {
    2 + 2 * usize::from(flags & LENGTH != 0) + 4 + 4 * usize::from(flags & SEQUENCE != 0)
}

/// The header's length: the fixed fields, then (O) the offset size and
/// that much padding.
fn header_len(b: &[u8]) -> usize {
    let flags = be16(b, field::FLAGS);
    let at = fixed_len(flags);
    if flags & OFFSET != 0 { at + 2 + usize::from(be16(b, at..at + 2)) } else { at }
}

/// A view of an L2TPv3 session header over IP: a 32-bit session id, zero
/// for control messages.
#[derive(Debug, Clone, Copy)]
pub struct V3<T: AsRef<[u8]>> {
    buffer: T,
}

/// Cookie lengths RFC 3931 allows, each with and without the 4-byte
/// default L2-specific sublayer: the offsets at which the pseudowire's
/// frame may start after the session id.
const V3_FRAME_OFFSETS: [usize; 6] = [0, 4, 8, 12, 16, 20];

impl<T: AsRef<[u8]>> V3<T> {
    /// A view of `buffer` as it is; the accessors panic if it is shorter
    /// than a session id.
    pub const fn new_unchecked(buffer: T) -> Self {
        V3 { buffer }
    }

    /// A view of `buffer`, once it holds a session id.
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        if buffer.as_ref().len() < field::V3_PAYLOAD.start {
            return Err(DecodeError::L2tpTruncated);
        }
        Ok(V3 { buffer })
    }

    /// The buffer the view was made of.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The session the message belongs to.
    pub fn session_id(&self) -> u32 {
        be32(self.buffer.as_ref(), field::SESSION_ID)
    }

    /// Whether this is a control message (session id 0).
    pub fn is_control(&self) -> bool {
        self.session_id() == 0
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> V3<&'a T> {
    /// The bytes after the session id: the cookie, the L2-specific sublayer
    /// (both as configured at either end, never sent), then the frame.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::V3_PAYLOAD]
    }

    /// The Ethernet frame of an Ethernet pseudowire. The cookie length and
    /// the sublayer are configured at both ends and never sent, so the
    /// frame is looked for at each offset they allow: the first at which an
    /// IPv4 or IPv6 header (or a VLAN tag) follows an Ethernet header.
    pub fn ethernet_frame(&self) -> Option<&'a [u8]> {
        let after_id = self.payload();
        V3_FRAME_OFFSETS.iter().filter_map(|&at| after_id.get(at..)).find(|f| looks_like_ethernet_with_ip(f))
    }
}

fn looks_like_ethernet_with_ip(frame: &[u8]) -> bool {
    let (Some(kind), Some(&next)) = (frame.get(12..14), frame.get(14)) else { return false };
    match u16::from_be_bytes([kind[0], kind[1]]) {
        0x0800 => next >> 4 == 4 && next & 0x0f >= 5,
        0x86dd => next >> 4 == 6,
        0x8100 | 0x88a8 => true,
        _ => false,
    }
}

/// What [`V2Repr::emit`] writes: an L2TPv2 data message with the length
/// field.
#[cfg(feature = "emit")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V2Repr {
    /// The tunnel id.
    pub tunnel: u16,
    /// The session id.
    pub session: u16,
}

#[cfg(feature = "emit")]
impl V2Repr {
    /// The header, then `ppp`.
    pub fn emit(&self, ppp: &[u8]) -> Vec<u8> {
        let mut d = (LENGTH | 2).to_be_bytes().to_vec();
        d.extend_from_slice(&crate::len16(8 + ppp.len()).to_be_bytes());
        d.extend_from_slice(&self.tunnel.to_be_bytes());
        d.extend_from_slice(&self.session.to_be_bytes());
        d.extend_from_slice(ppp);
        d
    }
}

/// What [`V3Repr::emit`] writes: an L2TPv3 data message header over IP
/// with its cookie (0, 4 or 8 bytes).
#[cfg(feature = "emit")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V3Repr<'a> {
    /// The session id.
    pub session: u32,
    /// The cookie.
    pub cookie: &'a [u8],
}

#[cfg(feature = "emit")]
impl V3Repr<'_> {
    /// The header, then `frame` (an Ethernet frame).
    pub fn emit(&self, frame: &[u8]) -> Vec<u8> {
        let mut d = self.session.to_be_bytes().to_vec();
        d.extend_from_slice(self.cookie);
        d.extend_from_slice(frame);
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_optional_fields_move_the_payload() {
        // L and S: length 16, tunnel 3, session 9, Ns, Nr, then PPP.
        let d = [0x48, 0x02, 0, 16, 0, 3, 0, 9, 0, 1, 0, 2, 0xff, 0x03, 0x00, 0x21, 0xee];
        assert!(probe(&d));
        let h = V2::new_checked(&d).unwrap();
        assert_eq!((h.version(), h.is_control(), h.tunnel_id(), h.session_id(), h.header_len()), (2, false, 3, 9, 12));
        assert_eq!(h.payload(), &[0xff, 0x03, 0x00, 0x21], "the length field ends the message");
        // O alone: offset size 2, two bytes of padding.
        let d = [0x02, 0x02, 0, 4, 0, 5, 0, 2, 0, 0, 0x21, 0x45];
        let h = V2::new_checked(&d).unwrap();
        assert_eq!((h.tunnel_id(), h.session_id(), h.payload()), (4, 5, &[0x21, 0x45][..]));
    }

    #[test]
    fn v2_control_other_versions_and_broken_headers() {
        let control = [0xc8, 0x02, 0, 12, 0, 1, 0, 0, 0, 0, 0, 0];
        assert!(!probe(&control) && V2::new_checked(&control).unwrap().is_control());
        let v3 = [0x00, 0x03, 0, 0, 0, 0, 0, 1];
        assert!(!probe(&v3) && !probe(&[0x00]));
        assert_eq!(V2::new_checked(&[0x00]).err(), Some(DecodeError::L2tpTruncated));
        assert_eq!(V2::new_checked(&[0x00, 0x02, 0, 1]).err(), Some(DecodeError::L2tpTruncated));
        assert_eq!(V2::new_checked(&[0x02, 0x02, 0, 1, 0, 1, 0, 9, 0]).err(), Some(DecodeError::L2tpTruncated));
        assert_eq!(V2::new_checked(&[0x10, 0x02, 0, 1, 0, 1]).err(), Some(DecodeError::L2tpBadHeader));
        assert_eq!(V2::new_checked(&[0x40, 0x02, 0, 4, 0, 1, 0, 1]).err(), Some(DecodeError::L2tpBadHeader));
    }

    #[test]
    fn v3_finds_the_ethernet_frame_after_any_cookie() {
        let mut eth = vec![0x02; 12];
        eth.extend_from_slice(&[0x08, 0x00, 0x45, 0]);
        for cookie in [&[][..], &[1, 2, 3, 4], &[9; 8]] {
            let d = [&[0, 0, 0x10, 0x01][..], cookie, &eth].concat();
            let s = V3::new_checked(&d[..]).unwrap();
            assert_eq!((s.session_id(), s.is_control(), s.ethernet_frame()), (0x1001, false, Some(&eth[..])));
        }
        let not_ethernet = [0, 0, 0, 7, 1, 2, 3];
        let s = V3::new_checked(&not_ethernet).unwrap();
        assert_eq!((s.ethernet_frame(), s.payload()), (None, &[1, 2, 3][..]));
        assert!(V3::new_checked(&[0, 0, 0, 0, 0xc8, 0x03]).unwrap().is_control());
        assert_eq!(V3::new_checked(&[0, 0, 1]).err(), Some(DecodeError::L2tpTruncated));
    }

    #[cfg(feature = "emit")]
    #[test]
    fn reads_what_repr_writes() {
        let v2 = V2Repr { tunnel: 3, session: 9 }.emit(&[0xff, 0x03]);
        assert!(probe(&v2));
        let h = V2::new_checked(&v2[..]).unwrap();
        assert_eq!((h.tunnel_id(), h.session_id(), h.payload()), (3, 9, &[0xff, 0x03][..]));
        let v3 = V3Repr { session: 0x1001, cookie: &[1, 2, 3, 4] }.emit(&[0xee]);
        let s = V3::new_checked(&v3[..]).unwrap();
        assert_eq!((s.session_id(), s.payload()), (0x1001, &[1, 2, 3, 4, 0xee][..]));
    }
}
