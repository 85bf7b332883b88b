//! Per-packet cost of the replay data path on an in-memory capture, so that
//! regressions show without a capture file: `cargo bench --bench pipeline`.
//!
//! - `decode/*`: one frame through `decode::decode` (mid-flow TCP data, a
//!   DNS query, IPv6 TCP, QinQ-tagged UDP).
//! - `read/pcap`: `CaptureReader` over an in-memory pcap, frames only.
//! - `pipeline/*`: `Pipeline::process` per packet over a traffic mix like a
//!   real link (mostly mid-flow data, some handshakes with ClientHellos,
//!   some DNS), and over mid-flow data alone (the common case).
//!
//! Throughput is reported per packet (elements/s).

use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use synth::app::{self, Hello};
use synth::capture::{PcapFormat, Record, pcap_bytes};
use synth::wire::{self, ACK, IPPROTO_TCP, IPPROTO_UDP, IpExtras, LINKTYPE_ETHERNET, Link, PSH, SYN};
use vendorwatch::classify::signatures::SignatureSet;
use vendorwatch::decode;
use vendorwatch::pipeline::{DEFAULT_MAX_FLOWS, FlowRecords, Pipeline, Rules};
use vendorwatch::segment::Config;
use vendorwatch::source::file::CaptureReader;
use vendorwatch::source::{Frame, LinkType};

/// An Ethernet frame holding a TCP segment (no ACK number) between two hosts.
fn tcp(src: (Ipv4Addr, u16), dst: (Ipv4Addr, u16), seq: u32, flags: u8, data: &[u8]) -> Vec<u8> {
    let (src, dst) = (SocketAddr::from(src), SocketAddr::from(dst));
    let segment = wire::tcp_segment(src, dst, seq, 0, flags, data);
    Link::ethernet().frame(&wire::ip_packet(src.ip(), dst.ip(), IPPROTO_TCP, &segment, &IpExtras::default(), 0))
}

/// The IP packet of a UDP datagram between two hosts.
fn udp_ip(src: (Ipv4Addr, u16), dst: (Ipv4Addr, u16), data: &[u8]) -> Vec<u8> {
    let (src, dst) = (SocketAddr::from(src), SocketAddr::from(dst));
    wire::ip_packet(src.ip(), dst.ip(), IPPROTO_UDP, &wire::udp_datagram(src, dst, data), &IpExtras::default(), 0)
}

fn dns_query(id: u16, name: &str) -> Vec<u8> {
    app::dns_query(id, name, app::QTYPE_A)
}

const NAMES: [&str; 6] = [
    "1-courier.push.apple.com",
    "api16-normal-c-useast1a.tiktokv.com",
    "www.google.com",
    "update.huawei.com",
    "example.org",
    "login.microsoftonline.com",
];

/// A deterministic mix of frames: `flows` TLS flows, each a handshake with a
/// ClientHello then `data_per_flow` server data segments (1448 bytes) with an
/// ACK every other one, interleaved round-robin; one DNS query per flow.
fn traffic(flows: u32, data_per_flow: u32) -> Vec<(u64, Vec<u8>)> {
    let mut per_flow: Vec<Vec<Vec<u8>>> = Vec::new();
    for i in 0..flows {
        let c = Ipv4Addr::from(0x0a00_0000 | (i * 7 + 1));
        let s = Ipv4Addr::from(0x1100_0000 | (i * 13 + 5));
        let cp = 20_000 + (i % 40_000) as u16;
        let (mut cs, mut ss) = (i.wrapping_mul(2_654_435_761), i.wrapping_mul(40_503));
        let mut v = Vec::new();
        let resolver = (Ipv4Addr::new(10, 0, 0, 53), 53);
        v.push(Link::ethernet().frame(&udp_ip(
            (c, cp ^ 1),
            resolver,
            &dns_query((i & 0xffff) as u16, NAMES[i as usize % 6]),
        )));
        v.push(tcp((c, cp), (s, 443), cs, SYN, &[]));
        cs = cs.wrapping_add(1);
        v.push(tcp((s, 443), (c, cp), ss, SYN | ACK, &[]));
        ss = ss.wrapping_add(1);
        v.push(tcp((c, cp), (s, 443), cs, ACK, &[]));
        let hello = app::tls_client_hello(&Hello::sni(NAMES[i as usize % NAMES.len()]));
        v.push(tcp((c, cp), (s, 443), cs, PSH | ACK, &hello));
        cs = cs.wrapping_add(u32::try_from(hello.len()).unwrap());
        let data = [0x17u8; 1448];
        for j in 0..data_per_flow {
            v.push(tcp((s, 443), (c, cp), ss, ACK, &data));
            ss = ss.wrapping_add(1448);
            if j % 2 == 1 {
                v.push(tcp((c, cp), (s, 443), cs, ACK, &[]));
            }
        }
        per_flow.push(v);
    }
    let mut out = Vec::new();
    let mut ts = 1_700_000_000_000_000_000u64;
    let longest = per_flow.iter().map(Vec::len).max().unwrap_or(0);
    for k in 0..longest {
        for f in &mut per_flow {
            if let Some(frame) = f.get_mut(k) {
                ts += 20_000;
                out.push((ts, std::mem::take(frame)));
            }
        }
    }
    out
}

fn pcap_file(frames: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let records: Vec<Record> = frames.iter().map(|(ts, data)| Record::new(*ts, data.clone())).collect();
    pcap_bytes(PcapFormat { nanos: true, ..PcapFormat::new(LINKTYPE_ETHERNET) }, &records)
}

fn rules() -> Arc<Rules> {
    Arc::new(Rules::new(SignatureSet::embedded(), Config::default_auto()).expect("embedded rules are valid"))
}

fn frame(ts_ns: u64, data: &[u8]) -> Frame<'_> {
    Frame { ts_ns, link: LinkType::Ethernet, data, wire_len: u32::try_from(data.len()).unwrap(), interface: 0 }
}

fn bench_decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(1));
    let data = tcp((Ipv4Addr::new(17, 0, 0, 5), 443), (Ipv4Addr::new(10, 0, 0, 1), 50_000), 1, ACK, &[0; 1448]);
    g.bench_function("ipv4_tcp_data", |b| b.iter(|| decode::decode(LinkType::Ethernet, black_box(&data)).is_ok()));
    let dns_ip = udp_ip((Ipv4Addr::new(10, 0, 0, 1), 5353), (Ipv4Addr::new(10, 0, 0, 53), 53), &dns_query(7, NAMES[0]));
    let dns = Link::ethernet().frame(&dns_ip);
    g.bench_function("ipv4_udp_dns", |b| b.iter(|| decode::decode(LinkType::Ethernet, black_box(&dns)).is_ok()));
    let (c6, s6): (SocketAddr, SocketAddr) = (
        (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), 443).into(),
        (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2), 50_000).into(),
    );
    let seg = wire::tcp_segment(c6, s6, 1, 0, ACK, &[0; 1200]);
    let v6 = Link::ethernet().frame(&wire::ip_packet(c6.ip(), s6.ip(), IPPROTO_TCP, &seg, &IpExtras::default(), 0));
    g.bench_function("ipv6_tcp_data", |b| b.iter(|| decode::decode(LinkType::Ethernet, black_box(&v6)).is_ok()));
    let qinq = Link::qinq(100, 30).frame(&dns_ip);
    g.bench_function("qinq_udp", |b| b.iter(|| decode::decode(LinkType::Ethernet, black_box(&qinq)).is_ok()));
    g.finish();
}

fn bench_read(c: &mut Criterion) {
    let frames = traffic(200, 100);
    let file = pcap_file(&frames);
    let mut g = c.benchmark_group("read");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("pcap", |b| {
        b.iter(|| {
            let mut r = CaptureReader::from_reader(black_box(&file[..])).expect("valid pcap");
            let mut bytes = 0usize;
            while let Ok(Some(f)) = r.next_frame() {
                bytes += f.data.len();
            }
            bytes
        });
    });
    g.finish();
}

fn bench_pipeline(c: &mut Criterion) {
    let rules = rules();
    let mut g = c.benchmark_group("pipeline");
    g.sample_size(20);

    // A link's mix: 500 flows from their first packet, ~150 packets each.
    let mix = traffic(500, 100);
    g.throughput(Throughput::Elements(mix.len() as u64));
    g.bench_function("mix_from_start", |b| {
        b.iter_batched(
            || Pipeline::new(rules.clone(), DEFAULT_MAX_FLOWS, FlowRecords::Off),
            |mut p| {
                let source = p.add_source("bench");
                for (ts, data) in &mix {
                    p.process(&frame(*ts, data), source);
                }
                p.finish();
                p
            },
            BatchSize::LargeInput,
        );
    });

    // Mid-flow data only: the flows are set up (and inspection is done)
    // before timing, so this is the per-packet cost that dominates a link.
    let warm = traffic(500, 40);
    // Server data segments and bare client ACKs (TCP flags byte 0x10).
    let mid: Vec<(u64, Vec<u8>)> =
        warm.iter().filter(|(_, d)| d.len() > 1000 || (d.len() == 54 && d[47] == 0x10)).cloned().collect();
    let mut p = Pipeline::new(rules.clone(), DEFAULT_MAX_FLOWS, FlowRecords::Off);
    let source = p.add_source("bench");
    for (ts, data) in &warm {
        p.process(&frame(*ts, data), source);
    }
    let last = warm.last().map_or(0, |(ts, _)| *ts);
    g.throughput(Throughput::Elements(mid.len() as u64));
    g.bench_function("mid_flow", |b| {
        b.iter(|| {
            // Same timestamp each round: flows stay alive, nothing expires.
            for (_, data) in &mid {
                p.process(&frame(last, black_box(data)), source);
            }
        });
    });
    g.finish();
}

criterion_group!(benches, bench_decode, bench_read, bench_pipeline);
criterion_main!(benches);
