//! One flow as the pipeline keeps it: the fields every packet touches,
//! inline in the flow table's slot, and the rest behind a box; how a flow
//! opens (its first packet read against the worker's rules, DNS answers
//! and calls) and how its traffic is counted at a flush or at its end.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::aggregate::{
    Aggregator, HostServiceKey, HostTraffic, IN, NO_EVIDENCE, NO_VENDOR, OUT, Traffic, TrafficKey, VendorKey,
};
use crate::classify::attribution::{Attribution, FlowAddrs};
use crate::classify::calls::{self, CallTable};
use crate::classify::dns_cache::DnsCache;
use crate::classify::rules::Rules;
use crate::classify::signatures::EntryId;
use crate::classify::verdict::Evidence;
use crate::decode::{self, Encap, EncapKind, IPPROTO_TCP, IPPROTO_UDP, Packet, Vlans};
use crate::flow::{self, Endpoint, FROM_CLIENT, TO_CLIENT, TcpProgress, TimeoutClass};
use crate::hosts::{DeviceTraffic, HostKey, HostTable};
use crate::inspect::registry::is_dns_flow;
use crate::inspect::{FlowContext, Inspection};
use crate::segment::{Placement, TunnelId, TunnelKind};

/// The state of one flow: what every packet touches, inline in the flow
/// table's slot (its second cache line, after the key and recency), and
/// what a flow needs only now and then (its inspection included), behind
/// a box. 56 bytes: the table's slot is then 128, two cache lines that
/// the CPU fetches together.
#[repr(C)]
pub(super) struct FlowState {
    /// Indexed by [`FROM_CLIENT`] / [`TO_CLIENT`].
    pub(super) packets: [u64; 2],
    pub(super) bytes: [u64; 2],
    pub(super) tcp: TcpProgress,
    /// Whether the client is the key's lower endpoint: a packet's direction
    /// without comparing addresses.
    pub(super) client_is_lo: bool,
    /// `!info.inspection.is_done()`, beside the counters so that a packet
    /// of a flow no longer inspected reads nothing else.
    pub(super) inspecting: bool,
    pub(super) info: Box<FlowInfo>,
}

/// What a flow keeps besides its hot counters: endpoints, placement,
/// inspection, attribution, and what the counters were at the last flush.
pub(super) struct FlowInfo {
    pub(super) inspection: Inspection,
    pub(super) client: Endpoint,
    pub(super) server: Endpoint,
    pub(super) protocol: u8,
    pub(super) vlans: Vlans,
    pub(super) encap: Encap,
    pub(super) interface: u32,
    /// The capture interface's name, as known when the flow began.
    pub(super) interface_name: Option<Arc<str>>,
    pub(super) first_ns: u64,
    /// What earlier flushes already counted, so a flow is never counted twice.
    pub(super) flushed_packets: [u64; 2],
    pub(super) flushed_bytes: [u64; 2],
    pub(super) counted: bool,
    pub(super) placement: Placement,
    pub(super) attribution: Attribution,
    /// QUIC packets the inspection could not decrypt.
    pub(super) quic_skipped: u64,
    /// ICMP(v6): the first packet's type and code, and whether the client
    /// sent it (the Community ID hashes them in place of ports).
    pub(super) icmp_first: Option<(u8, u8, bool)>,
    /// The segment host's MAC, when the flow's first frame showed it.
    pub(super) host_mac: Option<[u8; 6]>,
    /// Its first payload looked like a call's (UDP: STUN, DTLS, TURN,
    /// RTP): a call's checks read by another worker may still claim it.
    pub(super) call_media: bool,
}

impl FlowInfo {
    pub(super) fn addrs(&self) -> FlowAddrs {
        FlowAddrs {
            client: self.client.addr,
            server: self.server.addr,
            server_port: self.server.port,
            protocol: self.protocol,
        }
    }

    pub(super) fn context(&self) -> FlowContext {
        FlowContext { protocol: self.protocol, client_port: self.client.port, server_port: self.server.port }
    }
}

#[allow(clippy::too_many_arguments, reason = "one flow's first packet and the worker state it is read against")]
pub(super) fn new_flow(
    rules: &Rules,
    dns: &DnsCache,
    calls: &CallTable,
    p: &Packet<'_>,
    forward: bool,
    ts: u64,
    interface: u32,
    interface_name: Option<&Arc<str>>,
) -> (FlowState, TimeoutClass) {
    let sender_is_client = flow::sender_is_client(p);
    let (client, server) = if sender_is_client {
        (Endpoint { addr: p.src, port: p.src_port }, Endpoint { addr: p.dst, port: p.dst_port })
    } else {
        (Endpoint { addr: p.dst, port: p.dst_port }, Endpoint { addr: p.src, port: p.src_port })
    };
    let tunnel = match (p.encap.kind, p.encap.id) {
        (EncapKind::Vxlan | EncapKind::Geneve, Some(id)) => Some(TunnelId { kind: TunnelKind::Vni, id }),
        (EncapKind::ErspanII | EncapKind::ErspanIII, Some(id)) => {
            Some(TunnelId { kind: TunnelKind::ErspanSession, id })
        }
        _ => None,
    };
    let placement =
        rules.config.segments.place(client.addr, server.addr, &p.vlans, tunnel, interface_name.map(|n| &**n));
    // The segment host sent this first frame if it is the side that did.
    let host_sent = sender_is_client == placement.host_is_client;
    let host_mac = p.macs.map(|m| if host_sent { m.src } else { m.dst });
    let ctx = FlowContext { protocol: p.protocol, client_port: client.port, server_port: server.port };
    let addrs = FlowAddrs { client: client.addr, server: server.addr, server_port: server.port, protocol: p.protocol };
    let transport = p.protocol == IPPROTO_UDP || p.protocol == IPPROTO_TCP;
    let lookup = transport && is_dns_flow(&ctx);
    // A call's media (or its checks) to an address its STUN named.
    let call_media = p.protocol == IPPROTO_UDP && calls::is_call_payload(p.payload);
    let call = call_media.then(|| call_of(calls, rules, client, server, ts)).flatten();
    let inspection = Inspection::new(p.protocol);
    let info = FlowInfo {
        inspection,
        client,
        server,
        protocol: p.protocol,
        vlans: p.vlans,
        encap: p.encap,
        interface,
        interface_name: interface_name.cloned(),
        first_ns: ts,
        flushed_packets: [0; 2],
        flushed_bytes: [0; 2],
        counted: false,
        placement,
        attribution: Attribution::for_new_flow(rules, dns, &addrs, lookup, call, ts),
        quic_skipped: 0,
        icmp_first: match (p.protocol, p.payload) {
            (decode::IPPROTO_ICMP | decode::IPPROTO_ICMPV6, [kind, code, ..]) => Some((*kind, *code, sender_is_client)),
            _ => None,
        },
        host_mac,
        call_media,
    };
    let f = FlowState {
        packets: [0; 2],
        bytes: [0; 2],
        tcp: TcpProgress::default(),
        client_is_lo: forward == sender_is_client,
        inspecting: !info.inspection.is_done(),
        info: Box::new(info),
    };
    let class = match p.protocol {
        IPPROTO_TCP => TimeoutClass::TcpOpening,
        IPPROTO_UDP => TimeoutClass::Udp,
        _ => TimeoutClass::Other,
    };
    (f, class)
}

/// The call whose STUN named either end of a flow as a candidate.
fn call_of(calls: &CallTable, rules: &Rules, client: Endpoint, server: Endpoint, ts: u64) -> Option<EntryId> {
    let (client, server) = (SocketAddr::new(client.addr, client.port), SocketAddr::new(server.addr, server.port));
    calls.lookup(server, rules, ts).or_else(|| calls.lookup(client, rules, ts))
}

/// Adds what the flow did since its last flush to the counters; false when
/// it did nothing since.
pub(super) fn count_flow(
    rules: &Rules,
    dns: &DnsCache,
    calls: &CallTable,
    agg: &mut Aggregator,
    hosts: &mut HostTable,
    f: &mut FlowState,
    last_ns: u64,
) -> bool {
    let (out, inn) = if f.info.placement.host_is_client { (FROM_CLIENT, TO_CLIENT) } else { (TO_CLIENT, FROM_CLIENT) };
    let mut delta = Traffic { flows: u64::from(!f.info.counted), ..Traffic::default() };
    for (dir, idx) in [(OUT, out), (IN, inn)] {
        delta.packets[dir] = f.packets[idx] - f.info.flushed_packets[idx];
        delta.bytes[dir] = f.bytes[idx] - f.info.flushed_bytes[idx];
    }
    if delta == Traffic::default() {
        return false;
    }
    if !f.info.counted && f.info.attribution.takes_late_answer() {
        // Another worker may have read the answer, or the call's checks,
        // after this one read the flow's first packet.
        let addrs = f.info.addrs();
        f.info.attribution.take_late_answer(rules, dns, &addrs, f.info.first_ns);
        if f.info.call_media {
            if let Some(entry) = call_of(calls, rules, f.info.client, f.info.server, f.info.first_ns) {
                f.info.attribution.take_late_call(entry);
            }
        }
    }
    f.info.flushed_packets = f.packets;
    f.info.flushed_bytes = f.bytes;
    f.info.counted = true;
    let segment = agg.label(&f.info.placement.segment);
    let (vendor, service) = match f.info.attribution.verdict.entry {
        Some(entry) => {
            let e = rules.signatures.entry(entry);
            (agg.label(&rules.signatures.vendor(e.vendor).id), agg.label(rules.signatures.service_name(e.service)))
        }
        None => (agg.label(NO_VENDOR), agg.label(NO_VENDOR)),
    };
    let verdict = &f.info.attribution.verdict;
    let host = if f.info.placement.host_is_client { f.info.client.addr } else { f.info.server.addr };
    if verdict.entry.is_some() {
        let key = VendorKey { segment: segment.clone(), vendor: vendor.clone() };
        agg.add_host(key.clone(), host, last_ns);
        agg.saw_vendor(key, last_ns);
        let banned = verdict.entry.is_some_and(|e| rules.is_banned(rules.signatures.entry(e).vendor));
        let key =
            HostServiceKey { segment: segment.clone(), host, vendor: vendor.clone(), service: service.clone(), banned };
        let traffic = HostTraffic {
            flows: delta.flows,
            packets: delta.packets[OUT] + delta.packets[IN],
            bytes: delta.bytes[OUT] + delta.bytes[IN],
            first_ns: f.info.first_ns,
            last_ns,
        };
        agg.add_host_traffic(key, traffic);
    }
    // An address-less DHCP exchange is nobody's traffic yet.
    if !host.is_unspecified() {
        let traffic = DeviceTraffic { flows: delta.flows, bytes: delta.bytes[OUT] + delta.bytes[IN] };
        let key = HostKey::new(f.info.host_mac, host, &segment);
        hosts.add_traffic(rules, key, host, (vendor.clone(), service.clone()), traffic, last_ns);
    }
    if delta.flows == 1 {
        let evidence = verdict.entry.and(verdict.evidence).map_or(NO_EVIDENCE, Evidence::as_str);
        agg.add_evidence(segment.clone(), evidence);
        if f.info.attribution.ech {
            *agg.ech_flows.entry(segment.clone()).or_default() += 1;
        }
    }
    agg.add_traffic(TrafficKey { segment, vendor, service }, delta);
    true
}
