//! Radiotap headers (radiotap.org): the radio metadata a monitor-mode
//! capture puts before each 802.11 frame. The header says its own length,
//! so it is skipped whole; of its fields only Flags is read, for whether
//! the frame ends in an FCS and whether that FCS was bad.

use crate::{DecodeError, le16};

mod field {
    use crate::Field;

    pub const VERSION: usize = 0;
    /// The header's length, little-endian like every radiotap field.
    pub const LENGTH: Field = 2..4;
    /// The first presence word; bit 31 says another follows.
    pub const PRESENT: Field = 4..8;
}

/// Version, pad, length and the first presence word.
pub const MIN_HEADER_LEN: usize = field::PRESENT.end;
const PRESENT_TSFT: u32 = 1 << 0;
const PRESENT_FLAGS: u32 = 1 << 1;
/// Another presence word follows this one.
const PRESENT_EXT: u32 = 1 << 31;
/// Flags: the frame includes its 4-byte FCS.
const FLAG_FCS: u8 = 0x10;
/// Flags: the frame failed its FCS check.
const FLAG_BAD_FCS: u8 = 0x40;
const FCS_LEN: usize = 4;

/// A view of a radiotap header whose presence words were walked to its
/// Flags field: it keeps the flags, so it has no `new_unchecked`.
#[derive(Debug, Clone, Copy)]
pub struct Header<T: AsRef<[u8]>> {
    buffer: T,
    flags: u8,
}

impl<T: AsRef<[u8]>> Header<T> {
    /// A view of `buffer`, once its version is 0 and it holds the header
    /// its length says, with every presence word and the Flags field inside.
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        let flags = walk(buffer.as_ref())?;
        Ok(Header { buffer, flags })
    }

    /// The buffer the view was made of.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The header's length.
    pub fn header_len(&self) -> usize {
        usize::from(le16(self.buffer.as_ref(), field::LENGTH))
    }

    /// The Flags field (0 when the header has none).
    pub fn flags(&self) -> u8 {
        self.flags
    }

    /// Whether the radio reported the frame as having failed its FCS check.
    pub fn bad_fcs(&self) -> bool {
        self.flags & FLAG_BAD_FCS != 0
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Header<&'a T> {
    /// The 802.11 frame, without its FCS when the header says it has one.
    /// A frame cut before its FCS ends is cut there, so nothing of it is lost.
    pub fn payload(&self) -> &'a [u8] {
        let frame = &self.buffer.as_ref()[self.header_len()..];
        if self.flags & FLAG_FCS != 0 { &frame[..frame.len().saturating_sub(FCS_LEN)] } else { frame }
    }
}

/// Checks the header and walks its presence words to the Flags field,
/// whose value it returns.
fn walk(buffer: &[u8]) -> Result<u8, DecodeError> {
    if buffer.len() < MIN_HEADER_LEN {
        return Err(DecodeError::RadiotapTruncated);
    }
    let len = usize::from(le16(buffer, field::LENGTH));
    if buffer[field::VERSION] != 0 || len < MIN_HEADER_LEN {
        return Err(DecodeError::RadiotapBadHeader);
    }
    if buffer.len() < len {
        return Err(DecodeError::RadiotapTruncated);
    }
    let present = |at: usize| u32::from_le_bytes([buffer[at], buffer[at + 1], buffer[at + 2], buffer[at + 3]]);
    let first = present(field::PRESENT.start);
    // Fields start after the last presence word.
    let mut fields_at = MIN_HEADER_LEN;
    let mut word = first;
    while word & PRESENT_EXT != 0 {
        if fields_at + 4 > len {
            return Err(DecodeError::RadiotapBadHeader);
        }
        word = present(fields_at);
        fields_at += 4;
    }
    // TSFT (8 bytes, 8-aligned from the header's start) is the only
    // field before Flags.
    let mut flags_at = fields_at;
    if first & PRESENT_TSFT != 0 {
        flags_at = ((flags_at + 7) & !7) + 8;
    }
    Ok(match first & PRESENT_FLAGS {
        0 => 0,
        _ => *buffer[..len].get(flags_at).ok_or(DecodeError::RadiotapBadHeader)?,
    })
}

/// What [`Repr::emit`] writes: a radiotap header with TSFT, Flags (FCS at
/// the end when `fcs`), Rate and an antenna signal.
#[cfg(feature = "emit")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// The TSF timer, in microseconds.
    pub tsft: u64,
    /// Whether the frame ends in its FCS.
    pub fcs: bool,
    /// The rate, in 500 kb/s.
    pub rate: u8,
    /// The antenna signal, in dBm.
    pub dbm: i8,
}

#[cfg(feature = "emit")]
impl Repr {
    /// The header, then `frame`.
    pub fn emit(&self, frame: &[u8]) -> Vec<u8> {
        // TSFT, Flags, Rate, dBm antenna signal.
        let present: u32 = PRESENT_TSFT | PRESENT_FLAGS | (1 << 2) | (1 << 5);
        let mut h = vec![0, 0, 0, 0];
        h.extend_from_slice(&present.to_le_bytes());
        h.extend_from_slice(&self.tsft.to_le_bytes());
        h.push(if self.fcs { FLAG_FCS } else { 0 });
        h.push(self.rate);
        h.extend_from_slice(&self.dbm.to_le_bytes());
        let len = crate::len16(h.len());
        h[field::LENGTH].copy_from_slice(&len.to_le_bytes());
        h.extend_from_slice(frame);
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_by_length_and_strips_the_fcs_its_flags_announce() {
        // TSFT + Flags (FCS) in an extended presence chain: flags after
        // two presence words and 8 bytes of TSFT at offset 16.
        let mut h = vec![0, 0, 0, 0];
        h.extend_from_slice(&(PRESENT_TSFT | PRESENT_FLAGS | PRESENT_EXT).to_le_bytes());
        h.extend_from_slice(&[0, 0, 0, 0]);
        h.extend_from_slice(&[0; 4]); // alignment for TSFT
        h.extend_from_slice(&[9; 8]);
        h.push(FLAG_FCS);
        h.push(0);
        let len = crate::len16(h.len());
        h[2..4].copy_from_slice(&len.to_le_bytes());
        h.extend_from_slice(&[0x08, 0x01, 0xaa, 0xbb, 0xcc, 0xdd]);
        let r = Header::new_checked(&h[..]).unwrap();
        assert_eq!((r.payload(), r.bad_fcs(), r.flags(), r.header_len()), (&[0x08, 0x01][..], false, FLAG_FCS, 26));
        // Without Flags the frame is whole.
        let plain = [0, 0, 8, 0, 0, 0, 0, 0, 0x88, 0x02];
        assert_eq!(Header::new_checked(&plain).unwrap().payload(), &[0x88, 0x02]);
    }

    #[test]
    fn rejects_bad_versions_lengths_and_chains() {
        assert_eq!(Header::new_checked(&[0, 0, 8, 0, 0, 0, 0]).err(), Some(DecodeError::RadiotapTruncated));
        assert_eq!(Header::new_checked(&[1, 0, 8, 0, 0, 0, 0, 0]).err(), Some(DecodeError::RadiotapBadHeader));
        assert_eq!(Header::new_checked(&[0, 0, 4, 0, 0, 0, 0, 0]).err(), Some(DecodeError::RadiotapBadHeader));
        assert_eq!(Header::new_checked(&[0, 0, 12, 0, 0, 0, 0, 0]).err(), Some(DecodeError::RadiotapTruncated));
        // An extension bit with no room for the next word.
        assert_eq!(Header::new_checked(&[0, 0, 8, 0, 0, 0, 0, 0x80]).err(), Some(DecodeError::RadiotapBadHeader));
        // Flags present but past the header's end.
        assert_eq!(Header::new_checked(&[0, 0, 8, 0, 2, 0, 0, 0, 0]).err(), Some(DecodeError::RadiotapBadHeader));
    }

    #[cfg(feature = "emit")]
    #[test]
    fn emit_round_trips() {
        let h = Repr { tsft: 1, fcs: true, rate: 12, dbm: -40 }.emit(&[1, 2, 3, 4, 5, 6]);
        let r = Header::new_checked(&h[..]).unwrap();
        assert_eq!(r.payload(), &[1, 2]);
    }
}
