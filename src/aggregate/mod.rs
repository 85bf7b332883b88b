//! Aggregate: counters per segment, vendor and service, fed once per flow
//! (or per flush of a long flow), never per packet.
//!
//! Each worker counts into its own [`Aggregator`] and hands it over as a
//! delta; whoever owns the merged one folds the deltas in with
//! [`Aggregator::merge`], so no counter is shared between threads.
//!
//! Counters are keyed by label strings, not signature indices, so they
//! survive a signature reload unchanged. Keys hold what traffic *is*
//! (segment, vendor, service), never what the policy says of it: whether a
//! vendor is banned is applied when the counters are rendered, from the
//! [`Policy`] in force then, so a reload that bans a vendor relabels its
//! past counts instead of starting a second series beside them. Every key
//! set is bounded: segments by the config (and the automatic-segment cap),
//! vendors and services by the signature files, hosts by
//! [`MAX_HOSTS_PER_VENDOR`], evidence by its fixed names.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use hashbrown::HashMap;

use crate::decode::DecodeError;

mod policy;
pub use policy::Policy;

/// The label value for flows no signature matched.
pub const NO_VENDOR: &str = "none";
/// Distinct hosts remembered per (segment, vendor); beyond this the gauge
/// saturates rather than memory growing.
pub const MAX_HOSTS_PER_VENDOR: usize = 65_536;

/// (host, vendor, service) records kept for the hosts report; past this
/// new ones are counted in `host_traffic_dropped` instead.
pub const MAX_HOST_SERVICES: usize = 262_144;

/// Index of [`Traffic`]'s per-direction arrays for what the segment's host
/// sent (its uploads), whether it opened the flow or not.
pub const OUT: usize = 0;
/// Index of [`Traffic`]'s per-direction arrays for what the segment's host
/// received.
pub const IN: usize = 1;

/// The key of the traffic counters: one series per segment, vendor and
/// service.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrafficKey {
    /// The segment the flow's host belongs to.
    pub segment: Arc<str>,
    /// The vendor's id from the signature files, or [`NO_VENDOR`].
    pub vendor: Arc<str>,
    /// The service's name within the vendor, or [`NO_VENDOR`] when no
    /// signature matched.
    pub service: Arc<str>,
}

/// The key of the per-vendor counters (hosts, DNS queries, last seen).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VendorKey {
    /// The segment the host belongs to.
    pub segment: Arc<str>,
    /// The vendor's id from the signature files.
    pub vendor: Arc<str>,
}

/// The label value of `evidence` for flows no signature matched.
pub const NO_EVIDENCE: &str = "none";
/// One segment host and a vendor's service it reached.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostServiceKey {
    /// The segment the host belongs to.
    pub segment: Arc<str>,
    /// The segment's end of the flow (client or server, whichever is in the
    /// segment).
    pub host: IpAddr,
    /// The vendor's id from the signature files.
    pub vendor: Arc<str>,
    /// The service's name within the vendor.
    pub service: Arc<str>,
    /// Whether the rules in force when the flow was counted banned the
    /// vendor (the hosts report lists what was banned at the time).
    pub banned: bool,
}

/// What a host did with one service: flows, wire bytes both ways, and when.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostTraffic {
    /// Flows, each counted once however often it is flushed.
    pub flows: u64,
    /// Packets in both directions.
    pub packets: u64,
    /// Wire bytes of the innermost frames in both directions.
    pub bytes: u64,
    /// The earliest flow's first packet, capture time in ns since the Unix
    /// epoch.
    pub first_ns: u64,
    /// The latest flow's last packet, capture time in ns since the Unix
    /// epoch.
    pub last_ns: u64,
}

impl HostTraffic {
    /// Adds `other`: counts summed, the earlier first and the later last sighting.
    pub(crate) fn add(&mut self, other: &HostTraffic) {
        self.first_ns = self.first_ns.min(other.first_ns);
        self.last_ns = self.last_ns.max(other.last_ns);
        self.flows += other.flows;
        self.packets += other.packets;
        self.bytes += other.bytes;
    }
}

/// The traffic counters of one [`TrafficKey`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Flows, each counted once (at its first flush).
    pub flows: u64,
    /// Packets, indexed by [`OUT`] / [`IN`].
    pub packets: [u64; 2],
    /// Wire bytes of the innermost frames (a tunnel's outer headers are not
    /// counted), indexed by [`OUT`] / [`IN`].
    pub bytes: [u64; 2],
}

/// Decode errors, indexed by [`DecodeError::index`]. Its own type because
/// arrays longer than 32 have no `Default`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeErrorCounts(pub [u64; DecodeError::ALL.len()]);

impl Default for DecodeErrorCounts {
    fn default() -> Self {
        DecodeErrorCounts([0; DecodeError::ALL.len()])
    }
}

impl std::ops::Index<usize> for DecodeErrorCounts {
    type Output = u64;
    fn index(&self, i: usize) -> &u64 {
        &self.0[i]
    }
}

impl std::ops::IndexMut<usize> for DecodeErrorCounts {
    fn index_mut(&mut self, i: usize) -> &mut u64 {
        &mut self.0[i]
    }
}

/// Counters of the packet path, kept by each worker and added up here.
#[derive(Debug, Clone, Default)]
pub struct PacketStats {
    /// Malformed or truncated frames, skipped, by reason.
    pub decode_errors: DecodeErrorCounts,
    /// Well-formed frames that carry no IP packet (ARP, LLDP, ...).
    pub non_ip: u64,
    /// Fragment frames given up (the sum of the three reasons below); the
    /// frames of reassembled datagrams count as their flow's packets.
    pub fragments: u64,
    /// Fragmented datagrams put back together.
    pub reassembled: u64,
    /// Fragments given up because their datagram was still missing a piece
    /// when the reassembly timeout passed.
    pub fragments_timed_out: u64,
    /// Fragments given up because their datagram was too big for IP or did
    /// not fit in the reassembly memory bound.
    pub fragments_overflow: u64,
    /// Fragments given up because their datagram's fragments contradicted
    /// each other or were malformed.
    pub fragments_inconsistent: u64,
    /// QUIC Initial packets whose decryption failed, counted when their
    /// flow ends.
    pub quic_skipped: u64,
    /// Flows whose hello reassembly was refused: the budget was spent.
    pub inspect_refused: u64,
    /// Flows whose inspection ended at a stream's reassembly bound.
    pub inspect_stream_overflows: u64,
}

impl PacketStats {
    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &PacketStats) {
        for (a, b) in self.decode_errors.0.iter_mut().zip(other.decode_errors.0) {
            *a += b;
        }
        self.non_ip += other.non_ip;
        self.fragments += other.fragments;
        self.reassembled += other.reassembled;
        self.fragments_timed_out += other.fragments_timed_out;
        self.fragments_overflow += other.fragments_overflow;
        self.fragments_inconsistent += other.fragments_inconsistent;
        self.quic_skipped += other.quic_skipped;
        self.inspect_refused += other.inspect_refused;
        self.inspect_stream_overflows += other.inspect_stream_overflows;
    }
}

/// Gauges one worker reports with each handover; the exported gauges are
/// their sums over the workers (the shared DNS cache's, their maximum).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerGauges {
    /// Flows in the worker's flow table.
    pub flows: u64,
    /// Answers in the DNS cache (shared, so every worker reports the same
    /// cache).
    pub dns_cache_entries: u64,
    /// Hosts in the worker's host table.
    pub host_table_hosts: u64,
    /// The shared DNS cache's evictions since it was made (a counter every
    /// worker reads whole, so not a delta).
    pub dns_cache_evictions: u64,
}

/// Every counter vendorwatch exports.
#[derive(Debug, Default, Clone)]
pub struct Aggregator {
    strings: hashbrown::HashSet<Arc<str>>,
    /// Flows, packets and bytes per segment, vendor and service.
    pub traffic: HashMap<TrafficKey, Traffic>,
    hosts: HashMap<VendorKey, HashMap<IpAddr, u64>>,
    /// DNS queries for a vendor's names, by the querying host's segment.
    pub dns_queries: HashMap<VendorKey, u64>,
    /// When each attributed vendor last had a packet in the segment (ns).
    pub last_seen: HashMap<VendorKey, u64>,
    /// Flows by segment and the evidence that attributed them
    /// ([`NO_EVIDENCE`] for none), counted once per flow.
    pub evidence: HashMap<(Arc<str>, &'static str), u64>,
    /// Captured frames per source (file or interface), in first-seen order.
    pub capture_packets: Vec<(String, u64)>,
    /// Captured wire bytes per source, in the order of `capture_packets`.
    pub capture_bytes: Vec<(String, u64)>,
    /// Counters of the packet path (decode errors, fragments, inspection).
    pub packet_stats: PacketStats,
    /// Flows the flow table ended itself, by reason (`idle_timeout`,
    /// `table_full`).
    pub evictions: BTreeMap<&'static str, u64>,
    /// Flows whose ClientHello used Encrypted ClientHello, by segment.
    pub ech_flows: HashMap<Arc<str>, u64>,
    /// Gauge: flows in the workers' flow tables, summed (set by
    /// [`Aggregator::set_gauges`]).
    pub flow_table_flows: u64,
    /// Gauge: answers in the shared DNS cache.
    pub dns_cache_entries: u64,
    /// Answers dropped from the full DNS cache before their TTL ran out,
    /// since it was made.
    pub dns_cache_evictions: u64,
    /// Gauge: hosts with facts held by the workers, summed.
    pub host_table_hosts: u64,
    /// Hosts evicted from full host tables to make room.
    pub host_evictions: u64,
    /// Truncated or unreadable inputs.
    pub source_errors: u64,
    /// Device records, merged by device.
    pub devices: crate::hosts::Devices,
    /// The latest gauges of each worker, by worker index.
    workers: Vec<WorkerGauges>,
    /// Attributed traffic per segment host and service, at most
    /// [`MAX_HOST_SERVICES`] records.
    pub host_traffic: HashMap<HostServiceKey, HostTraffic>,
    /// Flow deltas not kept because `host_traffic` was full.
    pub host_traffic_dropped: u64,
}

impl Aggregator {
    /// Interns label strings so that keys share one allocation each.
    pub fn label(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.strings.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.strings.insert(a.clone());
        a
    }

    /// Adds `delta` to the traffic counters of `key`.
    pub fn add_traffic(&mut self, key: TrafficKey, delta: Traffic) {
        let t = self.traffic.entry(key).or_default();
        t.flows += delta.flows;
        for d in [OUT, IN] {
            t.packets[d] += delta.packets[d];
            t.bytes[d] += delta.bytes[d];
        }
    }

    /// Remembers that `host` of the segment talked to the vendor at `ts_ns`.
    pub fn add_host(&mut self, key: VendorKey, host: IpAddr, ts_ns: u64) {
        let hosts = self.hosts.entry(key).or_default();
        if hosts.len() < MAX_HOSTS_PER_VENDOR || hosts.contains_key(&host) {
            let seen = hosts.entry(host).or_insert(ts_ns);
            *seen = (*seen).max(ts_ns);
        }
    }

    /// Moves the vendor's last-seen time in the segment forward to `ts_ns`.
    pub fn saw_vendor(&mut self, key: VendorKey, ts_ns: u64) {
        let seen = self.last_seen.entry(key).or_insert(ts_ns);
        *seen = (*seen).max(ts_ns);
    }

    /// Counts one flow of the segment attributed by `evidence` (an
    /// [`crate::classify::verdict::Evidence`] name, or [`NO_EVIDENCE`]).
    pub fn add_evidence(&mut self, segment: Arc<str>, evidence: &'static str) {
        *self.evidence.entry((segment, evidence)).or_default() += 1;
    }

    /// Adds what a segment host did with a vendor's service.
    pub fn add_host_traffic(&mut self, key: HostServiceKey, delta: HostTraffic) {
        if self.host_traffic.len() >= MAX_HOST_SERVICES && !self.host_traffic.contains_key(&key) {
            self.host_traffic_dropped += 1;
            return;
        }
        match self.host_traffic.entry(key) {
            hashbrown::hash_map::Entry::Occupied(mut e) => e.get_mut().add(&delta),
            hashbrown::hash_map::Entry::Vacant(e) => {
                e.insert(delta);
            }
        }
    }

    /// Counts one flow the flow table ended for `reason`.
    pub fn add_eviction(&mut self, reason: &'static str) {
        *self.evictions.entry(reason).or_default() += 1;
    }

    /// Adds frames and wire bytes read from `source` (a capture file's path
    /// or an interface's name); a new source goes after the known ones.
    pub fn add_capture(&mut self, source: &str, packets: u64, bytes: u64) {
        if let Some(i) = self.capture_packets.iter().position(|(s, _)| s == source) {
            self.capture_packets[i].1 += packets;
            self.capture_bytes[i].1 += bytes;
        } else {
            self.capture_packets.push((source.to_owned(), packets));
            self.capture_bytes.push((source.to_owned(), bytes));
        }
    }

    /// Adds a worker's delta (counters since its last handover). Gauges are
    /// not deltas: they arrive through [`Aggregator::set_gauges`].
    pub fn merge(&mut self, delta: Aggregator) {
        for (k, t) in delta.traffic {
            let key = TrafficKey {
                segment: self.label(&k.segment),
                vendor: self.label(&k.vendor),
                service: self.label(&k.service),
            };
            self.add_traffic(key, t);
        }
        for (k, hosts) in delta.hosts {
            let key = self.relabel(&k);
            for (host, ts_ns) in hosts {
                self.add_host(key.clone(), host, ts_ns);
            }
        }
        for (k, n) in delta.dns_queries {
            let key = self.relabel(&k);
            *self.dns_queries.entry(key).or_default() += n;
        }
        for (k, ts_ns) in delta.last_seen {
            let key = self.relabel(&k);
            self.saw_vendor(key, ts_ns);
        }
        for ((segment, evidence), n) in delta.evidence {
            let segment = self.label(&segment);
            *self.evidence.entry((segment, evidence)).or_default() += n;
        }
        for ((source, packets), (_, bytes)) in delta.capture_packets.iter().zip(&delta.capture_bytes) {
            self.add_capture(source, *packets, *bytes);
        }
        self.packet_stats.add(&delta.packet_stats);
        for (reason, n) in delta.evictions {
            *self.evictions.entry(reason).or_default() += n;
        }
        for (segment, n) in delta.ech_flows {
            let segment = self.label(&segment);
            *self.ech_flows.entry(segment).or_default() += n;
        }
        self.host_evictions += delta.host_evictions;
        self.source_errors += delta.source_errors;
        self.devices.merge(delta.devices);
        for (k, t) in delta.host_traffic {
            let key = HostServiceKey {
                segment: self.label(&k.segment),
                vendor: self.label(&k.vendor),
                service: self.label(&k.service),
                ..k
            };
            self.add_host_traffic(key, t);
        }
        self.host_traffic_dropped += delta.host_traffic_dropped;
    }

    fn relabel(&mut self, k: &VendorKey) -> VendorKey {
        VendorKey { segment: self.label(&k.segment), vendor: self.label(&k.vendor) }
    }

    /// Moves the counters out, leaving this aggregator empty but with its
    /// interned labels: a worker's handover.
    #[must_use = "the counters moved out are lost unless merged"]
    pub fn take_counts(&mut self) -> Aggregator {
        let strings = std::mem::take(&mut self.strings);
        let counts = std::mem::take(self);
        self.strings = strings;
        counts
    }

    /// Records worker `worker`'s latest gauges and sums them into the
    /// exported ones.
    pub fn set_gauges(&mut self, worker: usize, gauges: WorkerGauges) {
        if self.workers.len() <= worker {
            self.workers.resize(worker + 1, WorkerGauges::default());
        }
        self.workers[worker] = gauges;
        self.flow_table_flows = self.workers.iter().map(|g| g.flows).sum();
        // The workers share one answer cache: each reports its size.
        self.dns_cache_entries = self.workers.iter().map(|g| g.dns_cache_entries).max().unwrap_or(0);
        self.host_table_hosts = self.workers.iter().map(|g| g.host_table_hosts).sum();
        // The latest reading is the highest: the count only grows.
        self.dns_cache_evictions = self.workers.iter().map(|g| g.dns_cache_evictions).max().unwrap_or(0);
    }

    /// Distinct hosts per (segment, vendor) seen since `since_ns` (all when 0).
    pub fn host_counts(&self, since_ns: u64) -> Vec<(&VendorKey, u64)> {
        let mut v: Vec<_> =
            self.hosts.iter().map(|(k, h)| (k, h.values().filter(|&&t| t >= since_ns).count() as u64)).collect();
        v.sort_by(|a, b| a.0.cmp(b.0));
        v
    }

    /// Forgets hosts not seen since `since_ns`, keeping memory to the window.
    pub fn prune_hosts(&mut self, since_ns: u64) {
        for hosts in self.hosts.values_mut() {
            hosts.retain(|_, &mut t| t >= since_ns);
        }
        self.devices.prune(since_ns);
        self.host_traffic.retain(|_, t| t.last_ns >= since_ns);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_caches_evictions_are_read_not_summed_and_stream_overflows_add_up() {
        let mut a = Aggregator::default();
        a.set_gauges(0, WorkerGauges { dns_cache_evictions: 40, ..WorkerGauges::default() });
        a.set_gauges(1, WorkerGauges { dns_cache_evictions: 45, ..WorkerGauges::default() });
        a.set_gauges(0, WorkerGauges { dns_cache_evictions: 50, ..WorkerGauges::default() });
        assert_eq!(a.dns_cache_evictions, 50, "both workers read one cache's count");
        let mut delta = Aggregator::default();
        delta.packet_stats.inspect_stream_overflows = 3;
        a.merge(delta.clone());
        a.merge(delta);
        assert_eq!(a.packet_stats.inspect_stream_overflows, 6);
    }

    #[test]
    fn hosts_are_distinct_windowed_and_bounded() {
        let mut a = Aggregator::default();
        let key = VendorKey { segment: a.label("hq"), vendor: a.label("apple") };
        let h1: IpAddr = "10.0.0.1".parse().unwrap();
        a.add_host(key.clone(), h1, 10);
        a.add_host(key.clone(), h1, 20);
        a.add_host(key.clone(), "10.0.0.2".parse().unwrap(), 5);
        assert_eq!(a.host_counts(0)[0].1, 2);
        assert_eq!(a.host_counts(15)[0].1, 1);
        for i in 0..(u32::try_from(MAX_HOSTS_PER_VENDOR).unwrap() + 10) {
            a.add_host(key.clone(), IpAddr::from(std::net::Ipv4Addr::from(i)), 30);
        }
        assert_eq!(a.host_counts(0)[0].1, MAX_HOSTS_PER_VENDOR as u64);
        a.prune_hosts(25);
        assert_eq!(a.host_counts(0)[0].1, MAX_HOSTS_PER_VENDOR as u64 - 2, "both older hosts are pruned");
    }
}
