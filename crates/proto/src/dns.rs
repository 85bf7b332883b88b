//! DNS message parsing (RFC 1035), limited to what flow attribution needs:
//! the question a client asked and the A/AAAA/CNAME records it got back, so
//! that later flows to those addresses can be tied to the name, and the
//! SVCB/HTTPS records (RFC 9460) whose address hints do the same and whose
//! `ech` parameter says the name is reached with real Encrypted ClientHello.
//!
//! The input is untrusted traffic, so the parser is a zero-copy, checked view
//! in the style of smoltcp: [`Message::new_checked`] validates the header,
//! everything else is decoded lazily, and every read goes through the
//! crate's bounds-checked [`Reader`].
//! Nothing allocates: names are decoded into the fixed inline buffer of
//! [`Name`]. Work per message is bounded by its length (each record consumes
//! bytes) and work per name by [`MAX_NAME_LEN`] plus a pointer-jump cap.

use core::fmt;
use core::hash::{Hash, Hasher};
use core::iter::FusedIterator;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::reader::Reader;

/// Longest textual domain name, without the trailing dot.
///
/// RFC 1035 §2.3.4 caps a name at 255 octets on the wire; the first length
/// octet and the terminating root label leave 253 printable characters.
pub const MAX_NAME_LEN: usize = 253;

/// Compression pointers followed while decoding a single name.
///
/// Pointers must also point strictly backwards, which on its own rules out
/// loops; the cap additionally keeps the per-name work tiny on hostile input
/// (a legitimate name needs one pointer, a handful at most).
const MAX_POINTER_JUMPS: usize = 64;

// Record types and class we decode; everything else is `RecordData::Other`.
const TYPE_A: u16 = 1;
const TYPE_CNAME: u16 = 5;
const TYPE_AAAA: u16 = 28;
const TYPE_SVCB: u16 = 64;
const TYPE_HTTPS: u16 = 65;
const CLASS_IN: u16 = 1;
/// mDNS (RFC 6762 §10.2) reuses the top class bit as "cache flush"; masking it
/// lets mDNS responses teach addresses too, and no unicast class uses it.
const CLASS_MASK: u16 = 0x7fff;

/// Wire layout (RFC 1035 §4.1).
mod field {
    // Header: ID, FLAGS, then the four section counts, 12 bytes at the
    // start of every message.
    pub const HEADER_LEN: usize = 12;

    // Bits of the FLAGS word.
    pub const FLAG_QR: u16 = 0x8000;
    pub const OPCODE_SHIFT: u32 = 11;
    pub const OPCODE_MASK: u16 = 0x000f;
    pub const RCODE_MASK: u16 = 0x000f;

    // Question: QTYPE and QCLASS follow the QNAME.
    pub const QUESTION_FIXED_LEN: usize = 4;

    // Resource record: TYPE, CLASS, TTL and RDLENGTH follow the owner name;
    // RDATA follows these 10 bytes.
    pub const RR_FIXED_LEN: usize = 10;

    // Smallest possible question / record: a root name (one zero byte) plus
    // the fixed part. Used to reject counts the message cannot hold.
    pub const MIN_QUESTION_LEN: usize = 1 + QUESTION_FIXED_LEN;
    pub const MIN_RECORD_LEN: usize = 1 + RR_FIXED_LEN;

    // The top two bits of a label's length byte select its kind.
    pub const LABEL_KIND_MASK: u8 = 0xc0;
    pub const LABEL_KIND_NORMAL: u8 = 0x00;
    pub const LABEL_KIND_POINTER: u8 = 0xc0;
    pub const POINTER_HIGH_MASK: u8 = 0x3f;
}

/// Malformed or truncated DNS data: the crate's one parse error, under the
/// name this module has always used. Callers only skip the message (or the
/// rest of a section), they never report why.
pub use crate::reader::Malformed as Error;

/// The fixed header's fields.
#[derive(Debug, Clone, Copy)]
struct Header {
    id: u16,
    flags: u16,
    questions: u16,
    answers: u16,
    authorities: u16,
    additionals: u16,
}

impl Header {
    fn read(r: &mut Reader<'_>) -> Result<Header, Error> {
        Ok(Header {
            id: r.be16()?,
            flags: r.be16()?,
            questions: r.be16()?,
            answers: r.be16()?,
            authorities: r.be16()?,
            additionals: r.be16()?,
        })
    }

    /// Records in all three sections.
    fn records(&self) -> usize {
        [self.answers, self.authorities, self.additionals].into_iter().map(usize::from).sum()
    }
}

/// A decoded domain name: ASCII-lowercased, dot-separated, no trailing dot;
/// the root is the empty name.
///
/// Stored inline so that decoding never allocates. Only printable ASCII other
/// than `.` and space is accepted inside labels, so the text is always valid
/// UTF-8 and splitting on `.` recovers the labels exactly.
#[derive(Clone, Copy)]
pub struct Name {
    buf: [u8; MAX_NAME_LEN],
    /// Number of used bytes in `buf`; at most `MAX_NAME_LEN`, which fits a u8.
    len: u8,
}

impl Name {
    const ROOT: Name = Name { buf: [0; MAX_NAME_LEN], len: 0 };

    /// The name as text, e.g. `"www.example.com"`.
    pub fn as_str(&self) -> &str {
        // `push_label` only stores ASCII, so this never takes the fallback;
        // it exists so that no code path can panic.
        core::str::from_utf8(self.as_bytes()).unwrap_or("")
    }

    /// True for the root name.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn as_bytes(&self) -> &[u8] {
        self.buf.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// Appends one wire label, lowercased, with a separating dot if needed.
    fn push_label(&mut self, label: &[u8]) -> Result<(), Error> {
        // Space and '.' are printable but would make the text ambiguous
        // (a '.' inside a label would read as a label boundary).
        if !label.iter().all(|&b| b.is_ascii_graphic() && b != b'.') {
            return Err(Error);
        }
        let len = usize::from(self.len);
        let sep = usize::from(len > 0);
        let end = len.checked_add(sep).and_then(|n| n.checked_add(label.len())).ok_or(Error)?;
        // `buf` is exactly MAX_NAME_LEN long, so this is the length limit.
        let dst = self.buf.get_mut(len..end).ok_or(Error)?;
        let (dot, text) = dst.split_at_mut_checked(sep).ok_or(Error)?;
        dot.fill(b'.');
        for (d, s) in text.iter_mut().zip(label) {
            *d = s.to_ascii_lowercase();
        }
        self.len = u8::try_from(end).map_err(|_| Error)?;
        Ok(())
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Name {}

impl Hash for Name {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Name").field(&self.as_str()).finish()
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Decodes the name starting at `start`, following compression pointers.
///
/// Returns the name and the offset just past its in-place encoding (after the
/// first pointer, or after the terminating zero label). Each pointer must
/// target an offset before the label sequence currently being read and
/// outside the header, so the read position strictly decreases at every jump.
fn read_name(data: &[u8], start: usize) -> Result<(Name, usize), Error> {
    let mut name = Name::ROOT;
    let mut r = Reader::at(data, start)?;
    let mut sequence_start = start;
    let mut end_in_place = None;
    let mut jumps = 0;
    loop {
        let len_byte = r.u8()?;
        match len_byte & field::LABEL_KIND_MASK {
            field::LABEL_KIND_NORMAL if len_byte == 0 => {
                return Ok((name, end_in_place.unwrap_or(r.position())));
            }
            field::LABEL_KIND_NORMAL => name.push_label(r.take(usize::from(len_byte))?)?,
            field::LABEL_KIND_POINTER => {
                let target = usize::from(u16::from_be_bytes([len_byte & field::POINTER_HIGH_MASK, r.u8()?]));
                jumps += 1;
                if target >= sequence_start || target < field::HEADER_LEN || jumps > MAX_POINTER_JUMPS {
                    return Err(Error);
                }
                end_in_place.get_or_insert(r.position());
                r = Reader::at(data, target)?;
                sequence_start = target;
            }
            // 0b01 (extended, RFC 6891 deprecated) and 0b10 (reserved).
            _ => return Err(Error),
        }
    }
}

/// One entry of the question section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Question {
    /// The name asked about.
    pub name: Name,
    /// QTYPE, e.g. 1 for A, 28 for AAAA, 65 for HTTPS.
    pub qtype: u16,
    /// QCLASS, normally 1 (IN).
    pub qclass: u16,
}

/// Decodes the question at `start`; returns it and the offset after it.
fn read_question(data: &[u8], start: usize) -> Result<(Question, usize), Error> {
    let (name, after_name) = read_name(data, start)?;
    let mut r = Reader::at(data, after_name)?;
    let question = Question { name, qtype: r.be16()?, qclass: r.be16()? };
    Ok((question, r.position()))
}

/// The decoded payload of a resource record.
#[allow(clippy::large_enum_variant, reason = "names are stored inline by design: decoding must not allocate")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordData<'a> {
    /// Class IN, type A.
    A(Ipv4Addr),
    /// Class IN, type AAAA.
    Aaaa(Ipv6Addr),
    /// Class IN, type CNAME: the owner name is an alias of this name.
    Cname(Name),
    /// Class IN, type SVCB (64) or HTTPS (65).
    Svcb(Svcb<'a>),
    /// Any other type or class; its RDATA was skipped unread.
    Other,
}

/// One resource record of the answer section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Owner name.
    pub name: Name,
    /// TYPE, e.g. 1 for A, 5 for CNAME, 28 for AAAA.
    pub rtype: u16,
    /// Time to live in seconds; values with the top bit set read as 0
    /// (RFC 2181 §8), so callers can add it to a timestamp safely.
    pub ttl: u32,
    /// The decoded RDATA.
    pub data: RecordData<'a>,
}

/// `SvcParamKeys` (RFC 9460 §14.3.2) read here.
mod svc_key {
    pub const ALPN: u16 = 1;
    pub const IPV4HINT: u16 = 4;
    pub const ECH: u16 = 5;
    pub const IPV6HINT: u16 = 6;
}

/// The RDATA of an SVCB or HTTPS record (RFC 9460 §2.2), its parameter
/// framing checked: every parameter fits, keys strictly increase (§2.2),
/// and the parameters read here have well-formed values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Svcb<'a> {
    /// 0 is `AliasMode` (the target is an alias; parameters mean nothing),
    /// anything else `ServiceMode`, lower values preferred.
    pub priority: u16,
    /// Where the service is; the root (`""`) means the owner name itself.
    pub target: Name,
    params: &'a [u8],
}

impl<'a> Svcb<'a> {
    fn parse(upto_rdata_end: &'a [u8], rdata_start: usize) -> Result<Self, Error> {
        // SvcPriority, TargetName, then SvcParams (RFC 9460 §2.2).
        let mut r = Reader::at(upto_rdata_end, rdata_start)?;
        let priority = r.be16()?;
        // RFC 9460 forbids compressing TargetName; decoding a pointer anyway
        // costs nothing and stays within the record.
        let (target, params_start) = read_name(upto_rdata_end, r.position())?;
        let svcb = Svcb { priority, target, params: Reader::at(upto_rdata_end, params_start)?.rest() };
        let mut previous = None;
        let mut params = SvcParams { rest: svcb.params };
        while let Some(param) = params.next_param()? {
            if previous.is_some_and(|key| key >= param.0) || !value_is_well_formed(param.0, param.1) {
                return Err(Error);
            }
            previous = Some(param.0);
        }
        Ok(svcb)
    }

    /// Whether this is `ServiceMode`, where the parameters apply.
    pub fn is_service(&self) -> bool {
        self.priority != 0
    }

    /// The `SvcParams`, in key order: `(key, value)`.
    pub fn params(&self) -> SvcParams<'a> {
        SvcParams { rest: self.params }
    }

    fn value(&self, key: u16) -> Option<&'a [u8]> {
        self.params().find(|&(k, _)| k == key).map(|(_, value)| value)
    }

    /// The protocol ids of the `alpn` parameter (`h2`, `h3`), in order.
    pub fn alpn(&self) -> impl Iterator<Item = &'a [u8]> + use<'a> {
        let mut rest = self.value(svc_key::ALPN).unwrap_or(&[]);
        core::iter::from_fn(move || {
            let (&len, tail) = rest.split_first()?;
            let (id, tail) = tail.split_at_checked(usize::from(len))?;
            rest = tail;
            Some(id)
        })
    }

    /// Whether the record carries an `ECHConfigList` (`ech`, key 5): the
    /// name is served with real Encrypted ClientHello.
    pub fn has_ech(&self) -> bool {
        self.value(svc_key::ECH).is_some()
    }

    /// The `ipv4hint` addresses.
    pub fn ipv4_hints(&self) -> impl Iterator<Item = Ipv4Addr> + use<'a> {
        let value = self.value(svc_key::IPV4HINT).unwrap_or(&[]);
        value.chunks_exact(4).filter_map(|a| <[u8; 4]>::try_from(a).ok()).map(Ipv4Addr::from)
    }

    /// The `ipv6hint` addresses.
    pub fn ipv6_hints(&self) -> impl Iterator<Item = Ipv6Addr> + use<'a> {
        let value = self.value(svc_key::IPV6HINT).unwrap_or(&[]);
        value.chunks_exact(16).filter_map(|a| <[u8; 16]>::try_from(a).ok()).map(Ipv6Addr::from)
    }
}

/// Whether the value of a parameter read here has its RFC 9460 form: a
/// non-empty list of non-empty ALPN ids, a non-empty `ECHConfigList`, whole
/// non-empty address lists. Other keys' values are opaque.
fn value_is_well_formed(key: u16, value: &[u8]) -> bool {
    match key {
        svc_key::ALPN => {
            let mut rest = value;
            while let Some((&len, tail)) = rest.split_first() {
                let Some((_, tail)) = tail.split_at_checked(usize::from(len)).filter(|_| len > 0) else {
                    return false;
                };
                rest = tail;
            }
            !value.is_empty()
        }
        svc_key::ECH => !value.is_empty(),
        svc_key::IPV4HINT => !value.is_empty() && value.len() % 4 == 0,
        svc_key::IPV6HINT => !value.is_empty() && value.len() % 16 == 0,
        _ => true,
    }
}

/// Iterator over an SVCB record's parameters; see [`Svcb::params`].
#[derive(Debug, Clone)]
pub struct SvcParams<'a> {
    rest: &'a [u8],
}

impl<'a> SvcParams<'a> {
    fn next_param(&mut self) -> Result<Option<(u16, &'a [u8])>, Error> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        // Each a key, a value length and the value.
        let mut r = Reader::new(self.rest);
        let key = r.be16()?;
        let value = r.vec16()?;
        self.rest = r.rest();
        Ok(Some((key, value)))
    }
}

impl<'a> Iterator for SvcParams<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        // The framing was checked when the record was decoded.
        self.next_param().ok().flatten()
    }
}

/// Decodes the resource record at `start`; returns it and the offset after it.
fn read_record(data: &[u8], start: usize) -> Result<(Record<'_>, usize), Error> {
    let (name, after_name) = read_name(data, start)?;
    let mut r = Reader::at(data, after_name)?;
    let (rtype, class, ttl) = (r.be16()?, r.be16()?, r.be32()?);
    let rdata_len = r.vec16()?.len();
    let rdata_end = r.position();
    let rdata_start = rdata_end - rdata_len;
    // The message prefix ending with this record. Pointers only go backwards,
    // so a name in the RDATA decodes entirely within it, and its in-place
    // part cannot silently run past RDLENGTH into the next record.
    let upto_rdata_end = data.get(..rdata_end).ok_or(Error)?;
    let rdata = upto_rdata_end.get(rdata_start..).ok_or(Error)?;

    let record_data = match (class & CLASS_MASK, rtype) {
        (CLASS_IN, TYPE_A) => RecordData::A(Ipv4Addr::from(<[u8; 4]>::try_from(rdata).map_err(|_| Error)?)),
        (CLASS_IN, TYPE_AAAA) => RecordData::Aaaa(Ipv6Addr::from(<[u8; 16]>::try_from(rdata).map_err(|_| Error)?)),
        (CLASS_IN, TYPE_CNAME) => {
            let (target, end) = read_name(upto_rdata_end, rdata_start)?;
            // Trailing bytes would mean we misread the record framing.
            if end != rdata_end {
                return Err(Error);
            }
            RecordData::Cname(target)
        }
        (CLASS_IN, TYPE_SVCB | TYPE_HTTPS) => RecordData::Svcb(Svcb::parse(upto_rdata_end, rdata_start)?),
        // Other classes give these types other RDATA formats (e.g. CHAOS A).
        _ => RecordData::Other,
    };

    let record = Record { name, rtype, ttl: if ttl > i32::MAX as u32 { 0 } else { ttl }, data: record_data };
    Ok((record, rdata_end))
}

/// A checked, zero-copy view of one DNS message (UDP payload, or a TCP
/// message after [`tcp_message`]).
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    data: &'a [u8],
    header: Header,
}

impl<'a> Message<'a> {
    /// Wraps `data` after checking that the header is present and that the
    /// section counts fit: every question needs at least 5 bytes and every
    /// record 11, so counts the message cannot hold are rejected up front
    /// (cheap filtering of non-DNS traffic on DNS ports).
    pub fn new_checked(data: &'a [u8]) -> Result<Self, Error> {
        let header = Header::read(&mut Reader::new(data))?;
        let (questions, records) = (usize::from(header.questions), header.records());
        let min_len = questions
            .checked_mul(field::MIN_QUESTION_LEN)
            .zip(records.checked_mul(field::MIN_RECORD_LEN))
            .and_then(|(q, r)| q.checked_add(r))
            .and_then(|body| body.checked_add(field::HEADER_LEN))
            .ok_or(Error)?;
        if data.len() < min_len {
            return Err(Error);
        }
        Ok(Message { data, header })
    }

    fn flags(&self) -> u16 {
        self.header.flags
    }

    /// Transaction ID, which pairs a response with its query.
    pub fn id(&self) -> u16 {
        self.header.id
    }

    /// True for responses (QR bit set).
    pub fn is_response(&self) -> bool {
        self.flags() & field::FLAG_QR != 0
    }

    /// OPCODE: 0 for a standard query.
    pub fn opcode(&self) -> u8 {
        // Masked to 4 bits, so the narrowing is lossless.
        ((self.flags() >> field::OPCODE_SHIFT) & field::OPCODE_MASK) as u8
    }

    /// RCODE (header part only): 0 NOERROR, 3 NXDOMAIN, ...
    pub fn rcode(&self) -> u8 {
        // Masked to 4 bits, so the narrowing is lossless.
        (self.flags() & field::RCODE_MASK) as u8
    }

    /// Number of entries in the question section.
    pub fn question_count(&self) -> u16 {
        self.header.questions
    }

    /// Number of records in the answer section.
    pub fn answer_count(&self) -> u16 {
        self.header.answers
    }

    /// The first question (the one clients ask), if any.
    pub fn question(&self) -> Result<Option<Question>, Error> {
        if self.question_count() == 0 {
            return Ok(None);
        }
        read_question(self.data, field::HEADER_LEN).map(|(question, _)| Some(question))
    }

    /// Iterates the answer section (after skipping all questions). Stops
    /// (yields one `Err`, then `None`) on malformed data; never yields more
    /// than [`answer_count`](Self::answer_count) items.
    pub fn answers(&self) -> Answers<'a> {
        let next = (0..self.question_count())
            .try_fold(field::HEADER_LEN, |pos, _| read_question(self.data, pos).map(|(_, end)| end));
        Answers { data: self.data, next, remaining: self.answer_count() }
    }
}

/// Iterator over the answer section; see [`Message::answers`].
#[derive(Debug, Clone)]
pub struct Answers<'a> {
    data: &'a [u8],
    /// Offset of the next record, or the error that ends iteration.
    next: Result<usize, Error>,
    remaining: u16,
}

impl<'a> Iterator for Answers<'a> {
    type Item = Result<Record<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.remaining = self.remaining.checked_sub(1)?;
        let result = self.next.and_then(|pos| read_record(self.data, pos));
        match result {
            Ok((record, end)) => {
                self.next = Ok(end);
                Some(Ok(record))
            }
            Err(error) => {
                // Framing is lost after an error, so nothing further is trustworthy.
                self.remaining = 0;
                Some(Err(error))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(usize::from(self.remaining)))
    }
}

impl FusedIterator for Answers<'_> {}

/// DNS over TCP (RFC 1035 §4.2.2): strips the 2-byte length prefix when the
/// whole first message is present, and returns just that message (a segment
/// may carry further pipelined messages after it). `None` if it is cut short.
pub fn tcp_message(payload: &[u8]) -> Option<&[u8]> {
    Reader::new(payload).vec16().ok()
}

/// What the start of a TCP stream says about it carrying DNS, read by its
/// content alone (no port): see [`tcp_stream_start`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpStart {
    /// A length prefix and a whole message that parses exactly to it.
    Dns,
    /// Not a DNS message.
    NotDns,
    /// Plausible so far, but the first message is not all there yet.
    TooShort,
}

/// RFC 6895 §2.3: header RCODEs 11-15 are unassigned.
const MAX_HEADER_RCODE: u16 = 10;
/// Questions in one message: always one in practice (RFC 9619 makes that
/// the rule); a few leave room for old or odd clients.
const MAX_QUESTIONS: u16 = 4;
/// A query's additional records: an OPT (EDNS), perhaps a TSIG.
const MAX_QUERY_ADDITIONALS: u16 = 2;
/// Bits of the FLAGS word a sane query leaves clear: AA, TC, Z and RCODE
/// (a query is never truncated over TCP, and answers nothing).
const QUERY_ZERO_FLAGS: u16 = 0x0400 | 0x0200 | 0x0040 | field::RCODE_MASK;
const FLAG_Z: u16 = 0x0040;
const CLASS_CH: u16 = 3;
const CLASS_ANY: u16 = 255;

/// Whether a TCP stream starts with a DNS message in RFC 1035 §4.2.2
/// framing, whatever the port: a length prefix, then a standard query or
/// response with one question (or a few) whose name is well-formed, and
/// whose questions and records parse to exactly the length the prefix
/// gives. A TLS record, an HTTP head or a binary protocol with a length
/// prefix of its own fails one of these long before the end, so the check
/// can run on every TCP flow that no other protocol claims.
pub fn tcp_stream_start(stream: &[u8]) -> TcpStart {
    let mut r = Reader::new(stream);
    let Ok(len) = r.be16().map(usize::from) else { return TcpStart::TooShort };
    let rest = r.rest();
    if len < field::HEADER_LEN + field::MIN_QUESTION_LEN {
        return TcpStart::NotDns;
    }
    // A header cut short is judged by what it has: the missing counts read
    // as their most plausible values, so only what is there can reject.
    let mut padded = [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    padded.iter_mut().zip(rest).for_each(|(h, &b)| *h = b);
    let Ok(header) = Header::read(&mut Reader::new(&padded)) else { return TcpStart::NotDns };
    if !header_is_plausible(&header) {
        return TcpStart::NotDns;
    }
    let Some(message) = rest.get(..len) else { return TcpStart::TooShort };
    if parses_exactly(message) { TcpStart::Dns } else { TcpStart::NotDns }
}

fn header_is_plausible(header: &Header) -> bool {
    let (flags, questions) = (header.flags, header.questions);
    let opcode = (flags >> field::OPCODE_SHIFT) & field::OPCODE_MASK;
    if opcode != 0 || flags & FLAG_Z != 0 || !(1..=MAX_QUESTIONS).contains(&questions) {
        return false;
    }
    if flags & field::FLAG_QR != 0 {
        return flags & field::RCODE_MASK <= MAX_HEADER_RCODE;
    }
    flags & QUERY_ZERO_FLAGS == 0
        && header.answers == 0
        && header.authorities == 0
        && header.additionals <= MAX_QUERY_ADDITIONALS
}

/// Every question (a name of at least one label, a sane class) and every
/// record of all three sections parses, and the last ends where the
/// message does.
fn parses_exactly(message: &[u8]) -> bool {
    let Ok(msg) = Message::new_checked(message) else { return false };
    let mut pos = field::HEADER_LEN;
    for _ in 0..msg.question_count() {
        let Ok((question, end)) = read_question(message, pos) else { return false };
        let class = question.qclass & CLASS_MASK;
        if question.name.is_empty() || question.qtype == 0 || ![CLASS_IN, CLASS_CH, CLASS_ANY].contains(&class) {
            return false;
        }
        pos = end;
    }
    let records = msg.header.records();
    for _ in 0..records {
        let Ok((_, end)) = read_record(message, pos) else { return false };
        pos = end;
    }
    pos == message.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Response for `www.facebook.com A`, captured from a live resolver
    /// (bytes as published in smoltcp's `wire::dns` tests): a CNAME to
    /// `star-mini.c10r.facebook.com` whose RDATA ends in a pointer into the
    /// question (offset 0x10, "facebook.com"), and an A record whose owner
    /// name is a pointer into that CNAME's RDATA (offset 0x2e).
    const CAPTURED_FACEBOOK: [u8; 79] = [
        0x78, 0x6c, 0x81, 0x80, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x03, 0x77, 0x77, 0x77, 0x08, 0x66,
        0x61, 0x63, 0x65, 0x62, 0x6f, 0x6f, 0x6b, 0x03, 0x63, 0x6f, 0x6d, 0x00, 0x00, 0x01, 0x00, 0x01, 0xc0, 0x0c,
        0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x05, 0xf3, 0x00, 0x11, 0x09, 0x73, 0x74, 0x61, 0x72, 0x2d, 0x6d, 0x69,
        0x6e, 0x69, 0x04, 0x63, 0x31, 0x30, 0x72, 0xc0, 0x10, 0xc0, 0x2e, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00,
        0x05, 0x00, 0x04, 0x1f, 0x0d, 0x53, 0x24,
    ];

    /// NXDOMAIN for `ahasdghlaksjhbaasld.com A`, captured likewise: no
    /// answers, one SOA in the authority section.
    const CAPTURED_NXDOMAIN: [u8; 114] = [
        0x63, 0xc4, 0x81, 0x83, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x13, 0x61, 0x68, 0x61, 0x73, 0x64,
        0x67, 0x68, 0x6c, 0x61, 0x6b, 0x73, 0x6a, 0x68, 0x62, 0x61, 0x61, 0x73, 0x6c, 0x64, 0x03, 0x63, 0x6f, 0x6d,
        0x00, 0x00, 0x01, 0x00, 0x01, 0xc0, 0x20, 0x00, 0x06, 0x00, 0x01, 0x00, 0x00, 0x03, 0x83, 0x00, 0x3d, 0x01,
        0x61, 0x0c, 0x67, 0x74, 0x6c, 0x64, 0x2d, 0x73, 0x65, 0x72, 0x76, 0x65, 0x72, 0x73, 0x03, 0x6e, 0x65, 0x74,
        0x00, 0x05, 0x6e, 0x73, 0x74, 0x6c, 0x64, 0x0c, 0x76, 0x65, 0x72, 0x69, 0x73, 0x69, 0x67, 0x6e, 0x2d, 0x67,
        0x72, 0x73, 0xc0, 0x20, 0x5f, 0xce, 0x8b, 0x85, 0x00, 0x00, 0x07, 0x08, 0x00, 0x00, 0x03, 0x84, 0x00, 0x09,
        0x3a, 0x80, 0x00, 0x01, 0x51, 0x80,
    ];

    /// Response for `www.apple.com A` with the three-hop CDN chain such
    /// queries return, laid out exactly as a compressing server writes it
    /// (RFC 1035 §4.1.4: longest already-written suffix becomes a pointer)
    /// and with the EDNS OPT record resolvers append.
    #[rustfmt::skip]
    const APPLE_CHAIN: [u8; 192] = [
        // Header: id 0x8f3a, QR RD RA NOERROR, 1 question, 4 answers, 1 additional.
        0x8f, 0x3a, 0x81, 0x80, 0x00, 0x01, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01,
        // @12 question: www.apple.com A IN.
        0x03, b'w', b'w', b'w', 0x05, b'a', b'p', b'p', b'l', b'e', 0x03, b'c', b'o', b'm', 0x00,
        0x00, 0x01, 0x00, 0x01,
        // @31 answer: <ptr 12> CNAME IN ttl 300, rdlength 27.
        0xc0, 0x0c, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x1b,
        // @43 www.apple.com.edgekey.net (no earlier suffix; "net" label @65).
        0x03, b'w', b'w', b'w', 0x05, b'a', b'p', b'p', b'l', b'e', 0x03, b'c', b'o', b'm',
        0x07, b'e', b'd', b'g', b'e', b'k', b'e', b'y', 0x03, b'n', b'e', b't', 0x00,
        // @70 answer: <ptr 43> CNAME IN ttl 21600, rdlength 47.
        0xc0, 0x2b, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x54, 0x60, 0x00, 0x2f,
        // @82 www.apple.com.edgekey.net.globalredir.akadns.<ptr 65 "net">.
        0x03, b'w', b'w', b'w', 0x05, b'a', b'p', b'p', b'l', b'e', 0x03, b'c', b'o', b'm',
        0x07, b'e', b'd', b'g', b'e', b'k', b'e', b'y', 0x03, b'n', b'e', b't',
        0x0b, b'g', b'l', b'o', b'b', b'a', b'l', b'r', b'e', b'd', b'i', b'r',
        0x06, b'a', b'k', b'a', b'd', b'n', b's', 0xc0, 0x41,
        // @129 answer: <ptr 82> CNAME IN ttl 3600, rdlength 24.
        0xc0, 0x52, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10, 0x00, 0x18,
        // @141 e6858.dscx.akamaiedge.<ptr 65 "net">.
        0x05, b'e', b'6', b'8', b'5', b'8', 0x04, b'd', b's', b'c', b'x',
        0x0a, b'a', b'k', b'a', b'm', b'a', b'i', b'e', b'd', b'g', b'e', 0xc0, 0x41,
        // @165 answer: <ptr 141> A IN ttl 20, 23.201.112.126.
        0xc0, 0x8d, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x14, 0x00, 0x04,
        0x17, 0xc9, 0x70, 0x7e,
        // @181 additional: OPT, root owner, UDP size 1232, no options.
        0x00, 0x00, 0x29, 0x04, 0xd0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];

    /// Fixed-capacity byte buffer for hand-built messages, so even the tests
    /// stay allocation-free.
    struct Buf {
        bytes: [u8; 1024],
        len: usize,
    }

    impl Buf {
        /// A message header with the given flags and question/answer counts.
        fn header(flags: u16, qdcount: u16, ancount: u16) -> Buf {
            let mut buf = Buf { bytes: [0; 1024], len: 0 };
            buf.u16(0x1234).u16(flags).u16(qdcount).u16(ancount).u16(0).u16(0);
            buf
        }

        fn raw(&mut self, bytes: &[u8]) -> &mut Self {
            self.bytes[self.len..self.len + bytes.len()].copy_from_slice(bytes);
            self.len += bytes.len();
            self
        }

        fn u16(&mut self, v: u16) -> &mut Self {
            self.raw(&v.to_be_bytes())
        }

        /// Uncompressed wire encoding of a dotted name ("" is the root).
        fn name(&mut self, dotted: &str) -> &mut Self {
            for label in dotted.split('.').filter(|l| !l.is_empty()) {
                self.raw(&[u8::try_from(label.len()).unwrap()]).raw(label.as_bytes());
            }
            self.raw(&[0])
        }

        fn question(&mut self, dotted: &str, qtype: u16) -> &mut Self {
            self.name(dotted).u16(qtype).u16(CLASS_IN)
        }

        /// Record fields after the owner name, followed by the RDATA.
        fn rr_tail(&mut self, rtype: u16, class: u16, ttl: u32, rdata: &[u8]) -> &mut Self {
            self.u16(rtype).u16(class).raw(&ttl.to_be_bytes());
            self.u16(u16::try_from(rdata.len()).unwrap()).raw(rdata)
        }

        fn bytes(&self) -> &[u8] {
            &self.bytes[..self.len]
        }
    }

    const RESPONSE: u16 = 0x8180;

    fn name(text: &str) -> Name {
        let mut name = Name::ROOT;
        for label in text.split('.').filter(|l| !l.is_empty()) {
            name.push_label(label.as_bytes()).unwrap();
        }
        name
    }

    /// Collects up to 8 answer items into a fixed array, plus the count.
    fn collect<'a>(message: &Message<'a>) -> ([Option<Result<Record<'a>, Error>>; 8], usize) {
        let mut out = [None; 8];
        let mut n = 0;
        for item in message.answers() {
            out[n] = Some(item);
            n += 1;
        }
        (out, n)
    }

    fn single_answer(bytes: &[u8]) -> Result<Record<'_>, Error> {
        let message = Message::new_checked(bytes).unwrap();
        let mut answers = message.answers();
        let first = answers.next().expect("one item");
        assert!(answers.next().is_none());
        first
    }

    #[test]
    fn captured_cname_response() {
        let message = Message::new_checked(&CAPTURED_FACEBOOK).unwrap();
        assert_eq!(message.id(), 0x786c);
        assert!(message.is_response());
        assert_eq!((message.opcode(), message.rcode()), (0, 0));
        assert_eq!((message.question_count(), message.answer_count()), (1, 2));
        let question = message.question().unwrap().unwrap();
        assert_eq!(question.name.as_str(), "www.facebook.com");
        assert_eq!((question.qtype, question.qclass), (TYPE_A, CLASS_IN));

        let mut answers = message.answers();
        let cname = answers.next().unwrap().unwrap();
        assert_eq!(cname.name.as_str(), "www.facebook.com");
        assert_eq!((cname.rtype, cname.ttl), (TYPE_CNAME, 1523));
        assert_eq!(cname.data, RecordData::Cname(name("star-mini.c10r.facebook.com")));
        let a = answers.next().unwrap().unwrap();
        assert_eq!(a.name.as_str(), "star-mini.c10r.facebook.com");
        assert_eq!((a.rtype, a.ttl), (TYPE_A, 5));
        assert_eq!(a.data, RecordData::A(Ipv4Addr::new(31, 13, 83, 36)));
        assert!(answers.next().is_none());
    }

    #[test]
    fn captured_nxdomain_has_no_answers() {
        let message = Message::new_checked(&CAPTURED_NXDOMAIN).unwrap();
        assert_eq!(message.rcode(), 3);
        assert_eq!(message.question().unwrap().unwrap().name.as_str(), "ahasdghlaksjhbaasld.com");
        assert_eq!(message.answers().count(), 0);
    }

    #[test]
    fn multi_hop_cname_chain_links_up() {
        let message = Message::new_checked(&APPLE_CHAIN).unwrap();
        let (items, n) = collect(&message);
        assert_eq!(n, 4);
        let expected_targets = [
            "www.apple.com.edgekey.net",
            "www.apple.com.edgekey.net.globalredir.akadns.net",
            "e6858.dscx.akamaiedge.net",
        ];
        // Each record's owner must be the previous CNAME's target, starting at the question.
        let mut owner = message.question().unwrap().unwrap().name;
        for (item, target) in items.iter().zip(expected_targets) {
            let record = item.unwrap().unwrap();
            assert_eq!(record.name, owner);
            assert_eq!(record.data, RecordData::Cname(name(target)));
            owner = name(target);
        }
        let a = items[3].unwrap().unwrap();
        assert_eq!(a.name, owner);
        assert_eq!((a.ttl, a.data), (20, RecordData::A(Ipv4Addr::new(23, 201, 112, 126))));
    }

    #[test]
    fn query_without_answers() {
        let mut buf = Buf::header(0x0100, 1, 0);
        buf.question("Example.COM", TYPE_AAAA);
        let message = Message::new_checked(buf.bytes()).unwrap();
        assert!(!message.is_response());
        let question = message.question().unwrap().unwrap();
        assert_eq!(question.name.as_str(), "example.com");
        assert_eq!(question.qtype, TYPE_AAAA);
        assert!(message.answers().next().is_none());
    }

    #[test]
    fn header_fields() {
        // QR, opcode 5 (UPDATE), AA, RCODE 5 (REFUSED).
        let buf = Buf::header(0x8000 | (5 << 11) | 0x0400 | 5, 0, 0);
        let message = Message::new_checked(buf.bytes()).unwrap();
        assert_eq!((message.id(), message.opcode(), message.rcode()), (0x1234, 5, 5));
        assert!(message.is_response());
        assert_eq!(message.question(), Ok(None));
    }

    #[test]
    fn aaaa_and_other_records() {
        let mut buf = Buf::header(RESPONSE, 1, 2);
        buf.question("v6.example", TYPE_AAAA);
        let addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
        buf.raw(&[0xc0, 12]).rr_tail(TYPE_AAAA, CLASS_IN, 60, &addr.octets());
        // TXT: skipped unread, iteration continues past it.
        buf.raw(&[0xc0, 12]).rr_tail(16, CLASS_IN, 60, b"\x05hello");
        let message = Message::new_checked(buf.bytes()).unwrap();
        let (items, n) = collect(&message);
        assert_eq!(n, 2);
        let aaaa = items[0].unwrap().unwrap();
        assert_eq!((aaaa.name.as_str(), aaaa.data), ("v6.example", RecordData::Aaaa(addr)));
        let txt = items[1].unwrap().unwrap();
        assert_eq!((txt.rtype, txt.data), (16, RecordData::Other));
    }

    /// HTTPS RDATA as Cloudflare publishes it for an ECH name: priority 1,
    /// target "." (the owner), alpn h3,h2, ipv4hint, ech, ipv6hint.
    fn https_rdata(ech: &[u8]) -> ([u8; 128], usize) {
        let mut rdata = Buf { bytes: [0; 1024], len: 0 };
        rdata.u16(1).raw(&[0]);
        rdata.u16(1).u16(6).raw(b"\x02h3\x02h2");
        rdata.u16(4).u16(8).raw(&[203, 0, 113, 150, 203, 0, 113, 151]);
        if !ech.is_empty() {
            rdata.u16(5).u16(u16::try_from(ech.len()).unwrap()).raw(ech);
        }
        rdata.u16(6).u16(16).raw(&Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x150).octets());
        let mut out = [0; 128];
        out[..rdata.len].copy_from_slice(rdata.bytes());
        (out, rdata.len)
    }

    /// Whether an HTTPS answer with this RDATA decodes.
    fn https_answer(rdata: &[u8]) -> Result<(), Error> {
        let mut buf = Buf::header(RESPONSE, 1, 1);
        buf.question("crypto.example", TYPE_HTTPS);
        buf.raw(&[0xc0, 12]).rr_tail(TYPE_HTTPS, CLASS_IN, 300, rdata);
        let message = Message::new_checked(buf.bytes()).unwrap();
        message.answers().next().unwrap().map(|_| ())
    }

    #[test]
    fn https_record_parameters() {
        let (rdata, len) = https_rdata(b"\x00\x45\xfe\x0d");
        let mut buf = Buf::header(RESPONSE, 1, 1);
        buf.question("crypto.example", TYPE_HTTPS);
        buf.raw(&[0xc0, 12]).rr_tail(TYPE_HTTPS, CLASS_IN, 300, &rdata[..len]);
        let message = Message::new_checked(buf.bytes()).unwrap();
        let record = message.answers().next().unwrap().unwrap();
        let RecordData::Svcb(svcb) = record.data else { panic!("{record:?}") };
        assert_eq!((record.name.as_str(), record.ttl, svcb.priority), ("crypto.example", 300, 1));
        assert!(svcb.is_service() && svcb.target.is_empty() && svcb.has_ech());
        let alpn: Vec<&[u8]> = svcb.alpn().collect();
        assert_eq!(alpn, [&b"h3"[..], b"h2"]);
        let v4: Vec<Ipv4Addr> = svcb.ipv4_hints().collect();
        assert_eq!(v4, [Ipv4Addr::new(203, 0, 113, 150), Ipv4Addr::new(203, 0, 113, 151)]);
        let v6: Vec<Ipv6Addr> = svcb.ipv6_hints().collect();
        assert_eq!(v6, [Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x150)]);
        assert_eq!(svcb.params().map(|(key, _)| key).collect::<Vec<_>>(), [1, 4, 5, 6]);

        let (rdata, len) = https_rdata(b"");
        let mut buf = Buf::header(RESPONSE, 0, 1);
        buf.name("plain.example").rr_tail(TYPE_SVCB, CLASS_IN, 60, &rdata[..len]);
        let RecordData::Svcb(svcb) = single_answer(buf.bytes()).unwrap().data else { panic!() };
        assert!(!svcb.has_ech());
        assert_eq!(svcb.ipv4_hints().count(), 2);
    }

    #[test]
    fn https_alias_mode() {
        let mut rdata = Buf { bytes: [0; 1024], len: 0 };
        rdata.u16(0).name("svc.example.net");
        let mut buf = Buf::header(RESPONSE, 0, 1);
        buf.name("example.com").rr_tail(TYPE_HTTPS, CLASS_IN, 60, rdata.bytes());
        let RecordData::Svcb(svcb) = single_answer(buf.bytes()).unwrap().data else { panic!() };
        assert!(!svcb.is_service());
        assert_eq!((svcb.target.as_str(), svcb.params().count()), ("svc.example.net", 0));
    }

    #[test]
    fn https_record_framing_is_checked() {
        let cases: [(&str, &[u8]); 8] = [
            ("no target", &[0, 1]),
            ("truncated key", &[0, 1, 0, 0, 1]),
            ("value overruns", &[0, 1, 0, 0, 4, 0, 8, 1, 2, 3, 4]),
            ("keys out of order", &[0, 1, 0, 0, 4, 0, 4, 1, 2, 3, 4, 0, 1, 0, 3, 2, b'h', b'2']),
            ("repeated key", &[0, 1, 0, 0, 5, 0, 1, 7, 0, 5, 0, 1, 7]),
            ("ipv4hint not whole", &[0, 1, 0, 0, 4, 0, 3, 1, 2, 3]),
            ("empty alpn id", &[0, 1, 0, 0, 1, 0, 1, 0]),
            ("alpn id overruns", &[0, 1, 0, 0, 1, 0, 2, 5, b'h']),
        ];
        for (what, rdata) in cases {
            assert_eq!(https_answer(rdata).err(), Some(Error), "{what}");
        }
        assert!(https_answer(&[0, 1, 0, 0, 1, 0, 3, 2, b'h', b'2']).is_ok());
        // An unknown key's value is opaque.
        assert!(https_answer(&[0, 1, 0, 0xff, 0x00, 0, 0]).is_ok());
    }

    #[test]
    fn https_record_never_panics_on_any_prefix_or_mutation() {
        let (rdata, len) = https_rdata(b"\x00\x45\xfe\x0d\x00\x01");
        let mut buf = Buf::header(RESPONSE, 1, 1);
        buf.question("crypto.example", TYPE_HTTPS);
        buf.raw(&[0xc0, 12]).rr_tail(TYPE_HTTPS, CLASS_IN, 300, &rdata[..len]);
        let seed = buf.bytes();
        let read = |bytes: &[u8]| {
            let Ok(message) = Message::new_checked(bytes) else { return 0 };
            let mut hints = 0;
            for record in message.answers().flatten() {
                if let RecordData::Svcb(svcb) = record.data {
                    hints += svcb.ipv4_hints().count() + svcb.ipv6_hints().count() + svcb.alpn().count();
                    let _ = (svcb.has_ech(), svcb.params().count(), svcb.target.as_str().len());
                }
            }
            hints
        };
        assert_eq!(read(seed), 5);
        for end in 0..seed.len() {
            read(&seed[..end]);
        }
        let mut bytes = [0u8; 256];
        for at in field::HEADER_LEN..seed.len() {
            for value in [0u8, 1, 3, 4, 0x7f, 0xc0, 0xff] {
                bytes[..seed.len()].copy_from_slice(seed);
                bytes[at] = value;
                read(&bytes[..seed.len()]);
            }
        }
    }

    #[test]
    fn address_rdata_must_have_exact_length() {
        for (rtype, len) in [(TYPE_A, 3), (TYPE_A, 5), (TYPE_AAAA, 4), (TYPE_AAAA, 17)] {
            let mut buf = Buf::header(RESPONSE, 0, 1);
            buf.name("x").rr_tail(rtype, CLASS_IN, 1, &[0; 17][..len]);
            assert_eq!(single_answer(buf.bytes()), Err(Error), "type {rtype} len {len}");
        }
    }

    #[test]
    fn non_in_class_is_other_but_mdns_cache_flush_is_in() {
        let mut buf = Buf::header(RESPONSE, 0, 2);
        // CHAOS-class A has a different RDATA format; must not be read as IPv4.
        buf.name("x").rr_tail(TYPE_A, 3, 1, &[1, 2, 3, 4, 5, 6]);
        buf.name("y").rr_tail(TYPE_A, 0x8001, 1, &[10, 0, 0, 7]);
        let message = Message::new_checked(buf.bytes()).unwrap();
        let (items, n) = collect(&message);
        assert_eq!(n, 2);
        assert_eq!(items[0].unwrap().unwrap().data, RecordData::Other);
        assert_eq!(items[1].unwrap().unwrap().data, RecordData::A(Ipv4Addr::new(10, 0, 0, 7)));
    }

    #[test]
    fn ttl_with_top_bit_reads_as_zero() {
        let mut buf = Buf::header(RESPONSE, 0, 1);
        buf.name("x").rr_tail(TYPE_A, CLASS_IN, 0x8000_0001, &[1, 2, 3, 4]);
        assert_eq!(single_answer(buf.bytes()).unwrap().ttl, 0);
        let mut buf = Buf::header(RESPONSE, 0, 1);
        buf.name("x").rr_tail(TYPE_A, CLASS_IN, 0x7fff_ffff, &[1, 2, 3, 4]);
        assert_eq!(single_answer(buf.bytes()).unwrap().ttl, 0x7fff_ffff);
    }

    #[test]
    fn label_characters() {
        let mut buf = Buf::header(0, 1, 0);
        buf.question("_Dmarc.My-Host.EXAMPLE~1", 16);
        let message = Message::new_checked(buf.bytes()).unwrap();
        assert_eq!(message.question().unwrap().unwrap().name.as_str(), "_dmarc.my-host.example~1");

        for bad in [&b"a.b"[..], b"a b", b"a\x00", b"\x7f", b"caf\xc3\xa9"] {
            let mut buf = Buf::header(0, 1, 0);
            buf.raw(&[u8::try_from(bad.len()).unwrap()]).raw(bad).raw(&[0]).u16(1).u16(1);
            let message = Message::new_checked(buf.bytes()).unwrap();
            assert_eq!(message.question(), Err(Error), "label {bad:?}");
        }
    }

    #[test]
    fn root_name() {
        let mut buf = Buf::header(0, 1, 0);
        buf.question("", 2);
        let question = Message::new_checked(buf.bytes()).unwrap().question().unwrap().unwrap();
        assert!(question.name.is_empty());
        assert_eq!(question.name.as_str(), "");
        assert!(!name("a").is_empty());
    }

    #[test]
    fn name_length_limit() {
        // 63+1+63+1+63+1+61 = 253 characters: the longest legal name.
        let mut buf = Buf::header(0, 0, 0);
        for len in [63, 63, 63, 61] {
            buf.raw(&[len]).raw(&[b'a'; 63][..usize::from(len)]);
        }
        buf.raw(&[0]);
        let (longest, end) = read_name(buf.bytes(), field::HEADER_LEN).unwrap();
        assert_eq!((longest.as_str().len(), end), (MAX_NAME_LEN, buf.len));

        let mut buf = Buf::header(0, 0, 0);
        for len in [63, 63, 63, 62] {
            buf.raw(&[len]).raw(&[b'a'; 63][..usize::from(len)]);
        }
        buf.raw(&[0]);
        assert_eq!(read_name(buf.bytes(), field::HEADER_LEN), Err(Error));
    }

    #[test]
    fn reserved_label_kinds_are_errors() {
        for kind in [0x41, 0x80] {
            let mut buf = Buf::header(0, 1, 0);
            buf.raw(&[1, b'a', kind, 0, 0]).u16(1).u16(1);
            let message = Message::new_checked(buf.bytes()).unwrap();
            assert_eq!(message.question(), Err(Error), "kind {kind:#x}");
        }
    }

    #[test]
    fn pointers_must_go_strictly_backwards_and_not_into_header() {
        // (start offset, bytes from offset 12, valid?)
        let cases: [(usize, &[u8], bool); 6] = [
            (15, &[1, b'a', 0, 0xc0, 12], true), // backwards to 12
            (12, &[1, b'a', 0xc0, 12], false),   // into its own sequence
            (12, &[0xc0, 12], false),            // to itself
            (12, &[0xc0, 14, 0, 0], false),      // forwards
            (15, &[1, b'a', 0, 0xc0, 4], false), // into the header
            (15, &[1, b'a', 0, 0xc0], false),    // truncated pointer
        ];
        for (start, tail, ok) in cases {
            let mut buf = Buf::header(0, 0, 0);
            buf.raw(tail);
            assert_eq!(read_name(buf.bytes(), start).is_ok(), ok, "{tail:?}");
        }
        // A pointer into the middle of an earlier name reuses its suffix.
        let mut buf = Buf::header(0, 0, 0);
        buf.name("a.example").raw(&[1, b'b', 0xc0, 14]);
        let (suffix, end) = read_name(buf.bytes(), 23).unwrap();
        assert_eq!((suffix.as_str(), end), ("b.example", 27));
    }

    #[test]
    fn pointer_jump_limit() {
        // "a" at 12, then pointers at 15, 17, ...: each targets the previous one,
        // so reading the pointer at 15 + 2k takes k + 1 jumps.
        let mut buf = Buf::header(0, 0, 0);
        buf.raw(&[1, b'a', 0]);
        let mut previous = 12u16;
        for _ in 0..=MAX_POINTER_JUMPS {
            let here = u16::try_from(buf.len).unwrap();
            buf.u16(0xc000 | previous);
            previous = here;
        }
        let at = |jumps: usize| 15 + 2 * (jumps - 1);
        let (last_ok, end) = read_name(buf.bytes(), at(MAX_POINTER_JUMPS)).unwrap();
        assert_eq!((last_ok.as_str(), end), ("a", at(MAX_POINTER_JUMPS) + 2));
        assert_eq!(read_name(buf.bytes(), at(MAX_POINTER_JUMPS + 1)), Err(Error));
    }

    #[test]
    fn rdata_overrunning_the_message() {
        let mut buf = Buf::header(RESPONSE, 0, 1);
        buf.name("x").u16(TYPE_A).u16(CLASS_IN).raw(&[0, 0, 0, 1]).u16(4).raw(&[1, 2, 3]);
        assert_eq!(single_answer(buf.bytes()), Err(Error));
    }

    #[test]
    fn cname_rdata_must_match_rdlength() {
        // Name shorter than RDLENGTH (trailing byte), then longer than RDLENGTH.
        let mut buf = Buf::header(RESPONSE, 0, 1);
        buf.name("x").rr_tail(TYPE_CNAME, CLASS_IN, 1, b"\x01y\x00\x00");
        assert_eq!(single_answer(buf.bytes()), Err(Error));
        let mut buf = Buf::header(RESPONSE, 0, 2);
        buf.name("x").rr_tail(TYPE_CNAME, CLASS_IN, 1, b"\x01y");
        // The next record's bytes would complete the name if RDLENGTH were ignored.
        buf.raw(&[0]).rr_tail(TYPE_A, CLASS_IN, 1, &[1, 2, 3, 4]);
        let message = Message::new_checked(buf.bytes()).unwrap();
        let (items, n) = collect(&message);
        assert_eq!((n, items[0]), (1, Some(Err(Error))));
    }

    #[test]
    fn malformed_record_stops_iteration_after_one_error() {
        let mut buf = Buf::header(RESPONSE, 0, 3);
        buf.name("ok").rr_tail(TYPE_A, CLASS_IN, 1, &[1, 1, 1, 1]);
        buf.raw(&[2, b'a', b'.', 0]).rr_tail(TYPE_A, CLASS_IN, 1, &[2, 2, 2, 2]);
        buf.name("never").rr_tail(TYPE_A, CLASS_IN, 1, &[3, 3, 3, 3]);
        let message = Message::new_checked(buf.bytes()).unwrap();
        let (items, n) = collect(&message);
        assert_eq!(n, 2);
        assert!(items[0].unwrap().is_ok());
        assert_eq!(items[1], Some(Err(Error)));
    }

    #[test]
    fn malformed_question_poisons_answers() {
        let mut buf = Buf::header(RESPONSE, 1, 1);
        buf.raw(&[0x80, 0]).u16(1).u16(1);
        buf.name("x").rr_tail(TYPE_A, CLASS_IN, 1, &[1, 2, 3, 4]);
        let message = Message::new_checked(buf.bytes()).unwrap();
        let mut answers = message.answers();
        assert_eq!(answers.next(), Some(Err(Error)));
        assert_eq!(answers.next(), None);
    }

    #[test]
    fn answers_skip_every_question_and_respect_answer_count() {
        let mut buf = Buf::header(RESPONSE, 2, 1);
        buf.question("one.example", TYPE_A).raw(&[3, b't', b'w', b'o', 0xc0, 16]).u16(1).u16(1);
        buf.raw(&[0xc0, 12]).rr_tail(TYPE_A, CLASS_IN, 1, &[9, 9, 9, 9]);
        // Beyond ANCOUNT: an authority record the iterator must not return.
        buf.raw(&[0xc0, 12]).rr_tail(TYPE_A, CLASS_IN, 1, &[8, 8, 8, 8]);
        let message = Message::new_checked(buf.bytes()).unwrap();
        assert_eq!(message.question().unwrap().unwrap().name.as_str(), "one.example");
        let (items, n) = collect(&message);
        assert_eq!(n, 1);
        assert_eq!(items[0].unwrap().unwrap().data, RecordData::A(Ipv4Addr::new(9, 9, 9, 9)));
    }

    #[test]
    fn new_checked_rejects_short_or_implausible() {
        assert_eq!(Message::new_checked(&APPLE_CHAIN[..11]).err(), Some(Error));
        assert!(Message::new_checked(&APPLE_CHAIN[..12]).is_err());
        // 12 + 1*5 + 5*11 = 72 bytes needed for the counts in APPLE_CHAIN.
        assert!(Message::new_checked(&APPLE_CHAIN[..71]).is_err());
        assert!(Message::new_checked(&APPLE_CHAIN[..72]).is_ok());
        let mut header = [0xff; 12];
        assert!(Message::new_checked(&header).is_err());
        header[4..12].fill(0);
        assert!(Message::new_checked(&header).is_ok());
    }

    #[test]
    fn tcp_framing() {
        let mut framed = [0u8; 2 + 79 + 3];
        framed[..2].copy_from_slice(&79u16.to_be_bytes());
        framed[2..81].copy_from_slice(&CAPTURED_FACEBOOK);
        framed[81..].copy_from_slice(&[0, 40, 0xab]); // start of a pipelined message
        assert_eq!(tcp_message(&framed), Some(&CAPTURED_FACEBOOK[..]));
        assert_eq!(tcp_message(&framed[..80]), None);
        assert_eq!(tcp_message(&[0]), None);
        assert_eq!(tcp_message(&[0, 0, 7]), Some(&[][..]));
    }

    fn framed(message: &[u8]) -> Vec<u8> {
        [&u16::try_from(message.len()).unwrap().to_be_bytes()[..], message].concat()
    }

    #[test]
    fn a_stream_starting_with_a_whole_message_is_dns_whatever_its_port() {
        let mut query = Buf::header(0x0100, 1, 0);
        query.question("www.tiktok.com", TYPE_A);
        let query = framed(query.bytes());
        assert_eq!(tcp_stream_start(&query), TcpStart::Dns);
        let response = framed(&CAPTURED_FACEBOOK);
        assert_eq!(tcp_stream_start(&response), TcpStart::Dns);
        // A pipelined second message after the first does not matter.
        assert_eq!(tcp_stream_start(&[&query[..], &response[..5]].concat()), TcpStart::Dns);
        for end in 0..response.len() {
            assert_ne!(tcp_stream_start(&response[..end]), TcpStart::Dns, "{end} bytes");
        }
        assert_eq!(tcp_stream_start(&response[..20]), TcpStart::TooShort, "a message split across segments");
        assert_eq!(tcp_stream_start(&response[..1]), TcpStart::TooShort);
        // A header cut short is still judged by the bytes it has.
        assert_eq!(tcp_stream_start(&[0, 40, 0x12, 0x34, 0x78]), TcpStart::NotDns, "opcode 15");
        assert_eq!(tcp_stream_start(&[0, 40, 0x12, 0x34, 0x01, 0x00, 0x01]), TcpStart::NotDns, "257 questions");
    }

    #[test]
    fn other_protocols_and_odd_messages_are_not_dns() {
        // A TLS ClientHello record's start, an HTTP request, an SSH banner,
        // a TDS pre-login, 0xff bytes.
        let tls = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0, 0, 0, 0, 0];
        let tds = [0x12, 0x01, 0x00, 0x2f, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x1a, 0x00, 0x06, 0x01, 0x00, 0x20];
        for stream in [&tls[..], b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"SSH-2.0-OpenSSH_9.6\r\n", &tds, &[0xff; 64]] {
            assert_eq!(tcp_stream_start(stream), TcpStart::NotDns, "{stream:?}");
        }
        let query = |flags: u16, counts: [u16; 3], tail: &[u8]| {
            let mut buf = Buf::header(flags, 1, counts[0]);
            buf.question("www.apple.com", TYPE_A).raw(tail);
            let mut bytes = buf.bytes().to_vec();
            bytes[8..10].copy_from_slice(&counts[1].to_be_bytes());
            bytes[10..12].copy_from_slice(&counts[2].to_be_bytes());
            framed(&bytes)
        };
        assert_eq!(tcp_stream_start(&query(0x0100, [0; 3], &[])), TcpStart::Dns);
        // Opcode 2 (STATUS), the Z bit, a query with an answer count, a
        // byte the counts leave unexplained, a root question.
        assert_eq!(tcp_stream_start(&query(0x1000, [0; 3], &[])), TcpStart::NotDns);
        assert_eq!(tcp_stream_start(&query(0x0040, [0; 3], &[])), TcpStart::NotDns);
        assert_eq!(tcp_stream_start(&query(0x0100, [1, 0, 0], &[0; 11])), TcpStart::NotDns);
        assert_eq!(tcp_stream_start(&query(0x0100, [0; 3], &[0])), TcpStart::NotDns);
        let mut root = Buf::header(0, 1, 0);
        root.question("", 2);
        assert_eq!(tcp_stream_start(&framed(root.bytes())), TcpStart::NotDns);
        // An EDNS OPT record in the additional section is a query's own.
        let opt = [0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(tcp_stream_start(&query(0x0120, [0, 0, 1], &opt)), TcpStart::Dns);
    }

    #[test]
    fn error_and_name_formatting() {
        assert_eq!(Error.to_string(), "malformed message");
        let n = name("Www.Example");
        assert_eq!(format!("{n} {n:?}"), "www.example Name(\"www.example\")");
    }

    /// Checks everything a parse of arbitrary bytes must guarantee. Returns
    /// the number of answers decoded and whether the answer section errored.
    fn parse_everything(bytes: &[u8]) -> (usize, bool) {
        let Ok(message) = Message::new_checked(bytes) else {
            return (0, false);
        };
        let check_name = |name: &Name| {
            let text = name.as_str();
            assert!(text.len() <= MAX_NAME_LEN);
            assert!(text.is_empty() || text.split('.').all(|label| !label.is_empty() && label.len() <= 63));
            assert!(text.bytes().all(|b| b.is_ascii_graphic() && !b.is_ascii_uppercase()));
        };
        if let Ok(Some(question)) = message.question() {
            check_name(&question.name);
        }
        let mut answers = message.answers();
        let (mut yielded, mut decoded, mut errored) = (0, 0, false);
        while let Some(item) = answers.next() {
            yielded += 1;
            if let Ok(record) = item {
                decoded += 1;
                check_name(&record.name);
                if let RecordData::Cname(target) = record.data {
                    check_name(&target);
                }
            } else {
                errored = true;
                assert!(answers.next().is_none());
            }
            assert!(yielded <= usize::from(message.answer_count()));
            // Every record takes at least 11 bytes after the header.
            assert!(yielded <= bytes.len() / field::MIN_RECORD_LEN);
        }
        (decoded, errored)
    }

    const SEEDS: [&[u8]; 3] = [&CAPTURED_FACEBOOK, &CAPTURED_NXDOMAIN, &APPLE_CHAIN];

    #[test]
    fn every_prefix_parses_consistently() {
        for seed in SEEDS {
            let full = Message::new_checked(seed).unwrap();
            for len in 0..=seed.len() {
                parse_everything(&seed[..len]);
                // Whatever a prefix does decode must agree with the full message.
                if let Ok(prefix) = Message::new_checked(&seed[..len]) {
                    for (got, want) in prefix.answers().zip(full.answers()) {
                        if let Ok(got) = got {
                            assert_eq!(Ok(got), want, "prefix {len}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn random_mutations_never_panic() {
        // xorshift64: deterministic, so any failure reproduces.
        let mut rng = synth::XorShift::new(0x9e37_79b9_7f4a_7c15);
        let mut next = move || rng.next_u64();
        let (mut decodable, mut rejected) = (0, 0);
        for round in 0..30_000 {
            let seed = SEEDS[round % SEEDS.len()];
            let mut buf = [0u8; 192];
            let bytes = &mut buf[..seed.len()];
            bytes.copy_from_slice(seed);
            for _ in 0..=(next() % 4) {
                let at = usize::try_from(next() % bytes.len() as u64).unwrap();
                let r = next();
                let byte = r.to_le_bytes()[1];
                bytes[at] = match r % 4 {
                    0 => bytes[at] ^ (1 << (byte % 8)),
                    1 => 0xc0 | (byte & 0x3f), // pointer-ish length byte
                    2 => byte % 64,            // plausible label length
                    _ => byte,
                };
            }
            let len =
                if next() % 4 == 0 { usize::try_from(next() % (seed.len() as u64 + 1)).unwrap() } else { seed.len() };
            let (decoded, errored) = parse_everything(&bytes[..len]);
            decodable += usize::from(decoded > 0);
            rejected += usize::from(errored);
        }
        // Both outcomes must be common, or the mutations only exercised the
        // header check and not the record and name decoders.
        assert!(decodable > 5_000, "only {decodable} mutated messages had decodable answers");
        assert!(rejected > 5_000, "only {rejected} mutated messages had answer errors");
    }
}
