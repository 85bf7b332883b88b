//! What an mDNS responder says about its device, beyond its name: the
//! DNS-SD service types it offers and the model in its TXT records
//! (`_device-info._tcp` `model=`, Google Cast's `md=`). Read by the DNS
//! inspector for every multicast DNS response.

use crate::inspect::mdns::{Message, TYPE_PTR, service_type};
use crate::inspect::{Direction, Finding, HostFact, Report, Side};

/// Services reported per message: a responder lists a handful.
const MAX_SERVICES: usize = 16;

pub(super) fn read(dir: Direction, message: &[u8], report: &mut Report<'_>) {
    let Ok(msg) = Message::new_checked(message) else { return };
    if !msg.is_response() {
        return;
    }
    let side = Side::sender(dir);
    let mut services = 0;
    for record in msg.records() {
        let service = if record.rtype == TYPE_PTR {
            record.ptr_target().and_then(|t| service_type(t.as_str()).map(str::to_owned))
        } else {
            None
        };
        // Both the enumeration PTR (_services._dns-sd._udp) and an
        // instance's PTR name a type; the host table keeps each once.
        if let Some(service) = service.filter(|_| services < MAX_SERVICES) {
            report(Finding::Host { side, fact: HostFact::MdnsService(&service) });
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
