//! Decode: from a captured frame to the addresses, ports and payload of the
//! innermost IP packet, without copying or allocating.
//!
//! Each protocol has its own zero-copy view (`ethernet`, `ipv4`, ...) with a
//! checked constructor; this module walks them in order. A frame that is not
//! IP (ARP, LLDP, ...) is [`Decoded::NotIp`]; a broken one is a
//! [`DecodeError`], which the caller counts by [`DecodeError::reason`] and
//! skips.

pub mod ethernet;
pub mod ipv4;
pub mod ipv6;
pub mod sll;
pub mod tcp;
pub mod udp;

use std::net::IpAddr;

use crate::source::LinkType;

pub const IPPROTO_ICMP: u8 = 1;
pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;
pub const IPPROTO_ICMPV6: u8 = 58;

/// Stacked VLAN tags beyond this are treated as garbage.
const MAX_VLAN_TAGS: usize = 4;

/// Reads a big-endian u16; callers have checked the length.
#[inline]
pub(crate) fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
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
}

impl DecodeError {
    pub const ALL: [DecodeError; 14] = [
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
        }
    }

    pub fn index(self) -> usize {
        DecodeError::ALL.iter().position(|&e| e == self).unwrap_or(0)
    }
}

/// The VLAN ids of a frame, outermost first.
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

    pub fn as_slice(&self) -> &[u16] {
        &self.ids[..usize::from(self.len)]
    }

    /// The tag closest to the IP header: the customer VLAN under QinQ.
    pub fn innermost(&self) -> Option<u16> {
        self.as_slice().last().copied()
    }
}

/// An IP packet's flow-relevant fields.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: u8,
    /// Zero for protocols without ports.
    pub src_port: u16,
    pub dst_port: u16,
    /// TCP flags and sequence number; zero for other protocols.
    pub tcp_flags: u8,
    pub tcp_seq: u32,
    /// The transport payload (TCP/UDP data; the whole IP payload otherwise).
    pub payload: &'a [u8],
    pub vlans: Vlans,
}

/// The result of decoding one frame.
#[derive(Debug, Clone, Copy)]
pub enum Decoded<'a> {
    Packet(Packet<'a>),
    /// ARP, LLDP, STP and the like: counted, not an error.
    NotIp,
    /// An IP fragment: its transport header is not (all) here.
    Fragment,
}

/// Decodes a frame of the given link type.
pub fn decode(link: LinkType, frame: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    let mut vlans = Vlans::default();
    match link {
        LinkType::Ethernet => {
            let eth = ethernet::Frame::new_checked(frame)?;
            ethertype(eth.ethertype(), eth.payload(), &mut vlans)
        }
        LinkType::Raw => ip(frame, vlans),
        LinkType::Null | LinkType::Loop => {
            // The 4-byte address family is in the capturing host's byte order
            // (Null) or network order (Loop), and its IPv6 value differs by
            // OS; the IP version nibble says the same thing reliably.
            let payload = frame.get(4..).ok_or(DecodeError::LinkTruncated)?;
            ip(payload, vlans)
        }
        LinkType::LinuxSll | LinkType::LinuxSll2 => {
            let h = sll::Header::new_checked(frame, link == LinkType::LinuxSll2)?;
            ethertype(h.protocol(), h.payload(), &mut vlans)
        }
        LinkType::Other(_) => Err(DecodeError::UnsupportedLink),
    }
}

fn ethertype<'a>(mut kind: u16, mut payload: &'a [u8], vlans: &mut Vlans) -> Result<Decoded<'a>, DecodeError> {
    while ethernet::VLAN_TPIDS.contains(&kind) {
        let tag = ethernet::Tag::new_checked(payload)?;
        vlans.push(tag.vlan_id())?;
        kind = tag.ethertype();
        payload = tag.payload();
    }
    match kind {
        ethernet::ETHERTYPE_IPV4 | ethernet::ETHERTYPE_IPV6 => ip(payload, *vlans),
        _ => Ok(Decoded::NotIp),
    }
}

fn ip(data: &[u8], vlans: Vlans) -> Result<Decoded<'_>, DecodeError> {
    match data.first().map(|b| b >> 4) {
        Some(4) => {
            let p = ipv4::Packet::new_checked(data)?;
            if p.is_fragment() {
                return Ok(Decoded::Fragment);
            }
            transport(p.src_addr().into(), p.dst_addr().into(), p.protocol(), p.payload(), vlans)
        }
        Some(6) => {
            let p = ipv6::Packet::new_checked(data)?;
            if p.fragment().is_some_and(|f| f.more || f.offset != 0) {
                return Ok(Decoded::Fragment);
            }
            transport(p.src_addr().into(), p.dst_addr().into(), p.protocol(), p.payload(), vlans)
        }
        Some(_) => Err(DecodeError::Ipv4BadHeader),
        None => Err(DecodeError::Ipv4Truncated),
    }
}

fn transport(src: IpAddr, dst: IpAddr, protocol: u8, payload: &[u8], vlans: Vlans) -> Result<Decoded<'_>, DecodeError> {
    let mut p = Packet { src, dst, protocol, src_port: 0, dst_port: 0, tcp_flags: 0, tcp_seq: 0, payload, vlans };
    match protocol {
        IPPROTO_TCP => {
            let s = tcp::Segment::new_checked(payload)?;
            p.src_port = s.src_port();
            p.dst_port = s.dst_port();
            p.tcp_flags = s.flags();
            p.tcp_seq = s.seq();
            p.payload = s.payload();
        }
        IPPROTO_UDP => {
            let d = udp::Datagram::new_checked(payload)?;
            p.src_port = d.src_port();
            p.dst_port = d.dst_port();
            p.payload = d.payload();
        }
        _ => {}
    }
    Ok(Decoded::Packet(p))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let Decoded::Packet(p) = decode(LinkType::Ethernet, &frame).unwrap() else { panic!("not a packet") };
        assert_eq!(p.vlans.as_slice(), &[100, 30]);
        assert_eq!(p.vlans.innermost(), Some(30));
        assert_eq!((p.src_port, p.dst_port, p.protocol), (54321, 53, IPPROTO_UDP));
        assert_eq!(p.payload, b"abc");
        assert_eq!(p.dst, "17.0.0.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn never_panics_on_any_prefix_or_mutation() {
        let frame = eth_vlan_udp();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for link in [LinkType::Ethernet, LinkType::Raw, LinkType::LinuxSll, LinkType::LinuxSll2, LinkType::Null] {
            for cut in 0..=frame.len() {
                let _ = decode(link, &frame[..cut]);
            }
            for _ in 0..20_000 {
                let mut m = frame.clone();
                for _ in 0..3 {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let i = (seed as usize) % m.len();
                    m[i] = (seed >> 32) as u8;
                }
                let _ = decode(link, &m);
            }
        }
    }

    #[test]
    fn non_ip_and_fragments_are_not_errors() {
        let mut arp = vec![0; 12];
        arp.extend_from_slice(&[0x08, 0x06, 0, 1]);
        assert!(matches!(decode(LinkType::Ethernet, &arp), Ok(Decoded::NotIp)));
        let mut frag = eth_vlan_udp();
        frag[28] = 0x20; // MF
        assert!(matches!(decode(LinkType::Ethernet, &frag), Ok(Decoded::Fragment)));
        assert_eq!(decode(LinkType::Other(147), &frag).err(), Some(DecodeError::UnsupportedLink));
    }
}
