//! TLS: the server name, ALPN and ECH flag of the ClientHello, however many
//! segments it spans.

use super::{skip_server_bytes, wait_for_more};
use crate::classify::verdict::Evidence;
use crate::inspect::tls::{self, StreamHello};
use crate::inspect::{
    Direction, Finding, FlowContext, FlowFinding, Inspector, Probe, Progress, Registration, Report, Transport,
};

pub const REGISTRATION: Registration =
    Registration { name: "tls", transport: Transport::Tcp, probe, start: |_| Box::new(ClientHello::default()) };

/// Shorter first payloads cannot be told from stray bytes.
const MIN_PROBE: usize = 6;

fn probe(_: FlowContext, dir: Direction, data: &[u8]) -> Probe {
    if dir != Direction::FromClient {
        Probe::Reject
    } else if tls::looks_like_handshake_record(data) {
        Probe::Accept
    } else if data.len() < MIN_PROBE {
        Probe::Unsure
    } else {
        Probe::Reject
    }
}

/// Reads the ClientHello at the start of the stream it is fed: the TLS
/// inspector itself, and the last step of a preamble (STARTTLS and the
/// like), which hands it the stream once the plaintext part is consumed.
#[derive(Default)]
pub struct ClientHello {
    server_bytes: usize,
}

impl Inspector for ClientHello {
    fn feed(&mut self, dir: Direction, data: &[u8], report: &mut Report<'_>) -> Progress {
        if let Some(progress) = skip_server_bytes(&mut self.server_bytes, dir, data) {
            return progress;
        }
        match tls::client_hello_from_stream(data) {
            StreamHello::Hello(hello) => {
                report_hello(&hello, Evidence::TlsSni, report);
                Progress::Done
            }
            StreamHello::NeedMore { .. } => wait_for_more(data),
            _ => Progress::Done,
        }
    }
}

/// Reports a ClientHello's ECH flag, name and ALPN, then the hello itself (shared with QUIC, whose
/// CRYPTO frames carry the same message).
pub fn report_hello(hello: &tls::ClientHello, evidence: Evidence, report: &mut Report<'_>) {
    // First, so that the name is weighed knowing the hello used ECH.
    if hello.ech {
        report(Finding::Flow(FlowFinding::EncryptedHello));
    }
    if let Some(name) = hello.sni.as_deref() {
        report(Finding::Flow(FlowFinding::ServerName { evidence, name }));
    }
    if let Some(alpn) = hello.alpn.as_deref() {
        report(Finding::Flow(FlowFinding::Alpn(alpn)));
    }
    report(Finding::Flow(FlowFinding::ClientHello));
}
