//! AYIYA, "Anything In Anything" (draft-massar-v6ops-ayiya): the SixXS
//! tunnel broker's IPv6 (or IPv4) in UDP, after an identity and a
//! signature whose sizes the first bytes give.

use crate::{DecodeError, be32};

/// The IANA port; the broker's point of presence answers from it.
pub const PORT: u16 = 5072;
/// The opcode of a packet carrying a payload; the others are keepalives,
/// echoes and motd requests.
pub const OPCODE_FORWARD: u8 = 1;

/// Lengths and methods, next header, and the epoch time.
const FIXED_LEN: usize = 8;
/// Identity types: none, integer, ASCII string.
const MAX_ID_TYPE: u8 = 2;
/// Hash methods: none, MD5, SHA-1.
const MAX_HASH_METHOD: u8 = 2;
/// Authentication methods: none, shared secret, public key.
const MAX_AUTH_METHOD: u8 = 2;

/// A view of an AYIYA header whose identity and signature were length-checked.
pub struct Header<'a> {
    buffer: &'a [u8],
    header_len: usize,
}

impl<'a> Header<'a> {
    /// `Ok(None)` unless the first bytes are an AYIYA header (known identity
    /// type, hash and authentication methods): other traffic on the port
    /// is ordinary UDP. An identity or signature past the datagram is an
    /// error.
    pub fn new_checked(buffer: &'a [u8]) -> Result<Option<Self>, DecodeError> {
        let Some(h) = buffer.get(..FIXED_LEN) else { return Ok(None) };
        let (id_len, id_type) = (h[0] >> 4, h[0] & 0x0f);
        let (signature_words, hash_method) = (h[1] >> 4, h[1] & 0x0f);
        let auth_method = h[2] >> 4;
        if id_type > MAX_ID_TYPE || hash_method > MAX_HASH_METHOD || auth_method > MAX_AUTH_METHOD {
            return Ok(None);
        }
        // The identity is 2^IDLen bytes, the signature SigLen 4-byte words.
        let header_len = FIXED_LEN + (1usize << id_len) + 4 * usize::from(signature_words);
        if buffer.len() < header_len {
            return Err(DecodeError::AyiyaTruncated);
        }
        Ok(Some(Header { buffer, header_len }))
    }

    pub fn opcode(&self) -> u8 {
        self.buffer[2] & 0x0f
    }

    /// The IP protocol number of the payload: IPv6 (41) or IPv4 (4).
    pub fn next_header(&self) -> u8 {
        self.buffer[3]
    }

    /// Seconds since the Unix epoch when the packet was sent.
    pub fn epoch_time(&self) -> u32 {
        be32(self.buffer, 4)
    }

    /// The identity (the tunnel endpoint's IPv6 address, for SixXS).
    pub fn identity(&self) -> &'a [u8] {
        &self.buffer[FIXED_LEN..FIXED_LEN + (1usize << (self.buffer[0] >> 4))]
    }

    pub fn payload(&self) -> &'a [u8] {
        &self.buffer[self.header_len..]
    }
}

/// An AYIYA forward packet sent at `epoch_time` by `identity` (a 16-byte
/// IPv6 address), with a 20-byte SHA-1 `signature` (shared-secret
/// authentication), carrying `ip` (IPv6 or IPv4, by its version).
#[cfg(feature = "emit")]
pub fn emit(identity: [u8; 16], signature: [u8; 20], epoch_time: u32, ip: &[u8]) -> Vec<u8> {
    let next_header = if ip.first().is_some_and(|b| b >> 4 == 6) { 41 } else { 4 };
    // IDLen 4 (16 bytes), IDType integer; SigLen 5 words, SHA-1; shared
    // secret, forward.
    let mut d = vec![0x41, 0x52, 0x10 | OPCODE_FORWARD, next_header];
    d.extend_from_slice(&epoch_time.to_be_bytes());
    d.extend_from_slice(&identity);
    d.extend_from_slice(&signature);
    d.extend_from_slice(ip);
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_identity_and_signature() {
        // IDLen 4 (16 bytes), SigLen 5 (20 bytes), forward, IPv6.
        let mut d = vec![0x41, 0x52, 0x11, 41, 0x69, 0x00, 0x00, 0x01];
        d.extend_from_slice(&[0xaa; 16]);
        d.extend_from_slice(&[0xbb; 20]);
        d.push(0x60);
        let h = Header::new_checked(&d).unwrap().unwrap();
        assert_eq!((h.opcode(), h.next_header(), h.epoch_time()), (OPCODE_FORWARD, 41, 0x6900_0001));
        assert_eq!((h.identity(), h.payload()), (&[0xaa; 16][..], &[0x60][..]));
        assert_eq!(Header::new_checked(&d[..40]).err(), Some(DecodeError::AyiyaTruncated));
    }

    #[test]
    fn unknown_methods_are_not_ayiya() {
        for first3 in [[0x4f, 0x52, 0x11], [0x41, 0x5f, 0x11], [0x41, 0x52, 0xf1]] {
            let mut d = first3.to_vec();
            d.resize(64, 0);
            assert!(Header::new_checked(&d).unwrap().is_none(), "{first3:02x?}");
        }
        assert!(Header::new_checked(&[0x41, 0x52]).unwrap().is_none());
    }

    #[cfg(feature = "emit")]
    #[test]
    fn emit_round_trips() {
        let d = emit([1; 16], [2; 20], 7, &[0x45, 0]);
        let h = Header::new_checked(&d).unwrap().unwrap();
        assert_eq!((h.next_header(), h.identity(), h.payload()), (4, &[1; 16][..], &[0x45, 0][..]));
    }
}
