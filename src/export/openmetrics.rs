//! A replay's history as one OpenMetrics file: every family's samples at
//! each step, stamped with capture time, for
//! `promtool tsdb create-blocks-from openmetrics`.
//!
//! OpenMetrics lists each family once, so samples cannot be written step
//! after step into one stream. Each family's samples are spooled to its own
//! file beside the output as the steps come (memory stays bounded however
//! long the capture), and the families are joined at the end.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Label names the exposition itself uses: an extra label may not shadow them.
const RESERVED: &[&str] =
    &["segment", "vendor", "service", "banned", "direction", "source", "reason", "outcome", "interface", "version"];

/// Checks an extra `name=value` label (`--label capture=monday`).
pub fn parse_label(s: &str) -> Result<(String, String), String> {
    let (name, value) = s.split_once('=').ok_or_else(|| format!("{s:?}: expected NAME=VALUE"))?;
    let valid =
        name.chars().enumerate().all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
    if name.is_empty() || !valid || name.starts_with("__") {
        return Err(format!("{name:?} is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)"));
    }
    if RESERVED.contains(&name) {
        return Err(format!("{name:?} is a label vendorwatch's metrics already carry"));
    }
    Ok((name.to_owned(), value.to_owned()))
}

struct Family {
    name: String,
    /// `# HELP` and `# TYPE` lines.
    header: String,
    spool: BufWriter<File>,
    path: PathBuf,
}

/// Collects snapshots and writes the OpenMetrics file at [`History::finish`].
pub struct History {
    out: PathBuf,
    spool_dir: PathBuf,
    /// `name="value",` for every extra label, escaped.
    labels: String,
    families: Vec<Family>,
    snapshots: u64,
}

impl History {
    /// Starts a history to be written to `out`, every sample carrying the
    /// extra `labels` (checked by [`parse_label`]) first. The spool goes in
    /// `out` + `.parts`, removed by [`History::finish`].
    pub fn create(out: &Path, labels: &[(String, String)]) -> io::Result<History> {
        let mut spool_dir = out.as_os_str().to_owned();
        spool_dir.push(".parts");
        let spool_dir = PathBuf::from(spool_dir);
        fs::create_dir_all(&spool_dir)?;
        let mut text = String::new();
        for (name, value) in labels {
            text.push_str(name);
            text.push_str("=\"");
            crate::export::metrics::push_label_value(&mut text, value);
            text.push_str("\",");
        }
        Ok(History { out: out.to_owned(), spool_dir, labels: text, families: Vec::new(), snapshots: 0 })
    }

    /// Adds one OpenMetrics exposition (as [`crate::export::metrics`]
    /// writes it) as the samples at `at_ns`, capture time.
    pub fn snapshot(&mut self, exposition: &str, at_ns: u64) -> io::Result<()> {
        let stamp = format!(" {}.{:03}\n", at_ns / 1_000_000_000, at_ns % 1_000_000_000 / 1_000_000);
        // The family the lines belong to, and whether this snapshot is its first.
        let mut family: Option<(usize, bool)> = None;
        for line in exposition.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let name = rest.split(' ').next().unwrap_or(rest);
                family = Some(match self.families.iter().position(|f| f.name == name) {
                    Some(i) => (i, false),
                    None => (self.add_family(name)?, true),
                });
            }
            if line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
                if let Some((i, true)) = family {
                    self.families[i].header.push_str(line);
                    self.families[i].header.push('\n');
                }
            } else if line.starts_with('#') || line.is_empty() {
                // `# EOF`, `# UNIT` and blank lines carry no sample.
            } else if let Some((i, _)) = family {
                let spool = &mut self.families[i].spool;
                // The sample's value is its last field; the labels go first.
                let (series, value) = line.rsplit_once(' ').unwrap_or((line, ""));
                match series.split_once('{') {
                    Some((name, labels)) => write!(spool, "{name}{{{}{labels} {value}", self.labels)?,
                    None if self.labels.is_empty() => write!(spool, "{series} {value}")?,
                    None => write!(spool, "{series}{{{}}} {value}", self.labels.trim_end_matches(','))?,
                }
                spool.write_all(stamp.as_bytes())?;
            }
        }
        self.snapshots += 1;
        Ok(())
    }

    fn add_family(&mut self, name: &str) -> io::Result<usize> {
        let path = self.spool_dir.join(format!("{}.om", self.families.len()));
        let spool = BufWriter::new(File::create(&path)?);
        self.families.push(Family { name: name.to_owned(), header: String::new(), spool, path });
        Ok(self.families.len() - 1)
    }

    /// Snapshots added so far.
    pub fn snapshots(&self) -> u64 {
        self.snapshots
    }

    /// Writes the file: each family's header and samples, then `# EOF`.
    pub fn finish(self) -> io::Result<()> {
        let mut out = BufWriter::new(File::create(&self.out)?);
        for f in self.families {
            out.write_all(f.header.as_bytes())?;
            let spool = f.spool.into_inner().map_err(std::io::IntoInnerError::into_error)?;
            drop(spool);
            io::copy(&mut File::open(&f.path)?, &mut out)?;
            fs::remove_file(&f.path)?;
        }
        out.write_all(b"# EOF\n")?;
        out.into_inner().map_err(std::io::IntoInnerError::into_error)?.sync_all()?;
        fs::remove_dir(&self.spool_dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_appear_once_with_every_step_stamped_and_labelled() {
        let dir = std::env::temp_dir().join(format!("vw-om-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let out = dir.join("h.om");
        let mut h = History::create(&out, &[("capture".into(), "mon\"day".into())]).unwrap();
        let step = |n: u32| {
            format!(
                "# HELP x Flows.\n# TYPE x counter\nx_total{{a=\"1\"}} {n}\n# HELP g G.\n# TYPE g gauge\ng {n}\n# EOF\n"
            )
        };
        h.snapshot(&step(1), 60_000_000_000).unwrap();
        h.snapshot(&step(2), 120_500_000_000).unwrap();
        h.finish().unwrap();
        let text = fs::read_to_string(&out).unwrap();
        assert_eq!(
            text,
            "# HELP x Flows.\n# TYPE x counter\n\
             x_total{capture=\"mon\\\"day\",a=\"1\"} 1 60.000\nx_total{capture=\"mon\\\"day\",a=\"1\"} 2 120.500\n\
             # HELP g G.\n# TYPE g gauge\ng{capture=\"mon\\\"day\"} 1 60.000\ng{capture=\"mon\\\"day\"} 2 120.500\n# EOF\n"
        );
        assert!(!dir.join("h.om.parts").exists(), "the spool is removed");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn extra_labels_must_be_valid_and_new() {
        assert!(parse_label("capture=monday").is_ok());
        assert!(parse_label("sensor=").is_ok());
        for bad in ["capture", "1x=a", "__name__=a", "segment=a", "a-b=c"] {
            assert!(parse_label(bad).is_err(), "{bad}");
        }
    }
}
