//! Live capture end to end, inside network namespaces.
//!
//! Each test makes its own pair of namespaces joined by a veth pair
//! (tests/common/netns.rs), runs `vendorwatch live` on one end and replays a
//! fixture capture with `tcpreplay` into the other. Traffic never leaves the
//! pair.
//!
//! Needs root, `ip` (iproute2), `tcpreplay`, `curl`, and for the scrape
//! test Debian's `prometheus` and `promtool`. Without them a test prints
//! "skipped: <why>" and passes, except in CI (`CI` set), where it fails.

mod common;
#[allow(dead_code)]
#[path = "common/netns.rs"]
mod netns;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::sleep;
use std::time::Duration;

use serde_json::Value;

use common::{Sample, TempDir, can_run, json_lines, output_with_stdin, parse_metrics, summary_rows};
use netns::{
    LISTEN, SENSOR, VethPair, exposition_value, healthz, http, missing, prometheus_query, run, sensor_get as get,
    sensor_json, start_prometheus, start_sensor, wait_for, wait_settled,
};

/// The value of a sample's label.
fn label<'a>(sample: &'a Sample, key: &str) -> Option<&'a str> {
    sample.1.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Sums a family of an exposition over everything but segment and vendor.
fn by_segment_vendor(exposition: &str, family: &str) -> BTreeMap<(String, String), u64> {
    let mut out = BTreeMap::new();
    for s in parse_metrics(exposition).iter().filter(|s| s.0 == family) {
        let key = (label(s, "segment").unwrap_or("").to_owned(), label(s, "vendor").unwrap_or("").to_owned());
        *out.entry(key).or_default() += common::count(s.2);
    }
    out.retain(|_, v| *v > 0);
    out
}

/// The fixture: the shipped sample capture when present, else a corpus
/// capture of plain Ethernet IPv4 TCP/UDP whose flows all settle.
fn fixture() -> PathBuf {
    if let Some(p) = std::env::var_os("VENDORWATCH_LIVE_FIXTURE") {
        return PathBuf::from(p);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidates = [root.join("pcaps/sample.pcap"), root.join("../shared/corpus/ndpi/pcap/telegram.pcap")];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| panic!("no fixture capture found among {candidates:?}"))
}

/// `vendorwatch replay --format json FILE`: the reference counts, and the
/// frames in the file.
fn replay_summary(file: &Path, extra: &[&str]) -> (Value, u64) {
    let out = run(Command::new(SENSOR).arg("replay").arg("--format").arg("json").args(extra).arg(file));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let packets = summary["capture"]["packets"].as_u64().unwrap();
    (summary, packets)
}

/// A copy of the shipped signature files in `dir/signatures`, to change.
fn copy_signatures(dir: &Path) -> PathBuf {
    let sigs = dir.join("signatures");
    fs::create_dir_all(&sigs).unwrap();
    for entry in fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("signatures")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            fs::copy(&path, sigs.join(path.file_name().unwrap())).unwrap();
        }
    }
    sigs
}

// ---------------------------------------------------------------- tests

/// The sensor's counts for a replayed capture equal `vendorwatch replay`'s
/// for the same file, in /api/summary, /metrics and through Prometheus.
#[test]
#[allow(
    clippy::too_many_lines,
    reason = "one end-to-end scenario: each step needs the namespaces, sensor and Prometheus the earlier steps set up"
)]
fn live_counts_match_replay_and_prometheus_scrapes_them() {
    if !can_run(
        "live_counts_match_replay_and_prometheus_scrapes_them",
        missing(&["ip", "tcpreplay", "curl", "prometheus", "promtool"]),
    ) {
        return;
    }
    let file = fixture();
    let (expected, expected_packets) = replay_summary(&file, &[]);
    let pair = VethPair::new();
    let dir = TempDir::new("live");
    // Idle flows end after 1 s, so every flow is counted soon after the
    // replay (replay counts all flows at end of file).
    let mut sensor = start_sensor(&pair, &dir.0, &["--idle-timeout", "1s", "--flush-interval", "200ms"]);
    pair.replay(&file);
    let text = wait_settled(&pair, &mut sensor, expected_packets);

    let summary = sensor_json(&pair.sensor_ns, "/api/summary");
    assert_eq!(summary_rows(&summary), summary_rows(&expected), "live /api/summary vs replay");
    assert_eq!(summary["capture"]["packets"], expected["capture"]["packets"]);
    assert_eq!(summary["capture"]["bytes"], expected["capture"]["bytes"]);

    let rows = summary_rows(&expected);
    let mut want: [BTreeMap<(String, String), u64>; 3] = Default::default();
    for ((segment, vendor, _), v) in &rows {
        for (i, value) in [v[0], v[1], v[2]].into_iter().enumerate() {
            if value > 0 {
                *want[i].entry((segment.clone(), vendor.clone())).or_default() += value;
            }
        }
    }
    for (i, name) in
        ["vendorwatch_flows_total", "vendorwatch_packets_total", "vendorwatch_bytes_total"].iter().enumerate()
    {
        assert_eq!(by_segment_vendor(&text, name), want[i], "{name} by segment and vendor");
    }
    let iface = format!("interface=\"{}\"", pair.sensor_if);
    assert_eq!(
        exposition_value(&text, "vendorwatch_capture_drops_total", &iface),
        Some(0.0),
        "kernel drops are exported"
    );
    assert_eq!(exposition_value(&text, "vendorwatch_capture_received_total", &iface), Some(expected_packets as f64));
    assert_eq!(
        exposition_value(&text, "vendorwatch_build_info", &format!("version=\"{}\"", env!("CARGO_PKG_VERSION"))),
        Some(1.0)
    );
    assert_eq!(exposition_value(&text, "vendorwatch_config_reload_failures_total", ""), Some(0.0));

    // The exposition passes promtool's checks; OpenMetrics on request.
    let checked = output_with_stdin(Command::new("promtool").args(["check", "metrics"]), text.as_bytes());
    assert!(
        checked.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    let (code, om) = http(
        &pair.sensor_ns,
        "GET",
        &format!("http://{LISTEN}/metrics"),
        &["Accept: application/openmetrics-text;version=1.0.0,text/plain;q=0.5"],
    );
    assert_eq!(code, 200);
    assert!(
        om.ends_with("# EOF\n") && om.contains("# TYPE vendorwatch_flows counter"),
        "OpenMetrics exposition:\n{om}"
    );

    // /api/flows: attributed flows with their evidence, filterable.
    let flows = sensor_json(&pair.sensor_ns, "/api/flows");
    let flows = flows["flows"].as_array().unwrap();
    let attributed: u64 = rows.iter().filter(|((_, v, _), _)| v != "none").map(|(_, r)| r[0]).sum();
    assert_eq!(flows.len() as u64, attributed.min(1000), "one record per attributed flow");
    if let Some(first) = flows.first() {
        assert!(first["evidence"].is_string() && first["signature"].is_string(), "{first}");
        let vendor = first["vendor"].as_str().unwrap();
        let segment = first["segment"].as_str().unwrap();
        let filtered = sensor_json(&pair.sensor_ns, &format!("/api/flows?vendor={vendor}&segment={segment}"));
        let filtered = filtered["flows"].as_array().unwrap();
        assert!(!filtered.is_empty() && filtered.iter().all(|f| f["vendor"] == vendor && f["segment"] == segment));
        let none = sensor_json(&pair.sensor_ns, "/api/flows?vendor=no-such-vendor");
        assert_eq!(none["flows"].as_array().unwrap().len(), 0);
    }

    // Debian's Prometheus scrapes the sensor; the counts read back through
    // its query API are the replay's.
    let mut prometheus = start_prometheus(&pair, &dir.0, &[]);
    // The non-zero series of an instant query by segment and vendor.
    let query = |q: &str| -> Option<BTreeMap<(String, String), u64>> {
        let mut m = BTreeMap::new();
        for r in prometheus_query(&pair.sensor_ns, q)? {
            let key = (
                r["metric"]["segment"].as_str().unwrap_or("").to_owned(),
                r["metric"]["vendor"].as_str().unwrap_or("").to_owned(),
            );
            let value: f64 = r["value"][1].as_str()?.parse().ok()?;
            if value > 0.0 {
                m.insert(key, common::count(value));
            }
        }
        Some(m)
    };
    for (i, name) in
        ["vendorwatch_flows_total", "vendorwatch_packets_total", "vendorwatch_bytes_total"].iter().enumerate()
    {
        let q = format!("sum by (segment, vendor) ({name})");
        let got = wait_for(&format!("Prometheus to return {q}"), Duration::from_secs(60), || {
            prometheus.assert_running();
            query(&q).filter(|m| !m.is_empty())
        });
        assert_eq!(got, want[i], "Prometheus: {q}");
    }
    let q = format!("vendorwatch_capture_packets_total{{source=\"{}\"}}", pair.sensor_if);
    let got = wait_for("Prometheus capture packets", Duration::from_secs(10), || query(&q).filter(|m| !m.is_empty()));
    assert_eq!(got.values().copied().collect::<Vec<_>>(), vec![expected_packets], "Prometheus: {q}");
    sensor.assert_running();
}

/// Two workers share the interface through `PACKET_FANOUT`: every frame is
/// read once, and the totals equal replay's.
#[test]
fn two_workers_share_an_interface_without_loss_or_duplicates() {
    if !can_run("two_workers_share_an_interface_without_loss_or_duplicates", missing(&["ip", "tcpreplay", "curl"])) {
        return;
    }
    let file = fixture();
    let (expected, expected_packets) = replay_summary(&file, &[]);
    let pair = VethPair::new();
    let dir = TempDir::new("live");
    let mut sensor =
        start_sensor(&pair, &dir.0, &["--workers", "2", "--idle-timeout", "1s", "--flush-interval", "200ms"]);
    pair.replay(&file);
    let text = wait_settled(&pair, &mut sensor, expected_packets);
    let summary = sensor_json(&pair.sensor_ns, "/api/summary");
    assert_eq!(summary["capture"]["packets"], expected["capture"]["packets"], "each frame read exactly once");
    assert_eq!(summary["capture"]["bytes"], expected["capture"]["bytes"]);
    let total = |rows: BTreeMap<(String, String, bool), [u64; 7]>| {
        rows.values().fold([0u64; 3], |a, r| [a[0] + r[0], a[1] + r[1], a[2] + r[2]])
    };
    assert_eq!(
        total(summary_rows(&summary)),
        total(summary_rows(&expected)),
        "flows, packets, bytes over all segments and vendors"
    );
    let iface = format!("interface=\"{}\"", pair.sensor_if);
    assert_eq!(exposition_value(&text, "vendorwatch_capture_received_total", &iface), Some(expected_packets as f64));
}

/// Reload by POST /-/reload and SIGHUP: a broken signature or config file
/// keeps the running set, counts a failure and names `file:line`; a good one
/// is taken; counters survive. Segments by interface come from the config.
#[test]
fn reload_keeps_the_running_rules_when_files_are_broken() {
    if !can_run("reload_keeps_the_running_rules_when_files_are_broken", missing(&["ip", "tcpreplay", "curl"])) {
        return;
    }
    let file = fixture();
    let pair = VethPair::new();
    let dir = TempDir::new("live");
    let sigs = copy_signatures(&dir.0);
    let config = dir.0.join("site.toml");
    let good_config = format!("[[segment]]\nname = \"mirror\"\ninterfaces = [\"{}\"]\n", pair.sensor_if);
    fs::write(&config, &good_config).unwrap();
    let sig_arg = sigs.display().to_string();
    let cfg_arg = config.display().to_string();
    let mut sensor = start_sensor(
        &pair,
        &dir.0,
        // POST /-/reload is served only with the lifecycle API on.
        &[
            "--signatures",
            &sig_arg,
            "--config",
            &cfg_arg,
            "--idle-timeout",
            "1s",
            "--flush-interval",
            "200ms",
            "--web.enable-lifecycle",
        ],
    );
    let ns = &pair.sensor_ns;
    let reload_url = format!("http://{LISTEN}/-/reload");
    let metrics = || get(ns, "/metrics");
    let gauge = |name: &str| exposition_value(&metrics(), name, "").unwrap();

    let started = gauge("vendorwatch_config_last_reload_success_timestamp_seconds");
    assert!(started > 1.0e9, "the start counts as a successful load");
    sleep(Duration::from_millis(20));
    let (code, body) = http(ns, "POST", &reload_url, &[]);
    assert_eq!(code, 200, "{body}");
    let first = gauge("vendorwatch_config_last_reload_success_timestamp_seconds");
    assert!(first > started);
    assert_eq!(common::count(gauge("vendorwatch_config_reload_failures_total")), 0);

    // A broken signature file: the error names it and the line.
    let google = sigs.join("google.toml");
    let good_google = fs::read_to_string(&google).unwrap();
    let bad_line = good_google.lines().count() + 4;
    fs::write(&google, format!("{good_google}\n[[entry]]\nservice = \"x\"\nno_such_field = 1\n")).unwrap();
    let (code, body) = http(ns, "POST", &reload_url, &[]);
    assert_eq!(code, 500, "a broken signature file is refused: {body}");
    let needle = format!("google.toml:{bad_line}");
    assert!(body.contains(&needle), "the error names {needle}: {body}");
    assert!(sensor.stderr().contains(&needle), "the error is logged with {needle}: {}", sensor.stderr());
    assert_eq!(common::count(gauge("vendorwatch_config_reload_failures_total")), 1);
    assert_eq!(common::count(gauge("vendorwatch_config_last_reload_successful")), 0);
    let unchanged = gauge("vendorwatch_config_last_reload_success_timestamp_seconds");
    assert_eq!(
        unchanged.to_bits(),
        first.to_bits(),
        "the failed reload leaves the success time at {first}: {unchanged}"
    );

    // A broken config by SIGHUP (the signatures are good again).
    fs::write(&google, &good_google).unwrap();
    fs::write(&config, format!("{good_config}[[segment]]\nname = \"lab\"\ncidrs = [\"not-a-cidr\"]\n")).unwrap();
    sensor.signal("HUP");
    wait_for("the SIGHUP reload to fail", Duration::from_secs(10), || {
        (common::count(gauge("vendorwatch_config_reload_failures_total")) == 2).then_some(())
    });
    assert!(sensor.stderr().contains("site.toml:6"), "the config error names site.toml:6: {}", sensor.stderr());

    // The running set (good signatures, the interface segment) still works.
    let (expected, expected_packets) = replay_summary(&file, &["--signatures", &sig_arg]);
    pair.replay(&file);
    wait_settled(&pair, &mut sensor, expected_packets);
    let per_vendor = |rows: BTreeMap<(String, String, bool), [u64; 7]>| {
        let mut m: BTreeMap<String, [u64; 3]> = BTreeMap::new();
        for ((_, vendor, _), r) in rows {
            let e = m.entry(vendor).or_default();
            for i in 0..3 {
                e[i] += r[i];
            }
        }
        m
    };
    let summary = sensor_json(ns, "/api/summary");
    let segments: Vec<&str> =
        summary["segments"].as_array().unwrap().iter().map(|s| s["segment"].as_str().unwrap()).collect();
    assert_eq!(segments, ["mirror"], "the interface places every flow in its segment");
    let live_rows = per_vendor(summary_rows(&summary));
    assert_eq!(live_rows, per_vendor(summary_rows(&expected)), "attributed under the running (good) signatures");

    // Good files again: taken, and the counters survive the reload.
    fs::write(&config, &good_config).unwrap();
    sensor.signal("HUP");
    wait_for("the SIGHUP reload to succeed", Duration::from_secs(10), || {
        (common::count(gauge("vendorwatch_config_last_reload_successful")) == 1).then_some(())
    });
    assert_eq!(common::count(gauge("vendorwatch_config_reload_failures_total")), 2);
    let after = sensor_json(ns, "/api/summary");
    assert_eq!(per_vendor(summary_rows(&after)), live_rows, "counters survive reloads");
    sensor.assert_running();
}

/// SIGTERM and SIGINT stop the sensor on an interface that never sees a
/// frame (`TPACKET_V3` would block until the first one): no frame comes,
/// so a sensor waiting for one would run until the hang guard fails it.
#[test]
fn sigterm_and_sigint_stop_the_sensor_on_a_silent_interface() {
    if !can_run("sigterm_and_sigint_stop_the_sensor_on_a_silent_interface", missing(&["ip", "curl"])) {
        return;
    }
    let pair = VethPair::new();
    let dir = TempDir::new("live");
    for (signal, workers) in [("TERM", "1"), ("INT", "2")] {
        let mut sensor = start_sensor(&pair, &dir.0, &["--workers", workers]);
        // Let the workers settle into their idle wait.
        sleep(Duration::from_millis(1500));
        sensor.assert_running();
        // A hang guard, not a speed check: the interface stays silent.
        let (status, took) = sensor.stop(signal, Duration::from_secs(30));
        assert!(status.success(), "SIG{signal}: exit status {status}: {}", sensor.stderr());
        eprintln!("SIG{signal} with {workers} worker(s): stopped in {took:?}");
    }
}

/// Without the privileges or the interface, the sensor says why and fails.
#[test]
fn a_missing_interface_is_a_clear_error() {
    if !can_run("a_missing_interface_is_a_clear_error", missing(&[])) {
        return;
    }
    let out = Command::new(SENSOR)
        .args(["live", "--interface", "vw-no-such-if", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("vw-no-such-if"), "{err}");
}

/// A line of /proc/PID/status, e.g. `Uid` -> "65534\t65534\t65534\t65534".
fn proc_status(pid: u32, key: &str) -> String {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let prefix = format!("{key}:");
    text.lines().find_map(|l| l.strip_prefix(&prefix)).map(|v| v.trim().to_owned()).unwrap_or_default()
}

/// Started as root with `--user nobody`, the sensor runs as nobody with
/// `CAP_NET_RAW` alone. Its interface vanishes: /healthz turns 503 and
/// `vendorwatch_capture_up` 0; the interface comes back: the sensor reopens
/// it by itself (as nobody), /healthz is 200 and `capture_up` 1 again, and the
/// traffic replayed then is counted as replay counts it.
#[test]
fn a_vanished_interface_is_reopened_by_the_unprivileged_sensor() {
    if !can_run("a_vanished_interface_is_reopened_by_the_unprivileged_sensor", missing(&["ip", "tcpreplay", "curl"])) {
        return;
    }
    let file = fixture();
    let (expected, expected_packets) = replay_summary(&file, &[]);
    let pair = VethPair::new();
    let dir = TempDir::new("live");
    let mut sensor =
        start_sensor(&pair, &dir.0, &["--user", "nobody", "--idle-timeout", "1s", "--flush-interval", "200ms"]);
    let ns = &pair.sensor_ns;

    let nobody = String::from_utf8(run(Command::new("id").args(["-u", "nobody"])).stdout).unwrap();
    let nobody = nobody.trim();
    let pid = sensor.child.id();
    assert_eq!(proc_status(pid, "Uid"), format!("{nobody}\t{nobody}\t{nobody}\t{nobody}"), "runs as nobody");
    assert!(!proc_status(pid, "Groups").split_whitespace().any(|g| g == "0"), "no root group");
    // Bit 13 is CAP_NET_RAW: the only capability left, effective and permitted.
    for set in ["CapEff", "CapPrm"] {
        assert_eq!(proc_status(pid, set), "0000000000002000", "{set}: only CAP_NET_RAW");
    }
    assert!(sensor.stderr().contains("running as nobody"), "{}", sensor.stderr());

    let up = format!("interface=\"{}\"", pair.sensor_if);
    let capture_up = || exposition_value(&get(ns, "/metrics"), "vendorwatch_capture_up", &up);
    assert_eq!(capture_up(), Some(1.0));

    pair.delete_link();
    wait_for("/healthz to say the capture is down", Duration::from_secs(15), || {
        sensor.assert_running();
        (healthz(ns) == 503).then_some(())
    });
    assert_eq!(capture_up(), Some(0.0), "capture_up while the interface is gone");
    let errors = exposition_value(&get(ns, "/metrics"), "vendorwatch_capture_errors_total", &up).unwrap();
    assert!(errors >= 1.0, "the failed read is counted");
    // Reopening is tried (and fails) while the interface is away.
    wait_for("a reopen attempt to fail", Duration::from_secs(15), || {
        sensor.stderr().contains(&format!("cannot capture on interface {}", pair.sensor_if)).then_some(())
    });
    assert_eq!(healthz(ns), 503, "still down after a failed reopen");

    pair.add_link();
    wait_for("/healthz to say the sensor captures again", Duration::from_secs(30), || {
        sensor.assert_running();
        (healthz(ns) == 200).then_some(())
    });
    assert_eq!(capture_up(), Some(1.0), "capture_up once the interface is back");
    assert!(sensor.stderr().contains("again"), "{}", sensor.stderr());

    pair.replay(&file);
    let text = wait_settled(&pair, &mut sensor, expected_packets);
    let summary = sensor_json(ns, "/api/summary");
    assert_eq!(summary_rows(&summary), summary_rows(&expected), "traffic after the reopen is counted as replay does");
    assert_eq!(exposition_value(&text, "vendorwatch_capture_received_total", &up), Some(expected_packets as f64));
    assert_eq!(proc_status(pid, "Uid"), format!("{nobody}\t{nobody}\t{nobody}\t{nobody}"), "still nobody");
    sensor.assert_running();
}

/// A reload that takes long (a large generated signature set) holds up
/// nothing: /metrics and /healthz answer while it is built, and SIGTERM
/// stops the sensor within two seconds though the reload is unfinished.
#[test]
fn a_slow_reload_blocks_no_endpoint_and_no_stop() {
    if !can_run("a_slow_reload_blocks_no_endpoint_and_no_stop", missing(&["ip", "curl"])) {
        return;
    }
    let pair = VethPair::new();
    let dir = TempDir::new("live");
    let sigs = copy_signatures(&dir.0);
    let sig_arg = sigs.display().to_string();
    let mut sensor = start_sensor(&pair, &dir.0, &["--signatures", &sig_arg]);
    let ns = &pair.sensor_ns;
    let started =
        exposition_value(&get(ns, "/metrics"), "vendorwatch_config_last_reload_success_timestamp_seconds", "").unwrap();

    // Half a million names: seconds of parsing and indexing.
    let mut big =
        String::from("vendor = \"generated\"\ndisplay_name = \"Generated\"\n\n[[entry]]\nservice = \"bulk\"\n");
    big.push_str("source = \"tests/live.rs\"\nhosts = [\n");
    for i in 0..500_000 {
        let _ = writeln!(big, "  \"h{i}.generated-{}.example\",", i % 1000);
    }
    big.push_str("]\n");
    fs::write(sigs.join("generated.toml"), big).unwrap();

    sensor.signal("HUP");
    wait_for("the reload to start", Duration::from_secs(10), || {
        sensor.stderr().contains("reloading (SIGHUP)").then_some(())
    });
    let (metrics, health) = (get(ns, "/metrics"), healthz(ns));
    assert!(!sensor.stderr().contains("reloaded (SIGHUP)"), "the reload ended before the check; make it larger");
    assert_eq!(health, 200, "/healthz answers during the reload");
    assert_eq!(
        exposition_value(&metrics, "vendorwatch_config_last_reload_success_timestamp_seconds", ""),
        Some(started),
        "/metrics answers during the reload, with the running set's state"
    );

    let (status, took) = sensor.stop("TERM", Duration::from_secs(15));
    let stderr = sensor.stderr();
    assert!(status.success(), "exit status {status}: {stderr}");
    assert!(!stderr.contains("reloaded (SIGHUP)"), "the reload was still running when the sensor stopped: {stderr}");
    eprintln!("SIGTERM during a slow reload: stopped in {took:?}");
}

/// The records of a flow log so far (none before the sensor writes one).
fn flow_log(path: &Path) -> Vec<Value> {
    json_lines(path).unwrap_or_default()
}

fn community_ids(records: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> =
        records.iter().map(|r| r["community_id"].as_str().expect("community_id").to_owned()).collect();
    ids.sort();
    ids
}

/// A reload that bans a vendor relabels its counts: the exposition has one
/// series per vendor and service, now banned="true", and Prometheus' `sum by
/// (vendor)` stays the replay's count. The sensor's flow log has every flow
/// once, with the Community IDs replay writes and the interface name; after
/// logrotate's move and a SIGHUP it goes on in a new file.
#[test]
fn a_reload_that_bans_a_vendor_relabels_its_counts_and_the_flow_log_rotates() {
    if !can_run(
        "a_reload_that_bans_a_vendor_relabels_its_counts_and_the_flow_log_rotates",
        missing(&["ip", "tcpreplay", "curl", "prometheus"]),
    ) {
        return;
    }
    let file = fixture();
    let dir = TempDir::new("live");
    let replay_log = dir.0.join("replay.jsonl");
    let (expected, expected_packets) = replay_summary(&file, &["--flows-out", replay_log.to_str().unwrap()]);
    let replay_records = flow_log(&replay_log);
    let total_flows: u64 = summary_rows(&expected).values().map(|r| r[0]).sum();
    assert_eq!(replay_records.len() as u64, total_flows);
    let mut per_vendor: BTreeMap<String, u64> = BTreeMap::new();
    for ((_, vendor, _), r) in summary_rows(&expected) {
        *per_vendor.entry(vendor).or_default() += r[0];
    }
    let vendor = "apple";
    assert!(per_vendor.get(vendor).is_some_and(|&n| n > 0), "the fixture has {vendor} flows: {per_vendor:?}");

    let pair = VethPair::new();
    let config = dir.0.join("site.toml");
    fs::write(&config, "[policy]\nbanned = []\n").unwrap();
    let flows = dir.0.join("flows.jsonl");
    let (cfg_arg, flows_arg) = (config.display().to_string(), flows.display().to_string());
    let mut sensor = start_sensor(
        &pair,
        &dir.0,
        &["--config", &cfg_arg, "--flows-out", &flows_arg, "--idle-timeout", "1s", "--flush-interval", "200ms"],
    );
    let ns = &pair.sensor_ns;
    pair.replay(&file);
    let before = wait_settled(&pair, &mut sensor, expected_packets);
    let logged = wait_for("the flow log to have every flow", Duration::from_secs(10), || {
        let r = flow_log(&flows);
        (r.len() as u64 == total_flows).then_some(r)
    });
    assert_eq!(community_ids(&logged), community_ids(&replay_records), "the Community IDs replay writes");
    assert!(logged.iter().all(|r| r["interface_name"] == pair.sensor_if.as_str()), "{:?}", logged.first());
    assert!(logged.iter().all(|r| r["end_reason"] != "active"), "ended flows only");
    assert_readme_lists_every_family(&before);

    let series = |text: &str, banned: &str| {
        parse_metrics(text)
            .iter()
            .filter(|s| {
                s.0 == "vendorwatch_flows_total"
                    && label(s, "vendor") == Some(vendor)
                    && label(s, "banned") == Some(banned)
            })
            .count()
    };
    assert!(series(&before, "false") > 0 && series(&before, "true") == 0, "not banned yet");

    let mut prometheus = start_prometheus(&pair, &dir.0, &[]);
    let sum_by_vendor = || -> Option<BTreeMap<String, u64>> {
        let mut m = BTreeMap::new();
        for r in prometheus_query(ns, "sum by (vendor) (vendorwatch_flows_total)")? {
            let value: f64 = r["value"][1].as_str()?.parse().ok()?;
            m.insert(r["metric"]["vendor"].as_str()?.to_owned(), common::count(value));
        }
        Some(m).filter(|m| !m.is_empty())
    };
    let got = wait_for("Prometheus to scrape", Duration::from_secs(60), || {
        prometheus.assert_running();
        sum_by_vendor()
    });
    assert_eq!(got, per_vendor, "sum by (vendor) before the reload");

    // logrotate moves the log away; the reload's SIGHUP reopens it.
    let rotated = dir.0.join("flows.jsonl.1");
    fs::rename(&flows, &rotated).unwrap();
    fs::write(&config, format!("[policy]\nbanned = [\"{vendor}\"]\n")).unwrap();
    sensor.signal("HUP");
    let after = wait_for("the reload that bans the vendor", Duration::from_secs(20), || {
        let text = get(ns, "/metrics");
        (series(&text, "true") > 0).then_some(text)
    });
    assert_eq!(series(&after, "false"), 0, "relabelled, not a second series beside the old one");
    assert_eq!(
        by_segment_vendor(&after, "vendorwatch_flows_total"),
        by_segment_vendor(&before, "vendorwatch_flows_total")
    );
    let scraped_after =
        exposition_value(&after, "vendorwatch_config_last_reload_success_timestamp_seconds", "").unwrap();
    let got = wait_for("Prometheus to scrape the relabelled series", Duration::from_secs(30), || {
        let q = format!("vendorwatch_config_last_reload_success_timestamp_seconds >= {scraped_after}");
        (!prometheus_query(ns, &q)?.is_empty()).then(sum_by_vendor).flatten()
    });
    assert_eq!(got, per_vendor, "sum by (vendor) after the reload: no vendor counted twice");

    // The flow log goes on in a new file; the rotated one is left whole.
    pair.replay(&file);
    wait_settled(&pair, &mut sensor, 2 * expected_packets);
    let new_file = wait_for("the reopened flow log to have every flow", Duration::from_secs(10), || {
        let r = flow_log(&flows);
        (r.len() as u64 == total_flows).then_some(r)
    });
    assert_eq!(flow_log(&rotated).len() as u64, total_flows, "the rotated file keeps the first round");
    assert_eq!(community_ids(&new_file), community_ids(&replay_records));
    let banned_now = new_file.iter().filter(|r| r["vendor"] == vendor).all(|r| r["banned"] == true);
    assert!(banned_now, "records after the reload say banned");
    sensor.assert_running();
    prometheus.assert_running();
}

/// Every family of an exposition has a row in the README's metrics table.
fn assert_readme_lists_every_family(exposition: &str) {
    let readme = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme.find("### Metrics (").expect("the README's metrics section");
    let rows: Vec<&str> =
        readme[start..].lines().skip_while(|l| !l.starts_with('|')).take_while(|l| l.starts_with('|')).collect();
    let listed =
        |name: &str| rows.iter().any(|r| r.split('|').nth(1).is_some_and(|c| c.contains(&format!("`{name}`"))));
    let families: Vec<&str> =
        exposition.lines().filter_map(|l| l.strip_prefix("# TYPE ")?.split_whitespace().next()).collect();
    assert!(families.len() > 20, "{families:?}");
    let missing: Vec<&&str> = families.iter().filter(|f| !listed(f)).collect();
    assert!(missing.is_empty(), "exported but not in the README's metrics table: {missing:?}");
}
