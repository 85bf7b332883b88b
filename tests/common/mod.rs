//! Helpers for the integration tests: run the built binary on fixtures,
//! read the flow log and metrics it writes, and read capture files back
//! independently of the program under test.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

/// `pcaps/` in the source tree.
pub fn pcaps() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps")
}

/// A fixture's path.
pub fn fixture(name: &str) -> PathBuf {
    pcaps().join(name)
}

pub fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
}

/// Says which of `tools` is not installed, if one is not.
pub fn missing_tool(tools: &[&str]) -> Option<String> {
    tools.iter().find(|tool| !on_path(tool)).map(|tool| format!("`{tool}` is not installed"))
}

/// Returns false (after saying why on stderr) when `why` says the test
/// cannot run; in CI (`CI` set) that is a failure instead.
pub fn can_run(test: &str, why: Option<String>) -> bool {
    match why {
        None => true,
        Some(why) if std::env::var_os("CI").is_some() => panic!("{test}: cannot run in CI: {why}"),
        Some(why) => {
            // Straight to stderr, past libtest's capture, so it is seen.
            let _ = writeln!(std::io::stderr(), "{test}: skipped: {why}");
            false
        }
    }
}

/// A directory under the system temp dir, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("vendorwatch-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What one run of the binary produced.
#[derive(Debug)]
pub struct Output {
    /// Exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<std::process::Output> for Output {
    fn from(out: std::process::Output) -> Output {
        Output {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Runs `vendorwatch` with `args`.
pub fn vendorwatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vendorwatch")).args(args).output().expect("run vendorwatch").into()
}

/// Runs `cmd` with `input` on its standard input, written from a thread of
/// its own so that a large input cannot deadlock against the output; fails
/// the test if the program did not read all of it.
pub fn output_with_stdin(cmd: &mut Command, input: &[u8]) -> std::process::Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap_or_else(|e| panic!("{cmd:?} did not read its standard input: {e}"));
    out
}

/// A metric sample: name, labels in order, value.
pub type Sample = (String, Vec<(String, String)>, f64);

/// A replay with its flow log and metrics read back.
#[derive(Debug)]
pub struct Replay {
    pub out: Output,
    pub flows: Vec<Value>,
    pub metrics: String,
}

/// `vendorwatch replay FILES --flows-out .. --metrics-out .. ARGS`; files
/// are fixture names (or paths).
pub fn replay(files: &[&str], args: &[&str]) -> Replay {
    let dir = TempDir::new("replay");
    let flows_out = dir.path("flows.jsonl");
    let metrics_out = dir.path("metrics.prom");
    let mut all: Vec<String> = vec!["replay".into()];
    all.extend(files.iter().map(|f| fixture(f).display().to_string()));
    all.extend(["--flows-out".into(), flows_out.display().to_string()]);
    all.extend(["--metrics-out".into(), metrics_out.display().to_string()]);
    all.extend(args.iter().map(ToString::to_string));
    let out = vendorwatch(&all.iter().map(String::as_str).collect::<Vec<_>>());
    let flows = json_lines(&flows_out).unwrap_or_default();
    let metrics = std::fs::read_to_string(&metrics_out).unwrap_or_default();
    Replay { out, flows, metrics }
}

impl Replay {
    /// The one flow matching `pred`; panics (listing all flows) otherwise.
    pub fn flow(&self, what: &str, pred: impl Fn(&Value) -> bool) -> &Value {
        let found: Vec<&Value> = self.flows.iter().filter(|f| pred(f)).collect();
        assert_eq!(found.len(), 1, "expected one flow {what}, found {}; all flows:\n{}", found.len(), self.dump());
        found[0]
    }

    /// The one flow whose client uses `port`.
    pub fn by_client_port(&self, port: u64) -> &Value {
        self.flow(&format!("with client port {port}"), |f| f["client_port"] == port)
    }

    pub fn dump(&self) -> String {
        self.flows.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
    }

    /// The value of the sample written exactly as `series` (name and
    /// labels in exposition order), if present.
    pub fn metric(&self, series: &str) -> Option<f64> {
        self.metrics.lines().find_map(|line| {
            line.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')).map(|v| v.parse().expect("metric value"))
        })
    }

    /// Like [`metric`](Self::metric), but the series must be present.
    pub fn value(&self, series: &str) -> f64 {
        self.metric(series).unwrap_or_else(|| panic!("no sample {series} in:\n{}", self.metrics))
    }

    /// Sum of a numeric flow-log field over all flows.
    pub fn sum(&self, field: &str) -> u64 {
        self.flows.iter().map(|f| f[field].as_u64().expect("numeric field")).sum()
    }

    /// Frames read but not in any flow: decode errors, non-IP frames, fragments.
    pub fn skipped(&self) -> f64 {
        self.samples("vendorwatch_decode_errors_total").iter().map(|s| s.2).sum::<f64>()
            + self.samples("vendorwatch_decode_skipped_total").iter().map(|s| s.2).sum::<f64>()
    }

    /// All samples of a metric family: (name, labels, value).
    pub fn samples(&self, family: &str) -> Vec<Sample> {
        parse_metrics(&self.metrics).into_iter().filter(|s| s.0 == family).collect()
    }
}

/// The records of a JSON-lines file (`--flows-out`, `--hosts-out`,
/// `--devices-out`); `None` when there is no such file. A line that is not
/// JSON fails the test, named with its file.
pub fn json_lines(path: &Path) -> Option<Vec<Value>> {
    let text = std::fs::read_to_string(path).ok()?;
    let record = |l: &str| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: line {l:?}: {e}", path.display()));
    Some(text.lines().map(record).collect())
}

/// The counts of a summary (`replay --format json`, live `/api/summary`):
/// (segment, vendor, banned) -> [flows, packets, bytes, `bytes_out`,
/// `bytes_in`, hosts, `dns_queries`].
pub fn summary_rows(summary: &Value) -> BTreeMap<(String, String, bool), [u64; 7]> {
    let mut rows = BTreeMap::new();
    for s in summary["segments"].as_array().unwrap() {
        for v in s["vendors"].as_array().unwrap() {
            let key = (
                s["segment"].as_str().unwrap().to_owned(),
                v["vendor"].as_str().unwrap().to_owned(),
                v["banned"].as_bool().unwrap(),
            );
            let n = |k: &str| v[k].as_u64().unwrap();
            rows.insert(
                key,
                [n("flows"), n("packets"), n("bytes"), n("bytes_out"), n("bytes_in"), n("hosts"), n("dns_queries")],
            );
        }
    }
    rows
}

/// A sample's value as the count it stands for.
///
/// # Panics
///
/// Unless the value is a whole number from 0 to 2^53, where an f64 holds
/// every integer exactly: a count that is not one is a bug worth stopping on.
pub fn count(value: f64) -> u64 {
    const EXACT: f64 = (1u64 << 53) as f64;
    assert!((0.0..=EXACT).contains(&value) && value.fract() == 0.0, "{value} is not a count");
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a whole number in 0..=2^53, checked above"
    )]
    let n = value as u64;
    n
}

/// Parses Prometheus text exposition samples: (name, labels, value).
pub fn parse_metrics(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let (series, value) = line.rsplit_once(' ').expect("sample line");
        let value: f64 = value.parse().expect("sample value");
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, rest.strip_suffix('}').expect("closing brace")),
            None => (series, ""),
        };
        let mut pairs = Vec::new();
        let mut rest = labels;
        while !rest.is_empty() {
            let (key, after) = rest.split_once("=\"").expect("label");
            // Label values here never contain escaped quotes (checked by callers).
            let end = after.find('"').expect("label value end");
            pairs.push((key.to_owned(), after[..end].to_owned()));
            rest = after[end + 1..].trim_start_matches(',');
        }
        out.push((name.to_owned(), pairs, value));
    }
    out
}

/// One record of a classic little-endian pcap file.
#[derive(Debug, Clone)]
pub struct PcapRecord {
    /// Where its record header starts in the file.
    pub offset: usize,
    /// Its timestamp, in nanoseconds since the epoch (microsecond files
    /// scaled up).
    pub ts_ns: u64,
    pub caplen: usize,
    pub orig_len: u64,
    pub data: Vec<u8>,
}

/// Reads a classic little-endian pcap (microsecond or nanosecond) written
/// by the fixtures, stopping at the first record that does not fit
/// (returned as `Err(offset)`).
pub fn read_pcap(path: &Path) -> (Vec<PcapRecord>, Result<(), usize>) {
    let bytes = std::fs::read(path).expect("fixture");
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    let fraction_ns = match u32_at(0) {
        0xa1b2_c3d4 => 1_000,
        0xa1b2_3c4d => 1,
        _ => panic!("{} is not a little-endian pcap", path.display()),
    };
    let mut records = Vec::new();
    let mut at = 24;
    while at < bytes.len() {
        if at + 16 > bytes.len() {
            return (records, Err(at));
        }
        let caplen = u32_at(at + 8) as usize;
        let orig_len = u64::from(u32_at(at + 12));
        if at + 16 + caplen > bytes.len() {
            return (records, Err(at));
        }
        let ts_ns = u64::from(u32_at(at)) * 1_000_000_000 + u64::from(u32_at(at + 4)) * fraction_ns;
        let data = bytes[at + 16..at + 16 + caplen].to_vec();
        records.push(PcapRecord { offset: at, ts_ns, caplen, orig_len, data });
        at += 16 + caplen;
    }
    (records, Ok(()))
}

/// The source IPv4 address of an untagged Ethernet/IPv4 frame.
pub fn ethernet_ipv4_src(frame: &[u8]) -> IpAddr {
    assert_eq!(&frame[12..14], &[0x08, 0x00], "untagged IPv4 frame");
    IpAddr::from(<[u8; 4]>::try_from(&frame[26..30]).unwrap())
}

/// Frames and wire bytes sent by `host` and by everyone else.
pub fn traffic_by_sender(records: &[PcapRecord], host: &str) -> ((u64, u64), (u64, u64)) {
    let host: IpAddr = host.parse().unwrap();
    let (mut from, mut to) = ((0, 0), (0, 0));
    for r in records {
        let side = if ethernet_ipv4_src(&r.data) == host { &mut from } else { &mut to };
        side.0 += 1;
        side.1 += r.orig_len;
    }
    (from, to)
}
