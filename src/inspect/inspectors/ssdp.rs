//! SSDP (UPnP discovery, UDP 1900): the SERVER header of a device's
//! NOTIFY announcement or its answer to an M-SEARCH.

use super::announcements::Announcements;
use crate::inspect::heads::Head;
use crate::inspect::{Direction, Finding, FlowContext, HostFact, Probe, Registration, Report, Side, Transport};

pub const REGISTRATION: Registration =
    Registration { name: "ssdp", transport: Transport::Udp, probe, start: |_| Announcements::boxed(read) };

/// UPnP Device Architecture 2.0, section 1.
pub const SSDP_PORT: u16 = 1900;

fn probe(ctx: FlowContext, _: Direction, data: &[u8]) -> Probe {
    if ctx.has_port(SSDP_PORT) && Head::new_checked(data).is_some() { Probe::Accept } else { Probe::Reject }
}

fn read(dir: Direction, data: &[u8], report: &mut Report<'_>) {
    let Some(head) = Head::new_checked(data) else { return };
    if !(head.is_response() || head.is_method(b"NOTIFY")) {
        return;
    }
    if let Some(server) = head.header("server") {
        report(Finding::Host { side: Side::sender(dir), fact: HostFact::SsdpServer(server) });
    }
}
