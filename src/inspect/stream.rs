//! Reassembles the first bytes a TCP client sends, in sequence order, so a
//! ClientHello that spans segments (post-quantum hellos are >1,700 bytes),
//! arrives out of order or is retransmitted is read once and whole.

/// TLS records are at most 16 KiB plus a header; a hello needs no more.
pub const MAX_STREAM_PREFIX: usize = 16 * 1024 + 5;
/// Out-of-order segments held while waiting for the gap to fill.
const MAX_PENDING: usize = 16;

pub struct StreamAssembler {
    /// Sequence number of the first stream byte, once known.
    base: Option<u32>,
    data: Vec<u8>,
    pending: Vec<(u32, Vec<u8>)>,
}

impl StreamAssembler {
    /// `base`: the client's ISN + 1 when its SYN was seen.
    pub fn new(base: Option<u32>) -> Self {
        StreamAssembler { base, data: Vec::new(), pending: Vec::new() }
    }

    /// The contiguous bytes from the start of the stream.
    pub fn contiguous(&self) -> &[u8] {
        &self.data
    }

    /// Adds a segment; returns false once the segment cannot be placed
    /// (bounds exceeded), after which the caller should give up.
    pub fn add(&mut self, seq: u32, payload: &[u8], starts_stream: bool) -> bool {
        if self.base.is_none() && starts_stream {
            self.base = Some(seq);
        }
        let Some(base) = self.base else {
            // Possibly a later segment that overtook the first one.
            return self.hold(seq, payload);
        };
        let offset = seq.wrapping_sub(base) as usize;
        if offset > MAX_STREAM_PREFIX {
            // Before the base (wrapped) or far beyond what we need.
            return offset > u32::MAX as usize / 2;
        }
        if offset > self.data.len() {
            return self.hold(seq, payload);
        }
        self.place(offset, payload);
        self.drain_pending(base);
        true
    }

    fn hold(&mut self, seq: u32, payload: &[u8]) -> bool {
        // Held bytes count against the same bound as assembled ones, so a
        // flow never holds more than one hello's worth.
        let held: usize = self.pending.iter().map(|(_, b)| b.len()).sum();
        if self.pending.len() >= MAX_PENDING || self.data.len() + held + payload.len() > MAX_STREAM_PREFIX {
            return false;
        }
        let keep = payload.len().min(MAX_STREAM_PREFIX);
        self.pending.push((seq, payload[..keep].to_vec()));
        true
    }

    /// Appends what extends the contiguous prefix; overlaps are read once.
    fn place(&mut self, offset: usize, payload: &[u8]) {
        let end = (offset + payload.len()).min(MAX_STREAM_PREFIX);
        if end > self.data.len() {
            let skip = self.data.len() - offset;
            self.data.extend_from_slice(&payload[skip..end - offset]);
        }
    }

    fn drain_pending(&mut self, base: u32) {
        loop {
            let len = self.data.len();
            let Some(i) = self.pending.iter().position(|(seq, _)| (seq.wrapping_sub(base) as usize) <= len) else {
                break;
            };
            let (seq, bytes) = self.pending.swap_remove(i);
            let offset = seq.wrapping_sub(base) as usize;
            if offset <= MAX_STREAM_PREFIX {
                self.place(offset, &bytes);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reorders_and_deduplicates() {
        let mut s = StreamAssembler::new(Some(1000));
        assert!(s.add(1005, b"world", false));
        assert_eq!(s.contiguous(), b"");
        assert!(s.add(1000, b"hello", true));
        assert_eq!(s.contiguous(), b"helloworld");
        assert!(s.add(1003, b"lowo", false), "a retransmitted overlap changes nothing");
        assert_eq!(s.contiguous(), b"helloworld");
    }

    #[test]
    fn learns_the_base_from_the_first_stream_segment() {
        let mut s = StreamAssembler::new(None);
        assert!(s.add(u32::MAX - 1, b"cd", false));
        assert!(s.add(u32::MAX - 3, b"ab", true));
        assert_eq!(s.contiguous(), b"abcd", "sequence numbers wrap");
    }

    #[test]
    fn stays_bounded() {
        let mut s = StreamAssembler::new(Some(0));
        let big = vec![0u8; 40_000];
        assert!(s.add(0, &big, true));
        assert_eq!(s.contiguous().len(), MAX_STREAM_PREFIX);
        let mut t = StreamAssembler::new(Some(0));
        for i in 0..MAX_PENDING as u32 {
            assert!(t.add(100 + i * 10, b"x", false));
        }
        assert!(!t.add(5000, b"x", false));
        let mut u = StreamAssembler::new(Some(0));
        assert!(u.add(100, &[0; 10_000], false));
        assert!(!u.add(20_000, &[0; 10_000], false), "held out-of-order bytes count against the bound");
    }
}
