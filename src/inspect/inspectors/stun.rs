//! STUN and TURN: what a call's connectivity checks say about the agent
//! (its SOFTWARE attribute, vendor-specific attributes), the first sign of
//! a Teams, WhatsApp or FaceTime call) and the transport addresses it
//! carries, where the call's media will flow. Over UDP each datagram is a
//! message or media; over TCP (TURN-TCP, ICE-TCP, a client behind a
//! firewall that only lets TCP 443 out) messages follow one another in the
//! reassembled stream, directly or in RFC 4571 frames.

use super::{MAX_HELD, wait_for_more};
use crate::decode::IPPROTO_TCP;
use crate::inspect::stun::{self, ATTR_SOFTWARE, Message, TcpFrame, TcpFraming, TcpStart};
use crate::inspect::{
    Direction, Finding, FlowContext, FlowFinding, Inspector, Probe, Progress, Registration, Report, Transport,
};

pub const REGISTRATION: Registration = Registration { name: "stun", transport: Transport::Both, probe, start };

/// Messages read per flow: agents repeat the same attributes in every
/// check, so a few say all there is.
const MAX_MESSAGES: u8 = 8;
/// Datagrams, or TCP frames, looked at per flow, media included.
const MAX_PACKETS: u8 = 64;

fn probe(ctx: FlowContext, _: Direction, data: &[u8]) -> Probe {
    if ctx.protocol == IPPROTO_TCP {
        return match stun::tcp_start(data) {
            TcpStart::Stun(_) => Probe::Accept,
            TcpStart::TooShort => Probe::Unsure,
            TcpStart::NotStun => Probe::Reject,
        };
    }
    if Message::new_checked(data).is_ok() { Probe::Accept } else { Probe::Reject }
}

fn start(ctx: FlowContext) -> Box<dyn Inspector> {
    if ctx.protocol == IPPROTO_TCP { Box::new(StreamChecks::default()) } else { Box::new(Checks::default()) }
}

/// What the flow's messages have told so far, whatever carries them.
#[derive(Default)]
struct Count {
    messages: u8,
    packets: u8,
}

impl Count {
    /// Counts a datagram or frame, STUN or media.
    fn packet(&mut self) {
        self.packets = self.packets.saturating_add(1);
    }

    fn read(&mut self, message: &Message<&[u8]>, report: &mut Report<'_>) {
        self.messages = self.messages.saturating_add(1);
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
    }

    /// Whether the flow may still tell something.
    fn more(&self) -> bool {
        self.packets < MAX_PACKETS && self.messages < MAX_MESSAGES
    }
}

/// Over UDP: one datagram, one message (or media, skipped).
#[derive(Default)]
struct Checks {
    count: Count,
}

impl Inspector for Checks {
    fn feed(&mut self, _: Direction, data: &[u8], report: &mut Report<'_>) -> Progress {
        self.count.packet();
        // Media (RTP, SRTP) follows the checks on the same ports: not STUN.
        if let Ok(message) = Message::new_checked(data) {
            self.count.read(&message, report);
        }
        if self.count.more() { Progress::More { consumed: 0 } } else { Progress::Done }
    }
}

/// What a direction's first bytes said.
#[derive(Clone, Copy, Default)]
enum Start {
    /// Not read yet.
    #[default]
    Unread,
    /// STUN, framed this way.
    Stun(TcpFraming),
    /// Something else (its start lost to the capture): skipped.
    Other,
}

/// Over TCP: each direction's frames in turn, its framing read from its
/// first bytes (each side of an ICE-TCP or TURN connection frames alike,
/// but a direction whose start was lost is only skipped).
#[derive(Default)]
struct StreamChecks {
    count: Count,
    starts: [Start; 2],
}

impl Inspector for StreamChecks {
    fn feed(&mut self, dir: Direction, data: &[u8], report: &mut Report<'_>) -> Progress {
        let start = &mut self.starts[dir.index()];
        if let Start::Unread = start {
            *start = match stun::tcp_start(data) {
                TcpStart::TooShort => return wait_for_more(data),
                TcpStart::Stun(framing) => Start::Stun(framing),
                TcpStart::NotStun => Start::Other,
            };
        }
        let Start::Stun(framing) = *start else { return Progress::More { consumed: data.len() } };
        let mut consumed = 0;
        while let Some(rest) = data.get(consumed..).filter(|r| !r.is_empty()) {
            let n = match stun::tcp_frame(rest, framing) {
                TcpFrame::Message(message, n) => {
                    self.count.read(&message, report);
                    n
                }
                TcpFrame::Other(n) => n,
                // Held until the frame is whole, within the stream's bound.
                TcpFrame::Incomplete if rest.len() < MAX_HELD => break,
                TcpFrame::Incomplete | TcpFrame::Lost => return Progress::Done,
            };
            consumed += n;
            self.count.packet();
            if !self.count.more() {
                return Progress::Done;
            }
        }
        Progress::More { consumed }
    }
}
