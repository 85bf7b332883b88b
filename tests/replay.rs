//! `vendorwatch replay` on the committed fixtures (`pcaps/`, written by
//! `synth::fixtures`), checked against what each fixture was
//! built to hold (see `pcaps/README.md`): per-flow attribution, segments,
//! counters and metrics, error handling; plus `signatures check`,
//! `explain` and `--config` errors.
//!
//! Expected values come from the fixture's construction, not from the
//! program's output: frame counts from the conversation shapes, byte counts
//! from the capture files' own record headers, vendors from the signature
//! files' entries.

mod common;

use std::collections::BTreeSet;
use std::net::IpAddr;

use common::{TempDir, fixture, read_pcap, replay, traffic_by_sender, vendorwatch};
use serde_json::{Value, json};
use synth::fixtures;

/// Asserts flow fields; on mismatch shows the whole flow.
fn check(flow: &Value, expected: &[(&str, Value)]) {
    for (field, want) in expected {
        assert_eq!(&flow[*field], want, "field {field} of flow {flow}");
    }
}

/// The attribution fields of a flow.
fn attributed(vendor: &str, service: &str, evidence: &str, name: Option<&str>) -> Vec<(&'static str, Value)> {
    vec![("vendor", json!(vendor)), ("service", json!(service)), ("evidence", json!(evidence)), ("name", json!(name))]
}

fn unattributed() -> Vec<(&'static str, Value)> {
    vec![("vendor", Value::Null), ("service", Value::Null), ("evidence", Value::Null), ("name", Value::Null)]
}

/// No frame is lost or counted twice: the flows' packets plus the frames
/// that cannot be in a flow (decode errors, non-IP, fragments) are all the
/// frames read.
fn assert_all_frames_accounted(r: &common::Replay) {
    let captured: f64 = r.samples("vendorwatch_capture_packets_total").iter().map(|s| s.2).sum();
    assert!(captured > 0.0, "no frames read: {:?}", r.out);
    assert_eq!(r.sum("packets") + common::count(r.skipped()), common::count(captured), "flows:\n{}", r.dump());
}

/// `vendorwatch_flows_total` for (segment, vendor, service, banned).
fn flows_total(segment: &str, vendor: &str, service: &str, banned: bool) -> String {
    format!(
        "vendorwatch_flows_total{{segment=\"{segment}\",vendor=\"{vendor}\",service=\"{service}\",banned=\"{banned}\"}}"
    )
}

/// `vendorwatch_packets_total` or `vendorwatch_bytes_total` for one direction.
fn directional(metric: &str, segment: &str, vendor: &str, service: &str, banned: bool, direction: &str) -> String {
    format!(
        "vendorwatch_{metric}_total{{segment=\"{segment}\",vendor=\"{vendor}\",service=\"{service}\",banned=\"{banned}\",direction=\"{direction}\"}}"
    )
}

fn hosts(segment: &str, vendor: &str, banned: bool) -> String {
    format!("vendorwatch_hosts{{segment=\"{segment}\",vendor=\"{vendor}\",banned=\"{banned}\"}}")
}

fn dns_queries(segment: &str, vendor: &str, banned: bool) -> String {
    format!("vendorwatch_dns_queries_total{{segment=\"{segment}\",vendor=\"{vendor}\",banned=\"{banned}\"}}")
}

#[test]
fn fixtures_are_regenerated_byte_for_byte() {
    let dir = TempDir::new("regen");
    let all = fixtures::all();
    for f in &all {
        std::fs::write(dir.path(f.name), &f.bytes).unwrap();
    }
    std::fs::write(dir.path("README.md"), fixtures::readme(&all)).unwrap();
    let mut generated: Vec<String> =
        std::fs::read_dir(&dir.0).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    generated.sort();
    let mut committed: Vec<String> =
        std::fs::read_dir(common::pcaps()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    committed.sort();
    assert_eq!(committed, generated, "pcaps/ holds exactly what the generator writes");
    for name in &generated {
        let want = std::fs::read(dir.path(name)).unwrap();
        let have = std::fs::read(fixture(name)).unwrap();
        assert!(
            have == want,
            "pcaps/{name} differs from the generator's output: run `cargo run --release --example genpcaps`"
        );
    }
    let total: u64 = generated.iter().map(|n| std::fs::metadata(fixture(n)).unwrap().len()).sum();
    assert!(total < 2_000_000, "fixtures take {total} bytes");
}

#[test]
fn tls_sni_in_one_segment() {
    let r = replay(&["tls_sni.pcap"], &[]);
    assert_eq!(r.out.code, Some(0), "{:?}", r.out);
    assert_eq!(r.flows.len(), 1, "{}", r.dump());
    let f = &r.flows[0];
    check(f, &attributed("apple", "push", "tls_sni", Some("1-courier.push.apple.com")));
    check(
        f,
        &[
            ("proto", json!("tcp")),
            ("client", json!("10.10.1.10")),
            ("client_port", json!(50001)),
            ("server", json!("203.0.113.10")),
            ("server_port", json!(443)),
            ("segment", json!("net-10-10")),
            ("vlan", Value::Null),
            ("query_vendor", Value::Null),
            ("banned", json!(false)),
            ("ech", json!(false)),
            ("first_seen", json!("2026-03-02T08:00:00.000000Z")),
            ("last_seen", json!("2026-03-02T08:00:00.007000Z")),
        ],
    );
    // SYN, ACK, hello, FIN, last ACK from the client; SYN-ACK, flight, FIN back.
    let (records, _) = read_pcap(&fixture("tls_sni.pcap"));
    let ((out_packets, out_bytes), (in_packets, in_bytes)) = traffic_by_sender(&records, "10.10.1.10");
    assert_eq!((out_packets, in_packets), (5, 3));
    check(
        f,
        &[
            ("packets", json!(8)),
            ("bytes", json!(out_bytes + in_bytes)),
            ("packets_from_client", json!(5)),
            ("packets_to_client", json!(3)),
            ("bytes_from_client", json!(out_bytes)),
            ("bytes_to_client", json!(in_bytes)),
        ],
    );
    assert_eq!(r.metric(&flows_total("net-10-10", "apple", "push", false)), Some(1.0));
    assert_eq!(r.metric(&directional("packets", "net-10-10", "apple", "push", false, "out")), Some(5.0));
    assert_eq!(r.metric(&directional("packets", "net-10-10", "apple", "push", false, "in")), Some(3.0));
    assert_eq!(r.metric(&directional("bytes", "net-10-10", "apple", "push", false, "out")), Some(out_bytes as f64));
    assert_eq!(r.metric(&directional("bytes", "net-10-10", "apple", "push", false, "in")), Some(in_bytes as f64));
    assert_eq!(r.metric(&hosts("net-10-10", "apple", false)), Some(1.0));
    assert_eq!(r.metric("vendorwatch_capture_packets_total{source=\"tls_sni.pcap\"}"), Some(8.0));
    assert_eq!(
        r.metric("vendorwatch_capture_bytes_total{source=\"tls_sni.pcap\"}"),
        Some((out_bytes + in_bytes) as f64)
    );
    assert_eq!(r.metric(&flows_total("net-10-10", "none", "none", false)), None, "no unattributed flow");
    assert_eq!(r.metric("vendorwatch_flow_table_flows"), Some(0.0), "every flow ended with the input");
    assert_eq!(r.metric("vendorwatch_flow_evictions_total{reason=\"table_full\"}"), Some(0.0));
    assert_all_frames_accounted(&r);
}

#[test]
fn client_hello_reassembled_from_segments_in_any_order() {
    let r = replay(&["tls_reassembly.pcap"], &[]);
    assert_eq!(r.flows.len(), 4, "{}", r.dump());
    for (port, vendor, service, name, packets) in [
        (50011, "apple", "icloud", "gateway.icloud.com", 9),
        (50012, "apple", "updates", "swcdn.apple.com", 10),
        (50013, "bytedance", "tiktok", "www.tiktok.com", 11),
        (50014, "bytedance", "tiktok", "log.byteoversea.com", 9),
    ] {
        let f = r.by_client_port(port);
        check(f, &attributed(vendor, service, "tls_sni", Some(name)));
        check(f, &[("server", json!("203.0.113.11")), ("packets", json!(packets)), ("segment", json!("net-10-10"))]);
    }
    assert_eq!(r.metric(&flows_total("net-10-10", "apple", "icloud", false)), Some(1.0));
    assert_eq!(r.metric(&flows_total("net-10-10", "apple", "updates", false)), Some(1.0));
    assert_eq!(r.metric(&flows_total("net-10-10", "bytedance", "tiktok", false)), Some(2.0));
    assert_eq!(r.metric(&hosts("net-10-10", "apple", false)), Some(1.0), "one host, two Apple flows");
    assert_all_frames_accounted(&r);
}

#[test]
fn http_host_names_the_vendor() {
    let r = replay(&["http_host.pcap"], &[]);
    assert_eq!(r.flows.len(), 1, "{}", r.dump());
    let f = r.by_client_port(50020);
    check(f, &attributed("microsoft", "updates", "http_host", Some("ctldl.windowsupdate.com")));
    check(f, &[("server", json!("203.0.113.12")), ("server_port", json!(80)), ("packets", json!(9))]);
    assert_eq!(r.metric(&flows_total("net-10-10", "microsoft", "updates", false)), Some(1.0));
    assert_all_frames_accounted(&r);
}

#[test]
fn names_match_whole_labels_in_any_case() {
    let r = replay(&["name_traps.pcap"], &[]);
    assert_eq!(r.flows.len(), 5, "{}", r.dump());
    for (port, trap) in [(50040, "notapple.com"), (50041, "apple.com.attacker.example"), (50042, "apple.example.com")] {
        let f = r.by_client_port(port);
        check(f, &unattributed());
        check(f, &[("server_name", json!(trap))]);
    }
    check(r.by_client_port(50043), &attributed("apple", "services", "tls_sni", Some("www.apple.com")));
    let http = r.by_client_port(50044);
    check(http, &[("vendor", json!("apple")), ("service", json!("services")), ("evidence", json!("http_host"))]);
    let name = http["name"].as_str().expect("a matched name");
    assert!(name.trim_end_matches('.').eq_ignore_ascii_case("www.apple.com"), "{http}");
    assert_eq!(r.metric(&flows_total("net-10-10", "none", "none", false)), Some(3.0));
    assert_eq!(r.metric(&flows_total("net-10-10", "apple", "services", false)), Some(2.0));
}

#[test]
fn the_most_specific_signature_entry_wins() {
    // From signatures/*.toml: which entry each name falls under.
    let expected: [(&str, Option<(&str, &str)>); 8] = [
        ("metrics.icloud.com", Some(("apple", "telemetry"))), // exact host beats suffix icloud.com (icloud)
        ("p30-caldav.icloud.com", Some(("apple", "icloud"))), // suffix icloud.com
        ("swcdn.apple.com", Some(("apple", "updates"))),      // exact host beats suffix apple.com (services)
        ("gspe1-ssl.ls.apple.com", Some(("apple", "maps"))),  // suffix ls.apple.com beats apple.com
        ("www.apple.com", Some(("apple", "services"))),
        ("youtubei.googleapis.com", Some(("google", "youtube"))), // exact host beats googleapis.com (services)
        ("apple-relay.cloudflare.com", Some(("apple", "siri"))),  // exact host; cloudflare.com is no vendor's
        ("www.cloudflare.com", None),
    ];
    assert_eq!(expected.map(|e| e.0), fixtures::PRECEDENCE, "the fixture's names");
    let r = replay(&["precedence.pcap"], &[]);
    assert_eq!(r.flows.len(), expected.len(), "{}", r.dump());
    for (name, attribution) in expected {
        let f = r.flow(name, |f| f["server_name"] == name);
        match attribution {
            Some((vendor, service)) => check(f, &attributed(vendor, service, "tls_sni", Some(name))),
            None => check(f, &unattributed()),
        }
    }
    assert_all_frames_accounted(&r);
}

#[test]
fn dns_answers_attribute_later_flows_until_their_ttl_runs_out() {
    let r = replay(&["dns.pcap"], &[]);
    assert_eq!(r.flows.len(), 10, "{}", r.dump());
    // Lookups: no vendor of their own (a resolver is not the vendor), the
    // vendor looked up in query_vendor. Over UDP, 2 frames; over TCP 8.
    for (port, proto, client, query_vendor, query_name, packets) in [
        (40001, "udp", "10.10.1.20", Some("bytedance"), Some("www.tiktok.com"), 2),
        (40002, "udp", "fd00:10:10::20", Some("bytedance"), Some("p16-sign-va.tiktokcdn.com"), 2),
        (40003, "udp", "10.10.1.20", None, None, 2),
        (40004, "udp", "10.10.1.20", Some("bytedance"), Some("api16-normal-c-useast1a.tiktokv.com"), 2),
        (40005, "tcp", "10.10.1.21", Some("bytedance"), Some("lf16-tiktok-web.tiktokcdn-us.com"), 8),
    ] {
        let f = r.by_client_port(port);
        check(f, &unattributed());
        check(
            f,
            &[
                ("proto", json!(proto)),
                ("client", json!(client)),
                ("server_port", json!(53)),
                ("query_vendor", json!(query_vendor)),
                ("query_name", json!(query_name)),
                ("packets", json!(packets)),
            ],
        );
    }
    // Flows without a name of their own, to addresses from those answers
    // (A through a CNAME chain, and AAAA): the name asked for.
    let f = r.by_client_port(50030);
    check(f, &attributed("bytedance", "tiktok", "dns", Some("www.tiktok.com")));
    check(f, &[("server", json!("198.51.100.7")), ("segment", json!("net-10-10")), ("query_vendor", Value::Null)]);
    let f = r.by_client_port(50031);
    check(f, &attributed("bytedance", "tiktok", "dns", Some("p16-sign-va.tiktokcdn.com")));
    check(f, &[("server", json!("2001:db8:16::7")), ("segment", json!("net-fd00-10-10"))]);
    check(r.by_client_port(50033), &attributed("bytedance", "tiktok", "dns", Some("lf16-tiktok-web.tiktokcdn-us.com")));
    // Answers are per client: 10.10.1.22 never asked for 198.51.100.8.
    let f = r.by_client_port(50034);
    check(f, &unattributed());
    check(f, &[("client", json!("10.10.1.22")), ("server", json!("198.51.100.8"))]);
    // The answer for 198.51.100.9 had a TTL of 10 s; the flow came 60 s later.
    let f = r.by_client_port(50032);
    check(f, &unattributed());
    check(f, &[("server", json!("198.51.100.9"))]);

    assert_eq!(r.metric(&dns_queries("net-10-10", "bytedance", false)), Some(3.0));
    assert_eq!(r.metric(&dns_queries("net-fd00-10-10", "bytedance", false)), Some(1.0));
    assert_eq!(r.samples("vendorwatch_dns_queries_total").len(), 2, "example.org is no vendor's");
    assert_eq!(r.metric(&flows_total("net-10-10", "bytedance", "tiktok", false)), Some(2.0));
    assert_eq!(r.metric(&flows_total("net-fd00-10-10", "bytedance", "tiktok", false)), Some(1.0));
    // Four lookups, the flow without a lookup and the one past its TTL.
    assert_eq!(r.metric(&flows_total("net-10-10", "none", "none", false)), Some(6.0));
    assert_eq!(r.metric(&hosts("net-10-10", "bytedance", false)), Some(2.0), "10.10.1.20 and 10.10.1.21");
    assert_all_frames_accounted(&r);
}

#[test]
fn udp_clients_and_dns_answers_seen_first() {
    let r = replay(&["udp_client.pcap"], &[]);
    assert_eq!(r.flows.len(), 5, "{}", r.dump());
    let f = r.by_client_port(40000);
    check(
        f,
        &[
            ("proto", json!("udp")),
            ("client", json!("10.10.1.30")),
            ("server", json!("10.10.1.31")),
            ("server_port", json!(40001)),
        ],
    );
    let f = r.by_client_port(123);
    check(f, &[("client", json!("10.10.1.32")), ("server", json!("203.0.113.123")), ("server_port", json!(123))]);
    // 203.0.113.53:443 spoke first, but only it uses a well-known port.
    let f = r.by_client_port(51000);
    check(
        f,
        &[
            ("client", json!("10.10.1.33")),
            ("server", json!("203.0.113.53")),
            ("server_port", json!(443)),
            ("packets_from_client", json!(1)),
            ("packets_to_client", json!(1)),
        ],
    );
    // A DNS answer without its query: the host it was sent to is the client.
    let f = r.by_client_port(40100);
    check(f, &unattributed());
    check(
        f,
        &[
            ("client", json!("10.10.1.34")),
            ("server", json!("10.10.0.1")),
            ("server_port", json!(53)),
            ("query_vendor", json!("bytedance")),
            ("packets_to_client", json!(1)),
            ("packets_from_client", json!(0)),
        ],
    );
    // ... and the answer was learned for that client.
    check(r.by_client_port(50040), &attributed("bytedance", "tiktok", "dns", Some("www.tiktok.com")));
    assert_eq!(r.metric(&dns_queries("net-10-10", "bytedance", false)), None, "an answer is not a query");
    assert_all_frames_accounted(&r);
}

#[test]
fn server_addresses_and_vendor_ports() {
    let r = replay(&["ip_port.pcap"], &[]);
    assert_eq!(r.flows.len(), 7, "{}", r.dump());
    for (port, server, attribution) in [
        (50100, "17.253.144.10", Some(("apple", "services", "ip"))), // 17.0.0.0/8
        (50101, "2620:149:a44::10", Some(("apple", "push", "ip"))),  // APNs prefix 2620:149:a44::/48
        (50102, "17.249.0.10", Some(("apple", "push", "port"))),     // TCP 5223 into 17.249.0.0/16
        (50103, "203.0.113.41", None),                               // TCP 5223 elsewhere: XMPP, KakaoTalk
        (50104, "17.253.144.10", Some(("apple", "push", "port"))),   // the port counts into any Apple prefix
        (50105, "142.250.180.14", Some(("google", "services", "ip"))),
        (50106, "2a00:1450:4001:80e::200e", Some(("google", "services", "ip"))),
    ] {
        let f = r.by_client_port(port);
        check(f, &[("server", json!(server)), ("name", Value::Null)]);
        match attribution {
            Some((vendor, service, evidence)) => check(f, &attributed(vendor, service, evidence, None)),
            None => check(f, &unattributed()),
        }
    }
    assert_eq!(r.metric(&flows_total("net-10-10", "apple", "push", false)), Some(2.0));
    assert_eq!(r.metric(&flows_total("net-fd00-10-10", "apple", "push", false)), Some(1.0));
    assert_eq!(r.metric(&flows_total("net-10-10", "none", "none", false)), Some(1.0));
    assert_all_frames_accounted(&r);
}

#[test]
fn a_capture_starting_mid_flow_takes_the_ephemeral_port_as_client() {
    let r = replay(&["midflow.pcap"], &[]);
    assert_eq!(r.flows.len(), 4, "{}", r.dump());
    let f = r.by_client_port(51000);
    check(f, &attributed("apple", "push", "port", None));
    check(
        f,
        &[
            ("client", json!("10.10.1.50")),
            ("server", json!("17.249.0.20")),
            ("server_port", json!(5223)),
            ("packets", json!(4)),
            ("packets_from_client", json!(2)),
        ],
    );
    let f = r.by_client_port(51001);
    check(
        f,
        &[
            ("client", json!("10.10.1.50")),
            ("server", json!("203.0.113.50")),
            ("server_port", json!(443)),
            ("packets", json!(3)),
        ],
    );
    let f = r.by_client_port(51002);
    check(
        f,
        &[
            ("client", json!("10.10.1.50")),
            ("server_port", json!(443)),
            ("packets_from_client", json!(2)),
            ("packets_to_client", json!(1)),
        ],
    );
    // 40312 is in Linux's (and so Android's) ephemeral range 32768-60999;
    // 5228 is Google's FCM service port: the phone is the client.
    let f = r.flow("of 10.10.1.51", |f| f["client"] == "10.10.1.51" || f["server"] == "10.10.1.51");
    check(
        f,
        &[
            ("client", json!("10.10.1.51")),
            ("client_port", json!(40312)),
            ("server", json!("142.250.1.50")),
            ("server_port", json!(5228)),
            ("packets_from_client", json!(1)),
        ],
    );
    check(f, &attributed("google", "push", "port", None));
    assert_all_frames_accounted(&r);
}

#[test]
fn vlan_tags_qinq_and_vlan_segments() {
    let config = fixture("sample.toml").display().to_string();
    let r = replay(&["vlan.pcap"], &["--config", &config]);
    assert_eq!(r.out.code, Some(0), "{:?}", r.out);
    assert_eq!(r.flows.len(), 4, "the same 5-tuple on two VLANs is two flows:\n{}", r.dump());
    let f = r.by_client_port(50200);
    check(f, &attributed("apple", "icloud", "tls_sni", Some("gateway.icloud.com")));
    check(f, &[("vlan", json!(30)), ("vlans", json!([30])), ("segment", json!("lab")), ("banned", json!(true))]);
    let f = r.by_client_port(50201);
    check(f, &attributed("bytedance", "tiktok", "tls_sni", Some("www.tiktok.com")));
    check(f, &[("vlan", json!(30)), ("vlans", json!([100, 30])), ("segment", json!("lab")), ("banned", json!(true))]);
    let v30 = r.flow("50202 on VLAN 30", |f| f["client_port"] == 50202 && f["vlan"] == 30);
    check(v30, &unattributed());
    check(v30, &[("segment", json!("lab")), ("packets", json!(8))]);
    let v40 = r.flow("50202 on VLAN 40", |f| f["client_port"] == 50202 && f["vlan"] == 40);
    check(v40, &[("segment", json!("unassigned")), ("packets", json!(8))]);
    assert_eq!(r.metric(&flows_total("lab", "apple", "icloud", true)), Some(1.0));
    assert_eq!(r.metric(&flows_total("lab", "bytedance", "tiktok", true)), Some(1.0));
    assert_eq!(r.metric(&flows_total("lab", "none", "none", false)), Some(1.0));
    assert_eq!(r.metric(&flows_total("unassigned", "none", "none", false)), Some(1.0));
    assert_eq!(r.metric(&hosts("lab", "apple", true)), Some(1.0));

    // Without a config: the clients' private /16.
    let r = replay(&["vlan.pcap"], &[]);
    assert!(r.flows.iter().all(|f| f["segment"] == "net-192-168"), "{}", r.dump());
    assert_eq!(r.metric(&flows_total("net-192-168", "apple", "icloud", false)), Some(1.0));
    assert_all_frames_accounted(&r);
}

#[test]
fn ipv6_extension_headers_and_ipv4_options() {
    let r = replay(&["ipv6_ext.pcap"], &[]);
    let f = r.by_client_port(50300);
    check(f, &attributed("apple", "icloud", "tls_sni", Some("www.icloud.com")));
    check(
        f,
        &[
            ("client", json!("fd00:10:10::70")),
            ("server", json!("2001:db8:70::1")),
            ("packets", json!(8)),
            ("segment", json!("net-fd00-10-10")),
        ],
    );
    let f = r.by_client_port(50301);
    check(f, &attributed("apple", "updates", "tls_sni", Some("mesu.apple.com")));
    check(f, &[("packets", json!(8))]);
    // A QUIC Initial in two IPv6 fragments: both frames count, on the wire.
    let (records, _) = read_pcap(&fixture("ipv6_ext.pcap"));
    let fragments: u64 = records[records.len() - 2..].iter().map(|r| r.orig_len).sum();
    let f = r.by_client_port(50302);
    check(f, &attributed("google", "youtube", "quic_sni", Some("www.youtube.com")));
    check(
        f,
        &[
            ("proto", json!("udp")),
            ("server", json!("2001:db8:70::2")),
            ("packets", json!(2)),
            ("bytes", json!(fragments)),
        ],
    );
    assert_all_frames_accounted(&r);

    let r = replay(&["ipv4_options.pcap"], &[]);
    let f = r.by_client_port(50400);
    check(f, &attributed("apple", "updates", "http_host", Some("swscan.apple.com")));
    check(f, &[("client", json!("10.10.1.80")), ("server", json!("203.0.113.80")), ("packets", json!(8))]);
    // A DNS answer in two IPv4 fragments is read once reassembled.
    let lookup = r.by_client_port(40401);
    check(lookup, &[("query_vendor", json!("bytedance")), ("packets", json!(3)), ("packets_to_client", json!(2))]);
    check(r.by_client_port(50402), &attributed("bytedance", "tiktok", "dns", Some("www.tiktok.com")));
    assert_eq!(r.metric(&dns_queries("net-10-10", "bytedance", false)), Some(1.0));
    assert_all_frames_accounted(&r);
}

#[test]
fn every_link_type_and_pcap_flavour() {
    for (file, port, client, vendor, service, evidence, name, segment) in [
        ("sll.pcap", 50500, "10.10.1.90", "apple", "push", "tls_sni", "api.push.apple.com", "net-10-10"),
        (
            "sll2.pcap",
            50501,
            "fd00:10:10::91",
            "apple",
            "push",
            "tls_sni",
            "init-p01st.push.apple.com",
            "net-fd00-10-10",
        ),
        ("raw_ip.pcap", 50600, "10.10.1.92", "google", "services", "tls_sni", "www.google.com", "net-10-10"),
        ("loopback.pcap", 50610, "127.0.0.1", "apple", "updates", "http_host", "updates.cdn-apple.com", "unassigned"),
        ("loopback.pcap", 50611, "::1", "bytedance", "tiktok", "tls_sni", "www.tiktok.com", "unassigned"),
        ("big_endian.pcap", 50700, "10.10.1.93", "bytedance", "tiktok", "tls_sni", "www.tiktok.com", "net-10-10"),
        ("nanosecond.pcap", 50701, "10.10.1.94", "bytedance", "services", "tls_sni", "www.douyin.com", "net-10-10"),
    ] {
        let r = replay(&[file], &[]);
        assert_eq!(r.out.code, Some(0), "{file}: {:?}", r.out);
        let f = r.by_client_port(port);
        check(f, &attributed(vendor, service, evidence, Some(name)));
        check(f, &[("client", json!(client)), ("segment", json!(segment)), ("packets", json!(8))]);
        assert_all_frames_accounted(&r);
        assert_eq!(common::count(r.skipped()), 0, "{file}: every frame decodes");
    }
    let r = replay(&["big_endian.pcap"], &[]);
    check(
        &r.flows[0],
        &[("first_seen", json!("2026-03-02T08:15:00.250000Z")), ("last_seen", json!("2026-03-02T08:15:00.257000Z"))],
    );
    let r = replay(&["nanosecond.pcap"], &[]);
    check(
        &r.flows[0],
        &[("first_seen", json!("2026-03-02T08:16:00.123456Z")), ("last_seen", json!("2026-03-02T08:16:00.123463Z"))],
    );
}

#[test]
fn pcapng_with_interfaces_of_different_link_types() {
    let r = replay(&["multi_interface.pcapng"], &[]);
    assert_eq!(r.flows.len(), 3, "{}", r.dump());
    let f = r.by_client_port(50800);
    check(f, &attributed("apple", "services", "tls_sni", Some("www.apple.com")));
    check(f, &[("interface", json!(0)), ("interface_name", json!("eth0")), ("packets", json!(8))]);
    let f = r.by_client_port(50801);
    check(f, &attributed("google", "youtube", "quic_sni", Some("www.youtube.com")));
    check(
        f,
        &[("interface", json!(1)), ("proto", json!("udp")), ("server", json!("142.250.1.101")), ("packets", json!(3))],
    );
    let f = r.by_client_port(50802);
    check(f, &attributed("microsoft", "captive", "http_host", Some("www.msftconnecttest.com")));
    check(f, &[("interface", json!(2)), ("interface_name", json!("any")), ("packets", json!(8))]);
    assert_eq!(r.by_client_port(50801)["interface_name"], "tun0");
    assert_eq!(r.metric("vendorwatch_capture_packets_total{source=\"multi_interface.pcapng\"}"), Some(19.0));
    assert_all_frames_accounted(&r);
}

/// A pcapng's interface names (`if_name`) place flows in `interfaces = [..]`
/// segments, as the live sensor's interfaces do; the next input's interface
/// numbers are its own (a classic pcap's interface 0 has no name), with one
/// worker or two.
#[test]
fn pcapng_interface_names_place_flows_in_interface_segments() {
    let dir = TempDir::new("interfaces");
    let config = dir.path("site.toml");
    std::fs::write(&config, "[[segment]]\nname = \"tunnels\"\ninterfaces = [\"tun0\"]\n\n[[segment]]\nname = \"span\"\ninterfaces = [\"eth0\"]\n").unwrap();
    for workers in ["1", "2"] {
        let r = replay(
            &["multi_interface.pcapng", "sample.pcap"],
            &["--config", config.to_str().unwrap(), "--workers", workers],
        );
        assert_eq!(r.out.code, Some(0), "{}", r.out.stderr);
        check(r.by_client_port(50801), &[("interface_name", json!("tun0")), ("segment", json!("tunnels"))]);
        check(r.by_client_port(50800), &[("interface_name", json!("eth0")), ("segment", json!("span"))]);
        check(r.by_client_port(50802), &[("interface_name", json!("any")), ("segment", json!("unassigned"))]);
        let from_pcap: Vec<&Value> =
            r.flows.iter().filter(|f| !(50800..=50802).contains(&f["client_port"].as_u64().unwrap_or(0))).collect();
        assert!(!from_pcap.is_empty());
        for f in from_pcap {
            assert_eq!(f["interface"], 0, "{f}");
            assert!(f["interface_name"].is_null(), "sample.pcap's interface 0 is not multi_interface's eth0: {f}");
            assert_ne!(f["segment"], "span", "{f}");
        }
    }
}

#[test]
fn malformed_frames_are_counted_by_reason_and_skipped() {
    let r = replay(&["malformed.pcapng"], &[]);
    assert_eq!(r.out.code, Some(0), "{:?}", r.out);
    for reason in [
        "unsupported_link_type",
        "link_truncated",
        "ethernet_truncated",
        "vlan_truncated",
        "too_many_vlan_tags",
        "ipv4_truncated",
        "ipv4_bad_header",
        "ipv6_truncated",
        "ipv6_extension_chain",
        "tcp_truncated",
        "tcp_bad_header",
        "udp_truncated",
        "udp_bad_header",
        "ipv6_bad_header",
        "gre_truncated",
        "gre_bad_header",
        "erspan_truncated",
        "erspan_bad_header",
        "geneve_truncated",
        "capwap_truncated",
        "ieee80211_truncated",
        "mpls_truncated",
        "pppoe_truncated",
        "pppoe_bad_header",
        "too_many_encapsulations",
    ] {
        assert_eq!(r.metric(&format!("vendorwatch_decode_errors_total{{reason=\"{reason}\"}}")), Some(1.0), "{reason}");
    }
    let errors: f64 = r.samples("vendorwatch_decode_errors_total").iter().map(|s| s.2).sum();
    assert_eq!(common::count(errors), 25);
    assert_eq!(r.metric("vendorwatch_decode_skipped_total{reason=\"non_ip\"}"), Some(1.0));
    // The good flow in between is whole.
    assert_eq!(r.flows.len(), 1, "{}", r.dump());
    check(&r.flows[0], &attributed("apple", "services", "tls_sni", Some("www.apple.com")));
    check(&r.flows[0], &[("packets", json!(8)), ("client_port", json!(50900))]);
    assert_eq!(r.metric("vendorwatch_capture_packets_total{source=\"malformed.pcapng\"}"), Some(34.0));
    assert_all_frames_accounted(&r);
}

#[test]
fn a_truncated_file_keeps_what_came_before_and_fails_only_with_strict() {
    // Where the cut record starts, read from the file itself.
    let (records, end) = read_pcap(&fixture("truncated.pcap"));
    let offset = end.expect_err("the file ends inside a record");
    assert_eq!(records.len(), fixtures::TRUNCATED_RECORD);
    let r = replay(&["truncated.pcap"], &[]);
    assert_eq!(r.out.code, Some(0), "{:?}", r.out);
    assert!(r.out.stderr.contains("truncated.pcap"), "{}", r.out.stderr);
    assert!(r.out.stderr.contains(&format!("byte {offset}")), "stderr names the offset {offset}: {}", r.out.stderr);
    assert!(r.out.stderr.contains("kept the 19 frames"), "{}", r.out.stderr);
    assert_eq!(r.flows.len(), 3, "{}", r.dump());
    check(r.by_client_port(51000), &attributed("apple", "services", "tls_sni", Some("www.apple.com")));
    check(r.by_client_port(51001), &attributed("microsoft", "updates", "http_host", Some("ctldl.windowsupdate.com")));
    check(r.by_client_port(51002), &[("packets", json!(3)), ("vendor", Value::Null)]);
    assert_eq!(r.metric("vendorwatch_capture_packets_total{source=\"truncated.pcap\"}"), Some(19.0));
    assert_all_frames_accounted(&r);

    let strict = replay(&["truncated.pcap"], &["--strict"]);
    assert_ne!(strict.out.code, Some(0), "--strict fails on a truncated file: {:?}", strict.out);
    assert!(strict.out.code.is_some(), "exits, not killed");
    assert!(strict.out.stderr.contains(&format!("byte {offset}")), "{}", strict.out.stderr);
    assert_eq!(strict.flows.len(), 3, "earlier flows are still written");
    assert_eq!(strict.metric(&flows_total("net-10-10", "apple", "services", false)), Some(1.0));
}

#[test]
fn quic_initials_v1_v2_and_reordered() {
    let r = replay(&["quic.pcap"], &[]);
    assert_eq!(r.flows.len(), 4, "{}", r.dump());
    for (port, server, vendor, service, name, packets) in [
        (51100, "142.250.1.130", "google", "services", "www.google.com", 3),
        (51101, "203.0.113.131", "apple", "private-relay", "mask.icloud.com", 3),
        (51102, "203.0.113.132", "google", "youtube", "youtubei.googleapis.com", 4),
        (51103, "2001:db8:130::1", "google", "play", "play.googleapis.com", 3),
    ] {
        let f = r.by_client_port(port);
        check(f, &attributed(vendor, service, "quic_sni", Some(name)));
        check(
            f,
            &[
                ("proto", json!("udp")),
                ("server", json!(server)),
                ("server_port", json!(443)),
                ("packets", json!(packets)),
            ],
        );
    }
    assert_all_frames_accounted(&r);
}

#[test]
fn quic_drafts_mvfst_and_google_quic_versions() {
    let r = replay(&["quic_versions.pcap"], &[]);
    assert_eq!(r.flows.len(), 15, "{}", r.dump());
    let chrome = "Chrome/83.0.4103.101 Android 8.0.0; LDN-L21";
    // (client port, vendor, service, name, user agent from a CHLO, frames)
    for (port, vendor, service, name, agent, packets) in [
        (51200, "google", "services", "www.google.com", None, 3), // draft-27
        (51201, "google", "play", "play.googleapis.com", None, 3), // draft-23
        (51202, "meta", "facebook", "graph.facebook.com", None, 3), // mvfst 0xfaceb001
        (51203, "meta", "facebook", "graph.facebook.com", None, 3), // mvfst 0xfaceb002
        (51204, "meta", "facebook", "video.fmct2-3.fna.fbcdn.net", None, 3), // mvfst 0xfaceb00e
        (51205, "google", "services", "fonts.googleapis.com", None, 3), // T050
        (51206, "google", "services", "www.google.com", None, 3), // T051
        (51207, "google", "youtube", "www.youtube.com", Some(chrome), 3), // Q050
        (51208, "google", "youtube", "www.youtube.com", Some(chrome), 3), // Q046
        (51209, "google", "services", "www.google.com", Some(chrome), 3), // Q043
        (51210, "google", "services", "www.google.com", Some(chrome), 3), // Q039
        (51211, "google", "youtube", "www.youtube.com", None, 4), // 0-RTT first
        (51212, "google", "play", "play.googleapis.com", None, 5), // forced negotiation
        (51213, "google", "services", "www.google.com", None, 4), // server's VN first
    ] {
        let f = r.by_client_port(port);
        check(f, &attributed(vendor, service, "quic_sni", Some(name)));
        check(f, &[("user_agent", json!(agent)), ("packets", json!(packets)), ("server_port", json!(443))]);
    }
    // Every Initial of the undecryptable flow is counted, not only the
    // ones decrypted before the tracker gave up (issue 12).
    let undecryptable = r.by_client_port(51214);
    check(undecryptable, &unattributed());
    check(undecryptable, &[("packets", json!(fixtures::QUIC_UNDECRYPTABLE_INITIALS))]);
    assert_eq!(
        common::count(r.value("vendorwatch_quic_packets_skipped_total")),
        u64::from(fixtures::QUIC_UNDECRYPTABLE_INITIALS),
        "{}",
        r.metrics
    );
    assert_all_frames_accounted(&r);
}

#[test]
fn encrypted_client_hello_outer_names_attribute_unless_dns_names_the_destination() {
    let r = replay(&["ech.pcap"], &[]);
    let hellos: Vec<&Value> = r.flows.iter().filter(|f| f["server_port"] == 443).collect();
    assert_eq!(hellos.len(), 5, "{}", r.dump());
    let f = r.by_client_port(51200);
    check(f, &unattributed());
    check(f, &[("ech", json!(true)), ("server_name", json!("cloudflare-ech.com")), ("packets", json!(9))]);
    // GREASE ECH: the outer name is the destination.
    let f = r.by_client_port(51201);
    check(f, &attributed("apple", "icloud", "tls_sni", Some("www.icloud.com")));
    check(f, &[("ech", json!(true)), ("server_name", json!("www.icloud.com")), ("packets", json!(9))]);
    // A cover name that matches nothing leaves the address evidence.
    let f = r.by_client_port(51202);
    check(f, &attributed("apple", "services", "ip", None));
    check(f, &[("ech", json!(true)), ("server_name", json!("cloudflare-ech.com"))]);
    // Real ECH: the name the client looked up wins over the outer SNI.
    let f = r.by_client_port(51203);
    check(f, &attributed("apple", "icloud", "dns", Some("gateway.icloud.com")));
    check(f, &[("ech", json!(true)), ("server_name", json!("cloudflare-ech.com"))]);
    let f = r.by_client_port(51204);
    check(f, &attributed("bytedance", "tiktok", "dns", Some("www.tiktok.com")));
    check(f, &[("ech", json!(true)), ("server_name", json!("www.icloud.com"))]);
    assert_eq!(r.metric("vendorwatch_ech_flows_total{segment=\"net-10-10\"}"), Some(5.0));
}

#[test]
fn bytes_are_wire_lengths_even_when_the_capture_cut_frames() {
    let (records, _) = read_pcap(&fixture("snaplen.pcap"));
    let wire: u64 = records.iter().map(|r| r.orig_len).sum();
    let captured: u64 = records.iter().map(|r| r.caplen as u64).sum();
    assert!(records.iter().any(|r| r.caplen as u64 == u64::from(fixtures::SNAPLEN) && r.orig_len > r.caplen as u64));
    assert!(wire > captured);
    let r = replay(&["snaplen.pcap"], &[]);
    let f = r.by_client_port(51300);
    check(f, &attributed("apple", "appstore", "tls_sni", Some("ppq.apple.com")));
    check(f, &[("packets", json!(11)), ("bytes", json!(wire))]);
    assert_eq!(r.metric("vendorwatch_capture_bytes_total{source=\"snaplen.pcap\"}"), Some(wire as f64));
    let out = r.value(&directional("bytes", "net-10-10", "apple", "appstore", false, "out"));
    let inn = r.value(&directional("bytes", "net-10-10", "apple", "appstore", false, "in"));
    assert_eq!(common::count(out + inn), wire);
}

#[test]
fn direction_is_seen_from_the_segment_host_even_when_it_is_the_server() {
    let (records, _) = read_pcap(&fixture("inbound.pcap"));
    let ((host_packets, host_bytes), (peer_packets, peer_bytes)) = traffic_by_sender(&records, "10.10.1.160");
    assert_eq!((host_packets, peer_packets), (4, 6));
    let config = fixture("sample.toml").display().to_string();
    let r = replay(&["inbound.pcap"], &["--config", &config]);
    let f = r.by_client_port(51400);
    check(f, &unattributed());
    check(
        f,
        &[
            ("client", json!("198.51.100.200")),
            ("server", json!("10.10.1.160")),
            ("server_port", json!(22)),
            ("segment", json!("hq")),
            ("packets_from_client", json!(6)),
        ],
    );
    assert_eq!(r.metric(&directional("packets", "hq", "none", "none", false, "out")), Some(host_packets as f64));
    assert_eq!(r.metric(&directional("packets", "hq", "none", "none", false, "in")), Some(peer_packets as f64));
    assert_eq!(r.metric(&directional("bytes", "hq", "none", "none", false, "out")), Some(host_bytes as f64));
    assert_eq!(r.metric(&directional("bytes", "hq", "none", "none", false, "in")), Some(peer_bytes as f64));
    // Without a config the server's private /16 is the segment.
    let r = replay(&["inbound.pcap"], &[]);
    check(r.by_client_port(51400), &[("segment", json!("net-10-10"))]);
    assert_eq!(r.metric(&directional("packets", "net-10-10", "none", "none", false, "out")), Some(host_packets as f64));
}

#[test]
fn the_sample_office_morning() {
    let config = fixture("sample.toml").display().to_string();
    let r = replay(&["sample.pcap"], &["--config", &config, "--format", "json"]);
    assert_eq!(r.out.code, Some(0), "{:?}", r.out);
    // What the sample was built with (crates/synth/src/fixtures.rs, sample_pcap):
    // hq: APNs by port and over IPv6 by SNI (push 2), an iCloud flow by
    // SNI and one by a DNS answer (icloud 2), a software update (1); QUIC
    // to Google; an HTTP Host of Microsoft's; a TikTok flow by DNS; four
    // lookups, a web site and NTP unattributed. lab: TikTok by SNI,
    // YouTube over QUIC, two lookups and one web site unattributed.
    for (segment, vendor, service, banned, flows) in [
        ("hq", "apple", "push", true, 2.0),
        ("hq", "apple", "icloud", true, 2.0),
        ("hq", "apple", "updates", true, 1.0),
        ("hq", "google", "services", false, 1.0),
        ("hq", "microsoft", "updates", false, 1.0),
        ("hq", "bytedance", "tiktok", true, 1.0),
        ("hq", "none", "none", false, 6.0),
        ("lab", "bytedance", "tiktok", true, 1.0),
        ("lab", "google", "youtube", false, 1.0),
        ("lab", "none", "none", false, 3.0),
    ] {
        assert_eq!(
            r.metric(&flows_total(segment, vendor, service, banned)),
            Some(flows),
            "{segment} {vendor} {service}"
        );
    }
    assert_eq!(r.samples("vendorwatch_flows_total").len(), 10, "no other series:\n{}", r.metrics);
    assert_eq!(r.flows.len(), 19);
    // Apple: 10.10.1.21, 10.10.1.22 and fd00:10:10::21.
    for (segment, vendor, banned, n) in [
        ("hq", "apple", true, 3.0),
        ("hq", "bytedance", true, 1.0),
        ("hq", "google", false, 1.0),
        ("hq", "microsoft", false, 1.0),
        ("lab", "bytedance", true, 1.0),
        ("lab", "google", false, 1.0),
    ] {
        assert_eq!(r.metric(&hosts(segment, vendor, banned)), Some(n), "{segment} {vendor}");
    }
    for (segment, vendor, banned) in [
        ("hq", "apple", true),
        ("hq", "google", false),
        ("hq", "bytedance", true),
        ("lab", "apple", true),
        ("lab", "bytedance", true),
    ] {
        assert_eq!(r.metric(&dns_queries(segment, vendor, banned)), Some(1.0), "{segment} {vendor}");
    }
    assert_eq!(r.samples("vendorwatch_dns_queries_total").len(), 5, "example.org is no vendor's");

    let apns = r.by_client_port(52001);
    check(apns, &attributed("apple", "push", "port", None));
    check(
        apns,
        &[("server", json!("17.249.12.5")), ("segment", json!("hq")), ("banned", json!(true)), ("packets", json!(15))],
    );
    check(r.by_client_port(52002), &attributed("apple", "icloud", "dns", Some("p52-contacts.icloud.com")));
    // Names outrank addresses: SNIs to Apple's 17.0.0.0/8, and to an
    // address a DNS answer had already tied to the same name.
    check(r.by_client_port(52010), &attributed("apple", "updates", "tls_sni", Some("swcdn.apple.com")));
    check(r.by_client_port(52011), &attributed("apple", "icloud", "tls_sni", Some("gateway.icloud.com")));
    check(
        r.by_client_port(52100),
        &attributed("bytedance", "tiktok", "tls_sni", Some("api16-normal-useast5.tiktokv.us")),
    );
    check(r.by_client_port(52060), &attributed("apple", "push", "tls_sni", Some("1-courier.push.apple.com")));
    check(r.by_client_port(52040), &attributed("bytedance", "tiktok", "dns", Some("www.tiktok.com")));
    check(r.by_client_port(52020), &attributed("google", "services", "quic_sni", Some("www.google.com")));
    check(r.by_client_port(52030), &attributed("microsoft", "updates", "http_host", Some("ctldl.windowsupdate.com")));
    // A lab host asks Google's public resolver for an Apple name: the
    // lookup is not Google traffic, and it is Apple's only as a query.
    let lookup = r.by_client_port(53101);
    check(lookup, &unattributed());
    check(
        lookup,
        &[
            ("server", json!("8.8.8.8")),
            ("query_vendor", json!("apple")),
            ("segment", json!("lab")),
            ("vlan", json!(30)),
        ],
    );
    let (records, _) = read_pcap(&fixture("sample.pcap"));
    assert_eq!(r.metric("vendorwatch_capture_packets_total{source=\"sample.pcap\"}"), Some(records.len() as f64));
    assert_eq!(r.metric("vendorwatch_decode_skipped_total{reason=\"non_ip\"}"), Some(2.0), "two ARP frames");
    assert_all_frames_accounted(&r);

    // The JSON report on stdout agrees with the metrics.
    let report: Value = serde_json::from_str(&r.out.stdout).expect("--format json prints JSON");
    let segments: Vec<&str> =
        report["segments"].as_array().unwrap().iter().map(|s| s["segment"].as_str().unwrap()).collect();
    assert_eq!(segments, ["hq", "lab"]);
    let hq_apple =
        report["segments"][0]["vendors"].as_array().unwrap().iter().find(|v| v["vendor"] == "apple").unwrap();
    check(hq_apple, &[("banned", json!(true)), ("flows", json!(5)), ("hosts", json!(3)), ("dns_queries", json!(1))]);
    let apple_packets: u64 = r
        .flows
        .iter()
        .filter(|f| f["segment"] == "hq" && f["vendor"] == "apple")
        .map(|f| f["packets"].as_u64().unwrap())
        .sum();
    assert_eq!(hq_apple["packets"], apple_packets);
    assert_eq!(report["capture"]["packets"], records.len());
}

#[test]
fn the_report_lists_banned_vendors_first_and_unattributed_last() {
    let config = fixture("sample.toml").display().to_string();
    let r = replay(&["sample.pcap"], &["--config", &config, "--format", "json"]);
    let report: Value = serde_json::from_str(&r.out.stdout).expect("JSON report");
    for segment in report["segments"].as_array().unwrap() {
        let rows: Vec<(String, bool)> = segment["vendors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| (v["vendor"].as_str().unwrap().to_owned(), v["banned"].as_bool().unwrap()))
            .collect();
        let banned_then_rest = rows.windows(2).all(|w| w[0].1 || !w[1].1);
        assert!(banned_then_rest, "banned vendors first in {}: {rows:?}", segment["segment"]);
        let none_at = rows.iter().position(|(v, _)| v == "none");
        assert_eq!(none_at, Some(rows.len() - 1), "unattributed traffic last in {}: {rows:?}", segment["segment"]);
    }
}

#[test]
fn a_full_flow_table_evicts_the_stalest_flow_and_loses_no_packet() {
    // precedence.pcap: eight connections one after the other, so with room
    // for two, each new connection from the third on pushes out one.
    // One worker: with several, each holds its share of the bound.
    let r = replay(&["precedence.pcap"], &["--max-flows", "2", "--workers", "1"]);
    assert_eq!(r.out.code, Some(0), "{:?}", r.out);
    assert_eq!(r.metric("vendorwatch_flow_evictions_total{reason=\"table_full\"}"), Some(6.0));
    assert_eq!(r.flows.len(), 8, "{}", r.dump());
    assert_eq!(r.flows.iter().filter(|f| f["end_reason"] == "table_full").count(), 6);
    assert!(r.flows.iter().all(|f| f["packets"] == 8), "no flow lost a packet:\n{}", r.dump());
    assert_eq!(
        r.metric(&flows_total("net-10-10", "apple", "telemetry", false)),
        Some(1.0),
        "evicted flows are counted"
    );
    assert_all_frames_accounted(&r);

    // The sample interleaves flows: an evicted flow that goes on comes
    // back as a new one, and still every frame is in exactly one flow.
    let config = fixture("sample.toml").display().to_string();
    let r = replay(&["sample.pcap"], &["--config", &config, "--max-flows", "2"]);
    let full = r.value("vendorwatch_flow_evictions_total{reason=\"table_full\"}");
    assert!(full > 0.0);
    assert_eq!(common::count(full), r.flows.iter().filter(|f| f["end_reason"] == "table_full").count() as u64);
    assert!(r.flows.iter().filter(|f| f["end_reason"] == "shutdown").count() <= 2, "at most two flows at the end");
    let counted: f64 = r.samples("vendorwatch_flows_total").iter().map(|s| s.2).sum();
    assert_eq!(common::count(counted), r.flows.len() as u64, "every flow record is counted once");
    assert_all_frames_accounted(&r);
    let packets: f64 = r.samples("vendorwatch_packets_total").iter().map(|s| s.2).sum();
    assert_eq!(common::count(packets), r.sum("packets"));
}

#[test]
fn metric_labels_never_hold_addresses_or_host_names() {
    let all: Vec<String> = fixtures::all()
        .into_iter()
        .map(|f| f.name.to_owned())
        .filter(|n| std::path::Path::new(n).extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    let files: Vec<&str> = all.iter().map(String::as_str).collect();
    let config = fixture("sample.toml").display().to_string();
    for args in [vec![], vec!["--config", config.as_str()]] {
        let r = replay(&files, &args);
        assert_eq!(r.out.code, Some(0), "{:?}", r.out);
        let mut names = BTreeSet::new();
        let mut addresses = BTreeSet::new();
        for f in &r.flows {
            for field in ["name", "server_name", "query_name"] {
                if let Some(n) = f[field].as_str() {
                    names.insert(n.trim_end_matches('.').to_ascii_lowercase());
                }
            }
            for field in ["client", "server"] {
                addresses.insert(f[field].as_str().unwrap().to_owned());
            }
        }
        assert!(names.len() > 30 && addresses.len() > 30, "{} names, {} addresses", names.len(), addresses.len());
        let samples = common::parse_metrics(&r.metrics);
        assert!(samples.len() > 100);
        for (metric, labels, _) in samples {
            for (key, value) in labels {
                assert!(value.parse::<IpAddr>().is_err(), "{metric}{{{key}={value:?}}} is an address");
                let lower = value.to_ascii_lowercase();
                assert!(
                    !names.iter().any(|n| lower.contains(n.as_str())),
                    "{metric}{{{key}={value:?}}} holds a host name"
                );
                assert!(
                    !addresses.iter().any(|a| lower.contains(a.as_str())),
                    "{metric}{{{key}={value:?}}} holds an address"
                );
            }
        }
    }
}

/// A copy of `signatures/` to break.
fn signatures_copy() -> TempDir {
    let dir = TempDir::new("signatures");
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("signatures");
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            std::fs::copy(&path, dir.path(path.file_name().unwrap().to_str().unwrap())).unwrap();
        }
    }
    dir
}

/// 1-based number of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("{needle:?} not found")) + 1
}

#[test]
fn signatures_check_reports_file_line_and_problem() {
    let dir = signatures_copy();
    let good = vendorwatch(&["signatures", "check", dir.0.to_str().unwrap()]);
    assert_eq!(good.code, Some(0), "{good:?}");
    assert!(good.stdout.starts_with("16 vendors, "), "{}", good.stdout);

    // Host bits in a prefix, and a suffix another vendor already owns.
    let apple = dir.path("apple.toml");
    let text = std::fs::read_to_string(&apple).unwrap().replacen("\"17.0.0.0/8\"", "\"17.0.0.1/8\"", 1);
    std::fs::write(&apple, &text).unwrap();
    let bad_line = line_of(&text, "\"17.0.0.1/8\"");
    let huawei = dir.path("huawei.toml");
    let mut text = std::fs::read_to_string(&huawei).unwrap();
    text.push_str("\n[[entry]]\nservice = \"push\"\nsource = \"test\"\nsuffixes = [\"push.apple.com\"]\n");
    std::fs::write(&huawei, &text).unwrap();
    let dup_line = line_of(&text, "suffixes = [\"push.apple.com\"]");

    let out = vendorwatch(&["signatures", "check", dir.0.to_str().unwrap()]);
    assert_eq!(out.code, Some(1), "{out:?}");
    let report = format!("{}{}", out.stdout, out.stderr);
    let want = format!("{}:{bad_line}: 17.0.0.1/8 has host bits set", apple.display());
    assert!(report.contains(&want), "expected {want:?} in:\n{report}");
    let want = format!("{}:{dup_line}: suffix push.apple.com is claimed by two vendors: also apple", huawei.display());
    assert!(report.contains(&want), "expected {want:?} in:\n{report}");
    assert!(report.contains("2 problem(s)"), "{report}");

    // A replay with that directory refuses to start, naming the same lines.
    let r = replay(&["tls_sni.pcap"], &["--signatures", dir.0.to_str().unwrap()]);
    assert_ne!(r.out.code, Some(0));
    assert!(r.out.stderr.contains(&format!("apple.toml:{bad_line}:")), "{}", r.out.stderr);
    assert!(r.flows.is_empty());
}

#[test]
fn explain_says_which_entry_matches_and_why() {
    let text = include_str!("../signatures/apple.toml");
    // The entry holding the push.apple.com suffix: its `[[entry]]` line.
    let suffix_line = line_of(text, "suffixes = [\"push.apple.com\"");
    let entry_line =
        text.lines().take(suffix_line).collect::<Vec<_>>().iter().rposition(|l| l.trim() == "[[entry]]").unwrap() + 1;
    let out = vendorwatch(&["explain", "5-courier.push.apple.com"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let want = format!(
        "vendor:  apple (Apple)\nservice: push\nwhy:     5-courier.push.apple.com ends in the suffix push.apple.com (the longest listed suffix of it)\nentry:   signatures/apple.toml:{entry_line}\nsource:  ntop/nDPI"
    );
    assert!(out.stdout.starts_with(&want), "expected:\n{want}\ngot:\n{}", out.stdout);

    let out = vendorwatch(&["explain", "WWW.Apple.COM."]);
    assert_eq!(out.code, Some(0));
    assert!(
        out.stdout.contains("service: services\n") && out.stdout.contains("ends in the suffix apple.com"),
        "{}",
        out.stdout
    );
    let out = vendorwatch(&["explain", "swcdn.apple.com"]);
    assert!(
        out.stdout.contains("service: updates\n") && out.stdout.contains("swcdn.apple.com is listed as an exact host"),
        "{}",
        out.stdout
    );
    let out = vendorwatch(&["explain", "17.249.1.1"]);
    assert_eq!(out.code, Some(0));
    assert!(
        out.stdout.contains("service: push\n") && out.stdout.contains("17.249.1.1 is inside 17.249.0.0/16"),
        "{}",
        out.stdout
    );
    let out = vendorwatch(&["explain", "2620:149:a44::1"]);
    assert!(
        out.stdout.contains("service: push\n") && out.stdout.contains("inside 2620:149:a44::/48"),
        "{}",
        out.stdout
    );
    for query in ["notapple.com", "apple.com.attacker.example", "apple.example.com", "203.0.113.10"] {
        let out = vendorwatch(&["explain", query]);
        assert_eq!(out.code, Some(1), "{query}: {out:?}");
        assert!(!out.stdout.contains("vendor:"), "{query}: {}", out.stdout);
    }
    let out = vendorwatch(&["explain", "notapple.com"]);
    assert_eq!(out.stdout, "notapple.com: no vendor host or suffix matches (names match whole labels)\n");
}

#[test]
fn a_bad_config_names_its_file_and_line() {
    let dir = TempDir::new("config");
    for (text, line, words) in [
        ("[[segment]]\nname = \"hq\"\ncidrs = [\"10.10.0.0/16\", \"not-a-net\"]\n", 3, "not-a-net"),
        (
            "[[segment]]\nname = \"hq\"\ncidrs = [\"10.10.0.0/16\"]\n\n[policy]\nbanned = [\"apple\", \"acme\"]\n",
            6,
            "acme",
        ),
        ("[[segment]]\nname = \"lab\"\nvlans = [30, 5000]\n", 3, "5000"),
    ] {
        let path = dir.path("site.toml");
        std::fs::write(&path, text).unwrap();
        let r = replay(&["tls_sni.pcap"], &["--config", path.to_str().unwrap()]);
        assert!(r.out.code.is_some_and(|c| c != 0), "{text:?}: {:?}", r.out);
        let want = format!("{}:{line}:", path.display());
        assert!(
            r.out.stderr.contains(&want) && r.out.stderr.contains(words),
            "expected {want:?} and {words:?} in {}",
            r.out.stderr
        );
        assert!(r.flows.is_empty(), "nothing is replayed under a broken config");
    }
}

#[test]
fn an_unreadable_input_fails_but_the_others_are_read() {
    let dir = TempDir::new("missing");
    let missing = dir.path("missing.pcap");
    let r = replay(&[missing.to_str().unwrap(), "tls_sni.pcap"], &[]);
    assert_eq!(r.out.code, Some(1), "{:?}", r.out);
    assert!(r.out.stderr.contains("missing.pcap"), "{}", r.out.stderr);
    assert_eq!(r.flows.len(), 1, "the readable file is replayed");
}

/// Segments of remote mirrors told apart by their tunnel, plus the
/// collector's own addresses (the tunnel ends). `vni-7` holds numbers that
/// are ERSPAN sessions, PPPoE sessions or GRE keys in `tunnels.pcap`, but
/// never a VXLAN or Geneve VNI there: no flow may land in it.
const TUNNELS_TOML: &str = r#"
[[segment]]
name = "collector"
cidrs = ["192.0.2.0/24", "2001:db8:ffff::/48"]

[[segment]]
name = "dc-fabric"
vnis = [5001]

[[segment]]
name = "overlay"
vnis = [6001]

[[segment]]
name = "span"
erspan_sessions = [7]

[[segment]]
name = "span-dc"
erspan_sessions = [300]

[[segment]]
name = "vni-7"
vnis = [7, 300, 4097]
"#;

/// What one tunnelled flow of `tunnels.pcap` was built to be (see
/// `fixtures::tunnel_cases`): the outermost encapsulation and its id, the
/// inner endpoints and tags, the attribution, and the segment under
/// [`TUNNELS_TOML`].
struct Tunnelled {
    port: u64,
    encap: &'static str,
    encap_id: Option<u64>,
    client: &'static str,
    server: &'static str,
    vlans: &'static [u64],
    attribution: (&'static str, &'static str, &'static str, Option<&'static str>),
    packets: u64,
    segment: &'static str,
}

const TIKTOK: (&str, &str, &str, Option<&str>) = ("bytedance", "tiktok", "tls_sni", Some("www.tiktok.com"));
const ICLOUD: (&str, &str, &str, Option<&str>) = ("apple", "icloud", "tls_sni", Some("gateway.icloud.com"));

#[rustfmt::skip]
const TUNNELLED: [Tunnelled; 15] = [
    // GRE key 5001 is no VNI: not dc-fabric.
    Tunnelled { port: 51501, encap: "gre", encap_id: Some(5001), client: "10.10.3.1", server: "203.0.113.171", vlans: &[], attribution: TIKTOK, packets: 8, segment: "unassigned" },
    Tunnelled { port: 51502, encap: "gre", encap_id: None, client: "10.10.3.2", server: "17.253.144.20", vlans: &[], attribution: ("apple", "services", "ip", None), packets: 8, segment: "unassigned" },
    Tunnelled { port: 51503, encap: "erspan", encap_id: Some(7), client: "10.10.3.3", server: "203.0.113.173", vlans: &[120], attribution: ICLOUD, packets: 8, segment: "span" },
    Tunnelled { port: 51504, encap: "erspan", encap_id: Some(300), client: "10.10.3.4", server: "203.0.113.174", vlans: &[], attribution: ("apple", "push", "tls_sni", Some("1-courier.push.apple.com")), packets: 8, segment: "span-dc" },
    Tunnelled { port: 51505, encap: "vxlan", encap_id: Some(5001), client: "10.10.3.5", server: "203.0.113.175", vlans: &[], attribution: TIKTOK, packets: 8, segment: "dc-fabric" },
    Tunnelled { port: 51506, encap: "geneve", encap_id: Some(6001), client: "10.10.3.6", server: "203.0.113.176", vlans: &[], attribution: ICLOUD, packets: 8, segment: "overlay" },
    Tunnelled { port: 51507, encap: "mpls", encap_id: None, client: "10.10.3.7", server: "203.0.113.177", vlans: &[], attribution: TIKTOK, packets: 8, segment: "unassigned" },
    Tunnelled { port: 51508, encap: "ipip", encap_id: None, client: "10.10.3.8", server: "203.0.113.178", vlans: &[], attribution: ICLOUD, packets: 8, segment: "unassigned" },
    Tunnelled { port: 51509, encap: "6in4", encap_id: None, client: "fd00:10:10::3:9", server: "2620:149:a44::30", vlans: &[], attribution: ("apple", "push", "ip", None), packets: 8, segment: "unassigned" },
    Tunnelled { port: 51510, encap: "4in6", encap_id: None, client: "10.10.3.10", server: "203.0.113.180", vlans: &[], attribution: TIKTOK, packets: 8, segment: "unassigned" },
    Tunnelled { port: 51511, encap: "capwap", encap_id: None, client: "10.10.3.11", server: "203.0.113.181", vlans: &[], attribution: ICLOUD, packets: 8, segment: "unassigned" },
    Tunnelled { port: 51512, encap: "capwap", encap_id: None, client: "10.10.3.12", server: "203.0.113.182", vlans: &[], attribution: TIKTOK, packets: 8, segment: "unassigned" },
    // PPPoE session 0x1001 = 4097 is no VNI: not vni-7.
    Tunnelled { port: 51513, encap: "pppoe", encap_id: Some(4097), client: "10.10.3.13", server: "203.0.113.183", vlans: &[], attribution: ICLOUD, packets: 8, segment: "unassigned" },
    Tunnelled { port: 51514, encap: "pppoe", encap_id: Some(4097), client: "fd00:10:10::3:14", server: "2001:db8:3::14", vlans: &[], attribution: TIKTOK, packets: 8, segment: "unassigned" },
    // The outer IPv4 packet of the post-quantum hello came in two fragments.
    Tunnelled { port: 51516, encap: "vxlan", encap_id: Some(5001), client: "10.10.3.16", server: "203.0.113.186", vlans: &[], attribution: ICLOUD, packets: 9, segment: "dc-fabric" },
];

/// The GTP-U flow: uplink TEID 0xa1b2c3 from the phone, downlink TEID
/// 0xd4e5f6 to it (each end picks the TEID it receives on).
const GTP_PORT: u16 = 51515;
const GTP_UPLINK_TEID: u64 = 0x00a1_b2c3;

/// Per tunnelled flow (by inner client port): packets and bytes from and
/// to the client, summed over the inner frames the fixture wrapped, after
/// checking that `tunnels.pcap` holds each one at the end of its outer
/// frame (or, for the one outer IPv4 packet sent in two fragments, at the
/// end of the fragments' payloads put together). Also returns the frames
/// of `tunnels.pcap` left after the tunnelled ones, and how many outer
/// frames were fragments.
fn tunnelled_traffic() -> (std::collections::BTreeMap<u16, [u64; 4]>, Vec<common::PcapRecord>, usize) {
    let (records, end) = read_pcap(&fixture("tunnels.pcap"));
    assert!(end.is_ok());
    let mut records = records.into_iter();
    let mut fragments = 0;
    let mut traffic = std::collections::BTreeMap::new();
    for flow in fixtures::tunnel_flows() {
        let mut t = [0u64; 4]; // packets from, bytes from, packets to, bytes to the client
        for inner in &flow.frames {
            let record = records.next().expect("an outer frame per inner frame");
            assert_eq!(record.caplen as u64, record.orig_len);
            let ipv4_more_fragments = record.data[12..14] == [0x08, 0x00] && record.data[14 + 6] & 0x20 != 0;
            if ipv4_more_fragments {
                let last = records.next().expect("the last fragment");
                let payload = [&record.data[14 + 20..], &last.data[14 + 20..]].concat();
                assert!(payload.ends_with(&inner.frame), "port {}: fragments hold the inner frame", flow.client_port);
                fragments += 2;
            } else {
                assert!(
                    record.data.ends_with(&inner.frame),
                    "port {}: outer frame holds the inner one",
                    flow.client_port
                );
                assert!(record.data.len() > inner.frame.len());
            }
            let at = if inner.from_client { 0 } else { 2 };
            t[at] += 1;
            t[at + 1] += inner.frame.len() as u64;
        }
        traffic.insert(flow.client_port, t);
    }
    (traffic, records.collect(), fragments)
}

#[test]
fn tunnelled_flows_are_their_inner_flows() {
    let (traffic, rest, fragments) = tunnelled_traffic();
    assert_eq!(fragments, 2, "one outer packet in two fragments");
    assert_eq!(traffic.len(), TUNNELLED.len() + 1, "the fixture's flows and the test's table agree");
    let dir = TempDir::new("tunnels-config");
    let config = dir.path("tunnels.toml");
    std::fs::write(&config, TUNNELS_TOML).unwrap();
    let r = replay(&["tunnels.pcap"], &["--config", config.to_str().unwrap()]);
    assert_eq!(r.out.code, Some(0), "{:?}", r.out);
    for t in &TUNNELLED {
        let f = r.by_client_port(t.port);
        let [from_packets, from_bytes, to_packets, to_bytes] = traffic[&u16::try_from(t.port).unwrap()];
        assert_eq!(from_packets + to_packets, t.packets, "port {}: the fixture's inner frames", t.port);
        let (vendor, service, evidence, name) = t.attribution;
        check(f, &attributed(vendor, service, evidence, name));
        check(
            f,
            &[
                ("proto", json!("tcp")),
                ("encap", json!(t.encap)),
                ("encap_id", json!(t.encap_id)),
                ("client", json!(t.client)),
                ("client_port", json!(t.port)),
                ("server", json!(t.server)),
                ("server_port", json!(443)),
                ("vlans", json!(t.vlans)),
                ("vlan", json!(t.vlans.last())),
                ("segment", json!(t.segment)),
                ("packets", json!(t.packets)),
                ("bytes", json!(from_bytes + to_bytes)),
                ("packets_from_client", json!(from_packets)),
                ("bytes_from_client", json!(from_bytes)),
                ("packets_to_client", json!(to_packets)),
                ("bytes_to_client", json!(to_bytes)),
            ],
        );
    }
    // Port 4789 without a VXLAN header: a plain UDP flow of the tunnel
    // ends' own addresses, charged its whole frames.
    assert_eq!(rest.len(), 2, "two datagrams after the tunnelled flows");
    let bogus = r.by_client_port(40000);
    check(bogus, &unattributed());
    check(
        bogus,
        &[
            ("proto", json!("udp")),
            ("encap", Value::Null),
            ("encap_id", Value::Null),
            ("client", json!("192.0.2.80")),
            ("server", json!("192.0.2.81")),
            ("server_port", json!(4789)),
            ("segment", json!("collector")),
            ("packets", json!(2)),
            ("bytes", json!(rest[0].orig_len + rest[1].orig_len)),
            ("bytes_from_client", json!(rest[0].orig_len)),
        ],
    );
    // No tunnel end became a flow or a segment's host; nothing landed in
    // vni-7, whose numbers are only ERSPAN/PPPoE sessions and GRE keys here.
    assert_eq!(r.flows.iter().filter(|f| f["segment"] == "collector").count(), 1, "{}", r.dump());
    assert!(r.flows.iter().all(|f| f["segment"] != "vni-7"), "{}", r.dump());
    assert_eq!(r.flows.iter().filter(|f| f["encap"] != "gtp").count(), TUNNELLED.len() + 1, "{}", r.dump());

    // Metrics count the inner frames per segment, from the inner client.
    let [vx_from, vx_from_bytes, vx_to, vx_to_bytes] = traffic[&51505];
    assert_eq!(r.metric(&flows_total("dc-fabric", "bytedance", "tiktok", false)), Some(1.0));
    assert_eq!(r.metric(&flows_total("dc-fabric", "apple", "icloud", false)), Some(1.0));
    let out = directional("packets", "dc-fabric", "bytedance", "tiktok", false, "out");
    assert_eq!(r.metric(&out), Some(vx_from as f64));
    let inn = directional("bytes", "dc-fabric", "bytedance", "tiktok", false, "in");
    assert_eq!(r.metric(&inn), Some(vx_to_bytes as f64));
    let out = directional("bytes", "dc-fabric", "bytedance", "tiktok", false, "out");
    assert_eq!(r.metric(&out), Some(vx_from_bytes as f64));
    assert_eq!(vx_from + vx_to, 8);
    assert_eq!(r.metric(&flows_total("span", "apple", "icloud", false)), Some(1.0));
    assert_eq!(r.metric(&flows_total("span-dc", "apple", "push", false)), Some(1.0));
    assert_eq!(r.metric(&flows_total("overlay", "apple", "icloud", false)), Some(1.0));
    assert_eq!(r.metric(&flows_total("collector", "none", "none", false)), Some(1.0));

    // Every frame read: the flows' inner frames, one more for the second
    // fragment (the reassembled outer packet is one inner frame), and no
    // decode error.
    let (records, _) = read_pcap(&fixture("tunnels.pcap"));
    let wire: u64 = records.iter().map(|r| r.orig_len).sum();
    assert_eq!(r.metric("vendorwatch_capture_packets_total{source=\"tunnels.pcap\"}"), Some(records.len() as f64));
    assert_eq!(r.metric("vendorwatch_capture_bytes_total{source=\"tunnels.pcap\"}"), Some(wire as f64));
    assert_eq!(r.sum("packets") + 1, records.len() as u64, "{}", r.dump());
    assert_eq!(common::count(r.skipped()), 0, "no frame skipped:\n{}", r.metrics);
    assert_eq!(r.metric("vendorwatch_fragment_datagrams_total{outcome=\"reassembled\"}"), Some(1.0));

    // Without a config: the segment of the inner client's private network.
    let r = replay(&["tunnels.pcap"], &[]);
    for t in &TUNNELLED {
        let segment = if t.client.contains(':') { "net-fd00-10-10" } else { "net-10-10" };
        check(r.by_client_port(t.port), &[("segment", json!(segment)), ("encap", json!(t.encap))]);
    }
    check(r.by_client_port(40000), &[("segment", json!("unassigned")), ("encap", Value::Null)]);
}

#[test]
fn gtp_uplink_and_downlink_teids_are_one_flow() {
    // Flows are keyed by addresses, ports, protocol and VLAN (README): a
    // GTP-U bearer's two directions, each with the TEID its receiver chose,
    // are one flow; its id is the TEID of the client's packets.
    let (traffic, _, _) = tunnelled_traffic();
    let [from_packets, from_bytes, to_packets, to_bytes] = traffic[&GTP_PORT];
    assert_eq!((from_packets, to_packets), (5, 3));
    let r = replay(&["tunnels.pcap"], &[]);
    let f = r.by_client_port(u64::from(GTP_PORT));
    check(f, &attributed(TIKTOK.0, TIKTOK.1, TIKTOK.2, TIKTOK.3));
    check(
        f,
        &[
            ("proto", json!("tcp")),
            ("encap", json!("gtp")),
            ("encap_id", json!(GTP_UPLINK_TEID)),
            ("client", json!("10.10.3.15")),
            ("server", json!("203.0.113.185")),
            ("server_port", json!(443)),
            ("packets", json!(8)),
            ("bytes", json!(from_bytes + to_bytes)),
            ("packets_from_client", json!(from_packets)),
            ("bytes_from_client", json!(from_bytes)),
            ("bytes_to_client", json!(to_bytes)),
        ],
    );
    assert_eq!(r.flows.len(), TUNNELLED.len() + 2, "{}", r.dump());
}

#[test]
fn hellos_after_plaintext_preambles_are_read() {
    let r = replay(&["preambles.pcap"], &[]);
    assert_eq!(r.flows.len(), 10, "{}", r.dump());
    for (port, vendor, service, name) in [
        (51500, "microsoft", "office", "smtp.office365.com"),
        (51501, "apple", "icloud", "imap.mail.me.com"),
        (51502, "google", "services", "pop.gmail.com"),
        (51503, "bytedance", "tiktok", "www.tiktok.com"),
        (51504, "huawei", "services", "ldap.huawei.com"),
        (51505, "apple", "services", "ftp.apple.com"),
        (51506, "bytedance", "tiktok", "db.tiktokv.com"),
        (51507, "microsoft", "services", "rdweb.wvd.microsoft.com"),
        (51508, "apple", "icloud", "gateway.icloud.com"),
    ] {
        let f = r.by_client_port(port);
        check(f, &attributed(vendor, service, "tls_sni", Some(name)));
        check(f, &[("server_name", json!(name)), ("alpn", json!("h2"))]);
    }
    check(r.by_client_port(51508), &[("user_agent", json!("curl/8.5.0"))]);
    let plain = r.by_client_port(51509);
    check(plain, &unattributed());
    check(plain, &[("server_name", Value::Null)]);
    assert_all_frames_accounted(&r);
}

#[test]
fn a_hello_cut_into_many_segments_is_read() {
    let r = replay(&["split_hellos.pcap"], &[]);
    assert_eq!(r.flows.len(), 4, "{}", r.dump());
    for (port, segments) in [(51520, 14u64), (51521, 15), (51522, 20), (51523, 40)] {
        let f = r.by_client_port(port);
        check(f, &attributed("apple", "icloud", "tls_sni", Some("gateway.icloud.com")));
        // Handshake (3), the hello's segments, a one-segment flight, FIN (3).
        check(f, &[("packets", json!(3 + segments + 1 + 3))]);
    }
    assert_all_frames_accounted(&r);
}

#[test]
fn http_methods_sloppy_lines_and_vendor_agents_behind_bare_addresses() {
    let r = replay(&["http_agents.pcap"], &[]);
    assert_eq!(r.flows.len(), 8, "{}", r.dump());
    let by_agent = attributed("microsoft", "updates", "http_user_agent", None);
    check(r.by_client_port(51530), &by_agent);
    check(r.by_client_port(51530), &[("server_name", json!("203.0.113.180"))]);
    check(r.by_client_port(51531), &by_agent);
    check(
        r.by_client_port(51531),
        &[("user_agent", json!("Windows-Update-Agent/10.0.10011.16384 Client-Protocol/2.0"))],
    );
    for (port, server_name) in [(51532, "cdn.example.net"), (51533, "203.0.113.181"), (51537, "sccm.example.net")] {
        let f = r.by_client_port(port);
        check(f, &unattributed());
        check(f, &[("server_name", json!(server_name))]);
    }
    check(r.by_client_port(51534), &attributed("apple", "services", "http_host", Some("www.apple.com")));
    check(r.by_client_port(51535), &attributed("apple", "updates", "http_host", Some("swcdn.apple.com")));
    check(r.by_client_port(51536), &attributed("bytedance", "tiktok", "http_host", Some("www.tiktok.com")));
    check(r.by_client_port(51536), &[("user_agent", json!("x/1"))]);
    assert_eq!(r.metric(&flows_total("net-10-10", "microsoft", "updates", false)), Some(2.0));
    assert_all_frames_accounted(&r);
}

#[test]
fn vendor_stun_attributes_attribute_calls_and_webrtc_commons_do_not() {
    let r = replay(&["stun_calls.pcap"], &[]);
    assert_eq!(r.flows.len(), 3, "{}", r.dump());
    let teams = r.by_client_port(50000);
    check(teams, &attributed("microsoft", "call", "stun", None));
    check(teams, &[("stun_software", json!("Microsoft Teams")), ("packets", json!(4))]);
    check(r.by_client_port(50001), &unattributed());
    check(r.by_client_port(50002), &attributed("google", "call", "stun", None));
    assert_eq!(r.metric(&flows_total("net-10-10", "microsoft", "call", false)), Some(1.0));
    assert_all_frames_accounted(&r);
}

#[test]
fn mdns_and_llmnr_questions_are_not_vendor_lookups() {
    let r = replay(&["local_names.pcap"], &[]);
    assert_eq!(r.flows.len(), 3, "{}", r.dump());
    for port in [5353, 50010] {
        check(r.by_client_port(port), &[("vendor", Value::Null), ("query_vendor", Value::Null)]);
    }
    check(r.by_client_port(50011), &[("vendor", Value::Null), ("query_vendor", json!("apple"))]);
    assert_eq!(r.metric(&dns_queries("net-10-10", "apple", false)), Some(1.0), "only the unicast lookup");
    assert_eq!(r.metric(&dns_queries("net-10-10", "bytedance", false)), None, "an LLMNR question is no lookup");
}

/// What one flow of `udp_tunnels.pcap` was built to be (see
/// `fixtures::udp_tunnel_cases`): inner client port, outermost
/// encapsulation and id, inner endpoints, attribution.
type UdpTunnelled = (
    u64,
    &'static str,
    Option<u64>,
    &'static str,
    &'static str,
    (&'static str, &'static str, &'static str, Option<&'static str>),
);

#[rustfmt::skip]
const UDP_TUNNELLED: [UdpTunnelled; 5] = [
    (51601, "teredo", None, "2001:0:c000:265:0:3a5f:3fff:fda5", "2001:db8:4::1", TIKTOK),
    (51602, "ayiya", None, "2001:db8:ffff:a::2", "2001:db8:4::2", ICLOUD),
    (51603, "gre_udp", Some(7001), "10.10.4.3", "203.0.113.193", TIKTOK),
    // L2TPv2: the tunnel id (0x11) in the upper 16 bits, the session (0x101) below.
    (51604, "l2tp", Some(0x0011_0101), "10.10.4.4", "203.0.113.194", ICLOUD),
    (51605, "l2tpv3", Some(0x1001), "10.10.4.5", "203.0.113.195", TIKTOK),
];

#[test]
fn teredo_ayiya_gre_in_udp_and_l2tp_are_their_inner_flows() {
    let r = replay(&["udp_tunnels.pcap"], &[]);
    assert_eq!(r.out.code, Some(0), "{:?}", r.out);
    let built = fixtures::udp_tunnel_flows();
    assert_eq!(built.len(), UDP_TUNNELLED.len(), "the fixture's flows and the test's table agree");
    for (port, encap, encap_id, client, server, (vendor, service, evidence, name)) in UDP_TUNNELLED {
        let inner = built.iter().find(|f| u64::from(f.client_port) == port).expect("built flow");
        let bytes = |from_client: bool| -> u64 {
            inner.frames.iter().filter(|f| f.from_client == from_client).map(|f| f.frame.len() as u64).sum()
        };
        let f = r.by_client_port(port);
        check(f, &attributed(vendor, service, evidence, name));
        check(
            f,
            &[
                ("proto", json!("tcp")),
                ("encap", json!(encap)),
                ("encap_id", json!(encap_id)),
                ("client", json!(client)),
                ("server", json!(server)),
                ("server_port", json!(443)),
                ("packets", json!(inner.frames.len())),
                ("bytes", json!(bytes(true) + bytes(false))),
                ("bytes_from_client", json!(bytes(true))),
            ],
        );
        assert_eq!(inner.frames.len(), 8);
    }
    for reason in ["teredo_truncated", "ayiya_truncated", "l2tp_bad_header", "l2tp_truncated"] {
        assert_eq!(r.metric(&format!("vendorwatch_decode_errors_total{{reason=\"{reason}\"}}")), Some(1.0), "{reason}");
    }
    let errors: f64 = r.samples("vendorwatch_decode_errors_total").iter().map(|s| s.2).sum();
    assert_eq!(common::count(errors), 4);
    // An AYIYA keepalive carries nothing: the tunnel ends' own UDP flow.
    let keepalive = r.by_client_port(40001);
    check(keepalive, &unattributed());
    check(
        keepalive,
        &[("proto", json!("udp")), ("encap", Value::Null), ("server_port", json!(5072)), ("packets", json!(1))],
    );
    assert_eq!(r.flows.len(), UDP_TUNNELLED.len() + 1, "{}", r.dump());
    assert_all_frames_accounted(&r);
}

#[test]
fn ppp_hdlc_nflog_radiotap_and_llc_snap_links_carry_their_flows() {
    let r = replay(&["link_types.pcapng"], &[]);
    assert_eq!(r.out.code, Some(0), "{:?}", r.out);
    #[rustfmt::skip]
    let cases = [
        (51610, 0, "10.10.4.10", TIKTOK),
        (51611, 1, "10.10.4.11", ICLOUD),
        (51612, 2, "fd00:10:10::4:12", TIKTOK),
        (51613, 3, "10.10.4.13", ICLOUD),
        (51614, 4, "10.10.4.14", TIKTOK),
        (51615, 5, "10.10.4.15", ICLOUD),
    ];
    for (port, interface, client, (vendor, service, evidence, name)) in cases {
        let f = r.by_client_port(port);
        check(f, &attributed(vendor, service, evidence, name));
        check(
            f,
            &[
                ("client", json!(client)),
                ("interface", json!(interface)),
                ("packets", json!(8)),
                ("encap", Value::Null),
            ],
        );
    }
    assert_eq!(r.flows.len(), cases.len(), "{}", r.dump());
    for reason in [
        "ieee80211_bad_fcs",
        "radiotap_truncated",
        "radiotap_bad_header",
        "ppp_truncated",
        "ppp_bad_header",
        "chdlc_truncated",
        "chdlc_bad_header",
        "nflog_truncated",
        "nflog_bad_header",
        "llc_truncated",
    ] {
        assert_eq!(r.metric(&format!("vendorwatch_decode_errors_total{{reason=\"{reason}\"}}")), Some(1.0), "{reason}");
    }
    let errors: f64 = r.samples("vendorwatch_decode_errors_total").iter().map(|s| s.2).sum();
    assert_eq!(common::count(errors), 10);
    // A beacon, a protected (encrypted) data frame and spanning tree.
    assert_eq!(r.metric("vendorwatch_decode_skipped_total{reason=\"non_ip\"}"), Some(3.0));
    assert_eq!(r.metric("vendorwatch_capture_packets_total{source=\"link_types.pcapng\"}"), Some(61.0));
    assert_all_frames_accounted(&r);
}

#[test]
fn ethernet_frames_lose_the_fcs_the_pcap_header_announces() {
    let (records, end) = read_pcap(&fixture("ethernet_fcs.pcap"));
    assert!(end.is_ok());
    let r = replay(&["ethernet_fcs.pcap"], &[]);
    assert_eq!(r.out.code, Some(0), "{:?}", r.out);
    assert_eq!(r.flows.len(), 1, "{}", r.dump());
    let f = r.by_client_port(51620);
    check(f, &attributed(TIKTOK.0, TIKTOK.1, TIKTOK.2, TIKTOK.3));
    // Bytes are wire lengths, the FCS included.
    let wire: u64 = records.iter().map(|r| r.orig_len).sum();
    check(f, &[("packets", json!(8)), ("bytes", json!(wire))]);
    assert_eq!(common::count(r.skipped()), 0, "every frame decodes");
}

#[test]
fn https_record_hints_teach_addresses_and_ech_marks_the_lookup() {
    let r = replay(&["https_records.pcap"], &[]);
    assert_eq!(r.flows.len(), 4, "{}", r.dump());
    let lookup = r.by_client_port(40160);
    check(lookup, &[("vendor", Value::Null), ("query_vendor", json!("bytedance")), ("ech_config", json!(true))]);
    let f = r.by_client_port(51260);
    check(f, &attributed("bytedance", "tiktok", "dns", Some("www.tiktok.com")));
    check(f, &[("ech", json!(true)), ("server_name", json!("cloudflare-ech.com")), ("packets", json!(9))]);
    let lookup = r.by_client_port(40161);
    check(lookup, &[("query_vendor", json!("apple")), ("ech_config", json!(false))]);
    let f = r.by_client_port(51261);
    check(f, &attributed("apple", "icloud", "dns", Some("gateway.icloud.com")));
    check(f, &[("ech", json!(false)), ("ech_config", json!(false)), ("packets", json!(8))]);
    assert_eq!(r.metric(&dns_queries("net-10-10", "bytedance", false)), Some(1.0));
    assert_all_frames_accounted(&r);
}

#[test]
fn dns_over_tls_and_https_flows_are_marked() {
    let r = replay(&["encrypted_dns.pcap"], &[]);
    assert_eq!(r.flows.len(), 6, "{}", r.dump());
    let expected = [
        (51270, json!("dot")),
        (51271, json!("dot")),
        (51272, json!("doh")),
        (51273, json!("doh")),
        (51274, json!("doh")),
        (51275, Value::Null),
    ];
    for (port, encrypted_dns) in expected {
        let f = r.by_client_port(port);
        if port != 51273 {
            check(f, &unattributed());
        }
        check(f, &[("encrypted_dns", encrypted_dns)]);
    }
    // Google's resolver is Google's service; the mark is beside the vendor.
    check(r.by_client_port(51273), &attributed("google", "dns", "quic_sni", Some("dns.google")));
    check(r.by_client_port(51273), &[("proto", json!("udp"))]);
    assert_all_frames_accounted(&r);
}

#[test]
fn media_to_a_calls_stun_candidates_is_the_calls() {
    let r = replay(&["call_media.pcap"], &[]);
    assert_eq!(r.flows.len(), 6, "{}", r.dump());
    check(r.by_client_port(50080), &attributed("microsoft", "call", "stun", None));
    check(r.by_client_port(50081), &attributed("microsoft", "call", "stun", None));
    let peer = r.by_client_port(40000);
    check(peer, &attributed("microsoft", "call", "stun", None));
    check(peer, &[("client", json!("198.51.100.90")), ("server_port", json!(50082))]);
    for port in [50083, 50084, 50085] {
        check(r.by_client_port(port), &unattributed());
    }
    assert_eq!(r.metric(&flows_total("net-10-10", "microsoft", "call", false)), Some(3.0));
    assert_all_frames_accounted(&r);
}

#[test]
fn dns_over_tcp_off_port_53_is_read_by_its_content() {
    let r = replay(&["dns_any_port.pcap"], &[]);
    assert_eq!(r.flows.len(), 5, "{}", r.dump());
    for (port, vendor) in [(40190, "bytedance"), (40191, "apple")] {
        check(r.by_client_port(port), &[("vendor", Value::Null), ("query_vendor", json!(vendor))]);
    }
    let f = r.by_client_port(50190);
    check(f, &attributed("bytedance", "tiktok", "dns", Some("p16-sign-va.tiktokcdn.com")));
    check(r.by_client_port(50191), &attributed("apple", "icloud", "dns", Some("gateway.icloud.com")));
    let tds = r.by_client_port(50192);
    check(tds, &unattributed());
    check(tds, &[("query_vendor", Value::Null)]);
    assert_eq!(r.metric(&dns_queries("net-10-10", "bytedance", false)), Some(1.0));
    assert_eq!(r.metric(&dns_queries("net-10-10", "apple", false)), Some(1.0));
    assert_all_frames_accounted(&r);
}

#[test]
fn stun_over_tcp_is_read_from_the_stream_either_framing() {
    let r = replay(&["stun_tcp.pcap"], &[]);
    assert_eq!(r.flows.len(), 3, "{}", r.dump());
    let turn = r.by_client_port(50290);
    check(turn, &attributed("microsoft", "call", "stun", None));
    check(turn, &[("stun_software", json!("Microsoft Teams")), ("proto", json!("tcp"))]);
    check(r.by_client_port(50291), &attributed("microsoft", "call", "stun", None));
    check(r.by_client_port(50292), &unattributed());
    check(r.by_client_port(50292), &[("stun_software", Value::Null)]);
    assert_eq!(r.metric(&flows_total("net-10-10", "microsoft", "call", false)), Some(2.0));
    assert_all_frames_accounted(&r);
}

#[test]
fn dns_over_quic_flows_are_marked() {
    let r = replay(&["dns_over_quic.pcap"], &[]);
    assert_eq!(r.flows.len(), 3, "{}", r.dump());
    for (port, alpn, encrypted_dns) in
        [(51290, "doq", json!("doq")), (51291, "doq-i02", json!("doq")), (51292, "h3", Value::Null)]
    {
        let f = r.by_client_port(port);
        check(f, &unattributed());
        check(f, &[("alpn", json!(alpn)), ("encrypted_dns", encrypted_dns), ("proto", json!("udp"))]);
    }
    check(r.by_client_port(51290), &[("server_name", json!("dns.adguard-dns.com"))]);
    assert_all_frames_accounted(&r);
}
