//! UDP headers (RFC 768).

#[cfg(feature = "emit")]
use std::net::SocketAddr;

#[cfg(feature = "emit")]
use crate::checksum::{checksum, pseudo_header};
#[cfg(feature = "emit")]
use crate::ip::IPPROTO_UDP;
use crate::{DecodeError, be16};

mod field {
    use crate::{Field, Rest};

    pub const SRC_PORT: Field = 0..2;
    pub const DST_PORT: Field = 2..4;
    pub const LENGTH: Field = 4..6;
    pub const CHECKSUM: Field = 6..8;
    pub const PAYLOAD: Rest = 8..;
}

/// The length of a UDP header.
pub const HEADER_LEN: usize = field::PAYLOAD.start;

/// A view of a UDP datagram.
#[derive(Debug, Clone, Copy)]
pub struct Datagram<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Datagram<T> {
    /// A view of `buffer` as it is; the accessors panic if it is shorter
    /// than a header, and `payload` if the length field is 1 to 7.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        Datagram { buffer }
    }

    /// A view of `buffer`, once it holds a header and its length field is
    /// 0 (a jumbogram's, RFC 2675) or at least the header's.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(DecodeError::UdpTruncated);
        }
        let len = usize::from(be16(b, field::LENGTH));
        if len != 0 && len < HEADER_LEN {
            return Err(DecodeError::UdpBadHeader);
        }
        Ok(Datagram { buffer })
    }

    /// The buffer the view was made of.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The source port.
    #[inline]
    pub fn src_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::SRC_PORT)
    }

    /// The destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::DST_PORT)
    }

    /// The length field: header and payload, or 0 for a jumbogram.
    #[inline]
    pub fn length(&self) -> u16 {
        be16(self.buffer.as_ref(), field::LENGTH)
    }

    /// The checksum field (0: none was computed).
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Datagram<&'a T> {
    /// The bytes after the header up to the datagram's length (trusted only
    /// as far as it was captured; a jumbogram's is the capture), borrowed for
    /// as long as the datagram is.
    #[allow(clippy::inline_always, reason = "on every packet's decode path; callgrind showed it left out of line")]
    #[inline(always)]
    pub fn payload(&self) -> &'a [u8] {
        let b = self.buffer.as_ref();
        let end = match usize::from(be16(b, field::LENGTH)) {
            0 => b.len(),
            len => len.min(b.len()),
        };
        &b[HEADER_LEN..end]
    }
}

/// What [`Repr::emit`] writes: a UDP header with its checksum.
#[cfg(feature = "emit")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// The source address and port (the address goes into the checksum).
    pub src: SocketAddr,
    /// The destination address and port.
    pub dst: SocketAddr,
}

#[cfg(feature = "emit")]
impl Repr {
    /// The header, then `payload`.
    pub fn emit(&self, payload: &[u8]) -> Vec<u8> {
        let len = HEADER_LEN + payload.len();
        let mut d = Vec::with_capacity(len);
        d.extend_from_slice(&self.src.port().to_be_bytes());
        d.extend_from_slice(&self.dst.port().to_be_bytes());
        d.extend_from_slice(&crate::len16(len).to_be_bytes());
        d.extend_from_slice(&[0, 0]);
        d.extend_from_slice(payload);
        let sum = match checksum(&[&pseudo_header(self.src.ip(), self.dst.ip(), IPPROTO_UDP, len), &d]) {
            0 => 0xffff, // zero means "no checksum" in UDP
            s => s,
        };
        d[field::CHECKSUM].copy_from_slice(&sum.to_be_bytes());
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_payload_to_udp_length() {
        let d = [0x30, 0x39, 0, 53, 0, 10, 0, 0, b'o', b'k', 0, 0];
        let u = Datagram::new_checked(&d).unwrap();
        assert_eq!((u.src_port(), u.dst_port(), u.payload()), (12345, 53, &b"ok"[..]));
        assert_eq!(Datagram::new_checked(&d[..7]).err(), Some(DecodeError::UdpTruncated));
        let bad = [0, 1, 0, 2, 0, 3, 0, 0];
        assert_eq!(Datagram::new_checked(&bad).err(), Some(DecodeError::UdpBadHeader));
    }

    #[test]
    fn a_view_can_own_its_buffer() {
        let owned = Datagram::new_checked(vec![0x30, 0x39, 0, 53, 0, 8, 0, 0]).unwrap();
        assert_eq!((owned.src_port(), owned.dst_port()), (12345, 53));
        assert_eq!(Datagram::new_checked(vec![0; 7]).err(), Some(DecodeError::UdpTruncated));
        assert_eq!(owned.into_inner().len(), 8);
    }

    #[test]
    fn a_jumbogram_runs_to_the_end_of_the_capture() {
        let d = [0, 1, 0, 2, 0, 0, 0, 0, 7, 7];
        assert_eq!(Datagram::new_checked(&d).unwrap().payload(), &[7, 7]);
    }

    #[cfg(feature = "emit")]
    #[test]
    fn reads_what_repr_writes() {
        let (src, dst) = ("192.0.2.1:5353".parse().unwrap(), "192.0.2.2:53".parse().unwrap());
        let d = Repr { src, dst }.emit(b"q");
        let u = Datagram::new_checked(&d[..]).unwrap();
        assert_eq!((u.src_port(), u.dst_port(), u.length(), u.payload()), (5353, 53, 9, &b"q"[..]));
        assert_ne!(u.checksum(), 0);
    }
}
