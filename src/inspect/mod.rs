//! Inspect: application-layer evidence from the first packets of a flow.
//!
//! Only the packets that can carry evidence are looked at: a flow's first
//! few client payloads (TLS ClientHello, HTTP request head, QUIC Initial)
//! and DNS messages. Once a flow has given what it can, its [`Inspector`]
//! is done and later packets cost nothing here.

pub mod dns;
pub mod http;
pub mod quic;
mod stream;
pub mod tls;

use crate::classify::verdict::Evidence;
use crate::decode::{IPPROTO_TCP, IPPROTO_UDP, Packet};
use stream::StreamAssembler;

/// Packets of a flow (either direction) after which inspection stops:
/// hellos and request heads come first, so later packets add only cost.
const MAX_INSPECTED_PACKETS: u8 = 16;
/// Shorter first payloads are neither a TLS record header nor a request line.
const MIN_APPLICATION_PAYLOAD: usize = 6;

/// What inspection found in a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A name the client asked for (SNI, Host).
    Name { evidence: Evidence, name: Box<str> },
    /// A ClientHello with Encrypted ClientHello: its outer SNI names the
    /// cover service, not the destination, so it is never attributed.
    EncryptedHello { outer_sni: Option<Box<str>> },
}

enum State {
    Fresh,
    Tls(Box<StreamAssembler>),
    Quic(Box<quic::ClientInitials>),
    Done,
}

/// Per-flow inspection state.
pub struct Inspector {
    state: State,
    packets: u8,
    /// QUIC packets whose decryption failed or were skipped after giving up.
    quic_skipped: u64,
}

impl Inspector {
    pub fn new(protocol: u8) -> Self {
        let state = if protocol == IPPROTO_TCP || protocol == IPPROTO_UDP { State::Fresh } else { State::Done };
        Inspector { state, packets: 0, quic_skipped: 0 }
    }

    /// Nothing more will be learned from this flow.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    pub fn quic_skipped(&self) -> u64 {
        self.quic_skipped
    }

    /// Looks at one packet. `client_isn` is the client's initial sequence
    /// number when its SYN was seen.
    pub fn on_packet(&mut self, p: &Packet<'_>, from_client: bool, client_isn: Option<u32>) -> Option<Finding> {
        if self.is_done() {
            return None;
        }
        self.packets += 1;
        if self.packets > MAX_INSPECTED_PACKETS {
            self.finish();
            return None;
        }
        if !from_client || p.payload.is_empty() {
            return None;
        }
        let (state, finding) = match std::mem::replace(&mut self.state, State::Done) {
            State::Fresh if p.protocol == IPPROTO_TCP => self.first_tcp_payload(p, client_isn),
            State::Fresh => first_udp_payload(p.payload),
            State::Tls(mut stream) => {
                let starts = tls::looks_like_handshake_record(p.payload);
                if stream.add(p.tcp_seq, p.payload, starts) { tls_progress(stream) } else { (State::Done, None) }
            }
            State::Quic(mut initials) => {
                let (keep, finding) = quic_progress(&mut initials, p.payload);
                self.quic_skipped = initials.skipped();
                (if keep { State::Quic(initials) } else { State::Done }, finding)
            }
            State::Done => (State::Done, None),
        };
        self.state = state;
        finding
    }

    fn first_tcp_payload(&mut self, p: &Packet<'_>, client_isn: Option<u32>) -> (State, Option<Finding>) {
        let stream_start = client_isn.map(|isn| isn.wrapping_add(1));
        if tls::looks_like_handshake_record(p.payload) || stream_start.is_some_and(|s| s != p.tcp_seq) {
            // A hello, or a segment that overtook the stream's first one.
            let mut stream = Box::new(StreamAssembler::new(stream_start));
            if !stream.add(p.tcp_seq, p.payload, tls::looks_like_handshake_record(p.payload)) {
                return (State::Done, None);
            }
            return tls_progress(stream);
        }
        if http::is_request_start(p.payload) {
            let host = http::parse_request_head(p.payload).and_then(|h| h.host);
            let finding = host.map(|h| Finding::Name { evidence: Evidence::HttpHost, name: h.into() });
            return (State::Done, finding);
        }
        // A few stray bytes (a keep-alive, an ACK with padding counted as
        // data) are not the start of the request: wait for real data.
        if p.payload.len() < MIN_APPLICATION_PAYLOAD {
            return (State::Fresh, None);
        }
        (State::Done, None)
    }

    fn finish(&mut self) {
        if let State::Quic(initials) = &self.state {
            self.quic_skipped = initials.skipped();
        }
        self.state = State::Done;
    }
}

fn first_udp_payload(payload: &[u8]) -> (State, Option<Finding>) {
    if !quic::looks_like_client_initial(payload) {
        return (State::Done, None);
    }
    let mut initials = Box::new(quic::ClientInitials::new());
    let (keep, finding) = quic_progress(&mut initials, payload);
    if keep {
        return (State::Quic(initials), finding);
    }
    (State::Done, finding)
}

fn tls_progress(stream: Box<StreamAssembler>) -> (State, Option<Finding>) {
    match tls::client_hello_from_stream(stream.contiguous()) {
        tls::StreamHello::Hello(hello) => (State::Done, hello_finding(hello, Evidence::TlsSni)),
        tls::StreamHello::NeedMore { .. } if stream.contiguous().len() < stream::MAX_STREAM_PREFIX => {
            (State::Tls(stream), None)
        }
        _ => (State::Done, None),
    }
}

/// Feeds one datagram; returns whether the tracker is still needed.
fn quic_progress(initials: &mut quic::ClientInitials, payload: &[u8]) -> (bool, Option<Finding>) {
    match initials.on_datagram(payload) {
        quic::Progress::Hello(bytes) => {
            (false, tls::parse_client_hello_message(bytes).ok().and_then(|h| hello_finding(h, Evidence::QuicSni)))
        }
        // NotQuic also covers an Initial that failed to decrypt: the tracker
        // bounds its own attempts and gives up, so keep it until then.
        quic::Progress::NeedMore | quic::Progress::NotQuic => (true, None),
        quic::Progress::GaveUp(_) => (false, None),
    }
}

fn hello_finding(hello: tls::ClientHello, evidence: Evidence) -> Option<Finding> {
    if hello.ech {
        return Some(Finding::EncryptedHello { outer_sni: hello.sni });
    }
    hello.sni.map(|name| Finding::Name { evidence, name })
}
