//! Test-only QUIC: protects client Initials and writes CRYPTO frames, the
//! inverse of what `proto::quic` opens, with the same key schedule.

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
    let tag = keys.packet.encrypt_in_place(u64::from(packet_number), header, payload).ok()?;
    packet.extend_from_slice(tag.as_ref());

    // The sample starts 4 bytes after pn_offset, that is at the ciphertext.
    let sample_start = pn_offset.checked_add(PN_MAX_LEN)?;
    let mut sample = [0u8; SAMPLE_LEN];
    sample.copy_from_slice(packet.get(sample_start..sample_start.checked_add(SAMPLE_LEN)?)?);
    let (head, rest) = packet.split_first_mut()?;
    let pn = rest.get_mut(pn_offset.checked_sub(1)?..sample_start.checked_sub(1)?)?;
    keys.header.encrypt_in_place(&sample, head, pn).ok()?;
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
