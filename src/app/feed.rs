//! Readers ahead of the replay's router: threads open the inputs, read and
//! decompress them and hand blocks of capture bytes to the router, which
//! parses them. With several workers the router has the most to do; taking
//! the reading (and decompressing) off it shortens the run.
//!
//! With several inputs, several readers work at once, each on every
//! `readers`-th input in name order, so the next files are decompressed
//! while the router works through the current one (zstd, gzip and xz
//! decoding then leaves the router's path). The router still takes the
//! inputs one after the other, each's bytes in order: what it sees is what
//! one reader would give, so a flow that goes on from one rotated capture
//! into the next stays one flow.
//!
//! Each input's channel holds a few blocks: a reader waits for the router,
//! so memory stays bounded (readers x blocks in flight x block size)
//! whatever the inputs' sizes.

use std::fs::File;
use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::thread::JoinHandle;

use vendorwatch::source::ReadError;
use vendorwatch::source::compressed::{self, Compression, Stream};
use vendorwatch::source::file::OpenError;
use vendorwatch::source::input::{Input, Origin};

const BLOCK_LEN: usize = 1 << 20;
/// Blocks queued for the router, per input being read.
const BLOCKS_IN_FLIGHT: usize = 4;

type Block = Result<Vec<u8>, io::Error>;

/// What the router gets for each input, in input order.
pub enum Feed {
    /// The decompressed bytes, as they are read.
    Stream { compression: Compression, blocks: BlockReader },
    /// The input could not be opened, or its first bytes not read.
    Failed(String),
}

/// The decompressed bytes of one input as a [`Read`].
pub struct BlockReader {
    blocks: Receiver<Block>,
    current: Vec<u8>,
    pos: usize,
    /// Read blocks go back to the reader, which fills them again.
    back: Sender<Vec<u8>>,
}

impl Read for BlockReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.pos < self.current.len() {
                let n = buf.len().min(self.current.len() - self.pos);
                buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            match self.blocks.recv() {
                Ok(Ok(block)) => {
                    let _ = self.back.send(std::mem::replace(&mut self.current, block));
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0),
            }
        }
    }
}

/// Counts the raw (compressed) bytes read, for the progress line.
pub struct Counted<R> {
    pub inner: R,
    pub bytes: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens an input's raw bytes: a file, or standard input.
pub fn open_raw(input: &Input, bytes: &Arc<AtomicU64>) -> Result<Box<dyn Read + Send>, String> {
    match &input.origin {
        Origin::Stdin => Ok(Box::new(Counted { inner: io::stdin(), bytes: bytes.clone() })),
        Origin::File { path, .. } => match File::open(path) {
            Ok(file) => Ok(Box::new(Counted { inner: file, bytes: bytes.clone() })),
            Err(e) => Err(format!("cannot open: {e}")),
        },
    }
}

/// Starts up to `readers` reader threads; returns the feed of inputs, in
/// input order, and the threads to join.
pub fn spawn(inputs: Vec<Input>, bytes: Arc<AtomicU64>, readers: usize) -> io::Result<(Vec<JoinHandle<()>>, Feeds)> {
    let readers = readers.clamp(1, inputs.len().max(1));
    let inputs = Arc::new(inputs);
    let mut threads = Vec::with_capacity(readers);
    let mut feeds = Vec::with_capacity(readers);
    for first in 0..readers {
        let (feed, receiver) = mpsc::channel::<Feed>();
        let (inputs, bytes) = (inputs.clone(), bytes.clone());
        let thread = std::thread::Builder::new()
            .name(format!("replay-reader-{first}"))
            .spawn(move || read_inputs(inputs.iter().skip(first).step_by(readers), &bytes, &feed))?;
        threads.push(thread);
        feeds.push(receiver);
    }
    Ok((threads, Feeds { feeds, next: 0 }))
}

/// The inputs' feeds, taken in input order from the readers in turn.
pub struct Feeds {
    feeds: Vec<Receiver<Feed>>,
    next: usize,
}

impl Feeds {
    /// The next input's feed; `None` once a reader has stopped.
    pub fn next(&mut self) -> Option<Feed> {
        let feed = self.feeds[self.next].recv().ok();
        self.next = (self.next + 1) % self.feeds.len();
        feed
    }
}

/// One reader's inputs, one after the other: each is read to its end, or
/// until the router stops taking its blocks, before the next is opened.
fn read_inputs<'i>(inputs: impl Iterator<Item = &'i Input>, bytes: &Arc<AtomicU64>, feed: &Sender<Feed>) {
    let (back, free) = mpsc::channel::<Vec<u8>>();
    for input in inputs {
        let raw = match open_raw(input, bytes) {
            Ok(raw) => raw,
            Err(message) => {
                let _ = feed.send(Feed::Failed(message));
                continue;
            }
        };
        let (mut stream, compression) = match compressed::decompressed(raw) {
            Ok(s) => s,
            Err(e) => {
                let message = OpenError { compression: None, source: ReadError::reading(0, 0, e) };
                let _ = feed.send(Feed::Failed(format!("cannot read: {message}")));
                continue;
            }
        };
        let (tx, rx) = mpsc::sync_channel(BLOCKS_IN_FLIGHT);
        let blocks = BlockReader { blocks: rx, current: Vec::new(), pos: 0, back: back.clone() };
        if feed.send(Feed::Stream { compression, blocks }).is_err() {
            return;
        }
        pump(&mut stream, &tx, &free);
    }
}

/// Reads `stream` to its end (or first error) for the router; stops early
/// when the router stops taking blocks (its input ended early).
fn pump(stream: &mut Stream, to: &SyncSender<Block>, free: &Receiver<Vec<u8>>) {
    loop {
        let mut block = free.try_recv().unwrap_or_default();
        block.resize(BLOCK_LEN, 0);
        let mut len = 0;
        let result = loop {
            match stream.read(&mut block[len..]) {
                Ok(0) => break Ok(()),
                Ok(n) => {
                    len += n;
                    if len == block.len() {
                        break Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        block.truncate(len);
        if len > 0 && to.send(Ok(block)).is_err() {
            return;
        }
        if let Err(e) = result {
            let _ = to.send(Err(e));
            return;
        }
        if len < BLOCK_LEN {
            return;
        }
    }
}
