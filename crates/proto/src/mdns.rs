//! Multicast DNS and DNS-SD records (RFC 6762, RFC 6763): the first
//! question and every record of a message, in all three sections, with the
//! addresses, service types (PTR), TXT key/value strings and SRV targets
//! devices announce themselves by.
//!
//! Unlike [`crate::dns`], names here are DNS-SD instance names ("John's
//! iPhone._device-info._tcp.local"): any byte may occur in a label, so a
//! [`Name`] keeps the labels' bytes, lowercased, with a `.` between them
//! and any `.` or control byte inside a label read as `_`. Zero-copy,
//! bounded work per name (a pointer-jump cap, pointers only backwards),
//! never a panic.

use core::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::reader::Reader;

/// Longest name kept (RFC 1035's 255 wire bytes).
pub const MAX_NAME_LEN: usize = 255;
const MAX_POINTER_JUMPS: usize = 64;
const HEADER_LEN: usize = 12;
const FLAG_QR: u16 = 0x8000;
/// A question's type and class; a record's type, class, TTL and RDLENGTH.
const QUESTION_FIXED_LEN: usize = 4;
const TTL_LEN: usize = 4;
/// An SRV record's priority, weight and port, before its target.
const SRV_FIXED_LEN: usize = 6;
/// Label length bytes: the top two bits say a label (00) or a pointer (11).
const LABEL_KIND_MASK: u8 = 0xc0;
const LABEL_KIND_POINTER: u8 = 0xc0;
const POINTER_HIGH_MASK: u8 = 0x3f;

const TYPE_A: u16 = 1;
const TYPE_PTR: u16 = 12;
const TYPE_TXT: u16 = 16;
const TYPE_AAAA: u16 = 28;
const TYPE_SRV: u16 = 33;
const CLASS_IN: u16 = 1;
/// RFC 6762 §10.2: the top bit of a record's class is "cache flush".
const CLASS_MASK: u16 = 0x7fff;

/// Malformed or truncated data: the crate's one parse error, under the
/// name this module has always used.
pub use crate::reader::Malformed as Error;

/// A decoded name, as text with `.` between labels.
#[derive(Clone, Copy)]
pub struct Name {
    buf: [u8; MAX_NAME_LEN],
    len: u8,
}

impl Name {
    const ROOT: Name = Name { buf: [0; MAX_NAME_LEN], len: 0 };

    /// The name as text; a label that is not UTF-8 makes it empty.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.buf.get(..usize::from(self.len)).unwrap_or(&[])).unwrap_or("")
    }

    fn push_label(&mut self, label: &[u8]) -> Result<(), Error> {
        let len = usize::from(self.len);
        let sep = usize::from(len > 0);
        let end = len + sep + label.len();
        let dst = self.buf.get_mut(len..end).ok_or(Error)?;
        let (dot, text) = dst.split_at_mut(sep);
        dot.fill(b'.');
        for (d, &s) in text.iter_mut().zip(label) {
            *d = if s == b'.' || s.is_ascii_control() { b'_' } else { s.to_ascii_lowercase() };
        }
        self.len = u8::try_from(end).map_err(|_| Error)?;
        Ok(())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Name").field(&self.as_str()).finish()
    }
}

/// Decodes the name at `start`; returns it and the offset after its
/// in-place encoding.
fn read_name(data: &[u8], start: usize) -> Result<(Name, usize), Error> {
    let mut name = Name::ROOT;
    let mut r = Reader::at(data, start)?;
    let (mut sequence_start, mut end_in_place, mut jumps) = (start, None, 0);
    loop {
        let len_byte = r.u8()?;
        match len_byte & LABEL_KIND_MASK {
            0 if len_byte == 0 => return Ok((name, end_in_place.unwrap_or(r.position()))),
            0 => name.push_label(r.take(usize::from(len_byte))?)?,
            LABEL_KIND_POINTER => {
                let target = usize::from(u16::from_be_bytes([len_byte & POINTER_HIGH_MASK, r.u8()?]));
                jumps += 1;
                if target >= sequence_start || target < HEADER_LEN || jumps > MAX_POINTER_JUMPS {
                    return Err(Error);
                }
                end_in_place.get_or_insert(r.position());
                r = Reader::at(data, target)?;
                sequence_start = target;
            }
            _ => return Err(Error),
        }
    }
}

/// The header's counts, in section order.
#[derive(Debug, Clone, Copy)]
struct Counts {
    questions: u16,
    answers: u16,
    authorities: u16,
    additionals: u16,
}

/// A checked view of one mDNS message.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    data: &'a [u8],
    flags: u16,
    counts: Counts,
}

impl<'a> Message<'a> {
    /// Checks that the header is present.
    pub fn new_checked(data: &'a [u8]) -> Result<Self, Error> {
        let mut r = Reader::new(data);
        r.skip(2)?;
        let flags = r.be16()?;
        let counts =
            Counts { questions: r.be16()?, answers: r.be16()?, authorities: r.be16()?, additionals: r.be16()? };
        Ok(Message { data, flags, counts })
    }

    /// True for responses: what a responder announces about itself.
    pub fn is_response(&self) -> bool {
        self.flags & FLAG_QR != 0
    }

    /// The first question's name (what a querier asks for), if there is one
    /// and it decodes.
    pub fn question(&self) -> Option<Name> {
        (self.counts.questions > 0).then(|| read_name(self.data, HEADER_LEN).ok()).flatten().map(|(name, _)| name)
    }

    /// Every record of the answer, authority and additional sections, in
    /// order; stops at the first malformed one.
    pub fn records(&self) -> Records<'a> {
        let next = (0..self.counts.questions).try_fold(HEADER_LEN, |pos, _| {
            let (_, end) = read_name(self.data, pos)?;
            Reader::at(self.data, end)?.skip(QUESTION_FIXED_LEN)?;
            Ok(end + QUESTION_FIXED_LEN)
        });
        Records { data: self.data, next, read: 0, counts: self.counts }
    }
}

/// The section a record is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// What was asked for, or what a responder announces unasked.
    Answer,
    /// Records a prober claims (RFC 6762 §8.2).
    Authority,
    /// Records that go with the answers (a service's SRV target's address).
    Additional,
}

/// One resource record.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// The owner name: a host ("johns-iphone.local"), a service type
    /// ("_airplay._tcp.local") or a service instance.
    pub name: Name,
    /// The record type (1 A, 12 PTR, 16 TXT, 28 AAAA, 33 SRV, ...), which
    /// [`Record::address`], [`Record::ptr_target`], [`Record::srv_target`]
    /// and [`Record::txt`] check before reading the RDATA.
    pub rtype: u16,
    /// The class, its cache-flush bit cleared.
    pub class: u16,
    /// The section the record came in.
    pub section: Section,
    /// The RDATA.
    pub rdata: &'a [u8],
    /// The message up to the end of the RDATA, for names in it.
    upto_end: &'a [u8],
    rdata_start: usize,
}

impl<'a> Record<'a> {
    /// An A or AAAA record's address.
    pub fn address(&self) -> Option<IpAddr> {
        if self.class != CLASS_IN {
            return None;
        }
        match self.rtype {
            TYPE_A => <[u8; 4]>::try_from(self.rdata).ok().map(|a| Ipv4Addr::from(a).into()),
            TYPE_AAAA => <[u8; 16]>::try_from(self.rdata).ok().map(|a| Ipv6Addr::from(a).into()),
            _ => None,
        }
    }

    /// A PTR record's target (for DNS-SD, an instance of a service type).
    pub fn ptr_target(&self) -> Option<Name> {
        (self.rtype == TYPE_PTR).then(|| read_name(self.upto_end, self.rdata_start).ok()).flatten().map(|(n, _)| n)
    }

    /// An SRV record's target host.
    pub fn srv_target(&self) -> Option<Name> {
        let at = self.rdata_start.checked_add(SRV_FIXED_LEN)?;
        (self.rtype == TYPE_SRV).then(|| read_name(self.upto_end, at).ok()).flatten().map(|(n, _)| n)
    }

    /// A TXT record's strings (`key=value`, RFC 6763 section 6).
    pub fn txt(&self) -> impl Iterator<Item = &'a [u8]> + use<'a> {
        let mut r = Reader::new(if self.rtype == TYPE_TXT { self.rdata } else { &[] });
        core::iter::from_fn(move || r.vec8().ok())
    }
}

/// Iterator over [`Message::records`].
#[derive(Debug, Clone)]
pub struct Records<'a> {
    data: &'a [u8],
    next: Result<usize, Error>,
    /// Records read so far, which says the section of the next.
    read: usize,
    counts: Counts,
}

impl<'a> Records<'a> {
    fn section(&self) -> Option<Section> {
        let answers = usize::from(self.counts.answers);
        let authorities = answers + usize::from(self.counts.authorities);
        let additionals = authorities + usize::from(self.counts.additionals);
        match self.read {
            n if n < answers => Some(Section::Answer),
            n if n < authorities => Some(Section::Authority),
            n if n < additionals => Some(Section::Additional),
            _ => None,
        }
    }

    fn read(&self, pos: usize, section: Section) -> Result<(Record<'a>, usize), Error> {
        let (name, after_name) = read_name(self.data, pos)?;
        let mut r = Reader::at(self.data, after_name)?;
        let rtype = r.be16()?;
        let class = r.be16()? & CLASS_MASK;
        r.skip(TTL_LEN)?;
        let rdata = r.vec16()?;
        let end = r.position();
        let rdata_start = end - rdata.len();
        let upto_end = self.data.get(..end).ok_or(Error)?;
        Ok((Record { name, rtype, class, section, rdata, upto_end, rdata_start }, end))
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Record<'a>;

    fn next(&mut self) -> Option<Record<'a>> {
        let section = self.section()?;
        match self.next.and_then(|pos| self.read(pos, section)) {
            Ok((record, end)) => {
                self.next = Ok(end);
                self.read += 1;
                Some(record)
            }
            Err(e) => {
                self.next = Err(e);
                None
            }
        }
    }
}

/// The DNS-SD service type a name is or names an instance of:
/// `_airplay._tcp` for `_airplay._tcp.local` and `Den._airplay._tcp.local`.
pub fn service_type(name: &str) -> Option<&str> {
    let base = name.strip_suffix(".local")?;
    let proto_at = base.rfind("._tcp").or_else(|| base.rfind("._udp")).filter(|&at| at + 5 == base.len())?;
    let start = base.get(..proto_at)?.rfind('.').map_or(0, |dot| dot + 1);
    let service = base.get(start..)?;
    service.starts_with('_').then_some(service)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response: PTR _device-info._tcp -> "Ann's MacBook", its TXT
    /// model=..., an SRV and an A record, in the additional section.
    fn announcement() -> Vec<u8> {
        let mut m = vec![0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 3];
        let ptr_name = m.len();
        m.extend_from_slice(b"\x0c_device-info\x04_tcp\x05local\x00");
        m.extend_from_slice(&[0, 12, 0, 1, 0, 0, 0x11, 0x94]);
        let instance = b"\x0dAnn's MacBook";
        m.extend_from_slice(&u16::try_from(instance.len() + 2).unwrap().to_be_bytes());
        let instance_at = m.len();
        m.extend_from_slice(instance);
        m.extend_from_slice(&[0xc0, u8::try_from(ptr_name).unwrap()]);
        m.extend_from_slice(&[0xc0, u8::try_from(instance_at).unwrap(), 0, 16, 0x80, 1, 0, 0, 0x11, 0x94]);
        let txt = b"\x14model=MacBookPro18,3\x0aosxvers=23";
        m.extend_from_slice(&u16::try_from(txt.len()).unwrap().to_be_bytes());
        m.extend_from_slice(txt);
        m.extend_from_slice(&[
            0xc0,
            u8::try_from(instance_at).unwrap(),
            0,
            33,
            0x80,
            1,
            0,
            0,
            0,
            120,
            0,
            17,
            0,
            0,
            0,
            0,
            0,
            0,
        ]);
        m.extend_from_slice(b"\x03ann\x05local\x00");
        m.extend_from_slice(b"\x03ann\x05local\x00");
        m.extend_from_slice(&[0, 1, 0x80, 1, 0, 0, 0, 120, 0, 4, 10, 0, 0, 9]);
        m
    }

    #[test]
    fn reads_every_section_with_instance_names_and_txt() {
        let m = announcement();
        let message = Message::new_checked(&m).unwrap();
        assert!(message.is_response());
        let records: Vec<_> = message.records().collect();
        assert_eq!(records.len(), 4);
        assert_eq!(records[0].name.as_str(), "_device-info._tcp.local");
        assert_eq!(records[0].ptr_target().unwrap().as_str(), "ann's macbook._device-info._tcp.local");
        let txt: Vec<_> = records[1].txt().collect();
        assert_eq!(txt, vec![&b"model=MacBookPro18,3"[..], b"osxvers=23"]);
        assert_eq!(records[2].srv_target().unwrap().as_str(), "ann.local");
        assert_eq!((records[3].name.as_str(), records[3].rtype), ("ann.local", TYPE_A));
    }

    #[test]
    fn tells_sections_addresses_and_the_question() {
        let m = announcement();
        let message = Message::new_checked(&m).unwrap();
        let records: Vec<_> = message.records().collect();
        let sections: Vec<_> = records.iter().map(|r| r.section).collect();
        assert_eq!(sections, [Section::Answer, Section::Additional, Section::Additional, Section::Additional]);
        assert_eq!(records[3].address(), Some(IpAddr::from([10, 0, 0, 9])), "cache-flush class is IN");
        assert_eq!((records[3].class, records[0].address()), (CLASS_IN, None));
        assert!(message.question().is_none(), "a response without a question");
        let mut query = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        query.extend_from_slice(b"\x08_airplay\x04_tcp\x05local\x00\x00\x0c\x00\x01");
        let query = Message::new_checked(&query).unwrap();
        assert_eq!(query.question().map(|q| q.as_str().to_owned()).as_deref(), Some("_airplay._tcp.local"));
        assert!(!query.is_response() && query.records().next().is_none());
        let mut cut = m.clone();
        cut.truncate(HEADER_LEN + 3);
        assert_eq!(Message::new_checked(&cut).unwrap().records().count(), 0);
        assert!(Message::new_checked(&m[..HEADER_LEN - 1]).is_err());
    }

    #[test]
    fn service_types() {
        assert_eq!(service_type("_airplay._tcp.local"), Some("_airplay._tcp"));
        assert_eq!(service_type("den tv._airplay._tcp.local"), Some("_airplay._tcp"));
        assert_eq!(service_type("_sleep-proxy._udp.local"), Some("_sleep-proxy._udp"));
        assert_eq!(service_type("ann.local"), None);
        assert_eq!(service_type("x._tcp.example"), None);
        assert_eq!(service_type("_tcp.local"), None);
    }

    #[test]
    fn every_prefix_and_mutation_is_total() {
        let m = announcement();
        let walk = |bytes: &[u8]| {
            if let Ok(message) = Message::new_checked(bytes) {
                let _ = message.question();
                for r in message.records() {
                    let _ = (r.ptr_target(), r.srv_target(), r.txt().count(), service_type(r.name.as_str()));
                    let _ = (r.address(), r.section);
                }
            }
        };
        for n in 0..=m.len() {
            walk(&m[..n]);
        }
        for i in 0..m.len() {
            for b in [0, 1, 0x3f, 0x40, 0xc0, 0xff] {
                let mut x = m.clone();
                x[i] = b;
                walk(&x);
            }
        }
    }
}
