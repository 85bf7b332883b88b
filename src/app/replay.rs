//! `vendorwatch replay FILE...`: captures in, report, flow log and metrics out.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;

use crate::export::flowlog::FlowLog;
use crate::export::metrics::{Exposition, Format, write_counters};
use crate::export::report::Summary;
use crate::pipeline::{Outputs, Pipeline, Rules};
use crate::source::file::CaptureReader;

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
    let outputs = Arc::new(Mutex::new(Outputs::default()));
    if let Some(path) = &opts.flows_out {
        let file = File::create(path).with_context(|| format!("cannot create flow log {}", path.display()))?;
        outputs.lock().unwrap_or_else(|e| e.into_inner()).flow_log = Some(FlowLog::new(Box::new(file)));
    }
    let mut pipeline = Pipeline::new(Arc::new(rules), opts.max_flows, outputs.clone());
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
    let mut out = outputs.lock().unwrap_or_else(|e| e.into_inner());
    out.aggregator.source_errors = (outcome.truncated_files + outcome.unreadable_files) as u64;
    if let Some(log) = out.flow_log.as_mut() {
        log.finish().with_context(|| "cannot write the flow log")?;
    }
    if let Some(path) = &opts.metrics_out {
        let mut e = Exposition::new(Format::Prometheus);
        write_counters(&mut e, &out.aggregator, 0);
        std::fs::write(path, e.finish()).with_context(|| format!("cannot write metrics to {}", path.display()))?;
    }
    let summary = Summary::from_aggregator(&out.aggregator, 0);
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
