//! MPLS label stacks (RFC 3032) and what follows the bottom label: an IP
//! packet, or an Ethernet pseudowire behind its control word (RFC 4385).

use crate::{DecodeError, be32};

/// MPLS unicast.
pub const ETHERTYPE_UNICAST: u16 = 0x8847;
/// MPLS multicast.
pub const ETHERTYPE_MULTICAST: u16 = 0x8848;

/// What the label stack carries, told by the first nibble after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload<'a> {
    /// Nibble 4 or 6: an IP packet.
    Ip(&'a [u8]),
    /// Nibble 0: a pseudowire control word, then an Ethernet frame.
    Ethernet(&'a [u8]),
    /// Anything else, such as an associated channel (nibble 1) or a
    /// pseudowire without a control word, which cannot be told from IP.
    Other,
}

mod field {
    /// A label stack entry: label (20 bits), traffic class, S, TTL.
    pub const ENTRY_LEN: usize = 4;
    /// The byte of an entry holding the bottom-of-stack bit (S).
    pub const BOTTOM: usize = 2;
    /// A pseudowire control word (RFC 4385).
    pub const CONTROL_WORD_LEN: usize = 4;
}

/// A view of a label stack, walked to its bottom-of-stack entry: it keeps
/// where the stack ends, so it has no `new_unchecked`.
#[derive(Debug, Clone, Copy)]
pub struct Stack<T: AsRef<[u8]>> {
    buffer: T,
    stack_len: usize,
}

impl<T: AsRef<[u8]>> Stack<T> {
    /// A view of `buffer`, once its stack has a bottom entry and something
    /// follows it (with a whole control word, if it starts with one).
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        let b = buffer.as_ref();
        // Each step consumes an entry, so the walk is bounded by the frame.
        let mut at = 0;
        loop {
            let entry = b.get(at..at + field::ENTRY_LEN).ok_or(DecodeError::MplsTruncated)?;
            at += field::ENTRY_LEN;
            if entry[field::BOTTOM] & 0x01 != 0 {
                break;
            }
        }
        match b.get(at).map(|first| first >> 4) {
            None => return Err(DecodeError::MplsTruncated),
            Some(0) if b.len() < at + field::CONTROL_WORD_LEN => return Err(DecodeError::MplsTruncated),
            Some(_) => {}
        }
        Ok(Stack { buffer, stack_len: at })
    }

    /// The buffer the view was made of.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The number of labels.
    pub fn depth(&self) -> usize {
        self.stack_len / field::ENTRY_LEN
    }

    /// The outermost label (20 bits).
    pub fn top_label(&self) -> u32 {
        be32(self.buffer.as_ref(), 0..4) >> 12
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Stack<&'a T> {
    /// The bytes after the bottom of the stack.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[self.stack_len..]
    }

    /// What the bytes after the stack are, by their first nibble.
    pub fn inner(&self) -> Payload<'a> {
        let rest = self.payload();
        match rest[0] >> 4 {
            4 | 6 => Payload::Ip(rest),
            0 => Payload::Ethernet(&rest[field::CONTROL_WORD_LEN..]),
            _ => Payload::Other,
        }
    }
}

/// What [`Repr::emit`] writes: an MPLS label stack (RFC 3032), outermost
/// label first, bottom of stack set on the last, TTL 64.
#[cfg(feature = "emit")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr<'a> {
    /// The labels (20 bits each), outermost first.
    pub labels: &'a [u32],
}

#[cfg(feature = "emit")]
impl Repr<'_> {
    /// The stack, then `payload`.
    pub fn emit(&self, payload: &[u8]) -> Vec<u8> {
        let mut m = Vec::with_capacity(4 * self.labels.len() + payload.len());
        for (i, label) in self.labels.iter().enumerate() {
            let bottom = u32::from(i + 1 == self.labels.len());
            m.extend_from_slice(&(((label & 0x000f_ffff) << 12) | (bottom << 8) | 64).to_be_bytes());
        }
        m.extend_from_slice(payload);
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_to_bottom_of_stack() {
        // Label 16 (S=0), label 17 (S=1), then IPv4.
        let s = [0x00, 0x01, 0x00, 0x40, 0x00, 0x01, 0x11, 0x40, 0x45, 0x00];
        let stack = Stack::new_checked(&s).unwrap();
        assert_eq!((stack.depth(), stack.top_label(), stack.inner()), (2, 16, Payload::Ip(&s[8..])));
    }

    #[test]
    fn control_word_then_ethernet() {
        let s = [0x00, 0x01, 0x01, 0x40, 0x00, 0x00, 0x00, 0x05, 0xaa];
        assert_eq!(Stack::new_checked(&s).unwrap().inner(), Payload::Ethernet(&[0xaa][..]));
        assert_eq!(Stack::new_checked(&s[..6]).err(), Some(DecodeError::MplsTruncated));
        let ach = [0x00, 0x01, 0x01, 0x40, 0x10, 0x00, 0x00, 0x07];
        assert_eq!(Stack::new_checked(&ach).unwrap().inner(), Payload::Other);
    }

    #[test]
    fn stack_without_bottom_or_payload_is_truncated() {
        let s = [0x00, 0x01, 0x00, 0x40, 0x00, 0x01, 0x10];
        assert_eq!(Stack::new_checked(&s).err(), Some(DecodeError::MplsTruncated));
        let bottom_only = [0x00, 0x01, 0x01, 0x40];
        assert_eq!(Stack::new_checked(&bottom_only).err(), Some(DecodeError::MplsTruncated));
    }

    #[cfg(feature = "emit")]
    #[test]
    fn reads_what_repr_writes() {
        let m = Repr { labels: &[100, 200] }.emit(&[0x60]);
        let s = Stack::new_checked(&m[..]).unwrap();
        assert_eq!((s.depth(), s.top_label(), s.inner()), (2, 100, Payload::Ip(&[0x60][..])));
    }
}
