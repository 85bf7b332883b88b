//! Prometheus exposition of the aggregated counters, in the classic text
//! format or OpenMetrics.
//!
//! Written by hand rather than through a client library because the
//! counters already live in the aggregator (the packet path never touches a
//! metric), and because both formats are needed: Prometheus' text format
//! for files and older scrapers, OpenMetrics when a scraper asks for it.
//! No label ever holds an address or a host name: segment, vendor and
//! service come from the config and the signatures, so the series count is
//! bounded whatever the traffic.

use std::fmt::Write;

use std::collections::BTreeMap;

use crate::aggregate::{Aggregator, IN, OUT, Policy};
use crate::decode::DecodeError;

/// Which exposition format to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `text/plain; version=0.0.4`
    Prometheus,
    /// `application/openmetrics-text; version=1.0.0`
    OpenMetrics,
}

impl Format {
    /// The HTTP `Content-Type` of the format, with its version.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// Builds an exposition one metric family at a time.
pub struct Exposition {
    format: Format,
    out: String,
}

/// The type of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (until the process restarts); its samples end in `_total`.
    Counter,
    /// Goes up and down.
    Gauge,
}

impl Exposition {
    /// An empty exposition in `format`.
    pub fn new(format: Format) -> Self {
        Exposition { format, out: String::with_capacity(16 * 1024) }
    }

    /// Starts a family. Counter names end in `_total`; OpenMetrics names
    /// the family without that suffix.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let family = match (self.format, kind) {
            (Format::OpenMetrics, Kind::Counter) => name.strip_suffix("_total").unwrap_or(name),
            _ => name,
        };
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        };
        let _ = writeln!(self.out, "# HELP {family} {help}");
        let _ = writeln!(self.out, "# TYPE {family} {kind}");
    }

    /// Adds one sample of the family last started: `name` (with its
    /// `_total` suffix for a counter), its labels in order (values escaped
    /// here), and its value.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(k);
                self.out.push_str("=\"");
                push_label_value(&mut self.out, v);
                self.out.push('"');
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }

    /// The exposition's text (OpenMetrics: with its closing `# EOF`).
    pub fn finish(mut self) -> String {
        if self.format == Format::OpenMetrics {
            self.out.push_str("# EOF\n");
        }
        self.out
    }
}

/// Appends a label value escaped as both formats want it: backslash, double
/// quote and line feed.
pub(crate) fn push_label_value(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Nanoseconds as Unix seconds, to the f64's precision (dividing the
/// whole count would round the fraction off).
fn unix_seconds(ns: u64) -> f64 {
    (ns / 1_000_000_000) as f64 + (ns % 1_000_000_000) as f64 / 1e9
}

fn flag(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

/// Writes every vendorwatch counter, labelled `banned` by `policy` (the one
/// in force now, whatever it was when the traffic was counted).
/// `hosts_since_ns` limits the hosts gauge to hosts seen since then (0: all).
#[allow(clippy::too_many_lines, reason = "one family after another in exposition order, each a few lines")]
pub fn write_counters(e: &mut Exposition, agg: &Aggregator, hosts_since_ns: u64, policy: &Policy) {
    let banned = |vendor: &str| flag(policy.is_banned(vendor));
    let mut traffic: Vec<_> = agg.traffic.iter().collect();
    traffic.sort_by(|a, b| a.0.cmp(b.0));

    e.family("vendorwatch_flows_total", Kind::Counter, "Flows by segment, vendor and service.");
    for (k, t) in &traffic {
        e.sample(
            "vendorwatch_flows_total",
            &[("segment", &k.segment), ("vendor", &k.vendor), ("service", &k.service), ("banned", banned(&k.vendor))],
            t.flows as f64,
        );
    }
    for (name, help, pick) in [
        (
            "vendorwatch_packets_total",
            "Packets by segment, vendor, service and direction (out: from the segment's host).",
            0,
        ),
        (
            "vendorwatch_bytes_total",
            "Wire bytes by segment, vendor, service and direction (out: from the segment's host).",
            1,
        ),
    ] {
        e.family(name, Kind::Counter, help);
        for (k, t) in &traffic {
            let values = if pick == 0 { t.packets } else { t.bytes };
            for (dir, label) in [(OUT, "out"), (IN, "in")] {
                e.sample(
                    name,
                    &[
                        ("segment", &k.segment),
                        ("vendor", &k.vendor),
                        ("service", &k.service),
                        ("banned", banned(&k.vendor)),
                        ("direction", label),
                    ],
                    values[dir] as f64,
                );
            }
        }
    }
    e.family("vendorwatch_hosts", Kind::Gauge, "Distinct segment hosts with traffic to the vendor.");
    for (k, n) in agg.host_counts(hosts_since_ns) {
        e.sample(
            "vendorwatch_hosts",
            &[("segment", &k.segment), ("vendor", &k.vendor), ("banned", banned(&k.vendor))],
            n as f64,
        );
    }
    e.family(
        "vendorwatch_devices",
        Kind::Gauge,
        "Devices seen on the segment, by the vendor and kind their evidence names (live: within the host window).",
    );
    for ((segment, vendor, kind, banned), n) in agg.devices.counts(hosts_since_ns) {
        let labels = [("segment", &*segment), ("vendor", &*vendor), ("kind", kind.as_str()), ("banned", flag(banned))];
        e.sample("vendorwatch_devices", &labels, n as f64);
    }
    e.family(
        "vendorwatch_dns_queries_total",
        Kind::Counter,
        "DNS queries for vendor names, by the querying host's segment.",
    );
    // Every configured segment has a series at 0 for each banned vendor, so
    // the first lookup is an increase from 0, not the birth of a series.
    let mut queries: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for segment in policy.configured_segments() {
        for vendor in policy.banned_vendors() {
            queries.insert((segment, vendor), 0);
        }
    }
    for (k, n) in &agg.dns_queries {
        *queries.entry((&k.segment, &k.vendor)).or_default() += n;
    }
    for ((segment, vendor), n) in queries {
        e.sample(
            "vendorwatch_dns_queries_total",
            &[("segment", segment), ("vendor", vendor), ("banned", banned(vendor))],
            n as f64,
        );
    }
    e.family(
        "vendorwatch_ech_flows_total",
        Kind::Counter,
        "Flows whose ClientHello used Encrypted ClientHello (outer SNI not attributed).",
    );
    let mut ech: Vec<_> = agg.ech_flows.iter().collect();
    ech.sort();
    for (segment, n) in ech {
        e.sample("vendorwatch_ech_flows_total", &[("segment", segment)], *n as f64);
    }
    e.family(
        "vendorwatch_vendor_last_seen_timestamp_seconds",
        Kind::Gauge,
        "When the vendor last had a packet in the segment, Unix time (live: the capture clock, i.e. wall clock).",
    );
    let mut seen: Vec<_> = agg.last_seen.iter().collect();
    seen.sort();
    for (k, ts_ns) in seen {
        e.sample(
            "vendorwatch_vendor_last_seen_timestamp_seconds",
            &[("segment", &k.segment), ("vendor", &k.vendor), ("banned", banned(&k.vendor))],
            unix_seconds(*ts_ns),
        );
    }
    e.family(
        "vendorwatch_banned_flows_total",
        Kind::Counter,
        "Flows of vendors the policy bans, by segment; at 0 for every configured segment from the start.",
    );
    let mut banned_flows: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for segment in policy.configured_segments() {
        for vendor in policy.banned_vendors() {
            banned_flows.insert((segment, vendor), 0);
        }
    }
    for (k, t) in traffic.iter().filter(|(k, _)| policy.is_banned(&k.vendor)) {
        *banned_flows.entry((&k.segment, &k.vendor)).or_default() += t.flows;
    }
    for ((segment, vendor), n) in banned_flows {
        e.sample("vendorwatch_banned_flows_total", &[("segment", segment), ("vendor", vendor)], n as f64);
    }
    e.family(
        "vendorwatch_flows_by_evidence_total",
        Kind::Counter,
        "Flows by segment and the evidence that attributed them (tls_sni, quic_sni, http_host, dns, ip, port; none).",
    );
    let mut evidence: Vec<_> = agg.evidence.iter().collect();
    evidence.sort();
    for ((segment, kind), n) in evidence {
        e.sample("vendorwatch_flows_by_evidence_total", &[("segment", segment), ("evidence", kind)], *n as f64);
    }
    e.family("vendorwatch_capture_packets_total", Kind::Counter, "Frames read, by source (capture file or interface).");
    for (source, n) in &agg.capture_packets {
        e.sample("vendorwatch_capture_packets_total", &[("source", source)], *n as f64);
    }
    e.family("vendorwatch_capture_bytes_total", Kind::Counter, "Wire bytes of frames read, by source.");
    for (source, n) in &agg.capture_bytes {
        e.sample("vendorwatch_capture_bytes_total", &[("source", source)], *n as f64);
    }
    e.family("vendorwatch_decode_errors_total", Kind::Counter, "Malformed or truncated frames, skipped, by reason.");
    for err in DecodeError::ALL {
        e.sample(
            "vendorwatch_decode_errors_total",
            &[("reason", err.reason())],
            agg.packet_stats.decode_errors[err.index()] as f64,
        );
    }
    e.family(
        "vendorwatch_decode_skipped_total",
        Kind::Counter,
        "Well-formed frames in no flow: non-IP frames, and IP fragments whose datagram could not be reassembled.",
    );
    e.sample("vendorwatch_decode_skipped_total", &[("reason", "non_ip")], agg.packet_stats.non_ip as f64);
    e.sample("vendorwatch_decode_skipped_total", &[("reason", "ip_fragment")], agg.packet_stats.fragments as f64);
    e.family(
        "vendorwatch_fragment_datagrams_total",
        Kind::Counter,
        "Fragmented IP datagrams reassembled, and fragments given up (timed_out, overflow, inconsistent).",
    );
    let s = &agg.packet_stats;
    for (outcome, n) in [
        ("reassembled", s.reassembled),
        ("timed_out", s.fragments_timed_out),
        ("overflow", s.fragments_overflow),
        ("inconsistent", s.fragments_inconsistent),
    ] {
        e.sample("vendorwatch_fragment_datagrams_total", &[("outcome", outcome)], n as f64);
    }
    e.family(
        "vendorwatch_quic_packets_skipped_total",
        Kind::Counter,
        "QUIC Initial packets whose decryption failed, counted when their flow ends.",
    );
    e.sample("vendorwatch_quic_packets_skipped_total", &[], agg.packet_stats.quic_skipped as f64);
    e.family(
        "vendorwatch_inspect_refused_total",
        Kind::Counter,
        "Flows not reassembled because the worker's inspection memory budget was spent.",
    );
    e.sample("vendorwatch_inspect_refused_total", &[], agg.packet_stats.inspect_refused as f64);
    e.family("vendorwatch_flow_table_flows", Kind::Gauge, "Flows currently tracked.");
    e.sample("vendorwatch_flow_table_flows", &[], agg.flow_table_flows as f64);
    e.family(
        "vendorwatch_flow_evictions_total",
        Kind::Counter,
        "Flows ended by the table: idle past their timeout, or pushed out when full.",
    );
    for reason in ["idle_timeout", "table_full"] {
        e.sample(
            "vendorwatch_flow_evictions_total",
            &[("reason", reason)],
            agg.evictions.get(reason).copied().unwrap_or(0) as f64,
        );
    }
    e.family(
        "vendorwatch_dns_cache_entries",
        Kind::Gauge,
        "Answers held that tie a client's address lookups to vendor names.",
    );
    e.sample("vendorwatch_dns_cache_entries", &[], agg.dns_cache_entries as f64);
    e.family("vendorwatch_host_table_hosts", Kind::Gauge, "Hosts whose facts (names, devices) are held.");
    e.sample("vendorwatch_host_table_hosts", &[], agg.host_table_hosts as f64);
    e.family("vendorwatch_host_evictions_total", Kind::Counter, "Hosts evicted from a full host table.");
    e.sample("vendorwatch_host_evictions_total", &[], agg.host_evictions as f64);
    e.family(
        "vendorwatch_dns_cache_evictions_total",
        Kind::Counter,
        "DNS answers dropped from the full answer cache before their TTL ran out.",
    );
    e.sample("vendorwatch_dns_cache_evictions_total", &[], agg.dns_cache_evictions as f64);
    e.family(
        "vendorwatch_inspect_stream_overflows_total",
        Kind::Counter,
        "Flows whose inspection ended because a TCP direction's reassembly reached its bound.",
    );
    e.sample("vendorwatch_inspect_stream_overflows_total", &[], agg.packet_stats.inspect_stream_overflows as f64);
    e.family(
        "vendorwatch_host_traffic_dropped_total",
        Kind::Counter,
        "Flows a full host-service table (the hosts report, /api/hosts) could not record.",
    );
    e.sample("vendorwatch_host_traffic_dropped_total", &[], agg.host_traffic_dropped as f64);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::{NO_EVIDENCE, Traffic, TrafficKey, VendorKey};

    #[test]
    fn escapes_labels_and_names_families_per_format() {
        let mut e = Exposition::new(Format::OpenMetrics);
        e.family("x_total", Kind::Counter, "help");
        e.sample("x_total", &[("a", "q\"b\\n\n")], 2.0);
        let text = e.finish();
        assert_eq!(text, "# HELP x help\n# TYPE x counter\nx_total{a=\"q\\\"b\\\\n\\n\"} 2\n# EOF\n");
        let mut p = Exposition::new(Format::Prometheus);
        p.family("x_total", Kind::Counter, "help");
        assert!(p.finish().contains("# TYPE x_total counter"));
    }

    #[test]
    fn writes_directional_traffic() {
        let mut agg = Aggregator::default();
        let key = TrafficKey { segment: agg.label("hq"), vendor: agg.label("apple"), service: agg.label("push") };
        agg.add_traffic(key, Traffic { flows: 2, packets: [3, 4], bytes: [300, 400] });
        let mut e = Exposition::new(Format::Prometheus);
        write_counters(&mut e, &agg, 0, &Policy::banning(&["apple"], &[]));
        let text = e.finish();
        assert!(
            text.contains(
                "vendorwatch_flows_total{segment=\"hq\",vendor=\"apple\",service=\"push\",banned=\"true\"} 2\n"
            )
        );
        assert!(text.contains("vendorwatch_bytes_total{segment=\"hq\",vendor=\"apple\",service=\"push\",banned=\"true\",direction=\"in\"} 400\n"));
        assert!(text.contains("vendorwatch_decode_errors_total{reason=\"ipv4_truncated\"} 0\n"));
        for outcome in ["reassembled", "timed_out", "overflow", "inconsistent"] {
            let line = format!("vendorwatch_fragment_datagrams_total{{outcome=\"{outcome}\"}} 0\n");
            assert!(text.contains(&line), "{line}");
        }
    }

    /// Both bounds filled through a worker, as traffic fills them: a DNS
    /// answer flood into a small shared cache, and HTTP heads whose Host
    /// header never ends; the counters reach the exposition.
    #[test]
    fn dns_cache_evictions_and_stream_overflows_reach_the_metrics() {
        use std::sync::Arc;

        use synth::app::{self, Answer};
        use synth::conv::{Capture, Path};

        use crate::classify::dns_cache::DnsCache;
        use crate::classify::signatures::SignatureSet;
        use crate::pipeline::{FlowRecords, Pipeline, Rules};
        use crate::segment::Config;
        use crate::source::{Frame, LinkType};

        let rules = Arc::new(Rules::new(SignatureSet::embedded(), Config::default_auto()).unwrap());
        let mut p = Pipeline::new(rules, 1024, FlowRecords::Off);
        let cache = Arc::new(DnsCache::new(64));
        p.share_dns_cache(cache.clone());
        let source = p.add_source("eth0");
        let mut cap = Capture::new(1_700_000_000_000_000_000, 1_000_000);
        let resolver = Path::new("10.10.1.21:53001", "10.10.0.1:53");
        let addrs: Vec<String> = (0..200).map(|i| format!("198.51.{}.{}", i / 100, i % 100 + 1)).collect();
        let answers: Vec<Answer> = addrs.iter().map(|a| Answer::a("gateway.icloud.com", 300, a)).collect();
        for (id, chunk) in (1u16..).zip(answers.chunks(50)) {
            cap.push(resolver.udp(true, &app::dns_query(id, "gateway.icloud.com", 1)));
            cap.push(resolver.udp(false, &app::dns_response(id, "gateway.icloud.com", 1, chunk)));
        }
        let flood: Vec<_> = synth::fixtures::host_header_flood(3, 20_000).collect();
        let records = cap.records().iter().chain(&flood);
        for r in records {
            let frame = Frame {
                ts_ns: r.ts_ns,
                link: LinkType::Ethernet,
                data: &r.data,
                wire_len: u32::try_from(r.data.len()).unwrap(),
                interface: 0,
            };
            p.process(&frame, source);
        }
        p.finish();
        let mut agg = Aggregator::default();
        let batch = p.take_batch();
        agg.merge(batch.counts);
        agg.set_gauges(0, batch.gauges);
        let text = render(&agg, &Policy::banning(&[], &[]));
        let evicted = 200 - cache.len() as u64;
        assert!(evicted >= 136, "200 fresh answers, room for 64: {evicted}");
        assert!(text.contains(&format!("vendorwatch_dns_cache_evictions_total {evicted}\n")), "{text}");
        assert!(text.contains("vendorwatch_inspect_stream_overflows_total 3\n"), "{text}");
        assert!(text.contains("vendorwatch_inspect_refused_total 0\n"), "the budget was not the bound");
    }

    #[test]
    fn a_full_host_service_table_counts_what_it_could_not_record() {
        use crate::aggregate::{HostServiceKey, HostTraffic, MAX_HOST_SERVICES};

        let mut agg = Aggregator::default();
        let (segment, vendor, service) = (agg.label("hq"), agg.label("apple"), agg.label("icloud"));
        let t = HostTraffic { flows: 1, packets: 2, bytes: 100, first_ns: 1, last_ns: 2 };
        for i in 0..u32::try_from(MAX_HOST_SERVICES).unwrap() + 5 {
            let key = HostServiceKey {
                segment: segment.clone(),
                host: std::net::IpAddr::from(std::net::Ipv4Addr::from(i)),
                vendor: vendor.clone(),
                service: service.clone(),
                banned: false,
            };
            agg.add_host_traffic(key, t);
        }
        assert_eq!(agg.host_traffic.len(), MAX_HOST_SERVICES);
        let text = render(&agg, &Policy::banning(&[], &[]));
        assert!(text.contains("vendorwatch_host_traffic_dropped_total 5\n"), "{text}");
    }

    fn render(agg: &Aggregator, policy: &Policy) -> String {
        let mut e = Exposition::new(Format::Prometheus);
        write_counters(&mut e, agg, 0, policy);
        e.finish()
    }

    fn lines<'a>(text: &'a str, family: &str) -> Vec<&'a str> {
        text.lines().filter(|l| l.starts_with(&format!("{family}{{"))).collect()
    }

    /// The first contact is an increase from 0: configured segments have
    /// banned-flow and lookup series at 0 for every banned vendor; the
    /// policy in force labels past counts, so banning relabels them.
    #[test]
    fn banned_vendors_have_zero_series_and_the_policy_relabels_past_counts() {
        let mut agg = Aggregator::default();
        let (hq, apple, google) = (agg.label("hq"), agg.label("apple"), agg.label("google"));
        let key = TrafficKey { segment: hq.clone(), vendor: apple.clone(), service: agg.label("push") };
        agg.add_traffic(key, Traffic { flows: 3, packets: [1, 1], bytes: [10, 10] });
        agg.saw_vendor(VendorKey { segment: hq.clone(), vendor: apple.clone() }, 1_500_000_000_250_000_000);
        agg.dns_queries.insert(VendorKey { segment: hq.clone(), vendor: google }, 4);
        agg.add_evidence(hq.clone(), "tls_sni");
        agg.add_evidence(hq, NO_EVIDENCE);

        let open = render(&agg, &Policy::banning(&[], &["hq", "lab"]));
        assert_eq!(lines(&open, "vendorwatch_banned_flows_total"), Vec::<&str>::new());
        assert_eq!(
            lines(&open, "vendorwatch_vendor_last_seen_timestamp_seconds"),
            [
                "vendorwatch_vendor_last_seen_timestamp_seconds{segment=\"hq\",vendor=\"apple\",banned=\"false\"} 1500000000.25"
            ]
        );

        let strict = render(&agg, &Policy::banning(&["apple", "huawei"], &["hq", "lab"]));
        assert_eq!(
            lines(&strict, "vendorwatch_banned_flows_total"),
            [
                "vendorwatch_banned_flows_total{segment=\"hq\",vendor=\"apple\"} 3",
                "vendorwatch_banned_flows_total{segment=\"hq\",vendor=\"huawei\"} 0",
                "vendorwatch_banned_flows_total{segment=\"lab\",vendor=\"apple\"} 0",
                "vendorwatch_banned_flows_total{segment=\"lab\",vendor=\"huawei\"} 0",
            ]
        );
        assert_eq!(
            lines(&strict, "vendorwatch_dns_queries_total"),
            [
                "vendorwatch_dns_queries_total{segment=\"hq\",vendor=\"apple\",banned=\"true\"} 0",
                "vendorwatch_dns_queries_total{segment=\"hq\",vendor=\"google\",banned=\"false\"} 4",
                "vendorwatch_dns_queries_total{segment=\"hq\",vendor=\"huawei\",banned=\"true\"} 0",
                "vendorwatch_dns_queries_total{segment=\"lab\",vendor=\"apple\",banned=\"true\"} 0",
                "vendorwatch_dns_queries_total{segment=\"lab\",vendor=\"huawei\",banned=\"true\"} 0",
            ]
        );
        // One series for apple's flows, relabelled: never one of each.
        assert_eq!(
            lines(&strict, "vendorwatch_flows_total"),
            ["vendorwatch_flows_total{segment=\"hq\",vendor=\"apple\",service=\"push\",banned=\"true\"} 3"]
        );
        assert_eq!(
            lines(&strict, "vendorwatch_flows_by_evidence_total"),
            [
                "vendorwatch_flows_by_evidence_total{segment=\"hq\",evidence=\"none\"} 1",
                "vendorwatch_flows_by_evidence_total{segment=\"hq\",evidence=\"tls_sni\"} 1",
            ]
        );
    }
}
