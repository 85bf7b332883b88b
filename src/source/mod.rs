//! Packet sources: capture files (pcap, pcapng) and, in `live`, interfaces.
//!
//! Every source yields [`Frame`]s that borrow the source's own buffer, so a
//! frame must be processed before the next one is read: that is what keeps
//! memory flat however large the capture is.

mod buffer;
pub mod clock;
pub mod compressed;
pub mod file;
pub mod input;
#[cfg(feature = "live")]
pub mod live;
pub mod pcap;
pub mod pcapng;

/// The link layer a frame starts with (the pcap LINKTYPE_ values we decode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// LINKTYPE_NULL (0): BSD loopback, a 4-byte address family in host order.
    Null,
    /// LINKTYPE_ETHERNET (1).
    Ethernet,
    /// LINKTYPE_RAW (101) and LINKTYPE_IPV4/IPV6 (228/229): starts at the IP header.
    Raw,
    /// LINKTYPE_LOOP (108): OpenBSD loopback, a 4-byte address family in network order.
    Loop,
    /// LINKTYPE_LINUX_SLL (113): Linux "cooked" capture v1.
    LinuxSll,
    /// LINKTYPE_LINUX_SLL2 (276): Linux "cooked" capture v2.
    LinuxSll2,
    /// Anything else: frames are counted as undecodable.
    Other(u32),
}

impl LinkType {
    /// Maps a pcap/pcapng link-type number.
    pub fn from_number(n: u32) -> LinkType {
        match n {
            0 => LinkType::Null,
            1 => LinkType::Ethernet,
            101 | 228 | 229 | 12 | 14 => LinkType::Raw,
            108 => LinkType::Loop,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            other => LinkType::Other(other),
        }
    }
}

/// One captured frame, borrowed from the source's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// Capture time, nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    pub link: LinkType,
    /// The captured bytes (possibly cut to the snap length).
    pub data: &'a [u8],
    /// The frame's length on the wire, which counts toward byte totals.
    pub wire_len: u32,
    /// Index of the capture interface within the source (pcapng IDB, live interface).
    pub interface: u32,
}

/// What went wrong reading a capture. Most errors end the file (everything
/// read before counts); [`ReadError::is_skip`] errors skip one record, and
/// reading goes on with the next.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("I/O error at byte {offset}: {source}")]
    Io {
        offset: u64,
        #[source]
        source: std::io::Error,
    },
    #[error("truncated at byte {offset} (record {record}): {what}")]
    Truncated { offset: u64, record: u64, what: &'static str },
    #[error("malformed at byte {offset} (record {record}): {what}")]
    Malformed { offset: u64, record: u64, what: &'static str },
    #[error("record at byte {offset} (record {record}) is {len} bytes, over the {} MiB limit", MAX_RECORD_LEN >> 20)]
    TooLarge { offset: u64, record: u64, len: u64 },
    /// The record is well framed but its time cannot be right; it was skipped.
    #[error("bad timestamp at byte {offset} (record {record}): {what}; record skipped")]
    BadTimestamp { offset: u64, record: u64, what: &'static str },
    #[error("not a pcap or pcapng file (magic {magic:08x})")]
    UnknownFormat { magic: u32 },
}

/// The largest record read: a frame's captured bytes (pcap record, pcapng
/// packet block) or a whole pcapng block of another kind. Larger ones are
/// taken as corruption: trusting the length would let one bad header
/// claim gigabytes, and no link carries frames anywhere near this.
pub const MAX_RECORD_LEN: u32 = 16 * 1024 * 1024;

impl ReadError {
    /// The `reason` label of `vendorwatch_capture_errors_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            ReadError::Io { .. } => "io",
            ReadError::Truncated { .. } => "truncated",
            ReadError::Malformed { .. } => "malformed",
            ReadError::TooLarge { .. } => "record_too_large",
            ReadError::BadTimestamp { .. } => "bad_timestamp",
            ReadError::UnknownFormat { .. } => "not_a_capture",
        }
    }

    /// A read that failed at `offset`, in record `record`. A compressed
    /// stream cut short says so through its decoder, as an unexpected end:
    /// that is a truncation like any other.
    pub(crate) fn reading(offset: u64, record: u64, source: std::io::Error) -> ReadError {
        if source.kind() == std::io::ErrorKind::UnexpectedEof {
            ReadError::Truncated {
                offset,
                record,
                what: "the compressed stream ends early (offsets count decompressed bytes)",
            }
        } else {
            ReadError::Io { offset, source }
        }
    }

    /// Whether only one record was lost and the next call reads on.
    pub fn is_skip(&self) -> bool {
        matches!(self, ReadError::BadTimestamp { .. })
    }
}
