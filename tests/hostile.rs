//! Hostile input and load: what an attacker or a busy link does to the
//! engine, and the bounded outcome each must have.
//!
//! - DNS answers and the connections they name reach different workers:
//!   counts must not depend on `--workers` (in-process, two pipelines
//!   sharing the answer cache; and live, in a network namespace, with 1, 2
//!   and 4 workers).

mod common;
#[allow(dead_code)]
#[path = "common/netns.rs"]
mod netns;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use common::{TempDir, fixture, summary_rows};
use netns::VethPair;
use serde_json::Value;
use synth::app::{self, Answer};
use synth::conv::{Capture, Path as Conv, TcpSession};
use vendorwatch::aggregate::Aggregator;
use vendorwatch::classify::signatures::SignatureSet;
use vendorwatch::pipeline::{FlowRecords, Pipeline, Rules};
use vendorwatch::segment::Config;
use vendorwatch::source::{Frame, LinkType};

fn rules() -> Arc<Rules> {
    Arc::new(Rules::new(SignatureSet::embedded(), Config::default_auto()).unwrap())
}

fn feed(pipeline: &mut Pipeline, source: usize, cap: &Capture) {
    for r in cap.records() {
        let frame = Frame {
            ts_ns: r.ts_ns,
            link: LinkType::Ethernet,
            data: &r.data,
            wire_len: u32::try_from(r.data.len()).unwrap(),
            interface: 0,
        };
        pipeline.process(&frame, source);
    }
}

/// (segment, vendor, service) -> flows, over a batch's counters.
fn flows_by_vendor(counts: &Aggregator) -> BTreeMap<(String, String, String), u64> {
    counts
        .traffic
        .iter()
        .map(|(k, t)| ((k.segment.to_string(), k.vendor.to_string(), k.service.to_string()), t.flows))
        .collect()
}

// ------------------------------------------------- counts and the worker count

/// The resolver's flow goes to one worker, the client's connection to
/// another, and the connection's worker reads the SYN before the other has
/// read the answer (two rings hand their frames over independently). The
/// connection still counts for the vendor the answer named, once, as a
/// single worker reading both in order counts it.
#[test]
fn an_answer_read_by_another_worker_after_the_syn_still_attributes_the_flow() {
    let t0 = 1_700_000_000_000_000_000;
    let mut answer = Capture::new(t0, 1_000_000);
    let resolver = Conv::new("10.10.1.21:53001", "10.10.0.1:53");
    answer.push(resolver.udp(true, &app::dns_query(7, "gateway.icloud.com", 1)));
    answer.push(resolver.udp(
        false,
        &app::dns_response(7, "gateway.icloud.com", 1, &[Answer::a("gateway.icloud.com", 300, "198.51.100.31")]),
    ));
    // The connection: 1 ms after the answer, no name of its own.
    let mut conn = Capture::new(t0 + 2_000_000, 1_000_000);
    let mut session = TcpSession::new(Conv::new("10.10.1.21:52002", "198.51.100.31:443"), 1, 1);
    session.handshake(&mut conn);
    session.client_write(&mut conn, &app::tls_app_data(300, 1));

    let rules = rules();
    let single = {
        let mut p = Pipeline::new(rules.clone(), 1024, FlowRecords::Off);
        let source = p.add_source("eth0");
        feed(&mut p, source, &answer);
        feed(&mut p, source, &conn);
        p.finish();
        flows_by_vendor(&p.take_batch().counts)
    };
    let key = ("net-10-10".to_owned(), "apple".to_owned(), "icloud".to_owned());
    assert_eq!(single.get(&key), Some(&1), "one worker, in order: {single:?}");

    let cache = Pipeline::new_dns_cache();
    let mut syn_worker = Pipeline::new(rules.clone(), 1024, FlowRecords::Off);
    let mut answer_worker = Pipeline::new(rules, 1024, FlowRecords::Off);
    syn_worker.share_dns_cache(cache.clone());
    answer_worker.share_dns_cache(cache);
    let (s1, s2) = (syn_worker.add_source("eth0"), answer_worker.add_source("eth0"));
    feed(&mut syn_worker, s1, &conn);
    // A flush now (the worker's timer fires) must not count the flow yet:
    // the answer it may be waiting for is still in the other ring.
    syn_worker.flush();
    let early = syn_worker.take_batch().counts;
    assert!(early.traffic.is_empty(), "counted before any answer could be read: {:?}", flows_by_vendor(&early));
    feed(&mut answer_worker, s2, &answer);
    syn_worker.finish();
    answer_worker.finish();
    let mut merged = syn_worker.take_batch().counts;
    merged.merge(answer_worker.take_batch().counts);
    assert_eq!(flows_by_vendor(&merged), single, "two workers, the SYN first");
}

/// An answer that came after the connection began says nothing about it:
/// a late look never takes one a single in-order worker would not have had.
#[test]
fn an_answer_after_the_connection_began_does_not_attribute_it() {
    let t0 = 1_700_000_000_000_000_000;
    let mut conn = Capture::new(t0, 1_000_000);
    let mut session = TcpSession::new(Conv::new("10.10.1.21:52002", "198.51.100.31:443"), 1, 1);
    session.handshake(&mut conn);
    let mut answer = Capture::new(t0 + 50_000_000, 1_000_000);
    answer.push(Conv::new("10.10.1.21:53001", "10.10.0.1:53").udp(
        false,
        &app::dns_response(7, "gateway.icloud.com", 1, &[Answer::a("gateway.icloud.com", 300, "198.51.100.31")]),
    ));
    let mut p = Pipeline::new(rules(), 1024, FlowRecords::Off);
    let source = p.add_source("eth0");
    feed(&mut p, source, &conn);
    feed(&mut p, source, &answer);
    p.finish();
    let flows = flows_by_vendor(&p.take_batch().counts);
    assert!(!flows.keys().any(|(_, vendor, _)| vendor == "apple"), "{flows:?}");
}

/// The quick-start sample and 64 lookups each followed by a connection only
/// the answer attributes, through a live sensor with 1, 2 and 4 workers,
/// replayed at tcpreplay's top speed (no gap at all between an answer and
/// the connection it names): every worker count gives replay's counts for
/// every segment and vendor. (Which worker a flow goes to is a hash fixed
/// per boot; 64 pairs make it all but certain that some lookups and their
/// connections go to different workers.)
#[test]
fn live_counts_are_the_same_with_one_two_and_four_workers() {
    let test = "live_counts_are_the_same_with_one_two_and_four_workers";
    if !common::can_run(test, netns::missing(&["ip", "tcpreplay", "curl"])) {
        return;
    }
    let dir = TempDir::new("workers");
    let spread = dir.path("dns_then_connect.pcap");
    std::fs::write(&spread, synth::fixtures::dns_then_connect(64)).unwrap();
    let files = [fixture("sample.pcap"), spread];
    let config = fixture("sample.toml").display().to_string();
    let out =
        netns::run(Command::new(netns::SENSOR).args(["replay", "--format", "json", "--config", &config]).args(&files));
    let expected: Value = serde_json::from_slice(&out.stdout).unwrap();
    let expected_rows = summary_rows(&expected);
    let icloud = expected_rows.get(&("hq".to_owned(), "apple".to_owned(), true)).map_or(0, |r| r[0]);
    assert!(icloud >= 64, "the answers attribute every connection in replay: {expected_rows:?}");
    let mut packets = 0;
    for workers in ["1", "2", "4"] {
        let pair = VethPair::new();
        let mut sensor = netns::start_sensor(
            &pair,
            &dir.0,
            &["--config", &config, "--workers", workers, "--idle-timeout", "1s", "--flush-interval", "200ms"],
        );
        packets = 0;
        for file in &files {
            pair.replay(file);
            packets += common::read_pcap(file).0.len() as u64;
            netns::wait_settled(&pair, &mut sensor, packets);
        }
        let summary = netns::sensor_json(&pair.sensor_ns, "/api/summary");
        assert_eq!(summary["capture"]["packets"], expected["capture"]["packets"], "{workers} workers");
        assert_eq!(summary_rows(&summary), expected_rows, "{workers} workers vs replay");
    }
    assert_eq!(expected["capture"]["packets"].as_u64(), Some(packets));
}

// ------------------------------------------------------------- bounded memory

/// A line of /proc/PID/status, in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("no {field} in {status}"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// The finding: 30,000 HTTP flows, each sending a request head with a
/// 15 KB Host in 1448-byte segments and never finishing it, took a replay
/// to 464 MB. Every byte a flow holds for its inspection is now charged to
/// the worker's inspection budget (64 MiB), and names are cut to 255
/// bytes, so the replay's own high-water mark (`VmHWM`, read while it still
/// runs, after it has read the whole flood) stays under the budget, the
/// flow table's 30,000 entries at 1 KiB each, and a 40 MiB allowance for
/// the program itself (a replay of the 144-frame sample peaks at 15 MB).
#[test]
fn a_host_header_flood_stays_within_the_inspection_budget() {
    use std::process::Stdio;

    const FLOWS: u32 = 30_000;
    // The inspection budget is per worker: one worker, one budget.
    const BUDGET: u64 = 64 << 20;
    let dir = TempDir::new("flood");
    let metrics = dir.path("metrics.prom");
    let mut child = Command::new(netns::SENSOR)
        .args(["replay", "-", "--workers", "1", "--metrics-out"])
        .arg(&metrics)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut writer =
        synth::capture::PcapWriter::new(child.stdin.take().unwrap(), synth::capture::PcapFormat::new(1)).unwrap();
    let mut frames = 0u64;
    for record in synth::fixtures::host_header_flood(FLOWS, 15_000) {
        writer.write(&record).unwrap();
        frames += 1;
    }
    // Then 8 MB of plain datagrams: once the pipe has taken them, the
    // replay has read (and processed) every frame of the flood.
    let tail = Conv::new("10.10.9.9:5000", "203.0.113.99:9");
    for k in 0..6_000u64 {
        writer.write(&synth::capture::Record::new(1_800_000_000_000_000_000 + k, tail.udp(true, &[0; 1400]))).unwrap();
        frames += 1;
    }
    let peak_kib = status_kib(pid, "VmHWM:");
    drop(writer.finish().unwrap());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let text = std::fs::read_to_string(&metrics).unwrap();
    let sample =
        |name: &str| common::count(common::parse_metrics(&text).into_iter().filter(|s| s.0 == name).map(|s| s.2).sum());
    assert_eq!(sample("vendorwatch_capture_packets_total"), frames, "every frame read");
    assert_eq!(sample("vendorwatch_flows_total"), u64::from(FLOWS) + 1);
    let refused = sample("vendorwatch_inspect_refused_total");
    assert!(refused > 0, "the budget ran out before 30,000 heads of 15 KB were held: {text}");
    let bound_kib = (BUDGET + u64::from(FLOWS) * 1024 + (40 << 20)) / 1024;
    eprintln!(
        "host flood: VmHWM {} MiB (bound {} MiB), {refused} flows refused inspection",
        peak_kib / 1024,
        bound_kib / 1024
    );
    assert!(peak_kib < bound_kib, "VmHWM {peak_kib} KiB over {bound_kib} KiB");
}

/// Reloads must not pile anything up (the finding: 10,000 reloads left a
/// sensor at 249 MB instead of 71): after each reload and flush nothing
/// holds the old rules, and the merged counters and their label strings
/// stay the same size while the same traffic keeps coming.
#[test]
fn reloads_keep_nothing_of_the_old_rules() {
    let sample = std::fs::read(fixture("sample.pcap")).unwrap();
    let config = std::fs::read_to_string(fixture("sample.toml")).unwrap();
    let load = || {
        let config = Config::parse(Path::new("sample.toml"), &config).unwrap();
        Arc::new(Rules::new(SignatureSet::embedded(), config).unwrap())
    };
    let mut pipeline = Pipeline::new(load(), 4096, FlowRecords::Attributed);
    let source = pipeline.add_source("eth0");
    let mut merged = Aggregator::default();
    let mut sizes = Vec::new();
    for round in 0..100u64 {
        let old = Arc::downgrade(pipeline.rules());
        pipeline.set_rules(load());
        let mut reader = vendorwatch::source::file::CaptureReader::from_reader(&sample[..]).unwrap();
        while let Some(frame) = reader.next_frame().unwrap() {
            // Each round an hour later, as a sensor's clock runs on.
            let frame = Frame { ts_ns: frame.ts_ns + round * 3_600_000_000_000, ..frame };
            pipeline.process(&frame, source);
        }
        pipeline.tick(u64::MAX / 2 + round);
        pipeline.flush();
        let batch = pipeline.take_batch();
        merged.merge(batch.counts);
        assert!(old.upgrade().is_none(), "round {round}: the replaced rules are still held");
        let labels: std::collections::BTreeSet<String> = merged
            .traffic
            .keys()
            .flat_map(|k| [k.segment.to_string(), k.vendor.to_string(), k.service.to_string()])
            .collect();
        sizes.push((merged.traffic.len(), merged.dns_queries.len(), labels.len()));
    }
    assert!(sizes[0].0 > 5, "the sample's traffic is counted: {:?}", sizes[0]);
    assert!(sizes.iter().all(|s| *s == sizes[0]), "sizes changed across reloads: {sizes:?}");
}
