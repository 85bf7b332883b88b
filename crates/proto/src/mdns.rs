//! Multicast DNS and DNS-SD records (RFC 6762, RFC 6763): every record of
//! a message, in all three sections, with the service types (PTR), TXT
//! key/value strings and SRV targets devices announce themselves by.
//!
//! Unlike [`crate::dns`], names here are DNS-SD instance names ("John's
//! iPhone._device-info._tcp.local"): any byte may occur in a label, so a
//! [`Name`] keeps the labels' bytes, lowercased, with a `.` between them
//! and any `.` or control byte inside a label read as `_`. Zero-copy,
//! bounded work per name (a pointer-jump cap, pointers only backwards),
//! never a panic.

use core::fmt;

/// Longest name kept (RFC 1035's 255 wire bytes).
pub const MAX_NAME_LEN: usize = 255;
const MAX_POINTER_JUMPS: usize = 64;
const HEADER_LEN: usize = 12;
const FLAG_QR: u16 = 0x8000;

pub const TYPE_A: u16 = 1;
pub const TYPE_PTR: u16 = 12;
pub const TYPE_TXT: u16 = 16;
pub const TYPE_AAAA: u16 = 28;
pub const TYPE_SRV: u16 = 33;

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

fn be16(data: &[u8], at: usize) -> Result<u16, Error> {
    match data.get(at..at.checked_add(2).ok_or(Error)?) {
        Some(&[a, b]) => Ok(u16::from_be_bytes([a, b])),
        _ => Err(Error),
    }
}

/// Decodes the name at `start`; returns it and the offset after its
/// in-place encoding.
fn read_name(data: &[u8], start: usize) -> Result<(Name, usize), Error> {
    let mut name = Name { buf: [0; MAX_NAME_LEN], len: 0 };
    let (mut pos, mut sequence_start, mut end_in_place, mut jumps) = (start, start, None, 0);
    loop {
        let len_byte = *data.get(pos).ok_or(Error)?;
        match len_byte & 0xc0 {
            0x00 if len_byte == 0 => return Ok((name, end_in_place.unwrap_or(pos + 1))),
            0x00 => {
                let label_end = pos + 1 + usize::from(len_byte);
                name.push_label(data.get(pos + 1..label_end).ok_or(Error)?)?;
                pos = label_end;
            }
            0xc0 => {
                let target = usize::from(be16(data, pos)? & 0x3fff);
                jumps += 1;
                if target >= sequence_start || target < HEADER_LEN || jumps > MAX_POINTER_JUMPS {
                    return Err(Error);
                }
                end_in_place.get_or_insert(pos + 2);
                pos = target;
                sequence_start = target;
            }
            _ => return Err(Error),
        }
    }
}

/// A checked view of one mDNS message.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    data: &'a [u8],
}

impl<'a> Message<'a> {
    /// Checks that the header is present.
    pub fn new_checked(data: &'a [u8]) -> Result<Self, Error> {
        if data.len() < HEADER_LEN { Err(Error) } else { Ok(Message { data }) }
    }

    /// True for responses: what a responder announces about itself.
    pub fn is_response(&self) -> bool {
        be16(self.data, 2).is_ok_and(|f| f & FLAG_QR != 0)
    }

    /// Every record of the answer, authority and additional sections, in
    /// order; stops at the first malformed one.
    pub fn records(&self) -> Records<'a> {
        let count = |at| be16(self.data, at).map_or(0, usize::from);
        let mut next = Ok(HEADER_LEN);
        for _ in 0..count(4) {
            next = next.and_then(|pos| {
                let (_, end) = read_name(self.data, pos)?;
                end.checked_add(4).filter(|&e| e <= self.data.len()).ok_or(Error)
            });
        }
        Records { data: self.data, next, remaining: count(6) + count(8) + count(10) }
    }
}

/// One resource record.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    pub name: Name,
    pub rtype: u16,
    /// The RDATA.
    pub rdata: &'a [u8],
    /// The message up to the end of the RDATA, for names in it.
    upto_end: &'a [u8],
    rdata_start: usize,
}

impl<'a> Record<'a> {
    /// A PTR record's target (for DNS-SD, an instance of a service type).
    pub fn ptr_target(&self) -> Option<Name> {
        (self.rtype == TYPE_PTR).then(|| read_name(self.upto_end, self.rdata_start).ok()).flatten().map(|(n, _)| n)
    }

    /// An SRV record's target host.
    pub fn srv_target(&self) -> Option<Name> {
        (self.rtype == TYPE_SRV).then(|| read_name(self.upto_end, self.rdata_start + 6).ok()).flatten().map(|(n, _)| n)
    }

    /// A TXT record's strings (`key=value`, RFC 6763 section 6).
    pub fn txt(&self) -> impl Iterator<Item = &'a [u8]> + use<'a> {
        let mut rest = if self.rtype == TYPE_TXT { self.rdata } else { &[] };
        core::iter::from_fn(move || {
            let (&len, tail) = rest.split_first()?;
            let string = tail.get(..usize::from(len))?;
            rest = tail.get(usize::from(len)..).unwrap_or(&[]);
            Some(string)
        })
    }
}

/// Iterator over [`Message::records`].
#[derive(Debug, Clone)]
pub struct Records<'a> {
    data: &'a [u8],
    next: Result<usize, Error>,
    remaining: usize,
}

impl<'a> Iterator for Records<'a> {
    type Item = Record<'a>;

    fn next(&mut self) -> Option<Record<'a>> {
        self.remaining = self.remaining.checked_sub(1)?;
        let read = |pos: usize| -> Result<(Record<'a>, usize), Error> {
            let (name, after) = read_name(self.data, pos)?;
            let rtype = be16(self.data, after)?;
            let rdlength = usize::from(be16(self.data, after + 8)?);
            let rdata_start = after + 10;
            let end = rdata_start + rdlength;
            let upto_end = self.data.get(..end).ok_or(Error)?;
            let rdata = upto_end.get(rdata_start..).ok_or(Error)?;
            Ok((Record { name, rtype, rdata, upto_end, rdata_start }, end))
        };
        match self.next.and_then(read) {
            Ok((record, end)) => {
                self.next = Ok(end);
                Some(record)
            }
            Err(e) => {
                self.next = Err(e);
                self.remaining = 0;
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
                for r in message.records() {
                    let _ = (r.ptr_target(), r.srv_target(), r.txt().count(), service_type(r.name.as_str()));
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
