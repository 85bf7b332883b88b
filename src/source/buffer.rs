//! A refillable read buffer that hands out slices of itself.
//!
//! Capture readers parse records in place from this buffer instead of copying
//! each record into its own allocation; the buffer only grows when a single
//! record is larger than it (bounded by the readers' own record size limits),
//! and shrinks back once such a record is gone.

use std::io::{self, Read};

pub(crate) struct ReadBuffer<R> {
    inner: R,
    buf: Vec<u8>,
    /// The size the buffer returns to after a large record.
    capacity: usize,
    start: usize,
    end: usize,
    /// Absolute file offset of `buf[start]`.
    offset: u64,
    /// Bytes to drop before the next read: the record last handed out.
    pending: usize,
}

impl<R: Read> ReadBuffer<R> {
    pub(crate) fn new(inner: R, capacity: usize) -> Self {
        ReadBuffer { inner, buf: vec![0; capacity], capacity, start: 0, end: 0, offset: 0, pending: 0 }
    }

    /// Drops the record handed out last; call before parsing the next one.
    #[inline]
    pub(crate) fn release(&mut self) {
        self.consume(self.pending);
        self.pending = 0;
    }

    /// Marks `n` bytes at the front as handed out; they stay readable until
    /// the next [`release`](Self::release).
    #[inline]
    pub(crate) fn hand_out(&mut self, n: usize) {
        self.pending = n;
    }

    #[inline]
    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.offset += n as u64;
    }

    /// Absolute offset of the first available byte.
    #[inline]
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    #[inline]
    pub(crate) fn available(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Makes at least `n` bytes available. Returns `Ok(false)` when the input
    /// ends first; whatever was there stays available.
    #[inline]
    pub(crate) fn fill(&mut self, n: usize) -> io::Result<bool> {
        if self.end - self.start >= n {
            return Ok(true);
        }
        self.refill(n)
    }

    /// [`fill`](Self::fill) once the bytes available fall short: about once
    /// per buffer's worth of records, so kept out of the records' path.
    #[cold]
    #[inline(never)]
    fn refill(&mut self, n: usize) -> io::Result<bool> {
        if self.buf.len() - self.start < n {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            let wanted = n.max(self.capacity).max(self.end);
            if self.buf.len() < wanted {
                self.buf.resize(wanted, 0);
            } else if self.buf.len() > wanted {
                self.buf.truncate(wanted);
                self.buf.shrink_to_fit();
            }
        }
        while self.end - self.start < n {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => return Ok(false),
                Ok(read) => self.end += read,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that returns at most 3 bytes per call, like a slow pipe.
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(out.len()).min(3);
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn fills_across_short_reads_and_grows_for_large_records() {
        let data: Vec<u8> = (0..100u8).collect();
        let mut b = ReadBuffer::new(Trickle(&data), 8);
        assert!(b.fill(5).unwrap());
        assert_eq!(&b.available()[..5], &[0, 1, 2, 3, 4]);
        b.consume(5);
        assert_eq!(b.offset(), 5);
        assert!(b.fill(20).unwrap(), "buffer must grow past its capacity");
        assert_eq!(b.available()[0], 5);
        assert_eq!(b.available()[19], 24);
        assert!(b.fill(95).unwrap());
        b.hand_out(95);
        b.release();
        assert_eq!(b.offset(), 100);
        assert!(!b.fill(1).unwrap());
    }

    #[test]
    fn shrinks_back_after_a_large_record() {
        let data: Vec<u8> = (0..=255u8).cycle().take(4000).collect();
        let mut b = ReadBuffer::new(&data[..], 64);
        assert!(b.fill(1000).unwrap());
        assert!(b.buf.len() >= 1000);
        b.hand_out(1000);
        b.release();
        // Small records again: once the big buffer's tail is used up, the
        // buffer is back to its own size.
        let mut read = 1000;
        while read + 10 <= data.len() {
            assert!(b.fill(10).unwrap());
            assert_eq!(b.available()[0], data[read]);
            b.consume(10);
            read += 10;
        }
        assert_eq!(b.buf.len(), 64, "the 1000-byte buffer was given back");
    }
}
