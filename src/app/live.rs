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

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;

use crate::aggregate::Aggregator;
use crate::classify::dns_cache::DnsCache;
use crate::export::flowlog::FlowRecord;
use crate::flow::Timeouts;
use crate::pipeline::{Batch, FlowRecords, Pipeline, Rules};
use crate::source::live::{CaptureOptions, DEFAULT_RING_BYTES, LiveCapture};

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
}

/// Kernel counters of one capture handle, published by its worker.
#[derive(Default)]
pub(crate) struct HandleStats {
    pub interface: String,
    pub received: AtomicU64,
    pub dropped: AtomicU64,
    pub if_dropped: AtomicU64,
    pub errors: AtomicU64,
    pub alive: AtomicBool,
}

/// The rules in force, and a generation number workers compare between
/// batches: a reload swaps the Arc under the mutex, then bumps the number.
pub(crate) struct RulesCell {
    generation: AtomicU64,
    current: Mutex<Arc<Rules>>,
}

impl RulesCell {
    fn new(rules: Arc<Rules>) -> Self {
        RulesCell { generation: AtomicU64::new(0), current: Mutex::new(rules) }
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn current(&self) -> Arc<Rules> {
        lock(&self.current).clone()
    }

    fn replace(&self, rules: Arc<Rules>) {
        *lock(&self.current) = rules;
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
    pub stop: AtomicBool,
    pub host_window: Duration,
    config: Option<PathBuf>,
    signatures: Option<PathBuf>,
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
            stop: AtomicBool::new(false),
            host_window: opts.host_window,
            config: opts.config.clone(),
            signatures: opts.signatures.clone(),
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

    /// Reloads config and signatures; on an error the running set stays.
    pub fn reload(&self, why: &str) -> Result<String, String> {
        let mut state = lock(&self.reload);
        match super::rules::load_rules(self.signatures.as_deref(), self.config.as_deref()) {
            Ok(rules) => {
                let text = format!(
                    "reloaded ({why}): {} vendors, {} segments",
                    rules.signatures.vendors.len(),
                    segment_count(&rules)
                );
                self.rules.replace(Arc::new(rules));
                state.last_success_s = unix_seconds();
                state.last_ok = true;
                eprintln!("vendorwatch: {text}");
                Ok(text)
            }
            Err(e) => {
                state.failures += 1;
                state.last_ok = false;
                let text = format!("reload ({why}) failed, keeping the running rules: {e:#}");
                eprintln!("vendorwatch: {text}");
                Err(text)
            }
        }
    }

    pub fn all_alive(&self) -> bool {
        self.handles.iter().all(|h| h.alive.load(Ordering::Relaxed))
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
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn unix_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

pub(crate) fn unix_seconds() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// Runs the sensor until SIGTERM or SIGINT.
pub fn run(rules: Rules, opts: LiveOptions) -> anyhow::Result<()> {
    anyhow::ensure!(!opts.interfaces.is_empty(), "no --interface given");
    let workers = opts.workers.max(1);

    // Open every handle before serving, so /healthz means "capturing".
    let mut captures = Vec::new();
    let mut handles = Vec::new();
    let base_group = (std::process::id() as u16).wrapping_mul(16);
    for (index, interface) in opts.interfaces.iter().enumerate() {
        let fanout_group = (workers > 1).then(|| base_group.wrapping_add(index as u16));
        let copts = CaptureOptions {
            interface: interface.clone(),
            bpf: opts.bpf.clone(),
            fanout_group,
            ring_bytes: DEFAULT_RING_BYTES,
        };
        for _ in 0..workers {
            captures.push((LiveCapture::open(&copts, index as u32)?, index));
            handles.push(HandleStats {
                interface: interface.clone(),
                alive: AtomicBool::new(true),
                ..HandleStats::default()
            });
        }
    }

    let live = Arc::new(Live::new(rules, &opts, handles));
    let (handover, batches) = mpsc::sync_channel(HANDOVERS_PER_WORKER * captures.len());
    let collector = Collector::spawn(live.clone(), batches)?;

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
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    for (slot, (capture, index)) in captures.into_iter().enumerate() {
        let worker = Worker {
            live: live.clone(),
            link: WorkerLink::new(live.clone(), slot, handover.clone(), opts.recent_flows),
            slot,
            interface_index: index,
            interface_names: opts.interfaces.clone(),
            max_flows: per_worker_flows,
            timeouts,
            flush_interval: opts.flush_interval,
        };
        let name = format!("capture-{}-{slot}", opts.interfaces[index]);
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
    let served = runtime.block_on(serve(live.clone(), opts.listen, &opts.interfaces, workers));
    live.stop.store(true, Ordering::Release);
    for t in threads {
        let _ = t.join();
    }
    let _ = collector.join();
    served
}

async fn serve(live: Arc<Live>, listen: SocketAddr, interfaces: &[String], workers: usize) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};

    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut hup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
    eprintln!(
        "vendorwatch: capturing on {} ({workers} worker{} each), serving http://{}/metrics",
        interfaces.join(", "),
        if workers == 1 { "" } else { "s" },
        listener.local_addr().unwrap_or(listen)
    );

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = {
        let mut stop_rx = stop_rx.clone();
        let app = super::http::router(live.clone());
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop_rx.wait_for(|s| *s).await;
                })
                .await
        })
    };

    let why = loop {
        tokio::select! {
            _ = term.recv() => break "SIGTERM",
            _ = int.recv() => break "SIGINT",
            _ = hup.recv() => {
                let live = live.clone();
                let _ = tokio::task::spawn_blocking(move || live.reload("SIGHUP")).await;
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

/// Merges the workers' batches off the capture threads and publishes the
/// result for scrapes; owns the merged counters.
struct Collector {
    live: Arc<Live>,
    merged: Aggregator,
    batches: Receiver<Handover>,
}

/// One worker's batch, as sent to the collector.
struct Handover {
    worker: usize,
    batch: Batch,
}

impl Collector {
    fn spawn(live: Arc<Live>, batches: Receiver<Handover>) -> anyhow::Result<JoinHandle<()>> {
        let collector = Collector { live, merged: Aggregator::default(), batches };
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
                Err(RecvTimeoutError::Disconnected) => return,
            }
            if Instant::now() >= next_prune {
                next_prune = Instant::now() + PRUNE_INTERVAL;
                self.merged.prune_hosts(self.live.hosts_since_ns());
            }
            self.live.publish(Arc::new(self.merged.clone()));
        }
    }

    fn absorb(&mut self, Handover { worker, batch }: Handover) {
        self.merged.merge(batch.counts);
        self.merged.set_gauges(worker, batch.gauges);
        self.live.recent.extend(batch.records);
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
    /// Records a held batch keeps (the newest): `/api/flows` shows no more.
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
            held.absorb(batch, self.max_records);
            batch = held;
        }
        match self.handover.try_send(Handover { worker: self.worker, batch }) {
            Ok(()) => {}
            Err(TrySendError::Full(h)) => self.held = Some(h.batch),
            // The collector is gone only when the sensor stops.
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

struct Worker {
    live: Arc<Live>,
    link: WorkerLink,
    slot: usize,
    interface_index: usize,
    interface_names: Vec<String>,
    max_flows: usize,
    timeouts: Timeouts,
    flush_interval: Duration,
}

impl Worker {
    fn run(mut self, mut capture: LiveCapture) {
        let live = self.live.clone();
        let stats = &live.handles[self.slot];
        // Rules read after the link's generation: a reload in between is
        // picked up at the next check and applied again, which is harmless.
        let mut pipeline =
            Pipeline::with_timeouts(live.rules.current(), self.max_flows, self.timeouts, FlowRecords::Attributed);
        pipeline.share_dns_cache(live.dns.clone());
        pipeline.set_interface_names(self.interface_names.clone());
        let interface = &self.interface_names[self.interface_index];
        let source = pipeline.add_source(interface);
        let mut next_flush = Instant::now() + self.flush_interval;
        let mut last_error_log: Option<Instant> = None;
        while !live.stop.load(Ordering::Acquire) {
            if let Err(e) = capture.dispatch(IDLE_WAIT, |frame| pipeline.process(frame, source)) {
                stats.errors.fetch_add(1, Ordering::Relaxed);
                if last_error_log.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                    eprintln!("vendorwatch: capture error on {interface}: {e}");
                    last_error_log = Some(Instant::now());
                }
                std::thread::sleep(IDLE_WAIT);
            }
            self.link.follow_rules(&mut pipeline);
            let now = Instant::now();
            if now >= next_flush {
                next_flush = now + self.flush_interval;
                pipeline.tick(unix_ns());
                self.link.hand_over(&mut pipeline);
                self.publish(&mut capture);
            }
        }
        // No pipeline.finish(): the counts die with the process anyway, and
        // ending a full table of flows could outlast the 2 s stop bound.
        self.publish(&mut capture);
        stats.alive.store(false, Ordering::Relaxed);
    }

    fn publish(&self, capture: &mut LiveCapture) {
        let stats = &self.live.handles[self.slot];
        if let Ok(s) = capture.stats() {
            stats.received.store(s.received, Ordering::Relaxed);
            stats.dropped.store(s.dropped, Ordering::Relaxed);
            stats.if_dropped.store(s.if_dropped, Ordering::Relaxed);
        }
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

    use crate::classify::signatures::SignatureSet;
    use crate::export::metrics::{Exposition, Format, write_counters};
    use crate::segment::Config;
    use crate::source::{Frame, LinkType};
    use synth::app;
    use synth::conv::{Capture, Path, TcpSession};

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
            wire_len: r.data.len() as u32,
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
        write_counters(&mut e, &agg, 0);
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
        let collector = Collector::spawn(live.clone(), batches).unwrap();
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
        write_counters(&mut e, &merged, 0);
        let flows_line =
            |t: &str| t.lines().filter(|l| l.starts_with("vendorwatch_flows_total")).collect::<Vec<_>>().join("\n");
        assert_eq!(flows_line(&e.finish()), flows_line(&reference(&cap)));
        let ended: Vec<u16> = records.iter().filter(|r| r.end_reason != "active").map(|r| r.client_port).collect();
        assert_eq!(ended.len(), 20, "every attributed flow's final record arrives, once: {ended:?}");
        assert!(records.iter().all(|r| r.vendor.as_deref() == Some("bytedance")));
    }
}
