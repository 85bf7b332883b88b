//! The pcap/pcapng LINKTYPE_ numbers of the link layers the views open
//! (tcpdump.org "Link-layer header types").

/// BSD loopback: a 4-byte address family in the capturing host's order.
pub const NULL: u32 = 0;
/// Ethernet II (and 802.3) frames, without an FCS.
pub const ETHERNET: u32 = 1;
/// The frame starts at the IP header.
pub const RAW: u32 = 101;
/// OpenBSD loopback: a 4-byte address family in network order.
pub const LOOP: u32 = 108;
/// Linux "cooked" capture v1.
pub const LINUX_SLL: u32 = 113;
/// Linux "cooked" capture v2.
pub const LINUX_SLL2: u32 = 276;
/// PPP (RFC 1661), with or without RFC 1662's 0xff 0x03 address and control.
pub const PPP: u32 = 9;
/// PPP in HDLC-like framing (RFC 1662), or Cisco HDLC on the same link.
pub const PPP_HDLC: u32 = 50;
/// Cisco HDLC: address, control, then an ethertype.
pub const C_HDLC: u32 = 104;
/// IEEE 802.11 frames with no radio header before them.
pub const IEEE802_11: u32 = 105;
/// IEEE 802.11 frames after a radiotap header.
pub const IEEE802_11_RADIOTAP: u32 = 127;
/// Linux netfilter NFLOG: a family byte, then TLVs, one of them the packet.
pub const NFLOG: u32 = 239;

/// In a classic pcap header's link-type field, the bit saying that bits
/// 28-31 give the length of the frame check sequence at the end of every
/// frame (libpcap's `LT_FCS_LENGTH_PRESENT`). The link type itself is the low
/// 16 bits.
pub const FCS_LENGTH_PRESENT: u32 = 0x0400_0000;

/// The link type of a classic pcap header's link-type field, without the
/// flags in its upper bits.
pub const fn of_pcap_field(field: u32) -> u32 {
    field & 0xffff
}

/// The FCS length in bytes that a classic pcap header's link-type field
/// announces, if it announces one: bits 28-31 count 16-bit words.
pub const fn fcs_len_of_pcap_field(field: u32) -> Option<u8> {
    if field & FCS_LENGTH_PRESENT == 0 { None } else { Some((field >> 28) as u8 * 2) }
}

/// The link-type field of a classic pcap header for `link` frames that end
/// in an FCS of `fcs_len` bytes (even, at most 30).
#[cfg(feature = "emit")]
pub const fn pcap_field_with_fcs(link: u32, fcs_len: u8) -> u32 {
    link | FCS_LENGTH_PRESENT | ((fcs_len as u32 / 2) << 28)
}
