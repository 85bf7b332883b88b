//! `vendorwatch replay FILE...`: captures in, report, flow log and metrics out.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;

use crate::export::flowlog::FlowLog;
use crate::export::metrics::{Exposition, Format, write_counters};
use crate::export::report::Summary;
use crate::pipeline::{FlowRecords, Pipeline, Rules};
use crate::source::file::CaptureReader;

/// Flow records taken from the pipeline and written at a time.
const RECORDS_PER_WRITE: usize = 1024;

pub struct ReplayOptions {
    pub files: Vec<PathBuf>,
    pub max_flows: usize,
    pub flows_out: Option<PathBuf>,
    pub metrics_out: Option<PathBuf>,
    pub json: bool,
    pub strict: bool,
}

/// What happened to the inputs; decides the exit status.
#[derive(Debug, Default)]
pub struct ReplayOutcome {
    pub truncated_files: usize,
    pub unreadable_files: usize,
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
    let mut write_records = |pipeline: &mut Pipeline| {
        if let Some(log) = flow_log.as_mut() {
            pipeline.drain_records().for_each(|r| log.write(&r));
        }
    };
    let mut outcome = ReplayOutcome::default();
    for path in &opts.files {
        let source = pipeline.add_source(&source_name(path));
        let mut reader = match CaptureReader::open(path) {
            Ok(r) => r,
            Err(e) => {
                writeln!(stderr, "vendorwatch: {e:#}")?;
                outcome.unreadable_files += 1;
                continue;
            }
        };
        let mut frames = 0u64;
        loop {
            match reader.next_frame() {
                Ok(Some(frame)) => {
                    pipeline.process(&frame, source);
                    frames += 1;
                    if pipeline.pending_records() >= RECORDS_PER_WRITE {
                        write_records(&mut pipeline);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    writeln!(stderr, "vendorwatch: {}: {e}; kept the {frames} frames read before it", path.display())?;
                    outcome.truncated_files += 1;
                    break;
                }
            }
        }
    }
    pipeline.finish();
    write_records(&mut pipeline);
    let batch = pipeline.take_batch();
    let mut agg = batch.counts;
    agg.set_gauges(0, batch.gauges);
    agg.source_errors = (outcome.truncated_files + outcome.unreadable_files) as u64;
    if let Some(log) = flow_log.as_mut() {
        log.finish().with_context(|| "cannot write the flow log")?;
    }
    if let Some(path) = &opts.metrics_out {
        let mut e = Exposition::new(Format::Prometheus);
        write_counters(&mut e, &agg, 0);
        std::fs::write(path, e.finish()).with_context(|| format!("cannot write metrics to {}", path.display()))?;
    }
    let summary = Summary::from_aggregator(&agg, 0);
    if opts.json {
        serde_json::to_writer_pretty(&mut *stdout, &summary)?;
        writeln!(stdout)?;
    } else {
        write!(stdout, "{}", summary.to_table())?;
    }
    Ok(outcome)
}

/// The `source` label: the file's name, never its directory.
fn source_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}
