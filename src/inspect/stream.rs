//! Reassembles one direction of a TCP stream for an inspector, in sequence
//! order, so that a message spanning segments (post-quantum ClientHellos are
//! over 1,700 bytes), arriving out of order or retransmitted is read once
//! and whole, whatever the number of segments it was cut into.
//!
//! The stream starts at the direction's first byte (the ISN + 1 when the SYN
//! was seen, else the first segment an inspector accepted). Bytes the
//! inspector has consumed (a STARTTLS preamble, a DNS message it read) are
//! dropped from the front, so the bound is on what is held, not on how far
//! into the stream the inspector reads.

/// The most one direction holds: a TLS record (16 KiB plus its header) is
/// the largest message an inspector waits for.
pub const MAX_HELD: usize = 16 * 1024 + 5;
/// Out-of-order segments held while waiting for a gap to fill.
const MAX_PENDING: usize = 16;

/// What a segment did to the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placed {
    /// New contiguous bytes are ready for the inspector.
    Ready,
    /// Held until the gap before it fills, or a retransmission of bytes
    /// already read: nothing new to read.
    Waiting,
    /// The bound was reached: the inspector will not get what it waits for.
    Overflow,
}

/// One direction's stream.
#[derive(Debug, Default)]
pub struct Stream {
    /// Sequence number of `held[0]`, once the start is known.
    start: Option<u32>,
    /// Contiguous bytes not yet consumed.
    held: Vec<u8>,
    /// Segments beyond a gap, by sequence number.
    pending: Vec<(u32, Vec<u8>)>,
}

impl Stream {
    /// A stream whose first byte has sequence number `start`, when known.
    pub fn new(start: Option<u32>) -> Self {
        Stream { start, held: Vec::new(), pending: Vec::new() }
    }

    /// Sets where the stream starts (the direction's SYN was seen) unless a
    /// segment already did.
    pub fn expect_start(&mut self, start: u32) {
        if self.start.is_none() {
            self.start = Some(start);
        }
    }

    /// The contiguous bytes not yet consumed.
    pub fn held(&self) -> &[u8] {
        &self.held
    }

    /// Whether the stream holds any bytes (and so needs budget).
    pub fn is_empty(&self) -> bool {
        self.held.is_empty() && self.pending.is_empty()
    }

    /// Whether a segment at `seq` can be handed to the inspector as it is:
    /// nothing is held and it starts exactly where the stream continues.
    pub fn is_next(&self, seq: u32) -> bool {
        self.held.is_empty() && self.start.is_none_or(|s| s == seq)
    }

    /// Marks `consumed` bytes at the stream position `seq` read straight
    /// from a segment (the zero-copy path), keeping `rest` for later.
    pub fn advance_past(&mut self, seq: u32, consumed: usize, rest: &[u8]) -> Placed {
        self.start = Some(seq.wrapping_add(len_u32(consumed)));
        if rest.is_empty() {
            return Placed::Waiting;
        }
        self.add(self.start.unwrap_or(seq), rest)
    }

    /// Adds a segment.
    pub fn add(&mut self, seq: u32, payload: &[u8]) -> Placed {
        let Some(start) = self.start else {
            self.start = Some(seq);
            return self.add(seq, payload);
        };
        let end = self.held.len();
        let offset = seq.wrapping_sub(start) as usize;
        // Sequence space is circular: "before the start" reads as a huge
        // offset. Such a segment may still reach into new bytes.
        let (offset, payload) = if offset > u32::MAX as usize / 2 {
            let behind = start.wrapping_sub(seq) as usize;
            match payload.get(behind..) {
                Some(rest) if !rest.is_empty() => (0, rest),
                _ => return Placed::Waiting,
            }
        } else {
            (offset, payload)
        };
        if offset > end {
            return self.hold(offset, payload);
        }
        if !self.place(offset, payload) {
            return Placed::Overflow;
        }
        self.drain_pending();
        if self.held.len() > end { Placed::Ready } else { Placed::Waiting }
    }

    /// Drops `n` bytes the inspector has read from the front.
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.held.len());
        self.held.drain(..n);
        self.start = self.start.map(|s| s.wrapping_add(len_u32(n)));
    }

    fn held_bytes(&self) -> usize {
        self.held.len() + self.pending.iter().map(|(_, b)| b.len()).sum::<usize>()
    }

    fn hold(&mut self, offset: usize, payload: &[u8]) -> Placed {
        // Held bytes count against the same bound as assembled ones.
        if self.pending.len() >= MAX_PENDING || self.held_bytes() + payload.len() > MAX_HELD {
            return Placed::Overflow;
        }
        let seq = self.start.unwrap_or(0).wrapping_add(len_u32(offset));
        self.pending.push((seq, payload.to_vec()));
        Placed::Waiting
    }

    /// Appends what extends the contiguous bytes; overlaps are read once.
    /// False when the bound would be exceeded.
    fn place(&mut self, offset: usize, payload: &[u8]) -> bool {
        let new = payload.get(self.held.len() - offset..).unwrap_or(&[]);
        if new.is_empty() {
            return true;
        }
        if self.held_bytes() + new.len() > MAX_HELD {
            return false;
        }
        self.grow(new.len());
        self.held.extend_from_slice(new);
        true
    }

    /// Makes room for `more` held bytes, doubling as a Vec does but never
    /// past [`MAX_HELD`]: the budget charges the bound, and a doubled
    /// 11 KiB buffer would be 23 KiB.
    fn grow(&mut self, more: usize) {
        let needed = self.held.len() + more;
        if needed > self.held.capacity() {
            let target = (self.held.capacity() * 2).clamp(needed, MAX_HELD.max(needed));
            self.held.reserve_exact(target - self.held.len());
        }
    }

    fn drain_pending(&mut self) {
        let Some(start) = self.start else { return };
        while let Some(i) =
            self.pending.iter().position(|(seq, _)| (seq.wrapping_sub(start) as usize) <= self.held.len())
        {
            let (seq, bytes) = self.pending.swap_remove(i);
            let offset = seq.wrapping_sub(start) as usize;
            // Room was reserved when it was held, so this cannot overflow.
            let new = bytes.get(self.held.len() - offset..).unwrap_or(&[]);
            self.grow(new.len());
            self.held.extend_from_slice(new);
        }
    }
}

/// Stream lengths are bounded by [`MAX_HELD`] and segment sizes by the IP
/// length fields, so they always fit the 32-bit sequence space.
fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reorders_and_deduplicates() {
        let mut s = Stream::new(Some(1000));
        assert_eq!(s.add(1005, b"world"), Placed::Waiting);
        assert_eq!(s.held(), b"");
        assert_eq!(s.add(1000, b"hello"), Placed::Ready);
        assert_eq!(s.held(), b"helloworld");
        assert_eq!(s.add(1003, b"lowo"), Placed::Waiting, "a retransmitted overlap adds nothing");
        assert_eq!(s.held(), b"helloworld");
    }

    #[test]
    fn learns_the_start_from_the_first_segment_and_wraps() {
        let mut s = Stream::new(None);
        assert_eq!(s.add(u32::MAX - 3, b"ab"), Placed::Ready);
        assert_eq!(s.add(u32::MAX - 1, b"cd"), Placed::Ready);
        assert_eq!(s.add(0, b"ef"), Placed::Ready);
        assert_eq!(s.held(), b"abcdef", "sequence numbers wrap");
    }

    #[test]
    fn consumed_bytes_leave_room_and_keep_positions() {
        let mut s = Stream::new(Some(0));
        assert_eq!(s.add(0, b"EHLO x\r\nSTARTTLS\r\n"), Placed::Ready);
        s.consume(18);
        assert_eq!(s.held(), b"");
        assert_eq!(s.add(18, b"\x16\x03\x01"), Placed::Ready);
        assert_eq!(s.held(), b"\x16\x03\x01");
        // Far more than the bound in total, never more than it at once.
        let mut t = Stream::new(Some(0));
        for i in 0..10u32 {
            assert_eq!(t.add(i * 10_000, &[0; 10_000]), Placed::Ready);
            t.consume(10_000);
        }
    }

    #[test]
    fn a_segment_reaching_back_before_the_start_adds_its_new_part() {
        let mut s = Stream::new(Some(100));
        assert_eq!(s.add(96, b"xxxxabc"), Placed::Ready);
        assert_eq!(s.held(), b"abc");
        assert_eq!(s.add(90, b"xxxx"), Placed::Waiting);
    }

    #[test]
    fn the_buffer_never_grows_past_the_bound() {
        let mut s = Stream::new(Some(0));
        for i in 0..11u32 {
            assert_eq!(s.add(i * 1448, &[b'h'; 1448]), Placed::Ready);
            assert!(s.held.capacity() <= MAX_HELD, "{} bytes allocated", s.held.capacity());
        }
        assert_eq!(s.held().len(), 11 * 1448);
    }

    #[test]
    fn stays_bounded() {
        let mut s = Stream::new(Some(0));
        assert_eq!(s.add(0, &vec![0u8; MAX_HELD]), Placed::Ready);
        assert_eq!(s.add(u32::try_from(MAX_HELD).unwrap(), b"x"), Placed::Overflow);
        let mut t = Stream::new(Some(0));
        for i in 0..u32::try_from(MAX_PENDING).unwrap() {
            assert_eq!(t.add(100 + i * 10, b"x"), Placed::Waiting);
        }
        assert_eq!(t.add(5000, b"x"), Placed::Overflow);
        let mut u = Stream::new(Some(0));
        assert_eq!(u.add(100, &[0; 10_000]), Placed::Waiting);
        assert_eq!(u.add(20_000, &[0; 10_000]), Placed::Overflow, "held out-of-order bytes count");
    }
}
