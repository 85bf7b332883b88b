//! IP protocol numbers (IANA "Assigned Internet Protocol Numbers"), shared
//! by IPv4's protocol field and IPv6's next-header chain.

/// ICMP for IPv4.
pub const IPPROTO_ICMP: u8 = 1;
/// IPv4 inside IP (RFC 2003, and RFC 2473 in IPv6).
pub const IPPROTO_IPIP: u8 = 4;
/// TCP.
pub const IPPROTO_TCP: u8 = 6;
/// UDP.
pub const IPPROTO_UDP: u8 = 17;
/// IPv6 inside IP (RFC 4213, and RFC 2473 in IPv6).
pub const IPPROTO_IPV6: u8 = 41;
/// GRE (RFC 2784).
pub const IPPROTO_GRE: u8 = 47;
/// ICMPv6.
pub const IPPROTO_ICMPV6: u8 = 58;
/// L2TPv3 sessions directly over IP (RFC 3931).
pub const IPPROTO_L2TP: u8 = 115;
