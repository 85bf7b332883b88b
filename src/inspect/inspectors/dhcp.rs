//! DHCPv4 client messages (UDP 67/68): the client's host name (option
//! 12), vendor class (60), parameter request list (55) and the address
//! it holds or asks for. Relayed messages are skipped: their frames are
//! the relay's, not the client's.

use std::net::IpAddr;

use super::announcements::Announcements;
use crate::inspect::dhcp::{
    CLIENT_PORT, Message, OPT_HOSTNAME, OPT_PARAMETER_REQUEST_LIST, OPT_VENDOR_CLASS, SERVER_PORT,
};
use crate::inspect::{Direction, Finding, FlowContext, HostFact, Probe, Registration, Report, Side, Transport};

pub const REGISTRATION: Registration =
    Registration { name: "dhcp", transport: Transport::Udp, probe, start: |_| Announcements::boxed(read) };

fn probe(ctx: FlowContext, _: Direction, data: &[u8]) -> Probe {
    let ports = ctx.has_port(SERVER_PORT) && ctx.has_port(CLIENT_PORT);
    if ports && Message::new_checked(data).is_ok() { Probe::Accept } else { Probe::Reject }
}

fn read(dir: Direction, data: &[u8], report: &mut Report<'_>) {
    let Ok(msg) = Message::new_checked(data) else { return };
    if !msg.is_request() || msg.is_relayed() {
        return;
    }
    let side = Side::sender(dir);
    if let Some(addr) = msg.client_address() {
        report(Finding::Host { side, fact: HostFact::Address(IpAddr::V4(addr)) });
    }
    if let Some(name) = msg.text_option(OPT_HOSTNAME) {
        report(Finding::Host { side, fact: HostFact::Hostname(name) });
    }
    if let Some(class) = msg.text_option(OPT_VENDOR_CLASS) {
        report(Finding::Host { side, fact: HostFact::DhcpVendorClass(class) });
    }
    if let Some(list) = msg.option(OPT_PARAMETER_REQUEST_LIST).filter(|l| !l.is_empty()) {
        report(Finding::Host { side, fact: HostFact::DhcpRequestList(list) });
    }
}
