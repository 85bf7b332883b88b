//! Opens a capture (a file or standard input, compressed or not) and picks
//! the reader by its magic number.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::buffer::ReadBuffer;
use super::compressed::{self, Compression, Stream};
use super::pcap::PcapReader;
use super::pcapng::PcapNgReader;
use super::readahead::ReadAhead;
use super::{Frame, ReadError};

/// 1 MiB: large enough that reads are cheap, small enough to stay in cache.
const BUFFER_LEN: usize = 1 << 20;

/// Read ahead in chunks of this size, this many queued: the chunks in
/// flight stay within the cores' caches.
const READ_AHEAD_CHUNK: usize = 256 * 1024;
const READ_AHEAD_CHUNKS: usize = 4;

/// A pcap or pcapng stream.
pub enum CaptureReader<R> {
    /// Classic pcap (libpcap's format).
    Pcap(PcapReader<R>),
    /// pcapng.
    PcapNg(PcapNgReader<R>),
}

impl CaptureReader<Stream> {
    /// Opens a capture file, decompressing it if its content says so.
    pub fn open(path: &Path) -> Result<Self, FileError> {
        let file = File::open(path).map_err(|cause| FileError::Open { path: path.to_owned(), cause })?;
        CaptureReader::from_stream(file).map_err(|cause| FileError::Read { path: path.to_owned(), cause })
    }

    /// A capture from any byte stream (standard input, a file), gzip, zstd
    /// or xz compressed or not.
    pub fn from_stream<R: Read + Send + 'static>(inner: R) -> Result<Self, OpenError> {
        Self::open_stream(inner, false)
    }

    /// [`from_stream`](Self::from_stream), with the reading and the
    /// decompressing on a thread of their own (see
    /// [`readahead`](super::readahead)): for a caller that has more to do
    /// with each frame than to count it.
    pub fn read_ahead<R: Read + Send + 'static>(inner: R) -> Result<Self, OpenError> {
        Self::open_stream(inner, true)
    }

    fn open_stream<R: Read + Send + 'static>(inner: R, ahead: bool) -> Result<Self, OpenError> {
        let unread = |source| OpenError { compression: None, source: ReadError::reading(0, 0, source) };
        let (mut stream, compression) = compressed::decompressed(inner).map_err(unread)?;
        if ahead {
            stream = Box::new(ReadAhead::new(stream, READ_AHEAD_CHUNK, READ_AHEAD_CHUNKS).map_err(unread)?);
        }
        CaptureReader::from_reader(stream).map_err(|source| OpenError { compression: Some(compression), source })
    }
}

/// Why a stream could not be opened as a capture.
#[derive(Debug)]
pub struct OpenError {
    /// How the stream was compressed, once that was known.
    pub compression: Option<Compression>,
    /// What was wrong with the (decompressed) bytes.
    pub source: ReadError,
}

impl std::error::Error for OpenError {}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.compression {
            Some(c @ (Compression::Gzip | Compression::Zstd | Compression::Xz)) => {
                write!(f, "{} (in the {c}-decompressed stream)", self.source)
            }
            _ => write!(f, "{}", self.source),
        }
    }
}

/// Why [`CaptureReader::open`] failed, with the file's name; the message
/// carries the reason too, so it reads the same however it is printed.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file could not be opened.
    #[error("cannot open {}: {cause}", path.display())]
    Open {
        /// The file, as named.
        path: PathBuf,
        /// The system's reason.
        cause: std::io::Error,
    },
    /// The file opened, but its start is no capture (or could not be read).
    #[error("cannot read {}: {cause}", path.display())]
    Read {
        /// The file, as named.
        path: PathBuf,
        /// What was wrong with its bytes.
        cause: OpenError,
    },
}

impl<R: Read> CaptureReader<R> {
    /// A capture from uncompressed bytes.
    pub fn from_reader(inner: R) -> Result<Self, ReadError> {
        let mut buf = ReadBuffer::new(inner, BUFFER_LEN);
        if !buf.fill(4).map_err(|source| ReadError::reading(0, 0, source))? {
            return Err(ReadError::Truncated { offset: 0, record: 0, what: "file header" });
        }
        let a = buf.available();
        let magic = u32::from_le_bytes([a[0], a[1], a[2], a[3]]);
        if magic == 0x0A0D_0D0A {
            Ok(CaptureReader::PcapNg(PcapNgReader::new(buf)))
        } else {
            Ok(CaptureReader::Pcap(PcapReader::new(buf)?))
        }
    }

    /// The next frame; `Ok(None)` at the clean end of the input.
    #[allow(
        clippy::inline_always,
        reason = "on every record's path; cachegrind showed plain `#[inline]` left it out of line, 16 instructions a call"
    )]
    #[inline(always)]
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, ReadError> {
        match self {
            CaptureReader::Pcap(r) => r.next_frame(),
            CaptureReader::PcapNg(r) => r.next_frame(),
        }
    }

    /// Byte offset of the record of the frame handed out last.
    pub fn record_offset(&self) -> u64 {
        match self {
            CaptureReader::Pcap(r) => r.record_offset(),
            CaptureReader::PcapNg(r) => r.record_offset(),
        }
    }

    /// The name a pcapng gives the capture interface of a frame
    /// (`Frame::interface`), once its description has been read; classic
    /// pcap names none.
    pub fn interface_name(&self, interface: u32) -> Option<&str> {
        match self {
            CaptureReader::Pcap(_) => None,
            CaptureReader::PcapNg(r) => r.interface_name(interface),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{LinkType, MAX_RECORD_LEN};

    fn pcap_file(big_endian: bool, nanos: bool, records: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let w32 =
            |v: &mut Vec<u8>, x: u32| v.extend_from_slice(&if big_endian { x.to_be_bytes() } else { x.to_le_bytes() });
        let w16 =
            |v: &mut Vec<u8>, x: u16| v.extend_from_slice(&if big_endian { x.to_be_bytes() } else { x.to_le_bytes() });
        let mut v = Vec::new();
        w32(&mut v, if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 });
        w16(&mut v, 2);
        w16(&mut v, 4);
        w32(&mut v, 0);
        w32(&mut v, 0);
        w32(&mut v, 65535);
        w32(&mut v, 1);
        for (s, f, data) in records {
            w32(&mut v, *s);
            w32(&mut v, *f);
            w32(&mut v, u32::try_from(data.len()).unwrap());
            w32(&mut v, u32::try_from(data.len()).unwrap() + 10);
            v.extend_from_slice(data);
        }
        v
    }

    #[test]
    fn reads_classic_pcap_in_both_byte_orders_and_resolutions() {
        for (be, nanos) in [(false, false), (true, false), (false, true), (true, true)] {
            let file = pcap_file(be, nanos, &[(10, 5, b"abc"), (11, 7, b"defg")]);
            let mut r = CaptureReader::from_reader(&file[..]).unwrap();
            let f = r.next_frame().unwrap().unwrap();
            assert_eq!(f.data, b"abc");
            assert_eq!(f.wire_len, 13);
            assert_eq!(f.link, LinkType::Ethernet);
            let unit = if nanos { 1 } else { 1_000 };
            assert_eq!(f.ts_ns, 10_000_000_000 + 5 * unit);
            let f = r.next_frame().unwrap().unwrap();
            assert_eq!(f.data, b"defg");
            assert!(r.next_frame().unwrap().is_none());
        }
    }

    /// Records of every size, some longer than a chunk, spanning many chunk
    /// boundaries: read ahead gives the same frames as read in place, whole
    /// and cut at three places, and stops at the same byte when cut.
    #[test]
    fn reading_ahead_gives_the_frames_and_errors_of_reading_in_place() {
        let sizes = [60, 1514, 9000, 70_000, 300_000, 3, 0, 65_535, 200];
        let payloads: Vec<Vec<u8>> =
            (0..400).map(|i| vec![u8::try_from(i % 251).unwrap(); sizes[i % sizes.len()]]).collect();
        let records: Vec<(u32, u32, &[u8])> =
            payloads.iter().enumerate().map(|(i, p)| (u32::try_from(i).unwrap(), 0, &p[..])).collect();
        let file = pcap_file(false, false, &records);
        assert!(file.len() > 20 * READ_AHEAD_CHUNK, "the capture spans many chunks");
        let frames = |r: &mut CaptureReader<Stream>| {
            let mut out = Vec::new();
            loop {
                match r.next_frame() {
                    Ok(Some(f)) => out.push((f.ts_ns, f.data.to_vec())),
                    Ok(None) => return (out, None),
                    Err(e) => return (out, Some(e.to_string())),
                }
            }
        };
        for cut in [file.len(), file.len() - 100_000, file.len() - 7] {
            let bytes = file[..cut].to_vec();
            let in_place = frames(&mut CaptureReader::from_stream(std::io::Cursor::new(bytes.clone())).unwrap());
            let ahead = frames(&mut CaptureReader::read_ahead(std::io::Cursor::new(bytes)).unwrap());
            assert_eq!(in_place.0.len(), ahead.0.len(), "cut at {cut}");
            assert!(in_place == ahead, "cut at {cut}: the same frames, and the same error");
            assert_eq!(in_place.1.is_some(), cut < file.len());
        }
    }

    #[test]
    fn truncated_pcap_reports_where_it_stopped() {
        let mut file = pcap_file(false, false, &[(1, 0, b"first"), (2, 0, b"second")]);
        file.truncate(file.len() - 3);
        let mut r = CaptureReader::from_reader(&file[..]).unwrap();
        assert_eq!(r.next_frame().unwrap().unwrap().data, b"first");
        match r.next_frame() {
            Err(ReadError::Truncated { offset, record, .. }) => {
                assert_eq!(offset, 24 + 16 + 5);
                assert_eq!(record, 1);
            }
            other => panic!("expected truncation, got {other:?}"),
        }
    }

    fn block(t: u32, body: &[u8]) -> Vec<u8> {
        let len = 12 + body.len().next_multiple_of(4);
        let mut v = Vec::new();
        v.extend_from_slice(&t.to_le_bytes());
        v.extend_from_slice(&u32::try_from(len).unwrap().to_le_bytes());
        v.extend_from_slice(body);
        v.resize(len - 4, 0);
        v.extend_from_slice(&u32::try_from(len).unwrap().to_le_bytes());
        v
    }

    #[test]
    fn reads_pcapng_with_two_interfaces_and_resolutions() {
        let mut f =
            block(0x0A0D_0D0A, &[0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        // Interface 0: Ethernet, default microseconds.
        f.extend(block(1, &[1, 0, 0, 0, 0, 0, 0, 0]));
        // Interface 1: raw IP with if_tsresol = 9 (nanoseconds).
        f.extend(block(1, &[101, 0, 0, 0, 0, 0, 0, 0, 9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0]));
        let epb = |iface: u32, ts: u64, data: &[u8]| {
            let mut b = Vec::new();
            b.extend_from_slice(&iface.to_le_bytes());
            b.extend_from_slice(&ts.to_le_bytes()[4..]);
            b.extend_from_slice(&ts.to_le_bytes()[..4]);
            b.extend_from_slice(&u32::try_from(data.len()).unwrap().to_le_bytes());
            b.extend_from_slice(&u32::try_from(data.len()).unwrap().to_le_bytes());
            b.extend_from_slice(data);
            block(6, &b)
        };
        f.extend(epb(1, 1_500_000_000, b"raw"));
        f.extend(block(0x0BAD, b"custom"));
        f.extend(epb(0, 2_000_000, b"ether"));
        let mut r = CaptureReader::from_reader(&f[..]).unwrap();
        let a = r.next_frame().unwrap().unwrap();
        assert_eq!((a.data, a.link, a.ts_ns, a.interface), (&b"raw"[..], LinkType::Raw, 1_500_000_000, 1));
        let b = r.next_frame().unwrap().unwrap();
        assert_eq!((b.data, b.link, b.ts_ns, b.interface), (&b"ether"[..], LinkType::Ethernet, 2_000_000_000, 0));
        assert!(r.next_frame().unwrap().is_none());
    }

    /// An IDB with `if_name` (option 2) and whatever else.
    fn idb_named(name: &[u8]) -> Vec<u8> {
        let mut body = vec![1, 0, 0, 0, 0, 0, 0, 0];
        body.extend_from_slice(&2u16.to_le_bytes());
        body.extend_from_slice(&u16::try_from(name.len()).unwrap().to_le_bytes());
        body.extend_from_slice(name);
        body.resize(body.len().next_multiple_of(4), 0);
        body.extend_from_slice(&[0, 0, 0, 0]); // opt_endofopt
        block(1, &body)
    }

    #[test]
    fn pcapng_interface_names_are_read_and_bounded() {
        let long = vec![b'x'; 300];
        let mut f = shb();
        f.extend(idb_named(b"eth1"));
        f.extend(idb_named(b"tun0\0\0")); // NUL-padded, as some writers do
        f.extend(idb_named(&long));
        f.extend(idb_named(b"\xff\xfe")); // not UTF-8
        f.extend(shb());
        f.extend(idb_named(b"wlan0"));
        // A simple packet block (interface 0 of the second section: number 4).
        f.extend(block(3, &[4, 0, 0, 0, b'd', b'a', b't', b'a']));
        let mut r = CaptureReader::from_reader(&f[..]).unwrap();
        assert_eq!(r.interface_name(0), None, "nothing read yet");
        let frame = r.next_frame().unwrap().unwrap();
        assert_eq!((frame.interface, frame.data), (4, &b"data"[..]));
        let names: Vec<Option<&str>> = (0..6).map(|i| r.interface_name(i)).collect();
        assert_eq!(names, [Some("eth1"), Some("tun0"), None, None, Some("wlan0"), None]);
        let pcap = pcap_file(false, false, &[(1, 0, b"x")]);
        assert_eq!(CaptureReader::from_reader(&pcap[..]).unwrap().interface_name(0), None, "pcap names none");
    }

    #[test]
    fn a_section_of_too_many_interfaces_is_an_error_not_a_growing_list() {
        let mut f = shb();
        for _ in 0..=65_536 {
            f.extend(block(1, &[1, 0, 0, 0, 0, 0, 0, 0]));
        }
        let mut r = CaptureReader::from_reader(&f[..]).unwrap();
        match r.next_frame() {
            Err(ReadError::Malformed { what, offset, .. }) => {
                assert_eq!(what, "more than 65,536 interfaces in one section");
                assert_eq!(offset, 28 + 65_536 * 20, "the 65,537th description");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rejects_unknown_magic() {
        assert!(matches!(
            CaptureReader::from_reader(&b"GIF89a-not-a-capture-file"[..]),
            Err(ReadError::UnknownFormat { .. })
        ));
    }

    #[test]
    fn a_fraction_past_one_second_skips_that_record_only() {
        for nanos in [false, true] {
            let over = if nanos { 1_000_000_000 } else { 1_000_000 };
            let file = pcap_file(false, nanos, &[(1, 0, b"good"), (2, over, b"late"), (3, over - 1, b"next")]);
            let mut r = CaptureReader::from_reader(&file[..]).unwrap();
            assert_eq!(r.next_frame().unwrap().unwrap().data, b"good");
            match r.next_frame() {
                Err(e @ ReadError::BadTimestamp { offset, record: 1, .. }) => {
                    assert_eq!(offset, 24 + 16 + 4);
                    assert!(e.is_skip());
                    assert_eq!(e.reason(), "bad_timestamp");
                }
                other => panic!("expected a bad timestamp, got {other:?}"),
            }
            let f = r.next_frame().unwrap().unwrap();
            assert_eq!(f.data, b"next", "reading goes on after the skipped record");
            assert_eq!(f.ts_ns, 4_000_000_000 - if nanos { 1 } else { 1_000 });
            assert_eq!(r.record_offset(), 24 + 2 * 16 + 8);
        }
    }

    #[test]
    fn records_up_to_the_limit_are_read_and_larger_ones_named_with_their_offset() {
        let big = vec![0x5a; 3 << 20];
        let file = pcap_file(false, false, &[(1, 0, b"a"), (2, 0, &big), (3, 0, b"b")]);
        let mut r = CaptureReader::from_reader(&file[..]).unwrap();
        assert_eq!(r.next_frame().unwrap().unwrap().data, b"a");
        assert_eq!(r.next_frame().unwrap().unwrap().data.len(), 3 << 20);
        assert_eq!(r.next_frame().unwrap().unwrap().data, b"b");
        assert!(r.next_frame().unwrap().is_none());

        let mut file = pcap_file(false, false, &[(1, 0, b"a"), (2, 0, b"b")]);
        // Record 1 claims one byte more than the limit.
        let at = 24 + 16 + 1;
        file[at + 8..at + 12].copy_from_slice(&(MAX_RECORD_LEN + 1).to_le_bytes());
        let mut r = CaptureReader::from_reader(&file[..]).unwrap();
        r.next_frame().unwrap().unwrap();
        match r.next_frame() {
            Err(e @ ReadError::TooLarge { offset, record: 1, len }) => {
                assert_eq!((offset, len), (at as u64, u64::from(MAX_RECORD_LEN) + 1));
                assert!(e.to_string().contains(&format!("byte {at}")), "{e}");
                assert_eq!(e.reason(), "record_too_large");
            }
            other => panic!("expected a record over the limit, got {other:?}"),
        }
    }

    fn shb() -> Vec<u8> {
        block(0x0A0D_0D0A, &[0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
    }

    #[test]
    fn pcapng_trailing_length_must_match() {
        let mut f = shb();
        let idb_at = f.len();
        f.extend(block(1, &[1, 0, 0, 0, 0, 0, 0, 0]));
        let last = f.len() - 4;
        f[last..].copy_from_slice(&24u32.to_le_bytes());
        match CaptureReader::from_reader(&f[..]).unwrap().next_frame() {
            Err(ReadError::Malformed { offset, what, .. }) => {
                assert_eq!(offset, idb_at as u64);
                assert!(what.contains("trailing block length"), "{what}");
            }
            other => panic!("expected a length mismatch, got {other:?}"),
        }
    }

    #[test]
    fn pcapng_resolutions_finer_than_a_picosecond_are_rejected() {
        // 10^-12 and 10^-13; 2^-40 and 2^-41 (the high bit says a power of two).
        for (tsresol, ok) in [(12u8, true), (13, false), (0x80 | 0x28, true), (0x80 | 0x29, false), (0x7f, false)] {
            let mut f = shb();
            f.extend(block(1, &[1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 1, 0, tsresol, 0, 0, 0, 0, 0, 0, 0]));
            let mut r = CaptureReader::from_reader(&f[..]).unwrap();
            match (ok, r.next_frame()) {
                (true, Ok(None)) => {}
                (false, Err(ReadError::Malformed { offset, what, .. })) => {
                    assert_eq!(offset, 28);
                    assert!(what.contains("if_tsresol"), "{what}");
                }
                (_, other) => panic!("if_tsresol {tsresol:#x}: {other:?}"),
            }
        }
    }

    #[test]
    fn pcapng_blocks_over_the_limit_are_named_with_their_offset() {
        let mut f = shb();
        let at = f.len() as u64;
        f.extend_from_slice(&6u32.to_le_bytes());
        f.extend_from_slice(&(MAX_RECORD_LEN + 128 * 1024).to_le_bytes());
        f.extend_from_slice(&[0; 4]);
        match CaptureReader::from_reader(&f[..]).unwrap().next_frame() {
            Err(ReadError::TooLarge { offset, .. }) => assert_eq!(offset, at),
            other => panic!("expected a block over the limit, got {other:?}"),
        }
    }

    #[test]
    fn compressed_streams_read_like_the_plain_file() {
        use std::io::Write;
        let file = pcap_file(false, false, &[(10, 5, b"abc"), (11, 7, b"defg")]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&file).unwrap();
        let mut r = CaptureReader::from_stream(std::io::Cursor::new(gz.finish().unwrap())).unwrap();
        assert_eq!(r.next_frame().unwrap().unwrap().data, b"abc");
        assert_eq!(r.next_frame().unwrap().unwrap().data, b"defg");
        assert!(r.next_frame().unwrap().is_none());

        let not_capture = zstd::stream::encode_all(&b"just some text, no capture"[..], 1).unwrap();
        let e = CaptureReader::from_stream(std::io::Cursor::new(not_capture)).err().expect("not a capture");
        assert!(matches!(e.source, ReadError::UnknownFormat { .. }));
        assert_eq!(e.to_string(), "not a pcap or pcapng file (magic 7473756a) (in the zstd-decompressed stream)");
    }
}
