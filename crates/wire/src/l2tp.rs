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

/// A view of an L2TPv2 data message whose optional fields were checked.
pub struct V2<'a> {
    buffer: &'a [u8],
    payload_at: usize,
    end: usize,
}

impl<'a> V2<'a> {
    /// `Ok(None)` for control messages and for headers of other versions
    /// (L2TPv3 over UDP, or not L2TP at all): they carry no IP to open.
    pub fn new_checked(buffer: &'a [u8]) -> Result<Option<Self>, DecodeError> {
        if buffer.len() < 2 {
            return Err(DecodeError::L2tpTruncated);
        }
        let flags = be16(buffer, 0);
        if flags & VERSION_MASK != 2 || flags & TYPE_CONTROL != 0 {
            return Ok(None);
        }
        if flags & RESERVED != 0 {
            return Err(DecodeError::L2tpBadHeader);
        }
        let mut at = 2 + 2 * usize::from(flags & LENGTH != 0) + 4 + 4 * usize::from(flags & SEQUENCE != 0);
        if flags & OFFSET != 0 {
            let size = buffer.get(at..at + 2).ok_or(DecodeError::L2tpTruncated)?;
            at += 2 + usize::from(u16::from_be_bytes([size[0], size[1]]));
        }
        if buffer.len() < at {
            return Err(DecodeError::L2tpTruncated);
        }
        let end = if flags & LENGTH != 0 {
            let len = usize::from(be16(buffer, 2));
            if len < at {
                return Err(DecodeError::L2tpBadHeader);
            }
            len.min(buffer.len())
        } else {
            buffer.len()
        };
        Ok(Some(V2 { buffer, payload_at: at, end }))
    }

    fn ids_at(&self) -> usize {
        if be16(self.buffer, 0) & LENGTH != 0 { 4 } else { 2 }
    }

    pub fn tunnel_id(&self) -> u16 {
        be16(self.buffer, self.ids_at())
    }

    pub fn session_id(&self) -> u16 {
        be16(self.buffer, self.ids_at() + 2)
    }

    /// The PPP frame.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer[self.payload_at..self.end]
    }
}

/// A view of an L2TPv3 session header over IP: a 32-bit session id, zero
/// for control messages.
pub struct V3<'a> {
    buffer: &'a [u8],
}

/// Cookie lengths RFC 3931 allows, each with and without the 4-byte
/// default L2-specific sublayer: the offsets at which the pseudowire's
/// frame may start after the session id.
const V3_FRAME_OFFSETS: [usize; 6] = [0, 4, 8, 12, 16, 20];

impl<'a> V3<'a> {
    pub fn new_checked(buffer: &'a [u8]) -> Result<Self, DecodeError> {
        if buffer.len() < 4 {
            return Err(DecodeError::L2tpTruncated);
        }
        Ok(V3 { buffer })
    }

    pub fn session_id(&self) -> u32 {
        be32(self.buffer, 0)
    }

    pub fn is_control(&self) -> bool {
        self.session_id() == 0
    }

    /// The Ethernet frame of an Ethernet pseudowire. The cookie length and
    /// the sublayer are configured at both ends and never sent, so the
    /// frame is looked for at each offset they allow: the first at which an
    /// IPv4 or IPv6 header (or a VLAN tag) follows an Ethernet header.
    pub fn ethernet_frame(&self) -> Option<&'a [u8]> {
        let after_id = &self.buffer[4..];
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

/// An L2TPv2 data message (with the length field) of `tunnel` and
/// `session` carrying `ppp`.
#[cfg(feature = "emit")]
pub fn emit_v2(tunnel: u16, session: u16, ppp: &[u8]) -> Vec<u8> {
    let mut d = (LENGTH | 2).to_be_bytes().to_vec();
    d.extend_from_slice(&crate::len16(8 + ppp.len()).to_be_bytes());
    d.extend_from_slice(&tunnel.to_be_bytes());
    d.extend_from_slice(&session.to_be_bytes());
    d.extend_from_slice(ppp);
    d
}

/// An L2TPv3 data message over IP of `session` with `cookie` (0, 4 or 8
/// bytes) carrying an Ethernet frame.
#[cfg(feature = "emit")]
pub fn emit_v3(session: u32, cookie: &[u8], frame: &[u8]) -> Vec<u8> {
    let mut d = session.to_be_bytes().to_vec();
    d.extend_from_slice(cookie);
    d.extend_from_slice(frame);
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_optional_fields_move_the_payload() {
        // L and S: length 16, tunnel 3, session 9, Ns, Nr, then PPP.
        let d = [0x48, 0x02, 0, 16, 0, 3, 0, 9, 0, 1, 0, 2, 0xff, 0x03, 0x00, 0x21, 0xee];
        let h = V2::new_checked(&d).unwrap().unwrap();
        assert_eq!((h.tunnel_id(), h.session_id()), (3, 9));
        assert_eq!(h.payload(), &[0xff, 0x03, 0x00, 0x21], "the length field ends the message");
        // O alone: offset size 2, two bytes of padding.
        let d = [0x02, 0x02, 0, 4, 0, 5, 0, 2, 0, 0, 0x21, 0x45];
        let h = V2::new_checked(&d).unwrap().unwrap();
        assert_eq!((h.tunnel_id(), h.session_id(), h.payload()), (4, 5, &[0x21, 0x45][..]));
    }

    #[test]
    fn v2_control_other_versions_and_broken_headers() {
        let control = [0xc8, 0x02, 0, 12, 0, 1, 0, 0, 0, 0, 0, 0];
        assert!(V2::new_checked(&control).unwrap().is_none());
        let v3 = [0x00, 0x03, 0, 0, 0, 0, 0, 1];
        assert!(V2::new_checked(&v3).unwrap().is_none());
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
            let s = V3::new_checked(&d).unwrap();
            assert_eq!((s.session_id(), s.is_control(), s.ethernet_frame()), (0x1001, false, Some(&eth[..])));
        }
        let not_ethernet = [0, 0, 0, 7, 1, 2, 3];
        assert_eq!(V3::new_checked(&not_ethernet).unwrap().ethernet_frame(), None);
        assert!(V3::new_checked(&[0, 0, 0, 0, 0xc8, 0x03]).unwrap().is_control());
        assert_eq!(V3::new_checked(&[0, 0, 1]).err(), Some(DecodeError::L2tpTruncated));
    }
}
