//! Flow: bidirectional conversations, who started them, and their counters.

mod key;
pub mod table;

pub use key::FlowKey;
pub use table::{EndReason, Ended, FlowTable, SlotId, TimeoutClass, Timeouts};

use std::net::IpAddr;

use crate::decode::{IPPROTO_TCP, IPPROTO_UDP, Packet, tcp};

/// Index into per-direction arrays: traffic from the client.
pub const FROM_CLIENT: usize = 0;
/// Index into per-direction arrays: traffic to the client.
pub const TO_CLIENT: usize = 1;

/// Decides which end of a new flow is the client (the initiator).
///
/// TCP: the SYN sender (the SYN-ACK's receiver). UDP: the first sender,
/// unless only it uses a well-known port (we saw the reply first). A TCP
/// flow seen mid-stream: the side with the more ephemeral port.
///
/// "Well-known" for UDP means the system ports and the few registered
/// ports that UDP services answer on (STUN/TURN, IPsec NAT traversal, SIP,
/// ...): a capture that opens on a STUN server's reply must not make the
/// phone behind it the server.
pub fn sender_is_client(p: &Packet<'_>) -> bool {
    let syn = p.tcp_flags & tcp::SYN != 0;
    let ack = p.tcp_flags & tcp::ACK != 0;
    match p.protocol {
        IPPROTO_TCP if syn => !ack,
        IPPROTO_TCP => port_rank(p.src_port) >= port_rank(p.dst_port),
        // The sender is the server only if it alone uses a service port.
        IPPROTO_UDP => !udp_service_port(p.src_port) || udp_service_port(p.dst_port),
        _ => true,
    }
}

/// System ports, and registered ports of common UDP services (IANA).
fn udp_service_port(port: u16) -> bool {
    matches!(
        port,
        0..=1023
            | 1194 // OpenVPN
            | 1701 // L2TP
            | 1812 | 1813 // RADIUS
            | 1900 // SSDP
            | 3478..=3481 // STUN/TURN (3479-3481: Microsoft Teams media)
            | 4500 // IPsec NAT traversal
            | 5060 | 5061 // SIP
            | 5246 | 5247 // CAPWAP
            | 5349 // STUN/TURN over DTLS
            | 5353 // mDNS
            | 19302..=19309 // Google STUN
    )
}

/// 0: system port, 1: other service port, 2: ephemeral. Ephemeral starts
/// at 32768, Linux's and Android's default range (32768-60999), which
/// covers the RFC 6335 dynamic range (49152-65535) that Windows and macOS
/// use. Also the replay's router ranks ports so on every frame: two
/// compares, no branch.
#[inline]
pub fn port_rank(port: u16) -> u8 {
    u8::from(port >= 1024) + u8::from(port >= 32768)
}

/// A private, shared (CGNAT), link-local or unique-local address: a LAN's own.
pub fn is_local(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => a.is_private() || a.is_link_local() || (a.octets()[0] == 100 && a.octets()[1] & 0xc0 == 64),
        IpAddr::V6(a) => (a.segments()[0] & 0xfe00) == 0xfc00 || (a.segments()[0] & 0xffc0) == 0xfe80,
    }
}

/// One side of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// Its IP address.
    pub addr: IpAddr,
    /// Its port; 0 for protocols without ports.
    pub port: u16,
}

/// TCP connection progress, enough to pick a timeout class: 12 bytes, as
/// every TCP packet updates it in the flow's hot cache line.
#[derive(Debug, Clone, Copy, Default)]
pub struct TcpProgress {
    client_isn: u32,
    server_isn: u32,
    /// [`TcpProgress`]'s `SAW_*` bits.
    seen: u8,
}

impl TcpProgress {
    const SAW_CLIENT_SYN: u8 = 1 << 0;
    const SAW_SERVER_SYN: u8 = 1 << 1;
    /// `SAW_FIN << dir`: a FIN in that direction.
    const SAW_FIN: u8 = 1 << 2;
    const SAW_RST: u8 = 1 << 4;
    const ESTABLISHED: u8 = 1 << 5;
    const BOTH_FINS: u8 = Self::SAW_FIN | Self::SAW_FIN << 1;

    /// Initial sequence number of the client, when its SYN was seen.
    pub fn client_isn(&self) -> Option<u32> {
        (self.seen & Self::SAW_CLIENT_SYN != 0).then_some(self.client_isn)
    }

    /// Initial sequence number of the server, when its SYN-ACK was seen.
    pub fn server_isn(&self) -> Option<u32> {
        (self.seen & Self::SAW_SERVER_SYN != 0).then_some(self.server_isn)
    }

    /// Whether a client SYN with sequence number `seq` starts a new
    /// connection on these ports: the old one was closed or reset, or this
    /// SYN is not a retransmission of the one that opened it.
    pub fn restarts_with(&self, seq: u32) -> bool {
        self.seen & (Self::SAW_RST | Self::BOTH_FINS) != 0 || self.client_isn().is_some_and(|isn| isn != seq)
    }

    /// Sequence number of the first stream byte sent in `dir`, when that
    /// direction's SYN was seen.
    pub fn stream_start(&self, dir: usize) -> Option<u32> {
        let isn = if dir == FROM_CLIENT { self.client_isn() } else { self.server_isn() };
        isn.map(|isn| isn.wrapping_add(1))
    }

    /// Updates from one segment; returns the class the flow belongs in now.
    pub fn update(&mut self, flags: u8, seq: u32, dir: usize) -> TimeoutClass {
        if flags & tcp::SYN != 0 {
            if dir == FROM_CLIENT && flags & tcp::ACK == 0 {
                self.client_isn = seq;
                self.seen |= Self::SAW_CLIENT_SYN;
            } else if dir == TO_CLIENT && flags & tcp::ACK != 0 {
                self.server_isn = seq;
                self.seen |= Self::SAW_SERVER_SYN;
            }
        } else if flags & tcp::ACK != 0 {
            self.seen |= Self::ESTABLISHED;
        }
        if flags & tcp::FIN != 0 {
            self.seen |= Self::SAW_FIN << (dir & 1);
        }
        if flags & tcp::RST != 0 {
            self.seen |= Self::SAW_RST;
        }
        if self.seen & Self::SAW_RST != 0 || self.seen & Self::BOTH_FINS == Self::BOTH_FINS {
            TimeoutClass::TcpClosed
        } else if self.seen & Self::ESTABLISHED != 0 {
            TimeoutClass::TcpEstablished
        } else {
            TimeoutClass::TcpOpening
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{Encap, Vlans};

    #[test]
    fn port_ranks_are_system_service_and_ephemeral() {
        for (port, rank) in [(0, 0), (1023, 0), (1024, 1), (32767, 1), (32768, 2), (u16::MAX, 2)] {
            assert_eq!(port_rank(port), rank, "port {port}");
        }
    }

    #[test]
    fn local_addresses_are_private_shared_link_local_and_unique_local() {
        for a in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.254",
            "169.254.1.1",
            "fd00::1",
            "fe80::1",
        ] {
            assert!(is_local(a.parse().unwrap()), "{a}");
        }
        for a in ["17.253.1.1", "100.128.0.1", "100.63.255.255", "8.8.8.8", "2001:db8::1", "fec0::1"] {
            assert!(!is_local(a.parse().unwrap()), "{a}");
        }
    }

    fn pkt(proto: u8, sport: u16, dport: u16, flags: u8) -> Packet<'static> {
        Packet {
            src: "10.0.0.1".parse().unwrap(),
            dst: "17.0.0.1".parse().unwrap(),
            protocol: proto,
            src_port: sport,
            dst_port: dport,
            tcp_flags: flags,
            tcp_seq: 0,
            payload: &[],
            vlans: Vlans::default(),
            macs: None,
            syn: None,
            encap: Encap::default(),
            outer_len: 0,
        }
    }

    #[test]
    fn picks_the_initiator() {
        assert!(sender_is_client(&pkt(6, 50000, 443, tcp::SYN)));
        assert!(!sender_is_client(&pkt(6, 443, 50000, tcp::SYN | tcp::ACK)));
        assert!(!sender_is_client(&pkt(6, 5223, 60000, tcp::ACK)), "mid-stream: ephemeral side is the client");
        assert!(sender_is_client(&pkt(6, 60000, 5223, tcp::ACK)));
        assert!(!sender_is_client(&pkt(6, 5228, 40312, tcp::ACK)), "an Android ephemeral port is the client's");
        assert!(sender_is_client(&pkt(17, 50000, 53, 0)));
        assert!(!sender_is_client(&pkt(17, 53, 50000, 0)), "a DNS answer seen first");
        assert!(sender_is_client(&pkt(17, 123, 123, 0)));
        assert!(!sender_is_client(&pkt(17, 3479, 50006, 0)), "a STUN server's reply seen first");
        assert!(sender_is_client(&pkt(17, 40000, 40001, 0)), "neither is a service port: the first sender");
    }

    #[test]
    fn a_new_syn_restarts_a_closed_or_different_connection() {
        let mut t = TcpProgress::default();
        t.update(tcp::SYN, 7, FROM_CLIENT);
        assert!(!t.restarts_with(7), "a retransmitted SYN");
        assert!(t.restarts_with(9000));
        t.update(tcp::RST, 8, TO_CLIENT);
        assert!(t.restarts_with(7));
    }

    #[test]
    fn tcp_progress_moves_between_classes() {
        let mut t = TcpProgress::default();
        assert_eq!(t.update(tcp::SYN, 7, FROM_CLIENT), TimeoutClass::TcpOpening);
        assert_eq!(t.client_isn(), Some(7));
        assert_eq!(t.update(tcp::ACK, 8, FROM_CLIENT), TimeoutClass::TcpEstablished);
        assert_eq!(t.update(tcp::FIN | tcp::ACK, 9, FROM_CLIENT), TimeoutClass::TcpEstablished);
        assert_eq!(t.update(tcp::FIN | tcp::ACK, 9, TO_CLIENT), TimeoutClass::TcpClosed);
    }
}
