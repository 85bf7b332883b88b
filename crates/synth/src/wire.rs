//! Wire formats: link layers, IPv4/IPv6, TCP and UDP, built with valid
//! lengths and checksums so that the fixtures also open cleanly in
//! Wireshark. Each builder returns the bytes of its own header plus the
//! payload handed in; [`Link::frame`] puts the link layer around an IP packet.

use std::net::{IpAddr, SocketAddr};

// The numbers and header builders are the wire crate's own (its `emit`
// feature); this module frames whole packets from them.
pub use ::wire::checksum::checksum;
pub use ::wire::checksum::crc32;
pub use ::wire::ethernet::{ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, TPID_8021AD, TPID_8021Q};
pub use ::wire::ip::{IPPROTO_TCP, IPPROTO_UDP};
pub use ::wire::ipv6::Extension;
pub use ::wire::linktype::{
    C_HDLC as LINKTYPE_C_HDLC, ETHERNET as LINKTYPE_ETHERNET, IEEE802_11_RADIOTAP as LINKTYPE_IEEE802_11_RADIOTAP,
    LINUX_SLL as LINKTYPE_LINUX_SLL, LINUX_SLL2 as LINKTYPE_LINUX_SLL2, NFLOG as LINKTYPE_NFLOG, NULL as LINKTYPE_NULL,
    PPP as LINKTYPE_PPP, PPP_HDLC as LINKTYPE_PPP_HDLC, RAW as LINKTYPE_RAW, pcap_field_with_fcs,
};
/// TCP flag bits.
pub use ::wire::tcp::{ACK, FIN, PSH, RST, SYN};
use ::wire::{chdlc, ethernet, ieee80211, ipv4, ipv6, llc, nflog, ppp, radiotap, sll, tcp, udp};

/// BSD loopback address family of IPv6 as macOS writes it.
const AF_INET6_DARWIN: u32 = 30;
const AF_INET: u32 = 2;
/// The ARPHRD type of an Ethernet interface, in Linux cooked headers.
const ARPHRD_ETHER: u16 = 1;

/// The link layer of a capture: what comes before the IP header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// Ethernet II, with VLAN tags.
    Ethernet {
        /// (TPID, VLAN id) of each tag, outermost first; empty for an
        /// untagged frame.
        tags: Vec<(u16, u16)>,
    },
    /// Linux cooked capture v1 (`tcpdump -i any` before libpcap 1.10).
    LinuxSll,
    /// Linux cooked capture v2.
    LinuxSll2,
    /// The frame is the IP packet.
    Raw,
    /// BSD loopback: a 4-byte address family in the capturing host's
    /// (here little-endian) byte order.
    Null,
    /// Ethernet II frames ending in their 4-byte FCS (pcap only: the link
    /// type field says so in its upper bits).
    EthernetFcs,
    /// IEEE 802.3 frames: a length field, then LLC/SNAP naming the ethertype.
    Ieee8023Snap,
    /// PPP, framed or not.
    Ppp {
        /// RFC 1662 framing (address and control before the protocol,
        /// `LINKTYPE_PPP_HDLC`); without it, `LINKTYPE_PPP`.
        hdlc: bool,
    },
    /// Cisco HDLC.
    CiscoHdlc,
    /// NFLOG, as a little-endian Linux host logs.
    Nflog {
        /// The netfilter log group (`--nflog-group`).
        group: u16,
    },
    /// 802.11 QoS data frames between stations and an access point, after
    /// a radiotap header, each ending in its FCS. A source in 10.0.0.0/8 or
    /// `fd00::/8` is the station sending to the access point.
    Radiotap {
        /// The access point's MAC address.
        bssid: [u8; 6],
    },
}

impl Link {
    /// Untagged Ethernet II.
    pub fn ethernet() -> Link {
        Link::Ethernet { tags: Vec::new() }
    }

    /// Ethernet with one 802.1Q tag.
    pub fn vlan(id: u16) -> Link {
        Link::Ethernet { tags: vec![(TPID_8021Q, id)] }
    }

    /// Ethernet with an 802.1ad service tag outside an 802.1Q customer tag.
    pub fn qinq(outer: u16, inner: u16) -> Link {
        Link::Ethernet { tags: vec![(TPID_8021AD, outer), (TPID_8021Q, inner)] }
    }

    /// The pcap LINKTYPE_ number.
    pub fn linktype(&self) -> u32 {
        match self {
            // 802.3 frames share Ethernet II's link type: the length field
            // tells them apart.
            Link::Ethernet { .. } | Link::Ieee8023Snap => LINKTYPE_ETHERNET,
            Link::LinuxSll => LINKTYPE_LINUX_SLL,
            Link::LinuxSll2 => LINKTYPE_LINUX_SLL2,
            Link::Raw => LINKTYPE_RAW,
            Link::Null => LINKTYPE_NULL,
            Link::EthernetFcs => pcap_field_with_fcs(LINKTYPE_ETHERNET, 4),
            Link::Ppp { hdlc: false } => LINKTYPE_PPP,
            Link::Ppp { hdlc: true } => LINKTYPE_PPP_HDLC,
            Link::CiscoHdlc => LINKTYPE_C_HDLC,
            Link::Nflog { .. } => LINKTYPE_NFLOG,
            Link::Radiotap { .. } => LINKTYPE_IEEE802_11_RADIOTAP,
        }
    }

    /// Wraps an IP packet (v4 or v6, read from its first nibble) in this
    /// link layer. MAC addresses are derived from the IP addresses, so each
    /// host keeps one MAC throughout a capture.
    pub fn frame(&self, ip: &[u8]) -> Vec<u8> {
        let v6 = ip.first().is_some_and(|b| b >> 4 == 6);
        let ethertype = if v6 { ETHERTYPE_IPV6 } else { ETHERTYPE_IPV4 };
        let (src, dst) = ip_addrs(ip);
        let mut f = Vec::with_capacity(ip.len() + 24);
        match self {
            Link::Ethernet { tags } => {
                let header = ethernet::Repr { dst: mac_of(dst), src: mac_of(src), tags, ethertype };
                return header.emit(ip);
            }
            Link::LinuxSll => {
                let packet_type = u16::from(sll_packet_type(src));
                return sll::V1Repr { packet_type, hatype: ARPHRD_ETHER, address: mac_of(src), protocol: ethertype }
                    .emit(ip);
            }
            Link::LinuxSll2 => {
                let (packet_type, address) = (sll_packet_type(src), mac_of(src));
                return sll::V2Repr { protocol: ethertype, interface: 2, hatype: ARPHRD_ETHER, packet_type, address }
                    .emit(ip);
            }
            Link::EthernetFcs => {
                let header = ethernet::Repr { dst: mac_of(dst), src: mac_of(src), tags: &[], ethertype };
                return with_fcs(header.emit(ip));
            }
            Link::Ieee8023Snap => {
                let snap = llc::Repr { ethertype }.emit(ip);
                let header = ethernet::Repr { dst: mac_of(dst), src: mac_of(src), tags: &[], ethertype: 0 };
                let mut f = header.emit(&snap);
                f[12..14].copy_from_slice(&::wire::len16(snap.len()).to_be_bytes());
                return f;
            }
            Link::Ppp { hdlc } => {
                let protocol = if v6 { ppp::PROTO_IPV6 } else { ppp::PROTO_IPV4 };
                let framed = ppp::Repr { protocol }.emit(ip);
                return if *hdlc { framed } else { framed[2..].to_vec() };
            }
            Link::CiscoHdlc => return chdlc::Repr { protocol: ethertype }.emit(ip),
            Link::Nflog { group } => return nflog::Repr { group: *group, prefix: "vendorwatch" }.emit(ip),
            Link::Radiotap { bssid } => {
                let to_ds = src[0] == 10 || src[0] == 0xfd;
                let (station, peer) = if to_ds { (src, dst) } else { (dst, src) };
                let ident = u16::from_be_bytes([ip[4], ip[5]]);
                let (bssid, station, peer) = (*bssid, mac_of(station), mac_of(peer));
                let frame = ieee80211::Repr { to_ds, bssid, station, peer, sequence: ident, ethertype }.emit(ip);
                let radio = radiotap::Repr { tsft: u64::from(ident) * 1000, fcs: true, rate: 108, dbm: -42 };
                return radio.emit(&with_fcs(frame));
            }
            Link::Raw => {}
            Link::Null => {
                let family = if v6 { AF_INET6_DARWIN } else { AF_INET };
                f.extend_from_slice(&family.to_le_bytes());
            }
        }
        f.extend_from_slice(ip);
        f
    }
}

/// A frame followed by its IEEE CRC-32 frame check sequence.
pub fn with_fcs(mut frame: Vec<u8>) -> Vec<u8> {
    let fcs = crc32(&frame);
    frame.extend_from_slice(&fcs.to_le_bytes());
    frame
}

/// Source and destination of an IPv4 or IPv6 header (zeros if too short).
fn ip_addrs(ip: &[u8]) -> ([u8; 4], [u8; 4]) {
    let (s, d) = if ip.first().is_some_and(|b| b >> 4 == 6) { (20, 36) } else { (12, 16) };
    let take = |at: usize| ip.get(at..at + 4).and_then(|b| b.try_into().ok()).unwrap_or([0; 4]);
    (take(s), take(d))
}

/// A locally administered MAC made from (the last 4 bytes of) an address.
fn mac_of(addr: [u8; 4]) -> [u8; 6] {
    [0x02, 0x00, addr[0], addr[1], addr[2], addr[3]]
}

/// The MAC [`Link::frame`] gives the host with this address: each host
/// keeps one MAC throughout a capture, in tunnels too.
pub fn mac_for(addr: IpAddr) -> [u8; 6] {
    let last4 = |o: &[u8]| [o[o.len() - 4], o[o.len() - 3], o[o.len() - 2], o[o.len() - 1]];
    match addr {
        IpAddr::V4(a) => mac_of(a.octets()),
        IpAddr::V6(a) => mac_of(last4(&a.octets())),
    }
}

/// An Ethernet II frame of any ethertype (MPLS, PPPoE, ...): `tags` are
/// (TPID, VLAN id), outermost first.
pub fn ethernet_frame(dst: [u8; 6], src: [u8; 6], tags: &[(u16, u16)], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    ethernet::Repr { dst, src, tags, ethertype }.emit(payload)
}

/// SLL packet type: 4 (sent by us) for private sources, else 0 (to us).
fn sll_packet_type(src: [u8; 4]) -> u8 {
    if src[0] == 10 || src[0] == 0xfd { 4 } else { 0 }
}

/// What an IP header carries besides addresses and protocol.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpExtras {
    /// IPv4 options, padded with End-of-Option-List to a multiple of 4.
    pub v4_options: Vec<u8>,
    /// IPv4 fragment: (offset in bytes, more fragments).
    pub v4_fragment: Option<(u16, bool)>,
    /// IPv6 extension headers, in order.
    pub v6_extensions: Vec<Extension>,
}

impl IpExtras {
    /// IPv4 options: Router Alert (RFC 2113) and a Record Route with room
    /// for two addresses, as a router would see them.
    pub fn v4_router_alert_and_record_route() -> IpExtras {
        let mut opts = vec![0x94, 4, 0, 0]; // Router Alert
        opts.extend_from_slice(&[7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0]); // Record Route, 2 slots
        IpExtras { v4_options: opts, ..IpExtras::default() }
    }
}

/// Builds an IPv4 or IPv6 packet (by the family of `src`) around a
/// transport payload.
///
/// # Panics
///
/// If `src` and `dst` are of different families.
pub fn ip_packet(src: IpAddr, dst: IpAddr, protocol: u8, payload: &[u8], extras: &IpExtras, ident: u16) -> Vec<u8> {
    match (src, dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            let fragment = extras.v4_fragment;
            ipv4::Repr { src, dst, protocol, ident, fragment, options: &extras.v4_options }.emit(payload)
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            ipv6::Repr { src, dst, protocol, extensions: &extras.v6_extensions }.emit(payload)
        }
        _ => panic!("ip_packet: {src} and {dst} are of different families"),
    }
}

/// A TCP segment with checksum; SYNs carry an MSS option of 1460.
pub fn tcp_segment(src: SocketAddr, dst: SocketAddr, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    tcp::Repr { src, dst, seq, ack, flags }.emit(payload)
}

/// A UDP datagram with checksum.
pub fn udp_datagram(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
    udp::Repr { src, dst }.emit(payload)
}

/// An Ethernet ARP request (who-has `target` tell `sender`): a non-IP frame.
pub fn arp_request(sender: [u8; 4], target: [u8; 4]) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&mac_of(sender));
    f.extend_from_slice(&ETHERTYPE_ARP.to_be_bytes());
    f.extend_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 1]);
    f.extend_from_slice(&mac_of(sender));
    f.extend_from_slice(&sender);
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&target);
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use vendorwatch::decode::{self, Decoded};
    use vendorwatch::source::LinkType;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn every_link_decodes_to_the_same_packet() {
        let (c, s) = (sa("10.10.1.2:50000"), sa("17.249.1.1:443"));
        let ip = ip_packet(c.ip(), s.ip(), IPPROTO_TCP, &tcp_segment(c, s, 1, 0, SYN, b""), &IpExtras::default(), 1);
        let links = [
            Link::ethernet(),
            Link::qinq(100, 30),
            Link::LinuxSll,
            Link::LinuxSll2,
            Link::Raw,
            Link::Null,
            Link::EthernetFcs,
            Link::Ieee8023Snap,
            Link::Ppp { hdlc: false },
            Link::Ppp { hdlc: true },
            Link::CiscoHdlc,
            Link::Nflog { group: 5 },
            Link::Radiotap { bssid: [0x02, 0, 0, 0, 0, 0xb5] },
        ];
        for link in links {
            let frame = link.frame(&ip);
            let Ok(Decoded::Packet(p)) = decode::decode(LinkType::from_pcap_field(link.linktype()), &frame) else {
                panic!("{link:?} did not decode")
            };
            assert_eq!((p.src, p.dst, p.src_port, p.dst_port, p.tcp_flags), (c.ip(), s.ip(), 50000, 443, SYN));
        }
    }

    #[test]
    fn checksums_verify() {
        let (c, s) = (sa("10.10.1.2:5353"), sa("10.10.0.1:53"));
        let ip = ip_packet(c.ip(), s.ip(), IPPROTO_UDP, &udp_datagram(c, s, b"odd"), &IpExtras::default(), 9);
        assert_eq!(checksum(&[&ip[..20]]), 0, "IPv4 header checksum");
        let udp = &ip[20..];
        assert_eq!(checksum(&[&::wire::checksum::pseudo_header(c.ip(), s.ip(), IPPROTO_UDP, udp.len()), udp]), 0);
    }

    #[test]
    fn ipv6_extension_chain_links_next_headers() {
        let (c, s) = (sa("[fd00:10:10::5]:50000"), sa("[2620:149:a44::1]:443"));
        let extras = IpExtras {
            v6_extensions: vec![Extension::hop_by_hop(), Extension::dest_opts(2), Extension::routing()],
            ..IpExtras::default()
        };
        let ip = ip_packet(c.ip(), s.ip(), IPPROTO_TCP, &tcp_segment(c, s, 1, 0, SYN, b""), &extras, 0);
        assert_eq!(ip[6], Extension::HOP_BY_HOP);
        assert_eq!(ip.len(), 40 + 8 + 16 + 8 + 24);
        let Ok(Decoded::Packet(p)) = decode::decode(LinkType::Raw, &ip) else { panic!() };
        assert_eq!((p.protocol, p.dst_port), (IPPROTO_TCP, 443));
    }
}
