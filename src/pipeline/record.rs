//! An ended (or, for `/api/flows`, running) flow as a flow-log record.

use super::state::FlowState;
use crate::classify::encrypted_dns::EncryptedDns;
use crate::classify::rules::Rules;
use crate::classify::verdict::Evidence;
use crate::decode::{self, IPPROTO_TCP, IPPROTO_UDP};
use crate::export::community_id::{self, Transport};
use crate::export::flowlog::FlowRecord;
use crate::flow::{EndReason, FROM_CLIENT, TO_CLIENT};

pub(super) fn flow_record(rules: &Rules, f: &FlowState, last_ns: u64, reason: EndReason) -> FlowRecord {
    let sigs = &rules.signatures;
    let a = &f.info.attribution;
    let entry = a.verdict.entry.map(|e| sigs.entry(e));
    FlowRecord {
        proto: proto_name(f.info.protocol),
        protocol_number: f.info.protocol,
        client: f.info.client.addr,
        client_port: f.info.client.port,
        server: f.info.server.addr,
        server_port: f.info.server.port,
        vlan: f.info.vlans.innermost(),
        vlans: f.info.vlans.as_slice().into(),
        encap: f.info.encap.kind.as_str(),
        encap_id: f.info.encap.id,
        interface: f.info.interface,
        interface_name: f.info.interface_name.clone(),
        community_id: community_id(f).map(String::into_boxed_str),
        segment: f.info.placement.segment.clone(),
        vendor: entry.map(|e| sigs.vendor(e.vendor).id.clone()),
        service: entry.map(|e| sigs.service_name(e.service).into()),
        banned: entry.is_some_and(|e| rules.is_banned(e.vendor)),
        evidence: a.verdict.evidence.map(Evidence::as_str),
        name: a.verdict.name.clone(),
        server_name: a.server_name.as_ref().map(|(n, _)| n.clone()),
        query_vendor: a.query.as_ref().map(|(e, _)| sigs.vendor(sigs.entry(*e).vendor).id.clone()),
        query_name: a.query.as_ref().map(|(_, n)| n.clone()),
        alpn: a.alpn.clone(),
        user_agent: a.user_agent.clone(),
        stun_software: a.stun_software.clone(),
        signature: entry.map(|e| (e.file.clone(), e.line)),
        ech: a.ech,
        ech_config: a.ech_config,
        encrypted_dns: a.encrypted_dns.map(EncryptedDns::as_str),
        packets: f.packets[FROM_CLIENT] + f.packets[TO_CLIENT],
        bytes: f.bytes[FROM_CLIENT] + f.bytes[TO_CLIENT],
        packets_from_client: f.packets[FROM_CLIENT],
        packets_to_client: f.packets[TO_CLIENT],
        bytes_from_client: f.bytes[FROM_CLIENT],
        bytes_to_client: f.bytes[TO_CLIENT],
        first_seen_ns: f.info.first_ns,
        last_seen_ns: last_ns,
        end_reason: reason.as_str(),
    }
}

/// The flow's Community ID, from its first packet for ICMP (whose type and
/// code stand in for ports). SCTP's ports are not decoded: no ID.
fn community_id(f: &FlowState) -> Option<String> {
    let (client, server) = (f.info.client.addr, f.info.server.addr);
    let seed = 0;
    match f.info.protocol {
        IPPROTO_TCP | IPPROTO_UDP => community_id::community_id_v1(
            seed,
            client,
            server,
            f.info.protocol,
            Transport::Ports(f.info.client.port, f.info.server.port),
        ),
        decode::IPPROTO_ICMP | decode::IPPROTO_ICMPV6 => {
            let (kind, code, from_client) = f.info.icmp_first?;
            let (src, dst) = if from_client { (client, server) } else { (server, client) };
            community_id::community_id_v1(seed, src, dst, f.info.protocol, Transport::Icmp { kind, code })
        }
        community_id::IPPROTO_SCTP => None,
        _ => community_id::community_id_v1(seed, client, server, f.info.protocol, Transport::None),
    }
}

/// The flow record's name of an IP protocol number (`tcp`, `udp`, ...;
/// `other` for those without one).
pub fn proto_name(protocol: u8) -> &'static str {
    match protocol {
        decode::IPPROTO_TCP => "tcp",
        decode::IPPROTO_UDP => "udp",
        decode::IPPROTO_ICMP => "icmp",
        decode::IPPROTO_ICMPV6 => "icmp6",
        47 => "gre",
        50 => "esp",
        _ => "other",
    }
}
