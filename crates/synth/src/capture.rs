//! Capture-file writers: classic pcap (either byte order, micro- or
//! nanosecond stamps, a snap length) and pcapng (one section, several
//! interfaces with their own link types and resolutions).

use std::io::{self, Write};

/// One captured frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Capture time, nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    /// The frame as it was on the wire (writers cut it to their snap length).
    pub data: Vec<u8>,
    /// pcapng interface index; classic pcap has only interface 0.
    pub interface: u32,
}

impl Record {
    /// A frame of interface 0 captured at `ts_ns`.
    pub fn new(ts_ns: u64, data: Vec<u8>) -> Record {
        Record { ts_ns, data, interface: 0 }
    }
}

/// The global-header choices of a classic pcap file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcapFormat {
    /// The link-layer header type of every frame (`LINKTYPE_ETHERNET` is 1).
    pub linktype: u32,
    /// Big-endian headers (a capture written on a big-endian machine).
    pub big_endian: bool,
    /// Nanosecond stamps (magic `a1b23c4d`) instead of microseconds.
    pub nanos: bool,
    /// Frames longer than this are cut; the record keeps their wire length.
    pub snaplen: u32,
}

impl PcapFormat {
    /// Little-endian, microseconds, snap length 65535.
    pub fn new(linktype: u32) -> PcapFormat {
        PcapFormat { linktype, big_endian: false, nanos: false, snaplen: 65535 }
    }
}

/// Streams records into a classic pcap file.
pub struct PcapWriter<W: Write> {
    out: W,
    format: PcapFormat,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the 24-byte global header.
    pub fn new(mut out: W, format: PcapFormat) -> io::Result<Self> {
        let magic: u32 = if format.nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        let be = format.big_endian;
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&if be { magic.to_be_bytes() } else { magic.to_le_bytes() });
        for version in [2u16, 4] {
            h.extend_from_slice(&if be { version.to_be_bytes() } else { version.to_le_bytes() });
        }
        for v in [0, 0, format.snaplen, format.linktype] {
            // thiszone, sigfigs, snaplen, network
            h.extend_from_slice(&if be { v.to_be_bytes() } else { v.to_le_bytes() });
        }
        out.write_all(&h)?;
        Ok(PcapWriter { out, format })
    }

    /// Writes one record, cut to the snap length.
    ///
    /// # Panics
    ///
    /// On a timestamp past 2106, which classic pcap's 32-bit seconds cannot hold.
    pub fn write(&mut self, record: &Record) -> io::Result<()> {
        let f = self.format;
        let caplen = record.data.len().min(f.snaplen as usize);
        let secs = u32::try_from(record.ts_ns / 1_000_000_000).expect("classic pcap holds seconds up to 2106");
        let sub = record.ts_ns % 1_000_000_000;
        let frac = u32::try_from(if f.nanos { sub } else { sub / 1_000 }).expect("a fraction of a second");
        let mut h = [0u8; 16];
        for (i, v) in [secs, frac, len32(caplen), len32(record.data.len())].into_iter().enumerate() {
            h[i * 4..i * 4 + 4].copy_from_slice(&if f.big_endian { v.to_be_bytes() } else { v.to_le_bytes() });
        }
        self.out.write_all(&h)?;
        self.out.write_all(&record.data[..caplen])
    }

    /// Flushes and hands back the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// A whole classic pcap file in memory.
///
/// # Panics
///
/// As [`PcapWriter::write`] does, on a timestamp past 2106.
pub fn pcap_bytes(format: PcapFormat, records: &[Record]) -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), format).expect("writing to a Vec cannot fail");
    for r in records {
        w.write(r).expect("writing to a Vec cannot fail");
    }
    w.finish().expect("writing to a Vec cannot fail")
}

/// A pcapng interface (Interface Description Block).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NgInterface {
    /// The interface's link-layer header type.
    pub linktype: u32,
    /// Frames longer than this are cut; the block keeps their wire length.
    pub snaplen: u32,
    /// `if_tsresol` 9 (nanoseconds) instead of the default microseconds.
    pub nanos: bool,
    /// `if_name`, e.g. `eth0`.
    pub name: &'static str,
}

/// Builds a little-endian pcapng file block by block.
pub struct PcapNg {
    out: Vec<u8>,
    interfaces: Vec<NgInterface>,
}

impl Default for PcapNg {
    fn default() -> Self {
        Self::new()
    }
}

impl PcapNg {
    /// Starts a file with its Section Header Block.
    pub fn new() -> PcapNg {
        let mut body = Vec::new();
        body.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&u64::MAX.to_le_bytes()); // section length unknown
        push_option(&mut body, 4, b"vendorwatch synth"); // shb_userappl
        push_option(&mut body, 0, b"");
        let mut ng = PcapNg { out: Vec::new(), interfaces: Vec::new() };
        ng.block(0x0a0d_0d0a, &body);
        ng
    }

    /// Declares the next interface; returns its index.
    pub fn interface(&mut self, iface: NgInterface) -> u32 {
        let mut body = Vec::new();
        body.extend_from_slice(&((iface.linktype & 0xffff) as u16).to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&iface.snaplen.to_le_bytes());
        push_option(&mut body, 2, iface.name.as_bytes()); // if_name
        if iface.nanos {
            push_option(&mut body, 9, &[9]); // if_tsresol: 10^-9
        }
        push_option(&mut body, 0, b"");
        self.block(1, &body);
        self.interfaces.push(iface);
        len32(self.interfaces.len() - 1)
    }

    /// An Enhanced Packet Block on `record.interface`.
    pub fn packet(&mut self, record: &Record) {
        let iface = &self.interfaces[record.interface as usize];
        let ts = if iface.nanos { record.ts_ns } else { record.ts_ns / 1_000 };
        let caplen = record.data.len().min(iface.snaplen as usize);
        let mut body = Vec::with_capacity(20 + caplen + 3);
        body.extend_from_slice(&record.interface.to_le_bytes());
        // The upper 32 bits, then the lower, each little-endian.
        body.extend_from_slice(&ts.to_le_bytes()[4..]);
        body.extend_from_slice(&ts.to_le_bytes()[..4]);
        body.extend_from_slice(&len32(caplen).to_le_bytes());
        body.extend_from_slice(&len32(record.data.len()).to_le_bytes());
        body.extend_from_slice(&record.data[..caplen]);
        body.resize(body.len().next_multiple_of(4), 0);
        self.block(6, &body);
    }

    /// A Simple Packet Block: a frame on interface 0 without a timestamp.
    pub fn simple_packet(&mut self, data: &[u8]) {
        let mut body = len32(data.len()).to_le_bytes().to_vec();
        body.extend_from_slice(data);
        body.resize(body.len().next_multiple_of(4), 0);
        self.block(3, &body);
    }

    /// Any other block (readers must skip what they do not know).
    pub fn custom_block(&mut self, block_type: u32, body: &[u8]) {
        let mut padded = body.to_vec();
        padded.resize(padded.len().next_multiple_of(4), 0);
        self.block(block_type, &padded);
    }

    fn block(&mut self, block_type: u32, body: &[u8]) {
        let len = len32(12 + body.len());
        self.out.extend_from_slice(&block_type.to_le_bytes());
        self.out.extend_from_slice(&len.to_le_bytes());
        self.out.extend_from_slice(body);
        self.out.extend_from_slice(&len.to_le_bytes());
    }

    /// The file's bytes.
    pub fn finish(self) -> Vec<u8> {
        self.out
    }
}

/// A 32-bit length field's value; captures are written from fixtures far
/// smaller than 4 GiB, so one that is not is a bug worth stopping on.
pub(crate) fn len32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or_else(|_| panic!("{len} does not fit a 32-bit length field"))
}

/// A pcapng option: code, length, value padded to 4 bytes.
fn push_option(body: &mut Vec<u8>, code: u16, value: &[u8]) {
    body.extend_from_slice(&code.to_le_bytes());
    body.extend_from_slice(&::wire::len16(value.len()).to_le_bytes());
    body.extend_from_slice(value);
    body.resize(body.len().next_multiple_of(4), 0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use vendorwatch::source::LinkType;
    use vendorwatch::source::file::CaptureReader;

    #[test]
    fn pcap_round_trips_in_every_format() {
        let records =
            [Record::new(1_772_438_400_123_456_789, vec![1; 100]), Record::new(1_772_438_401_000_000_000, vec![2; 10])];
        for (big_endian, nanos) in [(false, false), (true, false), (false, true), (true, true)] {
            let format = PcapFormat { linktype: 101, big_endian, nanos, snaplen: 64 };
            let bytes = pcap_bytes(format, &records);
            let mut r = CaptureReader::from_reader(&bytes[..]).unwrap();
            let f = r.next_frame().unwrap().unwrap();
            assert_eq!((f.link, f.data.len(), f.wire_len), (LinkType::Raw, 64, 100));
            let expected = if nanos { 1_772_438_400_123_456_789 } else { 1_772_438_400_123_456_000 };
            assert_eq!(f.ts_ns, expected);
            assert_eq!(r.next_frame().unwrap().unwrap().data, &[2; 10]);
            assert!(r.next_frame().unwrap().is_none());
        }
    }

    #[test]
    fn pcapng_keeps_interfaces_apart() {
        let mut ng = PcapNg::new();
        ng.interface(NgInterface { linktype: 1, snaplen: 65535, nanos: false, name: "eth0" });
        ng.interface(NgInterface { linktype: 101, snaplen: 65535, nanos: true, name: "tun0" });
        ng.packet(&Record { ts_ns: 5_000_000_123, data: vec![9; 7], interface: 1 });
        ng.custom_block(0x0bad, b"skip me");
        ng.packet(&Record { ts_ns: 6_000_001_000, data: vec![8; 3], interface: 0 });
        let bytes = ng.finish();
        let mut r = CaptureReader::from_reader(&bytes[..]).unwrap();
        let a = r.next_frame().unwrap().unwrap();
        assert_eq!((a.link, a.ts_ns, a.interface, a.data), (LinkType::Raw, 5_000_000_123, 1, &[9u8; 7][..]));
        let b = r.next_frame().unwrap().unwrap();
        assert_eq!((b.link, b.ts_ns, b.interface), (LinkType::Ethernet, 6_000_001_000, 0));
        assert!(r.next_frame().unwrap().is_none());
    }
}
