//! TCP headers (RFC 9293): ports, sequence number, flags, window, options.

#[cfg(feature = "emit")]
use std::net::SocketAddr;

#[cfg(feature = "emit")]
use crate::checksum::{checksum, pseudo_header};
#[cfg(feature = "emit")]
use crate::ip::IPPROTO_TCP;
use crate::{DecodeError, be16, be32};

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

mod field {
    use crate::{Field, Rest};

    pub const SRC_PORT: Field = 0..2;
    pub const DST_PORT: Field = 2..4;
    pub const SEQ: Field = 4..8;
    pub const ACK: Field = 8..12;
    /// The data offset's 4 bits, then reserved bits.
    pub const DATA_OFFSET: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WINDOW: Field = 14..16;
    pub const CHECKSUM: Field = 16..18;
    pub const OPTIONS: Rest = 20..;
}

/// The length of a TCP header without options.
pub const MIN_HEADER_LEN: usize = field::OPTIONS.start;

/// A view of a TCP segment.
#[derive(Debug, Clone, Copy)]
pub struct Segment<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Segment<T> {
    /// A view of `buffer` as it is; the accessors panic if it is shorter
    /// than a header, and `options` and `payload` if it is shorter than its
    /// data offset says.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        Segment { buffer }
    }

    /// A view of `buffer`, once its header and data offset are checked.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        let b = buffer.as_ref();
        if b.len() < MIN_HEADER_LEN {
            return Err(DecodeError::TcpTruncated);
        }
        let header_len = header_len(b);
        if header_len < MIN_HEADER_LEN {
            return Err(DecodeError::TcpBadHeader);
        }
        if b.len() < header_len {
            return Err(DecodeError::TcpTruncated);
        }
        Ok(Segment { buffer })
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

    /// The sequence number.
    #[inline]
    pub fn seq(&self) -> u32 {
        be32(self.buffer.as_ref(), field::SEQ)
    }

    /// The acknowledgment number (meaningful when [`ACK`] is set).
    #[inline]
    pub fn ack(&self) -> u32 {
        be32(self.buffer.as_ref(), field::ACK)
    }

    /// The flags byte ([`FIN`], [`SYN`], ...).
    #[inline]
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }

    /// The window, unscaled (as a SYN announces it).
    #[inline]
    pub fn window(&self) -> u16 {
        be16(self.buffer.as_ref(), field::WINDOW)
    }

    /// The checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// The header's length with its options, by the data offset.
    #[inline]
    pub fn header_len(&self) -> usize {
        header_len(self.buffer.as_ref())
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Segment<&'a T> {
    /// The options, in order; a malformed one ends them.
    #[allow(clippy::inline_always, reason = "on every packet's decode path; callgrind showed it left out of line")]
    #[inline(always)]
    pub fn options(&self) -> Options<'a> {
        let b = self.buffer.as_ref();
        Options { rest: &b[MIN_HEADER_LEN..header_len(b)] }
    }

    /// The bytes after the header and its options.
    #[allow(clippy::inline_always, reason = "on every packet's decode path; callgrind showed it left out of line")]
    #[inline(always)]
    pub fn payload(&self) -> &'a [u8] {
        let b = self.buffer.as_ref();
        &b[header_len(b)..]
    }
}

/// The header length the data offset of `b` says.
#[allow(clippy::inline_always, reason = "on every packet's decode path; callgrind showed it left out of line")]
#[inline(always)]
fn header_len(b: &[u8]) -> usize {
    usize::from(b[field::DATA_OFFSET] >> 4) * 4
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
        let header_len = MIN_HEADER_LEN + options.len();
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
        s[field::CHECKSUM].copy_from_slice(&sum.to_be_bytes());
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

    #[cfg(feature = "emit")]
    #[test]
    fn reads_what_repr_writes() {
        let (src, dst) = ("10.0.0.1:40000".parse().unwrap(), "10.0.0.2:443".parse().unwrap());
        let seg = Repr { src, dst, seq: 9, ack: 5, flags: SYN | ACK }.emit(b"x");
        let s = Segment::new_checked(&seg[..]).unwrap();
        assert_eq!((s.src_port(), s.dst_port(), s.seq(), s.ack(), s.flags()), (40000, 443, 9, 5, SYN | ACK));
        assert_eq!((s.header_len(), s.payload()), (24, &b"x"[..]));
        assert_eq!(s.options().next(), Some(TcpOption { kind: OPT_MSS, data: &[0x05, 0xb4] }));
        assert_ne!(s.checksum(), 0);
    }
}
