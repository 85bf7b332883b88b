//! TLS ClientHello inspection: server name (SNI), first ALPN protocol and
//! whether Encrypted Client Hello is offered.
//!
//! Two entry points: [`client_hello_from_stream`] for TCP (TLS records,
//! possibly incomplete, possibly with the hello fragmented over several
//! records) and [`parse_client_hello_message`] for a bare handshake message
//! as reassembled from QUIC CRYPTO frames.
//!
//! Parsing never panics and never trusts a length field: every read goes
//! through [`crate::Reader`], whose accessors are bounds-checked.

use crate::reader::Reader;

/// TLS record content type `handshake`.
const CONTENT_HANDSHAKE: u8 = 0x16;
/// Handshake message type `client_hello`.
const HANDSHAKE_CLIENT_HELLO: u8 = 1;
/// `content_type(1)` + `legacy_record_version(2)` + length(2).
const RECORD_HEADER_LEN: usize = 5;
/// `msg_type(1)` + length(3).
const HANDSHAKE_HEADER_LEN: usize = 4;
/// RFC 8446 §5.1: a plaintext record fragment MUST NOT exceed 2^14 bytes.
const MAX_FRAGMENT_LEN: usize = 1 << 14;
/// Bound on the handshake body we are willing to reassemble and walk. Real
/// hellos (even post-quantum ones, ~1.8 KB) are far below this.
const MAX_HELLO_BODY_LEN: usize = 64 * 1024;
/// DNS names are at most 253 bytes in text form without the trailing dot.
const MAX_HOST_NAME_LEN: usize = 253;

const EXT_SERVER_NAME: u16 = 0x0000;
const EXT_ALPN: u16 = 0x0010;
const EXT_ENCRYPTED_CLIENT_HELLO: u16 = 0xfe0d;
/// `ServerName.name_type` for a DNS host name (RFC 6066 §3).
const NAME_TYPE_HOST_NAME: u8 = 0;

/// Result of looking at the first bytes of a client's TCP stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamHello {
    /// Could still become a ClientHello; `total` = stream bytes needed, when
    /// already known from record/handshake lengths.
    NeedMore {
        /// Stream length (counted from the first byte) at which the hello
        /// will be complete; `None` while a record or handshake header that
        /// determines it has not been seen yet.
        total: Option<usize>,
    },
    /// Not a TLS handshake stream (e.g. first byte not 0x16, bad version).
    NotTls,
    /// Looks like TLS but the hello is structurally broken (inconsistent
    /// lengths, first handshake message not a ClientHello, oversized, ...).
    Malformed,
    /// A complete, structurally valid ClientHello.
    Hello(ClientHello),
}

/// What a ClientHello reveals about the intended destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    /// First `host_name` entry of the `server_name` extension, ASCII-lowercased
    /// with one trailing dot removed; `None` if absent or not a plausible DNS
    /// name (only `[a-z0-9._-]`, no empty labels, 1..=253 bytes).
    pub sni: Option<Box<str>>,
    /// First non-GREASE ALPN protocol, if it is printable ASCII without
    /// spaces (`h2`, `http/1.1`, `h3`, ...).
    pub alpn: Option<Box<str>>,
    /// The hello carries an `encrypted_client_hello` (0xfe0d) extension. Note
    /// that GREASE ECH (sent by browsers without an ECH config) is by design
    /// indistinguishable from real ECH, so this means "ECH offered".
    pub ech: bool,
}

/// The handshake message is not a structurally valid ClientHello.
pub use crate::reader::Malformed;

/// Cheap test on a first payload: 0x16, 0x03, 0x00..=0x04.
#[must_use]
pub fn looks_like_handshake_record(first: &[u8]) -> bool {
    matches!(first, [CONTENT_HANDSHAKE, 0x03, 0x00..=0x04, ..])
}

/// `stream`: client->server bytes starting at the first byte of the TCP
/// stream. The ClientHello handshake message may be split across several TLS
/// records (copy into a Vec only in that case) and the record may be
/// incomplete.
#[must_use]
pub fn client_hello_from_stream(stream: &[u8]) -> StreamHello {
    // Decide NotTls as early as the bytes allow, so callers can stop buffering
    // a non-TLS flow after its first byte.
    let prefix_ok = match stream {
        [] | [CONTENT_HANDSHAKE] | [CONTENT_HANDSHAKE, 0x03] => true,
        _ => looks_like_handshake_record(stream),
    };
    if !prefix_ok {
        return StreamHello::NotTls;
    }
    match locate_hello(stream) {
        Located::NeedMore(total) => StreamHello::NeedMore { total },
        Located::Malformed => StreamHello::Malformed,
        Located::InFirstRecord(msg) => to_stream_hello(parse_client_hello_message(msg)),
        Located::Fragmented(msg_len) => to_stream_hello(parse_client_hello_message(&reassemble(stream, msg_len))),
    }
}

/// A bare handshake message (type 1, 3-byte length, body) as carried in QUIC
/// CRYPTO frames. Trailing bytes after the message are ignored.
///
/// # Errors
///
/// [`Malformed`] if the message is not a ClientHello, is truncated, has a
/// body over 64 KiB, or has inconsistent inner lengths.
pub fn parse_client_hello_message(msg: &[u8]) -> Result<ClientHello, Malformed> {
    let (header, rest) = msg.split_first_chunk::<HANDSHAKE_HEADER_LEN>().ok_or(Malformed)?;
    let body_len = hello_body_len(*header)?;
    let body = rest.get(..body_len).ok_or(Malformed)?;
    parse_client_hello_body(body)
}

fn to_stream_hello(parsed: Result<ClientHello, Malformed>) -> StreamHello {
    parsed.map_or(StreamHello::Malformed, StreamHello::Hello)
}

/// Validates a handshake header as the start of a ClientHello and returns the
/// body length.
fn hello_body_len(header: [u8; HANDSHAKE_HEADER_LEN]) -> Result<usize, Malformed> {
    let [msg_type, a, b, c] = header;
    let body_len = (usize::from(a) << 16) | (usize::from(b) << 8) | usize::from(c);
    // The client's first handshake message must be a ClientHello; anything
    // else on a stream that otherwise looks like TLS is a broken hello.
    if msg_type != HANDSHAKE_CLIENT_HELLO || body_len > MAX_HELLO_BODY_LEN {
        return Err(Malformed);
    }
    Ok(body_len)
}

/// One TLS record at the front of a (possibly truncated) stream: the header
/// is complete, the fragment may be cut short by the end of the capture.
struct Record<'a> {
    content_type: u8,
    version: [u8; 2],
    length: usize,
    fragment: &'a [u8],
}

impl<'a> Record<'a> {
    /// `None` if `buf` does not hold a whole record header.
    fn new_checked(buf: &'a [u8]) -> Option<Self> {
        let (&[content_type, major, minor, hi, lo], rest) = buf.split_first_chunk::<RECORD_HEADER_LEN>()?;
        let length = usize::from(u16::from_be_bytes([hi, lo]));
        Some(Record { content_type, version: [major, minor], length, fragment: rest.get(..length).unwrap_or(rest) })
    }

    /// Handshake content in a TLS 1.x (or SSL 3.0) record of permitted size.
    /// Zero-length handshake fragments are forbidden by RFC 8446 §5.1, and
    /// rejecting them also guarantees every record advances the hello.
    fn is_valid_handshake(&self) -> bool {
        self.content_type == CONTENT_HANDSHAKE
            && matches!(self.version, [0x03, 0x00..=0x04])
            && (1..=MAX_FRAGMENT_LEN).contains(&self.length)
    }

    /// The bytes of the fragment present in the stream.
    fn fragment(&self) -> &'a [u8] {
        self.fragment
    }

    /// Fragment bytes declared by the header but not yet in the stream.
    fn missing(&self) -> usize {
        self.length.saturating_sub(self.fragment.len())
    }

    /// Size of header plus declared fragment, i.e. the offset of the next
    /// record.
    fn encoded_len(&self) -> usize {
        RECORD_HEADER_LEN.saturating_add(self.length)
    }
}

/// Successive records from the start of a stream; stops at the first
/// incomplete header. A truncated record is yielded and ends the iteration.
struct Records<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Records<'a> {
    type Item = Record<'a>;

    fn next(&mut self) -> Option<Record<'a>> {
        let record = Record::new_checked(self.rest)?;
        self.rest = self.rest.get(record.encoded_len()..).unwrap_or(&[]);
        Some(record)
    }
}

/// Where the ClientHello message is in the stream, without copying.
enum Located<'a> {
    NeedMore(Option<usize>),
    Malformed,
    /// The whole message (header and body, possibly followed by more
    /// handshake bytes) lies in the first record's fragment.
    InFirstRecord(&'a [u8]),
    /// The message of this many bytes (header included) spans several
    /// records; all of them are present.
    Fragmented(usize),
}

fn locate_hello(stream: &[u8]) -> Located<'_> {
    let mut header = [0u8; HANDSHAKE_HEADER_LEN];
    // Handshake bytes seen so far across records.
    let mut seen: usize = 0;
    // Header plus body length, once the handshake header has been seen.
    let mut msg_len: Option<usize> = None;
    for (index, record) in (Records { rest: stream }).enumerate() {
        // Handshake messages must not be interleaved with other record types
        // (RFC 8446 §5.1), so any other record mid-hello is a broken hello.
        if !record.is_valid_handshake() {
            return Located::Malformed;
        }
        let fragment = record.fragment();
        // The 4-byte handshake header may itself be split across records.
        for (slot, &byte) in header.iter_mut().skip(seen).zip(fragment) {
            *slot = byte;
        }
        seen = seen.saturating_add(fragment.len());
        if msg_len.is_none() && seen >= HANDSHAKE_HEADER_LEN {
            match hello_body_len(header) {
                Ok(body_len) => msg_len = Some(HANDSHAKE_HEADER_LEN.saturating_add(body_len)),
                Err(Malformed) => return Located::Malformed,
            }
        }
        match msg_len {
            Some(need) if seen >= need => {
                return if index == 0 { Located::InFirstRecord(fragment) } else { Located::Fragmented(need) };
            }
            // This record is cut short by the end of the stream: the rest of
            // the hello arrives in it, or the total is not yet knowable.
            Some(need) if record.missing() > 0 => {
                let still_needed = need.saturating_sub(seen);
                let total =
                    (still_needed <= record.missing()).then(|| stream.len().checked_add(still_needed)).flatten();
                return Located::NeedMore(total);
            }
            None if record.missing() > 0 => return Located::NeedMore(None),
            // Record complete but the hello continues in the next record.
            _ => {}
        }
    }
    // The stream ends on a record boundary or inside a record header.
    Located::NeedMore(None)
}

/// Concatenates the first `msg_len` handshake bytes of a stream that
/// [`locate_hello`] found to hold the whole message in several records.
fn reassemble(stream: &[u8], msg_len: usize) -> Vec<u8> {
    let mut msg = Vec::with_capacity(msg_len);
    for record in (Records { rest: stream }) {
        let fragment = record.fragment();
        let want = msg_len.saturating_sub(msg.len()).min(fragment.len());
        msg.extend_from_slice(fragment.get(..want).unwrap_or(fragment));
        if msg.len() >= msg_len {
            break;
        }
    }
    msg
}

/// The single vec16 that must make up the whole of `data`, as in every
/// extension body we parse.
fn only_vec16(data: &[u8]) -> Result<&[u8], Malformed> {
    let mut r = Reader::new(data);
    let inner = r.vec16()?;
    if r.is_empty() { Ok(inner) } else { Err(Malformed) }
}

fn parse_client_hello_body(body: &[u8]) -> Result<ClientHello, Malformed> {
    let mut r = Reader::new(body);
    let _legacy_version = r.take(2)?;
    let _random = r.take(32)?;
    let session_id = r.vec8()?;
    let cipher_suites = r.vec16()?;
    let compression_methods = r.vec8()?;
    // Length limits from RFC 8446 §4.1.2; checking them rejects garbage that
    // happens to have self-consistent lengths.
    if session_id.len() > 32
        || cipher_suites.len() < 2
        || cipher_suites.len() % 2 != 0
        || compression_methods.is_empty()
    {
        return Err(Malformed);
    }
    let mut hello = ClientHello { sni: None, alpn: None, ech: false };
    // Pre-TLS-1.2 clients may omit the extensions block entirely.
    if r.is_empty() {
        return Ok(hello);
    }
    let mut extensions = Reader::new(only_vec16(r.rest())?);
    let (mut seen_sni, mut seen_alpn) = (false, false);
    while !extensions.is_empty() {
        // An extension whose length runs past the block ends the walk but
        // keeps what came before: a corrupted tail (nDPI's tls_invalid_reads
        // capture) does not unsay the server name the client asked for.
        let Ok((ext_type, data)) = extensions.be16().and_then(|t| Ok((t, extensions.vec16()?))) else {
            break;
        };
        // Duplicates are forbidden (RFC 8446 §4.2); refusing them avoids
        // having to pick which copy a server would have honoured.
        match ext_type {
            EXT_SERVER_NAME if !seen_sni => {
                seen_sni = true;
                hello.sni = parse_server_name(data)?;
            }
            EXT_ALPN if !seen_alpn => {
                seen_alpn = true;
                // A broken protocol list (nDPI's tls_invalid_reads capture
                // has one) says nothing about the server name the client
                // asked for: lose only the ALPN.
                hello.alpn = parse_alpn(data).unwrap_or(None);
            }
            EXT_ENCRYPTED_CLIENT_HELLO if !hello.ech => hello.ech = true,
            EXT_SERVER_NAME | EXT_ALPN | EXT_ENCRYPTED_CLIENT_HELLO => return Err(Malformed),
            // Everything else, GREASE extension types included, is skipped.
            _ => {}
        }
    }
    Ok(hello)
}

/// `server_name` extension body (RFC 6066 §3): the normalised first `host_name`.
fn parse_server_name(data: &[u8]) -> Result<Option<Box<str>>, Malformed> {
    let mut list = Reader::new(only_vec16(data)?);
    let mut host_name = None;
    while !list.is_empty() {
        let name_type = list.u8()?;
        let name = list.vec16()?;
        if name_type == NAME_TYPE_HOST_NAME && host_name.is_none() {
            host_name = Some(name);
        }
    }
    Ok(host_name.and_then(normalise_host_name))
}

/// Lowercases, strips one trailing dot, and accepts only plausible DNS names
/// (`[a-z0-9._-]`, no empty labels), so that downstream suffix matching never
/// sees odd bytes or names such as `evil..example.com`.
pub(crate) fn normalise_host_name(name: &[u8]) -> Option<Box<str>> {
    let name = name.strip_suffix(b".").unwrap_or(name);
    let plausible = (1..=MAX_HOST_NAME_LEN).contains(&name.len())
        && name.iter().all(|b| matches!(b.to_ascii_lowercase(), b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-'))
        && name.split(|&b| b == b'.').all(|label| !label.is_empty());
    if !plausible {
        return None;
    }
    // All bytes are ASCII here, so this conversion cannot fail.
    let mut owned: Box<str> = Box::from(std::str::from_utf8(name).ok()?);
    owned.make_ascii_lowercase();
    Some(owned)
}

/// ALPN extension body (RFC 7301 §3.1): the first non-GREASE protocol name,
/// if printable.
fn parse_alpn(data: &[u8]) -> Result<Option<Box<str>>, Malformed> {
    let list = only_vec16(data)?;
    // Both the list and each name must be non-empty (RFC 7301 §3.1).
    if list.is_empty() {
        return Err(Malformed);
    }
    let mut list = Reader::new(list);
    let mut first = None;
    while !list.is_empty() {
        let name = list.vec8()?;
        if name.is_empty() {
            return Err(Malformed);
        }
        if first.is_none() && !is_grease_alpn(name) {
            first = Some(name);
        }
    }
    Ok(first
        .filter(|name| name.iter().all(u8::is_ascii_graphic))
        .and_then(|name| std::str::from_utf8(name).ok())
        .map(Box::from))
}

/// RFC 8701 §2: GREASE ALPN identifiers are the two-byte strings 0x0A0A,
/// 0x1A1A, ..., 0xFAFA; several of them ("**", "JJ", "zz") are printable and
/// would otherwise be reported as the protocol.
fn is_grease_alpn(name: &[u8]) -> bool {
    matches!(name, [a, b] if a == b && a & 0x0f == 0x0a)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8448 §3 (Simple 1-RTT Handshake), "send handshake record",
    /// complete record (201 octets): record header + 196-byte ClientHello.
    const RFC8448_RECORD: [u8; 201] = [
        0x16, 0x03, 0x01, 0x00, 0xc4, 0x01, 0x00, 0x00, 0xc0, 0x03, 0x03, 0xcb, 0x34, 0xec, 0xb1, 0xe7, 0x81, 0x63,
        0xba, 0x1c, 0x38, 0xc6, 0xda, 0xcb, 0x19, 0x6a, 0x6d, 0xff, 0xa2, 0x1a, 0x8d, 0x99, 0x12, 0xec, 0x18, 0xa2,
        0xef, 0x62, 0x83, 0x02, 0x4d, 0xec, 0xe7, 0x00, 0x00, 0x06, 0x13, 0x01, 0x13, 0x03, 0x13, 0x02, 0x01, 0x00,
        0x00, 0x91, 0x00, 0x00, 0x00, 0x0b, 0x00, 0x09, 0x00, 0x00, 0x06, 0x73, 0x65, 0x72, 0x76, 0x65, 0x72, 0xff,
        0x01, 0x00, 0x01, 0x00, 0x00, 0x0a, 0x00, 0x14, 0x00, 0x12, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18, 0x00, 0x19,
        0x01, 0x00, 0x01, 0x01, 0x01, 0x02, 0x01, 0x03, 0x01, 0x04, 0x00, 0x23, 0x00, 0x00, 0x00, 0x33, 0x00, 0x26,
        0x00, 0x24, 0x00, 0x1d, 0x00, 0x20, 0x99, 0x38, 0x1d, 0xe5, 0x60, 0xe4, 0xbd, 0x43, 0xd2, 0x3d, 0x8e, 0x43,
        0x5a, 0x7d, 0xba, 0xfe, 0xb3, 0xc0, 0x6e, 0x51, 0xc1, 0x3c, 0xae, 0x4d, 0x54, 0x13, 0x69, 0x1e, 0x52, 0x9a,
        0xaf, 0x2c, 0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04, 0x00, 0x0d, 0x00, 0x20, 0x00, 0x1e, 0x04, 0x03, 0x05,
        0x03, 0x06, 0x03, 0x02, 0x03, 0x08, 0x04, 0x08, 0x05, 0x08, 0x06, 0x04, 0x01, 0x05, 0x01, 0x06, 0x01, 0x02,
        0x01, 0x04, 0x02, 0x05, 0x02, 0x06, 0x02, 0x02, 0x02, 0x00, 0x2d, 0x00, 0x02, 0x01, 0x01, 0x00, 0x1c, 0x00,
        0x02, 0x40, 0x01,
    ];

    /// A minimal hand-built ClientHello record: SNI "a.b" and ALPN "h2".
    const TINY_RECORD: [u8; 73] = [
        0x16, 0x03, 0x01, 0x00, 0x44, // record: handshake, TLS 1.0, 68 bytes
        0x01, 0x00, 0x00, 0x40, // client_hello, 64 bytes
        0x03, 0x03, // legacy_version
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // random
        0x00, // session_id
        0x00, 0x02, 0x13, 0x01, // cipher_suites
        0x01, 0x00, // compression_methods
        0x00, 0x15, // extensions, 21 bytes
        0x00, 0x00, 0x00, 0x08, 0x00, 0x06, 0x00, 0x00, 0x03, b'a', b'.', b'b', // SNI
        0x00, 0x10, 0x00, 0x05, 0x00, 0x03, 0x02, b'h', b'2', // ALPN
    ];

    fn ext(ext_type: u16, data: &[u8]) -> Vec<u8> {
        let mut out = ext_type.to_be_bytes().to_vec();
        out.extend_from_slice(&u16::try_from(data.len()).unwrap().to_be_bytes());
        out.extend_from_slice(data);
        out
    }

    fn sni_ext(name: &[u8]) -> Vec<u8> {
        let mut entry = vec![NAME_TYPE_HOST_NAME];
        entry.extend_from_slice(&u16::try_from(name.len()).unwrap().to_be_bytes());
        entry.extend_from_slice(name);
        let mut list = u16::try_from(entry.len()).unwrap().to_be_bytes().to_vec();
        list.extend_from_slice(&entry);
        ext(EXT_SERVER_NAME, &list)
    }

    fn alpn_ext(names: &[&[u8]]) -> Vec<u8> {
        let mut list = Vec::new();
        for name in names {
            list.push(u8::try_from(name.len()).unwrap());
            list.extend_from_slice(name);
        }
        let mut data = u16::try_from(list.len()).unwrap().to_be_bytes().to_vec();
        data.extend_from_slice(&list);
        ext(EXT_ALPN, &data)
    }

    /// `key_share` with a GREASE entry, X25519MLKEM768 (1216 bytes) and X25519,
    /// as a post-quantum Chrome/Firefox hello sends.
    fn pq_key_share_ext() -> Vec<u8> {
        let mut shares = Vec::new();
        for (group, len) in [(0x3a3a_u16, 1_usize), (0x11ec, 1216), (0x001d, 32)] {
            shares.extend_from_slice(&group.to_be_bytes());
            shares.extend_from_slice(&u16::try_from(len).unwrap().to_be_bytes());
            shares.extend(std::iter::repeat_n(0xab, len));
        }
        let mut data = u16::try_from(shares.len()).unwrap().to_be_bytes().to_vec();
        data.extend_from_slice(&shares);
        ext(0x0033, &data)
    }

    /// A ClientHello handshake message (header included) with a 32-byte
    /// session id, GREASE cipher suite and the given extensions.
    fn hello_msg(extensions: &[Vec<u8>]) -> Vec<u8> {
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[0x5a; 32]);
        body.push(32);
        body.extend_from_slice(&[0x77; 32]);
        body.extend_from_slice(&[0x00, 0x06, 0x0a, 0x0a, 0x13, 0x01, 0x13, 0x02]);
        body.extend_from_slice(&[0x01, 0x00]);
        let exts: Vec<u8> = extensions.concat();
        body.extend_from_slice(&u16::try_from(exts.len()).unwrap().to_be_bytes());
        body.extend_from_slice(&exts);
        let len = u32::try_from(body.len()).unwrap().to_be_bytes();
        let mut msg = vec![HANDSHAKE_CLIENT_HELLO, len[1], len[2], len[3]];
        msg.extend_from_slice(&body);
        msg
    }

    /// Wraps `msg` in handshake records with fragments of at most the given
    /// sizes (the last size repeats).
    fn records(msg: &[u8], sizes: &[usize]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = msg;
        let mut i = 0;
        while !rest.is_empty() {
            let size = sizes[i.min(sizes.len() - 1)].min(rest.len());
            let (fragment, tail) = rest.split_at(size);
            out.extend_from_slice(&[CONTENT_HANDSHAKE, 0x03, 0x01]);
            out.extend_from_slice(&u16::try_from(size).unwrap().to_be_bytes());
            out.extend_from_slice(fragment);
            rest = tail;
            i += 1;
        }
        out
    }

    /// An outer ECH extension (or GREASE ECH, which looks the same): HPKE
    /// suite, config id, 32-byte enc, 288-byte payload.
    fn ech_outer_ext() -> Vec<u8> {
        let mut data = vec![0x00, 0x00, 0x01, 0x00, 0x01, 0x42, 0x00, 0x20];
        data.extend_from_slice(&[0xee; 32]);
        data.extend_from_slice(&[0x01, 0x20]);
        data.extend_from_slice(&[0xcc; 288]);
        ext(EXT_ENCRYPTED_CLIENT_HELLO, &data)
    }

    fn pq_hello_msg() -> Vec<u8> {
        hello_msg(&[
            ext(0x2a2a, &[]),
            pq_key_share_ext(),
            sni_ext(b"Push.Apple.com."),
            alpn_ext(&[b"h2", b"http/1.1"]),
            ech_outer_ext(),
            ext(0x002b, &[0x04, 0x03, 0x04, 0x03, 0x03]),
            ext(0x1a1a, &[0x00]),
        ])
    }

    fn expect_hello(result: StreamHello) -> ClientHello {
        match result {
            StreamHello::Hello(hello) => hello,
            other => panic!("expected a hello, got {other:?}"),
        }
    }

    #[test]
    fn rfc8448_client_hello_record() {
        let hello = expect_hello(client_hello_from_stream(&RFC8448_RECORD));
        assert_eq!(hello, ClientHello { sni: Some("server".into()), alpn: None, ech: false });
    }

    #[test]
    fn rfc8448_bare_message_ignores_trailing_bytes() {
        let mut msg = RFC8448_RECORD[RECORD_HEADER_LEN..].to_vec();
        msg.extend_from_slice(&[0x14, 0x00, 0x00, 0x20]);
        let hello = parse_client_hello_message(&msg).unwrap();
        assert_eq!(hello.sni, Some("server".into()));
    }

    #[test]
    fn rfc8448_truncated_record_reports_total() {
        // Until the handshake header is in, only the record length is known,
        // and it does not tell where the hello ends.
        for cut in [4, 5, 6, 8] {
            assert_eq!(
                client_hello_from_stream(&RFC8448_RECORD[..cut]),
                StreamHello::NeedMore { total: None },
                "cut at {cut}"
            );
        }
        for cut in [9, 100, 200] {
            assert_eq!(
                client_hello_from_stream(&RFC8448_RECORD[..cut]),
                StreamHello::NeedMore { total: Some(201) },
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn tiny_hand_built_record() {
        let hello = expect_hello(client_hello_from_stream(&TINY_RECORD));
        assert_eq!(hello, ClientHello { sni: Some("a.b".into()), alpn: Some(Box::from("h2")), ech: false });
    }

    #[test]
    fn hello_followed_by_other_data_in_same_record_and_stream() {
        let msg = hello_msg(&[sni_ext(b"example.com")]);
        let mut payload = msg.clone();
        payload.extend_from_slice(&[0x0b, 0x00, 0x00, 0x00]); // another message
        let mut stream = records(&payload, &[payload.len()]);
        stream.extend_from_slice(&[0x17, 0x03, 0x03, 0x00, 0x01, 0x00]);
        let hello = expect_hello(client_hello_from_stream(&stream));
        assert_eq!(hello.sni, Some("example.com".into()));
    }

    #[test]
    fn looks_like_handshake_record_cases() {
        assert!(looks_like_handshake_record(&[0x16, 0x03, 0x01]));
        assert!(looks_like_handshake_record(&[0x16, 0x03, 0x00, 0x00]));
        assert!(looks_like_handshake_record(&[0x16, 0x03, 0x04, 0xff, 0xff]));
        assert!(!looks_like_handshake_record(&[0x16, 0x03, 0x05]));
        assert!(!looks_like_handshake_record(&[0x16, 0x02, 0x01]));
        assert!(!looks_like_handshake_record(&[0x17, 0x03, 0x03]));
        assert!(!looks_like_handshake_record(&[0x16, 0x03]));
        assert!(!looks_like_handshake_record(b"GET / HTTP/1.1\r\n"));
    }

    #[test]
    fn not_tls_decided_from_first_bytes() {
        assert_eq!(client_hello_from_stream(b"G"), StreamHello::NotTls);
        assert_eq!(client_hello_from_stream(&[0x16, 0x02]), StreamHello::NotTls);
        assert_eq!(client_hello_from_stream(&[0x16, 0x03, 0x05, 0x00]), StreamHello::NotTls);
        // SSLv2-compatible hello framing is not a TLS record.
        assert_eq!(client_hello_from_stream(&[0x80, 0x2e, 0x01, 0x03]), StreamHello::NotTls);
        for prefix in [&[][..], &[0x16], &[0x16, 0x03], &[0x16, 0x03, 0x03, 0x00]] {
            assert_eq!(client_hello_from_stream(prefix), StreamHello::NeedMore { total: None });
        }
    }

    #[test]
    fn sni_is_normalised() {
        let msg = hello_msg(&[sni_ext(b"WWW.Example-Site_1.COM.")]);
        assert_eq!(parse_client_hello_message(&msg).unwrap().sni, Some("www.example-site_1.com".into()));
    }

    #[test]
    fn implausible_sni_is_dropped_not_malformed() {
        let too_long = vec![b'a'; MAX_HOST_NAME_LEN + 1];
        let just_fits = [vec![b'a'; MAX_HOST_NAME_LEN], vec![b'.']].concat();
        for (name, expected) in [
            (&b"bad name"[..], None),
            (b"caf\xc3\xa9.fr", None),
            (b"*.example.com", None),
            (b"", None),
            (b".", None),
            (b"host..", None),
            (b".example.com", None),
            (b"evil..example.com", None),
            (&too_long, None),
            (&just_fits, Some("a".repeat(MAX_HOST_NAME_LEN))),
        ] {
            let msg = hello_msg(&[sni_ext(name)]);
            let hello = parse_client_hello_message(&msg).unwrap();
            assert_eq!(hello.sni.as_deref(), expected.as_deref(), "{name:?}");
        }
    }

    #[test]
    fn sni_skips_non_host_name_entries() {
        // list: type 1 "zz", then type 0 "ok.example"
        let mut list = vec![0x01, 0x00, 0x02, b'z', b'z', 0x00, 0x00, 0x0a];
        list.extend_from_slice(b"ok.example");
        let mut data = u16::try_from(list.len()).unwrap().to_be_bytes().to_vec();
        data.extend_from_slice(&list);
        let msg = hello_msg(&[ext(EXT_SERVER_NAME, &data)]);
        assert_eq!(parse_client_hello_message(&msg).unwrap().sni, Some("ok.example".into()));
    }

    #[test]
    fn broken_sni_extension_is_malformed() {
        for data in [
            &[][..],
            &[0x00, 0x05, 0x00, 0x00, 0x02, b'a'], // list longer than data
            &[0x00, 0x02, 0x00, 0x00, 0x00],       // trailing byte after list
            &[0x00, 0x04, 0x00, 0x00, 0x05, b'a'], // name longer than list
        ] {
            let msg = hello_msg(&[ext(EXT_SERVER_NAME, data)]);
            assert_eq!(parse_client_hello_message(&msg), Err(Malformed), "{data:?}");
        }
    }

    #[test]
    fn alpn_skips_grease_and_requires_printable() {
        let cases: [(&[&[u8]], Option<&str>); 5] = [
            (&[b"zz", b"h3"], Some("h3")),
            (&[b"\x0a\x0a", b"**", b"http/1.1"], Some("http/1.1")),
            (&[b"h\x00"], None),
            (&[b"h 2"], None),
            (&[b"zz"], None),
        ];
        for (names, expected) in cases {
            let msg = hello_msg(&[alpn_ext(names)]);
            let hello = parse_client_hello_message(&msg).unwrap();
            assert_eq!(hello.alpn.as_deref(), expected, "{names:?}");
        }
    }

    #[test]
    fn a_corrupted_extension_tail_keeps_the_server_name() {
        // An extension header claiming 0x4fc6 bytes where 10 remain.
        let garbage = [0x47, 0xe3, 0x4f, 0xc6, 0x94, 0x35, 0x77, 0xc3, 0x44, 0x38, 0x78, 0x70, 0x13, 0xce];
        let msg = hello_msg(&[sni_ext(b"e.crashlytics.com"), garbage.to_vec()]);
        assert_eq!(parse_client_hello_message(&msg).unwrap().sni, Some("e.crashlytics.com".into()));
        let before = hello_msg(&[garbage.to_vec(), sni_ext(b"e.crashlytics.com")]);
        assert_eq!(parse_client_hello_message(&before).unwrap().sni, None, "nothing after the break is read");
    }

    #[test]
    fn broken_alpn_extension_loses_only_the_alpn() {
        for data in [&[0x00, 0x00][..], &[0x00, 0x01, 0x00], &[0x00, 0x03, 0x05, b'h', b'2'], &[0xb8, 0x89, 0x02]] {
            let msg = hello_msg(&[sni_ext(b"e.crashlytics.com"), ext(EXT_ALPN, data)]);
            let hello = parse_client_hello_message(&msg).unwrap();
            assert_eq!((hello.sni, hello.alpn), (Some("e.crashlytics.com".into()), None), "{data:?}");
        }
    }

    #[test]
    fn ech_extension_detected() {
        let msg = hello_msg(&[ext(EXT_ENCRYPTED_CLIENT_HELLO, &[0x00]), sni_ext(b"public.example")]);
        let hello = parse_client_hello_message(&msg).unwrap();
        assert!(hello.ech);
        assert_eq!(hello.sni, Some("public.example".into()));
        let without = parse_client_hello_message(&hello_msg(&[sni_ext(b"x.y")])).unwrap();
        assert!(!without.ech);
    }

    #[test]
    fn duplicate_interesting_extensions_are_malformed() {
        for dup in [sni_ext(b"a.example"), alpn_ext(&[b"h2"]), ext(EXT_ENCRYPTED_CLIENT_HELLO, &[])] {
            let msg = hello_msg(&[dup.clone(), dup]);
            assert_eq!(parse_client_hello_message(&msg), Err(Malformed));
        }
        // Other duplicates (here GREASE) are not our business.
        let msg = hello_msg(&[ext(0x0a0a, &[]), ext(0x0a0a, &[])]);
        assert!(parse_client_hello_message(&msg).is_ok());
    }

    #[test]
    fn session_id_over_32_bytes_is_malformed() {
        let mut msg = hello_msg(&[sni_ext(b"a.example")]);
        assert!(parse_client_hello_message(&msg).is_ok());
        // Grow the 32-byte session id by one byte, keeping lengths consistent.
        msg.insert(39, 0x77);
        msg[38] = 33;
        msg[3] += 1;
        assert_eq!(parse_client_hello_message(&msg), Err(Malformed));
    }

    #[test]
    fn hello_without_extensions_block() {
        let mut msg = TINY_RECORD[RECORD_HEADER_LEN..].to_vec();
        msg.truncate(HANDSHAKE_HEADER_LEN + 2 + 32 + 1 + 4 + 2);
        msg[3] = u8::try_from(msg.len() - HANDSHAKE_HEADER_LEN).unwrap();
        let hello = parse_client_hello_message(&msg).unwrap();
        assert_eq!(hello, ClientHello { sni: None, alpn: None, ech: false });
    }

    #[test]
    fn structural_errors_are_malformed() {
        let good = TINY_RECORD[RECORD_HEADER_LEN..].to_vec();
        assert!(parse_client_hello_message(&good).is_ok());
        let mutate = |at: usize, value: u8| {
            let mut msg = good.clone();
            msg[at] = value;
            parse_client_hello_message(&msg)
        };
        assert_eq!(mutate(0, 0x02), Err(Malformed), "server hello type");
        assert_eq!(mutate(3, 0x41), Err(Malformed), "body longer than message");
        assert_eq!(mutate(38, 33), Err(Malformed), "session id too long");
        assert_eq!(mutate(40, 0x03), Err(Malformed), "odd cipher suites length");
        // Zero compression methods, in a hello that is otherwise consistent.
        let mut no_compression = good[..44].to_vec();
        no_compression[43] = 0x00;
        no_compression[3] = 40;
        assert_eq!(parse_client_hello_message(&no_compression), Err(Malformed));
        no_compression[43] = 0x01;
        no_compression.push(0x00);
        no_compression[3] = 41;
        assert!(parse_client_hello_message(&no_compression).is_ok());
        assert_eq!(mutate(46, 0x12), Err(Malformed), "extensions shorter than block");
        assert_eq!(parse_client_hello_message(&good[..3]), Err(Malformed));
        assert_eq!(parse_client_hello_message(&[]), Err(Malformed));
    }

    #[test]
    fn oversized_handshake_is_malformed() {
        let header = [0x01, 0x01, 0x00, 0x01]; // 65537-byte body
        assert_eq!(parse_client_hello_message(&header), Err(Malformed));
        let stream = [&[0x16, 0x03, 0x01, 0x00, 0x04][..], &header].concat();
        assert_eq!(client_hello_from_stream(&stream), StreamHello::Malformed);
        // Exactly 64 KiB is still accepted as "need more".
        let stream = [0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x01, 0x00, 0x00];
        assert_eq!(client_hello_from_stream(&stream), StreamHello::NeedMore { total: None });
    }

    #[test]
    fn bad_records_are_malformed() {
        // Non-ClientHello first message.
        assert_eq!(
            client_hello_from_stream(&[0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0x00, 0x00, 0x26]),
            StreamHello::Malformed
        );
        // Zero-length and oversized fragments.
        assert_eq!(client_hello_from_stream(&[0x16, 0x03, 0x01, 0x00, 0x00]), StreamHello::Malformed);
        assert_eq!(client_hello_from_stream(&[0x16, 0x03, 0x01, 0x40, 0x01]), StreamHello::Malformed);
        // Hello fragment followed by a non-handshake record.
        let msg = hello_msg(&[sni_ext(b"a.example")]);
        let mut stream = records(&msg[..10], &[10]);
        stream.extend_from_slice(&[0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x28]);
        assert_eq!(client_hello_from_stream(&stream), StreamHello::Malformed);
        // Continuation record with a non-TLS version, then a valid one.
        let mut stream = records(&msg, &[10]);
        stream[16] = 0x02;
        assert_eq!(client_hello_from_stream(&stream), StreamHello::Malformed);
        stream[16] = 0x03;
        assert!(matches!(client_hello_from_stream(&stream), StreamHello::Hello(_)));
        // Complete record whose hello body is broken.
        let mut broken = TINY_RECORD;
        broken[50] = 0xff;
        assert_eq!(client_hello_from_stream(&broken), StreamHello::Malformed);
    }

    #[test]
    fn post_quantum_hello_spans_several_segments() {
        let msg = pq_hello_msg();
        assert!(msg.len() > 1700, "hello is {} bytes", msg.len());
        let stream = records(&msg, &[msg.len()]);
        // First TCP segment (MSS 1460) is not enough; the total is known.
        assert_eq!(client_hello_from_stream(&stream[..1460]), StreamHello::NeedMore { total: Some(stream.len()) });
        let hello = expect_hello(client_hello_from_stream(&stream));
        assert_eq!(hello, ClientHello { sni: Some("push.apple.com".into()), alpn: Some(Box::from("h2")), ech: true });
    }

    #[test]
    fn hello_split_over_two_records() {
        let msg = pq_hello_msg();
        let stream = records(&msg, &[1000]);
        assert_eq!(stream.len(), msg.len() + 2 * RECORD_HEADER_LEN);
        // Inside the first record the total is not knowable yet.
        assert_eq!(client_hello_from_stream(&stream[..500]), StreamHello::NeedMore { total: None });
        // Right at the boundary the next record header is still missing.
        assert_eq!(client_hello_from_stream(&stream[..1005]), StreamHello::NeedMore { total: None });
        // Once the second record header is in, the total is known.
        assert_eq!(client_hello_from_stream(&stream[..1012]), StreamHello::NeedMore { total: Some(stream.len()) });
        let hello = expect_hello(client_hello_from_stream(&stream));
        assert_eq!(hello.sni, Some("push.apple.com".into()));
        assert!(hello.ech);
    }

    #[test]
    fn handshake_header_split_across_records() {
        let msg = RFC8448_RECORD[RECORD_HEADER_LEN..].to_vec();
        for sizes in [&[1_usize][..], &[2, 50], &[3, 1, 200], &[7]] {
            let stream = records(&msg, sizes);
            let hello = expect_hello(client_hello_from_stream(&stream));
            assert_eq!(hello.sni, Some("server".into()), "{sizes:?}");
        }
    }

    #[test]
    fn fragmented_hello_with_broken_body_is_malformed() {
        let mut msg = RFC8448_RECORD[RECORD_HEADER_LEN..].to_vec();
        msg[HANDSHAKE_HEADER_LEN + 34] = 0xff; // session id length
        let stream = records(&msg, &[100]);
        assert_eq!(client_hello_from_stream(&stream), StreamHello::Malformed);
    }

    use synth::XorShift;

    /// Checks what must hold for any input; returns the outcome's variant
    /// index so callers can check the mutations exercised every outcome.
    fn check_invariants(stream: &[u8]) -> usize {
        let msg = stream.get(RECORD_HEADER_LEN..).unwrap_or(&[]);
        if let Ok(hello) = parse_client_hello_message(msg) {
            check_hello(&hello);
        }
        match client_hello_from_stream(stream) {
            StreamHello::NeedMore { total: None } => 0,
            StreamHello::NeedMore { total: Some(total) } => {
                assert!(total > stream.len());
                1
            }
            StreamHello::NotTls => {
                assert!(!looks_like_handshake_record(stream));
                2
            }
            StreamHello::Malformed => 3,
            StreamHello::Hello(hello) => {
                check_hello(&hello);
                4
            }
        }
    }

    fn check_hello(hello: &ClientHello) {
        if let Some(sni) = &hello.sni {
            assert!((1..=MAX_HOST_NAME_LEN).contains(&sni.len()), "{sni:?}");
            assert!(sni.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-')));
        }
        if let Some(alpn) = &hello.alpn {
            assert!(!alpn.is_empty() && alpn.bytes().all(|b| b.is_ascii_graphic()), "{alpn:?}");
        }
    }

    #[test]
    fn every_prefix_needs_more_and_random_mutations_never_panic() {
        let pq = pq_hello_msg();
        let seeds = [
            RFC8448_RECORD.to_vec(),
            TINY_RECORD.to_vec(),
            records(&pq, &[pq.len()]),
            records(&pq, &[700, 3, 2000]),
            records(&RFC8448_RECORD[RECORD_HEADER_LEN..], &[2, 1, 60]),
            records(&RFC8448_RECORD[RECORD_HEADER_LEN..], &[195, 1]),
        ];
        for seed in &seeds {
            assert!(matches!(client_hello_from_stream(seed), StreamHello::Hello(_)));
            for cut in 0..seed.len() {
                let prefix = &seed[..cut];
                match client_hello_from_stream(prefix) {
                    // Every seed ends with its hello, so a known total
                    // must be exactly the seed's length.
                    StreamHello::NeedMore { total } => {
                        assert!(total.is_none_or(|t| t == seed.len()), "cut {cut}: {total:?}");
                    }
                    other => panic!("prefix of {cut} bytes gave {other:?}"),
                }
                check_invariants(prefix);
            }
        }
        let mut rng = XorShift::new(0x9e37_79b9_7f4a_7c15);
        let mut outcomes = [0_usize; 5];
        for round in 0..20_000 {
            let mut input = seeds[round % seeds.len()].clone();
            for _ in 0..=rng.below(4) {
                let at = rng.below(input.len());
                match rng.below(6) {
                    0 => input[at] = u8::try_from(rng.below(256)).unwrap(),
                    1 => input[at] ^= 1 << rng.below(8),
                    2 => input.truncate(at),
                    3 => input.insert(at, u8::try_from(rng.below(256)).unwrap()),
                    4 if at < input.len() => {
                        input.remove(at);
                    }
                    // Length fields are where bugs hide: force extremes.
                    _ => input[at] = [0x00, 0x01, 0x7f, 0x80, 0xff][rng.below(5)],
                }
                if input.is_empty() {
                    input.push(0x16);
                }
            }
            outcomes[check_invariants(&input)] += 1;
        }
        assert!(outcomes.iter().all(|&n| n > 100), "outcomes {outcomes:?}");
    }
}
