//! Reading ahead on a thread of its own: the system's copy out of the page
//! cache, or the decompressor, fills the next chunks while the caller
//! parses the last one. Replaying an uncompressed capture spends more time
//! in `read` than in everything after it (the kernel copying the page
//! cache out), and a zstd capture as much in the decompressor: on two
//! cores, overlapping them with the parsing takes a replay of the
//! benchmark capture with one worker from 0.277 to 0.174 s (BENCHMARKS.md,
//! "Several workers").
//!
//! A read that returns less than it was asked for (a pipe with no more for
//! now) hands on what it gave: what standard input delivers is parsed as it
//! comes, not once a chunk is full.
//!
//! Memory stays bounded: `in_flight` chunks queued, one being filled, and
//! the one being read with the one just read before it goes back; chunks
//! are reused as they come back.

use std::io::{self, Read};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};

/// One chunk of the stream, in order.
enum Chunk {
    Bytes(Vec<u8>),
    /// The stream failed here, after the bytes sent before.
    Error(io::Error),
    /// The stream ended cleanly.
    End,
}

/// A stream read by a thread of its own into chunks of `chunk_len` bytes,
/// at most `in_flight` of them ahead of the reader. Bytes and errors come
/// out in the order the stream gave them: an error after the bytes before it.
///
/// Dropping it does not wait for the thread, which may be blocked reading
/// (standard input that never ends): the thread ends at its next chunk,
/// finding no one to take it.
pub struct ReadAhead {
    chunks: Receiver<Chunk>,
    free: Sender<Vec<u8>>,
    current: Vec<u8>,
    at: usize,
    done: bool,
}

impl ReadAhead {
    /// Starts the thread that reads `inner`.
    pub fn new<R: Read + Send + 'static>(inner: R, chunk_len: usize, in_flight: usize) -> io::Result<Self> {
        let (to, chunks) = mpsc::sync_channel(in_flight.max(1));
        let (free, spare) = mpsc::channel();
        std::thread::Builder::new()
            .name("read-ahead".into())
            .spawn(move || fill(inner, chunk_len.max(1), &to, &spare))?;
        Ok(ReadAhead { chunks, free, current: Vec::new(), at: 0, done: false })
    }
}

fn fill<R: Read>(mut inner: R, chunk_len: usize, to: &SyncSender<Chunk>, spare: &Receiver<Vec<u8>>) {
    loop {
        let mut chunk = spare.try_recv().unwrap_or_else(|_| Vec::with_capacity(chunk_len));
        chunk.resize(chunk_len, 0);
        let mut len = 0;
        let mut end = None;
        // A short read (a pipe with no more for now) hands on what came:
        // the parser must not wait for a chunk that standard input may
        // never fill, nor for an error behind it.
        while len < chunk_len {
            match inner.read(&mut chunk[len..]) {
                Ok(0) => {
                    end = Some(Chunk::End);
                    break;
                }
                Ok(n) => {
                    let asked = chunk_len - len;
                    len += n;
                    if n < asked {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    end = Some(Chunk::Error(e));
                    break;
                }
            }
        }
        chunk.truncate(len);
        if len > 0 && to.send(Chunk::Bytes(chunk)).is_err() {
            return;
        }
        if let Some(end) = end {
            let _ = to.send(end);
            return;
        }
    }
}

impl Read for ReadAhead {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.at == self.current.len() {
            if self.done {
                return Ok(0);
            }
            match self.chunks.recv() {
                Ok(Chunk::Bytes(next)) => {
                    let used = std::mem::replace(&mut self.current, next);
                    let _ = self.free.send(used);
                    self.at = 0;
                }
                Ok(Chunk::Error(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Ok(Chunk::End) => self.done = true,
                Err(_) => {
                    self.done = true;
                    return Err(io::Error::other("the read-ahead thread stopped"));
                }
            }
        }
        let n = out.len().min(self.current.len() - self.at);
        out[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// At most 7 bytes a call, like a pipe, then `error` if any.
    struct Trickle {
        data: Vec<u8>,
        at: usize,
        error: Option<io::ErrorKind>,
    }

    impl Read for Trickle {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.at == self.data.len() {
                return self.error.map_or(Ok(0), |kind| Err(io::Error::new(kind, "cut")));
            }
            let n = out.len().min(7).min(self.data.len() - self.at);
            out[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    fn data() -> Vec<u8> {
        (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn bytes_come_out_whole_and_in_order_across_chunks() {
        for chunk_len in [1, 100, 4096, 20_000] {
            let inner = Trickle { data: data(), at: 0, error: None };
            let mut ahead = ReadAhead::new(inner, chunk_len, 2).unwrap();
            let mut out = Vec::new();
            ahead.read_to_end(&mut out).unwrap();
            assert!(out == data(), "chunks of {chunk_len}");
            assert_eq!(ahead.read(&mut [0; 8]).unwrap(), 0, "the end stays the end");
        }
    }

    #[test]
    fn an_error_comes_after_the_bytes_before_it() {
        let inner = Trickle { data: data(), at: 0, error: Some(io::ErrorKind::UnexpectedEof) };
        let mut ahead = ReadAhead::new(inner, 300, 2).unwrap();
        let mut out = Vec::new();
        let e = ahead.read_to_end(&mut out).expect_err("the stream was cut");
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        assert!(out == data(), "every byte before the error is read");
    }

    /// A pipe that has given 10 bytes and has no more for now: blocks until
    /// the test lets it end.
    struct Stalled {
        first: Option<Vec<u8>>,
        release: mpsc::Receiver<()>,
    }

    impl Read for Stalled {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if let Some(first) = self.first.take() {
                out[..first.len()].copy_from_slice(&first);
                return Ok(first.len());
            }
            let _ = self.release.recv();
            Ok(0)
        }
    }

    #[test]
    fn what_a_stalled_pipe_gave_is_read_without_waiting_for_a_full_chunk() {
        let (release, blocked) = mpsc::channel();
        let inner = Stalled { first: Some((0..10).collect()), release: blocked };
        let mut ahead = ReadAhead::new(inner, 256 * 1024, 2).unwrap();
        let (got, read) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut ten = [0; 10];
            ahead.read_exact(&mut ten).unwrap();
            got.send(ten).unwrap();
            ahead
        });
        // A hang guard, not a speed check: the pipe gives nothing more
        // until the test lets it end.
        let ten = read.recv_timeout(Duration::from_secs(30)).expect("the 10 bytes, with the pipe still open");
        assert_eq!(ten, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        drop(release);
        let mut ahead = reader.join().unwrap();
        assert_eq!(ahead.read(&mut [0; 4]).unwrap(), 0);
    }

    /// Endless bytes; its sender, dropped with it, says when the read-ahead
    /// thread lets go of it.
    struct Endless {
        _alive: mpsc::Sender<()>,
    }

    impl Read for Endless {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            out.fill(1);
            Ok(out.len())
        }
    }

    #[test]
    fn dropping_it_stops_the_thread() {
        let (alive, gone) = mpsc::channel();
        let mut ahead = ReadAhead::new(Endless { _alive: alive }, 1024, 2).unwrap();
        ahead.read_exact(&mut [0; 5000]).unwrap();
        drop(ahead);
        assert_eq!(
            gone.recv_timeout(Duration::from_secs(10)),
            Err(mpsc::RecvTimeoutError::Disconnected),
            "the thread ended and dropped its stream"
        );
    }
}
