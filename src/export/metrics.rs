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

use crate::aggregate::{Aggregator, IN, OUT};
use crate::decode::DecodeError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `text/plain; version=0.0.4`
    Prometheus,
    /// `application/openmetrics-text; version=1.0.0`
    OpenMetrics,
}

impl Format {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
}

impl Exposition {
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
                for c in v.chars() {
                    match c {
                        '\\' => self.out.push_str("\\\\"),
                        '"' => self.out.push_str("\\\""),
                        '\n' => self.out.push_str("\\n"),
                        c => self.out.push(c),
                    }
                }
                self.out.push('"');
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }

    pub fn finish(mut self) -> String {
        if self.format == Format::OpenMetrics {
            self.out.push_str("# EOF\n");
        }
        self.out
    }
}

fn flag(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

/// Writes every vendorwatch counter. `hosts_since_ns` limits the hosts
/// gauge to hosts seen since then (0: all).
pub fn write_counters(e: &mut Exposition, agg: &Aggregator, hosts_since_ns: u64) {
    let mut traffic: Vec<_> = agg.traffic.iter().collect();
    traffic.sort_by(|a, b| a.0.cmp(b.0));

    e.family("vendorwatch_flows_total", Kind::Counter, "Flows by segment, vendor and service.");
    for (k, t) in &traffic {
        e.sample(
            "vendorwatch_flows_total",
            &[("segment", &k.segment), ("vendor", &k.vendor), ("service", &k.service), ("banned", flag(k.banned))],
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
                        ("banned", flag(k.banned)),
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
            &[("segment", &k.segment), ("vendor", &k.vendor), ("banned", flag(k.banned))],
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
    let mut queries: Vec<_> = agg.dns_queries.iter().collect();
    queries.sort();
    for (k, n) in queries {
        e.sample(
            "vendorwatch_dns_queries_total",
            &[("segment", &k.segment), ("vendor", &k.vendor), ("banned", flag(k.banned))],
            *n as f64,
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::{Traffic, TrafficKey};

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
        let key = TrafficKey {
            segment: agg.label("hq"),
            vendor: agg.label("apple"),
            service: agg.label("push"),
            banned: true,
        };
        agg.add_traffic(key, Traffic { flows: 2, packets: [3, 4], bytes: [300, 400] });
        let mut e = Exposition::new(Format::Prometheus);
        write_counters(&mut e, &agg, 0);
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
}
