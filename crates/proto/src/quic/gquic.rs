//! Google QUIC: the plaintext headers of Q024-Q046 client hellos, Google's
//! frame numbering (also inside Q050 and T05x Initials), and the QUIC
//! Crypto CHLO message whose tag/value map names the server (`SNI`) and the
//! client (`UAID`). Layouts as Chromium's QUIC wire specification and
//! crypto design documents describe them (and Wireshark's packet-gquic.c
//! reads them): integers in frames are big-endian from Q039 on and
//! little-endian before; the CHLO map is always little-endian.

use crate::reader::{Malformed, Reader};
use crate::tls::normalise_host_name;

/// The per-packet message authentication hash of unencrypted packets
/// (FNV-1a 128, truncated).
const MESSAGE_HASH_LEN: usize = 12;
/// The stream that carries the crypto handshake.
const CRYPTO_STREAM: u64 = 1;
/// Public flags (Q024-Q043). Bit 0x04 is left alone: it says
/// "diversification nonce" only in a server's packets, and clients still set
/// it with 0x08, the two bits that once together meant an 8-byte connection ID.
const FLAG_VERSION: u8 = 0x01;
const FLAG_RESET: u8 = 0x02;
const FLAG_CID: u8 = 0x08;
const FLAG_RESERVED: u8 = 0x80;
/// A CHLO's tag, as it starts the handshake message.
pub const CHLO: &[u8; 4] = b"CHLO";
/// Longest CHLO tag map we walk; real ones have about 20 entries.
const MAX_TAGS: usize = 256;

/// A plaintext Google QUIC client packet: where its frames start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlainPacket {
    /// The version the packet carries.
    pub version: u32,
    /// Google version number (43 for Q043), for the frames' byte order.
    pub number: u8,
    /// Length of the packet number in bytes: 1, 2, 4 or 6 in the public
    /// header, 1 to 4 in Q046's long header.
    pub pn_len: usize,
    /// Offset of the first frame.
    pub frames: usize,
}

/// Reads a Q024-Q043 public header carrying `version` (the client's
/// packets carry it until the version is agreed); `None` for a server
/// packet, a reset or a packet without the version.
pub fn parse_public(datagram: &[u8], version: u32, number: u8) -> Option<PlainPacket> {
    let mut r = Reader::new(datagram);
    let flags = r.u8().ok()?;
    let required = FLAG_VERSION | FLAG_CID;
    if flags & required != required || flags & (FLAG_RESET | FLAG_RESERVED) != 0 {
        return None;
    }
    r.take(8).ok()?; // connection ID
    (u32::from_be_bytes(r.array().ok()?) == version).then_some(())?;
    let pn_len = match (flags >> 4) & 0x03 {
        0 => 1,
        1 => 2,
        2 => 4,
        _ => 6,
    };
    r.take(pn_len).ok()?;
    r.take(MESSAGE_HASH_LEN).ok()?;
    // Q033 and older have a private flags byte (entropy, FEC).
    if number < 34 {
        r.u8().ok()?;
    }
    Some(PlainPacket { version, number, pn_len, frames: r.position() })
}

/// Reads a Q046 long header (fixed bit set, Initial type, connection ID
/// lengths as nibbles of `len + 3`); the packet runs to the datagram's end.
pub fn parse_q046(datagram: &[u8], version: u32) -> Option<PlainPacket> {
    let mut r = Reader::new(datagram);
    let first = r.u8().ok()?;
    if first & 0xf0 != 0xc0 {
        return None;
    }
    (u32::from_be_bytes(r.array().ok()?) == version).then_some(())?;
    let lengths = r.u8().ok()?;
    let cid_len = |nibble: u8| if nibble == 0 { 0 } else { usize::from(nibble) + 3 };
    r.take(cid_len(lengths >> 4)).ok()?;
    r.take(cid_len(lengths & 0x0f)).ok()?;
    let pn_len = usize::from(first & 0x03) + 1;
    r.take(pn_len).ok()?;
    r.take(MESSAGE_HASH_LEN).ok()?;
    Some(PlainPacket { version, number: 46, pn_len, frames: r.position() })
}

/// Walks Google-numbered frames and hands each piece of handshake data
/// (STREAM on stream 1, or CRYPTO) to `crypto` with its stream offset.
/// Stops quietly at a frame it cannot delimit (the rest of the packet is
/// then unread); [`Malformed`] when a frame runs past the packet or
/// `crypto` refuses its data.
pub fn walk_frames(
    frames: &[u8],
    number: u8,
    pn_len: usize,
    mut crypto: impl FnMut(u64, &[u8]) -> Option<()>,
) -> Result<(), Malformed> {
    let big_endian = number >= 39;
    let uint = |r: &mut Reader<'_>, len: usize| -> Result<u64, Malformed> {
        let bytes = r.take(len)?;
        let fold = |acc: u64, &b: &u8| (acc << 8) | u64::from(b);
        Ok(if big_endian { bytes.iter().fold(0, fold) } else { bytes.iter().rev().fold(0, fold) })
    };
    let mut r = Reader::new(frames);
    while !r.is_empty() {
        let ty = r.u8()?;
        if ty & 0x80 != 0 {
            // STREAM: 1 F D OOO SS.
            let stream = uint(&mut r, usize::from(ty & 0x03) + 1)?;
            let offset_len = match (ty >> 2) & 0x07 {
                0 => 0,
                n => usize::from(n) + 1,
            };
            let offset = uint(&mut r, offset_len)?;
            let data = if ty & 0x20 != 0 {
                let len = uint(&mut r, 2)?;
                r.take_u64(len)?
            } else {
                r.rest()
            };
            if stream == CRYPTO_STREAM {
                crypto(offset, data).ok_or(Malformed)?;
            }
        } else if ty & 0x40 != 0 {
            skip_ack(&mut r, ty, number, &uint)?;
        } else {
            match ty {
                0x01 => {
                    r.take(4 + 8 + 4)?; // RST_STREAM
                }
                0x02 => {
                    // CONNECTION_CLOSE: error code, reason phrase.
                    r.take(4)?;
                    let len = uint(&mut r, 2)?;
                    r.take_u64(len)?;
                }
                0x03 => {
                    // GOAWAY: error code, last good stream, reason phrase.
                    r.take(4 + 4)?;
                    let len = uint(&mut r, 2)?;
                    r.take_u64(len)?;
                }
                0x04 => {
                    r.take(4 + 8)?; // WINDOW_UPDATE
                }
                0x05 => {
                    r.take(4)?; // BLOCKED
                }
                // STOP_WAITING: least unacked delta (entropy before Q034).
                0x06 => {
                    r.take(pn_len + usize::from(number < 34))?;
                }
                0x07 => {} // PING
                0x08 if number >= 48 => {
                    let offset = r.varint()?;
                    let len = r.varint()?;
                    crypto(offset, r.take_u64(len)?).ok_or(Malformed)?;
                }
                // PADDING (0x00) is the rest of the packet (Q050 pads with
                // zero bytes that read the same way); past a type not
                // known here nothing more can be read.
                _ => return Ok(()),
            }
        }
    }
    Ok(())
}

/// Skips an ACK frame: 0 1 N U LL MM, in the Q034-and-later layout.
fn skip_ack(
    r: &mut Reader<'_>,
    ty: u8,
    number: u8,
    uint: &impl Fn(&mut Reader<'_>, usize) -> Result<u64, Malformed>,
) -> Result<(), Malformed> {
    if number < 34 {
        // The older layout (entropy, revived packets) is not worth reading
        // in a client's first packet: stop here.
        r.rest();
        return Ok(());
    }
    let code_len = |code: u8| match code & 0x03 {
        0 => 1,
        1 => 2,
        2 => 4,
        _ => 6,
    };
    let block_len = code_len(ty);
    r.take(code_len(ty >> 2))?; // largest acked
    r.take(2)?; // ack delay
    let blocks = if ty & 0x20 != 0 { uint(r, 1)? } else { 0 };
    r.take(block_len)?; // first ack block
    for _ in 0..blocks {
        r.take(1 + block_len)?; // gap, block length
    }
    let timestamps = uint(r, 1)?;
    if timestamps > 0 {
        r.take(1 + 4)?;
        for _ in 1..timestamps {
            r.take(1 + 2)?;
        }
    }
    Ok(())
}

/// The handshake stream does not start with a CHLO of at most the bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotAChlo;

/// The length of a complete CHLO message at the start of `prefix`:
/// tag, entry count (u16), padding (u16), entries of tag and end offset
/// (u32), then the values. `Ok(None)` while incomplete; `Err` if the
/// message is not a CHLO or announces more than `max` bytes.
pub fn message_len(prefix: &[u8], max: usize) -> Result<Option<usize>, NotAChlo> {
    let Some(head) = prefix.first_chunk::<8>() else {
        return if CHLO.starts_with(prefix) { Ok(None) } else { Err(NotAChlo) };
    };
    if &head[..4] != CHLO {
        return Err(NotAChlo);
    }
    let entries = usize::from(u16::from_le_bytes([head[4], head[5]]));
    if entries > MAX_TAGS {
        return Err(NotAChlo);
    }
    let index_end = 8 + 8 * entries;
    if index_end > max {
        return Err(NotAChlo);
    }
    let Some(index) = prefix.get(8..index_end) else { return Ok(None) };
    let values = match index.rchunks_exact(8).next() {
        Some(last) => {
            usize::try_from(u32::from_le_bytes([last[4], last[5], last[6], last[7]])).map_err(|_| NotAChlo)?
        }
        None => 0,
    };
    let len = index_end.checked_add(values).filter(|&len| len <= max).ok_or(NotAChlo)?;
    Ok((len <= prefix.len()).then_some(len))
}

/// What a CHLO says about its flow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chlo<'a> {
    /// The `SNI` tag's value, normalised as a TLS server name is (and
    /// dropped when it is no plausible DNS name).
    pub sni: Option<Box<str>>,
    /// The `UAID` tag's value: the client's user agent, when it is
    /// non-empty UTF-8.
    pub user_agent: Option<&'a str>,
}

/// Reads the tag/value map of a complete CHLO message; `None` if it is not
/// one or its end offsets are not in order within the message.
#[must_use]
pub fn parse_chlo(message: &[u8]) -> Option<Chlo<'_>> {
    let mut r = Reader::new(message);
    (r.take(4).ok()? == CHLO).then_some(())?;
    let entries = usize::from(u16::from_le_bytes(r.array().ok()?));
    if entries > MAX_TAGS {
        return None;
    }
    r.take(2).ok()?;
    let values = message.get(8usize.checked_add(entries.checked_mul(8)?)?..)?;
    let mut chlo = Chlo::default();
    let mut start = 0usize;
    for _ in 0..entries {
        let tag: [u8; 4] = r.array().ok()?;
        let end = usize::try_from(u32::from_le_bytes(r.array().ok()?)).ok()?;
        let value = values.get(start..end)?;
        start = end;
        match &tag {
            b"SNI\0" => chlo.sni = normalise_host_name(value),
            b"UAID" => chlo.user_agent = std::str::from_utf8(value).ok().filter(|ua| !ua.is_empty()),
            _ => {}
        }
    }
    Some(chlo)
}
