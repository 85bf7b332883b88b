//! VXLAN headers (RFC 7348): 8 bytes in front of an Ethernet frame.

use super::be32;

/// The IANA port; only the destination port identifies the tunnel, since
/// senders pick the source port from a hash of the inner flow.
pub const PORT: u16 = 4789;

/// A view of a VXLAN header that looked like one.
pub struct Header<'a> {
    buffer: &'a [u8],
}

impl<'a> Header<'a> {
    /// `None` unless the 8 bytes are a VXLAN header: the I flag alone among
    /// the flags and every reserved byte zero. Other traffic on port 4789
    /// is then ordinary UDP, so a cut or foreign header is not an error.
    pub fn new_checked(buffer: &'a [u8]) -> Option<Self> {
        let h = buffer.get(..8)?;
        (h[0] == 0x08 && h[1..4] == [0, 0, 0] && h[7] == 0).then_some(Header { buffer })
    }

    /// The 24-bit VXLAN network identifier.
    pub fn vni(&self) -> u32 {
        be32(self.buffer, 4) >> 8
    }

    /// The inner Ethernet frame.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer[8..]
    }
}

/// A VXLAN header (RFC 7348: the I flag and a 24-bit VNI) before an
/// Ethernet frame.
#[cfg(feature = "emit")]
pub fn emit(vni: u32, frame: &[u8]) -> Vec<u8> {
    let mut v = vec![0x08, 0, 0, 0];
    v.extend_from_slice(&((vni & 0x00ff_ffff) << 8).to_be_bytes());
    v.extend_from_slice(frame);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vni_and_rejects_lookalikes() {
        let h = [0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0, 0xee];
        let v = Header::new_checked(&h).unwrap();
        assert_eq!((v.vni(), v.payload()), (0x12_3456, &[0xee][..]));
        assert!(Header::new_checked(&h[..7]).is_none());
        for (i, b) in [(0, 0x00), (0, 0x88), (2, 1), (7, 1)] {
            let mut bad = h;
            bad[i] = b;
            assert!(Header::new_checked(&bad).is_none(), "byte {i} = {b:#x}");
        }
    }
}
