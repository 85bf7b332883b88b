//! HTTP/1.x: the Host a request names and its User-Agent, however many
//! segments the request head spans; then the Server header of the
//! response head, which names the server's software (a camera's web
//! server, `Hikvision-Webs`).

use super::{skip_server_bytes, wait_for_more};
use crate::classify::encrypted_dns::DNS_MESSAGE_MEDIA_TYPE;
use crate::classify::verdict::Evidence;
use crate::inspect::heads::Head;
use crate::inspect::http;
use crate::inspect::{
    Direction, Finding, FlowContext, FlowFinding, HostFact, Inspector, Probe, Progress, Registration, Report, Side,
    Transport,
};

pub const REGISTRATION: Registration =
    Registration { name: "http", transport: Transport::Tcp, probe, start: |_| Box::new(RequestHead::default()) };

fn probe(_: FlowContext, dir: Direction, data: &[u8]) -> Probe {
    if dir == Direction::FromClient && http::is_request_start(data) { Probe::Accept } else { Probe::Reject }
}

#[derive(Default)]
struct RequestHead {
    server_bytes: usize,
    /// The request was read: only the response head is still of interest.
    requested: bool,
}

impl Inspector for RequestHead {
    fn feed(&mut self, dir: Direction, data: &[u8], report: &mut Report<'_>) -> Progress {
        if self.requested {
            return response(dir, data, report);
        }
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
                    super::report_user_agent(user_agent, report);
                }
                if let Some(name) = head.host {
                    report(Finding::Flow(FlowFinding::ServerName { evidence: Evidence::HttpHost, name }));
                }
                if Head::new_checked(data).is_some_and(|head| is_dns_message_request(&head)) {
                    report(Finding::Flow(FlowFinding::DnsMessageRequest));
                }
                self.requested = true;
                // The flow's attribution is settled; the response's head may follow.
                Progress::Watching { consumed: data.len() }
            }
            _ if complete => Progress::Done,
            _ => wait_for_more(data),
        }
    }
}

/// A DoH request (RFC 8484 §4.1): a POST's `Content-Type` or a GET's
/// `Accept` is the DNS message media type.
fn is_dns_message_request(head: &Head<'_>) -> bool {
    let is_dns_message =
        |media: &str| media.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case(DNS_MESSAGE_MEDIA_TYPE));
    ["content-type", "accept"]
        .into_iter()
        .filter_map(|name| head.header(name))
        .any(|v| v.split(',').any(is_dns_message))
}

/// After the request: more client bytes are passed over, the response
/// head is read for its Server header.
fn response(dir: Direction, data: &[u8], report: &mut Report<'_>) -> Progress {
    if dir == Direction::FromClient {
        return Progress::Watching { consumed: data.len() };
    }
    let complete = data.windows(4).any(|w| w == b"\r\n\r\n");
    match Head::new_checked(data).filter(Head::is_response) {
        Some(head) => match head.header("server") {
            Some(server) => {
                report(Finding::Host { side: Side::Server, fact: HostFact::HttpServer(server) });
                Progress::Done
            }
            None if complete => Progress::Done,
            None => match wait_for_more(data) {
                Progress::More { consumed } => Progress::Watching { consumed },
                other => other,
            },
        },
        None if data.len() < 16 && !data.contains(&b'\n') => Progress::Watching { consumed: 0 },
        None => Progress::Done,
    }
}
