//! The pipeline: frame -> decode -> flow -> inspect -> classify -> aggregate.
//!
//! One [`Pipeline`] per worker owns its flow table, counters and ended-flow
//! records; nothing on the packet path is shared with another thread but
//! the DNS answer cache and the call table, which the workers of a sensor
//! share (a shard lock per new flow and per vendor answer or call
//! candidate, see [`DnsCache`] and [`CallTable`]) so that a connection
//! finds the answer, and a call's media its call, whichever worker read it.
//! Whoever drives the pipeline takes what it produced as a [`Batch`] (at a
//! flush, or at the end) and merges it where it likes: the replay's main
//! thread, the live sensor's collector.

use std::net::IpAddr;
use std::sync::Arc;

use hashbrown::HashMap;

use crate::aggregate::{Aggregator, PacketStats, VendorKey, WorkerGauges};
use crate::classify::attribution::Applied;
use crate::classify::calls::CallTable;
use crate::classify::dns_cache::DnsCache;
pub use crate::classify::rules::Rules;
use crate::classify::signatures::VendorId;
use crate::decode::fragment::Defragmenter;
use crate::decode::{self, Decoded, IPPROTO_TCP, Packet, SynInfo, tcp};
use crate::export::flowlog::FlowRecord;
use crate::flow::{EndReason, Ended, FROM_CLIENT, FlowKey, FlowTable, TO_CLIENT, Timeouts, is_local};
use crate::hosts::{HostKey, HostTable, evidence};
use crate::inspect::{Direction, Finding, FlowFinding, HostFact, InspectBudget, Segment, Side};
use crate::source::Frame;

mod record;
mod state;

use record::flow_record;
pub use record::proto_name;
use state::{FlowState, count_flow, new_flow};

/// Default bound on tracked flows: about 500 bytes each (a 128-byte table
/// slot, the flow's boxed details, its index entry), 130 MB in all (plus
/// the shared reassembly budget, [`InspectBudget::DEFAULT_BYTES`]); suits a
/// small sensor, and `--max-flows` changes it.
pub const DEFAULT_MAX_FLOWS: usize = 262_144;
const DNS_CACHE_CAPACITY: usize = 65_536;
/// Hosts with facts (names, devices) remembered per worker.
const HOST_TABLE_CAPACITY: usize = 65_536;
/// How often, in capture time, flows and fragments are checked for expiry.
pub const EXPIRY_INTERVAL_NS: u64 = 100_000_000;

/// How long after its first packet a flow may wait for a DNS answer read
/// by another worker: a capture ring hands over its frames within its
/// block timeout (50 ms), and four times that covers a busy worker's batch.
const LATE_ANSWER_NS: u64 = 200_000_000;

/// Which flow records a pipeline keeps for its driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowRecords {
    /// None: counters only.
    Off,
    /// Every ended flow (a replay's `--flows-out`).
    All,
    /// Attributed flows only: ended ones, and at each flush those still
    /// running that it counted (`end_reason` "active"), for `/api/flows`.
    Attributed,
}

/// What a pipeline produced since its last handover.
#[derive(Debug, Default)]
pub struct Batch {
    /// Counter deltas, for [`Aggregator::merge`].
    pub counts: Aggregator,
    /// The worker's gauges at the handover.
    pub gauges: WorkerGauges,
    /// Flow records, oldest first.
    pub records: Vec<FlowRecord>,
}

impl Batch {
    /// Folds a later batch into this one, for a handover the receiver could
    /// not take yet; keeps at most `max_records` records, the newest.
    pub fn absorb(&mut self, later: Batch, max_records: usize) {
        self.counts.merge(later.counts);
        self.gauges = later.gauges;
        self.records.extend(later.records);
        let excess = self.records.len().saturating_sub(max_records);
        self.records.drain(..excess);
    }
}

/// A worker's own outputs, moved out by [`Pipeline::take_batch`].
struct WorkerOutputs {
    counts: Aggregator,
    /// What is known of the segment hosts: names, device evidence, traffic.
    hosts: HostTable,
    records: Vec<FlowRecord>,
    keep: FlowRecords,
}

/// One worker's pipeline.
pub struct Pipeline {
    rules: Arc<Rules>,
    flows: FlowTable<FlowState>,
    /// Shared with the other workers of a live sensor.
    dns: Arc<DnsCache>,
    /// Candidate addresses of calls, for their media flows; shared like
    /// `dns`.
    calls: Arc<CallTable>,
    defrag: Defragmenter,
    inspect_budget: InspectBudget,
    stats: PacketStats,
    out: WorkerOutputs,
    /// Packets and wire bytes per source index since the last flush.
    capture: Vec<(u64, u64)>,
    sources: Vec<String>,
    /// Capture interface names, by frame interface number: for segment
    /// placement and the flow records' `interface_name`.
    interface_names: Vec<Option<Arc<str>>>,
    /// DNS queries for vendor names since the last flush, by the querying
    /// flow's segment and the vendor: labelled once per flush, not per query.
    dns_queries: HashMap<(Arc<str>, VendorId), u64>,
    now_ns: u64,
    next_expiry_ns: u64,
    /// Expiry is left to the driver ([`Pipeline::expire`]).
    driven_expiry: bool,
}

impl Pipeline {
    /// A worker's pipeline under `rules`, tracking at most `max_flows` flows
    /// with the default idle timeouts; `records` says which ended flows it
    /// keeps as records.
    pub fn new(rules: Arc<Rules>, max_flows: usize, records: FlowRecords) -> Self {
        Self::with_timeouts(rules, max_flows, Timeouts::default(), records)
    }

    /// Like [`Pipeline::new`] with other idle timeouts (live `--idle-timeout`).
    pub fn with_timeouts(rules: Arc<Rules>, max_flows: usize, timeouts: Timeouts, records: FlowRecords) -> Self {
        Pipeline {
            rules,
            flows: FlowTable::new(max_flows, timeouts),
            dns: Self::new_dns_cache(),
            calls: Self::new_call_table(),
            defrag: Defragmenter::default(),
            inspect_budget: InspectBudget::default(),
            dns_queries: HashMap::new(),
            stats: PacketStats::default(),
            out: WorkerOutputs {
                counts: Aggregator::default(),
                hosts: HostTable::new(HOST_TABLE_CAPACITY),
                records: Vec::new(),
                keep: records,
            },
            interface_names: Vec::new(),
            capture: Vec::new(),
            sources: Vec::new(),
            now_ns: 0,
            next_expiry_ns: 0,
            driven_expiry: false,
        }
    }

    /// A DNS answer cache of the default size, for workers to share
    /// through [`Pipeline::share_dns_cache`].
    pub fn new_dns_cache() -> Arc<DnsCache> {
        Arc::new(DnsCache::new(DNS_CACHE_CAPACITY))
    }

    /// Learns and looks up DNS answers in `cache`, shared with other
    /// workers, instead of a cache of its own.
    pub fn share_dns_cache(&mut self, cache: Arc<DnsCache>) {
        self.dns = cache;
    }

    /// A call table of the default size, for workers to share through
    /// [`Pipeline::share_call_table`].
    pub fn new_call_table() -> Arc<CallTable> {
        Arc::new(CallTable::default())
    }

    /// Ties media flows to calls through `table`, shared with other
    /// workers, instead of a table of its own.
    pub fn share_call_table(&mut self, table: Arc<CallTable>) {
        self.calls = table;
    }

    /// Registers an input (file or interface) and returns its index.
    pub fn add_source(&mut self, name: &str) -> usize {
        self.sources.push(name.to_owned());
        self.capture.push((0, 0));
        self.sources.len() - 1
    }

    /// Names capture interfaces (index = frame interface number) for
    /// `interfaces = [...]` segments.
    pub fn set_interface_names(&mut self, names: Vec<String>) {
        self.interface_names = names.into_iter().map(|n| Some(Arc::from(n))).collect();
    }

    /// Names (or unnames) one capture interface from now on: flows that
    /// begin later are placed and recorded under `name`. A replay says
    /// this as each input's interfaces appear (a pcapng's `if_name`), the
    /// numbers being the input's own.
    pub fn name_interface(&mut self, interface: u32, name: Option<Arc<str>>) {
        let at = interface as usize;
        if at >= crate::source::MAX_INTERFACE_NAMES {
            return;
        }
        if self.interface_names.len() <= at {
            self.interface_names.resize(at + 1, None);
        }
        self.interface_names[at] = name;
    }

    /// The rules flows are attributed under now.
    pub fn rules(&self) -> &Arc<Rules> {
        &self.rules
    }

    /// Replaces the rules; flows in progress keep their evidence and are
    /// attributed again under the new signatures when they end.
    pub fn set_rules(&mut self, rules: Arc<Rules>) {
        // Lookups counted so far belong to the old rules' vendor ids.
        self.flush_dns_queries();
        self.rules = rules;
        let rules = self.rules.clone();
        self.flows.for_each_mut(|_, _, f| {
            let addrs = f.info.addrs();
            f.info.attribution.reclassify(&rules, &addrs);
        });
    }

    /// The hot path: one frame through every stage.
    #[inline]
    pub fn process(&mut self, frame: &Frame<'_>, source: usize) {
        if let Some(c) = self.capture.get_mut(source) {
            c.0 += 1;
            c.1 += u64::from(frame.wire_len);
        }
        self.now_ns = self.now_ns.max(frame.ts_ns);
        // Bytes count as the wire bytes of the innermost frame: a tunnel's
        // outer headers are the mirror's overhead, not the flow's traffic.
        let inner_len = |outer: usize| frame.wire_len.saturating_sub(u32::try_from(outer).unwrap_or(u32::MAX));
        match decode::decode(frame.link, frame.data) {
            Ok(Decoded::Packet(p)) => self.packet(&p, frame.ts_ns, frame.interface, inner_len(p.outer_len), 1),
            Ok(Decoded::NotIp) => self.stats.non_ip += 1,
            Ok(Decoded::Fragment(f)) => {
                // Counted when given up (flush_stats) or, reassembled, as the
                // flow's packets: each fragment frame exactly once.
                if let Some(whole) = self.defrag.push(frame.ts_ns, &f, inner_len(f.outer_len)) {
                    let frames = u64::from(whole.fragments);
                    match whole.decode() {
                        // Fragments of a tunnel's outer packet: the inner
                        // frame is one packet, without the outer headers.
                        Ok(Decoded::Packet(p)) if p.outer_len > 0 => {
                            let inner = whole.packet.len().saturating_sub(p.outer_len);
                            self.packet(&p, frame.ts_ns, frame.interface, u32::try_from(inner).unwrap_or(u32::MAX), 1);
                        }
                        Ok(Decoded::Packet(p)) => self.packet(&p, frame.ts_ns, frame.interface, whole.wire_len, frames),
                        Ok(_) => self.stats.non_ip += frames,
                        Err(e) => self.stats.decode_errors[e.index()] += frames,
                    }
                }
            }
            Err(e) => self.stats.decode_errors[e.index()] += 1,
        }
        // Timeouts are seconds long; checking ten times a second of capture
        // time is exact enough and keeps the check off most packets.
        if self.now_ns >= self.next_expiry_ns && !self.driven_expiry {
            self.next_expiry_ns = self.now_ns.saturating_add(EXPIRY_INTERVAL_NS);
            self.expire(self.now_ns);
        }
    }

    /// From now on flows and fragments expire only when the driver calls
    /// [`Pipeline::expire`]: workers that each see a share of one capture
    /// then expire at the capture times one pipeline seeing all of it would.
    pub fn drive_expiry(&mut self) {
        self.driven_expiry = true;
    }

    /// Moves the clock to `now_ns` without ending anything: a worker that
    /// sees only its share of the frames learns how far the others' went,
    /// which decides when a flow has waited long enough for late DNS answers.
    pub fn advance_clock(&mut self, now_ns: u64) {
        self.now_ns = self.now_ns.max(now_ns);
    }

    /// Ends the flows and gives up the fragments idle past their timeout at `now_ns`.
    pub fn expire(&mut self, now_ns: u64) {
        self.now_ns = self.now_ns.max(now_ns);
        let (out, rules, dns, calls) = (&mut self.out, &self.rules, &*self.dns, &*self.calls);
        self.flows.expire(self.now_ns, &mut |ended| finish_flow(rules, dns, calls, out, ended));
        self.defrag.expire(self.now_ns);
    }

    fn packet(&mut self, p: &Packet<'_>, ts: u64, interface: u32, wire_len: u32, frames: u64) {
        let (key, forward) = FlowKey::of(p);
        if p.protocol == IPPROTO_TCP && p.tcp_flags & (tcp::SYN | tcp::ACK) == tcp::SYN {
            // A client reusing its port for a new connection: that is a new
            // flow, whose hello must be read and which counts once more.
            if self.flows.get_mut(&key).is_some_and(|f| f.tcp.restarts_with(p.tcp_seq)) {
                if let Some(old) = self.flows.restart(&key) {
                    finish_flow(&self.rules, &self.dns, &self.calls, &mut self.out, old);
                }
            }
        }
        let rules = &self.rules;
        let out = &mut self.out;
        let dns = &*self.dns;
        let calls = &self.calls;
        let interface_names = &self.interface_names;
        let (slot, flow, _new) = self.flows.get_or_insert(
            key,
            ts,
            || {
                let interface_name = interface_names.get(interface as usize).and_then(Option::as_ref);
                new_flow(rules, dns, calls, p, forward, ts, interface, interface_name)
            },
            &mut |ended| finish_flow(rules, dns, calls, out, ended),
        );
        let from_client = forward == flow.client_is_lo;
        let dir = if from_client { FROM_CLIENT } else { TO_CLIENT };
        flow.packets[dir] += frames;
        flow.bytes[dir] += u64::from(wire_len);
        let class = (p.protocol == IPPROTO_TCP).then(|| flow.tcp.update(p.tcp_flags, p.tcp_seq, dir));
        if let Some(syn) = &p.syn {
            learn_syn(&self.rules, &mut self.out.hosts, flow, p, syn, ts);
        }

        if flow.inspecting && !p.payload.is_empty() {
            let mut env = InspectEnv {
                rules: &self.rules,
                dns: &self.dns,
                calls: &self.calls,
                queries: &mut self.dns_queries,
                budget: &self.inspect_budget,
                hosts: &mut self.out.hosts,
            };
            inspect_payload(&mut env, flow, p, dir, ts, wire_len);
            flow.inspecting = !flow.info.inspection.is_done();
        }
        if let Some(class) = class {
            self.flows.set_class(slot, class);
        }
    }

    /// Advances the clock without a frame (a live sensor on a quiet link):
    /// ends the flows idle past their timeout at `now_ns`.
    pub fn tick(&mut self, now_ns: u64) {
        self.now_ns = self.now_ns.max(now_ns);
        let (out, rules, dns, calls) = (&mut self.out, &self.rules, &*self.dns, &*self.calls);
        self.flows.expire(self.now_ns, &mut |ended| finish_flow(rules, dns, calls, out, ended));
    }

    /// Flows tracked by this worker.
    pub fn flow_count(&self) -> usize {
        self.flows.len()
    }

    /// Counts what settled flows did since the last flush and adds the
    /// per-packet stats, for a live sensor's periodic export; the result is
    /// in the next [`Pipeline::take_batch`].
    pub fn flush(&mut self) {
        let (out, rules, dns, calls) = (&mut self.out, &self.rules, &*self.dns, &*self.calls);
        let active = out.keep == FlowRecords::Attributed;
        let now_ns = self.now_ns;
        self.flows.for_each_mut(|_, last_ns, f| {
            // A flow a late DNS answer could still attribute waits until
            // any answer that came before it has been read, whichever
            // worker reads it.
            let answers_in = f.info.counted
                || !f.info.attribution.takes_late_answer()
                || now_ns.saturating_sub(f.info.first_ns) >= LATE_ANSWER_NS;
            if f.info.inspection.is_settled()
                && answers_in
                && count_flow(rules, dns, calls, &mut out.counts, &mut out.hosts, f, last_ns)
                && active
                && f.info.attribution.verdict.entry.is_some()
            {
                let record = flow_record(rules, f, last_ns, EndReason::Shutdown);
                out.records.push(FlowRecord { end_reason: "active", ..record });
            }
        });
        self.flush_stats();
    }

    /// Records kept since the last take.
    pub fn pending_records(&self) -> usize {
        self.out.records.len()
    }

    /// Takes the records kept so far, oldest first (a replay writing its
    /// flow log as it goes, so records never pile up).
    pub fn drain_records(&mut self) -> std::vec::Drain<'_, FlowRecord> {
        self.out.records.drain(..)
    }

    /// Takes everything produced since the last take: counter deltas,
    /// gauges and records.
    pub fn take_batch(&mut self) -> Batch {
        Batch {
            counts: self.out.counts.take_counts(),
            gauges: WorkerGauges {
                flows: self.flows.len() as u64,
                dns_cache_entries: self.dns.len() as u64,
                host_table_hosts: self.out.hosts.len() as u64,
                dns_cache_evictions: self.dns.evictions(),
            },
            records: std::mem::take(&mut self.out.records),
        }
    }

    fn flush_dns_queries(&mut self) {
        let agg = &mut self.out.counts;
        for ((segment, vendor), n) in self.dns_queries.drain() {
            let key = vendor_key(agg, &self.rules, &segment, vendor);
            *agg.dns_queries.entry(key).or_default() += n;
        }
    }

    fn flush_stats(&mut self) {
        self.flush_dns_queries();
        let agg = &mut self.out.counts;
        for (i, (packets, bytes)) in self.capture.iter_mut().enumerate() {
            agg.add_capture(&self.sources[i], *packets, *bytes);
            *packets = 0;
            *bytes = 0;
        }
        let defrag = self.defrag.take_stats();
        self.stats.fragments += defrag.given_up();
        self.stats.reassembled += defrag.reassembled;
        self.stats.fragments_timed_out += defrag.timed_out;
        self.stats.fragments_overflow += defrag.overflow;
        self.stats.fragments_inconsistent += defrag.inconsistent;
        agg.packet_stats.add(&self.stats);
        self.stats = PacketStats::default();
        agg.host_evictions += self.out.hosts.take_evictions();
        agg.devices.merge(self.out.hosts.take_changes());
    }

    /// Ends every flow (end of input) and flushes all counters.
    pub fn finish(&mut self) {
        let (out, rules, dns, calls) = (&mut self.out, &self.rules, &*self.dns, &*self.calls);
        self.flows.drain(&mut |ended| finish_flow(rules, dns, calls, out, ended));
        // Datagrams still missing pieces at the end never will complete.
        self.defrag.expire(u64::MAX);
        self.flush_stats();
    }
}

/// What inspecting a payload may change besides the flow itself.
struct InspectEnv<'a> {
    rules: &'a Arc<Rules>,
    dns: &'a DnsCache,
    calls: &'a CallTable,
    queries: &'a mut HashMap<(Arc<str>, VendorId), u64>,
    budget: &'a InspectBudget,
    hosts: &'a mut HostTable,
}

/// Feeds one payload to the flow's inspection and weighs what it finds.
fn inspect_payload(env: &mut InspectEnv<'_>, flow: &mut FlowState, p: &Packet<'_>, dir: usize, ts: u64, wire_len: u32) {
    let ctx = flow.info.context();
    let addrs = flow.info.addrs();
    let direction = if dir == FROM_CLIENT { Direction::FromClient } else { Direction::ToClient };
    let attribution = &mut flow.info.attribution;
    let quic_skipped = &mut flow.info.quic_skipped;
    let segment = &flow.info.placement.segment;
    // A DHCP client without an address yet is known by the one it asks for.
    let mut claimed: Option<(IpAddr, Arc<str>)> = None;
    let host_side = if flow.info.placement.host_is_client { Side::Client } else { Side::Server };
    let mut learn = |rules: &Rules, hosts: &mut HostTable, side: Side, fact: HostFact<'_>| {
        // The frame's MACs are those of the hosts that sent and got it.
        let sender = (side == Side::Client) == (direction == Direction::FromClient);
        let mac = p.macs.map(|m| if sender { m.src } else { m.dst });
        let own = match side {
            Side::Client => addrs.client,
            Side::Server => addrs.server,
        };
        if let (HostFact::Address(a), true) = (fact, own.is_unspecified()) {
            let placed = rules.config.segments.place(a, a, &p.vlans, None, None).segment;
            claimed = Some((a, if &*placed == "unassigned" { segment.clone() } else { placed }));
        }
        let (addr, segment) = match &claimed {
            Some((a, s)) if own.is_unspecified() => (*a, s),
            _ => (own, segment),
        };
        // The other end is a host of the segment only if it is local too (a
        // camera answering a probe); a server on the Internet is not, and
        // the frame shows the router's MAC for it.
        if side != host_side && !addr.is_unspecified() && !is_local(addr) {
            return;
        }
        hosts.learn(rules, HostKey::new(mac, addr, segment), addr, fact, ts);
    };
    let mut report = |finding: Finding<'_>| match finding {
        Finding::Flow(FlowFinding::QuicPacketsSkipped(n)) => *quic_skipped = n,
        Finding::Flow(f) => match attribution.apply(env.rules, &addrs, f, env.dns, ts) {
            Applied::VendorQuery(vendor) => *env.queries.entry((segment.clone(), vendor)).or_default() += 1,
            Applied::Call(entry) => {
                attribution.call_candidates().iter().for_each(|&c| env.calls.remember(c, entry, env.rules, ts));
            }
            Applied::Nothing => {}
        },
        Finding::Host { side, fact } => learn(env.rules, env.hosts, side, fact),
    };
    if p.protocol == IPPROTO_TCP {
        if is_ethernet_padding(p, wire_len) {
            return;
        }
        // Data on a SYN (TCP Fast Open) starts after the SYN's own sequence number.
        let syn = p.tcp_flags & tcp::SYN != 0;
        let seq = if syn { p.tcp_seq.wrapping_add(1) } else { p.tcp_seq };
        let segment = Segment { dir: direction, seq, payload: p.payload, stream_start: flow.tcp.stream_start(dir) };
        flow.info.inspection.on_segment(&ctx, segment, env.budget, &mut report);
    } else {
        flow.info.inspection.on_datagram(&ctx, direction, p.payload, env.budget, &mut report);
    }
}

/// Whether a TCP segment's payload is the zeros that pad a short frame to
/// Ethernet's 60-byte minimum (64 with a VLAN tag), counted into the IP
/// length by some taps and NICs: a bare ACK (no PSH, SYN, FIN, RST) of at
/// most 6 zero bytes in a frame of at most 64 bytes. Read as data, it would
/// take the stream's first bytes, and the ClientHello sent at the same
/// sequence number after it would be read two bytes late (nDPI has the
/// same heuristic, and a capture for it: `heuristic_tcp_ack_payload`).
fn is_ethernet_padding(p: &Packet<'_>, wire_len: u32) -> bool {
    let bare_ack = p.tcp_flags & (tcp::ACK | tcp::PSH | tcp::SYN | tcp::FIN | tcp::RST) == tcp::ACK;
    bare_ack && wire_len <= 64 && (1..=6).contains(&p.payload.len()) && p.payload.iter().all(|&b| b == 0)
}

/// A SYN's OS hint, for the host that sent it: the segment host, or a
/// local peer of it (for an Internet client the frame shows the router).
fn learn_syn(rules: &Rules, hosts: &mut HostTable, flow: &FlowState, p: &Packet<'_>, syn: &SynInfo, ts: u64) {
    let sender_is_host = flow.info.placement.host_is_client == (p.src == flow.info.client.addr);
    if !sender_is_host && !is_local(p.src) {
        return;
    }
    if let Some(e) = evidence::of_syn(rules, syn) {
        let key = HostKey::new(p.macs.map(|m| m.src), p.src, &flow.info.placement.segment);
        hosts.add_evidence(rules, key, p.src, e, ts);
    }
}

fn vendor_key(agg: &mut Aggregator, rules: &Rules, segment: &str, vendor: VendorId) -> VendorKey {
    VendorKey { segment: agg.label(segment), vendor: agg.label(&rules.signatures.vendor(vendor).id) }
}

fn finish_flow(rules: &Rules, dns: &DnsCache, calls: &CallTable, out: &mut WorkerOutputs, ended: Ended<FlowState>) {
    let Ended { value: mut f, last_ns, reason, .. } = ended;
    let skipped = &mut f.info.quic_skipped;
    f.info.inspection.finish(&mut |finding| {
        if let Finding::Flow(FlowFinding::QuicPacketsSkipped(n)) = finding {
            *skipped = n;
        }
    });
    let agg = &mut out.counts;
    count_flow(rules, dns, calls, agg, &mut out.hosts, &mut f, last_ns);
    agg.packet_stats.quic_skipped += f.info.quic_skipped;
    agg.packet_stats.inspect_refused += u64::from(f.info.inspection.refused());
    agg.packet_stats.inspect_stream_overflows += u64::from(f.info.inspection.overflowed());
    if matches!(reason, EndReason::IdleTimeout | EndReason::TableFull) {
        agg.add_eviction(reason.as_str());
    }
    let keep = match out.keep {
        FlowRecords::Off => false,
        FlowRecords::All => true,
        FlowRecords::Attributed => f.info.attribution.verdict.entry.is_some(),
    };
    if keep {
        out.records.push(flow_record(rules, &f, last_ns, reason));
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::path::Path as FsPath;
    use std::sync::Mutex;

    use serde_json::Value;

    use super::*;
    use crate::classify::signatures::SignatureSet;
    use crate::export::flowlog::FlowLog;
    use crate::segment::Config;
    use crate::source::LinkType;
    use synth::app;
    use synth::conv::{Capture, Path, TcpSession};
    use synth::wire::{ACK, Link, PSH, RST, SYN};

    /// A flow-log sink the test can read back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Runs Ethernet frames through a pipeline with the embedded signatures;
    /// returns the flow log and the counters.
    fn run(cap: &Capture, config: Option<&str>) -> (Vec<Value>, Aggregator) {
        let config = config.map_or_else(Config::default_auto, |t| Config::parse(FsPath::new("t.toml"), t).unwrap());
        let rules = Arc::new(Rules::new(SignatureSet::embedded(), config).unwrap());
        let sink = Shared::default();
        let mut log = FlowLog::new(Box::new(sink.clone()));
        let mut pipeline = Pipeline::new(rules, DEFAULT_MAX_FLOWS, FlowRecords::All);
        feed(&mut pipeline, cap);
        pipeline.finish();
        let batch = pipeline.take_batch();
        for r in &batch.records {
            log.write(r);
        }
        log.finish().unwrap();
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        (text.lines().map(|l| serde_json::from_str(l).unwrap()).collect(), batch.counts)
    }

    fn hello(sni: &str) -> Vec<u8> {
        app::tls_client_hello(&app::Hello::sni(sni))
    }

    #[test]
    fn a_reused_port_pair_starts_a_new_flow() {
        let mut cap = Capture::new(1_000_000_000, 1_000_000);
        let path = Path::new("10.1.0.5:50000", "192.0.2.80:443");
        let mut first = TcpSession::new(path.clone(), 100, 900);
        first.handshake(&mut cap);
        first.client_write(&mut cap, &hello("example.org"));
        cap.push(path.tcp(true, 100 + 1 + 200, 0, RST, b""));
        let mut second = TcpSession::new(path, 7_000, 9_000);
        second.handshake(&mut cap);
        second.client_write(&mut cap, &hello("www.tiktok.com"));
        let (flows, out) = run(&cap, None);
        assert_eq!(flows.len(), 2, "{flows:?}");
        assert_eq!(flows[0]["end_reason"], "restarted");
        assert_eq!(flows[1]["vendor"], "bytedance");
        assert_eq!(flows[1]["evidence"], "tls_sni");
        assert!(out.evictions.is_empty(), "a restart is not an eviction");
    }

    #[test]
    fn an_unmatched_name_in_the_flow_overrides_a_dns_answer() {
        let mut cap = Capture::new(1_000_000_000, 1_000_000);
        let dns = Path::new("10.1.0.5:40000", "10.1.0.1:53");
        cap.push(dns.udp(true, &app::dns_query(1, "www.tiktok.com", 1)));
        cap.push(dns.udp(
            false,
            &app::dns_response(1, "www.tiktok.com", 1, &[app::Answer::a("www.tiktok.com", 300, "198.51.100.7")]),
        ));
        // The same CDN address, asked for another name.
        let mut other = TcpSession::new(Path::new("10.1.0.5:50001", "198.51.100.7:443"), 1, 1);
        other.handshake(&mut cap);
        other.client_write(&mut cap, &hello("www.wikipedia.org"));
        // And with no name at all: the DNS answer attributes it.
        let mut nameless = TcpSession::new(Path::new("10.1.0.5:50002", "198.51.100.7:443"), 1, 1);
        nameless.handshake(&mut cap);
        let (flows, out) = run(&cap, None);
        let by_port = |p: u64| flows.iter().find(|f| f["client_port"] == p).unwrap();
        assert_eq!(
            (&by_port(50001)["vendor"], &by_port(50001)["server_name"]),
            (&Value::Null, &Value::from("www.wikipedia.org"))
        );
        assert_eq!(
            (&by_port(50002)["vendor"], &by_port(50002)["evidence"]),
            (&Value::from("bytedance"), &Value::from("dns"))
        );
        let lookup = by_port(40000);
        assert_eq!((&lookup["vendor"], &lookup["query_vendor"]), (&Value::Null, &Value::from("bytedance")));
        assert_eq!(out.dns_queries.values().sum::<u64>(), 1);
    }

    #[test]
    fn a_dns_flow_to_a_learned_vendor_address_stays_a_lookup() {
        let mut cap = Capture::new(1_000_000_000, 1_000_000);
        let dns = Path::new("10.1.0.5:40000", "10.1.0.1:53");
        cap.push(dns.udp(
            false,
            &app::dns_response(1, "www.tiktok.com", 1, &[app::Answer::a("www.tiktok.com", 300, "198.51.100.7")]),
        ));
        cap.push(Path::new("10.1.0.5:40001", "198.51.100.7:53").udp(true, &app::dns_query(2, "example.org", 1)));
        let (flows, _) = run(&cap, None);
        let to_cdn = flows.iter().find(|f| f["client_port"] == 40001).unwrap();
        assert_eq!((&to_cdn["vendor"], &to_cdn["evidence"]), (&Value::Null, &Value::Null));
    }

    #[test]
    fn an_inbound_flow_on_a_vlan_segment_counts_from_the_private_host() {
        let mut cap = Capture::new(1_000_000_000, 1_000_000);
        let path = Path::new("198.51.100.9:50000", "10.30.0.5:8443").with_link(Link::vlan(30));
        cap.push(path.tcp(true, 1, 0, SYN, b""));
        cap.push(path.tcp(true, 1, 0, SYN, b""));
        cap.push(path.tcp(false, 1, 2, SYN | ACK, b""));
        let (_, out) = run(&cap, Some("[[segment]]\nname = \"lab\"\nvlans = [30]\n"));
        let t: Vec<_> = out.traffic.iter().filter(|(k, _)| &*k.segment == "lab").collect();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].1.packets, [1, 2], "out: the lab server's reply; in: the outside client's SYNs");
    }

    fn pipeline_with(files: &[(&str, &str)]) -> Pipeline {
        let set = SignatureSet::from_files(files.iter().map(|(n, t)| (n.into(), (*t).to_owned()))).unwrap();
        let rules = Arc::new(Rules::new(set, Config::default_auto()).unwrap());
        Pipeline::new(rules, DEFAULT_MAX_FLOWS, FlowRecords::Off)
    }

    fn feed(pipeline: &mut Pipeline, cap: &Capture) {
        let source = pipeline.add_source("test");
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

    const EXAMPLE: &str = "vendor = \"example\"\ndisplay_name = \"Example\"\n[[entry]]\nservice = \"web\"\nsource = \"test\"\nsuffixes = [\"example.org\"]\n";
    const OTHER: &str = "vendor = \"other\"\ndisplay_name = \"Other\"\n[[entry]]\nservice = \"web\"\nsource = \"test\"\nsuffixes = [\"other.test\"]\n";

    #[test]
    fn a_reload_attributes_names_that_matched_nothing_before() {
        let mut pipeline = pipeline_with(&[("other.toml", OTHER)]);
        let mut cap = Capture::new(1_000_000_000, 1_000_000);
        let mut s = TcpSession::new(Path::new("10.1.0.5:50000", "192.0.2.80:443"), 1, 1);
        s.handshake(&mut cap);
        s.client_write(&mut cap, &hello("www.example.org"));
        feed(&mut pipeline, &cap);
        let set = SignatureSet::from_files([("example.toml".into(), EXAMPLE.to_owned())]).unwrap();
        pipeline.set_rules(Arc::new(Rules::new(set, Config::default_auto()).unwrap()));
        pipeline.finish();
        let out = pipeline.take_batch().counts;
        let vendors: Vec<&str> = out.traffic.keys().map(|k| &*k.vendor).collect();
        assert_eq!(vendors, vec!["example"]);
    }

    #[test]
    fn a_dns_flow_is_counted_at_the_first_flush() {
        let mut pipeline = pipeline_with(&[("example.toml", EXAMPLE)]);
        let mut cap = Capture::new(1_000_000_000, 1_000_000);
        cap.push(Path::new("10.1.0.5:40000", "10.1.0.1:53").udp(true, &app::dns_query(1, "www.example.org", 1)));
        feed(&mut pipeline, &cap);
        pipeline.flush();
        let out = pipeline.take_batch().counts;
        let flows: u64 = out.traffic.values().map(|t| t.flows).sum();
        assert_eq!(flows, 1, "a live resolver flow must not wait for its idle timeout");
        assert_eq!(out.dns_queries.values().sum::<u64>(), 1);
    }

    #[test]
    fn a_hello_carried_on_the_syn_is_read() {
        let mut cap = Capture::new(1_000_000_000, 1_000_000);
        let path = Path::new("10.1.0.5:50000", "192.0.2.80:443");
        cap.push(path.tcp(true, 500, 0, SYN, &hello("www.tiktok.com")));
        cap.push(path.tcp(false, 9, 501, SYN | ACK, b""));
        cap.push(path.tcp(true, 501, 10, PSH | ACK, b""));
        let (flows, _) = run(&cap, None);
        assert_eq!((&flows[0]["vendor"], &flows[0]["evidence"]), (&Value::from("bytedance"), &Value::from("tls_sni")));
    }

    /// With workers sharing the call table, a call's media may be read by
    /// one before another has read the call's checks (the live sensor's
    /// fanout spreads a call's flows): the media is the call's all the same,
    /// found again when it is first counted.
    #[test]
    fn media_read_before_another_worker_read_the_calls_checks_is_the_calls() {
        let fixture = synth::fixtures::all().into_iter().find(|f| f.name == "call_media.pcap").unwrap();
        let mut reader = crate::source::file::CaptureReader::from_reader(&fixture.bytes[..]).unwrap();
        let (mut checks, mut media) = (Vec::new(), Vec::new());
        while let Some(f) = reader.next_frame().unwrap() {
            let Ok(Decoded::Packet(p)) = decode::decode(f.link, f.data) else { continue };
            let ports = [p.src_port, p.dst_port];
            if ports.contains(&50080) {
                checks.push((f.ts_ns, f.data.to_vec()));
            } else if ports.contains(&50081) {
                media.push((f.ts_ns, f.data.to_vec()));
            }
        }
        assert!(checks.len() == 3 && media.len() == 2);
        let rules = Arc::new(Rules::new(SignatureSet::embedded(), Config::default_auto()).unwrap());
        let relayed_call = |checks_read_later: bool| {
            let calls = Pipeline::new_call_table();
            let (mut reads_media, mut reads_checks) = (
                Pipeline::new(rules.clone(), DEFAULT_MAX_FLOWS, FlowRecords::All),
                Pipeline::new(rules.clone(), DEFAULT_MAX_FLOWS, FlowRecords::Off),
            );
            reads_media.share_call_table(calls.clone());
            reads_checks.share_call_table(calls);
            let feed = |pipeline: &mut Pipeline, frames: &[(u64, Vec<u8>)]| {
                let source = pipeline.add_source("test");
                for (ts_ns, data) in frames {
                    let wire_len = u32::try_from(data.len()).unwrap();
                    let frame = Frame { ts_ns: *ts_ns, link: LinkType::Ethernet, data, wire_len, interface: 0 };
                    pipeline.process(&frame, source);
                }
            };
            feed(&mut reads_media, &media);
            if checks_read_later {
                feed(&mut reads_checks, &checks);
            }
            reads_media.finish();
            let records = reads_media.take_batch().records;
            assert_eq!(records.len(), 1);
            (records[0].vendor.clone(), records[0].evidence)
        };
        assert_eq!(relayed_call(true), (Some("microsoft".into()), Some("stun")));
        assert_eq!(relayed_call(false), (None, None), "without the checks, no call");
    }

    /// A bare ACK whose IP length counts the frame's padding (zeros) before
    /// the ClientHello at the same sequence number, as in nDPI's
    /// `heuristic_tcp_ack_payload.pcap`: the hello is read. Zeros on a PSH, or
    /// more than padding can be, or in a frame too long to need padding,
    /// are data: the stream starts with them.
    #[test]
    fn padding_counted_as_payload_on_a_bare_ack_is_not_data() {
        let with_first = |client: &str, flags: u8, first: &[u8]| {
            let path = Path::new(client, if client.starts_with('[') { "[2001:db8::80]:443" } else { "192.0.2.80:443" });
            let mut cap = Capture::new(1_000_000_000, 1_000_000);
            cap.push(path.tcp(true, 500, 0, SYN, b""));
            cap.push(path.tcp(false, 9, 501, SYN | ACK, b""));
            cap.push(path.tcp(true, 501, 10, flags, first));
            cap.push(path.tcp(true, 501, 10, PSH | ACK, &hello("www.tiktok.com")));
            let (flows, _) = run(&cap, None);
            assert_eq!(flows.len(), 1);
            flows[0]["server_name"].clone()
        };
        let v4 = "10.1.0.5:50000";
        for padding in [&[0u8; 2][..], &[0; 6]] {
            assert_eq!(with_first(v4, ACK, padding), Value::from("www.tiktok.com"), "{} zeros", padding.len());
        }
        assert_eq!(with_first(v4, PSH | ACK, &[0; 2]), Value::Null, "zeros pushed are data");
        assert_eq!(with_first(v4, ACK, &[0; 7]), Value::Null, "7 zeros are more than padding");
        assert_eq!(with_first(v4, ACK, &[0, 1]), Value::Null, "padding is zeros");
        // 14 + 40 + 20 + 2 = 76 bytes: no padding needed.
        assert_eq!(with_first("[fd00::5]:50000", ACK, &[0; 2]), Value::Null, "a frame over 64 bytes is not padded");
    }
}
