//! ERSPAN headers (draft-foschiano-erspan), carried in GRE: type II has an
//! 8-byte header before the mirrored Ethernet frame; type III has 12 bytes,
//! plus an 8-byte platform-specific subheader when its O flag is set, and
//! says whether an Ethernet frame or an IP packet follows. Type I has no
//! header at all, so it needs no view. Each type has its own view: the GRE
//! protocol type says which to expect.

use crate::{DecodeError, be16};

/// What a type III header says follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mirrored {
    /// An Ethernet frame (frame type 0).
    Ethernet,
    /// An IP packet (frame type 2).
    Ip,
    /// A frame type this decoder does not know.
    Other,
}

mod field {
    use crate::{Field, Rest};

    /// The version (4 bits), then the VLAN's top bits.
    pub const VERSION: usize = 0;
    /// COS, En and T bits, then the 10-bit session id.
    pub const SESSION: Field = 2..4;
    pub const II_PAYLOAD: Rest = 8..;
    /// Type III: P, the 5-bit frame type, and the top of the hardware id.
    pub const III_FRAME_TYPE: usize = 10;
    /// Type III: the rest of the hardware id, D, granularity and O.
    pub const III_FLAGS: usize = 11;
    pub const III_LEN: usize = 12;
    pub const III_SUBHEADER_LEN: usize = 8;
}

/// A view of an ERSPAN type II header (version 1), which GRE protocol
/// [`PROTO_ERSPAN_II`](crate::gre::PROTO_ERSPAN_II) announces when it has a
/// sequence number.
#[derive(Debug, Clone, Copy)]
pub struct TypeII<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TypeII<T> {
    /// A view of `buffer` as it is; the accessors panic if it is shorter
    /// than a header.
    pub const fn new_unchecked(buffer: T) -> Self {
        TypeII { buffer }
    }

    /// A view of `buffer`, once it holds a header whose version is 1.
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        let b = buffer.as_ref();
        if b.len() < field::II_PAYLOAD.start {
            return Err(DecodeError::ErspanTruncated);
        }
        if b[field::VERSION] >> 4 != 1 {
            return Err(DecodeError::ErspanBadHeader);
        }
        Ok(TypeII { buffer })
    }

    /// The buffer the view was made of.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The monitoring session (10 bits), which identifies the mirror source.
    pub fn session_id(&self) -> u16 {
        be16(self.buffer.as_ref(), field::SESSION) & 0x03ff
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> TypeII<&'a T> {
    /// The mirrored Ethernet frame.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::II_PAYLOAD]
    }
}

/// A view of an ERSPAN type III header (version 2), which GRE protocol
/// [`PROTO_ERSPAN_III`](crate::gre::PROTO_ERSPAN_III) announces.
#[derive(Debug, Clone, Copy)]
pub struct TypeIII<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TypeIII<T> {
    /// A view of `buffer` as it is; the accessors panic if it is shorter
    /// than a header (with its subheader, when the O flag says).
    pub const fn new_unchecked(buffer: T) -> Self {
        TypeIII { buffer }
    }

    /// A view of `buffer`, once it holds a header whose version is 2, and
    /// the platform subheader when its O flag says there is one.
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        let b = buffer.as_ref();
        if b.len() < field::III_LEN {
            return Err(DecodeError::ErspanTruncated);
        }
        if b[field::VERSION] >> 4 != 2 {
            return Err(DecodeError::ErspanBadHeader);
        }
        if b.len() < header_len_iii(b) {
            return Err(DecodeError::ErspanTruncated);
        }
        Ok(TypeIII { buffer })
    }

    /// The buffer the view was made of.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The monitoring session (10 bits), which identifies the mirror source.
    pub fn session_id(&self) -> u16 {
        be16(self.buffer.as_ref(), field::SESSION) & 0x03ff
    }

    /// The O flag: an 8-byte platform-specific subheader follows.
    pub fn has_subheader(&self) -> bool {
        self.buffer.as_ref()[field::III_FLAGS] & 0x01 != 0
    }

    /// What follows the header, by its 5-bit frame type.
    pub fn mirrored(&self) -> Mirrored {
        match (self.buffer.as_ref()[field::III_FRAME_TYPE] >> 2) & 0x1f {
            0 => Mirrored::Ethernet,
            2 => Mirrored::Ip,
            _ => Mirrored::Other,
        }
    }

    /// The header's length, with its subheader.
    pub fn header_len(&self) -> usize {
        header_len_iii(self.buffer.as_ref())
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> TypeIII<&'a T> {
    /// The mirrored frame or packet.
    pub fn payload(&self) -> &'a [u8] {
        let b = self.buffer.as_ref();
        &b[header_len_iii(b)..]
    }
}

/// The length of the type III header of `b`, which holds its fixed part.
fn header_len_iii(b: &[u8]) -> usize {
    let subheader = b[field::III_FLAGS] & 0x01 != 0;
    field::III_LEN + if subheader { field::III_SUBHEADER_LEN } else { 0 }
}

/// What [`ReprII::emit`] writes: an ERSPAN type II header (version 1) in
/// front of the mirrored Ethernet frame.
#[cfg(feature = "emit")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReprII {
    /// The session id (its low 10 bits).
    pub session: u16,
    /// The original VLAN.
    pub vlan: u16,
    /// The port the frame was taken from (20 bits).
    pub index: u32,
}

#[cfg(feature = "emit")]
impl ReprII {
    /// The header, then `frame`.
    pub fn emit(&self, frame: &[u8]) -> Vec<u8> {
        let session = self.session & 0x03ff;
        // En = 3: the frame keeps its VLAN tags (a trunk port's mirror).
        let en = 3u8;
        let ([vlan_hi, vlan_lo], [session_hi, session_lo]) = (self.vlan.to_be_bytes(), session.to_be_bytes());
        let mut e = vec![0x10 | (vlan_hi & 0x0f), vlan_lo, (en << 3) | session_hi, session_lo];
        e.extend_from_slice(&(self.index & 0x000f_ffff).to_be_bytes());
        e.extend_from_slice(frame);
        e
    }
}

/// What [`ReprIII::emit`] writes: an ERSPAN type III header (version 2) in
/// front of a mirrored Ethernet frame (frame type 0), with a timestamp in
/// 100 us units and, when `platform` is given, the 8-byte
/// platform-specific subheader (O flag) of platform id 3.
#[cfg(feature = "emit")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReprIII {
    /// The session id (its low 10 bits).
    pub session: u16,
    /// The timestamp, in 100 us units.
    pub timestamp: u32,
    /// The port index and the timestamp's upper seconds.
    pub platform: Option<(u32, u32)>,
}

#[cfg(feature = "emit")]
impl ReprIII {
    /// The header, then `frame`.
    pub fn emit(&self, frame: &[u8]) -> Vec<u8> {
        let session = self.session & 0x03ff;
        let [session_hi, session_lo] = session.to_be_bytes();
        let mut e = vec![0x20, 0x00, session_hi, session_lo];
        e.extend_from_slice(&self.timestamp.to_be_bytes());
        e.extend_from_slice(&[0, 0]); // security group tag
        // P = 0, frame type 0 (Ethernet), hardware id 1, D = 0, granularity
        // 00 (100 us), O when a subheader follows.
        let hw_id = 1u8;
        e.push(hw_id >> 4);
        e.push(((hw_id & 0x0f) << 4) | u8::from(self.platform.is_some()));
        if let Some((port, seconds)) = self.platform {
            e.extend_from_slice(&((3u32 << 26) | (port & 0x03ff_ffff)).to_be_bytes());
            e.extend_from_slice(&seconds.to_be_bytes());
        }
        e.extend_from_slice(frame);
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_ii_session_and_payload() {
        // Version 1, VLAN 0x00a, session 0x2ab (the top bits of byte 2 are COS/En/T).
        let h = [0x10, 0x0a, 0xfe, 0xab, 0, 0, 0, 5, 0xee];
        let e = TypeII::new_checked(&h).unwrap();
        assert_eq!((e.session_id(), e.payload()), (0x2ab, &[0xee][..]));
        assert_eq!(TypeII::new_checked(&h[..7]).err(), Some(DecodeError::ErspanTruncated));
        let mut long = h.to_vec();
        long.resize(12, 0);
        assert_eq!(
            TypeIII::new_checked(&long).err(),
            Some(DecodeError::ErspanBadHeader),
            "a type II header where III belongs"
        );
        let v2 = [0x20, 0x01, 0, 0, 0, 0, 0, 0];
        assert_eq!(TypeII::new_checked(&v2).err(), Some(DecodeError::ErspanBadHeader), "version 2 in type II");
    }

    #[test]
    fn type_iii_subheader_and_frame_type() {
        let mut h = vec![0x20, 0x00, 0x00, 0x11, 0, 0, 0, 0, 0, 0, 0x08, 0x00, 0xee];
        let e = TypeIII::new_checked(&h[..]).unwrap();
        assert_eq!(
            (e.session_id(), e.mirrored(), e.has_subheader(), e.payload()),
            (0x11, Mirrored::Ip, false, &[0xee][..])
        );
        h[10] = 0;
        h[11] = 0x01; // O: an 8-byte platform subheader follows
        assert_eq!(TypeIII::new_checked(&h[..]).err(), Some(DecodeError::ErspanTruncated));
        h.extend_from_slice(&[0xdd; 8]);
        let e = TypeIII::new_checked(&h[..]).unwrap();
        assert_eq!((e.header_len(), e.mirrored(), e.payload()), (20, Mirrored::Ethernet, &[0xdd][..]));
        h[10] = 0x0c;
        assert_eq!(TypeIII::new_checked(&h[..]).unwrap().mirrored(), Mirrored::Other);
    }

    #[cfg(feature = "emit")]
    #[test]
    fn reads_what_repr_writes() {
        let ii = ReprII { session: 0x155, vlan: 30, index: 7 }.emit(&[0xee]);
        let e = TypeII::new_checked(&ii[..]).unwrap();
        assert_eq!((e.session_id(), e.payload()), (0x155, &[0xee][..]));
        for platform in [None, Some((4, 1))] {
            let iii = ReprIII { session: 9, timestamp: 1, platform }.emit(&[0xee]);
            let e = TypeIII::new_checked(&iii[..]).unwrap();
            assert_eq!((e.session_id(), e.has_subheader(), e.payload()), (9, platform.is_some(), &[0xee][..]));
        }
    }
}
