//! Inspect: application-layer evidence from a flow's payloads.
//!
//! Every application protocol plugs in through one contract: a
//! [`Registration`] (its name, transport, a probe of a flow's first payload
//! in either direction, and a constructor) and an [`Inspector`] that is fed
//! that direction's bytes and reports [`Finding`]s. [`registry::REGISTRY`]
//! lists them; [`Inspection`], the per-flow driver, knows that list, not the
//! protocols. TCP streams are reassembled here, in one place, for every
//! inspector and both directions, within a per-flow bound and a shared
//! [`InspectBudget`]. Once a flow has told what it can, its inspection is
//! done and later packets cost nothing here.
//!
//! Adding a protocol: its parser in `proto`, its adapter in
//! `inspect/inspectors/`, one line in [`registry::REGISTRY`], a fuzz target
//! and a fixture.

pub use proto::{dhcp, discovery, dns, heads, http, mdns, quic, stun, tls};

mod budget;
mod inspectors;
pub mod registry;
mod stream;

use std::net::{IpAddr, SocketAddr};

pub use budget::InspectBudget;
use budget::Reservation;
use stream::{Placed, Stream};

use crate::classify::verdict::Evidence;
use crate::decode::{IPPROTO_TCP, IPPROTO_UDP};

/// Which way a payload travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the flow's initiator.
    FromClient,
    /// To the flow's initiator.
    ToClient,
}

impl Direction {
    /// 0 for [`Direction::FromClient`], 1 for [`Direction::ToClient`], as the
    /// flow's per-direction counters are indexed.
    pub fn index(self) -> usize {
        match self {
            Direction::FromClient => 0,
            Direction::ToClient => 1,
        }
    }
}

/// What an inspector knows of its flow besides the payloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowContext {
    /// IP protocol number (TCP or UDP).
    pub protocol: u8,
    /// The port of the end that sent the flow's first packet.
    pub client_port: u16,
    /// The port of the other end.
    pub server_port: u16,
}

impl FlowContext {
    /// Whether either end uses `port` (mDNS and similar peer protocols use
    /// the same port on both ends).
    pub fn has_port(&self, port: u16) -> bool {
        self.client_port == port || self.server_port == port
    }
}

/// A probe's answer about a flow's first payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// This protocol: start its inspector with this payload.
    Accept,
    /// Not this protocol.
    Reject,
    /// Too little to tell; ask again with the next payload.
    Unsure,
}

/// What an inspector wants after a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Feed more. For a TCP stream, the first `consumed` bytes were read and
    /// are dropped; the rest are given again with what follows them.
    More {
        /// Bytes read and done with (always 0 for a datagram).
        consumed: usize,
    },
    /// Like `More`, but the flow's attribution no longer depends on what
    /// comes (a DNS flow reads every message but is a lookup whatever they
    /// say): the flow's counters may be exported while it runs.
    Watching {
        /// Bytes read and done with, as in `More`.
        consumed: usize,
    },
    /// Nothing more to learn from this flow.
    Done,
}

/// Which end of the flow a host fact is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The end that sent the flow's first packet.
    Client,
    /// The other end.
    Server,
}

impl Side {
    /// The side that sent a payload travelling in `dir`.
    pub fn sender(dir: Direction) -> Side {
        match dir {
            Direction::FromClient => Side::Client,
            Direction::ToClient => Side::Server,
        }
    }
}

/// Something an inspector learned, with its scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finding<'a> {
    /// About this flow.
    Flow(FlowFinding<'a>),
    /// About one of the flow's hosts, whatever flows it has.
    Host {
        /// Which of the flow's two hosts.
        side: Side,
        /// What was learned about it.
        fact: HostFact<'a>,
    },
}

/// A fact about one flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowFinding<'a> {
    /// The ClientHello carried an Encrypted ClientHello extension (real or
    /// GREASE); reported before the hello's server name.
    EncryptedHello,
    /// A name the client asked for (SNI, Host).
    ServerName {
        /// Where the name was read (Host header, TLS or QUIC SNI).
        evidence: Evidence,
        /// The name as sent, before normalisation.
        name: &'a str,
    },
    /// The first protocol the client offered by ALPN.
    Alpn(&'a str),
    /// The client's HTTP User-Agent.
    UserAgent(&'a str),
    /// A DNS message's question. `local`: multicast DNS or LLMNR, names on
    /// the LAN rather than a lookup of a service.
    DnsQuestion {
        /// The question's name.
        name: &'a str,
        /// Read from a response rather than a query.
        response: bool,
        /// Multicast DNS or LLMNR.
        local: bool,
    },
    /// An address a DNS response gave for its question's name (through any
    /// CNAME chain), with the record's TTL.
    DnsAnswer {
        /// The question's name the address answers.
        name: &'a str,
        /// An A or AAAA record's address.
        addr: IpAddr,
        /// The record's TTL, in seconds.
        ttl: u32,
    },
    /// The SOFTWARE attribute of a STUN message: the agent and version.
    StunSoftware(&'a str),
    /// A vendor-specific STUN attribute type (0x8000 and above, not the
    /// IETF's).
    StunAttribute(u16),
    /// QUIC packets that could not be decrypted or came past the bound.
    QuicPacketsSkipped(u64),
    /// A DNS response's HTTPS/SVCB record for its question's name carries
    /// an ECH configuration: the name is reached with real Encrypted
    /// ClientHello, so its flows' SNI names only the provider.
    DnsEchConfig {
        /// The question's name the record answers.
        name: &'a str,
    },
    /// A TLS ClientHello was read (over TCP or in QUIC's CRYPTO frames);
    /// reported after its ECH flag, name and ALPN.
    ClientHello,
    /// An HTTP request carrying or asking for `application/dns-message`
    /// (RFC 8484): DNS over HTTP.
    DnsMessageRequest,
    /// A transport address a STUN message carries (XOR-MAPPED-ADDRESS,
    /// XOR-PEER-ADDRESS, XOR-RELAYED-ADDRESS): where the call's media may go.
    StunCandidate(SocketAddr),
}

/// A fact about a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostFact<'a> {
    /// A name the host announced for itself (mDNS, LLMNR, DHCP).
    Hostname(&'a str),
    /// An address the host holds or asks for (DHCP), reported before the
    /// host's other facts from the same message: a client without an
    /// address yet is known by it.
    Address(IpAddr),
    /// A DHCPv4 vendor class (option 60) or DHCPv6 vendor class (option 16).
    DhcpVendorClass(&'a str),
    /// A DHCPv4 parameter request list (option 55): the client's option codes.
    DhcpRequestList(&'a [u8]),
    /// A DNS-SD service type the host announced (`_airplay._tcp`).
    MdnsService(&'a str),
    /// A model the host announced in an mDNS TXT record (`model=iPhone15,2`).
    MdnsModel(&'a str),
    /// The SERVER header of an SSDP announcement or answer.
    SsdpServer(&'a str),
    /// A WS-Discovery (ONVIF) answer's types and scopes.
    WsDiscovery {
        /// The `Types` element's text.
        types: &'a str,
        /// The `Scopes` element's text (ONVIF puts model and vendor there).
        scopes: &'a str,
    },
    /// The model a Hikvision SADP answer gives.
    Sadp {
        /// The `DeviceDescription` element's text.
        model: &'a str,
    },
    /// The model (and vendor field) a Dahua DHIP announcement gives.
    Dhip {
        /// The `DeviceType` field.
        model: &'a str,
        /// The `Vendor` field, when the announcement has one.
        vendor: Option<&'a str>,
    },
    /// The host's HTTP User-Agent, as a client.
    UserAgent(&'a str),
    /// The host's HTTP Server header, as a server.
    HttpServer(&'a str),
}

/// Where an inspector reports its findings.
pub type Report<'r> = dyn FnMut(Finding<'_>) + 'r;

/// One application protocol's inspector for one flow.
pub trait Inspector: Send {
    /// Takes the next bytes of `dir`: for TCP the stream from the first byte
    /// not yet consumed, for UDP one datagram.
    fn feed(&mut self, dir: Direction, data: &[u8], report: &mut Report<'_>) -> Progress;

    /// Bytes the inspector itself holds across payloads, charged to the
    /// shared budget (stream bytes are charged by the driver).
    fn reserved(&self) -> usize {
        0
    }

    /// The flow's inspection ends: report what is still owed.
    fn finish(&mut self, _report: &mut Report<'_>) {}
}

/// Which transports a protocol runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TCP streams only.
    Tcp,
    /// UDP datagrams only.
    Udp,
    /// Either (DNS, for one).
    Both,
}

impl Transport {
    fn carries(self, protocol: u8) -> bool {
        match self {
            Transport::Tcp => protocol == IPPROTO_TCP,
            Transport::Udp => protocol == IPPROTO_UDP,
            Transport::Both => protocol == IPPROTO_TCP || protocol == IPPROTO_UDP,
        }
    }
}

/// One protocol in the registry.
pub struct Registration {
    /// Short name, as in diagnostics.
    pub name: &'static str,
    /// The transports its flows are probed on; others are never offered.
    pub transport: Transport,
    /// Looks at a flow's first payload (or, while earlier probes were
    /// unsure, a later one) in either direction; cheap, no allocation.
    pub probe: fn(FlowContext, Direction, &[u8]) -> Probe,
    /// Starts the inspector for an accepted flow.
    pub start: fn(FlowContext) -> Box<dyn Inspector>,
}

/// Payloads every probe was unsure about before inspection gives up: a few
/// stray bytes (keep-alives, padding counted as data) may come first.
const MAX_UNSURE_PAYLOADS: u8 = 4;

/// Per-flow inspection state.
pub struct Inspection {
    state: State,
    /// Reassembly or inspector memory was refused: the budget was spent.
    refused: bool,
    /// A direction's stream reached its bound ([`stream::MAX_HELD`] bytes
    /// or its out-of-order segments) before the inspector had its message.
    overflowed: bool,
}

enum State {
    /// No inspector has accepted the flow yet.
    Probing {
        unsure: u8,
        server_rejected: bool,
    },
    Active(Box<Active>),
    Done,
}

struct Active {
    /// `None` while the direction's first bytes wait for a segment that was
    /// overtaken.
    inspector: Option<Box<dyn Inspector>>,
    streams: [Stream; 2],
    watching: bool,
    reservation: Option<Reservation>,
}

/// A TCP payload as the driver needs it.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    /// Which way the payload travels.
    pub dir: Direction,
    /// Sequence number of the payload's first byte (after a SYN's own).
    pub seq: u32,
    /// The TCP payload.
    pub payload: &'a [u8],
    /// Sequence number of the direction's first stream byte, when its SYN
    /// was seen.
    pub stream_start: Option<u32>,
}

impl Inspection {
    /// Inspection for a flow of `protocol`; only TCP and UDP carry
    /// application payloads we read.
    pub fn new(protocol: u8) -> Self {
        let state = if protocol == IPPROTO_TCP || protocol == IPPROTO_UDP {
            State::Probing { unsure: 0, server_rejected: false }
        } else {
            State::Done
        };
        Inspection { state, refused: false, overflowed: false }
    }

    /// Nothing more will be learned from this flow.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// The flow's attribution will not change through inspection.
    pub fn is_settled(&self) -> bool {
        match &self.state {
            State::Done => true,
            State::Active(a) => a.watching,
            State::Probing { .. } => false,
        }
    }

    /// Whether inspection was cut short because the budget was spent.
    pub fn refused(&self) -> bool {
        self.refused
    }

    /// Whether inspection ended because a stream reached its bound.
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// Looks at one UDP datagram's payload.
    pub fn on_datagram(
        &mut self,
        ctx: &FlowContext,
        dir: Direction,
        payload: &[u8],
        budget: &InspectBudget,
        report: &mut Report<'_>,
    ) {
        if payload.is_empty() {
            return;
        }
        match &mut self.state {
            State::Done => {}
            State::Probing { .. } => {
                let Ok(mut inspector) = self.probe(*ctx, dir, payload) else { return };
                let progress = inspector.feed(dir, payload, report);
                self.started_with(inspector, [Stream::new(None), Stream::new(None)], progress, budget, report);
            }
            State::Active(active) => {
                let progress = match active.inspector.as_mut() {
                    Some(inspector) => inspector.feed(dir, payload, report),
                    None => Progress::Done,
                };
                self.progressed(progress, budget, report);
            }
        }
    }

    /// Looks at one TCP segment's payload.
    pub fn on_segment(&mut self, ctx: &FlowContext, s: Segment<'_>, budget: &InspectBudget, report: &mut Report<'_>) {
        if s.payload.is_empty() {
            return;
        }
        match &mut self.state {
            State::Done => {}
            State::Probing { .. } => {
                // A segment that overtook the direction's first one waits
                // for it: the probe must see the stream's start.
                let in_order = s.stream_start.is_none_or(|start| start == s.seq);
                if in_order {
                    let unsure = match self.probe(*ctx, s.dir, s.payload) {
                        Ok(inspector) => return self.start_tcp(inspector, s, budget, report),
                        Err(unsure) => unsure,
                    };
                    // Too few bytes to tell (a hello's first bytes cut
                    // short): hold them until the stream says more.
                    if !unsure {
                        return;
                    }
                }
                let mut streams = [Stream::new(None), Stream::new(None)];
                let stream = &mut streams[s.dir.index()];
                *stream = Stream::new(Some(s.stream_start.unwrap_or(s.seq)));
                if stream.add(s.seq, s.payload) == Placed::Overflow {
                    return self.overflow(report);
                }
                let active = Active { inspector: None, streams, watching: false, reservation: None };
                self.state = State::Active(Box::new(active));
                self.charge(budget, report);
            }
            State::Active(active) => {
                let stream = &mut active.streams[s.dir.index()];
                if let Some(start) = s.stream_start {
                    stream.expect_start(start);
                }
                let Some(inspector) = active.inspector.as_mut() else {
                    // Waiting for an overtaken first segment.
                    match stream.add(s.seq, s.payload) {
                        Placed::Overflow => return self.overflow(report),
                        Placed::Waiting => return self.charge(budget, report),
                        Placed::Ready => {}
                    }
                    let held = stream.held();
                    let mut inspector = match Self::probe_registry(*ctx, s.dir, held) {
                        Ok(inspector) => inspector,
                        Err(Probe::Unsure) => return self.charge(budget, report),
                        Err(_) => return self.finish(report),
                    };
                    let progress = inspector.feed(s.dir, held, report);
                    if let Some(n) = consumed(progress) {
                        stream.consume(n);
                    }
                    active.inspector = Some(inspector);
                    return self.progressed(progress, budget, report);
                };
                let progress = if stream.is_next(s.seq) {
                    // The common case: in order, nothing held; no copy.
                    let progress = inspector.feed(s.dir, s.payload, report);
                    if let Some(n) = consumed(progress) {
                        let rest = s.payload.get(n..).unwrap_or(&[]);
                        if stream.advance_past(s.seq, n, rest) == Placed::Overflow {
                            return self.overflow(report);
                        }
                    }
                    progress
                } else {
                    match stream.add(s.seq, s.payload) {
                        Placed::Overflow => return self.overflow(report),
                        Placed::Waiting => return self.charge(budget, report),
                        Placed::Ready => {}
                    }
                    let progress = inspector.feed(s.dir, stream.held(), report);
                    if let Some(n) = consumed(progress) {
                        stream.consume(n);
                    }
                    progress
                };
                self.progressed(progress, budget, report);
            }
        }
    }

    /// Ends inspection (the flow ends, or gave all it can).
    pub fn finish(&mut self, report: &mut Report<'_>) {
        if let State::Active(active) = std::mem::replace(&mut self.state, State::Done) {
            if let Some(mut inspector) = active.inspector {
                inspector.finish(report);
            }
        }
    }

    /// Ends inspection at a stream's bound: what the inspector waits for
    /// will not fit.
    fn overflow(&mut self, report: &mut Report<'_>) {
        self.overflowed = true;
        self.finish(report);
    }

    /// Runs the probes on a payload while probing: the accepted protocol's
    /// inspector, or whether the probes were unsure (and may see more).
    /// When all reject, inspection is done, unless only a server spoke: a
    /// banner may be followed by a client protocol we read.
    fn probe(&mut self, ctx: FlowContext, dir: Direction, payload: &[u8]) -> Result<Box<dyn Inspector>, bool> {
        let State::Probing { unsure, server_rejected } = &mut self.state else { return Err(false) };
        match Self::probe_registry(ctx, dir, payload) {
            Ok(inspector) => Ok(inspector),
            Err(Probe::Unsure) if *unsure < MAX_UNSURE_PAYLOADS => {
                *unsure += 1;
                Err(true)
            }
            Err(Probe::Reject) if dir == Direction::ToClient && !*server_rejected => {
                *server_rejected = true;
                Err(false)
            }
            Err(_) => {
                self.state = State::Done;
                Err(false)
            }
        }
    }

    /// Starts an accepted TCP flow's inspector on its first segment.
    fn start_tcp(
        &mut self,
        mut inspector: Box<dyn Inspector>,
        s: Segment<'_>,
        budget: &InspectBudget,
        report: &mut Report<'_>,
    ) {
        let progress = inspector.feed(s.dir, s.payload, report);
        let mut streams = [Stream::new(None), Stream::new(None)];
        if let Some(n) = consumed(progress) {
            let rest = s.payload.get(n..).unwrap_or(&[]);
            if streams[s.dir.index()].advance_past(s.seq, n, rest) == Placed::Overflow {
                inspector.finish(report);
                self.overflowed = true;
                return self.finish(report);
            }
        }
        self.started_with(inspector, streams, progress, budget, report);
    }

    /// The first registered protocol that accepts, or whether any was unsure.
    fn probe_registry(ctx: FlowContext, dir: Direction, payload: &[u8]) -> Result<Box<dyn Inspector>, Probe> {
        let mut answer = Probe::Reject;
        for r in registry::REGISTRY.iter().filter(|r| r.transport.carries(ctx.protocol)) {
            match (r.probe)(ctx, dir, payload) {
                Probe::Accept => return Ok((r.start)(ctx)),
                Probe::Unsure => answer = Probe::Unsure,
                Probe::Reject => {}
            }
        }
        Err(answer)
    }

    fn started_with(
        &mut self,
        mut inspector: Box<dyn Inspector>,
        streams: [Stream; 2],
        progress: Progress,
        budget: &InspectBudget,
        report: &mut Report<'_>,
    ) {
        if progress == Progress::Done {
            // The common case, a whole hello or request head in one
            // payload, needs no state at all.
            inspector.finish(report);
            self.state = State::Done;
            return;
        }
        let watching = matches!(progress, Progress::Watching { .. });
        let active = Active { inspector: Some(inspector), streams, watching, reservation: None };
        self.state = State::Active(Box::new(active));
        self.charge(budget, report);
    }

    fn progressed(&mut self, progress: Progress, budget: &InspectBudget, report: &mut Report<'_>) {
        match (progress, &mut self.state) {
            (Progress::Done, _) => self.finish(report),
            (Progress::Watching { .. }, State::Active(active)) => {
                active.watching = true;
                self.charge(budget, report);
            }
            _ => self.charge(budget, report),
        }
    }

    /// Holds budget for what the flow now keeps across payloads; without
    /// it the flow is attributed by what it already has (DNS, address).
    fn charge(&mut self, budget: &InspectBudget, report: &mut Report<'_>) {
        let State::Active(active) = &mut self.state else { return };
        let streams = active.streams.iter().filter(|s| !s.is_empty()).count() * stream::MAX_HELD;
        let needed = streams + active.inspector.as_ref().map_or(0, |i| i.reserved());
        let held = active.reservation.as_ref().map_or(0, Reservation::bytes);
        if needed == 0 {
            active.reservation = None;
        } else if needed > held {
            // Give back the old reservation first so a growing flow does
            // not need both at once.
            active.reservation = None;
            active.reservation = budget.reserve(needed);
            if active.reservation.is_none() {
                self.refused = true;
                self.finish(report);
            }
        }
    }
}

fn consumed(progress: Progress) -> Option<usize> {
    match progress {
        Progress::More { consumed } | Progress::Watching { consumed } => Some(consumed),
        Progress::Done => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use synth::app;

    const ISN: u32 = 1000;
    const HTTPS: FlowContext = FlowContext { protocol: IPPROTO_TCP, client_port: 50000, server_port: 443 };

    /// What a flow's inspection reported, as owned text, and whether it ended.
    #[derive(Debug, Default, PartialEq, Eq)]
    struct Seen {
        findings: Vec<String>,
        done: bool,
    }

    fn recorder(findings: &mut Vec<String>) -> impl FnMut(Finding<'_>) + '_ {
        |f| findings.push(format!("{f:?}"))
    }

    /// Feeds `(direction, stream offset, bytes)` TCP segments in order given.
    fn feed_tcp(ctx: FlowContext, segments: &[(Direction, usize, &[u8])], budget: &InspectBudget) -> Seen {
        let mut inspection = Inspection::new(IPPROTO_TCP);
        let mut findings = Vec::new();
        for &(dir, offset, payload) in segments {
            let start = ISN + 1;
            // usize::MAX stands for "one byte before the start".
            let seq = start.wrapping_add(u32::try_from(offset).unwrap_or(u32::MAX));
            let s = Segment { dir, seq, payload, stream_start: Some(start) };
            inspection.on_segment(&ctx, s, budget, &mut recorder(&mut findings));
        }
        Seen { findings, done: inspection.is_done() }
    }

    /// Feeds client segments; keeps only the server names found.
    fn client(segments: &[(usize, &[u8])]) -> Seen {
        let segments: Vec<_> = segments.iter().map(|&(o, b)| (Direction::FromClient, o, b)).collect();
        let mut seen = feed_tcp(HTTPS, &segments, &InspectBudget::default());
        seen.findings.retain(|f| f.contains("ServerName"));
        seen
    }

    fn name(evidence: Evidence, name: &str) -> String {
        format!("{:?}", Finding::Flow(FlowFinding::ServerName { evidence, name }))
    }

    fn hello(sni: &str) -> Vec<u8> {
        app::tls_client_hello(&app::Hello::sni(sni))
    }

    /// Cuts `bytes` into `n` segments of nearly equal size.
    fn cut(bytes: &[u8], n: usize) -> Vec<(usize, &[u8])> {
        let size = bytes.len().div_ceil(n);
        bytes.chunks(size).enumerate().map(|(i, c)| (i * size, c)).collect()
    }

    #[test]
    fn a_hello_is_read_whatever_the_number_of_segments_it_spans() {
        let record = hello("gateway.icloud.com");
        for n in [1, 14, 15, 20, 40, 200] {
            let seen = client(&cut(&record, n));
            assert_eq!(seen.findings, vec![name(Evidence::TlsSni, "gateway.icloud.com")], "{n} segments");
            assert!(seen.done, "{n} segments");
        }
        let mut reversed = cut(&record, 40);
        reversed.reverse();
        assert_eq!(client(&reversed[..16]).findings, Vec::<String>::new(), "16 held out of order, no more");
    }

    /// An RDP or LDAP request for TLS that its first segment cuts short is
    /// waited for, on the protocol's port or another: the hello after it
    /// is read wherever the cut falls.
    #[test]
    fn a_request_for_tls_cut_by_its_first_segment_still_leads_to_the_hello() {
        let rdp_request = b"\x03\x00\x00\x13\x0e\xe0\x00\x00\x00\x00\x00\x01\x00\x08\x00\x03\x00\x00\x00";
        let rdp_confirm = b"\x03\x00\x00\x13\x0e\xd0\x00\x00\x12\x34\x00\x02\x1f\x08\x00\x02\x00\x00\x00";
        let ldap_request = b"\x30\x1d\x02\x01\x01\x77\x18\x80\x161.3.6.1.4.1.1466.20037";
        let ldap_ok = b"\x30\x0c\x02\x01\x01\x78\x07\x0a\x01\x00\x04\x00\x04\x00";
        let record = hello("rdweb.wvd.microsoft.com");
        for (request, answer, ports) in
            [(&rdp_request[..], &rdp_confirm[..], [3389, 8443]), (ldap_request, ldap_ok, [389, 8443])]
        {
            for server_port in ports {
                let ctx = FlowContext { server_port, ..HTTPS };
                for at in 1..request.len() {
                    let (a, b) = request.split_at(at);
                    let segments = [
                        (Direction::FromClient, 0, a),
                        (Direction::FromClient, at, b),
                        (Direction::ToClient, 0, answer),
                        (Direction::FromClient, request.len(), &record[..]),
                    ];
                    let mut seen = feed_tcp(ctx, &segments, &InspectBudget::default());
                    seen.findings.retain(|f| f.contains("ServerName"));
                    assert_eq!(
                        seen.findings,
                        vec![name(Evidence::TlsSni, "rdweb.wvd.microsoft.com")],
                        "{request:?} cut at {at}, port {server_port}"
                    );
                }
            }
        }
    }

    #[test]
    fn server_bytes_while_the_hello_is_incomplete_do_not_hold_it_forever() {
        let record = hello("gateway.icloud.com");
        let (a, _) = record.split_at(100);
        let big = vec![0x17; 9000];
        let segments =
            [(Direction::FromClient, 0, a), (Direction::ToClient, 0, &big[..]), (Direction::ToClient, 9000, &big[..])];
        let seen = feed_tcp(HTTPS, &segments, &InspectBudget::default());
        assert!(seen.done, "the server answered more than a hello's worth: the client's bytes were lost");
    }

    #[test]
    fn inspection_ended_at_a_streams_bound_is_told_apart() {
        let run = |segments: &[(usize, &[u8])]| {
            let mut inspection = Inspection::new(IPPROTO_TCP);
            let budget = InspectBudget::default();
            for &(offset, payload) in segments {
                let seq = ISN + 1 + u32::try_from(offset).unwrap();
                let s = Segment { dir: Direction::FromClient, seq, payload, stream_start: Some(ISN + 1) };
                inspection.on_segment(&HTTPS, s, &budget, &mut |_| {});
            }
            (inspection.is_done(), inspection.overflowed(), inspection.refused())
        };
        let record = hello("gateway.icloud.com");
        assert_eq!(run(&cut(&record, 40)), (true, false, false), "a whole hello is not an overflow");
        let mut reversed = cut(&record, 40);
        reversed.reverse();
        assert_eq!(run(&reversed[..17]), (true, true, false), "a 17th segment out of order");
        // A Host header that never ends: an HTTP head past the bound.
        let mut head = b"GET / HTTP/1.1\r\nHost: ".to_vec();
        head.resize(head.len() + stream::MAX_HELD, b'a');
        let (d, o, r) = run(&cut(&head, 12));
        assert!(d && o && !r, "a head longer than the bound: done {d}, overflowed {o}, refused {r}");
    }

    #[test]
    fn reassembly_stops_when_the_budget_is_spent_and_resumes_when_freed() {
        let budget = InspectBudget::new(stream::MAX_HELD + 100);
        let hello = hello("gateway.icloud.com");
        let (a, b) = hello.split_at(100);
        let seg = |offset: usize, payload| Segment {
            dir: Direction::FromClient,
            seq: ISN + 1 + u32::try_from(offset).unwrap(),
            payload,
            stream_start: Some(ISN + 1),
        };
        let mut findings = Vec::new();
        let mut first = Inspection::new(IPPROTO_TCP);
        first.on_segment(&HTTPS, seg(0, a), &budget, &mut recorder(&mut findings));
        assert!(!first.is_done(), "the first flow holds the budget");
        let mut second = Inspection::new(IPPROTO_TCP);
        second.on_segment(&HTTPS, seg(0, a), &budget, &mut recorder(&mut findings));
        assert!(second.is_done() && second.refused(), "no budget left for a second flow");
        first.on_segment(&HTTPS, seg(100, b), &budget, &mut recorder(&mut findings));
        assert_eq!(findings[0], name(Evidence::TlsSni, "gateway.icloud.com"));
        assert!(first.is_done());
        let mut third = Inspection::new(IPPROTO_TCP);
        third.on_segment(&HTTPS, seg(0, a), &budget, &mut recorder(&mut findings));
        assert!(!third.is_done(), "the first flow gave its budget back when done");
        drop(third);
        assert_eq!(budget.free(), stream::MAX_HELD + 100, "an ended flow gives it back too");
    }

    #[test]
    fn an_http_head_split_before_its_host_is_reassembled() {
        let get = app::http_get("swcdn.apple.com", "/x");
        let (a, b) = get.split_at(10);
        let expected = vec![name(Evidence::HttpHost, "swcdn.apple.com")];
        // Not done: the response's head is read next, for its Server header.
        assert_eq!(client(&[(0, a), (10, b)]), Seen { findings: expected.clone(), done: false });
        assert_eq!(client(&[(10, b), (0, a)]), Seen { findings: expected, done: false }, "second half overtook");
    }

    #[test]
    fn a_head_without_host_ends_inspection() {
        assert_eq!(client(&[(0, b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n")]), Seen { findings: vec![], done: false });
        let (a, b) =
            (b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", b"HTTP/1.1 401 Unauthorized\r\nServer: DNVRS-Webs\r\n\r\n");
        let seen =
            feed_tcp(HTTPS, &[(Direction::FromClient, 0, a), (Direction::ToClient, 0, b)], &InspectBudget::default());
        let banner = Finding::Host { side: Side::Server, fact: HostFact::HttpServer("DNVRS-Webs") };
        assert_eq!(seen, Seen { findings: vec![format!("{banner:?}")], done: true }, "the response head ends it");
        let bare = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        let seen = feed_tcp(
            HTTPS,
            &[(Direction::FromClient, 0, a), (Direction::ToClient, 0, bare)],
            &InspectBudget::default(),
        );
        assert_eq!(seen, Seen { findings: vec![], done: true }, "no Server header: done all the same");
    }

    #[test]
    fn the_user_agent_is_reported_with_the_host() {
        let head = b"GET /msdownload/update HTTP/1.1\r\nHost: 192.0.2.7\r\nUser-Agent: Microsoft-Delivery-Optimization/10.0\r\n\r\n";
        let seen = feed_tcp(HTTPS, &[(Direction::FromClient, 0, head)], &InspectBudget::default());
        assert_eq!(
            seen.findings[0],
            format!("{:?}", Finding::Flow(FlowFinding::UserAgent("Microsoft-Delivery-Optimization/10.0")))
        );
    }

    #[test]
    fn stray_bytes_before_the_request_do_not_end_inspection() {
        let get = app::http_get("www.apple.com", "/");
        // A keep-alive probe: one byte just before the stream's start.
        let keep_alive = (Direction::FromClient, usize::MAX, &b"\0"[..]);
        let segments = [keep_alive, (Direction::FromClient, 0, &get[..])];
        let mut seen = feed_tcp(HTTPS, &segments, &InspectBudget::default());
        seen.findings.retain(|f| f.contains("ServerName"));
        assert_eq!(seen.findings, vec![name(Evidence::HttpHost, "www.apple.com")]);
        assert_eq!(client(&[(0, b"SSH-2.0-OpenSSH_9.6\r\n")]), Seen { findings: vec![], done: true });
    }

    #[test]
    fn a_server_banner_first_leaves_the_client_to_be_read() {
        let record = hello("gateway.icloud.com");
        let segments =
            [(Direction::ToClient, 0, &b"SSH-2.0-OpenSSH_9.6\r\n"[..]), (Direction::FromClient, 0, &record[..])];
        let seen = feed_tcp(HTTPS, &segments, &InspectBudget::default());
        assert_eq!(seen.findings[0], name(Evidence::TlsSni, "gateway.icloud.com"));
    }

    #[test]
    fn dns_messages_over_tcp_are_read_one_after_another_and_the_flow_is_settled() {
        let ctx = FlowContext { protocol: IPPROTO_TCP, client_port: 40000, server_port: 53 };
        let framed = |m: Vec<u8>| [&u16::try_from(m.len()).unwrap().to_be_bytes()[..], &m].concat();
        let two =
            [framed(app::dns_query(1, "www.tiktok.com", 1)), framed(app::dns_query(2, "www.apple.com", 1))].concat();
        let (a, b) = two.split_at(5);
        let mut inspection = Inspection::new(IPPROTO_TCP);
        let mut findings = Vec::new();
        let budget = InspectBudget::default();
        for (offset, payload) in [(0, a), (5, b)] {
            let seq = ISN + 1 + offset;
            let s = Segment { dir: Direction::FromClient, seq, payload, stream_start: Some(ISN + 1) };
            inspection.on_segment(&ctx, s, &budget, &mut recorder(&mut findings));
        }
        let question =
            |name| format!("{:?}", Finding::Flow(FlowFinding::DnsQuestion { name, response: false, local: false }));
        assert_eq!(findings, vec![question("www.tiktok.com"), question("www.apple.com")]);
        assert!(inspection.is_settled() && !inspection.is_done());
    }

    #[test]
    fn dns_over_tcp_is_read_on_any_port_by_its_content() {
        let framed = |m: Vec<u8>| [&u16::try_from(m.len()).unwrap().to_be_bytes()[..], &m].concat();
        let query = framed(app::dns_query(1, "www.tiktok.com", 1));
        let question =
            |name| format!("{:?}", Finding::Flow(FlowFinding::DnsQuestion { name, response: false, local: false }));
        for port in [8853, 5335, 443] {
            let ctx = FlowContext { protocol: IPPROTO_TCP, client_port: 40000, server_port: port };
            let whole = feed_tcp(ctx, &[(Direction::FromClient, 0, &query)], &InspectBudget::default());
            assert_eq!(whole.findings, vec![question("www.tiktok.com")], "port {port}");
            let (prefix, message) = query.split_at(2);
            let segments = [(Direction::FromClient, 0, prefix), (Direction::FromClient, 2, message)];
            let split = feed_tcp(ctx, &segments, &InspectBudget::default());
            assert_eq!(split.findings, vec![question("www.tiktok.com")], "port {port}, prefix apart");
        }
    }

    #[test]
    fn mdns_answers_are_host_names_not_lookups() {
        let ctx = FlowContext { protocol: IPPROTO_UDP, client_port: 5353, server_port: 5353 };
        let answer =
            app::dns_response(0, "johns-iphone.local", 1, &[app::Answer::a("johns-iphone.local", 120, "10.0.0.9")]);
        let mut inspection = Inspection::new(IPPROTO_UDP);
        let mut findings = Vec::new();
        inspection.on_datagram(
            &ctx,
            Direction::FromClient,
            &answer,
            &InspectBudget::default(),
            &mut recorder(&mut findings),
        );
        let host = Finding::Host { side: Side::Client, fact: HostFact::Hostname("johns-iphone.local") };
        assert!(findings.contains(&format!("{host:?}")), "{findings:?}");
        assert!(findings.iter().all(|f| !f.contains("DnsAnswer")), "{findings:?}");
    }

    #[test]
    fn every_registered_probe_is_total_on_short_and_odd_payloads() {
        let contexts = [
            HTTPS,
            FlowContext { protocol: IPPROTO_UDP, client_port: 50000, server_port: 443 },
            FlowContext { protocol: IPPROTO_UDP, client_port: 5353, server_port: 5353 },
        ];
        assert!(registry::REGISTRY.len() >= 5, "the registry lists the inspectors");
        for r in registry::REGISTRY {
            for ctx in contexts {
                for len in 0..64 {
                    let payload = vec![0xff; len];
                    for dir in [Direction::FromClient, Direction::ToClient] {
                        let answer = (r.probe)(ctx, dir, &payload);
                        // Bytes of all ones start no protocol read on 443;
                        // only the port-bound DNS inspector takes mDNS's port.
                        if !ctx.has_port(5353) {
                            assert_ne!(answer, Probe::Accept, "{} accepted {len} bytes of 0xff on {ctx:?}", r.name);
                        }
                    }
                }
            }
        }
    }
}
