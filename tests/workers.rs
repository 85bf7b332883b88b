//! `replay --workers N`: the same report, flow log (as a set), metrics and
//! hosts file for 1, 2 and 4 workers, on every fixture alone, on all of
//! them in one run and on the nDPI corpus in one run; DNS answers still reach the flows they explain, also
//! across a capture rotated into a plain and a zstd file; and the same outputs on one core, where the
//! inputs are read in place rather than ahead on a thread of their own.

mod common;

use common::{TempDir, fixture, pcaps, vendorwatch};

/// What one replay wrote, with the flow log sorted (workers end flows in
/// their own order).
#[derive(Debug, PartialEq)]
struct Outputs {
    code: Option<i32>,
    report: String,
    table: String,
    flows: Vec<String>,
    metrics: String,
    hosts: String,
    /// The devices file: a device two workers both met is one record, its
    /// evidence and addresses in an order that does not depend on theirs.
    devices: String,
    /// The OpenMetrics history at 100 ms steps: the steps cut the
    /// workers' shares of the frames at the same places as one worker's.
    history: String,
}

fn replay(inputs: &[String], extra: &[&str], workers: usize) -> Outputs {
    replay_on(inputs, extra, workers, Cores::All)
}

/// The cores a replay may run on.
#[derive(Clone, Copy)]
enum Cores {
    All,
    /// Core 0 only (`taskset -c 0`).
    One,
}

fn run_on(cores: Cores, args: &[&str]) -> common::Output {
    match cores {
        Cores::All => vendorwatch(args),
        Cores::One => std::process::Command::new("taskset")
            .args(["-c", "0", env!("CARGO_BIN_EXE_vendorwatch")])
            .args(args)
            .output()
            .expect("run taskset (util-linux)")
            .into(),
    }
}

fn replay_on(inputs: &[String], extra: &[&str], workers: usize, cores: Cores) -> Outputs {
    let dir = TempDir::new("workers");
    let (flows, metrics, hosts) = (dir.path("flows.jsonl"), dir.path("m.prom"), dir.path("hosts.jsonl"));
    let history = dir.path("history.om");
    let devices = dir.path("devices.jsonl");
    let workers = workers.to_string();
    let mut args: Vec<&str> = vec!["replay"];
    args.extend(inputs.iter().map(String::as_str));
    args.extend(extra);
    args.extend(["--workers", &workers, "--format", "json"]);
    let outs = [
        "--flows-out",
        flows.to_str().unwrap(),
        "--metrics-out",
        metrics.to_str().unwrap(),
        "--hosts-out",
        hosts.to_str().unwrap(),
        "--devices-out",
        devices.to_str().unwrap(),
        "--openmetrics-out",
        history.to_str().unwrap(),
        "--step",
        "100ms",
    ];
    let out = run_on(cores, &[&args[..], &outs].concat());
    // Resource gauges left out; every count is compared. The workers' host
    // tables sum a device two workers both met; the shared DNS cache's size
    // at a step (not at the end) depends on how far the other workers are.
    let counts = |text: String, gauges: &[&str]| -> String {
        text.lines().filter(|l| !gauges.iter().any(|g| l.starts_with(g))).fold(String::new(), |mut out, l| {
            out.push_str(l);
            out.push('\n');
            out
        })
    };
    let table = run_on(cores, &[&args[..args.len() - 2], &["--format", "table"]].concat()).stdout;
    let mut flows: Vec<String> =
        std::fs::read_to_string(&flows).unwrap_or_default().lines().map(str::to_owned).collect();
    flows.sort();
    Outputs {
        code: out.code,
        report: out.stdout,
        table,
        flows,
        metrics: counts(std::fs::read_to_string(&metrics).unwrap_or_default(), &["vendorwatch_host_table_hosts "]),
        hosts: std::fs::read_to_string(&hosts).unwrap_or_default(),
        devices: std::fs::read_to_string(&devices).unwrap_or_default(),
        history: counts(
            std::fs::read_to_string(&history).unwrap_or_default(),
            &["vendorwatch_host_table_hosts ", "vendorwatch_dns_cache_entries "],
        ),
    }
}

fn fixtures() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(pcaps())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .map(|p| p.display().to_string())
        .collect();
    names.sort();
    names
}

fn assert_same_for_any_worker_count(inputs: &[String], extra: &[&str]) -> Outputs {
    let one = replay(inputs, extra, 1);
    assert!(!one.flows.is_empty() || one.code != Some(0), "{inputs:?}: no flows at all");
    for n in [2, 4] {
        let many = replay(inputs, extra, n);
        assert!(many == one, "{inputs:?} with {n} workers differs from one worker:\n{many:#?}\nvs\n{one:#?}");
    }
    one
}

#[test]
fn every_fixture_gives_the_same_outputs_with_one_two_and_four_workers() {
    for f in fixtures() {
        assert_same_for_any_worker_count(&[f], &[]);
    }
}

#[test]
fn all_fixtures_in_one_run_and_the_sample_with_its_config() {
    assert_same_for_any_worker_count(&fixtures(), &[]);
    let config = fixture("sample.toml").display().to_string();
    let sample =
        assert_same_for_any_worker_count(&[fixture("sample.pcap").display().to_string()], &["--config", &config]);
    assert!(sample.table.contains("TOP HOSTS PER BANNED VENDOR"), "{}", sample.table);
}

/// On one core the inputs are read in place (a read-ahead thread would
/// only take turns with the parser): the same outputs as read ahead, for
/// every fixture and a rotated plain and zstd capture in one run.
#[test]
fn one_core_reads_in_place_with_the_same_outputs() {
    let nproc = std::process::Command::new("taskset").args(["-c", "0", "nproc"]).output().expect("run taskset");
    assert_eq!(String::from_utf8_lossy(&nproc.stdout).trim(), "1", "taskset -c 0 leaves the replay one core");
    let dir = TempDir::new("one-core");
    let mut inputs = fixtures();
    inputs.extend(rotated(&dir, "dns.pcap", 3));
    for workers in [1, 2] {
        let ahead = replay_on(&inputs, &[], workers, Cores::All);
        assert!(!ahead.flows.is_empty());
        assert!(replay_on(&inputs, &[], workers, Cores::One) == ahead, "{workers} workers on one core differ");
    }
}

/// Inputs that go back in time (`devices` and `dns` are older than
/// `call_media`) and then forward past the idle timeouts (`dns_any_port`):
/// the older inputs' flows, created behind the clock, end idle at the same
/// step whichever worker's table they share with `call_media`'s fresher flows.
#[test]
fn flows_created_behind_the_clock_expire_at_the_same_step_on_any_worker() {
    let inputs: Vec<String> = ["call_media.pcap", "devices.pcap", "dns.pcap", "dns_any_port.pcap"]
        .iter()
        .map(|name| pcaps().join(name).display().to_string())
        .collect();
    let one = assert_same_for_any_worker_count(&inputs, &[]);
    let older = |f: &&String| {
        ["\"first_seen\":\"2026-03-02T08:0", "\"first_seen\":\"2026-03-02T08:1"].iter().any(|t| f.contains(t))
    };
    let (ended_idle, older_flows) = (
        one.flows.iter().filter(older).filter(|f| f.contains("\"end_reason\":\"idle_timeout\"")).count(),
        one.flows.iter().filter(older).count(),
    );
    assert!(older_flows > 10, "{:#?}", one.flows);
    assert_eq!(ended_idle, older_flows, "the older inputs' flows are idle long past their timeouts: {:#?}", one.flows);
}

/// All 128 captures of the nDPI corpus in one run: real traffic, with the
/// capture clock going back and forth between inputs (years apart), many
/// flows left unattributed (they wait for late DNS answers by the clock
/// of all workers' frames, not of a worker's own).
#[test]
fn the_ndpi_corpus_in_one_run_gives_the_same_outputs_on_any_worker() {
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/ndpi/pcap");
    if !corpus.is_dir() {
        // CI provides the corpus: without it this test would pass having checked nothing.
        assert!(std::env::var_os("CI").is_none(), "nDPI corpus not found at {}", corpus.display());
        eprintln!("workers: SKIPPED the nDPI corpus, not found at {}", corpus.display());
        return;
    }
    let mut inputs: Vec<String> =
        std::fs::read_dir(&corpus).unwrap().map(|e| e.unwrap().path().display().to_string()).collect();
    inputs.sort();
    assert!(inputs.len() >= 100, "{} captures in {}", inputs.len(), corpus.display());
    let one = assert_same_for_any_worker_count(&inputs, &[]);
    assert!(one.flows.len() > 1000, "{} flows", one.flows.len());
}

#[test]
fn dns_answers_reach_the_flows_they_explain_on_any_worker() {
    let dns = [fixture("dns.pcap").display().to_string()];
    let one = assert_same_for_any_worker_count(&dns, &[]);
    let by_dns = one.flows.iter().filter(|f| f.contains("\"evidence\":\"dns\"")).count();
    assert!(by_dns >= 2, "the fixture's flows attributed by earlier DNS answers: {:#?}", one.flows);
}

#[test]
fn workers_share_the_flow_bound_and_lose_no_packet_when_it_is_reached() {
    let config = fixture("sample.toml").display().to_string();
    let r = common::replay(&["sample.pcap"], &["--config", &config, "--max-flows", "4", "--workers", "2"]);
    assert_eq!(r.out.code, Some(0), "{:?}", r.out);
    let full = r.value("vendorwatch_flow_evictions_total{reason=\"table_full\"}");
    assert!(full > 0.0, "two flows per worker are too few for the sample");
    assert_eq!(common::count(full), r.flows.iter().filter(|f| f["end_reason"] == "table_full").count() as u64);
    let counted: f64 = r.samples("vendorwatch_flows_total").iter().map(|s| s.2).sum();
    assert_eq!(common::count(counted), r.flows.len() as u64, "every flow record is counted once");
    let packets: f64 = r.samples("vendorwatch_packets_total").iter().map(|s| s.2).sum();
    assert_eq!(common::count(packets), r.sum("packets"));
}

/// Splits the pcap `name` after its `at`-th record into two files, the
/// second zstd-compressed: a capture rotated mid-traffic.
fn rotated(dir: &TempDir, name: &str, at: usize) -> [String; 2] {
    let bytes = std::fs::read(fixture(name)).unwrap();
    let (records, end) = common::read_pcap(&fixture(name));
    assert!(end.is_ok() && at < records.len(), "{name}: {} records", records.len());
    let cut = records[at].offset;
    let (first, second) = (dir.path(&format!("1-{name}")), dir.path(&format!("2-{name}.zst")));
    std::fs::write(&first, &bytes[..cut]).unwrap();
    let rest = [&bytes[..24], &bytes[cut..]].concat();
    std::fs::write(&second, zstd::stream::encode_all(&rest[..], 3).unwrap()).unwrap();
    [first.display().to_string(), second.display().to_string()]
}

#[test]
fn a_rotated_capture_keeps_its_flows_and_dns_answers_on_any_worker() {
    let dir = TempDir::new("rotated");
    for name in ["dns.pcap", "sample.pcap"] {
        let whole = replay(&[fixture(name).display().to_string()], &[], 1);
        let records = common::read_pcap(&fixture(name)).0.len();
        // Early, middle and late cuts: answers before the cut explain flows after it.
        for at in [1, records / 2, records - 1] {
            let parts = rotated(&dir, name, at);
            let split = assert_same_for_any_worker_count(&parts, &[]);
            // The same flows as the whole capture: none is cut in two at
            // the file boundary, and the answers before the cut still
            // explain the flows after it (flow records carry no source).
            assert_eq!(split.flows, whole.flows, "{name} cut after record {at}");
        }
    }
}
