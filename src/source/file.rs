//! Opens a capture file and picks the reader by its magic number.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::buffer::ReadBuffer;
use super::pcap::PcapReader;
use super::pcapng::PcapNgReader;
use super::{Frame, ReadError};

/// 1 MiB: large enough that reads are cheap, small enough to stay in cache.
const BUFFER_LEN: usize = 1 << 20;

/// A pcap or pcapng stream.
pub enum CaptureReader<R> {
    Pcap(PcapReader<R>),
    PcapNg(PcapNgReader<R>),
}

impl CaptureReader<File> {
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        use anyhow::Context;
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        CaptureReader::from_reader(file).with_context(|| format!("cannot read {}", path.display()))
    }
}

impl<R: Read> CaptureReader<R> {
    pub fn from_reader(inner: R) -> Result<Self, ReadError> {
        let mut buf = ReadBuffer::new(inner, BUFFER_LEN);
        if !buf.fill(4).map_err(|source| ReadError::Io { offset: 0, source })? {
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
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, ReadError> {
        match self {
            CaptureReader::Pcap(r) => r.next_frame(),
            CaptureReader::PcapNg(r) => r.next_frame(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::LinkType;

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
            w32(&mut v, data.len() as u32);
            w32(&mut v, data.len() as u32 + 10);
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
        v.extend_from_slice(&(len as u32).to_le_bytes());
        v.extend_from_slice(body);
        v.resize(len - 4, 0);
        v.extend_from_slice(&(len as u32).to_le_bytes());
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
            b.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
            b.extend_from_slice(&(ts as u32).to_le_bytes());
            b.extend_from_slice(&(data.len() as u32).to_le_bytes());
            b.extend_from_slice(&(data.len() as u32).to_le_bytes());
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

    #[test]
    fn rejects_unknown_magic() {
        assert!(matches!(
            CaptureReader::from_reader(&b"GIF89a-not-a-capture-file"[..]),
            Err(ReadError::UnknownFormat { .. })
        ));
    }
}
