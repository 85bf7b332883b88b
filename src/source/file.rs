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
    use synth::capture::{NgInterface, PcapFormat, PcapNg, Record, pcap_bytes};
    use synth::wire::{LINKTYPE_ETHERNET, LINKTYPE_RAW};

    fn pcap_file(big_endian: bool, nanos: bool, snaplen: u32, records: &[(u64, &[u8])]) -> Vec<u8> {
        let format = PcapFormat { linktype: LINKTYPE_ETHERNET, big_endian, nanos, snaplen };
        let records: Vec<Record> = records.iter().map(|(ts, data)| Record::new(*ts, data.to_vec())).collect();
        pcap_bytes(format, &records)
    }

    #[test]
    fn reads_classic_pcap_in_both_byte_orders_and_resolutions() {
        for (be, nanos) in [(false, false), (true, false), (false, true), (true, true)] {
            let unit = if nanos { 1 } else { 1_000 };
            let records: [(u64, &[u8]); 2] =
                [(10_000_000_000 + 5 * unit, b"abcdefghijklm"), (11_000_000_000 + 7 * unit, b"defg")];
            // A snap length of 4 cuts the first frame to less than its wire length.
            let file = pcap_file(be, nanos, 4, &records);
            let mut r = CaptureReader::from_reader(&file[..]).unwrap();
            let f = r.next_frame().unwrap().unwrap();
            assert_eq!(f.data, b"abcd");
            assert_eq!(f.wire_len, 13);
            assert_eq!(f.link, LinkType::Ethernet);
            assert_eq!(f.ts_ns, 10_000_000_000 + 5 * unit);
            let f = r.next_frame().unwrap().unwrap();
            assert_eq!(f.data, b"defg");
            assert!(r.next_frame().unwrap().is_none());
        }
    }

    #[test]
    fn truncated_pcap_reports_where_it_stopped() {
        let mut file = pcap_file(false, false, 65535, &[(1_000_000_000, b"first"), (2_000_000_000, b"second")]);
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

    #[test]
    fn reads_pcapng_with_two_interfaces_and_resolutions() {
        let mut ng = PcapNg::new();
        // Interface 0: Ethernet, default microseconds; 1: raw IP in nanoseconds.
        ng.interface(NgInterface { linktype: LINKTYPE_ETHERNET, snaplen: 65535, nanos: false, name: "eth0" });
        ng.interface(NgInterface { linktype: LINKTYPE_RAW, snaplen: 65535, nanos: true, name: "tun0" });
        ng.packet(&Record { ts_ns: 1_500_000_000, data: b"raw".to_vec(), interface: 1 });
        ng.custom_block(0x0BAD, b"custom");
        ng.packet(&Record { ts_ns: 2_000_000_000, data: b"ether".to_vec(), interface: 0 });
        let f = ng.finish();
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
