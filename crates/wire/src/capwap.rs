//! CAPWAP data channel headers (RFC 5415), as wireless controllers use to
//! tunnel their access points' client traffic.

use crate::{DecodeError, be32};

/// The data channel port: the access point sends to it and the controller
/// answers from it, so either port of the datagram may be this one.
pub const PORT: u16 = 5247;
/// Wireless binding id of IEEE 802.11.
const WBID_IEEE80211: u32 = 1;

/// The frame a CAPWAP data packet carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inner<'a> {
    /// T = 0: an IEEE 802.3 (Ethernet) frame.
    Ethernet(&'a [u8]),
    /// T = 1 with the 802.11 binding: a native 802.11 frame.
    Ieee80211(&'a [u8]),
}

/// A view of a CAPWAP header whose length (HLEN) was checked.
pub struct Header<'a> {
    buffer: &'a [u8],
    header_len: usize,
    inner_is_80211: bool,
}

impl<'a> Header<'a> {
    /// `Ok(None)` unless this is a plain (not DTLS) version 0 CAPWAP data
    /// header of a whole frame the decoder can open: fragments (F),
    /// keep-alives (K) and other wireless bindings stay ordinary UDP, as
    /// does everything else that happens to use the port. Once the header
    /// validates, an HLEN past the datagram is an error.
    pub fn new_checked(buffer: &'a [u8]) -> Result<Option<Self>, DecodeError> {
        let Some(h) = buffer.get(..8) else { return Ok(None) };
        // Preamble (version 4 bits, type 4 bits), HLEN 5, RID 5, WBID 5,
        // then the T F L W M K flags and 3 reserved bits.
        let word = be32(h, 0);
        let header_len = ((word >> 19) & 0x1f) as usize * 4;
        let wbid = (word >> 9) & 0x1f;
        let native = word & 0x100 != 0;
        let fragment = word & 0x80 != 0;
        let keep_alive = word & 0x08 != 0;
        if h[0] != 0 || header_len < 8 || fragment || keep_alive || (native && wbid != WBID_IEEE80211) {
            return Ok(None);
        }
        if buffer.len() < header_len {
            return Err(DecodeError::CapwapTruncated);
        }
        Ok(Some(Header { buffer, header_len, inner_is_80211: native }))
    }

    pub fn inner(&self) -> Inner<'a> {
        let frame = &self.buffer[self.header_len..];
        if self.inner_is_80211 { Inner::Ieee80211(frame) } else { Inner::Ethernet(frame) }
    }
}

/// A CAPWAP data header (RFC 5415, 8 bytes: radio 1, wireless binding
/// IEEE 802.11) before an IEEE 802.3 frame, or with the T flag before a
/// native 802.11 frame.
#[cfg(feature = "emit")]
pub fn emit(native_80211: bool, frame: &[u8]) -> Vec<u8> {
    let (hlen, rid, wbid) = (2u32, 1u32, 1u32);
    let word = (hlen << 19) | (rid << 14) | (wbid << 9) | (u32::from(native_80211) << 8);
    let mut c = word.to_be_bytes().to_vec();
    c.extend_from_slice(&[0, 0, 0, 0]); // fragment id, offset
    c.extend_from_slice(frame);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Cisco access point's header: HLEN 4, RID 1, WBID 1, T and W set,
    /// and 8 bytes of wireless-specific information.
    const AP: [u8; 17] = [0x00, 0x20, 0x43, 0x20, 0, 0, 0, 0, 0x01, 0x04, 0xed, 0x4d, 0, 0, 0, 0, 0x08];

    #[test]
    fn skips_hlen_words_to_the_80211_frame() {
        let h = Header::new_checked(&AP).unwrap().unwrap();
        assert_eq!(h.inner(), Inner::Ieee80211(&[0x08][..]));
        assert_eq!(Header::new_checked(&AP[..15]).err(), Some(DecodeError::CapwapTruncated));
    }

    #[test]
    fn ethernet_when_t_is_clear() {
        let h = [0x00, 0x10, 0x02, 0x00, 0, 0, 0, 0, 0xee];
        assert_eq!(Header::new_checked(&h).unwrap().unwrap().inner(), Inner::Ethernet(&[0xee][..]));
    }

    #[test]
    fn dtls_fragments_keepalives_and_short_hlen_are_not_opened() {
        let mut dtls = AP;
        dtls[0] = 0x01;
        let mut fragment = AP;
        fragment[3] |= 0x80;
        let mut keep_alive = AP;
        keep_alive[3] |= 0x08;
        let mut other_binding = AP;
        other_binding[2] = 0x45; // WBID 2
        let short_hlen = [0x00, 0x08, 0x02, 0x00, 0, 0, 0, 0];
        for h in [&dtls[..], &fragment, &keep_alive, &other_binding, &short_hlen, &AP[..7]] {
            assert!(Header::new_checked(h).unwrap().is_none(), "{h:02x?}");
        }
    }
}
