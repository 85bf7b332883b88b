//! Application payloads: TLS ClientHello, HTTP/1.1 requests, DNS messages
//! and QUIC client Initials, shaped like what current clients send.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::XorShift;
use crate::quic::{crypto_frame, seal_client_initial};

pub use proto::quic::{QUIC_V1, QUIC_V2};

/// What a ClientHello offers.
#[derive(Debug, Clone, Default)]
pub struct Hello<'a> {
    /// `server_name`; `None` sends no SNI extension at all.
    pub sni: Option<&'a str>,
    /// The ALPN protocols, in preference order; none sends no extension.
    pub alpn: &'a [&'a str],
    /// An X25519MLKEM768 key share (1,216 bytes) before the X25519 one, as
    /// browsers send since 2024: the hello no longer fits one segment.
    pub post_quantum: bool,
    /// An `encrypted_client_hello` (0xfe0d) extension of the outer type.
    pub ech: bool,
    /// Carried in QUIC: TLS 1.3 only, no session id, transport parameters.
    pub quic: bool,
    /// Seeds the random, session id, key shares and ECH payload.
    pub seed: u64,
}

impl<'a> Hello<'a> {
    /// A plain TLS 1.3 hello for `sni` with ALPN h2/http1.1.
    pub fn sni(sni: &'a str) -> Hello<'a> {
        Hello { sni: Some(sni), alpn: &["h2", "http/1.1"], seed: sni.len() as u64, ..Hello::default() }
    }
}

const GREASE: u16 = 0x2a2a;
const X25519: u16 = 0x001d;
const X25519MLKEM768: u16 = 0x11ec;

/// The ClientHello handshake message (type 1, 3-byte length, body).
pub fn client_hello(h: &Hello<'_>) -> Vec<u8> {
    let mut rng = XorShift::new(h.seed ^ 0x5eed_c11e_0000_0001);
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&rng.bytes(32));
    if h.quic {
        body.push(0);
    } else {
        body.push(32);
        body.extend_from_slice(&rng.bytes(32));
    }
    let suites: &[u16] = &[GREASE, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8];
    vec16(&mut body, &suites.iter().flat_map(|s| s.to_be_bytes()).collect::<Vec<_>>());
    body.extend_from_slice(&[1, 0]); // compression: null

    let mut ext = Vec::new();
    extension(&mut ext, GREASE, &[]);
    if let Some(name) = h.sni {
        let mut entry = vec![0]; // host_name
        vec16(&mut entry, name.as_bytes());
        let mut list = Vec::new();
        vec16(&mut list, &entry);
        extension(&mut ext, 0x0000, &list);
    }
    extension(&mut ext, 0x0017, &[]); // extended_master_secret
    extension(&mut ext, 0xff01, &[0]); // renegotiation_info
    let mut groups = vec![GREASE];
    if h.post_quantum {
        groups.push(X25519MLKEM768);
    }
    groups.extend_from_slice(&[X25519, 0x0017, 0x0018]);
    let mut list = Vec::new();
    vec16(&mut list, &groups.iter().flat_map(|g| g.to_be_bytes()).collect::<Vec<_>>());
    extension(&mut ext, 0x000a, &list); // supported_groups
    extension(&mut ext, 0x000b, &[1, 0]); // ec_point_formats
    extension(&mut ext, 0x0023, &[]); // session_ticket
    if !h.alpn.is_empty() {
        let mut protocols = Vec::new();
        for p in h.alpn {
            protocols.push(::wire::len8(p.len()));
            protocols.extend_from_slice(p.as_bytes());
        }
        let mut list = Vec::new();
        vec16(&mut list, &protocols);
        extension(&mut ext, 0x0010, &list);
    }
    extension(&mut ext, 0x0005, &[1, 0, 0, 0, 0]); // status_request
    let algorithms: [u16; 8] = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601];
    let mut list = Vec::new();
    vec16(&mut list, &algorithms.iter().flat_map(|a| a.to_be_bytes()).collect::<Vec<_>>());
    extension(&mut ext, 0x000d, &list); // signature_algorithms
    let mut shares = Vec::new();
    shares.extend_from_slice(&GREASE.to_be_bytes());
    vec16(&mut shares, &[0]);
    if h.post_quantum {
        shares.extend_from_slice(&X25519MLKEM768.to_be_bytes());
        vec16(&mut shares, &rng.bytes(1184 + 32));
    }
    shares.extend_from_slice(&X25519.to_be_bytes());
    vec16(&mut shares, &rng.bytes(32));
    let mut list = Vec::new();
    vec16(&mut list, &shares);
    extension(&mut ext, 0x0033, &list); // key_share
    extension(&mut ext, 0x002d, &[1, 1]); // psk_key_exchange_modes: psk_dhe_ke
    let versions: &[u8] = if h.quic { &[2, 0x03, 0x04] } else { &[4, 0x03, 0x04, 0x03, 0x03] };
    extension(&mut ext, 0x002b, versions); // supported_versions
    if h.quic {
        // initial_max_data, initial_max_streams_bidi, max_idle_timeout
        extension(
            &mut ext,
            0x0039,
            &[0x04, 0x04, 0x80, 0x60, 0x00, 0x00, 0x08, 0x02, 0x40, 0x64, 0x01, 0x02, 0x67, 0x10],
        );
    }
    if h.ech {
        // Outer ECH: type, HPKE suite (HKDF-SHA256, AES-128-GCM), config id,
        // enc (an X25519 share) and the encrypted inner hello.
        let mut e = vec![0, 0x00, 0x01, 0x00, 0x01, (rng.next_u32() & 0xff) as u8];
        vec16(&mut e, &rng.bytes(32));
        vec16(&mut e, &rng.bytes(208));
        extension(&mut ext, 0xfe0d, &e);
    }
    extension(&mut ext, 0x3a3a, &[0]); // trailing GREASE, as Chrome sends
    vec16(&mut body, &ext);

    let mut msg = vec![1];
    msg.extend_from_slice(&crate::capture::len32(body.len()).to_be_bytes()[1..]);
    msg.extend_from_slice(&body);
    msg
}

/// Wraps a handshake message in TLS handshake records of at most 16 KiB.
pub fn handshake_records(msg: &[u8]) -> Vec<u8> {
    handshake_records_of(msg, 1 << 14)
}

/// Wraps a handshake message in TLS handshake records of at most
/// `fragment` bytes each (a sender may fragment a hello as it likes).
pub fn handshake_records_of(msg: &[u8], fragment: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len() + 5);
    for chunk in msg.chunks(fragment.max(1)) {
        out.extend_from_slice(&[0x16, 0x03, 0x01]);
        vec16(&mut out, chunk);
    }
    out
}

/// A ClientHello as the first bytes of a TLS-over-TCP stream.
pub fn tls_client_hello(h: &Hello<'_>) -> Vec<u8> {
    handshake_records(&client_hello(h))
}

/// Encrypted TLS records (application data) of `len` payload bytes: what
/// an established TLS connection carries.
pub fn tls_app_data(len: usize, seed: u64) -> Vec<u8> {
    let mut out = vec![0x17, 0x03, 0x03];
    vec16(&mut out, &XorShift::new(seed).bytes(len));
    out
}

/// A server's first flight: ServerHello-like handshake record, then
/// encrypted records, `len` bytes in all (at least 64).
pub fn tls_server_flight(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = XorShift::new(seed ^ 0x5e4e);
    let mut out = vec![0x16, 0x03, 0x03];
    let mut hello = vec![2, 0, 0, 52, 0x03, 0x03];
    hello.extend_from_slice(&rng.bytes(50));
    vec16(&mut out, &hello);
    out.extend_from_slice(&[0x14, 0x03, 0x03, 0x00, 0x01, 0x01]); // change_cipher_spec
    let rest = len.saturating_sub(out.len() + 5).max(1);
    out.extend_from_slice(&tls_app_data(rest, seed));
    out
}

/// An HTTP/1.1 GET with `Host: host` as sent by a download client.
pub fn http_get(host: &str, path: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: Microsoft-CryptoAPI/10.0\r\nAccept: */*\r\nConnection: Keep-Alive\r\n\r\n"
    )
    .into_bytes()
}

/// An HTTP/1.1 response head with a body of `body_len` bytes.
pub fn http_response(body_len: usize, seed: u64) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {body_len}\r\nCache-Control: max-age=900\r\n\r\n"
    )
    .into_bytes();
    out.extend_from_slice(&XorShift::new(seed).bytes(body_len));
    out
}

/// DNS type A: an IPv4 address.
pub const QTYPE_A: u16 = 1;
/// DNS type CNAME: an alias.
pub const QTYPE_CNAME: u16 = 5;
/// DNS type AAAA: an IPv6 address.
pub const QTYPE_AAAA: u16 = 28;

/// A DNS answer record's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rdata {
    /// An A record's address.
    A(Ipv4Addr),
    /// An AAAA record's address.
    Aaaa(Ipv6Addr),
    /// A CNAME record's target, written compressed.
    Cname(String),
    /// Any other type, its RDATA given as bytes.
    Raw(u16, Vec<u8>),
}

/// An answer: owner name, TTL in seconds, data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The owner name (a trailing dot is optional).
    pub name: String,
    /// Time to live, in seconds.
    pub ttl: u32,
    /// The record's type and data.
    pub data: Rdata,
}

impl Answer {
    /// An A record.
    ///
    /// # Panics
    ///
    /// When `addr` is not an IPv4 address.
    pub fn a(name: &str, ttl: u32, addr: &str) -> Answer {
        Answer { name: name.into(), ttl, data: Rdata::A(addr.parse().expect("IPv4 address")) }
    }

    /// An AAAA record.
    ///
    /// # Panics
    ///
    /// When `addr` is not an IPv6 address.
    pub fn aaaa(name: &str, ttl: u32, addr: &str) -> Answer {
        Answer { name: name.into(), ttl, data: Rdata::Aaaa(addr.parse().expect("IPv6 address")) }
    }

    /// A CNAME record pointing `name` at `target`.
    pub fn cname(name: &str, ttl: u32, target: &str) -> Answer {
        Answer { name: name.into(), ttl, data: Rdata::Cname(target.into()) }
    }
}

/// Writes names with RFC 1035 §4.1.4 compression, as resolvers do.
struct NameWriter {
    /// Lowercased name suffixes already written, and their offsets.
    seen: HashMap<String, u16>,
}

impl NameWriter {
    fn write(&mut self, out: &mut Vec<u8>, name: &str) {
        let name = name.strip_suffix('.').unwrap_or(name);
        let labels: Vec<&str> = if name.is_empty() { Vec::new() } else { name.split('.').collect() };
        for i in 0..labels.len() {
            let suffix = labels[i..].join(".").to_ascii_lowercase();
            if let Some(&at) = self.seen.get(&suffix) {
                out.extend_from_slice(&(0xc000 | at).to_be_bytes());
                return;
            }
            if let Some(at) = u16::try_from(out.len()).ok().filter(|&at| at < 0x3fff) {
                self.seen.insert(suffix, at);
            }
            out.push(::wire::len8(labels[i].len()));
            out.extend_from_slice(labels[i].as_bytes());
        }
        out.push(0);
    }
}

fn dns_message(id: u16, flags: u16, name: &str, qtype: u16, answers: &[Answer]) -> Vec<u8> {
    let mut m = Vec::with_capacity(64);
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&flags.to_be_bytes());
    for count in [1, ::wire::len16(answers.len()), 0, 0] {
        m.extend_from_slice(&count.to_be_bytes());
    }
    let mut names = NameWriter { seen: HashMap::new() };
    names.write(&mut m, name);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    for a in answers {
        names.write(&mut m, &a.name);
        let rtype = match a.data {
            Rdata::A(_) => QTYPE_A,
            Rdata::Aaaa(_) => QTYPE_AAAA,
            Rdata::Cname(_) => QTYPE_CNAME,
            Rdata::Raw(rtype, _) => rtype,
        };
        m.extend_from_slice(&rtype.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        m.extend_from_slice(&a.ttl.to_be_bytes());
        let len_at = m.len();
        m.extend_from_slice(&[0, 0]);
        match &a.data {
            Rdata::A(addr) => m.extend_from_slice(&addr.octets()),
            Rdata::Aaaa(addr) => m.extend_from_slice(&addr.octets()),
            Rdata::Cname(target) => names.write(&mut m, target),
            Rdata::Raw(_, rdata) => m.extend_from_slice(rdata),
        }
        let len = ::wire::len16(m.len() - len_at - 2);
        m[len_at..len_at + 2].copy_from_slice(&len.to_be_bytes());
    }
    m
}

/// A recursive query (RD set) for `name`.
pub fn dns_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    dns_message(id, 0x0100, name, qtype, &[])
}

/// A recursive resolver's answer (QR, RD, RA, NOERROR).
pub fn dns_response(id: u16, name: &str, qtype: u16, answers: &[Answer]) -> Vec<u8> {
    dns_message(id, 0x8180, name, qtype, answers)
}

/// One protected client Initial: `frames` (CRYPTO frames from
/// [`crypto_frame`], ...) padded with PADDING so that the datagram is at
/// least `min_len` bytes, as RFC 9000 §14.1 requires of clients (1200).
///
/// # Panics
///
/// When [`seal_client_initial`] cannot protect it: an unsupported version,
/// a connection ID over 20 bytes, frames too long for one packet.
pub fn quic_initial(
    version: u32,
    dcid: &[u8],
    scid: &[u8],
    packet_number: u32,
    frames: &[u8],
    min_len: usize,
) -> Vec<u8> {
    // first byte, version, two CIDs with lengths, token length, 2-byte
    // Length, 4-byte packet number, AEAD tag
    let overhead = 1 + 4 + 1 + dcid.len() + 1 + scid.len() + 1 + 2 + 4 + 16;
    let mut plain = frames.to_vec();
    plain.resize(plain.len().max(min_len.saturating_sub(overhead)), 0);
    seal_client_initial(version, dcid, scid, packet_number, &plain).expect("supported version and CID lengths")
}

/// A client's first flight carrying `hello` (a handshake message): the
/// CRYPTO stream cut into `parts` Initials (packet numbers 0, 1, ...), in
/// packet-number order; the caller picks the delivery order.
pub fn quic_hello_datagrams(version: u32, dcid: &[u8], scid: &[u8], hello: &[u8], parts: usize) -> Vec<Vec<u8>> {
    let chunk = hello.len().div_ceil(parts.max(1));
    hello
        .chunks(chunk)
        .enumerate()
        .map(|(i, part)| {
            let frames = crypto_frame((i * chunk) as u64, part);
            quic_initial(version, dcid, scid, crate::capture::len32(i), &frames, 1200)
        })
        .collect()
}

fn vec16(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(&::wire::len16(data.len()).to_be_bytes());
    out.extend_from_slice(data);
}

fn extension(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    out.extend_from_slice(&kind.to_be_bytes());
    vec16(out, data);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::{dns, http, quic, tls};

    #[test]
    fn hellos_parse_with_sni_ech_and_post_quantum_size() {
        let plain = tls_client_hello(&Hello::sni("1-courier.push.apple.com"));
        let tls::StreamHello::Hello(h) = tls::client_hello_from_stream(&plain) else { panic!("not a hello") };
        assert_eq!((h.sni.as_deref(), h.alpn.as_deref(), h.ech), (Some("1-courier.push.apple.com"), Some("h2"), false));
        let pq = tls_client_hello(&Hello { post_quantum: true, ech: true, ..Hello::sni("cloudflare-ech.com") });
        assert!(pq.len() > 1700, "a post-quantum hello with ECH is about 1.8 KB, got {}", pq.len());
        let tls::StreamHello::Hello(h) = tls::client_hello_from_stream(&pq) else { panic!("not a hello") };
        assert!(h.ech);
        assert!(matches!(tls::client_hello_from_stream(&pq[..1460]), tls::StreamHello::NeedMore { .. }));
        let none = tls_client_hello(&Hello { sni: None, ..Hello::default() });
        let tls::StreamHello::Hello(h) = tls::client_hello_from_stream(&none) else { panic!("not a hello") };
        assert_eq!(h.sni, None);
    }

    #[test]
    fn http_request_names_its_host() {
        let req = http_get("ctldl.windowsupdate.com", "/msdownload/update/v3/static/trustedr/en/authrootstl.cab");
        assert_eq!(http::parse_request_head(&req).unwrap().host, Some("ctldl.windowsupdate.com"));
    }

    #[test]
    fn dns_answers_parse_with_compression() {
        let answers = [
            Answer::cname("www.tiktok.com", 300, "www.tiktok.com.edgesuite.net"),
            Answer::cname("www.tiktok.com.edgesuite.net", 300, "a1.dscd.akamai.net"),
            Answer::a("a1.dscd.akamai.net", 20, "198.51.100.7"),
        ];
        let msg = dns_response(7, "www.tiktok.com", QTYPE_A, &answers);
        let m = dns::Message::new_checked(&msg).unwrap();
        assert!(m.is_response());
        assert_eq!(m.question().unwrap().unwrap().name.as_str(), "www.tiktok.com");
        let records: Vec<_> = m.answers().map(|r| r.unwrap()).collect();
        assert_eq!(records.len(), 3);
        assert_eq!(records[2].data, dns::RecordData::A("198.51.100.7".parse().unwrap()));
        assert_eq!(records[2].ttl, 20);
        let q = dns_query(7, "www.tiktok.com", QTYPE_A);
        assert!(!dns::Message::new_checked(&q).unwrap().is_response());
    }

    #[test]
    fn quic_initials_reassemble_in_any_order() {
        let hello =
            client_hello(&Hello { quic: true, post_quantum: true, alpn: &["h3"], ..Hello::sni("www.google.com") });
        for version in [QUIC_V1, QUIC_V2] {
            let mut parts = quic_hello_datagrams(version, &[1, 2, 3, 4, 5, 6, 7, 8], &[9; 4], &hello, 2);
            assert!(parts.iter().all(|d| d.len() >= 1200));
            parts.reverse();
            let mut initials = quic::ClientInitials::new();
            assert_eq!(initials.on_datagram(&parts[0]), quic::Progress::NeedMore);
            let quic::Progress::Hello(bytes) = initials.on_datagram(&parts[1]) else { panic!("no hello") };
            assert_eq!(tls::parse_client_hello_message(bytes).unwrap().sni.as_deref(), Some("www.google.com"));
        }
    }
}
