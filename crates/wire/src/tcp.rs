//! TCP headers (RFC 9293): ports, sequence number, flags, window, options.

#[cfg(feature = "emit")]
use std::net::SocketAddr;

#[cfg(feature = "emit")]
use crate::checksum::{checksum, pseudo_header};
#[cfg(feature = "emit")]
use crate::ip::IPPROTO_TCP;
use crate::{DecodeError, be16};

/// No more data from the sender.
pub const FIN: u8 = 0x01;
/// Synchronise sequence numbers: a connection opens.
pub const SYN: u8 = 0x02;
/// Reset the connection.
pub const RST: u8 = 0x04;
/// Push the data to the application.
pub const PSH: u8 = 0x08;
/// The acknowledgment number is valid.
pub const ACK: u8 = 0x10;

/// A view of a TCP segment whose data offset was checked.
pub struct Segment<'a> {
    buffer: &'a [u8],
    header_len: usize,
}

impl<'a> Segment<'a> {
    /// A view of `buffer`, once its header and data offset are checked.
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

    /// The source port.
    pub fn src_port(&self) -> u16 {
        be16(self.buffer, 0)
    }

    /// The destination port.
    pub fn dst_port(&self) -> u16 {
        be16(self.buffer, 2)
    }

    /// The sequence number.
    pub fn seq(&self) -> u32 {
        u32::from_be_bytes([self.buffer[4], self.buffer[5], self.buffer[6], self.buffer[7]])
    }

    /// The flags byte ([`FIN`], [`SYN`], ...).
    pub fn flags(&self) -> u8 {
        self.buffer[13]
    }

    /// The window, unscaled (as a SYN announces it).
    pub fn window(&self) -> u16 {
        be16(self.buffer, 14)
    }

    /// The options, in order; a malformed one ends them.
    pub fn options(&self) -> Options<'a> {
        Options { rest: &self.buffer[20..self.header_len] }
    }

    /// The bytes after the header and its options.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer[self.header_len..]
    }
}

/// Option kinds (IANA "TCP Option Kind Numbers").
pub const OPT_EOL: u8 = 0;
/// No-operation, padding between options.
pub const OPT_NOP: u8 = 1;
/// Maximum segment size (RFC 9293).
pub const OPT_MSS: u8 = 2;
/// Window scale (RFC 7323).
pub const OPT_WINDOW_SCALE: u8 = 3;
/// Selective acknowledgment permitted (RFC 2018).
pub const OPT_SACK_PERMITTED: u8 = 4;
/// Selective acknowledgment blocks (RFC 2018).
pub const OPT_SACK: u8 = 5;
/// Timestamps (RFC 7323).
pub const OPT_TIMESTAMPS: u8 = 8;

/// One TCP option: its kind and data (without kind and length bytes).
/// End-of-options carries the bytes after it, the padding, as its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpOption<'a> {
    /// The option kind (`OPT_*`).
    pub kind: u8,
    /// The option's data, without its kind and length bytes.
    pub data: &'a [u8],
}

/// The options of a segment, walked by their length bytes. A length that
/// is short or runs past the header ends the walk, as does end-of-options.
#[derive(Debug, Clone)]
pub struct Options<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Options<'a> {
    type Item = TcpOption<'a>;

    fn next(&mut self) -> Option<TcpOption<'a>> {
        let (&kind, after) = self.rest.split_first()?;
        match kind {
            OPT_EOL => {
                self.rest = &[];
                Some(TcpOption { kind, data: after })
            }
            OPT_NOP => {
                self.rest = after;
                Some(TcpOption { kind, data: &[] })
            }
            _ => {
                let len = usize::from(*after.first()?);
                if len < 2 || len > self.rest.len() {
                    self.rest = &[];
                    return None;
                }
                let data = &self.rest[2..len];
                self.rest = &self.rest[len..];
                Some(TcpOption { kind, data })
            }
        }
    }
}

/// What [`Repr::emit`] writes: a TCP header with its checksum; SYNs carry an
/// MSS option of 1460.
#[cfg(feature = "emit")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// The source address and port (the address goes into the checksum).
    pub src: SocketAddr,
    /// The destination address and port.
    pub dst: SocketAddr,
    /// The sequence number.
    pub seq: u32,
    /// Written only when [`ACK`] is among the flags.
    pub ack: u32,
    /// The flags byte.
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
        s.push(crate::len8(header_len / 4) << 4);
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
        assert_eq!(s.window(), 0xffff);
        assert_eq!(s.options().collect::<Vec<_>>(), [TcpOption { kind: OPT_MSS, data: &[5, 0xb4] }]);
        seg[12] = 0x40;
        assert_eq!(Segment::new_checked(&seg).err(), Some(DecodeError::TcpBadHeader));
        seg[12] = 0xf0;
        assert_eq!(Segment::new_checked(&seg).err(), Some(DecodeError::TcpTruncated));
    }

    #[test]
    fn options_walk_to_end_of_list_and_stop_at_a_bad_length() {
        let header = |opts: &[u8]| {
            let mut seg = vec![0; 20];
            seg[12] = crate::len8((20 + opts.len()) / 4) << 4;
            seg.extend_from_slice(opts);
            seg
        };
        // macOS's SYN: mss, nop, ws, nop, nop, ts, sok, eol and one byte of padding.
        let mut mac = vec![2, 4, 5, 0xb4, 1, 3, 3, 6, 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 4, 2, 0, 0];
        let seg = header(&mac);
        let s = Segment::new_checked(&seg).unwrap();
        let kinds: Vec<u8> = s.options().map(|o| o.kind).collect();
        assert_eq!(kinds, [2, 1, 3, 1, 1, 8, 4, 0]);
        assert_eq!(s.options().last().map(|o| o.data.len()), Some(1), "one byte after end-of-options");
        mac[1] = 40; // an MSS option longer than the header
        let seg = header(&mac);
        assert_eq!(Segment::new_checked(&seg).unwrap().options().count(), 0);
        mac[1] = 1; // shorter than its own kind and length
        let seg = header(&mac);
        assert_eq!(Segment::new_checked(&seg).unwrap().options().count(), 0);
    }
}
