//! Readers ahead of the replay's router. Each reader thread opens inputs,
//! reads and decompresses them, parses their records, keeps each input's
//! capture clock, tells the worker of every frame and gathers the frames
//! into shared blocks ([`Frames`]), which the router hands to every worker
//! without copying them again: a worker picks out its own frames.
//!
//! With several inputs, several readers work at once, each on every
//! `readers`-th input in name order, so the next files are decompressed and
//! parsed while the router works through the current one. The router still
//! takes the inputs one after the other, each's frames in order: what it
//! sees is what one reader would give, so a flow that goes on from one
//! rotated capture into the next stays one flow.
//!
//! Each input's channel holds a few blocks, and the workers' lanes a few
//! more: a reader waits for the router and the router for the workers, so
//! memory stays bounded whatever the inputs' sizes.

use std::fs::File;
use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::thread::JoinHandle;
use std::time::Duration;

use vendorwatch::source::clock::CaptureClock;
use vendorwatch::source::compressed::Stream;
use vendorwatch::source::file::CaptureReader;
use vendorwatch::source::input::{Input, Origin};
use vendorwatch::source::{Frame, LinkType, ReadError};

use super::replay::{Unopened, classify};
use super::spread;

/// A block of frames is handed on once its bytes reach this: small enough
/// that the blocks in flight stay in the cores' caches (256 KiB blocks cost
/// about 6% less CPU than 1 MiB ones here).
const BLOCK_BYTES: usize = 256 * 1024;
/// Frames per block at most (small frames).
const BLOCK_FRAMES: usize = 4096;
/// Pieces queued for the router, per input being read.
const PIECES_IN_FLIGHT: usize = 8;
/// Reader threads at most, whatever the workers: each holds its input's
/// decoder window (up to 64 MiB for `xz -9`, 128 MiB for `zstd --long`),
/// and a few files read ahead keep the router busy.
const MAX_READERS: usize = 4;

/// A frame of a [`Frames`] block, with the worker it goes to.
#[derive(Clone, Copy)]
pub struct FrameMeta {
    pub ts_ns: u64,
    start: u32,
    len: u32,
    pub wire_len: u32,
    pub interface: u32,
    pub link: LinkType,
    /// [`spread::UNROUTED`] for a fragment: the router routes it.
    pub worker: u32,
}

/// Frames of one input in capture order (as its clock hands them on),
/// their bytes one after the other.
#[derive(Default)]
pub struct Frames {
    bytes: Vec<u8>,
    metas: Vec<FrameMeta>,
}

impl Frames {
    pub fn metas(&self) -> &[FrameMeta] {
        &self.metas
    }

    pub fn frame(&self, meta: &FrameMeta) -> Frame<'_> {
        let start = meta.start as usize;
        Frame {
            ts_ns: meta.ts_ns,
            link: meta.link,
            data: &self.bytes[start..start + meta.len as usize],
            wire_len: meta.wire_len,
            interface: meta.interface,
        }
    }

    fn push(&mut self, frame: &Frame<'_>, worker: u32) {
        // Blocks end well before 4 GiB (a record is at most 16 MiB).
        let start = u32::try_from(self.bytes.len()).unwrap_or(u32::MAX);
        self.bytes.extend_from_slice(frame.data);
        self.metas.push(FrameMeta {
            ts_ns: frame.ts_ns,
            start,
            len: u32::try_from(frame.data.len()).unwrap_or(u32::MAX),
            wire_len: frame.wire_len,
            interface: frame.interface,
            link: frame.link,
            worker,
        });
    }

    fn full(&self) -> bool {
        self.bytes.len() >= BLOCK_BYTES || self.metas.len() >= BLOCK_FRAMES
    }
}

/// A block shared by the router and the workers; once the last of them is
/// done with it, it goes back to its reader to be filled again.
pub struct Shared {
    frames: Frames,
    back: Sender<Frames>,
}

impl std::ops::Deref for Shared {
    type Target = Frames;
    fn deref(&self) -> &Frames {
        &self.frames
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let mut frames = std::mem::take(&mut self.frames);
        frames.bytes.clear();
        frames.metas.clear();
        let _ = self.back.send(frames);
    }
}

/// What a reader says about one input, in order.
pub enum Piece {
    Frames(Arc<Shared>),
    /// A record was skipped; reading goes on.
    Skipped(ReadError),
    /// The input ended: cleanly, or at this error.
    End(InputEnd),
}

/// How reading one input ended.
pub struct InputEnd {
    pub error: Option<ReadError>,
    /// Records read (before the error).
    pub frames: u64,
    /// The clock's counts: records timed at the clock, jumps followed.
    pub jumps: u64,
    pub followed: u64,
}

/// What the router gets for each input, in input order.
pub enum Feed {
    Pieces(Receiver<Piece>),
    Unopened(Unopened),
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

/// Opens an input as a capture: its raw bytes, decompressed, read ahead
/// on a thread of their own.
pub fn open(input: &Input, bytes: &Arc<AtomicU64>) -> Result<CaptureReader<Stream>, Unopened> {
    let raw = open_raw(input, bytes).map_err(Unopened::Failed)?;
    CaptureReader::read_ahead(raw).map_err(|e| classify(input, &e))
}

/// How the readers read: each input's clock, and the workers to route to.
#[derive(Clone, Copy)]
pub struct ReadPlan {
    pub workers: usize,
    pub max_time_jump: Duration,
}

/// Starts up to `readers` reader threads (at most [`MAX_READERS`], and no
/// more than inputs); returns the feed of inputs, in input order, and the
/// threads to join.
pub fn spawn(
    inputs: Vec<Input>,
    bytes: &Arc<AtomicU64>,
    readers: usize,
    plan: ReadPlan,
) -> io::Result<(Vec<JoinHandle<()>>, Feeds)> {
    let readers = readers.min(MAX_READERS).clamp(1, inputs.len().max(1));
    let inputs = Arc::new(inputs);
    let mut threads = Vec::with_capacity(readers);
    let mut feeds = Vec::with_capacity(readers);
    for first in 0..readers {
        let (feed, receiver) = mpsc::channel::<Feed>();
        let (inputs, bytes) = (inputs.clone(), bytes.clone());
        let thread = std::thread::Builder::new()
            .name(format!("replay-reader-{first}"))
            .spawn(move || read_inputs(inputs.iter().skip(first).step_by(readers), &bytes, plan, &feed))?;
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
/// until the router stops taking its pieces, before the next is opened.
fn read_inputs<'i>(
    inputs: impl Iterator<Item = &'i Input>,
    bytes: &Arc<AtomicU64>,
    plan: ReadPlan,
    feed: &Sender<Feed>,
) {
    let (back, free) = mpsc::channel::<Frames>();
    for input in inputs {
        let reader = match open(input, bytes) {
            Ok(reader) => reader,
            Err(unopened) => {
                let _ = feed.send(Feed::Unopened(unopened));
                continue;
            }
        };
        let (tx, rx) = mpsc::sync_channel(PIECES_IN_FLIGHT);
        if feed.send(Feed::Pieces(rx)).is_err() {
            return;
        }
        let _ = read_input(reader, plan, &tx, &back, &free);
    }
}

/// Parses one input into pieces; `Err` when the router stopped listening.
fn read_input(
    mut reader: CaptureReader<Stream>,
    plan: ReadPlan,
    to: &SyncSender<Piece>,
    back: &Sender<Frames>,
    free: &Receiver<Frames>,
) -> Result<(), mpsc::SendError<Piece>> {
    let mut clock = CaptureClock::new(plan.max_time_jump);
    let mut out = free.try_recv().unwrap_or_default();
    let mut frames = 0u64;
    let hand_on = |out: &mut Frames| -> Result<(), mpsc::SendError<Piece>> {
        let full = std::mem::replace(out, free.try_recv().unwrap_or_default());
        to.send(Piece::Frames(Arc::new(Shared { frames: full, back: back.clone() })))
    };
    let error = loop {
        match reader.next_frame() {
            Ok(Some(frame)) => {
                frames += 1;
                clock.place(&frame, &mut |f: &Frame<'_>, _| out.push(f, spread::worker_of_frame(f, plan.workers)));
                if out.full() {
                    hand_on(&mut out)?;
                }
            }
            Ok(None) => break None,
            Err(e) if e.is_skip() => to.send(Piece::Skipped(e))?,
            Err(e) => break Some(e),
        }
    };
    clock.finish(&mut |f: &Frame<'_>, _| out.push(f, spread::worker_of_frame(f, plan.workers)));
    if !out.metas.is_empty() {
        hand_on(&mut out)?;
    }
    to.send(Piece::End(InputEnd { error, frames, jumps: clock.jumps(), followed: clock.followed() }))
}
