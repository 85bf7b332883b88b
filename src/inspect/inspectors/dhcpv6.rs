//! DHCPv6 client messages (UDP 546/547): the vendor class (option 16)
//! and the host name in the client's FQDN (option 39).

use super::announcements::Announcements;
use crate::inspect::dhcp::{V6_CLIENT_PORT, V6_SERVER_PORT, V6Message};
use crate::inspect::{Direction, Finding, FlowContext, HostFact, Probe, Registration, Report, Side, Transport};

pub const REGISTRATION: Registration =
    Registration { name: "dhcpv6", transport: Transport::Udp, probe, start: |_| Announcements::boxed(read) };

fn probe(ctx: FlowContext, _: Direction, data: &[u8]) -> Probe {
    let ports = ctx.has_port(V6_SERVER_PORT) && ctx.has_port(V6_CLIENT_PORT);
    if ports && data.len() >= 4 { Probe::Accept } else { Probe::Reject }
}

fn read(dir: Direction, data: &[u8], report: &mut Report<'_>) {
    let Ok(msg) = V6Message::new_checked(data) else { return };
    let side = Side::sender(dir);
    if let Some(name) = msg.fqdn_host() {
        report(Finding::Host { side, fact: HostFact::Hostname(name) });
    }
    if let Some((_, class)) = msg.vendor_class() {
        report(Finding::Host { side, fact: HostFact::DhcpVendorClass(class) });
    }
}
