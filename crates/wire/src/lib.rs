//! Wire formats: one zero-copy view per protocol header, checked once by
//! `new_checked` and then read through cheap accessors, in the manner of
//! smoltcp. No dependencies, no allocation, no state: the engine's decode
//! stage walks these views layer by layer.
//!
//! Each protocol's numbers (ethertypes, IP protocol numbers, ports) are
//! defined here once, next to its view. With the `emit` feature, the same
//! modules also build headers, so fixtures write frames from the definitions
//! the decoder reads them with.

#![forbid(unsafe_code)]

pub mod capwap;
#[cfg(feature = "emit")]
pub mod checksum;
pub mod erspan;
pub mod ethernet;
pub mod geneve;
pub mod gre;
pub mod gtp;
pub mod ieee80211;
pub mod ip;
pub mod ipv4;
pub mod ipv6;
pub mod linktype;
pub mod mpls;
pub mod pppoe;
pub mod sll;
pub mod tcp;
pub mod udp;
pub mod vxlan;

/// Reads a big-endian u16; callers have checked the length.
#[inline]
pub(crate) fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Reads a big-endian u32; callers have checked the length.
#[inline]
pub(crate) fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Why a frame could not be decoded; each reason is a metric label value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    UnsupportedLink,
    LinkTruncated,
    EthernetTruncated,
    VlanTruncated,
    TooManyVlanTags,
    Ipv4Truncated,
    Ipv4BadHeader,
    Ipv6Truncated,
    Ipv6BadHeader,
    Ipv6ExtensionChain,
    TcpTruncated,
    TcpBadHeader,
    UdpTruncated,
    UdpBadHeader,
    GreTruncated,
    /// Reserved bits set, or a GRE version other than 0 and 1.
    GreBadHeader,
    ErspanTruncated,
    /// The ERSPAN version field does not match the GRE protocol type.
    ErspanBadHeader,
    /// Geneve options run past the datagram.
    GeneveTruncated,
    /// The CAPWAP header length runs past the datagram.
    CapwapTruncated,
    /// An 802.11 data frame inside CAPWAP is cut before its SNAP header ends.
    Ieee80211Truncated,
    /// The label stack has no bottom entry, or the control word is cut.
    MplsTruncated,
    PppoeTruncated,
    /// Not version 1, type 1, session data, or a length without PPP protocol.
    PppoeBadHeader,
    /// More nested encapsulations than the decoder opens.
    TooManyEncapsulations,
}

impl DecodeError {
    pub const ALL: [DecodeError; 25] = [
        DecodeError::UnsupportedLink,
        DecodeError::LinkTruncated,
        DecodeError::EthernetTruncated,
        DecodeError::VlanTruncated,
        DecodeError::TooManyVlanTags,
        DecodeError::Ipv4Truncated,
        DecodeError::Ipv4BadHeader,
        DecodeError::Ipv6Truncated,
        DecodeError::Ipv6BadHeader,
        DecodeError::Ipv6ExtensionChain,
        DecodeError::TcpTruncated,
        DecodeError::TcpBadHeader,
        DecodeError::UdpTruncated,
        DecodeError::UdpBadHeader,
        DecodeError::GreTruncated,
        DecodeError::GreBadHeader,
        DecodeError::ErspanTruncated,
        DecodeError::ErspanBadHeader,
        DecodeError::GeneveTruncated,
        DecodeError::CapwapTruncated,
        DecodeError::Ieee80211Truncated,
        DecodeError::MplsTruncated,
        DecodeError::PppoeTruncated,
        DecodeError::PppoeBadHeader,
        DecodeError::TooManyEncapsulations,
    ];

    /// The `reason` label of `vendorwatch_decode_errors_total`.
    pub fn reason(self) -> &'static str {
        match self {
            DecodeError::UnsupportedLink => "unsupported_link_type",
            DecodeError::LinkTruncated => "link_truncated",
            DecodeError::EthernetTruncated => "ethernet_truncated",
            DecodeError::VlanTruncated => "vlan_truncated",
            DecodeError::TooManyVlanTags => "too_many_vlan_tags",
            DecodeError::Ipv4Truncated => "ipv4_truncated",
            DecodeError::Ipv4BadHeader => "ipv4_bad_header",
            DecodeError::Ipv6Truncated => "ipv6_truncated",
            DecodeError::Ipv6BadHeader => "ipv6_bad_header",
            DecodeError::Ipv6ExtensionChain => "ipv6_extension_chain",
            DecodeError::TcpTruncated => "tcp_truncated",
            DecodeError::TcpBadHeader => "tcp_bad_header",
            DecodeError::UdpTruncated => "udp_truncated",
            DecodeError::UdpBadHeader => "udp_bad_header",
            DecodeError::GreTruncated => "gre_truncated",
            DecodeError::GreBadHeader => "gre_bad_header",
            DecodeError::ErspanTruncated => "erspan_truncated",
            DecodeError::ErspanBadHeader => "erspan_bad_header",
            DecodeError::GeneveTruncated => "geneve_truncated",
            DecodeError::CapwapTruncated => "capwap_truncated",
            DecodeError::Ieee80211Truncated => "ieee80211_truncated",
            DecodeError::MplsTruncated => "mpls_truncated",
            DecodeError::PppoeTruncated => "pppoe_truncated",
            DecodeError::PppoeBadHeader => "pppoe_bad_header",
            DecodeError::TooManyEncapsulations => "too_many_encapsulations",
        }
    }

    pub fn index(self) -> usize {
        DecodeError::ALL.iter().position(|&e| e == self).unwrap_or(0)
    }
}
