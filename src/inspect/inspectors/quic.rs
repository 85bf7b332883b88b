//! QUIC: the hello in the client's Initial packets, decrypted with the keys
//! every observer can derive (RFC 9001, RFC 9369, and the drafts', Google's
//! and Meta's salts), or read in plaintext from Google QUIC's CHLO.

use super::tls::report_hello;
use crate::classify::verdict::Evidence;
use crate::inspect::quic::{self, ClientInitials, gquic};
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

/// A client's Initial, or a packet that comes before it (0-RTT reordered
/// ahead, an Initial of a version that forces negotiation); a server's
/// Version Negotiation, after which the client's real Initial follows.
fn probe(_: FlowContext, dir: Direction, data: &[u8]) -> Probe {
    let quic = match dir {
        Direction::FromClient => quic::looks_like_client_quic(data),
        Direction::ToClient => quic::is_version_negotiation(data),
    };
    if quic { Probe::Accept } else { Probe::Reject }
}

#[derive(Default)]
struct Initials {
    tracker: ClientInitials,
    datagrams: u16,
    /// The tracker gave up: it only counts the flow's further Initials,
    /// from their headers, for `vendorwatch_quic_packets_skipped_total`.
    counting: bool,
}

impl Inspector for Initials {
    fn feed(&mut self, dir: Direction, data: &[u8], report: &mut Report<'_>) -> Progress {
        let waiting = if self.counting { Progress::Watching { consumed: 0 } } else { Progress::More { consumed: 0 } };
        if dir == Direction::ToClient {
            return waiting;
        }
        self.datagrams = self.datagrams.saturating_add(1);
        match self.tracker.on_datagram(data) {
            quic::Progress::Hello(bytes) => {
                if let Ok(hello) = tls::parse_client_hello_message(bytes) {
                    report_hello(&hello, Evidence::QuicSni, report);
                }
                Progress::Done
            }
            quic::Progress::Chlo(bytes) => {
                if let Some(chlo) = gquic::parse_chlo(bytes) {
                    if let Some(name) = chlo.sni.as_deref() {
                        report(Finding::Flow(FlowFinding::ServerName { evidence: Evidence::QuicSni, name }));
                    }
                    if let Some(agent) = chlo.user_agent {
                        super::report_user_agent(agent, report);
                    }
                }
                Progress::Done
            }
            // Nothing more to learn, but every further Initial is still
            // counted; the attribution no longer depends on the flow.
            quic::Progress::GaveUp(_) => {
                self.counting = true;
                Progress::Watching { consumed: 0 }
            }
            // NotQuic also covers an Initial that failed to decrypt: the
            // tracker bounds its own attempts and gives up.
            quic::Progress::NeedMore | quic::Progress::NotQuic if self.datagrams < MAX_CLIENT_DATAGRAMS => waiting,
            quic::Progress::NeedMore | quic::Progress::NotQuic => Progress::Done,
        }
    }

    fn reserved(&self) -> usize {
        // A tracker that gave up has freed its stream and keys.
        if self.counting { 0 } else { RESERVATION }
    }

    fn finish(&mut self, report: &mut Report<'_>) {
        let skipped = self.tracker.skipped();
        if skipped > 0 {
            report(Finding::Flow(FlowFinding::QuicPacketsSkipped(skipped)));
        }
    }
}
