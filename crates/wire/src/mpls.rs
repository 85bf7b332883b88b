//! MPLS label stacks (RFC 3032) and what follows the bottom label: an IP
//! packet, or an Ethernet pseudowire behind its control word (RFC 4385).

use crate::DecodeError;

pub const ETHERTYPE_UNICAST: u16 = 0x8847;
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

/// A view of a label stack, walked to its bottom-of-stack entry.
pub struct Stack<'a> {
    buffer: &'a [u8],
    stack_len: usize,
}

impl<'a> Stack<'a> {
    pub fn new_checked(buffer: &'a [u8]) -> Result<Self, DecodeError> {
        // Each entry is 4 bytes; every step consumes one, so the walk is
        // bounded by the frame.
        let mut at = 0;
        loop {
            let entry = buffer.get(at..at + 4).ok_or(DecodeError::MplsTruncated)?;
            at += 4;
            if entry[2] & 0x01 != 0 {
                return Ok(Stack { buffer, stack_len: at });
            }
        }
    }

    pub fn payload(&self) -> Result<Payload<'a>, DecodeError> {
        let rest = &self.buffer[self.stack_len..];
        match rest.first().map(|b| b >> 4) {
            Some(4 | 6) => Ok(Payload::Ip(rest)),
            Some(0) => rest.get(4..).map(Payload::Ethernet).ok_or(DecodeError::MplsTruncated),
            Some(_) => Ok(Payload::Other),
            None => Err(DecodeError::MplsTruncated),
        }
    }
}

/// An MPLS label stack (RFC 3032), outermost label first, bottom of stack
/// set on the last, TTL 64, then `payload`.
#[cfg(feature = "emit")]
pub fn emit(labels: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(4 * labels.len() + payload.len());
    for (i, label) in labels.iter().enumerate() {
        let bottom = u32::from(i + 1 == labels.len());
        m.extend_from_slice(&(((label & 0x000f_ffff) << 12) | (bottom << 8) | 64).to_be_bytes());
    }
    m.extend_from_slice(payload);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_to_bottom_of_stack() {
        // Label 16 (S=0), label 17 (S=1), then IPv4.
        let s = [0x00, 0x01, 0x00, 0x40, 0x00, 0x01, 0x11, 0x40, 0x45, 0x00];
        assert_eq!(Stack::new_checked(&s).unwrap().payload(), Ok(Payload::Ip(&s[8..])));
    }

    #[test]
    fn control_word_then_ethernet() {
        let s = [0x00, 0x01, 0x01, 0x40, 0x00, 0x00, 0x00, 0x05, 0xaa];
        assert_eq!(Stack::new_checked(&s).unwrap().payload(), Ok(Payload::Ethernet(&[0xaa][..])));
        assert_eq!(Stack::new_checked(&s[..6]).unwrap().payload(), Err(DecodeError::MplsTruncated));
        let ach = [0x00, 0x01, 0x01, 0x40, 0x10, 0x00, 0x00, 0x07];
        assert_eq!(Stack::new_checked(&ach).unwrap().payload(), Ok(Payload::Other));
    }

    #[test]
    fn stack_without_bottom_is_truncated() {
        let s = [0x00, 0x01, 0x00, 0x40, 0x00, 0x01, 0x10];
        assert_eq!(Stack::new_checked(&s).err(), Some(DecodeError::MplsTruncated));
        let bottom_only = [0x00, 0x01, 0x01, 0x40];
        assert_eq!(Stack::new_checked(&bottom_only).unwrap().payload(), Err(DecodeError::MplsTruncated));
    }
}
