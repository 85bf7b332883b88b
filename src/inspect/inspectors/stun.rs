//! STUN and TURN: what a call's connectivity checks say about the agent
//! (its SOFTWARE attribute, vendor-specific attributes), the first sign of
//! a Teams, WhatsApp or FaceTime call) and the transport addresses it
//! carries, where the call's media will flow.

use crate::inspect::stun::{ATTR_SOFTWARE, Message};
use crate::inspect::{
    Direction, Finding, FlowContext, FlowFinding, Inspector, Probe, Progress, Registration, Report, Transport,
};

pub const REGISTRATION: Registration =
    Registration { name: "stun", transport: Transport::Udp, probe, start: |_| Box::new(Checks::default()) };

/// Messages read per flow: agents repeat the same attributes in every
/// check, so a few say all there is.
const MAX_MESSAGES: u8 = 8;
/// Datagrams looked at per flow, media included.
const MAX_DATAGRAMS: u8 = 64;

fn probe(_: &FlowContext, _: Direction, data: &[u8]) -> Probe {
    if Message::new_checked(data).is_ok() { Probe::Accept } else { Probe::Reject }
}

#[derive(Default)]
struct Checks {
    messages: u8,
    datagrams: u8,
}

impl Inspector for Checks {
    fn feed(&mut self, _: Direction, data: &[u8], report: &mut Report<'_>) -> Progress {
        self.datagrams = self.datagrams.saturating_add(1);
        let more = if self.datagrams >= MAX_DATAGRAMS { Progress::Done } else { Progress::More { consumed: 0 } };
        // Media (RTP, SRTP) follows the checks on the same ports: not STUN.
        let Ok(message) = Message::new_checked(data) else { return more };
        self.messages += 1;
        for attr in message.attributes() {
            if attr.kind == ATTR_SOFTWARE {
                if let Ok(software) = std::str::from_utf8(attr.value) {
                    report(Finding::Flow(FlowFinding::StunSoftware(software)));
                }
            } else if attr.is_vendor_specific() {
                report(Finding::Flow(FlowFinding::StunAttribute(attr.kind)));
            } else if let Some(addr) = message.xor_address(&attr) {
                report(Finding::Flow(FlowFinding::StunCandidate(addr)));
            }
        }
        if self.messages >= MAX_MESSAGES { Progress::Done } else { more }
    }
}
