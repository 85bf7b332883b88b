//! How the replay's router hands work to its workers: each worker's share
//! of the frames and the clock's events (expiry, steps), in capture order.
//!
//! With one worker the router calls the worker directly ([`Inline`]). With
//! several, each worker has a lane: batches of events and of its frames,
//! copied in; the router fills them and the worker's thread empties them
//! ([`Threaded`]). A batch goes back to the router once done, so its
//! buffers are reused; a few batches per worker bound the memory and make
//! the router wait for the slowest worker.

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};

use vendorwatch::pipeline::Pipeline;
use vendorwatch::source::{Frame, LinkType};

use super::replay::{Event, InputStatus, Plan};

/// Flow records taken from the pipeline and written at a time.
const RECORDS_PER_WRITE: usize = 1024;
/// A batch is sent once it holds this many operations or frame bytes.
const OPS_PER_BATCH: usize = 4096;
const BYTES_PER_BATCH: usize = 1024 * 1024;
/// Batches per worker: filled, queued or being worked on.
const BATCHES_PER_WORKER: usize = 4;

/// One step of a worker's work, in capture order.
pub enum Op {
    /// The next input's frames are counted under this label.
    AddSource(String),
    /// The current input's capture interface `interface` has this name.
    NameInterface { interface: u32, name: Option<Arc<str>> },
    /// A frame whose bytes are `bytes[start..start + len]` of its batch.
    Frame { start: usize, len: usize, ts_ns: u64, link: LinkType, wire_len: u32, interface: u32, source: usize },
    /// The capture clock reached `now_ns`: flows idle past their timeout end.
    Expire(u64),
    /// A step boundary: what settled flows did up to `at_ns`, with the
    /// inputs' statuses so far (worker 0 only). `now_ns`: the capture clock
    /// over all workers' frames, which one worker's own frames may lag.
    Snapshot { at_ns: u64, now_ns: u64, statuses: Option<Vec<(String, InputStatus)>> },
    /// The end of the replay; the last step is at `end_ns`.
    Finish { end_ns: u64, statuses: Option<Vec<(String, InputStatus)>> },
}

/// Where the router sends each worker's work.
pub trait Lanes {
    /// Whether there is one worker, on the router's thread: every frame is
    /// its own, with nothing to route.
    const ONE_WORKER: bool = false;
    /// `frame` (of input `source`) for `worker`'s pipeline.
    fn frame(&mut self, worker: usize, frame: &Frame<'_>, source: usize);
    /// The same event for every worker: `op(worker)`.
    fn each(&mut self, op: &mut dyn FnMut(usize) -> Op);
    /// A line for stderr.
    fn note(&mut self, text: String);
    /// Hands over everything not sent yet.
    fn flush(&mut self);
}

/// One worker's pipeline, doing what the router says.
pub struct Worker<'e> {
    index: usize,
    pipeline: Pipeline,
    emit: &'e mut dyn FnMut(Event),
    seq: u64,
}

impl<'e> Worker<'e> {
    pub fn new(plan: &Plan, index: usize, emit: &'e mut dyn FnMut(Event)) -> Self {
        let mut pipeline = Pipeline::new(plan.rules.clone(), plan.max_flows, plan.records);
        pipeline.share_dns_cache(plan.dns.clone());
        pipeline.share_call_table(plan.calls.clone());
        pipeline.drive_expiry();
        Worker { index, pipeline, emit, seq: 0 }
    }

    #[inline]
    fn frame(&mut self, frame: &Frame<'_>, source: usize) {
        self.pipeline.process(frame, source);
        self.write_records();
    }

    #[inline]
    fn write_records(&mut self) {
        if self.pipeline.pending_records() >= RECORDS_PER_WRITE {
            self.emit_records();
        }
    }

    #[cold]
    #[inline(never)]
    fn emit_records(&mut self) {
        (self.emit)(Event::Records(self.pipeline.drain_records().collect()));
    }

    /// Does `op`; a frame's bytes are in `bytes`.
    fn apply(&mut self, op: Op, bytes: &[u8]) {
        match op {
            Op::AddSource(label) => {
                self.pipeline.add_source(&label);
            }
            Op::NameInterface { interface, name } => self.pipeline.name_interface(interface, name),
            Op::Frame { start, len, ts_ns, link, wire_len, interface, source } => {
                let frame = Frame { ts_ns, link, data: &bytes[start..start + len], wire_len, interface };
                self.frame(&frame, source);
            }
            Op::Expire(now_ns) => {
                self.pipeline.expire(now_ns);
                self.write_records();
            }
            Op::Snapshot { at_ns, now_ns, statuses } => {
                self.pipeline.advance_clock(now_ns);
                self.pipeline.flush();
                self.step(at_ns, statuses);
            }
            Op::Finish { end_ns, statuses } => {
                self.pipeline.finish();
                self.step(end_ns, statuses);
            }
        }
    }

    fn step(&mut self, at_ns: u64, statuses: Option<Vec<(String, InputStatus)>>) {
        let batch = Box::new(self.pipeline.take_batch());
        (self.emit)(Event::Step { seq: self.seq, at_ns, worker: self.index, batch, statuses });
        self.seq += 1;
    }

    /// Works through the batches of `lane` until the router closes it,
    /// handing each emptied batch back.
    pub fn run(&mut self, lane: Receiver<Batch>, back: &Sender<Batch>) {
        for mut batch in lane {
            let Batch { bytes, ops } = &mut batch;
            for op in ops.drain(..) {
                self.apply(op, bytes);
            }
            bytes.clear();
            let _ = back.send(batch);
        }
    }
}

/// One worker, on the router's thread.
pub struct Inline<'e> {
    pub worker: Worker<'e>,
}

impl Lanes for Inline<'_> {
    const ONE_WORKER: bool = true;

    #[inline]
    fn frame(&mut self, _worker: usize, frame: &Frame<'_>, source: usize) {
        self.worker.frame(frame, source);
    }

    fn each(&mut self, op: &mut dyn FnMut(usize) -> Op) {
        self.worker.apply(op(0), &[]);
    }

    fn note(&mut self, text: String) {
        (self.worker.emit)(Event::Note(text));
    }

    fn flush(&mut self) {}
}

/// Frames and events for one worker's thread, with the frames' bytes.
#[derive(Default)]
pub struct Batch {
    bytes: Vec<u8>,
    ops: Vec<Op>,
}

/// A worker's lane as the router sees it.
struct Lane {
    filling: Batch,
    to: SyncSender<Batch>,
    free: Receiver<Batch>,
    /// The worker stopped (a panic): its work is dropped.
    closed: bool,
}

/// Several workers, each on its own thread.
pub struct Threaded {
    lanes: Vec<Lane>,
    notes: SyncSender<Event>,
}

/// The worker's end of a lane: batches in, emptied batches back.
pub type LaneEnd = (Receiver<Batch>, Sender<Batch>);

impl Threaded {
    /// `workers` lanes, and the ends their workers' threads take.
    pub fn new(workers: usize, notes: SyncSender<Event>) -> (Threaded, Vec<LaneEnd>) {
        let mut lanes = Vec::with_capacity(workers);
        let mut ends = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (to, from_router) = mpsc::sync_channel(BATCHES_PER_WORKER);
            let (back, free) = mpsc::channel();
            for _ in 1..BATCHES_PER_WORKER {
                let _ = back.send(Batch::default());
            }
            lanes.push(Lane { filling: Batch::default(), to, free, closed: false });
            ends.push((from_router, back));
        }
        (Threaded { lanes, notes }, ends)
    }

    fn push(&mut self, worker: usize, op: Op) {
        let lane = &mut self.lanes[worker];
        lane.filling.ops.push(op);
        if lane.filling.ops.len() >= OPS_PER_BATCH || lane.filling.bytes.len() >= BYTES_PER_BATCH {
            send(lane);
        }
    }
}

/// Sends the batch being filled and takes an emptied one, waiting for the
/// worker if it has none to give back.
fn send(lane: &mut Lane) {
    if lane.filling.ops.is_empty() || lane.closed {
        lane.filling.ops.clear();
        lane.filling.bytes.clear();
        return;
    }
    // No batch comes back from a worker that stopped: a new one.
    let next = lane.free.recv().unwrap_or_default();
    let full = std::mem::replace(&mut lane.filling, next);
    lane.closed = lane.to.send(full).is_err();
}

impl Lanes for Threaded {
    #[inline]
    fn frame(&mut self, worker: usize, frame: &Frame<'_>, source: usize) {
        let bytes = &mut self.lanes[worker].filling.bytes;
        let start = bytes.len();
        bytes.extend_from_slice(frame.data);
        let op = Op::Frame {
            start,
            len: frame.data.len(),
            ts_ns: frame.ts_ns,
            link: frame.link,
            wire_len: frame.wire_len,
            interface: frame.interface,
            source,
        };
        self.push(worker, op);
    }

    fn each(&mut self, op: &mut dyn FnMut(usize) -> Op) {
        for worker in 0..self.lanes.len() {
            self.push(worker, op(worker));
        }
    }

    fn note(&mut self, text: String) {
        let _ = self.notes.send(Event::Note(text));
    }

    fn flush(&mut self) {
        self.lanes.iter_mut().for_each(send);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames more than a batch holds reach the worker's end whole and in
    /// order, each event on every lane, with a worker consuming meanwhile.
    #[test]
    fn frames_cross_batch_boundaries_whole_and_in_order() {
        let (notes, _) = mpsc::sync_channel(1);
        let (mut lanes, mut ends) = Threaded::new(2, notes);
        let frames = u32::try_from(3 * OPS_PER_BATCH + 17).unwrap();
        let consumers: Vec<_> = ends
            .drain(..)
            .map(|(from_router, back)| {
                std::thread::spawn(move || {
                    let mut seen = Vec::new();
                    for mut batch in from_router {
                        for op in batch.ops.drain(..) {
                            match op {
                                Op::Frame { start, len, ts_ns, wire_len, .. } => {
                                    seen.push((ts_ns, wire_len, batch.bytes[start..start + len].to_vec()));
                                }
                                Op::Expire(at) => seen.push((at, 0, b"expire".to_vec())),
                                _ => panic!("only frames and expiry were sent"),
                            }
                        }
                        batch.bytes.clear();
                        let _ = back.send(batch);
                    }
                    seen
                })
            })
            .collect();
        let mut expected = vec![Vec::new(), Vec::new()];
        for i in 0..frames {
            let data = vec![i.to_le_bytes()[0]; (i % 700) as usize];
            let worker = usize::from(i % 3 == 0);
            lanes.frame(
                worker,
                &Frame { ts_ns: u64::from(i), link: LinkType::Raw, data: &data, wire_len: i, interface: 0 },
                0,
            );
            expected[worker].push((u64::from(i), i, data));
            if i % 1000 == 999 {
                lanes.each(&mut |_| Op::Expire(u64::from(i)));
                for e in &mut expected {
                    e.push((u64::from(i), 0, b"expire".to_vec()));
                }
            }
        }
        lanes.flush();
        drop(lanes);
        let seen: Vec<_> = consumers.into_iter().map(|c| c.join().unwrap()).collect();
        assert_eq!(seen, expected);
    }
}
