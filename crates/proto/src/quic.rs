//! QUIC client Initial packets: finds the hello a client sends in its first
//! Initial packets, so that its server name can be read.
//!
//! Most versions protect Initials with keys that anyone can derive from the
//! client's Destination Connection ID and the version's salt (RFC 9001 §5.2,
//! RFC 9369 §3.3), so an observer can remove header protection, open the
//! AEAD and reassemble the CRYPTO stream: QUIC v1 and v2, IETF drafts 22 to
//! 32, Meta's mvfst versions and Google's Q050, T050 and T051 ([`version`]
//! has the table, [`keys`] the key schedule). Google's older versions (Q024
//! to Q046) send their hello in plaintext ([`gquic`]). TLS-based versions
//! carry a TLS ClientHello; Google's Q versions a QUIC Crypto CHLO, whose
//! tag/value map [`gquic::parse_chlo`] reads.
//!
//! Work and memory per flow are bounded: at most [`MAX_INITIALS`] Initial
//! packets are decrypted or parsed, the CRYPTO stream buffer never exceeds
//! [`MAX_CRYPTO`] bytes, and once a flow has its hello or has given up, each
//! further datagram costs a header walk and no cryptography.

use core::fmt;

pub mod gquic;
pub mod keys;
pub mod version;

use crate::reader::{Malformed, Reader};
use keys::InitialKeys;
use version::{Framing, Handshake, Layout, Protected};
pub use version::{
    GQUIC_Q043, GQUIC_Q046, GQUIC_Q050, GQUIC_T050, GQUIC_T051, MVFST_22, MVFST_27, MVFST_EXP, QUIC_DRAFT_22,
    QUIC_DRAFT_23, QUIC_DRAFT_27, QUIC_DRAFT_28, QUIC_DRAFT_29, QUIC_DRAFT_32, QUIC_V1, QUIC_V2, initial_type_bits,
};

/// Initial packets a flow may decrypt before it gives up: a ClientHello
/// rarely needs more than two (post-quantum key shares), so eight leaves room
/// for retransmissions and a Retry without letting a flow burn AEAD work.
pub const MAX_INITIALS: u8 = 8;
/// Largest CRYPTO stream offset a flow buffers. Real ClientHellos, including
/// post-quantum ones, stay well below this.
pub const MAX_CRYPTO: usize = 16 * 1024;
/// Packets walked in one datagram: a client coalesces at most one packet per
/// packet type, so more than this is garbage not worth parsing.
const MAX_COALESCED: usize = 8;
/// Longest connection ID QUIC v1 and v2 allow (RFC 9000 §17.2).
pub const MAX_CID_LEN: usize = 20;
/// Header protection sample length for AES (RFC 9001 §5.4.2).
pub const SAMPLE_LEN: usize = 16;
/// AEAD tag length of AES-128-GCM.
pub const TAG_LEN: usize = 16;
/// The header protection sample starts this far after the packet number
/// offset, as if the packet number were 4 bytes long (RFC 9001 §5.4.2).
pub const PN_MAX_LEN: usize = 4;
/// Clients pad datagrams carrying Initials to at least this many bytes
/// (RFC 9000 §14.1); a long header of an unknown version is only taken
/// for a QUIC client's first packet at this size.
const MIN_INITIAL_DATAGRAM: usize = 1200;
/// TLS handshake message type of a ClientHello.
const CLIENT_HELLO: u8 = 1;

/// What one call to [`ClientInitials::on_datagram`] found, for the flow so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress<'a> {
    /// Nothing in this flow has decrypted as a QUIC Initial of a version we
    /// read ([`version::layout`]): the datagrams held no such packet, or
    /// their Initials failed to decrypt while the flow is still under the
    /// packet bound.
    NotQuic,
    /// At least one Initial decrypted, but the hello is not complete yet.
    NeedMore,
    /// The CRYPTO stream is contiguous from offset 0 through the end of the
    /// first handshake message (4-byte header + body): these bytes start with
    /// the handshake header (type 1, ClientHello).
    Hello(&'a [u8]),
    /// A Google QUIC Crypto CHLO message, complete: read it with
    /// [`gquic::parse_chlo`].
    Chlo(&'a [u8]),
    /// Stopped spending work on this flow.
    GaveUp(GiveUpReason),
}

/// Why a flow stopped looking for its ClientHello.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUpReason {
    /// [`MAX_INITIALS`] Initial packets were examined, some decrypted, and
    /// the ClientHello is still incomplete.
    TooManyPackets,
    /// The CRYPTO stream reached past [`MAX_CRYPTO`] bytes, or the
    /// ClientHello announces a length that would.
    CryptoTooLarge,
    /// [`MAX_INITIALS`] Initial packets were examined and none decrypted.
    DecryptFailed,
    /// A decrypted packet held a truncated frame, or the CRYPTO stream does
    /// not start with a ClientHello.
    Malformed,
}

impl From<Malformed> for GiveUpReason {
    fn from(Malformed: Malformed) -> Self {
        GiveUpReason::Malformed
    }
}

/// Per-flow state for the client's Initial packets.
pub struct ClientInitials {
    status: Status,
    /// The first Destination Connection ID seen: Initial keys stay derived
    /// from it even after the client switches to the server's connection ID.
    first_dcid: Option<ConnId>,
    /// Slot 0 caches keys for the first DCID, slot 1 for the latest other
    /// DCID (after a Retry the client derives keys from the new one), so each
    /// DCID costs one derivation.
    keys: [Option<CachedKeys>; 2],
    crypto: CryptoStream,
    /// Largest Initial packet number decrypted, to expand truncated ones.
    largest_pn: Option<u64>,
    /// Initial packets of a supported version whose decryption was tried.
    examined: u8,
    decrypted_any: bool,
    skipped: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Pending,
    /// The hello is `buf[..len]` of the CRYPTO stream.
    Hello(usize),
    GaveUp(GiveUpReason),
}

struct CachedKeys {
    version: u32,
    cid: ConnId,
    client: InitialKeys,
}

impl Default for ClientInitials {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ClientInitials {
    // Keys are opaque; the counters are what a reader needs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientInitials")
            .field("status", &self.status)
            .field("examined", &self.examined)
            .field("crypto_contiguous", &self.crypto.contiguous)
            .field("skipped", &self.skipped)
            .finish_non_exhaustive()
    }
}

impl ClientInitials {
    /// State for a new flow; allocates nothing until CRYPTO data arrives.
    #[must_use]
    pub fn new() -> Self {
        Self {
            status: Status::Pending,
            first_dcid: None,
            keys: [None, None],
            crypto: CryptoStream::default(),
            largest_pn: None,
            examined: 0,
            decrypted_any: false,
            skipped: 0,
        }
    }

    /// `datagram`: one client->server UDP payload; may hold several coalesced
    /// QUIC packets (each long-header packet is delimited by its Length
    /// field; non-Initial ones are skipped). Google QUIC's plaintext hellos
    /// (Q024-Q046) fill their datagram.
    pub fn on_datagram(&mut self, datagram: &[u8]) -> Progress<'_> {
        match self.status {
            Status::Pending => {}
            Status::Hello(_) => return self.progress(),
            Status::GaveUp(_) => {
                // Counted from the headers alone, so that a flow we gave up
                // on costs no cryptography.
                self.skipped = self.skipped.saturating_add(count_initials(datagram));
                return self.progress();
            }
        }
        if let Some(plain) = plain_gquic(datagram) {
            if let Err(reason) = self.on_plain(datagram, &plain) {
                self.give_up(reason);
            }
            return self.progress();
        }
        let mut rest = datagram;
        for _ in 0..MAX_COALESCED {
            let Some(header) = LongHeader::parse(rest) else {
                // Short header, unknown version, Retry or truncation: the
                // rest of the datagram cannot be delimited.
                break;
            };
            let Some((packet, tail)) = rest.split_at_checked(header.end) else {
                break;
            };
            rest = tail;
            if header.initial {
                if let Err(reason) = self.on_initial(packet, &header) {
                    self.give_up(reason);
                }
                if self.status != Status::Pending {
                    break;
                }
            }
        }
        self.progress()
    }

    /// Initial packets whose decryption was attempted and failed, plus the
    /// Initials that came after the flow gave up (for counters).
    #[must_use]
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    fn progress(&self) -> Progress<'_> {
        match self.status {
            Status::Hello(len) => match (self.crypto.buf.get(..len), self.crypto.kind) {
                (Some(bytes), Some(Handshake::Chlo)) => Progress::Chlo(bytes),
                (Some(bytes), _) => Progress::Hello(bytes),
                (None, _) => Progress::GaveUp(GiveUpReason::Malformed),
            },
            Status::GaveUp(reason) => Progress::GaveUp(reason),
            Status::Pending if self.decrypted_any => Progress::NeedMore,
            Status::Pending => Progress::NotQuic,
        }
    }

    fn give_up(&mut self, reason: GiveUpReason) {
        self.status = Status::GaveUp(reason);
        // Nothing more will be decrypted or buffered: free it now.
        self.crypto = CryptoStream::default();
        self.keys = [None, None];
    }

    /// Reads one plaintext Google QUIC packet's frames.
    fn on_plain(&mut self, datagram: &[u8], plain: &gquic::PlainPacket) -> Result<(), GiveUpReason> {
        self.examined = self.examined.saturating_add(1);
        self.decrypted_any = true;
        let frames = datagram.get(plain.frames..).ok_or(GiveUpReason::Malformed)?;
        self.read_google_frames(frames, plain.number, plain.pn_len, Handshake::Chlo)?;
        self.after_packet()
    }

    /// Decrypts one Initial packet and feeds its frames to the CRYPTO stream.
    fn on_initial(&mut self, packet: &[u8], header: &LongHeader<'_>) -> Result<(), GiveUpReason> {
        self.examined = self.examined.saturating_add(1);
        let dcid = ConnId::new(header.dcid).ok_or(GiveUpReason::Malformed)?;
        let first = *self.first_dcid.get_or_insert(dcid);
        let mut opened = self.open(header, first, 0, packet);
        if opened.is_none() && dcid != first {
            opened = self.open(header, dcid, 1, packet);
        }
        match opened {
            Some(open) => {
                self.decrypted_any = true;
                self.largest_pn = Some(self.largest_pn.map_or(open.pn, |pn| pn.max(open.pn)));
                let plaintext = open.buf.get(open.plaintext).ok_or(GiveUpReason::Malformed)?;
                match header.protection.framing {
                    Framing::Ietf => self.read_frames(plaintext)?,
                    Framing::Google => {
                        // Q050 and T05x number their frames as gQUIC did;
                        // the digits of the version are its number.
                        let number = if header.version == GQUIC_T051 { 51 } else { 50 };
                        self.read_google_frames(plaintext, number, open.pn_len, header.protection.handshake)?;
                    }
                }
            }
            None => self.skipped = self.skipped.saturating_add(1),
        }
        self.after_packet()
    }

    /// Whether the hello is complete now, or the packet bound is reached.
    fn after_packet(&mut self) -> Result<(), GiveUpReason> {
        if let Some(len) = self.crypto.hello_len()? {
            self.status = Status::Hello(len);
            // The keys are no longer needed; the hello bytes are.
            self.keys = [None, None];
        } else if self.examined >= MAX_INITIALS {
            return Err(if self.decrypted_any { GiveUpReason::TooManyPackets } else { GiveUpReason::DecryptFailed });
        }
        Ok(())
    }

    /// Opens `packet` with the client Initial keys for (`version`, `cid`),
    /// cached in `slot`.
    fn open(&mut self, header: &LongHeader<'_>, cid: ConnId, slot: usize, packet: &[u8]) -> Option<Opened> {
        let cached = self.keys.get_mut(slot)?;
        let fresh = cached.as_ref().is_none_or(|c| c.version != header.version || c.cid != cid);
        if fresh {
            let p = header.protection;
            let client = InitialKeys::client(p.salt, p.labels, cid.as_slice())?;
            *cached = Some(CachedKeys { version: header.version, cid, client });
        }
        let keys = &cached.as_ref()?.client;
        open_packet(keys, packet, header.pn_offset, self.largest_pn)
    }

    fn read_frames(&mut self, plaintext: &[u8]) -> Result<(), GiveUpReason> {
        let mut r = Reader::new(plaintext);
        while !r.is_empty() {
            match r.varint()? {
                // PADDING is usually a long run of zero bytes.
                0x00 => r.skip_while(|b| b == 0),
                0x01 => {} // PING
                ty @ (0x02 | 0x03) => skip_ack(&mut r, ty == 0x03)?,
                0x06 => {
                    let offset = r.varint()?;
                    let len = r.varint()?;
                    let data = r.take_u64(len)?;
                    self.crypto.insert(Handshake::Tls, offset, data)?;
                }
                0x1c => {
                    // CONNECTION_CLOSE: error code, frame type, reason phrase.
                    r.varint()?;
                    r.varint()?;
                    let len = r.varint()?;
                    r.take_u64(len)?;
                }
                // Any other frame's length is unknown to us; the rest of the
                // packet cannot be delimited.
                _ => return Ok(()),
            }
        }
        Ok(())
    }

    fn read_google_frames(
        &mut self,
        frames: &[u8],
        number: u8,
        pn_len: usize,
        kind: Handshake,
    ) -> Result<(), GiveUpReason> {
        let mut result = Ok(());
        let walked = gquic::walk_frames(frames, number, pn_len, |offset, data| {
            result = self.crypto.insert(kind, offset, data);
            result.ok()
        });
        result?;
        walked.map_err(GiveUpReason::from)
    }
}

/// Skips the body of an ACK frame (RFC 9000 §19.3); `ecn` for type 0x03.
fn skip_ack(r: &mut Reader<'_>, ecn: bool) -> Result<(), Malformed> {
    r.varint()?; // Largest Acknowledged
    r.varint()?; // ACK Delay
    let ranges = r.varint()?;
    r.varint()?; // First ACK Range
    // Each range takes at least two bytes, so a huge count ends at the
    // plaintext's end instead of looping on.
    for _ in 0..ranges {
        r.varint()?; // Gap
        r.varint()?; // ACK Range Length
    }
    if ecn {
        for _ in 0..3 {
            r.varint()?;
        }
    }
    Ok(())
}

/// A plaintext Google QUIC client packet (Q024-Q046) that starts `datagram`.
fn plain_gquic(datagram: &[u8]) -> Option<gquic::PlainPacket> {
    let first = *datagram.first()?;
    if first & 0x80 != 0 {
        let version = u32::from_be_bytes(*datagram.get(1..5)?.first_chunk()?);
        return match version::layout(version)? {
            Layout::GoogleLong => gquic::parse_q046(datagram, version),
            _ => None,
        };
    }
    // The public header's version follows the flags and connection ID.
    let version = u32::from_be_bytes(*datagram.get(9..13)?.first_chunk()?);
    match version::layout(version)? {
        Layout::GooglePublic { version: number } => gquic::parse_public(datagram, version, number),
        _ => None,
    }
}

/// Client Initial packets in `datagram`, from their headers alone.
fn count_initials(datagram: &[u8]) -> u64 {
    if plain_gquic(datagram).is_some() {
        return 1;
    }
    let mut rest = datagram;
    let mut initials = 0;
    for _ in 0..MAX_COALESCED {
        let Some(header) = LongHeader::parse(rest) else { break };
        initials += u64::from(header.initial);
        match rest.get(header.end..) {
            Some(tail) => rest = tail,
            None => break,
        }
    }
    initials
}

/// Cheap dispatch test for a client Initial: long header, fixed bit,
/// Initial type for the version, connection IDs of at most 20 bytes, and
/// token and Length fields that fit the datagram with room for the header
/// protection sample; or a Google QUIC plaintext hello header.
#[must_use]
pub fn looks_like_client_initial(datagram: &[u8]) -> bool {
    plain_gquic(datagram).is_some()
        || LongHeader::parse(datagram).is_some_and(|h| {
            h.initial && h.end.checked_sub(h.pn_offset).is_some_and(|len| len >= PN_MAX_LEN + SAMPLE_LEN)
        })
}

/// Whether a client's datagram starts a QUIC flow whose Initial may come
/// later: a 0-RTT or Handshake packet of a version we read (reordered
/// ahead of its Initial), or a full-size Initial of a version that forces
/// Version Negotiation (the client retries with one the server offers).
#[must_use]
pub fn looks_like_client_quic(datagram: &[u8]) -> bool {
    if looks_like_client_initial(datagram) || LongHeader::parse(datagram).is_some() {
        return true;
    }
    let mut r = Reader::new(datagram);
    let (Ok(first), Ok(version)) = (r.u8(), r.array::<4>()) else { return false };
    first & 0xc0 == 0xc0
        && version::forces_negotiation(u32::from_be_bytes(version))
        && datagram.len() >= MIN_INITIAL_DATAGRAM
}

/// Whether a server's datagram is a Version Negotiation packet (RFC 9000
/// §17.2.1): long header, version 0, then the versions the server offers.
#[must_use]
pub fn is_version_negotiation(datagram: &[u8]) -> bool {
    let mut r = Reader::new(datagram);
    let (Ok(first), Ok(version)) = (r.u8(), r.array::<4>()) else { return false };
    first & 0x80 != 0
        && version == [0; 4]
        && connection_id(&mut r).is_ok()
        && connection_id(&mut r).is_ok()
        && r.rest().len() % 4 == 0
}

/// Derives the client's Initial keys (~3 µs, so callers cache them);
/// `None` for a version whose Initials are not protected this way.
#[must_use]
pub fn client_keys(version: u32, dcid: &[u8]) -> Option<InitialKeys> {
    match version::layout(version)? {
        Layout::Protected(p) => InitialKeys::client(p.salt, p.labels, dcid),
        Layout::GooglePublic { .. } | Layout::GoogleLong => None,
    }
}

/// A decrypted packet: `buf[plaintext]` is the frame payload.
struct Opened {
    buf: Vec<u8>,
    plaintext: core::ops::Range<usize>,
    pn: u64,
    pn_len: usize,
}

/// Removes header protection from a copy of `packet` and opens its AEAD.
/// `None` if the packet is too short or does not authenticate.
fn open_packet(keys: &InitialKeys, packet: &[u8], pn_offset: usize, largest_pn: Option<u64>) -> Option<Opened> {
    let sample_start = pn_offset.checked_add(PN_MAX_LEN)?;
    let sample = packet.get(sample_start..sample_start.checked_add(SAMPLE_LEN)?)?;
    let mask = keys.mask(sample)?;
    // Long header: the low four bits of the first byte are protected.
    let first = *packet.first()? ^ (mask[0] & 0x0f);
    let pn_len = usize::from(first & 0x03) + 1;
    let header_end = pn_offset.checked_add(pn_len)?;
    if packet.len().checked_sub(header_end)? < TAG_LEN {
        return None;
    }

    // The AAD is the header with protection removed.
    let mut buf = packet.to_vec();
    *buf.first_mut()? = first;
    let pn_bytes = buf.get_mut(pn_offset..header_end)?;
    for (byte, m) in pn_bytes.iter_mut().zip(mask.get(1..)?) {
        *byte ^= m;
    }
    let truncated = pn_bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    let pn = decode_packet_number(largest_pn, truncated, pn_len);
    let (header, payload) = buf.split_at_mut(header_end);
    let plain_len = keys.open(pn, header, payload)?.len();
    Some(Opened { buf, plaintext: header_end..header_end.checked_add(plain_len)?, pn, pn_len })
}

/// Expands a truncated packet number of `pn_len` bytes (RFC 9000
/// Appendix A.3).
fn decode_packet_number(largest: Option<u64>, truncated: u64, pn_len: usize) -> u64 {
    let expected = largest.map_or(0, |l| l.saturating_add(1));
    let bits = u32::try_from(pn_len.saturating_mul(8)).map_or(32, |b| b.min(32));
    let win = 1u64 << bits;
    let half = win >> 1;
    let candidate = (expected & !win.wrapping_sub(1)) | truncated;
    let above = candidate.saturating_add(win);
    if candidate.saturating_add(half) <= expected && above < 1 << 62 {
        above
    } else if candidate > expected.saturating_add(half) && candidate >= win {
        candidate.saturating_sub(win)
    } else {
        candidate
    }
}

/// A connection ID, copied so that the flow state owns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ConnId {
    len: u8,
    bytes: [u8; MAX_CID_LEN],
}

impl ConnId {
    fn new(cid: &[u8]) -> Option<Self> {
        let mut bytes = [0u8; MAX_CID_LEN];
        bytes.get_mut(..cid.len())?.copy_from_slice(cid);
        Some(Self { len: u8::try_from(cid.len()).ok()?, bytes })
    }

    fn as_slice(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

/// The fields of a long-header packet that delimit and decrypt it.
struct LongHeader<'a> {
    version: u32,
    protection: Protected,
    initial: bool,
    dcid: &'a [u8],
    /// Offset of the packet number from the packet's first byte.
    pn_offset: usize,
    /// Offset just past the packet (Length field) from its first byte.
    end: usize,
}

impl<'a> LongHeader<'a> {
    /// Parses the long header at the start of `bytes`; `None` if it is not
    /// one of a version we decrypt, is a Retry, or does not fit.
    fn parse(bytes: &'a [u8]) -> Option<Self> {
        let mut r = Reader::new(bytes);
        let first = r.u8().ok()?;
        // Long header form and fixed bit (RFC 9000 §17.2).
        if first & 0xc0 != 0xc0 {
            return None;
        }
        let version = u32::from_be_bytes(r.array().ok()?);
        let Layout::Protected(protection) = version::layout(version)? else { return None };
        let initial_bits = initial_type_bits(version)?;
        let dcid = connection_id(&mut r).ok()?;
        connection_id(&mut r).ok()?; // Source Connection ID
        let type_bits = (first >> 4) & 0x03;
        if Some(type_bits) == version::retry_type_bits(version) {
            return None;
        }
        let initial = type_bits == initial_bits;
        if initial {
            let token_len = r.varint().ok()?;
            r.take_u64(token_len).ok()?;
        }
        let length = usize::try_from(r.varint().ok()?).ok()?;
        let pn_offset = r.position();
        let end = pn_offset.checked_add(length)?;
        (end <= bytes.len()).then_some(Self { version, protection, initial, dcid, pn_offset, end })
    }
}

/// A connection ID with its one-byte length, at most 20 bytes.
fn connection_id<'a>(r: &mut Reader<'a>) -> Result<&'a [u8], Malformed> {
    let cid = r.vec8()?;
    if cid.len() > MAX_CID_LEN { Err(Malformed) } else { Ok(cid) }
}

/// Resizes `v` to `len`, doubling its capacity as it grows but never past
/// `cap` (≥ `len`), where `resize` alone could over-allocate.
fn grow_within<T: Clone>(v: &mut Vec<T>, len: usize, cap: usize, fill: T) {
    let target = len.max(v.capacity().saturating_mul(2)).min(cap);
    v.reserve_exact(target.saturating_sub(v.len()));
    v.resize(len, fill);
}

/// The CRYPTO stream, reassembled by offset in any order.
#[derive(Default)]
struct CryptoStream {
    /// What the stream carries, from the first data inserted.
    kind: Option<Handshake>,
    /// Stream offset of `buf[0]`: 0 for TLS; for a CHLO, the offset of the
    /// data that starts with its tag (a capture may begin with the full
    /// CHLO that follows an inchoate one, further into the stream).
    base: u64,
    /// Bytes received, at their offsets from `base`; grows up to [`MAX_CRYPTO`].
    buf: Vec<u8>,
    /// One bit per byte of `buf`: whether it has been received.
    received: Vec<u64>,
    /// Length of the gap-free prefix of the stream.
    contiguous: usize,
}

impl CryptoStream {
    fn insert(&mut self, kind: Handshake, offset: u64, data: &[u8]) -> Result<(), GiveUpReason> {
        const TOO_LARGE: GiveUpReason = GiveUpReason::CryptoTooLarge;
        match self.kind {
            None if kind == Handshake::Chlo && !data.starts_with(gquic::CHLO) => return Ok(()),
            None => {
                self.kind = Some(kind);
                self.base = if kind == Handshake::Chlo { offset } else { 0 };
            }
            Some(k) if k != kind => return Err(GiveUpReason::Malformed),
            Some(_) => {}
        }
        // Data before a CHLO's start is an earlier message.
        let Some(offset) = offset.checked_sub(self.base) else { return Ok(()) };
        let start = usize::try_from(offset).map_err(|_| TOO_LARGE)?;
        let end = start.checked_add(data.len()).ok_or(TOO_LARGE)?;
        if end > MAX_CRYPTO {
            return Err(TOO_LARGE);
        }
        if end > self.buf.len() {
            grow_within(&mut self.buf, end, MAX_CRYPTO, 0);
            grow_within(&mut self.received, end.div_ceil(64), MAX_CRYPTO.div_ceil(64), 0);
        }
        // Overlaps simply overwrite: retransmitted data is identical.
        self.buf.get_mut(start..end).ok_or(TOO_LARGE)?.copy_from_slice(data);
        for i in start..end {
            if let Some(word) = self.received.get_mut(i / 64) {
                *word |= 1 << (i % 64);
            }
        }
        while self.is_received(self.contiguous) {
            self.contiguous = self.contiguous.saturating_add(1);
        }
        Ok(())
    }

    fn is_received(&self, i: usize) -> bool {
        i < self.buf.len() && self.received.get(i / 64).is_some_and(|word| word & (1 << (i % 64)) != 0)
    }

    /// The length of the complete first handshake message, once the stream
    /// holds it without gaps.
    fn hello_len(&self) -> Result<Option<usize>, GiveUpReason> {
        let prefix = self.buf.get(..self.contiguous).unwrap_or(&[]);
        match self.kind {
            None => Ok(None),
            Some(Handshake::Tls) => tls_hello_len(prefix),
            Some(Handshake::Chlo) => gquic::message_len(prefix, MAX_CRYPTO).map_err(|_| GiveUpReason::Malformed),
        }
    }
}

/// The length of a complete TLS ClientHello message at the start of `prefix`.
fn tls_hello_len(prefix: &[u8]) -> Result<Option<usize>, GiveUpReason> {
    match prefix.first() {
        None => return Ok(None),
        Some(&ty) if ty != CLIENT_HELLO => return Err(GiveUpReason::Malformed),
        Some(_) => {}
    }
    let Some(&[_, a, b, c]) = prefix.first_chunk::<4>() else {
        return Ok(None);
    };
    let len = u32::from_be_bytes([0, a, b, c]);
    let len = usize::try_from(len)
        .ok()
        .and_then(|body| body.checked_add(4))
        .filter(|&len| len <= MAX_CRYPTO)
        .ok_or(GiveUpReason::CryptoTooLarge)?;
    Ok((len <= prefix.len()).then_some(len))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use synth::quic::{
        chlo, crypto_frame, google_crypto_frame, gquic_public_packet, gquic_stream_frame, q046_packet,
        seal_client_initial, seal_initial, version_negotiation, zero_rtt_packet,
    };

    /// Decodes hex, ignoring whitespace (the RFCs print vectors in columns).
    fn hex(s: &str) -> Vec<u8> {
        let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        digits.chunks(2).map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap()).collect()
    }

    /// RFC 9001 Appendix A / RFC 9369 Appendix A: the client-chosen DCID.
    const RFC_DCID: &str = "8394c8f03e515708";

    /// RFC 9001 A.2 (and RFC 9369 A.2): the client's CRYPTO frame, before
    /// PADDING to a 1162-byte payload.
    const RFC_CRYPTO_FRAME: &str = "
        060040f1010000ed0303ebf8fa56f129 39b9584a3896472ec40bb863cfd3e868
        04fe3a47f06a2b69484c000004130113 02010000c000000010000e00000b6578
        616d706c652e636f6dff01000100000a 00080006001d00170018001000070005
        04616c706e0005000501000000000033 00260024001d00209370b2c9caa47fba
        baf4559fedba753de171fa71f50f1ce1 5d43e994ec74d748002b000302030400
        0d0010000e0403050306030203080408 050806002d00020101001c0002400100
        3900320408ffffffffffffffff050480 00ffff07048000ffff08011001048000
        75300901100f088394c8f03e51570806 048000ffff";

    /// RFC 9001 A.2: the resulting protected packet.
    const RFC9001_CLIENT_INITIAL: &str = "
        c000000001088394c8f03e5157080000 449e7b9aec34d1b1c98dd7689fb8ec11
        d242b123dc9bd8bab936b47d92ec356c 0bab7df5976d27cd449f63300099f399
        1c260ec4c60d17b31f8429157bb35a12 82a643a8d2262cad67500cadb8e7378c
        8eb7539ec4d4905fed1bee1fc8aafba1 7c750e2c7ace01e6005f80fcb7df6212
        30c83711b39343fa028cea7f7fb5ff89 eac2308249a02252155e2347b63d58c5
        457afd84d05dfffdb20392844ae81215 4682e9cf012f9021a6f0be17ddd0c208
        4dce25ff9b06cde535d0f920a2db1bf3 62c23e596d11a4f5a6cf3948838a3aec
        4e15daf8500a6ef69ec4e3feb6b1d98e 610ac8b7ec3faf6ad760b7bad1db4ba3
        485e8a94dc250ae3fdb41ed15fb6a8e5 eba0fc3dd60bc8e30c5c4287e53805db
        059ae0648db2f64264ed5e39be2e20d8 2df566da8dd5998ccabdae053060ae6c
        7b4378e846d29f37ed7b4ea9ec5d82e7 961b7f25a9323851f681d582363aa5f8
        9937f5a67258bf63ad6f1a0b1d96dbd4 faddfcefc5266ba6611722395c906556
        be52afe3f565636ad1b17d508b73d874 3eeb524be22b3dcbc2c7468d54119c74
        68449a13d8e3b95811a198f3491de3e7 fe942b330407abf82a4ed7c1b311663a
        c69890f4157015853d91e923037c227a 33cdd5ec281ca3f79c44546b9d90ca00
        f064c99e3dd97911d39fe9c5d0b23a22 9a234cb36186c4819e8b9c5927726632
        291d6a418211cc2962e20fe47feb3edf 330f2c603a9d48c0fcb5699dbfe58964
        25c5bac4aee82e57a85aaf4e2513e4f0 5796b07ba2ee47d80506f8d2c25e50fd
        14de71e6c418559302f939b0e1abd576 f279c4b2e0feb85c1f28ff18f58891ff
        ef132eef2fa09346aee33c28eb130ff2 8f5b766953334113211996d20011a198
        e3fc433f9f2541010ae17c1bf202580f 6047472fb36857fe843b19f5984009dd
        c324044e847a4f4a0ab34f719595de37 252d6235365e9b84392b061085349d73
        203a4a13e96f5432ec0fd4a1ee65accd d5e3904df54c1da510b0ff20dcc0c77f
        cb2c0e0eb605cb0504db87632cf3d8b4 dae6e705769d1de354270123cb11450e
        fc60ac47683d7b8d0f811365565fd98c 4c8eb936bcab8d069fc33bd801b03ade
        a2e1fbc5aa463d08ca19896d2bf59a07 1b851e6c239052172f296bfb5e724047
        90a2181014f3b94a4e97d117b4381303 68cc39dbb2d198065ae3986547926cd2
        162f40a29f0c3c8745c0f50fba3852e5 66d44575c29d39a03f0cda721984b6f4
        40591f355e12d439ff150aab7613499d bd49adabc8676eef023b15b65bfc5ca0
        6948109f23f350db82123535eb8a7433 bdabcb909271a6ecbcb58b936a88cd4e
        8f2e6ff5800175f113253d8fa9ca8885 c2f552e657dc603f252e1a8e308f76f0
        be79e2fb8f5d5fbbe2e30ecadd220723 c8c0aea8078cdfcb3868263ff8f09400
        54da48781893a7e49ad5aff4af300cd8 04a6b6279ab3ff3afb64491c85194aab
        760d58a606654f9f4400e8b38591356f bf6425aca26dc85244259ff2b19c41b9
        f96f3ca9ec1dde434da7d2d392b905dd f3d1f9af93d1af5950bd493f5aa731b4
        056df31bd267b6b90a079831aaf579be 0a39013137aac6d404f518cfd4684064
        7e78bfe706ca4cf5e9c5453e9f7cfd2b 8b4c8d169a44e55c88d4a9a7f9474241
        e221af44860018ab0856972e194cd934";

    /// RFC 9369 A.2: the version 2 protected client Initial.
    const RFC9369_CLIENT_INITIAL: &str = "
        d76b3343cf088394c8f03e5157080000449ea0c95e82ffe67b6abcdb4298b485
        dd04de806071bf03dceebfa162e75d6c96058bdbfb127cdfcbf903388e99ad04
        9f9a3dd4425ae4d0992cfff18ecf0fdb5a842d09747052f17ac2053d21f57c5d
        250f2c4f0e0202b70785b7946e992e58a59ac52dea6774d4f03b55545243cf1a
        12834e3f249a78d395e0d18f4d766004f1a2674802a747eaa901c3f10cda5500
        cb9122faa9f1df66c392079a1b40f0de1c6054196a11cbea40afb6ef5253cd68
        18f6625efce3b6def6ba7e4b37a40f7732e093daa7d52190935b8da58976ff33
        12ae50b187c1433c0f028edcc4c2838b6a9bfc226ca4b4530e7a4ccee1bfa2a3
        d396ae5a3fb512384b2fdd851f784a65e03f2c4fbe11a53c7777c023462239dd
        6f7521a3f6c7d5dd3ec9b3f233773d4b46d23cc375eb198c63301c21801f6520
        bcfb7966fc49b393f0061d974a2706df8c4a9449f11d7f3d2dcbb90c6b877045
        636e7c0c0fe4eb0f697545460c806910d2c355f1d253bc9d2452aaa549e27a1f
        ac7cf4ed77f322e8fa894b6a83810a34b361901751a6f5eb65a0326e07de7c12
        16ccce2d0193f958bb3850a833f7ae432b65bc5a53975c155aa4bcb4f7b2c4e5
        4df16efaf6ddea94e2c50b4cd1dfe06017e0e9d02900cffe1935e0491d77ffb4
        fdf85290fdd893d577b1131a610ef6a5c32b2ee0293617a37cbb08b847741c3b
        8017c25ca9052ca1079d8b78aebd47876d330a30f6a8c6d61dd1ab5589329de7
        14d19d61370f8149748c72f132f0fc99f34d766c6938597040d8f9e2bb522ff9
        9c63a344d6a2ae8aa8e51b7b90a4a806105fcbca31506c446151adfeceb51b91
        abfe43960977c87471cf9ad4074d30e10d6a7f03c63bd5d4317f68ff325ba3bd
        80bf4dc8b52a0ba031758022eb025cdd770b44d6d6cf0670f4e990b22347a7db
        848265e3e5eb72dfe8299ad7481a408322cac55786e52f633b2fb6b614eaed18
        d703dd84045a274ae8bfa73379661388d6991fe39b0d93debb41700b41f90a15
        c4d526250235ddcd6776fc77bc97e7a417ebcb31600d01e57f32162a8560cacc
        7e27a096d37a1a86952ec71bd89a3e9a30a2a26162984d7740f81193e8238e61
        f6b5b984d4d3dfa033c1bb7e4f0037febf406d91c0dccf32acf423cfa1e70710
        10d3f270121b493ce85054ef58bada42310138fe081adb04e2bd901f2f13458b
        3d6758158197107c14ebb193230cd1157380aa79cae1374a7c1e5bbcb80ee23e
        06ebfde206bfb0fcbc0edc4ebec309661bdd908d532eb0c6adc38b7ca7331dce
        8dfce39ab71e7c32d318d136b6100671a1ae6a6600e3899f31f0eed19e3417d1
        34b90c9058f8632c798d4490da4987307cba922d61c39805d072b589bd52fdf1
        e86215c2d54e6670e07383a27bbffb5addf47d66aa85a0c6f9f32e59d85a44dd
        5d3b22dc2be80919b490437ae4f36a0ae55edf1d0b5cb4e9a3ecabee93dfc6e3
        8d209d0fa6536d27a5d6fbb17641cde27525d61093f1b28072d111b2b4ae5f89
        d5974ee12e5cf7d5da4d6a31123041f33e61407e76cffcdcfd7e19ba58cf4b53
        6f4c4938ae79324dc402894b44faf8afbab35282ab659d13c93f70412e85cb19
        9a37ddec600545473cfb5a05e08d0b209973b2172b4d21fb69745a262ccde96b
        a18b2faa745b6fe189cf772a9f84cbfc";

    /// The RFC's 1162-byte plaintext payload: the CRYPTO frame plus PADDING.
    fn rfc_plaintext() -> Vec<u8> {
        padded(hex(RFC_CRYPTO_FRAME), 1162)
    }

    /// Appends PADDING frames up to `len` bytes.
    fn padded(mut frames: Vec<u8>, len: usize) -> Vec<u8> {
        frames.resize(frames.len().max(len), 0);
        frames
    }

    fn u16be(n: usize) -> [u8; 2] {
        u16::try_from(n).unwrap().to_be_bytes()
    }

    /// A minimal TLS 1.3 ClientHello handshake message with an SNI and a
    /// padding extension of `padding` bytes standing in for a large
    /// (post-quantum) key share.
    fn client_hello(sni: &str, padding: usize) -> Vec<u8> {
        let name = sni.as_bytes();
        let mut ext = vec![0x00, 0x00];
        ext.extend(u16be(name.len() + 5));
        ext.extend(u16be(name.len() + 3));
        ext.push(0); // host_name
        ext.extend(u16be(name.len()));
        ext.extend(name);
        ext.extend([0x00, 0x15]);
        ext.extend(u16be(padding));
        ext.resize(ext.len() + padding, 0);

        let mut body = vec![0x03, 0x03];
        body.extend([0x5a; 32]); // random
        body.push(0); // legacy_session_id
        body.extend([0x00, 0x02, 0x13, 0x01]); // TLS_AES_128_GCM_SHA256
        body.extend([0x01, 0x00]); // null compression
        body.extend(u16be(ext.len()));
        body.extend(ext);

        let mut msg = vec![CLIENT_HELLO];
        msg.extend(&u32::try_from(body.len()).unwrap().to_be_bytes()[1..]);
        msg.extend(body);
        msg
    }

    const DCID: [u8; 8] = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88];
    const SCID: [u8; 4] = [0xaa, 0xbb, 0xcc, 0xdd];

    /// A v1 client Initial from `DCID` carrying `frames`, padded to 1162 bytes.
    fn initial(pn: u32, frames: Vec<u8>) -> Vec<u8> {
        seal_client_initial(QUIC_V1, &DCID, &SCID, pn, &padded(frames, 1162)).unwrap()
    }

    fn expect_hello(progress: Progress<'_>) -> Vec<u8> {
        match progress {
            Progress::Hello(bytes) => bytes.to_vec(),
            other => panic!("expected Hello, got {other:?}"),
        }
    }

    #[test]
    fn rfc9001_a1_header_protection_key_gives_a2_mask() {
        // A.2: header[0] ^= mask[0] & 0x0f = c0, header[18..21] ^= mask[1..4].
        let keys = client_keys(QUIC_V1, &hex(RFC_DCID)).unwrap();
        let mask = keys.mask(&hex("d1b1c98dd7689fb8ec11d242b123dc9b")).unwrap();
        assert_eq!(mask.to_vec(), hex("437b9aec36"));
        assert_eq!(0xc3 ^ (mask[0] & 0x0f), 0xc0);
    }

    #[test]
    fn rfc9001_a2_seal_reproduces_the_protected_packet() {
        // Byte-for-byte equality checks the A.1 key, IV and hp derived
        // from the DCID, the header layout and both protections.
        let packet = seal_client_initial(QUIC_V1, &hex(RFC_DCID), &[], 2, &rfc_plaintext()).unwrap();
        let expected = hex(RFC9001_CLIENT_INITIAL);
        assert_eq!(expected.len(), 1200);
        assert_eq!(packet, expected);
    }

    #[test]
    fn rfc9001_a2_client_initial_decrypts_to_the_client_hello() {
        let packet = hex(RFC9001_CLIENT_INITIAL);
        assert!(looks_like_client_initial(&packet));
        let mut flow = ClientInitials::new();
        let hello = expect_hello(flow.on_datagram(&packet));
        // The CRYPTO frame's data: everything after 06 00 40f1.
        assert_eq!(hello, hex(RFC_CRYPTO_FRAME)[4..]);
        assert_eq!(hello.len(), 241);
        assert!(hello.starts_with(&hex("010000ed0303ebf8fa56f129")));
        assert!(hello.windows(11).any(|w| w == b"example.com"));
        assert_eq!(flow.skipped(), 0);
    }

    #[test]
    fn rfc9369_a1_v2_header_protection_key_gives_a2_mask() {
        // RFC 9369 A.2: sample ffe67b6abcdb4298b485dd04de806071, mask
        // 94a0c95e80, protected header d7 ... a0c95e82.
        let keys = client_keys(QUIC_V2, &hex(RFC_DCID)).unwrap();
        let mask = keys.mask(&hex("ffe67b6abcdb4298b485dd04de806071")).unwrap();
        assert_eq!(mask.to_vec(), hex("94a0c95e80"));
        assert_eq!(0xd3 ^ (mask[0] & 0x0f), 0xd7);
    }

    #[test]
    fn rfc9369_a2_v2_seal_and_decrypt_match_the_rfc() {
        let expected = hex(RFC9369_CLIENT_INITIAL);
        assert_eq!(expected.len(), 1200);
        let packet = seal_client_initial(QUIC_V2, &hex(RFC_DCID), &[], 2, &rfc_plaintext()).unwrap();
        assert_eq!(packet, expected);

        assert!(looks_like_client_initial(&expected));
        let mut flow = ClientInitials::new();
        let hello = expect_hello(flow.on_datagram(&expected));
        assert_eq!(hello, hex(RFC_CRYPTO_FRAME)[4..]);
    }

    #[test]
    fn round_trip_through_seal_for_each_version() {
        let hello = client_hello("www.example.org", 0);
        for version in [QUIC_V1, QUIC_V2, QUIC_DRAFT_29] {
            let frames = padded(crypto_frame(0, &hello), 1162);
            let packet = seal_client_initial(version, &DCID, &SCID, 0, &frames).unwrap();
            assert!(looks_like_client_initial(&packet), "{version:#x}");
            let mut flow = ClientInitials::new();
            assert_eq!(expect_hello(flow.on_datagram(&packet)), hello, "{version:#x}");
        }
    }

    #[test]
    fn hello_split_across_two_initials_in_reverse_order() {
        // A post-quantum sized hello needs two Initials.
        let hello = client_hello("pq.example.net", 1500);
        assert!(hello.len() > 1500);
        let first = initial(0, crypto_frame(0, &hello[..1000]));
        let second = initial(1, crypto_frame(1000, &hello[1000..]));
        let mut flow = ClientInitials::new();
        assert_eq!(flow.on_datagram(&second), Progress::NeedMore);
        assert_eq!(expect_hello(flow.on_datagram(&first)), hello);
        // Done: later datagrams cost nothing and change nothing.
        assert_eq!(expect_hello(flow.on_datagram(&second)), hello);
        assert_eq!(flow.examined, 2);
        assert_eq!(flow.skipped(), 0);
    }

    #[test]
    fn scattered_crypto_frames_with_ping_and_padding_between() {
        let hello = client_hello("scatter.example.com", 200);
        let cuts = [0, 70, 140, 190, hello.len()];
        let chunk = |i: usize| crypto_frame(cuts[i] as u64, &hello[cuts[i]..cuts[i + 1]]);
        let mut frames = chunk(3);
        frames.push(0x01); // PING
        frames.extend(chunk(1));
        frames.extend([0x00; 5]); // PADDING
        frames.extend(crypto_frame(10, &hello[10..100])); // overlapping duplicate
        frames.extend(chunk(0));
        frames.push(0x01);
        frames.extend(chunk(2));
        let mut flow = ClientInitials::new();
        assert_eq!(expect_hello(flow.on_datagram(&initial(0, frames))), hello);
    }

    #[test]
    fn ack_and_connection_close_frames_are_skipped() {
        let hello = client_hello("ack.example.com", 0);
        // ACK: largest 5, delay 0, 2 ranges, first range 1, (gap, len) x2.
        let mut frames = vec![0x02, 0x05, 0x00, 0x02, 0x01, 0x00, 0x00, 0x00, 0x00];
        // ACK_ECN with a 2-byte largest acknowledged and three ECN counts;
        // the last count (8) would read as a STREAM frame if left unskipped.
        frames.extend([0x03, 0x40, 0x90, 0x00, 0x00, 0x00, 0x01, 0x02, 0x08]);
        // CONNECTION_CLOSE: code 0x0a, frame type 0, reason "bye".
        frames.extend([0x1c, 0x0a, 0x00, 0x03, b'b', b'y', b'e']);
        frames.extend(crypto_frame(0, &hello));
        let mut flow = ClientInitials::new();
        assert_eq!(expect_hello(flow.on_datagram(&initial(0, frames))), hello);
    }

    #[test]
    fn unknown_frame_stops_parsing_the_packet() {
        let hello = client_hello("stop.example.com", 0);
        let mut frames = crypto_frame(0, &hello[..50]);
        frames.extend([0x08, 0x00, 0x00]); // STREAM: not expected in an Initial
        frames.extend(crypto_frame(50, &hello[50..]));
        let mut flow = ClientInitials::new();
        assert_eq!(flow.on_datagram(&initial(0, frames)), Progress::NeedMore);
        let rest = initial(1, crypto_frame(50, &hello[50..]));
        assert_eq!(expect_hello(flow.on_datagram(&rest)), hello);
    }

    #[test]
    fn coalesced_packets_are_delimited_by_length() {
        let hello = client_hello("coalesced.example.com", 0);
        // A v1 Handshake packet (type 0b10) with a 20-byte body first.
        let mut datagram = vec![0xe0, 0, 0, 0, 1, 2, 9, 9, 0, 0x14];
        datagram.extend([0xee; 20]);
        datagram.extend(initial(0, crypto_frame(0, &hello)));
        // A 0-RTT packet (type 0b01) after it, then trailing zeros.
        datagram.extend([0xd0, 0, 0, 0, 1, 0, 0, 0x05, 1, 2, 3, 4, 5]);
        datagram.extend([0; 16]);
        let mut flow = ClientInitials::new();
        assert_eq!(expect_hello(flow.on_datagram(&datagram)), hello);

        // Once the hello is complete, later packets are not decrypted.
        let mut two = initial(0, crypto_frame(0, &hello));
        two.extend(initial(1, vec![0x01]));
        let mut flow = ClientInitials::new();
        assert_eq!(expect_hello(flow.on_datagram(&two)), hello);
        assert_eq!(flow.examined, 1);
    }

    #[test]
    fn later_initials_may_carry_a_new_dcid() {
        let hello = client_hello("newcid.example.com", 1500);
        let new_dcid = [0x99; 5];
        let mut flow = ClientInitials::new();
        assert_eq!(flow.on_datagram(&initial(0, crypto_frame(0, &hello[..900]))), Progress::NeedMore);
        // After the server's Initial, the client addresses the server's
        // connection ID but keeps the keys of its first DCID.
        let frames = padded(crypto_frame(900, &hello[900..1400]), 1162);
        let moved = seal_initial(QUIC_V1, &new_dcid, &DCID, &SCID, 1, &frames).unwrap();
        assert_eq!(flow.on_datagram(&moved), Progress::NeedMore);
        assert!(flow.keys[1].is_none(), "the first DCID's cached keys opened it");
        // After a Retry, keys come from the new DCID itself.
        let after_retry =
            seal_client_initial(QUIC_V1, &new_dcid, &SCID, 2, &padded(crypto_frame(1400, &hello[1400..]), 1162))
                .unwrap();
        assert_eq!(expect_hello(flow.on_datagram(&after_retry)), hello);
        assert_eq!(flow.skipped(), 0);
    }

    #[test]
    fn decrypted_hellos_yield_their_sni_to_the_tls_parser() {
        use crate::tls::parse_client_hello_message;
        let mut flow = ClientInitials::new();
        let rfc = expect_hello(flow.on_datagram(&hex(RFC9369_CLIENT_INITIAL)));
        let parsed = parse_client_hello_message(&rfc).unwrap();
        assert_eq!(parsed.sni.as_deref(), Some("example.com"));

        let hello = client_hello("pq.example.net", 1500);
        let mut flow = ClientInitials::new();
        flow.on_datagram(&initial(1, crypto_frame(1200, &hello[1200..])));
        let bytes = expect_hello(flow.on_datagram(&initial(0, crypto_frame(0, &hello[..1200]))));
        let parsed = parse_client_hello_message(&bytes).unwrap();
        assert_eq!(parsed.sni.as_deref(), Some("pq.example.net"));
    }

    #[test]
    fn corrupted_tag_gives_up_with_decrypt_failed_after_the_bound() {
        let mut packet = initial(0, crypto_frame(0, &client_hello("x.example", 0)));
        let last = packet.len() - 1;
        packet[last] ^= 0x01;
        let mut flow = ClientInitials::new();
        for _ in 1..MAX_INITIALS {
            assert_eq!(flow.on_datagram(&packet), Progress::NotQuic);
        }
        assert_eq!(flow.on_datagram(&packet), Progress::GaveUp(GiveUpReason::DecryptFailed));
        assert_eq!(flow.skipped(), u64::from(MAX_INITIALS));
        // Given up: even a good packet is only counted.
        let good = initial(1, crypto_frame(0, &client_hello("x.example", 0)));
        assert_eq!(flow.on_datagram(&good), Progress::GaveUp(GiveUpReason::DecryptFailed));
        assert_eq!(flow.skipped(), u64::from(MAX_INITIALS) + 1);
        assert_eq!(flow.examined, MAX_INITIALS);
    }

    #[test]
    fn too_many_initials_without_a_hello_gives_up() {
        let mut flow = ClientInitials::new();
        for pn in 1..u32::from(MAX_INITIALS) {
            assert_eq!(flow.on_datagram(&initial(pn, vec![0x01])), Progress::NeedMore);
        }
        let last = initial(100, vec![0x01]);
        assert_eq!(flow.on_datagram(&last), Progress::GaveUp(GiveUpReason::TooManyPackets));
        assert_eq!(flow.skipped(), 0);
        assert!(flow.crypto.buf.capacity() == 0, "buffers are freed on giving up");
    }

    #[test]
    fn crypto_beyond_the_buffer_bound_gives_up() {
        let mut flow = ClientInitials::new();
        let far = initial(0, crypto_frame((MAX_CRYPTO - 4) as u64, &[1; 10]));
        assert_eq!(flow.on_datagram(&far), Progress::GaveUp(GiveUpReason::CryptoTooLarge));

        // A hello announcing a body that cannot fit the bound.
        let mut flow = ClientInitials::new();
        let huge = initial(0, crypto_frame(0, &[CLIENT_HELLO, 0x00, 0xff, 0xff, 0x03]));
        assert_eq!(flow.on_datagram(&huge), Progress::GaveUp(GiveUpReason::CryptoTooLarge));
    }

    #[test]
    fn malformed_frames_and_non_client_hello_give_up() {
        let mut flow = ClientInitials::new();
        let server_hello = initial(0, crypto_frame(0, &[0x02, 0x00, 0x00, 0x01, 0x00]));
        assert_eq!(flow.on_datagram(&server_hello), Progress::GaveUp(GiveUpReason::Malformed));

        // A CRYPTO frame claiming 100 bytes with 3 left in the packet.
        let mut flow = ClientInitials::new();
        let frames = [0x06, 0x00, 0x40, 0x64, 1, 2, 3];
        let truncated = seal_client_initial(QUIC_V1, &DCID, &SCID, 0, &frames).unwrap();
        assert_eq!(flow.on_datagram(&truncated), Progress::GaveUp(GiveUpReason::Malformed));
    }

    #[test]
    fn non_initial_datagrams_are_not_quic() {
        let mut flow = ClientInitials::new();
        let short_header = [0x40; 1200];
        assert_eq!(flow.on_datagram(&short_header), Progress::NotQuic);
        let mut unknown_version = initial(0, vec![0x01]);
        unknown_version[1..5].copy_from_slice(&0x1a2a_3a4au32.to_be_bytes());
        assert_eq!(flow.on_datagram(&unknown_version), Progress::NotQuic);
        assert_eq!(flow.on_datagram(&[]), Progress::NotQuic);
        assert_eq!(flow.examined, 0);
        assert_eq!(flow.skipped(), 0);
    }

    #[test]
    fn looks_like_client_initial_checks_header_fields() {
        let good = initial(0, vec![0x01]);
        assert!(looks_like_client_initial(&good));
        // Short header.
        let mut bad = good.clone();
        bad[0] &= 0x7f;
        assert!(!looks_like_client_initial(&bad));
        // Fixed bit clear.
        let mut bad = good.clone();
        bad[0] &= !0x40;
        assert!(!looks_like_client_initial(&bad));
        // v1 Handshake type.
        let mut bad = good.clone();
        bad[0] |= 0x20;
        assert!(!looks_like_client_initial(&bad));
        // v2 version with v1's Initial type bits (a v2 Retry).
        let mut bad = good.clone();
        bad[1..5].copy_from_slice(&QUIC_V2.to_be_bytes());
        assert!(!looks_like_client_initial(&bad));
        // Truncated: Length runs past the datagram.
        assert!(!looks_like_client_initial(&good[..good.len() - 1]));
        // DCID longer than 20 bytes.
        let mut bad = good.clone();
        bad[5] = 21;
        assert!(!looks_like_client_initial(&bad));
        // Token length past the end.
        assert!(!looks_like_client_initial(&[0xc0, 0, 0, 0, 1, 0, 0, 0x44]));
    }

    #[test]
    fn garbage_floods_cost_bounded_work() {
        let mut rng = synth::XorShift::new(0x9e37_79b9_7f4a_7c15);
        let mut next = move || rng.next_u64();
        let mut gave_up = 0;
        for flow_no in 0..300 {
            let mut flow = ClientInitials::new();
            for _ in 0..16 {
                let len = usize::try_from(next() % 1500).unwrap();
                let mut datagram: Vec<u8> = (0..len).map(|_| next().to_le_bytes()[0]).collect();
                if flow_no % 2 == 0 && len > 64 {
                    // A plausible v1 or v2 Initial header over random bytes.
                    let version = if next() % 2 == 0 { QUIC_V1 } else { QUIC_V2 };
                    let bits = initial_type_bits(version).unwrap();
                    datagram[0] = 0xc0 | (bits << 4) | (datagram[0] & 0x0f);
                    datagram[1..5].copy_from_slice(&version.to_be_bytes());
                    datagram[5] = 8;
                    datagram[14] = 0;
                    datagram[15] = 0;
                    let length = u16::try_from(len - 18).unwrap() | 0x4000;
                    datagram[16..18].copy_from_slice(&length.to_be_bytes());
                    assert!(looks_like_client_initial(&datagram));
                }
                let progress = flow.on_datagram(&datagram);
                assert!(matches!(progress, Progress::NotQuic | Progress::GaveUp(_)), "{progress:?}");
                assert!(flow.examined <= MAX_INITIALS);
                assert!(flow.crypto.buf.len() <= MAX_CRYPTO);
            }
            if flow.on_datagram(&[]) == Progress::GaveUp(GiveUpReason::DecryptFailed) {
                gave_up += 1;
            }
        }
        // Every plausible-header flow hit the bound and stopped decrypting.
        assert_eq!(gave_up, 150);
    }

    fn expect_chlo(progress: Progress<'_>) -> Vec<u8> {
        match progress {
            Progress::Chlo(bytes) => bytes.to_vec(),
            other => panic!("expected Chlo, got {other:?}"),
        }
    }

    /// Every version with Initial protection, as its client's first
    /// datagram carrying `hello` (TLS) or a CHLO (Q050).
    fn protected_initial(version: u32, hello: &[u8]) -> Vec<u8> {
        let frame = match version::layout(version) {
            Some(Layout::Protected(p)) if p.framing == Framing::Google => google_crypto_frame(0, hello),
            _ => crypto_frame(0, hello),
        };
        seal_client_initial(version, &DCID, &SCID, 0, &padded(frame, 1162)).unwrap()
    }

    const TLS_VERSIONS: [u32; 13] = [
        QUIC_V1,
        QUIC_V2,
        QUIC_DRAFT_22,
        QUIC_DRAFT_23,
        QUIC_DRAFT_27,
        QUIC_DRAFT_28,
        QUIC_DRAFT_29,
        QUIC_DRAFT_32,
        MVFST_22,
        MVFST_27,
        MVFST_EXP,
        GQUIC_T050,
        GQUIC_T051,
    ];

    #[test]
    fn every_tls_version_round_trips_through_its_own_salt() {
        let hello = client_hello("versions.example.com", 0);
        for version in TLS_VERSIONS {
            let packet = protected_initial(version, &hello);
            assert!(looks_like_client_initial(&packet), "{version:#x}");
            let mut flow = ClientInitials::new();
            assert_eq!(expect_hello(flow.on_datagram(&packet)), hello, "{version:#x}");
        }
    }

    #[test]
    fn salts_and_labels_differ_between_version_families() {
        // One representative per salt (and v2's labels): keys of one never
        // open another's packets.
        let families =
            [QUIC_V1, QUIC_V2, QUIC_DRAFT_22, QUIC_DRAFT_27, QUIC_DRAFT_29, GQUIC_Q050, GQUIC_T050, GQUIC_T051];
        let sample = [0x5a; SAMPLE_LEN];
        let masks: BTreeSet<[u8; 5]> =
            families.iter().map(|&v| client_keys(v, &DCID).unwrap().mask(&sample).unwrap()).collect();
        assert_eq!(masks.len(), families.len());
        // Same salt, same keys: mvfst's versions follow their drafts.
        for (a, b) in [(MVFST_22, QUIC_DRAFT_22), (MVFST_27, QUIC_DRAFT_27), (MVFST_EXP, QUIC_DRAFT_23)] {
            let mask = |v| client_keys(v, &DCID).unwrap().mask(&sample).unwrap();
            assert_eq!(mask(a), mask(b), "{a:#x}");
        }
        assert!(client_keys(GQUIC_Q046, &DCID).is_none());
        assert!(client_keys(0x1a2a_3a4a, &DCID).is_none());
    }

    #[test]
    fn q050_carries_a_chlo_in_google_crypto_frames() {
        let message = chlo(Some("WWW.Google.com."), Some("Chrome/83.0 Android 8.0.0"), 1000);
        let packet = protected_initial(GQUIC_Q050, &message);
        let mut flow = ClientInitials::new();
        let bytes = expect_chlo(flow.on_datagram(&packet));
        assert_eq!(bytes, message);
        let parsed = gquic::parse_chlo(&bytes).unwrap();
        assert_eq!(parsed.sni.as_deref(), Some("www.google.com"));
        assert_eq!(parsed.user_agent, Some("Chrome/83.0 Android 8.0.0"));
    }

    #[test]
    fn plaintext_google_quic_hellos_from_q035_to_q046() {
        let message = chlo(Some("www.youtube.com"), Some("dev Chrome/66 Linux x86_64"), 1300);
        for version in [*b"Q035", *b"Q039", *b"Q043"].map(u32::from_be_bytes) {
            let big_endian = version >= u32::from_be_bytes(*b"Q039");
            let packet = gquic_public_packet(version, [7; 8], 1, &gquic_stream_frame(0, &message, big_endian));
            assert!(looks_like_client_initial(&packet), "{version:#x}");
            let mut flow = ClientInitials::new();
            assert_eq!(expect_chlo(flow.on_datagram(&packet)), message, "{version:#x}");
        }
        let packet = q046_packet([7; 8], 1, &gquic_stream_frame(0, &message, true));
        assert!(looks_like_client_initial(&packet));
        let mut flow = ClientInitials::new();
        let bytes = expect_chlo(flow.on_datagram(&packet));
        assert_eq!(gquic::parse_chlo(&bytes).unwrap().sni.as_deref(), Some("www.youtube.com"));
    }

    #[test]
    fn a_chlo_is_found_further_into_the_stream_and_across_packets() {
        // The full CHLO that follows an inchoate one starts at its offset.
        let message = chlo(Some("play.google.com"), None, 1024);
        let later = q046_packet([3; 8], 4, &gquic_stream_frame(1024, &message, true));
        let mut flow = ClientInitials::new();
        assert_eq!(expect_chlo(flow.on_datagram(&later)), message);

        // A CHLO over two packets, with an ACK and PING before the second part.
        let (a, b) = message.split_at(700);
        let mut second = vec![0x40, 0x01, 0x00, 0x00, 0x01, 0x00, 0x07];
        second.extend(gquic_stream_frame(700, b, true));
        let mut flow = ClientInitials::new();
        let q043 = GQUIC_Q043;
        assert_eq!(
            flow.on_datagram(&gquic_public_packet(q043, [3; 8], 1, &gquic_stream_frame(0, a, true))),
            Progress::NeedMore
        );
        assert_eq!(expect_chlo(flow.on_datagram(&gquic_public_packet(q043, [3; 8], 2, &second))), message);
    }

    #[test]
    fn chlo_tag_maps_are_checked() {
        let message = chlo(Some("a.example"), Some("ua"), 100);
        assert!(gquic::parse_chlo(&message).is_some());
        assert_eq!(gquic::message_len(&message, MAX_CRYPTO), Ok(Some(message.len())));
        assert_eq!(gquic::message_len(&message[..50], MAX_CRYPTO), Ok(None));
        assert_eq!(gquic::message_len(b"CH", MAX_CRYPTO), Ok(None));
        assert_eq!(gquic::message_len(b"SHLO\0\0\0\0", MAX_CRYPTO), Err(gquic::NotAChlo));
        assert_eq!(gquic::message_len(&message, 99), Err(gquic::NotAChlo));
        // End offsets that go backwards.
        let mut bad = message.clone();
        bad[12..16].copy_from_slice(&1000u32.to_le_bytes());
        assert!(gquic::parse_chlo(&bad).is_none());
        // An implausible server name is dropped, the user agent kept.
        let odd = chlo(Some("no spaces allowed"), Some("ua"), 100);
        let parsed = gquic::parse_chlo(&odd).unwrap();
        assert_eq!((parsed.sni, parsed.user_agent), (None, Some("ua")));
    }

    #[test]
    fn zero_rtt_and_version_negotiation_come_before_the_initial() {
        let hello = client_hello("zero.example.com", 0);
        let zero_rtt = zero_rtt_packet(QUIC_V1, &DCID, &SCID, &[0x33; 1200]).unwrap();
        assert!(!looks_like_client_initial(&zero_rtt));
        assert!(looks_like_client_quic(&zero_rtt));
        let mut flow = ClientInitials::new();
        assert_eq!(flow.on_datagram(&zero_rtt), Progress::NotQuic);
        assert_eq!(expect_hello(flow.on_datagram(&initial(0, crypto_frame(0, &hello)))), hello);
        assert_eq!(flow.skipped(), 0);

        // A first Initial with a version that forces negotiation, then the
        // server's list, then the client's v1 Initial.
        let mut grease = initial(0, crypto_frame(0, &hello));
        grease[1..5].copy_from_slice(&0x1a2a_3a4au32.to_be_bytes());
        assert!(!looks_like_client_initial(&grease));
        assert!(looks_like_client_quic(&grease));
        assert!(!looks_like_client_quic(&grease[..1000]), "an Initial of an unknown version fills 1200 bytes");
        let vn = version_negotiation(&SCID, &DCID, &[QUIC_V1, QUIC_V2]).unwrap();
        assert!(is_version_negotiation(&vn));
        assert!(!is_version_negotiation(&grease));
        assert!(!is_version_negotiation(&vn[..vn.len() - 1]));
        let mut flow = ClientInitials::new();
        assert_eq!(flow.on_datagram(&grease), Progress::NotQuic);
        assert_eq!(expect_hello(flow.on_datagram(&initial(0, crypto_frame(0, &hello)))), hello);
    }

    #[test]
    fn every_initial_after_giving_up_is_counted_without_decrypting() {
        let mut bad = initial(0, crypto_frame(0, &client_hello("x.example", 0)));
        let last = bad.len() - 1;
        bad[last] ^= 0x01;
        let mut flow = ClientInitials::new();
        for _ in 0..MAX_INITIALS {
            flow.on_datagram(&bad);
        }
        assert_eq!(flow.on_datagram(&[]), Progress::GaveUp(GiveUpReason::DecryptFailed));
        assert_eq!(flow.skipped(), u64::from(MAX_INITIALS));
        // Two coalesced Initials per datagram, then a datagram with a
        // 0-RTT packet only and a short-header one: only Initials count.
        let mut two = bad.clone();
        two.extend(&bad);
        for _ in 0..1000 {
            flow.on_datagram(&two);
        }
        flow.on_datagram(&zero_rtt_packet(QUIC_V1, &DCID, &SCID, &[1; 100]).unwrap());
        flow.on_datagram(&[0x40; 1200]);
        assert_eq!(flow.skipped(), u64::from(MAX_INITIALS) + 2000);
        assert_eq!(flow.examined, MAX_INITIALS, "nothing more was decrypted");
    }

    #[test]
    fn every_prefix_and_random_mutations_of_each_layout_never_panic() {
        let tls = client_hello("prefix.example.com", 0);
        let message = chlo(Some("prefix.example.com"), Some("ua/1"), 600);
        let mut datagrams: Vec<Vec<u8>> = TLS_VERSIONS.iter().map(|&v| protected_initial(v, &tls)).collect();
        datagrams.push(protected_initial(GQUIC_Q050, &message));
        datagrams.push(gquic_public_packet(GQUIC_Q043, [1; 8], 1, &gquic_stream_frame(0, &message, true)));
        datagrams.push(gquic_public_packet(
            u32::from_be_bytes(*b"Q033"),
            [1; 8],
            1,
            &gquic_stream_frame(0, &message, false),
        ));
        datagrams.push(q046_packet([1; 8], 1, &gquic_stream_frame(0, &message, true)));
        for datagram in &datagrams {
            for len in 0..datagram.len() {
                let prefix = &datagram[..len];
                let _ = looks_like_client_quic(prefix);
                let _ = is_version_negotiation(prefix);
                let mut flow = ClientInitials::new();
                let progress = flow.on_datagram(prefix);
                assert!(!matches!(progress, Progress::Hello(_) | Progress::Chlo(_)), "prefix of {len} bytes");
            }
        }
        let mut rng = synth::XorShift::new(0x0bad_5eed);
        for round in 0..3000 {
            let mut datagram = datagrams[round % datagrams.len()].clone();
            for _ in 0..=rng.next_u64() % 4 {
                let i = rng.below(datagram.len());
                datagram[i] ^= 1 << (rng.next_u64() % 8);
            }
            let mut flow = ClientInitials::new();
            if let Progress::Chlo(bytes) = flow.on_datagram(&datagram) {
                let _ = gquic::parse_chlo(bytes);
            }
            assert!(flow.crypto.buf.len() <= MAX_CRYPTO);
            // Mutated CHLO maps on their own, past any header check.
            let mut mutated = message.clone();
            let i = rng.below(mutated.len().min(64));
            mutated[i] = rng.next_u64().to_le_bytes()[0];
            let _ = gquic::parse_chlo(&mutated);
            let _ = gquic::message_len(&mutated, MAX_CRYPTO);
        }
    }

    #[test]
    fn packet_numbers_expand_as_in_rfc9000_a3() {
        assert_eq!(decode_packet_number(Some(0xa82f_30ea), 0x9b32, 2), 0xa82f_9b32);
        assert_eq!(decode_packet_number(None, 2, 4), 2);
        assert_eq!(decode_packet_number(Some(0xff), 0x01, 1), 0x101);
        // The candidate nearest the expected number wins, up or down.
        assert_eq!(decode_packet_number(Some(0x1fe), 0x00, 1), 0x200);
        assert_eq!(decode_packet_number(Some(0x200), 0xff, 1), 0x1ff);
    }
}
