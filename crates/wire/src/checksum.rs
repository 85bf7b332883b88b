//! The Internet checksum (RFC 1071) and the TCP/UDP pseudo-header, for the
//! builders: the decoder does not verify checksums (captures of offloaded
//! traffic carry whatever the NIC had not yet filled in).

use std::net::IpAddr;

/// The Internet checksum over the concatenation of `parts`.
pub fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum = 0u32;
    let mut odd: Option<u8> = None;
    for part in parts {
        for &b in *part {
            match odd.take() {
                Some(hi) => sum += u32::from(u16::from_be_bytes([hi, b])),
                None => odd = Some(b),
            }
        }
    }
    if let Some(hi) = odd {
        sum += u32::from(hi) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    #[allow(clippy::cast_possible_truncation, reason = "the loop folded the sum below 0x10000")]
    let folded = sum as u16;
    !folded
}

/// The TCP/UDP pseudo-header of a `len`-byte segment (empty for addresses
/// of different families).
///
/// # Panics
///
/// If `len` does not fit the length field (16 bits for IPv4, 32 for IPv6).
pub fn pseudo_header(src: IpAddr, dst: IpAddr, protocol: u8, len: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(40);
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
            p.extend_from_slice(&[0, protocol]);
            p.extend_from_slice(&crate::len16(len).to_be_bytes());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
            p.extend_from_slice(&u32::try_from(len).expect("an IPv6 jumbogram beyond 4 GiB").to_be_bytes());
            p.extend_from_slice(&[0, 0, 0, protocol]);
        }
        _ => {}
    }
    p
}

/// The CRC-32 of IEEE 802.3 (reflected, polynomial 0x04c11db7): the frame
/// check sequence of Ethernet and 802.11 frames, sent least significant
/// byte first.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    #[test]
    fn crc32_check_value() {
        assert_eq!(super::crc32(b"123456789"), 0xcbf4_3926);
    }
}
