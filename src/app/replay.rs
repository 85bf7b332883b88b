//! `vendorwatch replay INPUT...`: captures in, report, flow log and metrics out.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use anyhow::Context;

use vendorwatch::aggregate::{Aggregator, Policy};
use vendorwatch::classify::calls::CallTable;
use vendorwatch::classify::dns_cache::DnsCache;
use vendorwatch::export::flowlog::{FlowLog, FlowRecord};
use vendorwatch::export::hosts::host_records;
use vendorwatch::export::metrics::{Exposition, Format, Kind, write_counters};
use vendorwatch::export::openmetrics::History;
use vendorwatch::export::report::{InputError, Summary};
use vendorwatch::pipeline::{Batch, EXPIRY_INTERVAL_NS, FlowRecords, Pipeline, Rules};
use vendorwatch::source::clock::CaptureClock;
use vendorwatch::source::file::OpenError;
use vendorwatch::source::input::{self, Input, Origin};
use vendorwatch::source::{Frame, MAX_INTERFACE_NAMES, ReadError};

use super::lanes::{Inline, Lanes, Op, Threaded, Worker};
use super::reading;
use super::spread::{HeldFrame, Route, Spread};

pub struct ReplayOptions {
    /// Capture files, directories (read recursively) and `-` (standard input).
    pub files: Vec<PathBuf>,
    pub max_flows: usize,
    pub flows_out: Option<PathBuf>,
    /// One JSON line per device.
    pub devices_out: Option<PathBuf>,
    pub metrics_out: Option<PathBuf>,
    pub json: bool,
    pub strict: bool,
    /// A record stamped further than this from the capture clock is timed
    /// at the clock (see [`vendorwatch::source::clock`]).
    pub max_time_jump: Duration,
    /// One JSON line per segment host: the vendors and services it reached.
    pub hosts_out: Option<PathBuf>,
    /// The counters at every `step` of capture time, as OpenMetrics.
    pub openmetrics_out: Option<PathBuf>,
    pub step: Duration,
    /// Extra labels on every sample of `openmetrics_out` (`capture=monday`).
    pub labels: Vec<(String, String)>,
    /// `vendorwatch_hosts` in the history counts hosts seen within this
    /// window before each step, as the live sensor does.
    pub host_window: Duration,
    /// Threads the pipelines run on (see [`crate::app::spread`]).
    pub workers: usize,
    /// Whether to show a progress line on stderr (a terminal).
    pub progress: bool,
}

/// What happened to the inputs; decides the exit status.
#[derive(Debug, Default, Clone)]
pub struct ReplayOutcome {
    /// Inputs read with an error: cut short, or records skipped.
    pub truncated_files: usize,
    /// Inputs that could not be opened, or are not captures.
    pub unreadable_files: usize,
    /// Records timed at the capture clock instead of their own stamp.
    pub time_jumps: u64,
}

impl ReplayOutcome {
    /// Whether the run fails: always for an input that could not be read at
    /// all, with `--strict` also for any error in one that could.
    pub fn failed(&self, strict: bool) -> bool {
        self.unreadable_files > 0 || (strict && self.truncated_files > 0)
    }
}

/// Skipped records are each named on stderr up to this many per input;
/// the rest are summed up, so that a damaged file cannot flood the terminal.
const SKIPS_SHOWN: u64 = 10;

/// What reading one input gave, beyond its frames.
#[derive(Debug, Default, Clone)]
pub(super) struct InputStatus {
    /// By reason: records (or files) affected and the first message.
    errors: BTreeMap<&'static str, (u64, String)>,
    jumps: u64,
}

impl InputStatus {
    fn error(&mut self, reason: &'static str, message: String) {
        self.errors.entry(reason).or_insert((0, message)).0 += 1;
    }
}

/// What a worker tells the thread that writes the outputs.
pub(super) enum Event {
    /// A line for stderr (from the router, which reads the inputs).
    Note(String),
    /// Flow records, written to the flow log as they come.
    Records(Vec<FlowRecord>),
    /// The worker's counters up to a step boundary (`at_ns`, capture time),
    /// or, the last one, up to the end. `statuses`: the inputs so far (worker 0's step).
    /// The batch is boxed: unboxed it is a kilobyte, and so would be every
    /// `Records` message, while steps are rare (one a worker per step of
    /// capture time, and one at the end).
    Step { seq: u64, at_ns: u64, worker: usize, batch: Box<Batch>, statuses: Option<Vec<(String, InputStatus)>> },
}

/// How the replay ended, as the router saw it.
#[derive(Default)]
struct ReplayEnd {
    outcome: ReplayOutcome,
    statuses: Vec<(String, InputStatus)>,
    span: Option<(u64, u64)>,
}

/// Sees every frame of every input once, in order: keeps the capture
/// clock, the expiry schedule and the step boundaries for all workers (so
/// they are those of a single worker whatever the count), and hands each
/// frame to the worker [`Spread`] routes it to.
struct Router<'l, L: Lanes> {
    spread: Spread,
    lanes: &'l mut L,
    now_ns: u64,
    next_expiry_ns: u64,
    step_ns: Option<u64>,
    next_step_ns: Option<u64>,
    statuses: Vec<(String, InputStatus)>,
    /// The earliest and latest stamps handed on; `first_ns > last_ns` until a frame is.
    first_ns: u64,
    last_ns: u64,
    frames_seen: Arc<AtomicU64>,
    unreported_frames: u64,
}

/// Consecutive steps without a frame written in full: a longer pause in
/// the capture leaves a gap in the history (its series go stale) rather
/// than a flood of unchanged samples.
const MAX_EMPTY_STEPS: u64 = 60;

impl<L: Lanes> Router<'_, L> {
    #[inline]
    fn frame(&mut self, frame: &Frame<'_>, source: usize) {
        self.before(frame.ts_ns);
        self.route(frame, source);
        self.after(frame.ts_ns);
    }

    /// Whether a frame at `ts` crosses a step boundary.
    #[inline]
    fn step_due(&self, ts: u64) -> bool {
        self.step_ns.is_some() && self.next_step_ns.is_none_or(|next| ts >= next)
    }

    /// The step boundaries a frame at `ts` crosses, before it.
    #[inline]
    fn before(&mut self, ts: u64) {
        if self.step_due(ts) {
            self.cross_steps(ts);
        }
    }

    /// Once per step of capture time (and at the first frame): the steps
    /// `ts` is at or past are taken.
    #[cold]
    #[inline(never)]
    fn cross_steps(&mut self, ts: u64) {
        if let Some(step) = self.step_ns {
            let next = *self.next_step_ns.get_or_insert((ts / step).saturating_add(1).saturating_mul(step));
            if ts >= next {
                self.snapshot(next);
                let behind = (ts - next) / step;
                if behind > MAX_EMPTY_STEPS {
                    self.snapshot(next + behind * step);
                } else {
                    for k in 1..=behind {
                        self.snapshot(next + k * step);
                    }
                }
                self.next_step_ns = Some(next + (behind + 1) * step);
            }
        }
    }

    #[inline]
    fn route(&mut self, frame: &Frame<'_>, source: usize) {
        if L::ONE_WORKER {
            return self.lanes.frame(0, frame, source);
        }
        match self.spread.route(frame, source) {
            Route::To(worker) => self.lanes.frame(worker, frame, source),
            Route::Release(worker, frames) => self.hand_over(worker, &frames),
            Route::Held => {}
        }
    }

    /// The clock's events after a frame at `ts`: expiry, and the count.
    #[inline]
    fn after(&mut self, ts: u64) {
        self.now_ns = self.now_ns.max(ts);
        if self.now_ns >= self.next_expiry_ns {
            self.expire();
        }
        self.first_ns = self.first_ns.min(ts);
        self.last_ns = self.last_ns.max(ts);
        self.unreported_frames += 1;
        if self.unreported_frames == 4096 {
            self.frames_seen.fetch_add(self.unreported_frames, Ordering::Relaxed);
            self.unreported_frames = 0;
        }
    }

    /// Once per expiry interval of capture time: flows idle past their
    /// timeout end, and fragments held past theirs are given up.
    #[cold]
    #[inline(never)]
    fn expire(&mut self) {
        self.next_expiry_ns = self.now_ns.saturating_add(EXPIRY_INTERVAL_NS);
        let now_ns = self.now_ns;
        self.lanes.each(&mut |_| Op::Expire(now_ns));
        self.release(now_ns);
    }

    fn hand_over(&mut self, worker: usize, frames: &[HeldFrame]) {
        for f in frames {
            self.lanes.frame(worker, &f.frame(), f.source);
        }
    }

    /// Fragments the router gave up on go to their worker, whose
    /// defragmenter gives them up too.
    fn release(&mut self, now_ns: u64) {
        for (worker, frames) in self.spread.expire(now_ns) {
            self.hand_over(worker, &frames);
        }
    }

    /// Every worker hands over what its settled flows did up to `at_ns`.
    fn snapshot(&mut self, at_ns: u64) {
        let (statuses, now_ns) = (&self.statuses, self.now_ns);
        self.lanes.each(&mut |worker| Op::Snapshot {
            at_ns,
            now_ns,
            statuses: (worker == 0).then(|| statuses.clone()),
        });
    }

    fn note(&mut self, text: impl FnOnce() -> String) {
        self.lanes.note(text());
    }

    /// Every worker learns the name of the current input's `interface`
    /// before its first frame; `named` notes it was told.
    #[cold]
    fn name_interface(&mut self, interface: u32, name: Option<&Arc<str>>, named: &mut Vec<bool>) {
        let at = interface as usize;
        if named.len() <= at {
            named.resize(at + 1, false);
        }
        named[at] = true;
        self.lanes.each(&mut |_| Op::NameInterface { interface, name: name.cloned() });
    }
}

/// Whether the workers know the name of a frame's `interface` (or that it
/// has none); numbers beyond those whose names are kept go unnamed.
#[inline]
fn told(named: &[bool], interface: u32) -> bool {
    let at = interface as usize;
    at >= MAX_INTERFACE_NAMES || named.get(at).copied().unwrap_or(false)
}

/// What every worker needs to know.
pub(super) struct Plan {
    pub rules: Arc<Rules>,
    pub workers: usize,
    pub max_flows: usize,
    pub records: FlowRecords,
    step_ns: Option<u64>,
    max_time_jump: Duration,
    frames_seen: Arc<AtomicU64>,
    /// One DNS answer cache for all workers, bounded as one worker's, so
    /// that its contents and evictions do not depend on the worker count.
    pub dns: Arc<DnsCache>,
    /// One call table for all workers, for the same reason.
    pub calls: Arc<CallTable>,
    /// Whether inputs are read ahead on a thread of their own: only with a
    /// second core to run it on (on one, the thread would only take turns).
    read_ahead: bool,
}

/// How one input was read, beyond its frames.
#[derive(Default)]
struct InputRead {
    status: InputStatus,
    skipped: u64,
    frames: u64,
    followed: u64,
}

impl<'l, L: Lanes> Router<'l, L> {
    fn new(plan: &Plan, lanes: &'l mut L) -> Self {
        Router {
            spread: Spread::new(plan.workers),
            lanes,
            now_ns: 0,
            next_expiry_ns: 0,
            step_ns: plan.step_ns,
            next_step_ns: None,
            statuses: Vec::new(),
            first_ns: u64::MAX,
            last_ns: 0,
            frames_seen: plan.frames_seen.clone(),
            unreported_frames: 0,
        }
    }

    /// An input that gave no capture. Returns whether it is a source.
    fn unopened(&mut self, input: &Input, unopened: Unopened, outcome: &mut ReplayOutcome) -> bool {
        match unopened {
            Unopened::NotCapture => {
                self.note(|| format!("vendorwatch: {}: skipped, not a capture", input.display()));
                false
            }
            Unopened::Failed(message) => {
                self.note(|| format!("vendorwatch: {}: {message}", input.display()));
                let mut status = InputStatus::default();
                status.error("unreadable", message);
                outcome.unreadable_files += 1;
                self.lanes.each(&mut |_| Op::AddSource(input.label.clone()));
                self.statuses.push((input.label.clone(), status));
                true
            }
        }
    }

    fn skipped(&mut self, input: &Input, read: &mut InputRead, e: &ReadError) {
        read.skipped += 1;
        if read.skipped <= SKIPS_SHOWN {
            self.note(|| format!("vendorwatch: {}: {e}", input.display()));
        }
        read.status.error(e.reason(), e.to_string());
    }

    fn stopped(&mut self, input: &Input, read: &mut InputRead, e: &ReadError) {
        let frames = read.frames;
        self.note(|| format!("vendorwatch: {}: {e}; kept the {frames} frames read before it", input.display()));
        read.status.error(e.reason(), e.to_string());
    }

    /// What is left to say once an input is read.
    fn input_done(&mut self, plan: &Plan, input: &Input, mut read: InputRead, jumps: u64, outcome: &mut ReplayOutcome) {
        if read.skipped > SKIPS_SHOWN {
            let more = read.skipped - SKIPS_SHOWN;
            self.note(|| format!("vendorwatch: {}: {more} more records skipped", input.display()));
        }
        read.status.jumps = jumps;
        if jumps > 0 {
            self.note(|| {
                format!(
                    "vendorwatch: {}: {jumps} records stamped more than {} from the capture clock were timed at the clock",
                    input.display(),
                    humanize(plan.max_time_jump),
                )
            });
        }
        if read.followed > 0 {
            self.note(|| {
                format!(
                    "vendorwatch: {}: the capture's time jumps by more than {} {} times (the clock followed)",
                    input.display(),
                    humanize(plan.max_time_jump),
                    read.followed,
                )
            });
        }
        if !read.status.errors.is_empty() {
            outcome.truncated_files += 1;
        }
        outcome.time_jumps += jumps;
        self.statuses.push((input.label.clone(), read.status));
    }

    /// The end of the replay: held fragments go out, every worker finishes.
    fn finish(mut self, outcome: ReplayOutcome) -> ReplayEnd {
        for (worker, frames) in self.spread.drain() {
            self.hand_over(worker, &frames);
        }
        let end_ns = self.next_step_ns.unwrap_or(0);
        let statuses = &self.statuses;
        self.lanes.each(&mut |worker| Op::Finish { end_ns, statuses: (worker == 0).then(|| statuses.clone()) });
        self.lanes.flush();
        self.frames_seen.fetch_add(self.unreported_frames, Ordering::Relaxed);
        let span = (self.first_ns <= self.last_ns).then_some((self.first_ns, self.last_ns));
        ReplayEnd { outcome, statuses: std::mem::take(&mut self.statuses), span }
    }
}

/// Reads every input on this thread and routes its frames to the workers
/// behind `lanes` (one worker: no routing, no copies).
fn route_inputs<L: Lanes>(plan: &Plan, inputs: &[Input], bytes_read: &Arc<AtomicU64>, lanes: &mut L) -> ReplayEnd {
    let mut router = Router::new(plan, lanes);
    let mut outcome = ReplayOutcome::default();
    let mut sources = 0;
    for input in inputs {
        let mut reader = match reading::open(input, bytes_read, plan.read_ahead) {
            Ok(r) => r,
            Err(unopened) => {
                sources += usize::from(router.unopened(input, unopened, &mut outcome));
                continue;
            }
        };
        router.lanes.each(&mut |_| Op::AddSource(input.label.clone()));
        let source = sources;
        sources += 1;
        let mut clock = CaptureClock::new(plan.max_time_jump);
        let mut read = InputRead::default();
        // This input's interfaces whose names the workers were told.
        let mut named: Vec<bool> = Vec::new();
        loop {
            match reader.next_frame() {
                Ok(Some(frame)) if told(&named, frame.interface) => {
                    clock.place(&frame, &mut |f: &Frame<'_>, _| router.frame(f, source));
                    read.frames += 1;
                }
                Ok(Some(frame)) => {
                    // The first frame of an interface (rare): kept while the
                    // reader is asked for the interface's name.
                    let first = HeldFrame::of(&frame, source);
                    let name = reader.interface_name(first.interface).map(Arc::from);
                    router.name_interface(first.interface, name.as_ref(), &mut named);
                    clock.place(&first.frame(), &mut |f: &Frame<'_>, _| router.frame(f, source));
                    read.frames += 1;
                }
                Ok(None) => break,
                Err(e) if e.is_skip() => router.skipped(input, &mut read, &e),
                Err(e) => {
                    router.stopped(input, &mut read, &e);
                    break;
                }
            }
        }
        clock.finish(&mut |f: &Frame<'_>, _| router.frame(f, source));
        read.followed = clock.followed();
        router.input_done(plan, input, read, clock.jumps(), &mut outcome);
    }
    router.finish(outcome)
}

/// Merges the workers' steps in order and writes what they make.
struct Outputs {
    workers: usize,
    agg: Aggregator,
    pending: BTreeMap<u64, Vec<(u64, usize, Batch)>>,
    /// The inputs' statuses as of each pending step: worker 0 may be steps
    /// ahead of the others, and a step shows what was known at its time.
    pending_statuses: BTreeMap<u64, Vec<(String, InputStatus)>>,
    flow_log: Option<FlowLog>,
    history: Option<History>,
    host_window_ns: u64,
    walk_statuses: Vec<(String, InputStatus)>,
    statuses: Vec<(String, InputStatus)>,
    error: Option<anyhow::Error>,
    /// Which vendors are banned, applied when counts are written.
    policy: Policy,
}

impl Outputs {
    fn on(&mut self, event: Event, stderr: &mut dyn Write) {
        match event {
            Event::Note(text) => {
                let _ = writeln!(stderr, "{text}");
            }
            Event::Records(records) => self.write_records(&records),
            Event::Step { seq, at_ns, worker, batch, statuses } => {
                if let Some(statuses) = statuses {
                    self.pending_statuses.insert(seq, statuses);
                }
                let step = self.pending.entry(seq).or_default();
                step.push((at_ns, worker, *batch));
                if step.len() == self.workers {
                    if let Some(statuses) = self.pending_statuses.remove(&seq) {
                        self.statuses = statuses;
                    }
                    if let Some(step) = self.pending.remove(&seq) {
                        self.merge_step(step);
                    }
                }
            }
        }
    }

    fn write_records(&mut self, records: &[FlowRecord]) {
        if let Some(log) = self.flow_log.as_mut() {
            for r in records {
                log.write(r);
            }
        }
    }

    fn merge_step(&mut self, step: Vec<(u64, usize, Batch)>) {
        let at_ns = step.first().map_or(0, |(at, _, _)| *at);
        for (_, worker, batch) in step {
            self.write_records(&batch.records);
            self.agg.merge(batch.counts);
            self.agg.set_gauges(worker, batch.gauges);
        }
        if let Some(history) = self.history.as_mut() {
            let mut e = Exposition::new(Format::OpenMetrics);
            write_counters(&mut e, &self.agg, at_ns.saturating_sub(self.host_window_ns), &self.policy);
            let statuses: Vec<_> = self.walk_statuses.iter().chain(&self.statuses).cloned().collect();
            write_input_counters(&mut e, &statuses);
            if let Err(e) = history.snapshot(&e.finish(), at_ns) {
                self.error.get_or_insert(anyhow::anyhow!("cannot write the OpenMetrics history: {e}"));
            }
        }
    }
}

/// Shows bytes, frames, rate and time left on stderr while a replay runs.
struct Progress {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// A replay shorter than this prints no progress line.
const PROGRESS_AFTER: Duration = Duration::from_secs(3);

impl Progress {
    fn start(bytes: Arc<AtomicU64>, frames: Arc<AtomicU64>, total_bytes: Option<u64>) -> Progress {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::Builder::new()
            .name("progress".into())
            .spawn(move || {
                let started = Instant::now();
                let mut shown = false;
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(250));
                    let elapsed = started.elapsed();
                    if elapsed < PROGRESS_AFTER {
                        continue;
                    }
                    let read = bytes.load(Ordering::Relaxed);
                    let frames = frames.load(Ordering::Relaxed);
                    let rate = frames as f64 / elapsed.as_secs_f64();
                    let left = match total_bytes {
                        Some(total) if read > 0 && total >= read => {
                            let secs = elapsed.as_secs_f64() * (total - read) as f64 / read as f64;
                            // Whole seconds; an estimate past u64::MAX seconds shows as that.
                            let left =
                                Duration::try_from_secs_f64(secs.round()).unwrap_or(Duration::from_secs(u64::MAX));
                            format!(", {} left", humanize(left))
                        }
                        _ => String::new(),
                    };
                    let of = total_bytes.map(|t| format!(" of {} MiB", t >> 20)).unwrap_or_default();
                    eprint!(
                        "\r\x1b[Kvendorwatch: {} MiB{of} read, {frames} packets, {:.2} M packets/s{left}",
                        read >> 20,
                        rate / 1e6
                    );
                    shown = true;
                }
                if shown {
                    eprint!("\r\x1b[K");
                }
            })
            .ok();
        Progress { stop, thread }
    }

    fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The default `--workers`: one less than the cores this process may use,
/// at least one. The reading and decompressing run on a thread of their
/// own (read ahead), which keeps a core busy: on two vCPUs one worker and
/// the read-ahead thread replay the 800k-packet capture in 0.174 s, two
/// workers (with their router) in 0.267 s; two pay only on captures that
/// are mostly connection openings (BENCHMARKS.md, "Several workers").
pub fn available_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
}

/// Runs the replay, printing the report to `stdout` and problems to `stderr`.
pub fn run(
    rules: Rules,
    opts: &ReplayOptions,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> anyhow::Result<ReplayOutcome> {
    let flow_log = match &opts.flows_out {
        Some(path) => {
            let file = File::create(path).with_context(|| format!("cannot create flow log {}", path.display()))?;
            Some(FlowLog::new(Box::new(file)))
        }
        None => None,
    };
    let history = match &opts.openmetrics_out {
        Some(path) => Some(
            History::create(path, &opts.labels)
                .with_context(|| format!("cannot create OpenMetrics history {}", path.display()))?,
        ),
        None => None,
    };
    let records = if flow_log.is_some() { FlowRecords::All } else { FlowRecords::Off };
    let (inputs, walk_errors) = input::expand(&opts.files);
    let mut walk_statuses: Vec<(String, InputStatus)> = Vec::new();
    for e in walk_errors {
        writeln!(stderr, "vendorwatch: cannot read directory {}: {}", e.path.display(), e.error)?;
        let mut status = InputStatus::default();
        status.error("unreadable", format!("cannot read directory: {}", e.error));
        walk_statuses.push((e.path.display().to_string(), status));
    }
    // One router reads every input once (standard input can be read only once).
    let workers = opts.workers.max(1);
    let plan = Plan {
        rules: Arc::new(rules),
        workers,
        // The bound is the replay's, not each worker's.
        max_flows: (opts.max_flows / workers).max(1),
        records,
        step_ns: history.as_ref().map(|_| u64::try_from(opts.step.as_nanos()).unwrap_or(u64::MAX).max(1)),
        max_time_jump: opts.max_time_jump,
        frames_seen: Arc::new(AtomicU64::new(0)),
        dns: Pipeline::new_dns_cache(),
        calls: Pipeline::new_call_table(),
        read_ahead: std::thread::available_parallelism().is_ok_and(|cores| cores.get() > 1),
    };
    let mut outputs = Outputs {
        workers,
        agg: Aggregator::default(),
        pending: BTreeMap::new(),
        pending_statuses: BTreeMap::new(),
        flow_log,
        history,
        host_window_ns: u64::try_from(opts.host_window.as_nanos()).unwrap_or(u64::MAX),
        walk_statuses,
        statuses: Vec::new(),
        error: None,
        policy: Policy::of(&plan.rules),
    };
    let bytes_read = Arc::new(AtomicU64::new(0));
    let total_bytes = inputs
        .iter()
        .map(|i| match &i.origin {
            Origin::File { path, .. } => std::fs::metadata(path).ok().map(|m| m.len()),
            Origin::Stdin => None,
        })
        .sum::<Option<u64>>();
    let progress = opts.progress.then(|| Progress::start(bytes_read.clone(), plan.frames_seen.clone(), total_bytes));
    let end = if workers == 1 {
        let mut emit = |event| outputs.on(event, stderr);
        let mut lanes = Inline { worker: Worker::new(&plan, 0, &mut emit) };
        route_inputs(&plan, &inputs, &bytes_read, &mut lanes)
    } else {
        spread_over_workers(&plan, &inputs, &bytes_read, &mut outputs, stderr)?
    };
    if let Some(p) = progress {
        p.finish();
    }
    if let Some(e) = outputs.error.take() {
        return Err(e);
    }
    let mut outcome = end.outcome;
    outcome.unreadable_files += outputs.walk_statuses.len();
    let statuses: Vec<(String, InputStatus)> = outputs.walk_statuses.drain(..).chain(end.statuses).collect();
    if let Some(history) = outputs.history.take() {
        let path = opts.openmetrics_out.as_deref().unwrap_or(std::path::Path::new(""));
        history.finish().with_context(|| format!("cannot write OpenMetrics history {}", path.display()))?;
    }
    let mut agg = std::mem::take(&mut outputs.agg);
    agg.source_errors = (outcome.truncated_files + outcome.unreadable_files) as u64;
    if let Some(mut log) = outputs.flow_log.take() {
        log.finish().with_context(|| "cannot write the flow log")?;
    }
    write_end_files(opts, &agg, &statuses, &outputs.policy)?;
    let summary = summary(&agg, &outputs.policy, end.span, &statuses);
    if opts.json {
        serde_json::to_writer_pretty(&mut *stdout, &summary)?;
        writeln!(stdout)?;
    } else {
        write!(stdout, "{}", summary.to_table())?;
    }
    Ok(outcome)
}

/// The files written once the replay is over: `--metrics-out`,
/// `--devices-out` and `--hosts-out`.
fn write_end_files(
    opts: &ReplayOptions,
    agg: &Aggregator,
    statuses: &[(String, InputStatus)],
    policy: &Policy,
) -> anyhow::Result<()> {
    if let Some(path) = &opts.metrics_out {
        let mut e = Exposition::new(Format::Prometheus);
        write_counters(&mut e, agg, 0, policy);
        write_input_counters(&mut e, statuses);
        std::fs::write(path, e.finish()).with_context(|| format!("cannot write metrics to {}", path.display()))?;
    }
    if let Some(path) = &opts.devices_out {
        write_devices(path, agg).with_context(|| format!("cannot write devices to {}", path.display()))?;
    }
    if let Some(path) = &opts.hosts_out {
        write_hosts(path, agg).with_context(|| format!("cannot write hosts to {}", path.display()))?;
    }
    Ok(())
}

/// The report printed at the end: the counters, the capture's first and
/// last stamps, and each input's errors and time jumps.
fn summary(agg: &Aggregator, policy: &Policy, span: Option<(u64, u64)>, statuses: &[(String, InputStatus)]) -> Summary {
    let mut summary = Summary::from_aggregator(agg, 0, policy);
    summary.capture.first_packet = span.map(|(first, _)| first);
    summary.capture.last_packet = span.map(|(_, last)| last);
    for (label, status) in statuses {
        for (reason, (records, error)) in &status.errors {
            summary.capture.input_errors.push(InputError {
                source: label.clone(),
                reason,
                records: *records,
                error: error.clone(),
            });
        }
        if status.jumps > 0 {
            summary.capture.time_jumps.insert(label.clone(), status.jumps);
        }
    }
    summary
}

/// `--devices-out`: one JSON line per device, in key order.
fn write_devices(path: &std::path::Path, agg: &Aggregator) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(File::create(path)?);
    for (key, facts) in agg.devices.seen_since(0) {
        serde_json::to_writer(&mut out, &vendorwatch::hosts::record::DeviceRecord::new(key, facts))?;
        writeln!(out)?;
    }
    out.flush()
}

fn write_hosts(path: &std::path::Path, agg: &Aggregator) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(File::create(path)?);
    for record in host_records(agg, None, None) {
        serde_json::to_writer(&mut out, &record)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// Several workers: the router reads the inputs on its own thread and
/// hands each worker, on its own thread, its frames; this thread merges
/// their steps and writes the outputs.
fn spread_over_workers(
    plan: &Plan,
    inputs: &[Input],
    bytes_read: &Arc<AtomicU64>,
    outputs: &mut Outputs,
    stderr: &mut dyn Write,
) -> anyhow::Result<ReplayEnd> {
    let (events_tx, events) = mpsc::sync_channel::<Event>(4 * plan.workers);
    std::thread::scope(|scope| -> anyhow::Result<ReplayEnd> {
        // Inside the scope: should a thread not start, the lanes close and
        // the workers already started end.
        let (mut lanes, ends) = Threaded::new(plan.workers, events_tx.clone());
        let mut workers = Vec::new();
        for (index, (lane, back)) in ends.into_iter().enumerate() {
            let tx = events_tx.clone();
            let thread = std::thread::Builder::new()
                .name(format!("replay-{index}"))
                .spawn_scoped(scope, move || {
                    let mut emit = |event| {
                        let _ = tx.send(event);
                    };
                    Worker::new(plan, index, &mut emit).run(lane, &back);
                })
                .context("cannot start a replay worker")?;
            workers.push(thread);
        }
        drop(events_tx);
        let router = std::thread::Builder::new()
            .name("replay-router".into())
            .spawn_scoped(scope, move || route_inputs(plan, inputs, bytes_read, &mut lanes))
            .context("cannot start the replay router")?;
        for event in events {
            outputs.on(event, stderr);
        }
        for worker in workers {
            worker.join().map_err(|_| anyhow::anyhow!("a replay worker stopped with a panic"))?;
        }
        router.join().map_err(|_| anyhow::anyhow!("the replay router stopped with a panic"))
    })
}

pub(super) enum Unopened {
    /// A file met in a directory that holds no capture: passed over.
    NotCapture,
    Failed(String),
}

/// Whether an input that is no capture is passed over or an error.
pub(super) fn classify(input: &Input, e: &OpenError) -> Unopened {
    match (&input.origin, &e.source) {
        (Origin::File { in_directory: true, .. }, ReadError::UnknownFormat { .. }) => Unopened::NotCapture,
        _ => Unopened::Failed(format!("cannot read: {e}")),
    }
}

/// The replay's own counters, by input: what went wrong reading it, and
/// how many of its records the capture clock timed.
fn write_input_counters(e: &mut Exposition, statuses: &[(String, InputStatus)]) {
    e.family(
        "vendorwatch_capture_errors_total",
        Kind::Counter,
        "Capture inputs that could not be read, were cut short, or had records skipped, by source and reason.",
    );
    for (label, status) in statuses {
        for (reason, (records, _)) in &status.errors {
            e.sample("vendorwatch_capture_errors_total", &[("source", label), ("reason", reason)], *records as f64);
        }
    }
    e.family(
        "vendorwatch_capture_time_jumps_total",
        Kind::Counter,
        "Records stamped too far from the capture clock, timed at the clock instead, by source.",
    );
    for (label, status) in statuses {
        e.sample("vendorwatch_capture_time_jumps_total", &[("source", label)], status.jumps as f64);
    }
}

/// `1h`, `90s`, `1500ms`: the step as a person would write it.
fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    if d.subsec_nanos() != 0 {
        format!("{}ms", d.as_millis())
    } else if s % 3600 == 0 && s > 0 {
        format!("{}h", s / 3600)
    } else if s % 60 == 0 && s > 0 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}
