//! The hosts behind the counts: `replay --hosts-out`, the report's top
//! hosts per banned vendor, and live `/api/hosts`, checked against the flow
//! log and against each other.
//!
//! The live test needs root, `ip`, `tcpreplay` and `curl`; without them it
//! says "skipped" and passes, except in CI (`CI` set), where it fails.

mod common;
#[allow(dead_code)]
#[path = "common/netns.rs"]
mod netns;

use std::collections::BTreeMap;

use common::{TempDir, fixture, json_lines, vendorwatch};
use serde_json::Value;

/// (segment, host, vendor, service) -> (flows, bytes, first seen, last seen).
type ByService = BTreeMap<(String, String, String, String), (u64, u64, String, String)>;

fn hosts_by_service(records: &[Value]) -> ByService {
    let mut out = ByService::new();
    for h in records {
        for v in h["vendors"].as_array().unwrap() {
            for s in v["services"].as_array().unwrap() {
                let key = (
                    h["segment"].as_str().unwrap().to_owned(),
                    h["host"].as_str().unwrap().to_owned(),
                    v["vendor"].as_str().unwrap().to_owned(),
                    s["service"].as_str().unwrap().to_owned(),
                );
                let value = (
                    s["flows"].as_u64().unwrap(),
                    s["bytes"].as_u64().unwrap(),
                    s["first_seen"].as_str().unwrap().to_owned(),
                    s["last_seen"].as_str().unwrap().to_owned(),
                );
                assert!(out.insert(key, value).is_none(), "one entry per host and service");
            }
        }
    }
    out
}

fn sample_replay(dir: &TempDir) -> (Vec<Value>, Vec<Value>, Value) {
    let (flows, hosts) = (dir.path("flows.jsonl"), dir.path("hosts.jsonl"));
    let out = vendorwatch(&[
        "replay",
        fixture("sample.pcap").to_str().unwrap(),
        "--config",
        fixture("sample.toml").to_str().unwrap(),
        "--flows-out",
        flows.to_str().unwrap(),
        "--hosts-out",
        hosts.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let report = serde_json::from_str(&out.stdout).unwrap();
    (json_lines(&flows).expect("flow log"), json_lines(&hosts).expect("hosts file"), report)
}

#[test]
fn the_hosts_file_sums_each_hosts_attributed_flows() {
    let dir = TempDir::new("hosts");
    let (flows, hosts, report) = sample_replay(&dir);
    // The sample's segment hosts are the clients of its flows.
    let mut expected = ByService::new();
    for f in flows.iter().filter(|f| f["vendor"].is_string()) {
        let key = (
            f["segment"].as_str().unwrap().to_owned(),
            f["client"].as_str().unwrap().to_owned(),
            f["vendor"].as_str().unwrap().to_owned(),
            f["service"].as_str().unwrap().to_owned(),
        );
        let (first, last) = (f["first_seen"].as_str().unwrap().to_owned(), f["last_seen"].as_str().unwrap().to_owned());
        let e = expected.entry(key).or_insert((0, 0, first.clone(), last.clone()));
        e.0 += 1;
        e.1 += f["bytes"].as_u64().unwrap();
        e.2 = e.2.clone().min(first);
        e.3 = e.3.clone().max(last);
    }
    assert!(expected.len() >= 6, "the sample has several attributed hosts: {expected:#?}");
    assert_eq!(hosts_by_service(&hosts), expected);
    for h in &hosts {
        let banned = h["vendors"].as_array().unwrap().iter().any(|v| v["banned"] == true);
        assert_eq!(h["banned"], banned, "{h}");
        let sum: u64 = h["vendors"].as_array().unwrap().iter().map(|v| v["bytes"].as_u64().unwrap()).sum();
        assert_eq!(h["bytes"].as_u64(), Some(sum), "{h}");
    }

    // The report's top hosts per banned vendor: by bytes, from the same records.
    let top = report["top_hosts"].as_array().unwrap();
    let vendors: Vec<&str> = top.iter().map(|v| v["vendor"].as_str().unwrap()).collect();
    assert_eq!(vendors, ["apple", "bytedance"]);
    for v in top {
        let listed = v["hosts"].as_array().unwrap();
        let bytes: Vec<u64> = listed.iter().map(|h| h["bytes"].as_u64().unwrap()).collect();
        assert!(bytes.windows(2).all(|w| w[0] >= w[1]), "{v}");
        for h in listed {
            let record = hosts.iter().find(|r| r["host"] == h["host"] && r["segment"] == h["segment"]).unwrap();
            let of_vendor = record["vendors"].as_array().unwrap().iter().find(|x| x["vendor"] == v["vendor"]).unwrap();
            assert_eq!((&h["bytes"], &h["flows"]), (&of_vendor["bytes"], &of_vendor["flows"]));
        }
    }
}

#[test]
fn the_live_sensor_serves_the_same_host_records() {
    let test = "the_live_sensor_serves_the_same_host_records";
    if !common::can_run(test, netns::missing(&["ip", "tcpreplay", "curl"])) {
        return;
    }
    let dir = TempDir::new("hosts-live");
    let (_, replayed, _) = sample_replay(&dir);
    let pair = netns::VethPair::new();
    let config = fixture("sample.toml").display().to_string();
    let mut sensor = netns::start_sensor(
        &pair,
        &dir.0,
        &["--config", &config, "--idle-timeout", "1s", "--flush-interval", "200ms", "--host-window", "24h"],
    );
    pair.replay(&fixture("sample.pcap"));
    let (records, end) = common::read_pcap(&fixture("sample.pcap"));
    end.unwrap();
    netns::wait_settled(&pair, &mut sensor, records.len() as u64);
    let url = format!("http://{}/api/hosts", netns::LISTEN);
    let get = |params: &[(&str, &str)]| -> Vec<Value> {
        let (code, body) = netns::http_get(&pair.sensor_ns, &url, params);
        assert_eq!(code, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        v["hosts"].as_array().unwrap().clone()
    };
    // Live times are the sensor's clock: compare flows and bytes.
    let counts = |records: &[Value]| -> BTreeMap<_, _> {
        hosts_by_service(records).into_iter().map(|(k, (flows, bytes, _, _))| (k, (flows, bytes))).collect()
    };
    assert_eq!(counts(&get(&[])), counts(&replayed), "live /api/hosts and replay --hosts-out");
    let apple_hq = get(&[("vendor", "apple"), ("segment", "hq")]);
    assert!(!apple_hq.is_empty());
    for h in &apple_hq {
        assert_eq!(h["segment"], "hq");
        assert!(h["vendors"].as_array().unwrap().iter().all(|v| v["vendor"] == "apple"), "{h}");
    }
    assert!(get(&[("vendor", "no-such-vendor")]).is_empty());
}
