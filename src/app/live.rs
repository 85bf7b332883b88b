//! `vendorwatch live`: captures from interfaces (a mirror or SPAN port)
//! and serves metrics and the report over HTTP.
//!
//! Threads: one plain std thread per capture handle (`--workers` per
//! interface), each owning a [`Pipeline`]; one collector thread that owns
//! the merged counters; tokio, on the main thread, only for HTTP, signals
//! and timers. The packet path takes no lock and makes no allocation per
//! packet (the workers' shared DNS answer cache, which keeps counts
//! independent of `--workers`, takes a shard lock per new flow and per
//! vendor answer, not per packet): a worker meets the shared state between
//! batches (a rules generation number, an atomic load) and once per flush
//! interval, when it hands its counter deltas and flow records to the
//! collector through a bounded channel without waiting (a full channel leaves the batch with
//! the worker, folded into the next). The collector merges and publishes
//! a snapshot that scrapes render from; no capture thread ever waits for
//! a scrape, a reload or the collector.
//!
//! A reload is built on a thread of its own and swapped in whole: the
//! endpoints answer while it runs, and SIGTERM does not wait for it. A
//! capture handle that fails (its interface vanished or went down) is
//! closed and opened again with backoff; `/healthz` and
//! `vendorwatch_capture_up` say so meanwhile. The collector also writes
//! the flow log (`--flows-out`), reopened on SIGHUP for logrotate.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;

use vendorwatch::aggregate::{Aggregator, Policy};
use vendorwatch::classify::calls::CallTable;
use vendorwatch::classify::dns_cache::DnsCache;
use vendorwatch::export::flowlog::{FlowLog, FlowRecord};
use vendorwatch::export::metrics::{Exposition, Kind, write_counters};
use vendorwatch::flow::Timeouts;
use vendorwatch::pipeline::{Batch, FlowRecords, Pipeline, Rules};
use vendorwatch::source::live::{CaptureOptions, CaptureStats, DEFAULT_RING_BYTES, LiveCapture};

/// The default `--listen` address: loopback only, so exposing the sensor
/// is a deliberate choice.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9799";
/// How long an idle worker waits in `poll(2)` before looking at its stop
/// flag and timers: bounds shutdown and reload latency on a quiet link.
const IDLE_WAIT: Duration = Duration::from_millis(100);
/// Batches in flight per worker; past that a worker keeps its batch and
/// folds the next one into it.
const HANDOVERS_PER_WORKER: usize = 4;
/// How often the collector forgets hosts seen before the window.
const PRUNE_INTERVAL: Duration = Duration::from_secs(60);
/// Reopening a failed capture handle waits this long first, doubling up to
/// [`REOPEN_MAX_WAIT`] while the interface stays away.
const REOPEN_FIRST_WAIT: Duration = Duration::from_millis(100);
const REOPEN_MAX_WAIT: Duration = Duration::from_secs(5);
/// Flow records a worker keeps while the collector cannot take them, when
/// they go to the flow log (without it, `--recent-flows` is the bound).
const FLOW_LOG_HELD_RECORDS: usize = 1 << 16;

pub struct LiveOptions {
    pub interfaces: Vec<String>,
    pub config: Option<PathBuf>,
    pub signatures: Option<PathBuf>,
    pub listen: SocketAddr,
    pub bpf: Option<String>,
    /// Capture threads per interface.
    pub workers: usize,
    /// Flow-table bound for the whole sensor, shared out among workers.
    pub max_flows: usize,
    /// `vendorwatch_hosts` counts hosts seen within this window.
    pub host_window: Duration,
    /// Caps every idle timeout of the flow table.
    pub idle_timeout: Option<Duration>,
    /// How often workers hand their counters to the collector.
    pub flush_interval: Duration,
    /// Attributed flow records kept for `/api/flows`.
    pub recent_flows: usize,
    /// Writes every ended flow as a JSON line here (`-`: standard output).
    pub flows_out: Option<PathBuf>,
    /// Becomes this user once the interfaces and the listening socket are open.
    pub user: Option<String>,
    /// How the HTTP endpoint is served (TLS, auth, limits).
    pub web: super::web::WebOptions,
}

/// Kernel counters of one capture handle, published by its worker.
#[derive(Default)]
pub(crate) struct HandleStats {
    pub interface: String,
    pub received: AtomicU64,
    pub dropped: AtomicU64,
    pub if_dropped: AtomicU64,
    pub errors: AtomicU64,
    /// The handle is open and being read (false while it is reopened).
    pub capturing: AtomicBool,
}

/// The rules in force, and a generation number workers compare between
/// batches: a reload swaps the Arc under the mutex, then bumps the number.
pub(crate) struct RulesCell {
    generation: AtomicU64,
    current: Mutex<(Arc<Rules>, Arc<Policy>)>,
}

impl RulesCell {
    fn new(rules: Arc<Rules>) -> Self {
        let policy = Arc::new(Policy::of(&rules));
        RulesCell { generation: AtomicU64::new(0), current: Mutex::new((rules, policy)) }
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn current(&self) -> Arc<Rules> {
        lock(&self.current).0.clone()
    }

    /// The policy of the rules in force, for labelling counters.
    pub fn policy(&self) -> Arc<Policy> {
        lock(&self.current).1.clone()
    }

    fn replace(&self, rules: Arc<Rules>) {
        let policy = Arc::new(Policy::of(&rules));
        // The old rules are freed after the lock is released.
        let _old = std::mem::replace(&mut *lock(&self.current), (rules, policy));
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

#[derive(Debug, Default)]
pub(crate) struct ReloadState {
    pub failures: u64,
    pub last_success_s: f64,
    pub last_ok: bool,
}

/// Everything the HTTP side, the collector and the workers share.
pub(crate) struct Live {
    /// The merged counters as of the collector's last merge. Held only to
    /// swap or clone the pointer: a scrape renders its own reference.
    snapshot: Mutex<Arc<Aggregator>>,
    pub rules: RulesCell,
    pub reload: Mutex<ReloadState>,
    pub handles: Vec<HandleStats>,
    pub recent: RecentFlows,
    /// The workers' one DNS answer cache.
    dns: Arc<DnsCache>,
    /// The workers' one call table.
    calls: Arc<CallTable>,
    pub stop: AtomicBool,
    pub host_window: Duration,
    config: Option<PathBuf>,
    signatures: Option<PathBuf>,
    /// Held by the reload being built, so that reloads run one at a time;
    /// nothing else takes it.
    reloading: Mutex<()>,
    /// Set by SIGHUP; the collector reopens the flow log when it sees it.
    reopen_flow_log: AtomicBool,
    /// Flow records lost for the flow log: a worker's held batch was full,
    /// or the log could not be written. Only exported with a flow log.
    flow_log_lost: Option<AtomicU64>,
}

impl Live {
    fn new(rules: Rules, opts: &LiveOptions, handles: Vec<HandleStats>) -> Self {
        Live {
            snapshot: Mutex::new(Arc::default()),
            rules: RulesCell::new(Arc::new(rules)),
            reload: Mutex::new(ReloadState { failures: 0, last_success_s: unix_seconds(), last_ok: true }),
            handles,
            recent: RecentFlows::new(opts.recent_flows),
            dns: Pipeline::new_dns_cache(),
            calls: Pipeline::new_call_table(),
            stop: AtomicBool::new(false),
            host_window: opts.host_window,
            config: opts.config.clone(),
            signatures: opts.signatures.clone(),
            reloading: Mutex::new(()),
            reopen_flow_log: AtomicBool::new(false),
            flow_log_lost: opts.flows_out.as_ref().map(|_| AtomicU64::new(0)),
        }
    }

    /// The counters as last published by the collector.
    pub fn snapshot(&self) -> Arc<Aggregator> {
        lock(&self.snapshot).clone()
    }

    fn publish(&self, counters: Arc<Aggregator>) {
        // The old snapshot is freed after the lock is released.
        let _old = std::mem::replace(&mut *lock(&self.snapshot), counters);
    }

    /// Reloads config and signatures on the calling thread (a reload's
    /// own); on an error the running set stays. The new set is built
    /// holding no lock a scrape, a worker or the collector takes, then
    /// swapped in.
    pub fn reload(&self, why: &str) -> Result<String, String> {
        let _one_at_a_time = lock(&self.reloading);
        eprintln!("vendorwatch: reloading ({why})");
        let loaded = super::rules::load_rules(self.signatures.as_deref(), self.config.as_deref());
        match loaded {
            Ok(rules) => {
                let text = format!(
                    "reloaded ({why}): {} vendors, {} segments",
                    rules.signatures.vendors.len(),
                    segment_count(&rules)
                );
                self.rules.replace(Arc::new(rules));
                let mut state = lock(&self.reload);
                state.last_success_s = unix_seconds();
                state.last_ok = true;
                drop(state);
                eprintln!("vendorwatch: {text}");
                Ok(text)
            }
            Err(e) => {
                let mut state = lock(&self.reload);
                state.failures += 1;
                state.last_ok = false;
                drop(state);
                let text = format!("reload ({why}) failed, keeping the running rules: {e:#}");
                eprintln!("vendorwatch: {text}");
                Err(text)
            }
        }
    }

    /// Whether every capture handle is open and being read (`/healthz`).
    pub fn all_alive(&self) -> bool {
        self.handles.iter().all(|h| h.capturing.load(Ordering::Relaxed))
    }

    /// The aggregated counters, labelled by the policy in force now, and
    /// the live sensor's own families that come from them or the workers.
    pub fn write_counters(&self, e: &mut Exposition) {
        write_counters(e, &self.snapshot(), self.hosts_since_ns(), &self.rules.policy());
        e.family(
            "vendorwatch_capture_up",
            Kind::Gauge,
            "1 while every capture thread of the interface captures, 0 while one is not (reopening it).",
        );
        let mut interfaces: Vec<(&str, bool)> = Vec::new();
        for h in &self.handles {
            let up = h.capturing.load(Ordering::Relaxed);
            match interfaces.iter_mut().find(|(name, _)| *name == h.interface) {
                Some((_, all)) => *all &= up,
                None => interfaces.push((&h.interface, up)),
            }
        }
        for (interface, up) in interfaces {
            e.sample("vendorwatch_capture_up", &[("interface", interface)], if up { 1.0 } else { 0.0 });
        }
        if let Some(lost) = &self.flow_log_lost {
            e.family(
                "vendorwatch_flow_log_records_lost_total",
                Kind::Counter,
                "Flow records the flow log (--flows-out) did not get: held past the bound, or not writable.",
            );
            e.sample("vendorwatch_flow_log_records_lost_total", &[], lost.load(Ordering::Relaxed) as f64);
        }
    }

    fn lost_flow_records(&self, n: u64) {
        if let (Some(lost), 1..) = (&self.flow_log_lost, n) {
            lost.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// The oldest host timestamp that still counts for `vendorwatch_hosts`.
    pub fn hosts_since_ns(&self) -> u64 {
        unix_ns().saturating_sub(u64::try_from(self.host_window.as_nanos()).unwrap_or(u64::MAX))
    }
}

fn segment_count(rules: &Rules) -> usize {
    rules.config.segments.configured_names().count()
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn unix_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

pub(crate) fn unix_seconds() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// Runs the sensor until SIGTERM or SIGINT.
pub fn run(rules: Rules, opts: &LiveOptions) -> anyhow::Result<()> {
    anyhow::ensure!(!opts.interfaces.is_empty(), "no --interface given");
    let workers = opts.workers.max(1);

    // Open every handle before serving, so /healthz means "capturing".
    let mut captures = Vec::new();
    let mut handles = Vec::new();
    let base_group = ((std::process::id() & 0xffff) as u16).wrapping_mul(16);
    for (index, interface) in opts.interfaces.iter().enumerate() {
        let number = u32::try_from(index).context("more interfaces than a capture can number")?;
        let fanout_group = (workers > 1).then(|| base_group.wrapping_add((number & 0xffff) as u16));
        let copts = CaptureOptions {
            interface: interface.clone(),
            bpf: opts.bpf.clone(),
            fanout_group,
            ring_bytes: DEFAULT_RING_BYTES,
        };
        for _ in 0..workers {
            captures.push((LiveCapture::open(&copts, number)?, copts.clone(), number));
            handles.push(HandleStats {
                interface: interface.clone(),
                capturing: AtomicBool::new(true),
                ..HandleStats::default()
            });
        }
    }
    let listener =
        std::net::TcpListener::bind(opts.listen).with_context(|| format!("cannot listen on {}", opts.listen))?;
    listener.set_nonblocking(true).context("cannot make the listening socket non-blocking")?;
    // Still the only thread: the new user and its one capability hold for
    // every thread started from here on.
    if let Some(user) = &opts.user {
        let who = vendorwatch::source::live::drop_privileges(user)?;
        eprintln!("vendorwatch: running as {user} (uid {}, gid {}) with CAP_NET_RAW only", who.uid, who.gid);
    }
    let flow_log = match &opts.flows_out {
        Some(path) => Some(FlowLogFile::open(path.clone())?),
        None => None,
    };

    let live = Arc::new(Live::new(rules, opts, handles));
    let (handover, batches) = mpsc::sync_channel(HANDOVERS_PER_WORKER * captures.len());
    let collector = Collector::spawn(live.clone(), batches, flow_log)?;

    let mut timeouts = Timeouts::default();
    if let Some(cap) = opts.idle_timeout {
        let cap = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX).max(1);
        for t in [
            &mut timeouts.tcp_opening,
            &mut timeouts.tcp_established,
            &mut timeouts.tcp_closed,
            &mut timeouts.udp,
            &mut timeouts.other,
        ] {
            *t = (*t).min(cap);
        }
    }
    let per_worker_flows = (opts.max_flows / captures.len()).max(1);
    let (records, max_records) = match opts.flows_out {
        Some(_) => (FlowRecords::All, FLOW_LOG_HELD_RECORDS.max(opts.recent_flows)),
        None => (FlowRecords::Attributed, opts.recent_flows),
    };
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    for (slot, (capture, copts, index)) in captures.into_iter().enumerate() {
        let worker = Worker {
            live: live.clone(),
            link: WorkerLink::new(live.clone(), slot, handover.clone(), max_records),
            slot,
            capture_options: copts,
            interface_index: index,
            interface_names: opts.interfaces.clone(),
            max_flows: per_worker_flows,
            timeouts,
            flush_interval: opts.flush_interval,
            records,
            banked: CaptureStats::default(),
        };
        let name = format!("capture-{}-{slot}", opts.interfaces[index as usize]);
        threads.push(
            std::thread::Builder::new()
                .name(name)
                .spawn(move || worker.run(capture))
                .context("cannot start a capture thread")?,
        );
    }

    // The workers hold the only senders: the collector ends after them.
    drop(handover);

    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start the HTTP runtime")?;
    let served = runtime.block_on(serve(live.clone(), listener, &opts.interfaces, workers, &opts.web));
    live.stop.store(true, Ordering::Release);
    // A reload requested over HTTP may still be building on the blocking
    // pool: the sensor stops without waiting for it.
    runtime.shutdown_background();
    for t in threads {
        let _ = t.join();
    }
    let _ = collector.join();
    served
}

async fn serve(
    live: Arc<Live>,
    listener: std::net::TcpListener,
    interfaces: &[String],
    workers: usize,
    web: &super::web::WebOptions,
) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};

    let listen = listener.local_addr().context("the listening socket has no address")?;
    let listener = tokio::net::TcpListener::from_std(listener).context("cannot serve on the listening socket")?;
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut hup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
    let address = listener.local_addr().unwrap_or(listen);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = super::web::spawn(listener, live.clone(), web, stop_rx)?;
    eprintln!(
        "vendorwatch: capturing on {} ({workers} worker{} each), serving {}://{address}/metrics",
        interfaces.join(", "),
        if workers == 1 { "" } else { "s" },
        server.scheme
    );
    let server = server.task;

    let why = loop {
        tokio::select! {
            _ = term.recv() => break "SIGTERM",
            _ = int.recv() => break "SIGINT",
            _ = hup.recv() => {
                live.reopen_flow_log.store(true, Ordering::Release);
                // Built on a thread of its own, not awaited: signals and
                // requests are answered while it runs, and a stop does not
                // wait for it.
                let reloader = live.clone();
                let spawned = std::thread::Builder::new()
                    .name("reload".into())
                    .spawn(move || reloader.reload("SIGHUP"));
                if let Err(e) = spawned {
                    eprintln!("vendorwatch: cannot start a reload: {e}");
                }
            }
        }
    };
    eprintln!("vendorwatch: {why}, stopping");
    live.stop.store(true, Ordering::Release);
    let _ = stop_tx.send(true);
    // Open keep-alive connections (a scraper's) would hold a graceful
    // shutdown forever: give requests in flight a moment, no more.
    let _ = tokio::time::timeout(Duration::from_millis(500), server).await;
    Ok(())
}

/// The flow log of `--flows-out`: a file opened for appending (reopened on
/// SIGHUP, after logrotate moved it) or standard output.
struct FlowLogFile {
    /// None for standard output.
    path: Option<PathBuf>,
    log: FlowLog,
    /// Records the current log had lost when last looked at.
    lost_seen: u64,
}

impl FlowLogFile {
    fn open(path: PathBuf) -> anyhow::Result<FlowLogFile> {
        if path.as_os_str() == "-" {
            return Ok(FlowLogFile { path: None, log: FlowLog::new(Box::new(std::io::stdout())), lost_seen: 0 });
        }
        let file = Self::append(&path)?;
        Ok(FlowLogFile { path: Some(path), log: FlowLog::new(Box::new(file)), lost_seen: 0 })
    }

    fn append(path: &std::path::Path) -> anyhow::Result<std::fs::File> {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open flow log {}", path.display()))
    }

    /// Closes the log and opens its path again; keeps the old file if that
    /// fails.
    fn reopen(&mut self, live: &Live) {
        let Some(path) = self.path.clone() else { return };
        self.flush(live);
        match Self::append(&path) {
            Ok(file) => {
                let mut old = std::mem::replace(&mut self.log, FlowLog::new(Box::new(file)));
                let _ = old.finish();
                self.lost_seen = 0;
            }
            Err(e) => eprintln!("vendorwatch: {e:#}; writing on to the file as it was open"),
        }
    }

    /// Hands the buffered lines to the file; says once that the log broke,
    /// and counts what it loses.
    fn flush(&mut self, live: &Live) {
        let first_error = self.log.lost() == 0;
        if let Some(e) = self.log.flush() {
            if first_error {
                eprintln!("vendorwatch: cannot write the flow log: {e}; records are lost until a reopen (SIGHUP)");
            }
        }
        let lost = self.log.lost();
        live.lost_flow_records(lost - self.lost_seen);
        self.lost_seen = lost;
    }
}

/// Merges the workers' batches off the capture threads and publishes the
/// result for scrapes; owns the merged counters and the flow log.
struct Collector {
    live: Arc<Live>,
    merged: Aggregator,
    batches: Receiver<Handover>,
    flow_log: Option<FlowLogFile>,
}

/// One worker's batch, as sent to the collector.
struct Handover {
    worker: usize,
    batch: Batch,
}

impl Collector {
    fn spawn(
        live: Arc<Live>,
        batches: Receiver<Handover>,
        flow_log: Option<FlowLogFile>,
    ) -> anyhow::Result<JoinHandle<()>> {
        let collector = Collector { live, merged: Aggregator::default(), batches, flow_log };
        std::thread::Builder::new()
            .name("collector".into())
            .spawn(move || collector.run())
            .context("cannot start the collector thread")
    }

    /// Runs until every worker has dropped its sender.
    fn run(mut self) {
        let mut next_prune = Instant::now() + PRUNE_INTERVAL;
        loop {
            match self.batches.recv_timeout(next_prune.saturating_duration_since(Instant::now())) {
                Ok(first) => {
                    self.absorb(first);
                    // Whatever else is waiting goes into the same snapshot.
                    while let Ok(next) = self.batches.try_recv() {
                        self.absorb(next);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if Instant::now() >= next_prune {
                next_prune = Instant::now() + PRUNE_INTERVAL;
                self.merged.prune_hosts(self.live.hosts_since_ns());
            }
            self.live.publish(Arc::new(self.merged.clone()));
            if let Some(log) = &mut self.flow_log {
                if self.live.reopen_flow_log.swap(false, Ordering::AcqRel) {
                    log.reopen(&self.live);
                } else {
                    log.flush(&self.live);
                }
            }
        }
        if let Some(log) = &mut self.flow_log {
            log.flush(&self.live);
        }
    }

    fn absorb(&mut self, Handover { worker, batch }: Handover) {
        self.merged.merge(batch.counts);
        self.merged.set_gauges(worker, batch.gauges);
        let mut records = batch.records;
        if let Some(log) = &mut self.flow_log {
            // The log has each flow once, when it ends; /api/flows also the
            // attributed ones still running.
            for r in records.iter().filter(|r| r.end_reason != "active") {
                log.log.write(r);
            }
            records.retain(|r| r.vendor.is_some());
        }
        self.live.recent.extend(records);
    }
}

/// A worker's side of the shared state, met between batches of frames:
/// the rules generation, and the channel to the collector.
struct WorkerLink {
    live: Arc<Live>,
    worker: usize,
    generation: u64,
    handover: SyncSender<Handover>,
    /// A batch the collector had no room for yet; the next folds into it.
    held: Option<Batch>,
    /// Records a held batch keeps (the newest).
    max_records: usize,
}

impl WorkerLink {
    fn new(live: Arc<Live>, worker: usize, handover: SyncSender<Handover>, max_records: usize) -> Self {
        let generation = live.rules.generation();
        WorkerLink { live, worker, generation, handover, held: None, max_records }
    }

    /// Takes new rules if a reload happened since the last look.
    fn follow_rules(&mut self, pipeline: &mut Pipeline) {
        let g = self.live.rules.generation();
        if g != self.generation {
            self.generation = g;
            pipeline.set_rules(self.live.rules.current());
        }
    }

    /// Flushes the pipeline and hands its batch to the collector; never
    /// waits: with the channel full the batch stays here for the next time.
    fn hand_over(&mut self, pipeline: &mut Pipeline) {
        pipeline.flush();
        let mut batch = pipeline.take_batch();
        if let Some(mut held) = self.held.take() {
            let over = (held.records.len() + batch.records.len()).saturating_sub(self.max_records);
            self.live.lost_flow_records(over as u64);
            held.absorb(batch, self.max_records);
            batch = held;
        }
        // Disconnected: the collector is gone only when the sensor stops.
        if let Err(TrySendError::Full(h)) = self.handover.try_send(Handover { worker: self.worker, batch }) {
            self.held = Some(h.batch);
        }
    }
}

struct Worker {
    live: Arc<Live>,
    link: WorkerLink,
    slot: usize,
    /// How the handle was opened, to open it again after a failure.
    capture_options: CaptureOptions,
    interface_index: u32,
    interface_names: Vec<String>,
    max_flows: usize,
    timeouts: Timeouts,
    flush_interval: Duration,
    records: FlowRecords,
    /// The kernel's counters of the handles closed before the current one.
    banked: CaptureStats,
}

impl Worker {
    fn run(mut self, capture: LiveCapture) {
        let live = self.live.clone();
        let stats = &live.handles[self.slot];
        // Rules read after the link's generation: a reload in between is
        // picked up at the next check and applied again, which is harmless.
        let mut pipeline = Pipeline::with_timeouts(live.rules.current(), self.max_flows, self.timeouts, self.records);
        pipeline.share_dns_cache(live.dns.clone());
        pipeline.share_call_table(live.calls.clone());
        pipeline.set_interface_names(self.interface_names.clone());
        let interface = self.interface_names[self.interface_index as usize].clone();
        let source = pipeline.add_source(&interface);
        let mut capture = Some(capture);
        let mut next_flush = Instant::now() + self.flush_interval;
        let mut reopen = Reopen::default();
        while !live.stop.load(Ordering::Acquire) {
            match &mut capture {
                Some(handle) => {
                    if let Err(e) = handle.dispatch(IDLE_WAIT, |frame| pipeline.process(frame, source)) {
                        // Whatever failed (the interface vanished or went
                        // down), a new handle is the way back.
                        stats.errors.fetch_add(1, Ordering::Relaxed);
                        stats.capturing.store(false, Ordering::Relaxed);
                        eprintln!("vendorwatch: capture error on {interface}: {e}; reopening it");
                        self.bank(handle);
                        capture = None;
                        reopen.failed();
                    }
                }
                None if reopen.due() => match LiveCapture::open(&self.capture_options, self.interface_index) {
                    Ok(handle) => {
                        eprintln!("vendorwatch: capturing on {interface} again");
                        capture = Some(handle);
                        stats.capturing.store(true, Ordering::Relaxed);
                        reopen = Reopen::default();
                    }
                    Err(e) => {
                        if reopen.should_log() {
                            eprintln!("vendorwatch: {e:#}; retrying every {REOPEN_MAX_WAIT:?} at most");
                        }
                        reopen.failed();
                    }
                },
                None => std::thread::sleep(reopen.wait().min(IDLE_WAIT)),
            }
            self.link.follow_rules(&mut pipeline);
            let now = Instant::now();
            if now >= next_flush {
                next_flush = now + self.flush_interval;
                pipeline.tick(unix_ns());
                self.link.hand_over(&mut pipeline);
                self.publish(capture.as_mut());
            }
        }
        // No pipeline.finish(): the counts die with the process anyway, and
        // ending a full table of flows could outlast the 2 s stop bound.
        self.publish(capture.as_mut());
        stats.capturing.store(false, Ordering::Relaxed);
    }

    /// Keeps a closing handle's counters, so the exported ones never go back.
    fn bank(&mut self, capture: &mut LiveCapture) {
        if let Ok(s) = capture.stats() {
            self.banked.received += s.received;
            self.banked.dropped += s.dropped;
            self.banked.if_dropped += s.if_dropped;
        }
    }

    fn publish(&self, capture: Option<&mut LiveCapture>) {
        let stats = &self.live.handles[self.slot];
        let now = capture.and_then(|c| c.stats().ok()).unwrap_or_default();
        stats.received.store(self.banked.received + now.received, Ordering::Relaxed);
        stats.dropped.store(self.banked.dropped + now.dropped, Ordering::Relaxed);
        stats.if_dropped.store(self.banked.if_dropped + now.if_dropped, Ordering::Relaxed);
    }
}

/// When to try opening a failed capture handle again: soon at first, then
/// backing off while the interface stays away.
#[derive(Debug, Default)]
struct Reopen {
    attempts: u32,
    next: Option<Instant>,
}

impl Reopen {
    fn failed(&mut self) {
        let wait = REOPEN_FIRST_WAIT.saturating_mul(1 << self.attempts.min(16)).min(REOPEN_MAX_WAIT);
        self.attempts += 1;
        self.next = Some(Instant::now() + wait);
    }

    fn due(&self) -> bool {
        self.next.is_none_or(|t| Instant::now() >= t)
    }

    fn wait(&self) -> Duration {
        self.next.map_or(Duration::ZERO, |t| t.saturating_duration_since(Instant::now()))
    }

    /// The first failures, then one in ten: a long absence is not a flood.
    fn should_log(&self) -> bool {
        self.attempts < 3 || self.attempts % 10 == 0
    }
}

/// The last attributed flow records (finished, or still running and
/// counted at a flush), newest last. A running flow's newer record
/// replaces its older one.
pub(crate) struct RecentFlows {
    capacity: usize,
    inner: Mutex<RecentInner>,
}

#[derive(Default)]
struct RecentInner {
    seq: u64,
    entries: VecDeque<(u64, Arc<FlowRecord>)>,
    /// Flow identity -> sequence number of its newest entry.
    latest: HashMap<FlowId, u64>,
}

/// What makes two records the same flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FlowId {
    protocol: u8,
    client: IpAddr,
    client_port: u16,
    server: IpAddr,
    server_port: u16,
    first_seen_ns: u64,
}

impl FlowId {
    fn of(r: &FlowRecord) -> Self {
        FlowId {
            protocol: r.protocol_number,
            client: r.client,
            client_port: r.client_port,
            server: r.server,
            server_port: r.server_port,
            first_seen_ns: r.first_seen_ns,
        }
    }
}

impl RecentFlows {
    fn new(capacity: usize) -> Self {
        RecentFlows { capacity: capacity.max(1), inner: Mutex::new(RecentInner::default()) }
    }

    /// Adds a batch of records, oldest first, under one lock.
    fn extend(&self, records: Vec<FlowRecord>) {
        if records.is_empty() {
            return;
        }
        let mut inner = lock(&self.inner);
        for record in records {
            inner.seq += 1;
            let seq = inner.seq;
            inner.latest.insert(FlowId::of(&record), seq);
            inner.entries.push_back((seq, Arc::new(record)));
        }
        while inner.entries.len() > self.capacity {
            if let Some((seq, record)) = inner.entries.pop_front() {
                let id = FlowId::of(&record);
                if inner.latest.get(&id) == Some(&seq) {
                    inner.latest.remove(&id);
                }
            }
        }
    }

    /// Newest first, filtered by exact vendor and segment.
    pub fn query(&self, vendor: Option<&str>, segment: Option<&str>, limit: usize) -> Vec<Arc<FlowRecord>> {
        let inner = lock(&self.inner);
        inner
            .entries
            .iter()
            .rev()
            .filter(|(seq, r)| inner.latest.get(&FlowId::of(r)) == Some(seq))
            .filter(|(_, r)| {
                vendor.is_none_or(|v| r.vendor.as_deref() == Some(v)) && segment.is_none_or(|s| &*r.segment == s)
            })
            .take(limit)
            .map(|(_, r)| r.clone())
            .collect()
    }
}

/// Parses `500ms`, `30s`, `15m`, `2h`, `1d` (a bare number is seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let value: f64 = number.parse().map_err(|_| format!("{s:?} is not a duration (like 500ms, 30s, 15m, 2h)"))?;
    let scale = match unit {
        "ms" => 0.001,
        "" | "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (ms, s, m, h, d)")),
    };
    Duration::try_from_secs_f64(value * scale).map_err(|e| format!("{s:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }

    fn record(port: u16, vendor: &str, packets: u64) -> FlowRecord {
        FlowRecord {
            proto: "tcp",
            protocol_number: 6,
            client: "10.0.0.1".parse().unwrap(),
            client_port: port,
            server: "17.0.0.1".parse().unwrap(),
            server_port: 443,
            vlan: None,
            vlans: Box::default(),
            encap: None,
            encap_id: None,
            interface: 0,
            interface_name: None,
            community_id: None,
            segment: Arc::from("hq"),
            vendor: Some(vendor.into()),
            service: Some("web".into()),
            banned: false,
            evidence: Some("tls_sni"),
            name: None,
            server_name: None,
            query_vendor: None,
            query_name: None,
            alpn: None,
            user_agent: None,
            stun_software: None,
            signature: None,
            ech: false,
            ech_config: false,
            encrypted_dns: None,
            packets,
            bytes: 0,
            packets_from_client: packets,
            packets_to_client: 0,
            bytes_from_client: 0,
            bytes_to_client: 0,
            first_seen_ns: 1,
            last_seen_ns: 2,
            end_reason: "active",
        }
    }

    #[test]
    fn recent_flows_keep_the_newest_record_per_flow_and_filter() {
        let ring = RecentFlows::new(3);
        ring.extend(vec![record(1, "apple", 1), record(2, "huawei", 1)]);
        ring.extend(vec![record(1, "apple", 5)]);
        let all = ring.query(None, None, 10);
        assert_eq!(all.len(), 2, "the older record of port 1 is superseded: {all:?}");
        assert_eq!(all[0].packets, 5);
        assert_eq!(ring.query(Some("huawei"), Some("hq"), 10).len(), 1);
        assert_eq!(ring.query(Some("huawei"), Some("lab"), 10).len(), 0);
        ring.extend((3..10).map(|port| record(port, "apple", 1)).collect());
        assert_eq!(ring.query(None, None, 10).len(), 3, "bounded");
    }

    use synth::app;
    use synth::conv::{Capture, Path, TcpSession};
    use vendorwatch::classify::signatures::SignatureSet;
    use vendorwatch::export::metrics::Format;
    use vendorwatch::segment::Config;
    use vendorwatch::source::{Frame, LinkType};

    fn rules() -> Rules {
        Rules::new(SignatureSet::embedded(), Config::default_auto()).unwrap()
    }

    fn live() -> Arc<Live> {
        let opts = LiveOptions {
            interfaces: vec!["test".into()],
            config: None,
            signatures: None,
            listen: DEFAULT_LISTEN.parse().unwrap(),
            bpf: None,
            workers: 1,
            max_flows: 1024,
            host_window: Duration::from_secs(900),
            idle_timeout: None,
            flush_interval: Duration::from_secs(1),
            recent_flows: 1000,
            flows_out: None,
            user: None,
            web: crate::app::web::WebOptions::default(),
        };
        Arc::new(Live::new(rules(), &opts, Vec::new()))
    }

    /// Attributed and unattributed TLS flows from a few hosts, stamped a
    /// minute ago (inside the hosts window).
    fn traffic() -> Capture {
        let mut cap = Capture::new(unix_ns() - 60_000_000_000, 1_000_000);
        for (i, sni) in ["www.tiktok.com", "www.example.org"].iter().cycle().take(40).enumerate() {
            let client = format!("10.1.0.{}:{}", 2 + i % 5, 50_000 + i);
            let mut s = TcpSession::new(Path::new(&client, "192.0.2.80:443"), 1, 1);
            s.handshake(&mut cap);
            s.client_write(&mut cap, &app::tls_client_hello(&app::Hello::sni(sni)));
        }
        cap
    }

    fn frames(cap: &Capture) -> impl Iterator<Item = Frame<'_>> {
        cap.records().iter().map(|r| Frame {
            ts_ns: r.ts_ns,
            link: LinkType::Ethernet,
            data: &r.data,
            wire_len: u32::try_from(r.data.len()).unwrap(),
            interface: 0,
        })
    }

    /// The counters one pipeline makes of `cap` on its own, rendered.
    fn reference(cap: &Capture) -> String {
        let mut pipeline = Pipeline::new(Arc::new(rules()), 1024, FlowRecords::Off);
        let source = pipeline.add_source("test");
        frames(cap).for_each(|f| pipeline.process(&f, source));
        pipeline.finish();
        let batch = pipeline.take_batch();
        let mut agg = batch.counts;
        agg.set_gauges(0, batch.gauges);
        let mut e = Exposition::new(Format::Prometheus);
        write_counters(&mut e, &agg, 0, &Policy::of(&rules()));
        e.finish()
    }

    /// The Done-when of issue 7: a scrape and a reload while a worker
    /// captures stall no worker. The test holds every lock a scrape
    /// (snapshot, /api/flows ring) or a reload (its state) takes, and swaps
    /// the rules halfway, while a worker processes frames and hands over
    /// batch after batch; the worker must get to its end regardless.
    #[test]
    fn a_scrape_and_a_reload_during_capture_stall_no_worker() {
        let live = live();
        let cap = traffic();
        let frames_sent = cap.clone();
        let (handover, batches) = mpsc::sync_channel(HANDOVERS_PER_WORKER);
        let collector = Collector::spawn(live.clone(), batches, None).unwrap();
        let (halfway_tx, halfway_rx) = mpsc::channel();
        let (reloaded_tx, reloaded_rx) = mpsc::channel::<()>();
        let (done_tx, done_rx) = mpsc::channel();

        let scrape = lock(&live.snapshot);
        let flows_read = lock(&live.recent.inner);
        let reload = lock(&live.reload);
        let worker = {
            let live = live.clone();
            let cap = frames_sent;
            std::thread::spawn(move || {
                let mut link = WorkerLink::new(live.clone(), 0, handover, 1000);
                let mut pipeline = Pipeline::new(live.rules.current(), 1024, FlowRecords::Attributed);
                let source = pipeline.add_source("test");
                let half = cap.records().len() / 2;
                for (i, frame) in frames(&cap).enumerate() {
                    pipeline.process(&frame, source);
                    if i == half {
                        halfway_tx.send(()).unwrap();
                        reloaded_rx.recv().unwrap();
                    }
                    if i % 8 == 0 {
                        link.follow_rules(&mut pipeline);
                        link.hand_over(&mut pipeline);
                    }
                }
                pipeline.finish();
                link.hand_over(&mut pipeline);
                let held = link.held.is_some();
                done_tx.send(()).unwrap();
                // The rest only delivers what the stalled collector could
                // not take, once the test lets it go.
                if let Some(batch) = link.held.take() {
                    link.handover.send(Handover { worker: 0, batch }).unwrap();
                }
                (held, link.generation)
            })
        };
        halfway_rx.recv().unwrap();
        // A reload lands while the worker is mid-capture (and while the
        // reload lock is held, as during a real one).
        live.rules.replace(Arc::new(rules()));
        reloaded_tx.send(()).unwrap();
        // A generous bound, only so that a stall fails rather than hangs.
        let finished = done_rx.recv_timeout(Duration::from_secs(120));
        drop((scrape, flows_read, reload));
        assert!(finished.is_ok(), "the worker stalled behind a scrape, an /api/flows read or a reload");
        let (held, generation) = worker.join().unwrap();
        assert!(held, "the collector was stalled: the worker kept its last batch instead of waiting");
        assert_eq!(generation, live.rules.generation(), "the worker took the reloaded rules");
        collector.join().unwrap();

        // Nothing was lost on the way: the published counters render as one
        // pipeline's do, and /api/flows has every attributed flow.
        let text = crate::app::http::exposition(&live, Format::Prometheus);
        let want = reference(&cap);
        assert!(want.contains("vendor=\"bytedance\""), "{want}");
        assert!(text.starts_with(&want), "live:\n{text}\nreference:\n{want}");
        assert_eq!(live.recent.query(Some("bytedance"), None, 1000).len(), 20);
    }

    #[test]
    fn a_full_handover_is_folded_into_the_next() {
        let live = live();
        let cap = traffic();
        let (handover, batches) = mpsc::sync_channel(1);
        let mut link = WorkerLink::new(live.clone(), 3, handover, 1000);
        let mut pipeline = Pipeline::new(live.rules.current(), 1024, FlowRecords::Attributed);
        let source = pipeline.add_source("test");
        let mut merged = Aggregator::default();
        let mut records = Vec::new();
        for (i, frame) in frames(&cap).enumerate() {
            pipeline.process(&frame, source);
            if i % 16 == 0 {
                link.hand_over(&mut pipeline);
            }
            // The receiver takes one batch in four: most find the channel full.
            if i % 64 == 0 {
                if let Ok(Handover { worker, batch }) = batches.try_recv() {
                    assert_eq!(worker, 3);
                    records.extend(batch.records);
                    merged.merge(batch.counts);
                }
            }
        }
        pipeline.finish();
        link.hand_over(&mut pipeline);
        for Handover { batch, .. } in
            batches.try_iter().chain(link.held.take().map(|batch| Handover { worker: 3, batch }))
        {
            records.extend(batch.records);
            merged.merge(batch.counts);
        }
        let mut e = Exposition::new(Format::Prometheus);
        write_counters(&mut e, &merged, 0, &Policy::default());
        let flows_line =
            |t: &str| t.lines().filter(|l| l.starts_with("vendorwatch_flows_total")).collect::<Vec<_>>().join("\n");
        assert_eq!(flows_line(&e.finish()), flows_line(&reference(&cap)));
        let ended: Vec<u16> = records.iter().filter(|r| r.end_reason != "active").map(|r| r.client_port).collect();
        assert_eq!(ended.len(), 20, "every attributed flow's final record arrives, once: {ended:?}");
        assert!(records.iter().all(|r| r.vendor.as_deref() == Some("bytedance")));
    }
}
