//! ERSPAN headers (draft-foschiano-erspan), carried in GRE: type II has an
//! 8-byte header before the mirrored Ethernet frame; type III has 12 bytes,
//! plus an 8-byte platform-specific subheader when its O flag is set, and
//! says whether an Ethernet frame or an IP packet follows. Type I has no
//! header at all, so it needs no view.

use crate::{DecodeError, be16};

/// Which ERSPAN header to expect: the GRE protocol type tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    II,
    III,
}

/// What an ERSPAN header says follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mirrored {
    Ethernet,
    Ip,
    /// A type III frame type this decoder does not know.
    Other,
}

/// A view of an ERSPAN type II or III header.
pub struct Header<'a> {
    buffer: &'a [u8],
    kind: Type,
    header_len: usize,
}

impl<'a> Header<'a> {
    pub fn new_checked(buffer: &'a [u8], kind: Type) -> Result<Self, DecodeError> {
        // The version field is 1 for type II and 2 for type III.
        let (fixed, version) = match kind {
            Type::II => (8, 1),
            Type::III => (12, 2),
        };
        if buffer.len() < fixed {
            return Err(DecodeError::ErspanTruncated);
        }
        if buffer[0] >> 4 != version {
            return Err(DecodeError::ErspanBadHeader);
        }
        let subheader = kind == Type::III && buffer[11] & 0x01 != 0;
        let header_len = if subheader { fixed + 8 } else { fixed };
        if buffer.len() < header_len {
            return Err(DecodeError::ErspanTruncated);
        }
        Ok(Header { buffer, kind, header_len })
    }

    /// The monitoring session (10 bits), which identifies the mirror source.
    pub fn session_id(&self) -> u16 {
        be16(self.buffer, 2) & 0x03ff
    }

    pub fn mirrored(&self) -> Mirrored {
        match self.kind {
            Type::II => Mirrored::Ethernet,
            // The 5-bit frame type: 0 is Ethernet, 2 an IP packet.
            Type::III => match (self.buffer[10] >> 2) & 0x1f {
                0 => Mirrored::Ethernet,
                2 => Mirrored::Ip,
                _ => Mirrored::Other,
            },
        }
    }

    pub fn payload(&self) -> &'a [u8] {
        &self.buffer[self.header_len..]
    }
}

/// An ERSPAN type II header (version 1) in front of the mirrored Ethernet
/// frame: `vlan` is the original VLAN, `index` the port it was taken from.
#[cfg(feature = "emit")]
pub fn emit_ii(session: u16, vlan: u16, index: u32, frame: &[u8]) -> Vec<u8> {
    let session = session & 0x03ff;
    // En = 3: the frame keeps its VLAN tags (a trunk port's mirror).
    let en = 3u8;
    let ([vlan_hi, vlan_lo], [session_hi, session_lo]) = (vlan.to_be_bytes(), session.to_be_bytes());
    let mut e = vec![0x10 | (vlan_hi & 0x0f), vlan_lo, (en << 3) | session_hi, session_lo];
    e.extend_from_slice(&(index & 0x000f_ffff).to_be_bytes());
    e.extend_from_slice(frame);
    e
}

/// An ERSPAN type III header (version 2) in front of a mirrored Ethernet
/// frame (frame type 0), with a timestamp in 100 us units and, when
/// `platform` is given, the 8-byte platform-specific subheader (O flag)
/// of platform id 3: the port index and the timestamp's upper seconds.
#[cfg(feature = "emit")]
pub fn emit_iii(session: u16, timestamp: u32, platform: Option<(u32, u32)>, frame: &[u8]) -> Vec<u8> {
    let session = session & 0x03ff;
    let [session_hi, session_lo] = session.to_be_bytes();
    let mut e = vec![0x20, 0x00, session_hi, session_lo];
    e.extend_from_slice(&timestamp.to_be_bytes());
    e.extend_from_slice(&[0, 0]); // security group tag
    // P = 0, frame type 0 (Ethernet), hardware id 1, D = 0, granularity
    // 00 (100 us), O when a subheader follows.
    let hw_id = 1u8;
    e.push(hw_id >> 4);
    e.push(((hw_id & 0x0f) << 4) | u8::from(platform.is_some()));
    if let Some((port, seconds)) = platform {
        e.extend_from_slice(&((3u32 << 26) | (port & 0x03ff_ffff)).to_be_bytes());
        e.extend_from_slice(&seconds.to_be_bytes());
    }
    e.extend_from_slice(frame);
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_ii_session_and_payload() {
        // Version 1, VLAN 0x00a, session 0x2ab (the top bits of byte 2 are COS/En/T).
        let h = [0x10, 0x0a, 0xfe, 0xab, 0, 0, 0, 5, 0xee];
        let e = Header::new_checked(&h, Type::II).unwrap();
        assert_eq!((e.session_id(), e.mirrored(), e.payload()), (0x2ab, Mirrored::Ethernet, &[0xee][..]));
        assert_eq!(Header::new_checked(&h[..7], Type::II).err(), Some(DecodeError::ErspanTruncated));
        let mut long = h.to_vec();
        long.resize(12, 0);
        assert_eq!(
            Header::new_checked(&long, Type::III).err(),
            Some(DecodeError::ErspanBadHeader),
            "a type II header where III belongs"
        );
    }

    #[test]
    fn type_iii_subheader_and_frame_type() {
        let mut h = vec![0x20, 0x00, 0x00, 0x11, 0, 0, 0, 0, 0, 0, 0x08, 0x00, 0xee];
        let e = Header::new_checked(&h, Type::III).unwrap();
        assert_eq!((e.session_id(), e.mirrored(), e.payload()), (0x11, Mirrored::Ip, &[0xee][..]));
        h[10] = 0;
        h[11] = 0x01; // O: an 8-byte platform subheader follows
        assert_eq!(Header::new_checked(&h, Type::III).err(), Some(DecodeError::ErspanTruncated));
        h.extend_from_slice(&[0xdd; 8]);
        let e = Header::new_checked(&h, Type::III).unwrap();
        assert_eq!((e.mirrored(), e.payload()), (Mirrored::Ethernet, &[0xdd][..]));
        h[10] = 0x0c;
        assert_eq!(Header::new_checked(&h, Type::III).unwrap().mirrored(), Mirrored::Other);
    }
}
