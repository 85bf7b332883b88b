//! Small, valid inputs for every target, built here so that the seed corpus
//! (`fuzz/seeds/<target>/`, written by `cargo run --bin seeds`) can always be
//! regenerated and stays in step with the input layouts in `lib.rs`.

use std::net::Ipv4Addr;

use synth::quic::{crypto_frame, seal_client_initial};

/// The Destination Connection ID the `quic_initial` target seals with.
pub const QUIC_DCID: [u8; 8] = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];

const ETH_HEAD: [u8; 12] = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];

pub fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, l4: &[u8]) -> Vec<u8> {
    let total = (20 + l4.len()) as u16;
    let mut p = vec![0x45, 0, (total >> 8) as u8, total as u8, 0, 1, 0x40, 0, 64, protocol, 0, 0];
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(l4);
    p
}

pub fn ipv6(protocol: u8, l4: &[u8]) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&(l4.len() as u16).to_be_bytes());
    p.extend_from_slice(&[protocol, 64]);
    p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    p.extend_from_slice(&[0x24, 0x03, 0x03, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    p.extend_from_slice(l4);
    p
}

pub fn ethernet(ethertype: u16, vlans: &[u16], payload: &[u8]) -> Vec<u8> {
    let mut f = ETH_HEAD.to_vec();
    for (i, v) in vlans.iter().enumerate() {
        f.extend_from_slice(if i == 0 && vlans.len() > 1 { &[0x88, 0xa8] } else { &[0x81, 0x00] });
        f.extend_from_slice(&v.to_be_bytes());
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

pub fn tcp(sp: u16, dp: u16, seq: u32, flags: u8, data: &[u8]) -> Vec<u8> {
    let mut s = sp.to_be_bytes().to_vec();
    s.extend_from_slice(&dp.to_be_bytes());
    s.extend_from_slice(&seq.to_be_bytes());
    s.extend_from_slice(&[0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    s.extend_from_slice(data);
    s
}

pub fn udp(sp: u16, dp: u16, data: &[u8]) -> Vec<u8> {
    let mut d = sp.to_be_bytes().to_vec();
    d.extend_from_slice(&dp.to_be_bytes());
    d.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
    d.extend_from_slice(&[0, 0]);
    d.extend_from_slice(data);
    d
}

/// A ClientHello handshake message (type, 3-byte length, body) with SNI,
/// ALPN and optionally an ECH extension.
pub fn client_hello_message(sni: &str, ech: bool) -> Vec<u8> {
    let n = sni.as_bytes();
    let mut exts = Vec::new();
    let mut sni_ext = ((n.len() + 3) as u16).to_be_bytes().to_vec();
    sni_ext.push(0);
    sni_ext.extend_from_slice(&(n.len() as u16).to_be_bytes());
    sni_ext.extend_from_slice(n);
    exts.extend_from_slice(&[0, 0]);
    exts.extend_from_slice(&(sni_ext.len() as u16).to_be_bytes());
    exts.extend_from_slice(&sni_ext);
    // ALPN: a GREASE value, then h2.
    exts.extend_from_slice(&[0, 16, 0, 8, 0, 6, 2, 0x0a, 0x0a, 2, b'h', b'2']);
    if ech {
        exts.extend_from_slice(&[0xfe, 0x0d, 0, 4, 0, 0, 1, 0]);
    }
    let mut body = vec![3, 3];
    body.extend_from_slice(&[0x11; 32]);
    body.extend_from_slice(&[0, 0, 4, 0x13, 0x01, 0x13, 0x02, 1, 0]);
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend_from_slice(&exts);
    let mut msg = vec![1];
    msg.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    msg.extend_from_slice(&body);
    msg
}

/// `msg` in TLS handshake records of at most `fragment` bytes each.
pub fn tls_records(msg: &[u8], fragment: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for part in msg.chunks(fragment.max(1)) {
        out.extend_from_slice(&[0x16, 3, 1]);
        out.extend_from_slice(&(part.len() as u16).to_be_bytes());
        out.extend_from_slice(part);
    }
    out
}

fn dns_name(name: &str) -> Vec<u8> {
    let mut v = Vec::new();
    for label in name.split('.').filter(|l| !l.is_empty()) {
        v.push(label.len() as u8);
        v.extend_from_slice(label.as_bytes());
    }
    v.push(0);
    v
}

pub fn dns_query(id: u16, name: &str) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&[1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    m.extend_from_slice(&dns_name(name));
    m.extend_from_slice(&[0, 1, 0, 1]);
    m
}

/// A response with a CNAME (compressed, pointing at the question) then an
/// A and an AAAA record.
pub fn dns_response(id: u16, name: &str) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&[0x81, 0x80, 0, 1, 0, 3, 0, 0, 0, 0]);
    m.extend_from_slice(&dns_name(name));
    m.extend_from_slice(&[0, 1, 0, 1]);
    // CNAME edge.<question name>
    m.extend_from_slice(&[0xc0, 0x0c, 0, 5, 0, 1, 0, 0, 0, 60, 0, 7, 4, b'e', b'd', b'g', b'e', 0xc0, 0x0c]);
    let cname_at = m.len() - 7;
    m.extend_from_slice(&[0xc0 | (cname_at >> 8) as u8, cname_at as u8, 0, 1, 0, 1, 0, 0, 1, 0x2c, 0, 4, 17, 0, 0, 9]);
    m.extend_from_slice(&[0xc0, 0x0c, 0, 28, 0, 1, 0x80, 0, 0, 0, 0, 16]);
    m.extend_from_slice(&[0x24, 0x03, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]);
    m
}

pub fn tcp_dns(msg: &[u8]) -> Vec<u8> {
    let mut v = (msg.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(msg);
    v
}

/// The CRYPTO frame carrying `hello`, padded like a real first Initial.
pub fn quic_plaintext(hello: &[u8], offset: u64, pad_to: usize) -> Vec<u8> {
    let mut frames = crypto_frame(offset, hello);
    if frames.len() < pad_to {
        frames.resize(pad_to, 0);
    }
    frames
}

fn chunk(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(&(data.len() as u16).to_be_bytes());
    out.extend_from_slice(data);
}

pub fn pcap(nanos: bool, big_endian: bool, link: u32, frames: &[&[u8]]) -> Vec<u8> {
    let w = |v: &mut Vec<u8>, x: u32| v.extend_from_slice(&if big_endian { x.to_be_bytes() } else { x.to_le_bytes() });
    let mut v = Vec::new();
    w(&mut v, if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 });
    w(&mut v, 0x0002_0004u32.rotate_left(if big_endian { 0 } else { 16 }));
    w(&mut v, 0);
    w(&mut v, 0);
    w(&mut v, 65535);
    w(&mut v, link);
    for (i, f) in frames.iter().enumerate() {
        w(&mut v, 1_700_000_000 + i as u32);
        w(&mut v, 5);
        w(&mut v, f.len() as u32);
        w(&mut v, f.len() as u32 + 4);
        v.extend_from_slice(f);
    }
    v
}

fn block(t: u32, body: &[u8]) -> Vec<u8> {
    let len = 12 + body.len().next_multiple_of(4);
    let mut v = t.to_le_bytes().to_vec();
    v.extend_from_slice(&(len as u32).to_le_bytes());
    v.extend_from_slice(body);
    v.resize(len - 4, 0);
    v.extend_from_slice(&(len as u32).to_le_bytes());
    v
}

/// A pcapng file: SHB, an Ethernet IDB, a raw-IP IDB with nanosecond
/// stamps, enhanced packet blocks on both, a simple packet block and an
/// unknown block.
pub fn pcapng(eth: &[u8], raw: &[u8]) -> Vec<u8> {
    let mut f =
        block(0x0A0D_0D0A, &[0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    f.extend(block(1, &[1, 0, 0, 0, 0, 0, 0, 0]));
    f.extend(block(1, &[101, 0, 0, 0, 0, 0, 0, 0, 9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0]));
    let epb = |iface: u32, ts: u64, data: &[u8]| {
        let mut b = iface.to_le_bytes().to_vec();
        b.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        b.extend_from_slice(&(ts as u32).to_le_bytes());
        b.extend_from_slice(&(data.len() as u32).to_le_bytes());
        b.extend_from_slice(&(data.len() as u32).to_le_bytes());
        b.extend_from_slice(data);
        block(6, &b)
    };
    f.extend(epb(0, 1_700_000_000_000_000, eth));
    f.extend(epb(1, 1_700_000_000_000_000_123, raw));
    f.extend(block(0x0BAD, b"custom"));
    let mut spb = (eth.len() as u32).to_le_bytes().to_vec();
    spb.extend_from_slice(eth);
    f.extend(block(3, &spb));
    f
}

const C: Ipv4Addr = Ipv4Addr::new(10, 1, 2, 3);
const S: Ipv4Addr = Ipv4Addr::new(17, 253, 1, 1);
const RESOLVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 53);
const SNI: &str = "1-courier.push.apple.com";

/// IP packets of a small session: DNS, a TLS flow, an HTTP request, a QUIC
/// Initial, ICMP.
fn session_packets() -> Vec<Vec<u8>> {
    let hello = tls_records(&client_hello_message(SNI, false), 4096);
    let quic_initial = seal_client_initial(
        1,
        &QUIC_DCID,
        &[1, 2, 3, 4],
        0,
        &quic_plaintext(&client_hello_message("www.tiktok.com", false), 0, 1162),
    )
    .expect("sealable");
    vec![
        ipv4(C, RESOLVER, 17, &udp(40000, 53, &dns_query(7, SNI))),
        ipv4(RESOLVER, C, 17, &udp(53, 40000, &dns_response(7, SNI))),
        ipv4(C, S, 6, &tcp(50000, 443, 1000, 0x02, &[])),
        ipv4(S, C, 6, &tcp(443, 50000, 9000, 0x12, &[])),
        ipv4(C, S, 6, &tcp(50000, 443, 1001, 0x10, &[])),
        ipv4(C, S, 6, &tcp(50000, 443, 1001, 0x18, &hello)),
        ipv4(S, C, 6, &tcp(443, 50000, 9001, 0x10, &[0x17; 64])),
        ipv4(C, S, 6, &tcp(50000, 443, 1001 + hello.len() as u32, 0x11, &[])),
        ipv4(C, S, 6, &tcp(50001, 80, 5, 0x18, b"GET / HTTP/1.1\r\nHost: www.huawei.com\r\nUser-Agent: x\r\n\r\n")),
        ipv4(C, S, 17, &udp(50002, 443, &quic_initial)),
        ipv4(C, S, 1, &[8, 0, 0, 0, 0, 1, 0, 1]),
        ipv6(6, &tcp(50003, 443, 77, 0x02, &[])),
    ]
}

/// Seeds per target: (target, [(file name, bytes)]).
pub fn all() -> Vec<(&'static str, Vec<(String, Vec<u8>)>)> {
    let packets = session_packets();
    let eth_frames: Vec<Vec<u8>> =
        packets.iter().map(|p| ethernet(if p[0] >> 4 == 6 { 0x86dd } else { 0x0800 }, &[], p)).collect();
    let mut out = Vec::new();

    // decode: [selector][frame]; selector = index into LINKS.
    let mut decode = Vec::new();
    let sll = |v2: bool, p: &[u8]| {
        let mut h = vec![0u8; if v2 { 20 } else { 16 }];
        let at = if v2 { 0 } else { 14 };
        h[at] = 0x08;
        h.extend_from_slice(p);
        h
    };
    let with = |sel: u8, f: &[u8]| [&[sel][..], f].concat();
    decode.push(("ethernet_tcp".into(), with(0, &eth_frames[5])));
    decode.push(("ethernet_qinq_udp".into(), with(0, &ethernet(0x0800, &[100, 30], &packets[0]))));
    decode.push(("ethernet_ipv6".into(), with(0, &eth_frames[11])));
    decode.push(("ethernet_arp".into(), with(0, &ethernet(0x0806, &[], &[0, 1, 8, 0, 6, 4, 0, 1]))));
    decode.push(("raw_ipv4".into(), with(1, &packets[1])));
    decode.push(("null_ipv4".into(), with(2, &[&[2, 0, 0, 0][..], &packets[2]].concat())));
    decode.push(("loop_ipv6".into(), with(3, &[&[0, 0, 0, 24][..], &packets[11]].concat())));
    decode.push(("sll_ipv4".into(), with(4, &sll(false, &packets[9]))));
    decode.push(("sll2_ipv4".into(), with(5, &sll(true, &packets[8]))));
    let mut frag = packets[0].clone();
    frag[6] = 0x20;
    decode.push(("raw_fragment".into(), with(1, &frag)));
    let mut v6_ext = ipv6(0, &[]);
    v6_ext.extend_from_slice(&[44, 0, 0, 0, 0, 0, 0, 0, 17, 0, 0, 0, 0, 0, 0, 0]);
    decode.push(("raw_ipv6_hop_by_hop".into(), with(1, &v6_ext)));
    out.push(("decode", decode));

    // capture_reader: whole files.
    let refs: Vec<&[u8]> = eth_frames.iter().map(Vec::as_slice).collect();
    let raw: Vec<&[u8]> = packets.iter().map(Vec::as_slice).collect();
    out.push((
        "capture_reader",
        vec![
            ("pcap_le_us_eth.pcap".into(), pcap(false, false, 1, &refs[..4])),
            ("pcap_be_ns_raw.pcap".into(), pcap(true, true, 101, &raw[..4])),
            ("pcap_sll2.pcap".into(), pcap(false, false, 276, &[&sll(true, &packets[0])])),
            ("pcapng_two_ifaces.pcapng".into(), pcapng(&eth_frames[0], &packets[1])),
        ],
    ));

    let hello = client_hello_message(SNI, false);
    out.push((
        "tls_hello",
        vec![
            ("record.bin".into(), tls_records(&hello, 16384)),
            ("fragmented.bin".into(), tls_records(&hello, 40)),
            ("ech.bin".into(), tls_records(&client_hello_message("cover.example.net", true), 16384)),
            ("message.bin".into(), hello.clone()),
        ],
    ));

    out.push((
        "dns",
        vec![
            ("query.bin".into(), dns_query(1, SNI)),
            ("response.bin".into(), dns_response(2, "www.tiktok.com")),
            ("tcp_response.bin".into(), tcp_dns(&dns_response(3, "api.huawei.com"))),
        ],
    ));

    out.push((
        "http",
        vec![
            (
                "get.bin".into(),
                b"GET /index.html HTTP/1.1\r\nHost: www.example.com:8080\r\nUser-Agent: curl/8\r\n\r\n".to_vec(),
            ),
            ("absolute.bin".into(), b"GET http://[2001:db8::1]:80/x HTTP/1.0\r\nHost: ignored\r\n\r\n".to_vec()),
            ("connect.bin".into(), b"CONNECT api.tiktokv.com:443 HTTP/1.1\r\n\r\n".to_vec()),
            ("cut.bin".into(), b"POST /upload HTTP/1.1\r\nUser-Agent: a\r\nHo".to_vec()),
        ],
    ));

    // quic_initial: mode 0 = wire datagrams; mode 1 (| version << 1) = plaintext frames.
    let quic_hello = client_hello_message("www.tiktok.com", false);
    let (first, second) = quic_hello.split_at(quic_hello.len() / 2);
    let mut wire = vec![0u8];
    let mut wire2 = vec![0u8];
    for (pn, frames) in
        [quic_plaintext(first, 0, 1162), quic_plaintext(second, first.len() as u64, 1162)].iter().enumerate()
    {
        let sealed = seal_client_initial(1, &QUIC_DCID, &[9; 8], pn as u32, frames).expect("sealable");
        chunk(&mut wire, &sealed);
        // The same, second packet coalesced after a garbage short header.
        chunk(&mut wire2, &sealed);
    }
    chunk(&mut wire2, &[0x40, 1, 2, 3]);
    let mut plain_v1 = vec![1u8];
    chunk(&mut plain_v1, &quic_plaintext(&quic_hello, 0, 300));
    let mut plain_v2_split = vec![3u8];
    chunk(&mut plain_v2_split, &[crypto_frame(first.len() as u64, second), vec![1, 0, 0]].concat());
    chunk(&mut plain_v2_split, &crypto_frame(0, first));
    out.push((
        "quic_initial",
        vec![
            ("wire_v1_two_packets.bin".into(), wire),
            ("wire_v1_then_short.bin".into(), wire2),
            ("plain_v1.bin".into(), plain_v1),
            ("plain_v2_reordered.bin".into(), plain_v2_split),
        ],
    ));

    let small = "vendor = \"acme\"\ndisplay_name = \"Acme\"\n\n[[entry]]\nservice = \"cloud\"\nsource = \"test\"\nhosts = [\"a.acme.example\"]\nsuffixes = [\"acme.example\"]\ncidrs = [\"192.0.2.0/24\", \"2001:db8::/32\"]\nports = [\"tcp/443\", \"udp/3478-3481\"]\n";
    // The same entries claimed by a second vendor, and a vendor of its own.
    let conflict = small.replace("vendor = \"acme\"", "vendor = \"other\"");
    let other = small
        .replace("acme", "other")
        .replace("192.0.2.0/24", "198.51.100.0/24")
        .replace("2001:db8::/32", "2001:db9::/32");
    let segments = "[[segment]]\nname = \"hq\"\ncidrs = [\"10.0.0.0/8\"]\nvlans = [30]\n\nbanned = [\"huawei\"]\n";
    out.push((
        "signatures",
        vec![
            ("small.toml".into(), small.as_bytes().to_vec()),
            ("two_files_conflict.bin".into(), [small.as_bytes(), &[0xff], conflict.as_bytes()].concat()),
            ("two_files.bin".into(), [small.as_bytes(), &[0xff], other.as_bytes()].concat()),
            ("apple.toml".into(), include_bytes!("../../signatures/apple.toml").to_vec()),
            ("segments.toml".into(), segments.as_bytes().to_vec()),
        ],
    ));

    // pipeline: [max flows] then [selector][time step][len u16][frame]...
    let mut session = vec![7u8];
    for f in &eth_frames {
        session.extend_from_slice(&[0, 1]);
        chunk(&mut session, f);
    }
    let mut mixed = vec![1u8];
    for (i, p) in packets.iter().enumerate() {
        // Raw IP on interface 1, a long pause in the middle (idle timeouts).
        mixed.extend_from_slice(&[0x81, if i == 6 { 255 } else { 0 }]);
        chunk(&mut mixed, p);
    }
    out.push(("pipeline", vec![("session_ethernet.bin".into(), session), ("raw_tight_table.bin".into(), mixed)]));
    out
}

fn link_selector(link: vendorwatch::source::LinkType) -> u8 {
    crate::LINKS.iter().position(|&l| l == link).unwrap_or(crate::LINKS.len() - 1) as u8
}

/// The first `max_frames` frames of a capture file as a `pipeline` input,
/// or `None` if it does not read.
pub fn pipeline_input_from_capture(file: &[u8], max_frames: usize) -> Option<Vec<u8>> {
    let mut r = vendorwatch::source::file::CaptureReader::from_reader(file).ok()?;
    let mut out = vec![7u8];
    let mut last = None;
    for _ in 0..max_frames {
        let Ok(Some(f)) = r.next_frame() else { break };
        let step = last.map_or(0, |l: u64| (f.ts_ns.saturating_sub(l) / 250_000_000).min(255) as u8);
        last = Some(f.ts_ns);
        out.extend_from_slice(&[link_selector(f.link) | ((f.interface as u8 & 1) << 7), step]);
        chunk(&mut out, &f.data[..f.data.len().min(u16::MAX as usize)]);
    }
    (out.len() > 1).then_some(out)
}

/// Up to `max_frames` frames of a capture file as `decode` inputs.
pub fn decode_inputs_from_capture(file: &[u8], max_frames: usize) -> Vec<Vec<u8>> {
    let Ok(mut r) = vendorwatch::source::file::CaptureReader::from_reader(file) else { return Vec::new() };
    let mut out = Vec::new();
    for _ in 0..max_frames {
        let Ok(Some(f)) = r.next_frame() else { break };
        out.push([&[link_selector(f.link)][..], f.data].concat());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::{dns, quic, tls};

    fn seed(target: &str, name: &str) -> Vec<u8> {
        let (_, files) = all().into_iter().find(|(t, _)| *t == target).expect("target");
        files.into_iter().find(|(n, _)| n == name).expect("seed").1
    }

    /// The seeds must reach the deep paths, or mutating them explores little.
    #[test]
    fn seeds_reach_what_they_are_for() {
        let hello = |b: &[u8]| match tls::client_hello_from_stream(b) {
            tls::StreamHello::Hello(h) => h,
            other => panic!("no hello: {other:?}"),
        };
        assert_eq!(hello(&seed("tls_hello", "fragmented.bin")).sni.as_deref(), Some(SNI));
        assert!(hello(&seed("tls_hello", "ech.bin")).ech);
        let m = seed("dns", "response.bin");
        let msg = dns::Message::new_checked(&m).unwrap();
        assert_eq!(msg.answers().filter(|r| r.is_ok()).count(), 3);

        for name in ["wire_v1_two_packets.bin", "plain_v1.bin", "plain_v2_reordered.bin"] {
            let input = seed("quic_initial", name);
            let mode = input[0];
            let mut initials = quic::ClientInitials::new();
            let version = [1, 0x6b33_43cf, 0xff00_001d, 1][usize::from(mode >> 1) & 3];
            let mut got = false;
            for (pn, c) in crate::chunks(&input[1..]).enumerate() {
                let sealed;
                let d = if mode & 1 == 1 {
                    sealed = seal_client_initial(version, &QUIC_DCID, &[1, 2, 3, 4], pn as u32, c).unwrap();
                    &sealed[..]
                } else {
                    c
                };
                if let quic::Progress::Hello(b) = initials.on_datagram(d) {
                    assert_eq!(tls::parse_client_hello_message(b).unwrap().sni.as_deref(), Some("www.tiktok.com"));
                    got = true;
                }
            }
            assert!(got, "{name} gives no ClientHello");
        }
        for name in ["small.toml", "two_files.bin", "apple.toml"] {
            let data = seed("signatures", name);
            let files: Vec<_> = data.split(|&b| b == 0xff).map(|t| crate::file_named_by_vendor(t, "a")).collect();
            if let Err(p) = vendorwatch::classify::signatures::SignatureSet::from_files(files) {
                panic!("{name} does not load: {p}")
            }
        }
        for name in ["pcap_le_us_eth.pcap", "pcap_be_ns_raw.pcap", "pcap_sll2.pcap", "pcapng_two_ifaces.pcapng"] {
            let file = seed("capture_reader", name);
            let mut r = vendorwatch::source::file::CaptureReader::from_reader(&file[..]).unwrap();
            let mut n = 0;
            while let Some(f) = r.next_frame().unwrap() {
                assert!(vendorwatch::decode::decode(f.link, f.data).is_ok(), "{name}: frame {n}");
                n += 1;
            }
            assert!(n >= 1, "{name}");
        }
    }
}
