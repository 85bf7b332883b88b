//! Decode: from a captured frame to the addresses, ports and payload of the
//! innermost IP packet, without copying or allocating.
//!
//! Each protocol has its own zero-copy view (`ethernet`, `ipv4`, `gre`, ...)
//! with a checked constructor, and the tunnels that share a port with other
//! traffic a probe: what fails the probe stays the packet it came in, what
//! passes it and fails the constructor is a [`DecodeError`]. This module
//! walks the views in order, from the link layer (Ethernet with or without
//! an FCS, 802.3 with LLC/SNAP, Linux SLL, PPP, Cisco HDLC, NFLOG, 802.11
//! with or without radiotap, raw IP, loopback) through up to
//! [`MAX_ENCAP_DEPTH`] nested encapsulations (GRE, GRE in UDP, ERSPAN,
//! VXLAN, Geneve, MPLS, IP-in-IP, CAPWAP, PPPoE, GTP-U, Teredo, AYIYA,
//! L2TPv2 and L2TPv3), and records the outermost one in [`Packet::encap`].
//! A tunnel whose inner frame is not IP (ARP inside VXLAN, 802.11
//! management frames inside CAPWAP, PPTP's PPP, L2TP's link control) leaves
//! the outer packet as the flow, as if it were not a tunnel. A frame that is
//! not IP at all (ARP, LLDP, ...) is [`Decoded::NotIp`]; an IP fragment is
//! [`Decoded::Fragment`], for [`fragment::Defragmenter`]; a broken frame is
//! a [`DecodeError`], which the caller counts by [`DecodeError::reason`] and
//! skips.

pub mod fragment;

pub use wire::ip::{
    IPPROTO_GRE, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_IPIP, IPPROTO_IPV6, IPPROTO_L2TP, IPPROTO_TCP, IPPROTO_UDP,
};
pub use wire::{
    DecodeError, ayiya, capwap, chdlc, erspan, ethernet, geneve, gre, gtp, ieee80211, ipv4, ipv6, l2tp, llc, mpls,
    nflog, ppp, pppoe, radiotap, sll, tcp, teredo, udp, vxlan,
};

use std::net::IpAddr;

use crate::source::LinkType;

pub use fragment::Fragment;

/// Stacked VLAN tags beyond this, counting the tags of Ethernet frames
/// inside tunnels too, are treated as garbage: QinQ outside and inside an
/// overlay is four.
const MAX_VLAN_TAGS: usize = 4;
/// Nested encapsulations beyond this are an error: real networks nest two
/// or three (say MPLS, GRE, then VXLAN), and the bound caps the work one
/// crafted frame can cause.
pub const MAX_ENCAP_DEPTH: u8 = 4;

/// The VLAN ids of a frame, outermost first, including those of Ethernet
/// frames inside tunnels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Vlans {
    ids: [u16; MAX_VLAN_TAGS],
    len: u8,
}

impl Vlans {
    fn push(&mut self, id: u16) -> Result<(), DecodeError> {
        let slot = self.ids.get_mut(usize::from(self.len)).ok_or(DecodeError::TooManyVlanTags)?;
        *slot = id;
        self.len += 1;
        Ok(())
    }

    /// The 12-bit VLAN ids, outermost first; empty for an untagged frame.
    pub fn as_slice(&self) -> &[u16] {
        &self.ids[..usize::from(self.len)]
    }

    /// The tag closest to the IP header: the customer VLAN under QinQ.
    pub fn innermost(&self) -> Option<u16> {
        self.as_slice().last().copied()
    }
}

/// The kinds of encapsulation the decoder opens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum EncapKind {
    /// The packet came in as captured, not through a tunnel.
    #[default]
    None,
    /// GRE over IP (protocol 47), carrying IP or Ethernet (transparent
    /// Ethernet bridging).
    Gre,
    /// GRE protocol 0x88BE without a sequence number: no ERSPAN header.
    ErspanI,
    /// ERSPAN type II: a mirrored Ethernet frame behind an 8-byte header
    /// with a session id.
    ErspanII,
    /// ERSPAN type III: a mirrored Ethernet frame or IP packet behind a
    /// 12-byte header (and optional platform subheader) with a session id.
    ErspanIII,
    /// VXLAN (UDP 4789): an Ethernet frame of an overlay network.
    Vxlan,
    /// Geneve (UDP 6081): an Ethernet frame or IP packet of an overlay
    /// network.
    Geneve,
    /// An MPLS label stack, over Ethernet or GRE.
    Mpls,
    /// IPv4 in IPv4.
    IpInIp,
    /// IPv6 in IPv4.
    SixInFour,
    /// IPv4 in IPv6.
    FourInSix,
    /// IPv6 in IPv6.
    SixInSix,
    /// CAPWAP data (UDP 5247): an access point's 802.11 or Ethernet
    /// frames sent to its wireless controller.
    Capwap,
    /// A PPPoE session: PPP over Ethernet, as DSL access lines carry it.
    Pppoe,
    /// GTP-U, a mobile core's user plane.
    GtpU,
    /// GRE in UDP (RFC 8086).
    GreUdp,
    /// Teredo: IPv6 in UDP through IPv4 NATs.
    Teredo,
    /// AYIYA: a tunnel broker's IPv6 (or IPv4) in UDP.
    Ayiya,
    /// An L2TPv2 data message: PPP in UDP.
    L2tp,
    /// An L2TPv3 session over IP carrying an Ethernet pseudowire.
    L2tpV3,
}

impl EncapKind {
    /// The flow log's `encap` value; `None` for no encapsulation, which is
    /// not logged.
    pub fn as_str(self) -> Option<&'static str> {
        Some(match self {
            EncapKind::None => return None,
            EncapKind::Gre => "gre",
            EncapKind::ErspanI | EncapKind::ErspanII | EncapKind::ErspanIII => "erspan",
            EncapKind::Vxlan => "vxlan",
            EncapKind::Geneve => "geneve",
            EncapKind::Mpls => "mpls",
            EncapKind::IpInIp => "ipip",
            EncapKind::SixInFour => "6in4",
            EncapKind::FourInSix => "4in6",
            EncapKind::SixInSix => "6in6",
            EncapKind::Capwap => "capwap",
            EncapKind::Pppoe => "pppoe",
            EncapKind::GtpU => "gtp",
            EncapKind::GreUdp => "gre_udp",
            EncapKind::Teredo => "teredo",
            EncapKind::Ayiya => "ayiya",
            EncapKind::L2tp => "l2tp",
            EncapKind::L2tpV3 => "l2tpv3",
        })
    }
}

/// The outermost encapsulation of a packet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Encap {
    /// Which encapsulation; [`EncapKind::None`] for none.
    pub kind: EncapKind,
    /// The VXLAN or Geneve VNI, GRE key, ERSPAN (II, III) session id,
    /// PPPoE session id, GTP-U TEID, L2TPv3 session id, or L2TPv2 tunnel
    /// and session ids (tunnel id in the upper 16 bits), where the
    /// encapsulation has one.
    pub id: Option<u32>,
}

/// An IP packet's flow-relevant fields.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// The innermost IP header's source address.
    pub src: IpAddr,
    /// The innermost IP header's destination address.
    pub dst: IpAddr,
    /// The upper-layer protocol number, after any IPv6 extension headers:
    /// [`IPPROTO_TCP`], [`IPPROTO_UDP`], ...
    pub protocol: u8,
    /// The TCP or UDP source port; zero for protocols without ports.
    pub src_port: u16,
    /// The TCP or UDP destination port; zero for protocols without ports.
    pub dst_port: u16,
    /// The TCP flags byte ([`tcp::SYN`], [`tcp::ACK`], ...); zero for
    /// other protocols.
    pub tcp_flags: u8,
    /// The TCP sequence number; zero for other protocols.
    pub tcp_seq: u32,
    /// The transport payload (TCP/UDP data; the whole IP payload otherwise).
    pub payload: &'a [u8],
    /// The frame's VLAN tags, those inside tunnels included.
    pub vlans: Vlans,
    /// The MAC addresses of the innermost Ethernet header, when the frame
    /// has one: the hosts on the segment (or the router between them).
    pub macs: Option<Macs>,
    /// What a SYN (without ACK) says of the sender's TCP stack; `None` on
    /// every other packet.
    pub syn: Option<SynInfo>,
    /// The outermost encapsulation the packet came in.
    pub encap: Encap,
    /// Bytes of the frame before the innermost frame (the Ethernet frame
    /// inside VXLAN, the IP packet inside GRE, ...) starts: zero without
    /// encapsulation, so `wire_len - outer_len` is always the wire bytes of
    /// the frame the flow itself sent.
    pub outer_len: usize,
}

/// Option kinds a [`SynInfo`] keeps; a SYN with more (a real stack sends
/// at most ten) is marked [`SynInfo::options_cut`].
pub const MAX_SYN_OPTIONS: usize = 16;

/// The TCP/IP fields of a SYN that tell operating systems apart (p0f's
/// metrics): TTL, window, MSS, window scale and the option layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SynInfo {
    /// The IPv4 TTL or IPv6 hop limit as captured.
    pub ttl: u8,
    /// The TCP window field, unscaled.
    pub window: u16,
    /// The maximum segment size option's value; `None` without one.
    pub mss: Option<u16>,
    /// The window scale option's shift count; `None` without one.
    pub window_scale: Option<u8>,
    kinds: [u8; MAX_SYN_OPTIONS],
    len: u8,
    /// More options than [`MAX_SYN_OPTIONS`] followed.
    pub options_cut: bool,
    /// Bytes after an end-of-options option.
    pub eol_padding: u8,
}

impl SynInfo {
    /// Out of line: SYNs are few, and the option walk stays off the path
    /// of every other segment.
    #[inline(never)]
    fn of(ttl: u8, s: &tcp::Segment<&[u8]>) -> SynInfo {
        let mut info = SynInfo {
            ttl,
            window: s.window(),
            mss: None,
            window_scale: None,
            kinds: [0; MAX_SYN_OPTIONS],
            len: 0,
            options_cut: false,
            eol_padding: 0,
        };
        for o in s.options() {
            match (o.kind, o.data) {
                (tcp::OPT_MSS, &[hi, lo]) => info.mss = Some(u16::from_be_bytes([hi, lo])),
                (tcp::OPT_WINDOW_SCALE, &[shift]) => info.window_scale = Some(shift),
                // TCP options are at most 40 bytes: the count fits.
                (tcp::OPT_EOL, padding) => info.eol_padding = u8::try_from(padding.len()).unwrap_or(u8::MAX),
                _ => {}
            }
            match info.kinds.get_mut(usize::from(info.len)) {
                Some(slot) => {
                    *slot = o.kind;
                    info.len += 1;
                }
                None => info.options_cut = true,
            }
        }
        info
    }

    /// The option kinds, in the order sent.
    pub fn option_kinds(&self) -> &[u8] {
        &self.kinds[..usize::from(self.len)]
    }
}

/// Source and destination MAC addresses of an Ethernet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Macs {
    /// The sending station (the header's source address).
    pub src: [u8; 6],
    /// The receiving station: a host, a router, or a broadcast or
    /// multicast group.
    pub dst: [u8; 6],
}

/// The result of decoding one frame.
#[derive(Debug, Clone, Copy)]
pub enum Decoded<'a> {
    /// An unfragmented IP packet: the innermost one, through the tunnels
    /// the decoder opens.
    Packet(Packet<'a>),
    /// ARP, LLDP, STP and the like: counted, not an error.
    NotIp,
    /// An IP fragment: its transport header is not (all) here; a
    /// [`fragment::Defragmenter`] puts the datagram back together.
    Fragment(Fragment<'a>),
}

/// Decodes a frame of the given link type.
pub fn decode(link: LinkType, frame: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    let walk = Walk { vlans: Vlans::default(), macs: None, depth: 0 };
    let base = frame.as_ptr().addr();
    match link {
        LinkType::Ethernet => ethernet(walk, base, frame),
        LinkType::Raw => ip(walk, base, frame),
        LinkType::Null | LinkType::Loop => {
            // The 4-byte address family is in the capturing host's byte order
            // (Null) or network order (Loop), and its IPv6 value differs by
            // OS; the IP version nibble says the same thing reliably.
            let payload = frame.get(4..).ok_or(DecodeError::LinkTruncated)?;
            ip(walk, base, payload)
        }
        LinkType::LinuxSll => {
            let h = sll::V1::new_checked(frame)?;
            cooked(walk, base, h.protocol(), h.payload())
        }
        LinkType::LinuxSll2 => {
            let h = sll::V2::new_checked(frame)?;
            cooked(walk, base, h.protocol(), h.payload())
        }
        LinkType::EthernetFcs(fcs_len) => {
            let end = frame.len().checked_sub(usize::from(fcs_len)).ok_or(DecodeError::EthernetTruncated)?;
            ethernet(walk, base, &frame[..end])
        }
        LinkType::Ppp => ppp(walk, base, frame),
        // Captures of this link type hold PPP in HDLC-like framing or Cisco
        // HDLC; the address byte tells them apart.
        LinkType::PppHdlc if !chdlc::probe(frame) => ppp(walk, base, frame),
        LinkType::PppHdlc | LinkType::CiscoHdlc => cisco_hdlc(walk, base, frame),
        LinkType::Ieee80211 => wifi(walk, base, frame),
        LinkType::Radiotap => {
            let r = radiotap::Header::new_checked(frame)?;
            if r.bad_fcs() {
                return Err(DecodeError::Ieee80211BadFcs);
            }
            wifi(walk, base, r.payload())
        }
        LinkType::Nflog => nflog(walk, base, frame),
        LinkType::Other(_) => Err(DecodeError::UnsupportedLink),
    }
}

/// Linux SLL's protocol for frames that are an 802.2 LLC frame (`ETH_P_802_2`).
const SLL_PROTOCOL_802_2: u16 = 0x0004;

/// What a Linux cooked header's `protocol` says follows it.
fn cooked(walk: Walk, base: usize, protocol: u16, payload: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    match protocol {
        // The frame is an LLC frame, without a MAC header.
        SLL_PROTOCOL_802_2 => llc_snap(walk, base, payload),
        // Other Linux pseudo-protocols (Novell 802.3, CAN, ...).
        kind if kind <= llc::MAX_8023_LENGTH => Ok(Decoded::NotIp),
        kind => ethertype(walk, base, kind, payload),
    }
}

/// Decodes an IP packet that arrived with the given VLANs and outermost
/// encapsulation: a reassembled datagram ([`fragment::Reassembled::decode`]).
/// `outer_len` then counts from the start of `packet`.
pub fn decode_ip(packet: &[u8], vlans: Vlans, encap: Encap) -> Result<Decoded<'_>, DecodeError> {
    let decoded = ip(Walk { vlans, macs: None, depth: 0 }, packet.as_ptr().addr(), packet)?;
    // The datagram's own tunnels, if any, are inside the given one.
    Ok(if encap.kind == EncapKind::None { decoded } else { stamp(decoded, encap, 0) })
}

/// What the walk carries down into encapsulations. It is kept small, and
/// the encapsulation itself is stamped on the result on the way back out
/// ([`stamp`]), because copying a larger context through every layer made
/// the decoding of plain packets twice as slow (store-forwarding stalls).
#[derive(Clone, Copy)]
struct Walk {
    vlans: Vlans,
    /// Of the innermost Ethernet header so far.
    macs: Option<Macs>,
    /// Encapsulations entered so far.
    depth: u8,
}

/// Decodes what an encapsulation holds and marks the result as having come
/// through it. `base` is the address of the first byte of the buffer the
/// walk started from: every view hands out sub-slices of it, so the
/// distance between start addresses is the inner frame's offset (the views
/// trim their ends to length fields, which rules out counting from the end).
fn tunnel<'a>(
    walk: Walk,
    base: usize,
    encap: Encap,
    inner: &'a [u8],
    open: impl FnOnce(Walk, &'a [u8]) -> Result<Decoded<'a>, DecodeError>,
) -> Result<Decoded<'a>, DecodeError> {
    if walk.depth >= MAX_ENCAP_DEPTH {
        return Err(DecodeError::TooManyEncapsulations);
    }
    let decoded = open(Walk { depth: walk.depth + 1, ..walk }, inner)?;
    Ok(stamp(decoded, encap, inner.as_ptr().addr().saturating_sub(base)))
}

/// Marks a packet or fragment as having come through `encap`, whose inner
/// frame starts at `inner_at`. Tunnels stamp on the way out, so the
/// outermost one writes last and is the one reported; `outer_len` is set
/// by the innermost one only (a deeper tunnel's is never zero).
fn stamp(decoded: Decoded<'_>, encap: Encap, inner_at: usize) -> Decoded<'_> {
    match decoded {
        Decoded::Packet(mut p) => {
            p.encap = encap;
            if p.outer_len == 0 {
                p.outer_len = inner_at;
            }
            Decoded::Packet(p)
        }
        Decoded::Fragment(mut f) => {
            f.encap = encap;
            if f.outer_len == 0 {
                f.outer_len = inner_at;
            }
            Decoded::Fragment(f)
        }
        Decoded::NotIp => Decoded::NotIp,
    }
}

#[inline]
fn ethernet(walk: Walk, base: usize, frame: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    let eth = ethernet::Frame::new_checked(frame)?;
    let walk = Walk { macs: Some(Macs { src: eth.src(), dst: eth.dst() }), ..walk };
    ethertype(walk, base, eth.ethertype(), eth.payload())
}

#[inline]
fn ethertype(mut walk: Walk, base: usize, mut kind: u16, mut payload: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    while ethernet::VLAN_TPIDS.contains(&kind) {
        let tag = ethernet::Tag::new_checked(payload)?;
        walk.vlans.push(tag.vlan_id())?;
        kind = tag.ethertype();
        payload = tag.payload();
    }
    match kind {
        ethernet::ETHERTYPE_IPV4 | ethernet::ETHERTYPE_IPV6 => ip(walk, base, payload),
        mpls::ETHERTYPE_UNICAST | mpls::ETHERTYPE_MULTICAST | pppoe::ETHERTYPE_SESSION => {
            link_tunnel(walk, base, kind, payload)
        }
        // An 802.3 length, not an ethertype: an LLC header follows, and the
        // length ends the frame before any padding.
        len @ 0..=llc::MAX_8023_LENGTH => llc_snap(walk, base, &payload[..usize::from(len).min(payload.len())]),
        _ => Ok(Decoded::NotIp),
    }
}

/// An LLC frame: opened when a SNAP header names an ethertype.
#[inline(never)]
fn llc_snap(walk: Walk, base: usize, frame: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    if !llc::probe(frame) {
        return Ok(Decoded::NotIp);
    }
    let snap = llc::Snap::new_checked(frame)?;
    // A SNAP header naming a length again is garbage; refusing it also
    // keeps the walk from recursing once per 8 bytes of a crafted frame.
    if snap.names_ethertype() && snap.ethertype() > llc::MAX_8023_LENGTH {
        ethertype(walk, base, snap.ethertype(), snap.payload())
    } else {
        Ok(Decoded::NotIp)
    }
}

// Link layers other than Ethernet and SLL, out of line like the tunnels.

/// A PPP frame: its IPv4 or IPv6 packet, or not IP (link and network
/// control, compressed or encrypted data).
#[inline(never)]
fn ppp(walk: Walk, base: usize, frame: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    let p = ppp::Frame::new_checked(frame)?;
    match p.protocol() {
        ppp::PROTO_IPV4 | ppp::PROTO_IPV6 => ip(walk, base, p.payload()),
        _ => Ok(Decoded::NotIp),
    }
}

#[inline(never)]
fn cisco_hdlc(walk: Walk, base: usize, frame: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    let f = chdlc::Frame::new_checked(frame)?;
    match f.protocol() {
        kind if kind <= llc::MAX_8023_LENGTH => Ok(Decoded::NotIp),
        kind => ethertype(walk, base, kind, f.payload()),
    }
}

/// An 802.11 frame as heard from the air: a data frame's LLC/SNAP payload,
/// with the stations' addresses as the frame's MACs. Management, control,
/// null-data and protected (encrypted) frames are not IP.
#[inline(never)]
fn wifi(walk: Walk, base: usize, frame: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    if !ieee80211::probe(frame) {
        return Ok(Decoded::NotIp);
    }
    let d = ieee80211::DataFrame::new_checked(frame)?;
    // From the air the frame control is in the standard order, and any DS
    // bits go (an ad hoc network's frames have neither).
    if d.is_swapped() || !d.is_snap() {
        return Ok(Decoded::NotIp);
    }
    let walk = Walk { macs: Some(Macs { src: d.src(), dst: d.dst() }), ..walk };
    ethertype(walk, base, d.ethertype(), d.payload())
}

/// An NFLOG frame: the logged packet, of the version its family says.
#[inline(never)]
fn nflog(walk: Walk, base: usize, frame: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    let p = nflog::Packet::new_checked(frame)?;
    let version = match p.family() {
        nflog::AF_INET => 4,
        nflog::AF_INET6 => 6,
        _ => return Ok(Decoded::NotIp),
    };
    match p.payload() {
        Some(packet) => ip_of_version(walk, base, version, packet),
        None => Ok(Decoded::NotIp),
    }
}

/// An IP packet that must be of `version`: a header that says otherwise
/// contradicts the layer that announced it.
fn ip_of_version(walk: Walk, base: usize, version: u8, data: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    let (truncated, bad) = match version {
        4 => (DecodeError::Ipv4Truncated, DecodeError::Ipv4BadHeader),
        _ => (DecodeError::Ipv6Truncated, DecodeError::Ipv6BadHeader),
    };
    match data.first().map(|b| b >> 4) {
        None => Err(truncated),
        Some(v) if v != version => Err(bad),
        Some(_) => ip(walk, base, data),
    }
}

// The tunnel functions below call back into the walk (ethernet, ip, ...).
// Keeping them out of line breaks those cycles, so that the path of an
// unencapsulated packet, by far the most common, inlines as it did before
// tunnels.

/// MPLS and PPPoE: encapsulations announced by an ethertype.
#[inline(never)]
fn link_tunnel(walk: Walk, base: usize, kind: u16, payload: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    let mpls = Encap { kind: EncapKind::Mpls, id: None };
    match kind {
        mpls::ETHERTYPE_UNICAST | mpls::ETHERTYPE_MULTICAST => match mpls::Stack::new_checked(payload)?.inner() {
            mpls::Payload::Ip(inner) => tunnel(walk, base, mpls, inner, |w, f| ip(w, base, f)),
            mpls::Payload::Ethernet(inner) => tunnel(walk, base, mpls, inner, |w, f| ethernet(w, base, f)),
            mpls::Payload::Other => Ok(Decoded::NotIp),
        },
        _ => {
            let s = pppoe::Session::new_checked(payload)?;
            match s.protocol() {
                pppoe::PPP_IPV4 | pppoe::PPP_IPV6 => {
                    let encap = Encap { kind: EncapKind::Pppoe, id: Some(u32::from(s.session_id())) };
                    tunnel(walk, base, encap, s.payload(), |w, f| ip(w, base, f))
                }
                _ => Ok(Decoded::NotIp),
            }
        }
    }
}

/// An IPv4 or IPv6 packet, told apart by the version nibble. Both versions
/// share one function, with the transport layer inlined, so the common path
/// has no call or copy of the result in between.
fn ip(walk: Walk, base: usize, data: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    let (src, dst, protocol, payload, fragment, ttl) = match data.first().map(|b| b >> 4) {
        Some(4) => {
            let p = ipv4::Packet::new_checked(data)?;
            let fragment = p.is_fragment().then(|| (u32::from(p.ident()), p.fragment_offset(), p.more_fragments()));
            (p.src_addr().into(), p.dst_addr().into(), p.protocol(), p.payload(), fragment, p.ttl())
        }
        Some(6) => {
            let p = ipv6::Packet::new_checked(data)?;
            let fragment = p.fragment().filter(|f| f.more || f.offset != 0).map(|f| (f.ident, f.offset, f.more));
            (p.src_addr().into(), p.dst_addr().into(), p.protocol(), p.payload(), fragment, p.hop_limit())
        }
        Some(_) => return Err(DecodeError::Ipv4BadHeader),
        None => return Err(DecodeError::Ipv4Truncated),
    };
    if let Some((ident, offset, more)) = fragment {
        let (vlans, encap, outer_len) = (walk.vlans, Encap::default(), 0);
        return Ok(Decoded::Fragment(Fragment {
            src,
            dst,
            protocol,
            ident,
            offset,
            more,
            payload,
            vlans,
            encap,
            outer_len,
        }));
    }
    match (protocol, src) {
        (IPPROTO_IPIP, IpAddr::V4(_)) => ip_in_ip(walk, base, EncapKind::IpInIp, payload),
        (IPPROTO_IPV6, IpAddr::V4(_)) => ip_in_ip(walk, base, EncapKind::SixInFour, payload),
        (IPPROTO_IPIP, IpAddr::V6(_)) => ip_in_ip(walk, base, EncapKind::FourInSix, payload),
        (IPPROTO_IPV6, IpAddr::V6(_)) => ip_in_ip(walk, base, EncapKind::SixInSix, payload),
        _ => transport(walk, base, src, dst, protocol, payload, ttl),
    }
}

/// IPv4 or IPv6 directly inside IP; the kind says which version must follow.
#[inline(never)]
fn ip_in_ip(walk: Walk, base: usize, kind: EncapKind, payload: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    let version = match kind {
        EncapKind::IpInIp | EncapKind::FourInSix => 4,
        _ => 6,
    };
    tunnel(walk, base, Encap { kind, id: None }, payload, |w, f| ip_of_version(w, base, version, f))
}

#[allow(
    clippy::inline_always,
    reason = "the transport layer must inline into `ip` on every packet's path; plain `#[inline]` leaves that to a heuristic"
)]
#[inline(always)]
fn transport(
    walk: Walk,
    base: usize,
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    payload: &[u8],
    ttl: u8,
) -> Result<Decoded<'_>, DecodeError> {
    let (src_port, dst_port, tcp_flags, tcp_seq, data, syn) = match protocol {
        IPPROTO_TCP => {
            let s = tcp::Segment::new_checked(payload)?;
            let flags = s.flags();
            // Only a connection's opening SYN: the options are read there
            // and nowhere else.
            let syn = (flags & (tcp::SYN | tcp::ACK) == tcp::SYN).then(|| SynInfo::of(ttl, &s));
            (s.src_port(), s.dst_port(), flags, s.seq(), s.payload(), syn)
        }
        IPPROTO_UDP => {
            let d = udp::Datagram::new_checked(payload)?;
            (d.src_port(), d.dst_port(), 0, 0, d.payload(), None)
        }
        _ => (0, 0, 0, 0, payload, None),
    };
    // Built where it is returned, not mutated field by field: a packet
    // assembled from narrow stores and then copied out whole stalls the CPU
    // (store forwarding), which cost plain packets half their speed.
    let packet = || Packet {
        src,
        dst,
        protocol,
        src_port,
        dst_port,
        tcp_flags,
        tcp_seq,
        payload: data,
        vlans: walk.vlans,
        macs: walk.macs,
        syn,
        encap: Encap::default(),
        outer_len: 0,
    };
    let udp_tunnel_port = protocol == IPPROTO_UDP
        && (UDP_TUNNEL_DST_PORTS.contains(&dst_port) || UDP_TUNNEL_SRC_PORTS.contains(&src_port));
    if udp_tunnel_port {
        let outer = packet();
        return Ok(or_outer(udp_tunnel(walk, base, &outer)?, outer));
    }
    if protocol == IPPROTO_GRE {
        return Ok(or_outer(gre(walk, base, payload, EncapKind::Gre)?, packet()));
    }
    if protocol == IPPROTO_L2TP {
        return Ok(or_outer(l2tpv3(walk, base, payload)?, packet()));
    }
    Ok(Decoded::Packet(packet()))
}

/// The UDP ports of the tunnels the decoder opens: as a destination, and
/// (for tunnels whose far end answers from its well-known port) as a source.
const UDP_TUNNEL_DST_PORTS: [u16; 8] =
    [vxlan::PORT, geneve::PORT, capwap::PORT, gtp::PORT, gre::UDP_PORT, teredo::PORT, ayiya::PORT, l2tp::PORT];
const UDP_TUNNEL_SRC_PORTS: [u16; 4] = [capwap::PORT, teredo::PORT, ayiya::PORT, l2tp::PORT];

/// What a tunnel held, or the packet around it when that was not IP.
fn or_outer<'a>(inner: Decoded<'a>, outer: Packet<'a>) -> Decoded<'a> {
    match inner {
        Decoded::NotIp => Decoded::Packet(outer),
        inner => inner,
    }
}

/// Opens a UDP tunnel whose header validates; [`Decoded::NotIp`] when the
/// datagram on a tunnel port is not one (or carries nothing IP).
#[inline(never)]
fn udp_tunnel<'a>(walk: Walk, base: usize, udp: &Packet<'a>) -> Result<Decoded<'a>, DecodeError> {
    let data = udp.payload;
    let either = |port: u16| udp.dst_port == port || udp.src_port == port;
    // A datagram that fails a tunnel's probe is someone else's traffic on
    // the port: ordinary UDP. One that passes it and then fails its view's
    // checks is a broken tunnel header, counted.
    if udp.dst_port == vxlan::PORT {
        if vxlan::probe(data) {
            let h = vxlan::Header::new_checked(data)?;
            let encap = Encap { kind: EncapKind::Vxlan, id: Some(h.vni()) };
            return tunnel(walk, base, encap, h.payload(), |w, f| ethernet(w, base, f));
        }
    } else if udp.dst_port == geneve::PORT {
        if geneve::probe(data) {
            let h = geneve::Header::new_checked(data)?;
            let encap = Encap { kind: EncapKind::Geneve, id: Some(h.vni()) };
            return match h.protocol() {
                gre::PROTO_TEB => tunnel(walk, base, encap, h.payload(), |w, f| ethernet(w, base, f)),
                _ => tunnel(walk, base, encap, h.payload(), |w, f| ip(w, base, f)),
            };
        }
    } else if udp.dst_port == gtp::PORT {
        if gtp::probe(data) {
            let h = gtp::Header::new_checked(data)?;
            // A G-PDU whose payload is not IP (an unknown PDU type) is left
            // as the UDP flow it came in.
            if matches!(h.payload().first().map(|b| b >> 4), Some(4 | 6)) {
                let encap = Encap { kind: EncapKind::GtpU, id: Some(h.teid()) };
                return tunnel(walk, base, encap, h.payload(), |w, f| ip(w, base, f));
            }
        }
    } else if udp.dst_port == gre::UDP_PORT {
        return gre(walk, base, data, EncapKind::GreUdp);
    } else if either(teredo::PORT) {
        let t = teredo::Packet::new_checked(data)?;
        if t.carries_ipv6() {
            let encap = Encap { kind: EncapKind::Teredo, id: None };
            return tunnel(walk, base, encap, t.payload(), |w, f| ip_of_version(w, base, 6, f));
        }
    } else if either(ayiya::PORT) {
        if ayiya::probe(data) {
            let h = ayiya::Header::new_checked(data)?;
            let version = match (h.opcode(), h.next_header()) {
                (ayiya::OPCODE_FORWARD, IPPROTO_IPV6) => 6,
                (ayiya::OPCODE_FORWARD, IPPROTO_IPIP) => 4,
                _ => return Ok(Decoded::NotIp),
            };
            let encap = Encap { kind: EncapKind::Ayiya, id: None };
            return tunnel(walk, base, encap, h.payload(), |w, f| ip_of_version(w, base, version, f));
        }
    } else if either(l2tp::PORT) {
        if l2tp::probe(data) {
            let h = l2tp::V2::new_checked(data)?;
            let id = u32::from(h.tunnel_id()) << 16 | u32::from(h.session_id());
            let encap = Encap { kind: EncapKind::L2tp, id: Some(id) };
            return tunnel(walk, base, encap, h.payload(), |w, f| ppp(w, base, f));
        }
    } else if capwap::probe(data) {
        let h = capwap::Header::new_checked(data)?;
        let encap = Encap { kind: EncapKind::Capwap, id: None };
        return if h.is_native() {
            tunnel(walk, base, encap, h.payload(), |w, f| capwap_80211(w, base, f))
        } else {
            tunnel(walk, base, encap, h.payload(), |w, f| ethernet(w, base, f))
        };
    }
    Ok(Decoded::NotIp)
}

/// An 802.11 frame as an access point tunnels it in CAPWAP: a bridged data
/// frame, its frame control in either byte order. The stations' addresses
/// are the frame's MACs, not the access point's: each wireless client is a
/// host of its own.
fn capwap_80211(walk: Walk, base: usize, frame: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    if !ieee80211::probe(frame) {
        return Ok(Decoded::NotIp);
    }
    let d = ieee80211::DataFrame::new_checked(frame)?;
    if !d.is_bridged() || !d.is_snap() {
        return Ok(Decoded::NotIp);
    }
    let walk = Walk { macs: Some(Macs { src: d.src(), dst: d.dst() }), ..walk };
    ethertype(walk, base, d.ethertype(), d.payload())
}

/// Opens GRE (over IP, or in UDP as `kind` says) and what it carries;
/// [`Decoded::NotIp`] for payloads the decoder does not open (PPTP, WCCP,
/// keepalives, ...).
#[inline(never)]
fn gre(walk: Walk, base: usize, data: &[u8], kind: EncapKind) -> Result<Decoded<'_>, DecodeError> {
    let h = gre::Header::new_checked(data)?;
    if h.version() != 0 {
        return Ok(Decoded::NotIp);
    }
    let inner = h.payload();
    let encap = Encap { kind, id: h.key() };
    match h.protocol() {
        ethernet::ETHERTYPE_IPV4 | ethernet::ETHERTYPE_IPV6 => tunnel(walk, base, encap, inner, |w, f| ip(w, base, f)),
        gre::PROTO_TEB => tunnel(walk, base, encap, inner, |w, f| ethernet(w, base, f)),
        // MPLS over GRE (RFC 4023): the stack is the next encapsulation.
        kind @ (mpls::ETHERTYPE_UNICAST | mpls::ETHERTYPE_MULTICAST) => {
            tunnel(walk, base, encap, inner, |w, f| ethertype(w, base, kind, f))
        }
        // Type I has no sequence number and no ERSPAN header.
        gre::PROTO_ERSPAN_II if h.sequence().is_none() => {
            let encap = Encap { kind: EncapKind::ErspanI, id: None };
            tunnel(walk, base, encap, inner, |w, f| ethernet(w, base, f))
        }
        gre::PROTO_ERSPAN_II => {
            let h = erspan::TypeII::new_checked(inner)?;
            let encap = Encap { kind: EncapKind::ErspanII, id: Some(u32::from(h.session_id())) };
            tunnel(walk, base, encap, h.payload(), |w, f| ethernet(w, base, f))
        }
        gre::PROTO_ERSPAN_III => erspan_iii(walk, base, inner),
        _ => Ok(Decoded::NotIp),
    }
}

/// An L2TPv3 session over IP: its Ethernet pseudowire's frame, or not IP
/// (control messages, other pseudowire types).
#[inline(never)]
fn l2tpv3(walk: Walk, base: usize, data: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    let s = l2tp::V3::new_checked(data)?;
    match s.ethernet_frame() {
        Some(frame) if !s.is_control() => {
            let encap = Encap { kind: EncapKind::L2tpV3, id: Some(s.session_id()) };
            tunnel(walk, base, encap, frame, |w, f| ethernet(w, base, f))
        }
        _ => Ok(Decoded::NotIp),
    }
}

fn erspan_iii(walk: Walk, base: usize, data: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    let h = erspan::TypeIII::new_checked(data)?;
    let encap = Encap { kind: EncapKind::ErspanIII, id: Some(u32::from(h.session_id())) };
    match h.mirrored() {
        erspan::Mirrored::Ethernet => tunnel(walk, base, encap, h.payload(), |w, f| ethernet(w, base, f)),
        erspan::Mirrored::Ip => tunnel(walk, base, encap, h.payload(), |w, f| ip(w, base, f)),
        erspan::Mirrored::Other => Ok(Decoded::NotIp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Layers, outermost last, so a frame reads inside out:
    // eth(IPV4, &ipv4(UDP, &udp(..))). Well-formed headers come from the
    // wire crate's emit side; the helpers that set odd bits (VLAN tags, GRE
    // flags, UDP without checksum) write them by hand.

    const ARP: u16 = 0x0806;
    const IPV4: u16 = ethernet::ETHERTYPE_IPV4;
    const IPV6: u16 = ethernet::ETHERTYPE_IPV6;

    fn eth(kind: u16, payload: &[u8]) -> Vec<u8> {
        ethernet::Repr { dst: [0x02, 0, 0, 0, 0, 1], src: [0x02, 0, 0, 0, 0, 2], tags: &[], ethertype: kind }
            .emit(payload)
    }

    fn tag(id: u16, kind: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = id.to_be_bytes().to_vec();
        f.extend_from_slice(&kind.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    fn ipv4_between(src: [u8; 4], dst: [u8; 4], protocol: u8, payload: &[u8]) -> Vec<u8> {
        let (src, dst) = (src.into(), dst.into());
        ipv4::Repr { src, dst, protocol, ident: 0x1234, fragment: None, options: &[] }.emit(payload)
    }

    /// An outer (tunnel endpoint) IPv4 packet.
    fn ipv4(protocol: u8, payload: &[u8]) -> Vec<u8> {
        ipv4_between([192, 0, 2, 1], [192, 0, 2, 2], protocol, payload)
    }

    fn ipv6(next: u8, payload: &[u8]) -> Vec<u8> {
        let (src, dst) = ("2001:db8::1".parse().unwrap(), "2001:db8::2".parse().unwrap());
        ipv6::Repr { src, dst, protocol: next, extensions: &[] }.emit(payload)
    }

    fn udp(src: u16, dst: u16, payload: &[u8]) -> Vec<u8> {
        let mut d = src.to_be_bytes().to_vec();
        d.extend_from_slice(&dst.to_be_bytes());
        d.extend_from_slice(&u16::try_from(8 + payload.len()).unwrap().to_be_bytes());
        d.extend_from_slice(&[0, 0]);
        d.extend_from_slice(payload);
        d
    }

    /// The flow everything below carries: a TLS client hello's first bytes
    /// from 10.1.1.1:49152 to 17.253.144.10:443.
    fn inner_ipv4() -> Vec<u8> {
        let (src, dst) = ("10.1.1.1:49152".parse().unwrap(), "17.253.144.10:443".parse().unwrap());
        let seg = tcp::Repr { src, dst, seq: 7, ack: 0, flags: tcp::SYN }.emit(b"\x16\x03\x01");
        ipv4_between([10, 1, 1, 1], [17, 253, 144, 10], IPPROTO_TCP, &seg)
    }

    fn inner_ipv6() -> Vec<u8> {
        ipv6(IPPROTO_UDP, &udp(5353, 53, b"q"))
    }

    fn gre(flags: [u8; 2], protocol: u16, words: &[u32], payload: &[u8]) -> Vec<u8> {
        let mut g = flags.to_vec();
        g.extend_from_slice(&protocol.to_be_bytes());
        for w in words {
            g.extend_from_slice(&w.to_be_bytes());
        }
        g.extend_from_slice(payload);
        g
    }

    fn vxlan(vni: u32, payload: &[u8]) -> Vec<u8> {
        vxlan::Repr { vni }.emit(payload)
    }

    fn packet(d: Result<Decoded<'_>, DecodeError>) -> Packet<'_> {
        match d {
            Ok(Decoded::Packet(p)) => p,
            other => panic!("not a packet: {other:?}"),
        }
    }

    /// Asserts the packet is the inner TLS flow.
    fn assert_inner_flow(p: &Packet<'_>) {
        assert_eq!((p.src, p.dst), ("10.1.1.1".parse::<IpAddr>().unwrap(), "17.253.144.10".parse::<IpAddr>().unwrap()));
        assert_eq!((p.protocol, p.src_port, p.dst_port, p.tcp_flags), (IPPROTO_TCP, 49152, 443, tcp::SYN));
        assert_eq!(p.payload, b"\x16\x03\x01");
    }

    fn eth_vlan_udp() -> Vec<u8> {
        let mut f = vec![0; 12];
        f.extend_from_slice(&[0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x00, 0x1e, 0x08, 0x00]);
        f.extend_from_slice(&[0x45, 0, 0, 31, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 17, 0, 0, 1]);
        f.extend_from_slice(&[0xd4, 0x31, 0x00, 0x35, 0x00, 0x0b, 0, 0, b'a', b'b', b'c']);
        f
    }

    #[test]
    fn decodes_qinq_ipv4_udp() {
        let frame = eth_vlan_udp();
        let p = packet(decode(LinkType::Ethernet, &frame));
        assert_eq!(p.vlans.as_slice(), &[100, 30]);
        assert_eq!(p.vlans.innermost(), Some(30));
        assert_eq!((p.src_port, p.dst_port, p.protocol), (54321, 53, IPPROTO_UDP));
        assert_eq!(p.payload, b"abc");
        assert_eq!(p.dst, "17.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!((p.encap, p.outer_len), (Encap::default(), 0));
    }

    #[test]
    fn gre_with_checksum_and_key_carries_ip() {
        // C and K: checksum word, then key 42. Inner frame at 14 + 20 + 12.
        let frame = eth(IPV4, &ipv4(IPPROTO_GRE, &gre([0xa0, 0], IPV4, &[0, 42], &inner_ipv4())));
        let p = packet(decode(LinkType::Ethernet, &frame));
        assert_inner_flow(&p);
        assert_eq!(p.encap, Encap { kind: EncapKind::Gre, id: Some(42) });
        assert_eq!(p.outer_len, 46);
        let v6 = eth(IPV4, &ipv4(IPPROTO_GRE, &gre([0, 0], IPV6, &[], &inner_ipv6())));
        let p = packet(decode(LinkType::Ethernet, &v6));
        assert_eq!((p.dst_port, p.encap, p.outer_len), (53, Encap { kind: EncapKind::Gre, id: None }, 38));
    }

    #[test]
    fn gre_bridged_ethernet_keeps_outer_and_inner_vlans() {
        let inner = eth(ethernet::TPID_8021Q, &tag(200, IPV4, &inner_ipv4()));
        let frame = eth(
            ethernet::TPID_8021Q,
            &tag(100, IPV4, &ipv4(IPPROTO_GRE, &gre([0x20, 0], gre::PROTO_TEB, &[7], &inner))),
        );
        let p = packet(decode(LinkType::Ethernet, &frame));
        assert_inner_flow(&p);
        assert_eq!(p.vlans.as_slice(), &[100, 200]);
        assert_eq!((p.encap, p.outer_len), (Encap { kind: EncapKind::Gre, id: Some(7) }, 14 + 4 + 20 + 8));
    }

    #[test]
    fn gre_payloads_not_opened_leave_the_gre_flow() {
        // PPTP (version 1, K, PPP) and WCCP (0x883e) are flows of their own.
        let pptp = ipv4(IPPROTO_GRE, &gre([0x20, 0x01], 0x880b, &[0x0004_0001], &[0xff, 0x03, 0, 0x21]));
        let wccp = ipv4(IPPROTO_GRE, &gre([0, 0], 0x883e, &[], &[0; 8]));
        for raw in [pptp, wccp] {
            let p = packet(decode(LinkType::Raw, &raw));
            assert_eq!((p.protocol, p.encap.kind, p.outer_len), (IPPROTO_GRE, EncapKind::None, 0));
        }
    }

    #[test]
    fn erspan_types_carry_the_mirrored_frame_and_session() {
        let mirrored = eth(ethernet::TPID_8021Q, &tag(30, IPV4, &inner_ipv4()));
        // Type II: S set (sequence 1), version 1, session 0x155.
        let mut ii = vec![0x10, 0x1e, 0x01, 0x55, 0, 0, 0, 0];
        ii.extend_from_slice(&mirrored);
        // Type III: version 2, session 9, frame type 0, O set: 8 more bytes.
        let mut iii = vec![0x20, 0x1e, 0x00, 0x09, 0, 0, 0, 0, 0, 0, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0];
        iii.extend_from_slice(&mirrored);
        let cases = [
            (
                gre([0x10, 0], gre::PROTO_ERSPAN_II, &[1], &ii),
                Encap { kind: EncapKind::ErspanII, id: Some(0x155) },
                14 + 20 + 8 + 8,
            ),
            (
                gre([0x10, 0], gre::PROTO_ERSPAN_III, &[1], &iii),
                Encap { kind: EncapKind::ErspanIII, id: Some(9) },
                14 + 20 + 8 + 20,
            ),
            (
                gre([0, 0], gre::PROTO_ERSPAN_II, &[], &mirrored),
                Encap { kind: EncapKind::ErspanI, id: None },
                14 + 20 + 4,
            ),
        ];
        for (g, encap, outer_len) in cases {
            let frame = eth(IPV4, &ipv4(IPPROTO_GRE, &g));
            let p = packet(decode(LinkType::Ethernet, &frame));
            assert_inner_flow(&p);
            assert_eq!((p.encap, p.outer_len, p.vlans.as_slice()), (encap, outer_len, &[30][..]));
        }
    }

    #[test]
    fn vxlan_opens_to_the_inner_ethernet_frame() {
        let frame = eth(
            ethernet::TPID_8021Q,
            &tag(5, IPV4, &ipv4(IPPROTO_UDP, &udp(61000, vxlan::PORT, &vxlan(0x12_3456, &eth(IPV4, &inner_ipv4()))))),
        );
        let p = packet(decode(LinkType::Ethernet, &frame));
        assert_inner_flow(&p);
        assert_eq!(p.vlans.as_slice(), &[5]);
        assert_eq!(p.encap, Encap { kind: EncapKind::Vxlan, id: Some(0x12_3456) });
        assert_eq!(EncapKind::Vxlan.as_str(), Some("vxlan"));
        assert_eq!(p.outer_len, 14 + 4 + 20 + 8 + 8);
    }

    #[test]
    fn udp_on_tunnel_ports_without_a_tunnel_header_is_ordinary_udp() {
        let not_vxlan = [0x0c, 0, 0, 0, 0, 0, 1, 0, 0xde, 0xad];
        let not_geneve = [0x80, 0, 0x65, 0x58, 0, 0, 1, 0];
        let dtls_capwap = [0x01, 0, 0, 0, 0x16, 0xfe, 0xfd, 0];
        for (port, data) in [
            (vxlan::PORT, &not_vxlan[..]),
            (vxlan::PORT, &not_vxlan[..5]),
            (geneve::PORT, &not_geneve),
            (capwap::PORT, &dtls_capwap),
        ] {
            let frame = ipv4(IPPROTO_UDP, &udp(40000, port, data));
            let p = packet(decode(LinkType::Raw, &frame));
            assert_eq!(
                (p.dst_port, p.payload, p.encap.kind, p.outer_len),
                (port, data, EncapKind::None, 0),
                "port {port}"
            );
        }
    }

    #[test]
    fn tunnel_headers_that_probe_as_theirs_and_then_break_are_counted() {
        let on = |port: u16, data: &[u8]| ipv4(IPPROTO_UDP, &udp(40000, port, data));
        // A G-PDU cut by the snap length still opens: its length field is
        // trusted only as far as it was captured.
        let gpdu = gtp::Repr { teid: 7, sequence: 0, pdu_session: None }.emit(&inner_ipv4());
        let cut = on(gtp::PORT, &gpdu[..gpdu.len() - 1]);
        let p = packet(decode(LinkType::Raw, &cut));
        assert_eq!(
            (p.encap, p.dst_port, p.payload),
            (Encap { kind: EncapKind::GtpU, id: Some(7) }, 443, &b"\x16\x03"[..])
        );
        // A PDU Session Container of length 0 is a broken G-PDU.
        let mut zero_unit = gtp::Repr { teid: 7, sequence: 1, pdu_session: Some((true, 5)) }.emit(&inner_ipv4());
        zero_unit[12] = 0;
        assert_eq!(decode(LinkType::Raw, &on(gtp::PORT, &zero_unit)).err(), Some(DecodeError::GtpBadHeader));
        assert_eq!(decode(LinkType::Raw, &on(gtp::PORT, &zero_unit[..11])).err(), Some(DecodeError::GtpTruncated));
        // A G-PDU whose payload is not IP stays the UDP flow.
        let not_ip = gtp::Repr { teid: 7, sequence: 0, pdu_session: None }.emit(b"\x00junk");
        let not_ip = on(gtp::PORT, &not_ip);
        let p = packet(decode(LinkType::Raw, &not_ip));
        assert_eq!((p.encap.kind, p.dst_port), (EncapKind::None, gtp::PORT));
        // The flags word of VXLAN, cut before the VNI.
        assert_eq!(
            decode(LinkType::Raw, &on(vxlan::PORT, &[0x08, 0, 0, 0, 0x12])).err(),
            Some(DecodeError::VxlanTruncated)
        );
    }

    #[test]
    fn only_an_opening_syn_carries_its_stack_fields() {
        let (src, dst) = ("10.1.1.1:49152".parse().unwrap(), "17.253.144.10:443".parse().unwrap());
        let syn = tcp::Repr { src, dst, seq: 7, ack: 0, flags: tcp::SYN }.emit(&[]);
        let mut v4 = ipv4_between([10, 1, 1, 1], [17, 253, 144, 10], IPPROTO_TCP, &syn);
        v4[8] = 57;
        let info = packet(decode(LinkType::Raw, &v4)).syn.expect("a SYN");
        assert_eq!((info.ttl, info.window, info.mss, info.window_scale), (57, 64240, Some(1460), None));
        assert_eq!((info.option_kinds(), info.options_cut), (&[tcp::OPT_MSS][..], false));
        let v6 = ipv6(IPPROTO_TCP, &syn);
        assert_eq!(packet(decode(LinkType::Raw, &v6)).syn.map(|s| s.ttl), Some(64), "the hop limit");
        let syn_ack = tcp::Repr { src, dst, seq: 7, ack: 1, flags: tcp::SYN | tcp::ACK }.emit(&[]);
        let v4 = ipv4_between([10, 1, 1, 1], [17, 253, 144, 10], IPPROTO_TCP, &syn_ack);
        assert_eq!(packet(decode(LinkType::Raw, &v4)).syn, None);
        // Forty NOPs: more kinds than kept, so the layout is marked cut.
        let mut nops = syn.clone();
        nops.truncate(20);
        nops[12] = 15 << 4;
        nops.extend_from_slice(&[1; 40]);
        let v4 = ipv4_between([10, 1, 1, 1], [17, 253, 144, 10], IPPROTO_TCP, &nops);
        let info = packet(decode(LinkType::Raw, &v4)).syn.expect("a SYN");
        assert_eq!((info.option_kinds().len(), info.options_cut), (MAX_SYN_OPTIONS, true));
    }

    #[test]
    fn a_packet_carries_the_macs_of_its_innermost_ethernet_header() {
        let plain = eth(ethernet::ETHERTYPE_IPV4, &ipv4(IPPROTO_UDP, &udp(5353, 5353, b"x")));
        let p = packet(decode(LinkType::Ethernet, &plain));
        assert_eq!(p.macs, Some(Macs { src: [0x02, 0, 0, 0, 0, 2], dst: [0x02, 0, 0, 0, 0, 1] }));
        let mut inner = plain.clone();
        inner[6..12].copy_from_slice(&[0x9c, 0x20, 0x7b, 1, 2, 3]);
        let outer = eth(ethernet::ETHERTYPE_IPV4, &ipv4(IPPROTO_UDP, &udp(61000, vxlan::PORT, &vxlan(1, &inner))));
        let p = packet(decode(LinkType::Ethernet, &outer));
        assert_eq!(p.macs.map(|m| m.src), Some([0x9c, 0x20, 0x7b, 1, 2, 3]), "the tenant's frame, not the mirror's");
        let raw = ipv4(IPPROTO_UDP, &udp(5353, 5353, b"x"));
        assert_eq!(packet(decode(LinkType::Raw, &raw)).macs, None);
    }

    #[test]
    fn tunnel_without_ip_inside_is_the_outer_flow() {
        let arp = eth(ARP, &[0, 1, 8, 0, 6, 4, 0, 1]);
        let frame = ipv4(IPPROTO_UDP, &udp(61000, vxlan::PORT, &vxlan(1, &arp)));
        let p = packet(decode(LinkType::Raw, &frame));
        assert_eq!((p.dst_port, p.encap.kind, p.payload.len()), (vxlan::PORT, EncapKind::None, 8 + arp.len()));
    }

    #[test]
    fn geneve_skips_options_to_ethernet_or_ip() {
        // One option word; protocol Ethernet, VNI 77.
        let mut g = vec![0x01, 0x00, 0x65, 0x58, 0, 0, 77, 0, 0x01, 0x02, 0x03, 0x00];
        g.extend_from_slice(&eth(IPV4, &inner_ipv4()));
        let frame = ipv4(IPPROTO_UDP, &udp(1, geneve::PORT, &g));
        let p = packet(decode(LinkType::Raw, &frame));
        assert_inner_flow(&p);
        assert_eq!((p.encap, p.outer_len), (Encap { kind: EncapKind::Geneve, id: Some(77) }, 20 + 8 + 12));
        let mut g6 = vec![0x00, 0x00, 0x86, 0xdd, 0, 0, 78, 0];
        g6.extend_from_slice(&inner_ipv6());
        let frame = ipv4(IPPROTO_UDP, &udp(1, geneve::PORT, &g6));
        let p = packet(decode(LinkType::Raw, &frame));
        assert_eq!((p.dst_port, p.encap.id, p.outer_len), (53, Some(78), 20 + 8 + 8));
    }

    #[test]
    fn mpls_stack_then_ip_or_pseudowire() {
        // Labels 100 and 200 (S on the second), then IPv4.
        let labels = [0x00, 0x06, 0x40, 0x40, 0x00, 0x0c, 0x81, 0x40];
        let mut l3 = labels.to_vec();
        l3.extend_from_slice(&inner_ipv4());
        let frame = eth(mpls::ETHERTYPE_UNICAST, &l3);
        let p = packet(decode(LinkType::Ethernet, &frame));
        assert_inner_flow(&p);
        assert_eq!((p.encap, p.outer_len), (Encap { kind: EncapKind::Mpls, id: None }, 14 + 8));
        // Ethernet pseudowire: control word, then a tagged frame.
        let mut pw = labels.to_vec();
        pw.extend_from_slice(&[0, 0, 0, 1]);
        pw.extend_from_slice(&eth(ethernet::TPID_8021Q, &tag(12, IPV4, &inner_ipv4())));
        let frame = eth(mpls::ETHERTYPE_MULTICAST, &pw);
        let p = packet(decode(LinkType::Ethernet, &frame));
        assert_inner_flow(&p);
        assert_eq!((p.vlans.as_slice(), p.outer_len), (&[12][..], 14 + 12));
        let mut ach = labels.to_vec();
        ach.extend_from_slice(&[0x10, 0, 0, 0x21]);
        assert!(matches!(decode(LinkType::Ethernet, &eth(mpls::ETHERTYPE_UNICAST, &ach)), Ok(Decoded::NotIp)));
    }

    #[test]
    fn ip_in_ip_in_every_combination() {
        let v4_in_v4 = ipv4(IPPROTO_IPIP, &inner_ipv4());
        let v6_in_v4 = ipv4(IPPROTO_IPV6, &inner_ipv6());
        let v4_in_v6 = ipv6(IPPROTO_IPIP, &inner_ipv4());
        let v6_in_v6 = ipv6(IPPROTO_IPV6, &inner_ipv6());
        let cases = [
            (v4_in_v4, EncapKind::IpInIp, 20, "ipip"),
            (v6_in_v4, EncapKind::SixInFour, 20, "6in4"),
            (v4_in_v6, EncapKind::FourInSix, 40, "4in6"),
            (v6_in_v6, EncapKind::SixInSix, 40, "6in6"),
        ];
        for (raw, kind, outer_len, name) in cases {
            let p = packet(decode(LinkType::Raw, &raw));
            assert_eq!((p.encap.kind, p.outer_len, kind.as_str()), (kind, outer_len, Some(name)));
            assert_eq!(p.dst_port, if p.src.is_ipv4() { 443 } else { 53 });
        }
        // Protocol 4 promises IPv4: an IPv6 packet there is broken.
        assert_eq!(decode(LinkType::Raw, &ipv4(IPPROTO_IPIP, &inner_ipv6())).err(), Some(DecodeError::Ipv4BadHeader));
    }

    /// CAPWAP data from an access point: a Cisco-style header (HLEN 4, T
    /// and W), a byte-swapped QoS data frame header, LLC/SNAP, then IP.
    fn capwap_80211(inner: &[u8]) -> Vec<u8> {
        let mut c = vec![0x00, 0x20, 0x43, 0x20, 0, 0, 0, 0, 0x01, 0x04, 0xed, 0x4d, 0, 0, 0, 0];
        c.extend_from_slice(&[0x01, 0x88]); // QoS data, ToDS, little-endian
        c.extend_from_slice(&[0; 22]);
        c.extend_from_slice(&[0x06, 0x00]); // QoS control
        c.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00]);
        c.extend_from_slice(inner);
        c
    }

    #[test]
    fn capwap_opens_80211_and_8023_frames_in_both_directions() {
        let to_controller = ipv4(IPPROTO_UDP, &udp(12380, capwap::PORT, &capwap_80211(&inner_ipv4())));
        let p = packet(decode(LinkType::Raw, &to_controller));
        assert_inner_flow(&p);
        assert_eq!((p.encap, p.outer_len), (Encap { kind: EncapKind::Capwap, id: None }, 20 + 8 + 16));
        let mut dot3 = vec![0x00, 0x10, 0x02, 0x00, 0, 0, 0, 0];
        dot3.extend_from_slice(&eth(IPV4, &inner_ipv4()));
        let from_controller = ipv4(IPPROTO_UDP, &udp(capwap::PORT, 12380, &dot3));
        assert_inner_flow(&packet(decode(LinkType::Raw, &from_controller)));
    }

    #[test]
    fn capwap_80211_frames_carry_the_stations_addresses() {
        let (bssid, station, gateway) = ([0xb5; 6], [0xf4, 0x0f, 0x24, 1, 2, 3], [0x00, 0x1a, 0x1e, 9, 9, 9]);
        let mut c = capwap_80211(&inner_ipv4());
        // After the CAPWAP header (16) and frame control and duration (4):
        // to the distribution system, address 1 is the BSSID, 2 the sender, 3 the receiver.
        for (at, mac) in [(20, bssid), (26, station), (32, gateway)] {
            c[at..at + 6].copy_from_slice(&mac);
        }
        let outer = eth(IPV4, &ipv4(IPPROTO_UDP, &udp(12380, capwap::PORT, &c)));
        let p = packet(decode(LinkType::Ethernet, &outer));
        assert_inner_flow(&p);
        assert_eq!(p.macs, Some(Macs { src: station, dst: gateway }), "not the access point's Ethernet MACs");
    }

    #[test]
    fn capwap_management_frames_leave_the_tunnel_flow() {
        let mut beacon = capwap_80211(&[]);
        beacon[16] = 0x00;
        beacon[17] = 0x80;
        let frame = ipv4(IPPROTO_UDP, &udp(12380, capwap::PORT, &beacon));
        let p = packet(decode(LinkType::Raw, &frame));
        assert_eq!((p.dst_port, p.encap.kind), (capwap::PORT, EncapKind::None));
    }

    #[test]
    fn pppoe_sessions_carry_ipv4_and_ipv6() {
        let session = |protocol: u16, inner: &[u8]| {
            let mut s = vec![0x11, 0x00, 0x00, 0x2a];
            s.extend_from_slice(&u16::try_from(inner.len() + 2).unwrap().to_be_bytes());
            s.extend_from_slice(&protocol.to_be_bytes());
            s.extend_from_slice(inner);
            eth(pppoe::ETHERTYPE_SESSION, &s)
        };
        let frame = session(pppoe::PPP_IPV4, &inner_ipv4());
        let p = packet(decode(LinkType::Ethernet, &frame));
        assert_inner_flow(&p);
        assert_eq!((p.encap, p.outer_len), (Encap { kind: EncapKind::Pppoe, id: Some(42) }, 14 + 8));
        assert_eq!(packet(decode(LinkType::Ethernet, &session(pppoe::PPP_IPV6, &inner_ipv6()))).dst_port, 53);
        let lcp = session(0xc021, &[1, 1, 0, 4]);
        assert!(matches!(decode(LinkType::Ethernet, &lcp), Ok(Decoded::NotIp)));
    }

    /// Teredo from a client behind a NAT, with an origin indicator.
    fn teredo_frame(inner: &[u8]) -> Vec<u8> {
        let origin = Some(("192.0.2.45".parse().unwrap(), 40000));
        ipv4(IPPROTO_UDP, &udp(teredo::PORT, 40000, &teredo::Repr { auth: None, origin }.emit(inner)))
    }

    #[test]
    fn teredo_opens_to_ipv6_after_its_indicators() {
        let frame = teredo_frame(&inner_ipv6());
        let p = packet(decode(LinkType::Raw, &frame));
        assert_eq!((p.dst_port, p.src.is_ipv6()), (53, true));
        assert_eq!((p.encap, p.outer_len), (Encap { kind: EncapKind::Teredo, id: None }, 20 + 8 + 8));
        assert_eq!(EncapKind::Teredo.as_str(), Some("teredo"));
        // A server's answer: authentication then origin, from port 3544.
        let both = teredo::Repr { auth: Some((b"", [7; 8])), origin: Some(("192.0.2.45".parse().unwrap(), 40000)) }
            .emit(&inner_ipv6());
        let frame = ipv4(IPPROTO_UDP, &udp(teredo::PORT, 40000, &both));
        assert_eq!(packet(decode(LinkType::Raw, &frame)).outer_len, 20 + 8 + 13 + 8);
        // To a relay, without indicators.
        let frame = ipv4(IPPROTO_UDP, &udp(40000, teredo::PORT, &inner_ipv6()));
        assert_eq!(packet(decode(LinkType::Raw, &frame)).encap.kind, EncapKind::Teredo);
        // IPv4 on the Teredo port is no Teredo.
        let frame = ipv4(IPPROTO_UDP, &udp(40000, teredo::PORT, &inner_ipv4()));
        let p = packet(decode(LinkType::Raw, &frame));
        assert_eq!((p.dst_port, p.encap.kind), (teredo::PORT, EncapKind::None));
    }

    #[test]
    fn ayiya_forwards_ipv4_and_ipv6_and_keeps_keepalives_as_udp() {
        let frame = ipv4(
            IPPROTO_UDP,
            &udp(
                50000,
                ayiya::PORT,
                &ayiya::Repr { identity: [1; 16], signature: [2; 20], epoch_time: 9 }.emit(&inner_ipv4()),
            ),
        );
        let p = packet(decode(LinkType::Raw, &frame));
        assert_inner_flow(&p);
        assert_eq!((p.encap, p.outer_len), (Encap { kind: EncapKind::Ayiya, id: None }, 20 + 8 + 44));
        let frame = ipv4(
            IPPROTO_UDP,
            &udp(
                ayiya::PORT,
                50000,
                &ayiya::Repr { identity: [1; 16], signature: [2; 20], epoch_time: 9 }.emit(&inner_ipv6()),
            ),
        );
        assert_eq!(packet(decode(LinkType::Raw, &frame)).dst_port, 53);
        let mut noop = ayiya::Repr { identity: [1; 16], signature: [2; 20], epoch_time: 9 }.emit(&[]);
        noop[2] &= 0xf0; // opcode 0: a keepalive
        let frame = ipv4(IPPROTO_UDP, &udp(50000, ayiya::PORT, &noop));
        let p = packet(decode(LinkType::Raw, &frame));
        assert_eq!((p.dst_port, p.encap.kind), (ayiya::PORT, EncapKind::None));
        // Next header IPv6 with an IPv4 packet behind it contradicts itself.
        let mut lying = ayiya::Repr { identity: [1; 16], signature: [2; 20], epoch_time: 9 }.emit(&inner_ipv4());
        lying[3] = IPPROTO_IPV6;
        let frame = ipv4(IPPROTO_UDP, &udp(50000, ayiya::PORT, &lying));
        assert_eq!(decode(LinkType::Raw, &frame).err(), Some(DecodeError::Ipv6BadHeader));
    }

    #[test]
    fn gre_in_udp_carries_ip_with_its_key() {
        let frame = ipv4(IPPROTO_UDP, &udp(50123, gre::UDP_PORT, &gre([0x20, 0], IPV4, &[77], &inner_ipv4())));
        let p = packet(decode(LinkType::Raw, &frame));
        assert_inner_flow(&p);
        assert_eq!((p.encap, p.outer_len), (Encap { kind: EncapKind::GreUdp, id: Some(77) }, 20 + 8 + 8));
        assert_eq!(EncapKind::GreUdp.as_str(), Some("gre_udp"));
        // Only the destination port names GRE-in-UDP.
        let frame = ipv4(IPPROTO_UDP, &udp(gre::UDP_PORT, 50123, &gre([0, 0], IPV4, &[], &inner_ipv4())));
        assert_eq!(packet(decode(LinkType::Raw, &frame)).encap.kind, EncapKind::None);
    }

    #[test]
    fn l2tp_data_messages_carry_ppp_and_l2tpv3_an_ethernet_pseudowire() {
        let v2 =
            l2tp::V2Repr { tunnel: 3, session: 9 }.emit(&ppp::Repr { protocol: ppp::PROTO_IPV4 }.emit(&inner_ipv4()));
        let frame = ipv4(IPPROTO_UDP, &udp(l2tp::PORT, l2tp::PORT, &v2));
        let p = packet(decode(LinkType::Raw, &frame));
        assert_inner_flow(&p);
        // The inner frame is the PPP frame, as it is the Ethernet frame in VXLAN.
        assert_eq!((p.encap, p.outer_len), (Encap { kind: EncapKind::L2tp, id: Some(3 << 16 | 9) }, 20 + 8 + 8));
        // LCP inside the session leaves the L2TP flow.
        let lcp = l2tp::V2Repr { tunnel: 3, session: 9 }.emit(&[0xff, 0x03, 0xc0, 0x21, 1, 1, 0, 4]);
        let frame = ipv4(IPPROTO_UDP, &udp(l2tp::PORT, l2tp::PORT, &lcp));
        let p = packet(decode(LinkType::Raw, &frame));
        assert_eq!((p.dst_port, p.encap.kind), (l2tp::PORT, EncapKind::None));
        // L2TPv3 over IP with a 4-byte cookie before the Ethernet frame.
        let v3 = l2tp::V3Repr { session: 0x1001, cookie: &[1, 2, 3, 4] }.emit(&eth(IPV4, &inner_ipv4()));
        let frame = ipv4(IPPROTO_L2TP, &v3);
        let p = packet(decode(LinkType::Raw, &frame));
        assert_inner_flow(&p);
        assert_eq!((p.encap, p.outer_len), (Encap { kind: EncapKind::L2tpV3, id: Some(0x1001) }, 20 + 8));
        assert_eq!(p.macs.map(|m| m.src), Some([0x02, 0, 0, 0, 0, 2]));
        let control = ipv4(IPPROTO_L2TP, &[0, 0, 0, 0, 0xc8, 0x03, 0, 20]);
        assert_eq!(packet(decode(LinkType::Raw, &control)).protocol, IPPROTO_L2TP);
    }

    /// An 802.11 QoS data frame from a station to its access point.
    fn wifi_data(inner: &[u8]) -> Vec<u8> {
        ieee80211::Repr {
            to_ds: true,
            bssid: [0x02, 0, 0, 0, 0, 0xb5],
            station: [0x9c; 6],
            peer: [0x02; 6],
            sequence: 1,
            ethertype: IPV4,
        }
        .emit(inner)
    }

    #[test]
    fn link_types_beyond_ethernet_reach_the_same_flow() {
        let ip = inner_ipv4();
        let hdlc_ppp = ppp::Repr { protocol: ppp::PROTO_IPV4 }.emit(&ip);
        let bare_ppp = hdlc_ppp[2..].to_vec();
        let mut fcs_eth = eth(IPV4, &ip);
        fcs_eth.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        let mut dot3 = eth(0, &llc::Repr { ethertype: IPV4 }.emit(&ip));
        dot3[12..14].copy_from_slice(&u16::try_from(8 + ip.len()).unwrap().to_be_bytes());
        dot3.extend_from_slice(&[0; 6]); // padding after the 802.3 length
        let mut on_air = wifi_data(&ip);
        on_air.extend_from_slice(&[1, 2, 3, 4]);
        let cases: [(LinkType, Vec<u8>); 10] = [
            (LinkType::Ppp, hdlc_ppp.clone()),
            (LinkType::Ppp, bare_ppp),
            (LinkType::PppHdlc, hdlc_ppp),
            (LinkType::PppHdlc, chdlc::Repr { protocol: IPV4 }.emit(&ip)),
            (LinkType::CiscoHdlc, chdlc::Repr { protocol: IPV4 }.emit(&ip)),
            (LinkType::Nflog, nflog::Repr { group: 3, prefix: "vw" }.emit(&ip)),
            (LinkType::EthernetFcs(4), fcs_eth),
            (LinkType::Ethernet, dot3),
            (LinkType::Radiotap, radiotap::Repr { tsft: 1, fcs: true, rate: 12, dbm: -40 }.emit(&on_air)),
            (LinkType::Ieee80211, wifi_data(&ip)),
        ];
        for (link, frame) in cases {
            let p = packet(decode(link, &frame));
            assert_inner_flow(&p);
            assert_eq!((p.encap, p.outer_len), (Encap::default(), 0), "{link:?}");
        }
        let frame = radiotap::Repr { tsft: 1, fcs: false, rate: 12, dbm: -40 }.emit(&wifi_data(&ip));
        let p = packet(decode(LinkType::Radiotap, &frame));
        assert_eq!(p.macs, Some(Macs { src: [0x9c; 6], dst: [0x02; 6] }), "the stations, not the access point");
        let v6 = nflog::Repr { group: 3, prefix: "" }.emit(&inner_ipv6());
        assert_eq!(packet(decode(LinkType::Nflog, &v6)).dst_port, 53);
    }

    #[test]
    fn link_frames_without_ip_are_skipped_not_errors() {
        let mut protected = wifi_data(&inner_ipv4());
        protected[1] |= 0x40;
        let beacon = [0x80, 0x00, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        let stp = {
            let mut f = eth(0x0026, &[0x42, 0x42, 0x03, 0, 0, 0, 0]);
            f.resize(60, 0);
            f
        };
        let mut nflog_arp = nflog::Repr { group: 3, prefix: "" }.emit(&inner_ipv4());
        nflog_arp[0] = 7; // NFPROTO_BRIDGE
        let cases: [(LinkType, Vec<u8>); 6] = [
            (LinkType::Radiotap, radiotap::Repr { tsft: 1, fcs: false, rate: 2, dbm: -70 }.emit(&protected)),
            (LinkType::Radiotap, radiotap::Repr { tsft: 1, fcs: false, rate: 2, dbm: -70 }.emit(&beacon)),
            (LinkType::Ethernet, stp),
            (LinkType::Ppp, vec![0xff, 0x03, 0xc0, 0x21, 1, 1, 0, 4]),
            (LinkType::CiscoHdlc, chdlc::Repr { protocol: chdlc::PROTO_SLARP }.emit(&[0; 18])),
            (LinkType::Nflog, nflog_arp),
        ];
        for (link, frame) in cases {
            assert!(matches!(decode(link, &frame), Ok(Decoded::NotIp)), "{link:?}");
        }
    }

    #[test]
    fn nested_vxlan_in_gre_reports_the_outermost_tunnel() {
        let vx = ipv4_between(
            [10, 9, 9, 1],
            [10, 9, 9, 2],
            IPPROTO_UDP,
            &udp(50000, vxlan::PORT, &vxlan(99, &eth(IPV4, &inner_ipv4()))),
        );
        let frame = eth(IPV4, &ipv4(IPPROTO_GRE, &gre([0x20, 0], IPV4, &[5], &vx)));
        let p = packet(decode(LinkType::Ethernet, &frame));
        assert_inner_flow(&p);
        assert_eq!(p.encap, Encap { kind: EncapKind::Gre, id: Some(5) });
        // The innermost frame is the Ethernet frame inside VXLAN.
        assert_eq!(p.outer_len, 14 + 20 + 8 + 20 + 8 + 8);
    }

    #[test]
    fn nesting_is_capped() {
        let mut raw = inner_ipv4();
        for _ in 0..MAX_ENCAP_DEPTH {
            raw = ipv4(IPPROTO_IPIP, &raw);
        }
        let p = packet(decode(LinkType::Raw, &raw));
        assert_inner_flow(&p);
        assert_eq!(p.outer_len, 20 * usize::from(MAX_ENCAP_DEPTH));
        assert_eq!(decode(LinkType::Raw, &ipv4(IPPROTO_IPIP, &raw)).err(), Some(DecodeError::TooManyEncapsulations));
    }

    #[test]
    fn truncated_and_broken_tunnel_headers_are_counted_by_reason() {
        let udp_to = |port: u16, data: &[u8]| ipv4(IPPROTO_UDP, &udp(1, port, data));
        let pppoe_short = eth(pppoe::ETHERTYPE_SESSION, &[0x11, 0, 0, 1, 0, 2, 0]);
        let pppoe_discovery_code = eth(pppoe::ETHERTYPE_SESSION, &[0x11, 0x09, 0, 1, 0, 2, 0, 0x21]);
        let cases: [(Vec<u8>, LinkType, DecodeError); 11] = [
            (ipv4(IPPROTO_GRE, &[0x20, 0, 0x08, 0x00, 0, 0]), LinkType::Raw, DecodeError::GreTruncated),
            (ipv4(IPPROTO_GRE, &gre([0x00, 0x03], IPV4, &[], &inner_ipv4())), LinkType::Raw, DecodeError::GreBadHeader),
            (
                ipv4(IPPROTO_GRE, &gre([0x10, 0], gre::PROTO_ERSPAN_II, &[1], &[0x10, 0, 0])),
                LinkType::Raw,
                DecodeError::ErspanTruncated,
            ),
            (
                ipv4(IPPROTO_GRE, &gre([0x10, 0], gre::PROTO_ERSPAN_III, &[1], &[0x10; 12])),
                LinkType::Raw,
                DecodeError::ErspanBadHeader,
            ),
            (
                udp_to(geneve::PORT, &[0x02, 0, 0x65, 0x58, 0, 0, 1, 0, 0, 0]),
                LinkType::Raw,
                DecodeError::GeneveTruncated,
            ),
            (
                udp_to(capwap::PORT, &[0x00, 0x20, 0x43, 0x20, 0, 0, 0, 0, 1]),
                LinkType::Raw,
                DecodeError::CapwapTruncated,
            ),
            (udp_to(capwap::PORT, &capwap_80211(&[])[..40]), LinkType::Raw, DecodeError::Ieee80211Truncated),
            (
                eth(mpls::ETHERTYPE_UNICAST, &[0x00, 0x06, 0x40, 0x40, 0x00]),
                LinkType::Ethernet,
                DecodeError::MplsTruncated,
            ),
            (pppoe_short, LinkType::Ethernet, DecodeError::PppoeTruncated),
            (pppoe_discovery_code, LinkType::Ethernet, DecodeError::PppoeBadHeader),
            (udp_to(vxlan::PORT, &vxlan(1, &[0x02, 0, 0])), LinkType::Raw, DecodeError::EthernetTruncated),
        ];
        for (frame, link, want) in cases {
            assert_eq!(decode(link, &frame).err(), Some(want), "{}", want.reason());
        }
        let mut bad_fcs = radiotap::Repr { tsft: 1, fcs: true, rate: 2, dbm: -70 }.emit(&wifi_data(&inner_ipv4()));
        bad_fcs[16] |= 0x40;
        let mut dot3_cut = eth(0, &[0xaa, 0xaa, 0x03, 0, 0]);
        dot3_cut[12..14].copy_from_slice(&5u16.to_be_bytes());
        let new_cases: [(Vec<u8>, LinkType, DecodeError); 16] = [
            (bad_fcs, LinkType::Radiotap, DecodeError::Ieee80211BadFcs),
            (vec![0, 0, 40, 0, 0, 0, 0, 0, 0], LinkType::Radiotap, DecodeError::RadiotapTruncated),
            (vec![1, 0, 8, 0, 0, 0, 0, 0, 0x08], LinkType::Radiotap, DecodeError::RadiotapBadHeader),
            (
                radiotap::Repr { tsft: 1, fcs: false, rate: 2, dbm: -70 }.emit(&wifi_data(&[])[..30]),
                LinkType::Radiotap,
                DecodeError::Ieee80211Truncated,
            ),
            (vec![0xff, 0x03, 0x00], LinkType::Ppp, DecodeError::PppTruncated),
            (vec![0xff, 0x03, 0x00, 0x20], LinkType::PppHdlc, DecodeError::PppBadHeader),
            (vec![0x0f, 0x00, 0x08], LinkType::CiscoHdlc, DecodeError::ChdlcTruncated),
            (vec![0x0f, 0x03, 0x08, 0x00], LinkType::PppHdlc, DecodeError::ChdlcBadHeader),
            (vec![2, 0, 0], LinkType::Nflog, DecodeError::NflogTruncated),
            (vec![2, 1, 0, 0], LinkType::Nflog, DecodeError::NflogBadHeader),
            (dot3_cut, LinkType::Ethernet, DecodeError::LlcTruncated),
            (vec![0; 3], LinkType::EthernetFcs(4), DecodeError::EthernetTruncated),
            (udp_to(teredo::PORT, &[0x00, 0x01, 4, 0, 1, 2]), LinkType::Raw, DecodeError::TeredoTruncated),
            (udp_to(ayiya::PORT, &[0x41, 0x52, 0x11, 41, 0, 0, 0, 0, 1]), LinkType::Raw, DecodeError::AyiyaTruncated),
            (udp_to(l2tp::PORT, &[0x00, 0x02, 0, 1]), LinkType::Raw, DecodeError::L2tpTruncated),
            (udp_to(l2tp::PORT, &[0x40, 0x02, 0, 4, 0, 1, 0, 1]), LinkType::Raw, DecodeError::L2tpBadHeader),
        ];
        for (frame, link, want) in new_cases {
            assert_eq!(decode(link, &frame).err(), Some(want), "{}", want.reason());
        }
    }

    #[test]
    fn reasons_are_unique_and_indexed() {
        let mut seen = std::collections::HashSet::new();
        for (i, e) in DecodeError::ALL.into_iter().enumerate() {
            assert!(seen.insert(e.reason()), "duplicate {}", e.reason());
            assert_eq!(e.index(), i);
        }
        assert_eq!(DecodeError::TooManyEncapsulations.reason(), "too_many_encapsulations");
        assert_eq!(DecodeError::GreTruncated.reason(), "gre_truncated");
    }

    #[test]
    fn fragments_carry_what_reassembly_needs() {
        // IPv4: ident 0x1234, offset 185 * 8, MF clear, inside VXLAN 3.
        let mut frag = ipv4_between([10, 1, 1, 1], [17, 253, 144, 10], IPPROTO_UDP, b"tail");
        frag[6..8].copy_from_slice(&185u16.to_be_bytes());
        let frame = ipv4(IPPROTO_UDP, &udp(1, vxlan::PORT, &vxlan(3, &eth(IPV4, &frag))));
        let Ok(Decoded::Fragment(f)) = decode(LinkType::Raw, &frame) else { panic!("not a fragment") };
        assert_eq!(
            (f.protocol, f.ident, f.offset, f.more, f.payload),
            (IPPROTO_UDP, 0x1234, 1480, false, &b"tail"[..])
        );
        assert_eq!((f.encap, f.outer_len), (Encap { kind: EncapKind::Vxlan, id: Some(3) }, 20 + 8 + 8));
        // IPv6: fragment header (next = UDP, offset 0, M), ident 77.
        let v6 = ipv6(44, &[17, 0, 0x00, 0x01, 0, 0, 0, 77, 0xaa, 0xbb]);
        let Ok(Decoded::Fragment(f)) = decode(LinkType::Raw, &v6) else { panic!("not a fragment") };
        assert_eq!((f.protocol, f.ident, f.offset, f.more, f.payload), (IPPROTO_UDP, 77, 0, true, &[0xaa, 0xbb][..]));
        assert!(f.dst.is_ipv6());
    }

    #[test]
    fn non_ip_frames_are_not_errors() {
        assert!(matches!(decode(LinkType::Ethernet, &eth(ARP, &[0, 1])), Ok(Decoded::NotIp)));
        assert_eq!(decode(LinkType::Other(147), &eth_vlan_udp()).err(), Some(DecodeError::UnsupportedLink));
    }

    /// One frame of every kind the decoder opens, for the robustness test.
    fn tunnel_frames() -> Vec<(LinkType, Vec<u8>)> {
        let inner_eth = eth(ethernet::TPID_8021Q, &tag(9, IPV4, &inner_ipv4()));
        let mut ii = vec![0x10, 0x1e, 0x01, 0x55, 0, 0, 0, 0];
        ii.extend_from_slice(&inner_eth);
        let mut iii = vec![0x20, 0x1e, 0x00, 0x09, 0, 0, 0, 0, 0, 0, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0];
        iii.extend_from_slice(&inner_eth);
        let mut geneve = vec![0x01, 0x00, 0x65, 0x58, 0, 0, 77, 0, 1, 2, 3, 0];
        geneve.extend_from_slice(&inner_eth);
        let mut mpls_pw = vec![0x00, 0x06, 0x40, 0x40, 0x00, 0x0c, 0x81, 0x40, 0, 0, 0, 1];
        mpls_pw.extend_from_slice(&inner_eth);
        let mut pppoe = vec![0x11, 0x00, 0x00, 0x2a, 0, 0, 0x00, 0x57];
        pppoe[4..6].copy_from_slice(&u16::try_from(inner_ipv6().len() + 2).unwrap().to_be_bytes());
        pppoe.extend_from_slice(&inner_ipv6());
        // A middle IPv6 fragment: offset 8, M set.
        let v6_frag = ipv6(44, &[17, 0, 0x00, 0x09, 0, 0, 0, 7, 1, 2, 3, 4, 5, 6, 7, 8]);
        let nested = ipv4(
            IPPROTO_GRE,
            &gre([0x20, 0], IPV4, &[5], &ipv4(IPPROTO_UDP, &udp(1, vxlan::PORT, &vxlan(9, &inner_eth)))),
        );
        vec![
            (LinkType::Ethernet, eth_vlan_udp()),
            (
                LinkType::Ethernet,
                eth(IPV4, &ipv4(IPPROTO_GRE, &gre([0xb0, 0], gre::PROTO_TEB, &[0, 1, 2], &inner_eth))),
            ),
            (LinkType::Raw, ipv4(IPPROTO_GRE, &gre([0x10, 0], gre::PROTO_ERSPAN_II, &[1], &ii))),
            (LinkType::Raw, ipv4(IPPROTO_GRE, &gre([0x10, 0], gre::PROTO_ERSPAN_III, &[1], &iii))),
            (LinkType::Raw, ipv4(IPPROTO_UDP, &udp(1, vxlan::PORT, &vxlan(7, &inner_eth)))),
            (LinkType::Raw, ipv4(IPPROTO_UDP, &udp(1, geneve::PORT, &geneve))),
            (LinkType::Ethernet, eth(mpls::ETHERTYPE_UNICAST, &mpls_pw)),
            (LinkType::Ethernet, eth(pppoe::ETHERTYPE_SESSION, &pppoe)),
            (LinkType::Raw, ipv6(IPPROTO_IPIP, &ipv4(IPPROTO_IPV6, &inner_ipv6()))),
            (LinkType::Raw, ipv4(IPPROTO_UDP, &udp(12380, capwap::PORT, &capwap_80211(&inner_ipv4())))),
            (LinkType::Raw, nested),
            (LinkType::Raw, v6_frag),
            (LinkType::Raw, teredo_frame(&inner_ipv6())),
            (
                LinkType::Raw,
                ipv4(
                    IPPROTO_UDP,
                    &udp(
                        1,
                        ayiya::PORT,
                        &ayiya::Repr { identity: [1; 16], signature: [2; 20], epoch_time: 9 }.emit(&inner_ipv4()),
                    ),
                ),
            ),
            (LinkType::Raw, ipv4(IPPROTO_UDP, &udp(1, gre::UDP_PORT, &gre([0x20, 0], IPV4, &[3], &inner_ipv4())))),
            (
                LinkType::Raw,
                ipv4(
                    IPPROTO_UDP,
                    &udp(
                        1,
                        l2tp::PORT,
                        &l2tp::V2Repr { tunnel: 1, session: 2 }
                            .emit(&ppp::Repr { protocol: ppp::PROTO_IPV4 }.emit(&inner_ipv4())),
                    ),
                ),
            ),
            (LinkType::Raw, ipv4(IPPROTO_L2TP, &l2tp::V3Repr { session: 9, cookie: &[1, 2, 3, 4] }.emit(&inner_eth))),
            (LinkType::Ppp, ppp::Repr { protocol: ppp::PROTO_IPV4 }.emit(&inner_ipv4())),
            (LinkType::PppHdlc, chdlc::Repr { protocol: IPV4 }.emit(&ipv4(IPPROTO_IPIP, &inner_ipv4()))),
            (LinkType::CiscoHdlc, chdlc::Repr { protocol: IPV6 }.emit(&inner_ipv6())),
            (LinkType::Nflog, nflog::Repr { group: 3, prefix: "vw" }.emit(&inner_ipv4())),
            (LinkType::EthernetFcs(4), [eth(IPV4, &inner_ipv4()), vec![1, 2, 3, 4]].concat()),
            (
                LinkType::Ethernet,
                eth(
                    16,
                    &llc::Repr { ethertype: IPV4 }
                        .emit(&ipv4(IPPROTO_UDP, &udp(1, vxlan::PORT, &vxlan(7, &inner_eth)))),
                ),
            ),
            (
                LinkType::Radiotap,
                radiotap::Repr { tsft: 1, fcs: true, rate: 12, dbm: -40 }
                    .emit(&[wifi_data(&inner_ipv4()), vec![0; 4]].concat()),
            ),
        ]
    }

    #[test]
    fn never_panics_on_any_prefix_or_mutation() {
        let mut frames: Vec<(LinkType, Vec<u8>)> =
            [LinkType::Ethernet, LinkType::Raw, LinkType::LinuxSll, LinkType::LinuxSll2, LinkType::Null]
                .into_iter()
                .map(|link| (link, eth_vlan_udp()))
                .collect();
        frames.extend(tunnel_frames());
        let mut defrag = fragment::Defragmenter::default();
        let mut rng = synth::XorShift::new(0x9e37_79b9_7f4a_7c15);
        let mut next = || rng.next_u64();
        let mut opened = 0;
        for (link, frame) in &frames {
            for cut in 0..=frame.len() {
                let _ = decode(*link, &frame[..cut]);
            }
            for _ in 0..5_000 {
                let mut m = frame.clone();
                for _ in 0..3 {
                    let r = next();
                    let i = usize::try_from(r % m.len() as u64).unwrap();
                    m[i] = r.to_le_bytes()[4];
                }
                match decode(*link, &m) {
                    Ok(Decoded::Fragment(f)) => {
                        if let Some(whole) =
                            defrag.push(next() % 1_000_000_000_000, &f, u32::try_from(m.len()).unwrap())
                        {
                            let _ = whole.decode();
                        }
                    }
                    Ok(Decoded::Packet(p)) => {
                        opened += usize::from(p.encap.kind != EncapKind::None);
                        assert!(p.outer_len <= m.len());
                    }
                    _ => {}
                }
            }
        }
        // Most single-byte changes leave the tunnel headers intact.
        assert!(opened > 20_000, "only {opened} mutated tunnel frames opened");
        assert!(defrag.memory() <= fragment::Limits::default().max_bytes);
    }
}
