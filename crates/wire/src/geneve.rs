//! Geneve headers (RFC 8926): 8 bytes plus variable options.

use crate::{DecodeError, be16, be32};

/// The IANA destination port.
pub const PORT: u16 = 6081;
/// Protocol types this decoder opens: Ethernet, IPv4, IPv6.
const OPENED: [u16; 3] = [0x6558, 0x0800, 0x86dd];

/// A view of a Geneve header whose options were length-checked.
pub struct Header<'a> {
    buffer: &'a [u8],
    header_len: usize,
}

impl<'a> Header<'a> {
    /// `Ok(None)` unless the fixed header is Geneve version 0 carrying
    /// Ethernet or IP: anything else on port 6081 stays ordinary UDP, which
    /// keeps random payloads from being miscounted as broken tunnels. Once
    /// it is Geneve, options running past the datagram are an error.
    pub fn new_checked(buffer: &'a [u8]) -> Result<Option<Self>, DecodeError> {
        let Some(h) = buffer.get(..8) else { return Ok(None) };
        if h[0] >> 6 != 0 || !OPENED.contains(&be16(h, 2)) {
            return Ok(None);
        }
        let header_len = 8 + usize::from(h[0] & 0x3f) * 4;
        if buffer.len() < header_len {
            return Err(DecodeError::GeneveTruncated);
        }
        Ok(Some(Header { buffer, header_len }))
    }

    /// The payload's ethertype (0x6558 for Ethernet).
    pub fn protocol(&self) -> u16 {
        be16(self.buffer, 2)
    }

    /// The 24-bit virtual network identifier.
    pub fn vni(&self) -> u32 {
        be32(self.buffer, 4) >> 8
    }

    pub fn payload(&self) -> &'a [u8] {
        &self.buffer[self.header_len..]
    }
}

/// A Geneve option TLV (RFC 8926 3.5); `data` is a multiple of 4 bytes long.
#[cfg(feature = "emit")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneveOption {
    pub class: u16,
    pub kind: u8,
    pub data: Vec<u8>,
}

#[cfg(feature = "emit")]
impl GeneveOption {
    fn encode(&self, out: &mut Vec<u8>) {
        assert!(self.data.len() % 4 == 0 && self.data.len() <= 124, "Geneve option data of {} bytes", self.data.len());
        out.extend_from_slice(&self.class.to_be_bytes());
        out.push(self.kind);
        out.push(crate::len8(self.data.len() / 4));
        out.extend_from_slice(&self.data);
    }
}

/// A Geneve header (version 0) with its options, carrying `protocol`
/// ([`crate::gre::PROTO_TEB`] for Ethernet, or an IP ethertype).
#[cfg(feature = "emit")]
pub fn emit(vni: u32, protocol: u16, options: &[GeneveOption], payload: &[u8]) -> Vec<u8> {
    let mut opts = Vec::new();
    for o in options {
        o.encode(&mut opts);
    }
    assert!(opts.len() / 4 <= 0x3f, "Geneve options too long");
    let mut g = vec![crate::len8(opts.len() / 4), 0x00];
    g.extend_from_slice(&protocol.to_be_bytes());
    g.extend_from_slice(&((vni & 0x00ff_ffff) << 8).to_be_bytes());
    g.extend_from_slice(&opts);
    g.extend_from_slice(payload);
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_options() {
        // Two option words, Ethernet, VNI 0x000102.
        let h = [0x02, 0x00, 0x65, 0x58, 0x00, 0x01, 0x02, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 0xee];
        let g = Header::new_checked(&h).unwrap().unwrap();
        assert_eq!((g.protocol(), g.vni(), g.payload()), (0x6558, 0x102, &[0xee][..]));
        assert_eq!(Header::new_checked(&h[..15]).err(), Some(DecodeError::GeneveTruncated));
    }

    #[test]
    fn other_versions_and_protocols_are_not_geneve() {
        let v1 = [0x42, 0x00, 0x65, 0x58, 0, 0, 1, 0];
        assert!(Header::new_checked(&v1).unwrap().is_none());
        let nsh = [0x00, 0x00, 0x89, 0x4f, 0, 0, 1, 0];
        assert!(Header::new_checked(&nsh).unwrap().is_none());
        assert!(Header::new_checked(&nsh[..7]).unwrap().is_none());
    }
}
