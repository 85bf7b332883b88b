//! DNS: every message of a DNS flow, over UDP or TCP, on the DNS port, the
//! multicast DNS port and LLMNR's, and over TCP on any port when its first
//! message says so. Questions say which vendor a client
//! looked up; answers tie names to addresses for the flows that follow;
//! mDNS and LLMNR answers are names hosts announce for themselves. HTTPS and
//! SVCB answers (RFC 9460) teach their address hints like A/AAAA records,
//! and their `ech` parameter says the name uses real Encrypted ClientHello.

use std::net::IpAddr;

use crate::decode::IPPROTO_TCP;
use crate::inspect::dns::{self, Message, RecordData, Svcb, TcpStart};
use crate::inspect::{
    Direction, Finding, FlowContext, FlowFinding, Inspector, Probe, Progress, Registration, Report, Transport,
};

pub const REGISTRATION: Registration = Registration { name: "dns", transport: Transport::Both, probe, start };

/// DNS over TCP on any other port (a resolver on 5335 or 8853, a forwarded
/// port): recognised by its first message, which must parse exactly (see
/// [`dns::tcp_stream_start`]). Registered after every other TCP protocol,
/// so it only takes flows that nothing else claims.
pub const TCP_ANY_PORT: Registration =
    Registration { name: "dns-tcp", transport: Transport::Tcp, probe: probe_content, start };

/// RFC 1035.
pub const DNS_PORT: u16 = 53;
/// RFC 6762.
pub const MDNS_PORT: u16 = 5353;
/// RFC 4795.
pub const LLMNR_PORT: u16 = 5355;

/// Whether a flow with these ports is DNS, whatever its payloads: a lookup
/// talks to a resolver, so such a flow is never attributed by address.
pub fn is_dns_flow(ctx: &FlowContext) -> bool {
    ctx.server_port == DNS_PORT || ctx.has_port(MDNS_PORT) || ctx.has_port(LLMNR_PORT)
}

fn probe(ctx: FlowContext, _: Direction, _: &[u8]) -> Probe {
    if is_dns_flow(&ctx) { Probe::Accept } else { Probe::Reject }
}

fn probe_content(ctx: FlowContext, _: Direction, data: &[u8]) -> Probe {
    if is_dns_flow(&ctx) {
        // The port-bound registration has this flow.
        return Probe::Reject;
    }
    match dns::tcp_stream_start(data) {
        TcpStart::Dns => Probe::Accept,
        TcpStart::TooShort => Probe::Unsure,
        TcpStart::NotDns => Probe::Reject,
    }
}

fn start(ctx: FlowContext) -> Box<dyn Inspector> {
    let local = ctx.has_port(MDNS_PORT) || ctx.has_port(LLMNR_PORT);
    Box::new(Messages { tcp: ctx.protocol == IPPROTO_TCP, local })
}

struct Messages {
    /// Messages carry a 2-byte length prefix (RFC 1035 4.2.2).
    tcp: bool,
    /// mDNS or LLMNR.
    local: bool,
}

impl Inspector for Messages {
    fn feed(&mut self, dir: Direction, data: &[u8], report: &mut Report<'_>) -> Progress {
        if !self.tcp {
            self.read(dir, data, report);
            return Progress::Watching { consumed: data.len() };
        }
        let mut consumed = 0;
        while let Some(&[hi, lo, ..]) = data.get(consumed..) {
            let len = usize::from(u16::from_be_bytes([hi, lo]));
            let rest = data.get(consumed..).unwrap_or(&[]);
            let Some(message) = rest.get(2..2 + len) else { break };
            self.read(dir, message, report);
            consumed += 2 + len;
        }
        Progress::Watching { consumed }
    }
}

impl Messages {
    fn read(&self, dir: Direction, message: &[u8], report: &mut Report<'_>) {
        if self.local {
            return super::mdns::read(dir, message, report);
        }
        let Ok(msg) = Message::new_checked(message) else { return };
        let response = msg.is_response();
        let Ok(Some(question)) = msg.question() else { return };
        let name = question.name.as_str();
        report(Finding::Flow(FlowFinding::DnsQuestion { name, response, local: false }));
        if !response {
            return;
        }
        for record in msg.answers() {
            let Ok(record) = record else { break };
            let addr: IpAddr = match record.data {
                RecordData::A(a) => a.into(),
                RecordData::Aaaa(a) => a.into(),
                RecordData::Svcb(svcb) if svcb.is_service() => {
                    read_service_binding(name, &svcb, record.ttl, report);
                    continue;
                }
                _ => continue,
            };
            report(Finding::Flow(FlowFinding::DnsAnswer { name, addr, ttl: record.ttl }));
        }
    }
}

/// A `ServiceMode` HTTPS/SVCB answer for `name`: its address hints are where
/// the client will connect (browsers use them before the A/AAAA answers
/// arrive), and an `ech` parameter means the flows there carry real ECH.
fn read_service_binding(name: &str, svcb: &Svcb<'_>, ttl: u32, report: &mut Report<'_>) {
    if svcb.has_ech() {
        report(Finding::Flow(FlowFinding::DnsEchConfig { name }));
    }
    let hints = svcb.ipv4_hints().map(IpAddr::from).chain(svcb.ipv6_hints().map(IpAddr::from));
    for addr in hints {
        report(Finding::Flow(FlowFinding::DnsAnswer { name, addr, ttl }));
    }
}
