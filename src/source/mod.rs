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
pub mod readahead;

use wire::linktype;

/// The link layer a frame starts with (the pcap LINKTYPE_ values we decode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// `LINKTYPE_NULL` (0): BSD loopback, a 4-byte address family in host order.
    Null,
    /// `LINKTYPE_ETHERNET` (1).
    Ethernet,
    /// `LINKTYPE_RAW` (101) and `LINKTYPE_IPV4/IPV6` (228/229): starts at the IP header.
    Raw,
    /// `LINKTYPE_LOOP` (108): OpenBSD loopback, a 4-byte address family in network order.
    Loop,
    /// `LINKTYPE_LINUX_SLL` (113): Linux "cooked" capture v1.
    LinuxSll,
    /// `LINKTYPE_LINUX_SLL2` (276): Linux "cooked" capture v2.
    LinuxSll2,
    /// `LINKTYPE_ETHERNET` whose frames end in a frame check sequence of this
    /// many bytes, as a classic pcap header's FCS-length bits say.
    EthernetFcs(u8),
    /// `LINKTYPE_PPP` (9): PPP, with or without RFC 1662's address and control.
    Ppp,
    /// `LINKTYPE_PPP_HDLC` (50): PPP in HDLC-like framing, or Cisco HDLC.
    PppHdlc,
    /// `LINKTYPE_C_HDLC` (104): Cisco HDLC.
    CiscoHdlc,
    /// `LINKTYPE_IEEE802_11` (105): 802.11 frames without a radio header.
    Ieee80211,
    /// `LINKTYPE_IEEE802_11_RADIOTAP` (127): 802.11 frames after a radiotap header.
    Radiotap,
    /// `LINKTYPE_NFLOG` (239): Linux netfilter's log of IP packets.
    Nflog,
    /// Anything else: frames are counted as undecodable.
    Other(u32),
}

impl LinkType {
    /// Maps a pcap/pcapng link-type number.
    pub fn from_number(n: u32) -> LinkType {
        match n {
            linktype::NULL => LinkType::Null,
            linktype::ETHERNET => LinkType::Ethernet,
            linktype::RAW | 228 | 229 | 12 | 14 => LinkType::Raw,
            linktype::LOOP => LinkType::Loop,
            linktype::LINUX_SLL => LinkType::LinuxSll,
            linktype::LINUX_SLL2 => LinkType::LinuxSll2,
            linktype::PPP => LinkType::Ppp,
            linktype::PPP_HDLC => LinkType::PppHdlc,
            linktype::C_HDLC => LinkType::CiscoHdlc,
            linktype::IEEE802_11 => LinkType::Ieee80211,
            linktype::IEEE802_11_RADIOTAP => LinkType::Radiotap,
            linktype::NFLOG => LinkType::Nflog,
            other => LinkType::Other(other),
        }
    }

    /// Maps a classic pcap header's link-type field: the link type in its
    /// low 16 bits, and libpcap's FCS length in its upper bits, which only
    /// Ethernet frames here are stripped of (an FCS length of 0 says the
    /// frames have none).
    pub fn from_pcap_field(field: u32) -> LinkType {
        match (LinkType::from_number(linktype::of_pcap_field(field)), linktype::fcs_len_of_pcap_field(field)) {
            (LinkType::Ethernet, Some(fcs_len)) if fcs_len > 0 => LinkType::EthernetFcs(fcs_len),
            (link, _) => link,
        }
    }
}

/// One captured frame, borrowed from the source's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// Capture time, nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    /// The link layer `data` starts with.
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
    /// Reading the stream failed.
    #[error("I/O error at byte {offset}: {source}")]
    Io {
        /// Bytes into the (decompressed) stream where the record being read starts.
        offset: u64,
        /// The operating system's or the decoder's error.
        #[source]
        source: std::io::Error,
    },
    /// The stream ends inside a header or a record.
    #[error("truncated at byte {offset} (record {record}): {what}")]
    Truncated {
        /// Bytes into the (decompressed) stream where the cut record starts.
        offset: u64,
        /// Packet records read before this one (skipped ones included): its
        /// index among them, counting from 0.
        record: u64,
        /// The part that is cut short.
        what: &'static str,
    },
    /// A header or block says something impossible.
    #[error("malformed at byte {offset} (record {record}): {what}")]
    Malformed {
        /// Bytes into the (decompressed) stream where the bad header or block starts.
        offset: u64,
        /// Packet records read before this one (skipped ones included): its
        /// index among them, counting from 0.
        record: u64,
        /// What is wrong.
        what: &'static str,
    },
    /// A record claims more than [`MAX_RECORD_LEN`] bytes.
    #[error("record at byte {offset} (record {record}) is {len} bytes, over the {} MiB limit", MAX_RECORD_LEN >> 20)]
    TooLarge {
        /// Bytes into the (decompressed) stream where the record starts.
        offset: u64,
        /// Packet records read before this one (skipped ones included): its
        /// index among them, counting from 0.
        record: u64,
        /// The length its header claims, in bytes.
        len: u64,
    },
    /// The record is well framed but its time cannot be right; it was skipped.
    #[error("bad timestamp at byte {offset} (record {record}): {what}; record skipped")]
    BadTimestamp {
        /// Bytes into the (decompressed) stream where the skipped record starts.
        offset: u64,
        /// Packet records read before this one (skipped ones included): its
        /// index among them, counting from 0.
        record: u64,
        /// Which field is out of range.
        what: &'static str,
    },
    /// The stream starts with neither a pcap nor a pcapng magic (after any
    /// compression is taken off).
    #[error("not a pcap or pcapng file (magic {magic:08x})")]
    UnknownFormat {
        /// The first four bytes, read little-endian.
        magic: u32,
    },
}

/// The largest record read: a frame's captured bytes (pcap record, pcapng
/// packet block) or a whole pcapng block of another kind. Larger ones are
/// taken as corruption: trusting the length would let one bad header
/// claim gigabytes, and no link carries frames anywhere near this.
pub const MAX_RECORD_LEN: u32 = 16 * 1024 * 1024;

/// Capture interfaces of a file whose names are kept, by frame interface
/// number: a file declaring more (one per section, sections without end)
/// keeps memory bounded; the rest go unnamed.
pub const MAX_INTERFACE_NAMES: usize = 4096;

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
    pub fn reading(offset: u64, record: u64, source: std::io::Error) -> ReadError {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcap_link_type_fields_carry_the_fcs_length_in_their_upper_bits() {
        assert_eq!(LinkType::from_pcap_field(1), LinkType::Ethernet);
        // FCS present, 2 words: a 4-byte Ethernet FCS.
        assert_eq!(LinkType::from_pcap_field(0x2400_0001), LinkType::EthernetFcs(4));
        assert_eq!(LinkType::from_pcap_field(0x0400_0001), LinkType::Ethernet, "FCS length 0: none");
        // The length bits without the present bit say nothing.
        assert_eq!(LinkType::from_pcap_field(0x2000_0001), LinkType::Ethernet);
        assert_eq!(LinkType::from_pcap_field(0x2400_0000 | 127), LinkType::Radiotap);
        for (n, link) in
            [(9, LinkType::Ppp), (50, LinkType::PppHdlc), (104, LinkType::CiscoHdlc), (239, LinkType::Nflog)]
        {
            assert_eq!(LinkType::from_number(n), link);
        }
    }
}
