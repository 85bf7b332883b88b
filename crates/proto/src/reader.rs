//! The one way the parsers read bytes: a bounds-checked, big-endian cursor
//! over a borrowed slice, and the one error they fail with.
//!
//! Every read either returns what it asked for and moves past it, or fails
//! with [`Malformed`]; nothing indexes the slice directly, so no length field
//! in the input can make a parser read past the end or panic.

use core::fmt;

/// The bytes are not a structurally valid message of the protocol read.
///
/// Deliberately carries no detail: callers count the message as malformed
/// and skip it, they never report why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("malformed message")
    }
}

impl std::error::Error for Malformed {}

/// A cursor over `bytes`: reads advance it, a failed read leaves the
/// message malformed (callers stop at the first error).
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A cursor at the start of `bytes`.
    #[must_use]
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    /// A cursor at offset `pos` of `bytes`: for formats whose fields point
    /// back into the message (DNS name compression).
    ///
    /// # Errors
    ///
    /// [`Malformed`] if `pos` is past the end.
    pub fn at(bytes: &'a [u8], pos: usize) -> Result<Self, Malformed> {
        if pos > bytes.len() { Err(Malformed) } else { Ok(Reader { bytes, pos }) }
    }

    /// Offset of the next byte from the start of the slice.
    #[must_use]
    pub fn position(&self) -> usize {
        self.pos
    }

    /// How many bytes are left to read.
    #[must_use]
    pub fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    /// Whether every byte has been read.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The next `n` bytes.
    ///
    /// # Errors
    ///
    /// [`Malformed`] if fewer than `n` are left.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        let end = self.pos.checked_add(n).ok_or(Malformed)?;
        let out = self.bytes.get(self.pos..end).ok_or(Malformed)?;
        self.pos = end;
        Ok(out)
    }

    /// The next `n` bytes, for a length read from the input as a wide integer.
    ///
    /// # Errors
    ///
    /// [`Malformed`] if fewer than `n` are left.
    pub fn take_u64(&mut self, n: u64) -> Result<&'a [u8], Malformed> {
        self.take(usize::try_from(n).map_err(|_| Malformed)?)
    }

    /// Skips the next `n` bytes.
    ///
    /// # Errors
    ///
    /// [`Malformed`] if fewer than `n` are left.
    pub fn skip(&mut self, n: usize) -> Result<(), Malformed> {
        self.take(n).map(drop)
    }

    /// Skips bytes while `keep` holds (padding, say); never fails.
    pub fn skip_while(&mut self, mut keep: impl FnMut(u8) -> bool) {
        let rest = self.bytes.get(self.pos..).unwrap_or(&[]);
        let skipped = rest.iter().take_while(|&&b| keep(b)).count();
        self.pos = self.pos.saturating_add(skipped);
    }

    /// The bytes not read yet; the cursor moves to the end.
    pub fn rest(&mut self) -> &'a [u8] {
        let rest = self.bytes.get(self.pos..).unwrap_or(&[]);
        self.pos = self.bytes.len();
        rest
    }

    /// The next `N` bytes as an array.
    ///
    /// # Errors
    ///
    /// [`Malformed`] if fewer than `N` are left.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], Malformed> {
        self.take(N)?.try_into().map_err(|_| Malformed)
    }

    /// # Errors
    ///
    /// [`Malformed`] at the end of the input.
    pub fn u8(&mut self) -> Result<u8, Malformed> {
        self.array::<1>().map(|[b]| b)
    }

    /// # Errors
    ///
    /// [`Malformed`] if fewer than 2 bytes are left.
    pub fn be16(&mut self) -> Result<u16, Malformed> {
        self.array().map(u16::from_be_bytes)
    }

    /// A 24-bit big-endian integer (TLS handshake lengths).
    ///
    /// # Errors
    ///
    /// [`Malformed`] if fewer than 3 bytes are left.
    pub fn be24(&mut self) -> Result<u32, Malformed> {
        self.array().map(|[a, b, c]| u32::from_be_bytes([0, a, b, c]))
    }

    /// # Errors
    ///
    /// [`Malformed`] if fewer than 4 bytes are left.
    pub fn be32(&mut self) -> Result<u32, Malformed> {
        self.array().map(u32::from_be_bytes)
    }

    /// # Errors
    ///
    /// [`Malformed`] if fewer than 8 bytes are left.
    pub fn be64(&mut self) -> Result<u64, Malformed> {
        self.array().map(u64::from_be_bytes)
    }

    /// A vector with a 1-byte length prefix.
    ///
    /// # Errors
    ///
    /// [`Malformed`] if the prefix or the bytes it counts are cut short.
    pub fn vec8(&mut self) -> Result<&'a [u8], Malformed> {
        let len = self.u8()?;
        self.take(usize::from(len))
    }

    /// A vector with a 2-byte big-endian length prefix.
    ///
    /// # Errors
    ///
    /// [`Malformed`] if the prefix or the bytes it counts are cut short.
    pub fn vec16(&mut self) -> Result<&'a [u8], Malformed> {
        let len = self.be16()?;
        self.take(usize::from(len))
    }

    /// A QUIC variable-length integer (RFC 9000 §16): the top two bits of
    /// the first byte give the length (1, 2, 4 or 8 bytes).
    ///
    /// # Errors
    ///
    /// [`Malformed`] if the integer is cut short.
    pub fn varint(&mut self) -> Result<u64, Malformed> {
        let first = self.u8()?;
        let extra = match first >> 6 {
            0 => 0,
            1 => 1,
            2 => 3,
            _ => 7,
        };
        let rest = self.take(extra)?;
        Ok(rest.iter().fold(u64::from(first & 0x3f), |acc, &b| (acc << 8) | u64::from(b)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_big_endian_fields_in_order() {
        let bytes = [1, 0x02, 0x03, 0x04, 0x05, 0x06, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 8, 0xaa];
        let mut r = Reader::new(&bytes);
        assert_eq!(r.u8(), Ok(1));
        assert_eq!(r.be16(), Ok(0x0203));
        assert_eq!(r.be24(), Ok(0x04_0506));
        assert_eq!(r.be32(), Ok(7));
        assert_eq!(r.be64(), Ok(8));
        assert_eq!((r.position(), r.remaining()), (18, 1));
        assert_eq!(r.rest(), &[0xaa]);
        assert!(r.is_empty());
    }

    #[test]
    fn a_short_read_is_malformed_and_takes_nothing() {
        let mut r = Reader::new(&[2, 1]);
        assert_eq!(r.be24(), Err(Malformed));
        assert_eq!(r.remaining(), 2);
        assert_eq!(r.vec8(), Err(Malformed));
        assert_eq!(Reader::new(&[0, 1]).take(usize::MAX), Err(Malformed));
        assert_eq!(Reader::new(&[]).u8(), Err(Malformed));
        assert_eq!(Reader::new(&[]).skip(1), Err(Malformed));
    }

    #[test]
    fn a_cursor_may_start_anywhere_up_to_the_end() {
        let bytes = [1, 2, 3];
        assert_eq!(Reader::at(&bytes, 1).and_then(|mut r| r.be16()), Ok(0x0203));
        assert!(Reader::at(&bytes, 3).is_ok_and(|r| r.is_empty()));
        assert_eq!(Reader::at(&bytes, 4).err(), Some(Malformed));
    }

    #[test]
    fn reads_prefixed_vectors_and_varints() {
        let mut r = Reader::new(&[0, 2, 9, 8, 1, 7, 0x40, 0x25, 0x25, 0, 0, 0]);
        assert_eq!(r.vec16(), Ok(&[9, 8][..]));
        assert_eq!(r.vec8(), Ok(&[7][..]));
        assert_eq!(r.varint(), Ok(37));
        assert_eq!(r.varint(), Ok(37));
        r.skip_while(|b| b == 0);
        assert!(r.is_empty());
        assert_eq!(Reader::new(&[0xc0, 0, 0]).varint(), Err(Malformed));
    }
}
