//! QUIC: the ClientHello in the client's Initial packets, decrypted with
//! the keys every observer can derive (RFC 9001, RFC 9369).

use super::tls::report_hello;
use crate::classify::verdict::Evidence;
use crate::inspect::quic::{self, ClientInitials};
use crate::inspect::tls;
use crate::inspect::{
    Direction, Finding, FlowContext, FlowFinding, Inspector, Probe, Progress, Registration, Report, Transport,
};

pub const REGISTRATION: Registration =
    Registration { name: "quic", transport: Transport::Udp, probe, start: |_| Box::new(Initials::default()) };

/// What one flow's QUIC work may hold: the CRYPTO stream and the keys.
const RESERVATION: usize = quic::MAX_CRYPTO + 4 * 1024;
/// Client datagrams read before giving up on a flow whose Initials never
/// complete a hello: the tracker bounds the Initials it decrypts, this
/// bounds the other packets (0-RTT, short headers) it looks at.
const MAX_CLIENT_DATAGRAMS: u16 = 64;

fn probe(_: &FlowContext, dir: Direction, data: &[u8]) -> Probe {
    if dir == Direction::FromClient && quic::looks_like_client_initial(data) { Probe::Accept } else { Probe::Reject }
}

#[derive(Default)]
struct Initials {
    tracker: ClientInitials,
    datagrams: u16,
}

impl Inspector for Initials {
    fn feed(&mut self, dir: Direction, data: &[u8], report: &mut Report<'_>) -> Progress {
        if dir == Direction::ToClient {
            return Progress::More { consumed: 0 };
        }
        self.datagrams += 1;
        match self.tracker.on_datagram(data) {
            quic::Progress::Hello(bytes) => {
                if let Ok(hello) = tls::parse_client_hello_message(bytes) {
                    report_hello(&hello, Evidence::QuicSni, report);
                }
                Progress::Done
            }
            // NotQuic also covers an Initial that failed to decrypt: the
            // tracker bounds its own attempts and gives up.
            quic::Progress::NeedMore | quic::Progress::NotQuic if self.datagrams < MAX_CLIENT_DATAGRAMS => {
                Progress::More { consumed: 0 }
            }
            _ => Progress::Done,
        }
    }

    fn reserved(&self) -> usize {
        RESERVATION
    }

    fn finish(&mut self, report: &mut Report<'_>) {
        let skipped = self.tracker.skipped();
        if skipped > 0 {
            report(Finding::Flow(FlowFinding::QuicPacketsSkipped(skipped)));
        }
    }
}
