//! `vendorwatch live`: captures from interfaces (a mirror or SPAN port)
//! and serves metrics and the report over HTTP.
//!
//! Threads: one plain std thread per capture handle (`--workers` per
//! interface), each owning a [`Pipeline`]; tokio, on the main thread, only
//! for HTTP, signals and timers. The packet path takes no lock and makes no
//! allocation per packet: a worker meets the shared state between batches
//! (a rules generation number, an atomic load) and once per flush interval
//! (counters into the shared [`Outputs`], kernel statistics into atomics).

use std::collections::{HashMap, VecDeque};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;

use crate::export::flowlog::FlowLog;
use crate::flow::Timeouts;
use crate::pipeline::{Outputs, Pipeline, Rules};
use crate::source::live::{CaptureOptions, DEFAULT_RING_BYTES, LiveCapture};

/// The default `--listen` address: loopback only, so exposing the sensor
/// is a deliberate choice.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9799";
/// How long an idle worker waits in `poll(2)` before looking at its stop
/// flag and timers: bounds shutdown and reload latency on a quiet link.
const IDLE_WAIT: Duration = Duration::from_millis(100);

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
    /// How often workers move counters into the shared outputs.
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
    pub flows: AtomicU64,
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

/// Everything the HTTP side and the workers share.
pub(crate) struct Live {
    pub outputs: Arc<Mutex<Outputs>>,
    pub rules: RulesCell,
    pub reload: Mutex<ReloadState>,
    pub handles: Vec<HandleStats>,
    pub recent: Arc<RecentFlows>,
    pub stop: AtomicBool,
    pub host_window: Duration,
    config: Option<PathBuf>,
    signatures: Option<PathBuf>,
}

impl Live {
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

    /// Flow-table size over all workers.
    pub fn flow_table_flows(&self) -> u64 {
        self.handles.iter().map(|h| h.flows.load(Ordering::Relaxed)).sum()
    }

    pub fn all_alive(&self) -> bool {
        self.handles.iter().all(|h| h.alive.load(Ordering::Relaxed))
    }

    /// The oldest host timestamp that still counts for `vendorwatch_hosts`.
    pub fn hosts_since_ns(&self) -> u64 {
        unix_ns().saturating_sub(u64::try_from(self.host_window.as_nanos()).unwrap_or(u64::MAX))
    }

    /// Hands buffered flow records to the `/api/flows` ring.
    fn flush_records(&self) {
        let mut out = lock(&self.outputs);
        if let Some(log) = out.flow_log.as_mut() {
            let _ = log.finish();
        }
        if let Some(log) = out.active_log.as_mut() {
            let _ = log.finish();
        }
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
    let outputs = Arc::new(Mutex::new(Outputs::default()));
    let recent = Arc::new(RecentFlows::new(opts.recent_flows));
    {
        let mut out = lock(&outputs);
        out.flow_log = Some(FlowLog::new(Box::new(RecentWriter::new(recent.clone()))));
        out.active_log = Some(FlowLog::new(Box::new(RecentWriter::new(recent.clone()))));
    }

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

    let live = Arc::new(Live {
        outputs: outputs.clone(),
        rules: RulesCell::new(Arc::new(rules)),
        reload: Mutex::new(ReloadState { failures: 0, last_success_s: unix_seconds(), last_ok: true }),
        handles,
        recent,
        stop: AtomicBool::new(false),
        host_window: opts.host_window,
        config: opts.config.clone(),
        signatures: opts.signatures.clone(),
    });

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

    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start the HTTP runtime")?;
    let served = runtime.block_on(serve(live.clone(), opts.listen, opts.flush_interval, &opts.interfaces, workers));
    live.stop.store(true, Ordering::Release);
    for t in threads {
        let _ = t.join();
    }
    served
}

async fn serve(
    live: Arc<Live>,
    listen: SocketAddr,
    flush_interval: Duration,
    interfaces: &[String],
    workers: usize,
) -> anyhow::Result<()> {
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

    let mut flush = tokio::time::interval(flush_interval);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut prune = tokio::time::interval(Duration::from_secs(60));
    prune.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let why = loop {
        tokio::select! {
            _ = term.recv() => break "SIGTERM",
            _ = int.recv() => break "SIGINT",
            _ = hup.recv() => {
                let live = live.clone();
                let _ = tokio::task::spawn_blocking(move || live.reload("SIGHUP")).await;
            }
            _ = flush.tick() => live.flush_records(),
            _ = prune.tick() => {
                let since = live.hosts_since_ns();
                lock(&live.outputs).aggregator.prune_hosts(since);
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

struct Worker {
    live: Arc<Live>,
    slot: usize,
    interface_index: usize,
    interface_names: Vec<String>,
    max_flows: usize,
    timeouts: Timeouts,
    flush_interval: Duration,
}

impl Worker {
    fn run(self, mut capture: LiveCapture) {
        let live = &*self.live;
        let stats = &live.handles[self.slot];
        let mut pipeline =
            Pipeline::with_timeouts(live.rules.current(), self.max_flows, self.timeouts, live.outputs.clone());
        pipeline.set_interface_names(self.interface_names.clone());
        let interface = &self.interface_names[self.interface_index];
        let source = pipeline.add_source(interface);
        let mut generation = live.rules.generation();
        // Rules read after the generation: a reload in between is picked up
        // at the next check and applied again, which is harmless.
        pipeline.set_rules(live.rules.current());
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
            let g = live.rules.generation();
            if g != generation {
                generation = g;
                pipeline.set_rules(live.rules.current());
            }
            let now = Instant::now();
            if now >= next_flush {
                next_flush = now + self.flush_interval;
                pipeline.tick(unix_ns());
                pipeline.flush();
                self.publish(&mut capture, &pipeline);
            }
        }
        // No pipeline.finish(): the counts die with the process anyway, and
        // ending a full table of flows could outlast the 2 s stop bound.
        self.publish(&mut capture, &pipeline);
        stats.alive.store(false, Ordering::Relaxed);
    }

    fn publish(&self, capture: &mut LiveCapture, pipeline: &Pipeline) {
        let stats = &self.live.handles[self.slot];
        if let Ok(s) = capture.stats() {
            stats.received.store(s.received, Ordering::Relaxed);
            stats.dropped.store(s.dropped, Ordering::Relaxed);
            stats.if_dropped.store(s.if_dropped, Ordering::Relaxed);
        }
        stats.flows.store(pipeline.flow_count() as u64, Ordering::Relaxed);
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
    entries: VecDeque<(u64, Box<str>, serde_json::Value)>,
    /// Flow identity -> sequence number of its newest entry.
    latest: HashMap<Box<str>, u64>,
}

impl RecentFlows {
    fn new(capacity: usize) -> Self {
        RecentFlows { capacity: capacity.max(1), inner: Mutex::new(RecentInner::default()) }
    }

    fn push(&self, record: serde_json::Value) {
        let id: Box<str> = ["proto", "client", "client_port", "server", "server_port", "first_seen"]
            .iter()
            .map(|k| record.get(k).map(ToString::to_string).unwrap_or_default())
            .collect::<Vec<_>>()
            .join(" ")
            .into();
        let mut inner = lock(&self.inner);
        inner.seq += 1;
        let seq = inner.seq;
        inner.latest.insert(id.clone(), seq);
        inner.entries.push_back((seq, id, record));
        while inner.entries.len() > self.capacity {
            if let Some((seq, id, _)) = inner.entries.pop_front() {
                if inner.latest.get(&id) == Some(&seq) {
                    inner.latest.remove(&id);
                }
            }
        }
    }

    /// Newest first, filtered by exact vendor and segment.
    pub fn query(&self, vendor: Option<&str>, segment: Option<&str>, limit: usize) -> Vec<serde_json::Value> {
        let inner = lock(&self.inner);
        let field = |r: &serde_json::Value, k: &str, want: Option<&str>| {
            want.is_none_or(|w| r.get(k).and_then(|v| v.as_str()) == Some(w))
        };
        inner
            .entries
            .iter()
            .rev()
            .filter(|(seq, id, _)| inner.latest.get(id) == Some(seq))
            .filter(|(_, _, r)| field(r, "vendor", vendor) && field(r, "segment", segment))
            .take(limit)
            .map(|(_, _, r)| r.clone())
            .collect()
    }
}

/// A flow-log sink that keeps attributed records in [`RecentFlows`].
struct RecentWriter {
    ring: Arc<RecentFlows>,
    partial: Vec<u8>,
}

impl RecentWriter {
    fn new(ring: Arc<RecentFlows>) -> Self {
        RecentWriter { ring, partial: Vec::new() }
    }
}

impl Write for RecentWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut rest = buf;
        while let Some(i) = rest.iter().position(|&b| b == b'\n') {
            self.partial.extend_from_slice(&rest[..i]);
            rest = &rest[i + 1..];
            // Most finished flows are unattributed: skip them unparsed.
            const NONE: &[u8] = b"\"vendor\":null";
            let unattributed = self.partial.windows(NONE.len()).any(|w| w == NONE);
            if unattributed {
                self.partial.clear();
                continue;
            }
            if let Ok(record) = serde_json::from_slice::<serde_json::Value>(&self.partial) {
                if record.get("vendor").is_some_and(|v| v.is_string()) {
                    self.ring.push(record);
                }
            }
            self.partial.clear();
        }
        self.partial.extend_from_slice(rest);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
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

    #[test]
    fn recent_flows_keep_the_newest_record_per_flow_and_filter() {
        let ring = Arc::new(RecentFlows::new(3));
        let mut w = RecentWriter::new(ring.clone());
        let rec = |port: u16, vendor: &str, packets: u64| {
            format!(
                "{{\"proto\":\"tcp\",\"client\":\"10.0.0.1\",\"client_port\":{port},\"server\":\"17.0.0.1\",\"server_port\":443,\"first_seen\":\"t\",\"segment\":\"hq\",\"vendor\":\"{vendor}\",\"packets\":{packets}}}\n"
            )
        };
        let text = format!("{}{}{}", rec(1, "apple", 1), rec(2, "huawei", 1), rec(1, "apple", 5));
        let (a, b) = text.as_bytes().split_at(17);
        w.write_all(a).unwrap();
        w.write_all(b).unwrap();
        w.write_all(b"{\"vendor\":null,\"segment\":\"hq\"}\n").unwrap();
        let all = ring.query(None, None, 10);
        assert_eq!(all.len(), 2, "the older record of port 1 is superseded, the unattributed one dropped: {all:?}");
        assert_eq!(all[0]["packets"], 5);
        assert_eq!(ring.query(Some("huawei"), Some("hq"), 10).len(), 1);
        assert_eq!(ring.query(Some("huawei"), Some("lab"), 10).len(), 0);
        for port in 3..10 {
            w.write_all(rec(port, "apple", 1).as_bytes()).unwrap();
        }
        assert_eq!(ring.query(None, None, 10).len(), 3, "bounded");
    }
}
