//! UDP headers (RFC 768).

#[cfg(feature = "emit")]
use std::net::SocketAddr;

#[cfg(feature = "emit")]
use crate::checksum::{checksum, pseudo_header};
#[cfg(feature = "emit")]
use crate::ip::IPPROTO_UDP;
use crate::{DecodeError, be16};

/// A view of a UDP datagram.
pub struct Datagram<T: AsRef<[u8]>> {
    buffer: T,
    /// Where the datagram ends: its length field, as far as it was captured.
    end: usize,
}

impl<T: AsRef<[u8]>> Datagram<T> {
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        let b = buffer.as_ref();
        if b.len() < 8 {
            return Err(DecodeError::UdpTruncated);
        }
        let len = usize::from(be16(b, 4));
        // Length 0 is legal for jumbograms (RFC 2675); otherwise trust it
        // only as far as it was captured.
        if len != 0 && len < 8 {
            return Err(DecodeError::UdpBadHeader);
        }
        let end = if len == 0 { b.len() } else { len.min(b.len()) };
        Ok(Datagram { buffer, end })
    }

    pub fn src_port(&self) -> u16 {
        be16(self.buffer.as_ref(), 0)
    }

    pub fn dst_port(&self) -> u16 {
        be16(self.buffer.as_ref(), 2)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Datagram<&'a T> {
    /// The bytes after the header up to the datagram's length, borrowed for
    /// as long as the datagram is.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[8..self.end]
    }
}

/// What [`Repr::emit`] writes: a UDP header with its checksum.
#[cfg(feature = "emit")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub src: SocketAddr,
    pub dst: SocketAddr,
}

#[cfg(feature = "emit")]
impl Repr {
    /// The header, then `payload`.
    pub fn emit(&self, payload: &[u8]) -> Vec<u8> {
        let len = 8 + payload.len();
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
        d[6..8].copy_from_slice(&sum.to_be_bytes());
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
    }
}
