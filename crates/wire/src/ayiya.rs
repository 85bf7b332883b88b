//! AYIYA, "Anything In Anything" (draft-massar-v6ops-ayiya): the SixXS
//! tunnel broker's IPv6 (or IPv4) in UDP, after an identity and a
//! signature whose sizes the first bytes give.

use crate::{DecodeError, be32};

/// The IANA port; the broker's point of presence answers from it.
pub const PORT: u16 = 5072;
/// The opcode of a packet carrying a payload; the others are keepalives,
/// echoes and motd requests.
pub const OPCODE_FORWARD: u8 = 1;

/// Identity types: none, integer, ASCII string.
const MAX_ID_TYPE: u8 = 2;
/// Hash methods: none, MD5, SHA-1.
const MAX_HASH_METHOD: u8 = 2;
/// Authentication methods: none, shared secret, public key.
const MAX_AUTH_METHOD: u8 = 2;

mod field {
    use crate::{Field, Rest};

    /// `IDLen` (the identity is 2^`IDLen` bytes) and `IDType`, 4 bits each.
    pub const ID_LEN_TYPE: usize = 0;
    /// `SigLen` (4-byte words) and `HshMeth`, 4 bits each.
    pub const SIG_LEN_HASH: usize = 1;
    /// `AutMeth` and `OpCode`, 4 bits each.
    pub const AUTH_OPCODE: usize = 2;
    pub const NEXT_HEADER: usize = 3;
    pub const EPOCH_TIME: Field = 4..8;
    pub const IDENTITY: Rest = 8..;
}

/// The length of the fixed part: lengths and methods, next header, epoch time.
pub const FIXED_LEN: usize = field::IDENTITY.start;

/// Whether `buffer` starts with an AYIYA header: a known identity type,
/// hash method and authentication method. Other traffic on the port is
/// ordinary UDP.
pub fn probe(buffer: &[u8]) -> bool {
    buffer.get(..FIXED_LEN).is_some_and(|h| {
        h[field::ID_LEN_TYPE] & 0x0f <= MAX_ID_TYPE
            && h[field::SIG_LEN_HASH] & 0x0f <= MAX_HASH_METHOD
            && h[field::AUTH_OPCODE] >> 4 <= MAX_AUTH_METHOD
    })
}

/// A view of an AYIYA header.
#[derive(Debug, Clone, Copy)]
pub struct Header<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Header<T> {
    /// A view of `buffer` as it is; the accessors panic if it is shorter
    /// than the fixed part, and `identity` and `payload` if the identity and
    /// signature it announces are cut.
    pub const fn new_unchecked(buffer: T) -> Self {
        Header { buffer }
    }

    /// A view of `buffer`, once it holds the identity and signature its
    /// first bytes announce.
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        let b = buffer.as_ref();
        if b.len() < FIXED_LEN || b.len() < header_len(b) {
            return Err(DecodeError::AyiyaTruncated);
        }
        Ok(Header { buffer })
    }

    /// The buffer the view was made of.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// What the packet is for; [`OPCODE_FORWARD`] carries a payload.
    pub fn opcode(&self) -> u8 {
        self.buffer.as_ref()[field::AUTH_OPCODE] & 0x0f
    }

    /// The IP protocol number of the payload: IPv6 (41) or IPv4 (4).
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NEXT_HEADER]
    }

    /// Seconds since the Unix epoch when the packet was sent.
    pub fn epoch_time(&self) -> u32 {
        be32(self.buffer.as_ref(), field::EPOCH_TIME)
    }

    /// The header's length: the fixed part, the identity and the signature.
    pub fn header_len(&self) -> usize {
        header_len(self.buffer.as_ref())
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Header<&'a T> {
    /// The identity (the tunnel endpoint's IPv6 address, for SixXS).
    pub fn identity(&self) -> &'a [u8] {
        let b = self.buffer.as_ref();
        &b[FIXED_LEN..FIXED_LEN + identity_len(b)]
    }

    /// The tunnelled IP packet.
    pub fn payload(&self) -> &'a [u8] {
        let b = self.buffer.as_ref();
        &b[header_len(b)..]
    }
}

/// The identity's length: 2^IDLen bytes.
fn identity_len(b: &[u8]) -> usize {
    1usize << (b[field::ID_LEN_TYPE] >> 4)
}

/// The header's length: the fixed part, the identity, and `SigLen` 4-byte
/// words of signature.
fn header_len(b: &[u8]) -> usize {
    FIXED_LEN + identity_len(b) + 4 * usize::from(b[field::SIG_LEN_HASH] >> 4)
}

/// What [`Repr::emit`] writes: an AYIYA forward packet sent at `epoch_time`
/// by `identity` (a 16-byte IPv6 address), with a 20-byte SHA-1
/// `signature` (shared-secret authentication).
#[cfg(feature = "emit")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// The sender's identity.
    pub identity: [u8; 16],
    /// The signature.
    pub signature: [u8; 20],
    /// Seconds since the Unix epoch.
    pub epoch_time: u32,
}

#[cfg(feature = "emit")]
impl Repr {
    /// The header, then `ip` (IPv6 or IPv4, by its version).
    pub fn emit(&self, ip: &[u8]) -> Vec<u8> {
        let next_header = if ip.first().is_some_and(|b| b >> 4 == 6) { 41 } else { 4 };
        // IDLen 4 (16 bytes), IDType integer; SigLen 5 words, SHA-1; shared
        // secret, forward.
        let mut d = vec![0x41, 0x52, 0x10 | OPCODE_FORWARD, next_header];
        d.extend_from_slice(&self.epoch_time.to_be_bytes());
        d.extend_from_slice(&self.identity);
        d.extend_from_slice(&self.signature);
        d.extend_from_slice(ip);
        d
    }
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
        assert!(probe(&d));
        let h = Header::new_checked(&d).unwrap();
        assert_eq!((h.opcode(), h.next_header(), h.epoch_time()), (OPCODE_FORWARD, 41, 0x6900_0001));
        assert_eq!(h.header_len(), 44);
        assert_eq!((h.identity(), h.payload()), (&[0xaa; 16][..], &[0x60][..]));
        assert_eq!(Header::new_checked(&d[..40]).err(), Some(DecodeError::AyiyaTruncated));
    }

    #[test]
    fn unknown_methods_are_not_ayiya() {
        for first3 in [[0x4f, 0x52, 0x11], [0x41, 0x5f, 0x11], [0x41, 0x52, 0xf1]] {
            let mut d = first3.to_vec();
            d.resize(64, 0);
            assert!(!probe(&d), "{first3:02x?}");
        }
        assert!(!probe(&[0x41, 0x52]));
    }

    #[cfg(feature = "emit")]
    #[test]
    fn emit_round_trips() {
        let d = Repr { identity: [1; 16], signature: [2; 20], epoch_time: 7 }.emit(&[0x45, 0]);
        assert!(probe(&d));
        let h = Header::new_checked(&d).unwrap();
        assert_eq!((h.next_header(), h.identity(), h.payload()), (4, &[1; 16][..], &[0x45, 0][..]));
    }
}
