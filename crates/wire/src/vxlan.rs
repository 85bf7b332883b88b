//! VXLAN headers (RFC 7348): 8 bytes in front of an Ethernet frame.

use crate::{DecodeError, be32};

/// The IANA port; only the destination port identifies the tunnel, since
/// senders pick the source port from a hash of the inner flow.
pub const PORT: u16 = 4789;

/// The I flag: the VNI is valid. RFC 7348 defines no other.
const FLAG_I: u8 = 0x08;

mod field {
    use crate::{Field, Rest};

    pub const FLAGS: usize = 0;
    pub const RESERVED1: Field = 1..4;
    /// The 24-bit VNI, then a reserved byte.
    pub const VNI_RESERVED2: Field = 4..8;
    pub const RESERVED2: usize = 7;
    pub const PAYLOAD: Rest = 8..;
}

/// The length of a VXLAN header.
pub const HEADER_LEN: usize = field::PAYLOAD.start;

/// Whether `buffer` starts like a VXLAN header: the I flag alone among the
/// flags and every reserved byte there is zero. What fails is other traffic
/// on the port (ordinary UDP), not an error.
pub fn probe(buffer: &[u8]) -> bool {
    match buffer.get(..field::RESERVED1.end) {
        Some(h) => {
            h[field::FLAGS] == FLAG_I
                && h[field::RESERVED1] == [0, 0, 0]
                && buffer.get(field::RESERVED2).is_none_or(|&r| r == 0)
        }
        None => false,
    }
}

/// A view of a VXLAN header.
#[derive(Debug, Clone, Copy)]
pub struct Header<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Header<T> {
    /// A view of `buffer` as it is; the accessors panic if it is shorter
    /// than a header.
    pub const fn new_unchecked(buffer: T) -> Self {
        Header { buffer }
    }

    /// A view of `buffer`, once it holds a whole header.
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(DecodeError::VxlanTruncated);
        }
        Ok(Header { buffer })
    }

    /// The buffer the view was made of.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The flags byte (the I flag, 0x08, in a valid header).
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }

    /// The 24-bit VXLAN network identifier.
    pub fn vni(&self) -> u32 {
        be32(self.buffer.as_ref(), field::VNI_RESERVED2) >> 8
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Header<&'a T> {
    /// The inner Ethernet frame.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::PAYLOAD]
    }
}

/// What [`Repr::emit`] writes: a VXLAN header with the I flag.
#[cfg(feature = "emit")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// The VNI (its low 24 bits).
    pub vni: u32,
}

#[cfg(feature = "emit")]
impl Repr {
    /// The header, then `frame`.
    pub fn emit(&self, frame: &[u8]) -> Vec<u8> {
        let mut v = vec![FLAG_I, 0, 0, 0];
        v.extend_from_slice(&((self.vni & 0x00ff_ffff) << 8).to_be_bytes());
        v.extend_from_slice(frame);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vni_and_rejects_lookalikes() {
        let h = [0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0, 0xee];
        assert!(probe(&h));
        let v = Header::new_checked(&h).unwrap();
        assert_eq!((v.flags(), v.vni(), v.payload()), (FLAG_I, 0x12_3456, &[0xee][..]));
        for (i, b) in [(0, 0x00), (0, 0x88), (2, 1), (7, 1)] {
            let mut bad = h;
            bad[i] = b;
            assert!(!probe(&bad), "byte {i} = {b:#x}");
        }
        assert!(!probe(&h[..3]));
    }

    #[test]
    fn a_header_cut_before_its_vni_is_truncated() {
        let cut = [0x08, 0, 0, 0, 0x12];
        assert!(probe(&cut));
        assert_eq!(Header::new_checked(&cut).err(), Some(DecodeError::VxlanTruncated));
    }

    #[cfg(feature = "emit")]
    #[test]
    fn reads_what_repr_writes() {
        let v = Repr { vni: 0x0102_0304 }.emit(&[0xee]);
        assert!(probe(&v));
        let h = Header::new_checked(&v[..]).unwrap();
        assert_eq!((h.vni(), h.payload(), h.into_inner().len()), (0x02_0304, &[0xee][..], 9));
    }
}
