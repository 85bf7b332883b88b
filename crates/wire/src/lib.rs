//! Wire formats: one zero-copy view per protocol header, checked once by
//! `new_checked` and then read through cheap accessors, in the manner of
//! smoltcp. No dependencies, no allocation, no state: the engine's decode
//! stage walks these views layer by layer.
//!
//! # The shape every view follows
//!
//! - **A view owns or borrows its buffer.** `Frame<T: AsRef<[u8]>> { buffer:
//!   T }` (named per protocol: `Frame`, `Packet`, `Header`, `Datagram`, ...)
//!   takes a slice, an array or a `Vec<u8>`; [`into_inner`] gives it back.
//! - **Field offsets are named once**, in each module's private `mod
//!   field`: a [`Field`] range per fixed field, a [`Rest`] for what follows a
//!   fixed header.
//! - **`new_checked(buffer) -> Result<Self, DecodeError>`** validates, once,
//!   every length (and every length field) the accessors rely on, so that no
//!   accessor can panic afterwards. `new_unchecked` wraps a buffer as it is,
//!   for a caller that has checked it (or builds it): its accessors may then
//!   panic. Views whose layout is only known by walking a chain (IPv6
//!   extension headers, GTP-U extension headers, NFLOG attributes, radiotap
//!   presence words, the MPLS label stack) keep the offsets the walk found
//!   beside the buffer and so have no `new_unchecked`.
//! - **Accessors are cheap**: a slice index and a shift, in
//!   `impl<T: AsRef<[u8]>>`. `payload()` lives in `impl<'a, T> View<&'a T>`
//!   and returns `&'a [u8]`, a sub-slice of the buffer the view borrows, so a
//!   decoder can drop the view and keep walking (and tell by the slice's
//!   address how far in the inner frame starts).
//! - **Protocols that share their port (or link) with other traffic** have a
//!   `probe(&[u8]) -> bool` beside the view: whether the first bytes are that
//!   protocol at all. What fails the probe is someone else's traffic, not an
//!   error; what passes it and then fails `new_checked` is a broken header,
//!   counted by its [`DecodeError`].
//! - **The emit side** (feature `emit`) lives in the same file as the view:
//!   a `Repr` whose `emit(payload) -> Vec<u8>` writes the header the view
//!   reads, so fixtures build frames from the same definitions (and the
//!   module's tests check that the view reads back what `Repr` wrote).
//!
//! Each protocol's numbers (ethertypes, IP protocol numbers, ports) are
//! defined here once, next to its view.
//!
//! [`into_inner`]: ethernet::Frame::into_inner

#![forbid(unsafe_code)]

pub mod ayiya;
pub mod capwap;
pub mod chdlc;
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
pub mod l2tp;
pub mod linktype;
pub mod llc;
pub mod mpls;
pub mod nflog;
pub mod ppp;
pub mod pppoe;
pub mod radiotap;
pub mod sll;
pub mod tcp;
pub mod teredo;
pub mod udp;
pub mod vxlan;

/// The value of a 16-bit length field a builder writes.
///
/// # Panics
///
/// If `len` does not fit: the builders are given frames that fit their
/// headers, and one that does not is a bug in the fixture, better stopped
/// than written with a wrapped length.
#[cfg(any(test, feature = "emit"))]
pub fn len16(len: usize) -> u16 {
    u16::try_from(len).unwrap_or_else(|_| panic!("{len} does not fit a 16-bit length field"))
}

/// The value of an 8-bit length (or count) field a builder writes.
///
/// # Panics
///
/// If `len` does not fit, as [`len16`].
#[cfg(any(test, feature = "emit"))]
pub fn len8(len: usize) -> u8 {
    u8::try_from(len).unwrap_or_else(|_| panic!("{len} does not fit an 8-bit length field"))
}

/// A fixed field's bytes within a header (a module's `mod field`).
pub type Field = core::ops::Range<usize>;
/// The bytes from an offset on: what follows a fixed header.
pub type Rest = core::ops::RangeFrom<usize>;

// The readers below are on every accessor's path, so they are always
// inlined: each is one bounds check (which the constructor's length check
// usually lets the compiler drop) and a load.

/// The `N` bytes at `f.start` (a MAC, an IP address, a multi-byte
/// integer); the constructor checked the length.
#[allow(clippy::inline_always, reason = "on every packet's decode path; callgrind showed it left out of line")]
#[inline(always)]
pub(crate) fn array<const N: usize>(b: &[u8], f: Field) -> [u8; N] {
    let mut a = [0; N];
    a.copy_from_slice(&b[f.start..f.start + N]);
    a
}

/// The big-endian u16 at `f.start`; the constructor checked the length.
#[allow(clippy::inline_always, reason = "on every packet's decode path; callgrind showed it left out of line")]
#[inline(always)]
pub(crate) fn be16(b: &[u8], f: Field) -> u16 {
    u16::from_be_bytes(array(b, f))
}

/// The little-endian u16 at `f.start`; the constructor checked the length.
#[allow(clippy::inline_always, reason = "on every packet's decode path; callgrind showed it left out of line")]
#[inline(always)]
pub(crate) fn le16(b: &[u8], f: Field) -> u16 {
    u16::from_le_bytes(array(b, f))
}

/// The big-endian u32 at `f.start`; the constructor checked the length.
#[allow(clippy::inline_always, reason = "on every packet's decode path; callgrind showed it left out of line")]
#[inline(always)]
pub(crate) fn be32(b: &[u8], f: Field) -> u32 {
    u32::from_be_bytes(array(b, f))
}

/// Why a frame could not be decoded; each reason is a metric label value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// A link type the decoder does not read.
    UnsupportedLink,
    /// The link header (loopback, Linux cooked, ...) is cut.
    LinkTruncated,
    /// Shorter than an Ethernet header.
    EthernetTruncated,
    /// A VLAN tag is cut.
    VlanTruncated,
    /// More stacked VLAN tags than the decoder reads.
    TooManyVlanTags,
    /// Shorter than the IPv4 header (minimal or by its IHL).
    Ipv4Truncated,
    /// Not version 4, an IHL below 5, or a total length below the header.
    Ipv4BadHeader,
    /// The IPv6 header or an extension header is cut.
    Ipv6Truncated,
    /// Not version 6.
    Ipv6BadHeader,
    /// More extension headers than the decoder walks.
    Ipv6ExtensionChain,
    /// Shorter than the TCP header (minimal or by its data offset).
    TcpTruncated,
    /// A data offset below 5.
    TcpBadHeader,
    /// Shorter than a UDP header.
    UdpTruncated,
    /// A length field of 1 to 7.
    UdpBadHeader,
    /// The GRE header or its optional fields are cut.
    GreTruncated,
    /// Reserved bits set, or a GRE version other than 0 and 1.
    GreBadHeader,
    /// The ERSPAN header is cut.
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
    /// The PPPoE session header is cut.
    PppoeTruncated,
    /// Not version 1, type 1, session data, or a length without PPP protocol.
    PppoeBadHeader,
    /// More nested encapsulations than the decoder opens.
    TooManyEncapsulations,
    /// The radiotap flags say the 802.11 frame failed its FCS check: it is
    /// corrupt, so nothing in it can be trusted.
    Ieee80211BadFcs,
    /// The radiotap header (by its length field) runs past the frame.
    RadiotapTruncated,
    /// A radiotap version other than 0, or a length shorter than the header.
    RadiotapBadHeader,
    /// The PPP header is cut.
    PppTruncated,
    /// A protocol field that RFC 1661 does not allow (its low bit must be 1,
    /// the high byte's 0), or a `PPP_HDLC` frame with an unknown address.
    PppBadHeader,
    /// The Cisco HDLC header is cut.
    ChdlcTruncated,
    /// A Cisco HDLC address other than unicast (0x0f) or broadcast (0x8f), or
    /// a control byte other than 0.
    ChdlcBadHeader,
    /// The NFLOG header is cut, or a TLV runs past the frame.
    NflogTruncated,
    /// An NFLOG version other than 0, or a TLV shorter than its own header.
    NflogBadHeader,
    /// An 802.3 frame's LLC/SNAP header is cut.
    LlcTruncated,
    /// A Teredo authentication or origin indicator runs past the datagram.
    TeredoTruncated,
    /// The AYIYA identity and signature run past the datagram.
    AyiyaTruncated,
    /// The L2TP header is cut.
    L2tpTruncated,
    /// Reserved L2TPv2 bits set, or a length field shorter than the header.
    L2tpBadHeader,
    /// A datagram to the VXLAN port that starts like a VXLAN header is cut
    /// before its VNI.
    VxlanTruncated,
    /// A GTP-U G-PDU's header, optional fields or extension headers are cut.
    GtpTruncated,
    /// A GTP-U extension header of length 0, or more of them in a row than
    /// the decoder walks.
    GtpBadHeader,
}

impl DecodeError {
    /// Every reason, in the order of [`index`](Self::index).
    pub const ALL: [DecodeError; 42] = [
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
        DecodeError::Ieee80211BadFcs,
        DecodeError::RadiotapTruncated,
        DecodeError::RadiotapBadHeader,
        DecodeError::PppTruncated,
        DecodeError::PppBadHeader,
        DecodeError::ChdlcTruncated,
        DecodeError::ChdlcBadHeader,
        DecodeError::NflogTruncated,
        DecodeError::NflogBadHeader,
        DecodeError::LlcTruncated,
        DecodeError::TeredoTruncated,
        DecodeError::AyiyaTruncated,
        DecodeError::L2tpTruncated,
        DecodeError::L2tpBadHeader,
        DecodeError::VxlanTruncated,
        DecodeError::GtpTruncated,
        DecodeError::GtpBadHeader,
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
            DecodeError::Ieee80211BadFcs => "ieee80211_bad_fcs",
            DecodeError::RadiotapTruncated => "radiotap_truncated",
            DecodeError::RadiotapBadHeader => "radiotap_bad_header",
            DecodeError::PppTruncated => "ppp_truncated",
            DecodeError::PppBadHeader => "ppp_bad_header",
            DecodeError::ChdlcTruncated => "chdlc_truncated",
            DecodeError::ChdlcBadHeader => "chdlc_bad_header",
            DecodeError::NflogTruncated => "nflog_truncated",
            DecodeError::NflogBadHeader => "nflog_bad_header",
            DecodeError::LlcTruncated => "llc_truncated",
            DecodeError::TeredoTruncated => "teredo_truncated",
            DecodeError::AyiyaTruncated => "ayiya_truncated",
            DecodeError::L2tpTruncated => "l2tp_truncated",
            DecodeError::L2tpBadHeader => "l2tp_bad_header",
            DecodeError::VxlanTruncated => "vxlan_truncated",
            DecodeError::GtpTruncated => "gtp_truncated",
            DecodeError::GtpBadHeader => "gtp_bad_header",
        }
    }

    /// The reason's position in [`ALL`](Self::ALL), for per-reason counters.
    pub fn index(self) -> usize {
        DecodeError::ALL.iter().position(|&e| e == self).unwrap_or(0)
    }
}
