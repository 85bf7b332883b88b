//! Tunnels: the encapsulations a mirror port, an overlay, a wireless
//! controller, a broadband or a mobile core wraps traffic in, built around
//! an inner Ethernet frame or IP packet.
//!
//! The header builders ([`gre`], [`erspan_ii`], [`erspan_iii`], [`vxlan`],
//! [`geneve`], [`mpls`], [`capwap_data`], [`ieee80211_data`],
//! [`pppoe_session`], [`gtpu`]) each return their header followed by the
//! payload handed in, like [`super::wire`]'s. A [`Tunnel`] puts a whole
//! conversation through one encapsulation: built with [`super::conv`] on
//! [`Tunnel::inner_link`], each frame is wrapped in the outer headers
//! between the tunnel's two ends ([`Tunnel::wrap_records`]), which also
//! returns the inner frames a flow is to be charged for.

use std::net::{IpAddr, SocketAddr};

use super::capture::Record;
use super::wire::{self, ETHERTYPE_IPV4, ETHERTYPE_IPV6, IpExtras, Link, TPID_8021AD, TPID_8021Q};

/// Transparent Ethernet bridging: GRE's (and Geneve's) protocol type for
/// an Ethernet frame.
pub const PROTO_TEB: u16 = 0x6558;
/// GRE protocol type of ERSPAN type II (and of type I, without sequence).
pub const PROTO_ERSPAN_II: u16 = 0x88be;
pub const PROTO_ERSPAN_III: u16 = 0x22eb;
pub const ETHERTYPE_MPLS: u16 = 0x8847;
pub const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
pub const PPP_IPV4: u16 = 0x0021;
pub const PPP_IPV6: u16 = 0x0057;
/// IPv4 in IP (RFC 2003; in IPv6, RFC 2473).
pub const IPPROTO_IPIP: u8 = 4;
/// IPv6 in IP (RFC 4213; in IPv6, RFC 2473).
pub const IPPROTO_IPV6: u8 = 41;
pub const IPPROTO_GRE: u8 = 47;
pub const VXLAN_PORT: u16 = 4789;
pub const GENEVE_PORT: u16 = 6081;
/// CAPWAP data channel (the controller's port).
pub const CAPWAP_DATA_PORT: u16 = 5247;
pub const GTPU_PORT: u16 = 2152;

/// The optional fields of a GRE header (RFC 2784, RFC 2890).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GreFields {
    /// Computes and sends the checksum word (C).
    pub checksum: bool,
    pub key: Option<u32>,
    pub sequence: Option<u32>,
}

/// A GRE header (version 0) carrying `protocol`, then `payload`.
pub fn gre(fields: GreFields, protocol: u16, payload: &[u8]) -> Vec<u8> {
    let mut flags = 0u16;
    if fields.checksum {
        flags |= 0x8000;
    }
    if fields.key.is_some() {
        flags |= 0x2000;
    }
    if fields.sequence.is_some() {
        flags |= 0x1000;
    }
    let mut g = Vec::with_capacity(16 + payload.len());
    g.extend_from_slice(&flags.to_be_bytes());
    g.extend_from_slice(&protocol.to_be_bytes());
    if fields.checksum {
        g.extend_from_slice(&[0, 0, 0, 0]); // checksum, reserved1
    }
    for word in [fields.key, fields.sequence].into_iter().flatten() {
        g.extend_from_slice(&word.to_be_bytes());
    }
    g.extend_from_slice(payload);
    if fields.checksum {
        let sum = wire::checksum(&[&g]);
        g[4..6].copy_from_slice(&sum.to_be_bytes());
    }
    g
}

/// An ERSPAN type II header (version 1) in front of the mirrored Ethernet
/// frame: `vlan` is the original VLAN, `index` the port it was taken from.
pub fn erspan_ii(session: u16, vlan: u16, index: u32, frame: &[u8]) -> Vec<u8> {
    let session = session & 0x03ff;
    // En = 3: the frame keeps its VLAN tags (a trunk port's mirror).
    let en = 3u8;
    let mut e = vec![0x10 | ((vlan >> 8) & 0x0f) as u8, vlan as u8, (en << 3) | (session >> 8) as u8, session as u8];
    e.extend_from_slice(&(index & 0x000f_ffff).to_be_bytes());
    e.extend_from_slice(frame);
    e
}

/// An ERSPAN type III header (version 2) in front of a mirrored Ethernet
/// frame (frame type 0), with a timestamp in 100 us units and, when
/// `platform` is given, the 8-byte platform-specific subheader (O flag)
/// of platform id 3: the port index and the timestamp's upper seconds.
pub fn erspan_iii(session: u16, timestamp: u32, platform: Option<(u32, u32)>, frame: &[u8]) -> Vec<u8> {
    let session = session & 0x03ff;
    let mut e = vec![0x20, 0x00, (session >> 8) as u8, session as u8];
    e.extend_from_slice(&timestamp.to_be_bytes());
    e.extend_from_slice(&[0, 0]); // security group tag
    // P = 0, frame type 0 (Ethernet), hardware id 1, D = 0, granularity
    // 00 (100 us), O when a subheader follows.
    let hw_id = 1u8;
    e.push(hw_id >> 4);
    e.push(((hw_id & 0x0f) << 4) | u8::from(platform.is_some()));
    if let Some((port, seconds)) = platform {
        e.extend_from_slice(&((3u32 << 26) | (port & 0x03ff_ffff)).to_be_bytes());
        e.extend_from_slice(&seconds.to_be_bytes());
    }
    e.extend_from_slice(frame);
    e
}

/// A VXLAN header (RFC 7348: the I flag and a 24-bit VNI) before an
/// Ethernet frame.
pub fn vxlan(vni: u32, frame: &[u8]) -> Vec<u8> {
    let mut v = vec![0x08, 0, 0, 0];
    v.extend_from_slice(&((vni & 0x00ff_ffff) << 8).to_be_bytes());
    v.extend_from_slice(frame);
    v
}

/// A Geneve option TLV (RFC 8926 3.5); `data` is a multiple of 4 bytes long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneveOption {
    pub class: u16,
    pub kind: u8,
    pub data: Vec<u8>,
}

impl GeneveOption {
    fn encode(&self, out: &mut Vec<u8>) {
        assert!(self.data.len() % 4 == 0 && self.data.len() <= 124, "Geneve option data of {} bytes", self.data.len());
        out.extend_from_slice(&self.class.to_be_bytes());
        out.push(self.kind);
        out.push((self.data.len() / 4) as u8);
        out.extend_from_slice(&self.data);
    }
}

/// A Geneve header (version 0) with its options, carrying `protocol`
/// ([`PROTO_TEB`] for Ethernet, or an IP ethertype).
pub fn geneve(vni: u32, protocol: u16, options: &[GeneveOption], payload: &[u8]) -> Vec<u8> {
    let mut opts = Vec::new();
    for o in options {
        o.encode(&mut opts);
    }
    assert!(opts.len() / 4 <= 0x3f, "Geneve options too long");
    let mut g = vec![(opts.len() / 4) as u8, 0x00];
    g.extend_from_slice(&protocol.to_be_bytes());
    g.extend_from_slice(&((vni & 0x00ff_ffff) << 8).to_be_bytes());
    g.extend_from_slice(&opts);
    g.extend_from_slice(payload);
    g
}

/// An MPLS label stack (RFC 3032), outermost label first, bottom of stack
/// set on the last, TTL 64, then `payload`.
pub fn mpls(labels: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(4 * labels.len() + payload.len());
    for (i, label) in labels.iter().enumerate() {
        let bottom = u32::from(i + 1 == labels.len());
        m.extend_from_slice(&(((label & 0x000f_ffff) << 12) | (bottom << 8) | 64).to_be_bytes());
    }
    m.extend_from_slice(payload);
    m
}

/// A CAPWAP data header (RFC 5415, 8 bytes: radio 1, wireless binding
/// IEEE 802.11) before an IEEE 802.3 frame, or with the T flag before a
/// native 802.11 frame.
pub fn capwap_data(native_80211: bool, frame: &[u8]) -> Vec<u8> {
    let (hlen, rid, wbid) = (2u32, 1u32, 1u32);
    let word = (hlen << 19) | (rid << 14) | (wbid << 9) | (u32::from(native_80211) << 8);
    let mut c = word.to_be_bytes().to_vec();
    c.extend_from_slice(&[0, 0, 0, 0]); // fragment id, offset
    c.extend_from_slice(frame);
    c
}

/// An IEEE 802.11 QoS data frame bridged by an access point, with an
/// LLC/SNAP header before `ethertype`'s payload: from the station to the
/// distribution system (`to_ds`) or back.
pub fn ieee80211_data(
    to_ds: bool,
    bssid: [u8; 6],
    station: [u8; 6],
    peer: [u8; 6],
    sequence: u16,
    ethertype: u16,
    payload: &[u8],
) -> Vec<u8> {
    // Frame control: QoS data (type 2, subtype 8), then ToDS or FromDS.
    let mut f = vec![0x88, if to_ds { 0x01 } else { 0x02 }];
    f.extend_from_slice(&[0x2c, 0x00]); // duration
    let (a1, a2, a3) = if to_ds { (bssid, station, peer) } else { (station, bssid, peer) };
    for a in [a1, a2, a3] {
        f.extend_from_slice(&a);
    }
    f.extend_from_slice(&((sequence & 0x0fff) << 4).to_le_bytes());
    f.extend_from_slice(&[0x00, 0x00]); // QoS control: best effort
    f.extend_from_slice(&[0xaa, 0xaa, 0x03, 0x00, 0x00, 0x00]);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// A PPPoE session frame's payload (RFC 2516): the PPPoE header and the PPP
/// protocol (IPv4 or IPv6, from the packet's version) before `ip`.
pub fn pppoe_session(session: u16, ip: &[u8]) -> Vec<u8> {
    let protocol = if is_ipv6(ip) { PPP_IPV6 } else { PPP_IPV4 };
    let mut s = vec![0x11, 0x00];
    s.extend_from_slice(&session.to_be_bytes());
    s.extend_from_slice(&((ip.len() + 2) as u16).to_be_bytes());
    s.extend_from_slice(&protocol.to_be_bytes());
    s.extend_from_slice(ip);
    s
}

/// A GTP-U G-PDU (3GPP TS 29.281) carrying `ip` on bearer `teid`; with
/// `pdu_session`, a sequence number and one PDU Session Container
/// extension header (TS 38.415: uplink or downlink, and the QoS flow id).
pub fn gtpu(teid: u32, sequence: u16, pdu_session: Option<(bool, u8)>, ip: &[u8]) -> Vec<u8> {
    let mut optional = Vec::new();
    if let Some((uplink, qfi)) = pdu_session {
        optional.extend_from_slice(&sequence.to_be_bytes());
        optional.push(0); // N-PDU number
        optional.push(0x85); // next extension: PDU Session Container
        optional.extend_from_slice(&[1, if uplink { 0x10 } else { 0x00 }, qfi & 0x3f, 0]);
    }
    // Version 1, protocol type GTP, E and S when the extension is there.
    let flags = if pdu_session.is_some() { 0x36 } else { 0x30 };
    let mut g = vec![flags, 0xff];
    g.extend_from_slice(&((optional.len() + ip.len()) as u16).to_be_bytes());
    g.extend_from_slice(&teid.to_be_bytes());
    g.extend_from_slice(&optional);
    g.extend_from_slice(ip);
    g
}

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
        key: Option<u32>,
        sequence: bool,
        ethernet: bool,
    },
    /// ERSPAN type II in GRE (with sequence number): a switch mirrors both
    /// directions of the traffic to the collector.
    ErspanII {
        session: u16,
    },
    /// ERSPAN type III in GRE, with the platform subheader.
    ErspanIII {
        session: u16,
    },
    Vxlan {
        vni: u32,
    },
    /// Geneve carrying Ethernet, with these options.
    Geneve {
        vni: u32,
        options: Vec<GeneveOption>,
    },
    /// An MPLS label stack before an IP packet; labels are per direction.
    Mpls {
        to_server: Vec<u32>,
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
        bssid: [u8; 6],
    },
    /// A PPPoE session, between the subscriber (the near end) and the
    /// access concentrator.
    Pppoe {
        session: u16,
    },
    /// GTP-U with a PDU Session Container: each end chose the TEID it
    /// receives on, so uplink and downlink carry different TEIDs.
    GtpU {
        uplink_teid: u32,
        downlink_teid: u32,
        qfi: u8,
    },
}

impl Encap {
    /// Whether the inner frame is an Ethernet frame (else an IP packet).
    pub fn carries_ethernet(&self) -> bool {
        match self {
            Encap::Gre { ethernet, .. } => *ethernet,
            Encap::ErspanII { .. } | Encap::ErspanIII { .. } | Encap::Vxlan { .. } | Encap::Geneve { .. } => true,
            Encap::CapwapDot3 => true,
            Encap::Mpls { .. } | Encap::IpInIp | Encap::Capwap80211 { .. } | Encap::Pppoe { .. } => false,
            Encap::GtpU { .. } => false,
        }
    }
}

/// A frame of the inner flow as the flow is to be charged for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InnerFrame {
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
    /// A tunnel between `near` and `far` (addresses that parse), MTU 1500.
    pub fn new(encap: Encap, near: &str, far: &str) -> Tunnel {
        let near: IpAddr = near.parse().expect("near tunnel end");
        let far: IpAddr = far.parse().expect("far tunnel end");
        assert_eq!(near.is_ipv4(), far.is_ipv4(), "tunnel ends of different families");
        // Deterministic "entropy" from the near end's address.
        let low = wire::mac_for(near)[5];
        Tunnel { encap, near, far, mtu: 1500, udp_port: 49152 + u16::from(low) * 16, sent: 0 }
    }

    pub fn with_mtu(mut self, mtu: usize) -> Tunnel {
        self.mtu = mtu;
        self
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
                let frame = wire::ethernet_frame(
                    wire::mac_for(dst),
                    wire::mac_for(src),
                    &[],
                    ETHERTYPE_MPLS,
                    &mpls(labels, inner),
                );
                (vec![frame], inner.to_vec())
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
                let frame = ieee80211_data(from_client, *bssid, station, peer, n as u16, ip_ethertype(inner), inner);
                let datagram = self.capwap(from_client, &capwap_data(true, &frame));
                (self.ip(src, dst, wire::IPPROTO_UDP, &datagram, n), frame)
            }
            Encap::Pppoe { session } => {
                let payload = pppoe_session(*session, inner);
                let frame = wire::ethernet_frame(
                    wire::mac_for(dst),
                    wire::mac_for(src),
                    &[],
                    ETHERTYPE_PPPOE_SESSION,
                    &payload,
                );
                (vec![frame], inner.to_vec())
            }
            Encap::GtpU { uplink_teid, downlink_teid, qfi } => {
                let teid = if from_client { *uplink_teid } else { *downlink_teid };
                let data = gtpu(teid, n as u16, Some((from_client, *qfi)), inner);
                let (s, d) = (SocketAddr::new(src, GTPU_PORT), SocketAddr::new(dst, GTPU_PORT));
                (self.ip(src, dst, wire::IPPROTO_UDP, &wire::udp_datagram(s, d, &data), n), inner.to_vec())
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
        let (ap, wlc) = (SocketAddr::new(self.near, self.udp_port), SocketAddr::new(self.far, CAPWAP_DATA_PORT));
        if from_client { wire::udp_datagram(ap, wlc, payload) } else { wire::udp_datagram(wlc, ap, payload) }
    }

    /// The outer IP packet, on Ethernet; an IPv4 packet over the MTU in
    /// fragments of the same ident.
    fn ip(&self, src: IpAddr, dst: IpAddr, protocol: u8, payload: &[u8], n: u32) -> Vec<Vec<u8>> {
        let ident = 0x4000u16.wrapping_add(n as u16);
        let link = Link::ethernet();
        if src.is_ipv6() || 20 + payload.len() <= self.mtu {
            return vec![link.frame(&wire::ip_packet(src, dst, protocol, payload, &IpExtras::default(), ident))];
        }
        let chunk = (self.mtu - 20) & !7;
        (0..payload.len())
            .step_by(chunk)
            .map(|start| {
                let end = (start + chunk).min(payload.len());
                let extras = IpExtras { v4_fragment: Some((start as u16, end < payload.len())), ..IpExtras::default() };
                link.frame(&wire::ip_packet(src, dst, protocol, &payload[start..end], &extras, ident))
            })
            .collect()
    }
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
            whole = defrag.push(0, &frag, f.len() as u32);
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
