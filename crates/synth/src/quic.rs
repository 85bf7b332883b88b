//! Test-only QUIC: protects client Initials and writes CRYPTO frames, the
//! inverse of what `proto::quic` opens, with the same key schedule.

use proto::quic::version::zero_rtt_type_bits;
use proto::quic::{MAX_CID_LEN, PN_MAX_LEN, SAMPLE_LEN, TAG_LEN, client_keys, initial_type_bits};

/// Largest value a QUIC variable-length integer holds.
const VARINT_MAX: u64 = (1 << 62) - 1;

/// Builds a protected client Initial (for test fixtures and the fixture
/// generator): long header with the given version, DCID, SCID, an empty
/// token, `packet_number` encoded in 4 bytes and `frames` as the plaintext
/// payload (the caller includes CRYPTO/PADDING/PING frames); applies AEAD
/// and header protection with the client Initial keys derived from `dcid`.
///
/// `None` for an unsupported version, a connection ID over 20 bytes or a
/// payload too long for a QUIC packet.
#[must_use]
pub fn seal_client_initial(
    version: u32,
    dcid: &[u8],
    scid: &[u8],
    packet_number: u32,
    frames: &[u8],
) -> Option<Vec<u8>> {
    seal_initial(version, dcid, dcid, scid, packet_number, frames)
}

/// [`seal_client_initial`] with the keys derived from `key_dcid`, which a
/// client keeps using after it switches to the server's connection ID.
pub fn seal_initial(
    version: u32,
    dcid: &[u8],
    key_dcid: &[u8],
    scid: &[u8],
    packet_number: u32,
    frames: &[u8],
) -> Option<Vec<u8>> {
    let type_bits = initial_type_bits(version)?;
    let dcid_len = u8::try_from(dcid.len()).ok().filter(|&l| usize::from(l) <= MAX_CID_LEN)?;
    let scid_len = u8::try_from(scid.len()).ok().filter(|&l| usize::from(l) <= MAX_CID_LEN)?;
    let keys = client_keys(version, key_dcid)?;
    let length = frames.len().checked_add(PN_MAX_LEN + TAG_LEN)?;

    // Reserved bits zero, packet number length 4 (encoded as 3).
    let first = 0xc0 | (type_bits << 4) | 0x03;
    let mut packet = Vec::with_capacity(length.checked_add(64)?);
    packet.push(first);
    packet.extend_from_slice(&version.to_be_bytes());
    packet.push(dcid_len);
    packet.extend_from_slice(dcid);
    packet.push(scid_len);
    packet.extend_from_slice(scid);
    packet.push(0); // token length
    // Two bytes at least, as in RFC 9001 Appendix A.
    put_varint(&mut packet, u64::try_from(length).ok().filter(|&l| l <= VARINT_MAX)?, 2);
    let pn_offset = packet.len();
    packet.extend_from_slice(&packet_number.to_be_bytes());
    let header_len = packet.len();
    packet.extend_from_slice(frames);

    let (header, payload) = packet.split_at_mut(header_len);
    let tag = keys.seal(u64::from(packet_number), header, payload)?;
    packet.extend_from_slice(&tag);

    // The sample starts 4 bytes after pn_offset, that is at the ciphertext.
    let sample_start = pn_offset.checked_add(PN_MAX_LEN)?;
    let mask = keys.mask(packet.get(sample_start..sample_start.checked_add(SAMPLE_LEN)?)?)?;
    *packet.first_mut()? ^= mask[0] & 0x0f;
    for (byte, m) in packet.get_mut(pn_offset..sample_start)?.iter_mut().zip(&mask[1..]) {
        *byte ^= m;
    }
    Some(packet)
}

/// Encodes a CRYPTO frame (type 0x06, varint offset, varint length, data),
/// for fixtures. An offset beyond 2^62-1, which no varint holds, is clamped
/// to 2^62-1.
#[must_use]
pub fn crypto_frame(offset: u64, data: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(data.len().saturating_add(17));
    frame.push(0x06);
    put_varint(&mut frame, offset, 1);
    put_varint(&mut frame, u64::try_from(data.len()).unwrap_or(VARINT_MAX), 1);
    frame.extend_from_slice(data);
    frame
}

/// Encodes a Google QUIC CRYPTO frame (type 0x08 with varint offset and
/// length), as Q050, T050 and T051 carry their hello in.
#[must_use]
pub fn google_crypto_frame(offset: u64, data: &[u8]) -> Vec<u8> {
    let mut frame = crypto_frame(offset, data);
    if let Some(ty) = frame.first_mut() {
        *ty = 0x08;
    }
    frame
}

/// Encodes a Google QUIC STREAM frame on the handshake stream (1): 1-byte
/// stream ID, an 8-byte offset when not 0, a 2-byte data length; integers
/// big-endian (Q039 and later) or little-endian.
#[must_use]
pub fn gquic_stream_frame(offset: u64, data: &[u8], big_endian: bool) -> Vec<u8> {
    let order =
        |bytes: &[u8]| -> Vec<u8> { if big_endian { bytes.to_vec() } else { bytes.iter().rev().copied().collect() } };
    // 1 F D OOO SS: no FIN, data length present, offset 0 or 8 bytes.
    let offset_bits = if offset == 0 { 0 } else { 0b111 << 2 };
    let mut frame = vec![0x80 | 0x20 | offset_bits, 0x01];
    if offset != 0 {
        frame.extend(order(&offset.to_be_bytes()));
    }
    frame.extend(order(&u16::try_from(data.len()).unwrap_or(u16::MAX).to_be_bytes()));
    frame.extend_from_slice(data);
    frame
}

/// A QUIC Crypto CHLO message with the `SNI` and `UAID` tags (when given)
/// and a `PAD` tag that makes it `len` bytes long, as Chrome pads its
/// hello to fill the packet. Tags ascend by their little-endian value, as
/// the protocol requires.
#[must_use]
pub fn chlo(sni: Option<&str>, user_agent: Option<&str>, len: usize) -> Vec<u8> {
    let mut tags: Vec<([u8; 4], Vec<u8>)> = vec![(*b"PAD\0", Vec::new()), (*b"VER\0", b"Q043".to_vec())];
    if let Some(sni) = sni {
        tags.push((*b"SNI\0", sni.as_bytes().to_vec()));
    }
    if let Some(ua) = user_agent {
        tags.push((*b"UAID", ua.as_bytes().to_vec()));
    }
    tags.sort_by_key(|(tag, _)| u32::from_le_bytes(*tag));
    let header_len = 8 + 8 * tags.len();
    let values: usize = tags.iter().map(|(_, v)| v.len()).sum();
    let pad = len.saturating_sub(header_len + values);
    if let Some((_, value)) = tags.iter_mut().find(|(tag, _)| tag == b"PAD\0") {
        value.resize(pad, b'-');
    }
    let mut msg = b"CHLO".to_vec();
    msg.extend(u16::try_from(tags.len()).unwrap_or(u16::MAX).to_le_bytes());
    msg.extend([0, 0]);
    let mut end = 0u32;
    for (tag, value) in &tags {
        end = end.saturating_add(u32::try_from(value.len()).unwrap_or(u32::MAX));
        msg.extend(tag);
        msg.extend(end.to_le_bytes());
    }
    for (_, value) in &tags {
        msg.extend(value);
    }
    msg
}

/// A plaintext Google QUIC client packet with the public header of Q024 to
/// Q043: flags (version present, 8-byte connection ID with the legacy bit
/// 0x04 that Chrome still sets, 1-byte packet number), connection ID,
/// version, packet number, the 12-byte message hash (zeros here: readers
/// do not check it), and the private flags byte of Q033 and older.
#[must_use]
pub fn gquic_public_packet(version: u32, cid: [u8; 8], packet_number: u8, frames: &[u8]) -> Vec<u8> {
    let mut packet = vec![0x0d];
    packet.extend(cid);
    packet.extend(version.to_be_bytes());
    packet.push(packet_number);
    packet.extend([0; 12]);
    if version < u32::from_be_bytes(*b"Q034") {
        packet.push(0);
    }
    packet.extend_from_slice(frames);
    packet
}

/// A plaintext Q046 client Initial: long header with the connection ID
/// lengths as nibbles (8-byte DCID, no SCID), a 4-byte packet number, the
/// 12-byte message hash (zeros), then `frames`.
#[must_use]
pub fn q046_packet(dcid: [u8; 8], packet_number: u32, frames: &[u8]) -> Vec<u8> {
    let mut packet = vec![0xc3];
    packet.extend(b"Q046");
    packet.push(0x50);
    packet.extend(dcid);
    packet.extend(packet_number.to_be_bytes());
    packet.extend([0; 12]);
    packet.extend_from_slice(frames);
    packet
}

/// A 0-RTT long-header packet of `version` with `body` standing in for its
/// protected packet number and payload (an observer cannot open 0-RTT).
#[must_use]
pub fn zero_rtt_packet(version: u32, dcid: &[u8], scid: &[u8], body: &[u8]) -> Option<Vec<u8>> {
    let type_bits = zero_rtt_type_bits(version)?;
    let mut packet = vec![0xc0 | (type_bits << 4) | 0x03];
    packet.extend(version.to_be_bytes());
    packet.push(u8::try_from(dcid.len()).ok().filter(|&l| usize::from(l) <= MAX_CID_LEN)?);
    packet.extend_from_slice(dcid);
    packet.push(u8::try_from(scid.len()).ok().filter(|&l| usize::from(l) <= MAX_CID_LEN)?);
    packet.extend_from_slice(scid);
    put_varint(&mut packet, u64::try_from(body.len()).ok()?, 2);
    packet.extend_from_slice(body);
    Some(packet)
}

/// A server's Version Negotiation packet (RFC 9000 §17.2.1) offering
/// `versions`; the connection IDs echo the client's, swapped.
#[must_use]
pub fn version_negotiation(dcid: &[u8], scid: &[u8], versions: &[u32]) -> Option<Vec<u8>> {
    let mut packet = vec![0x80];
    packet.extend([0; 4]);
    packet.push(u8::try_from(dcid.len()).ok()?);
    packet.extend_from_slice(dcid);
    packet.push(u8::try_from(scid.len()).ok()?);
    packet.extend_from_slice(scid);
    for v in versions {
        packet.extend(v.to_be_bytes());
    }
    Some(packet)
}

/// Appends `value` (clamped to 2^62-1) as a QUIC varint of the shortest
/// encoding that is at least `min_len` bytes long.
fn put_varint(out: &mut Vec<u8>, value: u64, min_len: usize) {
    let value = value.min(VARINT_MAX);
    let bytes = value.to_be_bytes();
    let (prefix, encoded): (u8, &[u8]) = if value <= 0x3f && min_len <= 1 {
        (0x00, &bytes[7..])
    } else if value <= 0x3fff && min_len <= 2 {
        (0x40, &bytes[6..])
    } else if value <= 0x3fff_ffff && min_len <= 4 {
        (0x80, &bytes[4..])
    } else {
        (0xc0, &bytes[..])
    };
    if let Some((first, rest)) = encoded.split_first() {
        out.push(first | prefix);
        out.extend_from_slice(rest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crypto_frames_use_minimal_varints() {
        assert_eq!(crypto_frame(0, b"abc"), [0x06, 0x00, 0x03, b'a', b'b', b'c']);
        assert_eq!(crypto_frame(16384, &[]), [0x06, 0x80, 0x00, 0x40, 0x00, 0x00]);
        assert_eq!(crypto_frame(u64::MAX, &[])[1..9], [0xff; 8]);
    }
}
