//! Dahua DHIP discovery (UDP 37810): a device's `client.notifyDevInfo`
//! names its model.

use super::announcements::Announcements;
use crate::inspect::discovery::{DHIP_PORT, dhip_body, dhip_device};
use crate::inspect::{Direction, Finding, FlowContext, HostFact, Probe, Registration, Report, Side, Transport};

pub const REGISTRATION: Registration =
    Registration { name: "dhip", transport: Transport::Udp, probe, start: |_| Announcements::boxed(read) };

fn probe(ctx: FlowContext, _: Direction, data: &[u8]) -> Probe {
    if ctx.has_port(DHIP_PORT) && dhip_body(data).is_some() { Probe::Accept } else { Probe::Reject }
}

fn read(dir: Direction, data: &[u8], report: &mut Report<'_>) {
    if let Some((model, vendor)) = dhip_device(data) {
        report(Finding::Host { side: Side::sender(dir), fact: HostFact::Dhip { model, vendor } });
    }
}
