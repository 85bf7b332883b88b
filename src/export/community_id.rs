//! Community ID v1 (corelight/community-id-spec): the flow hash Zeek and
//! Suricata write, so that vendorwatch's flow log joins theirs on one
//! string.
//!
//! `"1:" + base64(SHA-1(seed . addr_a . addr_b . proto . 0 . port_a . port_b))`,
//! every field in network byte order, the endpoints ordered so that the
//! smaller (address, port) comes first. ICMP and ICMPv6 stand in type and
//! "counter-type" (or code) for the ports, as Zeek does; protocols without
//! ports hash the addresses and protocol only.

use std::net::IpAddr;

use base64::Engine as _;
use sha1::{Digest, Sha1};

pub use wire::ip::{IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP};

/// SCTP's protocol number: the spec hashes its ports, which vendorwatch
/// does not decode, so its flows get no Community ID.
pub const IPPROTO_SCTP: u8 = 132;

/// What stands for the ports of one packet of the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TCP, UDP, SCTP: source and destination port.
    Ports(u16, u16),
    /// ICMP or ICMPv6 (by the protocol number): the packet's type and code.
    Icmp {
        /// The ICMP type.
        kind: u8,
        /// The ICMP code.
        code: u8,
    },
    /// Any other IP protocol: no ports.
    None,
}

/// The Community ID of the flow a packet `src` -> `dst` belongs to.
/// Returns None when the addresses are of different families.
pub fn community_id_v1(seed: u16, src: IpAddr, dst: IpAddr, protocol: u8, transport: Transport) -> Option<String> {
    let (src, dst) = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => (s.octets().to_vec(), d.octets().to_vec()),
        (IpAddr::V6(s), IpAddr::V6(d)) => (s.octets().to_vec(), d.octets().to_vec()),
        _ => return None,
    };
    let (ports, one_way) = match transport {
        Transport::Ports(s, d) => (Some((s, d)), false),
        Transport::Icmp { kind, code } => {
            let counterpart =
                if protocol == IPPROTO_ICMPV6 { icmp6_counterpart(kind) } else { icmp4_counterpart(kind) };
            match counterpart {
                Some(counter) => (Some((u16::from(kind), u16::from(counter))), false),
                None => (Some((u16::from(kind), u16::from(code))), true),
            }
        }
        Transport::None => (None, false),
    };
    let (sp, dp) = ports.unwrap_or((0, 0));
    // A one-way ICMP message keeps its direction: its "ports" are a type
    // and a code, which have no reverse.
    let in_order = one_way || (&src, sp) < (&dst, dp);
    let (a, b, pa, pb) = if in_order { (src, dst, sp, dp) } else { (dst, src, dp, sp) };

    let mut hash = Sha1::new();
    hash.update(seed.to_be_bytes());
    hash.update(&a);
    hash.update(&b);
    hash.update([protocol, 0]);
    if ports.is_some() {
        hash.update(pa.to_be_bytes());
        hash.update(pb.to_be_bytes());
    }
    let digest = hash.finalize();
    Some(format!("1:{}", base64::engine::general_purpose::STANDARD.encode(digest)))
}

/// The reply type of an ICMPv4 request (and the reverse), as Zeek pairs them.
fn icmp4_counterpart(kind: u8) -> Option<u8> {
    Some(match kind {
        8 => 0,   // echo request -> echo reply
        0 => 8,   // echo reply -> echo request
        13 => 14, // timestamp
        14 => 13,
        15 => 16, // information
        16 => 15,
        10 => 9, // router solicitation -> advertisement
        9 => 10,
        17 => 18, // address mask
        18 => 17,
        _ => return None,
    })
}

/// The same for ICMPv6.
fn icmp6_counterpart(kind: u8) -> Option<u8> {
    Some(match kind {
        128 => 129, // echo
        129 => 128,
        133 => 134, // router solicitation / advertisement
        134 => 133,
        135 => 136, // neighbour solicitation / advertisement
        136 => 135,
        130 => 131, // multicast listener query / report
        131 => 130,
        139 => 140, // node information query / reply
        140 => 139,
        144 => 145, // home agent address discovery
        145 => 144,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (protocol, source, destination, ports or type and code, Community ID)
    type Vector = (u8, &'static str, &'static str, Option<(u16, u16)>, &'static str);

    fn id(protocol: u8, src: &str, dst: &str, ports: Option<(u16, u16)>) -> String {
        let transport = match (protocol, ports) {
            (IPPROTO_ICMP | IPPROTO_ICMPV6, Some((kind, code))) => {
                Transport::Icmp { kind: u8::try_from(kind).unwrap(), code: u8::try_from(code).unwrap() }
            }
            (_, Some((s, d))) => Transport::Ports(s, d),
            (_, None) => Transport::None,
        };
        community_id_v1(0, src.parse().unwrap(), dst.parse().unwrap(), protocol, transport).unwrap()
    }

    /// Every record of the specification's baseline (`baseline/baseline_deflt.json`,
    /// seed 0): TCP and UDP over IPv4 and IPv6, SCTP, ICMP and ICMPv6 two-way
    /// and one-way, and RSVP (no ports), each in both directions.
    #[test]
    fn matches_the_specifications_baseline() {
        let baseline: &[Vector] = &[
            (
                58,
                "fe80::200:86ff:fe05:80da",
                "fe80::260:97ff:fe07:69ea",
                Some((135, 136)),
                "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=",
            ),
            (
                58,
                "fe80::260:97ff:fe07:69ea",
                "fe80::200:86ff:fe05:80da",
                Some((136, 135)),
                "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=",
            ),
            (
                58,
                "fe80::260:97ff:fe07:69ea",
                "fe80::200:86ff:fe05:80da",
                Some((135, 136)),
                "1:zavyT/cezQr1fmImYCwYnMXbgck=",
            ),
            (
                58,
                "fe80::200:86ff:fe05:80da",
                "fe80::260:97ff:fe07:69ea",
                Some((136, 135)),
                "1:zavyT/cezQr1fmImYCwYnMXbgck=",
            ),
            (
                58,
                "3ffe:501:1800:2345::2",
                "3ffe:507:0:1:200:86ff:fe05:80da",
                Some((3, 0)),
                "1:2ObVBgIn28oZvibYZhZMBgh7WdQ=",
            ),
            (
                58,
                "3ffe:501:410:0:2c0:dfff:fe47:33e",
                "3ffe:507:0:1:200:86ff:fe05:80da",
                Some((1, 4)),
                "1:hLZd0XGWojozrvxqE0dWB1iM6R0=",
            ),
            (
                58,
                "3ffe:507:0:1:200:86ff:fe05:80da",
                "3ffe:501:0:1001::2",
                Some((128, 129)),
                "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=",
            ),
            (
                58,
                "3ffe:501:0:1001::2",
                "3ffe:507:0:1:200:86ff:fe05:80da",
                Some((129, 128)),
                "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=",
            ),
            (58, "fe80::200:86ff:fe05:80da", "ff02::2", Some((133, 134)), "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0="),
            (58, "fe80::260:97ff:fe07:69ea", "ff02::1", Some((134, 133)), "1:pkvHqCL88/tg1k4cPigmZXUtL00="),
            (1, "192.168.0.89", "192.168.0.1", Some((8, 0)), "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="),
            (1, "192.168.0.1", "192.168.0.89", Some((0, 8)), "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="),
            (1, "10.0.0.1", "10.0.0.2", Some((11, 0)), "1:YHxtAirCG//0OzkcVAukqKQN9xM="),
            (
                6,
                "2001:470:e5bf:dead:4957:2174:e82c:4887",
                "2607:f8b0:400c:c03::1a",
                Some((63943, 25)),
                "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=",
            ),
            (
                6,
                "2607:f8b0:400c:c03::1a",
                "2001:470:e5bf:dead:4957:2174:e82c:4887",
                Some((25, 63943)),
                "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=",
            ),
            (132, "192.168.170.8", "192.168.170.56", Some((7, 7)), "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs="),
            (132, "192.168.170.56", "192.168.170.8", Some((7, 7)), "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs="),
            (6, "128.232.110.120", "66.35.250.204", Some((34855, 80)), "1:LQU9qZlK+B5F3KDmev6m5PMibrg="),
            (6, "66.35.250.204", "128.232.110.120", Some((80, 34855)), "1:LQU9qZlK+B5F3KDmev6m5PMibrg="),
            (17, "192.168.1.52", "8.8.8.8", Some((54585, 53)), "1:d/FP5EW3wiY1vCndhwleRRKHowQ="),
            (17, "8.8.8.8", "192.168.1.52", Some((53, 54585)), "1:d/FP5EW3wiY1vCndhwleRRKHowQ="),
            (46, "10.1.12.1", "10.1.12.2", None, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw="),
            (46, "10.1.12.2", "10.1.12.1", None, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw="),
        ];
        for (protocol, src, dst, ports, want) in baseline {
            assert_eq!(id(*protocol, src, dst, *ports), *want, "{protocol} {src} -> {dst} {ports:?}");
        }
    }

    #[test]
    fn seeds_change_the_id_and_mixed_families_have_none() {
        let (a, b) = ("1.2.3.4".parse().unwrap(), "5.6.7.8".parse().unwrap());
        let zero = community_id_v1(0, a, b, IPPROTO_TCP, Transport::Ports(1122, 3344)).unwrap();
        assert_eq!(zero, "1:wCb3OG7yAFWelaUydu0D+125CLM=", "Zeek's test vector");
        assert_ne!(community_id_v1(1, a, b, IPPROTO_TCP, Transport::Ports(1122, 3344)).unwrap(), zero);
        assert_eq!(community_id_v1(0, a, "::1".parse().unwrap(), IPPROTO_TCP, Transport::Ports(1, 2)), None);
    }
}
