//! Small, valid inputs for every target, built here so that the seed corpus
//! (`fuzz/seeds/<target>/`, written by `cargo run --bin seeds`) can always be
//! regenerated and stays in step with the input layouts in `lib.rs`.

use ::wire::ip::IPPROTO_ICMP;
use synth::app::{self, Answer, Hello};
use synth::capture::{NgInterface, PcapFormat, PcapNg, Record, pcap_bytes};
use synth::conv::Path;
use synth::quic::{crypto_frame, google_crypto_frame, gquic_public_packet, gquic_stream_frame, seal_client_initial};
use synth::tunnel;
use synth::wire::{
    self, ACK, Extension, FIN, IPPROTO_UDP, IpExtras, LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL2, LINKTYPE_RAW, Link, PSH,
    SYN,
};

/// The Destination Connection ID the `quic_initial` target seals with.
pub const QUIC_DCID: [u8; 8] = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];

/// A ClientHello handshake message (type, 3-byte length, body) with SNI,
/// ALPN and optionally an ECH extension.
pub fn client_hello_message(sni: &str, ech: bool) -> Vec<u8> {
    app::client_hello(&Hello { ech, ..Hello::sni(sni) })
}

/// A response with a CNAME then an A and an AAAA record.
pub fn dns_response(id: u16, name: &str) -> Vec<u8> {
    let edge = format!("edge.{name}");
    let answers =
        [Answer::cname(name, 60, &edge), Answer::a(&edge, 300, "17.0.0.9"), Answer::aaaa(&edge, 300, "2403:300::9")];
    app::dns_response(id, name, app::QTYPE_A, &answers)
}

fn dns_query(id: u16, name: &str) -> Vec<u8> {
    app::dns_query(id, name, app::QTYPE_A)
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

/// A classic pcap file of `frames`, one second apart.
fn pcap(nanos: bool, big_endian: bool, linktype: u32, frames: &[&[u8]]) -> Vec<u8> {
    let records: Vec<Record> = frames
        .iter()
        .enumerate()
        .map(|(i, f)| Record::new(T0 + i as u64 * 1_000_000_000 + 5_000, f.to_vec()))
        .collect();
    pcap_bytes(PcapFormat { linktype, big_endian, nanos, snaplen: 65535 }, &records)
}

/// A pcapng file: an Ethernet interface, a raw-IP interface with
/// nanosecond stamps, enhanced packet blocks on both, an unknown block and
/// a simple packet block.
pub fn pcapng(eth: &[u8], raw: &[u8]) -> Vec<u8> {
    let mut ng = PcapNg::new();
    ng.interface(NgInterface { linktype: LINKTYPE_ETHERNET, snaplen: 65535, nanos: false, name: "eth0" });
    ng.interface(NgInterface { linktype: LINKTYPE_RAW, snaplen: 65535, nanos: true, name: "tun0" });
    ng.packet(&Record { ts_ns: T0, data: eth.to_vec(), interface: 0 });
    ng.packet(&Record { ts_ns: T0 + 123, data: raw.to_vec(), interface: 1 });
    ng.custom_block(0x0BAD, b"custom");
    ng.simple_packet(eth);
    ng.finish()
}

/// Capture time of the first frame.
const T0: u64 = 1_700_000_000_000_000_000;
const SNI: &str = "1-courier.push.apple.com";

/// IP packets of a small session: DNS, a TLS flow, an HTTP request, a QUIC
/// Initial, ICMP.
fn session_packets() -> Vec<Vec<u8>> {
    let raw = |client: &str, server: &str| Path::new(client, server).with_link(Link::Raw);
    let dns = raw("10.1.2.3:40000", "10.0.0.53:53");
    let tls = raw("10.1.2.3:50000", "17.253.1.1:443");
    let http = raw("10.1.2.3:50001", "17.253.1.1:80");
    let quic = raw("10.1.2.3:50002", "17.253.1.1:443");
    let v6 = raw("[2001:db8::1]:50003", "[2403:300::2]:443");
    let hello = app::handshake_records(&client_hello_message(SNI, false));
    let quic_initial = seal_client_initial(
        1,
        &QUIC_DCID,
        &[1, 2, 3, 4],
        0,
        &quic_plaintext(&client_hello_message("www.tiktok.com", false), 0, 1162),
    )
    .expect("sealable");
    let icmp_echo = [8, 0, 0, 0, 0, 1, 0, 1];
    vec![
        dns.udp(true, &dns_query(7, SNI)),
        dns.udp(false, &dns_response(7, SNI)),
        tls.tcp(true, 1000, 0, SYN, &[]),
        tls.tcp(false, 9000, 1001, SYN | ACK, &[]),
        tls.tcp(true, 1001, 9001, ACK, &[]),
        tls.tcp(true, 1001, 9001, PSH | ACK, &hello),
        tls.tcp(false, 9001, 1001 + hello.len() as u32, ACK, &[0x17; 64]),
        tls.tcp(true, 1001 + hello.len() as u32, 9065, FIN | ACK, &[]),
        http.tcp(true, 5, 0, PSH, b"GET / HTTP/1.1\r\nHost: www.huawei.com\r\nUser-Agent: x\r\n\r\n"),
        quic.udp(true, &quic_initial),
        wire::ip_packet(tls.client.ip(), tls.server.ip(), IPPROTO_ICMP, &icmp_echo, &IpExtras::default(), 1),
        v6.tcp(true, 77, 0, SYN, &[]),
    ]
}

/// Seeds per target: (target, [(file name, bytes)]).
pub fn all() -> Vec<(&'static str, Vec<(String, Vec<u8>)>)> {
    let packets = session_packets();
    let eth_frames: Vec<Vec<u8>> = packets.iter().map(|p| Link::ethernet().frame(p)).collect();
    let mut out = Vec::new();

    // decode: [selector][frame]; selector = index into LINKS.
    let mut decode = Vec::new();
    let with = |sel: u8, f: &[u8]| [&[sel][..], f].concat();
    decode.push(("ethernet_tcp".into(), with(0, &eth_frames[5])));
    decode.push(("ethernet_qinq_udp".into(), with(0, &Link::qinq(100, 30).frame(&packets[0]))));
    decode.push(("ethernet_ipv6".into(), with(0, &eth_frames[11])));
    decode.push(("ethernet_arp".into(), with(0, &wire::arp_request([10, 1, 2, 3], [10, 0, 0, 1]))));
    decode.push(("raw_ipv4".into(), with(1, &packets[1])));
    decode.push(("null_ipv4".into(), with(2, &Link::Null.frame(&packets[2]))));
    // OpenBSD loopback: the address family (24, IPv6) in network order.
    decode.push(("loop_ipv6".into(), with(3, &[&[0, 0, 0, 24][..], &packets[11]].concat())));
    decode.push(("sll_ipv4".into(), with(4, &Link::LinuxSll.frame(&packets[9]))));
    decode.push(("sll2_ipv4".into(), with(5, &Link::LinuxSll2.frame(&packets[8]))));
    let mut frag = packets[0].clone();
    frag[6] = 0x20; // more fragments, offset 0
    decode.push(("raw_fragment".into(), with(1, &frag)));
    let extras = IpExtras {
        v6_extensions: vec![Extension::hop_by_hop(), Extension::fragment(0, false, 7)],
        ..IpExtras::default()
    };
    let (c6, s6) = ("2001:db8::1".parse().unwrap(), "2403:300::2".parse().unwrap());
    decode.push(("raw_ipv6_hop_by_hop".into(), with(1, &wire::ip_packet(c6, s6, IPPROTO_UDP, &[], &extras, 0))));
    // The link layers after the first seven selectors of LINKS.
    let links = [
        ("ppp_ipv4", Link::Ppp { hdlc: false }),
        ("ppp_hdlc_ipv4", Link::Ppp { hdlc: true }),
        ("chdlc_ipv4", Link::CiscoHdlc),
        ("nflog_ipv4", Link::Nflog { group: 5 }),
        ("radiotap_qos_data", Link::Radiotap { bssid: [0x02, 0, 0, 0, 0, 0xb5] }),
        ("ethernet_fcs_ipv4", Link::EthernetFcs),
    ];
    for (i, (name, link)) in links.into_iter().enumerate() {
        decode.push((name.into(), with(7 + i as u8, &link.frame(&packets[5]))));
    }
    decode.push(("ethernet_llc_snap".into(), with(0, &Link::Ieee8023Snap.frame(&packets[5]))));
    // UDP tunnels, each around the session's ClientHello packet.
    let (near, far) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
    let outer = |dst_port: u16, data: &[u8]| {
        let (s, d) = (std::net::SocketAddr::new(near, 40000), std::net::SocketAddr::new(far, dst_port));
        Link::ethernet().frame(&wire::ip_packet(
            near,
            far,
            IPPROTO_UDP,
            &wire::udp_datagram(s, d, data),
            &IpExtras::default(),
            1,
        ))
    };
    let v6_hello = &packets[11];
    decode.push((
        "teredo_ipv6".into(),
        with(
            0,
            &outer(
                tunnel::TEREDO_PORT,
                &tunnel::teredo(None, Some((std::net::Ipv4Addr::new(192, 0, 2, 9), 40000)), v6_hello),
            ),
        ),
    ));
    decode.push((
        "ayiya_ipv6".into(),
        with(0, &outer(tunnel::AYIYA_PORT, &tunnel::ayiya([1; 16], [2; 20], 9, v6_hello))),
    ));
    let gre = tunnel::gre(tunnel::GreFields { key: Some(7), ..Default::default() }, wire::ETHERTYPE_IPV4, &packets[5]);
    decode.push(("gre_udp_ipv4".into(), with(0, &outer(tunnel::GRE_UDP_PORT, &gre))));
    let l2tp = tunnel::l2tp_v2(1, 2, &tunnel::ppp_frame(&packets[5]));
    decode.push(("l2tp_ppp_ipv4".into(), with(0, &outer(tunnel::L2TP_PORT, &l2tp))));
    let v3 = tunnel::l2tp_v3(9, &[1, 2, 3, 4], &eth_frames[5]);
    decode.push((
        "l2tpv3_ethernet".into(),
        with(1, &wire::ip_packet(near, far, tunnel::IPPROTO_L2TP, &v3, &IpExtras::default(), 1)),
    ));
    out.push(("decode", decode));

    // capture_reader: whole files.
    let refs: Vec<&[u8]> = eth_frames.iter().map(Vec::as_slice).collect();
    let raw: Vec<&[u8]> = packets.iter().map(Vec::as_slice).collect();
    out.push((
        "capture_reader",
        vec![
            ("pcap_le_us_eth.pcap".into(), pcap(false, false, LINKTYPE_ETHERNET, &refs[..4])),
            ("pcap_be_ns_raw.pcap".into(), pcap(true, true, LINKTYPE_RAW, &raw[..4])),
            ("pcap_sll2.pcap".into(), pcap(false, false, LINKTYPE_LINUX_SLL2, &[&Link::LinuxSll2.frame(&packets[0])])),
            ("pcapng_two_ifaces.pcapng".into(), pcapng(&eth_frames[0], &packets[1])),
            // The hostile stamps: one record stamped all ones, one dated 2106.
            ("time_all_ones.pcapng".into(), fixture("time_all_ones.pcapng")),
            ("time_2106.pcap".into(), fixture("time_2106.pcap")),
        ],
    ));

    let hello = client_hello_message(SNI, false);
    out.push((
        "tls_hello",
        vec![
            ("record.bin".into(), app::handshake_records(&hello)),
            ("fragmented.bin".into(), app::handshake_records_of(&hello, 40)),
            ("ech.bin".into(), app::handshake_records(&client_hello_message("cover.example.net", true))),
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
            // The Host flood's head: a 3,000-byte Host that never ends.
            ("endless_host.bin".into(), [&b"GET / HTTP/1.1\r\nHost: "[..], &[b'h'; 3000]].concat()),
        ],
    ));

    out.push(("stun", vec![("binding.bin".into(), stun_binding(b"Skype"))]));

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
    // Google QUIC: a plaintext Q043 CHLO on the wire, and Q050's CHLO in a
    // Google CRYPTO frame (mode 6 << 1 | 1 seals it as Q050).
    let chlo = synth::quic::chlo(Some("www.tiktok.com"), Some("Chrome/83"), 1000);
    let mut wire_q043 = vec![0u8];
    chunk(&mut wire_q043, &gquic_public_packet(0x5130_3433, [7; 8], 1, &gquic_stream_frame(0, &chlo, true)));
    let mut plain_q050 = vec![13u8];
    chunk(&mut plain_q050, &google_crypto_frame(0, &chlo));
    out.push((
        "quic_initial",
        vec![
            ("wire_v1_two_packets.bin".into(), wire),
            ("wire_v1_then_short.bin".into(), wire2),
            ("plain_v1.bin".into(), plain_v1),
            ("plain_v2_reordered.bin".into(), plain_v2_split),
            ("wire_q043_chlo.bin".into(), wire_q043),
            ("plain_q050_chlo.bin".into(), plain_q050),
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
    // The hostile captures, small: four flows of the Host flood (two
    // segments of head each) and lookups whose answers alone attribute
    // the connections that follow.
    let flood: Vec<Record> = synth::fixtures::host_header_flood(4, 2000).collect();
    let flood = pipeline_input_from_capture(&pcap_bytes(PcapFormat::new(LINKTYPE_ETHERNET), &flood), 64);
    let answers = pipeline_input_from_capture(&synth::fixtures::dns_then_connect(3), 64);
    out.push((
        "pipeline",
        vec![
            ("session_ethernet.bin".into(), session),
            ("raw_tight_table.bin".into(), mixed),
            ("host_flood.bin".into(), flood.expect("the flood reads")),
            ("dns_then_connect.bin".into(), answers.expect("the capture reads")),
        ],
    ));
    // stream: [port selector][2-byte length][direction byte][payload]...
    let conversation = |port: u8, steps: &[(u8, &[u8])]| {
        let mut input = vec![port];
        for (dir, payload) in steps {
            chunk(&mut input, &[&[*dir][..], payload].concat());
        }
        input
    };
    let hello = app::tls_client_hello(&app::Hello::sni(SNI));
    let starttls: [(u8, &[u8]); 5] =
        [(1, b"220 mx ESMTP\r\n"), (0, b"EHLO c\r\n"), (0, b"STARTTLS\r\n"), (1, b"220 go\r\n"), (0, &hello)];
    let pg_request = [0u8, 0, 0, 8, 4, 0xd2, 0x16, 0x2f];
    let postgres: [(u8, &[u8]); 3] = [(0, &pg_request), (1, b"S"), (0, &hello)];
    let connect: [(u8, &[u8]); 3] =
        [(0, b"CONNECT a.example:443 HTTP/1.1\r\n\r\n"), (1, b"HTTP/1.1 200 OK\r\n\r\n"), (0, &hello)];
    out.push((
        "stream",
        vec![
            ("smtp_starttls.bin".into(), conversation(0, &starttls)),
            ("postgres.bin".into(), conversation(7, &postgres)),
            ("connect.bin".into(), conversation(9, &connect)),
        ],
    ));
    // dhcp, mdns, discovery, device_facts: the datagrams the devices of
    // the office fixture send, and a Windows laptop's DHCPv6 Solicit.
    let datagrams = udp_payloads(&fixture("devices.pcap"));
    let on_port = |port: u16| -> Vec<(u8, Vec<u8>)> {
        let from_server = |src: u16| u8::from(src == port && !matches!(port, 5353 | 37020 | 37810));
        datagrams
            .iter()
            .filter(|(s, d, _)| *s == port || *d == port)
            .map(|(s, _, p)| (from_server(*s), p.clone()))
            .collect()
    };
    let solicit = dhcpv6_solicit();
    let mut dhcp = vec![("v6_solicit.bin".into(), solicit.clone())];
    dhcp.extend(on_port(67).into_iter().enumerate().map(|(i, (_, p))| (format!("v4_request_{i}.bin"), p)));
    out.push(("dhcp", dhcp));
    let mdns = on_port(5353).into_iter().enumerate().map(|(i, (_, p))| (format!("response_{i}.bin"), p)).collect();
    out.push(("mdns", mdns));
    let mut discovery = Vec::new();
    for (port, kind) in [(1900, "ssdp"), (3702, "ws_discovery"), (37020, "sadp"), (37810, "dhip")] {
        discovery.extend(on_port(port).into_iter().enumerate().map(|(i, (_, p))| (format!("{kind}_{i}.bin"), p)));
    }
    out.push(("discovery", discovery));
    let mut facts = Vec::new();
    for (i, &(client, server)) in crate::DEVICE_PORTS.iter().enumerate() {
        let steps = if client == 546 { vec![(0, solicit.clone())] } else { on_port(server) };
        let mut input = vec![i as u8];
        for (dir, payload) in &steps {
            chunk(&mut input, &[&[*dir][..], payload].concat());
        }
        facts.push((format!("port_{server}.bin"), input));
    }
    out.push(("device_facts", facts));
    out
}

/// (source port, destination port, payload) of every UDP datagram of a capture.
fn udp_payloads(file: &[u8]) -> Vec<(u16, u16, Vec<u8>)> {
    let mut r = vendorwatch::source::file::CaptureReader::from_reader(file).expect("a capture");
    let mut out = Vec::new();
    while let Ok(Some(f)) = r.next_frame() {
        if let Ok(vendorwatch::decode::Decoded::Packet(p)) = vendorwatch::decode::decode(f.link, f.data) {
            if p.protocol == IPPROTO_UDP {
                out.push((p.src_port, p.dst_port, p.payload.to_vec()));
            }
        }
    }
    out
}

/// A DHCPv6 Solicit (RFC 8415) with a client id, Microsoft's vendor class
/// (enterprise 311, `MSFT 5.0`), the client's FQDN and an option request.
fn dhcpv6_solicit() -> Vec<u8> {
    let mut m = vec![1, 0x5e, 0xed, 0x01];
    let mut option = |code: u16, value: &[u8]| {
        m.extend_from_slice(&code.to_be_bytes());
        m.extend_from_slice(&(value.len() as u16).to_be_bytes());
        m.extend_from_slice(value);
    };
    option(1, &[0, 3, 0, 1, 0x8c, 0x8d, 0x28, 0x0a, 0x0b, 0x0c]);
    let class = b"MSFT 5.0";
    option(16, &[&311u32.to_be_bytes()[..], &(class.len() as u16).to_be_bytes(), class].concat());
    option(39, &[&[0x00, 13][..], b"LAPTOP-7QK2M1", &[0]].concat());
    option(6, &[0, 23, 0, 24]);
    m
}

/// A committed fixture capture, by name.
fn fixture(name: &str) -> Vec<u8> {
    synth::fixtures::all().into_iter().find(|f| f.name == name).map(|f| f.bytes).expect("a fixture of that name")
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

        for name in [
            "wire_v1_two_packets.bin",
            "plain_v1.bin",
            "plain_v2_reordered.bin",
            "wire_q043_chlo.bin",
            "plain_q050_chlo.bin",
        ] {
            let input = seed("quic_initial", name);
            let mode = input[0];
            let mut initials = quic::ClientInitials::new();
            let version = crate::QUIC_FUZZ_VERSIONS[usize::from(mode >> 1) & 7];
            let mut got = false;
            for (pn, c) in crate::chunks(&input[1..]).enumerate() {
                let sealed;
                let d = if mode & 1 == 1 {
                    sealed = seal_client_initial(version, &QUIC_DCID, &[1, 2, 3, 4], pn as u32, c).unwrap();
                    &sealed[..]
                } else {
                    c
                };
                match initials.on_datagram(d) {
                    quic::Progress::Hello(b) => {
                        let sni = tls::parse_client_hello_message(b).unwrap().sni;
                        assert_eq!(sni.as_deref(), Some("www.tiktok.com"));
                        got = true;
                    }
                    quic::Progress::Chlo(b) => {
                        assert_eq!(quic::gquic::parse_chlo(b).unwrap().sni.as_deref(), Some("www.tiktok.com"));
                        got = true;
                    }
                    _ => {}
                }
            }
            assert!(got, "{name} gives no ClientHello");
        }
        for name in ["smtp_starttls.bin", "postgres.bin", "connect.bin"] {
            let input = seed("stream", name);
            let port = crate::STREAM_PORTS[usize::from(input[0]) % 12];
            let ctx = vendorwatch::inspect::FlowContext { protocol: 6, client_port: 50000, server_port: port };
            let budget = vendorwatch::inspect::InspectBudget::default();
            let mut inspection = vendorwatch::inspect::Inspection::new(6);
            let (mut next, mut found) = ([1000u32, 9000u32], Vec::new());
            for c in crate::chunks(&input[1..]) {
                let side = usize::from(c[0] & 1);
                let dir =
                    [vendorwatch::inspect::Direction::FromClient, vendorwatch::inspect::Direction::ToClient][side];
                let s = vendorwatch::inspect::Segment {
                    dir,
                    seq: next[side],
                    payload: &c[1..],
                    stream_start: Some([1000, 9000][side]),
                };
                next[side] = next[side].wrapping_add(c.len() as u32 - 1);
                inspection.on_segment(&ctx, s, &budget, &mut |f| found.push(format!("{f:?}")));
            }
            assert!(found.iter().any(|f| f.contains(SNI)), "{name} reaches no hello: {found:?}");
        }
        for name in ["small.toml", "two_files.bin", "apple.toml"] {
            let data = seed("signatures", name);
            let files: Vec<_> = data.split(|&b| b == 0xff).map(|t| crate::file_named_by_vendor(t, "a")).collect();
            if let Err(p) = vendorwatch::classify::signatures::SignatureSet::from_files(files) {
                panic!("{name} does not load: {p}")
            }
        }
        let v4 = seed("dhcp", "v4_request_0.bin");
        let request = proto::dhcp::Message::new_checked(&v4).unwrap();
        assert!(request.option(55).is_some() && request.text_option(12) == Some("Johns-iPhone"));
        let v6 = seed("dhcp", "v6_solicit.bin");
        let solicit = proto::dhcp::V6Message::new_checked(&v6).unwrap();
        assert_eq!((solicit.vendor_class(), solicit.fqdn_host()), (Some((311, "MSFT 5.0")), Some("LAPTOP-7QK2M1")));
        let m = seed("mdns", "response_0.bin");
        let services: Vec<String> = proto::mdns::Message::new_checked(&m)
            .unwrap()
            .records()
            .filter_map(|r| proto::mdns::service_type(r.name.as_str()).map(str::to_owned))
            .collect();
        assert_eq!(services, ["_apple-mobdev2._tcp"]);
        assert!(proto::heads::Head::new_checked(&seed("discovery", "ssdp_1.bin")).unwrap().header("SERVER").is_some());
        assert!(proto::discovery::ws_discovery_match(&seed("discovery", "ws_discovery_1.bin")).is_some());
        assert_eq!(proto::discovery::sadp_model(&seed("discovery", "sadp_0.bin")), Some("DS-2CD2143G2-I"));
        assert!(proto::discovery::dhip_device(&seed("discovery", "dhip_0.bin")).is_some());
        // Every device inspector's seed reaches evidence (or, for DHCP and
        // mDNS, at least a host).
        for (_, server) in crate::DEVICE_PORTS {
            let devices = crate::device_table(&seed("device_facts", &format!("port_{server}.bin")));
            let evidence: usize = devices.seen_since(0).iter().map(|(_, f)| f.evidence.len()).sum();
            assert!(!devices.is_empty(), "port {server}: no host learned");
            assert!(evidence > 0 || server == 5353, "port {server}: no evidence");
        }
        for name in [
            "pcap_le_us_eth.pcap",
            "pcap_be_ns_raw.pcap",
            "pcap_sll2.pcap",
            "pcapng_two_ifaces.pcapng",
            "time_all_ones.pcapng",
            "time_2106.pcap",
        ] {
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

/// A STUN Binding request with a SOFTWARE attribute and a vendor one.
fn stun_binding(software: &[u8]) -> Vec<u8> {
    let mut attrs = vec![0x80, 0x22, 0x00, u8::try_from(software.len()).unwrap_or(0)];
    attrs.extend_from_slice(software);
    attrs.resize(attrs.len().div_ceil(4) * 4, 0);
    attrs.extend_from_slice(&[0x80, 0x08, 0x00, 0x04, 0, 0, 0, 6]);
    let mut m = vec![0x00, 0x01];
    m.extend_from_slice(&u16::try_from(attrs.len()).unwrap_or(0).to_be_bytes());
    m.extend_from_slice(&0x2112_a442u32.to_be_bytes());
    m.extend_from_slice(&[7; 12]);
    m.extend_from_slice(&attrs);
    m
}
