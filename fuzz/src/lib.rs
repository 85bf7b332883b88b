//! The bodies of vendorwatch's fuzz targets, as plain functions.
//!
//! Each `fuzz_targets/<name>.rs` is a one-line libFuzzer wrapper around the
//! function of the same name here, so the same bodies also run on stable
//! Rust through `src/bin/smoke.rs` (seeds plus random mutations), where
//! libFuzzer is not available.
//!
//! A body panics only where vendorwatch breaks a promise: every parser here
//! is documented never to panic on any input, and a few results are checked
//! against their documented contracts (e.g. a TLS SNI is a plausible DNS
//! name).

use std::io;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use proto::{dhcp, discovery, dns, heads, http, mdns, quic, stun, tls};
use vendorwatch::classify::names::NormalizedName;
use vendorwatch::classify::signatures::SignatureSet;
use vendorwatch::decode;
use vendorwatch::export::flowlog::FlowLog;
use vendorwatch::hosts::record::DeviceRecord;
use vendorwatch::hosts::{Devices, HostKey, HostTable};
use vendorwatch::inspect::{
    Direction, Finding, FlowContext, FlowFinding, HostFact, InspectBudget, Inspection, Segment, Side,
};
use vendorwatch::pipeline::{FlowRecords, Pipeline, Rules};
use vendorwatch::segment::Config;
use vendorwatch::source::file::CaptureReader;
use vendorwatch::source::{Frame, LinkType};

pub mod seeds;

/// Every target: name and body.
pub const TARGETS: &[(&str, fn(&[u8]))] = &[
    ("decode", decode),
    ("capture_reader", capture_reader),
    ("tls_hello", tls_hello),
    ("dns", dns),
    ("http", http),
    ("stun", stun),
    ("quic_initial", quic_initial),
    ("signatures", signatures),
    ("pipeline", pipeline),
    ("stream", stream),
    ("dhcp", dhcp),
    ("mdns", mdns),
    ("discovery", discovery),
    ("device_facts", device_facts),
];

/// The link types a frame can have; the selector byte's low 7 bits pick one
/// modulo the length, so every `LinkType` variant (and an unknown one) is
/// reached. (The pipeline target uses the top bit as the interface.)
pub const LINKS: [LinkType; 13] = [
    LinkType::Ethernet,
    LinkType::Raw,
    LinkType::Null,
    LinkType::Loop,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::Other(147),
    LinkType::Ppp,
    LinkType::PppHdlc,
    LinkType::CiscoHdlc,
    LinkType::Nflog,
    LinkType::Radiotap,
    LinkType::EthernetFcs(4),
];

pub fn link_of(selector: u8) -> LinkType {
    LINKS[usize::from(selector & 0x7f) % LINKS.len()]
}

/// Byte 0: link type selector; the rest: the frame.
pub fn decode(data: &[u8]) {
    let Some((&selector, frame)) = data.split_first() else { return };
    if let Ok(decode::Decoded::Packet(p)) = decode::decode(link_of(selector), frame) {
        // The payload is a sub-slice of the frame, never beyond it.
        let start = p.payload.as_ptr() as usize;
        let frame_start = frame.as_ptr() as usize;
        assert!(start >= frame_start && start + p.payload.len() <= frame_start + frame.len());
        assert!(p.vlans.as_slice().len() <= 4);
        let _ = vendorwatch::flow::FlowKey::of(&p);
    }
}

/// The input is a capture file (pcap or pcapng); every frame is read and
/// decoded. Frames never exceed the record size limit.
pub fn capture_reader(data: &[u8]) {
    let Ok(mut reader) = CaptureReader::from_reader(data) else { return };
    // Every record consumes at least its header, so this bounds the loop.
    for _ in 0..=data.len() / 8 + 1 {
        match reader.next_frame() {
            Ok(Some(frame)) => {
                assert!(frame.data.len() <= vendorwatch::source::pcap::MAX_RECORD_LEN as usize);
                assert!(frame.data.len() <= data.len());
                let _ = decode::decode(frame.link, frame.data);
                let interface = frame.interface;
                if let Some(name) = reader.interface_name(interface) {
                    assert!(!name.is_empty() && name.len() <= 256 && name.len() <= data.len());
                }
            }
            Ok(None) | Err(_) => return,
        }
    }
    panic!("capture reader returned more frames than the input can hold");
}

fn check_hello(hello: &tls::ClientHello) {
    if let Some(sni) = &hello.sni {
        assert!(!sni.is_empty() && sni.len() <= 253, "SNI length out of contract: {sni:?}");
        assert!(
            sni.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)),
            "SNI with characters outside [a-z0-9._-]: {sni:?}"
        );
        assert!(!sni.split('.').any(str::is_empty), "SNI with an empty label: {sni:?}");
    }
    if let Some(alpn) = &hello.alpn {
        assert!(alpn.bytes().all(|b| b.is_ascii_graphic()), "ALPN not printable ASCII: {alpn:?}");
    }
}

/// The input as a client's TCP stream, and as a bare handshake message.
pub fn tls_hello(data: &[u8]) {
    let _ = tls::looks_like_handshake_record(data);
    if let tls::StreamHello::Hello(hello) = tls::client_hello_from_stream(data) {
        check_hello(&hello);
    }
    // Every prefix of a stream is a state the pipeline may see.
    if data.len() <= 600 {
        for cut in 0..data.len() {
            if let tls::StreamHello::Hello(hello) = tls::client_hello_from_stream(&data[..cut]) {
                check_hello(&hello);
            }
        }
    }
    if let Ok(hello) = tls::parse_client_hello_message(data) {
        check_hello(&hello);
    }
}

fn walk_dns(msg: &[u8]) {
    let Ok(m) = dns::Message::new_checked(msg) else { return };
    let _ = (m.id(), m.is_response(), m.opcode(), m.rcode(), m.question_count(), m.answer_count());
    if let Ok(Some(q)) = m.question() {
        assert!(q.name.as_str().len() <= 255, "name longer than DNS allows");
        let _ = NormalizedName::new(q.name.as_str());
    }
    // At most answer_count records, each at least 11 bytes.
    let mut n = 0usize;
    for record in m.answers() {
        n += 1;
        assert!(n <= usize::from(m.answer_count()), "more answers than ANCOUNT");
        match record {
            Ok(r) => {
                if let dns::RecordData::Cname(name) = r.data {
                    let _ = name.as_str();
                }
            }
            Err(_) => break,
        }
    }
}

/// The input as a UDP DNS payload and as a TCP one (length-prefixed).
pub fn dns(data: &[u8]) {
    walk_dns(data);
    if let Some(msg) = dns::tcp_message(data) {
        walk_dns(msg);
    }
    if dns::tcp_stream_start(data) == dns::TcpStart::Dns {
        let msg = dns::tcp_message(data).expect("a stream start taken for DNS holds its whole message");
        assert!(dns::Message::new_checked(msg).is_ok(), "a stream start taken for DNS does not parse");
    }
}

/// The input as the first payload of an HTTP flow.
pub fn http(data: &[u8]) {
    let _ = http::is_request_start(data);
    if let Some(head) = http::parse_request_head(data) {
        if let Some(host) = head.host {
            assert!(!host.is_empty(), "empty Host accepted");
            let _ = NormalizedName::new(host);
        }
    }
}

/// The input as a UDP datagram that may be a STUN message, and as a TCP
/// stream of STUN frames.
pub fn stun(data: &[u8]) {
    if let Ok(message) = stun::Message::new_checked(data) {
        assert!(message.total_len() <= data.len(), "a message longer than its datagram");
        let _ = message.method();
        for attr in message.attributes() {
            assert!(attr.value.len() <= data.len());
            let _ = attr.is_vendor_specific();
        }
    }
    // The input as a TCP stream, in either framing.
    for framing in [stun::TcpFraming::Direct, stun::TcpFraming::Rfc4571] {
        let mut rest = data;
        while !rest.is_empty() {
            let n = match stun::tcp_frame(rest, framing) {
                stun::TcpFrame::Message(message, n) => {
                    assert!(message.total_len() <= n, "a message longer than its frame");
                    n
                }
                stun::TcpFrame::Other(n) => n,
                stun::TcpFrame::Incomplete | stun::TcpFrame::Lost => break,
            };
            assert!(n > 0 && n <= rest.len(), "a frame of {n} bytes in {}", rest.len());
            rest = &rest[n..];
        }
    }
    let _ = stun::tcp_start(data);
}

/// Server ports of the TCP inspectors: the preambles' (SMTP, FTP, POP3, IMAP,
/// XMPP, LDAP, PostgreSQL, RDP), a proxy's, TLS's and HTTP's.
pub const STREAM_PORTS: [u16; 12] = [25, 587, 21, 110, 143, 5222, 389, 5432, 3389, 3128, 443, 80];

/// Byte 0 picks the server port from [`STREAM_PORTS`]; then length-prefixed
/// chunks, each a TCP payload whose first byte's low bit says the direction
/// (set: from the server), fed in stream order through the per-flow driver.
/// Whatever the inspectors hold is given back to the budget when it ends.
pub fn stream(data: &[u8]) {
    let Some((&port, rest)) = data.split_first() else { return };
    let ctx = FlowContext { protocol: 6, client_port: 50000, server_port: STREAM_PORTS[usize::from(port) % 12] };
    let budget = InspectBudget::new(1 << 20);
    let mut inspection = Inspection::new(6);
    let mut next = [1000u32, 9000u32];
    for chunk in chunks(rest).take(64) {
        let Some((&selector, payload)) = chunk.split_first() else { continue };
        let side = usize::from(selector & 1);
        let dir = if side == 0 { Direction::FromClient } else { Direction::ToClient };
        let segment = Segment { dir, seq: next[side], payload, stream_start: Some([1000, 9000][side]) };
        next[side] = next[side].wrapping_add(payload.len() as u32);
        inspection.on_segment(&ctx, segment, &budget, &mut |finding| {
            let _ = format!("{finding:?}");
        });
    }
    inspection.finish(&mut |_| {});
    drop(inspection);
    assert_eq!(budget.free(), 1 << 20, "an ended flow holds no budget");
}

/// Splits `data` into chunks, each prefixed by a 2-byte big-endian length.
pub fn chunks(mut data: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        let (len, rest) = data.split_first_chunk::<2>()?;
        let len = usize::from(u16::from_be_bytes(*len)).min(rest.len());
        let (chunk, rest) = rest.split_at(len);
        data = rest;
        Some(chunk)
    })
}

/// The versions `quic_initial` seals plaintext frames with, by bits 1-3 of
/// its mode byte: IETF framing with TLS (v1, v2, draft-29, draft-27,
/// mvfst), Google framing with a CHLO (Q050) or TLS (T051).
pub const QUIC_FUZZ_VERSIONS: [u32; 8] =
    [0x0000_0001, 0x6b33_43cf, 0xff00_001d, 0x0000_0001, 0xff00_001b, 0xface_b001, 0x5130_3530, 0x5430_3531];

/// Byte 0, bit 0 clear: the rest is a sequence of length-prefixed client
/// datagrams, as on the wire (Google QUIC's plaintext hellos included).
/// Bit 0 set: each chunk is instead the *plaintext frames* of one Initial,
/// sealed here with the keys of a fixed DCID (bits 1-3 pick the version in
/// [`QUIC_FUZZ_VERSIONS`]), so that the fuzzer reaches the frame parsers
/// and CRYPTO reassembly behind the AEAD.
pub fn quic_initial(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    let mut initials = quic::ClientInitials::new();
    let version = QUIC_FUZZ_VERSIONS[usize::from(mode >> 1) & 7];
    for (pn, chunk) in chunks(rest).take(32).enumerate() {
        let sealed;
        let datagram = if mode & 1 == 1 {
            let Some(packet) =
                synth::quic::seal_client_initial(version, &seeds::QUIC_DCID, &[1, 2, 3, 4], pn as u32, chunk)
            else {
                continue;
            };
            sealed = packet;
            &sealed[..]
        } else {
            chunk
        };
        let _ = quic::looks_like_client_initial(datagram);
        let _ = quic::looks_like_client_quic(datagram);
        let _ = quic::is_version_negotiation(datagram);
        match initials.on_datagram(datagram) {
            quic::Progress::Hello(bytes) => {
                assert_eq!(bytes.first(), Some(&1), "a Hello must start with the ClientHello type");
                assert!(bytes.len() <= quic::MAX_CRYPTO + 4);
                if let Ok(hello) = tls::parse_client_hello_message(bytes) {
                    check_hello(&hello);
                }
            }
            quic::Progress::Chlo(bytes) => {
                assert!(bytes.starts_with(b"CHLO"), "a Chlo must start with its tag");
                assert!(bytes.len() <= quic::MAX_CRYPTO);
                if let Some(chlo) = quic::gquic::parse_chlo(bytes) {
                    assert!(chlo.sni.as_deref().is_none_or(|name| name.len() <= 253));
                }
            }
            quic::Progress::NeedMore | quic::Progress::NotQuic | quic::Progress::GaveUp(_) => {}
        }
    }
}

/// A signature file must be named after its vendor id, so the name is taken
/// from the first `vendor = "..."` line (else `fallback`): mutated inputs
/// then get past that check to the entries.
fn file_named_by_vendor(bytes: &[u8], fallback: &str) -> (PathBuf, String) {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let id = text
        .lines()
        .find_map(|l| {
            l.trim_start()
                .strip_prefix("vendor")?
                .trim_start()
                .strip_prefix('=')?
                .trim()
                .strip_prefix('"')?
                .split('"')
                .next()
        })
        .filter(|id| !id.is_empty() && !id.contains(['/', '\\', '\0']))
        .unwrap_or(fallback)
        .to_owned();
    (PathBuf::from(format!("{id}.toml")), text)
}

/// The input as signature files: split at the first 0xff byte into two
/// files (so keys claimed twice across files are reached), each decoded as
/// lossy UTF-8. A set that loads is then queried.
pub fn signatures(data: &[u8]) {
    let (a, b) = match data.iter().position(|&b| b == 0xff) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let mut files = vec![file_named_by_vendor(a, "a")];
    if let Some(b) = b {
        files.push(file_named_by_vendor(b, "b"));
    }
    // Also as segment config: the other TOML the user writes.
    let _ = Config::parse(std::path::Path::new("site.toml"), &files[0].1);
    let Ok(set) = SignatureSet::from_files(files) else { return };
    for name in ["a", "example.com", "www.apple.com", "x.y.z.w"] {
        if let Some(n) = NormalizedName::new(name) {
            let _ = set.match_name_detail(&n);
        }
    }
    for addr in ["17.0.0.1", "10.0.0.1", "2001:db8::1", "::", "255.255.255.255"] {
        let addr: IpAddr = addr.parse().expect("valid literal");
        if let Some(entry) = set.match_addr(addr) {
            let _ = set.match_port(entry, addr, 6, 443);
            let _ = set.port_rules_of(entry).count();
        }
    }
    for v in &set.vendors {
        let _ = vendorwatch::classify::explain::explain(&set, &v.id);
    }
    let _ = vendorwatch::classify::explain::explain(&set, "17.0.0.1");
    if let Ok(rules) = Rules::new(set, Config::default_auto()) {
        let _ = rules.is_banned(vendorwatch::classify::signatures::VendorId(0));
    }
}

fn rules() -> Arc<Rules> {
    static RULES: OnceLock<Arc<Rules>> = OnceLock::new();
    RULES
        .get_or_init(|| {
            Arc::new(Rules::new(SignatureSet::embedded(), Config::default_auto()).expect("embedded rules are valid"))
        })
        .clone()
}

/// Frames for one pipeline: byte 0 = max flows (1..=8, so eviction is
/// reached); then records of [link selector][time step: 1 byte, in 1/4 s]
/// [2-byte length][frame]. A flow log is written (to nowhere) so flow
/// records are built for every ended flow.
pub fn pipeline(data: &[u8]) {
    let Some((&max_flows, mut rest)) = data.split_first() else { return };
    let mut log = FlowLog::new(Box::new(io::sink()));
    let mut p = Pipeline::new(rules(), usize::from(max_flows % 8) + 1, FlowRecords::All);
    let source = p.add_source("fuzz");
    p.set_interface_names(vec!["eth0".into()]);
    let mut ts = 1_700_000_000_000_000_000u64;
    let mut n = 0u32;
    while let [selector, step, l0, l1, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*l0, *l1])).min(tail.len());
        let (frame, after) = tail.split_at(len);
        rest = after;
        ts += u64::from(*step) * 250_000_000;
        let f = Frame {
            ts_ns: ts,
            link: link_of(*selector),
            data: frame,
            wire_len: len as u32,
            interface: u32::from(*selector >> 7),
        };
        p.process(&f, source);
        n += 1;
        if n % 16 == 0 {
            p.flush();
            p.tick(ts);
            p.drain_records().for_each(|r| log.write(&r));
        }
    }
    let _ = p.flow_count();
    p.finish();
    p.drain_records().for_each(|r| log.write(&r));
}

/// A DHCP text option's contract: printable, non-empty.
fn check_text(t: &str) {
    assert!(!t.is_empty() && !t.chars().any(char::is_control), "DHCP text out of contract: {t:?}");
}

/// The input as a DHCPv4 message and as a DHCPv6 client message.
pub fn dhcp(data: &[u8]) {
    if let Ok(m) = dhcp::Message::new_checked(data) {
        let _ = (m.is_request(), m.is_relayed(), m.client_mac(), m.client_address());
        // Options follow the fixed fields and the magic cookie; every one
        // but PAD takes a code and a length byte.
        let mut used = 240usize;
        for (_, value) in m.options() {
            used += 2 + value.len();
            assert!(used <= data.len(), "options beyond the message");
        }
        for code in [12, 55, 60, 61, 81] {
            m.text_option(code).map(check_text);
        }
    }
    if let Ok(m) = dhcp::V6Message::new_checked(data) {
        let mut used = 4usize;
        for (_, value) in m.options() {
            used += 4 + value.len();
            assert!(used <= data.len(), "DHCPv6 options beyond the message");
        }
        if let Some((_, class)) = m.vendor_class() {
            check_text(class);
        }
        m.fqdn_host().map(check_text);
    }
}

/// The input as an mDNS message: every record, its PTR and SRV targets,
/// TXT strings and DNS-SD service type.
pub fn mdns(data: &[u8]) {
    let Ok(m) = mdns::Message::new_checked(data) else { return };
    let _ = m.is_response();
    for (n, r) in m.records().enumerate() {
        // A header, then records of at least a root name and 10 bytes each.
        assert!(12 + (n + 1) * 11 <= data.len(), "more records than the message holds");
        assert!(r.name.as_str().len() <= mdns::MAX_NAME_LEN);
        assert!(r.rdata.len() <= data.len());
        for target in [r.ptr_target(), r.srv_target()].into_iter().flatten() {
            assert!(target.as_str().len() <= mdns::MAX_NAME_LEN);
            let _ = mdns::service_type(target.as_str());
        }
        let mut txt = 0usize;
        for string in r.txt() {
            txt += 1 + string.len();
            assert!(txt <= r.rdata.len(), "TXT strings beyond the RDATA");
        }
        if let Some(service) = mdns::service_type(r.name.as_str()) {
            assert!(r.name.as_str().contains(service), "{service:?} is not in {:?}", r.name);
        }
    }
}

/// The input as a discovery datagram of each kind: an SSDP head, a
/// WS-Discovery match and its ONVIF scopes, a SADP reply, a DHIP message.
pub fn discovery(data: &[u8]) {
    if let Some(head) = heads::Head::new_checked(data) {
        let _ = (head.is_response(), head.is_method(b"M-SEARCH"), head.is_method(b"NOTIFY"));
        for name in ["SERVER", "USER-AGENT", "LOCATION", "ST", "NT"] {
            if let Some(value) = head.header(name) {
                assert!(!value.is_empty() && value.trim() == value, "header value not trimmed: {value:?}");
            }
        }
    }
    if let Some(m) = discovery::ws_discovery_match(data) {
        for kind in ["name", "hardware", "type", "location"] {
            if let Some(value) = discovery::onvif_scope(m.scopes, kind) {
                assert!(m.scopes.contains(value));
            }
        }
        let _ = m.types.split_ascii_whitespace().count();
    }
    if let Some(model) = discovery::sadp_model(data) {
        assert!(model.len() <= data.len());
    }
    if let Some(body) = discovery::dhip_body(data) {
        assert!(body.len() <= data.len());
        let _ = discovery::json_string(body, "DeviceType");
    }
    let _ = discovery::dhip_device(data);
}

/// The UDP ports of the device inspectors, as (client port, server port):
/// DHCPv4, DHCPv6, mDNS, SSDP, WS-Discovery, SADP, DHIP.
pub const DEVICE_PORTS: [(u16, u16); 7] =
    [(68, 67), (546, 547), (5353, 5353), (50000, 1900), (50000, 3702), (37020, 37020), (37810, 37810)];

/// Byte 0 picks the ports from [`DEVICE_PORTS`]; then 2-byte-length-prefixed
/// datagrams whose first byte's low bit says the direction (set: from the
/// server), fed through the inspectors. What they report about the hosts
/// goes into a small host table, as the pipeline does, and the records it
/// hands over must keep their bounds.
pub fn device_facts(data: &[u8]) {
    let devices = device_table(data);
    assert!(devices.len() <= 2, "two ends, at most two hosts");
    for (key, facts) in devices.seen_since(0) {
        let record = DeviceRecord::new(key, facts);
        assert!(record.addresses.len() <= 8 && record.evidence.len() <= 32, "a record past its bounds");
        assert!(record.hostname.is_none_or(|h| h.len() <= 253));
        assert!(record.evidence.iter().all(|e| e.strength <= 100 && e.seen.len() <= 160));
    }
}

/// The device records [`device_facts`] builds from its input.
pub fn device_table(data: &[u8]) -> Devices {
    let mut devices = Devices::default();
    let Some((&ports, rest)) = data.split_first() else { return devices };
    let (client_port, server_port) = DEVICE_PORTS[usize::from(ports) % DEVICE_PORTS.len()];
    let ctx = FlowContext { protocol: 17, client_port, server_port };
    let rules = rules();
    let budget = InspectBudget::new(1 << 20);
    let mut inspection = Inspection::new(17);
    let mut table = HostTable::new(4);
    let segment: Arc<str> = "lan".into();
    let ends = [(IpAddr::from([10, 0, 0, 1]), [0x3c, 0x22, 0xfb, 0, 0, 1]), (IpAddr::from([10, 0, 0, 2]), [2; 6])];
    let mut ts = 1_700_000_000_000_000_000u64;
    for chunk in chunks(rest).take(32) {
        let Some((&selector, payload)) = chunk.split_first() else { continue };
        let dir = if selector & 1 == 0 { Direction::FromClient } else { Direction::ToClient };
        ts += 1_000_000;
        let mut learn = |side: Side, fact: HostFact<'_>| {
            let (addr, mac) = ends[usize::from(side == Side::Server)];
            table.learn(&rules, HostKey::new(Some(mac), addr, &segment), addr, fact, ts);
        };
        inspection.on_datagram(&ctx, dir, payload, &budget, &mut |finding| match finding {
            Finding::Host { side, fact } => learn(side, fact),
            Finding::Flow(FlowFinding::UserAgent(ua)) => learn(Side::Client, HostFact::UserAgent(ua)),
            Finding::Flow(_) => {}
        });
    }
    inspection.finish(&mut |_| {});
    drop(inspection);
    assert_eq!(budget.free(), 1 << 20, "an ended flow holds no budget");
    devices.merge(table.take_changes());
    devices
}
