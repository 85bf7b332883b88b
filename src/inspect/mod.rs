//! Inspect: application-layer evidence from the first packets of a flow.
//!
//! Only the packets that can carry evidence are looked at: a flow's first
//! few client payloads (TLS ClientHello, HTTP request head, QUIC Initial)
//! and DNS messages. Once a flow has given what it can, its [`Inspector`]
//! is done and later packets cost nothing here.

mod stream;

pub use proto::{dns, http, quic, tls};

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

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
    /// A TCP client stream being reassembled until its ClientHello or
    /// request head is complete.
    Stream(Box<StreamAssembler>),
    Quic(Box<quic::ClientInitials>),
    Done,
}

/// Memory one worker's flows may hold while reassembling a ClientHello, a
/// request head or QUIC CRYPTO data. Each flow has its own bound (16 KiB);
/// this one bounds them together, so a flood of half-sent hellos costs at
/// most the budget, not 16 KiB times the flow table.
#[derive(Debug, Clone)]
pub struct InspectBudget {
    free: Arc<AtomicUsize>,
}

/// What one reassembling flow reserves: the most its buffers can hold.
const STREAM_RESERVATION: usize = stream::MAX_STREAM_PREFIX;
const QUIC_RESERVATION: usize = quic::MAX_CRYPTO + 4 * 1024;

impl InspectBudget {
    /// 64 MiB: 4,096 flows reassembling at once, far more than hellos in
    /// flight on a busy link.
    pub const DEFAULT_BYTES: usize = 64 << 20;

    pub fn new(bytes: usize) -> Self {
        InspectBudget { free: Arc::new(AtomicUsize::new(bytes)) }
    }

    fn reserve(&self, bytes: usize) -> Option<Reservation> {
        self.free
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |free| free.checked_sub(bytes))
            .ok()
            .map(|_| Reservation { free: self.free.clone(), bytes })
    }
}

impl Default for InspectBudget {
    fn default() -> Self {
        InspectBudget::new(InspectBudget::DEFAULT_BYTES)
    }
}

/// Budget held by one flow; given back when the flow stops reassembling
/// or ends.
#[derive(Debug)]
struct Reservation {
    free: Arc<AtomicUsize>,
    bytes: usize,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.free.fetch_add(self.bytes, Ordering::Relaxed);
    }
}

/// Per-flow inspection state.
pub struct Inspector {
    state: State,
    packets: u8,
    /// QUIC packets whose decryption failed or were skipped after giving up.
    quic_skipped: u64,
    reservation: Option<Reservation>,
    /// Reassembly was refused because the budget was spent.
    refused: bool,
}

impl Inspector {
    pub fn new(protocol: u8) -> Self {
        let state = if protocol == IPPROTO_TCP || protocol == IPPROTO_UDP { State::Fresh } else { State::Done };
        Inspector { state, packets: 0, quic_skipped: 0, reservation: None, refused: false }
    }

    /// Nothing more will be learned from this flow.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    pub fn quic_skipped(&self) -> u64 {
        self.quic_skipped
    }

    /// Whether reassembly was refused for want of budget.
    pub fn refused(&self) -> bool {
        self.refused
    }

    /// Looks at one packet. `client_isn` is the client's initial sequence
    /// number when its SYN was seen.
    pub fn on_packet(
        &mut self,
        p: &Packet<'_>,
        from_client: bool,
        client_isn: Option<u32>,
        budget: &InspectBudget,
    ) -> Option<Finding> {
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
        // Data on a SYN (TCP Fast Open) starts after the SYN's own sequence number.
        let syn = p.tcp_flags & crate::decode::tcp::SYN != 0;
        let seq = if syn { p.tcp_seq.wrapping_add(1) } else { p.tcp_seq };
        let p = &Packet { tcp_seq: seq, ..*p };
        let (state, finding) = match std::mem::replace(&mut self.state, State::Done) {
            State::Fresh if p.protocol == IPPROTO_TCP => self.first_tcp_payload(p, client_isn),
            State::Fresh => first_udp_payload(p.payload),
            State::Stream(mut stream) => {
                if stream.add(p.tcp_seq, p.payload, starts_application(p.payload)) {
                    stream_progress(stream)
                } else {
                    (State::Done, None)
                }
            }
            State::Quic(mut initials) => {
                let (keep, finding) = quic_progress(&mut initials, p.payload);
                self.quic_skipped = initials.skipped();
                (if keep { State::Quic(initials) } else { State::Done }, finding)
            }
            State::Done => (State::Done, None),
        };
        self.state = state;
        // Buffers held across packets need budget; without it the flow is
        // attributed by what it already has (DNS, address).
        let needed = match self.state {
            State::Stream(_) => STREAM_RESERVATION,
            State::Quic(_) => QUIC_RESERVATION,
            State::Fresh | State::Done => 0,
        };
        if needed == 0 {
            self.reservation = None;
        } else if self.reservation.is_none() {
            self.reservation = budget.reserve(needed);
            if self.reservation.is_none() {
                self.refused = true;
                self.finish();
            }
        }
        finding
    }

    fn first_tcp_payload(&mut self, p: &Packet<'_>, client_isn: Option<u32>) -> (State, Option<Finding>) {
        let stream_start = client_isn.map(|isn| isn.wrapping_add(1));
        let starts = starts_application(p.payload);
        // A segment that overtook the stream's first one waits for it.
        let overtook = stream_start.is_some_and(|s| s != p.tcp_seq);
        if !starts && !overtook {
            // A few stray bytes (a keep-alive, an ACK with padding counted
            // as data) are not the start of the request: wait for real data.
            let state = if p.payload.len() < MIN_APPLICATION_PAYLOAD { State::Fresh } else { State::Done };
            return (state, None);
        }
        // The common case, a whole hello or request head in one segment,
        // needs no buffer.
        if starts && !overtook {
            let (state, finding) = read_first_segment(p.payload);
            if finding.is_some() || matches!(state, State::Done) {
                return (state, finding);
            }
        }
        let mut stream = Box::new(StreamAssembler::new(stream_start));
        if !stream.add(p.tcp_seq, p.payload, starts) {
            return (State::Done, None);
        }
        stream_progress(stream)
    }

    /// Stops inspecting this flow.
    pub fn finish(&mut self) {
        if let State::Quic(initials) = &self.state {
            self.quic_skipped = initials.skipped();
        }
        self.state = State::Done;
        self.reservation = None;
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

/// Reads a first segment that holds the whole hello or head; `Fresh` when
/// it needs more segments.
fn read_first_segment(payload: &[u8]) -> (State, Option<Finding>) {
    if tls::looks_like_handshake_record(payload) {
        return match tls::client_hello_from_stream(payload) {
            tls::StreamHello::Hello(hello) => (State::Done, hello_finding(hello, Evidence::TlsSni)),
            tls::StreamHello::NeedMore { .. } => (State::Fresh, None),
            _ => (State::Done, None),
        };
    }
    match http::parse_request_head(payload).and_then(|h| h.host) {
        Some(host) => (State::Done, Some(Finding::Name { evidence: Evidence::HttpHost, name: host.into() })),
        None if payload.windows(4).any(|w| w == b"\r\n\r\n") => (State::Done, None),
        None => (State::Fresh, None),
    }
}

/// Whether a payload can start a stream we read: a TLS handshake record or
/// an HTTP request line.
fn starts_application(payload: &[u8]) -> bool {
    tls::looks_like_handshake_record(payload) || http::is_request_start(payload)
}

/// Reads the reassembled start of a client stream: a ClientHello (which may
/// span segments) or an HTTP request head (whose Host may come in a later
/// segment than the request line).
fn stream_progress(stream: Box<StreamAssembler>) -> (State, Option<Finding>) {
    let bytes = stream.contiguous();
    let room_left = bytes.len() < stream::MAX_STREAM_PREFIX;
    if bytes.is_empty() {
        return (State::Stream(stream), None);
    }
    if tls::looks_like_handshake_record(bytes) {
        return match tls::client_hello_from_stream(bytes) {
            tls::StreamHello::Hello(hello) => (State::Done, hello_finding(hello, Evidence::TlsSni)),
            tls::StreamHello::NeedMore { .. } if room_left => (State::Stream(stream), None),
            _ => (State::Done, None),
        };
    }
    if http::is_request_start(bytes) {
        if let Some(host) = http::parse_request_head(bytes).and_then(|h| h.host) {
            return (State::Done, Some(Finding::Name { evidence: Evidence::HttpHost, name: host.into() }));
        }
        let head_complete = bytes.windows(4).any(|w| w == b"\r\n\r\n");
        return if head_complete || !room_left { (State::Done, None) } else { (State::Stream(stream), None) };
    }
    (State::Done, None)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Vlans;
    use synth::app;

    const ISN: u32 = 1000;

    fn segment(seq: u32, payload: &[u8]) -> Packet<'_> {
        Packet {
            src: "10.0.0.1".parse().unwrap(),
            dst: "17.1.1.1".parse().unwrap(),
            protocol: IPPROTO_TCP,
            src_port: 50000,
            dst_port: 80,
            tcp_flags: crate::decode::tcp::ACK,
            tcp_seq: seq,
            payload,
            vlans: Vlans::default(),
            encap: Default::default(),
            outer_len: 0,
        }
    }

    /// Feeds `(offset, bytes)` segments of one client stream in the given order.
    fn feed(segments: &[(usize, &[u8])]) -> (Option<Finding>, bool) {
        let mut inspector = Inspector::new(IPPROTO_TCP);
        let mut found = None;
        for (offset, bytes) in segments {
            let p = segment(ISN + 1 + *offset as u32, bytes);
            if let Some(f) = inspector.on_packet(&p, true, Some(ISN), &InspectBudget::default()) {
                found = Some(f);
            }
        }
        (found, inspector.is_done())
    }

    fn host(name: &str) -> Option<Finding> {
        Some(Finding::Name { evidence: Evidence::HttpHost, name: name.into() })
    }

    #[test]
    fn reassembly_stops_when_the_budget_is_spent_and_resumes_when_freed() {
        let budget = InspectBudget::new(STREAM_RESERVATION + 100);
        let record = app::tls_client_hello(&app::Hello::sni("gateway.icloud.com"));
        let (a, b) = record.split_at(100);
        let mut first = Inspector::new(IPPROTO_TCP);
        assert_eq!(first.on_packet(&segment(ISN + 1, a), true, Some(ISN), &budget), None);
        assert!(!first.is_done(), "the first flow holds the budget");
        let mut second = Inspector::new(IPPROTO_TCP);
        assert_eq!(second.on_packet(&segment(ISN + 1, a), true, Some(ISN), &budget), None);
        assert!(second.is_done() && second.refused(), "no budget left for a second flow");
        let found = first.on_packet(&segment(ISN + 101, b), true, Some(ISN), &budget);
        assert_eq!(found, Some(Finding::Name { evidence: Evidence::TlsSni, name: "gateway.icloud.com".into() }));
        let mut giving_up = Inspector::new(IPPROTO_TCP);
        giving_up.on_packet(&segment(ISN + 1, a), true, Some(ISN), &budget);
        for _ in 0..MAX_INSPECTED_PACKETS {
            giving_up.on_packet(&segment(ISN + 1, b""), false, Some(ISN), &budget);
        }
        assert!(giving_up.is_done(), "a flow that never completes its hello stops after the packet bound");
        let mut third = Inspector::new(IPPROTO_TCP);
        third.on_packet(&segment(ISN + 1, a), true, Some(ISN), &budget);
        assert!(!third.is_done(), "the first flow gave its budget back when done");
        drop(third);
        assert_eq!(budget.free.load(Ordering::Relaxed), STREAM_RESERVATION + 100, "an ended flow gives it back too");
    }

    #[test]
    fn an_http_head_split_before_its_host_is_reassembled() {
        let get = app::http_get("swcdn.apple.com", "/x");
        let (a, b) = get.split_at(10);
        assert_eq!(feed(&[(0, a), (10, b)]), (host("swcdn.apple.com"), true));
        assert_eq!(feed(&[(10, b), (0, a)]), (host("swcdn.apple.com"), true), "second half overtook the first");
    }

    #[test]
    fn a_head_without_host_ends_inspection() {
        assert_eq!(feed(&[(0, b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n")]), (None, true));
    }

    #[test]
    fn stray_bytes_before_the_request_do_not_end_inspection() {
        let get = app::http_get("www.apple.com", "/");
        assert_eq!(feed(&[(0, b"\0\0"), (0, &get)]), (host("www.apple.com"), true));
        assert_eq!(feed(&[(0, b"SSH-2.0-OpenSSH_9.6\r\n")]), (None, true), "other protocols end inspection at once");
    }

    #[test]
    fn a_hello_overtaken_by_its_second_segment() {
        let record = app::tls_client_hello(&app::Hello::sni("gateway.icloud.com"));
        let (a, b) = record.split_at(record.len() / 2);
        let (found, done) = feed(&[(a.len(), b), (0, a)]);
        assert_eq!(found, Some(Finding::Name { evidence: Evidence::TlsSni, name: "gateway.icloud.com".into() }));
        assert!(done);
    }
}
