//! The analyst's report: per segment, which vendors, how much, from how many
//! hosts; banned vendors first. Printed as a table or as JSON (the same
//! document `/api/summary` serves).

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use crate::aggregate::{Aggregator, IN, NO_VENDOR, OUT, Policy};
use crate::decode::DecodeError;
use crate::export::time::rfc3339;

/// The whole report: traffic by segment and vendor, the capture's own
/// counters, devices and the hosts behind banned vendors.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    /// By segment name.
    pub segments: Vec<SegmentSummary>,
    /// What was read and what was skipped.
    pub capture: CaptureSummary,
    /// Devices per segment, vendor and kind (live: within the host window).
    pub devices: Vec<DeviceCountSummary>,
    /// For each banned vendor with traffic, the segment hosts that sent it
    /// the most bytes (at most [`TOP_HOSTS`]).
    pub top_hosts: Vec<BannedVendorHosts>,
}

/// How many devices of a vendor and kind a segment has.
#[derive(Debug, Default, Serialize)]
pub struct DeviceCountSummary {
    /// The segment the devices were seen on.
    pub segment: String,
    /// `none` when no evidence names a vendor.
    pub vendor: String,
    /// The device kind's label (`phone`, `camera`, ..., `other`).
    pub kind: &'static str,
    /// Whether the policy bans the vendor.
    pub banned: bool,
    /// How many devices.
    pub devices: u64,
}

/// Hosts listed per banned vendor in the report.
pub const TOP_HOSTS: usize = 5;

/// The segment hosts that sent one banned vendor the most bytes.
#[derive(Debug, Default, Serialize)]
pub struct BannedVendorHosts {
    /// The banned vendor's id.
    pub vendor: String,
    /// Hosts that reached the vendor, over all segments.
    pub hosts_total: u64,
    /// The top [`TOP_HOSTS`] by bytes, the most first.
    pub hosts: Vec<TopHost>,
}

/// One host that reached a banned vendor.
#[derive(Debug, Serialize)]
pub struct TopHost {
    /// The segment the host belongs to.
    pub segment: String,
    /// The host's address.
    pub host: std::net::IpAddr,
    /// Its flows to the vendor.
    pub flows: u64,
    /// Wire bytes both ways of those flows.
    pub bytes: u64,
    /// The vendor's services it reached, by bytes, the most first.
    pub services: Vec<String>,
    /// Its last packet to the vendor, ns since the Unix epoch (written as
    /// RFC 3339).
    #[serde(serialize_with = "crate::export::time::serialize_rfc3339")]
    pub last_seen: u64,
}

/// The vendors of one segment.
#[derive(Debug, Default, Serialize)]
pub struct SegmentSummary {
    /// The segment's name.
    pub segment: String,
    /// Banned vendors first, then by bytes; traffic no signature matched
    /// last.
    pub vendors: Vec<VendorSummary>,
}

/// One vendor's traffic in a segment.
#[derive(Debug, Default, Serialize)]
pub struct VendorSummary {
    /// `none` for traffic no signature matched.
    pub vendor: String,
    /// Whether the policy in force bans the vendor.
    pub banned: bool,
    /// Flows attributed to the vendor.
    pub flows: u64,
    /// Packets both ways.
    pub packets: u64,
    /// Wire bytes both ways (`bytes_out` + `bytes_in`).
    pub bytes: u64,
    /// Wire bytes the segment's hosts sent.
    pub bytes_out: u64,
    /// Wire bytes the segment's hosts received.
    pub bytes_in: u64,
    /// Distinct segment hosts that reached the vendor (live: within the
    /// host window).
    pub hosts: u64,
    /// DNS queries for the vendor's names.
    pub dns_queries: u64,
    /// By bytes, the most first.
    pub services: Vec<ServiceSummary>,
}

/// One service's traffic in a segment.
#[derive(Debug, Default, Serialize)]
pub struct ServiceSummary {
    /// The service's name within the vendor.
    pub service: String,
    /// Flows attributed to the service.
    pub flows: u64,
    /// Packets both ways.
    pub packets: u64,
    /// Wire bytes both ways.
    pub bytes: u64,
}

/// What was read and what could not be used.
#[derive(Debug, Default, Serialize)]
pub struct CaptureSummary {
    /// Frames read, over all sources.
    pub packets: u64,
    /// Wire bytes of the frames read.
    pub bytes: u64,
    /// Frames read per source (capture file or interface).
    pub sources: BTreeMap<String, u64>,
    /// Malformed or truncated frames by reason, the reasons with any.
    pub decode_errors: BTreeMap<&'static str, u64>,
    /// Well-formed frames that carry no IP packet.
    pub non_ip: u64,
    /// Fragment frames given up (their datagram never reassembled).
    pub ip_fragments: u64,
    /// Flows the table ended itself, by reason (`idle_timeout`,
    /// `table_full`).
    pub evictions: BTreeMap<&'static str, u64>,
    /// Inputs truncated or unreadable; replay only.
    pub source_errors: u64,
    /// The first packet's time (as the capture clock placed it), RFC 3339;
    /// replay only.
    #[serde(serialize_with = "crate::export::time::serialize_rfc3339_or_null")]
    pub first_packet: Option<u64>,
    /// The last packet's time, RFC 3339; replay only.
    #[serde(serialize_with = "crate::export::time::serialize_rfc3339_or_null")]
    pub last_packet: Option<u64>,
    /// What went wrong reading the inputs; replay only.
    pub input_errors: Vec<InputError>,
    /// Records timed at the capture clock, by source (those with any); replay only.
    pub time_jumps: BTreeMap<String, u64>,
}

/// One kind of problem with one input.
#[derive(Debug, Serialize)]
pub struct InputError {
    /// The input, named as in [`CaptureSummary::sources`].
    pub source: String,
    /// As in `vendorwatch_capture_errors_total`: `unreadable`, `not_a_capture`,
    /// `truncated`, `malformed`, `record_too_large`, `bad_timestamp`, `io`.
    pub reason: &'static str,
    /// Records skipped for it (1 for an error that ended or prevented reading).
    pub records: u64,
    /// The first such error, with its byte offset.
    pub error: String,
}

/// The hosts that sent each banned vendor the most bytes.
fn top_hosts(agg: &Aggregator) -> Vec<BannedVendorHosts> {
    let mut by_vendor: BTreeMap<String, Vec<TopHost>> = BTreeMap::new();
    for r in crate::export::hosts::host_records(agg, None, None) {
        for v in r.vendors.iter().filter(|v| v.banned) {
            by_vendor.entry(v.vendor.clone()).or_default().push(TopHost {
                segment: r.segment.clone(),
                host: r.host,
                flows: v.traffic.flows,
                bytes: v.traffic.bytes,
                services: v.services.iter().map(|s| s.service.clone()).collect(),
                last_seen: v.traffic.last_seen,
            });
        }
    }
    by_vendor
        .into_iter()
        .map(|(vendor, mut hosts)| {
            hosts.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| (&a.segment, a.host).cmp(&(&b.segment, b.host))));
            let hosts_total = hosts.len() as u64;
            hosts.truncate(TOP_HOSTS);
            BannedVendorHosts { vendor, hosts_total, hosts }
        })
        .collect()
}

/// A duration as a person reads it: `4m 59s`, `2h 3m`, `0.250s`.
fn duration(ns: u64) -> String {
    let s = ns / 1_000_000_000;
    match s {
        0..60 => format!("{:.3}s", ns as f64 / 1e9),
        60..3600 => format!("{}m {}s", s / 60, s % 60),
        3600..86_400 => format!("{}h {}m", s / 3600, s / 60 % 60),
        _ => format!("{}d {}h", s / 86_400, s / 3600 % 24),
    }
}

impl Summary {
    /// `policy` says which vendors are banned (the one in force now).
    pub fn from_aggregator(agg: &Aggregator, hosts_since_ns: u64, policy: &Policy) -> Summary {
        let mut by_segment: BTreeMap<&str, BTreeMap<(&str, bool), VendorSummary>> = BTreeMap::new();
        let row = |vendor| (vendor, policy.is_banned(vendor));
        for (k, t) in &agg.traffic {
            let v = by_segment.entry(&k.segment).or_default().entry(row(&k.vendor)).or_default();
            v.flows += t.flows;
            v.packets += t.packets[OUT] + t.packets[IN];
            v.bytes_out += t.bytes[OUT];
            v.bytes_in += t.bytes[IN];
            v.bytes += t.bytes[OUT] + t.bytes[IN];
            v.services.push(ServiceSummary {
                service: k.service.to_string(),
                flows: t.flows,
                packets: t.packets[OUT] + t.packets[IN],
                bytes: t.bytes[OUT] + t.bytes[IN],
            });
        }
        for (k, n) in agg.host_counts(hosts_since_ns) {
            by_segment.entry(&k.segment).or_default().entry(row(&k.vendor)).or_default().hosts = n;
        }
        for (k, n) in &agg.dns_queries {
            by_segment.entry(&k.segment).or_default().entry(row(&k.vendor)).or_default().dns_queries = *n;
        }
        let segments = by_segment
            .into_iter()
            .map(|(segment, vendors)| {
                let mut vendors: Vec<VendorSummary> = vendors
                    .into_iter()
                    .map(|((vendor, banned), mut v)| {
                        v.vendor = vendor.to_owned();
                        v.banned = banned;
                        v.services.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.service.cmp(&b.service)));
                        v
                    })
                    .collect();
                // Banned vendors first, then by volume; unattributed last.
                vendors.sort_by(|a, b| {
                    let key = |v: &VendorSummary| (!v.banned, v.vendor == NO_VENDOR, std::cmp::Reverse(v.bytes));
                    key(a).cmp(&key(b)).then_with(|| a.vendor.cmp(&b.vendor))
                });
                SegmentSummary { segment: segment.to_owned(), vendors }
            })
            .collect();
        let capture = CaptureSummary {
            packets: agg.capture_packets.iter().map(|(_, n)| n).sum(),
            bytes: agg.capture_bytes.iter().map(|(_, n)| n).sum(),
            sources: agg.capture_packets.iter().cloned().collect(),
            decode_errors: DecodeError::ALL
                .iter()
                .map(|e| (e.reason(), agg.packet_stats.decode_errors[e.index()]))
                .filter(|(_, n)| *n > 0)
                .collect(),
            non_ip: agg.packet_stats.non_ip,
            ip_fragments: agg.packet_stats.fragments,
            evictions: agg.evictions.clone(),
            source_errors: agg.source_errors,
            ..CaptureSummary::default()
        };
        let mut devices: Vec<DeviceCountSummary> = agg
            .devices
            .counts(hosts_since_ns)
            .into_iter()
            .map(|((segment, vendor, kind, banned), devices)| DeviceCountSummary {
                segment: segment.to_string(),
                vendor: vendor.into(),
                kind: kind.as_str(),
                banned,
                devices,
            })
            .collect();
        // Per segment, banned vendors first, then by count.
        devices.sort_by(|a, b| {
            let key = |d: &DeviceCountSummary| (d.segment.clone(), !d.banned, std::cmp::Reverse(d.devices));
            key(a).cmp(&key(b)).then_with(|| (&a.vendor, a.kind).cmp(&(&b.vendor, b.kind)))
        });
        Summary { segments, capture, devices, top_hosts: top_hosts(agg) }
    }

    /// The human-readable table.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<20} {:<20} {:>8} {:>10} {:>14} {:>6} {:>8}  services",
            "SEGMENT", "VENDOR", "FLOWS", "PACKETS", "BYTES", "HOSTS", "LOOKUPS"
        );
        for s in &self.segments {
            for v in &s.vendors {
                let vendor = if v.banned { format!("{} [BANNED]", v.vendor) } else { v.vendor.clone() };
                let services: Vec<&str> =
                    v.services.iter().map(|x| x.service.as_str()).filter(|x| *x != NO_VENDOR).collect();
                let _ = writeln!(
                    out,
                    "{:<20} {:<20} {:>8} {:>10} {:>14} {:>6} {:>8}  {}",
                    s.segment,
                    vendor,
                    v.flows,
                    v.packets,
                    v.bytes,
                    v.hosts,
                    v.dns_queries,
                    services.join(",")
                );
            }
        }
        if !self.devices.is_empty() {
            let _ = writeln!(out, "\n{:<20} {:<20} {:<10} {:>8}", "SEGMENT", "DEVICE VENDOR", "KIND", "DEVICES");
            for d in &self.devices {
                let vendor = if d.banned { format!("{} [BANNED]", d.vendor) } else { d.vendor.clone() };
                let _ = writeln!(out, "{:<20} {:<20} {:<10} {:>8}", d.segment, vendor, d.kind, d.devices);
            }
        }
        let c = &self.capture;
        let errors: u64 = c.decode_errors.values().sum();
        let _ = writeln!(
            out,
            "\n{} packets, {} bytes read; {} malformed frames skipped; {} non-IP; {} IP fragments",
            c.packets, c.bytes, errors, c.non_ip, c.ip_fragments
        );
        let span = match (c.first_packet, c.last_packet) {
            (Some(first), Some(last)) => {
                format!("from {} to {} ({})", rfc3339(first), rfc3339(last), duration(last.saturating_sub(first)))
            }
            _ => "no packet times".to_owned(),
        };
        let mut files: Vec<&str> = c.input_errors.iter().map(|e| e.source.as_str()).collect();
        files.dedup();
        let evicted = c.evictions.get("table_full").copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "{span}; {evicted} flows evicted for lack of room; {} {} with errors",
            files.len(),
            if files.len() == 1 { "file" } else { "files" }
        );
        for (reason, n) in &c.decode_errors {
            let _ = writeln!(out, "  decode error {reason}: {n}");
        }
        for e in &c.input_errors {
            let records = if e.records > 1 { format!(" ({} records)", e.records) } else { String::new() };
            let _ = writeln!(out, "  {}: {}{records}", e.source, e.error);
        }
        for (source, n) in &c.time_jumps {
            let _ = writeln!(out, "  {source}: {n} records stamped too far from the capture clock, timed at the clock");
        }
        if !self.top_hosts.is_empty() {
            let _ = writeln!(out, "\nTOP HOSTS PER BANNED VENDOR");
            let _ = writeln!(
                out,
                "{:<20} {:<20} {:<39} {:>8} {:>14}  {:<27}  services",
                "VENDOR", "SEGMENT", "HOST", "FLOWS", "BYTES", "LAST SEEN"
            );
            for v in &self.top_hosts {
                for h in &v.hosts {
                    let _ = writeln!(
                        out,
                        "{:<20} {:<20} {:<39} {:>8} {:>14}  {:<27}  {}",
                        v.vendor,
                        h.segment,
                        h.host.to_string(),
                        h.flows,
                        h.bytes,
                        rfc3339(h.last_seen),
                        h.services.join(",")
                    );
                }
                if v.hosts_total > v.hosts.len() as u64 {
                    let _ = writeln!(out, "{:<20} ... {} more hosts", v.vendor, v.hosts_total - v.hosts.len() as u64);
                }
            }
        }
        out
    }
}
