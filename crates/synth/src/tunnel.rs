//! Tunnels: the encapsulations a mirror port, an overlay, a wireless
//! controller, a broadband or a mobile core wraps traffic in, built around
//! an inner Ethernet frame or IP packet.
//!
//! The header builders ([`gre()`], [`erspan_ii`], [`erspan_iii`], [`vxlan()`],
//! [`geneve()`], [`mpls()`], [`capwap_data`], [`ieee80211_data`],
//! [`pppoe_session`], [`gtpu`], [`teredo()`], [`ayiya()`], [`l2tp_v2`],
//! [`l2tp_v3`], [`ppp_frame`]) each return their header followed by the
//! payload handed in, like [`super::wire`]'s. A [`Tunnel`] puts a whole
//! conversation through one encapsulation: built with [`super::conv`] on
//! [`Tunnel::inner_link`], each frame is wrapped in the outer headers
//! between the tunnel's two ends ([`Tunnel::wrap_records`]), which also
//! returns the inner frames a flow is to be charged for.

use std::net::{IpAddr, SocketAddr};

use super::capture::Record;
use super::wire::{self, ETHERTYPE_IPV4, ETHERTYPE_IPV6, IpExtras, Link, TPID_8021AD, TPID_8021Q};

pub use ::wire::geneve::GeneveOption;
use ::wire::{ayiya, capwap, erspan, geneve, gre, gtp, ieee80211, l2tp, mpls, ppp, pppoe, teredo, vxlan};

// Each builder is the wire crate's `Repr` of its header (its `emit`
// feature), given the fields a fixture varies.

/// A GRE header (version 0) carrying `protocol`, then `payload`.
pub fn gre(fields: GreFields, protocol: u16, payload: &[u8]) -> Vec<u8> {
    let GreFields { checksum, key, sequence } = fields;
    gre::Repr { checksum, key, sequence, protocol }.emit(payload)
}

/// The optional fields of a GRE header (RFC 2784, RFC 2890).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GreFields {
    /// Computes and sends the checksum word (C).
    pub checksum: bool,
    /// The key word (K).
    pub key: Option<u32>,
    /// The sequence number word (S).
    pub sequence: Option<u32>,
}

/// An ERSPAN type II header in front of the mirrored Ethernet frame: `vlan`
/// is the original VLAN, `index` the port it was taken from.
pub fn erspan_ii(session: u16, vlan: u16, index: u32, frame: &[u8]) -> Vec<u8> {
    erspan::ReprII { session, vlan, index }.emit(frame)
}

/// An ERSPAN type III header in front of a mirrored Ethernet frame, with a
/// timestamp in 100 us units and, when `platform` is given, the platform
/// subheader: the port index and the timestamp's upper seconds.
pub fn erspan_iii(session: u16, timestamp: u32, platform: Option<(u32, u32)>, frame: &[u8]) -> Vec<u8> {
    erspan::ReprIII { session, timestamp, platform }.emit(frame)
}

/// A VXLAN header before an Ethernet frame.
pub fn vxlan(vni: u32, frame: &[u8]) -> Vec<u8> {
    vxlan::Repr { vni }.emit(frame)
}

/// A Geneve header with its options, carrying `protocol` ([`PROTO_TEB`] for
/// Ethernet, or an IP ethertype).
pub fn geneve(vni: u32, protocol: u16, options: &[GeneveOption], payload: &[u8]) -> Vec<u8> {
    geneve::Repr { vni, protocol, options }.emit(payload)
}

/// An MPLS label stack, outermost label first, then `payload`.
pub fn mpls(labels: &[u32], payload: &[u8]) -> Vec<u8> {
    mpls::Repr { labels }.emit(payload)
}

/// A CAPWAP data header before an IEEE 802.3 frame, or with the T flag
/// before a native 802.11 frame.
pub fn capwap_data(native_80211: bool, frame: &[u8]) -> Vec<u8> {
    capwap::Repr { native_80211 }.emit(frame)
}

/// An IEEE 802.11 QoS data frame bridged by an access point, from the
/// station to the distribution system (`to_ds`) or back.
pub fn ieee80211_data(
    to_ds: bool,
    bssid: [u8; 6],
    station: [u8; 6],
    peer: [u8; 6],
    sequence: u16,
    ethertype: u16,
    payload: &[u8],
) -> Vec<u8> {
    ieee80211::Repr { to_ds, bssid, station, peer, sequence, ethertype }.emit(payload)
}

/// A PPPoE session frame's payload: the PPPoE header and the PPP protocol
/// (from the packet's version) before `ip`.
pub fn pppoe_session(session: u16, ip: &[u8]) -> Vec<u8> {
    pppoe::Repr { session }.emit(ip)
}

/// A GTP-U G-PDU carrying `ip` on bearer `teid`; with `pdu_session`, a
/// sequence number and a PDU Session Container (uplink, QoS flow id).
pub fn gtpu(teid: u32, sequence: u16, pdu_session: Option<(bool, u8)>, ip: &[u8]) -> Vec<u8> {
    gtp::Repr { teid, sequence, pdu_session }.emit(ip)
}

/// A Teredo datagram: an authentication indicator (client id, nonce), an
/// origin indicator (mapped address and port), each when given, then `ipv6`.
pub fn teredo(auth: Option<(&[u8], [u8; 8])>, origin: Option<(std::net::Ipv4Addr, u16)>, ipv6: &[u8]) -> Vec<u8> {
    teredo::Repr { auth, origin }.emit(ipv6)
}

/// An AYIYA forward packet sent at `epoch_time` by `identity`, signed with
/// `signature`, carrying `ip`.
pub fn ayiya(identity: [u8; 16], signature: [u8; 20], epoch_time: u32, ip: &[u8]) -> Vec<u8> {
    ayiya::Repr { identity, signature, epoch_time }.emit(ip)
}

/// An L2TPv2 data message of `tunnel` and `session` carrying `ppp`.
pub fn l2tp_v2(tunnel: u16, session: u16, ppp: &[u8]) -> Vec<u8> {
    l2tp::V2Repr { tunnel, session }.emit(ppp)
}

/// An L2TPv3 data message over IP of `session` with `cookie` carrying an
/// Ethernet frame.
pub fn l2tp_v3(session: u32, cookie: &[u8], frame: &[u8]) -> Vec<u8> {
    l2tp::V3Repr { session, cookie }.emit(frame)
}

/// A PPP frame in HDLC-like framing around `ip` (IPv4 or IPv6, by its
/// version).
pub fn ppp_frame(ip: &[u8]) -> Vec<u8> {
    let protocol = if is_ipv6(ip) { ppp::PROTO_IPV6 } else { ppp::PROTO_IPV4 };
    ppp::Repr { protocol }.emit(ip)
}

// The numbers the builders use, defined once in the wire crate.
pub use ::wire::ayiya::PORT as AYIYA_PORT;
pub use ::wire::capwap::PORT as CAPWAP_DATA_PORT;
pub use ::wire::geneve::PORT as GENEVE_PORT;
pub use ::wire::gre::UDP_PORT as GRE_UDP_PORT;
pub use ::wire::gre::{PROTO_ERSPAN_II, PROTO_ERSPAN_III, PROTO_TEB};
pub use ::wire::gtp::PORT as GTPU_PORT;
pub use ::wire::ip::IPPROTO_L2TP;
pub use ::wire::ip::{IPPROTO_GRE, IPPROTO_IPIP, IPPROTO_IPV6};
pub use ::wire::l2tp::PORT as L2TP_PORT;
pub use ::wire::mpls::ETHERTYPE_UNICAST as ETHERTYPE_MPLS;
pub use ::wire::pppoe::{ETHERTYPE_SESSION as ETHERTYPE_PPPOE_SESSION, PPP_IPV4, PPP_IPV6};
pub use ::wire::teredo::PORT as TEREDO_PORT;
pub use ::wire::vxlan::PORT as VXLAN_PORT;

fn is_ipv6(ip: &[u8]) -> bool {
    ip.first().is_some_and(|b| b >> 4 == 6)
}

/// The ethertype of an IP packet, by its version.
fn ip_ethertype(ip: &[u8]) -> u16 {
    if is_ipv6(ip) { ETHERTYPE_IPV6 } else { ETHERTYPE_IPV4 }
}

/// An encapsulation and its per-tunnel identifiers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encap {
    /// GRE with an optional key and (when `sequence`) a sequence number
    /// counting the tunnel's packets; an Ethernet frame (transparent
    /// bridging) when `ethernet`, else an IP packet.
    Gre {
        /// The key word, when sent.
        key: Option<u32>,
        /// Whether to send a sequence number.
        sequence: bool,
        /// Whether the tunnel carries Ethernet frames.
        ethernet: bool,
    },
    /// ERSPAN type II in GRE (with sequence number): a switch mirrors both
    /// directions of the traffic to the collector.
    ErspanII {
        /// The mirror session id (10 bits).
        session: u16,
    },
    /// ERSPAN type III in GRE, with the platform subheader.
    ErspanIII {
        /// The mirror session id (10 bits).
        session: u16,
    },
    /// VXLAN between two VTEPs, carrying Ethernet.
    Vxlan {
        /// The overlay network's 24-bit VNI.
        vni: u32,
    },
    /// Geneve carrying Ethernet, with these options.
    Geneve {
        /// The overlay network's 24-bit VNI.
        vni: u32,
        /// The options after the base header, in order.
        options: Vec<GeneveOption>,
    },
    /// An MPLS label stack before an IP packet; labels are per direction.
    Mpls {
        /// The 20-bit labels of frames from the client, outermost first.
        to_server: Vec<u32>,
        /// The 20-bit labels of frames to the client, outermost first.
        to_client: Vec<u32>,
    },
    /// An IP packet directly inside IP: IP-in-IP, 6in4, 4in6 or 6in6 by
    /// the families of the tunnel ends and of the inner packet.
    IpInIp,
    /// CAPWAP data carrying an IEEE 802.3 frame.
    CapwapDot3,
    /// CAPWAP data carrying native 802.11 data frames (LLC/SNAP) of the
    /// client station, on the access point's `bssid`.
    Capwap80211 {
        /// The access point's radio MAC address.
        bssid: [u8; 6],
    },
    /// A PPPoE session, between the subscriber (the near end) and the
    /// access concentrator.
    Pppoe {
        /// The session id the access concentrator assigned.
        session: u16,
    },
    /// GTP-U with a PDU Session Container: each end chose the TEID it
    /// receives on, so uplink and downlink carry different TEIDs.
    GtpU {
        /// The TEID of packets from the client (base station to gateway).
        uplink_teid: u32,
        /// The TEID of packets to the client.
        downlink_teid: u32,
        /// The QoS flow id (6 bits) in the PDU Session Container.
        qfi: u8,
    },
    /// GRE in UDP (RFC 8086) with an optional key, carrying IP: both ends
    /// send to port 4754 from the tunnel's entropy port.
    GreUdp {
        /// The GRE key word, when sent.
        key: Option<u32>,
    },
    /// Teredo between a client behind a NAT (the near end is its mapped
    /// address, `udp_port` its mapped port) and a relay, which adds an
    /// origin indicator to what it sends the client.
    Teredo,
    /// AYIYA between a tunnel endpoint, whose identity is its IPv6
    /// address, and the broker's point of presence.
    Ayiya {
        /// The endpoint's identity (its IPv6 address's bytes).
        identity: [u8; 16],
    },
    /// L2TPv2 data messages carrying PPP between the access concentrator
    /// (near) and the network server; each end chose the (tunnel, session)
    /// ids it receives on.
    L2tp {
        /// The (tunnel, session) ids of messages from the client.
        to_server: (u16, u16),
        /// The (tunnel, session) ids of messages to the client.
        to_client: (u16, u16),
    },
    /// An L2TPv3 Ethernet pseudowire over IP with a 4-byte cookie; each
    /// end chose the session id it receives on.
    L2tpV3 {
        /// The session id of messages from the client.
        to_server: u32,
        /// The session id of messages to the client.
        to_client: u32,
        /// The cookie every data message carries (both directions).
        cookie: [u8; 4],
    },
}

impl Encap {
    /// Whether the inner frame is an Ethernet frame (else an IP packet).
    pub fn carries_ethernet(&self) -> bool {
        match self {
            Encap::Gre { ethernet, .. } => *ethernet,
            Encap::ErspanII { .. }
            | Encap::ErspanIII { .. }
            | Encap::Vxlan { .. }
            | Encap::Geneve { .. }
            | Encap::CapwapDot3
            | Encap::L2tpV3 { .. } => true,
            Encap::Mpls { .. }
            | Encap::IpInIp
            | Encap::Capwap80211 { .. }
            | Encap::Pppoe { .. }
            | Encap::GtpU { .. }
            | Encap::GreUdp { .. }
            | Encap::Teredo
            | Encap::Ayiya { .. }
            | Encap::L2tp { .. } => false,
        }
    }
}

/// A frame of the inner flow as the flow is to be charged for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InnerFrame {
    /// Whether the inner frame travels from the inner flow's client.
    pub from_client: bool,
    /// The innermost frame: what follows the last tunnel header (the
    /// Ethernet frame, the IP packet, or the 802.11 frame in CAPWAP).
    pub frame: Vec<u8>,
}

/// One tunnel between two ends, through which frames are wrapped one by
/// one; it numbers them (GRE and ERSPAN sequence numbers, IPv4 ident,
/// 802.11 sequence numbers, GTP sequence numbers).
#[derive(Debug, Clone)]
pub struct Tunnel {
    /// The encapsulation and its identifiers.
    pub encap: Encap,
    /// The end on the client's side: mirror source, VTEP, access point,
    /// subscriber, base station.
    pub near: IpAddr,
    /// The other end: collector, VTEP, controller, access concentrator,
    /// gateway. Both ends are of one address family.
    pub far: IpAddr,
    /// Outer IPv4 packets longer than this are sent in fragments.
    pub mtu: usize,
    /// The near end's UDP source port (VXLAN and Geneve take it from a hash
    /// of the inner flow, CAPWAP access points pick one).
    pub udp_port: u16,
    sent: u32,
}

impl Tunnel {
    /// A tunnel between `near` and `far`, MTU 1500.
    ///
    /// # Panics
    ///
    /// If `near` or `far` is not an IP address, or they are of different
    /// families.
    pub fn new(encap: Encap, near: &str, far: &str) -> Tunnel {
        let near: IpAddr = near.parse().expect("near tunnel end");
        let far: IpAddr = far.parse().expect("far tunnel end");
        assert_eq!(near.is_ipv4(), far.is_ipv4(), "tunnel ends of different families");
        // Deterministic "entropy" from the near end's address.
        let low = wire::mac_for(near)[5];
        Tunnel { encap, near, far, mtu: 1500, udp_port: 49152 + u16::from(low) * 16, sent: 0 }
    }

    /// The link layer the inner conversation is built on: Ethernet with
    /// `tags` for encapsulations of Ethernet frames, raw IP for the others.
    pub fn inner_link(&self, tags: Vec<(u16, u16)>) -> Link {
        if self.encap.carries_ethernet() { Link::Ethernet { tags } } else { Link::Raw }
    }

    /// Wraps every record of an inner conversation (frames on
    /// [`Tunnel::inner_link`]) whose client is `client`: the outer records,
    /// at the inner frames' times (a second fragment 10 us after the
    /// first), and the inner frames the flow is to be charged for.
    pub fn wrap_records(&mut self, records: &[Record], client: IpAddr) -> (Vec<Record>, Vec<InnerFrame>) {
        let mut outer = Vec::new();
        let mut inner = Vec::new();
        for r in records {
            let from_client = inner_source(&r.data, self.encap.carries_ethernet()) == Some(client);
            let (frames, charged) = self.wrap(&r.data, from_client);
            for (i, frame) in frames.into_iter().enumerate() {
                outer.push(Record { ts_ns: r.ts_ns + i as u64 * 10_000, data: frame, interface: r.interface });
            }
            inner.push(InnerFrame { from_client, frame: charged });
        }
        (outer, inner)
    }

    /// Wraps one inner frame: the outer frames (two or more when the outer
    /// IPv4 packet is fragmented) and the frame the flow is charged for.
    pub fn wrap(&mut self, inner: &[u8], from_client: bool) -> (Vec<Vec<u8>>, Vec<u8>) {
        let n = self.sent;
        self.sent = self.sent.wrapping_add(1);
        let (src, dst) = if from_client { (self.near, self.far) } else { (self.far, self.near) };
        match &self.encap {
            Encap::Gre { key, sequence, ethernet } => {
                let protocol = if *ethernet { PROTO_TEB } else { ip_ethertype(inner) };
                let fields = GreFields { checksum: false, key: *key, sequence: sequence.then_some(n + 1) };
                (self.ip(src, dst, IPPROTO_GRE, &gre(fields, protocol, inner), n), inner.to_vec())
            }
            Encap::ErspanII { session } => {
                // A mirror: everything goes from the switch to the collector.
                let fields = GreFields { sequence: Some(n + 1), ..GreFields::default() };
                let payload = gre(fields, PROTO_ERSPAN_II, &erspan_ii(*session, 0, 1, inner));
                (self.ip(self.near, self.far, IPPROTO_GRE, &payload, n), inner.to_vec())
            }
            Encap::ErspanIII { session } => {
                let fields = GreFields { sequence: Some(n + 1), ..GreFields::default() };
                let timestamp = 0x0100_0000 + n * 10; // 1 ms apart, in 100 us units
                let payload = gre(fields, PROTO_ERSPAN_III, &erspan_iii(*session, timestamp, Some((1, 0)), inner));
                (self.ip(self.near, self.far, IPPROTO_GRE, &payload, n), inner.to_vec())
            }
            Encap::Vxlan { vni } => {
                let datagram = self.udp(from_client, VXLAN_PORT, VXLAN_PORT, &vxlan(*vni, inner));
                (self.ip(src, dst, wire::IPPROTO_UDP, &datagram, n), inner.to_vec())
            }
            Encap::Geneve { vni, options } => {
                let data = geneve(*vni, PROTO_TEB, options, inner);
                let datagram = self.udp(from_client, GENEVE_PORT, GENEVE_PORT, &data);
                (self.ip(src, dst, wire::IPPROTO_UDP, &datagram, n), inner.to_vec())
            }
            Encap::Mpls { to_server, to_client } => {
                let labels = if from_client { to_server } else { to_client };
                (vec![link_frame(src, dst, ETHERTYPE_MPLS, &mpls(labels, inner))], inner.to_vec())
            }
            Encap::IpInIp => {
                let protocol = if is_ipv6(inner) { IPPROTO_IPV6 } else { IPPROTO_IPIP };
                (self.ip(src, dst, protocol, inner, n), inner.to_vec())
            }
            Encap::CapwapDot3 => {
                let datagram = self.capwap(from_client, &capwap_data(false, inner));
                (self.ip(src, dst, wire::IPPROTO_UDP, &datagram, n), inner.to_vec())
            }
            Encap::Capwap80211 { bssid } => {
                let (station, peer) = ip_ends(inner, from_client);
                let (station, peer) = (wire::mac_for(station), wire::mac_for(peer));
                let frame =
                    ieee80211_data(from_client, *bssid, station, peer, (n & 0xffff) as u16, ip_ethertype(inner), inner);
                let datagram = self.capwap(from_client, &capwap_data(true, &frame));
                (self.ip(src, dst, wire::IPPROTO_UDP, &datagram, n), frame)
            }
            Encap::Pppoe { session } => {
                let payload = pppoe_session(*session, inner);
                (vec![link_frame(src, dst, ETHERTYPE_PPPOE_SESSION, &payload)], inner.to_vec())
            }
            Encap::GtpU { uplink_teid, downlink_teid, qfi } => {
                let teid = if from_client { *uplink_teid } else { *downlink_teid };
                let data = gtpu(teid, (n & 0xffff) as u16, Some((from_client, *qfi)), inner);
                let (s, d) = (SocketAddr::new(src, GTPU_PORT), SocketAddr::new(dst, GTPU_PORT));
                (self.ip(src, dst, wire::IPPROTO_UDP, &wire::udp_datagram(s, d, &data), n), inner.to_vec())
            }
            Encap::GreUdp { key } => {
                let protocol = ip_ethertype(inner);
                let data = gre(GreFields { key: *key, ..GreFields::default() }, protocol, inner);
                let datagram = self.udp(from_client, GRE_UDP_PORT, GRE_UDP_PORT, &data);
                (self.ip(src, dst, wire::IPPROTO_UDP, &datagram, n), inner.to_vec())
            }
            Encap::Teredo => {
                let origin = match self.near {
                    IpAddr::V4(mapped) if !from_client => Some((mapped, self.udp_port)),
                    _ => None,
                };
                let datagram = self.to_service(from_client, TEREDO_PORT, &teredo(None, origin, inner));
                (self.ip(src, dst, wire::IPPROTO_UDP, &datagram, n), inner.to_vec())
            }
            Encap::Ayiya { identity } => {
                // Not a real SHA-1: the decoder does not check signatures.
                let mut signature = [0u8; 20];
                signature[..4].copy_from_slice(&n.to_be_bytes());
                let epoch = 1_772_438_400 + n; // 2026-03-02, when the fixtures start
                let data = ayiya(*identity, signature, epoch, inner);
                let datagram = self.to_service(from_client, AYIYA_PORT, &data);
                (self.ip(src, dst, wire::IPPROTO_UDP, &datagram, n), inner.to_vec())
            }
            Encap::L2tp { to_server, to_client } => {
                let (tunnel, session) = if from_client { *to_server } else { *to_client };
                let ppp = ppp_frame(inner);
                let (s, d) = (SocketAddr::new(src, L2TP_PORT), SocketAddr::new(dst, L2TP_PORT));
                let datagram = wire::udp_datagram(s, d, &l2tp_v2(tunnel, session, &ppp));
                (self.ip(src, dst, wire::IPPROTO_UDP, &datagram, n), ppp)
            }
            Encap::L2tpV3 { to_server, to_client, cookie } => {
                let session = if from_client { *to_server } else { *to_client };
                (self.ip(src, dst, IPPROTO_L2TP, &l2tp_v3(session, cookie, inner), n), inner.to_vec())
            }
        }
    }

    /// A UDP datagram between the near end's `udp_port` and the far end's
    /// `port`, in the direction of the inner frame; `near_dst` is the
    /// destination port of datagrams to the near end.
    fn udp(&self, from_client: bool, port: u16, near_dst: u16, payload: &[u8]) -> Vec<u8> {
        let (src, dst) = if from_client {
            (SocketAddr::new(self.near, self.udp_port), SocketAddr::new(self.far, port))
        } else {
            (SocketAddr::new(self.far, self.udp_port), SocketAddr::new(self.near, near_dst))
        };
        wire::udp_datagram(src, dst, payload)
    }

    /// A CAPWAP datagram: from the access point's port to the controller's
    /// data port, or back.
    fn capwap(&self, from_client: bool, payload: &[u8]) -> Vec<u8> {
        self.to_service(from_client, CAPWAP_DATA_PORT, payload)
    }

    /// A datagram from the near end's `udp_port` to the far end's service
    /// `port`, or back from it.
    fn to_service(&self, from_client: bool, port: u16, payload: &[u8]) -> Vec<u8> {
        let (near, far) = (SocketAddr::new(self.near, self.udp_port), SocketAddr::new(self.far, port));
        if from_client { wire::udp_datagram(near, far, payload) } else { wire::udp_datagram(far, near, payload) }
    }

    /// The outer IP packet, on Ethernet; an IPv4 packet over the MTU in
    /// fragments of the same ident.
    fn ip(&self, src: IpAddr, dst: IpAddr, protocol: u8, payload: &[u8], n: u32) -> Vec<Vec<u8>> {
        let ident = 0x4000u16.wrapping_add((n & 0xffff) as u16);
        let link = Link::ethernet();
        if src.is_ipv6() || 20 + payload.len() <= self.mtu {
            return vec![link.frame(&wire::ip_packet(src, dst, protocol, payload, &IpExtras::default(), ident))];
        }
        let chunk = (self.mtu - 20) & !7;
        (0..payload.len())
            .step_by(chunk)
            .map(|start| {
                let end = (start + chunk).min(payload.len());
                let extras =
                    IpExtras { v4_fragment: Some((::wire::len16(start), end < payload.len())), ..IpExtras::default() };
                link.frame(&wire::ip_packet(src, dst, protocol, &payload[start..end], &extras, ident))
            })
            .collect()
    }
}

/// An untagged Ethernet frame between the tunnel ends, for the
/// encapsulations announced by an ethertype (MPLS, PPPoE).
fn link_frame(src: IpAddr, dst: IpAddr, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    wire::ethernet_frame(wire::mac_for(dst), wire::mac_for(src), &[], ethertype, payload)
}

/// The source address of an inner frame: an IP packet, or an Ethernet
/// frame (with VLAN tags) holding one.
fn inner_source(frame: &[u8], ethernet: bool) -> Option<IpAddr> {
    let ip = if ethernet {
        let mut at = 12;
        while let Some(kind) = frame.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]])) {
            if kind != TPID_8021Q && kind != TPID_8021AD {
                break;
            }
            at += 4;
        }
        frame.get(at + 2..)?
    } else {
        frame
    };
    match ip.first()? >> 4 {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(ip.get(12..16)?).ok()?)),
        6 => Some(IpAddr::from(<[u8; 16]>::try_from(ip.get(8..24)?).ok()?)),
        _ => None,
    }
}

/// (station, peer) of an IP packet: the client's end and the other.
fn ip_ends(ip: &[u8], from_client: bool) -> (IpAddr, IpAddr) {
    let (src, dst) = if is_ipv6(ip) {
        (
            IpAddr::from(<[u8; 16]>::try_from(&ip[8..24]).unwrap()),
            IpAddr::from(<[u8; 16]>::try_from(&ip[24..40]).unwrap()),
        )
    } else {
        (
            IpAddr::from(<[u8; 4]>::try_from(&ip[12..16]).unwrap()),
            IpAddr::from(<[u8; 4]>::try_from(&ip[16..20]).unwrap()),
        )
    };
    if from_client { (src, dst) } else { (dst, src) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::{Capture, Path, TcpSession};
    use vendorwatch::decode::{self, Decoded, EncapKind};
    use vendorwatch::source::LinkType;

    /// Every encapsulation, wrapped around a handshake's frames, decodes
    /// to the inner flow, with the outer frame's head before the charged
    /// inner frame.
    #[test]
    fn every_encapsulation_decodes_to_the_inner_flow() {
        let option = GeneveOption { class: 0xffff, kind: 1, data: vec![0, 0, 0, 9] };
        let cases = [
            (Encap::Gre { key: Some(5), sequence: true, ethernet: false }, "192.0.2.1", EncapKind::Gre, Some(5)),
            (Encap::Gre { key: None, sequence: true, ethernet: true }, "192.0.2.1", EncapKind::Gre, None),
            (Encap::ErspanII { session: 7 }, "192.0.2.1", EncapKind::ErspanII, Some(7)),
            (Encap::ErspanIII { session: 300 }, "192.0.2.1", EncapKind::ErspanIII, Some(300)),
            (Encap::Vxlan { vni: 5001 }, "192.0.2.1", EncapKind::Vxlan, Some(5001)),
            (Encap::Geneve { vni: 6001, options: vec![option] }, "192.0.2.1", EncapKind::Geneve, Some(6001)),
            (Encap::Mpls { to_server: vec![16, 17], to_client: vec![18, 19] }, "192.0.2.1", EncapKind::Mpls, None),
            (Encap::IpInIp, "192.0.2.1", EncapKind::IpInIp, None),
            (Encap::IpInIp, "2001:db8::1", EncapKind::FourInSix, None),
            (Encap::CapwapDot3, "192.0.2.1", EncapKind::Capwap, None),
            (Encap::Capwap80211 { bssid: [0x02, 0, 0, 0, 0, 0xb5] }, "192.0.2.1", EncapKind::Capwap, None),
            (Encap::Pppoe { session: 42 }, "192.0.2.1", EncapKind::Pppoe, Some(42)),
            (
                Encap::GtpU { uplink_teid: 0x100, downlink_teid: 0x200, qfi: 9 },
                "192.0.2.1",
                EncapKind::GtpU,
                Some(0x100),
            ),
        ];
        for (encap, near, kind, id) in cases {
            let far = if near.contains(':') { "2001:db8::2" } else { "192.0.2.2" };
            let mut tunnel = Tunnel::new(encap.clone(), near, far);
            let path =
                Path::new("10.10.3.1:50000", "203.0.113.1:443").with_link(tunnel.inner_link(vec![(TPID_8021Q, 9)]));
            let mut cap = Capture::at(0);
            TcpSession::new(path.clone(), 1, 2).handshake(&mut cap);
            let (outer, inner) = tunnel.wrap_records(cap.records(), path.client.ip());
            assert_eq!(inner.iter().map(|f| f.from_client).collect::<Vec<_>>(), [true, false, true], "{encap:?}");
            for (i, (record, charged)) in outer.iter().zip(&inner).enumerate() {
                assert!(record.data.ends_with(&charged.frame), "{encap:?}");
                let Ok(Decoded::Packet(p)) = decode::decode(LinkType::Ethernet, &record.data) else {
                    panic!("{encap:?} did not decode")
                };
                assert_eq!((p.src_port == 50000, p.encap.kind), (i != 1, kind), "{encap:?}");
                let want_id = match (&encap, i) {
                    (Encap::GtpU { downlink_teid, .. }, 1) => Some(*downlink_teid),
                    _ => id,
                };
                assert_eq!(p.encap.id, want_id, "{encap:?}");
                assert_eq!(record.data.len() - p.outer_len, charged.frame.len(), "{encap:?}");
                let tagged = encap.carries_ethernet();
                assert_eq!(p.vlans.as_slice(), if tagged { &[9][..] } else { &[] }, "{encap:?}");
            }
        }
    }

    #[test]
    fn long_outer_ipv4_packets_are_fragmented() {
        let mut tunnel = Tunnel::new(Encap::Vxlan { vni: 1 }, "192.0.2.1", "192.0.2.2");
        let path = Path::new("10.10.3.1:50000", "203.0.113.1:443").with_link(tunnel.inner_link(vec![]));
        let inner = path.tcp(true, 1, 1, wire::ACK, &[7; 1460]);
        let (frames, charged) = tunnel.wrap(&inner, true);
        assert_eq!(charged, inner);
        assert_eq!(frames.len(), 2);
        // 8 + 8 + 1514 bytes after the outer IPv4 header: 1480, then 50.
        assert_eq!(frames.iter().map(|f| f.len() - 14).collect::<Vec<_>>(), [1500, 20 + 50]);
        let mut defrag = decode::fragment::Defragmenter::default();
        let mut whole = None;
        for f in &frames {
            let Ok(Decoded::Fragment(frag)) = decode::decode(LinkType::Ethernet, f) else { panic!("not a fragment") };
            whole = defrag.push(0, &frag, u32::try_from(f.len()).unwrap());
        }
        let whole = whole.expect("reassembled");
        let Ok(Decoded::Packet(p)) = whole.decode() else { panic!("not a packet") };
        assert_eq!((p.encap.kind, whole.packet.len() - p.outer_len), (EncapKind::Vxlan, inner.len()));
    }

    #[test]
    fn gre_checksum_verifies() {
        let g = gre(GreFields { checksum: true, key: Some(1), sequence: Some(2) }, ETHERTYPE_IPV4, b"odd");
        assert_eq!(g.len(), 4 + 12 + 3);
        assert_eq!(wire::checksum(&[&g]), 0);
    }
}
