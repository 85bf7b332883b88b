//! One reader for several replay workers: a thread opens each input in
//! turn, decompresses it once and hands the same blocks of capture bytes to
//! every worker, each of which parses them and keeps its share of the frames.
//!
//! Each worker's channel holds a few blocks: the reader waits for the
//! slowest worker, so memory stays bounded whatever the input's size.

use std::fs::File;
use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;

use crate::source::ReadError;
use crate::source::compressed::{self, Compression, Stream};
use crate::source::file::OpenError;
use crate::source::input::{Input, Origin};

const BLOCK_LEN: usize = 256 * 1024;
/// Blocks queued per worker.
const BLOCKS_IN_FLIGHT: usize = 16;

type Block = Result<Arc<Vec<u8>>, Arc<io::Error>>;

/// What a worker gets for each input, in input order.
pub enum Feed {
    /// The decompressed bytes, as they are read.
    Stream { compression: Compression, blocks: BlockReader },
    /// The input could not be opened, or its first bytes not read.
    Failed(String),
}

/// The decompressed bytes of one input as a [`Read`].
pub struct BlockReader {
    blocks: Receiver<Block>,
    current: Option<Arc<Vec<u8>>>,
    pos: usize,
}

impl Read for BlockReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(block) = &self.current {
                if self.pos < block.len() {
                    let n = buf.len().min(block.len() - self.pos);
                    buf[..n].copy_from_slice(&block[self.pos..self.pos + n]);
                    self.pos += n;
                    return Ok(n);
                }
            }
            match self.blocks.recv() {
                Ok(Ok(block)) => {
                    self.current = Some(block);
                    self.pos = 0;
                }
                // The same error for every worker: its kind and message.
                Ok(Err(e)) => return Err(io::Error::new(e.kind(), e.to_string())),
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

/// Starts the reader thread; returns each worker's feed of inputs.
pub fn spawn(
    inputs: Vec<Input>,
    workers: usize,
    bytes: Arc<AtomicU64>,
) -> io::Result<(JoinHandle<()>, Vec<Receiver<Feed>>)> {
    let (feeds, receivers): (Vec<_>, Vec<_>) = (0..workers).map(|_| mpsc::channel::<Feed>()).unzip();
    let thread = std::thread::Builder::new().name("replay-reader".into()).spawn(move || {
        for input in &inputs {
            let raw = match open_raw(input, &bytes) {
                Ok(raw) => raw,
                Err(message) => {
                    feeds.iter().for_each(|f| drop(f.send(Feed::Failed(message.clone()))));
                    continue;
                }
            };
            let (mut stream, compression) = match compressed::decompressed(raw) {
                Ok(s) => s,
                Err(e) => {
                    let message = OpenError { compression: None, source: ReadError::reading(0, 0, e) };
                    feeds.iter().for_each(|f| drop(f.send(Feed::Failed(format!("cannot read: {message}")))));
                    continue;
                }
            };
            let mut senders: Vec<Option<SyncSender<Block>>> = Vec::new();
            for feed in &feeds {
                let (tx, rx) = mpsc::sync_channel(BLOCKS_IN_FLIGHT);
                let blocks = BlockReader { blocks: rx, current: None, pos: 0 };
                senders.push(feed.send(Feed::Stream { compression, blocks }).is_ok().then_some(tx));
            }
            pump(&mut stream, &mut senders);
        }
    })?;
    Ok((thread, receivers))
}

/// Reads `stream` to its end (or first error) into every worker still
/// reading; a worker stops taking blocks when its input ends early.
fn pump(stream: &mut Stream, senders: &mut [Option<SyncSender<Block>>]) {
    loop {
        let mut block = vec![0u8; BLOCK_LEN];
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
                Err(e) => break Err(Arc::new(e)),
            }
        };
        block.truncate(len);
        let end = len < BLOCK_LEN;
        if len > 0 {
            let block = Arc::new(block);
            send_all(senders, || Ok(block.clone()));
        }
        if let Err(e) = result {
            send_all(senders, || Err(e.clone()));
            return;
        }
        if end || senders.iter().all(Option::is_none) {
            return;
        }
    }
}

fn send_all(senders: &mut [Option<SyncSender<Block>>], block: impl Fn() -> Block) {
    for slot in senders.iter_mut() {
        if slot.as_ref().is_some_and(|tx| tx.send(block()).is_err()) {
            *slot = None;
        }
    }
}
