//! The QUIC versions whose client Initials are read, and how each lays out
//! and protects them. Salts are from each version's specification: RFC 9001
//! §5.2 (v1), RFC 9369 §3.3.1 (v2), draft-ietf-quic-tls-22, -23 and -29
//! §5.2 (drafts 22, 23 to 28, 29 to 32); Google's Q050, T050 and T051 and
//! Meta's mvfst versions are not specified anywhere public but in their
//! implementations, and in the dissectors that read them (Wireshark's
//! packet-quic.c, nDPI's protocols/quic.c), which agree on the salts below:
//! mvfst's 0xfaceb001 follows draft-22, 0xfaceb002 and its experimental
//! 0xfaceb00e follow draft-27.

use super::keys::Labels;

/// QUIC version 1 (RFC 9000).
pub const QUIC_V1: u32 = 0x0000_0001;
/// QUIC version 2 (RFC 9369).
pub const QUIC_V2: u32 = 0x6b33_43cf;
/// draft-ietf-quic-transport-NN is 0xff000000 plus NN.
const DRAFT: u32 = 0xff00_0000;
/// draft-ietf-quic-transport-22, with its own salt.
pub const QUIC_DRAFT_22: u32 = DRAFT + 22;
/// Draft 23, whose salt drafts 24 to 28 keep.
pub const QUIC_DRAFT_23: u32 = DRAFT + 23;
/// Draft 27 (on draft 23's salt).
pub const QUIC_DRAFT_27: u32 = DRAFT + 27;
/// Draft 28, the last on draft 23's salt.
pub const QUIC_DRAFT_28: u32 = DRAFT + 28;
/// Draft 29, whose salt drafts 30 to 32 keep.
pub const QUIC_DRAFT_29: u32 = DRAFT + 29;
/// Draft 32, the last on draft 29's salt.
pub const QUIC_DRAFT_32: u32 = DRAFT + 32;
/// Meta's mvfst, built on draft-22.
pub const MVFST_22: u32 = 0xface_b001;
/// Meta's mvfst, built on draft-27.
pub const MVFST_27: u32 = 0xface_b002;
/// Meta's experimental mvfst version, on draft-27's schedule.
pub const MVFST_EXP: u32 = 0xface_b00e;
// Google QUIC versions are "Q" or "T" and three ASCII digits.
/// Q043, the last with the Google public header.
pub const GQUIC_Q043: u32 = u32::from_be_bytes(*b"Q043");
/// Q046: a long header with nibble connection ID lengths, plaintext.
pub const GQUIC_Q046: u32 = u32::from_be_bytes(*b"Q046");
/// Q050: the RFC 9000 long header and Initial protection around a CHLO.
pub const GQUIC_Q050: u32 = u32::from_be_bytes(*b"Q050");
/// T050: Q050's packets around a TLS 1.3 ClientHello.
pub const GQUIC_T050: u32 = u32::from_be_bytes(*b"T050");
/// T051: as T050, with its own salt.
pub const GQUIC_T051: u32 = u32::from_be_bytes(*b"T051");

const SALT_V1: [u8; 20] = hex20(*b"38762cf7f55934b34d179ae6a4c80cadccbb7f0a");
const SALT_V2: [u8; 20] = hex20(*b"0dede3def700a6db819381be6e269dcbf9bd2ed9");
const SALT_DRAFT_22: [u8; 20] = hex20(*b"7fbcdb0e7c66bbe9193a96cd21519ebd7a02644a");
const SALT_DRAFT_23: [u8; 20] = hex20(*b"c3eef712c72ebb5a11a7d2432bb46365bef9f502");
const SALT_DRAFT_29: [u8; 20] = hex20(*b"afbfec289993d24c9e9786f19c6111e04390a899");
const SALT_Q050: [u8; 20] = hex20(*b"504574efd066fe2f9d945cfcdbd3a7f0d3b56b45");
const SALT_T050: [u8; 20] = hex20(*b"7ff579e5acd072915580304c43a2367c60488310");
const SALT_T051: [u8; 20] = hex20(*b"7a4edef4e7ccee5fa4506c19124fc8ccda6e033d");

/// What the client's first flight carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handshake {
    /// A TLS 1.3 ClientHello handshake message.
    Tls,
    /// A QUIC Crypto CHLO message (tag/value map).
    Chlo,
}

/// How a decrypted or plaintext payload numbers its frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// RFC 9000 frames: CRYPTO is 0x06.
    Ietf,
    /// Google QUIC frames: STREAM 0x80-0xff (the handshake on stream 1),
    /// ACK 0x40-0x7f, CRYPTO 0x08 with varint offset and length (Q050, T05x).
    Google,
}

/// A version whose Initials use the RFC 9000 long header and Initial
/// protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protected {
    /// The HKDF-Extract salt of the Initial secret.
    pub salt: &'static [u8; 20],
    /// The HKDF-Expand-Label labels of the keys (v2 has its own).
    pub labels: Labels,
    /// How the decrypted payload numbers its frames.
    pub framing: Framing,
    /// What the client's first flight carries.
    pub handshake: Handshake,
}

/// How a version's client Initials look on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// RFC 9000 long header, protected with the version's Initial keys.
    Protected(Protected),
    /// Google QUIC's public header (flags, 8-byte connection ID, version,
    /// packet number), then a 12-byte message hash and plaintext frames:
    /// Q024 to Q043.
    GooglePublic {
        /// The version's number (43 for Q043), which decides the frames'
        /// byte order and header fields.
        version: u8,
    },
    /// Q046's long header (connection ID lengths as nibbles, no Length
    /// field), then a 12-byte message hash and plaintext frames.
    GoogleLong,
}

const fn protected(salt: &'static [u8; 20], framing: Framing, handshake: Handshake) -> Layout {
    Layout::Protected(Protected { salt, labels: Labels::V1, framing, handshake })
}

/// The layout of `version`'s client Initials; `None` for a version we do
/// not read.
#[must_use]
pub fn layout(version: u32) -> Option<Layout> {
    use Framing::{Google, Ietf};
    use Handshake::{Chlo, Tls};
    Some(match version {
        QUIC_V1 => protected(&SALT_V1, Ietf, Tls),
        QUIC_V2 => Layout::Protected(Protected { salt: &SALT_V2, labels: Labels::V2, framing: Ietf, handshake: Tls }),
        QUIC_DRAFT_29..=QUIC_DRAFT_32 => protected(&SALT_DRAFT_29, Ietf, Tls),
        QUIC_DRAFT_23..=QUIC_DRAFT_28 | MVFST_27 | MVFST_EXP => protected(&SALT_DRAFT_23, Ietf, Tls),
        QUIC_DRAFT_22 | MVFST_22 => protected(&SALT_DRAFT_22, Ietf, Tls),
        GQUIC_Q050 => protected(&SALT_Q050, Google, Chlo),
        GQUIC_T050 => protected(&SALT_T050, Google, Tls),
        GQUIC_T051 => protected(&SALT_T051, Google, Tls),
        GQUIC_Q046 => Layout::GoogleLong,
        _ => Layout::GooglePublic { version: google_public_version(version)? },
    })
}

/// Q024 to Q043 as their number: the versions with the public header.
fn google_public_version(version: u32) -> Option<u8> {
    let [letter, hundreds, tens, ones] = version.to_be_bytes();
    if letter != b'Q' || hundreds != b'0' || !tens.is_ascii_digit() || !ones.is_ascii_digit() {
        return None;
    }
    let number = (tens - b'0') * 10 + (ones - b'0');
    (24..=43).contains(&number).then_some(number)
}

/// The long-header type bits of an Initial for a version with the RFC 9000
/// long header: RFC 9369 §3.2 moved them in v2.
#[must_use]
pub fn initial_type_bits(version: u32) -> Option<u8> {
    match layout(version)? {
        Layout::Protected(p) if p.labels == Labels::V2 => Some(0b01),
        Layout::Protected(_) => Some(0b00),
        _ => None,
    }
}

/// The long-header type bits of a 0-RTT packet.
#[must_use]
pub fn zero_rtt_type_bits(version: u32) -> Option<u8> {
    initial_type_bits(version).map(|initial| if initial == 0b01 { 0b10 } else { 0b01 })
}

/// The long-header type bits of a Retry, which has no Length field.
#[must_use]
pub fn retry_type_bits(version: u32) -> Option<u8> {
    initial_type_bits(version).map(|initial| if initial == 0b01 { 0b00 } else { 0b11 })
}

/// A version reserved to exercise version negotiation (RFC 9000 §15):
/// a client may send its first Initial with one, and the server answers
/// with Version Negotiation.
#[must_use]
pub fn forces_negotiation(version: u32) -> bool {
    version & 0x0f0f_0f0f == 0x0a0a_0a0a
}

/// Decodes 40 hex digits at compile time.
const fn hex20(digits: [u8; 40]) -> [u8; 20] {
    const fn nibble(d: u8) -> u8 {
        match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            _ => panic!("not a lowercase hex digit"),
        }
    }
    let mut out = [0u8; 20];
    let mut i = 0;
    while i < 20 {
        out[i] = nibble(digits[2 * i]) << 4 | nibble(digits[2 * i + 1]);
        i += 1;
    }
    out
}
