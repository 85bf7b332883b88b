//! Multicast DNS and LLMNR messages, read once for everything they say: the
//! question (a name on the LAN, not a lookup of a service), and from a
//! response the responder's own names and addresses, the DNS-SD service
//! types it offers and the model in its TXT records (`_device-info._tcp`
//! `model=`, Google Cast's `md=`). Read by the DNS inspector for every
//! message on the mDNS and LLMNR ports.

use crate::inspect::mdns::{Message, Section, service_type};
use crate::inspect::{Direction, Finding, FlowFinding, HostFact, Report, Side};

/// Services reported per message: a responder lists a handful.
const MAX_SERVICES: usize = 16;

pub(super) fn read(dir: Direction, message: &[u8], report: &mut Report<'_>) {
    let Ok(msg) = Message::new_checked(message) else { return };
    let response = msg.is_response();
    // mDNS responses usually carry no question, only their answers.
    if let Some(question) = msg.question().filter(|q| !q.as_str().is_empty()) {
        report(Finding::Flow(FlowFinding::DnsQuestion { name: question.as_str(), response, local: true }));
    }
    if !response {
        return;
    }
    let side = Side::sender(dir);
    let mut services = 0;
    for record in msg.records() {
        // A responder announces its own name and address.
        if record.section == Section::Answer && record.address().is_some() && !record.name.as_str().is_empty() {
            report(Finding::Host { side, fact: HostFact::Hostname(record.name.as_str()) });
        }
        // Both the enumeration PTR (_services._dns-sd._udp) and an
        // instance's PTR name a type; the host table keeps each once.
        let target = record.ptr_target();
        if let Some(service) =
            target.as_ref().and_then(|t| service_type(t.as_str())).filter(|_| services < MAX_SERVICES)
        {
            report(Finding::Host { side, fact: HostFact::MdnsService(service) });
            services += 1;
        }
        for txt in record.txt() {
            let model = txt.strip_prefix(b"model=").or_else(|| txt.strip_prefix(b"md="));
            if let Some(model) = model.and_then(|m| std::str::from_utf8(m).ok()).filter(|m| !m.is_empty()) {
                report(Finding::Host { side, fact: HostFact::MdnsModel(model) });
            }
        }
    }
}
