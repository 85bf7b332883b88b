//! HTTP/1.x: the Host a request names and its User-Agent, however many
//! segments the request head spans.

use super::{skip_server_bytes, wait_for_more};
use crate::classify::verdict::Evidence;
use crate::inspect::http;
use crate::inspect::{
    Direction, Finding, FlowContext, FlowFinding, Inspector, Probe, Progress, Registration, Report, Transport,
};

pub const REGISTRATION: Registration =
    Registration { name: "http", transport: Transport::Tcp, probe, start: |_| Box::new(RequestHead::default()) };

fn probe(_: &FlowContext, dir: Direction, data: &[u8]) -> Probe {
    if dir == Direction::FromClient && http::is_request_start(data) { Probe::Accept } else { Probe::Reject }
}

#[derive(Default)]
struct RequestHead {
    server_bytes: usize,
}

impl Inspector for RequestHead {
    fn feed(&mut self, dir: Direction, data: &[u8], report: &mut Report<'_>) -> Progress {
        if let Some(progress) = skip_server_bytes(&mut self.server_bytes, dir, data) {
            return progress;
        }
        let head = http::parse_request_head(data);
        // The blank line ends the head, CRLF or bare LF (RFC 9112 §2.2).
        let complete = data.windows(2).any(|w| w == b"\n\n") || data.windows(3).any(|w| w == b"\n\r\n");
        // The Host may come in a later segment than the request line.
        match head {
            Some(head) if head.host.is_some() || complete => {
                if let Some(user_agent) = head.user_agent {
                    report(Finding::Flow(FlowFinding::UserAgent(user_agent)));
                }
                if let Some(name) = head.host {
                    report(Finding::Flow(FlowFinding::ServerName { evidence: Evidence::HttpHost, name }));
                }
                Progress::Done
            }
            _ if complete => Progress::Done,
            _ => wait_for_more(data),
        }
    }
}
