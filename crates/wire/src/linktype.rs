//! The pcap/pcapng LINKTYPE_ numbers of the link layers the views open
//! (tcpdump.org "Link-layer header types").

/// BSD loopback: a 4-byte address family in the capturing host's order.
pub const NULL: u32 = 0;
pub const ETHERNET: u32 = 1;
/// The frame starts at the IP header.
pub const RAW: u32 = 101;
/// OpenBSD loopback: a 4-byte address family in network order.
pub const LOOP: u32 = 108;
/// Linux "cooked" capture v1.
pub const LINUX_SLL: u32 = 113;
/// Linux "cooked" capture v2.
pub const LINUX_SLL2: u32 = 276;
