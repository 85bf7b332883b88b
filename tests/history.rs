//! `replay --openmetrics-out`: the history is imported into a real
//! Prometheus TSDB with Debian's `promtool`, served by Debian's
//! `prometheus` on loopback, and its range queries checked step by step
//! against what the replay counted and what the capture holds.
//!
//! Without `promtool` and `prometheus` the test says "skipped" and passes,
//! except in CI (`CI` set), where it fails.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{TempDir, can_run, fixture, missing_tool, parse_metrics, read_pcap, vendorwatch};
use serde_json::Value;

const STEP_S: u64 = 60;

/// Sum of a family's samples per timestamp (ms) in the OpenMetrics file.
fn sums_by_time(text: &str, sample: &str) -> BTreeMap<u64, f64> {
    let mut sums = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with(&format!("{sample}{{"))) {
        let mut fields = line.rsplitn(3, ' ');
        let ts: f64 = fields.next().unwrap().parse().unwrap();
        let value: f64 = fields.next().unwrap().parse().unwrap();
        *sums.entry(common::count((ts * 1000.0).round())).or_default() += value;
    }
    sums
}

struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(port: u16, path_and_query: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path_and_query} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

/// `query_range` of `expr`: timestamp (ms) to value.
fn range(port: u16, expr: &str, start_s: u64, end_s: u64) -> BTreeMap<u64, f64> {
    let q = format!("/api/v1/query_range?query={}&start={start_s}&end={end_s}&step={STEP_S}", encode(expr));
    let (status, body) = get(port, &q).expect("query Prometheus");
    assert_eq!(status, 200, "{expr}: {body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let result = v["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 1, "{expr}: one series expected: {body}");
    result[0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (common::count((p[0].as_f64().unwrap() * 1000.0).round()), p[1].as_str().unwrap().parse().unwrap()))
        .collect()
}

#[test]
fn a_replayed_history_backfills_prometheus_step_by_step() {
    let test = "a_replayed_history_backfills_prometheus_step_by_step";
    if !can_run(test, missing_tool(&["promtool", "prometheus"])) {
        return;
    }
    let dir = TempDir::new("history");
    let om = dir.path("history.om");
    let prom = dir.path("final.prom");
    let pcap = fixture("sample.pcap");
    let out = vendorwatch(&[
        "replay",
        pcap.to_str().unwrap(),
        "--config",
        fixture("sample.toml").to_str().unwrap(),
        "--openmetrics-out",
        om.to_str().unwrap(),
        "--step",
        "1m",
        "--label",
        "capture=fixture",
        "--metrics-out",
        prom.to_str().unwrap(),
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let openmetrics = std::fs::read_to_string(&om).unwrap();
    assert!(openmetrics.ends_with("# EOF\n"));

    // The steps: every minute boundary after the first packet, up to the
    // first one after the last.
    let (records, end) = read_pcap(&pcap);
    end.unwrap();
    let times: Vec<u64> = records.iter().map(|r| r.ts_ns).collect();
    let step_ns = STEP_S * 1_000_000_000;
    let first = (times.iter().min().unwrap() / step_ns + 1) * step_ns;
    let last = (times.iter().max().unwrap() / step_ns + 1) * step_ns;
    let steps: Vec<u64> = (first..=last).step_by(usize::try_from(step_ns).unwrap()).collect();
    assert!(steps.len() >= 4, "the sample spans four minutes");

    let blocks = dir.path("blocks");
    let created = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics", om.to_str().unwrap(), blocks.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(created.status.success(), "promtool: {}", String::from_utf8_lossy(&created.stderr));

    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = dir.path("prometheus.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 1m\nscrape_configs: []\n").unwrap();
    let _prometheus = Prometheus(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", blocks.display()))
            .arg("--storage.tsdb.retention.time=100y")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path("prometheus.stderr")).unwrap())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while get(port, "/-/ready").map(|(s, _)| s) != Some(200) {
        assert!(
            Instant::now() < deadline,
            "Prometheus not ready: {}",
            std::fs::read_to_string(dir.path("prometheus.stderr")).unwrap()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let (start_s, end_s) = (steps[0] / 1_000_000_000, steps[steps.len() - 1] / 1_000_000_000);
    let ms = |ns: u64| ns / 1_000_000;
    // Frames read by each step: exactly the capture's records before it.
    let packets = range(port, "sum(vendorwatch_capture_packets_total{capture=\"fixture\"})", start_s, end_s);
    for &b in &steps {
        let expected = times.iter().filter(|&&t| t < b).count() as f64;
        assert_eq!(packets.get(&ms(b)), Some(&expected), "frames read by step {b}");
    }
    // The traffic counters per step are those the replay wrote for it, and
    // never go down; the last step is the replay's final count.
    let finals = parse_metrics(&std::fs::read_to_string(&prom).unwrap());
    for family in [
        "vendorwatch_flows_total",
        "vendorwatch_bytes_total",
        "vendorwatch_packets_total",
        "vendorwatch_dns_queries_total",
    ] {
        let written = sums_by_time(&openmetrics, family);
        assert_eq!(written.len(), steps.len(), "{family}: a sample at every step");
        let queried = range(port, &format!("sum({family}{{capture=\"fixture\"}})"), start_s, end_s);
        assert_eq!(queried, written, "{family}: Prometheus answers what the replay wrote");
        let values: Vec<f64> = written.values().copied().collect();
        assert!(values.windows(2).all(|w| w[0] <= w[1]), "{family} is a counter: {values:?}");
        let total: f64 = finals.iter().filter(|s| s.0 == family).map(|s| s.2).sum();
        assert_eq!(values.last(), Some(&total), "{family}: the last step is the final count");
        if family == "vendorwatch_packets_total" {
            // The push flow's keepalives run to the capture's last minute.
            assert!(values[0] < total, "{family} grows over the capture: {values:?}");
        }
    }
    // A gauge, banned traffic by segment, as the dashboard asks for it.
    let banned =
        range(port, "sum(vendorwatch_hosts{capture=\"fixture\",banned=\"true\",segment=\"hq\"})", start_s, end_s);
    assert!(banned.values().all(|&v| v >= 1.0), "hq's banned hosts: {banned:?}");
}
