//! CAPWAP data channel headers (RFC 5415), as wireless controllers use to
//! tunnel their access points' client traffic.

use crate::{DecodeError, be32};

/// The data channel port: the access point sends to it and the controller
/// answers from it, so either port of the datagram may be this one.
pub const PORT: u16 = 5247;
/// Wireless binding id of IEEE 802.11.
const WBID_IEEE80211: u32 = 1;

/// In the first word: the T flag, a native frame of the wireless binding.
const FLAG_T: u32 = 0x100;
/// The F flag: a fragment.
const FLAG_F: u32 = 0x80;
/// The K flag: a data channel keep-alive.
const FLAG_K: u32 = 0x08;

mod field {
    use crate::Field;

    /// The preamble (version and type, 4 bits each).
    pub const PREAMBLE: usize = 0;
    /// HLEN (its top 5 bits) and the top of RID.
    pub const HLEN: usize = 1;
    /// Preamble, HLEN (5 bits, in 4-byte words), RID (5), WBID (5), the T F
    /// L W M K flags and 3 reserved bits.
    pub const FIRST_WORD: Field = 0..4;
    /// Fragment id and offset.
    pub const FRAGMENT: Field = 4..8;
}

/// The length of a CAPWAP header without optional fields.
pub const MIN_HEADER_LEN: usize = field::FRAGMENT.end;

/// Whether `buffer` starts with a plain (not DTLS) version 0 CAPWAP data
/// header of a whole frame the decoder can open: fragments (F),
/// keep-alives (K) and other wireless bindings stay ordinary UDP, as does
/// everything else that happens to use the port.
pub fn probe(buffer: &[u8]) -> bool {
    let Some(h) = buffer.get(..MIN_HEADER_LEN) else { return false };
    let word = be32(h, field::FIRST_WORD);
    let wbid = (word >> 9) & 0x1f;
    h[field::PREAMBLE] == 0
        && header_len(h) >= MIN_HEADER_LEN
        && word & (FLAG_F | FLAG_K) == 0
        && (word & FLAG_T == 0 || wbid == WBID_IEEE80211)
}

/// A view of a CAPWAP data header.
#[derive(Debug, Clone, Copy)]
pub struct Header<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Header<T> {
    /// A view of `buffer` as it is; the accessors panic if it is shorter
    /// than a header, and `payload` if it is shorter than HLEN says.
    pub const fn new_unchecked(buffer: T) -> Self {
        Header { buffer }
    }

    /// A view of `buffer`, once it holds the header HLEN says.
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        let b = buffer.as_ref();
        if b.len() < MIN_HEADER_LEN || b.len() < header_len(b) {
            return Err(DecodeError::CapwapTruncated);
        }
        Ok(Header { buffer })
    }

    /// The buffer the view was made of.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The header's length (HLEN words).
    pub fn header_len(&self) -> usize {
        header_len(self.buffer.as_ref())
    }

    /// The radio the frame came from or goes to.
    pub fn radio_id(&self) -> u8 {
        let rid = (be32(self.buffer.as_ref(), field::FIRST_WORD) >> 14) & 0x1f;
        u8::try_from(rid).unwrap_or_default()
    }

    /// The T flag: the payload is a native frame of the wireless binding
    /// (802.11), not an IEEE 802.3 (Ethernet) frame.
    pub fn is_native(&self) -> bool {
        be32(self.buffer.as_ref(), field::FIRST_WORD) & FLAG_T != 0
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Header<&'a T> {
    /// The tunnelled frame: 802.11 when [`is_native`](Header::is_native),
    /// else Ethernet.
    pub fn payload(&self) -> &'a [u8] {
        let b = self.buffer.as_ref();
        &b[header_len(b)..]
    }
}

/// The header length HLEN of `b` says.
fn header_len(b: &[u8]) -> usize {
    usize::from(b[field::HLEN] >> 3) * 4
}

/// What [`Repr::emit`] writes: an 8-byte CAPWAP data header (radio 1,
/// wireless binding IEEE 802.11) before an IEEE 802.3 frame, or with the T
/// flag before a native 802.11 frame.
#[cfg(feature = "emit")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Whether the frame is a native 802.11 frame (the T flag).
    pub native_80211: bool,
}

#[cfg(feature = "emit")]
impl Repr {
    /// The header, then `frame`.
    pub fn emit(&self, frame: &[u8]) -> Vec<u8> {
        let (hlen, rid, wbid) = (2u32, 1u32, WBID_IEEE80211);
        let word = (hlen << 19) | (rid << 14) | (wbid << 9) | if self.native_80211 { FLAG_T } else { 0 };
        let mut c = word.to_be_bytes().to_vec();
        c.extend_from_slice(&[0, 0, 0, 0]); // fragment id, offset
        c.extend_from_slice(frame);
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Cisco access point's header: HLEN 4, RID 1, WBID 1, T and W set,
    /// and 8 bytes of wireless-specific information.
    const AP: [u8; 17] = [0x00, 0x20, 0x43, 0x20, 0, 0, 0, 0, 0x01, 0x04, 0xed, 0x4d, 0, 0, 0, 0, 0x08];

    #[test]
    fn skips_hlen_words_to_the_80211_frame() {
        assert!(probe(&AP));
        let h = Header::new_checked(&AP).unwrap();
        assert_eq!((h.header_len(), h.radio_id(), h.is_native(), h.payload()), (16, 1, true, &[0x08][..]));
        assert_eq!(Header::new_checked(&AP[..15]).err(), Some(DecodeError::CapwapTruncated));
        assert_eq!(Header::new_checked(&AP[..7]).err(), Some(DecodeError::CapwapTruncated));
    }

    #[test]
    fn ethernet_when_t_is_clear() {
        let h = [0x00, 0x10, 0x02, 0x00, 0, 0, 0, 0, 0xee];
        assert!(probe(&h));
        let h = Header::new_checked(&h).unwrap();
        assert_eq!((h.is_native(), h.payload()), (false, &[0xee][..]));
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
            assert!(!probe(h), "{h:02x?}");
        }
    }

    #[cfg(feature = "emit")]
    #[test]
    fn reads_what_repr_writes() {
        for native_80211 in [false, true] {
            let c = Repr { native_80211 }.emit(&[0xee]);
            assert!(probe(&c));
            let h = Header::new_checked(&c[..]).unwrap();
            assert_eq!((h.radio_id(), h.is_native(), h.payload()), (1, native_80211, &[0xee][..]));
        }
    }
}
