//! Initial packet protection (RFC 9001 §5.2 and §5.4, RFC 9369 §3.3): the
//! keys anyone can derive from a client's first Destination Connection ID and
//! the version's salt, over *ring*'s HKDF, AES-128-GCM and AES header
//! protection. The salt and the HKDF labels are the only per-version inputs,
//! so drafts, Google's and Meta's versions share this one schedule.

use ring::aead::quic::{AES_128, HeaderProtectionKey};
use ring::aead::{AES_128_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hkdf::{HKDF_SHA256, KeyType, Prk, Salt};

/// AES-128 key length, for the packet and header protection keys.
const KEY_LEN: usize = 16;

/// Which HKDF labels a version derives its keys with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Labels {
    /// "quic key", "quic iv", "quic hp": QUIC v1 and every draft and
    /// vendor version before it.
    V1,
    /// "quicv2 key", "quicv2 iv", "quicv2 hp" (RFC 9369 §3.3.2).
    V2,
}

impl Labels {
    fn key_iv_hp(self) -> [&'static [u8]; 3] {
        match self {
            Labels::V1 => [b"quic key", b"quic iv", b"quic hp"],
            Labels::V2 => [b"quicv2 key", b"quicv2 iv", b"quicv2 hp"],
        }
    }
}

/// One direction's Initial keys.
pub struct InitialKeys {
    header: HeaderProtectionKey,
    packet: LessSafeKey,
    iv: [u8; NONCE_LEN],
}

impl InitialKeys {
    /// The client's Initial keys for `dcid` under `salt` (~3 µs, so callers
    /// cache them). `None` only if *ring* refuses a key, which it does not
    /// for these lengths.
    #[must_use]
    pub fn client(salt: &[u8; 20], labels: Labels, dcid: &[u8]) -> Option<Self> {
        let initial = Salt::new(HKDF_SHA256, salt).extract(dcid);
        let mut secret = [0u8; 32];
        expand_label(&initial, b"client in", &mut secret)?;
        let secret = Prk::new_less_safe(HKDF_SHA256, &secret);
        let [key_label, iv_label, hp_label] = labels.key_iv_hp();
        let (mut key, mut iv, mut hp) = ([0u8; KEY_LEN], [0u8; NONCE_LEN], [0u8; KEY_LEN]);
        expand_label(&secret, key_label, &mut key)?;
        expand_label(&secret, iv_label, &mut iv)?;
        expand_label(&secret, hp_label, &mut hp)?;
        Some(Self {
            header: HeaderProtectionKey::new(&AES_128, &hp).ok()?,
            packet: LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &key).ok()?),
            iv,
        })
    }

    /// The 5-byte header protection mask for a 16-byte `sample`.
    #[must_use]
    pub fn mask(&self, sample: &[u8]) -> Option<[u8; 5]> {
        self.header.new_mask(sample).ok()
    }

    /// Opens `payload` (ciphertext and tag) in place; returns the plaintext.
    pub fn open<'a>(&self, pn: u64, header: &[u8], payload: &'a mut [u8]) -> Option<&'a mut [u8]> {
        self.packet.open_in_place(self.nonce(pn), Aad::from(header), payload).ok()
    }

    /// Seals `payload` in place and returns the tag (for test fixtures).
    pub fn seal(&self, pn: u64, header: &[u8], payload: &mut [u8]) -> Option<[u8; 16]> {
        let tag = self.packet.seal_in_place_separate_tag(self.nonce(pn), Aad::from(header), payload).ok()?;
        tag.as_ref().try_into().ok()
    }

    /// The IV with the packet number XORed into its last 8 bytes (RFC 9001 §5.3).
    fn nonce(&self, pn: u64) -> Nonce {
        let mut nonce = self.iv;
        for (n, p) in nonce.iter_mut().rev().zip(pn.to_le_bytes()) {
            *n ^= p;
        }
        Nonce::assume_unique_for_key(nonce)
    }
}

/// An HKDF output length, for *ring*'s typed expand.
struct Len(usize);

impl KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// TLS 1.3's HKDF-Expand-Label with an empty context (RFC 8446 §7.1).
fn expand_label(prk: &Prk, label: &[u8], out: &mut [u8]) -> Option<()> {
    const PREFIX: &[u8] = b"tls13 ";
    let length = u16::try_from(out.len()).ok()?.to_be_bytes();
    let label_len = [u8::try_from(PREFIX.len().checked_add(label.len())?).ok()?];
    let info: [&[u8]; 5] = [&length, &label_len, PREFIX, label, &[0]];
    prk.expand(&info, Len(out.len())).ok()?.fill(out).ok()
}
