//! Classic libpcap files: both byte orders, micro- and nanosecond stamps.
//!
//! Format: a 24-byte global header, then records of a 16-byte header
//! (seconds, fraction, captured length, wire length) and the frame.

use std::io::Read;

pub use super::MAX_RECORD_LEN;
use super::buffer::ReadBuffer;
use super::{Frame, LinkType, ReadError};

const GLOBAL_HEADER_LEN: usize = 24;
const RECORD_HEADER_LEN: usize = 16;

/// Reads a classic pcap stream frame by frame through one reused buffer.
pub struct PcapReader<R> {
    buf: ReadBuffer<R>,
    big_endian: bool,
    nanos: bool,
    link: LinkType,
    records: u64,
    /// Where the record handed out last starts.
    record_offset: u64,
}

impl<R: Read> PcapReader<R> {
    /// Reads the global header. `buf` must start at the file's first byte.
    pub(crate) fn new(mut buf: ReadBuffer<R>) -> Result<Self, ReadError> {
        let io = |source, offset| ReadError::reading(offset, 0, source);
        // The magic first: a short file that is no capture should say so.
        if !buf.fill(4).map_err(|e| io(e, 0))? {
            return Err(ReadError::Truncated { offset: 0, record: 0, what: "global header" });
        }
        let h = buf.available();
        let magic = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let (big_endian, nanos) = match magic {
            0xa1b2_c3d4 => (false, false),
            0xa1b2_3c4d => (false, true),
            0xd4c3_b2a1 => (true, false),
            0x4d3c_b2a1 => (true, true),
            other => return Err(ReadError::UnknownFormat { magic: other }),
        };
        if !buf.fill(GLOBAL_HEADER_LEN).map_err(|e| io(e, 0))? {
            return Err(ReadError::Truncated { offset: 0, record: 0, what: "global header" });
        }
        let h = buf.available();
        let raw = [h[20], h[21], h[22], h[23]];
        let network = if big_endian { u32::from_be_bytes(raw) } else { u32::from_le_bytes(raw) };
        // The upper bits carry FCS-length flags (pcap spec, LinkType field).
        let link = LinkType::from_pcap_field(network);
        buf.consume(GLOBAL_HEADER_LEN);
        Ok(PcapReader { buf, big_endian, nanos, link, records: 0, record_offset: GLOBAL_HEADER_LEN as u64 })
    }

    /// Where the record of the frame handed out last starts.
    pub fn record_offset(&self) -> u64 {
        self.record_offset
    }

    /// The next frame, `Ok(None)` at the clean end of the file.
    #[allow(
        clippy::inline_always,
        reason = "on every record's path; cachegrind showed plain `#[inline]` left it out of line, 16 instructions a call"
    )]
    #[inline(always)]
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, ReadError> {
        self.buf.release();
        let offset = self.buf.offset();
        let record = self.records;
        let io = |source| ReadError::reading(offset, record, source);
        if !self.buf.fill(RECORD_HEADER_LEN).map_err(io)? {
            if self.buf.available().is_empty() {
                return Ok(None);
            }
            return Err(ReadError::Truncated { offset, record, what: "record header" });
        }
        let Some(&header) = self.buf.available().first_chunk::<RECORD_HEADER_LEN>() else {
            return Err(ReadError::Truncated { offset, record, what: "record header" });
        };
        let [secs, frac, caplen, wire_len] = record_header(header, self.big_endian);
        if caplen > MAX_RECORD_LEN {
            return Err(ReadError::TooLarge { offset, record, len: u64::from(caplen) });
        }
        let total = RECORD_HEADER_LEN + caplen as usize;
        if !self.buf.fill(total).map_err(io)? {
            return Err(ReadError::Truncated { offset, record, what: "packet data" });
        }
        self.buf.hand_out(total);
        self.records += 1;
        self.record_offset = offset;
        let frac_ns = if self.nanos { u64::from(frac) } else { u64::from(frac) * 1_000 };
        if frac_ns >= 1_000_000_000 {
            let what =
                if self.nanos { "nanoseconds field past one second" } else { "microseconds field past one second" };
            return Err(ReadError::BadTimestamp { offset, record, what });
        }
        Ok(Some(Frame {
            ts_ns: u64::from(secs) * 1_000_000_000 + frac_ns,
            link: self.link,
            data: &self.buf.available()[RECORD_HEADER_LEN..total],
            wire_len: wire_len.max(caplen),
            interface: 0,
        }))
    }
}

/// A record header's four fields (seconds, fraction, captured length, wire
/// length), read whole: one load per field, the byte order tested once.
#[inline]
fn record_header(h: [u8; RECORD_HEADER_LEN], big_endian: bool) -> [u32; 4] {
    let [s0, s1, s2, s3, f0, f1, f2, f3, c0, c1, c2, c3, w0, w1, w2, w3] = h;
    let fields = [[s0, s1, s2, s3], [f0, f1, f2, f3], [c0, c1, c2, c3], [w0, w1, w2, w3]];
    if big_endian { fields.map(u32::from_be_bytes) } else { fields.map(u32::from_le_bytes) }
}
