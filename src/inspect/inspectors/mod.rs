//! Adapters from the `proto` parsers to the inspector contract, one per
//! protocol.

mod announcements;
pub mod dhcp;
pub mod dhcpv6;
pub mod dhip;
pub mod dns;
pub mod http;
mod mdns;
pub mod preamble;
pub mod quic;
pub mod sadp;
pub mod ssdp;
pub mod stun;
pub mod tls;
pub mod ws_discovery;

use super::stream::MAX_HELD;
use super::{Direction, Progress};

/// For inspectors that read one message from the client: what to do with
/// the server's bytes while the client's message is incomplete. A server
/// answers a whole message, so once it has sent more than a message's worth
/// the client's bytes were lost to the capture.
fn skip_server_bytes(seen: &mut usize, dir: Direction, data: &[u8]) -> Option<Progress> {
    if dir != Direction::ToClient {
        return None;
    }
    *seen = seen.saturating_add(data.len());
    Some(if *seen > MAX_HELD { Progress::Done } else { Progress::More { consumed: data.len() } })
}

/// For a message that may need more bytes: wait while it can still fit.
fn wait_for_more(held: &[u8]) -> Progress {
    if held.len() >= MAX_HELD { Progress::Done } else { Progress::More { consumed: 0 } }
}

/// A client's User-Agent says something of the flow (evidence
/// `http_user_agent`) and of the client host (what device and OS it is).
fn report_user_agent(agent: &str, report: &mut super::Report<'_>) {
    use super::{Finding, FlowFinding, HostFact, Side};
    report(Finding::Flow(FlowFinding::UserAgent(agent)));
    report(Finding::Host { side: Side::Client, fact: HostFact::UserAgent(agent) });
}
