//! What `vendorwatch replay` takes in: compressed captures (told by content),
//! standard input, directories, damaged and oversized records, and stamps
//! that cannot be right. Each test builds its inputs from the committed
//! fixtures (compressing, copying or patching them here) and checks the
//! report, the flow log and the metrics against what was built.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Command;

use common::{Output, TempDir, fixture, output_with_stdin, read_pcap, replay};
use serde_json::Value;
use synth::capture::{PcapFormat, Record, pcap_bytes};
use synth::fixtures;
use vendorwatch::source::MAX_RECORD_LEN;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(data, 3).unwrap()
}

fn xz(data: &[u8]) -> Vec<u8> {
    let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 6);
    xz.write_all(data).unwrap();
    xz.finish().unwrap()
}

/// The report as JSON, with the per-source details that differ between
/// runs of the same packets under other names left out.
fn report(stdout: &str) -> Value {
    let mut v: Value = serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    v["capture"].as_object_mut().unwrap().remove("sources");
    v
}

fn sample_report() -> Value {
    let plain = replay(&["sample.pcap"], &["--config", fixture("sample.toml").to_str().unwrap(), "--format", "json"]);
    assert_eq!(plain.out.code, Some(0), "{:?}", plain.out);
    report(&plain.out.stdout)
}

/// `vendorwatch ARGS` with `input` on standard input.
fn with_stdin(args: &[&str], input: &[u8]) -> Output {
    output_with_stdin(Command::new(env!("CARGO_BIN_EXE_vendorwatch")).args(args), input).into()
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn gzip_zstd_and_xz_captures_are_told_by_content_and_read_like_the_plain_file() {
    let plain = std::fs::read(fixture("sample.pcap")).unwrap();
    let want = sample_report();
    let (records, _) = read_pcap(&fixture("sample.pcap"));
    let dir = TempDir::new("compressed");
    let config = fixture("sample.toml");
    // Names that say nothing of the format: only the content can tell.
    for (name, bytes) in [("office.capture", gzip(&plain)), ("office.data", zstd(&plain)), ("office", xz(&plain))] {
        let path = dir.path(name);
        std::fs::write(&path, &bytes).unwrap();
        let r = replay(&[path_str(&path)], &["--config", path_str(&config), "--format", "json"]);
        assert_eq!(r.out.code, Some(0), "{name}: {:?}", r.out);
        assert_eq!(report(&r.out.stdout), want, "{name}: the same report as the uncompressed capture");
        assert_eq!(
            r.metric(&format!("vendorwatch_capture_packets_total{{source=\"{name}\"}}")),
            Some(records.len() as f64)
        );
    }
}

#[test]
fn a_dash_reads_standard_input() {
    let plain = std::fs::read(fixture("sample.pcap")).unwrap();
    let config = fixture("sample.toml");
    let dir = TempDir::new("stdin");
    let metrics = dir.path("metrics.prom");
    let args = ["replay", "-", "--config", path_str(&config), "--format", "json", "--metrics-out", path_str(&metrics)];
    for input in [plain.clone(), zstd(&plain)] {
        let out = with_stdin(&args, &input);
        assert_eq!(out.code, Some(0), "{out:?}");
        assert_eq!(report(&out.stdout), sample_report());
        let text = std::fs::read_to_string(&metrics).unwrap();
        let (records, _) = read_pcap(&fixture("sample.pcap"));
        assert!(
            text.contains(&format!("vendorwatch_capture_packets_total{{source=\"stdin\"}} {}\n", records.len())),
            "{text}"
        );
    }
}

#[test]
fn a_directory_is_read_recursively_in_name_order_and_same_names_stay_two_sources() {
    let dir = TempDir::new("tree");
    for sub in ["captures/mon", "captures/tue/late", "captures/.cache"] {
        std::fs::create_dir_all(dir.path(sub)).unwrap();
    }
    let tls = std::fs::read(fixture("tls_sni.pcap")).unwrap();
    let http = std::fs::read(fixture("http_host.pcap")).unwrap();
    std::fs::write(dir.path("captures/tue/tls_sni.pcap"), &tls).unwrap();
    std::fs::write(dir.path("captures/mon/tls_sni.pcap"), &tls).unwrap();
    std::fs::write(dir.path("captures/tue/late/http.pcap.gz"), gzip(&http)).unwrap();
    std::fs::write(dir.path("captures/notes.txt"), "where these came from\n").unwrap();
    std::fs::write(dir.path("captures/.cache/tls_sni.pcap"), &tls).unwrap();
    let r = replay(&[path_str(&dir.path("captures"))], &[]);
    assert_eq!(r.out.code, Some(0), "{:?}", r.out);
    assert!(r.out.stderr.contains("notes.txt: skipped, not a capture"), "{}", r.out.stderr);
    let sources: Vec<(String, f64)> = r
        .samples("vendorwatch_capture_packets_total")
        .into_iter()
        .map(|(_, labels, v)| (labels[0].1.clone(), v))
        .collect();
    let want = [("mon/tls_sni.pcap", 8.0), ("http.pcap.gz", 9.0), ("tue/tls_sni.pcap", 8.0)];
    assert_eq!(sources, want.map(|(s, n)| (s.to_owned(), n)), "name order, hidden folder left out");
    assert_eq!(r.flows.len(), 3, "{}", r.dump());
    assert!(r.metric("vendorwatch_capture_errors_total{source=\"notes.txt\",reason=\"not_a_capture\"}").is_none());

    // Named on the command line, a file that is no capture is an error.
    let r = replay(&[path_str(&dir.path("captures/notes.txt"))], &[]);
    assert_eq!(r.out.code, Some(1), "{:?}", r.out);
}

#[test]
fn a_truncated_compressed_file_shows_in_the_metrics_and_the_footer() {
    let mut cut = gzip(&std::fs::read(fixture("sample.pcap")).unwrap());
    cut.truncate(cut.len() * 2 / 3);
    let dir = TempDir::new("cut");
    let path = dir.path("sample.pcap.gz");
    std::fs::write(&path, &cut).unwrap();
    let r = replay(&[path_str(&path), "tls_sni.pcap"], &[]);
    assert_eq!(r.out.code, Some(0), "{:?}", r.out);
    assert!(r.out.stderr.contains("sample.pcap.gz"), "{}", r.out.stderr);
    assert_eq!(r.metric("vendorwatch_capture_errors_total{source=\"sample.pcap.gz\",reason=\"truncated\"}"), Some(1.0));
    assert!(r.metric("vendorwatch_capture_errors_total{source=\"tls_sni.pcap\",reason=\"truncated\"}").is_none());
    let read = r.value("vendorwatch_capture_packets_total{source=\"sample.pcap.gz\"}");
    let (records, _) = read_pcap(&fixture("sample.pcap"));
    assert!(read > 0.0 && read < records.len() as f64, "kept what came before the cut: {read}");
    assert!(r.out.stdout.contains("; 1 file with errors\n"), "{}", r.out.stdout);
    assert!(r.out.stdout.contains("\n  sample.pcap.gz: "), "the footer names the file: {}", r.out.stdout);

    let strict = replay(&[path_str(&path)], &["--strict"]);
    assert_eq!(strict.out.code, Some(1), "{:?}", strict.out);
}

#[test]
fn an_unreadable_file_shows_in_the_metrics_and_the_footer() {
    let dir = TempDir::new("unreadable");
    let missing = dir.path("missing.pcap");
    let r = replay(&[path_str(&missing), "tls_sni.pcap"], &["--format", "table"]);
    assert_eq!(r.out.code, Some(1), "{:?}", r.out);
    assert_eq!(r.metric("vendorwatch_capture_errors_total{source=\"missing.pcap\",reason=\"unreadable\"}"), Some(1.0));
    assert!(r.out.stdout.contains("1 file with errors\n  missing.pcap: cannot open: "), "{}", r.out.stdout);
}

#[test]
fn the_footer_gives_the_time_span_and_flows_evicted_for_lack_of_room() {
    let r = replay(&["tls_sni.pcap", "http_host.pcap"], &["--max-flows", "1"]);
    assert_eq!(r.out.code, Some(0), "{:?}", r.out);
    let evicted = r.value("vendorwatch_flow_evictions_total{reason=\"table_full\"}");
    // Times from the fixtures' construction (pcaps/README.md and the flow log).
    let first = r.flows.iter().map(|f| f["first_seen"].as_str().unwrap()).min().unwrap();
    let last = r.flows.iter().map(|f| f["last_seen"].as_str().unwrap()).max().unwrap();
    assert_eq!(first, "2026-03-02T08:00:00.000000Z");
    let line = format!("from {first} to {last} (");
    assert!(r.out.stdout.contains(&line), "{line} in {}", r.out.stdout);
    assert!(
        r.out.stdout.contains(&format!("; {evicted} flows evicted for lack of room; 0 files with errors\n")),
        "{}",
        r.out.stdout
    );
}

#[test]
fn a_pcapng_record_stamped_all_ones_leaves_three_flows() {
    let r = replay(&["time_all_ones.pcapng"], &[]);
    assert_eq!(r.out.code, Some(0), "{:?}", r.out);
    assert_eq!(r.flows.len(), 3, "{}", r.dump());
    for (port, vendor, service) in
        [(51600, "apple", "services"), (51601, "bytedance", "tiktok"), (51602, "apple", "icloud")]
    {
        let f = r.by_client_port(port);
        assert_eq!((f["vendor"].as_str(), f["service"].as_str()), (Some(vendor), Some(service)), "{f}");
        assert_eq!(f["packets"], 8, "{f}");
        assert!(f["last_seen"].as_str().unwrap().starts_with("2026-03-02T08:46:00."), "{f}");
    }
    assert_eq!(r.metric("vendorwatch_capture_time_jumps_total{source=\"time_all_ones.pcapng\"}"), Some(1.0));
    assert!(r.out.stderr.contains("1 records stamped more than 1h from the capture clock"), "{}", r.out.stderr);
    assert!(r.out.stdout.contains("to 2026-03-02T08:46:00.007600Z ("), "the span ignores the stamp: {}", r.out.stdout);

    // Trusting every stamp is what went wrong: each later packet was its own flow.
    let trusting = replay(&["time_all_ones.pcapng"], &["--max-time-jump", "1000000d"]);
    assert_eq!(trusting.metric("vendorwatch_capture_time_jumps_total{source=\"time_all_ones.pcapng\"}"), Some(0.0));
    assert!(trusting.flows.len() > 3, "{}", trusting.dump());
}

#[test]
fn idle_expiry_goes_on_after_a_record_dated_2106() {
    let (records, _) = read_pcap(&fixture("time_2106.pcap"));
    let seconds = records[fixtures::YEAR_2106_RECORD].ts_ns / 1_000_000_000;
    assert_eq!(seconds, u64::from(u32::MAX), "the fixture holds the 2106 record");
    let r = replay(&["time_2106.pcap"], &[]);
    assert_eq!(r.out.code, Some(0), "{:?}", r.out);
    assert_eq!(r.flows.len(), 3, "{}", r.dump());
    // Each connection closes, and the next one starts a minute later: past
    // the 10 s timeout of a closed flow.
    assert_eq!(r.by_client_port(51700)["end_reason"], "idle_timeout", "{}", r.dump());
    assert_eq!(r.by_client_port(51701)["end_reason"], "idle_timeout", "{}", r.dump());
    assert_eq!(r.by_client_port(51702)["end_reason"], "shutdown", "{}", r.dump());
    assert_eq!(r.by_client_port(51700)["packets"], 8);
    assert_eq!(r.metric("vendorwatch_flow_evictions_total{reason=\"idle_timeout\"}"), Some(2.0));
    assert_eq!(r.metric("vendorwatch_capture_time_jumps_total{source=\"time_2106.pcap\"}"), Some(1.0));
}

/// `tls_sni.pcap`'s records with one more after the first: `extra` bytes
/// of an Ethernet frame of a local experimental ethertype (not IP).
fn with_big_record(dir: &TempDir, extra: usize) -> (std::path::PathBuf, u64) {
    let (records, _) = read_pcap(&fixture("tls_sni.pcap"));
    let mut out: Vec<Record> = Vec::new();
    let t0 = 1_772_438_400 * 1_000_000_000;
    for (i, r) in records.iter().enumerate() {
        out.push(Record::new(t0 + i as u64 * 1_000_000, r.data.clone()));
        if i == 0 {
            let mut frame = vec![0u8; extra];
            frame[12..14].copy_from_slice(&0x88b5u16.to_be_bytes());
            out.push(Record::new(t0 + 500_000, frame));
        }
    }
    let format = PcapFormat { snaplen: u32::MAX, ..PcapFormat::new(1) };
    let path = dir.path(&format!("big-{extra}.pcap"));
    std::fs::write(&path, pcap_bytes(format, &out)).unwrap();
    let second_record = 24 + 16 + records[0].caplen as u64;
    (path, second_record)
}

#[test]
fn records_up_to_16_mib_are_read_and_a_larger_one_is_named_with_its_offset() {
    let dir = TempDir::new("big");
    let (path, _) = with_big_record(&dir, MAX_RECORD_LEN as usize);
    let r = replay(&[path_str(&path)], &["--strict"]);
    assert_eq!(r.out.code, Some(0), "{:?}", r.out);
    assert_eq!(r.flows.len(), 1, "{}", r.dump());
    assert_eq!(r.flows[0]["packets"], 8, "the records after the 16 MiB one are read");
    assert_eq!(r.metric("vendorwatch_decode_skipped_total{reason=\"non_ip\"}"), Some(1.0));

    let (path, offset) = with_big_record(&dir, MAX_RECORD_LEN as usize + 1);
    let name = path.file_name().unwrap().to_str().unwrap().to_owned();
    let r = replay(&[path_str(&path)], &[]);
    assert_eq!(r.out.code, Some(0), "{:?}", r.out);
    assert!(
        r.out.stderr.contains(&format!("record at byte {offset} (record 1) is 16777217 bytes, over the 16 MiB limit")),
        "{}",
        r.out.stderr
    );
    assert_eq!(
        r.metric(&format!("vendorwatch_capture_errors_total{{source=\"{name}\",reason=\"record_too_large\"}}")),
        Some(1.0)
    );
    let strict = replay(&[path_str(&path)], &["--strict"]);
    assert_eq!(strict.out.code, Some(1), "--strict fails on it: {:?}", strict.out);
}

#[test]
fn a_timestamp_fraction_past_one_second_skips_its_record_with_the_offset() {
    let (records, _) = read_pcap(&fixture("tls_sni.pcap"));
    let mut bytes = std::fs::read(fixture("tls_sni.pcap")).unwrap();
    let bad = &records[2];
    bytes[bad.offset + 4..bad.offset + 8].copy_from_slice(&1_000_000u32.to_le_bytes());
    let dir = TempDir::new("fraction");
    let path = dir.path("fraction.pcap");
    std::fs::write(&path, &bytes).unwrap();
    let r = replay(&[path_str(&path)], &[]);
    assert_eq!(r.out.code, Some(0), "{:?}", r.out);
    let message = format!("bad timestamp at byte {} (record 2): microseconds field past one second", bad.offset);
    assert!(r.out.stderr.contains(&message), "{}", r.out.stderr);
    assert_eq!(r.flows.len(), 1);
    assert_eq!(r.flows[0]["packets"], 7, "only that record is lost");
    assert_eq!(
        r.metric("vendorwatch_capture_errors_total{source=\"fraction.pcap\",reason=\"bad_timestamp\"}"),
        Some(1.0)
    );
    let strict = replay(&[path_str(&path)], &["--strict"]);
    assert_eq!(strict.out.code, Some(1), "{:?}", strict.out);
}

#[test]
fn strict_help_says_what_it_does() {
    let out = common::vendorwatch(&["replay", "--help"]);
    assert!(out.stdout.contains("--strict"), "{}", out.stdout);
    let help = out.stdout.split("--strict").nth(1).unwrap();
    assert!(help.contains("any capture file has an error"), "{help}");
    assert!(help.contains("Frames that do not decode are counted and skipped either way"), "{help}");
    // And it does: a file with malformed frames but sound records passes.
    let r = replay(&["malformed.pcapng"], &["--strict"]);
    assert_eq!(r.out.code, Some(0), "{:?}", r.out);
    assert!(r.samples("vendorwatch_decode_errors_total").iter().any(|s| s.2 > 0.0));
}
