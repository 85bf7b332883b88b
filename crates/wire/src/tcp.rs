//! TCP headers (RFC 9293): ports, sequence number, flags, options skipped.

#[cfg(feature = "emit")]
use std::net::SocketAddr;

#[cfg(feature = "emit")]
use crate::checksum::{checksum, pseudo_header};
#[cfg(feature = "emit")]
use crate::ip::IPPROTO_TCP;
use crate::{DecodeError, be16};

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;

/// A view of a TCP segment whose data offset was checked.
pub struct Segment<'a> {
    buffer: &'a [u8],
    header_len: usize,
}

impl<'a> Segment<'a> {
    pub fn new_checked(buffer: &'a [u8]) -> Result<Self, DecodeError> {
        if buffer.len() < 20 {
            return Err(DecodeError::TcpTruncated);
        }
        let header_len = usize::from(buffer[12] >> 4) * 4;
        if header_len < 20 {
            return Err(DecodeError::TcpBadHeader);
        }
        if buffer.len() < header_len {
            return Err(DecodeError::TcpTruncated);
        }
        Ok(Segment { buffer, header_len })
    }

    pub fn src_port(&self) -> u16 {
        be16(self.buffer, 0)
    }

    pub fn dst_port(&self) -> u16 {
        be16(self.buffer, 2)
    }

    pub fn seq(&self) -> u32 {
        u32::from_be_bytes([self.buffer[4], self.buffer[5], self.buffer[6], self.buffer[7]])
    }

    pub fn flags(&self) -> u8 {
        self.buffer[13]
    }

    pub fn payload(&self) -> &'a [u8] {
        &self.buffer[self.header_len..]
    }
}

/// What [`Repr::emit`] writes: a TCP header with its checksum; SYNs carry an
/// MSS option of 1460.
#[cfg(feature = "emit")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    /// Written only when [`ACK`] is among the flags.
    pub ack: u32,
    pub flags: u8,
}

#[cfg(feature = "emit")]
impl Repr {
    /// The header, then `payload`.
    pub fn emit(&self, payload: &[u8]) -> Vec<u8> {
        let options: &[u8] = if self.flags & SYN != 0 { &[2, 4, 0x05, 0xb4] } else { &[] };
        let header_len = 20 + options.len();
        let mut s = Vec::with_capacity(header_len + payload.len());
        s.extend_from_slice(&self.src.port().to_be_bytes());
        s.extend_from_slice(&self.dst.port().to_be_bytes());
        s.extend_from_slice(&self.seq.to_be_bytes());
        s.extend_from_slice(&(if self.flags & ACK != 0 { self.ack } else { 0 }).to_be_bytes());
        s.push(((header_len / 4) as u8) << 4);
        s.push(self.flags);
        s.extend_from_slice(&64240u16.to_be_bytes());
        s.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
        s.extend_from_slice(options);
        s.extend_from_slice(payload);
        let pseudo = pseudo_header(self.src.ip(), self.dst.ip(), IPPROTO_TCP, s.len());
        let sum = checksum(&[&pseudo, &s]);
        s[16..18].copy_from_slice(&sum.to_be_bytes());
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_header_with_options() {
        let mut seg = vec![0xc0, 0x01, 0x01, 0xbb, 0, 0, 1, 0, 0, 0, 0, 0, 0x60, SYN, 0xff, 0xff, 0, 0, 0, 0];
        seg.extend_from_slice(&[2, 4, 5, 0xb4]); // MSS option
        seg.extend_from_slice(b"hi");
        let s = Segment::new_checked(&seg).unwrap();
        assert_eq!((s.src_port(), s.dst_port(), s.seq(), s.flags()), (49153, 443, 256, SYN));
        assert_eq!(s.payload(), b"hi");
        seg[12] = 0x40;
        assert_eq!(Segment::new_checked(&seg).err(), Some(DecodeError::TcpBadHeader));
        seg[12] = 0xf0;
        assert_eq!(Segment::new_checked(&seg).err(), Some(DecodeError::TcpTruncated));
    }
}
