//! WS-Discovery (UDP 3702), as ONVIF cameras and recorders answer probes
//! and announce themselves: their types and scopes.

use super::announcements::Announcements;
use crate::inspect::discovery::{WS_DISCOVERY_PORT, ws_discovery_match};
use crate::inspect::{Direction, Finding, FlowContext, HostFact, Probe, Registration, Report, Side, Transport};

pub const REGISTRATION: Registration =
    Registration { name: "ws_discovery", transport: Transport::Udp, probe, start: |_| Announcements::boxed(read) };

fn probe(ctx: FlowContext, _: Direction, data: &[u8]) -> Probe {
    if ctx.has_port(WS_DISCOVERY_PORT) && data.starts_with(b"<") { Probe::Accept } else { Probe::Reject }
}

fn read(dir: Direction, data: &[u8], report: &mut Report<'_>) {
    if let Some(m) = ws_discovery_match(data) {
        let fact = HostFact::WsDiscovery { types: m.types, scopes: m.scopes };
        report(Finding::Host { side: Side::sender(dir), fact });
    }
}
