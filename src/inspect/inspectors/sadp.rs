//! Hikvision SADP (UDP 37020): a device's answer names its model.

use super::announcements::Announcements;
use crate::inspect::discovery::{SADP_PORT, sadp_model};
use crate::inspect::{Direction, Finding, FlowContext, HostFact, Probe, Registration, Report, Side, Transport};

pub const REGISTRATION: Registration =
    Registration { name: "sadp", transport: Transport::Udp, probe, start: |_| Announcements::boxed(read) };

fn probe(ctx: FlowContext, _: Direction, data: &[u8]) -> Probe {
    if ctx.has_port(SADP_PORT) && data.starts_with(b"<?xml") { Probe::Accept } else { Probe::Reject }
}

fn read(dir: Direction, data: &[u8], report: &mut Report<'_>) {
    if let Some(model) = sadp_model(data) {
        report(Finding::Host { side: Side::sender(dir), fact: HostFact::Sadp { model } });
    }
}
