//! `vendorwatch replay INPUT...`: captures in, report, flow log and metrics out.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::aggregate::Policy;
use crate::export::flowlog::FlowLog;
use crate::export::metrics::{Exposition, Format, Kind, write_counters};
use crate::export::report::{InputError, Summary};
use crate::pipeline::{FlowRecords, Pipeline, Rules};
use crate::source::clock::CaptureClock;
use crate::source::compressed::Stream;
use crate::source::file::{CaptureReader, OpenError};
use crate::source::input::{self, Input, Origin};
use crate::source::{Frame, ReadError};

/// Flow records taken from the pipeline and written at a time.
const RECORDS_PER_WRITE: usize = 1024;

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
    /// at the clock (see [`crate::source::clock`]).
    pub max_time_jump: Duration,
}

/// What happened to the inputs; decides the exit status.
#[derive(Debug, Default)]
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
#[derive(Debug, Default)]
struct InputStatus {
    /// By reason: records (or files) affected and the first message.
    errors: BTreeMap<&'static str, (u64, String)>,
    jumps: u64,
}

impl InputStatus {
    fn error(&mut self, reason: &'static str, message: String) {
        self.errors.entry(reason).or_insert((0, message)).0 += 1;
    }
}

/// Runs the replay, printing the report to `stdout` and problems to `stderr`.
pub fn run(
    rules: Rules,
    opts: &ReplayOptions,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> anyhow::Result<ReplayOutcome> {
    let mut flow_log = match &opts.flows_out {
        Some(path) => {
            let file = File::create(path).with_context(|| format!("cannot create flow log {}", path.display()))?;
            Some(FlowLog::new(Box::new(file)))
        }
        None => None,
    };
    let records = if flow_log.is_some() { FlowRecords::All } else { FlowRecords::Off };
    // One pipeline on this thread: its batch is merged once, at the end;
    // only the flow records are taken as they come, so they never pile up.
    let mut pipeline = Pipeline::new(Arc::new(rules), opts.max_flows, records);
    let mut outcome = ReplayOutcome::default();
    let (inputs, walk_errors) = input::expand(&opts.files);
    let mut statuses: Vec<(String, InputStatus)> = Vec::new();
    for e in walk_errors {
        writeln!(stderr, "vendorwatch: cannot read directory {}: {}", e.path.display(), e.error)?;
        let mut status = InputStatus::default();
        status.error("unreadable", format!("cannot read directory: {}", e.error));
        statuses.push((e.path.display().to_string(), status));
        outcome.unreadable_files += 1;
    }
    let mut span: Option<(u64, u64)> = None;
    for input in &inputs {
        let mut status = InputStatus::default();
        let mut reader = match open(input) {
            Ok(r) => r,
            Err(Unopened::NotCapture) => {
                writeln!(stderr, "vendorwatch: {}: skipped, not a capture", input.display())?;
                continue;
            }
            Err(Unopened::Failed(message)) => {
                writeln!(stderr, "vendorwatch: {}: {message}", input.display())?;
                status.error("unreadable", message);
                outcome.unreadable_files += 1;
                pipeline.add_source(&input.label);
                statuses.push((input.label.clone(), status));
                continue;
            }
        };
        let source = pipeline.add_source(&input.label);
        let mut clock = CaptureClock::new(opts.max_time_jump);
        let mut hand_on = |frame: &Frame<'_>, _at_clock: bool| {
            pipeline.process(frame, source);
            if pipeline.pending_records() >= RECORDS_PER_WRITE {
                if let Some(log) = flow_log.as_mut() {
                    pipeline.drain_records().for_each(|r| log.write(&r));
                }
            }
            let (first, last) = span.get_or_insert((frame.ts_ns, frame.ts_ns));
            *first = (*first).min(frame.ts_ns);
            *last = (*last).max(frame.ts_ns);
        };
        let mut frames = 0u64;
        let mut skipped = 0u64;
        loop {
            match reader.next_frame() {
                Ok(Some(frame)) => {
                    clock.place(&frame, &mut hand_on);
                    frames += 1;
                }
                Ok(None) => break,
                Err(e) if e.is_skip() => {
                    skipped += 1;
                    if skipped <= SKIPS_SHOWN {
                        writeln!(stderr, "vendorwatch: {}: {e}", input.display())?;
                    }
                    status.error(e.reason(), e.to_string());
                }
                Err(e) => {
                    writeln!(stderr, "vendorwatch: {}: {e}; kept the {frames} frames read before it", input.display())?;
                    status.error(e.reason(), e.to_string());
                    break;
                }
            }
        }
        clock.finish(&mut hand_on);
        if skipped > SKIPS_SHOWN {
            writeln!(stderr, "vendorwatch: {}: {} more records skipped", input.display(), skipped - SKIPS_SHOWN)?;
        }
        status.jumps = clock.jumps();
        if status.jumps > 0 {
            writeln!(
                stderr,
                "vendorwatch: {}: {} records stamped more than {} from the capture clock were timed at the clock",
                input.display(),
                status.jumps,
                humanize(opts.max_time_jump),
            )?;
        }
        if clock.followed() > 0 {
            writeln!(
                stderr,
                "vendorwatch: {}: the capture's time jumps by more than {} {} times (the clock followed)",
                input.display(),
                humanize(opts.max_time_jump),
                clock.followed(),
            )?;
        }
        if !status.errors.is_empty() {
            outcome.truncated_files += 1;
        }
        outcome.time_jumps += status.jumps;
        statuses.push((input.label.clone(), status));
    }
    pipeline.finish();
    if let Some(log) = flow_log.as_mut() {
        pipeline.drain_records().for_each(|r| log.write(&r));
    }
    let policy = Policy::of(pipeline.rules());
    let batch = pipeline.take_batch();
    let mut agg = batch.counts;
    agg.set_gauges(0, batch.gauges);
    agg.source_errors = (outcome.truncated_files + outcome.unreadable_files) as u64;
    if let Some(log) = flow_log.as_mut() {
        log.finish().with_context(|| "cannot write the flow log")?;
    }
    if let Some(path) = &opts.devices_out {
        write_devices(path, &agg).with_context(|| format!("cannot write devices to {}", path.display()))?;
    }
    if let Some(path) = &opts.metrics_out {
        let mut e = Exposition::new(Format::Prometheus);
        write_counters(&mut e, &agg, 0, &policy);
        write_input_counters(&mut e, &statuses);
        std::fs::write(path, e.finish()).with_context(|| format!("cannot write metrics to {}", path.display()))?;
    }
    let mut summary = Summary::from_aggregator(&agg, 0, &policy);
    summary.capture.first_packet = span.map(|(first, _)| first);
    summary.capture.last_packet = span.map(|(_, last)| last);
    for (label, status) in &statuses {
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
    if opts.json {
        serde_json::to_writer_pretty(&mut *stdout, &summary)?;
        writeln!(stdout)?;
    } else {
        write!(stdout, "{}", summary.to_table())?;
    }
    Ok(outcome)
}

/// `--devices-out`: one JSON line per device, in key order.
fn write_devices(path: &std::path::Path, agg: &crate::aggregate::Aggregator) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(File::create(path)?);
    for (key, facts) in agg.devices.seen_since(0) {
        serde_json::to_writer(&mut out, &crate::hosts::record::DeviceRecord::new(key, facts))?;
        writeln!(out)?;
    }
    out.flush()
}

enum Unopened {
    /// A file met in a directory that holds no capture: passed over.
    NotCapture,
    Failed(String),
}

fn open(input: &Input) -> Result<CaptureReader<Stream>, Unopened> {
    let opened = match &input.origin {
        Origin::Stdin => CaptureReader::from_stream(std::io::stdin()),
        Origin::File { path, .. } => match File::open(path) {
            Ok(file) => CaptureReader::from_stream(file),
            Err(e) => return Err(Unopened::Failed(format!("cannot open: {e}"))),
        },
    };
    opened.map_err(|e: OpenError| match (&input.origin, &e.source) {
        (Origin::File { in_directory: true, .. }, ReadError::UnknownFormat { .. }) => Unopened::NotCapture,
        _ => Unopened::Failed(format!("cannot read: {e}")),
    })
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
